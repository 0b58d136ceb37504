/*
 * rules_api_sla.c - SLA and escalation through the API: a request's clocks
 * and escalation (GET /api/v1/requests/{id}/sla), policies, calendars,
 * compliance per clock, and the escalation matrix.
 */
#include "rules/rules_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/str.h"
#include "intake/intake.h"
#include "rules/calendar.h"
#include "rules/tz.h"
#include "store/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *clock_json(struct rules *R, struct db *r, sqlite3_stmt *st, int64_t request_id,
                          int64_t now)
{
    const char *clock = db_col_text(st, 0);
    const char *cal_code = db_col_text(st, 2), *zone = db_col_text(st, 3);
    int64_t started = db_col_i64(st, 4), target = db_col_i64(st, 5), due = db_col_i64(st, 6);
    const char *state = db_col_text(st, 8);
    int64_t paused = db_col_i64(st, 9), stopped = db_col_i64(st, 10);
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:I}", "clock", clock, "policy_id",
                          (json_int_t)db_col_i64(st, 1), "calendar", cal_code, "state", state,
                          "target_s", (json_int_t)(target / 1000));
    json_object_set_new(o, "outcome", db_col_is_null(st, 11) ? json_null()
                                                             : json_string(db_col_text(st, 11)));
    json_set_time_or_null(o, "started_at", started);
    json_set_time_or_null(o, "due_at", due);
    json_set_time_or_null(o, "warn_at", db_col_i64(st, 7));
    json_set_time_or_null(o, "paused_at", paused);
    json_set_time_or_null(o, "stopped_at", stopped);
    json_set_time_or_null(o, "warned_at", db_col_i64(st, 12));
    json_set_time_or_null(o, "breached_at", db_col_i64(st, 13));
    const struct calendar *cal = sla_calendar(R, r, cal_code, zone);
    if (cal) {
        char local[48];
        tz_format_local(cal->zone, due, local, sizeof local);
        json_object_set_new(o, "due_local", json_string(local));
        json_object_set_new(o, "time_zone", json_string(tz_zone_name(cal->zone)));
    }
    /* Business time consumed so far (pauses and closed hours excluded). */
    struct calendar_pause p[64];
    size_t n = 0;
    sqlite3_stmt *ps = db_stmt(r, "SELECT start_ms, end_ms FROM sla_pauses WHERE request_id = $1 "
                                  "AND clock = $2 ORDER BY start_ms LIMIT 64");
    db_bind_i64(ps, 1, request_id);
    db_bind_text(ps, 2, clock, -1);
    while (n < 64 && db_step(r, ps, NULL) == 1) {
        p[n].start_ms = db_col_i64(ps, 0);
        p[n].end_ms = db_col_i64(ps, 1);
        n++;
    }
    sqlite3_reset(ps);
    int64_t end = stopped ? stopped : paused ? paused : now, used = 0;
    if (end < started)
        end = started;
    if (cal ? calendar_business_ms_between(cal, started, end, p, n, &used) == 0 : (used = end - started, 1))
        json_object_set_new(o, "elapsed_business_s", json_integer(used / 1000));
    json_object_set_new(o, "remaining_business_s",
                        json_integer(target > used ? (target - used) / 1000 : 0));
    json_object_set_new(o, "pauses", json_integer((json_int_t)n));
    return o;
}

