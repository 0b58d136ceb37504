/*
 * store.c - opening the store, the read-connection pool, and the writer:
 * one thread, one connection, group commit.
 *
 * The writer takes every queued job (up to max_batch), runs each inside
 * BEGIN IMMEDIATE ... COMMIT in its own SAVEPOINT so a failing job undoes
 * only its own writes (rerunnable jobs run straight, see store_async), then
 * commits once for the whole batch; the background workers' jobs taken with
 * callers' jobs commit in a second transaction right after.  Each caller
 * sleeps on its job's semaphore, posted only once the batch is on disk: the
 * durability thread (durable.c) syncs the WAL while the writer runs the next
 * batch.  The batch grows naturally with load, so the fsync cost is shared
 * by every request that arrived while the previous batch was being written.
 */
#include "store/store_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mem.h"
#include "core/str.h"
#include "core/buf.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t tx_now_ms(void)
{
    return clock_now_ms();
}

struct db *store_tx_db(struct store_tx *tx)
{
    return tx->db;
}

void store_tx_schema_change(struct store_tx *tx)
{
    tx->is_schema_changing = true;
}

void store_tx_rerun_alone(struct store_tx *tx)
{
    tx->wants_rerun = true;
}

void store_tx_search_add(struct store_tx *tx, int64_t message_id, const char *terms)
{
    if (terms == NULL || terms[0] == '\0')
        return;
    xgrow((void **)&tx->search, &tx->cap_search, tx->n_search + 1, sizeof *tx->search);
    tx->search[tx->n_search].message_id = message_id;
    tx->search[tx->n_search].terms = xstrdup(terms);
    tx->search[tx->n_search].is_deferred = tx->defers_search;
    tx->n_search++;
}

/* Drop pending events and index rows past a mark (their job or part rolled back). */
static void tx_truncate(struct store_tx *tx, struct tx_mark m)
{
    pending_events_free(tx->pending + m.n_pending, tx->n_pending - m.n_pending);
    tx->n_pending = m.n_pending;
    for (size_t i = m.n_search; i < tx->n_search; i++)
        free(tx->search[i].terms);
    tx->n_search = m.n_search;
    tx->n_deduplicated = m.n_deduplicated;
}

/* A rollback may have undone a store's change that the region cache read, or
 * a row the writer's cache answered from. */
static void regions_forget_all(struct store *s)
{
    if (s->is_region_known)
        memset(s->is_region_known, 0, s->n_regions * sizeof *s->is_region_known);
    if (++s->wcache_gen == 0) { /* wrapped: old entries would look current */
        if (s->wcache != NULL)
            memset(s->wcache, 0, WCACHE_SLOTS * sizeof *s->wcache);
        s->wcache_gen = 1;
    }
}

/* FNV-1a of the tag and the key; *len: the key's length. */
static uint64_t wcache_hash(char tag, const char *key, size_t *len)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (unsigned char)tag;
    h *= 0x100000001b3ull;
    size_t n = 0;
    for (; key[n] != '\0'; n++) {
        h ^= (unsigned char)key[n];
        h *= 0x100000001b3ull;
    }
    *len = n;
    return h;
}

static struct wcache_slot *wcache_slot(struct store *s, uint64_t h)
{
    return &s->wcache[(h ^ (h >> 32)) & (WCACHE_SLOTS - 1)];
}

int64_t wcache_get(struct store *s, char tag, const char *key)
{
    if (s->wcache == NULL)
        return 0;
    size_t len;
    uint64_t h = wcache_hash(tag, key, &len);
    const struct wcache_slot *e = wcache_slot(s, h);
    if (e->gen != s->wcache_gen || e->hash != h || e->len != len + 1 || e->key[0] != tag ||
        memcmp(e->key + 1, key, len) != 0)
        return 0;
    return e->value;
}

void wcache_put(struct store *s, char tag, const char *key, int64_t value)
{
    size_t len;
    uint64_t h = wcache_hash(tag, key, &len);
    if (len + 1 > WCACHE_KEY_MAX || value == 0)
        return;
    if (s->wcache == NULL)
        s->wcache = xcalloc(WCACHE_SLOTS, sizeof *s->wcache);
    struct wcache_slot *e = wcache_slot(s, h);
    e->hash = h;
    e->value = value;
    e->gen = s->wcache_gen;
    e->len = (uint8_t)(len + 1);
    e->key[0] = tag;
    memcpy(e->key + 1, key, len);
}

/* Another process (the CLI beside the server) changed the file since the last
 * batch: a store's region, a cached row or the search backlog may have
 * changed with it. */
static void other_commits_check(struct store *s)
{
    sqlite3_stmt *st = db_stmt(s->wdb, "PRAGMA data_version");
    int64_t v = db_step(s->wdb, st, NULL) == 1 ? db_col_i64(st, 0) : -1;
    sqlite3_reset(st);
    if (v != s->data_version) {
        regions_forget_all(s);
        /* Another process (an import from the command line) may have left a
         * search backlog: a step finds out. */
        if (s->data_version != 0)
            atomic_store(&s->has_search_backlog, true);
    }
    s->data_version = v;
}

/* Only the batch's own COMMIT may commit on the writer's connection: after
 * SQLite rolled a batch back (an I/O error, a full disk), a job's later
 * statements would run, and commit, one by one. */
