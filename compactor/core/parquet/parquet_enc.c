/* parquet_enc.c - Parquet encodings (RLE hybrid, delta) and page codecs. */
#include <string.h>

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "base/mem.h"
#include "parquet/parquet_int.h"

int
parquet_bit_width(uint64_t maxv)
{
    int bw = 0;

    while (maxv) {
        bw++;
        maxv >>= 1;
    }
    return bw;
}

/* Reads `bw` bits at bit offset `bit` of p (LSB-first packing). The caller
 * guarantees the bytes exist. */
static inline uint64_t
get_bits(const uint8_t *p, uint64_t bit, int bw)
{
    uint64_t v = 0;
    int got = 0;

    while (got < bw) {
        uint64_t byte = bit >> 3;
        int off = (int)(bit & 7);
        int take = 8 - off;
        if (take > bw - got)
            take = bw - got;
        v |= (uint64_t)((p[byte] >> off) & ((1u << take) - 1)) << got;
        got += take;
        bit += (uint64_t)take;
    }
    return v;
}

int
parquet_rle_decode(const uint8_t *p, const uint8_t *end, int bw, uint32_t *out, size_t n)
{
    size_t i = 0;

    if (bw < 0 || bw > 32)
        return TC_CORRUPT;
    if (bw == 0) {
        /* every value is 0; the stream may still hold run headers */
        memset(out, 0, n * sizeof(*out));
        return TC_OK;
    }
    while (i < n) {
        uint64_t h;
        size_t k = thrift_uvarint(p, end, &h);
        if (k == 0)
            return TC_CORRUPT;
        p += k;
        if (h & 1) {
            /* bit-packed: (h>>1) groups of 8 values */
            uint64_t groups = h >> 1, cnt, bytes;
            if (groups == 0 || groups > ((uint64_t)1 << 32))
                return TC_CORRUPT;
            cnt = groups * 8;
            bytes = groups * (uint64_t)bw;
            if (bytes > (uint64_t)(end - p)) {
                /* writers may truncate the last group: take what is there */
                uint64_t avail_vals = (uint64_t)(end - p) * 8 / (uint64_t)bw;
                if (avail_vals < n - i)
                    return TC_CORRUPT;
                bytes = (uint64_t)(end - p);
                cnt = avail_vals;
            }
            {
                uint64_t j = 0;
                /* whole groups: an accumulator instead of per-value bit walks */
                for (; j + 8 <= cnt && i + 8 <= n && (j / 8 + 1) * (uint64_t)bw <= bytes; j += 8) {
                    const uint8_t *q = p + (j / 8) * (uint64_t)bw;
                    uint64_t acc = 0;
                    int nacc = 0, qi = 0;
                    uint32_t mask = bw == 32 ? 0xffffffffu : ((1u << bw) - 1);
                    for (int v = 0; v < 8; v++) {
                        while (nacc < bw) {
                            acc |= (uint64_t)q[qi++] << nacc;
                            nacc += 8;
                        }
                        out[i++] = (uint32_t)acc & mask;
                        acc >>= bw;
                        nacc -= bw;
                    }
                }
                for (; j < cnt && i < n; j++)
                    out[i++] = (uint32_t)get_bits(p, j * (uint64_t)bw, bw);
            }
            p += bytes;
        } else {
            uint64_t cnt = h >> 1;
            int nb = (bw + 7) / 8;
            uint32_t v = 0;
            if (nb > end - p)
                return TC_CORRUPT;
            for (int b = 0; b < nb; b++)
                v |= (uint32_t)p[b] << (8 * b);
            p += nb;
            if (bw < 32 && (v >> bw) != 0)
                return TC_CORRUPT;
            if (cnt == 0)
                return TC_CORRUPT;
            while (cnt-- > 0 && i < n)
                out[i++] = v;
        }
    }
    return TC_OK;
}

/* Packs nv (<= 8) values LSB-first at bw bits into out; returns bytes
 * written (bw per 8 values, the group is zero-padded). */
