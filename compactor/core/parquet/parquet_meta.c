/* parquet_meta.c - schema trees and the footer (FileMetaData) codec. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "parquet/parquet_int.h"

const char *
parquet_type_name(int type)
{
    static const char *const n[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                    "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return type >= 0 && type < 8 ? n[type] : "?";
}

const char *
parquet_codec_name(int codec)
{
    static const char *const n[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                    "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec < 8 ? n[codec] : "?";
}

const char *
parquet_encoding_name(int enc)
{
    static const char *const n[] = {
        "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
        "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return enc >= 0 && enc < 10 ? n[enc] : "?";
}

/* ---- schema ---- */

void
parquet_schema_free(struct parquet_schema *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->nnodes; i++) {
        tc_free(s->nodes[i].name);
        tc_free(s->nodes[i].children);
    }
    for (int i = 0; i < s->ncolumns; i++)
        tc_free(s->paths[i]);
    tc_free(s->nodes);
    tc_free(s->columns);
    tc_free(s->paths);
    tc_free(s);
}

/* Fills parent/children/levels/columns/paths from nodes[] whose name, leaf,
 * num_children and types are set, in depth-first order. */
static int
schema_link(struct parquet_schema *s, struct tc_err *err)
{
    int *stack, *left, sp = 0, ncols = 0;

    if (s->nnodes < 1)
        return tc_err_set(err, TC_PARSE, "parquet schema: no root element");
    stack = tc_calloc((size_t)s->nnodes, sizeof(int));
    left = tc_calloc((size_t)s->nnodes, sizeof(int));
    if (!stack || !left) {
        tc_free(stack);
        tc_free(left);
        return tc_err_set(err, TC_NOMEM, "parquet schema: out of memory");
    }
    for (int i = 0; i < s->nnodes; i++) {
        struct parquet_node *nd = &s->nodes[i];
        nd->column = -1;
        if (i == 0) {
            nd->parent = -1;
            nd->def_level = nd->rep_level = 0;
            nd->repetition = PARQUET_REQUIRED;
        } else {
            struct parquet_node *p;
            while (sp > 0 && left[stack[sp - 1]] == 0)
                sp--;
            if (sp == 0)
                goto bad;
            nd->parent = stack[sp - 1];
            p = &s->nodes[nd->parent];
            p->children[p->num_children - left[nd->parent]] = i;
            left[nd->parent]--;
            if (nd->repetition < 0 || nd->repetition > 2)
                goto bad;
            nd->def_level = p->def_level + (nd->repetition != PARQUET_REQUIRED);
            nd->rep_level = p->rep_level + (nd->repetition == PARQUET_REPEATED);
            if (nd->def_level > PARQUET_MAX_LEVEL)
                goto bad;
        }
        if (nd->num_children < 0 || nd->num_children > s->nnodes)
            goto bad;
        nd->leaf = nd->num_children == 0 && i > 0;
        if (nd->num_children > 0) {
            nd->children = tc_calloc((size_t)nd->num_children, sizeof(int));
            if (nd->children == NULL)
                goto nomem;
            left[i] = nd->num_children;
            stack[sp++] = i;
        } else if (nd->leaf) {
            if (nd->type < 0 || nd->type > PARQUET_FIXED_LEN_BYTE_ARRAY)
                goto bad;
            if (nd->type == PARQUET_FIXED_LEN_BYTE_ARRAY &&
                (nd->type_length <= 0 || nd->type_length > (1 << 20)))
                goto bad;
            ncols++;
        }
    }
    for (int i = 0; i < s->nnodes; i++)
        if (left[i] != 0)
            goto bad;
    s->columns = tc_calloc((size_t)(ncols ? ncols : 1), sizeof(int));
    s->paths = tc_calloc((size_t)(ncols ? ncols : 1), sizeof(char *));
    if (!s->columns || !s->paths)
        goto nomem;
    for (int i = 1; i < s->nnodes; i++) {
        struct buf b;
        int chain[PARQUET_MAX_LEVEL * 4], nch = 0;
        if (!s->nodes[i].leaf)
            continue;
        for (int j = i; j > 0 && nch < (int)TC_ARRAY_LEN(chain); j = s->nodes[j].parent)
            chain[nch++] = j;
        buf_init(&b, 1 << 16);
        for (int k = nch - 1; k >= 0; k--) {
            if (buf_puts(&b, s->nodes[chain[k]].name) != TC_OK ||
                (k > 0 && buf_putc(&b, '.') != TC_OK))
                goto nomem;
        }
        s->nodes[i].column = s->ncolumns;
        s->columns[s->ncolumns] = i;
        s->paths[s->ncolumns] = buf_take(&b, NULL);
        if (s->paths[s->ncolumns] == NULL)
            s->paths[s->ncolumns] = tc_strdup("");
        if (s->paths[s->ncolumns] == NULL)
            goto nomem;
        s->ncolumns++;
    }
    tc_free(stack);
    tc_free(left);
    return TC_OK;
bad:
    tc_free(stack);
    tc_free(left);
    return tc_err_set(err, TC_PARSE, "parquet schema: malformed element tree");
nomem:
    tc_free(stack);
    tc_free(left);
    return tc_err_set(err, TC_NOMEM, "parquet schema: out of memory");
}

