/*
 * store_requests.c - requests ("обращения"): creation from intake with
 * dedup by (channel, source_id), reading with messages and events, keyset
 * listing with filters and full-text search, changes through the status
 * machine, and messages.  Every change appends an event.
 */
#include "store/store_int.h"

#include "core/buf.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/str.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void store_region_of(struct db *db, int64_t store_id, char *out, size_t cap)
{
    out[0] = '\0';
    if (store_id == 0)
        return;
    sqlite3_stmt *st = db_stmt(db, "SELECT region FROM stores WHERE id = $1");
    db_bind_i64(st, 1, store_id);
    if (db_step(db, st, NULL) == 1)
        snprintf(out, cap, "%s", db_col_text(st, 0));
    sqlite3_reset(st);
}

bool scope_allows_store(struct db *db, const struct scope_filter *sf, int64_t store_id)
{
    if (sf == NULL || sf->scope == SCOPE_ALL)
        return true;
    if (sf->scope == SCOPE_STORE)
        return store_id != 0 && store_id == sf->store_id;
    char region[64];
    store_region_of(db, store_id, region, sizeof region);
    return sf->region != NULL && strcmp(region, sf->region) == 0;
}

static int64_t order_id_by_ref(struct db *db, const char *ref)
{
    if (ref == NULL)
        return 0;
    sqlite3_stmt *st = db_stmt(db, "SELECT id FROM orders WHERE external_id = $1");
    db_bind_text(st, 1, ref, -1);
    int64_t id = db_step(db, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

/* Insert a message and queue its index row (terms may be NULL: not searchable). */
static int insert_message(struct store_tx *tx, int64_t request_id, const char *direction,
                          const char *channel, int64_t author_user_id, const char *author_name,
                          const char *body, const char *terms, int64_t at_ms,
                          struct err_info *err)
{
    struct db *db = tx->db;
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO messages (request_id, direction, channel, "
                                   "author_user_id, author_name, body, created_at_ms) "
                                   "VALUES ($1, $2, $3, $4, $5, $6, $7)");
    db_bind_i64(st, 1, request_id);
    db_bind_text_static(st, 2, direction, -1);
    db_bind_text_static(st, 3, channel, -1);
    db_bind_i64_or_null(st, 4, author_user_id);
    db_bind_text_static(st, 5, author_name, -1);
    db_bind_text_static(st, 6, body, -1);
    db_bind_i64(st, 7, at_ms);
    int rc = db_run(db, st, err);
    if (rc == 0)
        store_tx_search_add(tx, db_last_id(db), terms);
    return rc;
}

/*
 * The request's first message, from the customer, and the replies of an
 * imported history, up to four a statement (each statement costs about as
 * much as its rows).  Replies are kept but not indexed: search finds what
 * customers wrote.  Rows of one statement take consecutive ids.
 */
static int insert_messages(struct store_tx *tx, int64_t request_id, const struct request_in *in,
                           int64_t created, struct err_info *err)
{
    /* $1 the request and $2 the channel, shared; row k's direction, author, body
     * and time from $3 + 4k on. */
    static const char *const sql[] = {
        NULL,
        "INSERT INTO messages (request_id, channel, direction, author_name, body, "
        "created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        "INSERT INTO messages (request_id, channel, direction, author_name, body, "
        "created_at_ms) VALUES ($1, $2, $3, $4, $5, $6), ($1, $2, $7, $8, $9, $10)",
        "INSERT INTO messages (request_id, channel, direction, author_name, body, "
        "created_at_ms) VALUES ($1, $2, $3, $4, $5, $6), ($1, $2, $7, $8, $9, $10), "
        "($1, $2, $11, $12, $13, $14)",
        "INSERT INTO messages (request_id, channel, direction, author_name, body, "
        "created_at_ms) VALUES ($1, $2, $3, $4, $5, $6), ($1, $2, $7, $8, $9, $10), "
        "($1, $2, $11, $12, $13, $14), ($1, $2, $15, $16, $17, $18)",
    };
    struct db *db = tx->db;
    size_t n_rows = 1 + in->n_replies;
    for (size_t row = 0; row < n_rows;) {
        size_t n = n_rows - row < 4 ? n_rows - row : 4;
        sqlite3_stmt *st = db_stmt(db, sql[n]);
        db_bind_i64(st, 1, request_id);
        db_bind_text_static(st, 2, in->channel, -1);
        size_t first = row;
        for (size_t k = 0; k < n; k++, row++) {
            int p = 3 + 4 * (int)k;
            bool is_in = row == 0;
            const struct reply_in *r = is_in ? NULL : &in->replies[row - 1];
            db_bind_text_static(st, p, is_in ? "in" : "out", -1);
            db_bind_text_static(st, p + 1, is_in ? in->customer.name : "operator", -1);
            db_bind_text_static(st, p + 2, is_in ? in->text : r->text, -1);
            db_bind_i64(st, p + 3, is_in || r->at_ms == 0 ? created : r->at_ms);
        }
        int rc = db_run(db, st, err);
        if (rc != 0)
            return rc;
        if (first == 0)
            store_tx_search_add(tx, db_last_id(db) - (int64_t)(n - 1), in->search_terms);
    }
    return 0;
}

static bool request_exists(struct db *db, const char *channel, const char *source_id)
{
    sqlite3_stmt *st =
        db_stmt(db, "SELECT 1 FROM requests WHERE channel = $1 AND source_id = $2");
    db_bind_text_static(st, 1, channel, -1);
    db_bind_text_static(st, 2, source_id, -1);
    bool exists = db_step(db, st, NULL) == 1;
    sqlite3_reset(st);
    return exists;
}

int store_request_create(struct store_tx *tx, const struct request_in *in,
                         struct request_out *out, struct err_info *err)
{
    struct db *db = tx->db;
    int rc;
    memset(out, 0, sizeof *out);
    if (in->source_id != NULL && !in->is_repeat_an_error) {
        sqlite3_stmt *st = db_stmt(db, "SELECT id, customer_id, store_id FROM requests "
                                       "WHERE channel = $1 AND source_id = $2");
        db_bind_text_static(st, 1, in->channel, -1);
        db_bind_text_static(st, 2, in->source_id, -1);
        if (db_step(db, st, NULL) == 1) {
            out->id = db_col_i64(st, 0);
            out->customer_id = db_col_i64(st, 1);
            out->is_duplicate = true;
            tx->n_deduplicated++; /* counted once committed */
            if (in->scope && !scope_allows_store(db, in->scope, db_col_i64(st, 2))) {
                sqlite3_reset(st);
                return err_set(err, ERR_CONFLICT, "source_id",
                               "this source_id belongs to a request you may not see");
            }
            sqlite3_reset(st);
            if (in->want_json)
                return store_request_get(db, out->id, NULL, false, &out->json, err);
            return 0;
        }
        sqlite3_reset(st);
    }
    int64_t store_id = 0;
    if (in->store_code != NULL) {
        store_id = store_store_id_tx(tx, in->store_code);
        if (store_id == 0 && in->is_repeat_an_error && in->source_id != NULL &&
            request_exists(db, in->channel, in->source_id))
            return err_set(err, ERR_CONFLICT, "source_id", "request %s/%s exists already",
                           in->channel, in->source_id); /* the first thing wrong with it */
        if (store_id == 0)
            return err_set(err, ERR_INVALID, "store", "unknown store code '%s'", in->store_code);
    }
    int64_t now = tx_now_ms();
    int64_t created = in->created_at_ms ? in->created_at_ms : now;
    if ((rc = store_customer_resolve(tx, &in->customer, 0, now, &out->customer_id, err)) != 0)
        return rc;
    int64_t order_id = order_id_by_ref(db, in->order_ref);
    const char *status = in->status ? in->status : "new";

    sqlite3_stmt *st = db_stmt(
        db, "INSERT INTO requests (customer_id, channel, source_id, store_id, order_id, "
            "order_ref, kind, status, priority, topic, topic_confidence, sentiment, "
            "sentiment_confidence, needs_review, subject, created_at_ms, updated_at_ms, "
            "first_response_at_ms, solved_at_ms, closed_at_ms) VALUES ($1, $2, $3, $4, $5, $6, "
            "$7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)");
    db_bind_i64_or_null(st, 1, out->customer_id);
    db_bind_text_static(st, 2, in->channel, -1);
    db_bind_text_static(st, 3, in->source_id, -1);
    db_bind_i64_or_null(st, 4, store_id);
    db_bind_i64_or_null(st, 5, order_id);
    db_bind_text_static(st, 6, in->order_ref, -1);
    db_bind_text_static(st, 7, in->kind, -1);
    db_bind_text_static(st, 8, status, -1);
    db_bind_text_static(st, 9, in->priority ? in->priority : "normal", -1);
    db_bind_text_static(st, 10, in->topic, -1);
    if (in->topic)
        db_bind_double(st, 11, in->topic_confidence);
    else
        db_bind_null(st, 11);
    db_bind_text_static(st, 12, in->sentiment, -1);
    if (in->sentiment)
        db_bind_double(st, 13, in->sentiment_confidence);
    else
        db_bind_null(st, 13);
    db_bind_i64(st, 14, in->needs_review ? 1 : 0);
    db_bind_text_static(st, 15, in->subject, -1);
    db_bind_i64(st, 16, created);
    db_bind_i64(st, 17, created);
    db_bind_i64_or_null(st, 18, in->first_response_at_ms);
    db_bind_i64_or_null(st, 19, in->solved_at_ms);
    db_bind_i64_or_null(st, 20, in->closed_at_ms);
    if ((rc = db_run(db, st, err)) != 0) {
        if (rc == ERR_CONFLICT && in->is_repeat_an_error && in->source_id != NULL &&
            sqlite3_extended_errcode(db_handle(db)) == SQLITE_CONSTRAINT_UNIQUE) {
            err_clear(err);
            return err_set(err, ERR_CONFLICT, "source_id", "request %s/%s exists already",
                           in->channel, in->source_id);
        }
        return rc;
    }
    out->id = db_last_id(db);

    if ((rc = insert_messages(tx, out->id, in, created, err)) != 0)
        return rc;

    /* Event data is written as text: this runs in the writer for every request. */
    struct buf d;
    buf_init(&d, 0);
    buf_puts(&d, "{\"channel\":");
    buf_put_json_str(&d, in->channel);
    buf_puts(&d, ",\"kind\":");
    buf_put_json_str(&d, in->kind);
    buf_puts(&d, ",\"status\":");
    buf_put_json_str(&d, status);
    buf_puts(&d, ",\"topic\":");
    buf_put_json_str(&d, in->topic);
    buf_puts(&d, ",\"sentiment\":");
    buf_put_json_str(&d, in->sentiment);
    buf_puts(&d, ",\"priority\":");
    buf_put_json_str(&d, in->priority ? in->priority : "normal");
    buf_putc(&d, '}');
    int64_t ev = store_event_add(tx, "request.created", out->id, out->customer_id, order_id,
                                 store_id, in->actor, buf_cstr(&d), err);
    buf_free(&d);
    if (ev < 0)
        return (int)ev;
    int ch = model_find(model_channels, in->channel);
    if (ch >= 0 && ch < METRIC_MAX_CHANNELS)
        tx->pending[tx->n_pending - 1].created_channel = ch; /* counted at commit */
    if (in->classify_json) {
        ev = store_event_add(tx, "request.classified", out->id, out->customer_id, 0, store_id,
                             "classifier", in->classify_json, err);
        if (ev < 0)
            return (int)ev;
    }
    out->created_ms = created;
    if (in->want_json && out->customer_id) {
        /* The customer may have been known under another name: the stored one wins. */
        st = db_stmt(db, "SELECT name FROM customers WHERE id = $1");
        db_bind_i64(st, 1, out->customer_id);
        if (db_step(db, st, NULL) == 1 && !db_col_is_null(st, 0))
            out->customer_name = xstrdup(db_col_text(st, 0));
        sqlite3_reset(st);
    }
    return 0;
}

/* Columns shared by get and list; keep row_to_json in step. */
#define REQUEST_COLUMNS                                                                            \
    "r.id, r.customer_id, r.channel, r.source_id, s.code, r.order_ref, r.kind, r.status, "        \
    "r.priority, r.assignee_id, r.queue, r.topic, r.topic_confidence, r.sentiment, "              \
    "r.sentiment_confidence, r.needs_review, r.subject, r.created_at_ms, r.updated_at_ms, "       \
    "r.first_response_at_ms, r.solved_at_ms, r.closed_at_ms, c.name, r.store_id, "                \
    "(SELECT body FROM messages m WHERE m.request_id = r.id ORDER BY m.id LIMIT 1) "

#define REQUEST_FROM                                                                               \
    "FROM requests r LEFT JOIN stores s ON s.id = r.store_id "                                     \
    "LEFT JOIN customers c ON c.id = r.customer_id "

static json_t *row_to_json(sqlite3_stmt *st)
{
    json_t *o = json_pack("{s:I}", "id", (json_int_t)db_col_i64(st, 0));
    if (db_col_is_null(st, 1))
        json_object_set_new(o, "customer_id", json_null());
    else
        json_object_set_new(o, "customer_id", json_integer(db_col_i64(st, 1)));
    json_object_set_new(o, "channel", json_string(db_col_text(st, 2)));
    json_set_str_or_null(o, "source_id", db_col_text(st, 3));
    json_set_str_or_null(o, "store", db_col_text(st, 4));
    json_set_str_or_null(o, "order", db_col_text(st, 5));
    json_object_set_new(o, "kind", json_string(db_col_text(st, 6)));
    json_object_set_new(o, "status", json_string(db_col_text(st, 7)));
    json_object_set_new(o, "priority", json_string(db_col_text(st, 8)));
    json_object_set_new(o, "assignee_id",
                        db_col_is_null(st, 9) ? json_null() : json_integer(db_col_i64(st, 9)));
    json_set_str_or_null(o, "queue", db_col_text(st, 10));
    json_set_str_or_null(o, "topic", db_col_text(st, 11));
    json_object_set_new(o, "topic_confidence", db_col_is_null(st, 12)
                                                   ? json_null()
                                                   : json_real(sqlite3_column_double(st, 12)));
    json_set_str_or_null(o, "sentiment", db_col_text(st, 13));
    json_object_set_new(o, "sentiment_confidence",
                        db_col_is_null(st, 14) ? json_null()
                                               : json_real(sqlite3_column_double(st, 14)));
    json_object_set_new(o, "needs_review", json_boolean(db_col_i64(st, 15) != 0));
    json_set_str_or_null(o, "subject", db_col_text(st, 16));
    json_set_time_or_null(o, "created_at", db_col_i64(st, 17));
    json_set_time_or_null(o, "updated_at", db_col_i64(st, 18));
    json_set_time_or_null(o, "first_response_at", db_col_i64(st, 19));
    json_set_time_or_null(o, "solved_at", db_col_i64(st, 20));
    json_set_time_or_null(o, "closed_at", db_col_i64(st, 21));
    json_set_str_or_null(o, "customer_name", db_col_text(st, 22));
    json_set_str_or_null(o, "text", db_col_text(st, 24));
    return o;
}

/*
 * The JSON of a request just written, from the values written: the same
 * keys and values as row_to_json gives for its row, without reading it back
 * (a reader would have to drop its page cache after every commit).
 */
/* JSON pieces of store_request_created_write: ,"key": then the value. */
static void put_key(struct buf *b, const char *key)
{
    buf_puts(b, ",\"");
    buf_puts(b, key);
    buf_puts(b, "\":");
}

static void put_str(struct buf *b, const char *key, const char *v)
{
    put_key(b, key);
    buf_put_json_str(b, v); /* null when v is NULL */
}

static void put_time(struct buf *b, const char *key, int64_t ms)
{
    put_key(b, key);
    if (ms == 0) {
        buf_puts(b, "null");
        return;
    }
    char t[40];
    time_format_rfc3339(ms, t, sizeof t);
    buf_putc(b, '"');
    buf_puts(b, t);
    buf_putc(b, '"');
}

static void put_real(struct buf *b, const char *key, bool is_set, double v)
{
    put_key(b, key);
    if (!is_set || !isfinite(v)) {
        buf_puts(b, "null");
        return;
    }
    char t[40];
    snprintf(t, sizeof t, "%.17g", v); /* as jansson prints a real */
    buf_puts(b, t);
    if (strpbrk(t, ".eE") == NULL)
        buf_puts(b, ".0");
}

void store_request_created_write(const struct request_in *in, const struct request_out *out,
                                 struct buf *b)
{
    /* Written straight as text on the HTTP loop: a jansson tree and its dump
     * cost twice as much for every request taken. */
    buf_puts(b, "{\"id\":");
    buf_put_i64(b, out->id);
    put_key(b, "customer_id");
    if (out->customer_id)
        buf_put_i64(b, out->customer_id);
    else
        buf_puts(b, "null");
    put_str(b, "channel", in->channel);
    put_str(b, "source_id", in->source_id);
    put_str(b, "store", in->store_code);
    put_str(b, "order", in->order_ref);
    put_str(b, "kind", in->kind);
    put_str(b, "status", in->status ? in->status : "new");
    put_str(b, "priority", in->priority ? in->priority : "normal");
    put_str(b, "assignee_id", NULL);
    put_str(b, "queue", NULL);
    put_str(b, "topic", in->topic);
    put_real(b, "topic_confidence", in->topic != NULL, in->topic_confidence);
    put_str(b, "sentiment", in->sentiment);
    put_real(b, "sentiment_confidence", in->sentiment != NULL, in->sentiment_confidence);
    put_key(b, "needs_review");
    buf_puts(b, in->needs_review ? "true" : "false");
    put_str(b, "subject", in->subject);
    put_time(b, "created_at", out->created_ms);
    put_time(b, "updated_at", out->created_ms);
    put_time(b, "first_response_at", in->first_response_at_ms);
    put_time(b, "solved_at", in->solved_at_ms);
    put_time(b, "closed_at", in->closed_at_ms);
    put_str(b, "customer_name", out->customer_name);
    put_str(b, "text", in->text);
    buf_putc(b, '}');
}

void store_request_out_clear(struct request_out *out)
{
    json_decref(out->json);
    free(out->customer_name);
    out->json = NULL;
    out->customer_name = NULL;
}

int store_request_get(struct db *r, int64_t id, const struct scope_filter *sf, bool with_details,
                      json_t **out, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT " REQUEST_COLUMNS REQUEST_FROM "WHERE r.id = $1");
    db_bind_i64(st, 1, id);
    int step = db_step(r, st, err);
    if (step < 0) {
        sqlite3_reset(st);
        return step;
    }
    if (step != 1 || !scope_allows_store(r, sf, db_col_i64(st, 23))) {
        sqlite3_reset(st);
        return err_set(err, ERR_NOTFOUND, "id", "no request %lld", (long long)id);
    }
    json_t *o = row_to_json(st);
    sqlite3_reset(st);
    if (!with_details) {
        *out = o;
        return 0;
    }
    json_t *msgs = json_array();
    st = db_stmt(r, "SELECT id, direction, channel, author_user_id, author_name, body, "
                    "created_at_ms FROM messages WHERE request_id = $1 ORDER BY id");
    db_bind_i64(st, 1, id);
    while (db_step(r, st, NULL) == 1) {
        json_t *m = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)db_col_i64(st, 0),
                              "direction", db_col_text(st, 1), "body", db_col_text(st, 5));
        json_set_str_or_null(m, "channel", db_col_text(st, 2));
        json_object_set_new(m, "author_user_id", db_col_is_null(st, 3)
                                                     ? json_null()
                                                     : json_integer(db_col_i64(st, 3)));
        json_set_str_or_null(m, "author_name", db_col_text(st, 4));
        json_set_time_or_null(m, "created_at", db_col_i64(st, 6));
        json_array_append_new(msgs, m);
    }
    sqlite3_reset(st);
    json_object_set_new(o, "messages", msgs);

    json_t *evs = json_array();
    st = db_stmt(r, "SELECT id, type, actor, data, at_ms FROM events WHERE request_id = $1 "
                    "ORDER BY id");
    db_bind_i64(st, 1, id);
    while (db_step(r, st, NULL) == 1) {
        json_t *data = json_loads(db_col_text(st, 3), 0, NULL);
        json_t *e = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)db_col_i64(st, 0), "type",
                              db_col_text(st, 1), "data", data ? data : json_object());
        json_set_str_or_null(e, "actor", db_col_text(st, 2));
        json_set_time_or_null(e, "at", db_col_i64(st, 4));
        json_array_append_new(evs, e);
    }
    sqlite3_reset(st);
    json_object_set_new(o, "events", evs);
    *out = o;
    return 0;
}