int rules_api_request_sla(struct http_request *req, struct http_response *resp)
{
    int64_t id;
    int rc = http_param_id(req, 0, &id);
    if (rc != 0)
        return rc;
    struct db *r = store_reader(req->app->store);
    json_t *visible = NULL;
    rc = store_request_get(r, id, &req->who.scope, false, &visible, &req->err);
    json_decref(visible);
    if (rc != 0) {
        store_reader_done(req->app->store, r);
        return rc;
    }
    int64_t now = clock_now_ms();
    json_t *clocks = json_array();
    sqlite3_stmt *st = db_stmt(r, "SELECT clock, policy_id, calendar, time_zone, started_at_ms, "
                                  "target_ms, due_at_ms, warn_at_ms, state, "
                                  "COALESCE(paused_at_ms, 0), COALESCE(stopped_at_ms, 0), outcome,"
                                  " COALESCE(warned_at_ms, 0), COALESCE(breached_at_ms, 0) "
                                  "FROM sla_clocks WHERE request_id = $1 ORDER BY clock");
    db_bind_i64(st, 1, id);
    while (db_step(r, st, NULL) == 1)
        json_array_append_new(clocks, clock_json(rules_of(req->app), r, st, id, now));
    sqlite3_reset(st);
    json_t *esc = json_null();
    st = db_stmt(r, "SELECT level, level_index, speedup, started_at_ms, level_at_ms, "
                    "COALESCE(next_at_ms, 0), COALESCE(confirmed_at_ms, 0), confirmed_by, "
                    "COALESCE(stopped_at_ms, 0), stop_reason FROM escalations WHERE request_id = $1");
    db_bind_i64(st, 1, id);
    if (db_step(r, st, NULL) == 1) {
        esc = json_pack("{s:s, s:I, s:I, s:s?, s:s?}", "level", db_col_text(st, 0), "level_index",
                        (json_int_t)db_col_i64(st, 1), "speedup", (json_int_t)db_col_i64(st, 2),
                        "confirmed_by", db_col_text(st, 7), "stop_reason", db_col_text(st, 9));
        json_set_time_or_null(esc, "started_at", db_col_i64(st, 3));
        json_set_time_or_null(esc, "level_at", db_col_i64(st, 4));
        json_set_time_or_null(esc, "next_at", db_col_i64(st, 5));
        json_set_time_or_null(esc, "confirmed_at", db_col_i64(st, 6));
        json_set_time_or_null(esc, "stopped_at", db_col_i64(st, 8));
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    http_reply_json(resp, 200, json_pack("{s:I, s:o, s:o}", "request_id", (json_int_t)id, "clocks",
                                         clocks, "escalation", esc));
    return 0;
}

/* ---- policies ---------------------------------------------------------------------- */

int rules_api_sla_policies(struct http_request *req, struct http_response *resp)
{
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, name, position, is_enabled, match, calendar, "
                                  "first_response_ms, next_response_ms, resolution_ms, warn_pct, "
                                  "goal_pct, pause_pending, pause_on_hold FROM sla_policies "
                                  "ORDER BY position, id");
    json_t *items = json_array();
    while (db_step(r, st, NULL) == 1) {
        json_t *m = json_loads(db_col_text(st, 4), 0, NULL);
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:I, s:b, s:o, s:s, s:I, s:I, s:I, s:I, s:f, s:b, s:b}",
                             "id", (json_int_t)db_col_i64(st, 0), "name", db_col_text(st, 1),
                             "position", (json_int_t)db_col_i64(st, 2), "enabled",
                             db_col_i64(st, 3) != 0, "match", m ? m : json_object(), "calendar",
                             db_col_text(st, 5), "first_response_s",
                             (json_int_t)(db_col_i64(st, 6) / 1000), "next_response_s",
                             (json_int_t)(db_col_i64(st, 7) / 1000), "resolution_s",
                             (json_int_t)(db_col_i64(st, 8) / 1000), "warn_pct",
                             (json_int_t)db_col_i64(st, 9), "goal_pct",
                             sqlite3_column_double(st, 10), "pause_pending",
                             db_col_i64(st, 11) != 0, "pause_on_hold", db_col_i64(st, 12) != 0));
    }
    sqlite3_reset(st);
    st = db_stmt(r, "SELECT code, definition FROM calendars ORDER BY code");
    json_t *cals = json_object();
    while (db_step(r, st, NULL) == 1) {
        json_t *def = json_loads(db_col_text(st, 1), 0, NULL);
        json_object_set_new(cals, db_col_text(st, 0), def ? def : json_null());
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    http_reply_json(resp, 200, json_pack("{s:o, s:o}", "items", items, "calendars", cals));
    return 0;
}

