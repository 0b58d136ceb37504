/*
 * classify.h - placeholder; the classifier part defines its public contract here.
 */
#ifndef OTKLIK_CLASSIFY_H
#define OTKLIK_CLASSIFY_H

/* `otklik classify ...`: argv[0] is "classify".  Returns the process exit status. */
int classify_main(int argc, char **argv);

#endif
