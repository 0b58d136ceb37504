/*
 * calc.h - placeholder; the calculator defines its public contract here.
 */
#ifndef OTKLIK_CALC_H
#define OTKLIK_CALC_H

/* `otklik calc ...`: argv[0] is "calc".  Returns the process exit status. */
int calc_main(int argc, char **argv);

#endif
