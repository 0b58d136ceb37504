/*
 * test_store.c - the store against a real SQLite file in a temporary
 * directory: the writer and group commit (a failing job rolls back only
 * itself), identity resolution and merge suggestions, dedup, the status
 * machine, the bonus ledger, keyset pagination, full-text search, scopes,
 * the event hub, migrations, and the read snapshots kept between borrowings.
 * Time is the fake clock; nothing sleeps but the wait for the store's own
 * thread to end an old snapshot.
 */
#include "testutil.h"

#include "classify/text.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/str.h"
#include "store/db.h"
#include "store/store.h"
#include "store/store_int.h" /* the durability thread's lock and file, held or broken below */

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define T0_MS 1715342400000 /* 2024-05-10T12:00:00Z */

struct fx {
    char dir[64];
    char path[128];
    struct store *s;
};

/* ---- fixture ------------------------------------------------------------------ */

static void remove_db_files(const char *path)
{
    char p[160];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int job_seed_stores(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    static const struct store_in stores[] = {
        {"S1", "Магазин на Ленина", "Екатеринбург", "Урал", "Asia/Yekaterinburg", NULL},
        {"S2", "Магазин на Мира", "Челябинск", "Урал", "Asia/Yekaterinburg", NULL},
        {"S3", "Магазин в центре", "Новосибирск", "Сибирь", "Asia/Novosibirsk", NULL},
    };
    for (size_t i = 0; i < N_ELEMS(stores); i++) {
        int rc = store_store_upsert(tx, &stores[i], NULL, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int open_store(struct fx *f, struct store **out, struct err_info *err)
{
    struct store_options opt = {.n_readers = 2, .reader_cache_kib = 512, .writer_cache_kib = 1024};
    return store_open(f->path, &opt, out, err);
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/otklik-test-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
    clock_set_fake_ms(T0_MS);
    struct err_info err = {0};
    if (open_store(f, &f->s, &err) != 0) {
        print_error("store_open: %s\n", err.message);
        return -1;
    }
    if (store_write(f->s, job_seed_stores, NULL, &err) != 0) {
        print_error("seed: %s\n", err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->s);
    remove_db_files(f->path);
    rmdir(f->dir);
    free(f);
    clock_set_fake_ms(0);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

/* One integer from a query with up to one text and one integer parameter ($1, $2). */
static int64_t query_i64(struct fx *f, const char *sql, const char *text, int64_t n)
{
    struct db *r = store_reader(f->s);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db_handle(r), sql, -1, &st, NULL);
    int64_t v = -1;
    if (rc == SQLITE_OK) {
        int i1 = sqlite3_bind_parameter_index(st, "$1");
        int i2 = sqlite3_bind_parameter_index(st, "$2");
        if (i1)
            sqlite3_bind_text(st, i1, text, -1, SQLITE_TRANSIENT);
        if (i2)
            sqlite3_bind_int64(st, i2, n);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    store_reader_done(f->s, r);
    if (rc != SQLITE_OK)
        fail_msg("bad test SQL: %s", sql);
    return v;
}

static int64_t count_rows(struct fx *f, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", table);
    return query_i64(f, sql, NULL, 0);
}

static int64_t count_events(struct fx *f, const char *type)
{
    return query_i64(f, "SELECT COUNT(*) FROM events WHERE type = $1", type, 0);
}

struct req_spec {
    const char *channel, *source_id, *phone, *email, *card, *name, *store, *text;
};

struct req_job {
    struct request_in in;
    struct request_out out;
    char terms[1024];
    int fail_after; /* return this error after a successful create (tests of rollback) */
    int runs;       /* how often the job ran */
};

static void req_job_init(struct req_job *j, const struct req_spec *sp)
{
    memset(j, 0, sizeof *j);
    j->in.channel = sp->channel ? sp->channel : "web";
    j->in.source_id = sp->source_id;
    j->in.customer.ids[0] = sp->phone;
    j->in.customer.ids[1] = sp->email;
    j->in.customer.ids[2] = sp->card;
    j->in.customer.name = sp->name;
    j->in.store_code = sp->store;
    j->in.text = sp->text ? sp->text : "Текст обращения";
    j->in.kind = "complaint";
    j->in.actor = "test";
    struct buf b;
    buf_init(&b, sizeof j->terms - 1);
    text_search_terms(j->in.text, strlen(j->in.text), &b);
    snprintf(j->terms, sizeof j->terms, "%s", buf_cstr(&b));
    buf_free(&b);
    j->in.search_terms = j->terms;
}

static int job_create(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct req_job *j = arg;
    j->runs++;
    int rc = store_request_create(tx, &j->in, &j->out, err);
    if (rc == 0 && j->fail_after != 0)
        return err_set(err, j->fail_after, "test", "the job fails on purpose");
    return rc;
}

static struct request_out create(struct fx *f, struct req_spec sp)
{
    struct req_job j;
    req_job_init(&j, &sp);
    struct err_info err = {0};
    int rc = store_write(f->s, job_create, &j, &err);
    if (rc != 0)
        fail_msg("create failed: %s", err.message);
    assert_true(j.out.id > 0);
    return j.out;
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

static int patch_status(struct fx *f, int64_t id, const char *status, struct err_info *err)
{
    struct patch_job j = {.id = id, .p = {.status = status, .actor = "test"}};
    return store_write(f->s, job_patch, &j, err);
}

static json_t *get_request(struct fx *f, int64_t id, const struct scope_filter *sf, int *rc_out)
{
    struct db *r = store_reader(f->s);
    json_t *o = NULL;
    struct err_info err = {0};
    *rc_out = store_request_get(r, id, sf, true, &o, &err);
    store_reader_done(f->s, r);
    return o;
}

static const char *status_of(struct fx *f, int64_t id, char *out, size_t cap)
{
    int rc;
    json_t *o = get_request(f, id, NULL, &rc);
    assert_int_equal(rc, 0);
    snprintf(out, cap, "%s", json_string_value(json_object_get(o, "status")));
    json_decref(o);
    return out;
}

static json_t *list(struct fx *f, struct request_query *q, const struct scope_filter *sf)
{
    struct db *r = store_reader(f->s);
    json_t *o = NULL;
    struct err_info err = {0};
    int rc = store_request_list(r, q, sf, &o, &err);
    store_reader_done(f->s, r);
    if (rc != 0)
        fail_msg("store_request_list(q_terms \"%s\"): rc %d: %s", q->q_terms ? q->q_terms : "",
                 rc, err.message);
    return o;
}

/* Number of requests a search for these terms finds. */
static size_t search_count(struct fx *f, const char *terms)
{
    struct request_query q = {.limit = 200, .q_terms = terms};
    json_t *res = list(f, &q, NULL);
    size_t n = json_array_size(json_object_get(res, "items"));
    json_decref(res);
    return n;
}

/* ---- migrations ------------------------------------------------------------------ */

static void test_migrations_idempotent(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(f, (struct req_spec){.phone = "+79120000001", .store = "S1"});
    int64_t version = query_i64(f, "PRAGMA user_version", NULL, 0);
    assert_true(version >= 1);
    store_close(f->s);
    f->s = NULL;

    /* Opening again migrates nothing and keeps the data. */
    struct err_info err = {0};
    for (int round = 0; round < 2; round++) {
        assert_int_equal(open_store(f, &f->s, &err), 0);
        assert_int_equal(query_i64(f, "PRAGMA user_version", NULL, 0), version);
        assert_int_equal(count_rows(f, "requests"), 1);
        assert_int_equal(count_rows(f, "stores"), 3);
        store_close(f->s);
        f->s = NULL;
    }
    /* store_migrate on an up-to-date database is a no-op that reports the version. */
    struct db *w = NULL;
    assert_int_equal(db_open(f->path, true, 1024, &w, &err), 0);
    int v = 0;
    assert_int_equal(store_migrate(w, &v, &err), 0);
    assert_int_equal(v, version);
    assert_int_equal(store_migrate(w, &v, &err), 0);
    db_close(w);

    assert_int_equal(open_store(f, &f->s, &err), 0);
    /* New ids continue after the old ones; the hub starts after the stored events. */
    assert_true(store_hub_last_id(f->s) >= 1);
    struct request_out b = create(f, (struct req_spec){.phone = "+79120000001", .store = "S1"});
    assert_true(b.id > a.id);
    assert_int_equal(b.customer_id, a.customer_id);
}

static int job_assign(struct store_tx *tx, void *arg, struct err_info *err)
{
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE requests SET assignee_id = 7 WHERE id = %lld",
             (long long)*(int64_t *)arg);
    return db_exec(store_tx_db(tx), sql, err);
}

/* Unassigned requests stay out of the index of assignees, which still serves
 * an operator's requests. */
static void test_assignee_index_holds_the_assigned(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(f, (struct req_spec){.phone = "+79120000201"});
    create(f, (struct req_spec){.phone = "+79120000202"});
    const char *in_index = "SELECT COUNT(*) FROM requests INDEXED BY requests_assignee "
                           "WHERE assignee_id IS NOT NULL";
    assert_int_equal(query_i64(f, in_index, NULL, 0), 0);
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_assign, &a.id, &err), 0);
    assert_int_equal(query_i64(f, in_index, NULL, 0), 1);
    struct db *r = store_reader(f->s);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db_handle(r),
                                        "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM requests "
                                        "WHERE assignee_id = 7 AND status <> 'closed'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    bool uses = false;
    while (sqlite3_step(st) == SQLITE_ROW)
        uses = uses || strstr((const char *)sqlite3_column_text(st, 3), "requests_assignee");
    sqlite3_finalize(st);
    store_reader_done(f->s, r);
    assert_true(uses);
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    store_close(f->s);
    f->s = NULL;
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);

    struct store *s = NULL;
    struct err_info err = {0};
    assert_int_equal(open_store(f, &s, &err), ERR_VERSION);
    assert_null(s);
    assert_string_equal(err.field, "db");
    assert_non_null(strstr(err.message, "999"));
    /* Nothing was changed in the file. */
    assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 999);
    sqlite3_finalize(st);
    sqlite3_close(h);
    /* Let teardown work: a fresh database in the same place. */
    remove_db_files(f->path);
    assert_int_equal(open_store(f, &f->s, &err), 0);
}

static void test_open_bad_path(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err_info err = {0};
    assert_int_equal(store_open("/nonexistent-dir/otklik/x.db", NULL, &s, &err), ERR_IO);
    assert_null(s);
    assert_true(err.message[0] != '\0');
}

/* ---- the writer: durability and group commit --------------------------------------- */

static void test_write_is_durable(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(f, (struct req_spec){.phone = "+79120000001", .text = "x"});
    /* A separate connection (another process's view) sees it once store_write returned. */
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM requests WHERE id = ?", -1, &st,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, a.id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    sqlite3_close(h);
    /* The request has its first message and a creation event. */
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM messages WHERE request_id = $2", NULL,
                               a.id),
                     1);
    assert_int_equal(count_events(f, "request.created"), 1);
    assert_int_equal(store_queue_depth(f->s), 0);
}

/* A job that holds the writer until released, so that later jobs queue up into one batch. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool is_started, is_released;
};

static int job_gate(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)tx;
    (void)err;
    struct gate *g = arg;
    pthread_mutex_lock(&g->mu);
    g->is_started = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->is_released)
        pthread_cond_wait(&g->cond, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return 0;
}

struct writer_thread {
    pthread_t th;
    struct store *s;
    store_job_fn fn;
    void *arg;
    struct err_info err;
    int rc;
    bool is_rerunnable; /* write through store_write_async with is_rerunnable */
    struct store_async async;
    sem_t done;
};

static void async_done(struct store_async *a)
{
    struct writer_thread *w = (struct writer_thread *)((char *)a - offsetof(struct writer_thread, async));
    sem_post(&w->done);
}

static void *writer_thread_main(void *arg)
{
    struct writer_thread *w = arg;
    if (!w->is_rerunnable) {
        w->rc = store_write(w->s, w->fn, w->arg, &w->err);
        return NULL;
    }
    sem_init(&w->done, 0, 0);
    w->async = (struct store_async){.fn = w->fn, .arg = w->arg, .err = &w->err,
                                    .done = async_done, .is_rerunnable = true};
    w->rc = store_write_async(w->s, &w->async);
    if (w->rc == 0) {
        while (sem_wait(&w->done) != 0)
            ;
        w->rc = w->async.result;
    }
    sem_destroy(&w->done);
    return NULL;
}

