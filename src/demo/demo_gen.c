/*
 * demo_gen.c - builds the demo chain and writes it as NDJSON lines.
 *
 * Everything is drawn from one xoshiro stream seeded by the options, in a
 * fixed order, so a seed always gives the same bytes.  Entities are generated
 * first (customers, orders, receipts, bonus ledger, request plans), sorted by
 * time, then written in dependency order through the caller's emit().  Texts
 * come from demo_texts.c; the fixed tables from demo_world.c.
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

#define MINUTE_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define WINDOW_MS (90 * DAY_MS)

enum tier { TIER_REGULAR, TIER_SILVER, TIER_GOLD, TIER_VIP };
static const char *const tier_names[] = {"regular", "silver", "gold", "vip"};

struct customer {
    char name[96];     /* "Анна Смирнова" */
    int first;         /* index into the first-name table of its gender */
    bool is_female;
    bool has_viber, has_whatsapp;
    enum tier tier;
    int home_store;
    uint64_t phone;    /* 79XXXXXXXXX */
    uint64_t card;     /* 13 digits, 0 when none */
    uint64_t telegram; /* 0 when none */
    uint64_t vk;       /* 0 when none */
    char *email;       /* heap, NULL when none */
    int64_t created_ms;
};

enum order_status {
    OS_CREATED, OS_CONFIRMED, OS_ASSEMBLING, OS_ITEM_NOT_FOUND, OS_READY, OS_SHIPPED,
    OS_DELAYED, OS_DELIVERED, OS_CANCELLED, OS_RETURNED
};
static const char *const order_status_names[] = {
    "created", "confirmed", "assembling", "item_not_found", "ready_for_pickup",
    "shipped", "delayed", "delivered", "cancelled", "returned",
};

#define MAX_STEPS 8

struct order {
    int customer, store;
    int64_t created_ms, promised_ms;
    int64_t total_kop;
    int n_steps;
    unsigned char step_status[MAX_STEPS];
    int64_t step_ms[MAX_STEPS];
    bool is_spike; /* created in the delivery-spike region and days */
};

struct purchase {
    int customer, store, items;
    int64_t at_ms, total_kop;
};

struct bonus {
    int customer;
    int64_t amount;    /* bonus points, negative for redemptions */
    const char *reason;
    int ref_kind;      /* 0 none, 1 purchase, 2 order */
    int ref;           /* index of the purchase or order */
    int64_t at_ms;
    int seq;           /* generation order, breaks ties */
};

struct request {
    enum demo_channel channel;
    enum demo_kind kind;
    enum demo_topic topic;
    enum demo_trend trend;
    int customer; /* -1: anonymous */
    int store;
    int order;    /* -1: none */
    int64_t created_ms;
    int seq;
};

struct store {
    char code[16];
    char name[160];
    const struct demo_store_seed *seed;
    int weight; /* relative traffic: hypermarkets draw more */
};

/* A set of non-zero 64-bit keys (open addressing); keeps ids unique. */
struct idset {
    uint64_t *keys;
    size_t cap; /* power of two */
};

struct gen {
    const struct demo_options *o;
    struct demo_rng rng;
    int64_t now_ms, start_ms;
    int n_stores, n_customers, n_requests, n_orders, n_purchases, n_bonus;
    struct store *stores;
    int *store_cum; /* cumulative store weights */
    struct customer *customers;
    struct order *orders;
    struct purchase *purchases;
    struct bonus *bonus;
    size_t bonus_cap;
    struct request *requests;
    /* customers with a given identity, for channel-true picks */
    int *pool[CH_COUNT];
    int n_pool[CH_COUNT];
    int *card_pool;
    int n_card_pool;
    /* orders per customer, ordered by time (CSR) */
    int *cust_order_start, *cust_orders;
    int spike_region, cold_store;
    int64_t spike_from_ms, spike_to_ms;
    /* output */
    int (*emit)(void *ctx, const char *line, size_t len);
    void *ctx;
    char *line;
    size_t line_cap;
};

/* ---- small helpers ------------------------------------------------------ */

static void idset_init(struct idset *s, size_t expected)
{
    s->cap = 64;
    while (s->cap < expected * 2)
        s->cap <<= 1;
    s->keys = xcalloc(s->cap, sizeof(uint64_t));
}

/* Add key (non-zero); false when it was there already. */
static bool idset_add(struct idset *s, uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ULL;
    size_t i = (size_t)(h >> 20) & (s->cap - 1);
    while (s->keys[i]) {
        if (s->keys[i] == key)
            return false;
        i = (i + 1) & (s->cap - 1);
    }
    s->keys[i] = key;
    return true;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ? h : 1;
}

static struct demo_rng *R(struct gen *g)
{
    return &g->rng;
}

static int64_t utc_offset_ms(const struct gen *g, int store)
{
    return (int64_t)demo_regions[g->stores[store].seed->region].utc_offset_h * HOUR_MS;
}

static int local_hour(const struct gen *g, int store, int64_t at_ms)
{
    int64_t local = at_ms + utc_offset_ms(g, store);
    return (int)((local % DAY_MS + DAY_MS) % DAY_MS / HOUR_MS);
}

