"""KEDA's Prometheus scaler and the HPA, for the fake API server (KEDA cannot run here).

Written from KEDA's and Kubernetes' documented rules (research/operator.md 2.1-2.5), not
from the controller's code. Every sync period it reads each ScaledObject of a namespace:

KEDA (pkg/scalers/prometheus_scaler.go): trigger type "prometheus"; metadata
  serverAddress, query (required), threshold (required, a float), activationThreshold
  (default 0), customHeaders "K=V,K=V" (split on ',', then '=' into exactly two parts,
  spaces trimmed), queryParameters (same grammar), namespace, ignoreNullValues (default
  true). GET <serverAddress>/api/v1/query?query=..&time=<now>[&namespace=..][&k=v] with
  the headers. Non-2xx is an error; an empty result is 0 with ignoreNullValues, else an
  error; more than one element is an error; NaN/Inf like an empty result. Active =
  value > activationThreshold. On error the HPA gets no metric and keeps the replicas
  unless spec.fallback applies (pkg/fallback: each failed poll counts; once the count
  exceeds failureThreshold, an AverageValue trigger's metric becomes
  threshold x fallback.replicas - or x the current count for behavior currentReplicas,
  x max/min(current, replicas) for currentReplicasIfHigher/IfLower - and the Fallback
  condition turns True; a good poll resets the count), the ScaledObject's Ready turns False
  (TriggerError, "Triggers defined in ScaledObject are not working correctly") and a
  KEDAScalerFailed Warning event names the error.
HPA (replica_calculator.go, horizontal.go): AverageValue desired = ceil(value/threshold),
  Value desired = ceil(ready * value/threshold), both unchanged within the 10% tolerance;
  then stabilization (scale-up: the minimum of the recommendations within
  scaleUp.stabilizationWindowSeconds; scale-down: their maximum within
  scaleDown.stabilizationWindowSeconds), then the rate policies (Pods/Percent per
  periodSeconds, selectPolicy Max/Min/Disabled) and [minReplicaCount (at least 1),
  maxReplicaCount]. The result goes to the Deployment's /scale.
"""
import datetime
import json
import math
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kubelet import Api  # noqa: E402

TOLERANCE = 0.1
DEFAULT_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
              "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                           {"type": "Percent", "value": 100, "periodSeconds": 15}]}
