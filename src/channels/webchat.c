/*
 * webchat.c - the chat widget on the retailer's site (web/widget.js).
 * POST /hooks/webchat/<name> with {visitor, id, text, name?, phone?,
 * email?} sends a visitor's message; GET ?visitor=&after=&wait_s= long-polls
 * the conversation (the visitor's messages and the operators' replies), so
 * replies arrive in real time without a framework or a socket.  The visitor
 * id is a random secret the widget keeps in localStorage (the conversation
 * survives page loads).  Allowed origins come from settings.allowed_origins;
 * the route is public and rate limited per channel.  Replies need no
 * sending: the widget reads them, so the outbox marks them sent at once.
 */
#include "channels/channels_int.h"

#include "core/clock.h"
#include "core/str.h"
#include "intake/intake.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define PULL_MAX_WAIT_MS 25000

static bool token_ok(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return false;
    return true;
}

/* CORS: the site's origin must be allowed (settings.allowed_origins, "*" allows any). */
static int check_origin(struct hook *h)
{
    const char *origin = http_header(h->req, "Origin");
    json_t *allowed = json_object_get(h->ch->settings, "allowed_origins");
    if (origin == NULL)
        return 0; /* not a browser's cross-origin call */
    bool ok = !json_is_array(allowed);
    for (size_t i = 0; !ok && i < json_array_size(allowed); i++) {
        const char *a = json_string_value(json_array_get(allowed, i));
        ok = a && (strcmp(a, "*") == 0 || strcmp(a, origin) == 0);
    }
    if (!ok)
        return hook_forbidden(h, "Origin");
    http_add_header(h->req, h->resp, "Access-Control-Allow-Origin", origin);
    http_add_header(h->req, h->resp, "Vary", "Origin");
    return 0;
}

int chat_post(struct hook *h, json_t *b, const char *who_key, const char *prefix,
              const char *identity_field)
{
    struct http_request *req = h->req;
    const char *who = json_string_value(json_object_get(b, who_key));
    const char *id = json_string_value(json_object_get(b, "id"));
    const char *text = NULL;
    if (!token_ok(who, strcmp(who_key, "visitor") == 0 ? 16 : 1, 64))
        return err_set(&req->err, ERR_INVALID, who_key, "%s must be 1-64 letters, digits, - or _",
                       who_key);
    if (!token_ok(id, 1, 64))
        return err_set(&req->err, ERR_INVALID, "id", "id (the message's own id) is required");
    int rc = intake_req_string(b, "text", INTAKE_MAX_TEXT, &req->arena, &text, &req->err);
    if (rc != 0)
        return rc;
    char peer[80], sid[160];
    snprintf(peer, sizeof peer, "%s%s", prefix, who);
    snprintf(sid, sizeof sid, "%s%s:%s", prefix, who, id);
    json_t *item = item_message(h, peer, sid, text);
    json_t *cust = item_customer(item);
    /* Contacts the visitor leaves are checked now: the widget shows the error. */
    struct customer_in c;
    json_t *given = json_object();
    static const char *const fields[] = {"name", "phone", "email", NULL};
    for (int i = 0; fields[i]; i++)
        if (json_is_string(json_object_get(b, fields[i])) &&
            json_string_length(json_object_get(b, fields[i])) > 0)
            json_object_set(given, fields[i], json_object_get(b, fields[i]));
    rc = intake_customer_parse(given, "customer", &req->arena, &c, &req->err);
    if (rc == 0) {
        json_object_update(cust, given);
        if (identity_field)
            json_object_set_new(cust, identity_field, json_string(who));
        json_t *req_obj = item_request(item);
        static const char *const extra[] = {"store", "order", NULL};
        for (int i = 0; extra[i]; i++)
            json_set_str(req_obj, extra[i], json_string_value(json_object_get(b, extra[i])));
    }
    json_decref(given);
    return rc;
}

struct wake {
    bool any;
};

static void on_event(void *ctx, const struct hub_event *ev)
{
    struct wake *w = ctx;
    /* A visitor's first message opens a request: it is in request.created. */
    if (strncmp(ev->type, "message.", 8) == 0 || strcmp(ev->type, "request.created") == 0)
        w->any = true;
}

