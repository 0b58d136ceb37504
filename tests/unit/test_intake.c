/*
 * test_intake.c - input rules and the NDJSON import.
 *
 * The tabular cases live in tests/fixtures/intake: phones.json (input ->
 * E.164, and refusals), emails.json, requests.json (request objects and
 * their outcome) and import_mixed.ndjson (good and bad lines whose expected
 * report is written out below).  What JSON fixtures cannot carry (invalid
 * UTF-8, very long texts, times relative to the fake clock) is built here.
 */
#include "testutil.h"

#include "classify/text.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/str.h"
#include "intake/import.h"
#include "intake/intake.h"
#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define T0_MS 1715342400000 /* 2024-05-10T12:00:00Z */

static const char *fixture_dir(void)
{
    const char *d = getenv("OTKLIK_FIXTURES");
    return d ? d : "tests/fixtures";
}

static json_t *load_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/intake/%s", fixture_dir(), name);
    json_error_t je;
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &je);
    if (j == NULL)
        fail_msg("cannot load %s: %s (line %d)", path, je.text, je.line);
    return j;
}

/* The whole file as a heap string (caller frees). */
static char *read_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/intake/%s", fixture_dir(), name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = xmalloc((size_t)n + 1);
    size_t got = fread(data, 1, (size_t)n, f);
    fclose(f);
    data[got] = '\0';
    *len = got;
    return data;
}

/* ---- identities -------------------------------------------------------------------- */

static void test_phone_table(void **state)
{
    (void)state;
    json_t *fx = load_fixture("phones.json");
    json_t *valid = json_object_get(fx, "valid"), *invalid = json_object_get(fx, "invalid");
    size_t i;
    json_t *c;
    char failures[2048] = "";
    size_t nf = 0;
    assert_true(json_array_size(valid) >= 10);
    json_array_foreach(valid, i, c)
    {
        const char *in = json_string_value(json_array_get(c, 0));
        const char *want = json_string_value(json_array_get(c, 1));
        char out[17] = "";
        int rc = intake_phone_normalise(in, out);
        if (rc != 0 || strcmp(out, want) != 0)
            nf += (size_t)snprintf(failures + nf, sizeof failures - nf,
                                   "  \"%s\": rc %d \"%s\", want \"%s\"\n", in, rc,
                                   rc == 0 ? out : "", want);
    }
    json_array_foreach(invalid, i, c)
    {
        const char *in = json_string_value(c);
        char out[17] = "";
        int rc = intake_phone_normalise(in, out);
        if (rc != ERR_INVALID && nf < sizeof failures)
            nf += (size_t)snprintf(failures + nf, sizeof failures - nf,
                                   "  \"%s\": accepted as \"%s\"\n", in, out);
    }
    json_decref(fx);
    if (nf > 0)
        fail_msg("phone cases failed:\n%s", failures);
}

static void test_email_table(void **state)
{
    (void)state;
    json_t *fx = load_fixture("emails.json");
    size_t i;
    json_t *c;
    char failures[2048] = "";
    size_t nf = 0;
    json_array_foreach(json_object_get(fx, "valid"), i, c)
    {
        const char *in = json_string_value(json_array_get(c, 0));
        const char *want = json_string_value(json_array_get(c, 1));
        char out[256] = "";
        int rc = intake_email_normalise(in, out, sizeof out);
        if (rc != 0 || strcmp(out, want) != 0)
            nf += (size_t)snprintf(failures + nf, sizeof failures - nf,
                                   "  \"%s\": rc %d \"%s\", want \"%s\"\n", in, rc, out, want);
    }
    json_array_foreach(json_object_get(fx, "invalid"), i, c)
    {
        const char *in = json_string_value(c);
        char out[256] = "";
        if (intake_email_normalise(in, out, sizeof out) != ERR_INVALID && nf < sizeof failures)
            nf += (size_t)snprintf(failures + nf, sizeof failures - nf, "  \"%s\": accepted\n",
                                   in);
    }
    json_decref(fx);
    if (nf > 0)
        fail_msg("e-mail cases failed:\n%s", failures);
    /* The output capacity is respected: too long for out is refused, not truncated. */
    char small[8];
    assert_int_equal(intake_email_normalise("abc@d.ef", small, sizeof small), ERR_INVALID);
    assert_int_equal(intake_email_normalise("ab@d.ef", small, sizeof small), 0);
    assert_string_equal(small, "ab@d.ef");
    /* 255 bytes: over the limit of 254. */
    char big[256];
    memset(big, 'a', 255);
    memcpy(big + 245, "@mail.ru", 8);
    big[255] = '\0';
    char out[300];
    assert_int_equal(intake_email_normalise(big, out, sizeof out), ERR_INVALID);
}

