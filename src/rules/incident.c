/*
 * incident.c - the incident machine's clock for orders: every open order
 * with a promised time has one pending "order_late" timer at that time.
 * When it fires and the order is still not delivered, an order.late event
 * is written; the rules take it from there (a proactive message to the
 * customer before they ask, a task for the team).  A new promise moves the
 * timer, a finished order cancels it.  What the machine does on "item not
 * found" and "delivered" is plain rules (see the seeded rules).
 */
#include "rules/rules_int.h"

#include "store/model.h"

#include <stdio.h>
#include <string.h>

static int cancel_order_timers(struct rules_job *j, int64_t order_id, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    sqlite3_stmt *st = db_stmt(db, "DELETE FROM timers WHERE order_id = $1 AND kind = 'order_late'");
    db_bind_i64(st, 1, order_id);
    return db_run(db, st, err);
}

struct order_row {
    char status[32], ref[128];
    int64_t promised_at_ms, customer_id, store_id;
};

static bool order_load(struct db *db, int64_t id, struct order_row *o)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT status, external_id, COALESCE(promised_at_ms, 0), "
                                   "customer_id, COALESCE(store_id, 0) FROM orders WHERE id = $1");
    db_bind_i64(st, 1, id);
    bool found = db_step(db, st, NULL) == 1;
    if (found) {
        snprintf(o->status, sizeof o->status, "%s", db_col_text(st, 0));
        snprintf(o->ref, sizeof o->ref, "%s", db_col_text(st, 1));
        o->promised_at_ms = db_col_i64(st, 2);
        o->customer_id = db_col_i64(st, 3);
        o->store_id = db_col_i64(st, 4);
    }
    sqlite3_reset(st);
    return found;
}

bool incident_wants(const struct event_row *ev)
{
    return ev->order_id != 0 && strcmp(ev->type, "order.status_changed") == 0;
}

int incident_on_event(struct rules_job *j, const struct event_row *ev, struct err_info *err)
{
    if (!incident_wants(ev))
        return 0;
    struct db *db = store_tx_db(j->tx);
    struct order_row o;
    if (!order_load(db, ev->order_id, &o))
        return 0;
    int rc = cancel_order_timers(j, ev->order_id, err);
    if (rc == 0 && model_order_status_is_open(o.status) && o.promised_at_ms > 0)
        rc = job_timer_add(j, "order_late", 0, ev->order_id, "", o.promised_at_ms, err);
    return rc;
}

int incident_timer_fire(struct rules_job *j, int64_t order_id, int64_t due_at_ms,
                        struct err_info *err)
{
    struct order_row o;
    if (!order_load(store_tx_db(j->tx), order_id, &o) || !model_order_status_is_open(o.status) ||
        o.promised_at_ms != due_at_ms)
        return 0;
    return job_event(j, "order.late", 0, o.customer_id, order_id, o.store_id, "incident",
                     json_pack("{s:s, s:s, s:I, s:I}", "order", o.ref, "status", o.status,
                               "promised_at_ms", (json_int_t)o.promised_at_ms, "late_s",
                               (json_int_t)((j->now_ms - o.promised_at_ms) / 1000)),
                     err);
}
