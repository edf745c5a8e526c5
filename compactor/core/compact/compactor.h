/*
 * compactor.h - Tempo 2.7's compaction loop over the blocklist
 * (research/tempo.md §4.3), minus the thread that drives it:
 *
 *   compactor_cycle()    compactOneTenant: the next tenant in sorted order
 *                        (the first cycle takes index 1, or 0 with one
 *                        tenant); its jobs from the selector, those this
 *                        replica owns, run one by one until none is left or
 *                        max_time_per_tenant has passed;
 *   compactor_plan_all() measureOutstandingBlocks for every tenant: the blocks
 *                        in the owned jobs, into
 *                        tempodb_compaction_outstanding_blocks{tenant}.
 *
 * Jobs of blocks that are not vParquet4 are not run and not counted as
 * outstanding (an outstanding count that can never drain would keep an
 * autoscaler scaled out); they are logged once per tenant and left to
 * retention.
 *
 * compactor_stop() stops taking jobs; a running job goes on until the given
 * deadline, then it is abandoned cleanly (no output stays visible, inputs
 * stay live). The commit of a finished job (marking its inputs) always runs
 * to its end.
 *
 * Threads: compactor_cycle/plan_all run on one thread; compactor_status_json
 * and compactor_stop may be called from any thread.
 *
 * Ownership: cfg is copied; the backend, blocklist and callback data it
 * points to are borrowed and must outlive the compactor.
 */
#ifndef TC_COMPACTOR_H
#define TC_COMPACTOR_H

#include <stdint.h>

#include "backend/backend.h"
#include "base/buf.h"
#include "base/cfg.h"
#include "base/tc.h"
#include "blocklist/blocklist.h"
#include "compact/compact.h"

struct compactor_tenant_cfg {
    int disabled;                 /* compaction_disabled override */
    int64_t window_s;             /* 0 = the global compaction_window */
    uint64_t max_bytes_per_trace; /* 0 = no limit */
};
typedef void (*compactor_tenant_fn)(const char *tenant, struct compactor_tenant_cfg *out, void *ud);
typedef int (*compactor_owns_fn)(const char *job, void *ud);

/* The loop's settings. The compactor.compaction.* keys (and the block keys
 * in job.block) have their defaults, bounds and docs in compactor_cfg_table,
 * which the daemon's config table includes; the rest is wiring. */
struct compactor_cfg {
    int64_t window_ms;              /* compaction_window */
    int64_t max_objects;            /* max_compaction_objects */
    uint64_t max_block_bytes;       /* max_block_bytes */
    int64_t max_time_per_tenant_ms; /* max_time_per_tenant */
    struct compact_cfg job;         /* block settings; max_bytes_per_trace per tenant */

    struct backend *be;
    struct blocklist *bl;
    compactor_tenant_fn tenant_cfg; /* NULL: no overrides */
    void *tenant_ud;
    compactor_owns_fn owns; /* NULL: owns everything */
    void *owns_ud;
};

/* The keys of struct compactor_cfg (job.block's included), Tempo's defaults. */
extern const struct cfg_table compactor_cfg_table;

/* compactor_cfg_defaults() zeroes c and sets every key to its default. */
void compactor_cfg_defaults(struct compactor_cfg *c);

struct compactor;

/* compactor_new() fails with TC_INVAL on a setting out of range (a window
 * under 1 s, no object or byte limit, a negative time per tenant), with
 * TC_NOMEM on OOM. */
struct compactor *compactor_new(const struct compactor_cfg *cfg, struct tc_err *err);
void compactor_free(struct compactor *c);

/* One tenant's turn. Returns the number of jobs that finished. */
int compactor_cycle(struct compactor *c);
/* Plans every tenant, sets the outstanding gauge, drops the series of tenants
 * that are gone. */
void compactor_plan_all(struct compactor *c);
/* Stops taking jobs; a running job is abandoned once tc_now_ms() passes
 * deadline_ms. */
void compactor_stop(struct compactor *c, uint64_t deadline_ms);
/* Appends the /status/compaction document: the running job with its
 * progress and ETA, totals, the last job, and the last plan per tenant. */
void compactor_status_json(struct compactor *c, struct buf *out);

#endif
