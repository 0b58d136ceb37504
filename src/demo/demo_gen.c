/*
 * demo_gen.c - the demo generator's entry points and its output: turns the
 * drawn chain (demo_plan.c) into NDJSON lines with jansson, composing request
 * texts and replies (demo_texts.c) and each request's life so far (status,
 * first response, solution, closing) as it goes.  Same seed, same bytes.
 */
#include "demo/demo.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/str.h"
#include "demo/demo_int.h"

static const char *const tier_names[] = {"regular", "silver", "gold", "vip"};
static const char *const order_status_names[] = {
    "created", "confirmed", "assembling", "item_not_found", "ready_for_pickup",
    "shipped", "delayed", "delivered", "cancelled", "returned",
};

/* Write v as exactly width decimal digits (zero-padded) at p; returns the end. */
static char *put_digits(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

/*
 * The same text as time_format_rfc3339() ("2026-09-01T10:15:00.000Z"), without
 * printf: the generator formats half a million timestamps.  Times here are
 * always after 1970.
 */
static void fmt_time(int64_t ms, char out[32])
{
    int64_t secs = ms / 1000, days = secs / 86400, rem = secs % 86400;
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char *p = put_digits(out, (uint64_t)y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, (uint64_t)(rem / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t)(rem / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t)(rem % 60), 2);
    *p++ = '.';
    p = put_digits(p, (uint64_t)(ms % 1000), 3);
    *p++ = 'Z';
    *p = '\0';
}

static int n_digits(uint64_t v)
{
    int n = 1;
    while (v >= 10)
        v /= 10, n++;
    return n;
}

static json_t *json_time(int64_t ms)
{
    char t[32];
    fmt_time(ms, t);
    return json_string_nocheck(t);
}

/* Strings built here are valid UTF-8 by construction; skip jansson's re-check. */
static void set(json_t *obj, const char *key, json_t *value)
{
    json_object_set_new_nocheck(obj, key, value);
}

static void set_str(json_t *obj, const char *key, const char *value)
{
    json_object_set_new_nocheck(obj, key, json_string_nocheck(value));
}

static json_t *json_money(int64_t kop)
{
    return json_real((double)kop / 100.0);
}

static json_t *json_u64(uint64_t v)
{
    char s[24];
    return json_stringn_nocheck(s, (size_t)(put_digits(s, v, n_digits(v)) - s));
}

static json_t *json_card(uint64_t card)
{
    char s[24];
    return json_stringn_nocheck(s, (size_t)(put_digits(s, card, 13) - s));
}

static json_t *json_phone(uint64_t phone)
{
    char s[24];
    s[0] = '+';
    return json_stringn_nocheck(s, (size_t)(put_digits(s + 1, phone, n_digits(phone)) - s));
}

/* Viber ids are 24-character base64 strings; derive one from the phone. */
static json_t *json_viber(uint64_t phone)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct demo_rng r;
    demo_rng_seed(&r, phone ^ 0x5669626572ULL);
    char s[25];
    for (int i = 0; i < 22; i++)
        s[i] = b64[demo_rng_next(&r) >> 58];
    s[22] = '=';
    s[23] = '=';
    s[24] = '\0';
    return json_string_nocheck(s);
}

/* Write one JSON value as a line and release it. */
static int emit_json(struct demo_gen *g, json_t *j)
{
    size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(15);
    size_t n = json_dumpb(j, g->line, g->line_cap, flags);
    if (n > g->line_cap) {
        xgrow((void **)&g->line, &g->line_cap, n, 1);
        n = json_dumpb(j, g->line, g->line_cap, flags);
    }
    json_decref(j);
    if (n == 0)
        return -1;
    return g->emit(g->ctx, g->line, n);
}

/* ---- writing lines ------------------------------------------------------ */

static int emit_departments(struct demo_gen *g)
{
    for (int i = 0; i < demo_n_departments; i++) {
        int rc = emit_json(g, json_pack("{s:s,s:s,s:s}", "type", "department", "code",
                                        demo_departments[i].code, "name",
                                        demo_departments[i].name));
        if (rc)
            return rc;
    }
    return 0;
}

static int emit_stores(struct demo_gen *g)
{
    for (int i = 0; i < g->n_stores; i++) {
        const struct demo_store *s = &g->stores[i];
        const struct demo_region *reg = &demo_regions[s->seed->region];
        int rc = emit_json(g, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "store", "code",
                                        s->code, "name", s->name, "city", s->seed->city,
                                        "region", reg->name, "time_zone", reg->zone, "address",
                                        s->seed->address));
        if (rc)
            return rc;
    }
    return 0;
}

