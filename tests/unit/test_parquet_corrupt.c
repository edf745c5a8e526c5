/* test_parquet_corrupt.c - a fixed corpus of truncated and bit-flipped
 * Parquet files: every one is rejected with an error or read to the end,
 * never a crash, hang or out-of-bounds access (run under ASan by make check).
 *
 * The corpus is deterministic: a generated block (fixed seed) plus, when
 * ../shared exists, Tempo's vParquet4 and vParquet3 test blocks; truncated at
 * fixed lengths and flipped at positions from a fixed PRNG sequence. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "parquet/parquet.h"
#include "base/tc.h"
#include "test.h"
#include "tempo/vp4.h"
#include "tools/tools.h"

/* Reads everything the way the compactor and the CLI do. Returns TC_OK or
 * the first error; err.msg must then be non-empty. */
static int
read_all(const uint8_t *data, size_t len, const struct parquet_schema *proj, long *rows)
{
    struct parquet_reader *r;
    struct parquet_cursor *cur = NULL;
    struct tc_err err;
    struct parquet_row row;
    struct parquet_arena a;
    struct buf js;
    int rc, eof = 0;

    *rows = 0;
    tc_err_clear(&err);
    rc = parquet_reader_open_mem(&r, data, len, &err);
    if (rc != TC_OK) {
        if (err.msg[0] == '\0')
            TEST_FAIL_("error %d without a message", rc);
        return rc;
    }
    for (int g = 0; g < parquet_reader_meta(r)->nrowgroups; g++)
        for (int c = 0; c < parquet_reader_schema(r)->ncolumns; c++) {
            struct parquet_page_index pi;
            if (parquet_reader_page_index(r, g, c, &pi, &err) == TC_OK)
                parquet_page_index_cleanup(&pi);
        }
    if (proj && parquet_reader_project(r, proj, &err) != TC_OK)
        proj = NULL;
    parquet_arena_init(&a);
    buf_init(&js, (size_t)64 << 20);
    rc = parquet_cursor_new(&cur, r, &err);
    while (rc == TC_OK) {
        struct parquet_val *v;
        rc = parquet_cursor_next(cur, &row, &eof, &err);
        if (rc != TC_OK || eof)
            break;
        parquet_arena_reset(&a);
        buf_reset(&js);
        rc = parquet_row_assemble(&row, parquet_reader_row_schema(r), &a, &v, &err);
        if (rc == TC_OK)
            parquet_val_json(v, parquet_reader_row_schema(r), 0, &js);
        if (rc == TC_OK && proj) {
            struct vp4_trace *t;
            rc = vp4_trace_from_row(&row, proj, &a, &t, &err);
        }
        (*rows)++;
    }
    if (rc != TC_OK && err.msg[0] == '\0')
        TEST_FAIL_("error %d without a message", rc);
    buf_cleanup(&js);
    parquet_arena_cleanup(&a);
    parquet_cursor_free(cur);
    parquet_reader_free(r);
    return rc;
}

static uint8_t *
generated(size_t *len)
{
    static char path[700];
    const char *tmp = test_tmpdir();
    char dir[600];
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct tc_err err;

    snprintf(dir, sizeof(dir), "%s/blk", tmp);
    vp4_gen_opts_default(&o);
    o.dir = dir;
    o.traces = 40;
    o.max_spans = 6;
    o.seed = 1234;
    o.row_group_bytes = 3000; /* several row groups */
    if (vp4_gen_block(&o, &res, &err) != TC_OK)
        TEST_FAIL_("gen: %s", err.msg);
    snprintf(path, sizeof(path), "%s/data.parquet", dir);
    return (uint8_t *)test_slurp(path, len);
}

static void
corpus(const uint8_t *orig, size_t len, int flips)
{
    struct parquet_schema *s;
    struct tc_err err;
    uint8_t *buf = tc_malloc(len);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    long rows, want;
    int errors = 0;

    ASSERT(buf != NULL);
    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(read_all(orig, len, s, &want));
    ASSERT_GT(want, 0);
    /* truncations: the tail (footer) at every byte, the body in steps */
    for (size_t l = 0; l < len; l += (len - l > 4096 ? 257 : 1)) {
        memcpy(buf, orig, l);
        if (read_all(buf, l, s, &rows) == TC_OK)
            TEST_FAIL_("truncated to %zu of %zu bytes yet read OK", l, len);
    }
    /* bit flips: one, then three bits per file */
    for (int i = 0; i < flips; i++) {
        memcpy(buf, orig, len);
        for (int k = 0; k < 1 + 2 * (i & 1); k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* half of the flips hit the footer, where they do most damage */
            size_t pos = (i & 2) ? len - 1 - (size_t)(x % 20000 % len) : (size_t)(x % len);
            buf[pos] ^= (uint8_t)(1u << (x >> 61));
        }
        if (read_all(buf, len, s, &rows) != TC_OK)
            errors++;
    }
    /* flips must be caught often (many land in values and are undetectable) */
    ASSERT_GT(errors, flips / 20);
    parquet_schema_free(s);
    tc_free(buf);
}

TEST(generated_block_corpus)
{
    size_t len;
    uint8_t *p = generated(&len);

    ASSERT(p != NULL);
    corpus(p, len, 600);
    tc_free(p);
}

TEST(real_blocks_corpus)
{
    TEST_NEED_SHARED(shared);
    const char *vs[] = {"vParquet4", "vParquet3"};

    for (size_t i = 0; i < TC_ARRAY_LEN(vs); i++) {
        char path[1024];
        size_t len;
        uint8_t *p;
        snprintf(path, sizeof(path),
                 "%s/testdata/tempo-blocks/%s/single-tenant/"
                 "b27b0e53-66a0-4505-afd6-434ae3cd4a10/data.parquet",
                 shared, vs[i]);
        p = (uint8_t *)test_slurp(path, &len);
        ASSERT(p != NULL);
        corpus(p, len, 300);
        tc_free(p);
    }
}

TEST(hostile_headers)
{
    /* footer length pointing before the start, a huge list, deep nesting */
    uint8_t f1[] = {'P', 'A', 'R', '1', 0x19, 0xfc, 0xff, 0xff, 0xff, 0x0f,
                    0,   0,   0,   0,   0,    'P',  'A',  'R',  '1'};
    uint8_t f2[64];
    long rows;

    f1[15 - 4] = 0;
    ASSERT_NE(read_all(f1, sizeof(f1), NULL, &rows), TC_OK);
    /* footer: field 2 (schema) = list of 2^30 structs in a tiny buffer */
    memset(f2, 0, sizeof(f2));
    memcpy(f2, "PAR1", 4);
    f2[4] = 0x29;
    f2[5] = 0xfc;
    f2[6] = 0x80;
    f2[7] = 0x80;
    f2[8] = 0x80;
    f2[9] = 0x04;
    f2[56] = 48;
    memcpy(f2 + 60, "PAR1", 4);
    ASSERT_NE(read_all(f2, sizeof(f2), NULL, &rows), TC_OK);
}

TEST_MAIN(TEST_ENTRY(generated_block_corpus), TEST_ENTRY(real_blocks_corpus),
          TEST_ENTRY(hostile_headers))
