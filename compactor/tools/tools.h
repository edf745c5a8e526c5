/*
 * tools.h - developer tools built into the tempo-compactor binary as
 * `tempo-compactor parquet ...`: the Parquet CLI, the synthetic block
 * generator and the vParquet3 -> vParquet4 converter. They are not part of
 * the core library; only the CLI, the tests and the benchmarks call them.
 *
 * Layer: above compactor/core (may include any core folder); nothing in
 * core includes tools/.
 */
#ifndef TC_TOOLS_H
#define TC_TOOLS_H

#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"
#include "base/tc.h"

/* compactor/tools/parquet_cli.c; argv[0] is "parquet". */
int parquet_cli_main(int argc, char **argv);
/* compactor/tools/compact_cli.c; argv[0] is "compact". */
int compact_cli_main(int argc, char **argv);

/* Rewrites every row of a vParquet3 file as a vParquet4 file (schema v4
 * from vp4_schema_new). */
int vp4_convert_v3(struct parquet_reader *r, const struct parquet_schema *v4, const char *out_path,
                   size_t row_group_bytes, struct parquet_write_info *info, struct tc_err *err);
/* ---- synthetic blocks ---- */

struct vp4_gen_opts {
    const char *dir;    /* block directory to create (data.parquet, meta.json) */
    const char *tenant; /* meta.json tenantID */
    uint64_t traces;    /* number of traces */
    uint64_t seed;      /* PRNG seed: same seed, same block */
    size_t row_group_bytes;
    int max_spans; /* spans per trace are 1..max_spans */
    /* Overlap between blocks, for compaction tests: the first `shared` trace
     * IDs come from shared_seed, so blocks with the same shared_seed hold the
     * same IDs. With shared_same the content of those traces comes from
     * shared_seed too (identical rows); otherwise from seed (the same trace
     * split into different spans, which the combiner must merge). */
    uint64_t shared;
    uint64_t shared_seed;
    int shared_same;
    uint64_t shared_start; /* identical shared traces start here (0 = start_unix) */
    uint64_t start_unix;   /* trace start times fall in [start, start+span) */
    uint64_t span_seconds;
    int compaction_level; /* meta.json compactionLevel */
};

struct vp4_gen_result {
    char block_id[37];
    uint64_t traces;
    int row_groups;
    uint64_t size;
    uint32_t footer_size;
};

void vp4_gen_opts_default(struct vp4_gen_opts *o);
int vp4_gen_block(const struct vp4_gen_opts *o, struct vp4_gen_result *res, struct tc_err *err);

/* ---- split (compactor/tools/vp4_split.c) ---- */

struct backend;

struct vp4_split_result {
    int parts;
    char block_id[3][37];
    uint64_t objects[3]; /* traces per part */
    uint64_t traces;     /* source traces */
    uint64_t same;       /* traces written as byte-equal copies */
    uint64_t differ;     /* traces written as copies that differ */
};

/* Splits the vParquet4 block in src_dir (data.parquet, meta.json) into
 * `parts` (2..3) overlapping level-0 blocks of tenant in be, through the
 * core block writer; see vp4_split.c for the rule. */
int vp4_split_block(const char *src_dir, struct backend *be, const char *tenant, int parts,
                    struct vp4_split_result *res, struct tc_err *err);

#endif
