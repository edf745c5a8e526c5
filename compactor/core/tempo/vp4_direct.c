/* vp4_direct.c - vParquet4 rows to traces straight from the column
 * buffers (see vp4_int.h): no value tree, no field lookups by name.
 *
 * The walk follows Dremel: the entries of every leaf column come in the
 * trace's depth-first order, so each column keeps its own cursor and the
 * trace is read element by element. A list's length comes from one
 * "driver" leaf directly under its element; every other column must agree
 * entry by entry (repetition and definition levels as parquet_shred()
 * writes them) or the row is TC_CORRUPT with that column's path. */
#include <pthread.h>
#include <string.h>

#include "parquet/parquet.h"
#include "tempo/vp4.h"
#include "tempo/vp4_int.h"

/* ---- the column layout of vp4_schema_new(), in column order ---- */

/* offsets inside an Attrs block */
enum { A_KEY, A_ISARRAY, A_STR, A_INT, A_DBL, A_BOOL, A_UNSUP, A_NCOL };

enum vp4_col {
    C_TRACEID,
    C_TRACEIDTEXT,
    C_START,
    C_END,
    C_DURATION,
    C_ROOTSERVICE,
    C_ROOTSPAN,
    C_STAT_KEY,
    C_STAT_SPANS,
    C_STAT_ERRORS,
    C_RES_ATTRS,
    C_RES_DROPPED = C_RES_ATTRS + A_NCOL,
    C_RES_SERVICE,
    C_RES_WELLKNOWN,
    C_RES_DEDICATED = C_RES_WELLKNOWN + VP4_RES_WELLKNOWN,
    C_SCOPE_NAME = C_RES_DEDICATED + 10,
    C_SCOPE_VERSION,
    C_SCOPE_ATTRS,
    C_SCOPE_DROPPED = C_SCOPE_ATTRS + A_NCOL,
    C_SPAN_ID,
    C_SPAN_PARENT_SPAN_ID,
    C_SPAN_PARENT_ID,
    C_SPAN_LEFT,
    C_SPAN_RIGHT,
    C_SPAN_NAME,
    C_SPAN_KIND,
    C_SPAN_TRACE_STATE,
    C_SPAN_START,
    C_SPAN_DURATION,
    C_SPAN_STATUS_CODE,
    C_SPAN_STATUS_MSG,
    C_SPAN_ATTRS,
    C_SPAN_DROPPED = C_SPAN_ATTRS + A_NCOL,
    C_EV_TIME,
    C_EV_NAME,
    C_EV_ATTRS,
    C_EV_DROPPED = C_EV_ATTRS + A_NCOL,
    C_SPAN_DROPPED_EVENTS,
    C_LINK_TRACE_ID,
    C_LINK_SPAN_ID,
    C_LINK_TRACE_STATE,
    C_LINK_ATTRS,
    C_LINK_DROPPED = C_LINK_ATTRS + A_NCOL,
    C_SPAN_DROPPED_LINKS,
    C_SPAN_HTTP_METHOD,
    C_SPAN_HTTP_URL,
    C_SPAN_HTTP_STATUS,
    C_SPAN_DEDICATED,
    C_NCOL = C_SPAN_DEDICATED + 10
};

#define EL ".list.element."
#define RES "rs" EL "Resource."
#define SCOPE "rs" EL "ss" EL "Scope."
#define SPAN "rs" EL "ss" EL "Spans" EL
#define ATTRS(p)                                                                                   \
    p "Attrs" EL "Key", p "Attrs" EL "IsArray", p "Attrs" EL "Value.list.element",                 \
        p "Attrs" EL "ValueInt.list.element", p "Attrs" EL "ValueDouble.list.element",             \
        p "Attrs" EL "ValueBool.list.element", p "Attrs" EL "ValueUnsupported"
#define DEDICATED(p)                                                                               \
    p "DedicatedAttributes.String01", p "DedicatedAttributes.String02",                            \
        p "DedicatedAttributes.String03", p "DedicatedAttributes.String04",                        \
        p "DedicatedAttributes.String05", p "DedicatedAttributes.String06",                        \
        p "DedicatedAttributes.String07", p "DedicatedAttributes.String08",                        \
        p "DedicatedAttributes.String09", p "DedicatedAttributes.String10"

/* the paths the enum stands for: a schema is read directly only if its
 * columns are exactly these, in this order */
