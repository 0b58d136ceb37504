/*
 * urgency.c - the Eisenhower assessment of a request: is it urgent (bound
 * to time, safety or health), is it important (legal threat, public reach,
 * repeated contact, high-value customer), hence its quadrant and priority.
 *
 * Text signals are word patterns matched against normalised tokens (see
 * text.h); context signals come from the caller.  Every signal that fires
 * is listed by name so the request's events can explain the priority.
 */
#include "classify/classify_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum axis { URGENT, IMPORTANT };

/*
 * One text rule: a signal fires when any of its patterns matches.  A
 * pattern is one or more words separated by single spaces, matched against
 * consecutive word tokens; a word starting with '=' must match the token
 * exactly, any other word is a prefix of the token (at least 4 bytes long).
 */
struct text_rule {
    const char *signal;
    enum axis axis;
    int weight;
    const char *patterns[12];
};

static const struct text_rule rules[] = {
    {"urgent:explicit",
     URGENT,
     2,
     {"срочн", "немедлен", "=безотлагательно", "=asap", "urgent", "immediately", "=скорее",
      "=побыстрее"}},
    {"urgent:queue_now", URGENT, 1, {"очеред", "=queue", "=queues", "=касса =одна"}},
    {"urgent:now",
     URGENT,
     1,
     {"=прямо =сейчас", "=сейчас", "=right =now", "=в =данный =момент", "=до =сих =пор",
      "=уже =час", "=уже =полчаса", "=уже =40", "=уже =30"}},
    {"urgent:today", URGENT, 1, {"сегодн", "=today", "=tonight", "=до =вечера", "=к =вечеру"}},
    {"urgent:waiting",
     URGENT,
     1,
     {"=жду", "=ждем", "=ждём", "=не =привезли", "=не =доставили", "опаздыва", "=still =waiting",
      "=не =пришел", "=не =пришёл"}},
    {"urgent:safety",
     URGENT,
     3,
     {"пожар", "=дым", "задымл", "искрит", "=током", "скользк", "=упал", "=упала", "травм", "=fire",
      "smoke", "injur"}},
    {"urgent:safety",
     URGENT,
     3,
     {"=разбит стекл", "=разбитое =стекло", "осколк", "обрушил", "=запах =газа", "=gas =leak",
      "=slipped", "провод"}},
    {"urgent:health",
     URGENT,
     3,
     {"отрав", "аллерг", "=скорая", "=скорую", "=скорой", "тошнит", "=рвота", "госпитал",
      "=плохо =стало", "poison", "allerg", "hospital"}},
    {"urgent:health",
     URGENT,
     3,
     {"=стало =плохо", "=плохо =себя", "=в =больниц", "=к =врачу", "=felt =sick", "=got =sick"}},
    {"important:legal_threat",
     IMPORTANT,
     3,
     {"=суд", "=суда", "=судом", "=в =суд", "судебн", "прокурат", "роспотребнадзор", "=юрист",
      "адвокат", "=иск", "претензи", "полици"}},
    {"important:legal_threat",
     IMPORTANT,
     3,
     {"защит =прав потребител", "=зозпп", "lawyer", "lawsuit", "=sue", "attorney", "=court",
      "=legal =action"}},
    {"important:public_threat",
     IMPORTANT,
     2,
     {"=напишу =в соцсет", "=выложу", "журналист", "=сми", "телевиден", "=напишу =отзыв",
      "=напишу =везде", "=опубликую", "=расскажу =всем", "=social =media", "=post =about"}},
    {"important:repeated",
     IMPORTANT,
     1,
     {"=снова", "=опять", "повторн", "=again", "=second =time"}},
    {"important:repeated_many",
     IMPORTANT,
     2,
     {"=второй =раз", "=третий =раз", "=четвертый =раз", "=не =первый =раз", "=third =time",
      "=в =который =раз", "=уже =писал", "=уже =писала", "=уже =звонил", "=уже =звонила",
      "=сколько =можно"}},
    {"important:churn",
     IMPORTANT,
     1,
     {"=больше =не =приду", "=больше =ни =ногой", "=к =конкурентам", "=отказываюсь",
      "=never =again", "=последний =раз", "=ноги =моей"}},
    {"important:money",
     IMPORTANT,
     1,
     {"=списали =дважды", "=дважды", "=двойное =списание", "=верните =деньги", "=charged =twice",
      "=деньги =не =вернули", "=не =вернули"}},
};