static void test_customer_parse(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 0);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "phone", "8 (912) 345-67-89", "email",
                          " Anna@Example.RU ", "telegram_id", "100500", "card", "AB-12",
                          "name", "  Анна  ", "tier", "gold");
    struct customer_in c;
    struct err_info err = {0};
    assert_int_equal(intake_customer_parse(o, "customer", &a, &c, &err), 0);
    json_decref(o);
    assert_string_equal(c.ids[0], "+79123456789");
    assert_string_equal(c.ids[1], "anna@example.ru");
    assert_string_equal(c.ids[2], "AB-12");
    assert_string_equal(c.ids[3], "100500");
    assert_null(c.ids[4]);
    assert_string_equal(c.name, "Анна");
    assert_string_equal(c.tier, "gold");
    assert_true(customer_in_has_identity(&c));
    /* Empty and NULL objects: no identity. */
    o = json_object();
    assert_int_equal(intake_customer_parse(o, "customer", &a, &c, &err), 0);
    assert_false(customer_in_has_identity(&c));
    json_decref(o);
    assert_int_equal(intake_customer_parse(NULL, "customer", &a, &c, &err), 0);
    assert_false(customer_in_has_identity(&c));
    /* Error fields carry the prefix. */
    o = json_pack("{s:s}", "viber_id", "");
    assert_int_equal(intake_customer_parse(o, "client", &a, &c, &err), 0); /* blank: absent */
    json_decref(o);
    o = json_pack("{s:i}", "viber_id", 5);
    assert_int_equal(intake_customer_parse(o, "client", &a, &c, &err), ERR_INVALID);
    assert_string_equal(err.field, "client.viber_id");
    json_decref(o);
    arena_free(&a);
}

/* ---- requests ------------------------------------------------------------------------ */

