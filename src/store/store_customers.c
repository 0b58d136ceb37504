/*
 * store_customers.c - one customer behind many identities, the customer 360
 * and the IVR/bot lookup.
 *
 * An identity (kind, value) belongs to exactly one customer (it is the
 * primary key).  Resolution never merges silently: when a message carries
 * identities of two known customers, it links to the first found and
 * records a merge suggestion for a person to decide.
 */
#include "store/store_int.h"

#include "core/mem.h"
#include "core/str.h"

#include <stdio.h>
#include <string.h>

void json_set_str_or_null(json_t *obj, const char *key, const char *s)
{
    json_object_set_new(obj, key, s ? json_string(s) : json_null());
}

void json_set_time_or_null(json_t *obj, const char *key, int64_t ms)
{
    if (ms == 0) {
        json_object_set_new(obj, key, json_null());
        return;
    }
    char t[40];
    time_format_rfc3339(ms, t, sizeof t);
    json_object_set_new(obj, key, json_string(t));
}

bool customer_in_has_identity(const struct customer_in *c)
{
    for (int i = 0; i < MODEL_N_IDENTITY_KINDS; i++)
        if (c->ids[i] != NULL)
            return true;
    return false;
}

int64_t customer_by_identity(struct db *db, const char *kind, const char *value)
{
    sqlite3_stmt *st =
        db_stmt(db, "SELECT customer_id FROM identities WHERE kind = $1 AND value = $2");
    db_bind_text_static(st, 1, kind, -1);
    db_bind_text_static(st, 2, value, -1);
    int64_t id = db_step(db, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

/* A customer's name, once set, is never taken away (the only update of it is a
 * COALESCE): the writer's cache remembers who has one.  Keyed by the id. */
static bool customer_named(struct store_tx *tx, int64_t id)
{
    char key[I64_DEC_MAX];
    i64_format(id, key);
    return wcache_get(tx->s, 'n', key) != 0;
}

static void customer_named_put(struct store_tx *tx, int64_t id)
{
    char key[I64_DEC_MAX];
    i64_format(id, key);
    wcache_put(tx->s, 'n', key, 1);
}

int64_t store_identity_customer(struct store_tx *tx, int k, const char *value)
{
    char tag = (char)('A' + k);
    int64_t id = wcache_get(tx->s, tag, value);
    if (id == 0) {
        id = customer_by_identity(tx->db, model_identity_kinds[k].kind, value);
        wcache_put(tx->s, tag, value, id);
    }
    return id;
}

int store_customer_resolve(struct store_tx *tx, const struct customer_in *c, int64_t request_id,
                           int64_t now_ms, int64_t *out_id, struct err_info *err)
{
    struct db *db = tx->db;
    int64_t found[MODEL_N_IDENTITY_KINDS] = {0};
    int64_t id = 0;
    int rc;
    for (int i = 0; i < MODEL_N_IDENTITY_KINDS; i++) {
        if (c->ids[i] == NULL)
            continue;
        found[i] = store_identity_customer(tx, i, c->ids[i]);
        if (id == 0)
            id = found[i];
    }
    if (id == 0) {
        if (!customer_in_has_identity(c) && c->name == NULL) {
            *out_id = 0;
            return 0;
        }
        sqlite3_stmt *st = db_stmt(
            db, "INSERT INTO customers (name, tier, created_at_ms) VALUES ($1, $2, $3)");
        db_bind_text_static(st, 1, c->name, -1);
        db_bind_text_static(st, 2, c->tier ? c->tier : "regular", -1);
        db_bind_i64(st, 3, now_ms);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
        id = db_last_id(db);
        if (c->name != NULL)
            customer_named_put(tx, id);
    } else if (c->tier != NULL || (c->name != NULL && !customer_named(tx, id))) {
        /* Fill a missing name; a tier given by an integration is authoritative.
         * Most messages change neither: read first, so the row's page is only
         * rewritten (and logged) when something changes. */
        sqlite3_stmt *st = db_stmt(db, "SELECT name IS NULL, tier FROM customers WHERE id = $1");
        db_bind_i64(st, 1, id);
        bool is_stale = false, is_read = db_step(db, st, NULL) == 1;
        if (is_read)
            is_stale = (c->name && db_col_i64(st, 0)) ||
                       (c->tier && strcmp(c->tier, db_col_text(st, 1)) != 0);
        sqlite3_reset(st);
        if (is_read && c->name != NULL) /* named now, if not before */
            customer_named_put(tx, id);
        if (is_stale) {
            st = db_stmt(db, "UPDATE customers SET name = COALESCE(name, $2), "
                             "tier = COALESCE($3, tier) WHERE id = $1");
            db_bind_i64(st, 1, id);
            db_bind_text_static(st, 2, c->name, -1);
            db_bind_text_static(st, 3, c->tier, -1);
            if ((rc = db_run(db, st, err)) != 0)
                return rc;
        }
    }
    for (int i = 0; i < MODEL_N_IDENTITY_KINDS; i++) {
        if (c->ids[i] == NULL)
            continue;
        if (found[i] == 0) {
            sqlite3_stmt *st = db_stmt(db, "INSERT INTO identities (kind, value, customer_id, "
                                           "created_at_ms) VALUES ($1, $2, $3, $4)");
            db_bind_text_static(st, 1, model_identity_kinds[i].kind, -1);
            db_bind_text_static(st, 2, c->ids[i], -1);
            db_bind_i64(st, 3, id);
            db_bind_i64(st, 4, now_ms);
            if ((rc = db_run(db, st, err)) != 0)
                return rc;
            wcache_put(tx->s, (char)('A' + i), c->ids[i], id);
        } else if (found[i] != id) {
            sqlite3_stmt *st = db_stmt(
                db, "INSERT INTO merge_suggestions (customer_id, other_customer_id, reason, "
                    "request_id, created_at_ms) SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS "
                    "(SELECT 1 FROM merge_suggestions WHERE customer_id = $2 AND "
                    "other_customer_id = $1) ON CONFLICT (customer_id, other_customer_id) "
                    "DO NOTHING");
            db_bind_i64(st, 1, id);
            db_bind_i64(st, 2, found[i]);
            db_bind_text_static(st, 3, model_identity_kinds[i].kind, -1);
            db_bind_i64_or_null(st, 4, request_id);
            db_bind_i64(st, 5, now_ms);
            if ((rc = db_run(db, st, err)) != 0)
                return rc;
            if (db_changes(db) > 0) {
                char data[160];
                snprintf(data, sizeof data,
                         "{\"other_customer_id\":%lld,\"identity\":\"%s\"}",
                         (long long)found[i], model_identity_kinds[i].kind);
                int64_t ev = store_event_add(tx, "customer.merge_suggested", 0, id, 0, 0, NULL,
                                             data, err);
                if (ev < 0)
                    return (int)ev;
            }
        }
    }
    *out_id = id;
    return 0;
}

int64_t store_bonus_balance(struct db *r, int64_t customer_id)
{
    sqlite3_stmt *st =
        db_stmt(r, "SELECT COALESCE(SUM(amount), 0) FROM bonus_ledger WHERE customer_id = $1");
    db_bind_i64(st, 1, customer_id);
    int64_t v = db_step(r, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    return v;
}

static json_t *money(int64_t kop)
{
    return json_real((double)kop / 100.0);
}

/* A statement's condition that its row ($3: a store id or 0, $4: a region or
 * NULL) lies in the scope; the statement joins the row's store as s. */
#define IN_SCOPE(t) "AND ($3 = 0 OR " t ".store_id = $3) AND ($4 IS NULL OR s.region = $4) "

static void bind_scope(sqlite3_stmt *st, const struct scope_filter *sf)
{
    db_bind_i64(st, 3, sf != NULL && sf->scope == SCOPE_STORE ? sf->store_id : 0);
    if (sf != NULL && sf->scope == SCOPE_REGION)
        db_bind_text(st, 4, sf->region, -1);
    else
        db_bind_null(st, 4);
}

/* Orders of a customer with their history; open_only for the lookup. */
static json_t *customer_orders(struct db *r, int64_t customer_id, const struct scope_filter *sf,
                               bool open_only, int limit)
{
    json_t *arr = json_array();
    /* Open means not delivered, cancelled or returned (model_order_status_is_open). */
#define ORDER_COLUMNS                                                                          \
    "SELECT o.id, o.external_id, o.status, o.total_kop, o.promised_at_ms, o.created_at_ms, "     \
    "o.updated_at_ms, s.code FROM orders o LEFT JOIN stores s ON s.id = o.store_id "             \
    "WHERE o.customer_id = $1 "
    /* The open ones come from the index of open orders (its condition, word for word). */
    sqlite3_stmt *st = db_stmt(
        r, open_only ? ORDER_COLUMNS "AND o.status <> 'delivered' AND o.status <> 'cancelled' "
                                     "AND o.status <> 'returned' " IN_SCOPE("o")
                                     "ORDER BY o.id DESC LIMIT $2"
                     : ORDER_COLUMNS IN_SCOPE("o") "ORDER BY o.id DESC LIMIT $2");
#undef ORDER_COLUMNS
    db_bind_i64(st, 1, customer_id);
    db_bind_i64(st, 2, limit);
    bind_scope(st, sf);
    while (db_step(r, st, NULL) == 1) {
        const char *status = db_col_text(st, 2);
        json_t *o = json_pack("{s:s, s:s, s:o}", "id", db_col_text(st, 1), "status", status,
                              "total", money(db_col_i64(st, 3)));
        json_set_time_or_null(o, "promised_at", db_col_i64(st, 4));
        json_set_time_or_null(o, "created_at", db_col_i64(st, 5));
        json_set_time_or_null(o, "updated_at", db_col_i64(st, 6));
        json_set_str_or_null(o, "store", db_col_text(st, 7));
        if (!open_only)
            json_object_set_new(o, "_id", json_integer(db_col_i64(st, 0)));
        json_array_append_new(arr, o);
    }
    sqlite3_reset(st);
    if (open_only)
        return arr;
    /* Status history, one query per order shown (bounded by limit). */
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        int64_t oid = json_integer_value(json_object_get(o, "_id"));
        json_object_del(o, "_id");
        json_t *hist = json_array();
        sqlite3_stmt *h = db_stmt(r, "SELECT status, note, at_ms FROM order_history "
                                     "WHERE order_id = $1 ORDER BY id");
        db_bind_i64(h, 1, oid);
        while (db_step(r, h, NULL) == 1) {
            json_t *e = json_pack("{s:s}", "status", db_col_text(h, 0));
            json_set_str_or_null(e, "note", db_col_text(h, 1));
            json_set_time_or_null(e, "at", db_col_i64(h, 2));
            json_array_append_new(hist, e);
        }
        sqlite3_reset(h);
        json_object_set_new(o, "history", hist);
    }
    return arr;
}

static json_t *customer_requests(struct db *r, int64_t customer_id, const struct scope_filter *sf,
                                 bool open_only, int limit)
{
    json_t *arr = json_array();
#define REQUEST_COLUMNS                                                                        \
    "SELECT r.id, r.channel, r.kind, r.status, r.priority, r.topic, r.subject, r.created_at_ms, " \
    "s.code FROM requests r LEFT JOIN stores s ON s.id = r.store_id WHERE r.customer_id = $1 "
    /* Open means neither solved nor closed (model_status_is_open); the open ones
     * come from the index of open requests (its condition, word for word). */
    sqlite3_stmt *st = db_stmt(
        r, open_only ? REQUEST_COLUMNS "AND r.status <> 'solved' AND r.status <> 'closed' "
                                       IN_SCOPE("r") "ORDER BY r.id DESC LIMIT $2"
                     : REQUEST_COLUMNS IN_SCOPE("r") "ORDER BY r.id DESC LIMIT $2");
#undef REQUEST_COLUMNS
    db_bind_i64(st, 1, customer_id);
    db_bind_i64(st, 2, limit);
    bind_scope(st, sf);
    while (db_step(r, st, NULL) == 1) {
        const char *status = db_col_text(st, 3);
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)db_col_i64(st, 0),
                              "channel", db_col_text(st, 1), "kind", db_col_text(st, 2),
                              "status", status, "priority", db_col_text(st, 4));
        json_set_str_or_null(o, "topic", db_col_text(st, 5));
        json_set_str_or_null(o, "subject", db_col_text(st, 6));
        json_set_time_or_null(o, "created_at", db_col_i64(st, 7));
        json_set_str_or_null(o, "store", db_col_text(st, 8));
        json_array_append_new(arr, o);
    }
    sqlite3_reset(st);
    return arr;
}

