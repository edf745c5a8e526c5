/*
 * parquet.h - a Parquet reader and writer for Tempo blocks.
 *
 * Model: a file has a schema tree (struct parquet_schema, nodes in depth-first
 * order, nodes[0] = root) whose leaves are the columns. A row group is
 * decoded into one struct parquet_colbuf per column: repetition and definition
 * levels plus the non-null values. A row is a view (struct parquet_row) of the
 * level/value ranges that belong to one top-level record in every column;
 * rows are written back verbatim, so copying and merging never re-assemble.
 * parquet_row_assemble() turns a row into a nested struct parquet_val tree (Dremel
 * record assembly) and parquet_shred() goes the other way.
 *
 * Streaming: a struct parquet_cursor decodes one row group at a time, so memory is
 * bounded by the largest row group, not the file. Every offset and length in
 * the file is checked against the file size; corrupt input returns
 * TC_CORRUPT/TC_PARSE with the column path in the message, never a crash.
 *
 * A k-way merge of blocks (the compactor) uses it like this:
 *
 *   vp4_schema_new(&s, &err);                    output schema (vp4.h)
 *   for each input i:
 *       parquet_reader_open(&r[i], "in/data.parquet", &err);
 *       parquet_reader_project(r[i], s, &err);        missing columns -> defaults
 *       parquet_cursor_new(&c[i], r[i], &err);        one row group in memory
 *       parquet_cursor_next(c[i], &row[i], &eof[i], &err);
 *   parquet_writer_open(&w, "out/data.parquet", s, &opts, &err);
 *   loop: id = parquet_row_bytes(&row[i], VP4_COL_TRACEID, &len) for each
 *         input, memcmp-smallest wins; equal IDs: parquet_row_equal() keeps
 *         one, else vp4_trace_from_row() each, combine, and
 *         vp4_trace_to_rowset() + parquet_rowiter to get the merged row;
 *         parquet_writer_write_row(w, &row, &err) cuts row groups at
 *         opts.row_group_bytes like Tempo; advance the consumed cursors.
 *   parquet_writer_close(w, &info, &err);            info.footer_size,
 *                                                info.row_groups, file_size
 *   parquet_writer_rowgroup_last_key(w, g, &len)      -> the `index` file
 *
 * Rows of different cursors stay valid side by side: each cursor owns its
 * decoded row group; a row view dies when its own cursor moves.
 *
 * Threads: a reader, cursor or writer is used by one thread at a time
 * (each keeps scratch buffers); separate objects are independent.
 *
 * Ownership: objects from *_new/_open are freed by the matching *_free.
 * Views (parquet_row, byte pointers into colbufs) are borrowed and valid until the
 * cursor moves or the owning object is freed.
 *
 * Layer parquet (compactor/core/parquet/): a generic Parquet reader and
 * writer (thrift, encodings, pages, row assembly); it knows nothing of Tempo.
 * May include: base. Order: base <- parquet <- backend <- tempo <- blocklist
 * <- plan <- compact <- daemon, controller (hack/check-layers.sh).
 */
#ifndef TC_PARQUET_H
#define TC_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/tc.h"

enum parquet_type {
    PARQUET_BOOLEAN = 0,
    PARQUET_INT32 = 1,
    PARQUET_INT64 = 2,
    PARQUET_INT96 = 3,
    PARQUET_FLOAT = 4,
    PARQUET_DOUBLE = 5,
    PARQUET_BYTE_ARRAY = 6,
    PARQUET_FIXED_LEN_BYTE_ARRAY = 7,
};

enum parquet_repetition { PARQUET_REQUIRED = 0, PARQUET_OPTIONAL = 1, PARQUET_REPEATED = 2 };

enum parquet_codec {
    PARQUET_UNCOMPRESSED = 0,
    PARQUET_SNAPPY = 1,
    PARQUET_GZIP = 2,
    PARQUET_LZO = 3,
    PARQUET_BROTLI = 4,
    PARQUET_LZ4 = 5,
    PARQUET_ZSTD = 6,
    PARQUET_LZ4_RAW = 7,
};

