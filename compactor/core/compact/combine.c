/*
 * combine.c - Tempo's Combiner, SortTrace, rebatchTrace and the nested-set /
 * ServiceStats pass (vparquet4 combiner.go, rebatch_trace.go,
 * nested_set_model.go), on the vp4 trace model.
 *
 * Where Go leaves an order unspecified (sort.Slice is not stable, map
 * iteration is random) this file picks a deterministic one: stable sorts,
 * ServiceStats sorted by service name.
 */
#include "compact/combine.h"

#include <string.h>

#include "base/mem.h"

#define ARENA_NEW(a, n, T) ((T *)parquet_arena_alloc((a), sizeof(T) * ((n) ? (n) : 1)))

#define KIND_SERVER 2
#define KIND_CLIENT 3
#define STATUS_ERROR 2

static const uint64_t kind_hash[8] = {
    0xa8c7f832281a39c5ULL, 0xe3757ca7d64666eaULL, 0x1e23011d8472940fULL, 0x58d08593329ec134ULL,
    0x937e0a08e0caee59ULL, 0xce2b8e7e8ef71b7eULL, 0x08d912f43d2348a3ULL, 0x43869769eb4f75c8ULL,
};

/* SpanIDToUint64: the first 8 bytes, little-endian as Go reads them on amd64
 * and arm64, zero-padded when shorter. */
