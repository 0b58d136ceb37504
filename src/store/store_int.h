/*
 * store_int.h - shared only inside src/store: the store object, the
 * transaction context handed to jobs, and helpers of the domain files.
 */
#ifndef OTKLIK_STORE_INT_H
#define OTKLIK_STORE_INT_H

#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <semaphore.h>

/* An event written in the current batch, published once durable.  Its
 * ev.json is made then (hub_publish), from the fields below. */
struct pending_event {
    struct hub_event ev;
    int created_channel; /* request.created: the channel's index, counted once committed; else -1 */
    int64_t order_id, at_ms;
    char *data;  /* the data's JSON text, owned; the actor follows it in the same block */
    char *actor; /* NULL when none */
};

/* Free what n pending events own (not the array). */
void pending_events_free(struct pending_event *evs, size_t n);

/* A full-text row written at the end of the batch (see store_tx_search_add). */
struct pending_search {
    int64_t message_id;
    char *terms; /* owned */
    bool is_deferred; /* to the backlog, not the index (store_async.defers_search) */
};

struct store_tx {
    struct store *s;
    struct db *db;
    struct pending_event *pending; /* events of this batch, in order */
    size_t n_pending, cap_pending;
    struct pending_search *search; /* index rows of this batch */
    size_t n_search, cap_search;
    size_t n_deduplicated; /* requests found already stored, counted at commit */
    bool is_schema_changing; /* the running job changes the schema (store_tx_schema_change) */
    bool wants_rerun;        /* the running job failed and asks to run again alone */
    bool defers_search;      /* the running job's index rows go to the backlog */
};

/*
 * Index a message's search terms.  The rows are inserted after every job
 * of the batch has run, outside any savepoint: FTS5 flushes its pending
 * terms at each savepoint, which would write one tiny segment per row.
 * A bulk job's rows go to the table search_backlog instead (a plain append,
 * a fifth of an index row's cost), and the writer moves them into the index
 * once no bulk import runs (store_search_catch_up).
 */
void store_tx_search_add(struct store_tx *tx, int64_t message_id, const char *terms);

struct job {
    store_job_fn fn;
    void *arg;
    struct err_info *err;
    int result;
    sem_t done; /* posted by the writer once the job's batch is durable */
    struct store_async *async; /* or, for a write that does not wait: told through done() */
    bool is_rerunnable;        /* see store_async */
    bool is_background;        /* see store_write_background */
    bool defers_search;        /* see store_async */
    struct job *next;
};

#define HUB_RING 8192 /* events kept in memory for the live stream */

struct hub {
    pthread_mutex_t mu;              /* guards first_id, last_id, is_closed; with cond */
    pthread_cond_t cond;
    pthread_rwlock_t ring_lock;      /* readers format from the ring side by side */
    struct hub_event ring[HUB_RING]; /* slot = id % HUB_RING */
    int64_t first_id;                /* oldest id in the ring, 0 when empty */
    int64_t last_id;                 /* newest id */
    bool is_closed;
};

/* A read connection and the snapshot it keeps between borrowings. */
struct reader {
    struct db *db;
    bool is_open;         /* a read transaction is open */
    bool is_recent;       /* borrowed by store_reader_recent: may keep it after */
    uint64_t gen;         /* commit_gen when it began (its snapshot is at least that new) */
    uint64_t began_ns;
};

struct store {
    char *path;
    struct store_options opt;
    /* writer */
    struct db *wdb;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t has_jobs;  /* writer waits here; callers wait on their job's semaphore */
    struct job *head, *tail;
    int depth;
    bool is_stopping;
    /* readers */
    pthread_mutex_t rmu;
    pthread_cond_t rfree;
    struct reader *readers;   /* all of them, opt.n_readers */
    struct reader **free;     /* the idle ones, a stack */
    int n_free;
    _Atomic uint64_t commit_gen; /* bumped by every commit, before anyone hears of it */
    _Atomic int n_bulk;          /* bulk imports running (store_bulk_begin) */
    pthread_t sweeper;        /* ends idle snapshots past their time */
    pthread_cond_t sweep_stop; /* signalled (under rmu) when is_closing is set */
    bool is_closing, has_sweeper;
    /* checkpoints (checkpoint.c) */
    struct db *cdb;           /* the checkpointer's connection */
    pthread_t checkpointer;
    pthread_mutex_t cmu;      /* guards the flags below; with ckpt_wake */
    pthread_cond_t ckpt_wake;
    bool ckpt_wanted, ckpt_stopping, has_checkpointer, has_ckpt_sync;
    _Atomic uint64_t ckpt_done; /* checkpoints the thread completed */
    _Atomic uint64_t ckpt_by_thread, ckpt_idle, ckpt_by_writer; /* for store_checkpoints */
    _Atomic uint64_t wal_commits; /* commits the WAL hook saw (idle checkpoints follow them) */
    uint64_t ckpt_finished;     /* of those, the ones the writer finished (writer only) */
    bool tail_wanted;           /* the writer copies the WAL's tail after its batch (writer only) */
    /* durability (durable.c): commits are acknowledged once the WAL is synced */
    int wal_fd;               /* the WAL file, -1 when commits sync themselves */
    pthread_t durable;
    bool has_durable, d_stopping;
    pthread_mutex_t dmu;      /* guards the queue, d_stopping and both numbers */
    pthread_cond_t d_has, d_synced;
    struct synced *d_head, *d_tail; /* committed batches waiting for the fsync */
    uint64_t seq_durable;     /* the last batch made durable */
    _Atomic uint64_t seq_reserved; /* the last number given to a batch, before its COMMIT */
    _Atomic bool sync_failed; /* an fsync failed: no write is taken any more */
    _Atomic uint64_t n_syncs, n_synced_batches; /* for store_syncs */
    /* hub */
    struct hub hub;
    bool may_commit;          /* the batch's COMMIT is running (commit_gate); writer only */
    int64_t data_version;     /* PRAGMA data_version at the last batch; writer only */
    /* region of each store id, for event scoping; used by the writer only */
    char (*regions)[64];
    bool *is_region_known;
    size_t n_regions;
    struct wcache_slot *wcache; /* see wcache_get; writer only */
    uint32_t wcache_gen;
    /* the search backlog (store_tx_search_add): moved into the index by a
     * background job the writer queues for itself */
    _Atomic bool has_search_backlog; /* search_backlog may hold rows */
    _Atomic bool is_search_queued;   /* a move is queued or running */
    _Atomic uint64_t search_not_before_ns; /* after a failed move */
    uint64_t search_last_ns;         /* the last move queued; under mu */
    int last_batch_n;                /* jobs the writer took last time; under mu */
    struct store_async search_job;
    struct err_info search_err;
};

