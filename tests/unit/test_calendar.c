/*
 * test_calendar.c - business-hours arithmetic and time zones.
 *
 * Most cases are data: every JSON file in tests/fixtures/sla holds a calendar and
 * cases (start + minutes + pauses -> due and due_utc, or a span -> business
 * minutes), or calendars that must be refused.  The C tests add what data
 * cannot say: zone offsets across history and the POSIX footer, DST gaps and
 * overlaps, the cache under threads, round trips, and speed.
 */
#include "testutil.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/str.h"
#include "rules/calendar.h"
#include "rules/tz.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *fixture_dir(void)
{
    const char *d = getenv("OTKLIK_FIXTURES");
    return d ? d : "tests/fixtures";
}

static int64_t utc(const char *s)
{
    int64_t ms = 0;
    if (time_parse_rfc3339(str_from(s), &ms) != 0) {
        print_error("bad time in test: %s\n", s);
        fail();
    }
    return ms;
}

static struct calendar *cal_from(const char *json)
{
    struct calendar *cal = NULL;
    struct err_info err = {0};
    int rc = calendar_parse_json(json, strlen(json), &cal, &err);
    if (rc != 0)
        print_error("calendar: %s\n", err.message);
    assert_int_equal(rc, 0);
    return cal;
}

/* ---- fixture-driven cases ----------------------------------------------------- */

static int n_fixture_cases;

static void run_case(const char *file, struct calendar *cal, json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    struct err_info err = {0};
    /* Pauses: [[start, end], ...] in local or absolute time. */
    json_t *jp = json_object_get(c, "pauses");
    size_t n_pauses = json_array_size(jp);
    struct calendar_pause pauses[16];
    assert_true(n_pauses <= 16);
    for (size_t i = 0; i < n_pauses; i++) {
        json_t *pair = json_array_get(jp, i);
        assert_int_equal(calendar_parse_time(cal,
                                             str_from(json_string_value(json_array_get(pair, 0))),
                                             "pauses", &pauses[i].start_ms, &err),
                         0);
        assert_int_equal(calendar_parse_time(cal,
                                             str_from(json_string_value(json_array_get(pair, 1))),
                                             "pauses", &pauses[i].end_ms, &err),
                         0);
    }
    json_t *between = json_object_get(c, "between");
    if (between) {
        int64_t from_ms, to_ms, got_ms;
        assert_int_equal(
            calendar_parse_time(cal, str_from(json_string_value(json_array_get(between, 0))),
                                "from", &from_ms, &err),
            0);
        assert_int_equal(
            calendar_parse_time(cal, str_from(json_string_value(json_array_get(between, 1))), "to",
                                &to_ms, &err),
            0);
        assert_int_equal(
            calendar_business_ms_between(cal, from_ms, to_ms, pauses, n_pauses, &got_ms), 0);
        int64_t want_ms =
            (int64_t)json_integer_value(json_object_get(c, "business_minutes")) * 60000;
        if (got_ms != want_ms) {
            print_error("%s: %s: business time %lld ms, want %lld ms\n", file, name,
                        (long long)got_ms, (long long)want_ms);
            fail();
        }
        n_fixture_cases++;
        return;
    }
    int64_t start_ms, due_ms;
    const char *start = json_string_value(json_object_get(c, "start"));
    if (calendar_parse_time(cal, str_from(start), "start", &start_ms, &err) != 0) {
        print_error("%s: %s: %s\n", file, name, err.message);
        fail();
    }
    int64_t minutes = (int64_t)json_integer_value(json_object_get(c, "minutes"));
    assert_int_equal(
        calendar_add_business_ms(cal, start_ms, minutes * 60000, pauses, n_pauses, &due_ms), 0);
    char local[48], z[48];
    tz_format_local(cal->zone, due_ms, local, sizeof local);
    tz_format_utc(due_ms, z, sizeof z);
    const char *want_local = json_string_value(json_object_get(c, "due"));
    const char *want_utc = json_string_value(json_object_get(c, "due_utc"));
    if (strcmp(local, want_local) != 0 || strcmp(z, want_utc) != 0) {
        print_error("%s: %s: due %s (%s), want %s (%s)\n", file, name, local, z, want_local,
                    want_utc);
        fail();
    }
    /* Whatever the add consumed, the span must give back (pauses included). */
    int64_t back_ms;
    assert_int_equal(
        calendar_business_ms_between(cal, start_ms, due_ms, pauses, n_pauses, &back_ms), 0);
    if (back_ms != minutes * 60000) {
        print_error("%s: %s: round trip gives %lld ms\n", file, name, (long long)back_ms);
        fail();
    }
    n_fixture_cases++;
}

