/*
 * hub.c - the in-memory ring of recent committed events that feeds the
 * live stream (SSE).  The writer publishes after each commit; stream
 * handlers wait on the condition variable for ids newer than they have,
 * then read the ring under a shared lock, so hundreds of streams format
 * their events side by side and the writer waits only for the slots'
 * update, not for their formatting (the lock prefers the writer).
 * The ring holds the last HUB_RING events; a client that falls further
 * behind skips ahead (the UI refetches its list on reconnect).
 */
#include "store/store_int.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/str.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

void hub_init(struct hub *h)
{
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_rwlockattr_t rw;
    pthread_rwlockattr_init(&rw);
    pthread_rwlockattr_setkind_np(&rw, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&h->ring_lock, &rw);
    pthread_rwlockattr_destroy(&rw);
}

void hub_destroy(struct hub *h)
{
    for (int i = 0; i < HUB_RING; i++)
        free(h->ring[i].json);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cond);
    pthread_rwlock_destroy(&h->ring_lock);
}

void pending_events_free(struct pending_event *evs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(evs[i].ev.json);
        free(evs[i].data); /* the actor is in its block */
        evs[i].ev.json = evs[i].data = evs[i].actor = NULL;
    }
}

/* The event as the stream sends it; data is already JSON and is spliced in. */
static char *event_json(const struct pending_event *pe)
{
    const struct hub_event *ev = &pe->ev;
    char at[40];
    time_format_rfc3339(pe->at_ms, at, sizeof at);
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"id\":");
    buf_put_i64(&b, ev->id);
    buf_puts(&b, ",\"type\":");
    buf_put_json_str(&b, ev->type);
    buf_puts(&b, ",\"at\":\"");
    buf_puts(&b, at);
    buf_puts(&b, "\",\"data\":");
    buf_puts(&b, pe->data);
    static const char *const keys[] = {",\"request_id\":", ",\"customer_id\":",
                                       ",\"order_id\":", ",\"store_id\":"};
    const int64_t ids[] = {ev->request_id, ev->customer_id, pe->order_id, ev->store_id};
    for (int i = 0; i < 4; i++) {
        if (ids[i]) {
            buf_puts(&b, keys[i]);
            buf_put_i64(&b, ids[i]);
        }
    }
    if (pe->actor) {
        buf_puts(&b, ",\"actor\":");
        buf_put_json_str(&b, pe->actor);
    }
    buf_putc(&b, '}');
    return buf_steal(&b, NULL);
}

void hub_publish(struct hub *h, struct pending_event *evs, size_t n)
{
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        evs[i].ev.json = event_json(&evs[i]);
        free(evs[i].data);
        evs[i].data = evs[i].actor = NULL;
    }
    pthread_rwlock_wrlock(&h->ring_lock);
    for (size_t i = 0; i < n; i++) {
        struct hub_event *slot = &h->ring[evs[i].ev.id % HUB_RING];
        free(slot->json);
        *slot = evs[i].ev;
    }
    pthread_rwlock_unlock(&h->ring_lock);
    pthread_mutex_lock(&h->mu);
    h->last_id = evs[n - 1].ev.id;
    if (h->last_id - h->first_id >= HUB_RING || h->first_id == 0)
        h->first_id = h->last_id - HUB_RING + 1 > 1 ? h->last_id - HUB_RING + 1 : 1;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
}

int64_t store_hub_wait(struct store *s, int64_t after_id, int timeout_ms,
                       void (*fn)(void *ctx, const struct hub_event *ev), void *ctx)
{
    struct hub *h = &s->hub;
    struct timespec deadline = clock_deadline(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&h->mu);
    while (!h->is_closed && h->last_id <= after_id) {
        if (pthread_cond_timedwait(&h->cond, &h->mu, &deadline) == ETIMEDOUT)
            break;
    }
    if (h->is_closed) {
        pthread_mutex_unlock(&h->mu);
        return -1;
    }
    int64_t from = after_id + 1;
    if (from < h->first_id)
        from = h->first_id;
    int64_t to = h->last_id;
    pthread_mutex_unlock(&h->mu);
    int64_t last = after_id;
    pthread_rwlock_rdlock(&h->ring_lock);
    for (int64_t id = from; id <= to; id++) {
        const struct hub_event *ev = &h->ring[id % HUB_RING];
        /* Ids may have holes (events of rolled-back jobs), and a slot may hold a
         * newer event already (this reader fell a ring behind): skip those. */
        if (ev->id != id || ev->json == NULL)
            continue;
        fn(ctx, ev);
        last = id;
    }
    pthread_rwlock_unlock(&h->ring_lock);
    if (last < to)
        last = to;
    return last;
}

int64_t store_hub_last_id(struct store *s)
{
    pthread_mutex_lock(&s->hub.mu);
    int64_t id = s->hub.last_id;
    pthread_mutex_unlock(&s->hub.mu);
    return id;
}

void store_hub_close(struct store *s)
{
    pthread_mutex_lock(&s->hub.mu);
    s->hub.is_closed = true;
    pthread_cond_broadcast(&s->hub.cond);
    pthread_mutex_unlock(&s->hub.mu);
}
