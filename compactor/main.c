/*
 * main.c - tempo-compactor: the daemon, plus tool subcommands.
 *
 *   tempo-compactor -config.file=tempo.yaml [-config.expand-env] [-key=value ...]
 *   tempo-compactor version
 */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "tc.h"

int
main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "-version") == 0)) {
        printf("tempo-compactor, version %s (revision: %s)\n", tc_version, tc_revision);
        return 0;
    }
    return daemon_main(argc, argv);
}
