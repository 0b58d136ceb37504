/*
 * test_trend_stats.c - the statistics of the trend detector against
 * worked examples: Poisson tails (exact sums and tiny p-values), the
 * median, Mann-Kendall with ties, the Poisson regression's slope and
 * likelihood-ratio test, and the chi-square tail.
 */
#include "testutil.h"

#include "analytics/analytics_int.h"

#include <math.h>

static void close_rel(double got, double want, double rel)
{
    if (!(fabs(got - want) <= rel * fabs(want))) {
        print_error("got %.17g want %.17g (rel %.3g)\n", got, want, rel);
        fail();
    }
}

static void test_poisson_tail(void **state)
{
    (void)state;
    assert_true(poisson_upper_tail(0, 3.0) == 1.0);
    /* P(X >= 1 | 2) = 1 - e^-2 */
    close_rel(poisson_upper_tail(1, 2.0), 1 - exp(-2.0), 1e-12);
    /* P(X >= 3 | 1) = 1 - e^-1 (1 + 1 + 1/2) */
    close_rel(poisson_upper_tail(3, 1.0), 1 - exp(-1.0) * 2.5, 1e-12);
    /* lambda above x: the direct sum; P(X >= 2 | 5) = 1 - 6 e^-5 */
    close_rel(poisson_upper_tail(2, 5.0), 1 - 6 * exp(-5.0), 1e-12);
    /* A tail far beyond double's 1 - eps: P(X >= 30 | 1) ~ e^-1 / 30! (1 + 1/31 + ...) */
    double want = exp(-1.0 - lgamma(31.0)) * (1 + 1.0 / 31 + 1.0 / (31.0 * 32) + 1.0 / (31.0 * 32 * 33));
    close_rel(poisson_upper_tail(30, 1.0), want, 1e-6);
    assert_true(poisson_upper_tail(30, 1.0) > 0);
    /* Monotone in x and in lambda. */
    assert_true(poisson_upper_tail(10, 3.0) < poisson_upper_tail(9, 3.0));
    assert_true(poisson_upper_tail(10, 3.0) < poisson_upper_tail(10, 4.0));
    assert_true(poisson_upper_tail(5, 0.0) == 0.0);
}

static void test_median(void **state)
{
    (void)state;
    const double odd[] = {5, 1, 3}, even[] = {4, 1, 3, 2}, zeros[] = {0, 0, 0, 7};
    assert_true(median_of(odd, 3) == 3);
    assert_true(median_of(even, 4) == 2.5);
    assert_true(median_of(zeros, 4) == 0); /* one spike does not move the baseline */
    assert_true(isnan(median_of(odd, 0)));
}

static void test_mann_kendall(void **state)
{
    (void)state;
    double s, z;
    const double up[] = {1, 2, 3, 4, 5, 6};
    mann_kendall(up, 6, &s, &z);
    assert_true(s == 15);
    /* var = 6 * 5 * 17 / 18 = 28.333; z = (15 - 1) / sqrt(var) */
    close_rel(z, 14 / sqrt(28.0 + 1.0 / 3), 1e-12);
    const double down[] = {6, 5, 4, 3, 2, 1};
    mann_kendall(down, 6, &s, &z);
    assert_true(s == -15 && z < 0);
    /* Ties: {1, 1, 2}: S = 2, var = (3*2*11 - 2*1*9) / 18 = 48 / 18 */
    const double ties[] = {1, 1, 2};
    mann_kendall(ties, 3, &s, &z);
    assert_true(s == 2);
    close_rel(z, 1 / sqrt(48.0 / 18), 1e-12);
    const double flat[] = {3, 3, 3, 3};
    mann_kendall(flat, 4, &s, &z);
    assert_true(s == 0 && z == 0);
    /* A single spike in the middle is no trend. */
    const double spike[] = {2, 2, 30, 2, 2, 2};
    mann_kendall(spike, 6, &s, &z);
    assert_true(z < 1.64);
}

static void test_poisson_trend(void **state)
{
    (void)state;
    double slope, lr, p;
    /* Exact exponential growth: counts 1, 2, 4, ... 128 fit slope ln 2. */
    double y[8];
    for (int i = 0; i < 8; i++)
        y[i] = pow(2, i);
    poisson_trend(y, 8, &slope, &lr, &p);
    close_rel(slope, log(2.0), 1e-6);
    assert_true(p < 1e-20);
    /* A flat series: no slope, LR 0, p 1. */
    double flat[10] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    poisson_trend(flat, 10, &slope, &lr, &p);
    assert_true(fabs(slope) < 1e-9 && lr < 1e-9 && p > 0.999);
    /* All zeros and too short series are "no evidence". */
    double zeros[5] = {0};
    poisson_trend(zeros, 5, &slope, &lr, &p);
    assert_true(slope == 0 && p == 1);
    /* Small counts rising over six weeks (the cold store's shape) are significant. */
    double cold[42];
    for (int i = 0; i < 42; i++)
        cold[i] = (double)(i / 6);
    poisson_trend(cold, 42, &slope, &lr, &p);
    assert_true(slope > 0 && p < 1e-6);
    assert_true(exp(slope * 41) > 2);
    /* All counts on the last day: the fit stays finite. */
    double last[6] = {0, 0, 0, 0, 0, 9};
    poisson_trend(last, 6, &slope, &lr, &p);
    assert_true(isfinite(slope) && isfinite(lr) && slope > 0);
}

static void test_chi2(void **state)
{
    (void)state;
    close_rel(chi2_1_upper(3.841458820694124), 0.05, 1e-9);
    close_rel(chi2_1_upper(6.634896601021214), 0.01, 1e-9);
    assert_true(chi2_1_upper(0) == 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poisson_tail), cmocka_unit_test(test_median),
        cmocka_unit_test(test_mann_kendall), cmocka_unit_test(test_poisson_trend),
        cmocka_unit_test(test_chi2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