int
parquet_schema_find(const struct parquet_schema *s, const char *path)
{
    for (int i = 0; i < s->ncolumns; i++)
        if (strcmp(s->paths[i], path) == 0)
            return i;
    return -1;
}

int
parquet_schema_max_def(const struct parquet_schema *s, int col)
{
    return s->nodes[s->columns[col]].def_level;
}

int
parquet_schema_max_rep(const struct parquet_schema *s, int col)
{
    return s->nodes[s->columns[col]].rep_level;
}

struct parquet_schema *
parquet_schema_dup(const struct parquet_schema *s)
{
    struct parquet_schema *d = tc_calloc(1, sizeof(*d));
    struct tc_err err;

    if (d == NULL)
        return NULL;
    d->nodes = tc_calloc((size_t)s->nnodes, sizeof(*d->nodes));
    if (d->nodes == NULL) {
        tc_free(d);
        return NULL;
    }
    d->nnodes = s->nnodes;
    for (int i = 0; i < s->nnodes; i++) {
        d->nodes[i] = s->nodes[i];
        d->nodes[i].children = NULL;
        d->nodes[i].name = tc_strdup(s->nodes[i].name);
        if (d->nodes[i].name == NULL) {
            parquet_schema_free(d);
            return NULL;
        }
    }
    if (schema_link(d, &err) != TC_OK) {
        parquet_schema_free(d);
        return NULL;
    }
    return d;
}

static const char *
rep_name(int r)
{
    return r == PARQUET_REQUIRED ? "required" : r == PARQUET_OPTIONAL ? "optional" : "repeated";
}

static const char *
conv_name(int c)
{
    switch (c) {
    case PARQUET_CT_UTF8:
        return "UTF8";
    case PARQUET_CT_MAP:
        return "MAP";
    case PARQUET_CT_MAP_KEY_VALUE:
        return "MAP_KEY_VALUE";
    case PARQUET_CT_LIST:
        return "LIST";
    case PARQUET_CT_UINT_8:
        return "UINT_8";
    case PARQUET_CT_UINT_16:
        return "UINT_16";
    case PARQUET_CT_UINT_32:
        return "UINT_32";
    case PARQUET_CT_UINT_64:
        return "UINT_64";
    case PARQUET_CT_INT_8:
        return "INT_8";
    case PARQUET_CT_INT_16:
        return "INT_16";
    case PARQUET_CT_INT_32:
        return "INT_32";
    case PARQUET_CT_INT_64:
        return "INT_64";
    case PARQUET_CT_JSON:
        return "JSON";
    default:
        return NULL;
    }
}

static int
print_node(const struct parquet_schema *s, int i, int depth, struct buf *b)
{
    const struct parquet_node *nd = &s->nodes[i];
    const char *cn = conv_name(nd->converted);
    int rc = TC_OK;

    for (int k = 0; k < depth && rc == TC_OK; k++)
        rc = buf_puts(b, "  ");
    if (rc != TC_OK)
        return rc;
    if (nd->leaf) {
        rc = buf_printf(b, "%s %s", rep_name(nd->repetition), parquet_type_name(nd->type));
        if (rc == TC_OK && nd->type == PARQUET_FIXED_LEN_BYTE_ARRAY)
            rc = buf_printf(b, "(%d)", nd->type_length);
        if (rc == TC_OK)
            rc = buf_printf(b, " %s", nd->name);
        if (rc == TC_OK && cn)
            rc = buf_printf(b, " (%s)", cn);
        if (rc == TC_OK)
            rc =
                buf_printf(b, "; /* col %d D%d R%d */\n", nd->column, nd->def_level, nd->rep_level);
        return rc;
    }
    if (i == 0)
        rc = buf_printf(b, "message %s {\n", nd->name);
    else
        rc = buf_printf(b, "%s group %s%s%s%s {\n", rep_name(nd->repetition), nd->name,
                        cn ? " (" : "", cn ? cn : "", cn ? ")" : "");
    for (int k = 0; k < nd->num_children && rc == TC_OK; k++)
        rc = print_node(s, nd->children[k], depth + 1, b);
    for (int k = 0; k < depth && rc == TC_OK; k++)
        rc = buf_puts(b, "  ");
    if (rc == TC_OK)
        rc = buf_puts(b, "}\n");
    return rc;
}

int
parquet_schema_print(const struct parquet_schema *s, struct buf *b)
{
    return print_node(s, 0, 0, b);
}

/* ---- schema builder ---- */

struct parquet_schema_builder {
    struct parquet_node *nodes;
    int n, cap;
    int stack[PARQUET_MAX_LEVEL];
    int sp;
    int failed;
};

