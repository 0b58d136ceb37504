/*
 * ratelimit.c - fixed-window rate limits for public endpoints and logins: a
 * small hash table of (key, minute, count).  Bounded memory: a full table
 * reuses slots of past minutes, so a flood of new keys cannot grow it.
 */
#include "http/ratelimit.h"

#include "core/mem.h"

#include <pthread.h>

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

/* The slot of key in this minute (reset when it held another key or minute).
 * In a crowded minute keys share a slot and its count: stricter, never laxer. */
static struct rl_slot *slot_of(struct rate_limiter *l, uint64_t h, int64_t minute)
{
    for (size_t i = 0; i < 8; i++) {
        struct rl_slot *s = &l->slots[(h + i) % RL_SLOTS];
        if (s->hash == h && s->minute == minute)
            return s;
    }
    for (size_t i = 0; i < 8; i++) {
        struct rl_slot *s = &l->slots[(h + i) % RL_SLOTS];
        if (s->hash == 0 || s->minute != minute) {
            s->hash = h;
            s->minute = minute;
            s->count = 0;
            return s;
        }
    }
    return &l->slots[h % RL_SLOTS];
}

bool ratelimit_hit(struct rate_limiter *l, const char *key, int64_t now_ms)
{
    uint64_t h = fnv1a(key);
    pthread_mutex_lock(&l->mu);
    struct rl_slot *slot = slot_of(l, h, now_ms / 60000);
    bool limited = slot->count >= l->per_minute;
    if (!limited)
        slot->count++;
    pthread_mutex_unlock(&l->mu);
    return limited;
}

void ratelimit_undo(struct rate_limiter *l, const char *key, int64_t now_ms)
{
    uint64_t h = fnv1a(key);
    pthread_mutex_lock(&l->mu);
    struct rl_slot *slot = slot_of(l, h, now_ms / 60000);
    if (slot->count > 0)
        slot->count--;
    pthread_mutex_unlock(&l->mu);
}
