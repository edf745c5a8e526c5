/* test_reconcile.c - parsing of the compactor's /metrics for status.outstandingBlocks. */
#include "reconcile.h"
#include "test.h"

TEST(sum_metric_over_series)
{
    const char *text = "# HELP tempodb_compaction_outstanding_blocks Number of blocks\n"
                       "# TYPE tempodb_compaction_outstanding_blocks gauge\n"
                       "tempodb_compaction_outstanding_blocks{tenant=\"a\"} 120\n"
                       "tempodb_compaction_outstanding_blocks{tenant=\"b}\\\"x\"} 30.5\n"
                       "tempodb_compaction_outstanding_blocks_total 999\n"
                       "tempodb_compaction_outstanding_blocks 7\n"
                       "tempodb_compaction_outstanding_blocks{tenant=\"c\"} NaN\n"
                       "other_metric{a=\"tempodb_compaction_outstanding_blocks\"} 5\n"
                       "tempodb_compaction_outstanding_blocks{tenant=\"d\"} 2 1700000000000";
    double sum = 0;

    ASSERT_EQ(
        reconcile_sum_metric(text, strlen(text), "tempodb_compaction_outstanding_blocks", &sum), 4);
    ASSERT_DBL_NEAR(sum, 159.5, 1e-9);
    ASSERT_EQ(reconcile_sum_metric("", 0, "x", &sum), 0);
    ASSERT_DBL_NEAR(sum, 0, 0);
}

TEST_MAIN(TEST_ENTRY(sum_metric_over_series))
