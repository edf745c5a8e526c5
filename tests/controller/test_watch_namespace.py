#!/usr/bin/env python3
"""--watch-namespace: the controller reconciles CRs of that namespace only,
and its list/watch requests are namespaced (no cluster-wide access needed)."""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))

from ctrl_util import BIN, CR_BASE, CRD, DEPLOY, Controller, child, cr, fakeapi_util  # noqa: E402
from tclib import Tap, need, wait  # noqa: E402


def main():
    t = Tap()
    need(t, "watch namespace", built=[BIN])
    srv = fakeapi_util.Server("--keda", "--crd", CRD)
    ctl = None
    try:
        for ns in ("mine", "other"):
            srv.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": ns}})
        ctl = Controller(srv, "ctl-ns", "--leader-elect", "false", "--watch-namespace", "mine")
        srv.req("POST", CR_BASE % "other", cr("x", ns="other"))
        srv.req("POST", CR_BASE % "mine", cr("x", ns="mine"))
        t.ok(wait(lambda: child(srv, DEPLOY, "mine", "tempo-x-compactor"), 10),
             "CR in the watched namespace is reconciled", ctl.log()[-2000:])
        time.sleep(1.0)
        t.ok(child(srv, DEPLOY, "other", "tempo-x-compactor") is None,
             "CR in another namespace is left alone")
        reqs = (srv.admin("GET", "requests") or {}).get("requests", [])
        # Only the controller talks to this server (the test uses /fake/ and single GETs).
        lists = [r["path"] for r in reqs if r["method"] == "GET" and
                 ("watch=" in r["query"] or "limit=" in r["query"])]
        wide = [p for p in lists if "/namespaces/mine/" not in p]
        t.ok(len(lists) >= 5 and not wide,
             "every list/watch is namespaced (%d seen)" % len(lists), "\n".join(wide))
    finally:
        if ctl:
            ctl.stop()
        srv.stop()
    t.done()


if __name__ == "__main__":
    main()
