/*
 * reports_int.h - shared by the report files: the filters every report
 * takes (period, region, store, channel, topic, operator, bucket, format),
 * limited to the caller's scope, the WHERE clause they make, and the one
 * reply function that writes a report as JSON or CSV.
 */
#ifndef OTKLIK_REPORTS_INT_H
#define OTKLIK_REPORTS_INT_H

#include "analytics/analytics_int.h"
#include "core/buf.h"
#include "http/http.h"

#include <jansson.h>

enum { F_CHANNEL = 1, F_TOPIC = 2, F_OPERATOR = 4 }; /* optional filters a report accepts */
enum bucket { B_DAY, B_WEEK, B_MONTH };

struct rfilter {
    int64_t from_day, to_day; /* inclusive UTC days */
    int64_t store_id;         /* 0: any */
    const char *region;       /* NULL: any */
    const char *channel, *topic; /* NULL: any */
    int64_t operator_id;      /* 0: any */
    enum bucket bucket;
    bool is_csv;
};

/*
 * Borrow a reader and read the query's filters into f: from/to (YYYY-MM-DD,
 * default the last 30 days), store (code), region, channel, topic, operator
 * (user id), bucket (day|week|month; default day up to 31 days, else week),
 * format (json|csv).  Filters outside `allowed` are refused; the caller's
 * scope narrows store and region (asking for another store is
 * ERR_FORBIDDEN).  Returns the reader, or NULL with *rc set (reader given back).
 */
struct db *report_begin(struct http_request *req, unsigned allowed, struct rfilter *f, int *rc);

/* Column sets of rollup tables, for report_where(). */
enum { D_CHANNEL = 1, D_TOPIC = 2, D_OPERATOR = 4 };

/* Append " WHERE day BETWEEN ... AND ..." with the filters the table's dims allow. */
void report_where(struct buf *sql, const struct rfilter *f, unsigned dims);
/* Bind what report_where() wrote, on a statement prepared from it. */
void report_bind(sqlite3_stmt *st, const struct rfilter *f, unsigned dims);

/* The request rollup table that holds every filtered dimension, and its dims. */
const char *report_request_table(const struct rfilter *f, unsigned *out_dims);

/* Prepare dynamic SQL on a reader (finalize it yourself); aborts on syntax errors. */
sqlite3_stmt *report_prepare(struct db *r, const char *sql);

/* First day of the bucket holding day, and its label (YYYY-MM-DD). */
int64_t report_bucket_of(enum bucket b, int64_t day);
void report_day_text(int64_t day, char *out, size_t cap);

/* A number or null for NAN. */
json_t *report_real(double v);

/*
 * Reply with report {"columns": [...], "rows": [{...}], ...}: as JSON, or as
 * CSV (header = columns, one line per row, RFC 4180) when f->is_csv.
 * Takes the reference to report.
 */
int report_reply(struct http_request *req, struct http_response *resp, const struct rfilter *f,
                 const char *name, json_t *report);

/* May this scope see that store? */
bool analytics_scope_allows(struct db *r, const struct scope_filter *sf, int64_t store_id);

#endif
