/* parquet_read.c - footer loading, page decoding, projection and cursors. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"
#include "parquet/parquet_int.h"

/* Limits that keep a hostile file from making us allocate without bound. */
#define PARQUET_MAX_FOOTER ((uint32_t)256 << 20)
#define PARQUET_MAX_PAGE ((int64_t)256 << 20)
#define PARQUET_MAX_CHUNK ((int64_t)2 << 30)
#define PARQUET_MAX_PAGE_VALUES ((int64_t)1 << 24)
#define PARQUET_MAX_CHUNK_VALUES ((int64_t)1 << 28)
/* A cursor keeps each chunk's dictionary decoded while it streams the chunk's
 * pages: this caps what one column can pin. */
#define PARQUET_MAX_DICT ((int64_t)64 << 20)

/* How a target column is produced from the file. */
struct parquet_colmap {
    int file_col; /* >= 0: decode this file column */
    /* synthesized: levels derived from ref (a file column) */
    int ref_file_col;
    int ref_target_col; /* target column holding ref, or -1 (decode to scratch) */
    int anc_def, anc_rep;
    int leaf_required_below; /* 1 if every node from the ancestor to the leaf is required */
};

struct parquet_reader {
    int fd;
    const uint8_t *mem;
    struct parquet_source src; /* read_at != NULL: a caller's source */
    /* remote sources: the current row group's bytes, fetched in one read */
    struct buf rgbuf;
    uint64_t rgbuf_off;
    int rgbuf_valid;
    uint64_t size;
    uint64_t data_end; /* start of the footer */
    struct parquet_filemeta *meta;
    struct parquet_schema *schema;
    const struct parquet_schema *target; /* borrowed; NULL = file schema */
    struct parquet_colmap *map;
    char *name;
    struct buf chunk; /* scratch for one column chunk */
    struct buf page;  /* scratch for one decompressed page */
};