static const char *const col_paths[C_NCOL] = {"TraceID",
                                              "TraceIDText",
                                              "StartTimeUnixNano",
                                              "EndTimeUnixNano",
                                              "DurationNano",
                                              "RootServiceName",
                                              "RootSpanName",
                                              "ServiceStats.key_value.key",
                                              "ServiceStats.key_value.value.SpanCount",
                                              "ServiceStats.key_value.value.ErrorCount",
                                              ATTRS(RES),
                                              RES "DroppedAttributesCount",
                                              RES "ServiceName",
                                              RES "Cluster",
                                              RES "Namespace",
                                              RES "Pod",
                                              RES "Container",
                                              RES "K8sClusterName",
                                              RES "K8sNamespaceName",
                                              RES "K8sPodName",
                                              RES "K8sContainerName",
                                              DEDICATED(RES),
                                              SCOPE "Name",
                                              SCOPE "Version",
                                              ATTRS(SCOPE),
                                              SCOPE "DroppedAttributesCount",
                                              SPAN "SpanID",
                                              SPAN "ParentSpanID",
                                              SPAN "ParentID",
                                              SPAN "NestedSetLeft",
                                              SPAN "NestedSetRight",
                                              SPAN "Name",
                                              SPAN "Kind",
                                              SPAN "TraceState",
                                              SPAN "StartTimeUnixNano",
                                              SPAN "DurationNano",
                                              SPAN "StatusCode",
                                              SPAN "StatusMessage",
                                              ATTRS(SPAN),
                                              SPAN "DroppedAttributesCount",
                                              SPAN "Events" EL "TimeSinceStartNano",
                                              SPAN "Events" EL "Name",
                                              ATTRS(SPAN "Events" EL),
                                              SPAN "Events" EL "DroppedAttributesCount",
                                              SPAN "DroppedEventsCount",
                                              SPAN "Links" EL "TraceID",
                                              SPAN "Links" EL "SpanID",
                                              SPAN "Links" EL "TraceState",
                                              ATTRS(SPAN "Links" EL),
                                              SPAN "Links" EL "DroppedAttributesCount",
                                              SPAN "DroppedLinksCount",
                                              SPAN "HttpMethod",
                                              SPAN "HttpUrl",
                                              SPAN "HttpStatusCode",
                                              DEDICATED(SPAN)};

/* vp4_schema_new()'s leaves, built once: types and levels a schema must
 * match besides the paths (a schema with other optional groups would
 * have other levels) */
static struct parquet_schema *ref_schema;
static pthread_once_t ref_once = PTHREAD_ONCE_INIT;

static void
ref_init(void)
{
    struct tc_err err;

    if (vp4_schema_new(&ref_schema, &err) != TC_OK)
        ref_schema = NULL;
}

/* the last schema seen to have the layout, per thread: schemas do not
 * change once built, so one check per schema suffices */
static __thread const struct parquet_schema *ok_schema;
static __thread const struct parquet_node *ok_nodes;
static __thread char **ok_paths;

static int
layout_ok(const struct parquet_schema *s)
{
    if (s == ok_schema && s->nodes == ok_nodes && s->paths == ok_paths)
        return 1;
    pthread_once(&ref_once, ref_init);
    if (ref_schema == NULL || s->ncolumns != C_NCOL || ref_schema->ncolumns != C_NCOL)
        return 0;
    for (int c = 0; c < C_NCOL; c++) {
        const struct parquet_node *n = &s->nodes[s->columns[c]],
                                  *r = &ref_schema->nodes[ref_schema->columns[c]];
        if (strcmp(s->paths[c], col_paths[c]) != 0 ||
            strcmp(ref_schema->paths[c], col_paths[c]) != 0 || n->type != r->type ||
            n->def_level != r->def_level || n->rep_level != r->rep_level ||
            n->repetition != r->repetition)
            return 0;
    }
    ok_schema = s;
    ok_nodes = s->nodes;
    ok_paths = s->paths;
    return 1;
}

/* A list: its driver leaf (directly under the element, so its levels are
 * the list's) and the columns [c0, c1) under it, for reading and writing. */
struct vlist {
    int drv, c0, c1;
};

static const struct vlist L_STATS = {C_STAT_KEY, C_STAT_KEY, C_STAT_ERRORS + 1},
                          L_RS = {C_RES_SERVICE, C_RES_ATTRS, C_NCOL},
                          L_SS = {C_SCOPE_NAME, C_SCOPE_NAME, C_NCOL},
                          L_SPANS = {C_SPAN_ID, C_SPAN_ID, C_NCOL},
                          L_EVENTS = {C_EV_TIME, C_EV_TIME, C_EV_DROPPED + 1},
                          L_LINKS = {C_LINK_TRACE_ID, C_LINK_TRACE_ID, C_LINK_DROPPED + 1};

/* the Attrs block at base, and a list whose element is the leaf col */
static inline struct vlist
l_attrs(int base)
{
    struct vlist l = {base + A_KEY, base, base + A_NCOL};
    return l;
}

