/*
 * analytics_int.h - shared only inside src/analytics: the rollup measures
 * and keys, a small open-addressing hash map of 64-bit keys to measure
 * vectors, survey kinds and reasons, and the part's state.
 */
#ifndef OTKLIK_ANALYTICS_INT_H
#define OTKLIK_ANALYTICS_INT_H

#include "analytics/analytics.h"
#include "store/store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAY_MS INT64_C(86400000)

/* The measures every request rollup table holds, in column order. */
enum measure {
    M_CREATED,     /* requests created that day */
    M_NEGATIVE,    /* of them, by sentiment */
    M_NEUTRAL,
    M_POSITIVE,
    M_RESPONDED,   /* with a first response */
    M_FRT_SUM_S,   /* sum of first response times, seconds */
    M_FRT_24H,     /* first response within 24 hours */
    M_SOLVED,      /* solved (or closed after a solve) */
    M_SOLVE_SUM_S, /* sum of times to solve, seconds */
    M_SOLVED_1D,   /* solved within one day */
    M_FCR,         /* solved with at most one reply and never reopened */
    N_MEASURES
};

/* Rollup tables of requests (rollup.c keeps their SQL in the same order). */
enum grain { G_REQ, G_STORE, G_CHAN, G_TOPIC, G_OPERATOR, N_GRAINS };

/* A request's contribution to the rollups (kept in an_facts). */
struct fact {
    int64_t day;         /* UTC day of creation */
    int64_t store_id;    /* 0: none */
    int channel, topic, kind, sentiment; /* vocabulary indices; -1: none */
    int64_t operator_id; /* assignee, 0: none */
    int64_t responded, frt_s, solved, solve_s, fcr;
};

/*
 * Stored facts: FACT_BLOCK requests' facts a row of an_facts, request
 * id / FACT_BLOCK its key, each fact FACT_BYTES at (id % FACT_BLOCK) in the
 * blob (a block fills one 4 KiB page).  A row per fact made a rebuild write
 * 10 M rows; blocks are a 168th of that, and the consumer's facts of new
 * requests, whose ids follow one another, are a block or two a batch.
 *
 * A fact's 24 bytes: flags (present, responded, solved, first-contact
 * resolution), the four vocabulary indices + 1, the day (24 bits, two's
 * complement), then first response and solve times in seconds, store id and
 * operator id, 32 bits each, little-endian.  Times past 2^32 - 1 s (136
 * years) are kept as that; the rollup keys hold 16 bits of the day and 24
 * of the ids (rollup_key), fewer than stored here.
 */
#define FACT_BLOCK 168
#define FACT_BYTES 24
#define FACT_BLOCK_BYTES (FACT_BLOCK * FACT_BYTES)
#define FACT_DAY_MIN (-(INT64_C(1) << 23))
#define FACT_DAY_MAX ((INT64_C(1) << 23) - 1)

/* Bring f's day, times and ids into what a stored fact holds (above), where
 * the fact is made: the incremental consumer and the rebuild add and
 * subtract the very values stored. */
void fact_clamp(struct fact *f);
/* Encode f at out (FACT_BYTES); decode one, false when the slot holds no fact. */
void fact_encode(const struct fact *f, unsigned char *out);
bool fact_decode(const unsigned char *in, struct fact *f);

/* Key packing: store 24 bits, day 16 bits, then the grain's dimensions (24 bits). */
uint64_t rollup_key(enum grain g, const struct fact *f);
/* Whether a row's measures hold anything (rows summing to zero are not written). */
static inline bool measures_any(const int64_t v[N_MEASURES])
{
    for (int k = 0; k < N_MEASURES; k++)
        if (v[k] != 0)
            return true;
    return false;
}

/* Add sign x the fact's measures into v. */
void fact_measures(const struct fact *f, int64_t sign, int64_t v[N_MEASURES]);

/* ---- hash map: uint64 key -> int64 vector of fixed width ------------------- */

struct kmap {
    uint64_t *keys;  /* 0 marks an empty slot: keys are stored + 1 */
    int64_t *vals;   /* width per slot */
    size_t cap, n;   /* slots (a power of two), used */
    int width;
};

void kmap_init(struct kmap *m, int width, size_t cap_hint);
void kmap_free(struct kmap *m);
/* The value vector of key (zeroed when new). */
int64_t *kmap_get(struct kmap *m, uint64_t key);
/* Start loading key's slot into the cache (a hint: a get soon after finds it there). */
void kmap_prefetch(const struct kmap *m, uint64_t key);
/* Iterate: for (size_t i = 0; i < m->cap; i++) if (m->keys[i]) key = m->keys[i] - 1. */

/* Add sign x f to every grain it belongs to, for its store and for the chain (store 0). */
void fact_add_all(struct kmap grains[N_GRAINS], const struct fact *f, int64_t sign);
/* The same for the grains whose bit (1 << g) is set in grain_mask. */
void fact_add_grains(struct kmap grains[N_GRAINS], const struct fact *f, int64_t sign,
                     unsigned grain_mask);


/* ---- surveys --------------------------------------------------------------- */

struct survey_kind_def {
    const char *kind; /* "nps" */
    int min, max;     /* score scale */
    int low_default;  /* scores <= this are "low" */
};
extern const struct survey_kind_def survey_kinds[]; /* terminated by kind NULL */
const struct survey_kind_def *survey_kind_find(const char *kind);

