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

/* Append operator reply number nth (0: the first answer, 1: a follow-up). */
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

#endif
