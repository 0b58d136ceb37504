/*
 * rollup_rebuild.c - recompute every rollup from the event log, in memory,
 * in one transaction: one pass over the events (which requests exist and
 * were touched, their reply and reopen counts, survey answers), one pass
 * over the touched requests' rows, then the tables are replaced.  The job
 * runs on the writer connection, so nothing is written meanwhile and the
 * cursor it saves is exactly the last event it read.
 */
#include "analytics/analytics_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/model.h"

#include <stdio.h>
#include <string.h>

/* Per request id: bit 0 touched, bit 1 reopened, bits 2..7 replies (saturating at 63). */
struct rebuild {
    unsigned char *req;
    size_t cap_req;
    struct kmap grains[N_GRAINS];
    struct kmap surv, matrix;
    int64_t last_id;
    struct rebuild_stats st;
};

static void touch(struct rebuild *rb, int64_t id, bool is_reply, bool is_reopen)
{
    if ((size_t)id >= rb->cap_req) {
        size_t cap = rb->cap_req ? rb->cap_req : 1 << 20;
        while (cap <= (size_t)id)
            cap *= 2;
        rb->req = xrealloc(rb->req, cap);
        memset(rb->req + rb->cap_req, 0, cap - rb->cap_req);
        rb->cap_req = cap;
    }
    unsigned char v = rb->req[id] | 1;
    if (is_reopen)
        v |= 2;
    if (is_reply && (v >> 2) < 63)
        v = (unsigned char)(v + 4);
    rb->req[id] = v;
}

/* The scan reads only what it needs; data only for survey answers. */
static int scan_events(struct db *db, struct rebuild *rb, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT id, type, request_id, store_id, "
                                   "CASE WHEN type = 'survey.answered' THEN data END "
                                   "FROM events ORDER BY id");
    int rc;
    while ((rc = db_step(db, st, err)) == 1) {
        rb->st.n_events++;
        rb->last_id = db_col_i64(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        int64_t rid = db_col_i64(st, 2);
        if (type[0] == 'r' || type[0] == 'm') {
            if (rid > 0 && (strncmp(type, "request.", 8) == 0 ||
                            strcmp(type, "message.out") == 0 || strcmp(type, "message.in") == 0))
                touch(rb, rid, false, strcmp(type, "request.reopened") == 0);
        } else if (strcmp(type, "survey.answered") == 0) {
            struct survey_answer_ev a;
            if (survey_answer_from_event(db_col_text(st, 4), db_col_i64(st, 3), &a)) {
                survey_answer_add(&rb->surv, &rb->matrix, &a);
                rb->st.n_answers++;
            }
        }
    }
    sqlite3_reset(st);
    return rc < 0 ? rc : 0;
}

/* Replies per request, from the messages (imported history has replies but no events). */
static int scan_replies(struct db *db, struct rebuild *rb, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT request_id FROM messages WHERE direction = 'out'");
    int rc;
    while ((rc = db_step(db, st, err)) == 1) {
        int64_t rid = db_col_i64(st, 0);
        if (rid > 0 && (size_t)rid < rb->cap_req && (rb->req[rid] & 1))
            touch(rb, rid, true, false);
    }
    sqlite3_reset(st);
    return rc < 0 ? rc : 0;
}

