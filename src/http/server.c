/*
 * server.c - libmicrohttpd glue: listening socket, the access handler that
 * collects a capped body, routes, authenticates and calls the handler, and
 * the one renderer of error bodies.
 *
 * MHD runs a small pool of event-loop threads (epoll, one per CPU by
 * default).  A route marked quick (a bounded read that never waits) is
 * answered on the loop itself: no thread switch per request.  Every other
 * handler may wait (on the writer's group commit, where many requests
 * waiting at once is what makes the batches large; on a slow report; on the
 * live stream), so its connection is suspended and the handler runs on the
 * pool in pool.c, which resumes the connection with the answer.
 */
#include "http/http_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/assets.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *d;
    int fd;
    const struct route *routes;
    struct app *app;
    struct http_options opt;
    struct http_pool *pool;
    pthread_mutex_t mu;  /* orders deferring and writes against stopping */
    pthread_cond_t writes_done; /* n_writes reached 0 while stopping */
    atomic_uint n_writes; /* http_write_then writes in the writer */
    atomic_bool is_stopping;
};

/* A request whose write is in the writer: the answer so far and how to finish it. */
struct http_pending {
    struct store_async w; /* first: the write is the pending request */
    struct http_request *req;
    struct http_response resp;
    http_then_fn then;
    void *then_arg;
};

/* A request handled on the pool: its answer waits here for the resume. */
struct http_deferred {
    struct http_job job; /* first: the job is the deferred request */
    struct http_request *req;
    struct http_response resp;
};

static _Atomic uint64_t next_request_id;

const struct http_options *http_options_of(struct http_request *req)
{
    return &req->srv->opt;
}

/* Match path against pattern, capturing {x} segments into params. */
static bool match(const char *pattern, const char *path, const char **params, struct arena *a)
{
    int n = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || n >= 4)
                return false;
            params[n++] = arena_strndup(a, s, len);
            s += len;
            p = strchr(p, '}') + 1;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

/* Find the route; *method_mismatch when the path exists under another method. */
static const struct route *route_find(struct http_server *srv, struct http_request *req,
                                      bool *method_mismatch)
{
    *method_mismatch = false;
    for (const struct route *r = srv->routes; r->fn != NULL; r++) {
        const char *params[4] = {0};
        if (!match(r->pattern, req->path, params, &req->arena))
            continue;
        /* HEAD is GET without the body (libmicrohttpd leaves the body out). */
        bool is_head_of_get = strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
        if (strcmp(r->method, req->method) != 0 && !is_head_of_get) {
            *method_mismatch = true;
            continue;
        }
        memcpy(req->params, params, sizeof params);
        return r;
    }
    return NULL;
}

struct buf *http_reply_json_body(struct http_response *resp, int status)
{
    resp->status = status;
    resp->content_type = "application/json";
    buf_reset(&resp->body);
    return &resp->body;
}

void http_reply_json(struct http_response *resp, int status, json_t *v)
{
    resp->status = status;
    resp->content_type = "application/json";
    buf_reset(&resp->body);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII * 0);
    buf_puts(&resp->body, text ? text : "null");
    buf_putc(&resp->body, '\n');
    free(text);
    json_decref(v);
}

void http_add_header(struct http_request *req, struct http_response *resp, const char *name,
                     const char *value)
{
    if (resp->n_headers >= 6)
        return;
    resp->headers[resp->n_headers][0] = arena_strdup(&req->arena, name);
    resp->headers[resp->n_headers][1] = arena_strdup(&req->arena, value);
    resp->n_headers++;
}

/* The one place error bodies are written. */
static void render_error(struct http_request *req, struct http_response *resp, int code)
{
    if (req->err.code == 0)
        err_set(&req->err, code, "", "%s", err_str(code));
    json_t *e = json_pack("{s:s, s:s}", "code", err_str(code), "message", req->err.message);
    if (req->err.field[0])
        json_object_set_new(e, "field", json_string(req->err.field));
    else
        json_object_set_new(e, "field", json_null());
    if (resp->stream != NULL && resp->stream_free != NULL) /* a handler that failed after all */
        resp->stream_free(resp->stream_ctx);
    resp->stream = NULL;
    resp->stream_ctx = NULL;
    resp->stream_free = NULL;
    http_reply_json(resp, err_http_status(code), json_pack("{s:o}", "error", e));
}

