/*
 * reports.c - request reports over the rollups: volumes by channel with
 * the loyalty index, SLA compliance (first response within 24 h, solved
 * within a day, first-contact resolution), top reasons with the change
 * against the previous period, and operator performance.  Each is a
 * "columns"+"rows" table (so CSV comes for free) plus totals.
 */
#include "analytics/reports_int.h"

#include "analytics/metrics.h"
#include "api/api.h"
#include "core/mem.h"
#include "store/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUMS                                                                                       \
    "sum(n_created), sum(n_negative), sum(n_neutral), sum(n_positive), sum(n_responded), "         \
    "sum(frt_sum_s), sum(n_frt_24h), sum(n_solved), sum(solve_sum_s), sum(n_solved_1d), "          \
    "sum(n_fcr)"

/* ---- bucketed sums: key = bucket day << 24 | group ------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The map's keys, sorted (caller frees). */
static uint64_t *sorted_keys(const struct kmap *m, size_t *n)
{
    uint64_t *k = xmalloc((m->n + 1) * sizeof *k);
    *n = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            k[(*n)++] = m->keys[i] - 1;
    qsort(k, *n, sizeof *k, cmp_u64);
    return k;
}

static double share_pct(int64_t part, int64_t whole)
{
    double s;
    return metrics_share(part, whole, &s) == 0 ? s * 100.0 : NAN;
}

static double avg(int64_t sum, int64_t n)
{
    return n > 0 ? (double)sum / (double)n : NAN;
}

static double loyalty(int64_t pos, int64_t neg)
{
    double v;
    return metrics_loyalty_index(pos, neg, &v) == 0 ? v : NAN;
}

/* The SLA columns of a measure vector into row. */
static void sla_fields(json_t *row, const int64_t *v)
{
    json_object_set_new(row, "created", json_integer(v[M_CREATED]));
    json_object_set_new(row, "responded", json_integer(v[M_RESPONDED]));
    json_object_set_new(row, "frt_avg_s", report_real(avg(v[M_FRT_SUM_S], v[M_RESPONDED])));
    json_object_set_new(row, "frt_24h_pct", report_real(share_pct(v[M_FRT_24H], v[M_CREATED])));
    json_object_set_new(row, "solved", json_integer(v[M_SOLVED]));
    json_object_set_new(row, "solve_avg_s", report_real(avg(v[M_SOLVE_SUM_S], v[M_SOLVED])));
    json_object_set_new(row, "solved_1d_pct",
                        report_real(share_pct(v[M_SOLVED_1D], v[M_CREATED])));
    json_object_set_new(row, "fcr_pct", report_real(share_pct(v[M_FCR], v[M_SOLVED])));
}

