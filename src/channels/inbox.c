/*
 * inbox.c - the durable hand-over between webhooks and intake.  A webhook
 * stores its normalised items (one job, deduplicated by the platform's
 * message id) and answers; one worker thread turns pending rows into
 * requests and messages in batches, in arrival order, threading each
 * message into the conversation it belongs to (see channels.h).
 */
#include "channels/channels_int.h"

#include "classify/text.h"
#include "core/clock.h"
#include "core/log.h"
#include "intake/intake.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define INBOX_BATCH 32 /* small jobs: webhooks never wait long behind the worker */

/* ---- adding ------------------------------------------------------------------------ */

struct add_job {
    int64_t channel_id;
    size_t n;
    char **texts;       /* item JSON, owned */
    const char **sids;  /* source ids (borrowed from the items) */
    int64_t now_ms;
    int added;
};

static int job_add(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct add_job *j = arg;
    struct db *db = store_tx_db(tx);
    j->added = 0; /* the job may run again (is_rerunnable) */
    for (size_t i = 0; i < j->n; i++) {
        sqlite3_stmt *st =
            db_stmt(db, "INSERT INTO channel_inbox (channel_id, source_id, item, received_at_ms) "
                        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING");
        db_bind_i64(st, 1, j->channel_id);
        db_bind_text(st, 2, j->sids[i], -1);
        db_bind_text(st, 3, j->texts[i], -1);
        db_bind_i64(st, 4, j->now_ms);
        int rc = db_run(db, st, err);
        if (rc != 0)
            return rc;
        j->added += db_changes(db);
    }
    return 0;
}

struct inbox_batch {
    struct add_job j;
    char (*gen)[64]; /* source ids made up for items without one */
    json_t *items;   /* a reference: the source ids point into it */
};

struct inbox_batch *inbox_batch_new(const struct chan *c, json_t *items)
{
    static _Atomic uint64_t seq;
    struct inbox_batch *b = xcalloc(1, sizeof *b);
    b->items = json_incref(items);
    b->j = (struct add_job){.channel_id = c->id, .n = json_array_size(items),
                            .now_ms = clock_now_ms()};
    b->j.texts = xcalloc(b->j.n + 1, sizeof *b->j.texts);
    b->j.sids = xcalloc(b->j.n + 1, sizeof *b->j.sids);
    b->gen = xcalloc(b->j.n + 1, sizeof *b->gen);
    for (size_t i = 0; i < b->j.n; i++) {
        json_t *it = json_array_get(items, i);
        const char *sid = json_string_value(json_object_get(it, "source_id"));
        if (sid == NULL || *sid == '\0') {
            /* Nothing to deduplicate by: a unique id keeps the row. */
            snprintf(b->gen[i], sizeof b->gen[i], "noid:%lld:%llu", (long long)b->j.now_ms,
                     (unsigned long long)atomic_fetch_add(&seq, 1));
            sid = b->gen[i];
        }
        b->j.sids[i] = sid;
        b->j.texts[i] = json_dumps(it, JSON_COMPACT);
    }
    return b;
}

int inbox_batch_write(struct store_tx *tx, void *batch, struct err_info *err)
{
    struct inbox_batch *b = batch;
    return job_add(tx, &b->j, err);
}

int inbox_batch_added(const struct inbox_batch *b)
{
    return b->j.added;
}

void inbox_batch_free(struct inbox_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->j.n; i++)
        free(b->j.texts[i]);
    free(b->j.texts);
    free(b->j.sids);
    free(b->gen);
    json_decref(b->items);
    free(b);
}

int inbox_add(struct app *app, const struct chan *c, json_t *items, int *out_added,
              struct err_info *err)
{
    struct inbox_batch *b = inbox_batch_new(c, items);
    int rc = store_write(app->store, inbox_batch_write, b, err);
    if (out_added)
        *out_added = b->j.added;
    inbox_batch_free(b);
    return rc;
}

/* ---- processing ------------------------------------------------------------------- */

struct row {
    int64_t id, channel_id;
    json_t *item;
    const char *type;
    struct request_in in;  /* message items */
    struct err_info perr;  /* parse problem, recorded on the row */
    int64_t request_id;
};

struct process_job {
    struct app *app;
    struct row *rows;
    size_t n;
    struct arena *arena;
};

static void mark_row(struct db *db, const struct row *r, int64_t now, const char *error)
{
    /* A processed item is dropped (its source id stays for dedup); a failed one is kept. */
    sqlite3_stmt *st = db_stmt(db, "UPDATE channel_inbox SET processed_at_ms = $2, "
                                   "request_id = $3, error = $4, item = CASE WHEN $4 IS NULL "
                                   "THEN '{}' ELSE item END WHERE id = $1");
    db_bind_i64(st, 1, r->id);
    db_bind_i64(st, 2, now);
    db_bind_i64_or_null(st, 3, r->request_id);
    db_bind_text(st, 4, error, -1);
    db_run(db, st, NULL);
}

