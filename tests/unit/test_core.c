/*
 * test_core.c - the core library: the error table, the arena, the capped
 * buffer, bounded number parsing, UTF-8 checks, RFC 3339 time and the civil
 * calendar, the fake clock, the config table and its three sources, and the
 * latency histogram.  Tabular cases (numbers, UTF-8, times) are tables here.
 */
#include "testutil.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/str.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- err ------------------------------------------------------------------ */

static void test_err_table(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *str;
        int http;
    } cases[] = {
        {ERR_INVALID, "invalid", 400},     {ERR_UNAUTHORIZED, "unauthorized", 401},
        {ERR_FORBIDDEN, "forbidden", 403}, {ERR_NOTFOUND, "not_found", 404},
        {ERR_CONFLICT, "conflict", 409},   {ERR_TOOBIG, "too_big", 413},
        {ERR_UNAVAILABLE, "unavailable", 503}, {ERR_VERSION, "version_mismatch", 400},
        {ERR_CSRF, "csrf", 403},           {ERR_RATE_LIMITED, "rate_limited", 429},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        assert_string_equal(err_str(cases[i].code), cases[i].str);
        assert_int_equal(err_http_status(cases[i].code), cases[i].http);
    }
    /* Unknown values map to internal / 500. */
    assert_string_equal(err_str(-999), "internal");
    assert_int_equal(err_http_status(-999), 500);
    assert_int_equal(err_http_status(0), 500);
}

static void test_err_set_first_wins(void **state)
{
    (void)state;
    struct err_info e = {0};
    assert_int_equal(err_set(&e, ERR_INVALID, "phone", "bad %s %d", "phone", 7), ERR_INVALID);
    assert_int_equal(e.code, ERR_INVALID);
    assert_string_equal(e.field, "phone");
    assert_string_equal(e.message, "bad phone 7");
    /* A later error returns its own code but keeps the first details. */
    assert_int_equal(err_set(&e, ERR_CONFLICT, "x", "later"), ERR_CONFLICT);
    assert_int_equal(e.code, ERR_INVALID);
    assert_string_equal(e.field, "phone");
    /* NULL info and NULL field are fine. */
    assert_int_equal(err_set(NULL, ERR_IO, "f", "m"), ERR_IO);
    err_clear(&e);
    assert_int_equal(e.code, 0);
    assert_string_equal(e.field, "");
    assert_int_equal(err_set(&e, ERR_IO, NULL, "m"), ERR_IO);
    assert_string_equal(e.field, "");
    err_clear(NULL);
    /* Long messages are truncated, never overflow. */
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    err_clear(&e);
    err_set(&e, ERR_INVALID, big, "%s", big);
    assert_int_equal(strlen(e.message), sizeof e.message - 1);
    assert_int_equal(strlen(e.field), sizeof e.field - 1);
}

/* ---- arena ------------------------------------------------------------------ */

static void test_arena(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 256);
    assert_null(a.head);
    /* Zeroed and aligned for any type. */
    for (int i = 0; i < 100; i++) {
        size_t size = (size_t)(i * 7 % 61 + 1);
        unsigned char *p = arena_alloc(&a, size);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        for (size_t k = 0; k < size; k++)
            assert_int_equal(p[k], 0);
        memset(p, 0xAB, size);
    }
    /* Bigger than a chunk: its own chunk, still usable. */
    char *big = arena_alloc(&a, 10000);
    memset(big, 'x', 10000);
    /* Earlier allocations are not disturbed by later ones. */
    char *s1 = arena_strdup(&a, "первый");
    char *s2 = arena_strndup(&a, "second-and-more", 6);
    char *s3 = arena_printf(&a, "%s=%d", "n", 42);
    assert_string_equal(s1, "первый");
    assert_string_equal(s2, "second");
    assert_string_equal(s3, "n=42");
    /* Slices need not be NUL-terminated. */
    const char raw[3] = {'a', 'b', 'c'};
    assert_string_equal(arena_strndup(&a, raw, 2), "ab");
    /* Reset keeps one chunk and hands out zeroed memory again. */
    arena_reset(&a);
    assert_non_null(a.head);
    unsigned char *p = arena_alloc(&a, 64);
    for (int k = 0; k < 64; k++)
        assert_int_equal(p[k], 0);
    arena_free(&a);
    assert_null(a.head);
    /* Reset of an empty arena is a no-op; default chunk size. */
    arena_init(&a, 0);
    assert_int_equal(a.chunk_size, 16 * 1024);
    arena_reset(&a);
    assert_null(a.head);
    arena_free(&a);
}

