/*
 * import.c - the NDJSON importer.
 *
 * Each line is parsed and validated into an item in the importer's arena.
 * When a batch is full (IMPORT_BATCH items) it is handed to the writer as
 * one job.  The job first writes every item straight through: a savepoint
 * per line would make SQLite copy each touched page into its sub-journal
 * and costs more than the writes themselves.  If a line fails at write time
 * (a duplicate purchase id, a balance going negative), the job asks the
 * writer to roll back and run it again alone (store_tx_rerun_alone), and
 * runs the second time with a savepoint per line, so the bad line is undone
 * alone and reported while the rest commits.  Validation at parse time keeps
 * the second pass rare.
 *
 * Parsing and writing overlap: batches go to the writer without waiting
 * (store_write_async), so that the writer takes the next batch while the
 * last one's fsync runs, and the caller parses meanwhile.  IMPORT_BUFFERS
 * buffers turn round: before one is parsed into again, its batch's outcome
 * is collected, so outcomes are counted in line order.  The writer runs the
 * batches in the order they were sent; once one has failed, the later ones
 * write nothing.
 *
 * The batches' search terms go to the store's backlog rather than the full-text
 * index (store_async.defers_search): an index row costs five times a plain
 * row, and the writer moves the backlog into the index once no import runs.
 * A search reads the backlog meanwhile.
 */
#include "intake/import.h"

#include "core/json_fast.h"
#include "core/mem.h"
#include "core/str.h"
#include "intake/intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <unistd.h>

#define IMPORT_BATCH 2000
#define IMPORT_FIRST_BATCH 250 /* a batch the writer waits for may be this small */
#define IMPORT_BUFFERS 3 /* being parsed into, being written, waiting for its fsync */
#define IMPORT_ANALYZE_LINES 10000 /* imports at least this large refresh planner statistics */

enum item_type { IT_DEPARTMENT, IT_STORE, IT_CUSTOMER, IT_ORDER, IT_PURCHASE, IT_BONUS,
                 IT_REQUEST, IT_COUNT };
static const char *const type_names[] = {"department", "store",  "customer", "order",
                                         "purchase",   "bonus",  "request",  NULL};

struct order_item {
    struct order_event_in base;          /* order, customer, store, total, promised */
    struct order_event_in *steps;        /* history, then the final status */
    size_t n_steps;
};

struct item {
    enum item_type type;
    int64_t line;
    union {
        struct {
            const char *code, *name;
        } department;
        struct store_in store;
        struct customer_in customer;
        struct order_item order;
        struct purchase_in purchase;
        struct bonus_in bonus;
        struct request_in request;
    } u;
};

/* A line refused while parsing, reported with its batch so that the report
 * lists rejections in line order. */
struct line_reject {
    int64_t line;
    struct err_info err;
};

/* One buffer of parsed items and, once written, their outcomes. */
struct batch {
    struct importer *im;
    struct arena arena;
    struct item *items;
    size_t n_items, cap_items;
    struct err_info *errs; /* one per item, filled by the writer */
    struct line_reject *rejects; /* lines of this batch refused while parsing */
    size_t n_rejects, cap_rejects;
    int *results;
    size_t cap_results;
    bool is_careful;       /* a savepoint per item (second run) */
    bool is_in_flight;     /* with the writer: wait for written before touching it */
    atomic_bool has_run;   /* the writer has taken its job (nothing sent later waits behind it) */
    struct store_async w;  /* w.result: the outcome of the whole batch */
    sem_t written;
    struct err_info err;
};

struct importer {
    struct store *store;
    const char *actor;
    struct batch buffers[IMPORT_BUFFERS];
    size_t filling;         /* the buffer being parsed into */
    struct batch *last_sent; /* the batch sent last, NULL before the first */
    atomic_bool has_failed; /* a batch failed: the ones after it write nothing */
    int64_t line;
    int64_t accepted[IT_COUNT];
    int64_t rejected_count;
    json_t *rejected;
    struct err_info failure; /* a batch that could not be written stops the import */
    int64_t failed_line;     /* first line of that batch: nothing from it on is kept */
};

