/*
 * http.h - the HTTP server: libmicrohttpd's event loops (epoll, a thread per
 * CPU) answer quick routes themselves and hand every other handler to a
 * pool of threads, where it may block (on the group commit, a slow report,
 * the live stream); a route table, capped request bodies, one place that
 * renders errors, and authentication by API token or session cookie with
 * CSRF protection.
 *
 * A handler gets the parsed request and fills the response; it returns 0
 * or an ERR_* code with details in req->err, and the server renders the
 * error body {"error": {"code", "message", "field"}} with the table's status.
 */
#ifndef OTKLIK_HTTP_H
#define OTKLIK_HTTP_H

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct MHD_Connection;
struct app;

struct http_request {
    struct MHD_Connection *conn;
    struct app *app;
    const char *method;
    const char *path;
    const char *params[4];     /* path parameters, in pattern order ({id}) */
    struct buf body;           /* the request body (capped); once spooled, the bytes not yet
                                * written to body_fd (none by the time a handler runs) */
    int body_fd;               /* a bulk body past HTTP_SPOOL_AT: an unlinked temporary file
                                * holding all of it, read from offset 0; -1 otherwise */
    uint64_t body_size;        /* bytes of the body, in memory or spooled */
    bool is_body_too_big;
    int refused;               /* access refused (an err code), decided before the body is read */
    unsigned long long n_dropped; /* bytes of an oversized or refused body read and dropped */
    struct arena arena;        /* per-request memory */
    struct principal who;      /* valid when is_authenticated */
    bool is_authenticated;
    struct err_info err;
    uint64_t id;               /* request id for logs and X-Request-Id */
    uint64_t start_ns;
    const struct route *route;
    struct http_server *srv;
    struct store *srv_store;    /* the server's store (for authentication) */
    bool route_method_mismatch; /* the path exists under another method */
    bool is_responded;
    struct http_deferred *deferred; /* while the handler runs on the pool */
    struct http_pending *pending;   /* while a write of the handler's is in the writer */
    bool is_on_loop;                /* the handler runs on the event loop */
};

/* A streaming body: called for more bytes; returns bytes written, 0 or -1
 * ends the stream.  May block: it runs on a pool thread. */
typedef ssize_t (*http_stream_fn)(void *ctx, char *buf, size_t max);

struct http_response {
    int status;
    struct buf body;
    const char *content_type;
    char *headers[6][2]; /* extra headers (name, value), arena strings */
    int n_headers;
    http_stream_fn stream;
    void *stream_ctx;
    void (*stream_free)(void *ctx);
};

typedef int (*http_handler)(struct http_request *req, struct http_response *resp);

struct route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/api/v1/requests/{id}" */
    http_handler fn;
    unsigned perm;       /* enum perm bits required; 0 means public */
    size_t max_body;     /* body limit, 0: the configured default, HTTP_LARGE_BODY: the
                          * configured limit for bulk bodies */
    bool is_quick;       /* a bounded read that never waits: answered on the event loop */
};

#define HTTP_LARGE_BODY ((size_t)-1)

/* A bulk body (HTTP_LARGE_BODY) larger than this goes to a temporary file
 * as it arrives, so an import of any size holds only this much in memory. */
#define HTTP_SPOOL_AT ((size_t)1024 * 1024)

struct http_options {
    struct store *store;     /* for authentication */
    const char *listen;      /* "HOST:PORT" */
    size_t max_body;         /* default body limit, bytes */
    size_t large_body;       /* limit of the routes marked HTTP_LARGE_BODY (bulk import) */
    const char *spool_dir;   /* where bulk bodies are spooled; NULL: $TMPDIR or /tmp */
    unsigned max_connections;
    unsigned event_threads;  /* event-loop threads, 0: one per CPU */
    int64_t session_ttl_s;
    bool cookie_secure;
    int login_attempts_per_min;
};

struct http_server;

/*
 * Bind and start serving the route table (terminated by fn NULL).  The
 * bound address is written to bound (e.g. "127.0.0.1:38121").
 */
int http_start(const struct route *routes, struct app *app, const struct http_options *opt,
               struct http_server **out, char *bound, size_t bound_cap, struct err_info *err);

/* Stop accepting, finish open requests, free. */
void http_stop(struct http_server *srv);

/* ---- helpers for handlers ---------------------------------------------- */

/* Query argument, or NULL. */
const char *http_query(struct http_request *req, const char *name);
/* Request header, or NULL. */
const char *http_header(struct http_request *req, const char *name);
/* Cookie value, or NULL. */
const char *http_cookie(struct http_request *req, const char *name);
/* Client address as text (for rate limits and logs). */
void http_client_addr(struct http_request *req, char *out, size_t cap);

/* Parse the body as one JSON value (object or array); ERR_INVALID / ERR_MEDIA_TYPE otherwise. */
int http_json_body(struct http_request *req, json_t **out);

/* Path parameter i as a positive id; ERR_NOTFOUND when not a number. */
int http_param_id(struct http_request *req, int i, int64_t *out);

/* Set a JSON body (takes the reference to v) and status. */
void http_reply_json(struct http_response *resp, int status, json_t *v);
/* Set the status and an empty JSON body for the caller to write the text of
 * one JSON value into, ending with a newline. */
struct buf *http_reply_json_body(struct http_response *resp, int status);

/* Add a response header (copied into the request arena). */
void http_add_header(struct http_request *req, struct http_response *resp, const char *name,
                     const char *value);

/* Finishes an answer after a write (see http_write_then); rc is the write's result. */
typedef int (*http_then_fn)(struct http_request *req, struct http_response *resp, void *arg,
                            int rc);

/* What a handler returns when its answer comes later (http_write_then). */
#define HTTP_PENDING 1

/*
 * Write without holding a thread: on the event loop (a quick route) this
 * queues fn(arg) for the store's writer and returns HTTP_PENDING, which the
 * handler returns; the connection waits suspended, and once the write is
 * durable (or has failed) then(req, resp, then_arg, rc) runs on the event
 * loop to fill in the answer (it must not write again).  Elsewhere (a pool
 * thread, or the server stopping) it writes, waits and calls then itself,
 * returning what then returns.  arg and then_arg must live until then runs;
 * then frees them.  is_rerunnable: fn may run twice (store_async).
 */
int http_write_then(struct http_request *req, struct http_response *resp, store_job_fn fn,
                    void *arg, bool is_rerunnable, http_then_fn then, void *then_arg);

/* Options the server runs with (session ttl, cookie flags). */
const struct http_options *http_options_of(struct http_request *req);

/* Forget cached credentials for this token/session hash (logout, revoke). */
void http_auth_forget(const unsigned char hash[32]);

/* BLAKE2b-256 of a secret token, the form in which tokens are stored. */
void http_token_hash(const char *token, unsigned char out[32]);

/*
 * A login attempt from this client: counted before the password is checked,
 * so parallel attempts cannot all slip under the limit; true when over it.
 * http_login_done takes the count back for a login that succeeded.
 */
bool http_login_attempt(struct http_request *req);
void http_login_done(struct http_request *req);

/*
 * Check a password against a stored Argon2id hash (NULL: the login is
 * unknown; the same work is done against a hash of nothing, so the answer's
 * timing does not tell which logins exist).  At most a few checks run at
 * once, each needing 64 MiB: a burst of logins waits instead of exhausting
 * memory.  Runs on the pool, never on an event loop.
 */
bool http_password_ok(const char *hash, const char *password);

#endif
