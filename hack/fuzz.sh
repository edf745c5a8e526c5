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
# Every source but the two mains, built once with coverage and sanitizers
# into build/fuzz/obj, then linked with each target.
SRC=$(find compactor controller -name '*.c' ! -name main.c | sort)
FLAGS="-std=gnu11 -g -O1 -D_GNU_SOURCE -DTC_VERSION=\"fuzz\" -DTC_REVISION=\"fuzz\"
       -Icompactor/core -Icompactor -Icontroller $(pkg-config --cflags libwebsockets jansson 2>/dev/null)
       -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
LIBS="-lcurl -lyaml -ljansson -lwebsockets -lcap -lssl -lcrypto -lsnappy -lzstd -lz -lm -lpthread"
# A header newer than the last build invalidates every object.
stamp="$out/obj/.stamp"
if [ ! -f "$stamp" ] || [ -n "$(find compactor controller -name '*.h' -newer "$stamp" | head -1)" ]; then
    rm -rf "$out/obj"
fi
mkdir -p "$out/obj"
objs=()
for f in $SRC; do
    o="$out/obj/${f%.c}.o"
    objs+=("$o")
    [ "$o" -nt "$f" ] && [ "$o" -nt "$0" ] && continue
    mkdir -p "$(dirname "$o")"
    # shellcheck disable=SC2086
    $CLANG $FLAGS -fsanitize=fuzzer-no-link -c "$f" -o "$o" || { echo "fuzz: build of $f failed"; exit 1; }
done
touch "$stamp"

# seeds
# shellcheck disable=SC2086
cc -std=gnu11 -O1 -Icompactor/core -Icompactor -Icontroller -o "$out/pq" tests/parquet/pqtool.c \
    compactor/tools/*.c build/lib/libtccore.a $LIBS || exit 1
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

# seeds of the hostile-input targets: metas, tenant indexes, configs, listings,
# watch streams and custom resources (made here; nothing binary is kept in git)
mkdir -p "$out/seeds/meta" "$out/seeds/tindex" "$out/seeds/config" "$out/seeds/s3list" \
    "$out/seeds/watch" "$out/seeds/render"
cp "$out/seeds/blk/meta.json" "$out/seeds/meta/gen.json"
i=0
for f in "$shared"/testdata/tempo-blocks/*/*/*/meta*.json; do
    [ -f "$f" ] && cp "$f" "$out/seeds/meta/real-$((i += 1)).json"
done
for f in "$shared"/testdata/tempo-blocks/*/*/index.json.gz; do
    [ -f "$f" ] || continue
    { printf '\x00'; cat "$f"; } >"$out/seeds/tindex/json-gz-$((i += 1))"
    { printf '\x02'; gzip -dc "$f"; } >"$out/seeds/tindex/json-$i"
done
for f in "$shared"/testdata/tempo-blocks/*/*/index.pb.zst; do
    [ -f "$f" ] || continue
    { printf '\x01'; cat "$f"; } >"$out/seeds/tindex/pb-zst-$((i += 1))"
    { printf '\x03'; zstd -qdc "$f"; } >"$out/seeds/tindex/pb-$i"
done
cp tests/fixtures/tempo-compactor.yaml "$out/seeds/config/"
cp hack/demo/*.yaml "$out/seeds/config/" 2>/dev/null
printf '%s' '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>1a&amp;2</NextContinuationToken><Contents><Key>p/t/0c8f2d6e-2f6c-4b8e-9d0a-3f1e2b4c5d6e/meta.json</Key><LastModified>2026-12-01T10:00:00.000Z</LastModified><Size>1234</Size></Contents><CommonPrefixes><Prefix>p/tenant&#x41;/</Prefix></CommonPrefixes></ListBucketResult>' \
    >"$out/seeds/s3list/page.xml"
{
    printf '\x07'
    printf '%s\n' '{"type":"ADDED","object":{"kind":"TempoCompactor","metadata":{"name":"a","namespace":"n","resourceVersion":"5"}}}' \
        '{"type":"MODIFIED","object":{"metadata":{"name":"a","namespace":"n","resourceVersion":"6"}}}' \
        '{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}' \
        '{"type":"DELETED","object":{"metadata":{"name":"a","namespace":"n","resourceVersion":"8"}}}' \
        '{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}}'
} >"$out/seeds/watch/events"
for f in crds/examples/*.yaml; do
    python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$f" \
        >"$out/seeds/render/$(basename "$f" .yaml).json" || exit 1
done

rc=0
for t in ${FUZZ_TARGETS:-$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')}; do
    # shellcheck disable=SC2086
    if ! $CLANG $FLAGS -fsanitize=fuzzer -o "$out/$t" "tests/fuzz/$t.c" "${objs[@]}" $LIBS; then
        echo "fuzz: build of $t failed"
        rc=1
        continue
    fi
    case "$t" in
    *footer*) seeds="$out/seeds/footer" ;;
    *encodings*) seeds="$out/seeds/enc" ;;
    fuzz_meta) seeds="$out/seeds/meta" ;;
    fuzz_tindex) seeds="$out/seeds/tindex" ;;
    fuzz_config) seeds="$out/seeds/config" ;;
    fuzz_s3_list) seeds="$out/seeds/s3list" ;;
    fuzz_watch) seeds="$out/seeds/watch" ;;
    fuzz_render) seeds="$out/seeds/render" ;;
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
