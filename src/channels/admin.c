/*
 * admin.c - managing configured channels: the admin API (create, list,
 * update, rotate secrets; the outbox and its retries) and `otklik channel`.
 * Secrets go in, never come out: responses name which secrets are set.
 */
#include "channels/channels_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "intake/intake.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A channel row as the API shows it (no secret values). */
static json_t *channel_json(sqlite3_stmt *st, const unsigned char key[32])
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)db_col_i64(st, 0), "adapter",
                          db_col_text(st, 1), "name", db_col_text(st, 2), "is_active",
                          db_col_i64(st, 5) != 0);
    json_t *settings = json_loads(db_col_text(st, 4), 0, NULL);
    json_object_set_new(o, "settings", settings ? settings : json_object());
    json_t *names = json_array();
    json_t *sec = secrets_open(key, db_col_text(st, 3));
    const char *k;
    json_t *v;
    json_object_foreach(sec, k, v)
    {
        (void)v;
        json_array_append_new(names, json_string(k));
    }
    json_decref(sec);
    json_object_set_new(o, "secrets_set", names);
    json_object_set_new(o, "webhook", json_sprintf("/hooks/%s/%s", db_col_text(st, 1),
                                                   db_col_text(st, 2)));
    char t[40];
    time_format_rfc3339(db_col_i64(st, 6), t, sizeof t);
    json_object_set_new(o, "updated_at", json_string(t));
    if (!db_col_is_null(st, 7)) {
        time_format_rfc3339(db_col_i64(st, 7), t, sizeof t);
        json_object_set_new(o, "rotated_at", json_string(t));
    } else {
        json_object_set_new(o, "rotated_at", json_null());
    }
    return o;
}

#define CHANNEL_COLUMNS "id, adapter, name, secrets, settings, is_active, updated_at_ms, rotated_at_ms"

static int reply_channel(struct http_request *req, struct http_response *resp, int64_t id,
                         int status)
{
    struct channels *cs = req->app->channels;
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT " CHANNEL_COLUMNS " FROM channels WHERE id = $1");
    db_bind_i64(st, 1, id);
    int rc = 0;
    if (db_step(r, st, &req->err) == 1)
        http_reply_json(resp, status, channel_json(st, cs->key));
    else
        rc = err_set(&req->err, ERR_NOTFOUND, "id", "no channel %lld", (long long)id);
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    return rc;
}

int channels_admin_list(struct http_request *req, struct http_response *resp)
{
    struct channels *cs = req->app->channels;
    json_t *items = json_array();
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT " CHANNEL_COLUMNS " FROM channels ORDER BY id");
    while (db_step(r, st, NULL) == 1)
        json_array_append_new(items, channel_json(st, cs->key));
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    json_t *ads = json_array();
    for (const char *const *n = (const char *const[]){"telegram", "viber", "vk", "whatsapp",
                                                      "email", "smsru", "twilio", "phone",
                                                      "webchat", "app", "reviews", "social",
                                                      NULL};
         *n; n++)
        json_array_append_new(ads, json_string(*n));
    http_reply_json(resp, 200, json_pack("{s:o, s:o}", "items", items, "adapters", ads));
    return 0;
}

/* Secrets: an object of non-empty strings; null removes one when merging. */
static int check_secrets(struct http_request *req, json_t *sec, bool allow_null)
{
    if (!json_is_object(sec))
        return err_set(&req->err, ERR_INVALID, "secrets", "secrets must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(sec, k, v)
    {
        if (allow_null && json_is_null(v))
            continue;
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 4096)
            return err_set(&req->err, ERR_INVALID, "secrets", "secret '%.40s' must be a string",
                           k);
    }
    return 0;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' && *s != '_')
            return false;
    return true;
}

struct channel_job {
    int64_t id;
    const char *adapter, *name;
    char *sealed;   /* NULL: unchanged */
    char *settings; /* NULL: unchanged */
    int is_active;  /* -1: unchanged */
    bool is_rotation;
    json_t *merge;  /* rotation: secrets to merge into the stored ones */
    const unsigned char *key;
};

