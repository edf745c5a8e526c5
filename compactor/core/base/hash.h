/*
 * hash.h - the non-cryptographic hashes Tempo's formats depend on.
 *
 * Each has one purpose in Tempo, and mixing them up breaks compatibility:
 * FNV-1a 32 for ring ownership of job strings, FNV-1 32 for the bloom shard
 * of a trace ID, xxHash64 for the dedicated-columns hash in the selector.
 */
#ifndef TC_HASH_H
#define TC_HASH_H

#include <stddef.h>
#include <stdint.h>

uint32_t hash_fnv1a32(const void *p, size_t n);
uint32_t hash_fnv1_32(const void *p, size_t n);
uint64_t hash_fnv1a64(const void *p, size_t n);

/* Streaming xxHash64 with seed 0 (github.com/cespare/xxhash semantics). */
struct hash_xxh64 {
    uint64_t v[4];
    uint64_t total;
    unsigned char mem[32];
    size_t memsize;
};
void hash_xxh64_init(struct hash_xxh64 *h);
void hash_xxh64_update(struct hash_xxh64 *h, const void *p, size_t n);
uint64_t hash_xxh64_digest(const struct hash_xxh64 *h);
uint64_t hash_xxh64(const void *p, size_t n);

/* splitmix64 finalizer: spreads the bits of x (for rendezvous hashing). */
uint64_t hash_mix64(uint64_t x);

#endif
