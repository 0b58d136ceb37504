/*
 * test_metrics.c - worked examples for every formula in analytics/metrics.h.
 *
 * Hand-computed cases are written out in the comments; the tabular ones
 * (NPS intervals, Erlang C for 11..15 agents) also live in
 * tests/fixtures/metrics/worked_examples.json and are checked from there.
 * Erlang C is further checked against a direct textbook formula evaluated
 * here independently (power series in long double / log space).
 */
#include "testutil.h"

#include "analytics/metrics.h"
#include "core/err.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEAR(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static const char *fixture_dir(void)
{
    const char *d = getenv("OTKLIK_FIXTURES");
    return d ? d : "tests/fixtures";
}

/* ---- NPS ------------------------------------------------------------------ */

static void test_nps_wald_worked(void **state)
{
    (void)state;
    /*
     * 50 promoters, 30 passives, 20 detractors; n = 100.
     * p = 0.50, d = 0.20, NPS = 30 points.
     * Var = (p + d - (p - d)^2) / n = (0.70 - 0.09) / 100 = 0.0061
     * se = sqrt(0.0061) = 0.0781025 -> 7.81025 points
     * 95%: 30 +- 1.96 * 7.81025 = 30 +- 15.30809 -> [14.69191, 45.30809]
     */
    struct nps_result r;
    assert_int_equal(metrics_nps(50, 30, 20, 1.96, NPS_CI_WALD, &r), 0);
    assert_int_equal(r.n, 100);
    NEAR(r.nps_pts, 30.0, 1e-12);
    NEAR(r.promoters_pct, 50.0, 1e-12);
    NEAR(r.passives_pct, 30.0, 1e-12);
    NEAR(r.detractors_pct, 20.0, 1e-12);
    NEAR(r.se_pts, 7.81025, 1e-5);
    NEAR(r.ci_low_pts, 14.69191, 1e-5);
    NEAR(r.ci_high_pts, 45.30809, 1e-5);
}

static void test_nps_adjusted_wald_worked(void **state)
{
    (void)state;
    /*
     * Adjusted-Wald (add 3/4 to promoters and detractors, 3 to n):
     * m = 103, p~ = 50.75 / 103 = 0.492718, d~ = 20.75 / 103 = 0.201456
     * p~ - d~ = 30 / 103 = 0.291262 (the interval's centre: 29.126 points)
     * Var = (0.694175 - 0.084834) / 103 = 0.00591593, se = 0.0769151
     * 0.291262 +- 1.96 * 0.0769151 = 0.291262 +- 0.150754 -> [14.0509, 44.2016]
     * The reported point estimate stays the plain NPS, 30.
     */
    struct nps_result r;
    assert_int_equal(metrics_nps(50, 30, 20, 1.96, NPS_CI_ADJUSTED_WALD, &r), 0);
    NEAR(r.nps_pts, 30.0, 1e-12);
    NEAR(r.se_pts, 7.69151, 1e-5);
    NEAR(r.ci_low_pts, 14.0509, 1e-4);
    NEAR(r.ci_high_pts, 44.2016, 1e-4);
}

