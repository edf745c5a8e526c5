/*
 * vp4_int.h - internals shared by vp4.c and vp4_v3.c: one row reader for
 * vParquet3 and vParquet4, with hooks for what the versions store
 * differently. Not part of the vp4.h API.
 *
 * Ownership: every struct vp4_bytes / vp4_ostr read here borrows from the
 * assembled row tree (and so from the row), like vp4_trace_from_row().
 */
#ifndef TC_VP4_INT_H
#define TC_VP4_INT_H

#include "tempo/vp4.h"

/* n items of T from the arena, zeroed; at least one so NULL means no memory. */
#define VP4_ALLOC(a, n, T) ((T *)parquet_arena_alloc((a), sizeof(T) * ((n) ? (n) : 1)))

static inline struct vp4_bytes
vp4_nav_bytes(struct parquet_nav p, const char *name)
{
    struct vp4_bytes b;

    b.p = parquet_nav_bytes(p, name, &b.len);
    return b;
}

static inline struct vp4_ostr
vp4_nav_ostr(struct parquet_nav p, const char *name)
{
    const struct parquet_val *v = parquet_nav_scalar(p, name);
    struct vp4_ostr o = {v != NULL, {v ? v->b : (const uint8_t *)"", v ? v->len : 0}};

    return o;
}

/* How one Tempo version's rows differ from what vp4_read_row() reads
 * itself: the trace columns, Resource ServiceName/well-known/dedicated, Scope
 * Name/Version, the span's scalar, dropped-count, Http* and dedicated
 * columns, and the rs/ss/Spans/Events lists. */
struct vp4_row_reader {
    const char *name; /* prefix of the out-of-memory message */
    int v4_fields;    /* ServiceStats, Resource/Scope DroppedAttributesCount, Scope Attrs */
    /* Resource and span Attrs; TC_NOMEM is the only failure */
    int (*attrs)(struct parquet_nav p, struct parquet_arena *a, struct vp4_attrs *out);
    /* One element of the span's Events into *e (s holds the span's shared
     * fields, start included) and the span's Links; TC_NOMEM without a
     * message, other codes with err set */
    int (*event)(struct parquet_nav ev, struct parquet_arena *a, const struct vp4_span *s,
                 struct vp4_event *e, struct tc_err *err);
    int (*links)(struct parquet_nav sp, struct parquet_arena *a, struct vp4_span *s,
                 struct tc_err *err);
};

/* Assembles row and reads it into *out (allocated in a, borrowing from row). */
int vp4_read_row(const struct vp4_row_reader *rd, const struct parquet_row *row,
                 const struct parquet_schema *schema, struct parquet_arena *a,
                 struct vp4_trace **out, struct tc_err *err);

/* The two vParquet4 row readers behind vp4_trace_from_row(), exposed for
 * tests that compare them. _direct walks the column buffers of a schema
 * laid out exactly like vp4_schema_new() (TC_DECLINED, err untouched, for
 * any other schema); _tree assembles a parquet_val tree and reads it by
 * field name (any schema, missing fields read as defaults). Same
 * ownership as vp4_trace_from_row(); strings borrow from the row. */
int vp4_trace_from_row_direct(const struct parquet_row *row, const struct parquet_schema *schema,
                              struct parquet_arena *a, struct vp4_trace **out, struct tc_err *err);
/* The two writers behind vp4_trace_to_rowset(), likewise: _direct appends
 * the trace's entries to the columns of rs (TC_DECLINED for another
 * layout; on an error rs may hold part of the row), _tree builds a
 * parquet_val tree in a and shreds it. Both give the same levels and
 * values. */
int vp4_trace_to_rowset_direct(const struct vp4_trace *t, const struct parquet_schema *schema,
                               struct parquet_rowset *rs, struct tc_err *err);
int vp4_trace_to_rowset_tree(const struct vp4_trace *t, const struct parquet_schema *schema,
                             struct parquet_arena *a, struct parquet_rowset *rs,
                             struct tc_err *err);
int vp4_trace_from_row_tree(const struct parquet_row *row, const struct parquet_schema *schema,
                            struct parquet_arena *a, struct vp4_trace **out, struct tc_err *err);

#endif