struct importer *importer_new(struct store *s, const char *actor)
{
    struct importer *im = xcalloc(1, sizeof *im);
    im->store = s;
    im->actor = actor ? xstrdup(actor) : NULL;
    for (int i = 0; i < IMPORT_BUFFERS; i++) {
        struct batch *b = &im->buffers[i];
        b->im = im;
        arena_init(&b->arena, 1 << 20);
        sem_init(&b->written, 0, 0);
        atomic_init(&b->has_run, false);
    }
    atomic_init(&im->has_failed, false);
    im->rejected = json_array();
    store_bulk_begin(s);
    return im;
}

static void collect_all(struct importer *im);

void importer_free(struct importer *im)
{
    if (im == NULL)
        return;
    collect_all(im);
    for (int i = 0; i < IMPORT_BUFFERS; i++) {
        struct batch *b = &im->buffers[i];
        arena_free(&b->arena);
        free(b->items);
        free(b->errs);
        free(b->results);
        free(b->rejects);
        sem_destroy(&b->written);
    }
    json_decref(im->rejected);
    free((char *)im->actor);
    store_bulk_end(im->store);
    free(im);
}

static void reject(struct importer *im, int64_t line, const struct err_info *e)
{
    im->rejected_count++;
    if (json_array_size(im->rejected) >= IMPORT_MAX_REJECTED)
        return;
    json_t *err = json_pack("{s:s, s:s}", "code", err_str(e->code), "message", e->message);
    json_object_set_new(err, "field", e->field[0] ? json_string(e->field) : json_null());
    json_array_append_new(im->rejected, json_pack("{s:I, s:o}", "line", (json_int_t)line,
                                                  "error", err));
}

static int parse_order(json_t *o, struct arena *a, struct order_item *it, const char *actor,
                       struct err_info *err)
{
    struct order_event_in *b = &it->base;
    memset(it, 0, sizeof *it);
    b->total_kop = -1;
    int64_t created = 0;
    int rc;
    if ((rc = intake_req_string(o, "id", 128, a, &b->order_ref, err)) ||
        (rc = intake_opt_enum(o, "status", model_order_statuses, &b->status, err)) ||
        (rc = intake_opt_string(o, "store", 64, a, &b->store_code, err)) ||
        (rc = intake_opt_money(o, "total", &b->total_kop, err)) ||
        (rc = intake_opt_time(o, "created_at", &created, err)) ||
        (rc = intake_opt_time(o, "promised_at", &b->promised_at_ms, err)) ||
        (rc = intake_customer_parse(json_object_get(o, "customer"), "customer", a, &b->customer,
                                    err)))
        return rc;
    if (b->status == NULL)
        return err_set(err, ERR_INVALID, "status", "status is required");
    json_t *hist = json_object_get(o, "history");
    size_t n = hist && json_is_array(hist) ? json_array_size(hist) : 0;
    if (hist && !json_is_null(hist) && (!json_is_array(hist) || n > 100))
        return err_set(err, ERR_INVALID, "history", "history must be an array of at most 100");
    it->steps = arena_alloc(a, (n + 1) * sizeof *it->steps);
    for (size_t i = 0; i < n; i++) {
        json_t *h = json_array_get(hist, i);
        struct order_event_in *s = &it->steps[it->n_steps];
        *s = *b;
        s->promised_at_ms = i == 0 ? b->promised_at_ms : 0;
        s->status = NULL;
        s->note = NULL;
        if (!json_is_object(h))
            return err_set(err, ERR_INVALID, "history", "each history entry is an object");
        if ((rc = intake_opt_enum(h, "status", model_order_statuses, &s->status, err)) ||
            (rc = intake_opt_time(h, "at", &s->at_ms, err)) ||
            (rc = intake_opt_string(h, "note", 2000, a, &s->note, err)))
            return rc;
        if (s->status == NULL)
            return err_set(err, ERR_INVALID, "history", "history entries need a status");
        s->actor = actor;
        it->n_steps++;
    }
    /* The final status is a step of its own unless the history ends with it. */
    if (it->n_steps == 0 || strcmp(it->steps[it->n_steps - 1].status, b->status) != 0) {
        struct order_event_in *s = &it->steps[it->n_steps++];
        *s = *b;
        s->at_ms = it->n_steps == 1 ? created : 0;
        s->actor = actor;
    }
    return 0;
}

