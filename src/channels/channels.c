/*
 * channels.c - lifecycle of the channels part.
 */
#include "channels/channels.h"

int channels_start(struct app *app, struct err_info *err)
{
    (void)app;
    (void)err;
    return 0;
}

void channels_stop(struct app *app)
{
    (void)app;
}