static json_t *columns(const char *const *names)
{
    json_t *a = json_array();
    for (int i = 0; names[i]; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

/* Sum the request measures of the filtered table by bucket (group 0). */
static void sums_by_bucket(struct db *r, const struct rfilter *f, struct kmap *m, int64_t *total)
{
    unsigned dims;
    const char *table = report_request_table(f, &dims);
    struct buf sql;
    buf_init(&sql, 0);
    buf_printf(&sql, "SELECT day, " SUMS " FROM %s", table);
    report_where(&sql, f, dims);
    buf_puts(&sql, " GROUP BY day");
    sqlite3_stmt *st = report_prepare(r, buf_cstr(&sql));
    report_bind(st, f, dims);
    while (db_step(r, st, NULL) == 1) {
        uint64_t key = (uint64_t)report_bucket_of(f->bucket, db_col_i64(st, 0)) << 24;
        int64_t *v = kmap_get(m, key);
        for (int k = 0; k < N_MEASURES; k++) {
            v[k] += db_col_i64(st, 1 + k);
            total[k] += db_col_i64(st, 1 + k);
        }
    }
    sqlite3_finalize(st);
    buf_free(&sql);
}

int api_reports_sla(struct http_request *req, struct http_response *resp)
{
    struct rfilter f;
    int rc;
    struct db *r = report_begin(req, F_CHANNEL | F_TOPIC | F_OPERATOR, &f, &rc);
    if (r == NULL)
        return rc;
    struct kmap m;
    kmap_init(&m, N_MEASURES, 64);
    int64_t total[N_MEASURES] = {0};
    sums_by_bucket(r, &f, &m, total);
    store_reader_done(req->app->store, r);
    size_t n;
    uint64_t *keys = sorted_keys(&m, &n);
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        char day[16];
        report_day_text((int64_t)(keys[i] >> 24), day, sizeof day);
        json_t *row = json_pack("{s:s}", "period", day);
        sla_fields(row, kmap_get(&m, keys[i]));
        json_array_append_new(rows, row);
    }
    json_t *tot = json_object();
    sla_fields(tot, total);
    static const char *const cols[] = {"period", "created", "responded", "frt_avg_s",
                                       "frt_24h_pct", "solved", "solve_avg_s", "solved_1d_pct",
                                       "fcr_pct", NULL};
    free(keys);
    kmap_free(&m);
    return report_reply(req, resp, &f, "sla",
                        json_pack("{s:o, s:o, s:o, s:s}", "columns", columns(cols), "rows", rows,
                                  "total", tot, "clocks",
                                  "first response within 24 h; solved within 1 day; FCR = "
                                  "solved with at most one reply and never reopened"));
}

int api_reports_volumes(struct http_request *req, struct http_response *resp)
{
    struct rfilter f;
    int rc;
    struct db *r = report_begin(req, F_CHANNEL | F_TOPIC, &f, &rc);
    if (r == NULL)
        return rc;
    unsigned dims = f.topic ? D_CHANNEL | D_TOPIC : D_CHANNEL;
    struct buf sql;
    buf_init(&sql, 0);
    buf_printf(&sql, "SELECT day, channel, sum(n_created), sum(n_negative), sum(n_neutral), "
                     "sum(n_positive) FROM %s", f.topic ? "an_roll_req" : "an_roll_chan");
    report_where(&sql, &f, dims);
    buf_puts(&sql, " GROUP BY day, channel");
    sqlite3_stmt *st = report_prepare(r, buf_cstr(&sql));
    report_bind(st, &f, dims);
    struct kmap m, by_ch;
    kmap_init(&m, 4, 256);
    kmap_init(&by_ch, 4, 32);
    while (db_step(r, st, NULL) == 1) {
        int ch = model_find(model_channels, db_col_text(st, 1));
        if (ch < 0)
            continue;
        uint64_t key = (uint64_t)report_bucket_of(f.bucket, db_col_i64(st, 0)) << 24 | (uint64_t)ch;
        int64_t *v = kmap_get(&m, key), *t = kmap_get(&by_ch, (uint64_t)ch);
        for (int k = 0; k < 4; k++) {
            v[k] += db_col_i64(st, 2 + k);
            t[k] += db_col_i64(st, 2 + k);
        }
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    store_reader_done(req->app->store, r);
    size_t n;
    uint64_t *keys = sorted_keys(&m, &n);
    json_t *rows = json_array(), *totals = json_array();
    for (size_t i = 0; i < n; i++) {
        char day[16];
        report_day_text((int64_t)(keys[i] >> 24), day, sizeof day);
        const int64_t *v = kmap_get(&m, keys[i]);
        json_array_append_new(rows, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "period", day,
                                              "channel", model_channels[keys[i] & 0xFFFFFF],
                                              "created", (json_int_t)v[0], "negative",
                                              (json_int_t)v[1], "neutral", (json_int_t)v[2],
                                              "positive", (json_int_t)v[3], "loyalty_index",
                                              report_real(loyalty(v[3], v[1]))));
    }
    free(keys);
    keys = sorted_keys(&by_ch, &n);
    for (size_t i = 0; i < n; i++) {
        const int64_t *t = kmap_get(&by_ch, keys[i]);
        json_array_append_new(totals, json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "channel",
                                                model_channels[keys[i]], "created",
                                                (json_int_t)t[0], "negative", (json_int_t)t[1],
                                                "neutral", (json_int_t)t[2], "positive",
                                                (json_int_t)t[3], "loyalty_index",
                                                report_real(loyalty(t[3], t[1]))));
    }
    free(keys);
    kmap_free(&m);
    kmap_free(&by_ch);
    static const char *const cols[] = {"period",   "channel",  "created",      "negative",
                                       "neutral",  "positive", "loyalty_index", NULL};
    return report_reply(req, resp, &f, "volumes",
                        json_pack("{s:o, s:o, s:o}", "columns", columns(cols), "rows", rows,
                                  "by_channel", totals));
}