static int
read_at(struct parquet_reader *r, uint64_t off, size_t len, void *dst, struct tc_err *err)
{
    if (off > r->size || len > r->size - off)
        return tc_err_set(err, TC_CORRUPT, "%s: read of %zu bytes at %llu past end (%llu)", r->name,
                          len, (unsigned long long)off, (unsigned long long)r->size);
    if (r->mem) {
        memcpy(dst, r->mem + off, len);
        return TC_OK;
    }
    if (r->rgbuf_valid && off >= r->rgbuf_off && off - r->rgbuf_off <= r->rgbuf.len &&
        len <= r->rgbuf.len - (off - r->rgbuf_off)) {
        memcpy(dst, r->rgbuf.data + (off - r->rgbuf_off), len);
        return TC_OK;
    }
    if (r->src.read_at) {
        int rc = r->src.read_at(r->src.ctx, off, dst, len, err);
        if (rc != TC_OK)
            return tc_err_prefix(err, "%s: read of %zu bytes at %llu", r->name, len,
                                 (unsigned long long)off);
        return TC_OK;
    }
    while (len > 0) {
        ssize_t n = pread(r->fd, dst, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return tc_err_set(err, TC_IO, "%s: pread at %llu: %s", r->name, (unsigned long long)off,
                              n < 0 ? strerror(errno) : "short read");
        dst = (char *)dst + n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return TC_OK;
}

static int
validate_meta(struct parquet_reader *r, struct tc_err *err)
{
    int64_t rows = 0;

    for (int g = 0; g < r->meta->nrowgroups; g++) {
        struct parquet_rowgroup_meta *rg = &r->meta->rowgroups[g];
        rows += rg->num_rows;
        for (int c = 0; c < rg->ncols; c++) {
            struct parquet_chunk_meta *cm = &rg->cols[c];
            int64_t start = cm->data_page_offset;
            if (cm->dictionary_page_offset > 0 && cm->dictionary_page_offset < start)
                start = cm->dictionary_page_offset;
            if (strcmp(cm->path ? cm->path : "", r->schema->paths[c]) != 0)
                return tc_err_set(err, TC_CORRUPT,
                                  "%s: row group %d column %d: path %s, schema says %s", r->name, g,
                                  c, cm->path ? cm->path : "(none)", r->schema->paths[c]);
            if (cm->num_values == 0 && cm->total_compressed == 0 && rg->num_rows == 0)
                continue; /* an empty row group's empty chunk */
            if (start < 4 || cm->total_compressed <= 0 ||
                cm->total_compressed > PARQUET_MAX_CHUNK ||
                (uint64_t)start + (uint64_t)cm->total_compressed > r->data_end)
                return tc_err_set(err, TC_CORRUPT,
                                  "%s: row group %d column %s: chunk [%lld,+%lld) outside data "
                                  "area (%llu)",
                                  r->name, g, r->schema->paths[c], (long long)start,
                                  (long long)cm->total_compressed, (unsigned long long)r->data_end);
            if (cm->num_values < 0 || cm->num_values > PARQUET_MAX_CHUNK_VALUES)
                return tc_err_set(err, TC_CORRUPT, "%s: row group %d column %s: num_values %lld",
                                  r->name, g, r->schema->paths[c], (long long)cm->num_values);
        }
    }
    if (rows != r->meta->num_rows)
        return tc_err_set(err, TC_CORRUPT, "%s: row groups hold %lld rows, footer says %lld",
                          r->name, (long long)rows, (long long)r->meta->num_rows);
    return TC_OK;
}

static int
reader_init(struct parquet_reader *r, struct tc_err *err)
{
    uint8_t tail[8], head[4];
    uint32_t flen;
    uint8_t *footer;
    int rc;

    buf_init(&r->chunk, (size_t)PARQUET_MAX_CHUNK + 1);
    buf_init(&r->rgbuf, (size_t)PARQUET_MAX_CHUNK + 1);
    buf_init(&r->page, (size_t)PARQUET_MAX_PAGE + 1);
    if (r->size < 12)
        return tc_err_set(err, TC_CORRUPT, "%s: %llu bytes is too small for parquet", r->name,
                          (unsigned long long)r->size);
    if ((rc = read_at(r, 0, 4, head, err)) != TC_OK ||
        (rc = read_at(r, r->size - 8, 8, tail, err)) != TC_OK)
        return rc;
    if (memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0)
        return tc_err_set(err, TC_CORRUPT, "%s: missing PAR1 magic", r->name);
    flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
           (uint32_t)tail[3] << 24;
    if (flen == 0 || flen > r->size - 12 || flen > PARQUET_MAX_FOOTER)
        return tc_err_set(err, TC_CORRUPT, "%s: footer length %u invalid for file size %llu",
                          r->name, flen, (unsigned long long)r->size);
    r->data_end = r->size - 8 - flen;
    footer = tc_malloc(flen);
    if (footer == NULL)
        return tc_err_set(err, TC_NOMEM, "%s: footer of %u bytes", r->name, flen);
    rc = read_at(r, r->data_end, flen, footer, err);
    if (rc == TC_OK)
        rc = parquet_footer_parse(footer, flen, &r->meta, &r->schema, err);
    tc_free(footer);
    if (rc != TC_OK)
        return tc_err_prefix(err, "%s", r->name);
    r->meta->footer_len = flen;
    return validate_meta(r, err);
}

int
parquet_reader_open(struct parquet_reader **out, const char *path, struct tc_err *err)
{
    struct parquet_reader *r;
    struct stat st;
    int rc;

    *out = NULL;
    r = tc_calloc(1, sizeof(*r));
    if (r == NULL)
        return tc_err_set(err, TC_NOMEM, "parquet reader: out of memory");
    r->name = tc_strdup(path);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc =
            tc_err_set(err, errno == ENOENT ? TC_NOTFOUND : TC_IO, "%s: %s", path, strerror(errno));
        parquet_reader_free(r);
        return rc;
    }
    if (fstat(r->fd, &st) != 0) {
        rc = tc_err_set(err, TC_IO, "%s: fstat: %s", path, strerror(errno));
        parquet_reader_free(r);
        return rc;
    }
    r->size = (uint64_t)st.st_size;
    rc = reader_init(r, err);
    if (rc != TC_OK) {
        parquet_reader_free(r);
        return rc;
    }
    *out = r;
    return TC_OK;
}

int
parquet_reader_open_mem(struct parquet_reader **out, const void *data, size_t len,
                        struct tc_err *err)
{
    struct parquet_reader *r;
    int rc;

    *out = NULL;
    r = tc_calloc(1, sizeof(*r));
    if (r == NULL)
        return tc_err_set(err, TC_NOMEM, "parquet reader: out of memory");
    r->fd = -1;
    r->mem = data;
    r->size = len;
    r->name = tc_strdup("(memory)");
    rc = reader_init(r, err);
    if (rc != TC_OK) {
        parquet_reader_free(r);
        return rc;
    }
    *out = r;
    return TC_OK;
}

int
parquet_reader_open_source(struct parquet_reader **out, const struct parquet_source *src,
                           const char *name, struct tc_err *err)
{
    struct parquet_reader *r;
    int rc;

    *out = NULL;
    if (src == NULL || src->read_at == NULL)
        return tc_err_set(err, TC_INVAL, "parquet reader: source without read_at");
    r = tc_calloc(1, sizeof(*r));
    if (r == NULL)
        return tc_err_set(err, TC_NOMEM, "parquet reader: out of memory");
    r->fd = -1;
    r->src = *src;
    r->size = src->size;
    r->name = tc_strdup(name ? name : "(source)");
    rc = reader_init(r, err);
    if (rc != TC_OK) {
        parquet_reader_free(r);
        return rc;
    }
    *out = r;
    return TC_OK;
}

void
parquet_reader_free(struct parquet_reader *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    parquet_filemeta_free(r->meta);
    parquet_schema_free(r->schema);
    tc_free(r->map);
    tc_free(r->name);
    buf_cleanup(&r->chunk);
    buf_cleanup(&r->page);
    buf_cleanup(&r->rgbuf);
    tc_free(r);
}

const struct parquet_schema *
parquet_reader_schema(const struct parquet_reader *r)
{
    return r->schema;
}

const struct parquet_filemeta *
parquet_reader_meta(const struct parquet_reader *r)
{
    return r->meta;
}

uint64_t
parquet_reader_file_size(const struct parquet_reader *r)
{
    return r->size;
}

const struct parquet_schema *
parquet_reader_row_schema(const struct parquet_reader *r)
{
    return r->target ? r->target : r->schema;
}

/* ---- projection ---- */

/* Number of leading path components two dotted paths share. */
static int
common_components(const char *a, const char *b)
{
    int n = 0;

    for (;;) {
        const char *da = strchr(a, '.'), *db = strchr(b, '.');
        size_t la = da ? (size_t)(da - a) : strlen(a), lb = db ? (size_t)(db - b) : strlen(b);
        if (la != lb || memcmp(a, b, la) != 0)
            return n;
        n++;
        if (!da || !db)
            return n;
        a = da + 1;
        b = db + 1;
    }
}

int
parquet_reader_project(struct parquet_reader *r, const struct parquet_schema *t, struct tc_err *err)
{
    struct parquet_colmap *map;

    tc_free(r->map);
    r->map = NULL;
    r->target = NULL;
    if (t == NULL)
        return TC_OK;
    if (r->schema->ncolumns == 0)
        return tc_err_set(err, TC_INVAL, "%s: file has no columns to project from", r->name);
    map = tc_calloc((size_t)(t->ncolumns ? t->ncolumns : 1), sizeof(*map));
    if (map == NULL)
        return tc_err_set(err, TC_NOMEM, "parquet project: out of memory");
    for (int c = 0; c < t->ncolumns; c++) {
        int fc = parquet_schema_find(r->schema, t->paths[c]);
        const struct parquet_node *tl = &t->nodes[t->columns[c]];
        map[c].file_col = fc;
        map[c].ref_target_col = -1;
        if (fc >= 0) {
            const struct parquet_node *fl = &r->schema->nodes[r->schema->columns[fc]];
            if (fl->type != tl->type || fl->def_level != tl->def_level ||
                fl->rep_level != tl->rep_level ||
                (tl->type == PARQUET_FIXED_LEN_BYTE_ARRAY && fl->type_length != tl->type_length)) {
                tc_free(map);
                return tc_err_set(
                    err, TC_UNSUPPORTED, "%s: column %s: file has %s D%d R%d, wanted %s D%d R%d",
                    r->name, t->paths[c], parquet_type_name(fl->type), fl->def_level, fl->rep_level,
                    parquet_type_name(tl->type), tl->def_level, tl->rep_level);
            }
            continue;
        }
        /* missing: borrow the level structure of the file column sharing the
         * longest path prefix */
        {
            int best = -1, bestn = -1, node, depth = 0;
            for (int k = 0; k < r->schema->ncolumns; k++) {
                int n = common_components(t->paths[c], r->schema->paths[k]);
                if (n > bestn) {
                    bestn = n;
                    best = k;
                }
            }
            map[c].ref_file_col = best;
            /* walk the target leaf's ancestors: the common ancestor is at depth bestn */
            {
                int chain[PARQUET_MAX_LEVEL * 4], nch = 0;
                for (node = t->columns[c]; node > 0 && nch < (int)TC_ARRAY_LEN(chain);
                     node = t->nodes[node].parent)
                    chain[nch++] = node;
                /* chain[nch-1] is depth 1 */
                depth = bestn;
                if (depth >= nch)
                    depth = nch - 1;
                if (depth <= 0) {
                    map[c].anc_def = 0;
                    map[c].anc_rep = 0;
                } else {
                    const struct parquet_node *an = &t->nodes[chain[nch - depth]];
                    map[c].anc_def = an->def_level;
                    map[c].anc_rep = an->rep_level;
                }
                map[c].leaf_required_below = tl->def_level == map[c].anc_def;
                /* the reference must have the ancestor's shape */
                {
                    const struct parquet_node *rl = &r->schema->nodes[r->schema->columns[best]];
                    if (rl->def_level < map[c].anc_def || rl->rep_level < map[c].anc_rep) {
                        tc_free(map);
                        return tc_err_set(err, TC_UNSUPPORTED,
                                          "%s: cannot derive levels of missing column %s", r->name,
                                          t->paths[c]);
                    }
                }
            }
            for (int k = 0; k < t->ncolumns; k++)
                if (parquet_schema_find(r->schema, t->paths[k]) == best) {
                    map[c].ref_target_col = k;
                    break;
                }
        }
    }
    r->map = map;
    r->target = t;
    return TC_OK;
}

/* ---- page decoding ---- */

struct page_hdr {
    int type;
    int32_t usize, csize;
    int32_t num_values, num_nulls, num_rows;
    int encoding, def_enc, rep_enc;
    int32_t def_len, rep_len;
    int is_compressed;
    int has_data, has_dict, has_v2;
};

static int
parse_page_header(const uint8_t *p, size_t len, struct page_hdr *h, size_t *hlen)
{
    struct thrift_r r;
    int t, id;
    int32_t v;

    memset(h, 0, sizeof(*h));
    h->type = -1;
    h->is_compressed = 1;
    thrift_r_init(&r, p, len);
    if (thrift_struct_begin(&r) != TC_OK)
        return TC_PARSE;
    for (;;) {
        if (thrift_field_next(&r, &t, &id) != TC_OK)
            return TC_PARSE;
        if (t == THRIFT_STOP)
            break;
        if (id >= 1 && id <= 4 && t == THRIFT_I32) {
            if (thrift_read_i32(&r, &v) != TC_OK)
                return TC_PARSE;
            if (id == 1)
                h->type = v;
            else if (id == 2)
                h->usize = v;
            else if (id == 3)
                h->csize = v;
        } else if ((id == 5 || id == 7 || id == 8) && t == THRIFT_STRUCT) {
            int t2, id2;
            if (id == 5)
                h->has_data = 1;
            else if (id == 7)
                h->has_dict = 1;
            else
                h->has_v2 = 1;
            if (thrift_struct_begin(&r) != TC_OK)
                return TC_PARSE;
            for (;;) {
                if (thrift_field_next(&r, &t2, &id2) != TC_OK)
                    return TC_PARSE;
                if (t2 == THRIFT_STOP)
                    break;
                if (t2 == THRIFT_I32) {
                    if (thrift_read_i32(&r, &v) != TC_OK)
                        return TC_PARSE;
                    if (id2 == 1)
                        h->num_values = v;
                    else if (id == 5) {
                        if (id2 == 2)
                            h->encoding = v;
                        else if (id2 == 3)
                            h->def_enc = v;
                        else if (id2 == 4)
                            h->rep_enc = v;
                    } else if (id == 7) {
                        if (id2 == 2)
                            h->encoding = v;
                    } else {
                        if (id2 == 2)
                            h->num_nulls = v;
                        else if (id2 == 3)
                            h->num_rows = v;
                        else if (id2 == 4)
                            h->encoding = v;
                        else if (id2 == 5)
                            h->def_len = v;
                        else if (id2 == 6)
                            h->rep_len = v;
                    }
                } else if (id == 8 && id2 == 7 && (t2 == THRIFT_TRUE || t2 == THRIFT_FALSE)) {
                    h->is_compressed = thrift_bool_field(t2);
                } else if (thrift_skip(&r, t2) != TC_OK) {
                    return TC_PARSE;
                }
            }
            if (thrift_struct_end(&r) != TC_OK)
                return TC_PARSE;
        } else if (thrift_skip(&r, t) != TC_OK) {
            return TC_PARSE;
        }
    }
    if (thrift_struct_end(&r) != TC_OK)
        return TC_PARSE;
    *hlen = thrift_r_pos(&r);
    return TC_OK;
}

struct chunk_ctx {
    struct parquet_reader *r;
    const char *path;
    const struct parquet_node *leaf;
    struct parquet_colbuf *out;
    struct parquet_colbuf dict;
    int have_dict;
    uint32_t *u32; /* scratch for levels / indices */
    size_t u32cap;
    int64_t *i64;
    size_t i64cap;
    int keep_dix; /* out->dix gets each value's dictionary index */
    struct tc_err *err;
};

static int
ensure_scratch(struct chunk_ctx *x, size_t n)
{
    if (n > x->u32cap) {
        uint32_t *p = tc_reallocarray(x->u32, n, sizeof(uint32_t));
        if (p == NULL)
            return TC_NOMEM;
        x->u32 = p;
        x->u32cap = n;
    }
    if (n > x->i64cap) {
        int64_t *p = tc_reallocarray(x->i64, n, sizeof(int64_t));
        if (p == NULL)
            return TC_NOMEM;
        x->i64 = p;
        x->i64cap = n;
    }
    return TC_OK;
}

#define CORRUPT(x, ...) tc_err_set((x)->err, TC_CORRUPT, __VA_ARGS__)

/* PLAIN values: appends n values of c->type from [p,end). */
static int
decode_plain(struct chunk_ctx *x, struct parquet_colbuf *c, const uint8_t *p, const uint8_t *end,
             size_t n, size_t *used)
{
    const uint8_t *start = p;
    int rc;

    if (c->type == PARQUET_BOOLEAN) {
        if ((n + 7) / 8 > (size_t)(end - p))
            return CORRUPT(x, "column %s: PLAIN booleans truncated", x->path);
        if ((rc = parquet_colbuf_reserve(c, 0, n, 0)) != TC_OK)
            return tc_err_set(x->err, rc, "column %s: out of memory", x->path);
        for (size_t i = 0; i < n; i++)
            c->fixed[c->nv + i] = (p[i >> 3] >> (i & 7)) & 1;
        c->nv += n;
        *used = (n + 7) / 8;
        return TC_OK;
    }
    if (c->type == PARQUET_BYTE_ARRAY) {
        /* first pass for the payload size keeps the copy loop simple */
        const uint8_t *q = p;
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t l;
            if (end - q < 4)
                return CORRUPT(x, "column %s: PLAIN byte array %zu truncated", x->path, i);
            memcpy(&l, q, 4);
            if (l > (size_t)(end - q - 4))
                return CORRUPT(x, "column %s: PLAIN byte array length %u past page end", x->path,
                               l);
            q += 4 + l;
            total += l;
        }
        if ((rc = parquet_colbuf_reserve(c, 0, n, total)) != TC_OK)
            return tc_err_set(x->err, rc, "column %s: value buffer", x->path);
        for (size_t i = 0; i < n; i++) {
            uint32_t l;
            memcpy(&l, p, 4);
            if (l)
                memcpy(c->data + c->dlen, p + 4, l);
            c->dlen += l;
            c->offs[c->nv + 1] = (uint32_t)c->dlen;
            c->nv++;
            p += 4 + l;
        }
        *used = (size_t)(p - start);
        return TC_OK;
    }
    if ((uint64_t)n * (uint64_t)c->width > (uint64_t)(end - p))
        return CORRUPT(x, "column %s: PLAIN values truncated (%zu x %d bytes)", x->path, n,
                       c->width);
    if ((rc = parquet_colbuf_reserve(c, 0, n, 0)) != TC_OK)
        return tc_err_set(x->err, rc, "column %s: out of memory", x->path);
    if (n)
        memcpy(c->fixed + c->nv * (size_t)c->width, p, n * (size_t)c->width);
    c->nv += n;
    *used = n * (size_t)c->width;
    return TC_OK;
}

