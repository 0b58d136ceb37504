/*
 * channels.h - the channels part: channel adapters and the outbox delivery.
 * Started and stopped with the server (otklik serve).
 */
#ifndef OTKLIK_CHANNELS_H
#define OTKLIK_CHANNELS_H

#include "core/err.h"

struct app;

/* Start the part's workers for app; 0 or an ERR_* code with details in err. */
int channels_start(struct app *app, struct err_info *err);

/* Stop them (before the store closes). */
void channels_stop(struct app *app);

#endif
