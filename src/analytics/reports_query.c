/*
 * reports_query.c - what every report shares: reading and scoping the
 * filters, the WHERE clause over a rollup table, buckets, and writing a
 * report as JSON or CSV.
 */
#include "analytics/reports_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/str.h"
#include "store/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool analytics_scope_allows(struct db *r, const struct scope_filter *sf, int64_t store_id)
{
    if (sf == NULL || sf->scope == SCOPE_ALL)
        return true;
    if (sf->scope == SCOPE_STORE)
        return store_id != 0 && store_id == sf->store_id;
    sqlite3_stmt *st = db_stmt(r, "SELECT region FROM stores WHERE id = $1");
    db_bind_i64(st, 1, store_id);
    bool ok = db_step(r, st, NULL) == 1 && sf->region && strcmp(db_col_text(st, 0), sf->region) == 0;
    sqlite3_reset(st);
    return ok;
}

/* YYYY-MM-DD (or an RFC 3339 time) as a UTC day. */
static int parse_day(const char *s, int64_t *out)
{
    int64_t y, m, d;
    if (strlen(s) == 10 && s[4] == '-' && s[7] == '-' &&
        str_to_i64((struct str){s, 4}, 1970, 2200, &y) == 0 &&
        str_to_i64((struct str){s + 5, 2}, 1, 12, &m) == 0 &&
        str_to_i64((struct str){s + 8, 2}, 1, 31, &d) == 0) {
        *out = days_from_civil(y, (unsigned)m, (unsigned)d);
        return 0;
    }
    int64_t ms;
    if (time_parse_rfc3339(str_from(s), &ms) == 0 && ms >= 0) {
        *out = ms / DAY_MS;
        return 0;
    }
    return ERR_INVALID;
}

static int report_filter_parse(struct http_request *req, struct db *r, unsigned allowed,
                               struct rfilter *f)
{
    memset(f, 0, sizeof *f);
    struct err_info *err = &req->err;
    int64_t today = clock_now_ms() / DAY_MS;
    f->to_day = today;
    f->from_day = today - 29;
    const char *v;
    if ((v = http_query(req, "from")) && parse_day(v, &f->from_day) != 0)
        return err_set(err, ERR_INVALID, "from", "from must be a date YYYY-MM-DD");
    if ((v = http_query(req, "to")) && parse_day(v, &f->to_day) != 0)
        return err_set(err, ERR_INVALID, "to", "to must be a date YYYY-MM-DD");
    if (f->from_day > f->to_day)
        return err_set(err, ERR_INVALID, "from", "from is after to");
    if (f->to_day - f->from_day > 3660)
        return err_set(err, ERR_INVALID, "from", "the period is longer than ten years");
    if ((v = http_query(req, "store")) && v[0]) {
        f->store_id = store_store_id(r, v);
        if (f->store_id == 0)
            return err_set(err, ERR_INVALID, "store", "unknown store code '%s'", v);
    }
    if ((v = http_query(req, "region")) && v[0])
        f->region = v;
    if ((v = http_query(req, "channel")) && v[0]) {
        if (!(allowed & F_CHANNEL))
            return err_set(err, ERR_INVALID, "channel", "this report has no channel filter");
        if (model_find(model_channels, v) < 0)
            return err_set(err, ERR_INVALID, "channel", "unknown channel '%s'", v);
        f->channel = v;
    }
    if ((v = http_query(req, "topic")) && v[0]) {
        if (!(allowed & F_TOPIC))
            return err_set(err, ERR_INVALID, "topic", "this report has no topic filter");
        if (model_find(model_topics, v) < 0)
            return err_set(err, ERR_INVALID, "topic", "unknown topic '%s'", v);
        f->topic = v;
    }
    if ((v = http_query(req, "operator")) && v[0]) {
        if (!(allowed & F_OPERATOR))
            return err_set(err, ERR_INVALID, "operator", "this report has no operator filter");
        if (str_to_i64(str_from(v), 1, INT64_MAX, &f->operator_id) != 0)
            return err_set(err, ERR_INVALID, "operator", "operator must be a user id");
    }
    f->bucket = f->to_day - f->from_day > 31 ? B_WEEK : B_DAY;
    if ((v = http_query(req, "bucket"))) {
        if (strcmp(v, "day") == 0)
            f->bucket = B_DAY;
        else if (strcmp(v, "week") == 0)
            f->bucket = B_WEEK;
        else if (strcmp(v, "month") == 0)
            f->bucket = B_MONTH;
        else
            return err_set(err, ERR_INVALID, "bucket", "bucket is day, week or month");
    }
    if ((v = http_query(req, "format"))) {
        if (strcmp(v, "csv") == 0)
            f->is_csv = true;
        else if (strcmp(v, "json") != 0)
            return err_set(err, ERR_INVALID, "format", "format is json or csv");
    }
    /* The caller's scope: a director sees the store, a regional manager the region. */
    const struct scope_filter *sf = &req->who.scope;
    if (sf->scope == SCOPE_STORE) {
        if (f->store_id && f->store_id != sf->store_id)
            return err_set(err, ERR_FORBIDDEN, "store", "you may see your own store only");
        f->store_id = sf->store_id;
        f->region = NULL;
    } else if (sf->scope == SCOPE_REGION) {
        if (f->region && (sf->region == NULL || strcmp(f->region, sf->region) != 0))
            return err_set(err, ERR_FORBIDDEN, "region", "you may see your own region only");
        if (f->store_id && !analytics_scope_allows(r, sf, f->store_id))
            return err_set(err, ERR_FORBIDDEN, "store", "that store is outside your region");
        f->region = sf->region ? sf->region : "";
    }
    return 0;
}

