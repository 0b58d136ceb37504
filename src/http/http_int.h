/*
 * http_int.h - shared only inside src/http.
 */
#ifndef OTKLIK_HTTP_INT_H
#define OTKLIK_HTTP_INT_H

#include "core/str.h"
#include "http/http.h"

#include <stdint.h>
#include <sys/types.h>

/* Authenticate by Bearer token or session cookie (+CSRF for unsafe methods). */
int http_authenticate(struct http_request *req);
void http_auth_init(const struct http_options *opt);

/* Streaming responses: box the handler's stream for MHD's content reader. */
void *http_stream_box(struct http_response *resp);
void http_stream_box_free(void *box);
ssize_t http_stream_adapter(void *box, uint64_t pos, char *buf, size_t max);

#endif
