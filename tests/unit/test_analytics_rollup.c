/*
 * test_analytics_rollup.c - the rollup consumer against a real store: new
 * requests, a reclassification, an assignment with a reply and a solve, a
 * reopen and a survey answer each move the rollups exactly, a second run
 * changes nothing, and the tables and facts kept from events equal a full
 * rebuild (over the existing rollups, after replies and a reopen, and again
 * over its own), whose cursor is the last event.
 */
#include "testutil.h"

#include "analytics/analytics_int.h"
#include "analytics/surveys_int.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "store/store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0_MS INT64_C(1715342400000) /* 2024-05-10T12:00:00Z */
#define HOUR_MS INT64_C(3600000)

static char path[128];
static struct store *s;
static int64_t ids[3], user_id;

static int seed_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    static const struct store_in st[] = {
        {"S1", "Магазин 1", "Екатеринбург", "Урал", "Asia/Yekaterinburg", NULL},
        {"S2", "Магазин 2", "Новосибирск", "Сибирь", "Asia/Novosibirsk", NULL},
    };
    for (int i = 0; i < 2; i++)
        if (store_store_upsert(tx, &st[i], NULL, err) != 0)
            return err->code;
    struct user_in u = {.login = "op1", .name = "Оператор", .role = "operator",
                        .password_hash = "x", .skills = ""};
    if (store_user_add(tx, &u, &user_id, err) != 0)
        return err->code;
    static const char *const channels[] = {"phone", "telegram", "email"};
    static const char *const topics[] = {"delivery", "checkout_queue", "store_condition"};
    static const char *const stores[] = {"S1", "S1", "S2"};
    for (int i = 0; i < 3; i++) {
        char src[16];
        snprintf(src, sizeof src, "t-%d", i);
        struct request_in r = {.channel = channels[i], .source_id = src, .store_code = stores[i],
                               .text = "Текст обращения", .kind = "complaint",
                               .created_at_ms = T0_MS - i * 24 * HOUR_MS, .actor = "test",
                               .topic = topics[i], .topic_confidence = 0.9,
                               .sentiment = "negative", .sentiment_confidence = 0.9};
        r.customer.ids[0] = i == 0 ? "+79120000001" : "+79120000002";
        struct request_out out;
        if (store_request_create(tx, &r, &out, err) != 0)
            return err->code;
        ids[i] = out.id;
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    clock_set_fake_ms(T0_MS + HOUR_MS);
    snprintf(path, sizeof path, "/tmp/otklik-rollup-%d.db", (int)getpid());
    unlink(path);
    struct err_info err = {0};
    if (store_open(path, NULL, &s, &err) != 0)
        return -1;
    return store_write(s, seed_job, NULL, &err);
}

static int teardown(void **state)
{
    (void)state;
    store_close(s);
    char p[160];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    return 0;
}

static int64_t q1(const char *sql)
{
    struct db *r = store_reader(s);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db_handle(r), sql, -1, &st, NULL), SQLITE_OK);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    store_reader_done(s, r);
    return v;
}

/* The stored facts: how many, and request id's (false when it has none). */
static int64_t facts_stored(int64_t id, struct fact *out)
{
    struct db *r = store_reader(s);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db_handle(r), "SELECT block, facts FROM an_facts",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int64_t n = 0;
    bool found = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *p = sqlite3_column_blob(st, 1);
        assert_int_equal(sqlite3_column_bytes(st, 1), FACT_BLOCK_BYTES);
        for (int k = 0; k < FACT_BLOCK; k++) {
            struct fact f;
            if (!fact_decode(p + k * FACT_BYTES, &f))
                continue;
            n++;
            if (sqlite3_column_int64(st, 0) * FACT_BLOCK + k == id) {
                *out = f;
                found = true;
            }
        }
    }
    sqlite3_finalize(st);
    store_reader_done(s, r);
    return id == 0 ? n : found;
}

static void step(void)
{
    struct err_info err = {0};
    int64_t n = 0;
    assert_int_equal(analytics_rollup_step(s, 100, &n, &err), 0);
}

