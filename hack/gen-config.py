#!/usr/bin/env python3
"""hack/gen-config.py - write the compactor's config table into the CRD and the chart.

Two lists decide, and nothing else:
  - the daemon's key table: type, default, range and meaning of every tempo.yaml key
    (`tempo-compactor config-schema`, compactor/daemon_config.c and the module tables it includes);
  - the controller's list of spec fields that set those keys, with the few defaults the CRD
    changes on purpose (`tempo-compactor-controller config-fields`, render_fields in
    controller/render.c). render.c checks a CR against the same table at run time.

Written from them, for every listed field spec.<section>.<name> and its key:
  crds/tempocompactor.yaml and the chart's copy (charts/tempo-compactor/crds/): the field's
    property: type, description, default, minimum/maximum, for durations the pattern and a
    CEL rule with the key's range;
  charts/tempo-compactor/values.yaml: the "# --" line and the default of the chart value
    (storage.trace.<key> for blocklist, compactor.config.compaction.<key> for compaction);
  charts/tempo-compactor/values.schema.json: that value's type and range.
Everything else in those files is hand-written and left alone.

usage: hack/gen-config.py [--check] [--root DIR]
  --check  write nothing; print what differs and exit 1 when a file is out of date
  --root   the tree to write or check (default: this repository). The two binaries come
           from $TC_BUILD/bin (default build/bin of this repository).
"""

import argparse
import difflib
import json
import os
import re
import subprocess
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CRD = "crds/tempocompactor.yaml"
CHART_CRD = "charts/tempo-compactor/crds/tempocompactor.yaml"
VALUES = "charts/tempo-compactor/values.yaml"
SCHEMA = "charts/tempo-compactor/values.schema.json"
DUR_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
WIDTH = 100
INT32_MAX = 2**31 - 1
# Where each spec section's keys sit in values.yaml (the chart template maps them).
VALUES_PARENT = {"blocklist": ["storage", "trace"], "compaction": ["compactor", "config", "compaction"]}
# A generated CEL rule's message; tests/chart/test_crd.py recognizes them by it.
RULE_MESSAGE = "%s.%s must be within [%s, %s], the range of %s"