static void test_nps_edges(void **state)
{
    (void)state;
    struct nps_result r;
    /* No answers: NPS undefined; Wald interval undefined. */
    assert_int_equal(metrics_nps(0, 0, 0, 1.96, NPS_CI_WALD, &r), 0);
    assert_int_equal(r.n, 0);
    assert_true(isnan(r.nps_pts) && isnan(r.ci_low_pts) && isnan(r.ci_high_pts));
    /*
     * Adjusted-Wald with no answers: p~ = d~ = 0.75 / 3 = 0.25, centre 0,
     * Var = 0.5 / 3, se = 0.408248, 1.96 * se = 0.800166 -> [-80.0166, 80.0166].
     */
    assert_int_equal(metrics_nps(0, 0, 0, 1.96, NPS_CI_ADJUSTED_WALD, &r), 0);
    assert_true(isnan(r.nps_pts));
    NEAR(r.ci_low_pts, -80.0166, 1e-4);
    NEAR(r.ci_high_pts, 80.0166, 1e-4);
    /* All promoters: Wald variance is 0, the interval is the point 100. */
    assert_int_equal(metrics_nps(10, 0, 0, 1.96, NPS_CI_WALD, &r), 0);
    NEAR(r.nps_pts, 100, 1e-12);
    NEAR(r.ci_low_pts, 100, 1e-12);
    NEAR(r.ci_high_pts, 100, 1e-12);
    /*
     * Adjusted-Wald, all 10 promoters: m = 13, p~ = 10.75/13, d~ = 0.75/13,
     * centre 76.923, se = sqrt((0.884615 - 0.591716)/13) = 0.150104,
     * upper 76.923 + 29.420 = 106.34 -> clamped to 100; lower 47.503.
     */
    assert_int_equal(metrics_nps(10, 0, 0, 1.96, NPS_CI_ADJUSTED_WALD, &r), 0);
    NEAR(r.ci_low_pts, 47.503, 1e-3);
    NEAR(r.ci_high_pts, 100, 1e-12);
    /* Only passives: NPS 0, Wald interval [0, 0]. */
    assert_int_equal(metrics_nps(0, 7, 0, 1.96, NPS_CI_WALD, &r), 0);
    NEAR(r.nps_pts, 0, 1e-12);
    NEAR(r.ci_low_pts, 0, 1e-12);
    NEAR(r.ci_high_pts, 0, 1e-12);
    /* Bad input. */
    assert_int_equal(metrics_nps(-1, 0, 0, 1.96, NPS_CI_WALD, &r), ERR_INVALID);
    assert_int_equal(metrics_nps(1, 0, 0, 0, NPS_CI_WALD, &r), ERR_INVALID);
    assert_int_equal(metrics_nps(1, 0, 0, NAN, NPS_CI_WALD, &r), ERR_INVALID);
    assert_int_equal(metrics_nps(METRICS_COUNT_MAX, METRICS_COUNT_MAX, 0, 1.96, NPS_CI_WALD, &r),
                     ERR_INVALID);
}

static void test_nps_from_scores_and_enps(void **state)
{
    (void)state;
    /* Scores 0..10: 2 x "3", 1 x "6" (3 detractors), 2 x "7", 1 x "8" (3 passives),
     * 3 x "9", 1 x "10" (4 promoters): n = 10, NPS = 40 - 30 = 10. */
    const int64_t counts[11] = {0, 0, 0, 2, 0, 0, 1, 2, 1, 3, 1};
    struct nps_result r, e;
    assert_int_equal(metrics_nps_from_scores(counts, 1.96, NPS_CI_WALD, &r), 0);
    assert_int_equal(r.n, 10);
    NEAR(r.nps_pts, 10, 1e-12);
    assert_int_equal(metrics_enps(4, 3, 3, 1.96, NPS_CI_WALD, &e), 0);
    NEAR(e.nps_pts, r.nps_pts, 1e-12);
    NEAR(e.ci_low_pts, r.ci_low_pts, 1e-12);
    NEAR(e.ci_high_pts, r.ci_high_pts, 1e-12);
}

/* ---- CSAT, CES, loyalty, shares ------------------------------------------ */

static void test_csat_ces_loyalty(void **state)
{
    (void)state;
    double v;
    /* CSAT: 60 of 100 answered 4 or 5 -> 60%. */
    assert_int_equal(metrics_csat(60, 100, &v), 0);
    NEAR(v, 60, 1e-12);
    /* 1..5 histogram: 5 x1, 5 x2, 10 x3, 30 x4, 50 x5 -> 80 / 100 = 80%. */
    const int64_t hist[5] = {5, 5, 10, 30, 50};
    assert_int_equal(metrics_csat_from_scores(hist, &v), 0);
    NEAR(v, 80, 1e-12);
    assert_int_equal(metrics_csat(0, 0, &v), 0);
    assert_true(isnan(v));
    assert_int_equal(metrics_csat(101, 100, &v), ERR_INVALID);
    assert_int_equal(metrics_csat(-1, 100, &v), ERR_INVALID);

    /* CES on 1..7: 1 x3, 2 x4, 1 x5 -> (3 + 8 + 5) / 4 = 4.0. */
    const int64_t ces[7] = {0, 0, 1, 2, 1, 0, 0};
    assert_int_equal(metrics_mean_score(ces, 7, 1, &v), 0);
    NEAR(v, 4.0, 1e-12);
    const int64_t none[7] = {0};
    assert_int_equal(metrics_mean_score(none, 7, 1, &v), 0);
    assert_true(isnan(v));

    /* Loyalty: (30 - 10) / (30 + 10) = 0.5; (0 - 5) / 5 = -1; undefined for 0/0. */
    assert_int_equal(metrics_loyalty_index(30, 10, &v), 0);
    NEAR(v, 0.5, 1e-12);
    assert_int_equal(metrics_loyalty_index(0, 5, &v), 0);
    NEAR(v, -1, 1e-12);
    assert_int_equal(metrics_loyalty_index(0, 0, &v), 0);
    assert_true(isnan(v));
    assert_int_equal(metrics_loyalty_index(-3, 0, &v), ERR_INVALID);

    /* FCR / SLA compliance as shares: 45 of 60 = 0.75. */
    assert_int_equal(metrics_share(45, 60, &v), 0);
    NEAR(v, 0.75, 1e-12);
    assert_int_equal(metrics_share(0, 0, &v), 0);
    assert_true(isnan(v));
    assert_int_equal(metrics_share(61, 60, &v), ERR_INVALID);
}

