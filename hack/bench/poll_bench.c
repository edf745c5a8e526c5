/*
 * hack/bench/poll_bench.c - cold and warm blocklist polls over a bucket of
 * 100,000 blocks, with a fixed per-request latency injected by a test-only
 * wrapper over the local backend (see hack/bench/poll for the driver).
 *
 *   poll_bench gen    DIR INDEX_JSON_GZ TENANTS BLOCKS_PER_TENANT
 *   poll_bench run    STORE STATE LAT_MS TENANT_CONC POLL_CONC SHARDS
 *   poll_bench list   STORE LAT_MS TENANT_CONC SHARDS
 *   poll_bench upload DIR CONC                 (DIR's bucket into S3)
 *   poll_bench tempo  STORE TENANT_CONC POLL_CONC SHARDS
 *   poll_bench clear  STORE                    (delete every tenant index)
 *
 * STORE is a directory (the latency wrapper over the local backend) or "s3"
 * (a real S3 server: BENCH_S3_ENDPOINT, BENCH_S3_BUCKET and the AWS_* keys;
 * its latency comes from a delay proxy, LAT_MS is ignored).
 *
 * The wrapper models S3: every request costs LAT_MS; GETs of one batch run
 * with up to POLL_CONC in flight; a ListBlocks costs one request per 1000
 * keys of each key-range shard, the shards in parallel (time = latency x the
 * longest shard's page count). Results are printed as key=value lines.
 *
 * "tempo" is a reference of Tempo 2.7's poll (research/tempo.md 2.2) over the
 * same backend client, so only the algorithm differs: tenants TENANT_CONC at
 * a time; per tenant ListBlocks, then every meta GET (previous is empty at
 * process start), POLL_CONC in flight, a live block whose meta.json is gone
 * read again as meta.compacted.json; then the tenant index is written.
 */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "backend/backend.h"
#include "backend/backend_latency.h"
#include "backend/backend_s3.h"
#include "blocklist/blocklist.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "base/pool.h"
#include "blocklist/poll.h"
#include "base/tc.h"
#include "tempo/tindex.h"
#include "base/uuid.h"

static double
rss_bytes(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE);
}

static int
touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int
cmd_gen(const char *dir, const char *idx, int tenants, int per)
{
    struct tindex ti;
    struct tc_err err = {0};
    struct buf gz;
    FILE *f = fopen(idx, "rb");
    char chunk[65536], path[1024];
    size_t r;
    unsigned seed = 42;
    int t, i, s;
    long files = 0, compacted = 0;

    if (f == NULL)
        return fprintf(stderr, "gen: %s: cannot open\n", idx), 1;
    buf_init(&gz, 0);
    while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&gz, chunk, r);
    fclose(f);
    if (tindex_decode_json_gz(gz.data, gz.len, &ti, &err) != TC_OK)
        return fprintf(stderr, "gen: %s\n", err.msg), 1;
    mkdir(dir, 0755);
    for (t = 0; t < tenants; t++) {
        char tenant[32];

        snprintf(tenant, sizeof(tenant), "tenant-%02d", t);
        snprintf(path, sizeof(path), "%s/%s", dir, tenant);
        mkdir(path, 0755);
        for (i = 0; i < per; i++) {
            struct meta m = ti.live[rand_r(&seed) % ti.nlive];
            struct buf js;
            char id[UUID_STR_LEN + 1];
            int comp = rand_r(&seed) % 100 < 15;
            int fd;

            for (s = 0; s < 16; s++)
                m.id[s] = (uint8_t)rand_r(&seed);
            m.id[6] = (m.id[6] & 0x0f) | 0x40;
            m.id[8] = (m.id[8] & 0x3f) | 0x80;
            m.tenant = meta_intern(tenant, strlen(tenant));
            uuid_format(m.id, id);
            snprintf(path, sizeof(path), "%s/%s/%s", dir, tenant, id);
            mkdir(path, 0755);
            buf_init(&js, 0);
            meta_encode_json(&m, 0, &js);
            snprintf(path, sizeof(path), "%s/%s/%s/%s", dir, tenant, id,
                     comp ? BACKEND_META_COMPACTED : BACKEND_META);
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || write(fd, js.data, js.len) != (ssize_t)js.len)
                return fprintf(stderr, "gen: write %s failed\n", path), 1;
            close(fd);
            buf_cleanup(&js);
            compacted += comp;
            /* The other objects of a block, empty: they only cost listing. */
            snprintf(path, sizeof(path), "%s/%s/%s/data.parquet", dir, tenant, id);
            touch(path);
            snprintf(path, sizeof(path), "%s/%s/%s/index", dir, tenant, id);
            touch(path);
            for (s = 0; s < (int)(m.bloom_shards ? m.bloom_shards : 1); s++) {
                snprintf(path, sizeof(path), "%s/%s/%s/bloom-%d", dir, tenant, id, s);
                touch(path);
            }
            files += 3 + (m.bloom_shards ? m.bloom_shards : 1);
        }
    }
    printf("gen_tenants=%d\ngen_blocks=%d\ngen_compacted=%ld\ngen_objects=%ld\n", tenants,
           tenants * per, compacted, files);
    tindex_cleanup(&ti);
    buf_cleanup(&gz);
    return 0;
}

