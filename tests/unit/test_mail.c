/*
 * test_mail.c - e-mail parsing with GMime on real messages: charsets
 * (UTF-8, KOI8-R, windows-1251), transfer encodings (8bit, base64,
 * quoted-printable), HTML-only mail, attachments, threading headers, a
 * subject tag, broken MIME and things that are not mail at all.
 */
#include "testutil.h"

#include "channels/channels_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX "tests/fixtures/channels/email/"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *data = malloc(1 << 20);
    *len = fread(data, 1, 1 << 20, f);
    fclose(f);
    return data;
}

/* Parse a fixture; returns the one item (caller decrefs items). */
static json_t *parse(const char *name, json_t **items)
{
    size_t len;
    char path[256];
    snprintf(path, sizeof path, FIX "%s", name);
    char *raw = slurp(path, &len);
    *items = json_array();
    struct err_info err = {0};
    int rc = email_parse(raw, len, *items, &err);
    free(raw);
    assert_int_equal(rc, 0);
    assert_int_equal(json_array_size(*items), 1);
    return json_array_get(*items, 0);
}

static const char *req_str(json_t *item, const char *key)
{
    return json_string_value(json_object_get(json_object_get(item, "request"), key));
}

static const char *cust_str(json_t *item, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(item, "request"), "customer"), key));
}

static void test_utf8_plain(void **state)
{
    (void)state;
    json_t *items, *it = parse("utf8_plain.eml", &items);
    assert_string_equal(req_str(it, "subject"), "Просроченный творог");
    assert_non_null(strstr(req_str(it, "text"), "срок годности истёк 5 мая"));
    assert_string_equal(cust_str(it, "name"), "Ольга Петрова");
    assert_string_equal(cust_str(it, "email"), "Olga.Petrova@Example.ru");
    assert_string_equal(req_str(it, "source_id"), "20240510143000.1111@mail.example.ru");
    assert_string_equal(req_str(it, "created_at"), "2024-05-10T11:30:00.000Z");
    assert_string_equal(json_string_value(json_object_get(it, "peer")), "olga.petrova@example.ru");
    json_decref(items);
}

static void test_koi8r_base64(void **state)
{
    (void)state;
    json_t *items, *it = parse("koi8r_base64.eml", &items);
    assert_string_equal(req_str(it, "subject"), "Бонусы не начислены");
    assert_string_equal(req_str(it, "text"),
                        "Добрый день. Бонусы за покупку от 3 мая так и не начислились. Карта "
                        "7001-2345.");
    json_decref(items);
}

static void test_cp1251_qp(void **state)
{
    (void)state;
    json_t *items, *it = parse("cp1251_qp.eml", &items);
    assert_string_equal(req_str(it, "subject"), "Жалоба на кассира");
    assert_non_null(strstr(req_str(it, "text"), "Кассир нагрубил мне в магазине на Ленина, 5."));
    assert_non_null(strstr(req_str(it, "text"), "Жду ответа."));
    assert_string_equal(cust_str(it, "name"), "Marina");
    json_decref(items);
}

static void test_html_only(void **state)
{
    (void)state;
    json_t *items, *it = parse("html_only.eml", &items);
    const char *t = req_str(it, "text");
    assert_non_null(strstr(t, "Заказ № 555 задерживается — уже 3 дня."));
    assert_non_null(strstr(t, "- Курьер не звонил"));
    assert_non_null(strstr(t, "Сумма 1 299 ₽"));
    assert_null(strstr(t, "alert"));
    assert_null(strstr(t, "color:red"));
    assert_null(strstr(t, "<"));
    json_decref(items);
}

