/*
 * parquet_cli.c - `tempo-compactor parquet ...`: inspect, copy and generate
 * Parquet files and Tempo blocks.
 *
 *   parquet schema FILE          the schema tree with levels
 *   parquet dump FILE            footer: row groups, chunks, encodings, stats
 *   parquet cat FILE [-n N] [--vp4]   rows as JSON lines (--vp4: read through
 *                                the released vParquet4 schema; vParquet3
 *                                is converted through the trace model)
 *   parquet ids FILE             TraceID column (hex), one per row
 *   parquet spans FILE           "<TraceID> <SpanID>" (hex), one per span
 *   parquet check FILE           decode everything, print rows and row groups
 *   parquet copy IN OUT [--vp4] [--rg-bytes N] [--enc E] [--codec C]
 *                                rewrite with our writer (--vp4: into the
 *                                released vParquet4 schema; vParquet3 input
 *                                is converted through the trace model)
 *   parquet gen DIR ...          synthetic vParquet4 block (see usage)
 *   parquet split BLOCK BUCKET [--tenant T] [--parts N]
 *                                overlapping blocks from a real one
 *                                (tools/vp4_split.c), into a local bucket
 *   parquet bench FILE [OUT]     read (and write) throughput, peak RSS,
 *                                snappy raw speed on the same bytes
 *
 * This is the only file of the parquet module that prints: it is the CLI.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <snappy-c.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/buf.h"
#include "base/mem.h"
#include "parquet/parquet.h"
#include "base/tc.h"
#include "tempo/vp4.h"
#include "tools/tools.h"

int parquet_cli_main(int argc, char **argv);

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: tempo-compactor parquet schema FILE\n"
            "       tempo-compactor parquet dump FILE\n"
            "       tempo-compactor parquet cat FILE [-n N] [--vp4]\n"
            "       tempo-compactor parquet ids FILE\n"
            "       tempo-compactor parquet spans FILE\n"
            "       tempo-compactor parquet check FILE\n"
            "       tempo-compactor parquet copy IN OUT [--vp4] [--rg-bytes N] [--page-bytes N]\n"
            "              [--enc plain|dict|delta|dlba|dba] [--codec none|snappy|gzip|zstd]\n"
            "       tempo-compactor parquet gen DIR [--traces N] [--seed S] "
            "[--rg-bytes N] [--tenant T] [--spans N]\n"
            "              [--shared N] [--shared-seed S] [--shared-same 0|1] "
            "[--shared-start UNIX]\n"
            "              [--start UNIX] [--span SECONDS] [--level L]\n"
            "       tempo-compactor parquet split BLOCK_DIR BUCKET_DIR [--tenant T] [--parts 2|3]\n"
            "       tempo-compactor parquet bench FILE [OUT]\n");
}

static int
fail(const char *what, const struct tc_err *err)
{
    fprintf(stderr, "parquet %s: %s\n", what, err->msg[0] ? err->msg : tc_strerror(err->code));
    return 1;
}

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static void
print_hex(FILE *f, const uint8_t *p, size_t n, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++)
        fprintf(f, "%02x", p[i]);
    if (n > max)
        fprintf(f, "...");
}

static void
print_stat(const struct parquet_node *leaf, const uint8_t *p, uint32_t n)
{
    if (leaf->type == PARQUET_INT32 && n == 4) {
        int32_t v;
        memcpy(&v, p, 4);
        printf("%" PRId32, v);
    } else if (leaf->type == PARQUET_INT64 && n == 8) {
        int64_t v;
        memcpy(&v, p, 8);
        if (leaf->converted == PARQUET_CT_UINT_64)
            printf("%" PRIu64, (uint64_t)v);
        else
            printf("%" PRId64, v);
    } else if (leaf->type == PARQUET_BOOLEAN && n == 1) {
        printf("%s", p[0] ? "true" : "false");
    } else if (leaf->type == PARQUET_DOUBLE && n == 8) {
        double d;
        memcpy(&d, p, 8);
        printf("%g", d);
    } else if (leaf->converted == PARQUET_CT_UTF8) {
        printf("\"%.*s\"", n > 40 ? 40 : (int)n, (const char *)p);
    } else {
        printf("0x");
        print_hex(stdout, p, n, 20);
    }
}

static int
cmd_schema(struct parquet_reader *r)
{
    struct buf b;

    buf_init(&b, 0);
    if (parquet_schema_print(parquet_reader_schema(r), &b) != TC_OK) {
        buf_cleanup(&b);
        return 1;
    }
    fwrite(b.data, 1, b.len, stdout);
    buf_cleanup(&b);
    return 0;
}

static int
cmd_dump(struct parquet_reader *r)
{
    const struct parquet_filemeta *m = parquet_reader_meta(r);
    const struct parquet_schema *s = parquet_reader_schema(r);

    printf("file_size: %" PRIu64 "\n", parquet_reader_file_size(r));
    printf("footer_size: %u\n", m->footer_len);
    printf("version: %d\n", m->version);
    printf("created_by: %s\n", m->created_by ? m->created_by : "");
    printf("num_rows: %" PRId64 "\n", m->num_rows);
    printf("columns: %d\n", s->ncolumns);
    printf("row_groups: %d\n", m->nrowgroups);
    for (int i = 0; i < m->nkv; i++)
        printf("kv: %s=%.60s\n", m->kv[i].key, m->kv[i].value ? m->kv[i].value : "");
    for (int g = 0; g < m->nrowgroups; g++) {
        const struct parquet_rowgroup_meta *rg = &m->rowgroups[g];
        printf("row_group %d: rows=%" PRId64 " bytes=%" PRId64 "\n", g, rg->num_rows,
               rg->total_byte_size);
        for (int c = 0; c < rg->ncols; c++) {
            const struct parquet_chunk_meta *cm = &rg->cols[c];
            const struct parquet_node *leaf = &s->nodes[s->columns[c]];
            printf("  %3d %s %s %s values=%" PRId64 " comp=%" PRId64 " uncomp=%" PRId64 " enc=", c,
                   s->paths[c], parquet_type_name(cm->type), parquet_codec_name(cm->codec),
                   cm->num_values, cm->total_compressed, cm->total_uncompressed);
            for (int e = 0; e < cm->nencodings; e++)
                printf("%s%s", e ? "," : "", parquet_encoding_name(cm->encodings[e]));
            if (cm->stats.has_min) {
                printf(" min=");
                print_stat(leaf, cm->stats.min, cm->stats.min_len);
            }
            if (cm->stats.has_max) {
                printf(" max=");
                print_stat(leaf, cm->stats.max, cm->stats.max_len);
            }
            if (cm->stats.null_count >= 0)
                printf(" nulls=%" PRId64, cm->stats.null_count);
            if (cm->offset_index_offset >= 0) {
                struct parquet_page_index pi;
                struct tc_err err;
                tc_err_clear(&err);
                if (parquet_reader_page_index(r, g, c, &pi, &err) == TC_OK) {
                    printf(" pages=%d%s", pi.npages, pi.has_column_index ? " colidx" : "");
                    parquet_page_index_cleanup(&pi);
                } else {
                    printf(" pageindex_error=\"%s\"", err.msg);
                }
            }
            printf("\n");
        }
    }
    return 0;
}

static int
cmd_cat(struct parquet_reader *r, int64_t limit, int vp4)
{
    struct parquet_cursor *cur = NULL;
    struct parquet_schema *proj = NULL;
    struct parquet_rowset conv;
    struct tc_err err;
    struct parquet_arena a;
    struct parquet_row row;
    struct buf b;
    int eof = 0, rc = 0, v3 = vp4 && vp4_is_v3_schema(parquet_reader_schema(r));
    int64_t n = 0;
    const struct parquet_schema *out_schema;

    tc_err_clear(&err);
    memset(&conv, 0, sizeof(conv));
    if (vp4) {
        /* vParquet3 goes through the trace model; others are projected */
        if (vp4_schema_new(&proj, &err) != TC_OK ||
            (!v3 && parquet_reader_project(r, proj, &err) != TC_OK) ||
            (v3 && parquet_rowset_init(&conv, proj) != TC_OK)) {
            parquet_schema_free(proj);
            return fail("cat", &err);
        }
    }
    out_schema = vp4 ? proj : parquet_reader_schema(r);
    if (parquet_cursor_new(&cur, r, &err) != TC_OK) {
        parquet_rowset_cleanup(&conv);
        parquet_schema_free(proj);
        return fail("cat", &err);
    }
    parquet_arena_init(&a);
    buf_init(&b, (size_t)1 << 30);
    while (limit < 0 || n < limit) {
        struct parquet_val *v;
        struct parquet_row *src = &row, crow;
        struct parquet_rowiter it;
        memset(&it, 0, sizeof(it));
        if (parquet_cursor_next(cur, &row, &eof, &err) != TC_OK) {
            rc = fail("cat", &err);
            break;
        }
        if (eof)
            break;
        parquet_arena_reset(&a);
        buf_reset(&b);
        if (v3) {
            struct vp4_trace *t;
            parquet_rowset_reset(&conv);
            if (vp4_trace_from_v3_row(&row, parquet_reader_schema(r), &a, &t, &err) != TC_OK ||
                vp4_trace_to_rowset(t, proj, &a, &conv, &err) != TC_OK ||
                parquet_rowiter_init(&it, &conv) != TC_OK || !parquet_rowiter_next(&it, &crow)) {
                parquet_rowiter_cleanup(&it);
                rc = fail("cat", &err);
                break;
            }
            src = &crow;
        }
        rc = parquet_row_assemble(src, out_schema, &a, &v, &err);
        parquet_rowiter_cleanup(&it);
        if (rc != TC_OK) {
            rc = fail("cat", &err);
            break;
        }
        if (parquet_val_json(v, out_schema, 0, &b) != TC_OK || buf_putc(&b, '\n')) {
            fprintf(stderr, "parquet cat: row %" PRId64 " does not fit the output buffer\n", n);
            rc = 1;
            break;
        }
        fwrite(b.data, 1, b.len, stdout);
        n++;
    }
    buf_cleanup(&b);
    parquet_arena_cleanup(&a);
    parquet_cursor_free(cur);
    parquet_rowset_cleanup(&conv);
    parquet_reader_project(r, NULL, &err);
    parquet_schema_free(proj);
    return rc;
}