/* Relative traffic by local hour: quiet nights, a lunch and an evening peak. */
static const int hour_weights[24] = {1, 1, 0, 0, 0, 1, 2, 4, 6, 8, 10, 11,
                                     11, 11, 10, 10, 10, 11, 12, 12, 10, 8, 5, 3};
/* Store-side traffic (signals, internal requests, receipts): opening hours. */
static const int open_hour_weights[24] = {0, 0, 0, 0, 0, 0, 0, 0, 4, 7, 9, 10,
                                          11, 11, 10, 10, 11, 12, 13, 12, 10, 7, 3, 0};

/*
 * A moment in [lo_ms, hi_ms) that looks like real traffic at the store:
 * weekdays busier than weekends, daytime busier than night, in the store's
 * own time zone.  Falls back to a uniform draw when the range is too narrow.
 */
static int64_t sample_time(struct gen *g, int store, int64_t lo_ms, int64_t hi_ms,
                           const int *hours)
{
    int64_t off = utc_offset_ms(g, store);
    int64_t d_lo = (lo_ms + off) / DAY_MS, d_hi = (hi_ms + off) / DAY_MS;
    for (int attempt = 0; attempt < 64; attempt++) {
        int64_t day = demo_rng_range(R(g), d_lo, d_hi);
        int weekday = (int)((day + 4) % 7); /* 0 = Sunday; 1970-01-01 was a Thursday */
        int keep = weekday == 0 ? 70 : weekday == 6 ? 80 : 100;
        if (demo_rng_below(R(g), 100) >= keep)
            continue;
        int hour = demo_rng_weighted(R(g), hours, 24);
        int64_t t = day * DAY_MS + hour * HOUR_MS + demo_rng_range(R(g), 0, HOUR_MS - 1) - off;
        if (t >= lo_ms && t < hi_ms)
            return t;
    }
    return demo_rng_range(R(g), lo_ms, hi_ms - 1);
}

