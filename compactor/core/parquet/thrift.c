/* thrift.c - Thrift compact protocol reader and writer (see thrift.h). */
#include "parquet/thrift.h"

#include <string.h>

#include "base/mem.h"

static int
fail(struct thrift_r *r)
{
    r->failed = 1;
    return TC_PARSE;
}

void
thrift_r_init(struct thrift_r *r, const void *data, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->start = data;
    r->p = data;
    r->end = r->p + len;
}

size_t
thrift_r_pos(const struct thrift_r *r)
{
    return (size_t)(r->p - r->start);
}

size_t
thrift_uvarint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    unsigned shift = 0;
    size_t n = 0;

    while (p + n < end) {
        uint8_t c = p[n++];
        if (shift == 63 && c > 1)
            return 0;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return n;
        }
        shift += 7;
        if (shift > 63)
            return 0;
    }
    return 0;
}

static int
rd_uvarint(struct thrift_r *r, uint64_t *v)
{
    size_t n;

    if (r->failed)
        return TC_PARSE;
    n = thrift_uvarint(r->p, r->end, v);
    if (n == 0)
        return fail(r);
    r->p += n;
    return TC_OK;
}

int
thrift_struct_begin(struct thrift_r *r)
{
    if (r->failed || r->depth >= THRIFT_MAX_DEPTH)
        return fail(r);
    r->last_id[r->depth++] = 0;
    return TC_OK;
}

int
thrift_struct_end(struct thrift_r *r)
{
    if (r->failed || r->depth <= 0)
        return fail(r);
    r->depth--;
    return TC_OK;
}

int
thrift_field_next(struct thrift_r *r, int *type, int *id)
{
    uint8_t c;
    int16_t *last;

    if (r->failed || r->depth <= 0 || r->p >= r->end)
        return fail(r);
    last = &r->last_id[r->depth - 1];
    c = *r->p++;
    *type = c & 0x0f;
    if (*type == THRIFT_STOP) {
        *id = 0;
        return TC_OK;
    }
    if (c >> 4) {
        *id = *last + (c >> 4);
    } else {
        uint64_t z;
        int64_t sid;
        if (rd_uvarint(r, &z) != TC_OK)
            return TC_PARSE;
        sid = thrift_unzigzag(z);
        if (sid < -32768 || sid > 32767)
            return fail(r);
        *id = (int)sid;
    }
    if (*id > 32767 || *type > THRIFT_STRUCT)
        return fail(r);
    *last = (int16_t)*id;
    return TC_OK;
}

int
thrift_bool_field(int type)
{
    return type == THRIFT_TRUE;
}

int
thrift_read_i64(struct thrift_r *r, int64_t *v)
{
    uint64_t z;

    if (rd_uvarint(r, &z) != TC_OK)
        return TC_PARSE;
    *v = thrift_unzigzag(z);
    return TC_OK;
}

int
thrift_read_i32(struct thrift_r *r, int32_t *v)
{
    int64_t x;

    if (thrift_read_i64(r, &x) != TC_OK)
        return TC_PARSE;
    if (x < INT32_MIN || x > INT32_MAX)
        return fail(r);
    *v = (int32_t)x;
    return TC_OK;
}

int
thrift_read_byte(struct thrift_r *r, int8_t *v)
{
    if (r->failed || r->p >= r->end)
        return fail(r);
    *v = (int8_t)*r->p++;
    return TC_OK;
}

int
thrift_read_bool(struct thrift_r *r, int *v)
{
    int8_t b;

    if (thrift_read_byte(r, &b) != TC_OK)
        return TC_PARSE;
    *v = b == THRIFT_TRUE;
    return TC_OK;
}

int
thrift_read_double(struct thrift_r *r, double *v)
{
    uint64_t x = 0;

    if (r->failed || r->end - r->p < 8)
        return fail(r);
    for (int i = 7; i >= 0; i--)
        x = (x << 8) | r->p[i];
    memcpy(v, &x, 8);
    r->p += 8;
    return TC_OK;
}