static int
cmd_ids(struct parquet_reader *r)
{
    struct parquet_cursor *cur = NULL;
    struct tc_err err;
    struct parquet_row row;
    int eof = 0, col = parquet_schema_find(parquet_reader_schema(r), "TraceID");

    tc_err_clear(&err);
    if (col < 0) {
        fprintf(stderr, "parquet ids: no TraceID column\n");
        return 1;
    }
    if (parquet_cursor_new(&cur, r, &err) != TC_OK)
        return fail("ids", &err);
    for (;;) {
        const uint8_t *p;
        uint32_t n = 0;
        if (parquet_cursor_next(cur, &row, &eof, &err) != TC_OK) {
            parquet_cursor_free(cur);
            return fail("ids", &err);
        }
        if (eof)
            break;
        p = parquet_row_bytes(&row, col, &n);
        if (p)
            print_hex(stdout, p, n, n);
        printf("\n");
    }
    parquet_cursor_free(cur);
    return 0;
}

/* Every (TraceID, SpanID) pair: what the crash tests compare before and after. */
static int
cmd_spans(struct parquet_reader *r)
{
    static const char *const span_path =
        "rs.list.element.ss.list.element.Spans.list.element.SpanID";
    struct parquet_cursor *cur = NULL;
    struct tc_err err;
    struct parquet_row row;
    const struct parquet_schema *s = parquet_reader_schema(r);
    int eof = 0, tcol = parquet_schema_find(s, "TraceID"), scol = parquet_schema_find(s, span_path);

    tc_err_clear(&err);
    if (tcol < 0 || scol < 0) {
        fprintf(stderr, "parquet spans: no TraceID or %s column\n", span_path);
        return 1;
    }
    if (parquet_cursor_new(&cur, r, &err) != TC_OK)
        return fail("spans", &err);
    for (;;) {
        const struct parquet_colbuf *cb;
        const uint8_t *p;
        uint32_t n = 0;
        size_t v;
        if (parquet_cursor_next(cur, &row, &eof, &err) != TC_OK) {
            parquet_cursor_free(cur);
            return fail("spans", &err);
        }
        if (eof)
            break;
        p = parquet_row_bytes(&row, tcol, &n);
        cb = &row.cols[scol];
        for (v = row.v0[scol]; v < row.v1[scol]; v++) {
            if (p)
                print_hex(stdout, p, n, n);
            putchar(' ');
            print_hex(stdout, cb->data + cb->offs[v], cb->offs[v + 1] - cb->offs[v],
                      cb->offs[v + 1] - cb->offs[v]);
            putchar('\n');
        }
    }
    parquet_cursor_free(cur);
    return 0;
}

