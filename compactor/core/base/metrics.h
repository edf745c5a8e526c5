/*
 * metrics.h - a Prometheus metrics registry with text exposition (0.0.4).
 *
 * Families are registered once (same name and type returns the existing
 * family) and hold series keyed by label values. All calls are thread-safe.
 * Label name lists are NULL-terminated; label value lists have exactly as
 * many entries as the family has labels (NULL for an unlabeled family).
 * The registry owns everything it returns; nothing is freed by callers.
 *
 *   static const char *const tl[] = {"tenant", NULL};
 *   struct metric *m = metrics_gauge(metrics_default(), "tempodb_blocklist_length",
 *                                    "Total blocks as seen by this component.", tl);
 *   metrics_set(m, (const char *[]){tenant}, 42);
 */
#ifndef TC_METRICS_H
#define TC_METRICS_H

#include <stddef.h>

#include "base/buf.h"

struct metrics;
struct metric;

/* Prometheus client_golang DefBuckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10 */
extern const double metrics_def_buckets[];
extern const size_t metrics_def_buckets_len;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *r);
/* The process-wide registry used by the daemons (created on first use). */
struct metrics *metrics_default(void);

/* Registration returns NULL on OOM, an invalid name, or a type/label clash. */
struct metric *metrics_counter(struct metrics *r, const char *name, const char *help,
                               const char *const *labels);
struct metric *metrics_gauge(struct metrics *r, const char *name, const char *help,
                             const char *const *labels);
struct metric *metrics_histogram(struct metrics *r, const char *name, const char *help,
                                 const char *const *labels, const double *buckets, size_t nbuckets);

/* Counter: v must be >= 0. Gauge: adds v (may be negative). */
void metrics_add(struct metric *m, const char *const *values, double v);
void metrics_inc(struct metric *m, const char *const *values);
/* Gauge only. */
void metrics_set(struct metric *m, const char *const *values, double v);
/* Histogram only. */
void metrics_observe(struct metric *m, const char *const *values, double v);
/* Removes one series (like DeleteLabelValues). Returns TC_OK or TC_NOTFOUND. */
int metrics_remove(struct metric *m, const char *const *values);
/* Removes, in every family of r that has the label, each series whose label
 * has this value (client_golang's DeletePartialMatch); returns how many. */
size_t metrics_remove_label(struct metrics *r, const char *label, const char *value);
/* Current value of a counter/gauge series, or the count of a histogram
 * series; 0 when the series does not exist. For tests and status pages. */
double metrics_value(struct metric *m, const char *const *values);

/* Appends the text exposition of every family, sorted by name. */
int metrics_render(struct metrics *r, struct buf *out);

#endif