/* Is c a byte of a token for the index's tokenizers (ascii; unicode61 of the
 * older index, for the letters the terms hold)?  Non-ASCII bytes are. */
static bool token_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The next token of *p (as token_byte splits), NULL at the end; *len: its length. */
static const unsigned char *next_token(const unsigned char **p, size_t *len)
{
    const unsigned char *s = *p;
    while (*s && !token_byte(*s))
        s++;
    if (!*s)
        return NULL;
    const unsigned char *start = s;
    while (*s && token_byte(*s))
        s++;
    *p = s;
    *len = (size_t)(s - start);
    return start;
}

static unsigned char ascii_fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool token_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_fold(a[i]) != ascii_fold(b[i]))
            return false;
    return true;
}

/* terms_match(terms, query): 1 when every token of the query is a token of terms. */
static void terms_match(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *terms = sqlite3_value_text(argv[0]);
    const unsigned char *query = sqlite3_value_text(argv[1]);
    if (terms == NULL || query == NULL) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    size_t qn;
    const unsigned char *q;
    bool has_token = false;
    while ((q = next_token(&query, &qn)) != NULL) {
        has_token = true;
        const unsigned char *p = terms, *t;
        size_t tn;
        bool found = false;
        while (!found && (t = next_token(&p, &tn)) != NULL)
            found = tn == qn && token_equal(t, q, qn);
        if (!found) {
            sqlite3_result_int(ctx, 0);
            return;
        }
    }
    sqlite3_result_int(ctx, has_token); /* an empty query matches nothing, as in the index */
}

