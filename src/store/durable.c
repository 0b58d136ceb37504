/*
 * durable.c - acknowledging writes once they are on disk, beside the writer.
 *
 * The writer commits with synchronous=NORMAL: a COMMIT writes the batch's
 * WAL frames and returns without waiting for the disk.  The writer hands
 * the committed batch to this thread and goes on with the next one; this
 * thread calls fdatasync() on the WAL file, which makes every frame written
 * before the call durable, and only then publishes the batches' events and
 * wakes their callers.  So the writer never sits idle while the disk
 * flushes (an fdatasync here takes 2-4 ms, as long as a whole batch's
 * work), one fsync covers every batch committed while the previous one ran,
 * and a 2xx still means on disk.
 *
 * Frames are never overwritten before they are durable: SQLite syncs the
 * WAL before a checkpoint copies it into the database, and syncs the
 * database before the WAL may start over (at NORMAL as at FULL).
 *
 * Other connections of this process may read a batch in the moment between
 * its COMMIT and its fsync.  A crash of the process (kill -9) loses nothing
 * written, since the frames are in the operating system's cache; only a
 * crash of the machine in that moment could take back what such a read saw,
 * and nothing of it has left the process: the live stream is published
 * here, after the fsync, outbox messages are claimed by a write (durable
 * only after the rows it claims), and other senders call
 * store_wait_durable() for what they read.
 *
 * A failed fdatasync leaves the file's state unknown (Linux may drop the
 * dirty pages and report success next time): the waiting writes are told
 * ERR_UNAVAILABLE and the store refuses every later write until restarted.
 */
#include "store/store_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A committed batch waiting for the WAL's fsync. */
struct synced {
    struct job *jobs;
    struct pending_event *pending; /* owned; published once durable */
    size_t n_pending;
    uint64_t seq;      /* the commit's number */
    uint64_t began_ns; /* when the batch began */
    struct synced *next;
};

void store_jobs_complete(struct job *jobs)
{
    /* Read next before waking a caller: a waiting caller's job lives on its
     * stack and is gone at once. */
    for (struct job *j = jobs, *next; j != NULL; j = next) {
        next = j->next;
        if (j->async != NULL) {
            struct store_async *w = j->async;
            w->result = j->result;
            free(j);
            w->done(w);
        } else {
            sem_post(&j->done);
        }
    }
}

void store_jobs_fail(struct job *jobs, const char *why)
{
    for (struct job *j = jobs; j != NULL; j = j->next)
        if (j->result == 0)
            j->result = err_set(j->err, ERR_UNAVAILABLE, "", "%s", why);
}

static int sync_fd(int fd)
{
    int rc;
    while ((rc = fdatasync(fd)) != 0 && errno == EINTR)
        ;
    return rc;
}

/*
 * While no batch is waiting, a WAL that grew since its last sync (a long
 * transaction spilling pages: a rollup rebuild writes a gigabyte before its
 * commit) is synced every DURABLE_PRESYNC_MS, so its commit's fsync has
 * little left to write.  Syncing more often than needed is always safe.
 */
#define DURABLE_PRESYNC_MS 250

struct wal_seen {
    off_t size;
    struct timespec mtime;
};

/* Sync the WAL ahead of a commit when it changed since the last look. */
static void presync(struct store *s, struct wal_seen *seen)
{
    struct stat st;
    if (fstat(s->wal_fd, &st) != 0)
        return;
    if (st.st_size == seen->size && st.st_mtim.tv_sec == seen->mtime.tv_sec &&
        st.st_mtim.tv_nsec == seen->mtime.tv_nsec)
        return;
    seen->size = st.st_size;
    seen->mtime = st.st_mtim;
    /* Linux reports a failed writeback once: after it, a later sync may
     * succeed with the data gone, so the store takes no write any more. */
    if (sync_fd(s->wal_fd) != 0 && !atomic_exchange(&s->sync_failed, true))
        log_error("store cannot sync the WAL to disk: %s; refusing writes until restarted",
                  strerror(errno));
}

