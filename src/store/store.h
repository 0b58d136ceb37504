/*
 * store.h - the store: everything otklik keeps, behind one interface.
 *
 * One writer thread owns the only write connection and commits in groups:
 * callers hand it a job (a function run inside the batch's transaction, in
 * its own savepoint) and block until the batch is durably committed.  A 0
 * return from store_write() therefore means "on disk".  The fsync of a batch
 * runs on a thread of its own while the writer goes on with the next batch
 * (durable.c).  Reads use a pool of
 * read-only connections (WAL lets them run beside the writer).  Committed
 * events are published to an in-memory hub that feeds the live stream.
 *
 * Read functions return jansson objects owned by the caller (json_decref).
 */
#ifndef OTKLIK_STORE_H
#define OTKLIK_STORE_H

#include "core/err.h"
#include "store/db.h"
#include "store/model.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct store;
struct store_tx; /* a job's view of the writer's open transaction */

struct store_options {
    int n_readers;        /* read connections in the pool (default 4) */
    int reader_cache_kib; /* page cache per reader (default 16384) */
    int writer_cache_kib; /* page cache of the writer (default 16384) */
    int max_batch;        /* jobs per group commit at most (default 1024) */
    int wal_pages;        /* the WAL is checkpointed once it holds this many pages, off
                           * the writer; by the writer at four times that when the
                           * checkpoint thread has not begun since asked (default 16000) */
    int commit_delay_us;  /* while writes arrive faster than they commit, a batch waits up to
                           * this for more to join it (default 300; negative: never) */
};

/* Open or create the database at path, migrate it, start the writer. */
int store_open(const char *path, const struct store_options *opt, struct store **out,
               struct err_info *err);
/* Finish queued jobs, stop the writer, close every connection. */
void store_close(struct store *s);

/* ---- writing ---------------------------------------------------------- */

typedef int (*store_job_fn)(struct store_tx *tx, void *arg, struct err_info *err);

/*
 * Run fn inside the next group commit and wait until it is durable.
 * Returns fn's result; when fn fails its writes are rolled back (only its
 * own); when the commit itself fails every job of the batch gets
 * ERR_UNAVAILABLE.  Called from any thread but the writer.
 */
int store_write(struct store *s, store_job_fn fn, void *arg, struct err_info *err);

/*
 * The same without waiting, for an event loop: queue w->fn(w->arg) for the
 * next group commit; once its batch is durable (or has failed), the writer
 * sets w->result and calls w->done(w) on its own thread, so done must be
 * quick and must not wait.  w and what it points to live until then.
 * Returns 0 when queued, or ERR_UNAVAILABLE (done is not called) when the
 * store is stopping.
 */
struct store_async {
    store_job_fn fn;
    void *arg;
    struct err_info *err;
    void (*done)(struct store_async *w);
    int result;
    /*
     * fn may run twice in one batch: each run starts afresh from arg, and
     * what it leaves outside the transaction a second run replaces.  Such
     * jobs run first in their batch, straight in the transaction, where any
     * other job has a savepoint of its own (a savepoint copies every page it
     * is the first to touch, which costs about as much as a small job's
     * writes).  One that fails having written nothing is simply left out;
     * one that fails having written something has the transaction rolled
     * back and the rerunnable jobs run again, a savepoint each.
     */
    bool is_rerunnable;
    /*
     * A bulk job's messages go to the search index after it (see
     * store_tx_search_add): their terms wait in a backlog, written with the
     * job, that the writer moves into the index once no bulk import runs.
     * A search reads the backlog too, so nothing committed is missed.
     */
    bool defers_search;
};
int store_write_async(struct store *s, struct store_async *w);

/* store_write for a job that may run twice (see store_async.is_rerunnable). */
int store_write_rerunnable(struct store *s, store_job_fn fn, void *arg, struct err_info *err);

/*
 * store_write for a background worker (the rules engine, the rollups, the
 * survey invitations): when the writer takes it together with callers'
 * writes, those commit first, and the workers' jobs of that batch run in a
 * transaction of their own right after, so that callers taken with a
 * worker's step of several milliseconds do not wait for it (one that
 * arrives while such a step runs still does).
 */
int store_write_background(struct store *s, store_job_fn fn, void *arg, struct err_info *err);

/*
 * Wait until every write committed so far is on disk (a batch is readable
 * by other connections a moment before its fsync ends).  Call it before
 * something read leaves the process (a webhook post).  0, or
 * ERR_UNAVAILABLE when the disk refused a sync.
 */
int store_wait_durable(struct store *s);

