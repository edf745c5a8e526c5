/*
 * vp4_split.c - splits one vParquet4 block into overlapping blocks with the
 * core block writer: the input of the compaction correctness tests, built
 * from a real Tempo block rather than from the generator.
 *
 * Row i of the source (in TraceID order) goes, by i % 6, to:
 *   0, 1, 2  one part only (part 0, 1 or 2 mod parts): a lone trace;
 *   3        parts 0 and 1, the same row bytes (byte-equal copies);
 *   4        every part, the same row bytes;
 *   5        part 0 keeps the spans at even positions, part 1 the odd ones,
 *            part 2 the whole trace: copies that differ, whose union is
 *            the source trace (the combiner's case).
 * So the union of the parts' (TraceID, SpanID) pairs is the source's, and
 * a correct compaction of the parts gives back the source's pairs, each
 * trace once.
 */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/uuid.h"
#include "tempo/meta.h"
#include "tempo/vp4.h"
#include "tempo/vp4_block.h"
#include "tools/tools.h"

#define SPLIT_MAX_PARTS 3

/* Keeps the spans whose position in the trace has parity `odd`; drops the
 * ScopeSpans and ResourceSpans left empty. Rewrites t's arrays in a. */
static int
keep_parity(struct vp4_trace *t, int odd, struct parquet_arena *a)
{
    uint32_t r, s, k, nrs = 0, pos = 0;
    struct vp4_resource_spans *rs;

    rs = parquet_arena_alloc(a, sizeof(*rs) * (t->nrs ? t->nrs : 1));
    if (rs == NULL)
        return TC_NOMEM;
    for (r = 0; r < t->nrs; r++) {
        struct vp4_resource_spans *d = &rs[nrs];
        uint32_t nss = 0;
        *d = t->rs[r];
        d->ss = parquet_arena_alloc(a, sizeof(*d->ss) * (t->rs[r].nss ? t->rs[r].nss : 1));
        if (d->ss == NULL)
            return TC_NOMEM;
        for (s = 0; s < t->rs[r].nss; s++) {
            const struct vp4_scope_spans *src = &t->rs[r].ss[s];
            struct vp4_scope_spans *ss = &d->ss[nss];
            *ss = *src;
            ss->nspans = 0;
            ss->spans =
                parquet_arena_alloc(a, sizeof(*ss->spans) * (src->nspans ? src->nspans : 1));
            if (ss->spans == NULL)
                return TC_NOMEM;
            for (k = 0; k < src->nspans; k++, pos++)
                if ((int)(pos & 1) == odd)
                    ss->spans[ss->nspans++] = src->spans[k];
            nss += ss->nspans > 0;
        }
        d->nss = nss;
        nrs += nss > 0;
    }
    t->rs = rs;
    t->nrs = nrs;
    return TC_OK;
}

static int
read_meta(const char *dir, struct meta *m, struct tc_err *err)
{
    char path[4096];
    struct buf b;
    int rc;

    snprintf(path, sizeof(path), "%s/meta.json", dir);
    buf_init(&b, (size_t)16 << 20);
    rc = buf_read_file(&b, path, err);
    if (rc == TC_OK) {
        rc = meta_decode_json(b.data, b.len, m, err);
        if (rc != TC_OK)
            tc_err_prefix(err, "%s", path);
    }
    buf_cleanup(&b);
    return rc;
}

int
vp4_split_block(const char *src_dir, struct backend *be, const char *tenant, int parts,
                struct vp4_split_result *res, struct tc_err *err)
{
    struct parquet_schema *schema = NULL;
    struct parquet_reader *r = NULL;
    struct parquet_cursor *c = NULL;
    struct vp4_block *w[SPLIT_MAX_PARTS] = {NULL};
    struct vp4_block_opts o;
    struct parquet_arena a;
    struct meta tmpl;
    char path[4096];
    int rc, p, eof = 0;
    uint64_t i;

    memset(res, 0, sizeof(*res));
    if (parts < 2 || parts > SPLIT_MAX_PARTS)
        return tc_err_set(err, TC_INVAL, "split: --parts must be 2..%d", SPLIT_MAX_PARTS);
    if ((rc = read_meta(src_dir, &tmpl, err)) != TC_OK)
        return rc;
    if (strcmp(tmpl.version, "vParquet4") != 0)
        return tc_err_set(err, TC_INVAL, "split: %s/meta.json: format %s, want vParquet4", src_dir,
                          tmpl.version);
    tmpl.tenant = meta_intern(tenant, strlen(tenant));
    tmpl.compaction_level = 0;
    parquet_arena_init(&a);
    snprintf(path, sizeof(path), "%s/data.parquet", src_dir);
    if ((rc = vp4_schema_new(&schema, err)) != TC_OK ||
        (rc = parquet_reader_open(&r, path, err)) != TC_OK ||
        (rc = parquet_reader_project(r, schema, err)) != TC_OK ||
        (rc = parquet_cursor_new(&c, r, err)) != TC_OK)
        goto out;
    memset(&o, 0, sizeof(o));
    vp4_block_cfg_defaults(&o.cfg);
    o.be = be;
    o.tenant = tenant;
    o.schema = schema;
    o.est_objects = (uint64_t)(tmpl.total_objects > 0 ? tmpl.total_objects : 1);
    o.tmpl = &tmpl;
    for (p = 0; p < parts; p++)
        if ((rc = vp4_block_open(&w[p], &o, err)) != TC_OK)
            goto out;
    for (i = 0;; i++) {
        struct parquet_row row;
        struct vp4_trace *t;
        int k = (int)(i % 6);
        if ((rc = parquet_cursor_next(c, &row, &eof, err)) != TC_OK)
            goto out;
        if (eof)
            break;
        res->traces++;
        if (k < 3) {
            rc = vp4_block_add_row(w[k % parts], &row, err);
        } else if (k == 3 || k == 4) {
            for (p = 0; rc == TC_OK && p < (k == 3 ? 2 : parts); p++)
                rc = vp4_block_add_row(w[p], &row, err);
            res->same++;
        } else {
            /* copies that differ: even spans, odd spans, then the whole */
            parquet_arena_reset(&a);
            for (p = 0; rc == TC_OK && p < parts; p++) {
                if (p >= 2) {
                    rc = vp4_block_add_row(w[p], &row, err);
                    continue;
                }
                if ((rc = vp4_trace_from_row(&row, schema, &a, &t, err)) != TC_OK)
                    goto out;
                if (keep_parity(t, p, &a) != TC_OK) {
                    rc = tc_err_set(err, TC_NOMEM, "split: out of memory");
                    goto out;
                }
                if (t->nrs > 0)
                    rc = vp4_block_add_trace(w[p], t, err);
            }
            res->differ++;
        }
        if (rc != TC_OK)
            goto out;
    }
    for (p = 0; p < parts; p++) {
        struct meta m;
        if ((rc = vp4_block_close(w[p], &m, err)) != TC_OK)
            goto out;
        uuid_format(m.id, res->block_id[p]);
        res->objects[p] = (uint64_t)m.total_objects;
    }
    res->parts = parts;
out:
    for (p = 0; p < SPLIT_MAX_PARTS; p++)
        vp4_block_free(w[p]);
    parquet_cursor_free(c);
    parquet_reader_free(r);
    parquet_schema_free(schema);
    parquet_arena_cleanup(&a);
    return rc;
}
