/*
 * outbox.c - the durable outbox: queueing inside the caller's job, and the
 * delivery worker that claims due rows with a lease, sends them
 * concurrently (curl_multi, one connection cache for the worker's life),
 * and records sent / retry with back-off / dead, plus delivery reports.
 */
#include "channels/outbox.h"
#include "channels/channels_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 10000

/* ---- queueing ------------------------------------------------------------------------ */

static int add_event(struct store_tx *tx, const char *type, int64_t request_id,
                     int64_t customer_id, json_t *data, struct err_info *err)
{
    char *text = json_dumps(data, JSON_COMPACT);
    int64_t ev = store_event_add(tx, type, request_id, customer_id, 0, 0, "outbox", text, err);
    free(text);
    return ev < 0 ? (int)ev : 0;
}

/* The customer's first reachable identity on an active channel, in channel order. */
static bool reach_customer(struct db *db, int64_t customer_id, const char *model_channel,
                           int64_t *channel_id, char *recipient, size_t cap)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT id, adapter FROM channels WHERE is_active = 1 "
                                   "ORDER BY id");
    bool found = false;
    while (!found && db_step(db, st, NULL) == 1) {
        const struct adapter *ad = adapter_find(db_col_text(st, 1));
        if (ad == NULL || ad->identity_kind == NULL || ad->send_prepare == NULL ||
            (model_channel && strcmp(ad->channel, model_channel) != 0))
            continue;
        sqlite3_stmt *q = db_stmt(db, "SELECT value FROM identities WHERE customer_id = $1 "
                                      "AND kind = $2 ORDER BY created_at_ms LIMIT 1");
        db_bind_i64(q, 1, customer_id);
        db_bind_text(q, 2, ad->identity_kind, -1);
        if (db_step(db, q, NULL) == 1) {
            snprintf(recipient, cap, "%s", db_col_text(q, 0));
            *channel_id = db_col_i64(st, 0);
            found = true;
        }
        sqlite3_reset(q);
    }
    sqlite3_reset(st);
    return found;
}

int outbox_enqueue(struct store_tx *tx, const struct outbox_msg *m, int64_t *out_id,
                   struct err_info *err)
{
    struct db *db = store_tx_db(tx);
    *out_id = 0;
    if (m->body == NULL || *m->body == '\0')
        return err_set(err, ERR_INVALID, "text", "an outgoing message needs a text");
    int64_t customer_id = m->customer_id, channel_id = 0;
    char recipient[256] = "", req_channel[16] = "";
    json_t *meta = json_object();
    if (m->request_id) {
        sqlite3_stmt *st = db_stmt(db, "SELECT r.customer_id, r.channel, r.subject, cr.channel_id, "
                                       "cr.peer, cr.meta, ch.adapter FROM requests r LEFT JOIN "
                                       "channel_routes cr ON cr.request_id = r.id LEFT JOIN "
                                       "channels ch ON ch.id = cr.channel_id WHERE r.id = $1");
        db_bind_i64(st, 1, m->request_id);
        if (db_step(db, st, err) != 1) {
            sqlite3_reset(st);
            json_decref(meta);
            return err_set(err, ERR_NOTFOUND, "request", "no request %lld",
                           (long long)m->request_id);
        }
        if (customer_id == 0)
            customer_id = db_col_i64(st, 0);
        snprintf(req_channel, sizeof req_channel, "%s", db_col_text(st, 1));
        const struct adapter *route_ad = adapter_find(db_col_text(st, 6));
        /* A route through a channel that cannot send (reviews, social) is no route. */
        if (m->channel == NULL && !db_col_is_null(st, 3) && route_ad && route_ad->send_prepare) {
            channel_id = db_col_i64(st, 3);
            snprintf(recipient, sizeof recipient, "%s", db_col_text(st, 4));
            json_t *rm = json_loads(db_col_text(st, 5), 0, NULL);
            if (json_is_object(rm))
                json_object_update(meta, rm);
            json_decref(rm);
        }
        if (!json_object_get(meta, "subject") && db_col_text(st, 2))
            json_object_set_new(meta, "subject", json_string(db_col_text(st, 2)));
        sqlite3_reset(st);
    }
    /* Spoken replies (phone), internal requests: nothing to send, nothing to report. */
    static const char *const silent[] = {"phone", "callback", "internal", "qr", NULL};
    bool is_silent = m->request_id && m->channel == NULL && model_find(silent, req_channel) >= 0;
    if (is_silent) {
        json_decref(meta);
        return 0;
    }
    /* No route of its own: the customer's preferred reachable channel. */
    if (channel_id == 0 && customer_id != 0)
        reach_customer(db, customer_id, m->channel ? m->channel : NULL, &channel_id, recipient,
                       sizeof recipient);
    if (channel_id == 0 && m->channel != NULL && customer_id != 0)
        reach_customer(db, customer_id, NULL, &channel_id, recipient, sizeof recipient);
    int rc = 0;
    if (channel_id == 0 || recipient[0] == '\0') {
        if (m->request_id) {
            json_t *d = json_pack("{s:s}", "kind", m->kind ? m->kind : "reply");
            rc = add_event(tx, "outbox.unroutable", m->request_id, customer_id, d, err);
            json_decref(d);
        }
        json_decref(meta);
        return rc;
    }
    int64_t now = clock_now_ms();
    char *meta_text = json_dumps(meta, JSON_COMPACT);
    json_decref(meta);
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO outbox (request_id, customer_id, channel_id, "
                                   "recipient, body, kind, meta, status, next_at_ms, "
                                   "created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, "
                                   "$6, $7, 'queued', $8, $8, $8)");
    db_bind_i64_or_null(st, 1, m->request_id);
    db_bind_i64_or_null(st, 2, customer_id);
    db_bind_i64(st, 3, channel_id);
    db_bind_text(st, 4, recipient, -1);
    db_bind_text(st, 5, m->body, -1);
    db_bind_text(st, 6, m->kind ? m->kind : "reply", -1);
    db_bind_text(st, 7, meta_text, -1);
    db_bind_i64(st, 8, now);
    rc = db_run(db, st, err);
    free(meta_text);
    if (rc != 0)
        return rc;
    *out_id = db_last_id(db);
    json_t *d = json_pack("{s:I, s:I, s:s}", "outbox_id", (json_int_t)*out_id, "channel_id",
                          (json_int_t)channel_id, "kind", m->kind ? m->kind : "reply");
    rc = add_event(tx, "outbox.queued", m->request_id, customer_id, d, err);
    json_decref(d);
    return rc;
}

