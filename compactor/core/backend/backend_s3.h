/*
 * backend_s3.h - the S3 backend: libcurl (http_client) plus SigV4.
 *
 * Keys live under <bucket>/<prefix>/. Listing uses ListObjectsV2 with
 * continuation tokens; ListBlocks splits the ID space into
 * list_blocks_concurrency key ranges with start-after, as Tempo does, and
 * falls back to one range on stores that ignore start-after. Requests are
 * retried with jittered backoff on transport errors, timeouts, 429 and 5xx
 * (503 SlowDown included), each retry counted in
 * tempo_compactor_backend_retries_total{operation,reason}. Connections are kept alive in a pool of clients.
 */
#ifndef TC_BACKEND_S3_H
#define TC_BACKEND_S3_H

#include <stddef.h>

#include "backend/backend.h"
#include "base/buf.h"
#include "base/metrics.h"
#include "base/tc.h"

struct backend_s3_cfg {
    const char *endpoint; /* host[:port], no scheme */
    const char *bucket;
    const char *prefix;        /* may be NULL or "" */
    const char *region;        /* NULL = "us-east-1" */
    const char *access_key;    /* NULL = $AWS_ACCESS_KEY_ID */
    const char *secret_key;    /* NULL = $AWS_SECRET_ACCESS_KEY */
    const char *session_token; /* NULL = $AWS_SESSION_TOKEN (optional) */
    int insecure;              /* plain http */
    int forcepathstyle;        /* 1: /bucket/key, whatever bucket_lookup says */
    int bucket_lookup;         /* Tempo's bucket_lookup_type: 0 auto, 1 virtual host, 2 path */
    const char *ca_file;
    int insecure_skip_verify;
    int list_blocks_concurrency; /* list_blocks_concurrency, at least 1 */
    int max_retries;             /* 0 = 3, negative = none */
    long timeout_ms;             /* 0 = 60 s */
    size_t part_size;            /* multipart part size; 0 = 5 MiB */
    struct metrics *metrics;     /* NULL = metrics_default() */
};

/* backend_s3_virtual_host() is minio-go's auto bucket lookup, which Tempo
 * uses: bucket.endpoint/key only for Amazon S3, Google Cloud Storage and
 * Aliyun OSS endpoints (and not for a bucket with a dot over https); path
 * style /bucket/key for every other endpoint (an IP, localhost, Ceph, MinIO).
 * endpoint is host[:port]. */
int backend_s3_virtual_host(const char *endpoint, const char *bucket, int https);

/* backend_s3_new() copies every string of cfg. */
struct backend *backend_s3_new(const struct backend_s3_cfg *cfg, struct tc_err *err);

/* The parser of one ListObjectsV2 page, exposed for tests and fuzzing
 * (tests/fuzz/fuzz_s3_list.c). fn gets each key (or prefix, is_prefix 1)
 * below strip bytes of prefix; a non-zero return stops the page and is
 * returned. token receives NextContinuationToken and *more IsTruncated. */
typedef int (*backend_s3_list_fn)(const char *key, int64_t mtime, uint64_t size, int is_prefix,
                                  void *ud);
int backend_s3_list_page(const char *body, size_t len, size_t strip, backend_s3_list_fn fn,
                         void *ud, struct buf *token, int *more, struct tc_err *err);

#endif
