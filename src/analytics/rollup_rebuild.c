/*
 * rollup_rebuild.c - recompute every rollup from the event log, in memory,
 * in one transaction.  The job runs in the writer's transaction, which holds
 * the write lock: nothing can commit meanwhile, so two read connections of
 * its own, opened inside the job, see one snapshot (the last commit), and
 * the cursor saved is exactly the last event they read.  Two threads:
 *
 *   job's thread (writer connection)     helper
 *   request rows into memory, in id      the log: touched requests, reopens,
 *     order, until the log is read, --->   survey answers summed; replies
 *     then the first half of the rest    the second half of the request rows
 *   facts of its rows appended to          left, meanwhile
 *     an_facts, then those           <--- survey rows sorted; an_roll_req's
 *     of the helper's rows                 rows: the facts sorted by key and
 *   each rollup table appended in key <---  summed, the chain's, then store by
 *     order as soon as its rows are        store; the coarser grains and the
 *     ready (an_roll_req's as each         chain's rows from them
 *     store's are)
 *   the old tables swapped for the new
 *
 * The writer connection is the bound: ~9 M rollup rows inserted for 10 M
 * requests (their facts are 60,000 rows of blocks).
 *
 * Every write goes into a new table (rebuilt_tables below), in key order, as
 * multi-row INSERTs.  The job runs straight in the transaction (rerunnable, no
 * savepoint: a savepoint would copy every old page it overwrites).  The
 * writer's page cache stays as configured: pages spilled to the WAL during
 * the job are written back by the kernel meanwhile, and the commit of 10 M
 * requests took 2 s instead of 4 s with a cache holding them all (bench/
 * analytics/RESULTS.md).  All or nothing: a crash before the commit leaves
 * the old rollups (and empty new tables, made again by the next rebuild).
 */
#include "analytics/analytics_int.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/model.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define READER_CACHE_KIB 65536
#define READER_MMAP_BYTES "2147418112" /* SQLite's largest mmap by default */
#define BULK_ROWS 200 /* rows per INSERT statement */
#define NEXT_SUFFIX "_next" /* the new tables' names: each rebuilt table's and this */

int rebuild_split_rows = -1;
void (*rebuild_before_job)(struct store *s);

/* A request row's fact, before first-contact resolution is known (compact). */
struct raw {
    int64_t id, day, store_id, operator_id, frt_s, solve_s;
    int16_t channel, topic, kind, sentiment; /* vocabulary indices, -1: none */
    unsigned char responded, solved;
};

/* A map's entries in the order of its table's primary key, values width wide. */
struct rows {
    size_t n;
    uint64_t *keys;
    int64_t *vals;
};

enum { T_SURVEY = N_GRAINS, T_MATRIX, N_TABLES };

/*
 * The order in which the helper makes the tables' rows and the writer writes
 * them.  The survey tables first: their sums are done with the log, and the
 * writer inserts their rows (~1 M for 2 M answers) while the helper sorts the
 * facts into an_roll_req's first rows (the writer waited ~0.6 s for those).
 */
static const int table_order[N_TABLES] = {T_SURVEY, T_MATRIX, G_REQ,     G_STORE,
                                          G_CHAN,   G_TOPIC,  G_OPERATOR};

/* Table t's place in table_order. */
static int table_place(int t)
{
    int k = 0;
    while (table_order[k] != t)
        k++;
    return k;
}

struct rebuild {
    const char *path; /* the database file, for the read connections */
    /* Per request id: bit 0 touched, bit 1 reopened, bits 2..7 replies (saturating at 63). */
    unsigned char *req;
    size_t cap_req;
    /* Every request row, in id order: [0, n_mine) read by the job's thread, then
     * [n_mine, n_raws) by the helper (room for max(id) rows, allocated once; the
     * helper reads its rows to [split_id, ...) and moves them down once n_mine is
     * known). */
    struct raw *raws;
    size_t n_raws, n_mine, cap_raws;
    struct kmap grains[N_GRAINS];
    struct kmap surv, matrix;
    /* The tables' rows in primary key order, made by the helper in table_order;
     * n_ready of them so far (under mu), and
     * n_req_ready rows of an_roll_req before it is whole (the chain's, then store
     * by store). */
    struct rows rows[N_TABLES];
    int n_ready;
    size_t n_req_ready;
    int64_t last_id;
    struct rebuild_stats st;
    uint64_t job_end_ns; /* the job's end: the commit follows */
    /* The hand-over between the two threads (under mu, changes broadcast on cond):
     * the log read, where the job's thread will stop reading requests, its requests
     * read, all read. */
    bool is_log_read, has_split, is_mine_read, is_read, is_stopping;
    int64_t split_id;             /* the helper reads the requests after this id */
    _Atomic bool is_log_read_now; /* is_log_read, polled while reading requests */
    /* the helper's result */
    int helper_rc;
    struct err_info helper_err;
    /* kept across runs of the job (rebuild_reset clears what comes before) */
    pthread_mutex_t mu;
    pthread_cond_t cond;
};

/* ---- memory ------------------------------------------------------------------- */

static void rebuild_free(struct rebuild *rb)
{
    for (int g = 0; g < N_GRAINS; g++)
        kmap_free(&rb->grains[g]);
    for (int t = 0; t < N_TABLES; t++) {
        free(rb->rows[t].keys);
        free(rb->rows[t].vals);
    }
    kmap_free(&rb->surv);
    kmap_free(&rb->matrix);
    free(rb->req);
    free(rb->raws);
}

