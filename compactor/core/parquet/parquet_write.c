/* parquet_write.c - the Parquet writer: data page v2, dictionaries,
 * statistics, column and offset indexes, row groups cut by size. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "parquet/parquet_int.h"

#define PARQUET_DEFAULT_RG_BYTES ((size_t)100 << 20)
#define PARQUET_DEFAULT_PAGE_BYTES ((size_t)256 << 10)
/* parquet-go's ColumnIndexSizeLimit: page bounds are cut to this length */
#define PARQUET_COLIDX_LIMIT 16

struct parquet_writer {
    int fd;
    char *path;
    const struct parquet_schema *schema;
    struct parquet_writer_opts opts;
    uint64_t off;
    struct parquet_rowset rs;
    size_t est;
    struct parquet_filemeta meta; /* row groups accumulate here */
    int rg_cap;
    /* column 0's first value in the last row of each row group */
    uint8_t **last_key;
    uint32_t *last_key_len;
    /* serialized page indexes per (row group, column), written at close */
    struct buf *colidx, *offidx;
    int nidx, idxcap;
    /* scratch */
    struct buf page, comp, hdr, chunk;
    int64_t *i64;
    size_t i64cap;
    uint32_t *u32;
    size_t u32cap;
    int closed;
};

static int
wr(struct parquet_writer *w, const void *p, size_t n, struct tc_err *err)
{
    const char *c = p;

    while (n > 0) {
        ssize_t k = write(w->fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return tc_err_set(err, TC_IO, "%s: write: %s", w->path,
                              k < 0 ? strerror(errno) : "short write");
        c += k;
        n -= (size_t)k;
        w->off += (uint64_t)k;
    }
    return TC_OK;
}

int
parquet_writer_open(struct parquet_writer **out, const char *path,
                    const struct parquet_schema *schema, const struct parquet_writer_opts *opts,
                    struct tc_err *err)
{
    struct parquet_writer *w;
    int rc;

    *out = NULL;
    w = tc_calloc(1, sizeof(*w));
    if (w == NULL)
        return tc_err_set(err, TC_NOMEM, "parquet writer: out of memory");
    w->fd = -1;
    w->schema = schema;
    if (opts)
        w->opts = *opts;
    if (w->opts.row_group_bytes == 0)
        w->opts.row_group_bytes = PARQUET_DEFAULT_RG_BYTES;
    if (w->opts.page_bytes == 0)
        w->opts.page_bytes = PARQUET_DEFAULT_PAGE_BYTES;
    buf_init(&w->page, (size_t)1 << 31);
    buf_init(&w->comp, (size_t)1 << 31);
    buf_init(&w->hdr, (size_t)1 << 20);
    buf_init(&w->chunk, (size_t)1 << 31);
    w->path = tc_strdup(path);
    if (w->path == NULL || parquet_rowset_init(&w->rs, schema) != TC_OK) {
        parquet_writer_free(w);
        return tc_err_set(err, TC_NOMEM, "parquet writer: out of memory");
    }
    for (int c = 0; c < schema->ncolumns; c++)
        if (schema->nodes[schema->columns[c]].def_level > 255 ||
            schema->nodes[schema->columns[c]].rep_level > 255) {
            parquet_writer_free(w);
            return tc_err_set(err, TC_INVAL, "parquet writer: schema too deep");
        }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = tc_err_set(err, TC_IO, "%s: %s", path, strerror(errno));
        parquet_writer_free(w);
        return rc;
    }
    if ((rc = wr(w, "PAR1", 4, err)) != TC_OK) {
        parquet_writer_free(w);
        return rc;
    }
    w->meta.version = 1;
    *out = w;
    return TC_OK;
}

void
parquet_writer_free(struct parquet_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    parquet_rowset_cleanup(&w->rs);
    for (int g = 0; g < w->meta.nrowgroups; g++) {
        struct parquet_rowgroup_meta *rg = &w->meta.rowgroups[g];
        for (int c = 0; c < rg->ncols; c++) {
            tc_free(rg->cols[c].encodings);
            parquet_stats_cleanup(&rg->cols[c].stats);
        }
        tc_free(rg->cols);
    }
    tc_free(w->meta.rowgroups);
    for (int i = 0; i < w->nidx; i++) {
        buf_cleanup(&w->colidx[i]);
        buf_cleanup(&w->offidx[i]);
    }
    tc_free(w->colidx);
    tc_free(w->offidx);
    for (int g = 0; w->last_key && g < w->meta.nrowgroups; g++)
        tc_free(w->last_key[g]);
    tc_free(w->last_key);
    tc_free(w->last_key_len);
    buf_cleanup(&w->page);
    buf_cleanup(&w->comp);
    buf_cleanup(&w->hdr);
    buf_cleanup(&w->chunk);
    tc_free(w->i64);
    tc_free(w->u32);
    tc_free(w->path);
    tc_free(w);
}

size_t
parquet_writer_buffered(const struct parquet_writer *w)
{
    return w->est;
}

int
parquet_writer_row_groups(const struct parquet_writer *w)
{
    return w->meta.nrowgroups;
}

const uint8_t *
parquet_writer_rowgroup_last_key(const struct parquet_writer *w, int g, uint32_t *len)
{
    if (g < 0 || g >= w->meta.nrowgroups || w->last_key[g] == NULL)
        return NULL;
    *len = w->last_key_len[g];
    return w->last_key[g];
}

int
parquet_writer_write_row(struct parquet_writer *w, const struct parquet_row *row,
                         struct tc_err *err)
{
    size_t est = parquet_row_estimate_size(row);
    int rc;

