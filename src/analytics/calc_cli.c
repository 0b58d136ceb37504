/*
 * calc_cli.c - placeholder for `otklik calc`.
 */
#include "analytics/calc.h"

#include <stdio.h>

int calc_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "otklik calc: not available in this build\n");
    return 2;
}