/* Start afresh: the job may run twice (a rerun after its transaction rolled back). */
static void rebuild_reset(struct rebuild *rb)
{
    rebuild_free(rb);
    memset(rb, 0, offsetof(struct rebuild, mu));
    atomic_init(&rb->is_log_read_now, false);
    for (int g = 0; g < N_GRAINS; g++)
        kmap_init(&rb->grains[g], N_MEASURES, 1 << 14);
    kmap_init(&rb->surv, N_SMEASURES, 1 << 12);
    kmap_init(&rb->matrix, 2, 1 << 10);
}

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

static bool is_touched(const struct rebuild *rb, int64_t id)
{
    return id > 0 && (size_t)id < rb->cap_req && (rb->req[id] & 1);
}

/* The fact of a touched request: its row's, with first-contact resolution from the log. */
static void fact_of(const struct rebuild *rb, const struct raw *r, struct fact *f)
{
    unsigned char v = rb->req[r->id];
    *f = (struct fact){.day = r->day, .store_id = r->store_id, .channel = r->channel,
                       .topic = r->topic, .kind = r->kind, .sentiment = r->sentiment,
                       .operator_id = r->operator_id, .responded = r->responded,
                       .frt_s = r->frt_s, .solved = r->solved, .solve_s = r->solve_s};
    f->fcr = r->solved && (v >> 2) <= 1 && !(v & 2);
    fact_clamp(f);
}

/* model_find with a cheap first-byte test before each strcmp (the same answer). */
static int vocab_find(const char *const *list, const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; list[i] != NULL; i++)
        if (list[i][0] == s[0] && strcmp(list[i], s) == 0)
            return i;
    return -1;
}

/* ---- reading (own connections, one snapshot) ---------------------------------- */

/* A read connection for one scan: a large cache, the file memory-mapped. */
static int reader_open(struct rebuild *rb, struct db **out, struct err_info *err)
{
    int rc = db_open(rb->path, false, READER_CACHE_KIB, out, err);
    if (rc == 0)
        rc = db_exec(*out, "PRAGMA mmap_size=" READER_MMAP_BYTES "; BEGIN", err);
    return rc;
}

static void reader_close(struct db *r)
{
    if (r != NULL)
        db_exec(r, "COMMIT", NULL);
    db_close(r);
}

/* The events (what each touches; survey answers' data only) and the replies. */
static int scan_events(struct db *r, struct rebuild *rb, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT id, type, request_id, store_id, "
                                  "CASE WHEN type = 'survey.answered' THEN data END "
                                  "FROM events ORDER BY id");
    int rc;
    while ((rc = db_step(r, st, err)) == 1) {
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
    if (rc < 0)
        return rc;
    /* Replies per request, from the messages (imported history has replies but no events). */
    st = db_stmt(r, "SELECT request_id FROM messages WHERE direction = 'out'");
    while ((rc = db_step(r, st, err)) == 1) {
        int64_t rid = db_col_i64(st, 0);
        if (is_touched(rb, rid))
            touch(rb, rid, true, false);
    }
    sqlite3_reset(st);
    return rc < 0 ? rc : 0;
}

/*
 * The request rows after after_id up to until_id, each with its fact but
 * first-contact resolution, in id order, into raws from *n on.  may_stop:
 * return as soon as the helper has read the log (checked every 4096 rows);
 * *out_last_id gets the last id read.
 */
static int scan_requests(struct db *r, struct rebuild *rb, int64_t after_id, int64_t until_id,
                         bool may_stop, size_t *n, int64_t *out_last_id, struct err_info *err)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT id, created_at_ms, store_id, channel, topic, kind, "
                                  "sentiment, assignee_id, first_response_at_ms, solved_at_ms "
                                  "FROM requests WHERE id > $1 AND id <= $2 ORDER BY id");
    db_bind_i64(st, 1, after_id);
    db_bind_i64(st, 2, until_id);
    int rc;
    *out_last_id = after_id;
    while ((rc = db_step(r, st, err)) == 1) {
        int64_t id = db_col_i64(st, 0);
        *out_last_id = id;
        if (id <= 0 || *n >= rb->cap_raws) /* cap_raws is max(id) in the snapshot */
            continue;
        struct raw *x = &rb->raws[(*n)++];
        memset(x, 0, sizeof *x);
        int64_t created = db_col_i64(st, 1);
        x->id = id;
        x->day = created >= 0 ? created / DAY_MS : 0;
        x->store_id = db_col_i64(st, 2);
        x->channel = (int16_t)vocab_find(model_channels, db_col_text(st, 3));
        x->topic = (int16_t)vocab_find(model_topics, db_col_text(st, 4));
        x->kind = (int16_t)vocab_find(model_kinds, db_col_text(st, 5));
        x->sentiment = (int16_t)vocab_find(model_sentiments, db_col_text(st, 6));
        x->operator_id = db_col_i64(st, 7);
        if (!db_col_is_null(st, 8)) {
            int64_t d = db_col_i64(st, 8) - created;
            x->responded = 1;
            x->frt_s = d > 0 ? d / 1000 : 0;
        }
        if (!db_col_is_null(st, 9)) {
            int64_t d = db_col_i64(st, 9) - created;
            x->solved = 1;
            x->solve_s = d > 0 ? d / 1000 : 0;
        }
        if (may_stop && (((*n & 4095) == 0 && atomic_load(&rb->is_log_read_now)) ||
                         (size_t)rebuild_split_rows == *n))
            break;
    }
    sqlite3_reset(st);
    return rc < 0 ? rc : 0;
}

/* ---- the hand-over between the threads ------------------------------------------- */

/* Set one of the hand-over's flags and wake the other thread. */
static void hand_over(struct rebuild *rb, bool *flag)
{
    pthread_mutex_lock(&rb->mu);
    *flag = true;
    pthread_cond_broadcast(&rb->cond);
    pthread_mutex_unlock(&rb->mu);
}