struct db *report_begin(struct http_request *req, unsigned allowed, struct rfilter *f, int *rc)
{
    struct db *r = store_reader(req->app->store);
    if ((*rc = report_filter_parse(req, r, allowed, f)) != 0) {
        store_reader_done(req->app->store, r);
        return NULL;
    }
    return r;
}

void report_where(struct buf *sql, const struct rfilter *f, unsigned dims)
{
    buf_puts(sql, " WHERE day >= $1 AND day <= $2");
    if (f->store_id)
        buf_puts(sql, " AND store_id = $3");
    if (f->region)
        buf_puts(sql, " AND store_id IN (SELECT id FROM stores WHERE region = $4)");
    if (!f->store_id && !f->region) /* the chain's own rows */
        buf_puts(sql, " AND store_id = 0");
    if (f->channel && (dims & D_CHANNEL))
        buf_puts(sql, " AND channel = $5");
    if (f->topic && (dims & D_TOPIC))
        buf_puts(sql, " AND topic = $6");
    if (f->operator_id && (dims & D_OPERATOR))
        buf_puts(sql, " AND operator_id = $7");
}

void report_bind(sqlite3_stmt *st, const struct rfilter *f, unsigned dims)
{
    db_bind_i64(st, 1, f->from_day);
    db_bind_i64(st, 2, f->to_day);
    if (f->store_id)
        db_bind_i64(st, 3, f->store_id);
    if (f->region)
        db_bind_text(st, 4, f->region, -1);
    if (f->channel && (dims & D_CHANNEL))
        db_bind_text(st, 5, f->channel, -1);
    if (f->topic && (dims & D_TOPIC))
        db_bind_text(st, 6, f->topic, -1);
    if (f->operator_id && (dims & D_OPERATOR))
        db_bind_i64(st, 7, f->operator_id);
}

const char *report_request_table(const struct rfilter *f, unsigned *out_dims)
{
    if (f->operator_id) {
        *out_dims = D_OPERATOR;
        return "an_roll_operator";
    }
    if (f->channel && f->topic) {
        *out_dims = D_CHANNEL | D_TOPIC;
        return "an_roll_req";
    }
    if (f->channel) {
        *out_dims = D_CHANNEL;
        return "an_roll_chan";
    }
    if (f->topic) {
        *out_dims = D_TOPIC;
        return "an_roll_topic";
    }
    *out_dims = 0;
    return "an_roll_store";
}

