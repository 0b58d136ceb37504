/*
 * calendar.c - business-hours calendars: JSON parsing and the day walker.
 *
 * Both questions an SLA clock asks ("when is 240 business minutes from now?"
 * and "how much business time has passed?") are answered by one walker that
 * visits opening intervals in time order, one local date at a time, turns
 * each into a UTC range through the calendar's zone, and cuts the pauses
 * out of it.  Cost is O(days spanned + pauses), independent of minutes.
 */
#include "rules/calendar.h"

#include "core/mem.h"
#include "rules/tz.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)
#define MAX_WALK_DAYS (366 * 100) /* a due time 100 years out is a configuration error */
#define MAX_INTERVALS_PER_DAY 48
#define MAX_HOLIDAYS 100000
#define CALENDAR_FILE_MAX (4u << 20)

static const char *const day_keys[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* ---- parsing ----------------------------------------------------------- */

static bool two_digits(const char *p, int *out)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return false;
    *out = (p[0] - '0') * 10 + (p[1] - '0');
    return true;
}

/* "HH:MM" or "HH:MM:SS", 00:00 .. 24:00, into seconds after midnight. */
static bool parse_clock(const char *s, int32_t *out_s)
{
    size_t n = strlen(s);
    int h, m, sec = 0;
    if ((n != 5 && n != 8) || s[2] != ':' || !two_digits(s, &h) || !two_digits(s + 3, &m))
        return false;
    if (n == 8 && (s[5] != ':' || !two_digits(s + 6, &sec)))
        return false;
    if (h > 24 || m > 59 || sec > 59 || (h == 24 && (m != 0 || sec != 0)))
        return false;
    *out_s = h * 3600 + m * 60 + sec;
    return true;
}

/* "YYYY-MM-DD" into days since 1970-01-01. */
static bool parse_date(const char *s, int64_t *out_day)
{
    int c, yy, mo, d;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !two_digits(s, &c) ||
        !two_digits(s + 2, &yy) || !two_digits(s + 5, &mo) || !two_digits(s + 8, &d))
        return false;
    int y = c * 100 + yy;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    int64_t day = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int ry;
    unsigned rm, rd;
    civil_from_days(day, &ry, &rm, &rd);
    if (ry != y || (int)rm != mo || (int)rd != d) /* e.g. 2023-02-29 */
        return false;
    *out_day = day;
    return true;
}