/* Wait until *flag, or until the other thread stopped on an error (then false). */
static bool wait_for(struct rebuild *rb, const bool *flag)
{
    pthread_mutex_lock(&rb->mu);
    while (!*flag && !rb->is_stopping)
        pthread_cond_wait(&rb->cond, &rb->mu);
    bool ok = *flag;
    pthread_mutex_unlock(&rb->mu);
    return ok;
}

/* wait_for on the job's thread, timed (wait_s). */
static bool job_wait_for(struct rebuild *rb, const bool *flag)
{
    uint64_t t0 = clock_mono_ns();
    bool ok = wait_for(rb, flag);
    rb->st.wait_s += (double)(clock_mono_ns() - t0) / 1e9;
    return ok;
}

/*
 * The same for table t's rows: wait until more than have of them are ready,
 * or all; *n gets how many are, *is_all whether that is all of them.  Only
 * an_roll_req's come in parts (req_rows_ready); its arrays are allocated
 * whole before the first, so the rows ready stay where they are.
 */
static bool wait_for_rows(struct rebuild *rb, int t, size_t have, size_t *n, bool *is_all)
{
    uint64_t t0 = clock_mono_ns();
    pthread_mutex_lock(&rb->mu);
    int place = table_place(t);
    while (rb->n_ready <= place && !(t == G_REQ && rb->n_req_ready > have) && !rb->is_stopping)
        pthread_cond_wait(&rb->cond, &rb->mu);
    *is_all = rb->n_ready > place;
    *n = *is_all ? rb->rows[t].n : t == G_REQ ? rb->n_req_ready : 0;
    bool ok = *is_all || *n > have;
    pthread_mutex_unlock(&rb->mu);
    rb->st.wait_s += (double)(clock_mono_ns() - t0) / 1e9;
    return ok;
}

static void rows_ready(struct rebuild *rb)
{
    pthread_mutex_lock(&rb->mu);
    rb->n_ready++;
    pthread_cond_broadcast(&rb->cond);
    pthread_mutex_unlock(&rb->mu);
}

/* The first n of an_roll_req's rows are ready. */
static void req_rows_ready(struct rebuild *rb, size_t n)
{
    pthread_mutex_lock(&rb->mu);
    rb->n_req_ready = n;
    pthread_cond_broadcast(&rb->cond);
    pthread_mutex_unlock(&rb->mu);
}

/* Copy m's entries into out in order (the table's primary key order), and free m. */
static void rows_make(struct kmap *m, kmap_order_fn order, struct rows *out)
{
    size_t *slots = kmap_sorted_slots(m, order);
    size_t w = (size_t)m->width;
    out->n = m->n;
    out->keys = xmalloc((m->n + 1) * sizeof *out->keys);
    out->vals = xmalloc((m->n + 1) * w * sizeof *out->vals);
    for (size_t o = 0; o < m->n; o++) {
        out->keys[o] = m->keys[slots[o]] - 1;
        memcpy(out->vals + o * w, m->vals + slots[o] * w, w * sizeof *out->vals);
    }
    free(slots);
    kmap_free(m);
}

/* Facts ahead of the one summed whose map slots are prefetched: the maps are far
 * larger than the cache, and each fact would otherwise wait on ~10 misses in turn. */
#define PREFETCH_AHEAD 16

static void prefetch_fact(struct rebuild *rb, const struct raw *r, unsigned grain_mask)
{
    struct fact f;
    fact_of(rb, r, &f);
    struct fact chain = f;
    chain.store_id = 0;
    for (int g = 0; g < N_GRAINS; g++) {
        if (!(grain_mask & (1u << g)) || (g == G_OPERATOR && f.operator_id == 0))
            continue;
        kmap_prefetch(&rb->grains[g], rollup_key((enum grain)g, &chain));
        if (f.store_id != 0)
            kmap_prefetch(&rb->grains[g], rollup_key((enum grain)g, &f));
    }
}

/* Sum the touched requests' facts into the grains' maps, for the grains in mask. */
static void sum_facts(struct rebuild *rb, unsigned grain_mask)
{
    for (size_t i = 0; i < rb->n_raws; i++) {
        if (i + PREFETCH_AHEAD < rb->n_raws && is_touched(rb, rb->raws[i + PREFETCH_AHEAD].id))
            prefetch_fact(rb, &rb->raws[i + PREFETCH_AHEAD], grain_mask);
        if (!is_touched(rb, rb->raws[i].id))
            continue;
        struct fact f;
        fact_of(rb, &rb->raws[i], &f);
        fact_add_grains(rb->grains, &f, 1, grain_mask);
    }
}

/*
 * The coarser grains from an_roll_req's rows.  A request's row in
 * an_roll_store, an_roll_chan and an_roll_topic is its an_roll_req row with
 * dimensions dropped, so each of their rows is a sum of an_roll_req rows
 * (which include the chain's, store 0), read in order once instead of ~60 M
 * hash map updates for 10 M requests.  Exact while the key fields do not
 * overflow: every vocabulary fits its 5 bits (rollup_order_fits) and every
 * store id its 24 bits; else every grain is summed from the facts
 * (fact_add_grains, as the consumer does).
 */
static bool stores_fit(const struct rebuild *rb)
{
    for (size_t i = 0; i < rb->n_raws; i++)
        if (rb->raws[i].store_id < 0 || rb->raws[i].store_id > 0xFFFFFF)
            return false;
    return true;
}

#define KEY_DIMS UINT64_C(0xFFFFFF) /* a key's dimensions, below its day and store */