static void run_bad(const char *file, json_t *b)
{
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *want = json_string_value(json_object_get(b, "message"));
    char *text = json_dumps(json_object_get(b, "calendar"), 0);
    struct calendar *cal = NULL;
    struct err_info err = {0};
    int rc = calendar_parse_json(text, strlen(text), &cal, &err);
    free(text);
    if (rc == 0 || cal != NULL || strstr(err.message, want) == NULL) {
        print_error("%s: %s: rc %d, message '%s', want it to contain '%s'\n", file, name, rc,
                    err.message, want);
        calendar_free(cal);
        fail();
    }
    n_fixture_cases++;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_sla_fixtures(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sla", fixture_dir());
    DIR *d = opendir(dir);
    if (!d)
        print_error("cannot open %s (run from the repository root or set OTKLIK_FIXTURES)\n", dir);
    assert_non_null(d);
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0 && n < 64)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_names);
    assert_true(n >= 5);
    n_fixture_cases = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        json_error_t je;
        json_t *root = json_load_file(path, 0, &je);
        if (!root)
            print_error("%s: %s (line %d)\n", path, je.text, je.line);
        assert_non_null(root);
        json_t *jcal = json_object_get(root, "calendar");
        if (jcal) {
            char *text = json_dumps(jcal, 0);
            struct calendar *cal = cal_from(text);
            free(text);
            size_t k;
            json_t *c;
            json_array_foreach(json_object_get(root, "cases"), k, c)
            {
                run_case(names[i], cal, c);
            }
            calendar_free(cal);
        }
        size_t k;
        json_t *b;
        json_array_foreach(json_object_get(root, "bad"), k, b)
        {
            run_bad(names[i], b);
        }
        json_decref(root);
        free(names[i]);
    }
    assert_true(n_fixture_cases >= 40);
}

/* ---- time zones ------------------------------------------------------------------- */

static const struct tz_zone *zone(const char *name)
{
    const struct tz_zone *z = NULL;
    struct err_info err = {0};
    int rc = tz_zone_get(name, &z, &err);
    if (rc != 0)
        print_error("zone %s: %s\n", name, err.message);
    assert_int_equal(rc, 0);
    return z;
}

