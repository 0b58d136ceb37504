/*
 * maintenance.c - periodic upkeep of the store: planner statistics.
 */
#include "jobs/maintenance.h"

#include "api/api.h"
#include "core/log.h"

int64_t maintenance_analyze_tick(struct app *app, int64_t now_ms)
{
    (void)now_ms;
    struct err_info err = {0};
    if (store_analyze(app->store, &err) != 0)
        log_warn("store analyze failed: %s", err.message);
    return 0;
}
