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
tap_done