/* The request an e-mail answers: a Message-ID we received or sent on this channel. */
static int64_t request_by_reference(struct db *db, int64_t channel_id, json_t *refs)
{
    size_t i;
    json_t *v;
    /* The newest reference is the most specific: walk from the end. */
    for (i = json_array_size(refs); i-- > 0;) {
        v = json_array_get(refs, i);
        if (!json_is_string(v))
            continue;
        sqlite3_stmt *st = db_stmt(db, "SELECT request_id FROM channel_inbox WHERE channel_id = $1 "
                                       "AND source_id = $2 AND request_id IS NOT NULL "
                                       "UNION ALL SELECT request_id FROM outbox "
                                       "WHERE channel_id = $1 AND external_id = $2 LIMIT 1");
        db_bind_i64(st, 1, channel_id);
        db_bind_text(st, 2, json_string_value(v), -1);
        int64_t id = db_step(db, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
        sqlite3_reset(st);
        if (id)
            return id;
    }
    (void)v;
    return 0;
}

/* The open conversation of a peer on a channel: its newest request not closed. */
static int64_t request_by_peer(struct db *db, int64_t channel_id, const char *peer,
                               int64_t only_id)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT cr.request_id FROM channel_routes cr "
                                   "JOIN requests r ON r.id = cr.request_id "
                                   "WHERE cr.channel_id = $1 AND cr.peer = $2 "
                                   "AND r.status <> 'closed' AND ($3 = 0 OR r.id = $3) "
                                   "ORDER BY cr.request_id DESC LIMIT 1");
    db_bind_i64(st, 1, channel_id);
    db_bind_text(st, 2, peer, -1);
    db_bind_i64(st, 3, only_id);
    int64_t id = db_step(db, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

static bool request_is_closed(struct db *db, int64_t id)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT status FROM requests WHERE id = $1");
    db_bind_i64(st, 1, id);
    bool closed = db_step(db, st, NULL) != 1 || strcmp(db_col_text(st, 0), "closed") == 0;
    sqlite3_reset(st);
    return closed;
}

static int add_event(struct store_tx *tx, const char *type, int64_t request_id, json_t *data,
                     const char *actor, struct err_info *err)
{
    char *text = json_dumps(data, JSON_COMPACT);
    int64_t ev = store_event_add(tx, type, request_id, 0, 0, 0, actor, text, err);
    free(text);
    return ev < 0 ? (int)ev : 0;
}

