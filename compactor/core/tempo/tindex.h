/*
 * tindex.h - Tempo's per-tenant block index, both encodings.
 *
 *   <tenant>/index.pb.zst   zstd(protobuf TenantIndex)    Tempo 2.7+
 *   <tenant>/index.json.gz  gzip(JSON), header name "index.json"
 *
 * Read: index.pb.zst first; index.json.gz only if the pb does not exist.
 * Write: pb then JSON; both deleted when the index would be empty
 * (research/tempo.md §1.4). The struct owns its meta arrays.
 */
#ifndef TC_TINDEX_H
#define TC_TINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "base/buf.h"
#include "tempo/meta.h"
#include "base/tc.h"

#define TINDEX_PB "index.pb.zst"
#define TINDEX_JSON "index.json.gz"
/* Largest decompressed index we accept (a 1M-block tenant is ~1 GB of JSON). */
#define TINDEX_MAX_RAW ((size_t)2 << 30)
/* Below that, the decompressed size may be at most TINDEX_MAX_RATIO times the
 * object (real indexes: 12-15x as json.gz), but always TINDEX_MIN_RAW. And
 * the bytes are checked while they are inflated (JSON: text, starting with
 * '{', whitespace outside strings dropped; protobuf: top-level fields 1-3),
 * so a bomb of zeros or spaces is refused after a few bytes, not gigabytes. */
#define TINDEX_MAX_RATIO 64
#define TINDEX_MIN_RAW ((size_t)64 << 20)
/* Largest compressed index object we fetch. */
#define TINDEX_MAX_OBJ ((size_t)512 << 20)

struct tindex {
    int64_t created_s;
    int32_t created_ns;
    struct meta *live; /* caller owns (tc_free via tindex_cleanup) */
    size_t nlive;
    struct meta *compacted; /* compacted = 1 and compacted_* set */
    size_t ncompacted;
};

void tindex_init(struct tindex *ti);
void tindex_cleanup(struct tindex *ti);

/* Decoders take the stored (compressed) bytes; on error the index is empty
 * and err names the format and the problem. */
int tindex_decode_json_gz(const void *p, size_t n, struct tindex *ti, struct tc_err *err);
int tindex_decode_pb_zst(const void *p, size_t n, struct tindex *ti, struct tc_err *err);
/* Decoders of the raw (decompressed) payloads. */
int tindex_decode_json(const char *p, size_t n, struct tindex *ti, struct tc_err *err);
int tindex_decode_pb(const uint8_t *p, size_t n, struct tindex *ti, struct tc_err *err);

/* Encoders append to out. JSON: gzip with Tempo's header bytes
 * (1f8b 0808 00096e88 00 ff "index.json\0"). pb: one zstd frame. The raw
 * variants skip compression. */
int tindex_encode_json(const struct tindex *ti, struct buf *out);
int tindex_encode_json_gz(const struct tindex *ti, struct buf *out);
int tindex_encode_pb(const struct tindex *ti, struct buf *out);
int tindex_encode_pb_zst(const struct tindex *ti, struct buf *out);

/* tindex_read() reads a tenant's index. TC_NOTFOUND when neither exists;
 * *which is set to TINDEX_PB or TINDEX_JSON (may be NULL). */
int tindex_read(struct backend *b, const char *tenant, struct tindex *ti, const char **which,
                struct tc_err *err);
/* tindex_write() writes pb then JSON, or deletes both when ti is empty. */
int tindex_write(struct backend *b, const char *tenant, const struct tindex *ti,
                 struct tc_err *err);

#endif