static int random_store(struct gen *g)
{
    int x = demo_rng_below(R(g), g->store_cum[g->n_stores - 1]);
    int lo = 0, hi = g->n_stores - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (g->store_cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Standard normal draw (Box–Muller). */
static double normal(struct gen *g)
{
    double u1 = demo_rng_unit(R(g)), u2 = demo_rng_unit(R(g));
    if (u1 < 1e-12)
        u1 = 1e-12;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

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
static int emit_json(struct gen *g, json_t *j)
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

/* ---- stores and customers ---------------------------------------------- */

static void make_stores(struct gen *g)
{
    int counters[64] = {0};
    const char *prefixes[64];
    int n_prefixes = 0;
    g->stores = xcalloc((size_t)g->n_stores, sizeof *g->stores);
    g->store_cum = xcalloc((size_t)g->n_stores, sizeof(int));
    for (int i = 0; i < g->n_stores; i++) {
        struct store *s = &g->stores[i];
        s->seed = &demo_store_seeds[i % demo_n_store_seeds];
        int k = 0;
        while (k < n_prefixes && strcmp(prefixes[k], s->seed->prefix) != 0)
            k++;
        if (k == n_prefixes && n_prefixes < 64)
            prefixes[n_prefixes++] = s->seed->prefix;
        int number = ++counters[k < 64 ? k : 63];
        snprintf(s->code, sizeof s->code, "%s-%03d", s->seed->prefix, number);
        if (i < demo_n_store_seeds)
            snprintf(s->name, sizeof s->name, "%s", s->seed->name);
        else
            snprintf(s->name, sizeof s->name, "%s, зал %d", s->seed->name,
                     i / demo_n_store_seeds + 1);
        s->weight = strncmp(s->seed->name, "Гипер", strlen("Гипер")) == 0 ? 3
                    : strncmp(s->seed->name, "Супер", strlen("Супер")) == 0 ? 2 : 1;
        g->store_cum[i] = (i ? g->store_cum[i - 1] : 0) + s->weight;
    }
}

static void make_email(struct gen *g, struct customer *c, const char *first, const char *last,
                       struct idset *emails)
{
    static const char *const domains[] = {"example.ru", "example.com", "example.net",
                                          "example.org", "mail.example"};
    char f[48], l[64], local[128], addr[192];
    demo_translit(first, f, sizeof f);
    demo_translit(last, l, sizeof l);
    switch (demo_rng_below(R(g), 6)) {
    case 0: snprintf(local, sizeof local, "%s.%s", f, l); break;
    case 1: snprintf(local, sizeof local, "%s_%s", f, l); break;
    case 2: snprintf(local, sizeof local, "%c.%s", f[0], l); break;
    case 3: snprintf(local, sizeof local, "%s.%s", l, f); break;
    case 4: snprintf(local, sizeof local, "%s%s%d", f, l, (int)demo_rng_range(R(g), 70, 99) % 100); break;
    default: snprintf(local, sizeof local, "%s.%s%d", f, l, (int)demo_rng_range(R(g), 1975, 2006)); break;
    }
    const char *domain = domains[demo_rng_below(R(g), 5)];
    snprintf(addr, sizeof addr, "%s@%s", local, domain);
    for (int k = 2; !idset_add(emails, hash_str(addr)); k++)
        snprintf(addr, sizeof addr, "%s%d@%s", local, k, domain);
    c->email = xstrdup(addr);
}

static void make_customers(struct gen *g)
{
    struct idset phones, cards, ids, emails;
    size_t n = (size_t)g->n_customers;
    idset_init(&phones, n);
    idset_init(&cards, n);
    idset_init(&ids, 2 * n);
    idset_init(&emails, n);
    g->customers = xcalloc(n, sizeof *g->customers);
    for (int ch = 0; ch < CH_COUNT; ch++)
        g->pool[ch] = xmalloc(n * sizeof(int));
    g->card_pool = xmalloc(n * sizeof(int));

    static const int tier_w[] = {70, 18, 9, 3};
    for (int i = 0; i < g->n_customers; i++) {
        struct customer *c = &g->customers[i];
        bool everything = i == 0; /* customer 0 has every identity, so pools are never empty */
        c->is_female = demo_rng_chance(R(g), 0.56);
        const char *first, *last = demo_surnames[demo_rng_below(R(g), demo_n_surnames)];
        char last_f[64];
        if (c->is_female) {
            c->first = demo_rng_below(R(g), demo_n_female_names);
            first = demo_female_names[c->first];
            demo_surname_female(last, last_f, sizeof last_f);
            last = last_f;
        } else {
            c->first = demo_rng_below(R(g), demo_n_male_names);
            first = demo_male_names[c->first];
        }
        snprintf(c->name, sizeof c->name, "%s %s", first, last);
        do
            c->phone = 79000000000ULL + (uint64_t)demo_rng_range(R(g), 0, 999999999);
        while (!idset_add(&phones, c->phone));
        c->tier = (enum tier)demo_rng_weighted(R(g), tier_w, 4);
        c->home_store = random_store(g);
        c->created_ms = g->start_ms - demo_rng_range(R(g), DAY_MS, 4 * 365 * DAY_MS);

        if (everything || c->tier != TIER_REGULAR || demo_rng_chance(R(g), 0.8)) {
            do { /* EAN-13 style: 7700, eight digits, a check digit */
                uint64_t body = 770000000000ULL + (uint64_t)demo_rng_range(R(g), 0, 99999999);
                int sum = 0;
                uint64_t x = body;
                for (int d = 0; d < 12; d++, x /= 10)
                    sum += (int)(x % 10) * (d % 2 == 0 ? 3 : 1);
                c->card = body * 10 + (uint64_t)((10 - sum % 10) % 10);
            } while (!idset_add(&cards, c->card));
            g->card_pool[g->n_card_pool++] = i;
        }
        if (everything || demo_rng_chance(R(g), 0.4))
            make_email(g, c, first, last, &emails);
        if (everything || demo_rng_chance(R(g), 0.35)) {
            do
                c->telegram = (uint64_t)demo_rng_range(R(g), 100000000, 7999999999);
            while (!idset_add(&ids, c->telegram));
        }
        if (everything || demo_rng_chance(R(g), 0.15)) {
            do
                c->vk = (uint64_t)demo_rng_range(R(g), 1000000, 899999999) | (1ULL << 62);
            while (!idset_add(&ids, c->vk));
            c->vk &= ~(1ULL << 62);
        }
        c->has_viber = everything || demo_rng_chance(R(g), 0.15);
        c->has_whatsapp = everything || demo_rng_chance(R(g), 0.3);

        /* Pools: who can write through which channel with a matching identity. */
        for (int ch = 0; ch < CH_COUNT; ch++) {
            bool ok;
            switch (ch) {
            case CH_EMAIL: ok = c->email != NULL; break;
            case CH_TELEGRAM: ok = c->telegram != 0; break;
            case CH_VIBER: ok = c->has_viber; break;
            case CH_VK: case CH_SOCIAL: ok = c->vk != 0; break;
            case CH_WHATSAPP: ok = c->has_whatsapp; break;
            case CH_APP: ok = c->card != 0; break;
            default: ok = true; break;
            }
            if (ok)
                g->pool[ch][g->n_pool[ch]++] = i;
        }
    }
    free(phones.keys);
    free(cards.keys);
    free(ids.keys);
    free(emails.keys);
}

/* ---- orders, receipts, the bonus ledger -------------------------------- */

static int cmp_order(const void *a, const void *b)
{
    const struct order *x = a, *y = b;
    return x->created_ms < y->created_ms ? -1 : x->created_ms > y->created_ms;
}

static void push_step(struct order *o, enum order_status s, int64_t at_ms)
{
    if (o->n_steps > 0 && at_ms <= o->step_ms[o->n_steps - 1])
        at_ms = o->step_ms[o->n_steps - 1] + MINUTE_MS;
    o->step_status[o->n_steps] = (unsigned char)s;
    o->step_ms[o->n_steps] = at_ms;
    o->n_steps++;
}

/* The life of one order; steps after "now" are cut, so recent ones stay open. */
static void order_history(struct gen *g, struct order *o)
{
    struct demo_rng *r = R(g);
    int64_t t = o->created_ms;
    bool is_delivery = demo_rng_chance(r, 0.6);
    o->n_steps = 0;
    push_step(o, OS_CREATED, t);
    o->promised_ms = t + (is_delivery ? demo_rng_range(r, 8 * HOUR_MS, 48 * HOUR_MS)
                                      : demo_rng_range(r, 4 * HOUR_MS, 24 * HOUR_MS));
    o->promised_ms -= o->promised_ms % (30 * MINUTE_MS);
    push_step(o, OS_CONFIRMED, t += demo_rng_range(r, 2 * MINUTE_MS, 30 * MINUTE_MS));
    bool is_cancelled = demo_rng_chance(r, 0.06);
    if (is_cancelled && demo_rng_chance(r, 0.4)) {
        push_step(o, OS_CANCELLED, t + demo_rng_range(r, 5 * MINUTE_MS, 3 * HOUR_MS));
        goto cut;
    }
    push_step(o, OS_ASSEMBLING, t += demo_rng_range(r, 30 * MINUTE_MS, 4 * HOUR_MS));
    if (demo_rng_chance(r, 0.08))
        push_step(o, OS_ITEM_NOT_FOUND, t += demo_rng_range(r, 10 * MINUTE_MS, HOUR_MS));
    if (is_cancelled) {
        push_step(o, OS_CANCELLED, t + demo_rng_range(r, 5 * MINUTE_MS, 2 * HOUR_MS));
        goto cut;
    }
    if (is_delivery) {
        int64_t shipped = o->promised_ms - demo_rng_range(r, HOUR_MS, 4 * HOUR_MS);
        push_step(o, OS_SHIPPED, t = shipped > t ? shipped : t + 20 * MINUTE_MS);
        if (demo_rng_chance(r, o->is_spike ? 0.75 : 0.1)) {
            push_step(o, OS_DELAYED, t = o->promised_ms - demo_rng_range(r, 0, 30 * MINUTE_MS));
            push_step(o, OS_DELIVERED, t = o->promised_ms + demo_rng_range(r, 2 * HOUR_MS,
                                                                           o->is_spike ? 40 * HOUR_MS : 20 * HOUR_MS));
        } else {
            int64_t at = o->promised_ms - demo_rng_range(r, 0, 3 * HOUR_MS);
            push_step(o, OS_DELIVERED, t = at > t ? at : t + 30 * MINUTE_MS);
        }
    } else {
        int64_t ready = o->promised_ms - demo_rng_range(r, 0, 2 * HOUR_MS);
        push_step(o, OS_READY, t = ready > t ? ready : t + 20 * MINUTE_MS);
        push_step(o, OS_DELIVERED, t += demo_rng_range(r, 30 * MINUTE_MS, 48 * HOUR_MS));
    }
    if (demo_rng_chance(r, 0.03))
        push_step(o, OS_RETURNED, t + demo_rng_range(r, DAY_MS, 10 * DAY_MS));
cut:
    while (o->n_steps > 1 && o->step_ms[o->n_steps - 1] > g->now_ms - MINUTE_MS)
        o->n_steps--;
}

static void make_orders(struct gen *g)
{
    g->orders = xcalloc((size_t)g->n_orders, sizeof *g->orders);
    for (int i = 0; i < g->n_orders; i++) {
        struct order *o = &g->orders[i];
        o->customer = demo_rng_below(R(g), g->n_customers);
        o->store = demo_rng_chance(R(g), 0.9) ? g->customers[o->customer].home_store
                                              : random_store(g);
        o->created_ms = sample_time(g, o->store, g->start_ms, g->now_ms - 10 * MINUTE_MS,
                                    hour_weights);
        double kop = exp(7.4 + 0.6 * normal(g)) * 100.0;
        o->total_kop = kop < 50000 ? 50000 : kop > 3000000 ? 3000000 : (int64_t)kop;
    }
    /* Sort by time so ids grow with time; equal times keep generation order. */
    for (int i = 0; i < g->n_orders; i++)
        g->orders[i].created_ms = g->orders[i].created_ms * 64 + (i & 63);
    qsort(g->orders, (size_t)g->n_orders, sizeof *g->orders, cmp_order);
    for (int i = 0; i < g->n_orders; i++) {
        struct order *o = &g->orders[i];
        o->created_ms /= 64;
        int region = g->stores[o->store].seed->region;
        o->is_spike = region == g->spike_region && o->created_ms >= g->spike_from_ms - DAY_MS &&
                      o->created_ms < g->spike_to_ms;
        order_history(g, o);
    }
    /* Orders per customer, in time order. */
    g->cust_order_start = xcalloc((size_t)g->n_customers + 1, sizeof(int));
    g->cust_orders = xmalloc((size_t)g->n_orders * sizeof(int) + 1);
    for (int i = 0; i < g->n_orders; i++)
        g->cust_order_start[g->orders[i].customer + 1]++;
    for (int c = 0; c < g->n_customers; c++)
        g->cust_order_start[c + 1] += g->cust_order_start[c];
    int *fill = xcalloc((size_t)g->n_customers, sizeof(int));
    for (int i = 0; i < g->n_orders; i++) {
        int c = g->orders[i].customer;
        g->cust_orders[g->cust_order_start[c] + fill[c]++] = i;
    }
    free(fill);
}

/* The customer's latest order created in [at - 21 days, at - 1 hour], or -1. */
static int recent_order(const struct gen *g, int customer, int64_t at_ms)
{
    for (int k = g->cust_order_start[customer + 1] - 1; k >= g->cust_order_start[customer]; k--) {
        const struct order *o = &g->orders[g->cust_orders[k]];
        if (o->created_ms > at_ms - HOUR_MS)
            continue;
        return o->created_ms >= at_ms - 21 * DAY_MS ? g->cust_orders[k] : -1;
    }
    return -1;
}

static int cmp_purchase(const void *a, const void *b)
{
    const struct purchase *x = a, *y = b;
    return x->at_ms < y->at_ms ? -1 : x->at_ms > y->at_ms;
}

static void make_purchases(struct gen *g)
{
    g->purchases = xcalloc((size_t)g->n_purchases, sizeof *g->purchases);
    for (int i = 0; i < g->n_purchases; i++) {
        struct purchase *p = &g->purchases[i];
        p->customer = g->card_pool[demo_rng_below(R(g), g->n_card_pool)];
        p->store = demo_rng_chance(R(g), 0.8) ? g->customers[p->customer].home_store
                                              : random_store(g);
        p->at_ms = sample_time(g, p->store, g->start_ms, g->now_ms - 10 * MINUTE_MS,
                               open_hour_weights);
        p->at_ms = p->at_ms * 64 + (i & 63); /* a stable sort key, undone below */
        double kop = exp(6.2 + 0.8 * normal(g)) * 100.0;
        p->total_kop = kop < 3900 ? 3900 : kop > 2500000 ? 2500000 : (int64_t)kop;
        int items = (int)(p->total_kop / 18000) + (int)demo_rng_range(R(g), 0, 3);
        p->items = items < 1 ? 1 : items > 60 ? 60 : items;
    }
    qsort(g->purchases, (size_t)g->n_purchases, sizeof *g->purchases, cmp_purchase);
    for (int i = 0; i < g->n_purchases; i++)
        g->purchases[i].at_ms /= 64;
}

static void add_bonus(struct gen *g, int customer, int64_t amount, const char *reason,
                      int ref_kind, int ref, int64_t at_ms)
{
    xgrow((void **)&g->bonus, &g->bonus_cap, (size_t)g->n_bonus + 1, sizeof *g->bonus);
    g->bonus[g->n_bonus] = (struct bonus){customer, amount, reason, ref_kind, ref, at_ms,
                                          g->n_bonus};
    g->n_bonus++;
}

static int cmp_bonus(const void *a, const void *b)
{
    const struct bonus *x = a, *y = b;
    if (x->at_ms != y->at_ms)
        return x->at_ms < y->at_ms ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/*
 * The ledger: an accrual for every receipt (1-5 % by tier), redemptions that
 * never exceed the balance at that moment, compensations for late orders and
 * some goodwill.  Receipts are walked in time order, and everything else only
 * adds, so the running balance stays non-negative in time order.
 */
static void make_bonus(struct gen *g)
{
    int64_t *balance = xcalloc((size_t)g->n_customers, sizeof(int64_t));
    for (int i = 0; i < g->n_purchases; i++) {
        const struct purchase *p = &g->purchases[i];
        const struct customer *c = &g->customers[p->customer];
        int64_t rub = p->total_kop / 100;
        if (balance[p->customer] >= 200 && demo_rng_chance(R(g), 0.15)) {
            int64_t take = rub / 2;
            if (take > balance[p->customer])
                take = balance[p->customer];
            take -= take % 10;
            if (take > 0) {
                add_bonus(g, p->customer, -take, "redemption", 1, i, p->at_ms);
                balance[p->customer] -= take;
                rub -= take;
            }
        }
        int pct = c->tier == TIER_REGULAR ? (int)demo_rng_range(R(g), 1, 2) : (int)c->tier + 2;
        int64_t earn = rub * pct / 100;
        if (earn > 0) {
            add_bonus(g, p->customer, earn, "purchase", 1, i, p->at_ms + 1000);
            balance[p->customer] += earn;
        }
    }
    for (int i = 0; i < g->n_orders; i++) {
        const struct order *o = &g->orders[i];
        if (!g->customers[o->customer].card)
            continue;
        for (int s = 0; s < o->n_steps; s++) {
            if (o->step_status[s] != OS_DELAYED && o->step_status[s] != OS_ITEM_NOT_FOUND)
                continue;
            int64_t at = o->step_ms[s] + demo_rng_range(R(g), HOUR_MS, 24 * HOUR_MS);
            if (at < g->now_ms && demo_rng_chance(R(g), 0.4))
                add_bonus(g, o->customer, demo_rng_range(R(g), 2, 10) * 50, "compensation", 2,
                          i, at);
            break;
        }
    }
    int n_goodwill = g->n_customers / 60 + 1;
    for (int i = 0; i < n_goodwill; i++) {
        int c = g->card_pool[demo_rng_below(R(g), g->n_card_pool)];
        add_bonus(g, c, demo_rng_range(R(g), 5, 30) * 10, "goodwill", 0, 0,
                  demo_rng_range(R(g), g->start_ms, g->now_ms - HOUR_MS));
    }
    qsort(g->bonus, (size_t)g->n_bonus, sizeof *g->bonus, cmp_bonus);
    free(balance);
}

/* ---- request plans ------------------------------------------------------ */

/* Messengers and the phone carry most traffic; QR and social posts are rarer. */
static const int channel_weights[CH_COUNT] = {
    [CH_PHONE] = 16, [CH_CALLBACK] = 5, [CH_WEB] = 7, [CH_CHAT] = 8, [CH_EMAIL] = 6,
    [CH_TELEGRAM] = 15, [CH_VIBER] = 5, [CH_VK] = 5, [CH_WHATSAPP] = 12, [CH_SMS] = 2,
    [CH_QR] = 3, [CH_APP] = 8, [CH_REVIEW] = 4, [CH_SOCIAL] = 2, [CH_INTERNAL] = 2,
};

/* Kinds per channel: complaint, question, gratitude, suggestion, signal, incident, internal. */
static const int kind_default[KIND_COUNT] = {55, 25, 9, 5, 0, 2, 0};
static const int kind_sms[KIND_COUNT] = {45, 45, 10, 0, 0, 0, 0};
static const int kind_qr[KIND_COUNT] = {8, 0, 4, 3, 85, 0, 0};
static const int kind_review[KIND_COUNT] = {50, 0, 40, 10, 0, 0, 0};
static const int kind_social[KIND_COUNT] = {65, 10, 20, 0, 0, 5, 0};
static const int kind_internal[KIND_COUNT] = {0, 0, 0, 0, 0, 15, 85};

/* Topics per kind, in enum demo_topic order. */
static const int topic_complaint[TOPIC_COUNT] = {14, 14, 9, 9, 12, 6, 7, 8, 8, 6, 5, 0, 0, 2};
static const int topic_question[TOPIC_COUNT] = {0, 0, 12, 10, 14, 12, 22, 0, 0, 10, 8, 0, 0, 12};
static const int topic_signal[TOPIC_COUNT] = {40, 3, 5, 12, 0, 0, 0, 5, 35, 0, 0, 0, 0, 0};
static const int topic_incident[TOPIC_COUNT] = {0, 0, 0, 0, 0, 0, 0, 0, 45, 15, 40, 0, 0, 0};
static const int topic_internal[TOPIC_COUNT] = {0, 0, 0, 15, 0, 15, 0, 0, 12, 15, 35, 0, 0, 8};

static enum demo_kind draw_kind(struct gen *g, enum demo_channel ch)
{
    const int *w = ch == CH_SMS ? kind_sms : ch == CH_QR ? kind_qr : ch == CH_REVIEW ? kind_review
                   : ch == CH_SOCIAL ? kind_social : ch == CH_INTERNAL ? kind_internal
                                                                       : kind_default;
    return (enum demo_kind)demo_rng_weighted(R(g), w, KIND_COUNT);
}

static enum demo_topic draw_topic(struct gen *g, enum demo_kind kind, enum demo_channel ch)
{
    int w[TOPIC_COUNT];
    switch (kind) {
    case KIND_GRATITUDE: return TOPIC_GRATITUDE;
    case KIND_SUGGESTION: return TOPIC_SUGGESTION;
    case KIND_QUESTION: memcpy(w, topic_question, sizeof w); break;
    case KIND_SIGNAL: memcpy(w, topic_signal, sizeof w); break;
    case KIND_INCIDENT: memcpy(w, topic_incident, sizeof w); break;
    case KIND_INTERNAL: memcpy(w, topic_internal, sizeof w); break;
    default: memcpy(w, topic_complaint, sizeof w); break;
    }
    if (ch == CH_APP || ch == CH_WEB) {
        w[TOPIC_WEBSITE_APP] += kind == KIND_COMPLAINT || kind == KIND_QUESTION ? 10 : 0;
        w[TOPIC_DELIVERY] += kind == KIND_COMPLAINT || kind == KIND_QUESTION ? 8 : 0;
    }
    return (enum demo_topic)demo_rng_weighted(R(g), w, TOPIC_COUNT);
}

static int pick_customer(struct gen *g, enum demo_channel ch)
{
    return g->pool[ch][demo_rng_below(R(g), g->n_pool[ch])];
}

static int64_t request_time(struct gen *g, const struct request *q)
{
    bool at_store = q->channel == CH_QR || q->channel == CH_INTERNAL;
    return sample_time(g, q->store, g->start_ms, g->now_ms - 2 * MINUTE_MS,
                       at_store ? open_hour_weights : hour_weights);
}

/* An ordinary request: channel, kind, topic, then a customer and store that fit. */
static void plan_request(struct gen *g, struct request *q)
{
    q->channel = (enum demo_channel)demo_rng_weighted(R(g), channel_weights, CH_COUNT);
    q->kind = draw_kind(g, q->channel);
    q->topic = draw_topic(g, q->kind, q->channel);
    q->trend = TREND_NONE;
    q->order = -1;
    q->customer = -1;
    if (q->channel == CH_QR) {
        if (demo_rng_chance(R(g), 0.25))
            q->customer = pick_customer(g, CH_PHONE);
    } else if (q->channel == CH_INTERNAL) {
        /* Staff sometimes write on behalf of a customer they keep waiting. */
        if (q->topic == TOPIC_RETURN_REFUND && demo_rng_chance(R(g), 0.5))
            q->customer = pick_customer(g, CH_PHONE);
    } else {
        q->customer = pick_customer(g, q->channel);
    }
    bool near_home = q->customer >= 0 && demo_rng_chance(R(g), 0.85);
    q->store = near_home ? g->customers[q->customer].home_store : random_store(g);
    q->created_ms = request_time(g, q);

    if (q->topic == TOPIC_DELIVERY) {
        /* A delivery request needs an order: look for a customer with one. */
        for (int attempt = 0; q->customer >= 0 && attempt < 24; attempt++) {
            q->order = recent_order(g, q->customer, q->created_ms);
            if (q->order >= 0)
                break;
            q->customer = pick_customer(g, q->channel);
            q->store = g->customers[q->customer].home_store;
            q->created_ms = request_time(g, q);
        }
        if (q->order < 0)
            q->topic = q->kind == KIND_QUESTION ? TOPIC_LOYALTY : TOPIC_PRODUCT_QUALITY;
    } else if (q->customer >= 0 && (q->topic == TOPIC_RETURN_REFUND ||
                                    q->topic == TOPIC_OUT_OF_STOCK ||
                                    q->topic == TOPIC_PAYMENT)) {
        double p = q->topic == TOPIC_RETURN_REFUND ? 0.5 : 0.2;
        if (demo_rng_chance(R(g), p))
            q->order = recent_order(g, q->customer, q->created_ms);
    }
    if (q->order >= 0)
        q->store = g->orders[q->order].store;
}

/* One of the growing "холодно в магазине" requests at the cold store. */
static void plan_cold(struct gen *g, struct request *q)
{
    static const enum demo_channel chans[] = {CH_QR, CH_PHONE, CH_TELEGRAM, CH_WHATSAPP,
                                              CH_APP, CH_REVIEW, CH_CHAT, CH_INTERNAL};
    static const int w[] = {30, 15, 15, 10, 10, 8, 7, 5};
    q->channel = chans[demo_rng_weighted(R(g), w, 8)];
    q->kind = q->channel == CH_QR ? KIND_SIGNAL : q->channel == CH_INTERNAL ? KIND_INTERNAL
                                                                            : KIND_COMPLAINT;
    q->topic = TOPIC_STORE_CONDITION;
    q->trend = TREND_COLD_STORE;
    q->order = -1;
    q->customer = q->channel == CH_QR || q->channel == CH_INTERNAL ? -1
                                                                   : pick_customer(g, q->channel);
    q->store = g->cold_store;
    /* Density grows linearly over the last six weeks: more complaints each week. */
    int64_t span = 42 * DAY_MS;
    int64_t t0 = g->now_ms - span + (int64_t)(sqrt(demo_rng_unit(R(g))) * (double)span);
    int64_t lo = t0 - 12 * HOUR_MS, hi = t0 + 12 * HOUR_MS;
    if (lo < g->start_ms)
        lo = g->start_ms;
    if (hi > g->now_ms - 2 * MINUTE_MS)
        hi = g->now_ms - 2 * MINUTE_MS;
    q->created_ms = sample_time(g, q->store, lo, hi, open_hour_weights);
}

/* A late-delivery complaint about an order caught in the regional spike. */
static bool plan_spike(struct gen *g, struct request *q, const int *spike, int n_spike)
{
    if (n_spike == 0)
        return false;
    int oi = spike[demo_rng_below(R(g), n_spike)];
    const struct order *o = &g->orders[oi];
    const struct customer *c = &g->customers[o->customer];
    enum demo_channel opts[6];
    int n = 0;
    opts[n++] = CH_PHONE;
    opts[n++] = CH_CHAT;
    if (c->telegram)
        opts[n++] = CH_TELEGRAM;
    if (c->has_whatsapp)
        opts[n++] = CH_WHATSAPP;
    if (c->card)
        opts[n++] = CH_APP;
    opts[n++] = CH_CALLBACK;
    q->channel = opts[demo_rng_below(R(g), n)];
    q->kind = KIND_COMPLAINT;
    q->topic = TOPIC_DELIVERY;
    q->trend = TREND_DELIVERY_SPIKE;
    q->customer = o->customer;
    q->order = oi;
    q->store = o->store;
    q->created_ms = o->promised_ms + demo_rng_range(R(g), 30 * MINUTE_MS, 20 * HOUR_MS);
    if (q->created_ms > g->now_ms - 2 * MINUTE_MS)
        q->created_ms = g->now_ms - 2 * MINUTE_MS;
    if (q->created_ms <= o->created_ms)
        q->created_ms = o->created_ms + MINUTE_MS;
    return true;
}

static int cmp_request(const void *a, const void *b)
{
    const struct request *x = a, *y = b;
    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void make_requests(struct gen *g)
{
    g->requests = xcalloc((size_t)g->n_requests, sizeof *g->requests);
    int *spike = xmalloc((size_t)g->n_orders * sizeof(int) + 1);
    int n_spike = 0;
    for (int i = 0; i < g->n_orders; i++) {
        const struct order *o = &g->orders[i];
        for (int s = 0; o->is_spike && s < o->n_steps; s++)
            if (o->step_status[s] == OS_DELAYED) {
                spike[n_spike++] = i;
                break;
            }
    }
    int n_cold = g->n_requests * 6 / 1000, n_spike_req = g->n_requests * 12 / 1000;
    for (int i = 0; i < g->n_requests; i++) {
        struct request *q = &g->requests[i];
        if (i < n_cold)
            plan_cold(g, q);
        else if (i >= n_cold + n_spike_req || !plan_spike(g, q, spike, n_spike))
            plan_request(g, q);
        q->seq = i;
    }
    free(spike);
    qsort(g->requests, (size_t)g->n_requests, sizeof *g->requests, cmp_request);
}

/* ---- writing lines ------------------------------------------------------ */

static int emit_departments(struct gen *g)
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

static int emit_stores(struct gen *g)
{
    for (int i = 0; i < g->n_stores; i++) {
        const struct store *s = &g->stores[i];
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

static int emit_customers(struct gen *g)
{
    for (int i = 0; i < g->n_customers; i++) {
        const struct customer *c = &g->customers[i];
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

static int emit_orders(struct gen *g)
{
    for (int i = 0; i < g->n_orders; i++) {
        const struct order *o = &g->orders[i];
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

static int emit_purchases(struct gen *g)
{
    for (int i = 0; i < g->n_purchases; i++) {
        const struct purchase *p = &g->purchases[i];
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

static int emit_bonus(struct gen *g)
{
    for (int i = 0; i < g->n_bonus; i++) {
        const struct bonus *b = &g->bonus[i];
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
static json_t *request_customer(struct gen *g, const struct request *q)
{
    const struct customer *c = &g->customers[q->customer];
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
static int64_t delay(struct gen *g, int64_t lo_ms, int64_t hi_ms)
{
    double x = log((double)lo_ms) + demo_rng_unit(R(g)) * (log((double)hi_ms) - log((double)lo_ms));
    return (int64_t)exp(x);
}

static int64_t response_delay(struct gen *g, enum demo_channel ch)
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

static int64_t resolve_delay(struct gen *g, const struct request *q)
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

static const char *request_priority(struct gen *g, const struct request *q)
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

static const char *request_sentiment(struct gen *g, const struct request *q)
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

static int emit_request(struct gen *g, const struct request *q, int index, struct buf *subject,
                        struct buf *text, struct buf *reply)
{
    const struct store *st = &g->stores[q->store];
    const struct customer *c = q->customer >= 0 ? &g->customers[q->customer] : NULL;
    char oid[24], sid[32];
    if (q->order >= 0)
        order_id(q->order, oid);
    snprintf(sid, sizeof sid, "demo-req-%06d", index + 1);

    struct demo_text_ctx tc = {
        .topic = q->topic, .kind = q->kind, .channel = q->channel, .trend = q->trend,
        .is_female = c ? c->is_female : demo_rng_chance(R(g), 0.5),
        .is_english = q->trend == TREND_NONE && q->kind != KIND_INTERNAL &&
                      q->kind != KIND_SIGNAL && english_channel(q->channel) &&
                      demo_rng_chance(R(g), 0.045),
        .first_name = c ? (c->is_female ? demo_female_names : demo_male_names)[c->first] : NULL,
        .order_id = q->order >= 0 ? oid : NULL,
        .store_name = st->name, .store_address = st->seed->address, .city = st->seed->city,
        .local_hour = local_hour(g, q->store, q->created_ms),
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
    const char *status;
    if (can_answer && now < first)
        status = demo_rng_chance(R(g), 0.7) ? "new" : "open";
    else if (now < solved) {
        static const char *const waiting[] = {"open", "pending", "on_hold"};
        static const int waiting_w[] = {45, 40, 15};
        status = can_answer ? waiting[demo_rng_weighted(R(g), waiting_w, 3)]
                            : demo_rng_chance(R(g), 0.5) ? "new" : "open";
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

static int emit_requests(struct gen *g)
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
    *n_purchases = at_least_1(n_customers * 2);
}

int demo_generate(const struct demo_options *o,
                  int (*emit)(void *ctx, const char *line, size_t len), void *ctx)
{
    struct gen g = {0};
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

    make_stores(&g);
    make_customers(&g);
    make_orders(&g);
    make_purchases(&g);
    make_bonus(&g);
    make_requests(&g);

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
