/*
 * parquet_int.h - internals shared by the parquet_*.c files: encodings,
 * codecs and footer serialisation. Not a public API.
 */
#ifndef TC_PARQUET_INT_H
#define TC_PARQUET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "parquet/parquet.h"
#include "base/tc.h"
#include "parquet/thrift.h"

/* Bit width needed for values 0..maxv. */
int parquet_bit_width(uint64_t maxv);

/* RLE/bit-packed hybrid decoder over [p,end): n values of bit width bw into
 * out (uint32). Returns TC_OK or TC_CORRUPT. */
int parquet_rle_decode(const uint8_t *p, const uint8_t *end, int bw, uint32_t *out, size_t n);
/* Levels: the same decoder into bytes, every value checked <= max. */
int parquet_rle_decode_u8(const uint8_t *p, const uint8_t *end, int bw, uint8_t *out, size_t n,
                          uint8_t max);
/* Encoder: appends the hybrid encoding of n values (no length prefix). */
int parquet_rle_encode(struct buf *b, int bw, const uint32_t *v, size_t n);
/* The same encoding of byte values (levels), bw <= 8. */
int parquet_rle_encode_u8(struct buf *b, int bw, const uint8_t *v, size_t n);

/* DELTA_BINARY_PACKED. Decodes up to `n` values (exactly n required) as
 * int64 (32-bit columns wrap at 32 bits when is32). *used = bytes consumed. */
int parquet_delta_decode(const uint8_t *p, const uint8_t *end, int is32, int64_t *out, size_t n,
                         size_t *used);
int parquet_delta_encode(struct buf *b, int is32, const int64_t *v, size_t n);

/* Decompresses src into exactly dst_len bytes of dst. */
int parquet_decompress(int codec, const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                       struct tc_err *err);
/* Compresses into out (reset first). */
int parquet_compress(int codec, const uint8_t *src, size_t len, struct buf *out,
                     struct tc_err *err);

/* Writes Statistics struct fields (as a nested struct field id). */
void parquet_write_stats(struct thrift_w *w, int field_id, const struct parquet_stats *st);
/* Parses a Statistics struct (the reader is positioned at its start). */
int parquet_read_stats(struct thrift_r *r, struct parquet_stats *st);
void parquet_stats_cleanup(struct parquet_stats *st);

/* Unsigned byte-wise / logical comparison of two values of a column, used
 * for statistics. Returns <0, 0, >0. */
/* 1 when an INT32/INT64 leaf holds unsigned values (converted or logical type). */
int parquet_leaf_unsigned(const struct parquet_node *leaf);
int parquet_value_cmp(const struct parquet_node *leaf, const uint8_t *a, uint32_t alen,
                      const uint8_t *b, uint32_t blen);

/* Makes room for more levels, values and BYTE_ARRAY payload bytes. */
int parquet_colbuf_reserve(struct parquet_colbuf *c, size_t nlevels, size_t nvalues, size_t nbytes);

/* Serialises a FileMetaData for the writer. */
int parquet_footer_write(struct buf *b, const struct parquet_schema *s,
                         const struct parquet_filemeta *m);

#endif
