/*
 * test_selector.c - golden tests for Tempo 2.7's time-window block selector.
 *
 * Every expected job and hash string below was worked out by hand from
 * Tempo's rules (research/tempo.md 4.2): now = 1720000000, window = 1h, so
 * the current window is 477777 and the active cut-over window is 477753.
 */
#include <string.h>

#include "tempo/meta.h"
#include "plan/selector.h"
#include "test.h"

#define NOW 1720000000LL
#define HOUR 3600LL
#define CUR 477777LL
#define ACTIVE 477753LL

static struct meta pool[32];
static const struct meta *ptrs[32];
static size_t npool;

static const struct meta *
mk(int id, const char *tenant, int64_t window, unsigned level, int64_t objs, uint64_t size,
   const char *version, unsigned rf, const char *dc)
{
    struct meta *m = &pool[npool];

    meta_init(m);
    m->id[15] = (uint8_t)id;
    m->tenant = meta_intern(tenant, strlen(tenant));
    m->version = meta_intern(version, strlen(version));
    m->data_encoding = meta_intern("", 0);
    m->dedicated = meta_intern(dc, strlen(dc));
    m->end_s = window * HOUR + 1800; /* mid-window */
    m->start_s = m->end_s - 600;
    m->compaction_level = level;
    m->total_objects = objs;
    m->size = size;
    m->replication_factor = rf;
    ptrs[npool] = m;
    npool++;
    return m;
}

static void
reset(void)
{
    npool = 0;
}

/* Runs the selector and renders the jobs as "hash:id,id;hash:id,id;" */
static const char *
plan(int64_t max_objects, uint64_t max_bytes)
{
    static char out[1024];
    struct selector *s = selector_new(ptrs, npool, HOUR, max_objects, max_bytes, NOW);
    struct selector_job job;
    size_t len = 0, i;

    ASSERT(s != NULL);
    out[0] = '\0';
    while (selector_next(s, &job)) {
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s:", job.hash);
        for (i = 0; i < job.n; i++)
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%d", i ? "," : "",
                                    job.inputs[i]->id[15]);
        len += (size_t)snprintf(out + len, sizeof(out) - len, ";");
    }
    ASSERT_EQ(selector_next(s, &job), 0); /* stays exhausted */
    selector_free(s);
    return out;
}

#define BIG 6000000
#define BIGB 107374182400ULL

TEST(dc_hash_vector)
{
    /* the vParquet4 test block's columns; Tempo computes 0x68895C5524B57175 */
    ASSERT_U64_EQ(
        selector_dc_hash("[{\"s\":\"resource\",\"n\":\"ip\"},{\"n\":\"instance\"},"
                         "{\"n\":\"version\"},{\"n\":\"region\"},{\"n\":\"sampler.type\"}]"),
        0x68895C5524B57175ULL);
    ASSERT_U64_EQ(selector_dc_hash(""), 0);
    ASSERT_U64_EQ(selector_dc_hash("[]"), 0);
    /* explicit defaults hash like omitted ones */
    ASSERT_U64_EQ(selector_dc_hash("[{\"s\":\"span\",\"n\":\"x\",\"t\":\"string\"}]"),
                  selector_dc_hash("[{\"n\":\"x\"}]"));
}

TEST(active_window_groups_by_level_smallest_first)
{
    reset();
    mk(1, "t", CUR, 0, 300, 10, "vParquet4", 0, "");
    mk(2, "t", CUR, 0, 100, 10, "vParquet4", 0, "");
    mk(3, "t", CUR, 0, 200, 10, "vParquet4", 0, "");
    mk(4, "t", CUR, 1, 50, 10, "vParquet4", 0, "");
    mk(5, "t", CUR, 1, 60, 10, "vParquet4", 0, "");
    mk(6, "t", CUR, 2, 10, 10, "vParquet4", 0, "");
    /* level 0 first, objects ascending; hash = tenant-level-window-rf */
    ASSERT_STR_EQ(plan(BIG, BIGB), "t-0-477777-0:2,3,1;t-1-477777-0:4,5;");
}

TEST(level_order_is_lexical)
{
    reset();
    mk(1, "t", CUR - 1, 2, 1, 10, "vParquet4", 0, "");
    mk(2, "t", CUR - 1, 2, 2, 10, "vParquet4", 0, "");
    mk(3, "t", CUR - 1, 10, 1, 10, "vParquet4", 0, "");
    mk(4, "t", CUR - 1, 10, 2, 10, "vParquet4", 0, "");
    /* "A-10-..." < "A-2-..." as strings, so level 10 is chosen first */
    ASSERT_STR_EQ(plan(BIG, BIGB), "t-10-477776-0:3,4;t-2-477776-0:1,2;");
}

TEST(recent_windows_first_within_level)
{
    reset();
    mk(1, "t", CUR - 5, 0, 1, 10, "vParquet4", 0, "");
    mk(2, "t", CUR - 5, 0, 2, 10, "vParquet4", 0, "");
    mk(3, "t", CUR, 0, 9, 10, "vParquet4", 0, "");
    mk(4, "t", CUR, 0, 8, 10, "vParquet4", 0, "");
    /* age 0 sorts before age 5 */
    ASSERT_STR_EQ(plan(BIG, BIGB), "t-0-477777-0:4,3;t-0-477772-0:1,2;");
}