/* Every non-empty rollup row, as text, in key order. */
static char *dump(void)
{
    static const char *const sql[] = {
        "SELECT * FROM an_roll_req WHERE n_created <> 0 ORDER BY 1, 2, 3, 4, 5",
        "SELECT * FROM an_roll_store WHERE n_created <> 0 ORDER BY 1, 2",
        "SELECT * FROM an_roll_chan WHERE n_created <> 0 ORDER BY 1, 2, 3",
        "SELECT * FROM an_roll_topic WHERE n_created <> 0 ORDER BY 1, 2, 3",
        "SELECT * FROM an_roll_operator WHERE n_created <> 0 ORDER BY 1, 2, 3",
        "SELECT * FROM an_roll_survey WHERE n <> 0 ORDER BY 1, 2, 3, 4",
        "SELECT * FROM an_roll_matrix WHERE n <> 0 ORDER BY 1, 2, 3, 4",
        "SELECT block, hex(facts) FROM an_facts ORDER BY 1",
    };
    struct buf b;
    buf_init(&b, 0);
    struct db *r = store_reader(s);
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db_handle(r), sql[i], -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++)
                buf_printf(&b, "%s|", (const char *)sqlite3_column_text(st, c));
            buf_putc(&b, '\n');
        }
        sqlite3_finalize(st);
        buf_puts(&b, "--\n");
    }
    store_reader_done(s, r);
    return buf_steal(&b, NULL);
}

struct patch_job {
    int64_t id;
    struct request_patch p;
};

static int patch_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct patch_job *j = arg;
    return store_request_patch(tx, j->id, &j->p, err);
}

static void patch(int64_t id, const char *status, const char *topic, int64_t assignee)
{
    struct patch_job j = {id, {.status = status, .topic = topic, .assignee_id = assignee,
                               .actor = "user:op1"}};
    struct err_info err = {0};
    assert_int_equal(store_write(s, patch_job, &j, &err), 0);
}

static int reply_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    int64_t *id = arg, mid;
    struct message_in m = {.direction = "out", .body = "Ответ", .author_name = "op",
                           .actor = "user:op1"};
    return store_message_add(tx, *id, &m, &mid, err);
}

static void test_rollups_follow_events(void **state)
{
    (void)state;
    step();
    assert_int_equal(q1("SELECT sum(n_created) FROM an_roll_store WHERE store_id = 0"), 3);
    assert_int_equal(q1("SELECT sum(n_negative) FROM an_roll_chan WHERE store_id = 0"), 3);
    assert_int_equal(q1("SELECT n_created FROM an_roll_topic WHERE topic = 'delivery'"), 1);
    assert_int_equal(q1("SELECT count(DISTINCT day) FROM an_roll_store WHERE store_id = 0"), 3);

    /* A reclassification moves the request between topics, not its day. */
    patch(ids[0], NULL, "return_refund", 0);
    step();
    assert_int_equal(q1("SELECT coalesce(sum(n_created), 0) FROM an_roll_topic WHERE topic = 'delivery'"), 0);
    assert_int_equal(q1("SELECT n_created FROM an_roll_topic WHERE topic = 'return_refund'"), 1);
    assert_int_equal(q1("SELECT sum(n_created) FROM an_roll_store WHERE store_id = 0"), 3);

    /* Assigned, answered after an hour (fake clock), solved: the operator's row. */
    patch(ids[1], NULL, NULL, user_id);
    clock_advance_ms(24 * HOUR_MS);
    struct err_info err = {0};
    assert_int_equal(store_write(s, reply_job, &ids[1], &err), 0);
    patch(ids[1], "solved", NULL, 0);
    step();
    char q[160];
    snprintf(q, sizeof q, "SELECT n_created * 1000 + n_responded * 100 + n_solved * 10 + n_fcr "
                          "FROM an_roll_operator WHERE operator_id = %lld", (long long)user_id);
    assert_int_equal(q1(q), 1111);
    /* Created a day before T0 and answered 2 days later: not within 24 h. */
    assert_int_equal(q1("SELECT sum(n_frt_24h) FROM an_roll_store WHERE store_id = 0"), 0);
    assert_int_equal(q1("SELECT sum(frt_sum_s) FROM an_roll_store WHERE store_id = 0"), 2 * 24 * 3600 + 3600);

    /* Reopened: no longer solved, and never first-contact resolution again. */
    patch(ids[1], "open", NULL, 0);
    step();
    assert_int_equal(q1("SELECT sum(n_solved) FROM an_roll_store WHERE store_id = 0"), 0);
    patch(ids[1], "solved", NULL, 0);
    step();
    assert_int_equal(q1("SELECT sum(n_solved) FROM an_roll_store WHERE store_id = 0"), 1);
    assert_int_equal(q1("SELECT sum(n_fcr) FROM an_roll_store WHERE store_id = 0"), 0);

    /* Nothing new: another step changes nothing. */
    char *a = dump();
    step();
    char *b = dump();
    assert_string_equal(a, b);
    free(a);
    free(b);
}

