/* vp4.c - the vParquet4 schema, trace model conversions and a synthetic
 * block generator (see vp4.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/mem.h"
#include "parquet/parquet.h"
#include "tempo/vp4.h"
#include "tempo/vp4_int.h"

/* ---- schema ---- */

#define REQ PARQUET_REQUIRED
#define OPT PARQUET_OPTIONAL
#define RPT PARQUET_REPEATED

static void
leaf_list(struct parquet_schema_builder *sb, const char *name, int type, int conv, int enc,
          int codec)
{
    parquet_sb_group(sb, name, REQ, PARQUET_CT_LIST);
    parquet_sb_group(sb, "list", RPT, PARQUET_CT_NONE);
    parquet_sb_leaf(sb, "element", REQ, type, conv, enc, codec);
    parquet_sb_end(sb);
    parquet_sb_end(sb);
}

static void
list_begin(struct parquet_schema_builder *sb, const char *name)
{
    parquet_sb_group(sb, name, REQ, PARQUET_CT_LIST);
    parquet_sb_group(sb, "list", RPT, PARQUET_CT_NONE);
    parquet_sb_group(sb, "element", REQ, PARQUET_CT_NONE);
}

static void
list_end(struct parquet_schema_builder *sb)
{
    parquet_sb_end(sb);
    parquet_sb_end(sb);
    parquet_sb_end(sb);
}

static void
str_col(struct parquet_schema_builder *sb, const char *name, int rep, int enc, int codec)
{
    parquet_sb_leaf(sb, name, rep, PARQUET_BYTE_ARRAY, PARQUET_CT_UTF8, enc, codec);
}

static void
attrs(struct parquet_schema_builder *sb)
{
    list_begin(sb, "Attrs");
    str_col(sb, "Key", REQ, PARQUET_COLENC_DICT, PARQUET_SNAPPY);
    parquet_sb_leaf(sb, "IsArray", REQ, PARQUET_BOOLEAN, PARQUET_CT_NONE, PARQUET_COLENC_PLAIN,
                    PARQUET_SNAPPY);
    leaf_list(sb, "Value", PARQUET_BYTE_ARRAY, PARQUET_CT_UTF8, PARQUET_COLENC_DICT,
              PARQUET_SNAPPY);
    leaf_list(sb, "ValueInt", PARQUET_INT64, PARQUET_CT_INT_64, PARQUET_COLENC_PLAIN,
              PARQUET_SNAPPY);
    leaf_list(sb, "ValueDouble", PARQUET_DOUBLE, PARQUET_CT_NONE, PARQUET_COLENC_PLAIN,
              PARQUET_SNAPPY);
    leaf_list(sb, "ValueBool", PARQUET_BOOLEAN, PARQUET_CT_NONE, PARQUET_COLENC_PLAIN,
              PARQUET_SNAPPY);
    str_col(sb, "ValueUnsupported", OPT, PARQUET_COLENC_DEFAULT, PARQUET_SNAPPY);
    list_end(sb);
}

/* the dedicated columns' names, built once: read and written per span */
static const char *const dedicated_names[10] = {"String01", "String02", "String03", "String04",
                                                "String05", "String06", "String07", "String08",
                                                "String09", "String10"};

static void
dedicated(struct parquet_schema_builder *sb)
{
    parquet_sb_group(sb, "DedicatedAttributes", REQ, PARQUET_CT_NONE);
    for (int i = 0; i < 10; i++)
        str_col(sb, dedicated_names[i], OPT, PARQUET_COLENC_DICT, PARQUET_SNAPPY);
    parquet_sb_end(sb);
}

static void
i32_col(struct parquet_schema_builder *sb, const char *name, int conv, int enc, int codec)
{
    parquet_sb_leaf(sb, name, REQ, PARQUET_INT32, conv, enc, codec);
}

static const char *const res_wellknown[VP4_RES_WELLKNOWN] = {
    "Cluster",        "Namespace",        "Pod",        "Container",
    "K8sClusterName", "K8sNamespaceName", "K8sPodName", "K8sContainerName"};

