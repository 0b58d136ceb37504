/*
 * stream.c - adapting a handler's blocking stream function to MHD's
 * content-reader callback (used by the live event stream).
 */
#include "http/http_int.h"

#include "core/mem.h"

#include <microhttpd.h>
#include <stdlib.h>

struct stream_box {
    http_stream_fn fn;
    void *ctx;
    void (*free_ctx)(void *ctx);
};

void *http_stream_box(struct http_response *resp)
{
    struct stream_box *b = xmalloc(sizeof *b);
    b->fn = resp->stream;
    b->ctx = resp->stream_ctx;
    b->free_ctx = resp->stream_free;
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
    ssize_t n = b->fn(b->ctx, buf, max);
    return n < 0 ? (ssize_t)MHD_CONTENT_READER_END_OF_STREAM : n;
}