static int commit_gate(void *arg)
{
    struct store *s = arg;
    return s->may_commit ? 0 : 1;
}

static struct tx_mark tx_mark_now(const struct store_tx *tx)
{
    return (struct tx_mark){tx->n_pending, tx->n_search, tx->n_deduplicated};
}

struct tx_mark store_tx_part_begin(struct store_tx *tx)
{
    /* Outside the batch's transaction (SQLite rolled it back on an I/O error
     * or a full disk) a savepoint would open a transaction of its own. */
    if (!sqlite3_get_autocommit(db_handle(tx->db)))
        db_run(tx->db, db_stmt(tx->db, "SAVEPOINT part"), NULL);
    return tx_mark_now(tx);
}

void store_tx_part_end(struct store_tx *tx, struct tx_mark mark, bool keep)
{
    if (sqlite3_get_autocommit(db_handle(tx->db))) { /* the transaction is lost */
        tx_truncate(tx, mark);
        regions_forget_all(tx->s);
        return;
    }
    if (!keep) {
        db_run(tx->db, db_stmt(tx->db, "ROLLBACK TO part"), NULL);
        tx_truncate(tx, mark);
        regions_forget_all(tx->s);
    }
    db_run(tx->db, db_stmt(tx->db, "RELEASE part"), NULL);
}

/* Insert the batch's index rows; part of the batch's transaction. */
static int write_search(struct store_tx *tx, struct err_info *err)
{
    for (size_t i = 0; i < tx->n_search; i++) {
        const struct pending_search *ps = &tx->search[i];
        sqlite3_stmt *st =
            db_stmt(tx->db, ps->is_deferred
                                ? "INSERT INTO search_backlog (message_id, terms) VALUES ($1, $2)"
                                : "INSERT INTO message_terms (rowid, terms) VALUES ($1, $2)");
        db_bind_i64(st, 1, ps->message_id);
        db_bind_text_static(st, 2, ps->terms, -1);
        int rc = db_run(tx->db, st, err);
        if (rc != 0)
            return rc;
        if (ps->is_deferred)
            atomic_store(&tx->s->has_search_backlog, true);
    }
    return 0;
}

/* An I/O error, a full disk or lack of memory makes SQLite roll back the whole
 * transaction; no later job may run in autocommit mode. */
static bool tx_lost(struct store *s, struct job *j, struct err_info *cerr)
{
    if (!sqlite3_get_autocommit(db_handle(s->wdb)))
        return false;
    err_set(cerr, ERR_UNAVAILABLE, "", "the transaction was rolled back");
    if (j->result == 0)
        j->result = err_set(j->err, ERR_UNAVAILABLE, "", "the database is unavailable");
    return true;
}

/* Run j in a savepoint of its own: when it fails, only its writes are undone.
 * A rerunnable job that fails asking for it (store_tx_rerun_alone) runs once more. */
static int run_alone(struct store *s, struct store_tx *tx, struct job *j, struct err_info *cerr)
{
    for (int run = 0;; run++) {
        struct tx_mark mark = store_tx_part_begin(tx);
        tx->wants_rerun = false;
        tx->defers_search = j->defers_search;
        j->result = j->fn(tx, j->arg, j->err);
        bool again = j->result != 0 && tx->wants_rerun && j->is_rerunnable && run == 0;
        tx->wants_rerun = false;
        store_tx_part_end(tx, mark, j->result == 0);
        if (tx_lost(s, j, cerr))
            return ERR_UNAVAILABLE;
        if (!again)
            return 0;
        if (j->err != NULL)
            memset(j->err, 0, sizeof *j->err);
    }
}

/*
 * Run the rerunnable jobs from first up to (not including) end, the first
 * of the transaction, without a savepoint.  A job that fails without a
 * change leaves only its events and index rows to drop; one that fails after
 * changing rows or the schema, or asking to run again, has the transaction
 * rolled back and the jobs run again, each alone.
 */
static int run_straight(struct store *s, struct store_tx *tx, struct job *first, struct job *end,
                        struct err_info *cerr)
{
    sqlite3 *h = db_handle(s->wdb);
    for (struct job *j = first; j != end; j = j->next) {
        struct tx_mark before = tx_mark_now(tx);
        int64_t changes = sqlite3_total_changes64(h);
        tx->is_schema_changing = false;
        tx->wants_rerun = false;
        tx->defers_search = j->defers_search;
        j->result = j->fn(tx, j->arg, j->err);
        if (tx_lost(s, j, cerr))
            return ERR_UNAVAILABLE;
        if (j->result == 0)
            continue;
        if (sqlite3_total_changes64(h) == changes && !tx->is_schema_changing &&
            !tx->wants_rerun) {
            tx_truncate(tx, before);
            continue;
        }
        int rc = db_exec(s->wdb, "ROLLBACK", cerr);
        tx_truncate(tx, (struct tx_mark){0});
        regions_forget_all(s);
        if (rc == 0)
            rc = db_run(s->wdb, db_stmt(s->wdb, "BEGIN IMMEDIATE"), cerr);
        for (struct job *k = first; rc == 0 && k != end; k = k->next) {
            if (k->err != NULL)
                memset(k->err, 0, sizeof *k->err);
            k->result = 0;
            rc = run_alone(s, tx, k, cerr);
        }
        return rc;
    }
    return 0;
}

