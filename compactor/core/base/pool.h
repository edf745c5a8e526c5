/*
 * pool.h - a bounded number of threads working through numbered items.
 *
 * The one way the project runs work in parallel: tenants to poll, tenant
 * indexes to write, retention per tenant, key-range shards of a listing,
 * the controller's reconcile workers. Each item i in [0, n) is handed to
 * the next free thread, in increasing order, and runs exactly once (unless
 * a stop check ends the run first).
 *
 * A thread that cannot be created only means fewer threads: the items are
 * never lost. pool_run() counts its caller as one of the threads, so at
 * worst everything runs on the caller.
 *
 * Not a job queue: work that arrives over time goes through a queue of the
 * caller's own (controller/queue.h), drained by pool_new() workers.
 */
#ifndef TC_POOL_H
#define TC_POOL_H

#include <stddef.h>

#include "base/tc.h"

/* pool_item_fn runs item i. arg is the pointer given to pool_run() or
 * pool_new() (borrowed). Calls for different i may run at the same time. */
typedef void (*pool_item_fn)(void *arg, size_t i);

/* pool_stop_fn returns nonzero once no further item may start. It is called
 * before each item, possibly from several threads at once. */
typedef int (*pool_stop_fn)(void *arg);

/* pool_run() calls fn(arg, i) for each i in [0, n_items) on at most n_threads
 * threads at once (the caller's included; 0 counts as 1) and
 * returns when every call has returned. If stop is non-NULL and returns
 * nonzero, no further item starts; items already running finish. Returns
 * the number of items run. arg is borrowed and must stay valid until the
 * return. fn must not call pool_run() with an arg it is still using. */
size_t pool_run(size_t n_threads, size_t n_items, pool_item_fn fn, pool_stop_fn stop, void *arg);

struct pool;

/* pool_new() starts n_threads long-lived workers (0 counts as 1): fn
 * is called once with each worker number w in [0, n_threads) and is meant
 * to loop until a stop condition of the caller's. If fewer threads start,
 * a thread whose fn returned takes the next w. Returns NULL with TC_NOMEM,
 * or TC_ERR when no thread could start. arg is borrowed until pool_free();
 * caller owns the pool. */
struct pool *pool_new(size_t n_threads, pool_item_fn fn, void *arg, struct tc_err *err);

/* pool_threads() is how many threads pool_new() started (1..n_threads). */
size_t pool_threads(const struct pool *p);

/* pool_free() waits until every fn has returned, then frees the pool. The
 * caller makes fn return first (for example by shutting its queue down).
 * pool_free(NULL) is a no-op. */
void pool_free(struct pool *p);

#endif
