/* fuzz_parquet_encodings.c - libFuzzer target: the value and level decoders,
 * the page codecs, the OTLP protobuf decoders and bloom shard files on
 * arbitrary bytes. Byte 0 picks the decoder, bytes 1-3 its parameters. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "parquet/parquet_int.h"
#include "tempo/vp4.h"
#include "tempo/vp4_bloom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint32_t u32[4096];
    static int64_t i64[4096];
    static uint8_t out[1 << 16];
    struct tc_err err;
    size_t n, used;

    if (size < 4)
        return 0;
    n = ((size_t)data[2] << 8 | data[3]) % 4096;
    switch (data[0] % 8) {
    case 6: {
        /* OTLP protobuf of the vParquet3 conversion */
        struct parquet_arena a;
        struct vp4_attr at;
        struct vp4_span sp;
        struct vp4_bytes key = {data, 1};
        parquet_arena_init(&a);
        if (data[1] & 2) {
            struct vp4_bloom b;
            if (vp4_bloom_unmarshal(&b, data + 4, size - 4, &err) == TC_OK) {
                vp4_bloom_test_shard(&b, data, 4);
                vp4_bloom_cleanup(&b);
            }
        } else if (data[1] & 1)
            vp4_attr_from_pb(&a, key, data + 4, size - 4, &at);
        else
            vp4_links_from_pb(&a, data + 4, size - 4, &sp);
        parquet_arena_cleanup(&a);
        break;
    }
    case 0:
        parquet_rle_decode(data + 4, data + size, data[1] % 33, u32, n);
        parquet_rle_decode_u8(data + 4, data + size, data[1] % 9, out, n, data[2]);
        break;
    case 1:
        parquet_delta_decode(data + 4, data + size, data[1] & 1, i64, n, &used);
        break;
    case 2:
        parquet_decompress(PARQUET_SNAPPY, data + 4, size - 4, out, n * 16, &err);
        break;
    case 3:
        parquet_decompress(PARQUET_ZSTD, data + 4, size - 4, out, n * 16, &err);
        break;
    case 4:
        parquet_decompress(PARQUET_GZIP, data + 4, size - 4, out, n * 16, &err);
        break;
    case 5:
    case 7: {
        /* encoder/decoder agreement on fuzzed values */
        struct buf b;
        size_t m = (size - 4) / 8 < 4096 ? (size - 4) / 8 : 4096;
        for (size_t i = 0; i < m; i++) {
            uint64_t v = 0;
            for (int k = 0; k < 8; k++)
                v = v << 8 | data[4 + i * 8 + (size_t)k];
            i64[i] = (data[1] & 1) ? (int64_t)(int32_t)v : (int64_t)v;
        }
        buf_init(&b, 0);
        if (parquet_delta_encode(&b, data[1] & 1, i64, m) == TC_OK) {
            static int64_t back[4096];
            if (parquet_delta_decode((uint8_t *)b.data, (uint8_t *)b.data + b.len, data[1] & 1,
                                     back, m, &used) != TC_OK)
                abort();
            for (size_t i = 0; i < m; i++)
                if (back[i] != i64[i])
                    abort();
        }
        buf_cleanup(&b);
        break;
    }
    }
    return 0;
}