/* ---- delivery reports ---------------------------------------------------------------- */

static int status_rank(const char *s)
{
    static const char *const order[] = {"queued", "sending", "sent", "delivered", "read", NULL};
    return model_find(order, s);
}

int outbox_status_apply(struct store_tx *tx, int64_t channel_id, json_t *item,
                        struct err_info *err)
{
    struct db *db = store_tx_db(tx);
    const char *ext = json_string_value(json_object_get(item, "external_id"));
    const char *status = json_string_value(json_object_get(item, "status"));
    int64_t at = json_integer_value(json_object_get(item, "at_ms"));
    if (ext == NULL || status == NULL)
        return err_set(err, ERR_INVALID, "status", "a status needs a message id and a state");
    sqlite3_stmt *st = db_stmt(db, "SELECT id, status, request_id, customer_id FROM outbox "
                                   "WHERE channel_id = $1 AND external_id = $2");
    db_bind_i64(st, 1, channel_id);
    db_bind_text(st, 2, ext, -1);
    if (db_step(db, st, NULL) != 1) {
        sqlite3_reset(st);
        return 0; /* a report about a message we did not send (or sent before a reset) */
    }
    int64_t id = db_col_i64(st, 0), request_id = db_col_i64(st, 2), cust = db_col_i64(st, 3);
    int cur = status_rank(db_col_text(st, 1));
    sqlite3_reset(st);
    bool is_failed = strcmp(status, "failed") == 0;
    int next = status_rank(status);
    /* Reports arrive out of order: a state never moves back (read stays read). */
    if (!is_failed && (next < 0 || next <= cur))
        return 0;
    st = db_stmt(db, "UPDATE outbox SET status = $2, updated_at_ms = $3, last_error = "
                     "COALESCE($4, last_error), delivered_at_ms = CASE WHEN $2 IN ('delivered', "
                     "'read') THEN COALESCE(delivered_at_ms, $3) ELSE delivered_at_ms END, "
                     "read_at_ms = CASE WHEN $2 = 'read' THEN $3 ELSE read_at_ms END "
                     "WHERE id = $1");
    db_bind_i64(st, 1, id);
    db_bind_text(st, 2, status, -1);
    db_bind_i64(st, 3, at ? at : clock_now_ms());
    db_bind_text(st, 4, json_string_value(json_object_get(item, "error")), -1);
    int rc = db_run(db, st, err);
    if (rc != 0)
        return rc;
    json_t *d = json_pack("{s:I, s:s}", "outbox_id", (json_int_t)id, "status", status);
    char type[40];
    snprintf(type, sizeof type, "outbox.%s", status);
    rc = add_event(tx, type, request_id, cust, d, err);
    json_decref(d);
    return rc;
}

/* ---- sending helpers ------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct send *s = ctx;
    buf_put(&s->resp, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct send *s = ctx;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        long v = strtol(p + 12, NULL, 10);
        if (v > 0 && v < 86400)
            s->retry_after_ms = (int64_t)v * 1000;
    }
    return len;
}

void send_http(struct send *s, const char *url)
{
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS,
                     (long)chan_setting_int(s->ch, "timeout_ms", DEFAULT_TIMEOUT_MS));
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
}

void send_post(struct send *s, const char *content_type, const char *body, size_t len)
{
    s->post = arena_strndup(s->arena, body, len);
    s->post_len = len;
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, s->post);
    send_header(s, arena_printf(s->arena, "Content-Type: %s", content_type));
}

void send_header(struct send *s, const char *header)
{
    s->headers = curl_slist_append(s->headers, header);
}

json_t *send_json(struct send *s)
{
    return json_loadb(s->resp.data ? s->resp.data : "", s->resp.len, 0, NULL);
}
