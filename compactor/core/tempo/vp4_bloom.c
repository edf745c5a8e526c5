/* vp4_bloom.c - Tempo's sharded bloom filter (see vp4_bloom.h). */
#include "tempo/vp4_bloom.h"

#include <math.h>
#include <string.h>

#include "base/hash.h"
#include "base/mem.h"

static inline uint64_t
rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t
fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

void
vp4_bloom_murmur3_128(const void *data, size_t len, uint64_t *o1, uint64_t *o2)
{
    const uint8_t *p = data;
    const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    uint64_t h1 = 0, h2 = 0, k1, k2;
    size_t nblocks = len / 16;

    for (size_t i = 0; i < nblocks; i++) {
        memcpy(&k1, p + i * 16, 8); /* little-endian host, as the Go code reads */
        memcpy(&k2, p + i * 16 + 8, 8);
        k1 *= c1;
        k1 = rotl64(k1, 31);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl64(h1, 27);
        h1 += h2;
        h1 = h1 * 5 + 0x52dce729;
        k2 *= c2;
        k2 = rotl64(k2, 33);
        k2 *= c1;
        h2 ^= k2;
        h2 = rotl64(h2, 31);
        h2 += h1;
        h2 = h2 * 5 + 0x38495ab5;
    }
    {
        const uint8_t *t = p + nblocks * 16;
        size_t rem = len & 15;
        k1 = 0;
        k2 = 0;
        for (size_t i = rem; i > 8; i--)
            k2 ^= (uint64_t)t[i - 1] << (8 * (i - 9));
        if (rem > 8) {
            k2 *= c2;
            k2 = rotl64(k2, 33);
            k2 *= c1;
            h2 ^= k2;
        }
        for (size_t i = rem < 8 ? rem : 8; i > 0; i--)
            k1 ^= (uint64_t)t[i - 1] << (8 * (i - 1));
        if (rem > 0) {
            k1 *= c1;
            k1 = rotl64(k1, 31);
            k1 *= c2;
            h1 ^= k1;
        }
    }
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    *o1 = h1;
    *o2 = h2;
}

void
vp4_bloom_estimate(uint64_t n, double fp, uint64_t *m, uint32_t *k)
{
    double ln2 = log(2.0);

    if (n == 0)
        n = 1;
    *m = (uint64_t)ceil(-1.0 * (double)n * log(fp) / (ln2 * ln2));
    *k = (uint32_t)ceil(ln2 * (double)*m / (double)n);
}

int
vp4_bloom_init_raw(struct vp4_bloom *b, uint32_t shards, uint64_t m, uint32_t k)
{
    size_t nw = (size_t)((m + 63) / 64);

    memset(b, 0, sizeof(*b));
    if (shards < VP4_BLOOM_MIN_SHARDS || shards > VP4_BLOOM_MAX_SHARDS || m == 0 ||
        m > ((uint64_t)1 << 35) || k == 0 || k > 64)
        return TC_INVAL;
    b->words = tc_calloc(shards, sizeof(*b->words));
    if (b->words == NULL)
        return TC_NOMEM;
    b->shards = shards;
    b->m = m;
    b->k = k;
    for (uint32_t s = 0; s < shards; s++) {
        b->words[s] = tc_calloc(nw, sizeof(uint64_t));
        if (b->words[s] == NULL) {
            vp4_bloom_cleanup(b);
            return TC_NOMEM;
        }
    }
    return TC_OK;
}

int
vp4_bloom_init(struct vp4_bloom *b, double fp, uint64_t shard_bytes, uint64_t est_objects)
{
    uint64_t m;
    uint32_t k;
    double shards;

    if (!(fp > 0 && fp < 1) || shard_bytes == 0)
        return TC_INVAL;
    vp4_bloom_estimate(est_objects, fp, &m, &k);
    shards = ceil((double)m / ((double)shard_bytes * 8.0));
    if (shards < VP4_BLOOM_MIN_SHARDS)
        shards = VP4_BLOOM_MIN_SHARDS;
    if (shards > VP4_BLOOM_MAX_SHARDS)
        shards = VP4_BLOOM_MAX_SHARDS;
    return vp4_bloom_init_raw(b, (uint32_t)shards, shard_bytes * 8, k);
}

void
vp4_bloom_cleanup(struct vp4_bloom *b)
{
    for (uint32_t s = 0; b->words && s < b->shards; s++)
        tc_free(b->words[s]);
    tc_free(b->words);
    memset(b, 0, sizeof(*b));
}

uint32_t
vp4_bloom_shard(const uint8_t *id, size_t n, uint32_t shards)
{
    /* Go: int(util.TokenForTraceID(id)) % shards, a uint32 widened to int */
    return shards ? hash_fnv1_32(id, n) % shards : 0;
}

