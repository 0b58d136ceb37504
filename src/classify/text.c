/*
 * text.c - normalisation, tokenisation and stemming (see text.h).
 *
 * Two passes over the input.  The first decodes UTF-8 into normalised code
 * points with a character class each (fast paths for ASCII and Cyrillic,
 * utf8proc for the rest).  The second cuts the code points into tokens,
 * recognising URLs, e-mails, mentions and phone numbers before plain words
 * and numbers.  Buffers live in struct text_tokens and are reused.
 */
#include "classify/text.h"

#include "core/buf.h"
#include "core/mem.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <utf8proc.h>

/* Character classes of normalised code points (struct text_tokens.cls). */
enum {
    C_SPACE,
    C_LAT,   /* Latin letter */
    C_CYR,   /* Cyrillic letter */
    C_OTHER, /* letter of another script (or a non-ASCII digit) */
    C_DIGIT, /* ASCII digit */
    C_EMOJI, /* pictographic symbol */
    C_PUNCT, /* punctuation and other symbols */
};

#define MAX_STEM_BYTES 128 /* longer words are kept unstemmed */
#define MAX_PUNCT_RUN 12   /* code points kept of one punctuation run */

/* ---- per-thread stemmers ---------------------------------------------- */

/*
 * A direct-mapped cache of recent stems: Snowball costs about 0.1 µs a
 * word, and the words of customer messages repeat a lot.  Words up to
 * STEM_CACHE_WORD bytes; a slot with word_len 0 is empty.
 */
#define STEM_CACHE_SLOTS 4096
#define STEM_CACHE_WORD 38

struct stem_slot {
    uint32_t hash;
    uint8_t script;
    uint8_t word_len;
    uint8_t stem_len;
    char word[STEM_CACHE_WORD];
    char stem[STEM_CACHE_WORD];
};

struct thread_text {
    struct sb_stemmer *ru;
    struct sb_stemmer *en;
    struct text_tokens tokens; /* for text_search_terms */
    struct stem_slot cache[STEM_CACHE_SLOTS];
};

static _Thread_local struct thread_text *tl_text;
static pthread_key_t text_key;
static pthread_once_t text_once = PTHREAD_ONCE_INIT;

static void thread_text_destroy(void *p)
{
    struct thread_text *tt = p;
    if (!tt)
        return;
    if (tt->ru)
        sb_stemmer_delete(tt->ru);
    if (tt->en)
        sb_stemmer_delete(tt->en);
    text_tokens_free(&tt->tokens);
    free(tt);
}

static void text_key_init(void)
{
    pthread_key_create(&text_key, thread_text_destroy);
}

static struct thread_text *thread_text_get(void)
{
    if (tl_text)
        return tl_text;
    pthread_once(&text_once, text_key_init);
    struct thread_text *tt = xcalloc(1, sizeof(*tt));
    tt->ru = sb_stemmer_new("russian", "UTF_8");
    tt->en = sb_stemmer_new("english", "UTF_8");
    /* Both algorithms are compiled into every libstemmer; NULL means OOM. */
    if (!tt->ru || !tt->en)
        abort();
    text_tokens_init(&tt->tokens);
    pthread_setspecific(text_key, tt);
    tl_text = tt;
    return tt;
}

void text_thread_cleanup(void)
{
    if (!tl_text)
        return;
    pthread_setspecific(text_key, NULL);
    thread_text_destroy(tl_text);
    tl_text = NULL;
}

/* ---- buffers ---------------------------------------------------------- */

void text_tokens_init(struct text_tokens *t)
{
    memset(t, 0, sizeof(*t));
}

void text_tokens_free(struct text_tokens *t)
{
    free(t->tok);
    free(t->chars);
    free(t->cps);
    free(t->cls);
    memset(t, 0, sizeof(*t));
}

static void push_cp(struct text_tokens *t, uint32_t cp, uint8_t cls)
{
    if (t->n_cps == t->cap_cps) {
        size_t cap = t->cap_cps ? t->cap_cps * 2 : 256;
        t->cps = xrealloc(t->cps, cap * sizeof(uint32_t));
        t->cls = xrealloc(t->cls, cap);
        t->cap_cps = cap;
    }
    t->cps[t->n_cps] = cp;
    t->cls[t->n_cps] = cls;
    t->n_cps++;
}