static struct parquet_node *
sb_add(struct parquet_schema_builder *sb, const char *name)
{
    struct parquet_node *nd;

    if (sb->failed)
        return NULL;
    if (sb->n == sb->cap) {
        int ncap = sb->cap ? sb->cap * 2 : 32;
        struct parquet_node *nn = tc_reallocarray(sb->nodes, (size_t)ncap, sizeof(*nn));
        if (nn == NULL) {
            sb->failed = 1;
            return NULL;
        }
        sb->nodes = nn;
        sb->cap = ncap;
    }
    nd = &sb->nodes[sb->n];
    memset(nd, 0, sizeof(*nd));
    nd->name = tc_strdup(name);
    if (nd->name == NULL) {
        sb->failed = 1;
        return NULL;
    }
    nd->converted = PARQUET_CT_NONE;
    if (sb->sp > 0)
        sb->nodes[sb->stack[sb->sp - 1]].num_children++;
    sb->n++;
    return nd;
}

struct parquet_schema_builder *
parquet_sb_new(const char *root_name)
{
    struct parquet_schema_builder *sb = tc_calloc(1, sizeof(*sb));

    if (sb == NULL)
        return NULL;
    if (sb_add(sb, root_name) == NULL) {
        tc_free(sb);
        return NULL;
    }
    sb->stack[sb->sp++] = 0;
    return sb;
}

void
parquet_sb_group(struct parquet_schema_builder *sb, const char *name, int repetition, int converted)
{
    struct parquet_node *nd;

    if (sb == NULL)
        return;
    nd = sb_add(sb, name);
    if (nd == NULL)
        return;
    nd->repetition = repetition;
    nd->converted = converted;
    if (sb->sp >= PARQUET_MAX_LEVEL) {
        sb->failed = 1;
        return;
    }
    sb->stack[sb->sp++] = sb->n - 1;
}

void
parquet_sb_end(struct parquet_schema_builder *sb)
{
    if (sb == NULL)
        return;
    if (sb->sp <= 1)
        sb->failed = 1;
    else
        sb->sp--;
}

void
parquet_sb_leaf(struct parquet_schema_builder *sb, const char *name, int repetition, int type,
                int converted, int colenc, int codec)
{
    struct parquet_node *nd;

    if (sb == NULL)
        return;
    nd = sb_add(sb, name);
    if (nd == NULL)
        return;
    nd->repetition = repetition;
    nd->type = type;
    nd->converted = converted;
    nd->colenc = colenc;
    nd->codec = codec;
    if (converted == PARQUET_CT_UTF8)
        nd->logical = 1; /* STRING */
}

int
parquet_sb_build(struct parquet_schema_builder *sb, struct parquet_schema **out, struct tc_err *err)
{
    struct parquet_schema *s;
    int rc;

    *out = NULL;
    if (sb == NULL)
        return tc_err_set(err, TC_NOMEM, "parquet schema builder: out of memory");
    if (sb->failed || sb->sp != 1) {
        for (int i = 0; i < sb->n; i++)
            tc_free(sb->nodes[i].name);
        tc_free(sb->nodes);
        tc_free(sb);
        return tc_err_set(err, TC_INVAL, "parquet schema builder: unbalanced or out of memory");
    }
    s = tc_calloc(1, sizeof(*s));
    if (s == NULL) {
        for (int i = 0; i < sb->n; i++)
            tc_free(sb->nodes[i].name);
        tc_free(sb->nodes);
        tc_free(sb);
        return tc_err_set(err, TC_NOMEM, "parquet schema builder: out of memory");
    }
    s->nodes = sb->nodes;
    s->nnodes = sb->n;
    tc_free(sb);
    rc = schema_link(s, err);
    if (rc != TC_OK) {
        parquet_schema_free(s);
        return rc;
    }
    *out = s;
    return TC_OK;
}

/* ---- statistics ---- */

void
parquet_stats_cleanup(struct parquet_stats *st)
{
    tc_free(st->min);
    tc_free(st->max);
    memset(st, 0, sizeof(*st));
    st->null_count = -1;
}

int
parquet_read_stats(struct thrift_r *r, struct parquet_stats *st)
{
    int t, id;
    const uint8_t *p;
    uint32_t n;
    int64_t v;
    /* legacy min/max (1,2) are used only if min_value/max_value (5,6) are absent */
    const uint8_t *lmin = NULL, *lmax = NULL, *nmin = NULL, *nmax = NULL;
    uint32_t lminl = 0, lmaxl = 0, nminl = 0, nmaxl = 0;

    memset(st, 0, sizeof(*st));
    st->null_count = -1;
    if (thrift_struct_begin(r) != TC_OK)
        return TC_PARSE;
    for (;;) {
        if (thrift_field_next(r, &t, &id) != TC_OK)
            return TC_PARSE;
        if (t == THRIFT_STOP)
            break;
        if ((id == 1 || id == 2 || id == 5 || id == 6) && t == THRIFT_BINARY) {
            if (thrift_read_binary(r, &p, &n) != TC_OK)
                return TC_PARSE;
            if (id == 1)
                lmax = p, lmaxl = n;
            else if (id == 2)
                lmin = p, lminl = n;
            else if (id == 5)
                nmax = p, nmaxl = n;
            else
                nmin = p, nminl = n;
        } else if (id == 3 && t == THRIFT_I64) {
            if (thrift_read_i64(r, &v) != TC_OK)
                return TC_PARSE;
            st->null_count = v;
        } else if (thrift_skip(r, t) != TC_OK) {
            return TC_PARSE;
        }
    }
    if (thrift_struct_end(r) != TC_OK)
        return TC_PARSE;
    if (!nmin && lmin)
        nmin = lmin, nminl = lminl;
    if (!nmax && lmax)
        nmax = lmax, nmaxl = lmaxl;
    if (nmin) {
        st->min = tc_memdup(nmin, nminl ? nminl : 1);
        st->min_len = nminl;
        st->has_min = 1;
    }
    if (nmax) {
        st->max = tc_memdup(nmax, nmaxl ? nmaxl : 1);
        st->max_len = nmaxl;
        st->has_max = 1;
    }
    if ((nmin && !st->min) || (nmax && !st->max))
        return TC_NOMEM;
    return TC_OK;
}

