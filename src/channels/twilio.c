/*
 * twilio.c - Twilio Programmable Messaging (the international SMS gateway).
 * In: application/x-www-form-urlencoded webhooks signed with
 * X-Twilio-Signature = base64(HMAC-SHA1(auth token, URL + every POST
 * parameter name and value, sorted by name)).  An incoming message
 * (MessageSid, From, To, Body, NumMedia, MediaUrlN) becomes intake with the
 * sender's phone; a status callback (MessageSid + MessageStatus) is a
 * delivery report.  The answer is empty TwiML.  Out: POST
 * {api_base}/2010-04-01/Accounts/{AccountSid}/Messages.json (To, From,
 * Body) with HTTP basic auth.
 *
 * Secrets: account_sid, auth_token.  Settings: from (our number or
 * messaging service), public_url (the webhook URL exactly as configured at
 * Twilio; default http://<Host><path>), api_base (https://api.twilio.com).
 */
#include "channels/channels_int.h"

#include "core/log.h"
#include "core/str.h"

#include <glib.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void twilio_signature(const char *token, const char *url, json_t *form, char *out,
                             size_t cap)
{
    size_t n = json_object_size(form), i = 0;
    const char **keys = xcalloc(n + 1, sizeof *keys);
    const char *k;
    json_t *v;
    json_object_foreach(form, k, v)
    {
        (void)v;
        keys[i++] = k;
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    GHmac *hm = g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)token, strlen(token));
    g_hmac_update(hm, (const guchar *)url, (gssize)strlen(url));
    for (i = 0; i < n; i++) {
        const char *val = json_string_value(json_object_get(form, keys[i]));
        g_hmac_update(hm, (const guchar *)keys[i], (gssize)strlen(keys[i]));
        g_hmac_update(hm, (const guchar *)(val ? val : ""), (gssize)strlen(val ? val : ""));
    }
    guint8 digest[20];
    gsize dlen = sizeof digest;
    g_hmac_get_digest(hm, digest, &dlen);
    g_hmac_unref(hm);
    sodium_bin2base64(out, cap, digest, dlen, sodium_base64_VARIANT_ORIGINAL);
    free(keys);
}

static int twilio_hook(struct hook *h)
{
    if (strcmp(h->req->method, "POST") != 0)
        return err_set(&h->req->err, ERR_METHOD, "", "Twilio webhooks are POST here");
    const char *sig = http_header(h->req, "X-Twilio-Signature");
    if (sig == NULL)
        return hook_unauthorized(h, "X-Twilio-Signature");
    json_t *form = form_parse(h->req->body.data ? h->req->body.data : "", h->req->body.len);
    const char *url = chan_setting(h->ch, "public_url", NULL);
    if (url == NULL) {
        const char *host = http_header(h->req, "Host");
        url = arena_printf(&h->req->arena, "http://%s%s", host ? host : "", h->req->path);
    }
    char want[64];
    const char *token = chan_secret(h->ch, "auth_token");
    twilio_signature(token ? token : "", url, form, want, sizeof want);
    int rc = 0;
    if (token == NULL || !ct_streq(sig, want)) {
        rc = hook_forbidden(h, "X-Twilio-Signature");
        goto out;
    }
    h->reply_text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";
    h->reply_type = "text/xml";
    const char *sid = json_string_value(json_object_get(form, "MessageSid"));
    const char *status = json_string_value(json_object_get(form, "MessageStatus"));
    const char *body = json_string_value(json_object_get(form, "Body"));
    const char *from = json_string_value(json_object_get(form, "From"));
    if (sid == NULL) {
        rc = err_set(&h->req->err, ERR_INVALID, "MessageSid", "MessageSid is required");
    } else if (status && strcmp(status, "received") != 0 && body == NULL) {
        static const char *const map[][2] = {{"sent", "sent"},         {"delivered", "delivered"},
                                             {"read", "read"},         {"failed", "failed"},
                                             {"undelivered", "failed"}, {NULL, NULL}};
        for (int i = 0; map[i][0]; i++)
            if (strcmp(status, map[i][0]) == 0)
                item_status(h, sid, map[i][1], 0,
                            json_string_value(json_object_get(form, "ErrorCode")));
    } else if (from) {
        char src[80];
        snprintf(src, sizeof src, "tw:%s", sid);
        json_t *item = item_message(h, from, src, body && *body ? body : "[MMS]");
        json_object_set_new(item_customer(item), "phone", json_string(from));
        int64_t n_media = 0;
        const char *nm = json_string_value(json_object_get(form, "NumMedia"));
        if (nm)
            str_to_i64(str_from(nm), 0, 10, &n_media);
        json_t *atts = json_array();
        for (int64_t i = 0; i < n_media; i++) {
            char k1[32], k2[40];
            snprintf(k1, sizeof k1, "MediaUrl%lld", (long long)i);
            snprintf(k2, sizeof k2, "MediaContentType%lld", (long long)i);
            json_t *a = json_pack("{s:s}", "type", "media");
            json_set_str(a, "url", json_string_value(json_object_get(form, k1)));
            json_set_str(a, "mime", json_string_value(json_object_get(form, k2)));
            json_array_append_new(atts, a);
        }
        if (json_array_size(atts))
            json_object_set_new(item, "attachments", atts);
        else
            json_decref(atts);
    } else {
        log_info("hook channel=twilio/%s ignored=no-sender", h->ch->name);
    }
out:
    json_decref(form);
    return rc;
}

static int twilio_send_prepare(struct send *s)
{
    const char *account = chan_secret(s->ch, "account_sid");
    const char *token = chan_secret(s->ch, "auth_token");
    const char *from = chan_setting(s->ch, "from", NULL);
    if (account == NULL || token == NULL || from == NULL) {
        snprintf(s->error, sizeof s->error, "account_sid, auth_token and from must be set");
        return -1;
    }
    send_http(s, arena_printf(s->arena, "%s/2010-04-01/Accounts/%s/Messages.json",
                              chan_setting(s->ch, "api_base", "https://api.twilio.com"), account));
    curl_easy_setopt(s->curl, CURLOPT_USERNAME, account);
    curl_easy_setopt(s->curl, CURLOPT_PASSWORD, token);
    struct buf b;
    buf_init(&b, 1 << 20);
    form_put(&b, "To", s->recipient, true);
    form_put(&b, "From", from, false);
    form_put(&b, "Body", s->body, false);
    send_post(s, "application/x-www-form-urlencoded", buf_cstr(&b), b.len);
    buf_free(&b);
    return 0;
}

static void twilio_send_finish(struct send *s)
{
    json_t *r = send_json(s);
    const char *sid = json_string_value(json_object_get(r, "sid"));
    if (s->http_status >= 200 && s->http_status < 300 && sid) {
        snprintf(s->external_id, sizeof s->external_id, "%s", sid);
        s->result = SEND_OK;
    } else {
        const char *m = json_string_value(json_object_get(r, "message"));
        snprintf(s->error, sizeof s->error, "HTTP %ld code %lld: %.180s", s->http_status,
                 (long long)json_integer_value(json_object_get(r, "code")), m ? m : "");
        s->result = s->http_status == 429 || s->http_status >= 500 ? SEND_RETRY : SEND_FAIL;
    }
    json_decref(r);
}

static const char *const twilio_secrets[] = {"account_sid", "auth_token", NULL};

const struct adapter adapter_twilio = {
    .name = "twilio",
    .channel = "sms",
    .hook = twilio_hook,
    .send_prepare = twilio_send_prepare,
    .send_finish = twilio_send_finish,
    .identity_kind = "phone",
    .required_secrets = twilio_secrets,
};
