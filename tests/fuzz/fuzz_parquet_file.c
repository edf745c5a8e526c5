/* fuzz_parquet_file.c - libFuzzer target: a whole Parquet file through the
 * reader (footer, page index, every page of every column, record assembly,
 * JSON rendering, projection onto vParquet4 and the trace model, the
 * vParquet3 conversion). */
#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"
#include "tempo/vp4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct parquet_schema *vp4;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct parquet_reader *r;
    struct parquet_cursor *cur = NULL;
    struct tc_err err;
    struct parquet_row row;
    struct parquet_arena a;
    struct buf js;
    int eof = 0, projected = 0, v3;

    if (vp4 == NULL && vp4_schema_new(&vp4, &err) != TC_OK)
        return 0;
    if (parquet_reader_open_mem(&r, data, size, &err) != TC_OK)
        return 0;
    for (int g = 0; g < parquet_reader_meta(r)->nrowgroups; g++)
        for (int c = 0; c < parquet_reader_schema(r)->ncolumns; c++) {
            struct parquet_page_index pi;
            if (parquet_reader_page_index(r, g, c, &pi, &err) == TC_OK)
                parquet_page_index_cleanup(&pi);
        }
    v3 = vp4_is_v3_schema(parquet_reader_schema(r));
    /* odd sizes take the vParquet4 projection path */
    if (!v3 && (size & 1) && parquet_reader_project(r, vp4, &err) == TC_OK)
        projected = 1;
    parquet_arena_init(&a);
    buf_init(&js, (size_t)16 << 20);
    if (parquet_cursor_new(&cur, r, &err) == TC_OK) {
        while (parquet_cursor_next(cur, &row, &eof, &err) == TC_OK && !eof) {
            struct parquet_val *v;
            parquet_arena_reset(&a);
            buf_reset(&js);
            if (parquet_row_assemble(&row, parquet_reader_row_schema(r), &a, &v, &err) == TC_OK)
                parquet_val_json(v, parquet_reader_row_schema(r), 0, &js);
            if (projected) {
                struct vp4_trace *t;
                vp4_trace_from_row(&row, vp4, &a, &t, &err);
            } else if (v3) {
                struct vp4_trace *t;
                vp4_trace_from_v3_row(&row, parquet_reader_schema(r), &a, &t, &err);
            }
        }
    }
    buf_cleanup(&js);
    parquet_arena_cleanup(&a);
    parquet_cursor_free(cur);
    parquet_reader_free(r);
    return 0;
}
