/*
 * compact_cli.c - `tempo-compactor compact ROOT TENANT BLOCK...`: runs one
 * compaction job (compact/compact.h) on a local bucket, outside the daemon,
 * for benchmarks and by hand. --read-only decodes the inputs the same way
 * and writes nothing (the benchmark's baseline).
 *
 * Prints one line of key=value: seconds, rows, bytes_in, bytes_out,
 * cpu_seconds (user + sys), maxrss_mb and the output block.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/tc.h"
#include "base/uuid.h"
#include "compact/compact.h"
#include "tempo/meta.h"
#include "tools/tools.h"

static int
usage(void)
{
    fprintf(stderr, "usage: tempo-compactor compact ROOT TENANT BLOCK_ID... [--read-only]\n"
                    "         [--rg-bytes N] [--max-bytes-per-trace N]\n"
                    "  Compacts 2-4 blocks of a local bucket into one (marking the inputs\n"
                    "  compacted), or with --read-only only decodes them.\n");
    return 2;
}

static int
load_meta(struct backend *be, const char *tenant, const char *id, struct meta *m,
          struct tc_err *err)
{
    char key[BACKEND_MAX_KEY];
    struct buf b;
    int rc;

    snprintf(key, sizeof(key), "%s/%s/%s", tenant, id, BACKEND_META);
    buf_init(&b, 1 << 20);
    rc = backend_get(be, key, 0, 0, 1 << 20, &b, NULL, err);
    if (rc == TC_OK)
        rc = meta_decode_json(b.data, b.len, m, err);
    if (rc != TC_OK)
        tc_err_prefix(err, "%s", key);
    buf_cleanup(&b);
    return rc;
}

int
compact_cli_main(int argc, char **argv)
{
    struct meta m[COMPACT_MAX_INPUTS];
    const struct meta *in[COMPACT_MAX_INPUTS];
    struct compact_cfg cfg;
    struct compact_result res;
    struct backend *be;
    struct tc_err err;
    struct rusage ru;
    size_t n = 0;
    int i, rc, read_only = 0;
    uint64_t t0, rows = 0;
    char ids[UUID_STR_LEN + 1] = "";

    memset(&cfg, 0, sizeof(cfg));
    vp4_block_cfg_defaults(&cfg.block); /* Tempo's storage.trace.block.* defaults */
    if (argc < 4)
        return usage();
    be = backend_local_new(argv[1], &err);
    if (be == NULL) {
        fprintf(stderr, "compact: %s\n", err.msg);
        return 1;
    }
    for (i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--read-only") == 0) {
            read_only = 1;
        } else if (strcmp(argv[i], "--rg-bytes") == 0 && i + 1 < argc) {
            cfg.block.row_group_bytes = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--max-bytes-per-trace") == 0 && i + 1 < argc) {
            cfg.max_bytes_per_trace = strtoull(argv[++i], NULL, 10);
        } else if (argv[i][0] == '-' || n == COMPACT_MAX_INPUTS) {
            backend_free(be);
            return usage();
        } else {
            if (load_meta(be, argv[2], argv[i], &m[n], &err) != TC_OK) {
                fprintf(stderr, "compact: %s\n", err.msg);
                backend_free(be);
                return 1;
            }
            in[n] = &m[n];
            n++;
        }
    }
    log_set_level("warn");
    t0 = tc_now_ms();
    if (read_only) {
        rc = compact_scan(be, argv[2], in, n, &rows, &err);
    } else {
        rc = compact_job(be, NULL, argv[2], in, n, &cfg, NULL, NULL, NULL, &res, &err);
        if (rc == TC_OK) {
            rows = (uint64_t)res.out.total_objects;
            uuid_format(res.out.id, ids);
        }
    }
    if (rc != TC_OK) {
        fprintf(stderr, "compact: %s\n", err.msg);
        backend_free(be);
        return 1;
    }
    getrusage(RUSAGE_SELF, &ru);
    {
        uint64_t bytes_in = 0;
        size_t k;
        for (k = 0; k < n; k++)
            bytes_in += m[k].size;
        /* CPU time (user + sys) is steadier than wall time on a shared machine */
        double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        printf("seconds=%.3f cpu_seconds=%.3f rows=%llu bytes_in=%llu bytes_out=%llu "
               "maxrss_mb=%.1f combined=%llu output=%s\n",
               (double)(tc_now_ms() - t0) / 1000.0, cpu, (unsigned long long)rows,
               (unsigned long long)bytes_in, (unsigned long long)(read_only ? 0 : res.out.size),
               ru.ru_maxrss / 1024.0, (unsigned long long)(read_only ? 0 : res.objects_combined),
               read_only ? "-" : ids);
    }
    backend_free(be);
    return 0;
}
