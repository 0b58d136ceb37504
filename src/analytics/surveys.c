/*
 * surveys.c - survey vocabulary, signed invitation tokens, and invitations:
 * created by the survey consumer from events (a solved request, a
 * delivered order, a purchase, survey.requested), by the eNPS schedule and
 * by the API, then queued through the outbox (or kept as a link).
 */
#include "analytics/surveys_int.h"

#include "channels/outbox.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/model.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

const struct survey_kind_def survey_kinds[] = {
    {"nps", 0, 10, 6}, {"csat", 1, 5, 2}, {"ces", 1, 7, 3},
    {"csi", 1, 10, 4}, {"enps", 0, 10, 6}, {NULL, 0, 0, 0},
};

const struct survey_kind_def *survey_kind_find(const char *kind)
{
    for (int i = 0; kind && survey_kinds[i].kind; i++)
        if (strcmp(survey_kinds[i].kind, kind) == 0)
            return &survey_kinds[i];
    return NULL;
}

/* Each reason names the department that fixes it and the request topic it maps to. */
const struct survey_reason survey_reasons[] = {
    {"queue", "store_ops", "checkout_queue", "Очереди на кассе"},
    {"cleanliness", "store_ops", "store_condition", "Чистота и климат в магазине"},
    {"staff", "hr", "staff", "Вежливость и работа персонала"},
    {"quality", "quality", "product_quality", "Качество товаров"},
    {"assortment", "logistics", "out_of_stock", "Нет нужных товаров"},
    {"price", "marketing", "price", "Цены и акции"},
    {"delivery", "logistics", "delivery", "Доставка"},
    {"online", "online", "website_app", "Сайт и приложение"},
    {"loyalty", "loyalty", "loyalty", "Бонусная программа"},
    {"support", "online", "other", "Работа службы поддержки"},
    {"workload", "hr", "staff", "Нагрузка и график (для сотрудников)"},
    {NULL, NULL, NULL, NULL},
};

int survey_reason_find(const char *code)
{
    for (int i = 0; code && survey_reasons[i].code; i++)
        if (strcmp(survey_reasons[i].code, code) == 0)
            return i;
    return -1;
}

const char *const survey_triggers[] = {
    "request_solved", "order_delivered", "purchase", "schedule", "requested", "manual", NULL,
};

/* ---- tokens ------------------------------------------------------------------- */

static void token_mac(const unsigned char secret[32], int64_t id, unsigned char mac[32])
{
    char msg[40];
    int n = snprintf(msg, sizeof msg, "inv:%lld", (long long)id);
    crypto_auth(mac, (const unsigned char *)msg, (unsigned long long)n, secret);
}

void survey_token_make(const unsigned char secret[32], int64_t id, char *out, size_t cap)
{
    unsigned char mac[32];
    token_mac(secret, id, mac);
    char b64[32];
    sodium_bin2base64(b64, sizeof b64, mac, 16, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, cap, "%lld.%s", (long long)id, b64);
}