static inline struct vlist
l_leaf(int col)
{
    struct vlist l = {col, col, col + 1};
    return l;
}

/* ---- the walk ---- */

struct vcol {
    const struct parquet_colbuf *c;
    size_t l, l1, v, v1;
    int max_def, max_rep, opt;
};

enum { BAD_NONE, BAD_SHAPE, BAD_VALUES, BAD_TYPE };

struct vrd {
    struct vcol col[C_NCOL];
    struct parquet_arena *a;
    int nomem;
    int bad, bad_col; /* the first disagreement */
};

static void
bad(struct vrd *x, int col, int why)
{
    if (x->bad == BAD_NONE) {
        x->bad = why;
        x->bad_col = col;
    }
}

/* Consumes the next entry of col, which must repeat at rep; returns the
 * value index when it holds a value, else -1 (null, or a disagreement,
 * which is recorded). */
static inline long
take(struct vrd *x, int col, int rep)
{
    struct vcol *k = &x->col[col];
    int d;

    if (k->l >= k->l1 || k->c->rep[k->l] != rep) {
        bad(x, col, BAD_SHAPE);
        return -1;
    }
    d = k->c->def[k->l++];
    if (d == k->max_def) {
        if (k->v >= k->v1) {
            bad(x, col, BAD_VALUES);
            return -1;
        }
        return (long)k->v++;
    }
    if (!(k->opt && d == k->max_def - 1))
        bad(x, col, BAD_SHAPE);
    return -1;
}

static inline struct vp4_bytes
bytes_at(const struct parquet_colbuf *c, long vi)
{
    struct vp4_bytes b = {(const uint8_t *)"", 0};

    if (vi >= 0) {
        b.p = c->data ? c->data + c->offs[vi] : (const uint8_t *)"";
        b.len = c->offs[vi + 1] - c->offs[vi];
    }
    return b;
}

static inline struct vp4_bytes
take_bytes(struct vrd *x, int col, int rep)
{
    return bytes_at(x->col[col].c, take(x, col, rep));
}

static inline struct vp4_ostr
take_ostr(struct vrd *x, int col, int rep)
{
    long vi = take(x, col, rep);
    struct vp4_ostr o = {vi >= 0, bytes_at(x->col[col].c, vi)};

    return o;
}

static inline int64_t
i64_at(const struct parquet_colbuf *c, long vi)
{
    int64_t v = 0;
    int32_t w;

    if (vi < 0)
        return 0;
    switch (c->type) {
    case PARQUET_BOOLEAN:
        return c->fixed[vi] != 0;
    case PARQUET_INT32:
        memcpy(&w, c->fixed + (size_t)vi * 4, 4);
        return w;
    default:
        memcpy(&v, c->fixed + (size_t)vi * 8, 8);
        return v;
    }
}

static inline int64_t
take_i64(struct vrd *x, int col, int rep)
{
    return i64_at(x->col[col].c, take(x, col, rep));
}

/* The length of the list whose driver leaf is col (directly under the
 * element, so its levels are the list's), for the element that repeats at
 * rep. Consumes nothing. */
static uint32_t
list_len(struct vrd *x, int col, int rep)
{
    struct vcol *k = &x->col[col];
    size_t l = k->l;
    uint32_t n = 1;

    if (l >= k->l1 || k->c->rep[l] != rep) {
        bad(x, col, BAD_SHAPE);
        return 0;
    }
    if (k->c->def[l] < k->max_def) {
        /* empty here; a lower level would be an empty outer list */
        if (k->c->def[l] != k->max_def - 1)
            bad(x, col, BAD_SHAPE);
        return 0;
    }
    for (l++; l < k->l1 && k->c->rep[l] == k->max_rep; l++)
        n++;
    return n;
}

/* An empty list: columns [c0, c1) each hold one entry, at the level of the
 * list's parent (def = the driver's max_def - 1). */
static void
list_empty(struct vrd *x, int c0, int c1, int rep, int def)
{
    for (int col = c0; col < c1; col++) {
        struct vcol *k = &x->col[col];
        if (k->l >= k->l1 || k->c->rep[k->l] != rep || k->c->def[k->l] != def) {
            bad(x, col, BAD_SHAPE);
            return;
        }
        k->l++;
    }
}

static void *
alloc(struct vrd *x, size_t n, size_t size)
{
    void *p = parquet_arena_alloc(x->a, size * (n ? n : 1));

    if (p == NULL)
        x->nomem = 1;
    return p;
}

/* Opens the list whose driver leaf is drv and whose columns are [c0, c1),
 * in the element repeating at rep: returns its length with *items (that
 * many of size, zeroed; NULL without memory), an empty list consumed. */
