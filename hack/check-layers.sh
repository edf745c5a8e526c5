#!/usr/bin/env bash
# hack/check-layers.sh - the layering rule of compactor/core, enforced.
#
# compactor/core has one folder per subsystem, in this order (lowest first):
#   base <- parquet <- backend <- tempo <- blocklist <- plan <- compact
# A file may include headers of its own folder and of folders below it, always
# spelled "<folder>/<file>.h". compactor/tools/ may include any core folder;
# nothing in core may include tools/, the daemon or the controller.
#
# usage: hack/check-layers.sh [ROOT]   (ROOT defaults to the repo; tests pass a copy)
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
layers=(base parquet backend tempo blocklist plan compact)
rank() {
    local i
    for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done
    echo -1
}
bad=0 n=0
for dir in compactor/core/*/; do
    layer=$(basename "$dir")
    lr=$(rank "$layer")
    if [ "$lr" -lt 0 ]; then
        echo "check-layers: compactor/core/$layer/ is not a known layer (add it to hack/check-layers.sh)"
        bad=1
        continue
    fi
    for f in "$dir"*.[ch]; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        while IFS=: read -r line inc; do
            inc=${inc#*\"}; inc=${inc%\"*}
            case "$inc" in
            */*) ;;
            *) echo "$f:$line: include \"$inc\" must name its folder (\"<layer>/$inc\")"; bad=1; continue ;;
            esac
            il=$(rank "${inc%%/*}")
            if [ "$il" -lt 0 ]; then
                echo "$f:$line: core includes \"$inc\", which is outside compactor/core"; bad=1
            elif [ "$il" -gt "$lr" ]; then
                echo "$f:$line: $layer (layer $lr) includes \"$inc\" from ${inc%%/*} (layer $il), a layer above it"; bad=1
            elif [ ! -f "compactor/core/$inc" ]; then
                echo "$f:$line: \"$inc\" does not exist"; bad=1
            fi
        done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
    done
done
if compgen -G 'compactor/core/*.[ch]' >/dev/null; then
    echo "check-layers: files directly in compactor/core/ (move them into a layer folder):"
    ls compactor/core/*.[ch]
    bad=1
fi
[ "$bad" -eq 0 ] && echo "check-layers: ok ($n files in ${#layers[@]} layers)"
exit "$bad"
