/*
 * analytics.h - the analytics part: surveys, rollups, trends and reports.
 *
 * Design.
 *
 * Rollups (rollup.c).  A consumer of the event log ("analytics.rollup")
 * runs in its own thread.  It reads events after its persisted cursor in
 * batches (up to 4096), marks the requests they touch, and recomputes what
 * each touched request contributes: its "fact" (created day, store,
 * channel, topic, kind, sentiment, assignee, first response time, solve
 * time, first-contact resolution), read from the request row.  The old fact
 * (an_facts) is subtracted and the new one added in in-memory hash
 * maps keyed by the packed rollup key, and one store job upserts the summed
 * deltas, the changed facts and the cursor together: a restart neither
 * loses nor double-counts anything, and facts make every change exact
 * (reclassification, reopening, reassignment, imported history whose
 * times arrive in the row and not as events).  Survey answers are
 * immutable, so "survey.answered" events are added straight from their
 * data.  Days are UTC days of the request's creation (cohorts: "of the
 * requests created that day, how many were answered within 24 h").
 *
 * Grains, so that each dashboard query sums a few thousand rows at most:
 *   an_roll_req      day x store x channel x topic x kind   (filtered reports)
 *   an_roll_store    day x store                            (totals, SLA)
 *   an_roll_chan     day x store x channel                  (volumes, loyalty index)
 *   an_roll_topic    day x store x topic                    (top reasons, trends)
 *   an_roll_operator day x operator x store                 (operator performance)
 *   an_roll_survey   day x store x channel x survey kind    (NPS, CSAT, CES, CSI, eNPS)
 *   an_roll_matrix   day x store x department x reason      (the task matrix)
 * Every row exists for its store and again for the whole chain (store_id 0),
 * and primary keys lead with store_id then day: a chain-wide view reads the
 * chain's rows only, a store or a region is a range scan per store.  A
 * report picks the smallest table holding every dimension it filters on.
 * A request created within the batch has no stored fact yet, so new
 * requests cost one row read and one fact write (bench/analytics/RESULTS.md).
 * A full rebuild (`otklik analytics rebuild`, POST /api/v1/analytics/rebuild)
 * reads the event log and the request rows once, on two threads from one
 * snapshot, sums the rollups in memory (an_roll_req's rows by sorting the
 * facts, the coarser grains from those rows), writes every table anew in key
 * order and swaps the new tables in, with the cursor, in one transaction
 * (rollup_rebuild.c).
 *
 * Surveys (surveys.c, survey_page.c).  Definitions (kind nps|csat|ces|csi|
 * enps, trigger, question, low score, per-customer minimum interval),
 * invitations and answers.  A second consumer ("analytics.surveys") invites
 * on request.status_changed to solved, order.status_changed to delivered,
 * new purchases (the purchases table, by id) and survey.requested events;
 * a periodic job invites employees to eNPS.  An invitation carries a token
 * "<id>.<mac>" where mac is libsodium crypto_auth (HMAC-SHA-512-256,
 * truncated to 128 bits) of the id under a secret kept in an_secrets.  The
 * invitation is queued with outbox_enqueue; when the channels part cannot
 * send yet the invitation keeps its link and records the failure.  The
 * public page GET/POST /s/{token} takes one answer per invitation (rate
 * limited per client address), classifies the comment (topic, sentiment),
 * and a low score opens a follow-up complaint for the store and the
 * department its reason points to.  eNPS answers store no invitation, user
 * or customer: only score, department and store.
 *
 * Trends (trends.c).  Daily counts per topic x store, topic x region and
 * topic chain-wide over the last 90 days, from an_roll_topic.
 *  - Spike: baseline = median of the previous 28 days (robust to earlier
 *    spikes and zeros), floored at 0.5/day; the day's count x is tested
 *    against Poisson(baseline) by its upper tail P(X >= x); an alert needs
 *    p < 1e-6 (a Bonferroni-style guard for ~2,000 series x days), x >= 5
 *    and x >= 3 x baseline.  Runs of alerting days are merged into one alert.
 *  - Rising: over the last 42 days, a Poisson log-linear regression
 *    (IRLS) of daily counts on time, tested by the likelihood-ratio
 *    statistic (chi-square, 1 df); it needs p < 1e-6, a fitted rise of at
 *    least 2x over the window, at least 10 requests in the last 14 days,
 *    and Mann-Kendall's S on the six weekly sums z >= 1.64 (rank-based, so
 *    one spike cannot pass for a trend).
 * Each alert is stored in an_alerts and raised as an "analytics.alert"
 * event with its evidence (series, baseline, fitted rate ratio, p-value).
 * Positive feedback (topic gratitude, positive sentiment) is tested the same
 * way and reported with "polarity":"positive".
 *
 * Reports (reports.c): JSON and CSV (?format=csv, RFC 4180 quoting) over
 * the rollups, filtered by period, region, store, channel, topic, operator,
 * and limited to the caller's scope (a director sees the store, a regional
 * manager the region).
 */
#ifndef OTKLIK_ANALYTICS_H
#define OTKLIK_ANALYTICS_H

#include "core/err.h"

#include <stdint.h>

struct app;
struct http_request;
struct http_response;
struct store;

/* Start the part's workers for app; 0 or an ERR_* code with details in err. */
int analytics_start(struct app *app, struct err_info *err);

/* Stop them (before the store closes). */
void analytics_stop(struct app *app);

/* ---- rollups (rollup.c) ------------------------------------------------ */

#define ANALYTICS_ROLLUP_BATCH 4096 /* events a rollup batch reads at most */
#define ANALYTICS_SURVEY_BATCH 1024 /* events a survey step reads at most */

