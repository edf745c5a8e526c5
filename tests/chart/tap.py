"""Minimal TAP printer shared by the tests in tests/chart."""

import sys
import traceback


class Tap:
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
            for line in str(diag).splitlines():
                print("#   " + line)
        sys.stdout.flush()
        return cond

    def skip(self, name, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, reason))
        sys.stdout.flush()

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
        sys.exit(1 if self.failed else 0)
