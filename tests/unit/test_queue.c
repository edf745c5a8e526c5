/* test_queue.c - work queue: dedupe, in-flight re-add, per-key backoff, delays. */
#include <pthread.h>
#include <time.h>

#include "queue.h"
#include "test.h"

TEST(dedupe_and_fifo)
{
    struct queue q;
    char k[64];

    queue_init(&q, 10, 1000);
    queue_add(&q, "ns/a");
    queue_add(&q, "ns/b");
    queue_add(&q, "ns/a");
    queue_add(&q, "ns/a");
    ASSERT_EQ(queue_len(&q), 2);
    ASSERT_EQ(queue_get(&q, k, sizeof(k)), 0);
    ASSERT_STR_EQ(k, "ns/a");
    ASSERT_EQ(queue_get(&q, k, sizeof(k)), 0);
    ASSERT_STR_EQ(k, "ns/b");
    ASSERT_EQ(queue_get_timeout(&q, k, sizeof(k), 20), 1);
    queue_done(&q, "ns/a");
    queue_done(&q, "ns/b");
    queue_cleanup(&q);
}

/* A key added while a worker holds it runs again after done(), never twice at once. */
TEST(readd_while_processing)
{
    struct queue q;
    char k[64];

    queue_init(&q, 10, 1000);
    queue_add(&q, "x");
    ASSERT_EQ(queue_get(&q, k, sizeof(k)), 0);
    queue_add(&q, "x");
    queue_add(&q, "x");
    ASSERT_EQ(queue_len(&q), 0); /* not handed to a second worker */
    ASSERT_EQ(queue_get_timeout(&q, k, sizeof(k), 20), 1);
    queue_done(&q, "x");
    ASSERT_EQ(queue_len(&q), 1);
    ASSERT_EQ(queue_get(&q, k, sizeof(k)), 0);
    ASSERT_STR_EQ(k, "x");
    queue_done(&q, "x");
    ASSERT_EQ(queue_len(&q), 0);
    queue_cleanup(&q);
}

/* A worker schedules a periodic re-check (add_after) before done(); an
 * event that arrived while it worked must still run right away. */
TEST(dirty_wins_over_scheduled_recheck)
{
    struct queue q;
    char k[64];

    queue_init(&q, 10, 1000);
    queue_add(&q, "x");
    ASSERT_EQ(queue_get(&q, k, sizeof(k)), 0);
    queue_add(&q, "x");              /* event during processing */
    queue_add_after(&q, "x", 60000); /* the worker's periodic re-check */
    queue_done(&q, "x");
    ASSERT_EQ(queue_get_timeout(&q, k, sizeof(k), 200), 0);
    ASSERT_STR_EQ(k, "x");
    queue_done(&q, "x");
    queue_cleanup(&q);
}

TEST(per_key_backoff_grows_and_forget_resets)
{
    struct queue q;
    char k[64];
    long t0, dt;
    int i;

    queue_init(&q, 20, 1000);
    for (i = 0; i < 3; i++) {
        t0 = tc_now_ms();
        queue_add_backoff(&q, "k");
        ASSERT_EQ(queue_get(&q, k, sizeof(k)), 0);
        dt = tc_now_ms() - t0;
        ASSERT_GE(dt, (20 << i) - 2);
        ASSERT_LT(dt, (20 << i) + 200);
        queue_done(&q, "k");
    }
    ASSERT_EQ(queue_failures(&q, "k"), 3);
    queue_forget(&q, "k");
    ASSERT_EQ(queue_failures(&q, "k"), 0);
    /* another key is not slowed down by k's failures */
    t0 = tc_now_ms();
    queue_add(&q, "other");
    ASSERT_EQ(queue_get(&q, k, sizeof(k)), 0);
    ASSERT_LT(tc_now_ms() - t0, 20);
    queue_done(&q, "other");
    queue_cleanup(&q);
}

TEST(delayed_order_and_immediate_wins)
{
    struct queue q;
    char k[64];

    queue_init(&q, 10, 1000);
    queue_add_after(&q, "late", 80);
    queue_add_after(&q, "soon", 20);
    queue_add_after(&q, "now", 200);
    queue_add(&q, "now"); /* an immediate add overrides a pending delay */
    ASSERT_EQ(queue_get(&q, k, sizeof(k)), 0);
    ASSERT_STR_EQ(k, "now");
    queue_done(&q, "now");
    ASSERT_EQ(queue_get(&q, k, sizeof(k)), 0);
    ASSERT_STR_EQ(k, "soon");
    queue_done(&q, "soon");
    ASSERT_EQ(queue_get(&q, k, sizeof(k)), 0);
    ASSERT_STR_EQ(k, "late");
    queue_done(&q, "late");
    ASSERT_EQ(queue_get_timeout(&q, k, sizeof(k), 300), 1); /* "now" delay was dropped */
    queue_cleanup(&q);
}

static void *
getter(void *arg)
{
    char k[64];
    return (void *)(long)queue_get((struct queue *)arg, k, sizeof(k));
}

TEST(shutdown_wakes_waiters)
{
    struct queue q;
    pthread_t t;
    void *ret;

    queue_init(&q, 10, 1000);
    pthread_create(&t, NULL, getter, &q);
    usleep(20000);
    queue_shutdown(&q);
    pthread_join(t, &ret);
    ASSERT_EQ((long)ret, -1);
    queue_cleanup(&q);
}

TEST(many_keys)
{
    struct queue q;
    char k[64];
    int i, n = 0;

    queue_init(&q, 10, 1000);
    for (i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "ns/cr-%d", i % 1000);
        queue_add(&q, k);
    }
    ASSERT_EQ(queue_len(&q), 1000);
    while (queue_get_timeout(&q, k, sizeof(k), 0) == 0) {
        queue_done(&q, k);
        n++;
    }
    ASSERT_EQ(n, 1000);
    queue_cleanup(&q);
}

TEST_MAIN(TEST_ENTRY(dedupe_and_fifo), TEST_ENTRY(readd_while_processing),
          TEST_ENTRY(dirty_wins_over_scheduled_recheck),
          TEST_ENTRY(per_key_backoff_grows_and_forget_resets),
          TEST_ENTRY(delayed_order_and_immediate_wins), TEST_ENTRY(shutdown_wakes_waiters),
          TEST_ENTRY(many_keys))
