/*
 * sla.c - SLA policies and clocks.  A policy (matched by channel, kind,
 * priority, topic, tier; first match by position wins) gives targets for
 * first response, next response and resolution, a business calendar and
 * whether pending/on_hold stop the clock.  A clock is a row of sla_clocks
 * (start, target, due and warning times) plus its pauses in sla_pauses; due
 * times are recomputed with calendar_add_business_ms whenever a pause ends,
 * and the warning and breach moments are persisted timers.
 */
#include "rules/rules_int.h"

#include "rules/calendar.h"
#include "store/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_MS (60 * 60 * 1000) /* requests created longer ago than this are history */
#define MAX_PAUSES 64

struct sla_policy {
    int64_t id;
    char name[128], calendar[32];
    uint32_t channel_mask, kind_mask, priority_mask, topic_mask, tier_mask;
    int64_t target_ms[3]; /* by clock index */
    int warn_pct;
    bool pause_pending, pause_on_hold;
};

struct sla_policies {
    atomic_int refs;
    struct sla_policy *v;
    size_t n;
};

static const char *const clock_names[] = {"first_response", "next_response", "resolution", NULL};

void sla_policies_release(struct sla_policies *p)
{
    if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    free(p->v);
    free(p);
}

static uint32_t mask_from(json_t *match, const char *key, const char *const *list)
{
    uint32_t m = 0;
    json_t *a = json_object_get(match, key);
    for (size_t i = 0; i < json_array_size(a); i++) {
        int k = model_find(list, json_string_value(json_array_get(a, i)));
        if (k >= 0)
            m |= 1u << k;
    }
    return m;
}

int sla_reload(struct rules *R, struct err_info *err)
{
    struct db *r = store_reader(R->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, name, match, calendar, first_response_ms, "
                                  "next_response_ms, resolution_ms, warn_pct, pause_pending, "
                                  "pause_on_hold FROM sla_policies WHERE is_enabled = 1 "
                                  "ORDER BY position, id");
    struct sla_policies *p = xcalloc(1, sizeof *p);
    atomic_init(&p->refs, 1);
    size_t cap = 0;
    int step;
    while ((step = db_step(r, st, err)) == 1) {
        xgrow((void **)&p->v, &cap, p->n + 1, sizeof *p->v);
        struct sla_policy *x = &p->v[p->n++];
        memset(x, 0, sizeof *x);
        x->id = db_col_i64(st, 0);
        snprintf(x->name, sizeof x->name, "%s", db_col_text(st, 1));
        json_t *m = json_loads(db_col_text(st, 2), 0, NULL);
        x->channel_mask = mask_from(m, "channel", model_channels);
        x->kind_mask = mask_from(m, "kind", model_kinds);
        x->priority_mask = mask_from(m, "priority", model_priorities);
        x->topic_mask = mask_from(m, "topic", model_topics);
        x->tier_mask = mask_from(m, "tier", model_tiers);
        json_decref(m);
        snprintf(x->calendar, sizeof x->calendar, "%s", db_col_text(st, 3));
        for (int k = 0; k < 3; k++)
            x->target_ms[k] = db_col_i64(st, 4 + k);
        x->warn_pct = (int)db_col_i64(st, 7);
        x->pause_pending = db_col_i64(st, 8) != 0;
        x->pause_on_hold = db_col_i64(st, 9) != 0;
    }
    sqlite3_reset(st);
    store_reader_done(R->store, r);
    if (step < 0) {
        sla_policies_release(p);
        return step;
    }
    pthread_mutex_lock(&R->mu);
    struct sla_policies *old = R->policies;
    R->policies = p;
    pthread_mutex_unlock(&R->mu);
    sla_policies_release(old);
    return 0;
}

static struct sla_policies *policies_acquire(struct rules *R)
{
    pthread_mutex_lock(&R->mu);
    struct sla_policies *p = R->policies;
    if (p)
        atomic_fetch_add(&p->refs, 1);
    pthread_mutex_unlock(&R->mu);
    return p;
}

static bool in(uint32_t mask, const char *const *list, const char *v)
{
    int k = model_find(list, v);
    return mask == 0 || (k >= 0 && (mask & (1u << k)));
}