enum parquet_encoding {
    PARQUET_PLAIN = 0,
    PARQUET_PLAIN_DICTIONARY = 2,
    PARQUET_RLE = 3,
    PARQUET_BIT_PACKED = 4,
    PARQUET_DELTA_BINARY_PACKED = 5,
    PARQUET_DELTA_LENGTH_BYTE_ARRAY = 6,
    PARQUET_DELTA_BYTE_ARRAY = 7,
    PARQUET_RLE_DICTIONARY = 8,
    PARQUET_BYTE_STREAM_SPLIT = 9,
};

enum parquet_page_type {
    PARQUET_DATA_PAGE = 0,
    PARQUET_INDEX_PAGE = 1,
    PARQUET_DICTIONARY_PAGE = 2,
    PARQUET_DATA_PAGE_V2 = 3
};

/* Converted (legacy logical) types that matter here; -1 = none. */
enum parquet_converted {
    PARQUET_CT_NONE = -1,
    PARQUET_CT_UTF8 = 0,
    PARQUET_CT_MAP = 1,
    PARQUET_CT_MAP_KEY_VALUE = 2,
    PARQUET_CT_LIST = 3,
    PARQUET_CT_UINT_8 = 11,
    PARQUET_CT_UINT_16 = 12,
    PARQUET_CT_UINT_32 = 13,
    PARQUET_CT_UINT_64 = 14,
    PARQUET_CT_INT_8 = 15,
    PARQUET_CT_INT_16 = 16,
    PARQUET_CT_INT_32 = 17,
    PARQUET_CT_INT_64 = 18,
    PARQUET_CT_JSON = 19,
};

/* Writer-side encoding choice per column (the schema tags of Tempo). */
enum parquet_colenc {
    PARQUET_COLENC_DEFAULT = 0, /* PLAIN, or DELTA_LENGTH_BYTE_ARRAY for BYTE_ARRAY */
    PARQUET_COLENC_PLAIN,
    PARQUET_COLENC_DICT,  /* RLE_DICTIONARY data pages + PLAIN dictionary page */
    PARQUET_COLENC_DELTA, /* DELTA_BINARY_PACKED (ints) */
    PARQUET_COLENC_DLBA,
    PARQUET_COLENC_DBA,
};

#define PARQUET_MAX_LEVEL 100 /* deeper schemas are rejected */

struct parquet_node {
    char *name;
    int parent;       /* node index, -1 for the root */
    int num_children; /* 0 for leaves */
    int *children;    /* node indexes, caller of the schema owns via parquet_schema */
    int leaf;         /* 1 for a column */
    int column;       /* column index for leaves, -1 otherwise */
    int type;         /* enum parquet_type (leaves) */
    int type_length;  /* FIXED_LEN_BYTE_ARRAY width */
    int repetition;   /* enum parquet_repetition (the root counts as REQUIRED) */
    int converted;    /* enum parquet_converted */
    int logical;      /* LogicalType union field id, 0 = none */
    int int_bits, int_signed;
    int def_level; /* definition level reached when this node is present */
    int rep_level; /* repetition level of this node */
    /* writer settings */
    int colenc; /* enum parquet_colenc */
    int codec;  /* enum parquet_codec */
};

struct parquet_schema {
    struct parquet_node *nodes; /* nodes[0] is the root */
    int nnodes;
    int *columns; /* node index per column */
    int ncolumns;
    char **paths; /* dotted path per column, e.g. "rs.list.element.Resource.ServiceName" */
};

/* ---- schema ---- */

/* A builder for writer schemas: group_begin/end nest, leaf adds a column.
 * Errors are sticky and reported by parquet_schema_build(). */
struct parquet_schema_builder;
struct parquet_schema_builder *parquet_sb_new(const char *root_name);
void parquet_sb_group(struct parquet_schema_builder *sb, const char *name, int repetition,
                      int converted);
void parquet_sb_end(struct parquet_schema_builder *sb);
void parquet_sb_leaf(struct parquet_schema_builder *sb, const char *name, int repetition, int type,
                     int converted, int colenc, int codec);