/* Append (key, v) to r, or add v to its last row when that has the key. */
static void rows_add(struct rows *r, size_t *cap, uint64_t key, const int64_t *v)
{
    if (r->n > 0 && r->keys[r->n - 1] == key) {
        for (int k = 0; k < N_MEASURES; k++)
            r->vals[(r->n - 1) * N_MEASURES + k] += v[k];
        return;
    }
    if (r->n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        r->keys = xrealloc(r->keys, *cap * sizeof *r->keys);
        r->vals = xrealloc(r->vals, *cap * N_MEASURES * sizeof *r->vals);
    }
    r->keys[r->n] = key;
    memcpy(r->vals + r->n * N_MEASURES, v, N_MEASURES * sizeof *v);
    r->n++;
}

/*
 * Append the rows of the facts in pairs (sorted by their rows' order keys): one
 * row per run of equal keys, summed.  is_chain: the facts' rows for the whole
 * chain (store 0) rather than their store's.
 */
static void reduce_facts(struct rebuild *rb, const struct key_pair *pairs, size_t n,
                         bool is_chain, struct rows *out)
{
    for (size_t j = 0; j < n;) {
        int64_t v[N_MEASURES] = {0};
        struct fact f;
        fact_of(rb, &rb->raws[pairs[j].idx], &f);
        if (is_chain)
            f.store_id = 0;
        uint64_t key = rollup_key(G_REQ, &f), order_key = pairs[j].key;
        for (; j < n && pairs[j].key == order_key; j++) {
            if (j + PREFETCH_AHEAD < n)
                __builtin_prefetch(&rb->raws[pairs[j + PREFETCH_AHEAD].idx]);
            fact_of(rb, &rb->raws[pairs[j].idx], &f);
            fact_measures(&f, 1, v);
        }
        out->keys[out->n] = key;
        memcpy(out->vals + out->n * N_MEASURES, v, sizeof v);
        out->n++;
    }
}

/*
 * an_roll_req's rows, in its table's order, by sorting instead of a hash map:
 * the touched facts are sorted by their chain row's order key and reduced,
 * then those with a store by their store row's.  A map of the ~8 M rows of
 * 10 M requests missed the cache on every update; a radix sort of (key,
 * fact) pairs streams, and the rows come out in the order they are written.
 *
 * The rows are handed to the writer as they come: the chain's first (store
 * 0 sorts first), then the stores' one store at a time, so that it inserts
 * a store's rows while the next is sorted.  The facts with a store are
 * split by store id first (a stable sort, in id order within a store), then
 * each store's sorted by its order key: the store is the key's high bits,
 * so the rows are those of one sort of them all, in the same order.
 */
static void sum_req_rows(struct rebuild *rb, kmap_order_fn order)
{
    struct key_pair *pairs = xmalloc((rb->n_raws + 1) * sizeof *pairs);
    struct rows *out = &rb->rows[G_REQ];
    size_t n = 0;
    for (size_t i = 0; i < rb->n_raws; i++) {
        if (!is_touched(rb, rb->raws[i].id))
            continue;
        struct fact f;
        fact_of(rb, &rb->raws[i], &f);
        f.store_id = 0;
        pairs[n++] = (struct key_pair){order(rollup_key(G_REQ, &f)), i};
    }
    out->keys = xmalloc((2 * n + 1) * sizeof *out->keys);
    out->vals = xmalloc((2 * n + 1) * N_MEASURES * sizeof *out->vals);
    key_pairs_sort(pairs, n);
    reduce_facts(rb, pairs, n, true, out);
    req_rows_ready(rb, out->n);
    /* the stores' rows */
    n = 0;
    for (size_t i = 0; i < rb->n_raws; i++)
        if (is_touched(rb, rb->raws[i].id) && rb->raws[i].store_id != 0)
            pairs[n++] = (struct key_pair){(uint64_t)rb->raws[i].store_id, i};
    key_pairs_sort(pairs, n);
    for (size_t from = 0, to; from < n; from = to) {
        uint64_t store_id = pairs[from].key;
        for (to = from; to < n && pairs[to].key == store_id; to++) {
            struct fact f;
            fact_of(rb, &rb->raws[pairs[to].idx], &f);
            pairs[to].key = order(rollup_key(G_REQ, &f));
        }
        key_pairs_sort(pairs + from, to - from);
        reduce_facts(rb, pairs + from, to - from, false, out);
        req_rows_ready(rb, out->n);
    }
    free(pairs);
}

/* an_roll_store, an_roll_chan and an_roll_topic from an_roll_req's rows (in key order:
 * store, day, channel, topic, kind by text), each in its table's order. */
static void derive_rows(struct rebuild *rb, const kmap_order_fn order[N_GRAINS])
{
    const struct rows *req = &rb->rows[G_REQ];
    struct rows *st = &rb->rows[G_STORE], *ch = &rb->rows[G_CHAN], *tp = &rb->rows[G_TOPIC];
    size_t cap_st = 0, cap_ch = 0, cap_tp = 0;
    /* Topics are not adjacent within a day: summed per day in topic_v, then sorted. */
    int64_t topic_v[32][N_MEASURES];
    memset(topic_v, 0, sizeof topic_v);
    uint64_t topic_keys[32];
    int n_topics = 0;
    for (size_t o = 0; o <= req->n; o++) {
        uint64_t key = o < req->n ? req->keys[o] : 0;
        if (n_topics > 0 && (o == req->n || (key & ~KEY_DIMS) != (topic_keys[0] & ~KEY_DIMS))) {
            /* the day's topics in their table's order (an insertion sort of at most 32) */
            for (int a = 1; a < n_topics; a++) {
                for (int b = a; b > 0; b--) {
                    if (order[G_TOPIC](topic_keys[b]) > order[G_TOPIC](topic_keys[b - 1]))
                        break;
                    uint64_t t = topic_keys[b];
                    topic_keys[b] = topic_keys[b - 1];
                    topic_keys[b - 1] = t;
                }
            }
            for (int a = 0; a < n_topics; a++) {
                int64_t *v = topic_v[topic_keys[a] & 31];
                rows_add(tp, &cap_tp, topic_keys[a], v);
                memset(v, 0, sizeof topic_v[0]);
            }
            n_topics = 0;
        }
        if (o == req->n)
            break;
        const int64_t *v = req->vals + o * N_MEASURES;
        uint64_t day_key = key & ~KEY_DIMS, topic1 = (key >> 5) & 31;
        rows_add(st, &cap_st, day_key, v);
        rows_add(ch, &cap_ch, day_key | ((key >> 10) & 31), v);
        bool seen = false;
        for (int a = 0; a < n_topics && !seen; a++)
            seen = topic_keys[a] == (day_key | topic1);
        if (!seen)
            topic_keys[n_topics++] = day_key | topic1;
        for (int k = 0; k < N_MEASURES; k++)
            topic_v[topic1][k] += v[k];
    }
}

