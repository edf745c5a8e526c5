/* test_parquet.c - encodings, footer, reader over Tempo's real blocks. */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "parquet/parquet.h"
#include "parquet/parquet_int.h"
#include "base/tc.h"
#include "test.h"

static const char *blk = "b27b0e53-66a0-4505-afd6-434ae3cd4a10";

/* Reads meta.json's totalObjects with a plain scan (the meta module is not ours). */
static long
meta_total_objects(const char *dir)
{
    char path[1024], data[4096];
    FILE *f;
    size_t n;
    const char *p;

    snprintf(path, sizeof(path), "%s/meta.json", dir);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(data, 1, sizeof(data) - 1, f);
    fclose(f);
    data[n] = 0;
    p = strstr(data, "\"totalObjects\":");
    return p ? strtol(p + 15, NULL, 10) : -1;
}

TEST(rle_roundtrip)
{
    uint32_t in[1000], out[1000];
    struct buf b;

    for (int bw = 1; bw <= 20; bw++) {
        uint32_t mask = (uint32_t)((1ULL << bw) - 1);
        for (int i = 0; i < 1000; i++)
            in[i] = (i % 97 < 40) ? 3u & mask : ((uint32_t)i * 2654435761u) & mask;
        buf_init(&b, 0);
        ASSERT_OK(parquet_rle_encode(&b, bw, in, 1000));
        memset(out, 0xff, sizeof(out));
        ASSERT_OK(parquet_rle_decode((uint8_t *)b.data, (uint8_t *)b.data + b.len, bw, out, 1000));
        ASSERT_MEM_EQ(in, out, sizeof(in));
        if (bw <= 8) {
            /* the level decoder: same values as bytes, and a max check */
            uint8_t lv[1000];
            uint32_t mx = 0;
            for (int i = 0; i < 1000; i++)
                mx = in[i] > mx ? in[i] : mx;
            ASSERT_OK(parquet_rle_decode_u8((uint8_t *)b.data, (uint8_t *)b.data + b.len, bw, lv,
                                            1000, (uint8_t)mx));
            for (int i = 0; i < 1000; i++)
                ASSERT_EQ(lv[i], in[i]);
            if (mx > 0)
                ASSERT_EQ(parquet_rle_decode_u8((uint8_t *)b.data, (uint8_t *)b.data + b.len, bw,
                                                lv, 1000, (uint8_t)(mx - 1)),
                          TC_CORRUPT);
            for (size_t l = 0; l + 1 < b.len; l += 3)
                parquet_rle_decode_u8((uint8_t *)b.data, (uint8_t *)b.data + l, bw, lv, 1000,
                                      (uint8_t)mx);
        }
        /* every truncation is an error, never a crash */
        for (size_t l = 0; l + 1 < b.len; l += 7)
            parquet_rle_decode((uint8_t *)b.data, (uint8_t *)b.data + l, bw, out, 1000);
        buf_cleanup(&b);
    }
}

/* The writer's run split, spelled out value by value: a run of >= 8 equal
 * values (or one reaching the end) is RLE; else groups of 8 are bit-packed
 * until a group starts such a run, at most 63 groups per header. Bits are
 * set one at a time, independent of the encoder's word packing. */
static size_t
ref_run(const uint32_t *v, size_t i, size_t n)
{
    size_t j = i + 1;

    while (j < n && v[j] == v[i])
        j++;
    return j - i;
}

