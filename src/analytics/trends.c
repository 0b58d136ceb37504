/*
 * trends.c - spike and rising-trend detection over daily counts per topic
 * and store, topic and region, and topic chain-wide (the method is in
 * analytics.h).  Alerts are stored once (an_alerts) and raised as
 * "analytics.alert" events carrying their evidence.
 */
#include "analytics/analytics_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "store/model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define WINDOW 90        /* days of history read */
#define BASELINE 28      /* days before a day that make its baseline */
#define RISE_DAYS 42     /* the rising test's window: six weeks */
#define P_ALERT 1e-6

struct series {
    char scope[8];     /* "store", "region", "chain" */
    int64_t store_id;
    char region[64];
    int topic;
    double y[WINDOW];  /* y[WINDOW - 1] is today */
};

struct detect {
    struct series *s;
    size_t n, cap;
    int64_t today;
    int n_new;
};

static struct series *series_get(struct detect *d, const char *scope, int64_t store_id,
                                 const char *region, int topic)
{
    for (size_t i = 0; i < d->n; i++) {
        struct series *s = &d->s[i];
        if (s->topic == topic && s->store_id == store_id && strcmp(s->scope, scope) == 0 &&
            strcmp(s->region, region) == 0)
            return s;
    }
    xgrow((void **)&d->s, &d->cap, d->n + 1, sizeof *d->s);
    struct series *s = &d->s[d->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->scope, sizeof s->scope, "%s", scope);
    s->store_id = store_id;
    snprintf(s->region, sizeof s->region, "%s", region);
    s->topic = topic;
    return s;
}

static void load_series(struct db *r, struct detect *d)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT t.day, t.store_id, coalesce(s.region, ''), t.topic, "
                                  "t.n_created FROM an_roll_topic t LEFT JOIN stores s "
                                  "ON s.id = t.store_id WHERE t.day > $1 AND t.day <= $2 "
                                  "AND t.topic <> ''");
    db_bind_i64(st, 1, d->today - WINDOW);
    db_bind_i64(st, 2, d->today);
    while (db_step(r, st, NULL) == 1) {
        int64_t i = db_col_i64(st, 0) - (d->today - WINDOW + 1);
        int64_t store_id = db_col_i64(st, 1);
        const char *region = db_col_text(st, 2);
        int topic = model_find(model_topics, db_col_text(st, 3));
        double n = (double)db_col_i64(st, 4);
        if (topic < 0 || i < 0 || i >= WINDOW)
            continue;
        if (store_id == 0) { /* the chain's own rows */
            series_get(d, "chain", 0, "", topic)->y[i] += n;
            continue;
        }
        series_get(d, "store", store_id, "", topic)->y[i] += n;
        if (region[0])
            series_get(d, "region", 0, region, topic)->y[i] += n;
    }
    sqlite3_reset(st);
}

static void day_text(int64_t day, char *out, size_t cap)
{
    int y;
    unsigned m, dd;
    civil_from_days(day, &y, &m, &dd);
    snprintf(out, cap, "%04d-%02u-%02u", y, m, dd);
}

struct alert {
    const char *kind;
    const struct series *s;
    int64_t day;
    double score, p;
    json_t *evidence; /* owned until written */
};