/*
 * The tables' rows, in the order the writer takes them (table_order): the
 * survey tables, then an_roll_req (the largest; written while its next
 * stores' rows and the other grains are summed), then the rest.
 * The sort is by the tables' text order when every vocabulary fits.
 */
static void sum_all(struct rebuild *rb)
{
    uint64_t t0 = clock_mono_ns();
    bool by_text = rollup_order_fits();
    rows_make(&rb->surv, by_text ? survey_order : NULL, &rb->rows[T_SURVEY]);
    rows_ready(rb);
    rows_make(&rb->matrix, by_text ? matrix_order : NULL, &rb->rows[T_MATRIX]);
    rows_ready(rb);
    kmap_order_fn order[N_GRAINS] = {NULL};
    if (by_text)
        memcpy(order, grain_order, sizeof order);
    if (by_text && stores_fit(rb)) {
        sum_req_rows(rb, order[G_REQ]);
        rows_ready(rb);
        derive_rows(rb, order);
        for (int g = G_STORE; g <= G_TOPIC; g++) {
            kmap_free(&rb->grains[g]);
            rows_ready(rb);
        }
        sum_facts(rb, 1u << G_OPERATOR);
        rows_make(&rb->grains[G_OPERATOR], order[G_OPERATOR], &rb->rows[G_OPERATOR]);
        rows_ready(rb);
    } else {
        sum_facts(rb, 1u << G_REQ);
        rows_make(&rb->grains[G_REQ], order[G_REQ], &rb->rows[G_REQ]);
        rows_ready(rb);
        sum_facts(rb, ((1u << N_GRAINS) - 1) & ~(1u << G_REQ));
        for (int g = G_REQ + 1; g < N_GRAINS; g++) {
            rows_make(&rb->grains[g], order[g], &rb->rows[g]);
            rows_ready(rb);
        }
    }
    rb->st.sum_s = (double)(clock_mono_ns() - t0) / 1e9;
}

/*
 * The helper: the log (what each request's events say, survey answers,
 * replies), then the requests after split_id on the same read connection
 * (the job's thread reads those before), then the sums.
 */
static void *helper_main(void *arg)
{
    struct rebuild *rb = arg;
    uint64_t t0 = clock_mono_ns();
    struct db *r = NULL;
    int rc = reader_open(rb, &r, &rb->helper_err);
    if (rc == 0)
        rc = scan_events(r, rb, &rb->helper_err);
    uint64_t t1 = clock_mono_ns();
    rb->st.events_s = (double)(t1 - t0) / 1e9;
    bool is_split = false;
    if (rc == 0) {
        atomic_store(&rb->is_log_read_now, true);
        hand_over(rb, &rb->is_log_read);
        is_split = wait_for(rb, &rb->has_split);
    }
    t1 = clock_mono_ns();
    /* The job's thread reads at most split_id rows (ids are unique and positive):
     * the helper's go after those, moved down once it has read its own. */
    size_t from = is_split ? (size_t)rb->split_id : 0, n = from;
    if (is_split) {
        int64_t last;
        rc = scan_requests(r, rb, rb->split_id, INT64_MAX, false, &n, &last, &rb->helper_err);
    }
    reader_close(r);
    rb->st.requests_rest_s = (double)(clock_mono_ns() - t1) / 1e9;
    if (rc != 0) {
        rb->helper_rc = rc;
        hand_over(rb, &rb->is_stopping);
        return NULL;
    }
    if (!is_split || !wait_for(rb, &rb->is_mine_read)) /* the job's thread stopped */
        return NULL;
    memmove(rb->raws + rb->n_mine, rb->raws + from, (n - from) * sizeof *rb->raws);
    rb->n_raws = rb->n_mine + (n - from);
    hand_over(rb, &rb->is_read);
    sum_all(rb);
    return NULL;
}

/* ---- writing: multi-row inserts ------------------------------------------------- */

/*
 * Rows are buffered and inserted BULK_ROWS at a time by one statement
 * "INSERT INTO t (...) VALUES (...), (...), ...": one step, reset and
 * statement start for 200 rows instead of each (64 rows a statement made
 * the rebuild ~0.6 s slower).  The statements are built
 * here from constant table and column names.
 */
struct bulk {
    struct db *db;
    const char *into; /* "table (columns)" */
    int n_cells;      /* per row */
    sqlite3_stmt *full;
    struct cell cells[BULK_ROWS * MAX_CELLS];
    int n_rows;
};

static sqlite3_stmt *bulk_prepare(const struct bulk *b, int n_rows)
{
    struct buf sql;
    buf_init(&sql, 0);
    size_t name_len = strcspn(b->into, " "); /* into the new table */
    buf_printf(&sql, "INSERT INTO %.*s" NEXT_SUFFIX "%s VALUES ", (int)name_len, b->into,
               b->into + name_len);
    for (int r = 0; r < n_rows; r++) {
        buf_puts(&sql, r ? ", (" : "(");
        for (int c = 0; c < b->n_cells; c++)
            buf_puts(&sql, c ? ", ?" : "?");
        buf_putc(&sql, ')');
    }
    char *text = buf_steal(&sql, NULL);
    sqlite3_stmt *st = db_prepare(b->db, text);
    free(text);
    return st;
}

