/* fuzz_parquet_footer.c - libFuzzer target: FileMetaData and generic thrift
 * skipping over arbitrary bytes (the footer decoder without the file). */
#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"
#include "parquet/thrift.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct parquet_filemeta *m;
    struct parquet_schema *s;
    struct tc_err err;
    struct thrift_r r;

    if (parquet_footer_parse(data, size, &m, &s, &err) == TC_OK) {
        struct buf b;
        buf_init(&b, 0);
        parquet_schema_print(s, &b);
        buf_cleanup(&b);
        parquet_filemeta_free(m);
        parquet_schema_free(s);
    }
    thrift_r_init(&r, data, size);
    thrift_skip(&r, THRIFT_STRUCT);
    return 0;
}
