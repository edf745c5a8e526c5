/*
 * test_compact.c - compaction jobs on a local bucket of generated blocks.
 *
 * Inputs come from the generator with overlapping trace IDs: some shared
 * traces are byte-equal rows, some hold other spans of the same trace (the
 * combiner's case). Every check reads the files back with the Parquet
 * reader: the output's trace IDs are the union of the inputs', once each and
 * ascending, and its (trace ID, span ID) pairs are the union of the inputs'.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backend/backend.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/uuid.h"
#include "blocklist/blocklist.h"
#include "compact/compact.h"
#include "parquet/parquet.h"
#include "plan/retention.h"
#include "tempo/meta.h"
#include "tempo/vp4.h"
#include "tempo/vp4_bloom.h"
#include "test.h"
#include "tools/tools.h"

#define TENANT "t1"
#define SPANID "rs.list.element.ss.list.element.Spans.list.element.SpanID"

static char root[256];

static void
setup(void)
{
    snprintf(root, sizeof(root), "/tmp/tc-compact.XXXXXX");
    if (mkdtemp(root) == NULL)
        TEST_FAIL_("mkdtemp");
    log_set_level("error");
}

/* Generates a block into root/TENANT/<id>/ and returns its meta. */
static void
gen(struct meta *m, uint64_t traces, uint64_t seed, uint64_t shared, int shared_same, int level)
{
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct tc_err err;
    char tmp[512], dst[512], path[600];
    static int n;
    size_t len;
    char *text;

    snprintf(tmp, sizeof(tmp), "%s/.gen-%d", root, n++);
    vp4_gen_opts_default(&o);
    o.dir = tmp;
    o.tenant = TENANT;
    o.traces = traces;
    o.seed = seed;
    o.max_spans = 6;
    o.row_group_bytes = 20000;
    o.shared = shared;
    o.shared_seed = 77;
    o.shared_same = shared_same;
    o.compaction_level = level;
    o.start_unix = (uint64_t)time(NULL) - 3 * 86400;
    ASSERT_OK(vp4_gen_block(&o, &res, &err));
    snprintf(dst, sizeof(dst), "%s/%s", root, TENANT);
    mkdir(dst, 0755);
    snprintf(dst, sizeof(dst), "%s/%s/%s", root, TENANT, res.block_id);
    ASSERT_OK(rename(tmp, dst));
    snprintf(path, sizeof(path), "%s/meta.json", dst);
    text = test_slurp(path, &len);
    ASSERT_OK(meta_decode_json(text, len, m, &err));
    tc_free(text);
}

/* A sorted set of (trace ID, span ID) pairs, 24 bytes each (IDs padded). */
struct pairs {
    uint8_t (*v)[24];
    size_t n, cap;
    uint8_t (*ids)[16];
    size_t nids, idcap;
    int ascending;
};

static void
push(void **v, size_t *n, size_t *cap, size_t sz, const void *p)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        *v = tc_reallocarray(*v, *cap, sz);
        ASSERT(*v != NULL);
    }
    memcpy((uint8_t *)*v + *n * sz, p, sz);
    (*n)++;
}

static int
cmp24(const void *a, const void *b)
{
    return memcmp(a, b, 24);
}