/* ---- contact-centre service ------------------------------------------------ */

static void test_service_level_rules(void **state)
{
    (void)state;
    /*
     * 900 answered (720 within 20 s), 100 abandoned (40 of them before 20 s).
     * exclude-short: 720 / (900 + 100 - 40) = 720 / 960 = 0.75
     * ignore:        720 / 900             = 0.80
     * all-missed:    720 / 1000            = 0.72
     * short-met:     (720 + 40) / 1000     = 0.76
     * abandonment:   100 / 1000 = 0.10; excluding short: 60 / 960 = 0.0625
     */
    struct contact_counts c = {900, 720, 100, 40};
    double v;
    assert_int_equal(metrics_service_level(&c, SL_ABANDON_EXCLUDE_SHORT, &v), 0);
    NEAR(v, 0.75, 1e-12);
    assert_int_equal(metrics_service_level(&c, SL_ABANDON_IGNORE, &v), 0);
    NEAR(v, 0.80, 1e-12);
    assert_int_equal(metrics_service_level(&c, SL_ABANDON_ALL_MISSED, &v), 0);
    NEAR(v, 0.72, 1e-12);
    assert_int_equal(metrics_service_level(&c, SL_ABANDON_SHORT_MET, &v), 0);
    NEAR(v, 0.76, 1e-12);
    assert_int_equal(metrics_abandon_rate(&c, false, &v), 0);
    NEAR(v, 0.10, 1e-12);
    assert_int_equal(metrics_abandon_rate(&c, true, &v), 0);
    NEAR(v, 0.0625, 1e-12);

    /* Zero volume: undefined, not 0 and not 100%. */
    struct contact_counts zero = {0, 0, 0, 0};
    assert_int_equal(metrics_service_level(&zero, SL_ABANDON_EXCLUDE_SHORT, &v), 0);
    assert_true(isnan(v));
    /* Everyone hung up early: nothing left to measure. */
    struct contact_counts gone = {0, 0, 5, 5};
    assert_int_equal(metrics_service_level(&gone, SL_ABANDON_EXCLUDE_SHORT, &v), 0);
    assert_true(isnan(v));

    struct contact_counts bad = {10, 11, 0, 0};
    assert_int_equal(metrics_service_level(&bad, SL_ABANDON_IGNORE, &v), ERR_INVALID);
}

static void test_asa_aht(void **state)
{
    (void)state;
    double v;
    /* ASA: 9000 s of queue wait over 900 answered = 10 s. */
    assert_int_equal(metrics_asa(9000, 900, &v), 0);
    NEAR(v, 10, 1e-12);
    assert_int_equal(metrics_asa(0, 0, &v), 0);
    assert_true(isnan(v));
    /* AHT: (150000 talk + 12000 hold + 18000 wrap) / 1000 handled = 180 s. */
    assert_int_equal(metrics_aht(150000, 12000, 18000, 1000, &v), 0);
    NEAR(v, 180, 1e-12);
    assert_int_equal(metrics_aht(-1, 0, 0, 1, &v), ERR_INVALID);
}

/* ---- Erlang C ---------------------------------------------------------------- */

/*
 * The textbook formula, evaluated directly:
 *   P(wait) = X / (sum_{k<N} A^k/k! + X),  X = A^N/N! * N/(N - A)
 * each term computed in log space (k ln A - lgamma(k+1)) in long double and
 * scaled by the largest term, so it works for large N too.
 */
static double erlang_c_textbook(double a, int n)
{
    long double max_log = 0;
    long double logs_last = (long double)n * logl(a) - lgammal((long double)n + 1) +
                            logl((long double)n / ((long double)n - a));
    max_log = logs_last;
    for (int k = 0; k < n; k++) {
        long double l = (long double)k * logl(a) - lgammal((long double)k + 1);
        if (l > max_log)
            max_log = l;
    }
    long double sum = 0;
    for (int k = 0; k < n; k++)
        sum += expl((long double)k * logl(a) - lgammal((long double)k + 1) - max_log);
    long double x = expl(logs_last - max_log);
    return (double)(x / (sum + x));
}

