/*
 * err.c - string codes and HTTP statuses for the ERR_* table.
 */
#include "core/err.h"

#include "core/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *err_str(int code)
{
    switch (code) {
#define X(name, value, str, http)                                                                  \
    case name:                                                                                     \
        return str;
        ERR_TABLE(X)
#undef X
    default:
        return "internal";
    }
}

int err_http_status(int code)
{
    switch (code) {
#define X(name, value, str, http)                                                                  \
    case name:                                                                                     \
        return http;
        ERR_TABLE(X)
#undef X
    default:
        return 500;
    }
}

int err_set(struct err_info *info, int code, const char *field, const char *fmt, ...)
{
    if (info == NULL || info->code != 0)
        return code;
    info->code = code;
    snprintf(info->field, sizeof info->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(info->message, sizeof info->message, fmt, ap);
    va_end(ap);
    /* Quoted input may be cut mid-character; an error must still be valid JSON text. */
    utf8_sanitize(info->message);
    utf8_sanitize(info->field);
    return code;
}

void err_clear(struct err_info *info)
{
    if (info == NULL)
        return;
    info->code = 0;
    info->field[0] = '\0';
    info->message[0] = '\0';
}
