/*
 * test_rules.c - the rules part against a real store in a temporary
 * directory, on the fake clock: validation errors naming the bad part
 * (fixtures/rules/bad_rules.json), evaluation and window counts, the timer
 * heap, SLA due times across weekends, holidays and zones
 * (fixtures/rules/sla_cases.json), the QR escalation sequence, and timers
 * that survive a restart and fire once, late, after downtime.
 */
#include "testutil.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/str.h"
#include "rules/rules_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0_MS 1715342400000 /* 2024-05-10T12:00:00Z, a Friday */

struct fx {
    char dir[64], path[128];
    struct app app;
};

static int job_seed(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    static const struct store_in stores[] = {
        {"S1", "Магазин на Тверской", "Москва", "Центр", "Europe/Moscow", NULL},
        {"S2", "Магазин на Ленина", "Екатеринбург", "Урал", "Asia/Yekaterinburg", NULL},
    };
    for (size_t i = 0; i < 2; i++) {
        int rc = store_store_upsert(tx, &stores[i], NULL, err);
        if (rc != 0)
            return rc;
    }
    struct user_in dir = {.login = "dir1", .name = "Директор", .role = "store_director",
                          .password_hash = "x", .store_code = "S1"};
    struct user_in reg = {.login = "reg1", .name = "Регион", .role = "regional_manager",
                          .password_hash = "x", .region = "Центр"};
    int rc = store_user_add(tx, &dir, NULL, err);
    if (rc == 0)
        rc = store_user_add(tx, &reg, NULL, err);
    if (rc == 0)
        rc = store_department_upsert(tx, "online", "Интернет-заказы", err);
    return rc;
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/otklik-test-rules-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    clock_set_fake_ms(T0_MS);
    struct err_info err = {0};
    struct store_options o = {.n_readers = 2, .reader_cache_kib = 512, .writer_cache_kib = 1024};
    if (store_open(f->path, &o, &f->app.store, &err) != 0 ||
        store_write(f->app.store, job_seed, NULL, &err) != 0 ||
        rules_start_manual(&f->app, &err) != 0) {
        print_error("setup: %s\n", err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rules_stop(&f->app);
    store_close(f->app.store);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    clock_set_fake_ms(0);
    return 0;
}

static json_t *fixture(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/rules/%s", name);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    return j;
}

static int exec_sql(struct store_tx *tx, void *arg, struct err_info *err)
{
    return db_exec(store_tx_db(tx), arg, err);
}

static void sql(struct fx *f, const char *text)
{
    struct err_info err = {0};
    assert_int_equal(store_write(f->app.store, exec_sql, (void *)text, &err), 0);
}

static int64_t query_i64(struct fx *f, const char *q, int64_t id)
{
    struct db *r = store_reader(f->app.store);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db_handle(r), q, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    store_reader_done(f->app.store, r);
    return v;
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

static int64_t create(struct fx *f, const char *channel, const char *kind, const char *store,
                      const char *topic, const char *text)
{
    struct create_job j = {.in = {.channel = channel, .kind = kind, .store_code = store,
                                  .topic = topic, .text = text, .actor = "test"}};
    struct err_info err = {0};
    assert_int_equal(store_write(f->app.store, job_create, &j, &err), 0);
    return j.out.id;
}

static int job_order(struct store_tx *tx, void *arg, struct err_info *err)
{
    int64_t id;
    bool dup;
    return store_order_event(tx, arg, &id, &dup, err);
}

/* Record an order event; 1 on success. */
static int order_event(struct fx *f, struct order_event_in *in)
{
    struct err_info err = {0};
    int rc = store_write(f->app.store, job_order, in, &err);
    if (rc != 0)
        print_error("order: %s\n", err.message);
    return rc == 0;
}

static void drain(struct fx *f)
{
    struct err_info err = {0};
    assert_true(rules_engine_drain(&f->app, &err) >= 0);
}

/* The data of the one event of type about the request, parsed (the caller frees it). */
static json_t *event_data(struct fx *f, const char *type, int64_t request_id)
{
    struct db *r = store_reader(f->app.store);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db_handle(r), "SELECT data FROM events WHERE type = ?1 AND request_id = ?2",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, request_id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    json_t *data = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    store_reader_done(f->app.store, r);
    assert_non_null(data);
    return data;
}

static int64_t count_events(struct fx *f, const char *type, int64_t request_id)
{
    struct db *r = store_reader(f->app.store);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db_handle(r), "SELECT COUNT(*) FROM events WHERE type = ?1 AND "
                                     "(?2 = 0 OR request_id = ?2)", -1, &st, NULL);
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, request_id);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    store_reader_done(f->app.store, r);
    return n;
}

/* ---- validation ----------------------------------------------------------------------- */

static void test_bad_rules_name_their_part(void **state)
{
    struct fx *f = *state;
    json_t *cases = fixture("bad_rules.json");
    struct db *r = store_reader(f->app.store);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        struct rule *rule = NULL;
        struct err_info err = {0};
        int rc = rule_compile(json_object_get(c, "rule"), r, &rule, &err);
        if (rc != ERR_INVALID || strcmp(err.field, json_string_value(json_object_get(c, "field"))))
            print_error("case %zu: rc=%d field=%s (%s)\n", i, rc, err.field, err.message);
        assert_int_equal(rc, ERR_INVALID);
        assert_string_equal(err.field, json_string_value(json_object_get(c, "field")));
        assert_null(rule);
    }
    store_reader_done(f->app.store, r);
    json_decref(cases);
}

