/* test_thrift.c - Thrift compact protocol reader/writer. */
#include <string.h>

#include "base/buf.h"
#include "base/tc.h"
#include "test.h"
#include "parquet/thrift.h"

TEST(roundtrip_struct)
{
    struct buf b;
    struct thrift_w w;
    struct thrift_r r;
    int t, id, et;
    int32_t v32;
    int64_t v64;
    uint32_t n;
    const uint8_t *p;

    buf_init(&b, 0);
    thrift_w_init(&w, &b);
    thrift_w_struct_begin(&w);
    thrift_w_field_i32(&w, 1, -7);
    thrift_w_field_i64(&w, 3, INT64_MIN);
    thrift_w_field_binary(&w, 40, "abc", 3); /* long id delta: zigzag form */
    thrift_w_field(&w, THRIFT_LIST, 41);
    thrift_w_list(&w, THRIFT_I32, 20);
    for (int i = 0; i < 20; i++)
        thrift_w_i32(&w, i * 1000);
    thrift_w_field_bool(&w, 42, 1);
    thrift_w_struct_end(&w);
    ASSERT_OK(w.rc);

    thrift_r_init(&r, b.data, b.len);
    ASSERT_OK(thrift_struct_begin(&r));
    ASSERT_OK(thrift_field_next(&r, &t, &id));
    ASSERT_EQ(id, 1);
    ASSERT_OK(thrift_read_i32(&r, &v32));
    ASSERT_EQ(v32, -7);
    ASSERT_OK(thrift_field_next(&r, &t, &id));
    ASSERT_EQ(id, 3);
    ASSERT_OK(thrift_read_i64(&r, &v64));
    ASSERT(v64 == INT64_MIN);
    ASSERT_OK(thrift_field_next(&r, &t, &id));
    ASSERT_EQ(id, 40);
    ASSERT_OK(thrift_read_binary(&r, &p, &n));
    ASSERT_EQ(n, 3);
    ASSERT_MEM_EQ(p, "abc", 3);
    ASSERT_OK(thrift_field_next(&r, &t, &id));
    ASSERT_EQ(id, 41);
    ASSERT_OK(thrift_read_list(&r, &et, &n));
    ASSERT_EQ(n, 20);
    ASSERT_EQ(et, THRIFT_I32);
    for (int i = 0; i < 20; i++) {
        ASSERT_OK(thrift_read_i32(&r, &v32));
        ASSERT_EQ(v32, i * 1000);
    }
    ASSERT_OK(thrift_field_next(&r, &t, &id));
    ASSERT_EQ(id, 42);
    ASSERT_EQ(thrift_bool_field(t), 1);
    ASSERT_OK(thrift_field_next(&r, &t, &id));
    ASSERT_EQ(t, THRIFT_STOP);
    ASSERT_OK(thrift_struct_end(&r));
    ASSERT_EQ(thrift_r_pos(&r), b.len);

    /* skip() walks the same bytes */
    thrift_r_init(&r, b.data, b.len);
    ASSERT_OK(thrift_skip(&r, THRIFT_STRUCT));
    ASSERT_EQ(thrift_r_pos(&r), b.len);
    buf_cleanup(&b);
}

TEST(truncation_is_an_error_at_every_length)
{
    struct buf b;
    struct thrift_w w;

    buf_init(&b, 0);
    thrift_w_init(&w, &b);
    thrift_w_struct_begin(&w);
    thrift_w_field_binary(&w, 1, "hello world", 11);
    thrift_w_field(&w, THRIFT_STRUCT, 2);
    thrift_w_struct_begin(&w);
    thrift_w_field_i64(&w, 1, 1234567890123LL);
    thrift_w_struct_end(&w);
    thrift_w_struct_end(&w);
    ASSERT_OK(w.rc);
    for (size_t len = 0; len < b.len; len++) {
        struct thrift_r r;
        thrift_r_init(&r, b.data, len);
        ASSERT_EQ(thrift_skip(&r, THRIFT_STRUCT), TC_PARSE);
    }
    buf_cleanup(&b);
}

TEST(depth_is_capped)
{
    uint8_t deep[200];
    struct thrift_r r;

    /* field 1 of type struct, nested 200 times: must fail, not recurse */
    memset(deep, 0x1c, sizeof(deep));
    thrift_r_init(&r, deep, sizeof(deep));
    ASSERT_EQ(thrift_skip(&r, THRIFT_STRUCT), TC_PARSE);
}

TEST(list_size_bounded_by_input)
{
    /* a list header claiming 2^31 elements in a 6-byte input */
    const uint8_t in[] = {0xf5, 0x80, 0x80, 0x80, 0x80, 0x08};
    struct thrift_r r;
    int et;
    uint32_t n;

    thrift_r_init(&r, in, sizeof(in));
    ASSERT_EQ(thrift_read_list(&r, &et, &n), TC_PARSE);
}

TEST_MAIN(TEST_ENTRY(roundtrip_struct), TEST_ENTRY(truncation_is_an_error_at_every_length),
          TEST_ENTRY(depth_is_capped), TEST_ENTRY(list_size_bounded_by_input))