static void test_tz_offsets(void **state)
{
    (void)state;
    /* Moscow: summer time until 2011 (+4 in July 2010), then +4 all year, +3 since Oct 2014. */
    const struct tz_zone *msk = zone("Europe/Moscow");
    assert_int_equal(tz_offset_at(msk, utc("2010-07-01T12:00:00Z")), 4 * 3600);
    assert_int_equal(tz_offset_at(msk, utc("2010-01-01T12:00:00Z")), 3 * 3600);
    assert_int_equal(tz_offset_at(msk, utc("2013-01-01T12:00:00Z")), 4 * 3600);
    assert_int_equal(tz_offset_at(msk, utc("2024-05-10T12:00:00Z")), 3 * 3600);
    assert_int_equal(tz_offset_at(msk, utc("2080-05-10T12:00:00Z")), 3 * 3600);
    assert_int_equal(tz_offset_at(zone("Asia/Vladivostok"), utc("2024-05-10T12:00:00Z")),
                     10 * 3600);
    assert_int_equal(tz_offset_at(zone("Asia/Yekaterinburg"), utc("2024-05-10T12:00:00Z")),
                     5 * 3600);
    assert_int_equal(tz_offset_at(zone("Europe/Kaliningrad"), utc("2024-05-10T12:00:00Z")),
                     2 * 3600);
    /* Berlin: the changes of 2024 to the second, and the footer rule in 2060. */
    const struct tz_zone *ber = zone("Europe/Berlin");
    assert_int_equal(tz_offset_at(ber, utc("2024-03-31T00:59:59Z")), 3600);
    assert_int_equal(tz_offset_at(ber, utc("2024-03-31T01:00:00Z")), 7200);
    assert_int_equal(tz_offset_at(ber, utc("2024-10-27T00:59:59Z")), 7200);
    assert_int_equal(tz_offset_at(ber, utc("2024-10-27T01:00:00Z")), 3600);
    assert_int_equal(tz_offset_at(ber, utc("2060-03-28T00:59:59Z")),
                     3600); /* last Sunday of March 2060 */
    assert_int_equal(tz_offset_at(ber, utc("2060-03-28T01:00:00Z")), 7200);
    assert_int_equal(tz_offset_at(ber, utc("2060-10-31T00:59:59Z")), 7200);
    assert_int_equal(tz_offset_at(ber, utc("2060-10-31T01:00:00Z")), 3600);
    /* Southern hemisphere footer: Sydney is +11 in January, +10 in July. */
    const struct tz_zone *syd = zone("Australia/Sydney");
    assert_int_equal(tz_offset_at(syd, utc("2045-01-15T00:00:00Z")), 11 * 3600);
    assert_int_equal(tz_offset_at(syd, utc("2045-07-15T00:00:00Z")), 10 * 3600);
    /* West of Greenwich and half hours. */
    assert_int_equal(tz_offset_at(zone("America/New_York"), utc("2050-01-15T00:00:00Z")),
                     -5 * 3600);
    assert_int_equal(tz_offset_at(zone("America/New_York"), utc("2050-07-15T00:00:00Z")),
                     -4 * 3600);
    assert_int_equal(tz_offset_at(zone("Asia/Kolkata"), utc("2024-05-10T12:00:00Z")),
                     5 * 3600 + 1800);
    assert_int_equal(tz_offset_at(zone("UTC"), utc("2024-05-10T12:00:00Z")), 0);
}

static void test_tz_local_to_utc(void **state)
{
    (void)state;
    const struct tz_zone *ber = zone("Europe/Berlin");
    /* Ordinary times. */
    assert_true(tz_local_to_utc(ber, utc("2024-01-10T12:00:00Z")) == utc("2024-01-10T11:00:00Z"));
    assert_true(tz_local_to_utc(ber, utc("2024-07-10T12:00:00Z")) == utc("2024-07-10T10:00:00Z"));
    /* Gap: 02:30 on 31 March does not exist; read with +01:00 -> 01:30Z (03:30 CEST). */
    assert_true(tz_local_to_utc(ber, utc("2024-03-31T02:30:00Z")) == utc("2024-03-31T01:30:00Z"));
    /* Edges of the gap: 01:59:59 is CET, 03:00:00 is CEST. */
    assert_true(tz_local_to_utc(ber, utc("2024-03-31T01:59:59Z")) == utc("2024-03-31T00:59:59Z"));
    assert_true(tz_local_to_utc(ber, utc("2024-03-31T03:00:00Z")) == utc("2024-03-31T01:00:00Z"));
    /* Overlap: 02:30 on 27 October happens twice; the earlier (CEST) wins. */
    assert_true(tz_local_to_utc(ber, utc("2024-10-27T02:30:00Z")) == utc("2024-10-27T00:30:00Z"));
    assert_true(tz_local_to_utc(ber, utc("2024-10-27T03:00:00Z")) == utc("2024-10-27T02:00:00Z"));
    /* Round trip of every hour over a year in Berlin and Moscow. */
    const struct tz_zone *msk = zone("Europe/Moscow");
    for (int64_t t = utc("2024-01-01T00:00:00Z"); t < utc("2025-01-01T00:00:00Z"); t += 3600000) {
        assert_true(tz_local_to_utc(msk, tz_utc_to_local(msk, t)) == t);
        int64_t back = tz_local_to_utc(ber, tz_utc_to_local(ber, t));
        /* Only the second pass through the autumn overlap maps to the first. */
        assert_true(back == t || back == t - 3600000);
    }
    char buf[48];
    tz_format_local(ber, utc("2024-07-10T10:00:00.250Z"), buf, sizeof buf);
    assert_string_equal(buf, "2024-07-10T12:00:00.250+02:00");
    tz_format_local(zone("America/New_York"), utc("2024-01-10T10:00:00Z"), buf, sizeof buf);
    assert_string_equal(buf, "2024-01-10T05:00:00-05:00");
    tz_format_utc(utc("2024-01-10T10:00:00Z"), buf, sizeof buf);
    assert_string_equal(buf, "2024-01-10T10:00:00Z");
}

