/*
 * metrics.h - process-wide counters and latency histograms, written out in
 * the Prometheus text format by /metrics.  Updates are lock-free atomics so
 * they cost a few nanoseconds on hot paths.
 */
#ifndef OTKLIK_METRICS_H
#define OTKLIK_METRICS_H

#include "core/buf.h"

#include <stdatomic.h>
#include <stdint.h>

#define HISTOGRAM_BUCKETS 14

struct histogram {
    _Atomic uint64_t buckets[HISTOGRAM_BUCKETS + 1]; /* last one is +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
};

/* Upper bounds of the buckets, seconds (0.0001 .. 10). */
extern const double histogram_bounds_s[HISTOGRAM_BUCKETS];

extern struct histogram metric_http_seconds;   /* HTTP request handling time */
extern struct histogram metric_commit_seconds; /* one group commit, begin to durable */

/* Requests created, by channel index of model_channels. */
#define METRIC_MAX_CHANNELS 16
extern _Atomic uint64_t metric_requests_created[METRIC_MAX_CHANNELS];
extern _Atomic uint64_t metric_requests_deduplicated;
extern _Atomic uint64_t metric_http_responses[6]; /* by status class 1xx..5xx, [0] unused */
extern _Atomic int64_t metric_sse_clients;
extern _Atomic uint64_t metric_http_spooled_bodies; /* bulk bodies spooled to a file */
extern _Atomic uint64_t metric_http_spooled_bytes;

void histogram_observe_ns(struct histogram *h, uint64_t ns);

/* Append one histogram in Prometheus text format. */
void histogram_write(struct buf *out, const char *name, const char *help,
                     const struct histogram *h);

/* Estimated quantile q (0..1) in seconds from the buckets (upper bound of the bucket). */
double histogram_quantile_s(const struct histogram *h, double q);

#endif
