/*
 * compact.c - one compaction job: a k-way merge of vParquet4 blocks by
 * TraceID into a new block, then the commit (see compact.h for the order).
 */
#include "compact/compact.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "base/uuid.h"
#include "compact/combine.h"
#include "parquet/parquet.h"
#include "plan/retention.h"
#include "tempo/vp4.h"
#include "tempo/vp4_block.h"

/* How often (ms) the merge asks whether it still owns the job. */
/* Ownership and the shutdown deadline are checked this often: Tempo checks
 * ownership every second; shutdown wants to stop sooner. */
#define COMPACT_OWNS_EVERY_MS 100
#define COMPACT_SPANID_COL "rs.list.element.ss.list.element.Spans.list.element.SpanID"

static struct metric *m_blocks, *m_objects_written, *m_bytes_written, *m_objects_combined,
    *m_errors, *m_discarded, *m_warnings, *m_duration, *m_spans_combined;

void
compact_metrics_init(void)
{
    static const char *const level_l[] = {"level", NULL};
    static const char *const discard_l[] = {"reason", "tenant", NULL};
    static const char *const warn_l[] = {"reason", "tenant", NULL};
    static const char *const rf_l[] = {"replication_factor", NULL};
    static const double dur_b[] = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600};
    struct metrics *r = metrics_default();

    if (m_blocks)
        return;
    m_blocks = metrics_counter(r, "tempodb_compaction_blocks_total",
                               "Total number of blocks compacted.", level_l);
    m_objects_written = metrics_counter(r, "tempodb_compaction_objects_written_total",
                                        "Total number of objects written to backend during "
                                        "compaction.",
                                        level_l);
    m_bytes_written = metrics_counter(r, "tempodb_compaction_bytes_written_total",
                                      "Total number of bytes written to backend during "
                                      "compaction.",
                                      level_l);
    m_objects_combined =
        metrics_counter(r, "tempodb_compaction_objects_combined_total",
                        "Total number of objects combined during compaction.", level_l);
    m_errors = metrics_counter(r, "tempodb_compaction_errors_total",
                               "Total number of errors occurring during compaction.", NULL);
    m_spans_combined =
        metrics_gauge(r, "tempodb_compaction_spans_combined_total",
                      "Number of spans that are deduped per replication factor.", rf_l);
    m_discarded = metrics_counter(r, "tempo_discarded_spans_total",
                                  "The total number of samples that were discarded.", discard_l);
    m_warnings = metrics_counter(r, "tempo_warnings_total",
                                 "The total number of warnings per tenant with reason.", warn_l);
    m_duration = metrics_histogram(r, "tempo_compactor_job_duration_seconds",
                                   "(ours) Duration of one compaction job, from the first read "
                                   "to the inputs marked compacted.",
                                   NULL, dur_b, TC_ARRAY_LEN(dur_b));
}

/* ---- inputs ---- */

struct input {
    struct backend *be;
    char key[BACKEND_MAX_KEY];
    struct parquet_reader *r;
    struct parquet_cursor *cur;
    struct parquet_row row;
    int eof;
    struct buf scratch;
};

static int
input_read_at(void *ctx, uint64_t off, void *dst, size_t len, struct tc_err *err)
{
    struct input *in = ctx;
    int rc;

    buf_reset(&in->scratch);
    rc = backend_get(in->be, in->key, off, len, len + 1, &in->scratch, NULL, err);
    if (rc != TC_OK)
        return rc;
    if (in->scratch.len != len)
        return tc_err_set(err, TC_CORRUPT, "%s: short read at %llu (%zu of %zu bytes)", in->key,
                          (unsigned long long)off, in->scratch.len, len);
    memcpy(dst, in->scratch.data, len);
    return TC_OK;
}

static void
block_key(char *out, size_t n, const char *tenant, const uint8_t id[16], const char *file)
{
    char ids[UUID_STR_LEN + 1];

    uuid_format(id, ids);
    snprintf(out, n, "%s/%s/%s", tenant, ids, file);
}

