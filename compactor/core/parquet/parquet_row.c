/* parquet_row.c - column buffers, row views, record assembly and shredding. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "parquet/parquet_int.h"

static int
type_width(int type, int type_length)
{
    switch (type) {
    case PARQUET_BOOLEAN:
        return 1;
    case PARQUET_INT32:
    case PARQUET_FLOAT:
        return 4;
    case PARQUET_INT64:
    case PARQUET_DOUBLE:
        return 8;
    case PARQUET_INT96:
        return 12;
    case PARQUET_FIXED_LEN_BYTE_ARRAY:
        return type_length;
    default:
        return 0;
    }
}

int
parquet_colbuf_init(struct parquet_colbuf *c, int type, int type_length, int max_def)
{
    memset(c, 0, sizeof(*c));
    c->max_def = max_def;
    c->type = type;
    c->width = type_width(type, type_length);
    if (type == PARQUET_BYTE_ARRAY) {
        c->offs = tc_calloc(16, sizeof(uint32_t));
        if (c->offs == NULL)
            return TC_NOMEM;
        c->vcap = 15;
    }
    return TC_OK;
}

void
parquet_colbuf_cleanup(struct parquet_colbuf *c)
{
    tc_free(c->def);
    tc_free(c->rep);
    tc_free(c->fixed);
    tc_free(c->offs);
    tc_free(c->data);
    tc_free(c->dix);
    memset(c, 0, sizeof(*c));
}

void
parquet_colbuf_reset(struct parquet_colbuf *c)
{
    c->n = 0;
    c->nv = 0;
    c->dlen = 0;
    c->dict_key = 0;
    if (c->offs)
        c->offs[0] = 0;
}

size_t
parquet_colbuf_bytes(const struct parquet_colbuf *c)
{
    return c->ncap * 2 + c->vcap * (c->width ? (size_t)c->width : 4) + c->dcap +
           c->dixcap * sizeof(uint32_t);
}

static int
grow_levels(struct parquet_colbuf *c, size_t need)
{
    size_t ncap;
    uint8_t *d, *r;

    if (need <= c->ncap)
        return TC_OK;
    ncap = c->ncap ? c->ncap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    d = tc_realloc(c->def, ncap);
    if (d == NULL)
        return TC_NOMEM;
    c->def = d;
    r = tc_realloc(c->rep, ncap);
    if (r == NULL)
        return TC_NOMEM;
    c->rep = r;
    c->ncap = ncap;
    return TC_OK;
}

static int
grow_values(struct parquet_colbuf *c, size_t need)
{
    size_t vcap;

    if (need <= c->vcap)
        return TC_OK;
    vcap = c->vcap ? c->vcap * 2 : 64;
    while (vcap < need)
        vcap *= 2;
    if (c->type == PARQUET_BYTE_ARRAY) {
        uint32_t *o = tc_reallocarray(c->offs, vcap + 1, sizeof(uint32_t));
        if (o == NULL)
            return TC_NOMEM;
        c->offs = o;
    } else {
        uint8_t *f = tc_reallocarray(c->fixed, vcap, (size_t)c->width);
        if (f == NULL)
            return TC_NOMEM;
        c->fixed = f;
    }
    c->vcap = vcap;
    return TC_OK;
}

static int
grow_data(struct parquet_colbuf *c, size_t add)
{
    size_t dcap;
    uint8_t *d;

    if (add > UINT32_MAX - c->dlen)
        return TC_TOOBIG; /* offsets are 32-bit: a row group column over 4 GiB */
    if (c->dlen + add <= c->dcap)
        return TC_OK;
    dcap = c->dcap ? c->dcap * 2 : 256;
    while (dcap < c->dlen + add)
        dcap *= 2;
    d = tc_realloc(c->data, dcap);
    if (d == NULL)
        return TC_NOMEM;
    c->data = d;
    c->dcap = dcap;
    return TC_OK;
}

int
parquet_colbuf_push(struct parquet_colbuf *c, int rep, int def, int has_value, const void *v,
                    size_t len)
{
    int rc = grow_levels(c, c->n + 1);

    if (rc != TC_OK)
        return rc;
    c->rep[c->n] = (uint8_t)rep;
    c->def[c->n] = (uint8_t)def;
    c->n++;
    if (!has_value)
        return TC_OK;
    if ((rc = grow_values(c, c->nv + 1)) != TC_OK)
        return rc;
    if (c->type == PARQUET_BYTE_ARRAY) {
        if ((rc = grow_data(c, len)) != TC_OK)
            return rc;
        if (len)
            memcpy(c->data + c->dlen, v, len);
        c->dlen += len;
        c->offs[c->nv + 1] = (uint32_t)c->dlen;
    } else if (v) {
        memcpy(c->fixed + c->nv * (size_t)c->width, v, (size_t)c->width);
    } else {
        memset(c->fixed + c->nv * (size_t)c->width, 0, (size_t)c->width);
    }
    c->nv++;
    return TC_OK;
}

