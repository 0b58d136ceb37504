/*
 * rules_api_ops.c - the machine's operational API: the escalation matrix,
 * manual escalation and confirmation, a user's notifications, and linking
 * an internal request to the customer request it delays.
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

/* ---- the escalation matrix -------------------------------------------------------- */

int rules_api_matrix_get(struct http_request *req, struct http_response *resp)
{
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, position, kind, topic, priority, levels "
                                  "FROM escalation_matrix ORDER BY position, id");
    json_t *rows = json_array();
    while (db_step(r, st, NULL) == 1) {
        json_t *levels = json_loads(db_col_text(st, 5), 0, NULL);
        json_array_append_new(rows, json_pack("{s:I, s:I, s:s?, s:s?, s:s?, s:o}", "id",
                                              (json_int_t)db_col_i64(st, 0), "position",
                                              (json_int_t)db_col_i64(st, 1), "kind",
                                              db_col_text(st, 2), "topic", db_col_text(st, 3),
                                              "priority", db_col_text(st, 4), "levels",
                                              levels ? levels : json_array()));
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    http_reply_json(resp, 200, json_pack("{s:o}", "rows", rows));
    return 0;
}

static int job_matrix(struct store_tx *tx, void *arg, struct err_info *err)
{
    json_t *rows = arg;
    struct db *db = store_tx_db(tx);
    int rc = db_run(db, db_stmt(db, "DELETE FROM escalation_matrix"), err);
    for (size_t i = 0; i < json_array_size(rows) && rc == 0; i++) {
        json_t *row = json_array_get(rows, i);
        char *levels = json_dumps(json_object_get(row, "levels"), JSON_COMPACT);
        sqlite3_stmt *st = db_stmt(db, "INSERT INTO escalation_matrix (position, kind, topic, "
                                       "priority, levels, updated_at_ms) VALUES ($1, $2, $3, $4, "
                                       "$5, $6)");
        db_bind_i64(st, 1, (int64_t)i * 10 + 10);
        db_bind_text(st, 2, json_string_value(json_object_get(row, "kind")), -1);
        db_bind_text(st, 3, json_string_value(json_object_get(row, "topic")), -1);
        db_bind_text(st, 4, json_string_value(json_object_get(row, "priority")), -1);
        db_bind_text(st, 5, levels, -1);
        db_bind_i64(st, 6, clock_now_ms());
        rc = db_run(db, st, err);
        free(levels);
    }
    return rc;
}

/* Validate matrix rows: optional kind/topic/priority from the vocabulary, 1..8 levels upward. */
static int check_rows(struct http_request *req, json_t *rows)
{
    char f[64];
    if (!json_is_array(rows) || json_array_size(rows) == 0 || json_array_size(rows) > 100)
        return err_set(&req->err, ERR_INVALID, "rows", "rows must be a list of 1 to 100 rows");
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        static const char *const keys[] = {"kind", "topic", "priority", "levels", NULL};
        const char *const *lists[] = {model_kinds, model_topics, model_priorities};
        const char *key;
        json_t *v;
        if (!json_is_object(row)) {
            snprintf(f, sizeof f, "rows[%zu]", i);
            return err_set(&req->err, ERR_INVALID, f, "a row is an object");
        }
        json_object_foreach(row, key, v)
        {
            int k = model_find(keys, key);
            snprintf(f, sizeof f, "rows[%zu].%.30s", i, key);
            if (k < 0)
                return err_set(&req->err, ERR_INVALID, f, "unknown field");
            if (k < 3 && !json_is_null(v) && model_find(lists[k], json_string_value(v)) < 0)
                return err_set(&req->err, ERR_INVALID, f, "not a known %s", key);
        }
        json_t *levels = json_object_get(row, "levels");
        snprintf(f, sizeof f, "rows[%zu].levels", i);
        if (!json_is_array(levels) || json_array_size(levels) == 0 || json_array_size(levels) > 8)
            return err_set(&req->err, ERR_INVALID, f, "levels must be a list of 1 to 8 levels");
        int prev = -1;
        for (size_t k = 0; k < json_array_size(levels); k++) {
            json_t *l = json_array_get(levels, k);
            int rank = model_find(rules_levels, json_string_value(json_object_get(l, "level")));
            json_t *min = json_object_get(l, "minutes");
            snprintf(f, sizeof f, "rows[%zu].levels[%zu]", i, k);
            if (rank <= prev || !json_is_integer(min) || json_integer_value(min) < 0 ||
                json_integer_value(min) > 100000 || json_object_size(l) != 2)
                return err_set(&req->err, ERR_INVALID, f,
                               "a level is {\"level\", \"minutes\"}, levels going upward");
            prev = rank;
        }
    }
    return 0;
}

