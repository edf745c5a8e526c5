/*
 * hack/bench/poll_bench.c - cold and warm blocklist polls over a bucket of
 * 100,000 blocks, with a fixed per-request latency injected by a test-only
 * wrapper over the local backend (see hack/bench/poll for the driver).
 *
 *   poll_bench gen  DIR INDEX_JSON_GZ TENANTS BLOCKS_PER_TENANT
 *   poll_bench run  DIR STATE LAT_MS TENANT_CONC POLL_CONC SHARDS
 *   poll_bench list DIR LAT_MS TENANT_CONC SHARDS
 *
 * The wrapper models S3: every request costs LAT_MS; GETs of one batch run
 * with up to POLL_CONC in flight; a ListBlocks costs one request per 1000
 * keys of each key-range shard, the shards in parallel (time = latency x the
 * longest shard's page count). Results are printed as key=value lines.
 */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/backend_latency.h"
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

/* The store's own listing is taken once before timing: an S3 server answers
 * a LIST page from its index, so the local directory walk must not count. */
static struct backend *
open_lat(const char *dir, double lat_ms, int shards)
{
    struct tc_err err = {0};
    struct backend *in = backend_local_new(dir, &err), *b;

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
    fprintf(stderr, "usage: see the header of hack/bench/poll_bench.c\n");
    return 2;
}