/*
 * The jobs of a batch that first(j) picks, then the others, each in their
 * order (jobs of one batch were queued side by side, so their order is
 * free); *others: the first of the others (NULL when none), *cut: the link
 * that leads to it.
 */
static struct job *partition(struct job *batch, bool (*first)(const struct job *),
                             struct job **others, struct job ***cut)
{
    struct job *a = NULL, **a_tail = &a, *b = NULL, **b_tail = &b;
    for (struct job *j = batch, *next; j != NULL; j = next) {
        next = j->next;
        j->next = NULL;
        struct job ***tail = first(j) ? &a_tail : &b_tail;
        **tail = j;
        *tail = &j->next;
    }
    *a_tail = b;
    *others = b;
    *cut = a_tail;
    return a != NULL ? a : b;
}

static bool is_rerunnable(const struct job *j)
{
    return j->is_rerunnable;
}

static bool is_callers(const struct job *j)
{
    return !j->is_background;
}

/* Run a batch in one transaction and hand it on to be acknowledged once durable. */
static void run_batch(struct store *s, struct job *batch)
{
    struct store_tx tx = {.s = s, .db = s->wdb};
    struct err_info cerr = {0};
    uint64_t t0 = clock_mono_ns();
    struct job *others, **cut;
    batch = partition(batch, is_rerunnable, &others, &cut);
    int rc = db_run(s->wdb, db_stmt(s->wdb, "BEGIN IMMEDIATE"), &cerr);
    if (rc == 0)
        other_commits_check(s);
    if (rc == 0)
        rc = run_straight(s, &tx, batch, others, &cerr);
    for (struct job *j = others; rc == 0 && j != NULL; j = j->next)
        rc = run_alone(s, &tx, j, &cerr);
    if (rc == 0)
        rc = write_search(&tx, &cerr);
    /* The batch's number, taken before its COMMIT makes it readable: whoever
     * read it and then waits for durability (store_wait_durable) waits for it. */
    uint64_t seq = 0;
    if (rc == 0 && s->has_durable)
        seq = atomic_fetch_add(&s->seq_reserved, 1) + 1;
    if (rc == 0) {
        s->may_commit = true;
        rc = db_run(s->wdb, db_stmt(s->wdb, "COMMIT"), &cerr);
        s->may_commit = false;
    }
    if (rc == 0) {
        atomic_fetch_add(&s->commit_gen, 1); /* before the callers and the hub hear of it */
        store_readers_sweep(s); /* idle snapshots are stale now: let the checkpoint past them */
    }
    if (rc != 0) {
        log_error("store commit failed: %s", cerr.message);
        db_exec(s->wdb, "ROLLBACK", NULL);
        for (struct job *k = batch; k != NULL; k = k->next)
            if (k->result == 0)
                k->result = err_set(k->err, ERR_UNAVAILABLE, "", "the database is unavailable");
        tx_truncate(&tx, (struct tx_mark){0});
        regions_forget_all(s); /* regions read inside the failed batch may not be stored */
    } else {
        /* Requests are counted once they are committed (a job or a whole batch that
         * rolls back, or an import batch retried line by line, counts nothing). */
        for (size_t i = 0; i < tx.n_pending; i++)
            if (tx.pending[i].created_channel >= 0)
                atomic_fetch_add(&metric_requests_created[tx.pending[i].created_channel], 1);
        atomic_fetch_add(&metric_requests_deduplicated, tx.n_deduplicated);
        tx_truncate(&tx, (struct tx_mark){.n_pending = tx.n_pending});
    }
    free(tx.search);
    if (rc == 0 && s->has_durable) { /* its events and callers wait for the fsync */
        store_durable_push(s, batch, tx.pending, tx.n_pending, t0, seq);
        return;
    }
    if (rc == 0) /* the commit synced itself */
        hub_publish(&s->hub, tx.pending, tx.n_pending); /* the hub owns the JSON now */
    free(tx.pending);
    histogram_observe_ns(&metric_commit_seconds, clock_mono_ns() - t0);
    store_jobs_complete(batch);
    if (seq != 0) /* a failed COMMIT: its number is passed, so no waiter waits for it */
        store_durable_push(s, NULL, NULL, 0, t0, seq);
}

/* The background jobs of a batch taken out of it; NULL when the batch holds
 * no callers' jobs or no background ones (then it runs whole). */
static struct job *background_apart(struct job **batch)
{
    struct job *bg, **cut;
    *batch = partition(*batch, is_callers, &bg, &cut);
    if (bg == NULL || bg == *batch)
        return NULL;
    *cut = NULL;
    return bg;
}

/*
 * The search backlog (store_tx_search_add) is moved into the index a step at
 * a time, by a background job the writer queues for itself: when it has
 * nothing else to do, or at least every SEARCH_MOVE_GAP_MS under a steady
 * load.  While a bulk import runs, only every SEARCH_BULK_GAP_MS (its
 * batches would wait behind the steps; imports back to back must not grow
 * the backlog without end).  A step of SEARCH_MOVE_ROWS rows takes a few
 * milliseconds, like a rollup step.
 */
#define SEARCH_MOVE_ROWS 1000
#define SEARCH_MOVE_GAP_MS 250
#define SEARCH_BULK_GAP_MS 10000
#define SEARCH_RETRY_MS 1000 /* after a step that failed */