void store_search_functions(struct db *db)
{
    sqlite3_create_function(db_handle(db), "terms_match", 2,
                            SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
                            terms_match, NULL, NULL);
}

/*
 * The terms as an FTS5 query of single tokens joined by AND.  Terms are split
 * where the tokenizer splits them ("12.5" is two tokens), so that no query is
 * a phrase: the index keeps no positions (detail=none).
 */
static void fts_query(struct buf *b, const char *terms)
{
    const unsigned char *p = (const unsigned char *)terms;
    while (*p) {
        while (*p && !token_byte(*p))
            p++;
        if (!*p)
            break;
        const unsigned char *start = p;
        while (*p && token_byte(*p))
            p++;
        if (b->len)
            buf_puts(b, " AND ");
        buf_putc(b, '"');
        buf_put(b, start, (size_t)(p - start));
        buf_putc(b, '"');
    }
}

int store_request_list(struct db *r, const struct request_query *q, const struct scope_filter *sf,
                       json_t **out, struct err_info *err)
{
    /* The WHERE clause is assembled from constant fragments; values are bound. */
    struct buf sql, fq;
    buf_init(&sql, 0);
    buf_init(&fq, 4096);
    buf_puts(&sql, "SELECT " REQUEST_COLUMNS REQUEST_FROM "WHERE 1=1");
    if (q->status)
        buf_puts(&sql, " AND r.status = $1");
    if (q->channel)
        buf_puts(&sql, " AND r.channel = $2");
    if (q->store_code)
        buf_puts(&sql, " AND s.code = $3");
    if (q->topic)
        buf_puts(&sql, " AND r.topic = $4");
    if (q->customer_id)
        buf_puts(&sql, " AND r.customer_id = $5");
    if (q->since_ms)
        buf_puts(&sql, " AND r.created_at_ms >= $6");
    if (q->until_ms)
        buf_puts(&sql, " AND r.created_at_ms < $7");
    if (q->cursor)
        buf_puts(&sql, " AND r.id < $8");
    if (q->q_terms) {
        fts_query(&fq, q->q_terms);
        if (fq.len == 0)
            buf_puts(&fq, "\"\"");
        /* Messages indexed before step 13 are in message_search, later ones in
         * message_terms, imported ones not yet moved into it in search_backlog. */
        buf_puts(&sql, " AND r.id IN (SELECT m.request_id FROM messages m WHERE m.id IN "
                       "(SELECT rowid FROM message_terms WHERE message_terms MATCH $9 "
                       "UNION ALL SELECT rowid FROM message_search WHERE message_search MATCH $9 "
                       "UNION ALL SELECT message_id FROM search_backlog "
                       "WHERE terms_match(terms, $13)))");
    }
    if (sf && sf->scope == SCOPE_STORE)
        buf_puts(&sql, " AND r.store_id = $10");
    else if (sf && sf->scope == SCOPE_REGION)
        buf_puts(&sql, " AND s.region = $11");
    buf_puts(&sql, " ORDER BY r.id DESC LIMIT $12");

    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (buf_error(&fq) != 0) {
        rc = err_set(err, ERR_INVALID, "q", "search text too long");
        goto out;
    }
    if ((st = db_prepare(r, buf_cstr(&sql))) == NULL) {
        rc = err_set(err, ERR_INTERNAL, "", "query failed: %s", sqlite3_errmsg(db_handle(r)));
        goto out;
    }
    if (q->status)
        db_bind_text(st, 1, q->status, -1);
    if (q->channel)
        db_bind_text(st, 2, q->channel, -1);
    if (q->store_code)
        db_bind_text(st, 3, q->store_code, -1);
    if (q->topic)
        db_bind_text(st, 4, q->topic, -1);
    if (q->customer_id)
        db_bind_i64(st, 5, q->customer_id);
    if (q->since_ms)
        db_bind_i64(st, 6, q->since_ms);
    if (q->until_ms)
        db_bind_i64(st, 7, q->until_ms);
    if (q->cursor)
        db_bind_i64(st, 8, q->cursor);
    if (q->q_terms) {
        db_bind_text(st, 9, buf_cstr(&fq), -1);
        db_bind_text(st, 13, q->q_terms, -1);
    }
    if (sf && sf->scope == SCOPE_STORE)
        db_bind_i64(st, 10, sf->store_id);
    else if (sf && sf->scope == SCOPE_REGION)
        db_bind_text(st, 11, sf->region, -1);
    db_bind_i64(st, 12, q->limit + 1);

    json_t *items = json_array();
    int64_t last_id = 0;
    bool has_more = false;
    int step;
    while ((step = db_step(r, st, err)) == 1) {
        if ((int)json_array_size(items) == q->limit) {
            has_more = true;
            break;
        }
        last_id = db_col_i64(st, 0);
        json_array_append_new(items, row_to_json(st));
    }
    if (step < 0) {
        json_decref(items);
        rc = step;
        goto out;
    }
    json_t *res = json_pack("{s:o}", "items", items);
    if (has_more) {
        char cur[32];
        snprintf(cur, sizeof cur, "%lld", (long long)last_id);
        json_object_set_new(res, "next_cursor", json_string(cur));
    } else {
        json_object_set_new(res, "next_cursor", json_null());
    }
    *out = res;
out:
    sqlite3_finalize(st);
    buf_free(&sql);
    buf_free(&fq);
    return rc;
}

