/*
 * notify.c - notifications for people: one row per user told (the store's
 * director, the region's manager, every supervisor, ...), or one row for a
 * role of a store/region when nobody holds it yet, so whoever later signs
 * in with that role and scope sees it.  Each call is also one
 * notification.created event on the request, naming whom and why.
 */
#include "rules/rules_int.h"

#include <stdio.h>
#include <string.h>

static int insert_row(struct rules_job *j, int64_t user_id, const char *role, int64_t store_id,
                      const char *region, int64_t request_id, const char *kind,
                      const char *title, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO notifications (user_id, role, store_id, region, "
                                   "request_id, kind, title, created_at_ms) "
                                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    db_bind_i64_or_null(st, 1, user_id);
    db_bind_text(st, 2, role, -1);
    db_bind_i64_or_null(st, 3, store_id);
    db_bind_text(st, 4, region && region[0] ? region : NULL, -1);
    db_bind_i64_or_null(st, 5, request_id);
    db_bind_text(st, 6, kind, -1);
    db_bind_text(st, 7, title, -1);
    db_bind_i64(st, 8, j->now_ms);
    return db_run(db, st, err);
}

int notify_role(struct rules_job *j, const char *role, int64_t user_id, int64_t request_id,
                int64_t store_id, const char *kind, const char *title, const char *actor,
                struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    char region[64] = "";
    if (store_id) {
        sqlite3_stmt *st = db_stmt(db, "SELECT region FROM stores WHERE id = $1");
        db_bind_i64(st, 1, store_id);
        if (db_step(db, st, NULL) == 1)
            snprintf(region, sizeof region, "%s", db_col_text(st, 0));
        sqlite3_reset(st);
    }
    json_t *users = json_array();
    int rc = 0;
    if (user_id) {
        rc = insert_row(j, user_id, NULL, 0, NULL, request_id, kind, title, err);
        json_array_append_new(users, json_integer(user_id));
    } else if (strcmp(role, "operator") != 0) {
        /* Whom a role means for this request: the store's director, the region's manager. */
        bool by_store = strcmp(role, "store_director") == 0;
        bool by_region = strcmp(role, "regional_manager") == 0;
        sqlite3_stmt *st = db_stmt(db, "SELECT id FROM users WHERE role = $1 AND is_active = 1 "
                                       "AND ($2 = 0 OR store_id = $3) AND ($4 = 0 OR region = $5) "
                                       "ORDER BY id LIMIT 50");
        db_bind_text(st, 1, role, -1);
        db_bind_i64(st, 2, by_store);
        db_bind_i64(st, 3, store_id);
        db_bind_i64(st, 4, by_region);
        db_bind_text(st, 5, region, -1);
        int64_t ids[50];
        int n = 0;
        while (n < 50 && db_step(db, st, NULL) == 1)
            ids[n++] = db_col_i64(st, 0);
        sqlite3_reset(st);
        for (int i = 0; i < n && rc == 0; i++) {
            rc = insert_row(j, ids[i], role, store_id, region, request_id, kind, title, err);
            json_array_append_new(users, json_integer(ids[i]));
        }
    }
    if (rc == 0 && json_array_size(users) == 0)
        rc = insert_row(j, 0, role, store_id, region, request_id, kind, title, err);
    if (rc != 0) {
        json_decref(users);
        return rc;
    }
    json_t *d = json_pack("{s:s, s:s, s:o}", "kind", kind, "title", title, "user_ids", users);
    json_object_set_new(d, "role", role ? json_string(role) : json_null());
    return job_event(j, "notification.created", request_id, 0, 0, store_id, actor, d, err);
}
