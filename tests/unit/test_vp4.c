/* test_vp4.c - vParquet4 schema, projection of the pre-release test block,
 * trace model round trips, writer features and the block generator. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/mem.h"
#include "parquet/parquet.h"
#include "base/tc.h"
#include "test.h"
#include "parquet/thrift.h"
#include "tempo/meta.h"
#include "tempo/vp4.h"
#include "tempo/vp4_int.h"
#include "tools/tools.h"

static const char *blk = "b27b0e53-66a0-4505-afd6-434ae3cd4a10";

static const char *
v4_path(const char *shared)
{
    static char p[1024];
    snprintf(p, sizeof(p), "%s/testdata/tempo-blocks/vParquet4/single-tenant/%s/data.parquet",
             shared, blk);
    return p;
}

#define SPANS "rs.list.element.ss.list.element.Spans.list.element."

TEST(schema_matches_tempo_layout)
{
    struct parquet_schema *s;
    struct tc_err err;
    struct {
        const char *path;
        int d, r;
    } want[] = {
        {"TraceID", 0, 0},
        {"ServiceStats.key_value.key", 1, 1},
        {"ServiceStats.key_value.value.ErrorCount", 1, 1},
        {"rs.list.element.Resource.Attrs.list.element.Key", 2, 2},
        {"rs.list.element.Resource.Attrs.list.element.Value.list.element", 3, 3},
        {"rs.list.element.Resource.Attrs.list.element.ValueUnsupported", 3, 2},
        {"rs.list.element.Resource.Cluster", 2, 1},
        {"rs.list.element.Resource.DedicatedAttributes.String10", 2, 1},
        {"rs.list.element.ss.list.element.Scope.Attrs.list.element.ValueBool.list.element", 4, 4},
        {SPANS "SpanID", 3, 3},
        {SPANS "Attrs.list.element.ValueUnsupported", 5, 4},
        {SPANS "Events.list.element.Attrs.list.element.ValueInt.list.element", 6, 6},
        {SPANS "Links.list.element.DroppedAttributesCount", 4, 4},
        {SPANS "HttpStatusCode", 4, 3},
        {SPANS "DedicatedAttributes.String01", 4, 3},
    };

    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_EQ(s->ncolumns, 103);
    ASSERT_STR_EQ(s->paths[VP4_COL_TRACEID], "TraceID");
    for (size_t i = 0; i < TC_ARRAY_LEN(want); i++) {
        int c = parquet_schema_find(s, want[i].path);
        if (c < 0)
            TEST_FAIL_("missing column %s", want[i].path);
        ASSERT_EQ(parquet_schema_max_def(s, c), want[i].d);
        ASSERT_EQ(parquet_schema_max_rep(s, c), want[i].r);
    }
    /* Tempo's tags: snappy+dict on Name, delta on times, DLBA default */
    ASSERT_EQ(s->nodes[s->columns[parquet_schema_find(s, SPANS "Name")]].colenc,
              PARQUET_COLENC_DICT);
    ASSERT_EQ(s->nodes[s->columns[parquet_schema_find(s, SPANS "Name")]].codec, PARQUET_SNAPPY);
    ASSERT_EQ(s->nodes[s->columns[parquet_schema_find(s, "StartTimeUnixNano")]].colenc,
              PARQUET_COLENC_DELTA);
    ASSERT_EQ(s->nodes[s->columns[0]].codec, PARQUET_UNCOMPRESSED);
    parquet_schema_free(s);
}

TEST(schema_equals_test_block_except_prerelease_columns)
{
    TEST_NEED_SHARED(shared);
    struct parquet_schema *s;
    struct parquet_reader *r;
    struct tc_err err;
    int missing = 0;

    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_reader_open(&r, v4_path(shared), &err));
    for (int c = 0; c < s->ncolumns; c++) {
        int fc = parquet_schema_find(parquet_reader_schema(r), s->paths[c]);
        if (fc < 0) {
            /* only the released Attribute fields differ (tempo.md §6.6) */
            ASSERT(strstr(s->paths[c], "IsArray") || strstr(s->paths[c], "ValueUnsupported"));
            missing++;
            continue;
        }
        ASSERT_EQ(parquet_reader_schema(r)->nodes[parquet_reader_schema(r)->columns[fc]].type,
                  s->nodes[s->columns[c]].type);
    }
    ASSERT_EQ(missing, 10);
    parquet_reader_free(r);
    parquet_schema_free(s);
}

TEST(projected_test_block_first_trace)
{
    TEST_NEED_SHARED(shared);
    struct parquet_schema *s;
    struct parquet_reader *r;
    struct parquet_cursor *cur;
    struct tc_err err;
    struct parquet_row row;
    struct parquet_arena a;
    struct vp4_trace *t;
    int eof;
    size_t spanids;

    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_reader_open(&r, v4_path(shared), &err));
    ASSERT_OK(parquet_reader_project(r, s, &err));
    ASSERT_OK(parquet_cursor_new(&cur, r, &err));
    ASSERT_OK(parquet_cursor_next(cur, &row, &eof, &err));
    ASSERT_EQ(eof, 0);
    parquet_arena_init(&a);
    ASSERT_OK(vp4_trace_from_row(&row, s, &a, &t, &err));
    ASSERT_EQ(t->trace_id.len, 16);
    ASSERT_MEM_EQ(t->trace_id.p, "\0\0\0\0\0\0\0\0\0\x47\x4b\xe8\xb4\x34\x49\xfb", 16);
    ASSERT_EQ(t->trace_id_text.len, 14);
    ASSERT_MEM_EQ(t->trace_id_text.p, "474be8b43449fb", 14);
    ASSERT_U64_EQ(t->start, 1656933075179000000ULL);
    ASSERT_U64_EQ(t->end, 1656933075599000000ULL);
    ASSERT_U64_EQ(t->duration, 420000000ULL);
    ASSERT_MEM_EQ(t->root_service.p, "frontend", 8);
    ASSERT_MEM_EQ(t->root_span.p, "/cart", 5);
    ASSERT_GT(t->nrs, 0);
    ASSERT_MEM_EQ(t->rs[0].service_name.p, "productcatalogservice", 21);
    ASSERT_MEM_EQ(t->rs[0].attrs.a[0].key.p, "host.name", 9);
    ASSERT_EQ(t->rs[0].attrs.a[0].nstr, 1);
    /* released columns missing from the pre-release file get defaults */
    ASSERT_EQ(t->rs[0].attrs.a[0].is_array, 0);
    ASSERT_EQ(t->rs[0].attrs.a[0].unsupported.set, 0);
    ASSERT(t->rs[0].dedicated[0].set);
    ASSERT_MEM_EQ(t->rs[0].dedicated[0].v.p, "172.26.0.5", 10);
    /* spans in the model == SpanID values in the row */
    {
        int c = parquet_schema_find(s, SPANS "SpanID");
        spanids = row.v1[c] - row.v0[c];
    }
    ASSERT_EQ(vp4_trace_span_count(t), spanids);
    ASSERT_MEM_EQ(t->rs[0].ss[0].spans[0].name.p, "/GetProducts", 12);
    ASSERT(t->rs[0].ss[0].spans[0].http_method.set);
    parquet_arena_cleanup(&a);
    parquet_cursor_free(cur);
    parquet_reader_free(r);
    parquet_schema_free(s);
}

/* ---- the direct row reader against the tree reader ---- */

/* First difference between two traces into w ("" when equal): every field
 * of the model, lists item by item. */