static void
ref_rle_encode(uint8_t *out, size_t *len, int bw, const uint32_t *v, size_t n)
{
    size_t o = 0, i = 0;

    while (i < n) {
        size_t run = ref_run(v, i, n);
        if (run >= 8 || i + run == n) {
            uint64_t h = (uint64_t)run << 1;
            while (h >= 0x80) {
                out[o++] = (uint8_t)(h | 0x80);
                h >>= 7;
            }
            out[o++] = (uint8_t)h;
            for (int k = 0; k < (bw + 7) / 8; k++)
                out[o++] = (uint8_t)(v[i] >> (8 * k));
            i += run;
            continue;
        }
        {
            size_t start = i, groups = 0;
            do {
                i = i + 8 < n ? i + 8 : n;
                groups++;
            } while (i < n && groups < 63 && ref_run(v, i, n) < 8);
            out[o++] = (uint8_t)(groups << 1 | 1);
            memset(out + o, 0, groups * (size_t)bw);
            for (size_t j = start; j < i; j++)
                for (int k = 0; k < bw; k++)
                    if (v[j] >> k & 1) {
                        size_t bit = (j - start) * (size_t)bw + (size_t)k;
                        out[o + bit / 8] |= (uint8_t)(1u << (bit % 8));
                    }
            o += groups * (size_t)bw;
        }
    }
    *len = o;
}

/* Random arrays of runs and noise (levels as bytes at widths 1..8, indices
 * as uint32 up to 32 bits): both encoders give the reference's bytes, and
 * the decoders give the values back. */
TEST(rle_encode_matches_reference)
{
    enum { N = 3000 };
    static uint32_t in[N], out[N];
    static uint8_t lv[N], lvout[N], ref[N * 4 + 64];
    uint64_t seed = 0x2545f4914f6cdd1dULL;
    struct buf b;
    size_t rlen;

    for (int iter = 0; iter < 416; iter++) {
        /* the last 16: no run at all, so bit-packed headers hit the 63-group cap */
        int noise = iter >= 400, bw = noise ? 1 + iter % 8 : 1 + iter % 32;
        size_t n = noise           ? N - (size_t)iter % 9
                   : iter % 5 == 0 ? (size_t)(iter % 17)
                                   : N - (size_t)(iter * 7 % 100);
        uint32_t mask = (uint32_t)(((uint64_t)1 << bw) - 1);
        for (size_t i = 0; noise && i < n; i++)
            in[i] = i % 3 == 0;
        for (size_t i = 0; !noise && i < n;) {
            size_t len;
            uint32_t x;
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            len = 1 + (size_t)(seed >> 33) % ((seed >> 20) & 1 ? 40 : 9);
            x = (uint32_t)(seed >> 7) & mask;
            for (size_t k = 0; k < len && i < n; k++, i++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                /* a run, or noise of a few distinct values */
                in[i] = (seed >> 62) == 0 && (seed >> 40 & 1) ? (uint32_t)(seed >> 13) & mask : x;
            }
        }
        ref_rle_encode(ref, &rlen, bw, in, n);
        buf_init(&b, 0);
        ASSERT_OK(parquet_rle_encode(&b, bw, in, n));
        ASSERT_EQ(b.len, rlen);
        ASSERT_MEM_EQ(b.data, ref, rlen);
        ASSERT_OK(parquet_rle_decode((uint8_t *)b.data, (uint8_t *)b.data + b.len, bw, out, n));
        ASSERT_MEM_EQ(in, out, n * sizeof(*in));
        if (bw <= 8) {
            for (size_t i = 0; i < n; i++)
                lv[i] = (uint8_t)in[i];
            buf_reset(&b);
            ASSERT_OK(parquet_rle_encode_u8(&b, bw, lv, n));
            ASSERT_EQ(b.len, rlen);
            ASSERT_MEM_EQ(b.data, ref, rlen);
            ASSERT_OK(parquet_rle_decode_u8((uint8_t *)b.data, (uint8_t *)b.data + b.len, bw, lvout,
                                            n, (uint8_t)mask));
            ASSERT_MEM_EQ(lv, lvout, n);
        }
        buf_cleanup(&b);
    }
    /* out-of-range widths are refused */
    buf_init(&b, 0);
    ASSERT_EQ(parquet_rle_encode_u8(&b, 9, lv, 8), TC_INVAL);
    ASSERT_EQ(parquet_rle_encode(&b, 33, in, 8), TC_INVAL);
    buf_cleanup(&b);
}

