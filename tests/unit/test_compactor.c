/*
 * test_compactor.c - the compaction loop (compact/compactor.c): which jobs
 * it counts as outstanding and which it runs, per tenant, with Tempo's
 * overrides, ring ownership and formats; and one real job through
 * compactor_cycle() on generated blocks, whose commit lowers the
 * outstanding count without waiting for a poll.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/metrics.h"
#include "blocklist/blocklist.h"
#include "compact/compactor.h"
#include "tempo/meta.h"
#include "test.h"
#include "tools/tools.h"

#define HOUR 3600

static char root[256];
static int64_t base_end; /* mid-window, three days ago (older than the 24h active window) */

static void
setup(void)
{
    snprintf(root, sizeof(root), "/tmp/tc-compactor.XXXXXX");
    ASSERT(mkdtemp(root) != NULL);
    log_set_level("error");
    base_end = ((int64_t)time(NULL) / HOUR - 72) * HOUR + 1800;
}

/* A meta only (no files): enough for planning. */
static struct meta
mk(int id, const char *tenant, const char *version, int64_t end_s)
{
    struct meta m;

    meta_init(&m);
    m.id[0] = 0x10;
    m.id[15] = (uint8_t)id;
    m.tenant = meta_intern(tenant, strlen(tenant));
    m.version = meta_intern(version, strlen(version));
    m.data_encoding = meta_intern("", 0);
    m.dedicated = meta_intern("", 0);
    m.end_s = end_s;
    m.start_s = end_s - 600;
    m.total_objects = 10;
    m.size = 1000;
    return m;
}

static double
outstanding(const char *tenant)
{
    static const char *const l[] = {"tenant", NULL};
    struct metric *g = metrics_gauge(metrics_default(), "tempodb_compaction_outstanding_blocks",
                                     "Number of blocks remaining to be compacted.", l);

    ASSERT(g != NULL);
    return metrics_value(g, (const char *[]){tenant});
}

/* Overrides: tenant "off" has compaction_disabled; "wide" a 4h window. */
static void
overrides(const char *tenant, struct compactor_tenant_cfg *out, void *ud)
{
    if (strcmp(tenant, "off") == 0)
        out->disabled = 1;
    if (strcmp(tenant, "wide") == 0)
        out->window_s = 4 * HOUR;
}

/* Ring ownership: tenant "other" belongs to another replica. */
static int
owns_job(const char *job, void *ud)
{
    (*(int *)ud)++;
    return strncmp(job, "other-", 6) != 0;
}

static struct compactor *
new_compactor(struct backend *be, struct blocklist *bl, int *owns_calls)
{
    struct compactor_cfg cfg;
    struct tc_err err;

    compactor_cfg_defaults(&cfg); /* Tempo's: 1h window, 5m per tenant, ... */
    cfg.be = be;
    cfg.bl = bl;
    cfg.tenant_cfg = overrides;
    cfg.owns = owns_job;
    cfg.owns_ud = owns_calls;
    return compactor_new(&cfg, &err);
}

static void
status(struct compactor *c, char *out, size_t n)
{
    struct buf b;

    buf_init(&b, 1 << 20);
    compactor_status_json(c, &b);
    ASSERT_OK(buf_putc(&b, 0));
    snprintf(out, n, "%s", b.data);
    buf_cleanup(&b);
}

/*
 * Per tenant, two or three blocks in one window, so each holds one job:
 *   v4     vParquet4             -> 2 outstanding, the only job that runs
 *   v3     vParquet3             -> never run, never outstanding
 *   off    compaction_disabled   -> never run, never outstanding
 *   other  owned by another replica -> not outstanding here
 *   wide   2 blocks 2h apart: no job with the 1h window, one with its 4h override
 * None of the blocks has files, so a job that ran would fail: the status's
 * failed and abandoned counts show no job was tried but v4's.
 */
TEST(outstanding_and_runs_per_tenant)
{
    struct meta v4[2], v3[3], off[2], other[2], wide[2];
    struct blocklist *bl = blocklist_new();
    struct backend *be;
    struct compactor *c;
    struct tc_err err;
    char st[8192];
    int calls = 0, i;
    int64_t wide4;

    setup();
    be = backend_local_new(root, &err);
    ASSERT(be != NULL && bl != NULL);
    /* wide's two blocks: 2h apart inside one 4h window */
    wide4 = ((int64_t)time(NULL) / (4 * HOUR) - 18) * 4 * HOUR + 1800;
    for (i = 0; i < 2; i++) {
        v4[i] = mk(i, "v4", "vParquet4", base_end);
        off[i] = mk(i, "off", "vParquet4", base_end);
        other[i] = mk(i, "other", "vParquet4", base_end);
        wide[i] = mk(i, "wide", "vParquet4", wide4 + i * 2 * HOUR);
    }
    for (i = 0; i < 3; i++)
        v3[i] = mk(i, "v3", "vParquet3", base_end);
    ASSERT_OK(blocklist_set_tenant(bl, "v4", v4, 2, NULL, 0));
    ASSERT_OK(blocklist_set_tenant(bl, "v3", v3, 3, NULL, 0));
    ASSERT_OK(blocklist_set_tenant(bl, "off", off, 2, NULL, 0));
    ASSERT_OK(blocklist_set_tenant(bl, "other", other, 2, NULL, 0));
    ASSERT_OK(blocklist_set_tenant(bl, "wide", wide, 2, NULL, 0));
    c = new_compactor(be, bl, &calls);
    ASSERT(c != NULL);
    compactor_plan_all(c);
    ASSERT_DBL_NEAR(outstanding("v4"), 2, 1e-9);
    ASSERT_DBL_NEAR(outstanding("v3"), 0, 1e-9);
    ASSERT_DBL_NEAR(outstanding("off"), 0, 1e-9);
    ASSERT_DBL_NEAR(outstanding("other"), 0, 1e-9);
    ASSERT_DBL_NEAR(outstanding("wide"), 2, 1e-9);
    ASSERT_GT(calls, 0);
    status(c, st, sizeof(st));
    ASSERT_STR_CONTAINS(st, "\"tenant\":\"v3\"");
    /* sorted tenants: off other v3 v4 wide; the first cycle takes index 1,
     * then one tenant per cycle */
    for (i = 0; i < 5; i++) {
        static const char *const order[] = {"other", "v3", "v4", "wide", "off"};
        int want = strcmp(order[i], "v4") == 0 || strcmp(order[i], "wide") == 0;
        ASSERT_EQ(compactor_cycle(c), want);
    }
    status(c, st, sizeof(st));
    /* v4's and wide's jobs were tried (and found no files: abandoned as
     * Tempo does on a missing meta); no other tenant's */
    ASSERT_STR_CONTAINS(st, "\"jobs_done\":0");
    ASSERT_STR_CONTAINS(st, "\"jobs_abandoned\":2");
    ASSERT_STR_CONTAINS(st, "\"jobs_failed\":0");
    compactor_free(c);
    blocklist_free(bl);
    backend_free(be);
}

