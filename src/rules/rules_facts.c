/*
 * rules_facts.c - what a rule can see of one event: the request's fields as
 * vocabulary indexes, the customer's tier, open requests and recent
 * contacts, the order's status and lateness, a linked customer request's
 * waiting time, and the case-folded text.  Loaded through a read
 * connection before the engine's write job, a handful of indexed queries.
 */
#include "rules/rules_int.h"

#include "store/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static int8_t idx(const char *const *list, const char *s)
{
    return (int8_t)model_find(list, s);
}

/* Case-fold s into the arena. */
static const char *fold_into(struct arena *a, const char *s, size_t *len)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &out,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                          UTF8PROC_CASEFOLD);
    if (n < 0) {
        *len = 0;
        return NULL;
    }
    char *copy = arena_strndup(a, (const char *)out, (size_t)n);
    free(out);
    *len = (size_t)n;
    return copy;
}

static void load_request(struct db *r, struct rule_facts *f)
{
    sqlite3_stmt *st = db_stmt(
        r, "SELECT r.channel, r.kind, r.status, r.priority, r.topic, r.sentiment, r.customer_id, "
           "r.store_id, r.order_id, s.region, c.tier, r.created_at_ms FROM requests r "
           "LEFT JOIN stores s ON s.id = r.store_id "
           "LEFT JOIN customers c ON c.id = r.customer_id WHERE r.id = $1");
    db_bind_i64(st, 1, f->request_id);
    if (db_step(r, st, NULL) == 1) {
        f->channel = idx(model_channels, db_col_text(st, 0));
        f->kind = idx(model_kinds, db_col_text(st, 1));
        f->status = idx(model_statuses, db_col_text(st, 2));
        f->priority = idx(model_priorities, db_col_text(st, 3));
        f->topic = idx(model_topics, db_col_text(st, 4));
        f->sentiment = idx(model_sentiments, db_col_text(st, 5));
        if (!f->customer_id)
            f->customer_id = db_col_i64(st, 6);
        if (!f->store_id)
            f->store_id = db_col_i64(st, 7);
        if (!f->order_id)
            f->order_id = db_col_i64(st, 8);
        f->region = (int16_t)rules_region_intern(db_col_text(st, 9));
        f->tier = idx(model_tiers, db_col_text(st, 10));
        f->created_at_ms = db_col_i64(st, 11);
    }
    sqlite3_reset(st);
}

static void load_customer(struct db *r, struct rule_facts *f)
{
    sqlite3_stmt *st;
    if (f->tier < 0) {
        st = db_stmt(r, "SELECT tier FROM customers WHERE id = $1");
        db_bind_i64(st, 1, f->customer_id);
        if (db_step(r, st, NULL) == 1)
            f->tier = idx(model_tiers, db_col_text(st, 0));
        sqlite3_reset(st);
    }
    st = db_stmt(r, "SELECT created_at_ms, status FROM requests WHERE customer_id = $1 "
                    "ORDER BY id DESC LIMIT 64");
    db_bind_i64(st, 1, f->customer_id);
    while (db_step(r, st, NULL) == 1) {
        if (f->n_recent < RULES_RECENT)
            f->recent_ms[f->n_recent++] = db_col_i64(st, 0);
        if (model_status_is_open(db_col_text(st, 1)))
            f->open_requests++;
    }
    sqlite3_reset(st);
    /* Newest first by time (ids follow arrival, imports may not). */
    for (int i = 1; i < f->n_recent; i++)
        for (int k = i; k > 0 && f->recent_ms[k] > f->recent_ms[k - 1]; k--) {
            int64_t t = f->recent_ms[k];
            f->recent_ms[k] = f->recent_ms[k - 1];
            f->recent_ms[k - 1] = t;
        }
}

