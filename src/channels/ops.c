/*
 * ops.c - the outbox as admins see it (list, retry a dead or unknown
 * message) and `otklik channel add|list` for setting channels up from the
 * shell (secrets JSON on stdin, so they never land in shell history).
 */
#include "channels/channels_int.h"

#include "core/clock.h"
#include "core/str.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int channels_admin_outbox(struct http_request *req, struct http_response *resp)
{
    const char *status = http_query(req, "status");
    const char *rq = http_query(req, "request");
    int64_t request_id = 0;
    if (rq && *rq && str_to_i64(str_from(rq), 1, INT64_MAX, &request_id) != 0)
        return err_set(&req->err, ERR_INVALID, "request", "request must be a request id");
    static const char *const statuses[] = {"queued", "sending", "sent", "delivered", "read",
                                           "failed", "dead", "unknown", NULL};
    if (status && *status && model_find(statuses, status) < 0)
        return err_set(&req->err, ERR_INVALID, "status", "unknown status '%.20s'", status);
    json_t *items = json_array();
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(
        r, "SELECT o.id, o.request_id, o.channel_id, c.adapter, c.name, o.recipient, o.kind, "
           "o.status, o.attempts, o.next_at_ms, o.external_id, o.last_error, o.created_at_ms, "
           "o.sent_at_ms, o.delivered_at_ms, o.read_at_ms, o.body FROM outbox o LEFT JOIN "
           "channels c ON c.id = o.channel_id WHERE ($1 = '' OR o.status = $1) AND "
           "($2 = 0 OR o.request_id = $2) ORDER BY o.id DESC LIMIT 200");
    db_bind_text(st, 1, status ? status : "", -1);
    db_bind_i64(st, 2, request_id);
    while (db_step(r, st, NULL) == 1) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I}", "id", (json_int_t)db_col_i64(st, 0),
                              "recipient", db_col_text(st, 5), "kind", db_col_text(st, 6),
                              "status", db_col_text(st, 7), "attempts",
                              (json_int_t)db_col_i64(st, 8));
        json_object_set_new(o, "request_id", db_col_is_null(st, 1)
                                                 ? json_null()
                                                 : json_integer(db_col_i64(st, 1)));
        json_object_set_new(o, "channel", json_sprintf("%s/%s", db_col_text(st, 3) ? db_col_text(st, 3) : "?",
                                                       db_col_text(st, 4) ? db_col_text(st, 4) : "?"));
        json_set_str(o, "external_id", db_col_text(st, 10));
        json_set_str(o, "last_error", db_col_text(st, 11));
        json_set_str(o, "body", db_col_text(st, 16));
        static const char *const times[] = {"next_at", "created_at", "sent_at", "delivered_at",
                                            "read_at"};
        static const int cols[] = {9, 12, 13, 14, 15};
        for (int i = 0; i < 5; i++) {
            if (db_col_is_null(st, cols[i]))
                continue;
            char t[40];
            time_format_rfc3339(db_col_i64(st, cols[i]), t, sizeof t);
            json_object_set_new(o, times[i], json_string(t));
        }
        json_array_append_new(items, o);
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    http_reply_json(resp, 200, json_pack("{s:o}", "items", items));
    return 0;
}

struct retry_job {
    int64_t id;
    const char *actor;
};

static int job_retry(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct retry_job *j = arg;
    struct db *db = store_tx_db(tx);
    int64_t now = clock_now_ms();
    sqlite3_stmt *st = db_stmt(db, "UPDATE outbox SET status = 'queued', attempts = 0, "
                                   "next_at_ms = $2, updated_at_ms = $2 WHERE id = $1 AND "
                                   "status IN ('dead', 'unknown', 'failed')");
    db_bind_i64(st, 1, j->id);
    db_bind_i64(st, 2, now);
    int rc = db_run(db, st, err);
    if (rc != 0)
        return rc;
    if (db_changes(db) == 0)
        return err_set(err, ERR_CONFLICT, "id",
                       "outbox message %lld is not dead, unknown or failed", (long long)j->id);
    st = db_stmt(db, "SELECT request_id, customer_id FROM outbox WHERE id = $1");
    db_bind_i64(st, 1, j->id);
    int64_t rid = 0, cid = 0;
    if (db_step(db, st, NULL) == 1) {
        rid = db_col_i64(st, 0);
        cid = db_col_i64(st, 1);
    }
    sqlite3_reset(st);
    char data[64];
    snprintf(data, sizeof data, "{\"outbox_id\":%lld}", (long long)j->id);
    int64_t ev = store_event_add(tx, "outbox.queued", rid, cid, 0, 0, j->actor, data, err);
    return ev < 0 ? (int)ev : 0;
}

