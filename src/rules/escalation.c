/*
 * escalation.c - the escalation matrix.  Per kind × topic × priority (the
 * first matching row by position), a list of levels from the operator up
 * to the executive with the minutes each level has before the next one is
 * told.  A request's climb is one row of `escalations` and one pending
 * timer; each step is an escalation.raised event and notifications for the
 * right person of the store or region.  Confirming or resolving stops the
 * climb.  Store signals from QR posters start at once at the matrix's
 * first level (the store director) and climb faster when the same store
 * keeps sending the same problem.
 */
#include "rules/rules_int.h"

#include "core/str.h"
#include "store/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEVELS 8
#define REPEAT_WINDOW_MS (60 * 60 * 1000)

struct matrix {
    int64_t id;
    int n;
    int rank[MAX_LEVELS];      /* index in rules_levels */
    int64_t minutes[MAX_LEVELS];
};

static bool matrix_for(struct db *db, const struct req_info *ri, struct matrix *m)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT id, levels FROM escalation_matrix WHERE "
                                   "(kind IS NULL OR kind = $1) AND (topic IS NULL OR topic = $2)"
                                   " AND (priority IS NULL OR priority = $3) "
                                   "ORDER BY position, id LIMIT 1");
    db_bind_text(st, 1, ri->kind, -1);
    db_bind_text(st, 2, ri->topic, -1);
    db_bind_text(st, 3, ri->priority, -1);
    memset(m, 0, sizeof *m);
    if (db_step(db, st, NULL) == 1) {
        m->id = db_col_i64(st, 0);
        json_t *levels = json_loads(db_col_text(st, 1), 0, NULL);
        for (size_t i = 0; i < json_array_size(levels) && m->n < MAX_LEVELS; i++) {
            json_t *l = json_array_get(levels, i);
            int rank = model_find(rules_levels, json_string_value(json_object_get(l, "level")));
            if (rank < 0)
                continue;
            m->rank[m->n] = rank;
            m->minutes[m->n] = json_integer_value(json_object_get(l, "minutes"));
            m->n++;
        }
        json_decref(levels);
    }
    sqlite3_reset(st);
    return m->n > 0;
}

struct esc_row {
    bool exists, is_active;
    int level_index, speedup;
    int64_t level_at_ms;
};

static void esc_load(struct db *db, int64_t request_id, struct esc_row *e)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT level_index, speedup, level_at_ms, "
                                   "stopped_at_ms IS NULL AND confirmed_at_ms IS NULL "
                                   "FROM escalations WHERE request_id = $1");
    db_bind_i64(st, 1, request_id);
    memset(e, 0, sizeof *e);
    e->speedup = 1;
    if (db_step(db, st, NULL) == 1) {
        e->exists = true;
        e->level_index = (int)db_col_i64(st, 0);
        e->speedup = (int)db_col_i64(st, 1);
        e->level_at_ms = db_col_i64(st, 2);
        e->is_active = db_col_i64(st, 3) != 0;
    }
    sqlite3_reset(st);
    if (e->speedup < 1)
        e->speedup = 1;
}