static int parse_item(struct importer *im, json_t *o, struct item *it, struct err_info *err)
{
    struct arena *a = &im->buffers[im->filling].arena;
    const char *type = NULL;
    int rc = intake_opt_enum(o, "type", type_names, &type, err);
    if (rc != 0)
        return rc;
    if (type == NULL)
        return err_set(err, ERR_INVALID, "type", "type is required (one of: customer, order, "
                                                 "purchase, bonus, request, store, department)");
    it->type = (enum item_type)model_find(type_names, type);
    switch (it->type) {
    case IT_DEPARTMENT:
        if ((rc = intake_req_string(o, "code", 64, a, &it->u.department.code, err)) ||
            (rc = intake_req_string(o, "name", 200, a, &it->u.department.name, err)))
            return rc;
        return 0;
    case IT_STORE: {
        struct store_in *s = &it->u.store;
        if ((rc = intake_req_string(o, "code", 64, a, &s->code, err)) ||
            (rc = intake_req_string(o, "name", 200, a, &s->name, err)) ||
            (rc = intake_req_string(o, "city", 100, a, &s->city, err)) ||
            (rc = intake_req_string(o, "region", 100, a, &s->region, err)) ||
            (rc = intake_req_string(o, "time_zone", 64, a, &s->time_zone, err)) ||
            (rc = intake_opt_string(o, "address", 300, a, &s->address, err)))
            return rc;
        return 0;
    }
    case IT_CUSTOMER:
        if ((rc = intake_customer_parse(o, "customer", a, &it->u.customer, err)) != 0)
            return rc;
        if (!customer_in_has_identity(&it->u.customer))
            return err_set(err, ERR_INVALID, "phone", "a customer needs at least one identity");
        return 0;
    case IT_ORDER:
        return parse_order(o, a, &it->u.order, im->actor, err);
    case IT_PURCHASE: {
        struct purchase_in *p = &it->u.purchase;
        memset(p, 0, sizeof *p);
        json_t *items = json_object_get(o, "items");
        if ((rc = intake_opt_string(o, "id", 128, a, &p->external_id, err)) ||
            (rc = intake_opt_string(o, "store", 64, a, &p->store_code, err)) ||
            (rc = intake_opt_money(o, "total", &p->total_kop, err)) ||
            (rc = intake_opt_time(o, "at", &p->at_ms, err)) ||
            (rc = intake_customer_parse(json_object_get(o, "customer"), "customer", a,
                                        &p->customer, err)))
            return rc;
        if (items && !json_is_null(items)) {
            if (!json_is_integer(items) || json_integer_value(items) < 0)
                return err_set(err, ERR_INVALID, "items", "items must be a whole number");
            p->items = json_integer_value(items);
        }
        if (json_object_get(o, "total") == NULL)
            return err_set(err, ERR_INVALID, "total", "total is required");
        return 0;
    }
    case IT_BONUS: {
        struct bonus_in *b = &it->u.bonus;
        memset(b, 0, sizeof *b);
        json_t *amount = json_object_get(o, "amount");
        if (!json_is_integer(amount) || json_integer_value(amount) == 0 ||
            json_integer_value(amount) > 100000000 || json_integer_value(amount) < -100000000)
            return err_set(err, ERR_INVALID, "amount", "amount must be a non-zero whole number");
        b->amount = json_integer_value(amount);
        if ((rc = intake_req_string(o, "reason", 64, a, &b->reason, err)) ||
            (rc = intake_opt_string(o, "ref", 128, a, &b->ref, err)) ||
            (rc = intake_opt_time(o, "at", &b->at_ms, err)) ||
            (rc = intake_customer_parse(json_object_get(o, "customer"), "customer", a,
                                        &b->customer, err)))
            return rc;
        b->actor = im->actor;
        return 0;
    }
    case IT_REQUEST: /* the parser reads the keys it knows: "type" is not one */
        rc = intake_request_parse(o, true, a, &it->u.request, err);
        it->u.request.actor = im->actor;
        it->u.request.is_repeat_an_error = true;
        return rc;
    case IT_COUNT:
        break;
    }
    return ERR_INTERNAL;
}

