#!/usr/bin/env python3
"""tests/e2e/scaler.py against KEDA's and the HPA's rules, worked out by hand
(research/operator.md 2.2, 2.3, 2.5), and its query against a stub Prometheus."""
import http.server
import json
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from tclib import Tap  # noqa: E402

t = Tap()
try:
    import yaml  # noqa: F401  (kubelet imports it)
except ImportError:
    t.skip_all("scaler rules", "no python3-yaml (make deps)")
from scaler import (DEFAULT_DOWN, DEFAULT_UP, Hpa, ScalerError, behavior,  # noqa: E402
                    fallback_replicas, metric_replicas, parse_bool, parse_map, query_value,
                    trigger_config)


def raises(fn):
    try:
        fn()
    except ScalerError as e:
        return str(e)
    return None


# customHeaders grammar (typed_config.go): split on ',', then '=' into exactly two parts
t(parse_map(" X-Scope-OrgID = tenant-1 , X-Other=b ", "h") == {"X-Scope-OrgID": "tenant-1",
                                                              "X-Other": "b"},
  "customHeaders: items and keys/values are trimmed")
t(parse_map("", "h") == {} and parse_map("  ", "h") == {}, "customHeaders: empty is unset")
t("expected format key=value" in (raises(lambda: parse_map("a=b=c", "h")) or ""),
  "customHeaders: a value containing '=' is an error")
t(raises(lambda: parse_map("a", "h")) is not None, "customHeaders: an item without '=' is an error")
t(parse_map("X-Scope-OrgID=t1|t2", "h") == {"X-Scope-OrgID": "t1|t2"},
  "customHeaders: Mimir federation t1|t2 is one value")
t(parse_bool(None, True) is True and parse_bool("false", True) is False and
  parse_bool("1", False) is True and raises(lambda: parse_bool("yes", True)) is not None,
  "ignoreNullValues: default true, Go ParseBool spellings, anything else is an error")
cfg = trigger_config({"serverAddress": "http://x/prometheus ", "query": "sum(up)",
                      "threshold": "250"})
t(cfg["threshold"] == 250.0 and cfg["activationThreshold"] == 0.0 and
  cfg["ignoreNullValues"] is True and cfg["serverAddress"] == "http://x/prometheus",
  "trigger metadata: defaults (activationThreshold 0, ignoreNullValues true)")
t(raises(lambda: trigger_config({"serverAddress": "http://x", "query": "q"})) is not None and
  raises(lambda: trigger_config({"serverAddress": "http://x", "query": "q",
                                 "threshold": "many"})) is not None,
  "threshold is required and numeric")

# HPA replica math
t(metric_replicas("AverageValue", 5000, 250, 2, 2, 2) == 20,
  "AverageValue: ceil(5000/250) = 20 whatever the current count")
t(metric_replicas("AverageValue", 1001, 250, 4, 4, 4) == 4,
  "AverageValue: within the 10% tolerance (1001 vs 4x250) the count stays")
t(metric_replicas("AverageValue", 1200, 250, 4, 4, 4) == 5,
  "AverageValue: 1200/(4x250) = 1.2 is outside the tolerance: ceil(4.8) = 5")
t(metric_replicas("Value", 20, 5, 3, 3, 3) == 12,
  "Value: ceil(3 x 20/5) = 12 (KEDA docs' example)")

# stabilization: scale-down takes the max of the window, scale-up the min
up = dict(DEFAULT_UP, stabilizationWindowSeconds=0)
down = dict(DEFAULT_DOWN, stabilizationWindowSeconds=20)
h = Hpa()
seq = [(0, 4, 1), (5, 2, 4), (10, 1, 4), (19, 1, 4), (21, 1, 4), (26, 1, 4), (31, 1, 4)]
got = [h.stabilize(now, d, cur, up, down) for now, d, cur in seq]
t(got == [4, 4, 4, 4, 2, 1, 1],
  "scale-down stabilization 20 s: 4 is held while it is in the window, then 2, then 1: %s"
  % got)
h = Hpa()
up2 = dict(DEFAULT_UP, stabilizationWindowSeconds=10)
got = [h.stabilize(now, d, 1, up2, down) for now, d in ((0, 3), (4, 5), (11, 5), (15, 5))]
t(got == [1, 3, 5, 5] or got == [3, 3, 5, 5],
  "scale-up stabilization 10 s: the minimum of the window's recommendations: %s" % got)

# rate policies
h = Hpa()
pol_up = {"selectPolicy": "Max", "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}
pol_down = {"selectPolicy": "Max", "policies": [{"type": "Pods", "value": 1,
                                                 "periodSeconds": 60}]}
t(h.limit(0, 10, 1, 1, 8, pol_up, pol_down) == 3, "scale-up Pods 2/60s: 1 -> 3, not 10")
h.record(0, 2)
t(h.limit(30, 10, 3, 1, 8, pol_up, pol_down) == 3,
  "scale-up Pods 2/60s: 2 already added in the period: stays at 3")
t(h.limit(61, 10, 3, 1, 8, pol_up, pol_down) == 5, "after the period: 3 -> 5")
h = Hpa()
t(h.limit(0, 1, 5, 1, 8, pol_up, pol_down) == 4, "scale-down Pods 1/60s: 5 -> 4, not 1")
pct = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100,
                                            "periodSeconds": 15}]}
