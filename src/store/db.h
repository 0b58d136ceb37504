/*
 * db.h - a thin layer over one SQLite connection: open with the project's
 * pragmas, a prepared-statement cache keyed by the SQL text's address, and
 * small bind/column helpers.  Domain queries live in store_*.c and are
 * written in portable SQL with $1-style parameters.
 *
 * A struct db is used by one thread at a time (the writer, or a reader
 * borrowed from the pool).
 */
#ifndef OTKLIK_DB_H
#define OTKLIK_DB_H

#include "core/err.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/*
 * Open (creating if is_writer) the database file at path.  The writer gets
 * WAL, synchronous=FULL (a commit is on disk before it returns; the store
 * then hands the WAL's fsync to threads of its own, durable.c) and a larger
 * cache; readers are query_only.  cache_kib bounds the page cache per
 * connection.  Returns 0 or ERR_IO with details in err.
 */
int db_open(const char *path, bool is_writer, int cache_kib, struct db **out, struct err_info *err);

/* The VFS of the writer's connection: its WAL frames are written once per
 * commit, not twice per page (walbuf.c).  Registered by the first db_open. */
#define WALBUF_VFS "otklik-walbuf"
int walbuf_register(void);
/* The calling thread's writes to database files go to disk a piece at a time
 * (the checkpoint thread: walbuf.c). */
void walbuf_pace_thread(void);
/* Pieces written that way so far, by every pacing thread of the process. */
uint64_t walbuf_paced(void);
/* How many full buffers of WAL frames the files' own threads have written
 * while the writer went on (a transaction larger than the buffer). */
uint64_t walbuf_written_behind(void);

/* Finalize every cached statement and close. NULL is a no-op. */
void db_close(struct db *db);

/* The raw handle, for the few places that need it. */
sqlite3 *db_handle(struct db *db);

/*
 * The prepared statement for sql, reset with bindings cleared.  sql must be
 * a string with static storage: the cache is keyed by its address.
 * Aborts on a syntax error (a programmer error: SQL comes from constants).
 */
sqlite3_stmt *db_stmt(struct db *db, const char *sql);
/* A statement for one-off SQL (built at run time), not cached: the same
 * adaptation as db_stmt; NULL when it does not compile.  Finalize it. */
sqlite3_stmt *db_prepare(struct db *db, const char *sql);

/* Run SQL without parameters (several statements allowed); ERR_IO on failure. */
int db_exec(struct db *db, const char *sql, struct err_info *err);

/* Bind by $N name so the parameter's position in the text does not matter. */
void db_bind_i64(sqlite3_stmt *st, int n, int64_t v);
void db_bind_double(sqlite3_stmt *st, int n, double v);
/* NULL s binds SQL NULL; len -1 means strlen(s). */
void db_bind_text(sqlite3_stmt *st, int n, const char *s, ptrdiff_t len);
/* db_bind_text without SQLite's copy: s must stay as it is until the statement
 * is reset (db_run, or the statement's next db_stmt).  For the writer's hot
 * inserts, whose values live in the job's input. */
void db_bind_text_static(sqlite3_stmt *st, int n, const char *s, ptrdiff_t len);
void db_bind_null(sqlite3_stmt *st, int n);
/* Binds NULL when v is 0 (for optional foreign keys and times). */
void db_bind_i64_or_null(sqlite3_stmt *st, int n, int64_t v);
void db_bind_blob(sqlite3_stmt *st, int n, const void *p, size_t len);

/*
 * Step once.  Returns 1 for a row, 0 when done, ERR_CONFLICT on a
 * constraint violation, ERR_IO otherwise (details in err).
 */
int db_step(struct db *db, sqlite3_stmt *st, struct err_info *err);

/* Step a statement that returns no rows, then reset it. 0 or an error as db_step. */
int db_run(struct db *db, sqlite3_stmt *st, struct err_info *err);

/* Column helpers: text as "" never NULL unless the value is NULL (then NULL). */
const char *db_col_text(sqlite3_stmt *st, int col);
int64_t db_col_i64(sqlite3_stmt *st, int col);
bool db_col_is_null(sqlite3_stmt *st, int col);

int64_t db_last_id(struct db *db);
int db_changes(struct db *db);

#endif
