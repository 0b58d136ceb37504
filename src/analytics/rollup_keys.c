/*
 * rollup_keys.c - the pieces the rollup consumer and the rebuild share:
 * packed rollup keys, a request fact's measures, the 64-bit hash map, and
 * the upserts of summed deltas into the rollup tables.
 */
#include "analytics/analytics_int.h"

#include "core/mem.h"
#include "store/model.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Vocabulary index -1 (none) is stored as 0, the rest shifted by one.  Keys sort like
 * the tables' primary keys: store (24 bits), day (16 bits), then 24 bits of dimensions. */
#define IDX(i) ((uint64_t)((i) + 1))
#define STOREBITS(s) (((uint64_t)(s) & 0xFFFFFFu) << 40)
#define DAYBITS(d) (((uint64_t)(d) & 0xFFFFu) << 24)
#define KEY_STORE(k) ((int64_t)((k) >> 40))
#define KEY_DAY(k) ((int64_t)(((k) >> 24) & 0xFFFFu))

/* Little-endian integers of n bytes, whatever the machine. */
static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A value in [lo, hi]. */
static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void fact_clamp(struct fact *f)
{
    f->day = clamp(f->day, FACT_DAY_MIN, FACT_DAY_MAX);
    f->frt_s = clamp(f->frt_s, 0, UINT32_MAX);
    f->solve_s = clamp(f->solve_s, 0, UINT32_MAX);
    f->store_id = clamp(f->store_id, 0, UINT32_MAX);
    f->operator_id = clamp(f->operator_id, 0, UINT32_MAX);
}

/* The layout is in analytics_int.h (FACT_BYTES); fact_clamp's values round-trip. */
void fact_encode(const struct fact *f, unsigned char *out)
{
    out[0] = (unsigned char)(1 | (f->responded ? 2 : 0) | (f->solved ? 4 : 0) | (f->fcr ? 8 : 0));
    const int vocab[4] = {f->channel, f->topic, f->kind, f->sentiment};
    for (int i = 0; i < 4; i++)
        out[1 + i] = (unsigned char)(vocab[i] + 1);
    put_le(out + 5, (uint64_t)clamp(f->day, FACT_DAY_MIN, FACT_DAY_MAX), 3);
    put_le(out + 8, (uint64_t)clamp(f->frt_s, 0, UINT32_MAX), 4);
    put_le(out + 12, (uint64_t)clamp(f->solve_s, 0, UINT32_MAX), 4);
    put_le(out + 16, (uint64_t)clamp(f->store_id, 0, UINT32_MAX), 4);
    put_le(out + 20, (uint64_t)clamp(f->operator_id, 0, UINT32_MAX), 4);
}

bool fact_decode(const unsigned char *in, struct fact *f)
{
    memset(f, 0, sizeof *f);
    if (!(in[0] & 1))
        return false;
    f->responded = (in[0] & 2) != 0;
    f->solved = (in[0] & 4) != 0;
    f->fcr = (in[0] & 8) != 0;
    f->channel = (int)in[1] - 1;
    f->topic = (int)in[2] - 1;
    f->kind = (int)in[3] - 1;
    f->sentiment = (int)in[4] - 1;
    int64_t day = (int64_t)get_le(in + 5, 3);
    f->day = day >= (INT64_C(1) << 23) ? day - (INT64_C(1) << 24) : day; /* 24-bit two's complement */
    f->frt_s = (int64_t)get_le(in + 8, 4);
    f->solve_s = (int64_t)get_le(in + 12, 4);
    f->store_id = (int64_t)get_le(in + 16, 4);
    f->operator_id = (int64_t)get_le(in + 20, 4);
    return true;
}

uint64_t rollup_key(enum grain g, const struct fact *f)
{
    uint64_t k = DAYBITS(f->day) | STOREBITS(f->store_id);
    switch (g) {
    case G_REQ:
        return k | IDX(f->channel) << 10 | IDX(f->topic) << 5 | IDX(f->kind);
    case G_STORE:
        return k;
    case G_CHAN:
        return k | IDX(f->channel);
    case G_TOPIC:
        return k | IDX(f->topic);
    case G_OPERATOR:
        return k | ((uint64_t)f->operator_id & 0xFFFFFFu);
    default:
        return k;
    }
}