/* ---- evaluation and windows ------------------------------------------------------------ */

static struct rule *compile_text(struct fx *f, const char *text)
{
    json_t *def = json_loads(text, 0, NULL);
    assert_non_null(def);
    struct db *r = store_reader(f->app.store);
    struct rule *rule = NULL;
    struct err_info err = {0};
    int rc = rule_compile(def, r, &rule, &err);
    store_reader_done(f->app.store, r);
    json_decref(def);
    if (rc != 0)
        print_error("%s: %s\n", err.field, err.message);
    assert_int_equal(rc, 0);
    return rule;
}

static void facts_init(struct rule_facts *ft)
{
    memset(ft, 0, sizeof *ft);
    ft->type = (int8_t)rules_event_type_index("request.created");
    ft->channel = (int8_t)model_find(model_channels, "qr");
    ft->kind = (int8_t)model_find(model_kinds, "signal");
    ft->topic = (int8_t)model_find(model_topics, "checkout_queue");
    ft->status = ft->priority = ft->sentiment = ft->tier = ft->order_status = -1;
    ft->region = -1;
    ft->linked_waited_ms = -1;
    ft->store_id = 1;
}

static void test_conditions_and_text(void **state)
{
    struct fx *f = *state;
    struct rule *r = compile_text(f, "{\"when\": {\"event\": [\"request.created\"], \"channel\": "
                                     "[\"qr\", \"web\"], \"store\": [\"S1\"], \"text_contains\": "
                                     "[\"ОЧЕРЕДЬ\"]}, \"actions\": [{\"type\": \"notify\", "
                                     "\"role\": \"store_director\"}]}");
    struct rule_facts ft;
    facts_init(&ft);
    ft.text = "длинная очередь на кассе";
    ft.text_len = strlen(ft.text);
    assert_true(rule_cond_match(&r->cond, &ft));
    ft.store_id = 2;
    assert_false(rule_cond_match(&r->cond, &ft));
    ft.store_id = 1;
    ft.text = "грязный пол";
    ft.text_len = strlen(ft.text);
    assert_false(rule_cond_match(&r->cond, &ft));
    ft.type = (int8_t)rules_event_type_index("message.in");
    assert_false(rule_cond_match(&r->cond, &ft));
    rule_free(r);
}

