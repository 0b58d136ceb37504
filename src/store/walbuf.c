/*
 * walbuf.c - a VFS over the default one that gathers the writer's WAL
 * frames into one write per commit.
 *
 * SQLite writes each WAL frame with two calls, its 24-byte header and then
 * the page: a commit of 300 pages costs 600 write system calls, a fifth of
 * the writer's time under a heavy intake.  Here writes that append to a WAL
 * file are gathered in a buffer (any other write goes straight through
 * after it, see wb_write), which is written out at once:
 *   - after the page of a commit frame (the header's "database size after
 *     commit" field is non-zero), so a committed transaction is in the file
 *     before SQLite publishes it in the WAL index and before anyone, the
 *     durability thread's fsync included, can look for it;
 *   - before anything else touches the file (a write elsewhere, a read, a
 *     sync, a truncation, its size, closing), and when the buffer is full.
 * A crash may lose buffered frames of a transaction that has not committed,
 * which SQLite's recovery drops anyway (a WAL ends at its last commit).
 *
 * A transaction larger than the buffer (a bulk import, a rebuild of the
 * rollups) fills it many times before its commit.  A full buffer is then
 * handed to the file's own thread, which writes it while the next fills
 * (wb_launch): copying hundreds of megabytes into the kernel's page cache
 * was a sixth of a rebuild's time on the writer.  The connection's thread
 * waits for that write (wb_settle) before anything but an append or a read
 * the two buffers can answer, and before every call that reads or writes
 * the file (the locking and shared-memory calls, which SQLite makes on the
 * database file and not on a WAL, pass straight through), so the default
 * VFS's file is never read or written by two threads at once, and a
 * commit's frames are all in the file when it returns.
 *
 * Every other file, and every other operation, goes straight to the default
 * VFS.  Only the writer's connection uses this VFS (WALBUF_VFS), and the
 * checkpoint thread's.
 *
 * The checkpoint thread paces what it copies into the database file
 * (walbuf_pace_thread): after each DB_PACE_BYTES written it starts their
 * writeback and waits for the previous piece's, so the disk is never handed
 * tens of megabytes at once.  A copy of 16,000 pages written in one go made
 * the WAL's fsyncs, which acknowledge requests, wait 10-60 ms behind it.
 */
#include "store/db.h"

#include "core/mem.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WALBUF_CAP (1024 * 1024)
#define WALBUF_PIECE ((size_t)64 * 1024)
#define WAL_FRAME_HEADER 24
#define DB_PACE_BYTES ((sqlite3_int64)1024 * 1024)

/* The write-behind of one WAL file: a full buffer being written by its thread. */
struct wb_flight {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    sqlite3_file *real;
    char *buf;           /* [start, start + len) until wb_settle, then the spare */
    size_t len;
    sqlite3_int64 start;
    bool is_busy;
    bool is_stopping;
    int rc;              /* the outcome of the last write, until wb_settle takes it */
};

struct wb_file {
    sqlite3_file base;   /* pMethods: one of wb_versions */
    sqlite3_file *real;  /* the default VFS's file, right after this struct */
    bool is_wal;
    char *buf;           /* frames not yet written, for [start, start + len) */
    size_t len;
    sqlite3_int64 start;
    sqlite3_int64 end;   /* past the last byte written since the WAL's header */
    bool is_commit_next; /* the next write is the page of a commit frame */
    bool has_no_thread;  /* a thread for write-behind could not be had: write in place */
    int err;             /* a write of buffered frames failed: so does every later call */
    struct wb_flight *fly; /* once a transaction first fills the buffer, else NULL */
    /* a database file: its writes by a pacing thread, a piece at a time */
    const char *db_name;          /* its path (SQLite keeps it until xClose), else NULL */
    int pace_fd;                  /* pace_fd_for(db_name) once a pacing thread writes, else -1 */
    sqlite3_int64 lo, hi, bytes;  /* the piece being written: its range, bytes in it */
    sqlite3_int64 prev_lo, prev_hi; /* the piece before, its writeback started */
};

