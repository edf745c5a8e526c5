/*
 * retention.c - mark, clear and sweep, in crash-safe order.
 *
 * Mark: the copy to meta.compacted.json is durable before meta.json goes, so
 * a crash in between leaves a block listed as both, which the poller handles.
 * Clear: data files first, then meta.json (if any), then meta.compacted.json.
 */
#include "plan/retention.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "base/uuid.h"

static struct metric *m_marked, *m_deleted, *m_errors, *m_orphans;

static void
metrics_init(void)
{
    struct metrics *r = metrics_default();

    if (m_marked)
        return;
    m_marked = metrics_counter(r, "tempodb_retention_marked_for_deletion_total",
                               "Total number of blocks marked for deletion.", NULL);
    m_deleted = metrics_counter(r, "tempodb_retention_deleted_total",
                                "Total number of blocks deleted.", NULL);
    m_errors =
        metrics_counter(r, "tempodb_retention_errors_total",
                        "Total number of times an error occurred while applying retention.", NULL);
    m_orphans = metrics_counter(r, "tempodb_retention_orphans_deleted_total",
                                "Total number of block directories without a meta that were "
                                "removed.",
                                NULL);
}

static void
block_key(char *out, size_t n, const char *tenant, const uint8_t id[16], const char *file)
{
    char ids[UUID_STR_LEN + 1];

    uuid_format(id, ids);
    snprintf(out, n, "%s/%s%s%s", tenant, ids, file ? "/" : "", file ? file : "");
}

int
retention_mark_compacted(struct backend *b, const char *tenant, const uint8_t id[16],
                         struct tc_err *err)
{
    char src[BACKEND_MAX_KEY], dst[BACKEND_MAX_KEY];
    int rc;

    block_key(src, sizeof(src), tenant, id, BACKEND_META);
    block_key(dst, sizeof(dst), tenant, id, BACKEND_META_COMPACTED);
    rc = backend_copy(b, src, dst, err);
    if (rc != TC_OK)
        return rc;
    rc = backend_delete(b, src, err);
    return rc == TC_NOTFOUND ? TC_OK : rc;
}

struct keys {
    struct backend_strlist k;
    int64_t newest;
    int has_meta;
    int has_live, has_compacted; /* meta.json, meta.compacted.json */
};

static int
collect(const struct backend_object *o, void *ud)
{
    struct keys *ks = ud;
    const char *base = strrchr(o->key, '/');

    base = base ? base + 1 : o->key;
    if (strcmp(base, BACKEND_META) == 0)
        ks->has_meta = ks->has_live = 1;
    else if (strcmp(base, BACKEND_META_COMPACTED) == 0)
        ks->has_meta = ks->has_compacted = 1;
    if (o->last_modified > ks->newest)
        ks->newest = o->last_modified;
    return backend_strlist_add(&ks->k, o->key, strlen(o->key));
}

static int
is_meta_key(const char *key, const char *name)
{
    const char *base = strrchr(key, '/');

    return strcmp(base ? base + 1 : key, name) == 0;
}

static int
delete_keys(struct backend *b, struct keys *ks, struct tc_err *err)
{
    static const char *const order[] = {NULL, BACKEND_META, BACKEND_META_COMPACTED};
    size_t i, pass;
    int rc;

    /* pass 0: everything but the metas; pass 1: meta.json; pass 2: compacted */
    for (pass = 0; pass < 3; pass++) {
        for (i = 0; i < ks->k.n; i++) {
            const char *k = ks->k.v[i];
            int meta = is_meta_key(k, BACKEND_META) || is_meta_key(k, BACKEND_META_COMPACTED);
            if (pass == 0 ? meta : !is_meta_key(k, order[pass]))
                continue;
            rc = backend_delete(b, k, err);
            if (rc != TC_OK && rc != TC_NOTFOUND)
                return rc;
        }
    }
    return TC_OK;
}

int
retention_clear_block(struct backend *b, const char *tenant, const uint8_t id[16],
                      struct tc_err *err)
{
    char prefix[BACKEND_MAX_KEY];
    struct keys ks;
    int rc;

