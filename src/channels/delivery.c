/*
 * delivery.c - the outbox worker: claim due rows with a lease in one job,
 * send them concurrently through their adapters (curl_multi), record the
 * outcomes in one job, and recover leases a crash left behind.
 */
#include "channels/channels_int.h"

#include "core/clock.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUTBOX_BATCH 256
#define LEASE_MS (5 * 60 * 1000) /* longer than any send's timeout */
#define DEFAULT_MAX_ATTEMPTS 8

struct claimed {
    int64_t id, request_id, customer_id, channel_id, attempts;
    char *recipient, *body, *kind, *meta;
};

struct claim_job {
    int limit;
    int64_t now_ms;
    struct claimed *rows;
    size_t n;
};

static int job_claim(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct claim_job *j = arg;
    struct db *db = store_tx_db(tx);
    sqlite3_stmt *st = db_stmt(db, "SELECT id, request_id, customer_id, channel_id, attempts, "
                                   "recipient, body, kind, meta FROM outbox WHERE status = "
                                   "'queued' AND next_at_ms <= $1 ORDER BY next_at_ms, id LIMIT $2");
    db_bind_i64(st, 1, j->now_ms);
    db_bind_i64(st, 2, j->limit);
    while (j->n < (size_t)j->limit && db_step(db, st, NULL) == 1) {
        struct claimed *c = &j->rows[j->n++];
        c->id = db_col_i64(st, 0);
        c->request_id = db_col_i64(st, 1);
        c->customer_id = db_col_i64(st, 2);
        c->channel_id = db_col_i64(st, 3);
        c->attempts = db_col_i64(st, 4) + 1;
        c->recipient = xstrdup(db_col_text(st, 5));
        c->body = xstrdup(db_col_text(st, 6));
        c->kind = xstrdup(db_col_text(st, 7));
        c->meta = xstrdup(db_col_text(st, 8));
    }
    sqlite3_reset(st);
    /* The lease is taken before any byte leaves: a crash after this point is visible. */
    for (size_t i = 0; i < j->n; i++) {
        st = db_stmt(db, "UPDATE outbox SET status = 'sending', attempts = attempts + 1, "
                         "lease_until_ms = $2, updated_at_ms = $3 WHERE id = $1");
        db_bind_i64(st, 1, j->rows[i].id);
        db_bind_i64(st, 2, j->now_ms + LEASE_MS);
        db_bind_i64(st, 3, j->now_ms);
        int rc = db_run(db, st, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

struct record_job {
    struct send *sends;
    struct claimed *rows;
    size_t n;
    int64_t now_ms;
};

static int event(struct store_tx *tx, const char *type, const struct claimed *c,
                 const char *error, struct err_info *err)
{
    json_t *d = json_pack("{s:I, s:I}", "outbox_id", (json_int_t)c->id, "attempts",
                          (json_int_t)c->attempts);
    if (error && *error)
        json_object_set_new(d, "error", json_string(error));
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    int64_t ev = store_event_add(tx, type, c->request_id, c->customer_id, 0, 0, "outbox", text,
                                 err);
    free(text);
    return ev < 0 ? (int)ev : 0;
}

static int job_record(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct record_job *j = arg;
    struct db *db = store_tx_db(tx);
    int rc = 0;
    for (size_t i = 0; i < j->n && rc == 0; i++) {
        struct send *s = &j->sends[i];
        struct claimed *c = &j->rows[i];
        int64_t max_attempts =
            s->ch ? chan_setting_int(s->ch, "max_attempts", DEFAULT_MAX_ATTEMPTS)
                  : DEFAULT_MAX_ATTEMPTS;
        /* A switched-off channel (s->ch NULL) keeps its messages until it is back. */
        if (s->result == SEND_RETRY && s->ch != NULL && c->attempts >= max_attempts)
            s->result = SEND_FAIL;
        sqlite3_stmt *st;
        if (s->result == SEND_OK) {
            st = db_stmt(db, "UPDATE outbox SET status = 'sent', external_id = $2, "
                             "sent_at_ms = $3, updated_at_ms = $3, lease_until_ms = NULL, "
                             "last_error = NULL WHERE id = $1 AND status = 'sending'");
            db_bind_i64(st, 1, c->id);
            db_bind_text(st, 2, s->external_id[0] ? s->external_id : NULL, -1);
            db_bind_i64(st, 3, j->now_ms);
            /* A row recovered from its lease meanwhile is no longer ours to record. */
            if ((rc = db_run(db, st, err)) == 0 && db_changes(db) > 0)
                rc = event(tx, "outbox.sent", c, NULL, err);
        } else if (s->result == SEND_RETRY) {
            /* Exponential back-off from the channel's base, or what the platform asked. */
            int64_t base = s->ch ? chan_setting_int(s->ch, "retry_base_ms", 1000) : 1000;
            int64_t delay = base << (c->attempts - 1 < 20 ? c->attempts - 1 : 20);
            if (delay > 3600 * 1000)
                delay = 3600 * 1000;
            if (s->retry_after_ms > 0)
                delay = s->retry_after_ms;
            if (s->ch == NULL)
                delay = 60 * 1000; /* the channel is off: look again in a minute */
            st = db_stmt(db, "UPDATE outbox SET status = 'queued', next_at_ms = $2, "
                             "last_error = $3, updated_at_ms = $4, lease_until_ms = NULL "
                             "WHERE id = $1 AND status = 'sending'");
            db_bind_i64(st, 1, c->id);
            db_bind_i64(st, 2, j->now_ms + delay);
            db_bind_text(st, 3, s->error, -1);
            db_bind_i64(st, 4, j->now_ms);
            rc = db_run(db, st, err);
        } else {
            st = db_stmt(db, "UPDATE outbox SET status = 'dead', last_error = $2, "
                             "updated_at_ms = $3, lease_until_ms = NULL WHERE id = $1 "
                             "AND status = 'sending'");
            db_bind_i64(st, 1, c->id);
            db_bind_text(st, 2, s->error, -1);
            db_bind_i64(st, 3, j->now_ms);
            if ((rc = db_run(db, st, err)) == 0 && db_changes(db) > 0)
                rc = event(tx, "outbox.dead", c, s->error, err);
        }
    }
    return rc;
}

/* Run every prepared send to completion, concurrently. */
static void perform(CURLM *multi, struct send *sends, size_t n)
{
    int running = 0;
    for (size_t i = 0; i < n; i++)
        if (sends[i].curl)
            curl_multi_add_handle(multi, sends[i].curl);
    do {
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(multi, NULL, 0, 200, NULL);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct send *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            s->curl_code = (int)msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &s->http_status);
        }
    } while (running > 0);
    for (size_t i = 0; i < n; i++)
        if (sends[i].curl)
            curl_multi_remove_handle(multi, sends[i].curl);
}

static void finish(struct send *s)
{
    if (s->ch->ad->is_smtp) {
        /* SMTP: 2xx accepted, 5xx refused for good (no such mailbox), the rest later. */
        s->result = s->curl_code == CURLE_OK ? SEND_OK
                    : s->http_status >= 500  ? SEND_FAIL
                                             : SEND_RETRY;
        if (s->result != SEND_OK)
            snprintf(s->error, sizeof s->error, "SMTP %ld: %s", s->http_status,
                     curl_easy_strerror((CURLcode)s->curl_code));
        return;
    }
    if (s->curl_code != CURLE_OK) {
        s->result = SEND_RETRY;
        snprintf(s->error, sizeof s->error, "%s", curl_easy_strerror((CURLcode)s->curl_code));
        return;
    }
    if (s->http_status == 429 || (s->http_status >= 500 && s->http_status < 600)) {
        s->result = SEND_RETRY;
        snprintf(s->error, sizeof s->error, "HTTP %ld", s->http_status);
        if (s->ch->ad->send_finish)
            s->ch->ad->send_finish(s); /* may read a retry_after from the body */
        if (s->result == SEND_OK || s->result == SEND_FAIL)
            s->result = SEND_RETRY;
        return;
    }
    if (s->ch->ad->send_finish)
        s->ch->ad->send_finish(s);
    else {
        s->result = (s->http_status >= 200 && s->http_status < 300) ? SEND_OK : SEND_FAIL;
        if (s->result == SEND_FAIL)
            snprintf(s->error, sizeof s->error, "HTTP %ld", s->http_status);
    }
}

/* The worker's curl state: one multi handle (its connection cache keeps
 * platform connections open) and a pool of easy handles, reset for reuse. */
static CURLM *worker_multi;
static CURL *handle_pool[OUTBOX_BATCH];
static size_t n_pooled;

static CURL *handle_get(void)
{
    if (n_pooled == 0)
        return curl_easy_init();
    CURL *h = handle_pool[--n_pooled];
    curl_easy_reset(h);
    return h;
}

static void handle_put(CURL *h)
{
    if (n_pooled < OUTBOX_BATCH)
        handle_pool[n_pooled++] = h;
    else
        curl_easy_cleanup(h);
}

int outbox_deliver(struct app *app, int limit, struct err_info *err)
{
    struct claim_job cj = {.limit = limit, .now_ms = clock_now_ms()};
    cj.rows = xcalloc((size_t)limit, sizeof *cj.rows);
    int rc = store_write(app->store, job_claim, &cj, err);
    if (rc != 0 || cj.n == 0) {
        free(cj.rows);
        return rc;
    }
    struct arena a;
    arena_init(&a, 64 * 1024);
    struct send *sends = xcalloc(cj.n, sizeof *sends);
    struct chan_snapshot *snap = chan_snapshot_get(app->channels);
    if (worker_multi == NULL) {
        worker_multi = curl_multi_init();
        curl_multi_setopt(worker_multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
    }
    for (size_t i = 0; i < cj.n; i++) {
        struct send *s = &sends[i];
        struct claimed *c = &cj.rows[i];
        buf_init(&s->resp, 256 * 1024);
        s->ch = chan_by_id(snap, c->channel_id);
        s->outbox_id = c->id;
        s->request_id = c->request_id;
        s->attempts = c->attempts;
        s->recipient = c->recipient;
        s->body = c->body;
        s->kind = c->kind;
        s->meta = json_loads(c->meta, 0, NULL);
        if (!json_is_object(s->meta)) {
            json_decref(s->meta);
            s->meta = json_object();
        }
        s->arena = &a;
        if (s->ch == NULL || !s->ch->is_active || s->ch->ad->send_prepare == NULL) {
            /* Switched off or removed: keep retrying until an admin turns it back on. */
            s->result = SEND_RETRY;
            snprintf(s->error, sizeof s->error, "the channel is not active");
            s->ch = NULL;
            continue;
        }
        s->curl = handle_get();
        curl_easy_setopt(s->curl, CURLOPT_PRIVATE, (char *)s);
        int pr = s->ch->ad->send_prepare(s);
        if (pr != 0) {
            handle_put(s->curl);
            s->curl = NULL;
            if (pr < 0) {
                s->result = SEND_FAIL;
                if (s->error[0] == '\0')
                    snprintf(s->error, sizeof s->error, "cannot prepare the message");
            }
            continue;
        }
        if (s->headers)
            curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
    }
    perform(worker_multi, sends, cj.n);
    for (size_t i = 0; i < cj.n; i++)
        if (sends[i].curl)
            finish(&sends[i]);
    struct record_job rj = {.sends = sends, .rows = cj.rows, .n = cj.n,
                            .now_ms = clock_now_ms()};
    rc = store_write(app->store, job_record, &rj, err);
    for (size_t i = 0; i < cj.n; i++) {
        struct send *s = &sends[i];
        if (s->result != SEND_OK)
            log_info("outbox id=%lld attempt=%lld result=%s error=\"%s\"", (long long)s->outbox_id,
                     (long long)s->attempts, s->result == SEND_RETRY ? "retry" : "dead",
                     s->error);
        if (s->curl)
            handle_put(s->curl);
        curl_slist_free_all(s->headers);
        curl_slist_free_all(s->rcpt);
        buf_free(&s->resp);
        json_decref(s->meta);
        free(cj.rows[i].recipient);
        free(cj.rows[i].body);
        free(cj.rows[i].kind);
        free(cj.rows[i].meta);
    }
    chan_snapshot_put(snap);
    free(sends);
    free(cj.rows);
    arena_free(&a);
    return rc != 0 ? rc : (int)cj.n;
}

/* ---- leases left by a crash ------------------------------------------------------------- */

struct recover_job {
    int64_t now_ms;
    bool ignore_lease; /* at start: no other process sends for this database */
    int n;
};

static int job_recover(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct recover_job *j = arg;
    struct db *db = store_tx_db(tx);
    sqlite3_stmt *st = db_stmt(db, "SELECT o.id, o.request_id, o.customer_id, o.attempts, "
                                   "c.adapter FROM outbox o LEFT JOIN channels c ON "
                                   "c.id = o.channel_id WHERE o.status = 'sending' AND "
                                   "($2 = 1 OR o.lease_until_ms < $1) LIMIT 1000");
    db_bind_i64(st, 1, j->now_ms);
    db_bind_i64(st, 2, j->ignore_lease ? 1 : 0);
    struct claimed rows[64];
    bool idem[64];
    size_t n = 0;
    while (n < 64 && db_step(db, st, NULL) == 1) {
        memset(&rows[n], 0, sizeof rows[n]);
        rows[n].id = db_col_i64(st, 0);
        rows[n].request_id = db_col_i64(st, 1);
        rows[n].customer_id = db_col_i64(st, 2);
        rows[n].attempts = db_col_i64(st, 3);
        const struct adapter *ad = adapter_find(db_col_text(st, 4));
        idem[n] = ad && ad->has_idempotency_key;
        n++;
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        /* Resending is safe only where the platform drops a repeated idempotency key. */
        st = db_stmt(db, "UPDATE outbox SET status = $2, lease_until_ms = NULL, "
                         "next_at_ms = $3, updated_at_ms = $3 WHERE id = $1");
        db_bind_i64(st, 1, rows[i].id);
        db_bind_text(st, 2, idem[i] ? "queued" : "unknown", -1);
        db_bind_i64(st, 3, j->now_ms);
        int rc = db_run(db, st, err);
        if (rc == 0 && !idem[i])
            rc = event(tx, "outbox.unknown", &rows[i],
                       "interrupted while sending; the platform may or may not have it", err);
        if (rc != 0)
            return rc;
        j->n++;
    }
    return 0;
}

static int recover(struct app *app, bool ignore_lease)
{
    struct recover_job j = {.now_ms = clock_now_ms(), .ignore_lease = ignore_lease};
    struct err_info err = {0};
    if (store_write(app->store, job_recover, &j, &err) != 0)
        log_warn("outbox recover error=\"%s\"", err.message);
    else if (j.n > 0)
        log_warn("outbox recovered=%d", j.n);
    return j.n;
}

/* ---- the worker ---------------------------------------------------------------------------- */

void outbox_poke(struct channels *cs)
{
    pthread_mutex_lock(&cs->wmu);
    cs->outbox_poked = true;
    pthread_cond_broadcast(&cs->wcond);
    pthread_mutex_unlock(&cs->wmu);
}

static void on_event(void *ctx, const struct hub_event *ev)
{
    bool *wake = ctx;
    if (strcmp(ev->type, "outbox.queued") == 0)
        *wake = true;
}

static void *outbox_main(void *arg)
{
    struct channels *cs = arg;
    struct app *app = cs->app;
    pthread_setname_np(pthread_self(), "otklik-outbox");
    while (recover(app, true) > 0) {
    }
    int64_t last = store_hub_last_id(app->store);
    for (;;) {
        pthread_mutex_lock(&cs->wmu);
        bool stop = cs->is_stopping;
        cs->outbox_poked = false;
        pthread_mutex_unlock(&cs->wmu);
        if (stop)
            break;
        struct err_info err = {0};
        int n = outbox_deliver(app, OUTBOX_BATCH, &err);
        if (n < 0)
            log_warn("outbox deliver error=\"%s\"", err.message);
        if (n > 0)
            continue;
        /* Wait for a queued message (after its commit) or the next due retry. */
        bool wake = false;
        int64_t waited = 0;
        while (!wake && waited < 1000) {
            int64_t t0 = clock_now_ms();
            int64_t id = store_hub_wait(app->store, last, 250, on_event, &wake);
            if (id < 0) { /* the hub closed: the server is stopping */
                usleep(50000);
                break;
            }
            last = id;
            pthread_mutex_lock(&cs->wmu);
            if (cs->outbox_poked || cs->is_stopping)
                wake = true;
            pthread_mutex_unlock(&cs->wmu);
            int64_t dt = clock_now_ms() - t0;
            waited += dt > 0 ? dt : 250;
        }
    }
    while (n_pooled > 0)
        curl_easy_cleanup(handle_pool[--n_pooled]);
    if (worker_multi) {
        curl_multi_cleanup(worker_multi);
        worker_multi = NULL;
    }
    return NULL;
}

int outbox_start(struct channels *cs)
{
    if (pthread_create(&cs->outbox_thread, NULL, outbox_main, cs) != 0)
        return ERR_INTERNAL;
    cs->has_outbox_thread = true;
    return 0;
}

void outbox_stop(struct channels *cs)
{
    if (cs->has_outbox_thread)
        pthread_join(cs->outbox_thread, NULL);
    cs->has_outbox_thread = false;
}

int64_t channels_outbox_tick(struct app *app, int64_t now_ms)
{
    (void)now_ms;
    if (app->channels == NULL)
        return 0;
    recover(app, false);
    outbox_poke(app->channels);
    return 0;
}
