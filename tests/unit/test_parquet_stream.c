/*
 * test_parquet_stream.c - the page-streaming cursor and the page-spooling
 * writer.
 *
 * The cursor is checked against parquet_reader_read_rowgroup(), which decodes
 * a whole row group at once: both must give the same rows (levels and values
 * of every column) over files with many pages, nested and repeated columns,
 * dictionaries, several and empty row groups, a column whose pages are much
 * bigger than the others', projections that synthesize missing columns, and
 * Tempo's own blocks. The writer is checked for its row-group cut points
 * (Tempo's estimate, computed here independently) and its page indexes. The
 * memory case copies a file of one big row group in a child process and
 * bounds the child's peak RSS far below the row group's decoded size.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include "parquet/parquet.h"
#include "parquet/parquet_int.h"
#include "tempo/vp4.h"
#include "test.h"
#include "tools/tools.h"

#define BIG_VALUE 30000 /* bytes of a value of column "big" */

/* ---- a small nested schema ---- */

static struct parquet_schema *
mk_schema(int extra)
{
    struct parquet_schema_builder *sb = parquet_sb_new("root");
    struct parquet_schema *s;
    struct tc_err err;

    parquet_sb_leaf(sb, "id", PARQUET_REQUIRED, PARQUET_BYTE_ARRAY, PARQUET_CT_NONE,
                    PARQUET_COLENC_PLAIN, PARQUET_SNAPPY);
    if (extra)
        parquet_sb_leaf(sb, "extra", PARQUET_REQUIRED, PARQUET_INT64, PARQUET_CT_NONE,
                        PARQUET_COLENC_DELTA, PARQUET_SNAPPY);
    if (extra != 2)
        parquet_sb_leaf(sb, "big", PARQUET_OPTIONAL, PARQUET_BYTE_ARRAY, PARQUET_CT_UTF8,
                        PARQUET_COLENC_DEFAULT, PARQUET_SNAPPY);
    parquet_sb_leaf(sb, "kind", PARQUET_OPTIONAL, PARQUET_BYTE_ARRAY, PARQUET_CT_UTF8,
                    PARQUET_COLENC_DICT, PARQUET_ZSTD);
    parquet_sb_group(sb, "nums", PARQUET_OPTIONAL, PARQUET_CT_LIST);
    parquet_sb_group(sb, "list", PARQUET_REPEATED, PARQUET_CT_NONE);
    if (extra != 2)
        parquet_sb_leaf(sb, "element", PARQUET_REQUIRED, PARQUET_INT64, PARQUET_CT_NONE,
                        PARQUET_COLENC_DELTA, PARQUET_SNAPPY);
    if (extra == 2)
        parquet_sb_leaf(sb, "other", PARQUET_REQUIRED, PARQUET_INT32, PARQUET_CT_NONE,
                        PARQUET_COLENC_PLAIN, PARQUET_SNAPPY);
    parquet_sb_end(sb);
    parquet_sb_end(sb);
    ASSERT_OK(parquet_sb_build(sb, &s, &err));
    return s;
}

/* Row i: id = 8 bytes big-endian i; big = BIG_VALUE bytes, null every third
 * row; kind = one of 3 strings or null; nums = i % 5 elements (0: empty). */
static void
mk_row(struct parquet_rowset *rs, const struct parquet_schema *s, uint64_t i)
{
    static uint8_t big[BIG_VALUE];
    static const char *kinds[] = {"server", "client", "internal"};
    uint8_t id[8];
    int cid = parquet_schema_find(s, "id"), cbig = parquet_schema_find(s, "big");
    int ckind = parquet_schema_find(s, "kind");
    int cnum = parquet_schema_find(s, "nums.list.element");

    for (int k = 0; k < 8; k++)
        id[k] = (uint8_t)(i >> (56 - 8 * k));
    ASSERT_OK(parquet_colbuf_push(&rs->cols[cid], 0, 0, 1, id, 8));
    memset(big, 'a' + (int)(i % 26), sizeof(big));
    memcpy(big, id, 8);
    if (i % 3 == 2)
        ASSERT_OK(parquet_colbuf_push(&rs->cols[cbig], 0, 0, 0, NULL, 0));
    else
        ASSERT_OK(parquet_colbuf_push(&rs->cols[cbig], 0, 1, 1, big, sizeof(big)));
    if (i % 4 == 3)
        ASSERT_OK(parquet_colbuf_push(&rs->cols[ckind], 0, 0, 0, NULL, 0));
    else
        ASSERT_OK(
            parquet_colbuf_push(&rs->cols[ckind], 0, 1, 1, kinds[i % 3], strlen(kinds[i % 3])));
    if (i % 5 == 0) {
        ASSERT_OK(parquet_colbuf_push(&rs->cols[cnum], 0, 1, 0, NULL, 0));
    } else {
        for (uint64_t k = 0; k < i % 5; k++) {
            int64_t v = (int64_t)(i * 1000 + k);
            ASSERT_OK(parquet_colbuf_push(&rs->cols[cnum], k ? 1 : 0, 2, 1, &v, 8));
        }
    }
    rs->nrows++;
}

/* Writes rows [0, n) of mk_row; returns the Tempo estimates per row in est. */
static void
write_rows(const char *path, uint64_t n, size_t rg_bytes, size_t page_bytes, size_t *est)
{
    struct parquet_schema *s = mk_schema(0);
    struct parquet_writer_opts o;
    struct parquet_writer *w;
    struct parquet_rowset rs;
    struct parquet_rowiter it;
    struct parquet_row row;
    struct parquet_write_info info;
    struct tc_err err;

    memset(&o, 0, sizeof(o));
    o.row_group_bytes = rg_bytes;
    o.page_bytes = page_bytes;
    ASSERT_OK(parquet_writer_open(&w, path, s, &o, &err));
    ASSERT_OK(parquet_rowset_init(&rs, s));
    for (uint64_t i = 0; i < n; i++) {
        parquet_rowset_reset(&rs);
        mk_row(&rs, s, i);
        ASSERT_OK(parquet_rowiter_init(&it, &rs));
        ASSERT(parquet_rowiter_next(&it, &row));
        if (est)
            est[i] = parquet_row_estimate_size(&row);
        ASSERT_OK(parquet_writer_write_row(w, &row, &err));
        parquet_rowiter_cleanup(&it);
    }
    ASSERT_OK(parquet_writer_close(w, &info, &err));
    ASSERT_EQ(info.rows, (int64_t)n);
    parquet_writer_free(w);
    parquet_rowset_cleanup(&rs);
    parquet_schema_free(s);
}