int
parquet_colbuf_reserve(struct parquet_colbuf *c, size_t nlevels, size_t nvalues, size_t nbytes)
{
    int rc = grow_levels(c, c->n + nlevels);

    if (rc == TC_OK)
        rc = grow_values(c, c->nv + nvalues);
    if (rc == TC_OK && c->type == PARQUET_BYTE_ARRAY)
        rc = grow_data(c, nbytes);
    return rc;
}

int
parquet_rowset_init(struct parquet_rowset *rs, const struct parquet_schema *s)
{
    memset(rs, 0, sizeof(*rs));
    rs->cols = tc_calloc((size_t)(s->ncolumns ? s->ncolumns : 1), sizeof(*rs->cols));
    if (rs->cols == NULL)
        return TC_NOMEM;
    rs->ncols = s->ncolumns;
    for (int i = 0; i < s->ncolumns; i++) {
        const struct parquet_node *nd = &s->nodes[s->columns[i]];
        if (parquet_colbuf_init(&rs->cols[i], nd->type, nd->type_length, nd->def_level) != TC_OK) {
            parquet_rowset_cleanup(rs);
            return TC_NOMEM;
        }
    }
    return TC_OK;
}

void
parquet_rowset_cleanup(struct parquet_rowset *rs)
{
    if (rs->cols)
        for (int i = 0; i < rs->ncols; i++)
            parquet_colbuf_cleanup(&rs->cols[i]);
    tc_free(rs->cols);
    memset(rs, 0, sizeof(*rs));
}

void
parquet_rowset_reset(struct parquet_rowset *rs)
{
    for (int i = 0; i < rs->ncols; i++)
        parquet_colbuf_reset(&rs->cols[i]);
    rs->nrows = 0;
}

int
parquet_rowset_append(struct parquet_rowset *rs, const struct parquet_row *row)
{
    if (row->ncols != rs->ncols)
        return TC_INVAL;
    for (int i = 0; i < rs->ncols; i++) {
        struct parquet_colbuf *d = &rs->cols[i];
        const struct parquet_colbuf *s = &row->cols[i];
        size_t nl = row->l1[i] - row->l0[i], nv = row->v1[i] - row->v0[i], nb = 0;
        int rc;
        if (s->type != d->type || s->width != d->width)
            return TC_INVAL;
        if (s->type == PARQUET_BYTE_ARRAY)
            nb = s->offs[row->v1[i]] - s->offs[row->v0[i]];
        rc = parquet_colbuf_reserve(d, nl, nv, nb);
        if (rc != TC_OK)
            return rc;
        memcpy(d->def + d->n, s->def + row->l0[i], nl);
        memcpy(d->rep + d->n, s->rep + row->l0[i], nl);
        d->n += nl;
        if (s->type == PARQUET_BYTE_ARRAY) {
            uint32_t base = s->offs[row->v0[i]];
            if (nb)
                memcpy(d->data + d->dlen, s->data + base, nb);
            for (size_t k = 0; k < nv; k++)
                d->offs[d->nv + k + 1] = (uint32_t)d->dlen + (s->offs[row->v0[i] + k + 1] - base);
            d->dlen += nb;
        } else if (nv) {
            memcpy(d->fixed + d->nv * (size_t)d->width, s->fixed + row->v0[i] * (size_t)s->width,
                   nv * (size_t)s->width);
        }
        d->nv += nv;
    }
    rs->nrows++;
    return TC_OK;
}

const uint8_t *
parquet_row_bytes(const struct parquet_row *row, int col, uint32_t *len)
{
    const struct parquet_colbuf *c;

    if (col < 0 || col >= row->ncols)
        return NULL;
    c = &row->cols[col];
    if (c->type != PARQUET_BYTE_ARRAY || row->v1[col] <= row->v0[col])
        return NULL;
    *len = c->offs[row->v0[col] + 1] - c->offs[row->v0[col]];
    return c->data ? c->data + c->offs[row->v0[col]] : (const uint8_t *)"";
}