static int job_search_move(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    struct db *db = tx->db;
    sqlite3_stmt *st = db_stmt(db, "SELECT message_id FROM search_backlog ORDER BY message_id "
                                   "LIMIT 1 OFFSET $1");
    db_bind_i64(st, 1, SEARCH_MOVE_ROWS - 1);
    int step = db_step(db, st, err);
    int64_t upto = step == 1 ? db_col_i64(st, 0) : INT64_MAX; /* 0: fewer rows, all go */
    sqlite3_reset(st);
    if (step < 0)
        return step;
    st = db_stmt(db, "INSERT INTO message_terms (rowid, terms) SELECT message_id, terms "
                     "FROM search_backlog WHERE message_id <= $1 ORDER BY message_id");
    db_bind_i64(st, 1, upto);
    int rc = db_run(db, st, err);
    if (rc != 0)
        return rc;
    st = db_stmt(db, "DELETE FROM search_backlog WHERE message_id <= $1");
    db_bind_i64(st, 1, upto);
    if ((rc = db_run(db, st, err)) != 0)
        return rc;
    /* On the writer, as write_search sets it: a later batch's rows set it again. */
    if (upto == INT64_MAX)
        atomic_store(&tx->s->has_search_backlog, false);
    return 0;
}

static void search_move_done(struct store_async *w)
{
    struct store *s = w->arg;
    if (w->result != 0) { /* rolled back: the rows are still there */
        log_warn("store search backlog step failed msg=\"%s\"", w->err->message);
        atomic_store(&s->search_not_before_ns, clock_mono_ns() + SEARCH_RETRY_MS * 1000000ull);
        atomic_store(&s->has_search_backlog, true);
    }
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->is_search_queued, false);
    pthread_cond_signal(&s->has_jobs); /* the writer queues the next step, or finds none due */
    pthread_mutex_unlock(&s->mu);
}

/* Is a step of the search backlog due?  Under mu.  *retry_ns: when a step
 * held back by a failed one will be due (0: none waits for a time). */
static bool search_move_due(struct store *s, uint64_t *retry_ns)
{
    *retry_ns = 0;
    if (!atomic_load(&s->has_search_backlog) || atomic_load(&s->is_search_queued) ||
        s->is_stopping || atomic_load(&s->sync_failed))
        return false;
    uint64_t now = clock_mono_ns(), not_before = atomic_load(&s->search_not_before_ns);
    if (now < not_before) {
        *retry_ns = not_before;
        return false;
    }
    uint64_t since = now - s->search_last_ns;
    if (store_bulk_running(s))
        return since >= SEARCH_BULK_GAP_MS * 1000000ull;
    return s->head == NULL || since >= SEARCH_MOVE_GAP_MS * 1000000ull;
}

/* Append j to the writer's queue.  Under mu. */
static void queue_append(struct store *s, struct job *j)
{
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->depth++;
}

/* Queue a step of the search backlog, at the queue's end.  Under mu. */
static void search_move_queue(struct store *s)
{
    struct job *j = xcalloc(1, sizeof *j);
    memset(&s->search_err, 0, sizeof s->search_err);
    s->search_job = (struct store_async){.fn = job_search_move, .arg = s,
                                         .err = &s->search_err, .done = search_move_done};
    *j = (struct job){.fn = job_search_move, .arg = s, .err = &s->search_err,
                      .async = &s->search_job, .is_background = true};
    atomic_store(&s->is_search_queued, true);
    s->search_last_ns = clock_mono_ns();
    queue_append(s, j);
}

/*
 * Group commit's wait.  While callers' writes arrive faster than the writer
 * commits (its last batch held COMMIT_DELAY_SIBLINGS jobs or more), a batch
 * of fewer than COMMIT_DELAY_WANT waits up to opt.commit_delay_us for more
 * to join it: its COMMIT, its fsync and the pages its requests share (the
 * index leaves, the rules' tables) then serve more requests, for less CPU
 * each.  A write arriving alone never waits.  Under mu.
 */
#define COMMIT_DELAY_SIBLINGS 4
#define COMMIT_DELAY_WANT 16