static int bulk_step(struct bulk *b, sqlite3_stmt *st, struct err_info *err)
{
    int n = b->n_rows * b->n_cells;
    for (int k = 0; k < n; k++) {
        const struct cell *c = &b->cells[k];
        if (c->s)
            sqlite3_bind_text(st, k + 1, c->s, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, k + 1, c->i);
    }
    b->n_rows = 0;
    int rc = db_step(b->db, st, err);
    sqlite3_reset(st);
    return rc < 0 ? rc : 0;
}

static void bulk_open(struct bulk *b, struct db *db, const char *into, int n_cells)
{
    b->db = db;
    b->into = into;
    b->n_cells = n_cells;
    b->n_rows = 0;
    b->full = bulk_prepare(b, BULK_ROWS);
}

/* The next row's cells (n_cells to fill); the row is written by bulk_add. */
static struct cell *bulk_row(struct bulk *b)
{
    return &b->cells[b->n_rows * b->n_cells];
}

static int bulk_add(struct bulk *b, struct err_info *err)
{
    if (++b->n_rows < BULK_ROWS)
        return 0;
    return bulk_step(b, b->full, err);
}

/* Write the rows left and finalize. */
static int bulk_close(struct bulk *b, int rc, struct err_info *err)
{
    if (rc == 0 && b->n_rows > 0) {
        sqlite3_stmt *st = bulk_prepare(b, b->n_rows);
        rc = bulk_step(b, st, err);
        sqlite3_finalize(st);
    }
    sqlite3_finalize(b->full);
    return rc;
}

/* The facts' blocks, filled in request id order and written as each is done. */
struct fact_blocks {
    sqlite3_stmt *ins;
    int64_t block; /* the block being filled, -1 before the first */
    unsigned char data[FACT_BLOCK_BYTES];
};

static int blocks_flush(struct db *db, struct fact_blocks *fb, struct err_info *err)
{
    if (fb->block < 0)
        return 0;
    sqlite3_bind_int64(fb->ins, 1, fb->block);
    sqlite3_bind_blob(fb->ins, 2, fb->data, (int)sizeof fb->data, SQLITE_STATIC);
    int rc = db_step(db, fb->ins, err);
    sqlite3_reset(fb->ins);
    fb->block = -1;
    return rc < 0 ? rc : 0;
}

/* The touched requests' facts of raws [from, to), in request id order, into the
 * new table; a block left open is written by the next call or blocks_flush. */
static int write_facts(struct db *db, struct rebuild *rb, struct fact_blocks *fb, size_t from,
                       size_t to, struct err_info *err)
{
    int rc = 0;
    for (size_t i = from; i < to && rc == 0; i++) {
        const struct raw *x = &rb->raws[i];
        if (!is_touched(rb, x->id))
            continue;
        int64_t block = x->id / FACT_BLOCK;
        if (block != fb->block) {
            if ((rc = blocks_flush(db, fb, err)) != 0)
                break;
            fb->block = block;
            memset(fb->data, 0, sizeof fb->data);
        }
        struct fact f;
        fact_of(rb, x, &f);
        fact_encode(&f, fb->data + (size_t)(x->id % FACT_BLOCK) * FACT_BYTES);
        rb->st.n_requests++;
    }
    return rc;
}

/* Every rollup table, each as soon as the helper has its rows in order. */
static int write_rollups(struct db *db, struct rebuild *rb, struct err_info *err)
{
    struct bulk *b = xmalloc(sizeof *b);
    int rc = 0;
    for (int k = 0; k < N_TABLES && rc == 0; k++) {
        int t = table_order[k];
        const struct rows *x = &rb->rows[t];
        if (t < N_GRAINS)
            bulk_open(b, db, grain_insert_into[t], grain_n_cells[t]);
        else if (t == T_SURVEY)
            bulk_open(b, db, survey_insert_into, 4 + N_SMEASURES);
        else
            bulk_open(b, db, matrix_insert_into, 6);
        size_t n = 0; /* rows ready */
        bool is_all = false;
        for (size_t o = 0; rc == 0; o++) {
            if (o == n && !is_all && !wait_for_rows(rb, t, n, &n, &is_all))
                rc = ERR_UNAVAILABLE; /* the helper's error, taken at the join */
            if (o == n || rc != 0)
                break;
            if (t < N_GRAINS) {
                const int64_t *v = x->vals + o * N_MEASURES;
                if (!measures_any(v))
                    continue;
                grain_cells((enum grain)t, x->keys[o], v, bulk_row(b));
            } else if (t == T_SURVEY) {
                survey_cells(x->keys[o], x->vals + o * N_SMEASURES, bulk_row(b));
            } else if (!matrix_cells(x->keys[o], x->vals + o * 2, bulk_row(b))) {
                continue;
            }
            rc = bulk_add(b, err);
        }
        rc = bulk_close(b, rc, err);
    }
    free(b);
    return rc;
}

/* ---- the job ----------------------------------------------------------------- */

/*
 * The tables rebuilt.  Each is written into a new table beside it, made from
 * its own definition ("<name>_next") in a transaction of its own before the
 * job, and swapped in at the end of the job: the old one dropped and the new
 * one renamed.  Emptying the old tables first and writing into them made
 * SQLite reuse the pages freed in the transaction, reading each back; and any
 * page written to the WAL early in the transaction and changed again at its
 * end (a freelist page, a new table's root, a page of the schema) is written
 * over in place, after which the commit recomputes the checksum of every
 * frame after it (~0.9 s for 10 M requests).  Made in a transaction before,
 * the new tables' roots and the schema change in the job only while their
 * table is written and at the swap.  The pages of the old tables go to the
 * freelist at the commit; the next rebuild, and the database's growth, reuse
 * them.
 */
