/* fuzz_config.c - libFuzzer target: the daemon's tempo.yaml, through the
 * env expansion and the config table, as `-config.file` reads it. */
#include <stdint.h>
#include <string.h>

#include "base/cfg.h"
#include "daemon_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct daemon_config c;
    struct tc_err err;
    struct buf b;

    buf_init(&b, 0);
    memset(&c, 0, sizeof(c));
    if (cfg_defaults(&daemon_config_table, &c, &err) == TC_OK &&
        cfg_expand_env((const char *)data, size, &b, &err) == TC_OK)
        cfg_load_yaml(&daemon_config_table, &c, b.data ? b.data : "", b.len, "fuzz.yaml", &err);
    buf_reset(&b);
    cfg_render_yaml(&daemon_config_table, &c, &b); /* /status/config of what was accepted */
    daemon_config_cleanup(&c);
    buf_cleanup(&b);
    return 0;
}