void fact_measures(const struct fact *f, int64_t sign, int64_t v[N_MEASURES])
{
    v[M_CREATED] += sign;
    if (f->sentiment >= 0 && f->sentiment < 3)
        v[M_NEGATIVE + f->sentiment] += sign; /* model_sentiments: negative, neutral, positive */
    if (f->responded) {
        v[M_RESPONDED] += sign;
        v[M_FRT_SUM_S] += sign * f->frt_s;
        if (f->frt_s <= 86400)
            v[M_FRT_24H] += sign;
    }
    if (f->solved) {
        v[M_SOLVED] += sign;
        v[M_SOLVE_SUM_S] += sign * f->solve_s;
        if (f->solve_s <= 86400)
            v[M_SOLVED_1D] += sign;
        if (f->fcr)
            v[M_FCR] += sign;
    }
}

/* ---- the hash map ------------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

void kmap_init(struct kmap *m, int width, size_t cap_hint)
{
    size_t cap = 64;
    while (cap < cap_hint * 2)
        cap <<= 1;
    m->cap = cap;
    m->n = 0;
    m->width = width;
    m->keys = xcalloc(cap, sizeof *m->keys);
    m->vals = xcalloc(cap * (size_t)(width > 0 ? width : 1), sizeof *m->vals);
}

void kmap_free(struct kmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static void kmap_grow(struct kmap *m)
{
    struct kmap bigger;
    kmap_init(&bigger, m->width, m->cap);
    size_t w = (size_t)(m->width > 0 ? m->width : 1);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == 0)
            continue;
        int64_t *v = kmap_get(&bigger, m->keys[i] - 1);
        memcpy(v, m->vals + i * w, w * sizeof *v);
    }
    kmap_free(m);
    *m = bigger;
}

void kmap_prefetch(const struct kmap *m, uint64_t key)
{
    size_t i = mix(key) & (m->cap - 1), w = (size_t)(m->width > 0 ? m->width : 1);
    __builtin_prefetch(&m->keys[i]);
    __builtin_prefetch(m->vals + i * w);
    __builtin_prefetch(m->vals + i * w + w - 1);
}

int64_t *kmap_get(struct kmap *m, uint64_t key)
{
    if ((m->n + 1) * 4 > m->cap * 3)
        kmap_grow(m);
    size_t w = (size_t)(m->width > 0 ? m->width : 1);
    size_t mask = m->cap - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == key + 1)
            return m->vals + i * w;
        if (m->keys[i] == 0) {
            m->keys[i] = key + 1;
            m->n++;
            return m->vals + i * w;
        }
    }
}

/* ---- writing summed deltas ----------------------------------------------------- */

#define MCOLS                                                                                      \
    "n_created, n_negative, n_neutral, n_positive, n_responded, frt_sum_s, n_frt_24h, "            \
    "n_solved, solve_sum_s, n_solved_1d, n_fcr"
#define MSET                                                                                       \
    " DO UPDATE SET n_created = n_created + excluded.n_created, "                                  \
    "n_negative = n_negative + excluded.n_negative, n_neutral = n_neutral + excluded.n_neutral, " \
    "n_positive = n_positive + excluded.n_positive, "                                              \
    "n_responded = n_responded + excluded.n_responded, "                                           \
    "frt_sum_s = frt_sum_s + excluded.frt_sum_s, n_frt_24h = n_frt_24h + excluded.n_frt_24h, "    \
    "n_solved = n_solved + excluded.n_solved, solve_sum_s = solve_sum_s + excluded.solve_sum_s, " \
    "n_solved_1d = n_solved_1d + excluded.n_solved_1d, n_fcr = n_fcr + excluded.n_fcr"

