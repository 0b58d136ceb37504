/*
 * rules_api.c - /api/v1/rules: list, create, read (with versions), update
 * (a new version), delete, and the dry-run over history.  A rule is
 * compiled before it is saved, so a bad one is refused with the JSON path of
 * its bad part; a saved rule swaps the engine's snapshot at once.
 */
#include "rules/rules_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/str.h"
#include "intake/intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRY_RUN_MAX_EVENTS 500000
#define DRY_RUN_MAX_IDS 1000

static json_t *rule_row_json(sqlite3_stmt *st)
{
    json_t *def = json_loads(db_col_text(st, 4), 0, NULL);
    json_t *o = json_pack("{s:I, s:s, s:I, s:b, s:I}", "id", (json_int_t)db_col_i64(st, 0), "name",
                          db_col_text(st, 1), "position", (json_int_t)db_col_i64(st, 2), "enabled",
                          db_col_i64(st, 3) != 0, "version", (json_int_t)db_col_i64(st, 5));
    json_object_set(o, "when", json_object_get(def, "when"));
    json_object_set(o, "actions", json_object_get(def, "actions"));
    json_decref(def);
    char at[40];
    time_format_rfc3339(db_col_i64(st, 6), at, sizeof at);
    json_object_set_new(o, "updated_at", json_string(at));
    json_object_set_new(o, "updated_by", db_col_text(st, 7) ? json_string(db_col_text(st, 7))
                                                            : json_null());
    return o;
}

int rules_api_list(struct http_request *req, struct http_response *resp)
{
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, name, position, is_enabled, definition, version, "
                                  "updated_at_ms, updated_by FROM rules WHERE is_deleted = 0 "
                                  "ORDER BY position, id");
    json_t *items = json_array();
    while (db_step(r, st, NULL) == 1)
        json_array_append_new(items, rule_row_json(st));
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    http_reply_json(resp, 200, json_pack("{s:o}", "items", items));
    return 0;
}

struct rule_input {
    const char *name;
    int64_t position;
    bool is_enabled;
    char *definition; /* heap */
};

/* Validate a body into in (compiling the rule); ERR_INVALID naming the bad part. */
static int parse_rule(struct http_request *req, json_t *body, bool is_update, struct rule_input *in)
{
    static const char *const keys[] = {"name", "position", "enabled", "when", "actions", NULL};
    int rc = api_check_keys(req, body, keys);
    if (rc == 0)
        rc = is_update ? intake_opt_string(body, "name", 200, &req->arena, &in->name, &req->err)
                       : intake_req_string(body, "name", 200, &req->arena, &in->name, &req->err);
    if (rc != 0)
        return rc;
    json_t *pos = json_object_get(body, "position"), *en = json_object_get(body, "enabled");
    if (pos && (!json_is_integer(pos) || json_integer_value(pos) < 0 ||
                json_integer_value(pos) > 1000000))
        return err_set(&req->err, ERR_INVALID, "position", "position must be 0 to 1000000");
    if (en && !json_is_boolean(en))
        return err_set(&req->err, ERR_INVALID, "enabled", "enabled must be true or false");
    in->position = pos ? json_integer_value(pos) : 100;
    in->is_enabled = en ? json_is_true(en) : true;
    json_t *def = json_pack("{s:O?, s:O?}", "when", json_object_get(body, "when"), "actions",
                            json_object_get(body, "actions"));
    struct db *r = store_reader(req->app->store);
    struct rule *rule = NULL;
    rc = rule_compile(def, r, &rule, &req->err);
    store_reader_done(req->app->store, r);
    rule_free(rule);
    if (rc == 0)
        in->definition = json_dumps(def, JSON_COMPACT);
    json_decref(def);
    return rc;
}

struct save_job {
    int64_t id; /* 0: create */
    struct rule_input *in;
    json_t *body;
    const char *actor;
    bool is_delete;
    int64_t version;
};

