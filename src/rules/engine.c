/*
 * engine.c - the rules engine as a consumer of the event log.  One batch:
 * read up to BATCH events after the persisted cursor, load their facts and
 * evaluate the snapshot (outside the writer), then one store job applies
 * SLA, escalation, routing, incident and rule consequences and saves the
 * cursor - all or nothing.  The worker thread sleeps on the live hub
 * between batches.  Window counts are rebuilt from the recent log at start.
 */
#include "rules/rules_int.h"

#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "jobs/jobs.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Events a batch reads at most.  Its job runs in the writer's transaction
 * beside new requests, which wait for it: 64 events (~16 new requests' clocks,
 * timers and routing) keep it near a millisecond; 256 made 3-5 ms jobs, the
 * longest waits of an intake at 10,000 requests/s. */
#define BATCH 64
#define MAX_MATCHES 32
#define LATE_MS 30000            /* handled this long after it happened: "late" */
#define HISTORY_MS 3600000       /* request created this long before its event: history */
#define CONSUMER "rules"
#define REBUILD_MAX_EVENTS 50000

struct ev_item {
    struct event_row row;
    struct rule_facts f;
    int matched[MAX_MATCHES];
    int n_matched;
};

struct engine {
    struct rule_set *set;      /* the snapshot the windows belong to */
    struct win_table **wins;   /* per rule of set, NULL without a window */
    struct arena arena;
    struct ev_item *items;
    size_t n_items;
};

static struct engine *engine_of(struct rules *R);

/* Forget every window count (the next sync_windows starts them empty). */
int rules_engine_rebuild_windows(struct rules *R);

static void drop_windows(struct engine *e)
{
    if (e->set) {
        for (int k = 0; k < e->set->n_rules; k++)
            win_free(e->wins[k]);
        rule_set_release(e->set);
    }
    free(e->wins);
    e->set = NULL;
    e->wins = NULL;
}

static void sync_windows(struct engine *e, struct rule_set *set)
{
    if (e->set == set) {
        rule_set_release(set);
        return;
    }
    struct win_table **wins = xcalloc((size_t)set->n_rules + 1, sizeof *wins);
    for (int i = 0; i < set->n_rules; i++) {
        const struct rule_cond *c = &set->rules[i]->cond;
        if (!c->window_count)
            continue;
        for (int k = 0; e->set && k < e->set->n_rules && !wins[i]; k++) {
            const struct rule *old = e->set->rules[k];
            if (e->wins[k] && old->id == set->rules[i]->id &&
                old->cond.window_count == c->window_count && old->cond.window_ms == c->window_ms &&
                old->cond.window_per == c->window_per) {
                wins[i] = e->wins[k]; /* the count carries over an edit of other parts */
                e->wins[k] = NULL;
            }
        }
        if (!wins[i])
            wins[i] = win_new(c->window_count);
    }
    drop_windows(e);
    e->set = set;
    e->wins = wins;
}

static int copy_event(void *ctx, const struct event_row *ev)
{
    struct engine *e = ctx;
    struct ev_item *it = &e->items[e->n_items++];
    memset(it, 0, sizeof *it);
    it->row = *ev;
    it->row.type = arena_strdup(&e->arena, ev->type);
    it->row.actor = ev->actor ? arena_strdup(&e->arena, ev->actor) : NULL;
    it->row.data = arena_strdup(&e->arena, ev->data ? ev->data : "{}");
    return 0;
}

/* Events the rules judge: not written by a rule, not imported history. */
static bool is_judged(const struct ev_item *it)
{
    if (it->row.actor && strncmp(it->row.actor, "rule:", 5) == 0)
        return false;
    if (strcmp(it->row.type, "request.created") == 0 && it->f.created_at_ms &&
        it->row.at_ms - it->f.created_at_ms > HISTORY_MS)
        return false;
    return true;
}