static void commit_delay(struct store *s)
{
    if (s->opt.commit_delay_us <= 0 || s->last_batch_n < COMMIT_DELAY_SIBLINGS ||
        s->depth >= COMMIT_DELAY_WANT)
        return;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)s->opt.commit_delay_us * 1000;
    until.tv_sec += until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    while (s->depth < COMMIT_DELAY_WANT && !s->is_stopping &&
           pthread_cond_timedwait(&s->has_jobs, &s->mu, &until) == 0)
        ; /* each enqueue signals: count again */
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    pthread_setname_np(pthread_self(), "otklik-writer");
    pthread_mutex_lock(&s->mu);
    for (;;) {
        uint64_t retry_ns;
        while (s->head == NULL && !s->is_stopping) {
            if (search_move_due(s, &retry_ns)) {
                search_move_queue(s);
                break;
            }
            if (retry_ns != 0) { /* a failed step is tried again on its own */
                struct timespec until = {.tv_sec = (time_t)(retry_ns / 1000000000u),
                                         .tv_nsec = (long)(retry_ns % 1000000000u)};
                pthread_cond_timedwait(&s->has_jobs, &s->mu, &until);
            } else {
                pthread_cond_wait(&s->has_jobs, &s->mu);
            }
        }
        if (s->head == NULL && s->is_stopping)
            break;
        if (search_move_due(s, &retry_ns)) /* under a load that never leaves the queue empty */
            search_move_queue(s);
        commit_delay(s);
        /* Take up to max_batch jobs, leave the rest for the next batch. */
        struct job *batch = s->head, *last = s->head;
        int n = 1;
        while (last->next != NULL && n < s->opt.max_batch) {
            last = last->next;
            n++;
        }
        s->last_batch_n = n;
        s->head = last->next;
        if (s->head == NULL)
            s->tail = NULL;
        last->next = NULL;
        s->depth -= n;
        pthread_mutex_unlock(&s->mu);

        if (atomic_load(&s->sync_failed)) {
            store_jobs_fail(batch, "the database cannot be synced to disk; restart the server");
            store_jobs_complete(batch);
        } else {
            /* The callers' writes commit (and go to the fsync) before the workers'. */
            struct job *later = background_apart(&batch);
            run_batch(s, batch);
            store_checkpoint_tail(s);
            if (later != NULL && atomic_load(&s->sync_failed)) {
                store_jobs_fail(later, "the database cannot be synced to disk; restart the server");
                store_jobs_complete(later);
            } else if (later != NULL) {
                run_batch(s, later);
                store_checkpoint_tail(s);
            }
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Queue j for the writer; false when the store is stopping. */
static bool enqueue(struct store *s, struct job *j)
{
    pthread_mutex_lock(&s->mu);
    if (s->is_stopping) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    queue_append(s, j);
    pthread_cond_signal(&s->has_jobs);
    pthread_mutex_unlock(&s->mu);
    return true;
}

static int write_and_wait(struct store *s, store_job_fn fn, void *arg, bool is_rerunnable,
                          bool is_background, struct err_info *err)
{
    struct job j = {.fn = fn, .arg = arg, .err = err, .is_rerunnable = is_rerunnable,
                    .is_background = is_background};
    sem_init(&j.done, 0, 0);
    if (!enqueue(s, &j)) {
        sem_destroy(&j.done);
        return err_set(err, ERR_UNAVAILABLE, "", "the server is shutting down");
    }
    while (sem_wait(&j.done) != 0)
        ; /* EINTR: keep waiting, the writer always posts */
    sem_destroy(&j.done);
    return j.result;
}

int store_write(struct store *s, store_job_fn fn, void *arg, struct err_info *err)
{
    return write_and_wait(s, fn, arg, false, false, err);
}

int store_write_rerunnable(struct store *s, store_job_fn fn, void *arg, struct err_info *err)
{
    return write_and_wait(s, fn, arg, true, false, err);
}

int store_write_background(struct store *s, store_job_fn fn, void *arg, struct err_info *err)
{
    return write_and_wait(s, fn, arg, false, true, err);
}

int store_write_async(struct store *s, struct store_async *w)
{
    struct job *j = xcalloc(1, sizeof *j);
    j->fn = w->fn;
    j->arg = w->arg;
    j->err = w->err;
    j->async = w;
    j->is_rerunnable = w->is_rerunnable;
    j->defers_search = w->defers_search;
    if (!enqueue(s, j)) {
        free(j);
        return err_set(w->err, ERR_UNAVAILABLE, "", "the server is shutting down");
    }
    return 0;
}

void store_bulk_begin(struct store *s)
{
    atomic_fetch_add(&s->n_bulk, 1);
}

void store_bulk_end(struct store *s)
{
    atomic_fetch_sub(&s->n_bulk, 1);
    /* The writer may have a search backlog to move now (search_move_due). */
    pthread_mutex_lock(&s->mu);
    pthread_cond_signal(&s->has_jobs);
    pthread_mutex_unlock(&s->mu);
}

bool store_bulk_running(struct store *s)
{
    return atomic_load(&s->n_bulk) > 0;
}

int store_queue_depth(struct store *s)
{
    pthread_mutex_lock(&s->mu);
    int d = s->depth;
    pthread_mutex_unlock(&s->mu);
    return d;
}

/* Region of a store through the writer's cache (stores change rarely). */
static void region_cached(struct store *s, struct db *db, int64_t store_id, char *out, size_t cap)
{
    out[0] = '\0';
    if (store_id <= 0)
        return;
    if (store_id > 1000000) { /* not a chain's store count: no cache slot for it */
        store_region_of(db, store_id, out, cap);
        return;
    }
    if ((size_t)store_id >= s->n_regions) {
        size_t n = (size_t)store_id * 2 + 16;
        s->regions = xrealloc(s->regions, n * sizeof *s->regions);
        s->is_region_known = xrealloc(s->is_region_known, n * sizeof *s->is_region_known);
        memset(s->is_region_known + s->n_regions, 0, (n - s->n_regions) * sizeof(bool));
        s->n_regions = n;
    }
    if (!s->is_region_known[store_id]) {
        store_region_of(db, store_id, s->regions[store_id], sizeof s->regions[store_id]);
        s->is_region_known[store_id] = true;
    }
    str_copy(out, cap, s->regions[store_id]);
}

void store_region_forget(struct store *s, int64_t store_id)
{
    if (store_id > 0 && (size_t)store_id < s->n_regions)
        s->is_region_known[store_id] = false;
}

int64_t store_event_add(struct store_tx *tx, const char *type, int64_t request_id,
                        int64_t customer_id, int64_t order_id, int64_t store_id, const char *actor,
                        const char *data_json, struct err_info *err)
{
    int64_t now = tx_now_ms();
    sqlite3_stmt *st = db_stmt(tx->db, "INSERT INTO events (type, request_id, customer_id, "
                                       "order_id, store_id, actor, data, at_ms) "
                                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    db_bind_text_static(st, 1, type, -1);
    db_bind_i64_or_null(st, 2, request_id);
    db_bind_i64_or_null(st, 3, customer_id);
    db_bind_i64_or_null(st, 4, order_id);
    db_bind_i64_or_null(st, 5, store_id);
    db_bind_text_static(st, 6, actor, -1);
    db_bind_text_static(st, 7, data_json ? data_json : "{}", -1);
    db_bind_i64(st, 8, now);
    int rc = db_run(tx->db, st, err);
    if (rc != 0)
        return rc;
    int64_t id = db_last_id(tx->db);

    xgrow((void **)&tx->pending, &tx->cap_pending, tx->n_pending + 1, sizeof *tx->pending);
    struct pending_event *pe = &tx->pending[tx->n_pending++];
    pe->created_channel = -1;
    struct hub_event *ev = &pe->ev;
    memset(ev, 0, sizeof *ev);
    ev->id = id;
    str_copy(ev->type, sizeof ev->type, type);
    ev->request_id = request_id;
    ev->customer_id = customer_id;
    ev->store_id = store_id;
    region_cached(tx->s, tx->db, store_id, ev->region, sizeof ev->region);
    /* The stream's JSON is made once the batch is durable, off the writer
     * (hub_publish): here the data and the actor are only copied, in one block. */
    pe->order_id = order_id;
    pe->at_ms = now;
    const char *data = data_json ? data_json : "{}";
    size_t dlen = strlen(data), alen = actor ? strlen(actor) : 0;
    pe->data = xmalloc(dlen + 1 + (actor ? alen + 1 : 0));
    memcpy(pe->data, data, dlen + 1);
    pe->actor = actor ? memcpy(pe->data + dlen + 1, actor, alen + 1) : NULL;
    return id;
}

/* End r's read transaction (never hand on a connection inside a failed one). */
static void reader_end(struct reader *r)
{
    if (!sqlite3_get_autocommit(db_handle(r->db)) &&
        db_run(r->db, db_stmt(r->db, "COMMIT"), NULL) != 0)
        db_exec(r->db, "ROLLBACK", NULL);
    r->is_open = false;
}

/* Set on the threads that answer quick reads on an event loop. */
static __thread bool is_quick_thread;

void store_thread_answers_quickly(void)
{
    is_quick_thread = true;
}

static struct db *borrow(struct store *s, bool may_reuse)
{
    /* The last free connection is left to the event loops: a loop waits at
     * most for another quick read, never for a slow report or a worker. */
    int keep = is_quick_thread || s->opt.n_readers < 2 ? 0 : 1;
    pthread_mutex_lock(&s->rmu);
    while (s->n_free <= keep)
        pthread_cond_wait(&s->rfree, &s->rmu);
    struct reader *r = s->free[--s->n_free];
    pthread_mutex_unlock(&s->rmu);
    /* One read transaction per borrowing at least: the reads see one snapshot,
     * and the file and WAL locks are taken once instead of once per statement.
     * The one kept from an earlier borrowing serves a recent read while nothing
     * was committed here since it began (commit_gen is bumped before a write is
     * acknowledged, so it holds every acknowledged write) and it is young. */
    uint64_t gen = atomic_load(&s->commit_gen);
    uint64_t now = clock_mono_ns();
    r->is_recent = may_reuse;
    if (may_reuse && r->is_open && r->gen == gen &&
        now - r->began_ns < (uint64_t)STORE_SNAPSHOT_MAX_MS * 1000000)
        return r->db;
    if (r->is_open)
        reader_end(r);
    r->gen = gen; /* read before the snapshot is taken: it can only be newer */
    r->began_ns = now;
    r->is_open = db_run(r->db, db_stmt(r->db, "BEGIN"), NULL) == 0;
    return r->db;
}

struct db *store_reader(struct store *s)
{
    return borrow(s, false);
}

struct db *store_reader_recent(struct store *s)
{
    return borrow(s, true);
}

static struct reader *reader_of(struct store *s, struct db *db)
{
    for (int i = 0; i < s->opt.n_readers; i++)
        if (s->readers[i].db == db)
            return &s->readers[i];
    assert(!"not a reader of this store");
    return NULL;
}

void store_reader_done(struct store *s, struct db *db)
{
    if (db == NULL)
        return;
    struct reader *r = reader_of(s, db);
    /* Keep the snapshot only for recent reads and while it is the newest; a
     * stale one would hold back the checkpoint while the connection idles. */
    if (sqlite3_get_autocommit(db_handle(db)))
        r->is_open = false; /* an error ended it */
    else if (!r->is_recent || r->gen != atomic_load(&s->commit_gen))
        reader_end(r);
    pthread_mutex_lock(&s->rmu);
    s->free[s->n_free++] = r;
    pthread_cond_broadcast(&s->rfree); /* a loop may wait where a worker may not take it */
    pthread_mutex_unlock(&s->rmu);
}

/* End the idle snapshots that are stale or old; called with rmu held. */
static void sweep_locked(struct store *s)
{
    uint64_t gen = atomic_load(&s->commit_gen);
    uint64_t now = clock_mono_ns();
    for (int i = 0; i < s->n_free; i++) {
        struct reader *r = s->free[i];
        if (r->is_open && (r->gen != gen ||
                           now - r->began_ns >= (uint64_t)STORE_SNAPSHOT_MAX_MS * 1000000))
            reader_end(r);
    }
}

void store_readers_sweep(struct store *s)
{
    pthread_mutex_lock(&s->rmu);
    sweep_locked(s);
    pthread_mutex_unlock(&s->rmu);
}

/* Ends kept snapshots past their time, also while the writer waits for a lock
 * (a checkpoint by another process waits for every reader to be current). */
static void *sweeper_main(void *arg)
{
    struct store *s = arg;
    pthread_setname_np(pthread_self(), "otklik-readers");
    pthread_mutex_lock(&s->rmu);
    while (!s->is_closing) {
        struct timespec until = clock_deadline(CLOCK_MONOTONIC, STORE_SNAPSHOT_MAX_MS / 2);
        pthread_cond_timedwait(&s->sweep_stop, &s->rmu, &until);
        if (!s->is_closing)
            sweep_locked(s);
    }
    pthread_mutex_unlock(&s->rmu);
    return NULL;
}

static void sweeper_stop(struct store *s)
{
    if (!s->has_sweeper)
        return;
    pthread_mutex_lock(&s->rmu);
    s->is_closing = true;
    pthread_cond_signal(&s->sweep_stop);
    pthread_mutex_unlock(&s->rmu);
    pthread_join(s->sweeper, NULL);
    s->has_sweeper = false;
}

int store_open(const char *path, const struct store_options *opt, struct store **out,
               struct err_info *err)
{
    struct store *s = xcalloc(1, sizeof *s);
    s->wcache_gen = 1; /* a slot never put holds 0 */
    s->path = xstrdup(path);
    if (opt)
        s->opt = *opt;
    if (s->opt.n_readers <= 0)
        s->opt.n_readers = 4;
    if (s->opt.reader_cache_kib <= 0)
        s->opt.reader_cache_kib = 16384;
    if (s->opt.writer_cache_kib <= 0)
        s->opt.writer_cache_kib = 16384;
    if (s->opt.max_batch <= 0)
        s->opt.max_batch = 1024;
    if (s->opt.wal_pages <= 0)
        s->opt.wal_pages = 16000;
    if (s->opt.commit_delay_us == 0)
        s->opt.commit_delay_us = 300;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->rfree, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->has_jobs, &ca); /* the writer's wait for a retry (writer_main) */
    pthread_cond_init(&s->sweep_stop, &ca);
    pthread_cond_init(&s->d_has, &ca); /* waits with a timeout (durable.c's presync) */
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->dmu, NULL);
    pthread_cond_init(&s->d_synced, NULL);
    s->wal_fd = -1;
    hub_init(&s->hub);

    int rc = db_open(path, true, s->opt.writer_cache_kib, &s->wdb, err);
    if (rc == 0)
        rc = store_migrate(s->wdb, NULL, err);
    if (rc != 0)
        goto fail;
    s->readers = xcalloc((size_t)s->opt.n_readers, sizeof *s->readers);
    s->free = xcalloc((size_t)s->opt.n_readers, sizeof *s->free);
    for (int i = 0; i < s->opt.n_readers; i++) {
        rc = db_open(path, false, s->opt.reader_cache_kib, &s->readers[i].db, err);
        if (rc != 0)
            goto fail;
        s->free[s->n_free++] = &s->readers[i];
    }
    for (int i = 0; i < s->opt.n_readers; i++)
        store_search_functions(s->readers[i].db);
    store_search_functions(s->wdb);
    /* Start the live stream after the newest stored event. */
    sqlite3_stmt *st = db_stmt(s->wdb, "SELECT COALESCE(MAX(id), 0) FROM events");
    if (db_step(s->wdb, st, NULL) == 1)
        s->hub.last_id = s->hub.first_id = db_col_i64(st, 0);
    sqlite3_reset(st);
    /* A backlog left by an import that ended as the server stopped. */
    st = db_stmt(s->wdb, "SELECT EXISTS (SELECT 1 FROM search_backlog)");
    int has = db_step(s->wdb, st, NULL);
    atomic_init(&s->has_search_backlog, has != 1 || db_col_i64(st, 0) != 0); /* unsure: look */
    sqlite3_reset(st);
    s->search_last_ns = clock_mono_ns(); /* a step during imports comes SEARCH_BULK_GAP_MS on */
    if (pthread_create(&s->sweeper, NULL, sweeper_main, s) != 0) {
        rc = err_set(err, ERR_INTERNAL, "", "cannot start the readers' thread");
        goto fail;
    }
    s->has_sweeper = true;
    sqlite3_commit_hook(db_handle(s->wdb), commit_gate, s);
    if ((rc = store_checkpointer_start(s, err)) != 0)
        goto fail;
    if ((rc = store_durable_start(s, err)) != 0)
        goto fail;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        rc = err_set(err, ERR_INTERNAL, "", "cannot start the writer thread");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    store_durable_stop(s);
    store_checkpointer_stop(s);
    sweeper_stop(s);
    for (int i = 0; i < s->n_free; i++)
        db_close(s->free[i]->db);
    free(s->readers);
    free(s->free);
    db_close(s->wdb);
    hub_destroy(&s->hub);
    free(s->path);
    free(s);
    return rc;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    store_hub_close(s);
    pthread_mutex_lock(&s->mu);
    s->is_stopping = true;
    pthread_cond_signal(&s->has_jobs);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    store_durable_stop(s); /* acknowledges what the writer handed over last */
    store_checkpointer_stop(s);
    sweeper_stop(s);
    /* Every reader must have been returned by now. */
    for (int i = 0; i < s->n_free; i++) {
        reader_end(s->free[i]);
        db_close(s->free[i]->db);
    }
    free(s->readers);
    free(s->free);
    db_exec(s->wdb, "PRAGMA wal_checkpoint(TRUNCATE)", NULL);
    db_close(s->wdb);
    hub_destroy(&s->hub);
    free(s->regions);
    free(s->wcache);
    free(s->is_region_known);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->has_jobs);
    pthread_mutex_destroy(&s->rmu);
    pthread_cond_destroy(&s->rfree);
    pthread_cond_destroy(&s->sweep_stop);
    pthread_mutex_destroy(&s->dmu);
    pthread_cond_destroy(&s->d_has);
    pthread_cond_destroy(&s->d_synced);
    free(s->path);
    free(s);
}