static void test_request_table(void **state)
{
    (void)state;
    clock_set_fake_ms(T0_MS);
    json_t *fx = load_fixture("requests.json");
    size_t i;
    json_t *c;
    struct arena a;
    arena_init(&a, 0);
    char failures[4096] = "";
    size_t nf = 0;
    json_array_foreach(json_object_get(fx, "cases"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        bool is_import = json_is_true(json_object_get(c, "import"));
        bool want_ok = json_is_true(json_object_get(c, "ok"));
        struct request_in r;
        struct err_info err = {0};
        int rc = intake_request_parse(json_object_get(c, "input"), is_import, &a, &r, &err);
        if (want_ok) {
            const char *kind = json_string_value(json_object_get(c, "kind"));
            if (rc != 0)
                nf += (size_t)snprintf(failures + nf, sizeof failures - nf,
                                       "  %s: refused: %s (%s)\n", name, err.message, err.field);
            else if (r.kind == NULL || strcmp(r.kind, kind) != 0 || r.text == NULL ||
                     r.search_terms == NULL)
                nf += (size_t)snprintf(failures + nf, sizeof failures - nf,
                                       "  %s: kind %s, want %s\n", name, r.kind ? r.kind : "-",
                                       kind);
        } else {
            const char *field = json_string_value(json_object_get(c, "field"));
            if (rc != ERR_INVALID || strcmp(err.field, field) != 0 || err.message[0] == '\0')
                nf += (size_t)snprintf(failures + nf, sizeof failures - nf,
                                       "  %s: rc %d field '%s', want ERR_INVALID field '%s'\n",
                                       name, rc, err.field, field);
        }
        if (nf >= sizeof failures)
            nf = sizeof failures - 1;
        arena_reset(&a);
    }
    json_decref(fx);
    arena_free(&a);
    clock_set_fake_ms(0);
    if (nf > 0)
        fail_msg("request cases failed:\n%s", failures);
}

static void test_request_fields(void **state)
{
    (void)state;
    clock_set_fake_ms(T0_MS);
    struct arena a;
    arena_init(&a, 0);
    struct request_in r;
    struct err_info err = {0};
    json_t *o = json_loads("{\"channel\": \"telegram\", \"source_id\": \" tg-1 \", "
                           "\"customer\": {\"phone\": \"+7 912 3456789\"}, \"store\": \"S1\", "
                           "\"subject\": \"Очереди\", \"text\": \"  Касса не работает  \", "
                           "\"created_at\": \"2024-05-10T14:00:00+03:00\"}",
                           0, NULL);
    assert_non_null(o);
    assert_int_equal(intake_request_parse(o, false, &a, &r, &err), 0);
    json_decref(o);
    assert_string_equal(r.channel, "telegram");
    assert_string_equal(r.source_id, "tg-1");
    assert_string_equal(r.customer.ids[0], "+79123456789");
    assert_string_equal(r.store_code, "S1");
    assert_string_equal(r.text, "Касса не работает");
    assert_int_equal(r.created_at_ms, T0_MS - 3600000);
    assert_null(r.status); /* live intake: no history */
    assert_non_null(strstr(r.search_terms, "очеред"));
    assert_non_null(strstr(r.search_terms, "касс"));
    arena_free(&a);
    clock_set_fake_ms(0);
}

static int parse_text(struct arena *a, json_t *text, bool is_import, const char *created_at,
                      struct err_info *err)
{
    json_t *o = json_pack("{s:s, s:o}", "channel", "web", "text", text);
    if (created_at)
        json_object_set_new(o, "created_at", json_string(created_at));
    struct request_in r;
    err_clear(err);
    int rc = intake_request_parse(o, is_import, a, &r, err);
    json_decref(o);
    return rc;
}

static void test_request_text_limits(void **state)
{
    (void)state;
    clock_set_fake_ms(T0_MS);
    struct arena a;
    arena_init(&a, 0);
    struct err_info err = {0};
    /* The limit counts characters, not bytes: 20000 Cyrillic letters (40000 bytes) fit. */
    size_t n = INTAKE_MAX_TEXT;
    char *s = xmalloc(2 * (n + 1) + 1);
    for (size_t i = 0; i <= n; i++)
        memcpy(s + 2 * i, "ж", 2);
    s[2 * n] = '\0';
    assert_int_equal(parse_text(&a, json_string(s), false, NULL, &err), 0);
    s[2 * n] = "ж"[0];
    s[2 * n + 2] = '\0';
    assert_int_equal(parse_text(&a, json_string(s), false, NULL, &err), ERR_INVALID);
    assert_string_equal(err.field, "text");
    free(s);
    /* Invalid UTF-8 (jansson's parser would refuse it; other channel decoders may not). */
    static const char *const bad_utf8[] = {"caf\xE9", "\xC0\x80", "\xED\xA0\x80", "ok\xF0\x9F"};
    for (size_t i = 0; i < N_ELEMS(bad_utf8); i++) {
        assert_int_equal(parse_text(&a, json_stringn_nocheck(bad_utf8[i], strlen(bad_utf8[i])),
                                    false, NULL, &err),
                         ERR_INVALID);
        assert_string_equal(err.field, "text");
    }
    /* An embedded NUL. */
    assert_int_equal(parse_text(&a, json_stringn("a\0b", 3), false, NULL, &err), ERR_INVALID);
    assert_string_equal(err.field, "text");

    /* created_at: a little clock skew is tolerated, the future is not (live intake only). */
    static const struct {
        const char *at;
        bool is_import;
        int rc;
    } times[] = {
        {"2024-05-10T12:04:00Z", false, 0},
        {"2024-05-10T12:06:00Z", false, ERR_INVALID},
        {"2024-05-10T15:06:00+03:00", false, ERR_INVALID},
        {"2024-05-10T15:04:00+03:00", false, 0},
        {"2024-05-11T12:00:00Z", false, ERR_INVALID},
        {"2024-05-11T12:00:00Z", true, 0},
        {"2019-01-01T00:00:00Z", false, 0},
    };
    for (size_t i = 0; i < N_ELEMS(times); i++) {
        int rc = parse_text(&a, json_string("x"), times[i].is_import, times[i].at, &err);
        if (rc != times[i].rc)
            fail_msg("created_at %s (import %d): rc %d, want %d", times[i].at, times[i].is_import,
                     rc, times[i].rc);
        if (rc != 0)
            assert_string_equal(err.field, "created_at");
    }
    arena_free(&a);
    clock_set_fake_ms(0);
}

static void test_error_messages_are_utf8(void **state)
{
    (void)state;
    /* Error messages quote the offending value; they go into JSON error bodies and the import
     * report, so they must stay valid UTF-8 even when the quote is cut short. */
    struct arena a;
    arena_init(&a, 0);
    char failures[512] = "";
    size_t nf = 0;
    static const char *const inputs[] = {
        "{\"channel\": \"zтелеграмтелеграмтелеграмтелеграм\", \"text\": \"x\"}",
        "{\"channel\": \"web\", \"text\": \"x\", \"kind\": \"zжалобажалобажалобажалобажалоба\"}",
        "{\"channel\": \"web\", \"text\": \"x\", \"customer\": "
        "{\"phone\": \"zтелефонтелефонтелефонтелефонтелефон\"}}",
        "{\"channel\": \"web\", \"text\": \"x\", \"customer\": "
        "{\"email\": \"почтапочтапочтапочтапочтапочтапочтапочта\"}}",
    };
    for (size_t i = 0; i < N_ELEMS(inputs); i++) {
        json_t *o = json_loads(inputs[i], 0, NULL);
        assert_non_null(o);
        struct request_in r;
        struct err_info err = {0};
        int rc = intake_request_parse(o, false, &a, &r, &err);
        json_decref(o);
        assert_int_equal(rc, ERR_INVALID);
        /* Valid, so that it can be put into a JSON error body. */
        json_t *m = json_string(err.message);
        if (!utf8_valid(err.message, strlen(err.message)) || m == NULL)
            nf += (size_t)snprintf(failures + nf, sizeof failures - nf,
                                   " %s", err.field);
        json_decref(m);
    }
    arena_free(&a);
    if (nf > 0)
        fail_msg("error messages that are not valid UTF-8, by field:%s", failures);
}

/* ---- import --------------------------------------------------------------------------- */

struct fx {
    char dir[64];
    char path[128];
    struct store *s;
};

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/otklik-test-intake-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
    clock_set_fake_ms(T0_MS);
    struct store_options opt = {.n_readers = 2, .reader_cache_kib = 512, .writer_cache_kib = 2048};
    struct err_info err = {0};
    if (store_open(f->path, &opt, &f->s, &err) != 0) {
        print_error("store_open: %s\n", err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->s);
    char p[160];
    unlink(f->path);
    snprintf(p, sizeof p, "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", f->path);
    unlink(p);
    rmdir(f->dir);
    free(f);
    clock_set_fake_ms(0);
    return 0;
}

static int64_t query_i64(struct fx *f, const char *sql, const char *text)
{
    struct db *r = store_reader(f->s);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db_handle(r), sql, -1, &st, NULL);
    int64_t v = -1;
    if (rc == SQLITE_OK) {
        int i1 = sqlite3_bind_parameter_index(st, "$1");
        if (i1)
            sqlite3_bind_text(st, i1, text, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    store_reader_done(f->s, r);
    if (rc != SQLITE_OK)
        fail_msg("bad test SQL: %s", sql);
    return v;
}

static json_t *import_text(struct fx *f, const char *data, size_t len)
{
    json_t *report = NULL;
    struct err_info err = {0};
    int rc = import_ndjson(f->s, data, len, "test", &report, &err);
    if (rc != 0)
        fail_msg("import_ndjson: rc %d %s", rc, err.message);
    return report;
}

/* Wait until the writer has moved the imported messages' terms into the index. */
static void wait_search_backlog_empty(struct fx *f)
{
    for (int i = 0; i < 1000; i++) {
        if (query_i64(f, "SELECT COUNT(*) FROM search_backlog", NULL) == 0)
            return;
        usleep(10000);
    }
    fail_msg("the search backlog was not moved into the index");
}

/* Requests a search for the words finds (terms made as the API makes them). */
static size_t search_n(struct fx *f, const char *words)
{
    struct buf terms;
    buf_init(&terms, 0);
    text_search_terms(words, strlen(words), &terms);
    struct request_query q = {.limit = 100, .q_terms = buf_cstr(&terms)};
    struct db *r = store_reader(f->s);
    json_t *out = NULL;
    struct err_info err = {0};
    int rc = store_request_list(r, &q, NULL, &out, &err);
    store_reader_done(f->s, r);
    buf_free(&terms);
    if (rc != 0)
        fail_msg("store_request_list: %s", err.message);
    size_t n = json_array_size(json_object_get(out, "items"));
    json_decref(out);
    return n;
}

static int64_t jint(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static void test_import_mixed(void **state)
{
    struct fx *f = *state;
    size_t len;
    char *data = read_fixture("import_mixed.ndjson", &len);
    json_t *report = import_text(f, data, len);
    free(data);

    /* The expected report for import_mixed.ndjson, line by line. */
    static const struct {
        int64_t line;
        const char *code, *field;
    } rejected[] = {
        {4, "invalid", "customer.phone"}, /* "12ab" */
        {5, "invalid", NULL},             /* malformed JSON */
        {6, "invalid", NULL},             /* not an object */
        {7, "invalid", "type"},           /* unknown type */
        {9, "conflict", "id"},            /* purchase R-1 again, in the same batch */
        {11, "conflict", "amount"},       /* bonus below zero */
        {14, "conflict", "source_id"},    /* request email/mail-1 again */
        {15, "invalid", "channel"},       /* fax */
        {16, "invalid", "text"},          /* no text */
        {17, "invalid", "store"},         /* unknown store, found at write time */
    };
    assert_int_equal(jint(report, "lines"), 18);
    assert_int_equal(jint(report, "accepted"), 7);
    assert_int_equal(jint(report, "rejected_count"), (int64_t)N_ELEMS(rejected));
    json_t *by_type = json_object_get(report, "by_type");
    static const char *const types[] = {"store",   "customer", "purchase", "bonus",
                                        "order",   "request",  "department"};
    for (size_t i = 0; i < N_ELEMS(types); i++)
        assert_int_equal(jint(by_type, types[i]), 1);
    json_t *list = json_object_get(report, "rejected");
    char failures[2048] = "";
    size_t nf = 0;
    if (json_array_size(list) != N_ELEMS(rejected))
        nf += (size_t)snprintf(failures + nf, sizeof failures - nf,
                               "  %zu rejected entries listed, want %zu\n", json_array_size(list),
                               N_ELEMS(rejected));
    /* The report's order is not part of the contract: match entries by line. */
    for (size_t i = 0; i < N_ELEMS(rejected); i++) {
        json_t *e = NULL;
        for (size_t k = 0; k < json_array_size(list); k++)
            if (jint(json_array_get(list, k), "line") == rejected[i].line)
                e = json_array_get(list, k);
        if (e == NULL) {
            nf += (size_t)snprintf(failures + nf, sizeof failures - nf, "  line %lld not listed\n",
                                   (long long)rejected[i].line);
            continue;
        }
        json_t *er = json_object_get(e, "error");
        const char *code = json_string_value(json_object_get(er, "code"));
        const char *field = json_string_value(json_object_get(er, "field"));
        const char *msg = json_string_value(json_object_get(er, "message"));
        bool field_ok = rejected[i].field ? field && strcmp(field, rejected[i].field) == 0
                                          : json_is_null(json_object_get(er, "field"));
        if (jint(e, "line") != rejected[i].line || !code || strcmp(code, rejected[i].code) != 0 ||
            !field_ok || !msg || !msg[0])
            nf += (size_t)snprintf(failures + nf, sizeof failures - nf,
                                   "  entry %zu: line %lld %s field %s (%s); want line %lld %s "
                                   "field %s\n",
                                   i, (long long)jint(e, "line"), code ? code : "-",
                                   field ? field : "null", msg ? msg : "", 
                                   (long long)rejected[i].line, rejected[i].code,
                                   rejected[i].field ? rejected[i].field : "null");
        if (nf >= sizeof failures)
            nf = sizeof failures - 1;
    }
    json_decref(report);

    /* What the good lines wrote is there, and nothing of the bad ones. */
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM stores", NULL), 1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM departments", NULL), 1);
    /* One customer: phone, lower-cased e-mail, and the request by e-mail all resolve to her. */
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM customers", NULL), 1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM identities WHERE value = $1",
                               "anna@example.ru"),
                     1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM purchases", NULL), 1);
    assert_int_equal(query_i64(f, "SELECT total_kop FROM purchases WHERE external_id = $1", "R-1"),
                     12345);
    assert_int_equal(query_i64(f, "SELECT COALESCE(SUM(amount), 0) FROM bonus_ledger", NULL), 100);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM order_history", NULL), 3);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM orders WHERE status = $1", "delivered"),
                     1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM requests", NULL), 1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM requests WHERE status = 'solved' AND "
                                  "solved_at_ms IS NOT NULL AND customer_id IS NOT NULL",
                               NULL),
                     1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM messages", NULL), 2);
    if (nf > 0)
        fail_msg("rejected lines differ:\n%s", failures);
}