static int job_save(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct save_job *j = arg;
    struct db *db = store_tx_db(tx);
    int64_t now = clock_now_ms();
    int rc;
    if (j->id == 0) {
        sqlite3_stmt *st = db_stmt(db, "INSERT INTO rules (name, position, is_enabled, definition,"
                                       " created_at_ms, updated_at_ms, updated_by) "
                                       "VALUES ($1, $2, $3, $4, $5, $5, $6)");
        db_bind_text(st, 1, j->in->name, -1);
        db_bind_i64(st, 2, j->in->position);
        db_bind_i64(st, 3, j->in->is_enabled);
        db_bind_text(st, 4, j->in->definition, -1);
        db_bind_i64(st, 5, now);
        db_bind_text(st, 6, j->actor, -1);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
        j->id = db_last_id(db);
        j->version = 1;
    } else {
        sqlite3_stmt *st = db_stmt(db, "SELECT version FROM rules WHERE id = $1 AND is_deleted = 0");
        db_bind_i64(st, 1, j->id);
        int found = db_step(db, st, NULL);
        j->version = found == 1 ? db_col_i64(st, 0) + 1 : 0;
        sqlite3_reset(st);
        if (found != 1)
            return err_set(err, ERR_NOTFOUND, "id", "no rule %lld", (long long)j->id);
        st = db_stmt(db, "UPDATE rules SET name = COALESCE($2, name), position = $3, "
                         "is_enabled = $4, definition = COALESCE($5, definition), version = $6, "
                         "is_deleted = $7, updated_at_ms = $8, updated_by = $9 WHERE id = $1");
        db_bind_i64(st, 1, j->id);
        db_bind_text(st, 2, j->in ? j->in->name : NULL, -1);
        db_bind_i64(st, 3, j->in ? j->in->position : 0);
        db_bind_i64(st, 4, j->in ? j->in->is_enabled : 0);
        db_bind_text(st, 5, j->in ? j->in->definition : NULL, -1);
        db_bind_i64(st, 6, j->version);
        db_bind_i64(st, 7, j->is_delete);
        db_bind_i64(st, 8, now);
        db_bind_text(st, 9, j->actor, -1);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
    }
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO rule_versions (rule_id, version, definition, "
                                   "saved_at_ms, saved_by) SELECT id, version, definition, $2, $3 "
                                   "FROM rules WHERE id = $1");
    db_bind_i64(st, 1, j->id);
    db_bind_i64(st, 2, now);
    db_bind_text(st, 3, j->actor, -1);
    if ((rc = db_run(db, st, err)) != 0)
        return rc;
    char data[96];
    snprintf(data, sizeof data, "{\"rule_id\":%lld,\"version\":%lld,\"deleted\":%s}",
             (long long)j->id, (long long)j->version, j->is_delete ? "true" : "false");
    int64_t ev = store_event_add(tx, "rule.saved", 0, 0, 0, 0, j->actor, data, err);
    return ev < 0 ? (int)ev : 0;
}

static int reply_rule(struct http_request *req, struct http_response *resp, int64_t id, int status)
{
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, name, position, is_enabled, definition, version, "
                                  "updated_at_ms, updated_by FROM rules WHERE id = $1 AND "
                                  "is_deleted = 0");
    db_bind_i64(st, 1, id);
    json_t *o = db_step(r, st, NULL) == 1 ? rule_row_json(st) : NULL;
    sqlite3_reset(st);
    if (o) {
        json_t *versions = json_array();
        st = db_stmt(r, "SELECT version, definition, saved_at_ms, saved_by FROM rule_versions "
                        "WHERE rule_id = $1 ORDER BY version DESC LIMIT 50");
        db_bind_i64(st, 1, id);
        while (db_step(r, st, NULL) == 1) {
            char at[40];
            time_format_rfc3339(db_col_i64(st, 2), at, sizeof at);
            json_t *def = json_loads(db_col_text(st, 1), 0, NULL);
            json_array_append_new(versions,
                                  json_pack("{s:I, s:o, s:s, s:s?}", "version",
                                            (json_int_t)db_col_i64(st, 0), "definition",
                                            def ? def : json_null(), "saved_at", at, "saved_by",
                                            db_col_text(st, 3)));
        }
        sqlite3_reset(st);
        json_object_set_new(o, "versions", versions);
    }
    store_reader_done(req->app->store, r);
    if (o == NULL)
        return err_set(&req->err, ERR_NOTFOUND, "id", "no rule %lld", (long long)id);
    http_reply_json(resp, status, o);
    return 0;
}