/* Finishes the schema; caller owns *out (parquet_schema_free). Frees sb. */
int parquet_sb_build(struct parquet_schema_builder *sb, struct parquet_schema **out,
                     struct tc_err *err);

void parquet_schema_free(struct parquet_schema *s);
/* Deep copy; caller owns the result. */
struct parquet_schema *parquet_schema_dup(const struct parquet_schema *s);
/* Column index by dotted path, or -1. */
int parquet_schema_find(const struct parquet_schema *s, const char *path);
/* Max definition / repetition level of a column. */
int parquet_schema_max_def(const struct parquet_schema *s, int col);
int parquet_schema_max_rep(const struct parquet_schema *s, int col);
/* Appends a parquet-style schema dump ("message root { ... }") to b. */
int parquet_schema_print(const struct parquet_schema *s, struct buf *b);

/* ---- column buffers ---- */

/* Decoded levels and values of one column for a run of rows. Fixed-width
 * values are packed at `width` bytes each (booleans take one byte, 0/1);
 * BYTE_ARRAY values are data[offs[i]..offs[i+1]). */
struct parquet_colbuf {
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
    /* Only in a cursor's window after parquet_cursor_keep_dict(), for a chunk
     * with a dictionary: per value, its index in dictionary dict_key (unique
     * in the process), or PARQUET_NO_DIX for a value of a non-dictionary
     * page. A writer copying the row maps the index instead of hashing the
     * value again. */
    uint32_t *dix; /* nv entries while dict_key is set */
    size_t dixcap;
    uint64_t dict_key; /* 0: no indices */
};
#define PARQUET_NO_DIX UINT32_MAX

int parquet_colbuf_init(struct parquet_colbuf *c, int type, int type_length, int max_def);
void parquet_colbuf_cleanup(struct parquet_colbuf *c);
void parquet_colbuf_reset(struct parquet_colbuf *c);
/* Appends one level entry; value is used only when def == max_def.
 * For BYTE_ARRAY, v/len is the payload; for fixed types v points at width bytes. */
int parquet_colbuf_push(struct parquet_colbuf *c, int rep, int def, int has_value, const void *v,
                        size_t len);
/* Bytes held (for row-group sizing and memory accounting). */
size_t parquet_colbuf_bytes(const struct parquet_colbuf *c);

/* A set of columns for one schema: a decoded row group, or a writer's
 * buffered rows. */
struct parquet_rowset {
    int ncols;
    struct parquet_colbuf *cols;
    int64_t nrows;
};

int parquet_rowset_init(struct parquet_rowset *rs, const struct parquet_schema *s);
void parquet_rowset_cleanup(struct parquet_rowset *rs);
void parquet_rowset_reset(struct parquet_rowset *rs);

/* A row: per column, level range [l0,l1) and value range [v0,v1). */
struct parquet_row {
    int ncols;
    const struct parquet_colbuf *cols; /* borrowed */
    const size_t *l0, *l1, *v0, *v1;
};

/* Row helpers. parquet_row_bytes returns the first value of a BYTE_ARRAY column
 * (e.g. TraceID, column 0) or NULL when the row has none there. */
const uint8_t *parquet_row_bytes(const struct parquet_row *row, int col, uint32_t *len);
/* 1 if both rows hold identical levels and values in every column. */
int parquet_row_equal(const struct parquet_row *a, const struct parquet_row *b);
/* Tempo's estimateMarshalledSizeFromParquetRow (the number of level entries
 * in the row): the row-group cut accounting. */
size_t parquet_row_estimate_size(const struct parquet_row *row);
/* Tempo's estimateProtoSizeFromParquetRow (max_bytes_per_trace checks):
 * per level entry 1, plus the length of byte-array values, else 1. */
size_t parquet_row_estimate_proto_size(const struct parquet_row *row);
/* Appends a row (same column layout) to a rowset. */
int parquet_rowset_append(struct parquet_rowset *rs, const struct parquet_row *row);
/* Walks rowset rows: *row is set to the i-th row view. Uses internal
 * per-call scratch in *it. */