/* May sf see this customer?  Scoped roles see customers who wrote to their stores. */
static bool customer_visible(struct db *r, int64_t id, const struct scope_filter *sf)
{
    if (sf == NULL || sf->scope == SCOPE_ALL)
        return true;
    sqlite3_stmt *st;
    if (sf->scope == SCOPE_STORE) {
        st = db_stmt(r, "SELECT 1 FROM requests WHERE customer_id = $1 AND store_id = $2 LIMIT 1");
        db_bind_i64(st, 1, id);
        db_bind_i64(st, 2, sf->store_id);
    } else {
        st = db_stmt(r, "SELECT 1 FROM requests r JOIN stores s ON s.id = r.store_id "
                        "WHERE r.customer_id = $1 AND s.region = $2 LIMIT 1");
        db_bind_i64(st, 1, id);
        db_bind_text(st, 2, sf->region, -1);
    }
    bool ok = db_step(r, st, NULL) == 1;
    sqlite3_reset(st);
    return ok;
}

int store_customer_get(struct db *r, int64_t id, const struct scope_filter *sf, json_t **out,
                       struct err_info *err)
{
    sqlite3_stmt *st =
        db_stmt(r, "SELECT name, tier, created_at_ms FROM customers WHERE id = $1");
    db_bind_i64(st, 1, id);
    int step = db_step(r, st, err);
    if (step < 0) {
        sqlite3_reset(st);
        return step;
    }
    if (step != 1 || !customer_visible(r, id, sf)) {
        sqlite3_reset(st);
        return err_set(err, ERR_NOTFOUND, "id", "no customer %lld", (long long)id);
    }
    json_t *c = json_pack("{s:I}", "id", (json_int_t)id);
    json_set_str_or_null(c, "name", db_col_text(st, 0));
    json_object_set_new(c, "tier", json_string(db_col_text(st, 1)));
    json_set_time_or_null(c, "created_at", db_col_i64(st, 2));
    sqlite3_reset(st);

