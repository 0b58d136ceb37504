/*
 * migrations.c - the schema, as an ordered list of forward-only steps.
 *
 * Each step runs once, in its own transaction, and bumps PRAGMA
 * user_version.  Steps are never edited after release: a change is a new
 * step at the end.  Times are Unix milliseconds (*_ms), money in kopecks
 * (*_kop), bonus in points.  The SQL is portable apart from the FTS table.
 */
#include "store/store_int.h"

#include "core/log.h"

#include <stdio.h>

/* Each part of the program owns one step (its tables); they are listed in order. */
extern const char rules_schema_sql[];     /* src/rules/rules_schema.c */
extern const char analytics_schema_sql[]; /* src/analytics/analytics_schema.c */
extern const char channels_schema_sql[];  /* src/channels/channels_schema.c */
extern const char rules_schema_5_sql[];   /* src/rules/rules_schema.c */
extern const char rules_schema_10_sql[];  /* src/rules/rules_schema.c */
extern const char analytics_schema_7_sql[]; /* src/analytics/analytics_schema.c */
extern const char analytics_schema_9_sql[]; /* src/analytics/analytics_schema.c */
extern const char analytics_schema_11_sql[]; /* src/analytics/analytics_schema.c */

static const char core_schema_sql[] =
    /* 1: the core model */
    "CREATE TABLE departments ("
    "  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL);"
    "CREATE TABLE stores ("
    "  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    "  city TEXT NOT NULL, region TEXT NOT NULL, time_zone TEXT NOT NULL,"
    "  address TEXT, director_id INTEGER);"
    "CREATE INDEX stores_region ON stores(region);"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    "  role TEXT NOT NULL, password_hash TEXT NOT NULL, store_id INTEGER REFERENCES stores(id),"
    "  region TEXT, department_id INTEGER REFERENCES departments(id),"
    "  skills TEXT NOT NULL DEFAULT '', is_active INTEGER NOT NULL DEFAULT 1,"
    "  created_at_ms INTEGER NOT NULL);"
    "CREATE TABLE api_tokens ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, token_hash BLOB NOT NULL UNIQUE,"
    "  role TEXT NOT NULL, store_id INTEGER REFERENCES stores(id), region TEXT,"
    "  created_at_ms INTEGER NOT NULL, revoked_at_ms INTEGER);"
    "CREATE TABLE sessions ("
    "  id INTEGER PRIMARY KEY, token_hash BLOB NOT NULL UNIQUE,"
    "  user_id INTEGER NOT NULL REFERENCES users(id), csrf TEXT NOT NULL,"
    "  created_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL);"
    "CREATE TABLE customers ("
    "  id INTEGER PRIMARY KEY, name TEXT, tier TEXT NOT NULL DEFAULT 'regular',"
    "  created_at_ms INTEGER NOT NULL);"
    "CREATE TABLE identities ("
    "  kind TEXT NOT NULL, value TEXT NOT NULL,"
    "  customer_id INTEGER NOT NULL REFERENCES customers(id), created_at_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (kind, value)) WITHOUT ROWID;"
    "CREATE INDEX identities_customer ON identities(customer_id);"
    "CREATE TABLE merge_suggestions ("
    "  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),"
    "  other_customer_id INTEGER NOT NULL REFERENCES customers(id), reason TEXT NOT NULL,"
    "  request_id INTEGER, status TEXT NOT NULL DEFAULT 'open', created_at_ms INTEGER NOT NULL,"
    "  UNIQUE (customer_id, other_customer_id));"
    "CREATE TABLE orders ("
    "  id INTEGER PRIMARY KEY, external_id TEXT NOT NULL UNIQUE,"
    "  customer_id INTEGER NOT NULL REFERENCES customers(id), store_id INTEGER REFERENCES stores(id),"
    "  status TEXT NOT NULL, total_kop INTEGER NOT NULL DEFAULT 0, promised_at_ms INTEGER,"
    "  created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);"
    "CREATE INDEX orders_customer ON orders(customer_id, id);"
    "CREATE TABLE order_history ("
    "  id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),"
    "  status TEXT NOT NULL, note TEXT, source_id TEXT UNIQUE, at_ms INTEGER NOT NULL);"
    "CREATE INDEX order_history_order ON order_history(order_id, id);"
    "CREATE TABLE purchases ("
    "  id INTEGER PRIMARY KEY, external_id TEXT UNIQUE,"
    "  customer_id INTEGER NOT NULL REFERENCES customers(id), store_id INTEGER REFERENCES stores(id),"
    "  total_kop INTEGER NOT NULL, items INTEGER NOT NULL DEFAULT 0, at_ms INTEGER NOT NULL);"
    "CREATE INDEX purchases_customer ON purchases(customer_id, at_ms);"
    "CREATE TABLE bonus_ledger ("
    "  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),"
    "  amount INTEGER NOT NULL, reason TEXT NOT NULL, ref TEXT, actor TEXT,"
    "  at_ms INTEGER NOT NULL);"
    /* Covers the balance (SUM of amount by customer) without visiting the rows. */
    "CREATE INDEX bonus_ledger_customer ON bonus_ledger(customer_id, amount);"
    /* A movement with a reference is recorded once: a retried import or event
     * cannot credit the same receipt or compensation twice. */
    "CREATE UNIQUE INDEX bonus_ledger_ref ON bonus_ledger(customer_id, reason, ref) "
    "WHERE ref IS NOT NULL;"
    "CREATE TABLE requests ("
    "  id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),"
    "  channel TEXT NOT NULL, source_id TEXT, store_id INTEGER REFERENCES stores(id),"
    "  order_id INTEGER REFERENCES orders(id), order_ref TEXT, kind TEXT NOT NULL,"
    "  status TEXT NOT NULL, priority TEXT NOT NULL, assignee_id INTEGER REFERENCES users(id),"
    "  queue TEXT, topic TEXT, topic_confidence REAL, sentiment TEXT,"
    "  sentiment_confidence REAL, needs_review INTEGER NOT NULL DEFAULT 0, subject TEXT,"
    "  created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,"
    "  first_response_at_ms INTEGER, solved_at_ms INTEGER, closed_at_ms INTEGER,"
    "  UNIQUE (channel, source_id));"
    "CREATE INDEX requests_status ON requests(status, id);"
    "CREATE INDEX requests_store ON requests(store_id, id);"
    /* Covers the repeated-contact count of intake (same customer, same topic,
     * recent) as well as a customer's requests. */
    "CREATE INDEX requests_customer ON requests(customer_id, topic, created_at_ms);"
    "CREATE INDEX requests_created ON requests(created_at_ms);"
    "CREATE INDEX requests_topic ON requests(topic, id);"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY, request_id INTEGER NOT NULL REFERENCES requests(id),"
    "  direction TEXT NOT NULL, channel TEXT, author_user_id INTEGER REFERENCES users(id),"
    "  author_name TEXT, body TEXT NOT NULL, created_at_ms INTEGER NOT NULL);"
    "CREATE INDEX messages_request ON messages(request_id, id);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY, type TEXT NOT NULL, request_id INTEGER, customer_id INTEGER,"
    "  order_id INTEGER, store_id INTEGER, actor TEXT, data TEXT NOT NULL DEFAULT '{}',"
    "  at_ms INTEGER NOT NULL);"
    "CREATE INDEX events_request ON events(request_id, id);"
    "CREATE TABLE consumers ("
    "  name TEXT PRIMARY KEY, last_event_id INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);"
    "CREATE TABLE topic_corrections ("
    "  id INTEGER PRIMARY KEY, request_id INTEGER NOT NULL REFERENCES requests(id),"
    "  old_topic TEXT, new_topic TEXT NOT NULL, user_id INTEGER, actor TEXT NOT NULL,"
    "  at_ms INTEGER NOT NULL);"
    /* One index row per message (rowid = message id), holding stems from
     * classify/text.h, so the tokenizer only splits.  Contentless: rows are
     * only ever added; queries need no positions (detail=none). */
    "CREATE VIRTUAL TABLE message_search USING fts5(terms, content='', detail=none, "
    "tokenize='unicode61 remove_diacritics 0');";