struct survey_job {
    struct analytics an;
    int64_t invitation;
    struct invite_out out;
};

static int invite_and_answer(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct survey_job *j = arg;
    struct invite_in in = {.survey_id = 2 /* after_delivery: nps */, .question = "?",
                           .store_id = 1, .channel = "web", .source = "manual"};
    int rc = survey_invite(tx, &in, &j->an, &j->out, err);
    if (rc != 0)
        return rc;
    struct answer_in a = {.invitation_id = j->out.id, .score = 3, .reason = "delivery"};
    struct answer_out ao;
    return survey_answer_record(tx, &a, &ao, err);
}

static void test_rebuild_equals_incremental(void **state)
{
    (void)state;
    struct survey_job j;
    memset(&j, 0, sizeof j);
    memset(j.an.secret, 1, sizeof j.an.secret);
    snprintf(j.an.public_url, sizeof j.an.public_url, "https://care.example.test");
    struct err_info err = {0};
    assert_int_equal(store_write(s, invite_and_answer, &j, &err), 0);
    /* The link sent is the page's path under the public address. */
    char want[400];
    snprintf(want, sizeof want, "https://care.example.test/s/%s", j.out.token);
    assert_string_equal(j.out.url, want);
    assert_string_equal(j.out.link, want + strlen("https://care.example.test"));
    step();
    assert_int_equal(q1("SELECT n_detractors FROM an_roll_survey WHERE kind = 'nps' AND channel = '*' AND store_id = 0"), 1);
    assert_int_equal(q1("SELECT n_low FROM an_roll_matrix WHERE reason = 'delivery' AND "
                        "department = 'logistics'"), 1);
    /* The low score opened a follow-up complaint: the rollups count it too. */
    assert_int_equal(q1("SELECT sum(n_created) FROM an_roll_store WHERE store_id = 0"), 4);
    char *incremental = dump();
    struct rebuild_stats st;
    assert_int_equal(analytics_rebuild(s, &st, &err), 0);
    assert_int_equal(st.n_requests, 4);
    assert_int_equal(st.n_answers, 1);
    char *rebuilt = dump();
    assert_string_equal(incremental, rebuilt);
    /* The cursor is the last event read; the chain rows sum the stores' rows. */
    assert_int_equal(q1("SELECT last_event_id FROM consumers WHERE name = 'analytics.rollup'"),
                     q1("SELECT max(id) FROM events"));
    assert_int_equal(q1("SELECT sum(n_created) FROM an_roll_req WHERE store_id = 0"), 4);
    struct fact f1;
    assert_int_equal(facts_stored(0, &f1), 4);
    /* Reopened and answered: the solved request ids[1] is no first-contact resolution. */
    assert_true(facts_stored(ids[1], &f1));
    assert_int_equal(f1.solved * 10 + f1.fcr, 10);
    /* A rebuild over its own tables gives them again, however the two threads
     * share the requests (the helper reads those after the first split_rows). */
    for (int split_rows = 1; split_rows <= 3; split_rows++) {
        rebuild_split_rows = split_rows;
        assert_int_equal(analytics_rebuild(s, &st, &err), 0);
        assert_int_equal(st.n_requests, 4);
        char *again = dump();
        assert_string_equal(rebuilt, again);
        free(again);
    }
    rebuild_split_rows = -1;
    /* The consumer goes on from the rebuilt facts: a change after it is exact. */
    patch(ids[2], "solved", "delivery", user_id);
    step();
    char *moved = dump();
    assert_int_equal(analytics_rebuild(s, &st, &err), 0);
    char *moved_rebuilt = dump();
    assert_string_equal(moved, moved_rebuilt);
    free(moved);
    free(moved_rebuilt);
    free(incremental);
    free(rebuilt);
    /* After a rebuild the consumer has nothing left to do. */
    int64_t n = -1;
    assert_int_equal(analytics_rollup_step(s, 10, &n, &err), 0);
    assert_int_equal(n, 0);
}