/* The first policy matching the request (copied to out); false when none. */
static bool policy_for(struct rules *R, const struct req_info *ri, struct sla_policy *out)
{
    struct sla_policies *p = policies_acquire(R);
    bool found = false;
    for (size_t i = 0; p && i < p->n && !found; i++) {
        const struct sla_policy *x = &p->v[i];
        if (in(x->channel_mask, model_channels, ri->channel) &&
            in(x->kind_mask, model_kinds, ri->kind) &&
            in(x->priority_mask, model_priorities, ri->priority) &&
            in(x->topic_mask, model_topics, ri->topic) && in(x->tier_mask, model_tiers, ri->tier)) {
            *out = *x;
            found = true;
        }
    }
    sla_policies_release(p);
    return found;
}

/* ---- calendars: parsed once per (code, zone), kept until the part stops ---------- */

struct cal_entry {
    char code[32], zone[64];
    uint64_t generation;
    struct calendar *cal;
    struct cal_entry *next;
};

struct cal_cache {
    pthread_mutex_t mu;
    struct cal_entry *head;
    uint64_t generation; /* bumped when a calendar is saved */
};

void cal_cache_free(struct cal_cache *c)
{
    if (c == NULL)
        return;
    for (struct cal_entry *e = c->head, *next; e; e = next) {
        next = e->next;
        calendar_free(e->cal);
        free(e);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

struct cal_cache *cal_cache_new(void);
struct cal_cache *cal_cache_new(void)
{
    struct cal_cache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void cal_cache_bump(struct cal_cache *c);
void cal_cache_bump(struct cal_cache *c)
{
    pthread_mutex_lock(&c->mu);
    c->generation++;
    pthread_mutex_unlock(&c->mu);
}

/*
 * The calendar for code in zone (zone "" keeps the calendar's own).  The
 * result lives until the part stops.  NULL when the calendar is unknown or
 * broken (the clock then runs around the clock in UTC: "24x7").
 */
const struct calendar *sla_calendar(struct rules *R, struct db *db, const char *code,
                                    const char *zone);
const struct calendar *sla_calendar(struct rules *R, struct db *db, const char *code,
                                    const char *zone)
{
    struct cal_cache *c = R->cals;
    pthread_mutex_lock(&c->mu);
    for (struct cal_entry *e = c->head; e; e = e->next)
        if (e->generation == c->generation && strcmp(e->code, code) == 0 &&
            strcmp(e->zone, zone) == 0) {
            pthread_mutex_unlock(&c->mu);
            return e->cal;
        }
    uint64_t gen = c->generation;
    pthread_mutex_unlock(&c->mu);
    sqlite3_stmt *st = db_stmt(db, "SELECT definition FROM calendars WHERE code = $1");
    db_bind_text(st, 1, code, -1);
    json_t *def = db_step(db, st, NULL) == 1 ? json_loads(db_col_text(st, 0), 0, NULL) : NULL;
    sqlite3_reset(st);
    if (def == NULL)
        return strcmp(code, "24x7") == 0 ? NULL : sla_calendar(R, db, "24x7", "");
    if (zone[0])
        json_object_set_new(def, "time_zone", json_string(zone));
    char *text = json_dumps(def, JSON_COMPACT);
    json_decref(def);
    struct calendar *cal = NULL;
    struct err_info err = {0};
    int rc = calendar_parse_json(text, strlen(text), &cal, &err);
    free(text);
    if (rc != 0)
        return strcmp(code, "24x7") == 0 ? NULL : sla_calendar(R, db, "24x7", "");
    struct cal_entry *e = xcalloc(1, sizeof *e);
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->zone, sizeof e->zone, "%s", zone);
    e->generation = gen;
    e->cal = cal;
    pthread_mutex_lock(&c->mu);
    e->next = c->head;
    c->head = e;
    pthread_mutex_unlock(&c->mu);
    return cal;
}

/* Business arithmetic with a NULL calendar meaning "always open". */
int sla_add(const struct calendar *cal, int64_t start_ms, int64_t dur_ms,
            const struct calendar_pause *p, size_t n, int64_t *out);
int sla_add(const struct calendar *cal, int64_t start_ms, int64_t dur_ms,
            const struct calendar_pause *p, size_t n, int64_t *out)
{
    if (cal != NULL)
        return calendar_add_business_ms(cal, start_ms, dur_ms, p, n, out);
    /* Pauses are disjoint here (one clock pauses once at a time). */
    int64_t due = start_ms + dur_ms;
    for (size_t i = 0; i < n; i++)
        if (p[i].start_ms < due && p[i].end_ms > start_ms)
            due += p[i].end_ms - (p[i].start_ms > start_ms ? p[i].start_ms : start_ms);
    *out = due;
    return 0;
}

/* ---- clocks ----------------------------------------------------------------------- */

struct clock_row {
    char clock[24], calendar[32], zone[64], state[12], outcome[12];
    int64_t policy_id, started_at_ms, target_ms, due_at_ms, warn_at_ms, paused_at_ms;
    int64_t stopped_at_ms, warned_at_ms;
    int warn_pct;
};

static int clock_load(struct db *db, int64_t request_id, const char *clock, struct clock_row *c)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT clock, calendar, time_zone, state, COALESCE(outcome, ''),"
                                   " policy_id, started_at_ms, target_ms, due_at_ms, warn_at_ms, "
                                   "COALESCE(paused_at_ms, 0), COALESCE(stopped_at_ms, 0), "
                                   "COALESCE(warned_at_ms, 0), warn_pct FROM sla_clocks "
                                   "WHERE request_id = $1 AND clock = $2");
    db_bind_i64(st, 1, request_id);
    db_bind_text(st, 2, clock, -1);
    int found = db_step(db, st, NULL) == 1;
    if (found) {
        snprintf(c->clock, sizeof c->clock, "%s", db_col_text(st, 0));
        snprintf(c->calendar, sizeof c->calendar, "%s", db_col_text(st, 1));
        snprintf(c->zone, sizeof c->zone, "%s", db_col_text(st, 2));
        snprintf(c->state, sizeof c->state, "%s", db_col_text(st, 3));
        snprintf(c->outcome, sizeof c->outcome, "%s", db_col_text(st, 4));
        c->policy_id = db_col_i64(st, 5);
        c->started_at_ms = db_col_i64(st, 6);
        c->target_ms = db_col_i64(st, 7);
        c->due_at_ms = db_col_i64(st, 8);
        c->warn_at_ms = db_col_i64(st, 9);
        c->paused_at_ms = db_col_i64(st, 10);
        c->stopped_at_ms = db_col_i64(st, 11);
        c->warned_at_ms = db_col_i64(st, 12);
        c->warn_pct = (int)db_col_i64(st, 13);
    }
    sqlite3_reset(st);
    return found;
}