static size_t
pack_bits(uint8_t *out, int bw, const uint64_t *v, size_t nv, size_t group)
{
    uint64_t acc = 0;
    int nacc = 0;
    size_t o = 0;

    for (size_t j = 0; j < group; j++) {
        uint64_t x = j < nv ? v[j] : 0;
        if (bw < 64)
            x &= ((uint64_t)1 << bw) - 1;
        /* add bw bits: split when they do not fit the accumulator */
        if (nacc + bw <= 64) {
            acc |= x << nacc;
            nacc += bw;
        } else {
            int first = 64 - nacc;
            acc |= x << nacc;
            for (int k = 0; k < 8; k++)
                out[o++] = (uint8_t)(acc >> (8 * k));
            acc = first < 64 ? x >> first : 0;
            nacc = bw - first;
        }
        while (nacc >= 8) {
            out[o++] = (uint8_t)acc;
            acc >>= 8;
            nacc -= 8;
        }
    }
    if (nacc > 0)
        out[o++] = (uint8_t)acc;
    return o;
}

int
parquet_rle_decode_u8(const uint8_t *p, const uint8_t *end, int bw, uint8_t *out, size_t n,
                      uint8_t max)
{
    size_t i = 0;

    if (bw < 0 || bw > 8)
        return TC_CORRUPT;
    if (bw == 0) {
        memset(out, 0, n);
        return TC_OK;
    }
    while (i < n) {
        uint64_t h;
        size_t k = thrift_uvarint(p, end, &h);
        if (k == 0)
            return TC_CORRUPT;
        p += k;
        if (h & 1) {
            uint64_t groups = h >> 1, bytes, cnt;
            uint32_t mask = (1u << bw) - 1;
            if (groups == 0 || groups > ((uint64_t)1 << 32))
                return TC_CORRUPT;
            bytes = groups * (uint64_t)bw;
            cnt = groups * 8;
            if (bytes > (uint64_t)(end - p)) {
                uint64_t avail = (uint64_t)(end - p) * 8 / (uint64_t)bw;
                if (avail < n - i)
                    return TC_CORRUPT;
                bytes = (uint64_t)(end - p);
                cnt = avail;
            }
            {
                uint64_t acc = 0, j = 0;
                int nacc = 0;
                const uint8_t *q = p;
                for (; j < cnt && i < n; j++) {
                    uint32_t v;
                    if (nacc < bw) {
                        acc |= (uint64_t)*q++ << nacc;
                        nacc += 8;
                    }
                    v = (uint32_t)acc & mask;
                    acc >>= bw;
                    nacc -= bw;
                    if (v > max)
                        return TC_CORRUPT;
                    out[i++] = (uint8_t)v;
                }
            }
            p += bytes;
        } else {
            uint64_t cnt = h >> 1;
            uint32_t v;
            if (p >= end || cnt == 0)
                return TC_CORRUPT;
            v = *p++; /* bw <= 8: one byte */
            if (v > max)
                return TC_CORRUPT;
            if (cnt > n - i)
                cnt = n - i;
            memset(out + i, (int)v, (size_t)cnt);
            i += (size_t)cnt;
        }
    }
    return TC_OK;
}

/*
 * The hybrid encoder. The run split is fixed (the output must not change):
 * a run of >= 8 equal values, or one that reaches the end, is an RLE run;
 * otherwise groups of 8 are bit-packed until a group starts a run of >= 8
 * (or 63 groups). Levels come as bytes, dictionary indices as uint32; one
 * body serves both, inlined per element size so the loads are direct.
 */
#define RLE_INLINE static inline __attribute__((always_inline))

RLE_INLINE uint32_t
rle_at(const void *v, size_t i, int esz)
{
    return esz == 1 ? ((const uint8_t *)v)[i] : ((const uint32_t *)v)[i];
}

/* Length of the run of v[i]'s value starting at i, counting at most up to
 * index end. Bytes are compared 8 at a time. */
RLE_INLINE size_t
rle_run(const void *v, size_t i, size_t end, int esz)
{
    size_t j = i + 1;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (esz == 1) {
        const uint8_t *p = v;
        uint64_t pat = p[i] * 0x0101010101010101ULL;
        for (; j + 8 <= end; j += 8) {
            uint64_t x;
            memcpy(&x, p + j, 8);
            x ^= pat;
            if (x)
                return j + ((size_t)__builtin_ctzll(x) >> 3) - i;
        }
    }
#endif
    while (j < end && rle_at(v, j, esz) == rle_at(v, i, esz))
        j++;
    return j - i;
}