int rules_api_matrix_put(struct http_request *req, struct http_response *resp)
{
    json_t *body;
    int rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"rows", NULL};
    json_t *rows = json_object_get(body, "rows");
    if ((rc = api_check_keys(req, body, keys)) == 0 && (rc = check_rows(req, rows)) == 0)
        rc = store_write(req->app->store, job_matrix, rows, &req->err);
    json_decref(body);
    return rc ? rc : rules_api_matrix_get(req, resp);
}

/* ---- manual escalation, confirmation ----------------------------------------------- */

struct esc_args {
    int64_t id;
    const char *level, *reason, *actor;
    bool is_confirm;
};

static int job_escalate(struct rules_job *j, void *arg, struct err_info *err)
{
    struct esc_args *a = arg;
    struct req_info ri;
    if (req_info_load(store_tx_db(j->tx), a->id, &ri) != 0)
        return err_set(err, ERR_NOTFOUND, "id", "no request %lld", (long long)a->id);
    if (a->is_confirm)
        return esc_stop(j, &ri, "confirmed", a->actor, err);
    return esc_raise(j, a->id, a->level, a->reason, a->actor, err);
}

static int escalation_call(struct http_request *req, struct http_response *resp, bool is_confirm)
{
    struct esc_args a = {.actor = api_actor(req), .is_confirm = is_confirm,
                         .reason = "вручную"};
    int rc = http_param_id(req, 0, &a.id);
    if (rc != 0)
        return rc;
    json_t *body = NULL;
    if (!is_confirm && req->body.len > 0) {
        static const char *const keys[] = {"level", "reason", NULL};
        if ((rc = http_json_body(req, &body)) || (rc = api_check_keys(req, body, keys)) ||
            (rc = intake_opt_enum(body, "level", rules_levels, &a.level, &req->err)) ||
            (rc = intake_opt_string(body, "reason", 300, &req->arena, &a.reason, &req->err)))
            goto out;
        if (a.reason == NULL)
            a.reason = "вручную";
    }
    struct db *r = store_reader(req->app->store);
    json_t *o = NULL;
    rc = store_request_get(r, a.id, &req->who.scope, false, &o, &req->err);
    json_decref(o);
    store_reader_done(req->app->store, r);
    if (rc == 0)
        rc = rules_run_job(rules_of(req->app), req->app->store, &req->arena, job_escalate, &a,
                           &req->err);
    if (rc == 0)
        rc = rules_api_request_sla(req, resp);
out:
    json_decref(body);
    return rc;
}

int rules_api_escalate(struct http_request *req, struct http_response *resp)
{
    return escalation_call(req, resp, false);
}

int rules_api_escalation_confirm(struct http_request *req, struct http_response *resp)
{
    return escalation_call(req, resp, true);
}

/* ---- notifications -------------------------------------------------------------------- */

int rules_api_notifications(struct http_request *req, struct http_response *resp)
{
    const char *unread = http_query(req, "unread");
    bool only_unread = unread && strcmp(unread, "1") == 0;
    struct db *r = store_reader(req->app->store);
    /* Mine, plus those addressed to my role for my store or region. */
    sqlite3_stmt *st = db_stmt(
        r, "SELECT id, request_id, kind, title, created_at_ms, COALESCE(read_at_ms, 0), role "
           "FROM notifications WHERE (user_id = $1 OR (user_id IS NULL AND role = $2 AND "
           "(store_id IS NULL OR store_id = $3 OR $3 = 0) AND (region IS NULL OR region = $4 OR "
           "$4 = ''))) AND ($5 = 0 OR read_at_ms IS NULL) ORDER BY id DESC LIMIT 100");
    db_bind_i64(st, 1, req->who.user_id ? req->who.user_id : -1);
    db_bind_text(st, 2, req->who.role, -1);
    db_bind_i64(st, 3, req->who.scope.scope == SCOPE_STORE ? req->who.scope.store_id : 0);
    db_bind_text(st, 4, req->who.scope.scope == SCOPE_REGION ? req->who.region : "", -1);
    db_bind_i64(st, 5, only_unread);
    json_t *items = json_array();
    int64_t n_unread = 0;
    while (db_step(r, st, NULL) == 1) {
        char at[40];
        time_format_rfc3339(db_col_i64(st, 4), at, sizeof at);
        bool is_read = db_col_i64(st, 5) != 0;
        n_unread += !is_read;
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:b, s:s?}", "id",
                              (json_int_t)db_col_i64(st, 0), "kind", db_col_text(st, 2), "title",
                              db_col_text(st, 3), "created_at", at, "read", is_read, "role",
                              db_col_text(st, 6));
        json_object_set_new(o, "request_id", db_col_is_null(st, 1) ? json_null()
                                                                   : json_integer(db_col_i64(st, 1)));
        json_array_append_new(items, o);
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    http_reply_json(resp, 200, json_pack("{s:o, s:I}", "items", items, "unread", (json_int_t)n_unread));
    return 0;
}