static size_t pauses_load(struct db *db, int64_t request_id, const char *clock,
                          struct calendar_pause *p, size_t cap)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT start_ms, end_ms FROM sla_pauses WHERE request_id = $1 "
                                   "AND clock = $2 ORDER BY start_ms");
    db_bind_i64(st, 1, request_id);
    db_bind_text(st, 2, clock, -1);
    size_t n = 0;
    while (n < cap && db_step(db, st, NULL) == 1) {
        p[n].start_ms = db_col_i64(st, 0);
        p[n].end_ms = db_col_i64(st, 1);
        n++;
    }
    sqlite3_reset(st);
    return n;
}

/*
 * A running clock has one timer: the warning while it is still to come, else
 * the breach.  The warning, when it fires, arms the breach.
 */
static int arm_next(struct rules_job *j, int64_t request_id, const struct clock_row *c,
                    struct err_info *err)
{
    if (c->warned_at_ms == 0 && c->warn_pct < 100)
        return job_timer_add(j, "sla_warn", request_id, 0, c->clock, c->warn_at_ms, err);
    return job_timer_add(j, "sla_breach", request_id, 0, c->clock, c->due_at_ms, err);
}

/* Store due/warn times and arm the timers that are still ahead. */
static int arm(struct rules_job *j, int64_t request_id, struct clock_row *c, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    const struct calendar *cal = sla_calendar(j->R, db, c->calendar, c->zone);
    struct calendar_pause p[MAX_PAUSES];
    size_t n = pauses_load(db, request_id, c->clock, p, MAX_PAUSES);
    if (sla_add(cal, c->started_at_ms, c->target_ms, p, n, &c->due_at_ms) != 0 ||
        sla_add(cal, c->started_at_ms, c->target_ms * c->warn_pct / 100, p, n, &c->warn_at_ms) != 0)
        return err_set(err, ERR_INVALID, "sla", "the calendar cannot place the due time");
    sqlite3_stmt *st = db_stmt(db, "UPDATE sla_clocks SET due_at_ms = $3, warn_at_ms = $4, "
                                   "state = 'running', paused_at_ms = NULL "
                                   "WHERE request_id = $1 AND clock = $2");
    db_bind_i64(st, 1, request_id);
    db_bind_text(st, 2, c->clock, -1);
    db_bind_i64(st, 3, c->due_at_ms);
    db_bind_i64(st, 4, c->warn_at_ms);
    int rc = db_run(db, st, err);
    if (rc == 0 && c->outcome[0] == '\0')
        rc = arm_next(j, request_id, c, err);
    return rc;
}