/*
 * A batch's hooks and actions run straight in the job, without a savepoint
 * each (a savepoint copies every page it is the first to touch, which costs
 * as much as an SLA clock's writes).  One that fails having written nothing
 * is logged and skipped.  One that fails after writing fails the job (the
 * store undoes it whole), and the batch runs again carefully: each hook and
 * action in a savepoint of its own, so a failure is undone alone.
 */
struct batch_job {
    struct rules *R;
    struct engine *e;
    int64_t last_id;
    struct rules_job j;
    bool is_careful;    /* a savepoint per hook and action */
    bool is_redo_owed;  /* the fast run failed after writing: run carefully */
};

typedef int (*hook_fn)(struct rules_job *j, const struct event_row *ev, struct err_info *err);

/* Run one hook or action (fn, or actions_run for rule when fn is NULL);
 * false when the job must stop and run again carefully. */
static bool run_part(struct batch_job *b, hook_fn fn, const struct rule *rule,
                     const struct ev_item *it)
{
    struct rules_job *j = &b->j;
    struct err_info perr = {0};
    sqlite3 *h = db_handle(store_tx_db(j->tx));
    int64_t changes = sqlite3_total_changes64(h);
    struct tx_mark mark = {0};
    if (b->is_careful)
        mark = store_tx_part_begin(j->tx);
    size_t n_timers = j->n_timers;
    int rc = fn ? fn(j, &it->row, &perr) : actions_run(j, rule, &it->f, &it->row, &perr);
    if (b->is_careful)
        store_tx_part_end(j->tx, mark, rc == 0);
    if (rc == 0)
        return true;
    if (!b->is_careful && sqlite3_total_changes64(h) != changes) {
        b->is_redo_owed = true;
        return false;
    }
    j->n_timers = n_timers; /* their rows are undone, or were never written */
    if (rule)
        log_warn("rules rule=%lld event=%lld msg=\"%s\"", (long long)rule->id,
                 (long long)it->row.id, perr.message);
    else
        log_warn("rules hook event=%lld code=%s msg=\"%s\"", (long long)it->row.id,
                 err_str(rc), perr.message);
    return true;
}

static int job_batch(struct store_tx *tx, void *arg, struct err_info *err)
{
    static const struct {
        bool (*wants)(const struct event_row *ev);
        hook_fn fn;
    } hooks[] = {{sla_wants, sla_on_event},
                 {esc_wants, esc_on_event},
                 {routing_wants, routing_on_event},
                 {incident_wants, incident_on_event}};
    struct batch_job *b = arg;
    struct rules_job *j = &b->j;
    j->tx = tx;
    j->n_timers = 0;
    j->ri = NULL;
    bool ok = true;
    for (size_t i = 0; ok && i < b->e->n_items; i++) {
        struct ev_item *it = &b->e->items[i];
        j->delay_ms = j->now_ms - it->row.at_ms;
        j->is_late = j->delay_ms > LATE_MS;
        for (size_t k = 0; ok && k < sizeof hooks / sizeof hooks[0]; k++)
            if (hooks[k].wants(&it->row))
                ok = run_part(b, hooks[k].fn, NULL, it);
        for (int k = 0; ok && k < it->n_matched; k++)
            ok = run_part(b, NULL, b->e->set->rules[it->matched[k]], it);
    }
    j->is_late = false;
    if (!ok)
        return err_set(err, ERR_CONFLICT, "", "a rule hook failed after writing");
    return store_consumer_save(tx, CONSUMER, b->last_id, err);
}

/* After a commit: the new timers join the heap; a sooner one wakes the scheduler. */
static void publish_timers(struct rules *R, struct rules_job *j)
{
    int64_t top = theap_peek(&R->heap);
    bool sooner = false;
    for (size_t i = 0; i < j->n_timers; i++) {
        theap_push(&R->heap, j->timers[i].due_at_ms, j->timers[i].id);
        sooner = sooner || j->timers[i].due_at_ms < top;
    }
    if (sooner && R->poke_jobs)
        jobs_poke();
}