    if (w->closed)
        return tc_err_set(err, TC_INVAL, "%s: write after close", w->path);
    if (w->rs.nrows > 0 && w->est + est > w->opts.row_group_bytes)
        if ((rc = parquet_writer_flush(w, err)) != TC_OK)
            return rc;
    rc = parquet_rowset_append(&w->rs, row);
    if (rc != TC_OK)
        return tc_err_set(err, rc, "%s: row does not match the schema (%s)", w->path,
                          tc_strerror(rc));
    w->est += est;
    if (w->est > w->opts.row_group_bytes)
        return parquet_writer_flush(w, err);
    return TC_OK;
}

/* ---- dictionary ---- */

struct dict {
    struct parquet_colbuf vals;
    uint32_t *slots; /* index + 1, 0 = empty */
    size_t nslots;
};

static uint64_t
hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void
value_at(const struct parquet_colbuf *c, size_t i, const uint8_t **p, uint32_t *n)
{
    if (c->type == PARQUET_BYTE_ARRAY) {
        /* an all-empty column never allocates data */
        *p = c->data ? c->data + c->offs[i] : (const uint8_t *)"";
        *n = c->offs[i + 1] - c->offs[i];
    } else {
        *p = c->fixed + i * (size_t)c->width;
        *n = (uint32_t)c->width;
    }
}

static int
dict_grow(struct dict *d)
{
    size_t ns = d->nslots ? d->nslots * 2 : 1024;
    uint32_t *sl = tc_calloc(ns, sizeof(uint32_t));

    if (sl == NULL)
        return TC_NOMEM;
    for (size_t i = 0; i < d->vals.nv; i++) {
        const uint8_t *p;
        uint32_t n;
        size_t h;
        value_at(&d->vals, i, &p, &n);
        h = (size_t)hash_bytes(p, n) & (ns - 1);
        while (sl[h])
            h = (h + 1) & (ns - 1);
        sl[h] = (uint32_t)i + 1;
    }
    tc_free(d->slots);
    d->slots = sl;
    d->nslots = ns;
    return TC_OK;
}

static int
dict_add(struct dict *d, const uint8_t *p, uint32_t n, uint32_t *idx)
{
    size_t h;
    int rc;

    if ((d->vals.nv + 1) * 2 > d->nslots && (rc = dict_grow(d)) != TC_OK)
        return rc;
    h = (size_t)hash_bytes(p, n) & (d->nslots - 1);
    while (d->slots[h]) {
        const uint8_t *q;
        uint32_t m;
        value_at(&d->vals, d->slots[h] - 1, &q, &m);
        if (m == n && (n == 0 || memcmp(p, q, n) == 0)) {
            *idx = d->slots[h] - 1;
            return TC_OK;
        }
        h = (h + 1) & (d->nslots - 1);
    }
    *idx = (uint32_t)d->vals.nv;
    rc = parquet_colbuf_push(&d->vals, 0, 0, 1, p, n);
    if (rc != TC_OK)
        return rc;
    d->vals.n = 0; /* only values matter */
    d->slots[h] = *idx + 1;
    return TC_OK;
}

/* ---- value encoders ---- */

static int
ensure_i64(struct parquet_writer *w, size_t n)
{
    if (n > w->i64cap) {
        int64_t *p = tc_reallocarray(w->i64, n, sizeof(int64_t));
        if (p == NULL)
            return TC_NOMEM;
        w->i64 = p;
        w->i64cap = n;
    }
    if (n > w->u32cap) {
        uint32_t *p = tc_reallocarray(w->u32, n, sizeof(uint32_t));
        if (p == NULL)
            return TC_NOMEM;
        w->u32 = p;
        w->u32cap = n;
    }
    return TC_OK;
}

static int
encode_plain(struct buf *b, const struct parquet_colbuf *c, size_t v0, size_t v1)
{
    int rc = TC_OK;

    if (c->type == PARQUET_BOOLEAN) {
        uint8_t byte = 0;
        for (size_t i = v0; i < v1 && rc == TC_OK; i++) {
            if (c->fixed[i])
                byte |= (uint8_t)(1u << ((i - v0) & 7));
            if (((i - v0) & 7) == 7 || i + 1 == v1) {
                rc = buf_append(b, &byte, 1);
                byte = 0;
            }
        }
        return rc;
    }
    if (c->type == PARQUET_BYTE_ARRAY) {
        for (size_t i = v0; i < v1 && rc == TC_OK; i++) {
            uint32_t l = c->offs[i + 1] - c->offs[i];
            rc = buf_put_u32le(b, l);
            if (rc == TC_OK && l)
                rc = buf_append(b, c->data + c->offs[i], l);
        }
        return rc;
    }
    if (v1 > v0)
        rc = buf_append(b, c->fixed + v0 * (size_t)c->width, (v1 - v0) * (size_t)c->width);
    return rc;
}