/* A query's one text value (malloc'd; "" when there is no row). */
static char *qtext(const char *sql)
{
    struct db *r = store_reader(s);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db_handle(r), sql, -1, &st, NULL), SQLITE_OK);
    const unsigned char *v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    char *out = strdup(v ? (const char *)v : "");
    sqlite3_finalize(st);
    store_reader_done(s, r);
    return out;
}

static void *rebuild_thread(void *arg)
{
    struct err_info err = {0};
    *(int *)arg = analytics_rebuild(s, NULL, &err);
    return NULL;
}

/* The rollup tables' columns and keys, each after its name. */
#define DEFS_SQL                                                                                 \
    "SELECT group_concat(name || substr(sql, instr(sql, '(')), ' | ') FROM (SELECT name, sql "   \
    "FROM sqlite_schema WHERE type = 'table' AND name LIKE 'an\\_%' ESCAPE '\\' ORDER BY name)"

static int drop_one_next(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    return db_exec(store_tx_db(tx), "DROP TABLE an_roll_chan_next", err);
}

/* As if another rebuild's job had swapped the new tables in meanwhile. */
static void another_rebuild(struct store *st)
{
    struct err_info err = {0};
    assert_int_equal(store_write(st, drop_one_next, NULL, &err), 0);
}

/*
 * A rebuild writes new tables and swaps them in: the definitions stay as they
 * were, nothing is left beside them, the old tables' pages are free and the
 * next rebuild reuses them (the file does not grow).  Two rebuilds at once
 * (each makes its new tables in a transaction before its job, the other's
 * job may have swapped them in meanwhile) both succeed with the same tables.
 */
static void test_rebuild_swaps_tables(void **state)
{
    (void)state;
    char *incremental = dump();
    char *defs = qtext(DEFS_SQL);
    assert_non_null(strstr(defs, "an_roll_req(  day INTEGER NOT NULL"));
    assert_non_null(strstr(defs, "an_facts(block INTEGER PRIMARY KEY"));
    struct err_info err = {0};
    assert_int_equal(analytics_rebuild(s, NULL, &err), 0);
    int64_t pages = q1("PRAGMA page_count");
    for (int round = 0; round < 3; round++) {
        int rc[2] = {-1, -1};
        pthread_t t[2];
        for (int k = 0; k < 2; k++)
            assert_int_equal(pthread_create(&t[k], NULL, rebuild_thread, &rc[k]), 0);
        for (int k = 0; k < 2; k++)
            pthread_join(t[k], NULL);
        assert_int_equal(rc[0], 0);
        assert_int_equal(rc[1], 0);
        char *rebuilt = dump();
        assert_string_equal(incremental, rebuilt);
        free(rebuilt);
        char *now = qtext(DEFS_SQL);
        assert_string_equal(defs, now);
        free(now);
        assert_int_equal(q1("SELECT count(*) FROM sqlite_schema WHERE name LIKE '%\\_next' "
                            "ESCAPE '\\'"),
                         0);
        assert_true(q1("PRAGMA freelist_count") > 0);
        /* The planner's statistics of the new tables are there. */
        assert_int_equal(q1("SELECT count(DISTINCT tbl) FROM sqlite_stat1 WHERE tbl IN "
                            "('an_roll_req', 'an_roll_store', 'an_facts')"),
                         3);
        assert_int_equal(q1("PRAGMA page_count"), pages);
    }
    /* One of the new tables gone before the job: the job makes them itself. */
    rebuild_before_job = another_rebuild;
    assert_int_equal(analytics_rebuild(s, NULL, &err), 0);
    rebuild_before_job = NULL;
    char *rebuilt = dump();
    assert_string_equal(incremental, rebuilt);
    free(rebuilt);
    assert_int_equal(q1("SELECT count(*) FROM sqlite_schema WHERE name LIKE '%\\_next' "
                        "ESCAPE '\\'"),
                     0);
    char *check = qtext("PRAGMA integrity_check");
    assert_string_equal(check, "ok");
    free(check);
    free(defs);
    free(incremental);
}

