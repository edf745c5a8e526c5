/*
 * watch.h - newline-delimited JSON framing and list+watch informers.
 *
 * ndjson: bytes arrive in arbitrary chunks; a line is delivered only when
 * its '\n' arrives, whatever the split (one event over many chunks or many
 * events in one chunk). Lines longer than the cap fail with TC_TOOBIG.
 *
 * informer: lists a collection (paginated), then watches from the list's
 * resourceVersion with allowWatchBookmarks and a random 300-600 s
 * timeoutSeconds, re-watching from the last seen resourceVersion. A 410
 * (HTTP status or ERROR event) or a 504 "too large resource version"
 * relists, and objects missing from the new list are reported as deleted. Failures back off from 0.8 s doubling to
 * 30 s with jitter. Callbacks run on the informer's own thread.
 */
#ifndef CTRL_WATCH_H
#define CTRL_WATCH_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "base/buf.h"
#include "kube.h"
#include "strmap.h"
#include "base/tc.h"

typedef int (*ndjson_line_fn)(const char *line, size_t len, void *ud);

struct ndjson {
    struct buf partial; /* bytes of the current unterminated line */
    size_t max_line;
};

void ndjson_init(struct ndjson *nj, size_t max_line);
void ndjson_cleanup(struct ndjson *nj);
void ndjson_reset(struct ndjson *nj);
/* ndjson_feed() calls fn for each complete line (without '\n', empty lines
 * skipped). Returns TC_OK, TC_TOOBIG, or fn's non-zero return. */
int ndjson_feed(struct ndjson *nj, const char *p, size_t n, ndjson_line_fn fn, void *ud);

enum watch_event { WATCH_ADDED = 0, WATCH_MODIFIED, WATCH_DELETED };

/* obj is borrowed for the call. */
typedef void (*informer_fn)(enum watch_event ev, const json_t *obj, void *ud);

struct informer_opts {
    const char *name;           /* for logs and metrics: "tempocompactors" */
    const char *path;           /* collection path, e.g. /apis/apps/v1/deployments */
    const char *label_selector; /* or NULL */
    informer_fn fn;
    void *ud;
    long min_timeout_s, max_timeout_s;    /* 0 = 300..600 */
    long backoff_base_ms, backoff_max_ms; /* 0 = 800..30000 */
};

struct informer_stats {
    unsigned long lists, watches, relists_410, events, errors;
};

struct informer {
    struct informer_opts o;
    char *path, *selector, *name;
    struct kube_config *cfg;
    struct kube *k;
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    volatile int stop;
    int started, synced;
    char rv[64];
    struct strmap known; /* "ns/name" -> (void *)1, to synthesize deletes after relists */
    struct ndjson nj;
    int gone;         /* 410 seen in the stream */
    int stream_error; /* other ERROR event */
    unsigned long stream_events;
    struct informer_stats stats;
};

int informer_init(struct informer *inf, struct kube_config *cfg, const struct informer_opts *o,
                  struct tc_err *err);
int informer_start(struct informer *inf, struct tc_err *err);
/* informer_feed() takes n more bytes of a watch response body: complete lines
 * become events (fn), a bad frame or an ERROR event sets stream_error or
 * gone. What the watch thread does with each chunk; exposed for tests and
 * fuzzing (tests/fuzz/fuzz_watch.c). Returns non-zero once the stream must end. */
int informer_feed(struct informer *inf, const char *p, size_t n);
/* informer_signal_stop() asks the thread to end without waiting. */
void informer_signal_stop(struct informer *inf);
/* informer_stop() asks the thread to end and joins it. */
void informer_stop(struct informer *inf);
void informer_cleanup(struct informer *inf);
int informer_synced(struct informer *inf);
void informer_get_stats(struct informer *inf, struct informer_stats *out);

/* watch_backoff_ms() is the n-th (0-based) delay: base*2^n capped at max,
 * with up to +100% jitter (client-go's jitter factor 1.0), capped at max. */
long watch_backoff_ms(int n, long base, long max);

/* watch_timeout_s() picks the watch timeoutSeconds uniformly in [min, max]. */
long watch_timeout_s(long min, long max);

#endif
