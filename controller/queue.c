/* queue.c - keyed work queue (see queue.h). */
#include "queue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"
#include "base/tc.h"

enum { Q_IDLE = 0, Q_READY = 1, Q_DELAYED = 2 };

struct queue_item {
    char *key;
    int where;      /* Q_IDLE, Q_READY or Q_DELAYED */
    int processing; /* a worker holds it */
    int dirty;      /* added while processing */
    int failures;
    uint64_t due_ms;
    struct queue_item *next; /* in the ready FIFO or the delayed list */
};

void
queue_init(struct queue *q, long base_ms, long max_ms)
{
    pthread_condattr_t ca;

    memset(q, 0, sizeof(*q));
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    strmap_init(&q->items);
    q->base_ms = base_ms > 0 ? base_ms : 100;
    q->max_ms = max_ms > 0 ? max_ms : 60000;
}

static void
queue_free_item(const char *key, void *val, void *ud)
{
    struct queue_item *it = val;
    tc_free(it->key);
    tc_free(it);
}

void
queue_cleanup(struct queue *q)
{
    strmap_each(&q->items, queue_free_item, NULL);
    strmap_cleanup(&q->items);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

static struct queue_item *
queue_item_get(struct queue *q, const char *key)
{
    struct queue_item *it = strmap_get(&q->items, key);

    if (it)
        return it;
    it = tc_calloc(1, sizeof(*it));
    if (it == NULL || (it->key = tc_strdup(key)) == NULL ||
        strmap_put(&q->items, key, it, NULL) != 0) {
        if (it)
            tc_free(it->key);
        tc_free(it);
        return NULL;
    }
    return it;
}

static void
queue_unlink_delayed(struct queue *q, struct queue_item *it)
{
    struct queue_item **pp;

    for (pp = &q->delayed; *pp; pp = &(*pp)->next)
        if (*pp == it) {
            *pp = it->next;
            break;
        }
    it->next = NULL;
    it->where = Q_IDLE;
}

static void
queue_push_ready(struct queue *q, struct queue_item *it)
{
    if (it->where == Q_DELAYED)
        queue_unlink_delayed(q, it);
    it->where = Q_READY;
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->nready++;
    pthread_cond_signal(&q->cv);
}

/* Drops an item nobody needs any more (keeps the map small). */
static void
queue_maybe_release(struct queue *q, struct queue_item *it)
{
    if (it->where == Q_IDLE && !it->processing && !it->dirty && it->failures == 0) {
        strmap_del(&q->items, it->key);
        tc_free(it->key);
        tc_free(it);
    }
}

static void
queue_add_locked(struct queue *q, const char *key)
{
    struct queue_item *it;

    if (q->shutdown || (it = queue_item_get(q, key)) == NULL)
        return;
    q->adds++;
    if (it->processing) {
        it->dirty = 1;
        return;
    }
    if (it->where == Q_READY) {
        q->dedupes++;
        return;
    }
    queue_push_ready(q, it);
}

void
queue_add(struct queue *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    queue_add_locked(q, key);
    pthread_mutex_unlock(&q->mu);
}

static void
queue_add_after_locked(struct queue *q, const char *key, long ms)
{
    struct queue_item *it, **pp;

    if (ms <= 0) {
        queue_add_locked(q, key);
        return;
    }
    if (q->shutdown || (it = queue_item_get(q, key)) == NULL)
        return;
    if (it->where == Q_READY) {
        q->dedupes++;
        return;
    }
    if (it->where == Q_DELAYED) {
        if (it->due_ms <= tc_now_ms() + (uint64_t)ms)
            return; /* already due sooner */
        queue_unlink_delayed(q, it);
    }
    it->due_ms = tc_now_ms() + (uint64_t)ms;
    for (pp = &q->delayed; *pp && (*pp)->due_ms <= it->due_ms; pp = &(*pp)->next)
        ;
    it->next = *pp;
    *pp = it;
    it->where = Q_DELAYED;
    pthread_cond_signal(&q->cv);
}

void
queue_add_after(struct queue *q, const char *key, long ms)
{
    pthread_mutex_lock(&q->mu);
    queue_add_after_locked(q, key, ms);
    pthread_mutex_unlock(&q->mu);
}

void
queue_add_backoff(struct queue *q, const char *key)
{
    struct queue_item *it;
    long d;
    int i;

    pthread_mutex_lock(&q->mu);
    it = queue_item_get(q, key);
    if (it) {
        d = q->base_ms;
        for (i = 0; i < it->failures && d < q->max_ms; i++)
            d *= 2;
        if (d > q->max_ms)
            d = q->max_ms;
        it->failures++;
        queue_add_after_locked(q, key, d);
    }
    pthread_mutex_unlock(&q->mu);
}

void
queue_forget(struct queue *q, const char *key)
{
    struct queue_item *it;

    pthread_mutex_lock(&q->mu);
    if ((it = strmap_get(&q->items, key)) != NULL) {
        it->failures = 0;
        queue_maybe_release(q, it);
    }
    pthread_mutex_unlock(&q->mu);
}

int
queue_failures(struct queue *q, const char *key)
{
    struct queue_item *it;
    int n;

    pthread_mutex_lock(&q->mu);
    it = strmap_get(&q->items, key);
    n = it ? it->failures : 0;
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* Moves due delayed items to the ready FIFO; returns ms until the next due
 * item, or -1 if none. */
static long
queue_promote(struct queue *q)
{
    uint64_t now = tc_now_ms();

    while (q->delayed && q->delayed->due_ms <= now) {
        struct queue_item *it = q->delayed;
        q->delayed = it->next;
        it->next = NULL;
        it->where = Q_IDLE;
        if (it->processing)
            it->dirty = 1;
        else
            queue_push_ready(q, it);
    }
    return q->delayed ? (long)(q->delayed->due_ms - now) : -1;
}

int
queue_get_timeout(struct queue *q, char *out, size_t outsz, long timeout_ms)
{
    uint64_t deadline = timeout_ms >= 0 ? tc_now_ms() + (uint64_t)timeout_ms : 0;
    struct queue_item *it;

    pthread_mutex_lock(&q->mu);
    for (;;) {
        long wait = queue_promote(q);
        struct timespec ts;
        uint64_t until;

        if (q->head || q->shutdown)
            break;
        if (timeout_ms >= 0 && tc_now_ms() >= deadline) {
            pthread_mutex_unlock(&q->mu);
            return 1;
        }
        until = wait >= 0 ? tc_now_ms() + (uint64_t)wait : UINT64_MAX;
        if (timeout_ms >= 0 && deadline < until)
            until = deadline;
        if (until == UINT64_MAX) {
            pthread_cond_wait(&q->cv, &q->mu);
            continue;
        }
        ts.tv_sec = (time_t)(until / 1000);
        ts.tv_nsec = (long)(until % 1000) * 1000000L;
        pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    }
    if (q->head == NULL) { /* shutdown */
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    it = q->head;
    q->head = it->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->nready--;
    it->next = NULL;
    it->where = Q_IDLE;
    it->processing = 1;
    snprintf(out, outsz, "%s", it->key);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int
queue_get(struct queue *q, char *out, size_t outsz)
{
    return queue_get_timeout(q, out, outsz, -1);
}

void
queue_done(struct queue *q, const char *key)
{
    struct queue_item *it;

    pthread_mutex_lock(&q->mu);
    if ((it = strmap_get(&q->items, key)) != NULL) {
        it->processing = 0;
        if (it->dirty) {
            /* Added while processing: run again now, even if a later
             * re-check was scheduled meanwhile (queue_push_ready unlinks it). */
            it->dirty = 0;
            if (it->where != Q_READY)
                queue_push_ready(q, it);
        } else {
            queue_maybe_release(q, it);
        }
    }
    pthread_mutex_unlock(&q->mu);
}

void
queue_shutdown(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->shutdown = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

size_t
queue_len(struct queue *q)
{
    size_t n;

    pthread_mutex_lock(&q->mu);
    n = q->nready;
    pthread_mutex_unlock(&q->mu);
    return n;
}
