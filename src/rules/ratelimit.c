/*
 * ratelimit.c - fixed-window rate limits for the public QR endpoint: a
 * small hash table of (key, minute, count).  Bounded memory: a full table
 * reuses slots of past minutes, so a flood of new keys cannot grow it.
 */
#include "rules/rules_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RL_SLOTS 4096

struct rl_slot {
    uint64_t hash;
    int64_t minute;
    int count;
};

struct rate_limiter {
    pthread_mutex_t mu;
    int per_minute;
    struct rl_slot slots[RL_SLOTS];
};

struct rate_limiter *ratelimit_new(int per_minute)
{
    struct rate_limiter *l = xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->per_minute = per_minute;
    return l;
}

void ratelimit_free(struct rate_limiter *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h | 1; /* 0 marks a free slot */
}

bool ratelimit_hit(struct rate_limiter *l, const char *key, int64_t now_ms)
{
    uint64_t h = fnv1a(key);
    int64_t minute = now_ms / 60000;
    pthread_mutex_lock(&l->mu);
    struct rl_slot *slot = NULL;
    for (size_t i = 0; i < 8 && slot == NULL; i++) {
        struct rl_slot *s = &l->slots[(h + i) % RL_SLOTS];
        if (s->hash == h || s->hash == 0 || s->minute != minute)
            slot = s;
    }
    if (slot == NULL)
        slot = &l->slots[h % RL_SLOTS]; /* a crowded minute: share the slot (stricter) */
    if (slot->hash != h || slot->minute != minute) {
        slot->hash = h;
        slot->minute = minute;
        slot->count = 0;
    }
    bool limited = slot->count >= l->per_minute;
    if (!limited)
        slot->count++;
    pthread_mutex_unlock(&l->mu);
    return limited;
}
