/* fuzz_render.c - libFuzzer target: a TempoCompactor custom resource (JSON,
 * as the API server returns it, possibly bypassing the CRD's schema) to the
 * manifests the controller applies. Rejection must name a field; success
 * must give a non-empty array. */
#include <stdint.h>
#include <stdlib.h>

#include "render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct render_result res;
    struct tc_err err;
    json_t *cr = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    int rc;

    if (cr == NULL)
        return 0;
    err.msg[0] = '\0';
    rc = render_manifests(cr, &res, &err);
    if (rc == TC_OK) {
        if (!json_is_array(res.manifests) || json_array_size(res.manifests) == 0)
            abort();
        render_result_cleanup(&res);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    json_decref(cr);
    return 0;
}
