/* backend_latency.c - the latency model of backend_latency.h (test only). */
#include "backend/backend_latency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

struct lat_tenant {
    char *name;
    struct backend_blocks bb;
};

struct lat {
    struct backend base; /* must be first */
    struct backend *in;
    double lat; /* seconds */
    int shards;
    struct lat_tenant *t; /* prefetched listing, or NULL */
    size_t nt;
};

static void
lat_sleep(double s)
{
    if (s > 0)
        tc_sleep_ms((long)(s * 1000 + 0.5));
}

static int
lat_tenants(struct backend *b, struct backend_strlist *out, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;
    size_t i;

    backend_count(b, BACKEND_OP_LIST, 1);
    lat_sleep(l->lat);
    if (l->t == NULL)
        return backend_tenants(l->in, out, err);
    for (i = 0; i < l->nt; i++)
        if (backend_strlist_add(out, l->t[i].name, strlen(l->t[i].name)) != TC_OK)
            return tc_err_set(err, TC_NOMEM, "out of memory");
    return TC_OK;
}

static int
copy_cached(struct lat *l, const char *tenant, struct backend_blocks *out)
{
    size_t i, j;
    int rc = TC_OK;

    for (i = 0; i < l->nt; i++) {
        if (strcmp(l->t[i].name, tenant) != 0)
            continue;
        for (j = 0; j < l->t[i].bb.nlive && rc == TC_OK; j++)
            rc = backend_blocks_add(out, l->t[i].bb.live[j], 0);
        for (j = 0; j < l->t[i].bb.ncompacted && rc == TC_OK; j++)
            rc = backend_blocks_add(out, l->t[i].bb.compacted[j], 1);
        out->objects = l->t[i].bb.objects;
    }
    return rc;
}

static int
lat_blocks(struct backend *b, const char *tenant, struct backend_blocks *out, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;
    double t0 = tc_now();
    uint8_t(*bounds)[16] = tc_calloc((size_t)l->shards + 1, 16);
    size_t *per = tc_calloc((size_t)l->shards, sizeof(size_t)), i, ids, pages = 0, maxp = 0;
    int rc, s;

    if (bounds == NULL || per == NULL) {
        tc_free(bounds);
        tc_free(per);
        return tc_err_set(err, TC_NOMEM, "out of memory");
    }
    rc = l->t ? copy_cached(l, tenant, out) : backend_blocks(l->in, tenant, out, err);
    backend_shard_bounds(l->shards, bounds);
    ids = out->nlive + out->ncompacted;
    for (i = 0; i < ids; i++) {
        const uint8_t *id = i < out->nlive ? out->live[i] : out->compacted[i - out->nlive];
        for (s = l->shards - 1; s > 0 && memcmp(id, bounds[s], 16) < 0; s--)
            ;
        per[s]++;
    }
    for (s = 0; s < l->shards; s++) {
        /* this shard's share of all keys, in pages of 1000 (at least one) */
        size_t keys = ids ? out->objects * per[s] / ids : 0, p = keys / 1000 + 1;
        pages += p;
        if (p > maxp)
            maxp = p;
    }
    backend_count(b, BACKEND_OP_LIST, pages);
    lat_sleep(l->lat * (double)maxp - (tc_now() - t0));
    tc_free(bounds);
    tc_free(per);
    return rc;
}

static int
lat_get(struct backend *b, const char *key, uint64_t off, uint64_t len, size_t max, struct buf *out,
        int64_t *mtime, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;

    backend_count(b, BACKEND_OP_GET, 1);
    lat_sleep(l->lat);
    return backend_get(l->in, key, off, len, max, out, mtime, err);
}

/* Up to concurrency requests in flight; each completes lat after its start. */
static void
lat_get_many(struct backend *b, struct backend_get *reqs, size_t n, int concurrency, int jitter_ms,
             backend_get_done_fn done, void *ud)
{
    struct lat *l = (struct lat *)b;
    size_t cap = (size_t)concurrency, head = 0, count = 0, next = 0;
    double *deadline = tc_calloc(cap + 1, sizeof(double));
    size_t *idx = tc_calloc(cap + 1, sizeof(size_t));

    if (deadline == NULL || idx == NULL) {
        tc_free(deadline);
        tc_free(idx);
        backend_get_many_serial(b, reqs, n, jitter_ms, done, ud);
        return;
    }
    while (next < n || count > 0) {
        double now = tc_now();

        while (count < cap && next < n) {
            size_t slot = (head + count) % cap;
            deadline[slot] = now + l->lat + (jitter_ms > 0 ? (random() % jitter_ms) / 1e3 : 0);
            idx[slot] = next++;
            count++;
            backend_count(b, BACKEND_OP_GET, 1);
        }
        lat_sleep(deadline[head] - tc_now());
        while (count > 0 && deadline[head] <= tc_now() + 0.0005) {
            struct backend_get *g = &reqs[idx[head]];
            struct tc_err e = {0};

            if (g->code == TC_OK) {
                g->code =
                    backend_get(l->in, g->key, 0, 0, g->body.cap, &g->body, &g->last_modified, &e);
                if (g->code != TC_OK)
                    snprintf(g->errmsg, sizeof(g->errmsg), "%s", e.msg);
            }
            done(g, ud);
            head = (head + 1) % cap;
            count--;
        }
    }
    tc_free(deadline);
    tc_free(idx);
}