RLE_INLINE uint8_t *
rle_uvarint(uint8_t *o, uint64_t x)
{
    while (x >= 0x80) {
        *o++ = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    *o++ = (uint8_t)x;
    return o;
}

/* 8 byte values at bw <= 8 bits fit one word: the low bw bits of each byte
 * are joined in three halvings (byte pairs, then 16- and 32-bit lanes), each
 * lane's high half shifted next to its low half, so the packed bits end up
 * LSB first in the low bw bytes. Writes 8 bytes, of which bw count (the
 * caller leaves room). */
RLE_INLINE uint8_t *
rle_pack8_u8(uint8_t *o, int bw, const uint8_t *v)
{
    uint64_t x, m;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&x, v, 8);
#else
    x = 0;
    for (int k = 0; k < 8; k++)
        x |= (uint64_t)v[k] << (8 * k);
#endif
    m = (((uint64_t)1 << bw) - 1) * 0x0001000100010001ULL;
    x = (x & m) | ((x >> 8) & m) << bw;
    m = (((uint64_t)1 << (2 * bw)) - 1) * 0x0000000100000001ULL;
    x = (x & m) | ((x >> 16) & m) << (2 * bw);
    x = (x & 0xffffffffULL) | (x >> 32) << (4 * bw);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(o, &x, 8);
#else
    for (int k = 0; k < 8; k++)
        o[k] = (uint8_t)(x >> (8 * k));
#endif
    return o + bw;
}

/* One group of 8 (a short last group is zero-padded). */
RLE_INLINE uint8_t *
rle_group(uint8_t *o, int bw, const void *v, size_t off, size_t cnt, int esz)
{
    if (esz == 1) {
        uint8_t tmp[8] = {0};
        const uint8_t *p = (const uint8_t *)v + off;
        if (cnt < 8) {
            memcpy(tmp, p, cnt);
            p = tmp;
        }
        /* the level widths get constant shifts */
        switch (bw) {
        case 1:
            return rle_pack8_u8(o, 1, p);
        case 2:
            return rle_pack8_u8(o, 2, p);
        case 3:
            return rle_pack8_u8(o, 3, p);
        default:
            return rle_pack8_u8(o, bw, p);
        }
    }
    {
        const uint32_t *q = (const uint32_t *)v + off;
        uint32_t mask = (uint32_t)(((uint64_t)1 << bw) - 1);
        uint64_t acc = 0;
        int nacc = 0;
        for (size_t j = 0; j < 8; j++) {
            acc |= (uint64_t)(j < cnt ? q[j] & mask : 0) << nacc;
            nacc += bw;
            while (nacc >= 8) {
                *o++ = (uint8_t)acc;
                acc >>= 8;
                nacc -= 8;
            }
        }
        return o; /* 8 * bw bits: nacc is 0 */
    }
}

RLE_INLINE int
rle_encode(struct buf *b, int bw, const void *v, size_t n, int esz)
{
    /* worst case: a run header (<= 10 bytes) and value (<= 4) per 8 values,
     * the packed bits, and the 8-byte stores' slack */
    size_t groups_max = n / 8 + 2, bound = groups_max * (14 + (size_t)bw) + 8;
    int nb = (bw + 7) / 8, rc;
    uint8_t *o0, *o;
    size_t i = 0;

    if (bw < 0 || bw > (esz == 1 ? 8 : 32))
        return TC_INVAL;
    if ((rc = buf_reserve(b, bound)) != TC_OK)
        return rc;
    o0 = o = (uint8_t *)b->data + b->len;
    while (i < n) {
        size_t run = rle_run(v, i, n, esz);
        if (run >= 8 || i + run == n) {
            uint32_t x = rle_at(v, i, esz);
            o = rle_uvarint(o, (uint64_t)run << 1);
            for (int k = 0; k < nb; k++)
                *o++ = (uint8_t)(x >> (8 * k));
            i += run;
            continue;
        }
        {
            size_t start = i, groups = 0;
            while (i < n) {
                if (groups > 0 && i + 8 <= n && rle_run(v, i, i + 8, esz) >= 8)
                    break;
                i = i + 8 < n ? i + 8 : n;
                if (++groups >= 63)
                    break;
            }
            *o++ = (uint8_t)((groups << 1) | 1); /* < 128: one varint byte */
            for (size_t g = 0; g < groups; g++) {
                size_t off = start + g * 8;
                o = rle_group(o, bw, v, off, off + 8 <= n ? 8 : n - off, esz);
            }
        }
    }
    b->len += (size_t)(o - o0);
    b->data[b->len] = '\0';
    return TC_OK;
}