static int
cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void
read_block(const char *tenant, const uint8_t id[16], struct pairs *p)
{
    char ids[UUID_STR_LEN + 1], path[600];
    struct parquet_reader *r;
    struct parquet_cursor *c;
    struct parquet_schema *s;
    struct parquet_row row;
    struct tc_err err;
    int eof = 0, col;

    uuid_format(id, ids);
    snprintf(path, sizeof(path), "%s/%s/%s/data.parquet", root, tenant, ids);
    ASSERT_OK(vp4_schema_new(&s, &err));
    col = parquet_schema_find(s, SPANID);
    ASSERT_GE(col, 0);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    ASSERT_OK(parquet_reader_project(r, s, &err));
    ASSERT_OK(parquet_cursor_new(&c, r, &err));
    p->ascending = 1;
    for (;;) {
        uint8_t tid[16] = {0}, pair[24];
        const uint8_t *t;
        uint32_t len;
        size_t v;
        ASSERT_OK(parquet_cursor_next(c, &row, &eof, &err));
        if (eof)
            break;
        t = parquet_row_bytes(&row, VP4_COL_TRACEID, &len);
        ASSERT(t != NULL && len == 16);
        memcpy(tid, t, 16);
        if (p->nids && memcmp(p->ids[p->nids - 1], tid, 16) >= 0)
            p->ascending = 0;
        push((void **)&p->ids, &p->nids, &p->idcap, 16, tid);
        for (v = row.v0[col]; v < row.v1[col]; v++) {
            const struct parquet_colbuf *cb = &row.cols[col];
            uint32_t sl = cb->offs[v + 1] - cb->offs[v];
            memset(pair, 0, sizeof(pair));
            memcpy(pair, tid, 16);
            memcpy(pair + 16, cb->data + cb->offs[v], sl > 8 ? 8 : sl);
            push((void **)&p->v, &p->n, &p->cap, 24, pair);
        }
    }
    parquet_cursor_free(c);
    parquet_reader_free(r);
    parquet_schema_free(s);
}

/* Sorts and removes duplicates. */
static void
uniq(struct pairs *p)
{
    size_t i, k = 0;

    qsort(p->v, p->n, 24, cmp24);
    for (i = 0; i < p->n; i++)
        if (k == 0 || memcmp(p->v[k - 1], p->v[i], 24) != 0)
            memcpy(p->v[k++], p->v[i], 24);
    p->n = k;
    qsort(p->ids, p->nids, 16, cmp16);
    for (i = 0, k = 0; i < p->nids; i++)
        if (k == 0 || memcmp(p->ids[k - 1], p->ids[i], 16) != 0)
            memcpy(p->ids[k++], p->ids[i], 16);
    p->nids = k;
}

static void
pairs_free(struct pairs *p)
{
    tc_free(p->v);
    tc_free(p->ids);
    memset(p, 0, sizeof(*p));
}

static int
exists(const char *tenant, const uint8_t id[16], const char *file)
{
    char ids[UUID_STR_LEN + 1], path[600];
    struct stat st;

    uuid_format(id, ids);
    snprintf(path, sizeof(path), "%s/%s/%s/%s", root, tenant, ids, file);
    return stat(path, &st) == 0;
}

static void
default_cfg(struct compact_cfg *c)
{
    memset(c, 0, sizeof(*c));
    vp4_block_cfg_defaults(&c->block);
    c->block.row_group_bytes = 30000; /* several row groups */
}

