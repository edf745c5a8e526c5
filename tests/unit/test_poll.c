/* test_poll.c - the blocklist poller over the local backend. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "backend/backend.h"
#include "blocklist/blocklist.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "blocklist/poll.h"
#include "base/tc.h"
#include "test.h"
#include "base/timefmt.h"
#include "tempo/tindex.h"
#include "base/uuid.h"

static void
make_id(int tenant, int i, uint8_t id[16])
{
    memset(id, 0, 16);
    id[0] = (uint8_t)(i * 37);
    id[1] = (uint8_t)tenant;
    id[14] = (uint8_t)(i >> 8);
    id[15] = (uint8_t)i;
    id[6] = 0x40;
    id[8] = 0x80;
}

static void
put_meta(struct backend *b, const char *tenant, const uint8_t id[16], const char *file)
{
    struct meta m;
    struct buf js;
    char key[256], sid[UUID_STR_LEN + 1];
    struct tc_err err = {0};

    meta_init(&m);
    memcpy(m.id, id, 16);
    m.version = meta_intern("vParquet4", 9);
    m.tenant = meta_intern(tenant, strlen(tenant));
    m.start_s = 1700000000 + id[15];
    m.end_s = m.start_s + 60;
    m.total_objects = 10;
    m.size = 1000;
    buf_init(&js, 0);
    ASSERT_OK(meta_encode_json(&m, 0, &js));
    uuid_format(id, sid);
    snprintf(key, sizeof(key), "%s/%s/%s", tenant, sid, file);
    ASSERT_OK(backend_put(b, key, js.data, js.len, &err));
    snprintf(key, sizeof(key), "%s/%s/data.parquet", tenant, sid);
    ASSERT_OK(backend_put(b, key, "PAR1", 4, &err));
    buf_cleanup(&js);
}

static void
mark_compacted(struct backend *b, const char *tenant, const uint8_t id[16])
{
    char src[256], dst[256], sid[UUID_STR_LEN + 1];
    struct tc_err err = {0};

    uuid_format(id, sid);
    snprintf(src, sizeof(src), "%s/%s/meta.json", tenant, sid);
    snprintf(dst, sizeof(dst), "%s/%s/meta.compacted.json", tenant, sid);
    ASSERT_OK(backend_copy(b, src, dst, &err));
    ASSERT_OK(backend_delete(b, src, &err));
}

/* Tenant "a": 20 live, 5 compacted. Tenant "b": 10 live. */
static struct backend *
make_bucket(const char **dirp)
{
    const char *dir = test_tmpdir();
    struct tc_err err = {0};
    struct backend *b = backend_local_new(dir, &err);
    uint8_t id[16];
    int i;

    ASSERT(b != NULL);
    for (i = 0; i < 25; i++) {
        make_id(1, i, id);
        put_meta(b, "a", id, i < 20 ? "meta.json" : "meta.compacted.json");
    }
    for (i = 0; i < 10; i++) {
        make_id(2, i, id);
        put_meta(b, "b", id, "meta.json");
    }
    *dirp = dir;
    return b;
}

static size_t
count(struct blocklist *bl, const char *tenant, int compacted)
{
    struct meta *l, *c;
    size_t nl, nc;

    if (blocklist_get(bl, tenant, &l, &nl, &c, &nc) != TC_OK)
        return 0;
    tc_free(l);
    tc_free(c);
    return compacted ? nc : nl;
}

