/*
 * email.c - reading an RFC 5322 message with GMime into a normalised item:
 * sender, subject (RFC 2047 decoded), the text of the first text/plain part
 * (or the HTML part turned into text) converted from its charset (UTF-8,
 * KOI8-R, windows-1251, ...) and transfer encoding, attachments (bytes kept,
 * base64 in the item), and the threading facts: Message-ID, In-Reply-To,
 * References and a "[#123]" request tag in the subject.
 */
#include "channels/channels_int.h"

#include "core/str.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MAIL_MAX_ATTACHMENT ((size_t)10 << 20) /* bytes kept of one attachment */
#define MAIL_MAX_ATTACHMENTS_TOTAL ((size_t)20 << 20)

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_setup(void)
{
    g_mime_init();
}

/* ---- HTML to text ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    const char *utf8;
} entities[] = {
    {"nbsp", " "}, {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"},
    {"laquo", "«"}, {"raquo", "»"}, {"mdash", "—"}, {"ndash", "–"}, {"hellip", "…"},
    {"copy", "©"}, {"euro", "€"}, {"rub", "₽"}, {NULL, NULL},
};

static void put_codepoint(struct buf *out, unsigned long c)
{
    if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return;
    if (c == 0xA0) /* a no-break space reads as a space */
        c = ' ';
    if (c < 0x80)
        buf_putc(out, (char)c);
    else if (c < 0x800)
        buf_printf(out, "%c%c", (char)(0xC0 | (c >> 6)), (char)(0x80 | (c & 0x3F)));
    else if (c < 0x10000)
        buf_printf(out, "%c%c%c", (char)(0xE0 | (c >> 12)), (char)(0x80 | ((c >> 6) & 0x3F)),
                   (char)(0x80 | (c & 0x3F)));
    else
        buf_printf(out, "%c%c%c%c", (char)(0xF0 | (c >> 18)), (char)(0x80 | ((c >> 12) & 0x3F)),
                   (char)(0x80 | ((c >> 6) & 0x3F)), (char)(0x80 | (c & 0x3F)));
}

/* Does the tag at p (after '<', maybe '/') have this name? */
static bool tag_is(const char *p, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(p, name, n) == 0 && !isalnum((unsigned char)p[n]);
}

void html_to_text(const char *html, struct buf *out)
{
    const char *p = html;
    bool space = true; /* collapse runs of white space */
    while (*p) {
        if (*p == '<') {
            const char *q = p + 1;
            bool closing = *q == '/';
            if (closing)
                q++;
            if (strncmp(p, "<!--", 4) == 0) {
                const char *e = strstr(p + 4, "-->");
                p = e ? e + 3 : p + strlen(p);
                continue;
            }
            /* Script and style bodies are not text. */
            if (!closing && (tag_is(q, "script") || tag_is(q, "style") || tag_is(q, "head"))) {
                const char *e = tag_is(q, "script") ? "</script" : tag_is(q, "style") ? "</style"
                                                                                        : "</head";
                const char *end = strcasestr(q, e);
                p = end ? end : p + strlen(p);
                const char *gt = strchr(p, '>');
                p = gt ? gt + 1 : p + strlen(p);
                continue;
            }
            bool is_break = tag_is(q, "br") || tag_is(q, "p") || tag_is(q, "div") ||
                            tag_is(q, "tr") || tag_is(q, "li") || tag_is(q, "h1") ||
                            tag_is(q, "h2") || tag_is(q, "h3") || tag_is(q, "table") ||
                            tag_is(q, "blockquote");
            const char *gt = strchr(p, '>');
            p = gt ? gt + 1 : p + strlen(p);
            if (is_break && out->len > 0 && out->data[out->len - 1] != '\n') {
                while (out->len > 0 && out->data[out->len - 1] == ' ')
                    out->len--;
                buf_putc(out, '\n');
                space = true;
            }
            if (tag_is(q, "li") && !closing)
                buf_puts(out, "- ");
            continue;
        }
        if (*p == '&') {
            const char *semi = strchr(p, ';');
            if (semi && semi - p < 10) {
                if (p[1] == '#') {
                    unsigned long c = p[2] == 'x' || p[2] == 'X' ? strtoul(p + 3, NULL, 16)
                                                                 : strtoul(p + 2, NULL, 10);
                    put_codepoint(out, c);
                    space = false;
                    p = semi + 1;
                    continue;
                }
                for (int i = 0; entities[i].name; i++)
                    if ((size_t)(semi - p - 1) == strlen(entities[i].name) &&
                        strncmp(p + 1, entities[i].name, strlen(entities[i].name)) == 0) {
                        buf_puts(out, entities[i].utf8);
                        space = entities[i].utf8[0] == ' ';
                        p = semi + 1;
                        goto next;
                    }
            }
        }
        if (isspace((unsigned char)*p)) {
            if (!space)
                buf_putc(out, ' ');
            space = true;
        } else {
            buf_putc(out, *p);
            space = false;
        }
        p++;
    next:;
    }
    while (out->len > 0 && isspace((unsigned char)out->data[out->len - 1]))
        out->len--;
    if (out->data)
        out->data[out->len] = '\0';
}