static int
input_open(struct input *in, struct backend *be, const char *tenant, const struct meta *m,
           const struct parquet_schema *schema, int keep_dict, struct tc_err *err)
{
    struct parquet_source src;
    int rc;

    in->be = be;
    buf_init(&in->scratch, (size_t)1 << 30);
    block_key(in->key, sizeof(in->key), tenant, m->id, "data.parquet");
    if (m->size == 0)
        return tc_err_set(err, TC_CORRUPT, "%s: meta.json has no size", in->key);
    src.read_at = input_read_at;
    src.ctx = in;
    src.size = m->size;
    rc = parquet_reader_open_source(&in->r, &src, in->key, err);
    if (rc == TC_NOTFOUND) /* the meta is there: a broken block, not a vanished one */
        return tc_err_set(err, TC_CORRUPT, "%s is missing although its meta.json exists", in->key);
    if (rc != TC_OK || (rc = parquet_reader_project(in->r, schema, err)) != TC_OK ||
        (rc = parquet_cursor_new(&in->cur, in->r, err)) != TC_OK)
        return rc;
    if (keep_dict)
        parquet_cursor_keep_dict(in->cur);
    return parquet_cursor_next(in->cur, &in->row, &in->eof, err);
}

static void
input_close(struct input *in)
{
    parquet_cursor_free(in->cur);
    parquet_reader_free(in->r);
    buf_cleanup(&in->scratch);
}

static const uint8_t *
input_id(const struct input *in, uint32_t *len)
{
    const uint8_t *p = parquet_row_bytes(&in->row, VP4_COL_TRACEID, len);

    if (p == NULL)
        *len = 0;
    return p;
}

static int
id_cmp(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
    uint32_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;

    return c ? c : (alen > blen) - (alen < blen);
}

/* ---- merge ---- */

struct job {
    struct input in[COMPACT_MAX_INPUTS];
    size_t n;
    const struct parquet_schema *schema;
    int spanid_col;
    struct vp4_block *out;
    struct parquet_arena arena;
    const struct compact_cfg *cfg;
    struct compact_progress *prog;
    struct compact_result *res;
    uint8_t last_id[16];
    uint32_t last_len;
};

static uint64_t
row_spans(const struct job *j, const struct parquet_row *row)
{
    if (j->spanid_col < 0)
        return 0;
    return row->v1[j->spanid_col] - row->v0[j->spanid_col];
}

/* 1 if row sel[i] is byte-equal to one of sel[0..i). */
static int
row_seen(const struct job *j, const size_t *sel, size_t i)
{
    for (size_t p = 0; p < i; p++)
        if (parquet_row_equal(&j->in[sel[p]].row, &j->in[sel[i]].row))
            return 1;
    return 0;
}

/* Writes the merged form of the rows of one trace ID (sel[0..k)). */
static int
merge_one(struct job *j, const size_t *sel, size_t k, struct tc_err *err)
{
    const struct vp4_trace *traces[COMPACT_MAX_INPUTS];
    struct combine_stats st;
    struct vp4_trace *t, *out;
    size_t i, m = 0, est = 0;
    uint64_t skipped = 0;
    int rc, equal = 1;

    if (k == 1)
        return vp4_block_add_row(j->out, &j->in[sel[0]].row, err);
    for (i = 1; i < k && equal; i++)
        equal = parquet_row_equal(&j->in[sel[0]].row, &j->in[sel[i]].row);
    if (equal) {
        j->res->objects_dropped += k - 1;
        return vp4_block_add_row(j->out, &j->in[sel[0]].row, err);
    }
    if (j->cfg->max_bytes_per_trace > 0) {
        for (i = 0; i < k; i++)
            est += parquet_row_estimate_proto_size(&j->in[sel[i]].row);
        if (est > j->cfg->max_bytes_per_trace) {
            for (i = 1; i < k; i++)
                j->res->spans_discarded += row_spans(j, &j->in[sel[i]].row);
            return vp4_block_add_row(j->out, &j->in[sel[0]].row, err);
        }
    }
    parquet_arena_reset(&j->arena);
    for (i = 0; i < k; i++) {
        /* A copy byte-equal to an earlier row adds no span: the combiner
         * would drop all of them as known. Not the last row, which the
         * combiner treats as final (its own duplicates are kept). */
        if (i > 0 && i + 1 < k && row_seen(j, sel, i)) {
            skipped += row_spans(j, &j->in[sel[i]].row);
            continue;
        }
        rc = vp4_trace_from_row(&j->in[sel[i]].row, j->schema, &j->arena, &t, err);
        if (rc != TC_OK)
            return rc;
        traces[m++] = t;
    }
    memset(&st, 0, sizeof(st));
    rc = combine_traces(traces, m, &j->arena, &out, &st, err);
    if (rc != TC_OK)
        return rc;
    j->res->objects_combined++;
    j->res->spans_deduped += st.spans_deduped + skipped;
    j->res->disconnected += st.disconnected ? 1 : 0;
    j->res->rootless += st.rootless ? 1 : 0;
    return vp4_block_add_trace(j->out, out, err);
}

