/*
 * tz.h - time zones read straight from the system's TZif files.
 *
 * Business calendars and SLA clocks need "what is the wall time in
 * Europe/Moscow at this instant" and the reverse.  We read
 * /usr/share/zoneinfo ourselves (TZif v1-v4 plus the POSIX TZ footer for
 * instants after the last listed transition) instead of calling setenv("TZ")
 * + localtime_r, so any thread may ask about any zone at any time.
 */
#ifndef OTKLIK_TZ_H
#define OTKLIK_TZ_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

/* A loaded zone.  Immutable once loaded; owned by the process-wide cache. */
struct tz_zone;

/*
 * Find a zone by its IANA name ("Europe/Moscow", "UTC"), loading and caching
 * it on first use.  Thread-safe.  The zone lives until process exit; callers
 * never free it.  Names are checked before touching the file system (no
 * "..", no leading '/', only [A-Za-z0-9_+-/]).
 * Returns 0, ERR_INVALID for a bad name or an unreadable/corrupt file
 * (details in *err, field "time_zone"), ERR_NOTFOUND when no such zone.
 */
int tz_zone_get(const char *name, const struct tz_zone **out, struct err_info *err);

/*
 * Load a zone from an explicit TZif file (tests, unusual installs).  The
 * result is owned by the caller: release it with tz_zone_free().
 */
int tz_zone_load_file(const char *path, const char *name, struct tz_zone **out,
                      struct err_info *err);
void tz_zone_free(struct tz_zone *zone);

/* The IANA name the zone was loaded under; owned by the zone. */
const char *tz_zone_name(const struct tz_zone *zone);

/* UTC offset in seconds (east positive: Moscow is +10800) at instant utc_ms. */
int32_t tz_offset_at(const struct tz_zone *zone, int64_t utc_ms);

/*
 * Convert a local wall time (milliseconds since 1970-01-01T00:00 local, i.e.
 * the wall clock read as if it were UTC) to a UTC instant in ms.
 * Deterministic at DST changes:
 *   - overlap (the wall time happens twice, autumn): the earlier instant;
 *   - gap (the wall time never happens, spring): the wall time is read with
 *     the offset in force before the change, so 02:30 in a 02:00->03:00 gap
 *     becomes 03:30 of the new offset (what a clock pushed forward shows).
 */
int64_t tz_local_to_utc(const struct tz_zone *zone, int64_t local_ms);

/* Wall time at utc_ms as local ms (utc_ms + offset). */
int64_t tz_utc_to_local(const struct tz_zone *zone, int64_t utc_ms);

/*
 * Format utc_ms as local ISO 8601 with the offset, "2024-05-10T17:30:00+03:00"
 * (".mmm" added only when the milliseconds are non-zero) into out, which
 * should hold at least 40 bytes.  UTC zones print "+00:00".
 */
void tz_format_local(const struct tz_zone *zone, int64_t utc_ms, char *out, size_t cap);

/* Format utc_ms as "2024-05-10T14:30:00Z" (".mmm" only when non-zero); cap >= 32. */
void tz_format_utc(int64_t utc_ms, char *out, size_t cap);

#endif