int
thrift_read_binary(struct thrift_r *r, const uint8_t **p, uint32_t *len)
{
    uint64_t n;

    if (rd_uvarint(r, &n) != TC_OK)
        return TC_PARSE;
    if (n > (uint64_t)(r->end - r->p))
        return fail(r);
    *p = r->p;
    *len = (uint32_t)n;
    r->p += n;
    return TC_OK;
}

int
thrift_read_string(struct thrift_r *r, char **out)
{
    const uint8_t *p;
    uint32_t n;

    if (thrift_read_binary(r, &p, &n) != TC_OK)
        return TC_PARSE;
    *out = tc_strndup((const char *)p, n);
    return *out ? TC_OK : TC_NOMEM;
}

int
thrift_read_list(struct thrift_r *r, int *elem_type, uint32_t *n)
{
    uint8_t c;
    uint64_t size;

    if (r->failed || r->p >= r->end)
        return fail(r);
    c = *r->p++;
    *elem_type = c & 0x0f;
    size = c >> 4;
    if (size == 15 && rd_uvarint(r, &size) != TC_OK)
        return TC_PARSE;
    /* Every element takes at least one byte, except booleans packed in
     * types... which also take one byte in lists; so this bound holds. */
    if (size > THRIFT_MAX_LIST || size > (uint64_t)(r->end - r->p))
        return fail(r);
    *n = (uint32_t)size;
    return TC_OK;
}

int
thrift_skip(struct thrift_r *r, int type)
{
    uint64_t u;
    const uint8_t *p;
    uint32_t n, i;
    int t, id, kt, vt;

    if (r->failed)
        return TC_PARSE;
    switch (type) {
    case THRIFT_TRUE:
    case THRIFT_FALSE:
        return TC_OK; /* the value lives in the field header */
    case THRIFT_BYTE:
        if (r->p >= r->end)
            return fail(r);
        r->p++;
        return TC_OK;
    case THRIFT_I16:
    case THRIFT_I32:
    case THRIFT_I64:
        return rd_uvarint(r, &u);
    case THRIFT_DOUBLE:
        if (r->end - r->p < 8)
            return fail(r);
        r->p += 8;
        return TC_OK;
    case THRIFT_BINARY:
        return thrift_read_binary(r, &p, &n);
    case THRIFT_LIST:
    case THRIFT_SET:
        if (thrift_read_list(r, &t, &n) != TC_OK)
            return TC_PARSE;
        if (r->depth >= THRIFT_MAX_DEPTH)
            return fail(r);
        r->depth++; /* count list nesting against the depth cap */
        for (i = 0; i < n; i++) {
            /* list booleans are one byte each */
            if (t == THRIFT_TRUE || t == THRIFT_FALSE)
                t = THRIFT_BYTE;
            if (thrift_skip(r, t) != TC_OK)
                return TC_PARSE;
        }
        r->depth--;
        return TC_OK;
    case THRIFT_MAP:
        if (rd_uvarint(r, &u) != TC_OK)
            return TC_PARSE;
        if (u == 0)
            return TC_OK;
        if (u > (uint64_t)(r->end - r->p) || r->p >= r->end)
            return fail(r);
        kt = *r->p >> 4;
        vt = *r->p & 0x0f;
        r->p++;
        if (r->depth >= THRIFT_MAX_DEPTH)
            return fail(r);
        r->depth++;
        for (i = 0; i < u; i++) {
            if (thrift_skip(r, kt == 1 || kt == 2 ? THRIFT_BYTE : kt) != TC_OK ||
                thrift_skip(r, vt == 1 || vt == 2 ? THRIFT_BYTE : vt) != TC_OK)
                return TC_PARSE;
        }
        r->depth--;
        return TC_OK;
    case THRIFT_STRUCT:
        if (thrift_struct_begin(r) != TC_OK)
            return TC_PARSE;
        for (;;) {
            if (thrift_field_next(r, &t, &id) != TC_OK)
                return TC_PARSE;
            if (t == THRIFT_STOP)
                break;
            if (thrift_skip(r, t) != TC_OK)
                return TC_PARSE;
        }
        return thrift_struct_end(r);
    default:
        return fail(r);
    }
}