/*
 * Many requests over several stores, their ids not in store order and with
 * gaps, several of them a row (same store, day, channel, topic and kind) and
 * some without a store: the rebuild hands an_roll_req's rows over store by
 * store, and every way the two threads share the requests gives the
 * consumer's tables.
 */
#define N_MANY 400

static int many_stores_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    static const char *const channels[] = {"phone", "telegram", "email", "web"};
    static const char *const topics[] = {"delivery", "checkout_queue", "price"};
    static const char *const kinds[] = {"complaint", "question"};
    static const char *const sentiments[] = {"negative", "neutral", "positive"};
    struct db *db = store_tx_db(tx);
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO requests (channel, store_id, kind, status, "
                                   "priority, topic, sentiment, created_at_ms, updated_at_ms, "
                                   "first_response_at_ms, solved_at_ms, id) VALUES ($1, $2, $3, "
                                   "'open', 'normal', $4, $5, $6, $6, $7, $8, $9)");
    for (int i = 0; i < N_MANY; i++) {
        db_bind_i64(st, 9, 1000 + 3 * i + i % 2);
        int64_t store_id = (i * 7) % 13 < 2 ? 0 : (i * 7) % 13 + 100 * (i % 2);
        int64_t created = T0_MS - (i % 3) * 24 * HOUR_MS;
        db_bind_text(st, 1, channels[(i / 5) % 4], -1);
        db_bind_i64(st, 2, store_id);
        db_bind_text(st, 3, kinds[(i / 7) % 2], -1);
        db_bind_text(st, 4, topics[(i / 11) % 3], -1);
        db_bind_text(st, 5, sentiments[i % 3], -1);
        db_bind_i64(st, 6, created);
        if (i % 4 == 0)
            db_bind_null(st, 7);
        else
            db_bind_i64(st, 7, created + (i % 5) * 20 * HOUR_MS);
        if (i % 3 == 0)
            db_bind_null(st, 8);
        else
            db_bind_i64(st, 8, created + (i % 7) * 9 * HOUR_MS);
        int rc = db_step(db, st, err);
        sqlite3_reset(st);
        if (rc < 0)
            return rc;
        if (store_event_add(tx, "request.created", db_last_id(db), 0, 0, store_id, "test",
                            NULL, err) <= 0)
            return err->code;
    }
    return 0;
}

static void test_rebuild_many_stores(void **state)
{
    (void)state;
    struct err_info err = {0};
    assert_int_equal(store_write(s, many_stores_job, NULL, &err), 0);
    for (int i = 0; i < N_MANY / 100 + 1; i++)
        step();
    assert_int_equal(q1("SELECT count(DISTINCT store_id) FROM an_roll_req"), 24);
    assert_true(q1("SELECT max(n_created) FROM an_roll_req WHERE store_id > 0") > 1);
    char *incremental = dump();
    static const int split_rows[] = {-1, 1, 5, 6, 200, N_MANY, N_MANY + 4};
    for (size_t k = 0; k < sizeof split_rows / sizeof split_rows[0]; k++) {
        rebuild_split_rows = split_rows[k];
        struct rebuild_stats st;
        assert_int_equal(analytics_rebuild(s, &st, &err), 0);
        assert_int_equal(st.n_requests, N_MANY + 4);
        char *rebuilt = dump();
        assert_string_equal(incremental, rebuilt);
        free(rebuilt);
    }
    rebuild_split_rows = -1;
    free(incremental);
}

/* A request whose store id does not fit the rollup keys' 24 bits (not one the stores table
 * gives, but nothing forbids it): the rebuild sums every grain from the facts then, as the
 * consumer does, and still equals it. */