/* The policy's calendar for the clock; "store" means the care calendar in the store's zone. */
static void clock_calendar(struct db *db, const struct req_info *ri, const struct sla_policy *pol,
                           struct clock_row *c)
{
    snprintf(c->calendar, sizeof c->calendar, "%s", pol->calendar);
    c->zone[0] = '\0';
    if (strcmp(pol->calendar, "store") != 0)
        return;
    sqlite3_stmt *st = db_stmt(db, "SELECT time_zone FROM stores WHERE id = $1");
    db_bind_i64(st, 1, ri->store_id);
    if (db_step(db, st, NULL) == 1)
        snprintf(c->zone, sizeof c->zone, "%s", db_col_text(st, 0));
    else
        snprintf(c->calendar, sizeof c->calendar, "care");
    sqlite3_reset(st);
}

/*
 * Start clock k of a request.  is_new: the request was just created, so the
 * clock has no row and no pauses yet; its due times are placed before one
 * insert.  started (may be NULL) collects the clock for one sla.started event
 * per request instead of an event per clock.
 */
static int clock_start(struct rules_job *j, const struct req_info *ri,
                       const struct sla_policy *pol, int k, int64_t start_ms, bool is_new,
                       struct buf *started, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    struct clock_row c = {.policy_id = pol->id, .started_at_ms = start_ms,
                          .target_ms = pol->target_ms[k], .warn_pct = pol->warn_pct};
    snprintf(c.clock, sizeof c.clock, "%s", clock_names[k]);
    clock_calendar(db, ri, pol, &c);
    int rc;
    if (is_new) {
        const struct calendar *cal = sla_calendar(j->R, db, c.calendar, c.zone);
        if (sla_add(cal, start_ms, c.target_ms, NULL, 0, &c.due_at_ms) != 0 ||
            sla_add(cal, start_ms, c.target_ms * c.warn_pct / 100, NULL, 0, &c.warn_at_ms) != 0)
            return err_set(err, ERR_INVALID, "sla", "the calendar cannot place the due time");
        sqlite3_stmt *ins = db_stmt(db, "INSERT INTO sla_clocks (request_id, clock, policy_id, "
                                        "calendar, time_zone, started_at_ms, target_ms, warn_pct, "
                                        "due_at_ms, warn_at_ms, state) VALUES ($1, $2, $3, $4, $5,"
                                        " $6, $7, $8, $9, $10, 'running')");
        db_bind_i64(ins, 1, ri->id);
        db_bind_text(ins, 2, c.clock, -1);
        db_bind_i64(ins, 3, pol->id);
        db_bind_text(ins, 4, c.calendar, -1);
        db_bind_text(ins, 5, c.zone, -1);
        db_bind_i64(ins, 6, start_ms);
        db_bind_i64(ins, 7, c.target_ms);
        db_bind_i64(ins, 8, c.warn_pct);
        db_bind_i64(ins, 9, c.due_at_ms);
        db_bind_i64(ins, 10, c.warn_at_ms);
        rc = db_run(db, ins, err);
        if (rc == 0)
            rc = arm_next(j, ri->id, &c, err);
        goto started;
    }
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO sla_clocks (request_id, clock, policy_id, "
                                   "calendar, time_zone, started_at_ms, target_ms, warn_pct, "
                                   "due_at_ms, warn_at_ms, state) VALUES ($1, $2, $3, $4, $5, $6,"
                                   " $7, $8, 0, 0, 'running') ON CONFLICT (request_id, clock) DO "
                                   "UPDATE SET policy_id = $3, started_at_ms = $6, target_ms = $7,"
                                   " state = 'running', outcome = NULL, stopped_at_ms = NULL, "
                                   "warned_at_ms = NULL, breached_at_ms = NULL");
    db_bind_i64(st, 1, ri->id);
    db_bind_text(st, 2, c.clock, -1);
    db_bind_i64(st, 3, pol->id);
    db_bind_text(st, 4, c.calendar, -1);
    db_bind_text(st, 5, c.zone, -1);
    db_bind_i64(st, 6, start_ms);
    db_bind_i64(st, 7, c.target_ms);
    db_bind_i64(st, 8, c.warn_pct);
    rc = db_run(db, st, err);
    if (rc == 0) {
        st = db_stmt(db, "DELETE FROM sla_pauses WHERE request_id = $1 AND clock = $2");
        db_bind_i64(st, 1, ri->id);
        db_bind_text(st, 2, c.clock, -1);
        rc = db_run(db, st, err);
    }
    if (rc == 0)
        rc = arm(j, ri->id, &c, err);
started:
    if (rc == 0 && started != NULL) { /* clock, policy_id, policy, target_s, due_at_ms */
        if (started->len > 0 && started->data[started->len - 1] == '}')
            buf_putc(started, ',');
        buf_puts(started, "{\"clock\":");
        buf_put_json_str(started, c.clock);
        buf_puts(started, ",\"policy_id\":");
        buf_put_i64(started, pol->id);
        buf_puts(started, ",\"policy\":");
        buf_put_json_str(started, pol->name);
        buf_puts(started, ",\"target_s\":");
        buf_put_i64(started, c.target_ms / 1000);
        buf_puts(started, ",\"due_at_ms\":");
        buf_put_i64(started, c.due_at_ms);
        buf_putc(started, '}');
        return 0;
    }
    if (rc == 0)
        rc = job_event(j, "sla.started", ri->id, ri->customer_id, 0, ri->store_id, "sla",
                       json_pack("{s:s, s:I, s:s, s:I, s:I}", "clock", c.clock, "policy_id",
                                 (json_int_t)pol->id, "policy", pol->name, "target_s",
                                 (json_int_t)(c.target_ms / 1000), "due_at_ms",
                                 (json_int_t)c.due_at_ms),
                       err);
    return rc;
}