static struct backend *
open_s3(int shards)
{
    struct backend_s3_cfg c = {0};
    struct tc_err err = {0};
    struct backend *b;

    c.endpoint = getenv("BENCH_S3_ENDPOINT");
    c.bucket = getenv("BENCH_S3_BUCKET");
    c.insecure = 1; /* loopback: RGW behind the delay proxy */
    c.forcepathstyle = 1;
    c.list_blocks_concurrency = shards > 0 ? shards : 1;
    if (c.endpoint == NULL || c.bucket == NULL) {
        fprintf(stderr, "store s3: BENCH_S3_ENDPOINT and BENCH_S3_BUCKET must be set\n");
        exit(1);
    }
    b = backend_s3_new(&c, &err);
    if (b == NULL) {
        fprintf(stderr, "store s3: %s\n", err.msg);
        exit(1);
    }
    return b;
}

/* The store's own listing is taken once before timing: an S3 server answers
 * a LIST page from its index, so the local directory walk must not count. */
static struct backend *
open_lat(const char *dir, double lat_ms, int shards)
{
    struct tc_err err = {0};
    struct backend *in, *b;

    if (!strcmp(dir, "s3"))
        return open_s3(shards);
    in = backend_local_new(dir, &err);
    b = in ? backend_latency_new(in, lat_ms, shards, &err) : NULL;
    if (b == NULL || backend_latency_prefetch(b, &err) != TC_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return b;
}

struct list_run {
    struct backend *b;
    struct backend_strlist *t;
    size_t blocks, objects;
    pthread_mutex_t mu;
};

static void
list_item(void *arg, size_t i)
{
    struct list_run *lr = arg;
    struct backend_blocks bb = {0};
    struct tc_err err = {0};

    backend_blocks(lr->b, lr->t->v[i], &bb, &err);
    pthread_mutex_lock(&lr->mu);
    lr->blocks += bb.nlive + bb.ncompacted;
    lr->objects += bb.objects;
    pthread_mutex_unlock(&lr->mu);
    backend_blocks_cleanup(&bb);
}

/* Listing alone (tenants + ListBlocks per tenant, tenant_conc in parallel):
 * the floor for any poll, seeded or not. */
static int
cmd_list(const char *dir, double lat_ms, int tconc, int shards)
{
    struct backend *b = open_lat(dir, lat_ms, shards);
    struct backend_strlist t = {0};
    struct list_run lr = {b, &t, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    struct tc_err err = {0};
    double t0 = tc_now();

    backend_tenants(b, &t, &err);
    pool_run(tconc > 0 ? (size_t)tconc : 1, t.n, list_item, NULL, &lr);
    printf("list_seconds=%.3f\nlist_requests=%lu\nlist_blocks=%zu\nlist_objects=%zu\n",
           tc_now() - t0, backend_requests(b, BACKEND_OP_LIST), lr.blocks, lr.objects);
    backend_strlist_cleanup(&t);
    backend_free(b);
    return 0;
}

static int
cmd_run(const char *dir, const char *state, double lat_ms, int tconc, int pconc, int shards)
{
    struct backend *b = open_lat(dir, lat_ms, shards);
    struct poll_cfg cfg;
    struct poll_stats st;
    struct blocklist *bl;
    struct poller *p;
    struct tc_err err = {0};
    double rss0, rss1;
    size_t blocks;

    log_set_level("warn");
    malloc_trim(0);
    rss0 = rss_bytes();
    bl = blocklist_new();
    poll_cfg_defaults(&cfg);
    cfg.state_path = state;
    cfg.tenant_concurrency = tconc;
    cfg.concurrency = pconc;
    p = poller_new(b, &cfg, NULL, NULL, metrics_new(), &err);
    if (p == NULL || poller_poll(p, bl, &err) != TC_OK) {
        fprintf(stderr, "poll failed: %s\n", err.msg);
        return 1;
    }
    poller_stats(p, &st);
    poller_free(p);
    malloc_trim(0);
    rss1 = rss_bytes();
    {
        struct mallinfo2 mi = mallinfo2();

        printf("heap_in_use_bytes=%zu\nheap_arena_bytes=%zu\nheap_mmap_bytes=%zu\n", mi.uordblks,
               mi.arena, mi.hblkhd);
    }
    blocks = blocklist_len(bl);
    printf("poll_seconds=%.3f\nready_seconds=%.3f\nrequests_list=%lu\nrequests_get=%lu\n"
           "requests_put=%lu\nrequests_delete=%lu\nmeta_gets=%lu\nindex_reads=%lu\n"
           "seeded_state=%lu\nseeded_index=%lu\nblocks=%zu\nlive=%lu\ncompacted=%lu\n"
           "rss_delta_bytes=%.0f\nblocklist_bytes=%zu\n",
           st.seconds, st.ready_seconds, backend_requests(b, BACKEND_OP_LIST),
           backend_requests(b, BACKEND_OP_GET), backend_requests(b, BACKEND_OP_PUT),
           backend_requests(b, BACKEND_OP_DELETE), st.meta_gets, st.index_reads, st.seeded_state,
           st.seeded_index, blocks, st.listed_live, st.listed_compacted, rss1 - rss0,
           blocklist_bytes(bl));
    blocklist_free(bl);
    backend_free(b);
    return 0;
}

/* upload: every file of a generated bucket, PUT CONC at a time. The keys
 * are collected first, so the upload order does not follow the walk. */
struct upload {
    const char *dir;
    struct backend *b;
    struct backend_strlist keys;
    unsigned long failed;
};

static void
upload_item(void *arg, size_t i)
{
    struct upload *u = arg;
    struct tc_err err = {0};
    struct buf body;
    char path[2048];
    FILE *f;
    size_t r;
    char chunk[65536];

    snprintf(path, sizeof(path), "%s/%s", u->dir, u->keys.v[i]);
    buf_init(&body, 0);
    if ((f = fopen(path, "rb")) != NULL) {
        while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
            buf_append(&body, chunk, r);
        fclose(f);
    }
    if (f == NULL || backend_put(u->b, u->keys.v[i], body.data, body.len, &err) != TC_OK) {
        __atomic_add_fetch(&u->failed, 1, __ATOMIC_RELAXED);
        fprintf(stderr, "upload %s: %s\n", u->keys.v[i], f ? err.msg : "cannot open");
    }
    buf_cleanup(&body);
}

static int
collect(struct backend_strlist *keys, const char *root, const char *rel, int depth)
{
    char path[2048], sub[1024];
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (depth == 2) {
            backend_strlist_add(keys, sub, strlen(sub));
            continue;
        }
        if (e->d_type != DT_DIR)
            continue; /* a tenant index left by a local run: not part of the bucket */
        if (collect(keys, root, sub, depth + 1) != 0) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    return 0;
}

static int
cmd_upload(const char *dir, int conc)
{
    struct upload u = {dir, open_s3(1), {0}, 0};
    double t0 = tc_now(), t;

    if (collect(&u.keys, dir, "", 0) != 0)
        return fprintf(stderr, "upload: %s: cannot read\n", dir), 1;
    pool_run(conc > 0 ? (size_t)conc : 1, u.keys.n, upload_item, NULL, &u);
    t = tc_now() - t0;
    printf("upload_objects=%zu\nupload_failed=%lu\nupload_seconds=%.1f\nupload_per_second=%.0f\n",
           u.keys.n, u.failed, t, u.keys.n / (t > 0 ? t : 1));
    backend_strlist_cleanup(&u.keys);
    backend_free(u.b);
    return u.failed != 0;
}

/* tempo: the reference of Tempo 2.7's first poll (see the header). */
struct tref {
    struct backend *b;
    struct backend_strlist tenants;
    int pconc;
    unsigned long metas, missing, errors;
};

struct tref_tenant {
    struct tindex ti;
    size_t want_compacted; /* retries of live blocks whose meta.json is gone */
    uint8_t (*retry)[16];
    unsigned long errors; /* as in Tempo, any failed GET or bad meta fails the tenant */
};

static void
tref_done(struct backend_get *g, void *ud)
{
    struct tref_tenant *tt = ud;
    struct tc_err err = {0};
    struct meta m;
    int compacted = g->ud != NULL;
    const char *slash = strrchr(g->key, '/');

    if (g->code == TC_NOTFOUND && !compacted) {
        /* The block was compacted between LIST and GET: its id is in the key. */
        uint8_t id[16];
        const char *s = slash - UUID_STR_LEN;

        if (uuid_parse(s, UUID_STR_LEN, id) == TC_OK) {
            tt->retry = tc_realloc(tt->retry, (tt->want_compacted + 1) * 16);
            memcpy(tt->retry[tt->want_compacted++], id, 16);
        }
        return;
    }
    if (g->code == TC_NOTFOUND) /* gone from both: an intermediate block, skipped */
        return;
    if (g->code != TC_OK || meta_decode_json((const char *)g->body.data, g->body.len, &m, &err)) {
        fprintf(stderr, "tempo: %s: %s\n", g->key, g->code != TC_OK ? g->errmsg : err.msg);
        tt->errors++;
        return;
    }
    if (compacted) {
        m.compacted = 1;
        m.compacted_s = g->last_modified;
        tt->ti.compacted = tc_realloc(tt->ti.compacted, (tt->ti.ncompacted + 1) * sizeof(m));
        tt->ti.compacted[tt->ti.ncompacted++] = m;
    } else {
        tt->ti.live = tc_realloc(tt->ti.live, (tt->ti.nlive + 1) * sizeof(m));
        tt->ti.live[tt->ti.nlive++] = m;
    }
}

static void
tref_get(struct tref *r, struct tref_tenant *tt, const char *tenant, uint8_t (*ids)[16], size_t n,
         int compacted)
{
    struct backend_get *g = tc_calloc(n ? n : 1, sizeof(*g));
    char(*keys)[BACKEND_MAX_KEY] = tc_calloc(n ? n : 1, BACKEND_MAX_KEY);
    size_t i;

    for (i = 0; i < n; i++) {
        char id[UUID_STR_LEN + 1];

        uuid_format(ids[i], id);
        snprintf(keys[i], BACKEND_MAX_KEY, "%s/%s/%s", tenant, id,
                 compacted ? BACKEND_META_COMPACTED : BACKEND_META);
        g[i].key = keys[i];
        g[i].ud = compacted ? (void *)1 : NULL;
    }
    backend_get_many(r->b, g, n, r->pconc, 0, tref_done, tt);
    for (i = 0; i < n; i++)
        backend_get_cleanup(&g[i]);
    __atomic_add_fetch(&r->metas, n, __ATOMIC_RELAXED);
    tc_free(g);
    tc_free(keys);
}

static void
tref_tenant(void *arg, size_t i)
{
    struct tref *r = arg;
    const char *tenant = r->tenants.v[i];
    struct backend_blocks bb = {0};
    struct tref_tenant tt = {0};
    struct tc_err err = {0};

    tindex_init(&tt.ti);
    if (backend_blocks(r->b, tenant, &bb, &err) != TC_OK) {
        fprintf(stderr, "tempo: %s: %s\n", tenant, err.msg);
        __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
        return;
    }
    tref_get(r, &tt, tenant, bb.live, bb.nlive, 0);
    tref_get(r, &tt, tenant, bb.compacted, bb.ncompacted, 1);
    if (tt.want_compacted) {
        __atomic_add_fetch(&r->missing, tt.want_compacted, __ATOMIC_RELAXED);
        tref_get(r, &tt, tenant, tt.retry, tt.want_compacted, 1);
    }
    tt.ti.created_s = (int64_t)tc_now();
    if (tt.errors)
        __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
    else if (tindex_write(r->b, tenant, &tt.ti, &err) != TC_OK) {
        fprintf(stderr, "tempo: %s: index: %s\n", tenant, err.msg);
        __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
    }
    tc_free(tt.retry);
    tindex_cleanup(&tt.ti);
    backend_blocks_cleanup(&bb);
}

static int
cmd_tempo(const char *store, int tconc, int pconc, int shards)
{
    struct tref r = {open_lat(store, 0, shards), {0}, pconc, 0, 0, 0};
    struct tc_err err = {0};
    double t0 = tc_now(), t;

    if (backend_tenants(r.b, &r.tenants, &err) != TC_OK)
        return fprintf(stderr, "tempo: %s\n", err.msg), 1;
    pool_run(tconc > 0 ? (size_t)tconc : 1, r.tenants.n, tref_tenant, NULL, &r);
    t = tc_now() - t0;
    printf("tempo_seconds=%.3f\ntempo_requests_list=%lu\ntempo_requests_get=%lu\n"
           "tempo_requests_put=%lu\ntempo_meta_gets=%lu\ntempo_errors=%lu\n",
           t, backend_requests(r.b, BACKEND_OP_LIST), backend_requests(r.b, BACKEND_OP_GET),
           backend_requests(r.b, BACKEND_OP_PUT), r.metas + r.missing, r.errors);
    backend_strlist_cleanup(&r.tenants);
    backend_free(r.b);
    return r.errors != 0;
}

/* clear: a cold start on a store that keeps its objects between runs. */
static int
cmd_clear(const char *store)
{
    struct backend *b = open_lat(store, 0, 1);
    struct backend_strlist t = {0};
    struct tindex empty;
    struct tc_err err = {0};
    size_t i;
    int rc = 0;

    tindex_init(&empty);
    if (backend_tenants(b, &t, &err) != TC_OK)
        rc = fprintf(stderr, "clear: %s\n", err.msg);
    for (i = 0; rc == 0 && i < t.n; i++)
        if (tindex_write(b, t.v[i], &empty, &err) != TC_OK)
            rc = fprintf(stderr, "clear %s: %s\n", t.v[i], err.msg);
    backend_strlist_cleanup(&t);
    backend_free(b);
    return rc != 0;
}

int
main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "gen"))
        return cmd_gen(argv[2], argv[3], atoi(argv[4]), atoi(argv[5])); /* lint-ok: CLI */
    if (argc == 8 && !strcmp(argv[1], "run"))
        return cmd_run(argv[2], argv[3], atof(argv[4]), atoi(argv[5]), /* lint-ok: CLI */
                       atoi(argv[6]), atoi(argv[7]));                  /* lint-ok: CLI */
    if (argc == 6 && !strcmp(argv[1], "list"))
        return cmd_list(argv[2], atof(argv[3]), atoi(argv[4]), atoi(argv[5])); /* lint-ok */
    if (argc == 3 && !strcmp(argv[1], "clear"))
        return cmd_clear(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "upload"))
        return cmd_upload(argv[2], atoi(argv[3])); /* lint-ok: CLI */
    if (argc == 6 && !strcmp(argv[1], "tempo"))
        return cmd_tempo(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5])); /* lint-ok */
    fprintf(stderr, "usage: see the header of hack/bench/poll_bench.c\n");
    return 2;
}