void
parquet_write_stats(struct thrift_w *w, int field_id, const struct parquet_stats *st)
{
    thrift_w_field(w, THRIFT_STRUCT, field_id);
    thrift_w_struct_begin(w);
    if (st->null_count >= 0)
        thrift_w_field_i64(w, 3, st->null_count);
    if (st->has_max)
        thrift_w_field_binary(w, 5, st->max, st->max_len);
    if (st->has_min)
        thrift_w_field_binary(w, 6, st->min, st->min_len);
    thrift_w_struct_end(w);
}

/* ---- footer parsing ---- */

#define CHECK(e)                                                                                   \
    do {                                                                                           \
        if ((e) != TC_OK)                                                                          \
            return TC_PARSE;                                                                       \
    } while (0)

static int
read_logical(struct thrift_r *r, struct parquet_node *nd)
{
    int t, id, t2, id2;

    CHECK(thrift_struct_begin(r));
    for (;;) {
        CHECK(thrift_field_next(r, &t, &id));
        if (t == THRIFT_STOP)
            break;
        if (t != THRIFT_STRUCT) {
            CHECK(thrift_skip(r, t));
            continue;
        }
        nd->logical = id;
        if (id != 10) {
            CHECK(thrift_skip(r, t));
            continue;
        }
        /* IntType { 1: i8 bitWidth, 2: bool isSigned } */
        CHECK(thrift_struct_begin(r));
        for (;;) {
            CHECK(thrift_field_next(r, &t2, &id2));
            if (t2 == THRIFT_STOP)
                break;
            if (id2 == 1 && t2 == THRIFT_BYTE) {
                int8_t bw;
                CHECK(thrift_read_byte(r, &bw));
                nd->int_bits = bw;
            } else if (id2 == 2 && (t2 == THRIFT_TRUE || t2 == THRIFT_FALSE)) {
                nd->int_signed = thrift_bool_field(t2);
            } else {
                CHECK(thrift_skip(r, t2));
            }
        }
        CHECK(thrift_struct_end(r));
    }
    return thrift_struct_end(r);
}

static int
read_schema_element(struct thrift_r *r, struct parquet_node *nd)
{
    int t, id;
    int32_t v;

    memset(nd, 0, sizeof(*nd));
    nd->converted = PARQUET_CT_NONE;
    nd->type = -1;
    CHECK(thrift_struct_begin(r));
    for (;;) {
        CHECK(thrift_field_next(r, &t, &id));
        if (t == THRIFT_STOP)
            break;
        if (t == THRIFT_I32 && (id == 1 || id == 2 || id == 3 || id == 5 || id == 6)) {
            CHECK(thrift_read_i32(r, &v));
            if (id == 1)
                nd->type = v;
            else if (id == 2)
                nd->type_length = v;
            else if (id == 3)
                nd->repetition = v;
            else if (id == 5)
                nd->num_children = v;
            else
                nd->converted = v;
        } else if (id == 4 && t == THRIFT_BINARY) {
            tc_free(nd->name);
            nd->name = NULL;
            if (thrift_read_string(r, &nd->name) != TC_OK)
                return TC_PARSE;
        } else if (id == 10 && t == THRIFT_STRUCT) {
            CHECK(read_logical(r, nd));
        } else {
            CHECK(thrift_skip(r, t));
        }
    }
    if (nd->name == NULL)
        nd->name = tc_strdup("");
    if (nd->name == NULL)
        return TC_NOMEM;
    return thrift_struct_end(r);
}

