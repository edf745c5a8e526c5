/* vp4_gen.c - synthetic vParquet4 blocks: many services, every attribute
 * kind, events, links, dedicated columns; rows sorted by TraceID and cut
 * into row groups by Tempo's size estimate; bloom shards, index and
 * meta.json as Tempo writes them. Deterministic for a seed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/mem.h"
#include "tempo/meta.h"
#include "tempo/vp4.h"
#include "tempo/vp4_block.h"
#include "tempo/vp4_bloom.h"
#include "tools/tools.h"

struct rng {
    uint64_t s;
};

static uint64_t
rnd(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t
rndn(struct rng *r, uint32_t n)
{
    return n ? (uint32_t)(rnd(r) % n) : 0;
}

void
vp4_gen_opts_default(struct vp4_gen_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->tenant = "single-tenant";
    o->traces = 1000;
    o->seed = 1;
    o->row_group_bytes = (size_t)100 << 20;
    o->max_spans = 20;
    o->shared_seed = 0x5eed;
    o->start_unix = 1700000000;
    o->span_seconds = 3600;
}

static struct vp4_bytes str(struct parquet_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static struct vp4_bytes
str(struct parquet_arena *a, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    struct vp4_bytes b;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if (n >= (int)sizeof(tmp))
        n = (int)sizeof(tmp) - 1;
    p = parquet_arena_alloc(a, (size_t)n + 1);
    b.p = (const uint8_t *)(p ? p : "");
    b.len = p ? (uint32_t)n : 0;
    if (p)
        memcpy(p, tmp, (size_t)n);
    return b;
}

static struct vp4_bytes
rbytes(struct parquet_arena *a, struct rng *r, uint32_t n)
{
    uint8_t *p = parquet_arena_alloc(a, n);
    struct vp4_bytes b = {p, p ? n : 0};

    for (uint32_t i = 0; p && i < n; i++)
        p[i] = (uint8_t)rnd(r);
    return b;
}

static struct vp4_ostr
ostr(struct vp4_bytes b, int set)
{
    struct vp4_ostr o = {set, b};
    return o;
}

/* Attributes of every kind Tempo stores. */
static void
gen_attrs(struct parquet_arena *a, struct rng *r, struct vp4_attrs *out, uint32_t n,
          const char *pfx)
{
    out->n = n;
    out->a = parquet_arena_alloc(a, sizeof(*out->a) * (n ? n : 1));
    if (out->a == NULL) {
        out->n = 0;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct vp4_attr *at = &out->a[i];
        uint32_t kind = rndn(r, 7);
        at->key = str(a, "%s.attr%u.k%u", pfx, i, kind);
        switch (kind) {
        case 0:
        case 1:
            at->nstr = 1;
            at->str = parquet_arena_alloc(a, sizeof(*at->str));
            if (at->str)
                at->str[0] = str(a, "value-%u", rndn(r, 500));
            else
                at->nstr = 0;
            break;
        case 2:
            at->nint = 1;
            at->ints = parquet_arena_alloc(a, sizeof(int64_t));
            if (at->ints)
                at->ints[0] = (int64_t)rnd(r) >> rndn(r, 60);
            else
                at->nint = 0;
            break;
        case 3:
            at->ndbl = 1;
            at->dbls = parquet_arena_alloc(a, sizeof(double));
            if (at->dbls)
                at->dbls[0] = (double)rndn(r, 1000000) / 1000.0 - 300.0;
            else
                at->ndbl = 0;
            break;
        case 4:
            at->nbool = 1;
            at->bools = parquet_arena_alloc(a, 1);
            if (at->bools)
                at->bools[0] = (uint8_t)rndn(r, 2);
            else
                at->nbool = 0;
            break;
        case 5: /* homogeneous array */
            at->is_array = 1;
            at->nstr = 1 + rndn(r, 4);
            at->str = parquet_arena_alloc(a, sizeof(*at->str) * at->nstr);
            for (uint32_t k = 0; at->str && k < at->nstr; k++)
                at->str[k] = str(a, "tag-%u", rndn(r, 50));
            if (!at->str)
                at->nstr = 0;
            break;
        default: /* kvlist: stored as jsonpb */
            at->unsupported = ostr(str(a,
                                       "{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":{"
                                       "\"intValue\":\"%u\"}}]}}",
                                       rndn(r, 100)),
                                   1);
            break;
        }
    }
}

static const char *const span_names[] = {
    "GET /api/cart", "POST /api/checkout", "SELECT orders", "redis GET",   "grpc.Payment/Charge",
    "render",        "kafka.produce",      "HTTP GET",      "auth.verify", "cache.lookup"};

static int
gen_trace(struct parquet_arena *a, struct rng *r, const uint8_t *id, const struct vp4_gen_opts *o,
          uint64_t start_unix, struct vp4_trace *t)
{
    uint32_t nspans = 1 + rndn(r, (uint32_t)(o->max_spans > 0 ? o->max_spans : 1));
    uint32_t nrs = 1 + rndn(r, 3), made = 0;
    uint64_t base = (start_unix + rnd(r) % (o->span_seconds ? o->span_seconds : 1)) * 1000000000ULL;
    char hex[33];
    int hl = 0, started = 0;
    struct vp4_span *root = NULL;

    memset(t, 0, sizeof(*t));
    t->trace_id.p = id;
    t->trace_id.len = 16;
    for (int i = 0; i < 16; i++) {
        if (!started && id[i] == 0)
            continue;
        if (!started && id[i] < 16) {
            hl += snprintf(hex + hl, sizeof(hex) - (size_t)hl, "%x", id[i]);
        } else {
            hl += snprintf(hex + hl, sizeof(hex) - (size_t)hl, "%02x", id[i]);
        }
        started = 1;
    }
    hex[hl] = 0;
    t->trace_id_text = str(a, "%s", hl ? hex : "0");
    if (nrs > nspans)
        nrs = nspans;
    t->nrs = nrs;
    t->rs = parquet_arena_alloc(a, sizeof(*t->rs) * nrs);
    t->stats = parquet_arena_alloc(a, sizeof(*t->stats) * nrs);
    if (!t->rs || !t->stats)
        return TC_NOMEM;
    t->start = UINT64_MAX;
    for (uint32_t i = 0; i < nrs; i++) {
        struct vp4_resource_spans *rs = &t->rs[i];
        struct vp4_service_stats *st;
        uint32_t svc = rndn(r, 40), nss = 1 + rndn(r, 2), left = (nspans - made) / (nrs - i);
        rs->service_name = str(a, "service-%02u", svc);
        gen_attrs(a, r, &rs->attrs, 1 + rndn(r, 4), "res");
        rs->dropped_attrs = (int32_t)rndn(r, 2);
        rs->wellknown[0] = ostr(str(a, "cluster-%u", svc % 3), rndn(r, 2));
        rs->wellknown[1] = ostr(str(a, "ns-%u", svc % 7), rndn(r, 2));
        rs->wellknown[6] = ostr(str(a, "pod-%u-%u", svc, rndn(r, 20)), rndn(r, 2));
        rs->dedicated[0] = ostr(str(a, "10.0.%u.%u", svc, rndn(r, 255)), 1);
        rs->dedicated[1] = ostr(str(a, "region-%u", svc % 4), rndn(r, 2));
        if (nss > left)
            nss = left ? left : 1;
        rs->nss = nss;
        rs->ss = parquet_arena_alloc(a, sizeof(*rs->ss) * nss);
        if (rs->ss == NULL)
            return TC_NOMEM;
        /* ServiceStats is a map: one entry per service */
        st = NULL;
        for (uint32_t q = 0; q < t->nstats; q++)
            if (t->stats[q].service.len == rs->service_name.len &&
                memcmp(t->stats[q].service.p, rs->service_name.p, rs->service_name.len) == 0)
                st = &t->stats[q];
        if (st == NULL) {
            st = &t->stats[t->nstats++];
            st->service = rs->service_name;
        }
        for (uint32_t j = 0; j < nss; j++) {
            struct vp4_scope_spans *ss = &rs->ss[j];
            uint32_t n = j + 1 == nss ? left - (left / nss) * j : left / nss;
            if (n == 0)
                n = 1;
            ss->scope_name = str(a, "io.opentelemetry.lib-%u", rndn(r, 5));
            ss->scope_version = str(a, "1.%u.0", rndn(r, 9));
            gen_attrs(a, r, &ss->scope_attrs, rndn(r, 2), "scope");
            ss->nspans = n;
            ss->spans = parquet_arena_alloc(a, sizeof(*ss->spans) * n);
            if (ss->spans == NULL)
                return TC_NOMEM;
            for (uint32_t k = 0; k < n; k++) {
                struct vp4_span *s = &ss->spans[k];
                uint32_t pos = made++;
                s->span_id = rbytes(a, r, 8);
                if (root == NULL) {
                    root = s;
                    s->parent_span_id.p = (const uint8_t *)"";
                    s->parent_id = -1;
                } else {
                    s->parent_span_id = root->span_id;
                    s->parent_id = 1;
                }
                /* a root with flat children: left/right by position */
                s->nested_left = pos == 0 ? 1 : (int32_t)(2 * pos);
                s->nested_right = pos == 0 ? (int32_t)(2 * nspans) : (int32_t)(2 * pos + 1);
                s->name = str(a, "%s", span_names[rndn(r, TC_ARRAY_LEN(span_names))]);
                s->kind = (int64_t)rndn(r, 6);
                s->trace_state =
                    rndn(r, 4) == 0 ? str(a, "vendor=%u", rndn(r, 9)) : str(a, "%s", "");
                s->start = base + (uint64_t)rndn(r, 1000000000u);
                s->duration = 1000 + rnd(r) % 2000000000ULL;
                s->status_code = (int64_t)rndn(r, 3);
                s->status_message =
                    s->status_code == 2 ? str(a, "error %u", rndn(r, 9)) : str(a, "%s", "");
                gen_attrs(a, r, &s->attrs, rndn(r, 6), "span");
                s->dropped_attrs = (int32_t)rndn(r, 2);
                s->nevents = rndn(r, 3);
                s->events = parquet_arena_alloc(a, sizeof(*s->events) * (s->nevents + 1));
                for (uint32_t q = 0; s->events && q < s->nevents; q++) {
                    s->events[q].time_since_start = rnd(r) % s->duration;
                    s->events[q].name = str(a, "event-%u", rndn(r, 8));
                    gen_attrs(a, r, &s->events[q].attrs, rndn(r, 3), "event");
                }
                s->nlinks = rndn(r, 4) == 0;
                s->links = parquet_arena_alloc(a, sizeof(*s->links) * 2);
                if (!s->events || !s->links)
                    return TC_NOMEM;
                if (s->nlinks) {
                    s->links[0].trace_id = rbytes(a, r, 16);
                    s->links[0].span_id = rbytes(a, r, 8);
                    s->links[0].trace_state = str(a, "%s", "");
                    gen_attrs(a, r, &s->links[0].attrs, rndn(r, 2), "link");
                }
                s->dropped_events = (int32_t)rndn(r, 2);
                if (rndn(r, 2)) {
                    s->http_method = ostr(str(a, "%s", rndn(r, 2) ? "GET" : "POST"), 1);
                    s->http_url = ostr(str(a, "http://service-%02u/api/%u", svc, rndn(r, 30)), 1);
                    s->has_http_status = 1;
                    s->http_status = 200 + 100 * (int64_t)rndn(r, 4);
                }
                s->dedicated[0] = ostr(str(a, "instance-%u", rndn(r, 10)), rndn(r, 2));
                s->dedicated[2] = ostr(str(a, "v%u", rndn(r, 3)), 1);
                if (s->start < t->start)
                    t->start = s->start;
                if (s->start + s->duration > t->end)
                    t->end = s->start + s->duration;
                st->span_count++;
                st->error_count += s->status_code == 2;
            }
        }
    }
    t->duration = t->end - t->start;
    t->root_service = t->rs[0].service_name;
    t->root_span = root ? root->name : str(a, "%s", "");
    return TC_OK;
}

static int
cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void
b64(const uint8_t *p, size_t n, char *out)
{
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = tb[(v >> 18) & 63];
        out[o++] = tb[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tb[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tb[v & 63] : '=';
    }
    out[o] = 0;
}

static void
rfc3339(uint64_t ns, char *out, size_t n)
{
    time_t s = (time_t)(ns / 1000000000ULL);
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
write_small(const char *dir, const char *name, const char *data, size_t len, struct tc_err *err)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL)
        return tc_err_set(err, TC_IO, "%s: %s", path, strerror(errno));
    if (fwrite(data, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        return tc_err_set(err, TC_IO, "%s: write: %s", path, strerror(errno));
    }
    if (fclose(f) != 0)
        return tc_err_set(err, TC_IO, "%s: close: %s", path, strerror(errno));
    return TC_OK;
}

int
vp4_gen_block(const struct vp4_gen_opts *o, struct vp4_gen_result *res, struct tc_err *err)
{
    struct parquet_schema *schema = NULL;
    struct parquet_writer *w = NULL;
    struct parquet_writer_opts wo;
    struct parquet_write_info info;
    struct parquet_rowset rs;
    struct parquet_arena a;
    struct rng r = {o->seed};
    uint8_t *ids = NULL, *last_ids = NULL, *shared_ids = NULL;
    uint64_t tmin = UINT64_MAX, tmax = 0;
    size_t nlast = 0;
    char path[4096];
    struct buf js;
    struct vp4_bloom bloom;
    struct vp4_block_cfg bc;
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&bloom, 0, sizeof(bloom));
    if (o->traces == 0 || o->traces > ((uint64_t)1 << 32))
        return tc_err_set(err, TC_INVAL, "gen: --traces must be 1..2^32");
    if (o->shared > o->traces)
        return tc_err_set(err, TC_INVAL, "gen: --shared %llu exceeds --traces %llu",
                          (unsigned long long)o->shared, (unsigned long long)o->traces);
    if (backend_valid_tenant(o->tenant, err) != TC_OK)
        return tc_err_prefix(err, "--tenant");
    /* both ID streams would then be one: the block would repeat trace IDs */
    if (o->shared > 0 && o->seed == o->shared_seed)
        return tc_err_set(err, TC_INVAL, "gen: --seed must differ from --shared-seed (%llu)",
                          (unsigned long long)o->seed);
    if (mkdir(o->dir, 0755) != 0 && errno != EEXIST)
        return tc_err_set(err, TC_IO, "%s: mkdir: %s", o->dir, strerror(errno));
    {
        uint64_t u1 = rnd(&r), u2 = rnd(&r);
        snprintf(res->block_id, sizeof(res->block_id), "%08x-%04x-4%03x-%04x-%012llx",
                 (uint32_t)(u1 >> 32), (uint32_t)(u1 >> 16) & 0xffff, (uint32_t)u1 & 0xfff,
                 (uint32_t)(0x8000 | ((u2 >> 48) & 0x3fff)),
                 (unsigned long long)(u2 & 0xffffffffffffULL));
    }
    ids = tc_malloc((size_t)o->traces * 16);
    last_ids = tc_malloc((size_t)o->traces * 16);
    if (!ids || !last_ids) {
        tc_free(ids);
        tc_free(last_ids);
        return tc_err_set(err, TC_NOMEM, "gen: %llu trace ids", (unsigned long long)o->traces);
    }
    {
        /* shared IDs first (same for every block with this shared_seed) */
        struct rng sr = {o->shared_seed};
        for (uint64_t i = 0; i < o->traces * 2; i++) {
            uint64_t x = i < o->shared * 2 ? rnd(&sr) : rnd(&r);
            memcpy(ids + i * 8, &x, 8);
        }
        if (o->shared_same) {
            /* remember which IDs are shared: their content comes from shared_seed */
            shared_ids = tc_malloc((size_t)(o->shared ? o->shared : 1) * 16);
            if (shared_ids == NULL) {
                tc_free(ids);
                tc_free(last_ids);
                return tc_err_set(err, TC_NOMEM, "gen: shared ids");
            }
            memcpy(shared_ids, ids, (size_t)o->shared * 16);
            qsort(shared_ids, (size_t)o->shared, 16, cmp_id);
        }
    }
    qsort(ids, (size_t)o->traces, 16, cmp_id);
    parquet_arena_init(&a);
    memset(&rs, 0, sizeof(rs));
    buf_init(&js, (size_t)64 << 20);
    if ((rc = vp4_schema_new(&schema, err)) != TC_OK)
        goto out;
    if (parquet_rowset_init(&rs, schema) != TC_OK) {
        rc = tc_err_set(err, TC_NOMEM, "gen: out of memory");
        goto out;
    }
    memset(&wo, 0, sizeof(wo));
    wo.row_group_bytes = o->row_group_bytes; /* the writer cuts as Tempo does */
    snprintf(path, sizeof(path), "%s/data.parquet", o->dir);
    if ((rc = parquet_writer_open(&w, path, schema, &wo, err)) != TC_OK)
        goto out;
    for (uint64_t i = 0; i < o->traces; i++) {
        struct vp4_trace t;
        struct parquet_rowiter it;
        struct parquet_row row;
        parquet_arena_reset(&a);
        parquet_rowset_reset(&rs);
        /* per-trace stream: content depends on (seed, ID) only */
        uint64_t k0, k1, tseed = o->seed, tstart = o->start_unix;
        struct rng tr;
        memcpy(&k0, ids + i * 16, 8);
        memcpy(&k1, ids + i * 16 + 8, 8);
        if (shared_ids && bsearch(ids + i * 16, shared_ids, (size_t)o->shared, 16, cmp_id)) {
            tseed = o->shared_seed;
            tstart = o->shared_start ? o->shared_start : o->start_unix;
        }
        tr.s = tseed ^ k0 ^ (k1 * 0x9e3779b97f4a7c15ULL);
        if (gen_trace(&a, &tr, ids + i * 16, o, tstart, &t) != TC_OK) {
            rc = tc_err_set(err, TC_NOMEM, "gen: out of memory");
            goto out;
        }
        if ((rc = vp4_trace_to_rowset(&t, schema, &a, &rs, err)) != TC_OK)
            goto out;
        if (parquet_rowiter_init(&it, &rs) != TC_OK || !parquet_rowiter_next(&it, &row)) {
            parquet_rowiter_cleanup(&it);
            rc = tc_err_set(err, TC_NOMEM, "gen: out of memory");
            goto out;
        }
        rc = parquet_writer_write_row(w, &row, err);
        parquet_rowiter_cleanup(&it);
        if (rc != TC_OK)
            goto out;
        if (t.start < tmin)
            tmin = t.start;
        if (t.end > tmax)
            tmax = t.end;
    }
    if ((rc = parquet_writer_close(w, &info, err)) != TC_OK)
        goto out;
    for (int g = 0; g < info.row_groups; g++) {
        uint32_t kl = 0;
        const uint8_t *k = parquet_writer_rowgroup_last_key(w, g, &kl);
        if (k == NULL || kl != 16) {
            rc = tc_err_set(err, TC_ERR, "gen: row group %d has no last TraceID", g);
            goto out;
        }
        memcpy(last_ids + nlast++ * 16, k, 16);
    }
    /* blooms, index, then meta.json last (Tempo's order): a block is
     * visible only when complete */
    vp4_block_cfg_defaults(&bc); /* Tempo's bloom settings */
    if ((rc = vp4_bloom_init(&bloom, bc.bloom_fp, bc.bloom_shard_bytes, o->traces)) != TC_OK) {
        rc = tc_err_set(err, rc, "gen: bloom filter");
        goto out;
    }
    for (uint64_t i = 0; i < o->traces; i++)
        vp4_bloom_add(&bloom, ids + i * 16, 16);
    for (uint32_t sh = 0; sh < bloom.shards; sh++) {
        char name[32];
        buf_reset(&js);
        if ((rc = vp4_bloom_marshal(&bloom, sh, &js)) != TC_OK) {
            rc = tc_err_set(err, rc, "gen: bloom shard %u", sh);
            goto out;
        }
        snprintf(name, sizeof(name), "bloom-%u", sh);
        if ((rc = write_small(o->dir, name, js.data, js.len, err)) != TC_OK)
            goto out;
    }
    buf_reset(&js);
    {
        char b[32], ts0[40], ts1[40], mn[32], mx[32];
        buf_puts(&js, "{\"rowGroups\":[");
        for (size_t k = 0; k < nlast; k++) {
            b64(last_ids + k * 16, 16, b);
            buf_printf(&js, "%s\"%s\"", k ? "," : "", b);
        }
        if (buf_puts(&js, "]}") != TC_OK) {
            rc = tc_err_set(err, TC_TOOBIG, "gen: index too large");
            goto out;
        }
        if ((rc = write_small(o->dir, "index", js.data, js.len, err)) != TC_OK)
            goto out;
        buf_reset(&js);
        rfc3339(tmin, ts0, sizeof(ts0));
        rfc3339(tmax, ts1, sizeof(ts1));
        b64(ids, 16, mn);
        b64(ids + (o->traces - 1) * 16, 16, mx);
        buf_printf(&js,
                   "{\"format\":\"vParquet4\",\"blockID\":\"%s\",\"minID\":\"%s\","
                   "\"maxID\":\"%s\",\"tenantID\":",
                   res->block_id, mn, mx);
        meta_json_string(&js, o->tenant); /* escaped: a tenant may hold '"' */
        buf_printf(
            &js,
            ",\"startTime\":\"%s\",\"endTime\":\"%s\","
            "\"totalObjects\":%llu,\"size\":%llu,\"compactionLevel\":%d,\"encoding\":\"none\","
            "\"indexPageSize\":0,\"totalRecords\":%d,\"dataEncoding\":\"\","
            "\"bloomShards\":%u,\"footerSize\":%u,\"dedicatedColumns\":["
            "{\"s\":\"resource\",\"n\":\"ip\"},{\"s\":\"resource\",\"n\":\"region\"},"
            "{\"n\":\"instance\"},{\"n\":\"sampler.type\"},{\"n\":\"version\"}]}",
            ts0, ts1, (unsigned long long)o->traces, (unsigned long long)info.file_size,
            o->compaction_level, info.row_groups, bloom.shards, info.footer_size);
        if (js.data == NULL) {
            rc = tc_err_set(err, TC_NOMEM, "gen: meta.json");
            goto out;
        }
        if ((rc = write_small(o->dir, "meta.json", js.data, js.len, err)) != TC_OK)
            goto out;
    }
    res->traces = o->traces;
    res->row_groups = info.row_groups;
    res->size = info.file_size;
    res->footer_size = info.footer_size;
out:
    vp4_bloom_cleanup(&bloom);
    buf_cleanup(&js);
    parquet_writer_free(w);
    parquet_rowset_cleanup(&rs);
    parquet_arena_cleanup(&a);
    parquet_schema_free(schema);
    tc_free(ids);
    tc_free(last_ids);
    tc_free(shared_ids);
    return rc;
}
