#!/usr/bin/env python3
"""The TempoCompactor CRD: structure, descriptions, defaults, examples and CEL rules.

Every crds/examples/*.yaml must pass the schema and the CEL rules (crdcheck.py,
an independent checker), and also the controller's own validation
(`tempo-compactor-controller render -f`). Every tests/chart/invalid/*.yaml must
fail with the message named in its "# expect:" line; together they exercise
every CEL rule of the CRD.
"""

import copy
import glob
import os
import re
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import crdcheck  # noqa: E402
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import CONTROLLER, Tap  # noqa: E402

CRD_PATH = os.path.join(TOP, "crds", "tempocompactor.yaml")
CHART_CRD = os.path.join(TOP, "charts", "tempo-compactor", "crds", "tempocompactor.yaml")
EXAMPLES = sorted(glob.glob(os.path.join(TOP, "crds", "examples", "*.yaml")))
INVALID = sorted(glob.glob(os.path.join(HERE, "invalid", "*.yaml")))
GENERATED_RULE = re.compile(r" must be within \[[^]]*\], the range of [a-z_.]+$")

t = Tap()
crd = yaml.safe_load(open(CRD_PATH))
version = crd["spec"]["versions"][0]
schema = version["schema"]["openAPIV3Schema"]


def header(path, key):
    for line in open(path):
        if line.startswith("# %s:" % key):
            return line.split(":", 1)[1].strip()
    return None


def check_identity():
    spec = crd["spec"]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1", crd["apiVersion"]
    assert crd["metadata"]["name"] == "tempocompactors.compactor.tempo.dev"
    assert spec["group"] == "compactor.tempo.dev" and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "TempoCompactor"
    assert spec["names"]["plural"] == "tempocompactors"
    assert [v["name"] for v in spec["versions"]] == ["v1alpha1"]
    assert version["served"] is True and version["storage"] is True


def check_subresources():
    sub = version["subresources"]
    assert sub["status"] == {}, sub
    assert sub["scale"] == {"specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector"}, sub["scale"]
    st = schema["properties"]["status"]["properties"]
    assert st["selector"]["type"] == "string", "scale needs a string selector"
    assert st["replicas"]["type"] == "integer"
    assert schema["properties"]["spec"]["properties"]["replicas"]["type"] == "integer"


def check_columns():
    cols = version["additionalPrinterColumns"]
    names = [c["name"] for c in cols]
    want = ["Replicas", "Ready", "Outstanding", "Autoscaling", "Status", "Age"]
    assert names == want, names
    for c in cols:
        jp = c["jsonPath"]
        if jp.startswith(".metadata"):
            continue
        # .status.conditions[?(@.type=="Ready")].status -> status.conditions[].status
        path = jp.lstrip(".").replace('[?(@.type=="Ready")]', "[]")
        node = schema
        for part in path.split("."):
            arr = part.endswith("[]")
            node = node["properties"][part[:-2] if arr else part]
            if arr:
                node = node["items"]
        kind = {"integer": "integer", "boolean": "boolean", "string": "string"}[c["type"]]
        assert node["type"] == kind, "%s: column %s vs schema %s" % (jp, c["type"], node["type"])


def check_descriptions():
    missing = [p for p, s in crdcheck.walk_properties(schema)
               if p != "metadata" and not (s.get("description") or "").strip()]
    assert not missing, "no description: " + ", ".join(missing)


def check_structural():
    bad = []

    def walk(s, path):
        if not (s.get("type") or s.get("x-kubernetes-int-or-string")
                or s.get("x-kubernetes-preserve-unknown-fields")):
            bad.append(path + ": no type")
        if s.get("additionalProperties") is False:
            bad.append(path + ": additionalProperties false")
        if "properties" in s and "additionalProperties" in s:
            bad.append(path + ": properties and additionalProperties")
        if "$ref" in s or s.get("uniqueItems"):
            bad.append(path + ": $ref/uniqueItems")
        for k, sub in (s.get("properties") or {}).items():
            walk(sub, path + "." + k)
        for k in ("items", "additionalProperties"):
            if isinstance(s.get(k), dict):
                walk(s[k], path + "." + k)
        for sub in s.get("anyOf", []):
            if set(sub) - {"type"}:
                bad.append(path + ": anyOf branch with more than a type")
    walk(schema, "")
    assert not bad, "\n".join(bad)


