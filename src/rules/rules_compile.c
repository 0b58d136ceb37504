/*
 * rules_compile.c - from a rule's JSON definition to the compiled form the
 * evaluator runs: list conditions become bit masks over the vocabulary,
 * store codes become ids, texts are case-folded, and every bad part is
 * refused with its JSON path ("when.topic[2]", "actions[1].points").
 *
 *   {"when": {"event": ["request.created"], "channel": ["qr"],
 *             "topic": ["checkout_queue"], "window": {"count": 5, "minutes": 10,
 *             "per": "store"}},
 *    "actions": [{"type": "notify", "role": "store_director"}]}
 */
#include "rules/rules_int.h"

#include "core/str.h"
#include "store/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

const char *const rules_event_types[] = {
    "request.created",   "request.classified", "request.status_changed", "request.reopened",
    "request.priority_changed", "request.topic_corrected", "request.queue_changed",
    "request.assigned",  "message.in",         "message.out",   "message.note",
    "order.status_changed", "order.late",      "sla.warning",   "sla.breached",
    "escalation.raised", "survey.answered",    NULL,
};

const char *const rules_levels[] = {
    "operator", "supervisor", "store_director", "regional_manager", "department_head",
    "executive", NULL,
};

int rules_event_type_index(const char *type)
{
    return model_find(rules_event_types, type);
}

static pthread_mutex_t region_mu = PTHREAD_MUTEX_INITIALIZER;
static char *regions[64];
static int n_regions;

int rules_region_intern(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return -1;
    int found = -1;
    pthread_mutex_lock(&region_mu);
    for (int i = 0; i < n_regions && found < 0; i++)
        if (strcmp(regions[i], name) == 0)
            found = i;
    if (found < 0 && n_regions < 64) {
        regions[n_regions] = xstrdup(name);
        found = n_regions++;
    }
    pthread_mutex_unlock(&region_mu);
    return found;
}

/* Case-folded copy (heap) of s, or NULL for invalid UTF-8. */
static char *fold(const char *s, size_t *len)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &out,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                          UTF8PROC_CASEFOLD);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return (char *)out;
}

struct cctx {
    struct db *r;
    struct err_info *err;
    char path[64];
};

static int bad(struct cctx *c, const char *fmt, const char *detail)
{
    return err_set(c->err, ERR_INVALID, c->path, fmt, detail);
}

/* A list of strings from a vocabulary as a mask. */
static int mask_of(struct cctx *c, const json_t *when, const char *key,
                   const char *const *values, uint64_t *mask)
{
    const json_t *v = json_object_get(when, key);
    *mask = 0;
    if (v == NULL)
        return 0;
    snprintf(c->path, sizeof c->path, "when.%s", key);
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 64)
        return bad(c, "%s must be a non-empty list of values", key);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const char *s = json_string_value(json_array_get(v, i));
        int k = model_find(values, s);
        if (k < 0) {
            snprintf(c->path, sizeof c->path, "when.%s[%zu]", key, i);
            return err_set(c->err, ERR_INVALID, c->path, "unknown %s '%.40s'", key,
                           s ? s : "(not a string)");
        }
        *mask |= 1ull << k;
    }
    return 0;
}

static int int_of(struct cctx *c, const json_t *obj, const char *prefix, const char *key,
                  int64_t min, int64_t max, int64_t *out, bool *has)
{
    const json_t *v = json_object_get(obj, key);
    *has = v != NULL;
    *out = 0;
    if (v == NULL)
        return 0;
    snprintf(c->path, sizeof c->path, "%s%s", prefix, key);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return err_set(c->err, ERR_INVALID, c->path, "%s must be a whole number from %lld to %lld",
                       key, (long long)min, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

static int compile_lists(struct cctx *c, const json_t *when, struct rule_cond *rc)
{
    uint64_t m;
    int rc_ = 0;
    if ((rc_ = mask_of(c, when, "event", rules_event_types, &rc->event_mask)) != 0)
        return rc_;
    if (rc->event_mask == 0) {
        snprintf(c->path, sizeof c->path, "when.event");
        return bad(c, "%s: name at least one event type", "when.event");
    }
#define MASK(key, list, field)                                                                     \
    if ((rc_ = mask_of(c, when, key, list, &m)) != 0)                                              \
        return rc_;                                                                                \
    rc->field = (uint32_t)m;
    MASK("channel", model_channels, channel_mask)
    MASK("kind", model_kinds, kind_mask)
    MASK("status", model_statuses, status_mask)
    MASK("priority", model_priorities, priority_mask)
    MASK("topic", model_topics, topic_mask)
    MASK("sentiment", model_sentiments, sentiment_mask)
    MASK("tier", model_tiers, tier_mask)
    MASK("order_status", model_order_statuses, order_status_mask)
#undef MASK
    const json_t *v = json_object_get(when, "store");
    if (v != NULL) {
        snprintf(c->path, sizeof c->path, "when.store");
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > RULE_MAX_LIST)
            return bad(c, "%s must be a list of 1 to 16 store codes", "store");
        for (size_t i = 0; i < json_array_size(v); i++) {
            const char *code = json_string_value(json_array_get(v, i));
            int64_t id = code && c->r ? store_store_id(c->r, code) : 0;
            snprintf(c->path, sizeof c->path, "when.store[%zu]", i);
            if (id == 0)
                return bad(c, "unknown store code '%.40s'", code ? code : "(not a string)");
            rc->stores[rc->n_stores++] = id;
        }
    }
    v = json_object_get(when, "region");
    if (v != NULL) {
        snprintf(c->path, sizeof c->path, "when.region");
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > RULE_MAX_LIST)
            return bad(c, "%s must be a list of 1 to 16 region names", "region");
        for (size_t i = 0; i < json_array_size(v); i++) {
            int k = rules_region_intern(json_string_value(json_array_get(v, i)));
            snprintf(c->path, sizeof c->path, "when.region[%zu]", i);
            if (k < 0)
                return bad(c, "%s: a region name is needed", "region");
            rc->region_mask |= 1ull << k;
        }
    }
    return 0;
}