/* Move request to level index target of m (the caller checked it is a step up). */
static int raise_to(struct rules_job *j, const struct req_info *ri, const struct matrix *m,
                    int target, int speedup, const char *reason, const char *actor,
                    struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    const char *level = rules_levels[m->rank[target]];
    int64_t next_at = 0;
    if (target + 1 < m->n && m->minutes[target] > 0)
        next_at = j->now_ms + m->minutes[target] * 60000 / speedup;
    sqlite3_stmt *st = db_stmt(
        db, "INSERT INTO escalations (request_id, matrix_id, level_index, level, speedup, "
            "started_at_ms, level_at_ms, next_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) "
            "ON CONFLICT (request_id) DO UPDATE SET matrix_id = $2, level_index = $3, level = $4,"
            " speedup = $5, level_at_ms = $6, next_at_ms = $7, confirmed_at_ms = NULL, "
            "confirmed_by = NULL, stopped_at_ms = NULL, stop_reason = NULL");
    db_bind_i64(st, 1, ri->id);
    db_bind_i64(st, 2, m->id);
    db_bind_i64(st, 3, target);
    db_bind_text(st, 4, level, -1);
    db_bind_i64(st, 5, speedup);
    db_bind_i64(st, 6, j->now_ms);
    db_bind_i64_or_null(st, 7, next_at);
    int rc = db_run(db, st, err);
    if (rc == 0)
        rc = job_timer_cancel(j, ri->id, "escalate", NULL, err);
    if (rc == 0 && next_at)
        rc = job_timer_add(j, "escalate", ri->id, 0, arena_printf(j->a, "%d", target), next_at,
                           err);
    json_t *d = json_pack("{s:s, s:i, s:s, s:I, s:i}", "level", level, "level_index", target,
                          "reason", reason, "matrix_id", (json_int_t)m->id, "speedup", speedup);
    if (next_at) {
        json_object_set_new(d, "next_level", json_string(rules_levels[m->rank[target + 1]]));
        json_object_set_new(d, "next_at_ms", json_integer(next_at));
    }
    if (rc == 0)
        rc = job_event(j, "escalation.raised", ri->id, ri->customer_id, 0, ri->store_id, actor, d,
                       err);
    else
        json_decref(d);
    const char *title = arena_printf(j->a, "Эскалация (%s): обращение %lld, %s", level,
                                     (long long)ri->id, reason);
    bool to_assignee = strcmp(level, "operator") == 0 && ri->assignee_id;
    if (rc == 0)
        rc = notify_role(j, to_assignee ? NULL : level, to_assignee ? ri->assignee_id : 0, ri->id,
                         ri->store_id, "escalation", title, actor, err);
    return rc;
}

int esc_raise(struct rules_job *j, int64_t request_id, const char *level, const char *reason,
              const char *actor, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    struct req_info ri;
    struct matrix m;
    if (req_info_load(db, request_id, &ri) != 0)
        return err_set(err, ERR_NOTFOUND, "request", "no request %lld", (long long)request_id);
    if (!model_status_is_open(ri.status) || !matrix_for(db, &ri, &m))
        return 0;
    struct esc_row e;
    esc_load(db, request_id, &e);
    int target;
    if (level != NULL) {
        int rank = model_find(rules_levels, level);
        for (target = 0; target < m.n - 1 && m.rank[target] < rank; target++)
            ;
    } else {
        target = e.exists && e.is_active ? e.level_index + 1 : 0;
    }
    if (target >= m.n || (e.exists && e.is_active && target <= e.level_index))
        return 0;
    return raise_to(j, &ri, &m, target, e.speedup, reason, actor, err);
}

int esc_timer_fire(struct rules_job *j, int64_t request_id, const char *ref, struct err_info *err)
{
    struct esc_row e;
    esc_load(store_tx_db(j->tx), request_id, &e);
    int64_t idx = 0;
    if (!e.exists || !e.is_active || str_to_i64(str_from(ref), 0, MAX_LEVELS, &idx) != 0 ||
        idx != e.level_index)
        return 0;
    return esc_raise(j, request_id, NULL, "не подтверждено вовремя", "escalation", err);
}

/* Stop the climb (resolved or confirmed); no-op without an active one. */
int esc_stop(struct rules_job *j, const struct req_info *ri, const char *why, const char *actor,
             struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    struct esc_row e;
    esc_load(db, ri->id, &e);
    if (!e.exists || !e.is_active)
        return 0;
    bool is_confirm = strcmp(why, "confirmed") == 0;
    sqlite3_stmt *st =
        is_confirm ? db_stmt(db, "UPDATE escalations SET confirmed_at_ms = $2, confirmed_by = $3, "
                                 "next_at_ms = NULL WHERE request_id = $1")
                   : db_stmt(db, "UPDATE escalations SET stopped_at_ms = $2, stop_reason = $3, "
                                 "next_at_ms = NULL WHERE request_id = $1");
    db_bind_i64(st, 1, ri->id);
    db_bind_i64(st, 2, j->now_ms);
    db_bind_text(st, 3, is_confirm ? actor : why, -1);
    int rc = db_run(db, st, err);
    if (rc == 0)
        rc = job_timer_cancel(j, ri->id, "escalate", NULL, err);
    if (rc == 0)
        rc = job_event(j, is_confirm ? "escalation.confirmed" : "escalation.stopped", ri->id,
                       ri->customer_id, 0, ri->store_id, actor,
                       json_pack("{s:s, s:i}", "reason", why, "level_index", e.level_index), err);
    return rc;
}