static int
append_bytes(struct chunk_ctx *x, struct parquet_colbuf *c, const uint8_t *p, size_t l)
{
    int rc = parquet_colbuf_reserve(c, 0, 1, l);

    if (rc != TC_OK)
        return tc_err_set(x->err, rc, "column %s: value buffer", x->path);
    if (c->type == PARQUET_BYTE_ARRAY) {
        if (l)
            memcpy(c->data + c->dlen, p, l);
        c->dlen += l;
        c->offs[c->nv + 1] = (uint32_t)c->dlen;
    } else {
        if (l != (size_t)c->width)
            return CORRUPT(x, "column %s: value of %zu bytes, want %d", x->path, l, c->width);
        memcpy(c->fixed + c->nv * (size_t)c->width, p, l);
    }
    c->nv++;
    return TC_OK;
}

/* The indices of the values decode_values just appended from nv0 on: still
 * in the scratch for a dictionary page, none for any other page of a chunk
 * with a dictionary. A chunk without one keeps none (its dict_key is 0). */
static int
keep_indices(struct chunk_ctx *x, int enc, size_t nv0)
{
    struct parquet_colbuf *c = x->out;
    size_t n = c->nv - nv0;

    if (c->dict_key == 0)
        return TC_OK;
    if (c->nv > c->dixcap) {
        size_t cap = c->dixcap * 2 > c->nv ? c->dixcap * 2 : c->nv;
        uint32_t *p = tc_reallocarray(c->dix, cap, sizeof(uint32_t));
        if (p == NULL)
            return tc_err_set(x->err, TC_NOMEM, "column %s: dictionary indices", x->path);
        c->dix = p;
        c->dixcap = cap;
    }
    if (n == 0)
        return TC_OK;
    if (enc == PARQUET_PLAIN_DICTIONARY || enc == PARQUET_RLE_DICTIONARY)
        memcpy(c->dix + nv0, x->u32, n * sizeof(uint32_t));
    else
        for (size_t i = nv0; i < c->nv; i++)
            c->dix[i] = PARQUET_NO_DIX;
    return TC_OK;
}

static int
decode_values(struct chunk_ctx *x, int enc, const uint8_t *p, const uint8_t *end, size_t n)
{
    struct parquet_colbuf *c = x->out;
    size_t used;
    int rc;

    if (n == 0)
        return TC_OK;
    switch (enc) {
    case PARQUET_PLAIN:
        return decode_plain(x, c, p, end, n, &used);
    case PARQUET_PLAIN_DICTIONARY:
    case PARQUET_RLE_DICTIONARY: {
        int bw;
        if (!x->have_dict)
            return CORRUPT(x, "column %s: dictionary-encoded page without dictionary", x->path);
        if (p >= end)
            return CORRUPT(x, "column %s: missing dictionary index bit width", x->path);
        bw = *p++;
        if (bw > 32)
            return CORRUPT(x, "column %s: dictionary bit width %d", x->path, bw);
        if ((rc = ensure_scratch(x, n)) != TC_OK)
            return tc_err_set(x->err, rc, "column %s: out of memory", x->path);
        if (parquet_rle_decode(p, end, bw, x->u32, n) != TC_OK)
            return CORRUPT(x, "column %s: corrupt dictionary indices", x->path);
        {
            /* validate and size first, then copy without per-value checks */
            uint64_t total = 0;
            for (size_t i = 0; i < n; i++) {
                uint32_t k = x->u32[i];
                if (k >= x->dict.nv)
                    return CORRUPT(x, "column %s: dictionary index %u of %zu", x->path, k,
                                   x->dict.nv);
                if (c->type == PARQUET_BYTE_ARRAY)
                    total += x->dict.offs[k + 1] - x->dict.offs[k];
            }
            if (total > UINT32_MAX)
                return tc_err_set(x->err, TC_TOOBIG, "column %s: page values exceed 4 GiB",
                                  x->path);
            if ((rc = parquet_colbuf_reserve(c, 0, n, (size_t)total)) != TC_OK)
                return tc_err_set(x->err, rc, "column %s: value buffer", x->path);
            if (c->type == PARQUET_BYTE_ARRAY) {
                for (size_t i = 0; i < n; i++) {
                    uint32_t k = x->u32[i], l = x->dict.offs[k + 1] - x->dict.offs[k];
                    if (l)
                        memcpy(c->data + c->dlen, x->dict.data + x->dict.offs[k], l);
                    c->dlen += l;
                    c->offs[++c->nv] = (uint32_t)c->dlen;
                }
            } else {
                size_t w = (size_t)c->width;
                for (size_t i = 0; i < n; i++)
                    memcpy(c->fixed + (c->nv + i) * w, x->dict.fixed + (size_t)x->u32[i] * w, w);
                c->nv += n;
            }
        }
        return TC_OK;
    }
    case PARQUET_RLE: {
        uint32_t l;
        if (c->type != PARQUET_BOOLEAN)
            return tc_err_set(x->err, TC_UNSUPPORTED, "column %s: RLE values of type %s", x->path,
                              parquet_type_name(c->type));
        if (end - p < 4)
            return CORRUPT(x, "column %s: RLE booleans truncated", x->path);
        memcpy(&l, p, 4);
        p += 4;
        if (l > (size_t)(end - p))
            return CORRUPT(x, "column %s: RLE boolean length %u", x->path, l);
        if ((rc = ensure_scratch(x, n)) != TC_OK ||
            (rc = parquet_colbuf_reserve(c, 0, n, 0)) != TC_OK)
            return tc_err_set(x->err, rc, "column %s: out of memory", x->path);
        if (parquet_rle_decode(p, p + l, 1, x->u32, n) != TC_OK)
            return CORRUPT(x, "column %s: corrupt RLE booleans", x->path);
        for (size_t i = 0; i < n; i++)
            c->fixed[c->nv++] = (uint8_t)x->u32[i];
        return TC_OK;
    }
    case PARQUET_DELTA_BINARY_PACKED: {
        if (c->type != PARQUET_INT32 && c->type != PARQUET_INT64)
            return CORRUPT(x, "column %s: DELTA_BINARY_PACKED on %s", x->path,
                           parquet_type_name(c->type));
        if ((rc = ensure_scratch(x, n)) != TC_OK ||
            (rc = parquet_colbuf_reserve(c, 0, n, 0)) != TC_OK)
            return tc_err_set(x->err, rc, "column %s: out of memory", x->path);
        if (parquet_delta_decode(p, end, c->type == PARQUET_INT32, x->i64, n, &used) != TC_OK)
            return CORRUPT(x, "column %s: corrupt DELTA_BINARY_PACKED data", x->path);
        for (size_t i = 0; i < n; i++) {
            if (c->type == PARQUET_INT32) {
                int32_t v = (int32_t)x->i64[i];
                memcpy(c->fixed + (c->nv + i) * 4, &v, 4);
            } else {
                memcpy(c->fixed + (c->nv + i) * 8, &x->i64[i], 8);
            }
        }
        c->nv += n;
        return TC_OK;
    }
    case PARQUET_DELTA_LENGTH_BYTE_ARRAY: {
        uint64_t total = 0;
        if (c->type != PARQUET_BYTE_ARRAY)
            return CORRUPT(x, "column %s: DELTA_LENGTH_BYTE_ARRAY on %s", x->path,
                           parquet_type_name(c->type));
        if ((rc = ensure_scratch(x, n)) != TC_OK)
            return tc_err_set(x->err, rc, "column %s: out of memory", x->path);
        if (parquet_delta_decode(p, end, 1, x->i64, n, &used) != TC_OK)
            return CORRUPT(x, "column %s: corrupt DELTA_LENGTH_BYTE_ARRAY lengths", x->path);
        p += used;
        for (size_t i = 0; i < n; i++) {
            if (x->i64[i] < 0)
                return CORRUPT(x, "column %s: negative byte array length", x->path);
            total += (uint64_t)x->i64[i];
        }
        if (total > (uint64_t)(end - p))
            return CORRUPT(x, "column %s: DELTA_LENGTH_BYTE_ARRAY data truncated", x->path);
        if ((rc = parquet_colbuf_reserve(c, 0, n, (size_t)total)) != TC_OK)
            return tc_err_set(x->err, rc, "column %s: value buffer", x->path);
        for (size_t i = 0; i < n; i++) {
            size_t l = (size_t)x->i64[i];
            if (l)
                memcpy(c->data + c->dlen, p, l);
            c->dlen += l;
            c->offs[c->nv + 1] = (uint32_t)c->dlen;
            c->nv++;
            p += l;
        }
        return TC_OK;
    }
    case PARQUET_DELTA_BYTE_ARRAY: {
        int64_t *pre, *suf;
        const uint8_t *prev = NULL;
        size_t prevlen = 0, used2;
        uint8_t *tmp = NULL;
        if (c->type != PARQUET_BYTE_ARRAY && c->type != PARQUET_FIXED_LEN_BYTE_ARRAY)
            return CORRUPT(x, "column %s: DELTA_BYTE_ARRAY on %s", x->path,
                           parquet_type_name(c->type));
        if ((rc = ensure_scratch(x, 2 * n)) != TC_OK)
            return tc_err_set(x->err, rc, "column %s: out of memory", x->path);
        pre = x->i64;
        suf = x->i64 + n;
        if (parquet_delta_decode(p, end, 1, pre, n, &used) != TC_OK)
            return CORRUPT(x, "column %s: corrupt DELTA_BYTE_ARRAY prefixes", x->path);
        p += used;
        if (parquet_delta_decode(p, end, 1, suf, n, &used2) != TC_OK)
            return CORRUPT(x, "column %s: corrupt DELTA_BYTE_ARRAY suffixes", x->path);
        p += used2;
        for (size_t i = 0; i < n; i++) {
            size_t pl, sl;
            uint8_t *nt;
            if (pre[i] < 0 || suf[i] < 0 || (uint64_t)pre[i] > prevlen ||
                (uint64_t)suf[i] > (uint64_t)(end - p)) {
                tc_free(tmp);
                return CORRUPT(x, "column %s: bad DELTA_BYTE_ARRAY lengths", x->path);
            }
            pl = (size_t)pre[i];
            sl = (size_t)suf[i];
            nt = tc_malloc(pl + sl + 1);
            if (nt == NULL) {
                tc_free(tmp);
                return tc_err_set(x->err, TC_NOMEM, "column %s: out of memory", x->path);
            }
            if (pl)
                memcpy(nt, prev, pl);
            if (sl)
                memcpy(nt + pl, p, sl);
            p += sl;
            rc = append_bytes(x, c, nt, pl + sl);
            tc_free(tmp);
            tmp = nt;
            prev = nt;
            prevlen = pl + sl;
            if (rc != TC_OK) {
                tc_free(tmp);
                return rc;
            }
        }
        tc_free(tmp);
        return TC_OK;
    }
    case PARQUET_BYTE_STREAM_SPLIT: {
        size_t w = (size_t)c->width;
        if (c->type == PARQUET_BYTE_ARRAY || c->type == PARQUET_BOOLEAN)
            return CORRUPT(x, "column %s: BYTE_STREAM_SPLIT on %s", x->path,
                           parquet_type_name(c->type));
        if ((uint64_t)n * w > (uint64_t)(end - p))
            return CORRUPT(x, "column %s: BYTE_STREAM_SPLIT truncated", x->path);
        if ((rc = parquet_colbuf_reserve(c, 0, n, 0)) != TC_OK)
            return tc_err_set(x->err, rc, "column %s: out of memory", x->path);
        for (size_t i = 0; i < n; i++)
            for (size_t b = 0; b < w; b++)
                c->fixed[(c->nv + i) * w + b] = p[b * n + i];
        c->nv += n;
        return TC_OK;
    }
    default:
        return tc_err_set(x->err, TC_UNSUPPORTED, "column %s: encoding %d not supported", x->path,
                          enc);
    }
}