#define DIFF_(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf(w, wn, __VA_ARGS__);                                                          \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int
bytes_same(struct vp4_bytes a, struct vp4_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static int
ostr_same(struct vp4_ostr a, struct vp4_ostr b)
{
    return a.set == b.set && bytes_same(a.v, b.v);
}

static int
attrs_diff(const struct vp4_attrs *x, const struct vp4_attrs *y, const char *at, char *w, size_t wn)
{
    DIFF_(x->n == y->n, "%s.attrs: %u vs %u", at, x->n, y->n);
    for (uint32_t i = 0; i < x->n; i++) {
        const struct vp4_attr *a = &x->a[i], *b = &y->a[i];
        DIFF_(bytes_same(a->key, b->key), "%s.attrs[%u].key", at, i);
        DIFF_(a->is_array == b->is_array, "%s.attrs[%u].is_array", at, i);
        DIFF_(a->nstr == b->nstr && a->nint == b->nint && a->ndbl == b->ndbl &&
                  a->nbool == b->nbool,
              "%s.attrs[%u]: value counts", at, i);
        for (uint32_t k = 0; k < a->nstr; k++)
            DIFF_(bytes_same(a->str[k], b->str[k]), "%s.attrs[%u].str[%u]", at, i, k);
        DIFF_(a->nint == 0 || memcmp(a->ints, b->ints, a->nint * 8) == 0, "%s.attrs[%u].ints", at,
              i);
        DIFF_(a->ndbl == 0 || memcmp(a->dbls, b->dbls, a->ndbl * 8) == 0, "%s.attrs[%u].dbls", at,
              i);
        DIFF_(a->nbool == 0 || memcmp(a->bools, b->bools, a->nbool) == 0, "%s.attrs[%u].bools", at,
              i);
        DIFF_(ostr_same(a->unsupported, b->unsupported), "%s.attrs[%u].unsupported", at, i);
    }
    return 0;
}

static int
dedicated_diff(const struct vp4_ostr *a, const struct vp4_ostr *b, const char *at, char *w,
               size_t wn)
{
    for (int i = 0; i < 10; i++)
        DIFF_(ostr_same(a[i], b[i]), "%s.dedicated[%d]", at, i);
    return 0;
}

static int
span_diff(const struct vp4_span *a, const struct vp4_span *b, const char *at, char *w, size_t wn)
{
    char sub[160];

    DIFF_(bytes_same(a->span_id, b->span_id), "%s.span_id", at);
    DIFF_(bytes_same(a->parent_span_id, b->parent_span_id), "%s.parent_span_id", at);
    DIFF_(a->parent_id == b->parent_id, "%s.parent_id", at);
    DIFF_(a->nested_left == b->nested_left, "%s.nested_left", at);
    DIFF_(a->nested_right == b->nested_right, "%s.nested_right", at);
    DIFF_(bytes_same(a->name, b->name), "%s.name", at);
    DIFF_(a->kind == b->kind, "%s.kind", at);
    DIFF_(bytes_same(a->trace_state, b->trace_state), "%s.trace_state", at);
    DIFF_(a->start == b->start, "%s.start", at);
    DIFF_(a->duration == b->duration, "%s.duration", at);
    DIFF_(a->status_code == b->status_code, "%s.status_code", at);
    DIFF_(bytes_same(a->status_message, b->status_message), "%s.status_message", at);
    if (attrs_diff(&a->attrs, &b->attrs, at, w, wn))
        return 1;
    DIFF_(a->dropped_attrs == b->dropped_attrs, "%s.dropped_attrs", at);
    DIFF_(a->nevents == b->nevents, "%s.nevents %u vs %u", at, a->nevents, b->nevents);
    for (uint32_t q = 0; q < a->nevents; q++) {
        const struct vp4_event *x = &a->events[q], *y = &b->events[q];
        snprintf(sub, sizeof(sub), "%s.events[%u]", at, q);
        DIFF_(x->time_since_start == y->time_since_start, "%s.time_since_start", sub);
        DIFF_(bytes_same(x->name, y->name), "%s.name", sub);
        if (attrs_diff(&x->attrs, &y->attrs, sub, w, wn))
            return 1;
        DIFF_(x->dropped_attrs == y->dropped_attrs, "%s.dropped_attrs", sub);
    }
    DIFF_(a->dropped_events == b->dropped_events, "%s.dropped_events", at);
    DIFF_(a->nlinks == b->nlinks, "%s.nlinks %u vs %u", at, a->nlinks, b->nlinks);
    for (uint32_t q = 0; q < a->nlinks; q++) {
        const struct vp4_link *x = &a->links[q], *y = &b->links[q];
        snprintf(sub, sizeof(sub), "%s.links[%u]", at, q);
        DIFF_(bytes_same(x->trace_id, y->trace_id), "%s.trace_id", sub);
        DIFF_(bytes_same(x->span_id, y->span_id), "%s.span_id", sub);
        DIFF_(bytes_same(x->trace_state, y->trace_state), "%s.trace_state", sub);
        if (attrs_diff(&x->attrs, &y->attrs, sub, w, wn))
            return 1;
        DIFF_(x->dropped_attrs == y->dropped_attrs, "%s.dropped_attrs", sub);
    }
    DIFF_(a->dropped_links == b->dropped_links, "%s.dropped_links", at);
    DIFF_(ostr_same(a->http_method, b->http_method), "%s.http_method", at);
    DIFF_(ostr_same(a->http_url, b->http_url), "%s.http_url", at);
    DIFF_(a->has_http_status == b->has_http_status && a->http_status == b->http_status,
          "%s.http_status", at);
    return dedicated_diff(a->dedicated, b->dedicated, at, w, wn);
}

static int
trace_diff(const struct vp4_trace *a, const struct vp4_trace *b, char *w, size_t wn)
{
    char at[160];

    w[0] = 0;
    DIFF_(bytes_same(a->trace_id, b->trace_id), "trace_id");
    DIFF_(bytes_same(a->trace_id_text, b->trace_id_text), "trace_id_text");
    DIFF_(a->start == b->start && a->end == b->end && a->duration == b->duration, "times");
    DIFF_(bytes_same(a->root_service, b->root_service), "root_service");
    DIFF_(bytes_same(a->root_span, b->root_span), "root_span");
    DIFF_(a->nstats == b->nstats, "nstats %u vs %u", a->nstats, b->nstats);
    for (uint32_t i = 0; i < a->nstats; i++)
        DIFF_(bytes_same(a->stats[i].service, b->stats[i].service) &&
                  a->stats[i].span_count == b->stats[i].span_count &&
                  a->stats[i].error_count == b->stats[i].error_count,
              "stats[%u]", i);
    DIFF_(a->nrs == b->nrs, "nrs %u vs %u", a->nrs, b->nrs);
    for (uint32_t i = 0; i < a->nrs; i++) {
        const struct vp4_resource_spans *x = &a->rs[i], *y = &b->rs[i];
        snprintf(at, sizeof(at), "rs[%u]", i);
        if (attrs_diff(&x->attrs, &y->attrs, at, w, wn))
            return 1;
        DIFF_(x->dropped_attrs == y->dropped_attrs, "%s.dropped_attrs", at);
        DIFF_(bytes_same(x->service_name, y->service_name), "%s.service_name", at);
        for (int k = 0; k < VP4_RES_WELLKNOWN; k++)
            DIFF_(ostr_same(x->wellknown[k], y->wellknown[k]), "%s.wellknown[%d]", at, k);
        if (dedicated_diff(x->dedicated, y->dedicated, at, w, wn))
            return 1;
        DIFF_(x->nss == y->nss, "%s.nss %u vs %u", at, x->nss, y->nss);
        for (uint32_t j = 0; j < x->nss; j++) {
            const struct vp4_scope_spans *p = &x->ss[j], *q = &y->ss[j];
            snprintf(at, sizeof(at), "rs[%u].ss[%u]", i, j);
            DIFF_(bytes_same(p->scope_name, q->scope_name), "%s.scope_name", at);
            DIFF_(bytes_same(p->scope_version, q->scope_version), "%s.scope_version", at);
            if (attrs_diff(&p->scope_attrs, &q->scope_attrs, at, w, wn))
                return 1;
            DIFF_(p->scope_dropped_attrs == q->scope_dropped_attrs, "%s.scope_dropped_attrs", at);
            DIFF_(p->nspans == q->nspans, "%s.nspans %u vs %u", at, p->nspans, q->nspans);
            for (uint32_t k = 0; k < p->nspans; k++) {
                snprintf(at, sizeof(at), "rs[%u].ss[%u].spans[%u]", i, j, k);
                if (span_diff(&p->spans[k], &q->spans[k], at, w, wn))
                    return 1;
            }
        }
    }
    return 0;
}

/* The two writers give the same row: levels, values and bytes. */
static int
writers_agree(const struct vp4_trace *t, const struct parquet_schema *s, struct parquet_arena *a)
{
    struct parquet_rowset rd, rt;
    struct parquet_rowiter id, itt;
    struct parquet_row x, y;
    struct tc_err err;
    int same;

    ASSERT_OK(parquet_rowset_init(&rd, s));
    ASSERT_OK(parquet_rowset_init(&rt, s));
    ASSERT_OK(vp4_trace_to_rowset_direct(t, s, &rd, &err));
    ASSERT_OK(vp4_trace_to_rowset_tree(t, s, a, &rt, &err));
    ASSERT_OK(parquet_rowiter_init(&id, &rd));
    ASSERT_OK(parquet_rowiter_init(&itt, &rt));
    ASSERT(parquet_rowiter_next(&id, &x));
    ASSERT(parquet_rowiter_next(&itt, &y));
    same = parquet_row_equal(&x, &y);
    for (int c = 0; c < rd.ncols && same; c++)
        same = rd.cols[c].n == rt.cols[c].n && rd.cols[c].nv == rt.cols[c].nv &&
               memcmp(rd.cols[c].rep, rt.cols[c].rep, rd.cols[c].n) == 0 &&
               memcmp(rd.cols[c].def, rt.cols[c].def, rd.cols[c].n) == 0;
    parquet_rowiter_cleanup(&id);
    parquet_rowiter_cleanup(&itt);
    parquet_rowset_cleanup(&rd);
    parquet_rowset_cleanup(&rt);
    return same;
}

/* row -> trace -> row is the identity for every row of a file, and the
 * direct reader (vp4_trace_from_row's) gives what the tree reader gives */
static void
model_roundtrip_file(const char *path, const struct parquet_schema *s, long *rows_out)
{
    struct parquet_reader *r;
    struct parquet_cursor *cur;
    struct tc_err err;
    struct parquet_row row, back;
    struct parquet_arena a;
    struct parquet_rowset rs;
    struct parquet_rowiter it;
    int eof = 0;
    long rows = 0;
    char where[256];

    ASSERT_OK(parquet_reader_open(&r, path, &err));
    ASSERT_OK(parquet_reader_project(r, s, &err));
    ASSERT_OK(parquet_cursor_new(&cur, r, &err));
    ASSERT_OK(parquet_rowset_init(&rs, s));
    parquet_arena_init(&a);
    for (;;) {
        struct vp4_trace *t, *tt;
        ASSERT_OK(parquet_cursor_next(cur, &row, &eof, &err));
        if (eof)
            break;
        parquet_arena_reset(&a);
        parquet_rowset_reset(&rs);
        ASSERT_OK(vp4_trace_from_row_direct(&row, s, &a, &t, &err));
        ASSERT_OK(vp4_trace_from_row_tree(&row, s, &a, &tt, &err));
        if (trace_diff(tt, t, where, sizeof(where)))
            TEST_FAIL_("row %ld of %s: the readers differ at %s", rows, path, where);
        if (!writers_agree(t, s, &a))
            TEST_FAIL_("row %ld of %s: the writers differ", rows, path);
        ASSERT_OK(vp4_trace_to_rowset(t, s, &a, &rs, &err));
        ASSERT_OK(parquet_rowiter_init(&it, &rs));
        ASSERT(parquet_rowiter_next(&it, &back));
        if (!parquet_row_equal(&row, &back))
            TEST_FAIL_("row %ld of %s changes through the trace model", rows, path);
        parquet_rowiter_cleanup(&it);
        rows++;
    }
    *rows_out = rows;
    parquet_arena_cleanup(&a);
    parquet_rowset_cleanup(&rs);
    parquet_cursor_free(cur);
    parquet_reader_free(r);
}

TEST(model_roundtrip_real_block)
{
    TEST_NEED_SHARED(shared);
    struct parquet_schema *s;
    struct tc_err err;
    long rows;

    ASSERT_OK(vp4_schema_new(&s, &err));
    model_roundtrip_file(v4_path(shared), s, &rows);
    ASSERT_EQ(rows, 134);
    parquet_schema_free(s);
}

TEST(generated_block_roundtrip_and_writer_features)
{
    const char *tmp = test_tmpdir();
    char dir[600], path[700];
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct parquet_schema *s;
    struct parquet_reader *r;
    struct tc_err err;
    const struct parquet_filemeta *m;
    long rows;
    int c_name, c_start;

    snprintf(dir, sizeof(dir), "%s/blk", tmp);
    vp4_gen_opts_default(&o);
    o.dir = dir;
    o.traces = 400;
    o.seed = 42;
    o.row_group_bytes = 40000;
    ASSERT_OK(vp4_gen_block(&o, &res, &err));
    ASSERT_GT(res.row_groups, 2);
    snprintf(path, sizeof(path), "%s/data.parquet", dir);
    ASSERT_OK(vp4_schema_new(&s, &err));
    model_roundtrip_file(path, s, &rows);
    ASSERT_EQ(rows, 400);

    ASSERT_OK(parquet_reader_open(&r, path, &err));
    m = parquet_reader_meta(r);
    ASSERT_EQ(m->nrowgroups, res.row_groups);
    ASSERT_EQ(m->footer_len, res.footer_size);
    ASSERT_U64_EQ(parquet_reader_file_size(r), res.size);
    c_name = parquet_schema_find(s, SPANS "Name");
    c_start = parquet_schema_find(s, "StartTimeUnixNano");
    for (int g = 0; g < m->nrowgroups; g++) {
        const struct parquet_rowgroup_meta *rg = &m->rowgroups[g];
        struct parquet_page_index pi;
        uint8_t hdr[64];
        struct thrift_r tr;
        int t, id;
        int32_t ptype = -1;
        FILE *f;
        /* TraceID statistics bound the row group; row groups ascend */
        ASSERT(rg->cols[0].stats.has_min && rg->cols[0].stats.has_max);
        ASSERT_LE(memcmp(rg->cols[0].stats.min, rg->cols[0].stats.max, 16), 0);
        if (g > 0)
            ASSERT_LT(memcmp(m->rowgroups[g - 1].cols[0].stats.max, rg->cols[0].stats.min, 16), 0);
        /* Tempo's encodings and codecs */
        ASSERT_EQ(rg->cols[c_name].codec, PARQUET_SNAPPY);
        ASSERT_EQ(rg->cols[c_name].encodings[rg->cols[c_name].nencodings - 1],
                  PARQUET_RLE_DICTIONARY);
        ASSERT(rg->cols[c_name].dictionary_page_offset > 0);
        ASSERT_EQ(rg->cols[c_start].encodings[1], PARQUET_DELTA_BINARY_PACKED);
        ASSERT_EQ(rg->cols[0].encodings[1], PARQUET_DELTA_LENGTH_BYTE_ARRAY);
        /* column + offset index for every chunk */
        for (int c = 0; c < parquet_reader_schema(r)->ncolumns; c++) {
            ASSERT_OK(parquet_reader_page_index(r, g, c, &pi, &err));
            ASSERT_GE(pi.npages, 1);
            ASSERT(pi.has_column_index);
            ASSERT_EQ(pi.locs[0].first_row, 0);
            parquet_page_index_cleanup(&pi);
        }
        /* the first data page is a DATA_PAGE_V2 */
        f = fopen(path, "rb");
        ASSERT(f != NULL);
        ASSERT_EQ(fseek(f, (long)rg->cols[c_start].data_page_offset, SEEK_SET), 0);
        ASSERT_EQ(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
        fclose(f);
        thrift_r_init(&tr, hdr, sizeof(hdr));
        ASSERT_OK(thrift_struct_begin(&tr));
        ASSERT_OK(thrift_field_next(&tr, &t, &id));
        ASSERT_EQ(id, 1);
        ASSERT_OK(thrift_read_i32(&tr, &ptype));
        ASSERT_EQ(ptype, PARQUET_DATA_PAGE_V2);
    }
    parquet_reader_free(r);
    parquet_schema_free(s);
}

TEST(small_pages_make_a_usable_page_index)
{
    const char *tmp = test_tmpdir();
    char dir[600], src[700], dst[700];
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct parquet_schema *s;
    struct parquet_reader *r;
    struct parquet_writer *w;
    struct parquet_cursor *cur;
    struct parquet_writer_opts wo;
    struct parquet_write_info info;
    struct parquet_page_index pi;
    struct tc_err err;
    struct parquet_row row;
    int eof = 0;

    snprintf(dir, sizeof(dir), "%s/blk", tmp);
    vp4_gen_opts_default(&o);
    o.dir = dir;
    o.traces = 300;
    ASSERT_OK(vp4_gen_block(&o, &res, &err));
    snprintf(src, sizeof(src), "%s/data.parquet", dir);
    snprintf(dst, sizeof(dst), "%s/small-pages.parquet", tmp);
    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_reader_open(&r, src, &err));
    ASSERT_OK(parquet_cursor_new(&cur, r, &err));
    memset(&wo, 0, sizeof(wo));
    wo.page_bytes = 256;
    wo.row_group_bytes = 60000;
    ASSERT_OK(parquet_writer_open(&w, dst, s, &wo, &err));
    for (;;) {
        ASSERT_OK(parquet_cursor_next(cur, &row, &eof, &err));
        if (eof)
            break;
        ASSERT_OK(parquet_writer_write_row(w, &row, &err));
    }
    ASSERT_OK(parquet_writer_close(w, &info, &err));
    ASSERT_EQ(parquet_writer_row_groups(w), info.row_groups);
    {
        /* the last TraceID of each row group (the `index` file entries) is
         * the row group's TraceID max */
        struct parquet_reader *rr;
        uint32_t kl = 0;
        ASSERT_OK(parquet_reader_open(&rr, dst, &err));
        for (int g = 0; g < info.row_groups; g++) {
            const uint8_t *k = parquet_writer_rowgroup_last_key(w, g, &kl);
            ASSERT(k != NULL);
            ASSERT_EQ(kl, 16);
            ASSERT_MEM_EQ(k, parquet_reader_meta(rr)->rowgroups[g].cols[0].stats.max, 16);
        }
        ASSERT(parquet_writer_rowgroup_last_key(w, info.row_groups, &kl) == NULL);
        parquet_reader_free(rr);
    }
    parquet_writer_free(w);
    parquet_cursor_free(cur);
    parquet_reader_free(r);
    ASSERT_EQ(info.rows, 300);

    ASSERT_OK(parquet_reader_open(&r, dst, &err));
    ASSERT_OK(parquet_reader_page_index(r, 0, 0, &pi, &err));
    ASSERT_GT(pi.npages, 3);
    /* TraceIDs ascend, so the pages do; each page's bounds hold its rows */
    ASSERT_EQ(pi.boundary_order, 1);
    for (int i = 1; i < pi.npages; i++) {
        ASSERT_GT(pi.locs[i].first_row, pi.locs[i - 1].first_row);
        ASSERT_GT(pi.locs[i].offset, pi.locs[i - 1].offset);
        ASSERT_LE(memcmp(pi.bounds[i - 1].max, pi.bounds[i].min, 16), 0);
    }
    parquet_page_index_cleanup(&pi);
    {
        /* rows unchanged by the rewrite */
        struct parquet_reader *a;
        struct parquet_cursor *ca, *cb;
        struct parquet_row ra, rb;
        int ea = 0, eb = 0;
        long n = 0;
        ASSERT_OK(parquet_reader_open(&a, src, &err));
        ASSERT_OK(parquet_cursor_new(&ca, a, &err));
        ASSERT_OK(parquet_cursor_new(&cb, r, &err));
        for (;;) {
            ASSERT_OK(parquet_cursor_next(ca, &ra, &ea, &err));
            ASSERT_OK(parquet_cursor_next(cb, &rb, &eb, &err));
            ASSERT_EQ(ea, eb);
            if (ea)
                break;
            ASSERT(parquet_row_equal(&ra, &rb));
            n++;
        }
        ASSERT_EQ(n, 300);
        parquet_cursor_free(ca);
        parquet_cursor_free(cb);
        parquet_reader_free(a);
    }
    parquet_reader_free(r);
    parquet_schema_free(s);
}

TEST(row_groups_cut_by_size_and_memory_bounded)
{
    const char *tmp = test_tmpdir();
    char dir[600], src[700], dst[700];
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct parquet_schema *s;
    struct parquet_reader *r;
    struct parquet_cursor *cur;
    struct parquet_write_info info;
    struct tc_err err;
    struct parquet_row row;
    int eof = 0;
    size_t peak = 0;
    uint64_t total_unc = 0;

    snprintf(dir, sizeof(dir), "%s/blk", tmp);
    vp4_gen_opts_default(&o);
    o.dir = dir;
    o.traces = 2000;
    ASSERT_OK(vp4_gen_block(&o, &res, &err));
    ASSERT_EQ(res.row_groups, 1);
    snprintf(src, sizeof(src), "%s/data.parquet", dir);
    snprintf(dst, sizeof(dst), "%s/cut.parquet", tmp);
    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_reader_open(&r, src, &err));
    ASSERT_OK(parquet_copy_rows(r, s, dst, 50000, 0, &info, &err));
    parquet_reader_free(r);
    ASSERT_GT(info.row_groups, 10);
    ASSERT_EQ(info.rows, 2000);

    ASSERT_OK(parquet_reader_open(&r, dst, &err));
    for (int g = 0; g < parquet_reader_meta(r)->nrowgroups; g++)
        total_unc += (uint64_t)parquet_reader_meta(r)->rowgroups[g].total_byte_size;
    ASSERT_OK(parquet_cursor_new(&cur, r, &err));
    for (;;) {
        ASSERT_OK(parquet_cursor_next(cur, &row, &eof, &err));
        if (eof)
            break;
        if (parquet_cursor_mem(cur) > peak)
            peak = parquet_cursor_mem(cur);
    }
    /* one decoded row group at a time: far below the whole file */
    ASSERT_LT(peak, total_unc / 3);
    parquet_cursor_free(cur);
    parquet_reader_free(r);
    parquet_schema_free(s);
}

