/*
 * phone.c - call events from the telephony system (PBX / contact centre),
 * and the figures they give: service level, ASA and abandonment.
 *
 * Webhook: POST /hooks/phone/<name>, JSON, header
 * X-Otklik-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with
 * the channel's signing_key>.  Body:
 *   {"event": "incoming" | "answered" | "abandoned" | "missed" |
 *             "callback_requested" | "ended",
 *    "call_id": "...", "at": RFC 3339, "phone": "+7...", "queue": "...",
 *    "agent": "...", "wait_s": 35, "duration_s": 180, "recording_url": "..."}
 * One row per call in `calls` (events may arrive in any order; each fills
 * its own columns).  Missed and abandoned calls and callback requests
 * become requests (channel "callback": someone has to call back).  The IVR
 * identifies callers with GET /api/v1/customers/lookup?phone=.
 */
#include "channels/channels_int.h"

#include "core/clock.h"
#include "classify/text.h"
#include "core/log.h"
#include "core/str.h"
#include "intake/intake.h"

#include <stdio.h>
#include <string.h>

static const char *const events[] = {"incoming", "answered", "abandoned", "missed",
                                     "callback_requested", "ended", NULL};

static int phone_hook(struct hook *h)
{
    if (strcmp(h->req->method, "POST") != 0)
        return err_set(&h->req->err, ERR_METHOD, "", "call events are POST");
    const char *sig = http_header(h->req, "X-Otklik-Signature");
    if (sig == NULL)
        return hook_unauthorized(h, "X-Otklik-Signature");
    const char *key = chan_secret(h->ch, "signing_key");
    char want[65];
    hmac_sha256_hex(key ? key : "", h->req->body.data ? h->req->body.data : "", h->req->body.len,
                    want);
    if (key == NULL || strncmp(sig, "sha256=", 7) != 0 || !ct_streq(sig + 7, want))
        return hook_forbidden(h, "X-Otklik-Signature");
    json_t *b;
    int rc = hook_json(h, &b);
    if (rc != 0)
        return rc;
    const char *ev = json_string_value(json_object_get(b, "event"));
    const char *call = json_string_value(json_object_get(b, "call_id"));
    int64_t at = 0;
    if (ev == NULL || model_find(events, ev) < 0)
        rc = err_set(&h->req->err, ERR_INVALID, "event", "event must be one of incoming, answered, "
                                                          "abandoned, missed, callback_requested, ended");
    else if (call == NULL || *call == '\0' || strlen(call) > 128 ||
             strspn(call, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-@") !=
                 strlen(call))
        rc = err_set(&h->req->err, ERR_INVALID, "call_id",
                     "call_id is required: letters, digits and . _ : - @");
    else if (intake_opt_time(b, "at", &at, &h->req->err) != 0)
        rc = ERR_INVALID;
    if (rc != 0)
        goto out;
    if (at == 0)
        at = clock_now_ms();
    char sid[200];
    snprintf(sid, sizeof sid, "call:%s:%s", call, ev);
    json_t *item = json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "call", "source_id", sid,
                             "event", ev, "call_id", call, "at_ms", (json_int_t)at);
    static const char *const copy[] = {"phone", "queue", "agent", "wait_s", "duration_s",
                                       "recording_url", NULL};
    for (int i = 0; copy[i]; i++) {
        json_t *v = json_object_get(b, copy[i]);
        if (json_is_string(v) || json_is_integer(v))
            json_object_set(item, copy[i], v);
    }
    json_array_append_new(h->items, item);
out:
    json_decref(b);
    return rc;
}

/*
 * A missed or abandoned call, or a callback request: someone has to call
 * back.  One request per call (source id "call:<id>"), whichever of its
 * events comes first; the phone may have come with an earlier event.
 */