static int cmp_interval(const void *a, const void *b)
{
    const struct calendar_interval *x = a, *y = b;
    return (x->open_s > y->open_s) - (x->open_s < y->open_s);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_special(const void *a, const void *b)
{
    const struct calendar_special_day *x = a, *y = b;
    return (x->day > y->day) - (x->day < y->day);
}

/* Parse [["09:00","13:00"], ...]; field names the day for messages. */
static int parse_intervals(json_t *arr, const char *field, struct calendar_interval **out,
                           size_t *out_n, struct err_info *err)
{
    *out = NULL;
    *out_n = 0;
    if (!json_is_array(arr))
        return err_set(err, ERR_INVALID, field,
                       "%s must be a list of [\"HH:MM\", \"HH:MM\"] intervals", field);
    size_t n = json_array_size(arr);
    if (n > MAX_INTERVALS_PER_DAY)
        return err_set(err, ERR_INVALID, field, "%s has more than %d intervals", field,
                       MAX_INTERVALS_PER_DAY);
    if (n == 0)
        return 0;
    struct calendar_interval *iv = xcalloc(n, sizeof *iv);
    for (size_t i = 0; i < n; i++) {
        json_t *pair = json_array_get(arr, i);
        const char *open, *close;
        if (!json_is_array(pair) || json_array_size(pair) != 2 ||
            !(open = json_string_value(json_array_get(pair, 0))) ||
            !(close = json_string_value(json_array_get(pair, 1)))) {
            free(iv);
            return err_set(err, ERR_INVALID, field, "%s[%zu] must be a pair [\"HH:MM\", \"HH:MM\"]",
                           field, i);
        }
        if (!parse_clock(open, &iv[i].open_s) || iv[i].open_s == 86400) {
            free(iv);
            return err_set(err, ERR_INVALID, field,
                           "%s[%zu]: bad opening time '%s' (want HH:MM from 00:00 to 23:59)", field,
                           i, open);
        }
        if (!parse_clock(close, &iv[i].close_s)) {
            free(iv);
            return err_set(err, ERR_INVALID, field,
                           "%s[%zu]: bad closing time '%s' (want HH:MM from 00:00 to 24:00)", field,
                           i, close);
        }
        if (iv[i].close_s <= iv[i].open_s) {
            free(iv);
            return err_set(err, ERR_INVALID, field,
                           "%s[%zu]: interval ends (%s) before it starts (%s); use \"24:00\" for "
                           "midnight",
                           field, i, close, open);
        }
    }
    qsort(iv, n, sizeof *iv, cmp_interval);
    for (size_t i = 1; i < n; i++) {
        if (iv[i].open_s < iv[i - 1].close_s) {
            free(iv);
            return err_set(err, ERR_INVALID, field, "%s: intervals overlap", field);
        }
    }
    *out = iv;
    *out_n = n;
    return 0;
}

void calendar_free(struct calendar *cal)
{
    if (!cal)
        return;
    for (int i = 0; i < 7; i++)
        free(cal->week[i]);
    free(cal->holidays);
    for (size_t i = 0; i < cal->n_special; i++)
        free(cal->special[i].intervals);
    free(cal->special);
    free(cal);
}

static int parse_week(json_t *week, struct calendar *cal, struct err_info *err)
{
    if (!json_is_object(week))
        return err_set(err, ERR_INVALID, "week",
                       "week must be an object with keys mon, tue, wed, thu, fri, sat, sun");
    const char *key;
    json_t *val;
    json_object_foreach(week, key, val)
    {
        int idx = -1;
        for (int i = 0; i < 7; i++)
            if (strcmp(key, day_keys[i]) == 0)
                idx = i;
        if (idx < 0)
            return err_set(err, ERR_INVALID, "week",
                           "unknown day '%s' in week (use mon, tue, wed, thu, fri, sat, sun)", key);
        char field[32];
        snprintf(field, sizeof field, "week.%s", day_keys[idx]);
        int rc = parse_intervals(val, field, &cal->week[idx], &cal->n_week[idx], err);
        if (rc != 0)
            return rc;
    }
    size_t total = 0;
    for (int i = 0; i < 7; i++)
        total += cal->n_week[i];
    if (total == 0)
        return err_set(err, ERR_INVALID, "week", "the week has no working hours");
    return 0;
}

static int parse_holidays(json_t *arr, struct calendar *cal, struct err_info *err)
{
    if (!json_is_array(arr))
        return err_set(err, ERR_INVALID, "holidays", "holidays must be a list of \"YYYY-MM-DD\"");
    size_t n = json_array_size(arr);
    if (n > MAX_HOLIDAYS)
        return err_set(err, ERR_INVALID, "holidays", "too many holidays (max %d)", MAX_HOLIDAYS);
    cal->holidays = xcalloc(n ? n : 1, sizeof *cal->holidays);
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || !parse_date(s, &cal->holidays[i]))
            return err_set(err, ERR_INVALID, "holidays",
                           "holidays[%zu]: bad date '%s' (want YYYY-MM-DD)", i, s ? s : "?");
    }
    qsort(cal->holidays, n, sizeof *cal->holidays, cmp_i64);
    size_t w = 0; /* drop duplicates */
    for (size_t i = 0; i < n; i++)
        if (w == 0 || cal->holidays[w - 1] != cal->holidays[i])
            cal->holidays[w++] = cal->holidays[i];
    cal->n_holidays = w;
    return 0;
}