static int
encode_values(struct parquet_writer *w, int enc, struct buf *b, const struct parquet_colbuf *c,
              size_t v0, size_t v1)
{
    size_t n = v1 - v0;
    int rc;

    switch (enc) {
    case PARQUET_DELTA_BINARY_PACKED:
        if ((rc = ensure_i64(w, n + 1)) != TC_OK)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (c->type == PARQUET_INT32) {
                int32_t x;
                memcpy(&x, c->fixed + (v0 + i) * 4, 4);
                w->i64[i] = x;
            } else {
                memcpy(&w->i64[i], c->fixed + (v0 + i) * 8, 8);
            }
        }
        return parquet_delta_encode(b, c->type == PARQUET_INT32, w->i64, n);
    case PARQUET_DELTA_LENGTH_BYTE_ARRAY:
        if ((rc = ensure_i64(w, n + 1)) != TC_OK)
            return rc;
        for (size_t i = 0; i < n; i++)
            w->i64[i] = c->offs[v0 + i + 1] - c->offs[v0 + i];
        if ((rc = parquet_delta_encode(b, 1, w->i64, n)) != TC_OK)
            return rc;
        return c->offs[v1] > c->offs[v0]
                   ? buf_append(b, c->data + c->offs[v0], c->offs[v1] - c->offs[v0])
                   : TC_OK;
    case PARQUET_DELTA_BYTE_ARRAY: {
        const uint8_t *prev = NULL;
        uint32_t prevlen = 0;
        if ((rc = ensure_i64(w, 2 * n + 1)) != TC_OK)
            return rc;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p;
            uint32_t l, k = 0;
            value_at(c, v0 + i, &p, &l);
            while (k < l && k < prevlen && p[k] == prev[k])
                k++;
            w->i64[i] = k;
            w->i64[n + i] = l - k;
            prev = p;
            prevlen = l;
        }
        if ((rc = parquet_delta_encode(b, 1, w->i64, n)) != TC_OK ||
            (rc = parquet_delta_encode(b, 1, w->i64 + n, n)) != TC_OK)
            return rc;
        for (size_t i = 0; i < n && rc == TC_OK; i++) {
            const uint8_t *p;
            uint32_t l;
            value_at(c, v0 + i, &p, &l);
            if (w->i64[n + i])
                rc = buf_append(b, p + w->i64[i], (size_t)w->i64[n + i]);
        }
        return rc;
    }
    default:
        return encode_plain(b, c, v0, v1);
    }
}

/* ---- statistics ---- */

struct minmax {
    const uint8_t *min, *max;
    uint32_t minl, maxl;
    int64_t nulls;
    int any;
};

static void
mm_add(struct minmax *m, const struct parquet_node *leaf, const uint8_t *p, uint32_t n)
{
    if (leaf->type == PARQUET_FLOAT || leaf->type == PARQUET_DOUBLE) {
        /* NaN is never a bound */
        if (leaf->type == PARQUET_DOUBLE) {
            double d;
            memcpy(&d, p, 8);
            if (d != d)
                return;
        } else {
            float f;
            memcpy(&f, p, 4);
            if (f != f)
                return;
        }
    }
    if (!m->any || parquet_value_cmp(leaf, p, n, m->min, m->minl) < 0) {
        m->min = p;
        m->minl = n;
    }
    if (!m->any || parquet_value_cmp(leaf, p, n, m->max, m->maxl) > 0) {
        m->max = p;
        m->maxl = n;
    }
    m->any = 1;
}

static int
stats_from(struct parquet_stats *st, const struct minmax *m)
{
    memset(st, 0, sizeof(*st));
    st->null_count = m->nulls;
    if (!m->any)
        return TC_OK;
    st->min = tc_memdup(m->min, m->minl ? m->minl : 1);
    st->max = tc_memdup(m->max, m->maxl ? m->maxl : 1);
    if (!st->min || !st->max)
        return TC_NOMEM;
    st->min_len = m->minl;
    st->max_len = m->maxl;
    st->has_min = st->has_max = 1;
    return TC_OK;
}

/* Column-index bounds of byte arrays are cut to PARQUET_COLIDX_LIMIT bytes; a
 * cut max is rounded up so it stays an upper bound. */
static void
w_bound(struct thrift_w *tw, const struct parquet_node *leaf, const uint8_t *p, uint32_t n,
        int is_max)
{
    uint8_t tmp[PARQUET_COLIDX_LIMIT];
    int k;

    if ((leaf->type != PARQUET_BYTE_ARRAY && leaf->type != PARQUET_FIXED_LEN_BYTE_ARRAY) ||
        n <= PARQUET_COLIDX_LIMIT) {
        thrift_w_binary(tw, p, n);
        return;
    }
    if (!is_max) {
        thrift_w_binary(tw, p, PARQUET_COLIDX_LIMIT);
        return;
    }
    memcpy(tmp, p, PARQUET_COLIDX_LIMIT);
    for (k = PARQUET_COLIDX_LIMIT - 1; k >= 0; k--) {
        if (tmp[k] != 0xff) {
            tmp[k]++;
            thrift_w_binary(tw, tmp, (size_t)k + 1);
            return;
        }
    }
    thrift_w_binary(tw, p, n); /* all 0xff: keep the full value */
}

/* rank[i] = position of dictionary value i in sort order, so page bounds
 * of dictionary columns are found with integer compares. */
struct rank_ctx {
    const struct parquet_colbuf *vals;
    const struct parquet_node *leaf;
};

static int
rank_cmp(const void *a, const void *b, void *arg)
{
    const struct rank_ctx *x = arg;
    const uint8_t *p, *q;
    uint32_t n, m;

    value_at(x->vals, *(const uint32_t *)a, &p, &n);
    value_at(x->vals, *(const uint32_t *)b, &q, &m);
    return parquet_value_cmp(x->leaf, p, n, q, m);
}

static int
dict_ranks(const struct parquet_colbuf *vals, const struct parquet_node *leaf, uint32_t **out)
{
    struct rank_ctx x = {vals, leaf};
    uint32_t *order = tc_calloc(vals->nv + 1, sizeof(uint32_t));
    uint32_t *rank = tc_calloc(vals->nv + 1, sizeof(uint32_t));

    if (!order || !rank) {
        tc_free(order);
        tc_free(rank);
        return TC_NOMEM;
    }
    for (size_t i = 0; i < vals->nv; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, vals->nv, sizeof(uint32_t), rank_cmp, &x);
    for (size_t i = 0; i < vals->nv; i++)
        rank[order[i]] = (uint32_t)i;
    tc_free(order);
    *out = rank;
    return TC_OK;
}

