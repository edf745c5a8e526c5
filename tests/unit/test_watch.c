/* test_watch.c - NDJSON framing under every chunk split; backoff and timeouts. */
#include <jansson.h>

#include "base/buf.h"
#include "test.h"
#include "watch.h"

struct lines {
    struct buf all; /* lines joined with '|' */
    int n;
};

static int
collect(const char *line, size_t len, void *ud)
{
    struct lines *l = ud;
    buf_append(&l->all, line, len);
    buf_putc(&l->all, '|');
    l->n++;
    return 0;
}

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"note\":\"x\\ny\"}}}\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12746\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}\n";

static const char want[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}|"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"note\":\"x\\ny\"}}}|"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12746\"}}}|"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}|";

/* Feeding [0,i) then [i,n) gives the same lines for every i. */
TEST(ndjson_split_at_every_offset)
{
    size_t n = strlen(stream), i;

    for (i = 0; i <= n; i++) {
        struct ndjson nj;
        struct lines l = {.n = 0};
        buf_init(&l.all, 1 << 16);
        ndjson_init(&nj, 4096);
        ASSERT_OK(ndjson_feed(&nj, stream, i, collect, &l));
        ASSERT_OK(ndjson_feed(&nj, stream + i, n - i, collect, &l));
        if (l.n != 4 || strcmp(l.all.data, want) != 0)
            TEST_FAIL_("split at %zu: %d lines: %s", i, l.n, l.all.data);
        ndjson_cleanup(&nj);
        buf_cleanup(&l.all);
    }
}

/* Two cut points (three chunks) at every pair of offsets, and byte-by-byte. */
TEST(ndjson_split_at_every_pair_and_bytewise)
{
    size_t n = strlen(stream), i, j;

    for (i = 0; i <= n; i++)
        for (j = i; j <= n; j++) {
            struct ndjson nj;
            struct lines l = {.n = 0};
            buf_init(&l.all, 1 << 16);
            ndjson_init(&nj, 4096);
            ASSERT_OK(ndjson_feed(&nj, stream, i, collect, &l));
            ASSERT_OK(ndjson_feed(&nj, stream + i, j - i, collect, &l));
            ASSERT_OK(ndjson_feed(&nj, stream + j, n - j, collect, &l));
            if (strcmp(l.all.data, want) != 0)
                TEST_FAIL_("cuts %zu,%zu: %s", i, j, l.all.data);
            ndjson_cleanup(&nj);
            buf_cleanup(&l.all);
        }
    {
        struct ndjson nj;
        struct lines l = {.n = 0};
        buf_init(&l.all, 1 << 16);
        ndjson_init(&nj, 4096);
        for (i = 0; i < n; i++)
            ASSERT_OK(ndjson_feed(&nj, stream + i, 1, collect, &l));
        ASSERT_STR_EQ(l.all.data, want);
        ndjson_cleanup(&nj);
        buf_cleanup(&l.all);
    }
}

TEST(ndjson_partial_line_is_held_back)
{
    struct ndjson nj;
    struct lines l = {.n = 0};

    buf_init(&l.all, 1024);
    ndjson_init(&nj, 4096);
    ASSERT_OK(ndjson_feed(&nj, "{\"a\":1}\n{\"b\":", 13, collect, &l));
    ASSERT_EQ(l.n, 1);
    ASSERT_OK(ndjson_feed(&nj, "2}", 2, collect, &l));
    ASSERT_EQ(l.n, 1); /* no newline yet: not delivered */
    ASSERT_OK(ndjson_feed(&nj, "\n", 1, collect, &l));
    ASSERT_EQ(l.n, 2);
    ASSERT_STR_EQ(l.all.data, "{\"a\":1}|{\"b\":2}|");
    ndjson_cleanup(&nj);
    buf_cleanup(&l.all);
}

TEST(ndjson_caps_line_length)
{
    struct ndjson nj;
    struct lines l = {.n = 0};
    char big[300];

    memset(big, 'x', sizeof(big));
    buf_init(&l.all, 1024);
    ndjson_init(&nj, 256);
    ASSERT_OK(ndjson_feed(&nj, big, 200, collect, &l));
    ASSERT_EQ(ndjson_feed(&nj, big, 100, collect, &l), TC_TOOBIG);
    ASSERT_EQ(l.n, 0);
    ndjson_cleanup(&nj);
    buf_cleanup(&l.all);
}

static int
stop_at_second(const char *line, size_t len, void *ud)
{
    int *n = ud;
    return ++*n == 2 ? 7 : 0;
}

TEST(ndjson_callback_can_stop)
{
    struct ndjson nj;
    int n = 0;

    ndjson_init(&nj, 1024);
    ASSERT_EQ(ndjson_feed(&nj, "a\nb\nc\n", 6, stop_at_second, &n), 7);
    ASSERT_EQ(n, 2);
    ndjson_cleanup(&nj);
}

TEST(backoff_grows_caps_and_jitters)
{
    int i, distinct = 0;
    long prev = -1;

    for (i = 0; i < 200; i++) {
        long d0 = watch_backoff_ms(0, 800, 30000);
        long d3 = watch_backoff_ms(3, 800, 30000);
        long d20 = watch_backoff_ms(20, 800, 30000);
        ASSERT_GE(d0, 800);
        ASSERT_LE(d0, 1600);
        ASSERT_GE(d3, 6400);
        ASSERT_LE(d3, 12800);
        ASSERT_LE(d20, 30000);
        ASSERT_GE(d20, 30000);
        if (d0 != prev)
            distinct++;
        prev = d0;
    }
    ASSERT_GT(distinct, 10); /* jitter really varies */
}

TEST(watch_timeout_in_range)
{
    int i, lo = 0, hi = 0;

    for (i = 0; i < 2000; i++) {
        long t = watch_timeout_s(300, 600);
        ASSERT_GE(t, 300);
        ASSERT_LE(t, 600);
        lo += t < 400;
        hi += t > 500;
    }
    ASSERT_GT(lo, 100);
    ASSERT_GT(hi, 100);
}

TEST_MAIN(TEST_ENTRY(ndjson_split_at_every_offset),
          TEST_ENTRY(ndjson_split_at_every_pair_and_bytewise),
          TEST_ENTRY(ndjson_partial_line_is_held_back), TEST_ENTRY(ndjson_caps_line_length),
          TEST_ENTRY(ndjson_callback_can_stop), TEST_ENTRY(backoff_grows_caps_and_jitters),
          TEST_ENTRY(watch_timeout_in_range))
