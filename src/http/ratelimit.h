/*
 * ratelimit.h - fixed one-minute windows per key (a client address, a
 * poster, a login) for public endpoints and failed logins.  Memory is
 * bounded: a flood of new keys reuses old slots instead of growing.
 */
#ifndef OTKLIK_RATELIMIT_H
#define OTKLIK_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct rate_limiter;

/* A limiter allowing per_minute hits per key and minute; owned by the caller. */
struct rate_limiter *ratelimit_new(int per_minute);
void ratelimit_free(struct rate_limiter *l);

/* Count a hit of key at now_ms; true when it is over the limit (and not counted). */
bool ratelimit_hit(struct rate_limiter *l, const char *key, int64_t now_ms);

/* Take back one hit of key counted at now_ms (an attempt that turned out fine). */
void ratelimit_undo(struct rate_limiter *l, const char *key, int64_t now_ms);

#endif
