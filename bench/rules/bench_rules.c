/*
 * bench_rules.c - figures of the rules part: (1) pure evaluation of 200
 * compiled rules over prebuilt facts on one core, (2) start-up with a
 * million pending timers persisted, (3) a QR signal written to the store
 * until the store director's notification event is committed, with the
 * engine thread as in `otklik serve`.  Built and run by bench/rules/run.sh.
 */
#include "api/api.h"
#include "core/clock.h"
#include "core/mem.h"
#include "rules/rules_int.h"
#include "store/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int pick(const char *const *list)
{
    int n = 0;
    while (list[n])
        n++;
    return (int)(next_rand() % (uint64_t)n);
}

/* A rule over a random slice of the vocabulary, as an admin would write it. */
static struct rule *random_rule(int i)
{
    json_t *when = json_pack("{s:[s]}", "event",
                             i % 4 == 0 ? "message.in" : "request.created");
    json_object_set_new(when, "channel", json_pack("[s, s]", model_channels[pick(model_channels)],
                                                   model_channels[pick(model_channels)]));
    if (i % 2)
        json_object_set_new(when, "topic", json_pack("[s]", model_topics[pick(model_topics)]));
    if (i % 3 == 0)
        json_object_set_new(when, "priority", json_pack("[s]", model_priorities[pick(model_priorities)]));
    if (i % 5 == 0)
        json_object_set_new(when, "sentiment", json_pack("[s]", "negative"));
    if (i % 7 == 0)
        json_object_set_new(when, "open_requests_gte", json_integer(2));
    if (i % 11 == 0)
        json_object_set_new(when, "text_contains", json_pack("[s, s]", "очередь", "касс"));
    if (i % 13 == 0)
        json_object_set_new(when, "window", json_pack("{s:i, s:i, s:s}", "count", 5, "minutes",
                                                      10, "per", "store"));
    json_t *def = json_pack("{s:o, s:[{s:s, s:s}]}", "when", when, "actions", "type",
                            "set_priority", "value", "high");
    struct rule *r = NULL;
    struct err_info err = {0};
    if (rule_compile(def, NULL, &r, &err) != 0) {
        fprintf(stderr, "rule %d: %s %s\n", i, err.field, err.message);
        exit(1);
    }
    json_decref(def);
    r->id = i + 1;
    r->position = i;
    r->name = xstrdup("bench");
    return r;
}

static const char *const texts[] = {
    "очередь на кассе уже двадцать минут", "курьер опоздал с доставкой",
    "спасибо кассиру за помощь", "не начислили бонусы за покупку", NULL,
};

static void bench_eval(void)
{
    enum { N_RULES = 200, N_FACTS = 4096, N_EVENTS = 5000000 };
    struct rule **rules = xcalloc(N_RULES, sizeof *rules);
    for (int i = 0; i < N_RULES; i++)
        rules[i] = random_rule(i);
    struct rule_set *set = rule_set_new(rules, N_RULES, 1);
    struct win_table **wins = xcalloc(N_RULES, sizeof *wins);
    for (int i = 0; i < N_RULES; i++)
        if (set->rules[i]->cond.window_count)
            wins[i] = win_new(set->rules[i]->cond.window_count);
    struct rule_facts *facts = xcalloc(N_FACTS, sizeof *facts);
    for (int i = 0; i < N_FACTS; i++) {
        struct rule_facts *f = &facts[i];
        f->type = (int8_t)rules_event_type_index(i % 4 == 0 ? "message.in" : "request.created");
        f->channel = (int8_t)pick(model_channels);
        f->kind = (int8_t)pick(model_kinds);
        f->status = 0;
        f->priority = (int8_t)pick(model_priorities);
        f->topic = (int8_t)pick(model_topics);
        f->sentiment = (int8_t)pick(model_sentiments);
        f->tier = (int8_t)pick(model_tiers);
        f->order_status = -1;
        f->region = (int16_t)(i % 8);
        f->store_id = 1 + i % 60;
        f->customer_id = 1 + i;
        f->open_requests = i % 4;
        f->linked_waited_ms = -1;
        f->text = texts[i % 4];
        f->text_len = strlen(f->text);
    }
    int out[64];
    uint64_t matched = 0;
    uint64_t t0 = clock_mono_ns();
    for (int64_t e = 0; e < N_EVENTS; e++) {
        struct rule_facts *f = &facts[e % N_FACTS];
        f->event_id = e + 1;
        f->at_ms = 1715342400000 + e; /* one event a millisecond */
        matched += (uint64_t)rules_eval(set, f, wins, out, 64);
    }
    double s = (double)(clock_mono_ns() - t0) / 1e9;
    printf("eval: %d rules, %d events, %.3f s, %.0f events/s on one core (%.2f matches/event)\n",
           N_RULES, N_EVENTS, s, N_EVENTS / s, (double)matched / N_EVENTS);
    for (int i = 0; i < N_RULES; i++)
        win_free(wins[i]);
    free(wins);
    free(facts);
    rule_set_release(set);
}