static const char *const rebuilt_tables[] = {
    "an_roll_req",      "an_roll_store",  "an_roll_chan",   "an_roll_topic",
    "an_roll_operator", "an_roll_survey", "an_roll_matrix", "an_facts",
};
#define N_REBUILT (sizeof rebuilt_tables / sizeof *rebuilt_tables)

/* The new tables, empty (a job of its own). */
static int tables_create_next(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    struct db *db = store_tx_db(tx);
    static const char def_sql[] =
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = $1";
    int rc = 0;
    for (size_t t = 0; t < N_REBUILT && rc == 0; t++) {
        sqlite3_stmt *st = db_stmt(db, def_sql);
        db_bind_text(st, 1, rebuilt_tables[t], -1);
        rc = db_step(db, st, err);
        const char *def = rc == 1 ? db_col_text(st, 0) : NULL;
        const char *cols = def ? strchr(def, '(') : NULL;
        if (rc >= 0 && cols == NULL) {
            rc = err_set(err, ERR_INTERNAL, "", "no definition of the table %s", rebuilt_tables[t]);
        } else if (rc >= 0) {
            struct buf sql;
            buf_init(&sql, 0);
            buf_printf(&sql,
                       "DROP TABLE IF EXISTS \"%s" NEXT_SUFFIX "\"; CREATE TABLE \"%s" NEXT_SUFFIX
                       "\" %s",
                       rebuilt_tables[t], rebuilt_tables[t], cols);
            sqlite3_reset(st);
            char *text = buf_steal(&sql, NULL);
            rc = db_exec(db, text, err);
            free(text);
        }
        sqlite3_reset(st);
    }
    return rc;
}

/* Whether every new table is there (another rebuild's job may have swapped
 * them in since this rebuild made them). */
static bool tables_next_exist(struct db *db)
{
    static const char sql[] = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = $1";
    bool all = true;
    for (size_t t = 0; t < N_REBUILT && all; t++) {
        char name[64];
        snprintf(name, sizeof name, "%s" NEXT_SUFFIX, rebuilt_tables[t]);
        sqlite3_stmt *st = db_stmt(db, sql);
        db_bind_text(st, 1, name, -1);
        all = db_step(db, st, NULL) == 1;
        sqlite3_reset(st);
    }
    return all;
}

/* The new tables dropped (a job of its own, after a failed rebuild). */
static int tables_drop_next(struct store_tx *tx, void *arg, struct err_info *err)
{
    (void)arg;
    int rc = 0;
    for (size_t t = 0; t < N_REBUILT && rc == 0; t++) {
        char sql[120];
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS \"%s" NEXT_SUFFIX "\"", rebuilt_tables[t]);
        rc = db_exec(store_tx_db(tx), sql, err);
    }
    return rc;
}

/*
 * The old tables dropped, the new ones renamed, and their statistics for the
 * query planner made again (the old ones go with the old tables; ANALYZE
 * samples a few pages each, analysis_limit).  A DROP visits every page of
 * its table: read through a memory map here (the old tables' pages are in the
 * database file, not the WAL).  SQLite as Debian builds it overwrites freed
 * pages with zeros (secure_delete): not here, where they held counts only.
 * Both settings are back after.
 */
static int tables_swap(struct db *db, struct err_info *err)
{
    sqlite3_stmt *sd = db_stmt(db, "PRAGMA secure_delete");
    int64_t was = db_step(db, sd, NULL) == 1 ? db_col_i64(sd, 0) : 1;
    sqlite3_reset(sd);
    if (was < 0 || was > 2)
        was = 1;
    sqlite3_stmt *sm = db_stmt(db, "PRAGMA mmap_size");
    int64_t mmap_was = db_step(db, sm, NULL) == 1 ? db_col_i64(sm, 0) : 0;
    sqlite3_reset(sm);
    int rc = db_exec(db, "PRAGMA secure_delete = 0; PRAGMA mmap_size = " READER_MMAP_BYTES, err);
    for (size_t t = 0; t < N_REBUILT && rc == 0; t++) {
        char sql[240];
        snprintf(sql, sizeof sql,
                 "DROP TABLE \"%s\"; ALTER TABLE \"%s" NEXT_SUFFIX "\" RENAME TO \"%s\"; "
                 "ANALYZE \"%s\"",
                 rebuilt_tables[t], rebuilt_tables[t], rebuilt_tables[t], rebuilt_tables[t]);
        rc = db_exec(db, sql, err);
    }
    static const char *const restore[] = {"PRAGMA secure_delete = 0", "PRAGMA secure_delete = 1",
                                          "PRAGMA secure_delete = FAST"};
    db_exec(db, restore[was], NULL);
    char mmap_back[64];
    snprintf(mmap_back, sizeof mmap_back, "PRAGMA mmap_size = %lld", (long long)mmap_was);
    db_exec(db, mmap_back, NULL);
    return rc;
}

