/*
 * rules.c - lifecycle of the rules part: start (QR key, rule snapshot, SLA
 * policies, pending timers, window counts, the engine thread), stop, the
 * snapshot swap, and the periodic job that fires due timers.
 */
#include "rules/rules_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "jobs/jobs.h"

#include <stdlib.h>
#include <string.h>

#define TIMER_BATCH 512
#define LATE_MS 30000
#define QR_PER_MINUTE 10

struct cal_cache *cal_cache_new(void);
void *rules_engine_main(void *arg);
int rules_engine_init(struct rules *R, struct err_info *err);
int rules_engine_rebuild_windows(struct rules *R);
void rules_engine_free(struct rules *R);

struct rules *rules_of(struct app *app)
{
    return app ? app->rules : NULL;
}

struct rule_set *rules_acquire(struct rules *R)
{
    pthread_mutex_lock(&R->mu);
    struct rule_set *set = R->set;
    atomic_fetch_add(&set->refs, 1);
    pthread_mutex_unlock(&R->mu);
    return set;
}

int rules_reload(struct rules *R, struct err_info *err)
{
    struct db *r = store_reader(R->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, name, position, version, definition FROM rules "
                                  "WHERE is_enabled = 1 AND is_deleted = 0");
    struct rule **rules = NULL;
    size_t n = 0, cap = 0;
    int step;
    while ((step = db_step(r, st, err)) == 1) {
        json_t *def = json_loads(db_col_text(st, 4), 0, NULL);
        struct rule *rule = NULL;
        struct err_info cerr = {0};
        if (rule_compile(def, r, &rule, &cerr) != 0) {
            /* Saved rules were valid; a store or user removed since makes one invalid. */
            log_warn("rules skip=%lld field=%s msg=\"%s\"", (long long)db_col_i64(st, 0),
                     cerr.field, cerr.message);
        } else {
            rule->id = db_col_i64(st, 0);
            rule->name = xstrdup(db_col_text(st, 1));
            rule->position = (int)db_col_i64(st, 2);
            rule->version = (int)db_col_i64(st, 3);
            xgrow((void **)&rules, &cap, n + 1, sizeof *rules);
            rules[n++] = rule;
        }
        json_decref(def);
    }
    sqlite3_reset(st);
    store_reader_done(R->store, r);
    pthread_mutex_lock(&R->mu);
    struct rule_set *set = rule_set_new(rules, (int)n, ++R->generation);
    struct rule_set *old = R->set;
    R->set = set;
    pthread_mutex_unlock(&R->mu);
    rule_set_release(old);
    return step < 0 ? step : 0;
}

static int start(struct app *app, bool with_thread, struct err_info *err)
{
    struct rules *R = xcalloc(1, sizeof *R);
    R->app = app;
    R->store = app->store;
    pthread_mutex_init(&R->mu, NULL);
    theap_init(&R->heap);
    R->cals = cal_cache_new();
    R->limiter = ratelimit_new(QR_PER_MINUTE);
    R->poster_limiter = ratelimit_new(QR_PER_MINUTE);
    R->poke_jobs = with_thread;
    app->rules = R;
    uint64_t t0 = clock_mono_ns();
    int rc = qr_key_load(app->store, R->qr_key, err);
    if (rc == 0)
        rc = rules_reload(R, err);
    if (rc == 0)
        rc = sla_reload(R, err);
    if (rc == 0) {
        struct db *r = store_reader(app->store);
        rc = theap_load(&R->heap, r, err);
        store_reader_done(app->store, r);
    }
    if (rc == 0)
        rc = rules_engine_init(R, err);
    if (rc == 0)
        rc = rules_engine_rebuild_windows(R);
    if (rc == 0 && with_thread) {
        if (pthread_create(&R->thread, NULL, rules_engine_main, R) != 0)
            rc = err_set(err, ERR_INTERNAL, "", "cannot start the rules engine thread");
        else
            R->has_thread = true;
    }
    if (rc != 0) {
        rules_stop(app);
        return rc;
    }
    log_debug("rules started rules=%d timers=%zu start_ms=%.1f", R->set->n_rules, R->heap.n,
             (double)(clock_mono_ns() - t0) / 1e6);
    return 0;
}

int rules_start(struct app *app, struct err_info *err)
{
    return start(app, true, err);
}

int rules_start_manual(struct app *app, struct err_info *err)
{
    return start(app, false, err);
}

void rules_stop(struct app *app)
{
    struct rules *R = app->rules;
    if (R == NULL)
        return;
    atomic_store(&R->is_stopping, true);
    if (R->has_thread) {
        /* The hub is closed by the server before the parts stop; the wait ends. */
        store_hub_close(R->store);
        pthread_join(R->thread, NULL);
    }
    rules_engine_free(R);
    rule_set_release(R->set);
    sla_policies_release(R->policies);
    cal_cache_free(R->cals);
    ratelimit_free(R->limiter);
    ratelimit_free(R->poster_limiter);
    theap_free(&R->heap);
    pthread_mutex_destroy(&R->mu);
    free(R);
    app->rules = NULL;
}

size_t rules_timers_pending(struct app *app)
{
    struct rules *R = rules_of(app);
    if (R == NULL)
        return 0;
    pthread_mutex_lock(&R->heap.mu);
    size_t n = R->heap.n;
    pthread_mutex_unlock(&R->heap.mu);
    return n;
}