TEST(delta_roundtrip)
{
    int64_t in[777], out[777];
    struct buf b;
    size_t used;

    for (int is32 = 0; is32 < 2; is32++) {
        for (int i = 0; i < 777; i++) {
            in[i] = (int64_t)((uint64_t)i * 0x9e3779b97f4a7c15ULL);
            if (i % 5 == 0)
                in[i] = i;
            if (i == 3)
                in[i] = INT64_MIN;
            if (i == 4)
                in[i] = INT64_MAX;
            if (is32)
                in[i] = (int32_t)in[i];
        }
        buf_init(&b, 0);
        ASSERT_OK(parquet_delta_encode(&b, is32, in, 777));
        ASSERT_OK(parquet_delta_decode((uint8_t *)b.data, (uint8_t *)b.data + b.len, is32, out, 777,
                                       &used));
        ASSERT_EQ(used, b.len);
        ASSERT_MEM_EQ(in, out, sizeof(in));
        /* truncation: an error, or (cut inside the last miniblock's padding)
         * still the exact values */
        for (size_t l = 0; l + 1 < b.len; l += 5) {
            memset(out, 0, sizeof(out));
            if (parquet_delta_decode((uint8_t *)b.data, (uint8_t *)b.data + l, is32, out, 777,
                                     &used) == TC_OK)
                ASSERT_MEM_EQ(in, out, sizeof(in));
        }
        ASSERT_NE(parquet_delta_decode((uint8_t *)b.data, (uint8_t *)b.data + b.len / 2, is32, out,
                                       777, &used),
                  TC_OK);
        buf_cleanup(&b);
    }
}

TEST(codecs_roundtrip)
{
    static uint8_t in[100000], out[100000];
    struct buf b;
    struct tc_err err;
    int codecs[] = {PARQUET_UNCOMPRESSED, PARQUET_SNAPPY, PARQUET_GZIP, PARQUET_ZSTD};

    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)((i / 7) ^ (i % 13));
    for (size_t k = 0; k < TC_ARRAY_LEN(codecs); k++) {
        buf_init(&b, 0);
        ASSERT_OK(parquet_compress(codecs[k], in, sizeof(in), &b, &err));
        ASSERT_OK(parquet_decompress(codecs[k], (uint8_t *)b.data, b.len, out, sizeof(out), &err));
        ASSERT_MEM_EQ(in, out, sizeof(in));
        if (codecs[k] != PARQUET_UNCOMPRESSED)
            ASSERT_NE(
                parquet_decompress(codecs[k], (uint8_t *)b.data, b.len / 2, out, sizeof(out), &err),
                TC_OK);
        buf_cleanup(&b);
    }
    ASSERT_EQ(parquet_decompress(PARQUET_BROTLI, in, 10, out, 10, &err), TC_UNSUPPORTED);
}

/* Reads every row of every real block; row count == meta totalObjects and
 * the TraceIDs are strictly ascending (Tempo's invariant). */
TEST(real_blocks_read_completely)
{
    TEST_NEED_SHARED(shared);
    const char *versions[] = {"vParquet2", "vParquet3", "vParquet4", "vParquet5"};
    const int ncols[] = {58, 78, 103, 107};

    for (size_t v = 0; v < TC_ARRAY_LEN(versions); v++) {
        char dir[1024], path[1100];
        struct parquet_reader *r;
        struct parquet_cursor *c;
        struct tc_err err;
        struct parquet_row row;
        struct parquet_arena a;
        uint8_t prev[16];
        uint32_t prevlen = 0;
        long rows = 0;
        int eof = 0;

        snprintf(dir, sizeof(dir), "%s/testdata/tempo-blocks/%s/single-tenant/%s", shared,
                 versions[v], blk);
        snprintf(path, sizeof(path), "%s/data.parquet", dir);
        ASSERT_OK(parquet_reader_open(&r, path, &err));
        ASSERT_EQ(parquet_reader_schema(r)->ncolumns, ncols[v]);
        ASSERT_EQ(parquet_schema_find(parquet_reader_schema(r), "TraceID"), 0);
        ASSERT_OK(parquet_cursor_new(&c, r, &err));
        parquet_arena_init(&a);
        for (;;) {
            const uint8_t *id;
            uint32_t n;
            struct parquet_val *val;
            ASSERT_OK(parquet_cursor_next(c, &row, &eof, &err));
            if (eof)
                break;
            id = parquet_row_bytes(&row, 0, &n);
            ASSERT(id != NULL);
            ASSERT_EQ(n, 16);
            if (prevlen)
                ASSERT_LT(memcmp(prev, id, 16), 0);
            memcpy(prev, id, 16);
            prevlen = 16;
            parquet_arena_reset(&a);
            ASSERT_OK(parquet_row_assemble(&row, parquet_reader_schema(r), &a, &val, &err));
            ASSERT_EQ(val->kind, PARQUET_V_GROUP);
            rows++;
        }
        ASSERT_EQ(rows, meta_total_objects(dir));
        ASSERT_EQ(rows, parquet_reader_meta(r)->num_rows);
        parquet_arena_cleanup(&a);
        parquet_cursor_free(c);
        parquet_reader_free(r);
    }
}

