#!/usr/bin/env python3
"""The CRD, the chart and the controller agree with the compactor's config table.

The table (`tempo-compactor config-schema`) owns every key's default and range; the
controller's list of spec fields (`tempo-compactor-controller config-fields`) says which
spec field sets which key. From them:
  - hack/gen-config.py --check finds the CRD, its chart copy, values.yaml and
    values.schema.json up to date, and fails on a drift planted in a temp copy of each
    (a default, a range, a CEL bound, the chart copy) and on a table whose default moved;
  - the CRD (crdcheck) and the controller (render) accept every field at both ends of its
    key's range and refuse it one step beyond, naming the field;
  - a CR without the fields renders each key with its default, or leaves it to the daemon;
  - helm template carries every chart value into its spec field.
"""

import copy
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import crdcheck  # noqa: E402
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import BUILD, COMPACTOR, CONTROLLER, Tap  # noqa: E402

GEN = os.path.join(TOP, "hack", "gen-config.py")
FILES = ["crds/tempocompactor.yaml", "charts/tempo-compactor/crds/tempocompactor.yaml",
         "charts/tempo-compactor/values.yaml", "charts/tempo-compactor/values.schema.json"]
CHART = os.path.join(TOP, "charts", "tempo-compactor")
CHART_PARENT = {"blocklist": ["storage", "trace"], "compaction": ["compactor", "config", "compaction"]}

t = Tap()
for b in (COMPACTOR, CONTROLLER):
    if not os.access(b, os.X_OK):
        t.ok(False, "%s is built" % b, "run make")
        t.done()
TMP = tempfile.mkdtemp(prefix="cfg-drift-")
SCHEMA = {k["key"]: k for k in json.loads(subprocess.run(
    [COMPACTOR, "config-schema"], capture_output=True, text=True, check=True).stdout)}
FIELDS = json.loads(subprocess.run([CONTROLLER, "config-fields"], capture_output=True, text=True,
                                   check=True).stdout)
CRD = yaml.safe_load(open(os.path.join(TOP, FILES[0])))
CRD_SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def gen(root=TOP, build=None):
    env = dict(os.environ, TC_BUILD=build or BUILD)
    return subprocess.run([sys.executable, GEN, "--check", "--root", root], capture_output=True,
                          text=True, env=env, timeout=120)


def tree():
    """A temp copy of the generated files, as --root."""
    root = tempfile.mkdtemp(dir=TMP)
    for rel in FILES:
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        shutil.copy(os.path.join(TOP, rel), os.path.join(root, rel))
    return root


def plant(rel, old, new):
    """gen-config --check on a copy where rel has old replaced by new (once) must fail."""
    def run():
        root = tree()
        path = os.path.join(root, rel)
        text = open(path, encoding="utf-8").read()
        assert text.count(old) >= 1, "%s: %r not found; the plant is stale" % (rel, old)
        open(path, "w", encoding="utf-8").write(text.replace(old, new, 1))
        p = gen(root)
        assert p.returncode == 1, "drift not found (exit %d): %s" % (p.returncode, p.stdout)
        assert rel in p.stdout.splitlines()[-1], p.stdout[-2000:]
        assert new.strip().splitlines()[-1] in p.stdout, \
            "the diff does not show the planted line: " + p.stdout
    return run


def check_tree_up_to_date():
    p = gen()
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr


def check_table_drift():
    """A table whose default moved (a wrapped config-schema) makes the tree stale."""
    bindir = os.path.join(TMP, "fake", "bin")
    os.makedirs(bindir)
    os.symlink(CONTROLLER, os.path.join(bindir, "tempo-compactor-controller"))
    moved = copy.deepcopy(list(SCHEMA.values()))
    for k in moved:
        if k["key"] == "compactor.compaction.compaction_cycle":
            k["default"] = "31s"
    dump = os.path.join(TMP, "fake", "schema.json")
    json.dump(moved, open(dump, "w"))
    fake = os.path.join(bindir, "tempo-compactor")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\ncat %s\n" % dump)
    os.chmod(fake, os.stat(fake).st_mode | stat.S_IEXEC)
    p = gen(build=os.path.join(TMP, "fake"))
    assert p.returncode == 1, "a moved table default went unnoticed: " + p.stdout
    assert "default: 31s" in p.stdout and "compaction_cycle: 31s" in p.stdout, p.stdout


