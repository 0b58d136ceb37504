/*
 * json_fast.c - cJSON's parse, admitted by a strict scan, copied into jansson.
 *
 * The scan walks the text once.  It checks that every string holds valid
 * UTF-8 without control characters, and only the escapes JSON has (no
 * "\u0000", surrogates in pairs), that nothing but JSON's whitespace lies
 * outside them below 0x20 and nothing at or above 0x80, and that every
 * number follows JSON's grammar; it notes, in order, whether each number is
 * an integer (no fraction, no exponent: jansson's json_integer) or a real.
 * The structure is left to cJSON, which fails on what JSON forbids there.  The copy then meets the numbers in the
 * same order (a text's order is its tree's pre-order) and takes each one's
 * type from the scan.
 */
#include "core/json_fast.h"

#include "core/str.h"

#include <cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define FAST_MAX_NUMBERS 512
#define FAST_MAX_INT_DIGITS 15 /* every integer of this many digits is exact in a double */

struct scan {
    size_t n_numbers;
    bool is_real[FAST_MAX_NUMBERS];
};

/* The value of the four hex digits at p, or -1. */
static long hex4(const unsigned char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Past the escape at p (a backslash), or NULL when JSON or jansson refuses it. */
static const unsigned char *scan_escape(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 2)
        return NULL;
    if (p[1] != 'u')
        return p[1] != '\0' && strchr("\"\\/bfnrt", p[1]) != NULL ? p + 2 : NULL;
    long cp = end - p >= 6 ? hex4(p + 2) : -1;
    if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return NULL; /* jansson refuses a NUL without JSON_ALLOW_NUL, and a lone low half */
    if (cp < 0xD800 || cp > 0xDBFF)
        return p + 6;
    /* A high surrogate: a low one must follow. */
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
        return NULL;
    long lo = hex4(p + 8);
    return lo >= 0xDC00 && lo <= 0xDFFF ? p + 12 : NULL;
}

/* Past the string whose opening quote is at p, or NULL. */
static const unsigned char *scan_string(const unsigned char *p, const unsigned char *end)
{
    for (p++; p < end;) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            p++;
        } else if (c == '"') {
            return p + 1;
        } else if (c == '\\') {
            if ((p = scan_escape(p, end)) == NULL)
                return NULL;
        } else if (c < 0x20) {
            return NULL;
        } else {
            size_t n = utf8_char_len((const char *)p, (size_t)(end - p));
            if (n == 0)
                return NULL;
            p += n;
        }
    }
    return NULL;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Past the number at p, noted in sc, or NULL when it is not one JSON allows
 * or cJSON would read differently. */
static const unsigned char *scan_number(const unsigned char *p, const unsigned char *end,
                                        struct scan *sc)
{
    const unsigned char *q = p;
    if (*q == '-')
        q++;
    const unsigned char *digits = q;
    if (q < end && *q == '0')
        q++;
    else if (q < end && *q >= '1' && *q <= '9')
        while (q < end && is_digit(*q))
            q++;
    else
        return NULL;
    size_t n_int_digits = (size_t)(q - digits);
    bool is_real = false;
    if (q < end && *q == '.') {
        is_real = true;
        if (++q == end || !is_digit(*q))
            return NULL;
        while (q < end && is_digit(*q))
            q++;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        is_real = true;
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (q == end || !is_digit(*q))
            return NULL;
        while (q < end && is_digit(*q))
            q++;
    }
    /* cJSON takes every character of this set into the number. */
    if (q < end && (is_digit(*q) || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' ||
                    *q == '-'))
        return NULL;
    if ((!is_real && n_int_digits > FAST_MAX_INT_DIGITS) || sc->n_numbers == FAST_MAX_NUMBERS)
        return NULL;
    sc->is_real[sc->n_numbers++] = is_real;
    return q;
}

static bool scan_text(const unsigned char *p, const unsigned char *end, struct scan *sc)
{
    while (p < end) {
        unsigned char c = *p;
        if (c == '"')
            p = scan_string(p, end);
        else if (c == '-' || is_digit(c))
            p = scan_number(p, end, sc);
        else if (c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r'))
            return false; /* cJSON would take any control character for a space */
        else
            p++;
        if (p == NULL)
            return false;
    }
    return true;
}

static json_t *copy(const cJSON *c, const struct scan *sc, size_t *next_number)
{
    switch (c->type & 0xFF) {
    case cJSON_Object: {
        json_t *o = json_object();
        for (const cJSON *k = c->child; k != NULL; k = k->next) {
            json_t *v = copy(k, sc, next_number);
            size_t before = json_object_size(o);
            if (v == NULL || json_object_set_new_nocheck(o, k->string, v) != 0 ||
                json_object_size(o) == before) { /* a duplicate key: jansson refuses it */
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    case cJSON_Array: {
        json_t *a = json_array();
        for (const cJSON *k = c->child; k != NULL; k = k->next) {
            json_t *v = copy(k, sc, next_number);
            if (v == NULL || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case cJSON_String:
        return json_stringn_nocheck(c->valuestring, strlen(c->valuestring));
    case cJSON_Number: {
        if (*next_number >= sc->n_numbers)
            return NULL;
        if (sc->is_real[(*next_number)++])
            return isinf(c->valuedouble) ? NULL : json_real(c->valuedouble);
        return json_integer((json_int_t)c->valuedouble);
    }
    case cJSON_True:
        return json_true();
    case cJSON_False:
        return json_false();
    case cJSON_NULL:
        return json_null();
    default:
        return NULL;
    }
}

/* cJSON notes the place of a failure in a variable of its own, shared by all threads. */
static pthread_mutex_t cjson_mu = PTHREAD_MUTEX_INITIALIZER;

json_t *json_load_fast(const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data, *end = p + len;
    /* An object or an array, whole: then no part of cJSON's reading looks
     * for a value past the end (older cJSONs read a byte past it on "[1,"). */
    const unsigned char *first = p, *last = end;
    while (first < end && (*first == ' ' || *first == '\t' || *first == '\r' || *first == '\n'))
        first++;
    while (last > first && (last[-1] == ' ' || last[-1] == '\t' || last[-1] == '\r' ||
                            last[-1] == '\n'))
        last--;
    if (last - first < 2 || (*first != '{' && *first != '[') ||
        (last[-1] != '}' && last[-1] != ']'))
        return NULL;
    struct scan sc;
    sc.n_numbers = 0;
    if (!scan_text(p, end, &sc))
        return NULL;
    const char *parse_end = NULL;
    pthread_mutex_lock(&cjson_mu);
    cJSON *c = cJSON_ParseWithLengthOpts(data, len, &parse_end, false);
    pthread_mutex_unlock(&cjson_mu);
    if (c == NULL)
        return NULL;
    json_t *j = NULL;
    bool is_whole = parse_end != NULL;
    for (const char *q = parse_end; is_whole && q < data + len; q++)
        is_whole = *q == ' ' || *q == '\t' || *q == '\r' || *q == '\n';
    if (is_whole && (cJSON_IsObject(c) || cJSON_IsArray(c))) {
        size_t next_number = 0;
        j = copy(c, &sc, &next_number);
        if (j != NULL && next_number != sc.n_numbers) {
            json_decref(j);
            j = NULL;
        }
    }
    cJSON_Delete(c);
    return j;
}
