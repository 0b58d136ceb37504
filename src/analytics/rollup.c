/*
 * rollup.c - the rollup consumer of the event log and the full rebuild
 * (design in analytics.h).  The consumer reads on a reader connection and
 * writes one store job per batch: summed deltas, changed facts, cursor.
 */
#include "analytics/analytics_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/model.h"

#include <stdlib.h>
#include <string.h>

#define CONSUMER "analytics.rollup"
#define BATCH ANALYTICS_ROLLUP_BATCH

/* Does an event of this type change what a request contributes? */
static bool touches_request(const char *type)
{
    return strncmp(type, "request.", 8) == 0 || strcmp(type, "message.out") == 0 ||
           strcmp(type, "message.in") == 0;
}

/* Fill f from a requests row (columns as in FACT_SQL from col 0); fcr needs n_out and reopened. */
#define FACT_COLUMNS                                                                               \
    "created_at_ms, store_id, channel, topic, kind, sentiment, assignee_id, "                      \
    "first_response_at_ms, solved_at_ms"

static void fact_from_row(sqlite3_stmt *st, int c0, int64_t n_out, bool reopened, struct fact *f)
{
    memset(f, 0, sizeof *f);
    int64_t created = db_col_i64(st, c0);
    f->day = created >= 0 ? created / DAY_MS : 0;
    f->store_id = db_col_i64(st, c0 + 1);
    f->channel = model_find(model_channels, db_col_text(st, c0 + 2));
    f->topic = model_find(model_topics, db_col_text(st, c0 + 3));
    f->kind = model_find(model_kinds, db_col_text(st, c0 + 4));
    f->sentiment = model_find(model_sentiments, db_col_text(st, c0 + 5));
    f->operator_id = db_col_i64(st, c0 + 6);
    if (!db_col_is_null(st, c0 + 7)) {
        int64_t d = db_col_i64(st, c0 + 7) - created;
        f->responded = 1;
        f->frt_s = d > 0 ? d / 1000 : 0;
    }
    if (!db_col_is_null(st, c0 + 8)) {
        int64_t d = db_col_i64(st, c0 + 8) - created;
        f->solved = 1;
        f->solve_s = d > 0 ? d / 1000 : 0;
        f->fcr = n_out <= 1 && !reopened;
    }
    fact_clamp(f);
}

/* The request's current fact; false when the request does not exist. */
static bool fact_load(struct db *r, int64_t id, struct fact *f)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT " FACT_COLUMNS " FROM requests WHERE id = $1");
    db_bind_i64(st, 1, id);
    if (db_step(r, st, NULL) != 1) {
        sqlite3_reset(st);
        return false;
    }
    bool is_solved = !db_col_is_null(st, 8);
    int64_t n_out = 0;
    bool reopened = false;
    if (is_solved) {
        /* Replies from the messages (imported history has replies but no events). */
        sqlite3_stmt *q = db_stmt(r, "SELECT count(*) FROM messages WHERE request_id = $1 "
                                     "AND direction = 'out'");
        db_bind_i64(q, 1, id);
        if (db_step(r, q, NULL) == 1)
            n_out = db_col_i64(q, 0);
        sqlite3_reset(q);
        q = db_stmt(r, "SELECT 1 FROM events WHERE request_id = $1 AND "
                       "type = 'request.reopened' LIMIT 1");
        db_bind_i64(q, 1, id);
        reopened = db_step(r, q, NULL) == 1;
        sqlite3_reset(q);
    }
    fact_from_row(st, 0, n_out, reopened, f);
    sqlite3_reset(st);
    return true;
}

/* The stored fact of request id, if any (through r, a reader or the writer). */
static bool fact_stored(struct db *r, int64_t id, struct fact *f)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT facts FROM an_facts WHERE block = $1");
    db_bind_i64(st, 1, id / FACT_BLOCK);
    bool found = false;
    if (db_step(r, st, NULL) == 1) {
        const unsigned char *p = sqlite3_column_blob(st, 0);
        size_t off = (size_t)(id % FACT_BLOCK) * FACT_BYTES;
        if (p != NULL && (size_t)sqlite3_column_bytes(st, 0) >= off + FACT_BYTES)
            found = fact_decode(p + off, f);
    }
    sqlite3_reset(st);
    return found;
}

static int cmp_by_id(const void *a, const void *b, void *ids)
{
    int64_t x = ((const int64_t *)ids)[*(const size_t *)a];
    int64_t y = ((const int64_t *)ids)[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

/* Store the n facts of requests ids, a block at a time: each block is read,
 * its slots replaced, and written back. */
static int facts_write(struct db *db, const int64_t *ids, const struct fact *facts, size_t n,
                       struct err_info *err)
{
    size_t *order = xmalloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_by_id, (void *)ids);
    unsigned char blob[FACT_BLOCK_BYTES];
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        int64_t block = ids[order[i]] / FACT_BLOCK;
        memset(blob, 0, sizeof blob);
        sqlite3_stmt *st = db_stmt(db, "SELECT facts FROM an_facts WHERE block = $1");
        db_bind_i64(st, 1, block);
        if (db_step(db, st, NULL) == 1 && sqlite3_column_blob(st, 0) != NULL) {
            size_t len = (size_t)sqlite3_column_bytes(st, 0);
            memcpy(blob, sqlite3_column_blob(st, 0), len < sizeof blob ? len : sizeof blob);
        }
        sqlite3_reset(st);
        for (; i < n && ids[order[i]] / FACT_BLOCK == block; i++)
            fact_encode(&facts[order[i]], blob + (size_t)(ids[order[i]] % FACT_BLOCK) * FACT_BYTES);
        st = db_stmt(db, "INSERT OR REPLACE INTO an_facts (block, facts) VALUES ($1, $2)");
        db_bind_i64(st, 1, block);
        db_bind_blob(st, 2, blob, sizeof blob);
        rc = db_run(db, st, err);
    }
    free(order);
    return rc;
}

