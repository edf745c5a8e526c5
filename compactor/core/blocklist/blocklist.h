/*
 * blocklist.h - the in-memory list of live and compacted block metas per tenant.
 *
 * Each tenant holds two arrays of struct meta (128 bytes each, strings
 * interned) sorted by block ID, so a block costs about 128 bytes plus array
 * slack. All calls are thread-safe (one mutex); readers get copies.
 *
 * Local changes made by the compactor (blocklist_update) are also kept in a
 * pending log and re-applied on top of the next poll result, as Tempo's
 * ApplyPollResults does, so a poll that started before a compaction cannot
 * resurrect its inputs.
 *
 * The state file is a zstd frame holding, per tenant, its name and a
 * TenantIndex protobuf, followed by a CRC-32; it is written atomically
 * (temp file, fsync, rename).
 *
 * Layer blocklist (compactor/core/blocklist/): what is in the bucket: the
 * poller and the per-tenant lists of live and compacted metas. May include:
 * base, parquet, backend, tempo. Order: base <- parquet <- backend <- tempo
 * <- blocklist <- plan <- compact <- daemon, controller
 * (hack/check-layers.sh).
 */
#ifndef TC_BLOCKLIST_H
#define TC_BLOCKLIST_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "tempo/meta.h"
#include "base/tc.h"

struct blocklist;

struct blocklist *blocklist_new(void);
void blocklist_free(struct blocklist *bl);

/* blocklist_set_tenant() replaces a tenant's lists with copies of the given
 * metas (borrowed). Duplicated IDs keep one copy. Empty lists remove
 * the tenant. */
int blocklist_set_tenant(struct blocklist *bl, const char *tenant, const struct meta *live,
                         size_t nlive, const struct meta *compacted, size_t ncompacted);

/* blocklist_update() is Tempo's Update: remove `remove` from live, add `add`
 * (unless present, removed or compacted in the same call), then the same for
 * compacted. IDs in remove/cremove are 16-byte arrays. Recorded for
 * re-application by blocklist_apply_poll(). */
int blocklist_update(struct blocklist *bl, const char *tenant, const struct meta *add, size_t nadd,
                     const uint8_t (*remove)[16], size_t nremove, const struct meta *cadd,
                     size_t ncadd, const uint8_t (*cremove)[16], size_t ncremove);

/* blocklist_apply_poll() replaces every tenant by polled's (whose contents
 * are moved; polled is left empty), then re-applies and clears the pending
 * local updates. */
int blocklist_apply_poll(struct blocklist *bl, struct blocklist *polled);

/* blocklist_tenants() copies the tenant names, sorted. */
int blocklist_tenants(struct blocklist *bl, struct backend_strlist *out);
/* blocklist_get() copies a tenant's metas into caller-owned arrays (tc_free);
 * either output may be NULL. Returns TC_NOTFOUND for an unknown tenant. */
int blocklist_get(struct blocklist *bl, const char *tenant, struct meta **live, size_t *nlive,
                  struct meta **compacted, size_t *ncompacted);
/* blocklist_lookup() finds one block; *compacted says in which list. */
int blocklist_lookup(struct blocklist *bl, const char *tenant, const uint8_t id[16],
                     struct meta *out, int *compacted);
/* Totals: blocks (live + compacted) and heap bytes held by the arrays. */
size_t blocklist_len(struct blocklist *bl);
size_t blocklist_bytes(struct blocklist *bl);

int blocklist_save(struct blocklist *bl, const char *path, struct tc_err *err);
/* blocklist_load() adds the tenants of a state file. A corrupt file is an
 * error (TC_CORRUPT/TC_PARSE) and leaves bl unchanged. */
int blocklist_load(struct blocklist *bl, const char *path, struct tc_err *err);

/* blocklist_sort_ids() sorts metas by ID (exposed for the poller). */
void blocklist_sort_ids(struct meta *m, size_t n);
/* blocklist_bsearch() finds id in a sorted array, or NULL. */
const struct meta *blocklist_bsearch(const struct meta *m, size_t n, const uint8_t id[16]);

#endif
