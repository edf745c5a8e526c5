/*
 * vp4.h - Tempo's vParquet4 block model: the released schema with Tempo's
 * per-column encodings and codecs, a typed trace model with conversion
 * to and from Parquet rows.
 *
 * Ownership: vp4_schema_new() gives the caller a schema (parquet_schema_free).
 * A struct vp4_trace and everything under it lives in the struct parquet_arena
 * passed to the conversion functions; strings and byte fields borrow from
 * the row they came from, so keep the row (cursor position) alive or copy.
 *
 * Layer tempo (compactor/core/tempo/): Tempo's formats: block metas, tenant
 * indexes, the vParquet4 (and vParquet3 read) model, bloom shards, the block
 * writer. May include: base, parquet, backend. Order: base <- parquet <-
 * backend <- tempo <- blocklist <- plan <- compact <- daemon, controller
 * (hack/check-layers.sh).
 */
#ifndef TC_VP4_H
#define TC_VP4_H

#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"
#include "base/tc.h"

/* The released vParquet4 schema (tempo.md §6.3): 103 columns. */
int vp4_schema_new(struct parquet_schema **out, struct tc_err *err);
/* The column of the TraceID (0 in every Tempo version). */
#define VP4_COL_TRACEID 0

/* ---- trace model ---- */

struct vp4_bytes {
    const uint8_t *p;
    uint32_t len;
};

/* An optional string: set == 0 means null. */
struct vp4_ostr {
    int set;
    struct vp4_bytes v;
};

struct vp4_attr {
    struct vp4_bytes key;
    int is_array;
    uint32_t nstr, nint, ndbl, nbool;
    struct vp4_bytes *str;
    int64_t *ints;
    double *dbls;
    uint8_t *bools;
    struct vp4_ostr unsupported;
};

struct vp4_attrs {
    uint32_t n;
    struct vp4_attr *a;
};

struct vp4_event {
    uint64_t time_since_start;
    struct vp4_bytes name;
    struct vp4_attrs attrs;
    int32_t dropped_attrs;
};

struct vp4_link {
    struct vp4_bytes trace_id, span_id, trace_state;
    struct vp4_attrs attrs;
    int32_t dropped_attrs;
};

struct vp4_span {
    struct vp4_bytes span_id, parent_span_id;
    int32_t parent_id, nested_left, nested_right;
    struct vp4_bytes name;
    int64_t kind;
    struct vp4_bytes trace_state;
    uint64_t start, duration;
    int64_t status_code;
    struct vp4_bytes status_message;
    struct vp4_attrs attrs;
    int32_t dropped_attrs;
    uint32_t nevents;
    struct vp4_event *events;
    int32_t dropped_events;
    uint32_t nlinks;
    struct vp4_link *links;
    int32_t dropped_links;
    struct vp4_ostr http_method, http_url;
    int has_http_status;
    int64_t http_status;
    struct vp4_ostr dedicated[10];
};

struct vp4_scope_spans {
    struct vp4_bytes scope_name, scope_version;
    struct vp4_attrs scope_attrs;
    int32_t scope_dropped_attrs;
    uint32_t nspans;
    struct vp4_span *spans;
};

#define VP4_RES_WELLKNOWN 8 /* Cluster..K8sContainerName */

struct vp4_resource_spans {
    struct vp4_attrs attrs;
    int32_t dropped_attrs;
    struct vp4_bytes service_name;
    struct vp4_ostr wellknown[VP4_RES_WELLKNOWN];
    struct vp4_ostr dedicated[10];
    uint32_t nss;
    struct vp4_scope_spans *ss;
};

struct vp4_service_stats {
    struct vp4_bytes service;
    uint32_t span_count, error_count;
};

struct vp4_trace {
    struct vp4_bytes trace_id, trace_id_text;
    uint64_t start, end, duration;
    struct vp4_bytes root_service, root_span;
    uint32_t nstats;
    struct vp4_service_stats *stats;
    uint32_t nrs;
    struct vp4_resource_spans *rs;
};

/* Converts a row of the vParquet4 schema (schema from vp4_schema_new, or a
 * reader projected onto it) into a trace. Everything goes into a. */
int vp4_trace_from_row(const struct parquet_row *row, const struct parquet_schema *schema,
                       struct parquet_arena *a, struct vp4_trace **out, struct tc_err *err);
/* Converts a row of a vParquet3 file (schema = the file's own schema, no
 * projection) into the same model, as Tempo's vParquet3->4 conversion
 * does: scalar attributes become one-element lists, array/KV-list
 * attributes become ValueUnsupported, event attributes and span links are
 * decoded from their protobuf bytes, event times become offsets from the
 * span start. ServiceStats stay empty (vParquet3 has none). */
int vp4_trace_from_v3_row(const struct parquet_row *row, const struct parquet_schema *schema,
                          struct parquet_arena *a, struct vp4_trace **out, struct tc_err *err);
/* 1 if s looks like a vParquet3 file (Spans.Links is a bytes leaf). Such a
 * file must go through vp4_trace_from_v3_row/vp4_convert_v3: projecting it
 * onto the vParquet4 schema would read its scalar attribute columns as
 * missing list columns (empty), since the paths differ. */
int vp4_is_v3_schema(const struct parquet_schema *s);
/* Protobuf helpers of the vParquet3 conversion, also usable alone: an
 * OTLP AnyValue (bytes borrowed) into an attribute, and a tempopb.LinkSlice
 * into s->links/s->nlinks. TC_PARSE on malformed protobuf. */
int vp4_attr_from_pb(struct parquet_arena *a, struct vp4_bytes key, const uint8_t *pbv, size_t len,
                     struct vp4_attr *out);
int vp4_links_from_pb(struct parquet_arena *a, const uint8_t *pbv, size_t len, struct vp4_span *s);
/* Appends the trace as one row to rs (initialised for the vp4 schema). */
int vp4_trace_to_rowset(const struct vp4_trace *t, const struct parquet_schema *schema,
                        struct parquet_arena *a, struct parquet_rowset *rs, struct tc_err *err);
/* Total spans in a trace. */
size_t vp4_trace_span_count(const struct vp4_trace *t);

#endif