struct parquet_rowiter {
    const struct parquet_rowset *rs;
    size_t *l0, *l1, *v0, *v1;
    int64_t idx;
};
int parquet_rowiter_init(struct parquet_rowiter *it, const struct parquet_rowset *rs);
void parquet_rowiter_cleanup(struct parquet_rowiter *it);
/* Returns 1 and fills *row, or 0 at the end. */
int parquet_rowiter_next(struct parquet_rowiter *it, struct parquet_row *row);

/* ---- file metadata ---- */

struct parquet_stats {
    int has_min, has_max;
    uint8_t *min, *max; /* owned copies */
    uint32_t min_len, max_len;
    int64_t null_count; /* -1 when absent */
};

struct parquet_chunk_meta {
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
    struct parquet_stats stats;
};

struct parquet_rowgroup_meta {
    int64_t num_rows;
    int64_t total_byte_size;
    int ncols;
    struct parquet_chunk_meta *cols;
};

struct parquet_kv {
    char *key, *value;
};

struct parquet_filemeta {
    int32_t version;
    int64_t num_rows;
    char *created_by;
    int nkv;
    struct parquet_kv *kv;
    int nrowgroups;
    struct parquet_rowgroup_meta *rowgroups;
    uint32_t footer_len; /* the LE u32 before the trailing PAR1 */
};

/* Parses a FileMetaData thrift struct (the footer without the 8-byte tail).
 * Caller owns *meta and *schema (parquet_filemeta_free, parquet_schema_free). */
int parquet_footer_parse(const void *data, size_t len, struct parquet_filemeta **meta,
                         struct parquet_schema **schema, struct tc_err *err);
void parquet_filemeta_free(struct parquet_filemeta *m);

/* ---- reader ---- */

struct parquet_reader;

/* Opens a file by path and reads its footer. Caller owns *out. */
int parquet_reader_open(struct parquet_reader **out, const char *path, struct tc_err *err);
/* A caller's byte source, e.g. ranged GETs on object storage. read_at
 * fills exactly len bytes at off or returns an error code with err set.
 * Remote reads are batched: one call per row group (its whole byte range),
 * plus the footer, so memory holds one compressed row group. */
struct parquet_source {
    int (*read_at)(void *ctx, uint64_t off, void *dst, size_t len, struct tc_err *err);
    void *ctx; /* borrowed */
    uint64_t size;
};
int parquet_reader_open_source(struct parquet_reader **out, const struct parquet_source *src,
                               const char *name, struct tc_err *err);
/* Same over a borrowed memory image (fuzzing, tests). */
int parquet_reader_open_mem(struct parquet_reader **out, const void *data, size_t len,
                            struct tc_err *err);
void parquet_reader_free(struct parquet_reader *r);

const struct parquet_schema *parquet_reader_schema(const struct parquet_reader *r);
const struct parquet_filemeta *parquet_reader_meta(const struct parquet_reader *r);
uint64_t parquet_reader_file_size(const struct parquet_reader *r);

/* Reads row groups as columns of `target` instead of the file schema:
 * columns are matched by dotted path; a target column missing from the file
 * gets default values (zero, false, empty) where its parent exists, nulls
 * where it is optional. Same path with another physical type is an error.
 * target is borrowed and must outlive the reader. NULL restores the file
 * schema. */
int parquet_reader_project(struct parquet_reader *r, const struct parquet_schema *target,
                           struct tc_err *err);
/* The schema rows come out in (the projection target, or the file schema). */
const struct parquet_schema *parquet_reader_row_schema(const struct parquet_reader *r);

/* Decodes row group rg into rs (initialised by the caller for the row
 * schema). rs is reset first. */
int parquet_reader_read_rowgroup(struct parquet_reader *r, int rg, struct parquet_rowset *rs,
                                 struct tc_err *err);

/* Reads the column index and offset index of one chunk (validated). */
struct parquet_page_loc {
    int64_t offset;
    int32_t compressed_size;
    int64_t first_row;
};
struct parquet_page_index {
    int npages;
    struct parquet_page_loc *locs; /* from the offset index */
    int has_column_index;
    uint8_t *null_pages;
    struct parquet_stats *bounds; /* min/max per page */
    int64_t *null_counts;
    int boundary_order;
};
int parquet_reader_page_index(struct parquet_reader *r, int rg, int col,
                              struct parquet_page_index *out, struct tc_err *err);
