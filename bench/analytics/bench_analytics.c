/*
 * bench_analytics.c - figures of the analytics part (see run.sh):
 *   fill DB N_REQUESTS N_ANSWERS  write requests, survey answers and their events straight
 *                                 into the tables (big transactions, no HTTP)
 *   intake DB N [rollup]          create N requests through store_request_create from 8
 *                                 threads (100 a job) and print requests/s; with "rollup"
 *                                 the rollup consumer runs beside it the whole time
 * Linked with the release objects of src/ (all but main.o).
 */
#include "analytics/analytics_int.h"
#include "core/clock.h"
#include "store/model.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int below(int n) { return (int)(next() % (uint64_t)n); }

#define N_STORES 60
#define CHUNK 250000

struct fill {
    int64_t n_req, n_ans, done_req, done_ans, now_ms;
};

static int stores_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    static const char *const regions[] = {"Центр", "Северо-Запад", "Приволжье", "Урал", "Сибирь"};
    for (int i = 0; i < N_STORES; i++) {
        char code[16], name[32];
        snprintf(code, sizeof code, "B-%03d", i + 1);
        snprintf(name, sizeof name, "Магазин %d", i + 1);
        struct store_in s = {code, name, "Город", regions[i % 5], "Europe/Moscow", NULL};
        if (store_store_upsert(tx, &s, NULL, err) != 0)
            return err->code;
    }
    return 0;
}

static int fill_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct fill *f = arg;
    struct db *db = store_tx_db(tx);
    static const int ch_w[] = {30, 5, 8, 12, 8, 12, 3, 4, 6, 2, 3, 4, 2, 1, 0};
    int rc = 0;
    for (int k = 0; k < CHUNK && f->done_req < f->n_req && rc == 0; k++, f->done_req++) {
        int w = below(100), ch = 0;
        while (ch < 14 && w >= ch_w[ch]) w -= ch_w[ch++];
        int topic = below(14), store = 1 + below(N_STORES);
        int64_t created = f->now_ms - (int64_t)(next() % (uint64_t)(365 * DAY_MS));
        bool solved = below(100) < 85;
        sqlite3_stmt *st = db_stmt(db, "INSERT INTO requests (channel, store_id, kind, status, "
                                       "priority, topic, sentiment, created_at_ms, updated_at_ms, "
                                       "first_response_at_ms, solved_at_ms) VALUES ($1, $2, $3, "
                                       "$4, 'normal', $5, $6, $7, $7, $8, $9)");
        db_bind_text(st, 1, model_channels[ch], -1);
        db_bind_i64(st, 2, store);
        db_bind_text(st, 3, model_kinds[below(5)], -1);
        db_bind_text(st, 4, solved ? "solved" : "open", -1);
        db_bind_text(st, 5, model_topics[topic], -1);
        db_bind_text(st, 6, model_sentiments[below(3)], -1);
        db_bind_i64(st, 7, created);
        db_bind_i64(st, 8, created + (int64_t)(next() % (48 * 3600000ULL)));
        db_bind_i64_or_null(st, 9, solved ? created + (int64_t)(next() % (72 * 3600000ULL)) : 0);
        if ((rc = db_run(db, st, err)) != 0)
            break;
        int64_t id = db_last_id(db);
        st = db_stmt(db, "INSERT INTO events (type, request_id, store_id, data, at_ms) VALUES "
                         "('request.created', $1, $2, '{}', $3)");
        db_bind_i64(st, 1, id);
        db_bind_i64(st, 2, store);
        db_bind_i64(st, 3, created);
        rc = db_run(db, st, err);
    }
    static const char *const kinds[] = {"nps", "csat", "ces", "csi", "enps"};
    static const int maxs[] = {10, 5, 7, 10, 10};
    for (int k = 0; k < CHUNK && f->done_ans < f->n_ans && rc == 0; k++, f->done_ans++) {
        int kind = below(100) < 45 ? 0 : below(100) < 80 ? 1 : 2 + below(3);
        int score = (kind == 1 || kind == 2 || kind == 3 ? 1 : 0) + below(maxs[kind]);
        int64_t at = f->now_ms - (int64_t)(next() % (uint64_t)(365 * DAY_MS));
        int store = 1 + below(N_STORES);
        const char *reason = below(3) == 0 ? survey_reasons[below(10)].code : NULL;
        bool low = score <= survey_kinds[kind].low_default;
        const char *channel = model_channels[below(12)];
        sqlite3_stmt *st = db_stmt(db, "INSERT INTO survey_answers (survey_id, kind, score, "
                                       "reason, store_id, channel, at_ms) VALUES (1, $1, $2, $3, "
                                       "$4, $5, $6)");
        db_bind_text(st, 1, kinds[kind], -1);
        db_bind_i64(st, 2, score);
        db_bind_text(st, 3, reason, -1);
        db_bind_i64(st, 4, store);
        db_bind_text(st, 5, channel, -1);
        db_bind_i64(st, 6, at);
        if ((rc = db_run(db, st, err)) != 0)
            break;
        char data[200];
        snprintf(data, sizeof data,
                 "{\"kind\":\"%s\",\"score\":%d,\"channel\":\"%s\",\"at_ms\":%lld,\"low\":%s%s%s%s}",
                 kinds[kind], score, channel, (long long)at, low ? "true" : "false",
                 reason ? ",\"reason\":\"" : "", reason ? reason : "", reason ? "\"" : "");
        st = db_stmt(db, "INSERT INTO events (type, store_id, data, at_ms) VALUES "
                         "('survey.answered', $1, $2, $3)");
        db_bind_i64(st, 1, store);
        db_bind_text(st, 2, data, -1);
        db_bind_i64(st, 3, at);
        rc = db_run(db, st, err);
    }
    return rc;
}

