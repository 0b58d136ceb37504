/*
 * hooks.c - small pieces every adapter's webhook uses: building normalised
 * items, parsing JSON and form bodies, and refusing unverified calls.
 */
#include "channels/channels_int.h"

#include "core/log.h"
#include "core/str.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void json_set_str(json_t *o, const char *key, const char *s)
{
    if (s != NULL && *s != '\0')
        json_object_set_new(o, key, json_string(s));
}

const char *json_str_or_int(json_t *o, const char *key, char *tmp, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return tmp;
    }
    return NULL;
}

json_t *item_message(struct hook *h, const char *peer, const char *source_id, const char *text)
{
    json_t *req = json_pack("{s:s, s:s, s:o}", "channel", h->ch->ad->channel, "text",
                            text && *text ? text : "", "customer", json_object());
    json_set_str(req, "source_id", source_id);
    json_t *item = json_pack("{s:s, s:s, s:o}", "type", "message", "peer", peer ? peer : "",
                             "request", req);
    json_set_str(item, "source_id", source_id);
    json_array_append_new(h->items, item);
    return item;
}

json_t *item_request(json_t *item)
{
    return json_object_get(item, "request");
}

json_t *item_customer(json_t *item)
{
    return json_object_get(json_object_get(item, "request"), "customer");
}

void item_status(struct hook *h, const char *external_id, const char *status, int64_t at_ms,
                 const char *error)
{
    if (external_id == NULL || *external_id == '\0')
        return;
    /* The source id makes a repeated report of the same state a duplicate. */
    char sid[300];
    snprintf(sid, sizeof sid, "status:%s:%s", external_id, status);
    json_t *item = json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "status", "source_id", sid,
                             "external_id", external_id, "status", status, "at_ms",
                             (json_int_t)at_ms);
    json_set_str(item, "error", error);
    json_array_append_new(h->items, item);
}

int hook_json(struct hook *h, json_t **out)
{
    json_error_t je;
    *out = json_loadb(h->req->body.data ? h->req->body.data : "", h->req->body.len,
                      JSON_REJECT_DUPLICATES, &je);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return err_set(&h->req->err, ERR_INVALID, "", "the body is not a JSON object (%.80s)",
                       je.text);
    }
    return 0;
}

int hook_unauthorized(struct hook *h, const char *what)
{
    log_warn("hook channel=%s/%s refused=missing-%s", h->ch->adapter, h->ch->name, what);
    return err_set(&h->req->err, ERR_UNAUTHORIZED, "", "missing %s", what);
}

int hook_forbidden(struct hook *h, const char *what)
{
    log_warn("hook channel=%s/%s refused=wrong-%s", h->ch->adapter, h->ch->name, what);
    return err_set(&h->req->err, ERR_FORBIDDEN, "", "wrong %s", what);
}

int hook_bearer(struct hook *h, const char *key)
{
    const char *auth = http_header(h->req, "Authorization");
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
        return hook_unauthorized(h, "Authorization: Bearer token");
    if (!ct_streq(auth + 7, chan_secret(h->ch, key)))
        return hook_forbidden(h, "token");
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode one form component (+ is a space, %XX a byte) into a new string. */
static char *form_decode(const char *s, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+')
            out[n++] = ' ';
        else if (s[i] == '%' && i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
                 hexval((unsigned char)s[i + 2]) >= 0) {
            out[n++] = (char)(hexval((unsigned char)s[i + 1]) * 16 +
                              hexval((unsigned char)s[i + 2]));
            i += 2;
        } else
            out[n++] = s[i];
    }
    out[n] = '\0';
    return out;
}

json_t *form_parse(const char *s, size_t len)
{
    json_t *o = json_object();
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && s[eq] != '=')
            eq++;
        if (eq > i) {
            char *k = form_decode(s + i, eq - i);
            char *v = form_decode(s + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0);
            if (!utf8_valid(v, strlen(v)))
                utf8_sanitize(v);
            size_t kl = strlen(k);
            /* "data[]" and "data[0]" collect into an array under "data".  A key
             * that is not UTF-8 cannot be a JSON member name: it is skipped. */
            char *br = strchr(k, '[');
            if (!utf8_valid(k, kl)) {
                /* nothing to keep */
            } else if (br && kl > 0 && k[kl - 1] == ']') {
                *br = '\0';
                json_t *arr = json_object_get(o, k);
                if (!json_is_array(arr)) {
                    arr = json_array();
                    json_object_set_new(o, k, arr);
                }
                json_array_append_new(arr, json_string(v));
            } else {
                json_object_set_new(o, k, json_string(v));
            }
            free(k);
            free(v);
        }
        i = end + 1;
    }
    return o;
}

void form_put(struct buf *b, const char *key, const char *value, bool first)
{
    if (!first)
        buf_putc(b, '&');
    for (int pass = 0; pass < 2; pass++) {
        const unsigned char *p = (const unsigned char *)(pass == 0 ? key : value);
        for (; *p; p++) {
            if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
                buf_putc(b, (char)*p);
            else
                buf_printf(b, "%%%02X", *p);
        }
        if (pass == 0)
            buf_putc(b, '=');
    }
}
