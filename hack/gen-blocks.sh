#!/usr/bin/env bash
# hack/gen-blocks.sh - write synthetic vParquet4 blocks into a local-backend
# bucket layout (ROOT/<tenant>/<blockID>/{data.parquet,bloom-N,index,meta.json}),
# e.g. as compaction input.
#
#   bash hack/gen-blocks.sh ROOT [--tenant T] [--blocks N] [--traces N]
#        [--shared N] [--shared-same 0|1] [--start UNIX] [--span SECONDS]
#        [--spans N] [--rg-bytes N] [--seed S] [--level L]
#
# Block i uses seed S+i and covers [start + i*span, start + (i+1)*span), so
# blocks fall into consecutive time windows. --shared N gives every block the
# same N trace IDs (--shared-same 1: identical rows; 0: the same trace split
# into different spans per block), to exercise dedupe and the combiner.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { sed -n '2,14p' "$0"; exit 2; }
root=$1
shift
tenant=single-tenant blocks=2 traces=1000 shared=0 same=0 start=1700000000 span=3600
spans=20 rg=100000000 seed=1 level=0
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "gen-blocks: $1 needs a value"; exit 2; }
    case "$1" in
    --tenant) tenant=$2 ;; --blocks) blocks=$2 ;; --traces) traces=$2 ;;
    --shared) shared=$2 ;; --shared-same) same=$2 ;; --start) start=$2 ;;
    --span) span=$2 ;; --spans) spans=$2 ;; --rg-bytes) rg=$2 ;; --seed) seed=$2 ;;
    --level) level=$2 ;;
    *) echo "gen-blocks: unknown option $1"; exit 2 ;;
    esac
    shift 2
done
bin="$top/build/bin/tempo-compactor"
[ -x "$bin" ] || make -C "$top" -s build/bin/tempo-compactor || exit 1
mkdir -p "$root/$tenant" || exit 1
for ((i = 0; i < blocks; i++)); do
    tmp="$root/$tenant/.gen.$$.$i"
    out=$("$bin" parquet gen "$tmp" --tenant "$tenant" --traces "$traces" --seed $((seed + i)) \
        --shared "$shared" --shared-same "$same" --shared-start "$start" \
        --start $((start + i * span)) --span "$span" \
        --spans "$spans" --rg-bytes "$rg" --level "$level") || { rm -rf "$tmp"; exit 1; }
    id=$(printf '%s\n' "$out" | sed -n 's/^block=\([^ ]*\).*/\1/p')
    [ -n "$id" ] || { echo "gen-blocks: no block id in: $out"; exit 1; }
    rm -rf "${root:?}/$tenant/$id"
    mv "$tmp" "$root/$tenant/$id" || exit 1
    echo "$tenant/$id $out"
done
