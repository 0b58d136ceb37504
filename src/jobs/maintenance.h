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

/* End the snapshots idle read connections keep past their time. */
int64_t maintenance_readers_tick(struct app *app, int64_t now_ms);

#define MAINTENANCE_READERS_INTERVAL_MS 100

#endif