static int
read_chunk_meta(struct thrift_r *r, struct parquet_chunk_meta *c)
{
    int t, id, et;
    uint32_t n;
    int32_t v32;

    CHECK(thrift_struct_begin(r));
    for (;;) {
        CHECK(thrift_field_next(r, &t, &id));
        if (t == THRIFT_STOP)
            break;
        switch (id) {
        case 1:
            if (t != THRIFT_I32)
                goto skip;
            CHECK(thrift_read_i32(r, &v32));
            c->type = v32;
            break;
        case 2:
            if (t != THRIFT_LIST)
                goto skip;
            CHECK(thrift_read_list(r, &et, &n));
            if (et != THRIFT_I32 || c->encodings)
                return TC_PARSE;
            c->encodings = tc_calloc(n ? n : 1, sizeof(int));
            if (c->encodings == NULL)
                return TC_NOMEM;
            for (uint32_t i = 0; i < n; i++) {
                CHECK(thrift_read_i32(r, &v32));
                c->encodings[i] = v32;
            }
            c->nencodings = (int)n;
            break;
        case 3: {
            struct buf b;
            if (t != THRIFT_LIST)
                goto skip;
            CHECK(thrift_read_list(r, &et, &n));
            if (et != THRIFT_BINARY || c->path)
                return TC_PARSE;
            buf_init(&b, 1 << 16);
            for (uint32_t i = 0; i < n; i++) {
                const uint8_t *p;
                uint32_t l;
                if (thrift_read_binary(r, &p, &l) != TC_OK) {
                    buf_cleanup(&b);
                    return TC_PARSE;
                }
                if ((i && buf_putc(&b, '.') != TC_OK) || buf_append(&b, p, l) != TC_OK) {
                    buf_cleanup(&b);
                    return TC_PARSE;
                }
            }
            c->path = buf_take(&b, NULL);
            if (c->path == NULL)
                c->path = tc_strdup("");
            if (c->path == NULL)
                return TC_NOMEM;
            break;
        }
        case 4:
            if (t != THRIFT_I32)
                goto skip;
            CHECK(thrift_read_i32(r, &v32));
            c->codec = v32;
            break;
        case 5:
        case 6:
        case 7:
        case 9:
        case 11: {
            int64_t v;
            if (t != THRIFT_I64)
                goto skip;
            CHECK(thrift_read_i64(r, &v));
            if (id == 5)
                c->num_values = v;
            else if (id == 6)
                c->total_uncompressed = v;
            else if (id == 7)
                c->total_compressed = v;
            else if (id == 9)
                c->data_page_offset = v;
            else
                c->dictionary_page_offset = v;
            break;
        }
        case 12:
            if (t != THRIFT_STRUCT)
                goto skip;
            parquet_stats_cleanup(&c->stats);
            if (parquet_read_stats(r, &c->stats) != TC_OK)
                return TC_PARSE;
            break;
        default:
        skip:
            CHECK(thrift_skip(r, t));
        }
    }
    return thrift_struct_end(r);
}

static int
read_column_chunk(struct thrift_r *r, struct parquet_chunk_meta *c)
{
    int t, id, have = 0;

    c->data_page_offset = c->dictionary_page_offset = -1;
    c->column_index_offset = c->offset_index_offset = -1;
    c->stats.null_count = -1;
    CHECK(thrift_struct_begin(r));
    for (;;) {
        CHECK(thrift_field_next(r, &t, &id));
        if (t == THRIFT_STOP)
            break;
        if (id == 3 && t == THRIFT_STRUCT && !have) {
            CHECK(read_chunk_meta(r, c));
            have = 1;
        } else if ((id == 4 || id == 6) && t == THRIFT_I64) {
            int64_t v;
            CHECK(thrift_read_i64(r, &v));
            if (id == 4)
                c->offset_index_offset = v;
            else
                c->column_index_offset = v;
        } else if ((id == 5 || id == 7) && t == THRIFT_I32) {
            int32_t v;
            CHECK(thrift_read_i32(r, &v));
            if (id == 5)
                c->offset_index_length = v;
            else
                c->column_index_length = v;
        } else if (id == 1 && t == THRIFT_BINARY) {
            /* file_path: chunks in other files are not supported */
            const uint8_t *p;
            uint32_t n;
            CHECK(thrift_read_binary(r, &p, &n));
            if (n > 0)
                return TC_UNSUPPORTED;
        } else {
            CHECK(thrift_skip(r, t));
        }
    }
    if (!have)
        return TC_PARSE;
    return thrift_struct_end(r);
}

static int
read_rowgroup(struct thrift_r *r, struct parquet_rowgroup_meta *g)
{
    int t, id, et, rc;
    uint32_t n;

    CHECK(thrift_struct_begin(r));
    for (;;) {
        CHECK(thrift_field_next(r, &t, &id));
        if (t == THRIFT_STOP)
            break;
        if (id == 1 && t == THRIFT_LIST && g->cols == NULL) {
            CHECK(thrift_read_list(r, &et, &n));
            if (et != THRIFT_STRUCT)
                return TC_PARSE;
            g->cols = tc_calloc(n ? n : 1, sizeof(*g->cols));
            if (g->cols == NULL)
                return TC_NOMEM;
            for (uint32_t i = 0; i < n; i++) {
                g->ncols = (int)i + 1;
                rc = read_column_chunk(r, &g->cols[i]);
                if (rc != TC_OK)
                    return rc;
            }
            g->ncols = (int)n;
        } else if ((id == 2 || id == 3) && t == THRIFT_I64) {
            int64_t v;
            CHECK(thrift_read_i64(r, &v));
            if (id == 2)
                g->total_byte_size = v;
            else
                g->num_rows = v;
        } else {
            CHECK(thrift_skip(r, t));
        }
    }
    return thrift_struct_end(r);
}

