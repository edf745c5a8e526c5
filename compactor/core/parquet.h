/*
 * parquet.h - a Parquet reader and writer for Tempo blocks.
 *
 * Model: a file has a schema tree (struct pq_schema, nodes in depth-first
 * order, nodes[0] = root) whose leaves are the columns. A row group is
 * decoded into one struct pq_colbuf per column: repetition and definition
 * levels plus the non-null values. A row is a view (struct pq_row) of the
 * level/value ranges that belong to one top-level record in every column;
 * rows are written back verbatim, so copying and merging never re-assemble.
 * pq_row_assemble() turns a row into a nested struct pq_val tree (Dremel
 * record assembly) and pq_shred() goes the other way.
 *
 * Streaming: a struct pq_cursor decodes one row group at a time, so memory is
 * bounded by the largest row group, not the file. Every offset and length in
 * the file is checked against the file size; corrupt input returns
 * TC_CORRUPT/TC_PARSE with the column path in the message, never a crash.
 *
 * A k-way merge of blocks (the compactor) uses it like this:
 *
 *   vp4_schema_new(&s, &err);                    output schema (vp4.h)
 *   for each input i:
 *       pq_reader_open(&r[i], "in/data.parquet", &err);
 *       pq_reader_project(r[i], s, &err);        missing columns -> defaults
 *       pq_cursor_new(&c[i], r[i], &err);        one row group in memory
 *       pq_cursor_next(c[i], &row[i], &eof[i], &err);
 *   pq_writer_open(&w, "out/data.parquet", s, &opts, &err);
 *   loop: id = pq_row_bytes(&row[i], VP4_COL_TRACEID, &len) for each
 *         input, memcmp-smallest wins; equal IDs: pq_row_equal() keeps
 *         one, else vp4_trace_from_row() each, combine, and
 *         vp4_trace_to_rowset() + pq_rowiter to get the merged row;
 *         pq_writer_write_row(w, &row, &err) cuts row groups at
 *         opts.row_group_bytes like Tempo; advance the consumed cursors.
 *   pq_writer_close(w, &info, &err);            info.footer_size,
 *                                                info.row_groups, file_size
 *   pq_writer_rowgroup_last_key(w, g, &len)      -> the `index` file
 *
 * Rows of different cursors stay valid side by side: each cursor owns its
 * decoded row group; a row view dies when its own cursor moves.
 *
 * Ownership: objects from *_new/_open are freed by the matching *_free.
 * Views (pq_row, byte pointers into colbufs) are borrowed and valid until the
 * cursor moves or the owning object is freed.
 */
#ifndef TC_PARQUET_H
#define TC_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tc.h"

enum pq_type {
    PQ_BOOLEAN = 0,
    PQ_INT32 = 1,
    PQ_INT64 = 2,
    PQ_INT96 = 3,
    PQ_FLOAT = 4,
    PQ_DOUBLE = 5,
    PQ_BYTE_ARRAY = 6,
    PQ_FIXED_LEN_BYTE_ARRAY = 7,
};

enum pq_repetition { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };

enum pq_codec {
    PQ_UNCOMPRESSED = 0,
    PQ_SNAPPY = 1,
    PQ_GZIP = 2,
    PQ_LZO = 3,
    PQ_BROTLI = 4,
    PQ_LZ4 = 5,
    PQ_ZSTD = 6,
    PQ_LZ4_RAW = 7,
};

enum pq_encoding {
    PQ_PLAIN = 0,
    PQ_PLAIN_DICTIONARY = 2,
    PQ_RLE = 3,
    PQ_BIT_PACKED = 4,
    PQ_DELTA_BINARY_PACKED = 5,
    PQ_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_DELTA_BYTE_ARRAY = 7,
    PQ_RLE_DICTIONARY = 8,
    PQ_BYTE_STREAM_SPLIT = 9,
};

