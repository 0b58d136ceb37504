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

/* True when key is over the limit at now_ms; counts nothing. */
bool ratelimit_is_limited(struct rate_limiter *l, const char *key, int64_t now_ms);

#endif