/* Checks the output block against its files and the expected union. */
static void
check_output(const struct meta *out, const struct pairs *want)
{
    struct pairs got;
    char ids[UUID_STR_LEN + 1], path[700];
    struct stat st;
    size_t i, len;
    char *text;
    struct meta onfile;
    struct tc_err err;
    struct parquet_reader *r;

    memset(&got, 0, sizeof(got));
    read_block(TENANT, out->id, &got);
    ASSERT(got.ascending);
    ASSERT_EQ(got.nids, want->nids);
    ASSERT_MEM_EQ(got.ids, want->ids, want->nids * 16);
    uniq(&got);
    ASSERT_EQ(got.n, want->n);
    ASSERT_MEM_EQ(got.v, want->v, want->n * 24);
    ASSERT_EQ(out->total_objects, (int64_t)want->nids);
    /* meta.json on disk is the meta returned, and matches the data file */
    uuid_format(out->id, ids);
    snprintf(path, sizeof(path), "%s/%s/%s/meta.json", root, TENANT, ids);
    text = test_slurp(path, &len);
    ASSERT_OK(meta_decode_json(text, len, &onfile, &err));
    ASSERT(meta_equal(&onfile, out));
    /* minID/maxID are the first and last trace IDs written */
    {
        json_t *j = json_loadb(text, len, 0, NULL);
        struct buf mn, mx;
        buf_init(&mn, 32);
        buf_init(&mx, 32);
        ASSERT(j != NULL);
        ASSERT_OK(buf_put_base64(&mn, want->ids[0], 16));
        ASSERT_OK(buf_put_base64(&mx, want->ids[want->nids - 1], 16));
        ASSERT_OK(buf_putc(&mn, 0));
        ASSERT_OK(buf_putc(&mx, 0));
        ASSERT_STR_EQ(json_string_value(json_object_get(j, "minID")), mn.data);
        ASSERT_STR_EQ(json_string_value(json_object_get(j, "maxID")), mx.data);
        json_decref(j);
        buf_cleanup(&mn);
        buf_cleanup(&mx);
    }
    tc_free(text);
    snprintf(path, sizeof(path), "%s/%s/%s/data.parquet", root, TENANT, ids);
    ASSERT_OK(stat(path, &st));
    ASSERT_U64_EQ(out->size, st.st_size);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    ASSERT_EQ(parquet_reader_meta(r)->footer_len, out->footer_size);
    ASSERT_EQ(parquet_reader_meta(r)->nrowgroups, (int)out->total_records);
    parquet_reader_free(r);
    /* every trace ID tests positive in its bloom shard */
    for (i = 0; i < want->nids; i++) {
        struct vp4_bloom b;
        uint32_t sh = vp4_bloom_shard(want->ids[i], 16, out->bloom_shards);
        char name[32];
        snprintf(name, sizeof(name), "bloom-%u", sh);
        snprintf(path, sizeof(path), "%s/%s/%s/%s", root, TENANT, ids, name);
        text = test_slurp(path, &len);
        ASSERT_OK(vp4_bloom_unmarshal(&b, (const uint8_t *)text, len, &err));
        ASSERT(vp4_bloom_test_shard(&b, want->ids[i], 16));
        vp4_bloom_cleanup(&b);
        tc_free(text);
    }
    pairs_free(&got);
}

static int
yes(void *ud)
{
    return 1;
}