static sqlite3_vfs *base_vfs;
static _Thread_local bool is_pacing;
static _Atomic uint64_t n_paced;
static _Atomic uint64_t n_behind;

/*
 * The descriptor pacing uses for a database file: one per file for the life
 * of the process, never closed.  SQLite locks the file with POSIX record
 * locks, which belong to the process: closing any descriptor of the file
 * would drop every lock the process's connections hold on it, and another
 * process could then delete the WAL under them.
 */
struct pace_file {
    dev_t dev;
    ino_t ino;
    int fd;
    struct pace_file *next;
};
static pthread_mutex_t pace_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pace_file *pace_files;

static int pace_fd_for(const char *name)
{
    int fd = -1;
    struct stat st;
    pthread_mutex_lock(&pace_mu);
    if (stat(name, &st) == 0) {
        struct pace_file *pf = pace_files;
        while (pf != NULL && !(pf->dev == st.st_dev && pf->ino == st.st_ino))
            pf = pf->next;
        if (pf == NULL && (fd = open(name, O_RDONLY | O_CLOEXEC)) >= 0) {
            pf = xmalloc(sizeof *pf);
            *pf = (struct pace_file){
                .dev = st.st_dev, .ino = st.st_ino, .fd = fd, .next = pace_files};
            pace_files = pf;
        }
        fd = pf != NULL ? pf->fd : -1;
    }
    pthread_mutex_unlock(&pace_mu);
    return fd;
}

void walbuf_pace_thread(void)
{
    is_pacing = true;
}

uint64_t walbuf_paced(void)
{
    return atomic_load(&n_paced);
}

uint64_t walbuf_written_behind(void)
{
    return atomic_load(&n_behind);
}

/* After a write of [off, off + amt): once a piece's pages add up to
 * DB_PACE_BYTES, start their writeback and wait for the piece before.  A
 * checkpoint writes pages in ascending order, so the pieces are ranges one
 * after the other.  A hint only: errors show in the checkpoint's own fsync,
 * which follows. */
static void pace(struct wb_file *p, sqlite3_int64 off, int amt)
{
    if (p->pace_fd == -1 && (p->pace_fd = pace_fd_for(p->db_name)) < 0) {
        p->pace_fd = -2; /* cannot: the checkpoint's fsync does it all, as without pacing */
        return;
    }
    if (p->bytes == 0 || off < p->lo)
        p->lo = off;
    if (off + amt > p->hi)
        p->hi = off + amt;
    p->bytes += amt;
    if (p->bytes < DB_PACE_BYTES)
        return;
    if (sync_file_range(p->pace_fd, p->lo, p->hi - p->lo, SYNC_FILE_RANGE_WRITE) == 0)
        atomic_fetch_add_explicit(&n_paced, 1, memory_order_relaxed);
    if (p->prev_hi > p->prev_lo)
        sync_file_range(p->pace_fd, p->prev_lo, p->prev_hi - p->prev_lo,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER);
    p->prev_lo = p->lo;
    p->prev_hi = p->hi;
    p->lo = p->hi = p->bytes = 0;
}

static struct wb_file *wb(sqlite3_file *f)
{
    return (struct wb_file *)f;
}

/* Write [start, start + len) from buf, in pieces the default VFS takes whole
 * (it writes at most 128 KiB - 1 bytes a call). */
static int write_pieces(sqlite3_file *real, const char *buf, size_t len, sqlite3_int64 start)
{
    int rc = SQLITE_OK;
    for (size_t done = 0; done < len && rc == SQLITE_OK; done += WALBUF_PIECE) {
        size_t n = len - done < WALBUF_PIECE ? len - done : WALBUF_PIECE;
        rc = real->pMethods->xWrite(real, buf + done, (int)n, start + (sqlite3_int64)done);
    }
    return rc;
}