static int
cmd_check(struct parquet_reader *r)
{
    struct parquet_cursor *cur = NULL;
    struct tc_err err;
    struct parquet_row row;
    struct parquet_arena a;
    int eof = 0;
    int64_t n = 0;
    size_t peak = 0;

    tc_err_clear(&err);
    if (parquet_cursor_new(&cur, r, &err) != TC_OK)
        return fail("check", &err);
    parquet_arena_init(&a);
    for (;;) {
        struct parquet_val *v;
        if (parquet_cursor_next(cur, &row, &eof, &err) != TC_OK ||
            (!eof &&
             (parquet_arena_reset(&a),
              parquet_row_assemble(&row, parquet_reader_row_schema(r), &a, &v, &err)) != TC_OK)) {
            parquet_arena_cleanup(&a);
            parquet_cursor_free(cur);
            return fail("check", &err);
        }
        if (eof)
            break;
        if (parquet_cursor_mem(cur) > peak)
            peak = parquet_cursor_mem(cur);
        n++;
    }
    for (int g = 0; g < parquet_reader_meta(r)->nrowgroups; g++)
        for (int c = 0; c < parquet_reader_schema(r)->ncolumns; c++) {
            struct parquet_page_index pi;
            if (parquet_reader_meta(r)->rowgroups[g].cols[c].offset_index_offset < 0)
                continue;
            if (parquet_reader_page_index(r, g, c, &pi, &err) != TC_OK) {
                parquet_arena_cleanup(&a);
                parquet_cursor_free(cur);
                return fail("check", &err);
            }
            parquet_page_index_cleanup(&pi);
        }
    printf("rows=%" PRId64 " row_groups=%d columns=%d peak_rowgroup_bytes=%zu\n", n,
           parquet_reader_meta(r)->nrowgroups, parquet_reader_schema(r)->ncolumns, peak);
    parquet_arena_cleanup(&a);
    parquet_cursor_free(cur);
    return 0;
}