/* ---- chunk writing ---- */

struct page_info {
    int64_t offset;
    int32_t size;
    int64_t first_row;
    struct minmax mm;
    int null_page;
};

static int
write_page_header(struct parquet_writer *w, int type, size_t usize, size_t csize, int num_values,
                  int num_nulls, int num_rows, int enc, size_t def_len, size_t rep_len,
                  int is_compressed)
{
    struct thrift_w tw;

    buf_reset(&w->hdr);
    thrift_w_init(&tw, &w->hdr);
    thrift_w_struct_begin(&tw);
    thrift_w_field_i32(&tw, 1, type);
    thrift_w_field_i32(&tw, 2, (int32_t)usize);
    thrift_w_field_i32(&tw, 3, (int32_t)csize);
    if (type == PARQUET_DICTIONARY_PAGE) {
        thrift_w_field(&tw, THRIFT_STRUCT, 7);
        thrift_w_struct_begin(&tw);
        thrift_w_field_i32(&tw, 1, num_values);
        thrift_w_field_i32(&tw, 2, PARQUET_PLAIN);
        thrift_w_struct_end(&tw);
    } else {
        thrift_w_field(&tw, THRIFT_STRUCT, 8);
        thrift_w_struct_begin(&tw);
        thrift_w_field_i32(&tw, 1, num_values);
        thrift_w_field_i32(&tw, 2, num_nulls);
        thrift_w_field_i32(&tw, 3, num_rows);
        thrift_w_field_i32(&tw, 4, enc);
        thrift_w_field_i32(&tw, 5, (int32_t)def_len);
        thrift_w_field_i32(&tw, 6, (int32_t)rep_len);
        thrift_w_field_bool(&tw, 7, is_compressed);
        thrift_w_struct_end(&tw);
    }
    thrift_w_struct_end(&tw);
    return tw.rc;
}

static int
column_encoding(const struct parquet_node *leaf)
{
    switch (leaf->colenc) {
    case PARQUET_COLENC_DICT:
        return PARQUET_RLE_DICTIONARY;
    case PARQUET_COLENC_DELTA:
        return leaf->type == PARQUET_INT32 || leaf->type == PARQUET_INT64
                   ? PARQUET_DELTA_BINARY_PACKED
                   : PARQUET_PLAIN;
    case PARQUET_COLENC_DLBA:
        return leaf->type == PARQUET_BYTE_ARRAY ? PARQUET_DELTA_LENGTH_BYTE_ARRAY : PARQUET_PLAIN;
    case PARQUET_COLENC_DBA:
        return leaf->type == PARQUET_BYTE_ARRAY || leaf->type == PARQUET_FIXED_LEN_BYTE_ARRAY
                   ? PARQUET_DELTA_BYTE_ARRAY
                   : PARQUET_PLAIN;
    case PARQUET_COLENC_PLAIN:
        return PARQUET_PLAIN;
    default:
        return leaf->type == PARQUET_BYTE_ARRAY ? PARQUET_DELTA_LENGTH_BYTE_ARRAY : PARQUET_PLAIN;
    }
}

static int
write_chunk(struct parquet_writer *w, int col, int64_t nrows, struct parquet_chunk_meta *cm,
            struct buf *colidx, struct buf *offidx, struct tc_err *err)
{
    const struct parquet_schema *s = w->schema;
    const struct parquet_node *leaf = &s->nodes[s->columns[col]];
    const struct parquet_colbuf *c = &w->rs.cols[col];
    int enc = column_encoding(leaf), codec = leaf->codec, rc = TC_OK;
    int max_def = leaf->def_level, max_rep = leaf->rep_level;
    struct dict d;
    uint32_t *idx = NULL, *rank = NULL;
    struct page_info *pages = NULL;
    int npages = 0, pcap = 0;
    struct minmax chunk_mm;
    size_t l = 0, v = 0;
    int64_t row = 0, start_off = (int64_t)w->off, total_u = 0;
    struct thrift_w tw;

    memset(&d, 0, sizeof(d));
    memset(&chunk_mm, 0, sizeof(chunk_mm));
    memset(cm, 0, sizeof(*cm));
    cm->type = leaf->type;
    cm->codec = codec;
    cm->dictionary_page_offset = -1;
    cm->column_index_offset = cm->offset_index_offset = -1;
    cm->num_values = (int64_t)c->n;
    buf_reset(&w->chunk);

    if (enc == PARQUET_RLE_DICTIONARY) {
        if (parquet_colbuf_init(&d.vals, c->type, leaf->type_length, 0) != TC_OK)
            return tc_err_set(err, TC_NOMEM, "dictionary: out of memory");
        idx = tc_calloc(c->nv + 1, sizeof(uint32_t));
        if (idx == NULL) {
            rc = TC_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < c->nv && rc == TC_OK; i++) {
            const uint8_t *p;
            uint32_t n;
            value_at(c, i, &p, &n);
            rc = dict_add(&d, p, n, &idx[i]);
        }
        if (rc != TC_OK)
            goto out;
        /* dictionary page: PLAIN values, compressed with the column codec */
        buf_reset(&w->page);
        if ((rc = encode_plain(&w->page, &d.vals, 0, d.vals.nv)) != TC_OK ||
            (rc = parquet_compress(codec, (uint8_t *)w->page.data, w->page.len, &w->comp, err)) !=
                TC_OK ||
            (rc = write_page_header(w, PARQUET_DICTIONARY_PAGE, w->page.len, w->comp.len,
                                    (int)d.vals.nv, 0, 0, PARQUET_PLAIN, 0, 0, 0)) != TC_OK)
            goto out;
        cm->dictionary_page_offset = start_off;
        if ((rc = dict_ranks(&d.vals, leaf, &rank)) != TC_OK)
            goto out;
        if ((rc = buf_append(&w->chunk, w->hdr.data, w->hdr.len)) != TC_OK ||
            (rc = buf_append(&w->chunk, w->comp.data, w->comp.len)) != TC_OK)
            goto out;
        total_u += (int64_t)(w->hdr.len + w->page.len);
    }
    cm->data_page_offset = start_off + (int64_t)w->chunk.len;