/* Load the fields a patch needs; ERR_NOTFOUND when absent or out of scope. */
struct current {
    char status[16], priority[16], topic[64], queue[512]; /* queue: 64 characters at most */
    int64_t assignee_id, customer_id, store_id, first_response_at_ms;
    bool has_topic, has_queue;
};

static int load_current(struct db *db, int64_t id, const struct scope_filter *sf,
                        struct current *c, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT status, priority, topic, queue, assignee_id, "
                                   "customer_id, store_id, first_response_at_ms "
                                   "FROM requests WHERE id = $1");
    db_bind_i64(st, 1, id);
    int step = db_step(db, st, err);
    if (step < 0) {
        sqlite3_reset(st);
        return step;
    }
    if (step != 1 || !scope_allows_store(db, sf, db_col_i64(st, 6))) {
        sqlite3_reset(st);
        return err_set(err, ERR_NOTFOUND, "id", "no request %lld", (long long)id);
    }
    memset(c, 0, sizeof *c);
    snprintf(c->status, sizeof c->status, "%s", db_col_text(st, 0));
    snprintf(c->priority, sizeof c->priority, "%s", db_col_text(st, 1));
    c->has_topic = !db_col_is_null(st, 2);
    snprintf(c->topic, sizeof c->topic, "%s", c->has_topic ? db_col_text(st, 2) : "");
    c->has_queue = !db_col_is_null(st, 3);
    snprintf(c->queue, sizeof c->queue, "%s", c->has_queue ? db_col_text(st, 3) : "");
    c->assignee_id = db_col_i64(st, 4);
    c->customer_id = db_col_i64(st, 5);
    c->store_id = db_col_i64(st, 6);
    c->first_response_at_ms = db_col_i64(st, 7);
    sqlite3_reset(st);
    return 0;
}

