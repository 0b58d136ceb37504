/*
 * whatsapp.c - WhatsApp Cloud API adapter (Meta webhooks).  GET is the
 * subscription handshake (hub.mode=subscribe, hub.verify_token checked,
 * hub.challenge echoed).  POST notifications carry X-Hub-Signature-256:
 * sha256=<hex HMAC-SHA256 of the raw bytes under the app secret>; one POST
 * may batch several entries, changes, messages and statuses.  Messages
 * become intake (wa_id is both the whatsapp_id and, with "+", the phone),
 * statuses sent / delivered / read / failed are delivery reports.  Out:
 * POST {api_base}/{api_version}/{phone_number_id}/messages with a Bearer token.
 *
 * Secrets: access_token, app_secret, verify_token.  Settings: phone_number_id,
 * api_base (https://graph.facebook.com), api_version (v19.0), timeout_ms.
 */
#include "channels/channels_int.h"

#include "core/log.h"
#include "core/str.h"
#include "intake/intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t ts_ms(json_t *o)
{
    const char *t = json_string_value(json_object_get(o, "timestamp"));
    int64_t s = 0;
    if (t)
        str_to_i64(str_from(t), 0, INT64_MAX / 1000, &s);
    return s * 1000;
}

static void on_message(struct hook *h, json_t *m, json_t *contacts)
{
    const char *from = json_string_value(json_object_get(m, "from"));
    const char *id = json_string_value(json_object_get(m, "id"));
    const char *type = json_string_value(json_object_get(m, "type"));
    if (from == NULL || id == NULL || type == NULL)
        return;
    const char *text = NULL;
    char buf[200];
    json_t *atts = json_array();
    json_t *body = json_object_get(m, type);
    if (strcmp(type, "text") == 0) {
        text = json_string_value(json_object_get(body, "body"));
    } else if (strcmp(type, "interactive") == 0) {
        json_t *r = json_object_get(body, "button_reply");
        if (!r)
            r = json_object_get(body, "list_reply");
        text = json_string_value(json_object_get(r, "title"));
    } else if (strcmp(type, "button") == 0) {
        text = json_string_value(json_object_get(body, "text"));
    } else if (strcmp(type, "location") == 0) {
        snprintf(buf, sizeof buf, "Геопозиция: %.6f, %.6f",
                 json_number_value(json_object_get(body, "latitude")),
                 json_number_value(json_object_get(body, "longitude")));
        text = buf;
    } else if (strcmp(type, "reaction") == 0 || strcmp(type, "system") == 0 ||
               strcmp(type, "unsupported") == 0) {
        json_decref(atts);
        log_info("hook channel=whatsapp/%s message_type=%s acknowledged", h->ch->name, type);
        return;
    } else if (json_is_object(body)) {
        /* image, document, audio, video, sticker: the media id fetches it from Graph API. */
        json_t *a = json_pack("{s:s}", "type", type);
        static const char *const keys[] = {"id", "mime_type", "sha256", "filename", NULL};
        for (int i = 0; keys[i]; i++)
            json_set_str(a, strcmp(keys[i], "filename") ? keys[i] : "file_name",
                         json_string_value(json_object_get(body, keys[i])));
        json_array_append_new(atts, a);
        text = json_string_value(json_object_get(body, "caption"));
    }
    if (text == NULL || *text == '\0') {
        snprintf(buf, sizeof buf, "[%s]", type);
        text = buf;
    }
    json_t *item = item_message(h, from, id, text);
    char t[40];
    int64_t at = ts_ms(m);
    if (at > 0) {
        time_format_rfc3339(at, t, sizeof t);
        json_object_set_new(item_request(item), "created_at", json_string(t));
    }
    json_t *cust = item_customer(item);
    json_object_set_new(cust, "whatsapp_id", json_string(from));
    char phone[40];
    snprintf(phone, sizeof phone, "+%s", from);
    char e164[17];
    if (intake_phone_normalise(phone, e164) == 0)
        json_object_set_new(cust, "phone", json_string(e164));
    for (size_t i = 0; i < json_array_size(contacts); i++) {
        json_t *c = json_array_get(contacts, i);
        const char *wa = json_string_value(json_object_get(c, "wa_id"));
        if (wa && strcmp(wa, from) == 0)
            json_set_str(cust, "name", json_string_value(json_object_get(
                                           json_object_get(c, "profile"), "name")));
    }
    if (json_array_size(atts) > 0)
        json_object_set_new(item, "attachments", atts);
    else
        json_decref(atts);
}