/* ---- intake with and without the rollup consumer ------------------------------------ */

static struct store *g_store;
static atomic_long next_req;
static long n_target;
static atomic_bool stop_rollup;

static int intake_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        long k = atomic_fetch_add(&next_req, 1);
        char src[32], phone[20];
        snprintf(src, sizeof src, "bench-%ld", k);
        snprintf(phone, sizeof phone, "+7900%07ld", k % 5000000);
        struct request_in r = {.channel = model_channels[k % 12], .source_id = src,
                               .store_code = "B-001", .text = "Очередь на кассе, работает одна касса",
                               .search_terms = "очеред касс работа одн касс", .kind = "complaint",
                               .actor = "bench", .topic = "checkout_queue", .topic_confidence = 0.9,
                               .sentiment = "negative", .sentiment_confidence = 0.9};
        r.customer.ids[0] = phone;
        struct request_out out;
        int rc = store_request_create(tx, &r, &out, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void *intake_thread(void *arg)
{
    (void)arg;
    struct err_info err = {0};
    while (atomic_load(&next_req) < n_target)
        if (store_write(g_store, intake_job, NULL, &err) != 0) {
            fprintf(stderr, "intake: %s\n", err.message);
            break;
        }
    return NULL;
}

static void *rollup_thread(void *arg)
{
    int64_t *total = arg;
    struct err_info err = {0};
    /* As the server's worker does: a step every analytics_pace_ms(), at once while behind. */
    while (!atomic_load(&stop_rollup)) {
        uint64_t t0 = clock_mono_ns();
        int64_t n = 0;
        analytics_rollup_step(g_store, ANALYTICS_STEP_BATCHES, &n, &err);
        *total += n;
        uint64_t spent = clock_mono_ns() - t0, pace = analytics_pace_ms(n) * 1000000ull;
        uint64_t rest = pace - spent;
        if (n < ANALYTICS_STEP_BATCHES * ANALYTICS_ROLLUP_BATCH && spent < pace)
            nanosleep(&(struct timespec){(time_t)(rest / 1000000000u), (long)(rest % 1000000000u)},
                      NULL);
    }
    int64_t n = 0;
    analytics_rollup_step(g_store, 1 << 20, &n, &err); /* catch up, for the record */
    *total += n;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_analytics fill DB N_REQ N_ANS | intake DB N [rollup]\n");
        return 2;
    }
    struct err_info err = {0};
    if (store_open(argv[2], NULL, &g_store, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    if (strcmp(argv[1], "fill") == 0 && argc >= 5) {
        struct fill f = {.n_req = strtoll(argv[3], NULL, 10), .n_ans = strtoll(argv[4], NULL, 10), .now_ms = clock_now_ms()};
        uint64_t t0 = clock_mono_ns();
        if (store_write(g_store, stores_job, NULL, &err) != 0)
            return 1;
        while (f.done_req < f.n_req || f.done_ans < f.n_ans)
            if (store_write(g_store, fill_job, &f, &err) != 0) {
                fprintf(stderr, "fill: %s\n", err.message);
                return 1;
            }
        printf("{\"requests\": %lld, \"answers\": %lld, \"seconds\": %.1f}\n", (long long)f.done_req,
               (long long)f.done_ans, (double)(clock_mono_ns() - t0) / 1e9);
    } else if (strcmp(argv[1], "intake") == 0) {
        n_target = strtol(argv[3], NULL, 10);
        bool with_rollup = argc > 4 && strcmp(argv[4], "rollup") == 0;
        if (store_write(g_store, stores_job, NULL, &err) != 0)
            return 1;
        int64_t rolled = 0;
        pthread_t th[8], rt;
        uint64_t t0 = clock_mono_ns();
        if (with_rollup)
            pthread_create(&rt, NULL, rollup_thread, &rolled);
        for (int i = 0; i < 8; i++)
            pthread_create(&th[i], NULL, intake_thread, NULL);
        for (int i = 0; i < 8; i++)
            pthread_join(th[i], NULL);
        double s = (double)(clock_mono_ns() - t0) / 1e9;
        atomic_store(&stop_rollup, true);
        if (with_rollup)
            pthread_join(rt, NULL);
        printf("{\"requests\": %ld, \"seconds\": %.2f, \"requests_per_s\": %.0f, \"rollup\": %s, "
               "\"events_rolled_up\": %lld}\n", (long)atomic_load(&next_req), s,
               (double)atomic_load(&next_req) / s, with_rollup ? "true" : "false", (long long)rolled);
    }
    store_close(g_store);
    return 0;
}
