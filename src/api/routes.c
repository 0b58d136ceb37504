/*
 * routes.c - the one table of HTTP routes: method, path, handler, the
 * permission it needs (0: public) and its body limit (0: the default).
 * Adding an endpoint is one line here plus its handler.
 */
#include "api/api.h"

#define IMPORT_MAX_BODY ((size_t)4 << 30) /* the configured import_max_bytes applies below it */

const struct route api_routes[] = {
    {"GET", "/healthz", api_healthz, 0, 0},
    {"GET", "/metrics", api_metrics, PERM_METRICS, 0},
    {"POST", "/api/v1/auth/login", api_auth_login, 0, 0},
    {"POST", "/api/v1/auth/logout", api_auth_logout, PERM_NONE_BUT_LOGGED_IN, 0},
    {"GET", "/api/v1/auth/me", api_auth_me, PERM_NONE_BUT_LOGGED_IN, 0},
    {"POST", "/api/v1/requests", api_requests_create, PERM_INTAKE, 0},
    {"GET", "/api/v1/requests", api_requests_list, PERM_REQUESTS_READ, 0},
    {"GET", "/api/v1/requests/{id}", api_requests_get, PERM_REQUESTS_READ, 0},
    {"PATCH", "/api/v1/requests/{id}", api_requests_patch, PERM_REQUESTS_WRITE, 0},
    {"POST", "/api/v1/requests/{id}/messages", api_requests_message, PERM_REQUESTS_WRITE, 0},
    {"GET", "/api/v1/customers/lookup", api_customers_lookup, PERM_LOOKUP, 0},
    {"GET", "/api/v1/customers/{id}", api_customers_get, PERM_REQUESTS_READ, 0},
    {"POST", "/api/v1/orders/events", api_orders_event, PERM_ORDERS, 0},
    {"POST", "/api/v1/import", api_import, PERM_IMPORT, IMPORT_MAX_BODY},
    {"GET", "/api/v1/stream", api_stream, PERM_REQUESTS_READ, 0},
    {"GET", "/api/v1/stores", api_stores_list, PERM_REQUESTS_READ, 0},
    {"GET", "/api/v1/users", api_users_list, PERM_USERS_READ, 0},
    {"GET", "/api/v1/vocabulary", api_vocabulary, PERM_NONE_BUT_LOGGED_IN, 0},
    {"GET", "/api/v1/admin/settings", api_settings_get, PERM_ADMIN, 0},
    /* -- rules, SLA, escalation, routing, incidents, QR (src/rules) -- */
    /* -- analytics: surveys, reports, dashboards (src/analytics) -- */
    /* -- channels: webhooks, channel admin, outbox (src/channels) -- */
    {NULL, NULL, NULL, 0, 0},
};