/* Decodes n levels with max level mx from a hybrid stream into dst. */
static int
decode_levels(struct chunk_ctx *x, const uint8_t *p, const uint8_t *end, int mx, uint8_t *dst,
              size_t n, const char *what)
{
    int bw = parquet_bit_width((uint64_t)mx);

    /* straight into bytes: levels are the bulk of the decoding work */
    if (parquet_rle_decode_u8(p, end, bw, dst, n, (uint8_t)mx) != TC_OK)
        return CORRUPT(x, "column %s: corrupt %s levels (or above max %d)", x->path, what, mx);
    return TC_OK;
}

/* Legacy BIT_PACKED levels (MSB first, no run headers). */
static int
decode_levels_bp(struct chunk_ctx *x, const uint8_t *p, const uint8_t *end, int mx, uint8_t *dst,
                 size_t n, size_t *used, const char *what)
{
    int bw = parquet_bit_width((uint64_t)mx);
    size_t bytes = (n * (size_t)bw + 7) / 8;

    if (bytes > (size_t)(end - p))
        return CORRUPT(x, "column %s: truncated BIT_PACKED %s levels", x->path, what);
    for (size_t i = 0; i < n; i++) {
        uint32_t v = 0;
        for (int b = 0; b < bw; b++) {
            size_t bit = i * (size_t)bw + (size_t)b;
            v = (v << 1) | ((p[bit >> 3] >> (7 - (bit & 7))) & 1);
        }
        if (v > (uint32_t)mx)
            return CORRUPT(x, "column %s: %s level above max", x->path, what);
        dst[i] = (uint8_t)v;
    }
    *used = bytes;
    return TC_OK;
}

