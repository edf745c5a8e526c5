/* test_daemon_config.c - the compactor's config table against real tempo.yaml files. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_config.h"
#include "base/log.h"
#include "base/tc.h"
#include "test.h"

#define FULL "tests/fixtures/tempo-compactor.yaml"

static int
load_args(struct daemon_config *c, struct tc_err *err, const char *a1, const char *a2,
          const char *a3)
{
    char *argv[] = {"tempo-compactor", (char *)a1, (char *)a2, (char *)a3, NULL};
    int argc = 1 + (a1 != NULL) + (a2 != NULL) + (a3 != NULL);

    return daemon_config_load(c, argc, argv, err);
}

static const char *
write_tmp(const char *text)
{
    static char path[600];
    FILE *f;

    snprintf(path, sizeof(path), "%s/tempo.yaml", test_tmpdir());
    f = fopen(path, "w");
    if (f == NULL)
        TEST_FAIL_("cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

TEST(full_tempo_config_loads)
{
    struct daemon_config c;
    struct tc_err err;
    char flag[256];

    log_set_level("error"); /* the ignored keys warn; not under test here */
    setenv("S3_ACCESS_KEY", "AKIAEXAMPLE", 1);
    setenv("S3_SECRET_KEY", "s3cr3t/with+chars", 1);
    unsetenv("S3_ENDPOINT");
    snprintf(flag, sizeof(flag), "-config.file=%s", FULL);
    ASSERT_OK(load_args(&c, &err, flag, "-config.expand-env=true", NULL));
    ASSERT_STR_EQ(c.backend, "s3");
    ASSERT_STR_EQ(c.s3_bucket, "tempo-traces");
    ASSERT_STR_EQ(c.s3_endpoint, "s3.dualstack.us-east-1.amazonaws.com");
    ASSERT_STR_EQ(c.s3_access_key, "AKIAEXAMPLE");
    ASSERT_STR_EQ(c.s3_secret_key, "s3cr3t/with+chars");
    ASSERT_EQ(c.s3_list_blocks_concurrency, 3);
    ASSERT_EQ(c.blocklist_poll_ms, 300000);
    ASSERT_EQ(c.poll.concurrency, 50);
    ASSERT_EQ(c.poll.fallback, 1);
    ASSERT_EQ(c.poll.tenant_index_builders, 2);
    ASSERT_EQ(c.comp.window_ms, 3600000);
    ASSERT_EQ(c.comp.max_objects, 6000000);
    ASSERT_U64_EQ(c.comp.max_block_bytes, 107374182400ULL);
    ASSERT_EQ(c.block_retention_ms, 336LL * 3600000);
    ASSERT_EQ(c.compacted_block_retention_ms, 3600000);
    ASSERT_EQ(c.retention_concurrency, 10);
    ASSERT_EQ(c.http_listen_port, 3200);
    ASSERT_U64_EQ(c.comp.job.block.row_group_bytes, 100000000);
    ASSERT_STR_CONTAINS(c.parquet_dedicated_columns, "\"name\":\"k8s.cluster.name\"");
    ASSERT_STR_CONTAINS(c.parquet_dedicated_columns, "\"name\":\"http.route\"");
    ASSERT_EQ(c.ovr_max_bytes_per_trace, 5000000);
    ASSERT_STR_EQ(c.per_tenant_override_config, "/runtime-config/overrides.yaml");
    daemon_config_cleanup(&c);
}

TEST(env_default_and_flag_override)
{
    struct daemon_config c;
    struct tc_err err;
    char flag[256];

    log_set_level("error");
    setenv("S3_ENDPOINT", "127.0.0.1:7480", 1);
    setenv("S3_SECRET_KEY", "x", 1);
    snprintf(flag, sizeof(flag), "-config.file=%s", FULL);
    ASSERT_OK(load_args(&c, &err, flag, "-config.expand-env",
                        "-compactor.compaction.block-retention=48h"));
    ASSERT_STR_EQ(c.s3_endpoint, "127.0.0.1:7480");
    ASSERT_EQ(c.block_retention_ms, 48LL * 3600000); /* Tempo's flag name */
    daemon_config_cleanup(&c);
}

