/*
 * selector.h - Tempo 2.7's time-window block selector (compaction planning).
 *
 * selector_new() groups and orders the live metas of one tenant exactly as
 * Tempo's timeWindowBlockSelector does (research/tempo.md section 4.2), so the
 * jobs and their hash strings equal Tempo's. selector_next() returns the next
 * job: 2..4 metas of one group, version, data encoding and dedicated columns,
 * within max objects and max bytes. A selector is single-use.
 *
 * The metas are borrowed: they must outlive the selector.
 *
 * Layer plan (compactor/core/plan/): what to do with the blocklist: Tempo's
 * job selector, ring ownership, retention. May include: base, parquet,
 * backend, tempo, blocklist. Order: base <- parquet <- backend <- tempo <-
 * blocklist <- plan <- compact <- daemon, controller (hack/check-layers.sh).
 */
#ifndef TC_SELECTOR_H
#define TC_SELECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "tempo/meta.h"

#define SELECTOR_MIN_INPUTS 2
#define SELECTOR_MAX_INPUTS 4
#define SELECTOR_ACTIVE_WINDOW_S (24 * 3600)
#define SELECTOR_HASH_MAX 320

struct selector;

struct selector_job {
    const struct meta *inputs[SELECTOR_MAX_INPUTS]; /* borrowed */
    size_t n;
    char hash[SELECTOR_HASH_MAX]; /* the ownership string, e.g. "t-0-460259-0" */
};

/* selector_new() plans over n metas (borrowed). now_s is the clock (Unix
 * seconds) so tests can fix it. NULL on OOM or window_s <= 0. */
struct selector *selector_new(const struct meta *const *metas, size_t n, int64_t window_s,
                              int64_t max_objects, uint64_t max_bytes, int64_t now_s);
/* selector_next() fills job and returns 1, or returns 0 when exhausted. */
int selector_next(struct selector *s, struct selector_job *job);
void selector_free(struct selector *s);

/* selector_dc_hash() is Tempo's DedicatedColumns.Hash() of a meta's
 * dedicated-columns JSON text ("" or "[]" give 0). */
uint64_t selector_dc_hash(const char *dedicated_json);

#endif