TEST(real_block_footer_and_page_index)
{
    TEST_NEED_SHARED(shared);
    char path[1100];
    struct parquet_reader *r;
    struct tc_err err;
    struct parquet_page_index pi;
    const struct parquet_filemeta *m;

    snprintf(path, sizeof(path), "%s/testdata/tempo-blocks/vParquet4/single-tenant/%s/data.parquet",
             shared, blk);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    m = parquet_reader_meta(r);
    ASSERT_EQ(m->footer_len, 17711); /* meta.json footerSize */
    ASSERT_STR_CONTAINS(m->created_by, "parquet-go");
    ASSERT_EQ(m->nrowgroups, 1);
    /* TraceID chunk statistics: meta's minID/maxID */
    ASSERT(m->rowgroups[0].cols[0].stats.has_min);
    ASSERT_EQ(m->rowgroups[0].cols[0].stats.min_len, 16);
    ASSERT_MEM_EQ(m->rowgroups[0].cols[0].stats.min,
                  "\0\0\0\0\0\0\0\0\0\x47\x4b\xe8\xb4\x34\x49\xfb", 16);
    ASSERT_OK(parquet_reader_page_index(r, 0, 0, &pi, &err));
    ASSERT_EQ(pi.npages, 1);
    ASSERT_EQ(pi.locs[0].first_row, 0);
    ASSERT(pi.has_column_index);
    parquet_page_index_cleanup(&pi);
    parquet_reader_free(r);
}

TEST(open_errors_name_the_file)
{
    struct parquet_reader *r;
    struct tc_err err;

    ASSERT_EQ(parquet_reader_open(&r, "/nonexistent/x.parquet", &err), TC_NOTFOUND);
    ASSERT_STR_CONTAINS(err.msg, "/nonexistent/x.parquet");
    ASSERT_EQ(parquet_reader_open_mem(&r, "PAR1PAR1", 8, &err), TC_CORRUPT);
    ASSERT_EQ(parquet_reader_open_mem(&r, "PAR1\0\0\0\0\xff\xff\0\0PAR1", 16, &err), TC_CORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "footer length");
}

/* parquet_nav over a hand-built row: present, absent, null and
 * out-of-range values all read as the value or as 0 / "" without a crash. */