int store_events_since(struct db *r, int64_t after_id, int limit,
                       int (*fn)(void *ctx, const struct event_row *ev), void *ctx,
                       int64_t *out_last)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT id, type, request_id, customer_id, order_id, store_id, "
                                  "actor, data, at_ms FROM events WHERE id > $1 ORDER BY id "
                                  "LIMIT $2");
    db_bind_i64(st, 1, after_id);
    db_bind_i64(st, 2, limit);
    int rc = 0, step;
    *out_last = after_id;
    while ((step = db_step(r, st, NULL)) == 1) {
        struct event_row ev = {
            .id = db_col_i64(st, 0),
            .type = db_col_text(st, 1),
            .request_id = db_col_i64(st, 2),
            .customer_id = db_col_i64(st, 3),
            .order_id = db_col_i64(st, 4),
            .store_id = db_col_i64(st, 5),
            .actor = db_col_text(st, 6),
            .data = db_col_text(st, 7),
            .at_ms = db_col_i64(st, 8),
        };
        if ((rc = fn(ctx, &ev)) != 0)
            break;
        *out_last = ev.id;
    }
    sqlite3_reset(st);
    return step < 0 ? step : rc;
}

int64_t store_consumer_position(struct db *db, const char *name)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT last_event_id FROM consumers WHERE name = $1");
    db_bind_text(st, 1, name, -1);
    int64_t v = db_step(db, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    return v;
}

