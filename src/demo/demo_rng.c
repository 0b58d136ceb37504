/*
 * demo_rng.c - the demo generator's own PRNG: xoshiro256** seeded through
 * splitmix64.  Never rand() or the clock, so a seed always gives the same
 * bytes on every machine.
 */
#include "demo/demo_int.h"

#include <assert.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void demo_rng_seed(struct demo_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t demo_rng_next(struct demo_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

int demo_rng_below(struct demo_rng *r, int n)
{
    assert(n > 0);
    /* Multiply-shift: the bias is below 2^-32 for the small n used here. */
    return (int)(((demo_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

int64_t demo_rng_range(struct demo_rng *r, int64_t lo, int64_t hi)
{
    assert(hi >= lo);
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(demo_rng_next(r) % span);
}

double demo_rng_unit(struct demo_rng *r)
{
    return (double)(demo_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

bool demo_rng_chance(struct demo_rng *r, double p)
{
    return demo_rng_unit(r) < p;
}

int demo_rng_weighted(struct demo_rng *r, const int *weights, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += weights[i];
    assert(total > 0);
    int x = demo_rng_below(r, total);
    for (int i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    return n - 1;
}
