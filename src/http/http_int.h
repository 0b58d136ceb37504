/*
 * http_int.h - shared only inside src/http.
 */
#ifndef OTKLIK_HTTP_INT_H
#define OTKLIK_HTTP_INT_H

#include "core/str.h"
#include "http/http.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Authenticate by Bearer token or session cookie (+CSRF for unsafe methods). */
int http_authenticate(struct http_request *req);
void http_auth_init(const struct http_options *opt);

/* ---- pool.c: threads for work that may wait, off the event loop ---------- */

struct http_job {
    struct http_job *next;
    void (*fn)(struct http_job *job); /* runs on a pool thread; may free the job */
};

struct http_pool;

/* A pool of at most max_threads threads (started as jobs need them). */
struct http_pool *http_pool_new(unsigned max_threads);
/* Queue a job; a thread of its own starts when none is idle (up to the cap). */
void http_pool_submit(struct http_pool *p, struct http_job *job);
/* Wait until no job is queued or running. */
void http_pool_drain(struct http_pool *p);
/* Let the threads finish their jobs and exit; free. */
void http_pool_free(struct http_pool *p);

/* ---- server.c, for the stream adapter ------------------------------------- */

/* Suspend conn and run job on the pool (the job resumes conn when done);
 * false, with nothing done, once the server is stopping. */
bool http_defer(struct http_server *srv, struct MHD_Connection *conn, struct http_job *job);

/* ---- stream.c: a handler's stream behind MHD's content reader ------------- */

/* Box the response's stream: the stream function runs on the pool while
 * the connection waits suspended, and the event loop sends what it read. */
void *http_stream_box(struct http_server *srv, struct MHD_Connection *conn,
                      struct http_response *resp);
void http_stream_box_free(void *box);
ssize_t http_stream_adapter(void *box, uint64_t pos, char *buf, size_t max);

#endif