    while (l < c->n) {
        size_t l0 = l, v0 = v, bytes = 0, nulls = 0;
        int64_t rows0 = row;
        struct page_info *pi;
        size_t rep_len = 0, def_len = 0, lv_len, usize;
        int is_comp;
        /* take whole rows until the page is big enough */
        do {
            if (c->rep[l] == 0)
                row++;
            if (c->def[l] == max_def) {
                bytes += c->type == PARQUET_BYTE_ARRAY ? 4 + c->offs[v + 1] - c->offs[v]
                                                       : (size_t)(c->width ? c->width : 1);
                v++;
            } else {
                nulls++;
            }
            bytes += 1;
            l++;
        } while (l < c->n && (c->rep[l] != 0 || bytes < w->opts.page_bytes));
        if (npages == pcap) {
            int ncap = pcap ? pcap * 2 : 8;
            struct page_info *np = tc_reallocarray(pages, (size_t)ncap, sizeof(*np));
            if (np == NULL) {
                rc = TC_NOMEM;
                goto out;
            }
            pages = np;
            pcap = ncap;
        }
        pi = &pages[npages++];
        memset(pi, 0, sizeof(*pi));
        pi->first_row = rows0;
        if (rank != NULL && v > v0) {
            /* dictionary columns: compare precomputed ranks, not values */
            uint32_t lo = idx[v0], hi = idx[v0];
            for (size_t i = v0 + 1; i < v; i++) {
                if (rank[idx[i]] < rank[lo])
                    lo = idx[i];
                if (rank[idx[i]] > rank[hi])
                    hi = idx[i];
            }
            value_at(&d.vals, lo, &pi->mm.min, &pi->mm.minl);
            value_at(&d.vals, hi, &pi->mm.max, &pi->mm.maxl);
            pi->mm.any = 1;
            if (leaf->type == PARQUET_FLOAT || leaf->type == PARQUET_DOUBLE) {
                /* NaN handling lives in mm_add: recompute the slow way */
                memset(&pi->mm, 0, sizeof(pi->mm));
                for (size_t i = v0; i < v; i++) {
                    const uint8_t *p;
                    uint32_t n;
                    value_at(c, i, &p, &n);
                    mm_add(&pi->mm, leaf, p, n);
                }
            }
        } else {
            for (size_t i = v0; i < v; i++) {
                const uint8_t *p;
                uint32_t n;
                value_at(c, i, &p, &n);
                mm_add(&pi->mm, leaf, p, n);
            }
        }
        pi->mm.nulls = (int64_t)nulls;
        if (pi->mm.any) {
            mm_add(&chunk_mm, leaf, pi->mm.min, pi->mm.minl);
            mm_add(&chunk_mm, leaf, pi->mm.max, pi->mm.maxl);
        }
        chunk_mm.nulls += (int64_t)nulls;
        pi->null_page = v == v0;
        /* levels (v2: uncompressed, no length prefix) */
        buf_reset(&w->page);
        if ((rc = ensure_i64(w, l - l0 + 1)) != TC_OK)
            goto out;
        if (max_rep > 0) {
            for (size_t i = l0; i < l; i++)
                w->u32[i - l0] = c->rep[i];
            if ((rc = parquet_rle_encode(&w->page, parquet_bit_width((uint64_t)max_rep), w->u32,
                                         l - l0)))
                goto out;
            rep_len = w->page.len;
        }
        if (max_def > 0) {
            for (size_t i = l0; i < l; i++)
                w->u32[i - l0] = c->def[i];
            if ((rc = parquet_rle_encode(&w->page, parquet_bit_width((uint64_t)max_def), w->u32,
                                         l - l0)))
                goto out;
            def_len = w->page.len - rep_len;
        }
        lv_len = w->page.len;
        /* values */
        if (enc == PARQUET_RLE_DICTIONARY) {
            uint8_t bw = (uint8_t)parquet_bit_width(d.vals.nv ? d.vals.nv - 1 : 0);
            if ((rc = buf_append(&w->page, &bw, 1)) != TC_OK ||
                (rc = parquet_rle_encode(&w->page, bw, idx + v0, v - v0)) != TC_OK)
                goto out;
            is_comp = 0; /* as parquet-go: dictionary indices are not compressed */
        } else {
            if ((rc = encode_values(w, enc, &w->page, c, v0, v)) != TC_OK)
                goto out;
            is_comp = codec != PARQUET_UNCOMPRESSED;
        }
        usize = w->page.len;
        if (usize > INT32_MAX / 2 || l - l0 > INT32_MAX) {
            /* page sizes are i32 in the header: one row this large cannot be stored */
            rc = tc_err_set(err, TC_TOOBIG, "%s: column %s: page of %zu bytes is too large",
                            w->path, s->paths[col], usize);
            goto out;
        }
        if (is_comp) {
            if ((rc =
                     parquet_compress(codec, (uint8_t *)(w->page.data ? w->page.data + lv_len : ""),
                                      usize - lv_len, &w->comp, err)) != TC_OK)
                goto out;
        } else {
            buf_reset(&w->comp);
            if (usize > lv_len &&
                (rc = buf_append(&w->comp, w->page.data + lv_len, usize - lv_len)) != TC_OK)
                goto out;
        }
        if ((rc = write_page_header(w, PARQUET_DATA_PAGE_V2, usize, lv_len + w->comp.len,
                                    (int)(l - l0), (int)nulls, (int)(row - rows0), enc, def_len,
                                    rep_len, is_comp)) != TC_OK)
            goto out;
        pi->offset = start_off + (int64_t)w->chunk.len;
        pi->size = (int32_t)(w->hdr.len + lv_len + w->comp.len);
        if ((rc = buf_append(&w->chunk, w->hdr.data, w->hdr.len)) != TC_OK ||
            (rc = buf_append(&w->chunk, w->page.data, lv_len)) != TC_OK ||
            (rc = buf_append(&w->chunk, w->comp.data, w->comp.len)) != TC_OK)
            goto out;
        total_u += (int64_t)(w->hdr.len + usize);
    }
    if (row != nrows) {
        rc = tc_err_set(err, TC_CORRUPT, "column %s: %lld rows buffered, row group has %lld",
                        s->paths[col], (long long)row, (long long)nrows);
        goto out;
    }
    if ((rc = wr(w, w->chunk.data, w->chunk.len, err)) != TC_OK)
        goto out;
    cm->total_compressed = (int64_t)w->chunk.len;
    cm->total_uncompressed = total_u;
    if ((rc = stats_from(&cm->stats, &chunk_mm)) != TC_OK)
        goto out;
    cm->encodings = tc_calloc(3, sizeof(int));
    if (cm->encodings == NULL) {
        rc = TC_NOMEM;
        goto out;
    }
    if (enc == PARQUET_RLE_DICTIONARY) {
        cm->encodings[0] = PARQUET_PLAIN;
        cm->encodings[1] = PARQUET_RLE;
        cm->encodings[2] = PARQUET_RLE_DICTIONARY;
        cm->nencodings = 3;
    } else {
        cm->encodings[0] = PARQUET_RLE;
        cm->encodings[1] = enc;
        cm->nencodings = enc == PARQUET_RLE ? 1 : 2;
    }
    /* column index */
    {
        int asc = 1, desc = 1;
        const struct page_info *prev = NULL;
        thrift_w_init(&tw, colidx);
        thrift_w_struct_begin(&tw);
        thrift_w_field(&tw, THRIFT_LIST, 1);
        thrift_w_list(&tw, THRIFT_FALSE, (uint32_t)npages); /* element type as parquet-go */
        for (int i = 0; i < npages; i++)
            thrift_w_bool_elem(&tw, pages[i].null_page);
        thrift_w_field(&tw, THRIFT_LIST, 2);
        thrift_w_list(&tw, THRIFT_BINARY, (uint32_t)npages);
        for (int i = 0; i < npages; i++) {
            if (pages[i].null_page)
                thrift_w_binary(&tw, "", 0);
            else
                w_bound(&tw, leaf, pages[i].mm.min, pages[i].mm.minl, 0);
        }
        thrift_w_field(&tw, THRIFT_LIST, 3);
        thrift_w_list(&tw, THRIFT_BINARY, (uint32_t)npages);
        for (int i = 0; i < npages; i++) {
            if (pages[i].null_page)
                thrift_w_binary(&tw, "", 0);
            else
                w_bound(&tw, leaf, pages[i].mm.max, pages[i].mm.maxl, 1);
        }
        for (int i = 0; i < npages; i++) {
            if (pages[i].null_page || !pages[i].mm.any)
                continue;
            if (prev) {
                if (parquet_value_cmp(leaf, pages[i].mm.min, pages[i].mm.minl, prev->mm.min,
                                      prev->mm.minl) < 0 ||
                    parquet_value_cmp(leaf, pages[i].mm.max, pages[i].mm.maxl, prev->mm.max,
                                      prev->mm.maxl) < 0)
                    asc = 0;
                if (parquet_value_cmp(leaf, pages[i].mm.min, pages[i].mm.minl, prev->mm.min,
                                      prev->mm.minl) > 0 ||
                    parquet_value_cmp(leaf, pages[i].mm.max, pages[i].mm.maxl, prev->mm.max,
                                      prev->mm.maxl) > 0)
                    desc = 0;
            }
            prev = &pages[i];
        }
        thrift_w_field_i32(&tw, 4, asc ? 1 : desc ? 2 : 0);
        thrift_w_field(&tw, THRIFT_LIST, 5);
        thrift_w_list(&tw, THRIFT_I64, (uint32_t)npages);
        for (int i = 0; i < npages; i++)
            thrift_w_i64(&tw, pages[i].mm.nulls);
        thrift_w_struct_end(&tw);
        if ((rc = tw.rc) != TC_OK)
            goto out;
    }
    /* offset index */
    thrift_w_init(&tw, offidx);
    thrift_w_struct_begin(&tw);
    thrift_w_field(&tw, THRIFT_LIST, 1);
    thrift_w_list(&tw, THRIFT_STRUCT, (uint32_t)npages);
    for (int i = 0; i < npages; i++) {
        thrift_w_struct_begin(&tw);
        thrift_w_field_i64(&tw, 1, pages[i].offset);
        thrift_w_field_i32(&tw, 2, pages[i].size);
        thrift_w_field_i64(&tw, 3, pages[i].first_row);
        thrift_w_struct_end(&tw);
    }
    thrift_w_struct_end(&tw);
    rc = tw.rc;
out:
    if (enc == PARQUET_RLE_DICTIONARY)
        parquet_colbuf_cleanup(&d.vals);
    tc_free(d.slots);
    tc_free(idx);
    tc_free(rank);
    tc_free(pages);
    if (rc != TC_OK && err && err->msg[0] == '\0')
        tc_err_set(err, rc, "%s: column %s: %s", w->path, s->paths[col], tc_strerror(rc));
    return rc;
}

