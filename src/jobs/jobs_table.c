/*
 * jobs_table.c - the one table of periodic jobs (see jobs.h).
 */
#include "jobs/jobs.h"

#include "analytics/analytics.h"

#include "channels/channels.h"
#include "jobs/maintenance.h"
#include "jobs/retrain.h"
#include "rules/rules.h"

const struct periodic_job periodic_jobs[] = {
    /* name, default interval (ms), tick function, is_slow (may take long: own thread) */
    {"channels.inbox", 1000, channels_inbox_tick, false},
    {"channels.outbox", 30000, channels_outbox_tick, true},
    {"channels.imap", 15000, channels_imap_tick, true},
    {"analytics.detect", 3600000, analytics_tick_detect, true},
    {"analytics.enps", 21600000, analytics_tick_enps, false},
    {"classify.retrain", RETRAIN_INTERVAL_MS, retrain_tick, true},
    {"store.analyze", MAINTENANCE_ANALYZE_INTERVAL_MS, maintenance_analyze_tick, false},
    {"rules.timers", 1000, rules_timers_tick, false},
    {"rules.webhooks", 5000, rules_webhooks_tick, true},
    {0, 0, 0, false},
};