static int
merge(struct job *j, compact_owns_fn owns, void *owns_ud, struct tc_err *err)
{
    uint64_t next_check = tc_now_ms() + COMPACT_OWNS_EVERY_MS, rows = 0;
    size_t sel[COMPACT_MAX_INPUTS];
    int rc;

    for (;;) {
        const uint8_t *min = NULL, *id;
        uint32_t minlen = 0, len;
        size_t i, k = 0;

        for (i = 0; i < j->n; i++) {
            int c;
            if (j->in[i].eof)
                continue;
            id = input_id(&j->in[i], &len);
            c = min ? id_cmp(id, len, min, minlen) : -1;
            if (c < 0) {
                min = id;
                minlen = len;
                k = 0;
            }
            if (c <= 0)
                sel[k++] = i;
        }
        if (k == 0)
            return TC_OK;
        if (minlen == 0 || minlen > sizeof(j->last_id))
            return tc_err_set(err, TC_CORRUPT, "%s: a row has a TraceID of %u bytes",
                              j->in[sel[0]].key, minlen);
        /* Each input is sorted; a smaller ID after a bigger one means one is not. */
        if (j->last_len && id_cmp(min, minlen, j->last_id, j->last_len) <= 0)
            return tc_err_set(err, TC_CORRUPT, "%s: TraceIDs are not in ascending order",
                              j->in[sel[0]].key);
        memcpy(j->last_id, min, minlen);
        j->last_len = minlen;
        if ((rc = merge_one(j, sel, k, err)) != TC_OK)
            return rc;
        for (i = 0; i < k; i++) {
            struct input *in = &j->in[sel[i]];
            if ((rc = parquet_cursor_next(in->cur, &in->row, &in->eof, err)) != TC_OK)
                return rc;
        }
        if (j->prog) {
            atomic_fetch_add(&j->prog->rows_in, k);
            atomic_store(&j->prog->rows_out, vp4_block_objects(j->out));
        }
        /* the clock, the spool size and ownership: now and then, not per row */
        if ((++rows & 255) == 0 && tc_now_ms() >= next_check) {
            if (j->prog)
                atomic_store(&j->prog->bytes_out, vp4_block_bytes(j->out));
            if (owns && !owns(owns_ud))
                return tc_err_set(err, TC_CANCELED,
                                  "job abandoned: ownership lost or shutting down");
            next_check = tc_now_ms() + COMPACT_OWNS_EVERY_MS;
        }
    }
}

int
compact_scan(struct backend *be, const char *tenant, const struct meta *const *in, size_t n,
             uint64_t *rows, struct tc_err *err)
{
    struct input inp[COMPACT_MAX_INPUTS];
    struct parquet_schema *schema = NULL;
    size_t i;
    int rc;

    *rows = 0;
    memset(inp, 0, sizeof(inp));
    if (n > COMPACT_MAX_INPUTS)
        return tc_err_set(err, TC_INVAL, "scan of %zu inputs (at most %d)", n, COMPACT_MAX_INPUTS);
    if ((rc = vp4_schema_new(&schema, err)) != TC_OK)
        return rc;
    for (i = 0; i < n && rc == TC_OK; i++) {
        rc = input_open(&inp[i], be, tenant, in[i], schema, 0, err);
        while (rc == TC_OK && !inp[i].eof) {
            (*rows)++;
            rc = parquet_cursor_next(inp[i].cur, &inp[i].row, &inp[i].eof, err);
        }
        input_close(&inp[i]);
    }
    parquet_schema_free(schema);
    return rc;
}

/* The output meta's template: what Tempo takes from the inputs. */
static void
output_template(const struct meta *const *in, size_t n, const char *tenant, struct meta *t)
{
    size_t i;

    *t = *in[0];
    t->tenant = meta_intern(tenant, strlen(tenant));
    t->compacted = 0;
    t->compaction_level = 0;
    for (i = 0; i < n; i++) {
        const struct meta *m = in[i];
        if (m->compaction_level > t->compaction_level)
            t->compaction_level = m->compaction_level;
        if (m->start_s < t->start_s || (m->start_s == t->start_s && m->start_ns < t->start_ns)) {
            t->start_s = m->start_s;
            t->start_ns = m->start_ns;
        }
        if (m->end_s > t->end_s || (m->end_s == t->end_s && m->end_ns > t->end_ns)) {
            t->end_s = m->end_s;
            t->end_ns = m->end_ns;
        }
    }
    t->compaction_level++;
}

/* Removes a finished output that must not stay: meta.json first, so it is
 * invisible at once; the rest as an orphan would be. */
