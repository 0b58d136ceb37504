/*
 * features.c - text → hashed features for the linear models.
 *
 * Each token gives a unit hash (the stem of a word, the shape of a number,
 * the text of an emoji or punctuation run, the kind of a URL/e-mail/phone);
 * features are the unit hashes, hashes of adjacent pairs (bigrams), and
 * character n-grams of each word framed by boundary marks, all reduced to
 * 2^hash_bits buckets.  Repeats are counted in a small per-thread table.
 */
#include "classify/classify_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u
#define MAX_NGRAM_WORD 40 /* longer words give no character n-grams */

/* Seeds keep the feature families apart in the hash space. */
enum {
    SEED_WORD = 0x57,
    SEED_NUMBER = 0x4e,
    SEED_SYMBOL = 0x53,
    SEED_KIND = 0x4b,
    SEED_BIGRAM = 0x42,
    SEED_CHAR = 0x43,
};

/* Spread every input bit over the low bits that pick a bucket (one multiply). */
static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

static uint32_t fnv_bytes(uint32_t seed, const char *s, size_t len)
{
    uint32_t h = FNV_OFFSET ^ (seed * FNV_PRIME);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= FNV_PRIME;
    }
    return fmix32(h);
}

/* ---- per-thread scratch ---------------------------------------------- */

static _Thread_local struct feat_scratch *tl_scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_destroy(void *p)
{
    struct feat_scratch *fs = p;
    if (!fs)
        return;
    text_tokens_free(&fs->tokens);
    free(fs->raw);
    free(fs->slots);
    free(fs->uniq);
    free(fs->count);
    free(fs->acc);
    free(fs->rowv);
    free(fs->scores);
    free(fs);
}

static void scratch_key_init(void)
{
    pthread_key_create(&scratch_key, scratch_destroy);
}

struct feat_scratch *feat_scratch_get(void)
{
    if (tl_scratch)
        return tl_scratch;
    pthread_once(&scratch_once, scratch_key_init);
    struct feat_scratch *fs = xcalloc(1, sizeof(*fs));
    text_tokens_init(&fs->tokens);
    pthread_setspecific(scratch_key, fs);
    tl_scratch = fs;
    return fs;
}

void feat_scratch_release(void)
{
    if (!tl_scratch)
        return;
    pthread_setspecific(scratch_key, NULL);
    scratch_destroy(tl_scratch);
    tl_scratch = NULL;
}

/* Callers reserve room first (feat_extract knows the most a text can give). */
static inline void add_raw(struct feat_scratch *fs, uint32_t h)
{
    fs->raw[fs->n_raw++] = h;
}

/* ---- extraction -------------------------------------------------------- */

/* The unit hash of token i: what its unigram feature and its bigrams are made of. */
static uint32_t unit_hash(const struct text_tokens *t, size_t i)
{
    const struct text_token *k = &t->tok[i];
    switch ((enum text_kind)k->kind) {
    case TEXT_WORD:
        return fnv_bytes(SEED_WORD, t->chars + k->stem_off, k->stem_len);
    case TEXT_NUMBER:
        /* Small numbers ("2 дня", "5 минут") say something; long ones are ids. */
        if (k->text_len <= 3)
            return fnv_bytes(SEED_NUMBER, t->chars + k->text_off, k->text_len);
        return fnv_bytes(SEED_NUMBER, "#", 1) + k->text_len;
    case TEXT_EMOJI:
    case TEXT_PUNCT:
        return fnv_bytes(SEED_SYMBOL, t->chars + k->text_off, k->text_len);
    case TEXT_URL:
    case TEXT_EMAIL:
    case TEXT_MENTION:
    case TEXT_PHONE:
        return fnv_bytes(SEED_KIND, (const char *)&k->kind, 1);
    }
    return 0;
}

