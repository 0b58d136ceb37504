/*
 * rules.c - lifecycle of the rules part.
 */
#include "rules/rules.h"

int rules_start(struct app *app, struct err_info *err)
{
    (void)app;
    (void)err;
    return 0;
}

void rules_stop(struct app *app)
{
    (void)app;
}