/* ---- the cursor against read_rowgroup ---- */

/* Every row of b's cursor equals the same row of a's row groups; returns the
 * number of rows. a and b are readers of the same file, projected alike. */
static int64_t
same_rows(struct parquet_reader *a, struct parquet_reader *b)
{
    const struct parquet_filemeta *m = parquet_reader_meta(a);
    struct parquet_rowset rs;
    struct parquet_cursor *c;
    struct parquet_row x, y;
    struct tc_err err;
    int64_t rows = 0;
    int eof = 0;

    ASSERT_OK(parquet_rowset_init(&rs, parquet_reader_row_schema(a)));
    ASSERT_OK(parquet_cursor_new(&c, b, &err));
    for (int g = 0; g < m->nrowgroups; g++) {
        struct parquet_rowiter it;
        ASSERT_OK(parquet_reader_read_rowgroup(a, g, &rs, &err));
        ASSERT_OK(parquet_rowiter_init(&it, &rs));
        while (parquet_rowiter_next(&it, &x)) {
            if (parquet_cursor_next(c, &y, &eof, &err) != TC_OK)
                TEST_FAIL_("cursor: %s", err.msg);
            ASSERT(!eof);
            ASSERT_EQ(y.ncols, x.ncols);
            if (!parquet_row_equal(&x, &y))
                TEST_FAIL_("row %lld (row group %d) differs", (long long)rows, g);
            rows++;
        }
        parquet_rowiter_cleanup(&it);
    }
    ASSERT_OK(parquet_cursor_next(c, &y, &eof, &err));
    ASSERT(eof);
    ASSERT_EQ(rows, m->num_rows);
    parquet_cursor_free(c);
    parquet_rowset_cleanup(&rs);
    return rows;
}

/* A byte source over a memory image that counts its reads. */
struct memsrc {
    const uint8_t *p;
    size_t len;
    int reads;
    size_t max_read;
};

static int
memsrc_read(void *ctx, uint64_t off, void *dst, size_t len, struct tc_err *err)
{
    struct memsrc *m = ctx;

    if (off + len > m->len)
        return tc_err_set(err, TC_IO, "memsrc: read past end");
    memcpy(dst, m->p + off, len);
    m->reads++;
    if (len > m->max_read)
        m->max_read = len;
    return TC_OK;
}

/* Compares cursor and row groups over the file at path through a file
 * reader, a memory image and a byte source, each projected onto target. */
static int64_t
same_rows_everywhere(const char *path, const struct parquet_schema *target, struct memsrc *ms)
{
    struct parquet_reader *a, *b;
    struct parquet_source src;
    struct tc_err err;
    size_t len;
    char *img = test_slurp(path, &len);
    int64_t rows;

    ASSERT_OK(parquet_reader_open(&a, path, &err));
    ASSERT_OK(parquet_reader_open(&b, path, &err));
    ASSERT_OK(parquet_reader_project(a, target, &err));
    ASSERT_OK(parquet_reader_project(b, target, &err));
    rows = same_rows(a, b);
    parquet_reader_free(b);
    ASSERT_OK(parquet_reader_open_mem(&b, img, len, &err));
    ASSERT_OK(parquet_reader_project(b, target, &err));
    ASSERT_EQ(same_rows(a, b), rows);
    parquet_reader_free(b);
    memset(ms, 0, sizeof(*ms));
    ms->p = (const uint8_t *)img;
    ms->len = len;
    src.read_at = memsrc_read;
    src.ctx = ms;
    src.size = len;
    ASSERT_OK(parquet_reader_open_source(&b, &src, "memsrc", &err));
    ASSERT_OK(parquet_reader_project(b, target, &err));
    ASSERT_EQ(same_rows(a, b), rows);
    parquet_reader_free(b);
    parquet_reader_free(a);
    tc_free(img);
    return rows;
}

static int
npages(struct parquet_reader *r, int rg, int col)
{
    struct parquet_page_index pi;
    struct tc_err err;
    int n;

    ASSERT_OK(parquet_reader_page_index(r, rg, col, &pi, &err));
    n = pi.npages;
    parquet_page_index_cleanup(&pi);
    return n;
}

/* Generated vParquet4 rows (nested, repeated, dictionary columns) rewritten
 * into many small pages and row groups. */
TEST(cursor_equals_rowgroups_vp4_many_pages)
{
    const char *dir = test_tmpdir();
    struct vp4_gen_opts o;
    struct vp4_gen_result res;
    struct parquet_schema *s;
    struct parquet_reader *r;
    struct parquet_write_info info;
    struct memsrc ms;
    struct tc_err err;
    char gdir[600], in[700], out[700];
    int dict = 0, maxpages = 0;

    snprintf(gdir, sizeof(gdir), "%s/gen", dir);
    vp4_gen_opts_default(&o);
    o.dir = gdir;
    o.tenant = "t";
    o.traces = 300;
    o.seed = 5;
    o.max_spans = 8;
    o.row_group_bytes = 1000000000;
    ASSERT_OK(vp4_gen_block(&o, &res, &err));
    snprintf(in, sizeof(in), "%s/data.parquet", gdir);
    snprintf(out, sizeof(out), "%s/small-pages.parquet", dir);
    ASSERT_OK(vp4_schema_new(&s, &err));
    ASSERT_OK(parquet_reader_open(&r, in, &err));
    ASSERT_OK(parquet_copy_rows(r, s, out, 6000, 64, &info, &err));
    parquet_reader_free(r);
    ASSERT_GE(info.row_groups, 3);
    ASSERT_OK(parquet_reader_open(&r, out, &err));
    for (int c = 0; c < parquet_reader_schema(r)->ncolumns; c++) {
        int n = npages(r, 0, c);
        if (n > maxpages)
            maxpages = n;
        dict += parquet_reader_meta(r)->rowgroups[0].cols[c].dictionary_page_offset >= 0;
    }
    parquet_reader_free(r);
    ASSERT_GE(maxpages, 8);
    ASSERT_GT(dict, 0);
    ASSERT_EQ(same_rows_everywhere(out, NULL, &ms), 300);
    ASSERT_EQ(same_rows_everywhere(out, s, &ms), 300);
    ASSERT_GT(ms.reads, 0);
    parquet_schema_free(s);
}