static int whatsapp_hook(struct hook *h)
{
    if (strcmp(h->req->method, "GET") == 0) {
        const char *mode = http_query(h->req, "hub.mode");
        const char *tok = http_query(h->req, "hub.verify_token");
        const char *challenge = http_query(h->req, "hub.challenge");
        if (mode == NULL || tok == NULL || challenge == NULL || strcmp(mode, "subscribe") != 0)
            return err_set(&h->req->err, ERR_INVALID, "hub.mode", "not a subscription request");
        if (!ct_streq(tok, chan_secret(h->ch, "verify_token")))
            return hook_forbidden(h, "hub.verify_token");
        h->reply_text = arena_strdup(&h->req->arena, challenge);
        return 0;
    }
    const char *sig = http_header(h->req, "X-Hub-Signature-256");
    if (sig == NULL)
        return hook_unauthorized(h, "X-Hub-Signature-256");
    const char *key = chan_secret(h->ch, "app_secret");
    char want[65];
    hmac_sha256_hex(key ? key : "", h->req->body.data ? h->req->body.data : "", h->req->body.len,
                    want);
    if (key == NULL || strncmp(sig, "sha256=", 7) != 0 || !ct_streq(sig + 7, want))
        return hook_forbidden(h, "X-Hub-Signature-256");
    json_t *n;
    int rc = hook_json(h, &n);
    if (rc != 0)
        return rc;
    const char *object = json_string_value(json_object_get(n, "object"));
    if (object == NULL || strcmp(object, "whatsapp_business_account") != 0) {
        log_info("hook channel=whatsapp/%s object=%.40s acknowledged", h->ch->name,
                 object ? object : "none");
        json_decref(n);
        return 0;
    }
    json_t *entries = json_object_get(n, "entry");
    for (size_t i = 0; i < json_array_size(entries); i++) {
        json_t *changes = json_object_get(json_array_get(entries, i), "changes");
        for (size_t k = 0; k < json_array_size(changes); k++) {
            json_t *ch = json_array_get(changes, k);
            const char *field = json_string_value(json_object_get(ch, "field"));
            json_t *v = json_object_get(ch, "value");
            if (field == NULL || strcmp(field, "messages") != 0) {
                log_info("hook channel=whatsapp/%s field=%.40s acknowledged", h->ch->name,
                         field ? field : "none");
                continue;
            }
            json_t *msgs = json_object_get(v, "messages");
            for (size_t m = 0; m < json_array_size(msgs); m++)
                on_message(h, json_array_get(msgs, m), json_object_get(v, "contacts"));
            json_t *sts = json_object_get(v, "statuses");
            for (size_t m = 0; m < json_array_size(sts); m++) {
                json_t *s = json_array_get(sts, m);
                const char *st = json_string_value(json_object_get(s, "status"));
                json_t *err0 = json_array_get(json_object_get(s, "errors"), 0);
                if (st)
                    item_status(h, json_string_value(json_object_get(s, "id")), st, ts_ms(s),
                                json_string_value(json_object_get(err0, "title")));
            }
        }
    }
    json_decref(n);
    return 0;
}

static int whatsapp_send_prepare(struct send *s)
{
    const char *token = chan_secret(s->ch, "access_token");
    const char *phone_id = chan_setting(s->ch, "phone_number_id", NULL);
    if (token == NULL || phone_id == NULL) {
        snprintf(s->error, sizeof s->error, "access_token and phone_number_id must be set");
        return -1;
    }
    send_http(s, arena_printf(s->arena, "%s/%s/%s/messages",
                              chan_setting(s->ch, "api_base", "https://graph.facebook.com"),
                              chan_setting(s->ch, "api_version", "v19.0"), phone_id));
    send_header(s, arena_printf(s->arena, "Authorization: Bearer %s", token));
    json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:{s:b, s:s}}", "messaging_product", "whatsapp",
                          "recipient_type", "individual", "to", s->recipient, "type", "text",
                          "text", "preview_url", 0, "body", s->body);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    send_post(s, "application/json", text, strlen(text));
    free(text);
    return 0;
}

static void whatsapp_send_finish(struct send *s)
{
    json_t *r = send_json(s);
    const char *id = json_string_value(
        json_object_get(json_array_get(json_object_get(r, "messages"), 0), "id"));
    if (s->http_status >= 200 && s->http_status < 300 && id) {
        snprintf(s->external_id, sizeof s->external_id, "%s", id);
        s->result = SEND_OK;
    } else {
        json_t *e = json_object_get(r, "error");
        const char *m = json_string_value(json_object_get(e, "message"));
        snprintf(s->error, sizeof s->error, "HTTP %ld code %lld: %.180s", s->http_status,
                 (long long)json_integer_value(json_object_get(e, "code")), m ? m : "");
        s->result = s->http_status == 429 || s->http_status >= 500 ? SEND_RETRY : SEND_FAIL;
    }
    json_decref(r);
}

static const char *const whatsapp_secrets[] = {"access_token", "app_secret", "verify_token", NULL};

const struct adapter adapter_whatsapp = {
    .name = "whatsapp",
    .channel = "whatsapp",
    .hook = whatsapp_hook,
    .send_prepare = whatsapp_send_prepare,
    .send_finish = whatsapp_send_finish,
    .identity_kind = "whatsapp",
    .required_secrets = whatsapp_secrets,
};
