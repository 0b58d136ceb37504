/*
 * rules_api_goodwill.c - goodwill bonuses and QR posters.  An operator may
 * give a customer bonus points up to the role's limit (goodwill_limits, set
 * by the admin); above it the gift waits for a supervisor whose own limit
 * covers it.  Every movement goes through store_bonus_add, so the ledger
 * says who gave it and why.
 */
#include "rules/rules_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/str.h"
#include "intake/intake.h"
#include "store/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t role_limit(struct db *db, const char *role)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT max_points FROM goodwill_limits WHERE role = $1");
    db_bind_text(st, 1, role, -1);
    int64_t v = db_step(db, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    return v;
}

struct gw {
    int64_t request_id, points, id;
    const char *reason, *actor, *role;
    bool is_pending, approve;
};

static int accrue(struct rules_job *j, const struct req_info *ri, int64_t points,
                  const char *reason, const char *ref, const char *actor, const char *requested_by,
                  struct err_info *err)
{
    struct bonus_in b = {.customer_id = ri->customer_id, .amount = points, .reason = reason,
                         .ref = ref, .actor = actor, .at_ms = j->now_ms};
    int rc = store_bonus_add(j->tx, &b, err);
    if (rc == 0)
        rc = job_event(j, "compensation.accrued", ri->id, ri->customer_id, 0, ri->store_id, actor,
                       json_pack("{s:I, s:s, s:s, s:s, s:s}", "points", (json_int_t)points,
                                 "reason", reason, "kind", "goodwill", "ref", ref, "requested_by",
                                 requested_by),
                       err);
    return rc;
}

static int job_goodwill(struct rules_job *j, void *arg, struct err_info *err)
{
    struct gw *g = arg;
    struct db *db = store_tx_db(j->tx);
    struct req_info ri;
    if (req_info_load(db, g->request_id, &ri) != 0)
        return err_set(err, ERR_NOTFOUND, "id", "no request %lld", (long long)g->request_id);
    if (ri.customer_id == 0)
        return err_set(err, ERR_CONFLICT, "id", "the request has no customer to give bonuses to");
    if (g->points <= role_limit(db, g->role)) {
        const char *ref = arena_printf(j->a, "goodwill:req%lld:%lld", (long long)ri.id,
                                       (long long)j->now_ms);
        return accrue(j, &ri, g->points, g->reason, ref, g->actor, g->actor, err);
    }
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO goodwill_requests (request_id, customer_id, points,"
                                   " reason, requested_by, status, created_at_ms) "
                                   "VALUES ($1, $2, $3, $4, $5, 'pending', $6)");
    db_bind_i64(st, 1, ri.id);
    db_bind_i64(st, 2, ri.customer_id);
    db_bind_i64(st, 3, g->points);
    db_bind_text(st, 4, g->reason, -1);
    db_bind_text(st, 5, g->actor, -1);
    db_bind_i64(st, 6, j->now_ms);
    int rc = db_run(db, st, err);
    if (rc != 0)
        return rc;
    g->id = db_last_id(db);
    g->is_pending = true;
    rc = job_event(j, "goodwill.requested", ri.id, ri.customer_id, 0, ri.store_id, g->actor,
                   json_pack("{s:I, s:I, s:s}", "goodwill_id", (json_int_t)g->id, "points",
                             (json_int_t)g->points, "reason", g->reason),
                   err);
    if (rc == 0)
        rc = notify_role(j, "supervisor", 0, ri.id, ri.store_id, "goodwill",
                         arena_printf(j->a, "Одобрить %lld бонусов по обращению %lld",
                                      (long long)g->points, (long long)ri.id),
                         g->actor, err);
    return rc;
}

int rules_api_goodwill(struct http_request *req, struct http_response *resp)
{
    struct gw g = {.actor = api_actor(req), .role = req->who.role};
    json_t *body = NULL;
    int rc = http_param_id(req, 0, &g.request_id);
    if (rc == 0)
        rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"points", "reason", NULL};
    json_t *p = json_object_get(body, "points");
    if ((rc = api_check_keys(req, body, keys)) ||
        (rc = intake_req_string(body, "reason", 300, &req->arena, &g.reason, &req->err)))
        goto out;
    if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 1000000) {
        rc = err_set(&req->err, ERR_INVALID, "points", "points must be 1 to 1000000");
        goto out;
    }
    g.points = json_integer_value(p);
    struct db *r = store_reader(req->app->store);
    json_t *o = NULL;
    rc = store_request_get(r, g.request_id, &req->who.scope, false, &o, &req->err);
    json_decref(o);
    store_reader_done(req->app->store, r);
    if (rc == 0)
        rc = rules_run_job(rules_of(req->app), req->app->store, &req->arena, job_goodwill, &g,
                           &req->err);
    if (rc == 0)
        http_reply_json(resp, g.is_pending ? 202 : 201,
                        json_pack("{s:s, s:I, s:I}", "status",
                                  g.is_pending ? "pending_approval" : "accrued", "points",
                                  (json_int_t)g.points, "goodwill_id", (json_int_t)g.id));
