/*
 * str.h - slices, bounded number parsing, UTF-8 checks and RFC 3339 time.
 *
 * Input is a slice {ptr, len} and never assumed NUL-terminated.  Numbers are
 * parsed with explicit bounds.  Times are Unix milliseconds (int64_t *_ms).
 */
#ifndef OTKLIK_STR_H
#define OTKLIK_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct str {
    const char *ptr;
    size_t len;
};

#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})

struct str str_from(const char *s);
bool str_eq(struct str a, const char *b);
bool str_has_prefix(struct str s, const char *prefix);

/* Parse a whole slice as a decimal integer in [min, max]; ERR_INVALID otherwise. */
int str_to_i64(struct str s, int64_t min, int64_t max, int64_t *out);

/* Copy src into dst of cap bytes (cap > 0), cut to fit, always terminated;
 * returns the bytes copied.  A bounded copy without printf's cost. */
size_t str_copy(char *dst, size_t cap, const char *src);

/* v in decimal into out (terminated); returns its length (at most 20). */
#define I64_DEC_MAX 21
size_t i64_format(int64_t v, char out[I64_DEC_MAX]);

/* Parse a whole slice as a finite decimal number in [min, max]. */
int str_to_double(struct str s, double min, double max, double *out);

/* True when s is well-formed UTF-8 with no NUL bytes. */
bool utf8_valid(const char *s, size_t len);
/* The length of the valid UTF-8 character at s (of len bytes at most), or 0
 * when s starts no valid one (a NUL, an overlong form, a surrogate, ...). */
size_t utf8_char_len(const char *s, size_t len);

/* Replace every byte that is not part of well-formed UTF-8 with '?', in place. */
void utf8_sanitize(char *s);

/* Number of code points in well-formed UTF-8. */
size_t utf8_length(const char *s, size_t len);

/*
 * Parse RFC 3339 ("2024-05-10T17:30:00Z", "...+03:00", optional fraction)
 * into Unix milliseconds.  ERR_INVALID on anything else.
 */
int time_parse_rfc3339(struct str s, int64_t *out_ms);

/* Format Unix ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (at least 32 bytes). */
void time_format_rfc3339(int64_t ms, char *out, size_t cap);

/* Days since 1970-01-01 for a proleptic Gregorian date. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

/* Inverse of days_from_civil. */
void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);

#endif