static int change_event(struct store_tx *tx, const char *type, int64_t id,
                        const struct current *c, const char *field, json_t *from, json_t *to,
                        const char *actor, struct err_info *err)
{
    json_t *d = json_pack("{s:s, s:o, s:o}", "field", field, "from", from, "to", to);
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    int64_t ev = store_event_add(tx, type, id, c->customer_id, 0, c->store_id, actor, text, err);
    free(text);
    return ev < 0 ? (int)ev : 0;
}

static json_t *str_or_null(bool has, const char *s)
{
    return has ? json_string(s) : json_null();
}

int store_request_patch(struct store_tx *tx, int64_t id, const struct request_patch *p,
                        struct err_info *err)
{
    struct db *db = tx->db;
    struct current c;
    int rc = load_current(db, id, p->sf, &c, err);
    if (rc != 0)
        return rc;
    int64_t now = tx_now_ms();
    if (p->status && strcmp(p->status, c.status) != 0) {
        if (!model_status_transition_ok(c.status, p->status))
            return err_set(err, ERR_CONFLICT, "status", "a request cannot go from %s to %s",
                           c.status, p->status);
        /* Times of solving and closing are kept; reopening clears the solve time. */
        sqlite3_stmt *st = db_stmt(
            db, "UPDATE requests SET status = $2, updated_at_ms = $3, "
                "solved_at_ms = CASE WHEN $2 = 'solved' THEN $3 WHEN $2 = 'open' THEN NULL "
                "ELSE solved_at_ms END, "
                "closed_at_ms = CASE WHEN $2 = 'closed' THEN $3 ELSE closed_at_ms END "
                "WHERE id = $1");
        db_bind_i64(st, 1, id);
        db_bind_text(st, 2, p->status, -1);
        db_bind_i64(st, 3, now);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
        const char *type = strcmp(c.status, "solved") == 0 && strcmp(p->status, "open") == 0
                               ? "request.reopened"
                               : "request.status_changed";
        if ((rc = change_event(tx, type, id, &c, "status", json_string(c.status),
                               json_string(p->status), p->actor, err)) != 0)
            return rc;
    }
    if (p->priority && strcmp(p->priority, c.priority) != 0) {
        sqlite3_stmt *st =
            db_stmt(db, "UPDATE requests SET priority = $2, updated_at_ms = $3 WHERE id = $1");
        db_bind_i64(st, 1, id);
        db_bind_text(st, 2, p->priority, -1);
        db_bind_i64(st, 3, now);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
        if ((rc = change_event(tx, "request.priority_changed", id, &c, "priority",
                               json_string(c.priority), json_string(p->priority), p->actor,
                               err)) != 0)
            return rc;
    }
    if (p->topic && (!c.has_topic || strcmp(p->topic, c.topic) != 0)) {
        /* An operator's topic is a correction: kept for retraining, and it is final. */
        sqlite3_stmt *st = db_stmt(db, "UPDATE requests SET topic = $2, topic_confidence = 1.0, "
                                       "needs_review = 0, updated_at_ms = $3 WHERE id = $1");
        db_bind_i64(st, 1, id);
        db_bind_text(st, 2, p->topic, -1);
        db_bind_i64(st, 3, now);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
        st = db_stmt(db, "INSERT INTO topic_corrections (request_id, old_topic, new_topic, "
                         "user_id, actor, at_ms) VALUES ($1, $2, $3, $4, $5, $6)");
        db_bind_i64(st, 1, id);
        db_bind_text(st, 2, c.has_topic ? c.topic : NULL, -1);
        db_bind_text(st, 3, p->topic, -1);
        db_bind_i64_or_null(st, 4, p->user_id);
        db_bind_text(st, 5, p->actor ? p->actor : "", -1);
        db_bind_i64(st, 6, now);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
        if ((rc = change_event(tx, "request.topic_corrected", id, &c, "topic",
                               str_or_null(c.has_topic, c.topic), json_string(p->topic), p->actor,
                               err)) != 0)
            return rc;
    }
    if (p->queue && (!c.has_queue || strcmp(p->queue, c.queue) != 0)) {
        sqlite3_stmt *st =
            db_stmt(db, "UPDATE requests SET queue = $2, updated_at_ms = $3 WHERE id = $1");
        db_bind_i64(st, 1, id);
        db_bind_text(st, 2, p->queue, -1);
        db_bind_i64(st, 3, now);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
        if ((rc = change_event(tx, "request.queue_changed", id, &c, "queue",
                               str_or_null(c.has_queue, c.queue), json_string(p->queue), p->actor,
                               err)) != 0)
            return rc;
    }
    if (p->assignee_id != 0) {
        int64_t to = p->assignee_id < 0 ? 0 : p->assignee_id;
        if (to != c.assignee_id) {
            if (to != 0) {
                sqlite3_stmt *st =
                    db_stmt(db, "SELECT 1 FROM users WHERE id = $1 AND is_active = 1");
                db_bind_i64(st, 1, to);
                bool ok = db_step(db, st, NULL) == 1;
                sqlite3_reset(st);
                if (!ok)
                    return err_set(err, ERR_INVALID, "assignee", "no active user %lld",
                                   (long long)to);
            }
            sqlite3_stmt *st = db_stmt(
                db, "UPDATE requests SET assignee_id = $2, updated_at_ms = $3 WHERE id = $1");
            db_bind_i64(st, 1, id);
            db_bind_i64_or_null(st, 2, to);
            db_bind_i64(st, 3, now);
            if ((rc = db_run(db, st, err)) != 0)
                return rc;
            if ((rc = change_event(tx, "request.assigned", id, &c, "assignee",
                                   c.assignee_id ? json_integer(c.assignee_id) : json_null(),
                                   to ? json_integer(to) : json_null(), p->actor, err)) != 0)
                return rc;
        }
    }
    return 0;
}

