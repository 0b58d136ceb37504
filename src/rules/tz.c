/*
 * tz.c - TZif reader, POSIX TZ footer rules, and a process-wide zone cache.
 *
 * A TZif file lists transitions (UTC instant -> local time type) up to some
 * year and ends with a POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3") that
 * describes every later year.  We keep the 64-bit (v2+) block, fall back to
 * the 32-bit block for v1 files, and evaluate the footer rule for instants
 * after the last transition.  Leap-second records are ignored ("right/"
 * zones are not supported for business time).
 */
#include "rules/tz.h"

#include "core/mem.h"
#include "core/str.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_DIR "/usr/share/zoneinfo"
#define TZ_FILE_MAX (1u << 20) /* real TZif files are < 4 KiB */

/* One end of a DST period in a POSIX rule: a day of the year plus a time. */
struct rule_date {
    char kind;      /* 'J': Jn (1..365, Feb 29 never counted), 'D': n (0..365), 'M': Mm.w.d */
    int month;      /* 1..12 for 'M' */
    int week;       /* 1..5 for 'M' (5 = last) */
    int weekday;    /* 0..6, Sunday 0, for 'M' */
    int day;        /* for 'J' and 'D' */
    int32_t time_s; /* local time of day of the change, may be <0 or >24h (RFC 9636) */
};

struct posix_rule {
    int32_t std_off_s; /* east positive */
    int32_t dst_off_s;
    bool has_dst;
    struct rule_date start, end; /* start in standard time, end in daylight time */
};

struct tz_zone {
    char *name;
    int64_t *trans_s;    /* transition instants, UTC seconds, ascending */
    uint8_t *trans_type; /* type index per transition */
    size_t n_trans;
    int32_t *type_off_s; /* UTC offset per local time type */
    size_t n_types;
    bool has_rule;
    struct posix_rule rule;
    struct tz_zone *next; /* cache chain */
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* ---- POSIX TZ strings ("<+03>-3", "CET-1CEST,M3.5.0,M10.5.0/3") ------ */

static bool parse_num(const char **pp, int max, int *out)
{
    const char *p = *pp;
    int v = 0;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > max)
            return false;
        p++;
    }
    *pp = p;
    *out = v;
    return true;
}

/* [+-]hh[:mm[:ss]] as seconds; hours up to 167 (RFC 9636 extension). */
static bool parse_hms(const char **pp, int32_t *out_s)
{
    const char *p = *pp;
    int sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    if (!parse_num(&p, 167, &h))
        return false;
    if (*p == ':') {
        p++;
        if (!parse_num(&p, 59, &m))
            return false;
        if (*p == ':') {
            p++;
            if (!parse_num(&p, 59, &s))
                return false;
        }
    }
    *pp = p;
    *out_s = sign * (h * 3600 + m * 60 + s);
    return true;
}

static bool parse_abbr(const char **pp)
{
    const char *p = *pp;
    if (*p == '<') {
        p++;
        while (*p && *p != '>')
            p++;
        if (*p != '>')
            return false;
        p++;
    } else {
        const char *start = p;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
            p++;
        if (p - start < 3)
            return false;
    }
    *pp = p;
    return true;
}

static bool parse_rule_date(const char **pp, struct rule_date *d)
{
    const char *p = *pp;
    memset(d, 0, sizeof *d);
    if (*p == 'M') {
        p++;
        d->kind = 'M';
        if (!parse_num(&p, 12, &d->month) || *p++ != '.' || !parse_num(&p, 5, &d->week) ||
            *p++ != '.' || !parse_num(&p, 6, &d->weekday) || d->month < 1 || d->week < 1)
            return false;
    } else if (*p == 'J') {
        p++;
        d->kind = 'J';
        if (!parse_num(&p, 365, &d->day) || d->day < 1)
            return false;
    } else {
        d->kind = 'D';
        if (!parse_num(&p, 365, &d->day))
            return false;
    }
    d->time_s = 7200; /* default 02:00 */
    if (*p == '/') {
        p++;
        if (!parse_hms(&p, &d->time_s))
            return false;
    }
    *pp = p;
    return true;
}

