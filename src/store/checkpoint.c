/*
 * checkpoint.c - WAL checkpoints on a thread of their own.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses its
 * threshold, on the committing connection: the writer would copy the WAL's
 * pages into the database file and wait for two fsyncs while every queued
 * job waits behind it.  Instead the writer's WAL hook only notes the size
 * of the WAL after each commit and wakes this thread, which checkpoints
 * from its own connection (PASSIVE: it never waits for, nor blocks, the
 * writer or a reader) while the writer goes on with the next batch.
 *
 * The thread starts once the WAL holds opt.wal_pages pages.  The writer
 * still checkpoints itself when the WAL has grown to four times that and the
 * thread, asked at an earlier commit, has not begun: a checkpointer starved
 * of CPU must not let the WAL grow without bound.
 */
#include "store/store_int.h"

#include "core/log.h"
#include "core/sched.h"

#include <errno.h>
#include <time.h>

/* Runs on the writer after each commit, with the WAL's size in pages. */
static int wal_hook(void *arg, sqlite3 *h, const char *name, int n_pages)
{
    struct store *s = arg;
    atomic_fetch_add_explicit(&s->wal_commits, 1, memory_order_relaxed);
    uint64_t done = atomic_load(&s->ckpt_done);
    if (done != s->ckpt_finished) {
        /* The thread copied what the WAL held when it began; the writer copies
         * the few pages written since (store_checkpoint_tail), once this
         * commit's batch is on its way to the fsync. */
        s->ckpt_finished = done;
        s->tail_wanted = true;
        return SQLITE_OK;
    }
    if (n_pages >= s->opt.wal_pages) {
        pthread_mutex_lock(&s->cmu);
        bool is_starved = s->ckpt_wanted; /* asked at an earlier commit, not begun since */
        if (!s->ckpt_wanted) {
            s->ckpt_wanted = true;
            pthread_cond_signal(&s->ckpt_wake);
        }
        pthread_mutex_unlock(&s->cmu);
        /* Past the hard limit the writer copies the WAL itself, but only when the
         * thread was asked before and has not begun: one large transaction (a
         * rollup rebuild, an import batch) is handed to the thread like any.
         * A thread that has begun and is held back by a reader's old snapshot
         * would hold back the writer's copy just the same (the readers end
         * their snapshots within STORE_SNAPSHOT_MAX_MS). */
        if (is_starved && n_pages >= 4 * s->opt.wal_pages) {
            sqlite3_wal_checkpoint_v2(h, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
            atomic_fetch_add(&s->ckpt_by_writer, 1);
        }
    }
    return SQLITE_OK;
}

/*
 * On the writer between batches: copy the pages written since the thread's
 * last full pass.  Not in the WAL hook: the commit that noticed is handed to
 * the fsync first, so its callers do not wait for this copy and its two fsyncs.
 */
void store_checkpoint_tail(struct store *s)
{
    if (!s->tail_wanted)
        return;
    s->tail_wanted = false;
    /* So the next transaction can start the WAL over from its beginning (it
     * only does once all is copied). */
    sqlite3_wal_checkpoint_v2(db_handle(s->wdb), NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static void *checkpointer_main(void *arg)
{
    struct store *s = arg;
    pthread_setname_np(pthread_self(), "otklik-checkpt");
    sched_background_thread();
    walbuf_pace_thread();
    uint64_t seen = 0; /* wal_commits when the last checkpoint began */
    pthread_mutex_lock(&s->cmu);
    while (!s->ckpt_stopping) {
        bool is_idle = false;
        if (!s->ckpt_wanted) {
            /* Also after a quiet second that followed commits, so a quiet
             * server's WAL is folded in; never when nothing was committed. */
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += 1;
            int w = pthread_cond_timedwait(&s->ckpt_wake, &s->cmu, &until);
            if (s->ckpt_stopping)
                break;
            if (!s->ckpt_wanted) {
                if (w != ETIMEDOUT || atomic_load(&s->wal_commits) == seen)
                    continue;
                is_idle = true;
            }
        }
        s->ckpt_wanted = false;
        seen = atomic_load(&s->wal_commits);
        pthread_mutex_unlock(&s->cmu);
        int n_log = 0, n_done = 0;
        int rc = sqlite3_wal_checkpoint_v2(db_handle(s->cdb), NULL, SQLITE_CHECKPOINT_PASSIVE,
                                           &n_log, &n_done);
        if (rc == SQLITE_OK && n_log > 0)
            atomic_fetch_add(is_idle ? &s->ckpt_idle : &s->ckpt_by_thread, 1);
        /* A full copy of a large WAL: the writer copies what came since (see
         * wal_hook).  A small one restarts at the next transaction anyway. */
        if (rc == SQLITE_OK && n_log > 0 && n_done == n_log && !is_idle)
            atomic_fetch_add(&s->ckpt_done, 1);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            log_warn("store checkpoint failed: %s", sqlite3_errmsg(db_handle(s->cdb)));
        pthread_mutex_lock(&s->cmu);
    }
    pthread_mutex_unlock(&s->cmu);
    return NULL;
}

int store_checkpointer_start(struct store *s, struct err_info *err)
{
    pthread_mutex_init(&s->cmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->ckpt_wake, &ca);
    pthread_condattr_destroy(&ca);
    s->has_ckpt_sync = true;
    /* A checkpoint reads the WAL and writes the database file: it needs a
     * connection that may write, with no page cache to speak of. */
    int rc = db_open(s->path, true, 256, &s->cdb, err);
    if (rc != 0)
        return rc;
    sqlite3_wal_autocheckpoint(db_handle(s->cdb), 0);
    if (pthread_create(&s->checkpointer, NULL, checkpointer_main, s) != 0) {
        db_close(s->cdb);
        s->cdb = NULL;
        return err_set(err, ERR_INTERNAL, "", "cannot start the checkpoint thread");
    }
    s->has_checkpointer = true;
    sqlite3_wal_hook(db_handle(s->wdb), wal_hook, s);
    return 0;
}

void store_checkpointer_stop(struct store *s)
{
    if (s->has_checkpointer) {
        /* Back to checkpoints in the commit before the thread goes. */
        sqlite3_wal_autocheckpoint(db_handle(s->wdb), s->opt.wal_pages);
        pthread_mutex_lock(&s->cmu);
        s->ckpt_stopping = true;
        pthread_cond_signal(&s->ckpt_wake);
        pthread_mutex_unlock(&s->cmu);
        pthread_join(s->checkpointer, NULL);
        s->has_checkpointer = false;
    }
    db_close(s->cdb);
    s->cdb = NULL;
    if (s->has_ckpt_sync) {
        pthread_mutex_destroy(&s->cmu);
        pthread_cond_destroy(&s->ckpt_wake);
        s->has_ckpt_sync = false;
    }
}

struct store_checkpoints store_checkpoints(struct store *s)
{
    return (struct store_checkpoints){.by_thread = atomic_load(&s->ckpt_by_thread),
                                      .when_idle = atomic_load(&s->ckpt_idle),
                                      .by_writer = atomic_load(&s->ckpt_by_writer),
                                      .paced = walbuf_paced()};
}