/* willf/bloom baseHashes: Sum128 of data, then of data || 0x01. */
static void
base_hashes(const uint8_t *id, size_t n, uint64_t h[4])
{
    uint8_t tmp[256], *buf = tmp;

    vp4_bloom_murmur3_128(id, n, &h[0], &h[1]);
    if (n + 1 > sizeof(tmp)) {
        buf = tc_malloc(n + 1);
        if (buf == NULL) {
            /* cannot happen for trace IDs (16 bytes); fall back safely */
            h[2] = h[0];
            h[3] = h[1];
            return;
        }
    }
    memcpy(buf, id, n);
    buf[n] = 1;
    vp4_bloom_murmur3_128(buf, n + 1, &h[2], &h[3]);
    if (buf != tmp)
        tc_free(buf);
}

static uint64_t
location(const uint64_t h[4], uint64_t i, uint64_t m)
{
    return (h[i % 2] + i * h[2 + (((i + (i % 2)) % 4) / 2)]) % m;
}

static void
set_bits(uint64_t *w, uint64_t m, uint32_t k, const uint64_t h[4])
{
    for (uint32_t i = 0; i < k; i++) {
        uint64_t bit = location(h, i, m);
        w[bit >> 6] |= (uint64_t)1 << (bit & 63);
    }
}

static int
test_bits(const uint64_t *w, uint64_t m, uint32_t k, const uint64_t h[4])
{
    for (uint32_t i = 0; i < k; i++) {
        uint64_t bit = location(h, i, m);
        if (!(w[bit >> 6] & ((uint64_t)1 << (bit & 63))))
            return 0;
    }
    return 1;
}

void
vp4_bloom_add(struct vp4_bloom *b, const uint8_t *id, size_t n)
{
    uint64_t h[4];

    base_hashes(id, n, h);
    set_bits(b->words[vp4_bloom_shard(id, n, b->shards)], b->m, b->k, h);
}

int
vp4_bloom_test(const struct vp4_bloom *b, const uint8_t *id, size_t n)
{
    uint64_t h[4];

    base_hashes(id, n, h);
    return test_bits(b->words[vp4_bloom_shard(id, n, b->shards)], b->m, b->k, h);
}

int
vp4_bloom_test_shard(const struct vp4_bloom *b, const uint8_t *id, size_t n)
{
    uint64_t h[4];

    base_hashes(id, n, h);
    return test_bits(b->words[0], b->m, b->k, h);
}

int
vp4_bloom_marshal(const struct vp4_bloom *b, uint32_t shard, struct buf *out)
{
    size_t nw = (size_t)((b->m + 63) / 64);
    int rc;

    if (shard >= b->shards)
        return TC_INVAL;
    if ((rc = buf_reserve(out, 24 + nw * 8)) != TC_OK)
        return rc;
    buf_put_u64be(out, b->m);
    buf_put_u64be(out, b->k);
    buf_put_u64be(out, b->m);
    for (size_t i = 0; i < nw; i++)
        if ((rc = buf_put_u64be(out, b->words[shard][i])) != TC_OK)
            return rc;
    return TC_OK;
}

static uint64_t
be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int
vp4_bloom_unmarshal(struct vp4_bloom *b, const uint8_t *data, size_t len, struct tc_err *err)
{
    uint64_t m, k, bits;
    size_t nw;
    int rc;

    memset(b, 0, sizeof(*b));
    if (len < 24)
        return tc_err_set(err, TC_CORRUPT, "bloom shard: %zu bytes, header needs 24", len);
    m = be64(data);
    k = be64(data + 8);
    bits = be64(data + 16);
    if (m == 0 || m > ((uint64_t)1 << 35) || k == 0 || k > 64 || bits != m)
        return tc_err_set(err, TC_CORRUPT, "bloom shard: m=%llu k=%llu bits=%llu invalid",
                          (unsigned long long)m, (unsigned long long)k, (unsigned long long)bits);
    nw = (size_t)((m + 63) / 64);
    if (len != 24 + nw * 8)
        return tc_err_set(err, TC_CORRUPT, "bloom shard: %zu bytes, m=%llu needs %zu", len,
                          (unsigned long long)m, 24 + nw * 8);
    if ((rc = vp4_bloom_init_raw(b, 1, m, (uint32_t)k)) != TC_OK)
        return tc_err_set(err, rc, "bloom shard: out of memory");
    for (size_t i = 0; i < nw; i++)
        b->words[0][i] = be64(data + 24 + i * 8);
    return TC_OK;
}
