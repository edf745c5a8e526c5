/*
 * vp4_block.c - one vParquet4 block into a backend: data.parquet, the bloom
 * shards, index, then meta.json (see vp4_block.h).
 *
 * data.parquet is written by the Parquet writer into a spool file and then
 * handed to backend_put_fd(): the local backend copies it in the kernel, S3
 * streams it as a multipart upload, so memory holds one row group's pages'
 * bookkeeping and at most one part.
 */
#include "tempo/vp4_block.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/uuid.h"
#include "tempo/vp4_bloom.h"

#define VP4_BLOCK_MAX_SHARDS VP4_BLOOM_MAX_SHARDS

#define B(x) offsetof(struct vp4_block_cfg, x)

/* Tempo accepts any positive row group size; tests want small ones. */
static const struct cfg_key vp4_block_keys[] = {
    {"storage.trace.block.bloom_filter_false_positive", NULL, CFG_FLOAT, B(bloom_fp), "0.01",
     0.000001, 0.5, "Bloom filter false positive rate."},
    {"storage.trace.block.bloom_filter_shard_size_bytes", NULL, CFG_BYTES, B(bloom_shard_bytes),
     "102400", 1024, 1073741824.0, "Bytes per bloom shard."},
    {"storage.trace.block.parquet_row_group_size_bytes", NULL, CFG_BYTES, B(row_group_bytes),
     "100000000", 1, 4294967296.0, "Target Parquet row group size."},
};

const struct cfg_table vp4_block_cfg_table = {vp4_block_keys, TC_ARRAY_LEN(vp4_block_keys)};

void
vp4_block_cfg_defaults(struct vp4_block_cfg *c)
{
    struct tc_err err;

    memset(c, 0, sizeof(*c));
    /* numbers only: this cannot fail */
    if (cfg_defaults(&vp4_block_cfg_table, c, &err) != TC_OK)
        LOG_ERROR("block: bad default in vp4_block_cfg_table", KV_ERR(&err));
}

struct vp4_block {
    struct vp4_block_opts o;
    struct meta tmpl;
    uint8_t id[16];
    char ids[UUID_STR_LEN + 1];
    char spool[4096];
    struct parquet_writer *w;
    struct vp4_bloom bloom;
    struct parquet_rowset rs; /* add_trace's one-row scratch */
    struct parquet_rowiter it;
    struct parquet_arena arena; /* add_trace's, reset per trace: no malloc per trace */
    int rs_ready;
    uint8_t first[16], last[16]; /* minID, maxID (Tempo <= 2.5 writes them) */
    uint32_t first_len, last_len;
    uint64_t objects;
    int closed;
    int wrote_any; /* objects exist in the backend that vp4_block_free must remove */
    uint32_t shards_written;
    int index_written, data_written;
};

static void
block_key(const struct vp4_block *w, const char *file, char *out, size_t n)
{
    snprintf(out, n, "%s/%s/%s", w->o.tenant, w->ids, file);
}