int
parquet_writer_flush(struct parquet_writer *w, struct tc_err *err)
{
    struct parquet_rowgroup_meta *rg;
    int rc;

    if (w->rs.nrows == 0)
        return TC_OK;
    if (w->meta.nrowgroups == w->rg_cap) {
        int ncap = w->rg_cap ? w->rg_cap * 2 : 4;
        struct parquet_rowgroup_meta *n =
            tc_reallocarray(w->meta.rowgroups, (size_t)ncap, sizeof(*n));
        struct buf *ci, *oi;
        if (n == NULL)
            return tc_err_set(err, TC_NOMEM, "%s: out of memory", w->path);
        w->meta.rowgroups = n;
        w->rg_cap = ncap;
        ci =
            tc_reallocarray(w->colidx, (size_t)ncap * (size_t)w->schema->ncolumns + 1, sizeof(*ci));
        if (ci == NULL)
            return tc_err_set(err, TC_NOMEM, "%s: out of memory", w->path);
        w->colidx = ci;
        oi =
            tc_reallocarray(w->offidx, (size_t)ncap * (size_t)w->schema->ncolumns + 1, sizeof(*oi));
        if (oi == NULL)
            return tc_err_set(err, TC_NOMEM, "%s: out of memory", w->path);
        w->offidx = oi;
        {
            uint8_t **lk = tc_reallocarray(w->last_key, (size_t)ncap, sizeof(*lk));
            uint32_t *ll;
            if (lk == NULL)
                return tc_err_set(err, TC_NOMEM, "%s: out of memory", w->path);
            w->last_key = lk;
            ll = tc_reallocarray(w->last_key_len, (size_t)ncap, sizeof(*ll));
            if (ll == NULL)
                return tc_err_set(err, TC_NOMEM, "%s: out of memory", w->path);
            w->last_key_len = ll;
        }
    }
    rg = &w->meta.rowgroups[w->meta.nrowgroups];
    memset(rg, 0, sizeof(*rg));
    rg->cols =
        tc_calloc((size_t)(w->schema->ncolumns ? w->schema->ncolumns : 1), sizeof(*rg->cols));
    if (rg->cols == NULL)
        return tc_err_set(err, TC_NOMEM, "%s: out of memory", w->path);
    w->last_key[w->meta.nrowgroups] = NULL;
    w->last_key_len[w->meta.nrowgroups] = 0;
    w->meta.nrowgroups++;
    rg->num_rows = w->rs.nrows;
    if (w->schema->ncolumns > 0) {
        /* remember the last row's key (Tempo's `index` file wants it) */
        const struct parquet_colbuf *c0 = &w->rs.cols[0];
        size_t last = 0, v = 0, vlast = 0;
        for (size_t i = 0; i < c0->n; i++) {
            if (c0->rep[i] == 0) {
                last = i;
                vlast = v;
            }
            v += c0->def[i] == c0->max_def;
        }
        if (c0->n > 0 && c0->def[last] == c0->max_def) {
            const uint8_t *p;
            uint32_t n;
            value_at(c0, vlast, &p, &n);
            w->last_key[w->meta.nrowgroups - 1] = tc_memdup(p, n ? n : 1);
            if (w->last_key[w->meta.nrowgroups - 1] == NULL)
                return tc_err_set(err, TC_NOMEM, "%s: out of memory", w->path);
            w->last_key_len[w->meta.nrowgroups - 1] = n;
        }
    }
    for (int c = 0; c < w->schema->ncolumns; c++) {
        struct buf *ci = &w->colidx[w->nidx], *oi = &w->offidx[w->nidx];
        buf_init(ci, (size_t)1 << 30);
        buf_init(oi, (size_t)1 << 30);
        w->nidx++;
        rg->ncols = c + 1;
        if ((rc = write_chunk(w, c, w->rs.nrows, &rg->cols[c], ci, oi, err)) != TC_OK)
            return rc;
        rg->total_byte_size += rg->cols[c].total_uncompressed;
    }
    w->meta.num_rows += w->rs.nrows;
    parquet_rowset_reset(&w->rs);
    w->est = 0;
    return TC_OK;
}