/* ---- writer ---- */

void
thrift_w_init(struct thrift_w *w, struct buf *b)
{
    memset(w, 0, sizeof(*w));
    w->b = b;
}

static void
w_byte(struct thrift_w *w, uint8_t c)
{
    if (w->rc == TC_OK)
        w->rc = buf_append(w->b, &c, 1);
}

static void
w_uvarint(struct thrift_w *w, uint64_t v)
{
    if (w->rc == TC_OK)
        w->rc = buf_put_uvarint(w->b, v);
}

void
thrift_w_field(struct thrift_w *w, int type, int id)
{
    int16_t *last;

    if (w->depth <= 0) {
        w->rc = TC_INVAL;
        return;
    }
    last = &w->last_id[w->depth - 1];
    if (id > *last && id - *last <= 15) {
        w_byte(w, (uint8_t)(((id - *last) << 4) | type));
    } else {
        w_byte(w, (uint8_t)type);
        w_uvarint(w, thrift_zigzag(id));
    }
    *last = (int16_t)id;
}

void
thrift_w_struct_begin(struct thrift_w *w)
{
    if (w->depth >= THRIFT_MAX_DEPTH) {
        w->rc = TC_INVAL;
        return;
    }
    w->last_id[w->depth++] = 0;
}

void
thrift_w_struct_end(struct thrift_w *w)
{
    w_byte(w, 0);
    if (w->depth > 0)
        w->depth--;
}

void
thrift_w_i32(struct thrift_w *w, int32_t v)
{
    w_uvarint(w, thrift_zigzag(v));
}

void
thrift_w_i64(struct thrift_w *w, int64_t v)
{
    w_uvarint(w, thrift_zigzag(v));
}

void
thrift_w_binary(struct thrift_w *w, const void *p, size_t n)
{
    w_uvarint(w, n);
    if (w->rc == TC_OK && n)
        w->rc = buf_append(w->b, p, n);
}

void
thrift_w_list(struct thrift_w *w, int elem_type, uint32_t n)
{
    if (n < 15) {
        w_byte(w, (uint8_t)((n << 4) | (uint32_t)elem_type));
    } else {
        w_byte(w, (uint8_t)(0xf0 | elem_type));
        w_uvarint(w, n);
    }
}

/* A bool inside a list is one byte, 1 or 0, as parquet-go writes it. Its
 * reader (Tempo's) takes any nonzero byte as true, so the compact
 * protocol's 2 for false (what Java writes) would read back as true: every
 * page of a column index would then be a null page, with no bounds, and
 * Tempo's trace-ID lookup would skip every TraceID chunk (issue #17). Our
 * reader and Java's take 1 as true and anything else as false. */
void
thrift_w_bool_elem(struct thrift_w *w, int v)
{
    w_byte(w, v ? 1 : 0);
}

void
thrift_w_field_i32(struct thrift_w *w, int id, int32_t v)
{
    thrift_w_field(w, THRIFT_I32, id);
    thrift_w_i32(w, v);
}

void
thrift_w_field_i64(struct thrift_w *w, int id, int64_t v)
{
    thrift_w_field(w, THRIFT_I64, id);
    thrift_w_i64(w, v);
}

void
thrift_w_field_binary(struct thrift_w *w, int id, const void *p, size_t n)
{
    thrift_w_field(w, THRIFT_BINARY, id);
    thrift_w_binary(w, p, n);
}

void
thrift_w_field_bool(struct thrift_w *w, int id, int v)
{
    thrift_w_field(w, v ? THRIFT_TRUE : THRIFT_FALSE, id);
}
