/* fuzz_meta.c - libFuzzer target: a block's meta.json / meta.compacted.json
 * (JSON) and the protobuf meta of index.pb.zst entries. What decodes must
 * encode, and decode again to the same meta. */
#include <stdint.h>
#include <stdlib.h>

#include "tempo/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct meta m, again;
    struct tc_err err;
    struct buf b;

    buf_init(&b, 0);
    meta_init(&m);
    if (meta_decode_json((const char *)data, size, &m, &err) == TC_OK) {
        if (meta_encode_json(&m, m.compacted, &b) != TC_OK)
            abort();
        meta_init(&again);
        if (meta_decode_json(b.data, b.len, &again, &err) != TC_OK || !meta_equal(&m, &again))
            abort(); /* our own encoding must read back as the same meta */
    }
    meta_init(&m);
    if (meta_decode_pb(data, size, &m, &err) == TC_OK) {
        buf_reset(&b);
        if (meta_encode_pb(&m, &b) != TC_OK)
            abort();
        meta_init(&again);
        if (meta_decode_pb((const uint8_t *)b.data, b.len, &again, &err) != TC_OK ||
            !meta_equal(&m, &again))
            abort();
    }
    buf_cleanup(&b);
    return 0;
}
