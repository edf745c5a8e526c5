#!/usr/bin/env bash
# hack/gen-demo-bucket.sh DIR - the embedded demo bucket for `make run`.
#
# Two tenants (tenant-0, tenant-1) of real vParquet4 blocks written by our
# block writer, ending in the last hours, so the compactor has real jobs:
# in each of five 1h windows 4 or 8 level-0 blocks whose trace IDs overlap
# (some rows identical, some the same trace with other spans), which compact
# to level 1 and, where a window holds 8, on to level 2. Plus tenant "demo":
# 4 blocks dated 2023 (past the 14-day retention), which the first retention
# pass marks compacted, as Tempo would.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: gen-demo-bucket.sh DIR}
bin=${TC_BUILD:-build}/bin/tempo-compactor
case $bin in /*) ;; *) bin=$top/$bin ;; esac
mkdir -p "$dir"
n=0
# block TENANT START SPAN SEED SHARED_SEED SAME: one block, meta.json moved last
block() {
    local tenant=$1 start=$2 span=$3 seed=$4 sseed=$5 same=$6 tmp id f
    n=$((n + 1))
    tmp="$dir/.gen-$n"
    rm -rf "$tmp"
    "$bin" parquet gen "$tmp" --tenant "$tenant" --traces 300 --spans 8 --seed "$seed" \
        --start "$start" --span "$span" --shared 100 --shared-seed "$sseed" \
        --shared-same "$same" --shared-start "$start" >/dev/null
    id=$(sed -n 's/.*"blockID":"\([^"]*\)".*/\1/p' "$tmp/meta.json")
    mkdir -p "$dir/$tenant/$id"
    for f in "$tmp"/*; do
        [ "$(basename "$f")" = meta.json ] || mv "$f" "$dir/$tenant/$id/"
    done
    mv "$tmp/meta.json" "$dir/$tenant/$id/meta.json"
    rmdir "$tmp"
}
now=$(date +%s)
for t in 0 1; do
    for h in 2 3 4 5 6; do
        # traces start 10-30 minutes into the hour h hours ago: one window
        start=$(((now / 3600 - h) * 3600 + 600))
        per=4
        [ "$h" -le 3 ] && per=8
        for b in $(seq 1 "$per"); do
            # half the blocks repeat the shared traces byte for byte, the
            # other half hold other spans of them
            block "tenant-$t" "$start" 1200 $((t * 1000 + h * 10 + b)) $((t * 100 + h)) $((b % 2))
        done
    done
done
# one per day, so no two share a compaction window: retention, not compaction, takes them
for i in 1 2 3 4; do
    block demo $((1690000000 + i * 86400)) 600 "$i" $((5 + i)) 0
done
echo "demo bucket: $(find "$dir" -name 'meta*.json' | wc -l) blocks in $dir"
