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
    /* The loaded models, NULL when none; read them with api_model(), which
     * stays valid for a request: a retrained model replaces one with
     * api_model_swap(), and the one replaced is freed only at the next swap. */
    struct classifier *topic;
    struct classifier *sentiment;
    struct classifier *retired[2]; /* replaced models, [0] topic, [1] sentiment */
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

/*
 * Load topic.bin and sentiment.bin from cfg->models_dir (a relative directory
 * is also looked for beside the binary, in ../models).  A missing or bad
 * model is logged and that classification is skipped.
 */
void api_load_models(struct app *app);
void api_free_models(struct app *app);

enum api_model_kind { API_MODEL_TOPIC, API_MODEL_SENTIMENT };

/* The current model of a kind, or NULL. */
struct classifier *api_model(struct app *app, enum api_model_kind kind);

/* Put fresh in service (ownership moves to app); frees the model retired before. */
void api_model_swap(struct app *app, enum api_model_kind kind, struct classifier *fresh);

/*
 * Where the model file of a kind is, into out: for topics the model retrained
 * from this database's corrections (<db>.topic.bin) when there is one, else
 * the shipped one in cfg->models_dir (resolved as api_load_models does).
 */
void api_model_path(struct app *app, enum api_model_kind kind, char *out, size_t cap);
/* The shipped model of a kind (models_dir resolved). */
void api_model_shipped_path(struct app *app, enum api_model_kind kind, char *out, size_t cap);
/* Where retraining writes this database's topic model: <db>.topic.bin. */
void api_model_retrained_path(struct app *app, char *out, size_t cap);

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