static void put_chars(struct text_tokens *t, const void *p, size_t len)
{
    if (t->n_chars + len > t->cap_chars)
        xgrow((void **)&t->chars, &t->cap_chars, t->n_chars + len, 1);
    memcpy(t->chars + t->n_chars, p, len);
    t->n_chars += len;
}

static void put_utf8(struct text_tokens *t, uint32_t cp)
{
    if (t->n_chars + 4 > t->cap_chars)
        xgrow((void **)&t->chars, &t->cap_chars, t->n_chars + 4, 1);
    unsigned char *b = (unsigned char *)t->chars + t->n_chars;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        t->n_chars += 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        t->n_chars += 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        t->n_chars += 3;
    } else {
        b[0] = (unsigned char)(0xf0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        t->n_chars += 4;
    }
}

/* ---- pass 1: normalisation -------------------------------------------- */

static uint8_t ascii_class(uint32_t cp)
{
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
        return C_LAT;
    if (cp >= '0' && cp <= '9')
        return C_DIGIT;
    if (cp <= ' ' || cp == 0x7f)
        return C_SPACE;
    return C_PUNCT;
}

/* Lower case within U+0400..U+04FF, with ё (and Ё) folded to е. */
static uint32_t cyr_lower(uint32_t cp)
{
    if (cp == 0x401 || cp == 0x451)
        return 0x435;
    if (cp >= 0x410 && cp <= 0x42f)
        return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40f)
        return cp + 0x50;
    if (((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48a && cp <= 0x4bf) ||
         (cp >= 0x4d0 && cp <= 0x4ff)) &&
        cp % 2 == 0)
        return cp + 1;
    if (cp >= 0x4c1 && cp <= 0x4ce && cp % 2 == 1)
        return cp + 1;
    if (cp == 0x4c0)
        return 0x4cf;
    return cp;
}

/* Class of a code point outside ASCII and the fast Cyrillic block; 0xff: drop it. */
static uint8_t general_class(uint32_t cp)
{
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    switch (p->category) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        if ((cp >= 0xc0 && cp <= 0x24f) || (cp >= 0x1e00 && cp <= 0x1eff))
            return C_LAT;
        if ((cp >= 0x400 && cp <= 0x52f) || (cp >= 0x1c80 && cp <= 0x1c8f) ||
            (cp >= 0xa640 && cp <= 0xa69f))
            return C_CYR;
        return C_OTHER;
    case UTF8PROC_CATEGORY_ND:
        return C_OTHER;
    case UTF8PROC_CATEGORY_SO:
        return cp >= 0x2300 ? C_EMOJI : C_PUNCT;
    case UTF8PROC_CATEGORY_SK:
        /* Emoji skin-tone modifiers only refine the emoji before them. */
        return (cp >= 0x1f3fb && cp <= 0x1f3ff) ? 0xff : C_PUNCT;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CC:
        return C_SPACE;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
        return 0xff;
    default:
        return C_PUNCT;
    }
}

/* Append the normalised form of one decoded code point to t->cps. */
static void normalise_cp(struct text_tokens *t, uint32_t cp)
{
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z')
            cp += 0x20;
        push_cp(t, cp, ascii_class(cp));
        return;
    }
    if (cp >= 0x400 && cp <= 0x4ff) {
        if (cp >= 0x483 && cp <= 0x489)
            return; /* Cyrillic combining marks */
        if (cp == 0x482) {
            push_cp(t, cp, C_PUNCT);
            return;
        }
        push_cp(t, cyr_lower(cp), C_CYR);
        return;
    }
    if (cp >= 0x300 && cp <= 0x36f) {
        /* Decomposed input: и + breve is й; every other mark (the diaeresis
         * of ё included, since ё folds to е) is dropped. */
        if (cp == 0x306 && t->n_cps > 0 && t->cps[t->n_cps - 1] == 0x438)
            t->cps[t->n_cps - 1] = 0x439;
        return;
    }
    utf8proc_int32_t out[8];
    int boundclass = 0;
    utf8proc_ssize_t n =
        utf8proc_decompose_char((utf8proc_int32_t)cp, out, 8,
                                UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                                    UTF8PROC_STRIPMARK | UTF8PROC_IGNORE | UTF8PROC_LUMP,
                                &boundclass);
    if (n < 0 || n > 8) {
        return;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        uint32_t o = (uint32_t)out[i];
        if (o < 0x80) {
            if (o >= 'A' && o <= 'Z')
                o += 0x20;
            push_cp(t, o, ascii_class(o));
        } else if (o >= 0x400 && o <= 0x4ff && !(o >= 0x482 && o <= 0x489)) {
            push_cp(t, cyr_lower(o), C_CYR);
        } else {
            uint8_t cls = general_class(o);
            if (cls != 0xff)
                push_cp(t, o, cls);
        }
    }
}

