/*
 * vp4_int.h - internals shared by vp4.c and vp4_v3.c: reading the trace
 * model fields that vParquet3 and vParquet4 rows hold under the same names
 * and types. Not part of the vp4.h API.
 *
 * Ownership: every struct vp4_bytes / vp4_ostr read here borrows from the
 * assembled row tree (and so from the row), like vp4_trace_from_row().
 */
#ifndef TC_VP4_INT_H
#define TC_VP4_INT_H

#include "vp4.h"

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

/* Trace-level columns (TraceID .. RootSpanName), not ServiceStats. */
void vp4_read_trace_fields(struct parquet_nav top, struct vp4_trace *t);
/* Resource.ServiceName, the well-known resource columns and its
 * DedicatedAttributes; not Attrs or DroppedAttributesCount (v3 has none). */
void vp4_read_resource_fields(struct parquet_nav res, struct vp4_resource_spans *rs);
/* Scope Name and Version. */
void vp4_read_scope_fields(struct parquet_nav sc, struct vp4_scope_spans *ss);
/* The span's scalar columns, its dropped counts, the Http* columns and its
 * DedicatedAttributes; not Attrs, Events or Links, which differ by version. */
void vp4_read_span_fields(struct parquet_nav sp, struct vp4_span *s);

#endif