static void
remove_output(struct backend *be, const char *tenant, const uint8_t id[16])
{
    char key[BACKEND_MAX_KEY], ids[UUID_STR_LEN + 1];
    struct tc_err e;

    uuid_format(id, ids);
    block_key(key, sizeof(key), tenant, id, BACKEND_META);
    if (backend_delete(be, key, &e) != TC_OK && e.code != TC_NOTFOUND) {
        LOG_ERROR("cannot remove the output of an abandoned job; it duplicates its inputs until "
                  "they are compacted again",
                  KV_S("tenant", tenant), KV_S("block", ids), KV_ERR(&e));
        return;
    }
    if (retention_clear_block(be, tenant, id, &e) != TC_OK)
        LOG_WARN("leftover files of an abandoned output; the orphan sweep removes them",
                 KV_S("tenant", tenant), KV_S("block", ids), KV_ERR(&e));
}

static void
count_metrics(const char *tenant, const struct meta *const *in, size_t n,
              const struct compact_result *res)
{
    char level[16], rf[16];

    snprintf(level, sizeof(level), "%u", res->level);
    snprintf(rf, sizeof(rf), "%u", res->out.replication_factor);
    metrics_add(m_blocks, (const char *[]){level}, (double)n);
    metrics_add(m_objects_written, (const char *[]){level}, (double)res->out.total_objects);
    metrics_add(m_bytes_written, (const char *[]){level}, (double)res->out.size);
    metrics_add(m_objects_combined, (const char *[]){level}, (double)res->objects_combined);
    metrics_add(m_spans_combined, (const char *[]){rf}, (double)res->spans_deduped);
    if (res->spans_discarded)
        metrics_add(m_discarded, (const char *[]){"trace_too_large_to_compact", tenant},
                    (double)res->spans_discarded);
    if (res->disconnected)
        metrics_add(m_warnings, (const char *[]){"disconnected_trace_compactor_combine", tenant},
                    (double)res->disconnected);
    if (res->rootless)
        metrics_add(m_warnings, (const char *[]){"rootless_trace_compactor_combine", tenant},
                    (double)res->rootless);
    (void)in;
}

/* Marks the inputs compacted and moves them in the blocklist. Runs to the
 * end once started: a half-marked job only ever leaves duplicates. */
static void
commit(struct backend *be, struct blocklist *bl, const char *tenant, const struct meta *const *in,
       size_t n, const struct compact_cfg *cfg, struct compact_result *res)
{
    uint8_t rm[COMPACT_MAX_INPUTS][16];
    struct meta cadd[COMPACT_MAX_INPUTS + 1];
    size_t i, nc = 0;
    int64_t now = cfg->now_s ? cfg->now_s : (int64_t)time(NULL);
    struct tc_err e;
    char ids[UUID_STR_LEN + 1];
    size_t taken = 0;
    int retire;

    for (i = 0; i < n; i++) {
        memcpy(rm[i], in[i]->id, 16);
        if (retention_mark_compacted(be, tenant, in[i]->id, &e) != TC_OK) {
            uuid_format(in[i]->id, ids);
            taken += e.code == TC_NOTFOUND;
            res->mark_errors++;
            metrics_inc(m_errors, NULL);
            LOG_ERROR("unable to mark block compacted", KV_S("tenant", tenant), KV_S("block", ids),
                      KV_ERR(&e));
            continue;
        }
        res->marked++;
        cadd[nc] = *in[i];
        cadd[nc].compacted = 1;
        cadd[nc].compacted_s = now;
        cadd[nc].compacted_ns = 0;
        nc++;
    }
    /* Every input was already compacted by another compactor (two owners of
     * one job, e.g. beside Tempo's): its output, published before it marked
     * them, holds all our data, so ours is a pure duplicate. Retiring it
     * (marked compacted, deleted by retention later) stops the two from
     * compacting each other's copies forever. */
    retire = taken == n && retention_mark_compacted(be, tenant, res->out.id, &e) == TC_OK;
    if (retire) {
        res->retired = 1;
        cadd[nc] = res->out;
        cadd[nc].compacted = 1;
        cadd[nc].compacted_s = now;
        cadd[nc].compacted_ns = 0;
        nc++;
        uuid_format(res->out.id, ids);
        LOG_WARN("inputs already compacted by another compactor; output retired as a duplicate",
                 KV_S("tenant", tenant), KV_S("block", ids));
    }
    if (bl && blocklist_update(bl, tenant, &res->out, retire ? 0 : 1, (const uint8_t(*)[16])rm, n,
                               cadd, nc, NULL, 0) != TC_OK)
        LOG_WARN("blocklist update failed; the next poll corrects it", KV_S("tenant", tenant));
}