/*
 * The worker takes one step (at most ANALYTICS_STEP_BATCHES batches of each
 * consumer) every ANALYTICS_PACE_MS (or longer, see analytics_pace_ms), or
 * at once while a step ends at that limit: a step then sums a tenth of a
 * second of events or more, so a rollup row touched by many requests is
 * written once per step instead of once per commit of the intake.
 */
#define ANALYTICS_PACE_MS 100
#define ANALYTICS_STEP_BATCHES 16

/*
 * Under a heavy intake (a step read ANALYTICS_BUSY_EVENTS or more) the next
 * step comes after ANALYTICS_BUSY_PACE_MS instead: a step dirties about one
 * page per store of every grain however many events it sums, so longer
 * steps write fewer pages per request (at 8,000 requests/s, 100 ms steps
 * made a fifth of the WAL).  Dashboards then trail by up to a second.
 */
#define ANALYTICS_BUSY_EVENTS 1000
#define ANALYTICS_BUSY_PACE_MS 1000

/* The wait before the next step, after one that read n_events. */
static inline int analytics_pace_ms(int64_t n_events)
{
    return n_events >= ANALYTICS_BUSY_EVENTS ? ANALYTICS_BUSY_PACE_MS : ANALYTICS_PACE_MS;
}

/*
 * Consume the events after the rollup cursor, at most max_batches batches
 * of up to ANALYTICS_ROLLUP_BATCH events; *out_n gets the number of events
 * read.  Safe to call from one thread at a time (the part's lock).  0 or an
 * ERR_*.
 */
int analytics_rollup_step(struct store *s, int max_batches, int64_t *out_n,
                          struct err_info *err);

struct rebuild_stats {
    int64_t n_events;   /* events scanned */
    int64_t n_requests; /* requests with a fact */
    int64_t n_answers;  /* survey answers rolled up */
    double scan_s;      /* reading the log and the requests, seconds */
    double write_s;     /* writing the tables, seconds */
    /* The parts, seconds, on two threads (rollup_rebuild.c): the job's thread reads
     * requests (requests_s) and makes the new tables while the helper reads
     * the log (events_s), then they share the rest of the requests (the helper's
     * half: requests_rest_s) and the helper sums the rollups (sum_s) while the job
     * writes the facts (facts_s) and, as their rows are ready, the rollup tables
     * (rollups_s), waiting wait_s of those for the helper; scan_s ends when the
     * job's thread has read its requests, write_s = facts_s + rollups_s; then the
     * new tables replace the old ones (swap_s). */
    double events_s;        /* the events and replies (survey answers parsed) */
    double requests_s;      /* the request rows read by the job's thread */
    double requests_rest_s; /* the request rows read by the helper */
    double facts_s;         /* writing the facts (an_facts) */
    double sum_s;           /* summing and ordering the rollup rows */
    double rollups_s;       /* writing the rollup tables */
    double wait_s;          /* of facts_s and rollups_s, waiting for the helper */
    double swap_s;          /* dropping the old tables, renaming the new ones */
    double commit_s;        /* the commit (the WAL written and synced) */
};

/* Recompute every rollup from the event log in one transaction. */
int analytics_rebuild(struct store *s, struct rebuild_stats *out, struct err_info *err);

/* ---- surveys (surveys.c) ----------------------------------------------- */

/* Consume events that trigger survey invitations (one batch of up to
 * ANALYTICS_SURVEY_BATCH events); 0 or ERR_*. */
int analytics_surveys_step(struct app *app, int64_t *out_n, struct err_info *err);

/*
 * Fill demo survey answers over the last `days` days (deterministic for a
 * seed): invitations and answers for solved requests and delivered orders,
 * and eNPS answers per store.  Low scores open follow-up requests.
 */
int analytics_seed_surveys(struct store *s, uint64_t seed, int n_answers, int days,
                           struct err_info *err);

/* ---- trends (trends.c) ------------------------------------------------- */

/*
 * Run the detectors over the rollups as of day today (UTC days since
 * 1970); new alerts are stored and raised as events.  *out_new counts them.
 */
int analytics_detect(struct store *s, int64_t today, int *out_new, struct err_info *err);

/* ---- periodic jobs (src/jobs/jobs_table.c) ----------------------------- */

int64_t analytics_tick_detect(struct app *app, int64_t now_ms);
int64_t analytics_tick_enps(struct app *app, int64_t now_ms);

/* ---- HTTP handlers (src/api/routes.c) ---------------------------------- */

int api_survey_page(struct http_request *req, struct http_response *resp);
int api_survey_answer(struct http_request *req, struct http_response *resp);
int api_surveys_list(struct http_request *req, struct http_response *resp);
int api_surveys_create(struct http_request *req, struct http_response *resp);
int api_surveys_invite(struct http_request *req, struct http_response *resp);
int api_surveys_invitations(struct http_request *req, struct http_response *resp);
int api_reports_overview(struct http_request *req, struct http_response *resp);
int api_reports_surveys(struct http_request *req, struct http_response *resp);
int api_reports_volumes(struct http_request *req, struct http_response *resp);
int api_reports_sla(struct http_request *req, struct http_response *resp);
int api_reports_reasons(struct http_request *req, struct http_response *resp);
int api_reports_operators(struct http_request *req, struct http_response *resp);
int api_reports_matrix(struct http_request *req, struct http_response *resp);
int api_reports_alerts(struct http_request *req, struct http_response *resp);
int api_analytics_rebuild(struct http_request *req, struct http_response *resp);
int api_analytics_detect(struct http_request *req, struct http_response *resp);

/* ---- command line (analytics_cli.c) ------------------------------------ */

/* `otklik analytics rebuild|detect|seed-surveys ...`; exit status. */
int analytics_main(int argc, char **argv);

#endif