/* The writer connection, for use inside a job only. */
struct db *store_tx_db(struct store_tx *tx);
/* A rerunnable job says so before it changes the schema: should it then fail,
 * its transaction is rolled back (a schema change counts as no row changed,
 * and a failed rerunnable job that changed no row is not). */
void store_tx_schema_change(struct store_tx *tx);
/*
 * A rerunnable job about to fail asks to run again, alone: the transaction
 * it ran in straight is rolled back, whether or not the job changed
 * anything, and each rerunnable job of it runs again in a savepoint of its
 * own, in their order; a job that asks this while running alone is run once
 * more.  Its second run decides (see the importer's line-by-line pass).
 */
void store_tx_rerun_alone(struct store_tx *tx);

/*
 * Append an event to the log inside the job's transaction; it is published
 * to the hub after the commit (and dropped if the job rolls back).
 * data_json is a JSON object text or NULL ("{}").  Returns the event id.
 */
int64_t store_event_add(struct store_tx *tx, const char *type, int64_t request_id,
                        int64_t customer_id, int64_t order_id, int64_t store_id, const char *actor,
                        const char *data_json, struct err_info *err);

/*
 * A part of a job that may fail alone (one line of an import): its writes,
 * events and index rows are undone by store_tx_part_end(tx, mark, false).
 */
struct tx_mark {
    size_t n_pending, n_search, n_deduplicated;
};
struct tx_mark store_tx_part_begin(struct store_tx *tx);
void store_tx_part_end(struct store_tx *tx, struct tx_mark mark, bool keep);

/*
 * Refresh the query planner's statistics (a sampled ANALYZE, through the
 * writer).  Without them SQLite may pick a low-selectivity index (a topic
 * over a customer); run after large imports and daily.
 */
int store_analyze(struct store *s, struct err_info *err);
/* The same, queued: the caller does not wait for it (a failure is logged). */
void store_analyze_later(struct store *s);

/* Jobs queued but not yet taken by the writer (for /metrics). */
int store_queue_depth(struct store *s);

/*
 * A bulk import runs from begin to end: workers that can wait (the rollups)
 * leave the writer and the CPUs to it meanwhile, and catch up after.
 */
void store_bulk_begin(struct store *s);
void store_bulk_end(struct store *s);
bool store_bulk_running(struct store *s);

/* WAL checkpoints done so far: by the store's checkpoint thread once the WAL
 * reached its threshold, by that thread when the store was quiet for a second
 * after commits, and by the writer in a commit (the WAL reached its hard
 * limit); for /metrics. */
struct store_checkpoints {
    uint64_t by_thread, when_idle, by_writer;
    uint64_t paced; /* pieces of a checkpoint's copy sent to disk one after another (walbuf.c) */
};
struct store_checkpoints store_checkpoints(struct store *s);

/* WAL fsyncs of the durability thread, and the committed batches they made
 * durable (several a sync under load); for /metrics. */
struct store_syncs {
    uint64_t syncs, batches;
};
struct store_syncs store_syncs(struct store *s);

/* ---- reading ---------------------------------------------------------- */

/*
 * Borrow a read connection (blocks while all are in use) and give it back.
 * The reads of one borrowing see one snapshot, taken when it begins: every
 * write committed before, by this process or another.
 */
struct db *store_reader(struct store *s);
void store_reader_done(struct store *s, struct db *r);

/*
 * The same for a read that answers a client and decides nothing: the
 * snapshot holds every write this process acknowledged before the borrowing
 * began, and writes of other processes (the CLI beside the server) from up
 * to STORE_SNAPSHOT_MAX_MS ago.  A connection keeps its read transaction
 * between borrowings while nothing is committed here, so a burst of reads
 * takes the file and WAL locks once.  Never for a read a write depends on.
 */
struct db *store_reader_recent(struct store *s);

#define STORE_SNAPSHOT_MAX_MS 100

/* Mark the calling thread as one that answers quick reads (an HTTP event
 * loop): it may take the last free read connection, which every other thread
 * leaves to it, so a loop never waits behind slow reports or the workers. */
void store_thread_answers_quickly(void);

/* End the read transactions kept by idle connections that are stale or past
 * their time, so they do not hold back a checkpoint (a thread of the store's
 * does it every STORE_SNAPSHOT_MAX_MS / 2, and every commit). */
void store_readers_sweep(struct store *s);

/* ---- the event log, for consumers (rules, rollups) -------------------- */

struct event_row {
    int64_t id;
    const char *type;
    int64_t request_id, customer_id, order_id, store_id; /* 0 when none */
    const char *actor;                                  /* NULL when none */
    const char *data;                                   /* JSON object text */
    int64_t at_ms;
};