/* Mail text with CRLF as LF and no white space at either end, into out. */
static void put_clean(struct buf *out, const char *t)
{
    while (isspace((unsigned char)*t))
        t++;
    for (const char *cr; (cr = strchr(t, '\r')) != NULL; t = cr + 1)
        buf_put(out, t, (size_t)(cr - t));
    buf_puts(out, t);
    while (out->len > 0 && isspace((unsigned char)out->data[out->len - 1]))
        out->len--;
    if (out->data)
        out->data[out->len] = '\0';
}

/* ---- parts -------------------------------------------------------------------------------- */

/* The part's text as UTF-8: its charset, or windows-1251 for undeclared 8-bit Russian mail. */
static char *part_text(GMimeTextPart *tp)
{
    char *t = g_mime_text_part_get_text(tp);
    if (t == NULL)
        return NULL;
    if (!utf8_valid(t, strlen(t))) {
        char *conv = g_convert(t, -1, "UTF-8", "WINDOWS-1251", NULL, NULL, NULL);
        if (conv) {
            g_free(t);
            t = conv;
        }
        utf8_sanitize(t);
    }
    return t;
}

struct walk {
    char *plain, *html;
    json_t *atts;
    size_t kept_bytes;
};

static void add_attachment(struct walk *w, GMimePart *part)
{
    GMimeContentType *ct = g_mime_object_get_content_type((GMimeObject *)part);
    char *mime = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
    const char *name = g_mime_part_get_filename(part);
    json_t *a = json_pack("{s:s, s:s}", "type", "file", "mime",
                          mime ? mime : "application/octet-stream");
    g_free(mime);
    if (name && utf8_valid(name, strlen(name)))
        json_object_set_new(a, "file_name", json_string(name));
    GMimeDataWrapper *dw = g_mime_part_get_content(part);
    if (dw) {
        GMimeStream *mem = g_mime_stream_mem_new();
        g_mime_data_wrapper_write_to_stream(dw, mem);
        GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
        size_t len = ba ? ba->len : 0;
        json_object_set_new(a, "file_size", json_integer((json_int_t)len));
        if (len > 0) {
            unsigned char h[crypto_hash_sha256_BYTES];
            char hex[2 * sizeof h + 1];
            crypto_hash_sha256(h, ba->data, len);
            sodium_bin2hex(hex, sizeof hex, h, sizeof h);
            json_object_set_new(a, "sha256", json_string(hex));
            if (len <= MAIL_MAX_ATTACHMENT && w->kept_bytes + len <= MAIL_MAX_ATTACHMENTS_TOTAL) {
                size_t blen = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
                char *b64 = xmalloc(blen);
                sodium_bin2base64(b64, blen, ba->data, len, sodium_base64_VARIANT_ORIGINAL);
                json_object_set_new(a, "data_b64", json_stringn_nocheck(b64, strlen(b64)));
                free(b64);
                w->kept_bytes += len;
            } else {
                json_object_set_new(a, "is_truncated", json_true());
            }
        }
        g_object_unref(mem);
    }
    json_array_append_new(w->atts, a);
}

static void visit(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    (void)parent;
    struct walk *w = data;
    if (GMIME_IS_MESSAGE_PART(part) || GMIME_IS_MULTIPART(part) || !GMIME_IS_PART(part))
        return;
    GMimePart *p = (GMimePart *)part;
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    bool is_att = g_mime_part_is_attachment(p);
    if (!is_att && GMIME_IS_TEXT_PART(part) && ct) {
        if (w->plain == NULL && g_mime_content_type_is_type(ct, "text", "plain")) {
            w->plain = part_text((GMimeTextPart *)part);
            return;
        }
        if (w->html == NULL && g_mime_content_type_is_type(ct, "text", "html")) {
            w->html = part_text((GMimeTextPart *)part);
            return;
        }
    }
    add_attachment(w, p);
}

/* "[#123]" anywhere in the subject: the request the customer answers. */
static int64_t subject_tag(const char *s)
{
    for (const char *p = s ? strstr(s, "[#") : NULL; p; p = strstr(p + 2, "[#")) {
        const char *q = p + 2;
        int64_t v = 0;
        while (isdigit((unsigned char)*q) && v < 100000000000LL)
            v = v * 10 + (*q++ - '0');
        if (*q == ']' && q > p + 2)
            return v;
    }
    return 0;
}

static void add_refs(json_t *refs, const char *header)
{
    if (header == NULL)
        return;
    GMimeReferences *r = g_mime_references_parse(NULL, header);
    for (int i = 0; r && i < g_mime_references_length(r); i++) {
        const char *id = g_mime_references_get_message_id(r, i);
        if (id && utf8_valid(id, strlen(id)) && json_array_size(refs) < 50)
            json_array_append_new(refs, json_string(id));
    }
    if (r)
        g_mime_references_free(r);
}

