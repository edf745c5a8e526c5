#!/usr/bin/env bash
# hack/bench/parquet.sh - Parquet read/write throughput on a generated
# vParquet4 block of at least 256 MB, next to `zstd -b` and snappy raw speed
# on the same bytes, with peak RSS for two row-group sizes (RSS must follow
# the row-group size, not the file size).
#
#   bash hack/bench/parquet.sh [MIN_MB]      (default 256)
#
# Work files go to ${TMPDIR:-/tmp}/tc-bench-parquet.* and are removed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
MIN_MB=${1:-256}
make -s build/lib/libtccore.a || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tc-bench-parquet.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cc -std=gnu11 -O2 -Icompactor/core -Icompactor -o "$tmp/pq" tests/parquet/pqtool.c \
    compactor/tools/*.c build/lib/libtccore.a -lsnappy -lzstd -lz -lm || exit 1
PQ="$tmp/pq"

# ~1.27 KB per trace at --spans 20: size the trace count for MIN_MB
traces=$((MIN_MB * 1000000 / 1200 + 1000))
for rg in 4000000 16000000; do
    echo "== row groups cut at $rg (Tempo size estimate = values per row group)"
    t0=$(date +%s.%N)
    "$PQ" gen "$tmp/blk" --traces "$traces" --seed 1 --rg-bytes "$rg" || exit 1
    t1=$(date +%s.%N)
    f="$tmp/blk/data.parquet"
    size=$(stat -c %s "$f")
    if [ "$size" -lt $((MIN_MB * 1000000)) ]; then
        echo "bench: block is only $size bytes, want >= ${MIN_MB} MB"
        exit 1
    fi
    echo "gen: $traces traces, $size bytes in $(echo "$t1 - $t0" | bc) s (includes trace synthesis)"
    # read and write in separate processes: each prints its own peak RSS
    "$PQ" bench "$f" | grep -E '^(file|read):'
    "$PQ" bench "$f" "$tmp/out.parquet" | grep -E '^(write|snappy)'
    rm -f "$tmp/out.parquet"
    if [ "$rg" = 16000000 ]; then
        for lvl in 1 3; do
            line=$(zstd -b$lvl -i2 "$f" 2>&1 | tr '\r' '\n' | grep -E 'MB/s.*MB/s' | tail -1 |
                sed 's/^[^A-Za-z0-9]*//; s/ \+/ /g')
            echo "zstd -b$lvl (same bytes): $line"
        done
    fi
    rm -rf "$tmp/blk"
done
