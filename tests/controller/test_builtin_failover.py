#!/usr/bin/env python3
"""autoscaling.mode builtin (#13, acceptance 4): leader failover while scaling does not flap
the replicas. Two controllers with leader election, a loopback Prometheus, scale-up and
scale-down limited to one pod per 2 s; the leader is SIGKILLed mid-scale in each phase. The
Deployment's spec.replicas, sampled every 0.1 s, must be monotone within each phase and reach
the target, and the new leader must continue the scale."""
import json
import os
import signal
import sys
import threading
import http.server
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))

from ctrl_util import BIN, CR_BASE, CRD, Controller, cr, dump, fakeapi_util, get  # noqa: E402
from tclib import Tap, need, wait  # noqa: E402

NS = "tempo"
ARGS = ("--lease-duration", "4000", "--renew-deadline", "3000", "--retry-period", "500",
        "--lease-namespace", "default", "--observe-interval", "1")
VALUE = ["0"]


class Prom(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [0, VALUE[0]]}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def log_message(self, *a):
        pass


def monotone(seq, up):
    return all((b >= a) if up else (b <= a) for a, b in zip(seq, seq[1:]))


def main():
    t = Tap()
    need(t, "builtin autoscaler failover", built=[BIN])
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Prom)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    srv = fakeapi_util.Server("--crd", CRD)
    dep_path = "/apis/apps/v1/namespaces/%s/deployments/tempo-f-compactor" % NS
    ctls = []

    def replicas():
        return ((get(srv, dep_path) or {}).get("spec") or {}).get("replicas")

    def leader():
        for c in ctls:
            if c.proc.poll() is None and c.is_leader():
                return c
        return None

    def phase(target, kill_at, up, secs=90):
        seq, killed, new = [], None, None
        end = time.time() + secs
        while time.time() < end:
            r = replicas()
            if r is not None and (not seq or seq[-1] != r):
                seq.append(r)
            if killed is None and r == kill_at:
                killed = leader()
                if killed:
                    killed.proc.send_signal(signal.SIGKILL)
                    killed.proc.wait()
                    ctls.append(Controller(srv, "ctl-%d" % len(ctls), *ARGS))
            if r == target and killed is not None:
                new = leader()
                break
            time.sleep(0.1)
        return seq, killed, new

    try:
        srv.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NS}})
        ctls += [Controller(srv, "ctl-a", *ARGS), Controller(srv, "ctl-b", *ARGS)]
        wait(leader, 15)
        one = {"type": "Pods", "value": 1, "periodSeconds": 2}
        srv.req("POST", CR_BASE % NS, cr("f", autoscaling={
            "enabled": True, "mode": "builtin", "minReplicas": 1, "maxReplicas": 6,
            "pollingInterval": 1,
            "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0, "policies": [one]},
                         "scaleDown": {"stabilizationWindowSeconds": 0, "policies": [one]}},
            "prometheus": {"serverAddress": "http://127.0.0.1:%d" % web.server_address[1],
                           "threshold": "100", "customHeaders": {"X-Scope-OrgID": "t"}}}))
        wait(lambda: replicas() == 1, 20)
        VALUE[0] = "600"  # 6 replicas
        seq, killed, new = phase(6, 3, True)
        t.ok(seq and seq[-1] == 6 and monotone(seq, True) and killed and new and
             new is not killed,
             "scale out 1 -> 6 with the leader killed at 3: replicas %s never go down, the new "
             "leader %s finishes" % (seq, new and new.identity), dump(seq))
        VALUE[0] = "100"  # 1 replica
        seq2, killed2, new2 = phase(1, 4, False)
        t.ok(seq2 and seq2[-1] == 1 and monotone(seq2, False) and killed2 and new2,
             "scale in 6 -> 1 with the leader killed at 4: replicas %s never go up" % seq2,
             dump(seq2))
        time.sleep(3)
        t.ok(replicas() == 1, "and stay at 1", str(replicas()))
    finally:
        for c in ctls:
            if c.proc.poll() is None:
                c.stop()
        srv.stop()
        web.shutdown()
    t.done()


if __name__ == "__main__":
    main()