bool store_consumer_known(struct db *db, const char *name)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM consumers WHERE name = $1");
    db_bind_text(st, 1, name, -1);
    bool known = db_step(db, st, NULL) == 1;
    sqlite3_reset(st);
    return known;
}

int store_consumer_save(struct store_tx *tx, const char *name, int64_t last_event_id,
                        struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(tx->db, "INSERT INTO consumers (name, last_event_id, updated_at_ms) "
                                       "VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET "
                                       "last_event_id = excluded.last_event_id, "
                                       "updated_at_ms = excluded.updated_at_ms");
    db_bind_text(st, 1, name, -1);
    db_bind_i64(st, 2, last_event_id);
    db_bind_i64(st, 3, tx_now_ms());
    return db_run(tx->db, st, err);
}

static int job_analyze(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    return db_exec(tx->db, "ANALYZE", err);
}

static void analyze_done(struct store_async *w)
{
    if (w->result != 0)
        log_warn("store analyze failed msg=\"%s\"", w->err->message);
    free(w->err);
    free(w);
}

void store_analyze_later(struct store *s)
{
    struct store_async *w = xcalloc(1, sizeof *w);
    *w = (struct store_async){.fn = job_analyze, .err = xcalloc(1, sizeof(struct err_info)),
                              .done = analyze_done};
    if (store_write_async(s, w) != 0) {
        free(w->err);
        free(w);
    }
}

