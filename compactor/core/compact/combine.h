/*
 * combine.h - Tempo's combiner for traces that share a trace ID
 * (vparquet4/combiner.go and nested_set_model.go; research/tempo.md §4.5).
 *
 * combine_traces() merges n >= 1 traces with the same trace ID into one:
 *   - the first trace is the base; its spans are indexed by the token
 *     SpanIDToUint64(span ID, first 8 bytes little-endian, zero-padded)
 *     XOR kindHash[kind] (kind outside 0..7 uses kindHash[0]);
 *   - for each later trace: end = max, start = min (a 0 start is replaced),
 *     root service / root span name = the first non-empty, duration =
 *     end - start; in each of its ScopeSpans only spans with an unseen token
 *     are kept (and recorded, except for the last input); its ResourceSpans
 *     with the ScopeSpans that still hold spans are appended;
 *   - with 2 or more inputs, Result(): combine_sort(), then rebatchTrace
 *     (ResourceSpans with the same resource hash, then ScopeSpans with the
 *     same scope hash, are merged; their attributes end up sorted by key),
 *     then combine_service_stats() and combine_nested_set().
 * spans_deduped counts every span dropped as a duplicate (Go's own counter
 * misses the dropped spans of a ScopeSpans that keeps some).
 * Inputs are borrowed and never modified; the result and every array in it
 * live in the arena a, while strings and byte fields may point into the
 * inputs (keep them alive while the result is used).
 *
 * Layer compact (compactor/core/compact/): the compaction engine.
 */
#ifndef TC_COMBINE_H
#define TC_COMBINE_H

#include <stddef.h>
#include <stdint.h>

#include "base/tc.h"
#include "parquet/parquet.h"
#include "tempo/vp4.h"

struct combine_stats {
    uint64_t spans_deduped; /* spans dropped as duplicates */
    uint64_t disconnected;  /* 1 if a non-root span has no parent in the result */
    uint64_t rootless;      /* 1 if the result's root span name is empty */
};

int combine_traces(const struct vp4_trace *const *in, size_t n, struct parquet_arena *a,
                   struct vp4_trace **out, struct combine_stats *st, struct tc_err *err);

/* Tempo's SpanIDToUint64(id) ^ kindHash[kind]. */
uint64_t combine_span_token(const uint8_t *span_id, uint32_t len, int64_t kind);

/* SortTrace: spans in each ScopeSpans by (start, span ID bytes), ScopeSpans
 * by their first span, ResourceSpans by their first ScopeSpans' first span.
 * Sorts t's arrays in place (t must own them, e.g. a combine result). */
void combine_sort(struct vp4_trace *t);
/* Recomputes ServiceStats: per resource service.name, span count and error
 * count (status code 2), sorted by service name; arrays from a. */
int combine_service_stats(struct vp4_trace *t, struct parquet_arena *a, struct tc_err *err);
/* Recomputes NestedSetLeft/Right and ParentID (root: -1). Sets
 * st->disconnected when a non-root span has no parent, when there is no
 * root (the fields are then left as they were) or when more than two spans
 * share an ID (the fields are then zeroed), as Go's connected = false. */
int combine_nested_set(struct vp4_trace *t, struct parquet_arena *a, struct combine_stats *st,
                       struct tc_err *err);

#endif
