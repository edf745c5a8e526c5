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
/* A dictionary column falls back to PLAIN pages once its dictionary's values
 * pass this many bytes (parquet-mr's dictionary page limit): the dictionary
 * stays in memory for the whole chunk, so it must be bounded. */
#define PARQUET_WRITER_DICT_MAX ((size_t)1 << 20)

struct dict {
    struct parquet_colbuf vals;
    uint32_t *slots; /* index + 1, 0 = empty */
    size_t nslots;
    uint32_t *seen; /* per value: the page (gen) that last used it */
    size_t seencap;
    uint32_t gen;
};

/* Indices of one source dictionary (a reader's, by dict_key) in the chunk's
 * dictionary, index + 1 (0: not yet): a row copied from that source finds
 * its values without hashing them again. A few sources at a time, as many as
 * a merge has inputs; indices past the cap take the hash. */
#define PARQUET_WRITER_DMAPS 4
#define PARQUET_WRITER_DMAP_MAX ((size_t)1 << 16)

struct dmap {
    uint64_t key;   /* 0: unused */
    uint32_t chunk; /* the wcol chunk whose dictionary it maps into */
    uint32_t *map;
    size_t cap;
};

/* A value owned by the writer (a page or chunk bound). */
struct obound {
    uint8_t *p;
    uint32_t n;
};

/* An encoded page waiting in the spool for its row group. */
struct spage {
    uint64_t spool_off;
    uint32_t size; /* header + body, as in the file */
    int64_t first_row;
    int64_t nulls;
    int null_page;
    struct obound min, max;
};

/* One column of the open row group: the rows not yet in a page, the pages
 * spooled so far, the chunk's dictionary and statistics. */
struct wcol {
    struct parquet_colbuf pend;
    size_t pend_bytes;  /* the page size measure of pend */
    int64_t pend_rows;  /* rows in pend */
    int64_t rows;       /* rows already in pages */
    int64_t num_values; /* level entries already in pages */
    int64_t total_u;    /* uncompressed bytes (headers included) of those pages */
    struct spage *pages;
    int npages, pcap;
    struct dict d;
    int dict_on; /* pages are still dictionary-encoded: pend holds levels,
                  * didx the values' dictionary indices (added as rows come,
                  * while the row's values are still in cache) */
    uint32_t *didx;
    size_t didxcap;
    struct dmap dm[PARQUET_WRITER_DMAPS];
    int dm_next;    /* the slot a new source takes */
    uint32_t chunk; /* counts chunks: a dmap of an older one is stale */
    int used_dict;  /* some page of the chunk is */
    int used_enc;   /* the non-dictionary encoding some page used, or -1 */
    struct obound cmin, cmax;
    int c_any;
    int64_t c_nulls;
};

/*
 * Writing: each column appends a row's levels and values to its pending
 * buffer; once that reaches the page size (at a row boundary, as before) it
 * is encoded and compressed into a page appended to the spool, an unlinked
 * temporary file beside the output. Cutting a row group copies each column's
 * pages out of the spool in column order, so chunks stay contiguous, after
 * the chunk's dictionary page. Memory: a page per column and the
 * dictionaries, whatever the row group's size.
 */
struct parquet_writer {
    int fd;
    char *path;
    const struct parquet_schema *schema;
    struct parquet_writer_opts opts;
    uint64_t off;
    struct wcol *cols;
    int64_t nrows; /* rows of the open row group */
    int spool;     /* fd of the page spool */
    uint64_t spool_off;
    struct buf last; /* column 0's first value of the last row written */
    int last_set;
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
    int closed;
};

