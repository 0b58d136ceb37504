/*
 * survey_consumer.c - proactive invitations: the "analytics.surveys"
 * consumer of the event log (solved requests, delivered orders,
 * survey.requested from the rules), new purchases (the purchases table,
 * by id: purchases raise no event), and the eNPS schedule.  Each batch's
 * invitations and both cursors are written in one job.
 */
#include "analytics/surveys_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define CONSUMER "analytics.surveys"
#define PURCHASES "analytics.purchases"
#define BATCH ANALYTICS_SURVEY_BATCH
#define MAX_AGE_MS (2 * DAY_MS) /* older triggers (history, a long outage) invite nobody */

struct candidate {
    char trigger[16];
    char code[64];    /* survey.requested: the survey code, "" otherwise */
    char channel[16];
    int64_t customer_id, request_id, order_id, store_id;
};

struct sbatch {
    struct db *r;
    struct candidate *c;
    size_t n, cap;
    int64_t n_events, last_id, last_purchase, now_ms;
    const struct analytics *an;
    int n_invited;
};

static void add(struct sbatch *b, const char *trigger, const char *code, const char *channel,
                int64_t customer_id, int64_t request_id, int64_t order_id, int64_t store_id)
{
    if (customer_id == 0)
        return;
    xgrow((void **)&b->c, &b->cap, b->n + 1, sizeof *b->c);
    struct candidate *c = &b->c[b->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->trigger, sizeof c->trigger, "%s", trigger);
    snprintf(c->code, sizeof c->code, "%s", code ? code : "");
    snprintf(c->channel, sizeof c->channel, "%s", channel);
    c->customer_id = customer_id;
    c->request_id = request_id;
    c->order_id = order_id;
    c->store_id = store_id;
}

static int on_event(void *ctx, const struct event_row *ev)
{
    struct sbatch *b = ctx;
    b->n_events++;
    bool is_status = strcmp(ev->type, "request.status_changed") == 0;
    bool is_order = strcmp(ev->type, "order.status_changed") == 0;
    bool is_requested = strcmp(ev->type, "survey.requested") == 0;
    if ((!is_status && !is_order && !is_requested) || ev->at_ms < b->now_ms - MAX_AGE_MS)
        return 0;
    json_t *d = json_loads(ev->data, 0, NULL);
    const char *to = json_string_value(json_object_get(d, is_order ? "status" : "to"));
    if (is_status && to && strcmp(to, "solved") == 0) {
        sqlite3_stmt *st = db_stmt(b->r, "SELECT channel FROM requests WHERE id = $1");
        db_bind_i64(st, 1, ev->request_id);
        if (db_step(b->r, st, NULL) == 1)
            add(b, "request_solved", NULL, db_col_text(st, 0), ev->customer_id, ev->request_id,
                0, ev->store_id);
        sqlite3_reset(st);
    } else if (is_order && to && strcmp(to, "delivered") == 0) {
        add(b, "order_delivered", NULL, "web", ev->customer_id, 0, ev->order_id, ev->store_id);
    } else if (is_requested) {
        const char *code = json_string_value(json_object_get(d, "survey"));
        const char *channel = json_string_value(json_object_get(d, "channel"));
        add(b, "requested", code ? code : "", channel ? channel : "web", ev->customer_id,
            ev->request_id, ev->order_id, ev->store_id);
    }
    json_decref(d);
    return 0;
}

static void scan_purchases(struct sbatch *b)
{
    sqlite3_stmt *st = db_stmt(b->r, "SELECT id, customer_id, store_id, at_ms FROM purchases "
                                     "WHERE id > $1 ORDER BY id LIMIT 1024");
    db_bind_i64(st, 1, b->last_purchase);
    while (db_step(b->r, st, NULL) == 1) {
        b->last_purchase = db_col_i64(st, 0);
        if (db_col_i64(st, 3) >= b->now_ms - MAX_AGE_MS)
            add(b, "purchase", NULL, "web", db_col_i64(st, 1), 0, 0, db_col_i64(st, 2));
    }
    sqlite3_reset(st);
}