    memset(&ks, 0, sizeof(ks));
    block_key(prefix, sizeof(prefix), tenant, id, NULL);
    snprintf(prefix + strlen(prefix), sizeof(prefix) - strlen(prefix), "/");
    rc = backend_find(b, prefix, collect, &ks, err);
    if (rc == TC_OK)
        rc = delete_keys(b, &ks, err);
    backend_strlist_cleanup(&ks.k);
    return rc;
}

/* Groups a tenant's objects by block directory to find dirs with no meta. */
struct sweep {
    const char *tenant;
    size_t tlen;
    uint8_t cur[16];
    int have;
    struct keys ks;
    struct backend *b;
    struct blocklist *bl;
    const struct retention_cfg *cfg;
    struct retention_result *res;
};

/* A block with both metas is a mark that was cut off between the copy and
 * the delete: the poller already counts it compacted, yet Tempo's readers
 * still see it live. The copy is durable, so finish the mark. */
static void
finish_mark(struct sweep *s)
{
    char key[BACKEND_MAX_KEY], ids[UUID_STR_LEN + 1];
    struct tc_err e;
    int rc;

    uuid_format(s->cur, ids);
    block_key(key, sizeof(key), s->tenant, s->cur, BACKEND_META);
    rc = backend_delete(s->b, key, &e);
    if (rc == TC_OK || rc == TC_NOTFOUND) {
        s->res->half_marked++;
        LOG_INFO("finished an interrupted mark: meta.json removed beside meta.compacted.json",
                 KV_S("tenant", s->tenant), KV_S("block", ids));
    } else {
        s->res->errors++;
        metrics_inc(m_errors, NULL);
        LOG_ERROR("cannot finish an interrupted mark", KV_S("tenant", s->tenant),
                  KV_S("block", ids), KV_ERR(&e));
    }
}

static void
sweep_flush(struct sweep *s)
{
    struct meta m;
    int compacted;
    struct tc_err e;
    char ids[UUID_STR_LEN + 1];

    if (!s->have)
        return;
    if (s->ks.has_live && s->ks.has_compacted)
        finish_mark(s);
    if (!s->ks.has_meta && s->ks.newest < s->cfg->now_s - s->cfg->orphan_retention_s &&
        blocklist_lookup(s->bl, s->tenant, s->cur, &m, &compacted) == TC_NOTFOUND) {
        uuid_format(s->cur, ids);
        if (delete_keys(s->b, &s->ks, &e) == TC_OK) {
            s->res->orphans++;
            metrics_inc(m_orphans, NULL);
            LOG_INFO("removed orphaned block directory", KV_S("tenant", s->tenant),
                     KV_S("block", ids), KV_I("objects", s->ks.k.n));
        } else {
            s->res->errors++;
            metrics_inc(m_errors, NULL);
            LOG_ERROR("cannot remove orphaned block directory", KV_S("tenant", s->tenant),
                      KV_S("block", ids), KV_ERR(&e));
        }
    }
    backend_strlist_cleanup(&s->ks.k);
    memset(&s->ks, 0, sizeof(s->ks));
    s->have = 0;
}

static int
sweep_obj(const struct backend_object *o, void *ud)
{
    struct sweep *s = ud;
    const char *rel = o->key + s->tlen + 1, *slash = strchr(rel, '/');
    uint8_t id[16];

    /* only <tenant>/<uuid>/<file>; index files and odd names are left alone */
    if (slash == NULL || uuid_parse(rel, (size_t)(slash - rel), id) != TC_OK)
        return 0;
    if (s->have && memcmp(id, s->cur, 16) != 0)
        sweep_flush(s);
    if (!s->have) {
        memcpy(s->cur, id, 16);
        s->have = 1;
    }
    return collect(o, &s->ks);
}

int
retention_run_tenant(struct backend *b, struct blocklist *bl, const char *tenant,
                     const struct retention_cfg *cfg, retention_owns_fn owns, void *owns_ud,
                     struct retention_result *res, struct tc_err *err)
{
    struct meta *live = NULL, *comp = NULL;
    size_t nlive = 0, ncomp = 0, i;
    char ids[UUID_STR_LEN + 1], job[300];
    struct tc_err e;
    int rc;