static int
new_uuid(uint8_t id[16], struct tc_err *err)
{
    size_t got = 0;

    while (got < 16) {
        ssize_t k = getrandom(id + got, 16 - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return tc_err_set(err, TC_IO, "block: getrandom: %s", strerror(errno));
        got += (size_t)k;
    }
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* version 4 */
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    return TC_OK;
}

int
vp4_block_open(struct vp4_block **out, const struct vp4_block_opts *o, struct tc_err *err)
{
    struct parquet_writer_opts wo;
    struct vp4_block *w;
    const char *dir;
    int rc, fd;

    *out = NULL;
    if (o->be == NULL || o->tenant == NULL || o->schema == NULL || o->tmpl == NULL)
        return tc_err_set(err, TC_INVAL, "block: backend, tenant, schema and template are needed");
    if (o->cfg.row_group_bytes == 0 || !(o->cfg.bloom_fp > 0 && o->cfg.bloom_fp < 1) ||
        o->cfg.bloom_shard_bytes == 0)
        return tc_err_set(err, TC_INVAL,
                          "block: row group size %llu, bloom false positive rate %g and shard "
                          "size %llu must be positive, the rate below 1 (vp4_block_cfg_defaults)",
                          (unsigned long long)o->cfg.row_group_bytes, o->cfg.bloom_fp,
                          (unsigned long long)o->cfg.bloom_shard_bytes);
    if ((rc = backend_valid_tenant(o->tenant, err)) != TC_OK)
        return rc;
    w = tc_calloc(1, sizeof(*w));
    if (w == NULL)
        return tc_err_set(err, TC_NOMEM, "block: out of memory");
    w->o = *o;
    w->tmpl = *o->tmpl;
    if (o->block_id)
        memcpy(w->id, o->block_id, 16);
    else if ((rc = new_uuid(w->id, err)) != TC_OK)
        goto fail;
    uuid_format(w->id, w->ids);
    rc = vp4_bloom_init(&w->bloom, o->cfg.bloom_fp, o->cfg.bloom_shard_bytes,
                        o->est_objects ? o->est_objects : 1);
    if (rc != TC_OK) {
        rc = tc_err_set(err, rc, "block %s: bloom filter", w->ids);
        goto fail;
    }
    dir = o->spool_dir && *o->spool_dir ? o->spool_dir : getenv("TMPDIR");
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    snprintf(w->spool, sizeof(w->spool), "%s/tc-block-%s.XXXXXX", dir, w->ids);
    fd = mkstemp(w->spool);
    if (fd < 0) {
        rc = tc_err_set(err, TC_IO, "block %s: spool file in %s: %s", w->ids, dir, strerror(errno));
        w->spool[0] = '\0';
        goto fail;
    }
    close(fd);
    memset(&wo, 0, sizeof(wo));
    wo.row_group_bytes = (size_t)o->cfg.row_group_bytes;
    if ((rc = parquet_writer_open(&w->w, w->spool, o->schema, &wo, err)) != TC_OK)
        goto fail;
    *out = w;
    return TC_OK;
fail:
    vp4_block_free(w);
    return rc;
}

static int
check_order(struct vp4_block *w, const uint8_t *id, uint32_t len, struct tc_err *err)
{
    uint32_t n;
    int c;

    if (id == NULL || len == 0 || len > 16)
        return tc_err_set(err, TC_INVAL, "block %s: a trace ID of %u bytes", w->ids, id ? len : 0);
    if (w->last_len) {
        n = len < w->last_len ? len : w->last_len;
        c = memcmp(id, w->last, n);
        if (c < 0 || (c == 0 && len <= w->last_len))
            return tc_err_set(err, TC_INVAL, "block %s: trace IDs must be ascending", w->ids);
    } else {
        memcpy(w->first, id, len);
        w->first_len = len;
    }
    memcpy(w->last, id, len);
    w->last_len = len;
    return TC_OK;
}

int
vp4_block_add_row(struct vp4_block *w, const struct parquet_row *row, struct tc_err *err)
{
    uint32_t len = 0;
    const uint8_t *id = parquet_row_bytes(row, VP4_COL_TRACEID, &len);
    int rc;

    if ((rc = check_order(w, id, len, err)) != TC_OK)
        return rc;
    if ((rc = parquet_writer_write_row(w->w, row, err)) != TC_OK)
        return rc;
    vp4_bloom_add(&w->bloom, id, len);
    w->objects++;
    return TC_OK;
}

int
vp4_block_add_trace(struct vp4_block *w, const struct vp4_trace *t, struct tc_err *err)
{
    struct parquet_row row;
    int rc;

    if (!w->rs_ready) {
        if (parquet_rowset_init(&w->rs, w->o.schema) != TC_OK)
            return tc_err_set(err, TC_NOMEM, "block %s: out of memory", w->ids);
        parquet_arena_init(&w->arena);
        w->rs_ready = 1;
    }
    parquet_rowset_reset(&w->rs);
    parquet_arena_reset(&w->arena);
    rc = vp4_trace_to_rowset(t, w->o.schema, &w->arena, &w->rs, err);
    if (rc != TC_OK)
        return rc;
    /* a fresh iterator over the one row (its index arrays are reused) */
    if (w->it.l0 == NULL && parquet_rowiter_init(&w->it, &w->rs) != TC_OK)
        return tc_err_set(err, TC_NOMEM, "block %s: out of memory", w->ids);
    w->it.idx = 0;
    memset(w->it.l1, 0, sizeof(size_t) * (size_t)w->rs.ncols);
    memset(w->it.v1, 0, sizeof(size_t) * (size_t)w->rs.ncols);
    if (!parquet_rowiter_next(&w->it, &row))
        return tc_err_set(err, TC_ERR, "block %s: a trace made no row", w->ids);
    return vp4_block_add_row(w, &row, err);
}

uint64_t
vp4_block_objects(const struct vp4_block *w)
{
    return w->objects;
}

uint64_t
vp4_block_bytes(const struct vp4_block *w)
{
    struct stat st;

    return w->spool[0] && stat(w->spool, &st) == 0 ? (uint64_t)st.st_size : 0;
}

const uint8_t *
vp4_block_id(const struct vp4_block *w)
{
    return w->id;
}

/* Writes the spool file as <tenant>/<id>/data.parquet. */
static int
upload_data(struct vp4_block *w, uint64_t size, struct tc_err *err)
{
    char key[BACKEND_MAX_KEY];
    int fd, rc;

    block_key(w, "data.parquet", key, sizeof(key));
    fd = open(w->spool, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tc_err_set(err, TC_IO, "block %s: open %s: %s", w->ids, w->spool, strerror(errno));
    w->wrote_any = 1;
    rc = backend_put_fd(w->o.be, key, fd, size, err);
    if (rc == TC_OK)
        w->data_written = 1;
    close(fd);
    return rc;
}

int
vp4_block_close(struct vp4_block *w, struct meta *out, struct tc_err *err)
{
    struct parquet_write_info info;
    char key[BACKEND_MAX_KEY], name[32];
    struct buf b;
    struct meta m;
    uint32_t sh;
    int g, rc;

    if (w->objects == 0)
        return tc_err_set(err, TC_INVAL, "block %s: no traces to write", w->ids);
    if ((rc = parquet_writer_close(w->w, &info, err)) != TC_OK)
        return rc;
    if ((rc = upload_data(w, info.file_size, err)) != TC_OK)
        return rc;
    unlink(w->spool);
    w->spool[0] = '\0';
    buf_init(&b, (size_t)64 << 20);
    for (sh = 0; sh < w->bloom.shards; sh++) {
        buf_reset(&b);
        snprintf(name, sizeof(name), "bloom-%u", sh);
        block_key(w, name, key, sizeof(key));
        if ((rc = vp4_bloom_marshal(&w->bloom, sh, &b)) != TC_OK) {
            rc = tc_err_set(err, rc, "block %s: bloom shard %u", w->ids, sh);
            goto out;
        }
        if ((rc = backend_put(w->o.be, key, b.data, b.len, err)) != TC_OK)
            goto out;
        w->shards_written = sh + 1;
    }
    buf_reset(&b);
    buf_puts(&b, "{\"rowGroups\":[");
    for (g = 0; g < info.row_groups; g++) {
        uint32_t kl = 0;
        const uint8_t *k = parquet_writer_rowgroup_last_key(w->w, g, &kl);
        if (k == NULL) {
            rc = tc_err_set(err, TC_ERR, "block %s: row group %d has no last TraceID", w->ids, g);
            goto out;
        }
        buf_puts(&b, g ? ",\"" : "\"");
        buf_put_base64(&b, k, kl);
        buf_putc(&b, '"');
    }
    if (buf_puts(&b, "]}") != TC_OK) {
        rc = tc_err_set(err, TC_TOOBIG, "block %s: index too large", w->ids);
        goto out;
    }
    block_key(w, "index", key, sizeof(key));
    if ((rc = backend_put(w->o.be, key, b.data, b.len, err)) != TC_OK)
        goto out;
    w->index_written = 1;

    m = w->tmpl;
    memcpy(m.id, w->id, 16);
    m.compacted = 0;
    m.compacted_s = 0;
    m.compacted_ns = 0;
    m.version = meta_intern("vParquet4", 9);
    m.tenant = meta_intern(w->o.tenant, strlen(w->o.tenant));
    m.encoding = META_ENC_NONE;
    m.index_page_size = 0;
    m.data_encoding = meta_intern("", 0);
    m.total_objects = (int64_t)w->objects;
    m.size = info.file_size;
    m.total_records = (uint32_t)info.row_groups;
    m.footer_size = info.footer_size;
    m.bloom_shards = w->bloom.shards;
    buf_reset(&b);
    if ((rc = meta_encode_json_ids(&m, w->first, w->first_len, w->last, w->last_len, &b)) !=
        TC_OK) {
        rc = tc_err_set(err, rc, "block %s: meta.json", w->ids);
        goto out;
    }
    block_key(w, BACKEND_META, key, sizeof(key));
    if ((rc = backend_put(w->o.be, key, b.data, b.len, err)) != TC_OK)
        goto out;
    w->closed = 1;
    if (out)
        *out = m;
out:
    buf_cleanup(&b);
    return rc;
}

void
vp4_block_free(struct vp4_block *w)
{
    char key[BACKEND_MAX_KEY], name[32];
    struct tc_err e;
    uint32_t sh;

    if (w == NULL)
        return;
    parquet_writer_free(w->w);
    if (w->spool[0])
        unlink(w->spool);
    if (!w->closed && w->wrote_any) {
        /* no meta.json was written: remove what was, best effort; what
         * remains is an orphan the sweep removes */
        if (w->index_written) {
            block_key(w, "index", key, sizeof(key));
            backend_delete(w->o.be, key, &e);
        }
        for (sh = 0; sh < w->shards_written; sh++) {
            snprintf(name, sizeof(name), "bloom-%u", sh);
            block_key(w, name, key, sizeof(key));
            backend_delete(w->o.be, key, &e);
        }
        if (w->data_written) {
            block_key(w, "data.parquet", key, sizeof(key));
            backend_delete(w->o.be, key, &e);
        }
    }
    vp4_bloom_cleanup(&w->bloom);
    if (w->rs_ready) {
        parquet_rowset_cleanup(&w->rs);
        parquet_rowiter_cleanup(&w->it);
        parquet_arena_cleanup(&w->arena);
    }
    tc_free(w);
}
