/*
 * pool.c - the threads that run work which may wait, off the event loop.
 *
 * The HTTP event loop answers quick reads itself; a handler that may wait
 * (on the writer's group commit, on the live stream, on a slow report) runs
 * here while its connection is suspended, and resumes the connection when
 * done.  The pool grows to as many threads as there are waiting jobs (every
 * connection may be waiting on a commit at once, which is what makes the
 * commit batches large), up to a cap, and shrinks back after a quiet spell.
 *
 * Jobs are intrusive (struct http_job inside the caller's object): the pool
 * never allocates per job, and never touches a job after calling its fn,
 * which may free it.
 */
#include "http/http_int.h"

#include "core/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define POOL_IDLE_KEEP 4        /* threads kept however long they idle */
#define POOL_IDLE_EXIT_S 30     /* a thread beyond those exits after this long idle */
#define POOL_STACK_BYTES ((size_t)2 * 1024 * 1024)

struct http_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;      /* a job was queued, or the pool is closing */
    pthread_cond_t quiet;     /* a thread exited, or a job finished */
    struct http_job *head, *tail;
    unsigned n_queued;
    unsigned n_threads;
    unsigned n_idle;
    unsigned n_running;       /* jobs taken and not finished */
    unsigned max_threads;
    bool is_closing;
};

static void *pool_main(void *arg)
{
    struct http_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->is_closing) {
            p->n_idle++;
            int rc = 0;
            if (p->n_threads > POOL_IDLE_KEEP) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += POOL_IDLE_EXIT_S;
                rc = pthread_cond_timedwait(&p->work, &p->mu, &until);
            } else {
                pthread_cond_wait(&p->work, &p->mu);
            }
            p->n_idle--;
            if (rc != 0 && p->head == NULL && p->n_threads > POOL_IDLE_KEEP)
                goto out;
        }
        if (p->head == NULL)
            goto out; /* closing, and nothing left to run */
        struct http_job *j = p->head;
        p->head = j->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->n_queued--;
        p->n_running++;
        pthread_mutex_unlock(&p->mu);
        j->fn(j); /* may free j */
        pthread_mutex_lock(&p->mu);
        p->n_running--;
        if (p->n_running == 0 && p->head == NULL)
            pthread_cond_broadcast(&p->quiet);
    }
out:
    p->n_threads--;
    pthread_cond_broadcast(&p->quiet);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct http_pool *http_pool_new(unsigned max_threads)
{
    struct http_pool *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->quiet, NULL);
    p->max_threads = max_threads > 0 ? max_threads : 1;
    return p;
}

/* Start one more thread; called with p->mu held.  False when none could start. */
static bool grow(struct http_pool *p)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, POOL_STACK_BYTES);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    bool ok = pthread_create(&t, &attr, pool_main, p) == 0;
    pthread_attr_destroy(&attr);
    if (ok)
        p->n_threads++;
    return ok;
}

void http_pool_submit(struct http_pool *p, struct http_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->n_queued++;
    /* Every queued job gets a thread of its own unless the cap is reached:
     * a job may wait for a long time (a live stream), and the ones behind it
     * must not wait with it. */
    if (p->n_queued > p->n_idle && p->n_threads < p->max_threads)
        grow(p);
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

void http_pool_drain(struct http_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->head != NULL || p->n_running > 0)
        pthread_cond_wait(&p->quiet, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void http_pool_free(struct http_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->is_closing = true;
    pthread_cond_broadcast(&p->work);
    while (p->n_threads > 0)
        pthread_cond_wait(&p->quiet, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->quiet);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