void
parquet_filemeta_free(struct parquet_filemeta *m)
{
    if (m == NULL)
        return;
    for (int g = 0; g < m->nrowgroups; g++) {
        struct parquet_rowgroup_meta *rg = &m->rowgroups[g];
        for (int c = 0; c < rg->ncols; c++) {
            tc_free(rg->cols[c].encodings);
            tc_free(rg->cols[c].path);
            parquet_stats_cleanup(&rg->cols[c].stats);
        }
        tc_free(rg->cols);
    }
    tc_free(m->rowgroups);
    for (int i = 0; i < m->nkv; i++) {
        tc_free(m->kv[i].key);
        tc_free(m->kv[i].value);
    }
    tc_free(m->kv);
    tc_free(m->created_by);
    tc_free(m);
}

static int
read_kvs(struct thrift_r *r, struct parquet_filemeta *m)
{
    int et, t, id;
    uint32_t n;

    CHECK(thrift_read_list(r, &et, &n));
    if (et != THRIFT_STRUCT || m->kv)
        return TC_PARSE;
    m->kv = tc_calloc(n ? n : 1, sizeof(*m->kv));
    if (m->kv == NULL)
        return TC_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        m->nkv = (int)i + 1;
        CHECK(thrift_struct_begin(r));
        for (;;) {
            CHECK(thrift_field_next(r, &t, &id));
            if (t == THRIFT_STOP)
                break;
            if ((id == 1 || id == 2) && t == THRIFT_BINARY) {
                char **dst = id == 1 ? &m->kv[i].key : &m->kv[i].value;
                tc_free(*dst);
                *dst = NULL;
                CHECK(thrift_read_string(r, dst));
            } else {
                CHECK(thrift_skip(r, t));
            }
        }
        CHECK(thrift_struct_end(r));
        if (m->kv[i].key == NULL)
            m->kv[i].key = tc_strdup("");
        if (m->kv[i].key == NULL)
            return TC_NOMEM;
    }
    return TC_OK;
}

int
parquet_footer_parse(const void *data, size_t len, struct parquet_filemeta **meta,
                     struct parquet_schema **schema, struct tc_err *err)
{
    struct thrift_r r;
    struct parquet_filemeta *m;
    struct parquet_schema *s;
    int t, id, et, rc = TC_OK, have_schema = 0;
    uint32_t n;

    *meta = NULL;
    *schema = NULL;
    m = tc_calloc(1, sizeof(*m));
    s = tc_calloc(1, sizeof(*s));
    if (!m || !s) {
        tc_free(m);
        tc_free(s);
        return tc_err_set(err, TC_NOMEM, "parquet footer: out of memory");
    }
    thrift_r_init(&r, data, len);
    if (thrift_struct_begin(&r) != TC_OK)
        goto parse;
    for (;;) {
        if (thrift_field_next(&r, &t, &id) != TC_OK)
            goto parse;
        if (t == THRIFT_STOP)
            break;
        if (id == 1 && t == THRIFT_I32) {
            if (thrift_read_i32(&r, &m->version) != TC_OK)
                goto parse;
        } else if (id == 2 && t == THRIFT_LIST && !have_schema) {
            have_schema = 1;
            if (thrift_read_list(&r, &et, &n) != TC_OK || et != THRIFT_STRUCT || n == 0)
                goto parse;
            s->nodes = tc_calloc(n, sizeof(*s->nodes));
            if (s->nodes == NULL)
                goto nomem;
            for (uint32_t i = 0; i < n; i++) {
                s->nnodes = (int)i + 1;
                rc = read_schema_element(&r, &s->nodes[i]);
                if (rc == TC_NOMEM)
                    goto nomem;
                if (rc != TC_OK)
                    goto parse;
            }
        } else if (id == 3 && t == THRIFT_I64) {
            if (thrift_read_i64(&r, &m->num_rows) != TC_OK)
                goto parse;
        } else if (id == 4 && t == THRIFT_LIST && m->rowgroups == NULL) {
            if (thrift_read_list(&r, &et, &n) != TC_OK || et != THRIFT_STRUCT)
                goto parse;
            m->rowgroups = tc_calloc(n ? n : 1, sizeof(*m->rowgroups));
            if (m->rowgroups == NULL)
                goto nomem;
            for (uint32_t i = 0; i < n; i++) {
                m->nrowgroups = (int)i + 1;
                rc = read_rowgroup(&r, &m->rowgroups[i]);
                if (rc == TC_NOMEM)
                    goto nomem;
                if (rc == TC_UNSUPPORTED) {
                    rc = tc_err_set(err, TC_UNSUPPORTED,
                                    "parquet footer: column chunk in an external file");
                    goto out;
                }
                if (rc != TC_OK)
                    goto parse;
            }
        } else if (id == 5 && t == THRIFT_LIST) {
            rc = read_kvs(&r, m);
            if (rc == TC_NOMEM)
                goto nomem;
            if (rc != TC_OK)
                goto parse;
        } else if (id == 6 && t == THRIFT_BINARY && m->created_by == NULL) {
            if (thrift_read_string(&r, &m->created_by) != TC_OK)
                goto parse;
        } else if (thrift_skip(&r, t) != TC_OK) {
            goto parse;
        }
    }
    if (!have_schema)
        goto parse;
    for (int i = 0; i < s->nnodes; i++)
        if (s->nodes[i].name == NULL)
            goto parse;
    /* the root's repetition field is meaningless; normalise it */
    s->nodes[0].repetition = PARQUET_REQUIRED;
    rc = schema_link(s, err);
    if (rc != TC_OK)
        goto out;
    for (int g = 0; g < m->nrowgroups; g++) {
        struct parquet_rowgroup_meta *rg = &m->rowgroups[g];
        if (rg->ncols != s->ncolumns) {
            rc = tc_err_set(err, TC_PARSE, "parquet footer: row group %d has %d columns, schema %d",
                            g, rg->ncols, s->ncolumns);
            goto out;
        }
        if (rg->num_rows < 0) {
            rc = tc_err_set(err, TC_PARSE, "parquet footer: row group %d: negative num_rows", g);
            goto out;
        }
        for (int c = 0; c < rg->ncols; c++) {
            const struct parquet_node *leaf = &s->nodes[s->columns[c]];
            if (rg->cols[c].type != leaf->type) {
                rc = tc_err_set(err, TC_PARSE,
                                "parquet footer: row group %d column %s: type %d, schema %d", g,
                                s->paths[c], rg->cols[c].type, leaf->type);
                goto out;
            }
        }
    }
    *meta = m;
    *schema = s;
    return TC_OK;
parse:
    rc = tc_err_set(err, TC_PARSE, "parquet footer: malformed thrift at byte %zu of %zu",
                    thrift_r_pos(&r), len);
    goto out;
nomem:
    rc = tc_err_set(err, TC_NOMEM, "parquet footer: out of memory");
out:
    parquet_filemeta_free(m);
    parquet_schema_free(s);
    return rc;
}