static int invite_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct sbatch *b = arg;
    struct db *db = store_tx_db(tx);
    for (size_t i = 0; i < b->n; i++) {
        const struct candidate *c = &b->c[i];
        struct survey_def def;
        bool by_code = strcmp(c->trigger, "requested") == 0;
        if (survey_def_by_trigger(db, c->trigger, by_code ? c->code : NULL, &def) != 0)
            continue; /* no active survey for it */
        struct invite_in in = {.survey_id = def.id, .question = def.question,
                               .customer_id = c->customer_id, .request_id = c->request_id,
                               .order_id = c->order_id, .store_id = c->store_id,
                               .channel = c->channel, .source = c->trigger,
                               .min_interval_days = def.min_interval_days};
        struct invite_out out;
        struct err_info ierr = {0};
        struct tx_mark mark = store_tx_part_begin(tx);
        int rc = survey_invite(tx, &in, b->an, &out, &ierr);
        store_tx_part_end(tx, mark, rc == 0);
        if (rc == 0)
            b->n_invited++;
        else if (rc != ERR_CONFLICT) /* ERR_CONFLICT: asked recently, by design */
            log_warn("survey invite failed trigger=%s msg=\"%s\"", c->trigger, ierr.message);
    }
    int rc = store_consumer_save(tx, CONSUMER, b->last_id, err);
    if (rc == 0)
        rc = store_consumer_save(tx, PURCHASES, b->last_purchase, err);
    return rc;
}

static int64_t max_purchase_id(struct db *r)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT coalesce(max(id), 0) FROM purchases");
    int64_t v = db_step(r, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    return v;
}

static int64_t max_event_id(struct db *r)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT coalesce(max(id), 0) FROM events");
    int64_t v = db_step(r, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    return v;
}

int analytics_surveys_step(struct app *app, int64_t *out_n, struct err_info *err)
{
    struct analytics *an = analytics_of(app);
    struct sbatch b;
    memset(&b, 0, sizeof b);
    b.now_ms = clock_now_ms();
    b.an = an;
    b.r = store_reader(app->store);
    int64_t pos = store_consumer_position(b.r, CONSUMER);
    b.last_purchase = store_consumer_position(b.r, PURCHASES);
    /* The first run starts after the events and purchases already held: history invites
     * nobody.  First means never saved: on an empty log the saved positions are 0 too. */
    bool is_first = !store_consumer_known(b.r, CONSUMER);
    if (is_first) {
        b.last_purchase = max_purchase_id(b.r);
        pos = max_event_id(b.r);
        b.last_id = pos;
    }
    int64_t purchase_pos = b.last_purchase;
    int rc = store_events_since(b.r, pos, BATCH, on_event, &b, &b.last_id);
    if (rc == 0)
        scan_purchases(&b);
    store_reader_done(app->store, b.r);
    if (rc == 0 && (b.n_events > 0 || b.last_purchase != purchase_pos || is_first))
        rc = store_write_background(app->store, invite_job, &b, err);
    if (b.n_invited > 0)
        log_info("surveys invited=%d", b.n_invited);
    *out_n = b.n_events + (b.last_purchase - purchase_pos);
    free(b.c);
    return rc;
}

/* ---- eNPS schedule ----------------------------------------------------------------- */

struct enps_job {
    const struct analytics *an;
    int n;
};

static int enps_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct enps_job *j = arg;
    struct db *db = store_tx_db(tx);
    struct survey_def def;
    (void)err;
    if (survey_def_by_trigger(db, "schedule", NULL, &def) != 0 || def.schedule_days <= 0)
        return 0;
    sqlite3_stmt *st = db_stmt(db, "SELECT u.id, u.store_id, d.code FROM users u LEFT JOIN "
                                   "departments d ON d.id = u.department_id WHERE u.is_active = 1 "
                                   "ORDER BY u.id");
    struct emp {
        int64_t id, store_id;
        char dept[32];
    } *e = NULL;
    size_t n = 0, cap = 0;
    while (db_step(db, st, NULL) == 1) {
        xgrow((void **)&e, &cap, n + 1, sizeof *e);
        e[n].id = db_col_i64(st, 0);
        e[n].store_id = db_col_i64(st, 1);
        snprintf(e[n].dept, sizeof e[n].dept, "%s", db_col_is_null(st, 2) ? "" : db_col_text(st, 2));
        n++;
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        struct invite_in in = {.survey_id = def.id, .question = def.question, .user_id = e[i].id,
                               .store_id = e[i].store_id,
                               .department = e[i].dept[0] ? e[i].dept : NULL,
                               .channel = "internal", .source = "schedule",
                               .min_interval_days = def.schedule_days};
        struct invite_out out;
        struct err_info ierr = {0};
        struct tx_mark mark = store_tx_part_begin(tx);
        int rc = survey_invite(tx, &in, j->an, &out, &ierr);
        store_tx_part_end(tx, mark, rc == 0);
        j->n += rc == 0;
    }
    free(e);
    return 0;
}

int64_t analytics_tick_enps(struct app *app, int64_t now_ms)
{
    (void)now_ms;
    struct analytics *an = analytics_of(app);
    if (an == NULL)
        return 0;
    struct enps_job j = {an, 0};
    struct err_info err = {0};
    if (store_write_background(app->store, enps_job, &j, &err) != 0)
        log_warn("enps schedule failed msg=\"%s\"", err.message);
    else if (j.n > 0)
        log_info("enps invited=%d", j.n);
    return 0;
}