/* Step 6: a customer's requests newest first straight from the index (the customer
 * 360, the IVR lookup and the rules' facts list them by id, which needed a sort). */
static const char core_schema_6_sql[] =
    "DROP INDEX requests_customer;"
    "CREATE INDEX requests_customer ON requests(customer_id, id);";

/* Step 8: a customer's open requests and open orders straight from an index of
 * the open ones only (the IVR lookup asks for them on every call; most
 * customers have none, and the full lists would be read row by row). */
static const char core_schema_8_sql[] =
    "CREATE INDEX requests_customer_open ON requests(customer_id, id) "
    "WHERE status <> 'solved' AND status <> 'closed';"
    "CREATE INDEX orders_customer_open ON orders(customer_id, id) "
    "WHERE status <> 'delivered' AND status <> 'cancelled' AND status <> 'returned';";

/* Step 12: requests waiting for an operator are not in the index of assignees
 * (every new and every imported request was, under NULL); the queue of
 * unassigned requests reads the index of statuses instead. */
static const char core_schema_12_sql[] =
    "DROP INDEX requests_assignee;"
    "CREATE INDEX requests_assignee ON requests(assignee_id, status) "
    "WHERE assignee_id IS NOT NULL;";

/* Step 13: new messages' terms go to an index that splits them with FTS5's
 * ascii tokenizer: they are split and case-folded already (classify/text.h),
 * and unicode61 spent about half the cost of an index row classifying each
 * character again.  No sizes are kept (columnsize=0): nothing ranks by them.
 * The rows of message_search stay where they are and are searched beside. */