struct read_job {
    int64_t id, user_id;
    const char *role;
};

static int job_read(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct read_job *j = arg;
    struct db *db = store_tx_db(tx);
    sqlite3_stmt *st = db_stmt(db, "UPDATE notifications SET read_at_ms = COALESCE(read_at_ms, $3)"
                                   " WHERE id = $1 AND (user_id = $2 OR (user_id IS NULL AND "
                                   "role = $4))");
    db_bind_i64(st, 1, j->id);
    db_bind_i64(st, 2, j->user_id ? j->user_id : -1);
    db_bind_i64(st, 3, clock_now_ms());
    db_bind_text(st, 4, j->role, -1);
    int rc = db_run(db, st, err);
    if (rc == 0 && db_changes(db) == 0)
        return err_set(err, ERR_NOTFOUND, "id", "no notification %lld for you", (long long)j->id);
    return rc;
}

int rules_api_notification_read(struct http_request *req, struct http_response *resp)
{
    struct read_job j = {.user_id = req->who.user_id, .role = req->who.role};
    int rc = http_param_id(req, 0, &j.id);
    if (rc == 0)
        rc = store_write(req->app->store, job_read, &j, &req->err);
    if (rc == 0)
        http_reply_json(resp, 200, json_pack("{s:I, s:b}", "id", (json_int_t)j.id, "read", 1));
    return rc;
}

/* ---- links ---------------------------------------------------------------------------- */

struct link_job {
    int64_t id, other;
    const char *kind, *actor;
};

static int job_link(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct link_job *j = arg;
    struct db *db = store_tx_db(tx);
    struct req_info a, b;
    if (req_info_load(db, j->other, &b) != 0)
        return err_set(err, ERR_INVALID, "request", "no request %lld", (long long)j->other);
    if (req_info_load(db, j->id, &a) != 0)
        return err_set(err, ERR_NOTFOUND, "id", "no request %lld", (long long)j->id);
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO request_links (request_id, linked_request_id, kind,"
                                   " created_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING");
    db_bind_i64(st, 1, j->id);
    db_bind_i64(st, 2, j->other);
    db_bind_text(st, 3, j->kind, -1);
    db_bind_i64(st, 4, clock_now_ms());
    int rc = db_run(db, st, err);
    char data[128];
    snprintf(data, sizeof data, "{\"linked_request_id\":%lld,\"kind\":\"%s\"}",
             (long long)j->other, j->kind);
    int64_t ev = rc == 0 ? store_event_add(tx, "request.linked", j->id, b.customer_id, 0,
                                           a.store_id, j->actor, data, err)
                         : rc;
    return ev < 0 ? (int)ev : 0;
}

int rules_api_link(struct http_request *req, struct http_response *resp)
{
    static const char *const kinds[] = {"delays", "related", NULL};
    static const char *const keys[] = {"request", "kind", NULL};
    struct link_job j = {.kind = "delays", .actor = api_actor(req)};
    json_t *body = NULL;
    int rc = http_param_id(req, 0, &j.id);
    if (rc == 0 && (rc = http_json_body(req, &body)) == 0 &&
        (rc = api_check_keys(req, body, keys)) == 0 &&
        (rc = intake_opt_enum(body, "kind", kinds, &j.kind, &req->err)) == 0) {
        json_t *other = json_object_get(body, "request");
        if (!json_is_integer(other) || json_integer_value(other) <= 0 ||
            json_integer_value(other) == j.id)
            rc = err_set(&req->err, ERR_INVALID, "request", "request must be another request's id");
        else
            j.other = json_integer_value(other);
    }
    if (rc == 0) {
        struct db *r = store_reader(req->app->store);
        json_t *o = NULL;
        rc = store_request_get(r, j.id, &req->who.scope, false, &o, &req->err);
        json_decref(o);
        store_reader_done(req->app->store, r);
    }
    if (j.kind == NULL)
        j.kind = "delays";
    if (rc == 0)
        rc = store_write(req->app->store, job_link, &j, &req->err);
    if (rc == 0)
        http_reply_json(resp, 201, json_pack("{s:I, s:I, s:s}", "request_id", (json_int_t)j.id,
                                             "linked_request_id", (json_int_t)j.other, "kind",
                                             j.kind));
    json_decref(body);
    return rc;
}