static void test_window_counts_per_store(void **state)
{
    struct fx *f = *state;
    struct rule *r = compile_text(f, "{\"when\": {\"event\": [\"request.created\"], \"topic\": "
                                     "[\"checkout_queue\"], \"window\": {\"count\": 5, "
                                     "\"minutes\": 10, \"per\": \"store\"}}, \"actions\": "
                                     "[{\"type\": \"notify\", \"role\": \"store_director\"}]}");
    struct win_table *w = win_new(r->cond.window_count);
    struct rule_facts ft;
    facts_init(&ft);
    /* Five within 12 and 11 minutes are no hit; 5, 8, 12, 13, 14 are five within 10. */
    int64_t t[] = {0, 2, 5, 8, 12, 13, 14, 15};
    bool expect[] = {false, false, false, false, false, false, true, false};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ft.event_id = (int64_t)i + 1;
        ft.at_ms = T0_MS + t[i] * 60000;
        assert_int_equal(win_hit(w, &r->cond, &ft), expect[i]);
    }
    /* Another store counts apart; a replayed event id is not counted twice. */
    ft.store_id = 2;
    ft.event_id = 100;
    assert_false(win_hit(w, &r->cond, &ft));
    assert_false(win_hit(w, &r->cond, &ft));
    win_free(w);
    rule_free(r);
}

/* ---- timers ------------------------------------------------------------------------------ */

static void test_timer_heap_order(void **state)
{
    (void)state;
    struct timer_heap h;
    theap_init(&h);
    int64_t dues[] = {50, 10, 40, 10, 30, 20, 60, 5};
    for (size_t i = 0; i < 8; i++)
        theap_push(&h, dues[i], (int64_t)i + 1);
    assert_int_equal(theap_peek(&h), 5);
    struct timer_ent out[8];
    size_t n = theap_pop_due(&h, 30, out, 8);
    assert_int_equal(n, 5);
    for (size_t i = 1; i < n; i++)
        assert_true(out[i - 1].due_at_ms <= out[i].due_at_ms);
    assert_int_equal(out[1].id, 2); /* equal due times pop by id */
    assert_int_equal(theap_peek(&h), 40);
    theap_free(&h);
}

/* ---- SLA across weekends, holidays and zones --------------------------------------------- */

static void test_sla_due_times(void **state)
{
    struct fx *f = *state;
    json_t *cases = fixture("sla_cases.json");
    sql(f, "UPDATE sla_policies SET is_enabled = 0;"
           "INSERT INTO sla_policies (id, name, position, match, calendar, resolution_ms, "
           "updated_at_ms) VALUES (50, 'test', 1, '{\"channel\":[\"web\"]}', 'store', 0, 0)");
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        char def[600];
        const char *holiday = json_string_value(json_object_get(c, "holiday"));
        snprintf(def, sizeof def,
                 "UPDATE calendars SET definition = '{\"time_zone\":\"UTC\",\"week\":{"
                 "\"mon\":[[\"09:00\",\"18:00\"]],\"tue\":[[\"09:00\",\"18:00\"]],"
                 "\"wed\":[[\"09:00\",\"18:00\"]],\"thu\":[[\"09:00\",\"18:00\"]],"
                 "\"fri\":[[\"09:00\",\"18:00\"]]},\"holidays\":[%s%s%s]}' WHERE code = 'store';"
                 "UPDATE sla_policies SET resolution_ms = %lld WHERE id = 50",
                 holiday ? "\"" : "", holiday ? holiday : "", holiday ? "\"" : "",
                 (long long)json_integer_value(json_object_get(c, "target_minutes")) * 60000);
        sql(f, def);
        struct err_info err = {0};
        cal_cache_bump(f->app.rules->cals);
        assert_int_equal(sla_reload(f->app.rules, &err), 0);
        int64_t start, due;
        assert_int_equal(time_parse_rfc3339(str_from(json_string_value(json_object_get(c, "start"))), &start), 0);
        assert_int_equal(time_parse_rfc3339(str_from(json_string_value(json_object_get(c, "due"))), &due), 0);
        clock_set_fake_ms(start);
        bool is_yekat = strcmp(json_string_value(json_object_get(c, "time_zone")), "Asia/Yekaterinburg") == 0;
        int64_t id = create(f, "web", "complaint", is_yekat ? "S2" : "S1", NULL, "Жалоба");
        drain(f);
        int64_t got = query_i64(f, "SELECT due_at_ms FROM sla_clocks WHERE request_id = ?1 "
                                   "AND clock = 'resolution'", id);
        if (got != due)
            print_error("case %s: due %lld, want %lld\n",
                        json_string_value(json_object_get(c, "name")), (long long)got,
                        (long long)due);
        assert_int_equal(got, due);
    }
    json_decref(cases);
}

