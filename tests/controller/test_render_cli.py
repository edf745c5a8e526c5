#!/usr/bin/env python3
"""`tempo-compactor-controller render -f` over the golden cases, checked with
an independent YAML parser (PyYAML): output equals expected.yaml, every KEDA
trigger metadata value is a string, customHeaders re-parsed with KEDA's rule
(split on ',', then '=', trim) give back the CR's map, children carry none of
the CR's labels/annotations, and invalid CRs exit 1 naming the field."""
import os
import subprocess
import sys

import yaml

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import CONTROLLER as BIN, Tap  # noqa: E402

GOLDEN = os.path.join(TOP, "tests", "golden", "render")


def keda_map(s):
    out = {}
    for item in s.split(","):
        kv = item.strip().split("=")
        if len(kv) != 2:
            raise ValueError("expected format key=value, got %r" % item)
        out[kv[0].strip()] = kv[1].strip()
    return out


def check_case(name):
    d = os.path.join(GOLDEN, name)
    with open(os.path.join(d, "cr.yaml")) as f:
        cr = yaml.safe_load(f)
    p = subprocess.run([BIN, "render", "-f", os.path.join(d, "cr.yaml")],
                       capture_output=True, text=True, timeout=30)
    err_path = os.path.join(d, "expected-error.txt")
    if os.path.exists(err_path):
        want = open(err_path).read().strip()
        assert p.returncode == 1, "invalid CR exited %d" % p.returncode
        assert p.stdout == "", "invalid CR printed manifests"
        assert want in p.stderr, "stderr %r lacks %r" % (p.stderr, want)
        field = want.split(":")[0]
        assert "." in field or field in ("kind", "apiVersion"), "error does not name a field"
        return
    assert p.returncode == 0, p.stderr
    assert p.stdout == open(os.path.join(d, "expected.yaml")).read(), "stdout != expected.yaml"
    docs = list(yaml.safe_load_all(p.stdout))
    kinds = [m["kind"] for m in docs]
    assert kinds[:3] == ["ConfigMap", "Service", "Deployment"], kinds
    crmeta = cr.get("metadata", {})
    asp = cr["spec"].get("autoscaling", {})
    # mode builtin: the controller runs the trigger itself, no ScaledObject is rendered
    autoscaling = asp.get("enabled", False) and asp.get("mode", "keda") == "keda"
    for m in docs:
        labels = m["metadata"].get("labels", {})
        for k in crmeta.get("labels", {}):
            if k.startswith("argocd.argoproj.io/"):
                assert k not in labels, "%s copied to %s" % (k, m["kind"])
        if crmeta.get("labels", {}).get("app.kubernetes.io/instance"):
            assert labels["app.kubernetes.io/instance"] == crmeta["name"]
        assert "annotations" not in m["metadata"], "annotations on " + m["kind"]
        if m["kind"] == "Deployment":
            # the /scale owns replicas while autoscaling, in either mode
            assert ("replicas" in m["spec"]) == (not asp.get("enabled", False)), \
                "replicas vs autoscaling"
            ctr = m["spec"]["template"]["spec"]["containers"][0]
            sc = ctr["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert len(m["spec"]["template"]["metadata"]["annotations"]["checksum/config"]) == 64
        if m["kind"] == "ConfigMap":
            tempo = yaml.safe_load(m["data"]["tempo.yaml"])
            assert tempo["server"]["http_listen_port"] == 3200
            assert tempo["storage"]["trace"]["backend"] == cr["spec"]["storage"]["backend"]
            peers = tempo["compactor"]["ring"]["peers"]
            assert peers == ["dns+tempo-%s-compactor.%s.svc.cluster.local:3200" %
                             (crmeta["name"], crmeta.get("namespace", "default"))], peers
            assert "block_retention" in tempo["compactor"]["compaction"]
        if m["kind"] == "ScaledObject":
            assert autoscaling
            trig = m["spec"]["triggers"]
            assert len(trig) >= 1, "empty triggers"
            for t in trig:
                for k, v in t["metadata"].items():
                    assert isinstance(v, str), "metadata %s is %r" % (k, type(v))
                float(t["metadata"]["threshold"])
                want = cr["spec"]["autoscaling"]["prometheus"].get("customHeaders") or {}
                got = keda_map(t["metadata"]["customHeaders"]) if "customHeaders" in t["metadata"] else {}
                assert got == want, "KEDA re-parse %r != CR %r" % (got, want)
                q = cr["spec"]["autoscaling"]["prometheus"].get("query")
                if q is not None:
                    assert t["metadata"]["query"] == q, "query changed"
    assert ("ScaledObject" in kinds) == autoscaling


def main():
    t = Tap()
    cases = sorted(os.listdir(GOLDEN))
    if not os.access(BIN, os.X_OK):
        for c in cases + ["multi_doc"]:
            t.skip(c, "%s not built" % BIN)
        t.done()
    for c in cases:
        t.run(c, lambda c=c: check_case(c))
    # A multi-document file renders every TempoCompactor and skips other kinds.
    src = "".join(open(os.path.join(GOLDEN, c, "cr.yaml")).read() + "---\n"
                  for c in ("01-minimal-s3", "03-autoscaling-default-query"))
    src += "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
    p = subprocess.run([BIN, "render", "-f", "-"], input=src, capture_output=True, text=True)
    docs = list(yaml.safe_load_all(p.stdout)) if p.returncode == 0 else []
    t.ok(p.returncode == 0 and sum(1 for m in docs if m["kind"] == "Deployment") == 2,
         "multi_doc", "rc=%d %s" % (p.returncode, p.stderr))
    t.done()


if __name__ == "__main__":
    main()