/* "big" pages hold one 30 kB value each, "nums" pages hundreds of rows. */
TEST(cursor_equals_rowgroups_big_and_small_pages)
{
    const char *dir = test_tmpdir();
    struct parquet_reader *r;
    struct memsrc ms;
    struct tc_err err;
    char path[600];
    int cbig, cnum;

    snprintf(path, sizeof(path), "%s/x.parquet", dir);
    write_rows(path, 400, 1000, 2048, NULL);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    ASSERT_GE(parquet_reader_meta(r)->nrowgroups, 2);
    cbig = parquet_schema_find(parquet_reader_schema(r), "big");
    cnum = parquet_schema_find(parquet_reader_schema(r), "nums.list.element");
    ASSERT_GE(npages(r, 0, cbig), 5 * npages(r, 0, cnum));
    parquet_reader_free(r);
    ASSERT_EQ(same_rows_everywhere(path, NULL, &ms), 400);
    /* the source is read in bounded pieces, not one row group at a time */
    ASSERT_LE(ms.max_read, (size_t)1 << 20);
}

/* Missing target columns are synthesized row by row: "extra" from a column
 * of the target, "nums.list.other" from a file column the target lacks. */
TEST(cursor_equals_rowgroups_projected)
{
    const char *dir = test_tmpdir();
    struct parquet_schema *t1 = mk_schema(1), *t2 = mk_schema(2);
    struct memsrc ms;
    char path[600];

    snprintf(path, sizeof(path), "%s/x.parquet", dir);
    write_rows(path, 120, 800, 4096, NULL);
    ASSERT_EQ(same_rows_everywhere(path, t1, &ms), 120);
    ASSERT_EQ(same_rows_everywhere(path, t2, &ms), 120);
    parquet_schema_free(t1);
    parquet_schema_free(t2);
}

/* Empty row groups (0 rows, empty chunks), as other writers leave them. */
TEST(cursor_skips_empty_rowgroups)
{
    const char *dir = test_tmpdir();
    struct parquet_filemeta *m;
    struct parquet_schema *s;
    struct parquet_rowgroup_meta *rgs;
    struct tc_err err;
    struct buf f;
    struct memsrc ms;
    char path[600], path2[600];
    size_t len;
    uint8_t *img;
    uint32_t flen;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/x.parquet", dir);
    snprintf(path2, sizeof(path2), "%s/y.parquet", dir);
    write_rows(path, 60, 100, 4096, NULL);
    img = (uint8_t *)test_slurp(path, &len);
    memcpy(&flen, img + len - 8, 4);
    ASSERT_OK(parquet_footer_parse(img + len - 8 - flen, flen, &m, &s, &err));
    ASSERT_GE(m->nrowgroups, 2);
    /* empty row groups first, between and last */
    rgs = tc_calloc((size_t)m->nrowgroups * 2 + 1, sizeof(*rgs));
    ASSERT(rgs != NULL);
    for (int g = 0, k = 0; g <= m->nrowgroups; g++) {
        struct parquet_rowgroup_meta *e = &rgs[k++];
        const struct parquet_rowgroup_meta *src = &m->rowgroups[0];
        e->ncols = src->ncols;
        e->cols = tc_calloc((size_t)src->ncols, sizeof(*e->cols));
        ASSERT(e->cols != NULL);
        for (int c = 0; c < src->ncols; c++) {
            struct parquet_chunk_meta *cm = &e->cols[c];
            cm->type = src->cols[c].type;
            cm->codec = src->cols[c].codec;
            cm->path = tc_strdup(src->cols[c].path);
            cm->encodings = tc_calloc(1, sizeof(int));
            cm->nencodings = 1;
            cm->data_page_offset = 4;
            cm->dictionary_page_offset = cm->column_index_offset = cm->offset_index_offset = -1;
            cm->stats.null_count = -1;
        }
        if (g < m->nrowgroups)
            rgs[k++] = m->rowgroups[g];
    }
    tc_free(m->rowgroups);
    m->rowgroups = rgs;
    m->nrowgroups = m->nrowgroups * 2 + 1;
    buf_init(&f, (size_t)1 << 30);
    ASSERT_OK(parquet_footer_write(&f, s, m));
    fp = fopen(path2, "wb");
    ASSERT(fp != NULL);
    ASSERT_EQ(fwrite(img, 1, len - 8 - flen, fp), len - 8 - flen);
    ASSERT_EQ(fwrite(f.data, 1, f.len, fp), f.len);
    flen = (uint32_t)f.len;
    ASSERT_EQ(fwrite(&flen, 1, 4, fp), 4);
    ASSERT_EQ(fwrite("PAR1", 1, 4, fp), 4);
    ASSERT_OK(fclose(fp));
    buf_cleanup(&f);
    ASSERT_EQ(same_rows_everywhere(path2, NULL, &ms), 60);
    parquet_filemeta_free(m);
    parquet_schema_free(s);
    tc_free(img);
}

/* A page header overwritten with garbage mid-chunk: an error naming the
 * column and the page, never a crash or a short row set. */
