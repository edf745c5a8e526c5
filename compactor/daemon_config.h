/*
 * daemon_config.h - the compactor's configuration: Tempo's tempo.yaml keys.
 *
 * daemon_config_table is the one table holding every key, default, bound and
 * doc line (storage.trace.*, compactor.*, server.*, overrides.defaults.*).
 * Tempo keys this program does not use are accepted with a warning. Strings
 * are owned by the struct; daemon_config_cleanup() frees them.
 */
#ifndef TC_DAEMON_CONFIG_H
#define TC_DAEMON_CONFIG_H

#include <stdint.h>

#include "base/cfg.h"

struct daemon_config {
    char *target;

    /* server.* */
    char *http_listen_address;
    int64_t http_listen_port;
    char *log_level;
    char *log_format;
    int64_t graceful_shutdown_ms;

    /* storage.trace.* */
    char *backend;
    int64_t blocklist_poll_ms;
    int64_t blocklist_poll_concurrency;
    int64_t blocklist_poll_tenant_concurrency;
    int blocklist_poll_fallback;
    int64_t blocklist_poll_tenant_index_builders;
    int64_t blocklist_poll_stale_tenant_index_ms;
    int64_t blocklist_poll_jitter_ms;
    int64_t blocklist_poll_tolerate_consecutive_errors;
    int64_t blocklist_poll_tolerate_tenant_failures;
    int empty_tenant_deletion_enabled;
    int64_t empty_tenant_deletion_age_ms;
    char *block_version;
    double bloom_filter_false_positive;
    uint64_t bloom_filter_shard_size_bytes;
    uint64_t parquet_row_group_size_bytes;
    char *parquet_dedicated_columns; /* JSON array */
    char *local_path;
    char *s3_bucket;
    char *s3_prefix;
    char *s3_endpoint;
    char *s3_region;
    char *s3_access_key;
    char *s3_secret_key;
    char *s3_session_token;
    int s3_insecure;
    int s3_forcepathstyle;
    int64_t s3_bucket_lookup_type;
    int64_t s3_list_blocks_concurrency;
    uint64_t s3_part_size;
    char *s3_tls_ca_path;
    int s3_tls_insecure_skip_verify;
    char *s3_storage_class;
    char *s3_tags;     /* JSON object */
    char *s3_metadata; /* JSON object */

    /* compactor.* */
    int compactor_disabled;
    struct cfg_strlist ring_peers;
    char *ring_instance_id;
    char *ring_instance_addr;
    int64_t ring_refresh_ms;
    int64_t compaction_window_ms;
    int64_t max_compaction_objects;
    uint64_t max_block_bytes;
    int64_t block_retention_ms;
    int64_t compacted_block_retention_ms;
    int64_t retention_concurrency;
    int64_t max_time_per_tenant_ms;
    int64_t compaction_cycle_ms;
    char *state_dir;
    int64_t orphan_retention_ms;

    /* overrides.* */
    int64_t ovr_block_retention_ms;
    int64_t ovr_compaction_window_ms;
    int ovr_compaction_disabled;
    int64_t ovr_max_bytes_per_trace;
    char *per_tenant_override_config;
};

extern const struct cfg_table daemon_config_table;

/* daemon_config_load() applies defaults, -config.file and flags, then checks
 * cross-field rules (backend settings present). */
int daemon_config_load(struct daemon_config *c, int argc, char **argv, struct tc_err *err);
void daemon_config_cleanup(struct daemon_config *c);

#endif