int chan_insert(struct store_tx *tx, const char *adapter, const char *name, const char *sealed,
                const char *settings, bool is_active, int64_t *out_id, struct err_info *err)
{
    struct db *db = store_tx_db(tx);
    int64_t now = clock_now_ms();
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO channels (adapter, name, secrets, settings, "
                                   "is_active, created_at_ms, updated_at_ms, rotated_at_ms) "
                                   "VALUES ($1, $2, $3, $4, $5, $6, $6, $6)");
    db_bind_text(st, 1, adapter, -1);
    db_bind_text(st, 2, name, -1);
    db_bind_text(st, 3, sealed, -1);
    db_bind_text(st, 4, settings, -1);
    db_bind_i64(st, 5, is_active ? 1 : 0);
    db_bind_i64(st, 6, now);
    int rc = db_run(db, st, err);
    if (rc == ERR_CONFLICT) {
        err_clear(err);
        return err_set(err, ERR_CONFLICT, "name", "a %s channel named %s exists", adapter, name);
    }
    if (rc == 0)
        *out_id = db_last_id(db);
    return rc;
}

static int job_channel_create(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct channel_job *j = arg;
    return chan_insert(tx, j->adapter, j->name, j->sealed, j->settings, j->is_active != 0,
                       &j->id, err);
}

static int job_channel_update(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct channel_job *j = arg;
    struct db *db = store_tx_db(tx);
    int64_t now = clock_now_ms();
    if (j->is_rotation) {
        /* Read, merge and re-seal inside the job so two rotations never lose a secret. */
        sqlite3_stmt *st = db_stmt(db, "SELECT secrets FROM channels WHERE id = $1");
        db_bind_i64(st, 1, j->id);
        json_t *old = db_step(db, st, NULL) == 1 ? secrets_open(j->key, db_col_text(st, 0))
                                                 : NULL;
        sqlite3_reset(st);
        if (old == NULL)
            return err_set(err, ERR_NOTFOUND, "id", "no channel %lld", (long long)j->id);
        const char *k;
        json_t *v;
        json_object_foreach(j->merge, k, v)
        {
            if (json_is_null(v))
                json_object_del(old, k);
            else
                json_object_set(old, k, v);
        }
        char *text = json_dumps(old, JSON_COMPACT);
        json_decref(old);
        j->sealed = secrets_seal(j->key, text);
        sodium_memzero(text, strlen(text));
        free(text);
    }
    sqlite3_stmt *st = db_stmt(
        db, "UPDATE channels SET secrets = COALESCE($2, secrets), settings = COALESCE($3, "
            "settings), is_active = CASE WHEN $4 < 0 THEN is_active ELSE $4 END, "
            "updated_at_ms = $5, rotated_at_ms = CASE WHEN $2 IS NULL THEN rotated_at_ms "
            "ELSE $5 END WHERE id = $1");
    db_bind_i64(st, 1, j->id);
    db_bind_text(st, 2, j->sealed, -1);
    db_bind_text(st, 3, j->settings, -1);
    db_bind_i64(st, 4, j->is_active);
    db_bind_i64(st, 5, now);
    int rc = db_run(db, st, err);
    if (rc == 0 && db_changes(db) == 0)
        rc = err_set(err, ERR_NOTFOUND, "id", "no channel %lld", (long long)j->id);
    return rc;
}

static int finish_change(struct http_request *req, struct http_response *resp,
                         struct channel_job *j, int status)
{
    struct err_info rerr = {0};
    if (channels_reload(req->app->channels, &rerr) != 0)
        log_warn("channels reload error=\"%s\"", rerr.message);
    log_info("channels changed id=%lld by=%s rotated=%d", (long long)j->id, api_actor(req),
             j->sealed != NULL);
    return reply_channel(req, resp, j->id, status);
}

