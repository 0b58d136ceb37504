/*
 * survey_seed.c - demo survey history (`otklik analytics seed-surveys`):
 * invitations and answers spread over the last days, with a store-level
 * quality that moves the scores, the demo's cold store getting worse over
 * its last six weeks (reason "cleanliness"), and eNPS answers per store.
 * Answers go through survey_answer_record() like real ones, without
 * follow-up requests (they are history).  Same seed, same answers.
 */
#include "analytics/surveys_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHUNK 2000 /* answers per store job */

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(next(s) >> 11) / 9007199254740992.0;
}

static int below(uint64_t *s, int n)
{
    return (int)(unit(s) * n);
}

struct seed_store {
    int64_t id;
    double quality; /* -1 .. 1: how much better than usual its customers rate it */
    bool is_cold;
};

struct seed {
    uint64_t rng;
    struct seed_store *stores;
    int n_stores;
    int64_t min_customer, max_customer, now_ms;
    int64_t survey_ids[5]; /* by survey_kinds index */
    int days, n_total, n_done;
};

static const char *const comments_low[] = {
    "Очень холодно в зале, мёрзнут руки", "Долго стоял в очереди на кассе",
    "Продавец нагрубил", "Товар оказался просроченным", "Не было нужного товара",
    "Цены на полке и на кассе разные", "Курьер опоздал на три часа",
    "Приложение не открывает корзину", "Бонусы не начислились", NULL};
static const char *const comments_high[] = {
    "Всё отлично, спасибо!", "Быстро и вежливо помогли", "Чисто и удобно",
    "Курьер приехал вовремя", NULL};
static const char *const low_reasons[] = {"queue", "staff",    "quality", "assortment",
                                          "price", "delivery", "online",  "loyalty",
                                          "cleanliness", "support"};

/* A score on kind k's scale given a satisfaction level in about [-1, 1]. */
static int64_t draw_score(uint64_t *r, const struct survey_kind_def *k, double level)
{
    double span = k->max - k->min;
    double mean = k->min + span * (0.80 + 0.15 * level);
    double noise = (unit(r) + unit(r) + unit(r) - 1.5) * span * 0.45;
    double v = round(mean + noise);
    if (v < k->min)
        v = k->min;
    if (v > k->max)
        v = k->max;
    return (int64_t)v;
}

