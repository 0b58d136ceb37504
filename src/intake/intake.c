/*
 * intake.c - validation and normalisation of incoming requests.
 */
#include "intake/intake.h"

#include "classify/text.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/str.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int intake_phone_normalise(const char *s, char out[17])
{
    char digits[20];
    size_t n = 0;
    bool plus = false;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n >= 16)
                return ERR_INVALID;
            digits[n++] = *p;
        } else if (*p == '+' && n == 0 && !plus) {
            plus = true;
        } else if (*p != ' ' && *p != '-' && *p != '(' && *p != ')' && *p != '.') {
            return ERR_INVALID;
        }
    }
    digits[n] = '\0';
    /* Russian domestic numbers: 8XXXXXXXXXX, 7XXXXXXXXXX, or 10 digits starting with 9. */
    if (!plus && n == 11 && (digits[0] == '8' || digits[0] == '7')) {
        out[0] = '+';
        out[1] = '7';
        memcpy(out + 2, digits + 1, 10);
        out[12] = '\0';
        return 0;
    }
    if (!plus && n == 10 && digits[0] == '9') {
        out[0] = '+';
        out[1] = '7';
        memcpy(out + 2, digits, 10);
        out[12] = '\0';
        return 0;
    }
    if (!plus)
        return ERR_INVALID;
    /* E.164: up to 15 digits, no leading zero; +7 numbers have exactly 11 digits. */
    if (n < 8 || n > 15 || digits[0] == '0' || (digits[0] == '7' && n != 11))
        return ERR_INVALID;
    out[0] = '+';
    memcpy(out + 1, digits, n + 1);
    return 0;
}

int intake_email_normalise(const char *s, char *out, size_t cap)
{
    size_t len = strlen(s);
    if (len < 3 || len >= cap || len > 254)
        return ERR_INVALID;
    const char *at = strchr(s, '@');
    if (at == NULL || at == s || strchr(at + 1, '@') != NULL || at[1] == '\0')
        return ERR_INVALID;
    const char *dot = strrchr(at + 1, '.');
    if (dot == NULL || dot == at + 1 || dot[1] == '\0')
        return ERR_INVALID;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '<' || c == '>' || c == ',' || c == ';' || c == '"')
            return ERR_INVALID;
        out[i] = (char)(c < 0x80 ? tolower(c) : c);
    }
    out[len] = '\0';
    return 0;
}

int intake_opt_string(const json_t *obj, const char *key, size_t max_chars, struct arena *a,
                      const char **out, struct err_info *err)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(err, ERR_INVALID, key, "%s must be a string", key);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    /* jansson accepts \u0000 escapes; a NUL inside text is never valid here. */
    if (strlen(s) != len)
        return err_set(err, ERR_INVALID, key, "%s contains a NUL character", key);
    if (!utf8_valid(s, len))
        return err_set(err, ERR_INVALID, key, "%s is not valid UTF-8", key);
    if (utf8_length(s, len) > max_chars)
        return err_set(err, ERR_INVALID, key, "%s is longer than %zu characters", key, max_chars);
    /* Trim surrounding white space; an all-blank value counts as absent. */
    size_t b = 0, e = len;
    while (b < e && isspace((unsigned char)s[b]))
        b++;
    while (e > b && isspace((unsigned char)s[e - 1]))
        e--;
    if (b == e)
        return 0;
    *out = arena_strndup(a, s + b, e - b);
    return 0;
}

int intake_req_string(const json_t *obj, const char *key, size_t max_chars, struct arena *a,
                      const char **out, struct err_info *err)
{
    int rc = intake_opt_string(obj, key, max_chars, a, out, err);
    if (rc == 0 && *out == NULL)
        return err_set(err, ERR_INVALID, key, "%s is required", key);
    return rc;
}

int intake_opt_time(const json_t *obj, const char *key, int64_t *out_ms, struct err_info *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) ||
        time_parse_rfc3339((struct str){json_string_value(v), json_string_length(v)}, out_ms) != 0)
        return err_set(err, ERR_INVALID, key,
                       "%s must be an RFC 3339 time like 2024-05-10T17:30:00Z", key);
    /* Nothing a retail chain keeps predates 2000 or lies past 2100: such a time
     * is a typo or a zero date, and would skew SLA clocks and every report. */
    if (*out_ms < INTAKE_MIN_TIME_MS || *out_ms >= INTAKE_MAX_TIME_MS) {
        *out_ms = 0;
        return err_set(err, ERR_INVALID, key, "%s must lie between 2000 and 2100", key);
    }
    return 0;
}

