/* fuzz_tindex.c - libFuzzer target: a tenant index as stored, index.json.gz
 * and index.pb.zst, and their decompressed forms. The first byte picks the
 * form; decompression is capped (tindex.h), so a bomb must fail cleanly
 * within -rss_limit_mb. */
#include <stdint.h>

#include "tempo/tindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tindex ti;
    struct tc_err err;

    if (size < 1)
        return 0;
    tindex_init(&ti);
    switch (data[0] & 3) {
    case 0:
        tindex_decode_json_gz(data + 1, size - 1, &ti, &err);
        break;
    case 1:
        tindex_decode_pb_zst(data + 1, size - 1, &ti, &err);
        break;
    case 2:
        tindex_decode_json((const char *)data + 1, size - 1, &ti, &err);
        break;
    default:
        tindex_decode_pb(data + 1, size - 1, &ti, &err);
        break;
    }
    tindex_cleanup(&ti);
    return 0;
}
