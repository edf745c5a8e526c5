#!/usr/bin/env bash
# test_parquet_interop.sh - our Parquet reader and writer against three
# independent readers: DuckDB (@duckdb/node-api), hyparquet, and arrow-rs
# (parquet-wasm). Every comparison covers every column of every row.
#
#  1. every real Tempo block (vParquet2..5): row count == meta totalObjects,
#     TraceID set and all column values of every row equal DuckDB's and
#     hyparquet's;
#  2. each real block rewritten by our writer (own schema) reads back
#     byte-identical through our reader, and both readers agree with it;
#  3. vParquet4 test block rewritten into the released vParquet4 schema, and
#     the vParquet3 block (same traces) converted into it through the model;
#  4. a generated multi-row-group block: both readers agree with every value.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
BUILD=${TC_BUILD:-build}
[ -f .tools/env.sh ] && . .tools/env.sh
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A standalone driver, so this test does not depend on main.c's dispatch.
# Under `make check` the library is instrumented: link the same runtime.
san=""
if nm "$BUILD/lib/libtccore.a" 2>/dev/null | grep -q __asan_; then
    san="-fsanitize=address,undefined -fno-sanitize-recover=all"
fi
# shellcheck disable=SC2086
if ! cc -std=gnu11 -O1 $san -Icompactor/core -Icompactor -o "$tmp/pq" tests/parquet/pqtool.c \
    "$BUILD/lib/libtctools.a" "$BUILD/lib/libtccore.a" $(make -s --no-print-directory print-libs) \
    2>"$tmp/cc.err"; then
    cat "$tmp/cc.err"
    notok "build parquet driver"
    echo "1..$n"
    exit 1
fi
PQ="$tmp/pq"
have_node=1
if ! command -v node >/dev/null || [ ! -d "${NODE_PATH:-/nonexistent}/@duckdb/node-api" ]; then
    have_node=0
fi

cross() { # name file jsonl [sample]
    local out
    if [ "$have_node" -eq 0 ]; then
        skip "$1" "node tools missing (make deps)"
        return
    fi
    if out=$(node tests/parquet/crosscheck.cjs "$2" "$3" --sample "${4:-0}" 2>&1); then
        printf '%s\n' "$out" | sed 's/^/# /'
        ok "$1"
    else
        printf '%s\n' "$out" | cut -c1-400 | sed 's/^/# /'
        notok "$1"
    fi
}

shared=${TC_SHARED:-../shared}
if [ ! -d "$shared/testdata/tempo-blocks" ]; then
    skip "real blocks" "skipped: no ../shared"
