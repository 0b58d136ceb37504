/*
 * vk.c - VK community Callback API adapter.  In: JSON notifications
 * {type, event_id, v, object, group_id, secret}; the `secret` field and the
 * group id are checked (VK signs nothing else); `confirmation` is answered
 * with the community's confirmation string, everything else with "ok".
 * message_new (private messages) and wall_reply_new (comments by users)
 * become intake, the sender's id is the vk_id identity.  Out:
 * messages.send with random_id = the outbox id, so a resend after a crash
 * is dropped by VK as a duplicate (the one adapter with an idempotency key).
 *
 * Secrets: access_token, secret, confirmation.  Settings: group_id, api_base
 * (https://api.vk.com), api_version (5.199), timeout_ms, retry_base_ms.
 */
#include "channels/channels_int.h"

#include "core/log.h"
#include "core/str.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void created_s(json_t *req, json_t *date)
{
    if (!json_is_integer(date))
        return;
    char t[40];
    time_format_rfc3339(json_integer_value(date) * 1000, t, sizeof t);
    json_object_set_new(req, "created_at", json_string(t));
}

/* Photos (largest size), documents, stickers ... as attachment metadata. */
static json_t *attachments(json_t *list)
{
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *a = json_array_get(list, i);
        const char *type = json_string_value(json_object_get(a, "type"));
        json_t *obj = type ? json_object_get(a, type) : NULL;
        if (type == NULL || !json_is_object(obj))
            continue;
        json_t *m = json_pack("{s:s}", "type", type);
        json_t *sizes = json_object_get(obj, "sizes");
        json_t *best = json_array_get(sizes, json_array_size(sizes) ? json_array_size(sizes) - 1 : 0);
        json_set_str(m, "url", json_string_value(json_object_get(best ? best : obj, "url")));
        json_set_str(m, "file_name", json_string_value(json_object_get(obj, "title")));
        json_t *id = json_object_get(obj, "id");
        if (json_is_integer(id))
            json_object_set(m, "id", id);
        json_array_append_new(out, m);
    }
    return out;
}

static void add_item(struct hook *h, const char *peer, const char *sid, const char *text,
                     json_t *from_id, json_t *date, json_t *atts)
{
    char buf[40];
    if (text == NULL || *text == '\0')
        text = json_array_size(atts) ? "[вложение]" : "[пустое сообщение]";
    json_t *item = item_message(h, peer, sid, text);
    created_s(item_request(item), date);
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(from_id));
    json_object_set_new(item_customer(item), "vk_id", json_string(buf));
    if (json_array_size(atts) > 0)
        json_object_set(item, "attachments", atts);
}

