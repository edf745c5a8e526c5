/*
 * retention.h - Tempo's retention for one tenant, plus orphan sweeping.
 *
 * retention_run_tenant() does what Tempo's doRetention does for a tenant:
 *   1. live blocks whose endTime is older than block_retention, and that this
 *      instance owns (job = the block ID string), are marked compacted: copy
 *      meta.json to meta.compacted.json, then delete meta.json;
 *   2. compacted blocks whose compactedTime is older than
 *      compacted_block_retention, and that this instance owns, are cleared:
 *      every object of the block is deleted, meta.compacted.json last, so an
 *      interrupted clear stays discoverable and is retried;
 *   3. (beyond Tempo) block directories with no meta at all whose newest
 *      object is older than orphan_retention are removed, when this instance
 *      owns "orphans-<tenant>"; so are the remains of interrupted writes
 *      older than that (backend_sweep_incomplete: temp files, incomplete
 *      multipart uploads); and a block left with both metas by a mark that
 *      was cut off gets its meta.json removed, finishing the mark.
 * The blocklist gets the same changes (blocklist_update), and Tempo's
 * retention metrics are counted. Nothing is deleted before the copy that
 * replaces it is written.
 */
#ifndef TC_RETENTION_H
#define TC_RETENTION_H

#include <stdint.h>

#include "backend/backend.h"
#include "blocklist/blocklist.h"
#include "base/tc.h"

typedef int (*retention_owns_fn)(const char *job, void *ud);

struct retention_cfg {
    int64_t block_retention_s;     /* per tenant (override applied by the caller) */
    int64_t compacted_retention_s; /* compacted_block_retention */
    int64_t orphan_retention_s;    /* 0 disables the orphan sweep */
    int64_t now_s;                 /* the clock, so tests can fix it */
};

struct retention_result {
    unsigned long marked, cleared, orphans, errors;
    unsigned long incomplete;  /* temp files / multipart uploads of interrupted writes */
    unsigned long half_marked; /* blocks with both metas whose meta.json was removed */
};

int retention_run_tenant(struct backend *b, struct blocklist *bl, const char *tenant,
                         const struct retention_cfg *cfg, retention_owns_fn owns, void *owns_ud,
                         struct retention_result *res, struct tc_err *err);

/* retention_mark_compacted() is Tempo's MarkBlockCompacted for one block. */
int retention_mark_compacted(struct backend *b, const char *tenant, const uint8_t id[16],
                             struct tc_err *err);
/* retention_clear_block() deletes every object of a block, the meta files last. */
int retention_clear_block(struct backend *b, const char *tenant, const uint8_t id[16],
                          struct tc_err *err);

#endif
