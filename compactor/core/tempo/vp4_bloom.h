/*
 * vp4_bloom.h - Tempo's sharded bloom filter over trace IDs (tempo.md §6.4):
 * willf/bloom v2 semantics (two murmur3 x64_128 calls, seed 0, location
 * h[i%2] + i*h[2+((i+i%2)%4)/2] mod m), shard = FNV-1 32 of the ID mod the
 * shard count, every shard bloom.New(shard_bytes*8, k), and the on-disk
 * form of bloom-N: big-endian u64 m, u64 k, u64 bit length, u64 words.
 *
 * Ownership: a struct vp4_bloom is embedded by its owner: init, then
 * cleanup. Marshal appends to a caller-owned struct buf.
 */
#ifndef TC_VP4_BLOOM_H
#define TC_VP4_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/tc.h"

#define VP4_BLOOM_MIN_SHARDS 1
#define VP4_BLOOM_MAX_SHARDS 1000

struct vp4_bloom {
    uint32_t shards;
    uint64_t m; /* bits per shard */
    uint32_t k;
    uint64_t **words; /* shards x ceil(m/64) */
};

/* EstimateParameters(n, fp) of willf/bloom: m = ceil(-n ln fp / ln^2 2),
 * k = ceil(ln 2 * m / n). */
void vp4_bloom_estimate(uint64_t n, double fp, uint64_t *m, uint32_t *k);
/* Tempo's NewBloom(fp, shard_bytes, estimated_objects): shard count from
 * the estimate (clamped to 1..1000), each shard shard_bytes*8 bits. */
int vp4_bloom_init(struct vp4_bloom *b, double fp, uint64_t shard_bytes, uint64_t est_objects);
/* Explicit geometry (for reading and tests). */
int vp4_bloom_init_raw(struct vp4_bloom *b, uint32_t shards, uint64_t m, uint32_t k);
void vp4_bloom_cleanup(struct vp4_bloom *b);

/* murmur3 x64_128 with seed 0 (spaolacci/murmur3 Sum128: h1, h2). */
void vp4_bloom_murmur3_128(const void *p, size_t n, uint64_t *h1, uint64_t *h2);

uint32_t vp4_bloom_shard(const uint8_t *id, size_t n, uint32_t shards);
void vp4_bloom_add(struct vp4_bloom *b, const uint8_t *id, size_t n);
int vp4_bloom_test(const struct vp4_bloom *b, const uint8_t *id, size_t n);

/* bloom-<shard> file bytes (appended to out). */
int vp4_bloom_marshal(const struct vp4_bloom *b, uint32_t shard, struct buf *out);
/* Parses one bloom-N file into a 1-shard filter (b is initialised here;
 * use vp4_bloom_test_shard to query it). */
int vp4_bloom_unmarshal(struct vp4_bloom *b, const uint8_t *data, size_t len, struct tc_err *err);
/* Tests id against shard 0 of b (a single unmarshalled shard file). */
int vp4_bloom_test_shard(const struct vp4_bloom *b, const uint8_t *id, size_t n);

#endif