static int compile_text(struct cctx *c, const json_t *when, struct rule_cond *rc)
{
    const json_t *v = json_object_get(when, "text_contains");
    if (v != NULL) {
        snprintf(c->path, sizeof c->path, "when.text_contains");
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > RULE_MAX_LIST)
            return bad(c, "%s must be a list of 1 to 16 phrases", "text_contains");
        for (size_t i = 0; i < json_array_size(v); i++) {
            const char *s = json_string_value(json_array_get(v, i));
            snprintf(c->path, sizeof c->path, "when.text_contains[%zu]", i);
            size_t len = 0;
            char *f = s && s[0] && strlen(s) <= 200 ? fold(s, &len) : NULL;
            if (f == NULL || len == 0) {
                free(f);
                return bad(c, "%s: a phrase of 1 to 200 bytes of UTF-8 is needed", "text");
            }
            rc->contains[rc->n_contains] = f;
            rc->contains_len[rc->n_contains++] = len;
        }
    }
    v = json_object_get(when, "text_matches");
    if (v != NULL) {
        snprintf(c->path, sizeof c->path, "when.text_matches");
        const char *s = json_string_value(v);
        if (s == NULL || s[0] == '\0' || strlen(s) > 500)
            return bad(c, "%s must be a regular expression of 1 to 500 bytes", "text_matches");
        size_t len;
        char *f = fold(s, &len);
        int e = f ? regcomp(&rc->re, f, REG_EXTENDED | REG_NOSUB) : REG_BADPAT;
        free(f);
        if (e != 0) {
            char msg[128] = "";
            if (f)
                regerror(e, &rc->re, msg, sizeof msg);
            return bad(c, "not a valid extended regular expression: %s", msg);
        }
        rc->has_regex = true;
    }
    return 0;
}

static int compile_numbers(struct cctx *c, const json_t *when, struct rule_cond *rc)
{
    int64_t n;
    bool has;
    int e;
    rc->open_requests_gte = -1;
    if ((e = int_of(c, when, "when.", "open_requests_gte", 0, 1000, &n, &has)) != 0)
        return e;
    if (has)
        rc->open_requests_gte = (int32_t)n;
    if ((e = int_of(c, when, "when.", "order_late_minutes_gte", -100000, 100000, &n, &has)) != 0)
        return e;
    rc->has_order_late = has;
    rc->order_late_gte_ms = n * 60000;
    if ((e = int_of(c, when, "when.", "linked_waited_minutes_gte", 0, 1000000, &n, &has)) != 0)
        return e;
    rc->has_linked_waited = has;
    rc->linked_waited_gte_ms = n * 60000;
    const json_t *rep = json_object_get(when, "repeat_contacts");
    if (rep != NULL) {
        snprintf(c->path, sizeof c->path, "when.repeat_contacts");
        if (!json_is_object(rep) || json_object_size(rep) != 2)
            return bad(c, "%s must be {\"days\": N, \"gte\": K}", "repeat_contacts");
        if ((e = int_of(c, rep, "when.repeat_contacts.", "days", 1, 365, &n, &has)) != 0)
            return e;
        rc->repeat_days = (int32_t)n;
        if ((e = int_of(c, rep, "when.repeat_contacts.", "gte", 2, RULES_RECENT, &n, &has)) != 0)
            return e;
        rc->repeat_gte = (int32_t)n;
        if (rc->repeat_days == 0 || rc->repeat_gte == 0)
            return bad(c, "%s must be {\"days\": N, \"gte\": K}", "repeat_contacts");
    }
    const json_t *w = json_object_get(when, "window");
    if (w != NULL) {
        snprintf(c->path, sizeof c->path, "when.window");
        if (!json_is_object(w))
            return bad(c, "%s must be {\"count\": N, \"minutes\": M, \"per\": ...}", "window");
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)w, key, val)
        {
            (void)val;
            if (strcmp(key, "count") && strcmp(key, "minutes") && strcmp(key, "per")) {
                snprintf(c->path, sizeof c->path, "when.window.%.30s", key);
                return bad(c, "unknown field '%.30s'", key);
            }
        }
        if ((e = int_of(c, w, "when.window.", "count", 2, RULE_MAX_WINDOW_COUNT, &n, &has)) != 0)
            return e;
        rc->window_count = (int32_t)n;
        if ((e = int_of(c, w, "when.window.", "minutes", 1, 7 * 24 * 60, &n, &has)) != 0)
            return e;
        rc->window_ms = n * 60000;
        if (rc->window_count == 0 || rc->window_ms == 0) {
            snprintf(c->path, sizeof c->path, "when.window");
            return bad(c, "%s needs count and minutes", "window");
        }
        static const char *const pers[] = {"all", "store", "customer", "region", "request", NULL};
        const char *per = json_string_value(json_object_get(w, "per"));
        int k = per ? model_find(pers, per) : 0;
        if (k < 0) {
            snprintf(c->path, sizeof c->path, "when.window.per");
            return bad(c, "per must be all, store, customer, region or request, not '%.20s'",
                       per);
        }
        rc->window_per = (enum window_per)k;
    }
    return 0;
}