/* Reasons a customer may pick, the department that owns each, and its topic. */
struct survey_reason {
    const char *code, *department, *topic, *label_ru;
};
extern const struct survey_reason survey_reasons[]; /* terminated by code NULL */
int survey_reason_find(const char *code);           /* index or -1 */

/* The channel index of an_roll_survey's rows that sum every channel (stored as "*"). */
#define SURVEY_ALL_CHANNELS 30

/* Survey rollup measures (an_roll_survey), in column order. */
enum survey_measure { S_N, S_SUM, S_PROMOTERS, S_PASSIVES, S_DETRACTORS, S_SATISFIED, S_LOW, N_SMEASURES };

struct survey_answer_ev {
    int64_t day, store_id;
    int channel, kind, reason; /* indices; reason -1: none */
    int64_t score;
    bool is_low;
};
/* Parse the data of a survey.answered event; false when it is not one we roll up. */
bool survey_answer_from_event(const char *data, int64_t store_id, struct survey_answer_ev *out);
uint64_t survey_key(const struct survey_answer_ev *a);
uint64_t matrix_key(const struct survey_answer_ev *a);
void survey_measures(const struct survey_answer_ev *a, int64_t v[N_SMEASURES]);

/* For tests: the rebuild's job thread reads this many request rows before it shares the
 * rest with the helper (-1: as many as it reads before the helper has read the log). */
extern int rebuild_split_rows;
/* Tests: called between the transaction that makes the new tables and the
 * rebuild's job (NULL: nothing). */
extern void (*rebuild_before_job)(struct store *s);

/* Upsert the summed deltas of one grain (values N_MEASURES wide). */
int rollup_grain_write(struct db *db, enum grain g, struct kmap *m, struct err_info *err);

/* The used slots of m in the order of order_key(key), or of the keys when NULL; the
 * caller frees. */
typedef uint64_t (*kmap_order_fn)(uint64_t key);
struct key_pair {
    uint64_t key;
    size_t idx;
};
/* Sort pairs by key (a stable radix sort). */
void key_pairs_sort(struct key_pair *a, size_t n);
size_t *kmap_sorted_slots(const struct kmap *m, kmap_order_fn order_key);

/* Orders of the rollup tables' primary keys (text in byte order), for kmap_sorted_slots;
 * valid once rollup_order_fits() returned true (every vocabulary fits its key bits). */
bool rollup_order_fits(void);
extern const kmap_order_fn grain_order[N_GRAINS];
extern const kmap_order_fn survey_order, matrix_order;

/*
 * Rows of the rebuild's plain inserts into its new tables: "table (columns)"
 * for INSERT INTO, and the values of the row of a key in that column order
 * (the same values the upserts bind).  Text cells point to static strings.
 */
struct cell {
    const char *s; /* text, or NULL for the integer i */
    int64_t i;
};
#define MAX_CELLS (5 + N_MEASURES)
extern const char *const grain_insert_into[N_GRAINS];
extern const int grain_n_cells[N_GRAINS];
void grain_cells(enum grain g, uint64_t key, const int64_t v[N_MEASURES], struct cell *out);
extern const char survey_insert_into[], matrix_insert_into[];
void survey_cells(uint64_t key, const int64_t v[N_SMEASURES], struct cell *out);
bool matrix_cells(uint64_t key, const int64_t v[2], struct cell *out);

/* Add one answer to the survey (N_SMEASURES wide) and matrix (2 wide: n, n_low) maps,
 * for its store and for the chain (store 0). */
void survey_answer_add(struct kmap *surv, struct kmap *matrix, const struct survey_answer_ev *a);

/* Upsert summed survey deltas (used by the consumer and the rebuild). */
int survey_rollup_write(struct db *db, struct kmap *surv, struct kmap *matrix,
                        struct err_info *err);

/* The invitation token "<id>.<mac>" for id under secret (32 bytes) into out (>= 48 bytes). */
void survey_token_make(const unsigned char secret[32], int64_t id, char *out, size_t cap);
/* The id in a token whose mac checks, or 0. */
int64_t survey_token_check(const unsigned char secret[32], const char *token);
/* Load (creating when absent) the HMAC secret. */
int survey_secret_load(struct store *s, unsigned char out[32], struct err_info *err);

/* ---- trends: pure statistics (trends_stats.c) ------------------------------ */

/* P(X >= x) for X ~ Poisson(lambda). */
double poisson_upper_tail(int64_t x, double lambda);
/* Median of n values (copies; n > 0). */
double median_of(const double *v, size_t n);
/* Mann-Kendall S and its z score (with continuity correction, tie-corrected variance). */
void mann_kendall(const double *v, size_t n, double *out_s, double *out_z);
/*
 * Poisson log-linear fit of counts y[0..n) on t = 0..n-1 by IRLS:
 * *out_slope (per day, log scale), likelihood-ratio statistic against the
 * constant-rate model, and its chi-square(1) p-value.
 */
void poisson_trend(const double *y, size_t n, double *out_slope, double *out_lr, double *out_p);
/* Upper tail of chi-square with 1 degree of freedom. */
double chi2_1_upper(double x);

/* ---- the part's state ------------------------------------------------------ */

struct analytics {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t mu; /* one consumer step or rebuild at a time */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cond;
    bool is_stopping, is_running;
    unsigned char secret[32]; /* survey token HMAC key */
    char public_url[256];     /* config_public_url(), before the links sent */
};

/* Escape for HTML text and attribute values (& < > " '). */
struct buf;

/* CSV field with RFC 4180 quoting (quotes when it holds , " CR LF or starts with =+-@). */
void csv_field(struct buf *b, const char *s);

#endif
