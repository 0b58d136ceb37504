/*
 * demo_int.h - shared only inside src/demo: the PRNG, the enums of the
 * request vocabulary and the text composer used by demo_gen.c.
 * Nothing here is part of the public contract (see demo.h).
 */
#ifndef OTKLIK_DEMO_INT_H
#define OTKLIK_DEMO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "demo/demo.h"

/* xoshiro256** seeded through splitmix64: small, fast, and the same on every
 * platform, so one seed always gives the same data. */
struct demo_rng {
    uint64_t s[4];
};

void demo_rng_seed(struct demo_rng *r, uint64_t seed);
uint64_t demo_rng_next(struct demo_rng *r);
/* Uniform integer in [0, n); n > 0. */
int demo_rng_below(struct demo_rng *r, int n);
/* Uniform integer in [lo, hi] (inclusive). */
int64_t demo_rng_range(struct demo_rng *r, int64_t lo, int64_t hi);
/* Uniform double in [0, 1). */
double demo_rng_unit(struct demo_rng *r);
/* True with probability p. */
bool demo_rng_chance(struct demo_rng *r, double p);
/* Index in [0, n) drawn with the given non-negative integer weights. */
int demo_rng_weighted(struct demo_rng *r, const int *weights, int n);

enum demo_channel {
    CH_PHONE, CH_CALLBACK, CH_WEB, CH_CHAT, CH_EMAIL, CH_TELEGRAM, CH_VIBER, CH_VK,
    CH_WHATSAPP, CH_SMS, CH_QR, CH_APP, CH_REVIEW, CH_SOCIAL, CH_INTERNAL, CH_COUNT
};

enum demo_kind {
    KIND_COMPLAINT, KIND_QUESTION, KIND_GRATITUDE, KIND_SUGGESTION, KIND_SIGNAL,
    KIND_INCIDENT, KIND_INTERNAL, KIND_COUNT
};

enum demo_topic {
    TOPIC_CHECKOUT_QUEUE, TOPIC_PRODUCT_QUALITY, TOPIC_PRICE, TOPIC_OUT_OF_STOCK,
    TOPIC_DELIVERY, TOPIC_RETURN_REFUND, TOPIC_LOYALTY, TOPIC_STAFF, TOPIC_STORE_CONDITION,
    TOPIC_WEBSITE_APP, TOPIC_PAYMENT, TOPIC_GRATITUDE, TOPIC_SUGGESTION, TOPIC_OTHER,
    TOPIC_COUNT
};

/* Special storylines a request belongs to (they pick fixed wording). */
enum demo_trend {
    TREND_NONE,
    TREND_COLD_STORE,     /* "холодно в магазине", growing week by week */
    TREND_DELIVERY_SPIKE, /* a few days of late deliveries in one region */
};

extern const char *const demo_channel_names[CH_COUNT];
extern const char *const demo_kind_names[KIND_COUNT];
extern const char *const demo_topic_names[TOPIC_COUNT];

/* What the composer needs to know about one request.  Strings are borrowed. */
struct demo_text_ctx {
    enum demo_topic topic;
    enum demo_kind kind;
    enum demo_channel channel;
    enum demo_trend trend;
    bool is_female;         /* the writer's grammatical gender */
    bool is_english;        /* write in English */
    const char *first_name; /* the customer's first name, NULL when anonymous */
    const char *order_id;   /* "ORD-1000001" or NULL */
    const char *store_name; /* "Гипермаркет на Ленинском" */
    const char *store_address;
    const char *city;
    int local_hour;         /* hour of creation in the store's time zone, 0..23 */
};

/* Append a subject line and a request text for *c to subject and text. */
void demo_text_request(struct demo_rng *r, const struct demo_text_ctx *c, struct buf *subject,
                       struct buf *text);

/* Append tmpl expanded (see demo_texts.c for the template syntax) to out. */
void demo_expand(struct demo_rng *r, const struct demo_text_ctx *c, struct buf *out,
                 const char *tmpl);

