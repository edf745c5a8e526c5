#!/usr/bin/env bash
# The layering rule of compactor/core (hack/check-layers.sh) holds on the tree
# and fails on planted violations: an upward include, an include outside core,
# an include without its folder, and a file left in compactor/core itself.
. "$(dirname "$0")/../lib.sh"
check="$TOP/hack/check-layers.sh"
if out=$(bash "$check" "$TOP" 2>&1); then tap_ok "the tree passes: $out"; else tap_fail "the tree passes" "$out"; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fresh() {
    rm -rf "$tmp/t" && mkdir -p "$tmp/t/compactor" && cp -r "$TOP/compactor/core" "$tmp/t/compactor/"
}
# plant FILE LINE NAME EXPECTED: add LINE to FILE in a fresh copy; the check
# must fail and its message must contain EXPECTED.
plant() {
    local file=$1 line=$2 name=$3 want=$4 out
    fresh
    printf '%s\n' "$line" >>"$tmp/t/$file"
    if out=$(bash "$check" "$tmp/t" 2>&1); then
        tap_fail "$name is caught" "check passed: $out"
    elif printf '%s' "$out" | grep -qF -- "$want"; then
        tap_ok "$name is caught"
    else
        tap_fail "$name is caught with a message naming it" "$out"
    fi
}
plant compactor/core/base/buf.c '#include "plan/selector.h"' "an upward include (base -> plan)" \
    'base (layer 0) includes "plan/selector.h" from plan (layer 5)'
plant compactor/core/parquet/parquet_write.c '#include "tempo/vp4.h"' "an upward include (parquet -> tempo)" \
    'parquet (layer 1) includes "tempo/vp4.h"'
plant compactor/core/tempo/meta.h '#include "tools/tools.h"' "core including tools/" 'outside compactor/core'
plant compactor/core/plan/ring.c '#include "daemon.h"' "an include without its folder" 'must name its folder'
fresh
echo 'int x;' >"$tmp/t/compactor/core/stray.c"
if out=$(bash "$check" "$tmp/t" 2>&1); then tap_fail "a file directly in compactor/core is caught" "$out"; else
    printf '%s' "$out" | grep -q 'stray.c' && tap_ok "a file directly in compactor/core is caught" ||
        tap_fail "a file directly in compactor/core is caught" "$out"
fi
tap_done