TEST(cursor_corrupt_page_header_names_column)
{
    const char *dir = test_tmpdir();
    struct parquet_reader *r;
    struct parquet_page_index pi;
    struct parquet_cursor *c;
    struct parquet_row row;
    struct tc_err err;
    char path[600];
    size_t len;
    uint8_t *img;
    int cbig, eof = 0, rc = TC_OK;
    int64_t rows = 0;

    snprintf(path, sizeof(path), "%s/x.parquet", dir);
    write_rows(path, 50, 100000, 2048, NULL);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    cbig = parquet_schema_find(parquet_reader_schema(r), "big");
    ASSERT_OK(parquet_reader_page_index(r, 0, cbig, &pi, &err));
    ASSERT_GE(pi.npages, 10);
    img = (uint8_t *)test_slurp(path, &len);
    memset(img + pi.locs[5].offset, 0xff, 8);
    parquet_page_index_cleanup(&pi);
    parquet_reader_free(r);
    ASSERT_OK(parquet_reader_open_mem(&r, img, len, &err));
    ASSERT_OK(parquet_cursor_new(&c, r, &err));
    while (rc == TC_OK && !eof) {
        rc = parquet_cursor_next(c, &row, &eof, &err);
        rows += rc == TC_OK && !eof;
    }
    ASSERT_EQ(rc, TC_CORRUPT);
    ASSERT_STR_CONTAINS(err.msg, "column big");
    ASSERT_STR_CONTAINS(err.msg, "page header");
    ASSERT_LT(rows, 50);
    parquet_cursor_free(c);
    parquet_reader_free(r);
    tc_free(img);
}

/* Tempo's own blocks, as files and projected onto our vParquet4 schema. */
TEST(cursor_equals_rowgroups_tempo_blocks)
{
    TEST_NEED_SHARED(shared);
    const char *versions[] = {"vParquet3", "vParquet4"};
    struct parquet_schema *s;
    struct memsrc ms;
    struct tc_err err;

    ASSERT_OK(vp4_schema_new(&s, &err));
    for (size_t v = 0; v < TC_ARRAY_LEN(versions); v++) {
        char path[1200];
        snprintf(path, sizeof(path),
                 "%s/testdata/tempo-blocks/%s/single-tenant/b27b0e53-66a0-4505-afd6-434ae3cd4a10/"
                 "data.parquet",
                 shared, versions[v]);
        ASSERT_GT(same_rows_everywhere(path, NULL, &ms), 0);
        ASSERT_GT(same_rows_everywhere(path, s, &ms), 0);
    }
    parquet_schema_free(s);
}

/* ---- the writer ---- */

/* Row groups are cut where Tempo's estimate says, and each chunk's offset
 * index lists contiguous pages from the data page offset, first rows rising;
 * the column index has one entry per page with the pages' bounds. */
TEST(writer_cut_points_and_page_index)
{
    const char *dir = test_tmpdir();
    const size_t rg_bytes = 700;
    struct parquet_reader *r;
    const struct parquet_filemeta *m;
    struct tc_err err;
    char path[600];
    size_t est[300], acc = 0;
    int64_t want[300];
    int nwant = 0, cid, cbig;
    int64_t in_group = 0;

    snprintf(path, sizeof(path), "%s/x.parquet", dir);
    write_rows(path, 300, rg_bytes, 2048, est);
    /* the cut rule: before a row that would pass the target, or after one that did */
    for (int i = 0; i < 300; i++) {
        if (in_group > 0 && acc + est[i] > rg_bytes) {
            want[nwant++] = in_group;
            in_group = 0;
            acc = 0;
        }
        in_group++;
        acc += est[i];
        if (acc > rg_bytes) {
            want[nwant++] = in_group;
            in_group = 0;
            acc = 0;
        }
    }
    if (in_group)
        want[nwant++] = in_group;
    ASSERT_GE(nwant, 3);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    m = parquet_reader_meta(r);
    ASSERT_EQ(m->nrowgroups, nwant);
    for (int g = 0; g < nwant; g++)
        ASSERT_EQ(m->rowgroups[g].num_rows, want[g]);
    cid = parquet_schema_find(parquet_reader_schema(r), "id");
    cbig = parquet_schema_find(parquet_reader_schema(r), "big");
    for (int g = 0, row0 = 0; g < m->nrowgroups; g++) {
        for (int c = 0; c < m->rowgroups[g].ncols; c++) {
            const struct parquet_chunk_meta *cm = &m->rowgroups[g].cols[c];
            struct parquet_page_index pi;
            ASSERT_OK(parquet_reader_page_index(r, g, c, &pi, &err));
            ASSERT(pi.has_column_index);
            ASSERT_GE(pi.npages, 1);
            ASSERT_EQ(pi.locs[0].offset, cm->data_page_offset);
            ASSERT_EQ(pi.locs[0].first_row, 0);
            for (int i = 1; i < pi.npages; i++) {
                ASSERT_EQ(pi.locs[i].offset,
                          pi.locs[i - 1].offset + pi.locs[i - 1].compressed_size);
                ASSERT_GT(pi.locs[i].first_row, pi.locs[i - 1].first_row);
            }
            {
                int64_t start = cm->dictionary_page_offset >= 0 ? cm->dictionary_page_offset
                                                                : cm->data_page_offset;
                const struct parquet_page_loc *last = &pi.locs[pi.npages - 1];
                ASSERT_EQ(last->offset + last->compressed_size, start + cm->total_compressed);
            }
            if (c == cid) {
                /* ids ascend: a page's bounds are its first and last row's ids */
                for (int i = 0; i < pi.npages; i++) {
                    uint64_t lo = 0, hi = 0;
                    int64_t first = pi.locs[i].first_row;
                    int64_t end =
                        i + 1 < pi.npages ? pi.locs[i + 1].first_row : m->rowgroups[g].num_rows;
                    ASSERT_EQ(pi.bounds[i].min_len, 8);
                    for (int k = 0; k < 8; k++) {
                        lo = lo << 8 | pi.bounds[i].min[k];
                        hi = hi << 8 | pi.bounds[i].max[k];
                    }
                    ASSERT_U64_EQ(lo, (uint64_t)(row0 + first));
                    ASSERT_U64_EQ(hi, (uint64_t)(row0 + end - 1));
                }
                ASSERT_EQ(pi.boundary_order, 1);
            }
            if (c == cbig) {
                /* a 30 kB value ends its page: a null page is a run of null rows */
                for (int i = 0; i < pi.npages; i++) {
                    int64_t end =
                        i + 1 < pi.npages ? pi.locs[i + 1].first_row : m->rowgroups[g].num_rows;
                    int values = 0;
                    for (int64_t k = pi.locs[i].first_row; k < end; k++)
                        values += (row0 + k) % 3 != 2;
                    ASSERT_LE(values, 1);
                    ASSERT_EQ(pi.null_pages[i], values == 0);
                    ASSERT_EQ(pi.null_counts[i], end - pi.locs[i].first_row - values);
                }
            }
            parquet_page_index_cleanup(&pi);
        }
        row0 += (int)m->rowgroups[g].num_rows;
    }
    parquet_reader_free(r);
}