/* Measures are bound as $10..$20 in every statement ($1..$5 are the dimensions). */
static const char *const grain_sql[N_GRAINS] = {
    "INSERT INTO an_roll_req (day, store_id, channel, topic, kind, " MCOLS ") VALUES "
    "($1, $2, $3, $4, $5, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) "
    "ON CONFLICT (day, store_id, channel, topic, kind)" MSET,
    "INSERT INTO an_roll_store (day, store_id, " MCOLS ") VALUES "
    "($1, $2, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) "
    "ON CONFLICT (day, store_id)" MSET,
    "INSERT INTO an_roll_chan (day, store_id, channel, " MCOLS ") VALUES "
    "($1, $2, $3, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) "
    "ON CONFLICT (day, store_id, channel)" MSET,
    "INSERT INTO an_roll_topic (day, store_id, topic, " MCOLS ") VALUES "
    "($1, $2, $4, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) "
    "ON CONFLICT (day, store_id, topic)" MSET,
    "INSERT INTO an_roll_operator (day, store_id, operator_id, " MCOLS ") VALUES "
    "($1, $2, $6, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) "
    "ON CONFLICT (day, operator_id, store_id)" MSET,
};

static const char *vocab(const char *const *list, uint64_t idx1)
{
    return idx1 == 0 ? "" : list[idx1 - 1];
}

/*
 * Sorting keys: an LSD radix sort of (key, index) pairs, a byte a pass,
 * skipping the bytes every key shares (the high store bits, mostly): a
 * rebuild sorts millions of keys, and a comparison sort through the slot
 * indices missed the cache on every comparison.  Stable.
 *
 * The used slots of a map are sorted in key order (store, then day: the
 * tables' primary key order), so that large writes walk the b-tree forward
 * instead of seeking at random.
 */
void key_pairs_sort(struct key_pair *a, size_t n)
{
    struct key_pair *b = xmalloc((n + 1) * sizeof *b), *in = a;
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(in[i].key >> shift) & 0xFF]++;
        if (n == 0 || count[(in[0].key >> shift) & 0xFF] == n)
            continue; /* every key has this byte: the order stays */
        size_t pos = 0;
        for (int d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = pos;
            pos += c;
        }
        struct key_pair *to = in == a ? b : a;
        for (size_t i = 0; i < n; i++)
            to[count[(in[i].key >> shift) & 0xFF]++] = in[i];
        in = to;
    }
    if (in != a)
        memcpy(a, in, n * sizeof *a);
    free(b);
}

