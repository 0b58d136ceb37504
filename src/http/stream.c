/*
 * stream.c - a handler's stream function (which may block: the live stream
 * waits for the next event) behind MHD's content reader, which must not.
 *
 * When the last chunk is sent, the reader suspends the connection and asks
 * the pool to read the next one; the pool thread calls the stream function,
 * keeps what it returned and resumes the connection, and the event loop
 * sends it.  One read is in flight per stream at most.
 */
#include "http/http_int.h"

#include "core/mem.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_CHUNK_BYTES (64 * 1024)

struct stream_box {
    struct http_job job; /* first: the job is the box */
    http_stream_fn fn;
    void *ctx;
    void (*free_ctx)(void *ctx);
    struct http_server *srv;
    struct MHD_Connection *conn;
    size_t len, sent; /* of chunk */
    bool is_ended;
    char chunk[STREAM_CHUNK_BYTES];
};

/* On a pool thread: read the next chunk, then let the event loop send it. */
static void read_next(struct http_job *job)
{
    struct stream_box *b = (struct stream_box *)job;
    ssize_t n = b->fn(b->ctx, b->chunk, sizeof b->chunk);
    if (n <= 0)
        b->is_ended = true;
    else
        b->len = (size_t)n;
    b->sent = 0;
    MHD_resume_connection(b->conn); /* the box is the event loop's again */
}

void *http_stream_box(struct http_server *srv, struct MHD_Connection *conn,
                      struct http_response *resp)
{
    struct stream_box *b = xcalloc(1, sizeof *b);
    b->job.fn = read_next;
    b->fn = resp->stream;
    b->ctx = resp->stream_ctx;
    b->free_ctx = resp->stream_free;
    b->srv = srv;
    b->conn = conn;
    return b;
}

void http_stream_box_free(void *box)
{
    struct stream_box *b = box;
    if (b->free_ctx)
        b->free_ctx(b->ctx);
    free(b);
}

ssize_t http_stream_adapter(void *box, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream_box *b = box;
    if (b->sent < b->len) {
        size_t n = b->len - b->sent;
        if (n > max)
            n = max;
        memcpy(buf, b->chunk + b->sent, n);
        b->sent += n;
        return (ssize_t)n;
    }
    if (b->is_ended)
        return (ssize_t)MHD_CONTENT_READER_END_OF_STREAM;
    b->len = b->sent = 0;
    if (!http_defer(b->srv, b->conn, &b->job))
        return (ssize_t)MHD_CONTENT_READER_END_OF_STREAM;
    return 0; /* suspended until the pool has read the next chunk */
}
