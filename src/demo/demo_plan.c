/*
 * demo_plan.c - draws the demo chain before anything is written: stores,
 * customers with unique identities, orders with their status history,
 * receipts, the bonus ledger, and the plan of every request (channel, kind,
 * topic, customer, store, order, time), including the two storylines.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "demo/demo_int.h"

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


static int64_t utc_offset_ms(const struct demo_gen *g, int store)
{
    return (int64_t)demo_regions[g->stores[store].seed->region].utc_offset_h * HOUR_MS;
}

int demo_local_hour(const struct demo_gen *g, int store, int64_t at_ms)
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
static int64_t sample_time(struct demo_gen *g, int store, int64_t lo_ms, int64_t hi_ms,
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

static int random_store(struct demo_gen *g)
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
static double normal(struct demo_gen *g)
{
    double u1 = demo_rng_unit(R(g)), u2 = demo_rng_unit(R(g));
    if (u1 < 1e-12)
        u1 = 1e-12;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- stores and customers ---------------------------------------------- */

static void make_stores(struct demo_gen *g)
{
    int counters[64] = {0};
    const char *prefixes[64];
    int n_prefixes = 0;
    g->stores = xcalloc((size_t)g->n_stores, sizeof *g->stores);
    g->store_cum = xcalloc((size_t)g->n_stores, sizeof(int));
    for (int i = 0; i < g->n_stores; i++) {
        struct demo_store *s = &g->stores[i];
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

static void make_email(struct demo_gen *g, struct demo_customer *c, const char *first, const char *last,
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

static void make_customers(struct demo_gen *g)
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
        struct demo_customer *c = &g->customers[i];
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
    const struct demo_order *x = a, *y = b;
    return x->created_ms < y->created_ms ? -1 : x->created_ms > y->created_ms;
}

static void push_step(struct demo_order *o, enum order_status s, int64_t at_ms)
{
    if (o->n_steps > 0 && at_ms <= o->step_ms[o->n_steps - 1])
        at_ms = o->step_ms[o->n_steps - 1] + MINUTE_MS;
    o->step_status[o->n_steps] = (unsigned char)s;
    o->step_ms[o->n_steps] = at_ms;
    o->n_steps++;
}

/* The life of one order; steps after "now" are cut, so recent ones stay open. */
static void order_history(struct demo_gen *g, struct demo_order *o)
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

static void make_orders(struct demo_gen *g)
{
    g->orders = xcalloc((size_t)g->n_orders, sizeof *g->orders);
    for (int i = 0; i < g->n_orders; i++) {
        struct demo_order *o = &g->orders[i];
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
        struct demo_order *o = &g->orders[i];
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
static int recent_order(const struct demo_gen *g, int customer, int64_t at_ms)
{
    for (int k = g->cust_order_start[customer + 1] - 1; k >= g->cust_order_start[customer]; k--) {
        const struct demo_order *o = &g->orders[g->cust_orders[k]];
        if (o->created_ms > at_ms - HOUR_MS)
            continue;
        return o->created_ms >= at_ms - 21 * DAY_MS ? g->cust_orders[k] : -1;
    }
    return -1;
}

static int cmp_purchase(const void *a, const void *b)
{
    const struct demo_purchase *x = a, *y = b;
    return x->at_ms < y->at_ms ? -1 : x->at_ms > y->at_ms;
}

static void make_purchases(struct demo_gen *g)
{
    g->purchases = xcalloc((size_t)g->n_purchases, sizeof *g->purchases);
    for (int i = 0; i < g->n_purchases; i++) {
        struct demo_purchase *p = &g->purchases[i];
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

static void add_bonus(struct demo_gen *g, int customer, int64_t amount, const char *reason,
                      int ref_kind, int ref, int64_t at_ms)
{
    xgrow((void **)&g->bonus, &g->bonus_cap, (size_t)g->n_bonus + 1, sizeof *g->bonus);
    g->bonus[g->n_bonus] = (struct demo_bonus){customer, amount, reason, ref_kind, ref, at_ms,
                                          g->n_bonus};
    g->n_bonus++;
}

static int cmp_bonus(const void *a, const void *b)
{
    const struct demo_bonus *x = a, *y = b;
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
struct demo_earning {
    int64_t at_ms;
    int customer, ref_kind, ref;
    int64_t total_kop;
};

static int cmp_earning(const void *a, const void *b)
{
    const struct demo_earning *x = a, *y = b;
    if (x->at_ms != y->at_ms)
        return x->at_ms < y->at_ms ? -1 : 1;
    if (x->ref_kind != y->ref_kind)
        return x->ref_kind - y->ref_kind;
    return x->ref - y->ref;
}

static void make_bonus(struct demo_gen *g)
{
    /* Receipts and delivered online orders of card holders, in time order. */
    struct demo_earning *earn = xmalloc(((size_t)g->n_purchases + (size_t)g->n_orders) * sizeof *earn);
    int n_earn = 0;
    for (int i = 0; i < g->n_purchases; i++) {
        const struct demo_purchase *p = &g->purchases[i];
        earn[n_earn++] = (struct demo_earning){p->at_ms, p->customer, 1, i, p->total_kop};
    }
    for (int i = 0; i < g->n_orders; i++) {
        const struct demo_order *o = &g->orders[i];
        if (g->customers[o->customer].card && o->step_status[o->n_steps - 1] == OS_DELIVERED)
            earn[n_earn++] = (struct demo_earning){o->step_ms[o->n_steps - 1], o->customer, 2, i,
                                              o->total_kop};
    }
    qsort(earn, (size_t)n_earn, sizeof *earn, cmp_earning);

    int64_t *balance = xcalloc((size_t)g->n_customers, sizeof(int64_t));
    for (int i = 0; i < n_earn; i++) {
        const struct demo_earning *e = &earn[i];
        const struct demo_customer *c = &g->customers[e->customer];
        int64_t rub = e->total_kop / 100;
        if (e->ref_kind == 1 && balance[e->customer] >= 100 && demo_rng_chance(R(g), 0.3)) {
            int64_t take = rub / 2;
            if (take > balance[e->customer])
                take = balance[e->customer];
            take -= take % 10;
            if (take > 0) {
                add_bonus(g, e->customer, -take, "redemption", 1, e->ref, e->at_ms);
                balance[e->customer] -= take;
                rub -= take;
            }
        }
        int pct = c->tier == TIER_REGULAR ? (int)demo_rng_range(R(g), 1, 2) : (int)c->tier + 2;
        int64_t points = rub * pct / 100;
        if (points > 0) {
            add_bonus(g, e->customer, points, "purchase", e->ref_kind, e->ref, e->at_ms + 1000);
            balance[e->customer] += points;
        }
    }
    free(earn);
    for (int i = 0; i < g->n_orders; i++) {
        const struct demo_order *o = &g->orders[i];
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

static enum demo_kind draw_kind(struct demo_gen *g, enum demo_channel ch)
{
    const int *w = ch == CH_SMS ? kind_sms : ch == CH_QR ? kind_qr : ch == CH_REVIEW ? kind_review
                   : ch == CH_SOCIAL ? kind_social : ch == CH_INTERNAL ? kind_internal
                                                                       : kind_default;
    return (enum demo_kind)demo_rng_weighted(R(g), w, KIND_COUNT);
}

static enum demo_topic draw_topic(struct demo_gen *g, enum demo_kind kind, enum demo_channel ch)
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

static int pick_customer(struct demo_gen *g, enum demo_channel ch)
{
    return g->pool[ch][demo_rng_below(R(g), g->n_pool[ch])];
}

static int64_t request_time(struct demo_gen *g, const struct demo_request *q)
{
    bool at_store = q->channel == CH_QR || q->channel == CH_INTERNAL;
    return sample_time(g, q->store, g->start_ms, g->now_ms - 2 * MINUTE_MS,
                       at_store ? open_hour_weights : hour_weights);
}

/* An ordinary request: channel, kind, topic, then a customer and store that fit. */
static void plan_request(struct demo_gen *g, struct demo_request *q)
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
static void plan_cold(struct demo_gen *g, struct demo_request *q)
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
static bool plan_spike(struct demo_gen *g, struct demo_request *q, const int *spike, int n_spike)
{
    if (n_spike == 0)
        return false;
    int oi = spike[demo_rng_below(R(g), n_spike)];
    const struct demo_order *o = &g->orders[oi];
    const struct demo_customer *c = &g->customers[o->customer];
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
    const struct demo_request *x = a, *y = b;
    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void make_requests(struct demo_gen *g)
{
    g->requests = xcalloc((size_t)g->n_requests, sizeof *g->requests);
    int *spike = xmalloc((size_t)g->n_orders * sizeof(int) + 1);
    int n_spike = 0;
    for (int i = 0; i < g->n_orders; i++) {
        const struct demo_order *o = &g->orders[i];
        for (int s = 0; o->is_spike && s < o->n_steps; s++)
            if (o->step_status[s] == OS_DELAYED) {
                spike[n_spike++] = i;
                break;
            }
    }
    /* The cold store's complaints: 0.6% of the requests, but at least 250 when the
     * demo has room for them, so a smaller demo still shows a clear six-week rise. */
    int n_cold = g->n_requests * 6 / 1000, n_spike_req = g->n_requests * 12 / 1000;
    int cold_floor = g->n_requests / 20 < 250 ? g->n_requests / 20 : 250;
    if (n_cold < cold_floor)
        n_cold = cold_floor;
    for (int i = 0; i < g->n_requests; i++) {
        struct demo_request *q = &g->requests[i];
        if (i < n_cold)
            plan_cold(g, q);
        else if (i >= n_cold + n_spike_req || !plan_spike(g, q, spike, n_spike))
            plan_request(g, q);
        q->seq = i;
    }
    free(spike);
    qsort(g->requests, (size_t)g->n_requests, sizeof *g->requests, cmp_request);
}

void demo_plan(struct demo_gen *g)
{
    make_stores(g);
    make_customers(g);
    make_orders(g);
    make_purchases(g);
    make_bonus(g);
    make_requests(g);
}