# ------------------------------------------------------------ ranges: CRD and controller

def key_of(f):
    return SCHEMA[f["key"]]


def step(k, v, d):
    """v moved one step (1 for numbers, 1 s for durations) by d; None below 0."""
    if k["type"] == "duration":
        ms = dur_ms(v) + d * 1000
        return None if ms < 0 else "%ds" % (ms // 1000) if ms % 1000 == 0 else "%dms" % ms
    return None if v + d < 0 else v + d


def dur_ms(s):
    units = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}
    total, num = 0, ""
    i = 0
    while i < len(s):
        if s[i].isdigit():
            num += s[i]
            i += 1
            continue
        u = "ms" if s.startswith("ms", i) else s[i]
        total += int(num) * units[u]
        num = ""
        i += len(u)
    return total


def cr(name, section, field, value):
    spec = {"storage": {"backend": "s3", "s3": {"bucket": "tempo-traces", "endpoint": "minio:9000"}},
            # the one cross-field rule (retention >= poll) never decides a probe
            "blocklist": {"poll": "1m"}, "compaction": {"blockRetention": "876000h"}}
    spec.setdefault(section, {})[field] = value
    return {"apiVersion": "compactor.tempo.dev/v1alpha1", "kind": "TempoCompactor",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def crd_errors(obj):
    obj = copy.deepcopy(obj)
    crdcheck.apply_defaults(CRD_SCHEMA, obj)
    return ["%s: %s" % e for e in crdcheck.validate(CRD_SCHEMA, obj)]


def render(obj):
    path = os.path.join(TMP, "cr-%s.yaml" % obj["metadata"]["name"])
    yaml.safe_dump(obj, open(path, "w"))
    return subprocess.run([CONTROLLER, "render", "-f", path], capture_output=True, text=True,
                          timeout=30)


def tempo_yaml(p):
    cm = [d for d in yaml.safe_load_all(p.stdout) if d and d["kind"] == "ConfigMap"][0]
    return yaml.safe_load(cm["data"]["tempo.yaml"])


def lookup(d, dotted):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def range_checker(f):
    def run():
        k = key_of(f)
        path = "spec.%s.%s" % (f["section"], f["name"])
        assert "min" in k, "%s has no range in the table" % f["key"]
        for end in ("min", "max"):
            obj = cr("probe", f["section"], f["name"], k[end])
            errs = crd_errors(obj)
            assert not errs, "CRD refuses %s = %r (the table's %s): %s" % (path, k[end], end, errs)
            p = render(obj)
            assert p.returncode == 0, "controller refuses %s = %r (the table's %s): %s" % (
                path, k[end], end, p.stderr)
            got = lookup(tempo_yaml(p), f["key"])
            assert got == k[end], "%s = %r rendered as %s: %r" % (path, k[end], f["key"], got)
        for end, d in (("min", -1), ("max", 1)):
            v = step(k, k[end], d)
            if v is None:
                continue  # 0 is the table's minimum; the CRD's pattern has no negatives
            obj = cr("probe", f["section"], f["name"], v)
            errs = crd_errors(obj)
            assert any(e.startswith(path) for e in errs), \
                "CRD accepts %s = %r, outside the table's range: %s" % (path, v, errs)
            p = render(obj)
            assert p.returncode != 0 and path in p.stderr, \
                "controller accepts %s = %r, outside the table's range: %s" % (path, v, p.stderr)
    return run


def check_defaults_rendered():
    """A CR without the fields: always-fields get their default, the rest stays unset."""
    obj = cr("defaults", "blocklist", "poll", "5m")
    del obj["spec"]["blocklist"], obj["spec"]["compaction"]
    crdcheck.apply_defaults(CRD_SCHEMA, obj)  # as the API server stores it
    for raw in (obj, cr("nodefaults", "blocklist", "poll", "5m")):
        if raw is not obj:
            del raw["spec"]["blocklist"], raw["spec"]["compaction"]  # as render -f sees it
        p = render(raw)
        assert p.returncode == 0, p.stderr
        tempo = tempo_yaml(p)
        for f in FIELDS:
            k = key_of(f)
            want = f["deploy_default"] if f["deploy_default"] is not None else k["default"]
            if isinstance(k["default"], int) and not isinstance(k["default"], bool):
                want = int(want)
            got = lookup(tempo, f["key"])
            if f["always"]:
                assert got == want, "%s: rendered %r, want the default %r" % (f["key"], got, want)
            else:
                assert got is None, "%s: rendered %r for an unset field" % (f["key"], got)


# ------------------------------------------------------------ chart wiring

def check_chart_wiring():
    helm = shutil.which("helm")
    assert helm, "no helm on PATH (tests/run.sh sources .tools/env.sh; run make deps)"
    values, want = {}, {}
    for f in FIELDS:
        k = key_of(f)
        v = (not k["default"]) if k["type"] == "bool" else k["max"]
        node = values
        for part in CHART_PARENT[f["section"]]:
            node = node.setdefault(part, {})
        node[f["key"].rsplit(".", 1)[1]] = v
        want[(f["section"], f["name"])] = v
    vf = os.path.join(TMP, "values.yaml")
    yaml.safe_dump(values, open(vf, "w"))
    env = dict(os.environ, HELM_CACHE_HOME=TMP + "/hc", HELM_CONFIG_HOME=TMP + "/hcfg",
               HELM_DATA_HOME=TMP + "/hd", KUBECONFIG="/dev/null", HOME=TMP)
    p = subprocess.run([helm, "template", "t", CHART, "-f", vf], capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    crs = [d for d in yaml.safe_load_all(p.stdout) if d and d["kind"] == "TempoCompactor"]
    assert len(crs) == 1, "want one TempoCompactor"
    spec = crs[0]["spec"]
    for (section, name), v in want.items():
        got = spec.get(section, {}).get(name)
        assert got == v, "chart value for spec.%s.%s: got %r, want %r" % (section, name, got, v)
    assert not crd_errors(crs[0]), crd_errors(crs[0])


t.run("hack/gen-config.py --check: CRD, chart copy, values.yaml and schema are up to date",
      check_tree_up_to_date)
t.run("a planted CRD default drift fails the check",
      plant(FILES[0], "default: 30s", "default: 31s"))
t.run("a planted CRD range drift fails the check",
      plant(FILES[0], "maximum: 10000\n", "maximum: 9999\n"))
t.run("a planted CEL bound drift fails the check",
      plant(FILES[0], "duration(self) >= duration('1m')", "duration(self) >= duration('2m')"))
t.run("a drift in the chart's CRD copy alone fails the check",
      plant(FILES[1], "default: 48h", "default: 72h"))
t.run("a planted values.yaml default drift fails the check",
      plant(FILES[2], "compaction_window: 1h", "compaction_window: 2h"))
t.run("a planted values.schema.json range drift fails the check",
      plant(FILES[3], '"minimum": 1,\n                  "maximum": 1000\n',
            '"minimum": 1,\n                  "maximum": 100\n'))
t.run("a config table default that moved makes the CRD and chart stale", check_table_drift)
t.ok(len(FIELDS) >= 13, "the controller lists the spec fields that set daemon keys (%d)"
     % len(FIELDS))
for fld in FIELDS:
    if "min" not in key_of(fld):
        continue
    t.run("spec.%s.%s: CRD and controller accept [%s, %s] of %s and refuse beyond"
          % (fld["section"], fld["name"], key_of(fld)["min"], key_of(fld)["max"], fld["key"]),
          range_checker(fld))
t.run("a CR without the fields renders the defaults, or leaves them to the daemon",
      check_defaults_rendered)
t.run("helm template carries every chart value into its spec field", check_chart_wiring)
shutil.rmtree(TMP, ignore_errors=True)
t.done()
