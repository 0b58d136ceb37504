/*
 * clock.c - real and fake wall clocks, and a monotonic clock.
 */
#include "core/clock.h"

#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t fake_now_ms;

int64_t clock_now_ms(void)
{
    int64_t fake = atomic_load_explicit(&fake_now_ms, memory_order_relaxed);
    if (fake != 0)
        return fake;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_set_fake_ms(int64_t now_ms)
{
    atomic_store(&fake_now_ms, now_ms);
}

void clock_advance_ms(int64_t delta_ms)
{
    atomic_fetch_add(&fake_now_ms, delta_ms);
}

uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct timespec clock_deadline(clockid_t clk, int64_t ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
