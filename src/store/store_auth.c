/*
 * store_auth.c - users, API tokens and sessions.
 *
 * Passwords are stored as Argon2id strings (hashed by the caller with
 * libsodium); tokens and session ids only as 32-byte BLAKE2b hashes, so a
 * copy of the database does not let anyone log in.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

int store_user_add(struct store_tx *tx, const struct user_in *in, int64_t *out_id,
                   struct err_info *err)
{
    int64_t store_id = 0;
    if (in->store_code) {
        store_id = store_store_id(tx->db, in->store_code);
        if (store_id == 0)
            return err_set(err, ERR_INVALID, "store", "unknown store code '%s'", in->store_code);
    }
    sqlite3_stmt *st = db_stmt(tx->db, "INSERT INTO users (login, name, role, password_hash, "
                                       "store_id, region, skills, created_at_ms) "
                                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    db_bind_text(st, 1, in->login, -1);
    db_bind_text(st, 2, in->name ? in->name : in->login, -1);
    db_bind_text(st, 3, in->role, -1);
    db_bind_text(st, 4, in->password_hash, -1);
    db_bind_i64_or_null(st, 5, store_id);
    db_bind_text(st, 6, in->region, -1);
    db_bind_text(st, 7, in->skills ? in->skills : "", -1);
    db_bind_i64(st, 8, tx_now_ms());
    int rc = db_run(tx->db, st, err);
    if (rc == ERR_CONFLICT) {
        err_clear(err);
        return err_set(err, ERR_CONFLICT, "login", "user '%s' exists already", in->login);
    }
    if (rc == 0 && out_id)
        *out_id = db_last_id(tx->db);
    return rc;
}

/* Fill the scope fields of a principal from role, store and region. */
static void principal_scope(struct principal *p, int64_t store_id, const char *region)
{
    p->perms = model_role_perms(p->role);
    p->scope.scope = model_role_scope(p->role);
    p->scope.store_id = store_id;
    snprintf(p->region, sizeof p->region, "%s", region ? region : "");
    p->scope.region = p->region;
    /* A token or user bound to a store or a region sees that much whatever its role. */
    if (p->scope.scope == SCOPE_ALL && store_id != 0)
        p->scope.scope = SCOPE_STORE;
    else if (p->scope.scope == SCOPE_ALL && p->region[0] != '\0')
        p->scope.scope = SCOPE_REGION;
    /* An import writes customers, stores and requests of the whole chain: only a
     * principal bound to no store or region may send one (refused before its body). */
    if (p->scope.scope != SCOPE_ALL)
        p->perms &= ~(unsigned)PERM_IMPORT;
    /* Filters read store id 0 as "every store": a store role without a store sees none. */
    if (p->scope.scope == SCOPE_STORE && store_id == 0)
        p->scope.store_id = -1;
}

int store_user_by_login(struct db *r, const char *login, char *hash, size_t hash_cap,
                        struct principal *out, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT id, name, role, password_hash, store_id, region "
                                  "FROM users WHERE login = $1 AND is_active = 1");
    db_bind_text(st, 1, login, -1);
    if (db_step(r, st, err) != 1) {
        sqlite3_reset(st);
        return err_set(err, ERR_UNAUTHORIZED, "login", "wrong login or password");
    }
    memset(out, 0, sizeof *out);
    out->user_id = db_col_i64(st, 0);
    snprintf(out->login, sizeof out->login, "%s", login);
    snprintf(out->name, sizeof out->name, "%s", db_col_text(st, 1));
    snprintf(out->role, sizeof out->role, "%s", db_col_text(st, 2));
    snprintf(hash, hash_cap, "%s", db_col_text(st, 3));
    principal_scope(out, db_col_i64(st, 4), db_col_text(st, 5));
    sqlite3_reset(st);
    return 0;
}

int store_token_add(struct store_tx *tx, const char *name, const unsigned char hash[32],
                    const char *role, const char *store_code, const char *region, int64_t *out_id,
                    struct err_info *err)
{
    int64_t store_id = 0;
    if (store_code) {
        store_id = store_store_id(tx->db, store_code);
        if (store_id == 0)
            return err_set(err, ERR_INVALID, "store", "unknown store code '%s'", store_code);
    }
    sqlite3_stmt *st = db_stmt(tx->db, "INSERT INTO api_tokens (name, token_hash, role, "
                                       "store_id, region, created_at_ms) "
                                       "VALUES ($1, $2, $3, $4, $5, $6)");
    db_bind_text(st, 1, name, -1);
    db_bind_blob(st, 2, hash, 32);
    db_bind_text(st, 3, role, -1);
    db_bind_i64_or_null(st, 4, store_id);
    db_bind_text(st, 5, region, -1);
    db_bind_i64(st, 6, tx_now_ms());
    int rc = db_run(tx->db, st, err);
    if (rc == 0 && out_id)
        *out_id = db_last_id(tx->db);
    return rc;
}