static void normalise(struct text_tokens *t, const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            uint32_t cp = p[i++];
            if (cp >= 'A' && cp <= 'Z')
                cp += 0x20;
            push_cp(t, cp, ascii_class(cp));
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) {
            i++; /* skip one invalid byte and resynchronise */
            continue;
        }
        i += (size_t)n;
        normalise_cp(t, (uint32_t)cp);
    }
}

/* ---- pass 2: tokens --------------------------------------------------- */

static bool is_letter(uint8_t c)
{
    return c == C_LAT || c == C_CYR || c == C_OTHER;
}

static bool is_alnum(uint8_t c)
{
    return is_letter(c) || c == C_DIGIT;
}

static bool cps_match(const struct text_tokens *t, size_t i, const char *ascii)
{
    for (size_t k = 0; ascii[k]; k++) {
        if (i + k >= t->n_cps || t->cps[i + k] != (uint32_t)(unsigned char)ascii[k])
            return false;
    }
    return true;
}

static struct text_token *new_token(struct text_tokens *t, enum text_kind kind, size_t cp_off,
                                    size_t cp_len)
{
    if (t->n_tok == t->cap_tok)
        xgrow((void **)&t->tok, &t->cap_tok, t->n_tok + 1, sizeof(struct text_token));
    struct text_token *k = &t->tok[t->n_tok++];
    memset(k, 0, sizeof(*k));
    k->kind = (uint8_t)kind;
    k->script = TEXT_SCRIPT_NONE;
    k->cp_off = (uint32_t)cp_off;
    k->cp_len = (uint32_t)cp_len;
    k->text_off = (uint32_t)t->n_chars;
    return k;
}

/* A token whose text is the UTF-8 of its code points; stem == text. */
static void emit_span(struct text_tokens *t, enum text_kind kind, size_t a, size_t b)
{
    struct text_token *k = new_token(t, kind, a, b - a);
    for (size_t i = a; i < b; i++)
        put_utf8(t, t->cps[i]);
    k = &t->tok[t->n_tok - 1];
    k->text_len = (uint32_t)(t->n_chars - k->text_off);
    k->stem_off = k->text_off;
    k->stem_len = k->text_len;
}

static bool url_char(uint8_t c)
{
    return c != C_SPACE;
}

/* "http://", "https://" or "www." at i: the end of the URL, else 0. */
static size_t scan_url(const struct text_tokens *t, size_t i)
{
    size_t j;
    if (cps_match(t, i, "http://"))
        j = i + 7;
    else if (cps_match(t, i, "https://"))
        j = i + 8;
    else if (cps_match(t, i, "www.") && i + 4 < t->n_cps && is_alnum(t->cls[i + 4]))
        j = i + 4;
    else
        return 0;
    while (j < t->n_cps && url_char(t->cls[j]))
        j++;
    /* Trailing sentence punctuation is not part of the address. */
    while (j > i && t->cls[j - 1] == C_PUNCT && t->cps[j - 1] != '/')
        j--;
    return j;
}

static bool email_local_char(const struct text_tokens *t, size_t i)
{
    uint32_t c = t->cps[i];
    return t->cls[i] == C_LAT || t->cls[i] == C_DIGIT || c == '.' || c == '_' || c == '-' ||
           c == '+';
}

/* name@host.tld at i: the end, else 0. */
static size_t scan_email(const struct text_tokens *t, size_t i)
{
    size_t j = i;
    while (j < t->n_cps && email_local_char(t, j))
        j++;
    if (j == i || j >= t->n_cps || t->cps[j] != '@')
        return 0;
    size_t host = ++j;
    size_t last_dot = 0;
    while (j < t->n_cps &&
           (t->cls[j] == C_LAT || t->cls[j] == C_DIGIT || t->cps[j] == '-' || t->cps[j] == '.')) {
        if (t->cps[j] == '.')
            last_dot = j;
        j++;
    }
    while (j > host && t->cps[j - 1] == '.')
        j--;
    if (last_dot <= host || last_dot + 2 > j)
        return 0;
    for (size_t k = last_dot + 1; k < j; k++) {
        if (t->cls[k] != C_LAT)
            return 0;
    }
    return j;
}