void parquet_page_index_cleanup(struct parquet_page_index *pi);

/* Streaming rows in file order, one decoded row group in memory. */
struct parquet_cursor;
int parquet_cursor_new(struct parquet_cursor **out, struct parquet_reader *r, struct tc_err *err);
void parquet_cursor_free(struct parquet_cursor *c);
/* Returns TC_OK with *row filled and *eof 0, or *eof 1 at the end. */
int parquet_cursor_next(struct parquet_cursor *c, struct parquet_row *row, int *eof,
                        struct tc_err *err);
/* Bytes of the decoded row group currently held (for memory accounting). */
size_t parquet_cursor_mem(const struct parquet_cursor *c);
/* Makes the cursor's rows carry their values' dictionary indices (colbuf
 * dix), for a writer that copies them. Call before the first next. */
void parquet_cursor_keep_dict(struct parquet_cursor *c);

/* ---- writer ---- */

struct parquet_writer_opts {
    size_t row_group_bytes; /* cut when the Tempo size estimate exceeds it; 0 = 100 MB */
    size_t page_bytes;      /* target page size; 0 = 256 KiB */
    const char *created_by; /* NULL = "tempo-compactor <version>" */
    int nkv;
    const struct parquet_kv *kv; /* extra key_value_metadata, borrowed */
};

struct parquet_write_info {
    uint64_t file_size;
    uint32_t footer_size; /* the LE u32 before the trailing PAR1 */
    int row_groups;
    int64_t rows;
};

struct parquet_writer;
/* Creates path (truncating) and writes rows of schema (borrowed; must
 * outlive the writer). Caller owns *out. */
int parquet_writer_open(struct parquet_writer **out, const char *path,
                        const struct parquet_schema *schema, const struct parquet_writer_opts *opts,
                        struct tc_err *err);
/* Appends a row laid out like the writer's schema. Flushes a row group first
 * when this row would push the estimate over row_group_bytes. */
int parquet_writer_write_row(struct parquet_writer *w, const struct parquet_row *row,
                             struct tc_err *err);
/* Writes the buffered rows as one row group (no-op when empty). */
int parquet_writer_flush(struct parquet_writer *w, struct tc_err *err);
/* Flushes, writes page indexes and the footer, fsyncs and closes. */
int parquet_writer_close(struct parquet_writer *w, struct parquet_write_info *info,
                         struct tc_err *err);
/* Frees; an unclosed writer leaves a partial file behind (the caller unlinks). */
void parquet_writer_free(struct parquet_writer *w);
/* Tempo's size estimate of the rows buffered for the current row group. */
size_t parquet_writer_buffered(const struct parquet_writer *w);
/* Row groups flushed so far. */
int parquet_writer_row_groups(const struct parquet_writer *w);
/* Column 0's first value in the last row of row group g (the max TraceID
 * for Tempo schemas: the entries of the block's `index` file). Borrowed,
 * valid until parquet_writer_free; NULL if g is not flushed or the value is null. */
const uint8_t *parquet_writer_rowgroup_last_key(const struct parquet_writer *w, int g,
                                                uint32_t *len);

/* A file's own schema with writer settings (encoding, codec) taken from the
 * chunk metadata of its first row group: used to rewrite vParquet3 and
 * other layouts as they are. Caller owns *out. */
int parquet_schema_from_file(const struct parquet_reader *r, struct parquet_schema **out,
                             struct tc_err *err);

/* Copies every row of r (projected onto schema) into a new file; 0 for
 * row_group_bytes/page_bytes means the writer defaults. */
int parquet_copy_rows(struct parquet_reader *r, const struct parquet_schema *schema,
                      const char *out_path, size_t row_group_bytes, size_t page_bytes,
                      struct parquet_write_info *info, struct tc_err *err);

/* ---- record assembly ---- */