def check_defaults():
    errs = []
    for path, s in crdcheck.walk_properties(schema):
        if "default" in s:
            val = crdcheck.apply_defaults(s, copy.deepcopy(s["default"]))
            errs += ["%s: %s %s" % (path, p, m) for p, m in crdcheck.validate(s, val, cel=False)]
    assert not errs, "\n".join(errs)
    # Defaults reach nested fields through defaulted parents ({} -> inner defaults).
    obj = {"metadata": {"name": "x"},
           "spec": {"storage": {"backend": "s3", "s3": {"bucket": "bkt", "endpoint": "s3.local"}}}}
    crdcheck.apply_defaults(schema, obj)
    spec = obj["spec"]
    assert spec["compaction"]["blockRetention"] == "48h", spec["compaction"]
    assert spec["blocklist"]["poll"] == "5m"
    assert spec["autoscaling"] == {"enabled": False, "mode": "keda", "minReplicas": 1, "maxReplicas": 3,
                                   "metricType": "AverageValue"}, spec["autoscaling"]
    # our daemon's image, tagged with the project version (hack/build-images.sh)
    version = open(os.path.join(TOP, "VERSION")).read().strip()
    assert spec["image"] == "tempo-compactor:" + version, spec["image"]
    assert spec["compaction"] == {"blockRetention": "48h", "compactedBlockRetention": "1h",
                                  "compactionWindow": "1h", "compactionCycle": "30s",
                                  "maxTimePerTenant": "5m", "maxBlockBytes": 107374182400,
                                  "maxCompactionObjects": 6000000,
                                  "retentionConcurrency": 10}, spec["compaction"]
    assert crdcheck.validate(schema, obj) == []


def check_cel_interpreter():
    ev = crdcheck.cel_eval
    assert ev("self.a <= self.b", {"a": 1, "b": 2}) is True
    assert ev("!self.e || has(self.p)", {"e": True}) is False
    assert ev("!self.e || has(self.p)", {"e": False}) is True
    # commutative errors: the missing key on the left does not matter when the right is true
    assert ev("self.missing == 1 || true", {}) is True
    assert ev("self.all(k, k.matches('^[a-z]+$'))", {"ab": "1", "c": "2"}) is True
    assert ev("self.all(k, k.matches('^[a-z]+$'))", {"ab": "1", "C": "2"}) is False
    assert ev("duration(self.a) >= duration(self.b)", {"a": "1h", "b": "59m59s"}) is True
    assert ev("duration(self.a) >= duration(self.b)", {"a": "1m", "b": "5m"}) is False
    assert ev("self.x.exists(m, m == 'a')", {"x": ["b", "a"]}) is True
    assert ev("self.x.filter(m, m != 'tls').size() <= 1", {"x": ["tls", "a"]}) is True
    assert ev("self.x.filter(m, m != 'tls').size() <= 1", {"x": ["b", "a"]}) is False
    try:
        ev("self.a.unknownFn()", {"a": "x"})
    except crdcheck.CelError:
        pass
    else:
        raise AssertionError("an unsupported function must not pass")


def check_rules_covered():
    # The range rules hack/gen-config.py writes from the config table are probed at both
    # bounds of every field by tests/chart/test_config_drift.py instead of one fixture each.
    msgs = {r.get("message") for _, r in crdcheck.rules(schema)
            if not GENERATED_RULE.search(r.get("message") or "")}
    for _, r in crdcheck.rules(schema):
        crdcheck.cel_parse(r["rule"])  # every rule is inside the checked subset
    expected = set()
    for f in INVALID:
        if header(f, "kind") == "cel":
            expected.add(header(f, "expect").split(": ", 1)[1])
    untested = msgs - expected
    assert not untested, "CEL rules with no invalid/ fixture: %s" % sorted(untested)


def check_chart_copy():
    a = open(CRD_PATH, "rb").read()
    b = open(CHART_CRD, "rb").read()
    assert a == b, "charts/tempo-compactor/crds/tempocompactor.yaml differs from " \
        "crds/tempocompactor.yaml; run: cp crds/tempocompactor.yaml charts/tempo-compactor/crds/"