/* ---- escalation of a QR signal; restart; late firing ---------------------------------------- */

static int64_t tick_at(struct fx *f, int64_t now)
{
    clock_set_fake_ms(now);
    rules_timers_tick(&f->app, now);
    drain(f);
    return now;
}

static void test_qr_escalation_sequence(void **state)
{
    struct fx *f = *state;
    int64_t id = create(f, "qr", "signal", "S1", "checkout_queue", "Очередь на кассе");
    drain(f);
    assert_int_equal(count_events(f, "escalation.raised", id), 1);
    /* The store's director was told at once, by name. */
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM notifications n JOIN users u ON "
                                  "u.id = n.user_id WHERE u.login = 'dir1' AND n.request_id = ?1",
                               id), 1);
    tick_at(f, T0_MS + 14 * 60000);
    assert_int_equal(count_events(f, "escalation.raised", id), 1);
    tick_at(f, T0_MS + 15 * 60000 + 1);
    assert_int_equal(count_events(f, "escalation.raised", id), 2);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM notifications n JOIN users u ON "
                                  "u.id = n.user_id WHERE u.login = 'reg1' AND n.request_id = ?1",
                               id), 1);
    /* A fired timer leaves no row; only the next level's is pending. */
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM timers WHERE request_id = ?1 AND "
                                  "kind = 'escalate'", id), 1);
    /* Restart: the next level's timer is persisted and fires once, late, after downtime. */
    size_t pending = rules_timers_pending(&f->app);
    assert_true(pending >= 1);
    rules_stop(&f->app);
    struct err_info err = {0};
    assert_int_equal(rules_start_manual(&f->app, &err), 0);
    assert_int_equal(rules_timers_pending(&f->app), pending);
    int64_t later = T0_MS + 3 * 3600000;
    tick_at(f, later);
    tick_at(f, later + 1000);
    assert_int_equal(count_events(f, "escalation.raised", id), 3); /* department head, late */
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM events WHERE request_id = ?1 AND type = "
                                  "'escalation.raised' AND data LIKE '%\"late\":true%'", id), 1);
    /* The head's hour counts from when the head was told. */
    tick_at(f, later + 3600000 + 1);
    assert_int_equal(count_events(f, "escalation.raised", id), 4);
    tick_at(f, later + 86400000);
    assert_int_equal(count_events(f, "escalation.raised", id), 4);
}

struct patch_job {
    int64_t id;
    struct request_patch p;
};

static int job_patch(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct patch_job *j = arg;
    return store_request_patch(tx, j->id, &j->p, err);
}

static void test_resolving_stops_the_climb(void **state)
{
    struct fx *f = *state;
    int64_t id = create(f, "qr", "signal", "S1", "store_condition", "Грязно");
    drain(f);
    int64_t second = create(f, "qr", "signal", "S1", "store_condition", "Грязно");
    drain(f);
    /* The repeated signal climbs twice as fast, and pulls the first one along. */
    assert_int_equal(query_i64(f, "SELECT speedup FROM escalations WHERE request_id = ?1", second), 2);
    assert_int_equal(count_events(f, "escalation.accelerated", id), 1);
    struct patch_job pj = {.id = id, .p = {.status = "solved", .actor = "user:dir1"}};
    struct err_info err = {0};
    assert_int_equal(store_write(f->app.store, job_patch, &pj, &err), 0);
    drain(f);
    assert_int_equal(count_events(f, "escalation.stopped", id), 1);
    assert_int_equal(count_events(f, "sla.stopped", id), 1);
    tick_at(f, T0_MS + 86400000);
    assert_int_equal(count_events(f, "escalation.raised", id), 1);
    assert_true(count_events(f, "escalation.raised", second) > 1);
}

