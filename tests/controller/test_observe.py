#!/usr/bin/env python3
"""status.outstandingBlocks from the compactor pods' /metrics and
status.desiredReplicas from KEDA's HPA: pods (created here, the fake API
server runs none) point at a loopback HTTP server that serves Tempo's gauge."""
import http.server
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))

from ctrl_util import (BIN, CR_BASE, CRD, Controller, autoscaling, cr, dump,  # noqa: E402
                       fakeapi_util, get)
from tclib import Tap, need, wait  # noqa: E402

NS = "tempo"
METRICS = {"text": ""}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = METRICS["text"].encode() if self.path == "/metrics" else b""
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def main():
    t = Tap()
    need(t, "observe", built=[BIN])
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    srv = fakeapi_util.Server("--keda", "--crd", CRD)
    ctl = None
    try:
        srv.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NS}})
        METRICS["text"] = ("# TYPE tempodb_compaction_outstanding_blocks gauge\n"
                           "tempodb_compaction_outstanding_blocks{tenant=\"a\"} 120\n"
                           "tempodb_compaction_outstanding_blocks{tenant=\"b\"} 30\n")
        labels = {"app.kubernetes.io/component": "compactor", "app.kubernetes.io/instance": "o",
                  "app.kubernetes.io/name": "tempo"}
        for i in range(2):
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "tempo-o-compactor-%d" % i, "namespace": NS,
                                "labels": labels},
                   "spec": {"containers": [{"name": "compactor", "image": "x", "ports": [
                       {"name": "http-metrics", "containerPort": web.server_address[1]}]}]}}
            srv.req("POST", "/api/v1/namespaces/%s/pods" % NS, pod)
            srv.req("PATCH", "/api/v1/namespaces/%s/pods/tempo-o-compactor-%d/status" % (NS, i),
                    {"status": {"phase": "Running", "podIP": "127.0.0.1"}},
                    ctype="application/merge-patch+json")
        # A pod that is not running is not scraped.
        srv.req("POST", "/api/v1/namespaces/%s/pods" % NS,
                {"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "tempo-o-compactor-pending", "namespace": NS,
                              "labels": labels},
                 "spec": {"containers": [{"name": "compactor", "image": "x"}]}})
        hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": "keda-hpa-tempo-o-compactor", "namespace": NS},
               "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                           "name": "tempo-o-compactor"},
                        "minReplicas": 2, "maxReplicas": 10}}
        srv.req("POST", "/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers" % NS, hpa)
        srv.req("PATCH", "/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers/"
                "keda-hpa-tempo-o-compactor/status" % NS,
                {"status": {"currentReplicas": 2, "desiredReplicas": 5}},
                ctype="application/merge-patch+json")
        ctl = Controller(srv, "ctl-observe", "--leader-elect", "false", "--observe-interval", "1")
        srv.req("POST", CR_BASE % NS, cr("o", autoscaling=autoscaling()))

        def status():
            return (get(srv, CR_BASE % NS + "/o") or {}).get("status", {})
        st = wait(lambda: status() if status().get("outstandingBlocks") == 300 else None, 10)
        t.ok(st is not None and st.get("outstandingBlocksTime"),
             "outstandingBlocks sums the gauge over running pods (2 x 150)", dump(status()))
        t.ok(wait(lambda: status().get("desiredReplicas") == 5, 10),
             "desiredReplicas from keda-hpa-<name>", dump(status()))
        METRICS["text"] = "tempodb_compaction_outstanding_blocks{tenant=\"a\"} 10\n"
        t.ok(wait(lambda: status().get("outstandingBlocks") == 20, 10),
             "outstandingBlocks follows the pods (refreshed every --observe-interval)",
             dump(status()))
        rc, out, err = srv.kubectl("get", "tempocompactor", "o", "-n", NS)
        t.ok(rc == 0 and "20" in out, "kubectl shows the Outstanding column", out + err)
    finally:
        if ctl:
            ctl.stop()
        srv.stop()
        web.shutdown()
    t.done()


if __name__ == "__main__":
    main()