DEFAULT_DOWN = {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


class ScalerError(Exception):
    pass


# ---- KEDA: trigger metadata and the query

def parse_map(s, what):
    """KEDA's "k=v,k=v" map (customHeaders, queryParameters); "" is unset."""
    out = {}
    if s is None or s.strip() == "":
        return out
    for item in s.split(","):
        kv = item.strip().split("=")
        if len(kv) != 2:
            raise ScalerError("error parsing %s: expected format key=value, got %r"
                              % (what, item.strip()))
        out[kv[0].strip()] = kv[1].strip()
    return out


def parse_bool(s, default):
    if s is None or s.strip() == "":
        return default
    v = s.strip().lower()
    if v in ("1", "t", "true"):
        return True
    if v in ("0", "f", "false"):
        return False
    raise ScalerError("invalid bool %r" % s)  # Go's strconv.ParseBool


def parse_float(s, name, required):
    if s is None or s.strip() == "":
        if required:
            raise ScalerError("missing required parameter %r" % name)
        return 0.0
    try:
        return float(s)
    except ValueError:
        raise ScalerError("error parsing %s: %r is not a number" % (name, s))


def trigger_config(md):
    for k in ("serverAddress", "query"):
        if not (md.get(k) or "").strip():
            raise ScalerError("missing required parameter %r" % k)
    return {"serverAddress": md["serverAddress"].strip(), "query": md["query"],
            "threshold": parse_float(md.get("threshold"), "threshold", True),
            "activationThreshold": parse_float(md.get("activationThreshold"),
                                               "activationThreshold", False),
            "customHeaders": parse_map(md.get("customHeaders"), "customHeaders"),
            "queryParameters": parse_map(md.get("queryParameters"), "queryParameters"),
            "namespace": (md.get("namespace") or "").strip(),
            "ignoreNullValues": parse_bool(md.get("ignoreNullValues"), True)}


def query_value(cfg, timeout=5):
    """The trigger's value, by KEDA's rules; ScalerError otherwise."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = "%s/api/v1/query?query=%s&time=%s" % (
        cfg["serverAddress"], urllib.parse.quote(cfg["query"]), urllib.parse.quote(now))
    if cfg["namespace"]:
        url += "&namespace=" + urllib.parse.quote(cfg["namespace"])
    for k, v in cfg["queryParameters"].items():
        url += "&%s=%s" % (urllib.parse.quote(k), urllib.parse.quote(v))
    req = urllib.request.Request(url, headers=cfg["customHeaders"])
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        raise ScalerError("prometheus query api returned error. status: %d response: %s"
                          % (e.code, e.read().decode(errors="replace").strip()[:200]))
    except OSError as e:
        raise ScalerError("prometheus query failed: %s" % e)
    try:
        res = json.loads(body)["data"]["result"]
    except (ValueError, KeyError, TypeError):
        raise ScalerError("prometheus query %s: unreadable answer %r" % (cfg["query"], body[:200]))
    if len(res) == 0:
        if cfg["ignoreNullValues"]:
            return 0.0
        raise ScalerError("prometheus metrics 'prometheus' target may be lost, the result is empty")
    if len(res) > 1:
        raise ScalerError("prometheus query %s returned multiple elements" % cfg["query"])
    try:
        v = float(res[0]["value"][1])
    except (KeyError, IndexError, ValueError, TypeError):
        raise ScalerError("prometheus query %s: bad value %r" % (cfg["query"], res[0]))
    if math.isnan(v) or math.isinf(v):
        if cfg["ignoreNullValues"]:
            return 0.0
        raise ScalerError("prometheus query returned %s" % v)
    return v


# ---- KEDA's fallback

def fallback_replicas(fallback, metric_type, failures, current):
    """The replicas the fallback metric stands for, or None when no fallback applies:
    failures (this poll's included) must exceed failureThreshold, the trigger must be
    AverageValue and both numbers non-negative (KEDA's validateFallback)."""
    if not fallback or (metric_type or "AverageValue") != "AverageValue":
        return None
    ft, r = fallback.get("failureThreshold"), fallback.get("replicas")
    if not isinstance(ft, int) or not isinstance(r, int) or ft < 0 or r < 0:
        return None
    if failures <= ft:
        return None
    beh = fallback.get("behavior") or "static"
    if beh == "currentReplicas":
        return current
    if beh == "currentReplicasIfHigher":
        return max(current, r)
    if beh == "currentReplicasIfLower":
        return min(current, r)
    return r


# ---- HPA

def metric_replicas(metric_type, value, threshold, current, status_replicas, ready):
    """Desired replicas for one external metric (replica_calculator.go):
    GetExternalPerPodMetricReplicas for AverageValue (against status.replicas),
    GetExternalMetricReplicas for Value (current replicas, ready pods)."""
    if metric_type == "Value":
        ratio = value / threshold
        if abs(1.0 - ratio) <= TOLERANCE:
            return current
        return int(math.ceil(ratio * ready))
    ratio = value / (threshold * status_replicas) if status_replicas > 0 else float("inf")
    if abs(1.0 - ratio) <= TOLERANCE:
        return status_replicas
    return int(math.ceil(value / threshold))


class Hpa:
    """One HPA's memory: unstabilized recommendations and its own scale events."""

    def __init__(self):
        self.recs = []    # (t, replicas)
        self.events = []  # (t, change)

    def stabilize(self, now, desired, current, up, down):
        upc = now - up["stabilizationWindowSeconds"]
        downc = now - down["stabilizationWindowSeconds"]
        up_rec = down_rec = desired
        for t, r in self.recs:
            if t > upc:
                up_rec = min(up_rec, r)
            if t > downc:
                down_rec = max(down_rec, r)
        rec = current
        if rec < up_rec:
            rec = up_rec
        if rec > down_rec:
            rec = down_rec
        keep = max(up["stabilizationWindowSeconds"], down["stabilizationWindowSeconds"])
        self.recs = [(t, r) for t, r in self.recs if t > now - keep] + [(now, desired)]
        return rec

    def _changes(self, now, period):
        added = sum(c for t, c in self.events if t > now - period and c > 0)
        removed = -sum(c for t, c in self.events if t > now - period and c < 0)
        return added, removed

    def limit(self, now, desired, current, lo, hi, up, down):
        if desired > current:
            rule = up
            if rule.get("selectPolicy") == "Disabled":
                return current
            limits = []
            for p in rule.get("policies") or []:
                added, removed = self._changes(now, p["periodSeconds"])
                start = current - added + removed
                if p["type"] == "Pods":
                    limits.append(start + p["value"])
                else:
                    limits.append(int(math.ceil(start * (1 + p["value"] / 100.0))))
            lim = (min if rule.get("selectPolicy") == "Min" else max)(limits) if limits \
                else desired
            lim = max(lim, current)
            return min(desired, min(hi, lim))
        if desired < current:
            rule = down
            if rule.get("selectPolicy") == "Disabled":
                return current
            limits = []
            for p in rule.get("policies") or []:
                added, removed = self._changes(now, p["periodSeconds"])
                start = current - added + removed
                if p["type"] == "Pods":
                    limits.append(start - p["value"])
                else:
                    limits.append(int(math.floor(start * (1 - p["value"] / 100.0))))
            lim = (max if rule.get("selectPolicy") == "Min" else min)(limits) if limits \
                else desired
            lim = min(lim, current)
            return max(desired, max(lo, lim))
        return desired

    def record(self, now, change):
        self.events = [(t, c) for t, c in self.events if t > now - 1800] + [(now, change)]


def behavior(so):
    b = (((so.get("spec") or {}).get("advanced") or {}).get("horizontalPodAutoscalerConfig")
         or {}).get("behavior") or {}
    up = dict(DEFAULT_UP, **(b.get("scaleUp") or {}))
    down = dict(DEFAULT_DOWN, **(b.get("scaleDown") or {}))
    return up, down


class Scaler:
    """Runs KEDA + HPA for every ScaledObject in ns, every `period` seconds (the HPA's
    --horizontal-pod-autoscaler-sync-period, 15 s by default; shorter for a test)."""

    def __init__(self, api_url, ns, period=2.0, log=print):
        self.api = Api(api_url)
        self.ns = ns
        self.period = period
        self.log = log
        self.hpas = {}
        self.last_err = {}
        self.failures = {}  # so name -> consecutive failed polls (KEDA's health status)
        self.last = {}  # so name -> {"value", "error", "desired", "replicas", "threshold"}
        self.scalings = []  # every PATCH that landed: the decision that made it
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_ev.set()
        self.thread.join(10)

    def _loop(self):
        while not self.stop_ev.wait(self.period):
            try:
                self.sync()
            except Exception as e:
                self.log("# scaler: sync failed: %r" % e)

    def sync(self):
        lst = self.api.get("/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects" % self.ns) or {}
        for so in lst.get("items", []):
            self.sync_one(so)

    def sync_one(self, so):
        now = time.monotonic()
        name = so["metadata"]["name"]
        spec = so.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        scale_path = "/apis/apps/v1/namespaces/%s/deployments/%s/scale" % (self.ns, ref["name"])
        scale = self.api.get(scale_path)
        if scale is None:
            return
        current = (scale.get("spec") or {}).get("replicas", 0)
        status_replicas = (scale.get("status") or {}).get("replicas", 0)
        lo = max(spec.get("minReplicaCount", 0), 1)  # KEDA's GetHPAMinReplicas
        hi = spec.get("maxReplicaCount", 100)
        hpa = self.hpas.setdefault(name, Hpa())
        up, down = behavior(so)
        desired, errors, values, active = [], [], [], False
        for i, trig in enumerate(spec.get("triggers") or []):
            if trig.get("type") != "prometheus":
                errors.append("trigger %d: type %r is not handled here" % (i, trig.get("type")))
                continue
            try:
                cfg = trigger_config(trig.get("metadata") or {})
                v = query_value(cfg)
            except ScalerError as e:
                errors.append(str(e))
                continue
            values.append(v)
            active = active or v > cfg["activationThreshold"]
            desired.append(metric_replicas(trig.get("metricType") or "AverageValue", v,
                                           cfg["threshold"], current, status_replicas,
                                           status_replicas))
        info = {"values": values, "errors": errors, "current": current,
                "threshold": [(t.get("metadata") or {}).get("threshold")
                              for t in spec.get("triggers") or []]}
        self.failures[name] = self.failures.get(name, 0) + 1 if errors else 0
        trig0 = (spec.get("triggers") or [{}])[0]
        fb = fallback_replicas(spec.get("fallback"), trig0.get("metricType"),
                               self.failures[name], current) if errors else None
        if fb is not None:
            try:
                thr = parse_float((trig0.get("metadata") or {}).get("threshold"), "threshold",
                                  True)
            except ScalerError:
                fb = None
        if fb is not None:
            # the metric KEDA reports instead: threshold x replicas, through the HPA
            v = thr * fb
            desired = [metric_replicas("AverageValue", v, thr, current, status_replicas,
                                       status_replicas)]
            info.update(fallback=fb, values=[v])
            errors_for_hpa = []
        else:
            errors_for_hpa = errors
        if current == 0:
            pass  # the HPA does nothing for a target scaled to zero
        elif desired and not errors_for_hpa:
            want = max(desired)
            stab = hpa.stabilize(now, want, current, up, down)
            new = hpa.limit(now, stab, current, lo, hi, up, down)
            new = min(max(new, lo), hi)
            info.update(desired=want, stabilized=stab, replicas=new)
            if new != current:
                code, _ = self.api.req(
                    "PATCH", scale_path + "?fieldManager=kube-controller-manager",
                    {"spec": {"replicas": new}}, ctype="application/merge-patch+json")
                if code == 200:
                    hpa.record(now, new - current)
                    self.scalings.append(dict(info, name=name, time=now))
                    self.log("# scaler: %s %d -> %d (metric %s, threshold %s)" % (
                        ref["name"], current, new, values, info["threshold"]))
        # else: the metric is missing, so the HPA keeps the replicas (no fallback)
        self.last[name] = info
        self._status(so, errors, active, info, fb is not None)

    def _status(self, so, errors, active, info, falling_back=False):
        name = so["metadata"]["name"]
        old = so.get("status") or {}
        oldc = {c["type"]: c for c in old.get("conditions") or []}
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        def cond(t, status, reason, msg):
            c = {"type": t, "status": status, "reason": reason, "message": msg}
            p = oldc.get(t)
            c["lastTransitionTime"] = p.get("lastTransitionTime", ts) \
                if p and p.get("status") == status else ts
            return c
        if errors:
            ready = cond("Ready", "False", "TriggerError",
                         "Triggers defined in ScaledObject are not working correctly")
        else:
            ready = cond("Ready", "True", "ScaledObjectReady",
                         "ScaledObject is defined correctly and is ready for scaling")
        act = cond("Active", "True", "ScalerActive",
                   "Scaling is performed because triggers are active") if active else \
            cond("Active", "False", "ScalerNotActive",
                 "Scaling is not performed because triggers are not active")
        fb = cond("Fallback", "True", "FallbackExists",
                  "At least one trigger is falling back on this scaled object") \
            if falling_back else cond("Fallback", "False", "NoFallbackFound",
                                      "No fallbacks are active on this scaled object")
        st = {"conditions": [ready, act, fb], "hpaName": "keda-hpa-" + name,
              "externalMetricNames": ["s%d-prometheus" % i for i in
                                      range(len((so.get("spec") or {}).get("triggers") or []))],
              "scaleTargetKind": "apps/v1.Deployment"}
        if old.get("conditions") != st["conditions"] or old.get("hpaName") != st["hpaName"]:
            self.api.req("PATCH", "/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects/%s/status"
                         % (self.ns, name), {"status": st}, ctype="application/merge-patch+json")
        msg = "; ".join(errors)
        if errors and self.last_err.get(name) != msg:  # KEDA: an event per failure;
            self._event(so, "KEDAScalerFailed", msg)   # here once per distinct error
        self.last_err[name] = msg
        self._hpa(so, info)

    def _event(self, so, reason, msg):
        md = so["metadata"]
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"generateName": md["name"] + ".", "namespace": self.ns},
              "involvedObject": {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
                                 "name": md["name"], "namespace": self.ns,
                                 "uid": md.get("uid", "")},
              "type": "Warning", "reason": reason, "message": msg,
              "source": {"component": "keda-operator"}, "count": 1,
              "firstTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.api.req("POST", "/api/v1/namespaces/%s/events" % self.ns, ev)

    def _hpa(self, so, info):
        """keda-hpa-<name> with the HPA's status, as the controller reads desiredReplicas."""
        name = "keda-hpa-" + so["metadata"]["name"]
        path = "/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers" % self.ns
        spec = so.get("spec") or {}
        body = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": name, "namespace": self.ns,
                             "ownerReferences": [{"apiVersion": "keda.sh/v1alpha1",
                                                  "kind": "ScaledObject",
                                                  "name": so["metadata"]["name"],
                                                  "uid": so["metadata"].get("uid", ""),
                                                  "controller": True}]},
                "spec": {"scaleTargetRef": dict(spec.get("scaleTargetRef") or {},
                                                apiVersion="apps/v1", kind="Deployment"),
                         "minReplicas": max(spec.get("minReplicaCount", 0), 1),
                         "maxReplicas": spec.get("maxReplicaCount", 100)}}
        cur = self.api.get(path + "/" + name)
        if cur is None:
            self.api.req("POST", path, body)
            cur = self.api.get(path + "/" + name)
        if cur is None:
            return
        st = {"currentReplicas": info["current"],
              "desiredReplicas": info.get("replicas", info["current"])}
        if (cur.get("status") or {}) != st:
            self.api.req("PATCH", path + "/" + name + "/status", {"status": st},
                         ctype="application/merge-patch+json")
