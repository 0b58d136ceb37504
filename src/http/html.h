/*
 * html.h - the small server-rendered pages (the QR signal page, the survey
 * page): the one HTML escaping function and the page opening they share,
 * with a strict content security policy (no scripts, no inline styles).
 */
#ifndef OTKLIK_HTML_H
#define OTKLIK_HTML_H

#include "core/buf.h"
#include "http/http.h"

/* Append s escaped for HTML text and quoted attribute values (& < > " '). NULL is empty. */
void html_text(struct buf *b, const char *s);

/*
 * Start a page in resp: status, HTML content type, the security headers, and
 * <head> with title and stylesheet (a path such as "/survey.css"), then
 * <body><main class="main_class">.  The caller writes the content and closes
 * with "</main></body></html>".
 */
void html_page_begin(struct http_request *req, struct http_response *resp, int status,
                     const char *title, const char *stylesheet, const char *main_class);

#endif