static int
lat_put(struct backend *b, const char *key, const void *p, size_t n, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;

    backend_count(b, BACKEND_OP_PUT, 1);
    lat_sleep(l->lat);
    return backend_put(l->in, key, p, n, err);
}

static int
lat_append_begin(struct backend *b, const char *key, void **h, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;

    lat_sleep(l->lat);
    return backend_append_begin(l->in, key, h, err);
}

static int
lat_append(struct backend *b, void *h, const void *p, size_t n, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;

    backend_count(b, BACKEND_OP_PUT, 1);
    lat_sleep(l->lat);
    return backend_append(l->in, h, p, n, err);
}

static int
lat_append_end(struct backend *b, void *h, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;

    lat_sleep(l->lat);
    return backend_append_end(l->in, h, err);
}

static void
lat_append_abort(struct backend *b, void *h)
{
    backend_append_abort(((struct lat *)b)->in, h);
}

static int
lat_copy(struct backend *b, const char *src, const char *dst, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;

    backend_count(b, BACKEND_OP_COPY, 1);
    lat_sleep(l->lat);
    return backend_copy(l->in, src, dst, err);
}

static int
lat_del(struct backend *b, const char *key, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;

    backend_count(b, BACKEND_OP_DELETE, 1);
    lat_sleep(l->lat);
    return backend_delete(l->in, key, err);
}

static int
lat_find(struct backend *b, const char *prefix, backend_find_fn fn, void *ud, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;

    backend_count(b, BACKEND_OP_LIST, 1);
    lat_sleep(l->lat);
    return backend_find(l->in, prefix, fn, ud, err);
}

static int
lat_sweep(struct backend *b, const char *prefix, int64_t before, unsigned long *removed,
          struct tc_err *err)
{
    struct lat *l = (struct lat *)b;

    backend_count(b, BACKEND_OP_LIST, 1);
    lat_sleep(l->lat);
    return backend_sweep_incomplete(l->in, prefix, before, removed, err);
}

static int
lat_remove_tenant(struct backend *b, const char *tenant, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;

    backend_count(b, BACKEND_OP_DELETE, 1);
    lat_sleep(l->lat);
    return backend_remove_tenant(l->in, tenant, err);
}

static void
lat_destroy(struct backend *b)
{
    struct lat *l = (struct lat *)b;
    size_t i;

    for (i = 0; i < l->nt; i++) {
        tc_free(l->t[i].name);
        backend_blocks_cleanup(&l->t[i].bb);
    }
    tc_free(l->t);
    backend_free(l->in);
    tc_free(l);
}

static const struct backend_ops lat_ops = {
    .name = "latency-test-wrapper",
    .tenants = lat_tenants,
    .blocks = lat_blocks,
    .get = lat_get,
    .get_many = lat_get_many,
    .put = lat_put,
    .append_begin = lat_append_begin,
    .append = lat_append,
    .append_end = lat_append_end,
    .append_abort = lat_append_abort,
    .copy = lat_copy,
    .del = lat_del,
    .find = lat_find,
    .sweep_incomplete = lat_sweep,
    .remove_tenant = lat_remove_tenant,
    .destroy = lat_destroy,
};

struct backend *
backend_latency_new(struct backend *inner, double lat_ms, int shards, struct tc_err *err)
{
    struct lat *l = tc_calloc(1, sizeof(*l));

    if (l == NULL) {
        backend_free(inner);
        tc_err_set(err, TC_NOMEM, "latency wrapper: out of memory");
        return NULL;
    }
    l->base.ops = &lat_ops;
    l->in = inner;
    l->lat = lat_ms / 1000.0;
    l->shards = shards > 0 ? shards : 1;
    return &l->base;
}

int
backend_latency_prefetch(struct backend *b, struct tc_err *err)
{
    struct lat *l = (struct lat *)b;
    struct backend_strlist t = {0};
    size_t i;
    int rc;

    rc = backend_tenants(l->in, &t, err);
    if (rc != TC_OK)
        return rc;
    l->t = tc_calloc(t.n + 1, sizeof(*l->t));
    if (l->t == NULL) {
        backend_strlist_cleanup(&t);
        return tc_err_set(err, TC_NOMEM, "out of memory");
    }
    for (i = 0; i < t.n && rc == TC_OK; i++) {
        l->t[i].name = tc_strdup(t.v[i]);
        l->nt++;
        rc = l->t[i].name ? backend_blocks(l->in, t.v[i], &l->t[i].bb, err) : TC_NOMEM;
    }
    backend_strlist_cleanup(&t);
    return rc;
}