/*
 * A phone number at i ("+7 (999) 123-45-67", "8-800-555-35-35",
 * "89991234567"): its end, with its digits appended to t->chars by the
 * caller.  10-12 digits; separated groups must start with a short group (a
 * country or trunk code, or an area code in parentheses) so that a list of
 * years is not taken for a phone.
 */
static size_t scan_phone(const struct text_tokens *t, size_t i, int *n_digits)
{
    size_t j = i;
    bool has_plus = false, has_paren = false;
    int digits = 0, groups = 0, first_group = 0, group = 0, seps = 0;
    size_t end = 0;
    if (t->cps[j] == '+') {
        has_plus = true;
        j++;
    }
    while (j < t->n_cps) {
        uint32_t c = t->cps[j];
        if (t->cls[j] == C_DIGIT) {
            digits++;
            group++;
            j++;
            end = j;
            if (digits > 12)
                return 0;
            continue;
        }
        if (group > 0) {
            if (groups == 0)
                first_group = group;
            groups++;
            group = 0;
        }
        bool next_ok = j + 1 < t->n_cps && (t->cls[j + 1] == C_DIGIT || t->cps[j + 1] == '(');
        if (c == '(' || c == ')') {
            has_paren = true;
            seps++;
            j++;
        } else if ((c == ' ' || c == '-') && next_ok) {
            seps++;
            j++;
        } else {
            break;
        }
    }
    if (group > 0) {
        if (groups == 0)
            first_group = group;
        groups++;
    }
    if (digits < 10 || end == 0)
        return 0;
    if (end < t->n_cps && is_alnum(t->cls[end]))
        return 0;
    if (groups == 1 && seps == 0 && !has_plus) {
        /* Bare digits: only the Russian 11-digit form 7XXXXXXXXXX / 8XXXXXXXXXX. */
        if (digits != 11 || (t->cps[i] != '7' && t->cps[i] != '8'))
            return 0;
    } else if (groups > 1 && !has_plus && !has_paren && first_group > 3) {
        return 0;
    }
    *n_digits = digits;
    return end;
}

static void emit_phone(struct text_tokens *t, size_t a, size_t b, int digits)
{
    struct text_token *k = new_token(t, TEXT_PHONE, a, b - a);
    bool first = true;
    for (size_t i = a; i < b; i++) {
        if (t->cls[i] != C_DIGIT)
            continue;
        uint32_t d = t->cps[i];
        /* 8 as the Russian trunk prefix is the same number as +7. */
        if (first && digits == 11 && d == '8')
            d = '7';
        first = false;
        char ch = (char)d;
        put_chars(t, &ch, 1);
    }
    k = &t->tok[t->n_tok - 1];
    k->text_len = (uint32_t)(t->n_chars - k->text_off);
    k->stem_off = k->text_off;
    k->stem_len = k->text_len;
}

/* Homoglyphs: Latin letters that look like Cyrillic ones, lower case. */
static const uint32_t homoglyph_lat[] = {'a', 'c', 'e', 'o', 'p', 'x', 'y', 'k', 'm', 't', 'h'};
static const uint32_t homoglyph_cyr[] = {0x430, 0x441, 0x435, 0x43e, 0x440, 0x445,
                                         0x443, 0x43a, 0x43c, 0x442, 0x43d};
#define N_HOMOGLYPHS (sizeof(homoglyph_lat) / sizeof(homoglyph_lat[0]))

/*
 * A word mixing Latin and Cyrillic letters is usually one script with
 * look-alike letters typed in the other ("пpивет" with a Latin p): rewrite
 * the minority letters that have a look-alike, and return the word's script.
 */
static enum text_script fix_mixed_script(struct text_tokens *t, size_t a, size_t b)
{
    int lat = 0, cyr = 0, other = 0;
    for (size_t i = a; i < b; i++) {
        lat += t->cls[i] == C_LAT;
        cyr += t->cls[i] == C_CYR;
        other += t->cls[i] == C_OTHER;
    }
    if (lat == 0 && cyr == 0)
        return other ? TEXT_SCRIPT_OTHER : TEXT_SCRIPT_NONE;
    if (lat == 0)
        return TEXT_SCRIPT_CYRILLIC;
    if (cyr == 0)
        return TEXT_SCRIPT_LATIN;
    bool to_cyr = cyr >= lat;
    for (size_t i = a; i < b; i++) {
        uint8_t from = to_cyr ? C_LAT : C_CYR;
        if (t->cls[i] != from)
            continue;
        for (size_t h = 0; h < N_HOMOGLYPHS; h++) {
            const uint32_t *src = to_cyr ? homoglyph_lat : homoglyph_cyr;
            const uint32_t *dst = to_cyr ? homoglyph_cyr : homoglyph_lat;
            if (t->cps[i] == src[h]) {
                t->cps[i] = dst[h];
                t->cls[i] = to_cyr ? C_CYR : C_LAT;
                break;
            }
        }
    }
    return to_cyr ? TEXT_SCRIPT_CYRILLIC : TEXT_SCRIPT_LATIN;
}

