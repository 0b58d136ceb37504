/*
 * jobs.h - periodic jobs: the one table of work that runs on a schedule
 * (SLA timers, outbox delivery, retraining, survey schedules, rollups),
 * run by one scheduler thread of the server.  Adding a job is one line in
 * jobs_table.c.  Time comes from the injectable clock.
 */
#ifndef OTKLIK_JOBS_H
#define OTKLIK_JOBS_H

#include <stdbool.h>
#include <stdint.h>

struct app;

struct periodic_job {
    const char *name;
    int64_t interval_ms; /* default delay between runs */
    /* One run; returns the delay until the next run in ms (0: interval_ms). */
    int64_t (*tick)(struct app *app, int64_t now_ms);
    /* May take long (waits on a mailbox or a platform's API, trains a model):
     * runs on a thread of its own so that it never holds up the timers of the
     * others (SLA clocks, escalations). */
    bool is_slow;
};

/* The table, terminated by an entry with name NULL (jobs_table.c). */
extern const struct periodic_job periodic_jobs[];

/* Start the scheduler thread; 0 or ERR_INTERNAL. */
int jobs_start(struct app *app);

/* Wake the scheduler to run due jobs now (after a write that creates work). */
void jobs_poke(void);

/* Stop it and wait for a running job to finish. */
void jobs_stop(void);

#endif