static int write_item(struct store_tx *tx, struct item *it, struct err_info *err)
{
    switch (it->type) {
    case IT_DEPARTMENT:
        return store_department_upsert(tx, it->u.department.code, it->u.department.name, err);
    case IT_STORE:
        return store_store_upsert(tx, &it->u.store, NULL, err);
    case IT_CUSTOMER: {
        int64_t id;
        return store_customer_resolve(tx, &it->u.customer, 0, 0, &id, err);
    }
    case IT_ORDER:
        return store_order_import(tx, it->u.order.steps, it->u.order.n_steps, err);
    case IT_PURCHASE:
        return store_purchase_add(tx, &it->u.purchase, err);
    case IT_BONUS:
        return store_bonus_add(tx, &it->u.bonus, err);
    case IT_REQUEST: {
        struct request_out out;
        int rc = store_request_create(tx, &it->u.request, &out, err);
        if (rc == 0 && out.is_duplicate)
            return err_set(err, ERR_CONFLICT, "source_id", "request %s/%s exists already",
                           it->u.request.channel, it->u.request.source_id);
        return rc;
    }
    case IT_COUNT:
        break;
    }
    return ERR_INTERNAL;
}

/* May run twice (store_write_async, is_rerunnable): each run writes every item afresh. */
static int job_batch(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct batch *b = arg;
    atomic_store(&b->has_run, true); /* the next batch may go before it is full */
    if (atomic_load(&b->im->has_failed))
        return err_set(err, ERR_UNAVAILABLE, "", "an earlier part of the import failed");
    for (size_t i = 0; i < b->n_items; i++) {
        memset(&b->errs[i], 0, sizeof b->errs[i]);
        if (!b->is_careful) {
            b->results[i] = write_item(tx, &b->items[i], &b->errs[i]);
            if (b->results[i] == 0)
                continue;
            b->is_careful = true; /* undo it all and go line by line */
            store_tx_rerun_alone(tx);
            return err_set(err, ERR_CONFLICT, "", "line %lld failed; retrying line by line",
                           (long long)b->items[i].line);
        }
        struct tx_mark mark = store_tx_part_begin(tx);
        b->results[i] = write_item(tx, &b->items[i], &b->errs[i]);
        store_tx_part_end(tx, mark, b->results[i] == 0);
    }
    return 0;
}

/* Told by the writer (or its fsync thread) once the batch is durable or failed. */
static void batch_written(struct store_async *w)
{
    struct batch *b = w->arg;
    if (w->result != 0) /* before the writer takes the next batch: see job_batch */
        atomic_store(&b->im->has_failed, true);
    sem_post(&b->written);
}

/* Account for the lines of a written batch, and those refused while parsing
 * it, in line order; make its buffer reusable. */
static void account(struct importer *im, struct batch *b)
{
    size_t r = 0;
    if (b->w.result == 0) {
        for (size_t i = 0; i < b->n_items; i++) {
            for (; r < b->n_rejects && b->rejects[r].line < b->items[i].line; r++)
                reject(im, b->rejects[r].line, &b->rejects[r].err);
            if (b->results[i] == 0)
                im->accepted[b->items[i].type]++;
            else
                reject(im, b->items[i].line, &b->errs[i]);
        }
    } else if (im->failure.code == 0) {
        im->failure = b->err;
        im->failed_line = b->n_items > 0 ? b->items[0].line : im->line;
    }
    for (; r < b->n_rejects; r++)
        reject(im, b->rejects[r].line, &b->rejects[r].err);
    b->n_items = 0;
    b->n_rejects = 0;
    arena_reset(&b->arena);
}