int intake_opt_money(const json_t *obj, const char *key, int64_t *out_kop, struct err_info *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return err_set(err, ERR_INVALID, key, "%s must be a number", key);
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0 || x > 1e10)
        return err_set(err, ERR_INVALID, key, "%s is out of range", key);
    *out_kop = (int64_t)llround(x * 100.0);
    return 0;
}

int intake_opt_enum(const json_t *obj, const char *key, const char *const *values,
                    const char **out, struct err_info *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(err, ERR_INVALID, key, "%s must be a string", key);
    int i = model_find(values, json_string_value(v));
    if (i < 0) {
        char list[400];
        size_t n = 0;
        for (int k = 0; values[k] && n < sizeof list - 40; k++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", k ? ", " : "", values[k]);
        return err_set(err, ERR_INVALID, key, "unknown %s '%.40s' (one of: %s)", key,
                       json_string_value(v), list);
    }
    *out = values[i];
    return 0;
}

/* A request's customer object holds identities, a name and a tier, nothing
 * else: a misspelt key ("phone_number") would drop an identity unseen. */
static int customer_check_keys(const json_t *obj, struct err_info *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool known = strcmp(key, "name") == 0 || strcmp(key, "tier") == 0;
        for (int i = 0; !known && model_identity_kinds[i].field; i++)
            known = strcmp(key, model_identity_kinds[i].field) == 0;
        if (!known)
            return err_set(err, ERR_INVALID, "customer", "unknown customer field '%.40s'", key);
    }
    return 0;
}

int intake_customer_parse(const json_t *obj, const char *field_prefix, struct arena *a,
                          struct customer_in *c, struct err_info *err)
{
    memset(c, 0, sizeof *c);
    if (obj == NULL || json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return err_set(err, ERR_INVALID, field_prefix, "%s must be an object", field_prefix);
    int rc;
    for (int i = 0; model_identity_kinds[i].field; i++) {
        const char *field = model_identity_kinds[i].field;
        const char *v = NULL;
        struct err_info sub = {0};
        if ((rc = intake_opt_string(obj, field, 254, a, &v, &sub)) != 0)
            return err_set(err, rc, arena_printf(a, "%s.%s", field_prefix, field), "%s",
                           sub.message);
        if (v == NULL)
            continue;
        if (strcmp(field, "phone") == 0) {
            char e164[17];
            if (intake_phone_normalise(v, e164) != 0)
                return err_set(err, ERR_INVALID, arena_printf(a, "%s.phone", field_prefix),
                               "'%.40s' is not a phone number", v);
            v = arena_strdup(a, e164);
        } else if (strcmp(field, "email") == 0) {
            char norm[256];
            if (intake_email_normalise(v, norm, sizeof norm) != 0)
                return err_set(err, ERR_INVALID, arena_printf(a, "%s.email", field_prefix),
                               "'%.60s' is not an e-mail address", v);
            v = arena_strdup(a, norm);
        } else if (strcmp(field, "card") == 0) {
            for (const char *p = v; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '-')
                    return err_set(err, ERR_INVALID, arena_printf(a, "%s.card", field_prefix),
                                   "a loyalty card number has only letters, digits and '-'");
        }
        c->ids[i] = v;
    }
    struct err_info sub = {0};
    if ((rc = intake_opt_string(obj, "name", INTAKE_MAX_NAME, a, &c->name, &sub)) != 0 ||
        (rc = intake_opt_enum(obj, "tier", model_tiers, &c->tier, &sub)) != 0)
        return err_set(err, rc, arena_printf(a, "%s.%s", field_prefix, sub.field), "%s",
                       sub.message);
    return 0;
}

static int parse_replies(const json_t *obj, struct arena *a, struct request_in *r,
                         struct err_info *err)
{
    json_t *arr = json_object_get(obj, "replies");
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > 100)
        return err_set(err, ERR_INVALID, "replies", "replies must be an array of at most 100");
    size_t n = json_array_size(arr);
    struct reply_in *rs = arena_alloc(a, n * sizeof *rs + 1);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        int rc;
        if (!json_is_object(e))
            return err_set(err, ERR_INVALID, "replies", "each reply is an object");
        if ((rc = intake_req_string(e, "text", INTAKE_MAX_TEXT, a, &rs[i].text, err)) != 0 ||
            (rc = intake_opt_time(e, "at", &rs[i].at_ms, err)) != 0)
            return rc;
    }
    r->replies = rs;
    r->n_replies = n;
    return 0;
}

