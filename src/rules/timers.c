/*
 * timers.c - timers that survive restarts: every future moment the machine
 * acts on is a row in `timers`; in memory a binary min-heap of (due, id)
 * says which is next.  Start-up reads the pending rows through a partial
 * index already in due order, and a sorted array is a valid heap, so a
 * million timers load with one index scan and no sift.  A row lives while
 * its timer is pending: firing or cancelling deletes it, and a cancelled
 * timer stays in the heap until popped, when its missing row skips it.
 */
#include "rules/rules_int.h"

#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void theap_init(struct timer_heap *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
}

void theap_free(struct timer_heap *h)
{
    free(h->v);
    pthread_mutex_destroy(&h->mu);
    memset(h, 0, sizeof *h);
}

static bool less(const struct timer_ent *a, const struct timer_ent *b)
{
    return a->due_at_ms < b->due_at_ms || (a->due_at_ms == b->due_at_ms && a->id < b->id);
}

static void push_locked(struct timer_heap *h, int64_t due_at_ms, int64_t id)
{
    if (h->n == h->cap)
        xgrow((void **)&h->v, &h->cap, h->n + 1, sizeof *h->v);
    size_t i = h->n++;
    struct timer_ent e = {due_at_ms, id};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!less(&e, &h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = e;
}

static struct timer_ent pop_locked(struct timer_heap *h)
{
    struct timer_ent top = h->v[0];
    struct timer_ent last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!less(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

void theap_push(struct timer_heap *h, int64_t due_at_ms, int64_t id)
{
    pthread_mutex_lock(&h->mu);
    push_locked(h, due_at_ms, id);
    pthread_mutex_unlock(&h->mu);
}

int64_t theap_peek(struct timer_heap *h)
{
    pthread_mutex_lock(&h->mu);
    int64_t due = h->n ? h->v[0].due_at_ms : INT64_MAX;
    pthread_mutex_unlock(&h->mu);
    return due;
}

size_t theap_pop_due(struct timer_heap *h, int64_t now_ms, struct timer_ent *out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&h->mu);
    while (n < cap && h->n > 0 && h->v[0].due_at_ms <= now_ms)
        out[n++] = pop_locked(h);
    pthread_mutex_unlock(&h->mu);
    return n;
}

int theap_load(struct timer_heap *h, struct db *r, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT due_at_ms, id FROM timers WHERE fired_at_ms IS NULL "
                                  "ORDER BY due_at_ms, id");
    pthread_mutex_lock(&h->mu);
    h->n = 0;
    int step;
    while ((step = db_step(r, st, err)) == 1) {
        if (h->n == h->cap)
            xgrow((void **)&h->v, &h->cap, h->n + 1, sizeof *h->v);
        /* Ascending order is heap order: append without sifting. */
        h->v[h->n].due_at_ms = sqlite3_column_int64(st, 0);
        h->v[h->n].id = sqlite3_column_int64(st, 1);
        h->n++;
    }
    pthread_mutex_unlock(&h->mu);
    sqlite3_reset(st);
    return step < 0 ? step : 0;
}

/* ---- timers inside the engine's jobs ------------------------------------------- */

int job_timer_add(struct rules_job *j, const char *kind, int64_t request_id, int64_t order_id,
                  const char *ref, int64_t due_at_ms, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO timers (kind, request_id, order_id, ref, "
                                   "due_at_ms, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)");
    db_bind_text(st, 1, kind, -1);
    db_bind_i64_or_null(st, 2, request_id);
    db_bind_i64_or_null(st, 3, order_id);
    db_bind_text(st, 4, ref ? ref : "", -1);
    db_bind_i64(st, 5, due_at_ms);
    db_bind_i64(st, 6, j->now_ms);
    int rc = db_run(db, st, err);
    if (rc != 0)
        return rc;
    if (j->n_timers == j->cap_timers)
        xgrow((void **)&j->timers, &j->cap_timers, j->n_timers + 1, sizeof *j->timers);
    j->timers[j->n_timers].id = db_last_id(db);
    j->timers[j->n_timers].due_at_ms = due_at_ms;
    j->n_timers++;
    return 0;
}

int job_timer_cancel(struct rules_job *j, int64_t request_id, const char *kind, const char *ref,
                     struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    sqlite3_stmt *st = db_stmt(db, "DELETE FROM timers WHERE request_id = $1 AND kind = $2 "
                                   "AND ($3 IS NULL OR ref = $3) AND fired_at_ms IS NULL");
    db_bind_i64(st, 1, request_id);
    db_bind_text(st, 2, kind, -1);
    db_bind_text(st, 3, ref, -1);
    return db_run(db, st, err);
}

int job_event_text(struct rules_job *j, const char *type, int64_t request_id,
                   int64_t customer_id, int64_t order_id, int64_t store_id, const char *actor,
                   struct buf *data, struct err_info *err)
{
    if (j->is_late && data->len > 0 && data->data[data->len - 1] == '}') {
        data->len--; /* reopen the object */
        if (data->len > 1)
            buf_putc(data, ',');
        buf_puts(data, "\"late\":true,\"delay_s\":");
        buf_put_i64(data, j->delay_ms / 1000);
        buf_putc(data, '}');
    }
    if (buf_error(data) != 0)
        return err_set(err, ERR_INTERNAL, "", "event data too large");
    int64_t id = store_event_add(j->tx, type, request_id, customer_id, order_id, store_id, actor,
                                 buf_cstr(data), err);
    return id < 0 ? (int)id : 0;
}

int job_event(struct rules_job *j, const char *type, int64_t request_id, int64_t customer_id,
              int64_t order_id, int64_t store_id, const char *actor, json_t *data,
              struct err_info *err)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, text ? text : "{}");
    free(text);
    int rc = job_event_text(j, type, request_id, customer_id, order_id, store_id, actor, &b, err);
    buf_free(&b);
    return rc;
}

