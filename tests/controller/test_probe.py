#!/usr/bin/env python3
"""The leader's probe of the trigger query (controller/probe.h): a loopback HTTP server
plays Prometheus/Mimir and answers by X-Scope-OrgID; the fake API server's KEDA says
Ready=True whatever the query returns, as real KEDA does with ignoreNullValues true.
AutoscalingReady must still turn False (QueryEmpty / QueryFailed with the status) with a
Warning event, and True again when the query answers with one series."""
import base64
import http.server
import json
import os
import sys
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))

from ctrl_util import (BIN, CR_BASE, CRD, Controller, autoscaling, cr, dump,  # noqa: E402
                       fakeapi_util, get, merge_patch)
from tclib import Tap, need, wait  # noqa: E402

NS = "tempo"
TOKEN = "s3cr3t-probe-token"
SEEN = []


def vector(*vals):
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [0, v]} for v in vals]}}


class Prom(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        org = self.headers.get("X-Scope-OrgID")
        SEEN.append({"path": u.path, "query": q, "org": org,
                     "auth": self.headers.get("Authorization")})
        if org is None:
            code, body = 401, "no org id\n"
        elif org == "secure" and self.headers.get("Authorization") != "Bearer " + TOKEN:
            code, body = 401, "bad credentials\n"
        elif org == "two":
            code, body = 200, json.dumps(vector("1", "2"))
        elif org in ("t1", "secure"):
            code, body = 200, json.dumps(vector("42"))
        else:
            code, body = 200, json.dumps(vector())
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def log_message(self, *a):
        pass


def main():
    t = Tap()
    need(t, "trigger probe", built=[BIN])
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Prom)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    server = "http://127.0.0.1:%d/prometheus" % web.server_address[1]
    srv = fakeapi_util.Server("--keda", "--crd", CRD)
    ctl = None
    try:
        srv.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NS}})
        srv.req("POST", "/api/v1/namespaces/%s/secrets" % NS, {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "prom-auth"},
            "data": {"bearerToken": base64.b64encode(TOKEN.encode()).decode()}})
        ctl = Controller(srv, "ctl-probe", "--leader-elect", "false", "--observe-interval", "1")
        path = CR_BASE % NS + "/p"

        def spec(org, **extra):
            p = dict(serverAddress=server, ignoreNullValues=True, query="sum(up)", **extra)
            p["customHeaders"] = {"X-Scope-OrgID": org} if org else None  # None: merge-patch removes
            return {"autoscaling": autoscaling(**p)}

        def cond():
            for c in ((get(srv, path) or {}).get("status") or {}).get("conditions") or []:
                if c["type"] == "AutoscalingReady":
                    return c
            return {}

        def events(reason):
            lst = (get(srv, "/apis/events.k8s.io/v1/namespaces/%s/events" % NS) or {})
            return [e for e in lst.get("items", []) if e.get("reason") == reason]

        def set_spec(org, **extra):
            merge_patch(srv, path, {"spec": spec(org, **extra)})

        srv.req("POST", CR_BASE % NS, cr("p", **spec("t1")))
        c = wait(lambda: cond() if cond().get("status") == "True" else None, 20)
        hit = [s for s in SEEN if s["org"] == "t1"]
        t.ok(c and c["reason"] == "ScaledObjectReady" and hit and
             hit[-1]["path"] == "/prometheus/api/v1/query" and
             hit[-1]["query"].get("query") == ["sum(up)"] and "time" in hit[-1]["query"],
             "one series: AutoscalingReady True; the probe sent GET <serverAddress>/api/v1/query"
             "?query=..&time=.. with X-Scope-OrgID t1", dump({"cond": c, "seen": SEEN[-2:]}))

        set_spec("wrong-tenant")
        n0 = len(SEEN)
        c = wait(lambda: cond() if cond().get("reason") == "QueryEmpty" else None, 40)
        empties = [s for s in SEEN[n0:] if s["org"] == "wrong-tenant"]
        t.ok(c and c["status"] == "False" and "no series" in c["message"] and
             len(empties) >= 2,
             "wrong X-Scope-OrgID, ignoreNullValues true (KEDA still Ready): QueryEmpty after "
             "a second empty answer (%d probes)" % len(empties), dump(c))
        ev = events("QueryEmpty")
        t.ok(ev and all(e["type"] == "Warning" for e in ev) and
             "AutoscalingReady=False" in ev[-1]["note"], "a Warning event QueryEmpty", dump(ev))

        set_spec(None)
        c = wait(lambda: cond() if cond().get("reason") == "QueryFailed" else None, 20)
        t.ok(c and c["status"] == "False" and "HTTP 401" in c["message"] and
             "no org id" in c["message"],
             "no X-Scope-OrgID: QueryFailed at once, naming HTTP 401", dump(c))
        t.ok(any(e["type"] == "Warning" for e in events("QueryFailed")),
             "a Warning event QueryFailed", dump(events("QueryFailed")))

        set_spec("two")
        c = wait(lambda: cond() if "2 series" in cond().get("message", "") else None, 20)
        t.ok(c and c["reason"] == "QueryFailed", "two series: QueryFailed (KEDA needs one)",
             dump(cond()))

        set_spec("t1")
        c = wait(lambda: cond() if cond().get("status") == "True" else None, 20)
        t.ok(c and c["reason"] == "ScaledObjectReady", "the right header again: True",
             dump(cond()))
        ev = events("ScaledObjectReady")
        t.ok(ev and ev[-1]["type"] == "Normal", "and a Normal event says so", dump(ev))

        # credentials from the TriggerAuthentication's Secret
        set_spec("secure", authSecretRef={"name": "prom-auth", "authModes": ["bearer"]})
        c = wait(lambda: cond() if cond().get("status") == "True" and
                 any(s["org"] == "secure" for s in SEEN) else None, 20)
        sec = [s for s in SEEN if s["org"] == "secure"]
        t.ok(c and sec and sec[-1]["auth"] == "Bearer " + TOKEN,
             "authSecretRef bearer: the probe sends the Secret's token, the query answers",
             dump({"cond": cond(), "seen": sec[-1:]}))
        t.ok(TOKEN not in ctl.log() and TOKEN not in json.dumps(get(srv, path)),
             "the token is in neither the controller's log nor the CR")
        srv.req("PATCH", "/api/v1/namespaces/%s/secrets/prom-auth" % NS,
                {"data": {"bearerToken": base64.b64encode(b"stale").decode()}},
                ctype="application/merge-patch+json")
        set_spec("secure", authSecretRef={"name": "prom-auth", "authModes": ["bearer"]},
                 threshold="300")
        c = wait(lambda: cond() if cond().get("reason") == "QueryFailed" else None, 20)
        t.ok(c and "HTTP 401" in c["message"] and "bad credentials" in c["message"],
             "a wrong token: QueryFailed HTTP 401", dump(cond()))
        rc = ctl.stop()
        ctl = None
        t.ok(rc == 0, "the controller stops cleanly")
    finally:
        if ctl:
            ctl.stop()
        srv.stop()
        web.shutdown()
    t.done()


if __name__ == "__main__":
    main()