static int emit_customers(struct demo_gen *g)
{
    for (int i = 0; i < g->n_customers; i++) {
        const struct demo_customer *c = &g->customers[i];
        json_t *j = json_object();
        set_str(j, "type", "customer");
        set_str(j, "name", c->name);
        set(j, "phone", json_phone(c->phone));
        if (c->email)
            set_str(j, "email", c->email);
        if (c->card)
            set(j, "card", json_card(c->card));
        if (c->telegram)
            set(j, "telegram_id", json_u64(c->telegram));
        if (c->vk)
            set(j, "vk_id", json_u64(c->vk));
        if (c->has_viber)
            set(j, "viber_id", json_viber(c->phone));
        if (c->has_whatsapp)
            set(j, "whatsapp_id", json_u64(c->phone));
        set_str(j, "tier", tier_names[c->tier]);
        set(j, "created_at", json_time(c->created_ms));
        int rc = emit_json(g, j);
        if (rc)
            return rc;
    }
    return 0;
}

static void order_id(int i, char out[24])
{
    snprintf(out, 24, "ORD-%d", 1000001 + i);
}

static void receipt_id(int i, char out[24])
{
    snprintf(out, 24, "RCPT-%08d", i + 1);
}

static int emit_orders(struct demo_gen *g)
{
    for (int i = 0; i < g->n_orders; i++) {
        const struct demo_order *o = &g->orders[i];
        char id[24];
        order_id(i, id);
        json_t *hist = json_array();
        for (int s = 0; s < o->n_steps; s++) {
            json_t *step = json_object();
            set_str(step, "status", order_status_names[o->step_status[s]]);
            set(step, "at", json_time(o->step_ms[s]));
            json_array_append_new(hist, step);
        }
        json_t *who = json_object();
        set(who, "phone", json_phone(g->customers[o->customer].phone));
        json_t *j = json_object();
        set_str(j, "type", "order");
        set_str(j, "id", id);
        set(j, "customer", who);
        set_str(j, "store", g->stores[o->store].code);
        set_str(j, "status", order_status_names[o->step_status[o->n_steps - 1]]);
        set(j, "total", json_money(o->total_kop));
        set(j, "created_at", json_time(o->created_ms));
        set(j, "promised_at", json_time(o->promised_ms));
        set(j, "history", hist);
        int rc = emit_json(g, j);
        if (rc)
            return rc;
    }
    return 0;
}

static int emit_purchases(struct demo_gen *g)
{
    for (int i = 0; i < g->n_purchases; i++) {
        const struct demo_purchase *p = &g->purchases[i];
        char id[24];
        receipt_id(i, id);
        json_t *who = json_object();
        set(who, "card", json_card(g->customers[p->customer].card));
        json_t *j = json_object();
        set_str(j, "type", "purchase");
        set_str(j, "id", id);
        set(j, "customer", who);
        set_str(j, "store", g->stores[p->store].code);
        set(j, "total", json_money(p->total_kop));
        set(j, "items", json_integer(p->items));
        set(j, "at", json_time(p->at_ms));
        int rc = emit_json(g, j);
        if (rc)
            return rc;
    }
    return 0;
}

static int emit_bonus(struct demo_gen *g)
{
    for (int i = 0; i < g->n_bonus; i++) {
        const struct demo_bonus *b = &g->bonus[i];
        json_t *who = json_object();
        set(who, "card", json_card(g->customers[b->customer].card));
        json_t *j = json_object();
        set_str(j, "type", "bonus");
        set(j, "customer", who);
        set(j, "amount", json_integer((json_int_t)b->amount));
        set_str(j, "reason", b->reason);
        char ref[24];
        if (b->ref_kind) {
            if (b->ref_kind == 1)
                receipt_id(b->ref, ref);
            else
                order_id(b->ref, ref);
            set_str(j, "ref", ref);
        }
        set(j, "at", json_time(b->at_ms));
        int rc = emit_json(g, j);
        if (rc)
            return rc;
    }
    return 0;
}

