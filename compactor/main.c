/*
 * main.c - tempo-compactor: the daemon, plus tool subcommands.
 *
 *   tempo-compactor -config.file=tempo.yaml [-config.expand-env] [-key=value ...]
 *   tempo-compactor parquet schema|dump|cat|ids|check|copy|gen|bench ...
 *   tempo-compactor verify-config -config.file=tempo.yaml [...]   load, check, exit 0 or 1
 *   tempo-compactor config-reference    every config key as a Markdown table
 *   tempo-compactor config-schema       every config key, default and range as JSON
 *   tempo-compactor version
 */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "daemon.h"
#include "daemon_config.h"
#include "base/tc.h"
#include "tools/tools.h"

/* Prints one rendering of the config table. */
static int
print_table(int (*render)(const struct cfg_table *, struct buf *))
{
    struct buf b;
    int rc;

    buf_init(&b, 0);
    rc = render(&daemon_config_table, &b);
    if (rc == TC_OK)
        fputs(b.data, stdout);
    buf_cleanup(&b);
    return rc == TC_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "-version") == 0)) {
        printf("tempo-compactor, version %s (revision: %s)\n", tc_version, tc_revision);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "config-reference") == 0)
        return print_table(cfg_render_markdown);
    if (argc > 1 && strcmp(argv[1], "config-schema") == 0)
        return print_table(cfg_render_json);
    if (argc > 1 && strcmp(argv[1], "verify-config") == 0) {
        struct daemon_config c;
        struct tc_err err;
        int rc = daemon_config_load(&c, argc - 1, argv + 1, &err);

        if (rc == TC_OK)
            printf("config ok\n");
        else
            fprintf(stderr, "invalid config: %s\n", err.msg);
        daemon_config_cleanup(&c);
        return rc == TC_OK ? 0 : 1;
    }
    if (argc > 1 && strcmp(argv[1], "parquet") == 0)
        return parquet_cli_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "compact") == 0)
        return compact_cli_main(argc - 1, argv + 1);
    return daemon_main(argc, argv);
}
