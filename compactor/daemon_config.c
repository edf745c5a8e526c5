/*
 * daemon_config.c - every key of the compactor, in one table.
 *
 * Paths and defaults are Tempo 2.7's (research/tempo.md section 7) so a real
 * tempo.yaml loads unchanged. Keys marked "ours" are this compactor's own.
 */
#include "daemon_config.h"

#include <stddef.h>
#include <string.h>

#include "base/tc.h"

#define F(x) offsetof(struct daemon_config, x)
#define DUR_MAX CFG_DURATION_MAX
/* A Tempo key accepted with a warning. */
#define IGN(path, why)                                                                             \
    {                                                                                              \
        path, NULL, CFG_IGNORED, 0, NULL, 0, 0, why                                                \
    }

static const struct cfg_key keys[] = {
    {"target", NULL, CFG_STRING, F(target), "compactor", 0, 0,
     "Tempo module to run; this program always runs the compactor (compactor or all)."},

    /* server */
    {"server.http_listen_address", NULL, CFG_STRING, F(http_listen_address), "", 0, 0,
     "Address for /ready, /metrics and /status; empty listens on all interfaces."},
    {"server.http_listen_port", NULL, CFG_INT, F(http_listen_port), "3200", 0, 65535, "HTTP port."},
    {"server.log_level", NULL, CFG_STRING, F(log_level), "info", 0, 0,
     "debug, info, warn or error."},
    {"server.log_format", NULL, CFG_STRING, F(log_format), "logfmt", 0, 0, "logfmt or json."},
    {"server.graceful_shutdown_timeout", NULL, CFG_DURATION, F(graceful_shutdown_ms), "30s", 0,
     DUR_MAX, "Time allowed for in-flight work after SIGTERM."},
    IGN("server", "gRPC and other server settings are not used"),

    /* storage.trace */
    {"storage.trace.backend", NULL, CFG_STRING, F(backend), "local", 0, 0, "local or s3."},
    {"storage.trace.blocklist_poll", NULL, CFG_DURATION, F(blocklist_poll_ms), "5m", 0, DUR_MAX,
     "How often the blocklist is polled.", CFG_ZERO_IS_DEFAULT},
    CFG_INCLUDE(&poll_cfg_table, F(poll)),
    {"storage.trace.block.version", NULL, CFG_STRING, F(block_version), "vParquet4", 0, 0,
     "Block format written by compaction."},
    {"storage.trace.block.parquet_dedicated_columns", NULL, CFG_JSON, F(parquet_dedicated_columns),
     "[]", 0, 0, "Dedicated attribute columns for new blocks."},
    {"storage.trace.local.path", NULL, CFG_STRING, F(local_path), "", 0, 0,
     "Bucket directory for the local backend."},
    {"storage.trace.s3.bucket", NULL, CFG_STRING, F(s3_bucket), "", 0, 0, "S3 bucket."},
    {"storage.trace.s3.prefix", NULL, CFG_STRING, F(s3_prefix), "", 0, 0,
     "Optional root prefix inside the bucket."},
    {"storage.trace.s3.endpoint", NULL, CFG_STRING, F(s3_endpoint), "", 0, 0,
     "host[:port] of the S3 API, without scheme."},
    {"storage.trace.s3.region", NULL, CFG_STRING, F(s3_region), "", 0, 0, "S3 region."},
    {"storage.trace.s3.access_key", NULL, CFG_STRING, F(s3_access_key), "", 0, 0,
     "Access key id; AWS_ACCESS_KEY_ID when empty."},
    {"storage.trace.s3.secret_key", NULL, CFG_SECRET, F(s3_secret_key), "", 0, 0,
     "Secret key; AWS_SECRET_ACCESS_KEY when empty. Never printed."},
    {"storage.trace.s3.session_token", NULL, CFG_SECRET, F(s3_session_token), "", 0, 0,
     "Session token; AWS_SESSION_TOKEN when empty. Never printed."},
    {"storage.trace.s3.insecure", NULL, CFG_BOOL, F(s3_insecure), "false", 0, 0, "Use plain http."},
    {"storage.trace.s3.forcepathstyle", NULL, CFG_BOOL, F(s3_forcepathstyle), "false", 0, 0,
     "Path-style addressing instead of virtual-host style."},
    {"storage.trace.s3.bucket_lookup_type", NULL, CFG_INT, F(s3_bucket_lookup_type), "0", 0, 2,
     "0 auto (virtual-host for AWS, GCS and Aliyun endpoints, else path, as minio-go), "
     "1 virtual-host, 2 path."},
    {"storage.trace.s3.list_blocks_concurrency", NULL, CFG_INT, F(s3_list_blocks_concurrency), "3",
     1, 1000, "Key-range shards listed in parallel per tenant."},
    {"storage.trace.s3.part_size", NULL, CFG_BYTES, F(s3_part_size), "0", 0, 5368709120.0,
     "Multipart part size; below 5 MiB (S3's smallest part, 0 included) means 5 MiB."},
    {"storage.trace.s3.request_timeout", NULL, CFG_DURATION, F(s3_request_timeout_ms), "60s", 100,
     DUR_MAX,
     "(ours) Longest one S3 request may take, transfer included; a request that stalls "
     "past it is retried.",
     CFG_ZERO_IS_DEFAULT},
    {"storage.trace.s3.max_retries", NULL, CFG_INT, F(s3_max_retries), "3", 0, 20,
     "(ours) Retries of an S3 request after a timeout, a reset, a 429 or a 5xx (SlowDown "
     "included), with jittered exponential backoff from 50 ms to 2 s."},
    {"storage.trace.s3.tls_ca_path", NULL, CFG_STRING, F(s3_tls_ca_path), "", 0, 0,
     "CA bundle for the S3 endpoint; the system store when empty."},
    {"storage.trace.s3.tls_insecure_skip_verify", NULL, CFG_BOOL, F(s3_tls_insecure_skip_verify),
     "false", 0, 0, "Skip TLS verification (never in prod)."},
    {"storage.trace.s3.storage_class", NULL, CFG_STRING, F(s3_storage_class), "", 0, 0,
     "Storage class for new objects."},
    {"storage.trace.s3.tags", NULL, CFG_JSON, F(s3_tags), "{}", 0, 0, "Object tags."},
    {"storage.trace.s3.metadata", NULL, CFG_JSON, F(s3_metadata), "{}", 0, 0, "Object metadata."},

    /* Tempo keys accepted with a warning. They are listed one by one so that a
     * typo in a real knob stays an error instead of a warning. */
    IGN("storage.trace.s3.signature_v2", "SigV4 is always used"),
    IGN("storage.trace.s3.enable_dual_stack", "the endpoint decides"),
    IGN("storage.trace.s3.hedge_requests_at", "requests are not hedged"),
    IGN("storage.trace.s3.hedge_requests_up_to", "requests are not hedged"),
    IGN("storage.trace.s3.tls_min_version", "libcurl's TLS defaults apply"),
    IGN("storage.trace.s3.tls_cipher_suites", "libcurl's TLS defaults apply"),
    IGN("storage.trace.s3.tls_server_name", "the endpoint host name is verified"),
    IGN("storage.trace.s3.tls_cert_path", "client certificates are not used"),
    IGN("storage.trace.s3.tls_key_path", "client certificates are not used"),
    IGN("storage.trace.s3.native_aws_auth_enabled", "static or env credentials are used"),
    IGN("storage.trace.s3.checksum_type", "not used"),
    IGN("storage.trace.s3.sse", "server-side encryption settings are not used"),
    IGN("storage.trace.gcs", "the gcs backend is not supported"),
    IGN("storage.trace.azure", "the azure backend is not supported"),
    IGN("storage.trace.wal", "the compactor has no WAL"),
    IGN("storage.trace.pool", "query pool settings"),
    IGN("storage.trace.search", "search settings"),
    IGN("storage.trace.cache", "cache settings"),
    IGN("storage.trace.background_cache", "cache settings"),
    IGN("storage.trace.memcached", "cache settings"),
    IGN("storage.trace.redis", "cache settings"),
    IGN("storage.trace.block.v2_index_downsample_bytes", "v2 blocks are not written"),
    IGN("storage.trace.block.v2_index_page_size_bytes", "v2 blocks are not written"),
    IGN("storage.trace.block.v2_encoding", "v2 blocks are not written"),
    IGN("storage.trace.block.search_encoding", "v2 blocks are not written"),
    IGN("storage.trace.block.search_page_size_bytes", "v2 blocks are not written"),

    /* compactor */
    {"compactor.disabled", NULL, CFG_BOOL, F(compactor_disabled), "false", 0, 0,
     "Poll only; never compact or apply retention."},
    {"compactor.ring.peers", NULL, CFG_STRLIST, F(ring_peers), NULL, 0, 0,
     "(ours) Replicas sharing the work: dns+<name>:<port> or host:port entries; empty means "
     "this instance owns every job."},
    {"compactor.ring.instance_id", NULL, CFG_STRING, F(ring_instance_id), "", 0, 0,
     "This instance's name; the hostname when empty."},
    {"compactor.ring.instance_addr", NULL, CFG_STRING, F(ring_instance_addr), "", 0, 0,
     "This instance's address as peers see it; found from the interfaces when empty."},
    {"compactor.ring.peer_refresh_interval", NULL, CFG_DURATION, F(ring_refresh_ms), "5s", 100,
     DUR_MAX, "(ours) How often dns+ peers are resolved again."},
    IGN("compactor.ring.kvstore", "ownership is computed from compactor.ring.peers"),
    IGN("compactor.ring.heartbeat_period", "no ring store is used"),
    IGN("compactor.ring.heartbeat_timeout", "no ring store is used"),
    IGN("compactor.ring.wait_stability_min_duration", "readiness never waits for a ring"),
    IGN("compactor.ring.wait_stability_max_duration", "readiness never waits for a ring"),
    IGN("compactor.ring.wait_active_instance_timeout", "readiness never waits for a ring"),
    IGN("compactor.ring.instance_interface_names", "set compactor.ring.instance_addr"),
    IGN("compactor.ring.instance_port", "the HTTP port identifies the instance"),
    IGN("compactor.ring.enable_inet6", "not used"),
    CFG_INCLUDE(&compactor_cfg_table, F(comp)),
    {"compactor.compaction.block_retention", "compactor.compaction.block-retention", CFG_DURATION,
     F(block_retention_ms), "336h", 60000, DUR_MAX, "Blocks older than this are marked compacted."},
    {"compactor.compaction.compacted_block_retention", NULL, CFG_DURATION,
     F(compacted_block_retention_ms), "1h", 0, DUR_MAX,
     "Compacted blocks are deleted this long after compaction."},
    {"compactor.compaction.retention_concurrency", NULL, CFG_INT, F(retention_concurrency), "10", 1,
     1000, "Tenants processed in parallel by retention."},
    {"compactor.compaction.compaction_cycle", NULL, CFG_DURATION, F(compaction_cycle_ms), "30s",
     100, DUR_MAX, "Minimum time per compaction loop iteration."},
    {"compactor.compaction.orphan_retention", NULL, CFG_DURATION, F(orphan_retention_ms), "24h",
     60000, DUR_MAX,
     "(ours) Block dirs with no meta older than this are removed; Tempo never does."},
    IGN("compactor.compaction.v2_in_buffer_bytes", "v2 blocks are not compacted"),
    IGN("compactor.compaction.v2_out_buffer_bytes", "v2 blocks are not compacted"),
    IGN("compactor.compaction.v2_prefetch_traces_count", "v2 blocks are not compacted"),
    IGN("compactor.compaction.flush_size_bytes", "not used"),
    IGN("compactor.compaction.iterator_buffer_size", "not used"),
    {"compactor.state_dir", NULL, CFG_STRING, F(state_dir), "/var/tempo/compactor", 0, 0,
     "(ours) Writable directory for the persisted poll state."},
    IGN("compactor.override_ring_key", "no ring store is used"),

    /* overrides */
    {"overrides.defaults.compaction.block_retention", NULL, CFG_DURATION, F(ovr_block_retention_ms),
     "0s", 0, DUR_MAX,
     "Default per-tenant block retention; 0 uses compactor.compaction.block_retention."},
    {"overrides.defaults.compaction.compaction_window", NULL, CFG_DURATION,
     F(ovr_compaction_window_ms), "0s", 0, DUR_MAX,
     "Default per-tenant compaction window; 0 uses the global one."},
    {"overrides.defaults.compaction.compaction_disabled", NULL, CFG_BOOL,
     F(ovr_compaction_disabled), "false", 0, 0, "Disable compaction and retention by default."},
    {"overrides.defaults.global.max_bytes_per_trace", NULL, CFG_INT, F(ovr_max_bytes_per_trace),
     "5000000", 0, 1e12, "Traces larger than this are not combined during compaction."},
    {"overrides.per_tenant_override_config", NULL, CFG_STRING, F(per_tenant_override_config), "", 0,
     0, "Runtime file with per-tenant overrides."},
    IGN("overrides", "ingestion and read overrides are not used"),

    /* the rest of a full tempo.yaml */
    IGN("memberlist", "ownership is computed from peers"),
    IGN("distributor", "not a compactor setting"),
    IGN("ingester", "not a compactor setting"),
    IGN("ingester_client", "not a compactor setting"),
    IGN("querier", "not a compactor setting"),
    IGN("query_frontend", "not a compactor setting"),
    IGN("metrics_generator", "not a compactor setting"),
    IGN("metrics_generator_client", "not a compactor setting"),
    IGN("block_builder", "not a compactor setting"),
    IGN("usage_report", "not a compactor setting"),
    IGN("multitenancy_enabled", "the compactor serves all tenants"),
    IGN("stream_over_http_enabled", "not a compactor setting"),
    IGN("http_api_prefix", "not a compactor setting"),
    IGN("use_otel_tracer", "not a compactor setting"),
    IGN("cache", "not a compactor setting"),
};

