/*
 * store_orders.c - orders and their status history, purchases (receipts),
 * the bonus ledger, stores and departments.
 *
 * The bonus balance is never stored: it is the sum of the ledger, so it
 * cannot drift from the movements that explain it.
 */
#include "store/store_int.h"

#include "core/buf.h"
#include "core/mem.h"

#include <stdio.h>
#include <string.h>

int64_t store_store_id(struct db *db, const char *code)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT id FROM stores WHERE code = $1");
    db_bind_text(st, 1, code, -1);
    int64_t id = db_step(db, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

int64_t store_store_id_tx(struct store_tx *tx, const char *code)
{
    int64_t id = wcache_get(tx->s, 's', code);
    if (id == 0) {
        id = store_store_id(tx->db, code);
        wcache_put(tx->s, 's', code, id);
    }
    return id;
}

/* Resolve an optional store code: 0 with *id 0 when code is NULL, ERR_INVALID when unknown. */
static int opt_store(struct store_tx *tx, const char *code, int64_t *id, struct err_info *err)
{
    *id = 0;
    if (code == NULL)
        return 0;
    *id = store_store_id_tx(tx, code);
    if (*id == 0)
        return err_set(err, ERR_INVALID, "store", "unknown store code '%s'", code);
    return 0;
}

int store_order_event(struct store_tx *tx, const struct order_event_in *in, int64_t *out_order_id,
                      bool *out_duplicate, struct err_info *err)
{
    struct db *db = tx->db;
    int rc;
    *out_duplicate = false;
    if (in->source_id) {
        sqlite3_stmt *st = db_stmt(db, "SELECT order_id FROM order_history WHERE source_id = $1");
        db_bind_text(st, 1, in->source_id, -1);
        if (db_step(db, st, NULL) == 1) {
            *out_order_id = db_col_i64(st, 0);
            *out_duplicate = true;
            sqlite3_reset(st);
            return 0;
        }
        sqlite3_reset(st);
    }
    int64_t now = tx_now_ms();
    int64_t at = in->at_ms ? in->at_ms : now;
    sqlite3_stmt *st =
        db_stmt(db, "SELECT id, customer_id, store_id, status FROM orders WHERE external_id = $1");
    db_bind_text(st, 1, in->order_ref, -1);
    int64_t order_id = 0, customer_id = 0, store_id = 0;
    char old_status[32] = "";
    if (db_step(db, st, NULL) == 1) {
        order_id = db_col_i64(st, 0);
        customer_id = db_col_i64(st, 1);
        store_id = db_col_i64(st, 2);
        snprintf(old_status, sizeof old_status, "%s", db_col_text(st, 3));
    }
    sqlite3_reset(st);
    if (order_id == 0) {
        if (!customer_in_has_identity(&in->customer))
            return err_set(err, ERR_INVALID, "customer",
                           "order '%s' is new: a customer identity is required", in->order_ref);
        if ((rc = opt_store(tx, in->store_code, &store_id, err)) != 0)
            return rc;
        if ((rc = store_customer_resolve(tx, &in->customer, 0, now, &customer_id, err)) != 0)
            return rc;
        st = db_stmt(db, "INSERT INTO orders (external_id, customer_id, store_id, status, "
                         "total_kop, promised_at_ms, created_at_ms, updated_at_ms) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7, $7)");
        db_bind_text(st, 1, in->order_ref, -1);
        db_bind_i64(st, 2, customer_id);
        db_bind_i64_or_null(st, 3, store_id);
        db_bind_text(st, 4, in->status, -1);
        db_bind_i64(st, 5, in->total_kop > 0 ? in->total_kop : 0);
        db_bind_i64_or_null(st, 6, in->promised_at_ms);
        db_bind_i64(st, 7, at);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
        order_id = db_last_id(db);
    } else {
        st = db_stmt(db, "UPDATE orders SET status = $2, updated_at_ms = $3, "
                         "promised_at_ms = COALESCE($4, promised_at_ms), "
                         "total_kop = CASE WHEN $5 >= 0 THEN $5 ELSE total_kop END WHERE id = $1");
        db_bind_i64(st, 1, order_id);
        db_bind_text(st, 2, in->status, -1);
        db_bind_i64(st, 3, at);
        db_bind_i64_or_null(st, 4, in->promised_at_ms);
        db_bind_i64(st, 5, in->total_kop);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
    }
    st = db_stmt(db, "INSERT INTO order_history (order_id, status, note, source_id, at_ms) "
                     "VALUES ($1, $2, $3, $4, $5)");
    db_bind_i64(st, 1, order_id);
    db_bind_text(st, 2, in->status, -1);
    db_bind_text(st, 3, in->note, -1);
    db_bind_text(st, 4, in->source_id, -1);
    db_bind_i64(st, 5, at);
    if ((rc = db_run(db, st, err)) != 0)
        return rc;
    json_t *d = json_pack("{s:s, s:s}", "order", in->order_ref, "status", in->status);
    json_object_set_new(d, "from", old_status[0] ? json_string(old_status) : json_null());
    if (in->note)
        json_object_set_new(d, "note", json_string(in->note));
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    int64_t ev = store_event_add(tx, "order.status_changed", 0, customer_id, order_id, store_id,
                                 in->actor, text, err);
    free(text);
    if (ev < 0)
        return (int)ev;
    *out_order_id = order_id;
    return 0;
}

int store_order_import(struct store_tx *tx, const struct order_event_in *steps, size_t n_steps,
                       struct err_info *err)
{
    struct db *db = tx->db;
    const struct order_event_in *first = &steps[0], *last = &steps[n_steps - 1];
    int rc;
    sqlite3_stmt *st = db_stmt(db, "SELECT id FROM orders WHERE external_id = $1");
    db_bind_text(st, 1, first->order_ref, -1);
    bool is_known = db_step(db, st, NULL) == 1;
    sqlite3_reset(st);
    if (is_known) {
        for (size_t i = 0; i < n_steps; i++) {
            int64_t id;
            bool dup;
            if ((rc = store_order_event(tx, &steps[i], &id, &dup, err)) != 0)
                return rc;
        }
        return 0;
    }
    if (!customer_in_has_identity(&first->customer))
        return err_set(err, ERR_INVALID, "customer",
                       "order '%s' is new: a customer identity is required", first->order_ref);
    int64_t now = tx_now_ms(), store_id, customer_id;
    if ((rc = opt_store(tx, first->store_code, &store_id, err)) != 0 ||
        (rc = store_customer_resolve(tx, &first->customer, 0, now, &customer_id, err)) != 0)
        return rc;
    int64_t created = first->at_ms ? first->at_ms : now;
    int64_t updated = last->at_ms ? last->at_ms : created;
    st = db_stmt(db, "INSERT INTO orders (external_id, customer_id, store_id, status, total_kop, "
                     "promised_at_ms, created_at_ms, updated_at_ms) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    db_bind_text(st, 1, first->order_ref, -1);
    db_bind_i64(st, 2, customer_id);
    db_bind_i64_or_null(st, 3, store_id);
    db_bind_text(st, 4, last->status, -1);
    db_bind_i64(st, 5, first->total_kop > 0 ? first->total_kop : 0);
    db_bind_i64_or_null(st, 6, first->promised_at_ms);
    db_bind_i64(st, 7, created);
    db_bind_i64(st, 8, updated);
    if ((rc = db_run(db, st, err)) != 0)
        return rc;
    int64_t order_id = db_last_id(db);
    /* Up to four steps a statement: each statement costs about as much as its rows. */
    static const char *const history_sql[] = {
        NULL,
        "INSERT INTO order_history (order_id, status, note, source_id, at_ms) "
        "VALUES ($1, $2, $3, $4, $5)",
        "INSERT INTO order_history (order_id, status, note, source_id, at_ms) "
        "VALUES ($1, $2, $3, $4, $5), ($1, $6, $7, $8, $9)",
        "INSERT INTO order_history (order_id, status, note, source_id, at_ms) "
        "VALUES ($1, $2, $3, $4, $5), ($1, $6, $7, $8, $9), ($1, $10, $11, $12, $13)",
        "INSERT INTO order_history (order_id, status, note, source_id, at_ms) "
        "VALUES ($1, $2, $3, $4, $5), ($1, $6, $7, $8, $9), ($1, $10, $11, $12, $13), "
        "($1, $14, $15, $16, $17)",
    };
    for (size_t i = 0; i < n_steps;) {
        size_t n = n_steps - i < 4 ? n_steps - i : 4;
        st = db_stmt(db, history_sql[n]);
        db_bind_i64(st, 1, order_id);
        for (size_t k = 0; k < n; k++, i++) {
            int p = 2 + 4 * (int)k;
            db_bind_text_static(st, p, steps[i].status, -1);
            db_bind_text_static(st, p + 1, steps[i].note, -1);
            db_bind_text_static(st, p + 2, steps[i].source_id, -1);
            db_bind_i64(st, p + 3, steps[i].at_ms ? steps[i].at_ms : updated);
        }
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
    }
    struct buf d;
    buf_init(&d, 0);
    buf_puts(&d, "{\"order\":");
    buf_put_json_str(&d, first->order_ref);
    buf_puts(&d, ",\"status\":");
    buf_put_json_str(&d, last->status);
    buf_printf(&d, ",\"steps\":%zu}", n_steps);
    int64_t ev = store_event_add(tx, "order.imported", 0, customer_id, order_id, store_id,
                                 first->actor, buf_cstr(&d), err);
    buf_free(&d);
    return ev < 0 ? (int)ev : 0;
}

int store_store_upsert(struct store_tx *tx, const struct store_in *in, int64_t *out_id,
                       struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(
        tx->db, "INSERT INTO stores (code, name, city, region, time_zone, address) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO UPDATE SET "
                "name = excluded.name, city = excluded.city, region = excluded.region, "
                "time_zone = excluded.time_zone, address = excluded.address");
    db_bind_text(st, 1, in->code, -1);
    db_bind_text(st, 2, in->name, -1);
    db_bind_text(st, 3, in->city, -1);
    db_bind_text(st, 4, in->region, -1);
    db_bind_text(st, 5, in->time_zone, -1);
    db_bind_text(st, 6, in->address, -1);
    int rc = db_run(tx->db, st, err);
    int64_t id = rc == 0 ? store_store_id(tx->db, in->code) : 0;
    store_region_forget(tx->s, id);
    if (out_id)
        *out_id = id;
    return rc;
}

int store_department_upsert(struct store_tx *tx, const char *code, const char *name,
                            struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(tx->db, "INSERT INTO departments (code, name) VALUES ($1, $2) "
                                       "ON CONFLICT (code) DO UPDATE SET name = excluded.name");
    db_bind_text(st, 1, code, -1);
    db_bind_text(st, 2, name, -1);
    return db_run(tx->db, st, err);
}

int store_purchase_add(struct store_tx *tx, const struct purchase_in *in, struct err_info *err)
{
    int64_t store_id, customer_id;
    int rc = opt_store(tx, in->store_code, &store_id, err);
    if (rc != 0)
        return rc;
    if ((rc = store_customer_resolve(tx, &in->customer, 0, tx_now_ms(), &customer_id, err)) != 0)
        return rc;
    if (customer_id == 0)
        return err_set(err, ERR_INVALID, "customer", "a purchase needs a customer identity");
    sqlite3_stmt *st = db_stmt(tx->db, "INSERT INTO purchases (external_id, customer_id, "
                                       "store_id, total_kop, items, at_ms) "
                                       "VALUES ($1, $2, $3, $4, $5, $6)");
    db_bind_text(st, 1, in->external_id, -1);
    db_bind_i64(st, 2, customer_id);
    db_bind_i64_or_null(st, 3, store_id);
    db_bind_i64(st, 4, in->total_kop);
    db_bind_i64(st, 5, in->items);
    db_bind_i64(st, 6, in->at_ms ? in->at_ms : tx_now_ms());
    rc = db_run(tx->db, st, err);
    if (rc == ERR_CONFLICT) {
        err_clear(err);
        return err_set(err, ERR_CONFLICT, "id", "purchase '%s' exists already",
                       in->external_id ? in->external_id : "");
    }
    return rc;
}

int store_bonus_add(struct store_tx *tx, const struct bonus_in *in, struct err_info *err)
{
    int64_t customer_id = in->customer_id;
    int rc;
    if (customer_in_has_identity(&in->customer)) {
        customer_id = 0;
        for (int i = 0; i < MODEL_N_IDENTITY_KINDS && customer_id == 0; i++)
            if (in->customer.ids[i])
                customer_id = store_identity_customer(tx, i, in->customer.ids[i]);
    }
    if (customer_id == 0)
        return err_set(err, ERR_INVALID, "customer", "no such customer");
    if (in->amount < 0 && store_bonus_balance(tx->db, customer_id) + in->amount < 0)
        return err_set(err, ERR_CONFLICT, "amount", "the bonus balance cannot go below zero");
    sqlite3_stmt *st = db_stmt(tx->db, "INSERT INTO bonus_ledger (customer_id, amount, reason, "
                                       "ref, actor, at_ms) VALUES ($1, $2, $3, $4, $5, $6)");
    db_bind_i64(st, 1, customer_id);
    db_bind_i64(st, 2, in->amount);
    db_bind_text_static(st, 3, in->reason, -1);
    db_bind_text_static(st, 4, in->ref, -1);
    db_bind_text_static(st, 5, in->actor, -1);
    db_bind_i64(st, 6, in->at_ms ? in->at_ms : tx_now_ms());
    if ((rc = db_run(tx->db, st, err)) == ERR_CONFLICT) {
        err_clear(err);
        return err_set(err, ERR_CONFLICT, "ref", "a %s movement with ref '%s' is recorded already",
                       in->reason, in->ref ? in->ref : "");
    }
    return rc;
}

int store_stores_list(struct db *r, json_t **out, struct err_info *err)
{
    (void)err;
    json_t *arr = json_array();
    sqlite3_stmt *st = db_stmt(r, "SELECT code, name, city, region, time_zone, address "
                                  "FROM stores ORDER BY code");
    while (db_step(r, st, NULL) == 1) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "code", db_col_text(st, 0), "name",
                              db_col_text(st, 1), "city", db_col_text(st, 2), "region",
                              db_col_text(st, 3), "time_zone", db_col_text(st, 4));
        json_set_str_or_null(o, "address", db_col_text(st, 5));
        json_array_append_new(arr, o);
    }
    sqlite3_reset(st);
    *out = arr;
    return 0;
}