static int vk_hook(struct hook *h)
{
    if (strcmp(h->req->method, "POST") != 0)
        return err_set(&h->req->err, ERR_METHOD, "", "VK callbacks are POST");
    json_t *ev;
    int rc = hook_json(h, &ev);
    if (rc != 0)
        return rc;
    const char *secret = json_string_value(json_object_get(ev, "secret"));
    const char *type = json_string_value(json_object_get(ev, "type"));
    char gid[32];
    const char *group = json_str_or_int(ev, "group_id", gid, sizeof gid);
    const char *want_group = chan_setting(h->ch, "group_id", NULL);
    if (secret == NULL)
        rc = hook_unauthorized(h, "secret");
    else if (!ct_streq(secret, chan_secret(h->ch, "secret")))
        rc = hook_forbidden(h, "secret");
    else if (want_group && (group == NULL || strcmp(group, want_group) != 0))
        rc = hook_forbidden(h, "group_id");
    else if (type == NULL)
        rc = err_set(&h->req->err, ERR_INVALID, "type", "a notification needs a type");
    if (rc != 0)
        goto out;
    h->reply_text = "ok";
    json_t *obj = json_object_get(ev, "object");
    if (strcmp(type, "confirmation") == 0) {
        const char *c = chan_secret(h->ch, "confirmation");
        h->reply_text = c ? arena_strdup(&h->req->arena, c) : "";
    } else if (strcmp(type, "message_new") == 0) {
        /* API 5.103+: object.message; older versions put the message itself in object. */
        json_t *m = json_object_get(obj, "message");
        if (!json_is_object(m))
            m = obj;
        char peer[32], mid[32], sid[80];
        const char *p = json_str_or_int(m, "peer_id", peer, sizeof peer);
        const char *id = json_str_or_int(m, "id", mid, sizeof mid);
        json_t *from = json_object_get(m, "from_id");
        if (p && id && json_is_integer(from) && json_integer_value(from) > 0) {
            snprintf(sid, sizeof sid, "vk:m:%s:%s", p, id);
            json_t *atts = attachments(json_object_get(m, "attachments"));
            add_item(h, p, sid, json_string_value(json_object_get(m, "text")), from,
                     json_object_get(m, "date"), atts);
            json_decref(atts);
        }
    } else if (strcmp(type, "wall_reply_new") == 0) {
        json_t *from = json_object_get(obj, "from_id");
        char peer[32], cid[32], post[32], sid[100];
        const char *id = json_str_or_int(obj, "id", cid, sizeof cid);
        const char *pid = json_str_or_int(obj, "post_id", post, sizeof post);
        /* from_id < 0: the community itself commented. */
        if (id && json_is_integer(from) && json_integer_value(from) > 0) {
            snprintf(peer, sizeof peer, "%" JSON_INTEGER_FORMAT, json_integer_value(from));
            snprintf(sid, sizeof sid, "vk:c:%s:%s", pid ? pid : "", id);
            json_t *atts = attachments(json_object_get(obj, "attachments"));
            add_item(h, peer, sid, json_string_value(json_object_get(obj, "text")), from,
                     json_object_get(obj, "date"), atts);
            json_t *item = json_array_get(h->items, json_array_size(h->items) - 1);
            if (item && json_object_get(item, "source_id") &&
                strcmp(json_string_value(json_object_get(item, "source_id")), sid) == 0) {
                json_object_set_new(item, "thread", json_string("none"));
                json_object_set_new(item_request(item), "subject",
                                    json_sprintf("Комментарий к записи %s", pid ? pid : ""));
            }
            json_decref(atts);
        }
    } else {
        log_info("hook channel=vk/%s type=%.40s acknowledged", h->ch->name, type);
    }
out:
    json_decref(ev);
    return rc;
}

static int vk_send_prepare(struct send *s)
{
    const char *token = chan_secret(s->ch, "access_token");
    if (token == NULL) {
        snprintf(s->error, sizeof s->error, "access_token is not set");
        return -1;
    }
    send_http(s, arena_printf(s->arena, "%s/method/messages.send",
                              chan_setting(s->ch, "api_base", "https://api.vk.com")));
    struct buf b;
    buf_init(&b, 1 << 20);
    char rid[32];
    snprintf(rid, sizeof rid, "%lld", (long long)s->outbox_id);
    form_put(&b, "access_token", token, true);
    form_put(&b, "v", chan_setting(s->ch, "api_version", "5.199"), false);
    form_put(&b, "peer_id", s->recipient, false);
    form_put(&b, "random_id", rid, false);
    form_put(&b, "message", s->body, false);
    send_post(s, "application/x-www-form-urlencoded", buf_cstr(&b), b.len);
    sodium_memzero(b.data, b.len);
    buf_free(&b);
    return 0;
}

static void vk_send_finish(struct send *s)
{
    json_t *r = send_json(s);
    json_t *resp = json_object_get(r, "response"), *e = json_object_get(r, "error");
    if (s->http_status == 200 && json_is_integer(resp)) {
        snprintf(s->external_id, sizeof s->external_id, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(resp));
        s->result = SEND_OK;
    } else {
        json_int_t code = json_integer_value(json_object_get(e, "error_code"));
        const char *m = json_string_value(json_object_get(e, "error_msg"));
        snprintf(s->error, sizeof s->error, "VK error %" JSON_INTEGER_FORMAT ": %.180s", code,
                 m ? m : "no answer");
        /* 6 too many requests per second, 9 flood control, 10 internal error: later. */
        s->result = code == 6 || code == 9 || code == 10 || s->http_status >= 500 ? SEND_RETRY
                                                                                  : SEND_FAIL;
    }
    json_decref(r);
}

static const char *const vk_secrets[] = {"access_token", "secret", "confirmation", NULL};

const struct adapter adapter_vk = {
    .name = "vk",
    .channel = "vk",
    .hook = vk_hook,
    .send_prepare = vk_send_prepare,
    .send_finish = vk_send_finish,
    .has_idempotency_key = true,
    .identity_kind = "vk",
    .required_secrets = vk_secrets,
};