TEST(merge_union_sorted_and_commit)
{
    struct meta m[3];
    const struct meta *in[3] = {&m[0], &m[1], &m[2]};
    struct pairs want;
    struct compact_cfg cfg;
    struct compact_result res;
    struct compact_progress prog;
    struct backend *be;
    struct blocklist *bl;
    struct tc_err err;
    struct meta *live, *comp;
    size_t nlive, ncomp, i;

    setup();
    /* m0 and m1 share 60 byte-equal traces; m2 holds 40 of those IDs with
     * other spans, so they must be combined */
    gen(&m[0], 200, 1, 60, 1, 0);
    gen(&m[1], 150, 2, 60, 1, 0);
    gen(&m[2], 120, 3, 40, 0, 1);
    memset(&want, 0, sizeof(want));
    for (i = 0; i < 3; i++)
        read_block(TENANT, m[i].id, &want);
    uniq(&want);
    ASSERT_LT(want.nids, 200 + 150 + 120);

    be = backend_local_new(root, &err);
    ASSERT(be != NULL);
    bl = blocklist_new();
    ASSERT_OK(blocklist_set_tenant(bl, TENANT, m, 3, NULL, 0));
    default_cfg(&cfg);
    memset(&prog, 0, sizeof(prog));
    ASSERT_OK(compact_job(be, bl, TENANT, in, 3, &cfg, yes, NULL, &prog, &res, &err));
    ASSERT_EQ(res.out.compaction_level, 2);
    ASSERT_EQ(res.level, 1);
    ASSERT_GT(res.objects_combined, 0);
    ASSERT_GT(res.objects_dropped, 0);
    ASSERT_EQ(res.marked, 3);
    ASSERT_GT(res.out.total_records, 1);
    ASSERT_U64_EQ(atomic_load(&prog.rows_in), 200 + 150 + 120);
    ASSERT_STR_EQ(res.out.version, "vParquet4");
    /* start/end are the inputs' min and max */
    for (i = 0; i < 3; i++) {
        ASSERT_LE(res.out.start_s, m[i].start_s);
        ASSERT_GE(res.out.end_s, m[i].end_s);
    }
    check_output(&res.out, &want);
    /* inputs marked compacted: meta.compacted.json, no meta.json */
    for (i = 0; i < 3; i++) {
        ASSERT(!exists(TENANT, m[i].id, "meta.json"));
        ASSERT(exists(TENANT, m[i].id, "meta.compacted.json"));
        ASSERT(exists(TENANT, m[i].id, "data.parquet"));
    }
    /* the blocklist moved at once */
    ASSERT_OK(blocklist_get(bl, TENANT, &live, &nlive, &comp, &ncomp));
    ASSERT_EQ(nlive, 1);
    ASSERT_MEM_EQ(live[0].id, res.out.id, 16);
    ASSERT_EQ(ncomp, 3);
    tc_free(live);
    tc_free(comp);
    pairs_free(&want);

    /* a second compaction of the output with a new level-1 block gives 3 */
    {
        struct meta m2[2];
        const struct meta *in2[2] = {&m2[0], &m2[1]};
        struct compact_result res2;
        m2[0] = res.out;
        gen(&m2[1], 50, 9, 30, 0, 1);
        memset(&want, 0, sizeof(want));
        read_block(TENANT, m2[0].id, &want);
        read_block(TENANT, m2[1].id, &want);
        uniq(&want);
        ASSERT_OK(compact_job(be, bl, TENANT, in2, 2, &cfg, yes, NULL, NULL, &res2, &err));
        ASSERT_EQ(res2.out.compaction_level, 3);
        check_output(&res2.out, &want);
        pairs_free(&want);
    }
    blocklist_free(bl);
    backend_free(be);
}

TEST(level_zero_inputs_give_level_one)
{
    struct meta m[2];
    const struct meta *in[2] = {&m[0], &m[1]};
    struct compact_cfg cfg;
    struct compact_result res;
    struct backend *be;
    struct tc_err err;

    setup();
    gen(&m[0], 80, 1, 20, 0, 0);
    gen(&m[1], 80, 2, 20, 0, 0);
    be = backend_local_new(root, &err);
    default_cfg(&cfg);
    ASSERT_OK(compact_job(be, NULL, TENANT, in, 2, &cfg, NULL, NULL, NULL, &res, &err));
    ASSERT_EQ(res.out.compaction_level, 1);
    ASSERT_EQ(res.out.total_objects, 140);
    backend_free(be);
}

TEST(vanished_input_abandons_job)
{
    struct meta m[2];
    const struct meta *in[2] = {&m[0], &m[1]};
    struct compact_cfg cfg;
    struct compact_result res;
    struct backend *be;
    struct tc_err err;
    char ids[UUID_STR_LEN + 1], path[600];
    DIR *dir;
    struct dirent *e;
    int blocks = 0;

    setup();
    gen(&m[0], 50, 1, 10, 0, 0);
    gen(&m[1], 50, 2, 10, 0, 0);
    uuid_format(m[1].id, ids);
    snprintf(path, sizeof(path), "%s/%s/%s/meta.json", root, TENANT, ids);
    ASSERT_OK(unlink(path));
    be = backend_local_new(root, &err);
    default_cfg(&cfg);
    ASSERT_EQ(compact_job(be, NULL, TENANT, in, 2, &cfg, NULL, NULL, NULL, &res, &err),
              TC_NOTFOUND);
    ASSERT(exists(TENANT, m[0].id, "meta.json"));
    /* no output block was started */
    snprintf(path, sizeof(path), "%s/%s", root, TENANT);
    dir = opendir(path);
    ASSERT(dir != NULL);
    while ((e = readdir(dir)) != NULL)
        blocks += e->d_name[0] != '.';
    closedir(dir);
    ASSERT_EQ(blocks, 2);
    backend_free(be);
}

