#!/usr/bin/env bash
# README's config reference is generated from the config table and current.
. "$(dirname "$0")/../lib.sh"
if out=$(TC_BUILD="$BUILD" bash "$TOP/hack/gen-docs.sh" --check 2>&1); then
    tap_ok "README config reference matches the config table"
else
    tap_fail "README config reference matches the config table" "$out"
fi
n=$("$BUILD/bin/tempo-compactor" config-reference | grep -c '^| `')
[ "$n" -gt 60 ] && tap_ok "config reference lists every key ($n)" || tap_fail "config reference lists every key" "$n"
# A damaged README (a bad edit once repeated a table between every character)
# must fail here, not ship: sane size and line lengths, each section once,
# and the two commands that README promises.
readme="$TOP/README.md"
size=$(wc -c <"$readme")
longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$readme")
if [ "$size" -lt 100000 ] && [ "$longest" -le 300 ]; then
    tap_ok "README is intact ($size bytes, longest line $longest)"
else
    tap_fail "README is intact" "size $size bytes, longest line $longest"
fi
for h in "## Two commands" "## Benchmarks" "## Layout and architecture" "**Controller** (" "**Parquet** ("; do
    c=$(grep -cF -- "$h" "$readme")
    [ "$c" -eq 1 ] && tap_ok "README has \"$h\" once" || tap_fail "README has \"$h\" once" "found $c"
done
grep -qE '^bash hack/run.sh +#' "$readme" && grep -qE '^bash hack/test.sh +#' "$readme" &&
    tap_ok "README gives the two commands" || tap_fail "README gives the two commands"
for h in "## Limits" "## Running beside Tempo"; do
    c=$(grep -cxF -- "$h" "$readme")
    [ "$c" -eq 1 ] && tap_ok "README has \"$h\" once" || tap_fail "README has \"$h\" once" "found $c"
done
# Limits come before the first commands, where a new reader looks.
[ "$(grep -nxF '## Limits' "$readme" | cut -d: -f1)" -lt "$(grep -nxF '## Two commands' "$readme" | cut -d: -f1)" ] &&
    tap_ok "README's Limits come first" || tap_fail "README's Limits come first"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# block NAME: the yaml block after "<!-- test_docs: NAME -->" in README
block() {
    awk -v m="<!-- test_docs: $1 -->" '$0 == m {f = 1; next} f && /^```yaml/ {g = 1; next} g && /^```/ {exit} g' "$readme"
}
block s3-example >"$tmp/tempo.yaml"
if [ ! -s "$tmp/tempo.yaml" ]; then
    tap_fail "README's worked S3 example is there"
elif out=$(env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=example     "$BUILD/bin/tempo-compactor" verify-config -config.file="$tmp/tempo.yaml" -config.expand-env 2>&1); then
    tap_ok "README's worked S3 example passes verify-config"
else
    tap_fail "README's worked S3 example passes verify-config" "$out"
fi
grep -qxF 'helm install tempo-compactor charts/tempo-compactor -f my-values.yaml' "$readme" &&
    tap_ok "README gives the one-line helm install" || tap_fail "README gives the one-line helm install"
block helm-values >"$tmp/values.yaml"
helm=$TOP/.tools/bin/helm
if [ ! -x "$helm" ]; then
    tap_skip "README's minimal chart values render" "no helm in .tools"
elif [ -s "$tmp/values.yaml" ] && out=$("$helm" template tempo-compactor "$TOP/charts/tempo-compactor"     -f "$tmp/values.yaml" 2>&1) && printf '%s\n' "$out" | grep -q '^kind: TempoCompactor'; then
    tap_ok "README's minimal chart values render with helm template"
else
    tap_fail "README's minimal chart values render with helm template" "$out"
fi
tap_done