static enum MHD_Result queue(struct MHD_Connection *conn, struct http_request *req,
                             struct http_response *resp)
{
    struct MHD_Response *r;
    if (resp->stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8192,
                                              (MHD_ContentReaderCallback)http_stream_adapter,
                                              http_stream_box(req->srv, conn, resp),
                                              http_stream_box_free);
    } else {
        size_t len;
        char *data = buf_steal(&resp->body, &len);
        r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    }
    if (r == NULL)
        return MHD_NO;
    if (resp->content_type)
        MHD_add_response_header(r, "Content-Type", resp->content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "same-origin");
    if (strncmp(req->path, "/api/", 5) == 0)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    char rid[24];
    snprintf(rid, sizeof rid, "%llu", (unsigned long long)req->id);
    MHD_add_response_header(r, "X-Request-Id", rid);
    for (int i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    int cls = resp->status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add_explicit(&metric_http_responses[cls], 1, memory_order_relaxed);
    if (resp->status >= 500)
        log_warn("http status=%d method=%s path=%s code=%s msg=\"%s\"", resp->status, req->method,
                 req->path, err_str(req->err.code), req->err.message);
    else
        log_debug("http status=%d method=%s path=%s", resp->status, req->method, req->path);
    return ok;
}

static void serve_asset(struct http_request *req, struct http_response *resp,
                        const struct asset *a)
{
    resp->status = 200;
    resp->content_type = a->content_type;
    buf_put(&resp->body, a->data, (size_t)a->size);
    if (strstr(a->content_type, "text/html"))
        http_add_header(req, resp, "Content-Security-Policy",
                        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
}

/* A handler's result into its answer: the error rendered, or an answer too large refused. */
static void conclude(struct http_request *req, struct http_response *resp, int rc)
{
    if (rc != 0)
        render_error(req, resp, rc);
    else if (buf_error(&resp->body) != 0)
        render_error(req, resp,
                     err_set(&req->err, ERR_TOOBIG, "", "the response is too large"));
}

/* Free an answer MHD was not given. */
static void response_drop(struct http_response *resp)
{
    if (resp->stream && resp->stream_free)
        resp->stream_free(resp->stream_ctx);
    buf_free(&resp->body);
}

/* Queue the answer (MHD owns its stream from here) and free the rest of it. */
static enum MHD_Result send_answer(struct MHD_Connection *conn, struct http_request *req,
                                   struct http_response *resp)
{
    enum MHD_Result r = queue(conn, req, resp);
    resp->stream = NULL;
    response_drop(resp);
    req->is_responded = true;
    return r;
}

/* Who may call the route, decided from the headers alone, before any of the
 * body is read: a body nobody may send is dropped, never held in memory. */
static int check_access(struct http_request *req)
{
    if (req->route == NULL || req->route->perm == 0)
        return 0;
    int rc = http_authenticate(req);
    if (rc != 0)
        return rc;
    if ((req->who.perms & req->route->perm) != req->route->perm) {
        /* The role may, but not bound to a store or region (an import). */
        bool is_binding = (model_role_perms(req->who.role) & req->route->perm) == req->route->perm;
        return err_set(&req->err, ERR_FORBIDDEN, "", "role %s%s may not do this", req->who.role,
                       !is_binding                           ? ""
                       : req->who.scope.scope == SCOPE_STORE ? " bound to a store"
                                                             : " bound to a region");
    }
    return 0;
}

static void dispatch(struct http_server *srv, struct http_request *req,
                     struct http_response *resp)
{
    (void)srv;
    int rc;
    if (req->route == NULL) {
        bool is_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
        const struct asset *a = is_get ? asset_find(req->path) : NULL;
        if (a != NULL) {
            serve_asset(req, resp, a);
            return;
        }
        render_error(req, resp,
                     err_set(&req->err, req->route_method_mismatch ? ERR_METHOD : ERR_NOTFOUND,
                             "", req->route_method_mismatch ? "method %s not allowed here"
                                                            : "no such resource: %s",
                             req->route_method_mismatch ? req->method : req->path));
        return;
    }
    if (req->refused != 0) { /* decided by check_access when the headers came */
        render_error(req, resp, req->refused);
        return;
    }
    if (req->is_body_too_big) {
        render_error(req, resp,
                     err_set(&req->err, ERR_TOOBIG, "", "the request body is larger than %zu bytes",
                             req->body.max));
        return;
    }
    resp->status = 200;
    rc = req->route->fn(req, resp);
    if (rc != HTTP_PENDING) /* else finished by its write's then */
        conclude(req, resp, rc);
}

/* The most of an oversized body read and dropped before the 413. */
#define DISCARD_MAX ((unsigned long long)16 * 1024 * 1024)

/* Run the handler and queue its answer (for an oversized body, before the body
 * is read: the connection closes after it). */
static enum MHD_Result respond(struct http_server *srv, struct MHD_Connection *conn,
                               struct http_request *req)
{
    struct http_response resp = {0};
    buf_init(&resp.body, 256 * 1024 * 1024);
    log_set_request_id(req->id);
    req->is_on_loop = true;
    dispatch(srv, req, &resp);
    req->is_on_loop = false;
    enum MHD_Result r = MHD_YES;
    if (req->pending != NULL)
        req->pending->resp = resp; /* the answer so far waits for the write */
    else
        r = send_answer(conn, req, &resp);
    log_set_request_id(0);
    return r;
}

/* On the writer's thread: the write is durable (or failed); back to the loop. */
static void write_done(struct store_async *w)
{
    struct http_pending *p = (struct http_pending *)w;
    struct http_server *srv = p->req->srv;
    MHD_resume_connection(p->req->conn); /* p belongs to the loop from here */
    /* The writer takes no lock per request; only a stop waits for the count. */
    if (atomic_fetch_sub(&srv->n_writes, 1) == 1 && atomic_load(&srv->is_stopping)) {
        pthread_mutex_lock(&srv->mu);
        pthread_cond_broadcast(&srv->writes_done);
        pthread_mutex_unlock(&srv->mu);
    }
}

int http_write_then(struct http_request *req, struct http_response *resp, store_job_fn fn,
                    void *arg, bool is_rerunnable, http_then_fn then, void *then_arg)
{
    struct http_server *srv = req->srv;
    if (req->is_on_loop) {
        struct http_pending *p = xcalloc(1, sizeof *p);
        p->w = (struct store_async){.fn = fn, .arg = arg, .err = &req->err, .done = write_done,
                                    .is_rerunnable = is_rerunnable};
        p->req = req;
        p->then = then;
        p->then_arg = then_arg;
        pthread_mutex_lock(&srv->mu);
        bool ok = !atomic_load(&srv->is_stopping);
        if (ok) {
            MHD_suspend_connection(req->conn);
            atomic_fetch_add(&srv->n_writes, 1);
            req->pending = p; /* before the writer can finish it */
        }
        pthread_mutex_unlock(&srv->mu);
        if (ok) {
            int rc = store_write_async(req->srv_store, &p->w);
            if (rc != 0) { /* not queued: finish on the loop as if it had failed */
                p->w.result = rc;
                write_done(&p->w);
            }
            return HTTP_PENDING;
        }
        free(p);
    }
    int rc = store_write(req->srv_store, fn, arg, &req->err);
    return then(req, resp, then_arg, rc);
}

/* Resumed after a write: let the handler finish its answer, and send it. */
static enum MHD_Result finish_pending(struct MHD_Connection *conn, struct http_request *req)
{
    struct http_pending *p = req->pending;
    req->pending = NULL;
    log_set_request_id(req->id);
    req->is_on_loop = true;
    int rc = p->then(req, &p->resp, p->then_arg, p->w.result);
    req->is_on_loop = false;
    assert(rc != HTTP_PENDING);
    conclude(req, &p->resp, rc);
    enum MHD_Result r = send_answer(conn, req, &p->resp);
    free(p);
    log_set_request_id(0);
    return r;
}

bool http_defer(struct http_server *srv, struct MHD_Connection *conn, struct http_job *job)
{
    pthread_mutex_lock(&srv->mu);
    bool ok = !atomic_load(&srv->is_stopping);
    if (ok) {
        MHD_suspend_connection(conn);
        http_pool_submit(srv->pool, job);
    }
    pthread_mutex_unlock(&srv->mu);
    return ok;
}

/* On a pool thread: run the handler, then hand the connection back to the loop. */
static void run_deferred(struct http_job *job)
{
    struct http_deferred *d = (struct http_deferred *)job;
    struct http_request *req = d->req;
    log_set_request_id(req->id);
    dispatch(req->srv, req, &d->resp);
    log_set_request_id(0);
    MHD_resume_connection(req->conn); /* the loop calls on_request again: the answer is ready */
}

static void deferred_free(struct http_deferred *d)
{
    response_drop(&d->resp);
    free(d);
}

/* Answer on the loop, or suspend the connection and run the handler on the pool. */
static enum MHD_Result respond_or_defer(struct http_server *srv, struct MHD_Connection *conn,
                                        struct http_request *req)
{
    if (req->route == NULL || req->route->is_quick || req->is_body_too_big || req->refused != 0)
        return respond(srv, conn, req);
    struct http_deferred *d = xcalloc(1, sizeof *d);
    d->job.fn = run_deferred;
    d->req = req;
    d->resp.status = 200;
    buf_init(&d->resp.body, 256 * 1024 * 1024);
    req->deferred = d;
    if (http_defer(srv, conn, &d->job))
        return MHD_YES;
    req->deferred = NULL; /* stopping: answer here */
    deferred_free(d);
    return respond(srv, conn, req);
}

/* An unlinked temporary file in dir ($TMPDIR or /tmp when NULL); -1 and errno on failure. */
static int spool_open(const char *dir)
{
    if (dir == NULL)
        dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[4096]; /* a file system without O_TMPFILE: a named file, unlinked at once */
    if (snprintf(path, sizeof path, "%s/otklik-body-XXXXXX", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write the spooled body's bytes gathered in req->body to its file (MHD
 * hands the body over 16 KiB at a time: one write a MiB, not a write each). */
static void spool_flush(struct http_request *req)
{
    if (req->body_fd < 0 || req->body.len == 0 || req->refused != 0)
        return;
    if (write_all(req->body_fd, req->body.data, req->body.len) != 0) {
        log_error("http msg=\"cannot keep a bulk body: %s\"", strerror(errno));
        req->refused = err_set(&req->err, ERR_UNAVAILABLE, "",
                               "the server cannot keep a body this large now: %s",
                               strerror(errno));
    } else {
        atomic_fetch_add_explicit(&metric_http_spooled_bytes, req->body.len, memory_order_relaxed);
    }
    buf_reset(&req->body);
}

/* Keep n more bytes of the body: in memory, or, for a bulk body past
 * HTTP_SPOOL_AT, in its spool file (the memory held so far moves there,
 * and later bytes go through req->body a MiB at a time: spool_flush). */
static void body_take(struct http_server *srv, struct http_request *req, const char *data,
                      size_t n)
{
    if (req->body_size + n > req->body.max) {
        req->is_body_too_big = true;
        return;
    }
    req->body_size += n;
    if (req->body_fd < 0 && req->route != NULL && req->route->max_body == HTTP_LARGE_BODY &&
        req->body.len + n > HTTP_SPOOL_AT) {
        req->body_fd = spool_open(srv->opt.spool_dir);
        if (req->body_fd < 0 || write_all(req->body_fd, req->body.data, req->body.len) != 0) {
            log_error("http spool=%s msg=\"cannot keep a bulk body: %s\"",
                      srv->opt.spool_dir ? srv->opt.spool_dir : "$TMPDIR", strerror(errno));
            req->refused = err_set(&req->err, ERR_UNAVAILABLE, "",
                                   "the server cannot keep a body this large now: %s",
                                   strerror(errno));
            return;
        }
        atomic_fetch_add_explicit(&metric_http_spooled_bodies, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&metric_http_spooled_bytes, req->body.len, memory_order_relaxed);
        buf_reset(&req->body);
    }
    if (req->body_fd >= 0) {
        buf_put(&req->body, data, n);
        if (req->body.len >= HTTP_SPOOL_AT)
            spool_flush(req);
        return;
    }
    buf_put(&req->body, data, n);
    if (buf_error(&req->body) != 0)
        req->is_body_too_big = true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct http_server *srv = cls;
    struct http_request *req = *con_cls;
    store_thread_answers_quickly(); /* this is an event loop's thread */
    if (req == NULL) {
        req = xcalloc(1, sizeof *req);
        req->srv = srv;
        req->conn = conn;
        req->app = srv->app;
        req->srv_store = srv->opt.store;
        req->start_ns = clock_mono_ns();
        req->id = atomic_fetch_add(&next_request_id, 1) + 1;
        arena_init(&req->arena, 0);
        req->method = arena_strdup(&req->arena, method);
        req->path = arena_strdup(&req->arena, url);
        req->route = route_find(srv, req, &req->route_method_mismatch);
        size_t max = req->route == NULL || req->route->max_body == 0 ? srv->opt.max_body
                     : req->route->max_body == HTTP_LARGE_BODY       ? srv->opt.large_body
                                                                     : req->route->max_body;
        buf_init(&req->body, max);
        req->body_fd = -1;
        *con_cls = req;
        req->refused = check_access(req);
        /* An announced oversized body, or one the caller may not send, is
         * refused once read and dropped, so a client that writes it whole
         * still reads the answer (closing on unread data resets the
         * connection); one past DISCARD_MAX is refused at once. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        unsigned long long announced = cl != NULL ? strtoull(cl, NULL, 10) : 0;
        if (announced > max)
            req->is_body_too_big = true;
        if (announced > DISCARD_MAX && (req->is_body_too_big || req->refused != 0))
            return respond(srv, conn, req);
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (req->is_responded) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (!req->is_body_too_big && req->refused == 0) {
            body_take(srv, req, upload_data, *upload_data_size);
        } else {
            req->n_dropped += *upload_data_size;
        }
        *upload_data_size = 0;
        /* A dropped body without a length that goes on past DISCARD_MAX: refuse now. */
        if (req->n_dropped > DISCARD_MAX)
            return respond(srv, conn, req);
        return MHD_YES;
    }
    if (req->is_responded)
        return MHD_YES;
    spool_flush(req); /* the body is whole: its last bytes go to the file */
    if (req->pending != NULL) /* resumed: its write is done */
        return finish_pending(conn, req);
    if (req->deferred != NULL) { /* resumed: the pool ran the handler */
        struct http_deferred *d = req->deferred;
        req->deferred = NULL;
        enum MHD_Result r = send_answer(conn, req, &d->resp);
        free(d);
        return r;
    }
    return respond_or_defer(srv, conn, req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct http_request *req = *con_cls;
    if (req == NULL)
        return;
    histogram_observe_ns(&metric_http_seconds, clock_mono_ns() - req->start_ns);
    if (req->deferred != NULL)
        deferred_free(req->deferred);
    if (req->pending != NULL) {
        /* Closed by the client once its write was done (MHD never closes a
         * connection waiting suspended) and before the answer went out: the
         * handler's then still frees its part; the answer is dropped. */
        struct http_pending *p = req->pending;
        req->pending = NULL;
        p->then(req, &p->resp, p->then_arg, p->w.result);
        response_drop(&p->resp);
        free(p);
    }
    buf_free(&req->body);
    if (req->body_fd >= 0)
        close(req->body_fd);
    arena_free(&req->arena);
    free(req);
    *con_cls = NULL;
}

/* Parse "HOST:PORT" or "[V6]:PORT" into a bound, listening socket. */
static int listen_on(const char *spec, int *out_fd, char *bound, size_t cap, struct err_info *err)
{
    char host[128];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || (size_t)(colon - spec) >= sizeof host)
        return err_set(err, ERR_INVALID, "listen", "listen must be HOST:PORT, not '%s'", spec);
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    int64_t port;
    if (str_to_i64(str_from(colon + 1), 0, 65535, &port) != 0)
        return err_set(err, ERR_INVALID, "listen", "bad port in '%s'", spec);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int family;
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']')
            return err_set(err, ERR_INVALID, "listen", "bad IPv6 address in '%s'", spec);
        host[n - 1] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return err_set(err, ERR_INVALID, "listen", "bad IPv6 address in '%s'", spec);
        len = sizeof *a6;
        family = AF_INET6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (strcmp(host, "localhost") == 0)
            memcpy(host, "127.0.0.1", 10);
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return err_set(err, ERR_INVALID, "listen", "bad IPv4 address in '%s'", spec);
        len = sizeof *a4;
        family = AF_INET;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_set(err, ERR_IO, "listen", "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        return err_set(err, ERR_IO, "listen", "cannot listen on %s: %s", spec, strerror(e));
    }
    getsockname(fd, (struct sockaddr *)&ss, &len);
    char addr[64];
    if (family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a6->sin6_addr, addr, sizeof addr);
        snprintf(bound, cap, "[%s]:%u", addr, ntohs(a6->sin6_port));
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a4->sin_addr, addr, sizeof addr);
        snprintf(bound, cap, "%s:%u", addr, ntohs(a4->sin_port));
    }
    *out_fd = fd;
    return 0;
}