/* Hold the writer in a job until gate_open: the jobs queued meanwhile are
 * taken together, in one batch. */
static void gate_hold(struct fx *f, struct gate *g, struct writer_thread *gate_w)
{
    *g = (struct gate){.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    *gate_w = (struct writer_thread){.s = f->s, .fn = job_gate, .arg = g};
    assert_int_equal(pthread_create(&gate_w->th, NULL, writer_thread_main, gate_w), 0);
    pthread_mutex_lock(&g->mu);
    while (!g->is_started)
        pthread_cond_wait(&g->cond, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g, struct writer_thread *gate_w)
{
    pthread_mutex_lock(&g->mu);
    g->is_released = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mu);
    pthread_join(gate_w->th, NULL);
    assert_int_equal(gate_w->rc, 0);
}

/* Run the n writes of w together: queued while the writer is held, then let go. */
static void run_held_batch(struct fx *f, struct writer_thread *w, int n)
{
    struct gate g;
    struct writer_thread gate_w;
    gate_hold(f, &g, &gate_w);
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&w[i].th, NULL, writer_thread_main, &w[i]), 0);
    while (store_queue_depth(f->s) < n)
        sched_yield();
    gate_open(&g, &gate_w);
    for (int i = 0; i < n; i++)
        pthread_join(w[i].th, NULL);
}

/* Is the job running inside the batch's open transaction? */
static bool in_transaction(struct store_tx *tx)
{
    return !sqlite3_get_autocommit(db_handle(store_tx_db(tx)));
}

static int job_create_in_tx(struct store_tx *tx, void *arg, struct err_info *err)
{
    /* Each job runs inside the batch's open transaction. */
    if (!in_transaction(tx))
        return err_set(err, ERR_INTERNAL, "", "job not inside a transaction");
    return job_create(tx, arg, err);
}

/*
 * N jobs in one batch, one of which fails after writing (fail_after) or before
 * (an unknown store, when is_early).  is_rerunnable: the jobs share a savepoint.
 */
static void failing_job_in_batch(struct fx *f, bool is_rerunnable, bool is_early)
{
    enum { N = 8, BAD = 3 };

    /* The writer is busy: queue N jobs, one of which fails after writing. */
    int64_t hub_before = store_hub_last_id(f->s);
    struct req_job jobs[N];
    struct writer_thread w[N];
    char phone[N][32], src[N][32], text[N][64];
    for (int i = 0; i < N; i++) {
        snprintf(phone[i], sizeof phone[i], "+7912000%04d", i);
        snprintf(src[i], sizeof src[i], "batch-%d", i);
        snprintf(text[i], sizeof text[i], "Обращение номер %d", 1000 + i);
        req_job_init(&jobs[i], &(struct req_spec){.channel = "telegram", .source_id = src[i],
                                                   .phone = phone[i],
                                                   .store = i == BAD && is_early ? "NOPE" : "S1",
                                                   .text = text[i]});
        if (i == BAD && !is_early)
            jobs[i].fail_after = ERR_INVALID;
        w[i] = (struct writer_thread){.s = f->s, .fn = job_create_in_tx, .arg = &jobs[i],
                                      .is_rerunnable = is_rerunnable};
    }
    run_held_batch(f, w, N);

    for (int i = 0; i < N; i++) {
        if (i == BAD) {
            assert_int_equal(w[i].rc, ERR_INVALID);
            assert_string_equal(w[i].err.field, is_early ? "store" : "test");
        } else {
            if (w[i].rc != 0)
                fail_msg("job %d failed: %s", i, w[i].err.message);
        }
        /* Sharing a savepoint, a failure after writing runs the group again, each
         * job alone (those queued after it had not run yet); one before writing,
         * or a savepoint each, runs every job once. */
        if (!is_rerunnable || is_early)
            assert_int_equal(jobs[i].runs, 1);
        else if (i == BAD)
            assert_int_equal(jobs[i].runs, 2);
        else
            assert_in_range(jobs[i].runs, 1, 2);
    }
    /* Only the failing job's writes are gone: request, message, customer, identity, event. */
    assert_int_equal(count_rows(f, "requests"), N - 1);
    assert_int_equal(count_rows(f, "messages"), N - 1);
    assert_int_equal(count_rows(f, "customers"), N - 1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM identities WHERE value = $1", phone[BAD],
                               0),
                     0);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM requests WHERE source_id = $1", src[BAD],
                               0),
                     0);
    assert_int_equal(count_events(f, "request.created"), N - 1);
    /* Its text is not searchable; the others' are. */
    assert_int_equal(search_count(f, "1003"), 0);
    assert_int_equal(search_count(f, "1002"), 1);
    assert_int_equal(search_count(f, "обращен"), N - 1);
    /* The hub got exactly the committed events. */
    assert_int_equal(store_hub_last_id(f->s) - hub_before, N - 1);
    assert_int_equal(store_queue_depth(f->s), 0);

    /* The failed source id can be submitted again. */
    struct request_out again =
        create(f, (struct req_spec){.channel = "telegram", .source_id = src[BAD],
                                     .phone = phone[BAD]});
    assert_false(again.is_duplicate);
}

static void test_group_commit_failing_job_rolls_back_alone(void **state)
{
    failing_job_in_batch(*state, false, false);
}

static void test_rerunnable_jobs_failing_after_writing(void **state)
{
    failing_job_in_batch(*state, true, false);
}

static void test_rerunnable_jobs_failing_before_writing(void **state)
{
    failing_job_in_batch(*state, true, true);
}

/* A rerunnable job that fails asking to run again (store_tx_rerun_alone) on its
 * first fail_runs runs; writes: it writes its department before failing. */
struct rerun_job {
    const char *code;
    int fail_runs;
    bool writes_first;
    int runs;
};

static int job_rerun(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct rerun_job *j = arg;
    j->runs++;
    bool is_failing = j->runs <= j->fail_runs;
    if (j->writes_first || !is_failing) {
        int rc = store_department_upsert(tx, j->code, j->code, err);
        if (rc != 0)
            return rc;
    }
    if (!is_failing)
        return 0;
    store_tx_rerun_alone(tx);
    return err_set(err, ERR_CONFLICT, "", "run %d of %s fails", j->runs, j->code);
}

/* Jobs queued together, in this order: A fails after writing and asks to run again
 * (the transaction is rolled back and every job runs alone), C fails before writing
 * and asks while alone (it runs once more), D asks every time (it runs twice). */
static void test_rerunnable_job_asks_to_run_again(void **state)
{
    struct fx *f = *state;
    struct gate g;
    struct writer_thread gate_w;
    gate_hold(f, &g, &gate_w);

    enum { N = 4 };
    struct rerun_job jobs[N] = {{.code = "A", .fail_runs = 1, .writes_first = true},
                                {.code = "B"},
                                {.code = "C", .fail_runs = 1},
                                {.code = "D", .fail_runs = 5, .writes_first = true}};
    struct writer_thread w[N];
    for (int i = 0; i < N; i++) { /* one at a time, so that they queue in this order */
        w[i] = (struct writer_thread){.s = f->s, .fn = job_rerun, .arg = &jobs[i],
                                      .is_rerunnable = true};
        assert_int_equal(pthread_create(&w[i].th, NULL, writer_thread_main, &w[i]), 0);
        while (store_queue_depth(f->s) < i + 1)
            sched_yield();
    }
    gate_open(&g, &gate_w);
    for (int i = 0; i < N; i++)
        pthread_join(w[i].th, NULL);

    assert_int_equal(w[0].rc, 0);
    assert_int_equal(jobs[0].runs, 2);
    assert_int_equal(w[1].rc, 0);
    assert_int_equal(jobs[1].runs, 1); /* it had not run when A failed */
    assert_int_equal(w[2].rc, 0);
    assert_int_equal(jobs[2].runs, 2);
    assert_int_equal(w[3].rc, ERR_CONFLICT);
    assert_int_equal(jobs[3].runs, 2);
    assert_int_equal(count_rows(f, "departments"), 3);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM departments WHERE code = $1", "D", 0), 0);
}

static int job_set_counter(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    return db_exec(store_tx_db(tx), "INSERT INTO departments (code, name) VALUES ('d', 'D')",
                   err);
}

static void test_constraint_error_in_job(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_set_counter, NULL, &err), 0);
    /* The same insert again violates UNIQUE (code): ERR_IO from db_exec, nothing kept. */
    assert_true(store_write(f->s, job_set_counter, NULL, &err) < 0);
    assert_int_equal(count_rows(f, "departments"), 1);
    /* The writer keeps working after a failed job. */
    create(f, (struct req_spec){.phone = "+79120000009"});
    assert_int_equal(count_rows(f, "requests"), 1);
}

/* ---- identities ------------------------------------------------------------------- */

static void test_identity_same_phone_same_customer(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(f, (struct req_spec){.phone = "+79123456789", .name = "Анна"});
    struct request_out b = create(f, (struct req_spec){.phone = "+79123456789"});
    struct request_out c =
        create(f, (struct req_spec){.phone = "+79123456789", .email = "anna@example.ru"});
    assert_true(a.customer_id > 0);
    assert_int_equal(b.customer_id, a.customer_id);
    assert_int_equal(c.customer_id, a.customer_id);
    assert_int_equal(count_rows(f, "customers"), 1);
    /* The new e-mail was attached to the known customer. */
    assert_int_equal(query_i64(f, "SELECT customer_id FROM identities WHERE kind = 'email' AND "
                                  "value = $1",
                               "anna@example.ru", 0),
                     a.customer_id);
    /* Now the e-mail alone finds her too. */
    struct request_out d = create(f, (struct req_spec){.email = "anna@example.ru"});
    assert_int_equal(d.customer_id, a.customer_id);
    /* A different phone is a different customer. */
    struct request_out e = create(f, (struct req_spec){.phone = "+79123456780"});
    assert_true(e.customer_id != a.customer_id);
    /* No identity and no name: no customer. */
    struct request_out n = create(f, (struct req_spec){.text = "аноним"});
    assert_int_equal(n.customer_id, 0);
    assert_int_equal(count_rows(f, "customers"), 2);
    assert_int_equal(count_rows(f, "merge_suggestions"), 0);
}

/* Resolve the customer of a phone inside a job; fail_after: then fail (its savepoint is undone). */
struct resolve_job {
    const char *phone;
    bool fail_after;
    int64_t id;
};

static int job_resolve(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct resolve_job *j = arg;
    struct customer_in c = {.name = "Пётр"};
    c.ids[0] = j->phone; /* model_identity_kinds[0] is the phone */
    int rc = store_customer_resolve(tx, &c, 0, 1, &j->id, err);
    if (rc == 0 && j->fail_after)
        return err_set(err, ERR_INVALID, "test", "failing after the customer was made");
    return rc;
}

/* The writer remembers identities it has read or written; a job rolled back
 * must take what it wrote out of that memory too. */
static void test_identity_cache_forgets_rolled_back(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    struct resolve_job known = {.phone = "+79120000101"};
    assert_int_equal(store_write(f->s, job_resolve, &known, &err), 0);
    struct resolve_job failed = {.phone = "+79120000102", .fail_after = true};
    assert_int_equal(store_write(f->s, job_resolve, &failed, &err), ERR_INVALID);
    assert_true(failed.id > 0);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM identities WHERE value = $1",
                               "+79120000102", 0),
                     0);
    /* Again, for good: a new customer with its identity, not the rolled-back id. */
    struct resolve_job again = {.phone = "+79120000102"};
    assert_int_equal(store_write(f->s, job_resolve, &again, &err), 0);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM identities i JOIN customers c ON "
                                  "c.id = i.customer_id WHERE i.value = $1",
                               "+79120000102", 0),
                     1);
    /* A known identity read from the cache still finds its customer. */
    struct resolve_job known_again = {.phone = "+79120000101"};
    assert_int_equal(store_write(f->s, job_resolve, &known_again, &err), 0);
    assert_int_equal(known_again.id, known.id);
    assert_int_equal(count_rows(f, "customers"), 2);
}