int req_info_load(struct db *db, int64_t id, struct req_info *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = db_stmt(
        db, "SELECT r.id, r.customer_id, r.store_id, r.order_id, r.assignee_id, r.created_at_ms, "
            "r.channel, r.kind, r.status, r.priority, COALESCE(r.topic, ''), "
            "COALESCE(c.tier, ''), COALESCE(s.region, ''), COALESCE(s.code, '') FROM requests r "
            "LEFT JOIN customers c ON c.id = r.customer_id "
            "LEFT JOIN stores s ON s.id = r.store_id WHERE r.id = $1");
    db_bind_i64(st, 1, id);
    int rc = ERR_NOTFOUND;
    if (db_step(db, st, NULL) == 1) {
        out->id = db_col_i64(st, 0);
        out->customer_id = db_col_i64(st, 1);
        out->store_id = db_col_i64(st, 2);
        out->order_id = db_col_i64(st, 3);
        out->assignee_id = db_col_i64(st, 4);
        out->created_at_ms = db_col_i64(st, 5);
        snprintf(out->channel, sizeof out->channel, "%s", db_col_text(st, 6));
        snprintf(out->kind, sizeof out->kind, "%s", db_col_text(st, 7));
        snprintf(out->status, sizeof out->status, "%s", db_col_text(st, 8));
        snprintf(out->priority, sizeof out->priority, "%s", db_col_text(st, 9));
        snprintf(out->topic, sizeof out->topic, "%s", db_col_text(st, 10));
        snprintf(out->tier, sizeof out->tier, "%s", db_col_text(st, 11));
        snprintf(out->region, sizeof out->region, "%s", db_col_text(st, 12));
        snprintf(out->store_code, sizeof out->store_code, "%s", db_col_text(st, 13));
        rc = 0;
    }
    sqlite3_reset(st);
    return rc;
}

int job_req_info(struct rules_job *j, int64_t id, struct req_info *out)
{
    struct db *db = store_tx_db(j->tx);
    int64_t changes = sqlite3_total_changes64(db_handle(db));
    if (j->ri != NULL && j->ri->id == id && j->ri_changes == changes) {
        *out = *j->ri;
        return 0;
    }
    int rc = req_info_load(db, id, out);
    if (rc != 0)
        return rc;
    if (j->ri == NULL)
        j->ri = arena_alloc(j->a, sizeof *j->ri);
    *j->ri = *out;
    j->ri_changes = changes;
    return 0;
}