/* Character n-grams of a word framed as <word>, sizes char_min..char_max. */
static void char_ngrams(const struct feature_config *fc, const struct text_tokens *t,
                        const struct text_token *k, struct feat_scratch *fs)
{
    uint32_t w[MAX_NGRAM_WORD + 2];
    size_t n = k->cp_len + 2;
    w[0] = 0x2;
    memcpy(w + 1, t->cps + k->cp_off, k->cp_len * sizeof(uint32_t));
    w[n - 1] = 0x3;
    for (size_t s = 0; s < n; s++) {
        uint32_t h = FNV_OFFSET ^ (SEED_CHAR * FNV_PRIME);
        for (size_t len = 1; len <= fc->char_max && s + len <= n; len++) {
            h = (h ^ w[s + len - 1]) * FNV_PRIME;
            if (len >= fc->char_min)
                add_raw(fs, fmix32(h));
        }
    }
}

static void dedupe(struct feat_scratch *fs, uint32_t mask)
{
    size_t need = 64;
    while (need < fs->n_raw * 2)
        need *= 2;
    if (need > fs->n_slots) {
        free(fs->slots);
        fs->slots = xcalloc(need, sizeof(struct dedupe_slot));
        fs->n_slots = need;
        fs->gen = 0;
    }
    /* A new generation empties the table without touching it. */
    if (++fs->gen == 0) {
        memset(fs->slots, 0, fs->n_slots * sizeof(struct dedupe_slot));
        fs->gen = 1;
    }
    if (fs->n_raw > fs->cap_uniq) {
        xgrow((void **)&fs->uniq, &fs->cap_uniq, fs->n_raw, sizeof(uint32_t));
        fs->count = xrealloc(fs->count, fs->cap_uniq * sizeof(float));
    }
    /* Use only as much of the table as this text needs: a long text seen
     * earlier must not spread short texts over a table larger than L1. */
    const size_t smask = need - 1;
    const uint32_t gen = fs->gen;
    struct dedupe_slot *slots = fs->slots;
    size_t n = 0;
    for (size_t i = 0; i < fs->n_raw; i++) {
        /* Buckets are hash values: their low bits make a good home slot. */
        uint32_t b = fs->raw[i] & mask;
        size_t s = b & smask;
        while (slots[s].gen == gen && slots[s].key != b)
            s = (s + 1) & smask;
        if (slots[s].gen == gen) {
            fs->count[slots[s].idx] += 1.0f;
        } else {
            slots[s] = (struct dedupe_slot){gen, b, (uint32_t)n};
            fs->uniq[n] = b;
            fs->count[n] = 1.0f;
            n++;
        }
    }
    fs->n_uniq = n;
}

void feat_extract(const struct feature_config *fc, const char *text, size_t len,
                  struct feat_scratch *fs)
{
    if (len > CLASSIFY_MAX_TEXT_BYTES)
        len = CLASSIFY_MAX_TEXT_BYTES;
    struct text_tokens *t = &fs->tokens;
    text_tokenize(text, len, TEXT_STEM, t);
    /* At most: a unigram and a bigram per token, and per code point of a
     * word (two boundary marks included) one n-gram of each size. */
    size_t most = 2 * t->n_tok + (t->n_cps + 2 * t->n_tok) * (fc->char_max + 1);
    if (most > fs->cap_raw)
        xgrow((void **)&fs->raw, &fs->cap_raw, most, sizeof(uint32_t));
    fs->n_raw = 0;
    uint32_t prev = 0;
    for (size_t i = 0; i < t->n_tok; i++) {
        uint32_t u = unit_hash(t, i);
        add_raw(fs, u);
        if (fc->word_ngrams >= 2 && i > 0)
            add_raw(fs, fmix32(prev * 0x9e3779b1u + u + SEED_BIGRAM));
        prev = u;
        const struct text_token *k = &t->tok[i];
        /* Words of one or two letters are their unigram already. */
        if (fc->char_min > 0 && k->kind == TEXT_WORD && k->cp_len > 2 &&
            k->cp_len <= MAX_NGRAM_WORD)
            char_ngrams(fc, t, k, fs);
    }
    dedupe(fs, (1u << fc->hash_bits) - 1);
}