static void load_order(struct db *r, struct rule_facts *f)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT o.status, o.promised_at_ms, o.store_id, s.region "
                                  "FROM orders o LEFT JOIN stores s ON s.id = o.store_id "
                                  "WHERE o.id = $1");
    db_bind_i64(st, 1, f->order_id);
    if (db_step(r, st, NULL) == 1) {
        const char *status = db_col_text(st, 0);
        if (f->order_status < 0)
            f->order_status = idx(model_order_statuses, status);
        if (!db_col_is_null(st, 1) && model_order_status_is_open(status)) {
            f->has_order_promise = true;
            f->order_late_ms = f->at_ms - db_col_i64(st, 1);
        }
        if (!f->store_id)
            f->store_id = db_col_i64(st, 2);
        if (f->region < 0)
            f->region = (int16_t)rules_region_intern(db_col_text(st, 3));
    }
    sqlite3_reset(st);
}

static void load_text(struct db *r, const struct event_row *ev, struct arena *a,
                      struct rule_facts *f)
{
    sqlite3_stmt *st = NULL;
    if (strcmp(ev->type, "request.created") == 0) {
        st = db_stmt(r, "SELECT body FROM messages WHERE request_id = $1 ORDER BY id LIMIT 1");
        db_bind_i64(st, 1, f->request_id);
    } else if (strncmp(ev->type, "message.", 8) == 0) {
        json_t *d = json_loads(ev->data, 0, NULL);
        int64_t mid = json_integer_value(json_object_get(d, "message_id"));
        json_decref(d);
        st = db_stmt(r, "SELECT body FROM messages WHERE id = $1");
        db_bind_i64(st, 1, mid);
    }
    if (st == NULL)
        return;
    if (db_step(r, st, NULL) == 1)
        f->text = fold_into(a, db_col_text(st, 0), &f->text_len);
    sqlite3_reset(st);
}

static void load_link(struct db *r, struct rule_facts *f)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT q.customer_id, q.created_at_ms FROM request_links l "
                                  "JOIN requests q ON q.id = l.linked_request_id "
                                  "WHERE l.request_id = $1 ORDER BY q.created_at_ms LIMIT 1");
    db_bind_i64(st, 1, f->request_id);
    if (db_step(r, st, NULL) == 1) {
        f->linked_customer_id = db_col_i64(st, 0);
        f->linked_waited_ms = f->at_ms - db_col_i64(st, 1);
    }
    sqlite3_reset(st);
}

int rules_facts_load(struct db *r, const struct event_row *ev, int64_t now_ms, struct arena *a,
                     struct rule_facts *f)
{
    (void)now_ms;
    memset(f, 0, sizeof *f);
    f->event_id = ev->id;
    f->at_ms = ev->at_ms;
    f->type = (int8_t)rules_event_type_index(ev->type);
    f->request_id = ev->request_id;
    f->customer_id = ev->customer_id;
    f->order_id = ev->order_id;
    f->store_id = ev->store_id;
    f->channel = f->kind = f->status = f->priority = f->topic = f->sentiment = f->tier = -1;
    f->order_status = -1;
    f->region = -1;
    f->linked_waited_ms = -1;
    if (f->type < 0)
        return 0;
    if (strcmp(ev->type, "order.status_changed") == 0) {
        json_t *d = json_loads(ev->data, 0, NULL);
        f->order_status = idx(model_order_statuses, json_string_value(json_object_get(d, "status")));
        json_decref(d);
    }
    if (f->request_id) {
        load_request(r, f);
        load_link(r, f);
        load_text(r, ev, a, f);
    }
    if (f->order_id)
        load_order(r, f);
    if (f->customer_id)
        load_customer(r, f);
    if (f->region < 0 && f->store_id) {
        char region[64];
        sqlite3_stmt *st = db_stmt(r, "SELECT region FROM stores WHERE id = $1");
        db_bind_i64(st, 1, f->store_id);
        region[0] = '\0';
        if (db_step(r, st, NULL) == 1)
            snprintf(region, sizeof region, "%s", db_col_text(st, 0));
        sqlite3_reset(st);
        f->region = (int16_t)rules_region_intern(region);
    }
    return 0;
}