/* The vParquet3 and vParquet4 test blocks hold the same 134 traces: the
 * vParquet3 block converted through the model must equal the vParquet4 block
 * projected onto the released schema, row for row. */
TEST(v3_conversion_equals_v4_block)
{
    TEST_NEED_SHARED(shared);
    char p3[1024];
    struct parquet_schema *s;
    struct parquet_reader *r3, *r4;
    struct parquet_cursor *c3, *c4;
    struct tc_err err;
    struct parquet_rowset rs;
    struct parquet_arena a;
    long rows = 0;

    snprintf(p3, sizeof(p3), "%s/testdata/tempo-blocks/vParquet3/single-tenant/%s/data.parquet",
             shared, blk);
    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_reader_open(&r3, p3, &err));
    ASSERT(vp4_is_v3_schema(parquet_reader_schema(r3)));
    ASSERT_OK(parquet_reader_open(&r4, v4_path(shared), &err));
    ASSERT(!vp4_is_v3_schema(parquet_reader_schema(r4)));
    ASSERT_OK(parquet_reader_project(r4, s, &err));
    ASSERT_OK(parquet_cursor_new(&c3, r3, &err));
    ASSERT_OK(parquet_cursor_new(&c4, r4, &err));
    ASSERT_OK(parquet_rowset_init(&rs, s));
    parquet_arena_init(&a);
    for (;;) {
        struct parquet_row row3, row4, conv;
        struct parquet_rowiter it;
        struct vp4_trace *t;
        int e3 = 0, e4 = 0;
        ASSERT_OK(parquet_cursor_next(c3, &row3, &e3, &err));
        ASSERT_OK(parquet_cursor_next(c4, &row4, &e4, &err));
        ASSERT_EQ(e3, e4);
        if (e3)
            break;
        parquet_arena_reset(&a);
        parquet_rowset_reset(&rs);
        ASSERT_OK(vp4_trace_from_v3_row(&row3, parquet_reader_schema(r3), &a, &t, &err));
        ASSERT_OK(vp4_trace_to_rowset(t, s, &a, &rs, &err));
        ASSERT_OK(parquet_rowiter_init(&it, &rs));
        ASSERT(parquet_rowiter_next(&it, &conv));
        if (!parquet_row_equal(&conv, &row4))
            TEST_FAIL_("row %ld: vParquet3 conversion differs from the vParquet4 block", rows);
        parquet_rowiter_cleanup(&it);
        rows++;
    }
    ASSERT_EQ(rows, 134);
    parquet_arena_cleanup(&a);
    parquet_rowset_cleanup(&rs);
    parquet_cursor_free(c3);
    parquet_cursor_free(c4);
    parquet_reader_free(r3);
    parquet_reader_free(r4);
    parquet_schema_free(s);
}