static void wcol_cleanup(struct wcol *wc);

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
    w->spool = -1;
    buf_init(&w->last, (size_t)1 << 31);
    w->path = tc_strdup(path);
    w->cols = tc_calloc((size_t)(schema->ncolumns ? schema->ncolumns : 1), sizeof(*w->cols));
    if (w->path == NULL || w->cols == NULL) {
        parquet_writer_free(w);
        return tc_err_set(err, TC_NOMEM, "parquet writer: out of memory");
    }
    for (int c = 0; c < schema->ncolumns; c++) {
        const struct parquet_node *nd = &schema->nodes[schema->columns[c]];
        if (parquet_colbuf_init(&w->cols[c].pend, nd->type, nd->type_length, nd->def_level) !=
                TC_OK ||
            parquet_colbuf_init(&w->cols[c].d.vals, nd->type, nd->type_length, 0) != TC_OK) {
            parquet_writer_free(w);
            return tc_err_set(err, TC_NOMEM, "parquet writer: out of memory");
        }
        w->cols[c].dict_on = nd->colenc == PARQUET_COLENC_DICT;
        w->cols[c].used_enc = -1;
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
    {
        /* the spool is unlinked at once: a crash leaves nothing behind */
        char sp[4200];
        snprintf(sp, sizeof(sp), "%s.pages", path);
        w->spool = open(sp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (w->spool < 0) {
            rc = tc_err_set(err, TC_IO, "%s: page spool: %s", sp, strerror(errno));
            parquet_writer_free(w);
            return rc;
        }
        unlink(sp);
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
    if (w->spool >= 0)
        close(w->spool);
    for (int c = 0; w->cols && c < w->schema->ncolumns; c++)
        wcol_cleanup(&w->cols[c]);
    tc_free(w->cols);
    buf_cleanup(&w->last);
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

/* ---- dictionary ---- */

/* Only the slot depends on the hash (the dictionary keeps insertion order):
 * 8 bytes per multiply, inline, since most values are short. */
static inline uint64_t
hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = (uint64_t)n * 0x9e3779b97f4a7c15ULL, w;

    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
    }
    if (n) {
        w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    }
    h ^= h >> 33; /* the slot takes the low bits: fold the high ones in */
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 29);
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

/* Value i of an INT32/INT64 page as a 64-bit key whose unsigned order is the
 * column's order: signed values get their sign bit flipped, 32-bit ones are
 * widened first. */
static inline uint64_t
mm_int_key(const struct parquet_colbuf *c, size_t i, int uns)
{
    if (c->width == 8) {
        uint64_t x;
        memcpy(&x, c->fixed + i * 8, 8);
        return uns ? x : x ^ ((uint64_t)1 << 63);
    } else {
        uint32_t x;
        memcpy(&x, c->fixed + i * 4, 4);
        return uns ? x : x ^ ((uint32_t)1 << 31);
    }
}

/* The page's bounds: integers (most of vParquet4's fixed-width columns) by a
 * native scan over the page, other types value by value. */
static void
page_minmax(struct minmax *m, const struct parquet_node *leaf, const struct parquet_colbuf *c)
{
    size_t i, lo = 0, hi = 0;

    if (c->nv == 0)
        return;
    if ((leaf->type == PARQUET_INT64 && c->width == 8) ||
        (leaf->type == PARQUET_INT32 && c->width == 4)) {
        int uns = parquet_leaf_unsigned(leaf);
        uint64_t kl, kh, k;
        kl = kh = mm_int_key(c, 0, uns);
        for (i = 1; i < c->nv; i++) {
            k = mm_int_key(c, i, uns);
            if (k < kl) {
                kl = k;
                lo = i;
            }
            if (k > kh) {
                kh = k;
                hi = i;
            }
        }
    } else {
        for (i = 0; i < c->nv; i++) {
            const uint8_t *p;
            uint32_t n;
            value_at(c, i, &p, &n);
            mm_add(m, leaf, p, n);
        }
        return;
    }
    value_at(c, lo, &m->min, &m->minl);
    value_at(c, hi, &m->max, &m->maxl);
    m->any = 1;
}

/* Grows *a (capacity *cap) to hold need entries, doubling; new entries are
 * zero. */
static int
grow_u32(uint32_t **a, size_t *cap, size_t need)
{
    size_t ncap = *cap ? *cap : 1024;
    uint32_t *p;

    if (need <= *cap)
        return TC_OK;
    while (ncap < need)
        ncap *= 2;
    if ((p = tc_reallocarray(*a, ncap, sizeof(uint32_t))) == NULL)
        return TC_NOMEM;
    memset(p + *cap, 0, (ncap - *cap) * sizeof(uint32_t));
    *a = p;
    *cap = ncap;
    return TC_OK;
}

/* The bounds of a dictionary page: each distinct value once, in the order of
 * its first use in the page, so ties resolve as a scan of the page would. */
static int
dict_page_minmax(struct dict *d, struct minmax *m, const struct parquet_node *leaf,
                 const uint32_t *idx, size_t n)
{
    if (grow_u32(&d->seen, &d->seencap, d->vals.nv) != TC_OK)
        return TC_NOMEM;
    if (++d->gen == 0) { /* wrapped: forget every mark */
        memset(d->seen, 0, d->seencap * sizeof(uint32_t));
        d->gen = 1;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p;
        uint32_t len;
        if (d->seen[idx[i]] == d->gen)
            continue;
        d->seen[idx[i]] = d->gen;
        value_at(&d->vals, idx[i], &p, &len);
        mm_add(m, leaf, p, len);
    }
    return TC_OK;
}

/* Column-index bounds of byte arrays are cut to PARQUET_COLIDX_LIMIT bytes; a
 * cut max is rounded up so it stays an upper bound. Pages keep only the cut
 * bound, so a page of big values does not pin them. Sets *len; returns p or
 * tmp (PARQUET_COLIDX_LIMIT bytes). */
static const uint8_t *
cut_bound(const struct parquet_node *leaf, const uint8_t *p, uint32_t n, int is_max, uint8_t *tmp,
          uint32_t *len)
{
    *len = n;
    if ((leaf->type != PARQUET_BYTE_ARRAY && leaf->type != PARQUET_FIXED_LEN_BYTE_ARRAY) ||
        n <= PARQUET_COLIDX_LIMIT)
        return p;
    *len = PARQUET_COLIDX_LIMIT;
    if (!is_max)
        return p;
    memcpy(tmp, p, PARQUET_COLIDX_LIMIT);
    for (int k = PARQUET_COLIDX_LIMIT - 1; k >= 0; k--) {
        if (tmp[k] != 0xff) {
            tmp[k]++;
            *len = (uint32_t)k + 1;
            return tmp;
        }
    }
    *len = n; /* all 0xff: keep the full value */
    return p;
}

/* ---- chunk writing ---- */

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

/* ---- pages into the spool ---- */

static void
obound_free(struct obound *b)
{
    tc_free(b->p);
    b->p = NULL;
    b->n = 0;
}

static int
obound_set(struct obound *b, const uint8_t *p, uint32_t n)
{
    uint8_t *q = tc_malloc(n ? n : 1);

    if (q == NULL)
        return TC_NOMEM;
    if (n)
        memcpy(q, p, n);
    tc_free(b->p);
    b->p = q;
    b->n = n;
    return TC_OK;
}

static void
wcol_pages_reset(struct wcol *wc)
{
    for (int i = 0; i < wc->npages; i++) {
        obound_free(&wc->pages[i].min);
        obound_free(&wc->pages[i].max);
    }
    wc->npages = 0;
}

static void
wcol_cleanup(struct wcol *wc)
{
    wcol_pages_reset(wc);
    tc_free(wc->pages);
    parquet_colbuf_cleanup(&wc->pend);
    tc_free(wc->didx);
    for (int i = 0; i < PARQUET_WRITER_DMAPS; i++)
        tc_free(wc->dm[i].map);
    parquet_colbuf_cleanup(&wc->d.vals);
    tc_free(wc->d.slots);
    tc_free(wc->d.seen);
    obound_free(&wc->cmin);
    obound_free(&wc->cmax);
}

static int
spool_write(struct parquet_writer *w, const void *p, size_t n, struct tc_err *err)
{
    const char *c = p;

    while (n > 0) {
        ssize_t k = write(w->spool, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return tc_err_set(err, TC_IO, "%s: page spool write: %s", w->path,
                              k < 0 ? strerror(errno) : "short write");
        c += k;
        n -= (size_t)k;
        w->spool_off += (uint64_t)k;
    }
    return TC_OK;
}

/* Copies spool bytes [off, off + n) to the end of the output. */
static int
spool_copy(struct parquet_writer *w, uint64_t off, size_t n, struct tc_err *err)
{
    while (n > 0) {
        loff_t in = (loff_t)off;
        ssize_t k = copy_file_range(w->spool, &in, w->fd, NULL, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* not supported here, or odd: copy through memory */
        off += (uint64_t)k;
        n -= (size_t)k;
        w->off += (uint64_t)k;
    }
    while (n > 0) {
        size_t m = n < ((size_t)1 << 20) ? n : ((size_t)1 << 20);
        ssize_t k;
        int rc;
        buf_reset(&w->chunk);
        if ((rc = buf_reserve(&w->chunk, m)) != TC_OK)
            return tc_err_set(err, rc, "%s: out of memory", w->path);
        k = pread(w->spool, w->chunk.data, m, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return tc_err_set(err, TC_IO, "%s: page spool read: %s", w->path,
                              k < 0 ? strerror(errno) : "short read");
        if ((rc = wr(w, w->chunk.data, (size_t)k, err)) != TC_OK)
            return rc;
        off += (uint64_t)k;
        n -= (size_t)k;
    }
    return TC_OK;
}

/* Folds a page's bounds into the chunk's (owned copies). */
static int
chunk_bounds(struct wcol *wc, const struct parquet_node *leaf, const struct minmax *mm)
{
    int rc;

    if (!mm->any)
        return TC_OK;
    if (!wc->c_any || parquet_value_cmp(leaf, mm->min, mm->minl, wc->cmin.p, wc->cmin.n) < 0)
        if ((rc = obound_set(&wc->cmin, mm->min, mm->minl)) != TC_OK)
            return rc;
    if (!wc->c_any || parquet_value_cmp(leaf, mm->max, mm->maxl, wc->cmax.p, wc->cmax.n) > 0)
        if ((rc = obound_set(&wc->cmax, mm->max, mm->maxl)) != TC_OK)
            return rc;
    wc->c_any = 1;
    return TC_OK;
}

/* Encodes the pending rows of column col as one data page into the spool. */
static int
page_flush(struct parquet_writer *w, int col, struct tc_err *err)
{
    const struct parquet_schema *s = w->schema;
    const struct parquet_node *leaf = &s->nodes[s->columns[col]];
    struct wcol *wc = &w->cols[col];
    struct parquet_colbuf *c = &wc->pend;
    int codec = leaf->codec, max_def = leaf->def_level, max_rep = leaf->rep_level;
    int enc = wc->dict_on ? PARQUET_RLE_DICTIONARY : column_encoding(leaf);
    size_t rep_len = 0, def_len = 0, lv_len, usize;
    struct minmax mm;
    struct spage *pg;
    int is_comp, rc;

    if (c->n == 0)
        return TC_OK;
    if (enc == PARQUET_RLE_DICTIONARY && !wc->dict_on)
        enc = PARQUET_PLAIN; /* the fallback of a full dictionary */
    memset(&mm, 0, sizeof(mm));
    if (enc != PARQUET_RLE_DICTIONARY)
        page_minmax(&mm, leaf, c);
    mm.nulls = (int64_t)(c->n - c->nv);
    buf_reset(&w->page);
    if (max_rep > 0) {
        if ((rc = parquet_rle_encode_u8(&w->page, parquet_bit_width((uint64_t)max_rep), c->rep,
                                        c->n)) != TC_OK)
            goto nomem;
        rep_len = w->page.len;
    }
    if (max_def > 0) {
        if ((rc = parquet_rle_encode_u8(&w->page, parquet_bit_width((uint64_t)max_def), c->def,
                                        c->n)) != TC_OK)
            goto nomem;
        def_len = w->page.len - rep_len;
    }
    lv_len = w->page.len;
    if (enc == PARQUET_RLE_DICTIONARY) {
        uint8_t bw;
        if ((rc = dict_page_minmax(&wc->d, &mm, leaf, wc->didx, c->nv)) != TC_OK)
            goto nomem;
        bw = (uint8_t)parquet_bit_width(wc->d.vals.nv ? wc->d.vals.nv - 1 : 0);
        if ((rc = buf_append(&w->page, &bw, 1)) != TC_OK ||
            (rc = parquet_rle_encode(&w->page, bw, wc->didx, c->nv)) != TC_OK)
            goto nomem;
        is_comp = 0; /* as parquet-go: dictionary indices are not compressed */
        wc->used_dict = 1;
        if (wc->d.vals.dlen + wc->d.vals.nv * (size_t)wc->d.vals.width > PARQUET_WRITER_DICT_MAX)
            wc->dict_on = 0; /* later pages of this chunk are PLAIN */
    } else {
        if ((rc = encode_values(w, enc, &w->page, c, 0, c->nv)) != TC_OK)
            goto nomem;
        is_comp = codec != PARQUET_UNCOMPRESSED;
        wc->used_enc = enc;
    }
    usize = w->page.len;
    if (usize > INT32_MAX / 2 || c->n > INT32_MAX)
        return tc_err_set(err, TC_TOOBIG, "%s: column %s: page of %zu bytes is too large", w->path,
                          s->paths[col], usize);
    if (is_comp) {
        if ((rc = parquet_compress(codec, (uint8_t *)(w->page.data ? w->page.data + lv_len : ""),
                                   usize - lv_len, &w->comp, err)) != TC_OK)
            return rc;
    } else {
        buf_reset(&w->comp);
        if (usize > lv_len && (rc = buf_append(&w->comp, w->page.data + lv_len, usize - lv_len)))
            goto nomem;
    }
    if ((rc = write_page_header(w, PARQUET_DATA_PAGE_V2, usize, lv_len + w->comp.len, (int)c->n,
                                (int)(c->n - c->nv), (int)wc->pend_rows, enc, def_len, rep_len,
                                is_comp)) != TC_OK)
        goto nomem;
    if (wc->npages == wc->pcap) {
        int ncap = wc->pcap ? wc->pcap * 2 : 8;
        struct spage *np = tc_reallocarray(wc->pages, (size_t)ncap, sizeof(*np));
        if (np == NULL)
            goto nomem;
        wc->pages = np;
        wc->pcap = ncap;
    }
    pg = &wc->pages[wc->npages++];
    memset(pg, 0, sizeof(*pg));
    pg->spool_off = w->spool_off;
    pg->size = (uint32_t)(w->hdr.len + lv_len + w->comp.len);
    pg->first_row = wc->rows;
    pg->nulls = mm.nulls;
    pg->null_page = c->nv == 0;
    if (mm.any) {
        uint8_t t1[PARQUET_COLIDX_LIMIT], t2[PARQUET_COLIDX_LIMIT];
        uint32_t n1, n2;
        const uint8_t *b1 = cut_bound(leaf, mm.min, mm.minl, 0, t1, &n1);
        const uint8_t *b2 = cut_bound(leaf, mm.max, mm.maxl, 1, t2, &n2);
        if ((rc = obound_set(&pg->min, b1, n1)) != TC_OK ||
            (rc = obound_set(&pg->max, b2, n2)) != TC_OK ||
            (rc = chunk_bounds(wc, leaf, &mm)) != TC_OK)
            goto nomem;
    }
    wc->c_nulls += mm.nulls;
    if ((rc = spool_write(w, w->hdr.data, w->hdr.len, err)) != TC_OK ||
        (rc = spool_write(w, w->page.data, lv_len, err)) != TC_OK ||
        (rc = spool_write(w, w->comp.data, w->comp.len, err)) != TC_OK)
        return rc;
    wc->total_u += (int64_t)(w->hdr.len + usize);
    wc->num_values += (int64_t)c->n;
    wc->rows += wc->pend_rows;
    wc->pend_rows = 0;
    wc->pend_bytes = 0;
    parquet_colbuf_reset(c);
    return TC_OK;
nomem:
    return tc_err_set(err, rc, "%s: column %s: %s", w->path, s->paths[col], tc_strerror(rc));
}

/* The map of source dictionary key into this chunk's dictionary. */
static struct dmap *
dmap_for(struct wcol *wc, uint64_t key)
{
    struct dmap *m = NULL;

    for (int i = 0; i < PARQUET_WRITER_DMAPS && m == NULL; i++)
        if (wc->dm[i].key == key)
            m = &wc->dm[i];
    if (m == NULL) {
        m = &wc->dm[wc->dm_next];
        wc->dm_next = (wc->dm_next + 1) % PARQUET_WRITER_DMAPS;
        m->key = key;
        m->chunk = wc->chunk - 1; /* cleared below */
    }
    if (m->chunk != wc->chunk) {
        if (m->cap)
            memset(m->map, 0, m->cap * sizeof(uint32_t));
        m->chunk = wc->chunk;
    }
    return m;
}

/* Adds values v0..v0+nv of sc to the column's dictionary; their indices
 * go after the pending ones. */
static int
dict_append(struct wcol *wc, const struct parquet_colbuf *sc, size_t v0, size_t nv)
{
    struct dmap *m = sc->dix && sc->dict_key ? dmap_for(wc, sc->dict_key) : NULL;
    size_t at = wc->pend.nv;
    int rc;

    if (grow_u32(&wc->didx, &wc->didxcap, at + nv) != TC_OK)
        return TC_NOMEM;
    for (size_t k = 0; k < nv; k++) {
        uint32_t s = m ? sc->dix[v0 + k] : PARQUET_NO_DIX, n;
        const uint8_t *p;
        if (m && s < m->cap && m->map[s]) {
            wc->didx[at + k] = m->map[s] - 1;
            continue;
        }
        value_at(sc, v0 + k, &p, &n);
        if ((rc = dict_add(&wc->d, p, n, &wc->didx[at + k])) != TC_OK)
            return rc;
        if (m && s < PARQUET_WRITER_DMAP_MAX) {
            if (grow_u32(&m->map, &m->cap, (size_t)s + 1) != TC_OK) /* zero-filled */
                return TC_NOMEM;
            m->map[s] = wc->didx[at + k] + 1;
        }
    }
    return TC_OK;
}

int
parquet_writer_write_row(struct parquet_writer *w, const struct parquet_row *row,
                         struct tc_err *err)
{
    size_t est = parquet_row_estimate_size(row);
    int rc;

    if (w->closed)
        return tc_err_set(err, TC_INVAL, "%s: write after close", w->path);
    if (row->ncols != w->schema->ncolumns)
        return tc_err_set(err, TC_INVAL,
                          "%s: row does not match the schema (%d columns, schema has %d)", w->path,
                          row->ncols, w->schema->ncolumns);
    if (w->nrows > 0 && w->est + est > w->opts.row_group_bytes)
        if ((rc = parquet_writer_flush(w, err)) != TC_OK)
            return rc;
    for (int i = 0; i < row->ncols; i++) {
        struct wcol *wc = &w->cols[i];
        struct parquet_colbuf *d = &wc->pend;
        const struct parquet_colbuf *sc = &row->cols[i];
        size_t l0 = row->l0[i], nl = row->l1[i] - l0, v0 = row->v0[i], nv = row->v1[i] - v0;
        size_t nb = 0;
        if (sc->type != d->type || sc->width != d->width || sc->max_def != d->max_def)
            return tc_err_set(err, TC_INVAL, "%s: row does not match the schema at column %s",
                              w->path, w->schema->paths[i]);
        if (nl == 0 || sc->rep[l0] != 0)
            return tc_err_set(err, TC_INVAL, "%s: column %s: a row must start a record", w->path,
                              w->schema->paths[i]);
        if (sc->type == PARQUET_BYTE_ARRAY)
            nb = sc->offs[v0 + nv] - sc->offs[v0];
        rc = wc->dict_on ? parquet_colbuf_reserve(d, nl, 0, 0)
                         : parquet_colbuf_reserve(d, nl, nv, nb);
        if (rc != TC_OK)
            return tc_err_set(err, rc, "%s: column %s: %s", w->path, w->schema->paths[i],
                              tc_strerror(rc));
        memcpy(d->def + d->n, sc->def + l0, nl);
        memcpy(d->rep + d->n, sc->rep + l0, nl);
        d->n += nl;
        if (wc->dict_on) {
            if ((rc = dict_append(wc, sc, v0, nv)) != TC_OK)
                return tc_err_set(err, rc, "%s: column %s: %s", w->path, w->schema->paths[i],
                                  tc_strerror(rc));
        } else if (sc->type == PARQUET_BYTE_ARRAY) {
            uint32_t base = sc->offs[v0], dbase = (uint32_t)d->dlen;
            if (nb)
                memcpy(d->data + d->dlen, sc->data + base, nb);
            for (size_t k = 1; k <= nv; k++)
                d->offs[d->nv + k] = dbase + (sc->offs[v0 + k] - base);
            d->dlen += nb;
        } else if (nv) {
            memcpy(d->fixed + d->nv * (size_t)d->width, sc->fixed + v0 * (size_t)sc->width,
                   nv * (size_t)sc->width);
        }
        /* the page measure, whether values or their dictionary indices are
         * kept: a byte per level, 4 + length per byte array, else the width */
        wc->pend_bytes +=
            nl +
            (sc->type == PARQUET_BYTE_ARRAY ? 4 * nv + nb : nv * (size_t)(d->width ? d->width : 1));
        d->nv += nv;
        wc->pend_rows++;
        if (i == 0) {
            /* Tempo's `index` wants each row group's last TraceID */
            w->last_set = 0;
            if (sc->def[l0] == sc->max_def) {
                const uint8_t *p;
                uint32_t kl;
                value_at(sc, v0, &p, &kl);
                buf_reset(&w->last);
                if (buf_append(&w->last, p, kl) != TC_OK)
                    return tc_err_set(err, TC_NOMEM, "%s: out of memory", w->path);
                w->last_set = 1;
            }
        }
        if (wc->pend_bytes >= w->opts.page_bytes && (rc = page_flush(w, i, err)) != TC_OK)
            return rc;
    }
    w->nrows++;
    w->est += est;
    if (w->est > w->opts.row_group_bytes)
        return parquet_writer_flush(w, err);
    return TC_OK;
}

/* ---- chunks out of the spool ---- */

static int
chunk_write(struct parquet_writer *w, int col, struct parquet_chunk_meta *cm, struct buf *colidx,
            struct buf *offidx, struct tc_err *err)
{
    const struct parquet_schema *s = w->schema;
    const struct parquet_node *leaf = &s->nodes[s->columns[col]];
    struct wcol *wc = &w->cols[col];
    int codec = leaf->codec, rc, npages;
    int64_t start_off, total_u;
    struct thrift_w tw;
    struct spage *pages;

    if ((rc = page_flush(w, col, err)) != TC_OK)
        return rc;
    memset(cm, 0, sizeof(*cm));
    cm->type = leaf->type;
    cm->codec = codec;
    cm->dictionary_page_offset = -1;
    cm->column_index_offset = cm->offset_index_offset = -1;
    cm->num_values = wc->num_values;
    start_off = (int64_t)w->off;
    total_u = wc->total_u;
    if (wc->used_dict || leaf->colenc == PARQUET_COLENC_DICT) {
        /* dictionary page: PLAIN values, compressed with the column codec */
        buf_reset(&w->page);
        if ((rc = encode_plain(&w->page, &wc->d.vals, 0, wc->d.vals.nv)) != TC_OK ||
            (rc = parquet_compress(codec, (uint8_t *)w->page.data, w->page.len, &w->comp, err)) !=
                TC_OK ||
            (rc = write_page_header(w, PARQUET_DICTIONARY_PAGE, w->page.len, w->comp.len,
                                    (int)wc->d.vals.nv, 0, 0, PARQUET_PLAIN, 0, 0, 0)) != TC_OK)
            goto out;
        cm->dictionary_page_offset = start_off;
        if ((rc = wr(w, w->hdr.data, w->hdr.len, err)) != TC_OK ||
            (rc = wr(w, w->comp.data, w->comp.len, err)) != TC_OK)
            goto out;
        total_u += (int64_t)(w->hdr.len + w->page.len);
        wc->used_dict = 1;
    }
    cm->data_page_offset = (int64_t)w->off;
    pages = wc->pages;
    npages = wc->npages;
    /* offsets in the file replace offsets in the spool */
    for (int i = 0; i < npages; i++) {
        uint64_t at = w->off;
        if ((rc = spool_copy(w, pages[i].spool_off, pages[i].size, err)) != TC_OK)
            goto out;
        pages[i].spool_off = at;
    }
    cm->total_compressed = (int64_t)w->off - start_off;
    cm->total_uncompressed = total_u;
    memset(&cm->stats, 0, sizeof(cm->stats));
    cm->stats.null_count = wc->c_nulls;
    if (wc->c_any) {
        cm->stats.min = tc_memdup(wc->cmin.p, wc->cmin.n ? wc->cmin.n : 1);
        cm->stats.max = tc_memdup(wc->cmax.p, wc->cmax.n ? wc->cmax.n : 1);
        if (!cm->stats.min || !cm->stats.max) {
            rc = TC_NOMEM;
            goto out;
        }
        cm->stats.min_len = wc->cmin.n;
        cm->stats.max_len = wc->cmax.n;
        cm->stats.has_min = cm->stats.has_max = 1;
    }
    cm->encodings = tc_calloc(4, sizeof(int));
    if (cm->encodings == NULL) {
        rc = TC_NOMEM;
        goto out;
    }
    if (wc->used_dict) {
        cm->encodings[0] = PARQUET_PLAIN;
        cm->encodings[1] = PARQUET_RLE;
        cm->encodings[2] = PARQUET_RLE_DICTIONARY;
        cm->nencodings = 3;
        if (wc->used_enc >= 0 && wc->used_enc != PARQUET_PLAIN)
            cm->encodings[cm->nencodings++] = wc->used_enc;
    } else {
        int enc = wc->used_enc >= 0 ? wc->used_enc : column_encoding(leaf);
        cm->encodings[0] = PARQUET_RLE;
        cm->encodings[1] = enc;
        cm->nencodings = enc == PARQUET_RLE ? 1 : 2;
    }
    /* column index */
    {
        int asc = 1, desc = 1;
        const struct spage *prev = NULL;
        thrift_w_init(&tw, colidx);
        thrift_w_struct_begin(&tw);
        thrift_w_field(&tw, THRIFT_LIST, 1);
        thrift_w_list(&tw, THRIFT_FALSE, (uint32_t)npages); /* element type as parquet-go */
        for (int i = 0; i < npages; i++)
            thrift_w_bool_elem(&tw, pages[i].null_page);
        thrift_w_field(&tw, THRIFT_LIST, 2);
        thrift_w_list(&tw, THRIFT_BINARY, (uint32_t)npages);
        for (int i = 0; i < npages; i++) {
            if (pages[i].null_page || !pages[i].min.p)
                thrift_w_binary(&tw, "", 0);
            else
                thrift_w_binary(&tw, pages[i].min.p, pages[i].min.n);
        }
        thrift_w_field(&tw, THRIFT_LIST, 3);
        thrift_w_list(&tw, THRIFT_BINARY, (uint32_t)npages);
        for (int i = 0; i < npages; i++) {
            if (pages[i].null_page || !pages[i].max.p)
                thrift_w_binary(&tw, "", 0);
            else
                thrift_w_binary(&tw, pages[i].max.p, pages[i].max.n);
        }
        for (int i = 0; i < npages; i++) {
            if (pages[i].null_page || !pages[i].min.p)
                continue;
            if (prev) {
                int cmin = parquet_value_cmp(leaf, pages[i].min.p, pages[i].min.n, prev->min.p,
                                             prev->min.n);
                int cmax = parquet_value_cmp(leaf, pages[i].max.p, pages[i].max.n, prev->max.p,
                                             prev->max.n);
                if (cmin < 0 || cmax < 0)
                    asc = 0;
                if (cmin > 0 || cmax > 0)
                    desc = 0;
            }
            prev = &pages[i];
        }
        thrift_w_field_i32(&tw, 4, asc ? 1 : desc ? 2 : 0);
        thrift_w_field(&tw, THRIFT_LIST, 5);
        thrift_w_list(&tw, THRIFT_I64, (uint32_t)npages);
        for (int i = 0; i < npages; i++)
            thrift_w_i64(&tw, pages[i].nulls);
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
        thrift_w_field_i64(&tw, 1, (int64_t)pages[i].spool_off);
        thrift_w_field_i32(&tw, 2, (int32_t)pages[i].size);
        thrift_w_field_i64(&tw, 3, pages[i].first_row);
        thrift_w_struct_end(&tw);
    }
    thrift_w_struct_end(&tw);
    rc = tw.rc;
out:
    if (rc != TC_OK && err && err->msg[0] == '\0')
        tc_err_set(err, rc, "%s: column %s: %s", w->path, s->paths[col], tc_strerror(rc));
    return rc;
}

/* Clears a column for the next row group. */
static void
wcol_next_chunk(struct wcol *wc, const struct parquet_node *leaf)
{
    wcol_pages_reset(wc);
    wc->chunk++;
    parquet_colbuf_reset(&wc->d.vals);
    if (wc->d.slots)
        memset(wc->d.slots, 0, wc->d.nslots * sizeof(uint32_t));
    wc->dict_on = leaf->colenc == PARQUET_COLENC_DICT;
    wc->used_dict = 0;
    wc->used_enc = -1;
    wc->rows = wc->num_values = wc->total_u = 0;
    obound_free(&wc->cmin);
    obound_free(&wc->cmax);
    wc->c_any = 0;
    wc->c_nulls = 0;
}

int
parquet_writer_flush(struct parquet_writer *w, struct tc_err *err)
{
    struct parquet_rowgroup_meta *rg;
    int rc;

    if (w->nrows == 0)
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
    rg->num_rows = w->nrows;
    if (w->last_set) {
        w->last_key[w->meta.nrowgroups - 1] =
            tc_memdup(w->last.data, w->last.len ? w->last.len : 1);
        if (w->last_key[w->meta.nrowgroups - 1] == NULL)
            return tc_err_set(err, TC_NOMEM, "%s: out of memory", w->path);
        w->last_key_len[w->meta.nrowgroups - 1] = (uint32_t)w->last.len;
    }
    for (int c = 0; c < w->schema->ncolumns; c++) {
        struct buf *ci = &w->colidx[w->nidx], *oi = &w->offidx[w->nidx];
        buf_init(ci, (size_t)1 << 30);
        buf_init(oi, (size_t)1 << 30);
        w->nidx++;
        rg->ncols = c + 1;
        if ((rc = chunk_write(w, c, &rg->cols[c], ci, oi, err)) != TC_OK)
            return rc;
        if (w->cols[c].rows != w->nrows)
            return tc_err_set(err, TC_CORRUPT, "%s: column %s: %lld rows, row group has %lld",
                              w->path, w->schema->paths[c], (long long)w->cols[c].rows,
                              (long long)w->nrows);
        rg->total_byte_size += rg->cols[c].total_uncompressed;
        wcol_next_chunk(&w->cols[c], &w->schema->nodes[w->schema->columns[c]]);
    }
    w->meta.num_rows += w->nrows;
    w->nrows = 0;
    w->est = 0;
    w->last_set = 0;
    /* the spool starts over for the next row group */
    if (ftruncate(w->spool, 0) != 0 || lseek(w->spool, 0, SEEK_SET) != 0)
        return tc_err_set(err, TC_IO, "%s: page spool: %s", w->path, strerror(errno));
    w->spool_off = 0;
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