static void test_identity_two_customers_merge_suggestion(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(f, (struct req_spec){.phone = "+79120000001", .name = "A"});
    struct request_out b = create(f, (struct req_spec){.email = "b@example.ru", .name = "B"});
    assert_true(a.customer_id != b.customer_id);
    int64_t hub_before = store_hub_last_id(f->s);

    /* Identities of both: linked to the first (table order: phone before e-mail). */
    struct request_out c = create(
        f, (struct req_spec){.phone = "+79120000001", .email = "b@example.ru", .card = "C-1"});
    assert_int_equal(c.customer_id, a.customer_id);
    /* No silent merge: two customers, the e-mail still B's, one open suggestion. */
    assert_int_equal(count_rows(f, "customers"), 2);
    assert_int_equal(query_i64(f, "SELECT customer_id FROM identities WHERE value = $1",
                               "b@example.ru", 0),
                     b.customer_id);
    /* The new card went to the customer the request was linked to. */
    assert_int_equal(query_i64(f, "SELECT customer_id FROM identities WHERE value = $1", "C-1", 0),
                     a.customer_id);
    assert_int_equal(count_rows(f, "merge_suggestions"), 1);
    assert_int_equal(query_i64(f, "SELECT other_customer_id FROM merge_suggestions WHERE "
                                  "customer_id = $2 AND reason = 'email' AND status = 'open'",
                               NULL, a.customer_id),
                     b.customer_id);
    assert_int_equal(count_events(f, "customer.merge_suggested"), 1);
    assert_true(store_hub_last_id(f->s) > hub_before);

    /* The same again: no second suggestion, no second event. */
    create(f, (struct req_spec){.phone = "+79120000001", .email = "b@example.ru"});
    assert_int_equal(count_rows(f, "merge_suggestions"), 1);
    assert_int_equal(count_events(f, "customer.merge_suggested"), 1);

    /* Both customers' 360 views show the suggestion pointing at the other one. */
    struct db *r = store_reader(f->s);
    json_t *ca = NULL, *cb = NULL;
    struct err_info err = {0};
    int rca = store_customer_get(r, a.customer_id, NULL, &ca, &err);
    int rcb = store_customer_get(r, b.customer_id, NULL, &cb, &err);
    store_reader_done(f->s, r);
    assert_int_equal(rca, 0);
    assert_int_equal(rcb, 0);
    json_t *ma = json_object_get(ca, "merge_suggestions");
    json_t *mb = json_object_get(cb, "merge_suggestions");
    size_t na = json_array_size(ma), nb = json_array_size(mb);
    int64_t other_a = na ? json_integer_value(json_object_get(json_array_get(ma, 0), "customer_id"))
                         : -1;
    int64_t other_b = nb ? json_integer_value(json_object_get(json_array_get(mb, 0), "customer_id"))
                         : -1;
    json_decref(ca);
    json_decref(cb);
    assert_int_equal(na, 1);
    assert_int_equal(nb, 1);
    assert_int_equal(other_a, b.customer_id);
    if (other_b != a.customer_id)
        fail_msg("customer %lld's 360 view names customer %lld as the merge candidate "
                 "(itself), want %lld",
                 (long long)b.customer_id, (long long)other_b, (long long)a.customer_id);
}

/* ---- dedup ------------------------------------------------------------------------ */

static void test_dedup_channel_source_id(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(
        f, (struct req_spec){.channel = "telegram", .source_id = "m-1", .phone = "+79120000001"});
    int64_t events = count_rows(f, "events");
    int64_t hub = store_hub_last_id(f->s);
    struct request_out b = create(
        f, (struct req_spec){.channel = "telegram", .source_id = "m-1", .phone = "+79120000002",
                             .text = "другой текст"});
    assert_true(b.is_duplicate);
    assert_false(a.is_duplicate);
    assert_int_equal(b.id, a.id);
    assert_int_equal(b.customer_id, a.customer_id);
    /* Nothing new was written: no request, customer, message, event. */
    assert_int_equal(count_rows(f, "requests"), 1);
    assert_int_equal(count_rows(f, "customers"), 1);
    assert_int_equal(count_rows(f, "messages"), 1);
    assert_int_equal(count_rows(f, "events"), events);
    assert_int_equal(store_hub_last_id(f->s), hub);
    /* The same source id on another channel is another request. */
    struct request_out c = create(
        f, (struct req_spec){.channel = "vk", .source_id = "m-1", .phone = "+79120000001"});
    assert_false(c.is_duplicate);
    assert_true(c.id != a.id);
    /* No source id: never deduplicated. */
    struct request_out d = create(f, (struct req_spec){.channel = "telegram"});
    struct request_out e = create(f, (struct req_spec){.channel = "telegram"});
    assert_true(d.id != e.id);
    assert_int_equal(count_rows(f, "requests"), 4);
}

static void test_unknown_store_writes_nothing(void **state)
{
    struct fx *f = *state;
    struct req_job j;
    req_job_init(&j, &(struct req_spec){.phone = "+79120000001", .store = "NOPE"});
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_create, &j, &err), ERR_INVALID);
    assert_string_equal(err.field, "store");
    assert_int_equal(count_rows(f, "requests"), 0);
    assert_int_equal(count_rows(f, "customers"), 0);
    assert_int_equal(count_rows(f, "events"), 0);
}

/* ---- status machine ---------------------------------------------------------------- */

static void test_status_transition_table(void **state)
{
    (void)state;
    /* Rows: from; columns: to; in the order new open pending on_hold solved closed. */
    static const char *const st[] = {"new", "open", "pending", "on_hold", "solved", "closed"};
    static const bool ok[6][6] = {
        /* new     */ {0, 1, 1, 1, 1, 1},
        /* open    */ {0, 0, 1, 1, 1, 0},
        /* pending */ {0, 1, 0, 1, 1, 0},
        /* on_hold */ {0, 1, 1, 0, 1, 0},
        /* solved  */ {0, 1, 0, 0, 0, 1},
        /* closed  */ {0, 0, 0, 0, 0, 0},
    };
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 6; k++)
            if (model_status_transition_ok(st[i], st[k]) != ok[i][k])
                fail_msg("%s -> %s should be %s", st[i], st[k], ok[i][k] ? "allowed" : "refused");
    assert_false(model_status_transition_ok("new", "bogus"));
    assert_false(model_status_transition_ok("bogus", "open"));
    assert_false(model_status_transition_ok(NULL, "open"));
    assert_true(model_status_is_open("pending"));
    assert_false(model_status_is_open("solved"));
    assert_false(model_status_is_open("closed"));
    assert_int_equal(model_find(model_channels, "telegram"), 5);
    assert_int_equal(model_find(model_channels, "fax"), -1);
}

static void test_status_patch(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(f, (struct req_spec){.phone = "+79120000001", .store = "S1"});
    char buf[32];
    struct err_info err = {0};

    /* Refused from new: back to new is not a change; no other refusals from new. */
    assert_int_equal(patch_status(f, a.id, "new", &err), 0);
    assert_int_equal(count_events(f, "request.status_changed"), 0);

    static const struct {
        const char *to;
        int rc;
        const char *now;
    } steps[] = {
        {"open", 0, "open"},
        {"new", ERR_CONFLICT, "open"},     /* never back to new */
        {"closed", ERR_CONFLICT, "open"},  /* an open request is solved first */
        {"pending", 0, "pending"},
        {"on_hold", 0, "on_hold"},
        {"solved", 0, "solved"},
        {"pending", ERR_CONFLICT, "solved"},
        {"open", 0, "open"},               /* reopened */
        {"solved", 0, "solved"},
        {"closed", 0, "closed"},
        {"open", ERR_CONFLICT, "closed"},  /* closed is final */
        {"solved", ERR_CONFLICT, "closed"},
    };
    int changes = 0;
    for (size_t i = 0; i < N_ELEMS(steps); i++) {
        clock_advance_ms(60000);
        err_clear(&err);
        int rc = patch_status(f, a.id, steps[i].to, &err);
        if (rc != steps[i].rc)
            fail_msg("step %zu -> %s: rc %d (%s), want %d", i, steps[i].to, rc, err.message,
                     steps[i].rc);
        if (rc == ERR_CONFLICT) {
            assert_string_equal(err.field, "status");
            assert_int_equal(err_http_status(rc), 409);
        } else {
            changes++;
        }
        assert_string_equal(status_of(f, a.id, buf, sizeof buf), steps[i].now);
    }
    /* One event per change; reopening has its own type. */
    assert_int_equal(count_events(f, "request.status_changed") + count_events(f, "request.reopened"),
                     changes);
    assert_int_equal(count_events(f, "request.reopened"), 1);

    /* Times: solved and closed are stamped with the (fake) clock. */
    int rc;
    json_t *o = get_request(f, a.id, NULL, &rc);
    assert_int_equal(rc, 0);
    int64_t solved = 0, closed = 0;
    time_parse_rfc3339(str_from(json_string_value(json_object_get(o, "solved_at"))), &solved);
    time_parse_rfc3339(str_from(json_string_value(json_object_get(o, "closed_at"))), &closed);
    json_t *events = json_object_get(o, "events");
    size_t n_events = json_array_size(events);
    json_decref(o);
    assert_int_equal(solved, T0_MS + 9 * 60000);
    assert_int_equal(closed, T0_MS + 10 * 60000);
    assert_int_equal(n_events, 1 + (size_t)changes); /* created + changes */

    /* A new request may be closed directly (spam). */
    struct request_out b = create(f, (struct req_spec){.phone = "+79120000002"});
    assert_int_equal(patch_status(f, b.id, "closed", &err), 0);
    /* Unknown request: not found. */
    err_clear(&err);
    assert_int_equal(patch_status(f, 999999, "open", &err), ERR_NOTFOUND);
}

static void test_patch_fields_and_scope(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(f, (struct req_spec){.phone = "+79120000001", .store = "S1"});
    struct err_info err = {0};
    /* A director of S2 cannot see (so cannot change) a request of S1. */
    struct scope_filter s2 = {.scope = SCOPE_STORE, .store_id = 2};
    struct patch_job j = {.id = a.id, .p = {.status = "open", .sf = &s2}};
    assert_int_equal(store_write(f->s, job_patch, &j, &err), ERR_NOTFOUND);
    char buf[32];
    assert_string_equal(status_of(f, a.id, buf, sizeof buf), "new");
    /* The director of S1 can. */
    struct scope_filter s1 = {.scope = SCOPE_STORE, .store_id = 1};
    j.p.sf = &s1;
    j.p.priority = "high";
    j.p.topic = "checkout_queue";
    j.p.queue = "first-line";
    err_clear(&err);
    assert_int_equal(store_write(f->s, job_patch, &j, &err), 0);
    int rc;
    json_t *o = get_request(f, a.id, NULL, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "open");
    assert_string_equal(json_string_value(json_object_get(o, "priority")), "high");
    assert_string_equal(json_string_value(json_object_get(o, "topic")), "checkout_queue");
    assert_string_equal(json_string_value(json_object_get(o, "queue")), "first-line");
    json_decref(o);
    assert_int_equal(count_events(f, "request.topic_corrected"), 1);
    assert_int_equal(count_rows(f, "topic_corrections"), 1);
    /* The same patch again changes nothing and adds no events. */
    int64_t events = count_rows(f, "events");
    assert_int_equal(store_write(f->s, job_patch, &j, &err), 0);
    assert_int_equal(count_rows(f, "events"), events);
    /* An assignee who does not exist is refused, and the whole patch with it. */
    struct patch_job k = {.id = a.id, .p = {.priority = "low", .assignee_id = 4242}};
    err_clear(&err);
    assert_int_equal(store_write(f->s, job_patch, &k, &err), ERR_INVALID);
    assert_string_equal(err.field, "assignee");
    o = get_request(f, a.id, NULL, &rc);
    assert_string_equal(json_string_value(json_object_get(o, "priority")), "high");
    json_decref(o);
    assert_int_equal(count_rows(f, "events"), events);
}

static void test_patch_long_queue_is_stable(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(f, (struct req_spec){.phone = "+79120000001"});
    /* A queue name of 80 characters, set twice: the second time is no change. */
    char queue[81];
    memset(queue, 'q', 80);
    queue[80] = '\0';
    struct patch_job j = {.id = a.id, .p = {.queue = queue}};
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_patch, &j, &err), 0);
    assert_int_equal(store_write(f->s, job_patch, &j, &err), 0);
    int64_t n = count_events(f, "request.queue_changed");
    if (n != 1)
        fail_msg("setting the same %zu-byte queue twice logged %lld changes", strlen(queue),
                 (long long)n);
}

/* ---- messages ------------------------------------------------------------------------ */

struct msg_job {
    int64_t request_id;
    struct message_in m;
    int64_t id;
};

