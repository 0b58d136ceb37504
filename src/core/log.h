/*
 * log.h - structured one-line logs: `ts level key=value ...`.
 *
 * The level is checked before arguments are evaluated.  A thread-local
 * request id, when set, is appended as req=<id>.  Secrets are never passed
 * to these functions.
 */
#ifndef OTKLIK_LOG_H
#define OTKLIK_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

extern enum log_level log_min_level;

/* Parse "debug|info|warn|error|off"; -1 when unknown. */
int log_level_parse(const char *name);

/* Set (or with 0, clear) the request id logged by this thread. */
void log_set_request_id(uint64_t id);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= log_min_level)                                                              \
            log_write((level), __VA_ARGS__);                                                       \
    } while (0)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

#endif