/* ---- footer writing ---- */

static void
write_schema(struct thrift_w *w, const struct parquet_schema *s)
{
    thrift_w_field(w, THRIFT_LIST, 2);
    thrift_w_list(w, THRIFT_STRUCT, (uint32_t)s->nnodes);
    for (int i = 0; i < s->nnodes; i++) {
        const struct parquet_node *nd = &s->nodes[i];
        thrift_w_struct_begin(w);
        if (nd->leaf) {
            thrift_w_field_i32(w, 1, nd->type);
            if (nd->type == PARQUET_FIXED_LEN_BYTE_ARRAY)
                thrift_w_field_i32(w, 2, nd->type_length);
        }
        if (i > 0)
            thrift_w_field_i32(w, 3, nd->repetition);
        thrift_w_field_binary(w, 4, nd->name, strlen(nd->name));
        if (!nd->leaf)
            thrift_w_field_i32(w, 5, nd->num_children);
        if (nd->converted != PARQUET_CT_NONE)
            thrift_w_field_i32(w, 6, nd->converted);
        /* LogicalType for the annotations we emit: STRING, MAP, LIST, INTEGER */
        {
            int lt = 0, bits = 0, sgn = 0;
            switch (nd->converted) {
            case PARQUET_CT_UTF8:
                lt = 1;
                break;
            case PARQUET_CT_MAP:
                lt = 2;
                break;
            case PARQUET_CT_LIST:
                lt = 3;
                break;
            case PARQUET_CT_UINT_8:
            case PARQUET_CT_UINT_16:
            case PARQUET_CT_UINT_32:
            case PARQUET_CT_UINT_64:
                lt = 10;
                bits = 8 << (nd->converted - PARQUET_CT_UINT_8);
                break;
            case PARQUET_CT_INT_8:
            case PARQUET_CT_INT_16:
            case PARQUET_CT_INT_32:
            case PARQUET_CT_INT_64:
                lt = 10;
                sgn = 1;
                bits = 8 << (nd->converted - PARQUET_CT_INT_8);
                break;
            case PARQUET_CT_JSON:
                lt = 12;
                break;
            default:
                break;
            }
            if (lt) {
                thrift_w_field(w, THRIFT_STRUCT, 10);
                thrift_w_struct_begin(w);
                thrift_w_field(w, THRIFT_STRUCT, lt);
                thrift_w_struct_begin(w);
                if (lt == 10) {
                    uint8_t bw = (uint8_t)bits;
                    thrift_w_field(w, THRIFT_BYTE, 1);
                    if (w->rc == TC_OK)
                        w->rc = buf_append(w->b, &bw, 1);
                    thrift_w_field_bool(w, 2, sgn);
                }
                thrift_w_struct_end(w);
                thrift_w_struct_end(w);
            }
        }
        thrift_w_struct_end(w);
    }
}

/* path_in_schema from the node chain (names may contain dots). */
static void
write_path_list(struct thrift_w *w, const struct parquet_schema *s, int col)
{
    int chain[PARQUET_MAX_LEVEL * 4], n = 0;

    for (int j = s->columns[col]; j > 0 && n < (int)TC_ARRAY_LEN(chain); j = s->nodes[j].parent)
        chain[n++] = j;
    thrift_w_list(w, THRIFT_BINARY, (uint32_t)n);
    for (int k = n - 1; k >= 0; k--)
        thrift_w_binary(w, s->nodes[chain[k]].name, strlen(s->nodes[chain[k]].name));
}