static int save(struct http_request *req, struct http_response *resp, int64_t id, bool is_delete)
{
    json_t *body = NULL;
    struct rule_input in = {0};
    int rc = 0;
    if (!is_delete) {
        if ((rc = http_json_body(req, &body)) != 0)
            return rc;
        if (!json_is_object(body))
            rc = err_set(&req->err, ERR_INVALID, "", "the body must be a JSON object");
        if (rc == 0)
            rc = parse_rule(req, body, id != 0, &in);
    }
    struct save_job j = {.id = id, .in = is_delete ? NULL : &in, .actor = api_actor(req),
                         .is_delete = is_delete};
    if (rc == 0)
        rc = store_write(req->app->store, job_save, &j, &req->err);
    if (rc == 0 && rules_of(req->app))
        rc = rules_reload(rules_of(req->app), &req->err);
    if (rc == 0) {
        if (is_delete)
            http_reply_json(resp, 200, json_pack("{s:I, s:b}", "id", (json_int_t)j.id, "deleted", 1));
        else
            rc = reply_rule(req, resp, j.id, id ? 200 : 201);
    }
    free(in.definition);
    json_decref(body);
    return rc;
}

int rules_api_create(struct http_request *req, struct http_response *resp)
{
    return save(req, resp, 0, false);
}

int rules_api_update(struct http_request *req, struct http_response *resp)
{
    int64_t id;
    int rc = http_param_id(req, 0, &id);
    return rc ? rc : save(req, resp, id, false);
}

int rules_api_delete(struct http_request *req, struct http_response *resp)
{
    int64_t id;
    int rc = http_param_id(req, 0, &id);
    return rc ? rc : save(req, resp, id, true);
}

int rules_api_get(struct http_request *req, struct http_response *resp)
{
    int64_t id;
    int rc = http_param_id(req, 0, &id);
    return rc ? rc : reply_rule(req, resp, id, 200);
}

/* ---- dry run --------------------------------------------------------------------- */

struct dry {
    struct rule *rule;
    struct win_table *win;
    struct db *r;
    struct arena arena;
    int64_t until_ms;
    int64_t scanned, matched;
    json_t *by_day;   /* "YYYY-MM-DD" -> count */
    int64_t *ids;     /* distinct request ids, in order of first match */
    size_t n_ids, n_distinct;
    bool is_done;
};

static int dry_one(void *ctx, const struct event_row *ev)
{
    struct dry *d = ctx;
    if (ev->at_ms >= d->until_ms || d->scanned >= DRY_RUN_MAX_EVENTS) {
        d->is_done = true;
        return 1;
    }
    d->scanned++;
    int t = rules_event_type_index(ev->type);
    if (t < 0 || !(d->rule->cond.event_mask & (1ull << t)))
        return 0;
    if (ev->actor && strncmp(ev->actor, "rule:", 5) == 0)
        return 0;
    struct rule_facts f;
    arena_reset(&d->arena);
    rules_facts_load(d->r, ev, ev->at_ms, &d->arena, &f);
    if (!rule_cond_match(&d->rule->cond, &f))
        return 0;
    if (d->win && !win_hit(d->win, &d->rule->cond, &f))
        return 0;
    d->matched++;
    char day[40];
    time_format_rfc3339(ev->at_ms, day, sizeof day);
    day[10] = '\0';
    json_object_set_new(d->by_day, day,
                        json_integer(json_integer_value(json_object_get(d->by_day, day)) + 1));
    if (f.request_id) {
        bool seen = false;
        for (size_t i = 0; i < d->n_ids && !seen; i++)
            seen = d->ids[i] == f.request_id;
        if (!seen) {
            d->n_distinct++;
            if (d->n_ids < DRY_RUN_MAX_IDS)
                d->ids[d->n_ids++] = f.request_id;
        }
    }
    return 0;
}