/* Stop a running or paused clock; the outcome is met unless it was breached. */
static int clock_stop(struct rules_job *j, const struct req_info *ri, const char *clock,
                      struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    struct clock_row c;
    if (!clock_load(db, ri->id, clock, &c) || strcmp(c.state, "stopped") == 0)
        return 0;
    int rc = job_timer_cancel(j, ri->id, "sla_warn", clock, err);
    if (rc == 0)
        rc = job_timer_cancel(j, ri->id, "sla_breach", clock, err);
    const char *outcome = c.outcome[0] ? c.outcome : "met";
    sqlite3_stmt *st = db_stmt(db, "UPDATE sla_clocks SET state = 'stopped', stopped_at_ms = $3, "
                                   "outcome = $4 WHERE request_id = $1 AND clock = $2");
    db_bind_i64(st, 1, ri->id);
    db_bind_text(st, 2, clock, -1);
    db_bind_i64(st, 3, j->now_ms);
    db_bind_text(st, 4, outcome, -1);
    if (rc == 0)
        rc = db_run(db, st, err);
    if (rc == 0)
        rc = job_event(j, "sla.stopped", ri->id, ri->customer_id, 0, ri->store_id, "sla",
                       json_pack("{s:s, s:s}", "clock", clock, "outcome", outcome), err);
    return rc;
}

static int pause_all(struct rules_job *j, const struct req_info *ri, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    sqlite3_stmt *st = db_stmt(db, "UPDATE sla_clocks SET state = 'paused', paused_at_ms = $2 "
                                   "WHERE request_id = $1 AND state = 'running'");
    db_bind_i64(st, 1, ri->id);
    db_bind_i64(st, 2, j->now_ms);
    int rc = db_run(db, st, err);
    if (rc == 0 && db_changes(db) > 0) {
        rc = job_timer_cancel(j, ri->id, "sla_warn", NULL, err);
        if (rc == 0)
            rc = job_timer_cancel(j, ri->id, "sla_breach", NULL, err);
        if (rc == 0)
            rc = job_event(j, "sla.paused", ri->id, ri->customer_id, 0, ri->store_id, "sla",
                           json_pack("{s:s}", "status", ri->status), err);
    }
    return rc;
}