static int parse_special(json_t *obj, struct calendar *cal, struct err_info *err)
{
    if (!json_is_object(obj))
        return err_set(err, ERR_INVALID, "special_days",
                       "special_days must map \"YYYY-MM-DD\" to a list of intervals");
    size_t n = json_object_size(obj);
    if (n > MAX_HOLIDAYS)
        return err_set(err, ERR_INVALID, "special_days", "too many special days");
    cal->special = xcalloc(n ? n : 1, sizeof *cal->special);
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        struct calendar_special_day *sd = &cal->special[cal->n_special];
        if (!parse_date(key, &sd->day))
            return err_set(err, ERR_INVALID, "special_days",
                           "special_days: bad date '%s' (want YYYY-MM-DD)", key);
        char field[48];
        snprintf(field, sizeof field, "special_days.%.20s", key);
        int rc = parse_intervals(val, field, &sd->intervals, &sd->n_intervals, err);
        if (rc != 0)
            return rc;
        cal->n_special++;
    }
    qsort(cal->special, cal->n_special, sizeof *cal->special, cmp_special);
    return 0;
}

int calendar_parse_json(const char *text, size_t len, struct calendar **out, struct err_info *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return err_set(err, ERR_INVALID, "calendar",
                       "calendar is not valid JSON (line %d, column %d): %s", jerr.line,
                       jerr.column, jerr.text);
    int rc = 0;
    struct calendar *cal = xcalloc(1, sizeof *cal);
    if (!json_is_object(root)) {
        rc = err_set(err, ERR_INVALID, "calendar", "calendar must be a JSON object");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "time_zone") != 0 && strcmp(key, "week") != 0 &&
            strcmp(key, "holidays") != 0 && strcmp(key, "special_days") != 0 &&
            strcmp(key, "name") != 0) {
            rc = err_set(err, ERR_INVALID, key,
                         "unknown calendar key '%s' (known: time_zone, week, holidays, "
                         "special_days, name)",
                         key);
            goto out;
        }
    }
    const char *zone = json_string_value(json_object_get(root, "time_zone"));
    if (!zone) {
        rc = err_set(err, ERR_INVALID, "time_zone",
                     "calendar needs \"time_zone\", e.g. \"Europe/Moscow\"");
        goto out;
    }
    if ((rc = tz_zone_get(zone, &cal->zone, err)) != 0)
        goto out;
    json_t *week = json_object_get(root, "week");
    if (!week) {
        rc = err_set(err, ERR_INVALID, "week", "calendar needs \"week\" with opening hours");
        goto out;
    }
    if ((rc = parse_week(week, cal, err)) != 0)
        goto out;
    json_t *hol = json_object_get(root, "holidays");
    if (hol && (rc = parse_holidays(hol, cal, err)) != 0)
        goto out;
    json_t *sp = json_object_get(root, "special_days");
    if (sp && (rc = parse_special(sp, cal, err)) != 0)
        goto out;
out:
    json_decref(root);
    if (rc != 0)
        calendar_free(cal);
    else
        *out = cal;
    return rc;
}

int calendar_load_file(const char *path, struct calendar **out, struct err_info *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "calendar",
                       "cannot open calendar file '%s': %s", path, strerror(errno));
    char *data = xmalloc(CALENDAR_FILE_MAX);
    size_t len = fread(data, 1, CALENDAR_FILE_MAX, f);
    int rc = 0;
    if (ferror(f))
        rc = err_set(err, ERR_IO, "calendar", "cannot read calendar file '%s'", path);
    else if (len == CALENDAR_FILE_MAX)
        rc = err_set(err, ERR_TOOBIG, "calendar", "calendar file '%s' is over %u bytes", path,
                     CALENDAR_FILE_MAX);
    fclose(f);
    if (rc == 0)
        rc = calendar_parse_json(data, len, out, err);
    free(data);
    return rc;
}