static void *durable_main(void *arg)
{
    struct store *s = arg;
    pthread_setname_np(pthread_self(), "otklik-fsync");
    struct wal_seen seen = {0};
    pthread_mutex_lock(&s->dmu);
    for (;;) {
        while (s->d_head == NULL && !s->d_stopping) {
            struct timespec until = clock_deadline(CLOCK_MONOTONIC, DURABLE_PRESYNC_MS);
            if (pthread_cond_timedwait(&s->d_has, &s->dmu, &until) == ETIMEDOUT &&
                s->d_head == NULL && !s->d_stopping) {
                pthread_mutex_unlock(&s->dmu);
                presync(s, &seen);
                pthread_mutex_lock(&s->dmu);
            }
        }
        if (s->d_head == NULL)
            break; /* stopping, and everything handed over is done */
        struct synced *list = s->d_head;
        s->d_head = s->d_tail = NULL;
        pthread_mutex_unlock(&s->dmu);

        /* Every frame of these batches was written before this call. */
        bool ok = !atomic_load(&s->sync_failed) && sync_fd(s->wal_fd) == 0;
        if (!ok && !atomic_exchange(&s->sync_failed, true))
            log_error("store cannot sync the WAL to disk: %s; refusing writes until restarted",
                      strerror(errno));
        uint64_t last = 0;
        atomic_fetch_add_explicit(&s->n_syncs, 1, memory_order_relaxed);
        for (struct synced *b = list, *next; b != NULL; b = next) {
            next = b->next;
            if (b->jobs != NULL) { /* else the number of a COMMIT that failed */
                atomic_fetch_add_explicit(&s->n_synced_batches, 1, memory_order_relaxed);
                histogram_observe_ns(&metric_commit_seconds, clock_mono_ns() - b->began_ns);
            }
            if (ok) {
                hub_publish(&s->hub, b->pending, b->n_pending); /* the hub owns the JSON now */
            } else {
                pending_events_free(b->pending, b->n_pending);
                store_jobs_fail(b->jobs, "the write could not be made durable");
            }
            free(b->pending);
            last = b->seq;
            store_jobs_complete(b->jobs);
            free(b);
        }
        pthread_mutex_lock(&s->dmu);
        s->seq_durable = last;
        pthread_cond_broadcast(&s->d_synced);
    }
    pthread_mutex_unlock(&s->dmu);
    return NULL;
}

void store_durable_push(struct store *s, struct job *jobs, struct pending_event *pending,
                        size_t n_pending, uint64_t began_ns, uint64_t seq)
{
    struct synced *b = xmalloc(sizeof *b);
    b->began_ns = began_ns;
    b->jobs = jobs;
    b->pending = pending;
    b->n_pending = n_pending;
    b->next = NULL;
    b->seq = seq;
    pthread_mutex_lock(&s->dmu);
    if (s->d_tail)
        s->d_tail->next = b;
    else
        s->d_head = b;
    s->d_tail = b;
    pthread_cond_signal(&s->d_has);
    pthread_mutex_unlock(&s->dmu);
}

int store_wait_durable(struct store *s)
{
    if (!s->has_durable)
        return 0;
    uint64_t want = atomic_load(&s->seq_reserved);
    pthread_mutex_lock(&s->dmu);
    while (s->seq_durable < want)
        pthread_cond_wait(&s->d_synced, &s->dmu);
    pthread_mutex_unlock(&s->dmu);
    return atomic_load(&s->sync_failed) ? ERR_UNAVAILABLE : 0;
}

struct store_syncs store_syncs(struct store *s)
{
    return (struct store_syncs){atomic_load(&s->n_syncs), atomic_load(&s->n_synced_batches)};
}

/* Make the name of the file at path durable in its directory (it may be new). */
static void sync_dir_of(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        sync_fd(fd);
        close(fd);
    }
    free(copy);
}

int store_durable_start(struct store *s, struct err_info *err)
{
    /* The WAL as SQLite names it (beside the database's real path). */
    const char *wal = sqlite3_filename_wal(sqlite3_db_filename(db_handle(s->wdb), "main"));
    s->wal_fd = wal ? open(wal, O_RDONLY | O_CLOEXEC) : -1;
    if (s->wal_fd < 0) { /* no WAL file to sync: every commit syncs itself (FULL) */
        log_warn("store WAL file not found (%s): commits sync themselves", strerror(errno));
        return 0;
    }
    if (sync_fd(s->wal_fd) != 0) {
        int e = errno;
        close(s->wal_fd);
        s->wal_fd = -1;
        return err_set(err, ERR_IO, "db", "cannot sync the WAL file: %s", strerror(e));
    }
    sync_dir_of(wal);
    if (db_exec(s->wdb, "PRAGMA synchronous=NORMAL", err) != 0 ||
        pthread_create(&s->durable, NULL, durable_main, s) != 0) {
        db_exec(s->wdb, "PRAGMA synchronous=FULL", NULL);
        close(s->wal_fd);
        s->wal_fd = -1;
        return err->code ? err->code : err_set(err, ERR_INTERNAL, "", "cannot start a thread");
    }
    s->has_durable = true;
    return 0;
}

void store_durable_stop(struct store *s)
{
    if (s->has_durable) {
        pthread_mutex_lock(&s->dmu);
        s->d_stopping = true;
        pthread_cond_signal(&s->d_has);
        pthread_mutex_unlock(&s->dmu);
        pthread_join(s->durable, NULL);
        s->has_durable = false;
        db_exec(s->wdb, "PRAGMA synchronous=FULL", NULL);
    }
    if (s->wal_fd >= 0)
        close(s->wal_fd);
    s->wal_fd = -1;
}
