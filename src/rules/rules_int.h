/*
 * rules_int.h - shared only inside src/rules: compiled rules and their
 * snapshot, the facts an event is judged on, sliding windows, the timer
 * heap, the job context the engine's writes run in, and the helpers the
 * SLA, escalation, routing, incident and notification files share.
 */
#ifndef OTKLIK_RULES_INT_H
#define OTKLIK_RULES_INT_H

#include "http/html.h"
#include "http/ratelimit.h"
#include "rules/rules.h"

#include "core/buf.h"
#include "core/mem.h"
#include "store/store.h"

#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- vocabulary ----------------------------------------------------------- */

/* Event types a rule may react to (index = bit in rule_cond.event_mask). */
extern const char *const rules_event_types[];
/* Index of type in rules_event_types, or -1. */
int rules_event_type_index(const char *type);

/* Escalation levels, lowest first. */
extern const char *const rules_levels[];

/* Interned region names (bit in rule_cond.region_mask); -1 when full or NULL. */
int rules_region_intern(const char *name);

/* ---- facts: what a rule sees of one event --------------------------------- */

#define RULES_RECENT 16 /* customer's newest request times kept in facts */

struct rule_facts {
    int64_t event_id, at_ms;
    int64_t request_id, customer_id, order_id, store_id;
    int64_t created_at_ms;              /* of the request, 0 when none */
    int8_t type; /* rules_event_types index, -1 unknown */
    /* indexes into the model.h lists, -1 when none */
    int8_t channel, kind, status, priority, topic, sentiment, tier, order_status;
    int16_t region;
    int32_t open_requests;              /* the customer's open requests */
    int32_t n_recent;                   /* entries in recent_ms */
    int64_t recent_ms[RULES_RECENT];    /* creation times of the customer's requests, newest first */
    bool has_order_promise;
    int64_t order_late_ms;              /* at_ms - promised_at_ms of an open order */
    int64_t linked_waited_ms;           /* -1: no linked customer request */
    int64_t linked_customer_id;
    const char *text;                   /* case-folded text of the request/message, or NULL */
    size_t text_len;
};

/* Fill facts for an event from a read connection; strings live in arena a. */
int rules_facts_load(struct db *r, const struct event_row *ev, int64_t now_ms, struct arena *a,
                     struct rule_facts *f);

/* First event id in [lo, hi) at or after since_ms (hi when none), by binary search over
 * ids: event times follow ids. */
int64_t rules_first_id_since(struct db *r, int64_t lo, int64_t hi, int64_t since_ms);

/* ---- compiled rules ---------------------------------------------------------- */

enum window_per { PER_ALL, PER_STORE, PER_CUSTOMER, PER_REGION, PER_REQUEST };

#define RULE_MAX_LIST 16
#define RULE_MAX_WINDOW_COUNT 100

struct rule_cond {
    uint64_t event_mask; /* never 0 after compiling */
    uint32_t channel_mask, kind_mask, status_mask, priority_mask, topic_mask, sentiment_mask,
        tier_mask, order_status_mask; /* 0: any */
    uint64_t region_mask;             /* 0: any */
    int64_t stores[RULE_MAX_LIST];
    int n_stores;
    int32_t open_requests_gte;  /* -1: no condition */
    int32_t repeat_days, repeat_gte; /* repeat_gte 0: no condition */
    bool has_order_late;
    int64_t order_late_gte_ms;
    bool has_linked_waited;
    int64_t linked_waited_gte_ms;
    char *contains[RULE_MAX_LIST]; /* case-folded, any of them */
    size_t contains_len[RULE_MAX_LIST];
    int n_contains;
    bool has_regex;
    regex_t re;
    int32_t window_count; /* 0: no window */
    int64_t window_ms;
    enum window_per window_per;
};

enum action_type {
    ACT_SET_PRIORITY, ACT_SET_QUEUE, ACT_SET_ASSIGNEE, ACT_ADD_TAGS, ACT_SET_STATUS,
    ACT_NOTIFY, ACT_ESCALATE, ACT_CREATE_TASK, ACT_MESSAGE_CUSTOMER, ACT_COMPENSATE,
    ACT_SURVEY, ACT_WEBHOOK,
};

struct rule_action {
    enum action_type type;
    char *value;   /* priority, queue, status, role, level, department, survey, url */
    char *text;    /* template, reason, title */
    int64_t num;   /* user id, points */
    char *tags[RULE_MAX_LIST];
    int n_tags;
};

struct rule {
    int64_t id;
    int version, position;
    char *name;
    struct rule_cond cond;
    struct rule_action *actions;
    int n_actions;
};

#define RULES_N_TYPES 24

/* An immutable, reference-counted set of enabled rules, in evaluation order. */
struct rule_set {
    atomic_int refs;
    uint64_t generation;
    struct rule **rules;
    int n_rules;
    int *by_type[RULES_N_TYPES]; /* rule indexes per event type, in order */
    int n_by_type[RULES_N_TYPES];
};