int
parquet_row_equal(const struct parquet_row *a, const struct parquet_row *b)
{
    if (a->ncols != b->ncols)
        return 0;
    for (int i = 0; i < a->ncols; i++) {
        const struct parquet_colbuf *x = &a->cols[i], *y = &b->cols[i];
        size_t nl = a->l1[i] - a->l0[i], nv = a->v1[i] - a->v0[i];
        if (nl != b->l1[i] - b->l0[i] || nv != b->v1[i] - b->v0[i] || x->type != y->type)
            return 0;
        if (nl && (memcmp(x->def + a->l0[i], y->def + b->l0[i], nl) != 0 ||
                   memcmp(x->rep + a->l0[i], y->rep + b->l0[i], nl) != 0))
            return 0;
        if (x->type == PARQUET_BYTE_ARRAY) {
            for (size_t k = 0; k < nv; k++) {
                uint32_t xa = x->offs[a->v0[i] + k], xl = x->offs[a->v0[i] + k + 1] - xa;
                uint32_t ya = y->offs[b->v0[i] + k], yl = y->offs[b->v0[i] + k + 1] - ya;
                if (xl != yl || (xl && memcmp(x->data + xa, y->data + ya, xl) != 0))
                    return 0;
            }
        } else if (nv &&
                   memcmp(x->fixed + a->v0[i] * (size_t)x->width,
                          y->fixed + b->v0[i] * (size_t)y->width, nv * (size_t)x->width) != 0) {
            return 0;
        }
    }
    return 1;
}

size_t
parquet_row_estimate_size(const struct parquet_row *row)
{
    size_t n = 0;

    for (int i = 0; i < row->ncols; i++)
        n += row->l1[i] - row->l0[i];
    return n;
}

size_t
parquet_row_estimate_proto_size(const struct parquet_row *row)
{
    size_t n = 0;

    for (int i = 0; i < row->ncols; i++) {
        const struct parquet_colbuf *c = &row->cols[i];
        size_t nl = row->l1[i] - row->l0[i], nv = row->v1[i] - row->v0[i];
        n += nl * 2;
        if (c->type == PARQUET_BYTE_ARRAY)
            n += c->offs[row->v1[i]] - c->offs[row->v0[i]] - nv;
        else if (c->type == PARQUET_FIXED_LEN_BYTE_ARRAY)
            n += nv * (size_t)c->width - nv;
    }
    return n;
}

int
parquet_rowiter_init(struct parquet_rowiter *it, const struct parquet_rowset *rs)
{
    size_t n = (size_t)(rs->ncols ? rs->ncols : 1);

    memset(it, 0, sizeof(*it));
    it->rs = rs;
    it->l0 = tc_calloc(n * 4, sizeof(size_t));
    if (it->l0 == NULL)
        return TC_NOMEM;
    it->l1 = it->l0 + n;
    it->v0 = it->l1 + n;
    it->v1 = it->v0 + n;
    return TC_OK;
}

void
parquet_rowiter_cleanup(struct parquet_rowiter *it)
{
    tc_free(it->l0);
    memset(it, 0, sizeof(*it));
}

int
parquet_rowiter_next(struct parquet_rowiter *it, struct parquet_row *row)
{
    const struct parquet_rowset *rs = it->rs;

    if (it->idx >= rs->nrows)
        return 0;
    for (int i = 0; i < rs->ncols; i++) {
        const struct parquet_colbuf *c = &rs->cols[i];
        size_t l = it->l1[i], v = it->v1[i];
        it->l0[i] = l;
        it->v0[i] = v;
        if (l < c->n) {
            v += c->def[l] == c->max_def;
            l++;
        }
        while (l < c->n && c->rep[l] != 0) {
            v += c->def[l] == c->max_def;
            l++;
        }
        it->l1[i] = l;
        it->v1[i] = v;
    }
    it->idx++;
    row->ncols = rs->ncols;
    row->cols = rs->cols;
    row->l0 = it->l0;
    row->l1 = it->l1;
    row->v0 = it->v0;
    row->v1 = it->v1;
    return 1;
}

/* ---- arena ---- */

struct parquet_arena_blk {
    struct parquet_arena_blk *next;
    size_t size, used;
    max_align_t data[];
};

void
parquet_arena_init(struct parquet_arena *a)
{
    a->head = NULL;
    a->used_total = 0;
}

void
parquet_arena_cleanup(struct parquet_arena *a)
{
    struct parquet_arena_blk *b = a->head, *n;

    while (b) {
        n = b->next;
        tc_free(b);
        b = n;
    }
    a->head = NULL;
    a->used_total = 0;
}

