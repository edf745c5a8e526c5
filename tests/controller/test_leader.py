#!/usr/bin/env python3
"""Two controllers on one Lease: exactly one leads and reconciles; when the
leader is killed (no release) the other takes over within the lease
duration (judged by its own clock); on SIGTERM the leader releases the Lease
and the standby takes over at its next retry."""
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))

from ctrl_util import (BIN, CR_BASE, CRD, DEPLOY, Controller, child, cr, fakeapi_util,  # noqa: E402
                       get)
from tclib import Tap, need, wait  # noqa: E402

NS = "tempo"
LEASE_MS, RENEW_MS, RETRY_MS = 4000, 3000, 500
ARGS = ("--lease-duration", str(LEASE_MS), "--renew-deadline", str(RENEW_MS), "--retry-period",
        str(RETRY_MS), "--lease-namespace", "default")
LEASE = "/apis/coordination.k8s.io/v1/namespaces/default/leases/tempo-compactor-operator"


def leaders(ctls):
    return [c for c in ctls if c.proc.poll() is None and c.is_leader()]


def main():
    t = Tap()
    need(t, "leader election", built=[BIN])
    srv = fakeapi_util.Server("--keda", "--crd", CRD)
    ctls = []
    try:
        srv.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NS}})
        a = Controller(srv, "ctl-a", *ARGS)
        b = Controller(srv, "ctl-b", *ARGS)
        ctls = [a, b]
        ok = wait(lambda: len(leaders(ctls)) == 1, 10)
        # Watch for a while: never two leaders.
        counts = []
        for _ in range(20):
            counts.append(len(leaders(ctls)))
            time.sleep(0.1)
        t.ok(ok and set(counts) == {1}, "exactly one of two controllers leads (%s)" % counts,
             a.log() + b.log())
        lead = leaders(ctls)[0]
        other = b if lead is a else a
        lease = get(srv, LEASE)
        t.ok(lease and lease["spec"]["holderIdentity"] == lead.identity,
             "the Lease names the leader", str(lease))
        t.ok("controller started" in lead.log() and "controller started" not in other.log(),
             "only the leader runs informers and workers")
        st, body = other.http("/readyz")
        t.ok(st == 200 and "standby" in body, "the standby reports ready as standby", body)

        srv.req("POST", CR_BASE % NS, cr("one"))
        t.ok(wait(lambda: child(srv, DEPLOY, NS, "tempo-one-compactor"), 10),
             "the leader reconciles")

        # Kill the leader without a release: the standby waits out the lease.
        lease0 = get(srv, LEASE)
        t0 = time.time()
        lead.stop(signal.SIGKILL)
        ok = wait(lambda: other.is_leader(), (LEASE_MS + 4 * RETRY_MS) / 1000.0, 0.05)
        dt = time.time() - t0
        # Bound (client-go semantics): the standby may first see the leader's last
        # renew up to one jittered retry after the kill, then waits the lease
        # duration, then acts at its next retry: lease + 2 x 1.2 x retry.
        t.ok(ok and dt <= (LEASE_MS + 2.4 * RETRY_MS + 1000) / 1000.0,
             "failover after SIGKILL in %.2fs (lease %.1fs + retry)" % (dt, LEASE_MS / 1000.0),
             other.log()[-2000:])
        t.ok(dt >= (LEASE_MS - 1.2 * RETRY_MS - 200) / 1000.0,
             "the standby did not take the lease before it expired (%.2fs)" % dt)
        lease1 = get(srv, LEASE)
        t.ok(lease1["spec"]["holderIdentity"] == other.identity and
             lease1["spec"]["leaseTransitions"] == lease0["spec"]["leaseTransitions"] + 1,
             "holder and leaseTransitions updated", str(lease1["spec"]))
        srv.req("POST", CR_BASE % NS, cr("two"))
        t.ok(wait(lambda: child(srv, DEPLOY, NS, "tempo-two-compactor"), 10),
             "the new leader reconciles")

        # Graceful hand-off: SIGTERM releases the Lease, a new standby takes it at once.
        c = Controller(srv, "ctl-c", *ARGS)
        ctls = [other, c]
        time.sleep(1.0)
        t0 = time.time()
        rc = other.stop(signal.SIGTERM)
        ok = wait(lambda: c.is_leader(), 5, 0.05)
        dt = time.time() - t0
        t.ok(rc == 0 and ok and dt < (2 * RETRY_MS + 1000) / 1000.0,
             "after SIGTERM the lease is released and taken over in %.2fs" % dt, c.log()[-1500:])
        c.stop()
    finally:
        for x in ctls:
            x.stop(signal.SIGKILL)
        srv.stop()
    t.done()


if __name__ == "__main__":
    main()
