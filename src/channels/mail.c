/*
 * mail.c - the e-mail channel: `otklik mail-in` (one message on stdin from
 * the MTA, exit codes the MTA understands), IMAP polling with libcurl from
 * a periodic job, and replies over SMTP with Message-ID, In-Reply-To and
 * References so they thread in the customer's mail program.
 *
 * Settings: address (our From), smtp_url (smtp[s]://host:port), smtp_user,
 * imap_url (imap[s]://host:port/INBOX), imap_user, timeout_ms.
 * Secrets: smtp_password, imap_password (both optional).
 */
#include "channels/channels_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAIL_MAX_BYTES ((size_t)40 << 20) /* largest message accepted */

/* Exit codes of sysexits.h that an MTA maps to bounce / retry. */
#define EX_OK 0
#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_TEMPFAIL 75

/* ---- mail-in --------------------------------------------------------------------------- */

static int mail_usage(FILE *out, int code)
{
    fprintf(out, "usage: otklik mail-in --db FILE --channel NAME < message.eml\n\n"
                 "Hands one RFC 5322 message on standard input to the e-mail channel NAME,\n"
                 "for a mail server's pipe transport (Postfix: pipe(8), Exim: pipe).\n"
                 "The running server turns it into a request within a second.\n"
                 "Exit codes: 0 accepted (a duplicate too), 65 not a usable message,\n"
                 "75 temporary failure (the MTA retries later), 2 wrong arguments.\n");
    return code;
}

int channels_mail_in_main(int argc, char **argv)
{
    const char *db = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return mail_usage(stdout, 0);
        if (i + 1 < argc && strcmp(argv[i], "--db") == 0)
            db = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--channel") == 0)
            name = argv[++i];
        else {
            fprintf(stderr, "otklik mail-in: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (db == NULL || name == NULL) {
        fprintf(stderr, "otklik mail-in: --db FILE and --channel NAME are required\n");
        return 2;
    }
    struct buf raw;
    buf_init(&raw, MAIL_MAX_BYTES);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        buf_put(&raw, chunk, n);
    if (buf_error(&raw) != 0 || raw.len == 0) {
        fprintf(stderr, "otklik mail-in: %s\n",
                raw.len ? "the message is larger than 40 MiB" : "no message on stdin");
        buf_free(&raw);
        return EX_DATAERR;
    }
    struct err_info err = {0};
    json_t *items = json_array();
    int code = EX_OK;
    if (email_parse(raw.data, raw.len, items, &err) != 0) {
        fprintf(stderr, "otklik mail-in: %s\n", err.message);
        code = EX_DATAERR;
        goto out;
    }
    struct store *s;
    if (store_open(db, NULL, &s, &err) != 0) {
        fprintf(stderr, "otklik mail-in: %s\n", err.message);
        code = EX_TEMPFAIL;
        goto out;
    }
    struct chan c = {0};
    struct db *r = store_reader(s);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, is_active FROM channels WHERE adapter = 'email' "
                                  "AND name = $1");
    db_bind_text(st, 1, name, -1);
    if (db_step(r, st, NULL) == 1 && db_col_i64(st, 1) != 0)
        c.id = db_col_i64(st, 0);
    sqlite3_reset(st);
    store_reader_done(s, r);
    if (c.id == 0) {
        /* A configuration problem: keep the mail queued at the MTA until it is fixed. */
        fprintf(stderr, "otklik mail-in: no active e-mail channel '%s'\n", name);
        code = EX_TEMPFAIL;
    } else {
        struct app app = {.store = s};
        int added = 0;
        if (inbox_add(&app, &c, items, &added, &err) != 0) {
            fprintf(stderr, "otklik mail-in: %s\n", err.message);
            code = EX_TEMPFAIL;
        } else {
            const char *sid = json_string_value(json_object_get(json_array_get(items, 0),
                                                                "source_id"));
            printf("accepted %s%s\n", sid ? sid : "", added ? "" : " (duplicate)");
        }
    }
    store_close(s);
out:
    json_decref(items);
    buf_free(&raw);
    return code;
}

/* ---- IMAP polling ------------------------------------------------------------------------- */

static size_t to_buf(char *p, size_t size, size_t n, void *ctx)
{
    buf_put(ctx, p, size * n);
    return size * n;
}

static CURL *imap_handle(const struct chan *c, const char *url, struct buf *out)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)chan_setting_int(c, "timeout_ms", 20000));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    const char *user = chan_setting(c, "imap_user", NULL);
    if (user)
        curl_easy_setopt(h, CURLOPT_USERNAME, user);
    const char *pw = chan_secret(c, "imap_password");
    if (pw)
        curl_easy_setopt(h, CURLOPT_PASSWORD, pw);
    return h;
}

