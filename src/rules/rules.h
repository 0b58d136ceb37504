/*
 * rules.h - the care machine: rules (triggers), SLA clocks, the escalation
 * matrix, routing and the incident machine, with QR posters for stores.
 *
 * Design.  The machine is a consumer of the event log.  A worker thread
 * (rules_start) waits on the live hub for new events, then reads them from
 * the log after its persisted cursor (consumer "rules"), a batch at a time.
 * For each event it loads the facts a rule can test (request, customer,
 * order, text) through a reader, evaluates the compiled rules, and then runs
 * ONE store job that applies every consequence of the batch - SLA clock
 * changes, escalations, routing, the incident machine, the rules' actions -
 * and saves the cursor in the same transaction.  So a restart neither
 * repeats nor misses an action; events that arrived while the server was
 * down are handled late, once, and the events written for them carry
 * "late": true and "delay_s".  Events written by the rules' own actions
 * (actor "rule:N") feed the SLA and escalation logic but not the rules, so
 * rules cannot loop.  Requests imported with old creation times are
 * history: they get no clocks and trigger no rules.
 *
 * Rules are compiled once into an immutable snapshot (struct rule_set):
 * every list condition becomes a bit mask over the vocabulary of model.h,
 * store codes become ids, text conditions are case-folded up front, and
 * rules are indexed by event type.  Evaluation allocates nothing.  A saved
 * rule recompiles the snapshot, which is swapped under a mutex and
 * reference-counted for readers still using the old one.  Counts in a time
 * window keep, per rule and key (store, customer, region, request), a ring
 * of the last N matching times; they live beside the snapshot in the
 * engine and are rebuilt from the log at start.
 *
 * SLA policies (priority/channel/kind/topic/tier → first response, next
 * response, resolution targets, a calendar, whether pending/on_hold pause)
 * start clocks per request; due and warning times come from the calendar
 * (calendar.h: business hours, holidays, the store's zone) and are stored
 * in sla_clocks with pauses in sla_pauses.  Every future moment the machine
 * must act on (SLA warning, breach, next escalation level, an order's
 * promised time) is a row in `timers`; at start the pending ones are read
 * in due order from a partial index straight into a min-heap (a sorted array
 * is a heap), and a periodic job pops what is due - no scans per tick.  A
 * timer fires in a job that marks it fired, so it fires once.
 *
 * Every action is an event on the request (rule.matched, sla.warning,
 * sla.breached, escalation.raised, notification.created,
 * compensation.accrued, task.created, notice.failed, survey.requested,
 * webhook.queued, ...) naming the rule id and version, so a person sees why.
 */
#ifndef OTKLIK_RULES_H
#define OTKLIK_RULES_H

#include "core/err.h"

#include <stdbool.h>
#include <stdint.h>

struct app;
struct http_request;
struct http_response;

/*
 * Start the part for app: load the QR key, compile rules and SLA policies,
 * load pending timers, rebuild windows, start the engine thread.
 * 0 or an ERR_* code with details in err.  app->rules is owned by the part.
 */
int rules_start(struct app *app, struct err_info *err);

/* Stop the engine thread and free the part (before the store closes). */
void rules_stop(struct app *app);

/*
 * Start the part without its thread (unit tests, benchmarks): everything
 * rules_start does but the worker; drive it with rules_engine_drain().
 */
int rules_start_manual(struct app *app, struct err_info *err);

/*
 * Process every event logged after the cursor, synchronously, as the worker
 * would.  Returns the number of events processed or a negative ERR_*.
 */
int rules_engine_drain(struct app *app, struct err_info *err);

/* Periodic jobs (src/jobs/jobs_table.c); each returns the next delay in ms. */
int64_t rules_timers_tick(struct app *app, int64_t now_ms);
int64_t rules_webhooks_tick(struct app *app, int64_t now_ms);

/* Pending timers in memory (for tests and benchmarks). */
size_t rules_timers_pending(struct app *app);

/* `otklik qr`: print a poster for a store (and checkout) as SVG or PNG. */
int rules_qr_main(int argc, char **argv);

/*
 * Poster rendering shared by the command and the API: the signed link for
 * store_code/checkout (0: the whole store) under base_url and the poster as
 * SVG (is_png false) or PNG bytes in *out (caller frees), *out_len bytes.
 */
int rules_qr_poster(const unsigned char key[32], const char *base_url, const char *store_code,
                    const char *store_name, int64_t checkout, bool is_png, char **out,
                    size_t *out_len, struct err_info *err);

/* ---- HTTP handlers (routes in src/api/routes.c) ---------------------------- */

int rules_api_list(struct http_request *req, struct http_response *resp);
int rules_api_create(struct http_request *req, struct http_response *resp);
int rules_api_get(struct http_request *req, struct http_response *resp);
int rules_api_update(struct http_request *req, struct http_response *resp);
int rules_api_delete(struct http_request *req, struct http_response *resp);
int rules_api_dry_run(struct http_request *req, struct http_response *resp);
int rules_api_request_sla(struct http_request *req, struct http_response *resp);
int rules_api_sla_policies(struct http_request *req, struct http_response *resp);
int rules_api_sla_policy_put(struct http_request *req, struct http_response *resp);
int rules_api_calendar_put(struct http_request *req, struct http_response *resp);
int rules_api_sla_compliance(struct http_request *req, struct http_response *resp);
int rules_api_matrix_get(struct http_request *req, struct http_response *resp);
int rules_api_matrix_put(struct http_request *req, struct http_response *resp);
int rules_api_escalate(struct http_request *req, struct http_response *resp);
int rules_api_escalation_confirm(struct http_request *req, struct http_response *resp);
int rules_api_notifications(struct http_request *req, struct http_response *resp);
int rules_api_notification_read(struct http_request *req, struct http_response *resp);
int rules_api_routing_me(struct http_request *req, struct http_response *resp);
int rules_api_routing_next(struct http_request *req, struct http_response *resp);
int rules_api_transfer(struct http_request *req, struct http_response *resp);
int rules_api_fcr(struct http_request *req, struct http_response *resp);
int rules_api_link(struct http_request *req, struct http_response *resp);
int rules_api_goodwill(struct http_request *req, struct http_response *resp);
int rules_api_goodwill_decide(struct http_request *req, struct http_response *resp);
int rules_api_goodwill_limits_get(struct http_request *req, struct http_response *resp);
int rules_api_goodwill_limits_put(struct http_request *req, struct http_response *resp);
int rules_api_poster(struct http_request *req, struct http_response *resp);
int rules_public_qr_page(struct http_request *req, struct http_response *resp);
int rules_public_qr_submit(struct http_request *req, struct http_response *resp);
int rules_public_qr_css(struct http_request *req, struct http_response *resp);

#endif