enum pq_page_type {
    PQ_DATA_PAGE = 0,
    PQ_INDEX_PAGE = 1,
    PQ_DICTIONARY_PAGE = 2,
    PQ_DATA_PAGE_V2 = 3
};

/* Converted (legacy logical) types that matter here; -1 = none. */
enum pq_converted {
    PQ_CT_NONE = -1,
    PQ_CT_UTF8 = 0,
    PQ_CT_MAP = 1,
    PQ_CT_MAP_KEY_VALUE = 2,
    PQ_CT_LIST = 3,
    PQ_CT_UINT_8 = 11,
    PQ_CT_UINT_16 = 12,
    PQ_CT_UINT_32 = 13,
    PQ_CT_UINT_64 = 14,
    PQ_CT_INT_8 = 15,
    PQ_CT_INT_16 = 16,
    PQ_CT_INT_32 = 17,
    PQ_CT_INT_64 = 18,
    PQ_CT_JSON = 19,
};

/* Writer-side encoding choice per column (the schema tags of Tempo). */
enum pq_colenc {
    PQ_COLENC_DEFAULT = 0, /* PLAIN, or DELTA_LENGTH_BYTE_ARRAY for BYTE_ARRAY */
    PQ_COLENC_PLAIN,
    PQ_COLENC_DICT,  /* RLE_DICTIONARY data pages + PLAIN dictionary page */
    PQ_COLENC_DELTA, /* DELTA_BINARY_PACKED (ints) */
    PQ_COLENC_DLBA,
    PQ_COLENC_DBA,
};

#define PQ_MAX_LEVEL 100 /* deeper schemas are rejected */

struct pq_node {
    char *name;
    int parent;       /* node index, -1 for the root */
    int num_children; /* 0 for leaves */
    int *children;    /* node indexes, caller of the schema owns via pq_schema */
    int leaf;         /* 1 for a column */
    int column;       /* column index for leaves, -1 otherwise */
    int type;         /* enum pq_type (leaves) */
    int type_length;  /* FIXED_LEN_BYTE_ARRAY width */
    int repetition;   /* enum pq_repetition (the root counts as REQUIRED) */
    int converted;    /* enum pq_converted */
    int logical;      /* LogicalType union field id, 0 = none */
    int int_bits, int_signed;
    int def_level; /* definition level reached when this node is present */
    int rep_level; /* repetition level of this node */
    /* writer settings */
    int colenc; /* enum pq_colenc */
    int codec;  /* enum pq_codec */
};

struct pq_schema {
    struct pq_node *nodes; /* nodes[0] is the root */
    int nnodes;
    int *columns; /* node index per column */
    int ncolumns;
    char **paths; /* dotted path per column, e.g. "rs.list.element.Resource.ServiceName" */
};

/* ---- schema ---- */

/* A builder for writer schemas: group_begin/end nest, leaf adds a column.
 * Errors are sticky and reported by pq_schema_build(). */
struct pq_schema_builder;
struct pq_schema_builder *pq_sb_new(const char *root_name);
void pq_sb_group(struct pq_schema_builder *sb, const char *name, int repetition, int converted);
void pq_sb_end(struct pq_schema_builder *sb);
void pq_sb_leaf(struct pq_schema_builder *sb, const char *name, int repetition, int type,
                int converted, int colenc, int codec);
/* Finishes the schema; caller owns *out (pq_schema_free). Frees sb. */
int pq_sb_build(struct pq_schema_builder *sb, struct pq_schema **out, struct tc_err *err);

void pq_schema_free(struct pq_schema *s);
/* Deep copy; caller owns the result. */
struct pq_schema *pq_schema_dup(const struct pq_schema *s);
/* Column index by dotted path, or -1. */
int pq_schema_find(const struct pq_schema *s, const char *path);
/* Max definition / repetition level of a column. */
int pq_schema_max_def(const struct pq_schema *s, int col);
int pq_schema_max_rep(const struct pq_schema *s, int col);
/* Appends a parquet-style schema dump ("message root { ... }") to b. */
int pq_schema_print(const struct pq_schema *s, struct buf *b);