/* One batch; returns events processed (0: none waiting) or a negative ERR_*. */
static int engine_batch(struct rules *R, struct err_info *err)
{
    struct engine *e = engine_of(R);
    arena_reset(&e->arena);
    e->n_items = 0;
    struct db *r = store_reader(R->store);
    int64_t cursor = store_consumer_position(r, CONSUMER), last = cursor;
    int rc = store_events_since(r, cursor, BATCH, copy_event, e, &last);
    if (rc != 0 || e->n_items == 0) {
        store_reader_done(R->store, r);
        return rc;
    }
    sync_windows(e, rules_acquire(R));
    int64_t now = clock_now_ms();
    for (size_t i = 0; i < e->n_items; i++) {
        struct ev_item *it = &e->items[i];
        /* Facts cost several reads: only for events some rule is about. */
        int type = rules_event_type_index(it->row.type);
        if (type < 0 || e->set->n_by_type[type] == 0)
            continue;
        rules_facts_load(r, &it->row, now, &e->arena, &it->f);
        if (is_judged(it))
            it->n_matched = rules_eval(e->set, &it->f, e->wins, it->matched, MAX_MATCHES);
    }
    store_reader_done(R->store, r);
    struct batch_job b = {.R = R, .e = e, .last_id = last,
                          .j = {.R = R, .a = &e->arena, .now_ms = now}};
    rc = store_write_background(R->store, job_batch, &b, err);
    if (rc != 0 && b.is_redo_owed) { /* undone whole: again, a savepoint a part */
        memset(err, 0, sizeof *err);
        b.is_careful = true;
        rc = store_write_background(R->store, job_batch, &b, err);
    }
    if (rc == 0) {
        publish_timers(R, &b.j);
        atomic_store(&R->last_processed_id, last);
    } else {
        /* The batch's hits were counted in the windows but it did not commit, and it
         * will be evaluated again: recount the windows from the committed log. */
        drop_windows(e);
        rules_engine_rebuild_windows(R);
    }
    free(b.j.timers);
    return rc == 0 ? (int)e->n_items : rc;
}

int rules_engine_drain(struct app *app, struct err_info *err)
{
    struct rules *R = rules_of(app);
    int total = 0, n;
    while ((n = engine_batch(R, err)) > 0)
        total += n;
    return n < 0 ? n : total;
}

static void noop(void *ctx, const struct hub_event *ev)
{
    (void)ctx;
    (void)ev;
}

void *rules_engine_main(void *arg);
void *rules_engine_main(void *arg)
{
    struct rules *R = arg;
    pthread_setname_np(pthread_self(), "otklik-rules");
    while (!atomic_load(&R->is_stopping)) {
        struct err_info err = {0};
        int n = engine_batch(R, &err);
        if (n < 0) {
            /* The batch is retried as it was; newer events would wake us at once. */
            log_error("rules engine code=%s msg=\"%s\"", err_str(n), err.message);
            struct timespec pause = {1, 0};
            nanosleep(&pause, NULL);
            continue;
        }
        if (n > 0)
            continue; /* our own batch wrote events: look again before sleeping */
        if (store_hub_wait(R->store, atomic_load(&R->last_processed_id), n < 0 ? 1000 : 500, noop,
                           NULL) < 0)
            break;
    }
    return NULL;
}

/* ---- start-up ------------------------------------------------------------------- */

static int job_cursor(struct store_tx *tx, void *arg, struct err_info *err)
{
    return store_consumer_save(tx, CONSUMER, *(int64_t *)arg, err);
}