TEST(nav_reads_present_absent_and_null)
{
    struct parquet_schema_builder *sb = parquet_sb_new("schema");
    struct parquet_schema *s = NULL;
    struct parquet_val name = {.kind = PARQUET_V_SCALAR, .b = (const uint8_t *)"ab", .len = 2};
    struct parquet_val n = {.kind = PARQUET_V_SCALAR, .i = 7};
    struct parquet_val nul = {.kind = PARQUET_V_NULL};
    struct parquet_val e1 = {.kind = PARQUET_V_SCALAR, .i = 1},
                       e2 = {.kind = PARQUET_V_SCALAR, .i = 2};
    struct parquet_val it[3] = {{.kind = PARQUET_V_GROUP, .n = 1, .items = &e1},
                                {.kind = PARQUET_V_GROUP, .n = 1, .items = &e2},
                                {.kind = PARQUET_V_NULL}};
    struct parquet_val lst = {.kind = PARQUET_V_LIST, .n = 3, .items = it};
    struct parquet_val l = {.kind = PARQUET_V_GROUP, .n = 1, .items = &lst};
    struct parquet_val fields[4];
    struct parquet_val root = {.kind = PARQUET_V_GROUP, .n = 4, .items = fields};
    struct parquet_nav r, x, li;
    struct tc_err err;
    const uint8_t *b;
    uint32_t len = 99;

    parquet_sb_leaf(sb, "Name", PARQUET_OPTIONAL, PARQUET_BYTE_ARRAY, PARQUET_CT_UTF8, -1, -1);
    parquet_sb_leaf(sb, "N", PARQUET_REQUIRED, PARQUET_INT64, PARQUET_CT_NONE, -1, -1);
    parquet_sb_leaf(sb, "Opt", PARQUET_OPTIONAL, PARQUET_INT64, PARQUET_CT_NONE, -1, -1);
    parquet_sb_group(sb, "L", PARQUET_REQUIRED, PARQUET_CT_LIST);
    parquet_sb_group(sb, "list", PARQUET_REPEATED, PARQUET_CT_NONE);
    parquet_sb_leaf(sb, "element", PARQUET_OPTIONAL, PARQUET_INT64, PARQUET_CT_NONE, -1, -1);
    parquet_sb_end(sb);
    parquet_sb_end(sb);
    if (parquet_sb_build(sb, &s, &err) != TC_OK)
        TEST_FAIL_("schema: %s", err.msg);
    fields[0] = name;
    fields[1] = n;
    fields[2] = nul;
    fields[3] = l;

    r = parquet_nav_root(s, &root);
    b = parquet_nav_bytes(r, "Name", &len);
    ASSERT_EQ(len, 2);
    ASSERT_MEM_EQ(b, "ab", 2);
    ASSERT_EQ(parquet_nav_i64(r, "N"), 7);
    /* a null optional and a field the schema lacks both read as 0 / "" */
    ASSERT_EQ(parquet_nav_i64(r, "Opt"), 0);
    ASSERT(parquet_nav_scalar(r, "Opt") == NULL);
    x = parquet_nav_get(r, "NoSuchField");
    ASSERT_EQ(x.node, -1);
    ASSERT(x.v == NULL);
    b = parquet_nav_bytes(r, "NoSuchField", &len);
    ASSERT_EQ(len, 0);
    ASSERT_STR_EQ((const char *)b, "");
    ASSERT_EQ(parquet_nav_len(x), 0);
    ASSERT_EQ(parquet_nav_get(x, "Deeper").node, -1);
    /* list elements, a null element and out of range */
    li = parquet_nav_get(r, "L");
    ASSERT_EQ(parquet_nav_len(li), 3);
    ASSERT_EQ(parquet_nav_i64(parquet_nav_at(li, 0), NULL), 1);
    ASSERT_EQ(parquet_nav_i64(parquet_nav_at(li, 1), NULL), 2);
    ASSERT(parquet_nav_at(li, 2).v == NULL);
    ASSERT_EQ(parquet_nav_i64(parquet_nav_at(li, 2), NULL), 0);
    x = parquet_nav_at(li, 3);
    ASSERT_EQ(x.node, -1);
    ASSERT(x.v == NULL);
    /* a tree with no value at all (absent row part) */
    ASSERT_EQ(parquet_nav_i64(parquet_nav_root(s, NULL), "N"), 0);
    parquet_schema_free(s);
}

TEST_MAIN(TEST_ENTRY(rle_roundtrip), TEST_ENTRY(rle_encode_matches_reference),
          TEST_ENTRY(nav_reads_present_absent_and_null), TEST_ENTRY(delta_roundtrip),
          TEST_ENTRY(codecs_roundtrip), TEST_ENTRY(real_blocks_read_completely),
          TEST_ENTRY(real_block_footer_and_page_index), TEST_ENTRY(open_errors_name_the_file))
