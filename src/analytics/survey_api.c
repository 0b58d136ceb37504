/*
 * survey_api.c - the survey endpoints for staff: list the definitions with
 * their counts, create one (admin), and invite someone by hand or from a
 * channel (an in-chat rating, a QR link for a store): the answer to the
 * link is taken by the public page.
 */
#include "analytics/reports_int.h"
#include "analytics/surveys_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/str.h"
#include "intake/intake.h"
#include "store/model.h"

#include <stdio.h>
#include <string.h>

int api_surveys_list(struct http_request *req, struct http_response *resp)
{
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(
        r, "SELECT s.id, s.code, s.kind, s.trigger, s.question, s.is_active, "
           "s.min_interval_days, s.low_score, s.schedule_days, "
           "(SELECT count(*) FROM survey_invitations i WHERE i.survey_id = s.id), "
           "(SELECT count(*) FROM survey_answers a WHERE a.survey_id = s.id) "
           "FROM surveys s ORDER BY s.id");
    json_t *items = json_array();
    while (db_step(r, st, NULL) == 1) {
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I}", "id",
                             (json_int_t)db_col_i64(st, 0), "code", db_col_text(st, 1), "kind",
                             db_col_text(st, 2), "trigger", db_col_text(st, 3), "question",
                             db_col_text(st, 4), "is_active", db_col_i64(st, 5) != 0,
                             "min_interval_days", (json_int_t)db_col_i64(st, 6), "low_score",
                             (json_int_t)db_col_i64(st, 7), "schedule_days",
                             (json_int_t)db_col_i64(st, 8), "invited",
                             (json_int_t)db_col_i64(st, 9), "answered",
                             (json_int_t)db_col_i64(st, 10)));
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    json_t *kinds = json_array();
    for (int i = 0; survey_kinds[i].kind; i++)
        json_array_append_new(kinds, json_pack("{s:s, s:i, s:i}", "kind", survey_kinds[i].kind,
                                               "min", survey_kinds[i].min, "max",
                                               survey_kinds[i].max));
    json_t *reasons = json_array();
    for (int i = 0; survey_reasons[i].code; i++)
        json_array_append_new(reasons, json_pack("{s:s, s:s, s:s}", "code", survey_reasons[i].code,
                                                 "department", survey_reasons[i].department,
                                                 "label", survey_reasons[i].label_ru));
    http_reply_json(resp, 200, json_pack("{s:o, s:o, s:o}", "items", items, "kinds", kinds,
                                         "reasons", reasons));
    return 0;
}

struct create_job {
    const char *code, *kind, *trigger, *question;
    int64_t min_interval_days, low_score, schedule_days, id;
};

static int create_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct create_job *j = arg;
    struct db *db = store_tx_db(tx);
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO surveys (code, kind, trigger, question, "
                                   "min_interval_days, low_score, schedule_days, created_at_ms) "
                                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    db_bind_text(st, 1, j->code, -1);
    db_bind_text(st, 2, j->kind, -1);
    db_bind_text(st, 3, j->trigger, -1);
    db_bind_text(st, 4, j->question, -1);
    db_bind_i64(st, 5, j->min_interval_days);
    db_bind_i64(st, 6, j->low_score);
    db_bind_i64(st, 7, j->schedule_days);
    db_bind_i64(st, 8, clock_now_ms());
    int rc = db_run(db, st, err);
    if (rc == ERR_CONFLICT) {
        err_clear(err);
        return err_set(err, ERR_CONFLICT, "code", "a survey with code '%s' exists", j->code);
    }
    j->id = db_last_id(db);
    return rc;
}

/* An optional whole number member in [lo, hi]; *out keeps its default when absent. */
static int opt_int(struct http_request *req, json_t *body, const char *key, int64_t lo, int64_t hi,
                   int64_t *out)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return err_set(&req->err, ERR_INVALID, key, "%s must be a whole number from %lld to %lld",
                       key, (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return 0;
}

int api_surveys_create(struct http_request *req, struct http_response *resp)
{
    json_t *body;
    int rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"code", "kind", "trigger", "question", "min_interval_days",
                                       "low_score", "schedule_days", NULL};
    static const char *const kinds[] = {"nps", "csat", "ces", "csi", "enps", NULL};
    struct create_job j = {.min_interval_days = 30};
    if ((rc = api_check_keys(req, body, keys)) == 0 &&
        (rc = intake_req_string(body, "code", 64, &req->arena, &j.code, &req->err)) == 0 &&
        (rc = intake_opt_enum(body, "kind", kinds, &j.kind, &req->err)) == 0 &&
        (rc = intake_opt_enum(body, "trigger", survey_triggers, &j.trigger, &req->err)) == 0 &&
        (rc = intake_req_string(body, "question", 300, &req->arena, &j.question, &req->err)) == 0 &&
        (rc = opt_int(req, body, "min_interval_days", 0, 3650, &j.min_interval_days)) == 0 &&
        (rc = opt_int(req, body, "schedule_days", 0, 3650, &j.schedule_days)) == 0) {
        if (j.kind == NULL)
            rc = err_set(&req->err, ERR_INVALID, "kind", "kind is required");
        if (rc == 0) {
            const struct survey_kind_def *k = survey_kind_find(j.kind);
            j.low_score = k->low_default;
            rc = opt_int(req, body, "low_score", k->min, k->max, &j.low_score);
        }
        if (rc == 0 && j.trigger == NULL)
            j.trigger = "manual";
        if (rc == 0)
            rc = store_write(req->app->store, create_job, &j, &req->err);
    }
    json_decref(body);
    if (rc != 0)
        return rc;
    http_reply_json(resp, 201, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)j.id, "code",
                                         j.code, "kind", j.kind, "trigger", j.trigger));
    return 0;
}