static int
cmd_copy(struct parquet_reader *r, const char *out, int vp4, uint64_t rg_bytes, uint64_t page_bytes,
         int force_enc, int force_codec)
{
    struct parquet_schema *schema = NULL;
    struct tc_err err;
    struct parquet_write_info info;
    int rc;

    tc_err_clear(&err);
    if (vp4)
        rc = vp4_schema_new(&schema, &err);
    else
        rc = parquet_schema_from_file(r, &schema, &err);
    /* --enc/--codec: one setting for every column (encoding coverage tests) */
    for (int c = 0; rc == TC_OK && c < schema->ncolumns; c++) {
        struct parquet_node *leaf = &schema->nodes[schema->columns[c]];
        if (force_enc >= 0)
            leaf->colenc = force_enc;
        if (force_codec >= 0)
            leaf->codec = force_codec;
    }
    if (rc == TC_OK && vp4 && vp4_is_v3_schema(parquet_reader_schema(r)))
        rc = vp4_convert_v3(r, schema, out, (size_t)rg_bytes, &info, &err);
    else if (rc == TC_OK)
        rc = parquet_copy_rows(r, schema, out, (size_t)rg_bytes, (size_t)page_bytes, &info, &err);
    parquet_schema_free(schema);
    if (rc != TC_OK)
        return fail("copy", &err);
    printf("rows=%" PRId64 " row_groups=%d file_size=%" PRIu64 " footer_size=%u\n", info.rows,
           info.row_groups, info.file_size, info.footer_size);
    return 0;
}

