/*
 * clock.h - the one injectable clock.
 *
 * Every reading of "now" in otklik goes through clock_now_ms(), so SLA,
 * escalation and expiry tests set a fake time instead of sleeping.
 * clock_mono_ns() is for measuring durations only.
 */
#ifndef OTKLIK_CLOCK_H
#define OTKLIK_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Wall-clock time, Unix milliseconds (the fake time when one is set). */
int64_t clock_now_ms(void);

/* Use a fake wall clock fixed at now_ms; 0 returns to the real clock. */
void clock_set_fake_ms(int64_t now_ms);

/* Move the fake clock forward by delta_ms (no effect on the real clock). */
void clock_advance_ms(int64_t delta_ms);

/* Monotonic nanoseconds, for durations. */
uint64_t clock_mono_ns(void);

/* The real time on clk (CLOCK_MONOTONIC or CLOCK_REALTIME) ms from now, as
 * pthread_cond_timedwait takes it (never the fake clock: waits are real). */
struct timespec clock_deadline(clockid_t clk, int64_t ms);

#endif
