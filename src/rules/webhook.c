/*
 * webhook.c - webhooks called by rules.  A rule's webhook is queued inside
 * the engine's job (so it exists exactly when the rule fired) and posted by
 * a periodic job with libcurl: 5 s timeout, retries with doubling backoff
 * (30 s, 1 min, 2 min, ...), given up after 6 attempts.  Each outcome is an
 * event on the request: webhook.queued, webhook.sent, webhook.failed.
 *
 * Every post carries X-Otklik-Webhook-Id (the same on each retry, so the
 * receiver can drop a repeat) and, when the rule's action has a secret,
 * X-Otklik-Signature: "sha256=" and the hex HMAC-SHA256 of the body.
 */
#include "rules/rules_int.h"

#include "api/api.h"
#include "core/log.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTEMPTS 6
#define DUE_BATCH 16

int webhook_enqueue(struct rules_job *j, int64_t rule_id, int64_t request_id, const char *url,
                    const char *body, const char *secret, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    char signature[7 + 2 * crypto_auth_hmacsha256_BYTES + 1] = "";
    if (secret != NULL) {
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state hs;
        crypto_auth_hmacsha256_init(&hs, (const unsigned char *)secret, strlen(secret));
        crypto_auth_hmacsha256_update(&hs, (const unsigned char *)body, strlen(body));
        crypto_auth_hmacsha256_final(&hs, mac);
        memcpy(signature, "sha256=", 7);
        sodium_bin2hex(signature + 7, sizeof signature - 7, mac, sizeof mac);
    }
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO webhook_queue (rule_id, request_id, url, body, "
                                   "signature, status, next_at_ms, created_at_ms) "
                                   "VALUES ($1, $2, $3, $4, NULLIF($6, ''), 'pending', $5, $5)");
    db_bind_i64(st, 1, rule_id);
    db_bind_i64_or_null(st, 2, request_id);
    db_bind_text(st, 3, url, -1);
    db_bind_text(st, 4, body, -1);
    db_bind_i64(st, 5, j->now_ms);
    db_bind_text(st, 6, signature, -1);
    int rc = db_run(db, st, err);
    if (rc != 0)
        return rc;
    return job_event(j, "webhook.queued", request_id, 0, 0, 0,
                     arena_printf(j->a, "rule:%lld", (long long)rule_id),
                     json_pack("{s:I, s:s}", "webhook_id", (json_int_t)db_last_id(db), "url", url),
                     err);
}

struct due_hook {
    int64_t id, request_id, rule_id;
    int attempts;
    char *url, *body, *signature;
    long status;
    char error[160];
};

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static void post(struct due_hook *h)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(h->error, sizeof h->error, "curl unavailable");
        return;
    }
    char line[160];
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(line, sizeof line, "X-Otklik-Webhook-Id: %lld", (long long)h->id);
    hdr = curl_slist_append(hdr, line);
    if (h->signature[0]) {
        snprintf(line, sizeof line, "X-Otklik-Signature: %s", h->signature);
        hdr = curl_slist_append(hdr, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, h->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        snprintf(h->error, sizeof h->error, "%s", curl_easy_strerror(rc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
    if (rc == CURLE_OK && (h->status < 200 || h->status > 299))
        snprintf(h->error, sizeof h->error, "HTTP %ld", h->status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
}

struct result_job {
    struct due_hook *hooks;
    size_t n;
    int64_t now_ms;
};

static int job_results(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct result_job *r = arg;
    struct db *db = store_tx_db(tx);
    for (size_t i = 0; i < r->n; i++) {
        struct due_hook *h = &r->hooks[i];
        bool ok = h->error[0] == '\0';
        int attempts = h->attempts + 1;
        const char *status = ok ? "sent" : attempts >= MAX_ATTEMPTS ? "failed" : "pending";
        sqlite3_stmt *st = db_stmt(db, "UPDATE webhook_queue SET status = $2, attempts = $3, "
                                       "next_at_ms = $4, last_error = $5 WHERE id = $1");
        db_bind_i64(st, 1, h->id);
        db_bind_text(st, 2, status, -1);
        db_bind_i64(st, 3, attempts);
        db_bind_i64(st, 4, r->now_ms + (30000LL << (attempts - 1)));
        db_bind_text(st, 5, ok ? NULL : h->error, -1);
        int rc = db_run(db, st, err);
        if (rc != 0)
            return rc;
        if (strcmp(status, "pending") == 0)
            continue;
        json_t *d = json_pack("{s:I, s:s, s:i}", "webhook_id", (json_int_t)h->id, "url", h->url,
                              "attempts", attempts);
        if (!ok)
            json_object_set_new(d, "error", json_string(h->error));
        char *text = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        char actor[32];
        snprintf(actor, sizeof actor, "rule:%lld", (long long)h->rule_id);
        int64_t ev = store_event_add(tx, ok ? "webhook.sent" : "webhook.failed", h->request_id, 0,
                                     0, 0, actor, text, err);
        free(text);
        if (ev < 0)
            return (int)ev;
    }
    return 0;
}

int64_t rules_webhooks_tick(struct app *app, int64_t now_ms)
{
    struct rules *R = rules_of(app);
    if (R == NULL)
        return 0;
    struct due_hook hooks[DUE_BATCH];
    size_t n = 0;
    struct db *r = store_reader(R->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, COALESCE(request_id, 0), COALESCE(rule_id, 0), "
                                  "attempts, url, body, COALESCE(signature, '') FROM webhook_queue WHERE status = 'pending'"
                                  " AND next_at_ms <= $1 ORDER BY next_at_ms LIMIT 16");
    db_bind_i64(st, 1, now_ms);
    while (n < DUE_BATCH && db_step(r, st, NULL) == 1) {
        struct due_hook *h = &hooks[n++];
        memset(h, 0, sizeof *h);
        h->id = db_col_i64(st, 0);
        h->request_id = db_col_i64(st, 1);
        h->rule_id = db_col_i64(st, 2);
        h->attempts = (int)db_col_i64(st, 3);
        h->url = xstrdup(db_col_text(st, 4));
        h->body = xstrdup(db_col_text(st, 5));
        h->signature = xstrdup(db_col_text(st, 6));
    }
    sqlite3_reset(st);
    store_reader_done(R->store, r);
    /* What was read leaves the process: it must be on disk first. */
    bool is_durable = n > 0 && store_wait_durable(R->store) == 0;
    for (size_t i = 0; is_durable && i < n; i++)
        post(&hooks[i]);
    if (is_durable) {
        struct result_job rj = {hooks, n, now_ms};
        struct err_info err = {0};
        if (store_write_background(R->store, job_results, &rj, &err) != 0)
            log_error("rules webhooks msg=\"%s\"", err.message);
    }
    for (size_t i = 0; i < n; i++) {
        free(hooks[i].url);
        free(hooks[i].body);
        free(hooks[i].signature);
    }
    return n == DUE_BATCH ? 1 : 0;
}
