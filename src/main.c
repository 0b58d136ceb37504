/*
 * main.c - the otklik command line: one table of commands, each with --help.
 */
#include "analytics/calc.h"
#include "classify/classify.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"classify", classify_main, "train, evaluate and run the text classifier"},
    {"calc", calc_main, "metric and SLA calculators (nps, csat, erlang-c, due, ...)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: otklik COMMAND [ARGS]   (otklik COMMAND --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "otklik: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
