#!/usr/bin/env python3
"""The real controller binary against the fake API server (tests/fakeapi):
create/update/delete converge, the watch survives drops and 410s, a 409 is
refetched and retried, turning autoscaling off deletes the ScaledObject and
spec.replicas is never reset during the hand-over to KEDA, an invalid spec
or a missing KEDA API gives Degraded without crash-looping."""
import json
import os
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))

from ctrl_util import (BIN, CM, CR_BASE, CRD, DEPLOY, PDB, SO, SVC, TA, Controller,  # noqa: E402
                       autoscaling, child, cond, cr, dump, fakeapi_util, get, merge_patch)
from tclib import Tap, need, wait  # noqa: E402

NS = "tempo"


def ready(srv, name, gen=None):
    o = get(srv, CR_BASE % NS + "/" + name)
    c = cond(o, "Ready")
    if not (o and c and c["status"] == "True"):
        return None
    if gen is not None and o["status"].get("observedGeneration") != gen:
        return None
    return o


def ready_now(srv, name):
    """Ready at the CR's current generation."""
    o = get(srv, CR_BASE % NS + "/" + name)
    return o and ready(srv, name, o["metadata"]["generation"])


def requests_since(srv, seq):
    return (srv.admin("GET", "requests?since=%d" % seq) or {}).get("requests", [])


def last_seq(srv):
    reqs = (srv.admin("GET", "requests") or {}).get("requests", [])
    return reqs[-1]["seq"] if reqs else 0