static int
cmd_gen(int argc, char **argv)
{
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct tc_err err;

    vp4_gen_opts_default(&o);
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    o.dir = argv[0];
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--tenant") == 0) {
            o.tenant = argv[++i];
            continue;
        }
        if (parse_u64(argv[i + 1], &v) != 0) {
            fprintf(stderr, "parquet gen: %s: bad number %s\n", argv[i], argv[i + 1]);
            return 2;
        }
        if (strcmp(argv[i], "--traces") == 0)
            o.traces = v;
        else if (strcmp(argv[i], "--seed") == 0)
            o.seed = v;
        else if (strcmp(argv[i], "--rg-bytes") == 0)
            o.row_group_bytes = (size_t)v;
        else if (strcmp(argv[i], "--spans") == 0 && v > 0 && v < 100000)
            o.max_spans = (int)v;
        else if (strcmp(argv[i], "--shared") == 0)
            o.shared = v;
        else if (strcmp(argv[i], "--shared-seed") == 0)
            o.shared_seed = v;
        else if (strcmp(argv[i], "--shared-same") == 0)
            o.shared_same = v != 0;
        else if (strcmp(argv[i], "--start") == 0)
            o.start_unix = v;
        else if (strcmp(argv[i], "--shared-start") == 0)
            o.shared_start = v;
        else if (strcmp(argv[i], "--span") == 0)
            o.span_seconds = v;
        else if (strcmp(argv[i], "--level") == 0 && v < 1000)
            o.compaction_level = (int)v;
        else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    tc_err_clear(&err);
    if (vp4_gen_block(&o, &res, &err) != TC_OK)
        return fail("gen", &err);
    printf("block=%s traces=%" PRIu64 " row_groups=%d size=%" PRIu64 " footer_size=%u\n",
           res.block_id, res.traces, res.row_groups, res.size, res.footer_size);
    return 0;
}

static int
cmd_split(int argc, char **argv)
{
    struct vp4_split_result res;
    struct backend *be;
    struct tc_err err;
    const char *tenant = "single-tenant";
    uint64_t parts = 3;
    int rc;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--tenant") == 0) {
            tenant = argv[++i];
        } else if (strcmp(argv[i], "--parts") == 0 && parse_u64(argv[i + 1], &parts) == 0) {
            i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    tc_err_clear(&err);
    if ((be = backend_local_new(argv[1], &err)) == NULL)
        return fail("split", &err);
    rc = vp4_split_block(argv[0], be, tenant, (int)parts, &res, &err);
    backend_free(be);
    if (rc != TC_OK)
        return fail("split", &err);
    for (int p = 0; p < res.parts; p++)
        printf("block=%s traces=%" PRIu64 "\n", res.block_id[p], res.objects[p]);
    printf("source_traces=%" PRIu64 " byte_equal=%" PRIu64 " differ=%" PRIu64 "\n", res.traces,
           res.same, res.differ);
    return 0;
}

static long
peak_rss_mb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

