/*
 * analytics.c - lifecycle of the analytics part: the survey secret, and
 * one worker thread that keeps the rollups and the survey invitations up
 * with the event log, paced (ANALYTICS_PACE_MS), and waiting while a bulk
 * import runs (store_bulk_running; a step every ANALYTICS_BULK_MAX_WAIT_MS
 * even then, so that imports one after another do not hold the dashboards
 * and the survey invitations back for long).
 */
#include "analytics/surveys_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/sched.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#define REBUILD_BEHIND 200000 /* events behind at start that make a rebuild cheaper */
#define ANALYTICS_BULK_WAIT_MS 50 /* how often a worker waiting out a bulk import looks again */
#define ANALYTICS_BULK_MAX_WAIT_MS 10000 /* then it takes one step: imports one after another */

struct analytics *analytics_of(struct app *app)
{
    return app ? app->analytics : NULL;
}

/* A database with a long history and no rollups yet (an upgrade, a bulk load) is
 * rebuilt in one pass instead of being replayed event by event. */
static void catch_up(struct analytics *an)
{
    struct store *s = an->app->store;
    struct db *r = store_reader(s);
    int64_t pos = store_consumer_position(r, "analytics.rollup");
    sqlite3_stmt *st = db_stmt(r, "SELECT coalesce(max(id), 0) FROM events");
    int64_t last = db_step(r, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    store_reader_done(s, r);
    if (last - pos < REBUILD_BEHIND)
        return;
    struct err_info err = {0};
    log_info("analytics rollups behind=%lld: rebuilding", (long long)(last - pos));
    pthread_mutex_lock(&an->mu);
    if (analytics_rebuild(s, NULL, &err) != 0)
        log_warn("analytics rebuild failed msg=\"%s\"", err.message);
    pthread_mutex_unlock(&an->mu);
}

static void *worker_main(void *arg)
{
    struct analytics *an = arg;
    struct app *app = an->app;
    pthread_setname_np(pthread_self(), "otklik-rollups");
    sched_background_thread();
    catch_up(an);
    int64_t waited_ms = 0; /* waiting out imports, in a row */
    for (;;) {
        pthread_mutex_lock(&an->stop_mu);
        bool stop = an->is_stopping;
        pthread_mutex_unlock(&an->stop_mu);
        if (stop)
            break;
        /* An import has the writer: catch up after it, or after a while of imports. */
        if (store_bulk_running(app->store) && waited_ms < ANALYTICS_BULK_MAX_WAIT_MS) {
            struct timespec until = clock_deadline(CLOCK_REALTIME, ANALYTICS_BULK_WAIT_MS);
            pthread_mutex_lock(&an->stop_mu);
            if (!an->is_stopping)
                pthread_cond_timedwait(&an->stop_cond, &an->stop_mu, &until);
            pthread_mutex_unlock(&an->stop_mu);
            waited_ms += ANALYTICS_BULK_WAIT_MS;
            continue;
        }
        waited_ms = 0;
        int64_t n_roll = 0;
        struct err_info err = {0};
        uint64_t began_ns = clock_mono_ns();
        pthread_mutex_lock(&an->mu);
        if (analytics_rollup_step(app->store, ANALYTICS_STEP_BATCHES, &n_roll, &err) != 0)
            log_warn("analytics rollup failed msg=\"%s\"", err.message);
        int64_t pace_ms = analytics_pace_ms(n_roll);
        bool is_behind = n_roll >= ANALYTICS_STEP_BATCHES * ANALYTICS_ROLLUP_BATCH;
        for (int i = 0; i < ANALYTICS_STEP_BATCHES; i++) {
            int64_t n = 0;
            err_clear(&err);
            if (analytics_surveys_step(app, &n, &err) != 0) {
                log_warn("analytics surveys failed msg=\"%s\"", err.message);
                break;
            }
            if (n < ANALYTICS_SURVEY_BATCH)
                break;
            is_behind = is_behind || i == ANALYTICS_STEP_BATCHES - 1;
        }
        pthread_mutex_unlock(&an->mu);
        if (is_behind)
            continue;
        /* Wait out the rest of the step's pace, counted from its start (a real
         * wait; the fake clock is for logic only). */
        int64_t rest_ms = pace_ms - (int64_t)((clock_mono_ns() - began_ns) / 1000000);
        struct timespec until = clock_deadline(CLOCK_REALTIME, rest_ms > 0 ? rest_ms : 0);
        pthread_mutex_lock(&an->stop_mu);
        while (!an->is_stopping &&
               pthread_cond_timedwait(&an->stop_cond, &an->stop_mu, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&an->stop_mu);
    }
    return NULL;
}

int analytics_start(struct app *app, struct err_info *err)
{
    struct analytics *an = xcalloc(1, sizeof *an);
    an->app = app;
    pthread_mutex_init(&an->mu, NULL);
    pthread_mutex_init(&an->stop_mu, NULL);
    pthread_cond_init(&an->stop_cond, NULL);
    if (app->cfg != NULL)
        config_public_url(app->cfg, an->public_url, sizeof an->public_url);
    int rc = survey_secret_load(app->store, an->secret, err);
    if (rc != 0) {
        free(an);
        return rc;
    }
    app->analytics = an;
    if (pthread_create(&an->thread, NULL, worker_main, an) != 0) {
        app->analytics = NULL;
        free(an);
        return err_set(err, ERR_INTERNAL, "", "cannot start the analytics worker");
    }
    an->is_running = true;
    return 0;
}

void analytics_stop(struct app *app)
{
    struct analytics *an = app->analytics;
    if (an == NULL)
        return;
    pthread_mutex_lock(&an->stop_mu);
    an->is_stopping = true;
    pthread_cond_broadcast(&an->stop_cond);
    pthread_mutex_unlock(&an->stop_mu);
    if (an->is_running)
        pthread_join(an->thread, NULL);
    pthread_mutex_destroy(&an->mu);
    pthread_mutex_destroy(&an->stop_mu);
    pthread_cond_destroy(&an->stop_cond);
    sodium_memzero(an->secret, sizeof an->secret);
    free(an);
    app->analytics = NULL;
}