struct policy_job {
    int64_t id, position, targets_ms[3], warn_pct;
    double goal_pct;
    const char *name, *calendar;
    char *match;
    bool enabled, pause_pending, pause_on_hold;
};

static int job_policy(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct policy_job *p = arg;
    struct db *db = store_tx_db(tx);
    sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM calendars WHERE code = $1");
    db_bind_text(st, 1, p->calendar, -1);
    bool ok = db_step(db, st, NULL) == 1;
    sqlite3_reset(st);
    if (!ok)
        return err_set(err, ERR_INVALID, "calendar", "unknown calendar '%.40s'", p->calendar);
    st = db_stmt(db, "INSERT INTO sla_policies (id, name, position, is_enabled, match, calendar, "
                     "first_response_ms, next_response_ms, resolution_ms, warn_pct, goal_pct, "
                     "pause_pending, pause_on_hold, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6,"
                     " $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO UPDATE SET "
                     "name = $2, position = $3, is_enabled = $4, match = $5, calendar = $6, "
                     "first_response_ms = $7, next_response_ms = $8, resolution_ms = $9, "
                     "warn_pct = $10, goal_pct = $11, pause_pending = $12, pause_on_hold = $13, "
                     "updated_at_ms = $14");
    db_bind_i64(st, 1, p->id);
    db_bind_text(st, 2, p->name, -1);
    db_bind_i64(st, 3, p->position);
    db_bind_i64(st, 4, p->enabled);
    db_bind_text(st, 5, p->match, -1);
    db_bind_text(st, 6, p->calendar, -1);
    for (int k = 0; k < 3; k++)
        db_bind_i64(st, 7 + k, p->targets_ms[k]);
    db_bind_i64(st, 10, p->warn_pct);
    db_bind_double(st, 11, p->goal_pct);
    db_bind_i64(st, 12, p->pause_pending);
    db_bind_i64(st, 13, p->pause_on_hold);
    db_bind_i64(st, 14, clock_now_ms());
    return db_run(db, st, err);
}

static int opt_int(struct http_request *req, json_t *body, const char *key, int64_t min,
                   int64_t max, int64_t *out)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return err_set(&req->err, ERR_INVALID, key, "%s must be a whole number from %lld to %lld",
                       key, (long long)min, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

static int opt_bool(struct http_request *req, json_t *body, const char *key, bool *out)
{
    json_t *v = json_object_get(body, key);
    if (v != NULL && !json_is_boolean(v))
        return err_set(&req->err, ERR_INVALID, key, "%s must be true or false", key);
    if (v)
        *out = json_is_true(v);
    return 0;
}

/* The match object: lists of vocabulary values only. */
static int check_match(struct http_request *req, json_t *m)
{
    static const char *const keys[] = {"channel", "kind", "priority", "topic", "tier", NULL};
    const char *const *lists[] = {model_channels, model_kinds, model_priorities, model_topics,
                                  model_tiers};
    if (!json_is_object(m))
        return err_set(&req->err, ERR_INVALID, "match", "match must be an object of lists");
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v)
    {
        int k = model_find(keys, key);
        if (k < 0 || !json_is_array(v))
            return err_set(&req->err, ERR_INVALID, "match", "match.%.30s is not a list of %s",
                           key, k < 0 ? "a known field" : key);
        for (size_t i = 0; i < json_array_size(v); i++)
            if (model_find(lists[k], json_string_value(json_array_get(v, i))) < 0)
                return err_set(&req->err, ERR_INVALID, "match", "match.%s[%zu] is not a known %s",
                               key, i, key);
    }
    return 0;
}