int64_t survey_token_check(const unsigned char secret[32], const char *token)
{
    if (token == NULL)
        return 0;
    const char *dot = strchr(token, '.');
    if (dot == NULL || dot == token || dot - token > 18)
        return 0;
    int64_t id = 0;
    for (const char *p = token; p < dot; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        id = id * 10 + (*p - '0');
    }
    unsigned char got[16];
    size_t n = 0;
    if (id <= 0 || strlen(dot + 1) != 22 ||
        sodium_base642bin(got, sizeof got, dot + 1, 22, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != 16)
        return 0;
    unsigned char mac[32];
    token_mac(secret, id, mac);
    return crypto_verify_16(got, mac) == 0 ? id : 0;
}

struct secret_job {
    unsigned char *out;
};

static int secret_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct secret_job *j = arg;
    struct db *db = store_tx_db(tx);
    sqlite3_stmt *st = db_stmt(db, "SELECT value FROM an_secrets WHERE name = 'survey_hmac'");
    int rc = db_step(db, st, err);
    if (rc == 1 && sqlite3_column_bytes(st, 0) == 32) {
        memcpy(j->out, sqlite3_column_blob(st, 0), 32);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    if (rc < 0)
        return rc;
    crypto_auth_keygen(j->out);
    st = db_stmt(db, "INSERT INTO an_secrets (name, value) VALUES ('survey_hmac', $1)");
    db_bind_blob(st, 1, j->out, 32);
    return db_run(db, st, err);
}

int survey_secret_load(struct store *s, unsigned char out[32], struct err_info *err)
{
    struct secret_job j = {out};
    return store_write(s, secret_job, &j, err);
}

/* ---- invitations --------------------------------------------------------------- */

/* Has this customer (or employee) been invited within the last interval? */
static bool recently_invited(struct db *db, const struct invite_in *in, int64_t now_ms)
{
    if (in->customer_id == 0 && in->user_id == 0)
        return false;
    int64_t since = now_ms - in->min_interval_days * DAY_MS;
    sqlite3_stmt *st =
        in->customer_id
            ? db_stmt(db, "SELECT 1 FROM survey_invitations WHERE customer_id = $1 AND "
                          "created_at_ms > $2 LIMIT 1")
            : db_stmt(db, "SELECT 1 FROM survey_invitations WHERE user_id = $1 AND "
                          "created_at_ms > $2 LIMIT 1");
    db_bind_i64(st, 1, in->customer_id ? in->customer_id : in->user_id);
    db_bind_i64(st, 2, since);
    bool found = db_step(db, st, NULL) == 1;
    sqlite3_reset(st);
    return found;
}

int survey_invite(struct store_tx *tx, const struct invite_in *in, const struct analytics *an,
                  struct invite_out *out, struct err_info *err)
{
    struct db *db = store_tx_db(tx);
    int64_t now = clock_now_ms();
    memset(out, 0, sizeof *out);
    if (in->min_interval_days > 0 && recently_invited(db, in, now))
        return err_set(err, ERR_CONFLICT, "customer",
                       "already invited to a survey within %lld days",
                       (long long)in->min_interval_days);
    sqlite3_stmt *st = db_stmt(
        db, "INSERT INTO survey_invitations (survey_id, customer_id, user_id, request_id, "
            "order_id, store_id, department, channel, source, status, created_at_ms, "
            "expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'created', $10, $11)");
    db_bind_i64(st, 1, in->survey_id);
    db_bind_i64_or_null(st, 2, in->customer_id);
    db_bind_i64_or_null(st, 3, in->user_id);
    db_bind_i64_or_null(st, 4, in->request_id);
    db_bind_i64_or_null(st, 5, in->order_id);
    db_bind_i64_or_null(st, 6, in->store_id);
    db_bind_text(st, 7, in->department, -1);
    db_bind_text(st, 8, in->channel, -1);
    db_bind_text(st, 9, in->source, -1);
    db_bind_i64(st, 10, now);
    db_bind_i64(st, 11, now + SURVEY_TTL_DAYS * DAY_MS);
    int rc = db_run(db, st, err);
    if (rc != 0)
        return rc;
    out->id = db_last_id(db);
    survey_token_make(an->secret, out->id, out->token, sizeof out->token);
    snprintf(out->link, sizeof out->link, "/s/%s", out->token);
    snprintf(out->url, sizeof out->url, "%s%s", an->public_url, out->link);

    /* Customers get it through their channel; employees (eNPS) get the link in the UI. */
    const char *status = "link_only", *failure = NULL;
    struct err_info oerr = {0};
    int64_t outbox_id = 0;
    if (in->customer_id != 0) {
        char body[768];
        snprintf(body, sizeof body, "%s %s", in->question ? in->question : "", out->url);
        struct outbox_msg m = {.request_id = in->request_id, .customer_id = in->customer_id,
                               .channel = in->request_id ? NULL : in->channel, .body = body,
                               .kind = "survey"};
        struct tx_mark mark = store_tx_part_begin(tx);
        int orc = outbox_enqueue(tx, &m, &outbox_id, &oerr);
        store_tx_part_end(tx, mark, orc == 0);
        if (orc == 0)
            status = "queued";
        else
            failure = oerr.message[0] ? oerr.message : "the outbox refused the message";
    }
    snprintf(out->status, sizeof out->status, "%s", status);
    st = db_stmt(db, "UPDATE survey_invitations SET status = $2, outbox_id = $3, "
                     "delivery_error = $4 WHERE id = $1");
    db_bind_i64(st, 1, out->id);
    db_bind_text(st, 2, status, -1);
    db_bind_i64_or_null(st, 3, outbox_id);
    db_bind_text(st, 4, failure, -1);
    if ((rc = db_run(db, st, err)) != 0)
        return rc;
    char data[256];
    snprintf(data, sizeof data,
             "{\"invitation\":%lld,\"survey_id\":%lld,\"channel\":\"%s\",\"status\":\"%s\"}",
             (long long)out->id, (long long)in->survey_id, in->channel, status);
    int64_t ev = store_event_add(tx, "survey.invited", in->request_id, in->customer_id,
                                 in->order_id, in->store_id, "analytics", data, err);
    return ev < 0 ? (int)ev : 0;
}

int survey_def_by_trigger(struct db *db, const char *trigger, const char *code,
                          struct survey_def *out)
{
    sqlite3_stmt *st =
        code ? db_stmt(db, "SELECT id, kind, question, min_interval_days, low_score, "
                           "schedule_days FROM surveys WHERE code = $1 AND is_active = 1")
             : db_stmt(db, "SELECT id, kind, question, min_interval_days, low_score, "
                           "schedule_days FROM surveys WHERE trigger = $1 AND is_active = 1 "
                           "ORDER BY id LIMIT 1");
    db_bind_text(st, 1, code ? code : trigger, -1);
    bool found = db_step(db, st, NULL) == 1;
    if (found) {
        memset(out, 0, sizeof *out);
        out->id = db_col_i64(st, 0);
        snprintf(out->kind, sizeof out->kind, "%s", db_col_text(st, 1));
        snprintf(out->question, sizeof out->question, "%s", db_col_text(st, 2));
        out->min_interval_days = db_col_i64(st, 3);
        out->low_score = db_col_i64(st, 4);
        out->schedule_days = db_col_i64(st, 5);
    }
    sqlite3_reset(st);
    return found ? 0 : ERR_NOTFOUND;
}
