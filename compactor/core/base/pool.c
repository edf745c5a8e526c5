/* pool.c - bounded worker threads over numbered items (see pool.h). */
#include "base/pool.h"

#include <pthread.h>
#include <stdatomic.h>

#include "base/mem.h"

struct pool {
    pool_item_fn fn;
    pool_stop_fn stop;
    void *arg;
    size_t n;           /* items */
    atomic_size_t next; /* the next item to hand out */
    atomic_size_t ran;
    pthread_t *th;
    size_t nth; /* threads started */
};

/* Every thread of a pool, the pool_run() caller too, runs this loop. */
static void *
pool_thread(void *v)
{
    struct pool *p = v;

    for (;;) {
        size_t i;

        if (p->stop && p->stop(p->arg))
            break;
        i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        p->fn(p->arg, i);
        atomic_fetch_add(&p->ran, 1);
    }
    return NULL;
}

/* Starts up to n threads; returns how many started. A failure to allocate
 * or create just stops early: the threads already running take the rest. */
static size_t
pool_start(struct pool *p, size_t n)
{
    p->th = tc_calloc(n, sizeof(*p->th));
    if (p->th == NULL)
        return 0;
    while (p->nth < n && pthread_create(&p->th[p->nth], NULL, pool_thread, p) == 0)
        p->nth++;
    return p->nth;
}

static void
pool_join(struct pool *p)
{
    size_t i;

    for (i = 0; i < p->nth; i++)
        pthread_join(p->th[i], NULL);
    tc_free(p->th);
    p->th = NULL;
    p->nth = 0;
}

size_t
pool_run(size_t n_threads, size_t n_items, pool_item_fn fn, pool_stop_fn stop, void *arg)
{
    struct pool p = {.fn = fn, .stop = stop, .arg = arg, .n = n_items};

    atomic_init(&p.next, 0);
    atomic_init(&p.ran, 0);
    if (n_threads > n_items)
        n_threads = n_items;
    if (n_threads > 1)
        pool_start(&p, n_threads - 1);
    pool_thread(&p);
    pool_join(&p);
    return atomic_load(&p.ran);
}

struct pool *
pool_new(size_t n_threads, pool_item_fn fn, void *arg, struct tc_err *err)
{
    struct pool *p = tc_calloc(1, sizeof(*p));

    if (p == NULL)
        return tc_err_set(err, TC_NOMEM, "pool: out of memory"), NULL;
    p->fn = fn;
    p->arg = arg;
    p->n = n_threads < 1 ? 1 : n_threads;
    atomic_init(&p->next, 0);
    atomic_init(&p->ran, 0);
    if (pool_start(p, p->n) == 0) {
        tc_err_set(err, TC_ERR, "pool: cannot start any of %zu threads", p->n);
        tc_free(p->th);
        tc_free(p);
        return NULL;
    }
    return p;
}

size_t
pool_threads(const struct pool *p)
{
    return p->nth;
}

void
pool_free(struct pool *p)
{
    if (p == NULL)
        return;
    pool_join(p);
    tc_free(p);
}