TEST(active_cutover_window_skipped)
{
    reset();
    mk(1, "t", ACTIVE, 0, 1, 10, "vParquet4", 0, "");
    mk(2, "t", ACTIVE, 0, 2, 10, "vParquet4", 0, "");
    mk(3, "t", ACTIVE, 0, 3, 10, "vParquet4", 0, "");
    ASSERT_STR_EQ(plan(BIG, BIGB), "");
    /* one window later (inside the active range) they compact */
    reset();
    mk(1, "t", ACTIVE + 1, 0, 1, 10, "vParquet4", 0, "");
    mk(2, "t", ACTIVE + 1, 0, 2, 10, "vParquet4", 0, "");
    ASSERT_STR_EQ(plan(BIG, BIGB), "t-0-477754-0:1,2;");
}

TEST(old_windows_group_by_window_across_levels)
{
    reset();
    mk(1, "t", 477700, 1, 5, 10, "vParquet4", 0, "");
    mk(2, "t", 477700, 0, 7, 10, "vParquet4", 0, "");
    mk(3, "t", 477700, 0, 6, 10, "vParquet4", 0, "");
    mk(4, "t", 477600, 3, 1, 10, "vParquet4", 0, "");
    mk(5, "t", 477600, 2, 1, 10, "vParquet4", 0, "");
    /* group B-<age>-rf, most recent window first; order level then objects;
     * hash = tenant-window-rf */
    ASSERT_STR_EQ(plan(BIG, BIGB), "t-477700-0:3,2,1;t-477600-0:5,4;");
}

TEST(max_inputs_is_four)
{
    int i;

    reset();
    for (i = 1; i <= 6; i++)
        mk(i, "t", CUR, 0, i, 10, "vParquet4", 0, "");
    ASSERT_STR_EQ(plan(BIG, BIGB), "t-0-477777-0:1,2,3,4;t-0-477777-0:5,6;");
}

TEST(object_limit)
{
    reset();
    mk(1, "t", CUR, 0, 4000000, 10, "vParquet4", 0, "");
    mk(2, "t", CUR, 0, 3000000, 10, "vParquet4", 0, "");
    mk(3, "t", CUR, 0, 1000000, 10, "vParquet4", 0, "");
    /* sorted 1M, 3M, 4M: 1M+3M fits 6M, adding 4M does not; 4M is then alone */
    ASSERT_STR_EQ(plan(6000000, BIGB), "t-0-477777-0:3,2;");
    /* the limit is inclusive */
    ASSERT_STR_EQ(plan(8000000, BIGB), "t-0-477777-0:3,2,1;");
}

TEST(size_limit)
{
    reset();
    mk(1, "t", CUR, 0, 1, 60, "vParquet4", 0, "");
    mk(2, "t", CUR, 0, 2, 50, "vParquet4", 0, "");
    mk(3, "t", CUR, 0, 3, 50, "vParquet4", 0, "");
    /* 60+50 > 100: from block 1 nothing; from block 2: 2+3 = 100 fits */
    ASSERT_STR_EQ(plan(BIG, 100), "t-0-477777-0:2,3;");
}

TEST(versions_and_columns_never_mix)
{
    reset();
    mk(1, "t", CUR, 0, 100, 10, "vParquet4", 0, "");
    mk(2, "t", CUR, 0, 200, 10, "vParquet3", 0, "");
    mk(3, "t", CUR, 0, 300, 10, "vParquet4", 0, "");
    /* only contiguous stripes count: 100(v4) 200(v3) 300(v4) give no job */
    ASSERT_STR_EQ(plan(BIG, BIGB), "");
    reset();
    mk(1, "t", CUR, 0, 100, 10, "vParquet4", 0, "[{\"n\":\"a\"}]");
    mk(2, "t", CUR, 0, 100, 10, "vParquet4", 0, "[{\"n\":\"b\"}]");
    ASSERT_STR_EQ(plan(BIG, BIGB), "");
}

TEST(replication_factor_separates_groups)
{
    reset();
    mk(1, "t", CUR, 0, 1, 10, "vParquet4", 1, "");
    mk(2, "t", CUR, 0, 2, 10, "vParquet4", 0, "");
    mk(3, "t", CUR, 0, 3, 10, "vParquet4", 1, "");
    mk(4, "t", CUR, 0, 4, 10, "vParquet4", 0, "");
    ASSERT_STR_EQ(plan(BIG, BIGB), "t-0-477777-0:2,4;t-0-477777-1:1,3;");
}

TEST_MAIN(TEST_ENTRY(dc_hash_vector), TEST_ENTRY(active_window_groups_by_level_smallest_first),
          TEST_ENTRY(level_order_is_lexical), TEST_ENTRY(recent_windows_first_within_level),
          TEST_ENTRY(active_cutover_window_skipped),
          TEST_ENTRY(old_windows_group_by_window_across_levels), TEST_ENTRY(max_inputs_is_four),
          TEST_ENTRY(object_limit), TEST_ENTRY(size_limit),
          TEST_ENTRY(versions_and_columns_never_mix),
          TEST_ENTRY(replication_factor_separates_groups))