int
parquet_rle_encode(struct buf *b, int bw, const uint32_t *v, size_t n)
{
    return rle_encode(b, bw, v, n, 4);
}

int
parquet_rle_encode_u8(struct buf *b, int bw, const uint8_t *v, size_t n)
{
    return rle_encode(b, bw, v, n, 1);
}

int
parquet_delta_decode(const uint8_t *p, const uint8_t *end, int is32, int64_t *out, size_t n,
                     size_t *used)
{
    const uint8_t *start = p;
    uint64_t block, nmini, total, zz;
    size_t k, i = 0, per_mini;
    int64_t last;

    if ((k = thrift_uvarint(p, end, &block)) == 0)
        return TC_CORRUPT;
    p += k;
    if ((k = thrift_uvarint(p, end, &nmini)) == 0)
        return TC_CORRUPT;
    p += k;
    if ((k = thrift_uvarint(p, end, &total)) == 0)
        return TC_CORRUPT;
    p += k;
    if ((k = thrift_uvarint(p, end, &zz)) == 0)
        return TC_CORRUPT;
    p += k;
    if (block == 0 || block % 128 != 0 || block > (1u << 20) || nmini == 0 || block % nmini ||
        (block / nmini) % 32 != 0)
        return TC_CORRUPT;
    if (total != n)
        return TC_CORRUPT;
    per_mini = (size_t)(block / nmini);
    last = thrift_unzigzag(zz);
    if (n > 0)
        out[i++] = is32 ? (int64_t)(int32_t)last : last;
    while (i < n) {
        int64_t min_delta;
        const uint8_t *widths;
        if ((k = thrift_uvarint(p, end, &zz)) == 0)
            return TC_CORRUPT;
        p += k;
        min_delta = thrift_unzigzag(zz);
        if ((uint64_t)(end - p) < nmini)
            return TC_CORRUPT;
        widths = p;
        p += nmini;
        for (uint64_t m = 0; m < nmini && i < n; m++) {
            int bw = widths[m];
            uint64_t bytes = (uint64_t)per_mini * (uint64_t)bw / 8;
            if (bw > 64)
                return TC_CORRUPT;
            if (bytes > (uint64_t)(end - p)) {
                /* the last miniblock may be cut short by some writers */
                uint64_t need = ((uint64_t)(n - i) * (uint64_t)bw + 7) / 8;
                if (need > (uint64_t)(end - p))
                    return TC_CORRUPT;
                bytes = (uint64_t)(end - p);
            }
            for (size_t j = 0; j < per_mini && i < n; j++) {
                uint64_t d = bw ? get_bits(p, (uint64_t)j * (uint64_t)bw, bw) : 0;
                uint64_t v = (uint64_t)last + (uint64_t)min_delta + d;
                last = is32 ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
                out[i++] = last;
            }
            p += bytes;
        }
    }
    *used = (size_t)(p - start);
    return TC_OK;
}