else
    for v in vParquet2 vParquet3 vParquet4 vParquet5; do
        dir=$(ls -d "$shared"/testdata/tempo-blocks/$v/single-tenant/*/ | head -1)
        f="$dir/data.parquet"
        want=$(grep -o '"totalObjects":[0-9]*' "$dir/meta.json" | cut -d: -f2)
        got=$("$PQ" check "$f" | sed -n 's/^rows=\([0-9]*\).*/\1/p')
        if [ -n "$got" ] && [ "$got" = "$want" ]; then
            ok "$v: read completely, rows $got == totalObjects"
        else
            notok "$v: rows '$got' != totalObjects '$want'"
        fi
        "$PQ" cat "$f" >"$tmp/$v.jsonl" || notok "$v: cat"
        cross "$v: all rows equal DuckDB, hyparquet and arrow-rs" "$f" "$tmp/$v.jsonl"
        "$PQ" copy "$f" "$tmp/$v.copy.parquet" >/dev/null || notok "$v: copy"
        "$PQ" cat "$tmp/$v.copy.parquet" >"$tmp/$v.copy.jsonl"
        if cmp -s "$tmp/$v.jsonl" "$tmp/$v.copy.jsonl"; then
            ok "$v: rewritten by our writer, every value round-trips"
        else
            notok "$v: rewritten file differs"
        fi
        cross "$v: our rewrite read by DuckDB, hyparquet and arrow-rs" "$tmp/$v.copy.parquet" \
            "$tmp/$v.copy.jsonl"
    done
    dir=$(ls -d "$shared"/testdata/tempo-blocks/vParquet4/single-tenant/*/ | head -1)
    "$PQ" cat "$dir/data.parquet" --vp4 >"$tmp/proj.jsonl"
    "$PQ" copy "$dir/data.parquet" "$tmp/released.parquet" --vp4 >/dev/null
    "$PQ" cat "$tmp/released.parquet" >"$tmp/released.jsonl"
    if cmp -s "$tmp/proj.jsonl" "$tmp/released.jsonl" &&
        grep -q '"IsArray":false' "$tmp/released.jsonl" &&
        ! grep -q 'ValueType' "$tmp/released.jsonl"; then
        ok "vParquet4 pre-release block converted to the released schema"
    else
        notok "vParquet4 conversion to the released schema"
    fi
    cross "released-schema rewrite read by DuckDB, hyparquet and arrow-rs" "$tmp/released.parquet" \
        "$tmp/released.jsonl"
    # the vParquet3 block holds the same traces: converted through the trace
    # model it must equal the vParquet4 block in the released schema
    d3=$(ls -d "$shared"/testdata/tempo-blocks/vParquet3/single-tenant/*/ | head -1)
    if "$PQ" copy "$d3/data.parquet" "$tmp/v3to4.parquet" --vp4 >/dev/null &&
        "$PQ" cat "$tmp/v3to4.parquet" >"$tmp/v3to4.jsonl" &&
        cmp -s "$tmp/v3to4.jsonl" "$tmp/released.jsonl"; then
        ok "vParquet3 block converted to vParquet4 equals the vParquet4 block"
    else
        notok "vParquet3 conversion differs from the vParquet4 block"
    fi
fi

# files from an independent writer (DuckDB): data page v1 and v2, every
# encoding DuckDB emits, four codecs, nested lists/structs/maps with nulls;
# then our writer with each encoding and codec forced on every column
if [ "$have_node" -eq 1 ] && node tests/parquet/duckwrite.cjs "$tmp" >"$tmp/duck.list" 2>"$tmp/duck.err"; then
    while IFS= read -r f; do
        b=$(basename "$f" .parquet)
        if "$PQ" cat "$f" >"$tmp/$b.jsonl"; then
            cross "$b (DuckDB-written): all rows equal DuckDB, hyparquet and arrow-rs" "$f" "$tmp/$b.jsonl"
        else
            notok "$b: our reader failed"
        fi
    done <"$tmp/duck.list"
    src=$(head -1 "$tmp/duck.list")
    sb=$(basename "$src" .parquet)
    set -- "plain none" "dict snappy" "delta gzip" "dlba zstd" "dba snappy" "dba gzip"
    for ec in "$@"; do
        e=${ec% *}
        c=${ec#* }
        out="$tmp/w_${e}_$c.parquet"
        if "$PQ" copy "$src" "$out" --enc "$e" --codec "$c" --rg-bytes 20000 >/dev/null &&
            "$PQ" cat "$out" >"$out.jsonl" && cmp -s "$out.jsonl" "$tmp/$sb.jsonl"; then
            cross "our writer --enc $e --codec $c: round-trips, DuckDB, hyparquet and arrow-rs agree" \
                "$out" "$out.jsonl"
        else
            notok "our writer --enc $e --codec $c: round trip"
        fi
    done
else
    skip "DuckDB-written files" "node tools missing or DuckDB failed: $(head -c 200 "$tmp/duck.err" 2>/dev/null)"
fi

# generated block: several row groups, every value checked by both readers
if "$PQ" gen "$tmp/gen" --traces 1500 --seed 7 --rg-bytes 150000 >"$tmp/gen.out"; then
    rgs=$(sed -n 's/.*row_groups=\([0-9]*\).*/\1/p' "$tmp/gen.out")
    fs=$(sed -n 's/.*footer_size=\([0-9]*\).*/\1/p' "$tmp/gen.out")
    tail_fs=$(tail -c 8 "$tmp/gen/data.parquet" | head -c 4 | od -An -tu4 | tr -d ' ')
    if [ "${rgs:-0}" -gt 1 ] && [ "$fs" = "$tail_fs" ] &&
        grep -q "\"footerSize\":$fs" "$tmp/gen/meta.json" &&
        grep -q "\"totalRecords\":$rgs" "$tmp/gen/meta.json" &&
        grep -q '"totalObjects":1500' "$tmp/gen/meta.json"; then
        ok "gen: $rgs row groups, footerSize $fs matches the file tail"
    else
        notok "gen: meta/footer mismatch ($(cat "$tmp/gen.out"))"
    fi
    "$PQ" cat "$tmp/gen/data.parquet" >"$tmp/gen.jsonl"
    cross "gen: every value of every row equals DuckDB, hyparquet and arrow-rs" "$tmp/gen/data.parquet" \
        "$tmp/gen.jsonl"
    # page indexes and statistics against hyparquet's view of the values,
    # with small pages so that every column has many
    if [ "$have_node" -eq 1 ]; then
        "$PQ" copy "$tmp/gen/data.parquet" "$tmp/pages.parquet" --vp4 --page-bytes 3000 \
            --rg-bytes 150000 >/dev/null
        if out=$(node tests/parquet/pageindex.cjs "$tmp/pages.parquet" 2>&1); then
            echo "# $out"
            ok "page index and chunk statistics match the values (hyparquet)"
        else
            printf '%s\n' "$out" | head -5 | sed 's/^/# /'
            notok "page index and chunk statistics"
        fi
    fi
    "$PQ" ids "$tmp/gen/data.parquet" >"$tmp/ids"
    if sort -c "$tmp/ids" 2>/dev/null && [ "$(sort -u "$tmp/ids" | wc -l)" -eq 1500 ]; then
        ok "gen: TraceIDs unique and ascending"
    else
        notok "gen: TraceIDs not sorted/unique"
    fi
else
    notok "gen failed: $(cat "$tmp/gen.out")"
fi

# hack/gen-blocks.sh: a local bucket of blocks with shared traces
if [ -x "$BUILD/bin/tempo-compactor" ] && [ "$BUILD" = build ] &&
    bash hack/gen-blocks.sh "$tmp/bucket" --tenant t1 --blocks 3 --traces 200 --shared 20 \
        --shared-same 1 --spans 5 >"$tmp/gb.out" 2>&1; then
    nb=$(ls "$tmp"/bucket/t1/*/meta.json 2>/dev/null | wc -l)
    common=$(comm -12 <("$PQ" ids "$(ls -d "$tmp"/bucket/t1/*/ | sed -n 1p)data.parquet") \
        <("$PQ" ids "$(ls -d "$tmp"/bucket/t1/*/ | sed -n 2p)data.parquet") | wc -l)
    if [ "$nb" -eq 3 ] && [ "$common" -eq 20 ]; then
        ok "gen-blocks: 3 blocks in ROOT/t1/<id>/, 20 shared trace IDs"
    else
        notok "gen-blocks: $nb blocks, $common shared IDs"
    fi
else
    skip "gen-blocks" "needs build/bin/tempo-compactor (not the sanitizer build)"
fi

echo "1..$n"
[ "$fails" -eq 0 ]
