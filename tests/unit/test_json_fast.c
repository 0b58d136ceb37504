/*
 * test_json_fast.c - json_load_fast reads what jansson reads, or declines.
 *
 * The rule under test: whenever json_load_fast returns a tree, jansson's
 * json_loadb(..., JSON_REJECT_DUPLICATES) returns an equal one (json_equal
 * tells integers from reals).  Checked on hand-picked texts, on texts that
 * must take the fast way, on texts it must decline, and on many random
 * mutations of typical import lines.
 */
#include "testutil.h"

#include "core/json_fast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1: the fast way read it alike; 0: it declined; fails the test when it differs. */
static int check_same(const char *text, size_t len)
{
    json_t *fast = json_load_fast(text, len);
    json_error_t je;
    json_t *ref = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    int outcome = fast != NULL;
    if (fast != NULL && (ref == NULL || !json_equal(fast, ref))) {
        char *a = json_dumps(fast, JSON_ENCODE_ANY);
        fail_msg("json_load_fast read %.*s as %s; jansson: %s", (int)len, text, a,
                 ref ? "a different tree" : je.text);
    }
    json_decref(fast);
    json_decref(ref);
    return outcome;
}

static void test_typical_lines_go_fast(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "{\"type\":\"request\",\"channel\":\"vk\",\"customer\":{\"vk_id\":\"545429152\","
        "\"name\":\"Вадим Матвеев\"},\"text\":\"Спасибо! Приятно удивлен\",\"replies\":[{"
        "\"text\":\"Здравствуйте\",\"at\":\"2026-09-09T04:34:06.053Z\"}]}",
        "{\"type\":\"order\",\"id\":\"ORD-1\",\"total\":2512.29,\"items\":3,\"history\":[]}",
        "  {\"a\": -0, \"b\": -0.0, \"c\": 1e3, \"d\": 1E-2, \"e\": 0.5e+2, \"f\": 123456789012345}\r",
        "{\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u0416\\ud83d\\ude00\"}",
        "[true, false, null, [], {}, [[1]], \"\"]",
        "{\"emoji\":\"😀\",\"zh\":\"中文\",\"\":\"empty key\"}",
        "{\"max\":999999999999999,\"min\":-999999999999999,\"tiny\":1e-400}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        if (check_same(lines[i], strlen(lines[i])) != 1)
            fail_msg("declined a plain line: %s", lines[i]);
}

static void test_declines_what_jansson_reads_otherwise(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"a\":01}",          "{\"a\":1.}",           "{\"a\":.5}",           "{\"a\":+1}",
        "{\"a\":1.e5}",        "{\"a\":-}",            "{\"a\":1e}",           "{\"a\":0x10}",
        "{\"a\":\"tab\there\"}", "{\"a\":\"nul\\u0000\"}", "{\"a\":1,\"a\":2}", "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00x\"}", "\xEF\xBB\xBF{\"a\":1}", "{\"a\":1} x",         "{\"a\":1}{}",
        "\"just a string\"",   "42",                   "",                     "   ",
        "{\"a\":1234567890123456}", "{\"a\":1e999}",   "{\"a\":-1e999}",       "{\"a\":\"\xC3\"}",
        "{\"a\":\"\xC0\xAF\"}", "{\"a\":\"\xED\xA0\x80\"}", "{\"a\":\"\xF4\x90\x80\x80\"}",
        "{\x01\"a\":1}",       "{\"a\":1,}",           "[1,]",                 "{\"a\" 1}",
        "{\"a\":tru}",         "{\"a\":nul}",          "{\"a\":\"\\x\"}",      "{\"a\":\"\\u12G4\"}",
        "{\"a\":[1,2}",        "{'a':1}",              "{\"a\":1",             "{\"a\":\"x}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        if (check_same(texts[i], strlen(texts[i])) != 0)
            fail_msg("took the fast way for %s", texts[i]);
    /* A NUL byte inside the text. */
    static const char nul[] = "{\"a\":\"x\0y\"}";
    assert_int_equal(check_same(nul, sizeof nul - 1), 0);
}

/* A deterministic generator (xorshift). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_random_mutations(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "{\"type\":\"purchase\",\"id\":\"R-7\",\"customer\":{\"phone\":\"+79871380033\"},"
        "\"total\":1520.5,\"items\":4,\"at\":\"2026-09-09T01:01:44.848Z\"}",
        "{\"type\":\"bonus\",\"amount\":-150,\"reason\":\"spend\",\"ref\":\"Ж-1\",\"x\":[1,2.5e3,"
        "true,null,{\"y\":\"\\u0416\\n\"}]}",
    };
    /* Bytes that matter to a JSON reader, and some that do not belong. */
    static const char alphabet[] = "{}[]:,\"\\ 0123456789-+.eEtrufalsn\x01\t\xD0\x96\xC3\xFF";
    char buf[512];
    int n_fast = 0, n_total = 20000;
    for (int i = 0; i < n_total; i++) {
        const char *seed = seeds[i % 2];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int edits = 1 + (int)(rng() % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(rng() % (len + 1));
            char c = alphabet[rng() % (sizeof alphabet - 1)];
            switch (rng() % 3) {
            case 0: /* replace */
                if (at < len)
                    buf[at] = c;
                break;
            case 1: /* insert */
                if (len + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = c;
                    len++;
                }
                break;
            default: /* delete */
                if (at < len) {
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                }
            }
        }
        n_fast += check_same(buf, len);
    }
    /* Many mutations keep the text valid (a digit for a digit, a letter in a
     * string): the fast way must have been taken, not merely declined. */
    if (n_fast < n_total / 10)
        fail_msg("only %d of %d mutated texts went the fast way", n_fast, n_total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typical_lines_go_fast),
        cmocka_unit_test(test_declines_what_jansson_reads_otherwise),
        cmocka_unit_test(test_random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
