"""Helpers shared by every Python test: TAP output, free ports, HTTP GET, polling, and
the checks a test on the fake API server (tests/fakeapi) makes before it starts.

A test computes TOP from its own path and puts tests/ first on sys.path:

    TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    sys.path.insert(0, os.path.join(TOP, "tests"))
    from tclib import Tap  # noqa: E402
"""
import os
import socket
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BUILD = os.environ.get("TC_BUILD", "build")
BUILD = _BUILD if os.path.isabs(_BUILD) else os.path.join(TOP, _BUILD)
COMPACTOR = os.path.join(BUILD, "bin", "tempo-compactor")
CONTROLLER = os.path.join(BUILD, "bin", "tempo-compactor-controller")
FAKEAPI = os.path.join(TOP, "tests", "fakeapi")
TOOLS = os.path.join(TOP, ".tools", "bin")


class Tap:
    """TAP output as tests/run.sh reads it: "ok N - name", "not ok N - name" followed by
    "#   " diagnostic lines, "ok N - name # SKIP reason", the plan "1..N" at the end and
    exit status 1 when any case failed.

    t(ok, name, detail) and t.ok(cond, name, diag) are the same call.
    """

    MAX_DIAG = 40  # diagnostic lines printed per failure

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=""):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            lines = str(diag).splitlines()
            for line in lines[:self.MAX_DIAG]:
                print("#   " + line)
            if len(lines) > self.MAX_DIAG:
                print("#   ... %d more lines" % (len(lines) - self.MAX_DIAG))
        sys.stdout.flush()
        return cond

    __call__ = ok

    def skip(self, name, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, reason))
        sys.stdout.flush()

    def skip_all(self, name, reason):
        """One SKIP for the whole test, the plan, and exit 0."""
        self.skip(name, reason)
        self.done()

    def run(self, name, fn):
        """Run fn(); an AssertionError or any exception is a failure with its message."""
        try:
            fn()
        except AssertionError as e:
            return self.ok(False, name, str(e) or traceback.format_exc())
        except Exception:
            return self.ok(False, name, traceback.format_exc())
        return self.ok(True, name)

    def done(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


def free_ports(k):
    """k distinct free loopback ports (bound together so they differ)."""
    socks = []
    for _ in range(k):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def free_port():
    return free_ports(1)[0]


def http_get(url, timeout=2):
    """(status, body); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError as e:
        return 0, str(e)


def wait(pred, secs=10.0, interval=0.05):
    """The first truthy pred() within secs (polled every interval s; an exception counts
    as not yet), else None."""
    end = time.time() + secs
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception:
            pass
        if time.time() >= end:
            return None
        time.sleep(interval)


def need(t, name, built=(), tools=()):
    """Skip the whole test as one SKIP `name` with the reason, and exit 0, unless every
    path in `built` is an executable (run make) and every name in `tools` is in
    .tools/bin (run make deps)."""
    for path in built:
        if not os.access(path, os.X_OK):
            t.skip_all(name, "%s not built (run make)" % os.path.basename(path))
    for tool in tools:
        if not os.access(os.path.join(TOOLS, tool), os.X_OK):
            t.skip_all(name, "no .tools/bin/%s (run make deps)" % tool)


def fakeapi(t, name, built=(), tools=()):
    """The fakeapi_util module (tests/fakeapi), after need(t, name, built, tools); a test
    without tests/fakeapi is one SKIP `name` too."""
    if not os.path.exists(os.path.join(FAKEAPI, "fakeapi_util.py")):
        t.skip_all(name, "tests/fakeapi not present")
    need(t, name, built, tools)
    if FAKEAPI not in sys.path:
        sys.path.insert(0, FAKEAPI)
    import fakeapi_util
    return fakeapi_util


def rgw_up(d):
    """Start Ceph RGW in d with hack/rgw-up.sh (it picks free ports and retries a failed
    bring-up); returns DIR/env as a dict (RGW_ENDPOINT, RGW_ACCESS_KEY, RGW_SECRET_KEY).
    Raises AssertionError with the script's output when it fails. Stop with rgw_down(d)."""
    p = subprocess.run(["bash", os.path.join(TOP, "hack", "rgw-up.sh"), d],
                       capture_output=True, text=True, timeout=600)
    env = {}
    path = os.path.join(d, "env")
    if p.returncode == 0 and os.path.exists(path):
        for line in open(path):
            k, _, v = line.strip().partition("=")
            if k:
                env[k] = v
    if "RGW_ENDPOINT" not in env:
        rgw_down(d)
        raise AssertionError("hack/rgw-up.sh failed:\n" + p.stdout[-2000:] + p.stderr[-3000:])
    return env


def rgw_down(d):
    subprocess.run(["bash", os.path.join(TOP, "hack", "rgw-down.sh"), d],
                   capture_output=True, timeout=60)
