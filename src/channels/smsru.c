/*
 * smsru.c - SMS.ru, the Russian SMS gateway.  Out: POST {api_base}/sms/send
 * (api_id, to, msg, json=1); the JSON answer names the sms_id per number,
 * and its status codes say what to retry (220 service unavailable, 500).
 * In: SMS.ru's callback, a form POST of `data[]` records, each several
 * lines: the record type first, then its fields.  "sms_status" (sms_id,
 * status code: 103 delivered, 110 read, 104-108/150 not delivered) is a
 * delivery report; "callback_receive_sms" (sms_id, sender phone, text,
 * unix time) is an incoming SMS.  The handler answers "100".  SMS.ru signs
 * nothing, so the callback URL registered there carries a key:
 * /hooks/smsru/<name>?key=<callback_key>, compared in constant time.
 *
 * Secrets: api_id, callback_key.  Settings: from (an approved sender name),
 * api_base (https://sms.ru), timeout_ms, retry_base_ms.
 */
#include "channels/channels_int.h"

#include "core/log.h"
#include "core/str.h"

#include <stdio.h>
#include <string.h>

/* Split a record into at most max lines (in place); returns the count. */
static int lines(char *s, char **out, int max)
{
    int n = 0;
    while (s && n < max) {
        out[n++] = s;
        char *nl = strchr(s, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        if (nl > s && nl[-1] == '\r')
            nl[-1] = '\0';
        s = nl + 1;
    }
    return n;
}

static int smsru_hook(struct hook *h)
{
    if (strcmp(h->req->method, "POST") != 0)
        return err_set(&h->req->err, ERR_METHOD, "", "SMS.ru callbacks are POST");
    const char *key = http_query(h->req, "key");
    if (key == NULL)
        return hook_unauthorized(h, "key");
    if (!ct_streq(key, chan_secret(h->ch, "callback_key")))
        return hook_forbidden(h, "key");
    json_t *form = form_parse(h->req->body.data ? h->req->body.data : "", h->req->body.len);
    json_t *data = json_object_get(form, "data");
    h->reply_text = "100";
    for (size_t i = 0; i < json_array_size(data); i++) {
        char *rec = arena_strdup(&h->req->arena, json_string_value(json_array_get(data, i)));
        char *f[6];
        int n = lines(rec, f, 6);
        if (n >= 3 && strcmp(f[0], "sms_status") == 0) {
            int64_t code = 0;
            str_to_i64(str_from(f[2]), -10, 10000, &code);
            const char *st = code == 103 ? "delivered"
                             : code == 110 ? "read"
                             : (code >= 104 && code <= 108) || code == 150 ? "failed"
                                                                            : NULL;
            if (st)
                item_status(h, f[1], st, 0, strcmp(st, "failed") == 0 ? f[2] : NULL);
        } else if (n >= 4 && strcmp(f[0], "callback_receive_sms") == 0) {
            char sid[80], phone[40];
            snprintf(sid, sizeof sid, "smsru:%s", f[1]);
            snprintf(phone, sizeof phone, "%s%s", f[2][0] == '+' ? "" : "+", f[2]);
            json_t *item = item_message(h, phone, sid, f[3]);
            json_object_set_new(item_customer(item), "phone", json_string(phone));
            int64_t t = 0;
            if (n >= 5 && str_to_i64(str_from(f[4]), 1, INT64_MAX / 1000, &t) == 0) {
                char ts[40];
                time_format_rfc3339(t * 1000, ts, sizeof ts);
                json_object_set_new(item_request(item), "created_at", json_string(ts));
            }
        } else {
            log_info("hook channel=smsru/%s record=%.30s acknowledged", h->ch->name,
                     n > 0 ? f[0] : "empty");
        }
    }
    json_decref(form);
    return 0;
}

static int smsru_send_prepare(struct send *s)
{
    const char *api_id = chan_secret(s->ch, "api_id");
    if (api_id == NULL) {
        snprintf(s->error, sizeof s->error, "api_id is not set");
        return -1;
    }
    send_http(s, arena_printf(s->arena, "%s/sms/send",
                              chan_setting(s->ch, "api_base", "https://sms.ru")));
    struct buf b;
    buf_init(&b, 1 << 20);
    /* SMS.ru takes numbers as digits without the plus. */
    const char *to = s->recipient[0] == '+' ? s->recipient + 1 : s->recipient;
    form_put(&b, "api_id", api_id, true);
    form_put(&b, "to", to, false);
    form_put(&b, "msg", s->body, false);
    form_put(&b, "json", "1", false);
    const char *from = chan_setting(s->ch, "from", NULL);
    if (from)
        form_put(&b, "from", from, false);
    send_post(s, "application/x-www-form-urlencoded", buf_cstr(&b), b.len);
    buf_free(&b);
    return 0;
}

static void smsru_send_finish(struct send *s)
{
    json_t *r = send_json(s);
    const char *status = json_string_value(json_object_get(r, "status"));
    json_int_t code = json_integer_value(json_object_get(r, "status_code"));
    json_t *per = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(r, "sms"), k, v)
    {
        (void)k;
        per = v; /* one recipient per send */
    }
    const char *per_status = json_string_value(json_object_get(per, "status"));
    if (s->http_status == 200 && status && strcmp(status, "OK") == 0 && per_status &&
        strcmp(per_status, "OK") == 0) {
        char tmp[64];
        const char *id = json_str_or_int(per, "sms_id", tmp, sizeof tmp);
        snprintf(s->external_id, sizeof s->external_id, "%s", id ? id : "");
        s->result = SEND_OK;
    } else {
        if (per && json_is_integer(json_object_get(per, "status_code")))
            code = json_integer_value(json_object_get(per, "status_code"));
        const char *t = json_string_value(json_object_get(per ? per : r, "status_text"));
        snprintf(s->error, sizeof s->error, "SMS.ru %lld: %.180s", (long long)code, t ? t : "");
        s->result = code == 220 || code == 500 || s->http_status >= 500 ? SEND_RETRY : SEND_FAIL;
    }
    json_decref(r);
}

static const char *const smsru_secrets[] = {"api_id", "callback_key", NULL};

const struct adapter adapter_smsru = {
    .name = "smsru",
    .channel = "sms",
    .hook = smsru_hook,
    .send_prepare = smsru_send_prepare,
    .send_finish = smsru_send_finish,
    .identity_kind = "phone",
    .required_secrets = smsru_secrets,
};