static int callback_request(struct store_tx *tx, int64_t channel_id, json_t *item,
                            const char *ev, struct err_info *err)
{
    struct db *db = store_tx_db(tx);
    const char *call = json_string_value(json_object_get(item, "call_id"));
    char phone[17] = "";
    sqlite3_stmt *st = db_stmt(db, "SELECT phone, wait_s FROM calls WHERE channel_id = $1 "
                                   "AND call_id = $2");
    db_bind_i64(st, 1, channel_id);
    db_bind_text(st, 2, call, -1);
    int64_t wait = 0;
    if (db_step(db, st, NULL) == 1) {
        if (db_col_text(st, 0))
            snprintf(phone, sizeof phone, "%s", db_col_text(st, 0));
        wait = db_col_i64(st, 1);
    }
    sqlite3_reset(st);
    if (phone[0] == '\0')
        return 0; /* nobody to call back (a hidden number) */
    char text[200], sid[200];
    if (strcmp(ev, "callback_requested") == 0)
        snprintf(text, sizeof text, "Клиент просит перезвонить (звонок %.60s)", call);
    else
        snprintf(text, sizeof text, "%s звонок, ожидание %lld с — перезвоните клиенту",
                 strcmp(ev, "missed") == 0 ? "Пропущенный" : "Брошенный", (long long)wait);
    snprintf(sid, sizeof sid, "call:%s", call);
    struct buf terms;
    buf_init(&terms, 64 * 1024);
    text_search_terms(text, strlen(text), &terms);
    struct request_in in = {.channel = "callback", .source_id = sid, .text = text,
                            .kind = "question", .search_terms = buf_cstr(&terms),
                            .actor = "telephony", .priority = "normal"};
    in.customer.ids[0] = phone; /* model_identity_kinds[0] is the phone */
    struct request_out out;
    int rc = store_request_create(tx, &in, &out, err);
    buf_free(&terms);
    if (rc == 0 && !out.is_duplicate) {
        char data[300];
        snprintf(data, sizeof data, "{\"call_id\":\"%s\",\"event\":\"%s\"}", call, ev);
        int64_t e = store_event_add(tx, "call.callback", out.id, out.customer_id, 0, 0,
                                    "telephony", data, err);
        if (e < 0)
            rc = (int)e;
    }
    return rc;
}

int phone_call_apply(struct store_tx *tx, int64_t channel_id, json_t *item, struct err_info *err)
{
    struct db *db = store_tx_db(tx);
    const char *ev = json_string_value(json_object_get(item, "event"));
    int64_t at = json_integer_value(json_object_get(item, "at_ms"));
    json_t *wait = json_object_get(item, "wait_s"), *dur = json_object_get(item, "duration_s");
    char phone[17] = "";
    const char *p = json_string_value(json_object_get(item, "phone"));
    if (p && intake_phone_normalise(p, phone) != 0)
        phone[0] = '\0';
    bool answered = strcmp(ev, "answered") == 0, ended = strcmp(ev, "ended") == 0;
    const char *state = strcmp(ev, "incoming") == 0 ? "ringing"
                        : answered                  ? "answered"
                        : ended                     ? "ended"
                        : strcmp(ev, "callback_requested") == 0 ? NULL
                                                                : ev;
    /* Each event fills its own facts; the first event seen sets started_at. */
    sqlite3_stmt *st = db_stmt(
        db, "INSERT INTO calls (channel_id, call_id, phone, queue, agent, state, started_at_ms, "
            "answered_at_ms, ended_at_ms, wait_s, duration_s, is_callback_requested, "
            "recording_url, updated_at_ms) VALUES ($1, $2, $3, $4, $5, COALESCE($6, 'ringing'), "
            "$7, $8, $9, $10, $11, $12, $13, $7) ON CONFLICT (channel_id, call_id) DO UPDATE SET "
            "phone = COALESCE(calls.phone, $3), queue = COALESCE($4, calls.queue), "
            "agent = COALESCE($5, calls.agent), state = CASE WHEN $6 IS NULL THEN calls.state "
            "WHEN $6 = 'ended' AND calls.state IN ('abandoned', 'missed') THEN calls.state "
            "WHEN $6 = 'ringing' THEN calls.state ELSE $6 END, "
            "started_at_ms = MIN(calls.started_at_ms, $7), "
            "answered_at_ms = COALESCE(calls.answered_at_ms, $8), "
            "ended_at_ms = COALESCE($9, calls.ended_at_ms), wait_s = COALESCE($10, calls.wait_s), "
            "duration_s = COALESCE($11, calls.duration_s), "
            "is_callback_requested = MAX(calls.is_callback_requested, $12), "
            "recording_url = COALESCE($13, calls.recording_url), updated_at_ms = $7");
    db_bind_i64(st, 1, channel_id);
    db_bind_text(st, 2, json_string_value(json_object_get(item, "call_id")), -1);
    db_bind_text(st, 3, phone[0] ? phone : NULL, -1);
    db_bind_text(st, 4, json_string_value(json_object_get(item, "queue")), -1);
    db_bind_text(st, 5, json_string_value(json_object_get(item, "agent")), -1);
    db_bind_text(st, 6, state, -1);
    db_bind_i64(st, 7, at);
    db_bind_i64_or_null(st, 8, answered ? at : 0);
    db_bind_i64_or_null(st, 9, ended || strcmp(ev, "abandoned") == 0 || strcmp(ev, "missed") == 0
                                   ? at
                                   : 0);
    if (json_is_integer(wait))
        db_bind_i64(st, 10, json_integer_value(wait));
    else
        db_bind_null(st, 10);
    if (json_is_integer(dur))
        db_bind_i64(st, 11, json_integer_value(dur));
    else
        db_bind_null(st, 11);
    db_bind_i64(st, 12, strcmp(ev, "callback_requested") == 0);
    db_bind_text(st, 13, json_string_value(json_object_get(item, "recording_url")), -1);
    int rc = db_run(db, st, err);
    bool wants_call_back = strcmp(ev, "missed") == 0 || strcmp(ev, "abandoned") == 0 ||
                           strcmp(ev, "callback_requested") == 0;
    if (rc == 0 && wants_call_back)
        rc = callback_request(tx, channel_id, item, ev, err);
    if (rc == 0 && ended) {
        /* The end of a call with its recording goes on the caller's history. */
        json_t *d = json_pack("{s:s}", "call_id", json_string_value(json_object_get(item, "call_id")));
        if (json_is_integer(dur))
            json_object_set(d, "duration_s", dur);
        json_set_str(d, "recording_url", json_string_value(json_object_get(item, "recording_url")));
        char *text = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        int64_t cid = 0;
        if (phone[0]) {
            sqlite3_stmt *q = db_stmt(db, "SELECT customer_id FROM identities WHERE kind = "
                                          "'phone' AND value = $1");
            db_bind_text(q, 1, phone, -1);
            cid = db_step(db, q, NULL) == 1 ? db_col_i64(q, 0) : 0;
            sqlite3_reset(q);
        }
        int64_t e = store_event_add(tx, "call.ended", 0, cid, 0, 0, "telephony", text, err);
        free(text);
        if (e < 0)
            rc = (int)e;
    }
    return rc;
}