static int job_msg(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct msg_job *j = arg;
    return store_message_add(tx, j->request_id, &j->m, &j->id, err);
}

static void test_messages(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(f, (struct req_spec){.phone = "+79120000001"});
    struct err_info err = {0};
    clock_advance_ms(5 * 60000);
    struct msg_job j = {.request_id = a.id,
                        .m = {.direction = "out", .body = "Здравствуйте!", .author_name = "op"}};
    assert_int_equal(store_write(f->s, job_msg, &j, &err), 0);
    assert_true(j.id > 0);
    int rc;
    json_t *o = get_request(f, a.id, NULL, &rc);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "open");
    int64_t first = 0;
    time_parse_rfc3339(str_from(json_string_value(json_object_get(o, "first_response_at"))),
                       &first);
    assert_int_equal(first, T0_MS + 5 * 60000);
    assert_int_equal(json_array_size(json_object_get(o, "messages")), 2);
    json_decref(o);
    /* A second reply keeps the first response time. */
    clock_advance_ms(60000);
    assert_int_equal(store_write(f->s, job_msg, &j, &err), 0);
    assert_int_equal(query_i64(f, "SELECT first_response_at_ms FROM requests WHERE id = $2",
                               NULL, a.id),
                     T0_MS + 5 * 60000);
    /* Solved, then the customer writes: reopened. */
    assert_int_equal(patch_status(f, a.id, "solved", &err), 0);
    struct msg_job in = {.request_id = a.id, .m = {.direction = "in", .body = "Не помогло"}};
    assert_int_equal(store_write(f->s, job_msg, &in, &err), 0);
    char buf[32];
    assert_string_equal(status_of(f, a.id, buf, sizeof buf), "open");
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM requests WHERE id = $2 AND "
                                  "solved_at_ms IS NULL",
                               NULL, a.id),
                     1);
    /* Closed: no more messages. */
    assert_int_equal(patch_status(f, a.id, "solved", &err), 0);
    assert_int_equal(patch_status(f, a.id, "closed", &err), 0);
    err_clear(&err);
    assert_int_equal(store_write(f->s, job_msg, &in, &err), ERR_CONFLICT);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM messages WHERE request_id = $2", NULL,
                               a.id),
                     4);
}

/* ---- bonus ------------------------------------------------------------------------- */

struct bonus_job {
    struct bonus_in in;
};

static int job_bonus(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct bonus_job *j = arg;
    return store_bonus_add(tx, &j->in, err);
}

static int bonus(struct fx *f, int64_t customer_id, const char *phone, int64_t amount,
                 struct err_info *err)
{
    struct bonus_job j = {.in = {.customer_id = customer_id, .amount = amount,
                                 .reason = "test", .actor = "test"}};
    j.in.customer.ids[0] = phone;
    return store_write(f->s, job_bonus, &j, err);
}

static int64_t balance(struct fx *f, int64_t customer_id)
{
    struct db *r = store_reader(f->s);
    int64_t b = store_bonus_balance(r, customer_id);
    store_reader_done(f->s, r);
    return b;
}

static void test_bonus_ledger(void **state)
{
    struct fx *f = *state;
    struct request_out a = create(f, (struct req_spec){.phone = "+79120000001"});
    struct err_info err = {0};
    assert_int_equal(balance(f, a.customer_id), 0);
    static const struct {
        int64_t amount;
        int rc;
        int64_t balance;
    } steps[] = {
        {100, 0, 100}, {-30, 0, 70}, {-71, ERR_CONFLICT, 70}, {-70, 0, 0},
        {-1, ERR_CONFLICT, 0}, {500, 0, 500}, {-500, 0, 0},
    };
    int rows = 0;
    for (size_t i = 0; i < N_ELEMS(steps); i++) {
        err_clear(&err);
        int rc = bonus(f, a.customer_id, NULL, steps[i].amount, &err);
        assert_int_equal(rc, steps[i].rc);
        if (rc == ERR_CONFLICT)
            assert_string_equal(err.field, "amount");
        else
            rows++;
        assert_int_equal(balance(f, a.customer_id), steps[i].balance);
    }
    assert_int_equal(count_rows(f, "bonus_ledger"), rows);
    /* By identity. */
    assert_int_equal(bonus(f, 0, "+79120000001", 25, &err), 0);
    assert_int_equal(balance(f, a.customer_id), 25);
    /* Unknown customer. */
    err_clear(&err);
    assert_int_equal(bonus(f, 0, "+79990000000", 25, &err), ERR_INVALID);
    err_clear(&err);
    assert_int_equal(bonus(f, 0, NULL, 25, &err), ERR_INVALID);
    /* The 360 view and the lookup show the same balance. */
    struct db *r = store_reader(f->s);
    json_t *c = NULL, *l = NULL;
    assert_int_equal(store_customer_get(r, a.customer_id, NULL, &c, &err), 0);
    assert_int_equal(store_customer_lookup(r, "phone", "+79120000001", NULL, &l, &err), 0);
    store_reader_done(f->s, r);
    json_int_t b360 = json_integer_value(json_object_get(json_object_get(c, "bonus"), "balance"));
    json_int_t blook = json_integer_value(json_object_get(l, "bonus_balance"));
    size_t ledger = json_array_size(json_object_get(json_object_get(c, "bonus"), "ledger"));
    json_decref(c);
    json_decref(l);
    assert_int_equal(b360, 25);
    assert_int_equal(blook, 25);
    assert_int_equal(ledger, (size_t)rows + 1);
}

/* ---- orders and purchases ------------------------------------------------------------- */

struct purchase_job {
    struct purchase_in in;
};

static int job_purchase(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct purchase_job *j = arg;
    return store_purchase_add(tx, &j->in, err);
}

static void test_purchase_duplicate(void **state)
{
    struct fx *f = *state;
    struct purchase_job j = {.in = {.external_id = "R-1", .store_code = "S1", .total_kop = 12345,
                                    .items = 3}};
    j.in.customer.ids[0] = "+79120000001";
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_purchase, &j, &err), 0);
    err_clear(&err);
    assert_int_equal(store_write(f->s, job_purchase, &j, &err), ERR_CONFLICT);
    assert_int_equal(count_rows(f, "purchases"), 1);
    /* The error names the field and says what happened, for the import report. */
    if (strcmp(err.field, "id") != 0 || strstr(err.message, "R-1") == NULL)
        fail_msg("duplicate purchase error: field '%s' message '%s'", err.field, err.message);
}

struct order_job {
    struct order_event_in in;
    int64_t id;
    bool dup;
};

static int job_order(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct order_job *j = arg;
    return store_order_event(tx, &j->in, &j->id, &j->dup, err);
}

static void test_orders_and_lookup(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    struct order_job j = {.in = {.order_ref = "O-1", .status = "created", .source_id = "e1",
                                 .total_kop = 99900, .store_code = "S1"}};
    /* A new order needs a customer. */
    assert_int_equal(store_write(f->s, job_order, &j, &err), ERR_INVALID);
    assert_int_equal(count_rows(f, "orders"), 0);
    j.in.customer.ids[0] = "+79120000001";
    err_clear(&err);
    assert_int_equal(store_write(f->s, job_order, &j, &err), 0);
    assert_false(j.dup);
    int64_t oid = j.id;
    /* The same event again: a duplicate, nothing written. */
    assert_int_equal(store_write(f->s, job_order, &j, &err), 0);
    assert_true(j.dup);
    assert_int_equal(j.id, oid);
    assert_int_equal(count_rows(f, "order_history"), 1);
    j.in.source_id = "e2";
    j.in.status = "delayed";
    j.in.total_kop = -1;
    assert_int_equal(store_write(f->s, job_order, &j, &err), 0);
    assert_int_equal(count_rows(f, "order_history"), 2);
    assert_int_equal(query_i64(f, "SELECT total_kop FROM orders WHERE id = $2", NULL, oid), 99900);

    struct db *r = store_reader(f->s);
    json_t *l = NULL;
    int rc = store_customer_lookup(r, "phone", "+79120000001", NULL, &l, &err);
    json_t *none = NULL;
    struct err_info err2 = {0};
    int rc2 = store_customer_lookup(r, "phone", "+79990000000", NULL, &none, &err2);
    store_reader_done(f->s, r);
    assert_int_equal(rc, 0);
    assert_int_equal(rc2, ERR_NOTFOUND);
    json_t *orders = json_object_get(l, "open_orders");
    size_t n = json_array_size(orders);
    const char *status = n ? json_string_value(json_object_get(json_array_get(orders, 0), "status"))
                           : "";
    char st[32];
    snprintf(st, sizeof st, "%s", status);
    json_decref(l);
    assert_int_equal(n, 1);
    assert_string_equal(st, "delayed");
    /* Delivered: no longer open. */
    j.in.source_id = "e3";
    j.in.status = "delivered";
    assert_int_equal(store_write(f->s, job_order, &j, &err), 0);
    r = store_reader(f->s);
    assert_int_equal(store_customer_lookup(r, "phone", "+79120000001", NULL, &l, &err), 0);
    store_reader_done(f->s, r);
    n = json_array_size(json_object_get(l, "open_orders"));
    json_decref(l);
    assert_int_equal(n, 0);
    assert_int_equal(count_events(f, "order.status_changed"), 3);
}

/* ---- listing, pagination, search, scope ------------------------------------------------- */

static void test_list_keyset_pagination(void **state)
{
    struct fx *f = *state;
    enum { N = 25 };
    int64_t ids[N];
    for (int i = 0; i < N; i++) {
        clock_advance_ms(1000);
        ids[i] = create(f, (struct req_spec){.channel = i % 2 ? "vk" : "web",
                                              .phone = i % 5 ? "+79120000001" : "+79120000002",
                                              .store = i < 10 ? "S1" : "S3"})
                     .id;
    }
    /* Page through with limit 10: 10 + 10 + 5, newest first, each id once. */
    struct request_query q = {.limit = 10};
    int seen = 0;
    int64_t prev = INT64_MAX;
    for (int page = 0; page < 5; page++) {
        json_t *res = list(f, &q, NULL);
        json_t *items = json_object_get(res, "items");
        size_t n = json_array_size(items);
        for (size_t i = 0; i < n; i++) {
            int64_t id = json_integer_value(json_object_get(json_array_get(items, i), "id"));
            assert_true(id < prev);
            assert_int_equal(id, ids[N - 1 - seen]);
            prev = id;
            seen++;
        }
        json_t *cur = json_object_get(res, "next_cursor");
        int64_t next = 0;
        if (json_is_string(cur))
            str_to_i64(str_from(json_string_value(cur)), 1, INT64_MAX, &next);
        bool is_null = json_is_null(cur);
        json_decref(res);
        if (page < 2) {
            assert_int_equal(n, 10);
            assert_true(next > 0);
        } else {
            assert_int_equal(n, 5);
            assert_true(is_null);
            break;
        }
        /* A request created between pages does not shift the next page. */
        if (page == 0)
            create(f, (struct req_spec){.phone = "+79120000003"});
        q.cursor = next;
    }
    assert_int_equal(seen, N);
    /* Exactly limit items left: no next cursor (no empty last page). */
    q = (struct request_query){.limit = 5, .cursor = ids[5]};
    json_t *res = list(f, &q, NULL);
    size_t n = json_array_size(json_object_get(res, "items"));
    bool is_null = json_is_null(json_object_get(res, "next_cursor"));
    json_decref(res);
    assert_int_equal(n, 5);
    assert_true(is_null);

    /* Filters, data-driven.  Request i: channel vk when i is odd, else web; phone 2 when
     * i % 5 == 0, else phone 1; store S1 for i < 10, else S3; created at T0 + (i+1) s.
     * Two more, web, no store, created at T0 + 25 s: one with phone 3 (made between
     * pages above) and c2 with phone 2 (below). */
    static const struct {
        const char *channel, *store;
        bool by_customer;
        int since_i, until_i; /* indexes of created requests; -1 none */
        size_t want;
    } filters[] = {
        {"vk", NULL, false, -1, -1, 12},   {"web", NULL, false, -1, -1, 15},
        {NULL, "S1", false, -1, -1, 10},   {NULL, "S3", false, -1, -1, 15},
        {"vk", "S1", false, -1, -1, 5},    {NULL, NULL, true, -1, -1, 6},
        {NULL, NULL, false, 20, -1, 7},    {NULL, NULL, false, 5, 10, 5},
        {"web", "S3", false, 20, -1, 3},
    };
    struct request_out c2 = create(f, (struct req_spec){.phone = "+79120000002", .text = "x"});
    for (size_t i = 0; i < N_ELEMS(filters); i++) {
        q = (struct request_query){.limit = 200, .channel = filters[i].channel,
                                   .store_code = filters[i].store};
        if (filters[i].by_customer)
            q.customer_id = c2.customer_id;
        if (filters[i].since_i >= 0)
            q.since_ms = T0_MS + (filters[i].since_i + 1) * 1000;
        if (filters[i].until_i >= 0)
            q.until_ms = T0_MS + (filters[i].until_i + 1) * 1000;
        res = list(f, &q, NULL);
        n = json_array_size(json_object_get(res, "items"));
        json_decref(res);
        if (n != filters[i].want)
            fail_msg("filter %zu: %zu items, want %zu", i, n, filters[i].want);
    }
    q = (struct request_query){.limit = 200, .status = "closed"};
    res = list(f, &q, NULL);
    n = json_array_size(json_object_get(res, "items"));
    json_decref(res);
    assert_int_equal(n, 0);
}

