/*
 * analytics.h - the analytics part: surveys, rollups, trends and reports.
 * Started and stopped with the server (otklik serve).
 */
#ifndef OTKLIK_ANALYTICS_H
#define OTKLIK_ANALYTICS_H

#include "core/err.h"

struct app;

/* Start the part's workers for app; 0 or an ERR_* code with details in err. */
int analytics_start(struct app *app, struct err_info *err);

/* Stop them (before the store closes). */
void analytics_stop(struct app *app);

#endif