static void test_import_edge_lines(void **state)
{
    struct fx *f = *state;
    /* No trailing newline, CRLF, blank and white-space lines, an empty input. */
    const char *text = "{\"type\":\"customer\",\"phone\":\"9123456789\"}\r\n"
                       "   \t\r\n"
                       "\n"
                       "{\"type\":\"customer\",\"email\":\"x@y.ru\"}";
    json_t *report = import_text(f, text, strlen(text));
    assert_int_equal(jint(report, "lines"), 4);
    assert_int_equal(jint(report, "accepted"), 2);
    assert_int_equal(jint(report, "rejected_count"), 0);
    json_decref(report);
    report = import_text(f, "", 0);
    assert_int_equal(jint(report, "lines"), 0);
    assert_int_equal(jint(report, "accepted"), 0);
    json_decref(report);
    /* A customer line without identities; a duplicate key. */
    text = "{\"type\":\"customer\",\"name\":\"Без телефона\"}\n"
           "{\"type\":\"customer\",\"phone\":\"9123456780\",\"phone\":\"9123456781\"}\n";
    report = import_text(f, text, strlen(text));
    assert_int_equal(jint(report, "rejected_count"), 2);
    assert_int_equal(json_array_size(json_object_get(report, "rejected")), 2);
    json_decref(report);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM customers", NULL), 2);
}