/* Hand-encoded OTLP protobuf: every AnyValue kind and a LinkSlice. */
TEST(v3_protobuf_attributes_and_links)
{
    struct parquet_arena a;
    struct vp4_attr at;
    struct vp4_span sp;
    struct vp4_bytes key = {(const uint8_t *)"k", 1};
    const uint8_t str[] = {0x0a, 0x02, 'h', 'i'};
    const uint8_t i64[] = {0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t dbl[] = {0x21, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f}; /* 1.5 */
    const uint8_t bol[] = {0x10, 0x01};
    /* array of two strings "a","b" */
    const uint8_t arr[] = {0x2a, 0x0a, 0x0a, 0x03, 0x0a, 0x01, 'a', 0x0a, 0x03, 0x0a, 0x01, 'b'};
    /* mixed array: "a", 7 -> unsupported jsonpb */
    const uint8_t mix[] = {0x2a, 0x09, 0x0a, 0x03, 0x0a, 0x01, 'a', 0x0a, 0x02, 0x18, 0x07};
    /* kvlist {x: 3} */
    const uint8_t kvl[] = {0x32, 0x09, 0x0a, 0x07, 0x0a, 0x01, 'x', 0x12, 0x02, 0x18, 0x03};
    /* LinkSlice{ links: [{trace_id:01, span_id:02, trace_state:"s",
     *   attributes:[{key:"key", value:{string:"value"}}], dropped:3}] } */
    const uint8_t links[] = {0x0a, 0x1d, 0x0a, 0x01, 0x01, 0x12, 0x01, 0x02, 0x1a, 0x01, 's',
                             0x22, 0x10, 0x0a, 0x03, 'k',  'e',  'y',  0x12, 0x09, 0x0a, 0x07,
                             'v',  'a',  'l',  'u',  'e',  '!',  '!',  0x28, 0x03};
    const uint8_t bad[] = {0x0a, 0x10, 0x01};

    parquet_arena_init(&a);
    ASSERT_OK(vp4_attr_from_pb(&a, key, str, sizeof(str), &at));
    ASSERT_EQ(at.nstr, 1);
    ASSERT_MEM_EQ(at.str[0].p, "hi", 2);
    ASSERT_OK(vp4_attr_from_pb(&a, key, i64, sizeof(i64), &at));
    ASSERT_EQ(at.nint, 1);
    ASSERT_EQ(at.ints[0], -1);
    ASSERT_OK(vp4_attr_from_pb(&a, key, dbl, sizeof(dbl), &at));
    ASSERT_DBL_NEAR(at.dbls[0], 1.5, 0);
    ASSERT_OK(vp4_attr_from_pb(&a, key, bol, sizeof(bol), &at));
    ASSERT_EQ(at.nbool, 1);
    ASSERT_EQ(at.bools[0], 1);
    ASSERT_OK(vp4_attr_from_pb(&a, key, arr, sizeof(arr), &at));
    ASSERT_EQ(at.is_array, 1);
    ASSERT_EQ(at.nstr, 2);
    ASSERT_MEM_EQ(at.str[1].p, "b", 1);
    ASSERT_OK(vp4_attr_from_pb(&a, key, mix, sizeof(mix), &at));
    ASSERT(at.unsupported.set);
    ASSERT_EQ(at.unsupported.v.len, strlen("{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},"
                                           "{\"intValue\":\"7\"}]}}"));
    ASSERT_MEM_EQ(at.unsupported.v.p,
                  "{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},{\"intValue\":\"7\"}]}}",
                  at.unsupported.v.len);
    ASSERT_OK(vp4_attr_from_pb(&a, key, kvl, sizeof(kvl), &at));
    ASSERT(at.unsupported.set);
    ASSERT_MEM_EQ(at.unsupported.v.p,
                  "{\"kvlistValue\":{\"values\":[{\"key\":\"x\",\"value\":{\"intValue\":\"3\"}}]}}",
                  at.unsupported.v.len);
    ASSERT_EQ(vp4_attr_from_pb(&a, key, bad, sizeof(bad), &at), TC_PARSE);

    memset(&sp, 0, sizeof(sp));
    ASSERT_OK(vp4_links_from_pb(&a, links, sizeof(links), &sp));
    ASSERT_EQ(sp.nlinks, 1);
    ASSERT_EQ(sp.links[0].trace_id.len, 1);
    ASSERT_EQ(sp.links[0].trace_id.p[0], 1);
    ASSERT_EQ(sp.links[0].span_id.p[0], 2);
    ASSERT_MEM_EQ(sp.links[0].trace_state.p, "s", 1);
    ASSERT_EQ(sp.links[0].dropped_attrs, 3);
    ASSERT_EQ(sp.links[0].attrs.n, 1);
    ASSERT_MEM_EQ(sp.links[0].attrs.a[0].key.p, "key", 3);
    ASSERT_EQ(sp.links[0].attrs.a[0].str[0].len, 7);
    ASSERT_MEM_EQ(sp.links[0].attrs.a[0].str[0].p, "value!!", 7);
    for (size_t l = 1; l < sizeof(links); l++) {
        memset(&sp, 0, sizeof(sp));
        /* truncated protobuf: an error, never a read past the end */
        if (vp4_links_from_pb(&a, links, l, &sp) == TC_OK)
            ASSERT_LE(sp.nlinks, 1);
    }
    parquet_arena_cleanup(&a);
}

TEST(empty_file_has_no_row_groups)
{
    const char *tmp = test_tmpdir();
    char path[700];
    struct parquet_schema *s;
    struct parquet_writer *w;
    struct parquet_reader *r;
    struct parquet_cursor *c;
    struct parquet_write_info info;
    struct tc_err err;
    struct parquet_row row;
    int eof = 0;

    snprintf(path, sizeof(path), "%s/empty.parquet", tmp);
    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_writer_open(&w, path, s, NULL, &err));
    ASSERT_OK(parquet_writer_close(w, &info, &err));
    ASSERT_EQ(parquet_writer_close(w, &info, &err), TC_INVAL); /* closed twice */
    parquet_writer_free(w);
    ASSERT_EQ(info.row_groups, 0);
    ASSERT_EQ(info.rows, 0);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    ASSERT_EQ(parquet_reader_meta(r)->nrowgroups, 0);
    ASSERT_EQ(parquet_reader_schema(r)->ncolumns, 103);
    ASSERT_OK(parquet_cursor_new(&c, r, &err));
    ASSERT_OK(parquet_cursor_next(c, &row, &eof, &err));
    ASSERT_EQ(eof, 1);
    parquet_cursor_free(c);
    parquet_reader_free(r);
    parquet_schema_free(s);
}