/* The job's side (the timeline is at the top of the file). */
static int rebuild_run(struct db *db, struct rebuild *rb, struct err_info *err)
{
    uint64_t t0 = clock_mono_ns();
    rb->path = sqlite3_db_filename(db_handle(db), "main");
    if (rb->path == NULL || rb->path[0] == '\0')
        return err_set(err, ERR_UNAVAILABLE, "", "a rebuild needs a database file");
    struct db *r = NULL;
    int rc = reader_open(rb, &r, err);
    int64_t max_id = 0;
    if (rc == 0) {
        /* Room for every request row of the snapshot: ids are unique and positive
         * (and dense: SQLite assigns them), so there are at most max(id). */
        sqlite3_stmt *st = db_stmt(r, "SELECT max(id) FROM requests");
        max_id = db_step(r, st, err) == 1 ? db_col_i64(st, 0) : 0;
        sqlite3_reset(st);
        rb->cap_raws = max_id > 0 ? (size_t)max_id : 0;
        rb->raws = xmalloc((rb->cap_raws + 1) * sizeof *rb->raws);
    }
    pthread_t helper;
    bool has_helper = rc == 0 && pthread_create(&helper, NULL, helper_main, rb) == 0;
    if (rc == 0 && !has_helper)
        rc = err_set(err, ERR_UNAVAILABLE, "", "cannot start a thread");
    uint64_t t1 = clock_mono_ns();
    /* The requests, until the helper has read the log; then the first half of the
     * rest here while the helper reads the second. */
    size_t n = 0;
    int64_t last = 0;
    if (rc == 0)
        rc = scan_requests(r, rb, 0, INT64_MAX, true, &n, &last, err);
    if (rc == 0) {
        rb->split_id = last + (max_id - last) / 2;
        hand_over(rb, &rb->has_split);
        rc = scan_requests(r, rb, last, rb->split_id, false, &n, &last, err);
    }
    reader_close(r);
    rb->n_mine = n;
    hand_over(rb, rc == 0 ? &rb->is_mine_read : &rb->is_stopping);
    rb->st.requests_s = (double)(clock_mono_ns() - t1) / 1e9;
    /* The facts of the rows read here once the log is read, then of the helper's. */
    if (rc == 0 && !wait_for(rb, &rb->is_log_read))
        rc = ERR_UNAVAILABLE;
    uint64_t t3 = clock_mono_ns();
    rb->st.scan_s = (double)(t3 - t0) / 1e9;
    struct fact_blocks fb = {.block = -1};
    fb.ins = db_prepare(db, "INSERT INTO an_facts" NEXT_SUFFIX " (block, facts) VALUES (?, ?)");
    if (rc == 0 && fb.ins == NULL)
        rc = err_set(err, ERR_INTERNAL, "", "cannot prepare the facts' insert");
    if (rc == 0)
        rc = write_facts(db, rb, &fb, 0, rb->n_mine, err);
    if (rc == 0 && !job_wait_for(rb, &rb->is_read))
        rc = ERR_UNAVAILABLE;
    if (rc == 0)
        rc = write_facts(db, rb, &fb, rb->n_mine, rb->n_raws, err);
    if (rc == 0)
        rc = blocks_flush(db, &fb, err);
    sqlite3_finalize(fb.ins);
    uint64_t t4 = clock_mono_ns();
    rb->st.facts_s = (double)(t4 - t3) / 1e9;
    /* The rollup tables, each once the helper has its rows. */
    if (rc == 0)
        rc = write_rollups(db, rb, err);
    rb->st.rollups_s = (double)(clock_mono_ns() - t4) / 1e9;
    rb->st.write_s = (double)(clock_mono_ns() - t3) / 1e9;
    if (rc != 0)
        hand_over(rb, &rb->is_stopping);
    if (has_helper)
        pthread_join(helper, NULL);
    if (rb->helper_rc != 0 && (rc == 0 || rc == ERR_UNAVAILABLE)) {
        *err = rb->helper_err;
        rc = rb->helper_rc;
    }
    uint64_t t5 = clock_mono_ns();
    if (rc == 0)
        rc = tables_swap(db, err);
    rb->st.swap_s = (double)(clock_mono_ns() - t5) / 1e9;
    return rc;
}

static int rebuild_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct rebuild *rb = arg;
    struct db *db = store_tx_db(tx);
    rebuild_reset(rb);
    /* It makes its tables when another rebuild swapped them in since, and swaps
     * its own in at the end: a failure must roll its transaction back. */
    store_tx_schema_change(tx);
    int rc = tables_next_exist(db) ? 0 : tables_create_next(tx, NULL, err);
    if (rc == 0)
        rc = rebuild_run(db, rb, err);
    if (rc == 0)
        rc = store_consumer_save(tx, "analytics.rollup", rb->last_id, err);
    rb->job_end_ns = clock_mono_ns();
    return rc;
}

int analytics_rebuild(struct store *s, struct rebuild_stats *out, struct err_info *err)
{
    struct rebuild rb;
    memset(&rb, 0, sizeof rb);
    pthread_mutex_init(&rb.mu, NULL);
    pthread_cond_init(&rb.cond, NULL);
    uint64_t t0 = clock_mono_ns();
    int rc = store_write(s, tables_create_next, NULL, err);
    if (rc == 0 && rebuild_before_job != NULL)
        rebuild_before_job(s);
    /* Rerunnable: straight in the transaction, without a savepoint. */
    if (rc == 0)
        rc = store_write_rerunnable(s, rebuild_job, &rb, err);
    if (rc != 0) {
        struct err_info drop_err = {0};
        store_write(s, tables_drop_next, NULL, &drop_err);
    }
    rb.st.commit_s = (double)(clock_mono_ns() - rb.job_end_ns) / 1e9;
    if (rc == 0)
        log_info("analytics rebuild events=%lld requests=%lld answers=%lld seconds=%.3f",
                 (long long)rb.st.n_events, (long long)rb.st.n_requests,
                 (long long)rb.st.n_answers, (double)(clock_mono_ns() - t0) / 1e9);
    if (out)
        *out = rb.st;
    rebuild_free(&rb);
    pthread_mutex_destroy(&rb.mu);
    pthread_cond_destroy(&rb.cond);
    return rc;
}
