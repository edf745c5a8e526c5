/*
 * poll.h - Tempo-compatible blocklist poller, seeded so restarts are cheap.
 *
 * One poller_poll() is Tempo's Poller.Do: list tenants, then per tenant
 * (blocklist_poll_tenant_concurrency threads) either read the tenant index
 * (non-builders) or list the blocks, fetch the metas of unknown blocks
 * (blocklist_poll_concurrency in flight) and write the tenant index
 * (builders). Differences from Tempo, all because metas are immutable:
 *   - "previous" is the caller's blocklist, else the persisted state file,
 *     else the tenant index, so a cold start GETs only unseen blocks;
 *   - a block listed live last time and compacted now costs no GET;
 *   - a block listed with both meta files costs one GET (meta.compacted.json)
 *     and is kept as compacted only;
 *   - a corrupt or oversized meta skips that block (logged, counted in
 *     tempodb_blocklist_poll_errors_total) instead of failing the tenant.
 * Progress per tenant is readable at any time (poller_status_json) and is
 * logged every 10 s while a poll runs. Builders write their tenant indexes
 * after the result is applied, so compaction can start without waiting.
 */
#ifndef TC_POLL_H
#define TC_POLL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "blocklist/blocklist.h"
#include "base/buf.h"
#include "base/cfg.h"
#include "base/metrics.h"
#include "base/tc.h"

/* The poller's settings. The first block are Tempo's storage.trace.* keys:
 * poll_cfg_table holds their defaults, bounds and docs (the daemon's config
 * table includes it), so the numbers live there only. The rest are this
 * program's, not config keys. poller_new() refuses values out of range; it
 * never substitutes a default. */
struct poll_cfg {
    int64_t concurrency;                  /* blocklist_poll_concurrency */
    int64_t tenant_concurrency;           /* blocklist_poll_tenant_concurrency */
    int64_t tenant_index_builders;        /* blocklist_poll_tenant_index_builders */
    int64_t stale_tenant_index_ms;        /* blocklist_poll_stale_tenant_index; 0 = off */
    int fallback;                         /* blocklist_poll_fallback */
    int64_t jitter_ms;                    /* blocklist_poll_jitter_ms */
    int64_t tolerate_consecutive_errors;  /* blocklist_poll_tolerate_consecutive_errors */
    int64_t tolerate_tenant_failures;     /* blocklist_poll_tolerate_tenant_failures */
    int empty_tenant_deletion_enabled;    /* storage.trace.empty_tenant_deletion_enabled */
    int64_t empty_tenant_deletion_age_ms; /* storage.trace.empty_tenant_deletion_age */

    size_t max_meta_bytes;  /* largest meta.json we read */
    const char *state_path; /* borrowed; NULL = no state file */
    int write_tenant_index; /* builders write the index */
    int progress_log_ms;    /* progress log period */
};

/* The keys of struct poll_cfg, with Tempo's defaults. */
extern const struct cfg_table poll_cfg_table;

/* poll_cfg_defaults() sets every field: the keys from poll_cfg_table, the
 * rest to 1 MiB metas, index writes on, a progress line every 10 s. */
void poll_cfg_defaults(struct poll_cfg *c);

/* Ownership of the job "build-tenant-index-<i>-<tenant>"; NULL = owns all. */
typedef int (*poll_owns_fn)(const char *job, void *ud);

struct poller;

/* Counters of the last (or running) poll, for benchmarks and tests. */
struct poll_stats {
    unsigned long tenants, tenants_failed;
    unsigned long listed_live, listed_compacted;
    unsigned long known;        /* resolved without a GET */
    unsigned long meta_gets;    /* meta.json / meta.compacted.json GETs */
    unsigned long index_reads;  /* tenant-index objects read */
    unsigned long skipped;      /* intermediate blocks (no meta) */
    unsigned long bad;          /* corrupt/oversized metas */
    unsigned long seeded_state; /* tenants seeded from the state file */
    unsigned long seeded_index; /* tenants seeded from the tenant index */
    double ready_seconds;       /* until the result was applied to the blocklist */
    double seconds;             /* whole poll, tenant-index writes included */
};

/* poller_new() borrows b, cfg strings, reg (NULL = metrics_default()). If
 * cfg->state_path names a readable state file, it becomes the seed. A
 * setting out of range (concurrencies and builders below 1, negative
 * tolerances, no meta size) fails with TC_INVAL. */
struct poller *poller_new(struct backend *b, const struct poll_cfg *cfg, poll_owns_fn owns,
                          void *owns_ud, struct metrics *reg, struct tc_err *err);
void poller_free(struct poller *p);

/* poller_poll() runs one full poll with bl (borrowed) as "previous"; on
 * success the result replaces bl's content (blocklist_apply_poll) and the
 * state file is rewritten. On failure bl is unchanged. */
int poller_poll(struct poller *p, struct blocklist *bl, struct tc_err *err);

/* poller_stop() asks a running poll to stop after the current requests;
 * it then fails with TC_CANCELED, and so does every later poll (shutdown).
 * Thread-safe. */
void poller_stop(struct poller *p);

/* poller_status_json() appends {"state":..,"polls":..,"consecutive_failures":..,
 * "seconds_since_success":..,"last_error_seconds_ago":..,"last_error":..,
 * "tenants":[{"tenant","state","listed","known","fetched","remaining","errors",
 * "eta_seconds"}..]}. state: "waiting" before the first poll starts,
 * "polling", then "idle" or "failed" after each poll. last_error is why the
 * polls fail (null once one succeeds); -1 means never.
 * Thread-safe; callable while a poll runs. */
int poller_status_json(struct poller *p, struct buf *out);

/* poller_stats() copies the counters of the last/current poll. */
void poller_stats(struct poller *p, struct poll_stats *out);

/* poller_done() is 1 once at least one poll finished (successfully or not). */
int poller_done(struct poller *p);

#endif