static void test_xgrow(void **state)
{
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < 1000; i++) {
        xgrow((void **)&v, &cap, i + 1, sizeof *v);
        assert_true(cap >= i + 1);
        v[i] = (int)i;
    }
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(v[i], (int)i);
    free(v);
    char *d = xstrndup("abcdef", 3);
    assert_string_equal(d, "abc");
    free(d);
}

/* ---- buf -------------------------------------------------------------------- */

static void test_buf_basic(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_string_equal(buf_cstr(&b), "");
    assert_int_equal(buf_error(&b), 0);
    buf_puts(&b, "abc");
    buf_putc(&b, '-');
    buf_printf(&b, "%d/%s", 12, "x");
    buf_put(&b, "zz\0q", 4); /* binary data keeps its length */
    assert_int_equal(b.len, 3 + 1 + 4 + 4);
    assert_memory_equal(b.data, "abc-12/xzz\0q", 12);
    assert_int_equal(b.data[b.len], '\0');
    /* Grows well past the first allocation. */
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%04d", i);
    assert_int_equal(b.len, 12 + 4000);
    assert_memory_equal(b.data + 12 + 4 * 999, "0999", 4);
    size_t len = 0;
    char *p = buf_steal(&b, &len);
    assert_int_equal(len, 4012);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(p);
    /* Stealing an empty buffer gives an owned "". */
    p = buf_steal(&b, NULL);
    assert_string_equal(p, "");
    free(p);
    buf_free(&b);
}

static void test_buf_cap_sticky(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    buf_puts(&b, "0123456789"); /* exactly the cap: fits */
    assert_int_equal(buf_error(&b), 0);
    assert_string_equal(buf_cstr(&b), "0123456789");
    buf_putc(&b, 'x'); /* one past: dropped, sticky */
    assert_int_equal(buf_error(&b), ERR_TOOBIG);
    assert_int_equal(b.len, 10);
    buf_reset(&b);
    assert_int_equal(buf_error(&b), 0);
    assert_string_equal(buf_cstr(&b), "");
    buf_puts(&b, "abc");
    buf_printf(&b, "%s", "0123456789"); /* printf over the cap: dropped whole */
    assert_int_equal(buf_error(&b), ERR_TOOBIG);
    assert_string_equal(buf_cstr(&b), "abc");
    buf_puts(&b, "d"); /* even a write that would fit is ignored after failure */
    assert_string_equal(buf_cstr(&b), "abc");
    assert_true(b.failed);
    buf_free(&b);
    /* printf up to the cap exactly fits; a long one into a fresh buffer grows it. */
    buf_init(&b, 10);
    buf_puts(&b, "ab");
    buf_printf(&b, "%s%d", "cdefgh", 12);
    assert_int_equal(buf_error(&b), 0);
    assert_string_equal(buf_cstr(&b), "abcdefgh12");
    buf_free(&b);
    buf_init(&b, 0);
    char big[1001];
    memset(big, 'x', 1000);
    big[1000] = '\0';
    buf_printf(&b, "<%s>", big);
    assert_int_equal(b.len, 1002);
    assert_int_equal(b.data[1001], '>');
    assert_int_equal(b.data[1002], '\0');
    buf_free(&b);
}

static void test_buf_put_i64(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    const int64_t v[] = {0, 7, -7, 1234567890123, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        buf_put_i64(&b, v[i]);
        buf_putc(&b, ' ');
    }
    assert_string_equal(buf_cstr(&b), "0 7 -7 1234567890123 9223372036854775807 "
                                      "-9223372036854775808 ");
    buf_free(&b);
}

static void test_str_copy_and_i64_format(void **state)
{
    (void)state;
    char small[4], out[I64_DEC_MAX];
    assert_int_equal(str_copy(small, sizeof small, "abcdef"), 3);
    assert_string_equal(small, "abc");
    assert_int_equal(str_copy(small, sizeof small, "ab"), 2);
    assert_string_equal(small, "ab");
    assert_int_equal(str_copy(small, 1, "ab"), 0);
    assert_string_equal(small, "");
    const int64_t v[] = {0, 9, -9, 10, 1234567890123, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long)v[i]);
        assert_int_equal(i64_format(v[i], out), strlen(want));
        assert_string_equal(out, want);
    }
}