sqlite3_stmt *report_prepare(struct db *r, const char *sql)
{
    sqlite3_stmt *st = db_prepare(r, sql);
    if (st == NULL) {
        log_error("report sql error: %s in %.300s", sqlite3_errmsg(db_handle(r)), sql);
        abort();
    }
    return st;
}

int64_t report_bucket_of(enum bucket b, int64_t day)
{
    if (b == B_WEEK) /* weeks start on Monday; day 0 (1970-01-01) was a Thursday */
        return day - ((day % 7 + 7 + 3) % 7);
    if (b == B_MONTH) {
        int y;
        unsigned m, d;
        civil_from_days(day, &y, &m, &d);
        return days_from_civil(y, m, 1);
    }
    return day;
}

void report_day_text(int64_t day, char *out, size_t cap)
{
    int y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(out, cap, "%04d-%02u-%02u", y, m, d);
}

json_t *report_real(double v)
{
    if (isnan(v) || isinf(v))
        return json_null();
    return json_real(round(v * 10000.0) / 10000.0);
}

void csv_field(struct buf *b, const char *s)
{
    /* A leading = + - @ would be a formula in a spreadsheet: quote and prefix it. */
    bool formula = s[0] == '=' || s[0] == '+' || s[0] == '@' ||
                   (s[0] == '-' && !(s[1] >= '0' && s[1] <= '9'));
    if (!formula && strpbrk(s, ",\"\r\n") == NULL) {
        buf_puts(b, s);
        return;
    }
    buf_putc(b, '"');
    if (formula)
        buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '"')
            buf_putc(b, '"');
        buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

static void csv_value(struct buf *b, json_t *v)
{
    char num[64];
    if (json_is_string(v)) {
        csv_field(b, json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        buf_puts(b, num);
    } else if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.4f", json_real_value(v));
        buf_puts(b, num);
    } else if (json_is_boolean(v)) {
        buf_puts(b, json_is_true(v) ? "true" : "false");
    } else if (v && !json_is_null(v)) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        csv_field(b, text ? text : "");
        free(text);
    }
}

int report_reply(struct http_request *req, struct http_response *resp, const struct rfilter *f,
                 const char *name, json_t *report)
{
    if (!f->is_csv) {
        char from[16], to[16];
        report_day_text(f->from_day, from, sizeof from);
        report_day_text(f->to_day, to, sizeof to);
        json_object_set_new(report, "from", json_string(from));
        json_object_set_new(report, "to", json_string(to));
        /* Ten significant digits: figures, not binary noise. */
        char *text = json_dumps(report, JSON_COMPACT | JSON_REAL_PRECISION(10));
        json_decref(report);
        buf_reset(&resp->body);
        buf_puts(&resp->body, text ? text : "null");
        buf_putc(&resp->body, '\n');
        free(text);
        resp->status = 200;
        resp->content_type = "application/json";
        return 0;
    }
    json_t *cols = json_object_get(report, "columns"), *rows = json_object_get(report, "rows");
    struct buf *b = &resp->body;
    buf_reset(b);
    size_t i, j;
    json_t *c, *row;
    json_array_foreach(cols, i, c)
    {
        if (i)
            buf_putc(b, ',');
        csv_field(b, json_string_value(c));
    }
    buf_puts(b, "\r\n");
    json_array_foreach(rows, j, row)
    {
        json_array_foreach(cols, i, c)
        {
            if (i)
                buf_putc(b, ',');
            csv_value(b, json_object_get(row, json_string_value(c)));
        }
        buf_puts(b, "\r\n");
    }
    json_decref(report);
    resp->status = 200;
    resp->content_type = "text/csv; charset=utf-8";
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.csv\"", name);
    http_add_header(req, resp, "Content-Disposition", disp);
    return 0;
}