/* Snappy on the file's own bytes, 1 MiB blocks like page-sized inputs. */
static void
bench_snappy(const char *path, uint64_t size)
{
    enum { BLK = 1 << 20 };
    char *in = tc_malloc(BLK), *comp = tc_malloc(snappy_max_compressed_length(BLK)),
         *out = tc_malloc(BLK);
    double tc = 0, td = 0;
    uint64_t done = 0, clen = 0;
    int fd = open(path, O_RDONLY);

    if (!in || !comp || !out || fd < 0) {
        fprintf(stderr, "parquet bench: snappy: cannot set up\n");
        goto out;
    }
    while (done < size) {
        ssize_t n = pread(fd, in, BLK, (off_t)done);
        size_t cl = snappy_max_compressed_length(BLK), ul = BLK;
        double t0;
        if (n <= 0)
            break;
        t0 = tc_now();
        snappy_compress(in, (size_t)n, comp, &cl);
        tc += tc_now() - t0;
        t0 = tc_now();
        snappy_uncompress(comp, cl, out, &ul);
        td += tc_now() - t0;
        done += (uint64_t)n;
        clen += cl;
    }
    printf("snappy raw (same bytes): ratio %.3f, compress %.1f MB/s, decompress %.1f MB/s\n",
           clen ? (double)done / (double)clen : 0.0, tc > 0 ? (double)done / 1e6 / tc : 0.0,
           td > 0 ? (double)done / 1e6 / td : 0.0);
out:
    if (fd >= 0)
        close(fd);
    tc_free(in);
    tc_free(comp);
    tc_free(out);
}

static int
cmd_bench(struct parquet_reader *r, const char *path, const char *out)
{
    struct parquet_cursor *cur = NULL;
    struct parquet_writer *w = NULL;
    struct parquet_schema *schema = NULL;
    struct parquet_write_info info;
    struct tc_err err;
    struct parquet_row row;
    const struct parquet_filemeta *m = parquet_reader_meta(r);
    uint64_t unc = 0, values = 0;
    int64_t rows = 0;
    int eof = 0;
    double t0, tr, tw = 0;
    size_t peak_rg = 0;

    tc_err_clear(&err);
    for (int g = 0; g < m->nrowgroups; g++)
        unc += (uint64_t)m->rowgroups[g].total_byte_size;
    printf("file: %s %" PRIu64 " bytes, %" PRId64 " rows, %d row groups, %.1f MB uncompressed\n",
           path, parquet_reader_file_size(r), m->num_rows, m->nrowgroups, (double)unc / 1e6);
    if (parquet_cursor_new(&cur, r, &err) != TC_OK)
        return fail("bench", &err);
    t0 = tc_now();
    for (;;) {
        if (parquet_cursor_next(cur, &row, &eof, &err) != TC_OK) {
            parquet_cursor_free(cur);
            return fail("bench", &err);
        }
        if (eof)
            break;
        values += parquet_row_estimate_size(&row);
        if (parquet_cursor_mem(cur) > peak_rg)
            peak_rg = parquet_cursor_mem(cur);
        rows++;
    }
    tr = tc_now() - t0;
    parquet_cursor_free(cur);
    cur = NULL;
    printf("read: %.1f MB/s file bytes, %.1f MB/s uncompressed, %.0f rows/s, %" PRIu64
           " values, largest decoded row group %.1f MB, peak RSS %ld MB\n",
           (double)parquet_reader_file_size(r) / 1e6 / tr, (double)unc / 1e6 / tr,
           (double)rows / tr, values, (double)peak_rg / 1e6, peak_rss_mb());
    if (out) {
        if (parquet_schema_from_file(r, &schema, &err) != TC_OK ||
            parquet_cursor_new(&cur, r, &err) != TC_OK)
            goto fail;
        if (parquet_writer_open(&w, out, schema, NULL, &err) != TC_OK)
            goto fail;
        /* keep the input's row groups: flush where the input cut */
        for (int g = 0; g < m->nrowgroups; g++) {
            for (int64_t i = 0; i < m->rowgroups[g].num_rows; i++) {
                if (parquet_cursor_next(cur, &row, &eof, &err) != TC_OK || eof)
                    goto fail;
                t0 = tc_now();
                if (parquet_writer_write_row(w, &row, &err) != TC_OK)
                    goto fail;
                tw += tc_now() - t0;
            }
            t0 = tc_now();
            if (parquet_writer_flush(w, &err) != TC_OK)
                goto fail;
            tw += tc_now() - t0;
        }
        t0 = tc_now();
        if (parquet_writer_close(w, &info, &err) != TC_OK)
            goto fail;
        tw += tc_now() - t0;
        printf("write: %.1f MB/s file bytes, %.1f MB/s uncompressed, %d row groups, %" PRIu64
               " bytes, footer %u, peak RSS %ld MB\n",
               (double)info.file_size / 1e6 / tw, (double)unc / 1e6 / tw, info.row_groups,
               info.file_size, info.footer_size, peak_rss_mb());
        parquet_writer_free(w);
        parquet_cursor_free(cur);
        parquet_schema_free(schema);
    }
    bench_snappy(path, parquet_reader_file_size(r));
    return 0;
fail:
    parquet_writer_free(w);
    parquet_cursor_free(cur);
    parquet_schema_free(schema);
    return fail("bench", &err);
}