static int calls;

static int
lose_at_end(void *ud)
{
    /* owns during the merge, lost at the final check */
    (void)ud;
    return calls++ < *(int *)ud;
}

TEST(lost_ownership_removes_output_keeps_inputs)
{
    struct meta m[2];
    const struct meta *in[2] = {&m[0], &m[1]};
    struct compact_cfg cfg;
    struct compact_result res;
    struct backend *be;
    struct tc_err err;
    char path[600];
    DIR *dir;
    struct dirent *e;
    int blocks = 0, metas = 0, limit = 0;

    setup();
    gen(&m[0], 60, 1, 10, 0, 0);
    gen(&m[1], 60, 2, 10, 0, 0);
    be = backend_local_new(root, &err);
    default_cfg(&cfg);
    calls = 0;
    ASSERT_EQ(compact_job(be, NULL, TENANT, in, 2, &cfg, lose_at_end, &limit, NULL, &res, &err),
              TC_CANCELED);
    ASSERT_STR_CONTAINS(err.msg, "ownership");
    ASSERT(exists(TENANT, m[0].id, "meta.json"));
    ASSERT(exists(TENANT, m[1].id, "meta.json"));
    snprintf(path, sizeof(path), "%s/%s", root, TENANT);
    dir = opendir(path);
    while ((e = readdir(dir)) != NULL) {
        uint8_t id[16];
        if (e->d_name[0] == '.')
            continue;
        blocks++;
        if (uuid_parse(e->d_name, strlen(e->d_name), id) == TC_OK &&
            exists(TENANT, id, "meta.json"))
            metas++;
    }
    closedir(dir);
    ASSERT_EQ(metas, 2); /* the output is not visible */
    ASSERT_LE(blocks, 3);
    backend_free(be);
}

struct rival {
    struct backend *be;
    const struct meta *const *in;
    size_t n, mark;
};

static int
rival_compacts(void *ud)
{
    /* another compactor marks `mark` of the inputs while ours merges */
    struct rival *r = ud;
    struct tc_err e;

    for (; r->mark > 0; r->mark--)
        ASSERT_OK(retention_mark_compacted(r->be, TENANT, r->in[r->mark - 1]->id, &e));
    return 1;
}

TEST(inputs_taken_by_another_compactor_retire_the_output)
{
    struct meta m[2];
    const struct meta *in[2] = {&m[0], &m[1]};
    struct compact_cfg cfg;
    struct compact_result res;
    struct rival r;
    struct tc_err err;
    size_t mark;

    /* all taken: our output duplicates the rival's and is retired; one
     * taken: ours alone holds the other input's data and stays live */
    for (mark = 2; mark >= 1; mark--) {
        setup();
        gen(&m[0], 40, 1, 10, 0, 0);
        gen(&m[1], 40, 2, 10, 0, 0);
        r.be = backend_local_new(root, &err);
        r.in = in;
        r.n = 2;
        r.mark = mark;
        default_cfg(&cfg);
        ASSERT_OK(
            compact_job(r.be, NULL, TENANT, in, 2, &cfg, rival_compacts, &r, NULL, &res, &err));
        ASSERT_EQ(res.mark_errors, (unsigned)mark);
        ASSERT_EQ(res.retired, mark == 2);
        ASSERT_EQ(exists(TENANT, res.out.id, "meta.json"), mark != 2);
        ASSERT_EQ(exists(TENANT, res.out.id, "meta.compacted.json"), mark == 2);
        ASSERT(exists(TENANT, res.out.id, "data.parquet"));
        backend_free(r.be);
    }
}