static int alert_write(struct store_tx *tx, struct alert *a, struct err_info *err)
{
    struct db *db = store_tx_db(tx);
    const char *topic = model_topics[a->s->topic];
    bool is_positive = strcmp(topic, "gratitude") == 0;
    json_object_set_new(a->evidence, "polarity", json_string(is_positive ? "positive" : "negative"));
    json_object_set_new(a->evidence, "kind", json_string(a->kind));
    json_object_set_new(a->evidence, "topic", json_string(topic));
    json_object_set_new(a->evidence, "scope", json_string(a->s->scope));
    if (a->s->store_id)
        json_object_set_new(a->evidence, "store_id", json_integer(a->s->store_id));
    if (a->s->region[0])
        json_object_set_new(a->evidence, "region", json_string(a->s->region));
    char *text = json_dumps(a->evidence, JSON_COMPACT);
    sqlite3_stmt *st = db_stmt(
        db, "INSERT INTO an_alerts (kind, topic, scope, store_id, region, day, score, p_value, "
            "evidence, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
            "ON CONFLICT DO NOTHING");
    db_bind_text(st, 1, a->kind, -1);
    db_bind_text(st, 2, topic, -1);
    db_bind_text(st, 3, a->s->scope, -1);
    db_bind_i64(st, 4, a->s->store_id);
    db_bind_text(st, 5, a->s->region, -1);
    db_bind_i64(st, 6, a->day);
    db_bind_double(st, 7, a->score);
    db_bind_double(st, 8, a->p);
    db_bind_text(st, 9, text, -1);
    db_bind_i64(st, 10, clock_now_ms());
    int rc = db_run(db, st, err);
    if (rc == 0 && db_changes(db) == 1) {
        int64_t alert_id = db_last_id(db);
        int64_t ev = store_event_add(tx, "analytics.alert", 0, 0, 0, a->s->store_id,
                                     "analytics", text, err);
        if (ev < 0) {
            rc = (int)ev;
        } else {
            st = db_stmt(db, "UPDATE an_alerts SET event_id = $2 WHERE id = $1");
            db_bind_i64(st, 1, alert_id);
            db_bind_i64(st, 2, ev);
            rc = db_run(db, st, err);
        }
        a->score = -1; /* marks "new" for the caller */
    }
    free(text);
    return rc;
}

static json_t *series_json(const double *y, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer((json_int_t)y[i]));
    return a;
}

/* Spikes: runs of days far above the median of the 28 days before the run. */
static void find_spikes(const struct series *s, int64_t today, struct alert *out, int *n_out,
                        int cap)
{
    for (int i = BASELINE; i < WINDOW && *n_out < cap; i++) {
        double base = median_of(s->y + i - BASELINE, BASELINE);
        double lambda = base > 0.5 ? base : 0.5;
        double p = poisson_upper_tail((int64_t)s->y[i], lambda);
        if (!(p < P_ALERT && s->y[i] >= 5 && s->y[i] >= 3 * lambda))
            continue;
        int j = i; /* the run continues while days stay unusual against the same baseline */
        double worst = p;
        while (j + 1 < WINDOW) {
            double q = poisson_upper_tail((int64_t)s->y[j + 1], lambda);
            if (!(q < P_ALERT && s->y[j + 1] >= 3 * lambda))
                break;
            j++;
            worst = q < worst ? q : worst;
        }
        char from[16], to[16];
        day_text(today - (WINDOW - 1) + i, from, sizeof from);
        day_text(today - (WINDOW - 1) + j, to, sizeof to);
        json_t *ev = json_pack("{s:s, s:s, s:s, s:f, s:f, s:i}", "method",
                               "poisson upper tail vs median of previous 28 days", "from", from,
                               "to", to, "baseline", base, "p_value", worst, "days", j - i + 1);
        int lo = i - BASELINE;
        char sf[16];
        day_text(today - (WINDOW - 1) + lo, sf, sizeof sf);
        json_object_set_new(ev, "series_from", json_string(sf));
        json_object_set_new(ev, "series", series_json(s->y + lo, (size_t)(j - lo + 1)));
        out[(*n_out)++] = (struct alert){"spike", s, today - (WINDOW - 1) + i,
                                         -log10(worst > 1e-300 ? worst : 1e-300), worst, ev};
        i = j;
    }
}

/*
 * The rising test reads the RISE_DAYS complete days before today: today's
 * count is partial (in the morning it is a fraction of a day's) and would
 * pull the trend down.  A spike is tested on today as it stands.
 */