/* A new signal from a store: earlier open signals of the same problem climb faster too. */
static int repeated_signals(struct rules_job *j, const struct req_info *ri, int *out_speedup,
                            struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    int64_t ids[32];
    int n = 0;
    sqlite3_stmt *st = db_stmt(db, "SELECT id FROM requests WHERE store_id = $1 AND kind = 'signal'"
                                   " AND COALESCE(topic, '') = $2 AND id <> $3 "
                                   "AND status <> 'solved' AND status <> 'closed' "
                                   "AND created_at_ms >= $4"
                                   " ORDER BY id DESC LIMIT 32");
    db_bind_i64(st, 1, ri->store_id);
    db_bind_text(st, 2, ri->topic, -1);
    db_bind_i64(st, 3, ri->id);
    db_bind_i64(st, 4, j->now_ms - REPEAT_WINDOW_MS);
    while (n < 32 && db_step(db, st, NULL) == 1)
        ids[n++] = db_col_i64(st, 0);
    sqlite3_reset(st);
    *out_speedup = 1 + n;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        struct esc_row e;
        struct req_info other;
        struct matrix m;
        esc_load(db, ids[i], &e);
        if (!e.exists || !e.is_active || e.speedup >= 1 + n ||
            req_info_load(db, ids[i], &other) != 0 || !matrix_for(db, &other, &m) ||
            e.level_index + 1 >= m.n || m.minutes[e.level_index] <= 0)
            continue;
        int64_t next_at = e.level_at_ms + m.minutes[e.level_index] * 60000 / (1 + n);
        if (next_at < j->now_ms)
            next_at = j->now_ms;
        st = db_stmt(db, "UPDATE escalations SET speedup = $2, next_at_ms = $3 "
                         "WHERE request_id = $1");
        db_bind_i64(st, 1, ids[i]);
        db_bind_i64(st, 2, 1 + n);
        db_bind_i64(st, 3, next_at);
        rc = db_run(db, st, err);
        if (rc == 0)
            rc = job_timer_cancel(j, ids[i], "escalate", NULL, err);
        if (rc == 0)
            rc = job_timer_add(j, "escalate", ids[i], 0,
                               arena_printf(j->a, "%d", e.level_index), next_at, err);
        if (rc == 0)
            rc = job_event(j, "escalation.accelerated", ids[i], other.customer_id, 0,
                           other.store_id, "escalation",
                           json_pack("{s:i, s:I, s:I}", "signals", 1 + n, "next_at_ms",
                                     (json_int_t)next_at, "by_request_id", (json_int_t)ri->id),
                           err);
    }
    return rc;
}

bool esc_wants(const struct event_row *ev)
{
    return ev->request_id != 0 && (strcmp(ev->type, "request.created") == 0 ||
                                   strcmp(ev->type, "request.status_changed") == 0);
}

int esc_on_event(struct rules_job *j, const struct event_row *ev, struct err_info *err)
{
    if (!esc_wants(ev))
        return 0;
    struct db *db = store_tx_db(j->tx);
    struct req_info ri;
    if (job_req_info(j, ev->request_id, &ri) != 0)
        return 0;
    if (strcmp(ev->type, "request.created") == 0) {
        bool is_signal = strcmp(ri.kind, "signal") == 0 || strcmp(ri.channel, "qr") == 0;
        if (!is_signal || ri.store_id == 0 || ev->at_ms - ri.created_at_ms > REPEAT_WINDOW_MS ||
            !model_status_is_open(ri.status))
            return 0;
        int speedup = 1;
        struct matrix m;
        int rc = repeated_signals(j, &ri, &speedup, err);
        if (rc != 0 || !matrix_for(db, &ri, &m))
            return rc;
        const char *reason = speedup > 1 ? arena_printf(j->a, "сигнал из магазина (%d за час)",
                                                        speedup)
                                         : "сигнал из магазина";
        return raise_to(j, &ri, &m, 0, speedup, reason, "escalation", err);
    }
    if (strcmp(ev->type, "request.status_changed") == 0 && !model_status_is_open(ri.status))
        return esc_stop(j, &ri, "resolved", "escalation", err);
    return 0;
}