/* A timer row's id is reused once the row is gone; the heap entry of the
 * cancelled timer must not fire the new one at the old time. */
static void test_reused_timer_id_fires_at_its_own_time(void **state)
{
    struct fx *f = *state;
    int64_t a = create(f, "qr", "signal", "S1", "checkout_queue", "Очередь на кассе");
    drain(f);
    int64_t a_timer = query_i64(f, "SELECT MAX(id) FROM timers WHERE request_id = ?1", a);
    struct patch_job pj = {.id = a, .p = {.status = "solved", .actor = "user:dir1"}};
    struct err_info err = {0};
    assert_int_equal(store_write(f->app.store, job_patch, &pj, &err), 0);
    drain(f);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM timers WHERE request_id = ?1", a), 0);
    /* Ten minutes on, another signal takes the freed id, due fifteen minutes later. */
    clock_set_fake_ms(T0_MS + 10 * 60000);
    int64_t b = create(f, "qr", "signal", "S1", "checkout_queue", "Опять очередь на кассе");
    drain(f);
    assert_int_equal(query_i64(f, "SELECT request_id FROM timers WHERE kind = 'escalate' AND "
                                  "id = ?1", a_timer),
                     b);
    assert_int_equal(count_events(f, "escalation.raised", b), 1);
    tick_at(f, T0_MS + 15 * 60000 + 1); /* A's old moment: nothing for B */
    assert_int_equal(count_events(f, "escalation.raised", b), 1);
    tick_at(f, T0_MS + 25 * 60000 + 1); /* B's own */
    assert_int_equal(count_events(f, "escalation.raised", b), 2);
}

static int64_t count_actor(struct fx *f, const char *type, const char *actor)
{
    struct db *r = store_reader(f->app.store);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db_handle(r), "SELECT COUNT(*) FROM events WHERE type = ?1 AND actor = ?2",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    store_reader_done(f->app.store, r);
    return n;
}

static void test_window_rule_through_the_engine(void **state)
{
    struct fx *f = *state;
    sql(f, "INSERT INTO rules (id, name, position, definition, created_at_ms, updated_at_ms) "
           "VALUES (77, 'burst', 5, '{\"when\":{\"event\":[\"request.created\"],"
           "\"topic\":[\"checkout_queue\"],\"window\":{\"count\":3,\"minutes\":10,"
           "\"per\":\"store\"}},\"actions\":[{\"type\":\"set_priority\",\"value\":"
           "\"urgent\"},{\"type\":\"add_tags\",\"tags\":[\"burst\"]}]}', 0, 0)");
    struct err_info err = {0};
    assert_int_equal(rules_reload(f->app.rules, &err), 0);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        clock_set_fake_ms(T0_MS + i * 60000);
        ids[i] = create(f, "qr", "signal", "S1", "checkout_queue", "Очередь");
        drain(f);
    }
    assert_int_equal(count_actor(f, "rule.matched", "rule:77"), 1);
    assert_int_equal(count_events(f, "request.priority_changed", ids[2]), 1);
    assert_int_equal(count_events(f, "request.tagged", ids[2]), 1);
    /* A restart rebuilds the window from the log: two more make no hit, a third does. */
    rules_stop(&f->app);
    assert_int_equal(rules_start_manual(&f->app, &err), 0);
    for (int i = 3; i < 6; i++) {
        clock_set_fake_ms(T0_MS + i * 60000);
        create(f, "qr", "signal", "S1", "checkout_queue", "Очередь");
        drain(f);
    }
    assert_int_equal(count_actor(f, "rule.matched", "rule:77"), 2);
    /* Nothing is processed twice. */
    drain(f);
    assert_int_equal(count_actor(f, "rule.matched", "rule:77"), 2);
}