static const char *const when_keys[] = {
    "event",  "channel", "kind",  "status", "priority", "topic", "sentiment", "tier",
    "order_status", "store", "region", "open_requests_gte", "repeat_contacts",
    "order_late_minutes_gte", "linked_waited_minutes_gte", "text_contains", "text_matches",
    "window", NULL,
};

int rules_actions_compile(const json_t *actions, struct db *r, struct rule *rule,
                          struct err_info *err, char *path, size_t path_cap);

int rule_compile(const json_t *def, struct db *r, struct rule **out, struct err_info *err)
{
    struct cctx c = {.r = r, .err = err};
    if (!json_is_object(def))
        return err_set(err, ERR_INVALID, "definition", "a rule is a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)def, key, v)
    {
        (void)v;
        if (strcmp(key, "when") && strcmp(key, "actions"))
            return err_set(err, ERR_INVALID, key, "unknown field '%.40s'", key);
    }
    const json_t *when = json_object_get(def, "when");
    if (!json_is_object(when))
        return err_set(err, ERR_INVALID, "when", "when must be an object of conditions");
    json_object_foreach((json_t *)when, key, v)
    {
        (void)v;
        if (model_find(when_keys, key) < 0) {
            snprintf(c.path, sizeof c.path, "when.%.40s", key);
            return err_set(err, ERR_INVALID, c.path, "unknown condition '%.40s'", key);
        }
    }
    struct rule *rule = xcalloc(1, sizeof *rule);
    int rc = compile_lists(&c, when, &rule->cond);
    if (rc == 0)
        rc = compile_numbers(&c, when, &rule->cond);
    if (rc == 0)
        rc = compile_text(&c, when, &rule->cond);
    if (rc == 0)
        rc = rules_actions_compile(json_object_get(def, "actions"), r, rule, err, c.path,
                                   sizeof c.path);
    if (rc != 0) {
        rule_free(rule);
        return rc;
    }
    *out = rule;
    return 0;
}

void rule_free(struct rule *rule)
{
    if (rule == NULL)
        return;
    for (int i = 0; i < rule->cond.n_contains; i++)
        free(rule->cond.contains[i]);
    if (rule->cond.has_regex)
        regfree(&rule->cond.re);
    for (int i = 0; i < rule->n_actions; i++) {
        free(rule->actions[i].value);
        free(rule->actions[i].text);
        for (int k = 0; k < rule->actions[i].n_tags; k++)
            free(rule->actions[i].tags[k]);
    }
    free(rule->actions);
    free(rule->name);
    free(rule);
}

static int by_position(const void *a, const void *b)
{
    const struct rule *x = *(struct rule *const *)a, *y = *(struct rule *const *)b;
    if (x->position != y->position)
        return x->position < y->position ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

struct rule_set *rule_set_new(struct rule **rules, int n, uint64_t generation)
{
    struct rule_set *set = xcalloc(1, sizeof *set);
    atomic_init(&set->refs, 1);
    set->generation = generation;
    set->rules = rules;
    set->n_rules = n;
    if (n > 0)
        qsort(rules, (size_t)n, sizeof *rules, by_position);
    for (int t = 0; t < RULES_N_TYPES; t++) {
        for (int i = 0; i < n; i++) {
            if (!(rules[i]->cond.event_mask & (1ull << t)))
                continue;
            if (set->by_type[t] == NULL)
                set->by_type[t] = xcalloc((size_t)n, sizeof(int));
            set->by_type[t][set->n_by_type[t]++] = i;
        }
    }
    return set;
}

void rule_set_release(struct rule_set *set)
{
    if (set == NULL || atomic_fetch_sub(&set->refs, 1) != 1)
        return;
    for (int i = 0; i < set->n_rules; i++)
        rule_free(set->rules[i]);
    for (int t = 0; t < RULES_N_TYPES; t++)
        free(set->by_type[t]);
    free(set->rules);
    free(set);
}
