/*
 * meta.h - Tempo's BlockMeta / CompactedBlockMeta: JSON and protobuf codecs.
 *
 * A struct meta is a fixed 128-byte record. Its strings (format, tenant,
 * dataEncoding, dedicated columns) are interned process-wide by
 * meta_intern(): they are shared by every block that repeats them, live as
 * long as the process, and must never be freed by callers. So a struct meta
 * can be copied with memcpy and needs no cleanup.
 *
 * JSON follows Tempo 2.7's field order and omitempty rules (research/tempo.md
 * §1.2, §1.3); unknown keys (minID/maxID of Tempo <= 2.5) are ignored. The
 * protobuf form is v1.proto's BlockMeta (§1.4), hand-encoded.
 */
#ifndef TC_META_H
#define TC_META_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/tc.h"

struct json_t;

enum meta_encoding {
    META_ENC_NONE = 0,
    META_ENC_GZIP,
    META_ENC_LZ4_64K,
    META_ENC_LZ4_256K,
    META_ENC_LZ4_1M,
    META_ENC_LZ4,
    META_ENC_SNAPPY,
    META_ENC_ZSTD,
    META_ENC_S2,
    META_ENC__COUNT
};

struct meta {
    uint8_t id[16];
    uint8_t encoding;  /* enum meta_encoding */
    uint8_t compacted; /* 1: compacted_* is meaningful (meta.compacted.json) */
    uint16_t flags;    /* free for the blocklist's use; not encoded */
    uint32_t compaction_level;
    uint32_t index_page_size;
    uint32_t total_records;
    uint32_t bloom_shards;
    uint32_t footer_size;
    uint32_t replication_factor;
    int32_t start_ns, end_ns, compacted_ns;
    int64_t start_s, end_s, compacted_s;
    int64_t total_objects;
    uint64_t size;
    const char *version;       /* interned, never NULL ("" when absent) */
    const char *tenant;        /* interned */
    const char *data_encoding; /* interned */
    const char *dedicated;     /* interned compact JSON array text, "" when none */
};

/* meta_intern() returns the shared copy of s[0..n). NULL only on OOM.
 * Thread-safe. The result lives until process exit. */
const char *meta_intern(const char *s, size_t n);
/* meta_intern_count() is the number of distinct interned strings (tests). */
size_t meta_intern_count(void);

/* meta_init() sets every field to Go's zero value (times = 0001-01-01). */
void meta_init(struct meta *m);

const char *meta_encoding_name(unsigned enc);
/* meta_encoding_parse() maps Tempo's names ("none", "lz4-1M", ...). TC_PARSE if unknown. */
int meta_encoding_parse(const char *s, unsigned *enc);

/* meta_decode_json() parses meta.json / meta.compacted.json text (n bytes).
 * compactedTime is read when present (tenant-index entries). */
int meta_decode_json(const char *text, size_t n, struct meta *m, struct tc_err *err);
/* meta_decode_json_ref() is the jansson-only path meta_decode_json() falls
 * back to for anything its fast scanner does not take (tests compare both). */
int meta_decode_json_ref(const char *text, size_t n, struct meta *m, struct tc_err *err);
/* meta_from_json() reads one decoded JSON object (borrowed). */
int meta_from_json(const struct json_t *obj, struct meta *m, struct tc_err *err);

/* meta_encode_json() appends the Tempo 2.7 JSON form. with_compacted_time
 * adds "compactedTime" last, as in the tenant index. */
int meta_encode_json(const struct meta *m, int with_compacted_time, struct buf *out);
/* meta_encode_json_ids() is a block's meta.json with minID and maxID (base64
 * trace IDs, as Tempo <= 2.5 wrote them; later versions ignore them). The
 * struct does not hold them: 100k metas in memory would carry 3.2 MB more. */
int meta_encode_json_ids(const struct meta *m, const uint8_t *min, uint32_t min_len,
                         const uint8_t *max, uint32_t max_len, struct buf *out);

/* meta_encode_pb() appends the BlockMeta message body (no outer tag). */
int meta_encode_pb(const struct meta *m, struct buf *out);
/* meta_decode_pb() parses a BlockMeta message body of n bytes. */
int meta_decode_pb(const uint8_t *p, size_t n, struct meta *m, struct tc_err *err);

/* meta_equal() compares every encoded field (interned strings by pointer). */
int meta_equal(const struct meta *a, const struct meta *b);

/* meta_json_string() appends s as a JSON string escaped like Go's
 * encoding/json (HTML-safe: <, >, & as \u00XX). */
int meta_json_string(struct buf *out, const char *s);

/* Protobuf helpers shared with the tenant-index codec. pb_read_* advance *p
 * and return TC_OK or TC_PARSE at a truncated or overlong field. */
int meta_pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);
int meta_pb_skip(const uint8_t **p, const uint8_t *end, unsigned wire);
int meta_pb_put_tag(struct buf *out, unsigned field, unsigned wire);
int meta_pb_put_time(struct buf *out, unsigned field, int64_t sec, int32_t nsec);
int meta_pb_read_time(const uint8_t *p, size_t n, int64_t *sec, int32_t *nsec);

#endif
