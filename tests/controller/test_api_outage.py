#!/usr/bin/env python3
"""The API server down (issue #14): the fake API server answers every request with 503
and cuts every watch for OUTAGE_S seconds (default 20 s, a short stand-in for "a
minute", so make test stays quick; OUTAGE_S=60 runs the full minute), then comes back.
  - its request rate stays bounded while the server is down (requests/s counted from the
    fake server's request log);
  - it cannot renew its lease, so it gives up leadership and exits 1 with "leadership
    lost" (client-go's rule: a leader that cannot renew must stop acting); the test
    restarts it, as the Deployment's kubelet would, once the server is back;
  - it never flaps children: no child is deleted or re-created (same UIDs), none is
    written during the outage, and the Deployment's replicas never change;
  - when the server returns it converges: a spec change made afterwards reaches the
    Deployment and the CR is Ready at the new generation."""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))

from ctrl_util import (BIN, CM, CR_BASE, CRD, DEPLOY, PDB, SVC, Controller, child, cond, cr,  # noqa: E402
                       dump, fakeapi_util, get, merge_patch)
from tclib import Tap, need, wait  # noqa: E402

NS = "tempo"
OUTAGE_S = float(os.environ.get("OUTAGE_S", "20"))
MAX_RPS = 10.0  # lease retries every 500 ms plus backed-off watch and list retries; a hot loop is 100s/s
KIDS = ((DEPLOY, "tempo-o-compactor"), (CM, "tempo-o-compactor-config"),
        (SVC, "tempo-o-compactor"), (PDB, "tempo-o-compactor"))


def ready_at(srv, gen):
    o = get(srv, CR_BASE % NS + "/o")
    c = cond(o, "Ready")
    return o if (o and c and c["status"] == "True" and
                 o["status"].get("observedGeneration") == gen) else None


def uids(srv):
    return {"%s %s" % (k[-1] if isinstance(k, tuple) else k, n): (child(srv, k, NS, n) or {}).get("metadata", {})
            .get("uid") for k, n in KIDS}


def main():
    t = Tap()
    need(t, "controller: API server outage", built=[BIN])
    srv = fakeapi_util.Server("--keda", "--crd", CRD, "--bookmark-interval", "1",
                              "--history", "100000")
    ctl = None
    try:
        srv.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NS}})
        ctl = Controller(srv, "ctl-o", "--lease-duration", "4000", "--renew-deadline", "3000",
                         "--retry-period", "500", "--watch-timeout", "5:8")
        t.ok(wait(ctl.is_leader, 10), "controller becomes leader", ctl.log())
        srv.req("POST", CR_BASE % NS, cr("o", replicas=2))
        t.ok(wait(lambda: ready_at(srv, 1), 15) is not None, "CR o Ready before the outage",
             ctl.log()[-2000:])
        before = uids(srv)
        reqs = (srv.admin("GET", "requests") or {}).get("requests", [])
        seq0 = reqs[-1]["seq"] if reqs else 0

        # --- down: every request 503, every watch cut
        srv.admin("POST", "faults", {"action": "error", "code": 503, "count": -1,
                                     "message": "fake outage"})
        srv.admin("POST", "faults", {"action": "drop_watches", "abrupt": True})
        t0 = time.time()
        t_exit = None
        while time.time() - t0 < OUTAGE_S:
            if t_exit is None and ctl.proc.poll() is not None:
                t_exit = time.time()
            time.sleep(0.1)
        during = (srv.admin("GET", "requests?since=%d" % seq0) or {}).get("requests", [])
        srv.admin("DELETE", "faults")
        secs = time.time() - t0
        # the rate while it was alive: after an exit nothing sends
        alive = (t_exit or time.time()) - t0
        rps = len(during) / alive
        writes = [r for r in during if r["method"] in ("POST", "PUT", "PATCH", "DELETE")
                  and "/leases/" not in r["path"] and r["status"] < 300]
        rc = ctl.proc.poll()
        t.ok(rc is None or (rc == 1 and "leadership lost" in ctl.log()),
             "outage (%.0f s): the controller %s" % (secs, "keeps running" if rc is None else
                                                     "gives up leadership and exits 1"),
             "exit %s\n%s" % (rc, ctl.log()[-2000:]))
        if rc is not None:  # the kubelet's restart
            ctl.stop()
            ctl = Controller(srv, "ctl-o2", "--lease-duration", "4000", "--renew-deadline",
                             "3000", "--retry-period", "500", "--watch-timeout", "5:8")
        t.ok(len(during) > 0 and rps <= MAX_RPS,
             "outage: %d requests in the %.1f s it ran (%.2f/s, bound %.0f/s): it keeps "
             "trying, without a hot loop" % (len(during), alive, rps, MAX_RPS),
             "\n".join("%s %s %s" % (r["method"], r["path"], r["status"]) for r in during[-40:]))
        t.ok(not writes, "outage: no child written while the server is down", dump(writes[:10]))

        # --- back: converges, children not re-created
        t1 = time.time()
        merge_patch(srv, CR_BASE % NS + "/o", {"spec": {"replicas": 3}})
        o = wait(lambda: ready_at(srv, 2), 60)
        dep = child(srv, DEPLOY, NS, "tempo-o-compactor") or {}
        t.ok(o is not None and dep.get("spec", {}).get("replicas") == 3,
             "server back: a spec change converges in %.1f s (Ready at generation 2, replicas 3)"
             % (time.time() - t1), dump(get(srv, CR_BASE % NS + "/o")) + ctl.log()[-2000:])
        after_reqs = (srv.admin("GET", "requests?since=%d" % seq0) or {}).get("requests", [])
        deletes = [r for r in after_reqs if r["method"] == "DELETE" and "/leases/" not in r["path"]]
        t.ok(uids(srv) == before and all(before.values()) and not deletes,
             "children never flap: the same %d children (same UIDs), no DELETE" % len(before),
             "%s\n%s\n%s" % (before, uids(srv), dump(deletes[:5])))
        rc = ctl.stop()
        ctl = None
        t.ok(rc == 0, "controller exits 0 on SIGTERM after the outage")
    finally:
        if ctl:
            ctl.stop()
        srv.stop()
    t.done()


if __name__ == "__main__":
    main()