    json_t *ids = json_array();
    st = db_stmt(r, "SELECT kind, value FROM identities WHERE customer_id = $1 ORDER BY kind");
    db_bind_i64(st, 1, id);
    while (db_step(r, st, NULL) == 1)
        json_array_append_new(ids, json_pack("{s:s, s:s}", "kind", db_col_text(st, 0), "value",
                                             db_col_text(st, 1)));
    sqlite3_reset(st);
    json_object_set_new(c, "identities", ids);

    /* A scoped role sees the requests, orders and purchases of its stores only. */
    json_object_set_new(c, "requests", customer_requests(r, id, sf, false, 50));
    json_object_set_new(c, "orders", customer_orders(r, id, sf, false, 20));

    json_t *purchases = json_array();
    st = db_stmt(r, "SELECT p.external_id, p.total_kop, p.items, p.at_ms, s.code "
                    "FROM purchases p LEFT JOIN stores s ON s.id = p.store_id "
                    "WHERE p.customer_id = $1 " IN_SCOPE("p") "ORDER BY p.at_ms DESC LIMIT 50");
    db_bind_i64(st, 1, id);
    bind_scope(st, sf);
    while (db_step(r, st, NULL) == 1) {
        json_t *p = json_pack("{s:o, s:I}", "total", money(db_col_i64(st, 1)), "items",
                              (json_int_t)db_col_i64(st, 2));
        json_set_str_or_null(p, "id", db_col_text(st, 0));
        json_set_time_or_null(p, "at", db_col_i64(st, 3));
        json_set_str_or_null(p, "store", db_col_text(st, 4));
        json_array_append_new(purchases, p);
    }
    sqlite3_reset(st);
    json_object_set_new(c, "purchases", purchases);