int
parquet_writer_close(struct parquet_writer *w, struct parquet_write_info *info, struct tc_err *err)
{
    struct buf footer;
    uint8_t tail[8];
    int rc, k = 0;
    char created[128];

    if (w->closed)
        return tc_err_set(err, TC_INVAL, "%s: closed twice", w->path);
    if ((rc = parquet_writer_flush(w, err)) != TC_OK)
        return rc;
    /* page indexes after the row groups: all column indexes, then all offset indexes */
    for (int g = 0; g < w->meta.nrowgroups; g++)
        for (int c = 0; c < w->schema->ncolumns; c++, k++) {
            struct parquet_chunk_meta *cm = &w->meta.rowgroups[g].cols[c];
            cm->column_index_offset = (int64_t)w->off;
            cm->column_index_length = (int32_t)w->colidx[k].len;
            if ((rc = wr(w, w->colidx[k].data, w->colidx[k].len, err)) != TC_OK)
                return rc;
        }
    k = 0;
    for (int g = 0; g < w->meta.nrowgroups; g++)
        for (int c = 0; c < w->schema->ncolumns; c++, k++) {
            struct parquet_chunk_meta *cm = &w->meta.rowgroups[g].cols[c];
            cm->offset_index_offset = (int64_t)w->off;
            cm->offset_index_length = (int32_t)w->offidx[k].len;
            if ((rc = wr(w, w->offidx[k].data, w->offidx[k].len, err)) != TC_OK)
                return rc;
        }
    snprintf(created, sizeof(created), "tempo-compactor version %s(build %s)", tc_version,
             tc_revision);
    w->meta.created_by = (char *)(w->opts.created_by ? w->opts.created_by : created);
    w->meta.kv = (struct parquet_kv *)w->opts.kv;
    w->meta.nkv = w->opts.nkv;
    buf_init(&footer, (size_t)1 << 30);
    rc = parquet_footer_write(&footer, w->schema, &w->meta);
    w->meta.created_by = NULL;
    w->meta.kv = NULL;
    w->meta.nkv = 0;
    if (rc != TC_OK) {
        buf_cleanup(&footer);
        return tc_err_set(err, rc, "%s: footer: %s", w->path, tc_strerror(rc));
    }
    tail[0] = (uint8_t)footer.len;
    tail[1] = (uint8_t)(footer.len >> 8);
    tail[2] = (uint8_t)(footer.len >> 16);
    tail[3] = (uint8_t)(footer.len >> 24);
    memcpy(tail + 4, "PAR1", 4);
    rc = wr(w, footer.data, footer.len, err);
    if (rc == TC_OK)
        rc = wr(w, tail, 8, err);
    if (info) {
        info->footer_size = (uint32_t)footer.len;
        info->file_size = w->off;
        info->row_groups = w->meta.nrowgroups;
        info->rows = w->meta.num_rows;
    }
    buf_cleanup(&footer);
    if (rc != TC_OK)
        return rc;
    if (fsync(w->fd) != 0)
        return tc_err_set(err, TC_IO, "%s: fsync: %s", w->path, strerror(errno));
    if (close(w->fd) != 0) {
        w->fd = -1;
        return tc_err_set(err, TC_IO, "%s: close: %s", w->path, strerror(errno));
    }
    w->fd = -1;
    w->closed = 1;
    return TC_OK;
}