/* The identity a message through this channel really carries, plus the name. */
static json_t *request_customer(struct demo_gen *g, const struct demo_request *q)
{
    const struct demo_customer *c = &g->customers[q->customer];
    json_t *j = json_object();
    bool phone = false;
    switch (q->channel) {
    case CH_EMAIL:
        set_str(j, "email", c->email);
        break;
    case CH_WEB:
    case CH_REVIEW:
        if (c->email && demo_rng_chance(R(g), 0.7))
            set_str(j, "email", c->email);
        else
            phone = true;
        break;
    case CH_TELEGRAM:
        set(j, "telegram_id", json_u64(c->telegram));
        phone = demo_rng_chance(R(g), 0.2);
        break;
    case CH_VIBER:
        set(j, "viber_id", json_viber(c->phone));
        phone = demo_rng_chance(R(g), 0.3);
        break;
    case CH_VK:
    case CH_SOCIAL:
        set(j, "vk_id", json_u64(c->vk));
        break;
    case CH_WHATSAPP:
        set(j, "whatsapp_id", json_u64(c->phone));
        phone = demo_rng_chance(R(g), 0.5);
        break;
    case CH_APP:
        phone = true;
        set(j, "card", json_card(c->card));
        break;
    default:
        phone = true;
        break;
    }
    if (phone)
        set(j, "phone", json_phone(c->phone));
    set_str(j, "name", c->name);
    return j;
}

/* Log-uniform delay in [lo_ms, hi_ms]: many quick answers, a long tail. */
static int64_t delay(struct demo_gen *g, int64_t lo_ms, int64_t hi_ms)
{
    double x = log((double)lo_ms) + demo_rng_unit(R(g)) * (log((double)hi_ms) - log((double)lo_ms));
    return (int64_t)exp(x);
}

static int64_t response_delay(struct demo_gen *g, enum demo_channel ch)
{
    switch (ch) {
    case CH_PHONE: return delay(g, MINUTE_MS, 8 * MINUTE_MS);
    case CH_CALLBACK: return delay(g, 10 * MINUTE_MS, 2 * HOUR_MS);
    case CH_CHAT: return delay(g, MINUTE_MS, 20 * MINUTE_MS);
    case CH_SMS: return delay(g, 10 * MINUTE_MS, 4 * HOUR_MS);
    case CH_WEB: case CH_EMAIL: case CH_REVIEW: return delay(g, 30 * MINUTE_MS, 20 * HOUR_MS);
    case CH_APP: return delay(g, 10 * MINUTE_MS, 6 * HOUR_MS);
    case CH_SOCIAL: return delay(g, 10 * MINUTE_MS, 4 * HOUR_MS);
    case CH_QR: return delay(g, 10 * MINUTE_MS, 2 * HOUR_MS);
    case CH_INTERNAL: return delay(g, 5 * MINUTE_MS, 90 * MINUTE_MS);
    default: return delay(g, 3 * MINUTE_MS, 90 * MINUTE_MS); /* messengers */
    }
}

static int64_t resolve_delay(struct demo_gen *g, const struct demo_request *q)
{
    if (demo_rng_chance(R(g), 0.04)) /* stuck: waits for a supplier, a part, the customer */
        return delay(g, 20 * DAY_MS, 80 * DAY_MS);
    switch (q->kind) {
    case KIND_GRATITUDE:
    case KIND_SUGGESTION:
    case KIND_QUESTION:
        return delay(g, MINUTE_MS, 4 * HOUR_MS);
    case KIND_SIGNAL:
        return delay(g, 5 * MINUTE_MS, 2 * HOUR_MS);
    default:
        break;
    }
    if (q->topic == TOPIC_DELIVERY || q->topic == TOPIC_RETURN_REFUND)
        return delay(g, 30 * MINUTE_MS, 7 * DAY_MS);
    return delay(g, 20 * MINUTE_MS, 4 * DAY_MS);
}

static const char *request_priority(struct demo_gen *g, const struct demo_request *q)
{
    struct demo_rng *r = R(g);
    static const char *const levels[] = {"low", "normal", "high", "urgent"};
    int w[4] = {5, 78, 15, 2};
    switch (q->kind) {
    case KIND_INCIDENT: w[0] = 0, w[1] = 0, w[2] = 40, w[3] = 60; break;
    case KIND_INTERNAL: w[0] = 0, w[1] = 55, w[2] = 40, w[3] = 5; break;
    case KIND_SIGNAL:
        if (q->topic == TOPIC_CHECKOUT_QUEUE)
            w[0] = 0, w[1] = 70, w[2] = 30, w[3] = 0;
        else
            w[0] = 20, w[1] = 80, w[2] = 0, w[3] = 0;
        break;
    case KIND_QUESTION: w[0] = 30, w[1] = 70, w[2] = 0, w[3] = 0; break;
    case KIND_GRATITUDE:
    case KIND_SUGGESTION: w[0] = 85, w[1] = 15, w[2] = 0, w[3] = 0; break;
    default:
        if (q->trend == TREND_DELIVERY_SPIKE)
            return "high";
        if (q->customer >= 0 && g->customers[q->customer].tier >= TIER_GOLD)
            w[2] += 50;
        if (q->topic == TOPIC_PRODUCT_QUALITY)
            w[2] += 20, w[3] += 3;
        break;
    }
    return levels[demo_rng_weighted(r, w, 4)];
}

