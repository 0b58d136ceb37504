/*
 * trends_stats.c - the statistics behind the trend detector, as pure
 * functions: the Poisson upper tail (through the regularised incomplete
 * gamma function, accurate for tiny p-values), the median, Mann-Kendall's
 * S with tie-corrected variance, and a two-parameter Poisson regression
 * fitted by iteratively reweighted least squares with its likelihood-ratio
 * test.  No allocation except the median's copy.
 */
#include "analytics/analytics_int.h"

#include "core/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double chi2_1_upper(double x)
{
    if (!(x > 0))
        return 1.0;
    return erfc(sqrt(x / 2.0));
}

/*
 * P(X >= x) for X ~ Poisson(lambda) equals the regularised lower incomplete
 * gamma P(x, lambda) for x >= 1.  Its series
 *   P(a, l) = e^-l l^a / Gamma(a + 1) * sum_k l^k / ((a + 1) ... (a + k))
 * converges for every l and keeps relative accuracy when P is tiny; when
 * lambda is well above x the upper tail is close to 1 and is computed as
 * 1 - P(X <= x - 1) by summing the probabilities directly.
 */
double poisson_upper_tail(int64_t x, double lambda)
{
    if (x <= 0)
        return 1.0;
    if (!(lambda > 0))
        return 0.0;
    double a = (double)x;
    if (lambda > a) {
        double cdf = 0, term = exp(-lambda);
        for (int64_t k = 0; k < x; k++) {
            cdf += term;
            term *= lambda / (double)(k + 1);
        }
        double p = 1.0 - cdf;
        return p < 0 ? 0 : p;
    }
    double log_front = -lambda + a * log(lambda) - lgamma(a + 1.0);
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 100000; k++) {
        term *= lambda / (a + k);
        sum += term;
        if (term < sum * 1e-16)
            break;
    }
    double p = exp(log_front) * sum;
    return p > 1 ? 1 : p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median_of(const double *v, size_t n)
{
    if (n == 0)
        return NAN;
    double *c = xmalloc(n * sizeof *c);
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2.0;
    free(c);
    return m;
}

void mann_kendall(const double *v, size_t n, double *out_s, double *out_z)
{
    double s = 0;
    for (size_t i = 0; i + 1 < n; i++)
        for (size_t j = i + 1; j < n; j++)
            s += (v[j] > v[i]) - (v[j] < v[i]);
    /* Tie correction: each group of t equal values removes t(t-1)(2t+5). */
    double var = (double)n * (double)(n - 1) * (double)(2 * n + 5);
    bool *seen = xcalloc(n ? n : 1, sizeof *seen);
    for (size_t i = 0; i < n; i++) {
        if (seen[i])
            continue;
        double t = 0;
        for (size_t j = i; j < n; j++)
            if (v[j] == v[i]) {
                seen[j] = true;
                t++;
            }
        var -= t * (t - 1) * (2 * t + 5);
    }
    free(seen);
    var /= 18.0;
    *out_s = s;
    if (var <= 0)
        *out_z = 0;
    else if (s > 0)
        *out_z = (s - 1) / sqrt(var);
    else if (s < 0)
        *out_z = (s + 1) / sqrt(var);
    else
        *out_z = 0;
}

void poisson_trend(const double *y, size_t n, double *out_slope, double *out_lr, double *out_p)
{
    *out_slope = 0;
    *out_lr = 0;
    *out_p = 1;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += y[i];
    if (n < 3 || total <= 0)
        return;
    double mid = (double)(n - 1) / 2.0, mean = total / (double)n;
    double a = log(mean), b = 0;
    for (int iter = 0; iter < 50; iter++) {
        double g0 = 0, g1 = 0, h00 = 0, h01 = 0, h11 = 0;
        for (size_t i = 0; i < n; i++) {
            double t = (double)i - mid, mu = exp(a + b * t);
            g0 += y[i] - mu;
            g1 += (y[i] - mu) * t;
            h00 += mu;
            h01 += mu * t;
            h11 += mu * t * t;
        }
        double det = h00 * h11 - h01 * h01;
        if (!(det > 0))
            break;
        double da = (h11 * g0 - h01 * g1) / det, db = (h00 * g1 - h01 * g0) / det;
        /* Damp huge steps (all counts at one end) so exp() stays finite. */
        if (fabs(db) > 1)
            da *= 1 / fabs(db), db = db > 0 ? 1 : -1;
        a += da;
        b += db;
        if (fabs(da) < 1e-10 && fabs(db) < 1e-10)
            break;
    }
    /* LR = 2 (l1 - l0), l = sum(y log mu - mu); the y! terms cancel. */
    double l1 = 0, l0 = 0;
    for (size_t i = 0; i < n; i++) {
        double mu1 = exp(a + b * ((double)i - mid));
        if (y[i] > 0) {
            l1 += y[i] * log(mu1);
            l0 += y[i] * log(mean);
        }
        l1 -= mu1;
        l0 -= mean;
    }
    double lr = 2 * (l1 - l0);
    *out_slope = b;
    *out_lr = lr > 0 ? lr : 0;
    *out_p = chi2_1_upper(*out_lr);
}