/* ---- memory ---- */

/* Peak RSS (KiB) of a child running fn(arg); the child exits 0 on success. */
static long
child_peak_kb(void (*fn)(const char *, const char *), const char *a, const char *b)
{
    struct rusage ru;
    int status;
    pid_t pid = fork();

    ASSERT(pid >= 0);
    if (pid == 0) {
        fn(a, b);
        _exit(0);
    }
    ASSERT_EQ(wait4(pid, &status, 0, &ru), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    return ru.ru_maxrss;
}

static void
do_write(const char *path, const char *unused)
{
    (void)unused;
    write_rows(path, 6000, (size_t)1 << 40, 0, NULL);
}

static void
do_copy(const char *in, const char *out)
{
    struct parquet_reader *r;
    struct parquet_write_info info;
    struct tc_err err;
    struct parquet_schema *s = mk_schema(0);

    if (parquet_reader_open(&r, in, &err) != TC_OK ||
        parquet_copy_rows(r, s, out, (size_t)1 << 40, 0, &info, &err) != TC_OK) {
        fprintf(stdout, "# copy: %s\n", err.msg);
        _exit(1);
    }
    if (info.row_groups != 1)
        _exit(2);
    parquet_reader_free(r);
    parquet_schema_free(s);
}

/* One row group of ~120 MB decoded: writing it and copying it row by row
 * (cursor + writer) peak far below that, as pages stream both ways. */
TEST(copy_of_one_big_rowgroup_stays_small)
{
    const char *dir = test_tmpdir();
    struct parquet_reader *r;
    struct parquet_rowset rs;
    struct tc_err err;
    char in[600], out[600];
    size_t decoded = 0;
    long wkb, ckb;

    snprintf(in, sizeof(in), "%s/in.parquet", dir);
    snprintf(out, sizeof(out), "%s/out.parquet", dir);
    wkb = child_peak_kb(do_write, in, NULL);
    ckb = child_peak_kb(do_copy, in, out);
    ASSERT_OK(parquet_reader_open(&r, in, &err));
    ASSERT_EQ(parquet_reader_meta(r)->nrowgroups, 1);
    ASSERT_OK(parquet_rowset_init(&rs, parquet_reader_schema(r)));
    ASSERT_OK(parquet_reader_read_rowgroup(r, 0, &rs, &err));
    for (int c = 0; c < rs.ncols; c++)
        decoded += rs.cols[c].dlen + rs.cols[c].n * 2 + rs.cols[c].nv * 8;
    parquet_rowset_cleanup(&rs);
    parquet_reader_free(r);
    printf("# decoded row group %.1f MB; peak RSS: write %.1f MB, copy %.1f MB\n", decoded / 1e6,
           wkb / 1024.0, ckb / 1024.0);
    ASSERT_GT(decoded, (size_t)100 << 20);
    ASSERT_LT((size_t)wkb * 1024, decoded / 4);
    ASSERT_LT((size_t)ckb * 1024, decoded / 4);
}

/* Writes the one row rs holds, as the merge writes its rows one by one. */
static void
write_rs_row(struct parquet_writer *w, struct parquet_rowset *rs)
{
    struct parquet_rowiter it;
    struct parquet_row row;
    struct tc_err err;

    rs->nrows++;
    ASSERT_OK(parquet_rowiter_init(&it, rs));
    ASSERT(parquet_rowiter_next(&it, &row));
    ASSERT_OK(parquet_writer_write_row(w, &row, &err));
    parquet_rowiter_cleanup(&it);
}

/* A file of one required, dictionary-encoded BYTE_ARRAY column, its pages
 * cut at page_bytes and its row groups at rg_bytes (0: the default):
 * col_open, col_put per row, col_close. */
struct colw {
    struct parquet_schema *s;
    struct parquet_writer *w;
    struct parquet_rowset rs;
};

static struct parquet_schema *
col_schema(int conv)
{
    struct parquet_schema_builder *sb = parquet_sb_new("root");
    struct parquet_schema *s;
    struct tc_err err;

    parquet_sb_leaf(sb, "v", PARQUET_REQUIRED, PARQUET_BYTE_ARRAY, conv, PARQUET_COLENC_DICT,
                    PARQUET_SNAPPY);
    ASSERT_OK(parquet_sb_build(sb, &s, &err));
    return s;
}

static void
col_open(struct colw *c, const char *path, int conv, size_t page_bytes, size_t rg_bytes)
{
    struct parquet_writer_opts o;
    struct tc_err err;

    c->s = col_schema(conv);
    memset(&o, 0, sizeof(o));
    o.page_bytes = page_bytes;
    o.row_group_bytes = rg_bytes;
    ASSERT_OK(parquet_writer_open(&c->w, path, c->s, &o, &err));
    ASSERT_OK(parquet_rowset_init(&c->rs, c->s));
}

static void
col_put(struct colw *c, const void *v, size_t len)
{
    parquet_rowset_reset(&c->rs);
    ASSERT_OK(parquet_colbuf_push(&c->rs.cols[0], 0, 0, 1, v, len));
    write_rs_row(c->w, &c->rs);
}

static void
col_close(struct colw *c)
{
    struct parquet_write_info info;
    struct tc_err err;

    ASSERT_OK(parquet_writer_close(c->w, &info, &err));
    parquet_writer_free(c->w);
    parquet_rowset_cleanup(&c->rs);
    parquet_schema_free(c->s);
}

/* Chunk bounds of integer columns: signed columns order negatives first,
 * UINT_32/UINT_64 columns order them last (their high bit set). */
TEST(writer_integer_bounds_follow_signedness)
{
    static const int64_t v64[] = {5, -3, 7, INT64_MIN + 1, 0, INT64_MAX - 1, -1};
    static const int32_t v32[] = {5, -3, 7, INT32_MIN + 1, 0, INT32_MAX - 1, -1};
    struct parquet_schema_builder *sb = parquet_sb_new("root");
    struct parquet_schema *s;
    struct parquet_writer_opts o;
    struct parquet_writer *w;
    struct parquet_rowset rs;
    struct parquet_write_info info;
    struct parquet_reader *r;
    const struct parquet_filemeta *m;
    struct tc_err err;
    char path[600];
    int64_t x64;
    int32_t x32;

    parquet_sb_leaf(sb, "s64", PARQUET_REQUIRED, PARQUET_INT64, PARQUET_CT_NONE,
                    PARQUET_COLENC_PLAIN, PARQUET_SNAPPY);
    parquet_sb_leaf(sb, "u64", PARQUET_REQUIRED, PARQUET_INT64, PARQUET_CT_UINT_64,
                    PARQUET_COLENC_PLAIN, PARQUET_SNAPPY);
    parquet_sb_leaf(sb, "s32", PARQUET_REQUIRED, PARQUET_INT32, PARQUET_CT_NONE,
                    PARQUET_COLENC_PLAIN, PARQUET_SNAPPY);
    parquet_sb_leaf(sb, "u32", PARQUET_REQUIRED, PARQUET_INT32, PARQUET_CT_UINT_32,
                    PARQUET_COLENC_PLAIN, PARQUET_SNAPPY);
    ASSERT_OK(parquet_sb_build(sb, &s, &err));
    snprintf(path, sizeof(path), "%s/ints.parquet", test_tmpdir());
    memset(&o, 0, sizeof(o));
    ASSERT_OK(parquet_writer_open(&w, path, s, &o, &err));
    ASSERT_OK(parquet_rowset_init(&rs, s));
    for (size_t i = 0; i < TC_ARRAY_LEN(v64); i++) {
        parquet_rowset_reset(&rs);
        for (int c = 0; c < 2; c++)
            ASSERT_OK(parquet_colbuf_push(&rs.cols[c], 0, 0, 1, &v64[i], 8));
        for (int c = 2; c < 4; c++)
            ASSERT_OK(parquet_colbuf_push(&rs.cols[c], 0, 0, 1, &v32[i], 4));
        write_rs_row(w, &rs);
    }
    ASSERT_OK(parquet_writer_close(w, &info, &err));
    parquet_writer_free(w);
    parquet_rowset_cleanup(&rs);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    m = parquet_reader_meta(r);
    ASSERT_EQ(m->nrowgroups, 1);
    for (int c = 0; c < 4; c++)
        ASSERT(m->rowgroups[0].cols[c].stats.has_min && m->rowgroups[0].cols[c].stats.has_max);
    /* the bounds as int64, sign-extended from 32 bits for the INT32 columns */
    for (int c = 0; c < 4; c++) {
        static const int64_t want[4][2] = {{INT64_MIN + 1, INT64_MAX - 1},
                                           {0, -1}, /* 2^64 - 1 unsigned */
                                           {INT32_MIN + 1, INT32_MAX - 1},
                                           {0, -1}}; /* 2^32 - 1 unsigned */
        const struct parquet_stats *st = &m->rowgroups[0].cols[c].stats;
        if (c < 2) {
            memcpy(&x64, st->min, 8);
            ASSERT_EQ(x64, want[c][0]);
            memcpy(&x64, st->max, 8);
            ASSERT_EQ(x64, want[c][1]);
        } else {
            memcpy(&x32, st->min, 4);
            ASSERT_EQ(x32, want[c][0]);
            memcpy(&x32, st->max, 4);
            ASSERT_EQ(x32, want[c][1]);
        }
    }
    parquet_reader_free(r);
    parquet_schema_free(s);
}

/* Page bounds of a dictionary-encoded column (taken from the page's
 * distinct values) equal a scan of the page's values: strings drawn from a
 * small set in a scrambled order, so values repeat within and across pages
 * and each page's bounds differ. Checked against the rows at the page's
 * first_row boundaries in the offset index. */
TEST(writer_dictionary_page_bounds_match_a_scan)
{
    enum { NROWS = 3000, NWORDS = 40 };
    char words[NWORDS][8];
    struct colw cw;
    struct parquet_reader *r;
    const struct parquet_filemeta *m;
    struct tc_err err;
    char path[600];
    int pick[NROWS], set[3] = {0, 0, 0}, pages = 0;
    uint32_t x = 12345;

    /* lexical order unrelated to k, some a prefix of another ("" and "c") */
    for (int k = 0; k < NWORDS; k++) {
        if (k % 20 == 19)
            words[k][0] = '\0';
        else if (k % 10 == 4)
            snprintf(words[k], sizeof(words[k]), "%c", 'a' + (k * 11) % 26);
        else
            snprintf(words[k], sizeof(words[k]), "%c%02d", 'a' + (k * 11) % 26, k);
    }
    snprintf(path, sizeof(path), "%s/dict.parquet", test_tmpdir());
    col_open(&cw, path, PARQUET_CT_UTF8, 300, 0); /* ~40 rows a page */
    for (int i = 0; i < NROWS; i++) {
        /* 3 random words per 37 rows: pages see different subsets, two
         * of a page's few values are its bounds, values repeat within and
         * across pages, and every word is a bound somewhere */
        if (i % 37 == 0)
            for (int k = 0; k < 3; k++) {
                x = x * 1103515245u + 12345u;
                set[k] = (int)((x >> 16) % NWORDS);
            }
        x = x * 1103515245u + 12345u;
        pick[i] = set[(x >> 16) % 3];
        col_put(&cw, words[pick[i]], strlen(words[pick[i]]));
    }
    col_close(&cw);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    m = parquet_reader_meta(r);
    for (int g = 0, row0 = 0; g < m->nrowgroups; g++) {
        struct parquet_page_index pi;
        ASSERT_OK(parquet_reader_page_index(r, g, 0, &pi, &err));
        ASSERT(pi.has_column_index);
        for (int i = 0; i < pi.npages; i++) {
            int64_t end = i + 1 < pi.npages ? pi.locs[i + 1].first_row : m->rowgroups[g].num_rows;
            const char *lo = NULL, *hi = NULL;
            for (int64_t k = pi.locs[i].first_row; k < end; k++) {
                const char *v = words[pick[row0 + k]];
                if (lo == NULL || strcmp(v, lo) < 0)
                    lo = v;
                if (hi == NULL || strcmp(v, hi) > 0)
                    hi = v;
            }
            ASSERT(lo != NULL);
            ASSERT_EQ(pi.bounds[i].min_len, strlen(lo));
            ASSERT_EQ(pi.bounds[i].max_len, strlen(hi));
            ASSERT(memcmp(pi.bounds[i].min, lo, strlen(lo)) == 0);
            ASSERT(memcmp(pi.bounds[i].max, hi, strlen(hi)) == 0);
            pages++;
        }
        parquet_page_index_cleanup(&pi);
        row0 += (int)m->rowgroups[g].num_rows;
    }
    ASSERT_GE(pages, 10);
    parquet_reader_free(r);
}

/* Incompressible bytes that name k (the dictionary page is compressed). */
static void
fill_value(uint8_t *v, size_t n, uint32_t k)
{
    uint32_t x = k * 2654435761u + 1;

    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        v[i] = (uint8_t)(x >> 24);
    }
    memcpy(v, &k, sizeof(k));
}