void
parquet_arena_reset(struct parquet_arena *a)
{
    struct parquet_arena_blk *b;

    /* keep the newest (largest) block only */
    if (a->head == NULL)
        return;
    b = a->head->next;
    while (b) {
        struct parquet_arena_blk *n = b->next;
        tc_free(b);
        b = n;
    }
    a->head->next = NULL;
    a->head->used = 0;
    a->used_total = 0;
}

void *
parquet_arena_alloc(struct parquet_arena *a, size_t n)
{
    struct parquet_arena_blk *b = a->head;
    void *p;

    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (b == NULL || b->size - b->used < n) {
        size_t sz = b ? b->size * 2 : 64 * 1024;
        if (sz > (64u << 20))
            sz = 64u << 20;
        if (sz < n)
            sz = n;
        b = tc_malloc(sizeof(*b) + sz);
        if (b == NULL)
            return NULL;
        b->size = sz;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    p = (char *)b->data + b->used;
    b->used += n;
    a->used_total += n;
    memset(p, 0, n);
    return p;
}

/* ---- assembly ---- */

struct asm_ctx {
    const struct parquet_schema *s;
    struct parquet_arena *a;
    struct tc_err *err;
};

static int
val_group(struct asm_ctx *x, struct parquet_val *v, const struct parquet_node *nd)
{
    if (v->kind == PARQUET_V_GROUP)
        return TC_OK;
    v->kind = PARQUET_V_GROUP;
    v->n = (uint32_t)nd->num_children;
    v->items = parquet_arena_alloc(x->a, sizeof(struct parquet_val) *
                                             (nd->num_children ? nd->num_children : 1));
    return v->items ? TC_OK : TC_NOMEM;
}

/* Returns item idx of list v, appending when idx == n. */
static struct parquet_val *
val_list_item(struct asm_ctx *x, struct parquet_val *v, size_t idx)
{
    if (v->kind != PARQUET_V_LIST) {
        v->kind = PARQUET_V_LIST;
        v->n = 0;
        v->i = 0; /* capacity */
        v->items = NULL;
    }
    if (idx < v->n)
        return &v->items[idx];
    if (idx != v->n)
        return NULL;
    if (v->n == (uint32_t)v->i) {
        size_t ncap = v->i ? (size_t)v->i * 2 : 4;
        struct parquet_val *ni = parquet_arena_alloc(x->a, ncap * sizeof(*ni));
        if (ni == NULL)
            return NULL;
        if (v->n)
            memcpy(ni, v->items, v->n * sizeof(*ni));
        v->items = ni;
        v->i = (int64_t)ncap;
    }
    return &v->items[v->n++];
}

static int
child_pos(const struct parquet_node *parent, int child)
{
    for (int k = 0; k < parent->num_children; k++)
        if (parent->children[k] == child)
            return k;
    return -1;
}

static void
set_scalar(struct parquet_val *v, const struct parquet_colbuf *c, size_t vi)
{
    v->kind = PARQUET_V_SCALAR;
    switch (c->type) {
    case PARQUET_BOOLEAN:
        v->i = c->fixed[vi] != 0;
        break;
    case PARQUET_INT32: {
        int32_t x;
        memcpy(&x, c->fixed + vi * 4, 4);
        v->i = x;
        break;
    }
    case PARQUET_INT64:
        memcpy(&v->i, c->fixed + vi * 8, 8);
        break;
    case PARQUET_FLOAT: {
        float f;
        memcpy(&f, c->fixed + vi * 4, 4);
        v->d = f;
        break;
    }
    case PARQUET_DOUBLE:
        memcpy(&v->d, c->fixed + vi * 8, 8);
        break;
    case PARQUET_BYTE_ARRAY:
        v->b = c->data ? c->data + c->offs[vi] : (const uint8_t *)"";
        v->len = c->offs[vi + 1] - c->offs[vi];
        break;
    default:
        v->b = c->fixed + vi * (size_t)c->width;
        v->len = (uint32_t)c->width;
        break;
    }
}

static int
assemble_column(struct asm_ctx *x, const struct parquet_row *row, int col, struct parquet_val *root)
{
    const struct parquet_schema *s = x->s;
    int path[PARQUET_MAX_LEVEL * 4], pos[PARQUET_MAX_LEVEL * 4], np = 0, leaf = s->columns[col];
    int kstart[PARQUET_MAX_LEVEL + 1], reached;
    /* the walk's state before step k in the last entry: an entry repeating
     * at level r resumes at its list instead of walking from the root */
    struct parquet_val *ccur[PARQUET_MAX_LEVEL * 4];
    const struct parquet_node *cnd[PARQUET_MAX_LEVEL * 4];
    size_t idx[PARQUET_MAX_LEVEL + 1];
    const struct parquet_colbuf *c = &row->cols[col];
    size_t vi = row->v0[col];
    int max_rep = s->nodes[leaf].rep_level, max_def = s->nodes[leaf].def_level;

    for (int j = leaf; j > 0 && np < (int)TC_ARRAY_LEN(path); j = s->nodes[j].parent)
        path[np++] = j;
    /* child positions along the path, once per column rather than per level */
    for (int k = 0; k < np; k++) {
        pos[k] = child_pos(&s->nodes[s->nodes[path[k]].parent], path[k]);
        if (s->nodes[path[k]].repetition == PARQUET_REPEATED &&
            s->nodes[path[k]].rep_level <= PARQUET_MAX_LEVEL)
            kstart[s->nodes[path[k]].rep_level] = k;
    }
    memset(idx, 0, sizeof(idx));
    reached = np;
    for (size_t l = row->l0[col]; l < row->l1[col]; l++) {
        int r = c->rep[l], d = c->def[l], k0 = np - 1;
        struct parquet_val *cur = root;
        const struct parquet_node *curnd = &s->nodes[0];
        if (r > max_rep || d > max_def || (l == row->l0[col] && r != 0) ||
            (l > row->l0[col] && r == 0))
            return tc_err_set(x->err, TC_CORRUPT, "column %s: bad levels r=%d d=%d", s->paths[col],
                              r, d);
        if (r > 0)
            idx[r]++;
        for (int k = r + 1; k <= max_rep; k++)
            idx[k] = 0;
        if (r > 0 && kstart[r] >= reached) {
            k0 = kstart[r];
            cur = ccur[k0];
            curnd = cnd[k0];
        }
        for (int k = k0; k >= 0; k--) {
            const struct parquet_node *nd = &s->nodes[path[k]];
            struct parquet_val *slot;
            ccur[k] = cur;
            cnd[k] = curnd;
            reached = k;
            if (val_group(x, cur, curnd) != TC_OK)
                return tc_err_set(x->err, TC_NOMEM, "assemble: out of memory");
            slot = &cur->items[pos[k]];
            if (nd->def_level > d) {
                /* not defined here: an empty list or a null */
                if (nd->repetition == PARQUET_REPEATED && slot->kind == PARQUET_V_NULL) {
                    slot->kind = PARQUET_V_LIST;
                    slot->n = 0;
                    slot->i = 0;
                }
                if (nd->repetition == PARQUET_REPEATED && nd->rep_level <= r)
                    return tc_err_set(x->err, TC_CORRUPT,
                                      "column %s: repetition into an undefined list",
                                      s->paths[col]);
                break;
            }
            if (nd->repetition == PARQUET_REPEATED) {
                slot = val_list_item(x, slot, idx[nd->rep_level]);
                if (slot == NULL)
                    return tc_err_set(x->err, TC_CORRUPT,
                                      "column %s: list shape differs from sibling columns",
                                      s->paths[col]);
            }
            if (nd->leaf) {
                if (vi >= row->v1[col])
                    return tc_err_set(x->err, TC_CORRUPT, "column %s: value count mismatch",
                                      s->paths[col]);
                set_scalar(slot, c, vi++);
            }
            cur = slot;
            curnd = nd;
        }
    }
    if (vi != row->v1[col])
        return tc_err_set(x->err, TC_CORRUPT, "column %s: value count mismatch", s->paths[col]);
    return TC_OK;
}

int
parquet_row_assemble(const struct parquet_row *row, const struct parquet_schema *s,
                     struct parquet_arena *a, struct parquet_val **out, struct tc_err *err)
{
    struct asm_ctx x = {s, a, err};
    struct parquet_val *root;
    int rc;

    if (row->ncols != s->ncolumns)
        return tc_err_set(err, TC_INVAL, "assemble: row has %d columns, schema %d", row->ncols,
                          s->ncolumns);
    root = parquet_arena_alloc(a, sizeof(*root));
    if (root == NULL || val_group(&x, root, &s->nodes[0]) != TC_OK)
        return tc_err_set(err, TC_NOMEM, "assemble: out of memory");
    for (int col = 0; col < s->ncolumns; col++) {
        rc = assemble_column(&x, row, col, root);
        if (rc != TC_OK)
            return rc;
    }
    *out = root;
    return TC_OK;
}

/* ---- shredding ---- */

static int
emit_nulls(const struct parquet_schema *s, int node, struct parquet_rowset *rs, int rep, int def)
{
    const struct parquet_node *nd = &s->nodes[node];
    int rc;

    if (nd->leaf)
        return parquet_colbuf_push(&rs->cols[nd->column], rep, def, 0, NULL, 0);
    for (int k = 0; k < nd->num_children; k++)
        if ((rc = emit_nulls(s, nd->children[k], rs, rep, def)) != TC_OK)
            return rc;
    return TC_OK;
}

static int
emit_leaf(const struct parquet_node *nd, const struct parquet_val *v, struct parquet_colbuf *c,
          int rep)
{
    uint8_t tmp[12];
    static const uint8_t zero[16];

    if (v == NULL || v->kind != PARQUET_V_SCALAR) {
        /* required leaf without a value: the type's zero */
        if (c->type == PARQUET_BYTE_ARRAY)
            return parquet_colbuf_push(c, rep, nd->def_level, 1, "", 0);
        if (c->width <= (int)sizeof(zero))
            return parquet_colbuf_push(c, rep, nd->def_level, 1, zero, (size_t)c->width);
        return parquet_colbuf_push(c, rep, nd->def_level, 1, NULL, 0);
    }
    switch (c->type) {
    case PARQUET_BOOLEAN:
        tmp[0] = v->i != 0;
        return parquet_colbuf_push(c, rep, nd->def_level, 1, tmp, 1);
    case PARQUET_INT32: {
        int32_t x = (int32_t)v->i;
        return parquet_colbuf_push(c, rep, nd->def_level, 1, &x, 4);
    }
    case PARQUET_INT64:
        return parquet_colbuf_push(c, rep, nd->def_level, 1, &v->i, 8);
    case PARQUET_FLOAT: {
        float f = (float)v->d;
        return parquet_colbuf_push(c, rep, nd->def_level, 1, &f, 4);
    }
    case PARQUET_DOUBLE:
        return parquet_colbuf_push(c, rep, nd->def_level, 1, &v->d, 8);
    case PARQUET_BYTE_ARRAY:
        return parquet_colbuf_push(c, rep, nd->def_level, 1, v->b, v->len);
    default:
        if (v->len != (uint32_t)c->width)
            return TC_INVAL;
        return parquet_colbuf_push(c, rep, nd->def_level, 1, v->b, v->len);
    }
}

static int shred_present(const struct parquet_schema *s, int node, const struct parquet_val *v,
                         struct parquet_rowset *rs, int rep);

static int
shred_child(const struct parquet_schema *s, int ch, const struct parquet_val *slot,
            struct parquet_rowset *rs, int rep, int def)
{
    const struct parquet_node *cn = &s->nodes[ch];
    int rc;

    if (cn->repetition == PARQUET_REPEATED) {
        if (slot == NULL || slot->kind != PARQUET_V_LIST || slot->n == 0)
            return emit_nulls(s, ch, rs, rep, def);
        for (uint32_t k = 0; k < slot->n; k++)
            if ((rc = shred_present(s, ch, &slot->items[k], rs, k == 0 ? rep : cn->rep_level)) !=
                TC_OK)
                return rc;
        return TC_OK;
    }
    if (cn->repetition == PARQUET_OPTIONAL && (slot == NULL || slot->kind == PARQUET_V_NULL))
        return emit_nulls(s, ch, rs, rep, def);
    return shred_present(s, ch, slot, rs, rep);
}

static int
shred_present(const struct parquet_schema *s, int node, const struct parquet_val *v,
              struct parquet_rowset *rs, int rep)
{
    const struct parquet_node *nd = &s->nodes[node];
    int rc;

    if (nd->leaf)
        return emit_leaf(nd, v, &rs->cols[nd->column], rep);
    for (int k = 0; k < nd->num_children; k++) {
        const struct parquet_val *slot =
            v && v->kind == PARQUET_V_GROUP && (uint32_t)k < v->n ? &v->items[k] : NULL;
        if ((rc = shred_child(s, nd->children[k], slot, rs, rep, nd->def_level)) != TC_OK)
            return rc;
    }
    return TC_OK;
}

int
parquet_shred(const struct parquet_val *rec, const struct parquet_schema *s,
              struct parquet_rowset *rs, struct tc_err *err)
{
    int rc;

    if (rs->ncols != s->ncolumns)
        return tc_err_set(err, TC_INVAL, "shred: rowset has %d columns, schema %d", rs->ncols,
                          s->ncolumns);
    rc = shred_present(s, 0, rec, rs, 0);
    if (rc != TC_OK)
        return tc_err_set(err, rc, "shred: %s", tc_strerror(rc));
    rs->nrows++;
    return TC_OK;
}

/* ---- navigation ---- */

struct parquet_nav
parquet_nav_root(const struct parquet_schema *s, const struct parquet_val *root)
{
    struct parquet_nav r = {s, 0, root};

    return r;
}

struct parquet_nav
parquet_nav_get(struct parquet_nav p, const char *name)
{
    struct parquet_nav r = {p.s, -1, NULL};
    const struct parquet_node *nd;

    if (p.node < 0)
        return r;
    nd = &p.s->nodes[p.node];
    for (int k = 0; k < nd->num_children; k++)
        if (p.s->nodes[nd->children[k]].name[0] == name[0] &&
            strcmp(p.s->nodes[nd->children[k]].name, name) == 0) {
            r.node = nd->children[k];
            /* items[k] is the k-th child only in an assembled GROUP */
            if (p.v && p.v->kind == PARQUET_V_GROUP && (uint32_t)k < p.v->n)
                r.v = &p.v->items[k];
            break;
        }
    return r;
}

uint32_t
parquet_nav_len(struct parquet_nav l)
{
    if (l.node < 0 || l.v == NULL || l.v->kind != PARQUET_V_GROUP || l.v->n < 1 ||
        l.v->items[0].kind != PARQUET_V_LIST)
        return 0;
    return l.v->items[0].n;
}

struct parquet_nav
parquet_nav_entry(struct parquet_nav l, uint32_t i)
{
    struct parquet_nav r = {l.s, -1, NULL};

    if (i >= parquet_nav_len(l) || l.s->nodes[l.node].num_children < 1)
        return r;
    r.node = l.s->nodes[l.node].children[0];
    r.v = &l.v->items[0].items[i];
    return r;
}

struct parquet_nav
parquet_nav_at(struct parquet_nav l, uint32_t i)
{
    struct parquet_nav r = parquet_nav_entry(l, i), e = {l.s, -1, NULL};

    if (r.node < 0 || r.s->nodes[r.node].num_children < 1)
        return e;
    e.node = r.s->nodes[r.node].children[0];
    /* a repeated group with a null element assembles as no GROUP */
    e.v = r.v->kind == PARQUET_V_GROUP ? &r.v->items[0] : NULL;
    return e;
}

const struct parquet_val *
parquet_nav_scalar(struct parquet_nav p, const char *name)
{
    const struct parquet_val *v = name ? parquet_nav_get(p, name).v : p.v;

    return v && v->kind == PARQUET_V_SCALAR ? v : NULL;
}

int64_t
parquet_nav_i64(struct parquet_nav p, const char *name)
{
    const struct parquet_val *v = parquet_nav_scalar(p, name);

    return v ? v->i : 0;
}

double
parquet_nav_f64(struct parquet_nav p, const char *name)
{
    const struct parquet_val *v = parquet_nav_scalar(p, name);

    return v ? v->d : 0;
}

const uint8_t *
parquet_nav_bytes(struct parquet_nav p, const char *name, uint32_t *len)
{
    const struct parquet_val *v = parquet_nav_scalar(p, name);

    *len = v ? v->len : 0;
    return v ? v->b : (const uint8_t *)"";
}

/* ---- JSON ---- */

static int
json_str(struct buf *b, const uint8_t *p, size_t n)
{
    int rc = buf_putc(b, '"');

    for (size_t i = 0; i < n && rc == TC_OK; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            rc = buf_putc(b, '\\');
            if (rc == TC_OK)
                rc = buf_putc(b, (char)c);
        } else if (c < 0x20) {
            rc = buf_printf(b, "\\u%04x", c);
        } else {
            rc = buf_putc(b, (char)c);
        }
    }
    if (rc == TC_OK)
        rc = buf_putc(b, '"');
    return rc;
}

