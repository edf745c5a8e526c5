/* test_core.c - tc error helpers, allocation wrappers and capped buffers. */
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/tc.h"
#include "test.h"

TEST(strerror_names)
{
    ASSERT_STR_EQ(tc_strerror(TC_OK), "ok");
    ASSERT_STR_EQ(tc_strerror(TC_NOTFOUND), "not found");
    ASSERT_STR_EQ(tc_strerror(-1), "unknown error");
    ASSERT_STR_EQ(tc_strerror(TC__LAST), "unknown error");
}

TEST(err_set_and_prefix)
{
    struct tc_err e;

    tc_err_clear(&e);
    ASSERT_EQ(tc_err_set(&e, TC_INVAL, "bad %s", "x"), TC_INVAL);
    ASSERT_EQ(e.code, TC_INVAL);
    ASSERT_STR_EQ(e.msg, "bad x");
    tc_err_prefix(&e, "file %s", "a.yaml");
    ASSERT_STR_EQ(e.msg, "file a.yaml: bad x");
    ASSERT_EQ(tc_err_set(NULL, TC_IO, "ignored"), TC_IO);
}

/* A deep checkout path plus a field path must survive whole (CI once cut
 * "authSecretRef" off a message at 256 bytes). */
TEST(err_long_messages_whole_or_visibly_cut)
{
    struct tc_err e;
    char path[300], big[2 * TC_ERR_LEN];
    size_t n;

    memset(path, 'd', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    tc_err_set(&e, TC_INVAL, "spec.a.b.c: value must not contain ','; use authSecretRef");
    tc_err_prefix(&e, "%s/cr.yaml: document 1", path);
    ASSERT_EQ(e.code, TC_INVAL);
    n = strlen(e.msg);
    ASSERT_GT(n, 350);
    ASSERT_STR_CONTAINS(e.msg, "; use authSecretRef");
    ASSERT(strstr(e.msg, "...") == NULL);

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tc_err_set(&e, TC_INVAL, "%s", big);
    n = strlen(e.msg);
    ASSERT_EQ(n, TC_ERR_LEN - 1);
    ASSERT_STR_EQ(e.msg + n - 3, "...");
    tc_err_set(&e, TC_INVAL, "short");
    tc_err_prefix(&e, "%s", big);
    ASSERT_EQ(strlen(e.msg), TC_ERR_LEN - 1);
    ASSERT_STR_EQ(e.msg + TC_ERR_LEN - 4, "...");
}

TEST(buf_grows_and_caps)
{
    struct buf b;
    int i;

    buf_init(&b, 100);
    for (i = 0; i < 10; i++)
        ASSERT_OK(buf_printf(&b, "%d234567890", i));
    ASSERT_EQ(b.len, 100);
    ASSERT_EQ(b.data[100], '\0');
    ASSERT_EQ(buf_putc(&b, 'x'), TC_TOOBIG);
    /* a failed append frees and empties the buffer */
    ASSERT_EQ(b.len, 0);
    ASSERT(b.data == NULL);
    ASSERT_OK(buf_puts(&b, "again"));
    ASSERT_STR_EQ(b.data, "again");
    buf_cleanup(&b);
}

TEST(buf_encoders)
{
    struct buf b;
    static const unsigned char want[] = {0x04, 0x03, 0x02, 0x01, 0,    0,    0,
                                         0,    0,    0,    0x01, 0x02, 0xac, 0x02};

    buf_init(&b, 0);
    ASSERT_OK(buf_put_u32le(&b, 0x01020304));
    ASSERT_OK(buf_put_u64be(&b, 0x0102));
    ASSERT_OK(buf_put_uvarint(&b, 300));
    ASSERT_EQ(b.len, sizeof(want));
    ASSERT_MEM_EQ(b.data, want, sizeof(want));
    buf_cleanup(&b);
}

TEST(buf_take_transfers)
{
    struct buf b;
    size_t n = 0;
    char *p;

    buf_init(&b, 0);
    ASSERT_OK(buf_puts(&b, "hello"));
    p = buf_take(&b, &n);
    ASSERT_EQ(n, 5);
    ASSERT_STR_EQ(p, "hello");
    ASSERT(b.data == NULL);
    tc_free(p);
}

TEST(mem_accounting)
{
    size_t before = tc_mem_used();
    char *p = tc_malloc(1000);

    ASSERT(p != NULL);
    ASSERT_GE(tc_mem_used(), before + 1000);
    p = tc_realloc(p, 5000);
    ASSERT(p != NULL);
    ASSERT_GE(tc_mem_used(), before + 5000);
    tc_free(p);
    ASSERT_EQ(tc_mem_used(), before);
    ASSERT(tc_reallocarray(NULL, SIZE_MAX / 2, 4) == NULL);
}

TEST(mem_fault_injection)
{
    char *a, *b;

    /* the variable is read at the first allocation of this fresh child */
    setenv("TC_FAIL_ALLOC_AT", "2", 1);
    a = tc_malloc(10);
    b = tc_malloc(10);
    ASSERT(a != NULL);
    ASSERT(b == NULL);
    tc_free(a);
}

TEST_MAIN(TEST_ENTRY(strerror_names), TEST_ENTRY(err_set_and_prefix),
          TEST_ENTRY(err_long_messages_whole_or_visibly_cut), TEST_ENTRY(buf_grows_and_caps),
          TEST_ENTRY(buf_encoders), TEST_ENTRY(buf_take_transfers), TEST_ENTRY(mem_accounting),
          TEST_ENTRY(mem_fault_injection))
