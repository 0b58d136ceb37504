/*
 * telegram.c - Telegram Bot API adapter.  In: webhook Update objects,
 * authenticated by the X-Telegram-Bot-Api-Secret-Token header set with
 * setWebhook(secret_token); text, captions, photos and documents (file ids
 * kept as attachments), shared contacts (the sender's own phone becomes an
 * identity).  A member of a group has their own conversation in it.  Out:
 * POST {api_base}/bot<token>/sendMessage {chat_id, text}.
 *
 * Secrets: bot_token, secret_token.  Settings: api_base
 * (https://api.telegram.org), timeout_ms, retry_base_ms, max_attempts.
 */
#include "channels/channels_int.h"

#include "core/log.h"
#include "core/str.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TELEGRAM_MAX_TEXT 4096 /* characters of one sendMessage text */

/* Unix seconds as an RFC 3339 created_at. */
static void set_created(json_t *req, json_t *date)
{
    if (!json_is_integer(date))
        return;
    char t[40];
    time_format_rfc3339(json_integer_value(date) * 1000, t, sizeof t);
    json_object_set_new(req, "created_at", json_string(t));
}

static void add_file(json_t *atts, const char *type, json_t *obj)
{
    if (!json_is_object(obj))
        return;
    json_t *a = json_pack("{s:s}", "type", type);
    static const char *const keys[] = {"file_id", "file_unique_id", "file_name", "mime_type",
                                       "file_size", "width", "height", "duration", "emoji",
                                       NULL};
    for (int i = 0; keys[i]; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        if (json_is_string(v) || json_is_integer(v))
            json_object_set(a, keys[i], v);
    }
    json_array_append_new(atts, a);
}

/* A phone as Telegram gives it ("79161234567", sometimes with +) in a form intake accepts. */
static void phone_plus(const char *in, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", in[0] == '+' ? "" : "+", in);
}

static int on_message(struct hook *h, json_t *msg, bool is_edit)
{
    json_t *chat = json_object_get(msg, "chat");
    json_t *from = json_object_get(msg, "from");
    char chat_id[32], from_id[32], mid[32], sid[128];
    const char *cid = json_str_or_int(chat, "id", chat_id, sizeof chat_id);
    const char *m_id = json_str_or_int(msg, "message_id", mid, sizeof mid);
    if (cid == NULL || m_id == NULL) {
        log_info("hook channel=telegram/%s ignored=message-without-ids", h->ch->name);
        return 0;
    }
    json_t *edit = json_object_get(msg, "edit_date");
    if (is_edit && json_is_integer(edit))
        snprintf(sid, sizeof sid, "tg:%s:%s:e%" JSON_INTEGER_FORMAT, cid, m_id,
                 json_integer_value(edit));
    else
        snprintf(sid, sizeof sid, "tg:%s:%s", cid, m_id);

    const char *text = json_string_value(json_object_get(msg, "text"));
    if (text == NULL)
        text = json_string_value(json_object_get(msg, "caption"));
    json_t *atts = json_array();
    json_t *photos = json_object_get(msg, "photo");
    if (json_array_size(photos) > 0) /* sizes come smallest first: keep the largest */
        add_file(atts, "photo", json_array_get(photos, json_array_size(photos) - 1));
    static const char *const files[] = {"document", "voice", "audio", "video", "video_note",
                                        "sticker", "animation", NULL};
    for (int i = 0; files[i]; i++)
        add_file(atts, files[i], json_object_get(msg, files[i]));
    json_t *contact = json_object_get(msg, "contact");
    json_t *loc = json_object_get(msg, "location");
    char buf[160], phone[40] = "";
    if (json_is_object(contact)) {
        const char *p = json_string_value(json_object_get(contact, "phone_number"));
        json_t *cu = json_object_get(contact, "user_id"), *fu = json_object_get(from, "id");
        /* Only the sender's own card proves the phone; anyone else's is just text. */
        if (p && json_is_integer(cu) && json_is_integer(fu) &&
            json_integer_value(cu) == json_integer_value(fu))
            phone_plus(p, phone, sizeof phone);
        snprintf(buf, sizeof buf, "Контакт: %.40s %.60s", p ? p : "",
                 json_string_value(json_object_get(contact, "first_name"))
                     ? json_string_value(json_object_get(contact, "first_name"))
                     : "");
        text = buf;
    } else if (json_is_object(loc) && text == NULL) {
        snprintf(buf, sizeof buf, "Геопозиция: %.6f, %.6f",
                 json_number_value(json_object_get(loc, "latitude")),
                 json_number_value(json_object_get(loc, "longitude")));
        text = buf;
    }
    if (text == NULL || *text == '\0') {
        if (json_array_size(atts) == 0) {
            json_decref(atts);
            log_info("hook channel=telegram/%s ignored=empty-message", h->ch->name);
            return 0;
        }
        const char *t = json_string_value(json_object_get(json_array_get(atts, 0), "type"));
        snprintf(buf, sizeof buf, "[%s]", t ? t : "вложение");
        text = buf;
    }
    /* In a group every member has their own conversation with the care team
     * ("<chat>/<member>"); the answer still goes to the group's chat. */
    const char *type = json_string_value(json_object_get(chat, "type"));
    const char *member = json_str_or_int(from, "id", from_id, sizeof from_id);
    char peer[72];
    if (type && (strcmp(type, "group") == 0 || strcmp(type, "supergroup") == 0) && member &&
        !json_is_true(json_object_get(from, "is_bot")))
        snprintf(peer, sizeof peer, "%s/%s", cid, member);
    else
        snprintf(peer, sizeof peer, "%s", cid);
    json_t *item = item_message(h, peer, sid, text);
    json_t *req = item_request(item), *cust = item_customer(item);
    set_created(req, json_object_get(msg, "date"));
    const char *fid = json_str_or_int(from, "id", from_id, sizeof from_id);
    if (fid && !json_is_true(json_object_get(from, "is_bot")))
        json_object_set_new(cust, "telegram_id", json_string(fid));
    if (phone[0])
        json_object_set_new(cust, "phone", json_string(phone));
    const char *first = json_string_value(json_object_get(from, "first_name"));
    const char *last = json_string_value(json_object_get(from, "last_name"));
    if (first) {
        char name[200];
        snprintf(name, sizeof name, "%s%s%s", first, last ? " " : "", last ? last : "");
        json_object_set_new(cust, "name", json_string(name));
    }
    if (json_array_size(atts) > 0)
        json_object_set_new(item, "attachments", atts);
    else
        json_decref(atts);
    return 0;
}