static uint32_t
list_open(struct vrd *x, struct vlist l, int rep, size_t size, void **items)
{
    uint32_t n = list_len(x, l.drv, rep);

    *items = alloc(x, n, size);
    if (*items == NULL)
        return 0;
    if (n == 0)
        list_empty(x, l.c0, l.c1, rep, x->col[l.drv].max_def - 1);
    return n;
}

/* The repetition level of item i of the list driven by drv. */
static inline int
item_rep(const struct vrd *x, int drv, uint32_t i, int rep)
{
    return i ? x->col[drv].max_rep : rep;
}

/* Reads the items of a list: n from list_open(), stopping at the first
 * disagreement; cnt counts the items read. */
#define FOR_ITEMS(x, i, n, cnt)                                                                    \
    for (uint32_t i = (cnt) = 0; i < (n) && !(x)->bad && !(x)->nomem; i++, (cnt)++)

enum { LK_BYTES, LK_BOOL, LK_FIXED8 };

/* One of an attribute's value lists (a leaf list at col) as an array of
 * kind (vp4_bytes, uint8_t 0/1, or 8-byte int64/double); *n items. */
static void *
leaf_list(struct vrd *x, int col, int rep, uint32_t *n, int kind)
{
    static const size_t size[] = {sizeof(struct vp4_bytes), sizeof(uint8_t), 8};
    const struct parquet_colbuf *c = x->col[col].c;
    void *p;
    uint32_t len = list_open(x, l_leaf(col), rep, size[kind], &p);

    FOR_ITEMS(x, i, len, *n)
    {
        long vi = take(x, col, item_rep(x, col, i, rep));
        if (vi < 0)
            break; /* recorded by take */
        if (kind == LK_BYTES)
            ((struct vp4_bytes *)p)[i] = bytes_at(c, vi);
        else if (kind == LK_BOOL)
            ((uint8_t *)p)[i] = c->fixed[vi] != 0;
        else
            memcpy((uint8_t *)p + (size_t)i * 8, c->fixed + (size_t)vi * 8, 8);
    }
    return p;
}

static void
read_attrs(struct vrd *x, int base, int rep, struct vp4_attrs *out)
{
    void *items;
    uint32_t n = list_open(x, l_attrs(base), rep, sizeof(struct vp4_attr), &items);

    out->a = items;
    FOR_ITEMS(x, i, n, out->n)
    {
        struct vp4_attr *at = &out->a[i];
        int r = item_rep(x, base + A_KEY, i, rep);
        at->key = take_bytes(x, base + A_KEY, r);
        at->is_array = take_i64(x, base + A_ISARRAY, r) != 0;
        at->str = leaf_list(x, base + A_STR, r, &at->nstr, LK_BYTES);
        at->ints = leaf_list(x, base + A_INT, r, &at->nint, LK_FIXED8);
        at->dbls = leaf_list(x, base + A_DBL, r, &at->ndbl, LK_FIXED8);
        at->bools = leaf_list(x, base + A_BOOL, r, &at->nbool, LK_BOOL);
        at->unsupported = take_ostr(x, base + A_UNSUP, r);
    }
}

static void
read_dedicated(struct vrd *x, int base, int rep, struct vp4_ostr *out)
{
    for (int i = 0; i < 10; i++)
        out[i] = take_ostr(x, base + i, rep);
}

static void
read_events(struct vrd *x, int rep, struct vp4_span *s)
{
    void *items;
    uint32_t n = list_open(x, L_EVENTS, rep, sizeof(struct vp4_event), &items);

    s->events = items;
    FOR_ITEMS(x, i, n, s->nevents)
    {
        struct vp4_event *e = &s->events[i];
        int r = item_rep(x, C_EV_TIME, i, rep);
        e->time_since_start = (uint64_t)take_i64(x, C_EV_TIME, r);
        e->name = take_bytes(x, C_EV_NAME, r);
        read_attrs(x, C_EV_ATTRS, r, &e->attrs);
        e->dropped_attrs = (int32_t)take_i64(x, C_EV_DROPPED, r);
    }
}

static void
read_links(struct vrd *x, int rep, struct vp4_span *s)
{
    void *items;
    uint32_t n = list_open(x, L_LINKS, rep, sizeof(struct vp4_link), &items);

    s->links = items;
    FOR_ITEMS(x, i, n, s->nlinks)
    {
        struct vp4_link *l = &s->links[i];
        int r = item_rep(x, C_LINK_TRACE_ID, i, rep);
        l->trace_id = take_bytes(x, C_LINK_TRACE_ID, r);
        l->span_id = take_bytes(x, C_LINK_SPAN_ID, r);
        l->trace_state = take_bytes(x, C_LINK_TRACE_STATE, r);
        read_attrs(x, C_LINK_ATTRS, r, &l->attrs);
        l->dropped_attrs = (int32_t)take_i64(x, C_LINK_DROPPED, r);
    }
}