static uint32_t word_hash(const char *s, size_t len, uint32_t script)
{
    uint32_t h = 2166136261u ^ script;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h ^ (h >> 15);
}

/* Stem word (len bytes) with this thread's stemmer for script; the result
 * lives until the next call on this thread.  Cached. */
static const char *stem_cached(const char *word, size_t len, enum text_script script,
                               size_t *stem_len)
{
    struct thread_text *tt = thread_text_get();
    uint32_t h = word_hash(word, len, script);
    struct stem_slot *slot = &tt->cache[h % STEM_CACHE_SLOTS];
    if (slot->word_len == len && slot->hash == h && slot->script == script &&
        memcmp(slot->word, word, len) == 0) {
        *stem_len = slot->stem_len;
        return slot->stem;
    }
    struct sb_stemmer *st = script == TEXT_SCRIPT_CYRILLIC ? tt->ru : tt->en;
    const sb_symbol *s = sb_stemmer_stem(st, (const sb_symbol *)word, (int)len);
    int n = sb_stemmer_length(st);
    if (!s || n <= 0) {
        *stem_len = len;
        return word;
    }
    if (len <= STEM_CACHE_WORD && (size_t)n <= STEM_CACHE_WORD) {
        slot->hash = h;
        slot->script = (uint8_t)script;
        slot->word_len = (uint8_t)len;
        slot->stem_len = (uint8_t)n;
        memcpy(slot->word, word, len);
        memcpy(slot->stem, s, (size_t)n);
    }
    *stem_len = (size_t)n;
    return (const char *)s;
}

static void stem_into_chars(struct text_tokens *t, struct text_token *k)
{
    size_t n;
    const char *s =
        stem_cached(t->chars + k->text_off, k->text_len, (enum text_script)k->script, &n);
    /* The stem of a word is usually a prefix of it: share the bytes. */
    if (n <= k->text_len && memcmp(s, t->chars + k->text_off, n) == 0) {
        k->stem_len = (uint32_t)n;
        return;
    }
    /* s may point into t->chars (no stem) only when n == text_len, handled above. */
    size_t off = t->n_chars;
    put_chars(t, s, n);
    k->stem_off = (uint32_t)off;
    k->stem_len = (uint32_t)n;
}

static void emit_word(struct text_tokens *t, size_t a, size_t b, unsigned flags)
{
    enum text_script script = fix_mixed_script(t, a, b);
    bool has_digit = false;
    for (size_t i = a; i < b; i++)
        has_digit |= t->cls[i] == C_DIGIT;
    emit_span(t, TEXT_WORD, a, b);
    struct text_token *k = &t->tok[t->n_tok - 1];
    k->script = (uint8_t)script;
    if ((flags & TEXT_STEM) && !has_digit && k->text_len <= MAX_STEM_BYTES &&
        (script == TEXT_SCRIPT_LATIN || script == TEXT_SCRIPT_CYRILLIC))
        stem_into_chars(t, k);
}

/* A punctuation run with each repeated character kept at most 3 times. */
static void emit_punct(struct text_tokens *t, size_t a, size_t b)
{
    struct text_token *k = new_token(t, TEXT_PUNCT, a, b - a);
    int kept = 0, repeat = 0;
    for (size_t i = a; i < b && kept < MAX_PUNCT_RUN; i++) {
        repeat = (i > a && t->cps[i] == t->cps[i - 1]) ? repeat + 1 : 1;
        if (repeat > 3)
            continue;
        put_utf8(t, t->cps[i]);
        kept++;
    }
    k = &t->tok[t->n_tok - 1];
    k->text_len = (uint32_t)(t->n_chars - k->text_off);
    k->stem_off = k->text_off;
    k->stem_len = k->text_len;
}

static bool mention_char(const struct text_tokens *t, size_t i)
{
    return t->cls[i] == C_LAT || t->cls[i] == C_DIGIT || t->cps[i] == '_';
}