/* Resume paused clocks (and, on reopen, stopped resolution clocks). */
static int resume(struct rules_job *j, const struct req_info *ri, bool is_reopen,
                  struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    int rc = 0;
    for (int k = 0; clock_names[k] && rc == 0; k++) {
        struct clock_row c;
        if (!clock_load(db, ri->id, clock_names[k], &c))
            continue;
        int64_t from = 0;
        if (strcmp(c.state, "paused") == 0)
            from = c.paused_at_ms;
        else if (is_reopen && k == 2 && strcmp(c.state, "stopped") == 0)
            from = c.stopped_at_ms;
        if (from == 0)
            continue;
        if (is_reopen && strcmp(c.outcome, "met") == 0)
            c.outcome[0] = '\0';
        sqlite3_stmt *st = db_stmt(db, "INSERT INTO sla_pauses (request_id, clock, start_ms, "
                                       "end_ms) VALUES ($1, $2, $3, $4)");
        db_bind_i64(st, 1, ri->id);
        db_bind_text(st, 2, c.clock, -1);
        db_bind_i64(st, 3, from);
        db_bind_i64(st, 4, j->now_ms);
        rc = db_run(db, st, err);
        if (rc == 0) {
            st = db_stmt(db, "UPDATE sla_clocks SET stopped_at_ms = NULL, outcome = "
                             "NULLIF($3, '') WHERE request_id = $1 AND clock = $2");
            db_bind_i64(st, 1, ri->id);
            db_bind_text(st, 2, c.clock, -1);
            db_bind_text(st, 3, c.outcome, -1);
            rc = db_run(db, st, err);
        }
        if (rc == 0)
            rc = arm(j, ri->id, &c, err);
        if (rc == 0)
            rc = job_event(j, "sla.resumed", ri->id, ri->customer_id, 0, ri->store_id, "sla",
                           json_pack("{s:s, s:I}", "clock", c.clock, "due_at_ms",
                                     (json_int_t)c.due_at_ms),
                           err);
    }
    return rc;
}

/*
 * The request's priority or topic changed, so another policy may now
 * apply: each clock still open (running or paused, neither met nor breached)
 * takes the new policy's target and calendar, counted from its own start and
 * minus its pauses.  A running clock's timers are re-armed at once; a paused
 * one gets its due time when it resumes.  One sla.retargeted event lists the
 * clocks that changed with their old and new due times.
 */
static int retarget(struct rules_job *j, const struct req_info *ri, struct err_info *err)
{
    struct sla_policy pol;
    if (!model_status_is_open(ri->status) || !policy_for(j->R, ri, &pol))
        return 0;
    struct db *db = store_tx_db(j->tx);
    json_t *changed = json_array();
    int rc = 0;
    for (int k = 0; clock_names[k] && rc == 0; k++) {
        struct clock_row c;
        if (pol.target_ms[k] <= 0 || !clock_load(db, ri->id, clock_names[k], &c) ||
            strcmp(c.state, "stopped") == 0 || c.outcome[0] != '\0')
            continue;
        struct clock_row was = c;
        c.policy_id = pol.id;
        c.target_ms = pol.target_ms[k];
        c.warn_pct = pol.warn_pct;
        clock_calendar(db, ri, &pol, &c);
        if (c.policy_id == was.policy_id && c.target_ms == was.target_ms &&
            c.warn_pct == was.warn_pct && strcmp(c.calendar, was.calendar) == 0 &&
            strcmp(c.zone, was.zone) == 0)
            continue;
        sqlite3_stmt *st = db_stmt(db, "UPDATE sla_clocks SET policy_id = $3, target_ms = $4, "
                                       "warn_pct = $5, calendar = $6, time_zone = $7 "
                                       "WHERE request_id = $1 AND clock = $2");
        db_bind_i64(st, 1, ri->id);
        db_bind_text(st, 2, c.clock, -1);
        db_bind_i64(st, 3, c.policy_id);
        db_bind_i64(st, 4, c.target_ms);
        db_bind_i64(st, 5, c.warn_pct);
        db_bind_text(st, 6, c.calendar, -1);
        db_bind_text(st, 7, c.zone, -1);
        rc = db_run(db, st, err);
        bool running = strcmp(c.state, "running") == 0;
        if (rc == 0 && running)
            rc = job_timer_cancel(j, ri->id, "sla_warn", c.clock, err);
        if (rc == 0 && running)
            rc = job_timer_cancel(j, ri->id, "sla_breach", c.clock, err);
        if (rc == 0 && running)
            rc = arm(j, ri->id, &c, err);
        json_t *x = json_pack("{s:s, s:I, s:s, s:I, s:I}", "clock", c.clock, "policy_id",
                              (json_int_t)pol.id, "policy", pol.name, "target_s",
                              (json_int_t)(c.target_ms / 1000), "previous_due_at_ms",
                              (json_int_t)was.due_at_ms);
        if (running)
            json_object_set_new(x, "due_at_ms", json_integer(c.due_at_ms));
        json_array_append_new(changed, x);
    }
    if (rc == 0 && json_array_size(changed) > 0)
        rc = job_event(j, "sla.retargeted", ri->id, ri->customer_id, 0, ri->store_id, "sla",
                       json_pack("{s:O}", "clocks", changed), err);
    json_decref(changed);
    return rc;
}

