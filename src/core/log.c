/*
 * log.c - one line per event on stderr, written with a single write(2) so
 * lines from different threads never interleave.
 */
#include "core/log.h"

#include "core/clock.h"
#include "core/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum log_level log_min_level = LOG_INFO;

static _Thread_local uint64_t request_id;

int log_level_parse(const char *name)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void log_set_request_id(uint64_t id)
{
    request_id = id;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    char line[2048];
    char ts[40];
    time_format_rfc3339(clock_now_ms(), ts, sizeof ts);
    int n = snprintf(line, sizeof line, "%s %s ", ts, names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
    if (len > sizeof line - 40)
        len = sizeof line - 40;
    if (request_id != 0)
        len += (size_t)snprintf(line + len, sizeof line - len, " req=%llu",
                                (unsigned long long)request_id);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
