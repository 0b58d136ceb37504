/*
 * err.h - the one table of error codes.
 *
 * A fallible function returns int: 0 for success or a negative ERR_* code.
 * Each code has a stable string (used in API error bodies and CLI messages)
 * and the HTTP status it maps to.  The table is append-only: codes are part
 * of the API contract.  Details (message, field) travel in struct err_info.
 */
#ifndef OTKLIK_ERR_H
#define OTKLIK_ERR_H

#include <stddef.h>

/* X(name, value, code string, http status) */
#define ERR_TABLE(X)                                                                               \
    X(ERR_INVALID, -1, "invalid", 400)                                                             \
    X(ERR_UNAUTHORIZED, -2, "unauthorized", 401)                                                   \
    X(ERR_FORBIDDEN, -3, "forbidden", 403)                                                         \
    X(ERR_NOTFOUND, -4, "not_found", 404)                                                          \
    X(ERR_METHOD, -5, "method_not_allowed", 405)                                                   \
    X(ERR_CONFLICT, -6, "conflict", 409)                                                           \
    X(ERR_TOOBIG, -7, "too_big", 413)                                                              \
    X(ERR_MEDIA_TYPE, -8, "unsupported_media_type", 415)                                           \
    X(ERR_RATE_LIMITED, -9, "rate_limited", 429)                                                   \
    X(ERR_INTERNAL, -10, "internal", 500)                                                          \
    X(ERR_UNAVAILABLE, -11, "unavailable", 503)                                                    \
    X(ERR_IO, -12, "io_error", 500)                                                                \
    X(ERR_CSRF, -13, "csrf", 403)                                                                  \
    X(ERR_VERSION, -14, "version_mismatch", 400)

enum err_code {
#define X(name, value, str, http) name = value,
    ERR_TABLE(X)
#undef X
};

/* Details of the last error, filled by err_set(); owned by the caller. */
struct err_info {
    int code;          /* ERR_* or 0 */
    char field[64];    /* offending input field, "" when none */
    char message[256]; /* human-readable, names what was wrong */
};

/* Stable string code for an ERR_* value ("internal" for unknown values). */
const char *err_str(int code);

/* HTTP status for an ERR_* value (500 for unknown values). */
int err_http_status(int code);

/*
 * Record an error in *info (which may be NULL) and return code, so callers
 * can write `return err_set(info, ERR_INVALID, "phone", "not a phone number");`.
 * The first error recorded wins: later calls keep the earlier details.
 */
int err_set(struct err_info *info, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Forget a recorded error. */
void err_clear(struct err_info *info);

#endif