/* ---- helpers built on reader + writer ---- */

int
parquet_schema_from_file(const struct parquet_reader *r, struct parquet_schema **out,
                         struct tc_err *err)
{
    const struct parquet_filemeta *m = parquet_reader_meta(r);
    struct parquet_schema *s = parquet_schema_dup(parquet_reader_schema(r));

    *out = NULL;
    if (s == NULL)
        return tc_err_set(err, TC_NOMEM, "schema copy: out of memory");
    for (int c = 0; c < s->ncolumns; c++) {
        struct parquet_node *leaf = &s->nodes[s->columns[c]];
        leaf->colenc = PARQUET_COLENC_DEFAULT;
        leaf->codec = PARQUET_UNCOMPRESSED;
        if (m->nrowgroups == 0)
            continue;
        {
            const struct parquet_chunk_meta *cm = &m->rowgroups[0].cols[c];
            for (int e = 0; e < cm->nencodings; e++) {
                switch (cm->encodings[e]) {
                case PARQUET_RLE_DICTIONARY:
                case PARQUET_PLAIN_DICTIONARY:
                    leaf->colenc = PARQUET_COLENC_DICT;
                    break;
                case PARQUET_DELTA_BINARY_PACKED:
                    if (leaf->colenc == PARQUET_COLENC_DEFAULT)
                        leaf->colenc = PARQUET_COLENC_DELTA;
                    break;
                case PARQUET_DELTA_BYTE_ARRAY:
                    if (leaf->colenc == PARQUET_COLENC_DEFAULT)
                        leaf->colenc = PARQUET_COLENC_DBA;
                    break;
                case PARQUET_PLAIN:
                    if (leaf->colenc == PARQUET_COLENC_DEFAULT && leaf->type != PARQUET_BYTE_ARRAY)
                        leaf->colenc = PARQUET_COLENC_PLAIN;
                    break;
                default:
                    break;
                }
            }
            /* codecs we cannot write become zstd */
            leaf->codec = cm->codec == PARQUET_UNCOMPRESSED || cm->codec == PARQUET_SNAPPY ||
                                  cm->codec == PARQUET_GZIP || cm->codec == PARQUET_ZSTD
                              ? cm->codec
                              : PARQUET_ZSTD;
        }
    }
    *out = s;
    return TC_OK;
}

int
parquet_copy_rows(struct parquet_reader *r, const struct parquet_schema *schema,
                  const char *out_path, size_t row_group_bytes, size_t page_bytes,
                  struct parquet_write_info *info, struct tc_err *err)
{
    struct parquet_writer *w = NULL;
    struct parquet_cursor *cur = NULL;
    struct parquet_writer_opts o;
    struct parquet_row row;
    int rc, eof = 0;

    memset(&o, 0, sizeof(o));
    o.row_group_bytes = row_group_bytes;
    o.page_bytes = page_bytes;
    if ((rc = parquet_reader_project(r, schema, err)) != TC_OK)
        return rc;
    if ((rc = parquet_cursor_new(&cur, r, err)) != TC_OK)
        goto out;
    if ((rc = parquet_writer_open(&w, out_path, schema, &o, err)) != TC_OK)
        goto out;
    for (;;) {
        if ((rc = parquet_cursor_next(cur, &row, &eof, err)) != TC_OK)
            goto out;
        if (eof)
            break;
        if ((rc = parquet_writer_write_row(w, &row, err)) != TC_OK)
            goto out;
    }
    rc = parquet_writer_close(w, info, err);
out:
    parquet_writer_free(w);
    parquet_cursor_free(cur);
    parquet_reader_project(r, NULL, NULL);
    return rc;
}