int channels_admin_create(struct http_request *req, struct http_response *resp)
{
    json_t *body;
    int rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"adapter", "name", "secrets", "settings", "is_active",
                                       NULL};
    struct channel_job j = {.is_active = 1, .key = req->app->channels->key};
    const struct adapter *ad = NULL;
    json_t *sec = json_object_get(body, "secrets");
    json_t *set = json_object_get(body, "settings");
    json_t *act = json_object_get(body, "is_active");
    if ((rc = api_check_keys(req, body, keys)) ||
        (rc = intake_req_string(body, "adapter", 16, &req->arena, &j.adapter, &req->err)) ||
        (rc = intake_req_string(body, "name", 64, &req->arena, &j.name, &req->err)))
        goto out;
    if ((ad = adapter_find(j.adapter)) == NULL) {
        rc = err_set(&req->err, ERR_INVALID, "adapter", "unknown adapter '%.16s'", j.adapter);
        goto out;
    }
    if (!name_ok(j.name)) {
        rc = err_set(&req->err, ERR_INVALID, "name",
                     "a channel name has 1-64 lower-case letters, digits, '-' and '_'");
        goto out;
    }
    if (sec == NULL)
        sec = json_object();
    else
        json_incref(sec);
    rc = check_secrets(req, sec, false);
    for (int i = 0; rc == 0 && ad->required_secrets && ad->required_secrets[i]; i++)
        if (json_object_get(sec, ad->required_secrets[i]) == NULL)
            rc = err_set(&req->err, ERR_INVALID, "secrets", "the %s adapter needs secret '%s'",
                         ad->name, ad->required_secrets[i]);
    if (rc == 0 && set != NULL && !json_is_object(set))
        rc = err_set(&req->err, ERR_INVALID, "settings", "settings must be an object");
    if (rc == 0 && act != NULL && !json_is_boolean(act))
        rc = err_set(&req->err, ERR_INVALID, "is_active", "is_active must be true or false");
    if (rc == 0) {
        char *text = json_dumps(sec, JSON_COMPACT);
        j.sealed = secrets_seal(j.key, text);
        sodium_memzero(text, strlen(text));
        free(text);
        j.settings = json_dumps(set ? set : json_object(), JSON_COMPACT);
        j.is_active = act ? json_is_true(act) : 1;
        rc = store_write(req->app->store, job_channel_create, &j, &req->err);
        if (rc == 0)
            rc = finish_change(req, resp, &j, 201);
        free(j.sealed);
        free(j.settings);
    }
    json_decref(sec);
out:
    json_decref(body);
    return rc;
}

int channels_admin_update(struct http_request *req, struct http_response *resp)
{
    struct channel_job j = {.is_active = -1, .key = req->app->channels->key};
    json_t *body = NULL;
    int rc = http_param_id(req, 0, &j.id);
    if (rc != 0 || (rc = http_json_body(req, &body)) != 0)
        return rc;
    static const char *const keys[] = {"settings", "is_active", NULL};
    json_t *set = json_object_get(body, "settings"), *act = json_object_get(body, "is_active");
    if ((rc = api_check_keys(req, body, keys)) == 0) {
        if (set != NULL && !json_is_object(set))
            rc = err_set(&req->err, ERR_INVALID, "settings", "settings must be an object");
        else if (act != NULL && !json_is_boolean(act))
            rc = err_set(&req->err, ERR_INVALID, "is_active", "is_active must be true or false");
        else if (set == NULL && act == NULL)
            rc = err_set(&req->err, ERR_INVALID, "", "nothing to change");
    }
    if (rc == 0) {
        j.settings = set ? json_dumps(set, JSON_COMPACT) : NULL;
        j.is_active = act ? json_is_true(act) : -1;
        rc = store_write(req->app->store, job_channel_update, &j, &req->err);
        if (rc == 0)
            rc = finish_change(req, resp, &j, 200);
        free(j.settings);
    }
    json_decref(body);
    return rc;
}

int channels_admin_rotate(struct http_request *req, struct http_response *resp)
{
    struct channel_job j = {.is_active = -1, .is_rotation = true,
                            .key = req->app->channels->key};
    json_t *body = NULL;
    int rc = http_param_id(req, 0, &j.id);
    if (rc != 0 || (rc = http_json_body(req, &body)) != 0)
        return rc;
    static const char *const keys[] = {"secrets", NULL};
    j.merge = json_object_get(body, "secrets");
    if ((rc = api_check_keys(req, body, keys)) == 0 &&
        (rc = check_secrets(req, j.merge, true)) == 0) {
        if (json_object_size(j.merge) == 0)
            rc = err_set(&req->err, ERR_INVALID, "secrets", "no secrets to rotate");
    }
    if (rc == 0) {
        rc = store_write(req->app->store, job_channel_update, &j, &req->err);
        if (rc == 0)
            rc = finish_change(req, resp, &j, 200);
        free(j.sealed);
    }
    json_decref(body);
    return rc;
}
