/*
 * daemon_config.h - the compactor's configuration: Tempo's tempo.yaml keys.
 *
 * daemon_config_table is the one table holding every key, default, bound and
 * doc line (storage.trace.*, compactor.*, server.*, overrides.defaults.*).
 * Keys that configure a module are in that module's table, next to the
 * struct they fill (poll_cfg_table, compactor_cfg_table, vp4_block_cfg_table)
 * and included here where the struct is embedded, so every default is
 * written once. Tempo keys this program does not use are accepted with a
 * warning. Strings are owned by the struct; daemon_config_cleanup() frees
 * them.
 */
#ifndef TC_DAEMON_CONFIG_H
#define TC_DAEMON_CONFIG_H

#include <stdint.h>

#include "base/cfg.h"
#include "blocklist/poll.h"
#include "compact/compactor.h"

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
    struct poll_cfg poll; /* storage.trace.blocklist_poll_* (poll_cfg_table) */
    char *block_version;
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
    int64_t s3_request_timeout_ms;
    int64_t s3_max_retries;
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
    /* compaction_window, max_compaction_objects, max_block_bytes,
     * max_time_per_tenant and storage.trace.block.* (compactor_cfg_table) */
    struct compactor_cfg comp;
    int64_t block_retention_ms;
    int64_t compacted_block_retention_ms;
    int64_t retention_concurrency;
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
 * cross-field rules (backend settings present). The embedded module structs
 * start from their _defaults() (their non-key fields included). */
int daemon_config_load(struct daemon_config *c, int argc, char **argv, struct tc_err *err);
void daemon_config_cleanup(struct daemon_config *c);

#endif