/*
 * Compile one rule definition (the JSON object saved through the API).
 * r resolves store codes, user logins and departments (NULL: those fail).
 * ERR_INVALID with err->field the JSON path of the bad part ("when.topic[1]").
 * *out is owned by the caller (rule_free).
 */
int rule_compile(const json_t *def, struct db *r, struct rule **out, struct err_info *err);
void rule_free(struct rule *rule);

/* A set from compiled rules (ownership moves in; sorted by position, id). refs = 1. */
struct rule_set *rule_set_new(struct rule **rules, int n, uint64_t generation);
void rule_set_release(struct rule_set *set);

/* Does the rule's condition hold, windows apart? Allocates nothing. */
bool rule_cond_match(const struct rule_cond *c, const struct rule_facts *f);

/* ---- sliding windows --------------------------------------------------------- */

struct win_table;
struct win_table *win_new(int32_t count);
void win_free(struct win_table *w);
/*
 * Record a matching event and tell whether the rule's window now holds
 * count events within window_ms; a hit empties the key's window so the next
 * hit needs count new events.  An event id seen before is not counted twice.
 */
bool win_hit(struct win_table *w, const struct rule_cond *c, const struct rule_facts *f);

/*
 * Evaluate every rule of set for the facts, in order; the indexes of the
 * rules that matched go to out (at most cap).  wins[i] is rule i's window
 * table (NULL entries or wins NULL: window rules never match).
 */
int rules_eval(const struct rule_set *set, const struct rule_facts *f, struct win_table **wins,
               int *out, int cap);

/* ---- timers ------------------------------------------------------------------- */

struct timer_ent {
    int64_t due_at_ms;
    int64_t id;
};

struct timer_heap {
    pthread_mutex_t mu;
    struct timer_ent *v;
    size_t n, cap;
};

void theap_init(struct timer_heap *h);
void theap_free(struct timer_heap *h);
void theap_push(struct timer_heap *h, int64_t due_at_ms, int64_t id);
/* Earliest due time, INT64_MAX when empty. */
int64_t theap_peek(struct timer_heap *h);
/* Pop up to cap entries due at or before now_ms into out; returns how many. */
size_t theap_pop_due(struct timer_heap *h, int64_t now_ms, struct timer_ent *out, size_t cap);
/* Load every pending timer (one ordered index scan, no sort). */
int theap_load(struct timer_heap *h, struct db *r, struct err_info *err);

/* ---- the part's state ----------------------------------------------------------- */

struct sla_policies; /* sla.c */
struct engine;       /* engine.c */
struct cal_cache;    /* sla.c */

struct rules {
    struct app *app;
    struct store *store;
    pthread_t thread;
    bool has_thread;
    atomic_bool is_stopping;
    pthread_mutex_t mu;            /* guards set, policies */
    struct rule_set *set;          /* the current snapshot */
    uint64_t generation;
    struct sla_policies *policies; /* reference-counted like set */
    struct cal_cache *cals;
    struct timer_heap heap;
    unsigned char qr_key[32];      /* crypto_auth key of QR links */
    struct rate_limiter *limiter;  /* public QR endpoint, per client address */
    struct rate_limiter *poster_limiter; /* public QR endpoint, per poster (ten-minute windows) */
    atomic_int_fast64_t last_processed_id; /* engine progress, for tests and /metrics */
    bool poke_jobs;                /* wake the scheduler when a sooner timer appears */
    struct engine *engine;         /* the consumer's batch state and windows (engine.c) */
};

/* The state of the part an app started (NULL before rules_start). */
struct rules *rules_of(struct app *app);

/* Take a reference to the current snapshot; release with rule_set_release. */
struct rule_set *rules_acquire(struct rules *R);
/* Recompile the snapshot from the rules table and swap it in. */
int rules_reload(struct rules *R, struct err_info *err);

/* ---- the engine's write job context --------------------------------------------- */

struct timer_new {
    int64_t id, due_at_ms;
};

struct rules_job {
    struct rules *R;
    struct store_tx *tx;
    struct arena *a;
    int64_t now_ms;
    bool is_late;       /* the event is handled after downtime */
    int64_t delay_ms;   /* how late */
    struct timer_new *timers; /* inserted in this job, pushed to the heap after commit */
    size_t n_timers, cap_timers;
    struct req_info *ri;      /* job_req_info's last read (arena), valid while the */
    int64_t ri_changes;       /* connection's change count is still this */
};

/* Insert a timer row; it joins the heap once the job commits. */
int job_timer_add(struct rules_job *j, const char *kind, int64_t request_id, int64_t order_id,
                  const char *ref, int64_t due_at_ms, struct err_info *err);
/* Cancel pending timers of a request of kind (and ref when not NULL). */
int job_timer_cancel(struct rules_job *j, int64_t request_id, const char *kind, const char *ref,
                     struct err_info *err);
/* Add an event from the machine; "late"/"delay_s" are added to data when j is late. */
int job_event(struct rules_job *j, const char *type, int64_t request_id, int64_t customer_id,
              int64_t order_id, int64_t store_id, const char *actor, json_t *data,
              struct err_info *err);