    metrics_init();
    memset(res, 0, sizeof(*res));
    rc = blocklist_get(bl, tenant, &live, &nlive, &comp, &ncomp);
    if (rc == TC_NOTFOUND)
        return TC_OK;
    if (rc != TC_OK)
        return tc_err_set(err, rc, "retention %s: cannot read blocklist", tenant);

    for (i = 0; i < nlive; i++) {
        struct meta cm;
        if (live[i].end_s >= cfg->now_s - cfg->block_retention_s)
            continue;
        uuid_format(live[i].id, ids);
        if (owns && !owns(ids, owns_ud))
            continue;
        if (retention_mark_compacted(b, tenant, live[i].id, &e) != TC_OK) {
            res->errors++;
            metrics_inc(m_errors, NULL);
            LOG_ERROR("failed to mark block compacted during retention", KV_S("tenant", tenant),
                      KV_S("block", ids), KV_ERR(&e));
            continue;
        }
        cm = live[i];
        cm.compacted = 1;
        cm.compacted_s = cfg->now_s;
        cm.compacted_ns = 0;
        blocklist_update(bl, tenant, NULL, 0, (const uint8_t(*)[16])live[i].id, 1, &cm, 1, NULL, 0);
        res->marked++;
        metrics_inc(m_marked, NULL);
        LOG_INFO("marking block for deletion", KV_S("tenant", tenant), KV_S("block", ids));
    }

    for (i = 0; i < ncomp; i++) {
        if (comp[i].compacted_s >= cfg->now_s - cfg->compacted_retention_s)
            continue;
        uuid_format(comp[i].id, ids);
        if (owns && !owns(ids, owns_ud))
            continue;
        if (retention_clear_block(b, tenant, comp[i].id, &e) != TC_OK) {
            res->errors++;
            metrics_inc(m_errors, NULL);
            LOG_ERROR("failed to clear compacted block during retention", KV_S("tenant", tenant),
                      KV_S("block", ids), KV_ERR(&e));
            continue;
        }
        blocklist_update(bl, tenant, NULL, 0, NULL, 0, NULL, 0, (const uint8_t(*)[16])comp[i].id,
                         1);
        res->cleared++;
        metrics_inc(m_deleted, NULL);
        LOG_INFO("deleting block", KV_S("tenant", tenant), KV_S("block", ids));
    }
    tc_free(live);
    tc_free(comp);

    snprintf(job, sizeof(job), "orphans-%s", tenant);
    if (cfg->orphan_retention_s > 0 && (owns == NULL || owns(job, owns_ud))) {
        struct sweep s;
        char prefix[BACKEND_MAX_KEY];
        memset(&s, 0, sizeof(s));
        s.tenant = tenant;
        s.tlen = strlen(tenant);
        s.b = b;
        s.bl = bl;
        s.cfg = cfg;
        s.res = res;
        snprintf(prefix, sizeof(prefix), "%s/", tenant);
        rc = backend_find(b, prefix, sweep_obj, &s, &e);
        if (rc == TC_OK)
            sweep_flush(&s);
        backend_strlist_cleanup(&s.ks.k);
        /* the remains find() cannot see: temp files, incomplete uploads */
        if (rc == TC_OK) {
            unsigned long n = 0;

            rc = backend_sweep_incomplete(b, prefix, cfg->now_s - cfg->orphan_retention_s, &n, &e);
            res->incomplete += n;
            if (n > 0) {
                metrics_add(m_orphans, NULL, (double)n);
                LOG_INFO("removed the remains of interrupted writes", KV_S("tenant", tenant),
                         KV_I("removed", n));
            }
        }
        if (rc != TC_OK) {
            res->errors++;
            metrics_inc(m_errors, NULL);
            LOG_ERROR("orphan sweep failed", KV_S("tenant", tenant), KV_ERR(&e));
        }
    }
    return TC_OK;
}