def main():
    t = Tap()
    need(t, "controller tests", built=[BIN])
    srv = fakeapi_util.Server("--keda", "--crd", CRD, "--bookmark-interval", "1")
    ctl = None
    try:
        srv.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NS}})
        ctl = Controller(srv, "ctl-a", "--lease-duration", "4000", "--renew-deadline", "3000",
                         "--retry-period", "500", "--watch-timeout", "5:8")
        t.ok(wait(ctl.is_leader, 10), "single controller becomes leader", ctl.log())

        # --- create converges
        st, body, _ = srv.req("POST", CR_BASE % NS, cr("a", replicas=3))
        t.ok(st == 201, "create CR a", dump(body))
        uid = body["metadata"]["uid"]
        o = wait(lambda: ready(srv, "a", 1), 10)
        t.ok(o is not None, "CR a becomes Ready with observedGeneration 1",
             dump(get(srv, CR_BASE % NS + "/a")) + ctl.log())
        dep = child(srv, DEPLOY, NS, "tempo-a-compactor")
        kids = [child(srv, k, NS, n) for k, n in ((CM, "tempo-a-compactor-config"),
                                                  (SVC, "tempo-a-compactor"),
                                                  (PDB, "tempo-a-compactor"))]
        t.ok(dep and all(kids) and dep["spec"]["replicas"] == 3 and
             all(k["metadata"]["ownerReferences"][0]["uid"] == uid for k in kids + [dep]),
             "children created with ownerReferences, replicas 3", dump(dep))
        mf = [m["manager"] for m in dep["metadata"]["managedFields"] if m["operation"] == "Apply"]
        t.ok(mf == ["tempo-compactor-operator"], "server-side apply with one fieldManager",
             str(mf))
        t.ok(o and o["status"]["selector"].startswith("app.kubernetes.io/component=compactor")
             and o["status"]["readyReplicas"] == 3, "status has selector and replicas",
             dump(o and o["status"]))
        t.ok(child(srv, SO, NS, "tempo-a-compactor") is None, "no ScaledObject while off")

        # --- update converges (config change rolls pods via checksum)
        h0 = dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"compaction": {"blockRetention": "72h"}}})
        o = wait(lambda: ready(srv, "a", 2), 10)
        cm = child(srv, CM, NS, "tempo-a-compactor-config")
        dep = child(srv, DEPLOY, NS, "tempo-a-compactor")
        h1 = dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        t.ok(o is not None and "block_retention: \"72h\"" in cm["data"]["tempo.yaml"] and h1 != h0,
             "update converges: ConfigMap and checksum annotation change", cm["data"]["tempo.yaml"])

        # --- watch drops (abrupt) and 410 Gone (in-stream ERROR and HTTP 410)
        srv.admin("POST", "faults", {"action": "drop_watches", "abrupt": True})
        time.sleep(0.3)
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"replicas": 4}})
        ok = wait(lambda: (child(srv, DEPLOY, NS, "tempo-a-compactor") or {})
                  .get("spec", {}).get("replicas") == 4, 15)
        t.ok(ok, "watch survives an abrupt drop", ctl.log()[-3000:])

        seq = last_seq(srv)
        srv.admin("POST", "compact", {})
        srv.admin("POST", "faults", {"action": "drop_watches", "error": 410})
        time.sleep(0.3)
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"replicas": 5}})
        ok = wait(lambda: (child(srv, DEPLOY, NS, "tempo-a-compactor") or {})
                  .get("spec", {}).get("replicas") == 5, 15)
        relists = [r for r in requests_since(srv, seq) if r["path"].endswith("/tempocompactors")
                   and "watch" not in r["query"]]
        t.ok(ok and relists, "410 ERROR event leads to a relist and convergence",
             ctl.log()[-3000:])

        seq = last_seq(srv)
        srv.admin("POST", "faults", {"action": "gone", "mode": "http", "path": "/tempocompactors",
                                     "count": 1})
        srv.admin("POST", "faults", {"action": "drop_watches", "path": "/tempocompactors"})
        time.sleep(0.3)
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"replicas": 3}})
        ok = wait(lambda: (child(srv, DEPLOY, NS, "tempo-a-compactor") or {})
                  .get("spec", {}).get("replicas") == 3, 15)
        relists = [r for r in requests_since(srv, seq) if r["path"].endswith("/tempocompactors")
                   and "watch" not in r["query"]]
        t.ok(ok and relists, "HTTP 410 on re-watch leads to a relist and convergence",
             ctl.log()[-3000:])
        n410 = ctl.metric('tempo_compactor_operator_watch_total{resource="tempocompactors",'
                          'event="relists_410"}')
        t.ok(n410 is not None and n410 >= 2, "/metrics counts the 410 relists (%s)" % n410)

        # 504 (too large resourceVersion) as an in-stream ERROR also relists.
        seq = last_seq(srv)
        srv.admin("POST", "faults", {"action": "drop_watches", "error": 504,
                                     "path": "/tempocompactors"})
        time.sleep(0.3)
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"replicas": 2}})
        ok = wait(lambda: (child(srv, DEPLOY, NS, "tempo-a-compactor") or {})
                  .get("spec", {}).get("replicas") == 2, 15)
        relists = [r for r in requests_since(srv, seq) if r["path"].endswith("/tempocompactors")
                   and "watch" not in r["query"]]
        t.ok(ok and relists, "a 504 ERROR event (resourceVersion too large) relists",
             ctl.log()[-2000:])
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"replicas": 3}})
        wait(lambda: (child(srv, DEPLOY, NS, "tempo-a-compactor") or {})
             .get("spec", {}).get("replicas") == 3, 15)

        # --- 409 on the status write and on an apply: refetch the CR and retry
        seq = last_seq(srv)
        srv.admin("POST", "faults", {"action": "error", "code": 409, "method": "PATCH",
                                     "path": "/tempocompactors/a/status", "count": 2})
        srv.admin("POST", "faults", {"action": "error", "code": 409, "method": "PATCH",
                                     "path": "/configmaps/tempo-a-compactor-config", "count": 1})
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"compaction": {"blockRetention": "96h"}}})
        o = wait(lambda: ready_now(srv, "a"), 15)
        reqs = requests_since(srv, seq)
        gets = [r for r in reqs if r["method"] == "GET" and r["path"].endswith("/tempocompactors/a")]
        c409 = [r for r in reqs if r["status"] == 409]
        t.ok(o is not None and len(c409) == 3 and len(gets) >= 4,
             "409s lead to refetch and retry (409s=%d, CR GETs=%d)" % (len(c409), len(gets)),
             dump(get(srv, CR_BASE % NS + "/a")) + ctl.log()[-2000:])

        # --- 500 and 429 on applies: per-key backoff, then convergence
        seq = last_seq(srv)
        srv.admin("POST", "faults", {"action": "error", "code": 500, "method": "PATCH",
                                     "path": "/deployments/tempo-a-compactor$", "count": 2})
        srv.admin("POST", "faults", {"action": "error", "code": 429, "retryAfter": 1,
                                     "method": "PATCH", "path": "/deployments/tempo-a-compactor$",
                                     "count": 1})
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"replicas": 2}})
        ok = wait(lambda: (child(srv, DEPLOY, NS, "tempo-a-compactor") or {})
                  .get("spec", {}).get("replicas") == 2, 15)
        fails = [r for r in requests_since(srv, seq) if r["status"] in (429, 500)]
        t.ok(ok and len(fails) == 3 and "reconcile failed" in ctl.log(),
             "500/429 on apply: retried with per-key backoff until it converges",
             str(fails) + ctl.log()[-1500:])

        # --- autoscaling on: replicas handed over, never reset
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"replicas": 4}})
        wait(lambda: child(srv, DEPLOY, NS, "tempo-a-compactor")["spec"]["replicas"] == 4, 10)
        wait(lambda: ready_now(srv, "a"), 10)
        rv = child(srv, DEPLOY, NS, "tempo-a-compactor")["metadata"]["resourceVersion"]
        w = srv.watch("/apis/apps/v1/namespaces/%s/deployments?watch=1&resourceVersion=%s"
                      "&timeoutSeconds=20&fieldSelector=metadata.name%%3Dtempo-a-compactor"
                      % (NS, rv), timeout=30)
        seen = []

        def reader():
            try:
                while True:
                    line = w.readline()
                    if not line:
                        return
                    ev = json.loads(line)
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        seen.append(ev["object"]["spec"].get("replicas"))
            except (OSError, ValueError):
                return
        threading.Thread(target=reader, daemon=True).start()
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"autoscaling": autoscaling(
            customHeaders={"X-Scope-OrgID": "ops"},
            authSecretRef={"name": "mimir", "authModes": ["bearer"]})}})
        so = wait(lambda: child(srv, SO, NS, "tempo-a-compactor"), 10)
        ta = child(srv, TA, NS, "tempo-a-compactor")
        t.ok(so and ta and so["spec"]["triggers"][0]["metadata"]["customHeaders"] ==
             "X-Scope-OrgID=ops", "autoscaling on: ScaledObject and TriggerAuthentication applied",
             dump(so))
        time.sleep(1.0)
        # Now KEDA's HPA takes spec.replicas through /scale (as kube-controller-manager).
        st, _, _ = srv.req("PATCH", "/apis/apps/v1/namespaces/%s/deployments/tempo-a-compactor/"
                           "scale?fieldManager=kube-controller-manager" % NS,
                           {"spec": {"replicas": 7}}, ctype="application/merge-patch+json")
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"compaction": {"blockRetention": "97h"}}})
        wait(lambda: ready_now(srv, "a"), 10)
        time.sleep(0.5)
        dep = child(srv, DEPLOY, NS, "tempo-a-compactor")
        t.ok(st == 200 and seen and all(r in (4, 7) for r in seen) and
             dep["spec"]["replicas"] == 7,
             "replicas never reset during hand-over (observed %s)" % seen, dump(dep))
        owners = [m["manager"] for m in dep["metadata"]["managedFields"]
                  if "f:replicas" in m.get("fieldsV1", {}).get("f:spec", {})]
        t.ok("tempo-compactor-operator" not in owners,
             "operator no longer owns spec.replicas (owners: %s)" % owners)

        # --- autoscaling off: ScaledObject deleted, replicas taken back
        merge_patch(srv, CR_BASE % NS + "/a", {"spec": {"autoscaling": {"enabled": False}}})
        gone = wait(lambda: child(srv, SO, NS, "tempo-a-compactor") is None and
                    child(srv, TA, NS, "tempo-a-compactor") is None, 10)
        dep = wait(lambda: (lambda d: d if d["spec"]["replicas"] == 4 else None)(
            child(srv, DEPLOY, NS, "tempo-a-compactor")), 10)
        t.ok(gone and dep, "autoscaling off deletes the ScaledObject and restores spec.replicas",
             dump(child(srv, DEPLOY, NS, "tempo-a-compactor")))
        wait(lambda: any(e["reason"] == "ScaledObjectDeleted" for e in get(
            srv, "/apis/events.k8s.io/v1/namespaces/%s/events" % NS)["items"]), 5)
        evs = get(srv, "/apis/events.k8s.io/v1/namespaces/%s/events" % NS)["items"]
        reasons = sorted({e["reason"] for e in evs})
        t.ok("ScaledObjectDeleted" in reasons and "Available" in reasons,
             "events recorded on transitions: %s" % reasons)

        # --- a child deleted by hand comes back (children are watched)
        srv.req("DELETE", "/api/v1/namespaces/%s/services/tempo-a-compactor" % NS)
        t.ok(wait(lambda: child(srv, SVC, NS, "tempo-a-compactor"), 10),
             "a deleted child is re-created", ctl.log()[-4000:])

        # --- many CRs at once converge; delete converges
        for i in range(20):
            srv.req("POST", CR_BASE % NS, cr("m%d" % i))
        ok = wait(lambda: all(ready(srv, "m%d" % i) for i in range(20)), 20, 0.2)
        t.ok(ok, "20 CRs created at once all become Ready")
        srv.req("DELETE", CR_BASE % NS + "/a")
        ok = wait(lambda: child(srv, DEPLOY, NS, "tempo-a-compactor") is None and
                  child(srv, CM, NS, "tempo-a-compactor-config") is None, 10)
        time.sleep(0.5)
        t.ok(ok and child(srv, DEPLOY, NS, "tempo-a-compactor") is None,
             "delete converges: children gone and not re-created")

        st, body = ctl.http("/healthz")
        st2, body2 = ctl.http("/readyz")
        t.ok(st == 200 and st2 == 200 and "leader" in body2, "/healthz and /readyz", body2)
        t.ok(ctl.metric("tempo_compactor_operator_reconciles_total") is not None or
             "tempo_compactor_operator_reconciles_total" in ctl.http("/metrics")[1], "/metrics")
        rc = ctl.stop()
        t.ok(rc == 0 and "released lease" in ctl.log(), "SIGTERM: clean exit, lease released",
             ctl.log()[-1500:])
        ctl = None
    finally:
        if ctl:
            ctl.stop(signal.SIGKILL)
        srv.stop()

    # --- KEDA absent: Degraded, no crash-loop; invalid spec: Degraded naming the field
    srv = fakeapi_util.Server("--crd", CRD)
    ctl = None
    try:
        srv.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NS}})
        ctl = Controller(srv, "ctl-nokeda", "--leader-elect", "false")
        srv.req("POST", CR_BASE % NS, cr("k", replicas=1, autoscaling=autoscaling()))

        def degraded():
            c = cond(get(srv, CR_BASE % NS + "/k"), "Degraded")
            return c if c and c["reason"] == "KEDANotInstalled" else None
        c = wait(degraded, 10)
        dep = child(srv, DEPLOY, NS, "tempo-k-compactor")
        t.ok(c and dep and dep["spec"]["replicas"] == 2 and ctl.proc.poll() is None,
             "KEDA absent: Degraded=KEDANotInstalled, replicas clamped to minReplicas, "
             "still running", dump(get(srv, CR_BASE % NS + "/k")) + ctl.log()[-1500:])
    finally:
        if ctl:
            ctl.stop()
        srv.stop()

    # A permissive CRD (no schema rules) lets an invalid spec reach the controller.
    loose = os.path.join(HERE, "testdata", "crd-permissive.json")
    srv = fakeapi_util.Server("--keda", "--crd", loose)
    ctl = None
    try:
        srv.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NS}})
        ctl = Controller(srv, "ctl-loose", "--leader-elect", "false")
        bad = cr("bad", autoscaling=autoscaling(customHeaders={"X-Scope-OrgID": "a,b"}))
        srv.req("POST", CR_BASE % NS, bad)

        def invalid():
            c = cond(get(srv, CR_BASE % NS + "/bad"), "Degraded")
            return c if c and c["status"] == "True" else None
        c = wait(invalid, 10)
        t.ok(c and c["reason"] == "InvalidSpec" and
             "spec.autoscaling.prometheus.customHeaders.X-Scope-OrgID" in c["message"] and
             child(srv, DEPLOY, NS, "tempo-bad-compactor") is None and
             child(srv, CM, NS, "tempo-bad-compactor-config") is None,
             "invalid spec: Degraded names the field and nothing is applied", dump(c))
        t.ok(wait(lambda: any(
            e["type"] == "Warning" and e["reason"] == "InvalidSpec" and "customHeaders" in e["note"]
            for e in get(srv, "/apis/events.k8s.io/v1/namespaces/%s/events" % NS)["items"]), 5),
             "invalid spec emits a Warning event naming the field")
        merge_patch(srv, CR_BASE % NS + "/bad", {"spec": {"autoscaling": {"prometheus": {
            "customHeaders": {"X-Scope-OrgID": "a|b"}}}}})
        t.ok(wait(lambda: ready(srv, "bad"), 10), "fixing the spec clears Degraded")
    finally:
        if ctl:
            ctl.stop()
        srv.stop()
    t.done()


if __name__ == "__main__":
    main()