int
parquet_footer_write(struct buf *b, const struct parquet_schema *s,
                     const struct parquet_filemeta *m)
{
    struct thrift_w w;

    thrift_w_init(&w, b);
    thrift_w_struct_begin(&w);
    thrift_w_field_i32(&w, 1, m->version);
    write_schema(&w, s);
    thrift_w_field_i64(&w, 3, m->num_rows);
    thrift_w_field(&w, THRIFT_LIST, 4);
    thrift_w_list(&w, THRIFT_STRUCT, (uint32_t)m->nrowgroups);
    for (int g = 0; g < m->nrowgroups; g++) {
        const struct parquet_rowgroup_meta *rg = &m->rowgroups[g];
        int64_t file_off = -1, total_comp = 0;
        thrift_w_struct_begin(&w);
        thrift_w_field(&w, THRIFT_LIST, 1);
        thrift_w_list(&w, THRIFT_STRUCT, (uint32_t)rg->ncols);
        for (int c = 0; c < rg->ncols; c++) {
            const struct parquet_chunk_meta *cm = &rg->cols[c];
            int64_t start =
                cm->dictionary_page_offset >= 0 ? cm->dictionary_page_offset : cm->data_page_offset;
            if (file_off < 0)
                file_off = start;
            total_comp += cm->total_compressed;
            thrift_w_struct_begin(&w);
            thrift_w_field_i64(&w, 2, start);
            thrift_w_field(&w, THRIFT_STRUCT, 3);
            thrift_w_struct_begin(&w);
            thrift_w_field_i32(&w, 1, cm->type);
            thrift_w_field(&w, THRIFT_LIST, 2);
            thrift_w_list(&w, THRIFT_I32, (uint32_t)cm->nencodings);
            for (int e = 0; e < cm->nencodings; e++)
                thrift_w_i32(&w, cm->encodings[e]);
            thrift_w_field(&w, THRIFT_LIST, 3);
            write_path_list(&w, s, c);
            thrift_w_field_i32(&w, 4, cm->codec);
            thrift_w_field_i64(&w, 5, cm->num_values);
            thrift_w_field_i64(&w, 6, cm->total_uncompressed);
            thrift_w_field_i64(&w, 7, cm->total_compressed);
            thrift_w_field_i64(&w, 9, cm->data_page_offset);
            if (cm->dictionary_page_offset >= 0)
                thrift_w_field_i64(&w, 11, cm->dictionary_page_offset);
            parquet_write_stats(&w, 12, &cm->stats);
            thrift_w_struct_end(&w);
            if (cm->offset_index_offset >= 0) {
                thrift_w_field_i64(&w, 4, cm->offset_index_offset);
                thrift_w_field_i32(&w, 5, cm->offset_index_length);
            }
            if (cm->column_index_offset >= 0) {
                thrift_w_field_i64(&w, 6, cm->column_index_offset);
                thrift_w_field_i32(&w, 7, cm->column_index_length);
            }
            thrift_w_struct_end(&w);
        }
        thrift_w_field_i64(&w, 2, rg->total_byte_size);
        thrift_w_field_i64(&w, 3, rg->num_rows);
        thrift_w_field_i64(&w, 5, file_off < 0 ? 4 : file_off);
        thrift_w_field_i64(&w, 6, total_comp);
        thrift_w_field(&w, THRIFT_I16, 7);
        thrift_w_i32(&w, g);
        thrift_w_struct_end(&w);
    }
    if (m->nkv > 0) {
        thrift_w_field(&w, THRIFT_LIST, 5);
        thrift_w_list(&w, THRIFT_STRUCT, (uint32_t)m->nkv);
        for (int i = 0; i < m->nkv; i++) {
            thrift_w_struct_begin(&w);
            thrift_w_field_binary(&w, 1, m->kv[i].key, strlen(m->kv[i].key));
            if (m->kv[i].value)
                thrift_w_field_binary(&w, 2, m->kv[i].value, strlen(m->kv[i].value));
            thrift_w_struct_end(&w);
        }
    }
    if (m->created_by)
        thrift_w_field_binary(&w, 6, m->created_by, strlen(m->created_by));
    /* column_orders: TYPE_DEFINED_ORDER for every column, so readers trust
     * min_value/max_value */
    thrift_w_field(&w, THRIFT_LIST, 7);
    thrift_w_list(&w, THRIFT_STRUCT, (uint32_t)s->ncolumns);
    for (int c = 0; c < s->ncolumns; c++) {
        thrift_w_struct_begin(&w);
        thrift_w_field(&w, THRIFT_STRUCT, 1);
        thrift_w_struct_begin(&w);
        thrift_w_struct_end(&w);
        thrift_w_struct_end(&w);
    }
    thrift_w_struct_end(&w);
    return w.rc;
}