/* Requests in id order; each touched one gets its fact written and rolled up. */
static int scan_requests(struct db *db, struct rebuild *rb, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT id, created_at_ms, store_id, channel, topic, kind, "
                                   "sentiment, assignee_id, first_response_at_ms, solved_at_ms "
                                   "FROM requests ORDER BY id");
    sqlite3_stmt *ins = db_stmt(
        db, "INSERT INTO an_request_facts (request_id, day, store_id, channel, topic, kind, "
            "sentiment, operator_id, responded, frt_s, solved, solve_s, fcr) VALUES ($1, $2, $3, "
            "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13)");
    int rc;
    while ((rc = db_step(db, st, err)) == 1) {
        int64_t id = db_col_i64(st, 0);
        if (id <= 0 || (size_t)id >= rb->cap_req || !(rb->req[id] & 1))
            continue;
        struct fact f;
        memset(&f, 0, sizeof f);
        int64_t created = db_col_i64(st, 1);
        f.day = created >= 0 ? created / DAY_MS : 0;
        f.store_id = db_col_i64(st, 2);
        f.channel = model_find(model_channels, db_col_text(st, 3));
        f.topic = model_find(model_topics, db_col_text(st, 4));
        f.kind = model_find(model_kinds, db_col_text(st, 5));
        f.sentiment = model_find(model_sentiments, db_col_text(st, 6));
        f.operator_id = db_col_i64(st, 7);
        if (!db_col_is_null(st, 8)) {
            int64_t d = db_col_i64(st, 8) - created;
            f.responded = 1;
            f.frt_s = d > 0 ? d / 1000 : 0;
        }
        if (!db_col_is_null(st, 9)) {
            int64_t d = db_col_i64(st, 9) - created;
            f.solved = 1;
            f.solve_s = d > 0 ? d / 1000 : 0;
            f.fcr = (rb->req[id] >> 2) <= 1 && !(rb->req[id] & 2);
        }
        fact_add_all(rb->grains, &f, 1);
        const int64_t vals[13] = {id,          f.day,         f.store_id, f.channel, f.topic,
                                  f.kind,      f.sentiment,   f.operator_id, f.responded,
                                  f.frt_s,     f.solved,      f.solve_s,  f.fcr};
        sqlite3_reset(ins);
        for (int k = 0; k < 13; k++)
            sqlite3_bind_int64(ins, k + 1, vals[k]);
        if ((rc = db_step(db, ins, err)) < 0)
            break;
        rb->st.n_requests++;
    }
    sqlite3_reset(ins);
    sqlite3_reset(st);
    return rc < 0 ? rc : 0;
}

static int rebuild_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct rebuild *rb = arg;
    struct db *db = store_tx_db(tx);
    uint64_t t0 = clock_mono_ns();
    int rc = db_exec(db,
                     "DELETE FROM an_roll_req; DELETE FROM an_roll_store; DELETE FROM an_roll_chan;"
                     "DELETE FROM an_roll_topic; DELETE FROM an_roll_operator;"
                     "DELETE FROM an_roll_survey; DELETE FROM an_roll_matrix;"
                     "DELETE FROM an_request_facts;",
                     err);
    if (rc == 0)
        rc = scan_events(db, rb, err);
    if (rc == 0)
        rc = scan_replies(db, rb, err);
    if (rc == 0)
        rc = scan_requests(db, rb, err);
    uint64_t t1 = clock_mono_ns();
    for (int g = 0; g < N_GRAINS && rc == 0; g++)
        rc = rollup_grain_write(db, (enum grain)g, &rb->grains[g], err);
    if (rc == 0)
        rc = survey_rollup_write(db, &rb->surv, &rb->matrix, err);
    if (rc == 0)
        rc = store_consumer_save(tx, "analytics.rollup", rb->last_id, err);
    rb->st.scan_s = (double)(t1 - t0) / 1e9;
    rb->st.write_s = (double)(clock_mono_ns() - t1) / 1e9;
    return rc;
}

int analytics_rebuild(struct store *s, struct rebuild_stats *out, struct err_info *err)
{
    struct rebuild rb;
    memset(&rb, 0, sizeof rb);
    for (int g = 0; g < N_GRAINS; g++)
        kmap_init(&rb.grains[g], N_MEASURES, 1 << 14);
    kmap_init(&rb.surv, N_SMEASURES, 1 << 12);
    kmap_init(&rb.matrix, 2, 1 << 10);
    uint64_t t0 = clock_mono_ns();
    int rc = store_write(s, rebuild_job, &rb, err);
    if (rc == 0)
        log_info("analytics rebuild events=%lld requests=%lld answers=%lld seconds=%.3f",
                 (long long)rb.st.n_events, (long long)rb.st.n_requests,
                 (long long)rb.st.n_answers, (double)(clock_mono_ns() - t0) / 1e9);
    if (out)
        *out = rb.st;
    for (int g = 0; g < N_GRAINS; g++)
        kmap_free(&rb.grains[g]);
    kmap_free(&rb.surv);
    kmap_free(&rb.matrix);
    free(rb.req);
    return rc;
}