t(Hpa().limit(0, 1, 4, 1, 8, pol_up, pct) == 1, "scale-down Percent 100: 4 -> 1 at once")
t(Hpa().limit(0, 9, 4, 1, 6, pct, pct) == 6, "scale-up Percent 100: 4 -> 8 allowed, max 6")
t(Hpa().limit(0, 9, 4, 1, 8, {"selectPolicy": "Disabled", "policies": []}, pct) == 4,
  "selectPolicy Disabled: no scale-up")
so = {"spec": {"advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
    "scaleDown": {"stabilizationWindowSeconds": 20}}}}}}
u, d = behavior(so)
t(d["stabilizationWindowSeconds"] == 20 and d["policies"] == DEFAULT_DOWN["policies"] and
  u == DEFAULT_UP, "behavior: given fields override the HPA defaults, the rest stay")
t(behavior({})[1]["stabilizationWindowSeconds"] == 300,
  "no behavior: the HPA's default 300 s scale-down window")

# KEDA's fallback (pkg/fallback): failures counted per poll, fallback once above the threshold
fb = {"failureThreshold": 3, "replicas": 2}
got = [fallback_replicas(fb, "AverageValue", n, 4) for n in (1, 2, 3, 4, 5)]
t(got == [None, None, None, 2, 2],
  "fallback failureThreshold 3: polls 1-3 fail without it, the 4th falls back to 2: %s" % got)
t(fallback_replicas(fb, "Value", 9, 4) is None and fallback_replicas(None, None, 9, 4) is None,
  "no fallback for a Value trigger, nor without spec.fallback")
t(fallback_replicas({"failureThreshold": 0, "replicas": 3}, None, 1, 1) == 3,
  "failureThreshold 0: the first failure falls back (metricType defaults to AverageValue)")
t(fallback_replicas({"failureThreshold": -1, "replicas": 3}, None, 5, 1) is None,
  "a negative failureThreshold is not a valid fallback")
t([fallback_replicas(dict(fb, behavior=b), None, 4, cur) for b, cur in (
    ("currentReplicas", 5), ("currentReplicasIfHigher", 5), ("currentReplicasIfHigher", 1),
    ("currentReplicasIfLower", 5), ("currentReplicasIfLower", 1), ("static", 5))]
  == [5, 5, 2, 2, 1, 2],
  "fallback behavior: currentReplicas, IfHigher max, IfLower min, static the replicas")
t(metric_replicas("AverageValue", 250 * 2, 250, 6, 6, 6) == 2,
  "the fallback metric threshold x 2 gives the HPA 2 replicas (AverageValue)")

# the query, against a stub Prometheus that records the request
SEEN = {}
ANSWERS = {}


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        SEEN["path"] = self.path
        SEEN["headers"] = {k.lower(): v for k, v in self.headers.items()}
        code, body = ANSWERS["next"]
        b = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def log_message(self, *a):
        pass


web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=web.serve_forever, daemon=True).start()
base = "http://127.0.0.1:%d/prometheus" % web.server_address[1]


def vec(*vals):
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [0, v]} for v in vals]}}


c = trigger_config({"serverAddress": base, "query": 'sum(x{a="b"})', "threshold": "10",
                    "customHeaders": "X-Scope-OrgID=t1,X-Source=keda",
                    "queryParameters": "dedup=true", "ignoreNullValues": "false"})
ANSWERS["next"] = (200, vec("42.5"))
v = query_value(c)
t(v == 42.5 and SEEN["path"].startswith("/prometheus/api/v1/query?query=sum%28x%7Ba%3D%22b%22%7D%29&time=")
  and SEEN["path"].endswith("&dedup=true") and SEEN["headers"].get("x-scope-orgid") == "t1"
  and SEEN["headers"].get("x-source") == "keda",
  "query: GET <serverAddress>/api/v1/query?query=..&time=..&k=v with the custom headers",
  json.dumps(SEEN))
ANSWERS["next"] = (200, vec())
t("empty" in (raises(lambda: query_value(c)) or ""),
  "ignoreNullValues false: an empty result is an error")
c2 = dict(c, ignoreNullValues=True)
t(query_value(c2) == 0.0, "ignoreNullValues true: an empty result is 0")
ANSWERS["next"] = (200, vec("1", "2"))
t("multiple elements" in (raises(lambda: query_value(c2)) or ""),
  "more than one series is an error, even with ignoreNullValues")
ANSWERS["next"] = (401, "no org id\n")
t("status: 401" in (raises(lambda: query_value(c2)) or ""), "a 401 is an error")
ANSWERS["next"] = (200, vec("NaN"))
t(query_value(c2) == 0.0 and raises(lambda: query_value(c)) is not None,
  "NaN: 0 with ignoreNullValues, else an error")
web.shutdown()
t.done()