/* ---- column buffers ---- */

/* Decoded levels and values of one column for a run of rows. Fixed-width
 * values are packed at `width` bytes each (booleans take one byte, 0/1);
 * BYTE_ARRAY values are data[offs[i]..offs[i+1]). */
struct pq_colbuf {
    int type;
    int width;   /* bytes per fixed value; 0 for BYTE_ARRAY */
    int max_def; /* an entry holds a value iff def == max_def */
    size_t n, ncap;
    uint8_t *def, *rep; /* n entries each */
    size_t nv, vcap;
    uint8_t *fixed; /* nv * width bytes */
    uint32_t *offs; /* nv + 1 entries (BYTE_ARRAY) */
    uint8_t *data;  /* BYTE_ARRAY payload */
    size_t dlen, dcap;
};

int pq_colbuf_init(struct pq_colbuf *c, int type, int type_length, int max_def);
void pq_colbuf_cleanup(struct pq_colbuf *c);
void pq_colbuf_reset(struct pq_colbuf *c);
/* Appends one level entry; value is used only when def == max_def.
 * For BYTE_ARRAY, v/len is the payload; for fixed types v points at width bytes. */
int pq_colbuf_push(struct pq_colbuf *c, int rep, int def, int has_value, const void *v, size_t len);
/* Bytes held (for row-group sizing and memory accounting). */
size_t pq_colbuf_bytes(const struct pq_colbuf *c);

/* A set of columns for one schema: a decoded row group, or a writer's
 * buffered rows. */
struct pq_rowset {
    int ncols;
    struct pq_colbuf *cols;
    int64_t nrows;
};

int pq_rowset_init(struct pq_rowset *rs, const struct pq_schema *s);
void pq_rowset_cleanup(struct pq_rowset *rs);
void pq_rowset_reset(struct pq_rowset *rs);

/* A row: per column, level range [l0,l1) and value range [v0,v1). */
struct pq_row {
    int ncols;
    const struct pq_colbuf *cols; /* borrowed */
    const size_t *l0, *l1, *v0, *v1;
};

/* Row helpers. pq_row_bytes returns the first value of a BYTE_ARRAY column
 * (e.g. TraceID, column 0) or NULL when the row has none there. */
const uint8_t *pq_row_bytes(const struct pq_row *row, int col, uint32_t *len);
/* 1 if both rows hold identical levels and values in every column. */
int pq_row_equal(const struct pq_row *a, const struct pq_row *b);
/* Tempo's estimateMarshalledSizeFromParquetRow (the number of level entries
 * in the row): the row-group cut accounting. */
size_t pq_row_estimate_size(const struct pq_row *row);
/* Tempo's estimateProtoSizeFromParquetRow (max_bytes_per_trace checks). */
size_t pq_row_estimate_proto_size(const struct pq_row *row);
/* Appends a row (same column layout) to a rowset. */
int pq_rowset_append(struct pq_rowset *rs, const struct pq_row *row);
/* Walks rowset rows: *row is set to the i-th row view. Uses internal
 * per-call scratch in *it. */
struct pq_rowiter {
    const struct pq_rowset *rs;
    size_t *l0, *l1, *v0, *v1;
    int64_t idx;
};
int pq_rowiter_init(struct pq_rowiter *it, const struct pq_rowset *rs);
void pq_rowiter_cleanup(struct pq_rowiter *it);
/* Returns 1 and fills *row, or 0 at the end. */
int pq_rowiter_next(struct pq_rowiter *it, struct pq_row *row);

/* ---- file metadata ---- */

struct pq_stats {
    int has_min, has_max;
    uint8_t *min, *max; /* owned copies */
    uint32_t min_len, max_len;
    int64_t null_count; /* -1 when absent */
};

