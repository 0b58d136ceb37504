/*
 * test_text.c - the text pipeline: normalisation, tokens (Cyrillic, mixed
 * scripts, emoji, punctuation runs, URLs, phones, invalid UTF-8), Snowball
 * stemming and the search terms used by the full-text index.
 */
#include "testutil.h"

#include "classify/text.h"
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "kind:text|stem kind:text|stem ..." for compact expectations. */
static const char *render(const char *s, size_t len, unsigned flags)
{
    static char out[4096];
    static const char *kinds = "wnepuamt"; /* word number emoji punct url email mention phone */
    struct text_tokens t;
    text_tokens_init(&t);
    text_tokenize(s, len, flags, &t);
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t.n_tok && at < sizeof(out) - 1; i++) {
        size_t tl, sl;
        const char *tx = text_token_text(&t, i, &tl);
        const char *st = text_token_stem(&t, i, &sl);
        int n;
        if (sl == tl && memcmp(tx, st, tl) == 0)
            n = snprintf(out + at, sizeof(out) - at, "%s%c:%.*s", i ? " " : "",
                         kinds[t.tok[i].kind], (int)tl, tx);
        else
            n = snprintf(out + at, sizeof(out) - at, "%s%c:%.*s|%.*s", i ? " " : "",
                         kinds[t.tok[i].kind], (int)tl, tx, (int)sl, st);
        at += (size_t)n;
    }
    text_tokens_free(&t);
    return out;
}

static const char *tok(const char *s)
{
    return render(s, strlen(s), 0);
}

static const char *tok_stem(const char *s)
{
    return render(s, strlen(s), TEXT_STEM);
}

static void test_cyrillic_case_and_yo(void **state)
{
    (void)state;
    assert_string_equal(tok("Очередь НА КАССЕ"), "w:очередь w:на w:кассе");
    assert_string_equal(tok("Ёлка и ёж"), "w:елка w:и w:еж");
    /* Decomposed input: и + combining breve is й, е + diaeresis is е. */
    assert_string_equal(tok("и\xcc\x86од е\xcc\x88ж"), "w:йод w:еж");
    /* Hyphens split words; apostrophes stay inside Latin words. */
    assert_string_equal(tok("из-за don't"), "w:из p:- w:за w:don't");
}

static void test_latin_and_compat(void **state)
{
    (void)state;
    assert_string_equal(tok("Café ÉCOLE Straße"), "w:cafe w:ecole w:strasse");
    /* Full-width letters and digits fold to ASCII. */
    assert_string_equal(tok("ＡＢＣ１２"), "w:abc12");
}

static void test_mixed_scripts(void **state)
{
    (void)state;
    /* Latin look-alikes inside a Cyrillic word become Cyrillic, and back. */
    assert_string_equal(tok("пpивeт"), "w:привет");
    assert_string_equal(tok("hellо"), "w:hello");
    assert_string_equal(tok("заказ order 5ка iPhone15"), "w:заказ w:order w:5ка w:iphone15");
    struct text_tokens t;
    text_tokens_init(&t);
    text_tokenize("касса cash", 15, 0, &t);
    assert_int_equal(t.n_tok, 2);
    assert_int_equal(t.tok[0].script, TEXT_SCRIPT_CYRILLIC);
    assert_int_equal(t.tok[1].script, TEXT_SCRIPT_LATIN);
    text_tokens_free(&t);
}

static void test_emoji_and_punct_runs(void **state)
{
    (void)state;
    assert_string_equal(tok("ужас!!!!!!"), "w:ужас p:!!!");
    assert_string_equal(tok("спасибо)))))"), "w:спасибо p:)))");
    assert_string_equal(tok("((((( ?!"), "p:((( p:?!");
    /* Each emoji is a token; skin tones and variation selectors are dropped. */
    assert_string_equal(tok("😡😡 👍🏻 ❤️"), "e:😡 e:😡 e:👍 e:❤");
}

static void test_urls_phones_numbers(void **state)
{
    (void)state;
    assert_string_equal(tok("см. https://shop.ru/a?b=1. и www.x.ru"),
                        "w:см p:. u:https://shop.ru/a?b=1 p:. w:и u:www.x.ru");
    assert_string_equal(tok("пишите a.b@mail.ru или @ivan_ok"),
                        "w:пишите a:a.b@mail.ru w:или m:@ivan_ok");
    assert_string_equal(tok("+7 (999) 123-45-67"), "t:79991234567");
    assert_string_equal(tok("8-800-555-35-35, 89991234567"), "t:78005553535 p:, t:79991234567");
    /* Years in a row are not a phone number. */
    assert_string_equal(tok("2023 2024 2025"), "n:2023 n:2024 n:2025");
    assert_string_equal(tok("12,50 руб 1.5 кг"), "n:12,50 w:руб n:1.5 w:кг");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    const char bad[] = "ка\xff\xfeсса \xd0 ok \xe2\x82";
    assert_string_equal(render(bad, sizeof(bad) - 1, 0), "w:касса w:ok");
    /* NUL and control characters separate tokens. */
    const char ctl[] = "a\0b\001c";
    assert_string_equal(render(ctl, sizeof(ctl) - 1, 0), "w:a w:b w:c");
    assert_string_equal(tok(""), "");
    assert_string_equal(tok("   \t\n "), "");
}

static void test_stemming(void **state)
{
    (void)state;
    assert_string_equal(tok_stem("очередь очереди очередями"),
                        "w:очередь|очеред w:очереди|очеред w:очередями|очеред");
    assert_string_equal(tok_stem("running cards"), "w:running|run w:cards|card");
    /* Words with digits are not stemmed; numbers and symbols have no stem. */
    assert_string_equal(tok_stem("кассами 5ка 12 !!"), "w:кассами|касс w:5ка n:12 p:!!");
    struct buf b;
    buf_init(&b, 0);
    text_stem_word("покупками", strlen("покупками"), TEXT_SCRIPT_CYRILLIC, &b);
    assert_string_equal(buf_cstr(&b), "покупк");
    buf_free(&b);
}

static void test_search_terms(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    const char *s = "Очереди на КАССЕ!!! Ёлки, 2 часа 😡 https://x.ru";
    text_search_terms(s, strlen(s), &b);
    assert_string_equal(buf_cstr(&b), "очеред на касс елк 2 час");
    /* Appending keeps terms separated by single spaces. */
    text_search_terms("очередь", strlen("очередь"), &b);
    assert_string_equal(buf_cstr(&b), "очеред на касс елк 2 час очеред");
    buf_reset(&b);
    text_search_terms("\xff\xfe", 2, &b);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_long_input(void **state)
{
    (void)state;
    size_t n = 200000;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++)
        s[i] = (i % 7 == 6) ? ' ' : 'a' + (char)(i % 5);
    struct buf b;
    buf_init(&b, 0);
    text_search_terms(s, n, &b);
    assert_int_equal(buf_error(&b), 0);
    assert_true(b.len > n / 2);
    buf_free(&b);
    free(s);
}

static int teardown(void **state)
{
    (void)state;
    text_thread_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cyrillic_case_and_yo),
        cmocka_unit_test(test_latin_and_compat),
        cmocka_unit_test(test_mixed_scripts),
        cmocka_unit_test(test_emoji_and_punct_runs),
        cmocka_unit_test(test_urls_phones_numbers),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_stemming),
        cmocka_unit_test(test_search_terms),
        cmocka_unit_test(test_long_input),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