/* A row from another schema is refused with an error, not written. */
TEST(writer_rejects_foreign_rows)
{
    TEST_NEED_SHARED(shared);
    char p3[1024], out[700];
    const char *tmp = test_tmpdir();
    struct parquet_schema *s;
    struct parquet_writer *w;
    struct parquet_reader *r;
    struct parquet_cursor *c;
    struct tc_err err;
    struct parquet_row row;
    int eof = 0;

    snprintf(p3, sizeof(p3), "%s/testdata/tempo-blocks/vParquet3/single-tenant/%s/data.parquet",
             shared, blk);
    snprintf(out, sizeof(out), "%s/x.parquet", tmp);
    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_reader_open(&r, p3, &err));
    ASSERT_OK(parquet_cursor_new(&c, r, &err));
    ASSERT_OK(parquet_cursor_next(c, &row, &eof, &err));
    ASSERT_OK(parquet_writer_open(&w, out, s, NULL, &err));
    ASSERT_EQ(parquet_writer_write_row(w, &row, &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "does not match the schema");
    /* vParquet3 is recognised, so callers convert instead of projecting */
    ASSERT(vp4_is_v3_schema(parquet_reader_schema(r)));
    parquet_writer_free(w);
    parquet_cursor_free(c);
    parquet_reader_free(r);
    parquet_schema_free(s);
}

/* Counts rows of a that have an equal row (same=1) or only an equal
 * TraceID (same=0) in b; both files are sorted by TraceID. */
static int
overlap(const char *pa, const char *pb, int same)
{
    struct parquet_reader *ra, *rb;
    struct parquet_cursor *ca, *cb;
    struct parquet_row xa, xb;
    struct tc_err err;
    int ea = 0, eb = 0, n = 0;

    ASSERT_OK(parquet_reader_open(&ra, pa, &err));
    ASSERT_OK(parquet_reader_open(&rb, pb, &err));
    ASSERT_OK(parquet_cursor_new(&ca, ra, &err));
    ASSERT_OK(parquet_cursor_new(&cb, rb, &err));
    ASSERT_OK(parquet_cursor_next(ca, &xa, &ea, &err));
    ASSERT_OK(parquet_cursor_next(cb, &xb, &eb, &err));
    while (!ea && !eb) {
        uint32_t la, lb;
        const uint8_t *ia = parquet_row_bytes(&xa, 0, &la), *ib = parquet_row_bytes(&xb, 0, &lb);
        int c = memcmp(ia, ib, 16);
        if (c == 0) {
            n += same ? parquet_row_equal(&xa, &xb) : !parquet_row_equal(&xa, &xb);
            ASSERT_OK(parquet_cursor_next(ca, &xa, &ea, &err));
            ASSERT_OK(parquet_cursor_next(cb, &xb, &eb, &err));
        } else if (c < 0) {
            ASSERT_OK(parquet_cursor_next(ca, &xa, &ea, &err));
        } else {
            ASSERT_OK(parquet_cursor_next(cb, &xb, &eb, &err));
        }
    }
    parquet_cursor_free(ca);
    parquet_cursor_free(cb);
    parquet_reader_free(ra);
    parquet_reader_free(rb);
    return n;
}

