/*
 * vp4_convert.c - the developer tool that rewrites a vParquet3 file as
 * vParquet4 (`tempo-compactor parquet convert`). The row reading it uses,
 * vp4_trace_from_v3_row(), stays in core (tempo/vp4.h): the daemon needs it.
 */
#include <string.h>

#include "base/mem.h"
#include "tempo/vp4.h"
#include "tools/tools.h"

int
vp4_convert_v3(struct parquet_reader *r, const struct parquet_schema *v4, const char *out_path,
               size_t row_group_bytes, struct parquet_write_info *info, struct tc_err *err)
{
    struct parquet_writer *w = NULL;
    struct parquet_cursor *cur = NULL;
    struct parquet_writer_opts o;
    struct parquet_rowset rs;
    struct parquet_arena a;
    struct parquet_row row;
    int rc, eof = 0;

    if (!vp4_is_v3_schema(parquet_reader_schema(r)))
        return tc_err_set(err, TC_INVAL, "not a vParquet3 file (no bytes-typed Spans.Links)");
    memset(&o, 0, sizeof(o));
    o.row_group_bytes = row_group_bytes;
    parquet_arena_init(&a);
    if (parquet_rowset_init(&rs, v4) != TC_OK)
        return tc_err_set(err, TC_NOMEM, "convert: out of memory");
    if ((rc = parquet_reader_project(r, NULL, err)) != TC_OK ||
        (rc = parquet_cursor_new(&cur, r, err)) != TC_OK ||
        (rc = parquet_writer_open(&w, out_path, v4, &o, err)) != TC_OK)
        goto out;
    for (;;) {
        struct vp4_trace *t;
        struct parquet_rowiter it;
        struct parquet_row nrow;
        if ((rc = parquet_cursor_next(cur, &row, &eof, err)) != TC_OK)
            goto out;
        if (eof)
            break;
        parquet_arena_reset(&a);
        parquet_rowset_reset(&rs);
        if ((rc = vp4_trace_from_v3_row(&row, parquet_reader_schema(r), &a, &t, err)) != TC_OK ||
            (rc = vp4_trace_to_rowset(t, v4, &a, &rs, err)) != TC_OK)
            goto out;
        if (parquet_rowiter_init(&it, &rs) != TC_OK) {
            rc = tc_err_set(err, TC_NOMEM, "convert: out of memory");
            goto out;
        }
        parquet_rowiter_next(&it, &nrow);
        rc = parquet_writer_write_row(w, &nrow, err);
        parquet_rowiter_cleanup(&it);
        if (rc != TC_OK)
            goto out;
    }
    rc = parquet_writer_close(w, info, err);
out:
    parquet_writer_free(w);
    parquet_cursor_free(cur);
    parquet_rowset_cleanup(&rs);
    parquet_arena_cleanup(&a);
    return rc;
}
