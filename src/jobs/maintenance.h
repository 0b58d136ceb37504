/*
 * maintenance.h - periodic upkeep of the store (see jobs_table.c).
 */
#ifndef OTKLIK_MAINTENANCE_H
#define OTKLIK_MAINTENANCE_H

#include <stdint.h>

struct app;

/* Refresh the planner's statistics; runs at start (in the background) and daily. */
int64_t maintenance_analyze_tick(struct app *app, int64_t now_ms);

#define MAINTENANCE_ANALYZE_INTERVAL_MS (24LL * 3600 * 1000)

#endif
