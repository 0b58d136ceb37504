/*
 * metrics.c - NPS with confidence intervals, CSAT, loyalty, service level
 * and Erlang C staffing.  Pure arithmetic on counts; the formulas and their
 * edge cases are documented in metrics.h and worked through by hand in
 * tests/unit/test_metrics.c.
 */
#include "analytics/metrics.h"

#include "core/err.h"

#include <math.h>

#define ERLANG_MAX_AGENTS INT64_C(1000000)

static bool count_ok(int64_t c)
{
    return c >= 0 && c <= METRICS_COUNT_MAX;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- NPS ------------------------------------------------------------------ */

int metrics_nps(int64_t promoters, int64_t passives, int64_t detractors, double z,
                enum nps_ci_method method, struct nps_result *out)
{
    if (!count_ok(promoters) || !count_ok(passives) || !count_ok(detractors) ||
        !count_ok(promoters + passives + detractors) || !(z > 0 && z <= 10) ||
        (method != NPS_CI_WALD && method != NPS_CI_ADJUSTED_WALD))
        return ERR_INVALID;
    struct nps_result r;
    r.n = promoters + passives + detractors;
    r.nps_pts = r.promoters_pct = r.passives_pct = r.detractors_pct = NAN;
    r.se_pts = r.ci_low_pts = r.ci_high_pts = NAN;
    double n = (double)r.n;
    if (r.n > 0) {
        r.promoters_pct = 100.0 * (double)promoters / n;
        r.passives_pct = 100.0 * (double)passives / n;
        r.detractors_pct = 100.0 * (double)detractors / n;
        /* From the counts, not the rounded shares: 50 - 20 is exactly 30. */
        r.nps_pts = 100.0 * (double)(promoters - detractors) / n;
    }
    double p, d, m;
    if (method == NPS_CI_WALD) {
        if (r.n == 0)
            goto done;
        p = (double)promoters / n;
        d = (double)detractors / n;
        m = n;
    } else {
        m = n + 3.0;
        p = ((double)promoters + 0.75) / m;
        d = ((double)detractors + 0.75) / m;
    }
    double diff = p - d;
    /* Var of a trinomial difference; never negative in exact arithmetic. */
    double var = (p + d - diff * diff) / m;
    if (var < 0)
        var = 0;
    double se = sqrt(var);
    r.se_pts = 100.0 * se;
    r.ci_low_pts = clamp(100.0 * (diff - z * se), -100.0, 100.0);
    r.ci_high_pts = clamp(100.0 * (diff + z * se), -100.0, 100.0);
done:
    *out = r;
    return 0;
}

int metrics_nps_from_scores(const int64_t counts[11], double z, enum nps_ci_method method,
                            struct nps_result *out)
{
    int64_t groups[3] = {0, 0, 0}; /* detractors 0-6, passives 7-8, promoters 9-10 */
    for (int k = 0; k <= 10; k++) {
        if (!count_ok(counts[k]))
            return ERR_INVALID;
        groups[k <= 6 ? 0 : k <= 8 ? 1 : 2] += counts[k];
    }
    return metrics_nps(groups[2], groups[1], groups[0], z, method, out);
}

int metrics_enps(int64_t promoters, int64_t passives, int64_t detractors, double z,
                 enum nps_ci_method method, struct nps_result *out)
{
    return metrics_nps(promoters, passives, detractors, z, method, out);
}

/* ---- CSAT, CES, loyalty, shares ------------------------------------------ */

int metrics_share(int64_t part, int64_t whole, double *out_share)
{
    if (!count_ok(part) || !count_ok(whole) || part > whole)
        return ERR_INVALID;
    *out_share = whole == 0 ? NAN : (double)part / (double)whole;
    return 0;
}

int metrics_csat(int64_t satisfied, int64_t total, double *out_pct)
{
    double share;
    int rc = metrics_share(satisfied, total, &share);
    if (rc == 0)
        *out_pct = 100.0 * share;
    return rc;
}

int metrics_csat_from_scores(const int64_t counts[5], double *out_pct)
{
    int64_t total = 0;
    for (int i = 0; i < 5; i++) {
        if (!count_ok(counts[i]))
            return ERR_INVALID;
        total += counts[i];
    }
    return metrics_csat(counts[3] + counts[4], total, out_pct);
}

int metrics_mean_score(const int64_t *counts, size_t n_counts, int min_score, double *out_mean)
{
    double sum = 0, n = 0;
    for (size_t i = 0; i < n_counts; i++) {
        if (!count_ok(counts[i]))
            return ERR_INVALID;
        n += (double)counts[i];
        sum += (double)counts[i] * (double)(min_score + (int64_t)i);
    }
    *out_mean = n == 0 ? NAN : sum / n;
    return 0;
}

int metrics_loyalty_index(int64_t positive, int64_t negative, double *out_index)
{
    if (!count_ok(positive) || !count_ok(negative))
        return ERR_INVALID;
    int64_t total = positive + negative;
    *out_index = total == 0 ? NAN : (double)(positive - negative) / (double)total;
    return 0;
}

/* ---- contact-centre service ---------------------------------------------- */

static bool contacts_ok(const struct contact_counts *c)
{
    return count_ok(c->n_answered) && count_ok(c->n_answered_within) && count_ok(c->n_abandoned) &&
           count_ok(c->n_abandoned_within) && c->n_answered_within <= c->n_answered &&
           c->n_abandoned_within <= c->n_abandoned;
}

int metrics_service_level(const struct contact_counts *c, enum sl_abandon_rule rule,
                          double *out_share)
{
    if (!contacts_ok(c))
        return ERR_INVALID;
    int64_t met = c->n_answered_within, den;
    switch (rule) {
    case SL_ABANDON_EXCLUDE_SHORT:
        den = c->n_answered + c->n_abandoned - c->n_abandoned_within;
        break;
    case SL_ABANDON_IGNORE:
        den = c->n_answered;
        break;
    case SL_ABANDON_ALL_MISSED:
        den = c->n_answered + c->n_abandoned;
        break;
    case SL_ABANDON_SHORT_MET:
        met += c->n_abandoned_within;
        den = c->n_answered + c->n_abandoned;
        break;
    default:
        return ERR_INVALID;
    }
    return metrics_share(met, den, out_share);
}

int metrics_abandon_rate(const struct contact_counts *c, bool exclude_short, double *out_share)
{
    if (!contacts_ok(c))
        return ERR_INVALID;
    int64_t abandoned = c->n_abandoned - (exclude_short ? c->n_abandoned_within : 0);
    return metrics_share(abandoned, c->n_answered + abandoned, out_share);
}

int metrics_asa(double total_wait_s, int64_t n_answered, double *out_asa_s)
{
    if (!(total_wait_s >= 0) || !isfinite(total_wait_s) || !count_ok(n_answered))
        return ERR_INVALID;
    *out_asa_s = n_answered == 0 ? NAN : total_wait_s / (double)n_answered;
    return 0;
}

int metrics_aht(double total_talk_s, double total_hold_s, double total_wrap_s, int64_t n_handled,
                double *out_aht_s)
{
    double total = total_talk_s + total_hold_s + total_wrap_s;
    if (!(total_talk_s >= 0) || !(total_hold_s >= 0) || !(total_wrap_s >= 0) || !isfinite(total) ||
        !count_ok(n_handled))
        return ERR_INVALID;
    *out_aht_s = n_handled == 0 ? NAN : total / (double)n_handled;
    return 0;
}

/* ---- Erlang C ---------------------------------------------------------------- */

static bool erlang_input_ok(const struct erlang_c_input *in)
{
    return in->calls >= 0 && in->calls <= 1e9 && in->period_s > 0 && in->period_s <= 1e9 &&
           in->aht_s > 0 && in->aht_s <= 1e7 && in->answer_s >= 0 && in->answer_s <= 1e7 &&
           in->calls * in->aht_s / in->period_s <= (double)ERLANG_MAX_AGENTS / 2;
}

/* One step of the Erlang B recursion: B(k) from B(k-1). */
static double erlang_b_next(double traffic_erl, double b_prev, int64_t k)
{
    double ab = traffic_erl * b_prev;
    return ab / ((double)k + ab);
}

/* Fill the figures for N agents given A and Erlang B(N, A). */
static void erlang_figures(const struct erlang_c_input *in, double traffic_erl, int64_t agents,
                           double erlang_b, struct erlang_c_result *out)
{
    double n = (double)agents;
    out->traffic_erl = traffic_erl;
    out->agents = agents;
    out->is_overloaded = false;
    if (traffic_erl == 0) {
        out->p_wait = 0;
        out->service_level = 1;
        out->asa_s = 0;
        out->occupancy = 0;
        return;
    }
    if (n <= traffic_erl) {
        /* No steady state: every contact waits and the queue keeps growing. */
        out->is_overloaded = true;
        out->p_wait = 1;
        out->service_level = 0;
        out->asa_s = NAN;
        out->occupancy = 1;
        return;
    }
    double c = n * erlang_b / (n - traffic_erl * (1 - erlang_b));
    c = clamp(c, 0, 1);
    out->p_wait = c;
    out->service_level = clamp(1 - c * exp(-(n - traffic_erl) * in->answer_s / in->aht_s), 0, 1);
    out->asa_s = c * in->aht_s / (n - traffic_erl);
    out->occupancy = traffic_erl / n;
}

int erlang_c_eval(const struct erlang_c_input *in, int64_t agents, struct erlang_c_result *out)
{
    if (!erlang_input_ok(in) || agents < 1 || agents > ERLANG_MAX_AGENTS)
        return ERR_INVALID;
    double a = in->calls * in->aht_s / in->period_s;
    double b = 1; /* B(0) = 1 */
    for (int64_t k = 1; k <= agents; k++)
        b = erlang_b_next(a, b, k);
    erlang_figures(in, a, agents, b, out);
    return 0;
}

/* Tolerance for comparing computed figures with targets typed by people. */
#define TARGET_EPS 1e-12

static bool meets(const struct erlang_c_result *r, const struct erlang_c_target *t)
{
    if (r->is_overloaded)
        return false;
    if (t->service_level > 0 && r->service_level < t->service_level - TARGET_EPS)
        return false;
    if (t->asa_s > 0 && r->asa_s > t->asa_s + TARGET_EPS)
        return false;
    if (t->max_occupancy > 0 && r->occupancy > t->max_occupancy + TARGET_EPS)
        return false;
    return true;
}

int erlang_c_solve(const struct erlang_c_input *in, const struct erlang_c_target *target,
                   struct erlang_c_plan *out)
{
    const struct erlang_c_target *t = target;
    if (!erlang_input_ok(in) || !(t->service_level >= 0 && t->service_level < 1) ||
        !(t->asa_s >= 0 && t->asa_s <= 1e7) || !(t->max_occupancy >= 0 && t->max_occupancy <= 1) ||
        !(t->shrinkage >= 0 && t->shrinkage < 0.99) || (t->service_level == 0 && t->asa_s == 0))
        return ERR_INVALID;
    double a = in->calls * in->aht_s / in->period_s;
    double b = 1;
    struct erlang_c_result r = {0};
    int64_t agents = 0;
    for (int64_t k = 1; k <= ERLANG_MAX_AGENTS; k++) {
        b = erlang_b_next(a, b, k);
        if ((double)k <= a)
            continue; /* overloaded: cannot meet anything */
        erlang_figures(in, a, k, b, &r);
        if (meets(&r, t)) {
            agents = k;
            break;
        }
    }
    if (agents == 0)
        return ERR_TOOBIG;
    out->result = r;
    return erlang_scheduled_agents(agents, t->shrinkage, &out->scheduled_agents);
}

int erlang_scheduled_agents(int64_t agents, double shrinkage, int64_t *out_scheduled)
{
    if (agents < 0 || agents > ERLANG_MAX_AGENTS || !(shrinkage >= 0 && shrinkage < 0.99))
        return ERR_INVALID;
    /* The epsilon keeps 14 / 0.7 = 20.000000000000004 from becoming 21. */
    int64_t scheduled = (int64_t)ceil((double)agents / (1 - shrinkage) - 1e-9);
    *out_scheduled = scheduled < agents ? agents : scheduled;
    return 0;
}