static int
log_to_file(const char *dir, char *path, size_t n)
{
    int fd;

    snprintf(path, n, "%s.log", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(fd >= 0);
    log_set_fd(fd);
    return fd;
}

TEST(cold_poll_then_warm_restart_needs_no_gets)
{
    const char *dir;
    struct backend *b = make_bucket(&dir);
    struct poll_cfg cfg;
    struct poll_stats st;
    struct metrics *reg = metrics_new();
    struct blocklist *bl = blocklist_new();
    struct poller *p;
    struct tc_err err = {0};
    char state[512];

    snprintf(state, sizeof(state), "%s.state", dir);
    poll_cfg_defaults(&cfg);
    cfg.state_path = state;
    cfg.tenant_concurrency = 2;
    p = poller_new(b, &cfg, NULL, NULL, reg, &err);
    ASSERT(p != NULL);
    ASSERT_OK(poller_poll(p, bl, &err));
    poller_stats(p, &st);
    ASSERT_EQ(st.tenants, 2);
    ASSERT_EQ(st.meta_gets, 35); /* one GET per block, no more */
    ASSERT_EQ(count(bl, "a", 0), 20);
    ASSERT_EQ(count(bl, "a", 1), 5);
    ASSERT_EQ(count(bl, "b", 0), 10);
    ASSERT_DBL_NEAR(metrics_value(metrics_gauge(reg, "tempodb_blocklist_length", "",
                                                (const char *const[]){"tenant", NULL}),
                                  (const char *[]){"a"}),
                    20, 0);
    /* Second poll, same process: everything known. */
    ASSERT_OK(poller_poll(p, bl, &err));
    poller_stats(p, &st);
    ASSERT_EQ(st.meta_gets, 0);
    ASSERT_EQ(st.known, 35);
    poller_free(p);
    blocklist_free(bl);

    /* New process with the state file: 0 GETs, no index read. */
    bl = blocklist_new();
    p = poller_new(b, &cfg, NULL, NULL, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    poller_stats(p, &st);
    ASSERT_EQ(st.meta_gets, 0);
    ASSERT_EQ(st.seeded_state, 2);
    ASSERT_EQ(st.index_reads, 0);
    ASSERT_EQ(count(bl, "a", 1), 5);
    poller_free(p);
    blocklist_free(bl);

    /* New process without state: seeded from the tenant index. */
    unlink(state);
    bl = blocklist_new();
    p = poller_new(b, &cfg, NULL, NULL, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    poller_stats(p, &st);
    ASSERT_EQ(st.meta_gets, 0);
    ASSERT_EQ(st.seeded_index, 2);
    ASSERT_EQ(count(bl, "a", 0), 20);
    poller_free(p);
    blocklist_free(bl);
    metrics_free(reg);
    backend_free(b);
}

/* A restart seeded from the state file does not read the tenant index, so
 * it would replace a corrupt one silently: it reads it once before the
 * first overwrite and warns, naming the file (#18 point 4). */
TEST(corrupt_index_is_reported_before_it_is_replaced)
{
    const char *dir;
    struct backend *b = make_bucket(&dir);
    struct poll_cfg cfg;
    struct metrics *reg = metrics_new();
    struct blocklist *bl = blocklist_new();
    struct poller *p;
    struct tc_err err = {0};
    struct tindex ti;
    char state[512], logp[600], *log;
    int fd;

    snprintf(state, sizeof(state), "%s.state", dir);
    poll_cfg_defaults(&cfg);
    cfg.state_path = state;
    p = poller_new(b, &cfg, NULL, NULL, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    poller_free(p);
    blocklist_free(bl);
    ASSERT_OK(backend_put(b, "a/index.pb.zst", "\x28\xb5\x2f\xfd\x00", 5, &err));
    fd = log_to_file(dir, logp, sizeof(logp));
    bl = blocklist_new();
    p = poller_new(b, &cfg, NULL, NULL, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    ASSERT_OK(poller_poll(p, bl, &err));
    close(fd);
    log = test_slurp(logp, NULL);
    ASSERT_STR_CONTAINS(log, "replacing an unreadable tenant index");
    ASSERT_STR_CONTAINS(log, "file=a/index.pb.zst");
    ASSERT(strstr(strstr(log, "replacing an unreadable") + 1, "replacing an unreadable") == NULL);
    ASSERT(strstr(log, "tenant=b file=") == NULL); /* b's index was fine */
    tc_free(log);
    ASSERT_OK(tindex_read(b, "a", &ti, NULL, &err)); /* and it was rewritten */
    ASSERT_EQ(ti.nlive, 20);
    tindex_cleanup(&ti);
    poller_free(p);
    blocklist_free(bl);
    metrics_free(reg);
    backend_free(b);
}

TEST(live_to_compacted_costs_no_get)
{
    const char *dir;
    struct backend *b = make_bucket(&dir);
    struct poll_cfg cfg;
    struct poll_stats st;
    struct metrics *reg = metrics_new();
    struct blocklist *bl = blocklist_new();
    struct poller *p;
    struct tc_err err = {0};
    uint8_t id[16];
    struct meta m;
    int comp = 0;
    int64_t now_s;
    int32_t now_ns;

    poll_cfg_defaults(&cfg);
    p = poller_new(b, &cfg, NULL, NULL, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    make_id(1, 3, id);
    mark_compacted(b, "a", id);
    make_id(1, 30, id);
    put_meta(b, "a", id, "meta.json"); /* one new block */
    ASSERT_OK(poller_poll(p, bl, &err));
    poller_stats(p, &st);
    ASSERT_EQ(st.meta_gets, 1);
    make_id(1, 3, id);
    ASSERT_OK(blocklist_lookup(bl, "a", id, &m, &comp));
    ASSERT_EQ(comp, 1);
    timefmt_now(&now_s, &now_ns);
    ASSERT(m.compacted_s > now_s - 60);
    ASSERT_EQ(count(bl, "a", 0), 20);
    ASSERT_EQ(count(bl, "a", 1), 6);
    poller_free(p);
    blocklist_free(bl);
    metrics_free(reg);
    backend_free(b);
}

TEST(bad_input_loses_nothing)
{
    const char *dir;
    struct backend *b = make_bucket(&dir);
    struct poll_cfg cfg;
    struct poll_stats st;
    struct metrics *reg = metrics_new();
    struct blocklist *bl = blocklist_new();
    struct poller *p;
    struct tc_err err = {0};
    char path[1024], logp[600], *log;
    uint8_t id[16];
    int fd;

    /* corrupt meta, 2 GB meta (sparse), intermediate block, both files,
     * a non-UUID directory, and a truncated tenant index for tenant b. */
    ASSERT_OK(
        backend_put(b, "a/11111111-1111-4111-8111-111111111111/meta.json", "{\"form", 6, &err));
    snprintf(path, sizeof(path), "%s/a/22222222-2222-4222-8222-222222222222", dir);
    mkdir(path, 0755);
    strcat(path, "/meta.json"); /* lint-ok: test path building */
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    ASSERT(fd >= 0);
    ASSERT_OK(ftruncate(fd, (off_t)2 << 30));
    close(fd);
    ASSERT_OK(backend_put(b, "a/33333333-3333-4333-8333-333333333333/data.parquet", "x", 1, &err));
    make_id(1, 40, id);
    put_meta(b, "a", id, "meta.json");
    put_meta(b, "a", id, "meta.compacted.json");
    ASSERT_OK(backend_put(b, "a/not-a-uuid/meta.json", "{}", 2, &err));
    /* a meta that names another tenant: kept, under its directory's tenant */
    {
        static const char js[] =
            "{\"format\":\"vParquet4\",\"blockID\":"
            "\"44444444-4444-4444-8444-444444444444\",\"tenantID\":\"elsewhere\","
            "\"startTime\":\"2024-01-01T00:00:00Z\",\"endTime\":"
            "\"2024-01-01T00:01:00Z\",\"totalObjects\":1}";
        ASSERT_OK(backend_put(b, "a/44444444-4444-4444-8444-444444444444/meta.json", js,
                              sizeof(js) - 1, &err));
    }
    ASSERT_OK(backend_put(b, "b/index.pb.zst", "\x28\xb5\x2f\xfd\x00", 5, &err));
    fd = log_to_file(dir, logp, sizeof(logp));
    poll_cfg_defaults(&cfg);
    p = poller_new(b, &cfg, NULL, NULL, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    poller_stats(p, &st);
    ASSERT_EQ(st.bad, 2);
    ASSERT_EQ(st.skipped, 0);
    ASSERT_EQ(count(bl, "a", 0), 21);
    ASSERT_EQ(count(bl, "a", 1), 6); /* the "both" block counts as compacted only */
    {
        const uint8_t fid[16] = {0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44,
                                 0x84, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44};
        struct meta got;
        int comp;
        ASSERT_OK(blocklist_lookup(bl, "a", fid, &got, &comp));
        ASSERT_STR_EQ(got.tenant, "a");
    }
    ASSERT_EQ(count(bl, "b", 0), 10);
    ASSERT_DBL_NEAR(metrics_value(metrics_counter(reg, "tempodb_blocklist_poll_errors_total", "",
                                                  (const char *const[]){"tenant", NULL}),
                                  (const char *[]){"a"}),
                    2, 0);
    close(fd);
    log = test_slurp(logp, NULL);
    ASSERT_STR_CONTAINS(log, "skipping block with unreadable meta");
    ASSERT_STR_CONTAINS(log, "11111111-1111-4111-8111-111111111111/meta.json");
    ASSERT_STR_CONTAINS(log, "exceed the cap");
    ASSERT_STR_CONTAINS(log, "tenant index unusable as poll seed");
    ASSERT_STR_CONTAINS(log, "meta tenantID differs from the tenant directory");
    ASSERT_STR_CONTAINS(log, "tenantID=elsewhere");
    ASSERT_DBL_NEAR(
        metrics_value(metrics_counter(reg, "tempodb_blocklist_tenant_index_errors_total", "",
                                      (const char *const[]){"tenant", NULL}),
                      (const char *[]){"b"}),
        1, 0);
    tc_free(log);
    poller_free(p);
    blocklist_free(bl);
    metrics_free(reg);
    backend_free(b);
}

/* A test-only backend that reports a hostile tenant name on top of local. */
struct hostile {
    struct backend base;
    struct backend *inner;
};

static int
hostile_tenants(struct backend *b, struct backend_strlist *out, struct tc_err *err)
{
    struct hostile *h = (struct hostile *)b;
    int rc = backend_tenants(h->inner, out, err);

    if (rc == TC_OK)
        rc = backend_strlist_add(out, "../x", 4);
    return rc == TC_OK ? backend_strlist_add(out, "..", 2) : rc;
}

static int
hostile_blocks(struct backend *b, const char *t, struct backend_blocks *out, struct tc_err *err)
{
    return ((struct hostile *)b)->inner->ops->blocks(((struct hostile *)b)->inner, t, out, err);
}

static int
hostile_get(struct backend *b, const char *key, uint64_t off, uint64_t len, size_t max,
            struct buf *out, int64_t *mtime, struct tc_err *err)
{
    return backend_get(((struct hostile *)b)->inner, key, off, len, max, out, mtime, err);
}

static void
hostile_get_many(struct backend *b, struct backend_get *reqs, size_t n, int c, int j,
                 backend_get_done_fn done, void *ud)
{
    backend_get_many_serial(b, reqs, n, j, done, ud);
}

static int
hostile_put(struct backend *b, const char *key, const void *p, size_t n, struct tc_err *err)
{
    return backend_put(((struct hostile *)b)->inner, key, p, n, err);
}

static int
hostile_del(struct backend *b, const char *key, struct tc_err *err)
{
    return backend_delete(((struct hostile *)b)->inner, key, err);
}

TEST(hostile_tenant_is_skipped)
{
    const char *dir;
    struct backend_ops ops = {.name = "hostile",
                              .tenants = hostile_tenants,
                              .blocks = hostile_blocks,
                              .get = hostile_get,
                              .get_many = hostile_get_many,
                              .put = hostile_put,
                              .del = hostile_del};
    struct hostile h = {{&ops, {0}}, make_bucket(&dir)};
    struct poll_cfg cfg;
    struct metrics *reg = metrics_new();
    struct blocklist *bl = blocklist_new();
    struct poller *p;
    struct tc_err err = {0};
    struct buf out;
    char logp[600], *log;
    int fd = log_to_file(dir, logp, sizeof(logp));

    poll_cfg_defaults(&cfg);
    p = poller_new(&h.base, &cfg, NULL, NULL, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    ASSERT_EQ(count(bl, "a", 0), 20);
    ASSERT_EQ(count(bl, "b", 0), 10);
    ASSERT_EQ(blocklist_len(bl), 35);
    ASSERT_DBL_NEAR(metrics_value(metrics_counter(reg, "tempodb_blocklist_poll_errors_total", "",
                                                  (const char *const[]){"tenant", NULL}),
                                  (const char *[]){"../x"}),
                    1, 0);
    close(fd);
    log = test_slurp(logp, NULL);
    ASSERT_STR_CONTAINS(log, "skipping invalid tenant");
    ASSERT_STR_CONTAINS(log, "tenant \\\"../x\\\": contains '/'");
    ASSERT_STR_CONTAINS(log, "would escape the root");
    tc_free(log);
    buf_init(&out, 0);
    ASSERT_OK(poller_status_json(p, &out));
    ASSERT_STR_CONTAINS(out.data, "{\"tenant\":\"a\",\"state\":\"done\",\"listed\":25,\"known\":0,"
                                  "\"fetched\":25,\"remaining\":0,\"errors\":0");
    buf_cleanup(&out);
    poller_free(p);
    blocklist_free(bl);
    metrics_free(reg);
    backend_free(h.inner);
}

static int
owns_nothing(const char *job, void *ud)
{
    int *calls = ud;

    (*calls)++;
    return strstr(job, "build-tenant-index-") == job ? 0 : 1;
}

TEST(non_builder_reads_index_and_falls_back)
{
    const char *dir;
    struct backend *b = make_bucket(&dir);
    struct poll_cfg cfg;
    struct poll_stats st;
    struct metrics *reg = metrics_new();
    struct blocklist *bl = blocklist_new();
    struct poller *p;
    struct tc_err err = {0};
    int calls = 0;

    poll_cfg_defaults(&cfg);
    /* No index yet: fallback lists (and writes the index). */
    p = poller_new(b, &cfg, owns_nothing, &calls, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    ASSERT_EQ(calls, 4); /* 2 builders x 2 tenants */
    poller_stats(p, &st);
    ASSERT_EQ(st.meta_gets, 35);
    ASSERT_EQ(count(bl, "a", 0), 20);
    poller_free(p);
    /* Index exists now: a fresh non-builder reads it, no listing. */
    blocklist_free(bl);
    bl = blocklist_new();
    p = poller_new(b, &cfg, owns_nothing, &calls, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    poller_stats(p, &st);
    ASSERT_EQ(st.meta_gets, 0);
    ASSERT_EQ(st.listed_live, 0);
    ASSERT_EQ(count(bl, "a", 1), 5);
    poller_free(p);
    /* Without fallback and without index, both tenants fail; tolerate 1 → abandon. */

    {
        struct tc_err e = {0};

        backend_delete(b, "a/index.pb.zst", &e);
        backend_delete(b, "a/index.json.gz", &e);
        backend_delete(b, "b/index.pb.zst", &e);
        backend_delete(b, "b/index.json.gz", &e);
    }
    cfg.fallback = 0;
    p = poller_new(b, &cfg, owns_nothing, &calls, reg, &err);
    ASSERT_EQ(poller_poll(p, bl, &err), TC_ERR);
    ASSERT_STR_CONTAINS(err.msg, "too many tenant failures");
    ASSERT_EQ(count(bl, "a", 1), 5); /* previous list kept */
    poller_free(p);
    cfg.tolerate_tenant_failures = 2;
    p = poller_new(b, &cfg, owns_nothing, &calls, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    ASSERT_EQ(count(bl, "a", 1), 5); /* failed tenants keep previous metas */
    poller_free(p);

    blocklist_free(bl);
    metrics_free(reg);
    backend_free(b);
}

TEST(local_updates_survive_a_stale_poll)
{
    struct blocklist *bl = blocklist_new(), *polled = blocklist_new();
    struct meta m[3];
    uint8_t rm[1][16];
    int i, comp;
    struct meta out;

    for (i = 0; i < 3; i++) {
        meta_init(&m[i]);
        make_id(1, i, m[i].id);
    }
    ASSERT_OK(blocklist_set_tenant(bl, "t", m, 2, NULL, 0));
    ASSERT_OK(blocklist_set_tenant(polled, "t", m, 2, NULL, 0)); /* poll started before */
    memcpy(rm[0], m[0].id, 16);
    m[0].compacted = 1;
    ASSERT_OK(blocklist_update(bl, "t", &m[2], 1, (const uint8_t(*)[16])rm, 1, &m[0], 1, NULL, 0));
    ASSERT_OK(blocklist_apply_poll(bl, polled));
    ASSERT_EQ(count(bl, "t", 0), 2); /* m1 + m2 */
    ASSERT_EQ(count(bl, "t", 1), 1);
    ASSERT_OK(blocklist_lookup(bl, "t", m[0].id, &out, &comp));
    ASSERT_EQ(comp, 1);
    ASSERT_OK(blocklist_lookup(bl, "t", m[2].id, &out, &comp));
    ASSERT_EQ(comp, 0);
    blocklist_free(bl);
    blocklist_free(polled);
}

TEST(state_file_roundtrip_and_corruption)
{
    const char *dir = test_tmpdir();
    char path[600];
    struct blocklist *bl = blocklist_new(), *back = blocklist_new();
    struct meta m[2];
    struct tc_err err = {0};
    FILE *f;

    snprintf(path, sizeof(path), "%s/state", dir);
    meta_init(&m[0]);
    meta_init(&m[1]);
    make_id(1, 1, m[0].id);
    make_id(1, 2, m[1].id);
    m[0].version = meta_intern("vParquet4", 9);
    m[1].compacted = 1;
    m[1].compacted_s = 1700000000;
    ASSERT_OK(blocklist_set_tenant(bl, "t", m, 1, &m[1], 1));
    ASSERT_OK(blocklist_save(bl, path, &err));
    ASSERT_OK(blocklist_load(back, path, &err));
    ASSERT_EQ(count(back, "t", 0), 1);
    ASSERT_EQ(count(back, "t", 1), 1);
    f = fopen(path, "r+b");
    fseek(f, 12, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    blocklist_free(back);
    back = blocklist_new();
    ASSERT_NE(blocklist_load(back, path, &err), TC_OK);
    ASSERT_STR_CONTAINS(err.msg, "state");
    ASSERT_EQ(blocklist_len(back), 0);
    blocklist_free(bl);
    blocklist_free(back);
}

TEST(progress_log_status_and_metric_names)
{
    const char *dir;
    struct backend *b = make_bucket(&dir);
    struct poll_cfg cfg;
    struct metrics *reg = metrics_new();
    struct blocklist *bl = blocklist_new();
    struct poller *p;
    struct tc_err err = {0};
    struct buf out;
    char logp[600], *log;
    int fd = log_to_file(dir, logp, sizeof(logp));
    static const char *const names[] = {
        "# TYPE tempodb_blocklist_poll_duration_seconds histogram",
        "tempodb_blocklist_poll_duration_seconds_bucket{le=\"+Inf\"} 1",
        "tempodb_blocklist_length{tenant=\"a\"} ",
        "tempodb_blocklist_tenant_index_builder{tenant=\"a\"} 1",
        "tempodb_blocklist_tenant_index_age_seconds{tenant=\"b\"} 0",
        "tempodb_backend_objects_total{tenant=\"a\",status=\"live\"} ",
        "tempodb_backend_bytes_total{tenant=\"a\",status=\"compacted\"} ",
    };
    size_t i;

    poll_cfg_defaults(&cfg);
    cfg.progress_log_ms = 1; /* every callback may log; the daemon uses 10 s */
    /* keep the poll longer than that millisecond whatever the machine's speed:
     * a random 0-5 ms before each of the 35 meta GETs */
    cfg.jitter_ms = 5;
    p = poller_new(b, &cfg, NULL, NULL, reg, &err);
    buf_init(&out, 0);
    ASSERT_OK(poller_status_json(p, &out));
    ASSERT_STR_CONTAINS(out.data, "\"state\":\"waiting\"");
    ASSERT_OK(poller_poll(p, bl, &err));
    ASSERT(poller_done(p));
    close(fd);
    log = test_slurp(logp, NULL);
    ASSERT_STR_CONTAINS(log, "msg=\"blocklist poll progress\"");
    ASSERT_STR_CONTAINS(log, "metas_remaining=");
    ASSERT_STR_CONTAINS(log, "msg=\"blocklist poll complete\"");
    tc_free(log);
    buf_reset(&out);
    ASSERT_OK(metrics_render(reg, &out));
    for (i = 0; i < TC_ARRAY_LEN(names); i++)
        ASSERT_STR_CONTAINS(out.data, names[i]);
    ASSERT_DBL_NEAR(metrics_value(metrics_gauge(reg, "tempodb_backend_objects_total", "",
                                                (const char *const[]){"tenant", "status", NULL}),
                                  (const char *[]){"a", "live"}),
                    200, 0);
    ASSERT_DBL_NEAR(metrics_value(metrics_gauge(reg, "tempodb_backend_bytes_total", "",
                                                (const char *const[]){"tenant", "status", NULL}),
                                  (const char *[]){"a", "compacted"}),
                    5000, 0);
    buf_cleanup(&out);
    poller_free(p);
    blocklist_free(bl);
    metrics_free(reg);
    backend_free(b);
}

/* The poller validates; defaults are poll_cfg_table's, never substituted. */
TEST(out_of_range_settings_are_refused_not_replaced)
{
    const char *dir;
    struct backend *b = make_bucket(&dir);
    struct poll_cfg cfg;
    struct metrics *reg = metrics_new();
    struct tc_err err = {0};

    poll_cfg_defaults(&cfg);
    ASSERT_EQ(cfg.concurrency, 50); /* Tempo's defaults, from the table */
    ASSERT_EQ(cfg.tenant_concurrency, 1);
    ASSERT_EQ(cfg.tenant_index_builders, 2);
    ASSERT_EQ(cfg.fallback, 1);
    cfg.concurrency = 0;
    ASSERT(poller_new(b, &cfg, NULL, NULL, reg, &err) == NULL);
    ASSERT_EQ(err.code, TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "concurrency 0");
    poll_cfg_defaults(&cfg);
    cfg.max_meta_bytes = 0;
    ASSERT(poller_new(b, &cfg, NULL, NULL, reg, &err) == NULL);
    ASSERT_EQ(err.code, TC_INVAL);
    metrics_free(reg);
    backend_free(b);
}

static int
dir_exists(const char *dir, const char *sub)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Tempo's tenant lifecycle: retention deleting a tenant's last block leaves
 * the tenant (its directory on the local backend); the builder's next poll
 * deletes the empty index, as Tempo's WriteTenantIndex does; only with
 * empty_tenant_deletion_enabled, and once every object left is older than
 * empty_tenant_deletion_age, does the tenant go. */
TEST(empty_tenant_stays_unless_deletion_is_enabled)
{
    const char *dir;
    struct backend *b = make_bucket(&dir);
    struct poll_cfg cfg;
    struct metrics *reg = metrics_new();
    struct blocklist *bl = blocklist_new();
    struct poller *p;
    struct tc_err err = {0};
    struct tindex ti;
    struct timeval old[2];
    char key[256], sid[UUID_STR_LEN + 1], path[512];
    uint8_t id[16];
    int round;

    make_id(3, 1, id);
    put_meta(b, "c", id, "meta.json");
    uuid_format(id, sid);
    poll_cfg_defaults(&cfg);
    p = poller_new(b, &cfg, NULL, NULL, reg, &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    tindex_init(&ti);
    ASSERT_OK(tindex_read(b, "c", &ti, NULL, &err));
    tindex_cleanup(&ti);
    /* retention clears the last block: every file of it */
    snprintf(key, sizeof(key), "c/%s/meta.json", sid);
    ASSERT_OK(backend_delete(b, key, &err));
    snprintf(key, sizeof(key), "c/%s/data.parquet", sid);
    ASSERT_OK(backend_delete(b, key, &err));
    snprintf(path, sizeof(path), "c/%s", sid);
    ASSERT(!dir_exists(dir, path));
    ASSERT(dir_exists(dir, "c"));
    for (round = 0; round < 2; round++) {
        ASSERT_OK(poller_poll(p, bl, &err));
        ASSERT(dir_exists(dir, "c")); /* deletion disabled: the tenant stays */
        tindex_init(&ti);
        ASSERT_EQ(tindex_read(b, "c", &ti, NULL, &err), TC_NOTFOUND); /* as Tempo */
        tindex_cleanup(&ti);
    }
    poller_free(p);

    /* enabled: a recent object (here a stray file) keeps the tenant */
    cfg.empty_tenant_deletion_enabled = 1;
    cfg.empty_tenant_deletion_age_ms = 3600 * 1000;
    p = poller_new(b, &cfg, NULL, NULL, reg, &err);
    ASSERT_OK(backend_put(b, "c/stray/file", "x", 1, &err));
    ASSERT_OK(poller_poll(p, bl, &err));
    ASSERT(dir_exists(dir, "c/stray"));
    /* every object older than the age: the tenant goes, the others stay */
    snprintf(path, sizeof(path), "%s/c/stray/file", dir);
    gettimeofday(&old[0], NULL);
    old[0].tv_sec -= 7200;
    old[1] = old[0];
    ASSERT_OK(utimes(path, old));
    ASSERT_OK(poller_poll(p, bl, &err));
    ASSERT(!dir_exists(dir, "c"));
    ASSERT(dir_exists(dir, "a") && dir_exists(dir, "b"));
    ASSERT_EQ(count(bl, "a", 0), 20);
    ASSERT_EQ(count(bl, "b", 0), 10);
    poller_free(p);
    blocklist_free(bl);
    metrics_free(reg);
    backend_free(b);
}

TEST_MAIN(TEST_ENTRY(cold_poll_then_warm_restart_needs_no_gets),
          TEST_ENTRY(empty_tenant_stays_unless_deletion_is_enabled),
          TEST_ENTRY(progress_log_status_and_metric_names),
          TEST_ENTRY(corrupt_index_is_reported_before_it_is_replaced),
          TEST_ENTRY(live_to_compacted_costs_no_get), TEST_ENTRY(bad_input_loses_nothing),
          TEST_ENTRY(hostile_tenant_is_skipped), TEST_ENTRY(non_builder_reads_index_and_falls_back),
          TEST_ENTRY(local_updates_survive_a_stale_poll),
          TEST_ENTRY(state_file_roundtrip_and_corruption),
          TEST_ENTRY(out_of_range_settings_are_refused_not_replaced))