static void
read_span(struct vrd *x, int r, struct vp4_span *s)
{
    long hs;

    s->span_id = take_bytes(x, C_SPAN_ID, r);
    s->parent_span_id = take_bytes(x, C_SPAN_PARENT_SPAN_ID, r);
    s->parent_id = (int32_t)take_i64(x, C_SPAN_PARENT_ID, r);
    s->nested_left = (int32_t)take_i64(x, C_SPAN_LEFT, r);
    s->nested_right = (int32_t)take_i64(x, C_SPAN_RIGHT, r);
    s->name = take_bytes(x, C_SPAN_NAME, r);
    s->kind = take_i64(x, C_SPAN_KIND, r);
    s->trace_state = take_bytes(x, C_SPAN_TRACE_STATE, r);
    s->start = (uint64_t)take_i64(x, C_SPAN_START, r);
    s->duration = (uint64_t)take_i64(x, C_SPAN_DURATION, r);
    s->status_code = take_i64(x, C_SPAN_STATUS_CODE, r);
    s->status_message = take_bytes(x, C_SPAN_STATUS_MSG, r);
    read_attrs(x, C_SPAN_ATTRS, r, &s->attrs);
    s->dropped_attrs = (int32_t)take_i64(x, C_SPAN_DROPPED, r);
    read_events(x, r, s);
    s->dropped_events = (int32_t)take_i64(x, C_SPAN_DROPPED_EVENTS, r);
    read_links(x, r, s);
    s->dropped_links = (int32_t)take_i64(x, C_SPAN_DROPPED_LINKS, r);
    s->http_method = take_ostr(x, C_SPAN_HTTP_METHOD, r);
    s->http_url = take_ostr(x, C_SPAN_HTTP_URL, r);
    hs = take(x, C_SPAN_HTTP_STATUS, r);
    s->has_http_status = hs >= 0;
    s->http_status = i64_at(x->col[C_SPAN_HTTP_STATUS].c, hs);
    read_dedicated(x, C_SPAN_DEDICATED, r, s->dedicated);
}

static void
read_scopes(struct vrd *x, int rep, struct vp4_resource_spans *rs)
{
    void *items;
    uint32_t n = list_open(x, L_SS, rep, sizeof(struct vp4_scope_spans), &items);

    rs->ss = items;
    FOR_ITEMS(x, j, n, rs->nss)
    {
        struct vp4_scope_spans *ss = &rs->ss[j];
        int r = item_rep(x, C_SCOPE_NAME, j, rep);
        uint32_t ns;
        ss->scope_name = take_bytes(x, C_SCOPE_NAME, r);
        ss->scope_version = take_bytes(x, C_SCOPE_VERSION, r);
        read_attrs(x, C_SCOPE_ATTRS, r, &ss->scope_attrs);
        ss->scope_dropped_attrs = (int32_t)take_i64(x, C_SCOPE_DROPPED, r);
        ns = list_open(x, L_SPANS, r, sizeof(struct vp4_span), &items);
        ss->spans = items;
        FOR_ITEMS(x, k, ns, ss->nspans)
        {
            read_span(x, item_rep(x, C_SPAN_ID, k, r), &ss->spans[k]);
        }
    }
}

static void
read_trace(struct vrd *x, struct vp4_trace *t)
{
    void *items;
    uint32_t n;

    t->trace_id = take_bytes(x, C_TRACEID, 0);
    t->trace_id_text = take_bytes(x, C_TRACEIDTEXT, 0);
    t->start = (uint64_t)take_i64(x, C_START, 0);
    t->end = (uint64_t)take_i64(x, C_END, 0);
    t->duration = (uint64_t)take_i64(x, C_DURATION, 0);
    t->root_service = take_bytes(x, C_ROOTSERVICE, 0);
    t->root_span = take_bytes(x, C_ROOTSPAN, 0);
    n = list_open(x, L_STATS, 0, sizeof(struct vp4_service_stats), &items);
    t->stats = items;
    FOR_ITEMS(x, i, n, t->nstats)
    {
        int r = item_rep(x, C_STAT_KEY, i, 0);
        t->stats[i].service = take_bytes(x, C_STAT_KEY, r);
        t->stats[i].span_count = (uint32_t)take_i64(x, C_STAT_SPANS, r);
        t->stats[i].error_count = (uint32_t)take_i64(x, C_STAT_ERRORS, r);
    }
    n = list_open(x, L_RS, 0, sizeof(struct vp4_resource_spans), &items);
    t->rs = items;
    FOR_ITEMS(x, i, n, t->nrs)
    {
        struct vp4_resource_spans *rs = &t->rs[i];
        int r = item_rep(x, C_RES_SERVICE, i, 0);
        read_attrs(x, C_RES_ATTRS, r, &rs->attrs);
        rs->dropped_attrs = (int32_t)take_i64(x, C_RES_DROPPED, r);
        rs->service_name = take_bytes(x, C_RES_SERVICE, r);
        for (int k = 0; k < VP4_RES_WELLKNOWN; k++)
            rs->wellknown[k] = take_ostr(x, C_RES_WELLKNOWN + k, r);
        read_dedicated(x, C_RES_DEDICATED, r, rs->dedicated);
        read_scopes(x, r, rs);
    }
}