static int job_legacy_index_row(struct store_tx *tx, void *arg, struct err_info *err)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO message_search (rowid, terms) SELECT id, 'старинн очеред' FROM "
             "messages WHERE request_id = %lld",
             (long long)*(int64_t *)arg);
    return db_exec(store_tx_db(tx), sql, err);
}

/* Messages indexed before migration step 13 (message_search) are found beside
 * those indexed since (message_terms). */
static void test_search_reads_both_indexes(void **state)
{
    struct fx *f = *state;
    struct request_out fresh = create(f, (struct req_spec){.text = "Очередь у кассы"});
    struct request_out old = create(f, (struct req_spec){.text = "x", .phone = "+79120000301"});
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_legacy_index_row, &old.id, &err), 0);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM message_terms('очеред')", NULL, 0), 1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM message_search('очеред')", NULL, 0), 1);
    assert_int_equal(search_count(f, "очеред"), 2);
    assert_int_equal(search_count(f, "старинн"), 1);
    struct request_query q = {.limit = 10, .q_terms = "старинн"};
    json_t *res = list(f, &q, NULL);
    int64_t id = json_integer_value(json_object_get(json_array_get(json_object_get(res, "items"), 0), "id"));
    json_decref(res);
    assert_int_equal(id, old.id);
    assert_true(fresh.id != old.id);
}

/*
 * While writes arrive faster than they commit (a last batch of four jobs or
 * more), a batch waits up to commit_delay_us for more to join it; a write
 * arriving alone never waits.
 */
static void test_commit_delay(void **state)
{
    struct fx *f = *state;
    store_close(f->s);
    struct store_options opt = {.n_readers = 2, .reader_cache_kib = 512,
                                .writer_cache_kib = 1024, .commit_delay_us = 2000000};
    struct err_info err = {0};
    if (store_open(f->path, &opt, &f->s, &err) != 0)
        fail_msg("store_open: %s", err.message);

    /* Alone, one after another: no wait (the delay is 2 s). */
    uint64_t t0 = clock_mono_ns();
    create(f, (struct req_spec){.text = "Первое", .phone = "+79120000701"});
    create(f, (struct req_spec){.text = "Второе", .phone = "+79120000702"});
    assert_true(clock_mono_ns() - t0 < 1000000000ull);

    /* Four jobs held behind a busy writer make a batch of four. */
    enum { BURST = 4, N = 16 };
    struct req_job jobs[BURST + N];
    struct writer_thread w[BURST + N];
    char phone[BURST + N][32];
    for (int i = 0; i < BURST + N; i++) {
        snprintf(phone[i], sizeof phone[i], "+7912000%04d", 800 + i);
        req_job_init(&jobs[i], &(struct req_spec){.text = "Пачка", .phone = phone[i]});
        w[i] = (struct writer_thread){.s = f->s, .fn = job_create_in_tx, .arg = &jobs[i]};
    }
    run_held_batch(f, w, BURST);

    /* Then sixteen writes from as many threads: the first waits for the others,
     * and all commit in one batch. */
    struct store_syncs before = store_syncs(f->s);
    t0 = clock_mono_ns();
    for (int i = BURST; i < BURST + N; i++)
        assert_int_equal(pthread_create(&w[i].th, NULL, writer_thread_main, &w[i]), 0);
    for (int i = BURST; i < BURST + N; i++)
        pthread_join(w[i].th, NULL);
    for (int i = 0; i < BURST + N; i++)
        if (w[i].rc != 0)
            fail_msg("write %d failed: %s", i, w[i].err.message);
    assert_true(clock_mono_ns() - t0 < 1500000000ull); /* joined by all: no 2 s wait */
    struct store_syncs after = store_syncs(f->s);
    assert_int_equal(after.batches - before.batches, 1);
}

static void test_list_search(void **state)
{
    struct fx *f = *state;
    struct request_out a =
        create(f, (struct req_spec){.text = "Огромные очереди на кассе, работает одна касса",
                                     .store = "S1"});
    struct request_out b =
        create(f, (struct req_spec){.text = "Спасибо за вежливого продавца", .store = "S3"});
    create(f, (struct req_spec){.text = "Просроченный творог", .store = "S1"});
    static const struct {
        const char *q;
        int64_t want_id; /* 0: none, -1: a */
        size_t want_n;
    } cases[] = {
        {"очередь", -1, 1},        {"Очереди", -1, 1},       {"ОЧЕРЕДЯМИ кассы", -1, 1},
        {"продавцы", -2, 1},       {"очередь продавец", 0, 0}, {"молоко", 0, 0},
        {"\"очередь", -1, 1},      {"", 0, 3},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct buf terms;
        buf_init(&terms, 0);
        text_search_terms(cases[i].q, strlen(cases[i].q), &terms);
        /* An empty query (no terms) is treated as no search at all by the API; here: no q. */
        char t[256];
        snprintf(t, sizeof t, "%s", buf_cstr(&terms));
        buf_free(&terms);
        struct request_query q = {.limit = 50, .q = cases[i].q, .q_terms = t[0] ? t : NULL};
        json_t *res = list(f, &q, NULL);
        json_t *items = json_object_get(res, "items");
        size_t n = json_array_size(items);
        int64_t first = n ? json_integer_value(json_object_get(json_array_get(items, 0), "id")) : 0;
        json_decref(res);
        if (n != cases[i].want_n)
            fail_msg("q=\"%s\" (terms \"%s\"): %zu results, want %zu", cases[i].q, t, n,
                     cases[i].want_n);
        if (cases[i].want_id == -1)
            assert_int_equal(first, a.id);
        if (cases[i].want_id == -2)
            assert_int_equal(first, b.id);
    }
    /* Later messages are searchable too; internal notes are not. */
    struct msg_job m = {.request_id = b.id,
                        .m = {.direction = "in", .body = "И ещё про очереди", .search_terms =
                                                                                 "ещ про очеред"}};
    struct msg_job note = {.request_id = b.id,
                           .m = {.direction = "note", .body = "молоко", .search_terms = "молок"}};
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_msg, &m, &err), 0);
    assert_int_equal(store_write(f->s, job_msg, &note, &err), 0);
    struct request_query q = {.limit = 50, .q_terms = "очеред"};
    json_t *res = list(f, &q, NULL);
    size_t n = json_array_size(json_object_get(res, "items"));
    json_decref(res);
    assert_int_equal(n, 2);
    q.q_terms = "молок";
    res = list(f, &q, NULL);
    n = json_array_size(json_object_get(res, "items"));
    json_decref(res);
    assert_int_equal(n, 0);
    /* Search combined with a store scope. */
    struct scope_filter s3 = {.scope = SCOPE_STORE, .store_id = 3};
    q.q_terms = "очеред";
    res = list(f, &q, &s3);
    json_t *items = json_object_get(res, "items");
    n = json_array_size(items);
    int64_t id = n ? json_integer_value(json_object_get(json_array_get(items, 0), "id")) : 0;
    json_decref(res);
    assert_int_equal(n, 1);
    assert_int_equal(id, b.id);
    /* Whatever a user types goes through text_search_terms (as the API does) and never
     * makes the query fail; FTS syntax is quoted, never interpreted. */
    create(f, (struct req_spec){.text = "Цена 12.5 рублей, а на ценнике 3,5 кг. Don't do it"});
    static const struct {
        const char *q;
        size_t want;
    } typed[] = {
        {"очередь OR молоко", 0}, /* "OR" is a term, not an operator */
        {"NEAR(очередь касса)", 0},
        {"касс*", 1},
        {"\"\"\"", 4},            /* no terms: no search */
        {"-очередь", 2},         /* a's and b's */
        {"terms:очередь", 0},
        {"12.5", 1},
        {"3,5 кг", 1},
        {"don't", 1},
    };
    for (size_t i = 0; i < N_ELEMS(typed); i++) {
        struct buf terms;
        buf_init(&terms, 0);
        text_search_terms(typed[i].q, strlen(typed[i].q), &terms);
        char t[256];
        snprintf(t, sizeof t, "%s", buf_cstr(&terms));
        buf_free(&terms);
        q = (struct request_query){.limit = 50, .q_terms = t[0] ? t : NULL};
        struct db *r = store_reader(f->s);
        json_t *out = NULL;
        struct err_info e = {0};
        int rc = store_request_list(r, &q, NULL, &out, &e);
        store_reader_done(f->s, r);
        n = rc == 0 ? json_array_size(json_object_get(out, "items")) : 0;
        json_decref(out);
        if (rc != 0)
            fail_msg("q=\"%s\" (terms \"%s\") failed: rc %d %s", typed[i].q, t, rc, e.message);
        if (n != typed[i].want)
            fail_msg("q=\"%s\" (terms \"%s\"): %zu results, want %zu", typed[i].q, t, n,
                     typed[i].want);
    }
}

static void test_scope_filters(void **state)
{
    struct fx *f = *state;
    struct request_out r1 = create(f, (struct req_spec){.phone = "+79120000001", .store = "S1"});
    struct request_out r2 = create(f, (struct req_spec){.phone = "+79120000001", .store = "S2"});
    struct request_out r3 = create(f, (struct req_spec){.phone = "+79120000002", .store = "S3"});
    struct request_out r0 = create(f, (struct req_spec){.phone = "+79120000003"}); /* no store */
    struct scope_filter all = {.scope = SCOPE_ALL};
    struct scope_filter s1 = {.scope = SCOPE_STORE, .store_id = 1};
    struct scope_filter ural = {.scope = SCOPE_REGION, .region = "Урал"};
    struct scope_filter siberia = {.scope = SCOPE_REGION, .region = "Сибирь"};
    static const char *const names[] = {"all", "s1", "ural", "siberia"};
    const struct scope_filter *sfs[] = {&all, &s1, &ural, &siberia};
    int64_t ids[4] = {r1.id, r2.id, r3.id, r0.id};
    static const bool visible[4][4] = {
        /* r1 r2 r3 r0 */
        {1, 1, 1, 1}, /* all */
        {1, 0, 0, 0}, /* director of S1 */
        {1, 1, 0, 0}, /* regional manager of Урал */
        {0, 0, 1, 0}, /* regional manager of Сибирь */
    };
    for (int s = 0; s < 4; s++) {
        struct request_query q = {.limit = 100};
        json_t *res = list(f, &q, sfs[s]);
        json_t *items = json_object_get(res, "items");
        for (int i = 0; i < 4; i++) {
            bool in_list = false;
            for (size_t k = 0; k < json_array_size(items); k++)
                if (json_integer_value(json_object_get(json_array_get(items, k), "id")) == ids[i])
                    in_list = true;
            int rc;
            json_t *o = get_request(f, ids[i], sfs[s], &rc);
            json_decref(o);
            if (in_list != visible[s][i] || (rc == 0) != visible[s][i]) {
                json_decref(res);
                fail_msg("scope %s, request %d: listed %d, get rc %d, want visible %d", names[s],
                         i, in_list, rc, visible[s][i]);
            }
        }
        json_decref(res);
    }
    /* The customer 360 follows the same rule: S1's director sees the customer who wrote to S1. */
    struct db *r = store_reader(f->s);
    json_t *c = NULL;
    struct err_info err = {0};
    int rc_a = store_customer_get(r, r1.customer_id, &s1, &c, &err);
    /* ...and of that customer's requests only the one to S1 (r2 went to S2). */
    json_t *reqs = json_object_get(c, "requests");
    size_t n_a = json_array_size(reqs);
    int64_t first_a = json_integer_value(json_object_get(json_array_get(reqs, 0), "id"));
    json_decref(c);
    c = NULL;
    int rc_all = store_customer_get(r, r1.customer_id, &all, &c, &err);
    size_t n_all = json_array_size(json_object_get(c, "requests"));
    json_decref(c);
    c = NULL;
    int rc_b = store_customer_get(r, r3.customer_id, &s1, &c, &err);
    json_decref(c);
    /* The lookup likewise: the open requests of the scope only, and no customer
     * who never wrote to it. */
    json_t *l = NULL;
    int rc_la = store_customer_lookup(r, "phone", "+79120000001", &ural, &l, &err);
    size_t n_la = json_array_size(json_object_get(l, "open_requests"));
    json_decref(l);
    l = NULL;
    int rc_ls = store_customer_lookup(r, "phone", "+79120000001", &s1, &l, &err);
    size_t n_ls = json_array_size(json_object_get(l, "open_requests"));
    json_decref(l);
    l = NULL;
    int rc_lb = store_customer_lookup(r, "phone", "+79120000002", &s1, &l, &err);
    json_decref(l);
    store_reader_done(f->s, r);
    assert_int_equal(rc_a, 0);
    assert_int_equal(n_a, 1);
    assert_int_equal(first_a, r1.id);
    assert_int_equal(rc_all, 0);
    assert_int_equal(n_all, 2);
    assert_int_equal(rc_b, ERR_NOTFOUND);
    assert_int_equal(rc_la, 0);
    assert_int_equal(n_la, 2);
    assert_int_equal(rc_ls, 0);
    assert_int_equal(n_ls, 1);
    assert_int_equal(rc_lb, ERR_NOTFOUND);
}