int store_analyze(struct store *s, struct err_info *err)
{
    uint64_t t0 = clock_mono_ns();
    int rc = store_write(s, job_analyze, NULL, err);
    log_debug("store analyze ms=%.1f rc=%d", (double)(clock_mono_ns() - t0) / 1e6, rc);
    return rc;
}

json_t *store_consumers_lag(struct db *r, int64_t last_event_id)
{
    json_t *o = json_object();
    sqlite3_stmt *st = db_stmt(r, "SELECT name, last_event_id FROM consumers ORDER BY name");
    while (db_step(r, st, NULL) == 1) {
        const char *name = db_col_text(st, 0);
        if (strstr(name, "purchases") != NULL)
            continue;
        int64_t lag = last_event_id - db_col_i64(st, 1);
        json_object_set_new(o, name, json_integer(lag > 0 ? lag : 0));
    }
    sqlite3_reset(st);
    /* Not a consumer of events, but a worker that catches up all the same.
     * Counted up to a bound: a health check must not read a large backlog. */
    st = db_stmt(r, "SELECT COUNT(*) FROM (SELECT 1 FROM search_backlog LIMIT 10000)");
    if (db_step(r, st, NULL) == 1)
        json_object_set_new(o, "search_backlog", json_integer(db_col_i64(st, 0)));
    sqlite3_reset(st);
    return o;
}
