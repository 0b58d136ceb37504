/*
 * db.c - SQLite connection with pragmas and a statement cache.
 *
 * The cache is an open-addressing table keyed by the address of the SQL
 * text; every query in otklik is a string constant, so the address is a
 * stable, cheap identity and no hashing of the text is needed.
 */
#include "store/db.h"

#include "core/log.h"
#include "core/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stmt_slot {
    const char *sql; /* key: address of a static string */
    sqlite3_stmt *st;
};

struct db {
    sqlite3 *h;
    struct stmt_slot *slots; /* open addressing, power-of-two size */
    size_t n_slots;
    size_t n_used;
};

sqlite3 *db_handle(struct db *db)
{
    return db->h;
}

/*
 * Process-wide settings, before SQLite's first use: no memory statistics
 * (they take one global mutex around every allocation of every connection,
 * which the writer and the readers would contend on).
 */
static bool has_walbuf;

static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    has_walbuf = walbuf_register() == SQLITE_OK;
}

int db_open(const char *path, bool is_writer, int cache_kib, struct db **out, struct err_info *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    sqlite3 *h = NULL;
    int flags = SQLITE_OPEN_NOMUTEX | (is_writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                                 : SQLITE_OPEN_READONLY);
    int rc = sqlite3_open_v2(path, &h, flags, is_writer && has_walbuf ? WALBUF_VFS : NULL);
    if (rc != SQLITE_OK) {
        err_set(err, ERR_IO, "db", "cannot open database %s: %s", path,
                h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
        sqlite3_close(h);
        return ERR_IO;
    }
    sqlite3_busy_timeout(h, 5000);
    sqlite3_extended_result_codes(h, 1);
    /* Small allocations of a statement's run come from a per-connection pool
     * (the default pool of 100 slots runs out in the writer's batches). */
    sqlite3_db_config(h, SQLITE_DBCONFIG_LOOKASIDE, NULL, 256, is_writer ? 4096 : 512);
    char pragmas[512];
    if (is_writer)
        /* Foreign keys are declared (documentation, PostgreSQL) but not enforced
         * here: every reference is resolved by a lookup in the same job before it
         * is written, and the check would repeat that lookup on every insert. */
        snprintf(pragmas, sizeof pragmas,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
                 "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-%d; PRAGMA wal_autocheckpoint=4000;"
                 "PRAGMA analysis_limit=1000;",
                 cache_kib);
    else
        snprintf(pragmas, sizeof pragmas,
                 "PRAGMA query_only=1; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-%d;",
                 cache_kib);
    char *msg = NULL;
    if (sqlite3_exec(h, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        err_set(err, ERR_IO, "db", "cannot configure database %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(h);
        return ERR_IO;
    }
    struct db *db = xcalloc(1, sizeof *db);
    db->h = h;
    db->n_slots = 128;
    db->slots = xcalloc(db->n_slots, sizeof *db->slots);
    *out = db;
    return 0;
}

void db_close(struct db *db)
{
    if (db == NULL)
        return;
    for (size_t i = 0; i < db->n_slots; i++)
        if (db->slots[i].st)
            sqlite3_finalize(db->slots[i].st);
    free(db->slots);
    sqlite3_close(db->h);
    free(db);
}

static size_t slot_index(const char *sql, size_t n_slots)
{
    uintptr_t k = (uintptr_t)sql;
    k ^= k >> 17;
    k *= 0x9E3779B97F4A7C15ull;
    return (size_t)(k >> 7) & (n_slots - 1);
}

static void cache_put(struct db *db, const char *sql, sqlite3_stmt *st)
{
    if ((db->n_used + 1) * 2 > db->n_slots) {
        struct stmt_slot *old = db->slots;
        size_t n_old = db->n_slots;
        db->n_slots *= 2;
        db->slots = xcalloc(db->n_slots, sizeof *db->slots);
        for (size_t i = 0; i < n_old; i++) {
            if (old[i].sql == NULL)
                continue;
            size_t j = slot_index(old[i].sql, db->n_slots);
            while (db->slots[j].sql)
                j = (j + 1) & (db->n_slots - 1);
            db->slots[j] = old[i];
        }
        free(old);
    }
    size_t j = slot_index(sql, db->n_slots);
    while (db->slots[j].sql)
        j = (j + 1) & (db->n_slots - 1);
    db->slots[j].sql = sql;
    db->slots[j].st = st;
    db->n_used++;
}

/*
 * The one place the portable SQL is adapted to SQLite.  Writes always run
 * inside a job whose savepoint undoes the whole job on any error, so a
 * statement never needs to be rolled back on its own.  SQLite would still
 * open a statement journal for every INSERT or UPDATE that touches several
 * indexes and may abort (almost all of them), copying each page it touches;
 * "OR FAIL" tells it that no statement rollback is wanted.  Upserts (ON
 * CONFLICT) keep their own conflict handling.  Parameters "$n" (the
 * PostgreSQL form) become "?n", whose index is n, so binding needs no lookup
 * by name.  Returns a new string.
 */
static char *sqlite_dialect(const char *sql)
{
    const char *rest = sql, *head = "";
    bool is_upsert = strstr(sql, "ON CONFLICT") != NULL;
    if (!is_upsert && strncmp(sql, "INSERT INTO ", 12) == 0) {
        head = "INSERT OR FAIL INTO ";
        rest = sql + 12;
    } else if (!is_upsert && strncmp(sql, "UPDATE ", 7) == 0) {
        head = "UPDATE OR FAIL ";
        rest = sql + 7;
    }
    size_t n_head = strlen(head), n_rest = strlen(rest);
    char *out = xmalloc(n_head + n_rest + 1);
    memcpy(out, head, n_head);
    char *o = out + n_head;
    bool quoted = false;
    for (const char *p = rest; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        *o++ = !quoted && p[0] == '$' && p[1] >= '0' && p[1] <= '9' ? '?' : *p;
    }
    *o = '\0';
    return out;
}

sqlite3_stmt *db_stmt(struct db *db, const char *sql)
{
    size_t j = slot_index(sql, db->n_slots);
    while (db->slots[j].sql) {
        if (db->slots[j].sql == sql) {
            sqlite3_stmt *st = db->slots[j].st;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
        j = (j + 1) & (db->n_slots - 1);
    }
    sqlite3_stmt *st = NULL;
    char *text = sqlite_dialect(sql);
    if (sqlite3_prepare_v3(db->h, text, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        log_error("db prepare failed: %s sql=%.200s", sqlite3_errmsg(db->h), sql);
        abort();
    }
    free(text);
    cache_put(db, sql, st);
    return st;
}

sqlite3_stmt *db_prepare(struct db *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    char *text = sqlite_dialect(sql);
    if (sqlite3_prepare_v2(db->h, text, -1, &st, NULL) != SQLITE_OK)
        st = NULL;
    free(text);
    return st;
}

int db_exec(struct db *db, const char *sql, struct err_info *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        err_set(err, ERR_IO, "", "database error: %s", msg ? msg : sqlite3_errmsg(db->h));
        sqlite3_free(msg);
        return ERR_IO;
    }
    return 0;
}

static int param_index(sqlite3_stmt *st, int n)
{
    /* "$n" was prepared as "?n", whose index is n. */
#if defined(__SANITIZE_ADDRESS__)
    /* The test build checks that the statement uses it (a linear search). */
    if (sqlite3_bind_parameter_name(st, n) == NULL) {
#else
    if (n < 1 || n > sqlite3_bind_parameter_count(st)) {
#endif
        log_error("db bind: no parameter $%d in %.200s", n, sqlite3_sql(st));
        abort();
    }
    return n;
}

void db_bind_i64(sqlite3_stmt *st, int n, int64_t v)
{
    sqlite3_bind_int64(st, param_index(st, n), v);
}

void db_bind_double(sqlite3_stmt *st, int n, double v)
{
    sqlite3_bind_double(st, param_index(st, n), v);
}

static void bind_text(sqlite3_stmt *st, int n, const char *s, ptrdiff_t len,
                      void (*keep)(void *))
{
    int idx = param_index(st, n);
    if (s == NULL)
        sqlite3_bind_null(st, idx);
    else
        sqlite3_bind_text(st, idx, s, len < 0 ? (int)strlen(s) : (int)len, keep);
}

void db_bind_text(sqlite3_stmt *st, int n, const char *s, ptrdiff_t len)
{
    bind_text(st, n, s, len, SQLITE_TRANSIENT);
}

void db_bind_text_static(sqlite3_stmt *st, int n, const char *s, ptrdiff_t len)
{
    bind_text(st, n, s, len, SQLITE_STATIC);
}

void db_bind_null(sqlite3_stmt *st, int n)
{
    sqlite3_bind_null(st, param_index(st, n));
}

void db_bind_i64_or_null(sqlite3_stmt *st, int n, int64_t v)
{
    if (v == 0)
        db_bind_null(st, n);
    else
        db_bind_i64(st, n, v);
}

void db_bind_blob(sqlite3_stmt *st, int n, const void *p, size_t len)
{
    sqlite3_bind_blob(st, param_index(st, n), p, (int)len, SQLITE_TRANSIENT);
}

int db_step(struct db *db, sqlite3_stmt *st, struct err_info *err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return err_set(err, ERR_CONFLICT, "", "constraint violated: %s", sqlite3_errmsg(db->h));
    log_error("db step failed rc=%d msg=%s", rc, sqlite3_errmsg(db->h));
    return err_set(err, ERR_IO, "", "database error: %s", sqlite3_errmsg(db->h));
}

int db_run(struct db *db, sqlite3_stmt *st, struct err_info *err)
{
    int rc = db_step(db, st, err);
    sqlite3_reset(st);
    return rc < 0 ? rc : 0;
}

const char *db_col_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

int64_t db_col_i64(sqlite3_stmt *st, int col)
{
    return sqlite3_column_int64(st, col);
}

bool db_col_is_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL;
}

int64_t db_last_id(struct db *db)
{
    return sqlite3_last_insert_rowid(db->h);
}

int db_changes(struct db *db)
{
    return sqlite3_changes(db->h);
}