static bool parse_posix_tz(const char *s, struct posix_rule *r)
{
    const char *p = s;
    int32_t off;
    memset(r, 0, sizeof *r);
    if (!parse_abbr(&p) || !parse_hms(&p, &off))
        return false;
    r->std_off_s = -off; /* POSIX counts west positive */
    if (*p == '\0')
        return true;
    if (!parse_abbr(&p))
        return false;
    r->has_dst = true;
    r->dst_off_s = r->std_off_s + 3600;
    if (*p != ',' && *p != '\0') {
        if (!parse_hms(&p, &off))
            return false;
        r->dst_off_s = -off;
    }
    if (*p == '\0') {
        /* No dates: POSIX leaves them implementation-defined; use the US rule. */
        r->start = (struct rule_date){'M', 3, 2, 0, 0, 7200};
        r->end = (struct rule_date){'M', 11, 1, 0, 0, 7200};
        return true;
    }
    if (*p++ != ',' || !parse_rule_date(&p, &r->start) || *p++ != ',' ||
        !parse_rule_date(&p, &r->end))
        return false;
    return *p == '\0';
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Day (since 1970-01-01) on which a rule date falls in year y. */
static int64_t rule_day(const struct rule_date *d, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (d->kind == 'J')
        return jan1 + d->day - 1 + (is_leap(y) && d->day >= 60 ? 1 : 0);
    if (d->kind == 'D')
        return jan1 + d->day;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int len = mdays[d->month - 1] + (d->month == 2 && is_leap(y) ? 1 : 0);
    int64_t first = days_from_civil(y, (unsigned)d->month, 1);
    int64_t wd_first = ((first + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday (4) */
    int64_t day = first + (d->weekday - wd_first + 7) % 7 + 7 * (d->week - 1);
    while (day >= first + len)
        day -= 7;
    return day;
}

static int32_t rule_offset_at(const struct posix_rule *r, int64_t t_s)
{
    if (!r->has_dst)
        return r->std_off_s;
    int y;
    unsigned m, d;
    civil_from_days(floor_div(t_s + r->std_off_s, 86400), &y, &m, &d);
    int64_t start = rule_day(&r->start, y) * 86400 + r->start.time_s - r->std_off_s;
    int64_t end = rule_day(&r->end, y) * 86400 + r->end.time_s - r->dst_off_s;
    bool is_dst;
    if (start < end)
        is_dst = t_s >= start && t_s < end;
    else /* southern hemisphere: DST spans the new year */
        is_dst = !(t_s >= end && t_s < start);
    return is_dst ? r->dst_off_s : r->std_off_s;
}

/* ---- TZif -------------------------------------------------------------- */

struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
};

static bool read_counts(const unsigned char *p, size_t len, struct tzif_counts *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    /* Bounds that keep the size arithmetic below far from overflow. */
    return c->time <= 100000 && c->type >= 1 && c->type <= 256 && c->chars <= 100000 &&
           c->leap <= 100000 && c->isut <= 256 && c->isstd <= 256;
}

static size_t block_size(const struct tzif_counts *c, size_t time_size)
{
    return (size_t)c->time * time_size + c->time + (size_t)c->type * 6 + c->chars +
           (size_t)c->leap * (time_size + 4) + c->isstd + c->isut;
}

static int parse_tzif(const unsigned char *p, size_t len, struct tz_zone *z, struct err_info *err)
{
    struct tzif_counts c;
    if (!read_counts(p, len, &c))
        return err_set(err, ERR_INVALID, "time_zone", "time zone file of %s is not TZif", z->name);
    int version = p[4] == 0 ? 1 : p[4] - '0';
    size_t v1 = block_size(&c, 4);
    if (44 + v1 > len)
        return err_set(err, ERR_INVALID, "time_zone", "time zone file of %s is truncated", z->name);
    const unsigned char *data = p + 44;
    size_t time_size = 4;
    const unsigned char *end = p + len;
    const unsigned char *footer = NULL;
    if (version >= 2) {
        const unsigned char *h2 = p + 44 + v1;
        if (!read_counts(h2, (size_t)(end - h2), &c) || (size_t)(end - h2) < 44 + block_size(&c, 8))
            return err_set(err, ERR_INVALID, "time_zone", "time zone file of %s is truncated",
                           z->name);
        data = h2 + 44;
        time_size = 8;
        footer = data + block_size(&c, 8);
    }
    z->n_trans = c.time;
    z->n_types = c.type;
    z->trans_s = xcalloc(c.time ? c.time : 1, sizeof *z->trans_s);
    z->trans_type = xcalloc(c.time ? c.time : 1, 1);
    z->type_off_s = xcalloc(c.type, sizeof *z->type_off_s);
    for (uint32_t i = 0; i < c.time; i++) {
        const unsigned char *q = data + (size_t)i * time_size;
        z->trans_s[i] = time_size == 8 ? be64(q) : (int64_t)(int32_t)be32(q);
        if (i > 0 && z->trans_s[i] <= z->trans_s[i - 1])
            return err_set(err, ERR_INVALID, "time_zone", "time zone %s: transitions out of order",
                           z->name);
    }
    const unsigned char *types = data + (size_t)c.time * time_size;
    for (uint32_t i = 0; i < c.time; i++) {
        if (types[i] >= c.type)
            return err_set(err, ERR_INVALID, "time_zone", "time zone %s: bad type index", z->name);
        z->trans_type[i] = types[i];
    }
    const unsigned char *tt = types + c.time;
    for (uint32_t i = 0; i < c.type; i++) {
        int32_t off = (int32_t)be32(tt + (size_t)i * 6);
        if (off < -25 * 3600 || off > 26 * 3600)
            return err_set(err, ERR_INVALID, "time_zone", "time zone %s: bad offset", z->name);
        z->type_off_s[i] = off;
    }
    if (footer && footer < end && *footer == '\n') {
        const unsigned char *nl = memchr(footer + 1, '\n', (size_t)(end - footer - 1));
        if (nl && nl > footer + 1) {
            char rule[128];
            size_t n = (size_t)(nl - footer - 1);
            if (n < sizeof rule) {
                memcpy(rule, footer + 1, n);
                rule[n] = '\0';
                z->has_rule = parse_posix_tz(rule, &z->rule);
            }
        }
    }
    return 0;
}

void tz_zone_free(struct tz_zone *zone)
{
    if (!zone)
        return;
    free(zone->name);
    free(zone->trans_s);
    free(zone->trans_type);
    free(zone->type_off_s);
    free(zone);
}

int tz_zone_load_file(const char *path, const char *name, struct tz_zone **out,
                      struct err_info *err)
{
    int rc = 0;
    unsigned char *data = NULL;
    struct tz_zone *z = xcalloc(1, sizeof *z);
    z->name = xstrdup(name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = errno == ENOENT || errno == ENOTDIR
                 ? err_set(err, ERR_NOTFOUND, "time_zone", "unknown time zone '%s'", name)
                 : err_set(err, ERR_INVALID, "time_zone", "cannot open time zone '%s': %s", name,
                           strerror(errno));
        goto out;
    }
    data = xmalloc(TZ_FILE_MAX);
    size_t len = fread(data, 1, TZ_FILE_MAX, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed) {
        /* A directory such as "Europe" opens but cannot be read. */
        rc = err_set(err, ERR_NOTFOUND, "time_zone", "unknown time zone '%s'", name);
        goto out;
    }
    rc = parse_tzif(data, len, z, err);
out:
    free(data);
    if (rc != 0) {
        tz_zone_free(z);
        z = NULL;
    }
    *out = z;
    return rc;
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 128 || name[0] == '/' || name[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '+' || c == '-' || c == '/';
        if (!ok || (c == '/' && name[i + 1] == '/'))
            return false;
    }
    return true;
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz_zone *cache_head;

int tz_zone_get(const char *name, const struct tz_zone **out, struct err_info *err)
{
    *out = NULL;
    if (!name || !name_ok(name))
        return err_set(err, ERR_INVALID, "time_zone", "bad time zone name '%s'", name ? name : "");
    int rc = 0;
    pthread_mutex_lock(&cache_lock);
    for (struct tz_zone *z = cache_head; z; z = z->next) {
        if (strcmp(z->name, name) == 0) {
            *out = z;
            goto out;
        }
    }
    char path[256];
    snprintf(path, sizeof path, "%s/%s", TZ_DIR, name);
    struct tz_zone *z = NULL;
    rc = tz_zone_load_file(path, name, &z, err);
    if (rc != 0 && (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)) {
        /* Minimal systems may lack tzdata; UTC needs no file. */
        err_clear(err);
        z = xcalloc(1, sizeof *z);
        z->name = xstrdup(name);
        z->n_types = 1;
        z->type_off_s = xcalloc(1, sizeof *z->type_off_s);
        z->trans_s = xcalloc(1, sizeof *z->trans_s);
        z->trans_type = xcalloc(1, 1);
        rc = 0;
    }
    if (rc == 0) {
        z->next = cache_head;
        cache_head = z;
        *out = z;
    }
out:
    pthread_mutex_unlock(&cache_lock);
    return rc;
}

const char *tz_zone_name(const struct tz_zone *zone)
{
    return zone->name;
}

static int32_t offset_at_s(const struct tz_zone *z, int64_t t_s)
{
    if (z->n_trans == 0)
        return z->has_rule ? rule_offset_at(&z->rule, t_s) : z->type_off_s[0];
    if (t_s < z->trans_s[0])
        return z->type_off_s[0];
    if (t_s >= z->trans_s[z->n_trans - 1] && z->has_rule)
        return rule_offset_at(&z->rule, t_s);
    /* Last transition at or before t_s. */
    size_t lo = 0, hi = z->n_trans;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans_s[mid] <= t_s)
            lo = mid;
        else
            hi = mid;
    }
    return z->type_off_s[z->trans_type[lo]];
}

int32_t tz_offset_at(const struct tz_zone *zone, int64_t utc_ms)
{
    return offset_at_s(zone, floor_div(utc_ms, 1000));
}

int64_t tz_utc_to_local(const struct tz_zone *zone, int64_t utc_ms)
{
    return utc_ms + (int64_t)tz_offset_at(zone, utc_ms) * 1000;
}

int64_t tz_local_to_utc(const struct tz_zone *zone, int64_t local_ms)
{
    /*
     * The offsets a day before and a day after bracket any single change
     * near this wall time.  Each gives a candidate instant; a candidate is
     * real when the zone's offset at that instant is the one we assumed.
     */
    const int64_t day_ms = 86400000;
    int64_t off_before = (int64_t)tz_offset_at(zone, local_ms - day_ms) * 1000;
    int64_t off_after = (int64_t)tz_offset_at(zone, local_ms + day_ms) * 1000;
    int64_t t_before = local_ms - off_before;
    int64_t t_after = local_ms - off_after;
    bool ok_before = (int64_t)tz_offset_at(zone, t_before) * 1000 == off_before;
    bool ok_after = (int64_t)tz_offset_at(zone, t_after) * 1000 == off_after;
    if (ok_before && ok_after)
        return t_before < t_after ? t_before : t_after; /* overlap: earlier */
    if (ok_before)
        return t_before;
    if (ok_after)
        return t_after;
    return t_before; /* gap: read with the offset before the change */
}

static void format_civil(int64_t ms, char *out, size_t cap, const char *suffix)
{
    int64_t secs = floor_div(ms, 1000);
    int millis = (int)(ms - secs * 1000);
    int64_t days = floor_div(secs, 86400);
    int64_t rem = secs - days * 86400;
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char frac[8] = "";
    if (millis != 0)
        snprintf(frac, sizeof frac, ".%03d", millis);
    snprintf(out, cap, "%04d-%02u-%02uT%02d:%02d:%02d%s%s", y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), frac, suffix);
}

void tz_format_local(const struct tz_zone *zone, int64_t utc_ms, char *out, size_t cap)
{
    int32_t off = tz_offset_at(zone, utc_ms);
    int32_t a = off < 0 ? -off : off;
    char suffix[16];
    if (a % 60 != 0) /* pre-1920 local mean time */
        snprintf(suffix, sizeof suffix, "%c%02d:%02d:%02d", off < 0 ? '-' : '+', a / 3600,
                 a / 60 % 60, a % 60);
    else
        snprintf(suffix, sizeof suffix, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
    format_civil(utc_ms + (int64_t)off * 1000, out, cap, suffix);
}

void tz_format_utc(int64_t utc_ms, char *out, size_t cap)
{
    format_civil(utc_ms, out, cap, "Z");
}
