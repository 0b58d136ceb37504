/*
 * jobs_table.c - the one table of periodic jobs (see jobs.h).
 */
#include "jobs/jobs.h"

const struct periodic_job periodic_jobs[] = {
    /* name, default interval (ms), tick function */
    {0, 0, 0},
};
