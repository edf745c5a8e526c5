/*
 * thrift.h - the Thrift compact protocol, as Parquet uses it for the footer,
 * page headers and page indexes.
 *
 * The reader walks a borrowed byte range and never reads past its end; every
 * malformed input ends in TC_PARSE with the offset in the message. Nesting is
 * capped so a hostile file cannot recurse deeply. The writer appends to a
 * struct buf owned by the caller.
 */
#ifndef TC_THRIFT_H
#define TC_THRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/tc.h"

enum thrift_type {
    THRIFT_STOP = 0,
    THRIFT_TRUE = 1,
    THRIFT_FALSE = 2,
    THRIFT_BYTE = 3,
    THRIFT_I16 = 4,
    THRIFT_I32 = 5,
    THRIFT_I64 = 6,
    THRIFT_DOUBLE = 7,
    THRIFT_BINARY = 8,
    THRIFT_LIST = 9,
    THRIFT_SET = 10,
    THRIFT_MAP = 11,
    THRIFT_STRUCT = 12,
};

#define THRIFT_MAX_DEPTH 32
/* A list header claiming more elements than this is rejected outright. */
#define THRIFT_MAX_LIST 100000000

struct thrift_r {
    const uint8_t *start; /* borrowed */
    const uint8_t *p;
    const uint8_t *end;
    int depth;
    int16_t last_id[THRIFT_MAX_DEPTH];
    int failed; /* sticky: set on the first error */
};

void thrift_r_init(struct thrift_r *r, const void *data, size_t len);
/* Offset of the cursor from the start (for error messages and header sizes). */
size_t thrift_r_pos(const struct thrift_r *r);

/* Struct walking: struct_begin, then field_next until it returns STOP
 * (*type == THRIFT_STOP), then struct_end. Unknown fields go to skip(). */
int thrift_struct_begin(struct thrift_r *r);
int thrift_struct_end(struct thrift_r *r);
int thrift_field_next(struct thrift_r *r, int *type, int *id);
int thrift_skip(struct thrift_r *r, int type);

/* Values. For a boolean struct field the value is in the field type:
 * thrift_bool_field(type). Inside lists booleans are one byte: read_bool. */
int thrift_read_i32(struct thrift_r *r, int32_t *v);
int thrift_read_i64(struct thrift_r *r, int64_t *v);
int thrift_read_byte(struct thrift_r *r, int8_t *v);
int thrift_read_bool(struct thrift_r *r, int *v);
int thrift_read_double(struct thrift_r *r, double *v);
/* *p points into the input (borrowed); valid as long as the input. */
int thrift_read_binary(struct thrift_r *r, const uint8_t **p, uint32_t *len);
/* Caller owns *out (tc_free); NUL-terminated copy of a binary field. */
int thrift_read_string(struct thrift_r *r, char **out);
int thrift_read_list(struct thrift_r *r, int *elem_type, uint32_t *n);
int thrift_bool_field(int type);

/* Writer. Field ids must increase within one struct (as the spec allows
 * deltas); a stack of last ids per nesting level is kept in struct thrift_w. */
struct thrift_w {
    struct buf *b; /* borrowed */
    int depth;
    int16_t last_id[THRIFT_MAX_DEPTH];
    int rc; /* sticky first error */
};

void thrift_w_init(struct thrift_w *w, struct buf *b);
void thrift_w_field(struct thrift_w *w, int type, int id);
void thrift_w_struct_begin(struct thrift_w *w);
/* Writes the STOP byte and pops the id stack. */
void thrift_w_struct_end(struct thrift_w *w);
void thrift_w_i32(struct thrift_w *w, int32_t v);
void thrift_w_i64(struct thrift_w *w, int64_t v);
void thrift_w_binary(struct thrift_w *w, const void *p, size_t n);
void thrift_w_list(struct thrift_w *w, int elem_type, uint32_t n);
void thrift_w_bool_elem(struct thrift_w *w, int v);
/* Convenience: field header plus value. */
void thrift_w_field_i32(struct thrift_w *w, int id, int32_t v);
void thrift_w_field_i64(struct thrift_w *w, int id, int64_t v);
void thrift_w_field_binary(struct thrift_w *w, int id, const void *p, size_t n);
void thrift_w_field_bool(struct thrift_w *w, int id, int v);

/* Varint helpers shared with the Parquet encodings. They return the number
 * of bytes consumed, or 0 on truncation/overflow. */
size_t thrift_uvarint(const uint8_t *p, const uint8_t *end, uint64_t *v);
static inline int64_t
thrift_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
static inline uint64_t
thrift_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

#endif