struct pq_chunk_meta {
    int type;
    int codec;
    int nencodings;
    int *encodings;
    char *path; /* dotted path_in_schema */
    int64_t num_values;
    int64_t total_uncompressed, total_compressed;
    int64_t data_page_offset, dictionary_page_offset; /* -1 when absent */
    int64_t column_index_offset, offset_index_offset; /* -1 when absent */
    int32_t column_index_length, offset_index_length;
    struct pq_stats stats;
};

struct pq_rowgroup_meta {
    int64_t num_rows;
    int64_t total_byte_size;
    int ncols;
    struct pq_chunk_meta *cols;
};

struct pq_kv {
    char *key, *value;
};

struct pq_filemeta {
    int32_t version;
    int64_t num_rows;
    char *created_by;
    int nkv;
    struct pq_kv *kv;
    int nrowgroups;
    struct pq_rowgroup_meta *rowgroups;
    uint32_t footer_len; /* the LE u32 before the trailing PAR1 */
};

/* Parses a FileMetaData thrift struct (the footer without the 8-byte tail).
 * Caller owns *meta and *schema (pq_filemeta_free, pq_schema_free). */
int pq_footer_parse(const void *data, size_t len, struct pq_filemeta **meta,
                    struct pq_schema **schema, struct tc_err *err);
void pq_filemeta_free(struct pq_filemeta *m);

/* ---- reader ---- */

struct pq_reader;

/* Opens a file by path and reads its footer. Caller owns *out. */
int pq_reader_open(struct pq_reader **out, const char *path, struct tc_err *err);
/* Same over a borrowed memory image (fuzzing, tests). */
int pq_reader_open_mem(struct pq_reader **out, const void *data, size_t len, struct tc_err *err);
void pq_reader_free(struct pq_reader *r);

const struct pq_schema *pq_reader_schema(const struct pq_reader *r);
const struct pq_filemeta *pq_reader_meta(const struct pq_reader *r);
uint64_t pq_reader_file_size(const struct pq_reader *r);

/* Reads row groups as columns of `target` instead of the file schema:
 * columns are matched by dotted path; a target column missing from the file
 * gets default values (zero, false, empty) where its parent exists, nulls
 * where it is optional. Same path with another physical type is an error.
 * target is borrowed and must outlive the reader. NULL restores the file
 * schema. */
int pq_reader_project(struct pq_reader *r, const struct pq_schema *target, struct tc_err *err);
/* The schema rows come out in (the projection target, or the file schema). */
const struct pq_schema *pq_reader_row_schema(const struct pq_reader *r);

/* Decodes row group rg into rs (initialised by the caller for the row
 * schema). rs is reset first. */
int pq_reader_read_rowgroup(struct pq_reader *r, int rg, struct pq_rowset *rs, struct tc_err *err);

/* Reads the column index and offset index of one chunk (validated). */
struct pq_page_loc {
    int64_t offset;
    int32_t compressed_size;
    int64_t first_row;
};
struct pq_page_index {
    int npages;
    struct pq_page_loc *locs; /* from the offset index */
    int has_column_index;
    uint8_t *null_pages;
    struct pq_stats *bounds; /* min/max per page */
    int64_t *null_counts;
    int boundary_order;
};
int pq_reader_page_index(struct pq_reader *r, int rg, int col, struct pq_page_index *out,
                         struct tc_err *err);
void pq_page_index_cleanup(struct pq_page_index *pi);

/* Streaming rows in file order, one decoded row group in memory. */
struct pq_cursor;
int pq_cursor_new(struct pq_cursor **out, struct pq_reader *r, struct tc_err *err);
void pq_cursor_free(struct pq_cursor *c);
/* Returns TC_OK with *row filled and *eof 0, or *eof 1 at the end. */
int pq_cursor_next(struct pq_cursor *c, struct pq_row *row, int *eof, struct tc_err *err);
/* Bytes of the decoded row group currently held (for memory accounting). */
size_t pq_cursor_mem(const struct pq_cursor *c);

/* ---- writer ---- */