def example_checker(path):
    def run():
        obj = yaml.safe_load(open(path))
        assert obj["apiVersion"] == "compactor.tempo.dev/v1alpha1", obj["apiVersion"]
        assert obj["kind"] == "TempoCompactor"
        crdcheck.apply_defaults(schema, obj)
        errs = crdcheck.validate(schema, obj)
        assert not errs, "\n".join("%s: %s" % e for e in errs)
    return run


def invalid_checker(path):
    def run():
        want = header(path, "expect")
        assert want, "missing '# expect:' line"
        obj = yaml.safe_load(open(path))
        crdcheck.apply_defaults(schema, obj)
        errs = ["%s: %s" % e for e in crdcheck.validate(schema, obj)]
        assert errs, "accepted, but expected: " + want
        assert any(e.startswith(want) for e in errs), "want %r, got %r" % (want, errs)
    return run


def controller_render(path):
    """The controller must accept every example and render its children."""
    obj = yaml.safe_load(open(path))
    p = subprocess.run([CONTROLLER, "render", "-f", path], capture_output=True, text=True,
                       timeout=30)
    if p.returncode == 0 and "apiVersion" not in p.stdout:
        return None  # placeholder binary without a render subcommand
    assert p.returncode == 0, "render exited %d: %s" % (p.returncode, p.stderr.strip())
    docs = [d for d in yaml.safe_load_all(p.stdout) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert "Deployment" in kinds and "ConfigMap" in kinds, kinds
    if obj["spec"].get("autoscaling", {}).get("enabled"):
        so = [d for d in docs if d["kind"] == "ScaledObject"]
        assert len(so) == 1, kinds
        meta = so[0]["spec"]["triggers"][0]["metadata"]
        prom = obj["spec"]["autoscaling"]["prometheus"]
        assert meta["threshold"] == prom["threshold"], meta
        hdrs = prom.get("customHeaders") or {}
        if hdrs:
            # KEDA's parser: split on ',', then on '='
            got = dict(kv.split("=") for kv in meta["customHeaders"].split(","))
            assert got == hdrs, "%r != %r" % (got, hdrs)
    else:
        assert "ScaledObject" not in kinds, kinds
    return True


t.run("CRD identity: group, kind, plural, one served storage version", check_identity)
t.run("status and scale subresources wired to spec.replicas/status.replicas/status.selector",
      check_subresources)
t.run("printer columns Replicas Ready Outstanding Autoscaling Status Age match the schema",
      check_columns)
t.run("every property has a description", check_descriptions)
t.run("schema is structural", check_structural)
t.run("every default validates; nested defaults applied", check_defaults)
t.run("crdcheck CEL interpreter self-test", check_cel_interpreter)
t.run("every CEL rule parses and has an invalid/ fixture", check_rules_covered)
t.run("chart ships a byte-identical CRD", check_chart_copy)
t.ok(len(EXAMPLES) >= 3, "at least 3 examples in crds/examples (%d)" % len(EXAMPLES))
for f in EXAMPLES:
    t.run("example %s passes schema and CEL" % os.path.basename(f), example_checker(f))
for f in INVALID:
    t.run("invalid/%s rejected: %s" % (os.path.basename(f), header(f, "expect")),
          invalid_checker(f))
for f in EXAMPLES:
    name = "controller accepts example %s" % os.path.basename(f)
    if not os.access(CONTROLLER, os.X_OK):
        t.skip(name, "no %s (run make)" % CONTROLLER)
        continue
    try:
        r = controller_render(f)
    except AssertionError as e:
        t.ok(False, name, str(e))
        continue
    if r is None:
        t.skip(name, "controller has no render subcommand yet")
    else:
        t.ok(True, name)
for f in INVALID:
    name = "controller rejects invalid/%s naming the field" % os.path.basename(f)
    if not os.access(CONTROLLER, os.X_OK):
        t.skip(name, "no %s (run make)" % CONTROLLER)
        continue
    p = subprocess.run([CONTROLLER, "render", "-f", f], capture_output=True, text=True, timeout=30)
    if p.returncode == 0 and "apiVersion" not in p.stdout:
        t.skip(name, "controller has no render subcommand yet")
        continue
    field = header(f, "expect").split(": ", 1)[0].replace("<root>", "metadata.name")
    t.ok(p.returncode != 0 and field in p.stderr, name,
         "exit %d, stderr: %s" % (p.returncode, p.stderr.strip()))
t.done()
