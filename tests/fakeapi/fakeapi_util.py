"""Helpers for tests that use the fake API server: spawn it and talk to it (TAP output is
tests/tclib.py's Tap)."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
SERVER = os.path.join(HERE, 'fakeapi.py')
TOOLS = os.path.join(TOP, '.tools', 'bin')


class Server:
    """A fakeapi.py subprocess on a free loopback port with its own HOME and kubeconfig."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix='fakeapi-test.')
        self.kubeconfig = os.path.join(self.dir, 'kubeconfig')
        portfile = os.path.join(self.dir, 'port')
        self.logfile = os.path.join(self.dir, 'server.log')
        # stderr goes to a file: a pipe nobody reads could fill up and block the server
        self.errfile = os.path.join(self.dir, 'server.stderr')
        with open(self.errfile, 'wb') as err:
            self.proc = subprocess.Popen(
                ['/usr/bin/python3', SERVER, '--port', '0', '--port-file', portfile,
                 '--kubeconfig', self.kubeconfig, '--log', self.logfile] + list(args),
                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.time() + 15
        while not os.path.exists(portfile):
            if self.proc.poll() is not None:
                with open(self.errfile, errors='replace') as f:
                    msg = f.read()
                shutil.rmtree(self.dir, ignore_errors=True)
                raise RuntimeError('fakeapi exited: %s' % msg)
            if time.time() > deadline:
                self.stop()
                raise RuntimeError('fakeapi did not start')
            time.sleep(0.02)
        with open(portfile) as f:
            self.port = int(f.read())
        self.url = 'http://127.0.0.1:%d' % self.port
        self.env = dict(os.environ, HOME=self.dir, KUBECONFIG=self.kubeconfig,
                        PATH=TOOLS + os.pathsep + os.environ.get('PATH', ''))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except OSError:
            return ''

    def req(self, method, path, body=None, ctype='application/json', headers=None,
            timeout=10, raw=False):
        """Returns (status, parsed JSON or bytes, headers)."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {'Content-Type': ctype, 'Accept': 'application/json'}
        h.update(headers or {})
        r = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=timeout) as resp:
                out = resp.read()
                code, hdrs = resp.status, resp.headers
        except urllib.error.HTTPError as e:
            out, code, hdrs = e.read(), e.code, e.headers
        if raw:
            return code, out, hdrs
        try:
            return code, json.loads(out) if out else None, hdrs
        except ValueError:
            return code, out, hdrs

    def admin(self, method, path, body=None):
        return self.req(method, '/fake/' + path.lstrip('/'), body)[1]

    def kubectl(self, *args, input=None, timeout=60):
        return run([os.path.join(TOOLS, 'kubectl')] + list(args), self.env, input, timeout)

    def helm(self, *args, timeout=90):
        return run([os.path.join(TOOLS, 'helm')] + list(args), self.env, None, timeout)

    def watch(self, path, timeout=10):
        """Open a watch; returns an iterator of (event dict) and the response."""
        r = urllib.request.Request(self.url + path, headers={'Accept': 'application/json'})
        resp = urllib.request.urlopen(r, timeout=timeout)
        return resp


def read_events(resp, n=None, until=None):
    """Read watch events from resp until n events, predicate until(ev) or end of stream."""
    out = []
    while n is None or len(out) < n:
        line = resp.readline()
        if not line:
            break
        ev = json.loads(line)
        out.append(ev)
        if until and until(ev):
            break
    return out


def run(cmd, env, input=None, timeout=60):
    try:
        p = subprocess.run(cmd, env=env, input=input.encode() if input else None,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()
    except subprocess.TimeoutExpired as e:
        return 124, (e.stdout or b'').decode(), 'timeout after %ss' % timeout


def have_tools():
    return all(os.access(os.path.join(TOOLS, t), os.X_OK) for t in ('kubectl', 'helm'))