/* Generates a level-0 block of tenant "run" into the bucket; its meta. */
static void
gen(struct meta *m, uint64_t seed)
{
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct tc_err err;
    char dir[512], dst[600], path[700];
    size_t len;
    char *text;

    snprintf(dir, sizeof(dir), "%s/run", root);
    mkdir(dir, 0755);
    snprintf(dir, sizeof(dir), "%s/.gen-%llu", root, (unsigned long long)seed);
    vp4_gen_opts_default(&o);
    o.dir = dir;
    o.tenant = "run";
    o.traces = 50;
    o.seed = seed;
    o.shared = 10;
    o.shared_seed = 9;
    o.start_unix = (uint64_t)(base_end - 1200);
    o.span_seconds = 600;
    ASSERT_OK(vp4_gen_block(&o, &res, &err));
    snprintf(dst, sizeof(dst), "%s/run/%s", root, res.block_id);
    ASSERT_OK(rename(dir, dst));
    snprintf(path, sizeof(path), "%s/meta.json", dst);
    text = test_slurp(path, &len);
    ASSERT_OK(meta_decode_json(text, len, m, &err));
    tc_free(text);
}

/* One real job through the loop: the inputs move to the compacted list and
 * the output joins the live list at once, so the next plan counts 0. */
TEST(cycle_runs_a_job_and_the_commit_drains_the_count)
{
    struct meta in[3], *live, *comp;
    size_t nlive, ncomp;
    struct blocklist *bl = blocklist_new();
    struct backend *be;
    struct compactor *c;
    struct tc_err err;
    char st[8192];
    int calls = 0;

    setup();
    be = backend_local_new(root, &err);
    gen(&in[0], 1);
    gen(&in[1], 2);
    gen(&in[2], 3);
    ASSERT_OK(blocklist_set_tenant(bl, "run", in, 3, NULL, 0));
    c = new_compactor(be, bl, &calls);
    compactor_plan_all(c);
    ASSERT_DBL_NEAR(outstanding("run"), 3, 1e-9);
    ASSERT_EQ(compactor_cycle(c), 1);
    ASSERT_OK(blocklist_get(bl, "run", &live, &nlive, &comp, &ncomp));
    ASSERT_EQ(nlive, 1);
    ASSERT_EQ(ncomp, 3);
    ASSERT_EQ(live[0].compaction_level, 1);
    ASSERT_EQ(live[0].total_objects, 3 * 50 - 2 * 10);
    tc_free(live);
    tc_free(comp);
    compactor_plan_all(c);
    ASSERT_DBL_NEAR(outstanding("run"), 0, 1e-9);
    status(c, st, sizeof(st));
    ASSERT_STR_CONTAINS(st, "\"jobs_done\":1");
    compactor_free(c);
    blocklist_free(bl);
    backend_free(be);
}

/* compactor_stop: no job is taken afterwards. */
TEST(stopped_takes_no_job)
{
    struct meta in[2], *live, *comp;
    size_t nlive, ncomp;
    struct blocklist *bl = blocklist_new();
    struct backend *be;
    struct compactor *c;
    struct tc_err err;
    int calls = 0;

    setup();
    be = backend_local_new(root, &err);
    gen(&in[0], 4);
    gen(&in[1], 5);
    ASSERT_OK(blocklist_set_tenant(bl, "run", in, 2, NULL, 0));
    c = new_compactor(be, bl, &calls);
    compactor_stop(c, 0);
    ASSERT_EQ(compactor_cycle(c), 0);
    ASSERT_OK(blocklist_get(bl, "run", &live, &nlive, &comp, &ncomp));
    ASSERT_EQ(nlive, 2);
    ASSERT_EQ(ncomp, 0);
    tc_free(live);
    tc_free(comp);
    compactor_free(c);
    blocklist_free(bl);
    backend_free(be);
}

TEST_MAIN(TEST_ENTRY(outstanding_and_runs_per_tenant),
          TEST_ENTRY(cycle_runs_a_job_and_the_commit_drains_the_count),
          TEST_ENTRY(stopped_takes_no_job))