TEST(generator_overlap_for_compaction_tests)
{
    const char *tmp = test_tmpdir();
    char d[4][600], p[4][700];
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct tc_err err;

    for (int i = 0; i < 4; i++) {
        snprintf(d[i], sizeof(d[i]), "%s/b%d", tmp, i);
        snprintf(p[i], sizeof(p[i]), "%s/data.parquet", d[i]);
        vp4_gen_opts_default(&o);
        o.dir = d[i];
        o.traces = 300;
        o.seed = 10 + (uint64_t)i;
        o.shared = 40;
        o.shared_same = i < 2; /* blocks 0,1: identical rows; 2,3: split traces */
        o.start_unix = 1700000000 + 3600 * (uint64_t)i;
        o.shared_start = 1700000000;
        ASSERT_OK(vp4_gen_block(&o, &res, &err));
    }
    ASSERT_EQ(overlap(p[0], p[1], 1), 40);
    ASSERT_EQ(overlap(p[2], p[3], 1), 0);
    ASSERT_EQ(overlap(p[2], p[3], 0), 40);
    vp4_gen_opts_default(&o);
    o.dir = d[0];
    o.traces = 10;
    o.shared = 11;
    ASSERT_EQ(vp4_gen_block(&o, &res, &err), TC_INVAL);
    /* the same seed for both ID streams would repeat trace IDs */
    o.shared = 5;
    o.seed = o.shared_seed = 7;
    ASSERT_EQ(vp4_gen_block(&o, &res, &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "--shared-seed");
}

/* A tenant with a control character is refused; one with a quote is
 * escaped, so meta.json stays valid JSON (#18). */
TEST(generator_tenant_refused_or_escaped)
{
    const char *tmp = test_tmpdir();
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct tc_err err = {0};
    struct meta m;
    char d[600], path[700], *text;
    size_t len;

    snprintf(d, sizeof(d), "%s/b", tmp);
    vp4_gen_opts_default(&o);
    o.dir = d;
    o.traces = 5;
    o.tenant = "bad\x01tenant";
    ASSERT_EQ(vp4_gen_block(&o, &res, &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "--tenant");
    o.tenant = "say \"hi\"";
    ASSERT_OK(vp4_gen_block(&o, &res, &err));
    snprintf(path, sizeof(path), "%s/meta.json", d);
    text = test_slurp(path, &len);
    ASSERT_OK(meta_decode_json(text, len, &m, &err));
    ASSERT_STR_EQ(m.tenant, "say \"hi\"");
    tc_free(text);
}

struct counting_src {
    FILE *f;
    int calls;
    int fail_after;
};

static int
src_read(void *ctx, uint64_t off, void *dst, size_t len, struct tc_err *err)
{
    struct counting_src *c = ctx;

    if (c->fail_after >= 0 && c->calls >= c->fail_after)
        return tc_err_set(err, TC_NET, "injected: connection reset");
    c->calls++;
    if (fseek(c->f, (long)off, SEEK_SET) != 0 || fread(dst, 1, len, c->f) != len)
        return tc_err_set(err, TC_IO, "short read");
    return TC_OK;
}

/* A caller's source (object storage) gets one read per row group. */
TEST(source_reads_one_range_per_row_group)
{
    const char *tmp = test_tmpdir();
    char dir[600], path[700];
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct tc_err err;
    struct parquet_reader *rf, *rs;
    struct parquet_cursor *cf, *cs;
    struct parquet_source src;
    struct counting_src cnt = {NULL, 0, -1};
    struct parquet_row a, b;
    int ea = 0, eb = 0, rows = 0;

    snprintf(dir, sizeof(dir), "%s/blk", tmp);
    vp4_gen_opts_default(&o);
    o.dir = dir;
    o.traces = 500;
    o.row_group_bytes = 30000;
    ASSERT_OK(vp4_gen_block(&o, &res, &err));
    ASSERT_GT(res.row_groups, 3);
    snprintf(path, sizeof(path), "%s/data.parquet", dir);
    cnt.f = fopen(path, "rb");
    ASSERT(cnt.f != NULL);
    src.read_at = src_read;
    src.ctx = &cnt;
    src.size = res.size;
    ASSERT_OK(parquet_reader_open_source(&rs, &src, "s3://bucket/data.parquet", &err));
    ASSERT_OK(parquet_reader_open(&rf, path, &err));
    ASSERT_OK(parquet_cursor_new(&cs, rs, &err));
    ASSERT_OK(parquet_cursor_new(&cf, rf, &err));
    for (;;) {
        ASSERT_OK(parquet_cursor_next(cf, &a, &ea, &err));
        ASSERT_OK(parquet_cursor_next(cs, &b, &eb, &err));
        ASSERT_EQ(ea, eb);
        if (ea)
            break;
        ASSERT(parquet_row_equal(&a, &b));
        rows++;
    }
    ASSERT_EQ(rows, 500);
    /* head magic, tail, footer, then one range per row group */
    ASSERT_EQ(cnt.calls, 3 + res.row_groups);
    parquet_cursor_free(cs);
    parquet_reader_free(rs);
    /* a failing source: the error names the object */
    cnt.calls = 0;
    cnt.fail_after = 3;
    ASSERT_OK(parquet_reader_open_source(&rs, &src, "s3://bucket/data.parquet", &err));
    ASSERT_OK(parquet_cursor_new(&cs, rs, &err));
    ASSERT_EQ(parquet_cursor_next(cs, &b, &eb, &err), TC_NET);
    ASSERT_STR_CONTAINS(err.msg, "s3://bucket/data.parquet");
    ASSERT_STR_CONTAINS(err.msg, "connection reset");
    parquet_cursor_free(cs);
    parquet_reader_free(rs);
    parquet_cursor_free(cf);
    parquet_reader_free(rf);
    fclose(cnt.f);
}

/* The raw column index of column c in row group 0 of path (caller frees). */
static uint8_t *
raw_column_index(const char *path, int c, size_t *len)
{
    struct parquet_reader *r;
    struct tc_err err = {0};
    const struct parquet_chunk_meta *cm;
    uint8_t *buf;
    FILE *f;

    ASSERT_OK(parquet_reader_open(&r, path, &err));
    cm = &parquet_reader_meta(r)->rowgroups[0].cols[c];
    ASSERT(cm->column_index_offset > 0 && cm->column_index_length > 0);
    *len = (size_t)cm->column_index_length;
    buf = tc_malloc(*len);
    f = fopen(path, "rb");
    ASSERT(f != NULL && buf != NULL);
    ASSERT_OK(fseek(f, (long)cm->column_index_offset, SEEK_SET));
    ASSERT_EQ(fread(buf, 1, *len, f), *len);
    fclose(f);
    parquet_reader_free(r);
    return buf;
}

/*
 * Issue #17: Tempo's trace-ID lookup found nothing in our files. The
 * column index's null_pages list held its bools as the compact protocol's
 * 2 for false; parquet-go (Tempo's reader) takes any nonzero byte as true,
 * so every page was a null page without bounds and the TraceID predicate
 * skipped the chunk. Rewritten with our writer, Tempo's block must carry
 * the TraceID column index Tempo wrote, byte for byte except the boundary
 * order (we state ASCENDING; parquet-go leaves it UNORDERED).
 */
TEST(traceid_column_index_bytes_equal_tempos)
{
    TEST_NEED_SHARED(shared);
    const char *tmp = test_tmpdir();
    char src[1024], dst[600];
    struct parquet_reader *r;
    struct parquet_schema *s;
    struct parquet_write_info info;
    struct tc_err err = {0};
    uint8_t *theirs, *ours;
    size_t tl, ol;

    snprintf(src, sizeof(src),
             "%s/testdata/tempo-blocks/vParquet4/single-tenant/"
             "b27b0e53-66a0-4505-afd6-434ae3cd4a10/data.parquet",
             shared);
    snprintf(dst, sizeof(dst), "%s/copy.parquet", tmp);
    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_reader_open(&r, src, &err));
    ASSERT_OK(parquet_reader_project(r, s, &err));
    ASSERT_OK(parquet_copy_rows(r, s, dst, 0, 0, &info, &err));
    parquet_reader_free(r);
    parquet_schema_free(s);
    theirs = raw_column_index(src, 0, &tl);
    ours = raw_column_index(dst, 0, &ol);
    ASSERT_EQ(ol, tl);
    /* null_pages: list header (1 element, bool) and the element 0 */
    ASSERT_EQ(ours[0], 0x19);
    ASSERT_EQ(ours[1], 0x12);
    ASSERT_EQ(ours[2], 0x00);
    /* boundary_order is field 4, the byte after its 0x15 header */
    ASSERT_EQ(theirs[41], 0x15);
    ours[42] = theirs[42];
    ASSERT_MEM_EQ(ours, theirs, tl);
    tc_free(theirs);
    tc_free(ours);
}

TEST(direct_reader_declines_other_schemas)
{
    TEST_NEED_SHARED(shared);
    struct parquet_schema *s;
    struct parquet_reader *r;
    struct parquet_cursor *cur;
    struct parquet_row row;
    struct parquet_arena a;
    struct vp4_trace *t;
    struct tc_err err;
    int eof;

    ASSERT_OK(vp4_schema_new(&s, &err));
    /* the file's own (pre-release) schema is not the layout: declined,
     * and vp4_trace_from_row still reads it by name */
    ASSERT_OK(parquet_reader_open(&r, v4_path(shared), &err));
    ASSERT_OK(parquet_cursor_new(&cur, r, &err));
    ASSERT_OK(parquet_cursor_next(cur, &row, &eof, &err));
    parquet_arena_init(&a);
    ASSERT_EQ(vp4_trace_from_row_direct(&row, parquet_reader_schema(r), &a, &t, &err), TC_DECLINED);
    ASSERT_OK(vp4_trace_from_row(&row, parquet_reader_schema(r), &a, &t, &err));
    ASSERT_GT(t->nrs, 0);
    parquet_arena_cleanup(&a);
    parquet_cursor_free(cur);
    parquet_reader_free(r);
    parquet_schema_free(s);
}

/* ---- hand-built traces: every list empty or not, nulls and values ---- */

struct tb {
    struct parquet_arena *a;
    uint64_t rnd;
    unsigned serial; /* makes every string distinct, so a swapped field shows */
};

static uint32_t
tb_rand(struct tb *b, uint32_t n)
{
    b->rnd = b->rnd * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(b->rnd >> 33) % n;
}

static struct vp4_bytes
tb_str(struct tb *b, const char *what)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof(tmp), "%s-%u", what, b->serial++);
    uint8_t *p = parquet_arena_alloc(b->a, (size_t)n + 1);
    struct vp4_bytes r = {p, (uint32_t)n};

    ASSERT(p != NULL);
    memcpy(p, tmp, (size_t)n);
    if (tb_rand(b, 8) == 0) /* sometimes an empty, non-null string */
        r.len = 0;
    return r;
}