static int odd_store_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    struct db *db = store_tx_db(tx);
    int rc = db_exec(db,
                     "INSERT INTO requests (channel, store_id, kind, status, priority, topic, "
                     "sentiment, created_at_ms, updated_at_ms, first_response_at_ms, solved_at_ms) "
                     "VALUES ('phone', 16777217, 'complaint', 'solved', 'normal', 'delivery', "
                     "'neutral', 1715342400000, 1715342400000, 1715346000000, 1715349600000)",
                     err);
    if (rc != 0)
        return rc;
    int64_t id = db_last_id(db);
    return store_event_add(tx, "request.created", id, 0, 0, 16777217, "test", NULL, err) > 0
               ? 0
               : err->code;
}

static void test_rebuild_odd_store(void **state)
{
    (void)state;
    struct err_info err = {0};
    assert_int_equal(store_write(s, odd_store_job, NULL, &err), 0);
    step();
    char *incremental = dump();
    struct rebuild_stats st;
    assert_int_equal(analytics_rebuild(s, &st, &err), 0);
    char *rebuilt = dump();
    assert_string_equal(incremental, rebuilt);
    free(incremental);
    free(rebuilt);
}

/* survey.answered data: the fast parse of compact JSON agrees with jansson's reading,
 * and whatever it does not take (escapes, spaces, duplicates, nesting) goes to jansson. */
static void test_answer_data(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        bool ok;
        int kind; /* index in survey_kinds */
        const char *channel, *reason;
        int64_t score, day;
        bool is_low;
    } cases[] = {
        {"{\"kind\":\"nps\",\"score\":3,\"channel\":\"web\",\"at_ms\":86400000,\"low\":true,"
         "\"survey_id\":2,\"reason\":\"delivery\",\"department\":\"logistics\"}",
         true, 0, "web", "delivery", 3, 1, true},
        {"{\"kind\":\"csat\",\"score\":-0,\"channel\":\"phone\",\"at_ms\":0,\"low\":false}",
         true, 1, "phone", NULL, 0, 0, false},
        /* escapes, spaces, nesting and floats are jansson's; the answer is the same */
        {"{\"kind\":\"c\\u0073at\",\"score\":5,\"channel\":\"web\",\"at_ms\":1}", true, 1, "web",
         NULL, 5, 0, false},
        {"{ \"kind\": \"ces\", \"score\": 7, \"at_ms\": 172800000, \"x\": {\"a\": [1]} }", true, 2,
         NULL, NULL, 7, 2, false},
        {"{\"kind\":\"nps\",\"score\":3.0,\"at_ms\":1}", false, 0, NULL, NULL, 0, 0, false},
        /* a duplicate key: jansson keeps the last */
        {"{\"kind\":\"nps\",\"kind\":\"csi\",\"score\":4,\"at_ms\":1,\"low\":true,\"low\":false}",
         true, 3, NULL, NULL, 4, 0, false},
        {"{\"kind\":\"nps\",\"score\":\"3\",\"at_ms\":1}", false, 0, NULL, NULL, 0, 0, false},
        {"{\"kind\":\"nope\",\"score\":3,\"at_ms\":1}", false, 0, NULL, NULL, 0, 0, false},
        {"{\"kind\":\"nps\",\"score\":01,\"at_ms\":1}", false, 0, NULL, NULL, 0, 0, false},
        {"{\"kind\":\"nps\",\"score\":1,\"at_ms\":1} x", false, 0, NULL, NULL, 0, 0, false},
        {"{\"kind\":\"nps\",\"score\":1,\"at_ms\":1,\"reason\":null,\"channel\":7}", true, 0, NULL,
         NULL, 1, 0, false},
        {"", false, 0, NULL, NULL, 0, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct survey_answer_ev a;
        bool ok = survey_answer_from_event(cases[i].data, 9, &a);
        assert_int_equal(ok, cases[i].ok);
        if (!ok)
            continue;
        assert_int_equal(a.kind, cases[i].kind);
        assert_int_equal(a.channel, model_find(model_channels, cases[i].channel));
        assert_int_equal(a.reason, cases[i].reason ? survey_reason_find(cases[i].reason) : -1);
        assert_int_equal(a.score, cases[i].score);
        assert_int_equal(a.day, cases[i].day);
        assert_int_equal(a.is_low, cases[i].is_low);
        assert_int_equal(a.store_id, 9);
    }
}