static void test_import_rejected_line_publishes_nothing(void **state)
{
    struct fx *f = *state;
    const char *setup_lines = "{\"type\":\"customer\",\"phone\":\"+79120000001\"}\n"
                              "{\"type\":\"customer\",\"email\":\"b@example.ru\"}\n"
                              "{\"type\":\"purchase\",\"id\":\"R-1\",\"total\":1,"
                              "\"customer\":{\"phone\":\"+79120000001\"}}\n";
    json_t *report = import_text(f, setup_lines, strlen(setup_lines));
    assert_int_equal(jint(report, "accepted"), 3);
    json_decref(report);
    int64_t hub_before = store_hub_last_id(f->s);
    int64_t events_before = query_i64(f, "SELECT COUNT(*) FROM events", NULL);
    /* Identities of both customers (a merge suggestion with an event), then a duplicate id:
     * the line is rejected, so the suggestion and its event must vanish with it. */
    const char *bad = "{\"type\":\"purchase\",\"id\":\"R-1\",\"total\":1,"
                      "\"customer\":{\"phone\":\"+79120000001\",\"email\":\"b@example.ru\"}}\n"
                      "{\"type\":\"department\",\"code\":\"D\",\"name\":\"Отдел\"}\n";
    report = import_text(f, bad, strlen(bad));
    assert_int_equal(jint(report, "accepted"), 1);
    assert_int_equal(jint(report, "rejected_count"), 1);
    json_decref(report);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM merge_suggestions", NULL), 0);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM events", NULL), events_before);
    assert_int_equal(store_hub_last_id(f->s), hub_before);
}

static void test_import_many_lines_across_batches(void **state)
{
    struct fx *f = *state;
    enum { N = 9000, BAD1 = 4000, BAD2 = 8123 };
    struct text_acc {
        char *p;
        size_t len, cap;
    } b = {0};
    b.cap = (size_t)N * 64;
    b.p = xmalloc(b.cap);
    for (int i = 1; i <= N; i++) {
        int k;
        if (i == BAD1 || i == BAD2)
            k = snprintf(b.p + b.len, b.cap - b.len, "{\"type\":\"customer\",\"phone\":\"x%d\"}\n",
                         i);
        else
            k = snprintf(b.p + b.len, b.cap - b.len,
                         "{\"type\":\"customer\",\"phone\":\"+7922%07d\"}\n", i);
        b.len += (size_t)k;
    }
    json_t *report = import_text(f, b.p, b.len);
    free(b.p);
    json_t *list = json_object_get(report, "rejected");
    int64_t l1 = jint(json_array_get(list, 0), "line"), l2 = jint(json_array_get(list, 1), "line");
    assert_int_equal(jint(report, "lines"), N);
    assert_int_equal(jint(report, "accepted"), N - 2);
    assert_int_equal(jint(report, "rejected_count"), 2);
    json_decref(report);
    assert_int_equal(l1, BAD1);
    assert_int_equal(l2, BAD2);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM customers", NULL), N - 2);
}

/* A line that fails only when written (a purchase id used twice) makes its batch
 * run again line by line; the batches after it, sent meanwhile, still come after
 * it: a spend in the second batch needs every accrual of the first. */