int
compact_job(struct backend *be, struct blocklist *bl, const char *tenant,
            const struct meta *const *in, size_t n, const struct compact_cfg *cfg,
            compact_owns_fn owns, void *owns_ud, struct compact_progress *progress,
            struct compact_result *res, struct tc_err *err)
{
    struct parquet_schema *schema = NULL;
    struct vp4_block_opts bo;
    struct meta tmpl;
    struct job j;
    struct buf mb;
    uint64_t t0 = tc_now_ms(), objects = 0, bytes = 0;
    size_t i;
    int rc;

    compact_metrics_init();
    memset(res, 0, sizeof(*res));
    memset(&j, 0, sizeof(j));
    if (n < 2 || n > COMPACT_MAX_INPUTS)
        return tc_err_set(err, TC_INVAL, "compaction job with %zu inputs (2..%d)", n,
                          COMPACT_MAX_INPUTS);
    for (i = 0; i < n; i++) {
        if (strcmp(in[i]->version, "vParquet4") != 0)
            return tc_err_set(err, TC_UNSUPPORTED,
                              "block format %s is not compacted (vParquet4 only)", in[i]->version);
        if (in[i]->compaction_level > res->level)
            res->level = in[i]->compaction_level;
        objects += (uint64_t)(in[i]->total_objects > 0 ? in[i]->total_objects : 0);
        bytes += in[i]->size;
    }
    /* 1. the inputs must still be live */
    buf_init(&mb, 1 << 20);
    for (i = 0; i < n; i++) {
        char key[BACKEND_MAX_KEY];
        block_key(key, sizeof(key), tenant, in[i]->id, BACKEND_META);
        buf_reset(&mb);
        rc = backend_get(be, key, 0, 0, 1 << 20, &mb, NULL, err);
        if (rc != TC_OK) {
            buf_cleanup(&mb);
            return rc;
        }
    }
    buf_cleanup(&mb);
    if (progress) {
        atomic_store(&progress->rows_in, 0);
        atomic_store(&progress->rows_out, 0);
        atomic_store(&progress->bytes_out, 0);
        atomic_store(&progress->rows_total, objects);
        atomic_store(&progress->bytes_in, bytes);
        atomic_store(&progress->started_ms, t0);
    }

    /* 2-3. merge into the new block */
    if ((rc = vp4_schema_new(&schema, err)) != TC_OK)
        return rc;
    j.n = n;
    j.schema = schema;
    j.spanid_col = parquet_schema_find(schema, COMPACT_SPANID_COL);
    j.cfg = cfg;
    j.prog = progress;
    j.res = res;
    parquet_arena_init(&j.arena);
    for (i = 0; i < n; i++) {
        if ((rc = input_open(&j.in[i], be, tenant, in[i], schema, 1, err)) != TC_OK)
            goto out;
        /* each open decodes a first row group: a shutdown may be due since */
        if (owns && !owns(owns_ud)) {
            rc = tc_err_set(err, TC_CANCELED, "job abandoned: ownership lost or shutting down");
            goto out;
        }
    }
    output_template(in, n, tenant, &tmpl);
    memset(&bo, 0, sizeof(bo));
    bo.be = be;
    bo.tenant = tenant;
    bo.schema = schema;
    bo.cfg = cfg->block;
    bo.est_objects = objects;
    bo.tmpl = &tmpl;
    bo.spool_dir = cfg->spool_dir;
    if ((rc = vp4_block_open(&j.out, &bo, err)) != TC_OK ||
        (rc = merge(&j, owns, owns_ud, err)) != TC_OK ||
        (rc = vp4_block_close(j.out, &res->out, err)) != TC_OK)
        goto out;

    /* 4. still ours? */
    if (owns && !owns(owns_ud)) {
        remove_output(be, tenant, res->out.id);
        rc = tc_err_set(err, TC_CANCELED,
                        "lost ownership of the job after compaction; output "
                        "removed, inputs stay live");
        goto out;
    }
    /* 5. only now are the inputs compacted */
    commit(be, bl, tenant, in, n, cfg, res);
    count_metrics(tenant, in, n, res);
    metrics_observe(m_duration, NULL, (double)(tc_now_ms() - t0) / 1000.0);
out:
    if (rc != TC_OK && rc != TC_NOTFOUND && rc != TC_CANCELED)
        metrics_inc(m_errors, NULL);
    vp4_block_free(j.out);
    for (i = 0; i < n; i++)
        input_close(&j.in[i]);
    parquet_arena_cleanup(&j.arena);
    parquet_schema_free(schema);
    return rc;
}