static void test_attachments(void **state)
{
    (void)state;
    json_t *items, *it = parse("multipart_attachment.eml", &items);
    assert_string_equal(req_str(it, "text"), "Прикладываю чек, бутылка была разбита.");
    json_t *atts = json_object_get(it, "attachments");
    assert_int_equal(json_array_size(atts), 2);
    json_t *png = json_array_get(atts, 0);
    assert_string_equal(json_string_value(json_object_get(png, "file_name")), "чек.png");
    assert_string_equal(json_string_value(json_object_get(png, "mime")), "image/png");
    assert_int_equal(json_integer_value(json_object_get(png, "file_size")), 70);
    assert_non_null(json_string_value(json_object_get(png, "data_b64")));
    json_t *pdf = json_array_get(atts, 1);
    assert_string_equal(json_string_value(json_object_get(pdf, "file_name")), "receipt.pdf");
    assert_int_equal(json_integer_value(json_object_get(pdf, "file_size")), 21);
    json_decref(items);
}

static void test_broken_mime(void **state)
{
    (void)state;
    json_t *items, *it = parse("broken_mime.eml", &items);
    /* Undeclared 8-bit text is read as windows-1251, never stored as invalid UTF-8. */
    assert_string_equal(req_str(it, "text"), "Цена на полке 99, на кассе 149");
    json_decref(items);
}

static void test_threading_headers(void **state)
{
    (void)state;
    json_t *items, *it = parse("reply_in_reply_to.eml", &items);
    json_t *refs = json_object_get(it, "refs");
    assert_int_equal(json_array_size(refs), 3);
    assert_string_equal(json_string_value(json_array_get(refs, 0)), "OUTBOX_ID_PLACEHOLDER");
    assert_string_equal(json_string_value(json_array_get(refs, 1)),
                        "20240510143000.1111@mail.example.ru");
    json_t *meta = json_object_get(it, "reply_meta");
    assert_string_equal(json_string_value(json_object_get(meta, "message_id")),
                        "20240510160000.2222@mail.example.ru");
    json_decref(items);
    it = parse("subject_tag.eml", &items);
    assert_null(json_object_get(it, "tag_request")); /* "[#REQUEST_ID]" is not a number */
    json_decref(items);
}

static void test_not_mail(void **state)
{
    (void)state;
    static const char *const bad[] = {"not_a_message.eml", "no_from.eml"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        char path[256];
        snprintf(path, sizeof path, FIX "%s", bad[i]);
        char *raw = slurp(path, &len);
        json_t *items = json_array();
        struct err_info err = {0};
        assert_int_equal(email_parse(raw, len, items, &err), ERR_INVALID);
        assert_int_equal(json_array_size(items), 0);
        free(raw);
        json_decref(items);
    }
}

static void test_subject_tag_number(void **state)
{
    (void)state;
    const char *m = "From: a@b.ru\r\nSubject: Re: [#x] Ответ [#42]\r\n\r\nтекст\r\n";
    json_t *items = json_array();
    struct err_info err = {0};
    assert_int_equal(email_parse(m, strlen(m), items, &err), 0);
    json_t *it = json_array_get(items, 0);
    assert_int_equal(json_integer_value(json_object_get(it, "tag_request")), 42);
    /* No Message-ID: the content hash identifies redeliveries. */
    assert_true(strncmp(req_str(it, "source_id"), "sha256:", 7) == 0);
    json_decref(items);
}

static void test_html_to_text(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"<p>a</p><p>b</p>", "a\nb"},
        {"x&lt;y &amp;&amp; y&gt;z", "x<y && y>z"},
        {"<!-- c -->  many    spaces\n\n here", "many spaces here"},
        {"a<br>b<br/>c", "a\nb\nc"},
        {"&#1055;&#x440;&#1080;", "При"},
        {"<style>x{}</style><script>y()</script>ok", "ok"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b;
        buf_init(&b, 0);
        html_to_text(cases[i][0], &b);
        assert_string_equal(buf_cstr(&b), cases[i][1]);
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_plain),      cmocka_unit_test(test_koi8r_base64),
        cmocka_unit_test(test_cp1251_qp),       cmocka_unit_test(test_html_only),
        cmocka_unit_test(test_attachments),     cmocka_unit_test(test_broken_mime),
        cmocka_unit_test(test_threading_headers), cmocka_unit_test(test_not_mail),
        cmocka_unit_test(test_subject_tag_number), cmocka_unit_test(test_html_to_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
