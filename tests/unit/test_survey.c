/*
 * test_survey.c - survey invitation tokens (round trip, tampering, wrong
 * secret, malformed text), the survey vocabulary, and the output escapers
 * used by the survey page (HTML) and the report export (CSV).
 */
#include "testutil.h"

#include "analytics/analytics_int.h"
#include "http/html.h"
#include "core/buf.h"

#include <sodium.h>
#include <string.h>

static void test_token_round_trip(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    unsigned char key[32], other[32];
    memset(key, 7, sizeof key);
    memset(other, 8, sizeof other);
    char tok[64];
    survey_token_make(key, 12345, tok, sizeof tok);
    assert_true(strncmp(tok, "12345.", 6) == 0);
    assert_int_equal(strlen(tok), 6 + 22);
    assert_true(survey_token_check(key, tok) == 12345);
    assert_true(survey_token_check(other, tok) == 0);
    /* Another id with the same mac is refused. */
    char forged[64];
    memcpy(forged, tok, sizeof tok);
    forged[0] = '2';
    assert_true(survey_token_check(key, forged) == 0);
    /* A changed mac character is refused. */
    memcpy(forged, tok, sizeof tok);
    forged[10] = forged[10] == 'A' ? 'B' : 'A';
    assert_true(survey_token_check(key, forged) == 0);
    static const char *const bad[] = {"", ".", "12345", "12345.", "abc.def", "-1.AAAAAAAAAAAAAAAAAAAAAA",
                                      "0.AAAAAAAAAAAAAAAAAAAAAA", "1.AAAA", NULL};
    for (int i = 0; bad[i]; i++)
        assert_true(survey_token_check(key, bad[i]) == 0);
    assert_true(survey_token_check(key, NULL) == 0);
}

static void test_vocabulary(void **state)
{
    (void)state;
    const struct survey_kind_def *nps = survey_kind_find("nps");
    assert_non_null(nps);
    assert_int_equal(nps->min, 0);
    assert_int_equal(nps->max, 10);
    assert_int_equal(nps->low_default, 6); /* detractors */
    assert_int_equal(survey_kind_find("csat")->max, 5);
    assert_null(survey_kind_find("stars"));
    assert_null(survey_kind_find(NULL));
    int q = survey_reason_find("queue");
    assert_true(q >= 0);
    assert_string_equal(survey_reasons[q].department, "store_ops");
    assert_int_equal(survey_reason_find("weather"), -1);
}

static void test_html_text(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    html_text(&b, "<a href=\"x\" onclick='y'>Tom & Jerry</a>");
    assert_string_equal(buf_cstr(&b),
                        "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;");
    buf_reset(&b);
    html_text(&b, "Холодно в зале");
    assert_string_equal(buf_cstr(&b), "Холодно в зале");
    buf_free(&b);
}

static void test_csv_field(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"plain", "plain"},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"two\r\nlines", "\"two\r\nlines\""},
        {"=SUM(A1)", "\"'=SUM(A1)\""}, /* not a formula in a spreadsheet */
        {"-12.5", "-12.5"},            /* negative numbers stay numbers */
        {"@cmd", "\"'@cmd\""},
        {"", ""},
    };
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_reset(&b);
        csv_field(&b, cases[i][0]);
        assert_string_equal(buf_cstr(&b), cases[i][1]);
    }
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_round_trip), cmocka_unit_test(test_vocabulary),
        cmocka_unit_test(test_html_text), cmocka_unit_test(test_csv_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