/* buf_put_fixed writes what "%.*f" writes, ties aside. */
static void test_buf_put_fixed(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    const double v[] = {0, 1, -1, 0.5, 0.87346, 0.99996, 0.99994, 1e-9, -0.00001, 123.456,
                        -2.5e8, 999999999.4};
    const char *want4[] = {"0.0000", "1.0000", "-1.0000", "0.5000", "0.8735", "1.0000",
                           "0.9999", "0.0000", "-0.0000", "123.4560", "-250000000.0000",
                           "999999999.4000"};
    for (size_t i = 0; i < N_ELEMS(v); i++) {
        buf_reset(&b);
        buf_put_fixed(&b, v[i], 4);
        assert_string_equal(buf_cstr(&b), want4[i]);
    }
    buf_reset(&b);
    buf_put_fixed(&b, 2.7, 0);
    buf_putc(&b, ' ');
    buf_put_fixed(&b, 1e14, 2); /* past 2^53 once scaled: printf's own */
    buf_putc(&b, ' ');
    buf_put_fixed(&b, NAN, 3);
    assert_string_equal(buf_cstr(&b), "3 100000000000000.00 nan");
    /* A pseudo-random sweep of probabilities against printf (values off a tie). */
    uint64_t x = 2463534242ull;
    char want[64];
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double p = (double)(x % 100000000u) / 1e8 + 1.3e-9;
        for (int places = 1; places <= 6; places++) {
            buf_reset(&b);
            buf_put_fixed(&b, p, places);
            snprintf(want, sizeof want, "%.*f", places, p);
            assert_string_equal(buf_cstr(&b), want);
        }
    }
    buf_free(&b);
}

/* ---- numbers ------------------------------------------------------------------ */

