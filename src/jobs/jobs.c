/*
 * jobs.c - the scheduler: one thread runs the periodic jobs when they are
 * due and sleeps until the earliest next due time, or until poked or
 * stopped; each slow job (network I/O) has a thread of its own.
 */
#include "jobs/jobs.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <time.h>

#define MAX_JOBS 64

static pthread_t threads[MAX_JOBS + 1];
static int n_threads;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static bool is_running, is_stopping;
static uint64_t poke_generation; /* bumped by jobs_poke: each thread runs what is due */
static struct app *the_app;

/*
 * One scheduler loop.  slow < 0: every job that is not slow, on one thread;
 * slow >= 0: only that slow job.  Sleeps until the earliest due time, a poke
 * or the stop.
 */
static void scheduler_loop(int slow)
{
    int64_t due_ms[MAX_JOBS] = {0};
    uint64_t seen_poke = 0;
    pthread_mutex_lock(&mu);
    while (!is_stopping) {
        seen_poke = poke_generation;
        pthread_mutex_unlock(&mu);
        int64_t now = clock_now_ms();
        int64_t next = now + 60000;
        for (int i = 0; i < MAX_JOBS && periodic_jobs[i].name; i++) {
            const struct periodic_job *j = &periodic_jobs[i];
            if (slow >= 0 ? i != slow : j->is_slow)
                continue;
            if (due_ms[i] <= now) {
                int64_t delay = j->tick(the_app, now);
                due_ms[i] = clock_now_ms() + (delay > 0 ? delay : j->interval_ms);
            }
            if (due_ms[i] < next)
                next = due_ms[i];
        }
        int64_t wait_ms = next - clock_now_ms();
        pthread_mutex_lock(&mu);
        if (wait_ms > 0 && !is_stopping && seen_poke == poke_generation) {
            struct timespec ts = clock_deadline(CLOCK_MONOTONIC, wait_ms);
            pthread_cond_timedwait(&cond, &mu, &ts);
        }
    }
    pthread_mutex_unlock(&mu);
}

static void *scheduler_main(void *arg)
{
    int slow = (int)(intptr_t)arg;
    char name[16];
    snprintf(name, sizeof name, slow < 0 ? "otklik-jobs" : "otklik-job%d", slow);
    pthread_setname_np(pthread_self(), name);
    scheduler_loop(slow);
    return NULL;
}

int jobs_start(struct app *app)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cond, &attr);
    pthread_condattr_destroy(&attr);
    the_app = app;
    is_stopping = false;
    n_threads = 0;
    is_running = true;
    for (int i = -1; i < MAX_JOBS && (i < 0 || periodic_jobs[i].name); i++) {
        if (i >= 0 && !periodic_jobs[i].is_slow)
            continue;
        if (pthread_create(&threads[n_threads], NULL, scheduler_main, (void *)(intptr_t)i) != 0) {
            jobs_stop();
            return ERR_INTERNAL;
        }
        n_threads++;
    }
    return 0;
}

void jobs_poke(void)
{
    pthread_mutex_lock(&mu);
    poke_generation++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

void jobs_stop(void)
{
    if (!is_running)
        return;
    pthread_mutex_lock(&mu);
    is_stopping = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    n_threads = 0;
    pthread_cond_destroy(&cond);
    is_running = false;
}