static void test_tz_names_and_cache(void **state)
{
    (void)state;
    const struct tz_zone *a = zone("Europe/Moscow"), *b = zone("Europe/Moscow");
    assert_ptr_equal(a, b);
    assert_string_equal(tz_zone_name(a), "Europe/Moscow");
    const struct tz_zone *z = NULL;
    struct err_info err = {0};
    assert_int_equal(tz_zone_get("Europe/Atlantis", &z, &err), ERR_NOTFOUND);
    assert_null(z);
    err_clear(&err);
    assert_int_equal(tz_zone_get("Europe", &z, &err), ERR_NOTFOUND); /* a directory */
    err_clear(&err);
    assert_int_equal(tz_zone_get("../etc/passwd", &z, &err), ERR_INVALID);
    err_clear(&err);
    assert_int_equal(tz_zone_get("/etc/passwd", &z, &err), ERR_INVALID);
    err_clear(&err);
    assert_int_equal(tz_zone_get("", &z, &err), ERR_INVALID);
    /* A file that is not TZif. */
    struct tz_zone *own = NULL;
    err_clear(&err);
    char junk[] = "/tmp/otklik-tz-XXXXXX";
    int fd = mkstemp(junk);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "TZif2 but not really", 20), 20);
    close(fd);
    assert_int_equal(tz_zone_load_file(junk, "junk", &own, &err), ERR_INVALID);
    assert_null(own);
    unlink(junk);
}

struct thread_arg {
    const char *zone_name;
    int32_t want_offset_s;
    int n_bad;
};

static void *zone_thread(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 200; i++) {
        const struct tz_zone *z = NULL;
        if (tz_zone_get(a->zone_name, &z, NULL) != 0 ||
            tz_offset_at(z, INT64_C(1715342400000) /* 2024-05-10T12:00Z */) != a->want_offset_s)
            a->n_bad++;
    }
    return NULL;
}

static void test_tz_threads(void **state)
{
    (void)state;
    struct thread_arg args[6] = {
        {"Asia/Tokyo", 9 * 3600, 0},       {"Asia/Omsk", 6 * 3600, 0},
        {"Asia/Novosibirsk", 7 * 3600, 0}, {"Asia/Tokyo", 9 * 3600, 0},
        {"Europe/Samara", 4 * 3600, 0},    {"Asia/Magadan", 11 * 3600, 0},
    };
    pthread_t th[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&th[i], NULL, zone_thread, &args[i]), 0);
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].n_bad, 0);
    }
}

/* ---- calendar API beyond the fixtures ---------------------------------------------- */

static const char *moscow_json =
    "{\"time_zone\": \"Europe/Moscow\", \"week\": {\"mon\": [[\"09:00\", \"18:00\"]],"
    " \"tue\": [[\"09:00\", \"18:00\"]], \"wed\": [[\"09:00\", \"18:00\"]],"
    " \"thu\": [[\"09:00\", \"18:00\"]], \"fri\": [[\"09:00\", \"18:00\"]], \"sat\": [], \"sun\": "
    "[]},"
    " \"holidays\": [\"2024-05-13\"]}";

