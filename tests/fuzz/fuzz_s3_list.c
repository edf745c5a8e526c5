/* fuzz_s3_list.c - libFuzzer target: one ListObjectsV2 response page as an
 * S3 server (or anything in between) may send it. A key handed on can
 * never be longer than the page it came from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    size_t keys, page;
};

static int
on_key(const char *key, int64_t mtime, uint64_t sz, int is_prefix, void *ud)
{
    struct seen *s = ud;

    (void)mtime;
    (void)sz;
    (void)is_prefix;
    if (strlen(key) > s->page)
        abort();
    s->keys++;
    return s->keys > 5000 ? TC_DECLINED : TC_OK; /* a page holds at most 1000 keys */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf token;
    struct tc_err err = {0};
    struct seen s = {0, size};
    int more = 0, rc;

    buf_init(&token, 0);
    rc = backend_s3_list_page((const char *)data, size, size ? data[0] % 8 : 0, on_key, &s, &token,
                              &more, &err);
    if (rc == TC_OK && more && token.len == 0)
        abort(); /* a truncated page without a token is an error, never silence */
    buf_cleanup(&token);
    return 0;
}
