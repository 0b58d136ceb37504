/*
 * calendar.h - business-hours calendars for SLA clocks.
 *
 * A calendar is a time zone, opening intervals per weekday (several a day,
 * e.g. around a lunch break), holidays, and optional special days that
 * replace the weekday's hours for one date (a working Saturday).  All
 * arithmetic is on UTC instants in ms; wall times are converted with tz.h,
 * so DST changes and zones from Kaliningrad to Vladivostok come out right.
 */
#ifndef OTKLIK_CALENDAR_H
#define OTKLIK_CALENDAR_H

#include "core/err.h"
#include "core/str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tz_zone;

/* One opening interval of a day, local wall time. */
struct calendar_interval {
    int32_t open_s;  /* seconds after local midnight, 0..86399 */
    int32_t close_s; /* seconds after local midnight, open_s < close_s <= 86400 ("24:00") */
};

/* The hours of one date that differs from its weekday; n_intervals 0 = closed. */
struct calendar_special_day {
    int64_t day;                         /* local date, days since 1970-01-01 */
    struct calendar_interval *intervals; /* owned by the calendar, sorted */
    size_t n_intervals;
};

struct calendar {
    const struct tz_zone *zone;        /* from tz_zone_get(); process lifetime */
    struct calendar_interval *week[7]; /* index 0 = Monday .. 6 = Sunday; owned, sorted */
    size_t n_week[7];
    int64_t *holidays; /* local dates, days since 1970-01-01; sorted, unique */
    size_t n_holidays;
    struct calendar_special_day *special; /* sorted by day; owned */
    size_t n_special;
};

/* A stretch during which the clock is stopped (waiting for the customer). */
struct calendar_pause {
    int64_t start_ms; /* UTC, inclusive */
    int64_t end_ms;   /* UTC, exclusive; end_ms >= start_ms */
};

/*
 * Build a calendar from JSON text (len bytes, need not be NUL-terminated):
 *   {"time_zone": "Europe/Moscow",
 *    "week": {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], ..., "sun": []},
 *    "holidays": ["2024-05-13"],
 *    "special_days": {"2024-04-27": [["09:00", "18:00"]]}}
 * Times are "HH:MM" or "HH:MM:SS"; "24:00" closes at midnight.  A weekday
 * key left out is closed.  Unknown keys, unknown day keys, malformed times,
 * an interval that ends before it starts, overlapping intervals, bad dates
 * and unknown zones are ERR_INVALID (ERR_NOTFOUND for an unknown zone) with
 * the offending field in *err.  A calendar with no working hours in the week
 * is ERR_INVALID: no target could ever be met.
 * On success *out is owned by the caller (calendar_free()).
 */
int calendar_parse_json(const char *text, size_t len, struct calendar **out, struct err_info *err);

/* calendar_parse_json() on a file's contents; a missing file is ERR_NOTFOUND. */
int calendar_load_file(const char *path, struct calendar **out, struct err_info *err);

void calendar_free(struct calendar *cal);

/*
 * Parse a time for this calendar: RFC 3339 with "Z" or an offset is an
 * absolute instant; without an offset ("2024-05-10T17:30:00", seconds
 * optional) it is wall time in the calendar's zone (see tz_local_to_utc for
 * DST gaps and overlaps).  ERR_INVALID (field as given) otherwise.
 */
int calendar_parse_time(const struct calendar *cal, struct str s, const char *field,
                        int64_t *out_utc_ms, struct err_info *err);

/*
 * The instant at which duration_ms of business time, counted from start_ms
 * and not counting the pauses, has elapsed.  A target reached exactly at
 * closing time is due at closing time.  duration 0 is due at start_ms.
 * Pauses may overlap and come in any order.  The walk goes day by day (one
 * step per local date, never per minute), so long targets are instant.
 * Returns 0, ERR_INVALID for a negative duration or a pause ending before it
 * starts, ERR_TOOBIG if the due time lies more than 100 years ahead.
 */
int calendar_add_business_ms(const struct calendar *cal, int64_t start_ms, int64_t duration_ms,
                             const struct calendar_pause *pauses, size_t n_pauses,
                             int64_t *out_due_ms);

/*
 * Business time in ms between from_ms and to_ms (UTC) that is inside
 * opening hours and outside every pause: what an SLA clock has consumed.
 * Returns 0, ERR_INVALID when to_ms < from_ms or a pause is inverted,
 * ERR_TOOBIG for spans over 100 years.
 */
int calendar_business_ms_between(const struct calendar *cal, int64_t from_ms, int64_t to_ms,
                                 const struct calendar_pause *pauses, size_t n_pauses,
                                 int64_t *out_ms);

/* Is utc_ms inside opening hours (pauses not considered)? */
bool calendar_is_open(const struct calendar *cal, int64_t utc_ms);

#endif