static int64_t cursor_get(struct app *app, int64_t channel_id)
{
    struct db *r = store_reader(app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT value FROM channel_cursors WHERE channel_id = $1 "
                                  "AND name = 'imap_uid'");
    db_bind_i64(st, 1, channel_id);
    int64_t v = 0;
    if (db_step(r, st, NULL) == 1)
        str_to_i64(str_from(db_col_text(st, 0)), 0, INT64_MAX, &v);
    sqlite3_reset(st);
    store_reader_done(app->store, r);
    return v;
}

struct cursor_job {
    int64_t channel_id, uid;
};

static int job_cursor(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct cursor_job *j = arg;
    struct db *db = store_tx_db(tx);
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)j->uid);
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO channel_cursors (channel_id, name, value) "
                                   "VALUES ($1, 'imap_uid', $2) ON CONFLICT (channel_id, name) "
                                   "DO UPDATE SET value = $2");
    db_bind_i64(st, 1, j->channel_id);
    db_bind_text(st, 2, v, -1);
    return db_run(db, st, err);
}

/* Fetch messages with UIDs above the saved one; the cursor moves only past stored mail. */
static void imap_poll(struct app *app, const struct chan *c, const char *url)
{
    int64_t last = cursor_get(app, c->id);
    struct buf out;
    buf_init(&out, 1 << 20);
    CURL *h = imap_handle(c, url, &out);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "UID SEARCH UID %lld:*", (long long)last + 1);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, cmd);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK) {
        log_warn("imap channel=email/%s error=\"%s\"", c->name, curl_easy_strerror(cc));
        buf_free(&out);
        return;
    }
    /* "* SEARCH 4 5 9": UID n:* always matches the newest message, even when n is above it. */
    int64_t uids[200];
    int n_uids = 0;
    const char *p = strstr(buf_cstr(&out), "SEARCH");
    for (p = p ? p + 6 : ""; *p && n_uids < 200;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p)
            break;
        if (v > last)
            uids[n_uids++] = v;
        p = end;
    }
    buf_free(&out);
    for (int i = 0; i < n_uids; i++) {
        struct buf msg;
        buf_init(&msg, (size_t)40 << 20);
        char *murl = xmalloc(strlen(url) + 40);
        snprintf(murl, strlen(url) + 40, "%s/;UID=%lld", url, (long long)uids[i]);
        h = imap_handle(c, murl, &msg);
        cc = curl_easy_perform(h);
        curl_easy_cleanup(h);
        free(murl);
        struct err_info err = {0};
        int rc = cc == CURLE_OK ? 0 : ERR_UNAVAILABLE;
        if (rc == 0) {
            json_t *items = json_array();
            if (email_parse(msg.data ? msg.data : "", msg.len, items, &err) != 0)
                log_warn("imap channel=email/%s uid=%lld skipped=\"%s\"", c->name,
                         (long long)uids[i], err.message);
            else if ((rc = inbox_add(app, c, items, NULL, &err)) == 0)
                inbox_poke(app->channels);
            json_decref(items);
        }
        buf_free(&msg);
        if (rc != 0) {
            log_warn("imap channel=email/%s uid=%lld error=\"%s\"", c->name, (long long)uids[i],
                     cc != CURLE_OK ? curl_easy_strerror(cc) : err.message);
            break; /* try again next round from here */
        }
        struct cursor_job j = {c->id, uids[i]};
        if (store_write(app->store, job_cursor, &j, &err) != 0)
            break;
    }
}

int64_t channels_imap_tick(struct app *app, int64_t now_ms)
{
    (void)now_ms;
    if (app->channels == NULL)
        return 0;
    struct chan_snapshot *snap = chan_snapshot_get(app->channels);
    int64_t next_ms = 5000; /* a mailbox configured meanwhile is polled within 5 s */
    for (size_t i = 0; i < snap->n; i++) {
        const struct chan *c = &snap->items[i];
        const char *url = chan_setting(c, "imap_url", NULL);
        if (!c->is_active || strcmp(c->adapter, "email") != 0 || url == NULL)
            continue;
        imap_poll(app, c, url);
        int64_t every = chan_setting_int(c, "poll_interval_ms", 60000);
        if (every > 0 && every < next_ms)
            next_ms = every < 200 ? 200 : every;
    }
    chan_snapshot_put(snap);
    return next_ms;
}

/* ---- SMTP replies ------------------------------------------------------------------------- */

static size_t smtp_read(char *dst, size_t size, size_t n, void *ctx)
{
    struct send *s = ctx;
    size_t left = s->post_len - s->post_pos, want = size * n;
    size_t k = left < want ? left : want;
    memcpy(dst, s->post + s->post_pos, k);
    s->post_pos += k;
    return k;
}

