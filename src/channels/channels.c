/*
 * channels.c - lifecycle of the channels part, the table of adapters, the
 * reference-counted snapshot of configured channels, and the one public
 * webhook route that hands a platform's call to its adapter.
 */
#include "channels/channels_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "jobs/jobs.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct adapter *const adapters[] = {
    &adapter_telegram, &adapter_viber,   &adapter_vk,  &adapter_whatsapp,
    &adapter_email,    &adapter_smsru,   &adapter_twilio, &adapter_phone,
    &adapter_webchat,  &adapter_app,     &adapter_reviews, &adapter_social,
    NULL,
};

const struct adapter *adapter_find(const char *name)
{
    for (int i = 0; name && adapters[i]; i++)
        if (strcmp(adapters[i]->name, name) == 0)
            return adapters[i];
    return NULL;
}

/* ---- snapshot ------------------------------------------------------------------ */

static void snapshot_free(struct chan_snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        json_decref(s->items[i].secrets);
        json_decref(s->items[i].settings);
    }
    free(s->items);
    free(s);
}

struct chan_snapshot *chan_snapshot_get(struct channels *cs)
{
    pthread_mutex_lock(&cs->mu);
    struct chan_snapshot *s = cs->snap;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&cs->mu);
    return s;
}

void chan_snapshot_put(struct chan_snapshot *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        snapshot_free(s);
}

int chan_snapshot_load(struct db *r, const unsigned char key[32], struct chan_snapshot **out,
                       struct err_info *err)
{
    struct chan_snapshot *s = xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    size_t cap = 0;
    sqlite3_stmt *st = db_stmt(r, "SELECT id, adapter, name, secrets, settings, is_active "
                                  "FROM channels ORDER BY id");
    int rc;
    while ((rc = db_step(r, st, err)) == 1) {
        xgrow((void **)&s->items, &cap, s->n + 1, sizeof *s->items);
        struct chan *c = &s->items[s->n];
        memset(c, 0, sizeof *c);
        c->id = db_col_i64(st, 0);
        snprintf(c->adapter, sizeof c->adapter, "%s", db_col_text(st, 1));
        snprintf(c->name, sizeof c->name, "%s", db_col_text(st, 2));
        c->ad = adapter_find(c->adapter);
        c->secrets = secrets_open(key, db_col_text(st, 3));
        c->settings = json_loads(db_col_text(st, 4), 0, NULL);
        c->is_active = db_col_i64(st, 5) != 0;
        if (c->secrets == NULL) {
            /* A key file from another database: the channel stays off rather than unverified. */
            log_warn("channels channel=%s/%s secrets=unreadable", c->adapter, c->name);
            c->secrets = json_object();
            c->is_active = false;
        }
        if (!json_is_object(c->settings)) {
            json_decref(c->settings);
            c->settings = json_object();
        }
        if (c->ad == NULL)
            c->is_active = false;
        c->rate_per_s = chan_setting_int(c, "rate_per_s", 500);
        s->n++;
    }
    sqlite3_reset(st);
    if (rc < 0) {
        snapshot_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int channels_reload(struct channels *cs, struct err_info *err)
{
    struct chan_snapshot *s;
    struct db *r = store_reader(cs->app->store);
    int rc = chan_snapshot_load(r, cs->key, &s, err);
    store_reader_done(cs->app->store, r);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&cs->mu);
    struct chan_snapshot *old = cs->snap;
    cs->snap = s;
    pthread_mutex_unlock(&cs->mu);
    chan_snapshot_put(old);
    log_info("channels reloaded=%zu", s->n);
    return 0;
}

const struct chan *chan_find(const struct chan_snapshot *s, const char *adapter, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].adapter, adapter) == 0 && strcmp(s->items[i].name, name) == 0)
            return &s->items[i];
    return NULL;
}

const struct chan *chan_by_id(const struct chan_snapshot *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].id == id)
            return &s->items[i];
    return NULL;
}

const char *chan_secret(const struct chan *c, const char *key)
{
    const char *v = json_string_value(json_object_get(c->secrets, key));
    return v && *v ? v : NULL;
}

const char *chan_setting(const struct chan *c, const char *key, const char *def)
{
    const char *v = json_string_value(json_object_get(c->settings, key));
    return v && *v ? v : def;
}