/* A first start begins at the end of the log: history is not acted on. */
int rules_engine_init(struct rules *R, struct err_info *err);
int rules_engine_init(struct rules *R, struct err_info *err)
{
    struct db *r = store_reader(R->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT (SELECT COUNT(*) FROM consumers WHERE name = 'rules'), "
                                  "COALESCE((SELECT MAX(id) FROM events), 0)");
    int64_t known = 0, max_id = 0;
    if (db_step(r, st, NULL) == 1) {
        known = db_col_i64(st, 0);
        max_id = db_col_i64(st, 1);
    }
    sqlite3_reset(st);
    int64_t cursor = known ? store_consumer_position(r, CONSUMER) : max_id;
    store_reader_done(R->store, r);
    atomic_store(&R->last_processed_id, cursor);
    if (!known)
        return store_write_background(R->store, job_cursor, &cursor, err);
    return 0;
}

int64_t rules_first_id_since(struct db *r, int64_t lo, int64_t hi, int64_t since_ms)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT id, at_ms FROM events WHERE id >= $1 ORDER BY id LIMIT 1");
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, at = INT64_MAX, id = hi;
        db_bind_i64(st, 1, mid);
        if (db_step(r, st, NULL) == 1) {
            id = db_col_i64(st, 0);
            at = db_col_i64(st, 1);
        }
        sqlite3_reset(st);
        if (at >= since_ms)
            hi = mid;
        else
            lo = id + 1 > mid + 1 ? id + 1 : mid + 1;
    }
    return lo;
}

struct rebuild {
    struct engine *e;
    struct db *r;
    int64_t now_ms;
};

static int rebuild_one(void *ctx, const struct event_row *ev)
{
    struct rebuild *rb = ctx;
    struct engine *e = rb->e;
    struct rule_facts f;
    arena_reset(&e->arena);
    rules_facts_load(rb->r, ev, rb->now_ms, &e->arena, &f);
    if (f.type < 0 || (ev->actor && strncmp(ev->actor, "rule:", 5) == 0))
        return 0;
    for (int i = 0; i < e->set->n_rules; i++)
        if (e->wins[i] && rule_cond_match(&e->set->rules[i]->cond, &f))
            win_hit(e->wins[i], &e->set->rules[i]->cond, &f);
    return 0;
}

/* Refill the window counts from the events of the longest window before the cursor. */
int rules_engine_rebuild_windows(struct rules *R);
int rules_engine_rebuild_windows(struct rules *R)
{
    struct engine *e = engine_of(R);
    sync_windows(e, rules_acquire(R));
    int64_t longest = 0;
    for (int i = 0; i < e->set->n_rules; i++)
        if (e->set->rules[i]->cond.window_ms > longest)
            longest = e->set->rules[i]->cond.window_ms;
    int64_t cursor = atomic_load(&R->last_processed_id);
    if (longest == 0 || cursor == 0)
        return 0;
    struct db *r = store_reader(R->store);
    struct rebuild rb = {e, r, clock_now_ms()};
    int64_t start = rules_first_id_since(r, 1, cursor + 1, rb.now_ms - longest);
    if (cursor - start > REBUILD_MAX_EVENTS)
        start = cursor - REBUILD_MAX_EVENTS;
    int64_t after = start - 1, last = after;
    int rc = 0;
    while (rc == 0 && after < cursor) {
        rc = store_events_since(r, after, (int)(cursor - after < 1000 ? cursor - after : 1000),
                                rebuild_one, &rb, &last);
        if (last == after)
            break;
        after = last;
    }
    store_reader_done(R->store, r);
    return rc;
}

/* ---- the engine's private state, owned by the part ----------------------------- */

static struct engine *engine_of(struct rules *R)
{
    if (R->engine == NULL) {
        struct engine *e = xcalloc(1, sizeof *e);
        arena_init(&e->arena, 0);
        e->items = xcalloc(BATCH, sizeof *e->items);
        R->engine = e;
    }
    return R->engine;
}

void rules_engine_free(struct rules *R);
void rules_engine_free(struct rules *R)
{
    struct engine *e = R->engine;
    if (e == NULL)
        return;
    drop_windows(e);
    free(e->items);
    arena_free(&e->arena);
    free(e);
    R->engine = NULL;
}
