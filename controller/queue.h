/*
 * queue.h - a keyed work queue: dedupe, per-key backoff, delayed adds.
 *
 * Semantics follow client-go's workqueue: a key is queued at most once; a
 * key added while a worker processes it is re-queued when the worker calls
 * queue_done(), so one key never runs on two workers at once. Failed keys
 * come back after a per-key exponential backoff (queue_add_backoff) that
 * queue_forget() resets. Thread-safe.
 */
#ifndef CTRL_QUEUE_H
#define CTRL_QUEUE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

struct queue_item;

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct strmap items;            /* key -> struct queue_item */
    struct queue_item *head, *tail; /* ready FIFO */
    struct queue_item *delayed;     /* sorted by due time */
    size_t nready;
    long base_ms, max_ms;
    int shutdown;
    unsigned long adds, dedupes;
};

void queue_init(struct queue *q, long base_ms, long max_ms);
void queue_cleanup(struct queue *q);
void queue_add(struct queue *q, const char *key);
void queue_add_after(struct queue *q, const char *key, long ms);
/* queue_add_backoff() re-adds after base*2^failures (capped), counting a failure. */
void queue_add_backoff(struct queue *q, const char *key);
void queue_forget(struct queue *q, const char *key);
/* queue_get() blocks until a key is ready (copied into out) or shutdown;
 * returns 0 with a key, -1 on shutdown. */
int queue_get(struct queue *q, char *out, size_t outsz);
/* queue_get_timeout() is queue_get with a deadline: 1 = timed out. */
int queue_get_timeout(struct queue *q, char *out, size_t outsz, long timeout_ms);
void queue_done(struct queue *q, const char *key);
void queue_shutdown(struct queue *q);
size_t queue_len(struct queue *q);
int queue_failures(struct queue *q, const char *key);

#endif
