#!/usr/bin/env bash
# hack/install-deps.sh: the npm lock file is one `npm ci` accepts (it once
# lacked the other platforms' optional DuckDB bindings, so every install
# printed "npm ci refused the lock file; npm install instead"), and a run
# prints its "ok" line once.
. "$(dirname "$0")/../lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! command -v npm >/dev/null 2>&1; then
    tap_skip "npm ci accepts hack/tools/package-lock.json" "no npm"
else
    cp "$TOP/hack/tools/package.json" "$TOP/hack/tools/package-lock.json" "$tmp/"
    # --dry-run --offline with an empty cache: only the lock and the manifest are compared.
    if out=$(cd "$tmp" && npm ci --dry-run --offline --cache "$tmp/cache" --no-audit --no-fund 2>&1); then
        tap_ok "npm ci accepts hack/tools/package-lock.json (npm $(npm --version))"
    else
        tap_fail "npm ci accepts hack/tools/package-lock.json (npm $(npm --version))" "$out"
    fi
fi
# The lock's root entry pins exactly package.json's dependencies.
if out=$(python3 - "$TOP/hack/tools" <<'PY' 2>&1
import json, sys
d = sys.argv[1]
m = json.load(open(d + "/package.json"))["dependencies"]
lock = json.load(open(d + "/package-lock.json"))
root = lock["packages"][""]["dependencies"]
assert root == m, "lock root %s != package.json %s" % (root, m)
for name, ver in m.items():
    got = lock["packages"].get("node_modules/" + name, {}).get("version")
    assert got == ver, "%s: lock has %s, package.json pins %s" % (name, got, ver)
PY
); then
    tap_ok "the lock file pins package.json's versions"
else
    tap_fail "the lock file pins package.json's versions" "$out"
fi
# --build is the check mode: everything is installed here, so it only checks.
if out=$(bash "$TOP/hack/install-deps.sh" --build 2>&1); then
    n=$(printf '%s\n' "$out" | grep -c 'ok' || true)
    [ "$n" -eq 1 ] && tap_ok "install-deps --build prints one ok line" ||
        tap_fail "install-deps --build prints one ok line" "$out"
else
    tap_fail "install-deps --build succeeds" "$out"
fi
tap_done