#define N_RULES (sizeof(rules) / sizeof(rules[0]))

/* The patterns indexed by the first 4 bytes of their first word. */
struct pattern_ref {
    uint32_t key;
    uint16_t rule;
    uint16_t pattern;
};

static struct pattern_ref *index_refs;
static size_t n_index_refs;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static uint32_t key_of(const char *s, size_t len)
{
    unsigned char b[4] = {0, 0, 0, 0};
    memcpy(b, s, len < 4 ? len : 4);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int cmp_ref(const void *a, const void *b)
{
    const struct pattern_ref *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

static void build_index(void)
{
    size_t n = 0;
    for (size_t r = 0; r < N_RULES; r++) {
        for (size_t p = 0; p < 12 && rules[r].patterns[p]; p++)
            n++;
    }
    index_refs = xmalloc(n * sizeof(*index_refs));
    for (size_t r = 0; r < N_RULES; r++) {
        for (size_t p = 0; p < 12 && rules[r].patterns[p]; p++) {
            const char *w = rules[r].patterns[p];
            bool exact = *w == '=';
            w += exact;
            size_t len = strcspn(w, " ");
            /* A prefix shorter than the key would be missed by the index. */
            if (!exact && len < 4)
                abort();
            index_refs[n_index_refs++] =
                (struct pattern_ref){key_of(w, len), (uint16_t)r, (uint16_t)p};
        }
    }
    qsort(index_refs, n_index_refs, sizeof(*index_refs), cmp_ref);
}

/* Does pattern match the word tokens words[0..n_words)? */
static bool pattern_matches(const char *pattern, const struct text_tokens *t, const uint32_t *words,
                            size_t n_words)
{
    const char *w = pattern;
    for (size_t i = 0; i < n_words; i++) {
        bool exact = *w == '=';
        w += exact;
        size_t len = strcspn(w, " ");
        size_t tlen;
        const char *tok = text_token_text(t, words[i], &tlen);
        if (exact ? (tlen != len || memcmp(tok, w, len) != 0)
                  : (tlen < len || memcmp(tok, w, len) != 0))
            return false;
        w += len;
        if (*w == '\0')
            return true;
        w++; /* the space */
    }
    return false;
}

static void add_signal(struct urgency_result *out, const char *signal, enum axis axis, int weight)
{
    for (size_t i = 0; i < out->n_signals; i++) {
        if (strcmp(out->signals[i], signal) == 0)
            return; /* each signal counts once */
    }
    if (out->n_signals == URGENCY_MAX_SIGNALS)
        return;
    out->signals[out->n_signals++] = signal;
    if (axis == URGENT)
        out->urgency_score += weight;
    else
        out->importance_score += weight;
}

static bool str_is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

int urgency_assess(const char *text, size_t len, const struct urgency_context *ctx,
                   struct urgency_result *out)
{
    static const struct urgency_context empty;
    if (!ctx)
        ctx = &empty;
    memset(out, 0, sizeof(*out));
    pthread_once(&index_once, build_index);
    if (len > CLASSIFY_MAX_TEXT_BYTES)
        len = CLASSIFY_MAX_TEXT_BYTES;

    /* Word tokens only, so that patterns span punctuation-free word runs. */
    struct feat_scratch *fs = feat_scratch_get();
    struct text_tokens *t = &fs->tokens;
    text_tokenize(text, len, 0, t);
    if (fs->cap_raw < t->n_tok)
        xgrow((void **)&fs->raw, &fs->cap_raw, t->n_tok, sizeof(uint32_t));
    uint32_t *words = fs->raw;
    size_t n_words = 0;
    for (size_t i = 0; i < t->n_tok; i++) {
        if (t->tok[i].kind == TEXT_WORD || t->tok[i].kind == TEXT_NUMBER)
            words[n_words++] = (uint32_t)i;
    }
    /* Context signals first: a text signal of the same name then adds nothing. */
    if (ctx->has_order_due_today)
        add_signal(out, "urgent:order_due_today", URGENT, 2);
    if (str_is(ctx->topic, "checkout_queue"))
        add_signal(out, "urgent:queue_now", URGENT, 2);
    if (ctx->n_recent_contacts >= 1)
        add_signal(out, "important:repeat_contact", IMPORTANT, ctx->n_recent_contacts >= 2 ? 2 : 1);
    if (ctx->is_public)
        add_signal(out, "important:public_post", IMPORTANT, ctx->public_reach >= 10000 ? 3 : 1);
    if (ctx->is_high_value)
        add_signal(out, "important:high_value_customer", IMPORTANT, 2);
    if (str_is(ctx->sentiment, "negative") && ctx->sentiment_conf >= 0.8)
        add_signal(out, "important:strong_negative", IMPORTANT, 1);

    for (size_t i = 0; i < n_words; i++) {
        size_t tlen;
        const char *tok = text_token_text(t, words[i], &tlen);
        /* Candidates share the token's first 4 bytes (or all of a shorter token). */
        struct pattern_ref probe = {.key = key_of(tok, tlen)};
        struct pattern_ref *hit = bsearch(&probe, index_refs, n_index_refs, sizeof(probe), cmp_ref);
        if (!hit)
            continue;
        while (hit > index_refs && hit[-1].key == probe.key)
            hit--;
        for (; hit < index_refs + n_index_refs && hit->key == probe.key; hit++) {
            const struct text_rule *r = &rules[hit->rule];
            if (pattern_matches(r->patterns[hit->pattern], t, words + i, n_words - i))
                add_signal(out, r->signal, r->axis, r->weight);
        }
    }

    /* "Today" about a delivery is an order due today. */
    if (str_is(ctx->topic, "delivery")) {
        for (size_t i = 0; i < out->n_signals; i++) {
            if (strcmp(out->signals[i], "urgent:today") == 0) {
                add_signal(out, "urgent:order_due_today", URGENT, 1);
                break;
            }
        }
    }

    bool urgent = out->urgency_score >= 2, important = out->importance_score >= 2;
    if (urgent && important) {
        out->quadrant = QUADRANT_URGENT_IMPORTANT;
        out->priority = PRIORITY_URGENT;
    } else if (urgent || important) {
        out->quadrant = urgent ? QUADRANT_URGENT : QUADRANT_IMPORTANT;
        out->priority = PRIORITY_HIGH;
    } else {
        out->quadrant = QUADRANT_NEITHER;
        bool calm = str_is(ctx->topic, "gratitude") || str_is(ctx->topic, "suggestion") ||
                    (str_is(ctx->sentiment, "positive") && ctx->sentiment_conf >= 0.6);
        out->priority = calm && out->urgency_score == 0 && out->importance_score == 0
                            ? PRIORITY_LOW
                            : PRIORITY_NORMAL;
    }
    return 0;
}

const char *urgency_quadrant_name(enum urgency_quadrant q)
{
    switch (q) {
    case QUADRANT_URGENT_IMPORTANT:
        return "urgent_important";
    case QUADRANT_IMPORTANT:
        return "important";
    case QUADRANT_URGENT:
        return "urgent";
    case QUADRANT_NEITHER:
        break;
    }
    return "neither";
}

const char *urgency_priority_name(enum urgency_priority p)
{
    switch (p) {
    case PRIORITY_URGENT:
        return "urgent";
    case PRIORITY_HIGH:
        return "high";
    case PRIORITY_NORMAL:
        break;
    case PRIORITY_LOW:
        return "low";
    }
    return "normal";
}