TEST(trace_over_max_bytes_keeps_first_copy)
{
    struct meta m[2];
    const struct meta *in[2] = {&m[0], &m[1]};
    struct compact_cfg cfg;
    struct compact_result res;
    struct backend *be;
    struct tc_err err;
    struct pairs a, out;

    setup();
    gen(&m[0], 40, 1, 20, 0, 0);
    gen(&m[1], 40, 2, 20, 0, 0);
    memset(&a, 0, sizeof(a));
    read_block(TENANT, m[0].id, &a);
    be = backend_local_new(root, &err);
    default_cfg(&cfg);
    cfg.max_bytes_per_trace = 1;
    ASSERT_OK(compact_job(be, NULL, TENANT, in, 2, &cfg, NULL, NULL, NULL, &res, &err));
    ASSERT_EQ(res.objects_combined, 0);
    ASSERT_GT(res.spans_discarded, 0);
    ASSERT_EQ(res.out.total_objects, 60);
    /* a shared trace keeps the first input's spans only */
    memset(&out, 0, sizeof(out));
    read_block(TENANT, res.out.id, &out);
    uniq(&a);
    uniq(&out);
    ASSERT_GT(out.n, a.n);
    pairs_free(&a);
    pairs_free(&out);
    backend_free(be);
}

TEST(corrupt_input_is_an_error_naming_it)
{
    struct meta m[2];
    const struct meta *in[2] = {&m[0], &m[1]};
    struct compact_cfg cfg;
    struct compact_result res;
    struct backend *be;
    struct tc_err err;
    char ids[UUID_STR_LEN + 1], path[600];

    setup();
    gen(&m[0], 50, 1, 10, 0, 0);
    gen(&m[1], 50, 2, 10, 0, 0);
    uuid_format(m[1].id, ids);
    snprintf(path, sizeof(path), "%s/%s/%s/data.parquet", root, TENANT, ids);
    ASSERT_OK(truncate(path, (off_t)(m[1].size / 2)));
    be = backend_local_new(root, &err);
    default_cfg(&cfg);
    ASSERT_NE(compact_job(be, NULL, TENANT, in, 2, &cfg, NULL, NULL, NULL, &res, &err), TC_OK);
    ASSERT_STR_CONTAINS(err.msg, ids);
    ASSERT(exists(TENANT, m[0].id, "meta.json"));
    ASSERT(exists(TENANT, m[1].id, "meta.json"));
    backend_free(be);
}

TEST(vparquet3_inputs_are_refused)
{
    struct meta m[2];
    const struct meta *in[2] = {&m[0], &m[1]};
    struct compact_cfg cfg;
    struct compact_result res;
    struct backend *be;
    struct tc_err err;

    setup();
    gen(&m[0], 10, 1, 0, 0, 0);
    gen(&m[1], 10, 2, 0, 0, 0);
    m[1].version = meta_intern("vParquet3", 9);
    be = backend_local_new(root, &err);
    default_cfg(&cfg);
    ASSERT_EQ(compact_job(be, NULL, TENANT, in, 2, &cfg, NULL, NULL, NULL, &res, &err),
              TC_UNSUPPORTED);
    ASSERT(exists(TENANT, m[0].id, "meta.json"));
    backend_free(be);
}

TEST_MAIN(TEST_ENTRY(merge_union_sorted_and_commit), TEST_ENTRY(level_zero_inputs_give_level_one),
          TEST_ENTRY(vanished_input_abandons_job),
          TEST_ENTRY(lost_ownership_removes_output_keeps_inputs),
          TEST_ENTRY(inputs_taken_by_another_compactor_retire_the_output),
          TEST_ENTRY(trace_over_max_bytes_keeps_first_copy),
          TEST_ENTRY(corrupt_input_is_an_error_naming_it), TEST_ENTRY(vparquet3_inputs_are_refused))
