/*
 * routes.c - the one table of HTTP routes: method, path, handler, the
 * permission it needs (0: public) and its body limit (0: the default).
 * Adding an endpoint is one line here plus its handler.
 */
#include "api/api.h"
#include "rules/rules.h"
#include "channels/channels.h"

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
    {"GET", "/api/v1/rules", rules_api_list, PERM_ADMIN, 0},
    {"POST", "/api/v1/rules", rules_api_create, PERM_ADMIN, 0},
    {"POST", "/api/v1/rules/dry-run", rules_api_dry_run, PERM_ADMIN, 0},
    {"GET", "/api/v1/rules/{id}", rules_api_get, PERM_ADMIN, 0},
    {"PUT", "/api/v1/rules/{id}", rules_api_update, PERM_ADMIN, 0},
    {"DELETE", "/api/v1/rules/{id}", rules_api_delete, PERM_ADMIN, 0},
    {"GET", "/api/v1/requests/{id}/sla", rules_api_request_sla, PERM_REQUESTS_READ, 0},
    {"POST", "/api/v1/requests/{id}/escalate", rules_api_escalate, PERM_REQUESTS_WRITE, 0},
    {"POST", "/api/v1/requests/{id}/escalation/confirm", rules_api_escalation_confirm, PERM_REQUESTS_WRITE, 0},
    {"POST", "/api/v1/requests/{id}/links", rules_api_link, PERM_REQUESTS_WRITE, 0},
    {"POST", "/api/v1/requests/{id}/transfer", rules_api_transfer, PERM_REQUESTS_WRITE | PERM_USERS_READ, 0},
    {"POST", "/api/v1/requests/{id}/goodwill", rules_api_goodwill, PERM_REQUESTS_WRITE, 0},
    {"POST", "/api/v1/goodwill/{id}/{decision}", rules_api_goodwill_decide, PERM_REQUESTS_WRITE | PERM_USERS_READ, 0},
    {"GET", "/api/v1/admin/goodwill-limits", rules_api_goodwill_limits_get, PERM_ADMIN, 0},
    {"PUT", "/api/v1/admin/goodwill-limits", rules_api_goodwill_limits_put, PERM_ADMIN, 0},
    {"GET", "/api/v1/sla/policies", rules_api_sla_policies, PERM_REQUESTS_READ, 0},
    {"PUT", "/api/v1/sla/policies/{id}", rules_api_sla_policy_put, PERM_ADMIN, 0},
    {"PUT", "/api/v1/sla/calendars/{code}", rules_api_calendar_put, PERM_ADMIN, 0},
    {"GET", "/api/v1/sla/compliance", rules_api_sla_compliance, PERM_REQUESTS_READ, 0},
    {"GET", "/api/v1/escalation/matrix", rules_api_matrix_get, PERM_REQUESTS_READ, 0},
    {"PUT", "/api/v1/escalation/matrix", rules_api_matrix_put, PERM_ADMIN, 0},
    {"GET", "/api/v1/notifications", rules_api_notifications, PERM_NONE_BUT_LOGGED_IN, 0},
    {"POST", "/api/v1/notifications/{id}/read", rules_api_notification_read, PERM_NONE_BUT_LOGGED_IN, 0},
    {"PUT", "/api/v1/routing/me", rules_api_routing_me, PERM_REQUESTS_WRITE, 0},
    {"POST", "/api/v1/routing/next", rules_api_routing_next, PERM_REQUESTS_WRITE, 0},
    {"GET", "/api/v1/routing/fcr", rules_api_fcr, PERM_REQUESTS_READ, 0},
    {"GET", "/api/v1/stores/{code}/poster", rules_api_poster, PERM_REQUESTS_WRITE, 0},
    {"GET", "/q", rules_public_qr_page, 0, 0},
    {"POST", "/q", rules_public_qr_submit, 0, 4096},
    {"GET", "/q/style.css", rules_public_qr_css, 0, 0},
    /* -- analytics: surveys, reports, dashboards (src/analytics) -- */
    /* -- channels: webhooks, channel admin, outbox (src/channels) -- */
    {"POST", "/hooks/{adapter}/{name}", channels_hook, 0, 0},
    {"GET", "/hooks/{adapter}/{name}", channels_hook, 0, 0},
    {"GET", "/api/v1/admin/channels", channels_admin_list, PERM_ADMIN, 0},
    {"POST", "/api/v1/admin/channels", channels_admin_create, PERM_ADMIN, 0},
    {"PATCH", "/api/v1/admin/channels/{id}", channels_admin_update, PERM_ADMIN, 0},
    {"POST", "/api/v1/admin/channels/{id}/rotate", channels_admin_rotate, PERM_ADMIN, 0},
    {"GET", "/api/v1/admin/outbox", channels_admin_outbox, PERM_ADMIN, 0},
    {"POST", "/api/v1/admin/outbox/{id}/retry", channels_admin_outbox_retry, PERM_ADMIN, 0},
    {"GET", "/api/v1/calls/stats", channels_calls_stats, PERM_REQUESTS_READ, 0},
    {NULL, NULL, NULL, 0, 0},
};