static struct vp4_ostr
tb_ostr(struct tb *b, const char *what)
{
    struct vp4_ostr o = {0, {(const uint8_t *)"", 0}};

    if (tb_rand(b, 2)) {
        o.set = 1;
        o.v = tb_str(b, what);
    }
    return o;
}

#define TB_ALLOC(b, n, T) ((T *)parquet_arena_alloc((b)->a, sizeof(T) * ((n) ? (n) : 1)))

static void
tb_attrs(struct tb *b, struct vp4_attrs *out)
{
    out->n = tb_rand(b, 4);
    out->a = TB_ALLOC(b, out->n, struct vp4_attr);
    for (uint32_t i = 0; i < out->n; i++) {
        struct vp4_attr *at = &out->a[i];
        at->key = tb_str(b, "key");
        at->is_array = (int)tb_rand(b, 2);
        at->nstr = tb_rand(b, 4);
        at->nint = tb_rand(b, 3);
        at->ndbl = tb_rand(b, 3);
        at->nbool = tb_rand(b, 3);
        at->str = TB_ALLOC(b, at->nstr, struct vp4_bytes);
        at->ints = TB_ALLOC(b, at->nint, int64_t);
        at->dbls = TB_ALLOC(b, at->ndbl, double);
        at->bools = TB_ALLOC(b, at->nbool, uint8_t);
        for (uint32_t k = 0; k < at->nstr; k++)
            at->str[k] = tb_str(b, "val");
        for (uint32_t k = 0; k < at->nint; k++)
            at->ints[k] = (int64_t)b->serial++ * -1000003;
        for (uint32_t k = 0; k < at->ndbl; k++)
            at->dbls[k] = b->serial++ + 0.25;
        for (uint32_t k = 0; k < at->nbool; k++)
            at->bools[k] = (uint8_t)tb_rand(b, 2);
        at->unsupported = tb_ostr(b, "unsup");
    }
}

static void
tb_dedicated(struct tb *b, struct vp4_ostr *d)
{
    for (int i = 0; i < 10; i++)
        d[i] = tb_ostr(b, "ded");
}

static void
tb_span(struct tb *b, struct vp4_span *s)
{
    s->span_id = tb_str(b, "sid");
    s->parent_span_id = tb_str(b, "psid");
    s->parent_id = (int32_t)b->serial++;
    s->nested_left = (int32_t)b->serial++;
    s->nested_right = -(int32_t)b->serial++;
    s->name = tb_str(b, "name");
    s->kind = b->serial++;
    s->trace_state = tb_str(b, "ts");
    s->start = 1700000000000000000ULL + b->serial++;
    s->duration = b->serial++;
    s->status_code = b->serial++;
    s->status_message = tb_str(b, "msg");
    tb_attrs(b, &s->attrs);
    s->dropped_attrs = (int32_t)b->serial++;
    s->nevents = tb_rand(b, 3);
    s->events = TB_ALLOC(b, s->nevents, struct vp4_event);
    for (uint32_t q = 0; q < s->nevents; q++) {
        s->events[q].time_since_start = b->serial++;
        s->events[q].name = tb_str(b, "ev");
        tb_attrs(b, &s->events[q].attrs);
        s->events[q].dropped_attrs = (int32_t)b->serial++;
    }
    s->dropped_events = (int32_t)b->serial++;
    s->nlinks = tb_rand(b, 3);
    s->links = TB_ALLOC(b, s->nlinks, struct vp4_link);
    for (uint32_t q = 0; q < s->nlinks; q++) {
        s->links[q].trace_id = tb_str(b, "ltid");
        s->links[q].span_id = tb_str(b, "lsid");
        s->links[q].trace_state = tb_str(b, "lts");
        tb_attrs(b, &s->links[q].attrs);
        s->links[q].dropped_attrs = (int32_t)b->serial++;
    }
    s->dropped_links = (int32_t)b->serial++;
    s->http_method = tb_ostr(b, "GET");
    s->http_url = tb_ostr(b, "url");
    s->has_http_status = (int)tb_rand(b, 2);
    s->http_status = s->has_http_status ? (int64_t)b->serial++ : 0;
    tb_dedicated(b, s->dedicated);
}

/* A random trace: up to 3 rs, ss, spans, 3 attrs with up to 3 values of
 * each kind, events and links; empty lists and nulls at every level. */
static struct vp4_trace *
tb_trace(struct tb *b)
{
    struct vp4_trace *t = TB_ALLOC(b, 1, struct vp4_trace);

    t->trace_id = tb_str(b, "tid");
    t->trace_id_text = tb_str(b, "tidtext");
    t->start = b->serial++;
    t->end = b->serial++;
    t->duration = b->serial++;
    t->root_service = tb_str(b, "rsvc");
    t->root_span = tb_str(b, "rspan");
    t->nstats = tb_rand(b, 3);
    t->stats = TB_ALLOC(b, t->nstats, struct vp4_service_stats);
    for (uint32_t i = 0; i < t->nstats; i++) {
        t->stats[i].service = tb_str(b, "svc");
        t->stats[i].span_count = b->serial++;
        t->stats[i].error_count = 0xfffffff0u + tb_rand(b, 15); /* uint32 above INT32_MAX */
    }
    t->nrs = tb_rand(b, 4);
    t->rs = TB_ALLOC(b, t->nrs, struct vp4_resource_spans);
    for (uint32_t i = 0; i < t->nrs; i++) {
        struct vp4_resource_spans *r = &t->rs[i];
        tb_attrs(b, &r->attrs);
        r->dropped_attrs = (int32_t)b->serial++;
        r->service_name = tb_str(b, "svc");
        for (int k = 0; k < VP4_RES_WELLKNOWN; k++)
            r->wellknown[k] = tb_ostr(b, "wk");
        tb_dedicated(b, r->dedicated);
        r->nss = tb_rand(b, 4);
        r->ss = TB_ALLOC(b, r->nss, struct vp4_scope_spans);
        for (uint32_t j = 0; j < r->nss; j++) {
            struct vp4_scope_spans *ss = &r->ss[j];
            ss->scope_name = tb_str(b, "scope");
            ss->scope_version = tb_str(b, "ver");
            tb_attrs(b, &ss->scope_attrs);
            ss->scope_dropped_attrs = (int32_t)b->serial++;
            ss->nspans = tb_rand(b, 4);
            ss->spans = TB_ALLOC(b, ss->nspans, struct vp4_span);
            for (uint32_t k = 0; k < ss->nspans; k++)
                tb_span(b, &ss->spans[k]);
        }
    }
    return t;
}