/* A dictionary column whose dictionary outgrows its cap mid-chunk: the
 * pages so far stay RLE_DICTIONARY, the later ones are PLAIN, and every value
 * reads back as written. Each value is 1,000 random bytes; 2,000 of the 3,000
 * rows are distinct (2 MB against a 1 MiB cap), every third repeats one. */
TEST(writer_dictionary_falls_back_to_plain_when_full)
{
    enum { NROWS = 3000, VLEN = 1000 };
    struct colw cw;
    struct parquet_row row;
    struct parquet_reader *r;
    struct parquet_cursor *cur;
    const struct parquet_chunk_meta *cm;
    struct tc_err err;
    char path[600];
    static uint8_t v[VLEN];
    int eof = 0, n = 0, has_dict = 0;

    snprintf(path, sizeof(path), "%s/dictfull.parquet", test_tmpdir());
    col_open(&cw, path, PARQUET_CT_NONE, 64 * 1024, 0);
    for (int i = 0; i < NROWS; i++) {
        int k = i % 3 == 2 ? i / 2 : i; /* the value of row k */
        fill_value(v, sizeof(v), (uint32_t)k);
        col_put(&cw, v, sizeof(v));
    }
    col_close(&cw);
    ASSERT_OK(parquet_reader_open(&r, path, &err));
    ASSERT_EQ(parquet_reader_meta(r)->nrowgroups, 1);
    cm = &parquet_reader_meta(r)->rowgroups[0].cols[0];
    for (int e = 0; e < cm->nencodings; e++)
        has_dict |= cm->encodings[e] == PARQUET_RLE_DICTIONARY;
    ASSERT(has_dict);
    /* the dictionary page (first in the chunk) stopped growing near the cap:
     * 2,000 distinct values would be 2 MB */
    ASSERT_GE(cm->dictionary_page_offset, 0);
    ASSERT_LT(cm->data_page_offset - cm->dictionary_page_offset, (int64_t)1200 * 1024);
    ASSERT_GT(cm->data_page_offset - cm->dictionary_page_offset, (int64_t)1000 * 1024);
    ASSERT_OK(parquet_cursor_new(&cur, r, &err));
    for (;;) {
        const uint8_t *p;
        uint32_t len;
        int k = n % 3 == 2 ? n / 2 : n;
        ASSERT_OK(parquet_cursor_next(cur, &row, &eof, &err));
        if (eof)
            break;
        fill_value(v, sizeof(v), (uint32_t)k);
        p = parquet_row_bytes(&row, 0, &len);
        ASSERT(p != NULL);
        ASSERT_EQ(len, VLEN);
        if (memcmp(p, v, VLEN) != 0)
            TEST_FAIL_("row %d reads back another value", n);
        n++;
    }
    ASSERT_EQ(n, NROWS);
    parquet_cursor_free(cur);
    parquet_reader_free(r);
}