/*
 * Call fn for each logged event with id > after_id, in id order, at most
 * limit of them (strings valid during the call only).  *out_last is the id
 * of the last event passed (after_id when none).  fn returning non-zero
 * stops the scan and is returned.
 */
int store_events_since(struct db *r, int64_t after_id, int limit,
                       int (*fn)(void *ctx, const struct event_row *ev), void *ctx,
                       int64_t *out_last);

/* A consumer's persisted position in the event log (0 when new). */
int64_t store_consumer_position(struct db *db, const char *name);
/* Whether the consumer has saved a position yet (it may be 0 on an empty log). */
bool store_consumer_known(struct db *db, const char *name);
/*
 * Every consumer's lag behind the event log, as a JSON object
 * {"name": events behind, ...} (caller owns).  Purchases and other cursors
 * that do not follow the event log are left out (their names hold a dot
 * suffix after the consumer, e.g. "analytics.surveys.purchases").  It also
 * holds "search_backlog": imported messages not yet moved into the search
 * index (store_async.defers_search).
 */
json_t *store_consumers_lag(struct db *r, int64_t last_event_id);

/* Set key to s, or to null when s is NULL. */
void json_set_str_or_null(json_t *obj, const char *key, const char *s);
/* Set key to the RFC 3339 time of ms, or to null when ms is 0 (never set). */
void json_set_time_or_null(json_t *obj, const char *key, int64_t ms);

/* Save it, inside a job, so that it moves with the consumer's own writes. */
int store_consumer_save(struct store_tx *tx, const char *name, int64_t last_event_id,
                        struct err_info *err);

/* ---- the live event hub ----------------------------------------------- */

struct hub_event {
    int64_t id;          /* event log id, increasing */
    char type[40];
    int64_t request_id;  /* 0 when none */
    int64_t customer_id;
    int64_t store_id;
    char region[64];     /* of store_id, "" when none */
    char *json;          /* the whole event as a JSON object; owned by the hub */
};

/*
 * Wait until an event newer than after_id exists (or timeout_ms passes, or
 * the hub closes), then call fn for each newer event still in the ring, in
 * order, under the hub's lock (fn must be quick and must not block).
 * Returns the id of the last event passed to fn (after_id when none), or -1
 * once the hub is closed.  When after_id is older than the ring, the
 * oldest kept events are delivered (the gap is the client's to refetch).
 */
int64_t store_hub_wait(struct store *s, int64_t after_id, int timeout_ms,
                       void (*fn)(void *ctx, const struct hub_event *ev), void *ctx);

/* Newest published event id (0 when none). */
int64_t store_hub_last_id(struct store *s);

/* Wake every waiter and make store_hub_wait return -1 from now on. */
void store_hub_close(struct store *s);

/* ---- visibility --------------------------------------------------------- */

/* What a principal may see: everything, one store, or one region. */
struct scope_filter {
    enum scope scope;
    int64_t store_id;  /* SCOPE_STORE */
    const char *region; /* SCOPE_REGION */
};

/* ---- domain: customers and identities (store_customers.c) -------------- */

/* A customer as given by a channel: identity values already normalised. */
struct customer_in {
    const char *name;                         /* NULL when unknown */
    const char *tier;                         /* NULL: keep / "regular" */
    const char *ids[MODEL_N_IDENTITY_KINDS];  /* by model_identity_kinds index; NULL absent */
};

/* True when c carries at least one identity. */
bool customer_in_has_identity(const struct customer_in *c);

/*
 * Find or create the customer for the identities in c (inside a job).
 * Identities are looked up in table order; the first known customer wins,
 * unknown identities are attached to it, and every other customer found
 * gets a merge suggestion (no silent merge).  *out_id is 0 when c has no
 * identity and no name.  request_id is noted on suggestions (0: none).
 */
int store_customer_resolve(struct store_tx *tx, const struct customer_in *c, int64_t request_id,
                           int64_t now_ms, int64_t *out_id, struct err_info *err);

/* The customer 360 (identities, requests, orders, purchases, bonus).  A scoped
 * principal sees only customers who wrote to its stores, and of them only
 * the requests, orders and purchases of those stores (sf NULL: everything). */
int store_customer_get(struct db *r, int64_t id, const struct scope_filter *sf, json_t **out,
                       struct err_info *err);

/* IVR / bot lookup by one identity: id, name, bonus balance, open orders and
 * requests; scoped as store_customer_get. */
