#!/usr/bin/env bash
# hack/gen-demo-bucket.sh DIR - the embedded demo bucket for `make run`.
#
# Two tenants of recent block metas (so the planner has compaction jobs and
# the outstanding-blocks metric moves) plus real vParquet4 blocks written by
# our Parquet writer with timestamps in 2023 (past the 14-day retention, so the
# first retention pass marks them compacted, as Tempo would).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: gen-demo-bucket.sh DIR}
bin=${TC_BUILD:-build}/bin/tempo-compactor
case $bin in /*) ;; *) bin=$top/$bin ;; esac
mkdir -p "$dir"
python3 "$top/hack/gen-metas.py" "$dir" --tenants 2 --blocks 400 --hours 30 --levels 3 --seed 7
for i in 1 2 3 4; do
    tmp="$dir/.gen-$i"
    rm -rf "$tmp" && mkdir -p "$tmp"
    "$bin" parquet gen "$tmp" --traces 500 --seed "$i" --tenant demo >/dev/null
    id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["blockID"])' "$tmp/meta.json")
    mkdir -p "$dir/demo"
    # meta.json goes last, as Tempo writes blocks
    mkdir -p "$dir/demo/$id"
    for f in "$tmp"/*; do
        [ "$(basename "$f")" = meta.json ] || mv "$f" "$dir/demo/$id/"
    done
    mv "$tmp/meta.json" "$dir/demo/$id/meta.json"
    rmdir "$tmp"
done
echo "demo bucket: $(find "$dir" -name 'meta*.json' | wc -l) blocks in $dir"