const struct cfg_table daemon_config_table = {keys, TC_ARRAY_LEN(keys)};

int
daemon_config_load(struct daemon_config *c, int argc, char **argv, struct tc_err *err)
{
    int rc;

    memset(c, 0, sizeof(*c));
    poll_cfg_defaults(&c->poll);
    compactor_cfg_defaults(&c->comp);
    rc = cfg_load(&daemon_config_table, c, argc, argv, err);
    if (rc != TC_OK)
        return rc;
    if (strcmp(c->target, "compactor") != 0 && strcmp(c->target, "all") != 0 &&
        strcmp(c->target, "scalable-single-binary") != 0)
        return tc_err_set(err, TC_INVAL,
                          "target: \"%s\" is not supported; this program runs the compactor",
                          c->target);
    if (strcmp(c->backend, "local") == 0) {
        if (c->local_path[0] == '\0')
            return tc_err_set(err, TC_INVAL,
                              "storage.trace.local.path: required with backend \"local\"");
    } else if (strcmp(c->backend, "s3") == 0) {
        if (c->s3_bucket[0] == '\0')
            return tc_err_set(err, TC_INVAL,
                              "storage.trace.s3.bucket: required with backend \"s3\"");
        if (c->s3_endpoint[0] == '\0')
            return tc_err_set(err, TC_INVAL,
                              "storage.trace.s3.endpoint: required with backend \"s3\"");
    } else {
        return tc_err_set(err, TC_INVAL,
                          "storage.trace.backend: \"%s\" is not supported (use local or s3)",
                          c->backend);
    }
    if (strcmp(c->block_version, "vParquet4") != 0)
        return tc_err_set(err, TC_INVAL,
                          "storage.trace.block.version: \"%s\" cannot be written (only vParquet4)",
                          c->block_version);
    return TC_OK;
}

void
daemon_config_cleanup(struct daemon_config *c)
{
    cfg_cleanup(&daemon_config_table, c);
}