static void test_import_write_failure_keeps_line_order(void **state)
{
    struct fx *f = *state;
    enum { N = 4500, DUP_FIRST = 10, DUP_AGAIN = 20, BATCH = 2000 };
    size_t cap = (size_t)N * 128, len = 0;
    char *text = xmalloc(cap);
    int accruals = 0;
    for (int i = 1; i <= N; i++) {
        const char *cust = "\"customer\":{\"phone\":\"+79120000077\"}";
        int k;
        if (i == 1)
            k = snprintf(text + len, cap - len, "{\"type\":\"customer\",\"phone\":\"+79120000077\"}\n");
        else if (i == 30 || i == 300 || i == 2100) /* refused while parsing */
            k = snprintf(text + len, cap - len, "{\"type\":\n");
        else if (i == DUP_FIRST || i == DUP_AGAIN)
            k = snprintf(text + len, cap - len,
                         "{\"type\":\"purchase\",\"id\":\"R-TWICE\",\"total\":10,%s}\n", cust);
        else if (i <= BATCH)
            k = snprintf(text + len, cap - len,
                         "{\"type\":\"bonus\",\"amount\":1,\"reason\":\"accrual\",%s}\n", cust),
            accruals++;
        else if (i == BATCH + 1)
            k = snprintf(text + len, cap - len,
                         "{\"type\":\"bonus\",\"amount\":-%d,\"reason\":\"spend\",%s}\n",
                         accruals, cust);
        else
            k = snprintf(text + len, cap - len, "{\"type\":\"customer\",\"phone\":\"+7923%07d\"}\n",
                         i);
        len += (size_t)k;
    }
    json_t *report = import_text(f, text, len);
    free(text);
    /* Refused while parsing or when written, the report lists them in line order. */
    static const int64_t want[] = {DUP_AGAIN, 30, 300, 2100};
    json_t *list = json_object_get(report, "rejected");
    int64_t got[4] = {0};
    for (size_t i = 0; i < 4; i++)
        got[i] = jint(json_array_get(list, i), "line");
    int64_t accepted = jint(report, "accepted"), rejected = jint(report, "rejected_count");
    json_decref(report);
    assert_int_equal(rejected, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(got[i], want[i]);
    assert_int_equal(accepted, N - 4);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM purchases", NULL), 1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM bonus_ledger WHERE amount < 0", NULL), 1);
    assert_int_equal(query_i64(f, "SELECT SUM(amount) FROM bonus_ledger", NULL), 0);

    /* The first line fails having written nothing: the batch still goes line by line. */
    const char *again = "{\"type\":\"purchase\",\"id\":\"R-TWICE\",\"total\":10,"
                        "\"customer\":{\"phone\":\"+79120000077\"}}\n"
                        "{\"type\":\"customer\",\"phone\":\"+79120000078\"}\n";
    report = import_text(f, again, strlen(again));
    json_t *first = json_array_get(json_object_get(report, "rejected"), 0);
    accepted = jint(report, "accepted");
    int64_t bad_line = jint(first, "line");
    json_decref(report);
    assert_int_equal(accepted, 1);
    assert_int_equal(bad_line, 1);
}

/* A request's replies go in with it, four a statement: six messages in order,
 * each with its time; only the customer's words are searchable. */
static void test_import_request_replies(void **state)
{
    struct fx *f = *state;
    const char *text =
        "{\"type\":\"request\",\"channel\":\"vk\",\"source_id\":\"r-6\",\"customer\":{\"vk_id\":"
        "\"77\",\"name\":\"Ольга\"},\"text\":\"Кефир просрочен\",\"status\":\"closed\","
        "\"created_at\":\"2026-09-01T10:00:00Z\",\"replies\":["
        "{\"text\":\"ответ один\",\"at\":\"2026-09-01T10:01:00Z\"},"
        "{\"text\":\"ответ два\",\"at\":\"2026-09-01T10:02:00Z\"},"
        "{\"text\":\"ответ три\",\"at\":\"2026-09-01T10:03:00Z\"},"
        "{\"text\":\"ответ четыре\",\"at\":\"2026-09-01T10:04:00Z\"},"
        "{\"text\":\"ответ пять баклажан\"}]}\n";
    json_t *report = import_text(f, text, strlen(text));
    assert_int_equal(jint(report, "accepted"), 1);
    json_decref(report);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM messages", NULL), 6);
    assert_int_equal(query_i64(f, "SELECT max(id) - min(id) FROM messages", NULL), 5);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND "
                                  "author_name = 'Ольга' AND body = 'Кефир просрочен' AND id = "
                                  "(SELECT min(id) FROM messages)",
                               NULL),
                     1);
    /* Replies in their order, with their times (the last has none: the request's). */
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM messages a JOIN messages b ON b.id = a.id "
                                  "+ 1 WHERE a.direction = 'out' AND b.created_at_ms - "
                                  "a.created_at_ms = 60000",
                               NULL),
                     3);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND "
                                  "author_name = 'operator' AND body LIKE 'ответ %'",
                               NULL),
                     5);
    assert_int_equal(query_i64(f, "SELECT created_at_ms FROM messages WHERE body = 'ответ пять "
                                  "баклажан'",
                               NULL),
                     query_i64(f, "SELECT created_at_ms FROM requests", NULL));
    wait_search_backlog_empty(f);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM message_terms('кефир')", NULL), 1);
    assert_int_equal(query_i64(f, "SELECT rowid FROM message_terms('кефир')", NULL),
                     query_i64(f, "SELECT min(id) FROM messages", NULL));
    /* A reply's word is not searchable, the customer's is (terms as the search makes them). */
    struct buf terms;
    buf_init(&terms, 0);
    text_search_terms("баклажан", strlen("баклажан"), &terms);
    char reply_term[64];
    snprintf(reply_term, sizeof reply_term, "%s", buf_cstr(&terms));
    buf_free(&terms);
    assert_true(reply_term[0] != '\0');
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM message_terms WHERE message_terms MATCH $1",
                               reply_term),
                     0);
}

/*
 * An import's search terms wait in the backlog while imports run, where a
 * search finds them, split as the index splits them; the writer moves them
 * into the index after the last import, and after a restart those left.
 */