int intake_request_parse(const json_t *obj, bool is_import, struct arena *a,
                         struct request_in *r, struct err_info *err)
{
    memset(r, 0, sizeof *r);
    if (!json_is_object(obj))
        return err_set(err, ERR_INVALID, "", "the request must be a JSON object");
    int rc;
    if ((rc = intake_opt_enum(obj, "channel", model_channels, &r->channel, err)) != 0)
        return rc;
    if (r->channel == NULL)
        return err_set(err, ERR_INVALID, "channel", "channel is required");
    if ((rc = intake_opt_string(obj, "source_id", INTAKE_MAX_SOURCE_ID, a, &r->source_id, err)) ||
        (rc = intake_opt_string(obj, "store", 64, a, &r->store_code, err)) ||
        (rc = intake_opt_string(obj, "order", 128, a, &r->order_ref, err)) ||
        (rc = intake_opt_string(obj, "subject", INTAKE_MAX_SUBJECT, a, &r->subject, err)) ||
        (rc = intake_req_string(obj, "text", INTAKE_MAX_TEXT, a, &r->text, err)) ||
        (rc = intake_opt_enum(obj, "kind", model_kinds, &r->kind, err)) ||
        (rc = intake_opt_time(obj, "created_at", &r->created_at_ms, err)))
        return rc;
    if (json_object_get(obj, "customer") && !json_is_null(json_object_get(obj, "customer")) &&
        !json_is_object(json_object_get(obj, "customer")))
        return err_set(err, ERR_INVALID, "customer", "customer must be an object");
    if ((rc = intake_customer_parse(json_object_get(obj, "customer"), "customer", a,
                                    &r->customer, err)) != 0)
        return rc;
    if ((rc = customer_check_keys(json_object_get(obj, "customer"), err)) != 0)
        return rc;
    if (r->kind == NULL)
        r->kind = strcmp(r->channel, "qr") == 0         ? "signal"
                  : strcmp(r->channel, "internal") == 0 ? "internal"
                  : strcmp(r->channel, "review") == 0   ? "review"
                                                        : "complaint";
    /* A created_at from the future would corrupt SLA clocks; allow small clock skew. */
    if (r->created_at_ms > 0 && !is_import) {
        if (r->created_at_ms > clock_now_ms() + 5 * 60 * 1000)
            return err_set(err, ERR_INVALID, "created_at", "created_at is in the future");
    }
    if (is_import) {
        if ((rc = intake_opt_enum(obj, "status", model_statuses, &r->status, err)) ||
            (rc = intake_opt_enum(obj, "priority", model_priorities, &r->priority, err)) ||
            (rc = intake_opt_enum(obj, "topic", model_topics, &r->topic, err)) ||
            (rc = intake_opt_enum(obj, "sentiment", model_sentiments, &r->sentiment, err)) ||
            (rc = intake_opt_time(obj, "first_response_at", &r->first_response_at_ms, err)) ||
            (rc = intake_opt_time(obj, "solved_at", &r->solved_at_ms, err)) ||
            (rc = intake_opt_time(obj, "closed_at", &r->closed_at_ms, err)) ||
            (rc = parse_replies(obj, a, r, err)))
            return rc;
        if (r->topic)
            r->topic_confidence = 1.0;
        if (r->sentiment)
            r->sentiment_confidence = 1.0;
    }
    struct buf terms;
    buf_init(&terms, 256 * 1024);
    if (r->subject) {
        text_search_terms(r->subject, strlen(r->subject), &terms);
        buf_putc(&terms, ' ');
    }
    text_search_terms(r->text, strlen(r->text), &terms);
    r->search_terms = arena_strndup(a, buf_cstr(&terms), terms.len);
    buf_free(&terms);
    return 0;
}