int channels_admin_outbox_retry(struct http_request *req, struct http_response *resp)
{
    struct retry_job j = {.actor = api_actor(req)};
    int rc = http_param_id(req, 0, &j.id);
    if (rc == 0)
        rc = store_write(req->app->store, job_retry, &j, &req->err);
    if (rc == 0)
        http_reply_json(resp, 200, json_pack("{s:I, s:s}", "id", (json_int_t)j.id, "status",
                                             "queued"));
    return rc;
}

/* ---- otklik channel ----------------------------------------------------------------------- */

struct add_job {
    const char *adapter, *name, *settings;
    char *sealed;
    int64_t id;
};

static int job_add(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct add_job *j = arg;
    return chan_insert(tx, j->adapter, j->name, j->sealed, j->settings, true, &j->id, err);
}

static int usage(FILE *out, int code)
{
    fprintf(out,
            "usage: otklik channel add --db FILE --adapter A --name N [--settings JSON]\n"
            "       otklik channel list --db FILE\n\n"
            "add reads the channel's secrets as one JSON object on stdin, e.g.\n"
            "  {\"bot_token\": \"...\", \"secret_token\": \"...\"}\n"
            "Adapters: telegram viber vk whatsapp email smsru twilio phone webchat app\n"
            "reviews social.  Its webhook is /hooks/<adapter>/<name>.  A running server\n"
            "picks up channels added here after a restart; the admin API changes them live.\n");
    return code;
}

static const char *arg_of(int argc, char **argv, const char *name)
{
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

int channels_channel_main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout, 0);
    if (argc < 2 || (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "list") != 0))
        return usage(stderr, 2);
    for (int i = 2; i < argc; i += 2) {
        static const char *const known[] = {"--db", "--adapter", "--name", "--settings", NULL};
        if (model_find(known, argv[i]) < 0 || i + 1 >= argc) {
            fprintf(stderr, "otklik channel: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        }
    }
    const char *db = arg_of(argc, argv, "--db");
    if (db == NULL) {
        fprintf(stderr, "otklik channel: --db FILE is required\n");
        return 2;
    }
    struct err_info err = {0};
    struct store *s;
    unsigned char key[32];
    if (secrets_key_load(db, key, &err) != 0 || store_open(db, NULL, &s, &err) != 0) {
        fprintf(stderr, "otklik channel: %s\n", err.message);
        return 1;
    }
    int rc = 0;
    if (strcmp(argv[1], "list") == 0) {
        struct db *r = store_reader(s);
        sqlite3_stmt *st = db_stmt(r, "SELECT id, adapter, name, is_active FROM channels "
                                      "ORDER BY id");
        while (db_step(r, st, NULL) == 1)
            printf("%lld\t%s\t%s\t%s\t/hooks/%s/%s\n", (long long)db_col_i64(st, 0),
                   db_col_text(st, 1), db_col_text(st, 2),
                   db_col_i64(st, 3) ? "active" : "off", db_col_text(st, 1), db_col_text(st, 2));
        sqlite3_reset(st);
        store_reader_done(s, r);
    } else {
        struct add_job j = {.adapter = arg_of(argc, argv, "--adapter"),
                            .name = arg_of(argc, argv, "--name"),
                            .settings = arg_of(argc, argv, "--settings")};
        const struct adapter *ad = adapter_find(j.adapter);
        json_error_t je;
        json_t *sec = json_loadf(stdin, 0, &je);
        json_t *set = j.settings ? json_loads(j.settings, 0, NULL) : json_object();
        if (ad == NULL || j.name == NULL) {
            fprintf(stderr, "otklik channel add: --adapter (a known adapter) and --name are "
                            "required\n");
            rc = 2;
        } else if (!json_is_object(sec) || !json_is_object(set)) {
            fprintf(stderr, "otklik channel add: secrets on stdin and --settings must be JSON "
                            "objects\n");
            rc = 2;
        } else {
            for (int i = 0; ad->required_secrets && ad->required_secrets[i]; i++)
                if (!json_is_string(json_object_get(sec, ad->required_secrets[i]))) {
                    fprintf(stderr, "otklik channel add: the %s adapter needs secret '%s'\n",
                            ad->name, ad->required_secrets[i]);
                    rc = 2;
                }
        }
        if (rc == 0) {
            char *text = json_dumps(sec, JSON_COMPACT);
            char *settings = json_dumps(set, JSON_COMPACT);
            j.sealed = secrets_seal(key, text);
            j.settings = settings;
            sodium_memzero(text, strlen(text));
            free(text);
            if (store_write(s, job_add, &j, &err) != 0) {
                fprintf(stderr, "otklik channel add: %s\n", err.message);
                rc = 1;
            } else {
                printf("channel %s/%s added with id %lld; webhook /hooks/%s/%s\n", j.adapter,
                       j.name, (long long)j.id, j.adapter, j.name);
            }
            free(j.sealed);
            free(settings);
        }
        json_decref(sec);
        json_decref(set);
    }
    sodium_memzero(key, sizeof key);
    store_close(s);
    return rc;
}
