#!/usr/bin/env bash
# hack/gen-docs.sh [--check] - regenerate README's config reference from the
# compactor's config table (`tempo-compactor config-reference`). --check
# exits 1 when README is out of date instead of rewriting it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${TC_BUILD:-$top/build}/bin/tempo-compactor
[[ "$bin" = /* ]] || bin="$top/$bin"
new=$(mktemp)
trap 'rm -f "$new"' EXIT
"$bin" config-reference > "$new.ref"
awk -v ref="$new.ref" '
    /<!-- config-reference:begin -->/ { print; while ((getline l < ref) > 0) print l; skip = 1; next }
    /<!-- config-reference:end -->/ { skip = 0 }
    !skip { print }' "$top/README.md" > "$new"
rm -f "$new.ref"
if [ "${1:-}" = "--check" ]; then
    diff -u "$top/README.md" "$new" && exit 0
    echo "README.md config reference is stale: run hack/gen-docs.sh" >&2
    exit 1
fi
cp "$new" "$top/README.md"