/* A fact's bytes give it back whole, whatever its values. */
static void test_fact_encoding(void **state)
{
    (void)state;
    const struct fact cases[] = {
        {.day = 20000, .store_id = 7, .channel = 3, .topic = 0, .kind = 6, .sentiment = 2,
         .operator_id = 12, .responded = 1, .frt_s = 90, .solved = 1, .solve_s = 3600, .fcr = 1},
        {.day = 0, .store_id = 0, .channel = -1, .topic = -1, .kind = -1, .sentiment = -1},
        {.day = FACT_DAY_MAX, .store_id = UINT32_MAX, .channel = 14, .topic = 13, .kind = 0,
         .sentiment = 0, .operator_id = UINT32_MAX, .responded = 1, .frt_s = UINT32_MAX,
         .solved = 1, .solve_s = UINT32_MAX, .fcr = 0},
        {.day = FACT_DAY_MIN, .store_id = 1, .channel = 0, .topic = 2, .kind = 7, .sentiment = 1,
         .operator_id = 65536, .responded = 1, .frt_s = 0, .solved = 0, .solve_s = 0},
        {.day = -1, .store_id = 16777216, .channel = 2, .topic = 1, .kind = 1, .sentiment = -1,
         .operator_id = 1, .responded = 0, .solved = 1, .solve_s = 86400, .fcr = 1},
    };
    unsigned char block[FACT_BLOCK_BYTES];
    memset(block, 0, sizeof block);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        fact_encode(&cases[i], block + (i * 5) * FACT_BYTES);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fact f;
        assert_true(fact_decode(block + (i * 5) * FACT_BYTES, &f));
        assert_memory_equal(&f, &cases[i], sizeof f);
    }
    struct fact none;
    assert_false(fact_decode(block + FACT_BYTES, &none)); /* an empty slot */
    /* Past their room, times and days are kept as the nearest value there is. */
    const struct fact wide = {.day = (int64_t)1 << 30, .store_id = 9, .channel = 1, .topic = 1,
                              .kind = 1, .sentiment = 1, .responded = 1,
                              .frt_s = (int64_t)1 << 35, .solved = 1, .solve_s = INT64_MAX};
    unsigned char slot[FACT_BYTES];
    fact_encode(&wide, slot);
    struct fact got;
    assert_true(fact_decode(slot, &got));
    assert_int_equal(got.day, FACT_DAY_MAX);
    assert_int_equal(got.frt_s, UINT32_MAX);
    assert_int_equal(got.solve_s, UINT32_MAX);
    assert_int_equal(got.store_id, 9);
    const struct fact past = {.day = -((int64_t)1 << 30), .frt_s = -5};
    fact_encode(&past, slot);
    assert_true(fact_decode(slot, &got));
    assert_int_equal(got.day, FACT_DAY_MIN);
    assert_int_equal(got.frt_s, 0);
}

/* A database of the row-per-fact schema: step 9 drops its facts and rollups,
 * and the consumer makes them again from the log, as a rebuild would. */
