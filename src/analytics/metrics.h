/*
 * metrics.h - the survey and contact-centre formulas, as pure functions.
 *
 * Dashboards, reports, rollups and `otklik calc` all compute NPS, CSAT, the
 * loyalty index, service level and Erlang C staffing through these
 * functions, so one figure means the same everywhere.  No allocation, no
 * I/O, no global state; safe from any thread.  A value that is undefined
 * for the input (a share of nothing) comes out as NAN and is shown as null.
 */
#ifndef OTKLIK_METRICS_H
#define OTKLIK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Counts must lie in [0, METRICS_COUNT_MAX] so sums stay exact in a double. */
#define METRICS_COUNT_MAX INT64_C(1000000000000000) /* 1e15 */

/* ---- NPS and eNPS ------------------------------------------------------ */

enum nps_ci_method {
    /*
     * Wald: p = P/n, d = D/n, NPS = p - d,
     * Var(p - d) = (p + d - (p - d)^2) / n, CI = NPS +- z * sqrt(Var).
     */
    NPS_CI_WALD,
    /*
     * Adjusted-Wald as published for NPS (Rocks 2016, The American
     * Statistician; Sauro & Lewis 2021): add 3/4 to promoters and to
     * detractors and 3 to n, then the Wald interval around the adjusted NPS
     * (P + 3/4)/(n + 3) - (D + 3/4)/(n + 3).  The constants are fixed (they
     * do not change with z).  Better coverage for small n and for scores
     * near +-100, and defined for n = 0.
     */
    NPS_CI_ADJUSTED_WALD,
};

struct nps_result {
    int64_t n;             /* answers: promoters + passives + detractors */
    double nps_pts;        /* % promoters - % detractors, points in [-100, 100]; NAN if n = 0 */
    double promoters_pct;  /* share of 9-10, percent; NAN if n = 0 */
    double passives_pct;   /* share of 7-8, percent; NAN if n = 0 */
    double detractors_pct; /* share of 0-6, percent; NAN if n = 0 */
    double se_pts;         /* standard error used for the interval, points; NAN when undefined */
    double ci_low_pts;     /* interval, clamped to [-100, 100]; NAN when undefined */
    double ci_high_pts;
};

/*
 * NPS from the three group counts with a confidence interval for z
 * (1.96 for 95%).  The Wald interval is undefined for n = 0; the
 * adjusted-Wald one is defined (and wide) even then.
 * Returns 0, or ERR_INVALID for a count outside [0, METRICS_COUNT_MAX] or
 * z not in (0, 10].  *out is filled only on success.
 */
int metrics_nps(int64_t promoters, int64_t passives, int64_t detractors, double z,
                enum nps_ci_method method, struct nps_result *out);

/* NPS from a histogram of the 0..10 answers: counts[k] = answers with score k. */
int metrics_nps_from_scores(const int64_t counts[11], double z, enum nps_ci_method method,
                            struct nps_result *out);

/* eNPS (employees): the same arithmetic as metrics_nps(), kept as its own name. */
int metrics_enps(int64_t promoters, int64_t passives, int64_t detractors, double z,
                 enum nps_ci_method method, struct nps_result *out);

/* ---- CSAT, CES, loyalty, shares ---------------------------------------- */

/*
 * CSAT in percent: satisfied (answers 4-5 on a 1-5 scale) / total * 100.
 * *out_pct is NAN when total = 0.  ERR_INVALID when satisfied > total or a
 * count is negative or over METRICS_COUNT_MAX.
 */
int metrics_csat(int64_t satisfied, int64_t total, double *out_pct);

/* CSAT from a 1..5 histogram: counts[0] = answers "1" .. counts[4] = answers "5". */
int metrics_csat_from_scores(const int64_t counts[5], double *out_pct);

/*
 * Mean score of a histogram (CES, CSI, any rating): counts[i] answers with
 * score min_score + i, for i < n_counts.  *out_mean is NAN with no answers.
 * ERR_INVALID for a negative or oversized count.
 */
int metrics_mean_score(const int64_t *counts, size_t n_counts, int min_score, double *out_mean);

/*
 * Loyalty index in [-1, 1]: (positive - negative) / (positive + negative)
 * mentions; NAN when both are 0.  ERR_INVALID for negative counts.
 */
int metrics_loyalty_index(int64_t positive, int64_t negative, double *out_index);

/*
 * A plain share in [0, 1]: part / whole; NAN when whole = 0.  Used for
 * first-contact resolution (solved by the first assignee with no transfer
 * and no reopen / solved), abandonment, and SLA compliance per clock
 * (met / clocks that finished).  ERR_INVALID when part > whole or negative.
 */
int metrics_share(int64_t part, int64_t whole, double *out_share);

/* ---- contact-centre service -------------------------------------------- */

/*
 * How contacts abandoned in the queue count in the service level.
 * "Short" abandons are those that hung up before the threshold T.
 */
