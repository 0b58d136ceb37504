/*
 * buf.c - capped growable buffer.
 */
#include "core/buf.h"

#include "core/err.h"
#include "core/mem.h"
#include "core/str.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : BUF_DEFAULT_MAX;
    b->failed = false;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

/* Make room for extra bytes plus a NUL; false (and failed) when over max. */
static bool reserve(struct buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra > b->max - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    return true;
}

void buf_put(struct buf *b, const void *data, size_t len)
{
    if (!reserve(b, len))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
    buf_put(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    /* Format once into the room there is; only what does not fit is formatted again. */
    size_t left = b->max - b->len;
    if (!reserve(b, left < 64 ? left : 64))
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= room && reserve(b, (size_t)n)) {
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    } else if (n >= 0 && (size_t)n > left) {
        b->failed = true;
    }
    if (n < 0 || b->failed) {
        b->data[b->len] = '\0'; /* what was formatted past the end is dropped */
        return;
    }
    b->len += (size_t)n;
}

void buf_put_i64(struct buf *b, int64_t v)
{
    char tmp[I64_DEC_MAX];
    size_t n = i64_format(v, tmp);
    buf_put(b, tmp, n);
}

void buf_put_fixed(struct buf *b, double v, int places)
{
    static const int64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                    100000000, 1000000000};
    if (places < 0 || places > 9) {
        buf_printf(b, "%.*f", places < 0 ? 0 : 9, v);
        return;
    }
    double sv = fabs(v) * (double)pow10[places];
    if (!(sv < 9007199254740992.0)) { /* past 2^53, where a double skips integers; NaN */
        buf_printf(b, "%.*f", places, v);
        return;
    }
    int64_t scaled = llround(sv);
    int64_t whole = scaled / pow10[places], frac = scaled % pow10[places];
    if (signbit(v)) /* as printf: also -0 and what rounds to it */
        buf_putc(b, '-');
    buf_put_i64(b, whole);
    if (places == 0)
        return;
    char digits[10];
    for (int i = places - 1; i >= 0; i--) {
        digits[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    buf_putc(b, '.');
    buf_put(b, digits, (size_t)places);
}

int buf_error(const struct buf *b)
{
    return b->failed ? ERR_TOOBIG : 0;
}

const char *buf_cstr(struct buf *b)
{
    return b->data ? b->data : "";
}

char *buf_steal(struct buf *b, size_t *len)
{
    char *p = b->data ? b->data : xstrdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void buf_put_json_str(struct buf *b, const char *s)
{
    if (s == NULL) {
        buf_puts(b, "null");
        return;
    }
    buf_putc(b, '"');
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_put(b, run, (size_t)(p - run));
        run = p + 1;
        switch (c) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        default:
            buf_printf(b, "\\u%04x", c);
        }
    }
    buf_puts(b, run);
    buf_putc(b, '"');
}
