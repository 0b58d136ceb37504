/*
 * metrics.c - atomic counters and fixed-bucket histograms.
 */
#include "core/metrics.h"

const double histogram_bounds_s[HISTOGRAM_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   10.0,
};

struct histogram metric_http_seconds;
struct histogram metric_commit_seconds;
_Atomic uint64_t metric_requests_created[METRIC_MAX_CHANNELS];
_Atomic uint64_t metric_requests_deduplicated;
_Atomic uint64_t metric_http_responses[6];
_Atomic int64_t metric_sse_clients;
_Atomic uint64_t metric_http_spooled_bodies;
_Atomic uint64_t metric_http_spooled_bytes;

void histogram_observe_ns(struct histogram *h, uint64_t ns)
{
    double s = (double)ns / 1e9;
    int i = 0;
    while (i < HISTOGRAM_BUCKETS && s > histogram_bounds_s[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void histogram_write(struct buf *out, const char *name, const char *help,
                     const struct histogram *h)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < HISTOGRAM_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, histogram_bounds_s[i],
                   (unsigned long long)cum);
    }
    cum += atomic_load_explicit(&h->buckets[HISTOGRAM_BUCKETS], memory_order_relaxed);
    buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name,
               (double)atomic_load(&h->sum_ns) / 1e9, name, (unsigned long long)cum);
}

double histogram_quantile_s(const struct histogram *h, double q)
{
    uint64_t total = atomic_load(&h->count);
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)total + 0.5), cum = 0;
    for (int i = 0; i < HISTOGRAM_BUCKETS; i++) {
        cum += atomic_load(&h->buckets[i]);
        if (cum >= want)
            return histogram_bounds_s[i];
    }
    return histogram_bounds_s[HISTOGRAM_BUCKETS - 1];
}