/* Input k's row i: a word of a 60-word vocabulary, drawn per input so that
 * each input's dictionaries hold them in another order; input NIN - 1 holds
 * 1,000-byte values that outgrow its dictionary, so its later pages are PLAIN
 * and their rows carry no indices. */
#define DM_NIN 6
#define DM_ROWS 3000

static size_t
dm_value(int k, int i, uint8_t *v)
{
    uint32_t x = (uint32_t)(k * 7919 + i) * 2654435761u;

    if (k == DM_NIN - 1) {
        fill_value(v, 1000, (uint32_t)(i % 3 == 2 ? i / 2 : i));
        return 1000;
    }
    return (size_t)snprintf((char *)v, 64, "word-%u", (x >> 13) % 60);
}

/* Merging rows of several dictionary-encoded inputs: with the cursors
 * keeping indices (parquet_cursor_keep_dict), the writer maps each source's
 * indices into its chunk's dictionary, across source row groups (a new
 * dictionary each), output row groups (a new chunk each) and more sources
 * than it keeps maps for. The file is byte-identical to the one written
 * from the values alone, and reads back as the rows went in. */
TEST(writer_maps_source_dictionary_indices)
{
    struct colw in[DM_NIN];
    struct parquet_reader *r[DM_NIN];
    struct parquet_cursor *cur[DM_NIN];
    struct parquet_row row[DM_NIN];
    int eof[DM_NIN], next[DM_NIN], *order, norder = 0, with_dix = 0;
    struct parquet_writer *w[2];
    struct parquet_schema *s = col_schema(PARQUET_CT_UTF8);
    struct parquet_write_info info;
    struct parquet_writer_opts o;
    struct tc_err err;
    char path[2][600], ip[600], dir[512];
    static uint8_t v[1000];
    uint32_t x = 1;

    snprintf(dir, sizeof(dir), "%s", test_tmpdir());
    order = tc_calloc((size_t)DM_NIN * DM_ROWS, sizeof(int));
    ASSERT(order != NULL);
    for (int k = 0; k < DM_NIN; k++) {
        snprintf(ip, sizeof(ip), "%s/dm-in-%d.parquet", dir, k);
        /* row groups of 700 rows (a row's estimate is its level count), pages
         * of ~50 */
        col_open(&in[k], ip, PARQUET_CT_UTF8, k == DM_NIN - 1 ? 64 * 1024 : 500,
                 k == DM_NIN - 1 ? 0 : 700);
        for (int i = 0; i < DM_ROWS; i++)
            col_put(&in[k], v, dm_value(k, i, v));
        col_close(&in[k]);
    }
    memset(&o, 0, sizeof(o));
    o.page_bytes = 800;
    o.row_group_bytes = 2500;
    for (int pass = 0; pass < 2; pass++) {
        snprintf(path[pass], sizeof(path[pass]), "%s/dm-out-%d.parquet", dir, pass);
        ASSERT_OK(parquet_writer_open(&w[pass], path[pass], s, &o, &err));
        for (int k = 0; k < DM_NIN; k++) {
            snprintf(ip, sizeof(ip), "%s/dm-in-%d.parquet", dir, k);
            if (parquet_reader_open(&r[k], ip, &err) != TC_OK)
                TEST_FAIL_("%s", err.msg);
            ASSERT_OK(parquet_cursor_new(&cur[k], r[k], &err));
            if (pass == 0)
                parquet_cursor_keep_dict(cur[k]);
            ASSERT_OK(parquet_cursor_next(cur[k], &row[k], &eof[k], &err));
            next[k] = 0;
        }
        x = 1;
        for (int left = DM_NIN * DM_ROWS; left > 0; left--) {
            int k;
            do {
                x = x * 1103515245u + 12345u;
                k = (int)((x >> 16) % DM_NIN);
            } while (eof[k]);
            if (pass == 0) {
                order[norder++] = k;
                with_dix += row[k].cols[0].dix != NULL && row[k].cols[0].dict_key != 0 &&
                            row[k].cols[0].dix[row[k].v0[0]] != PARQUET_NO_DIX;
            }
            ASSERT_OK(parquet_writer_write_row(w[pass], &row[k], &err));
            next[k]++;
            ASSERT_OK(parquet_cursor_next(cur[k], &row[k], &eof[k], &err));
        }
        ASSERT_OK(parquet_writer_close(w[pass], &info, &err));
        ASSERT_GT(info.row_groups, 5);
        parquet_writer_free(w[pass]);
        for (int k = 0; k < DM_NIN; k++) {
            ASSERT(eof[k]);
            ASSERT_EQ(next[k], DM_ROWS);
            parquet_cursor_free(cur[k]);
            parquet_reader_free(r[k]);
        }
    }
    parquet_schema_free(s);
    /* most rows came with indices; the PLAIN pages' rows without */
    ASSERT_GT(with_dix, (DM_NIN - 1) * DM_ROWS);
    ASSERT_LT(with_dix, DM_NIN * DM_ROWS);
    {
        FILE *f0 = fopen(path[0], "rb"), *f1 = fopen(path[1], "rb");
        int a, b;
        long at = 0;
        ASSERT(f0 != NULL && f1 != NULL);
        do {
            a = getc(f0);
            b = getc(f1);
            if (a != b)
                TEST_FAIL_("the files differ at byte %ld", at);
            at++;
        } while (a != EOF);
        fclose(f0);
        fclose(f1);
    }
    {
        struct parquet_reader *rr;
        struct parquet_cursor *c;
        struct parquet_row rw;
        int e = 0, at[DM_NIN] = {0};
        ASSERT_OK(parquet_reader_open(&rr, path[0], &err));
        ASSERT_OK(parquet_cursor_new(&c, rr, &err));
        for (int i = 0; i < norder; i++) {
            const uint8_t *p;
            uint32_t len;
            size_t want = dm_value(order[i], at[order[i]]++, v);
            ASSERT_OK(parquet_cursor_next(c, &rw, &e, &err));
            ASSERT(!e);
            p = parquet_row_bytes(&rw, 0, &len);
            if (p == NULL || len != want || memcmp(p, v, want) != 0)
                TEST_FAIL_("row %d reads back another value", i);
        }
        ASSERT_OK(parquet_cursor_next(c, &rw, &e, &err));
        ASSERT(e);
        parquet_cursor_free(c);
        parquet_reader_free(rr);
    }
    tc_free(order);
}

TEST_MAIN(TEST_ENTRY(cursor_equals_rowgroups_vp4_many_pages),
          TEST_ENTRY(writer_maps_source_dictionary_indices),
          TEST_ENTRY(writer_integer_bounds_follow_signedness),
          TEST_ENTRY(writer_dictionary_page_bounds_match_a_scan),
          TEST_ENTRY(writer_dictionary_falls_back_to_plain_when_full),
          TEST_ENTRY(cursor_equals_rowgroups_big_and_small_pages),
          TEST_ENTRY(cursor_equals_rowgroups_projected), TEST_ENTRY(cursor_skips_empty_rowgroups),
          TEST_ENTRY(cursor_corrupt_page_header_names_column),
          TEST_ENTRY(cursor_equals_rowgroups_tempo_blocks),
          TEST_ENTRY(writer_cut_points_and_page_index),
          TEST_ENTRY(copy_of_one_big_rowgroup_stays_small))
