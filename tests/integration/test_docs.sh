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
tap_done
