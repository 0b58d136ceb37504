/*
 * stream.c - /api/v1/stream: Server-Sent Events of committed events the
 * caller may see (scoped like requests).  Resumes after Last-Event-ID (or
 * ?after=); sends a comment every 15 s so proxies keep the line open.
 */
#include "api/api.h"

#include "core/metrics.h"
#include "core/str.h"

#include <stdlib.h>
#include <string.h>

struct sse {
    struct store *store;
    struct scope_filter scope;
    char region[64];
    int64_t cursor;   /* last event id considered */
    int64_t last_added; /* last event id written to out */
    bool is_full;       /* out reached its cap: the rest comes with the next read */
    struct buf out;   /* formatted, not yet sent */
    size_t sent;      /* bytes of out already sent */
    bool is_started;
};

static bool visible(const struct sse *s, const struct hub_event *ev)
{
    switch (s->scope.scope) {
    case SCOPE_ALL:
        return true;
    case SCOPE_STORE:
        return ev->store_id != 0 && ev->store_id == s->scope.store_id;
    case SCOPE_REGION:
        return ev->region[0] && strcmp(ev->region, s->region) == 0;
    }
    return false;
}

static void collect(void *ctx, const struct hub_event *ev)
{
    struct sse *s = ctx;
    if (s->is_full)
        return;
    if (visible(s, ev)) {
        size_t before = s->out.len;
        buf_printf(&s->out, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)ev->id, ev->type,
                   ev->json);
        if (buf_error(&s->out) != 0) {
            /* Keep what fits; this event and the later ones go in the next read. */
            s->out.len = before;
            s->out.failed = false;
            s->is_full = true;
            return;
        }
    }
    s->last_added = ev->id;
}

static ssize_t sse_read(void *ctx, char *dst, size_t max)
{
    struct sse *s = ctx;
    if (!s->is_started) {
        s->is_started = true;
        buf_puts(&s->out, "retry: 2000\n: otklik live stream\n\n");
    }
    while (s->sent >= s->out.len) {
        buf_reset(&s->out);
        s->sent = 0;
        s->last_added = s->cursor;
        s->is_full = false;
        int64_t last = store_hub_wait(s->store, s->cursor, 15000, collect, s);
        if (last < 0)
            return -1;
        s->cursor = s->is_full ? s->last_added : last;
        if (s->out.len == 0)
            buf_puts(&s->out, ": keep-alive\n\n");
    }
    size_t n = s->out.len - s->sent;
    if (n > max)
        n = max;
    memcpy(dst, s->out.data + s->sent, n);
    s->sent += n;
    return (ssize_t)n;
}

static void sse_free(void *ctx)
{
    struct sse *s = ctx;
    atomic_fetch_sub(&metric_sse_clients, 1);
    buf_free(&s->out);
    free(s);
}

int api_stream(struct http_request *req, struct http_response *resp)
{
    const char *last = http_header(req, "Last-Event-ID");
    if (last == NULL)
        last = http_query(req, "after");
    int64_t cursor = store_hub_last_id(req->app->store);
    if (last != NULL && str_to_i64(str_from(last), 0, INT64_MAX, &cursor) != 0)
        return err_set(&req->err, ERR_INVALID, "after", "the event id must be a number");
    struct sse *s = xcalloc(1, sizeof *s);
    s->store = req->app->store;
    s->scope = req->who.scope;
    memcpy(s->region, req->who.region, sizeof s->region);
    s->scope.region = s->region;
    s->cursor = cursor;
    buf_init(&s->out, 8 * 1024 * 1024);
    atomic_fetch_add(&metric_sse_clients, 1);
    resp->status = 200;
    resp->content_type = "text/event-stream";
    http_add_header(req, resp, "Cache-Control", "no-cache");
    http_add_header(req, resp, "X-Accel-Buffering", "no");
    resp->stream = sse_read;
    resp->stream_ctx = s;
    resp->stream_free = sse_free;
    return 0;
}
