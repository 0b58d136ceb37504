/*
 * jobs_table.c - the one table of periodic jobs (see jobs.h).
 */
#include "jobs/jobs.h"

#include "channels/channels.h"
#include "jobs/maintenance.h"
#include "jobs/retrain.h"
#include "rules/rules.h"

const struct periodic_job periodic_jobs[] = {
    /* name, default interval (ms), tick function */
    {"channels.inbox", 1000, channels_inbox_tick},
    {"channels.outbox", 30000, channels_outbox_tick},
    {"channels.imap", 15000, channels_imap_tick},
    {"classify.retrain", RETRAIN_INTERVAL_MS, retrain_tick},
    {"store.analyze", MAINTENANCE_ANALYZE_INTERVAL_MS, maintenance_analyze_tick},
    {"rules.timers", 1000, rules_timers_tick},
    {"rules.webhooks", 5000, rules_webhooks_tick},
    {0, 0, 0},
};
