/* fuzz_parquet_file.c - libFuzzer target: a whole Parquet file through the
 * reader (footer, page index, every page of every column, record assembly,
 * JSON rendering, projection onto vParquet4 and the trace model, the
 * vParquet3 conversion). */
#include <stddef.h>
#include <stdint.h>

#include "parquet.h"
#include "vp4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pq_schema *vp4;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pq_reader *r;
    struct pq_cursor *cur = NULL;
    struct tc_err err;
    struct pq_row row;
    struct pq_arena a;
    struct buf js;
    int eof = 0, projected = 0, v3;

    if (vp4 == NULL && vp4_schema_new(&vp4, &err) != TC_OK)
        return 0;
    if (pq_reader_open_mem(&r, data, size, &err) != TC_OK)
        return 0;
    for (int g = 0; g < pq_reader_meta(r)->nrowgroups; g++)
        for (int c = 0; c < pq_reader_schema(r)->ncolumns; c++) {
            struct pq_page_index pi;
            if (pq_reader_page_index(r, g, c, &pi, &err) == TC_OK)
                pq_page_index_cleanup(&pi);
        }
    v3 = vp4_is_v3_schema(pq_reader_schema(r));
    /* odd sizes take the vParquet4 projection path */
    if (!v3 && (size & 1) && pq_reader_project(r, vp4, &err) == TC_OK)
        projected = 1;
    pq_arena_init(&a);
    buf_init(&js, (size_t)16 << 20);
    if (pq_cursor_new(&cur, r, &err) == TC_OK) {
        while (pq_cursor_next(cur, &row, &eof, &err) == TC_OK && !eof) {
            struct pq_val *v;
            pq_arena_reset(&a);
            buf_reset(&js);
            if (pq_row_assemble(&row, pq_reader_row_schema(r), &a, &v, &err) == TC_OK)
                pq_val_json(v, pq_reader_row_schema(r), 0, &js);
            if (projected) {
                struct vp4_trace *t;
                vp4_trace_from_row(&row, vp4, &a, &t, &err);
            } else if (v3) {
                struct vp4_trace *t;
                vp4_trace_from_v3_row(&row, pq_reader_schema(r), &a, &t, &err);
            }
        }
    }
    buf_cleanup(&js);
    pq_arena_cleanup(&a);
    pq_cursor_free(cur);
    pq_reader_free(r);
    return 0;
}
