/* test_metrics.c - registry semantics and exact text exposition. */
#include "base/metrics.h"
#include "base/mem.h"
#include "base/tc.h"
#include "test.h"

static const char *const tenant_l[] = {"tenant", NULL};

TEST(counter_gauge_exposition)
{
    struct metrics *r = metrics_new();
    struct metric *c, *g;
    struct buf b;

    c = metrics_counter(r, "tempodb_blocklist_poll_errors_total", "Poll errors.", tenant_l);
    g = metrics_gauge(r, "tempodb_blocklist_length", "Total blocks.", tenant_l);
    ASSERT(c && g);
    /* same name and type returns the same family */
    ASSERT(metrics_counter(r, "tempodb_blocklist_poll_errors_total", "x", tenant_l) == c);
    /* a type clash is refused */
    ASSERT(metrics_gauge(r, "tempodb_blocklist_poll_errors_total", "x", tenant_l) == NULL);
    metrics_inc(c, (const char *[]){""});
    metrics_add(c, (const char *[]){"b\"q\\n\n"}, 2);
    metrics_add(c, (const char *[]){""}, -5); /* counters never go down */
    metrics_set(g, (const char *[]){"3"}, 22435);
    metrics_set(g, (const char *[]){"1"}, 0.1);
    buf_init(&b, 0);
    ASSERT_OK(metrics_render(r, &b));
    ASSERT_STR_EQ(b.data, "# HELP tempodb_blocklist_length Total blocks.\n"
                          "# TYPE tempodb_blocklist_length gauge\n"
                          "tempodb_blocklist_length{tenant=\"1\"} 0.1\n"
                          "tempodb_blocklist_length{tenant=\"3\"} 22435\n"
                          "# HELP tempodb_blocklist_poll_errors_total Poll errors.\n"
                          "# TYPE tempodb_blocklist_poll_errors_total counter\n"
                          "tempodb_blocklist_poll_errors_total{tenant=\"\"} 1\n"
                          "tempodb_blocklist_poll_errors_total{tenant=\"b\\\"q\\\\n\\n\"} 2\n");
    ASSERT_DBL_NEAR(metrics_value(g, (const char *[]){"3"}), 22435, 0);
    ASSERT_OK(metrics_remove(g, (const char *[]){"3"}));
    ASSERT_EQ(metrics_remove(g, (const char *[]){"3"}), TC_NOTFOUND);
    ASSERT_DBL_NEAR(metrics_value(g, (const char *[]){"3"}), 0, 0);
    buf_cleanup(&b);
    metrics_free(r);
}

TEST(histogram_exposition)
{
    struct metrics *r = metrics_new();
    static const double bk[] = {.25, .5, 1, 2, 4, 8};
    struct metric *h = metrics_histogram(r, "tempodb_retention_duration_seconds", "Retention.",
                                         NULL, bk, TC_ARRAY_LEN(bk));
    struct buf b;

    ASSERT(h != NULL);
    metrics_observe(h, NULL, 0.25); /* le is inclusive */
    metrics_observe(h, NULL, 3);
    metrics_observe(h, NULL, 100);
    buf_init(&b, 0);
    ASSERT_OK(metrics_render(r, &b));
    ASSERT_STR_EQ(b.data, "# HELP tempodb_retention_duration_seconds Retention.\n"
                          "# TYPE tempodb_retention_duration_seconds histogram\n"
                          "tempodb_retention_duration_seconds_bucket{le=\"0.25\"} 1\n"
                          "tempodb_retention_duration_seconds_bucket{le=\"0.5\"} 1\n"
                          "tempodb_retention_duration_seconds_bucket{le=\"1\"} 1\n"
                          "tempodb_retention_duration_seconds_bucket{le=\"2\"} 1\n"
                          "tempodb_retention_duration_seconds_bucket{le=\"4\"} 2\n"
                          "tempodb_retention_duration_seconds_bucket{le=\"8\"} 2\n"
                          "tempodb_retention_duration_seconds_bucket{le=\"+Inf\"} 3\n"
                          "tempodb_retention_duration_seconds_sum 103.25\n"
                          "tempodb_retention_duration_seconds_count 3\n");
    ASSERT_DBL_NEAR(metrics_value(h, NULL), 3, 0);
    buf_cleanup(&b);
    metrics_free(r);
}

TEST(invalid_names_refused)
{
    struct metrics *r = metrics_new();
    static const char *const bad_l[] = {"__x", NULL};
    static const char *const le_l[] = {"le", NULL};
    static const double unsorted[] = {1, 0.5};

    ASSERT(metrics_counter(r, "9abc", "x", NULL) == NULL);
    ASSERT(metrics_counter(r, "a-b", "x", NULL) == NULL);
    ASSERT(metrics_counter(r, "ok_name", "x", bad_l) == NULL);
    ASSERT(metrics_histogram(r, "h", "x", le_l, unsorted, 0) == NULL);
    ASSERT(metrics_histogram(r, "h2", "x", NULL, unsorted, 2) == NULL);
    metrics_free(r);
}

TEST(many_series_and_unlabeled_zero)
{
    struct metrics *r = metrics_new();
    struct metric *g = metrics_gauge(r, "g", "help", tenant_l);
    struct metric *u = metrics_gauge(r, "u", "unlabeled", NULL);
    char t[32];
    struct buf b;
    int i;

    ASSERT(g && u);
    for (i = 0; i < 5000; i++) {
        snprintf(t, sizeof(t), "tenant-%05d", i);
        metrics_set(g, (const char *[]){t}, i);
    }
    for (i = 0; i < 5000; i++) {
        snprintf(t, sizeof(t), "tenant-%05d", i);
        ASSERT_DBL_NEAR(metrics_value(g, (const char *[]){t}), i, 0);
    }
    buf_init(&b, 0);
    ASSERT_OK(metrics_render(r, &b));
    ASSERT_STR_CONTAINS(b.data, "g{tenant=\"tenant-00000\"} 0\ng{tenant=\"tenant-00001\"} 1\n");
    ASSERT_STR_CONTAINS(b.data, "# TYPE u gauge\nu 0\n");
    buf_cleanup(&b);
    metrics_free(r);
}

TEST(float_format_like_go)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {{20, "20"},
                 {0.1, "0.1"},
                 {103.25, "103.25"},
                 {0.005, "0.005"},
                 {22435, "22435"},
                 {1e6, "1e+06"},
                 {123456789, "1.23456789e+08"},
                 {0.00001, "1e-05"},
                 {-2.5, "-2.5"},
                 {0, "0"},
                 {999999, "999999"},
                 {1.0 / 3, "0.3333333333333333"}};
    struct metrics *r = metrics_new();
    struct metric *g = metrics_gauge(r, "g", "h", NULL);
    struct buf b;
    char want[128];
    size_t i;

    buf_init(&b, 0);
    for (i = 0; i < TC_ARRAY_LEN(cases); i++) {
        metrics_set(g, NULL, cases[i].v);
        buf_reset(&b);
        ASSERT_OK(metrics_render(r, &b));
        snprintf(want, sizeof(want), "\ng %s\n", cases[i].want);
        ASSERT_STR_CONTAINS(b.data, want);
    }
    buf_cleanup(&b);
    metrics_free(r);
}

TEST_MAIN(TEST_ENTRY(counter_gauge_exposition), TEST_ENTRY(float_format_like_go),
          TEST_ENTRY(histogram_exposition), TEST_ENTRY(invalid_names_refused),
          TEST_ENTRY(many_series_and_unlabeled_zero))