int store_customer_lookup(struct db *r, const char *kind, const char *value,
                          const struct scope_filter *sf, json_t **out, struct err_info *err);

/* Sum of the customer's bonus movements. */
int64_t store_bonus_balance(struct db *r, int64_t customer_id);

/* ---- domain: requests (store_requests.c) ------------------------------- */

struct reply_in {
    const char *text;
    int64_t at_ms;
};

/* A normalised, validated request from any channel (see intake/intake.h). */
struct request_in {
    const char *channel;
    const char *source_id;   /* NULL: no dedup */
    struct customer_in customer;
    const char *store_code;  /* NULL when none */
    const char *order_ref;   /* external order id, NULL when none */
    const char *subject;
    const char *text;
    const char *kind;
    int64_t created_at_ms;
    const char *search_terms; /* FTS terms of subject and text */
    const char *actor;        /* who submitted it: "token:NAME", "user:LOGIN" */
    /* classification, NULL/0 when not done */
    const char *topic;
    double topic_confidence;
    const char *sentiment;
    double sentiment_confidence;
    const char *priority;     /* NULL: "normal" */
    bool needs_review;
    const char *classify_json; /* event data explaining the classification, or NULL */
    /* history, for imports from an earlier system; zero/NULL for live intake */
    const char *status;       /* NULL: "new" */
    int64_t first_response_at_ms, solved_at_ms, closed_at_ms;
    const struct reply_in *replies;
    size_t n_replies;
    bool want_json; /* fill request_out.json */
    /* A repeat of channel+source_id is an error (ERR_CONFLICT), found by the
     * insert itself rather than looked up first: for a bulk import, whose job
     * undoes a failed line's other writes (its savepoint). */
    bool is_repeat_an_error;
    const struct scope_filter *scope; /* the submitter's scope (NULL: all): a repeat of a
                                         request outside it is refused, not shown */
};

struct request_out {
    int64_t id;
    int64_t customer_id;
    bool is_duplicate; /* channel+source_id was seen: nothing was written */
    /* With in->want_json, for a duplicate: the stored request as
     * store_request_get shows it (the caller decrefs).  For a new one the
     * job only keeps what the input lacks, and the caller makes the JSON
     * outside the writer with store_request_created_write. */
    json_t *json;
    char *customer_name; /* the customer's stored name, owned (NULL when none) */
    int64_t created_ms;
};

/* Create a request (inside a job).  ERR_INVALID for an unknown store. */
int store_request_create(struct store_tx *tx, const struct request_in *in,
                         struct request_out *out, struct err_info *err);

/* Append to b the request just created from in, as store_request_get shows
 * it, as JSON text (no read). */
struct buf;
void store_request_created_write(const struct request_in *in, const struct request_out *out,
                                 struct buf *b);

/* Free what out owns (json, customer_name); it may be filled again after. */
void store_request_out_clear(struct request_out *out);

/* One request as JSON; with_details adds messages and events. ERR_NOTFOUND if unseen. */
int store_request_get(struct db *r, int64_t id, const struct scope_filter *sf, bool with_details,
                      json_t **out, struct err_info *err);

struct request_query {
    const char *status, *channel, *store_code, *topic, *q; /* NULL: any */
    int64_t customer_id;                                    /* 0: any */
    int64_t since_ms, until_ms;                             /* 0: open-ended */
    int64_t cursor;                                         /* 0: first page; else ids below */
    int limit;                                              /* 1..200 */
    const char *q_terms;                                    /* stemmed q, set by the caller */
};

/* A page of requests, newest first: {"items": [...], "next_cursor": "..."|null}. */
int store_request_list(struct db *r, const struct request_query *q, const struct scope_filter *sf,
                       json_t **out, struct err_info *err);

struct request_patch {
    const char *status, *priority, *topic, *queue; /* NULL: unchanged */
    int64_t assignee_id;                          /* 0: unchanged; -1: unassign */
    int64_t user_id;                              /* who changes it (0 for tokens) */
    const char *actor;
    const struct scope_filter *sf;
};

/* Apply a change (inside a job); one event per changed field. */
int store_request_patch(struct store_tx *tx, int64_t id, const struct request_patch *p,
                        struct err_info *err);

struct message_in {
    const char *direction; /* "in", "out", "note" */
    const char *body;
    const char *search_terms;
    int64_t author_user_id; /* 0 for none */
    const char *author_name;
    const char *actor;
    int64_t at_ms;
    const struct scope_filter *sf;
};

/* Add a message to a request (inside a job); sets first response on the first "out". */
int store_message_add(struct store_tx *tx, int64_t request_id, const struct message_in *m,
                      int64_t *out_id, struct err_info *err);