/* A hook that fails after writing is undone alone; the rest of its batch stands. */
static void test_failing_hook_undone_alone(void **state)
{
    struct fx *f = *state;
    int64_t a = create(f, "web", "complaint", "S1", NULL, "Жалоба");
    int64_t b = create(f, "web", "complaint", "S1", NULL, "Жалоба");
    int64_t c = create(f, "web", "complaint", "S1", NULL, "Жалоба");
    /* b's second clock is refused after its first was written (and its timer armed). */
    char trig[300];
    snprintf(trig, sizeof trig,
             "CREATE TRIGGER refuse_clock BEFORE INSERT ON sla_clocks WHEN NEW.request_id = %lld "
             "AND NEW.clock = 'resolution' BEGIN SELECT RAISE(ABORT, 'refused'); END",
             (long long)b);
    sql(f, trig);
    drain(f); /* one batch holds the three creations */
    const char *q = "SELECT COUNT(*) FROM sla_clocks WHERE request_id = ?1";
    assert_int_equal(query_i64(f, q, a), 2);
    assert_int_equal(query_i64(f, q, b), 0);
    assert_int_equal(query_i64(f, q, c), 2);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM timers WHERE request_id = ?1", b), 0);
    assert_true(query_i64(f, "SELECT COUNT(*) FROM timers WHERE request_id = ?1", a) > 0);
    assert_int_equal(count_events(f, "sla.started", a), 1);
    assert_int_equal(count_events(f, "sla.started", b), 0);
    assert_int_equal(count_events(f, "sla.started", c), 1);
    /* The event names both clocks with their policy and due times, as stored. */
    json_t *data = event_data(f, "sla.started", a);
    json_t *clocks = json_object_get(data, "clocks");
    assert_int_equal(json_array_size(clocks), 2);
    const char *names[] = {"first_response", "resolution"};
    for (size_t i = 0; i < 2; i++) {
        json_t *k = json_array_get(clocks, i);
        assert_string_equal(json_string_value(json_object_get(k, "clock")), names[i]);
        assert_true(json_integer_value(json_object_get(k, "target_s")) > 0);
        assert_non_null(json_string_value(json_object_get(k, "policy")));
        char q2[200];
        snprintf(q2, sizeof q2, "SELECT due_at_ms FROM sla_clocks WHERE request_id = ?1 AND "
                                "clock = '%s' AND policy_id = %lld", names[i],
                 (long long)json_integer_value(json_object_get(k, "policy_id")));
        assert_int_equal(query_i64(f, q2, a), json_integer_value(json_object_get(k, "due_at_ms")));
    }
    assert_int_equal(json_object_size(json_array_get(clocks, 0)), 5);
    json_decref(data);
    /* The batch is done: nothing runs twice. */
    sql(f, "DROP TRIGGER refuse_clock");
    drain(f);
    assert_int_equal(query_i64(f, q, b), 0);
    assert_int_equal(count_events(f, "sla.started", a), 1);
}

/* Events the machine writes long after what caused them say so. */
static void test_late_event_says_so(void **state)
{
    struct fx *f = *state;
    clock_set_fake_ms(T0_MS);
    int64_t a = create(f, "web", "complaint", "S1", NULL, "Жалоба");
    clock_set_fake_ms(T0_MS + 95000); /* the machine catches up 95 s later */
    drain(f);
    json_t *data = event_data(f, "sla.started", a);
    assert_int_equal(json_array_size(json_object_get(data, "clocks")), 2);
    assert_true(json_is_true(json_object_get(data, "late")));
    assert_int_equal(json_integer_value(json_object_get(data, "delay_s")), 95);
    json_decref(data);
}