static const char *request_sentiment(struct demo_gen *g, const struct demo_request *q)
{
    switch (q->kind) {
    case KIND_GRATITUDE: return "positive";
    case KIND_SUGGESTION: return demo_rng_chance(R(g), 0.3) ? "positive" : "neutral";
    case KIND_QUESTION: return "neutral";
    case KIND_INTERNAL: return demo_rng_chance(R(g), 0.4) ? "negative" : "neutral";
    default: return "negative";
    }
}

static bool english_channel(enum demo_channel ch)
{
    return ch == CH_WEB || ch == CH_EMAIL || ch == CH_CHAT || ch == CH_TELEGRAM ||
           ch == CH_APP || ch == CH_REVIEW || ch == CH_WHATSAPP;
}

static json_t *reply_json(const struct buf *text, int64_t at_ms)
{
    json_t *j = json_object();
    set(j, "text", json_stringn_nocheck(text->data, text->len));
    set(j, "at", json_time(at_ms));
    return j;
}

static int emit_request(struct demo_gen *g, const struct demo_request *q, int index, struct buf *subject,
                        struct buf *text, struct buf *reply)
{
    const struct demo_store *st = &g->stores[q->store];
    const struct demo_customer *c = q->customer >= 0 ? &g->customers[q->customer] : NULL;
    char oid[24], sid[32];
    if (q->order >= 0)
        order_id(q->order, oid);
    snprintf(sid, sizeof sid, "demo-req-%06d", index + 1);

    struct demo_text_ctx tc = {
        .topic = q->topic, .kind = q->kind, .channel = q->channel, .trend = q->trend,
        .is_female = c ? c->is_female : demo_rng_chance(R(g), 0.5),
        .is_english = q->trend == TREND_NONE && q->kind != KIND_INTERNAL &&
                      q->kind != KIND_SIGNAL && english_channel(q->channel) &&
                      demo_rng_chance(R(g), 0.06),
        .first_name = c ? (c->is_female ? demo_female_names : demo_male_names)[c->first] : NULL,
        .order_id = q->order >= 0 ? oid : NULL,
        .store_name = st->name, .store_address = st->seed->address, .city = st->seed->city,
        .local_hour = demo_local_hour(g, q->store, q->created_ms),
    };
    buf_reset(subject);
    buf_reset(text);
    demo_text_request(R(g), &tc, subject, text);

    json_t *j = json_object();
    set_str(j, "type", "request");
    set_str(j, "channel", demo_channel_names[q->channel]);
    set_str(j, "source_id", sid);
    if (c)
        set(j, "customer", request_customer(g, q));
    set_str(j, "store", st->code);
    if (q->order >= 0)
        set_str(j, "order", oid);
    set(j, "subject", json_stringn_nocheck(subject->data, subject->len));
    set(j, "text", json_stringn_nocheck(text->data, text->len));
    set_str(j, "kind", demo_kind_names[q->kind]);
    set(j, "created_at", json_time(q->created_ms));

    /* The life so far: first answer, solution, auto-close three days later. */
    int64_t now = g->now_ms;
    bool can_answer = c != NULL || q->kind == KIND_INTERNAL;
    int64_t first = can_answer ? q->created_ms + response_delay(g, q->channel) : q->created_ms;
    int64_t solved = first + resolve_delay(g, q);
    int64_t closed = solved + demo_rng_range(R(g), 24 * HOUR_MS, 96 * HOUR_MS);
    /* The last days' backlog: the queue has not caught up with everything yet. */
    int64_t age = now - q->created_ms;
    if (age < 3 * DAY_MS && demo_rng_chance(R(g), 0.45)) {
        solved = closed = now + DAY_MS;
        if (age < DAY_MS && demo_rng_chance(R(g), 0.5))
            first = solved;
    }
    const char *status;
    if (can_answer && now < first)
        status = demo_rng_chance(R(g), 0.7) ? "new" : "open";
    else if (now < solved) {
        static const char *const waiting[] = {"open", "pending", "on_hold"};
        static const int waiting_w[] = {45, 40, 15};
        if (can_answer)
            status = waiting[demo_rng_weighted(R(g), waiting_w, 3)];
        else
            status = age < DAY_MS && demo_rng_chance(R(g), 0.5) ? "new" : "open";
    } else if (now < closed)
        status = "solved";
    else
        status = "closed";
    set_str(j, "status", status);
    set_str(j, "priority", request_priority(g, q));
    set_str(j, "topic", demo_topic_names[q->topic]);
    set_str(j, "sentiment", request_sentiment(g, q));