int store_session_add(struct store_tx *tx, const unsigned char hash[32], int64_t user_id,
                      const char *csrf, int64_t expires_at_ms, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(tx->db, "INSERT INTO sessions (token_hash, user_id, csrf, "
                                       "created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5)");
    db_bind_blob(st, 1, hash, 32);
    db_bind_i64(st, 2, user_id);
    db_bind_text(st, 3, csrf, -1);
    db_bind_i64(st, 4, tx_now_ms());
    db_bind_i64(st, 5, expires_at_ms);
    int rc = db_run(tx->db, st, err);
    if (rc != 0)
        return rc;
    /* Expired sessions are swept here, where a write happens anyway. */
    st = db_stmt(tx->db, "DELETE FROM sessions WHERE expires_at_ms < $1");
    db_bind_i64(st, 1, tx_now_ms());
    return db_run(tx->db, st, err);
}

int store_session_delete(struct store_tx *tx, const unsigned char hash[32], struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(tx->db, "DELETE FROM sessions WHERE token_hash = $1");
    db_bind_blob(st, 1, hash, 32);
    return db_run(tx->db, st, err);
}

int store_principal_by_token(struct db *r, const unsigned char hash[32], struct principal *out,
                             struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT id, name, role, store_id, region FROM api_tokens "
                                  "WHERE token_hash = $1 AND revoked_at_ms IS NULL");
    db_bind_blob(st, 1, hash, 32);
    if (db_step(r, st, err) != 1) {
        sqlite3_reset(st);
        return err_set(err, ERR_UNAUTHORIZED, "", "unknown or revoked API token");
    }
    memset(out, 0, sizeof *out);
    out->token_id = db_col_i64(st, 0);
    snprintf(out->login, sizeof out->login, "%s", db_col_text(st, 1));
    snprintf(out->name, sizeof out->name, "%s", db_col_text(st, 1));
    snprintf(out->role, sizeof out->role, "%s", db_col_text(st, 2));
    principal_scope(out, db_col_i64(st, 3), db_col_text(st, 4));
    sqlite3_reset(st);
    return 0;
}

int store_principal_by_session(struct db *r, const unsigned char hash[32], int64_t now_ms,
                               struct principal *out, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(
        r, "SELECT u.id, u.login, u.name, u.role, u.store_id, u.region, s.csrf, s.expires_at_ms "
           "FROM sessions s JOIN users u ON u.id = s.user_id "
           "WHERE s.token_hash = $1 AND s.expires_at_ms > $2 AND u.is_active = 1");
    db_bind_blob(st, 1, hash, 32);
    db_bind_i64(st, 2, now_ms);
    if (db_step(r, st, err) != 1) {
        sqlite3_reset(st);
        return err_set(err, ERR_UNAUTHORIZED, "", "the session has expired; log in again");
    }
    memset(out, 0, sizeof *out);
    out->user_id = db_col_i64(st, 0);
    snprintf(out->login, sizeof out->login, "%s", db_col_text(st, 1));
    snprintf(out->name, sizeof out->name, "%s", db_col_text(st, 2));
    snprintf(out->role, sizeof out->role, "%s", db_col_text(st, 3));
    principal_scope(out, db_col_i64(st, 4), db_col_text(st, 5));
    snprintf(out->csrf, sizeof out->csrf, "%s", db_col_text(st, 6));
    out->expires_at_ms = db_col_i64(st, 7);
    sqlite3_reset(st);
    return 0;
}

int store_users_list(struct db *r, json_t **out, struct err_info *err)
{
    (void)err;
    json_t *arr = json_array();
    sqlite3_stmt *st = db_stmt(r, "SELECT u.id, u.login, u.name, u.role, s.code, u.region, "
                                  "u.skills, u.is_active FROM users u "
                                  "LEFT JOIN stores s ON s.id = u.store_id ORDER BY u.id");
    while (db_step(r, st, NULL) == 1) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:b}", "id",
                              (json_int_t)db_col_i64(st, 0), "login", db_col_text(st, 1), "name",
                              db_col_text(st, 2), "role", db_col_text(st, 3), "skills",
                              db_col_text(st, 6), "is_active", db_col_i64(st, 7) != 0);
        json_set_str_or_null(o, "store", db_col_text(st, 4));
        json_set_str_or_null(o, "region", db_col_text(st, 5));
        json_array_append_new(arr, o);
    }
    sqlite3_reset(st);
    *out = arr;
    return 0;
}
