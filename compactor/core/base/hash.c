/* hash.c - FNV variants and xxHash64, written from their specifications. */
#include "base/hash.h"

#include <string.h>

uint32_t
hash_fnv1a32(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

uint32_t
hash_fnv1_32(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++) {
        h *= 16777619u;
        h ^= s[i];
    }
    return h;
}

uint64_t
hash_fnv1a64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 14695981039346656037ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t
hash_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

#define P1 11400714785074694791ULL
#define P2 14029467366897019727ULL
#define P3 1609587929392839161ULL
#define P4 9650029242287828579ULL
#define P5 2870177450012600261ULL

static uint64_t
rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t
rd64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, 8); /* little-endian hosts only (x86_64, arm64) */
    return v;
}

static uint32_t
rd32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static uint64_t
round64(uint64_t acc, uint64_t in)
{
    acc += in * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static uint64_t
merge64(uint64_t acc, uint64_t v)
{
    acc ^= round64(0, v);
    return acc * P1 + P4;
}

void
hash_xxh64_init(struct hash_xxh64 *h)
{
    memset(h, 0, sizeof(*h));
    h->v[0] = P1 + P2;
    h->v[1] = P2;
    h->v[2] = 0;
    h->v[3] = (uint64_t)0 - P1;
}

void
hash_xxh64_update(struct hash_xxh64 *h, const void *data, size_t n)
{
    const unsigned char *p = data, *end = p + n;

    h->total += n;
    if (h->memsize + n < 32) {
        memcpy(h->mem + h->memsize, p, n);
        h->memsize += n;
        return;
    }
    if (h->memsize) {
        size_t fill = 32 - h->memsize;
        memcpy(h->mem + h->memsize, p, fill);
        h->v[0] = round64(h->v[0], rd64(h->mem));
        h->v[1] = round64(h->v[1], rd64(h->mem + 8));
        h->v[2] = round64(h->v[2], rd64(h->mem + 16));
        h->v[3] = round64(h->v[3], rd64(h->mem + 24));
        p += fill;
        h->memsize = 0;
    }
    while (p + 32 <= end) {
        h->v[0] = round64(h->v[0], rd64(p));
        h->v[1] = round64(h->v[1], rd64(p + 8));
        h->v[2] = round64(h->v[2], rd64(p + 16));
        h->v[3] = round64(h->v[3], rd64(p + 24));
        p += 32;
    }
    memcpy(h->mem, p, (size_t)(end - p));
    h->memsize = (size_t)(end - p);
}

uint64_t
hash_xxh64_digest(const struct hash_xxh64 *h)
{
    const unsigned char *p = h->mem, *end = p + h->memsize;
    uint64_t acc;

    if (h->total >= 32) {
        acc = rotl(h->v[0], 1) + rotl(h->v[1], 7) + rotl(h->v[2], 12) + rotl(h->v[3], 18);
        acc = merge64(acc, h->v[0]);
        acc = merge64(acc, h->v[1]);
        acc = merge64(acc, h->v[2]);
        acc = merge64(acc, h->v[3]);
    } else {
        acc = P5;
    }
    acc += h->total;
    while (p + 8 <= end) {
        acc ^= round64(0, rd64(p));
        acc = rotl(acc, 27) * P1 + P4;
        p += 8;
    }
    if (p + 4 <= end) {
        acc ^= (uint64_t)rd32(p) * P1;
        acc = rotl(acc, 23) * P2 + P3;
        p += 4;
    }
    while (p < end) {
        acc ^= (uint64_t)*p * P5;
        acc = rotl(acc, 11) * P1;
        p++;
    }
    acc ^= acc >> 33;
    acc *= P2;
    acc ^= acc >> 29;
    acc *= P3;
    acc ^= acc >> 32;
    return acc;
}

uint64_t
hash_xxh64(const void *p, size_t n)
{
    struct hash_xxh64 h;

    hash_xxh64_init(&h);
    hash_xxh64_update(&h, p, n);
    return hash_xxh64_digest(&h);
}