int http_start(const struct route *routes, struct app *app, const struct http_options *opt,
               struct http_server **out, char *bound, size_t bound_cap, struct err_info *err)
{
    struct http_server *srv = xcalloc(1, sizeof *srv);
    srv->routes = routes;
    srv->app = app;
    srv->opt = *opt;
    if (srv->opt.large_body == 0) /* a zero cap would mean no cap at all */
        srv->opt.large_body = srv->opt.max_body;
    int rc = listen_on(opt->listen, &srv->fd, bound, bound_cap, err);
    if (rc != 0) {
        free(srv);
        return rc;
    }
    http_auth_init(opt);
    unsigned n_loops = opt->event_threads;
    if (n_loops == 0) {
        long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
        n_loops = n_cpu > 0 ? (unsigned)n_cpu : 1;
    }
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->writes_done, NULL);
    srv->pool = http_pool_new(opt->max_connections);
    srv->d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, srv->fd, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_THREAD_POOL_SIZE, n_loops, MHD_OPTION_CONNECTION_LIMIT,
        opt->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)2 * 1024 * 1024,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024, MHD_OPTION_END);
    if (srv->d == NULL) {
        http_pool_free(srv->pool);
        pthread_mutex_destroy(&srv->mu);
        pthread_cond_destroy(&srv->writes_done);
        close(srv->fd);
        free(srv);
        return err_set(err, ERR_IO, "listen", "cannot start the HTTP server");
    }
    *out = srv;
    return 0;
}

