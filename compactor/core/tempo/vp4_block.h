/*
 * vp4_block.h - writes one Tempo vParquet4 block into a backend:
 * data.parquet, bloom-0..N-1, index and meta.json, in that order, so the
 * block becomes visible (meta.json) only once everything else is durable
 * (research/tempo.md §1.1, §4.4, §6.4, §6.5).
 *
 *   vp4_block_open(&w, &opts, &err);
 *   vp4_block_add_row(w, &row, &err);      rows in ascending TraceID order
 *   ...                                    (or vp4_block_add_trace)
 *   vp4_block_close(w, &meta, &err);       blooms, index, meta.json last
 *   vp4_block_free(w);
 *
 * data.parquet is spooled to a local file while rows arrive, then streamed
 * into the backend's multipart write (backend_append_*) in 8 MiB parts:
 * memory holds the buffered row group plus one upload part, never the file. Row groups are
 * cut at row_group_bytes with Tempo's size estimate. The bloom is sized
 * from est_objects as Tempo's NewBloom does. meta.json is filled from what
 * was written: totalObjects, size, totalRecords (row groups), footerSize,
 * bloomShards, and from opts.tmpl: version, tenant, start/end,
 * compactionLevel, dedicatedColumns, replicationFactor.
 *
 * Failure: vp4_block_free() on a block that was not closed aborts the
 * upload and deletes whatever it wrote (best effort); without meta.json a
 * leftover is invisible to the poller and the orphan sweep removes it.
 *
 * Ownership: opts and everything it points to are borrowed until free.
 */
#ifndef TC_VP4_BLOCK_H
#define TC_VP4_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "base/cfg.h"
#include "base/tc.h"
#include "parquet/parquet.h"
#include "tempo/meta.h"
#include "tempo/vp4.h"

/* The block settings of Tempo's storage.trace.block.* keys. Their defaults,
 * bounds and docs are in vp4_block_cfg_table (the daemon's config table
 * includes it); vp4_block_open() refuses values out of range. */
struct vp4_block_cfg {
    uint64_t row_group_bytes;   /* parquet_row_group_size_bytes */
    double bloom_fp;            /* bloom_filter_false_positive */
    uint64_t bloom_shard_bytes; /* bloom_filter_shard_size_bytes */
};

extern const struct cfg_table vp4_block_cfg_table;

/* vp4_block_cfg_defaults() sets Tempo's defaults from vp4_block_cfg_table. */
void vp4_block_cfg_defaults(struct vp4_block_cfg *c);

struct vp4_block_opts {
    struct backend *be;                  /* borrowed */
    const char *tenant;                  /* borrowed */
    const uint8_t *block_id;             /* 16 bytes; NULL = a new random UUIDv4 */
    const struct parquet_schema *schema; /* rows' schema (vp4_schema_new); borrowed */
    struct vp4_block_cfg cfg;            /* row groups and bloom (vp4_block_cfg_defaults) */
    uint64_t est_objects;                /* sizes the bloom (Σ input totalObjects) */
    const struct meta *tmpl;             /* version, start/end, level, dedicated, RF */
    const char *spool_dir;               /* data.parquet is spooled here; NULL = $TMPDIR or /tmp */
};

struct vp4_block;

int vp4_block_open(struct vp4_block **out, const struct vp4_block_opts *o, struct tc_err *err);
/* Appends one row (laid out like opts.schema; column 0 = TraceID). Trace IDs
 * must arrive in ascending byte order: TC_INVAL otherwise. */
int vp4_block_add_row(struct vp4_block *w, const struct parquet_row *row, struct tc_err *err);
/* Appends one trace (converted with vp4_trace_to_rowset). */
int vp4_block_add_trace(struct vp4_block *w, const struct vp4_trace *t, struct tc_err *err);
/* Traces added so far, and data bytes written so far (flushed row groups;
 * a stat of the spool file, so call it now and then, not per row). */
uint64_t vp4_block_objects(const struct vp4_block *w);
uint64_t vp4_block_bytes(const struct vp4_block *w);
/* The block ID (16 bytes). */
const uint8_t *vp4_block_id(const struct vp4_block *w);
/* Finishes data.parquet, then writes the bloom shards, index and meta.json
 * (last). *out is the meta that was written. */
int vp4_block_close(struct vp4_block *w, struct meta *out, struct tc_err *err);
void vp4_block_free(struct vp4_block *w);

#endif