int email_parse(const char *raw, size_t len, json_t *items, struct err_info *err)
{
    pthread_once(&gmime_once, gmime_setup);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(raw, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeParserOptions *opts = g_mime_parser_options_new();
    const char *fallback[] = {"UTF-8", "WINDOWS-1251", "KOI8-R", NULL};
    g_mime_parser_options_set_fallback_charsets(opts, fallback);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, opts);
    g_object_unref(parser);
    g_object_unref(stream);
    int rc = 0;
    struct walk w = {.atts = json_array()};
    json_t *refs = json_array();
    if (msg == NULL) {
        rc = err_set(err, ERR_INVALID, "", "not an e-mail message");
        goto out;
    }
    InternetAddressList *from = g_mime_message_get_reply_to(msg);
    if (from == NULL || internet_address_list_length(from) == 0)
        from = g_mime_message_get_from(msg);
    InternetAddress *ia = from && internet_address_list_length(from) > 0
                              ? internet_address_list_get_address(from, 0)
                              : NULL;
    const char *addr = ia && INTERNET_ADDRESS_IS_MAILBOX(ia)
                           ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia))
                           : NULL;
    if (addr == NULL || strchr(addr, '@') == NULL) {
        rc = err_set(err, ERR_INVALID, "from", "the message has no sender address");
        goto out;
    }
    /* The conversation peer is the address in lower case, as intake keeps identities. */
    char peer[320];
    snprintf(peer, sizeof peer, "%s", addr);
    for (char *q = peer; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    g_mime_message_foreach(msg, visit, &w);
    const char *subject = g_mime_message_get_subject(msg);
    char *subj = subject ? g_strdup(subject) : NULL;
    if (subj && !utf8_valid(subj, strlen(subj)))
        utf8_sanitize(subj);
    struct buf text;
    buf_init(&text, 4 << 20);
    if (w.plain && *w.plain)
        put_clean(&text, w.plain);
    else if (w.html)
        html_to_text(w.html, &text);
    if (text.len == 0)
        buf_puts(&text, subj && *subj ? subj : (json_array_size(w.atts) ? "[вложение]" : "(пустое письмо)"));
    const char *mid = g_mime_message_get_message_id(msg);
    char sid[300];
    if (mid && *mid && strlen(mid) < 250 && utf8_valid(mid, strlen(mid))) {
        snprintf(sid, sizeof sid, "%s", mid);
    } else {
        /* No Message-ID: the content itself identifies a redelivery. */
        unsigned char h[crypto_hash_sha256_BYTES];
        char hex[2 * sizeof h + 1];
        crypto_hash_sha256(h, (const unsigned char *)raw, len);
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        snprintf(sid, sizeof sid, "sha256:%s", hex);
    }
    add_refs(refs, g_mime_object_get_header((GMimeObject *)msg, "In-Reply-To"));
    add_refs(refs, g_mime_object_get_header((GMimeObject *)msg, "References"));
    json_t *req = json_pack("{s:s, s:s, s:s, s:o}", "channel", "email", "source_id", sid, "text",
                            buf_cstr(&text), "customer", json_pack("{s:s}", "email", addr));
    buf_free(&text);
    const char *name = internet_address_get_name(ia);
    if (name && *name && utf8_valid(name, strlen(name)))
        json_object_set_new(json_object_get(req, "customer"), "name", json_string(name));
    if (subj && *subj)
        json_object_set_new(req, "subject", json_string(subj));
    GDateTime *date = g_mime_message_get_date(msg);
    if (date) {
        char t[40];
        time_format_rfc3339((int64_t)g_date_time_to_unix(date) * 1000, t, sizeof t);
        json_object_set_new(req, "created_at", json_string(t));
    }
    /* What a reply needs to thread in the customer's mail program. */
    struct buf rb;
    buf_init(&rb, 16 * 1024);
    for (size_t i = 0; i < json_array_size(refs); i++)
        buf_printf(&rb, "%s<%s>", i ? " " : "", json_string_value(json_array_get(refs, i)));
    json_t *meta = json_pack("{s:s, s:s}", "message_id", sid, "references", buf_cstr(&rb));
    buf_free(&rb);
    if (subj && *subj)
        json_object_set_new(meta, "subject", json_string(subj));
    json_t *item = json_pack("{s:s, s:s, s:s, s:s, s:o, s:O, s:o}", "type", "message", "peer",
                             peer, "source_id", sid, "thread", "refs", "request", req, "refs",
                             refs, "reply_meta", meta);
    int64_t tag = subject_tag(subj);
    if (tag > 0)
        json_object_set_new(item, "tag_request", json_integer(tag));
    if (json_array_size(w.atts) > 0)
        json_object_set(item, "attachments", w.atts);
    json_array_append_new(items, item);
    g_free(subj);
out:
    json_decref(refs);
    json_decref(w.atts);
    g_free(w.plain);
    g_free(w.html);
    if (msg)
        g_object_unref(msg);
    g_mime_parser_options_free(opts);
    return rc;
}