void http_stop(struct http_server *srv)
{
    if (srv == NULL)
        return;
    /* Defer nothing more; let the handlers on the pool finish and hand their
     * connections back (live streams end once the store's hub is closed). */
    pthread_mutex_lock(&srv->mu);
    atomic_store(&srv->is_stopping, true);
    while (atomic_load(&srv->n_writes) > 0) /* the writer still runs: they finish */
        pthread_cond_wait(&srv->writes_done, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
    http_pool_drain(srv->pool);
    MHD_stop_daemon(srv->d); /* closes the listening socket it was given */
    http_pool_free(srv->pool);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->writes_done);
    free(srv);
}

const char *http_query(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_cookie(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

void http_client_addr(struct http_request *req, char *out, size_t cap)
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

int http_json_body(struct http_request *req, json_t **out)
{
    const char *ct = http_header(req, "Content-Type");
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0)
        return err_set(&req->err, ERR_MEDIA_TYPE, "",
                       "the body must be JSON (Content-Type: application/json)");
    if (req->body.len == 0)
        return err_set(&req->err, ERR_INVALID, "", "the request body is empty");
    json_error_t je;
    json_t *v = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        if (json_error_code(&je) == json_error_invalid_utf8)
            return err_set(&req->err, ERR_INVALID, "", "the body is not valid UTF-8 (at byte %d)",
                           je.position);
        return err_set(&req->err, ERR_INVALID, "", "malformed JSON at line %d column %d: %s",
                       je.line, je.column, je.text);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return err_set(&req->err, ERR_INVALID, "", "the body must be a JSON object");
    }
    *out = v;
    return 0;
}

int http_param_id(struct http_request *req, int i, int64_t *out)
{
    const char *s = req->params[i];
    if (s == NULL || str_to_i64(str_from(s), 1, INT64_MAX, out) != 0)
        return err_set(&req->err, ERR_NOTFOUND, "id", "'%s' is not an id", s ? s : "");
    return 0;
}