/* Wait for b's batch, if it is with the writer, and account for it. */
static void collect(struct importer *im, struct batch *b)
{
    if (!b->is_in_flight)
        return;
    while (sem_wait(&b->written) != 0)
        ; /* EINTR: the writer always tells */
    b->is_in_flight = false;
    account(im, b);
}

/* Collect every batch sent, oldest first. */
static void collect_all(struct importer *im)
{
    for (size_t i = 1; i <= IMPORT_BUFFERS; i++)
        collect(im, &im->buffers[(im->filling + i) % IMPORT_BUFFERS]);
}

/* Send the filled buffer to the writer and go on in the next one (collected
 * first); wait: until every batch is written. */
static int flush(struct importer *im, bool wait)
{
    struct batch *b = &im->buffers[im->filling];
    if (im->failure.code == 0 && b->n_items > 0 && !atomic_load(&im->has_failed)) {
        xgrow((void **)&b->errs, &b->cap_results, b->n_items, sizeof *b->errs);
        b->results = xrealloc(b->results, b->cap_results * sizeof *b->results);
        memset(&b->err, 0, sizeof b->err);
        b->is_careful = false;
        b->w = (struct store_async){.fn = job_batch, .arg = b, .err = &b->err,
                                    .done = batch_written, .is_rerunnable = true,
                                    .defers_search = true};
        im->last_sent = b;
        atomic_store(&b->has_run, false);
        if (store_write_async(im->store, &b->w) == 0) {
            b->is_in_flight = true;
        } else {
            b->w.result = b->err.code;
            collect_all(im); /* the batches before it first */
            account(im, b);
        }
        im->filling = (im->filling + 1) % IMPORT_BUFFERS;
        collect(im, &im->buffers[im->filling]);
    } else if (b->n_rejects > 0 && b->n_items == 0 && im->failure.code == 0) {
        collect_all(im); /* only refused lines: report them after those before */
        b->w.result = 0;
        account(im, b);
    }
    if (wait)
        collect_all(im);
    if (im->failure.code == 0 && atomic_load(&im->has_failed))
        collect_all(im); /* the failed batch says why */
    return im->failure.code;
}

static void batch_reject(struct batch *b, int64_t line, const struct err_info *e)
{
    xgrow((void **)&b->rejects, &b->cap_rejects, b->n_rejects + 1, sizeof *b->rejects);
    b->rejects[b->n_rejects++] = (struct line_reject){.line = line, .err = *e};
}

int importer_line(struct importer *im, const char *line, size_t len, struct err_info *err)
{
    im->line++;
    size_t skip = 0;
    while (skip < len && (line[skip] == ' ' || line[skip] == '\t' || line[skip] == '\r'))
        skip++;
    if (skip == len)
        return 0;
    struct batch *b = &im->buffers[im->filling];
    struct err_info e = {0};
    json_error_t je;
    json_t *o = json_load_fast(line, len);
    if (o == NULL)
        o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        err_set(&e, ERR_INVALID, "",
                json_error_code(&je) == json_error_invalid_utf8 ? "not valid UTF-8: %s"
                                                                : "malformed JSON: %s",
                je.text);
        batch_reject(b, im->line, &e);
        goto done;
    }
    if (!json_is_object(o)) {
        err_set(&e, ERR_INVALID, "", "each line must be a JSON object");
        batch_reject(b, im->line, &e);
        json_decref(o);
        goto done;
    }
    xgrow((void **)&b->items, &b->cap_items, b->n_items + 1, sizeof *b->items);
    struct item *it = &b->items[b->n_items];
    memset(it, 0, sizeof *it);
    it->line = im->line;
    if (parse_item(im, o, it, &e) != 0)
        batch_reject(b, im->line, &e);
    else
        b->n_items++;
    json_decref(o);
