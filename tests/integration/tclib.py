"""Helpers shared by the Python integration tests of the compactor daemon."""
import os
import socket
import sys
import time
import urllib.error
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BUILD = os.environ.get("TC_BUILD", "build")
BUILD = _BUILD if os.path.isabs(_BUILD) else os.path.join(TOP, _BUILD)
COMPACTOR = os.path.join(BUILD, "bin", "tempo-compactor")


class Tap:
    """TAP output: ok/not ok lines, diagnostics on failure, plan at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def __call__(self, ok, name, detail=""):
        self.n += 1
        print(("ok %d - %s" if ok else "not ok %d - %s") % (self.n, name))
        if not ok:
            self.failed += 1
            for line in str(detail).splitlines()[:30]:
                print("# " + line)
        sys.stdout.flush()
        return ok

    def done(self):
        print("1..%d" % self.n)
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


def http_get(url, timeout=2):
    """(status, body); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def wait(pred, secs, interval=0.2):
    """The first truthy pred() within secs (exceptions count as not yet), else None."""
    end = time.time() + secs
    while time.time() < end:
        try:
            v = pred()
            if v:
                return v
        except Exception:
            pass
        time.sleep(interval)
    return None