    json_t *replies = json_array();
    bool answered = can_answer && first <= now;
    bool is_solved = solved <= now;
    if (answered) {
        buf_reset(reply);
        demo_text_reply(R(g), &tc, 0, reply);
        json_array_append_new(replies, reply_json(reply, first));
        bool has_news = q->kind == KIND_COMPLAINT || q->kind == KIND_INCIDENT ||
                        q->kind == KIND_INTERNAL;
        if (has_news && is_solved && solved - first > 30 * MINUTE_MS &&
            demo_rng_chance(R(g), 0.35)) {
            buf_reset(reply);
            demo_text_reply(R(g), &tc, 1, reply);
            json_array_append_new(replies, reply_json(reply, solved));
        }
    }
    set(j, "replies", replies);
    if (answered)
        set(j, "first_response_at", json_time(first));
    if (is_solved)
        set(j, "solved_at", json_time(solved));
    if (closed <= now)
        set(j, "closed_at", json_time(closed));
    return emit_json(g, j);
}

static int emit_requests(struct demo_gen *g)
{
    struct buf subject, text, reply;
    buf_init(&subject, 4096);
    buf_init(&text, 16384);
    buf_init(&reply, 16384);
    int rc = 0;
    for (int i = 0; i < g->n_requests && rc == 0; i++)
        rc = emit_request(g, &g->requests[i], i, &subject, &text, &reply);
    buf_free(&subject);
    buf_free(&text);
    buf_free(&reply);
    return rc;
}

/* ---- entry points ------------------------------------------------------- */

void demo_options_default(struct demo_options *o)
{
    o->seed = 1;
    o->now_ms = clock_now_ms();
    o->n_stores = 60;
    o->n_customers = 20000;
    o->n_requests = 50000;
}

static int at_least_1(int n)
{
    return n < 1 ? 1 : n;
}

void demo_planned_counts(const struct demo_options *o, int *n_orders, int *n_purchases)
{
    int n_customers = at_least_1(o->n_customers);
    *n_orders = at_least_1((int)((int64_t)n_customers * 3 / 5));
    *n_purchases = at_least_1(n_customers * 3 / 2);
}

int demo_generate(const struct demo_options *o,
                  int (*emit)(void *ctx, const char *line, size_t len), void *ctx)
{
    struct demo_gen g = {0};
    g.o = o;
    demo_rng_seed(&g.rng, o->seed);
    g.now_ms = o->now_ms;
    g.start_ms = o->now_ms - WINDOW_MS;
    g.n_stores = at_least_1(o->n_stores);
    g.n_customers = at_least_1(o->n_customers);
    g.n_requests = at_least_1(o->n_requests);
    demo_planned_counts(o, &g.n_orders, &g.n_purchases);
    g.emit = emit;
    g.ctx = ctx;
    g.line_cap = 8192;
    g.line = xmalloc(g.line_cap);

    /* The storylines: late deliveries for four days in one region a month ago,
     * and one store getting colder week by week. */
    g.spike_region = demo_store_seeds[g.n_stores > 3 ? 3 : 0].region;
    g.spike_from_ms = g.now_ms - 33 * DAY_MS;
    g.spike_to_ms = g.now_ms - 29 * DAY_MS;
    g.cold_store = g.n_stores > 4 ? 4 : g.n_stores - 1;

    demo_plan(&g);

    int rc = emit_departments(&g);
    if (!rc)
        rc = emit_stores(&g);
    if (!rc)
        rc = emit_customers(&g);
    if (!rc)
        rc = emit_orders(&g);
    if (!rc)
        rc = emit_purchases(&g);
    if (!rc)
        rc = emit_bonus(&g);
    if (!rc)
        rc = emit_requests(&g);

    for (int i = 0; i < g.n_customers; i++)
        free(g.customers[i].email);
    for (int ch = 0; ch < CH_COUNT; ch++)
        free(g.pool[ch]);
    free(g.card_pool);
    free(g.customers);
    free(g.stores);
    free(g.store_cum);
    free(g.orders);
    free(g.cust_order_start);
    free(g.cust_orders);
    free(g.purchases);
    free(g.bonus);
    free(g.requests);
    free(g.line);
    return rc;
}