/* ---- domain: orders, purchases, bonus, catalogue (store_orders.c) ------ */

struct order_event_in {
    const char *order_ref;   /* external id */
    const char *status;
    const char *source_id;   /* dedup of the event, NULL: none */
    const char *note;
    int64_t at_ms;
    int64_t promised_at_ms;  /* 0: unchanged */
    int64_t total_kop;       /* -1: unchanged */
    const char *store_code;  /* for a new order */
    struct customer_in customer; /* for a new order */
    const char *actor;
};

/* Record an order status change, creating the order when new. *out_duplicate for a seen source_id. */
int store_order_event(struct store_tx *tx, const struct order_event_in *in, int64_t *out_order_id,
                      bool *out_duplicate, struct err_info *err);

/*
 * Import an order's history from an earlier system: steps in time order, the
 * last one holding the current status.  A new order is written with its
 * history and one order.imported event, so past steps do not set off the
 * reactions meant for live changes; an order already known gets each step
 * as a live change.  ERR_INVALID for a missing customer or unknown store.
 */
int store_order_import(struct store_tx *tx, const struct order_event_in *steps, size_t n_steps,
                       struct err_info *err);

struct store_in {
    const char *code, *name, *city, *region, *time_zone, *address;
};
int store_store_upsert(struct store_tx *tx, const struct store_in *in, int64_t *out_id,
                       struct err_info *err);
int store_department_upsert(struct store_tx *tx, const char *code, const char *name,
                            struct err_info *err);

struct purchase_in {
    const char *external_id;
    struct customer_in customer;
    const char *store_code;
    int64_t total_kop;
    int64_t items;
    int64_t at_ms;
};
int store_purchase_add(struct store_tx *tx, const struct purchase_in *in, struct err_info *err);

struct bonus_in {
    struct customer_in customer;
    int64_t customer_id; /* used when no identity is given */
    int64_t amount;      /* points, may be negative */
    const char *reason, *ref, *actor;
    int64_t at_ms;
};
/* A bonus movement; ERR_CONFLICT when it would take the balance below zero. */
int store_bonus_add(struct store_tx *tx, const struct bonus_in *in, struct err_info *err);

/* Id of the store with this code, 0 when unknown. */
int64_t store_store_id(struct db *db, const char *code);

/* All stores as a JSON array (code, name, city, region, time_zone). */
int store_stores_list(struct db *r, json_t **out, struct err_info *err);

/* ---- domain: users, tokens, sessions (store_auth.c) -------------------- */

struct principal {
    int64_t user_id;   /* 0 for API tokens */
    int64_t token_id;  /* 0 for sessions */
    char login[64];    /* user login or token name */
    char name[128];
    char role[32];
    unsigned perms;    /* enum perm bits */
    struct scope_filter scope;
    char region[64];   /* storage for scope.region */
    char csrf[64];     /* session's CSRF token, "" for API tokens */
    int64_t expires_at_ms; /* session end, 0 for API tokens */
};

struct user_in {
    const char *login, *name, *role, *password_hash, *store_code, *region, *skills;
};
int store_user_add(struct store_tx *tx, const struct user_in *in, int64_t *out_id,
                   struct err_info *err);

/* The stored Argon2id hash and principal for a login (for password checks). */
int store_user_by_login(struct db *r, const char *login, char *hash, size_t hash_cap,
                        struct principal *out, struct err_info *err);

int store_token_add(struct store_tx *tx, const char *name, const unsigned char hash[32],
                    const char *role, const char *store_code, const char *region, int64_t *out_id,
                    struct err_info *err);
int store_session_add(struct store_tx *tx, const unsigned char hash[32], int64_t user_id,
                      const char *csrf, int64_t expires_at_ms, struct err_info *err);
int store_session_delete(struct store_tx *tx, const unsigned char hash[32],
                         struct err_info *err);

/* Resolve a token or session hash to a principal; ERR_UNAUTHORIZED when unknown/expired. */
int store_principal_by_token(struct db *r, const unsigned char hash[32], struct principal *out,
                             struct err_info *err);
int store_principal_by_session(struct db *r, const unsigned char hash[32], int64_t now_ms,
                               struct principal *out, struct err_info *err);

/* Users as JSON (no hashes). */
int store_users_list(struct db *r, json_t **out, struct err_info *err);

/* ---- migrations (migrations.c) ----------------------------------------- */

/* Bring the schema up to date (writer connection, outside any job). */
int store_migrate(struct db *w, int *out_version, struct err_info *err);

#endif