enum sl_abandon_rule {
    /*
     * The usual choice (and the default): abandons before T are left out
     * of the denominator (the caller gave up before we could be late);
     * abandons after T count as missed.
     * SL = answered_within / (answered + abandoned - abandoned_within).
     */
    SL_ABANDON_EXCLUDE_SHORT,
    /* Abandons ignored entirely: SL = answered_within / answered. */
    SL_ABANDON_IGNORE,
    /* Every abandon is a miss: SL = answered_within / (answered + abandoned). */
    SL_ABANDON_ALL_MISSED,
    /* Short abandons count as met: (answered_within + abandoned_within) / offered. */
    SL_ABANDON_SHORT_MET,
};

/* Queue outcomes of a period for one threshold T. */
struct contact_counts {
    int64_t n_answered;         /* contacts answered by an operator */
    int64_t n_answered_within;  /* of those, answered within T (wait <= T) */
    int64_t n_abandoned;        /* contacts that hung up / left while queued */
    int64_t n_abandoned_within; /* of those, left before T */
};

/*
 * Service level in [0, 1] under the given abandon rule; NAN when the
 * denominator is 0 (no contacts).  ERR_INVALID when a "within" count exceeds
 * its total or a count is negative.
 */
int metrics_service_level(const struct contact_counts *c, enum sl_abandon_rule rule,
                          double *out_share);

/*
 * Abandonment rate in [0, 1]: abandoned / (answered + abandoned); with
 * exclude_short the abandons before T are left out of both sides.
 * NAN with no contacts.
 */
int metrics_abandon_rate(const struct contact_counts *c, bool exclude_short, double *out_share);

/*
 * Average speed of answer, seconds: total queue wait of answered contacts /
 * answered.  NAN when n_answered = 0.  ERR_INVALID for negative inputs.
 */
int metrics_asa(double total_wait_s, int64_t n_answered, double *out_asa_s);

/*
 * Average handle time, seconds: (talk + hold + after-call work) / handled.
 * NAN when n_handled = 0.  ERR_INVALID for negative inputs.
 */
int metrics_aht(double total_talk_s, double total_hold_s, double total_wrap_s, int64_t n_handled,
                double *out_aht_s);

/* ---- Erlang C ------------------------------------------------------------ */

/* Forecast for one interval. */
struct erlang_c_input {
    double calls;    /* contacts arriving in the period, >= 0 */
    double period_s; /* length of the period, seconds, > 0 */
    double aht_s;    /* average handle time, seconds, > 0 */
    double answer_s; /* service-level threshold T, seconds, >= 0 */
};

struct erlang_c_result {
    double traffic_erl; /* offered load A = calls * aht / period, Erlangs */
    int64_t agents;     /* N, agents on the phones */
    bool is_overloaded; /* N <= A (with A > 0): the queue grows without bound */
    double p_wait;      /* Erlang C probability that a contact waits; 1 when overloaded */
    double
        service_level; /* share answered within T: 1 - P(wait) * e^(-(N-A) T / aht); 0 overloaded */
    double asa_s;      /* average speed of answer P(wait) * aht / (N - A), s; NAN when overloaded */
    double occupancy;  /* A / N, capped at 1 */
};

/*
 * Erlang C figures for a given number of agents (>= 1, <= 1,000,000).
 * P(wait) comes from the Erlang B recursion B(k) = A B(k-1) / (k + A B(k-1))
 * converted by C = N B / (N - A (1 - B)): no factorials, no powers, stable
 * for thousands of agents.  Returns 0 or ERR_INVALID for bad input.
 */
int erlang_c_eval(const struct erlang_c_input *in, int64_t agents, struct erlang_c_result *out);

/* What the staffing must achieve; fields left at their "none" value are not checked. */
struct erlang_c_target {
    double service_level; /* minimum share answered within answer_s, (0, 1); 0 = none */
    double asa_s;         /* maximum average speed of answer, seconds, > 0; 0 = none */
    double max_occupancy; /* maximum A / N, (0, 1]; 0 = none */
    double shrinkage;     /* share of paid time off the phones, [0, 0.99) (breaks, training) */
};

struct erlang_c_plan {
    struct erlang_c_result result; /* figures for the chosen number of agents */
    int64_t scheduled_agents;      /* ceil(agents / (1 - shrinkage)) */
};

/*
 * The fewest agents (>= 1) meeting every given target, searched upward from
 * floor(A) + 1 with the Erlang B recursion carried along (O(N) in total).
 * At least one of service_level and asa_s must be set.
 * Returns 0, ERR_INVALID for bad input or no target, ERR_TOOBIG when no
 * staffing up to 1,000,000 agents meets the targets.
 */
int erlang_c_solve(const struct erlang_c_input *in, const struct erlang_c_target *target,
                   struct erlang_c_plan *out);

/*
 * Agents to put on the schedule so that `agents` are on the phones after
 * shrinkage: ceil(agents / (1 - shrinkage)).  shrinkage in [0, 0.99).
 * Returns 0 or ERR_INVALID.
 */
int erlang_scheduled_agents(int64_t agents, double shrinkage, int64_t *out_scheduled);

#endif