size_t *kmap_sorted_slots(const struct kmap *m, kmap_order_fn order_key)
{
    struct key_pair *a = xmalloc((m->n + 1) * sizeof *a);
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            a[n++] = (struct key_pair){order_key ? order_key(m->keys[i] - 1) : m->keys[i] - 1, i};
    key_pairs_sort(a, n);
    size_t *order = xmalloc((n + 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = a[i].idx;
    free(a);
    return order;
}

int rollup_grain_write(struct db *db, enum grain g, struct kmap *m, struct err_info *err)
{
    size_t *order = kmap_sorted_slots(m, NULL);
    int rc = 0;
    for (size_t o = 0; o < m->n && rc == 0; o++) {
        size_t i = order[o];
        const int64_t *v = m->vals + i * N_MEASURES;
        if (!measures_any(v))
            continue;
        uint64_t key = m->keys[i] - 1;
        sqlite3_stmt *st = db_stmt(db, grain_sql[g]);
        db_bind_i64(st, 1, KEY_DAY(key));
        db_bind_i64(st, 2, KEY_STORE(key));
        if (g == G_REQ) {
            db_bind_text(st, 3, vocab(model_channels, (key >> 10) & 31), -1);
            db_bind_text(st, 4, vocab(model_topics, (key >> 5) & 31), -1);
            db_bind_text(st, 5, vocab(model_kinds, key & 31), -1);
        } else if (g == G_CHAN) {
            db_bind_text(st, 3, vocab(model_channels, key & 0xFFFFFFu), -1);
        } else if (g == G_TOPIC) {
            db_bind_text(st, 4, vocab(model_topics, key & 0xFFFFFFu), -1);
        } else if (g == G_OPERATOR) {
            db_bind_i64(st, 6, (int64_t)(key & 0xFFFFFFu));
        }
        for (int k = 0; k < N_MEASURES; k++)
            db_bind_i64(st, 10 + k, v[k]);
        rc = db_run(db, st, err);
    }
    free(order);
    return rc;
}

/* ---- the tables' primary key order ----------------------------------------------- */

/*
 * Packed keys hold vocabulary indices, the tables text: the primary key
 * order is the texts' byte order (BINARY), not the indices'.  The rebuild
 * sorts by keys whose vocabulary fields hold each text's rank instead, so
 * that every insert lands after the last row (SQLite then skips the seek).
 * A rank fits the index's bits: it is a position in the same list.
 */
static unsigned char rank_channel[32], rank_topic[32], rank_kind[32]; /* by IDX(i) */
static unsigned char rank_survey_channel[32], rank_survey_kind[8], rank_reason[64];

/* rank[k] for k < n: how many of texts sort before texts[k] (ties by position). */
static void rank_texts(const char *const *a, const char *const *b, int n, unsigned char *rank)
{
    for (int k = 0; k < n; k++) {
        int r = 0;
        for (int j = 0; j < n; j++) {
            int c = strcmp(a[j], a[k]);
            if (c == 0 && b)
                c = strcmp(b[j], b[k]);
            r += c < 0 || (c == 0 && j < k);
        }
        rank[k] = (unsigned char)r;
    }
}

/* Ranks of a vocabulary by IDX: "" (none, IDX 0) first. */
static void rank_vocab(const char *const *list, unsigned char rank[32])
{
    const char *t[32] = {""};
    int n = 1;
    while (n < 32 && list[n - 1] != NULL) {
        t[n] = list[n - 1];
        n++;
    }
    rank_texts(t, NULL, n, rank);
}

static void ranks_init(void)
{
    rank_vocab(model_channels, rank_channel);
    rank_vocab(model_topics, rank_topic);
    rank_vocab(model_kinds, rank_kind);
    /* an_roll_survey's channel: as vocab(), and "*" at IDX(SURVEY_ALL_CHANNELS) */
    const int all = SURVEY_ALL_CHANNELS + 1;
    const char *t[32];
    for (int i = 0; i < 32; i++)
        t[i] = i == all ? "*" : i == 0 ? "" : "\xff"; /* "\xff": no such channel */
    for (int i = 1; i < all && model_channels[i - 1]; i++)
        t[i] = model_channels[i - 1];
    rank_texts(t, NULL, 32, rank_survey_channel);
    const char *k[8];
    int n = 0;
    while (n < 8 && survey_kinds[n].kind) {
        k[n] = survey_kinds[n].kind;
        n++;
    }
    rank_texts(k, NULL, n, rank_survey_kind);
    /* an_roll_matrix: (department, reason) by IDX(reason); IDX 0 is no row */
    const char *dep[64] = {""}, *code[64] = {""};
    n = 1;
    while (n < 64 && survey_reasons[n - 1].code) {
        dep[n] = survey_reasons[n - 1].department;
        code[n] = survey_reasons[n - 1].code;
        n++;
    }
    rank_texts(dep, code, n, rank_reason);
}

static pthread_once_t ranks_once = PTHREAD_ONCE_INIT;

static uint64_t order_req(uint64_t k)
{
    return (k & ~(uint64_t)0x7FFF) | (uint64_t)rank_channel[(k >> 10) & 31] << 10 |
           (uint64_t)rank_topic[(k >> 5) & 31] << 5 | rank_kind[k & 31];
}
static uint64_t order_chan(uint64_t k)
{
    return (k & ~(uint64_t)0xFFFFFF) | rank_channel[k & 31];
}
static uint64_t order_topic(uint64_t k)
{
    return (k & ~(uint64_t)0xFFFFFF) | rank_topic[k & 31];
}
static uint64_t order_survey(uint64_t k)
{
    return (k & ~(uint64_t)0xFF) | (uint64_t)rank_survey_channel[(k >> 3) & 31] << 3 |
           rank_survey_kind[k & 7];
}
static uint64_t order_matrix(uint64_t k)
{
    return (k & ~(uint64_t)0xFFFFFF) | rank_reason[k & 63];
}

bool rollup_order_fits(void)
{
    pthread_once(&ranks_once, ranks_init);
    int n_ch = 0, n_top = 0, n_kind = 0, n_reason = 0, n_skind = 0;
    while (model_channels[n_ch])
        n_ch++;
    while (model_topics[n_top])
        n_top++;
    while (model_kinds[n_kind])
        n_kind++;
    while (survey_reasons[n_reason].code)
        n_reason++;
    while (survey_kinds[n_skind].kind)
        n_skind++;
    return n_ch < SURVEY_ALL_CHANNELS && n_top < 31 && n_kind < 31 && n_reason < 63 &&
           n_skind <= 8;
}

const kmap_order_fn grain_order[N_GRAINS] = {order_req, NULL, order_chan, order_topic, NULL};
const kmap_order_fn survey_order = order_survey, matrix_order = order_matrix;

/* ---- rows of the rebuild's inserts --------------------------------------------- */

const char *const grain_insert_into[N_GRAINS] = {
    "an_roll_req (day, store_id, channel, topic, kind, " MCOLS ")",
    "an_roll_store (day, store_id, " MCOLS ")",
    "an_roll_chan (day, store_id, channel, " MCOLS ")",
    "an_roll_topic (day, store_id, topic, " MCOLS ")",
    "an_roll_operator (day, store_id, operator_id, " MCOLS ")",
};
const int grain_n_cells[N_GRAINS] = {5 + N_MEASURES, 2 + N_MEASURES, 3 + N_MEASURES,
                                     3 + N_MEASURES, 3 + N_MEASURES};

/* The same values rollup_grain_write binds, in grain_insert_into's column order. */
void grain_cells(enum grain g, uint64_t key, const int64_t v[N_MEASURES], struct cell *out)
{
    int n = 0;
    out[n++] = (struct cell){NULL, KEY_DAY(key)};
    out[n++] = (struct cell){NULL, KEY_STORE(key)};
    if (g == G_REQ) {
        out[n++] = (struct cell){vocab(model_channels, (key >> 10) & 31), 0};
        out[n++] = (struct cell){vocab(model_topics, (key >> 5) & 31), 0};
        out[n++] = (struct cell){vocab(model_kinds, key & 31), 0};
    } else if (g == G_CHAN) {
        out[n++] = (struct cell){vocab(model_channels, key & 0xFFFFFFu), 0};
    } else if (g == G_TOPIC) {
        out[n++] = (struct cell){vocab(model_topics, key & 0xFFFFFFu), 0};
    } else if (g == G_OPERATOR) {
        out[n++] = (struct cell){NULL, (int64_t)(key & 0xFFFFFFu)};
    }
    for (int k = 0; k < N_MEASURES; k++)
        out[n++] = (struct cell){NULL, v[k]};
}

const char survey_insert_into[] = "an_roll_survey (day, store_id, channel, kind, n, score_sum, "
                                  "n_promoters, n_passives, n_detractors, n_satisfied, n_low)";
const char matrix_insert_into[] = "an_roll_matrix (day, store_id, department, reason, n, n_low)";

/* The values survey_rollup_write binds for an_roll_survey, in column order (4 + N_SMEASURES). */
void survey_cells(uint64_t key, const int64_t v[N_SMEASURES], struct cell *out)
{
    uint64_t ch1 = (key >> 3) & 31;
    out[0] = (struct cell){NULL, KEY_DAY(key)};
    out[1] = (struct cell){NULL, KEY_STORE(key)};
    out[2] = (struct cell){ch1 == IDX(SURVEY_ALL_CHANNELS) ? "*" : vocab(model_channels, ch1), 0};
    out[3] = (struct cell){survey_kinds[key & 7].kind, 0};
    for (int k = 0; k < N_SMEASURES; k++)
        out[4 + k] = (struct cell){NULL, v[k]};
}

/* The same for an_roll_matrix (6 cells); false for a key without a reason (not a row). */
bool matrix_cells(uint64_t key, const int64_t v[2], struct cell *out)
{
    uint64_t reason1 = key & 0xFFFFFFu;
    if (reason1 == 0)
        return false;
    const struct survey_reason *r = &survey_reasons[reason1 - 1];
    out[0] = (struct cell){NULL, KEY_DAY(key)};
    out[1] = (struct cell){NULL, KEY_STORE(key)};
    out[2] = (struct cell){r->department, 0};
    out[3] = (struct cell){r->code, 0};
    out[4] = (struct cell){NULL, v[0]};
    out[5] = (struct cell){NULL, v[1]};
    return true;
}

/* ---- survey answers ------------------------------------------------------------ */

/*
 * The fields survey_answer_from_event reads, from the compact JSON the
 * answers are stored as, without building a jansson tree (a rebuild reads
 * millions).  Only a flat object is taken here: no whitespace, strings of
 * printable ASCII without escapes (at most 63 bytes), integers of at most 18
 * digits without leading zeros, true, false or null, each key of interest
 * once.  Anything else returns false and is left to jansson, so the answer
 * is always jansson's.
 */
struct answer_fields {
    char kind[64], channel[64], reason[64]; /* "" with has_* false: absent or not a string */
    bool has_kind, has_channel, has_reason, has_score, has_at, is_low;
    int64_t score, at_ms;
    unsigned seen; /* keys met, to refuse duplicates */
};

static const char *scan_string(const char *p, const char **start, size_t *len)
{
    if (*p != '"')
        return NULL;
    *start = ++p;
    while (*p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\')
        p++;
    if (*p != '"' || (size_t)(p - *start) >= 64)
        return NULL;
    *len = (size_t)(p - *start);
    return p + 1;
}

static bool answer_fields_fast(const char *p, struct answer_fields *a)
{
    static const char *const names[] = {"kind", "channel", "reason", "score", "at_ms", "low"};
    memset(a, 0, sizeof *a);
    if (*p++ != '{')
        return false;
    if (*p == '}')
        return p[1] == '\0';
    for (;;) {
        const char *key, *str = NULL;
        size_t key_len, str_len = 0;
        if ((p = scan_string(p, &key, &key_len)) == NULL || *p++ != ':')
            return false;
        int64_t num = 0;
        bool is_num = false, is_true = false;
        if (*p == '"') {
            if ((p = scan_string(p, &str, &str_len)) == NULL)
                return false;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            bool neg = *p == '-';
            p += neg;
            const char *d = p;
            while (*p >= '0' && *p <= '9')
                num = num * 10 + (*p++ - '0');
            if (p == d || p - d > 18 || (*d == '0' && p - d > 1) || *p == '.' || *p == 'e' ||
                *p == 'E')
                return false;
            num = neg ? -num : num;
            is_num = true;
        } else if (strncmp(p, "true", 4) == 0) {
            p += 4;
            is_true = true;
        } else if (strncmp(p, "false", 5) == 0) {
            p += 5;
        } else if (strncmp(p, "null", 4) == 0) {
            p += 4;
        } else {
            return false; /* an array or an object: jansson's */
        }
        for (unsigned k = 0; k < sizeof names / sizeof names[0]; k++) {
            if (strlen(names[k]) != key_len || memcmp(names[k], key, key_len) != 0)
                continue;
            if (a->seen & (1u << k))
                return false; /* a duplicate: jansson keeps the last */
            a->seen |= 1u << k;
            char *to = k == 0 ? a->kind : k == 1 ? a->channel : k == 2 ? a->reason : NULL;
            if (to != NULL && str != NULL) {
                memcpy(to, str, str_len);
                to[str_len] = '\0';
                *(k == 0 ? &a->has_kind : k == 1 ? &a->has_channel : &a->has_reason) = true;
            } else if (k == 3) {
                a->has_score = is_num;
                a->score = num;
            } else if (k == 4) {
                a->has_at = is_num;
                a->at_ms = num;
            } else if (k == 5) {
                a->is_low = is_true;
            }
        }
        if (*p == '}')
            return p[1] == '\0';
        if (*p++ != ',')
            return false;
    }
}

/* survey_answer_from_event's rule on the fields of a fast parse. */
static bool answer_from_fields(const struct answer_fields *f, int64_t store_id,
                               struct survey_answer_ev *out)
{
    memset(out, 0, sizeof *out);
    int k = -1;
    for (int i = 0; f->has_kind && survey_kinds[i].kind; i++)
        if (strcmp(survey_kinds[i].kind, f->kind) == 0)
            k = i;
    bool ok = k >= 0 && f->has_score && f->has_at;
    if (ok) {
        out->kind = k;
        out->channel = f->has_channel ? model_find(model_channels, f->channel) : -1;
        out->reason = f->has_reason ? survey_reason_find(f->reason) : -1;
        out->score = f->score;
        out->day = f->at_ms / DAY_MS;
        out->store_id = store_id;
        out->is_low = f->is_low;
    }
    return ok;
}

bool survey_answer_from_event(const char *data, int64_t store_id, struct survey_answer_ev *out)
{
    struct answer_fields fast;
    if (data != NULL && answer_fields_fast(data, &fast))
        return answer_from_fields(&fast, store_id, out);
    json_t *d = json_loads(data, 0, NULL);
    if (d == NULL)
        return false;
    memset(out, 0, sizeof *out);
    const char *kind = json_string_value(json_object_get(d, "kind"));
    const char *channel = json_string_value(json_object_get(d, "channel"));
    const char *reason = json_string_value(json_object_get(d, "reason"));
    json_t *score = json_object_get(d, "score");
    json_t *at = json_object_get(d, "at_ms");
    int k = -1;
    for (int i = 0; kind && survey_kinds[i].kind; i++)
        if (strcmp(survey_kinds[i].kind, kind) == 0)
            k = i;
    bool ok = k >= 0 && json_is_integer(score) && json_is_integer(at);
    if (ok) {
        out->kind = k;
        out->channel = model_find(model_channels, channel);
        out->reason = reason ? survey_reason_find(reason) : -1;
        out->score = json_integer_value(score);
        out->day = json_integer_value(at) / DAY_MS;
        out->store_id = store_id;
        out->is_low = json_is_true(json_object_get(d, "low"));
    }
    json_decref(d);
    return ok;
}

uint64_t survey_key(const struct survey_answer_ev *a)
{
    return DAYBITS(a->day) | STOREBITS(a->store_id) | IDX(a->channel) << 3 | (uint64_t)a->kind;
}

uint64_t matrix_key(const struct survey_answer_ev *a)
{
    return DAYBITS(a->day) | STOREBITS(a->store_id) | IDX(a->reason);
}

void survey_measures(const struct survey_answer_ev *a, int64_t v[N_SMEASURES])
{
    const char *kind = survey_kinds[a->kind].kind;
    bool is_nps = strcmp(kind, "nps") == 0 || strcmp(kind, "enps") == 0;
    v[S_N] += 1;
    v[S_SUM] += a->score;
    if (is_nps) {
        v[a->score >= 9 ? S_PROMOTERS : a->score >= 7 ? S_PASSIVES : S_DETRACTORS] += 1;
    } else if (strcmp(kind, "csat") == 0 && a->score >= 4) {
        v[S_SATISFIED] += 1;
    }
    if (a->is_low)
        v[S_LOW] += 1;
}

int survey_rollup_write(struct db *db, struct kmap *surv, struct kmap *matrix,
                        struct err_info *err)
{
    size_t *order = kmap_sorted_slots(surv, NULL);
    for (size_t o = 0; o < surv->n; o++) {
        size_t i = order[o];
        uint64_t key = surv->keys[i] - 1;
        const int64_t *v = surv->vals + i * N_SMEASURES;
        sqlite3_stmt *st = db_stmt(
            db, "INSERT INTO an_roll_survey (day, store_id, channel, kind, n, score_sum, "
                "n_promoters, n_passives, n_detractors, n_satisfied, n_low) VALUES ($1, $2, $3, "
                "$4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (day, store_id, channel, kind) "
                "DO UPDATE SET n = n + excluded.n, score_sum = score_sum + excluded.score_sum, "
                "n_promoters = n_promoters + excluded.n_promoters, "
                "n_passives = n_passives + excluded.n_passives, "
                "n_detractors = n_detractors + excluded.n_detractors, "
                "n_satisfied = n_satisfied + excluded.n_satisfied, n_low = n_low + excluded.n_low");
        db_bind_i64(st, 1, KEY_DAY(key));
        db_bind_i64(st, 2, KEY_STORE(key));
        uint64_t ch1 = (key >> 3) & 31;
        db_bind_text(st, 3, ch1 == IDX(SURVEY_ALL_CHANNELS) ? "*" : vocab(model_channels, ch1), -1);
        db_bind_text(st, 4, survey_kinds[key & 7].kind, -1);
        for (int k = 0; k < N_SMEASURES; k++)
            db_bind_i64(st, 5 + k, v[k]);
        int rc = db_run(db, st, err);
        if (rc != 0) {
            free(order);
            return rc;
        }
    }
    free(order);
    for (size_t i = 0; i < matrix->cap; i++) {
        if (matrix->keys[i] == 0)
            continue;
        uint64_t key = matrix->keys[i] - 1;
        uint64_t reason1 = key & 0xFFFFFFu;
        if (reason1 == 0)
            continue;
        const int64_t *v = matrix->vals + i * 2;
        const struct survey_reason *r = &survey_reasons[reason1 - 1];
        sqlite3_stmt *st = db_stmt(
            db, "INSERT INTO an_roll_matrix (day, store_id, department, reason, n, n_low) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (day, store_id, department, reason) "
                "DO UPDATE SET n = n + excluded.n, n_low = n_low + excluded.n_low");
        db_bind_i64(st, 1, KEY_DAY(key));
        db_bind_i64(st, 2, KEY_STORE(key));
        db_bind_text(st, 3, r->department, -1);
        db_bind_text(st, 4, r->code, -1);
        db_bind_i64(st, 5, v[0]);
        db_bind_i64(st, 6, v[1]);
        int rc = db_run(db, st, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Add one answer to the survey and matrix maps. */
void survey_answer_add(struct kmap *surv, struct kmap *matrix, const struct survey_answer_ev *a)
{
    survey_measures(a, kmap_get(surv, survey_key(a)));
    struct survey_answer_ev all = *a; /* and the row of every channel together */
    all.channel = SURVEY_ALL_CHANNELS;
    survey_measures(&all, kmap_get(surv, survey_key(&all)));
    if (a->reason >= 0) {
        int64_t *v = kmap_get(matrix, matrix_key(a));
        v[0] += 1;
        v[1] += a->is_low ? 1 : 0;
    }
    if (a->store_id != 0) { /* and into the chain's rows */
        struct survey_answer_ev chain = *a;
        chain.store_id = 0;
        survey_answer_add(surv, matrix, &chain);
    }
}

void fact_add_all(struct kmap grains[N_GRAINS], const struct fact *f, int64_t sign)
{
    fact_add_grains(grains, f, sign, (1u << N_GRAINS) - 1);
}

void fact_add_grains(struct kmap grains[N_GRAINS], const struct fact *f, int64_t sign,
                     unsigned grain_mask)
{
    struct fact chain = *f;
    chain.store_id = 0;
    for (int pass = 0; pass < (f->store_id != 0 ? 2 : 1); pass++) {
        const struct fact *x = pass == 0 ? &chain : f;
        for (int g = 0; g < N_GRAINS; g++) {
            if (!(grain_mask & (1u << g)) || (g == G_OPERATOR && x->operator_id == 0))
                continue;
            fact_measures(x, sign, kmap_get(&grains[g], rollup_key((enum grain)g, x)));
        }
    }
}