static int job_timers(struct store_tx *tx, void *arg, struct err_info *err)
{
    int64_t n = *(int64_t *)arg;
    struct db *db = store_tx_db(tx);
    for (int64_t i = 0; i < n; i++) {
        sqlite3_stmt *st = db_stmt(db, "INSERT INTO timers (kind, request_id, ref, due_at_ms, "
                                       "created_at_ms) VALUES ('sla_breach', $1, 'resolution', $2, 0)");
        db_bind_i64(st, 1, i + 1);
        db_bind_i64(st, 2, 1900000000000 + (int64_t)(next_rand() % 86400000000ull));
        int rc = db_run(db, st, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void bench_timers(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/timers.db", dir);
    struct app app = {0};
    struct err_info err = {0};
    if (store_open(path, NULL, &app.store, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    int64_t n = 1000000;
    uint64_t t0 = clock_mono_ns();
    if (store_write(app.store, job_timers, &n, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    printf("timers: wrote %lld pending timers in %.2f s\n", (long long)n,
           (double)(clock_mono_ns() - t0) / 1e9);
    store_close(app.store);
    /* A fresh process-like start: open the store, start the part (load the heap). */
    t0 = clock_mono_ns();
    if (store_open(path, NULL, &app.store, &err) != 0 || rules_start_manual(&app, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    double s = (double)(clock_mono_ns() - t0) / 1e9;
    printf("timers: start-up with %zu pending timers: %.3f s (store open + rules start)\n",
           rules_timers_pending(&app), s);
    t0 = clock_mono_ns();
    int64_t next = rules_timers_tick(&app, clock_now_ms());
    printf("timers: one tick with none due: %.1f us (next in %lld ms)\n",
           (double)(clock_mono_ns() - t0) / 1e3, (long long)next);
    rules_stop(&app);
    store_close(app.store);
}

struct wait_ctx {
    int64_t request_id;
    bool found;
};

static void on_event(void *ctx, const struct hub_event *ev)
{
    struct wait_ctx *w = ctx;
    if (ev->request_id == w->request_id && strcmp(ev->type, "notification.created") == 0)
        w->found = true;
}

struct create_job {
    struct request_in in;
    struct request_out out;
};

static int job_create(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct create_job *j = arg;
    return store_request_create(tx, &j->in, &j->out, err);
}

static int job_store(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    struct store_in s = {"B1", "Бенч", "Москва", "Центр", "Europe/Moscow", NULL};
    int rc = store_store_upsert(tx, &s, NULL, err);
    struct user_in u = {.login = "dir", .name = "Директор", .role = "store_director",
                        .password_hash = "x", .store_code = "B1"};
    return rc ? rc : store_user_add(tx, &u, NULL, err);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_latency(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/latency.db", dir);
    struct app app = {0};
    struct err_info err = {0};
    if (store_open(path, NULL, &app.store, &err) != 0 ||
        store_write(app.store, job_store, NULL, &err) != 0 || rules_start(&app, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    enum { N = 200 };
    double ms[N];
    static const char *const topics[] = {"checkout_queue", "store_condition", "price", "staff"};
    for (int i = 0; i < N; i++) {
        struct create_job j = {.in = {.channel = "qr", .kind = "signal", .store_code = "B1",
                                      .topic = topics[i % 4], .text = "Очередь", .actor = "qr"}};
        int64_t after = store_hub_last_id(app.store);
        uint64_t t0 = clock_mono_ns();
        if (store_write(app.store, job_create, &j, &err) != 0) {
            fprintf(stderr, "%s\n", err.message);
            exit(1);
        }
        struct wait_ctx w = {j.out.id, false};
        while (!w.found) {
            int64_t last = store_hub_wait(app.store, after, 1000, on_event, &w);
            if (last < 0)
                break;
            after = last;
        }
        ms[i] = (double)(clock_mono_ns() - t0) / 1e6;
        usleep(2000);
    }
    qsort(ms, N, sizeof ms[0], cmp_double);
    printf("qr->director notification: n=%d p50 %.2f ms, p95 %.2f ms, max %.2f ms "
           "(two durable commits: the signal, then the engine's batch)\n",
           N, ms[N / 2], ms[N * 95 / 100], ms[N - 1]);
    store_hub_close(app.store);
    rules_stop(&app);
    store_close(app.store);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    bench_eval();
    bench_timers(dir);
    bench_latency(dir);
    return 0;
}