int rules_api_dry_run(struct http_request *req, struct http_response *resp)
{
    json_t *body;
    int rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"rule", "since", "until", NULL};
    int64_t since = 0, until = 0;
    struct dry d = {.by_day = json_object()};
    json_t *def = NULL;
    if ((rc = api_check_keys(req, body, keys)) || (rc = intake_opt_time(body, "since", &since, &req->err)) ||
        (rc = intake_opt_time(body, "until", &until, &req->err)))
        goto out;
    json_t *rule = json_object_get(body, "rule");
    if (!json_is_object(rule)) {
        rc = err_set(&req->err, ERR_INVALID, "rule", "rule must be an object with when (and actions)");
        goto out;
    }
    def = json_pack("{s:O?, s:O?}", "when", json_object_get(rule, "when"), "actions",
                    json_object_get(rule, "actions"));
    if (json_is_null(json_object_get(def, "actions"))) /* what it would do does not change what it matches */
        json_object_set_new(def, "actions", json_pack("[{s:s, s:s}]", "type", "survey", "survey", "dry-run"));
    const char *key;
    json_t *v;
    json_object_foreach(rule, key, v)
    {
        (void)v;
        if (strcmp(key, "when") && strcmp(key, "actions") && strcmp(key, "name")) {
            rc = err_set(&req->err, ERR_INVALID, "rule", "unknown field 'rule.%.40s'", key);
            goto out;
        }
    }
    int64_t now = clock_now_ms();
    if (until == 0)
        until = now;
    if (since == 0)
        since = until - 30LL * 86400000;
    if (since >= until) {
        rc = err_set(&req->err, ERR_INVALID, "since", "since must be before until");
        goto out;
    }
    d.r = store_reader(req->app->store);
    rc = rule_compile(def, d.r, &d.rule, &req->err);
    if (rc == 0) {
        arena_init(&d.arena, 0);
        d.until_ms = until;
        d.ids = xcalloc(DRY_RUN_MAX_IDS, sizeof *d.ids);
        if (d.rule->cond.window_count)
            d.win = win_new(d.rule->cond.window_count);
        sqlite3_stmt *st = db_stmt(d.r, "SELECT COALESCE(MAX(id), 0) FROM events");
        int64_t max_id = db_step(d.r, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
        sqlite3_reset(st);
        int64_t after = rules_first_id_since(d.r, 1, max_id + 1, since) - 1, last = after;
        while (!d.is_done && after < max_id) {
            if (store_events_since(d.r, after, 2000, dry_one, &d, &last) < 0 || last == after)
                break;
            after = last;
        }
        arena_free(&d.arena);
    } else if (strncmp(req->err.field, "when", 4) == 0 || strncmp(req->err.field, "actions", 7) == 0) {
        char field[64];
        snprintf(field, sizeof field, "rule.%.58s", req->err.field);
        snprintf(req->err.field, sizeof req->err.field, "%s", field);
    }
    store_reader_done(req->app->store, d.r);
    if (rc == 0) {
        json_t *ids = json_array();
        for (size_t i = 0; i < d.n_ids; i++)
            json_array_append_new(ids, json_integer(d.ids[i]));
        char s1[40], s2[40];
        time_format_rfc3339(since, s1, sizeof s1);
        time_format_rfc3339(until, s2, sizeof s2);
        http_reply_json(resp, 200,
                        json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:O, s:b}", "since", s1, "until",
                                  s2, "scanned_events", (json_int_t)d.scanned, "matched_events",
                                  (json_int_t)d.matched, "matched_requests",
                                  (json_int_t)d.n_distinct, "requests", ids, "by_day", d.by_day,
                                  "truncated", d.scanned >= DRY_RUN_MAX_EVENTS));
    }
out:
    rule_free(d.rule);
    win_free(d.win);
    free(d.ids);
    json_decref(d.by_day);
    json_decref(def);
    json_decref(body);
    return rc;
}