/* Keep attachment bytes in channel_files; the event names the file instead. */
static int keep_files(struct db *db, json_t *atts, struct err_info *err)
{
    for (size_t i = 0; i < json_array_size(atts); i++) {
        json_t *a = json_array_get(atts, i);
        const char *b64 = json_string_value(json_object_get(a, "data_b64"));
        const char *sha = json_string_value(json_object_get(a, "sha256"));
        if (b64 == NULL || sha == NULL)
            continue;
        size_t cap = strlen(b64), len = 0;
        unsigned char *bin = xmalloc(cap + 1);
        if (sodium_base642bin(bin, cap + 1, b64, cap, NULL, &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0) {
            sqlite3_stmt *st = db_stmt(db, "INSERT INTO channel_files (sha256, mime, name, "
                                           "size_bytes, data, created_at_ms) VALUES ($1, $2, "
                                           "$3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING");
            db_bind_text(st, 1, sha, -1);
            db_bind_text(st, 2, json_string_value(json_object_get(a, "mime")), -1);
            db_bind_text(st, 3, json_string_value(json_object_get(a, "file_name")), -1);
            db_bind_i64(st, 4, (int64_t)len);
            db_bind_blob(st, 5, bin, len);
            db_bind_i64(st, 6, clock_now_ms());
            int rc = db_run(db, st, err);
            if (rc != 0) {
                free(bin);
                return rc;
            }
            json_object_set_new(a, "is_stored", json_true());
        }
        free(bin);
        json_object_del(a, "data_b64");
    }
    return 0;
}

static int apply_message(struct store_tx *tx, struct app *app, struct row *r, const char *actor,
                         struct err_info *err)
{
    (void)app;
    struct db *db = store_tx_db(tx);
    json_t *item = r->item;
    const char *peer = json_string_value(json_object_get(item, "peer"));
    const char *thread = json_string_value(json_object_get(item, "thread"));
    bool by_peer = thread == NULL || strcmp(thread, "peer") == 0;
    int64_t rid = request_by_reference(db, r->channel_id, json_object_get(item, "refs"));
    json_t *tag = json_object_get(item, "tag_request");
    if (rid == 0 && json_is_integer(tag) && peer && *peer)
        rid = request_by_peer(db, r->channel_id, peer, json_integer_value(tag));
    if (rid == 0 && by_peer && peer && *peer)
        rid = request_by_peer(db, r->channel_id, peer, 0);
    if (rid != 0 && request_is_closed(db, rid))
        rid = 0;
    int rc;
    int64_t message_id = 0;
    if (rid != 0) {
        /* New identities (a shared contact) join the conversation's customer. */
        if (customer_in_has_identity(&r->in.customer)) {
            int64_t cid;
            if ((rc = store_customer_resolve(tx, &r->in.customer, rid, clock_now_ms(), &cid,
                                             err)) != 0)
                return rc;
        }
        struct message_in m = {.direction = "in",
                               .body = r->in.text,
                               .search_terms = r->in.search_terms,
                               .author_name = r->in.customer.name,
                               .actor = actor,
                               .at_ms = r->in.created_at_ms};
        if ((rc = store_message_add(tx, rid, &m, &message_id, err)) != 0)
            return rc;
    } else {
        struct request_out out;
        if ((rc = store_request_create(tx, &r->in, &out, err)) != 0)
            return rc;
        rid = out.id;
        if (out.is_duplicate) {
            r->request_id = rid;
            return 0;
        }
    }
    r->request_id = rid;
    /* The route: where replies go; its meta keeps what the reply needs (e-mail threading). */
    json_t *meta = json_object_get(item, "reply_meta");
    char *meta_text = json_dumps(json_is_object(meta) ? meta : json_object(), JSON_COMPACT);
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO channel_routes (request_id, channel_id, peer, "
                                   "meta, updated_at_ms) VALUES ($1, $2, $3, $4, $5) "
                                   "ON CONFLICT (request_id) DO UPDATE SET meta = $4, "
                                   "updated_at_ms = $5");
    db_bind_i64(st, 1, rid);
    db_bind_i64(st, 2, r->channel_id);
    db_bind_text(st, 3, peer ? peer : "", -1);
    db_bind_text(st, 4, meta_text, -1);
    db_bind_i64(st, 5, clock_now_ms());
    rc = db_run(db, st, err);
    free(meta_text);
    if (rc != 0)
        return rc;
    json_t *att = json_object_get(item, "attachments");
    if (json_array_size(att) > 0) {
        if ((rc = keep_files(db, att, err)) != 0)
            return rc;
        if (message_id == 0) {
            st = db_stmt(db, "SELECT id FROM messages WHERE request_id = $1 ORDER BY id LIMIT 1");
            db_bind_i64(st, 1, rid);
            message_id = db_step(db, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
            sqlite3_reset(st);
        }
        json_t *d = json_pack("{s:I, s:O}", "message_id", (json_int_t)message_id,
                              "attachments", att);
        rc = add_event(tx, "message.attachments", rid, d, actor, err);
        json_decref(d);
        if (rc != 0)
            return rc;
    }
    json_t *ev = json_object_get(item, "event");
    const char *ev_type = json_string_value(json_object_get(ev, "type"));
    if (ev_type)
        rc = add_event(tx, ev_type, rid, json_object_get(ev, "data"), actor, err);
    return rc;
}

static int job_process(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)err;
    struct process_job *j = arg;
    struct db *db = store_tx_db(tx);
    struct chan_snapshot *snap = chan_snapshot_get(j->app->channels);
    int64_t now = clock_now_ms();
    for (size_t i = 0; i < j->n; i++) {
        struct row *r = &j->rows[i];
        if (r->perr.code != 0) {
            mark_row(db, r, now, r->perr.message);
            continue;
        }
        const struct chan *c = chan_by_id(snap, r->channel_id);
        const char *actor = c ? arena_printf(j->arena, "channel:%s/%s", c->adapter, c->name)
                              : "channel";
        struct err_info e = {0};
        r->in.actor = actor;
        struct tx_mark mark = store_tx_part_begin(tx);
        int rc;
        if (strcmp(r->type, "message") == 0)
            rc = apply_message(tx, j->app, r, actor, &e);
        else if (strcmp(r->type, "status") == 0)
            rc = outbox_status_apply(tx, r->channel_id, r->item, &e);
        else if (strcmp(r->type, "call") == 0)
            rc = phone_call_apply(tx, r->channel_id, r->item, &e);
        else
            rc = err_set(&e, ERR_INVALID, "type", "unknown item type");
        store_tx_part_end(tx, mark, rc == 0);
        if (rc != 0) {
            r->request_id = 0;
            log_warn("inbox row=%lld channel=%lld error=\"%s\"", (long long)r->id,
                     (long long)r->channel_id, e.message);
        }
        mark_row(db, r, now, rc ? e.message : NULL);
    }
    chan_snapshot_put(snap);
    return 0;
}

int inbox_process(struct app *app, int limit, struct err_info *err)
{
    struct arena a;
    arena_init(&a, 64 * 1024);
    struct row *rows = xcalloc((size_t)limit, sizeof *rows);
    size_t n = 0;
    struct db *r = store_reader(app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT id, channel_id, item FROM channel_inbox "
                                  "WHERE processed_at_ms IS NULL ORDER BY id LIMIT $1");
    db_bind_i64(st, 1, limit);
    while (n < (size_t)limit && db_step(r, st, NULL) == 1) {
        rows[n].id = db_col_i64(st, 0);
        rows[n].channel_id = db_col_i64(st, 1);
        rows[n].item = json_loads(db_col_text(st, 2), 0, NULL);
        n++;
    }
    sqlite3_reset(st);
    store_reader_done(app->store, r);
    /* Validation and classification happen here, outside the writer. */
    for (size_t i = 0; i < n; i++) {
        struct row *w = &rows[i];
        w->type = json_string_value(json_object_get(w->item, "type"));
        if (w->type == NULL) {
            err_set(&w->perr, ERR_INVALID, "", "not an inbox item");
            continue;
        }
        if (strcmp(w->type, "message") != 0)
            continue;
        if (intake_request_parse(item_request(w->item), false, &a, &w->in, &w->perr) != 0)
            continue;
        const char *prio = json_string_value(json_object_get(w->item, "priority"));
        if (model_find(model_priorities, prio) >= 0)
            w->in.priority = arena_strdup(&a, prio);
        api_enrich_request(app, &w->in, &a);
        /* A classifier's priority never lowers the channel's own (a low rating). */
        if (prio && model_find(model_priorities, prio) >= 0 && w->in.priority &&
            model_find(model_priorities, w->in.priority) < model_find(model_priorities, prio))
            w->in.priority = arena_strdup(&a, prio);
    }
    int rc = 0;
    if (n > 0) {
        struct process_job j = {.app = app, .rows = rows, .n = n, .arena = &a};
        rc = store_write(app->store, job_process, &j, err);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(rows[i].item);
    free(rows);
    arena_free(&a);
    return rc != 0 ? rc : (int)n;
}

/* ---- the worker ----------------------------------------------------------------------- */

void inbox_poke(struct channels *cs)
{
    pthread_mutex_lock(&cs->wmu);
    cs->inbox_poked = true;
    pthread_cond_broadcast(&cs->wcond);
    pthread_mutex_unlock(&cs->wmu);
}

static bool is_stopping(struct channels *cs)
{
    pthread_mutex_lock(&cs->wmu);
    bool stop = cs->is_stopping;
    pthread_mutex_unlock(&cs->wmu);
    return stop;
}

static void *inbox_main(void *arg)
{
    struct channels *cs = arg;
    pthread_setname_np(pthread_self(), "otklik-inbox");
    for (;;) {
        pthread_mutex_lock(&cs->wmu);
        if (!cs->inbox_poked && !cs->is_stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&cs->wcond, &cs->wmu, &ts);
        }
        bool stop = cs->is_stopping;
        cs->inbox_poked = false;
        pthread_mutex_unlock(&cs->wmu);
        if (stop)
            break;
        /* A stop ends the work after the batch at hand: the rest is durable in the
         * inbox and taken up at the next start. */
        struct err_info err = {0};
        int n = 0;
        while (!is_stopping(cs)) {
            uint64_t t0 = clock_mono_ns();
            if ((n = inbox_process(cs->app, INBOX_BATCH, &err)) <= 0)
                break;
            err_clear(&err);
            /* While webhooks queue at the writer, acknowledging them comes first: the
             * worker pauses four times as long as its batch took (a fifth of the
             * writer's time at most); once they ease it converts at full speed. */
            uint64_t took_us = (clock_mono_ns() - t0) / 1000;
            if (store_queue_depth(cs->app->store) > 4)
                usleep((useconds_t)(took_us < 25000 ? 4 * took_us : 100000));
        }
        if (n < 0)
            log_warn("inbox process error=\"%s\"", err.message);
    }
    return NULL;
}

int inbox_start(struct channels *cs)
{
    if (pthread_create(&cs->inbox_thread, NULL, inbox_main, cs) != 0)
        return ERR_INTERNAL;
    cs->has_inbox_thread = true;
    return 0;
}

void inbox_stop(struct channels *cs)
{
    if (cs->has_inbox_thread)
        pthread_join(cs->inbox_thread, NULL);
    cs->has_inbox_thread = false;
}

int64_t channels_inbox_tick(struct app *app, int64_t now_ms)
{
    (void)now_ms;
    if (app->channels)
        inbox_poke(app->channels);
    return 0;
}