static bool is_waiting(const char *s)
{
    return strcmp(s, "pending") == 0 || strcmp(s, "on_hold") == 0;
}

static int on_status(struct rules_job *j, const struct req_info *ri, const char *from,
                     const char *to, struct err_info *err)
{
    struct sla_policy pol;
    bool has_pol = policy_for(j->R, ri, &pol);
    int rc = 0;
    if (strcmp(to, "solved") == 0 || strcmp(to, "closed") == 0) {
        for (int k = 0; clock_names[k] && rc == 0; k++)
            rc = clock_stop(j, ri, clock_names[k], err);
        return rc;
    }
    bool pauses = has_pol && ((strcmp(to, "pending") == 0 && pol.pause_pending) ||
                              (strcmp(to, "on_hold") == 0 && pol.pause_on_hold));
    if (pauses)
        return pause_all(j, ri, err);
    if (is_waiting(from) || strcmp(from, "solved") == 0)
        return resume(j, ri, strcmp(from, "solved") == 0, err);
    return 0;
}

bool sla_wants(const struct event_row *ev)
{
    static const char *const types[] = {
        "request.created",          "message.out",             "message.in",
        "request.status_changed",   "request.reopened",        "request.priority_changed",
        "request.topic_corrected",  NULL,
    };
    return ev->request_id != 0 && model_find(types, ev->type) >= 0;
}

int sla_on_event(struct rules_job *j, const struct event_row *ev, struct err_info *err)
{
    if (!sla_wants(ev))
        return 0;
    struct db *db = store_tx_db(j->tx);
    struct req_info ri;
    if (job_req_info(j, ev->request_id, &ri) != 0)
        return 0;
    /* The data only matters for messages and status changes. */
    bool is_created = strcmp(ev->type, "request.created") == 0;
    json_t *d = is_created ? NULL : json_loads(ev->data, 0, NULL);
    int rc = 0;
    if (is_created) {
        struct sla_policy pol;
        bool fresh = ev->at_ms - ri.created_at_ms < HISTORY_MS && model_status_is_open(ri.status);
        if (fresh && policy_for(j->R, &ri, &pol)) {
            /* Both clocks of a new request, announced in one event (its JSON
             * written as text: this runs for every new request). */
            struct buf started;
            buf_init(&started, 0);
            buf_puts(&started, "{\"clocks\":[");
            size_t empty = started.len;
            if (pol.target_ms[0] > 0)
                rc = clock_start(j, &ri, &pol, 0, ri.created_at_ms, true, &started, err);
            if (rc == 0 && pol.target_ms[2] > 0)
                rc = clock_start(j, &ri, &pol, 2, ri.created_at_ms, true, &started, err);
            if (rc == 0 && started.len > empty) {
                buf_puts(&started, "]}");
                rc = job_event_text(j, "sla.started", ri.id, ri.customer_id, 0, ri.store_id,
                                    "sla", &started, err);
            }
            buf_free(&started);
        }
    } else if (strcmp(ev->type, "message.out") == 0) {
        rc = clock_stop(j, &ri, "first_response", err);
        if (rc == 0)
            rc = clock_stop(j, &ri, "next_response", err);
        const char *st = json_string_value(json_object_get(d, "status"));
        if (rc == 0 && st)
            rc = on_status(j, &ri, "new", st, err);
    } else if (strcmp(ev->type, "message.in") == 0) {
        const char *st = json_string_value(json_object_get(d, "status"));
        struct clock_row c;
        struct sla_policy pol;
        if (st) /* the customer woke a pending or solved request */
            rc = on_status(j, &ri, clock_load(db, ri.id, "resolution", &c) &&
                                           strcmp(c.state, "stopped") == 0 ? "solved" : "pending",
                           st, err);
        bool answered = clock_load(db, ri.id, "first_response", &c) &&
                        strcmp(c.state, "stopped") == 0;
        bool waiting = clock_load(db, ri.id, "next_response", &c) && strcmp(c.state, "stopped");
        if (rc == 0 && answered && !waiting && policy_for(j->R, &ri, &pol) &&
            pol.target_ms[1] > 0)
            rc = clock_start(j, &ri, &pol, 1, ev->at_ms, false, NULL, err);
    } else if (strcmp(ev->type, "request.priority_changed") == 0 ||
               strcmp(ev->type, "request.topic_corrected") == 0) {
        rc = retarget(j, &ri, err);
    } else if (strcmp(ev->type, "request.status_changed") == 0 ||
               strcmp(ev->type, "request.reopened") == 0) {
        const char *from = json_string_value(json_object_get(d, "from"));
        const char *to = json_string_value(json_object_get(d, "to"));
        if (from && to)
            rc = on_status(j, &ri, from, to, err);
    }
    json_decref(d);
    return rc;
}