static void *flight_main(void *arg)
{
    struct wb_flight *w = arg;
    pthread_setname_np(pthread_self(), "otklik-walwrite");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->is_busy && !w->is_stopping)
            pthread_cond_wait(&w->cond, &w->mu);
        if (!w->is_busy)
            break;
        const char *buf = w->buf;
        size_t len = w->len;
        sqlite3_int64 start = w->start;
        pthread_mutex_unlock(&w->mu);
        int rc = write_pieces(w->real, buf, len, start);
        pthread_mutex_lock(&w->mu);
        if (rc != SQLITE_OK)
            w->rc = rc;
        w->is_busy = false;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Wait until the buffer in flight, if any, is written; its error becomes the file's. */
static int wb_settle(struct wb_file *p)
{
    struct wb_flight *w = p->fly;
    if (w == NULL)
        return p->err;
    pthread_mutex_lock(&w->mu);
    while (w->is_busy)
        pthread_cond_wait(&w->cond, &w->mu);
    int rc = w->rc;
    w->rc = SQLITE_OK;
    w->len = 0; /* in the file now, where it may be written over: no longer read from buf */
    pthread_mutex_unlock(&w->mu);
    /* SQLite was told those frames were written: see wb_flush. */
    if (rc != SQLITE_OK && p->err == SQLITE_OK)
        p->err = rc;
    return p->err;
}

/* Write out what is buffered, after the buffer in flight. */
static int wb_flush(struct wb_file *p)
{
    int rc = wb_settle(p);
    if (rc == SQLITE_OK)
        rc = write_pieces(p->real, p->buf, p->len, p->start);
    p->len = 0;
    /* SQLite was told those frames were written: once some are lost, nothing
     * more may be (a later commit would have a hole in its middle). */
    if (rc != SQLITE_OK)
        p->err = rc;
    return rc;
}

/* The file's thread, with the spare buffer; NULL when no thread can be had. */
static struct wb_flight *flight_new(sqlite3_file *real)
{
    struct wb_flight *w = xcalloc(1, sizeof *w);
    w->real = real;
    w->buf = xmalloc(WALBUF_CAP);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, flight_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cond);
        free(w->buf);
        free(w);
        return NULL;
    }
    return w;
}

static void flight_free(struct wb_flight *w)
{
    pthread_mutex_lock(&w->mu);
    w->is_stopping = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cond);
    free(w->buf);
    free(w);
}

/* The buffer is full and no commit ends it: the file's thread writes it while
 * the spare fills (once the write before it is done). */
static int wb_launch(struct wb_file *p)
{
    if (p->fly == NULL && (p->has_no_thread || (p->fly = flight_new(p->real)) == NULL)) {
        p->has_no_thread = true; /* no thread to be had: write it here, now and later */
        return wb_flush(p);
    }
    int rc = wb_settle(p);
    if (rc != SQLITE_OK) {
        p->len = 0;
        return rc;
    }
    struct wb_flight *w = p->fly;
    char *spare = w->buf;
    pthread_mutex_lock(&w->mu);
    w->buf = p->buf;
    w->len = p->len;
    w->start = p->start;
    w->is_busy = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    atomic_fetch_add_explicit(&n_behind, 1, memory_order_relaxed);
    p->buf = spare;
    p->len = 0;
    return SQLITE_OK;
}

