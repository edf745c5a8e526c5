/* test_vp4_bloom.c - Tempo's sharded bloom filter, checked byte for byte
 * against the bloom-0 of Tempo's vParquet4 and vParquet3 test blocks. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "parquet/parquet.h"
#include "base/tc.h"
#include "test.h"
#include "tempo/vp4.h"
#include "tempo/vp4_bloom.h"
#include "tools/tools.h"

TEST(murmur3_vectors)
{
    uint64_t h1, h2;

    /* MurmurHash3_x64_128, seed 0 (reference implementation values) */
    vp4_bloom_murmur3_128("", 0, &h1, &h2);
    ASSERT_U64_EQ(h1, 0);
    ASSERT_U64_EQ(h2, 0);
    vp4_bloom_murmur3_128("hello", 5, &h1, &h2);
    ASSERT_U64_EQ(h1, 0xcbd8a7b341bd9b02ULL);
    ASSERT_U64_EQ(h2, 0x5b1e906a48ae1d19ULL);
    vp4_bloom_murmur3_128("The quick brown fox jumps over the lazy dog", 43, &h1, &h2);
    ASSERT_U64_EQ(h1, 0xe34bbc7bbc071b6cULL);
    ASSERT_U64_EQ(h2, 0x7a433ca9c49a9347ULL);
}

TEST(estimate_parameters)
{
    uint64_t m;
    uint32_t k;

    vp4_bloom_estimate(1000, 0.01, &m, &k);
    ASSERT_U64_EQ(m, 9586);
    ASSERT_EQ(k, 7);
}

/* The test blocks' bloom-0 holds the block's 134 trace IDs: rebuilding it
 * from the IDs our reader returns must give the identical file. */
TEST(rebuild_real_bloom_byte_for_byte)
{
    TEST_NEED_SHARED(shared);
    const char *vs[] = {"vParquet4", "vParquet3"};

    for (size_t v = 0; v < TC_ARRAY_LEN(vs); v++) {
        char dir[1024], path[1100];
        uint8_t *file;
        size_t len;
        struct vp4_bloom orig, mine;
        struct tc_err err;
        struct parquet_reader *r;
        struct parquet_cursor *c;
        struct parquet_row row;
        struct buf out;
        int eof = 0, n = 0;

        snprintf(dir, sizeof(dir),
                 "%s/testdata/tempo-blocks/%s/single-tenant/b27b0e53-66a0-4505-afd6-434ae3cd4a10",
                 shared, vs[v]);
        snprintf(path, sizeof(path), "%s/bloom-0", dir);
        file = (uint8_t *)test_slurp(path, &len);
        ASSERT(file != NULL);
        ASSERT_EQ(len, 102424);
        ASSERT_OK(vp4_bloom_unmarshal(&orig, file, len, &err));
        ASSERT_U64_EQ(orig.m, 819200);
        ASSERT_OK(vp4_bloom_init_raw(&mine, 1, orig.m, orig.k));
        snprintf(path, sizeof(path), "%s/data.parquet", dir);
        ASSERT_OK(parquet_reader_open(&r, path, &err));
        ASSERT_OK(parquet_cursor_new(&c, r, &err));
        for (;;) {
            const uint8_t *id;
            uint32_t il;
            ASSERT_OK(parquet_cursor_next(c, &row, &eof, &err));
            if (eof)
                break;
            id = parquet_row_bytes(&row, 0, &il);
            ASSERT(vp4_bloom_test_shard(&orig, id, il));
            vp4_bloom_add(&mine, id, il);
            n++;
        }
        ASSERT_EQ(n, 134);
        buf_init(&out, 0);
        ASSERT_OK(vp4_bloom_marshal(&mine, 0, &out));
        ASSERT_EQ(out.len, len);
        ASSERT_MEM_EQ(out.data, file, len);
        /* an ID that is not in the block */
        ASSERT(!vp4_bloom_test_shard(&orig, (const uint8_t *)"not-a-trace-id!!", 16) ||
               !vp4_bloom_test_shard(&orig, (const uint8_t *)"another-missing!", 16));
        buf_cleanup(&out);
        parquet_cursor_free(c);
        parquet_reader_free(r);
        vp4_bloom_cleanup(&orig);
        vp4_bloom_cleanup(&mine);
        tc_free(file);
    }
}