int64_t chan_setting_int(const struct chan *c, const char *key, int64_t def)
{
    json_t *v = json_object_get(c->settings, key);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

/* ---- lifecycle ------------------------------------------------------------------- */

int channels_start(struct app *app, struct err_info *err)
{
    struct channels *cs = xcalloc(1, sizeof *cs);
    cs->app = app;
    pthread_mutex_init(&cs->mu, NULL);
    pthread_mutex_init(&cs->wmu, NULL);
    pthread_cond_init(&cs->wcond, NULL);
    int rc = secrets_key_load(app->cfg->db, cs->key, err);
    if (rc == 0) {
        struct db *r = store_reader(app->store);
        rc = chan_snapshot_load(r, cs->key, &cs->snap, err);
        store_reader_done(app->store, r);
    }
    if (rc != 0) {
        pthread_mutex_destroy(&cs->mu);
        free(cs);
        return rc;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    app->channels = cs;
    if (inbox_start(cs) != 0 || outbox_start(cs) != 0) {
        channels_stop(app);
        return err_set(err, ERR_INTERNAL, "", "cannot start the channel workers");
    }
    log_debug("channels started=%zu", cs->snap->n);
    return 0;
}

void channels_stop(struct app *app)
{
    struct channels *cs = app->channels;
    if (cs == NULL)
        return;
    pthread_mutex_lock(&cs->wmu);
    cs->is_stopping = true;
    pthread_cond_broadcast(&cs->wcond);
    pthread_mutex_unlock(&cs->wmu);
    inbox_stop(cs);
    outbox_stop(cs);
    chan_snapshot_put(cs->snap);
    sodium_memzero(cs->key, sizeof cs->key);
    pthread_mutex_destroy(&cs->mu);
    pthread_mutex_destroy(&cs->wmu);
    pthread_cond_destroy(&cs->wcond);
    free(cs);
    app->channels = NULL;
    curl_global_cleanup();
}

/* ---- the webhook route --------------------------------------------------------------- */

/* Fixed one-second window per channel; true when this call is over the limit. */
static bool rate_limited(struct channels *cs, const struct chan *c)
{
    size_t slot = (size_t)c->id % 256;
    int64_t now_s = clock_now_ms() / 1000;
    int64_t w = atomic_load(&cs->rl_window[slot]);
    if (w != now_s && atomic_compare_exchange_strong(&cs->rl_window[slot], &w, now_s))
        atomic_store(&cs->rl_count[slot], 0);
    return atomic_fetch_add(&cs->rl_count[slot], 1) + 1 > c->rate_per_s;
}

/* The answer to the platform once its items are stored. */
static void hook_reply(const struct hook *h, struct http_response *resp, size_t n_items)
{
    if (h->reply_text) {
        resp->status = h->reply_status ? h->reply_status : 200;
        resp->content_type = h->reply_type ? h->reply_type : "text/plain; charset=utf-8";
        buf_reset(&resp->body);
        buf_puts(&resp->body, h->reply_text);
    } else if (resp->body.len == 0) {
        http_reply_json(resp, h->reply_status ? h->reply_status : 200,
                        json_pack("{s:b, s:I}", "ok", 1, "accepted", (json_int_t)n_items));
    }
}

/* A webhook call whose items are being stored. */
struct hook_call {
    struct hook h;
    struct chan_snapshot *snap; /* h.ch lives in it */
    struct inbox_batch *batch;
};

static int hook_stored(struct http_request *req, struct http_response *resp, void *arg, int rc)
{
    (void)req;
    struct hook_call *call = arg;
    if (rc == 0) {
        if (inbox_batch_added(call->batch) > 0)
            inbox_poke(call->h.app->channels);
        hook_reply(&call->h, resp, json_array_size(call->h.items));
    }
    inbox_batch_free(call->batch);
    json_decref(call->h.items);
    chan_snapshot_put(call->snap);
    free(call);
    return rc;
}

int channels_hook(struct http_request *req, struct http_response *resp)
{
    struct channels *cs = req->app->channels;
    if (cs == NULL)
        return err_set(&req->err, ERR_UNAVAILABLE, "", "channels are not running");
    const char *adapter = req->params[0], *name = req->params[1];
    struct chan_snapshot *snap = chan_snapshot_get(cs);
    const struct chan *c = chan_find(snap, adapter, name);
    int rc;
    json_t *items = NULL;
    if (c == NULL || !c->is_active || c->ad == NULL || c->ad->hook == NULL) {
        rc = err_set(&req->err, ERR_NOTFOUND, "", "no active channel %.16s/%.64s", adapter, name);
        goto out;
    }
    if (rate_limited(cs, c)) {
        http_add_header(req, resp, "Retry-After", "1");
        rc = err_set(&req->err, ERR_RATE_LIMITED, "", "too many calls to this channel");
        goto out;
    }
    items = json_array();
    struct hook h = {.req = req, .resp = resp, .app = req->app, .ch = c, .items = items};
    if ((rc = c->ad->hook(&h)) != 0)
        goto out;
    if (json_array_size(items) > 0) {
        /* Answered once the items are durable; the call owns items and snap now. */
        struct hook_call *call = xcalloc(1, sizeof *call);
        call->h = h;
        call->snap = snap;
        call->batch = inbox_batch_new(c, items);
        return http_write_then(req, resp, inbox_batch_write, call->batch, true, hook_stored,
                               call);
    }
    hook_reply(&h, resp, 0);
out:
    json_decref(items);
    chan_snapshot_put(snap);
    return rc;
}