/* the physical type and value width each column's buffer must have */
static int
want_width(int type)
{
    switch (type) {
    case PARQUET_BOOLEAN:
        return 1;
    case PARQUET_INT32:
        return 4;
    case PARQUET_INT64:
    case PARQUET_DOUBLE:
        return 8;
    default:
        return 0;
    }
}

int
vp4_trace_from_row_direct(const struct parquet_row *row, const struct parquet_schema *schema,
                          struct parquet_arena *a, struct vp4_trace **out, struct tc_err *err)
{
    static const char *const why[] = {"", "list shape differs from sibling columns",
                                      "value count mismatch", "buffer type differs from schema"};
    struct vrd x;
    struct vp4_trace *t;

    if (!layout_ok(schema))
        return TC_DECLINED;
    if (row->ncols != C_NCOL)
        return tc_err_set(err, TC_INVAL, "vp4: row has %d columns, schema %d", row->ncols, C_NCOL);
    x.a = a;
    x.nomem = 0;
    x.bad = BAD_NONE;
    x.bad_col = 0;
    for (int c = 0; c < C_NCOL; c++) {
        const struct parquet_node *nd = &schema->nodes[schema->columns[c]];
        struct vcol *k = &x.col[c];
        k->c = &row->cols[c];
        k->l = row->l0[c];
        k->l1 = row->l1[c];
        k->v = row->v0[c];
        k->v1 = row->v1[c];
        k->max_def = nd->def_level;
        k->max_rep = nd->rep_level;
        k->opt = nd->repetition == PARQUET_OPTIONAL;
        if (k->c->type != nd->type || k->c->width != want_width(nd->type) || k->l > k->l1 ||
            k->l1 > k->c->n || k->v > k->v1 || k->v1 > k->c->nv)
            bad(&x, c, BAD_TYPE);
    }
    t = alloc(&x, 1, sizeof(*t));
    if (t != NULL && !x.bad)
        read_trace(&x, t);
    if (x.nomem)
        return tc_err_set(err, TC_NOMEM, "vp4: out of memory converting a row");
    /* every entry and value of the row must have been used */
    for (int c = 0; c < C_NCOL && !x.bad; c++) {
        if (x.col[c].l != x.col[c].l1)
            bad(&x, c, BAD_SHAPE);
        else if (x.col[c].v != x.col[c].v1)
            bad(&x, c, BAD_VALUES);
    }
    if (x.bad)
        return tc_err_set(err, TC_CORRUPT, "vp4: column %s: %s", schema->paths[x.bad_col],
                          why[x.bad]);
    *out = t;
    return TC_OK;
}

/* ---- traces to rows: the walk above, writing ----
 *
 * Each put mirrors a take: a value at the column's max_def, a null one
 * below it, an empty list as one entry per column of the list at the
 * driver's max_def - 1, the levels parquet_shred() gives the tree. */

struct vwr {
    struct parquet_colbuf *col[C_NCOL];
    int max_def[C_NCOL], max_rep[C_NCOL];
    int rc;
};

static inline void
put(struct vwr *x, int col, int rep, int has, const void *p, size_t len)
{
    if (x->rc == TC_OK)
        x->rc = parquet_colbuf_push(x->col[col], rep, has ? x->max_def[col] : x->max_def[col] - 1,
                                    has, p, len);
}

static inline void
put_bytes(struct vwr *x, int col, int rep, struct vp4_bytes b)
{
    put(x, col, rep, 1, b.p, b.len);
}

static inline void
put_ostr(struct vwr *x, int col, int rep, struct vp4_ostr o)
{
    put(x, col, rep, o.set, o.v.p, o.v.len);
}