/* ---- the event hub --------------------------------------------------------------------- */

struct seen_events {
    int n;
    int64_t id[64];
    int64_t request_id[64];
    char type[64][40];
    bool has_json[64];
};

static void collect(void *ctx, const struct hub_event *ev)
{
    struct seen_events *s = ctx;
    if (s->n >= 64)
        return;
    s->id[s->n] = ev->id;
    s->request_id[s->n] = ev->request_id;
    snprintf(s->type[s->n], sizeof s->type[0], "%s", ev->type);
    s->has_json[s->n] = ev->json != NULL && strstr(ev->json, ev->type) != NULL;
    s->n++;
}

struct hub_waiter {
    pthread_t th;
    struct store *s;
    int64_t after;
    int64_t result;
    struct seen_events seen;
};

static void *hub_waiter_main(void *arg)
{
    struct hub_waiter *w = arg;
    w->result = store_hub_wait(w->s, w->after, 60000, collect, &w->seen);
    return NULL;
}

static void test_hub(void **state)
{
    struct fx *f = *state;
    int64_t start = store_hub_last_id(f->s);
    /* Nothing new: a zero timeout returns after_id and calls nothing. */
    struct seen_events seen = {0};
    assert_int_equal(store_hub_wait(f->s, start, 0, collect, &seen), start);
    assert_int_equal(seen.n, 0);

    /* A waiter blocked before the commit wakes up with the committed event. */
    struct hub_waiter w = {.s = f->s, .after = start};
    assert_int_equal(pthread_create(&w.th, NULL, hub_waiter_main, &w), 0);
    struct request_out a = create(f, (struct req_spec){.phone = "+79120000001", .store = "S1"});
    pthread_join(w.th, NULL);
    assert_true(w.result > start);
    assert_true(w.seen.n >= 1);
    assert_string_equal(w.seen.type[0], "request.created");
    assert_int_equal(w.seen.request_id[0], a.id);
    assert_true(w.seen.has_json[0]);

    /* A rolled-back job publishes nothing; a later commit is delivered, in order. */
    int64_t mark = store_hub_last_id(f->s);
    struct req_job bad;
    req_job_init(&bad, &(struct req_spec){.phone = "+79120000002", .store = "S2"});
    bad.fail_after = ERR_CONFLICT;
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_create, &bad, &err), ERR_CONFLICT);
    assert_int_equal(store_hub_last_id(f->s), mark);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(store_hub_wait(f->s, mark, 0, collect, &seen), mark);
    assert_int_equal(seen.n, 0);
    struct request_out b = create(f, (struct req_spec){.phone = "+79120000003", .store = "S3"});
    struct err_info perr = {0};
    assert_int_equal(patch_status(f, b.id, "open", &perr), 0);
    memset(&seen, 0, sizeof seen);
    int64_t last = store_hub_wait(f->s, mark, 0, collect, &seen);
    assert_int_equal(last, store_hub_last_id(f->s));
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.type[0], "request.created");
    assert_string_equal(seen.type[1], "request.status_changed");
    assert_true(seen.id[1] > seen.id[0]);
    for (int i = 0; i < seen.n; i++) {
        assert_int_equal(seen.request_id[i], b.id);
        assert_true(seen.id[i] > mark);
    }
    /* Every delivered id exists in the event log (none from the rolled-back job). */
    for (int i = 0; i < seen.n; i++)
        assert_int_equal(query_i64(f, "SELECT request_id FROM events WHERE id = $2", NULL,
                                   seen.id[i]),
                         b.id);
    /* From an old id: everything since, still in order. */
    memset(&seen, 0, sizeof seen);
    store_hub_wait(f->s, start, 0, collect, &seen);
    assert_int_equal(seen.n, 3);
    for (int i = 1; i < seen.n; i++)
        assert_true(seen.id[i] > seen.id[i - 1]);

    /* Closing wakes waiters and makes every wait return -1. */
    struct hub_waiter w2 = {.s = f->s, .after = store_hub_last_id(f->s)};
    assert_int_equal(pthread_create(&w2.th, NULL, hub_waiter_main, &w2), 0);
    store_hub_close(f->s);
    pthread_join(w2.th, NULL);
    assert_int_equal(w2.result, -1);
    assert_int_equal(store_hub_wait(f->s, 0, 0, collect, &seen), -1);
}

/* ---- concurrency smoke ------------------------------------------------------------------- */

struct burst {
    pthread_t th;
    struct store *s;
    int base, n, failures;
};

static void *burst_main(void *arg)
{
    struct burst *b = arg;
    for (int i = 0; i < b->n; i++) {
        char phone[32], src[32];
        snprintf(phone, sizeof phone, "+7913%07d", (b->base + i) % 50);
        snprintf(src, sizeof src, "b%d", b->base + i);
        struct req_job j;
        req_job_init(&j, &(struct req_spec){.channel = "chat", .source_id = src, .phone = phone});
        struct err_info err = {0};
        if (store_write(b->s, job_create, &j, &err) != 0 || j.out.is_duplicate)
            b->failures++;
    }
    return NULL;
}

/* A live-stream reader: follows the hub until it has seen `want` created requests. */
struct follower {
    pthread_t th;
    struct store *s;
    int64_t after, last_id;
    int want, created, out_of_order;
};

static void follow(void *ctx, const struct hub_event *ev)
{
    struct follower *r = ctx;
    if (ev->id <= r->last_id)
        r->out_of_order++;
    r->last_id = ev->id;
    if (strcmp(ev->type, "request.created") == 0)
        r->created++;
}

static void *follower_main(void *arg)
{
    struct follower *r = arg;
    r->last_id = r->after;
    for (int i = 0; i < 200 && r->created < r->want; i++) {
        int64_t got = store_hub_wait(r->s, r->after, 100, follow, r);
        if (got < 0)
            break;
        r->after = got;
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    struct fx *f = *state;
    enum { T = 6, PER = 40, READERS = 4 };
    /* Readers follow the stream while the writers run: each sees every event once, in order. */
    struct follower rd[READERS];
    for (int i = 0; i < READERS; i++) {
        rd[i] = (struct follower){.s = f->s, .after = store_hub_last_id(f->s), .want = T * PER};
        assert_int_equal(pthread_create(&rd[i].th, NULL, follower_main, &rd[i]), 0);
    }
    struct burst b[T];
    for (int t = 0; t < T; t++) {
        b[t] = (struct burst){.s = f->s, .base = t * PER, .n = PER};
        assert_int_equal(pthread_create(&b[t].th, NULL, burst_main, &b[t]), 0);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(b[t].th, NULL);
        assert_int_equal(b[t].failures, 0);
    }
    assert_int_equal(count_rows(f, "requests"), T * PER);
    /* 50 distinct phones: 50 customers however the writes interleaved. */
    assert_int_equal(count_rows(f, "customers"), 50);
    assert_int_equal(count_rows(f, "identities"), 50);
    assert_int_equal(count_events(f, "request.created"), T * PER);
    for (int i = 0; i < READERS; i++) {
        pthread_join(rd[i].th, NULL);
        assert_int_equal(rd[i].created, T * PER);
        assert_int_equal(rd[i].out_of_order, 0);
    }
}

/* ---- read snapshots kept between borrowings ------------------------------------------ */

static int64_t stores_seen(struct db *r)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db_handle(r), "SELECT COUNT(*) FROM stores", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int job_one_store(struct store_tx *tx, void *arg, struct err_info *err)
{
    const struct store_in in = {arg, "Магазин у вокзала", "Пермь", "Урал", "Asia/Yekaterinburg",
                                NULL};
    return store_store_upsert(tx, &in, NULL, err);
}

/* ---- a transaction SQLite rolls back on its own --------------------------------------- */

static int job_sql(struct store_tx *tx, void *arg, struct err_info *err)
{
    return db_exec(store_tx_db(tx), arg, err);
}

/* The first part fills the disk (SQLite then rolls the whole transaction back);
 * the second would succeed on its own. */
static int job_fill_then_write(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    struct db *db = store_tx_db(tx);
    int rc = db_exec(db, "PRAGMA max_page_count = 1", err); /* clamped to the file's size */
    if (rc != 0)
        return rc;
    struct err_info e1 = {0}, e2 = {0};
    struct tx_mark m = store_tx_part_begin(tx);
    int rc1 = db_exec(db, "INSERT INTO probe_big (b) VALUES (randomblob(1000000))", &e1);
    store_tx_part_end(tx, m, rc1 == 0);
    m = store_tx_part_begin(tx);
    int rc2 = db_exec(db, "INSERT INTO probe_small (x) VALUES (1)", &e2);
    store_tx_part_end(tx, m, rc2 == 0);
    return 0;
}

static void test_lost_transaction_commits_nothing(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_sql,
                                 "CREATE TABLE probe_big (b BLOB); CREATE TABLE probe_small (x);",
                                 &err),
                     0);
    /* The job is told the database is unavailable, and nothing of it is kept:
     * not the part after the failure either. */
    assert_int_equal(store_write(f->s, job_fill_then_write, NULL, &err), ERR_UNAVAILABLE);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM probe_small", NULL, 0), 0);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM probe_big", NULL, 0), 0);
    /* With room again, writes go on. */
    memset(&err, 0, sizeof err);
    assert_int_equal(store_write(f->s, job_sql, "PRAGMA max_page_count = 1073741823", &err), 0);
    assert_int_equal(store_write(f->s, job_sql, "INSERT INTO probe_small (x) VALUES (2)", &err), 0);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM probe_small", NULL, 0), 1);
}

/* ---- a store's region changed by another process ---------------------------------------- */

struct region_seen {
    char region[64];
};

static void last_region(void *ctx, const struct hub_event *ev)
{
    struct region_seen *r = ctx;
    snprintf(r->region, sizeof r->region, "%s", ev->region);
}

