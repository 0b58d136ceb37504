/*
 * rules_eval.c - the hot path: does a compiled rule hold for an event's
 * facts, and the sliding windows behind "5 signals from one store within 10
 * minutes".  Nothing here allocates: masks are tested against the fact's
 * vocabulary index, texts were case-folded when the rule was compiled and
 * when the facts were loaded, and window tables are preallocated.
 */
#include "rules/rules_int.h"

#include <stdlib.h>
#include <string.h>

static inline bool in_mask(uint32_t mask, int8_t v)
{
    return mask == 0 || (v >= 0 && (mask & (1u << v)));
}

static bool text_has(const struct rule_facts *f, const char *needle, size_t len)
{
    return f->text != NULL && len <= f->text_len && memmem(f->text, f->text_len, needle, len);
}

bool rule_cond_match(const struct rule_cond *c, const struct rule_facts *f)
{
    if (f->type < 0 || !(c->event_mask & (1ull << f->type)))
        return false;
    if (!in_mask(c->channel_mask, f->channel) || !in_mask(c->kind_mask, f->kind) ||
        !in_mask(c->status_mask, f->status) || !in_mask(c->priority_mask, f->priority) ||
        !in_mask(c->topic_mask, f->topic) || !in_mask(c->sentiment_mask, f->sentiment) ||
        !in_mask(c->tier_mask, f->tier) || !in_mask(c->order_status_mask, f->order_status))
        return false;
    if (c->region_mask && (f->region < 0 || !(c->region_mask & (1ull << f->region))))
        return false;
    if (c->n_stores) {
        bool ok = false;
        for (int i = 0; i < c->n_stores && !ok; i++)
            ok = c->stores[i] == f->store_id;
        if (!ok)
            return false;
    }
    if (c->open_requests_gte >= 0 && f->open_requests < c->open_requests_gte)
        return false;
    if (c->repeat_gte) {
        int64_t since = f->at_ms - (int64_t)c->repeat_days * 86400000;
        int n = 0;
        for (int i = 0; i < f->n_recent && f->recent_ms[i] >= since; i++)
            n++;
        if (n < c->repeat_gte)
            return false;
    }
    if (c->has_order_late && (!f->has_order_promise || f->order_late_ms < c->order_late_gte_ms))
        return false;
    if (c->has_linked_waited &&
        (f->linked_waited_ms < 0 || f->linked_waited_ms < c->linked_waited_gte_ms))
        return false;
    if (c->n_contains) {
        bool ok = false;
        for (int i = 0; i < c->n_contains && !ok; i++)
            ok = text_has(f, c->contains[i], c->contains_len[i]);
        if (!ok)
            return false;
    }
    if (c->has_regex && (f->text == NULL || regexec(&c->re, f->text, 0, NULL, 0) != 0))
        return false;
    return true;
}

/* ---- windows --------------------------------------------------------------------
 * Open addressing over (key → ring of the last `count` matching times).  The
 * window holds `count` events exactly when the oldest time in a full ring
 * is inside the window: one comparison, whatever the count.  When the
 * table is full the key whose newest time is oldest is replaced.
 */

#define WIN_SLOTS 1024
#define WIN_PROBE 16

struct win_slot {
    int64_t key;        /* INT64_MIN: empty */
    int64_t last_event_id;
    int64_t newest_ms;
    int32_t head, n;    /* ring position of the next write, entries held */
};

struct win_table {
    int32_t count;
    struct win_slot slots[WIN_SLOTS];
    int64_t *times; /* WIN_SLOTS * count */
};

struct win_table *win_new(int32_t count)
{
    struct win_table *w = xcalloc(1, sizeof *w);
    w->count = count;
    w->times = xcalloc((size_t)WIN_SLOTS * (size_t)count, sizeof *w->times);
    for (int i = 0; i < WIN_SLOTS; i++)
        w->slots[i].key = INT64_MIN;
    return w;
}

void win_free(struct win_table *w)
{
    if (w == NULL)
        return;
    free(w->times);
    free(w);
}

static int64_t window_key(const struct rule_cond *c, const struct rule_facts *f)
{
    switch (c->window_per) {
    case PER_STORE:
        return f->store_id;
    case PER_CUSTOMER:
        return f->customer_id;
    case PER_REGION:
        return f->region;
    case PER_REQUEST:
        return f->request_id;
    case PER_ALL:
    default:
        return 0;
    }
}

static struct win_slot *slot_for(struct win_table *w, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    size_t start = (size_t)(h >> 54) % WIN_SLOTS;
    struct win_slot *victim = NULL;
    for (size_t i = 0; i < WIN_PROBE; i++) {
        struct win_slot *s = &w->slots[(start + i) % WIN_SLOTS];
        if (s->key == key)
            return s;
        if (s->key == INT64_MIN) {
            s->key = key;
            return s;
        }
        if (victim == NULL || s->newest_ms < victim->newest_ms)
            victim = s;
    }
    victim->key = key;
    victim->n = victim->head = 0;
    victim->last_event_id = 0;
    victim->newest_ms = 0;
    return victim;
}

bool win_hit(struct win_table *w, const struct rule_cond *c, const struct rule_facts *f)
{
    int64_t key = window_key(c, f);
    struct win_slot *s = slot_for(w, key);
    if (f->event_id != 0 && f->event_id <= s->last_event_id)
        return false; /* replayed: counted already */
    s->last_event_id = f->event_id;
    int64_t *ring = w->times + (size_t)(s - w->slots) * (size_t)w->count;
    ring[s->head] = f->at_ms;
    s->head = (s->head + 1) % w->count;
    if (s->n < w->count)
        s->n++;
    if (f->at_ms > s->newest_ms)
        s->newest_ms = f->at_ms;
    if (s->n < w->count)
        return false;
    /* Full ring: the oldest entry sits at head. */
    if (ring[s->head] < f->at_ms - c->window_ms)
        return false;
    s->n = 0;
    s->head = 0;
    return true;
}

int rules_eval(const struct rule_set *set, const struct rule_facts *f, struct win_table **wins,
               int *out, int cap)
{
    if (f->type < 0 || f->type >= RULES_N_TYPES)
        return 0;
    int n = 0;
    const int *idx = set->by_type[f->type];
    for (int k = 0; k < set->n_by_type[f->type] && n < cap; k++) {
        int i = idx[k];
        const struct rule *r = set->rules[i];
        if (!rule_cond_match(&r->cond, f))
            continue;
        if (r->cond.window_count) {
            if (wins == NULL || wins[i] == NULL || !win_hit(wins[i], &r->cond, f))
                continue;
        }
        out[n++] = i;
    }
    return n;
}