static void test_facts_migrated(void **state)
{
    (void)state;
    struct err_info err = {0};
    step();
    char *before = dump();
    store_close(s);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(h,
                     "DROP TABLE an_facts;"
                     "CREATE TABLE an_request_facts (request_id INTEGER PRIMARY KEY, day INTEGER "
                     "NOT NULL, store_id INTEGER NOT NULL, channel INTEGER NOT NULL, topic "
                     "INTEGER NOT NULL, kind INTEGER NOT NULL, sentiment INTEGER NOT NULL, "
                     "operator_id INTEGER NOT NULL, responded INTEGER NOT NULL, frt_s INTEGER "
                     "NOT NULL, solved INTEGER NOT NULL, solve_s INTEGER NOT NULL, fcr INTEGER "
                     "NOT NULL);"
                     "INSERT INTO an_request_facts VALUES (1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0);"
                     "PRAGMA user_version = 8;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(store_open(path, NULL, &s, &err), 0);
    assert_int_equal(q1("SELECT count(*) FROM sqlite_schema WHERE name = 'an_request_facts'"), 0);
    assert_int_equal(q1("SELECT count(*) FROM an_facts"), 0);
    assert_int_equal(q1("SELECT count(*) FROM an_roll_req"), 0);
    assert_int_equal(q1("SELECT count(*) FROM consumers WHERE name = 'analytics.rollup'"), 0);
    step(); /* from the start of the log */
    char *after = dump();
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* A database of 48-byte facts (step 10, an_fact_blocks): step 11 drops them and
 * the rollups, and the consumer makes them again from the log, 24 bytes each,
 * in an_facts (a server of step 10 still running would find no table to
 * write its layout into). */
static void test_facts_narrowed(void **state)
{
    (void)state;
    struct err_info err = {0};
    step();
    char *before = dump();
    int64_t n_facts = facts_stored(0, &(struct fact){0});
    assert_true(n_facts > 0);
    store_close(s);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    /* Block 0 of the old layout: the fact of request 1 at bytes 48..95, day
     * 19853 at 56, store 1 at 80 (read as the new layout, its bytes would make
     * request 2 and 3 facts of other days and stores). */
    assert_int_equal(sqlite3_exec(h,
                                  "DROP TABLE an_facts;"
                                  "CREATE TABLE an_fact_blocks (block INTEGER PRIMARY KEY, facts "
                                  "BLOB NOT NULL);"
                                  "INSERT INTO an_fact_blocks VALUES (0, zeroblob(48) || "
                                  "X'0101020300000000' || X'8D4D000000000000' || zeroblob(16) || "
                                  "X'0100000000000000' || zeroblob(8) || zeroblob(3936));"
                                  "PRAGMA user_version = 10;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(store_open(path, NULL, &s, &err), 0);
    assert_int_equal(q1("PRAGMA user_version"), 14);
    assert_int_equal(q1("SELECT count(*) FROM sqlite_schema WHERE name = 'an_fact_blocks'"), 0);
    assert_int_equal(q1("SELECT count(*) FROM an_facts"), 0);
    assert_int_equal(q1("SELECT count(*) FROM an_roll_store"), 0);
    assert_int_equal(q1("SELECT count(*) FROM consumers WHERE name = 'analytics.rollup'"), 0);
    for (int i = 0; i < 11; i++)
        step(); /* from the start of the log */
    char *after = dump();
    assert_string_equal(before, after);
    assert_int_equal(facts_stored(0, &(struct fact){0}), n_facts);
    free(before);
    free(after);
}

/* Ids and times past a stored fact's room: the consumer and a rebuild add
 * the same clamped values, so the rollups agree and the fact read back is
 * the one added. */
static void test_facts_clamped(void **state)
{
    (void)state;
    struct fact f = {.day = -((int64_t)1 << 40), .store_id = -3, .operator_id = (int64_t)1 << 33,
                     .frt_s = (int64_t)1 << 34, .solve_s = -1, .channel = 1, .topic = 2,
                     .kind = 3, .sentiment = 0, .responded = 1, .solved = 1};
    fact_clamp(&f);
    assert_int_equal(f.day, FACT_DAY_MIN);
    assert_int_equal(f.store_id, 0);
    assert_int_equal(f.operator_id, UINT32_MAX);
    assert_int_equal(f.frt_s, UINT32_MAX);
    assert_int_equal(f.solve_s, 0);
    unsigned char slot[FACT_BYTES];
    fact_encode(&f, slot);
    struct fact back;
    assert_true(fact_decode(slot, &back));
    assert_memory_equal(&f, &back, sizeof f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollups_follow_events),
        cmocka_unit_test(test_rebuild_equals_incremental),
        cmocka_unit_test(test_rebuild_many_stores),
        cmocka_unit_test(test_rebuild_swaps_tables),
        cmocka_unit_test(test_rebuild_odd_store), /* after: the fallback, with many stores */
        cmocka_unit_test(test_answer_data),
        cmocka_unit_test(test_fact_encoding),
        cmocka_unit_test(test_facts_migrated),
        cmocka_unit_test(test_facts_narrowed),
        cmocka_unit_test(test_facts_clamped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