/* Append operator reply number nth (0: the first answer, 1: a follow-up);
 * demo_replies.c. */
void demo_text_reply(struct demo_rng *r, const struct demo_text_ctx *c, int nth, struct buf *out);

/* ---- the fixed world: regions, stores, departments, names (demo_world.c) */

struct demo_region {
    const char *name;  /* "Урал" */
    const char *zone;  /* IANA time zone, "Asia/Yekaterinburg" */
    int utc_offset_h;  /* Russia keeps no summer time since 2014 */
};

struct demo_store_seed {
    const char *prefix; /* code prefix, "EKB" */
    const char *city;
    int region;         /* index into demo_regions */
    const char *name;
    const char *address;
};

struct demo_department {
    const char *code, *name;
};

extern const struct demo_region demo_regions[];
extern const int demo_n_regions;
extern const struct demo_store_seed demo_store_seeds[];
extern const int demo_n_store_seeds;
extern const struct demo_department demo_departments[];
extern const int demo_n_departments;

extern const char *const demo_male_names[];
extern const int demo_n_male_names;
extern const char *const demo_female_names[];
extern const int demo_n_female_names;
extern const char *const demo_surnames[]; /* masculine forms */
extern const int demo_n_surnames;

/* Write the feminine form of a masculine surname (Смирнов → Смирнова,
 * Чайковский → Чайковская, Черных → Черных) into out (cap bytes). */
void demo_surname_female(const char *male, char *out, size_t cap);

/* Lower-case Latin transliteration of a Cyrillic name for e-mail addresses
 * ("Щукина" → "shchukina"); other bytes are dropped.  Returns the length. */
size_t demo_translit(const char *s, char *out, size_t cap);

/* ---- the generator's state, shared by demo_plan.c and demo_gen.c -------- */

#define MINUTE_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define WINDOW_MS (90 * DAY_MS)

enum tier { TIER_REGULAR, TIER_SILVER, TIER_GOLD, TIER_VIP };

struct demo_customer {
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

#define MAX_STEPS 8

struct demo_order {
    int customer, store;
    int64_t created_ms, promised_ms;
    int64_t total_kop;
    int n_steps;
    unsigned char step_status[MAX_STEPS];
    int64_t step_ms[MAX_STEPS];
    bool is_spike; /* created in the delivery-spike region and days */
};

struct demo_purchase {
    int customer, store, items;
    int64_t at_ms, total_kop;
};

struct demo_bonus {
    int customer;
    int64_t amount;    /* bonus points, negative for redemptions */
    const char *reason;
    int ref_kind;      /* 0 none, 1 purchase, 2 order */
    int ref;           /* index of the purchase or order */
    int64_t at_ms;
    int seq;           /* generation order, breaks ties */
};

struct demo_request {
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

struct demo_store {
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

struct demo_gen {
    const struct demo_options *o;
    struct demo_rng rng;
    int64_t now_ms, start_ms;
    int n_stores, n_customers, n_requests, n_orders, n_purchases, n_bonus;
    struct demo_store *stores;
    int *store_cum; /* cumulative store weights */
    struct demo_customer *customers;
    struct demo_order *orders;
    struct demo_purchase *purchases;
    struct demo_bonus *bonus;
    size_t bonus_cap;
    struct demo_request *requests;
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

static inline struct demo_rng *R(struct demo_gen *g)
{
    return &g->rng;
}

/* Hour of the day (0..23) at_ms falls on in the store's time zone. */
int demo_local_hour(const struct demo_gen *g, int store, int64_t at_ms);

/* Draw the whole chain into *g: stores, customers, orders (by time), receipts,
 * the bonus ledger and the request plans (by time).  Needs g->o, rng, now_ms,
 * start_ms, the n_* counts and the storyline fields set; the arrays it
 * allocates are freed by demo_generate(). */
void demo_plan(struct demo_gen *g);

#endif