/* The same with data as the text of a JSON object, compact as json_dumps writes it
 * (job_event writes its data so and comes here). */
int job_event_text(struct rules_job *j, const char *type, int64_t request_id,
                   int64_t customer_id, int64_t order_id, int64_t store_id, const char *actor,
                   struct buf *data, struct err_info *err);

struct req_info;

/*
 * Run fn in a store job with a machine context (API actions that escalate,
 * notify, arm timers); new timers join the heap after the commit.  R may be
 * NULL when the part is not started (timers then wait for the next start).
 */
int rules_run_job(struct rules *R, struct store *s, struct arena *a,
                  int (*fn)(struct rules_job *j, void *arg, struct err_info *err), void *arg,
                  struct err_info *err);

/* Stop a request's escalation: why "confirmed" or "resolved". */
int esc_stop(struct rules_job *j, const struct req_info *ri, const char *why, const char *actor,
             struct err_info *err);

/* Can an operator with these skills take the request? */
bool routing_can_take(struct db *db, const char *skills, const struct req_info *ri);

/* Minimal facts of a request for the machine's own decisions. */
struct req_info {
    int64_t id, customer_id, store_id, order_id, assignee_id, created_at_ms;
    char channel[16], kind[16], status[16], priority[16], topic[32], tier[16];
    char region[64], store_code[64];
};
/* Load a request through the job's connection; ERR_NOTFOUND when absent. */
int req_info_load(struct db *db, int64_t id, struct req_info *out);
/* The same inside a machine job, read again only when something was written since. */
int job_req_info(struct rules_job *j, int64_t id, struct req_info *out);

/* The hooks each event passes through; *_wants says which events a hook acts on,
 * so the others pass by without a savepoint or a read. */
bool sla_wants(const struct event_row *ev);
bool esc_wants(const struct event_row *ev);
bool routing_wants(const struct event_row *ev);
bool incident_wants(const struct event_row *ev);

/* sla.c */
int sla_on_event(struct rules_job *j, const struct event_row *ev, struct err_info *err);
int sla_timer_fire(struct rules_job *j, const char *kind, int64_t request_id, const char *ref,
                   int64_t due_at_ms, struct err_info *err);
void sla_policies_release(struct sla_policies *p);
/* The calendar for code in zone ("" keeps its own); lives until the part stops; NULL: 24x7. */
struct calendar;
const struct calendar *sla_calendar(struct rules *R, struct db *db, const char *code,
                                    const char *zone);
/* Forget parsed calendars (one was saved). */
void cal_cache_bump(struct cal_cache *c);
int sla_reload(struct rules *R, struct err_info *err);
void cal_cache_free(struct cal_cache *c);

/* escalation.c */
int esc_on_event(struct rules_job *j, const struct event_row *ev, struct err_info *err);
/* Start (level NULL: the matrix's first level) or move to level; reason is shown. */
int esc_raise(struct rules_job *j, int64_t request_id, const char *level, const char *reason,
              const char *actor, struct err_info *err);
int esc_timer_fire(struct rules_job *j, int64_t request_id, const char *ref,
                   struct err_info *err);

/* notify.c: notify the people of role for the request's store/region (or one user). */
int notify_role(struct rules_job *j, const char *role, int64_t user_id, int64_t request_id,
                int64_t store_id, const char *kind, const char *title, const char *actor,
                struct err_info *err);

/* routing.c */
int routing_on_event(struct rules_job *j, const struct event_row *ev, struct err_info *err);
/* Pick the operator for a request (0: none available). */
int64_t routing_pick(struct db *db, const struct req_info *ri, int64_t exclude_user_id);

/* incident.c */
int incident_on_event(struct rules_job *j, const struct event_row *ev, struct err_info *err);
int incident_timer_fire(struct rules_job *j, int64_t order_id, int64_t due_at_ms,
                        struct err_info *err);

/* actions.c: run a matched rule's actions for the event (each undone alone on failure). */
int actions_run(struct rules_job *j, const struct rule *rule, const struct rule_facts *f,
                const struct event_row *ev, struct err_info *err);
/* Fill {order} {request} {store} {customer_name} in a template (arena string). */
const char *template_render(struct rules_job *j, const char *tpl, const struct rule_facts *f);

/* webhook.c */
/* secret (may be NULL): the body is signed with it, sent as X-Otklik-Signature. */
int webhook_enqueue(struct rules_job *j, int64_t rule_id, int64_t request_id, const char *url,
                    const char *body, const char *secret, struct err_info *err);

/* qr.c */
int qr_key_load(struct store *s, unsigned char key[32], struct err_info *err);
/* The signature of a store/checkout link, base64url (22 characters + NUL). */
void qr_sign(const unsigned char key[32], const char *store_code, int64_t checkout,
             char out[32]);
bool qr_verify(const unsigned char key[32], const char *store_code, int64_t checkout,
               const char *sig);

/* Escape text for HTML/XML text and quoted attributes (qr.c). */
struct buf;

/* ratelimit.c: fixed-window counters per key. */

#endif
