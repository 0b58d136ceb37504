/*
 * rules_api_work.c - routing and goodwill through the API: an operator's
 * availability and capacity, pulling the next request, a supervisor's push
 * (transfer, with a note so the history travels along), first-contact
 * resolution, goodwill bonuses within the role's limit (above it a
 * supervisor approves), the limits themselves, and QR posters.
 */
#include "rules/rules_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/str.h"
#include "intake/intake.h"
#include "store/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int visible(struct http_request *req, int64_t id)
{
    struct db *r = store_reader(req->app->store);
    json_t *o = NULL;
    int rc = store_request_get(r, id, &req->who.scope, false, &o, &req->err);
    json_decref(o);
    store_reader_done(req->app->store, r);
    return rc;
}

static int reply_request(struct http_request *req, struct http_response *resp, int64_t id)
{
    struct db *r = store_reader(req->app->store);
    json_t *o = NULL;
    int rc = store_request_get(r, id, &req->who.scope, false, &o, &req->err);
    store_reader_done(req->app->store, r);
    if (rc == 0)
        http_reply_json(resp, 200, o);
    return rc;
}

/* ---- routing ----------------------------------------------------------------------------- */

struct me_job {
    int64_t user_id, capacity;
    bool available;
};

static int job_me(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct me_job *m = arg;
    sqlite3_stmt *st = db_stmt(store_tx_db(tx), "INSERT INTO operator_status (user_id, "
                                                "is_available, capacity, updated_at_ms) VALUES "
                                                "($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE "
                                                "SET is_available = $2, capacity = $3, "
                                                "updated_at_ms = $4");
    db_bind_i64(st, 1, m->user_id);
    db_bind_i64(st, 2, m->available);
    db_bind_i64(st, 3, m->capacity);
    db_bind_i64(st, 4, clock_now_ms());
    return db_run(store_tx_db(tx), st, err);
}

int rules_api_routing_me(struct http_request *req, struct http_response *resp)
{
    if (req->who.user_id == 0)
        return err_set(&req->err, ERR_FORBIDDEN, "", "routing is for signed-in users");
    json_t *body;
    int rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"available", "capacity", NULL};
    struct me_job m = {.user_id = req->who.user_id, .capacity = 5};
    json_t *av = json_object_get(body, "available"), *cap = json_object_get(body, "capacity");
    if ((rc = api_check_keys(req, body, keys)) != 0)
        goto out;
    if (!json_is_boolean(av)) {
        rc = err_set(&req->err, ERR_INVALID, "available", "available must be true or false");
        goto out;
    }
    if (cap && (!json_is_integer(cap) || json_integer_value(cap) < 1 ||
                json_integer_value(cap) > 100)) {
        rc = err_set(&req->err, ERR_INVALID, "capacity", "capacity must be 1 to 100");
        goto out;
    }
    m.available = json_is_true(av);
    if (cap)
        m.capacity = json_integer_value(cap);
    if ((rc = store_write(req->app->store, job_me, &m, &req->err)) == 0)
        http_reply_json(resp, 200, json_pack("{s:I, s:b, s:I}", "user_id", (json_int_t)m.user_id,
                                             "available", m.available, "capacity",
                                             (json_int_t)m.capacity));
out:
    json_decref(body);
    return rc;
}

struct pull_job {
    int64_t user_id, picked;
    const char *actor;
};

static int job_pull(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct pull_job *p = arg;
    struct db *db = store_tx_db(tx);
    char skills[256] = "";
    sqlite3_stmt *st = db_stmt(db, "SELECT skills FROM users WHERE id = $1");
    db_bind_i64(st, 1, p->user_id);
    if (db_step(db, st, NULL) == 1)
        snprintf(skills, sizeof skills, "%s", db_col_text(st, 0));
    sqlite3_reset(st);
    int64_t ids[200];
    int n = 0;
    st = db_stmt(db, "SELECT id FROM requests WHERE assignee_id IS NULL AND status IN ('new', "
                     "'open') AND channel NOT IN ('qr', 'internal') "
                     "ORDER BY created_at_ms, id LIMIT 200");
    while (n < 200 && db_step(db, st, NULL) == 1)
        ids[n++] = db_col_i64(st, 0);
    sqlite3_reset(st);
    for (int i = 0; i < n && p->picked == 0; i++) {
        struct req_info ri;
        if (req_info_load(db, ids[i], &ri) == 0 && routing_can_take(db, skills, &ri))
            p->picked = ids[i];
    }
    if (p->picked == 0)
        return err_set(err, ERR_NOTFOUND, "", "no waiting request matches your skills");
    struct request_patch patch = {.assignee_id = p->user_id, .actor = p->actor};
    return store_request_patch(tx, p->picked, &patch, err);
}