struct invite_job {
    int64_t survey_id;
    struct invite_in in;
    struct invite_out out;
    const struct analytics *an;
    const char *store_code;
    const struct scope_filter *sf;
};

static int invite_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct invite_job *j = arg;
    struct db *db = store_tx_db(tx);
    struct survey_def def;
    sqlite3_stmt *st = db_stmt(db, "SELECT code FROM surveys WHERE id = $1 AND is_active = 1");
    db_bind_i64(st, 1, j->survey_id);
    char code[80] = "";
    if (db_step(db, st, NULL) == 1)
        snprintf(code, sizeof code, "%s", db_col_text(st, 0));
    sqlite3_reset(st);
    if (code[0] == '\0' || survey_def_by_trigger(db, NULL, code, &def) != 0)
        return err_set(err, ERR_NOTFOUND, "id", "no active survey %lld", (long long)j->survey_id);
    if (j->store_code) {
        j->in.store_id = store_store_id(db, j->store_code);
        if (j->in.store_id == 0)
            return err_set(err, ERR_INVALID, "store", "unknown store code '%s'", j->store_code);
    }
    if (j->in.request_id) {
        st = db_stmt(db, "SELECT customer_id, store_id, channel FROM requests WHERE id = $1");
        db_bind_i64(st, 1, j->in.request_id);
        bool found = db_step(db, st, NULL) == 1;
        if (found) {
            if (j->in.customer_id == 0)
                j->in.customer_id = db_col_i64(st, 0);
            if (j->in.store_id == 0)
                j->in.store_id = db_col_i64(st, 1);
            int ch = model_find(model_channels, db_col_text(st, 2));
            if (j->in.channel == NULL && ch >= 0)
                j->in.channel = model_channels[ch];
        }
        sqlite3_reset(st);
        if (!found)
            return err_set(err, ERR_INVALID, "request_id", "no request %lld",
                           (long long)j->in.request_id);
    }
    if (j->sf->scope != SCOPE_ALL && !analytics_scope_allows(db, j->sf, j->in.store_id))
        return err_set(err, ERR_FORBIDDEN, "store", "outside your stores");
    j->in.survey_id = def.id;
    j->in.question = def.question;
    j->in.min_interval_days = def.min_interval_days;
    if (j->in.channel == NULL)
        j->in.channel = "web";
    j->in.source = "manual";
    return survey_invite(tx, &j->in, j->an, &j->out, err);
}

int api_surveys_invite(struct http_request *req, struct http_response *resp)
{
    struct invite_job j;
    memset(&j, 0, sizeof j);
    int rc = http_param_id(req, 0, &j.survey_id);
    if (rc != 0)
        return rc;
    json_t *body;
    if ((rc = http_json_body(req, &body)) != 0)
        return rc;
    static const char *const keys[] = {"customer_id", "request_id", "store", "channel", NULL};
    if ((rc = api_check_keys(req, body, keys)) == 0 &&
        (rc = opt_int(req, body, "customer_id", 1, INT64_MAX, &j.in.customer_id)) == 0 &&
        (rc = opt_int(req, body, "request_id", 1, INT64_MAX, &j.in.request_id)) == 0 &&
        (rc = intake_opt_string(body, "store", 64, &req->arena, &j.store_code, &req->err)) == 0)
        rc = intake_opt_enum(body, "channel", model_channels, &j.in.channel, &req->err);
    json_decref(body);
    if (rc != 0)
        return rc;
    j.an = analytics_of(req->app);
    j.sf = &req->who.scope;
    if ((rc = store_write(req->app->store, invite_job, &j, &req->err)) != 0)
        return rc;
    http_reply_json(resp, 201,
                    json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)j.out.id, "token",
                              j.out.token, "link", j.out.link, "url", j.out.url, "status",
                              j.out.status));
    return 0;
}

/* ---- the invitations of a survey ------------------------------------------------ */

/*
 * GET /api/v1/surveys/{id}/invitations?status=&limit=&cursor= - who was
 * asked, through which channel, whether the message reached them (the
 * outbox's state) and whether they answered; newest first, keyset pages.
 * A director sees the store's, a regional manager the region's.  eNPS
 * invitations never name the employee (only the department).
 */
