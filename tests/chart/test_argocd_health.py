#!/usr/bin/env python3
"""The Argo CD Lua health check of TempoCompactor, run by the real lua5.1 interpreter.

Reads charts/tempo-compactor/argocd/health_test.yaml (Argo CD's resource_customizations
test format), turns each input object into a Lua table assigned to the global `obj`
(as Argo CD does), runs health.lua and compares status and message.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import Tap  # noqa: E402

DIR = os.path.join(TOP, "charts", "tempo-compactor", "argocd")
LUA = shutil.which("lua5.1")


def lua_value(v):
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        out = []
        for ch in v.encode("utf-8"):
            c = chr(ch)
            out.append(c if 32 <= ch < 127 and c not in "\"\\" else "\\%d" % ch)
        return '"' + "".join(out) + '"'
    if isinstance(v, list):
        return "{" + ", ".join(lua_value(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join("[%s] = %s" % (lua_value(str(k)), lua_value(x))
                               for k, x in v.items()) + "}"
    # YAML timestamps and the like reach Lua as strings, as in Argo CD (JSON)
    return lua_value(str(v))


def run_health(obj, tmp):
    """Run health.lua on obj with lua5.1; returns (status, message)."""
    harness = os.path.join(tmp, "run.lua")
    with open(harness, "w") as f:
        f.write("obj = %s\n" % lua_value(obj))
        f.write("local check = assert(loadfile(%s))\n" % lua_value(os.path.join(DIR, "health.lua")))
        f.write("local hs = check()\n")
        f.write("io.write(tostring(hs.status), '\\n', tostring(hs.message), '\\n')\n")
    p = subprocess.run([LUA, harness], capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        raise AssertionError("lua5.1 failed: " + p.stderr.strip())
    status, message = p.stdout.split("\n", 1)
    return status, message.rstrip("\n")


def main():
    t = Tap()
    cases = yaml.safe_load(open(os.path.join(DIR, "health_test.yaml")))["tests"]
    if LUA is None:
        t.skip_all("lua health check", "lua5.1 not installed (hack/install-deps.sh installs it)")
    seen = set()
    with tempfile.TemporaryDirectory() as tmp:
        for c in cases:
            want = c["healthStatus"]
            seen.add(want["status"])
            obj = yaml.safe_load(open(os.path.join(DIR, c["inputPath"]), "rb"))
            # Argo CD hands the script the JSON form of the object: timestamps are strings
            name = "%s -> %s" % (c["inputPath"], want["status"])
            try:
                got = run_health(obj, tmp)
            except AssertionError as e:
                t.ok(False, name, str(e))
                continue
            t.ok(got == (want["status"], want["message"]), name,
                 "want %r, got %r" % ((want["status"], want["message"]), got))
    t.ok({"Healthy", "Progressing", "Degraded"} <= seen,
         "fixtures cover Healthy, Progressing and Degraded", "seen: %s" % sorted(seen))
    t.done()


if __name__ == "__main__":
    main()