TEST(common_test_shards_roundtrip)
{
    TEST_NEED_SHARED(shared);

    for (int i = 0; i < 3; i++) {
        char path[1024];
        uint8_t *file;
        size_t len;
        struct vp4_bloom b;
        struct tc_err err;
        struct buf out;
        snprintf(path, sizeof(path), "%s/testdata/tempo-blocks/common-bloom-shards/bloom-%d",
                 shared, i);
        file = (uint8_t *)test_slurp(path, &len);
        ASSERT(file != NULL);
        ASSERT_OK(vp4_bloom_unmarshal(&b, file, len, &err));
        ASSERT_U64_EQ(b.m, 160);
        ASSERT_EQ(b.k, 7);
        buf_init(&out, 0);
        ASSERT_OK(vp4_bloom_marshal(&b, 0, &out));
        ASSERT_EQ(out.len, len);
        ASSERT_MEM_EQ(out.data, file, len);
        vp4_bloom_cleanup(&b);
        /* every truncation is rejected */
        for (size_t l = 0; l < len; l++)
            ASSERT_NE(vp4_bloom_unmarshal(&b, file, l, &err), TC_OK);
        buf_cleanup(&out);
        tc_free(file);
    }
}

TEST(sharding_and_sizing)
{
    struct vp4_bloom b;
    uint8_t id[16];
    int fp = 0;

    /* 100k objects at 1% with 100 KiB shards: Tempo's defaults */
    ASSERT_OK(vp4_bloom_init(&b, 0.01, 102400, 100000));
    ASSERT_EQ(b.shards, 2);
    ASSERT_EQ(b.k, 7);
    ASSERT_U64_EQ(b.m, 819200);
    for (uint32_t i = 0; i < 100000; i++) {
        memset(id, 0, sizeof(id));
        memcpy(id + 8, &i, 4);
        vp4_bloom_add(&b, id, 16);
    }
    for (uint32_t i = 0; i < 100000; i++) {
        memset(id, 0, sizeof(id));
        memcpy(id + 8, &i, 4);
        ASSERT(vp4_bloom_test(&b, id, 16));
        id[0] = 1; /* never added */
        fp += vp4_bloom_test(&b, id, 16);
    }
    /* the shards are bigger than the estimate asks, so well under 1% */
    ASSERT_LT(fp, 1000);
    vp4_bloom_cleanup(&b);
    ASSERT_OK(vp4_bloom_init(&b, 0.01, 100, 100000000));
    ASSERT_EQ(b.shards, VP4_BLOOM_MAX_SHARDS);
    vp4_bloom_cleanup(&b);
}

/* A generated block's bloom-N files hold every trace ID in its shard. */
TEST(generated_block_blooms)
{
    const char *tmp = test_tmpdir();
    char dir[600], path[700];
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct tc_err err;
    struct vp4_bloom sh[4];
    struct parquet_reader *r;
    struct parquet_cursor *c;
    struct parquet_row row;
    uint32_t nsh = 0;
    int eof = 0, n = 0;

    snprintf(dir, sizeof(dir), "%s/blk", tmp);
    vp4_gen_opts_default(&o);
    o.dir = dir;
    o.traces = 120000; /* two shards at 1% with 100 KiB shards */
    o.max_spans = 1;
    ASSERT_OK(vp4_gen_block(&o, &res, &err));
    for (nsh = 0; nsh < 4; nsh++) {
        uint8_t *file;
        size_t len;
        snprintf(path, sizeof(path), "%s/bloom-%u", dir, nsh);
        if (access(path, F_OK) != 0)
            break; /* the shard count is what the case checks */
        file = (uint8_t *)test_slurp(path, &len);
        ASSERT_OK(vp4_bloom_unmarshal(&sh[nsh], file, len, &err));
        tc_free(file);
    }
    ASSERT_EQ(nsh, 2);
    snprintf(path, sizeof(path), "%s/data.parquet", dir);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    ASSERT_OK(parquet_cursor_new(&c, r, &err));
    for (;;) {
        const uint8_t *id;
        uint32_t il;
        ASSERT_OK(parquet_cursor_next(c, &row, &eof, &err));
        if (eof)
            break;
        id = parquet_row_bytes(&row, 0, &il);
        ASSERT(vp4_bloom_test_shard(&sh[vp4_bloom_shard(id, il, nsh)], id, il));
        n++;
    }
    ASSERT_EQ(n, 120000);
    for (uint32_t i = 0; i < nsh; i++)
        vp4_bloom_cleanup(&sh[i]);
    parquet_cursor_free(c);
    parquet_reader_free(r);
}

TEST_MAIN(TEST_ENTRY(murmur3_vectors), TEST_ENTRY(generated_block_blooms),
          TEST_ENTRY(estimate_parameters), TEST_ENTRY(rebuild_real_bloom_byte_for_byte),
          TEST_ENTRY(common_test_shards_roundtrip), TEST_ENTRY(sharding_and_sizing))