int rules_api_routing_next(struct http_request *req, struct http_response *resp)
{
    if (req->who.user_id == 0)
        return err_set(&req->err, ERR_FORBIDDEN, "", "routing is for signed-in users");
    struct pull_job p = {.user_id = req->who.user_id, .actor = api_actor(req)};
    int rc = store_write(req->app->store, job_pull, &p, &req->err);
    return rc ? rc : reply_request(req, resp, p.picked);
}

struct transfer_job {
    int64_t id, assignee;
    bool is_auto;
    const char *queue, *note, *actor;
    int64_t user_id;
};

static int job_transfer(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct transfer_job *t = arg;
    struct db *db = store_tx_db(tx);
    struct req_info ri;
    if (req_info_load(db, t->id, &ri) != 0)
        return err_set(err, ERR_NOTFOUND, "id", "no request %lld", (long long)t->id);
    struct request_patch p = {.queue = t->queue, .assignee_id = t->assignee, .actor = t->actor,
                              .user_id = t->user_id};
    if (t->is_auto) {
        p.assignee_id = routing_pick(db, &ri, ri.assignee_id);
        if (p.assignee_id == 0)
            return err_set(err, ERR_CONFLICT, "assignee", "no other operator is available");
    }
    int rc = store_request_patch(tx, t->id, &p, err);
    /* The note keeps the why with the history, so nobody asks the customer again. */
    if (rc == 0 && t->note) {
        struct message_in m = {.direction = "note", .body = t->note, .author_user_id = t->user_id,
                               .actor = t->actor, .author_name = t->actor};
        int64_t mid;
        rc = store_message_add(tx, t->id, &m, &mid, err);
    }
    t->assignee = p.assignee_id;
    return rc;
}

int rules_api_transfer(struct http_request *req, struct http_response *resp)
{
    struct transfer_job t = {.actor = api_actor(req), .user_id = req->who.user_id};
    json_t *body = NULL;
    int rc = http_param_id(req, 0, &t.id);
    if (rc == 0)
        rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"assignee", "queue", "note", NULL};
    json_t *a = json_object_get(body, "assignee");
    if ((rc = api_check_keys(req, body, keys)) ||
        (rc = intake_opt_string(body, "queue", 64, &req->arena, &t.queue, &req->err)) ||
        (rc = intake_opt_string(body, "note", 2000, &req->arena, &t.note, &req->err)))
        goto out;
    if (json_is_string(a) && strcmp(json_string_value(a), "auto") == 0)
        t.is_auto = true;
    else if (json_is_integer(a) && json_integer_value(a) > 0)
        t.assignee = json_integer_value(a);
    else if (a != NULL || t.queue == NULL) {
        rc = err_set(&req->err, ERR_INVALID, "assignee", "assignee must be a user id or \"auto\"");
        goto out;
    }
    if ((rc = visible(req, t.id)) == 0 &&
        (rc = store_write(req->app->store, job_transfer, &t, &req->err)) == 0)
        rc = reply_request(req, resp, t.id);
out:
    json_decref(body);
    return rc;
}

int rules_api_fcr(struct http_request *req, struct http_response *resp)
{
    int64_t since = 0;
    const char *s = http_query(req, "since");
    if (s && time_parse_rfc3339(str_from(s), &since) != 0)
        return err_set(&req->err, ERR_INVALID, "since", "since must be an RFC 3339 time");
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT COALESCE(first_assignee_id, 0), COUNT(*), SUM(is_fcr) "
                                  "FROM request_outcomes WHERE solved_at_ms >= $1 "
                                  "GROUP BY first_assignee_id ORDER BY first_assignee_id");
    db_bind_i64(st, 1, since);
    json_t *by = json_array();
    int64_t solved = 0, fcr = 0;
    while (db_step(r, st, NULL) == 1) {
        int64_t n = db_col_i64(st, 1), k = db_col_i64(st, 2);
        solved += n;
        fcr += k;
        json_array_append_new(by, json_pack("{s:I, s:I, s:I}", "first_assignee_id",
                                            (json_int_t)db_col_i64(st, 0), "solved", (json_int_t)n,
                                            "fcr", (json_int_t)k));
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    json_t *o = json_pack("{s:I, s:I, s:o}", "solved", (json_int_t)solved, "fcr", (json_int_t)fcr,
                          "by_operator", by);
    json_object_set_new(o, "fcr_rate", solved ? json_real((double)fcr / (double)solved) : json_null());
    http_reply_json(resp, 200, o);
    return 0;
}