int api_surveys_invitations(struct http_request *req, struct http_response *resp)
{
    static const char *const statuses[] = {"created", "queued", "link_only", "answered", NULL};
    int64_t survey_id, limit = 50, cursor = 0;
    if (str_to_i64(str_from(req->params[0]), 1, INT64_MAX, &survey_id) != 0)
        return err_set(&req->err, ERR_NOTFOUND, "id", "no such survey");
    const char *status = http_query(req, "status"), *v;
    if (status && model_find(statuses, status) < 0)
        return err_set(&req->err, ERR_INVALID, "status",
                       "status is created, queued, link_only or answered");
    if ((v = http_query(req, "limit")) && str_to_i64(str_from(v), 1, 500, &limit) != 0)
        return err_set(&req->err, ERR_INVALID, "limit", "limit must be 1 to 500");
    if ((v = http_query(req, "cursor")) && str_to_i64(str_from(v), 1, INT64_MAX, &cursor) != 0)
        return err_set(&req->err, ERR_INVALID, "cursor", "cursor is the next_cursor of a page");
    const struct scope_filter *sf = &req->who.scope;
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT kind FROM surveys WHERE id = $1");
    db_bind_i64(st, 1, survey_id);
    char kind[16] = "";
    if (db_step(r, st, NULL) == 1)
        snprintf(kind, sizeof kind, "%s", db_col_text(st, 0));
    sqlite3_reset(st);
    if (kind[0] == '\0') {
        store_reader_done(req->app->store, r);
        return err_set(&req->err, ERR_NOTFOUND, "id", "no such survey");
    }
    st = db_stmt(r, "SELECT i.id, i.status, i.channel, i.source, i.customer_id, i.request_id, "
                    "i.order_id, s.code, i.department, i.created_at_ms, i.expires_at_ms, "
                    "i.answered_at_ms, i.delivery_error, o.status, o.last_error "
                    "FROM survey_invitations i LEFT JOIN stores s ON s.id = i.store_id "
                    "LEFT JOIN outbox o ON o.id = i.outbox_id "
                    "WHERE i.survey_id = $1 AND ($2 IS NULL OR i.status = $2) "
                    "AND ($3 = 0 OR i.id < $3) AND ($4 = 0 OR i.store_id = $4) "
                    "AND ($5 IS NULL OR s.region = $5) ORDER BY i.id DESC LIMIT $6");
    db_bind_i64(st, 1, survey_id);
    db_bind_text(st, 2, status, -1);
    db_bind_i64(st, 3, cursor);
    db_bind_i64(st, 4, sf->scope == SCOPE_STORE ? sf->store_id : 0);
    db_bind_text(st, 5, sf->scope == SCOPE_REGION ? (sf->region ? sf->region : "") : NULL, -1);
    db_bind_i64(st, 6, limit + 1);
    bool is_enps = strcmp(kind, "enps") == 0;
    json_t *items = json_array();
    int64_t n = 0, last_id = 0;
    bool more = false;
    while (db_step(r, st, NULL) == 1) {
        if (n++ == limit) {
            more = true;
            break;
        }
        last_id = db_col_i64(st, 0);
        json_t *o = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)db_col_i64(st, 0),
                              "status", db_col_text(st, 1), "channel", db_col_text(st, 2),
                              "source", db_col_text(st, 3));
        static const char *const ids[] = {"customer_id", "request_id", "order_id"};
        for (int k = 0; k < 3; k++)
            json_object_set_new(o, ids[k], db_col_is_null(st, 4 + k)
                                               ? json_null()
                                               : json_integer(db_col_i64(st, 4 + k)));
        json_set_str_or_null(o, "store", db_col_is_null(st, 7) ? NULL : db_col_text(st, 7));
        if (is_enps)
            json_set_str_or_null(o, "department", db_col_is_null(st, 8) ? NULL : db_col_text(st, 8));
        json_set_time_or_null(o, "created_at", db_col_i64(st, 9));
        json_set_time_or_null(o, "expires_at", db_col_i64(st, 10));
        json_set_time_or_null(o, "answered_at", db_col_i64(st, 11));
        /* The message's own fate: queued, sent, delivered, read, failed... */
        json_set_str_or_null(o, "delivery", db_col_is_null(st, 13) ? NULL : db_col_text(st, 13));
        const char *why = !db_col_is_null(st, 12)   ? db_col_text(st, 12)
                          : !db_col_is_null(st, 14) ? db_col_text(st, 14)
                                                    : NULL;
        json_set_str_or_null(o, "delivery_error", why);
        json_array_append_new(items, o);
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    json_t *out = json_pack("{s:I, s:s, s:o}", "survey_id", (json_int_t)survey_id, "kind", kind,
                            "items", items);
    if (more)
        json_object_set_new(out, "next_cursor", json_integer(last_id));
    http_reply_json(resp, 200, out);
    return 0;
}