    json_t *ledger = json_array();
    st = db_stmt(r, "SELECT amount, reason, ref, actor, at_ms FROM bonus_ledger "
                    "WHERE customer_id = $1 ORDER BY id DESC LIMIT 50");
    db_bind_i64(st, 1, id);
    while (db_step(r, st, NULL) == 1) {
        json_t *m = json_pack("{s:I, s:s}", "amount", (json_int_t)db_col_i64(st, 0), "reason",
                              db_col_text(st, 1));
        json_set_str_or_null(m, "ref", db_col_text(st, 2));
        json_set_str_or_null(m, "actor", db_col_text(st, 3));
        json_set_time_or_null(m, "at", db_col_i64(st, 4));
        json_array_append_new(ledger, m);
    }
    sqlite3_reset(st);
    json_object_set_new(c, "bonus", json_pack("{s:I, s:o}", "balance",
                                             (json_int_t)store_bonus_balance(r, id), "ledger",
                                             ledger));

    json_t *merges = json_array();
    st = db_stmt(r, "SELECT CASE WHEN customer_id = $1 THEN other_customer_id "
                    "ELSE customer_id END, reason, status FROM merge_suggestions "
                    "WHERE customer_id = $1 OR other_customer_id = $1");
    db_bind_i64(st, 1, id);
    while (db_step(r, st, NULL) == 1)
        json_array_append_new(merges, json_pack("{s:I, s:s, s:s}", "customer_id",
                                                (json_int_t)db_col_i64(st, 0), "identity",
                                                db_col_text(st, 1), "status", db_col_text(st, 2)));
    sqlite3_reset(st);
    json_object_set_new(c, "merge_suggestions", merges);
    *out = c;
    return 0;
}