static void test_import_search_backlog(void **state)
{
    struct fx *f = *state;
    static const char text[] =
        "{\"type\":\"request\",\"channel\":\"email\",\"source_id\":\"m-1\","
        "\"customer\":{\"phone\":\"+79120000501\"},\"text\":\"Кефир просрочен, чек 12.5 руб\","
        "\"replies\":[{\"text\":\"Баклажан\"}]}\n"
        "{\"type\":\"request\",\"channel\":\"email\",\"source_id\":\"m-2\","
        "\"customer\":{\"phone\":\"+79120000502\"},\"text\":\"Очередь на кассе\"}\n";
    store_bulk_begin(f->s); /* another import still runs: nothing is moved yet */
    json_t *report = import_text(f, text, strlen(text));
    assert_int_equal(jint(report, "accepted"), 2);
    json_decref(report);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM search_backlog", NULL), 2);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM message_terms('кефир OR очеред')", NULL), 0);
    assert_int_equal(search_n(f, "кефир"), 1);
    assert_int_equal(search_n(f, "КЕФИРА просрочен"), 1);
    assert_int_equal(search_n(f, "12"), 1);  /* "12.5" is two tokens, as in the index */
    assert_int_equal(search_n(f, "125"), 0);
    assert_int_equal(search_n(f, "кефир очередь"), 0);
    assert_int_equal(search_n(f, "очереди"), 1);
    assert_int_equal(search_n(f, "баклажан"), 0); /* replies are not searchable */
    assert_int_equal(search_n(f, "молоко"), 0);

    /* Stopped with the backlog still there: the next start moves it. */
    store_close(f->s);
    struct store_options opt = {.n_readers = 2, .reader_cache_kib = 512, .writer_cache_kib = 2048};
    struct err_info err = {0};
    if (store_open(f->path, &opt, &f->s, &err) != 0)
        fail_msg("store_open: %s", err.message);
    wait_search_backlog_empty(f);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM message_terms('кефир OR очеред')", NULL), 2);
    assert_int_equal(search_n(f, "кефир"), 1);
    assert_int_equal(search_n(f, "очереди"), 1);

    /* Once no import runs, an import's backlog is moved at once. */
    static const char more[] =
        "{\"type\":\"request\",\"channel\":\"email\",\"source_id\":\"m-3\","
        "\"customer\":{\"phone\":\"+79120000503\"},\"text\":\"Кефир без крышки\"}\n";
    report = import_text(f, more, strlen(more));
    assert_int_equal(jint(report, "accepted"), 1);
    json_decref(report);
    assert_int_equal(search_n(f, "кефир"), 2); /* from the backlog or the index */
    wait_search_backlog_empty(f);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM message_terms('кефир OR очеред')", NULL), 3);
    assert_int_equal(search_n(f, "кефир"), 2);

    /* A backlog of several steps' rows is moved whole. */
    enum { N = 2500 };
    size_t cap = (size_t)N * 200, len = 0;
    char *many = xmalloc(cap);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(many + len, cap - len,
                                "{\"type\":\"request\",\"channel\":\"sms\",\"source_id\":\"b-%d\","
                                "\"text\":\"Бегемот номер %d\"}\n",
                                i, i);
    store_bulk_begin(f->s);
    report = import_text(f, many, len);
    free(many);
    assert_int_equal(jint(report, "accepted"), N);
    json_decref(report);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM search_backlog", NULL), N);
    assert_int_equal(search_n(f, "бегемот 1234"), 1);
    store_bulk_end(f->s);
    wait_search_backlog_empty(f);
    struct buf term;
    buf_init(&term, 0);
    text_search_terms("Бегемот", strlen("Бегемот"), &term);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM message_terms WHERE message_terms MATCH $1",
                               buf_cstr(&term)),
                     N);
    buf_free(&term);
    assert_int_equal(search_n(f, "бегемот 1234"), 1);
}

/* A repeated request line is reported as a repeat, also when it names an
 * unknown store. */
static void test_import_repeat_with_unknown_store(void **state)
{
    struct fx *f = *state;
    static const char text[] =
        "{\"type\":\"request\",\"channel\":\"email\",\"source_id\":\"rep-1\",\"text\":\"Первое\"}\n"
        "{\"type\":\"request\",\"channel\":\"email\",\"source_id\":\"rep-1\",\"store\":\"NOPE\","
        "\"text\":\"Повтор\"}\n"
        "{\"type\":\"request\",\"channel\":\"email\",\"source_id\":\"rep-2\",\"store\":\"NOPE\","
        "\"text\":\"Новое\"}\n";
    json_t *report = import_text(f, text, strlen(text));
    assert_int_equal(jint(report, "accepted"), 1);
    json_t *list = json_object_get(report, "rejected");
    assert_int_equal(json_array_size(list), 2);
    json_t *e2 = json_object_get(json_array_get(list, 0), "error");
    json_t *e3 = json_object_get(json_array_get(list, 1), "error");
    assert_int_equal(jint(json_array_get(list, 0), "line"), 2);
    assert_string_equal(json_string_value(json_object_get(e2, "code")), "conflict");
    assert_string_equal(json_string_value(json_object_get(e2, "field")), "source_id");
    assert_int_equal(jint(json_array_get(list, 1), "line"), 3);
    assert_string_equal(json_string_value(json_object_get(e3, "code")), "invalid");
    assert_string_equal(json_string_value(json_object_get(e3, "field")), "store");
    json_decref(report);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM requests", NULL), 1);
}

/* A file of bad lines: each is counted, the first IMPORT_MAX_REJECTED listed in order,
 * and the good line after them is kept. */