int channels_calls_stats(struct http_request *req, struct http_response *resp)
{
    int64_t since = 0, until = 0, within = 20;
    const char *s = http_query(req, "since"), *u = http_query(req, "until");
    const char *w = http_query(req, "answer_within_s");
    if (s && *s && time_parse_rfc3339(str_from(s), &since) != 0)
        return err_set(&req->err, ERR_INVALID, "since", "since must be an RFC 3339 time");
    if (u && *u && time_parse_rfc3339(str_from(u), &until) != 0)
        return err_set(&req->err, ERR_INVALID, "until", "until must be an RFC 3339 time");
    if (w && *w && str_to_i64(str_from(w), 1, 3600, &within) != 0)
        return err_set(&req->err, ERR_INVALID, "answer_within_s",
                       "answer_within_s must be 1..3600");
    if (until == 0)
        until = INT64_MAX;
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(
        r, "SELECT COUNT(*), SUM(answered_at_ms IS NOT NULL), "
           "SUM(state IN ('abandoned', 'missed') AND answered_at_ms IS NULL), "
           "SUM(answered_at_ms IS NOT NULL AND COALESCE(wait_s, "
           "(answered_at_ms - started_at_ms) / 1000) <= $3), "
           "AVG(CASE WHEN answered_at_ms IS NOT NULL THEN COALESCE(wait_s, "
           "(answered_at_ms - started_at_ms) / 1000.0) END), SUM(is_callback_requested), "
           "AVG(CASE WHEN duration_s IS NOT NULL THEN duration_s END) "
           "FROM calls WHERE started_at_ms >= $1 AND started_at_ms < $2");
    db_bind_i64(st, 1, since);
    db_bind_i64(st, 2, until);
    db_bind_i64(st, 3, within);
    json_t *o = json_object();
    if (db_step(r, st, &req->err) == 1) {
        int64_t offered = db_col_i64(st, 0), answered = db_col_i64(st, 1);
        int64_t abandoned = db_col_i64(st, 2), in_time = db_col_i64(st, 3);
        json_object_set_new(o, "offered", json_integer(offered));
        json_object_set_new(o, "answered", json_integer(answered));
        json_object_set_new(o, "abandoned", json_integer(abandoned));
        json_object_set_new(o, "answered_within_threshold", json_integer(in_time));
        json_object_set_new(o, "answer_within_s", json_integer(within));
        json_object_set_new(o, "callback_requests", json_integer(db_col_i64(st, 5)));
        /* Service level: answered in time among calls answered or abandoned. */
        int64_t handled = answered + abandoned;
        json_object_set_new(o, "service_level",
                            handled ? json_real((double)in_time / (double)handled) : json_null());
        json_object_set_new(o, "asa_s", db_col_is_null(st, 4)
                                            ? json_null()
                                            : json_real(sqlite3_column_double(st, 4)));
        json_object_set_new(o, "abandonment_rate",
                            offered ? json_real((double)abandoned / (double)offered) : json_null());
        json_object_set_new(o, "aht_s", db_col_is_null(st, 6)
                                            ? json_null()
                                            : json_real(sqlite3_column_double(st, 6)));
    }
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    http_reply_json(resp, 200, o);
    return 0;
}

static const char *const phone_secrets[] = {"signing_key", NULL};

const struct adapter adapter_phone = {
    .name = "phone",
    .channel = "phone",
    .hook = phone_hook,
    .required_secrets = phone_secrets,
};
