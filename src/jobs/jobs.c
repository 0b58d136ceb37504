/*
 * jobs.c - the scheduler: one thread runs each periodic job when it is due
 * and sleeps until the earliest next due time, or until poked or stopped.
 */
#include "jobs/jobs.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#define MAX_JOBS 64

static pthread_t thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static bool is_running, is_stopping, is_poked;
static struct app *the_app;

static void *scheduler_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "otklik-jobs");
    int64_t due_ms[MAX_JOBS] = {0};
    pthread_mutex_lock(&mu);
    while (!is_stopping) {
        is_poked = false;
        pthread_mutex_unlock(&mu);
        int64_t now = clock_now_ms();
        int64_t next = now + 60000;
        for (int i = 0; periodic_jobs[i].name && i < MAX_JOBS; i++) {
            const struct periodic_job *j = &periodic_jobs[i];
            if (due_ms[i] <= now) {
                int64_t delay = j->tick(the_app, now);
                due_ms[i] = clock_now_ms() + (delay > 0 ? delay : j->interval_ms);
            }
            if (due_ms[i] < next)
                next = due_ms[i];
        }
        int64_t wait_ms = next - clock_now_ms();
        pthread_mutex_lock(&mu);
        if (wait_ms > 0 && !is_stopping && !is_poked) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&cond, &mu, &ts);
        }
    }
    pthread_mutex_unlock(&mu);
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
    if (pthread_create(&thread, NULL, scheduler_main, NULL) != 0)
        return ERR_INTERNAL;
    is_running = true;
    return 0;
}

void jobs_poke(void)
{
    pthread_mutex_lock(&mu);
    is_poked = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&mu);
}

void jobs_stop(void)
{
    if (!is_running)
        return;
    pthread_mutex_lock(&mu);
    is_stopping = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    pthread_cond_destroy(&cond);
    is_running = false;
}
