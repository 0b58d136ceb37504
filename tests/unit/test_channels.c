/*
 * test_channels.c - the pieces webhooks are verified and decoded with:
 * HMAC-SHA256 (RFC 4231 vector), Twilio's signature (its documented
 * example), constant-time compares, form bodies, sealed secrets.
 */
#include "testutil.h"

#include "channels/channels_int.h"

#include <sodium.h>
#include <string.h>

static void test_hmac_sha256(void **state)
{
    (void)state;
    char out[65];
    const char *msg = "what do ya want for nothing?";
    hmac_sha256_hex("Jefe", msg, strlen(msg), out);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_twilio_signature(void **state)
{
    (void)state;
    json_t *form = json_pack("{s:s, s:s, s:s, s:s, s:s}", "CallSid", "CA1234567890ABCDE", "Caller",
                             "+12349013030", "Digits", "1234", "From", "+12349013030", "To",
                             "+18005551212");
    char out[64];
    twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form, out, sizeof out);
    assert_string_equal(out, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    json_decref(form);
}

static void test_ct_streq(void **state)
{
    (void)state;
    assert_true(ct_streq("secret", "secret"));
    assert_false(ct_streq("secret", "secreT"));
    assert_false(ct_streq("secret", "secret2"));
    assert_false(ct_streq("", ""));
    assert_false(ct_streq(NULL, "x"));
    assert_false(ct_streq("x", NULL));
}

static void test_form_parse(void **state)
{
    (void)state;
    const char *body = "From=%2B79161234567&Body=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82+%D0%BC%D0%B8%D1%80"
                       "&data%5B%5D=sms_status%0A000-1%0A103&data[]=x&bad=%ZZ&=skip";
    json_t *o = form_parse(body, strlen(body));
    assert_string_equal(json_string_value(json_object_get(o, "From")), "+79161234567");
    assert_string_equal(json_string_value(json_object_get(o, "Body")), "Привет мир");
    json_t *d = json_object_get(o, "data");
    assert_int_equal(json_array_size(d), 2);
    assert_string_equal(json_string_value(json_array_get(d, 0)), "sms_status\n000-1\n103");
    assert_string_equal(json_string_value(json_object_get(o, "bad")), "%ZZ");
    assert_int_equal(json_object_size(o), 4);
    json_decref(o);
    struct buf b;
    buf_init(&b, 0);
    form_put(&b, "msg", "Да & нет", true);
    form_put(&b, "to", "+7 916", false);
    assert_string_equal(buf_cstr(&b), "msg=%D0%94%D0%B0%20%26%20%D0%BD%D0%B5%D1%82&to=%2B7%20916");
    buf_free(&b);
}

static void test_secrets_seal(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    unsigned char key[32], other[32];
    randombytes_buf(key, sizeof key);
    randombytes_buf(other, sizeof other);
    char *sealed = secrets_seal(key, "{\"bot_token\":\"123:abc\"}");
    assert_null(strstr(sealed, "123:abc"));
    json_t *o = secrets_open(key, sealed);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "bot_token")), "123:abc");
    json_decref(o);
    assert_null(secrets_open(other, sealed));
    assert_null(secrets_open(key, "not base64 at all!"));
    free(sealed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_sha256), cmocka_unit_test(test_twilio_signature),
        cmocka_unit_test(test_ct_streq),    cmocka_unit_test(test_form_parse),
        cmocka_unit_test(test_secrets_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
