/*
 * classify_cli.c - placeholder for `otklik classify`.
 */
#include "classify/classify.h"

#include <stdio.h>

int classify_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "otklik classify: not available in this build\n");
    return 2;
}
