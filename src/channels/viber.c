/*
 * viber.c - Viber REST Bot API adapter.  In: callbacks signed with
 * X-Viber-Content-Signature (hex HMAC-SHA256 of the raw body, keyed with
 * the bot's auth token); `message` becomes intake (sender.id is the
 * viber_id identity), `delivered` / `seen` / `failed` are delivery reports,
 * `webhook`, `subscribed`, `unsubscribed`, `conversation_started` and
 * anything newer are acknowledged.  message_token is a 64-bit integer and
 * is read as one (never as a double).  Out: POST {api_base}/pa/send_message
 * with X-Viber-Auth-Token.
 *
 * Secrets: auth_token.  Settings: api_base (https://chatapi.viber.com),
 * sender_name (≤ 28 characters), timeout_ms, retry_base_ms, max_attempts.
 */
#include "channels/channels_int.h"

#include "core/log.h"
#include "core/str.h"

#include <stdio.h>
#include <string.h>

static void created_ms(json_t *req, json_t *ts)
{
    if (!json_is_integer(ts))
        return;
    char t[40];
    time_format_rfc3339(json_integer_value(ts), t, sizeof t);
    json_object_set_new(req, "created_at", json_string(t));
}

static int on_message(struct hook *h, json_t *ev)
{
    json_t *sender = json_object_get(ev, "sender"), *msg = json_object_get(ev, "message");
    const char *uid = json_string_value(json_object_get(sender, "id"));
    char tok[32], sid[64], buf[200];
    const char *token = json_str_or_int(ev, "message_token", tok, sizeof tok);
    if (uid == NULL || token == NULL || !json_is_object(msg)) {
        log_info("hook channel=viber/%s ignored=message-without-ids", h->ch->name);
        return 0;
    }
    snprintf(sid, sizeof sid, "vb:%s", token);
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *text = json_string_value(json_object_get(msg, "text"));
    json_t *atts = json_array();
    if (type && strcmp(type, "text") != 0) {
        json_t *a = json_pack("{s:s}", "type", type);
        static const char *const keys[] = {"media", "thumbnail", "file_name", "size",
                                           "sticker_id", "duration", NULL};
        for (int i = 0; keys[i]; i++) {
            json_t *v = json_object_get(msg, keys[i]);
            if (json_is_string(v) || json_is_integer(v))
                json_object_set(a, keys[i], v);
        }
        if (strcmp(type, "contact") == 0) {
            /* The payload does not say whether it is the sender's own number: kept as text. */
            json_t *c = json_object_get(msg, "contact");
            snprintf(buf, sizeof buf, "Контакт: %.60s %.40s",
                     json_string_value(json_object_get(c, "name"))
                         ? json_string_value(json_object_get(c, "name"))
                         : "",
                     json_string_value(json_object_get(c, "phone_number"))
                         ? json_string_value(json_object_get(c, "phone_number"))
                         : "");
            text = buf;
        } else if (strcmp(type, "location") == 0) {
            json_t *l = json_object_get(msg, "location");
            snprintf(buf, sizeof buf, "Геопозиция: %.6f, %.6f",
                     json_number_value(json_object_get(l, "lat")),
                     json_number_value(json_object_get(l, "lon")));
            text = buf;
        } else {
            json_array_append_new(atts, a);
            a = NULL;
        }
        json_decref(a);
    }
    if (text == NULL || *text == '\0') {
        snprintf(buf, sizeof buf, "[%s]", type ? type : "сообщение");
        text = buf;
    }
    json_t *item = item_message(h, uid, sid, text);
    created_ms(item_request(item), json_object_get(ev, "timestamp"));
    json_t *cust = item_customer(item);
    json_object_set_new(cust, "viber_id", json_string(uid));
    json_set_str(cust, "name", json_string_value(json_object_get(sender, "name")));
    if (json_array_size(atts) > 0)
        json_object_set_new(item, "attachments", atts);
    else
        json_decref(atts);
    return 0;
}

static int viber_hook(struct hook *h)
{
    if (strcmp(h->req->method, "POST") != 0)
        return err_set(&h->req->err, ERR_METHOD, "", "Viber callbacks are POST");
    const char *sig = http_header(h->req, "X-Viber-Content-Signature");
    if (sig == NULL)
        return hook_unauthorized(h, "X-Viber-Content-Signature");
    const char *key = chan_secret(h->ch, "auth_token");
    char want[65];
    hmac_sha256_hex(key ? key : "", h->req->body.data ? h->req->body.data : "", h->req->body.len,
                    want);
    if (key == NULL || !ct_streq(sig, want))
        return hook_forbidden(h, "X-Viber-Content-Signature");
    json_t *ev;
    int rc = hook_json(h, &ev);
    if (rc != 0)
        return rc;
    const char *event = json_string_value(json_object_get(ev, "event"));
    char tok[32];
    const char *token = json_str_or_int(ev, "message_token", tok, sizeof tok);
    int64_t at = json_integer_value(json_object_get(ev, "timestamp"));
    if (event == NULL)
        rc = err_set(&h->req->err, ERR_INVALID, "event", "a callback needs an event");
    else if (strcmp(event, "message") == 0)
        rc = on_message(h, ev);
    else if (strcmp(event, "delivered") == 0)
        item_status(h, token, "delivered", at, NULL);
    else if (strcmp(event, "seen") == 0)
        item_status(h, token, "read", at, NULL);
    else if (strcmp(event, "failed") == 0)
        item_status(h, token, "failed", at, json_string_value(json_object_get(ev, "desc")));
    else
        log_info("hook channel=viber/%s event=%.40s acknowledged", h->ch->name, event);
    json_decref(ev);
    return rc;
}

static int viber_send_prepare(struct send *s)
{
    const char *token = chan_secret(s->ch, "auth_token");
    if (token == NULL) {
        snprintf(s->error, sizeof s->error, "auth_token is not set");
        return -1;
    }
    send_http(s, arena_printf(s->arena, "%s/pa/send_message",
                              chan_setting(s->ch, "api_base", "https://chatapi.viber.com")));
    send_header(s, arena_printf(s->arena, "X-Viber-Auth-Token: %s", token));
    json_t *b = json_pack("{s:s, s:s, s:s, s:{s:s}}", "receiver", s->recipient, "type", "text",
                          "text", s->body, "sender", "name",
                          chan_setting(s->ch, "sender_name", "Поддержка"));
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    send_post(s, "application/json", text, strlen(text));
    free(text);
    return 0;
}

static void viber_send_finish(struct send *s)
{
    json_t *r = send_json(s);
    json_t *st = json_object_get(r, "status");
    char tok[32];
    const char *token = json_str_or_int(r, "message_token", tok, sizeof tok);
    if (s->http_status == 200 && json_is_integer(st) && json_integer_value(st) == 0) {
        snprintf(s->external_id, sizeof s->external_id, "%s", token ? token : "");
        s->result = SEND_OK;
    } else {
        const char *m = json_string_value(json_object_get(r, "status_message"));
        snprintf(s->error, sizeof s->error, "HTTP %ld status %lld: %.160s", s->http_status,
                 (long long)json_integer_value(st), m ? m : "");
        s->result = s->http_status >= 500 ? SEND_RETRY : SEND_FAIL;
    }
    json_decref(r);
}

static const char *const viber_secrets[] = {"auth_token", NULL};

const struct adapter adapter_viber = {
    .name = "viber",
    .channel = "viber",
    .hook = viber_hook,
    .send_prepare = viber_send_prepare,
    .send_finish = viber_send_finish,
    .identity_kind = "viber",
    .required_secrets = viber_secrets,
};