static void find_rise(const struct series *s, int64_t today, struct alert *out, int *n_out)
{
    const double *y = s->y + WINDOW - 1 - RISE_DAYS;
    double last14 = 0, weekly[RISE_DAYS / 7] = {0};
    for (int i = 0; i < RISE_DAYS; i++) {
        weekly[i / 7] += y[i];
        if (i >= RISE_DAYS - 14)
            last14 += y[i];
    }
    if (last14 < 10)
        return;
    double slope, lr, p, mk_s, mk_z;
    poisson_trend(y, RISE_DAYS, &slope, &lr, &p);
    double ratio = exp(slope * (RISE_DAYS - 1));
    if (!(p < P_ALERT && ratio >= 2))
        return;
    mann_kendall(weekly, RISE_DAYS / 7, &mk_s, &mk_z);
    if (mk_z < 1.64)
        return;
    char from[16];
    day_text(today - RISE_DAYS, from, sizeof from);
    json_t *ev = json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f}", "method",
                           "poisson log-linear trend (LR test) + Mann-Kendall on weekly sums",
                           "series_from", from, "rate_ratio", ratio, "slope_per_day", slope,
                           "p_value", p, "mk_s", mk_s, "mk_z", mk_z);
    json_object_set_new(ev, "series", series_json(y, RISE_DAYS));
    json_object_set_new(ev, "weekly", series_json(weekly, RISE_DAYS / 7));
    out[(*n_out)++] = (struct alert){"rising", s, today, -log10(p > 1e-300 ? p : 1e-300), p, ev};
}

struct write_job {
    struct alert *a;
    int n;
    int n_new;
};

/* A rising alert is repeated at most weekly per series. */
static bool rise_recent(struct db *db, const struct alert *a)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM an_alerts WHERE kind = 'rising' AND "
                                   "topic = $1 AND scope = $2 AND store_id = $3 AND region = $4 "
                                   "AND day > $5 LIMIT 1");
    db_bind_text(st, 1, model_topics[a->s->topic], -1);
    db_bind_text(st, 2, a->s->scope, -1);
    db_bind_i64(st, 3, a->s->store_id);
    db_bind_text(st, 4, a->s->region, -1);
    db_bind_i64(st, 5, a->day - 7);
    bool found = db_step(db, st, NULL) == 1;
    sqlite3_reset(st);
    return found;
}

static int write_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct write_job *j = arg;
    for (int i = 0; i < j->n; i++) {
        if (strcmp(j->a[i].kind, "rising") == 0 && rise_recent(store_tx_db(tx), &j->a[i]))
            continue;
        int rc = alert_write(tx, &j->a[i], err);
        if (rc != 0)
            return rc;
        if (j->a[i].score < 0)
            j->n_new++;
    }
    return 0;
}

int analytics_detect(struct store *s, int64_t today, int *out_new, struct err_info *err)
{
    struct detect d;
    memset(&d, 0, sizeof d);
    d.today = today;
    struct db *r = store_reader(s);
    load_series(r, &d);
    store_reader_done(s, r);
    int cap = 4096, n = 0;
    struct alert *alerts = xcalloc((size_t)cap, sizeof *alerts);
    for (size_t i = 0; i < d.n && n < cap - 8; i++) {
        find_spikes(&d.s[i], today, alerts, &n, cap - 1);
        if (n < cap)
            find_rise(&d.s[i], today, alerts, &n);
    }
    struct write_job j = {alerts, n, 0};
    int rc = n > 0 ? store_write_background(s, write_job, &j, err) : 0;
    for (int i = 0; i < n; i++)
        json_decref(alerts[i].evidence);
    free(alerts);
    free(d.s);
    if (out_new)
        *out_new = j.n_new;
    if (rc == 0 && j.n_new > 0)
        log_info("analytics alerts new=%d", j.n_new);
    return rc;
}

int64_t analytics_tick_detect(struct app *app, int64_t now_ms)
{
    struct err_info err = {0};
    if (analytics_detect(app->store, now_ms / DAY_MS, NULL, &err) != 0)
        log_warn("analytics detect failed msg=\"%s\"", err.message);
    return 0;
}