static int
decode_data_page(struct chunk_ctx *x, const struct page_hdr *h, const uint8_t *body,
                 size_t body_len, int codec)
{
    struct parquet_colbuf *c = x->out;
    int max_def = x->leaf->def_level, max_rep = x->leaf->rep_level;
    size_t n = (size_t)h->num_values, nvals = 0, nv0;
    const uint8_t *p, *end;
    uint8_t *rep, *def;
    int rc;

    if (h->num_values < 0 || h->num_values > PARQUET_MAX_PAGE_VALUES)
        return CORRUPT(x, "column %s: page num_values %d", x->path, h->num_values);
    if (n == 0)
        return TC_OK; /* an empty page adds nothing */
    if ((rc = ensure_scratch(x, n)) != TC_OK || (rc = parquet_colbuf_reserve(c, n, 0, 0)) != TC_OK)
        return tc_err_set(x->err, rc, "column %s: out of memory", x->path);
    rep = c->rep + c->n;
    def = c->def + c->n;
    if (h->type == PARQUET_DATA_PAGE_V2) {
        size_t ll;
        if (h->rep_len < 0 || h->def_len < 0 ||
            (uint64_t)h->rep_len + (uint64_t)h->def_len > body_len)
            return CORRUPT(x, "column %s: v2 level lengths exceed page", x->path);
        ll = (size_t)h->rep_len + (size_t)h->def_len;
        if (max_rep > 0) {
            if ((rc = decode_levels(x, body, body + h->rep_len, max_rep, rep, n, "repetition")))
                return rc;
        } else {
            memset(rep, 0, n);
        }
        if (max_def > 0) {
            if ((rc =
                     decode_levels(x, body + h->rep_len, body + ll, max_def, def, n, "definition")))
                return rc;
        } else {
            memset(def, 0, n);
        }
        /* values: optionally compressed */
        if (h->is_compressed && codec != PARQUET_UNCOMPRESSED) {
            int64_t ulen = (int64_t)h->usize - (int64_t)ll;
            if (ulen < 0 || ulen > PARQUET_MAX_PAGE)
                return CORRUPT(x, "column %s: v2 uncompressed size %d", x->path, h->usize);
            buf_reset(&x->r->page);
            if ((rc = buf_reserve(&x->r->page, (size_t)ulen)) != TC_OK)
                return tc_err_set(x->err, rc, "column %s: page buffer", x->path);
            if ((rc = parquet_decompress(codec, body + ll, body_len - ll,
                                         (uint8_t *)x->r->page.data, (size_t)ulen, x->err)) !=
                TC_OK)
                return tc_err_prefix(x->err, "column %s", x->path);
            p = (const uint8_t *)x->r->page.data;
            end = p + ulen;
        } else {
            p = body + ll;
            end = body + body_len;
        }
    } else {
        /* v1: the whole body is compressed */
        if (codec != PARQUET_UNCOMPRESSED) {
            if (h->usize < 0 || h->usize > PARQUET_MAX_PAGE)
                return CORRUPT(x, "column %s: uncompressed page size %d", x->path, h->usize);
            buf_reset(&x->r->page);
            if ((rc = buf_reserve(&x->r->page, (size_t)h->usize)) != TC_OK)
                return tc_err_set(x->err, rc, "column %s: page buffer", x->path);
            if ((rc = parquet_decompress(codec, body, body_len, (uint8_t *)x->r->page.data,
                                         (size_t)h->usize, x->err)) != TC_OK)
                return tc_err_prefix(x->err, "column %s", x->path);
            p = (const uint8_t *)x->r->page.data;
            end = p + h->usize;
        } else {
            p = body;
            end = body + body_len;
        }
        for (int pass = 0; pass < 2; pass++) {
            int mx = pass == 0 ? max_rep : max_def;
            int enc = pass == 0 ? h->rep_enc : h->def_enc;
            uint8_t *dst = pass == 0 ? rep : def;
            const char *what = pass == 0 ? "repetition" : "definition";
            if (mx == 0) {
                memset(dst, 0, n);
                continue;
            }
            if (enc == PARQUET_BIT_PACKED) {
                size_t used = 0;
                if ((rc = decode_levels_bp(x, p, end, mx, dst, n, &used, what)) != TC_OK)
                    return rc;
                p += used;
            } else {
                uint32_t l;
                if (end - p < 4)
                    return CORRUPT(x, "column %s: truncated %s levels", x->path, what);
                memcpy(&l, p, 4);
                p += 4;
                if (l > (size_t)(end - p))
                    return CORRUPT(x, "column %s: %s levels length %u past page", x->path, what, l);
                if ((rc = decode_levels(x, p, p + l, mx, dst, n, what)) != TC_OK)
                    return rc;
                p += l;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        nvals += def[i] == max_def;
    if (h->type == PARQUET_DATA_PAGE_V2 && h->num_nulls >= 0 && (size_t)h->num_nulls != n - nvals &&
        max_def > 0)
        return CORRUPT(x, "column %s: v2 page num_nulls %d, levels say %zu", x->path, h->num_nulls,
                       n - nvals);
    nv0 = c->nv;
    if ((rc = decode_values(x, h->encoding, p, end, nvals)) != TC_OK)
        return rc;
    if (x->keep_dix && (rc = keep_indices(x, h->encoding, nv0)) != TC_OK)
        return rc;
    c->n += n;
    return TC_OK;
}

static int
decode_dict_page(struct chunk_ctx *x, const struct page_hdr *h, const uint8_t *body,
                 size_t body_len, int codec)
{
    const uint8_t *p = body;
    size_t len = body_len, used;
    int rc;

    if (x->have_dict)
        return CORRUPT(x, "column %s: second dictionary page", x->path);
    if ((int64_t)h->usize > PARQUET_MAX_DICT || (int64_t)body_len > PARQUET_MAX_DICT)
        return tc_err_set(x->err, TC_TOOBIG,
                          "column %s: dictionary page of %d bytes is over the %lld-byte cap",
                          x->path, h->usize > (int32_t)body_len ? h->usize : (int32_t)body_len,
                          (long long)PARQUET_MAX_DICT);
    if (h->num_values < 0 || h->num_values > PARQUET_MAX_PAGE_VALUES)
        return CORRUPT(x, "column %s: dictionary size %d", x->path, h->num_values);
    if (h->encoding != PARQUET_PLAIN && h->encoding != PARQUET_PLAIN_DICTIONARY)
        return tc_err_set(x->err, TC_UNSUPPORTED, "column %s: dictionary encoding %d", x->path,
                          h->encoding);
    if (codec != PARQUET_UNCOMPRESSED) {
        if (h->usize < 0 || h->usize > PARQUET_MAX_PAGE)
            return CORRUPT(x, "column %s: dictionary page size %d", x->path, h->usize);
        buf_reset(&x->r->page);
        if ((rc = buf_reserve(&x->r->page, (size_t)h->usize)) != TC_OK)
            return tc_err_set(x->err, rc, "column %s: page buffer", x->path);
        if ((rc = parquet_decompress(codec, body, body_len, (uint8_t *)x->r->page.data,
                                     (size_t)h->usize, x->err)) != TC_OK)
            return tc_err_prefix(x->err, "column %s dictionary", x->path);
        p = (const uint8_t *)x->r->page.data;
        len = (size_t)h->usize;
    }
    if ((rc = parquet_colbuf_init(&x->dict, x->leaf->type, x->leaf->type_length, 0)) != TC_OK)
        return tc_err_set(x->err, rc, "column %s: out of memory", x->path);
    x->have_dict = 1;
    if (x->keep_dix) {
        /* unique in the process: a writer's index map is valid for this
         * dictionary only */
        static _Atomic uint64_t serial;
        x->out->dict_key = atomic_fetch_add(&serial, 1) + 1;
    }
    return decode_plain(x, &x->dict, p, p + len, (size_t)h->num_values, &used);
}

/* Decodes one column chunk of row group rg (file column fc) into out. */
static int
decode_chunk(struct parquet_reader *r, int rg, int fc, struct parquet_colbuf *out,
             struct tc_err *err)
{
    const struct parquet_chunk_meta *cm = &r->meta->rowgroups[rg].cols[fc];
    struct chunk_ctx x;
    int64_t start = cm->data_page_offset;
    const uint8_t *p, *end;
    size_t entries0 = out->n;
    int rc = TC_OK;

    if (cm->dictionary_page_offset > 0 && cm->dictionary_page_offset < start)
        start = cm->dictionary_page_offset;
    memset(&x, 0, sizeof(x));
    x.r = r;
    x.path = r->schema->paths[fc];
    x.leaf = &r->schema->nodes[r->schema->columns[fc]];
    x.out = out;
    x.err = err;
    buf_reset(&r->chunk);
    if ((rc = buf_reserve(&r->chunk, (size_t)cm->total_compressed)) != TC_OK)
        return tc_err_set(err, rc, "%s: column %s: chunk of %lld bytes", r->name, x.path,
                          (long long)cm->total_compressed);
    if ((rc = read_at(r, (uint64_t)start, (size_t)cm->total_compressed, r->chunk.data, err)) !=
        TC_OK)
        return rc;
    r->chunk.len = (size_t)cm->total_compressed;
    p = (const uint8_t *)r->chunk.data;
    end = p + r->chunk.len;
    while (p < end && (int64_t)(out->n - entries0) < cm->num_values) {
        struct page_hdr h;
        size_t hlen;
        if (parse_page_header(p, (size_t)(end - p), &h, &hlen) != TC_OK) {
            rc = tc_err_set(err, TC_CORRUPT, "column %s: malformed page header at offset %lld",
                            x.path, (long long)(start + (p - (const uint8_t *)r->chunk.data)));
            break;
        }
        p += hlen;
        if (h.csize < 0 || h.csize > end - p || h.usize < 0) {
            rc = tc_err_set(err, TC_CORRUPT, "column %s: page size %d exceeds chunk", x.path,
                            h.csize);
            break;
        }
        if (h.type == PARQUET_DICTIONARY_PAGE && h.has_dict)
            rc = decode_dict_page(&x, &h, p, (size_t)h.csize, cm->codec);
        else if ((h.type == PARQUET_DATA_PAGE && h.has_data) ||
                 (h.type == PARQUET_DATA_PAGE_V2 && h.has_v2))
            rc = decode_data_page(&x, &h, p, (size_t)h.csize, cm->codec);
        else if (h.type == PARQUET_INDEX_PAGE)
            rc = TC_OK;
        else
            rc = tc_err_set(err, TC_CORRUPT, "column %s: page type %d without its header", x.path,
                            h.type);
        if (rc != TC_OK)
            break;
        p += h.csize;
    }
    if (rc == TC_OK && (int64_t)(out->n - entries0) != cm->num_values)
        rc = tc_err_set(err, TC_CORRUPT, "column %s: decoded %zu values, chunk says %lld", x.path,
                        out->n - entries0, (long long)cm->num_values);
    if (rc == TC_OK) {
        /* the chunk must hold exactly num_rows rows */
        int64_t rows = 0;
        for (size_t i = entries0; i < out->n; i++)
            rows += out->rep[i] == 0;
        if (rows != r->meta->rowgroups[rg].num_rows)
            rc = tc_err_set(err, TC_CORRUPT, "column %s: %lld rows, row group says %lld", x.path,
                            (long long)rows, (long long)r->meta->rowgroups[rg].num_rows);
        else if (out->n > entries0 && out->rep[entries0] != 0)
            rc = tc_err_set(err, TC_CORRUPT, "column %s: chunk starts mid-row", x.path);
    }
    if (x.have_dict)
        parquet_colbuf_cleanup(&x.dict);
    tc_free(x.u32);
    tc_free(x.i64);
    if (r->chunk.size > ((size_t)64 << 20))
        buf_cleanup(&r->chunk); /* do not pin a huge scratch buffer */
    if (r->page.size > ((size_t)64 << 20))
        buf_cleanup(&r->page);
    if (rc != TC_OK)
        tc_err_prefix(err, "%s: row group %d", r->name, rg);
    return rc;
}

/* Derives the levels of a missing column from a reference column. */
static int
synthesize(const struct parquet_colmap *m, const struct parquet_node *leaf,
           const struct parquet_colbuf *ref, size_t l0, size_t l1, struct parquet_colbuf *out)
{
    static const uint8_t zero[16];
    int rc;

    for (size_t i = l0; i < l1; i++) {
        int r = ref->rep[i], d = ref->def[i];
        if (r > m->anc_rep)
            continue; /* a repetition below the shared ancestor */
        if (d >= m->anc_def) {
            if (m->leaf_required_below) {
                if (out->type == PARQUET_BYTE_ARRAY)
                    rc = parquet_colbuf_push(out, r, leaf->def_level, 1, "", 0);
                else
                    rc = parquet_colbuf_push(out, r, leaf->def_level, 1,
                                             out->width <= 16 ? zero : NULL, (size_t)out->width);
            } else {
                rc = parquet_colbuf_push(out, r, m->anc_def, 0, NULL, 0);
            }
        } else {
            rc = parquet_colbuf_push(out, r, d, 0, NULL, 0);
        }
        if (rc != TC_OK)
            return rc;
    }
    return TC_OK;
}

/* Remote sources: one read for the whole row group instead of one per
 * column chunk (a range GET each on object storage). */
static int
prefetch_rowgroup(struct parquet_reader *r, int rg, struct tc_err *err)
{
    const struct parquet_rowgroup_meta *g = &r->meta->rowgroups[rg];
    uint64_t lo = UINT64_MAX, hi = 0;
    int rc;

    r->rgbuf_valid = 0;
    for (int c = 0; c < g->ncols; c++) {
        const struct parquet_chunk_meta *cm = &g->cols[c];
        int64_t start = cm->data_page_offset;
        if (cm->dictionary_page_offset > 0 && cm->dictionary_page_offset < start)
            start = cm->dictionary_page_offset;
        if ((uint64_t)start < lo)
            lo = (uint64_t)start;
        if ((uint64_t)start + (uint64_t)cm->total_compressed > hi)
            hi = (uint64_t)start + (uint64_t)cm->total_compressed;
    }
    if (g->ncols == 0 || hi <= lo || hi - lo > (uint64_t)PARQUET_MAX_CHUNK)
        return TC_OK; /* fall back to per-chunk reads */
    buf_reset(&r->rgbuf);
    if ((rc = buf_reserve(&r->rgbuf, (size_t)(hi - lo))) != TC_OK)
        return tc_err_set(err, rc, "%s: row group %d: %llu bytes", r->name, rg,
                          (unsigned long long)(hi - lo));
    if ((rc = read_at(r, lo, (size_t)(hi - lo), r->rgbuf.data, err)) != TC_OK)
        return rc;
    r->rgbuf.len = (size_t)(hi - lo);
    r->rgbuf_off = lo;
    r->rgbuf_valid = 1;
    return TC_OK;
}

int
parquet_reader_read_rowgroup(struct parquet_reader *r, int rg, struct parquet_rowset *rs,
                             struct tc_err *err)
{
    const struct parquet_schema *t = parquet_reader_row_schema(r);
    int rc;

    if (rg < 0 || rg >= r->meta->nrowgroups)
        return tc_err_set(err, TC_INVAL, "%s: no row group %d", r->name, rg);
    if (rs->ncols != t->ncolumns)
        return tc_err_set(err, TC_INVAL, "%s: rowset has %d columns, want %d", r->name, rs->ncols,
                          t->ncolumns);
    parquet_rowset_reset(rs);
    if (r->src.read_at && (rc = prefetch_rowgroup(r, rg, err)) != TC_OK)
        return rc;
    for (int c = 0; c < t->ncolumns; c++) {
        int fc = r->map ? r->map[c].file_col : c;
        if (fc < 0)
            continue;
        if ((rc = decode_chunk(r, rg, fc, &rs->cols[c], err)) != TC_OK)
            return rc;
    }
    for (int c = 0; r->map && c < t->ncolumns; c++) {
        const struct parquet_colmap *m = &r->map[c];
        const struct parquet_node *leaf = &t->nodes[t->columns[c]];
        if (m->file_col >= 0)
            continue;
        if (m->ref_target_col >= 0) {
            rc = synthesize(m, leaf, &rs->cols[m->ref_target_col], 0, rs->cols[m->ref_target_col].n,
                            &rs->cols[c]);
        } else {
            struct parquet_colbuf tmp;
            const struct parquet_node *rl = &r->schema->nodes[r->schema->columns[m->ref_file_col]];
            if ((rc = parquet_colbuf_init(&tmp, rl->type, rl->type_length, rl->def_level)) != TC_OK)
                return tc_err_set(err, rc, "%s: out of memory", r->name);
            rc = decode_chunk(r, rg, m->ref_file_col, &tmp, err);
            if (rc == TC_OK)
                rc = synthesize(m, leaf, &tmp, 0, tmp.n, &rs->cols[c]);
            parquet_colbuf_cleanup(&tmp);
            if (rc != TC_OK && rc != TC_NOMEM)
                return rc;
        }
        if (rc != TC_OK)
            return tc_err_set(err, rc, "%s: column %s: cannot synthesize", r->name, t->paths[c]);
    }
    rs->nrows = r->meta->rowgroups[rg].num_rows;
    return TC_OK;
}

/* ---- page index ---- */

void
parquet_page_index_cleanup(struct parquet_page_index *pi)
{
    if (pi->bounds)
        for (int i = 0; i < pi->npages; i++)
            parquet_stats_cleanup(&pi->bounds[i]);
    tc_free(pi->bounds);
    tc_free(pi->locs);
    tc_free(pi->null_pages);
    tc_free(pi->null_counts);
    memset(pi, 0, sizeof(*pi));
}

static int
parse_offset_index(const uint8_t *p, size_t len, struct parquet_page_index *pi)
{
    struct thrift_r r;
    int t, id, et;
    uint32_t n;

    thrift_r_init(&r, p, len);
    if (thrift_struct_begin(&r) != TC_OK)
        return TC_PARSE;
    for (;;) {
        if (thrift_field_next(&r, &t, &id) != TC_OK)
            return TC_PARSE;
        if (t == THRIFT_STOP)
            break;
        if (id == 1 && t == THRIFT_LIST && pi->locs == NULL) {
            if (thrift_read_list(&r, &et, &n) != TC_OK || et != THRIFT_STRUCT)
                return TC_PARSE;
            pi->locs = tc_calloc(n ? n : 1, sizeof(*pi->locs));
            if (pi->locs == NULL)
                return TC_NOMEM;
            pi->npages = (int)n;
            for (uint32_t i = 0; i < n; i++) {
                int t2, id2;
                if (thrift_struct_begin(&r) != TC_OK)
                    return TC_PARSE;
                for (;;) {
                    if (thrift_field_next(&r, &t2, &id2) != TC_OK)
                        return TC_PARSE;
                    if (t2 == THRIFT_STOP)
                        break;
                    if (id2 == 1 && t2 == THRIFT_I64) {
                        if (thrift_read_i64(&r, &pi->locs[i].offset) != TC_OK)
                            return TC_PARSE;
                    } else if (id2 == 2 && t2 == THRIFT_I32) {
                        if (thrift_read_i32(&r, &pi->locs[i].compressed_size) != TC_OK)
                            return TC_PARSE;
                    } else if (id2 == 3 && t2 == THRIFT_I64) {
                        if (thrift_read_i64(&r, &pi->locs[i].first_row) != TC_OK)
                            return TC_PARSE;
                    } else if (thrift_skip(&r, t2) != TC_OK) {
                        return TC_PARSE;
                    }
                }
                if (thrift_struct_end(&r) != TC_OK)
                    return TC_PARSE;
            }
        } else if (thrift_skip(&r, t) != TC_OK) {
            return TC_PARSE;
        }
    }
    return thrift_struct_end(&r);
}

static int
parse_column_index(const uint8_t *p, size_t len, struct parquet_page_index *pi)
{
    struct thrift_r r;
    int t, id, et, v;
    uint32_t n;

    thrift_r_init(&r, p, len);
    if (thrift_struct_begin(&r) != TC_OK)
        return TC_PARSE;
    for (;;) {
        if (thrift_field_next(&r, &t, &id) != TC_OK)
            return TC_PARSE;
        if (t == THRIFT_STOP)
            break;
        if (id >= 1 && id <= 3 && t == THRIFT_LIST) {
            if (thrift_read_list(&r, &et, &n) != TC_OK || (int)n != pi->npages)
                return TC_PARSE;
            for (uint32_t i = 0; i < n; i++) {
                if (id == 1) {
                    if (thrift_read_bool(&r, &v) != TC_OK)
                        return TC_PARSE;
                    pi->null_pages[i] = (uint8_t)v;
                } else {
                    const uint8_t *b;
                    uint32_t bl;
                    struct parquet_stats *st = &pi->bounds[i];
                    uint8_t **dst = id == 2 ? &st->min : &st->max;
                    if (et != THRIFT_BINARY || thrift_read_binary(&r, &b, &bl) != TC_OK)
                        return TC_PARSE;
                    tc_free(*dst);
                    *dst = tc_memdup(b, bl ? bl : 1);
                    if (*dst == NULL)
                        return TC_NOMEM;
                    if (id == 2) {
                        st->min_len = bl;
                        st->has_min = 1;
                    } else {
                        st->max_len = bl;
                        st->has_max = 1;
                    }
                }
            }
        } else if (id == 4 && t == THRIFT_I32) {
            int32_t bo;
            if (thrift_read_i32(&r, &bo) != TC_OK)
                return TC_PARSE;
            pi->boundary_order = bo;
        } else if (id == 5 && t == THRIFT_LIST) {
            if (thrift_read_list(&r, &et, &n) != TC_OK || (int)n != pi->npages)
                return TC_PARSE;
            for (uint32_t i = 0; i < n; i++)
                if (thrift_read_i64(&r, &pi->null_counts[i]) != TC_OK)
                    return TC_PARSE;
        } else if (thrift_skip(&r, t) != TC_OK) {
            return TC_PARSE;
        }
    }
    return thrift_struct_end(&r);
}

int
parquet_reader_page_index(struct parquet_reader *r, int rg, int col, struct parquet_page_index *pi,
                          struct tc_err *err)
{
    const struct parquet_chunk_meta *cm;
    uint8_t *tmp;
    int rc;

    memset(pi, 0, sizeof(*pi));
    if (rg < 0 || rg >= r->meta->nrowgroups || col < 0 || col >= r->schema->ncolumns)
        return tc_err_set(err, TC_INVAL, "%s: no chunk %d/%d", r->name, rg, col);
    cm = &r->meta->rowgroups[rg].cols[col];
    if (cm->offset_index_offset < 0)
        return tc_err_set(err, TC_NOTFOUND, "%s: column %s has no offset index", r->name,
                          r->schema->paths[col]);
    if (cm->offset_index_length <= 0 ||
        (uint64_t)cm->offset_index_offset + (uint64_t)cm->offset_index_length > r->data_end)
        return tc_err_set(err, TC_CORRUPT, "%s: column %s: offset index outside data area", r->name,
                          r->schema->paths[col]);
    tmp = tc_malloc((size_t)cm->offset_index_length);
    if (tmp == NULL)
        return tc_err_set(err, TC_NOMEM, "%s: out of memory", r->name);
    rc = read_at(r, (uint64_t)cm->offset_index_offset, (size_t)cm->offset_index_length, tmp, err);
    if (rc == TC_OK && parse_offset_index(tmp, (size_t)cm->offset_index_length, pi) != TC_OK)
        rc = tc_err_set(err, TC_CORRUPT, "%s: column %s: malformed offset index", r->name,
                        r->schema->paths[col]);
    tc_free(tmp);
    for (int i = 0; rc == TC_OK && i < pi->npages; i++)
        if (pi->locs[i].offset < 4 || pi->locs[i].compressed_size <= 0 ||
            (uint64_t)pi->locs[i].offset + (uint64_t)pi->locs[i].compressed_size > r->data_end ||
            (i > 0 && pi->locs[i].first_row < pi->locs[i - 1].first_row))
            rc = tc_err_set(err, TC_CORRUPT, "%s: column %s: bad page location %d", r->name,
                            r->schema->paths[col], i);
    if (rc != TC_OK || cm->column_index_offset < 0) {
        if (rc != TC_OK)
            parquet_page_index_cleanup(pi);
        return rc;
    }
    if (cm->column_index_length <= 0 ||
        (uint64_t)cm->column_index_offset + (uint64_t)cm->column_index_length > r->data_end) {
        parquet_page_index_cleanup(pi);
        return tc_err_set(err, TC_CORRUPT, "%s: column %s: column index outside data area", r->name,
                          r->schema->paths[col]);
    }
    pi->null_pages = tc_calloc((size_t)pi->npages + 1, 1);
    pi->bounds = tc_calloc((size_t)pi->npages + 1, sizeof(*pi->bounds));
    pi->null_counts = tc_calloc((size_t)pi->npages + 1, sizeof(int64_t));
    tmp = tc_malloc((size_t)cm->column_index_length);
    if (!pi->null_pages || !pi->bounds || !pi->null_counts || !tmp) {
        tc_free(tmp);
        parquet_page_index_cleanup(pi);
        return tc_err_set(err, TC_NOMEM, "%s: out of memory", r->name);
    }
    rc = read_at(r, (uint64_t)cm->column_index_offset, (size_t)cm->column_index_length, tmp, err);
    if (rc == TC_OK) {
        int prc = parse_column_index(tmp, (size_t)cm->column_index_length, pi);
        if (prc != TC_OK)
            rc = tc_err_set(err, TC_CORRUPT, "%s: column %s: malformed column index", r->name,
                            r->schema->paths[col]);
    }
    tc_free(tmp);
    if (rc != TC_OK) {
        parquet_page_index_cleanup(pi);
        return rc;
    }
    pi->has_column_index = 1;
    return TC_OK;
}

/* ---- cursor: a window of pages per column ---- */

/*
 * The cursor streams every column chunk of a row group side by side: per
 * leaf column a page stream reads compressed bytes ahead, decodes one page
 * at a time and appends its levels and values to a window. A row is yielded
 * once each column has decoded past the row's end (the next repetition level
 * 0, or the chunk's end); what lies before the current row is dropped when
 * the next page comes in. Memory is columns x (read-ahead + a page + the
 * current row) plus each chunk's dictionary, whatever the row group's size.
 *
 * Read-ahead: each refill of a column's window is one read_at call, i.e. one
 * ranged GET on object storage. A 100 MB row group of ~90 columns costs about
 * 90 + 100 MB / PARQUET_READAHEAD GETs; a bigger read-ahead means fewer GETs
 * but PARQUET_READAHEAD bytes per column per open input stay resident.
 * 256 KiB keeps an input under ~25 MB of read-ahead. Row groups up to
 * PARQUET_RG_PREFETCH_MAX are still fetched in one read.
 */
#define PARQUET_READAHEAD ((size_t)256 << 10)
#define PARQUET_RG_PREFETCH_MAX ((uint64_t)8 << 20)
#define PARQUET_HDR_PEEK ((size_t)1024) /* first guess at a page header's size */

struct pstream {
    struct chunk_ctx x;         /* decoder: dictionary, scratch; x.out == win */
    struct parquet_colbuf *win; /* the cursor's column, or own (a hidden reference) */
    struct parquet_colbuf own;
    int file_col;
    int codec;
    uint64_t pos, end;   /* next page header, end of the chunk */
    int64_t values_left; /* level entries the chunk still holds */
    int started, done;   /* a data page seen; every value decoded */
    uint8_t *ra;         /* read-ahead: file bytes [ra_off, ra_off + ra_len) */
    size_t ra_len, ra_size;
    uint64_t ra_off;
    size_t l0, v0, l1, v1; /* the current row in win */
};

struct parquet_cursor {
    struct parquet_reader *r;
    struct parquet_rowset rs; /* the row's columns (windows or synthesized) */
    int nst;
    struct pstream *st;
    int *stream_of; /* per row column: its stream, or -1 if synthesized */
    int *ref_of;    /* synthesized columns: the stream of their reference */
    size_t *l0, *l1, *v0, *v1;
    int rg;          /* row group being streamed, -1 before the first */
    int rg_open;     /* rows of rg are being yielded */
    int64_t rg_rows; /* rows in rg */
    int64_t row;     /* rows of rg yielded */
    /* decoding scratch, shared: one page is decoded at a time */
    uint32_t *u32;
    size_t u32cap;
    int64_t *i64;
    size_t i64cap;
};

/* Points *out at file bytes [off, off + len) of the stream's chunk. */
static int
ps_bytes(struct parquet_reader *r, struct pstream *s, uint64_t off, size_t len, const uint8_t **out,
         struct tc_err *err)
{
    size_t want;
    int rc;

    if (r->mem) {
        *out = r->mem + off;
        return TC_OK;
    }
    if (r->rgbuf_valid && off >= r->rgbuf_off && off - r->rgbuf_off <= r->rgbuf.len &&
        len <= r->rgbuf.len - (off - r->rgbuf_off)) {
        *out = (const uint8_t *)r->rgbuf.data + (off - r->rgbuf_off);
        return TC_OK;
    }
    if (s->ra_len && off >= s->ra_off && off - s->ra_off <= s->ra_len &&
        len <= s->ra_len - (off - s->ra_off)) {
        *out = s->ra + (off - s->ra_off);
        return TC_OK;
    }
    want = len > PARQUET_READAHEAD ? len : PARQUET_READAHEAD;
    if (want > s->end - off)
        want = (size_t)(s->end - off);
    s->ra_len = 0;
    if (want > s->ra_size) {
        /* exact sizes: most columns stay at the read-ahead, big pages grow one */
        uint8_t *p = tc_realloc(s->ra, want);
        if (p == NULL)
            return tc_err_set(err, TC_NOMEM, "%s: column %s: read-ahead of %zu bytes", r->name,
                              s->x.path, want);
        s->ra = p;
        s->ra_size = want;
    }
    if ((rc = read_at(r, off, want, s->ra, err)) != TC_OK)
        return rc;
    s->ra_len = want;
    s->ra_off = off;
    *out = s->ra;
    return TC_OK;
}

/* Drops the window before the current row (it is dead once the cursor moves). */
static void
ps_drop(struct pstream *s)
{
    struct parquet_colbuf *c = s->win;
    size_t dl = s->l0, dv = s->v0;

    if (dl == 0)
        return;
    if (c->n > dl) {
        memmove(c->rep, c->rep + dl, c->n - dl);
        memmove(c->def, c->def + dl, c->n - dl);
    }
    c->n -= dl;
    if (c->type == PARQUET_BYTE_ARRAY) {
        uint32_t base = c->offs[dv];
        if (c->dlen > base)
            memmove(c->data, c->data + base, c->dlen - base);
        c->dlen -= base;
        for (size_t i = 0; i + dv <= c->nv; i++)
            c->offs[i] = c->offs[i + dv] - base;
    } else if (c->nv > dv) {
        memmove(c->fixed, c->fixed + dv * (size_t)c->width, (c->nv - dv) * (size_t)c->width);
    }
    if (c->dict_key && c->nv > dv) /* then dix covers nv */
        memmove(c->dix, c->dix + dv, (c->nv - dv) * sizeof(uint32_t));
    c->nv -= dv;
    s->l1 -= dl;
    s->v1 -= dv;
    s->l0 = s->v0 = 0;
}

/* Decodes pages until one adds level entries or the chunk is done. */
static int
ps_page_decode(struct parquet_reader *r, struct pstream *s, struct tc_err *err)
{
    struct chunk_ctx *x = &s->x;
    int rc = TC_OK;

    while (!s->done) {
        struct page_hdr h;
        size_t hlen = 0, avail, peek, n0 = s->win->n;
        const uint8_t *p;
        if (s->values_left <= 0) {
            s->done = 1;
            break;
        }
        if (s->pos >= s->end) {
            rc = tc_err_set(err, TC_CORRUPT, "column %s: chunk ends %lld values short", x->path,
                            (long long)s->values_left);
            break;
        }
        avail = (size_t)(s->end - s->pos);
        peek = avail < PARQUET_HDR_PEEK ? avail : PARQUET_HDR_PEEK;
        for (;;) {
            if ((rc = ps_bytes(r, s, s->pos, peek, &p, err)) != TC_OK)
                return rc;
            if (parse_page_header(p, peek, &h, &hlen) == TC_OK)
                break;
            if (peek == avail || peek >= (size_t)PARQUET_MAX_PAGE) {
                rc = tc_err_set(err, TC_CORRUPT, "column %s: malformed page header at offset %llu",
                                x->path, (unsigned long long)s->pos);
                goto out;
            }
            peek = peek > avail / 4 ? avail : peek * 4;
        }
        if (h.csize < 0 || (size_t)h.csize > avail - hlen || h.usize < 0) {
            rc = tc_err_set(err, TC_CORRUPT, "column %s: page size %d exceeds chunk", x->path,
                            h.csize);
            break;
        }
        if ((rc = ps_bytes(r, s, s->pos, hlen + (size_t)h.csize, &p, err)) != TC_OK)
            return rc;
        p += hlen;
        if (h.type == PARQUET_DICTIONARY_PAGE && h.has_dict)
            rc = decode_dict_page(x, &h, p, (size_t)h.csize, s->codec);
        else if ((h.type == PARQUET_DATA_PAGE && h.has_data) ||
                 (h.type == PARQUET_DATA_PAGE_V2 && h.has_v2))
            rc = decode_data_page(x, &h, p, (size_t)h.csize, s->codec);
        else if (h.type == PARQUET_INDEX_PAGE)
            rc = TC_OK;
        else
            rc = tc_err_set(err, TC_CORRUPT, "column %s: page type %d without its header", x->path,
                            h.type);
        if (rc != TC_OK)
            break;
        s->pos += hlen + (size_t)h.csize;
        if (s->win->n > n0) {
            if (!s->started && s->win->rep[n0] != 0) {
                rc = tc_err_set(err, TC_CORRUPT, "column %s: chunk starts mid-row", x->path);
                break;
            }
            s->started = 1;
            s->values_left -= (int64_t)(s->win->n - n0);
            if (s->values_left < 0) {
                rc = tc_err_set(err, TC_CORRUPT, "column %s: pages hold more values than the chunk",
                                x->path);
                break;
            }
            return TC_OK;
        }
    }
out:
    return rc;
}

/* ps_page_decode with the cursor's shared scratch. */
static int
ps_page(struct parquet_cursor *cu, struct pstream *s, struct tc_err *err)
{
    struct parquet_reader *r = cu->r;
    struct chunk_ctx *x = &s->x;
    int rc;

    x->err = err;
    x->u32 = cu->u32;
    x->u32cap = cu->u32cap;
    x->i64 = cu->i64;
    x->i64cap = cu->i64cap;
    rc = ps_page_decode(r, s, err);
    cu->u32 = x->u32;
    cu->u32cap = x->u32cap;
    cu->i64 = x->i64;
    cu->i64cap = x->i64cap;
    x->u32 = NULL;
    x->i64 = NULL;
    x->u32cap = x->i64cap = 0;
    if (rc != TC_OK)
        tc_err_prefix(err, "%s: row group %d", r->name, cu->rg);
    return rc;
}

/* Moves the stream's row to the next one: [l1, next rep 0 or chunk end). */
static int
ps_next_row(struct parquet_cursor *cu, struct pstream *s, struct tc_err *err)
{
    struct parquet_colbuf *c = s->win;
    size_t l, v;
    int rc;

    s->l0 = s->l1;
    s->v0 = s->v1;
    while (s->l0 >= c->n) {
        if (s->done)
            return tc_err_set(err, TC_CORRUPT,
                              "%s: row group %d: column %s: %lld rows, row group "
                              "says %lld",
                              cu->r->name, cu->rg, s->x.path, (long long)cu->row,
                              (long long)cu->rg_rows);
        ps_drop(s);
        if ((rc = ps_page(cu, s, err)) != TC_OK)
            return rc;
    }
    l = s->l0 + 1;
    v = s->v0 + (c->def[s->l0] == c->max_def);
    for (;;) {
        while (l < c->n && c->rep[l] != 0) {
            v += c->def[l] == c->max_def;
            l++;
        }
        if (l < c->n || s->done)
            break;
        l -= s->l0;
        v -= s->v0;
        ps_drop(s);
        if ((rc = ps_page(cu, s, err)) != TC_OK)
            return rc;
    }
    s->l1 = l;
    s->v1 = v;
    return TC_OK;
}

static void
ps_cleanup(struct pstream *s)
{
    if (s->x.have_dict)
        parquet_colbuf_cleanup(&s->x.dict);
    s->x.have_dict = 0;
    parquet_colbuf_cleanup(&s->own);
    tc_free(s->ra);
}

static int
ps_begin(struct parquet_reader *r, struct pstream *s, int rg)
{
    const struct parquet_chunk_meta *cm = &r->meta->rowgroups[rg].cols[s->file_col];
    int64_t start = cm->data_page_offset;

    if (cm->dictionary_page_offset > 0 && cm->dictionary_page_offset < start)
        start = cm->dictionary_page_offset;
    if (s->x.have_dict)
        parquet_colbuf_cleanup(&s->x.dict);
    s->x.have_dict = 0;
    s->codec = cm->codec;
    s->pos = (uint64_t)(start > 0 ? start : 0);
    s->end = s->pos + (uint64_t)(cm->total_compressed > 0 ? cm->total_compressed : 0);
    s->values_left = cm->num_values;
    s->started = 0;
    s->done = cm->num_values == 0;
    s->ra_len = 0;
    parquet_colbuf_reset(s->win);
    s->l0 = s->v0 = s->l1 = s->v1 = 0;
    return TC_OK;
}

int
parquet_cursor_new(struct parquet_cursor **out, struct parquet_reader *r, struct tc_err *err)
{
    const struct parquet_schema *t = parquet_reader_row_schema(r);
    struct parquet_cursor *c = tc_calloc(1, sizeof(*c));
    size_t nc = (size_t)(t->ncolumns ? t->ncolumns : 1);
    int *hidden = NULL;

    *out = NULL;
    if (c == NULL)
        return tc_err_set(err, TC_NOMEM, "parquet cursor: out of memory");
    c->r = r;
    c->rg = -1;
    c->stream_of = tc_calloc(nc * 2, sizeof(int));
    c->l0 = tc_calloc(nc * 4, sizeof(size_t));
    /* at most one stream per row column plus one per hidden reference */
    c->st = tc_calloc(nc * 2, sizeof(*c->st));
    hidden = tc_calloc((size_t)r->schema->ncolumns + 1, sizeof(int));
    if (!c->stream_of || !c->l0 || !c->st || !hidden || parquet_rowset_init(&c->rs, t) != TC_OK)
        goto nomem;
    c->ref_of = c->stream_of + nc;
    c->l1 = c->l0 + nc;
    c->v0 = c->l1 + nc;
    c->v1 = c->v0 + nc;
    for (int i = 0; i < t->ncolumns; i++) {
        int fc = r->map ? r->map[i].file_col : i;
        c->stream_of[i] = -1;
        if (fc < 0)
            continue;
        c->st[c->nst].file_col = fc;
        c->st[c->nst].win = &c->rs.cols[i];
        c->stream_of[i] = c->nst++;
    }
    for (int i = 0; r->map && i < t->ncolumns; i++) {
        const struct parquet_colmap *m = &r->map[i];
        int fc = m->ref_file_col;
        if (m->file_col >= 0)
            continue;
        if (m->ref_target_col >= 0) {
            c->ref_of[i] = c->stream_of[m->ref_target_col];
            continue;
        }
        if (hidden[fc] == 0) {
            const struct parquet_node *rl = &r->schema->nodes[r->schema->columns[fc]];
            struct pstream *s = &c->st[c->nst];
            if (parquet_colbuf_init(&s->own, rl->type, rl->type_length, rl->def_level) != TC_OK)
                goto nomem;
            s->file_col = fc;
            s->win = &s->own;
            hidden[fc] = ++c->nst;
        }
        c->ref_of[i] = hidden[fc] - 1;
    }
    for (int i = 0; i < c->nst; i++) {
        struct pstream *s = &c->st[i];
        s->x.r = r;
        s->x.path = r->schema->paths[s->file_col];
        s->x.leaf = &r->schema->nodes[r->schema->columns[s->file_col]];
        s->x.out = s->win;
    }
    tc_free(hidden);
    *out = c;
    return TC_OK;
nomem:
    tc_free(hidden);
    parquet_cursor_free(c);
    return tc_err_set(err, TC_NOMEM, "parquet cursor: out of memory");
}

void
parquet_cursor_free(struct parquet_cursor *c)
{
    if (c == NULL)
        return;
    for (int i = 0; c->st && i < c->nst; i++)
        ps_cleanup(&c->st[i]);
    tc_free(c->st);
    tc_free(c->u32);
    tc_free(c->i64);
    tc_free(c->stream_of);
    tc_free(c->l0);
    parquet_rowset_cleanup(&c->rs);
    tc_free(c);
}

/* Checks that every chunk of the finished row group ended with its rows. */
static int
cursor_end_rowgroup(struct parquet_cursor *c, struct tc_err *err)
{
    for (int i = 0; i < c->nst; i++) {
        struct pstream *s = &c->st[i];
        if (s->l1 < s->win->n || !s->done)
            return tc_err_set(err, TC_CORRUPT,
                              "%s: row group %d: column %s: more rows than the row group's %lld",
                              c->r->name, c->rg, s->x.path, (long long)c->rg_rows);
    }
    return TC_OK;
}

static int
cursor_begin_rowgroup(struct parquet_cursor *c, struct tc_err *err)
{
    struct parquet_reader *r = c->r;
    const struct parquet_rowgroup_meta *g = &r->meta->rowgroups[c->rg];
    int rc;

    c->rg_rows = g->num_rows;
    c->row = 0;
    for (int i = 0; i < c->rs.ncols; i++)
        parquet_colbuf_reset(&c->rs.cols[i]);
    for (int i = 0; i < c->nst; i++)
        ps_begin(r, &c->st[i], c->rg);
    r->rgbuf_valid = 0;
    if (r->src.read_at && c->rg_rows > 0) {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (int k = 0; k < g->ncols; k++) {
            const struct parquet_chunk_meta *cm = &g->cols[k];
            int64_t start = cm->data_page_offset;
            if (cm->dictionary_page_offset > 0 && cm->dictionary_page_offset < start)
                start = cm->dictionary_page_offset;
            if ((uint64_t)start < lo)
                lo = (uint64_t)start;
            if ((uint64_t)start + (uint64_t)cm->total_compressed > hi)
                hi = (uint64_t)start + (uint64_t)cm->total_compressed;
        }
        /* a small row group: one read for all of it, as read_rowgroup does */
        if (hi > lo && hi - lo <= PARQUET_RG_PREFETCH_MAX &&
            (rc = prefetch_rowgroup(r, c->rg, err)) != TC_OK)
            return rc;
    }
    return TC_OK;
}

int
parquet_cursor_next(struct parquet_cursor *c, struct parquet_row *row, int *eof, struct tc_err *err)
{
    const struct parquet_schema *t = parquet_reader_row_schema(c->r);
    int rc;

    *eof = 0;
    while (!c->rg_open || c->row >= c->rg_rows) {
        if (c->rg_open) {
            c->rg_open = 0;
            if ((rc = cursor_end_rowgroup(c, err)) != TC_OK)
                return rc;
        }
        if (c->rg + 1 >= c->r->meta->nrowgroups) {
            *eof = 1;
            return TC_OK;
        }
        c->rg++;
        if ((rc = cursor_begin_rowgroup(c, err)) != TC_OK)
            return rc;
        c->rg_open = 1;
    }
    for (int i = 0; i < c->nst; i++)
        if ((rc = ps_next_row(c, &c->st[i], err)) != TC_OK)
            return rc;
    for (int i = 0; i < c->rs.ncols; i++) {
        struct parquet_colbuf *col = &c->rs.cols[i];
        if (c->stream_of[i] >= 0) {
            const struct pstream *s = &c->st[c->stream_of[i]];
            c->l0[i] = s->l0;
            c->l1[i] = s->l1;
            c->v0[i] = s->v0;
            c->v1[i] = s->v1;
            continue;
        }
        {
            const struct pstream *s = &c->st[c->ref_of[i]];
            parquet_colbuf_reset(col);
            rc = synthesize(&c->r->map[i], &t->nodes[t->columns[i]], s->win, s->l0, s->l1, col);
            if (rc != TC_OK)
                return tc_err_set(err, rc, "%s: column %s: cannot synthesize", c->r->name,
                                  t->paths[i]);
            c->l0[i] = c->v0[i] = 0;
            c->l1[i] = col->n;
            c->v1[i] = col->nv;
        }
    }
    c->row++;
    row->ncols = c->rs.ncols;
    row->cols = c->rs.cols;
    row->l0 = c->l0;
    row->l1 = c->l1;
    row->v0 = c->v0;
    row->v1 = c->v1;
    return TC_OK;
}

void
parquet_cursor_keep_dict(struct parquet_cursor *c)
{
    for (int i = 0; i < c->nst; i++)
        c->st[i].x.keep_dix = 1;
}

size_t
parquet_cursor_mem(const struct parquet_cursor *c)
{
    size_t n = c->r->page.size + (c->r->rgbuf_valid ? c->r->rgbuf.size : 0) +
               c->u32cap * sizeof(uint32_t) + c->i64cap * sizeof(int64_t);

    for (int i = 0; i < c->rs.ncols; i++)
        n += parquet_colbuf_bytes(&c->rs.cols[i]);
    for (int i = 0; i < c->nst; i++) {
        const struct pstream *s = &c->st[i];
        n += s->ra_size + parquet_colbuf_bytes(&s->own) +
             (s->x.have_dict ? parquet_colbuf_bytes(&s->x.dict) : 0);
    }
    return n;
}
