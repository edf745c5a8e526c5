#!/usr/bin/env python3
"""autoscaling.mode builtin (#13): no KEDA on the fake API server; the controller runs the
trigger query against a real Prometheus behind the e2e's nginx gateway (tests/e2e/peers.py:
no X-Scope-OrgID 401, tenant t1 its Prometheus scraping a loopback /metrics, any other tenant
an empty Prometheus), computes the replicas
with the HPA maths and PATCHes the Deployment's /scale as its own field manager. A wrong header
(empty result), a 401 and an unreachable Prometheus each keep the replicas and show in the
status (AutoscalingReady False, autoscaler.lastError) and a Warning event."""
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))

from ctrl_util import (BIN, CR_BASE, CRD, Controller, cr, dump,  # noqa: E402
                       fakeapi_util, get, merge_patch)
from tclib import Tap, free_port, need, wait  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import peers  # noqa: E402

NS = "tempo"
VALUE = {"t1": "3000"}
SEEN = []


class Metrics(http.server.BaseHTTPRequestHandler):
    """What the compactor pods would expose; Prometheus scrapes it every second."""

    def do_GET(self):
        b = ('tempodb_compaction_outstanding_blocks{container="compactor"} %s\n'
             % VALUE["t1"]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def log_message(self, *a):
        pass


def main():
    t = Tap()
    need(t, "builtin autoscaler", built=[BIN])
    for tool in ("prometheus", "nginx"):
        if not shutil.which(tool):
            t.skip_all("builtin autoscaler", "no %s on PATH (run make deps)" % tool)
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    work = tempfile.mkdtemp(prefix="tc-builtin-")
    sd = os.path.join(work, "targets.json")
    with open(sd, "w") as f:
        json.dump([{"targets": ["127.0.0.1:%d" % web.server_address[1]]}], f)
    prom = peers.Prometheus(work, "prom", sd)
    empty = peers.Prometheus(work, "empty")
    gw = peers.Gateway(work, "t1", prom.port, empty.port)
    server = gw.url
    srv = fakeapi_util.Server("--crd", CRD)  # no --keda: KEDA's API is not served
    ctl = None
    path = CR_BASE % NS + "/b"
    dep_path = "/apis/apps/v1/namespaces/%s/deployments/tempo-b-compactor" % NS

    def spec(org, addr=None):
        p = {"serverAddress": addr or server, "threshold": "1000", "query": "sum(tempodb_compaction_outstanding_blocks)"}
        p["customHeaders"] = {"X-Scope-OrgID": org} if org else None
        return {"autoscaling": {
            "enabled": True, "mode": "builtin", "minReplicas": 1, "maxReplicas": 5,
            "pollingInterval": 1,
            "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0},
                         "scaleDown": {"stabilizationWindowSeconds": 0}},
            "prometheus": p}}

    def status():
        return (get(srv, path) or {}).get("status") or {}

    def cond():
        for c in status().get("conditions") or []:
            if c["type"] == "AutoscalingReady":
                return c
        return {}

    def replicas():
        return ((get(srv, dep_path) or {}).get("spec") or {}).get("replicas")

    def events(reason):
        lst = get(srv, "/apis/events.k8s.io/v1/namespaces/%s/events" % NS) or {}
        return [e for e in lst.get("items", []) if e.get("reason") == reason]

    try:
        srv.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NS}})
        ctl = Controller(srv, "ctl-builtin", "--leader-elect", "false", "--observe-interval", "1")
        srv.req("POST", CR_BASE % NS, cr("b", **spec("t1")))
        r = wait(lambda: replicas() if replicas() == 3 else None, 30)
        st = status()
        t.ok(r == 3 and cond().get("status") == "True" and
             (st.get("autoscaler") or {}).get("lastValue") == 3000 and
             st["autoscaler"].get("desiredReplicas") == 3 and st.get("desiredReplicas") == 3,
             "3000 outstanding / threshold 1000: the controller scales the Deployment 1 -> 3 "
             "without KEDA; status.autoscaler says value, desired, current",
             dump({"replicas": replicas(), "status": st}))
        so = srv.req("GET", "/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects/tempo-b-compactor"
                     % NS)[0]
        t.ok(so == 404, "no ScaledObject is rendered", "GET scaledobject: %s" % so)
        dep = get(srv, dep_path)
        owners = [(m["manager"], m.get("subresource", "")) for m in
                  dep["metadata"].get("managedFields", [])
                  if "f:replicas" in (m.get("fieldsV1") or {}).get("f:spec", {})]
        t.ok(owners == [("tempo-compactor-operator", "scale")],
             "spec.replicas is owned by the controller's manager through /scale only",
             dump(owners))
        ev = events("Scaled")
        t.ok(ev and "from 1 to 3" in ev[-1]["note"] and ev[-1]["type"] == "Normal",
             "a Normal event Scaled names the change", dump(ev))
        m = ctl.http("/metrics")[1]
        t.ok('tempo_compactor_operator_autoscaler_desired_replicas{namespace="tempo",name="b"} 3'
             in m and "tempo_compactor_operator_autoscaler_query_duration_seconds_count" in m,
             "metrics: desired replicas per CR and the query duration",
             "\n".join(x for x in m.splitlines() if "autoscaler" in x))

        # Every page of the Deployment stays at 3 while the query fails.
        cases = [("wrong X-Scope-OrgID (empty result)", spec("wrong-tenant"), "QueryEmpty",
                  "no series"),
                 ("no X-Scope-OrgID (HTTP 401)", spec(None), "QueryFailed", "HTTP 401"),
                 ("unreachable Prometheus", spec("t1", "http://127.0.0.1:%d" % free_port()),
                  "QueryFailed", "api/v1/query")]
        for what, sp, reason, text in cases:
            merge_patch(srv, path, {"spec": sp})
            c = wait(lambda: cond() if cond().get("reason") == reason and
                     text in cond().get("message", "") else None, 30)
            seen = []
            for _ in range(3):  # three more polls at 1 s
                wait(lambda: None, 1.2)
                seen.append(replicas())
            st = status()
            err = (st.get("autoscaler") or {}).get("lastError", "")
            t.ok(c and c["status"] == "False" and "keeping 3 replicas" in c["message"] and
                 seen == [3, 3, 3] and text in err and "keeping 3 replicas" in err,
                 "%s: AutoscalingReady False %s, replicas kept at 3, lastError says so"
                 % (what, reason), dump({"cond": cond(), "seen": seen, "status": st}))
            ev = events(reason)
            t.ok(ev and ev[-1]["type"] == "Warning", "%s: a Warning event %s" % (what, reason),
                 dump(ev))
        m = ctl.http("/metrics")[1]
        t.ok('reason="QueryEmpty"' in m and 'reason="QueryFailed"' in m,
             "metrics: query errors counted by reason",
             "\n".join(x for x in m.splitlines() if "errors" in x))

        # The query answers again, lower: scale in through /scale.
        VALUE["t1"] = "1500"
        merge_patch(srv, path, {"spec": spec("t1")})
        r = wait(lambda: replicas() if replicas() == 2 else None, 30)
        t.ok(r == 2 and cond().get("status") == "True",
             "the query answers 1500 again: 3 -> 2, AutoscalingReady True",
             dump({"replicas": replicas(), "cond": cond()}))
        rc = ctl.stop()
        ctl = None
        t.ok(rc == 0, "the controller stops cleanly")
    finally:
        if ctl:
            ctl.stop()
        srv.stop()
        gw.stop()
        prom.stop()
        empty.stop()
        web.shutdown()
    t.done()


if __name__ == "__main__":
    main()