static int seed_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct seed *sd = arg;
    struct db *db = store_tx_db(tx);
    int end = sd->n_done + CHUNK < sd->n_total ? sd->n_done + CHUNK : sd->n_total;
    for (; sd->n_done < end; sd->n_done++) {
        uint64_t *r = &sd->rng;
        int64_t age_ms = (int64_t)(unit(r) * (double)sd->days * DAY_MS);
        int64_t at = sd->now_ms - age_ms;
        double u = unit(r);
        int kind = u < 0.40 ? 1 : u < 0.75 ? 0 : u < 0.85 ? 2 : u < 0.90 ? 3 : 4;
        const struct survey_kind_def *k = &survey_kinds[kind];
        const struct seed_store *st = &sd->stores[below(r, sd->n_stores)];
        double level = st->quality + (unit(r) - 0.5) * 0.6;
        bool cold_now = st->is_cold && age_ms < 42 * DAY_MS && kind != 4;
        if (cold_now) /* the cold store: satisfaction falls as the weeks go by */
            level -= 1.4 * (1.0 - (double)age_ms / (42.0 * DAY_MS));
        int64_t score = draw_score(r, k, level);
        bool is_low = score <= k->low_default;
        const char *reason = NULL;
        if (kind == 4)
            reason = is_low ? (unit(r) < 0.5 ? "workload" : "staff") : NULL;
        else if (is_low)
            reason = cold_now && unit(r) < 0.7 ? "cleanliness" : low_reasons[below(r, 10)];
        else if (unit(r) < 0.25)
            reason = low_reasons[below(r, 10)];
        static const char *const ch_csat[] = {"phone", "chat", "telegram", "email", "web", "app"};
        static const char *const ch_nps[] = {"web", "sms", "app", "email"};
        const char *channel = kind == 4 ? "internal" : kind == 0 ? ch_nps[below(r, 4)]
                                                                 : ch_csat[below(r, 6)];
        int64_t customer = 0;
        if (kind != 4 && sd->max_customer >= sd->min_customer && sd->min_customer > 0)
            customer = sd->min_customer + below(r, (int)(sd->max_customer - sd->min_customer + 1));
        sqlite3_stmt *q = db_stmt(
            db, "INSERT INTO survey_invitations (survey_id, customer_id, store_id, channel, "
                "source, status, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, 'demo', "
                "'link_only', $5, $6)");
        db_bind_i64(q, 1, sd->survey_ids[kind]);
        db_bind_i64_or_null(q, 2, customer);
        db_bind_i64(q, 3, st->id);
        db_bind_text(q, 4, channel, -1);
        db_bind_i64(q, 5, at - 3600000);
        db_bind_i64(q, 6, at + SURVEY_TTL_DAYS * DAY_MS);
        int rc = db_run(db, q, err);
        if (rc != 0)
            return rc;
        const char *comment = NULL;
        if (unit(r) < 0.3) {
            const char *const *list = is_low ? comments_low : comments_high;
            int n = 0;
            while (list[n])
                n++;
            comment = cold_now && is_low ? comments_low[0] : list[below(r, n)];
        }
        struct answer_in in = {.invitation_id = db_last_id(db), .score = score, .reason = reason,
                               .comment = comment, .at_ms = at, .no_followup = true,
                               .sentiment = comment ? (is_low ? "negative" : "positive") : NULL};
        struct answer_out out;
        if ((rc = survey_answer_record(tx, &in, &out, err)) != 0)
            return rc;
    }
    return 0;
}

int analytics_seed_surveys(struct store *s, uint64_t seed, int n_answers, int days,
                           struct err_info *err)
{
    struct seed sd;
    memset(&sd, 0, sizeof sd);
    sd.rng = seed;
    sd.n_total = n_answers;
    sd.days = days > 0 ? days : 90;
    sd.now_ms = clock_now_ms();
    struct db *r = store_reader(s);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, code FROM stores ORDER BY id");
    size_t cap = 0;
    while (db_step(r, st, NULL) == 1) {
        xgrow((void **)&sd.stores, &cap, (size_t)sd.n_stores + 1, sizeof *sd.stores);
        struct seed_store *ss = &sd.stores[sd.n_stores++];
        ss->id = db_col_i64(st, 0);
        ss->quality = (unit(&sd.rng) - 0.5) * 0.8;
        ss->is_cold = strcmp(db_col_text(st, 1), "NSK-001") == 0;
    }
    sqlite3_reset(st);
    st = db_stmt(r, "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM customers");
    if (db_step(r, st, NULL) == 1) {
        sd.min_customer = db_col_i64(st, 0);
        sd.max_customer = db_col_i64(st, 1);
    }
    sqlite3_reset(st);
    for (int k = 0; survey_kinds[k].kind && k < 5; k++) {
        st = db_stmt(r, "SELECT id FROM surveys WHERE kind = $1 ORDER BY id LIMIT 1");
        db_bind_text(st, 1, survey_kinds[k].kind, -1);
        if (db_step(r, st, NULL) == 1)
            sd.survey_ids[k] = db_col_i64(st, 0);
        sqlite3_reset(st);
    }
    store_reader_done(s, r);
    int rc = 0;
    if (sd.n_stores == 0)
        rc = err_set(err, ERR_INVALID, "db", "the database has no stores (run otklik demo first)");
    for (int k = 0; rc == 0 && k < 5; k++)
        if (sd.survey_ids[k] == 0)
            rc = err_set(err, ERR_INVALID, "db", "no %s survey is defined", survey_kinds[k].kind);
    while (rc == 0 && sd.n_done < sd.n_total)
        rc = store_write(s, seed_job, &sd, err);
    free(sd.stores);
    return rc;
}