static void test_erlang_c_against_textbook(void **state)
{
    (void)state;
    /* 100 calls / 1800 s, aht 180 s: A = 100 * 180 / 1800 = 10 Erlangs. */
    struct erlang_c_input in = {100, 1800, 180, 20};
    for (int n = 11; n <= 15; n++) {
        struct erlang_c_result r;
        assert_int_equal(erlang_c_eval(&in, n, &r), 0);
        NEAR(r.traffic_erl, 10, 1e-12);
        double pw = erlang_c_textbook(10, n);
        NEAR(r.p_wait, pw, 1e-10);
        NEAR(r.service_level, 1 - pw * exp(-(n - 10) * 20.0 / 180.0), 1e-10);
        NEAR(r.asa_s, pw * 180 / (n - 10), 1e-8);
        NEAR(r.occupancy, 10.0 / n, 1e-12);
        assert_false(r.is_overloaded);
    }
    /* Hundreds of agents: A = 450, N = 480 and N = 500; no overflow, same as log space. */
    struct erlang_c_input big = {9000, 3600, 180, 20};
    for (int n = 480; n <= 500; n += 20) {
        struct erlang_c_result r;
        assert_int_equal(erlang_c_eval(&big, n, &r), 0);
        NEAR(r.traffic_erl, 450, 1e-9);
        assert_true(r.p_wait > 0 && r.p_wait < 1);
        NEAR(r.p_wait, erlang_c_textbook(450, n), 1e-9);
    }
    /* 5000 agents still fine. */
    struct erlang_c_input huge = {100000, 3600, 180, 20};
    struct erlang_c_result r;
    assert_int_equal(erlang_c_eval(&huge, 5100, &r), 0);
    assert_true(r.p_wait >= 0 && r.p_wait < 1 && isfinite(r.asa_s));
}

static void test_erlang_c_edges(void **state)
{
    (void)state;
    struct erlang_c_input in = {100, 1800, 180, 20};
    struct erlang_c_result r;
    /* N = A = 10: overloaded; N = 9 < A likewise. */
    for (int n = 9; n <= 10; n++) {
        assert_int_equal(erlang_c_eval(&in, n, &r), 0);
        assert_true(r.is_overloaded);
        NEAR(r.p_wait, 1, 0);
        NEAR(r.service_level, 0, 0);
        assert_true(isnan(r.asa_s));
        NEAR(r.occupancy, 1, 0);
    }
    /* Zero volume: nobody waits. */
    struct erlang_c_input quiet = {0, 1800, 180, 20};
    assert_int_equal(erlang_c_eval(&quiet, 3, &r), 0);
    assert_false(r.is_overloaded);
    NEAR(r.p_wait, 0, 0);
    NEAR(r.service_level, 1, 0);
    NEAR(r.asa_s, 0, 0);
    NEAR(r.occupancy, 0, 0);
    /* T = 0: service level is 1 - P(wait). */
    struct erlang_c_input t0 = {100, 1800, 180, 0};
    assert_int_equal(erlang_c_eval(&t0, 14, &r), 0);
    NEAR(r.service_level, 1 - r.p_wait, 1e-12);
    /* Bad input. */
    struct erlang_c_input bad = {100, 0, 180, 20};
    assert_int_equal(erlang_c_eval(&bad, 14, &r), ERR_INVALID);
    assert_int_equal(erlang_c_eval(&in, 0, &r), ERR_INVALID);
}