int rules_api_sla_policy_put(struct http_request *req, struct http_response *resp)
{
    struct policy_job p = {.position = 100, .warn_pct = 80, .goal_pct = 90, .enabled = true,
                           .pause_pending = true, .pause_on_hold = true};
    int rc = http_param_id(req, 0, &p.id);
    json_t *body = NULL;
    if (rc == 0)
        rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"name", "position", "enabled", "match", "calendar",
                                       "first_response_s", "next_response_s", "resolution_s",
                                       "warn_pct", "goal_pct", "pause_pending", "pause_on_hold",
                                       NULL};
    int64_t t[3] = {0, 0, 0};
    json_t *match = json_object_get(body, "match");
    json_t *goal = json_object_get(body, "goal_pct");
    if ((rc = api_check_keys(req, body, keys)) ||
        (rc = intake_req_string(body, "name", 200, &req->arena, &p.name, &req->err)) ||
        (rc = intake_req_string(body, "calendar", 32, &req->arena, &p.calendar, &req->err)) ||
        (rc = opt_int(req, body, "position", 0, 1000000, &p.position)) ||
        (rc = opt_int(req, body, "first_response_s", 0, 365 * 86400, &t[0])) ||
        (rc = opt_int(req, body, "next_response_s", 0, 365 * 86400, &t[1])) ||
        (rc = opt_int(req, body, "resolution_s", 0, 365 * 86400, &t[2])) ||
        (rc = opt_int(req, body, "warn_pct", 1, 100, &p.warn_pct)) ||
        (rc = opt_bool(req, body, "enabled", &p.enabled)) ||
        (rc = opt_bool(req, body, "pause_pending", &p.pause_pending)) ||
        (rc = opt_bool(req, body, "pause_on_hold", &p.pause_on_hold)) ||
        (match && (rc = check_match(req, match))))
        goto out;
    if (goal && (!json_is_number(goal) || json_number_value(goal) <= 0 ||
                 json_number_value(goal) > 100)) {
        rc = err_set(&req->err, ERR_INVALID, "goal_pct", "goal_pct must be above 0 and at most 100");
        goto out;
    }
    if (goal)
        p.goal_pct = json_number_value(goal);
    if (t[0] + t[1] + t[2] == 0) {
        rc = err_set(&req->err, ERR_INVALID, "first_response_s", "a policy needs at least one target");
        goto out;
    }
    for (int k = 0; k < 3; k++)
        p.targets_ms[k] = t[k] * 1000;
    p.match = json_dumps(match ? match : json_object(), JSON_COMPACT);
    rc = store_write(req->app->store, job_policy, &p, &req->err);
    free(p.match);
    if (rc == 0 && rules_of(req->app))
        rc = sla_reload(rules_of(req->app), &req->err);
    if (rc == 0)
        rc = rules_api_sla_policies(req, resp);
out:
    json_decref(body);
    return rc;
}

struct cal_job {
    const char *code;
    char *definition;
};

static int job_calendar(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct cal_job *c = arg;
    sqlite3_stmt *st = db_stmt(store_tx_db(tx), "INSERT INTO calendars (code, definition, "
                                                "updated_at_ms) VALUES ($1, $2, $3) ON CONFLICT "
                                                "(code) DO UPDATE SET definition = $2, "
                                                "updated_at_ms = $3");
    db_bind_text(st, 1, c->code, -1);
    db_bind_text(st, 2, c->definition, -1);
    db_bind_i64(st, 3, clock_now_ms());
    return db_run(store_tx_db(tx), st, err);
}