static void test_calendar_api(void **state)
{
    (void)state;
    struct calendar *cal = cal_from(moscow_json);
    int64_t due_ms, ms;
    struct err_info err = {0};
    /* Local times: seconds optional, date alone is midnight. */
    assert_int_equal(calendar_parse_time(cal, str_from("2024-05-10T17:30"), "start", &ms, &err), 0);
    assert_true(ms == utc("2024-05-10T14:30:00Z"));
    assert_int_equal(calendar_parse_time(cal, str_from("2024-05-10"), "start", &ms, &err), 0);
    assert_true(ms == utc("2024-05-09T21:00:00Z"));
    assert_int_equal(
        calendar_parse_time(cal, str_from("2024-05-10T17:30:00.5"), "start", &ms, &err), 0);
    assert_true(ms == utc("2024-05-10T14:30:00.500Z"));
    assert_int_equal(calendar_parse_time(cal, str_from("yesterday"), "start", &ms, &err),
                     ERR_INVALID);
    assert_string_equal(err.field, "start");
    err_clear(&err);
    assert_int_equal(calendar_parse_time(cal, str_from("2024-05-10T25:00:00"), "start", &ms, &err),
                     ERR_INVALID);
    /* Open or closed. */
    assert_true(calendar_is_open(cal, utc("2024-05-10T06:00:00Z")));  /* Fri 09:00 */
    assert_false(calendar_is_open(cal, utc("2024-05-10T15:00:00Z"))); /* Fri 18:00 */
    assert_false(calendar_is_open(cal, utc("2024-05-13T08:00:00Z"))); /* holiday */
    /* Bad arguments. */
    assert_int_equal(calendar_add_business_ms(cal, 0, -1, NULL, 0, &due_ms), ERR_INVALID);
    struct calendar_pause inverted = {10, 5};
    assert_int_equal(calendar_add_business_ms(cal, 0, 1000, &inverted, 1, &due_ms), ERR_INVALID);
    assert_int_equal(calendar_business_ms_between(cal, 10, 5, NULL, 0, &ms), ERR_INVALID);
    /* A pause covering everything pushes the due time past 100 years. */
    struct calendar_pause forever = {0, INT64_C(253402300799000)};
    assert_int_equal(
        calendar_add_business_ms(cal, utc("2024-05-10T00:00:00Z"), 60000, &forever, 1, &due_ms),
        ERR_TOOBIG);
    calendar_free(cal);
    /* Loading from a file: missing file and a good one. */
    struct calendar *c2 = NULL;
    err_clear(&err);
    assert_int_equal(calendar_load_file("/nonexistent/cal.json", &c2, &err), ERR_NOTFOUND);
    assert_null(c2);
    char path[512];
    snprintf(path, sizeof path, "%s/sla/nope.json", fixture_dir());
    err_clear(&err);
    assert_int_equal(calendar_load_file(path, &c2, &err), ERR_NOTFOUND);
    err_clear(&err);
    assert_int_equal(calendar_parse_json("{\"time_zone\": ", 14, &c2, &err), ERR_INVALID);
    assert_non_null(strstr(err.message, "not valid JSON"));
}

static void test_calendar_speed(void **state)
{
    (void)state;
    struct calendar *cal = cal_from(moscow_json);
    int64_t start_ms = utc("2024-05-10T14:30:00Z"), due_ms, back_ms;
    uint64_t t0 = clock_mono_ns();
    assert_int_equal(
        calendar_add_business_ms(cal, start_ms, INT64_C(10000) * 60000, NULL, 0, &due_ms), 0);
    uint64_t t1 = clock_mono_ns();
    /* 10,000 minutes is about a month of days: far under a millisecond normally. */
    assert_true(t1 - t0 < 50 * 1000000ull);
    /* Ten million minutes (~71 years of working weeks), still one step per day. */
    t0 = clock_mono_ns();
    assert_int_equal(
        calendar_add_business_ms(cal, start_ms, INT64_C(10000000) * 60000, NULL, 0, &due_ms), 0);
    assert_int_equal(calendar_business_ms_between(cal, start_ms, due_ms, NULL, 0, &back_ms), 0);
    t1 = clock_mono_ns();
    assert_true(back_ms == INT64_C(10000000) * 60000);
    assert_true(t1 - t0 < 2000 * 1000000ull);
    calendar_free(cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sla_fixtures),    cmocka_unit_test(test_tz_offsets),
        cmocka_unit_test(test_tz_local_to_utc), cmocka_unit_test(test_tz_names_and_cache),
        cmocka_unit_test(test_tz_threads),      cmocka_unit_test(test_calendar_api),
        cmocka_unit_test(test_calendar_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
