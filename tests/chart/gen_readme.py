#!/usr/bin/env python3
"""Generate the values table of charts/tempo-compactor/README.md from values.yaml comments.

A value is documented by a "# -- text" comment (continued by following "# " lines)
right above its key, as helm-docs does. The table sits between the
<!-- values:begin --> and <!-- values:end --> markers of README.md.

usage: gen_readme.py [--check]   (--check: exit 1 if README.md is out of date)
"""

import json
import os
import re
import sys

import yaml

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CHART = os.path.join(TOP, "charts", "tempo-compactor")
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"
KEY = re.compile(r"^(\s*)([A-Za-z0-9_.-]+):(\s|$)")


def documented(values_text):
    """Return [(dotted key, description)] in file order."""
    out, stack, pending = [], [], None
    for line in values_text.splitlines():
        s = line.strip()
        if s.startswith("# --"):
            pending = s[4:].strip()
            continue
        if pending is not None and s.startswith("#") and not s.startswith("# --"):
            pending += " " + s[1:].strip()
            continue
        m = KEY.match(line)
        if m and not s.startswith("-"):
            indent = len(m.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group(2)))
            if pending is not None:
                out.append((".".join(k for _, k in stack), pending))
        if s and not s.startswith("#"):
            pending = None
    return out


def lookup(values, dotted):
    v = values
    for part in dotted.split("."):
        v = v[part]
    return v


def type_name(v):
    return {dict: "object", list: "list", str: "string", bool: "bool", int: "int",
            float: "float", type(None): "string"}[type(v)]


def table():
    text = open(os.path.join(CHART, "values.yaml")).read()
    values = yaml.safe_load(text)
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for key, desc in documented(text):
        v = lookup(values, key)
        default = json.dumps(v, sort_keys=True)
        if len(default) > 80:
            default = "see values.yaml"
        cell = "`%s`" % default.replace("|", "\\|")
        rows.append("| %s | %s | %s | %s |" % (key, type_name(v), cell, desc.replace("|", "\\|")))
    return "\n".join(rows)


def render(readme):
    a, b = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:a] + "\n" + table() + "\n" + readme[b:]


def main():
    path = os.path.join(CHART, "README.md")
    cur = open(path).read()
    new = render(cur)
    if "--check" in sys.argv:
        if new != cur:
            print("charts/tempo-compactor/README.md is out of date: run tests/chart/gen_readme.py")
            return 1
        return 0
    open(path, "w").write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
