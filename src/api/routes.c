/*
 * routes.c - the one table of HTTP routes: method, path, handler, the
 * permission it needs (0: public), its body limit (0: the default) and
 * whether it is quick.
 * Adding an endpoint is one line here plus its handler.
 */
#include "api/api.h"
#include "rules/rules.h"
#include "analytics/analytics.h"
#include "channels/channels.h"

/* Answered on the HTTP event loop: bounded reads, and handlers whose write
 * goes through http_write_then (the loop never waits).  Every other route
 * runs on the pool, where it may wait for the writer. */
#define QUICK true
#define POOL false


const struct route api_routes[] = {
    {"GET", "/healthz", api_healthz, 0, 0, QUICK},
    {"GET", "/metrics", api_metrics, PERM_METRICS, 0, QUICK},
    {"POST", "/api/v1/auth/login", api_auth_login, 0, 0, POOL},
    {"POST", "/api/v1/auth/logout", api_auth_logout, PERM_NONE_BUT_LOGGED_IN, 0, POOL},
    {"GET", "/api/v1/auth/me", api_auth_me, PERM_NONE_BUT_LOGGED_IN, 0, QUICK},
    {"POST", "/api/v1/requests", api_requests_create, PERM_INTAKE, 0, QUICK}, /* http_write_then */
    {"GET", "/api/v1/requests", api_requests_list, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/requests/{id}", api_requests_get, PERM_REQUESTS_READ, 0, QUICK},
    {"PATCH", "/api/v1/requests/{id}", api_requests_patch, PERM_REQUESTS_WRITE, 0, POOL},
    {"POST", "/api/v1/requests/{id}/messages", api_requests_message, PERM_REQUESTS_WRITE, 0, POOL},
    {"GET", "/api/v1/customers/lookup", api_customers_lookup, PERM_LOOKUP, 0, QUICK},
    {"GET", "/api/v1/customers/{id}", api_customers_get, PERM_REQUESTS_READ, 0, QUICK},
    {"POST", "/api/v1/orders/events", api_orders_event, PERM_ORDERS, 0, POOL},
    {"POST", "/api/v1/import", api_import, PERM_IMPORT, HTTP_LARGE_BODY, POOL},
    {"GET", "/api/v1/stream", api_stream, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/stores", api_stores_list, PERM_REQUESTS_READ, 0, QUICK},
    {"GET", "/api/v1/users", api_users_list, PERM_USERS_READ, 0, POOL},
    {"GET", "/api/v1/vocabulary", api_vocabulary, PERM_NONE_BUT_LOGGED_IN, 0, QUICK},
    {"GET", "/api/v1/admin/settings", api_settings_get, PERM_ADMIN, 0, POOL},
    /* -- rules, SLA, escalation, routing, incidents, QR (src/rules) -- */
    {"GET", "/api/v1/rules", rules_api_list, PERM_ADMIN, 0, POOL},
    {"POST", "/api/v1/rules", rules_api_create, PERM_ADMIN, 0, POOL},
    {"POST", "/api/v1/rules/dry-run", rules_api_dry_run, PERM_ADMIN, 0, POOL},
    {"GET", "/api/v1/rules/{id}", rules_api_get, PERM_ADMIN, 0, POOL},
    {"PUT", "/api/v1/rules/{id}", rules_api_update, PERM_ADMIN, 0, POOL},
    {"DELETE", "/api/v1/rules/{id}", rules_api_delete, PERM_ADMIN, 0, POOL},
    {"GET", "/api/v1/requests/{id}/sla", rules_api_request_sla, PERM_REQUESTS_READ, 0, QUICK},
    {"POST", "/api/v1/requests/{id}/escalate", rules_api_escalate, PERM_REQUESTS_WRITE, 0, POOL},
    {"POST", "/api/v1/requests/{id}/escalation/confirm", rules_api_escalation_confirm, PERM_REQUESTS_WRITE, 0, POOL},
    {"POST", "/api/v1/requests/{id}/links", rules_api_link, PERM_REQUESTS_WRITE, 0, POOL},
    {"POST", "/api/v1/requests/{id}/transfer", rules_api_transfer, PERM_REQUESTS_WRITE | PERM_USERS_READ, 0, POOL},
    {"POST", "/api/v1/requests/{id}/goodwill", rules_api_goodwill, PERM_REQUESTS_WRITE, 0, POOL},
    {"POST", "/api/v1/goodwill/{id}/{decision}", rules_api_goodwill_decide, PERM_REQUESTS_WRITE | PERM_USERS_READ, 0, POOL},
    {"GET", "/api/v1/admin/goodwill-limits", rules_api_goodwill_limits_get, PERM_ADMIN, 0, POOL},
    {"PUT", "/api/v1/admin/goodwill-limits", rules_api_goodwill_limits_put, PERM_ADMIN, 0, POOL},
    {"GET", "/api/v1/sla/policies", rules_api_sla_policies, PERM_REQUESTS_READ, 0, POOL},
    {"PUT", "/api/v1/sla/policies/{id}", rules_api_sla_policy_put, PERM_ADMIN, 0, POOL},
    {"PUT", "/api/v1/sla/calendars/{code}", rules_api_calendar_put, PERM_ADMIN, 0, POOL},
    {"GET", "/api/v1/sla/compliance", rules_api_sla_compliance, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/escalation/matrix", rules_api_matrix_get, PERM_REQUESTS_READ, 0, POOL},
    {"PUT", "/api/v1/escalation/matrix", rules_api_matrix_put, PERM_ADMIN, 0, POOL},
    {"GET", "/api/v1/notifications", rules_api_notifications, PERM_NONE_BUT_LOGGED_IN, 0, POOL},
    {"POST", "/api/v1/notifications/{id}/read", rules_api_notification_read, PERM_NONE_BUT_LOGGED_IN, 0, POOL},
    {"PUT", "/api/v1/routing/me", rules_api_routing_me, PERM_REQUESTS_WRITE, 0, POOL},
    {"POST", "/api/v1/routing/next", rules_api_routing_next, PERM_REQUESTS_WRITE, 0, POOL},
    {"GET", "/api/v1/routing/fcr", rules_api_fcr, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/stores/{code}/poster", rules_api_poster, PERM_REQUESTS_WRITE, 0, POOL},
    {"GET", "/q", rules_public_qr_page, 0, 0, POOL},
    {"POST", "/q", rules_public_qr_submit, 0, 4096, POOL},
    {"GET", "/q/style.css", rules_public_qr_css, 0, 0, QUICK},
    /* -- analytics: surveys, reports, dashboards (src/analytics) -- */
    {"GET", "/s/{token}", api_survey_page, 0, 0, POOL},
    {"POST", "/s/{token}", api_survey_answer, 0, 16384, POOL},
    {"GET", "/api/v1/surveys", api_surveys_list, PERM_REQUESTS_READ, 0, POOL},
    {"POST", "/api/v1/surveys", api_surveys_create, PERM_ADMIN, 0, POOL},
    {"POST", "/api/v1/surveys/{id}/invitations", api_surveys_invite, PERM_REQUESTS_WRITE, 0, POOL},
    {"GET", "/api/v1/surveys/{id}/invitations", api_surveys_invitations, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/reports/overview", api_reports_overview, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/reports/surveys", api_reports_surveys, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/reports/volumes", api_reports_volumes, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/reports/sla", api_reports_sla, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/reports/reasons", api_reports_reasons, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/reports/operators", api_reports_operators, PERM_USERS_READ, 0, POOL},
    {"GET", "/api/v1/reports/matrix", api_reports_matrix, PERM_REQUESTS_READ, 0, POOL},
    {"GET", "/api/v1/reports/alerts", api_reports_alerts, PERM_REQUESTS_READ, 0, POOL},
    {"POST", "/api/v1/analytics/rebuild", api_analytics_rebuild, PERM_ADMIN, 0, POOL},
    {"POST", "/api/v1/analytics/detect", api_analytics_detect, PERM_ADMIN, 0, POOL},
    /* -- channels: webhooks, channel admin, outbox (src/channels) -- */
    {"POST", "/hooks/{adapter}/{name}", channels_hook, 0, 0, QUICK}, /* stores with http_write_then */
    {"GET", "/hooks/{adapter}/{name}", channels_hook, 0, 0, POOL},
    {"GET", "/api/v1/admin/channels", channels_admin_list, PERM_ADMIN, 0, POOL},
    {"POST", "/api/v1/admin/channels", channels_admin_create, PERM_ADMIN, 0, POOL},
    {"PATCH", "/api/v1/admin/channels/{id}", channels_admin_update, PERM_ADMIN, 0, POOL},
    {"POST", "/api/v1/admin/channels/{id}/rotate", channels_admin_rotate, PERM_ADMIN, 0, POOL},
    {"GET", "/api/v1/admin/outbox", channels_admin_outbox, PERM_ADMIN, 0, POOL},
    {"POST", "/api/v1/admin/outbox/{id}/retry", channels_admin_outbox_retry, PERM_ADMIN, 0, POOL},
    {"GET", "/api/v1/calls/stats", channels_calls_stats, PERM_REQUESTS_READ, 0, POOL},
    {NULL, NULL, NULL, 0, 0, POOL},
};