int store_customer_lookup(struct db *r, const char *kind, const char *value,
                          const struct scope_filter *sf, json_t **out, struct err_info *err)
{
    /* The identity, the customer and the bonus balance in one statement: the
     * IVR asks this on every call, so each step saved counts. */
    sqlite3_stmt *st = db_stmt(
        r, "SELECT c.id, c.name, c.tier, (SELECT COALESCE(SUM(b.amount), 0) FROM bonus_ledger b "
           "WHERE b.customer_id = c.id) FROM identities i JOIN customers c ON c.id = i.customer_id "
           "WHERE i.kind = $1 AND i.value = $2");
    db_bind_text(st, 1, kind, -1);
    db_bind_text(st, 2, value, -1);
    int step = db_step(r, st, err);
    if (step != 1) {
        sqlite3_reset(st);
        return step < 0 ? step : err_set(err, ERR_NOTFOUND, kind, "no customer with this %s", kind);
    }
    int64_t id = db_col_i64(st, 0);
    if (!customer_visible(r, id, sf)) {
        sqlite3_reset(st);
        return err_set(err, ERR_NOTFOUND, kind, "no customer with this %s", kind);
    }
    json_t *c = json_pack("{s:I}", "customer_id", (json_int_t)id);
    json_set_str_or_null(c, "name", db_col_text(st, 1));
    json_object_set_new(c, "tier", json_string(db_col_text(st, 2)));
    json_object_set_new(c, "bonus_balance", json_integer(db_col_i64(st, 3)));
    sqlite3_reset(st);
    json_object_set_new(c, "open_orders", customer_orders(r, id, sf, true, 10));
    json_object_set_new(c, "open_requests", customer_requests(r, id, sf, true, 10));
    *out = c;
    return 0;
}