int
parquet_cli_main(int argc, char **argv)
{
    struct parquet_reader *r = NULL;
    struct tc_err err;
    const char *cmd;
    int rc, vp4 = 0, force_enc = -1, force_codec = -1;
    int64_t limit = -1;
    uint64_t rg_bytes = 0, page_bytes = 0;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    cmd = argv[1];
    if (strcmp(cmd, "gen") == 0)
        return cmd_gen(argc - 2, argv + 2);
    if (strcmp(cmd, "split") == 0)
        return cmd_split(argc - 2, argv + 2);
    if (argc < 3) {
        usage(stderr);
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        uint64_t v;
        if (strcmp(argv[i], "--vp4") == 0) {
            vp4 = 1;
        } else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc && parse_u64(argv[i + 1], &v) == 0) {
            limit = (int64_t)v;
            i++;
        } else if (strcmp(argv[i], "--rg-bytes") == 0 && i + 1 < argc &&
                   parse_u64(argv[i + 1], &v) == 0) {
            rg_bytes = v;
            i++;
        } else if (strcmp(argv[i], "--page-bytes") == 0 && i + 1 < argc &&
                   parse_u64(argv[i + 1], &v) == 0) {
            page_bytes = v;
            i++;
        } else if (strcmp(argv[i], "--enc") == 0 && i + 1 < argc) {
            static const char *const encs[] = {"default", "plain", "dict", "delta", "dlba", "dba"};
            for (int k = 0; k < (int)TC_ARRAY_LEN(encs); k++)
                if (strcmp(argv[i + 1], encs[k]) == 0)
                    force_enc = k;
            if (force_enc < 0) {
                usage(stderr);
                return 2;
            }
            i++;
        } else if (strcmp(argv[i], "--codec") == 0 && i + 1 < argc) {
            static const char *const codecs[] = {"none", "snappy", "gzip", "", "", "", "zstd"};
            for (int k = 0; k < (int)TC_ARRAY_LEN(codecs); k++)
                if (codecs[k][0] && strcmp(argv[i + 1], codecs[k]) == 0)
                    force_codec = k;
            if (force_codec < 0) {
                usage(stderr);
                return 2;
            }
            i++;
        } else if ((strcmp(cmd, "copy") == 0 || strcmp(cmd, "bench") == 0) && i == 3) {
            continue; /* the output path */
        } else {
            usage(stderr);
            return 2;
        }
    }
    tc_err_clear(&err);
    if (parquet_reader_open(&r, argv[2], &err) != TC_OK)
        return fail(cmd, &err);
    if (strcmp(cmd, "schema") == 0)
        rc = cmd_schema(r);
    else if (strcmp(cmd, "dump") == 0)
        rc = cmd_dump(r);
    else if (strcmp(cmd, "cat") == 0)
        rc = cmd_cat(r, limit, vp4);
    else if (strcmp(cmd, "ids") == 0)
        rc = cmd_ids(r);
    else if (strcmp(cmd, "spans") == 0)
        rc = cmd_spans(r);
    else if (strcmp(cmd, "check") == 0)
        rc = cmd_check(r);
    else if (strcmp(cmd, "bench") == 0)
        rc = cmd_bench(r, argv[2], argc >= 4 ? argv[3] : NULL);
    else if (strcmp(cmd, "copy") == 0 && argc >= 4)
        rc = cmd_copy(r, argv[3], vp4, rg_bytes, page_bytes, force_enc, force_codec);
    else {
        usage(stderr);
        rc = 2;
    }
    parquet_reader_free(r);
    fflush(stdout);
    return rc;
}