int
vp4_schema_new(struct parquet_schema **out, struct tc_err *err)
{
    struct parquet_schema_builder *sb = parquet_sb_new("Trace");

    parquet_sb_leaf(sb, "TraceID", REQ, PARQUET_BYTE_ARRAY, PARQUET_CT_NONE, PARQUET_COLENC_DEFAULT,
                    PARQUET_UNCOMPRESSED);
    str_col(sb, "TraceIDText", REQ, PARQUET_COLENC_DEFAULT, PARQUET_SNAPPY);
    parquet_sb_leaf(sb, "StartTimeUnixNano", REQ, PARQUET_INT64, PARQUET_CT_UINT_64,
                    PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    parquet_sb_leaf(sb, "EndTimeUnixNano", REQ, PARQUET_INT64, PARQUET_CT_UINT_64,
                    PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    parquet_sb_leaf(sb, "DurationNano", REQ, PARQUET_INT64, PARQUET_CT_UINT_64,
                    PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    str_col(sb, "RootServiceName", REQ, PARQUET_COLENC_DICT, PARQUET_UNCOMPRESSED);
    str_col(sb, "RootSpanName", REQ, PARQUET_COLENC_DICT, PARQUET_UNCOMPRESSED);
    parquet_sb_group(sb, "ServiceStats", REQ, PARQUET_CT_MAP);
    parquet_sb_group(sb, "key_value", RPT, PARQUET_CT_NONE);
    str_col(sb, "key", REQ, PARQUET_COLENC_DEFAULT, PARQUET_UNCOMPRESSED);
    parquet_sb_group(sb, "value", REQ, PARQUET_CT_NONE);
    i32_col(sb, "SpanCount", PARQUET_CT_UINT_32, PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    i32_col(sb, "ErrorCount", PARQUET_CT_UINT_32, PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    parquet_sb_end(sb);
    parquet_sb_end(sb);
    parquet_sb_end(sb);
    list_begin(sb, "rs");
    parquet_sb_group(sb, "Resource", REQ, PARQUET_CT_NONE);
    attrs(sb);
    i32_col(sb, "DroppedAttributesCount", PARQUET_CT_INT_32, PARQUET_COLENC_DELTA, PARQUET_SNAPPY);
    str_col(sb, "ServiceName", REQ, PARQUET_COLENC_DICT, PARQUET_SNAPPY);
    for (int i = 0; i < VP4_RES_WELLKNOWN; i++)
        str_col(sb, res_wellknown[i], OPT, PARQUET_COLENC_DICT, PARQUET_SNAPPY);
    dedicated(sb);
    parquet_sb_end(sb); /* Resource */
    list_begin(sb, "ss");
    parquet_sb_group(sb, "Scope", REQ, PARQUET_CT_NONE);
    str_col(sb, "Name", REQ, PARQUET_COLENC_DICT, PARQUET_SNAPPY);
    str_col(sb, "Version", REQ, PARQUET_COLENC_DICT, PARQUET_SNAPPY);
    attrs(sb);
    i32_col(sb, "DroppedAttributesCount", PARQUET_CT_INT_32, PARQUET_COLENC_DELTA, PARQUET_SNAPPY);
    parquet_sb_end(sb); /* Scope */
    list_begin(sb, "Spans");
    parquet_sb_leaf(sb, "SpanID", REQ, PARQUET_BYTE_ARRAY, PARQUET_CT_NONE, PARQUET_COLENC_DEFAULT,
                    PARQUET_UNCOMPRESSED);
    parquet_sb_leaf(sb, "ParentSpanID", REQ, PARQUET_BYTE_ARRAY, PARQUET_CT_NONE,
                    PARQUET_COLENC_DEFAULT, PARQUET_UNCOMPRESSED);
    i32_col(sb, "ParentID", PARQUET_CT_INT_32, PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    i32_col(sb, "NestedSetLeft", PARQUET_CT_INT_32, PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    i32_col(sb, "NestedSetRight", PARQUET_CT_INT_32, PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    str_col(sb, "Name", REQ, PARQUET_COLENC_DICT, PARQUET_SNAPPY);
    parquet_sb_leaf(sb, "Kind", REQ, PARQUET_INT64, PARQUET_CT_INT_64, PARQUET_COLENC_DELTA,
                    PARQUET_UNCOMPRESSED);
    str_col(sb, "TraceState", REQ, PARQUET_COLENC_DEFAULT, PARQUET_SNAPPY);
    parquet_sb_leaf(sb, "StartTimeUnixNano", REQ, PARQUET_INT64, PARQUET_CT_UINT_64,
                    PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    parquet_sb_leaf(sb, "DurationNano", REQ, PARQUET_INT64, PARQUET_CT_UINT_64,
                    PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    parquet_sb_leaf(sb, "StatusCode", REQ, PARQUET_INT64, PARQUET_CT_INT_64, PARQUET_COLENC_DELTA,
                    PARQUET_UNCOMPRESSED);
    str_col(sb, "StatusMessage", REQ, PARQUET_COLENC_DEFAULT, PARQUET_SNAPPY);
    attrs(sb);
    i32_col(sb, "DroppedAttributesCount", PARQUET_CT_INT_32, PARQUET_COLENC_DELTA, PARQUET_SNAPPY);
    list_begin(sb, "Events");
    parquet_sb_leaf(sb, "TimeSinceStartNano", REQ, PARQUET_INT64, PARQUET_CT_UINT_64,
                    PARQUET_COLENC_DELTA, PARQUET_UNCOMPRESSED);
    str_col(sb, "Name", REQ, PARQUET_COLENC_DICT, PARQUET_SNAPPY);
    attrs(sb);
    i32_col(sb, "DroppedAttributesCount", PARQUET_CT_INT_32, PARQUET_COLENC_DELTA, PARQUET_SNAPPY);
    list_end(sb);
    i32_col(sb, "DroppedEventsCount", PARQUET_CT_INT_32, PARQUET_COLENC_PLAIN, PARQUET_SNAPPY);
    list_begin(sb, "Links");
    parquet_sb_leaf(sb, "TraceID", REQ, PARQUET_BYTE_ARRAY, PARQUET_CT_NONE, PARQUET_COLENC_DEFAULT,
                    PARQUET_UNCOMPRESSED);
    parquet_sb_leaf(sb, "SpanID", REQ, PARQUET_BYTE_ARRAY, PARQUET_CT_NONE, PARQUET_COLENC_DEFAULT,
                    PARQUET_UNCOMPRESSED);
    str_col(sb, "TraceState", REQ, PARQUET_COLENC_DEFAULT, PARQUET_SNAPPY);
    attrs(sb);
    i32_col(sb, "DroppedAttributesCount", PARQUET_CT_INT_32, PARQUET_COLENC_DELTA, PARQUET_SNAPPY);
    list_end(sb);
    i32_col(sb, "DroppedLinksCount", PARQUET_CT_INT_32, PARQUET_COLENC_PLAIN, PARQUET_SNAPPY);
    str_col(sb, "HttpMethod", OPT, PARQUET_COLENC_DICT, PARQUET_SNAPPY);
    str_col(sb, "HttpUrl", OPT, PARQUET_COLENC_DICT, PARQUET_SNAPPY);
    parquet_sb_leaf(sb, "HttpStatusCode", OPT, PARQUET_INT64, PARQUET_CT_INT_64,
                    PARQUET_COLENC_PLAIN, PARQUET_SNAPPY);
    dedicated(sb);
    list_end(sb); /* Spans */
    list_end(sb); /* ss */
    list_end(sb); /* rs */
    return parquet_sb_build(sb, out, err);
}

static int
child_index(const struct parquet_schema *s, int node, const char *name)
{
    const struct parquet_node *nd = &s->nodes[node];

    /* per field of every span of a combined trace: the first byte sorts out most */
    for (int k = 0; k < nd->num_children; k++) {
        const char *c = s->nodes[nd->children[k]].name;
        if (c[0] == name[0] && strcmp(c, name) == 0)
            return k;
    }
    return -1;
}

/* ---- reading rows (parquet_nav, fields shared with vp4_v3.c) ---- */

static int
read_attrs(struct parquet_nav p, struct parquet_arena *a, struct vp4_attrs *out)
{
    struct parquet_nav l = parquet_nav_get(p, "Attrs");
    uint32_t n = parquet_nav_len(l);

    out->n = n;
    out->a = VP4_ALLOC(a, n, struct vp4_attr);
    if (out->a == NULL)
        return TC_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct parquet_nav e = parquet_nav_at(l, i), vs = parquet_nav_get(e, "Value"),
                           vi = parquet_nav_get(e, "ValueInt"),
                           vd = parquet_nav_get(e, "ValueDouble"),
                           vb = parquet_nav_get(e, "ValueBool");
        struct vp4_attr *at = &out->a[i];
        at->key = vp4_nav_bytes(e, "Key");
        at->is_array = parquet_nav_i64(e, "IsArray") != 0;
        at->nstr = parquet_nav_len(vs);
        at->nint = parquet_nav_len(vi);
        at->ndbl = parquet_nav_len(vd);
        at->nbool = parquet_nav_len(vb);
        at->str = VP4_ALLOC(a, at->nstr, struct vp4_bytes);
        at->ints = VP4_ALLOC(a, at->nint, int64_t);
        at->dbls = VP4_ALLOC(a, at->ndbl, double);
        at->bools = VP4_ALLOC(a, at->nbool, uint8_t);
        if (!at->str || !at->ints || !at->dbls || !at->bools)
            return TC_NOMEM;
        for (uint32_t k = 0; k < at->nstr; k++)
            at->str[k] = vp4_nav_bytes(parquet_nav_at(vs, k), NULL);
        for (uint32_t k = 0; k < at->nint; k++)
            at->ints[k] = parquet_nav_i64(parquet_nav_at(vi, k), NULL);
        for (uint32_t k = 0; k < at->ndbl; k++)
            at->dbls[k] = parquet_nav_f64(parquet_nav_at(vd, k), NULL);
        for (uint32_t k = 0; k < at->nbool; k++)
            at->bools[k] = parquet_nav_i64(parquet_nav_at(vb, k), NULL) != 0;
        at->unsupported = vp4_nav_ostr(e, "ValueUnsupported");
    }
    return TC_OK;
}

static void
read_dedicated(struct parquet_nav p, struct vp4_ostr *out)
{
    struct parquet_nav d = parquet_nav_get(p, "DedicatedAttributes");

    for (int i = 0; i < 10; i++)
        out[i] = vp4_nav_ostr(d, dedicated_names[i]);
}

static void
read_trace_fields(struct parquet_nav top, struct vp4_trace *t)
{
    t->trace_id = vp4_nav_bytes(top, "TraceID");
    t->trace_id_text = vp4_nav_bytes(top, "TraceIDText");
    t->start = (uint64_t)parquet_nav_i64(top, "StartTimeUnixNano");
    t->end = (uint64_t)parquet_nav_i64(top, "EndTimeUnixNano");
    t->duration = (uint64_t)parquet_nav_i64(top, "DurationNano");
    t->root_service = vp4_nav_bytes(top, "RootServiceName");
    t->root_span = vp4_nav_bytes(top, "RootSpanName");
}

static int
read_stats(struct parquet_nav top, struct parquet_arena *a, struct vp4_trace *t)
{
    struct parquet_nav l = parquet_nav_get(top, "ServiceStats");

    t->nstats = parquet_nav_len(l);
    t->stats = VP4_ALLOC(a, t->nstats, struct vp4_service_stats);
    if (t->stats == NULL)
        return TC_NOMEM;
    for (uint32_t i = 0; i < t->nstats; i++) {
        struct parquet_nav kv = parquet_nav_entry(l, i), v = parquet_nav_get(kv, "value");
        t->stats[i].service = vp4_nav_bytes(kv, "key");
        t->stats[i].span_count = (uint32_t)parquet_nav_i64(v, "SpanCount");
        t->stats[i].error_count = (uint32_t)parquet_nav_i64(v, "ErrorCount");
    }
    return TC_OK;
}

static void
read_span_fields(struct parquet_nav sp, struct vp4_span *s)
{
    const struct parquet_val *hs = parquet_nav_scalar(sp, "HttpStatusCode");

    s->span_id = vp4_nav_bytes(sp, "SpanID");
    s->parent_span_id = vp4_nav_bytes(sp, "ParentSpanID");
    s->parent_id = (int32_t)parquet_nav_i64(sp, "ParentID");
    s->nested_left = (int32_t)parquet_nav_i64(sp, "NestedSetLeft");
    s->nested_right = (int32_t)parquet_nav_i64(sp, "NestedSetRight");
    s->name = vp4_nav_bytes(sp, "Name");
    s->kind = parquet_nav_i64(sp, "Kind");
    s->trace_state = vp4_nav_bytes(sp, "TraceState");
    s->start = (uint64_t)parquet_nav_i64(sp, "StartTimeUnixNano");
    s->duration = (uint64_t)parquet_nav_i64(sp, "DurationNano");
    s->status_code = parquet_nav_i64(sp, "StatusCode");
    s->status_message = vp4_nav_bytes(sp, "StatusMessage");
    s->dropped_attrs = (int32_t)parquet_nav_i64(sp, "DroppedAttributesCount");
    s->dropped_events = (int32_t)parquet_nav_i64(sp, "DroppedEventsCount");
    s->dropped_links = (int32_t)parquet_nav_i64(sp, "DroppedLinksCount");
    s->http_method = vp4_nav_ostr(sp, "HttpMethod");
    s->http_url = vp4_nav_ostr(sp, "HttpUrl");
    s->has_http_status = hs != NULL;
    s->http_status = hs ? hs->i : 0;
    read_dedicated(sp, s->dedicated);
}

/* A resource's scopes and their spans: the span fields both versions
 * share are read here, rd reads the rest. */
static int
read_scopes(const struct vp4_row_reader *rd, struct parquet_nav ssl, struct parquet_arena *a,
            struct vp4_resource_spans *rs, struct tc_err *err)
{
    int rc;

    rs->nss = parquet_nav_len(ssl);
    rs->ss = VP4_ALLOC(a, rs->nss, struct vp4_scope_spans);
    if (rs->ss == NULL)
        return TC_NOMEM;
    for (uint32_t j = 0; j < rs->nss; j++) {
        struct parquet_nav se = parquet_nav_at(ssl, j), sc = parquet_nav_get(se, "Scope"),
                           spl = parquet_nav_get(se, "Spans");
        struct vp4_scope_spans *ss = &rs->ss[j];
        ss->scope_name = vp4_nav_bytes(sc, "Name");
        ss->scope_version = vp4_nav_bytes(sc, "Version");
        if (rd->v4_fields) {
            if (read_attrs(sc, a, &ss->scope_attrs) != TC_OK)
                return TC_NOMEM;
            ss->scope_dropped_attrs = (int32_t)parquet_nav_i64(sc, "DroppedAttributesCount");
        } else if ((ss->scope_attrs.a = VP4_ALLOC(a, 1, struct vp4_attr)) == NULL) {
            return TC_NOMEM;
        }
        ss->nspans = parquet_nav_len(spl);
        ss->spans = VP4_ALLOC(a, ss->nspans, struct vp4_span);
        if (ss->spans == NULL)
            return TC_NOMEM;
        for (uint32_t k = 0; k < ss->nspans; k++) {
            struct parquet_nav sp = parquet_nav_at(spl, k), evl = parquet_nav_get(sp, "Events");
            struct vp4_span *s = &ss->spans[k];
            read_span_fields(sp, s); /* first: rd->event needs s->start */
            if (rd->attrs(sp, a, &s->attrs) != TC_OK)
                return TC_NOMEM;
            s->nevents = parquet_nav_len(evl);
            s->events = VP4_ALLOC(a, s->nevents, struct vp4_event);
            if (s->events == NULL)
                return TC_NOMEM;
            for (uint32_t q = 0; q < s->nevents; q++)
                if ((rc = rd->event(parquet_nav_at(evl, q), a, s, &s->events[q], err)) != TC_OK)
                    return rc;
            if ((rc = rd->links(sp, a, s, err)) != TC_OK)
                return rc;
        }
    }
    return TC_OK;
}

int
vp4_read_row(const struct vp4_row_reader *rd, const struct parquet_row *row,
             const struct parquet_schema *schema, struct parquet_arena *a, struct vp4_trace **out,
             struct tc_err *err)
{
    struct parquet_val *root;
    struct vp4_trace *t;
    struct parquet_nav top, l;
    int rc;

    if ((rc = parquet_row_assemble(row, schema, a, &root, err)) != TC_OK)
        return rc;
    t = VP4_ALLOC(a, 1, struct vp4_trace);
    if (t == NULL)
        goto nomem;
    top = parquet_nav_root(schema, root);
    read_trace_fields(top, t);
    if (rd->v4_fields)
        rc = read_stats(top, a, t);
    else
        rc = (t->stats = VP4_ALLOC(a, 1, struct vp4_service_stats)) ? TC_OK : TC_NOMEM;
    if (rc != TC_OK)
        goto nomem;
    l = parquet_nav_get(top, "rs");
    t->nrs = parquet_nav_len(l);
    t->rs = VP4_ALLOC(a, t->nrs, struct vp4_resource_spans);
    if (t->rs == NULL)
        goto nomem;
    for (uint32_t i = 0; i < t->nrs; i++) {
        struct parquet_nav e = parquet_nav_at(l, i), res = parquet_nav_get(e, "Resource");
        struct vp4_resource_spans *rs = &t->rs[i];
        if (rd->attrs(res, a, &rs->attrs) != TC_OK)
            goto nomem;
        if (rd->v4_fields)
            rs->dropped_attrs = (int32_t)parquet_nav_i64(res, "DroppedAttributesCount");
        rs->service_name = vp4_nav_bytes(res, "ServiceName");
        for (int k = 0; k < VP4_RES_WELLKNOWN; k++)
            rs->wellknown[k] = vp4_nav_ostr(res, res_wellknown[k]);
        read_dedicated(res, rs->dedicated);
        rc = read_scopes(rd, parquet_nav_get(e, "ss"), a, rs, err);
        if (rc == TC_NOMEM)
            goto nomem;
        if (rc != TC_OK)
            return rc;
    }
    *out = t;
    return TC_OK;
nomem:
    return tc_err_set(err, TC_NOMEM, "%s: out of memory converting a row", rd->name);
}

static int
read_event_v4(struct parquet_nav ev, struct parquet_arena *a, const struct vp4_span *s,
              struct vp4_event *e4, struct tc_err *err)
{
    e4->time_since_start = (uint64_t)parquet_nav_i64(ev, "TimeSinceStartNano");
    e4->name = vp4_nav_bytes(ev, "Name");
    e4->dropped_attrs = (int32_t)parquet_nav_i64(ev, "DroppedAttributesCount");
    return read_attrs(ev, a, &e4->attrs);
}

static int
read_links_v4(struct parquet_nav sp, struct parquet_arena *a, struct vp4_span *s,
              struct tc_err *err)
{
    struct parquet_nav lkl = parquet_nav_get(sp, "Links");

    s->nlinks = parquet_nav_len(lkl);
    s->links = VP4_ALLOC(a, s->nlinks, struct vp4_link);
    if (s->links == NULL)
        return TC_NOMEM;
    for (uint32_t q = 0; q < s->nlinks; q++) {
        struct parquet_nav lk = parquet_nav_at(lkl, q);
        struct vp4_link *l4 = &s->links[q];
        l4->trace_id = vp4_nav_bytes(lk, "TraceID");
        l4->span_id = vp4_nav_bytes(lk, "SpanID");
        l4->trace_state = vp4_nav_bytes(lk, "TraceState");
        l4->dropped_attrs = (int32_t)parquet_nav_i64(lk, "DroppedAttributesCount");
        if (read_attrs(lk, a, &l4->attrs) != TC_OK)
            return TC_NOMEM;
    }
    return TC_OK;
}

int
vp4_trace_from_row_tree(const struct parquet_row *row, const struct parquet_schema *schema,
                        struct parquet_arena *a, struct vp4_trace **out, struct tc_err *err)
{
    static const struct vp4_row_reader v4 = {"vp4", 1, read_attrs, read_event_v4, read_links_v4};

    return vp4_read_row(&v4, row, schema, a, out, err);
}

int
vp4_trace_from_row(const struct parquet_row *row, const struct parquet_schema *schema,
                   struct parquet_arena *a, struct vp4_trace **out, struct tc_err *err)
{
    /* the vParquet4 layout (every projected reader) is read straight from
     * its columns; other schemas by field name */
    int rc = vp4_trace_from_row_direct(row, schema, a, out, err);

    return rc == TC_DECLINED ? vp4_trace_from_row_tree(row, schema, a, out, err) : rc;
}

size_t
vp4_trace_span_count(const struct vp4_trace *t)
{
    size_t n = 0;

    for (uint32_t i = 0; i < t->nrs; i++)
        for (uint32_t j = 0; j < t->rs[i].nss; j++)
            n += t->rs[i].ss[j].nspans;
    return n;
}

/* ---- building trees ---- */

struct bld {
    const struct parquet_schema *s;
    struct parquet_arena *a;
    int nomem;
};

/* Makes v a GROUP for node and returns it. */
static struct parquet_val *
mk_group(struct bld *b, struct parquet_val *v, int node)
{
    const struct parquet_node *nd = &b->s->nodes[node];

    v->kind = PARQUET_V_GROUP;
    v->n = (uint32_t)nd->num_children;
    v->items = VP4_ALLOC(b->a, nd->num_children, struct parquet_val);
    if (v->items == NULL)
        b->nomem = 1;
    return v;
}

struct slot {
    int node;
    struct parquet_val *v;
};

static struct slot
fslot(struct bld *b, struct slot p, const char *name)
{
    struct slot r = {-1, NULL};
    int k = child_index(b->s, p.node, name);

    if (k < 0 || p.v == NULL || p.v->items == NULL) {
        b->nomem |= k < 0 ? 2 : 1;
        return r;
    }
    r.node = b->s->nodes[p.node].children[k];
    r.v = &p.v->items[k];
    return r;
}

static struct slot
fgroup(struct bld *b, struct slot p, const char *name)
{
    struct slot r = fslot(b, p, name);

    if (r.v)
        mk_group(b, r.v, r.node);
    return r;
}

static void
set_bytes(struct bld *b, struct slot p, const char *name, struct vp4_bytes v)
{
    struct slot r = fslot(b, p, name);

    if (r.v) {
        r.v->kind = PARQUET_V_SCALAR;
        r.v->b = v.p;
        r.v->len = v.len;
    }
}

static void
set_ostr(struct bld *b, struct slot p, const char *name, struct vp4_ostr v)
{
    if (v.set)
        set_bytes(b, p, name, v.v);
}

static void
set_i64(struct bld *b, struct slot p, const char *name, int64_t v)
{
    struct slot r = fslot(b, p, name);

    if (r.v) {
        r.v->kind = PARQUET_V_SCALAR;
        r.v->i = v;
    }
}

/* Makes a LIST group with n items; *elem[i] are the element slots (groups
 * when the element node is a group). For MAP (element=0) the slots are the
 * repeated key_value groups. */
static struct slot *
mk_list(struct bld *b, struct slot p, const char *name, uint32_t n, int element)
{
    struct slot l = fgroup(b, p, name), *out;
    int rnode, enode;
    struct parquet_val *lst;

    out = VP4_ALLOC(b->a, n, struct slot);
    if (l.v == NULL || out == NULL || l.v->items == NULL) {
        b->nomem = 1;
        return NULL;
    }
    rnode = b->s->nodes[l.node].children[0];
    enode = b->s->nodes[rnode].num_children > 0 ? b->s->nodes[rnode].children[0] : -1;
    lst = &l.v->items[0];
    lst->kind = PARQUET_V_LIST;
    lst->n = n;
    lst->items = VP4_ALLOC(b->a, n, struct parquet_val);
    if (lst->items == NULL) {
        b->nomem = 1;
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        mk_group(b, &lst->items[i], rnode);
        if (element) {
            out[i].node = enode;
            out[i].v = lst->items[i].items ? &lst->items[i].items[0] : NULL;
            if (out[i].v && !b->s->nodes[enode].leaf)
                mk_group(b, out[i].v, enode);
        } else {
            out[i].node = rnode;
            out[i].v = &lst->items[i];
        }
    }
    return out;
}

static void
put_attrs(struct bld *b, struct slot p, const struct vp4_attrs *at)
{
    struct slot *el = mk_list(b, p, "Attrs", at->n, 1);

    for (uint32_t i = 0; el && i < at->n; i++) {
        const struct vp4_attr *x = &at->a[i];
        struct slot *v;
        set_bytes(b, el[i], "Key", x->key);
        set_i64(b, el[i], "IsArray", x->is_array);
        v = mk_list(b, el[i], "Value", x->nstr, 1);
        for (uint32_t k = 0; v && k < x->nstr; k++) {
            v[k].v->kind = PARQUET_V_SCALAR;
            v[k].v->b = x->str[k].p;
            v[k].v->len = x->str[k].len;
        }
        v = mk_list(b, el[i], "ValueInt", x->nint, 1);
        for (uint32_t k = 0; v && k < x->nint; k++) {
            v[k].v->kind = PARQUET_V_SCALAR;
            v[k].v->i = x->ints[k];
        }
        v = mk_list(b, el[i], "ValueDouble", x->ndbl, 1);
        for (uint32_t k = 0; v && k < x->ndbl; k++) {
            v[k].v->kind = PARQUET_V_SCALAR;
            v[k].v->d = x->dbls[k];
        }
        v = mk_list(b, el[i], "ValueBool", x->nbool, 1);
        for (uint32_t k = 0; v && k < x->nbool; k++) {
            v[k].v->kind = PARQUET_V_SCALAR;
            v[k].v->i = x->bools[k];
        }
        set_ostr(b, el[i], "ValueUnsupported", x->unsupported);
    }
}

static void
put_dedicated(struct bld *b, struct slot p, const struct vp4_ostr *d)
{
    struct slot g = fgroup(b, p, "DedicatedAttributes");

    for (int i = 0; i < 10; i++)
        set_ostr(b, g, dedicated_names[i], d[i]);
}

int
vp4_trace_to_rowset(const struct vp4_trace *t, const struct parquet_schema *schema,
                    struct parquet_arena *a, struct parquet_rowset *rs, struct tc_err *err)
{
    /* the vParquet4 layout straight into its columns; others by name */
    int rc = vp4_trace_to_rowset_direct(t, schema, rs, err);

    return rc == TC_DECLINED ? vp4_trace_to_rowset_tree(t, schema, a, rs, err) : rc;
}

int
vp4_trace_to_rowset_tree(const struct vp4_trace *t, const struct parquet_schema *schema,
                         struct parquet_arena *a, struct parquet_rowset *rs, struct tc_err *err)
{
    struct bld b = {schema, a, 0};
    struct parquet_val *root = VP4_ALLOC(a, 1, struct parquet_val);
    struct slot top, *st, *rsl;

    if (root == NULL)
        return tc_err_set(err, TC_NOMEM, "vp4: out of memory");
    mk_group(&b, root, 0);
    top.node = 0;
    top.v = root;
    set_bytes(&b, top, "TraceID", t->trace_id);
    set_bytes(&b, top, "TraceIDText", t->trace_id_text);
    set_i64(&b, top, "StartTimeUnixNano", (int64_t)t->start);
    set_i64(&b, top, "EndTimeUnixNano", (int64_t)t->end);
    set_i64(&b, top, "DurationNano", (int64_t)t->duration);
    set_bytes(&b, top, "RootServiceName", t->root_service);
    set_bytes(&b, top, "RootSpanName", t->root_span);
    st = mk_list(&b, top, "ServiceStats", t->nstats, 0);
    for (uint32_t i = 0; st && i < t->nstats; i++) {
        struct slot v;
        set_bytes(&b, st[i], "key", t->stats[i].service);
        v = fgroup(&b, st[i], "value");
        set_i64(&b, v, "SpanCount", t->stats[i].span_count);
        set_i64(&b, v, "ErrorCount", t->stats[i].error_count);
    }
    rsl = mk_list(&b, top, "rs", t->nrs, 1);
    for (uint32_t i = 0; rsl && i < t->nrs; i++) {
        const struct vp4_resource_spans *r = &t->rs[i];
        struct slot res = fgroup(&b, rsl[i], "Resource"), *ssl;
        put_attrs(&b, res, &r->attrs);
        set_i64(&b, res, "DroppedAttributesCount", r->dropped_attrs);
        set_bytes(&b, res, "ServiceName", r->service_name);
        for (int k = 0; k < VP4_RES_WELLKNOWN; k++)
            set_ostr(&b, res, res_wellknown[k], r->wellknown[k]);
        put_dedicated(&b, res, r->dedicated);
        ssl = mk_list(&b, rsl[i], "ss", r->nss, 1);
        for (uint32_t j = 0; ssl && j < r->nss; j++) {
            const struct vp4_scope_spans *ss = &r->ss[j];
            struct slot sc = fgroup(&b, ssl[j], "Scope"), *spl;
            set_bytes(&b, sc, "Name", ss->scope_name);
            set_bytes(&b, sc, "Version", ss->scope_version);
            put_attrs(&b, sc, &ss->scope_attrs);
            set_i64(&b, sc, "DroppedAttributesCount", ss->scope_dropped_attrs);
            spl = mk_list(&b, ssl[j], "Spans", ss->nspans, 1);
            for (uint32_t k = 0; spl && k < ss->nspans; k++) {
                const struct vp4_span *s = &ss->spans[k];
                struct slot sp = spl[k], *ev, *lk;
                set_bytes(&b, sp, "SpanID", s->span_id);
                set_bytes(&b, sp, "ParentSpanID", s->parent_span_id);
                set_i64(&b, sp, "ParentID", s->parent_id);
                set_i64(&b, sp, "NestedSetLeft", s->nested_left);
                set_i64(&b, sp, "NestedSetRight", s->nested_right);
                set_bytes(&b, sp, "Name", s->name);
                set_i64(&b, sp, "Kind", s->kind);
                set_bytes(&b, sp, "TraceState", s->trace_state);
                set_i64(&b, sp, "StartTimeUnixNano", (int64_t)s->start);
                set_i64(&b, sp, "DurationNano", (int64_t)s->duration);
                set_i64(&b, sp, "StatusCode", s->status_code);
                set_bytes(&b, sp, "StatusMessage", s->status_message);
                put_attrs(&b, sp, &s->attrs);
                set_i64(&b, sp, "DroppedAttributesCount", s->dropped_attrs);
                ev = mk_list(&b, sp, "Events", s->nevents, 1);
                for (uint32_t q = 0; ev && q < s->nevents; q++) {
                    set_i64(&b, ev[q], "TimeSinceStartNano",
                            (int64_t)s->events[q].time_since_start);
                    set_bytes(&b, ev[q], "Name", s->events[q].name);
                    put_attrs(&b, ev[q], &s->events[q].attrs);
                    set_i64(&b, ev[q], "DroppedAttributesCount", s->events[q].dropped_attrs);
                }
                set_i64(&b, sp, "DroppedEventsCount", s->dropped_events);
                lk = mk_list(&b, sp, "Links", s->nlinks, 1);
                for (uint32_t q = 0; lk && q < s->nlinks; q++) {
                    set_bytes(&b, lk[q], "TraceID", s->links[q].trace_id);
                    set_bytes(&b, lk[q], "SpanID", s->links[q].span_id);
                    set_bytes(&b, lk[q], "TraceState", s->links[q].trace_state);
                    put_attrs(&b, lk[q], &s->links[q].attrs);
                    set_i64(&b, lk[q], "DroppedAttributesCount", s->links[q].dropped_attrs);
                }
                set_i64(&b, sp, "DroppedLinksCount", s->dropped_links);
                set_ostr(&b, sp, "HttpMethod", s->http_method);
                set_ostr(&b, sp, "HttpUrl", s->http_url);
                if (s->has_http_status)
                    set_i64(&b, sp, "HttpStatusCode", s->http_status);
                put_dedicated(&b, sp, s->dedicated);
            }
        }
    }
    if (b.nomem & 2)
        return tc_err_set(err, TC_INVAL, "vp4: schema lacks a vParquet4 field");
    if (b.nomem)
        return tc_err_set(err, TC_NOMEM, "vp4: out of memory");
    return parquet_shred(root, schema, rs, err);
}