static void test_import_many_bad_lines(void **state)
{
    struct fx *f = *state;
    enum { N_BAD = 5 * IMPORT_MAX_REJECTED };
    size_t cap = (size_t)N_BAD * 16 + 128, len = 0;
    char *text = xmalloc(cap);
    for (int i = 0; i < N_BAD; i++)
        len += (size_t)snprintf(text + len, cap - len, "{\"type\":\n");
    len += (size_t)snprintf(text + len, cap - len, "{\"type\":\"customer\",\"phone\":\"+79120000999\"}\n");
    json_t *report = import_text(f, text, len);
    free(text);
    json_t *list = json_object_get(report, "rejected");
    size_t listed = json_array_size(list);
    int64_t first = jint(json_array_get(list, 0), "line");
    int64_t last = jint(json_array_get(list, listed - 1), "line");
    int64_t rejected = jint(report, "rejected_count"), accepted = jint(report, "accepted");
    json_decref(report);
    assert_int_equal(rejected, N_BAD);
    assert_int_equal(listed, IMPORT_MAX_REJECTED);
    assert_int_equal(first, 1);
    assert_int_equal(last, IMPORT_MAX_REJECTED);
    assert_int_equal(accepted, 1);
}

/* An import holds the store's bulk mark from start to end (the rollups wait meanwhile). */
static void test_import_marks_bulk(void **state)
{
    struct fx *f = *state;
    assert_false(store_bulk_running(f->s));
    struct importer *a = importer_new(f->s, "test");
    struct importer *b = importer_new(f->s, "test");
    assert_true(store_bulk_running(f->s));
    struct err_info err = {0};
    const char *line = "{\"type\":\"customer\",\"phone\":\"+79120000555\"}";
    assert_int_equal(importer_line(a, line, strlen(line), &err), 0);
    json_t *report = NULL;
    assert_int_equal(importer_finish(a, &report, &err), 0);
    json_decref(report);
    importer_free(a);
    assert_true(store_bulk_running(f->s)); /* b still runs */
    importer_free(b);
    assert_false(store_bulk_running(f->s));
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM customers", NULL), 1);
}

/* The import read back from a file a few MiB at a time: lines cut by every
 * read, one longer than the read buffer, CRLF ends and no final newline. */
static void test_import_from_file_across_reads(void **state)
{
    struct fx *f = *state;
    char path[200];
    snprintf(path, sizeof path, "%s/body.ndjson", f->dir);
    FILE *out = fopen(path, "w+");
    assert_non_null(out);
    enum { N = 40000, LONG_NAME = 6 * 1024 * 1024 };
    fputs("{\"type\":\"customer\",\"card\":\"LONG\",\"name\":\"", out);
    for (int i = 0; i < LONG_NAME; i++)
        fputc('x', out);
    fputs("\"}\n", out);
    for (int i = 1; i <= N; i++)
        fprintf(out, "{\"type\":\"customer\",\"card\":\"F-%d\",\"name\":\"%0200d\"}%s", i, i,
                i == N ? "" : i % 7 == 0 ? "\r\n" : "\n");
    fflush(out);
    assert_true(ftell(out) > 2 * 4 * 1024 * 1024 + LONG_NAME);

    json_t *report = NULL;
    struct err_info err = {0};
    int rc = import_ndjson_fd(f->s, fileno(out), "test", &report, &err);
    fclose(out);
    unlink(path);
    if (rc != 0)
        fail_msg("import_ndjson_fd: rc %d %s", rc, err.message);
    json_t *first = json_array_get(json_object_get(report, "rejected"), 0);
    int64_t lines = jint(report, "lines"), accepted = jint(report, "accepted");
    int64_t rejected = jint(report, "rejected_count"), bad_line = jint(first, "line");
    json_decref(report);
    assert_int_equal(lines, N + 1);
    assert_int_equal(accepted, N);
    assert_int_equal(rejected, 1);
    assert_int_equal(bad_line, 1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM identities WHERE kind = 'card'", NULL), N);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM identities WHERE value = $1", "F-40000"),
                     1);
    assert_int_equal(query_i64(f, "SELECT COUNT(*) FROM customers WHERE length(name) = 200", NULL),
                     N);
}

static void test_import_report_lists_every_rejection(void **state)
{
    struct fx *f = *state;
    /* Messages quoting bad values are cut; the report entry must not be lost with them. */
    const char *text =
        "{\"type\":\"request\",\"channel\":\"zтелеграмтелеграмтелеграмтелеграм\",\"text\":\"a\"}\n"
        "{\"type\":\"customer\",\"phone\":\"zтелефонтелефонтелефонтелефонтелефон\"}\n";
    json_t *report = import_text(f, text, strlen(text));
    int64_t count = jint(report, "rejected_count");
    size_t listed = json_array_size(json_object_get(report, "rejected"));
    json_decref(report);
    assert_int_equal(count, 2);
    if (listed != 2)
        fail_msg("2 lines rejected but %zu listed in the report", listed);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone_table),
        cmocka_unit_test(test_email_table),
        cmocka_unit_test(test_customer_parse),
        cmocka_unit_test(test_request_table),
        cmocka_unit_test(test_request_fields),
        cmocka_unit_test(test_request_text_limits),
        cmocka_unit_test(test_error_messages_are_utf8),
        T(test_import_mixed),
        T(test_import_edge_lines),
        T(test_import_rejected_line_publishes_nothing),
        T(test_import_many_lines_across_batches),
        T(test_import_write_failure_keeps_line_order),
        T(test_import_marks_bulk),
        T(test_import_many_bad_lines),
        T(test_import_search_backlog),
        T(test_import_repeat_with_unknown_store),
        T(test_import_request_replies),
        T(test_import_report_lists_every_rejection),
        T(test_import_from_file_across_reads),
    };
#undef T
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    text_thread_cleanup();
    return rc;
}
