/* test_pool.c - worker pool: each item once, bounded threads, stop, failed thread creation. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "base/pool.h"
#include "test.h"

/* The Makefile links this binary with --wrap=pthread_create, so the pool's
 * thread creation can be made to fail: with create_limit >= 0 only that many
 * calls succeed. */
int __real_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);
static atomic_int create_limit = -1;
static atomic_int create_calls;

int
__wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    int n = atomic_fetch_add(&create_calls, 1), limit = atomic_load(&create_limit);

    if (limit >= 0 && n >= limit)
        return EAGAIN;
    return __real_pthread_create(th, attr, fn, arg);
}

#define MAX_ITEMS 2000

struct rec {
    atomic_int runs[MAX_ITEMS];
    pthread_t who[MAX_ITEMS];
    atomic_int cur, max;
    long sleep_us;
    size_t stop_after; /* stop once this many items have started (0: never) */
    atomic_size_t started;
    atomic_int stop;
};

static void
nap(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void
rec_item(void *arg, size_t i)
{
    struct rec *r = arg;
    int cur = atomic_fetch_add(&r->cur, 1) + 1, m = atomic_load(&r->max);

    while (cur > m && !atomic_compare_exchange_weak(&r->max, &m, cur))
        ;
    atomic_fetch_add(&r->runs[i], 1);
    r->who[i] = pthread_self();
    if (r->stop_after && atomic_fetch_add(&r->started, 1) + 1 >= r->stop_after)
        atomic_store(&r->stop, 1);
    if (r->sleep_us)
        nap(r->sleep_us);
    atomic_fetch_sub(&r->cur, 1);
}

static int
rec_stop(void *arg)
{
    struct rec *r = arg;

    return atomic_load(&r->stop);
}

static struct rec *
rec_new(void)
{
    struct rec *r = tc_calloc(1, sizeof(*r));

    ASSERT(r != NULL);
    return r;
}

/* How many different threads ran items [0, n). */
static size_t
rec_threads(const struct rec *r, size_t n)
{
    size_t i, j, k = 0;

    for (i = 0; i < n; i++) {
        for (j = 0; j < i && !pthread_equal(r->who[j], r->who[i]); j++)
            ;
        if (j == i)
            k++;
    }
    return k;
}

/* Items [0, ran) ran exactly once and no item after them ran. */
static void
assert_ran_prefix(struct rec *r, size_t ran)
{
    size_t i;

    for (i = 0; i < MAX_ITEMS; i++)
        ASSERT_EQ(atomic_load(&r->runs[i]), i < ran ? 1 : 0);
}

/* Every one of items [0, n) ran on the calling thread. */
static void
assert_all_on_caller(const struct rec *r, size_t n)
{
    ASSERT_EQ(rec_threads(r, n), 1);
    ASSERT(pthread_equal(r->who[0], pthread_self()));
}

TEST(every_item_exactly_once)
{
    struct rec *r = rec_new();

    ASSERT_EQ(pool_run(4, MAX_ITEMS, rec_item, NULL, r), MAX_ITEMS);
    assert_ran_prefix(r, MAX_ITEMS);
    ASSERT_EQ(atomic_load(&r->cur), 0);
    ASSERT_EQ(atomic_load(&create_calls), 3); /* the caller is the fourth */
    tc_free(r);
}

TEST(more_threads_than_items)
{
    struct rec *r = rec_new();

    ASSERT_EQ(pool_run(16, 3, rec_item, NULL, r), 3);
    assert_ran_prefix(r, 3);
    ASSERT_EQ(atomic_load(&create_calls), 2); /* no thread without an item */
    tc_free(r);
}

TEST(zero_items_and_zero_threads)
{
    struct rec *r = rec_new();

    ASSERT_EQ(pool_run(8, 0, rec_item, NULL, r), 0);
    ASSERT_EQ(atomic_load(&create_calls), 0);
    assert_ran_prefix(r, 0);
    /* 0 threads means the caller alone, not nothing. */
    ASSERT_EQ(pool_run(0, 5, rec_item, NULL, r), 5);
    ASSERT_EQ(atomic_load(&create_calls), 0);
    assert_ran_prefix(r, 5);
    assert_all_on_caller(r, 5);
    tc_free(r);
}

TEST(stop_on_one_thread_is_exact)
{
    struct rec *r = rec_new();

    r->stop_after = 10;
    ASSERT_EQ(pool_run(1, 100, rec_item, rec_stop, r), 10);
    assert_ran_prefix(r, 10);
    tc_free(r);
}

/* With several threads the items in flight finish, nothing new starts, and
 * what ran is a prefix: an item handed out always runs. */
TEST(stop_with_threads_runs_a_prefix)
{
    struct rec *r = rec_new();
    size_t ran;

    r->stop_after = 20;
    r->sleep_us = 1000;
    ran = pool_run(4, 500, rec_item, rec_stop, r);
    ASSERT_GE(ran, 20);
    ASSERT_LE(ran, 20 + 3);
    assert_ran_prefix(r, ran);
    tc_free(r);
}

TEST(stop_before_start_runs_nothing)
{
    struct rec *r = rec_new();

    atomic_store(&r->stop, 1);
    ASSERT_EQ(pool_run(4, 50, rec_item, rec_stop, r), 0);
    assert_ran_prefix(r, 0);
    tc_free(r);
}

TEST(concurrency_is_bounded)
{
    struct rec *r = rec_new();

    r->sleep_us = 2000;
    ASSERT_EQ(pool_run(3, 60, rec_item, NULL, r), 60);
    assert_ran_prefix(r, 60);
    ASSERT_LE(atomic_load(&r->max), 3);
    ASSERT_GE(atomic_load(&r->max), 2); /* and the threads really overlap */
    ASSERT_LE(rec_threads(r, 60), 3);
    tc_free(r);
}

TEST(no_thread_starts_everything_runs_on_caller)
{
    struct rec *r = rec_new();

    atomic_store(&create_limit, 0);
    ASSERT_EQ(pool_run(8, 40, rec_item, NULL, r), 40);
    ASSERT_GE(atomic_load(&create_calls), 1);
    assert_ran_prefix(r, 40);
    assert_all_on_caller(r, 40);
    tc_free(r);
}

TEST(some_threads_start_nothing_lost)
{
    struct rec *r = rec_new();

    atomic_store(&create_limit, 1);
    r->sleep_us = 500;
    ASSERT_EQ(pool_run(8, 40, rec_item, NULL, r), 40);
    assert_ran_prefix(r, 40);
    ASSERT_LE(atomic_load(&r->max), 2);
    ASSERT_LE(rec_threads(r, 40), 2);
    tc_free(r);
}

TEST(thread_array_allocation_fails_runs_on_caller)
{
    static struct rec r; /* not from tc_*, so the pool's array is the first allocation */

    /* read at the first allocation of this fresh child */
    setenv("TC_FAIL_ALLOC_AT", "1", 1);
    ASSERT_EQ(pool_run(4, 30, rec_item, NULL, &r), 30);
    ASSERT_EQ(atomic_load(&create_calls), 0);
    assert_ran_prefix(&r, 30);
    assert_all_on_caller(&r, 30);
}

/* Long-lived workers: all run at once, each until the caller says stop. */
struct crew {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, stop;
    atomic_int seen[8];
};

static void
crew_worker(void *arg, size_t w)
{
    struct crew *c = arg;

    atomic_fetch_add(&c->seen[w], 1);
    pthread_mutex_lock(&c->mu);
    c->running++;
    pthread_cond_broadcast(&c->cv);
    while (!c->stop)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static void
crew_stop(struct crew *c)
{
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

TEST(long_lived_workers_run_together)
{
    struct crew c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    struct tc_err err = {0};
    struct pool *p = pool_new(3, crew_worker, &c, &err);
    int i;

    ASSERT(p != NULL);
    ASSERT_EQ(pool_threads(p), 3);
    pthread_mutex_lock(&c.mu);
    while (c.running < 3) /* hangs (test timeout) if they do not overlap */
        pthread_cond_wait(&c.cv, &c.mu);
    pthread_mutex_unlock(&c.mu);
    crew_stop(&c);
    pool_free(p);
    for (i = 0; i < 8; i++)
        ASSERT_EQ(atomic_load(&c.seen[i]), i < 3 ? 1 : 0);
    pool_free(NULL);
}

TEST(long_lived_with_fewer_threads_still_runs_every_worker)
{
    struct crew c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    struct tc_err err = {0};
    struct pool *p;
    int i;

    atomic_store(&create_limit, 1);
    p = pool_new(3, crew_worker, &c, &err);
    ASSERT(p != NULL);
    ASSERT_EQ(pool_threads(p), 1);
    crew_stop(&c);
    pool_free(p);
    for (i = 0; i < 8; i++)
        ASSERT_EQ(atomic_load(&c.seen[i]), i < 3 ? 1 : 0);
}

TEST(long_lived_without_threads_fails)
{
    struct crew c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    struct tc_err err = {0};
    size_t before = tc_mem_used();

    atomic_store(&create_limit, 0);
    ASSERT(pool_new(2, crew_worker, &c, &err) == NULL);
    ASSERT_EQ(err.code, TC_ERR);
    ASSERT_STR_CONTAINS(err.msg, "cannot start");
    ASSERT_EQ(atomic_load(&c.seen[0]), 0);
    ASSERT_EQ(tc_mem_used(), before);
}

TEST_MAIN(TEST_ENTRY(every_item_exactly_once), TEST_ENTRY(more_threads_than_items),
          TEST_ENTRY(zero_items_and_zero_threads), TEST_ENTRY(stop_on_one_thread_is_exact),
          TEST_ENTRY(stop_with_threads_runs_a_prefix), TEST_ENTRY(stop_before_start_runs_nothing),
          TEST_ENTRY(concurrency_is_bounded),
          TEST_ENTRY(no_thread_starts_everything_runs_on_caller),
          TEST_ENTRY(some_threads_start_nothing_lost),
          TEST_ENTRY(thread_array_allocation_fails_runs_on_caller),
          TEST_ENTRY(long_lived_workers_run_together),
          TEST_ENTRY(long_lived_with_fewer_threads_still_runs_every_worker),
          TEST_ENTRY(long_lived_without_threads_fails))