static int
json_hex(struct buf *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    int rc = buf_putc(b, '"');

    for (size_t i = 0; i < n && rc == TC_OK; i++) {
        char t[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        rc = buf_append(b, t, 2);
    }
    if (rc == TC_OK)
        rc = buf_putc(b, '"');
    return rc;
}

static int
is_stringy(const struct parquet_node *nd)
{
    return nd->converted == PARQUET_CT_UTF8 || nd->converted == PARQUET_CT_JSON ||
           nd->logical == 1 || nd->logical == 4 || nd->logical == 12;
}

static int
json_scalar(const struct parquet_node *nd, const struct parquet_val *v, struct buf *b)
{
    int uns = (nd->converted >= PARQUET_CT_UINT_8 && nd->converted <= PARQUET_CT_UINT_64) ||
              (nd->logical == 10 && !nd->int_signed && nd->int_bits > 0);

    if (v == NULL || v->kind != PARQUET_V_SCALAR)
        return buf_puts(b, "null");
    switch (nd->type) {
    case PARQUET_BOOLEAN:
        return buf_puts(b, v->i ? "true" : "false");
    case PARQUET_INT32:
        if (uns)
            return buf_printf(b, "%u", (uint32_t)v->i);
        return buf_printf(b, "%d", (int32_t)v->i);
    case PARQUET_INT64:
        if (uns)
            return buf_printf(b, "\"%llu\"", (unsigned long long)(uint64_t)v->i);
        return buf_printf(b, "\"%lld\"", (long long)v->i);
    case PARQUET_FLOAT:
    case PARQUET_DOUBLE:
        if (isnan(v->d) || isinf(v->d))
            return buf_printf(b, "\"%s\"",
                              isnan(v->d) ? "NaN"
                              : v->d > 0  ? "Infinity"
                                          : "-Infinity");
        return buf_printf(b, "%.17g", v->d);
    case PARQUET_BYTE_ARRAY:
        if (is_stringy(nd))
            return json_str(b, v->b, v->len);
        return json_hex(b, v->b, v->len);
    default:
        return json_hex(b, v->b, v->len);
    }
}

static int json_node(const struct parquet_schema *s, int node, const struct parquet_val *v,
                     struct buf *b);

/* A repeated node's items as a JSON array. */
static int
json_items(const struct parquet_schema *s, int node, const struct parquet_val *v, struct buf *b)
{
    int rc = buf_putc(b, '[');

    for (uint32_t k = 0; v && v->kind == PARQUET_V_LIST && k < v->n && rc == TC_OK; k++) {
        if (k)
            rc = buf_putc(b, ',');
        if (rc == TC_OK)
            rc = json_node(s, node, &v->items[k], b);
    }
    if (rc == TC_OK)
        rc = buf_putc(b, ']');
    return rc;
}

static int
json_node(const struct parquet_schema *s, int node, const struct parquet_val *v, struct buf *b)
{
    const struct parquet_node *nd = &s->nodes[node];
    int rc;

    if (nd->leaf)
        return json_scalar(nd, v, b);
    if (v == NULL || v->kind != PARQUET_V_GROUP)
        return buf_puts(b, "null");
    /* LIST / MAP annotated: group -> repeated child -> (element) */
    if ((nd->converted == PARQUET_CT_LIST || nd->converted == PARQUET_CT_MAP || nd->logical == 2 ||
         nd->logical == 3) &&
        nd->num_children == 1 && s->nodes[nd->children[0]].repetition == PARQUET_REPEATED) {
        int rnode = nd->children[0];
        const struct parquet_node *rn = &s->nodes[rnode];
        const struct parquet_val *lst = &v->items[0];
        int three = (nd->converted == PARQUET_CT_LIST || nd->logical == 3) && !rn->leaf &&
                    rn->num_children == 1;
        rc = buf_putc(b, '[');
        for (uint32_t k = 0; lst->kind == PARQUET_V_LIST && k < lst->n && rc == TC_OK; k++) {
            const struct parquet_val *it = &lst->items[k];
            if (k)
                rc = buf_putc(b, ',');
            if (rc != TC_OK)
                break;
            if (three)
                rc = json_node(s, rn->children[0],
                               it->kind == PARQUET_V_GROUP ? &it->items[0] : NULL, b);
            else
                rc = json_node(s, rnode, it, b);
        }
        if (rc == TC_OK)
            rc = buf_putc(b, ']');
        return rc;
    }
    rc = buf_putc(b, '{');
    for (int k = 0; k < nd->num_children && rc == TC_OK; k++) {
        int ch = nd->children[k];
        if (k)
            rc = buf_putc(b, ',');
        if (rc == TC_OK)
            rc = json_str(b, (const uint8_t *)s->nodes[ch].name, strlen(s->nodes[ch].name));
        if (rc == TC_OK)
            rc = buf_putc(b, ':');
        if (rc != TC_OK)
            break;
        if (s->nodes[ch].repetition == PARQUET_REPEATED)
            rc = json_items(s, ch, &v->items[k], b);
        else
            rc = json_node(s, ch, &v->items[k], b);
    }
    if (rc == TC_OK)
        rc = buf_putc(b, '}');
    return rc;
}

int
parquet_val_json(const struct parquet_val *v, const struct parquet_schema *s, int node,
                 struct buf *b)
{
    return json_node(s, node, v, b);
}