/* Messages of the peer's conversations after after_id, oldest first. */
static json_t *messages_after(struct app *app, int64_t channel_id, const char *peer,
                              int64_t after_id, int64_t *last_id)
{
    json_t *out = json_array();
    struct db *r = store_reader(app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT m.id, m.direction, m.body, m.author_name, "
                                  "m.created_at_ms, m.request_id FROM channel_routes cr "
                                  "JOIN messages m ON m.request_id = cr.request_id "
                                  "WHERE cr.channel_id = $1 AND cr.peer = $2 AND m.id > $3 "
                                  "AND m.direction IN ('in', 'out') ORDER BY m.id LIMIT 100");
    db_bind_i64(st, 1, channel_id);
    db_bind_text(st, 2, peer, -1);
    db_bind_i64(st, 3, after_id);
    while (db_step(r, st, NULL) == 1) {
        char t[40];
        time_format_rfc3339(db_col_i64(st, 4), t, sizeof t);
        json_t *m = json_pack("{s:I, s:s, s:s, s:s, s:I}", "id", (json_int_t)db_col_i64(st, 0),
                              "direction", db_col_text(st, 1), "text", db_col_text(st, 2), "at",
                              t, "request_id", (json_int_t)db_col_i64(st, 5));
        json_set_str(m, "author", db_col_text(st, 3));
        json_array_append_new(out, m);
        *last_id = db_col_i64(st, 0);
    }
    sqlite3_reset(st);
    store_reader_done(app->store, r);
    return out;
}

int webchat_pull(struct hook *h, const char *peer, int64_t wait_ms)
{
    int64_t after = 0;
    const char *a = http_query(h->req, "after");
    if (a && *a && str_to_i64(str_from(a), 0, INT64_MAX, &after) != 0)
        return err_set(&h->req->err, ERR_INVALID, "after", "after must be a message id");
    if (wait_ms > PULL_MAX_WAIT_MS)
        wait_ms = PULL_MAX_WAIT_MS;
    int64_t last = after;
    int64_t hub = store_hub_last_id(h->app->store);
    int64_t deadline = clock_now_ms() + wait_ms;
    json_t *msgs = messages_after(h->app, h->ch->id, peer, after, &last);
    /* Long poll: sleep on the event hub until a message is written or time is up. */
    while (json_array_size(msgs) == 0 && clock_now_ms() < deadline) {
        struct wake w = {0};
        int64_t left = deadline - clock_now_ms();
        int64_t id = store_hub_wait(h->app->store, hub, (int)(left > 1000 ? 1000 : left),
                                    on_event, &w);
        if (id < 0)
            break;
        hub = id;
        if (w.any) {
            json_decref(msgs);
            msgs = messages_after(h->app, h->ch->id, peer, after, &last);
        }
    }
    http_reply_json(h->resp, 200, json_pack("{s:o, s:I}", "messages", msgs, "last_id",
                                            (json_int_t)last));
    return 0;
}

static int webchat_hook(struct hook *h)
{
    int rc = check_origin(h);
    if (rc != 0)
        return rc;
    if (strcmp(h->req->method, "GET") == 0) {
        const char *v = http_query(h->req, "visitor");
        if (!token_ok(v, 16, 64))
            return err_set(&h->req->err, ERR_INVALID, "visitor", "visitor id is required");
        int64_t wait_s = 0;
        const char *w = http_query(h->req, "wait_s");
        if (w && *w && str_to_i64(str_from(w), 0, 25, &wait_s) != 0)
            return err_set(&h->req->err, ERR_INVALID, "wait_s", "wait_s must be 0..25");
        return webchat_pull(h, arena_printf(&h->req->arena, "v:%s", v), wait_s * 1000);
    }
    /* The widget posts text/plain (a "simple" request: no CORS preflight). */
    json_t *b;
    if ((rc = hook_json(h, &b)) != 0)
        return rc;
    rc = chat_post(h, b, "visitor", "v:", NULL);
    json_decref(b);
    return rc;
}

static int webchat_send_prepare(struct send *s)
{
    s->result = SEND_OK; /* the widget pulls the reply from the conversation */
    return 1;
}

const struct adapter adapter_webchat = {
    .name = "webchat",
    .channel = "chat",
    .hook = webchat_hook,
    .send_prepare = webchat_send_prepare,
};