/* an integer in the column's physical type, as the tree's leaves convert */
static inline void
put_i64(struct vwr *x, int col, int rep, int64_t v)
{
    uint8_t b;
    int32_t w;

    switch (x->col[col]->type) {
    case PARQUET_BOOLEAN:
        b = v != 0;
        put(x, col, rep, 1, &b, 1);
        break;
    case PARQUET_INT32:
        w = (int32_t)v;
        put(x, col, rep, 1, &w, 4);
        break;
    default:
        put(x, col, rep, 1, &v, 8);
        break;
    }
}

/* Opens a list of n items driven by drv over columns [c0, c1): an empty
 * one is written here. */
static void
list_put(struct vwr *x, struct vlist l, int rep, uint32_t n)
{
    if (n > 0)
        return;
    for (int col = l.c0; col < l.c1 && x->rc == TC_OK; col++)
        x->rc = parquet_colbuf_push(x->col[col], rep, x->max_def[l.drv] - 1, 0, NULL, 0);
}

static inline int
wrep(const struct vwr *x, int drv, uint32_t i, int rep)
{
    return i ? x->max_rep[drv] : rep;
}

static void
put_attrs(struct vwr *x, int base, int rep, const struct vp4_attrs *at)
{
    list_put(x, l_attrs(base), rep, at->n);
    for (uint32_t i = 0; i < at->n; i++) {
        const struct vp4_attr *a = &at->a[i];
        int r = wrep(x, base + A_KEY, i, rep);
        put_bytes(x, base + A_KEY, r, a->key);
        put_i64(x, base + A_ISARRAY, r, a->is_array);
        list_put(x, l_leaf(base + A_STR), r, a->nstr);
        for (uint32_t k = 0; k < a->nstr; k++)
            put_bytes(x, base + A_STR, wrep(x, base + A_STR, k, r), a->str[k]);
        list_put(x, l_leaf(base + A_INT), r, a->nint);
        for (uint32_t k = 0; k < a->nint; k++)
            put(x, base + A_INT, wrep(x, base + A_INT, k, r), 1, &a->ints[k], 8);
        list_put(x, l_leaf(base + A_DBL), r, a->ndbl);
        for (uint32_t k = 0; k < a->ndbl; k++)
            put(x, base + A_DBL, wrep(x, base + A_DBL, k, r), 1, &a->dbls[k], 8);
        list_put(x, l_leaf(base + A_BOOL), r, a->nbool);
        for (uint32_t k = 0; k < a->nbool; k++)
            put_i64(x, base + A_BOOL, wrep(x, base + A_BOOL, k, r), a->bools[k]);
        put_ostr(x, base + A_UNSUP, r, a->unsupported);
    }
}

static void
put_dedicated(struct vwr *x, int base, int rep, const struct vp4_ostr *d)
{
    for (int i = 0; i < 10; i++)
        put_ostr(x, base + i, rep, d[i]);
}

static void
put_span(struct vwr *x, int r, const struct vp4_span *s)
{
    put_bytes(x, C_SPAN_ID, r, s->span_id);
    put_bytes(x, C_SPAN_PARENT_SPAN_ID, r, s->parent_span_id);
    put_i64(x, C_SPAN_PARENT_ID, r, s->parent_id);
    put_i64(x, C_SPAN_LEFT, r, s->nested_left);
    put_i64(x, C_SPAN_RIGHT, r, s->nested_right);
    put_bytes(x, C_SPAN_NAME, r, s->name);
    put_i64(x, C_SPAN_KIND, r, s->kind);
    put_bytes(x, C_SPAN_TRACE_STATE, r, s->trace_state);
    put_i64(x, C_SPAN_START, r, (int64_t)s->start);
    put_i64(x, C_SPAN_DURATION, r, (int64_t)s->duration);
    put_i64(x, C_SPAN_STATUS_CODE, r, s->status_code);
    put_bytes(x, C_SPAN_STATUS_MSG, r, s->status_message);
    put_attrs(x, C_SPAN_ATTRS, r, &s->attrs);
    put_i64(x, C_SPAN_DROPPED, r, s->dropped_attrs);
    list_put(x, L_EVENTS, r, s->nevents);
    for (uint32_t q = 0; q < s->nevents; q++) {
        const struct vp4_event *e = &s->events[q];
        int er = wrep(x, C_EV_TIME, q, r);
        put_i64(x, C_EV_TIME, er, (int64_t)e->time_since_start);
        put_bytes(x, C_EV_NAME, er, e->name);
        put_attrs(x, C_EV_ATTRS, er, &e->attrs);
        put_i64(x, C_EV_DROPPED, er, e->dropped_attrs);
    }
    put_i64(x, C_SPAN_DROPPED_EVENTS, r, s->dropped_events);
    list_put(x, L_LINKS, r, s->nlinks);
    for (uint32_t q = 0; q < s->nlinks; q++) {
        const struct vp4_link *l = &s->links[q];
        int lr = wrep(x, C_LINK_TRACE_ID, q, r);
        put_bytes(x, C_LINK_TRACE_ID, lr, l->trace_id);
        put_bytes(x, C_LINK_SPAN_ID, lr, l->span_id);
        put_bytes(x, C_LINK_TRACE_STATE, lr, l->trace_state);
        put_attrs(x, C_LINK_ATTRS, lr, &l->attrs);
        put_i64(x, C_LINK_DROPPED, lr, l->dropped_attrs);
    }
    put_i64(x, C_SPAN_DROPPED_LINKS, r, s->dropped_links);
    put_ostr(x, C_SPAN_HTTP_METHOD, r, s->http_method);
    put_ostr(x, C_SPAN_HTTP_URL, r, s->http_url);
    if (s->has_http_status)
        put_i64(x, C_SPAN_HTTP_STATUS, r, s->http_status);
    else
        put(x, C_SPAN_HTTP_STATUS, r, 0, NULL, 0);
    put_dedicated(x, C_SPAN_DEDICATED, r, s->dedicated);
}