TEST(direct_reader_equals_tree_reader_hand_built)
{
    enum { NT = 400 };
    struct parquet_schema *s;
    struct parquet_rowset rs;
    struct parquet_rowiter it;
    struct parquet_row row;
    struct parquet_arena a, ra;
    struct tc_err err;
    struct tb b;
    struct vp4_trace **orig;
    char where[256];
    int n = 0, empty_rs = 0, empty_spans = 0, events = 0, links = 0, arrays = 0;

    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_rowset_init(&rs, s));
    parquet_arena_init(&a);
    parquet_arena_init(&ra);
    b.a = &a;
    b.rnd = 12345;
    b.serial = 1;
    orig = TB_ALLOC(&b, NT, struct vp4_trace *);
    /* all traces in one rowset: rows after the first start mid-buffer */
    for (int i = 0; i < NT; i++) {
        orig[i] = tb_trace(&b);
        if (!writers_agree(orig[i], s, &a))
            TEST_FAIL_("trace %d: the writers differ", i);
        ASSERT_OK(vp4_trace_to_rowset(orig[i], s, &a, &rs, &err));
    }
    ASSERT_OK(parquet_rowiter_init(&it, &rs));
    while (parquet_rowiter_next(&it, &row)) {
        struct vp4_trace *tt, *td;
        const struct vp4_trace *o = orig[n];
        parquet_arena_reset(&ra);
        ASSERT_OK(vp4_trace_from_row_tree(&row, s, &ra, &tt, &err));
        ASSERT_OK(vp4_trace_from_row_direct(&row, s, &ra, &td, &err));
        if (trace_diff(tt, td, where, sizeof(where)))
            TEST_FAIL_("trace %d: the readers differ at %s", n, where);
        if (trace_diff(o, td, where, sizeof(where)))
            TEST_FAIL_("trace %d: the direct reader differs from what was written at %s", n, where);
        /* the shapes the traces cover */
        empty_rs += o->nrs == 0;
        for (uint32_t i = 0; i < o->nrs; i++)
            for (uint32_t j = 0; j < o->rs[i].nss; j++) {
                const struct vp4_scope_spans *ss = &o->rs[i].ss[j];
                empty_spans += ss->nspans == 0;
                for (uint32_t k = 0; k < ss->nspans; k++) {
                    events += ss->spans[k].nevents > 0;
                    links += ss->spans[k].nlinks > 0;
                    for (uint32_t q = 0; q < ss->spans[k].attrs.n; q++)
                        arrays +=
                            ss->spans[k].attrs.a[q].is_array && ss->spans[k].attrs.a[q].nstr > 1;
                }
            }
        n++;
    }
    ASSERT_EQ(n, NT);
    ASSERT_GT(empty_rs, 0);
    ASSERT_GT(empty_spans, 0);
    ASSERT_GT(events, 0);
    ASSERT_GT(links, 0);
    ASSERT_GT(arrays, 0);
    parquet_rowiter_cleanup(&it);
    parquet_arena_cleanup(&ra);
    parquet_arena_cleanup(&a);
    parquet_rowset_cleanup(&rs);
    parquet_schema_free(s);
}

/* One trace with one scope of two spans, each with one event. */
static struct vp4_trace *
two_span_trace(struct tb *b)
{
    struct vp4_trace *t;

    do
        t = tb_trace(b);
    while (t->nrs == 0 || t->rs[0].nss == 0);
    t->nrs = 1;
    t->rs[0].nss = 1;
    t->rs[0].ss[0].nspans = 2;
    t->rs[0].ss[0].spans = TB_ALLOC(b, 2, struct vp4_span);
    for (int k = 0; k < 2; k++) {
        tb_span(b, &t->rs[0].ss[0].spans[k]);
        t->rs[0].ss[0].spans[k].nevents = 1;
        t->rs[0].ss[0].spans[k].events = TB_ALLOC(b, 1, struct vp4_event);
    }
    return t;
}

TEST(direct_reader_rejects_rows_whose_columns_disagree)
{
    struct parquet_schema *s;
    struct parquet_rowset rs;
    struct parquet_rowiter it;
    struct parquet_row row;
    struct parquet_arena a;
    struct tc_err err;
    struct tb b;
    struct vp4_trace *t;
    int c_name = -1, c_kind = -1, c_evname = -1;

    ASSERT_OK(vp4_schema_new(&s, &err));
    c_name = parquet_schema_find(s, SPANS "Name");
    c_kind = parquet_schema_find(s, SPANS "Kind");
    c_evname = parquet_schema_find(s, SPANS "Events.list.element.Name");
    ASSERT(c_name >= 0 && c_kind >= 0 && c_evname >= 0);
    parquet_arena_init(&a);
    b.a = &a;
    b.rnd = 99;
    b.serial = 1;
    for (int variant = 0; variant < 4; variant++) {
        struct parquet_colbuf *cb;
        ASSERT_OK(parquet_rowset_init(&rs, s));
        ASSERT_OK(vp4_trace_to_rowset(two_span_trace(&b), s, &a, &rs, &err));
        ASSERT_OK(vp4_trace_to_rowset(two_span_trace(&b), s, &a, &rs, &err));
        ASSERT_OK(parquet_rowiter_init(&it, &rs));
        ASSERT(parquet_rowiter_next(&it, &row));
        ASSERT_OK(vp4_trace_from_row_direct(&row, s, &a, &t, &err));
        ASSERT_EQ(t->rs[0].ss[0].nspans, 2);
        switch (variant) {
        case 0: /* the second span's Name starts a new scope: 2 scopes of 1 span */
            cb = &rs.cols[c_name];
            ASSERT_EQ(cb->rep[row.l0[c_name] + 1], 3);
            cb->rep[row.l0[c_name] + 1] = 2;
            break;
        case 1: /* Kind has one span fewer than SpanID */
            it.l1[c_kind]--;
            it.v1[c_kind]--;
            break;
        case 2: /* Kind has a third span: the next row's first entry */
            it.l1[c_kind]++;
            it.v1[c_kind]++;
            break;
        default: /* the first span's event list is empty in Events.Name only */
            cb = &rs.cols[c_evname];
            ASSERT_EQ(cb->def[row.l0[c_evname]], cb->max_def);
            cb->def[row.l0[c_evname]] = (uint8_t)(cb->max_def - 1);
            it.v0[c_evname]++;
            break;
        }
        tc_err_clear(&err);
        ASSERT_EQ(vp4_trace_from_row_direct(&row, s, &a, &t, &err), TC_CORRUPT);
        ASSERT_STR_CONTAINS(err.msg, variant == 0   ? SPANS "Name"
                                     : variant == 3 ? SPANS "Events.list.element.Name"
                                                    : SPANS "Kind");
        /* and so through the public entry point */
        ASSERT_EQ(vp4_trace_from_row(&row, s, &a, &t, &err), TC_CORRUPT);
        parquet_rowiter_cleanup(&it);
        parquet_rowset_cleanup(&rs);
    }
    parquet_arena_cleanup(&a);
    parquet_schema_free(s);
}

TEST_MAIN(TEST_ENTRY(schema_matches_tempo_layout), TEST_ENTRY(source_reads_one_range_per_row_group),
          TEST_ENTRY(generator_overlap_for_compaction_tests),
          TEST_ENTRY(generator_tenant_refused_or_escaped),
          TEST_ENTRY(traceid_column_index_bytes_equal_tempos),
          TEST_ENTRY(empty_file_has_no_row_groups), TEST_ENTRY(writer_rejects_foreign_rows),
          TEST_ENTRY(v3_conversion_equals_v4_block), TEST_ENTRY(v3_protobuf_attributes_and_links),
          TEST_ENTRY(schema_equals_test_block_except_prerelease_columns),
          TEST_ENTRY(projected_test_block_first_trace), TEST_ENTRY(model_roundtrip_real_block),
          TEST_ENTRY(generated_block_roundtrip_and_writer_features),
          TEST_ENTRY(small_pages_make_a_usable_page_index),
          TEST_ENTRY(row_groups_cut_by_size_and_memory_bounded),
          TEST_ENTRY(direct_reader_declines_other_schemas),
          TEST_ENTRY(direct_reader_equals_tree_reader_hand_built),
          TEST_ENTRY(direct_reader_rejects_rows_whose_columns_disagree))