struct pq_writer_opts {
    size_t row_group_bytes; /* cut when the Tempo size estimate exceeds it; 0 = 100 MB */
    size_t page_bytes;      /* target page size; 0 = 256 KiB */
    const char *created_by; /* NULL = "tempo-compactor <version>" */
    int nkv;
    const struct pq_kv *kv; /* extra key_value_metadata, borrowed */
};

struct pq_write_info {
    uint64_t file_size;
    uint32_t footer_size; /* the LE u32 before the trailing PAR1 */
    int row_groups;
    int64_t rows;
};

struct pq_writer;
/* Creates path (truncating) and writes rows of schema (borrowed; must
 * outlive the writer). Caller owns *out. */
int pq_writer_open(struct pq_writer **out, const char *path, const struct pq_schema *schema,
                   const struct pq_writer_opts *opts, struct tc_err *err);
/* Appends a row laid out like the writer's schema. Flushes a row group first
 * when this row would push the estimate over row_group_bytes. */
int pq_writer_write_row(struct pq_writer *w, const struct pq_row *row, struct tc_err *err);
/* Writes the buffered rows as one row group (no-op when empty). */
int pq_writer_flush(struct pq_writer *w, struct tc_err *err);
/* Flushes, writes page indexes and the footer, fsyncs and closes. */
int pq_writer_close(struct pq_writer *w, struct pq_write_info *info, struct tc_err *err);
/* Frees; an unclosed writer leaves a partial file behind (the caller unlinks). */
void pq_writer_free(struct pq_writer *w);
/* Tempo's size estimate of the rows buffered for the current row group. */
size_t pq_writer_buffered(const struct pq_writer *w);
/* Row groups flushed so far. */
int pq_writer_row_groups(const struct pq_writer *w);
/* Column 0's first value in the last row of row group g (the max TraceID
 * for Tempo schemas: the entries of the block's `index` file). Borrowed,
 * valid until pq_writer_free; NULL if g is not flushed or the value is null. */
const uint8_t *pq_writer_rowgroup_last_key(const struct pq_writer *w, int g, uint32_t *len);

/* ---- record assembly ---- */

enum pq_vkind { PQ_V_NULL = 0, PQ_V_SCALAR, PQ_V_GROUP, PQ_V_LIST };

/* One schema node's value. GROUP: n = node's num_children, items[i] is the
 * i-th child. LIST: the values of a REPEATED node, n items. SCALAR: leaf
 * value; ints and booleans in i, FLOAT/DOUBLE in d, bytes in b/len. */
struct pq_val {
    uint8_t kind;
    uint32_t n;
    struct pq_val *items;
    int64_t i;
    double d;
    const uint8_t *b;
    uint32_t len;
};

/* A bump allocator for value trees; pq_arena_reset keeps the first block. */
struct pq_arena {
    struct pq_arena_blk *head;
    size_t used_total;
};
void pq_arena_init(struct pq_arena *a);
void pq_arena_cleanup(struct pq_arena *a);
void pq_arena_reset(struct pq_arena *a);
void *pq_arena_alloc(struct pq_arena *a, size_t n);

/* Assembles row into a tree rooted at the schema root (a GROUP). Byte
 * values point into the row's colbufs (borrowed). */
int pq_row_assemble(const struct pq_row *row, const struct pq_schema *s, struct pq_arena *a,
                    struct pq_val **out, struct tc_err *err);
/* Shreds one record (GROUP at the root) into rs, appending one row. */
int pq_shred(const struct pq_val *rec, const struct pq_schema *s, struct pq_rowset *rs,
             struct tc_err *err);
/* Renders a record as JSON: groups -> objects, LIST-annotated groups ->
 * arrays, MAP -> arrays of {"key":..,"value":..}, 64-bit ints as strings,
 * byte arrays without a string type as hex. */
int pq_val_json(const struct pq_val *v, const struct pq_schema *s, int node, struct buf *b);

/* Name helpers for dumps. */
const char *pq_type_name(int type);
const char *pq_codec_name(int codec);
const char *pq_encoding_name(int enc);

#endif