TEST(unknown_key_error_names_line_column)
{
    struct daemon_config c;
    struct tc_err err;
    char flag[700];

    snprintf(flag, sizeof(flag), "-config.file=%s",
             write_tmp("storage:\n  trace:\n    backend: local\n    local:\n      path: /tmp\n"
                       "    blocklist_pol: 5m\n"));
    ASSERT_EQ(load_args(&c, &err, flag, NULL, NULL), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "tempo.yaml:6:5: unknown config key "
                                 "\"storage.trace.blocklist_pol\"");
    daemon_config_cleanup(&c);
}

TEST(bad_duration_error_names_line_column)
{
    struct daemon_config c;
    struct tc_err err;
    char flag[700];

    snprintf(flag, sizeof(flag), "-config.file=%s",
             write_tmp("compactor:\n  compaction:\n    block_retention: 14days\n"));
    ASSERT_EQ(load_args(&c, &err, flag, NULL, NULL), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "tempo.yaml:3:22: compactor.compaction.block_retention: "
                                 "invalid duration \"14days\"");
    daemon_config_cleanup(&c);
}

TEST(cross_field_rules)
{
    struct daemon_config c;
    struct tc_err err;

    ASSERT_EQ(load_args(&c, &err, NULL, NULL, NULL), TC_INVAL);
    ASSERT_STR_EQ(err.msg, "storage.trace.local.path: required with backend \"local\"");
    daemon_config_cleanup(&c);
    ASSERT_EQ(load_args(&c, &err, "-storage.trace.backend=gcs", NULL, NULL), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "storage.trace.backend: \"gcs\" is not supported");
    daemon_config_cleanup(&c);
    ASSERT_EQ(load_args(&c, &err, "-storage.trace.backend=s3", NULL, NULL), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "storage.trace.s3.bucket: required");
    daemon_config_cleanup(&c);
    ASSERT_EQ(load_args(&c, &err, "-storage.trace.local.path=/tmp", "-target=querier", NULL),
              TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "target: \"querier\" is not supported");
    daemon_config_cleanup(&c);
}

TEST(dump_masks_secrets)
{
    struct daemon_config c;
    struct tc_err err;
    struct buf out;

    ASSERT_OK(load_args(&c, &err, "-storage.trace.local.path=/tmp",
                        "-storage.trace.s3.secret_key=hunter2", NULL));
    buf_init(&out, 0);
    ASSERT_OK(cfg_render_yaml(&daemon_config_table, &c, &out));
    ASSERT(strstr(out.data, "hunter2") == NULL);
    ASSERT_STR_CONTAINS(out.data, "            secret_key: \"********\"\n");
    ASSERT_STR_CONTAINS(out.data, "        blocklist_poll: 5m0s\n");
    buf_cleanup(&out);
    daemon_config_cleanup(&c);
}

/* Tempo accepts any duration; retentions of 10 years are real (issue 11). */
TEST(every_duration_key_accepts_87600h)
{
    struct daemon_config c;
    struct tc_err err;
    struct buf schema;
    json_t *arr, *k;
    size_t i, n = 0, off;
    char flag[300];

    buf_init(&schema, 0);
    ASSERT_OK(cfg_render_json(&daemon_config_table, &schema));
    arr = json_loads(schema.data, 0, NULL);
    ASSERT(arr != NULL);
    json_array_foreach(arr, i, k)
    {
        const char *key = json_string_value(json_object_get(k, "key"));
        if (strcmp(json_string_value(json_object_get(k, "type")), "duration") != 0)
            continue;
        snprintf(flag, sizeof(flag), "-%s=87600h", key);
        if (load_args(&c, &err, "-storage.trace.local.path=/tmp", flag, NULL) != TC_OK)
            TEST_FAIL_("%s: 87600h refused: %s", key, err.msg);
        ASSERT(cfg_find(&daemon_config_table, key, &off) != NULL);
        ASSERT_EQ(*(int64_t *)((char *)&c + off), 87600LL * 3600000);
        daemon_config_cleanup(&c);
        n++;
    }
    ASSERT_GE(n, 13); /* the 13 duration keys of today, and any added later */
    json_decref(arr);
    buf_cleanup(&schema);
}