static void tokenize_cps(struct text_tokens *t, unsigned flags)
{
    size_t n = t->n_cps, i = 0;
    while (i < n) {
        uint8_t c = t->cls[i];
        uint32_t cp = t->cps[i];
        size_t end;
        int digits = 0;
        if (c == C_SPACE) {
            i++;
            continue;
        }
        if (c == C_EMOJI) {
            emit_span(t, TEXT_EMOJI, i, i + 1);
            i++;
            continue;
        }
        if ((c == C_LAT || c == C_DIGIT) && (end = scan_url(t, i)) != 0) {
            emit_span(t, TEXT_URL, i, end);
            i = end;
            continue;
        }
        if ((c == C_LAT || c == C_DIGIT) && (end = scan_email(t, i)) != 0) {
            emit_span(t, TEXT_EMAIL, i, end);
            i = end;
            continue;
        }
        if ((c == C_DIGIT || cp == '+' || cp == '(') && (end = scan_phone(t, i, &digits)) != 0) {
            emit_phone(t, i, end, digits);
            i = end;
            continue;
        }
        if (cp == '@' && i + 1 < n && mention_char(t, i + 1)) {
            size_t j = i + 1;
            while (j < n && mention_char(t, j))
                j++;
            emit_span(t, TEXT_MENTION, i, j);
            i = j;
            continue;
        }
        if (is_alnum(c)) {
            size_t j = i;
            bool has_letter = false;
            for (;;) {
                while (j < n && is_alnum(t->cls[j])) {
                    has_letter |= is_letter(t->cls[j]);
                    j++;
                }
                /* Inner apostrophe of a Latin word (don't, o'reilly). */
                if (j + 1 < n && t->cps[j] == '\'' && t->cls[j - 1] == C_LAT &&
                    t->cls[j + 1] == C_LAT) {
                    j++;
                    continue;
                }
                /* Decimal part of a number (12.50, 1,5). */
                if (!has_letter && j + 1 < n && (t->cps[j] == '.' || t->cps[j] == ',') &&
                    t->cls[j + 1] == C_DIGIT) {
                    j++;
                    continue;
                }
                break;
            }
            if (has_letter)
                emit_word(t, i, j, flags);
            else
                emit_span(t, TEXT_NUMBER, i, j);
            i = j;
            continue;
        }
        /* Punctuation run; stop before something that starts another token. */
        size_t j = i + 1;
        while (j < n && t->cls[j] == C_PUNCT &&
               !(t->cps[j] == '@' && j + 1 < n && mention_char(t, j + 1)))
            j++;
        emit_punct(t, i, j);
        i = j;
    }
}

void text_tokenize(const char *s, size_t len, unsigned flags, struct text_tokens *t)
{
    t->n_tok = 0;
    t->n_chars = 0;
    t->n_cps = 0;
    normalise(t, s, len);
    tokenize_cps(t, flags);
}

const char *text_token_text(const struct text_tokens *t, size_t i, size_t *len)
{
    *len = t->tok[i].text_len;
    return t->chars + t->tok[i].text_off;
}

const char *text_token_stem(const struct text_tokens *t, size_t i, size_t *len)
{
    *len = t->tok[i].stem_len;
    return t->chars + t->tok[i].stem_off;
}

void text_stem_word(const char *word, size_t len, enum text_script script, struct buf *out)
{
    if ((script != TEXT_SCRIPT_LATIN && script != TEXT_SCRIPT_CYRILLIC) || len > MAX_STEM_BYTES) {
        buf_put(out, word, len);
        return;
    }
    size_t n;
    const char *s = stem_cached(word, len, script, &n);
    buf_put(out, s, n);
}

void text_search_terms(const char *s, size_t len, struct buf *out)
{
    struct thread_text *tt = thread_text_get();
    struct text_tokens *t = &tt->tokens;
    text_tokenize(s, len, TEXT_STEM, t);
    bool need_space = out->len > 0 && out->data[out->len - 1] != ' ';
    for (size_t i = 0; i < t->n_tok; i++) {
        const struct text_token *k = &t->tok[i];
        if (k->kind != TEXT_WORD && k->kind != TEXT_NUMBER)
            continue;
        if (need_space)
            buf_putc(out, ' ');
        buf_put(out, t->chars + k->stem_off, k->stem_len);
        need_space = true;
    }
    /* Large inputs should not keep a large buffer alive in the thread. */
    if (t->cap_cps > (1u << 20))
        text_tokens_free(t);
}