static void test_erlang_c_solver(void **state)
{
    (void)state;
    struct erlang_c_input in = {100, 1800, 180, 20};
    struct erlang_c_plan p;
    /* 80/20: 13 agents give 0.7956, 14 give 0.8884 -> 14; 14 / 0.7 = 20 scheduled. */
    struct erlang_c_target t = {.service_level = 0.8, .shrinkage = 0.3};
    assert_int_equal(erlang_c_solve(&in, &t, &p), 0);
    assert_int_equal(p.result.agents, 14);
    assert_int_equal(p.scheduled_agents, 20);
    /* ASA <= 20 s: 13 agents give 17.1 s, 12 give 40.4 s -> 13. */
    struct erlang_c_target asa = {.asa_s = 20};
    assert_int_equal(erlang_c_solve(&in, &asa, &p), 0);
    assert_int_equal(p.result.agents, 13);
    assert_int_equal(p.scheduled_agents, 13);
    /* Occupancy <= 0.65: N >= 10 / 0.65 = 15.4 -> 16 beats the 80/20 answer. */
    struct erlang_c_target occ = {.service_level = 0.8, .max_occupancy = 0.65};
    assert_int_equal(erlang_c_solve(&in, &occ, &p), 0);
    assert_int_equal(p.result.agents, 16);
    /* Both SL and ASA: ASA <= 5 s needs 15 (3.67 s). */
    struct erlang_c_target both = {.service_level = 0.8, .asa_s = 5};
    assert_int_equal(erlang_c_solve(&in, &both, &p), 0);
    assert_int_equal(p.result.agents, 15);
    /* Zero volume: one agent. */
    struct erlang_c_input quiet = {0, 1800, 180, 20};
    assert_int_equal(erlang_c_solve(&quiet, &t, &p), 0);
    assert_int_equal(p.result.agents, 1);
    /* A large centre: A = 450; the answer is the first N meeting 80/20. */
    struct erlang_c_input big = {9000, 3600, 180, 20};
    assert_int_equal(erlang_c_solve(&big, &t, &p), 0);
    struct erlang_c_result below;
    assert_int_equal(erlang_c_eval(&big, p.result.agents - 1, &below), 0);
    assert_true(below.service_level < 0.8 && p.result.service_level >= 0.8);
    /* No target is an error. */
    struct erlang_c_target none = {0};
    assert_int_equal(erlang_c_solve(&in, &none, &p), ERR_INVALID);
    int64_t s;
    assert_int_equal(erlang_scheduled_agents(14, 0.3, &s), 0);
    assert_int_equal(s, 20);
    assert_int_equal(erlang_scheduled_agents(15, 0.3, &s), 0);
    assert_int_equal(s, 22); /* 21.43 -> 22 */
}

/* ---- fixture-driven worked examples ------------------------------------------- */

static json_t *load_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/metrics/%s", fixture_dir(), name);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        print_error("cannot load %s: %s (line %d)\n", path, e.text, e.line);
    assert_non_null(j);
    return j;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        print_error("fixture field %s missing\n", key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void check_near(const char *name, const char *what, double got, double want, double eps)
{
    if (!(fabs(got - want) <= eps)) {
        print_error("%s: %s = %.10g, want %.10g (+-%g)\n", name, what, got, want, eps);
        fail();
    }
}

static void test_fixture_worked_examples(void **state)
{
    (void)state;
    json_t *root = load_fixture("worked_examples.json");
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(root, "nps"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *m = json_string_value(json_object_get(c, "method"));
        enum nps_ci_method method = strcmp(m, "wald") == 0 ? NPS_CI_WALD : NPS_CI_ADJUSTED_WALD;
        struct nps_result r;
        assert_int_equal(metrics_nps((int64_t)num(c, "promoters"), (int64_t)num(c, "passives"),
                                     (int64_t)num(c, "detractors"), num(c, "z"), method, &r),
                         0);
        double eps = num(c, "tolerance");
        check_near(name, "nps", r.nps_pts, num(c, "nps"), eps);
        check_near(name, "ci_low", r.ci_low_pts, num(c, "ci_low"), eps);
        check_near(name, "ci_high", r.ci_high_pts, num(c, "ci_high"), eps);
    }
    json_array_foreach(json_object_get(root, "erlang_c"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        struct erlang_c_input in = {num(c, "calls"), num(c, "period"), num(c, "aht"),
                                    num(c, "answer")};
        struct erlang_c_result r;
        assert_int_equal(erlang_c_eval(&in, (int64_t)num(c, "agents"), &r), 0);
        double es = num(c, "tolerance_share"), et = num(c, "tolerance_s");
        check_near(name, "traffic", r.traffic_erl, num(c, "traffic"), 1e-9);
        check_near(name, "p_wait", r.p_wait, num(c, "p_wait"), es);
        check_near(name, "service_level", r.service_level, num(c, "service_level"), es);
        check_near(name, "asa", r.asa_s, num(c, "asa"), et);
    }
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nps_wald_worked),
        cmocka_unit_test(test_nps_adjusted_wald_worked),
        cmocka_unit_test(test_nps_edges),
        cmocka_unit_test(test_nps_from_scores_and_enps),
        cmocka_unit_test(test_csat_ces_loyalty),
        cmocka_unit_test(test_service_level_rules),
        cmocka_unit_test(test_asa_aht),
        cmocka_unit_test(test_erlang_c_against_textbook),
        cmocka_unit_test(test_erlang_c_edges),
        cmocka_unit_test(test_erlang_c_solver),
        cmocka_unit_test(test_fixture_worked_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