/* An RFC 2047 encoded-word for a UTF-8 header value (base64, one word per 45 bytes). */
static void header_word(struct buf *b, const char *s)
{
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80 || *p < 0x20)
            ascii = false;
    if (ascii) {
        buf_puts(b, s);
        return;
    }
    size_t len = strlen(s), i = 0;
    while (i < len) {
        size_t k = len - i > 45 ? 45 : len - i;
        while (i + k < len && ((unsigned char)s[i + k] & 0xC0) == 0x80)
            k--; /* never split a character */
        char enc[80];
        sodium_bin2base64(enc, sizeof enc, (const unsigned char *)s + i, k,
                          sodium_base64_VARIANT_ORIGINAL);
        buf_printf(b, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", enc);
        i += k;
    }
}

static int email_send_prepare(struct send *s)
{
    const char *url = chan_setting(s->ch, "smtp_url", NULL);
    const char *from = chan_setting(s->ch, "address", NULL);
    if (url == NULL || from == NULL) {
        snprintf(s->error, sizeof s->error, "smtp_url and address must be set");
        return -1;
    }
    const char *domain = strchr(from, '@') ? strchr(from, '@') + 1 : "localhost";
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    char hex[17];
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(s->external_id, sizeof s->external_id, "otklik.%lld.%s@%s", (long long)s->outbox_id,
             hex, domain);
    const char *subject = json_string_value(json_object_get(s->meta, "subject"));
    const char *in_reply = json_string_value(json_object_get(s->meta, "message_id"));
    const char *refs = json_string_value(json_object_get(s->meta, "references"));
    struct buf m;
    buf_init(&m, 4 << 20);
    char date[64];
    time_t now = (time_t)(clock_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    buf_printf(&m, "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\nMessage-ID: <%s>\r\n", date, from,
               s->recipient, s->external_id);
    if (in_reply && *in_reply) {
        buf_printf(&m, "In-Reply-To: <%s>\r\nReferences: ", in_reply);
        if (refs && *refs)
            buf_printf(&m, "%s ", refs);
        buf_printf(&m, "<%s>\r\n", in_reply);
    }
    /* The request tag threads the answer even when a mail program drops the headers. */
    buf_puts(&m, "Subject: ");
    char *subj = arena_printf(s->arena, "%s%s%s",
                              subject && strncasecmp(subject, "Re:", 3) != 0 ? "Re: " : "",
                              subject ? subject : "Ответ на ваше обращение", "");
    if (s->request_id && strstr(subj, "[#") == NULL)
        subj = arena_printf(s->arena, "%s [#%lld]", subj, (long long)s->request_id);
    header_word(&m, subj);
    buf_puts(&m, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n");
    size_t blen = strlen(s->body);
    size_t elen = sodium_base64_encoded_len(blen, sodium_base64_VARIANT_ORIGINAL);
    char *enc = xmalloc(elen);
    sodium_bin2base64(enc, elen, (const unsigned char *)s->body, blen,
                      sodium_base64_VARIANT_ORIGINAL);
    size_t enc_len = strlen(enc);
    for (size_t i = 0; i < enc_len; i += 76)
        buf_printf(&m, "%.76s\r\n", enc + i);
    free(enc);
    s->post = arena_strndup(s->arena, buf_cstr(&m), m.len);
    s->post_len = m.len;
    buf_free(&m);
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)chan_setting_int(s->ch, "timeout_ms", 30000));
    curl_easy_setopt(s->curl, CURLOPT_MAIL_FROM, arena_printf(s->arena, "<%s>", from));
    s->rcpt = curl_slist_append(NULL, arena_printf(s->arena, "<%s>", s->recipient));
    curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, s->rcpt);
    curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, smtp_read);
    curl_easy_setopt(s->curl, CURLOPT_READDATA, s);
    const char *user = chan_setting(s->ch, "smtp_user", NULL);
    if (user)
        curl_easy_setopt(s->curl, CURLOPT_USERNAME, user);
    const char *pw = chan_secret(s->ch, "smtp_password");
    if (pw)
        curl_easy_setopt(s->curl, CURLOPT_PASSWORD, pw);
    return 0;
}

static const char *const email_secrets[] = {NULL};

const struct adapter adapter_email = {
    .name = "email",
    .channel = "email",
    .hook = NULL, /* mail arrives by mail-in and IMAP, not by webhook */
    .send_prepare = email_send_prepare,
    .has_idempotency_key = false,
    .identity_kind = "email",
    .is_smtp = true,
    .required_secrets = email_secrets,
};
