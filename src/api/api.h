/*
 * api.h - the JSON API (/api/v1): the application context handlers share,
 * the route table, and one handler per endpoint, grouped one file per
 * resource (requests.c, customers.c, orders.c, import.c, auth.c, ...).
 */
#ifndef OTKLIK_API_H
#define OTKLIK_API_H

#include "core/config.h"
#include "http/http.h"
#include "store/store.h"

struct classifier;

/* Everything a handler may need; one per server process. */
struct app {
    struct store *store;
    const struct config *cfg;
    struct classifier *topic;     /* NULL when no model is loaded */
    struct classifier *sentiment; /* NULL when no model is loaded */
    int64_t started_at_ms;
    /* The parts' own state, owned by each part's *_start/_stop. */
    struct rules *rules;
    struct analytics *analytics;
    struct channels *channels;
};

/*
 * Classify a request before it is stored: topic, sentiment, confidences,
 * priority and the signals used (into in, strings in arena a).  Does
 * nothing for what the app has no model for.
 */
struct request_in;
void api_enrich_request(struct app *app, struct request_in *in, struct arena *a);

/* Load the classifier models from cfg->models_dir (missing models are logged, not fatal). */
void api_load_models(struct app *app);
void api_free_models(struct app *app);

/* The route table, terminated by an entry with fn NULL. */
extern const struct route api_routes[];

/* "user:LOGIN" or "token:NAME" for event actors (arena string). */
const char *api_actor(struct http_request *req);

/* The first problem with a body's keys: unknown names are refused, not ignored. */
int api_check_keys(struct http_request *req, json_t *body, const char *const *allowed);

int api_requests_create(struct http_request *req, struct http_response *resp);
int api_requests_list(struct http_request *req, struct http_response *resp);
int api_requests_get(struct http_request *req, struct http_response *resp);
int api_requests_patch(struct http_request *req, struct http_response *resp);
int api_requests_message(struct http_request *req, struct http_response *resp);
int api_customers_get(struct http_request *req, struct http_response *resp);
int api_customers_lookup(struct http_request *req, struct http_response *resp);
int api_orders_event(struct http_request *req, struct http_response *resp);
int api_import(struct http_request *req, struct http_response *resp);
int api_stream(struct http_request *req, struct http_response *resp);
int api_auth_login(struct http_request *req, struct http_response *resp);
int api_auth_logout(struct http_request *req, struct http_response *resp);
int api_auth_me(struct http_request *req, struct http_response *resp);
int api_stores_list(struct http_request *req, struct http_response *resp);
int api_users_list(struct http_request *req, struct http_response *resp);
int api_settings_get(struct http_request *req, struct http_response *resp);
int api_vocabulary(struct http_request *req, struct http_response *resp);
int api_healthz(struct http_request *req, struct http_response *resp);
int api_metrics(struct http_request *req, struct http_response *resp);

#endif