static const char core_schema_13_sql[] =
    "CREATE VIRTUAL TABLE IF NOT EXISTS message_terms USING fts5(terms, content='', detail=none, "
    "columnsize=0, tokenize='ascii');";

/* Step 14: the search terms of imported messages wait here until the writer
 * moves them into message_terms after the import (store_tx_search_add); a
 * search reads them meanwhile. */
static const char core_schema_14_sql[] =
    "CREATE TABLE IF NOT EXISTS search_backlog (message_id INTEGER PRIMARY KEY, terms TEXT NOT NULL);";

static const char *const steps[] = {
    core_schema_sql,      /* 1 */
    rules_schema_sql,     /* 2 */
    analytics_schema_sql, /* 3 */
    channels_schema_sql,  /* 4 */
    rules_schema_5_sql,   /* 5 */
    core_schema_6_sql,    /* 6 */
    analytics_schema_7_sql, /* 7 */
    core_schema_8_sql,    /* 8 */
    analytics_schema_9_sql, /* 9 */
    rules_schema_10_sql,  /* 10 */
    analytics_schema_11_sql, /* 11 */
    core_schema_12_sql,   /* 12 */
    core_schema_13_sql,   /* 13 */
    core_schema_14_sql,   /* 14 */
};

#define N_STEPS (int)(sizeof steps / sizeof steps[0])

int store_migrate(struct db *w, int *out_version, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(w, "PRAGMA user_version");
    int version = 0;
    if (db_step(w, st, err) == 1)
        version = (int)db_col_i64(st, 0);
    sqlite3_reset(st);
    if (version > N_STEPS)
        return err_set(err, ERR_VERSION, "db",
                       "database schema version %d is newer than this program (%d)", version,
                       N_STEPS);
    for (int v = version; v < N_STEPS; v++) {
        int rc = db_exec(w, "BEGIN IMMEDIATE", err);
        if (rc == 0)
            rc = db_exec(w, steps[v], err);
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version=%d", v + 1);
        if (rc == 0)
            rc = db_exec(w, bump, err);
        if (rc == 0)
            rc = db_exec(w, "COMMIT", err);
        if (rc != 0) {
            db_exec(w, "ROLLBACK", NULL);
            return rc;
        }
        log_debug("migrate applied=%d", v + 1);
    }
    if (out_version)
        *out_version = N_STEPS;
    return 0;
}