/* A new request goes to the least loaded operator with room and the skills, the
 * lowest id among equals. */
static void test_routing_picks_least_loaded(void **state)
{
    struct fx *f = *state;
    sql(f, "INSERT INTO users (id, login, name, role, password_hash, skills, is_active, "
           "created_at_ms) VALUES "
           "(101, 'op1', 'Оп 1', 'operator', 'x', 'chat', 1, 0),"
           "(102, 'op2', 'Оп 2', 'operator', 'x', 'chat,phone', 1, 0),"
           "(103, 'op3', 'Оп 3', 'operator', 'x', 'phone', 1, 0),"
           "(104, 'op4', 'Оп 4', 'operator', 'x', 'chat', 1, 0),"
           "(105, 'op5', 'Оп 5', 'operator', 'x', 'chat', 1, 0),"
           "(106, 'op6', 'Оп 6', 'operator', 'x', 'chat', 0, 0);"
           "INSERT INTO operator_status (user_id, is_available, capacity, updated_at_ms) VALUES "
           "(101, 1, 2, 0), (102, 1, 5, 0), (103, 1, 5, 0), (104, 1, 1, 0), (105, 0, 5, 0),"
           "(106, 1, 5, 0);"
           /* op1 and op4 have one open request each; op4 is full with it. */
           "INSERT INTO requests (customer_id, channel, kind, status, priority, assignee_id, "
           "created_at_ms, updated_at_ms) VALUES (NULL, 'web', 'question', 'open', 'normal', 101, "
           "0, 0), (NULL, 'web', 'question', 'open', 'normal', 104, 0, 0)");
    const char *q = "SELECT COALESCE(assignee_id, 0) FROM requests WHERE id = ?1";
    int64_t a = create(f, "web", "complaint", "S1", NULL, "Жалоба");
    drain(f);
    assert_int_equal(query_i64(f, q, a), 102); /* 0 open; op3 lacks chat, op5 is away, op6 off */
    int64_t b = create(f, "web", "complaint", "S1", NULL, "Жалоба");
    drain(f);
    assert_int_equal(query_i64(f, q, b), 101); /* op1 and op2 have one each: the lower id */
    int64_t c = create(f, "web", "complaint", "S1", NULL, "Жалоба");
    drain(f);
    assert_int_equal(query_i64(f, q, c), 102); /* op1 is at its capacity of 2 */
}

static void test_order_incidents(void **state)
{
    struct fx *f = *state;
    struct order_event_in in = {.order_ref = "ORD-1", .status = "confirmed",
                                .promised_at_ms = T0_MS + 3600000, .total_kop = -1,
                                .store_code = "S1", .actor = "test"};
    in.customer.ids[0] = "+79120000001";
    assert_true(order_event(f, &in) > 0);
    drain(f);
    in.status = "item_not_found";
    in.promised_at_ms = 0;
    assert_true(order_event(f, &in) > 0);
    drain(f);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM requests WHERE channel = 'internal' AND "
                                  "queue = 'dept:online' AND order_id = ?1", 1), 1);
    tick_at(f, T0_MS + 3600000 + 1);
    assert_int_equal(count_events(f, "order.late", 0), 1);
    assert_int_equal(count_events(f, "notice.queued", 0) + count_events(f, "notice.failed", 0), 1);
    in.status = "delivered";
    assert_true(order_event(f, &in) > 0);
    drain(f);
    assert_int_equal(count_events(f, "survey.requested", 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_rules_name_their_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditions_and_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_counts_per_store, setup, teardown),
        cmocka_unit_test(test_timer_heap_order),
        cmocka_unit_test_setup_teardown(test_sla_due_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qr_escalation_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolving_stops_the_climb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reused_timer_id_fires_at_its_own_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_rule_through_the_engine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_incidents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_hook_undone_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_event_says_so, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing_picks_least_loaded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