static uint64_t
span_u64(const uint8_t *p, uint32_t len)
{
    uint64_t v = 0;
    uint32_t i;

    for (i = 0; i < 8 && i < len; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint64_t
combine_span_token(const uint8_t *span_id, uint32_t len, int64_t kind)
{
    if (kind < 0 || kind >= 8)
        kind = 0;
    return span_u64(span_id, len) ^ kind_hash[kind];
}

/* ---- a set of uint64 tokens (open addressing; 0 stored apart) ---- */

struct tokset {
    uint64_t *v;
    size_t cap, n;
    int has_zero;
};

static int
tokset_init(struct tokset *s, size_t want, struct parquet_arena *a)
{
    s->cap = 16;
    while (s->cap < want * 2)
        s->cap <<= 1;
    s->n = 0;
    s->has_zero = 0;
    s->v = ARENA_NEW(a, s->cap, uint64_t);
    return s->v ? TC_OK : TC_NOMEM;
}

static size_t
tokset_slot(const struct tokset *s, uint64_t k)
{
    size_t i = (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 17) & (s->cap - 1);

    while (s->v[i] != 0 && s->v[i] != k)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static int
tokset_has(const struct tokset *s, uint64_t k)
{
    return k == 0 ? s->has_zero : s->v[tokset_slot(s, k)] == k;
}

static int
tokset_add(struct tokset *s, uint64_t k, struct parquet_arena *a)
{
    if (k == 0) {
        s->has_zero = 1;
        return TC_OK;
    }
    if ((s->n + 1) * 2 > s->cap) {
        struct tokset g;
        size_t i;
        if (tokset_init(&g, s->cap, a) != TC_OK)
            return TC_NOMEM;
        g.has_zero = s->has_zero;
        for (i = 0; i < s->cap; i++)
            if (s->v[i]) {
                g.v[tokset_slot(&g, s->v[i])] = s->v[i];
                g.n++;
            }
        *s = g;
    }
    if (s->v[tokset_slot(s, k)] == 0) {
        s->v[tokset_slot(s, k)] = k;
        s->n++;
    }
    return TC_OK;
}

/* ---- copies the result owns (strings stay borrowed) ---- */

static int
copy_attrs(struct vp4_attrs *dst, const struct vp4_attrs *src, struct parquet_arena *a)
{
    *dst = *src;
    if (src->n == 0)
        return TC_OK;
    dst->a = ARENA_NEW(a, src->n, struct vp4_attr);
    if (dst->a == NULL)
        return TC_NOMEM;
    memcpy(dst->a, src->a, src->n * sizeof(*src->a));
    return TC_OK;
}

/* A resource-spans copy with room for cap scope spans, holding none. */
static int
copy_rs_shell(struct vp4_resource_spans *dst, const struct vp4_resource_spans *src, uint32_t cap,
              struct parquet_arena *a)
{
    *dst = *src;
    dst->nss = 0;
    dst->ss = ARENA_NEW(a, cap, struct vp4_scope_spans);
    if (dst->ss == NULL)
        return TC_NOMEM;
    return copy_attrs(&dst->attrs, &src->attrs, a);
}

static int
copy_ss(struct vp4_scope_spans *dst, const struct vp4_scope_spans *src, struct parquet_arena *a)
{
    *dst = *src;
    dst->spans = ARENA_NEW(a, src->nspans, struct vp4_span);
    if (dst->spans == NULL)
        return TC_NOMEM;
    memcpy(dst->spans, src->spans, src->nspans * sizeof(*src->spans));
    return copy_attrs(&dst->scope_attrs, &src->scope_attrs, a);
}

/* ---- SortTrace ---- */

static int
bytes_cmp(struct vp4_bytes x, struct vp4_bytes y)
{
    uint32_t n = x.len < y.len ? x.len : y.len;
    int c = n ? memcmp(x.p, y.p, n) : 0;

    return c ? c : (x.len > y.len) - (x.len < y.len);
}

/* compareSpans as a three-way comparison. */
static int
span_cmp(const struct vp4_span *x, const struct vp4_span *y)
{
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return bytes_cmp(x->span_id, y->span_id);
}

static int
ss_cmp(const struct vp4_scope_spans *x, const struct vp4_scope_spans *y)
{
    return x->nspans && y->nspans ? span_cmp(&x->spans[0], &y->spans[0]) : 0;
}

static int
rs_cmp(const struct vp4_resource_spans *x, const struct vp4_resource_spans *y)
{
    return x->nss && y->nss ? ss_cmp(&x->ss[0], &y->ss[0]) : 0;
}

/* A stable insertion-merge sort over n elements of size sz: the arrays here
 * are short (spans of one scope), and stability makes equal keys keep their
 * input order. */
static void
stable_sort(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *), void *tmp)
{
    uint8_t *b = base;
    size_t i, j;

    for (i = 1; i < n; i++) {
        memcpy(tmp, b + i * sz, sz);
        for (j = i; j > 0 && cmp(b + (j - 1) * sz, tmp) > 0; j--)
            memcpy(b + j * sz, b + (j - 1) * sz, sz);
        memcpy(b + j * sz, tmp, sz);
    }
}

static int
span_cmp_v(const void *x, const void *y)
{
    return span_cmp(x, y);
}

static int
ss_cmp_v(const void *x, const void *y)
{
    return ss_cmp(x, y);
}

static int
rs_cmp_v(const void *x, const void *y)
{
    return rs_cmp(x, y);
}

/* Large span arrays: a merge sort through a scratch array, still stable. */
static void
sort_spans(struct vp4_span *v, size_t n, struct vp4_span *tmp)
{
    size_t w, i;

    if (n < 32 || tmp == NULL) {
        struct vp4_span t;
        stable_sort(v, n, sizeof(*v), span_cmp_v, &t);
        return;
    }
    for (i = 0; i < n; i += 16) {
        struct vp4_span t;
        stable_sort(v + i, n - i < 16 ? n - i : 16, sizeof(*v), span_cmp_v, &t);
    }
    for (w = 16; w < n; w *= 2) {
        for (i = 0; i < n; i += 2 * w) {
            size_t l = i, m = i + w < n ? i + w : n, r = i + 2 * w < n ? i + 2 * w : n;
            size_t p = l, q = m, k = l;
            while (p < m && q < r)
                tmp[k++] = span_cmp(&v[q], &v[p]) < 0 ? v[q++] : v[p++];
            while (p < m)
                tmp[k++] = v[p++];
            while (q < r)
                tmp[k++] = v[q++];
        }
        memcpy(v, tmp, n * sizeof(*v));
    }
}

void
combine_sort(struct vp4_trace *t)
{
    uint32_t i, j;
    struct vp4_scope_spans sst;
    struct vp4_resource_spans rst;

    for (i = 0; i < t->nrs; i++) {
        struct vp4_resource_spans *rs = &t->rs[i];
        for (j = 0; j < rs->nss; j++) {
            struct vp4_scope_spans *ss = &rs->ss[j];
            struct vp4_span *tmp = ss->nspans >= 32 ? tc_malloc(ss->nspans * sizeof(*tmp)) : NULL;
            sort_spans(ss->spans, ss->nspans, tmp);
            tc_free(tmp);
        }
        stable_sort(rs->ss, rs->nss, sizeof(*rs->ss), ss_cmp_v, &sst);
    }
    stable_sort(t->rs, t->nrs, sizeof(*t->rs), rs_cmp_v, &rst);
}

/* ---- rebatchTrace ---- */

#define FNV64_OFFSET 14695981039346656037ULL
#define FNV64_PRIME 1099511628211ULL

static uint64_t
fnv_add(uint64_t h, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * FNV64_PRIME;
    return h;
}

/* fasthash's AddUint64: the 8 bytes big-endian first. */
static uint64_t
fnv_add_u64(uint64_t h, uint64_t u)
{
    int s;

    for (s = 56; s >= 0; s -= 8)
        h = (h ^ ((u >> s) & 0xff)) * FNV64_PRIME;
    return h;
}

static uint64_t
fnv_ostr(uint64_t h, const struct vp4_ostr *o)
{
    return o->set ? fnv_add(h, o->v.p, o->v.len) : h;
}

static int
attr_key_cmp(const void *x, const void *y)
{
    return bytes_cmp(((const struct vp4_attr *)x)->key, ((const struct vp4_attr *)y)->key);
}

/* Sorts the attributes by key (rebatch does so in place, and the order
 * stays in the output) and hashes them as attributeHash does. */
static uint64_t
attrs_hash(uint64_t h, struct vp4_attrs *at)
{
    struct vp4_attr tmp;
    uint32_t i, j;

    stable_sort(at->a, at->n, sizeof(*at->a), attr_key_cmp, &tmp);
    for (i = 0; i < at->n; i++) {
        const struct vp4_attr *x = &at->a[i];
        h = fnv_add(h, x->key.p, x->key.len);
        for (j = 0; j < x->nstr; j++)
            h = fnv_add(h, x->str[j].p, x->str[j].len);
        for (j = 0; j < x->nbool; j++)
            h = fnv_add_u64(h, x->bools[j] ? 1 : 0);
        for (j = 0; j < x->ndbl; j++) {
            uint64_t u;
            memcpy(&u, &x->dbls[j], 8);
            h = fnv_add_u64(h, u);
        }
        for (j = 0; j < x->nint; j++)
            h = fnv_add_u64(h, (uint64_t)x->ints[j]);
        h = fnv_ostr(h, &x->unsupported);
    }
    return h;
}

/* resourceSpanHash: service name, the well-known columns in Go's field-name
 * order (Cluster, Container, K8sClusterName, K8sContainerName,
 * K8sNamespaceName, K8sPodName, Namespace, Pod), dedicated, attributes. */
static uint64_t
rs_hash(struct vp4_resource_spans *rs)
{
    /* wellknown[] order: Cluster, Namespace, Pod, Container, K8sClusterName,
     * K8sNamespaceName, K8sPodName, K8sContainerName */
    static const int order[VP4_RES_WELLKNOWN] = {0, 3, 4, 7, 5, 6, 1, 2};
    uint64_t h = fnv_add(FNV64_OFFSET, rs->service_name.p, rs->service_name.len);
    int i;

    for (i = 0; i < VP4_RES_WELLKNOWN; i++)
        h = fnv_ostr(h, &rs->wellknown[order[i]]);
    for (i = 0; i < 10; i++)
        h = fnv_ostr(h, &rs->dedicated[i]);
    return attrs_hash(h, &rs->attrs);
}

static uint64_t
ss_hash(struct vp4_scope_spans *ss)
{
    uint64_t h = fnv_add(FNV64_OFFSET, ss->scope_name.p, ss->scope_name.len);

    h = fnv_add(h, ss->scope_version.p, ss->scope_version.len);
    return attrs_hash(h, &ss->scope_attrs);
}

/* Appends src's spans to dst (arena arrays). */
static int
ss_append(struct vp4_scope_spans *dst, const struct vp4_scope_spans *src, struct parquet_arena *a)
{
    struct vp4_span *v = ARENA_NEW(a, dst->nspans + src->nspans, struct vp4_span);

    if (v == NULL)
        return TC_NOMEM;
    memcpy(v, dst->spans, dst->nspans * sizeof(*v));
    memcpy(v + dst->nspans, src->spans, src->nspans * sizeof(*v));
    dst->spans = v;
    dst->nspans += src->nspans;
    return TC_OK;
}

static int
rebatch(struct vp4_trace *t, struct parquet_arena *a)
{
    uint64_t *hs = ARENA_NEW(a, t->nrs, uint64_t);
    uint32_t i, j, k, n = 0;

    if (hs == NULL)
        return TC_NOMEM;
    for (i = 0; i < t->nrs; i++) {
        uint64_t h = rs_hash(&t->rs[i]);
        for (j = 0; j < n && hs[j] != h; j++)
            ;
        if (j < n) {
            /* same resource: its scope spans join the first one's */
            struct vp4_resource_spans *dst = &t->rs[j];
            struct vp4_scope_spans *v =
                ARENA_NEW(a, dst->nss + t->rs[i].nss, struct vp4_scope_spans);
            if (v == NULL)
                return TC_NOMEM;
            memcpy(v, dst->ss, dst->nss * sizeof(*v));
            memcpy(v + dst->nss, t->rs[i].ss, t->rs[i].nss * sizeof(*v));
            dst->ss = v;
            dst->nss += t->rs[i].nss;
            continue;
        }
        hs[n] = h;
        if (n != i)
            t->rs[n] = t->rs[i];
        n++;
    }
    t->nrs = n;
    for (i = 0; i < t->nrs; i++) {
        struct vp4_resource_spans *rs = &t->rs[i];
        uint64_t *sh;
        if (rs->nss < 2)
            continue;
        if ((sh = ARENA_NEW(a, rs->nss, uint64_t)) == NULL)
            return TC_NOMEM;
        for (j = 0, n = 0; j < rs->nss; j++) {
            uint64_t h = ss_hash(&rs->ss[j]);
            for (k = 0; k < n && sh[k] != h; k++)
                ;
            if (k < n) {
                if (ss_append(&rs->ss[k], &rs->ss[j], a) != TC_OK)
                    return TC_NOMEM;
                continue;
            }
            sh[n] = h;
            if (n != j)
                rs->ss[n] = rs->ss[j];
            n++;
        }
        rs->nss = n;
    }
    return TC_OK;
}

/* ---- ServiceStats ---- */

int
combine_service_stats(struct vp4_trace *t, struct parquet_arena *a, struct tc_err *err)
{
    struct vp4_service_stats *st = ARENA_NEW(a, t->nrs, struct vp4_service_stats), tmp;
    uint32_t i, j, k, n = 0;

    if (st == NULL)
        return tc_err_set(err, TC_NOMEM, "combine: out of memory");
    for (i = 0; i < t->nrs; i++) {
        const struct vp4_resource_spans *rs = &t->rs[i];
        for (k = 0; k < n && bytes_cmp(st[k].service, rs->service_name) != 0; k++)
            ;
        if (k == n) {
            memset(&st[n], 0, sizeof(st[n]));
            st[n++].service = rs->service_name;
        }
        for (j = 0; j < rs->nss; j++) {
            uint32_t s;
            st[k].span_count += rs->ss[j].nspans;
            for (s = 0; s < rs->ss[j].nspans; s++)
                st[k].error_count += rs->ss[j].spans[s].status_code == STATUS_ERROR;
        }
    }
    /* Go's map has no order; sorted by name here so output is deterministic */
    for (i = 1; i < n; i++) {
        tmp = st[i];
        for (j = i; j > 0 && bytes_cmp(st[j - 1].service, tmp.service) > 0; j--)
            st[j] = st[j - 1];
        st[j] = tmp;
    }
    t->stats = st;
    t->nstats = n;
    return TC_OK;
}

/* ---- nested set ---- */

struct node {
    struct vp4_span *span;
    int32_t parent;      /* node index, -1 none */
    int32_t first_child; /* children as a list through next_sibling, in order */
    int32_t last_child;
    int32_t next_sibling;
    int32_t next_visit; /* DFS cursor: the next child to enter */
};

/* nodesByID: id -> up to 3 node indexes (a 3rd one undoes the assignment). */
struct idmap {
    uint64_t *key;
    int32_t *val; /* 3 per slot */
    uint8_t *cnt;
    size_t cap;
};

static size_t
idmap_slot(const struct idmap *m, uint64_t k)
{
    size_t i = (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 17) & (m->cap - 1);

    while (m->cnt[i] && m->key[i] != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int
is_root(const struct vp4_span *s)
{
    return s->parent_span_id.len == 0;
}

int
combine_nested_set(struct vp4_trace *t, struct parquet_arena *a, struct combine_stats *st,
                   struct tc_err *err)
{
    struct node *nodes;
    struct idmap m;
    size_t nspans = 0, n = 0, i, nroots = 0;
    uint32_t r, s, k;
    int undo = 0, connected = 1;
    int32_t bound = 1;

    for (r = 0; r < t->nrs; r++)
        for (s = 0; s < t->rs[r].nss; s++)
            nspans += t->rs[r].ss[s].nspans;
    m.cap = 16;
    while (m.cap < nspans * 2)
        m.cap <<= 1;
    nodes = ARENA_NEW(a, nspans, struct node);
    m.key = ARENA_NEW(a, m.cap, uint64_t);
    m.val = parquet_arena_alloc(a, sizeof(int32_t) * 3 * m.cap);
    m.cnt = ARENA_NEW(a, m.cap, uint8_t);
    if (nodes == NULL || m.key == NULL || m.val == NULL || m.cnt == NULL)
        return tc_err_set(err, TC_NOMEM, "combine: out of memory");
    for (r = 0; r < t->nrs; r++)
        for (s = 0; s < t->rs[r].nss; s++)
            for (k = 0; k < t->rs[r].ss[s].nspans; k++) {
                struct vp4_span *sp = &t->rs[r].ss[s].spans[k];
                uint64_t id = span_u64(sp->span_id.p, sp->span_id.len);
                size_t slot = idmap_slot(&m, id);
                struct node *nd = &nodes[n];
                nd->span = sp;
                nd->parent = nd->first_child = nd->last_child = nd->next_sibling = -1;
                nd->next_visit = -1;
                nroots += is_root(sp);
                m.key[slot] = id;
                if (m.cnt[slot] < 3)
                    m.val[slot * 3 + m.cnt[slot]] = (int32_t)n;
                if (m.cnt[slot] < 255)
                    m.cnt[slot]++;
                if (m.cnt[slot] > 2)
                    undo = 1;
                n++;
            }
    if (nroots == 0) { /* Go returns "not connected" and leaves the fields as they are */
        st->disconnected = 1;
        return TC_OK;
    }
    if (undo) {
        for (i = 0; i < n; i++) {
            nodes[i].span->nested_left = 0;
            nodes[i].span->nested_right = 0;
            nodes[i].span->parent_id = 0;
        }
        st->disconnected = 1;
        return TC_OK;
    }
    for (i = 0; i < n; i++) {
        struct node *nd = &nodes[i];
        int32_t p = -1;
        if (!is_root(nd->span)) {
            uint64_t pid = span_u64(nd->span->parent_span_id.p, nd->span->parent_span_id.len);
            size_t slot = idmap_slot(&m, pid);
            if (m.cnt[slot] == 1) {
                p = m.val[slot * 3];
            } else if (m.cnt[slot] == 2) {
                int64_t want = nd->span->kind == KIND_SERVER ? KIND_CLIENT : KIND_SERVER;
                if (nodes[m.val[slot * 3]].span->kind == want)
                    p = m.val[slot * 3];
                else if (nodes[m.val[slot * 3 + 1]].span->kind == want)
                    p = m.val[slot * 3 + 1];
            }
            if (p < 0)
                connected = 0;
        }
        if (p < 0)
            continue;
        nd->parent = p;
        if (nodes[p].last_child < 0)
            nodes[p].first_child = (int32_t)i;
        else
            nodes[nodes[p].last_child].next_sibling = (int32_t)i;
        nodes[p].last_child = (int32_t)i;
    }
    for (i = 0; i < n; i++)
        nodes[i].next_visit = nodes[i].first_child;
    /* DFS from each root in the order found; ParentID is the parent's left bound */
    for (i = 0; i < n; i++) {
        int32_t cur;
        if (!is_root(nodes[i].span))
            continue;
        cur = (int32_t)i;
        nodes[cur].span->nested_left = bound++;
        nodes[cur].span->parent_id = -1;
        while (cur >= 0) {
            struct node *nd = &nodes[cur];
            if (nd->next_visit >= 0) {
                int32_t next = nd->next_visit;
                nd->next_visit = nodes[next].next_sibling;
                nodes[next].span->nested_left = bound++;
                nodes[next].span->parent_id = nd->span->nested_left;
                cur = next;
            } else {
                nd->span->nested_right = bound++;
                cur = nd->parent;
            }
        }
    }
    if (!connected)
        st->disconnected = 1;
    return TC_OK;
}

/* ---- the combiner ---- */

int
combine_traces(const struct vp4_trace *const *in, size_t n, struct parquet_arena *a,
               struct vp4_trace **out, struct combine_stats *st, struct tc_err *err)
{
    struct vp4_trace *t;
    struct tokset seen;
    size_t i, cap_rs = 0, total = 0;
    uint32_t r, s, k;

    memset(st, 0, sizeof(*st));
    *out = NULL;
    if (n == 0)
        return tc_err_set(err, TC_INVAL, "combine: no traces");
    for (i = 0; i < n; i++) {
        cap_rs += in[i]->nrs;
        for (r = 0; r < in[i]->nrs; r++)
            for (s = 0; s < in[i]->rs[r].nss; s++)
                total += in[i]->rs[r].ss[s].nspans;
    }
    t = ARENA_NEW(a, 1, struct vp4_trace);
    if (t == NULL)
        goto nomem;
    *t = *in[0];
    t->rs = ARENA_NEW(a, cap_rs, struct vp4_resource_spans);
    if (t->rs == NULL || tokset_init(&seen, total, a) != TC_OK)
        goto nomem;
    /* the first trace is the base; its spans are known */
    for (r = 0; r < in[0]->nrs; r++) {
        const struct vp4_resource_spans *src = &in[0]->rs[r];
        struct vp4_resource_spans *dst = &t->rs[r];
        if (copy_rs_shell(dst, src, src->nss, a) != TC_OK)
            goto nomem;
        for (s = 0; s < src->nss; s++) {
            if (copy_ss(&dst->ss[s], &src->ss[s], a) != TC_OK)
                goto nomem;
            for (k = 0; k < src->ss[s].nspans; k++) {
                const struct vp4_span *sp = &src->ss[s].spans[k];
                if (tokset_add(&seen, combine_span_token(sp->span_id.p, sp->span_id.len, sp->kind),
                               a) != TC_OK)
                    goto nomem;
            }
        }
        dst->nss = src->nss;
    }
    if (n == 1) {
        *out = t;
        return TC_OK;
    }
    for (i = 1; i < n; i++) {
        const struct vp4_trace *tr = in[i];
        int final = i == n - 1;
        if (tr->end > t->end)
            t->end = tr->end;
        if (tr->start < t->start || t->start == 0)
            t->start = tr->start;
        if (t->root_service.len == 0)
            t->root_service = tr->root_service;
        if (t->root_span.len == 0)
            t->root_span = tr->root_span;
        t->duration = t->end - t->start;
        for (r = 0; r < tr->nrs; r++) {
            const struct vp4_resource_spans *src = &tr->rs[r];
            struct vp4_resource_spans *dst = &t->rs[t->nrs];
            if (copy_rs_shell(dst, src, src->nss, a) != TC_OK)
                goto nomem;
            for (s = 0; s < src->nss; s++) {
                const struct vp4_scope_spans *ss = &src->ss[s];
                struct vp4_scope_spans *d = &dst->ss[dst->nss];
                uint32_t kept = 0;
                if (copy_ss(d, ss, a) != TC_OK)
                    goto nomem;
                for (k = 0; k < ss->nspans; k++) {
                    const struct vp4_span *sp = &ss->spans[k];
                    uint64_t tok = combine_span_token(sp->span_id.p, sp->span_id.len, sp->kind);
                    if (tokset_has(&seen, tok))
                        continue;
                    d->spans[kept++] = *sp;
                    if (!final && tokset_add(&seen, tok, a) != TC_OK)
                        goto nomem;
                }
                st->spans_deduped += ss->nspans - kept;
                d->nspans = kept;
                if (kept > 0)
                    dst->nss++;
            }
            if (dst->nss > 0)
                t->nrs++;
        }
    }
    /* Result(): sort, rebatch, then the nested set and ServiceStats */
    combine_sort(t);
    if (rebatch(t, a) != TC_OK)
        goto nomem;
    if (combine_service_stats(t, a, err) != TC_OK || combine_nested_set(t, a, st, err) != TC_OK)
        return err->code;
    if (t->root_span.len == 0)
        st->rootless = 1;
    *out = t;
    return TC_OK;
nomem:
    return tc_err_set(err, TC_NOMEM, "combine: out of memory");
}
