/*
 * reports_surveys.c - survey reports (NPS, CSAT, CES, CSI, eNPS over time
 * with 95% intervals), the department x reason task matrix with its trend,
 * alerts with their evidence, the executive overview, and the admin
 * endpoints that rebuild rollups and run the detector now.
 */
#include "analytics/reports_int.h"
#include "analytics/surveys_int.h"

#include "analytics/metrics.h"
#include "api/api.h"
#include "core/clock.h"
#include "core/mem.h"
#include "store/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define Z95 1.959963984540054
#define ENPS_MIN_GROUP 5 /* eNPS figures of fewer answers are withheld (anonymity) */

static json_t *columns(const char *const *names)
{
    json_t *a = json_array();
    for (int i = 0; names[i]; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

/* One survey figure row from summed measures v (N_SMEASURES) of kind k. */
static void survey_fields(json_t *row, const char *kind, const int64_t *v)
{
    double score = NAN, lo = NAN, hi = NAN;
    bool is_nps = strcmp(kind, "nps") == 0 || strcmp(kind, "enps") == 0;
    bool withheld = strcmp(kind, "enps") == 0 && v[S_N] < ENPS_MIN_GROUP;
    if (is_nps) {
        struct nps_result nr;
        if (metrics_nps(v[S_PROMOTERS], v[S_PASSIVES], v[S_DETRACTORS], Z95,
                        NPS_CI_ADJUSTED_WALD, &nr) == 0 && v[S_N] > 0) {
            score = nr.nps_pts;
            lo = nr.ci_low_pts;
            hi = nr.ci_high_pts;
        }
    } else if (strcmp(kind, "csat") == 0) {
        /* Wilson interval of the share of 4-5 answers, in percent. */
        if (metrics_csat(v[S_SATISFIED], v[S_N], &score) == 0 && v[S_N] > 0) {
            double n = (double)v[S_N], p = score / 100, z2 = Z95 * Z95;
            double c = (p + z2 / (2 * n)) / (1 + z2 / n);
            double h = Z95 * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
            lo = (c - h) * 100;
            hi = (c + h) * 100;
        }
    } else {
        score = v[S_N] > 0 ? (double)v[S_SUM] / (double)v[S_N] : NAN;
    }
    json_object_set_new(row, "kind", json_string(kind));
    json_object_set_new(row, "n", json_integer(v[S_N]));
    json_object_set_new(row, "score", report_real(withheld ? NAN : score));
    json_object_set_new(row, "ci_low", report_real(withheld ? NAN : lo));
    json_object_set_new(row, "ci_high", report_real(withheld ? NAN : hi));
    json_object_set_new(row, "mean",
                        report_real(withheld || !v[S_N] ? NAN : (double)v[S_SUM] / (double)v[S_N]));
    json_object_set_new(row, "low", json_integer(withheld ? 0 : v[S_LOW]));
    if (withheld)
        json_object_set_new(row, "withheld", json_true());
}

/* Survey sums by bucket and kind (key = bucket << 24 | kind) and totals by kind. */
static void survey_sums(struct db *r, const struct rfilter *f, struct kmap *m, struct kmap *tot)
{
    struct buf sql;
    buf_init(&sql, 0);
    buf_puts(&sql, "SELECT day, kind, sum(n), sum(score_sum), sum(n_promoters), sum(n_passives), "
                   "sum(n_detractors), sum(n_satisfied), sum(n_low) FROM an_roll_survey");
    report_where(&sql, f, D_CHANNEL);
    if (f->channel == NULL) /* the rows that already sum every channel */
        buf_puts(&sql, " AND channel = '*'");
    buf_puts(&sql, " GROUP BY day, kind");
    sqlite3_stmt *st = report_prepare(r, buf_cstr(&sql));
    report_bind(st, f, D_CHANNEL);
    while (db_step(r, st, NULL) == 1) {
        const struct survey_kind_def *k = survey_kind_find(db_col_text(st, 1));
        if (k == NULL)
            continue;
        uint64_t ki = (uint64_t)(k - survey_kinds);
        int64_t *v = m ? kmap_get(m, (uint64_t)report_bucket_of(f->bucket, db_col_i64(st, 0)) << 24 | ki)
                       : NULL;
        int64_t *t = kmap_get(tot, ki);
        for (int j = 0; j < N_SMEASURES; j++) {
            if (v)
                v[j] += db_col_i64(st, 2 + j);
            t[j] += db_col_i64(st, 2 + j);
        }
    }
    sqlite3_finalize(st);
    buf_free(&sql);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int api_reports_surveys(struct http_request *req, struct http_response *resp)
{
    struct rfilter f;
    int rc;
    struct db *r = report_begin(req, F_CHANNEL, &f, &rc);
    if (r == NULL)
        return rc;
    struct kmap m, tot;
    kmap_init(&m, N_SMEASURES, 256);
    kmap_init(&tot, N_SMEASURES, 8);
    survey_sums(r, &f, &m, &tot);
    store_reader_done(req->app->store, r);
    uint64_t *keys = xmalloc((m.n + 1) * sizeof *keys);
    size_t n = 0;
    for (size_t i = 0; i < m.cap; i++)
        if (m.keys[i])
            keys[n++] = m.keys[i] - 1;
    qsort(keys, n, sizeof *keys, cmp_u64);
    json_t *rows = json_array(), *totals = json_object();
    for (size_t i = 0; i < n; i++) {
        char day[16];
        report_day_text((int64_t)(keys[i] >> 24), day, sizeof day);
        json_t *row = json_pack("{s:s}", "period", day);
        survey_fields(row, survey_kinds[keys[i] & 0xFF].kind, kmap_get(&m, keys[i]));
        json_array_append_new(rows, row);
    }
    for (int k = 0; survey_kinds[k].kind; k++) {
        json_t *row = json_object();
        survey_fields(row, survey_kinds[k].kind, kmap_get(&tot, (uint64_t)k));
        json_object_set_new(totals, survey_kinds[k].kind, row);
    }
    free(keys);
    kmap_free(&m);
    kmap_free(&tot);
    static const char *const cols[] = {"period",  "kind", "n",   "score", "ci_low",
                                       "ci_high", "mean", "low", NULL};
    return report_reply(
        req, resp, &f, "surveys",
        json_pack("{s:o, s:o, s:o, s:s}", "columns", columns(cols), "rows", rows, "total", totals,
                  "interval", "95%: adjusted Wald for NPS/eNPS (points), Wilson for CSAT (%)"));
}

/* Matrix sums of a period into a map keyed by reason index (n, n_low). */
static void matrix_sums(struct db *r, const struct rfilter *f, int64_t (*v)[2])
{
    struct buf sql;
    buf_init(&sql, 0);
    buf_puts(&sql, "SELECT reason, sum(n), sum(n_low) FROM an_roll_matrix");
    report_where(&sql, f, 0);
    buf_puts(&sql, " GROUP BY reason");
    sqlite3_stmt *st = report_prepare(r, buf_cstr(&sql));
    report_bind(st, f, 0);
    while (db_step(r, st, NULL) == 1) {
        int k = survey_reason_find(db_col_text(st, 0));
        if (k < 0)
            continue;
        v[k][0] += db_col_i64(st, 1);
        v[k][1] += db_col_i64(st, 2);
    }
    sqlite3_finalize(st);
    buf_free(&sql);
}

int api_reports_matrix(struct http_request *req, struct http_response *resp)
{
    struct rfilter f;
    int rc;
    struct db *r = report_begin(req, 0, &f, &rc);
    if (r == NULL)
        return rc;
    enum { NR = 32 };
    int64_t cur[NR][2] = {{0}}, prev[NR][2] = {{0}};
    matrix_sums(r, &f, cur);
    struct rfilter pf = f;
    pf.to_day = f.from_day - 1;
    pf.from_day = f.from_day - (f.to_day - f.from_day + 1);
    matrix_sums(r, &pf, prev);
    json_t *rows = json_array();
    for (int k = 0; survey_reasons[k].code && k < NR; k++) {
        if (cur[k][0] == 0 && prev[k][0] == 0)
            continue;
        const struct survey_reason *sr = &survey_reasons[k];
        char dname[128] = "";
        sqlite3_stmt *st = db_stmt(r, "SELECT name FROM departments WHERE code = $1");
        db_bind_text(st, 1, sr->department, -1);
        if (db_step(r, st, NULL) == 1)
            snprintf(dname, sizeof dname, "%s", db_col_text(st, 0));
        sqlite3_reset(st);
        int64_t d = cur[k][1] - prev[k][1];
        json_array_append_new(
            rows, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:I}", "department",
                            sr->department, "department_name", dname[0] ? dname : sr->department,
                            "reason", sr->code, "reason_label", sr->label_ru, "low",
                            (json_int_t)cur[k][1], "answers", (json_int_t)cur[k][0],
                            "previous_low", (json_int_t)prev[k][1], "trend",
                            d > 0 ? "up" : d < 0 ? "down" : "flat", "change", (json_int_t)d));
    }
    store_reader_done(req->app->store, r);
    static const char *const cols[] = {"department", "department_name", "reason", "reason_label",
                                       "low",        "answers",         "previous_low", "trend",
                                       "change",     NULL};
    return report_reply(req, resp, &f, "task-matrix",
                        json_pack("{s:o, s:o}", "columns", columns(cols), "rows", rows));
}

int api_reports_alerts(struct http_request *req, struct http_response *resp)
{
    struct rfilter f;
    int rc;
    struct db *r = report_begin(req, F_TOPIC, &f, &rc);
    if (r == NULL)
        return rc;
    /* A store's alerts belong to it; region alerts to the region; chain alerts to everyone
     * who sees everything. */
    struct buf sql;
    buf_init(&sql, 0);
    buf_puts(&sql, "SELECT a.id, a.kind, a.topic, a.scope, coalesce(s.code, ''), "
                   "CASE WHEN a.scope = 'region' THEN a.region ELSE coalesce(s.region, '') END, "
                   "a.day, a.score, a.p_value, a.evidence FROM an_alerts a LEFT JOIN stores s "
                   "ON s.id = a.store_id WHERE a.day >= $1 AND a.day <= $2");
    if (f.store_id)
        buf_puts(&sql, " AND a.store_id = $3");
    if (f.region)
        buf_puts(&sql, " AND (a.region = $4 OR s.region = $4)");
    if (f.topic)
        buf_puts(&sql, " AND a.topic = $6");
    buf_puts(&sql, " ORDER BY a.day DESC, a.score DESC LIMIT 500");
    sqlite3_stmt *st = report_prepare(r, buf_cstr(&sql));
    report_bind(st, &f, D_TOPIC);
    json_t *rows = json_array();
    while (db_step(r, st, NULL) == 1) {
        char day[16];
        report_day_text(db_col_i64(st, 6), day, sizeof day);
        json_t *ev = json_loads(db_col_text(st, 9), 0, NULL);
        const char *pol = json_string_value(json_object_get(ev, "polarity"));
        json_array_append_new(
            rows, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o}", "id",
                            (json_int_t)db_col_i64(st, 0), "kind", db_col_text(st, 1), "topic",
                            db_col_text(st, 2), "scope", db_col_text(st, 3), "store",
                            db_col_text(st, 4), "region", db_col_text(st, 5), "day", day, "score",
                            report_real(sqlite3_column_double(st, 7)), "p_value",
                            json_real(sqlite3_column_double(st, 8)), "polarity",
                            pol ? pol : "negative", "evidence", ev ? ev : json_null()));
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    store_reader_done(req->app->store, r);
    static const char *const cols[] = {"id",    "kind",    "topic",    "scope",    "store",
                                       "region", "day",    "score",    "p_value",  "polarity",
                                       "evidence", NULL};
    return report_reply(req, resp, &f, "alerts",
                        json_pack("{s:o, s:o}", "columns", columns(cols), "rows", rows));
}

