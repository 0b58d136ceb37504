/*
 * text.h - the text pipeline shared by the classifier and the search index:
 * Unicode normalisation (NFKC-like compatibility mapping, case folding,
 * ё→е, accents dropped from Latin letters), tokenisation into words, numbers,
 * emoji, punctuation runs, URLs, e-mail addresses, @mentions and phone
 * numbers, and Snowball stemming (Russian or English, chosen per token).
 */
#ifndef OTKLIK_CLASSIFY_TEXT_H
#define OTKLIK_CLASSIFY_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct buf;

enum text_kind {
    TEXT_WORD,    /* letters (and digits mixed in): "очередь", "iphone15" */
    TEXT_NUMBER,  /* digits with optional decimal part: "2024", "12.5" */
    TEXT_EMOJI,   /* one pictographic symbol: "😡" */
    TEXT_PUNCT,   /* a run of punctuation, repeats capped at 3: "!!!", "(((", "?!" */
    TEXT_URL,     /* http://..., https://..., www.... */
    TEXT_EMAIL,   /* name@host.tld */
    TEXT_MENTION, /* @name */
    TEXT_PHONE,   /* +7 (999) 123-45-67, 8-800-555-35-35; text is the digits only */
};

enum text_script {
    TEXT_SCRIPT_NONE,     /* not a word */
    TEXT_SCRIPT_LATIN,    /* stemmed with the English stemmer */
    TEXT_SCRIPT_CYRILLIC, /* stemmed with the Russian stemmer */
    TEXT_SCRIPT_OTHER,    /* letters of another script: not stemmed */
};

/* One token.  Offsets point into the owning struct text_tokens. */
struct text_token {
    uint8_t kind;      /* enum text_kind */
    uint8_t script;    /* enum text_script (words only) */
    uint32_t text_off; /* normalised UTF-8 text: chars[text_off .. +text_len] */
    uint32_t text_len; /* bytes */
    uint32_t stem_off; /* stem (words; else same as text): chars[stem_off .. +stem_len] */
    uint32_t stem_len; /* bytes */
    uint32_t cp_off;   /* normalised code points: cps[cp_off .. +cp_len] */
    uint32_t cp_len;   /* code points */
};

/*
 * The result of text_tokenize, reusable across calls so that a warm
 * tokenizer allocates nothing.  Owned by the caller (init/free); one per
 * thread.  Every array is valid until the next text_tokenize or free.
 */
struct text_tokens {
    struct text_token *tok; /* tokens in text order */
    size_t n_tok, cap_tok;
    char *chars; /* token texts and stems (not NUL-terminated) */
    size_t n_chars, cap_chars;
    uint32_t *cps; /* the normalised text as code points */
    uint8_t *cls;  /* character class of each code point (internal) */
    size_t n_cps, cap_cps;
};

/* Flags for text_tokenize. */
#define TEXT_STEM 1u /* fill stems (otherwise stem == text) */

/* Make t empty; allocates nothing. */
void text_tokens_init(struct text_tokens *t);

/* Release t's memory; t may be initialised again. */
void text_tokens_free(struct text_tokens *t);

/*
 * Tokenise s (UTF-8, len bytes; need not be NUL-terminated) into t,
 * replacing what t held.  Invalid UTF-8 bytes are skipped, control and
 * format characters act as spaces.  flags: TEXT_STEM to stem words.
 * Thread-safe as long as each thread uses its own t.
 */
void text_tokenize(const char *s, size_t len, unsigned flags, struct text_tokens *t);

/* The normalised text of token i of t (len bytes in *len; not NUL-terminated). */
const char *text_token_text(const struct text_tokens *t, size_t i, size_t *len);

/* The stem of token i of t (len bytes in *len; not NUL-terminated). */
const char *text_token_stem(const struct text_tokens *t, size_t i, size_t *len);

/*
 * Stem one lower-case word (UTF-8, len bytes) with the stemmer of script
 * (TEXT_SCRIPT_LATIN or TEXT_SCRIPT_CYRILLIC; anything else copies the
 * word) and append the stem to out.  Uses this thread's stemmers.
 */
void text_stem_word(const char *word, size_t len, enum text_script script, struct buf *out);

/* Append the full-text search terms of s (UTF-8, len bytes) to out: the stems of its
 * word and number tokens, case-folded, ё→е, separated by single spaces. Invalid UTF-8 bytes
 * are skipped. Thread-safe (per-thread stemmers). Used to index requests so that
 * "очередь" finds "очереди". */
void text_search_terms(const char *s, size_t len, struct buf *out);

/* Free this thread's stemmers now (they are also freed when the thread exits). */
void text_thread_cleanup(void);

#endif