int calendar_parse_time(const struct calendar *cal, struct str s, const char *field,
                        int64_t *out_utc_ms, struct err_info *err)
{
    if (time_parse_rfc3339(s, out_utc_ms) == 0)
        return 0;
    /* No offset: read as wall time by parsing it as if it were UTC. */
    char tmp[48];
    const char *suffix = NULL;
    if (s.len == 10)
        suffix = "T00:00:00Z";
    else if (s.len == 16)
        suffix = ":00Z";
    else if (s.len >= 19 && s.len < 32)
        suffix = "Z";
    int64_t local_ms;
    if (suffix && s.len + strlen(suffix) < sizeof tmp) {
        memcpy(tmp, s.ptr, s.len);
        memcpy(tmp + s.len, suffix, strlen(suffix) + 1);
        if (time_parse_rfc3339(str_from(tmp), &local_ms) == 0) {
            *out_utc_ms = tz_local_to_utc(cal->zone, local_ms);
            return 0;
        }
    }
    return err_set(err, ERR_INVALID, field,
                   "%s: bad time '%.*s' (want YYYY-MM-DDTHH:MM[:SS] local, or with Z / +HH:MM)",
                   field, (int)(s.len > 60 ? 60 : s.len), s.ptr);
}

/* ---- the walker -------------------------------------------------------- */

static bool day_in(const int64_t *days, size_t n, int64_t day)
{
    return bsearch(&day, days, n, sizeof *days, cmp_i64) != NULL;
}

/* Opening intervals of local date day (days since 1970-01-01). */
static const struct calendar_interval *day_intervals(const struct calendar *cal, int64_t day,
                                                     size_t *n)
{
    struct calendar_special_day key = {.day = day};
    const struct calendar_special_day *sd =
        cal->n_special ? bsearch(&key, cal->special, cal->n_special, sizeof key, cmp_special)
                       : NULL;
    if (sd) {
        *n = sd->n_intervals;
        return sd->intervals;
    }
    if (cal->n_holidays && day_in(cal->holidays, cal->n_holidays, day)) {
        *n = 0;
        return NULL;
    }
    int wd = (int)(((day + 3) % 7 + 7) % 7); /* 1970-01-01 was a Thursday; 0 = Monday */
    *n = cal->n_week[wd];
    return cal->week[wd];
}

static int cmp_pause(const void *a, const void *b)
{
    const struct calendar_pause *x = a, *y = b;
    return (x->start_ms > y->start_ms) - (x->start_ms < y->start_ms);
}

/* Sorted, merged copy of the pauses (caller frees); ERR_INVALID if one is inverted. */
static int merge_pauses(const struct calendar_pause *in, size_t n, struct calendar_pause **out,
                        size_t *out_n)
{
    *out = xcalloc(n ? n : 1, sizeof **out);
    *out_n = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i].end_ms < in[i].start_ms)
            return ERR_INVALID;
    if (n > 0)
        memcpy(*out, in, n * sizeof *in);
    qsort(*out, n, sizeof **out, cmp_pause);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        struct calendar_pause p = (*out)[i];
        if (p.end_ms == p.start_ms)
            continue;
        if (w > 0 && p.start_ms <= (*out)[w - 1].end_ms) {
            if (p.end_ms > (*out)[w - 1].end_ms)
                (*out)[w - 1].end_ms = p.end_ms;
        } else {
            (*out)[w++] = p;
        }
    }
    *out_n = w;
    return 0;
}

/* Called with each business segment [lo, hi) in time order; return true to stop. */
typedef bool (*segment_fn)(int64_t lo_ms, int64_t hi_ms, void *ctx);

/*
 * Visit the business segments inside [from_ms, to_ms), pauses cut out.
 * Returns 0 when fn stopped the walk or to_ms was passed, ERR_TOOBIG when
 * MAX_WALK_DAYS went by without either.
 */