TEST(compacted_block_retention_of_ten_years_in_a_file)
{
    struct daemon_config c;
    struct tc_err err;
    char flag[700];

    snprintf(flag, sizeof(flag), "-config.file=%s",
             write_tmp("storage:\n  trace:\n    backend: local\n    local:\n      path: /tmp\n"
                       "compactor:\n  compaction:\n    block_retention: 87600h\n"
                       "    compacted_block_retention: 87600h\n"));
    ASSERT_OK(load_args(&c, &err, flag, NULL, NULL));
    ASSERT_EQ(c.compacted_block_retention_ms, 87600LL * 3600000);
    daemon_config_cleanup(&c);
}

/* Tempo accepts any positive row group size; tests want small ones. */
TEST(small_row_groups_are_accepted)
{
    struct daemon_config c;
    struct tc_err err;

    ASSERT_OK(load_args(&c, &err, "-storage.trace.local.path=/tmp",
                        "-storage.trace.block.parquet_row_group_size_bytes=1", NULL));
    ASSERT_U64_EQ(c.comp.job.block.row_group_bytes, 1);
    daemon_config_cleanup(&c);
    ASSERT_OK(load_args(&c, &err, "-storage.trace.local.path=/tmp",
                        "-storage.trace.block.parquet_row_group_size_bytes=1024", NULL));
    ASSERT_U64_EQ(c.comp.job.block.row_group_bytes, 1024);
    daemon_config_cleanup(&c);
    ASSERT_EQ(load_args(&c, &err, "-storage.trace.local.path=/tmp",
                        "-storage.trace.block.parquet_row_group_size_bytes=0", NULL),
              TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "out of range [1, ");
    daemon_config_cleanup(&c);
}

/* The daemon's defaults are the modules' own: one table entry each. */
TEST(module_defaults_come_from_the_one_table)
{
    struct daemon_config c;
    struct poll_cfg pc;
    struct compactor_cfg cc;
    struct tc_err err;

    ASSERT_OK(load_args(&c, &err, "-storage.trace.local.path=/tmp", NULL, NULL));
    poll_cfg_defaults(&pc);
    compactor_cfg_defaults(&cc);
    ASSERT(memcmp(&c.poll, &pc, sizeof(pc)) == 0);
    ASSERT(memcmp(&c.comp, &cc, sizeof(cc)) == 0);
    ASSERT_EQ(pc.concurrency, 50); /* Tempo's, from poll_cfg_table */
    ASSERT_EQ(pc.tenant_concurrency, 1);
    ASSERT_EQ(cc.window_ms, 3600000);
    ASSERT_U64_EQ(cc.job.block.row_group_bytes, 100000000);
    daemon_config_cleanup(&c);
}

/* Tempo's "0 means the default" is the table's, not a module's fallback. */
TEST(zero_loads_as_tempo_default)
{
    struct daemon_config c;
    struct tc_err err;

    ASSERT_OK(load_args(&c, &err, "-storage.trace.local.path=/tmp",
                        "-storage.trace.blocklist_poll_concurrency=0",
                        "-storage.trace.blocklist_poll=0s"));
    ASSERT_EQ(c.poll.concurrency, 50);
    ASSERT_EQ(c.blocklist_poll_ms, 300000);
    daemon_config_cleanup(&c);
}

TEST_MAIN(TEST_ENTRY(full_tempo_config_loads), TEST_ENTRY(env_default_and_flag_override),
          TEST_ENTRY(unknown_key_error_names_line_column),
          TEST_ENTRY(bad_duration_error_names_line_column), TEST_ENTRY(cross_field_rules),
          TEST_ENTRY(dump_masks_secrets), TEST_ENTRY(every_duration_key_accepts_87600h),
          TEST_ENTRY(compacted_block_retention_of_ten_years_in_a_file),
          TEST_ENTRY(small_row_groups_are_accepted),
          TEST_ENTRY(module_defaults_come_from_the_one_table),
          TEST_ENTRY(zero_loads_as_tempo_default))
