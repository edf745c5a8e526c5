#!/usr/bin/env bash
# hack/fuzz.sh - build the libFuzzer targets in tests/fuzz with clang-14
# (ASan + UBSan) and run each for a bounded time.
#
#   FUZZ_SECONDS=60 bash hack/fuzz.sh        # per target (default 60)
#   FUZZ_TARGETS="fuzz_parquet_file" ...     # a subset
#
# Seeds are made fresh on every run (nothing binary is kept in git): a tiny
# generated vParquet4 block rewritten with each encoding and codec, its
# footer alone, and small DuckDB-written files when node tools are installed.
# The corpus grows in build/fuzz/corpus-<target>; crashes land in
# build/fuzz/artifacts and make this script fail.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
[ -f .tools/env.sh ] && . .tools/env.sh
SECS=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang-14}
out=build/fuzz
mkdir -p "$out/seeds" "$out/artifacts"
command -v "$CLANG" >/dev/null || { echo "fuzz: $CLANG missing (make deps)"; exit 1; }

make -s build/lib/libtccore.a || exit 1
SRC="$(ls compactor/core/parquet/*.c) compactor/core/tempo/vp4.c compactor/core/tempo/vp4_v3.c
     compactor/core/tempo/vp4_bloom.c compactor/tools/vp4_gen.c compactor/tools/vp4_convert.c
     compactor/core/base/hash.c compactor/core/base/mem.c compactor/core/base/buf.c
     compactor/core/base/tc.c compactor/core/base/log.c"
FLAGS="-std=gnu11 -g -O1 -D_GNU_SOURCE -DTC_VERSION=\"fuzz\" -DTC_REVISION=\"fuzz\"
       -Icompactor/core -Icompactor -fno-omit-frame-pointer"

# seeds
cc -std=gnu11 -O1 -Icompactor/core -Icompactor -o "$out/pq" tests/parquet/pqtool.c \
    compactor/tools/*.c build/lib/libtccore.a -lsnappy -lzstd -lz -lm || exit 1
rm -rf "$out/seeds" && mkdir -p "$out/seeds/file" "$out/seeds/footer" "$out/seeds/enc"
"$out/pq" gen "$out/seeds/blk" --traces 3 --spans 3 --rg-bytes 400 >/dev/null || exit 1
cp "$out/seeds/blk/data.parquet" "$out/seeds/file/gen.parquet"
for ec in "plain none" "dict snappy" "delta gzip" "dlba zstd" "dba snappy"; do
    "$out/pq" copy "$out/seeds/blk/data.parquet" "$out/seeds/file/${ec// /_}.parquet" \
        --enc "${ec% *}" --codec "${ec#* }" --rg-bytes 300 >/dev/null || exit 1
done
if command -v node >/dev/null && [ -d "${NODE_PATH:-/nonexistent}/@duckdb/node-api" ]; then
    DUCK_ROWS=12 node tests/parquet/duckwrite.cjs "$out/seeds/file" >/dev/null ||
        echo "fuzz: DuckDB seeds skipped"
fi
shared=${TC_SHARED:-../shared}
# Tempo's real blocks as seeds (copied into build/, never into the repo)
for v in vParquet3 vParquet4; do
    for f in "$shared"/testdata/tempo-blocks/$v/single-tenant/*/data.parquet; do
        [ -f "$f" ] && cp "$f" "$out/seeds/file/$v.parquet"
    done
done
for f in "$out"/seeds/file/*.parquet; do
    flen=$(tail -c 8 "$f" | head -c 4 | od -An -tu4 | tr -d ' ')
    tail -c $((flen + 8)) "$f" | head -c "$flen" >"$out/seeds/footer/$(basename "$f").thrift"
    # encodings target: selector byte + params + a slice of page bytes
    for sel in 0 1 2 5 6; do
        { printf "\\x$(printf %02x $sel)\\x05\\x00\\x40"; head -c 600 "$f" | tail -c 500; } \
            >"$out/seeds/enc/$sel-$(basename "$f")"
    done
done

rc=0
for t in ${FUZZ_TARGETS:-$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')}; do
    # shellcheck disable=SC2086
    if ! $CLANG $FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -o "$out/$t" "tests/fuzz/$t.c" $SRC -lsnappy -lzstd -lz -lm -lpthread; then
        echo "fuzz: build of $t failed"
        rc=1
        continue
    fi
    case "$t" in
    *footer*) seeds="$out/seeds/footer" ;;
    *encodings*) seeds="$out/seeds/enc" ;;
    *) seeds="$out/seeds/file" ;;
    esac
    mkdir -p "$out/corpus-$t"
    echo "fuzz: $t for ${SECS}s"
    if ! "$out/$t" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=20 -max_len=200000 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
        "$out/corpus-$t" "$seeds" >"$out/$t.log" 2>&1; then
        tail -40 "$out/$t.log"
        echo "fuzz: $t FAILED (artifacts in $out/artifacts)"
        rc=1
    else
        grep -E 'stat::number_of_executed_units|cov:' "$out/$t.log" | tail -2 | sed "s/^/fuzz: $t: /"
    fi
done
[ "$rc" -eq 0 ] && echo "fuzz: no crashes"
exit "$rc"