int
parquet_delta_encode(struct buf *b, int is32, const int64_t *v, size_t n)
{
    enum { BLOCK = 128, NMINI = 4, PER = 32 };
    int rc;
    size_t i;
    uint64_t deltas[BLOCK];

    rc = buf_put_uvarint(b, BLOCK);
    if (rc == TC_OK)
        rc = buf_put_uvarint(b, NMINI);
    if (rc == TC_OK)
        rc = buf_put_uvarint(b, n);
    if (rc == TC_OK)
        rc = buf_put_uvarint(b, thrift_zigzag(n ? v[0] : 0));
    i = 1;
    while (rc == TC_OK && i < n) {
        size_t cnt = n - i < BLOCK ? n - i : BLOCK;
        int64_t min = INT64_MAX;
        uint8_t widths[NMINI];
        /* deltas in wrapping arithmetic (32-bit for INT32 columns) */
        for (size_t j = 0; j < cnt; j++) {
            int64_t d;
            if (is32)
                d = (int64_t)(int32_t)((uint32_t)v[i + j] - (uint32_t)v[i + j - 1]);
            else
                d = (int64_t)((uint64_t)v[i + j] - (uint64_t)v[i + j - 1]);
            deltas[j] = (uint64_t)d;
            if (d < min)
                min = d;
        }
        for (size_t j = 0; j < cnt; j++)
            deltas[j] =
                is32 ? (uint64_t)(uint32_t)(deltas[j] - (uint64_t)min) : deltas[j] - (uint64_t)min;
        for (int m = 0; m < NMINI; m++) {
            uint64_t mx = 0;
            for (size_t j = (size_t)m * PER; j < (size_t)(m + 1) * PER && j < cnt; j++)
                mx |= deltas[j];
            widths[m] = (size_t)m * PER < cnt ? (uint8_t)parquet_bit_width(mx) : 0;
        }
        rc = buf_put_uvarint(b, thrift_zigzag(min));
        if (rc == TC_OK)
            rc = buf_append(b, widths, NMINI);
        for (int m = 0; m < NMINI && rc == TC_OK; m++) {
            uint8_t tmp[PER * 8 + 8];
            size_t off = (size_t)m * PER, o = 0;
            if (off >= cnt)
                break; /* trailing empty miniblocks are omitted */
            for (size_t g = 0; g < PER; g += 8)
                o += pack_bits(tmp + o, widths[m], deltas + off + g,
                               off + g < cnt ? (cnt - off - g < 8 ? cnt - off - g : 8) : 0, 8);
            rc = buf_append(b, tmp, o);
        }
        i += cnt;
    }
    return rc;
}