static int wb_close(sqlite3_file *f)
{
    struct wb_file *p = wb(f);
    int rc = wb_flush(p);
    if (p->fly != NULL)
        flight_free(p->fly);
    p->fly = NULL;
    int rc2 = p->real->pMethods ? p->real->pMethods->xClose(p->real) : SQLITE_OK;
    free(p->buf);
    p->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

/* Does [off, off + amt) lie within the len bytes of buf from start? Then copy it. */
static bool read_from(const char *buf, size_t len, sqlite3_int64 start, void *dst, int amt,
                      sqlite3_int64 off)
{
    if (len == 0 || off < start || off + amt > start + (sqlite3_int64)len)
        return false;
    memcpy(dst, buf + (off - start), (size_t)amt);
    return true;
}

/* Frames still in a buffer are read from it: the one filling, or the one in
 * flight (only this thread changes it, and wb_settle forgets it). */
static int wb_read(sqlite3_file *f, void *dst, int amt, sqlite3_int64 off)
{
    struct wb_file *p = wb(f);
    if (p->err != SQLITE_OK)
        return p->err;
    if (amt > 0 && read_from(p->buf, p->len, p->start, dst, amt, off))
        return SQLITE_OK;
    struct wb_flight *w = p->fly;
    if (amt > 0 && w != NULL && read_from(w->buf, w->len, w->start, dst, amt, off))
        return SQLITE_OK;
    int rc = wb_flush(p);
    return rc != SQLITE_OK ? rc : p->real->pMethods->xRead(p->real, dst, amt, off);
}

/*
 * Only appends are gathered: a write where the WAL ends.  Anything else goes
 * straight through after what is buffered: a page written again in place
 * within its transaction, and the frame headers SQLite writes again at the
 * commit of such a transaction with new checksums (walRewriteChecksums, the
 * commit frame's last) - a commit frame's header that is not followed by
 * its page must not wait in the buffer.
 */
static int wb_write(sqlite3_file *f, const void *src, int amt, sqlite3_int64 off)
{
    struct wb_file *p = wb(f);
    if (!p->is_wal || amt <= 0) {
        int rc = p->real->pMethods->xWrite(p->real, src, amt, off);
        if (rc == SQLITE_OK && is_pacing && p->db_name != NULL && p->pace_fd != -2 && amt > 0)
            pace(p, off, amt);
        return rc;
    }
    if (p->err != SQLITE_OK)
        return p->err;
    bool is_commit = p->is_commit_next;
    p->is_commit_next = false;
    if (off == 0) { /* the WAL's header: it starts over */
        /* Anything still buffered belongs to a transaction that was rolled back:
         * it goes out first, where it was meant to be, so that the new header
         * and frames are gathered from offset 0 and written over it. */
        int rc = p->len > 0 ? wb_flush(p) : SQLITE_OK;
        if (rc != SQLITE_OK)
            return rc;
        p->end = 0;
    }
    if (off != p->end || (size_t)amt > WALBUF_PIECE) {
        int rc = wb_flush(p);
        if (rc == SQLITE_OK)
            rc = p->real->pMethods->xWrite(p->real, src, amt, off);
        if (off + amt > p->end)
            p->end = off + amt;
        return rc;
    }
    /* An appended frame header: bytes 4..7 hold the database size after a
     * commit, else 0. */
    if (amt == WAL_FRAME_HEADER) {
        const unsigned char *h = src;
        p->is_commit_next = (h[4] | h[5] | h[6] | h[7]) != 0;
    }
    if (p->len > 0 && p->len + (size_t)amt > WALBUF_CAP) {
        int rc = wb_launch(p);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (p->len == 0)
        p->start = off;
    memcpy(p->buf + p->len, src, (size_t)amt);
    p->len += (size_t)amt;
    p->end = off + amt;
    return is_commit ? wb_flush(p) : SQLITE_OK;
}

static int wb_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    struct wb_file *p = wb(f);
    int rc = wb_flush(p);
    return rc != SQLITE_OK ? rc : p->real->pMethods->xTruncate(p->real, size);
}

static int wb_sync(sqlite3_file *f, int flags)
{
    struct wb_file *p = wb(f);
    int rc = wb_flush(p);
    return rc != SQLITE_OK ? rc : p->real->pMethods->xSync(p->real, flags);
}

static int wb_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    struct wb_file *p = wb(f);
    int rc = wb_flush(p);
    return rc != SQLITE_OK ? rc : p->real->pMethods->xFileSize(p->real, size);
}

static int wb_lock(sqlite3_file *f, int level)
{
    return wb(f)->real->pMethods->xLock(wb(f)->real, level);
}

static int wb_unlock(sqlite3_file *f, int level)
{
    return wb(f)->real->pMethods->xUnlock(wb(f)->real, level);
}

static int wb_check_reserved(sqlite3_file *f, int *out)
{
    return wb(f)->real->pMethods->xCheckReservedLock(wb(f)->real, out);
}

