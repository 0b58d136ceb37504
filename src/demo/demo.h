/*
 * demo.h - the demo data generator behind `otklik demo` and `make run`.
 *
 * It invents a believable retail chain (departments, stores, customers,
 * orders, receipts, bonus movements and 90 days of customer requests) and
 * hands it out as NDJSON lines for the bulk import.  Same seed, same bytes.
 */
#ifndef OTKLIK_DEMO_H
#define OTKLIK_DEMO_H

#include <stddef.h>
#include <stdint.h>

struct demo_options {
    uint64_t seed;   /* same seed → same data, byte for byte */
    int64_t now_ms;  /* "today"; requests span the 90 days before it */
    int n_stores;    /* default 60 */
    int n_customers; /* default 20000 */
    int n_requests;  /* default 50000 */
};

/* Fill *o with the defaults: seed 1, now_ms = clock_now_ms(), 60 stores,
 * 20,000 customers, 50,000 requests. */
void demo_options_default(struct demo_options *o);

/*
 * Call emit once per NDJSON line (no trailing newline, UTF-8, valid JSON), in
 * dependency order: departments, stores, customers, orders, purchases, bonus
 * movements, requests.  The line is owned by the generator and valid only
 * during the call.  Counts below 1 are raised to 1.
 * Returns 0, or the first non-zero value returned by emit (and stops).
 */
int demo_generate(const struct demo_options *o,
                  int (*emit)(void *ctx, const char *line, size_t len), void *ctx);

/* How many order and purchase lines demo_generate() writes for *o (the number
 * of bonus movements depends on the drawn data and is not fixed). */
void demo_planned_counts(const struct demo_options *o, int *n_orders, int *n_purchases);

#endif