static void
put_trace(struct vwr *x, const struct vp4_trace *t)
{
    put_bytes(x, C_TRACEID, 0, t->trace_id);
    put_bytes(x, C_TRACEIDTEXT, 0, t->trace_id_text);
    put_i64(x, C_START, 0, (int64_t)t->start);
    put_i64(x, C_END, 0, (int64_t)t->end);
    put_i64(x, C_DURATION, 0, (int64_t)t->duration);
    put_bytes(x, C_ROOTSERVICE, 0, t->root_service);
    put_bytes(x, C_ROOTSPAN, 0, t->root_span);
    list_put(x, L_STATS, 0, t->nstats);
    for (uint32_t i = 0; i < t->nstats; i++) {
        int r = wrep(x, C_STAT_KEY, i, 0);
        put_bytes(x, C_STAT_KEY, r, t->stats[i].service);
        put_i64(x, C_STAT_SPANS, r, t->stats[i].span_count);
        put_i64(x, C_STAT_ERRORS, r, t->stats[i].error_count);
    }
    list_put(x, L_RS, 0, t->nrs);
    for (uint32_t i = 0; i < t->nrs; i++) {
        const struct vp4_resource_spans *rs = &t->rs[i];
        int r = wrep(x, C_RES_SERVICE, i, 0);
        put_attrs(x, C_RES_ATTRS, r, &rs->attrs);
        put_i64(x, C_RES_DROPPED, r, rs->dropped_attrs);
        put_bytes(x, C_RES_SERVICE, r, rs->service_name);
        for (int k = 0; k < VP4_RES_WELLKNOWN; k++)
            put_ostr(x, C_RES_WELLKNOWN + k, r, rs->wellknown[k]);
        put_dedicated(x, C_RES_DEDICATED, r, rs->dedicated);
        list_put(x, L_SS, r, rs->nss);
        for (uint32_t j = 0; j < rs->nss; j++) {
            const struct vp4_scope_spans *ss = &rs->ss[j];
            int sr = wrep(x, C_SCOPE_NAME, j, r);
            put_bytes(x, C_SCOPE_NAME, sr, ss->scope_name);
            put_bytes(x, C_SCOPE_VERSION, sr, ss->scope_version);
            put_attrs(x, C_SCOPE_ATTRS, sr, &ss->scope_attrs);
            put_i64(x, C_SCOPE_DROPPED, sr, ss->scope_dropped_attrs);
            list_put(x, L_SPANS, sr, ss->nspans);
            for (uint32_t k = 0; k < ss->nspans; k++)
                put_span(x, wrep(x, C_SPAN_ID, k, sr), &ss->spans[k]);
        }
    }
}

int
vp4_trace_to_rowset_direct(const struct vp4_trace *t, const struct parquet_schema *schema,
                           struct parquet_rowset *rs, struct tc_err *err)
{
    struct vwr x;

    if (!layout_ok(schema))
        return TC_DECLINED;
    if (rs->ncols != C_NCOL)
        return tc_err_set(err, TC_INVAL, "vp4: rowset has %d columns, schema %d", rs->ncols,
                          C_NCOL);
    for (int c = 0; c < C_NCOL; c++) {
        const struct parquet_node *nd = &schema->nodes[schema->columns[c]];
        x.col[c] = &rs->cols[c];
        x.max_def[c] = nd->def_level;
        x.max_rep[c] = nd->rep_level;
    }
    x.rc = TC_OK;
    put_trace(&x, t);
    if (x.rc != TC_OK)
        return tc_err_set(err, x.rc, "vp4: writing a row: %s", tc_strerror(x.rc));
    rs->nrows++;
    return TC_OK;
}
