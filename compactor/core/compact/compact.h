/*
 * compact.h - runs one compaction job, as Tempo 2.7's compactOneJob and the
 * vParquet4 Compact do (research/tempo.md §4.3, §4.4):
 *
 *   1. every input's meta.json must still exist (else TC_NOTFOUND: the job
 *      is abandoned with a warning, as Tempo does);
 *   2. the inputs' data.parquet are streamed row by row (ranged reads through
 *      the backend) and merged k-way by TraceID. A trace in one input only
 *      is copied as its raw row; byte-equal rows keep one; otherwise the
 *      traces are combined (combine.h), unless their estimated size exceeds
 *      max_bytes_per_trace: then the first copy is kept and the other
 *      copies' spans are counted as discarded;
 *   3. the output block is written by tempo/vp4_block.h, meta.json last;
 *   4. ownership is checked again (owns());
 *   5. only then are the inputs marked compacted (meta.compacted.json, then
 *      meta.json removed) and the blocklist updated at once, so outstanding
 *      blocks fall without waiting for the next poll.
 * A crash at any point loses nothing: before step 3 ends the output is
 * invisible (no meta.json); between 3 and 5 inputs and output coexist and a
 * later compaction dedupes them. If owns() says no before step 5, the
 * output is removed (meta.json first) and the inputs stay live.
 *
 * Memory: one streaming cursor per input and the output's row group; never
 * the size of a block.
 *
 * Threads: a job runs on the calling thread; progress counters are atomic
 * so /status can read them from another thread.
 *
 * Layer compact (compactor/core/compact/): the compaction engine. May
 * include every core folder. Order: base <- parquet <- backend <- tempo <-
 * blocklist <- plan <- compact <- daemon, controller (hack/check-layers.sh).
 */
#ifndef TC_COMPACT_H
#define TC_COMPACT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "base/tc.h"
#include "blocklist/blocklist.h"
#include "tempo/meta.h"
#include "tempo/vp4_block.h"

#define COMPACT_MAX_INPUTS 4

struct compact_cfg {
    struct vp4_block_cfg block;   /* storage.trace.block.* (vp4_block_cfg_defaults) */
    uint64_t max_bytes_per_trace; /* overrides ... max_bytes_per_trace; 0 = no limit */
    int64_t now_s;                /* compactedTime of the inputs; 0 = the clock */
    const char *spool_dir;        /* the output's data.parquet spool; NULL = $TMPDIR or /tmp */
};

/* Read while the job runs (atomics), e.g. by /status/compaction. */
struct compact_progress {
    atomic_uint_fast64_t rows_in;    /* input rows consumed */
    atomic_uint_fast64_t rows_total; /* Σ input totalObjects (the ETA's base) */
    atomic_uint_fast64_t rows_out;   /* traces written */
    atomic_uint_fast64_t bytes_in;   /* Σ input data.parquet sizes */
    atomic_uint_fast64_t bytes_out;  /* output bytes flushed so far */
    atomic_uint_fast64_t started_ms; /* tc_now_ms() at the start */
};

struct compact_result {
    struct meta out;                 /* the new block's meta (valid on TC_OK) */
    uint64_t objects_combined;       /* traces that went through the combiner */
    uint64_t objects_dropped;        /* byte-equal duplicate rows dropped */
    uint64_t spans_deduped;          /* duplicate spans removed by the combiner */
    uint64_t spans_discarded;        /* spans of copies dropped by max_bytes_per_trace */
    uint64_t disconnected, rootless; /* combined traces with those warnings */
    unsigned marked;                 /* inputs marked compacted */
    unsigned mark_errors;            /* inputs whose marking failed (duplicates remain) */
    int retired;    /* all inputs taken by another compactor: output marked compacted */
    uint32_t level; /* the largest input level */
};

/* Returns 1 while this replica still owns the job and should go on. */
typedef int (*compact_owns_fn)(void *ud);

/* compact_job() runs one job over n (2..COMPACT_MAX_INPUTS) input metas of
 * tenant (borrowed). owns is called about every 100 ms while merging and
 * once before the inputs are marked; returning 0 abandons the job
 * (TC_CANCELED; nothing of the output stays visible). bl may be NULL (no
 * blocklist update). progress may be NULL. */
int compact_job(struct backend *be, struct blocklist *bl, const char *tenant,
                const struct meta *const *in, size_t n, const struct compact_cfg *cfg,
                compact_owns_fn owns, void *owns_ud, struct compact_progress *progress,
                struct compact_result *res, struct tc_err *err);

/* compact_scan() is the read half of a job alone: it opens the inputs as
 * compact_job() does and decodes every row of each, writing nothing. It is
 * the baseline of hack/bench/compact. *rows gets the rows read. */
int compact_scan(struct backend *be, const char *tenant, const struct meta *const *in, size_t n,
                 uint64_t *rows, struct tc_err *err);

/* compact_metrics_init() registers Tempo's compaction metrics in the default
 * registry (idempotent); compact_job() counts into them. */
void compact_metrics_init(void);

#endif