enum parquet_vkind { PARQUET_V_NULL = 0, PARQUET_V_SCALAR, PARQUET_V_GROUP, PARQUET_V_LIST };

/* One schema node's value. GROUP: n = node's num_children, items[i] is the
 * i-th child. LIST: the values of a REPEATED node, n items. SCALAR: leaf
 * value; ints and booleans in i, FLOAT/DOUBLE in d, bytes in b/len. */
struct parquet_val {
    uint8_t kind;
    uint32_t n;
    struct parquet_val *items;
    int64_t i;
    double d;
    const uint8_t *b;
    uint32_t len;
};

/* A bump allocator for value trees; parquet_arena_reset keeps the first block. */
struct parquet_arena {
    struct parquet_arena_blk *head;
    size_t used_total;
};
void parquet_arena_init(struct parquet_arena *a);
void parquet_arena_cleanup(struct parquet_arena *a);
void parquet_arena_reset(struct parquet_arena *a);
void *parquet_arena_alloc(struct parquet_arena *a, size_t n);

/* Assembles row into a tree rooted at the schema root (a GROUP). Byte
 * values point into the row's colbufs (borrowed). */
int parquet_row_assemble(const struct parquet_row *row, const struct parquet_schema *s,
                         struct parquet_arena *a, struct parquet_val **out, struct tc_err *err);
/* Shreds one record (GROUP at the root) into rs, appending one row. */
int parquet_shred(const struct parquet_val *rec, const struct parquet_schema *s,
                  struct parquet_rowset *rs, struct tc_err *err);
/* Renders a record as JSON: groups -> objects, LIST-annotated groups ->
 * arrays, MAP -> arrays of {"key":..,"value":..}, 64-bit ints as strings,
 * byte arrays without a string type as hex. */
int parquet_val_json(const struct parquet_val *v, const struct parquet_schema *s, int node,
                     struct buf *b);

/* ---- navigating an assembled record ---- */

/* A position in a record tree: a schema node and its value. Navigation is
 * NULL-safe so readers of several schema versions need no checks: a field
 * the schema lacks gives node -1, an absent value (null, or an empty list)
 * gives v NULL, and both read as 0, "" or not set. The struct borrows the
 * schema and the tree; it owns nothing. */
struct parquet_nav {
    const struct parquet_schema *s;
    int node;                    /* schema node index, -1 if there is none */
    const struct parquet_val *v; /* NULL if the value is absent */
};

/* The root of a tree from parquet_row_assemble(). */
struct parquet_nav parquet_nav_root(const struct parquet_schema *s, const struct parquet_val *root);
/* The child field called name of a group. */
struct parquet_nav parquet_nav_get(struct parquet_nav p, const char *name);
/* Number of items of a 3-level LIST (or MAP) group, 0 if absent. */
uint32_t parquet_nav_len(struct parquet_nav l);
/* The i-th element of a LIST group (list.element); {-1, NULL} when i is out
 * of range or the repeated node has no child. */
struct parquet_nav parquet_nav_at(struct parquet_nav l, uint32_t i);
/* The i-th repeated group itself: a MAP's key_value (fields key, value). */
struct parquet_nav parquet_nav_entry(struct parquet_nav l, uint32_t i);
/* The scalar value of field name of p, or of p itself when name is NULL;
 * NULL when absent or not a leaf value. */
const struct parquet_val *parquet_nav_scalar(struct parquet_nav p, const char *name);
/* Integer/boolean of a scalar (0 if absent); name as for parquet_nav_scalar. */
int64_t parquet_nav_i64(struct parquet_nav p, const char *name);
/* FLOAT/DOUBLE of a scalar (0 if absent). */
double parquet_nav_f64(struct parquet_nav p, const char *name);
/* Bytes of a scalar, borrowed from the tree; "" and *len 0 if absent. */
const uint8_t *parquet_nav_bytes(struct parquet_nav p, const char *name, uint32_t *len);

/* Name helpers for dumps. */
const char *parquet_type_name(int type);
const char *parquet_codec_name(int codec);
const char *parquet_encoding_name(int enc);

#endif
