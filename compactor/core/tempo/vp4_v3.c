/* vp4_v3.c - vParquet3 rows into the vParquet4 trace model (tempo.md §6.6):
 * scalar attributes become one-element lists, KV-list/array attributes
 * become ValueUnsupported, event attributes and span links are decoded from
 * their protobuf bytes, event times become offsets from the span start. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "parquet/thrift.h"
#include "tempo/vp4_int.h"

/* ---- a bounded protobuf reader ---- */

struct pb {
    const uint8_t *p, *end;
};

/* Next field: tag and, for length-delimited fields, the payload. */
static int
pb_next(struct pb *b, uint32_t *field, int *wt, uint64_t *v, struct pb *sub)
{
    uint64_t key;
    size_t k = thrift_uvarint(b->p, b->end, &key);

    if (k == 0)
        return TC_PARSE;
    b->p += k;
    *field = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case 0:
        k = thrift_uvarint(b->p, b->end, v);
        if (k == 0)
            return TC_PARSE;
        b->p += k;
        return TC_OK;
    case 1:
        if (b->end - b->p < 8)
            return TC_PARSE;
        memcpy(v, b->p, 8); /* little-endian host */
        b->p += 8;
        return TC_OK;
    case 2:
        k = thrift_uvarint(b->p, b->end, v);
        if (k == 0 || *v > (uint64_t)(b->end - b->p - (ptrdiff_t)k))
            return TC_PARSE;
        sub->p = b->p + k;
        sub->end = sub->p + *v;
        b->p = sub->end;
        return TC_OK;
    case 5:
        if (b->end - b->p < 4)
            return TC_PARSE;
        *v = (uint64_t)b->p[0] | (uint64_t)b->p[1] << 8 | (uint64_t)b->p[2] << 16 |
             (uint64_t)b->p[3] << 24;
        b->p += 4;
        return TC_OK;
    default:
        return TC_PARSE;
    }
}

