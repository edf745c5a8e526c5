/* main.c - tempo-compactor entry point (placeholder until the daemon lands). */
#include <stdio.h>
#include "tc.h"
int
main(void)
{
    printf("tempo-compactor %s\n", tc_version);
    return 0;
}