int rules_api_calendar_put(struct http_request *req, struct http_response *resp)
{
    const char *code = req->params[0];
    size_t len = code ? strlen(code) : 0;
    if (len == 0 || len > 32 || strspn(code, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len)
        return err_set(&req->err, ERR_INVALID, "code", "a calendar code is 1 to 32 of a-z 0-9 _ -");
    struct calendar *cal = NULL;
    int rc = calendar_parse_json(req->body.data ? req->body.data : "", req->body.len, &cal,
                                 &req->err);
    calendar_free(cal);
    if (rc != 0)
        return rc;
    json_t *def = json_loadb(req->body.data, req->body.len, 0, NULL);
    struct cal_job c = {code, json_dumps(def, JSON_COMPACT)};
    json_decref(def);
    rc = store_write(req->app->store, job_calendar, &c, &req->err);
    free(c.definition);
    if (rc == 0 && rules_of(req->app))
        cal_cache_bump(rules_of(req->app)->cals);
    if (rc == 0)
        http_reply_json(resp, 200, json_pack("{s:s, s:b}", "code", code, "saved", 1));
    return rc;
}

int rules_api_sla_compliance(struct http_request *req, struct http_response *resp)
{
    int64_t since = 0, until = 0;
    const char *s = http_query(req, "since"), *u = http_query(req, "until");
    if (s && time_parse_rfc3339(str_from(s), &since) != 0)
        return err_set(&req->err, ERR_INVALID, "since", "since must be an RFC 3339 time");
    if (u && time_parse_rfc3339(str_from(u), &until) != 0)
        return err_set(&req->err, ERR_INVALID, "until", "until must be an RFC 3339 time");
    if (until == 0)
        until = INT64_MAX;
    struct db *r = store_reader(req->app->store);
#define COMPLIANCE_SELECT                                                                          \
    "SELECT c.clock, c.policy_id, COALESCE(p.name, ''), COALESCE(p.goal_pct, 0), "                \
    "SUM(c.outcome = 'met'), SUM(c.outcome = 'breached'), "                                      \
    "SUM(c.outcome IS NULL) FROM sla_clocks c LEFT JOIN sla_policies p ON p.id = c.policy_id "
#define COMPLIANCE_GROUP " GROUP BY c.clock, c.policy_id ORDER BY c.clock, c.policy_id"
    /* A store director or regional manager counts the clocks of its stores only. */
    const struct scope_filter *sf = &req->who.scope;
    sqlite3_stmt *st =
        sf->scope == SCOPE_ALL
            ? db_stmt(r, COMPLIANCE_SELECT "WHERE c.started_at_ms >= $1 AND c.started_at_ms < $2"
                                           COMPLIANCE_GROUP)
            : db_stmt(r, COMPLIANCE_SELECT
                      "JOIN requests q ON q.id = c.request_id LEFT JOIN stores s ON s.id = "
                      "q.store_id WHERE c.started_at_ms >= $1 AND c.started_at_ms < $2 AND "
                      "($3 = 0 OR q.store_id = $3) AND ($4 IS NULL OR s.region = $4)"
                      COMPLIANCE_GROUP);
#undef COMPLIANCE_SELECT
#undef COMPLIANCE_GROUP
    db_bind_i64(st, 1, since);
    db_bind_i64(st, 2, until);
    if (sf->scope != SCOPE_ALL) {
        db_bind_i64(st, 3, sf->scope == SCOPE_STORE ? sf->store_id : 0);
        if (sf->scope == SCOPE_REGION)
            db_bind_text(st, 4, sf->region, -1);
        else
            db_bind_null(st, 4);
    }
    json_t *items = json_array();
    while (db_step(r, st, NULL) == 1) {
        int64_t met = db_col_i64(st, 4), breached = db_col_i64(st, 5);
        json_t *o = json_pack("{s:s, s:I, s:s, s:f, s:I, s:I, s:I}", "clock", db_col_text(st, 0),
                              "policy_id", (json_int_t)db_col_i64(st, 1), "policy",
                              db_col_text(st, 2), "goal_pct", sqlite3_column_double(st, 3), "met",
                              (json_int_t)met, "breached", (json_int_t)breached, "running",
                              (json_int_t)db_col_i64(st, 6));
        json_object_set_new(o, "compliance_pct",
                            met + breached ? json_real(100.0 * (double)met / (double)(met + breached))
                                           : json_null());
        json_array_append_new(items, o);
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    http_reply_json(resp, 200, json_pack("{s:o}", "items", items));
    return 0;
}