static void test_region_changed_by_another_process(void **state)
{
    struct fx *f = *state;
    int64_t mark = store_hub_last_id(f->s);
    create(f, (struct req_spec){.phone = "+79120000001", .store = "S1"});
    struct region_seen seen = {{0}};
    store_hub_wait(f->s, mark, 0, last_region, &seen);
    assert_string_equal(seen.region, "Урал");
    /* The CLI beside the server moves S1 to another region... */
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 5000);
    assert_int_equal(sqlite3_exec(other, "UPDATE stores SET region = 'Поволжье' WHERE code = 'S1'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(other);
    /* ...and the next event of S1 is scoped to the new one. */
    mark = store_hub_last_id(f->s);
    create(f, (struct req_spec){.phone = "+79120000002", .store = "S1"});
    memset(&seen, 0, sizeof seen);
    store_hub_wait(f->s, mark, 0, last_region, &seen);
    assert_string_equal(seen.region, "Поволжье");
}

/* ---- the last read connection is kept for the event loops ------------------------------ */

struct borrower {
    struct store *s;
    bool is_quick;
    atomic_bool done;
};

static void *borrow_main(void *arg)
{
    struct borrower *b = arg;
    if (b->is_quick)
        store_thread_answers_quickly();
    struct db *r = store_reader(b->s);
    store_reader_done(b->s, r);
    atomic_store(&b->done, true);
    return NULL;
}

static void test_last_reader_kept_for_quick_threads(void **state)
{
    struct fx *f = *state; /* two read connections */
    struct db *held = store_reader(f->s);
    /* One is left: a worker waits for it to come back... */
    struct borrower worker = {.s = f->s, .is_quick = false};
    pthread_t tw;
    assert_int_equal(pthread_create(&tw, NULL, borrow_main, &worker), 0);
    /* ...while an event loop takes it at once. */
    struct borrower loop = {.s = f->s, .is_quick = true};
    pthread_t tl;
    assert_int_equal(pthread_create(&tl, NULL, borrow_main, &loop), 0);
    pthread_join(tl, NULL);
    assert_true(atomic_load(&loop.done));
    usleep(50 * 1000);
    assert_false(atomic_load(&worker.done));
    store_reader_done(f->s, held);
    pthread_join(tw, NULL);
    assert_true(atomic_load(&worker.done));
}

/* ---- WAL checkpoints off the writer ------------------------------------------------ */

static int job_blob(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    return db_exec(store_tx_db(tx),
                   "CREATE TABLE IF NOT EXISTS blobs (b BLOB);"
                   "INSERT INTO blobs (b) VALUES (randomblob(12000));",
                   err);
}

static int64_t wal_pages_now(const struct fx *f)
{
    char p[200];
    snprintf(p, sizeof p, "%s-wal", f->path);
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size / (4096 + 24) : 0;
}

/* The fixture's store again, with small caches and this WAL threshold. */
static void reopen_small(struct fx *f, int wal_pages)
{
    struct err_info err = {0};
    store_close(f->s);
    const struct store_options opt = {.n_readers = 2, .reader_cache_kib = 512,
                                      .writer_cache_kib = 1024, .wal_pages = wal_pages};
    assert_int_equal(store_open(f->path, &opt, &f->s, &err), 0);
}

static void reopen_small_wal(struct fx *f)
{
    reopen_small(f, 64);
}

static void test_wal_checkpointed_by_its_thread(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    reopen_small_wal(f);
    /* About fifteen times the threshold, one commit of three pages at a time. */
    int64_t most = 0;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(store_write(f->s, job_blob, NULL, &err), 0);
        int64_t n = wal_pages_now(f);
        most = n > most ? n : most;
    }
    /* The WAL was started over again and again: it never held much more than
     * the writer's own limit of four times the threshold. */
    assert_true(most > 0);
    assert_true(most <= 4 * 64 + 8);
    /* The thread was woken at the threshold (quiet-time checkpoints count apart). */
    for (int i = 0; i < 500 && store_checkpoints(f->s).by_thread == 0; i++)
        usleep(10 * 1000);
    assert_true(store_checkpoints(f->s).by_thread > 0);
    /* Quiet: at most one more checkpoint folds in the last commits, then none
     * while nothing is committed. */
    usleep(1200 * 1000);
    struct store_checkpoints quiet = store_checkpoints(f->s);
    usleep(1200 * 1000);
    struct store_checkpoints later = store_checkpoints(f->s);
    assert_int_equal(later.by_thread, quiet.by_thread);
    assert_int_equal(later.when_idle, quiet.when_idle);
    assert_int_equal(later.by_writer, quiet.by_writer);
    struct db *r = store_reader(f->s);
    sqlite3_stmt *st = db_stmt(r, "SELECT COUNT(*), SUM(length(b)) FROM blobs");
    assert_int_equal(db_step(r, st, NULL), 1);
    assert_int_equal(db_col_i64(st, 0), 300);
    assert_int_equal(db_col_i64(st, 1), 300 * 12000);
    sqlite3_reset(st);
    store_reader_done(f->s, r);
}

/* The thread's copy of a large WAL goes to disk a piece at a time, and the
 * database it leaves is whole. */
static void test_checkpoint_copy_paced(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    reopen_small(f, 1000);
    uint64_t before = store_checkpoints(f->s).paced;
    for (int i = 0; i < 1200; i++) /* ~14 MB of new pages, ~3.5 times the threshold */
        assert_int_equal(store_write(f->s, job_blob, NULL, &err), 0);
    for (int i = 0; i < 500 && store_checkpoints(f->s).paced == before; i++)
        usleep(10 * 1000);
    assert_true(store_checkpoints(f->s).paced > before);
    store_close(f->s);
    f->s = NULL;
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_prepare_v2(h, "SELECT COUNT(*), SUM(length(b)) FROM blobs", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 1200);
    assert_int_equal(sqlite3_column_int64(st, 1), 1200 * 12000);
    sqlite3_finalize(st);
    sqlite3_close(h);
    reopen_small(f, 1000);
}

/* test_store --open-close DB: what another process does when it opens the
 * database, reads, and closes it (its close deletes a WAL nobody else holds). */
static int open_close_main(const char *path)
{
    sqlite3 *h;
    int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h, "SELECT COUNT(*) FROM blobs", NULL, NULL, NULL);
    sqlite3_close(h);
    return rc == SQLITE_OK ? 0 : 1;
}

/* A pacing connection of its own: copies the WAL into the database, then closes. */
static void *pacing_checkpoint_main(void *arg)
{
    struct fx *f = arg;
    walbuf_pace_thread();
    struct db *c = NULL;
    struct err_info err = {0};
    if (db_open(f->path, true, 256, &c, &err) == 0) {
        sqlite3_wal_checkpoint_v2(db_handle(c), NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        db_close(c);
    }
    return NULL;
}

/* Pacing never closes a descriptor of the database while the store is open:
 * that would drop the process's POSIX locks on it, and another process
 * closing the database would then take it for unused and delete the WAL. */
static void test_pacing_keeps_the_locks(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    reopen_small(f, 100000); /* the store's own thread leaves the WAL alone */
    for (int i = 0; i < 200; i++) /* ~2.4 MB in the WAL */
        assert_int_equal(store_write(f->s, job_blob, NULL, &err), 0);
    uint64_t before = store_checkpoints(f->s).paced;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pacing_checkpoint_main, f), 0);
    pthread_join(t, NULL);
    assert_true(store_checkpoints(f->s).paced > before); /* it did pace */
    pid_t child = fork();
    if (child == 0) { /* another process (a fresh one: SQLite's own lock books are per process) */
        execl("/proc/self/exe", "test_store", "--open-close", f->path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(WEXITSTATUS(status), 0);
    char wal[sizeof f->path + 8];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    struct stat st;
    assert_int_equal(stat(wal, &st), 0); /* still there: the store's locks held */
    assert_int_equal(store_write(f->s, job_blob, NULL, &err), 0);
    struct db *r = store_reader(f->s);
    sqlite3_stmt *q = db_stmt(r, "SELECT COUNT(*) FROM blobs");
    assert_int_equal(db_step(r, q, NULL), 1);
    assert_int_equal(db_col_i64(q, 0), 201);
    sqlite3_reset(q);
    store_reader_done(f->s, r);
}

static void test_reader_snapshot_kept_until_a_commit(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    /* A plain borrowing ends its read transaction when it is given back. */
    struct db *r = store_reader(f->s);
    assert_int_equal(stores_seen(r), 3);
    store_reader_done(f->s, r);
    assert_true(sqlite3_get_autocommit(db_handle(r)));
    r = store_reader_recent(f->s);
    assert_int_equal(stores_seen(r), 3);
    store_reader_done(f->s, r);
    /* A recent one, with nothing committed since, keeps it. */
    assert_false(sqlite3_get_autocommit(db_handle(r)));
    struct db *again = store_reader_recent(f->s);
    assert_ptr_equal(again, r); /* the idle connections are a stack */
    assert_int_equal(stores_seen(again), 3);
    store_reader_done(f->s, again);

    /* A commit ends the idle snapshot at once (the checkpoint may pass it)... */
    assert_int_equal(store_write(f->s, job_one_store, "S4", &err), 0);
    assert_true(sqlite3_get_autocommit(db_handle(r)));
    /* ...and the next borrowing sees the acknowledged write. */
    r = store_reader_recent(f->s);
    assert_int_equal(stores_seen(r), 4);

    /* A write acknowledged while a connection is borrowed is not in its snapshot,
     * and that snapshot is not kept once it is stale. */
    store_reader_done(f->s, r);
    r = store_reader_recent(f->s);
    assert_int_equal(store_write(f->s, job_one_store, "S5", &err), 0);
    assert_int_equal(stores_seen(r), 4);
    store_reader_done(f->s, r);
    assert_true(sqlite3_get_autocommit(db_handle(r)));
    r = store_reader_recent(f->s);
    assert_int_equal(stores_seen(r), 5);
    store_reader_done(f->s, r);

    /* The sweep leaves a current, young snapshot alone, and ends it once it is
     * old (the store's own thread sweeps twice in that time). */
    store_readers_sweep(f->s);
    assert_false(sqlite3_get_autocommit(db_handle(r)));
    for (int i = 0; i < 200 && !sqlite3_get_autocommit(db_handle(r)); i++)
        usleep(10 * 1000);
    assert_true(sqlite3_get_autocommit(db_handle(r)));

    /* Another process writes: a recent read may miss it for a moment, a plain
     * borrowing never does. */
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 5000);
    assert_int_equal(sqlite3_exec(other, "INSERT INTO stores (code, name, city, region, time_zone) "
                                         "VALUES ('S6', 'Склад', 'Пермь', 'Урал', 'Asia/Yekaterinburg')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(other);
    r = store_reader(f->s);
    assert_int_equal(stores_seen(r), 6);
    store_reader_done(f->s, r);
}

/* ---- acknowledged once the WAL is synced ------------------------------------------------ */

struct bg_write {
    struct store *s;
    const char *code;
    int rc;
    atomic_bool is_done;
};

static void *bg_write_main(void *arg)
{
    struct bg_write *w = arg;
    struct err_info err = {0};
    w->rc = store_write(w->s, job_one_store, (void *)w->code, &err);
    atomic_store(&w->is_done, true);
    return NULL;
}

/* Stores another connection of the file sees (a process beside the server). */
static int64_t stores_in_file(const char *path)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM stores", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* SQL text and an expected integer, read through a connection of the default VFS. */
static int64_t file_i64(const char *path, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* ---- a rolled-back transaction's frames and a WAL that starts over ---------------------- */

/* PRAGMA wal_checkpoint(mode) through a connection of its own (another process's). */
struct ckpt_row {
    int busy, frames, copied;
};

static struct ckpt_row checkpoint_by_another(const char *path, const char *mode)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA wal_checkpoint(%s)", mode);
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    struct ckpt_row c = {sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
                         sqlite3_column_int(st, 2)};
    sqlite3_finalize(st);
    sqlite3_close(h);
    return c;
}

static void copy_file(const char *from, const char *to);

static int job_store_then_fail(struct store_tx *tx, void *arg, struct err_info *err)
{
    int rc = job_one_store(tx, arg, err);
    return rc != 0 ? rc : err_set(err, ERR_CONFLICT, "", "failing after a write, on purpose");
}

/* A rerunnable job that fails after writing has its transaction rolled back
 * while its frames are still in the writer's buffer; the next transaction
 * starts the WAL over at offset 0 again.  Its header and frames must land
 * there, not after those bytes (here SQLite reads the file before writing the
 * header, which writes the buffer out; walbuf.c also does so itself). */
static void test_wal_restart_after_a_rollback(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    reopen_small(f, 1000000); /* the store's own checkpoints stay out of the way */
    assert_int_equal(store_write(f->s, job_one_store, "BEFORE", &err), 0);
    /* Everything copied into the database and no reader left in the WAL: the next
     * writer starts it over, writing its header at offset 0. */
    struct ckpt_row c = checkpoint_by_another(f->path, "RESTART");
    assert_int_equal(c.busy, 0);
    assert_true(c.frames > 0);
    assert_int_equal(c.copied, c.frames); /* all copied */
    memset(&err, 0, sizeof err);
    assert_int_equal(store_write_rerunnable(f->s, job_store_then_fail, "GONE", &err), ERR_CONFLICT);
    memset(&err, 0, sizeof err);
    assert_int_equal(store_write(f->s, job_one_store, "AFTER", &err), 0);
    /* Another connection reads what was committed, and only that. */
    assert_int_equal(file_i64(f->path, "SELECT COUNT(*) FROM stores WHERE code = 'AFTER'"), 1);
    assert_int_equal(file_i64(f->path, "SELECT COUNT(*) FROM stores WHERE code = 'GONE'"), 0);
    assert_int_equal(file_i64(f->path, "SELECT COUNT(*) FROM stores WHERE code = 'BEFORE'"), 1);
    /* As a crash would leave the files: a copy, recovered from its WAL, has it too. */
    char wal[200], copy[200], copy_wal[200];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    snprintf(copy, sizeof copy, "%s/copy.db", f->dir);
    snprintf(copy_wal, sizeof copy_wal, "%s/copy.db-wal", f->dir);
    copy_file(f->path, copy);
    copy_file(wal, copy_wal);
    assert_int_equal(file_i64(copy, "SELECT COUNT(*) FROM stores WHERE code = 'AFTER'"), 1);
    assert_int_equal(file_i64(copy, "SELECT COUNT(*) FROM stores WHERE code = 'GONE'"), 0);
    remove_db_files(copy);
}

/* ---- a worker's job commits after the callers' writes taken beside it ---------------- */

struct bg_order {
    struct store *s;
    const char *path;
    atomic_bool is_blocking;
    int64_t seen_by_worker; /* the caller's store, as another connection saw it during the worker's job */
};

/* Keeps the writer busy until two more jobs are queued, so the writer takes them together. */
static int job_hold_until_two_queued(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)tx;
    (void)err;
    struct bg_order *o = arg;
    atomic_store(&o->is_blocking, true);
    for (int i = 0; i < 5000 && store_queue_depth(o->s) < 2; i++)
        usleep(1000);
    return 0;
}

static int job_worker_looks(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct bg_order *o = arg;
    o->seen_by_worker =
        file_i64(o->path, "SELECT COUNT(*) FROM stores WHERE code = 'CALLER'");
    return job_one_store(tx, "WORKER", err);
}

static void *hold_main(void *arg)
{
    struct bg_order *o = arg;
    struct err_info err = {0};
    store_write(o->s, job_hold_until_two_queued, o, &err);
    return NULL;
}

static void *worker_main(void *arg)
{
    struct bg_order *o = arg;
    struct err_info err = {0};
    store_write_background(o->s, job_worker_looks, o, &err);
    return NULL;
}

static void test_worker_job_after_callers(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    struct bg_order o = {.s = f->s, .path = f->path, .seen_by_worker = -1};
    pthread_t hold, worker;
    assert_int_equal(pthread_create(&hold, NULL, hold_main, &o), 0);
    for (int i = 0; i < 5000 && !atomic_load(&o.is_blocking); i++)
        usleep(1000);
    if (!atomic_load(&o.is_blocking))
        pthread_join(hold, NULL); /* before failing: the thread uses o */
    assert_true(atomic_load(&o.is_blocking));
    /* The worker's job and the caller's queue while the writer is held: one batch. */
    assert_int_equal(pthread_create(&worker, NULL, worker_main, &o), 0);
    int rc = store_write(f->s, job_one_store, "CALLER", &err);
    pthread_join(worker, NULL);
    pthread_join(hold, NULL);
    assert_int_equal(rc, 0);
    /* The caller's write was committed when the worker's job ran: in the same
     * transaction, no other connection could have seen it yet. */
    assert_int_equal(o.seen_by_worker, 1);
    assert_int_equal(file_i64(f->path, "SELECT COUNT(*) FROM stores WHERE code IN "
                                       "('CALLER', 'WORKER')"),
                     2);
}

static int job_many_blobs(struct store_tx *tx, void *arg, struct err_info *err)
{
    int n = *(int *)arg;
    int rc = db_exec(store_tx_db(tx), "CREATE TABLE IF NOT EXISTS wb (n INTEGER, b BLOB)", err);
    sqlite3_stmt *st = db_stmt(store_tx_db(tx), "INSERT INTO wb (n, b) VALUES ($1, zeroblob($2))");
    for (int i = 0; rc == 0 && i < n; i++) {
        db_bind_i64(st, 1, i);
        db_bind_i64(st, 2, 100 + (i * 7919) % 9000); /* rows of 100 B to 9 KB: pages split */
        rc = db_run(store_tx_db(tx), st, err);
    }
    return rc;
}

/* The writer's WAL frames go out gathered (walbuf.c): a commit, however large,
 * is whole in the file for any other connection the moment it is acknowledged. */
static void test_wal_frames_gathered(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    const int sizes[] = {1, 17, 900, 3, 2500}; /* up to ~12 MB: many flushes of the buffer */
    int64_t rows = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int n = sizes[k];
        assert_int_equal(store_write(f->s, job_many_blobs, &n, &err), 0);
        rows += n;
        assert_int_equal(file_i64(f->path, "SELECT COUNT(*) FROM wb"), rows);
    }
    int64_t bytes = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int i = 0; i < sizes[k]; i++)
            bytes += 100 + (i * 7919) % 9000;
    assert_int_equal(file_i64(f->path, "SELECT SUM(length(b)) FROM wb"), bytes);
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(h);
}

