/*
 * rules.h - the rules part: rules engine, SLA clocks, escalation, routing and the incident machine.
 * Started and stopped with the server (otklik serve).
 */
#ifndef OTKLIK_RULES_H
#define OTKLIK_RULES_H

#include "core/err.h"

struct app;

/* Start the part's workers for app; 0 or an ERR_* code with details in err. */
int rules_start(struct app *app, struct err_info *err);

/* Stop them (before the store closes). */
void rules_stop(struct app *app);

#endif
