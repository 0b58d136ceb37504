/*
 * enrich.c - classification of a request on arrival, before it is stored.
 */
#include "api/api.h"

void api_enrich_request(struct app *app, struct request_in *in, struct arena *a)
{
    (void)app;
    (void)in;
    (void)a;
}

void api_load_models(struct app *app)
{
    (void)app;
}

void api_free_models(struct app *app)
{
    (void)app;
}