/* One transaction far past the WAL's hard limit, with the checkpoint thread idle,
 * is handed to the thread: the writer does not copy it inside the commit. */
static void test_large_commit_checkpointed_by_the_thread(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    reopen_small_wal(f);
    struct store_checkpoints before = store_checkpoints(f->s);
    int n = 1500; /* ~7 MB: some 1,700 pages, 25 times the threshold */
    assert_int_equal(store_write(f->s, job_many_blobs, &n, &err), 0);
    assert_true(wal_pages_now(f) > 4 * 64);
    for (int i = 0; i < 500 && store_checkpoints(f->s).by_thread == before.by_thread; i++)
        usleep(10 * 1000);
    struct store_checkpoints after = store_checkpoints(f->s);
    assert_true(after.by_thread > before.by_thread);
    assert_int_equal(after.by_writer, before.by_writer);
    /* Later commits start the WAL over once the thread copied it all: it holds
     * only their few frames. */
    assert_int_equal(store_write(f->s, job_one_store, "S6", &err), 0);
    assert_int_equal(store_write(f->s, job_one_store, "S7", &err), 0);
    assert_true(checkpoint_by_another(f->path, "PASSIVE").frames < 64);
    assert_int_equal(file_i64(f->path, "SELECT COUNT(*) FROM wb"), n);
}

static int job_rewrite(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    /* 3 MB through a 1 MB cache: pages spill to the WAL, then each is changed
     * again, so SQLite writes those frames again and, at the commit, every
     * frame header after the first of them (new checksums). */
    return db_exec(store_tx_db(tx),
                   "CREATE TABLE rw (x INTEGER, b BLOB);"
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
                   "  INSERT INTO rw SELECT i, zeroblob(1000) FROM n;"
                   "UPDATE rw SET x = x + 1;",
                   err);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* What an acknowledged commit wrote is whole in the files at once, as a crash
 * would leave them: a copy of the database and its WAL, opened afresh (SQLite
 * checks every frame's checksum as it recovers the WAL), has it. */
static void test_acknowledged_commit_in_the_files(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    reopen_small(f, 1000000); /* no checkpoint: the commit is in the WAL only */
    uint64_t behind = walbuf_written_behind();
    assert_int_equal(store_write(f->s, job_rewrite, NULL, &err), 0);
    /* Its frames filled the buffer several times: the full ones were written by
     * the WAL file's thread while the job went on (reading spilled pages back). */
    assert_true(walbuf_written_behind() >= behind + 2);
    char db[200], wal[200], copy[200], copy_wal[200];
    snprintf(db, sizeof db, "%s", f->path);
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    snprintf(copy, sizeof copy, "%s/copy.db", f->dir);
    snprintf(copy_wal, sizeof copy_wal, "%s/copy.db-wal", f->dir);
    copy_file(db, copy);
    copy_file(wal, copy_wal);
    assert_int_equal(file_i64(copy, "SELECT COUNT(*) FROM rw"), 3000);
    assert_int_equal(file_i64(copy, "SELECT SUM(x) FROM rw"), 3000 * 3001 / 2 + 3000);
    remove_db_files(copy);
}

static void test_acknowledged_once_synced(void **state)
{
    struct fx *f = *state;
    assert_true(f->s->has_durable); /* commits do not sync themselves */
    struct store_syncs before = store_syncs(f->s);
    int64_t n0 = stores_in_file(f->path);
    /* Holding the durability thread's lock keeps the batch from being handed
     * over after its COMMIT: committed, but not yet known to be on disk. */
    pthread_mutex_lock(&f->s->dmu);
    struct bg_write w = {.s = f->s, .code = "S7"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bg_write_main, &w), 0);
    for (int i = 0; i < 500 && stores_in_file(f->path) == n0; i++)
        usleep(10 * 1000);
    assert_int_equal(stores_in_file(f->path), n0 + 1);
    usleep(50 * 1000);
    assert_false(atomic_load(&w.is_done)); /* not acknowledged before the sync */
    pthread_mutex_unlock(&f->s->dmu);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0);
    struct store_syncs after = store_syncs(f->s);
    assert_true(after.syncs > before.syncs);
    assert_true(after.batches > before.batches);
    assert_int_equal(store_wait_durable(f->s), 0);
}

static void test_failed_sync_refuses_writes(void **state)
{
    struct fx *f = *state;
    struct err_info err = {0};
    /* fdatasync() fails on a pipe (EINVAL) as it would on a disk's I/O error. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_true(dup2(p[0], f->s->wal_fd) >= 0);
    assert_int_equal(store_write(f->s, job_one_store, "S8", &err), ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "durable"));
    assert_int_equal(store_wait_durable(f->s), ERR_UNAVAILABLE);
    /* Nothing is taken any more until the server is restarted. */
    int64_t n = stores_in_file(f->path);
    memset(&err, 0, sizeof err);
    assert_int_equal(store_write(f->s, job_one_store, "S9", &err), ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "restart"));
    assert_int_equal(stores_in_file(f->path), n);
    close(p[0]);
    close(p[1]);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--open-close") == 0)
        return open_close_main(argv[2]);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_migrations_idempotent),
        T(test_newer_schema_refused),
        cmocka_unit_test(test_open_bad_path),
        T(test_write_is_durable),
        T(test_wal_checkpointed_by_its_thread),
        T(test_lost_transaction_commits_nothing),
        T(test_last_reader_kept_for_quick_threads),
        T(test_region_changed_by_another_process),
        T(test_group_commit_failing_job_rolls_back_alone),
        T(test_rerunnable_jobs_failing_after_writing),
        T(test_rerunnable_jobs_failing_before_writing),
        T(test_rerunnable_job_asks_to_run_again),
        T(test_constraint_error_in_job),
        T(test_identity_same_phone_same_customer),
        T(test_identity_cache_forgets_rolled_back),
        T(test_assignee_index_holds_the_assigned),
        T(test_search_reads_both_indexes),
        T(test_commit_delay),
        T(test_identity_two_customers_merge_suggestion),
        T(test_dedup_channel_source_id),
        T(test_unknown_store_writes_nothing),
        cmocka_unit_test(test_status_transition_table),
        T(test_status_patch),
        T(test_patch_fields_and_scope),
        T(test_patch_long_queue_is_stable),
        T(test_messages),
        T(test_bonus_ledger),
        T(test_purchase_duplicate),
        T(test_orders_and_lookup),
        T(test_list_keyset_pagination),
        T(test_list_search),
        T(test_scope_filters),
        T(test_hub),
        T(test_concurrent_writers),
        T(test_checkpoint_copy_paced),
        T(test_pacing_keeps_the_locks),
        T(test_reader_snapshot_kept_until_a_commit),
        T(test_wal_frames_gathered),
        T(test_worker_job_after_callers),
        T(test_wal_restart_after_a_rollback),
        T(test_large_commit_checkpointed_by_the_thread),
        T(test_acknowledged_commit_in_the_files),
        T(test_acknowledged_once_synced),
        T(test_failed_sync_refuses_writes),
    };
#undef T
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    text_thread_cleanup();
    return rc;
}