/* Register the SQL function terms_match(terms, query) on a connection: does
 * every token of the query occur in terms, split and folded as the search
 * index's ascii tokenizer does (a search reads the backlog with it). */
void store_search_functions(struct db *db);

/*
 * The writer's cache of lookups whose answer, once committed, never changes:
 * a store code's id, an identity's customer (neither is ever changed or
 * deleted).  Direct-mapped, WCACHE_SLOTS slots of 64 bytes, made at the
 * first put.  An answer read or written inside a transaction that is then
 * rolled back would be wrong: every rollback, and another process's commit,
 * forgets every entry at once (a new generation).  Writer only.
 */
#define WCACHE_SLOTS 131072
#define WCACHE_KEY_MAX 42
struct wcache_slot {
    uint64_t hash;
    int64_t value;
    uint32_t gen;
    uint8_t len;
    char key[WCACHE_KEY_MAX + 1];
};
/* tag ('s' store code, 'i' identity, ...) and key name the entry; 0 when not cached. */
int64_t wcache_get(struct store *s, char tag, const char *key);
void wcache_put(struct store *s, char tag, const char *key, int64_t value);

/* A store's id by its code, through the writer's cache; 0 when unknown. */
int64_t store_store_id_tx(struct store_tx *tx, const char *code);
/* The customer of identity kind k (an index of model_identity_kinds), through
 * the writer's cache; 0 when no customer has it. */
int64_t store_identity_customer(struct store_tx *tx, int k, const char *value);

/* Start the checkpoint thread and hand it the writer's checkpoints (s->path
 * and s->wdb open); stop it, the writer stopped: commits checkpoint again. */
int store_checkpointer_start(struct store *s, struct err_info *err);
void store_checkpointer_stop(struct store *s);
/* The writer, after a batch: copy the WAL's tail when the thread asked for it. */
void store_checkpoint_tail(struct store *s);

/* Start the thread that syncs the WAL and acknowledges committed batches,
 * and switch the writer to commits that do not wait for the disk (s->wdb
 * open, migrated); stop it, having acknowledged everything handed over. */
int store_durable_start(struct store *s, struct err_info *err);
void store_durable_stop(struct store *s);
/* Hand over committed batch number seq (jobs and their events, both owned
 * now; none for a number whose COMMIT failed), which began at began_ns
 * (clock_mono_ns, for the commit latency metric).  In the order of seq. */
void store_durable_push(struct store *s, struct job *jobs, struct pending_event *pending,
                        size_t n_pending, uint64_t began_ns, uint64_t seq);
/* Give every job of the list without an error this one. */
void store_jobs_fail(struct job *jobs, const char *why);
/* Tell each job's caller its result (the jobs are gone after). */
void store_jobs_complete(struct job *jobs);

/* Forget the cached region of a store (its row changed). Writer only. */
void store_region_forget(struct store *s, int64_t store_id);

void hub_init(struct hub *h);
void hub_destroy(struct hub *h);
/* Publish committed events: each one's JSON is made and moves to the hub,
 * the rest of what it owns is freed. */
void hub_publish(struct hub *h, struct pending_event *evs, size_t n);

/* Region of a store id ("" when none), for scoping. */
void store_region_of(struct db *db, int64_t store_id, char *out, size_t cap);

/* Identity lookups shared by domain files. */
int64_t customer_by_identity(struct db *db, const char *kind, const char *value);

/* Current time for writes inside a job. */
int64_t tx_now_ms(void);

/* Scope clause check: may sf see a request of this store? */
bool scope_allows_store(struct db *db, const struct scope_filter *sf, int64_t store_id);

#endif