/* AnyValue as Go's jsonpb renders it (for ValueUnsupported). */
static int
anyvalue_json(struct pb in, struct buf *out, int depth)
{
    uint32_t f;
    int wt, rc = TC_OK;
    uint64_t v;
    struct pb sub;

    if (depth > 32)
        return TC_PARSE;
    if (buf_putc(out, '{') != TC_OK)
        return TC_NOMEM;
    while (in.p < in.end && rc == TC_OK) {
        if (pb_next(&in, &f, &wt, &v, &sub) != TC_OK)
            return TC_PARSE;
        if (f == 1 && wt == 2) {
            rc = buf_puts(out, "\"stringValue\":\"");
            for (const uint8_t *q = sub.p; q < sub.end && rc == TC_OK; q++)
                rc = *q == '"' || *q == '\\' ? buf_printf(out, "\\%c", *q)
                     : *q < 0x20             ? buf_printf(out, "\\u%04x", *q)
                                             : buf_putc(out, (char)*q);
            if (rc == TC_OK)
                rc = buf_putc(out, '"');
        } else if (f == 2 && wt == 0) {
            rc = buf_printf(out, "\"boolValue\":%s", v ? "true" : "false");
        } else if (f == 3 && wt == 0) {
            rc = buf_printf(out, "\"intValue\":\"%lld\"", (long long)(int64_t)v);
        } else if (f == 4 && wt == 1) {
            double d;
            memcpy(&d, &v, 8);
            rc = buf_printf(out, "\"doubleValue\":%.17g", d);
        } else if ((f == 5 || f == 6) && wt == 2) {
            /* ArrayValue / KeyValueList: repeated field 1 */
            int first = 1;
            rc = buf_printf(out, "\"%s\":{\"values\":[", f == 5 ? "arrayValue" : "kvlistValue");
            while (sub.p < sub.end && rc == TC_OK) {
                uint32_t f2;
                int wt2;
                uint64_t v2;
                struct pb el;
                if (pb_next(&sub, &f2, &wt2, &v2, &el) != TC_OK)
                    return TC_PARSE;
                if (f2 != 1 || wt2 != 2)
                    continue;
                if (!first)
                    rc = buf_putc(out, ',');
                first = 0;
                if (f == 5) {
                    rc = rc == TC_OK ? anyvalue_json(el, out, depth + 1) : rc;
                } else {
                    /* KeyValue { key = 1; value = 2 } */
                    struct pb key = {NULL, NULL}, val = {NULL, NULL};
                    while (el.p < el.end) {
                        uint32_t f3;
                        int wt3;
                        uint64_t v3;
                        struct pb s3;
                        if (pb_next(&el, &f3, &wt3, &v3, &s3) != TC_OK)
                            return TC_PARSE;
                        if (f3 == 1 && wt3 == 2)
                            key = s3;
                        else if (f3 == 2 && wt3 == 2)
                            val = s3;
                    }
                    if (rc == TC_OK)
                        rc = buf_printf(
                            out, "{\"key\":\"%.*s\",\"value\":", key.p ? (int)(key.end - key.p) : 0,
                            key.p ? (const char *)key.p : "");
                    if (rc == TC_OK && val.p)
                        rc = anyvalue_json(val, out, depth + 1);
                    else if (rc == TC_OK)
                        rc = buf_puts(out, "{}");
                    if (rc == TC_OK)
                        rc = buf_putc(out, '}');
                }
            }
            if (rc == TC_OK)
                rc = buf_puts(out, "]}");
        } else if (f == 7 && wt == 2) {
            static const char tb[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            size_t n = (size_t)(sub.end - sub.p);
            rc = buf_puts(out, "\"bytesValue\":\"");
            for (size_t i = 0; i < n && rc == TC_OK; i += 3) {
                uint32_t x = (uint32_t)sub.p[i] << 16 |
                             (i + 1 < n ? (uint32_t)sub.p[i + 1] << 8 : 0) |
                             (i + 2 < n ? sub.p[i + 2] : 0);
                char q[4] = {tb[(x >> 18) & 63], tb[(x >> 12) & 63],
                             i + 1 < n ? tb[(x >> 6) & 63] : '=', i + 2 < n ? tb[x & 63] : '='};
                rc = buf_append(out, q, 4);
            }
            if (rc == TC_OK)
                rc = buf_putc(out, '"');
        }
    }
    if (rc == TC_OK)
        rc = buf_putc(out, '}');
    return rc == TC_OK ? TC_OK : (rc == TC_PARSE ? TC_PARSE : TC_NOMEM);
}

static void *
arena_copy(struct parquet_arena *a, const void *p, size_t n)
{
    void *d = parquet_arena_alloc(a, n ? n : 1);

    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* Fills at from key + a protobuf AnyValue the way Tempo's AttrToParquet
 * does: scalars -> one-element lists, homogeneous arrays -> IsArray,
 * everything else -> ValueUnsupported (jsonpb). */
static int
attr_from_anyvalue(struct parquet_arena *a, struct vp4_bytes key, struct pb val,
                   struct vp4_attr *at)
{
    struct pb in = val, sub;
    uint32_t f;
    int wt, kind = 0; /* 1 str 2 bool 3 int 4 double 5 array 6 other */
    uint64_t v = 0;
    struct pb payload = {NULL, NULL};

    memset(at, 0, sizeof(*at));
    at->key = key;
    while (in.p < in.end) {
        if (pb_next(&in, &f, &wt, &v, &sub) != TC_OK)
            return TC_PARSE;
        if (f >= 1 && f <= 7) {
            kind = f <= 5 ? (int)f : 6;
            payload = sub;
            if (f == 1 || f == 5 || f == 6 || f == 7) {
                if (wt != 2)
                    return TC_PARSE;
            }
            break;
        }
    }
    switch (kind) {
    case 0: /* empty AnyValue: an empty string, as Go's zero value reads */
        at->nstr = 1;
        at->str = parquet_arena_alloc(a, sizeof(*at->str));
        if (at->str == NULL)
            return TC_NOMEM;
        at->str[0].p = (const uint8_t *)"";
        return TC_OK;
    case 1:
        at->nstr = 1;
        at->str = parquet_arena_alloc(a, sizeof(*at->str));
        if (at->str == NULL)
            return TC_NOMEM;
        at->str[0].p = payload.p;
        at->str[0].len = (uint32_t)(payload.end - payload.p);
        return TC_OK;
    case 2:
        at->nbool = 1;
        at->bools = parquet_arena_alloc(a, 1);
        if (at->bools == NULL)
            return TC_NOMEM;
        at->bools[0] = v != 0;
        return TC_OK;
    case 3:
        at->nint = 1;
        at->ints = parquet_arena_alloc(a, sizeof(int64_t));
        if (at->ints == NULL)
            return TC_NOMEM;
        at->ints[0] = (int64_t)v;
        return TC_OK;
    case 4:
        at->ndbl = 1;
        at->dbls = parquet_arena_alloc(a, sizeof(double));
        if (at->dbls == NULL)
            return TC_NOMEM;
        memcpy(&at->dbls[0], &v, 8);
        return TC_OK;
    case 5: {
        /* homogeneous scalar arrays only */
        struct pb arr = payload, el;
        uint32_t n = 0, ef;
        int ewt, etype = 0, mixed = 0;
        uint64_t ev;
        while (arr.p < arr.end) {
            struct pb inner, s2;
            uint32_t f2;
            int w2, t = 0;
            uint64_t v2;
            if (pb_next(&arr, &ef, &ewt, &ev, &el) != TC_OK)
                return TC_PARSE;
            if (ef != 1 || ewt != 2)
                continue;
            inner = el;
            while (inner.p < inner.end) {
                if (pb_next(&inner, &f2, &w2, &v2, &s2) != TC_OK)
                    return TC_PARSE;
                if (f2 >= 1 && f2 <= 7) {
                    t = (int)f2;
                    break;
                }
            }
            if (t < 1 || t > 4 || (etype && t != etype))
                mixed = 1;
            etype = t;
            n++;
        }
        if (!mixed) {
            at->is_array = 1;
            at->str = parquet_arena_alloc(a, sizeof(*at->str) * (n + 1));
            at->ints = parquet_arena_alloc(a, sizeof(int64_t) * (n + 1));
            at->dbls = parquet_arena_alloc(a, sizeof(double) * (n + 1));
            at->bools = parquet_arena_alloc(a, n + 1);
            if (!at->str || !at->ints || !at->dbls || !at->bools)
                return TC_NOMEM;
            arr = payload;
            while (arr.p < arr.end) {
                struct pb inner, s2;
                uint32_t f2;
                int w2;
                uint64_t v2;
                if (pb_next(&arr, &ef, &ewt, &ev, &el) != TC_OK)
                    return TC_PARSE;
                if (ef != 1 || ewt != 2)
                    continue;
                inner = el;
                while (inner.p < inner.end) {
                    if (pb_next(&inner, &f2, &w2, &v2, &s2) != TC_OK)
                        return TC_PARSE;
                    if (f2 == 1 && w2 == 2) {
                        at->str[at->nstr].p = s2.p;
                        at->str[at->nstr++].len = (uint32_t)(s2.end - s2.p);
                    } else if (f2 == 2) {
                        at->bools[at->nbool++] = v2 != 0;
                    } else if (f2 == 3) {
                        at->ints[at->nint++] = (int64_t)v2;
                    } else if (f2 == 4) {
                        memcpy(&at->dbls[at->ndbl++], &v2, 8);
                    } else {
                        continue;
                    }
                    break;
                }
            }
            return TC_OK;
        }
    }
    /* fallthrough */
    default: {
        struct buf js;
        int rc;
        buf_init(&js, (size_t)1 << 20);
        rc = anyvalue_json(val, &js, 0);
        if (rc == TC_OK) {
            at->unsupported.set = 1;
            at->unsupported.v.p = arena_copy(a, js.data ? js.data : "", js.len);
            at->unsupported.v.len = (uint32_t)js.len;
            if (at->unsupported.v.p == NULL)
                rc = TC_NOMEM;
        }
        buf_cleanup(&js);
        return rc;
    }
    }
}

/* vParquet3 attributes hold one scalar per attribute (Value, ValueInt, ...)
 * and arrays/KV lists as protobuf bytes. */
static int
v3_attrs(struct parquet_nav p, struct parquet_arena *a, struct vp4_attrs *out)
{
    struct parquet_nav l = parquet_nav_get(p, "Attrs");
    uint32_t n = parquet_nav_len(l);

    out->n = n;
    out->a = VP4_ALLOC(a, n, struct vp4_attr);
    if (out->a == NULL)
        return TC_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct parquet_nav e = parquet_nav_at(l, i);
        struct vp4_attr *at = &out->a[i];
        const struct parquet_val *v;
        memset(at, 0, sizeof(*at));
        at->key = vp4_nav_bytes(e, "Key");
        at->str = VP4_ALLOC(a, 1, struct vp4_bytes);
        at->ints = VP4_ALLOC(a, 1, int64_t);
        at->dbls = VP4_ALLOC(a, 1, double);
        at->bools = VP4_ALLOC(a, 1, uint8_t);
        if (!at->str || !at->ints || !at->dbls || !at->bools)
            return TC_NOMEM;
        if ((v = parquet_nav_scalar(e, "Value")) != NULL) {
            at->str[0].p = v->b;
            at->str[0].len = v->len;
            at->nstr = 1;
        } else if ((v = parquet_nav_scalar(e, "ValueInt")) != NULL) {
            at->ints[0] = v->i;
            at->nint = 1;
        } else if ((v = parquet_nav_scalar(e, "ValueDouble")) != NULL) {
            at->dbls[0] = v->d;
            at->ndbl = 1;
        } else if ((v = parquet_nav_scalar(e, "ValueBool")) != NULL) {
            at->bools[0] = v->i != 0;
            at->nbool = 1;
        } else if (((v = parquet_nav_scalar(e, "ValueArray")) != NULL && v->len > 0) ||
                   ((v = parquet_nav_scalar(e, "ValueKVList")) != NULL && v->len > 0)) {
            at->unsupported.set = 1;
            at->unsupported.v.p = v->b;
            at->unsupported.v.len = v->len;
        }
    }
    return TC_OK;
}

/* LinkSlice { repeated Span_Link links = 1 }; Span_Link { trace_id 1;
 * span_id 2; trace_state 3; attributes 4 (KeyValue); dropped 5 }. */
static int
v3_links(struct parquet_arena *a, struct vp4_bytes raw, struct vp4_span *s)
{
    struct pb in = {raw.p, raw.p + raw.len}, el;
    uint32_t f, n = 0;
    int wt;
    uint64_t v;

    while (in.p < in.end) {
        if (pb_next(&in, &f, &wt, &v, &el) != TC_OK)
            return TC_PARSE;
        n += f == 1 && wt == 2;
    }
    s->nlinks = n;
    s->links = parquet_arena_alloc(a, sizeof(*s->links) * (n ? n : 1));
    if (s->links == NULL)
        return TC_NOMEM;
    in.p = raw.p;
    n = 0;
    while (in.p < in.end) {
        struct vp4_link *lk;
        struct pb m, sub;
        uint32_t nattr = 0;
        if (pb_next(&in, &f, &wt, &v, &el) != TC_OK)
            return TC_PARSE;
        if (f != 1 || wt != 2)
            continue;
        lk = &s->links[n++];
        memset(lk, 0, sizeof(*lk));
        lk->trace_id.p = lk->span_id.p = lk->trace_state.p = (const uint8_t *)"";
        for (m = el; m.p < m.end;) {
            if (pb_next(&m, &f, &wt, &v, &sub) != TC_OK)
                return TC_PARSE;
            nattr += f == 4 && wt == 2;
        }
        lk->attrs.a = parquet_arena_alloc(a, sizeof(*lk->attrs.a) * (nattr ? nattr : 1));
        if (lk->attrs.a == NULL)
            return TC_NOMEM;
        for (m = el; m.p < m.end;) {
            if (pb_next(&m, &f, &wt, &v, &sub) != TC_OK)
                return TC_PARSE;
            if (wt == 2 && f >= 1 && f <= 3) {
                struct vp4_bytes *dst = f == 1   ? &lk->trace_id
                                        : f == 2 ? &lk->span_id
                                                 : &lk->trace_state;
                dst->p = sub.p;
                dst->len = (uint32_t)(sub.end - sub.p);
            } else if (f == 4 && wt == 2) {
                struct pb kv = sub, s3, key = {(const uint8_t *)"", (const uint8_t *)""},
                          val = {NULL, NULL};
                uint32_t f3;
                int w3;
                uint64_t v3;
                struct vp4_bytes kb;
                int rc;
                while (kv.p < kv.end) {
                    if (pb_next(&kv, &f3, &w3, &v3, &s3) != TC_OK)
                        return TC_PARSE;
                    if (f3 == 1 && w3 == 2)
                        key = s3;
                    else if (f3 == 2 && w3 == 2)
                        val = s3;
                }
                kb.p = key.p;
                kb.len = (uint32_t)(key.end - key.p);
                if (val.p == NULL)
                    val = key, val.p = val.end; /* empty AnyValue */
                rc = attr_from_anyvalue(a, kb, val, &lk->attrs.a[lk->attrs.n++]);
                if (rc != TC_OK)
                    return rc;
            } else if (f == 5 && wt == 0) {
                lk->dropped_attrs = (int32_t)v;
            }
        }
    }
    return TC_OK;
}

/* A vParquet3 event: absolute time, attributes as protobuf AnyValues. */
static int
v3_event(struct parquet_nav ev, struct parquet_arena *a, const struct vp4_span *s,
         struct vp4_event *e4, struct tc_err *err)
{
    struct parquet_nav al = parquet_nav_get(ev, "Attrs");
    uint32_t na = parquet_nav_len(al);
    int rc;

    e4->time_since_start = (uint64_t)parquet_nav_i64(ev, "TimeUnixNano") - s->start;
    e4->name = vp4_nav_bytes(ev, "Name");
    e4->dropped_attrs = (int32_t)parquet_nav_i64(ev, "DroppedAttributesCount");
    e4->attrs.a = VP4_ALLOC(a, na, struct vp4_attr);
    if (e4->attrs.a == NULL)
        return TC_NOMEM;
    for (uint32_t z = 0; z < na; z++) {
        struct parquet_nav ae = parquet_nav_at(al, z);
        struct vp4_bytes key = vp4_nav_bytes(ae, "Key"), raw = vp4_nav_bytes(ae, "Value");
        struct pb val = {raw.p, raw.p + raw.len};
        struct vp4_attr *at = &e4->attrs.a[e4->attrs.n];
        rc = attr_from_anyvalue(a, key, val, at);
        if (rc == TC_NOMEM)
            return rc;
        if (rc != TC_OK)
            return tc_err_set(err, TC_CORRUPT, "vParquet3 event attribute %.*s: bad protobuf",
                              (int)key.len, (const char *)key.p);
        /* an "event" string attribute names an unnamed event */
        if (e4->name.len == 0 && key.len == 5 && memcmp(key.p, "event", 5) == 0 && at->nstr == 1 &&
            !at->is_array) {
            e4->name = at->str[0];
            continue;
        }
        e4->attrs.n++;
    }
    return TC_OK;
}

/* vParquet3 Links: one protobuf LinkSlice in a bytes column. */
static int
v3_span_links(struct parquet_nav sp, struct parquet_arena *a, struct vp4_span *s,
              struct tc_err *err)
{
    int rc = v3_links(a, vp4_nav_bytes(sp, "Links"), s);

    if (rc != TC_OK && rc != TC_NOMEM)
        return tc_err_set(err, TC_CORRUPT, "vParquet3 span links: bad protobuf");
    return rc;
}

int
vp4_trace_from_v3_row(const struct parquet_row *row, const struct parquet_schema *schema,
                      struct parquet_arena *a, struct vp4_trace **out, struct tc_err *err)
{
    static const struct vp4_row_reader v3 = {"vParquet3", 0, v3_attrs, v3_event, v3_span_links};

    return vp4_read_row(&v3, row, schema, a, out, err);
}

int
vp4_is_v3_schema(const struct parquet_schema *s)
{
    int c = parquet_schema_find(s, "rs.list.element.ss.list.element.Spans.list.element.Links");

    return c >= 0 && s->nodes[s->columns[c]].type == PARQUET_BYTE_ARRAY;
}

int
vp4_attr_from_pb(struct parquet_arena *a, struct vp4_bytes key, const uint8_t *pbv, size_t len,
                 struct vp4_attr *out)
{
    struct pb val = {pbv, pbv + len};

    return attr_from_anyvalue(a, key, val, out);
}

int
vp4_links_from_pb(struct parquet_arena *a, const uint8_t *pbv, size_t len, struct vp4_span *s)
{
    struct vp4_bytes raw = {pbv, (uint32_t)len};

    return v3_links(a, raw, s);
}