int store_message_add(struct store_tx *tx, int64_t request_id, const struct message_in *m,
                      int64_t *out_id, struct err_info *err)
{
    struct db *db = tx->db;
    struct current c;
    int rc = load_current(db, request_id, m->sf, &c, err);
    if (rc != 0)
        return rc;
    if (strcmp(c.status, "closed") == 0)
        return err_set(err, ERR_CONFLICT, "id", "request %lld is closed", (long long)request_id);
    int64_t now = m->at_ms ? m->at_ms : tx_now_ms();
    sqlite3_stmt *st = db_stmt(db, "SELECT channel FROM requests WHERE id = $1");
    db_bind_i64(st, 1, request_id);
    char channel[16] = "";
    if (db_step(db, st, NULL) == 1)
        snprintf(channel, sizeof channel, "%s", db_col_text(st, 0));
    sqlite3_reset(st);
    /* Internal notes are not searchable by customers' words; replies and messages are. */
    if ((rc = insert_message(tx, request_id, m->direction, channel, m->author_user_id,
                             m->author_name, m->body,
                             strcmp(m->direction, "note") == 0 ? NULL : m->search_terms, now,
                             err)) != 0)
        return rc;
    *out_id = db_last_id(db);
    bool is_reply = strcmp(m->direction, "out") == 0;
    /* A reply opens a new request and stamps the first response; a customer's
     * message reopens a solved one or wakes a pending one. */
    const char *next = NULL;
    if (is_reply && strcmp(c.status, "new") == 0)
        next = "open";
    else if (strcmp(m->direction, "in") == 0 &&
             (strcmp(c.status, "pending") == 0 || strcmp(c.status, "solved") == 0))
        next = "open";
    st = db_stmt(db, "UPDATE requests SET updated_at_ms = $2, "
                     "first_response_at_ms = CASE WHEN $3 = 1 AND first_response_at_ms IS NULL "
                     "THEN $2 ELSE first_response_at_ms END, "
                     "status = COALESCE($4, status), "
                     "solved_at_ms = CASE WHEN $4 IS NOT NULL THEN NULL ELSE solved_at_ms END "
                     "WHERE id = $1");
    db_bind_i64(st, 1, request_id);
    db_bind_i64(st, 2, now);
    db_bind_i64(st, 3, is_reply ? 1 : 0);
    db_bind_text(st, 4, next, -1);
    if ((rc = db_run(db, st, err)) != 0)
        return rc;
    json_t *d = json_pack("{s:I, s:s}", "message_id", (json_int_t)*out_id, "direction",
                          m->direction);
    if (next)
        json_object_set_new(d, "status", json_string(next));
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    const char *type = is_reply ? "message.out"
                       : strcmp(m->direction, "note") == 0 ? "message.note"
                                                           : "message.in";
    int64_t ev = store_event_add(tx, type, request_id, c.customer_id, 0, c.store_id, m->actor,
                                 text, err);
    free(text);
    return ev < 0 ? (int)ev : 0;
}
