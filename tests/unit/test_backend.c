/* test_backend.c - key validation and the local backend. */
#include "backend/backend.h"
#include "base/mem.h"
#include "base/tc.h"
#include "test.h"

TEST(hostile_keys_refused)
{
    struct tc_err err = {0};
    const char *dir = test_tmpdir();
    struct backend *b = backend_local_new(dir, &err);
    struct buf out;
    static const char *const bad[] = {
        "../x", "a/../../etc/passwd", "/etc/passwd", "a//b", "a/./b", "a/b/..", "",
        "a\\b", "a/\x01/b",           "a/b/"};
    size_t i;

    ASSERT(b != NULL);
    buf_init(&out, 0);
    for (i = 0; i < TC_ARRAY_LEN(bad); i++) {
        if (backend_get(b, bad[i], 0, 0, 0, &out, NULL, &err) != TC_INVAL)
            TEST_FAIL_("key \"%s\" accepted", bad[i]);
        ASSERT_EQ(backend_put(b, bad[i], "x", 1, &err), TC_INVAL);
        ASSERT_EQ(backend_delete(b, bad[i], &err), TC_INVAL);
    }
    ASSERT_EQ(backend_valid_tenant("../x", &err), TC_INVAL);
    ASSERT_EQ(backend_valid_tenant("..", &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "escape");
    ASSERT_EQ(backend_valid_tenant("", &err), TC_INVAL);
    ASSERT_EQ(backend_valid_tenant("a/b", &err), TC_INVAL);
    ASSERT_OK(backend_valid_tenant("single-tenant", &err));
    ASSERT_OK(backend_valid_tenant("t..1", &err));
    ASSERT_EQ(backend_copy(b, "a/b", "../c", &err), TC_INVAL);
    buf_cleanup(&out);
    backend_free(b);
}

static int
collect(const struct backend_object *o, void *ud)
{
    struct buf *b = ud;

    return buf_printf(b, "%s:%llu;", o->key, (unsigned long long)o->size);
}

TEST(local_ops)
{
    struct tc_err err = {0};
    const char *dir = test_tmpdir();
    struct backend *b = backend_local_new(dir, &err);
    struct buf out, found;
    struct backend_strlist ten = {0};
    struct backend_blocks bb = {0};
    int64_t mtime = 0;
    void *h;
    char path[600];
    struct stat st;

    buf_init(&out, 0);
    ASSERT_OK(backend_put(b, "t1/11111111-1111-4111-8111-111111111111/meta.json", "{}", 2, &err));
    ASSERT_OK(backend_put(b, "t1/22222222-2222-4222-8222-222222222222/meta.compacted.json", "{}", 2,
                          &err));
    ASSERT_OK(backend_put(b, "t1/22222222-2222-4222-8222-222222222222/bloom-0", "b", 1, &err));
    ASSERT_OK(
        backend_append_begin(b, "t1/11111111-1111-4111-8111-111111111111/data.parquet", &h, &err));
    ASSERT_OK(backend_append(b, h, "PAR1", 4, &err));
    /* Not visible before end(). */
    ASSERT_EQ(backend_get(b, "t1/11111111-1111-4111-8111-111111111111/data.parquet", 0, 0, 0, &out,
                          NULL, &err),
              TC_NOTFOUND);
    ASSERT_OK(backend_append(b, h, "abcdPAR1", 8, &err));
    ASSERT_OK(backend_append_end(b, h, &err));
    ASSERT_OK(backend_get(b, "t1/11111111-1111-4111-8111-111111111111/data.parquet", 4, 4, 0, &out,
                          &mtime, &err));
    ASSERT_STR_EQ(out.data, "abcd");
    ASSERT(mtime > 1700000000);
    buf_reset(&out);
    ASSERT_EQ(backend_get(b, "t1/11111111-1111-4111-8111-111111111111/data.parquet", 0, 0, 5, &out,
                          NULL, &err),
              TC_TOOBIG);
    ASSERT_OK(backend_put(b, "t2/x", "y", 1, &err));
    ASSERT_OK(backend_tenants(b, &ten, &err));
    ASSERT_EQ(ten.n, 2);
    ASSERT_OK(backend_blocks(b, "t1", &bb, &err));
    ASSERT_EQ(bb.nlive, 1);
    ASSERT_EQ(bb.ncompacted, 1);
    ASSERT_EQ(bb.objects, 4);
    ASSERT_OK(backend_copy(b, "t1/22222222-2222-4222-8222-222222222222/bloom-0",
                           "t1/22222222-2222-4222-8222-222222222222/bloom-1", &err));
    buf_init(&found, 0);
    ASSERT_OK(backend_find(b, "t1/22222222-2222-4222-8222-222222222222/", collect, &found, &err));
    ASSERT_STR_CONTAINS(found.data, "t1/22222222-2222-4222-8222-222222222222/bloom-1:1;");
    ASSERT_STR_CONTAINS(found.data, "t1/22222222-2222-4222-8222-222222222222/bloom-0:1;");
    ASSERT_EQ(backend_delete(b, "t2/nope", &err), TC_NOTFOUND);
    ASSERT_OK(backend_delete(b, "t2/x", &err));
    snprintf(path, sizeof(path), "%s/t2", dir);
    ASSERT_NE(stat(path, &st), 0); /* empty dirs go away */
    ASSERT_GE(backend_requests(b, BACKEND_OP_GET), 3);
    buf_cleanup(&found);
    buf_cleanup(&out);
    backend_strlist_cleanup(&ten);
    backend_blocks_cleanup(&bb);
    backend_free(b);
}

TEST(shard_bounds_like_tempo)
{
    uint8_t b3[4][16], b1[2][16], b16[17][16];
    static const uint8_t third[16] = {0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};
    uint8_t ff[16];

    memset(ff, 0xff, 16);
    backend_shard_bounds(3, b3);
    ASSERT_MEM_EQ(b3[1], third, 16);
    ASSERT_EQ(b3[2][0], 0xaa);
    ASSERT_EQ(b3[2][8], 0);
    ASSERT_MEM_EQ(b3[3], ff, 16);
    backend_shard_bounds(1, b1);
    ASSERT_EQ(b1[0][0], 0);
    ASSERT_MEM_EQ(b1[1], ff, 16);
    backend_shard_bounds(16, b16);
    /* 2^64-1 = 16 * 0x0fff.. + 15: the first 15 buckets are one larger. */
    ASSERT_EQ(b16[1][0], 0x10);
    ASSERT_EQ(b16[1][7], 0x00);
    ASSERT_EQ(b16[15][0], 0xf0);
    ASSERT_EQ(b16[15][7], 0x00);
}

TEST_MAIN(TEST_ENTRY(hostile_keys_refused), TEST_ENTRY(local_ops),
          TEST_ENTRY(shard_bounds_like_tempo))