out:
    json_decref(body);
    return rc;
}

static int job_decide(struct rules_job *j, void *arg, struct err_info *err)
{
    struct gw *g = arg;
    struct db *db = store_tx_db(j->tx);
    sqlite3_stmt *st = db_stmt(db, "SELECT request_id, points, reason, requested_by, status "
                                   "FROM goodwill_requests WHERE id = $1");
    db_bind_i64(st, 1, g->id);
    if (db_step(db, st, NULL) != 1) {
        sqlite3_reset(st);
        return err_set(err, ERR_NOTFOUND, "id", "no goodwill request %lld", (long long)g->id);
    }
    g->request_id = db_col_i64(st, 0);
    g->points = db_col_i64(st, 1);
    const char *reason = arena_strdup(j->a, db_col_text(st, 2));
    const char *by = arena_strdup(j->a, db_col_text(st, 3));
    bool pending = strcmp(db_col_text(st, 4), "pending") == 0;
    sqlite3_reset(st);
    if (!pending)
        return err_set(err, ERR_CONFLICT, "id", "goodwill request %lld is decided already",
                       (long long)g->id);
    if (g->approve && g->points > role_limit(db, g->role))
        return err_set(err, ERR_FORBIDDEN, "points", "%lld points are above your limit",
                       (long long)g->points);
    st = db_stmt(db, "UPDATE goodwill_requests SET status = $2, decided_by = $3, "
                     "decided_at_ms = $4 WHERE id = $1");
    db_bind_i64(st, 1, g->id);
    db_bind_text(st, 2, g->approve ? "approved" : "rejected", -1);
    db_bind_text(st, 3, g->actor, -1);
    db_bind_i64(st, 4, j->now_ms);
    int rc = db_run(db, st, err);
    struct req_info ri;
    if (rc == 0 && req_info_load(db, g->request_id, &ri) != 0)
        rc = err_set(err, ERR_NOTFOUND, "id", "the request is gone");
    if (rc == 0 && g->approve)
        rc = accrue(j, &ri, g->points, arena_printf(j->a, "%s (одобрил %s)", reason, g->actor),
                    arena_printf(j->a, "goodwill:%lld", (long long)g->id), g->actor, by, err);
    if (rc == 0 && !g->approve)
        rc = job_event(j, "goodwill.rejected", ri.id, ri.customer_id, 0, ri.store_id, g->actor,
                       json_pack("{s:I, s:I}", "goodwill_id", (json_int_t)g->id, "points",
                                 (json_int_t)g->points),
                       err);
    return rc;
}

int rules_api_goodwill_decide(struct http_request *req, struct http_response *resp)
{
    struct gw g = {.actor = api_actor(req), .role = req->who.role};
    int rc = http_param_id(req, 0, &g.id);
    if (rc != 0)
        return rc;
    const char *d = req->params[1];
    if (strcmp(d, "approve") != 0 && strcmp(d, "reject") != 0)
        return err_set(&req->err, ERR_NOTFOUND, "", "use /approve or /reject");
    g.approve = strcmp(d, "approve") == 0;
    rc = rules_run_job(rules_of(req->app), req->app->store, &req->arena, job_decide, &g, &req->err);
    if (rc == 0)
        http_reply_json(resp, 200, json_pack("{s:I, s:s, s:I}", "goodwill_id", (json_int_t)g.id,
                                             "status", g.approve ? "approved" : "rejected",
                                             "points", (json_int_t)g.points));
    return rc;
}

int rules_api_goodwill_limits_get(struct http_request *req, struct http_response *resp)
{
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT role, max_points FROM goodwill_limits ORDER BY role");
    json_t *o = json_object();
    while (db_step(r, st, NULL) == 1)
        json_object_set_new(o, db_col_text(st, 0), json_integer(db_col_i64(st, 1)));
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    http_reply_json(resp, 200, json_pack("{s:o}", "limits", o));
    return 0;
}