int api_reports_overview(struct http_request *req, struct http_response *resp)
{
    struct rfilter f;
    int rc;
    struct db *r = report_begin(req, F_CHANNEL, &f, &rc);
    if (r == NULL)
        return rc;
    struct kmap tot;
    kmap_init(&tot, N_SMEASURES, 8);
    survey_sums(r, &f, NULL, &tot);
    unsigned dims;
    const char *table = report_request_table(&f, &dims);
    struct buf sql;
    buf_init(&sql, 0);
    buf_printf(&sql, "SELECT sum(n_created), sum(n_negative), sum(n_positive), sum(n_frt_24h), "
                     "sum(n_solved_1d), sum(n_solved), sum(n_fcr) FROM %s", table);
    report_where(&sql, &f, dims);
    sqlite3_stmt *st = report_prepare(r, buf_cstr(&sql));
    report_bind(st, &f, dims);
    int64_t v[7] = {0};
    if (db_step(r, st, NULL) == 1)
        for (int k = 0; k < 7; k++)
            v[k] = db_col_i64(st, k);
    sqlite3_finalize(st);
    buf_free(&sql);
    store_reader_done(req->app->store, r);
    json_t *rows = json_array();
    for (int k = 0; survey_kinds[k].kind; k++) {
        json_t *row = json_pack("{s:s}", "metric", survey_kinds[k].kind);
        survey_fields(row, survey_kinds[k].kind, kmap_get(&tot, (uint64_t)k));
        json_object_set(row, "value", json_object_get(row, "score"));
        json_array_append_new(rows, row);
    }
    kmap_free(&tot);
    double li, s1 = NAN, s2 = NAN, s3 = NAN;
    if (metrics_loyalty_index(v[2], v[1], &li) != 0)
        li = NAN;
    metrics_share(v[3], v[0], &s1);
    metrics_share(v[4], v[0], &s2);
    metrics_share(v[6], v[5], &s3);
    json_array_append_new(rows, json_pack("{s:s, s:I}", "metric", "requests", "value",
                                          (json_int_t)v[0]));
    json_array_append_new(rows, json_pack("{s:s, s:o}", "metric", "loyalty_index", "value",
                                          report_real(li)));
    json_array_append_new(rows, json_pack("{s:s, s:o}", "metric", "frt_24h_pct", "value",
                                          report_real(s1 * 100)));
    json_array_append_new(rows, json_pack("{s:s, s:o}", "metric", "solved_1d_pct", "value",
                                          report_real(s2 * 100)));
    json_array_append_new(rows, json_pack("{s:s, s:o}", "metric", "fcr_pct", "value",
                                          report_real(s3 * 100)));
    static const char *const cols[] = {"metric", "value", "n", "ci_low", "ci_high", NULL};
    return report_reply(req, resp, &f, "overview",
                        json_pack("{s:o, s:o}", "columns", columns(cols), "rows", rows));
}

int api_analytics_rebuild(struct http_request *req, struct http_response *resp)
{
    struct analytics *an = analytics_of(req->app);
    struct rebuild_stats st;
    if (an)
        pthread_mutex_lock(&an->mu);
    int rc = analytics_rebuild(req->app->store, &st, &req->err);
    if (an)
        pthread_mutex_unlock(&an->mu);
    if (rc != 0)
        return rc;
    http_reply_json(resp, 200, json_pack("{s:I, s:I, s:I, s:f, s:f}", "events",
                                         (json_int_t)st.n_events, "requests",
                                         (json_int_t)st.n_requests, "answers",
                                         (json_int_t)st.n_answers, "scan_s", st.scan_s, "write_s",
                                         st.write_s));
    return 0;
}

int api_analytics_detect(struct http_request *req, struct http_response *resp)
{
    int n = 0;
    int rc = analytics_detect(req->app->store, clock_now_ms() / DAY_MS, &n, &req->err);
    if (rc != 0)
        return rc;
    http_reply_json(resp, 200, json_pack("{s:i}", "new_alerts", n));
    return 0;
}
