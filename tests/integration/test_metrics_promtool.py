#!/usr/bin/env python3
"""promtool check metrics accepts the /metrics of both binaries.

tempo-compactor is covered with a live poll in test_daemon_http.sh; this test
runs tempo-compactor-controller against the fake API server with a
TempoCompactor in place, so its reconcile and leader metrics are populated."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "controller"))
sys.path.insert(0, os.path.join(TOP, "tests"))
import ctrl_util  # noqa: E402
import fakeapi_util  # noqa: E402
from tclib import Tap  # noqa: E402

CR = """apiVersion: compactor.tempo.dev/v1alpha1
kind: TempoCompactor
metadata: {name: metrics-check, namespace: default}
spec:
  storage:
    backend: s3
    s3: {bucket: traces, endpoint: 's3.example.com'}
  autoscaling:
    enabled: true
    minReplicas: 1
    maxReplicas: 4
    prometheus:
      serverAddress: http://prometheus:9090
      threshold: "250"
      customHeaders: {X-Scope-OrgID: tenant-123}
"""


def main():
    t = Tap()
    srv = fakeapi_util.Server("--keda", "--crd", ctrl_util.CRD)
    ctl = None
    try:
        rc, out, err = srv.kubectl("apply", "-f", "-", input=CR)
        t.ok(rc == 0, "a TempoCompactor is applied through kubectl", out + err)
        ctl = ctrl_util.Controller(srv, "promtool-check")
        deadline = time.time() + 15
        body = ""
        while time.time() < deadline:
            st, body = ctl.http("/metrics")
            if st == 200 and "tempo_compactor_operator_leader 1" in body:
                break
            time.sleep(0.2)
        t.ok("tempo_compactor_operator_leader 1" in body, "the controller leads and serves /metrics",
             body[:400])
        p = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                           capture_output=True)
        t.ok(p.returncode == 0 and body.count("# TYPE") >= 3,
             "promtool check metrics accepts tempo-compactor-controller /metrics",
             p.stdout + p.stderr)
    finally:
        if ctl:
            ctl.stop()
        srv.stop()
    t.done()


if __name__ == "__main__":
    main()