static void test_str_to_i64(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t min, max;
        int rc;
        int64_t want;
    } cases[] = {
        {"0", 0, 10, 0, 0},
        {"10", 0, 10, 0, 10},
        {"11", 0, 10, ERR_INVALID, 0},
        {"-1", 0, 10, ERR_INVALID, 0},
        {"-5", -10, 10, 0, -5},
        {"+7", 0, 10, 0, 7},
        {"007", 0, 10, 0, 7},
        {"9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX},
        {"-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN},
        {"9223372036854775808", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
        {"-9223372036854775809", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
        {"18446744073709551616", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
        {"99999999999999999999999", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
        {"", 0, 10, ERR_INVALID, 0},
        {"-", -10, 10, ERR_INVALID, 0},
        {"+", -10, 10, ERR_INVALID, 0},
        {" 1", 0, 10, ERR_INVALID, 0},
        {"1 ", 0, 10, ERR_INVALID, 0},
        {"0x10", 0, 100, ERR_INVALID, 0},
        {"1e3", 0, 10000, ERR_INVALID, 0},
        {"1.0", 0, 10, ERR_INVALID, 0},
        {"--1", -10, 10, ERR_INVALID, 0},
        {"12ab", 0, 100, ERR_INVALID, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        int64_t out = 12345;
        int rc = str_to_i64(str_from(cases[i].s), cases[i].min, cases[i].max, &out);
        if (rc != cases[i].rc)
            fail_msg("str_to_i64(\"%s\") = %d, want %d", cases[i].s, rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(out, cases[i].want);
        else
            assert_int_equal(out, 12345); /* untouched on failure */
    }
    /* A slice stops at its length, not at a NUL. */
    int64_t out = 0;
    assert_int_equal(str_to_i64((struct str){"12345", 3}, 0, 1000, &out), 0);
    assert_int_equal(out, 123);
}

static void test_str_to_double(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int ok;
        double want;
    } cases[] = {
        {"0", 1, 0},        {"1.5", 1, 1.5},     {"-2.25", 1, -2.25}, {"1e2", 1, 100},
        {"+4", 1, 4},       {".5", 1, 0.5},      {"100", 1, 100},     {"100.0001", 0, 0},
        {"-100.5", 0, 0},   {"", 0, 0},          {"nan", 0, 0},       {"inf", 0, 0},
        {"0x10", 0, 0},     {"1,5", 0, 0},       {" 1", 0, 0},        {"1 ", 0, 0},
        {"1e999", 0, 0},    {"-", 0, 0},         {".", 0, 0},         {"1..2", 0, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        double out = -77;
        int rc = str_to_double(str_from(cases[i].s), -100, 100, &out);
        if ((rc == 0) != cases[i].ok)
            fail_msg("str_to_double(\"%s\") = %d, want ok=%d", cases[i].s, rc, cases[i].ok);
        if (rc == 0)
            assert_true(out == cases[i].want);
        else
            assert_true(out == -77);
    }
    /* Longer than the internal copy: refused, not overflowed. */
    char big[100];
    memset(big, '1', sizeof big);
    double out;
    assert_int_equal(str_to_double((struct str){big, sizeof big}, 0, 1e300, &out), ERR_INVALID);
    /* A slice stops at its length. */
    assert_int_equal(str_to_double((struct str){"2.5xyz", 3}, 0, 10, &out), 0);
    assert_true(out == 2.5);
}

/* ---- UTF-8 ----------------------------------------------------------------- */

static void test_utf8_valid(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *s;
        size_t len;
        bool ok;
    } cases[] = {
        {"empty", "", 0, true},
        {"ascii", "hello", 5, true},
        {"cyrillic", "очередь", 14, true},
        {"3-byte euro", "\xE2\x82\xAC", 3, true},
        {"4-byte emoji", "\xF0\x9F\x98\xA1", 4, true},
        {"U+D7FF last before surrogates", "\xED\x9F\xBF", 3, true},
        {"U+E000 first after surrogates", "\xEE\x80\x80", 3, true},
        {"U+FFFF", "\xEF\xBF\xBF", 3, true},
        {"U+10FFFF", "\xF4\x8F\xBF\xBF", 4, true},
        {"U+0080", "\xC2\x80", 2, true},
        {"U+0800", "\xE0\xA0\x80", 3, true},
        {"U+10000", "\xF0\x90\x80\x80", 4, true},
        {"NUL at start", "\0a", 2, false},
        {"NUL inside", "ab\0cd", 5, false},
        {"overlong NUL C0 80", "\xC0\x80", 2, false},
        {"overlong C1 BF", "\xC1\xBF", 2, false},
        {"overlong 3-byte E0 80 80", "\xE0\x80\x80", 3, false},
        {"overlong 3-byte E0 9F BF", "\xE0\x9F\xBF", 3, false},
        {"overlong 4-byte F0 80 80 80", "\xF0\x80\x80\x80", 4, false},
        {"overlong 4-byte F0 8F BF BF", "\xF0\x8F\xBF\xBF", 4, false},
        {"surrogate D800", "\xED\xA0\x80", 3, false},
        {"surrogate DFFF", "\xED\xBF\xBF", 3, false},
        {"past U+10FFFF", "\xF4\x90\x80\x80", 4, false},
        {"F5 lead", "\xF5\x80\x80\x80", 4, false},
        {"FF byte", "\xFF", 1, false},
        {"stray continuation", "a\x80" "b", 3, false},
        {"truncated 2-byte at end", "a\xD0", 2, false},
        {"truncated 3-byte at end", "\xE2\x82", 2, false},
        {"truncated 4-byte at end", "\xF0\x9F\x98", 3, false},
        {"bad continuation", "\xD0\x41", 2, false},
        {"lead then lead", "\xE2\xE2\x82\xAC", 4, false},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        if (utf8_valid(cases[i].s, cases[i].len) != cases[i].ok)
            fail_msg("utf8_valid(%s) != %d", cases[i].name, cases[i].ok);
    /* The length bounds the check: a valid prefix of an invalid string is valid. */
    assert_true(utf8_valid("ab\xFF", 2));
    /* A sequence cut by the slice length is invalid. */
    assert_false(utf8_valid("\xD0\xBE", 1));
    assert_int_equal(utf8_length("очередь", 14), 7);
    assert_int_equal(utf8_length("a\xF0\x9F\x98\xA1z", 6), 3);
    assert_int_equal(utf8_length("", 0), 0);
}

/* ---- time -------------------------------------------------------------------- */

static void test_days_from_civil(void **state)
{
    (void)state;
    static const struct {
        int64_t y;
        unsigned m, d;
        int64_t days;
    } cases[] = {
        {1970, 1, 1, 0},        {1970, 1, 2, 1},       {1969, 12, 31, -1},
        {2000, 3, 1, 11017},    {2000, 2, 29, 11016},  {2024, 2, 29, 19782},
        {2024, 3, 1, 19783},    {1900, 3, 1, -25508},  {0, 3, 1, -719468},
        {2038, 1, 19, 24855},   {1600, 1, 1, -135140},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        int64_t got = days_from_civil(cases[i].y, cases[i].m, cases[i].d);
        if (got != cases[i].days)
            fail_msg("days_from_civil(%lld-%u-%u) = %lld, want %lld", (long long)cases[i].y,
                     cases[i].m, cases[i].d, (long long)got, (long long)cases[i].days);
        int y;
        unsigned m, d;
        civil_from_days(cases[i].days, &y, &m, &d);
        assert_int_equal(y, cases[i].y);
        assert_int_equal(m, cases[i].m);
        assert_int_equal(d, cases[i].d);
    }
    /* Round trip every day over four centuries, including both sides of the epoch. */
    for (int64_t z = -62000; z < 84000; z++) {
        int y;
        unsigned m, d;
        civil_from_days(z, &y, &m, &d);
        assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
        assert_int_equal(days_from_civil(y, m, d), z);
    }
}

static int64_t parse_ok(const char *s)
{
    int64_t ms = 0;
    int rc = time_parse_rfc3339(str_from(s), &ms);
    if (rc != 0)
        fail_msg("time_parse_rfc3339(\"%s\") refused", s);
    return ms;
}

static void test_time_parse(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2024-05-10T17:30:00Z", 1715362200000},
        {"2024-05-10T20:30:00+03:00", 1715362200000},
        {"2024-05-10T12:00:00-05:30", 1715362200000},
        {"2024-05-10t17:30:00z", 1715362200000},
        {"2024-05-10 17:30:00Z", 1715362200000},
        {"2024-05-10T17:30:00.5Z", 1715362200500},
        {"2024-05-10T17:30:00.123Z", 1715362200123},
        {"2024-05-10T17:30:00.123456Z", 1715362200123},
        {"2024-05-10T17:30:00.007+00:00", 1715362200007},
        {"2024-02-29T00:00:00Z", 1709164800000},
        {"2000-02-29T00:00:00Z", 951782400000},
        {"1969-12-31T23:59:59Z", -1000},
        {"2016-12-31T23:59:60Z", 1483228799000}, /* leap second clamps to :59 */
        {"2024-01-01T02:00:00+23:59", 1703988060000},
    };
    for (size_t i = 0; i < N_ELEMS(good); i++)
        if (parse_ok(good[i].s) != good[i].ms)
            fail_msg("time_parse_rfc3339(\"%s\") = %lld, want %lld", good[i].s,
                     (long long)parse_ok(good[i].s), (long long)good[i].ms);

    static const char *const bad[] = {
        "",
        "2024-05-10",
        "2024-05-10T17:30:00",        /* no offset */
        "2024-05-10T17:30Z",          /* no seconds */
        "2024-13-10T17:30:00Z",       /* month */
        "2024-00-10T17:30:00Z",
        "2024-04-31T17:30:00Z",       /* April has 30 days */
        "2023-02-29T00:00:00Z",       /* not a leap year */
        "1900-02-29T00:00:00Z",       /* century, not a leap year */
        "2024-05-00T17:30:00Z",
        "2024-05-10T24:00:00Z",
        "2024-05-10T17:60:00Z",
        "2024-05-10T17:30:61Z",
        "2024-05-10T17:30:00.Z",      /* empty fraction */
        "2024-05-10T17:30:00+03",     /* short offset */
        "2024-05-10T17:30:00+0300",
        "2024-05-10T17:30:00+24:00",
        "2024-05-10T17:30:00+03:60",
        "2024-05-10T17:30:00Zjunk",
        "2024-05-10T17:30:00+03:00x",
        "2024/05/10T17:30:00Z",
        "2024-05-10X17:30:00Z",
        "2O24-05-10T17:30:00Z",       /* letter O */
        "2024-05-10T17:30:00 Z",
        "+2024-05-10T17:30:00Z",
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        int64_t ms = 424242;
        if (time_parse_rfc3339(str_from(bad[i]), &ms) != ERR_INVALID)
            fail_msg("time_parse_rfc3339(\"%s\") accepted", bad[i]);
        assert_int_equal(ms, 424242);
    }
    /* The slice length is respected: the offset past len is not seen. */
    int64_t ms = 0;
    const char *s = "2024-05-10T17:30:00Z+03:00";
    assert_int_equal(time_parse_rfc3339((struct str){s, 20}, &ms), 0);
    assert_int_equal(ms, 1715362200000);
    assert_int_equal(time_parse_rfc3339((struct str){s, 19}, &ms), ERR_INVALID);
}

static void test_time_format_round_trip(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *s;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1715362200123, "2024-05-10T17:30:00.123Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {-1000, "1969-12-31T23:59:59.000Z"},
        {-86400001, "1969-12-30T23:59:59.999Z"},
        {951782400000, "2000-02-29T00:00:00.000Z"},
        {253402300799999, "9999-12-31T23:59:59.999Z"},
    };
    char out[40];
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        time_format_rfc3339(cases[i].ms, out, sizeof out);
        assert_string_equal(out, cases[i].s);
        assert_int_equal(parse_ok(out), cases[i].ms);
    }
    /* Offsets parse to the same instant, and format back in UTC. */
    time_format_rfc3339(parse_ok("2024-03-31T02:30:00.250+05:00"), out, sizeof out);
    assert_string_equal(out, "2024-03-30T21:30:00.250Z");
    time_format_rfc3339(parse_ok("2023-12-31T22:00:00-03:00"), out, sizeof out);
    assert_string_equal(out, "2024-01-01T01:00:00.000Z");
    /* A pseudo-random sweep of instants over two centuries. */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t ms = (int64_t)(x % 6311390400000ull) - 2208988800000; /* 1900..2100 */
        time_format_rfc3339(ms, out, sizeof out);
        assert_int_equal(strlen(out), 24);
        assert_int_equal(parse_ok(out), ms);
    }
    /* A short buffer is truncated, not overflowed. */
    char small[8];
    time_format_rfc3339(0, small, sizeof small);
    assert_string_equal(small, "1970-01");
}

/* ---- clock ------------------------------------------------------------------- */

static void test_clock_fake(void **state)
{
    (void)state;
    clock_set_fake_ms(1715362200000);
    assert_int_equal(clock_now_ms(), 1715362200000);
    assert_int_equal(clock_now_ms(), 1715362200000); /* frozen */
    clock_advance_ms(90 * 60 * 1000);
    assert_int_equal(clock_now_ms(), 1715362200000 + 5400000);
    clock_advance_ms(-400000);
    assert_int_equal(clock_now_ms(), 1715362200000 + 5000000);
    clock_set_fake_ms(0); /* back to the real clock */
    int64_t real = (int64_t)time(NULL) * 1000;
    int64_t now = clock_now_ms();
    assert_true(now >= real - 2000 && now <= real + 2000);
    uint64_t a = clock_mono_ns(), b = clock_mono_ns();
    assert_true(b >= a);
}

/* ---- config ------------------------------------------------------------------ */

/* A temporary file with the given text; the caller unlinks path. */
static void write_temp(char *path, size_t cap, const char *text)
{
    snprintf(path, cap, "/tmp/otklik-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_config_defaults_and_set(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.db, "otklik.db");
    assert_string_equal(c.log_level, "info");
    assert_int_equal(c.max_body_bytes, 1048576);
    assert_int_equal(c.import_max_bytes, 536870912);
    assert_int_equal(c.readers, 4);
    assert_int_equal(c.session_ttl_s, 43200);
    assert_false(c.cookie_secure);

    struct err_info e = {0};
    assert_int_equal(config_set(&c, "readers", "4", &e), 0);
    assert_int_equal(c.readers, 4);
    assert_int_equal(config_set(&c, "readers", "64", &e), 0);
    assert_int_equal(config_set(&c, "readers", "65", &e), ERR_INVALID);
    assert_string_equal(e.field, "readers");
    assert_non_null(strstr(e.message, "1 to 64"));
    assert_int_equal(c.readers, 64); /* unchanged by a refused value */
    err_clear(&e);
    assert_int_equal(config_set(&c, "readers", "four", &e), ERR_INVALID);
    err_clear(&e);
    assert_int_equal(config_set(&c, "readers", "", &e), ERR_INVALID);
    err_clear(&e);
    assert_int_equal(config_set(&c, "import_max_bytes", "4294967296", &e), 0);
    assert_int_equal(c.import_max_bytes, 4294967296);

    static const struct {
        const char *v;
        int rc;
        bool want;
    } bools[] = {{"true", 0, true},  {"false", 0, false}, {"1", 0, true}, {"0", 0, false},
                 {"yes", 0, true},   {"no", 0, false},    {"maybe", ERR_INVALID, false},
                 {"", ERR_INVALID, false}};
    for (size_t i = 0; i < N_ELEMS(bools); i++) {
        err_clear(&e);
        c.cookie_secure = !bools[i].want;
        assert_int_equal(config_set(&c, "cookie_secure", bools[i].v, &e), bools[i].rc);
        if (bools[i].rc == 0)
            assert_int_equal(c.cookie_secure, bools[i].want);
    }

    err_clear(&e);
    assert_int_equal(config_set(&c, "no_such_option", "1", &e), ERR_INVALID);
    assert_string_equal(e.field, "no_such_option");
    assert_non_null(strstr(e.message, "unknown"));
    assert_false(config_has("no_such_option"));
    assert_true(config_has("listen"));
    assert_true(config_has("max_body_bytes"));

    /* Strings: a value that does not fit is refused, not truncated. */
    char long_value[200];
    memset(long_value, 'a', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    err_clear(&e);
    assert_int_equal(config_set(&c, "listen", long_value, &e), ERR_INVALID);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_int_equal(config_set(&c, "listen", "0.0.0.0:0", NULL), 0);
    assert_string_equal(c.listen, "0.0.0.0:0");
}

static void test_config_file(void **state)
{
    (void)state;
    char path[64];
    write_temp(path, sizeof path,
               "# otklik test config\n"
               "\n"
               "   listen = 127.0.0.1:9999   \n"
               "readers=3\n"
               "\t# indented comment\n"
               "cookie_secure = true\r\n"
               "db = /tmp/some where.db\n");
    struct config c;
    config_defaults(&c);
    struct err_info e = {0};
    assert_int_equal(config_load_file(&c, path, &e), 0);
    assert_string_equal(c.listen, "127.0.0.1:9999");
    assert_int_equal(c.readers, 3);
    assert_true(c.cookie_secure);
    assert_string_equal(c.db, "/tmp/some where.db");
    assert_int_equal(c.max_connections, 2048); /* untouched: the default */
    unlink(path);

    /* Errors name the file and the line. */
    static const struct {
        const char *text;
        const char *line_tag;
        const char *field;
    } bad[] = {
        {"readers = 2\nlisten\n", ":2:", "config"},
        {"readers = 2\n\n# c\nbogus = 1\n", ":4:", "bogus"},
        {"readers = 0\n", ":1:", "readers"},
        {"cookie_secure = perhaps\n", ":1:", "cookie_secure"},
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        write_temp(path, sizeof path, bad[i].text);
        config_defaults(&c);
        err_clear(&e);
        assert_int_equal(config_load_file(&c, path, &e), ERR_INVALID);
        if (strstr(e.message, bad[i].line_tag) == NULL || strstr(e.message, path) == NULL)
            fail_msg("config error '%s' does not name %s%s", e.message, path, bad[i].line_tag);
        assert_string_equal(e.field, bad[i].field);
        unlink(path);
    }
    err_clear(&e);
    assert_int_equal(config_load_file(&c, "/nonexistent/otklik.conf", &e), ERR_INVALID);
    assert_non_null(strstr(e.message, "/nonexistent/otklik.conf"));
}

static void test_config_file_long_comment(void **state)
{
    (void)state;
    /* A valid file with a comment longer than the reader's line buffer (1024).
     * Expected: accepted.  The rest of the long line must not be read as a
     * separate "name = value" line. */
    size_t n = 1500;
    char *text = xmalloc(n + 64);
    memset(text, 'x', n);
    text[0] = '#';
    text[1] = ' ';
    memcpy(text + n, "\nreaders = 5\n", 14);
    char path[64];
    write_temp(path, sizeof path, text);
    free(text);
    struct config c;
    config_defaults(&c);
    struct err_info e = {0};
    int rc = config_load_file(&c, path, &e);
    unlink(path);
    if (rc != 0)
        fail_msg("a valid file with a long comment was refused: %s", e.message);
    assert_int_equal(c.readers, 5);
}

static void test_config_example_round_trip(void **state)
{
    (void)state;
    /* The generated example is a valid config file equal to the defaults. */
    char path[64];
    write_temp(path, sizeof path, "");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    config_write_example(f);
    fclose(f);
    struct config c, d;
    memset(&c, 0x55, sizeof c);
    config_defaults(&c);
    config_defaults(&d);
    c.readers = 1; /* the file must set it back */
    struct err_info e = {0};
    int rc = config_load_file(&c, path, &e);
    unlink(path);
    if (rc != 0)
        fail_msg("example config refused: %s", e.message);
    assert_memory_equal(&c, &d, sizeof c);
}

static void test_config_env(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    /* Precedence: a file value, then the environment over it. */
    char path[64];
    write_temp(path, sizeof path, "readers = 3\nlog_level = debug\n");
    struct err_info e = {0};
    assert_int_equal(config_load_file(&c, path, &e), 0);
    unlink(path);
    setenv("OTKLIK_READERS", "6", 1);
    setenv("OTKLIK_COOKIE_SECURE", "yes", 1);
    setenv("OTKLIK_MAX_BODY_BYTES", "2048", 1);
    assert_int_equal(config_load_env(&c, &e), 0);
    assert_int_equal(c.readers, 6);
    assert_true(c.cookie_secure);
    assert_int_equal(c.max_body_bytes, 2048);
    assert_string_equal(c.log_level, "debug"); /* from the file: no env for it */
    setenv("OTKLIK_READERS", "0", 1);
    err_clear(&e);
    assert_int_equal(config_load_env(&c, &e), ERR_INVALID);
    assert_non_null(strstr(e.message, "OTKLIK_READERS"));
    assert_string_equal(e.field, "readers");
    unsetenv("OTKLIK_READERS");
    unsetenv("OTKLIK_COOKIE_SECURE");
    unsetenv("OTKLIK_MAX_BODY_BYTES");
    config_defaults(&c);
    assert_int_equal(config_load_env(&c, NULL), 0);
    assert_int_equal(c.readers, 4);
}

/* ---- histogram ---------------------------------------------------------------- */

static void test_histogram(void **state)
{
    (void)state;
    struct histogram h;
    memset(&h, 0, sizeof h);
    assert_true(histogram_quantile_s(&h, 0.99) == 0);
    /* Bucket bounds are inclusive upper bounds ("le"). */
    histogram_observe_ns(&h, 50000);     /* 0.05 ms -> le 0.0001 */
    histogram_observe_ns(&h, 100000);    /* exactly 0.1 ms -> le 0.0001 */
    histogram_observe_ns(&h, 100001);    /* -> le 0.00025 */
    histogram_observe_ns(&h, 3000000);   /* 3 ms -> le 0.005 */
    histogram_observe_ns(&h, 20000000000ull); /* 20 s -> +Inf */
    assert_int_equal(h.count, 5);
    assert_int_equal(h.buckets[0], 2);
    assert_int_equal(h.buckets[1], 1);
    assert_int_equal(h.buckets[5], 1);
    assert_int_equal(h.buckets[HISTOGRAM_BUCKETS], 1);
    assert_int_equal(h.sum_ns, 50000 + 100000 + 100001 + 3000000 + 20000000000ull);

    struct buf b;
    buf_init(&b, 0);
    histogram_write(&b, "otklik_test_seconds", "test latency", &h);
    assert_int_equal(buf_error(&b), 0);
    /* Copied out so that a failing assertion leaks nothing. */
    char t[4096];
    assert_true(b.len < sizeof t);
    memcpy(t, buf_cstr(&b), b.len + 1);
    buf_free(&b);
    assert_non_null(strstr(t, "# HELP otklik_test_seconds test latency\n"));
    assert_non_null(strstr(t, "# TYPE otklik_test_seconds histogram\n"));
    assert_non_null(strstr(t, "otklik_test_seconds_bucket{le=\"0.0001\"} 2\n"));
    assert_non_null(strstr(t, "otklik_test_seconds_bucket{le=\"0.00025\"} 3\n"));
    assert_non_null(strstr(t, "otklik_test_seconds_bucket{le=\"0.0025\"} 3\n")); /* cumulative */
    assert_non_null(strstr(t, "otklik_test_seconds_bucket{le=\"0.005\"} 4\n"));
    assert_non_null(strstr(t, "otklik_test_seconds_bucket{le=\"10\"} 4\n"));
    assert_non_null(strstr(t, "otklik_test_seconds_bucket{le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(t, "otklik_test_seconds_count 5\n"));
    assert_non_null(strstr(t, "otklik_test_seconds_sum 20.003250\n"));

    /* Quantiles: 100 observations, 90 at 0.3 ms and 10 at 40 ms. */
    memset(&h, 0, sizeof h);
    for (int i = 0; i < 90; i++)
        histogram_observe_ns(&h, 300000);
    for (int i = 0; i < 10; i++)
        histogram_observe_ns(&h, 40000000);
    assert_true(histogram_quantile_s(&h, 0.5) == 0.0005);
    assert_true(histogram_quantile_s(&h, 0.9) == 0.0005);
    assert_true(histogram_quantile_s(&h, 0.95) == 0.05);
    assert_true(histogram_quantile_s(&h, 0.99) == 0.05);
    for (int i = 1; i < HISTOGRAM_BUCKETS; i++)
        assert_true(histogram_bounds_s[i] > histogram_bounds_s[i - 1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_table),
        cmocka_unit_test(test_err_set_first_wins),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_xgrow),
        cmocka_unit_test(test_buf_basic),
        cmocka_unit_test(test_buf_cap_sticky),
        cmocka_unit_test(test_buf_put_i64),
        cmocka_unit_test(test_str_copy_and_i64_format),
        cmocka_unit_test(test_buf_put_fixed),
        cmocka_unit_test(test_str_to_i64),
        cmocka_unit_test(test_str_to_double),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_days_from_civil),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_format_round_trip),
        cmocka_unit_test(test_clock_fake),
        cmocka_unit_test(test_config_defaults_and_set),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_config_file_long_comment),
        cmocka_unit_test(test_config_example_round_trip),
        cmocka_unit_test(test_config_env),
        cmocka_unit_test(test_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
