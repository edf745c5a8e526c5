/* ctrl.c - controller process (placeholder while the kube client lands). */
#include "ctrl.h"

#include <stdio.h>

int
ctrl_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "run: not implemented yet\n");
    return 1;
}