static int wb_file_control(sqlite3_file *f, int op, void *arg)
{
    struct wb_file *p = wb(f);
    if (op == SQLITE_FCNTL_CKPT_START) /* a new copy: its pieces start afresh */
        p->lo = p->hi = p->bytes = p->prev_lo = p->prev_hi = 0;
    int rc = wb_flush(p);
    return rc != SQLITE_OK ? rc : p->real->pMethods->xFileControl(p->real, op, arg);
}

static int wb_sector_size(sqlite3_file *f)
{
    return wb(f)->real->pMethods->xSectorSize(wb(f)->real);
}

static int wb_device_characteristics(sqlite3_file *f)
{
    return wb(f)->real->pMethods->xDeviceCharacteristics(wb(f)->real);
}

static int wb_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return wb(f)->real->pMethods->xShmMap(wb(f)->real, pg, pgsz, extend, pp);
}

static int wb_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return wb(f)->real->pMethods->xShmLock(wb(f)->real, offset, n, flags);
}

static void wb_shm_barrier(sqlite3_file *f)
{
    wb(f)->real->pMethods->xShmBarrier(wb(f)->real);
}

static int wb_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return wb(f)->real->pMethods->xShmUnmap(wb(f)->real, delete_flag);
}

static int wb_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    struct wb_file *p = wb(f);
    int rc = wb_flush(p);
    return rc != SQLITE_OK ? rc : p->real->pMethods->xFetch(p->real, off, amt, pp);
}

static int wb_unfetch(sqlite3_file *f, sqlite3_int64 off, void *page)
{
    return wb(f)->real->pMethods->xUnfetch(wb(f)->real, off, page);
}

static const sqlite3_io_methods wb_methods = {
    .iVersion = 3,
    .xClose = wb_close,
    .xRead = wb_read,
    .xWrite = wb_write,
    .xTruncate = wb_truncate,
    .xSync = wb_sync,
    .xFileSize = wb_file_size,
    .xLock = wb_lock,
    .xUnlock = wb_unlock,
    .xCheckReservedLock = wb_check_reserved,
    .xFileControl = wb_file_control,
    .xSectorSize = wb_sector_size,
    .xDeviceCharacteristics = wb_device_characteristics,
    .xShmMap = wb_shm_map,
    .xShmLock = wb_shm_lock,
    .xShmBarrier = wb_shm_barrier,
    .xShmUnmap = wb_shm_unmap,
    .xFetch = wb_fetch,
    .xUnfetch = wb_unfetch,
};

static sqlite3_io_methods wb_versions[4]; /* wb_methods as versions 1 to 3 */

static int wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                   int *out_flags)
{
    (void)vfs;
    struct wb_file *p = wb(f);
    memset(p, 0, sizeof *p);
    p->pace_fd = -1;
    p->real = (sqlite3_file *)(p + 1);
    int rc = base_vfs->xOpen(base_vfs, name, p->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        p->base.pMethods = NULL; /* SQLite does not close a file that failed to open */
        return rc;
    }
    p->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    if (p->is_wal)
        p->buf = xmalloc(WALBUF_CAP);
    if ((flags & SQLITE_OPEN_MAIN_DB) && name != NULL)
        p->db_name = name;
    /* The default VFS's methods may be of an older version: never offer more. */
    int v = p->real->pMethods->iVersion;
    p->base.pMethods = &wb_versions[v < 1 ? 1 : v > 3 ? 3 : v];
    return SQLITE_OK;
}

/* Called once, before any connection opens (db.c's process-wide setup). */
int walbuf_register(void)
{
    static sqlite3_vfs vfs;
    base_vfs = sqlite3_vfs_find(NULL);
    if (base_vfs == NULL)
        return SQLITE_ERROR;
    for (int v = 1; v <= 3; v++) {
        wb_versions[v] = wb_methods;
        wb_versions[v].iVersion = v;
    }
    vfs = *base_vfs; /* everything but opening a file is the default VFS's own */
    vfs.pNext = NULL;
    vfs.zName = WALBUF_VFS;
    vfs.szOsFile = (int)sizeof(struct wb_file) + base_vfs->szOsFile;
    vfs.xOpen = wb_open;
    return sqlite3_vfs_register(&vfs, 0);
}