def run_json(binary, arg):
    build = os.environ.get("TC_BUILD", os.path.join(TOP, "build"))
    if not os.path.isabs(build):
        build = os.path.join(TOP, build)
    path = os.path.join(build, "bin", binary)
    p = subprocess.run([path, arg], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        sys.exit("gen-config: %s %s failed: %s" % (path, arg, p.stderr.strip()))
    return json.loads(p.stdout)


def fields():
    """The controller's fields joined with their keys: [dict]."""
    keys = {k["key"]: k for k in run_json("tempo-compactor", "config-schema")}
    out = []
    for f in run_json("tempo-compactor-controller", "config-fields"):
        k = keys.get(f["key"])
        if k is None:
            sys.exit("gen-config: spec.%s.%s sets %s, which the compactor does not have"
                     % (f["section"], f["name"], f["key"]))
        if f["deploy_default"] is not None and k["type"] == "duration":
            f["deploy_default"] = short_duration(f["deploy_default"])
        elif f["deploy_default"] is not None and k["type"] in ("int", "bytes"):
            f["deploy_default"] = int(f["deploy_default"])
        f.update(type=k["type"], tempo_default=k["default"], min=k.get("min"), max=k.get("max"),
                 doc=k["doc"], zero_is_default=k["zero_is_default"])
        f["default"] = f["deploy_default"] if f["deploy_default"] is not None else k["default"]
        out.append(f)
    return out


def short_duration(s):
    """Go duration text -> the table's short form ("48h0m0s" -> "48h")."""
    units = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}
    ms = 0.0
    for num, unit in re.findall(r"([0-9.]+)(ns|us|µs|ms|s|m|h)", s):
        ms += float(num) * units[unit]
    ms = int(round(ms))
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in (("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out += "%d%s" % (ms // size, unit)
            ms %= size
    return out


def scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def meaning(f):
    """The field's meaning: the table's doc line, plus Tempo's zero rule."""
    return f["doc"] + (" 0 means the default." if f["zero_is_default"] else "")


def crd_description(f):
    text = "%s Sets %s in tempo.yaml" % (meaning(f), f["key"])
    if f["deploy_default"] is not None:
        text += "; the default %s is %s (Tempo's is %s)." % (
            scalar(f["default"]), f["why"], scalar(f["tempo_default"]))
    elif f["always"]:
        text += " (default %s)." % scalar(f["default"])
    else:
        text += "; unset leaves the compactor's default, %s." % scalar(f["tempo_default"])
    return text


def wrap(text, width):
    lines, cur = [], ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = word if not cur else cur + " " + word
    return lines + ([cur] if cur else [])


def crd_property(f, indent):
    """The property block of one field, as lines."""
    p = " " * indent
    q = p + "  "
    typ = {"duration": "string", "int": "integer", "bytes": "integer", "bool": "boolean"}[f["type"]]
    out = ["%s%s:" % (p, f["name"]), "%stype: %s" % (q, typ)]
    if typ == "integer" and f["max"] is not None and f["max"] > INT32_MAX:
        out.append("%sformat: int64" % q)
    out.append("%sdescription: >-" % q)
    out += ["%s  %s" % (q, line) for line in wrap(crd_description(f), WIDTH - len(q) - 2)]
    if f["always"]:
        out.append("%sdefault: %s" % (q, scalar(f["default"])))
    if typ == "integer" and f["min"] is not None:
        out += ["%sminimum: %d" % (q, f["min"]), "%smaximum: %d" % (q, f["max"])]
    if f["type"] == "duration":
        out.append("%spattern: '%s'" % (q, DUR_PATTERN))
        if f["min"] is not None:
            conds = []
            if f["min"] != "0s":
                conds.append("duration(self) >= duration('%s')" % f["min"])
            conds.append("duration(self) <= duration('%s')" % f["max"])
            msg = RULE_MESSAGE % (f["section"], f["name"], f["min"], f["max"], f["key"])
            out += ["%sx-kubernetes-validations:" % q,
                    '%s- rule: "%s"' % (q, " && ".join(conds)),
                    '%s  message: "%s"' % (q, msg)]
    return out


# ------------------------------------------------------------ indentation-based YAML editing

def indent_of(line):
    return len(line) - len(line.lstrip(" "))


def content(line):
    s = line.strip()
    return s != "" and not s.startswith("#")


def block_end(lines, i):
    """First line after line i's block (its deeper-indented children)."""
    n = indent_of(lines[i])
    j = i + 1
    while j < len(lines) and (not content(lines[j]) or indent_of(lines[j]) > n):
        j += 1
    return j


def child(lines, i, key, path):
    """The line of mapping key `key` directly under line i."""
    end, want = block_end(lines, i), None
    for j in range(i + 1, end):
        if not content(lines[j]):
            continue
        want = indent_of(lines[j]) if want is None else want
        if indent_of(lines[j]) == want and re.match(r"^\s*%s:(\s|$)" % re.escape(key), lines[j]):
            return j
    sys.exit("gen-config: %s: no %s" % (path, key))


def find(lines, keys, path):
    i = next((j for j, line in enumerate(lines) if re.match(r"^%s:" % re.escape(keys[0]), line)),
             None)
    if i is None:
        sys.exit("gen-config: %s: no %s" % (path, keys[0]))
    for k in keys[1:]:
        i = child(lines, i, k, path)
    return i


def gen_crd(text, flds):
    lines = text.split("\n")
    base = None
    for j, line in enumerate(lines):
        if line.strip() == "openAPIV3Schema:":
            base = j
    if base is None:
        sys.exit("gen-config: %s: no openAPIV3Schema" % CRD)
    for f in flds:
        i = base
        for k in ("properties", "spec", "properties", f["section"], "properties"):
            i = child(lines, i, k, CRD)
        props, end = i, block_end(lines, i)
        at = None
        for j in range(props + 1, end):
            if content(lines[j]) and re.match(r"^\s*%s:$" % re.escape(f["name"]), lines[j]) \
                    and indent_of(lines[j]) == indent_of(lines[props]) + 2:
                at = j
        if at is None:  # a new field goes last
            lines[end:end] = crd_property(f, indent_of(lines[props]) + 2)
        else:
            lines[at:block_end(lines, at)] = crd_property(f, indent_of(lines[at]))
    return "\n".join(lines)


def values_doc(f):
    text = "%s tempo.yaml: %s" % (meaning(f), f["key"])
    if f["deploy_default"] is not None:
        text += "; %s is %s (Tempo's default is %s)" % (scalar(f["default"]), f["why"],
                                                        scalar(f["tempo_default"]))
    elif not f["always"]:
        text += "; null leaves the compactor's default, %s" % scalar(f["tempo_default"])
    return text


def gen_values(text, flds):
    lines = text.split("\n")
    for f in flds:
        keys = VALUES_PARENT[f["section"]] + [f["key"].rsplit(".", 1)[1]]
        i = find(lines, keys, VALUES)
        p = " " * indent_of(lines[i])
        value = f["default"] if f["always"] else None
        lines[i] = "%s%s: %s" % (p, keys[-1], scalar(value))
        top = i  # the comment block right above the key
        while top > 0 and lines[top - 1].strip().startswith("#") and \
                indent_of(lines[top - 1]) == len(p):
            top -= 1
        doc = wrap(values_doc(f), WIDTH - len(p) - 5)
        lines[top:i] = ["%s# -- %s" % (p, doc[0])] + ["%s# %s" % (p, d) for d in doc[1:]]
    return "\n".join(lines)


def gen_schema(text, flds):
    schema = json.loads(text)
    for f in flds:
        node = schema
        for k in VALUES_PARENT[f["section"]]:
            node = node["properties"][k]
        typ = {"duration": "string", "int": "integer", "bytes": "integer", "bool": "boolean"}[
            f["type"]]
        entry = {"type": typ if f["always"] else [typ, "null"]}
        if f["type"] == "duration":
            entry["pattern"] = DUR_PATTERN
        elif typ == "integer" and f["min"] is not None:
            entry.update(minimum=f["min"], maximum=f["max"])
        node["properties"][f["key"].rsplit(".", 1)[1]] = entry
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--root", default=TOP)
    args = ap.parse_args()
    flds = fields()
    read = lambda rel: open(os.path.join(args.root, rel), encoding="utf-8").read()  # noqa: E731
    crd = gen_crd(read(CRD), flds)
    want = {CRD: crd, CHART_CRD: crd, VALUES: gen_values(read(VALUES), flds),
            SCHEMA: gen_schema(read(SCHEMA), flds)}
    stale = []
    for rel, new in want.items():
        cur = read(rel)
        if cur == new:
            continue
        stale.append(rel)
        if args.check:
            sys.stdout.writelines(difflib.unified_diff(
                cur.splitlines(True), new.splitlines(True), rel, rel + " (generated)", n=1))
        else:
            with open(os.path.join(args.root, rel), "w", encoding="utf-8") as fh:
                fh.write(new)
    if args.check and stale:
        print("gen-config: out of date with the config table: %s (run hack/gen-config.py)"
              % ", ".join(stale))
        return 1
    if not args.check:
        print("gen-config: %s" % ("wrote " + ", ".join(stale) if stale else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