static int walk(const struct calendar *cal, int64_t from_ms, int64_t to_ms,
                const struct calendar_pause *pauses, size_t n_pauses, segment_fn fn, void *ctx)
{
    int64_t first_day = floor_div(tz_utc_to_local(cal->zone, from_ms), DAY_MS) - 1;
    size_t pi = 0;
    int64_t done_ms = from_ms; /* everything before this has been visited */
    for (int64_t day = first_day; day < first_day + MAX_WALK_DAYS; day++) {
        size_t n;
        const struct calendar_interval *iv = day_intervals(cal, day, &n);
        int64_t midnight_local_ms = day * DAY_MS;
        if (n == 0 && tz_local_to_utc(cal->zone, midnight_local_ms) >= to_ms)
            return 0;
        for (size_t i = 0; i < n; i++) {
            int64_t lo =
                tz_local_to_utc(cal->zone, midnight_local_ms + iv[i].open_s * INT64_C(1000));
            int64_t hi =
                tz_local_to_utc(cal->zone, midnight_local_ms + iv[i].close_s * INT64_C(1000));
            if (lo >= to_ms)
                return 0;
            /* done_ms also guards against ranges that overlap after a DST fold. */
            if (lo < done_ms)
                lo = done_ms;
            if (hi > to_ms)
                hi = to_ms;
            if (hi <= lo)
                continue;
            done_ms = hi;
            while (pi < n_pauses && pauses[pi].end_ms <= lo)
                pi++;
            int64_t cur = lo;
            for (size_t p = pi; p < n_pauses && pauses[p].start_ms < hi; p++) {
                if (pauses[p].start_ms > cur && fn(cur, pauses[p].start_ms, ctx))
                    return 0;
                if (pauses[p].end_ms > cur)
                    cur = pauses[p].end_ms;
                if (cur >= hi)
                    break;
            }
            if (cur < hi && fn(cur, hi, ctx))
                return 0;
        }
    }
    return ERR_TOOBIG;
}

struct add_ctx {
    int64_t remaining_ms;
    int64_t due_ms;
    bool is_done;
};

static bool add_segment(int64_t lo_ms, int64_t hi_ms, void *ctx)
{
    struct add_ctx *c = ctx;
    /* ">=": a target used up exactly at closing is due at closing. */
    if (hi_ms - lo_ms >= c->remaining_ms) {
        c->due_ms = lo_ms + c->remaining_ms;
        c->is_done = true;
        return true;
    }
    c->remaining_ms -= hi_ms - lo_ms;
    return false;
}

int calendar_add_business_ms(const struct calendar *cal, int64_t start_ms, int64_t duration_ms,
                             const struct calendar_pause *pauses, size_t n_pauses,
                             int64_t *out_due_ms)
{
    if (duration_ms < 0)
        return ERR_INVALID;
    if (duration_ms == 0) {
        *out_due_ms = start_ms;
        return 0;
    }
    struct calendar_pause *merged;
    size_t n_merged;
    int rc = merge_pauses(pauses, n_pauses, &merged, &n_merged);
    if (rc == 0) {
        struct add_ctx c = {.remaining_ms = duration_ms};
        rc = walk(cal, start_ms, INT64_MAX, merged, n_merged, add_segment, &c);
        if (rc == 0 && !c.is_done)
            rc = ERR_TOOBIG;
        if (rc == 0)
            *out_due_ms = c.due_ms;
    }
    free(merged);
    return rc;
}

static bool sum_segment(int64_t lo_ms, int64_t hi_ms, void *ctx)
{
    *(int64_t *)ctx += hi_ms - lo_ms;
    return false;
}

int calendar_business_ms_between(const struct calendar *cal, int64_t from_ms, int64_t to_ms,
                                 const struct calendar_pause *pauses, size_t n_pauses,
                                 int64_t *out_ms)
{
    if (to_ms < from_ms)
        return ERR_INVALID;
    if (to_ms - from_ms > (int64_t)MAX_WALK_DAYS * DAY_MS - 2 * DAY_MS)
        return ERR_TOOBIG;
    struct calendar_pause *merged;
    size_t n_merged;
    int rc = merge_pauses(pauses, n_pauses, &merged, &n_merged);
    if (rc == 0) {
        int64_t total_ms = 0;
        rc = walk(cal, from_ms, to_ms, merged, n_merged, sum_segment, &total_ms);
        if (rc == 0)
            *out_ms = total_ms;
    }
    free(merged);
    return rc;
}

bool calendar_is_open(const struct calendar *cal, int64_t utc_ms)
{
    int64_t open_ms = 0;
    return calendar_business_ms_between(cal, utc_ms, utc_ms + 1, NULL, 0, &open_ms) == 0 &&
           open_ms == 1;
}
