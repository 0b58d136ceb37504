/*
 * analytics.c - lifecycle of the analytics part.
 */
#include "analytics/analytics.h"

int analytics_start(struct app *app, struct err_info *err)
{
    (void)app;
    (void)err;
    return 0;
}

void analytics_stop(struct app *app)
{
    (void)app;
}