/* ---- firing timers ---------------------------------------------------------------- */

struct fire_job {
    struct timer_ent *due;
    size_t n;
    struct rules_job j;
};

/* Fire the timer a heap entry (id, due) stands for.  An entry outlives its
 * row when the timer was cancelled or its part rolled back, and row ids are
 * reused: a row due at another time is some later timer, fired by its own
 * entry, not this one. */
static int fire_one(struct rules_job *j, int64_t id, int64_t entry_due_ms, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    sqlite3_stmt *st = db_stmt(db, "SELECT kind, COALESCE(request_id, 0), COALESCE(order_id, 0), "
                                   "ref, due_at_ms FROM timers WHERE id = $1");
    db_bind_i64(st, 1, id);
    if (db_step(db, st, NULL) != 1) {
        sqlite3_reset(st);
        return 0; /* cancelled or fired already: the row is gone */
    }
    char kind[32], ref[64];
    snprintf(kind, sizeof kind, "%s", db_col_text(st, 0));
    int64_t request_id = db_col_i64(st, 1), order_id = db_col_i64(st, 2);
    snprintf(ref, sizeof ref, "%s", db_col_text(st, 3));
    int64_t due = db_col_i64(st, 4);
    sqlite3_reset(st);
    if (due != entry_due_ms)
        return 0;
    st = db_stmt(db, "DELETE FROM timers WHERE id = $1");
    db_bind_i64(st, 1, id);
    int rc = db_run(db, st, err);
    if (rc != 0)
        return rc;
    j->delay_ms = j->now_ms - due;
    j->is_late = j->delay_ms > LATE_MS;
    struct err_info ferr = {0};
    struct tx_mark mark = store_tx_part_begin(j->tx);
    if (strncmp(kind, "sla_", 4) == 0)
        rc = sla_timer_fire(j, kind, request_id, ref, due, &ferr);
    else if (strcmp(kind, "escalate") == 0)
        rc = esc_timer_fire(j, request_id, ref, &ferr);
    else if (strcmp(kind, "order_late") == 0)
        rc = incident_timer_fire(j, order_id, due, &ferr);
    store_tx_part_end(j->tx, mark, rc == 0);
    if (rc != 0)
        log_warn("rules timer=%lld kind=%s msg=\"%s\"", (long long)id, kind, ferr.message);
    j->is_late = false;
    return 0;
}

static int job_fire(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct fire_job *f = arg;
    f->j.tx = tx;
    f->j.n_timers = 0;
    for (size_t i = 0; i < f->n; i++) {
        int rc = fire_one(&f->j, f->due[i].id, f->due[i].due_at_ms, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int64_t rules_timers_tick(struct app *app, int64_t now_ms)
{
    struct rules *R = rules_of(app);
    if (R == NULL)
        return 1000;
    struct timer_ent due[TIMER_BATCH];
    size_t n = theap_pop_due(&R->heap, now_ms, due, TIMER_BATCH);
    if (n > 0) {
        struct arena a;
        arena_init(&a, 0);
        struct fire_job f = {.due = due, .n = n, .j = {.R = R, .a = &a, .now_ms = now_ms}};
        struct err_info err = {0};
        if (store_write_background(R->store, job_fire, &f, &err) != 0) {
            log_error("rules timers code=%s msg=\"%s\"", err_str(err.code), err.message);
            for (size_t i = 0; i < n; i++) /* try again next tick */
                theap_push(&R->heap, due[i].due_at_ms, due[i].id);
        } else {
            for (size_t i = 0; i < f.j.n_timers; i++)
                theap_push(&R->heap, f.j.timers[i].due_at_ms, f.j.timers[i].id);
        }
        free(f.j.timers);
        arena_free(&a);
        if (n == TIMER_BATCH)
            return 1;
    }
    /* A peek a second at most: the scheduler does not rerun a job when poked, so a
     * sooner timer armed meanwhile waits no longer than that. */
    int64_t next = theap_peek(&R->heap);
    if (next == INT64_MAX || next - now_ms > 1000)
        return 1000;
    return next - now_ms < 1 ? 1 : next - now_ms;
}

/* ---- jobs for the API ------------------------------------------------------------- */

struct api_job {
    int (*fn)(struct rules_job *j, void *arg, struct err_info *err);
    void *arg;
    struct rules_job j;
};

static int job_api(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct api_job *a = arg;
    a->j.tx = tx;
    a->j.n_timers = 0;
    return a->fn(&a->j, a->arg, err);
}

int rules_run_job(struct rules *R, struct store *s, struct arena *a,
                  int (*fn)(struct rules_job *j, void *arg, struct err_info *err), void *arg,
                  struct err_info *err)
{
    struct api_job job = {.fn = fn, .arg = arg, .j = {.R = R, .a = a, .now_ms = clock_now_ms()}};
    int rc = store_write(s, job_api, &job, err);
    if (rc == 0 && R != NULL) {
        for (size_t i = 0; i < job.j.n_timers; i++)
            theap_push(&R->heap, job.j.timers[i].due_at_ms, job.j.timers[i].id);
        if (job.j.n_timers && R->poke_jobs)
            jobs_poke();
    }
    free(job.j.timers);
    return rc;
}
