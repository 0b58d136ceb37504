/*
 * html.c - escaping and the page opening of the server-rendered pages.
 */
#include "http/html.h"

void html_text(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        case '\'':
            buf_puts(b, "&#39;");
            break;
        default:
            buf_putc(b, *s);
        }
    }
}

void html_page_begin(struct http_request *req, struct http_response *resp, int status,
                     const char *title, const char *stylesheet, const char *main_class)
{
    resp->status = status;
    resp->content_type = "text/html; charset=utf-8";
    http_add_header(req, resp, "Content-Security-Policy",
                    "default-src 'self'; form-action 'self'; frame-ancestors 'none'");
    http_add_header(req, resp, "Cache-Control", "no-store");
    buf_reset(&resp->body);
    buf_puts(&resp->body, "<!doctype html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\">"
                          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                          "<link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><title>");
    html_text(&resp->body, title);
    buf_puts(&resp->body, "</title><link rel=\"stylesheet\" href=\"");
    html_text(&resp->body, stylesheet);
    buf_puts(&resp->body, "\"></head><body><main class=\"");
    html_text(&resp->body, main_class);
    buf_puts(&resp->body, "\">");
}