int
parquet_decompress(int codec, const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                   struct tc_err *err)
{
    switch (codec) {
    case PARQUET_UNCOMPRESSED:
        if (src_len != dst_len)
            return tc_err_set(err, TC_CORRUPT, "uncompressed page: size %zu, header says %zu",
                              src_len, dst_len);
        memcpy(dst, src, src_len);
        return TC_OK;
    case PARQUET_SNAPPY: {
        size_t ul;
        if (snappy_uncompressed_length((const char *)src, src_len, &ul) != SNAPPY_OK ||
            ul != dst_len)
            return tc_err_set(err, TC_CORRUPT, "snappy page: bad length header");
        if (snappy_uncompress((const char *)src, src_len, (char *)dst, &ul) != SNAPPY_OK ||
            ul != dst_len)
            return tc_err_set(err, TC_CORRUPT, "snappy page: corrupt data");
        return TC_OK;
    }
    case PARQUET_ZSTD: {
        size_t r = ZSTD_decompress(dst, dst_len, src, src_len);
        if (ZSTD_isError(r) || r != dst_len)
            return tc_err_set(err, TC_CORRUPT, "zstd page: %s",
                              ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short output");
        return TC_OK;
    }
    case PARQUET_GZIP: {
        z_stream zs;
        int zr;
        size_t done = 0;
        memset(&zs, 0, sizeof(zs));
        /* 32+15: accept gzip or zlib wrappers */
        if (inflateInit2(&zs, 32 + 15) != Z_OK)
            return tc_err_set(err, TC_NOMEM, "gzip page: inflateInit failed");
        zs.next_in = (Bytef *)(uintptr_t)src;
        zs.avail_in = (uInt)src_len;
        zs.next_out = dst;
        zs.avail_out = (uInt)dst_len;
        zr = inflate(&zs, Z_FINISH);
        done = dst_len - zs.avail_out;
        inflateEnd(&zs);
        if (zr != Z_STREAM_END || done != dst_len)
            return tc_err_set(err, TC_CORRUPT, "gzip page: corrupt data");
        return TC_OK;
    }
    default:
        return tc_err_set(err, TC_UNSUPPORTED, "codec %s is not supported",
                          parquet_codec_name(codec));
    }
}

int
parquet_compress(int codec, const uint8_t *src, size_t len, struct buf *out, struct tc_err *err)
{
    int rc;

    buf_reset(out);
    switch (codec) {
    case PARQUET_UNCOMPRESSED:
        return buf_append(out, src, len);
    case PARQUET_SNAPPY: {
        size_t cap = snappy_max_compressed_length(len);
        rc = buf_reserve(out, cap);
        if (rc != TC_OK)
            return tc_err_set(err, rc, "snappy: buffer");
        if (snappy_compress((const char *)src, len, out->data, &cap) != SNAPPY_OK)
            return tc_err_set(err, TC_ERR, "snappy: compress failed");
        out->len = cap;
        return TC_OK;
    }
    case PARQUET_ZSTD: {
        size_t cap = ZSTD_compressBound(len), r;
        rc = buf_reserve(out, cap);
        if (rc != TC_OK)
            return tc_err_set(err, rc, "zstd: buffer");
        r = ZSTD_compress(out->data, cap, src, len, 3);
        if (ZSTD_isError(r))
            return tc_err_set(err, TC_ERR, "zstd: %s", ZSTD_getErrorName(r));
        out->len = r;
        return TC_OK;
    }
    case PARQUET_GZIP: {
        z_stream zs;
        size_t cap;
        memset(&zs, 0, sizeof(zs));
        if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return tc_err_set(err, TC_NOMEM, "gzip: deflateInit failed");
        cap = deflateBound(&zs, len) + 32;
        rc = buf_reserve(out, cap);
        if (rc != TC_OK) {
            deflateEnd(&zs);
            return tc_err_set(err, rc, "gzip: buffer");
        }
        zs.next_in = (Bytef *)(uintptr_t)src;
        zs.avail_in = (uInt)len;
        zs.next_out = (Bytef *)out->data;
        zs.avail_out = (uInt)cap;
        if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
            deflateEnd(&zs);
            return tc_err_set(err, TC_ERR, "gzip: deflate failed");
        }
        out->len = cap - zs.avail_out;
        deflateEnd(&zs);
        return TC_OK;
    }
    default:
        return tc_err_set(err, TC_UNSUPPORTED, "codec %s is not supported for writing",
                          parquet_codec_name(codec));
    }
}

int
parquet_leaf_unsigned(const struct parquet_node *leaf)
{
    if (leaf->converted >= PARQUET_CT_UINT_8 && leaf->converted <= PARQUET_CT_UINT_64)
        return 1;
    return leaf->logical == 10 && !leaf->int_signed && leaf->int_bits > 0;
}

int
parquet_value_cmp(const struct parquet_node *leaf, const uint8_t *a, uint32_t alen,
                  const uint8_t *b, uint32_t blen)
{
    switch (leaf->type) {
    case PARQUET_BOOLEAN:
        return (int)a[0] - (int)b[0];
    case PARQUET_INT32: {
        int32_t x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        if (parquet_leaf_unsigned(leaf))
            return (uint32_t)x < (uint32_t)y ? -1 : (uint32_t)x > (uint32_t)y;
        return x < y ? -1 : x > y;
    }
    case PARQUET_INT64: {
        int64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (parquet_leaf_unsigned(leaf))
            return (uint64_t)x < (uint64_t)y ? -1 : (uint64_t)x > (uint64_t)y;
        return x < y ? -1 : x > y;
    }
    case PARQUET_FLOAT: {
        float x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return x < y ? -1 : x > y;
    }
    case PARQUET_DOUBLE: {
        double x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x < y ? -1 : x > y;
    }
    default: {
        uint32_t m = alen < blen ? alen : blen;
        int c = m ? memcmp(a, b, m) : 0;
        if (c)
            return c;
        return alen < blen ? -1 : alen > blen;
    }
    }
}