/* A pending breach timer for the clock (databases written before a clock kept
 * one timer have one beside the warning's). */
static bool breach_armed(struct db *db, int64_t request_id, const char *clock)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM timers WHERE request_id = $1 AND "
                                   "kind = 'sla_breach' AND ref = $2 AND fired_at_ms IS NULL");
    db_bind_i64(st, 1, request_id);
    db_bind_text(st, 2, clock, -1);
    bool armed = db_step(db, st, NULL) == 1;
    sqlite3_reset(st);
    return armed;
}

int sla_timer_fire(struct rules_job *j, const char *kind, int64_t request_id, const char *ref,
                   int64_t due_at_ms, struct err_info *err)
{
    (void)due_at_ms;
    struct db *db = store_tx_db(j->tx);
    struct clock_row c;
    struct req_info ri;
    if (!clock_load(db, request_id, ref, &c) || strcmp(c.state, "running") != 0 ||
        c.outcome[0] != '\0' || job_req_info(j, request_id, &ri) != 0)
        return 0;
    bool is_warn = strcmp(kind, "sla_warn") == 0;
    if (is_warn && c.warned_at_ms != 0)
        return 0;
    sqlite3_stmt *st = is_warn ? db_stmt(db, "UPDATE sla_clocks SET warned_at_ms = $3 "
                                             "WHERE request_id = $1 AND clock = $2")
                               : db_stmt(db, "UPDATE sla_clocks SET outcome = 'breached', "
                                             "breached_at_ms = $3 WHERE request_id = $1 AND "
                                             "clock = $2");
    db_bind_i64(st, 1, request_id);
    db_bind_text(st, 2, ref, -1);
    db_bind_i64(st, 3, j->now_ms);
    int rc = db_run(db, st, err);
    if (rc == 0 && is_warn && !breach_armed(db, request_id, ref))
        rc = job_timer_add(j, "sla_breach", request_id, 0, ref, c.due_at_ms, err);
    if (rc == 0)
        rc = job_event(j, is_warn ? "sla.warning" : "sla.breached", request_id, ri.customer_id, 0,
                       ri.store_id, "sla",
                       json_pack("{s:s, s:I, s:I, s:I}", "clock", ref, "policy_id",
                                 (json_int_t)c.policy_id, "due_at_ms", (json_int_t)c.due_at_ms,
                                 "target_s", (json_int_t)(c.target_ms / 1000)),
                       err);
    const char *title = arena_printf(j->a, "%s: %s по обращению %lld",
                                     is_warn ? "Скоро просрочка" : "Просрочено", ref,
                                     (long long)request_id);
    if (rc == 0)
        rc = notify_role(j, ri.assignee_id ? NULL : "supervisor", ri.assignee_id, request_id,
                         ri.store_id, is_warn ? "sla_warning" : "sla_breached", title, "sla", err);
    if (rc == 0 && !is_warn && strcmp(ref, "next_response") != 0)
        rc = esc_raise(j, request_id, "supervisor",
                       arena_printf(j->a, "просрочен срок %s", ref), "sla", err);
    return rc;
}