static int telegram_hook(struct hook *h)
{
    if (strcmp(h->req->method, "POST") != 0)
        return err_set(&h->req->err, ERR_METHOD, "", "Telegram webhooks are POST");
    const char *got = http_header(h->req, "X-Telegram-Bot-Api-Secret-Token");
    if (got == NULL)
        return hook_unauthorized(h, "X-Telegram-Bot-Api-Secret-Token");
    if (!ct_streq(got, chan_secret(h->ch, "secret_token")))
        return hook_forbidden(h, "X-Telegram-Bot-Api-Secret-Token");
    json_t *u;
    int rc = hook_json(h, &u);
    if (rc != 0)
        return rc;
    json_t *msg;
    if ((msg = json_object_get(u, "message")) != NULL && json_is_object(msg))
        rc = on_message(h, msg, false);
    else if ((msg = json_object_get(u, "edited_message")) != NULL && json_is_object(msg))
        rc = on_message(h, msg, true);
    else if ((msg = json_object_get(u, "business_message")) != NULL && json_is_object(msg))
        rc = on_message(h, msg, false);
    else {
        /* callback_query, my_chat_member, message_reaction, ...: acknowledged, not intake. */
        const char *kind = "unknown";
        const char *k;
        json_t *v;
        json_object_foreach(u, k, v)
        {
            (void)v;
            if (strcmp(k, "update_id") != 0)
                kind = k;
        }
        log_info("hook channel=telegram/%s ignored=%.40s", h->ch->name, kind);
    }
    json_decref(u);
    return rc;
}

static int telegram_send_prepare(struct send *s)
{
    const char *token = chan_secret(s->ch, "bot_token");
    if (token == NULL) {
        snprintf(s->error, sizeof s->error, "bot_token is not set");
        return -1;
    }
    const char *base = chan_setting(s->ch, "api_base", "https://api.telegram.org");
    send_http(s, arena_printf(s->arena, "%s/bot%s/sendMessage", base, token));
    json_t *body = json_object();
    /* A group member's conversation is "<chat>/<member>": the chat is the address. */
    const char *slash = strchr(s->recipient, '/');
    struct str to = {s->recipient, slash ? (size_t)(slash - s->recipient) : strlen(s->recipient)};
    int64_t chat;
    if (str_to_i64(to, INT64_MIN, INT64_MAX, &chat) == 0)
        json_object_set_new(body, "chat_id", json_integer(chat));
    else
        json_object_set_new(body, "chat_id", json_stringn(to.ptr, to.len));
    /* One message holds 4096 characters; a longer reply is cut with an ellipsis. */
    size_t len = strlen(s->body);
    if (utf8_length(s->body, len) > TELEGRAM_MAX_TEXT) {
        const char *p = s->body;
        for (size_t n = 0; n < TELEGRAM_MAX_TEXT - 1 && *p; n++) {
            p++;
            while ((*p & 0xC0) == 0x80)
                p++;
        }
        char *cut = arena_printf(s->arena, "%.*s…", (int)(p - s->body), s->body);
        json_object_set_new(body, "text", json_string(cut));
    } else {
        json_object_set_new(body, "text", json_string(s->body));
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    send_post(s, "application/json", text, strlen(text));
    free(text);
    return 0;
}

static void telegram_send_finish(struct send *s)
{
    json_t *r = send_json(s);
    json_t *params = json_object_get(r, "parameters");
    json_t *ra = json_object_get(params, "retry_after");
    if (json_is_integer(ra) && json_integer_value(ra) > 0)
        s->retry_after_ms = json_integer_value(ra) * 1000;
    if (s->http_status == 200 && json_is_true(json_object_get(r, "ok"))) {
        char mid[32];
        const char *m = json_str_or_int(json_object_get(r, "result"), "message_id", mid,
                                        sizeof mid);
        snprintf(s->external_id, sizeof s->external_id, "%s:%s", s->recipient, m ? m : "");
        s->result = SEND_OK;
    } else {
        const char *d = json_string_value(json_object_get(r, "description"));
        snprintf(s->error, sizeof s->error, "HTTP %ld: %.200s", s->http_status,
                 d ? d : "no description");
        s->result = s->http_status == 429 || s->http_status >= 500 ? SEND_RETRY : SEND_FAIL;
    }
    json_decref(r);
}

static const char *const telegram_secrets[] = {"bot_token", "secret_token", NULL};

const struct adapter adapter_telegram = {
    .name = "telegram",
    .channel = "telegram",
    .hook = telegram_hook,
    .send_prepare = telegram_send_prepare,
    .send_finish = telegram_send_finish,
    .has_idempotency_key = false,
    .identity_kind = "telegram",
    .required_secrets = telegram_secrets,
};