done:;
    /* A batch is full at IMPORT_BATCH lines, or at IMPORT_FIRST_BATCH when
     * nothing of this import waits for the writer (the first batch, or the
     * parsing fell behind: long lines after short ones), or at
     * IMPORT_MAX_REJECTED refused lines (a file of bad lines is reported as
     * it goes, not held). */
    bool is_full = b->n_items >= IMPORT_BATCH || b->n_rejects >= IMPORT_MAX_REJECTED ||
                   (b->n_items >= IMPORT_FIRST_BATCH &&
                    (im->last_sent == NULL || atomic_load(&im->last_sent->has_run)));
    if (is_full && flush(im, false) != 0)
        return err_set(err, im->failure.code, im->failure.field, "%s", im->failure.message);
    return 0;
}

int importer_finish(struct importer *im, json_t **report, struct err_info *err)
{
    if (flush(im, true) != 0)
        return err_set(err, im->failure.code, im->failure.field, "%s", im->failure.message);
    /* A large import changes the shape of the data: refresh the planner's statistics
     * (after the answer: the writer runs it next). */
    if (im->line >= IMPORT_ANALYZE_LINES)
        store_analyze_later(im->store);
    json_t *by_type = json_object();
    int64_t total = 0;
    for (int t = 0; t < IT_COUNT; t++) {
        if (im->accepted[t])
            json_object_set_new(by_type, type_names[t], json_integer(im->accepted[t]));
        total += im->accepted[t];
    }
    *report = json_pack("{s:I, s:I, s:I, s:o, s:O}", "lines", (json_int_t)im->line, "accepted",
                        (json_int_t)total, "rejected_count", (json_int_t)im->rejected_count,
                        "by_type", by_type, "rejected", im->rejected);
    return 0;
}

/* Finish (when no line failed) and free; a failure says how far the import got. */
static int import_end(struct importer *im, int rc, json_t **report, struct err_info *err)
{
    if (rc == 0)
        rc = importer_finish(im, report, err);
    if (rc != 0) {
        /* Batches written before the failure stay: say how far the import got. */
        int64_t kept = 0;
        for (int t = 0; t < IT_COUNT; t++)
            kept += im->accepted[t];
        struct err_info why = *err;
        err_clear(err);
        err_set(err, rc, why.field, "the import stopped at line %lld: %s; the %lld lines "
                "accepted before it are kept: resend from that line",
                (long long)(im->failed_line ? im->failed_line : im->line), why.message,
                (long long)kept);
    }
    importer_free(im);
    return rc;
}

/* Feed the whole lines of data[0, len) to im; *used: bytes up to the last newline
 * (all of them when is_last, the final line having none). */
static int feed_lines(struct importer *im, const char *data, size_t len, bool is_last,
                      size_t *used, struct err_info *err)
{
    size_t pos = 0;
    int rc = 0;
    while (pos < len && rc == 0) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        if (nl == NULL && !is_last)
            break;
        size_t end = nl ? (size_t)(nl - data) : len;
        rc = importer_line(im, data + pos, end - pos, err);
        pos = nl ? end + 1 : len;
    }
    *used = pos;
    return rc;
}

int import_ndjson(struct store *s, const char *data, size_t len, const char *actor,
                  json_t **report, struct err_info *err)
{
    struct importer *im = importer_new(s, actor);
    size_t used;
    int rc = feed_lines(im, data, len, true, &used, err);
    return import_end(im, rc, report, err);
}

#define IMPORT_READ_CHUNK ((size_t)4 * 1024 * 1024)

int import_ndjson_fd(struct store *s, int fd, const char *actor, json_t **report,
                     struct err_info *err)
{
    struct importer *im = importer_new(s, actor);
    size_t cap = IMPORT_READ_CHUNK, have = 0;
    char *buf = xmalloc(cap);
    off_t off = 0;
    int rc = 0;
    for (;;) {
        if (cap - have < IMPORT_READ_CHUNK / 2) { /* a line longer than what is left */
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t n = pread(fd, buf + have, cap - have, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = err_set(err, ERR_IO, "", "cannot read the import back: %s", strerror(errno));
            break;
        }
        off += n;
        have += (size_t)n;
        size_t used;
        rc = feed_lines(im, buf, have, n == 0, &used, err);
        if (rc != 0 || n == 0)
            break;
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    free(buf);
    return import_end(im, rc, report, err);
}
