/*
 * buf.h - a growable output buffer with a hard cap and a sticky error.
 *
 * Writers append without checking; once the cap would be exceeded the buffer
 * stops growing, sets `failed`, and ignores further writes.  The caller checks
 * once at the end (buf_error() returns ERR_TOOBIG).  data is always
 * NUL-terminated when len > 0 or after buf_cstr().
 */
#ifndef OTKLIK_BUF_H
#define OTKLIK_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;    /* owned, heap */
    size_t len;    /* bytes written */
    size_t cap;    /* bytes allocated */
    size_t max;    /* hard cap on len, bytes; 0 means 64 MiB */
    bool failed;   /* a write did not fit under max */
};

/* An empty buffer that may grow to max bytes (0: 64 MiB). */
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Empty the buffer (keeps its memory) and clear the error. */
void buf_reset(struct buf *b);

void buf_put(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append v in decimal (no printf: for hot paths). */
void buf_put_i64(struct buf *b, int64_t v);
/* v with exactly `places` (0..9) digits after the point, as "%.*f" writes it,
 * except that v * 10^places is rounded half away from zero: a v within a
 * rounding error of a decimal tie (0.87345) may end one digit off printf.
 * NaN, infinities and values past 2^53 / 10^places go through printf. */
void buf_put_fixed(struct buf *b, double v, int places);

/* Append s as a JSON string literal (quoted, escaped); NULL appends null. */
void buf_put_json_str(struct buf *b, const char *s);

/* 0, or ERR_TOOBIG when a write was dropped. */
int buf_error(const struct buf *b);

/* The contents as a C string ("" when empty); owned by the buffer. */
const char *buf_cstr(struct buf *b);

/* Take ownership of the data (caller frees); the buffer becomes empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