/* One batch's work: the maps to write and the facts that changed. */
struct batch {
    struct kmap dirty;        /* request ids touched (width 1: 1 created in the batch, 2 not) */
    struct kmap grains[N_GRAINS];
    struct kmap surv, matrix;
    int64_t *ids;             /* changed facts */
    struct fact *facts;
    size_t n_facts, cap_facts;
    int64_t n_events, from_id, last_id;
};

static int on_event(void *ctx, const struct event_row *ev)
{
    struct batch *b = ctx;
    b->n_events++;
    if (ev->request_id > 0 && touches_request(ev->type)) {
        /* 1: the batch saw the request created (it can have no stored fact yet), 2: not. */
        int64_t *seen = kmap_get(&b->dirty, (uint64_t)ev->request_id);
        if (*seen == 0)
            *seen = strcmp(ev->type, "request.created") == 0 ? 1 : 2;
    } else if (strcmp(ev->type, "survey.answered") == 0) {
        struct survey_answer_ev a;
        if (survey_answer_from_event(ev->data, ev->store_id, &a))
            survey_answer_add(&b->surv, &b->matrix, &a);
    }
    return 0;
}

static int batch_write(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct batch *b = arg;
    struct db *db = store_tx_db(tx);
    /* The batch was summed from a snapshot after from_id.  If the cursor moved
     * meanwhile (`otklik analytics update` or a rebuild in another process),
     * writing it would count those events twice: nothing is written. */
    if (store_consumer_position(db, CONSUMER) != b->from_id)
        return err_set(err, ERR_CONFLICT, "", "the rollups moved on meanwhile");
    int rc = 0;
    for (int g = 0; g < N_GRAINS && rc == 0; g++)
        rc = rollup_grain_write(db, (enum grain)g, &b->grains[g], err);
    if (rc == 0)
        rc = survey_rollup_write(db, &b->surv, &b->matrix, err);
    if (rc == 0)
        rc = facts_write(db, b->ids, b->facts, b->n_facts, err);
    if (rc == 0)
        rc = store_consumer_save(tx, CONSUMER, b->last_id, err);
    return rc;
}

static void batch_free(struct batch *b)
{
    kmap_free(&b->dirty);
    for (int g = 0; g < N_GRAINS; g++)
        kmap_free(&b->grains[g]);
    kmap_free(&b->surv);
    kmap_free(&b->matrix);
    free(b->ids);
    free(b->facts);
}

static int one_batch(struct store *s, int64_t *out_n, struct err_info *err)
{
    struct batch b;
    memset(&b, 0, sizeof b);
    kmap_init(&b.dirty, 1, BATCH);
    for (int g = 0; g < N_GRAINS; g++)
        kmap_init(&b.grains[g], N_MEASURES, 256);
    kmap_init(&b.surv, N_SMEASURES, 64);
    kmap_init(&b.matrix, 2, 64);

    struct db *r = store_reader(s);
    int64_t pos = store_consumer_position(r, CONSUMER);
    b.from_id = pos;
    int rc = store_events_since(r, pos, BATCH, on_event, &b, &b.last_id);
    for (size_t i = 0; rc == 0 && i < b.dirty.cap; i++) {
        if (b.dirty.keys[i] == 0)
            continue;
        int64_t id = (int64_t)(b.dirty.keys[i] - 1);
        struct fact now, old;
        bool has_now = fact_load(r, id, &now);
        bool has_old = b.dirty.vals[i] == 2 && fact_stored(r, id, &old);
        if (!has_now || (has_old && memcmp(&now, &old, sizeof now) == 0))
            continue;
        if (has_old)
            fact_add_all(b.grains, &old, -1);
        fact_add_all(b.grains, &now, +1);
        xgrow((void **)&b.ids, &b.cap_facts, b.n_facts + 1, sizeof *b.ids);
        b.facts = xrealloc(b.facts, b.cap_facts * sizeof *b.facts);
        b.ids[b.n_facts] = id;
        b.facts[b.n_facts++] = now;
    }
    store_reader_done(s, r);
    if (rc == 0 && b.n_events > 0)
        rc = store_write_background(s, batch_write, &b, err);
    *out_n = b.n_events;
    batch_free(&b);
    return rc;
}

int analytics_rollup_step(struct store *s, int max_batches, int64_t *out_n,
                          struct err_info *err)
{
    *out_n = 0;
    int conflicts = 0;
    for (int i = 0; i < max_batches; i++) {
        int64_t n = 0;
        int rc = one_batch(s, &n, err);
        if (rc == ERR_CONFLICT && conflicts++ < 100) {
            /* Another process moved the cursor: read again from where it is now. */
            memset(err, 0, sizeof *err);
            i--;
            continue;
        }
        if (rc != 0)
            return rc;
        *out_n += n;
        if (n < BATCH)
            break;
    }
    return 0;
}