static int job_limits(struct store_tx *tx, void *arg, struct err_info *err)
{
    json_t *limits = arg;
    const char *role;
    json_t *v;
    int rc = 0;
    json_object_foreach(limits, role, v)
    {
        sqlite3_stmt *st = db_stmt(store_tx_db(tx), "INSERT INTO goodwill_limits (role, max_points,"
                                                    " updated_at_ms) VALUES ($1, $2, $3) ON "
                                                    "CONFLICT (role) DO UPDATE SET max_points = $2,"
                                                    " updated_at_ms = $3");
        db_bind_text(st, 1, role, -1);
        db_bind_i64(st, 2, json_integer_value(v));
        db_bind_i64(st, 3, clock_now_ms());
        if ((rc = db_run(store_tx_db(tx), st, err)) != 0)
            break;
    }
    return rc;
}

int rules_api_goodwill_limits_put(struct http_request *req, struct http_response *resp)
{
    json_t *body;
    int rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    json_t *limits = json_object_get(body, "limits");
    static const char *const keys[] = {"limits", NULL};
    if ((rc = api_check_keys(req, body, keys)) == 0 && !json_is_object(limits))
        rc = err_set(&req->err, ERR_INVALID, "limits", "limits must be an object role -> points");
    const char *role;
    json_t *v;
    if (rc == 0)
        json_object_foreach(limits, role, v)
        {
            char f[64];
            snprintf(f, sizeof f, "limits.%.40s", role);
            if (rc == 0 && model_find(model_roles, role) < 0)
                rc = err_set(&req->err, ERR_INVALID, f, "unknown role '%.40s'", role);
            if (rc == 0 && (!json_is_integer(v) || json_integer_value(v) < 0 ||
                            json_integer_value(v) > 1000000))
                rc = err_set(&req->err, ERR_INVALID, f, "a limit is 0 to 1000000 points");
        }
    if (rc == 0)
        rc = store_write(req->app->store, job_limits, limits, &req->err);
    json_decref(body);
    return rc ? rc : rules_api_goodwill_limits_get(req, resp);
}

/* ---- posters ------------------------------------------------------------------------------ */

int rules_api_poster(struct http_request *req, struct http_response *resp)
{
    struct rules *R = rules_of(req->app);
    const char *code = req->params[0];
    const char *fmt = http_query(req, "format"), *base = http_query(req, "base_url");
    const char *checkout_s = http_query(req, "checkout");
    int64_t checkout = 0;
    if (R == NULL)
        return err_set(&req->err, ERR_UNAVAILABLE, "", "the rules part is not running");
    if (checkout_s && str_to_i64(str_from(checkout_s), 1, 999, &checkout) != 0)
        return err_set(&req->err, ERR_INVALID, "checkout", "checkout must be 1 to 999");
    if (fmt && strcmp(fmt, "svg") != 0 && strcmp(fmt, "png") != 0)
        return err_set(&req->err, ERR_INVALID, "format", "format must be svg or png");
    if (base && strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)
        return err_set(&req->err, ERR_INVALID, "base_url", "base_url must be an http(s) URL");
    if (base == NULL && req->app->cfg != NULL && req->app->cfg->public_url[0] != '\0') {
        char *u = arena_alloc(&req->arena, sizeof req->app->cfg->public_url);
        config_public_url(req->app->cfg, u, sizeof req->app->cfg->public_url);
        base = u;
    } else if (base == NULL) {
        const char *host = http_header(req, "Host");
        base = arena_printf(&req->arena, "http://%s", host ? host : "localhost");
    }
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, name FROM stores WHERE code = $1");
    db_bind_text(st, 1, code, -1);
    int64_t store_id = 0;
    const char *name = NULL;
    if (db_step(r, st, NULL) == 1) {
        store_id = db_col_i64(st, 0);
        name = arena_strdup(&req->arena, db_col_text(st, 1));
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    if (store_id == 0 || (req->who.scope.scope == SCOPE_STORE && req->who.scope.store_id != store_id))
        return err_set(&req->err, ERR_NOTFOUND, "store", "no store '%.40s'", code);
    bool is_png = fmt && strcmp(fmt, "png") == 0;
    char *data = NULL;
    size_t len = 0;
    int rc = rules_qr_poster(R->qr_key, base, code, name, checkout, is_png, &data, &len, &req->err);
    if (rc != 0)
        return rc;
    resp->status = 200;
    resp->content_type = is_png ? "image/png" : "image/svg+xml";
    buf_reset(&resp->body);
    buf_put(&resp->body, data, len);
    free(data);
    return 0;
}