/* Topic sums of a period: v[topic] = {created, negative, positive}. */
static void topic_sums(struct db *r, const struct rfilter *f, int64_t (*v)[3])
{
    unsigned dims = f->channel ? D_CHANNEL | D_TOPIC : D_TOPIC;
    struct buf sql;
    buf_init(&sql, 0);
    buf_printf(&sql, "SELECT topic, sum(n_created), sum(n_negative), sum(n_positive) FROM %s",
               f->channel ? "an_roll_req" : "an_roll_topic");
    report_where(&sql, f, dims);
    buf_puts(&sql, " GROUP BY topic");
    sqlite3_stmt *st = report_prepare(r, buf_cstr(&sql));
    report_bind(st, f, dims);
    while (db_step(r, st, NULL) == 1) {
        int t = model_find(model_topics, db_col_text(st, 0));
        if (t < 0)
            continue;
        for (int k = 0; k < 3; k++)
            v[t][k] += db_col_i64(st, 1 + k);
    }
    sqlite3_finalize(st);
    buf_free(&sql);
}

int api_reports_reasons(struct http_request *req, struct http_response *resp)
{
    struct rfilter f;
    int rc;
    struct db *r = report_begin(req, F_CHANNEL | F_TOPIC, &f, &rc);
    if (r == NULL)
        return rc;
    enum { NT = 32 };
    int64_t cur[NT][3] = {{0}}, prev[NT][3] = {{0}};
    topic_sums(r, &f, cur);
    struct rfilter pf = f;
    pf.to_day = f.from_day - 1;
    pf.from_day = f.from_day - (f.to_day - f.from_day + 1);
    topic_sums(r, &pf, prev);
    store_reader_done(req->app->store, r);
    int64_t total = 0;
    int order[NT], n = 0;
    for (int t = 0; model_topics[t] && t < NT; t++) {
        total += cur[t][0];
        if (cur[t][0] > 0 || prev[t][0] > 0)
            order[n++] = t;
    }
    for (int i = 1; i < n; i++) /* by volume, largest first */
        for (int j = i; j > 0 && cur[order[j]][0] > cur[order[j - 1]][0]; j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    json_t *rows = json_array();
    for (int i = 0; i < n; i++) {
        int t = order[i];
        double change = prev[t][0] > 0 ? ((double)cur[t][0] / (double)prev[t][0] - 1) * 100 : NAN;
        json_array_append_new(
            rows, json_pack("{s:s, s:I, s:I, s:I, s:o, s:I, s:o}", "topic", model_topics[t],
                            "created", (json_int_t)cur[t][0], "negative", (json_int_t)cur[t][1],
                            "positive", (json_int_t)cur[t][2], "share_pct",
                            report_real(share_pct(cur[t][0], total)), "previous",
                            (json_int_t)prev[t][0], "change_pct", report_real(change)));
    }
    static const char *const cols[] = {"topic",    "created",  "negative",   "positive",
                                       "share_pct", "previous", "change_pct", NULL};
    return report_reply(req, resp, &f, "reasons",
                        json_pack("{s:o, s:o, s:I}", "columns", columns(cols), "rows", rows,
                                  "total", (json_int_t)total));
}

int api_reports_operators(struct http_request *req, struct http_response *resp)
{
    struct rfilter f;
    int rc;
    struct db *r = report_begin(req, F_OPERATOR, &f, &rc);
    if (r == NULL)
        return rc;
    struct buf sql;
    buf_init(&sql, 0);
    buf_puts(&sql, "SELECT o.operator_id, coalesce(u.name, ''), coalesce(u.login, ''), " SUMS
                   " FROM (SELECT * FROM an_roll_operator");
    report_where(&sql, &f, D_OPERATOR);
    buf_puts(&sql, ") o LEFT JOIN users u ON u.id = o.operator_id GROUP BY o.operator_id "
                   "ORDER BY sum(n_created) DESC");
    sqlite3_stmt *st = report_prepare(r, buf_cstr(&sql));
    report_bind(st, &f, D_OPERATOR);
    json_t *rows = json_array();
    while (db_step(r, st, NULL) == 1) {
        int64_t v[N_MEASURES];
        for (int k = 0; k < N_MEASURES; k++)
            v[k] = db_col_i64(st, 3 + k);
        json_t *row = json_pack("{s:I, s:s, s:s, s:I}", "operator_id",
                                (json_int_t)db_col_i64(st, 0), "name", db_col_text(st, 1),
                                "login", db_col_text(st, 2), "handled", (json_int_t)v[M_CREATED]);
        sla_fields(row, v);
        json_object_del(row, "created");
        json_array_append_new(rows, row);
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    store_reader_done(req->app->store, r);
    static const char *const cols[] = {"operator_id", "name",          "login",   "handled",
                                       "responded",   "frt_avg_s",     "frt_24h_pct", "solved",
                                       "solve_avg_s", "solved_1d_pct", "fcr_pct", NULL};
    return report_reply(req, resp, &f, "operators",
                        json_pack("{s:o, s:o}", "columns", columns(cols), "rows", rows));
}
