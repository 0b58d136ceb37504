/*
 * actions.c - what a matched rule does: compiled from the rule's "actions"
 * list (validated with JSON paths) and run inside the engine's write job.
 * Each action runs in its own savepoint: a failing one is undone alone and
 * recorded as an event (rule.action_failed, or notice.failed when the
 * outbox cannot take a message), so one bad action never blocks the log.
 */
#include "rules/rules_int.h"

#include "channels/outbox.h"
#include "classify/text.h"
#include "core/buf.h"
#include "core/str.h"
#include "store/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const action_names[] = {
    "set_priority", "set_queue", "set_assignee", "add_tags", "set_status", "notify",
    "escalate", "create_task", "message_customer", "compensate", "survey", "webhook", NULL,
};

/* Allowed keys per action type (besides "type"). */
static const char *const action_keys[][4] = {
    {"value"}, {"value"}, {"user"}, {"tags"}, {"value"}, {"role", "user", "text"},
    {"level", "reason"}, {"department", "text"}, {"template"}, {"points", "reason"},
    {"survey"}, {"url", "secret"},
};

static char *str_member(const json_t *a, const char *key, size_t max)
{
    const char *s = json_string_value(json_object_get(a, key));
    if (s == NULL || s[0] == '\0' || strlen(s) > max || !utf8_valid(s, strlen(s)))
        return NULL;
    return xstrdup(s);
}

static int64_t user_by_login(struct db *r, const char *login)
{
    if (r == NULL)
        return 0;
    sqlite3_stmt *st = db_stmt(r, "SELECT id FROM users WHERE login = $1 AND is_active = 1");
    db_bind_text(st, 1, login, -1);
    int64_t id = db_step(r, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

static bool department_exists(struct db *r, const char *code)
{
    if (r == NULL)
        return false;
    sqlite3_stmt *st = db_stmt(r, "SELECT 1 FROM departments WHERE code = $1");
    db_bind_text(st, 1, code, -1);
    bool ok = db_step(r, st, NULL) == 1;
    sqlite3_reset(st);
    return ok;
}

static int compile_one(const json_t *a, struct db *r, struct rule_action *act, char *path,
                       size_t cap, size_t i, struct err_info *err)
{
#define FAIL(sub, ...)                                                                             \
    do {                                                                                           \
        snprintf(path, cap, "actions[%zu]%s", i, sub);                                             \
        return err_set(err, ERR_INVALID, path, __VA_ARGS__);                                       \
    } while (0)
    if (!json_is_object(a))
        FAIL("", "an action is an object with a type");
    const char *type = json_string_value(json_object_get(a, "type"));
    int t = model_find(action_names, type);
    if (t < 0)
        FAIL(".type", "unknown action type '%.40s'", type ? type : "(none)");
    act->type = (enum action_type)t;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)a, key, v)
    {
        (void)v;
        bool ok = strcmp(key, "type") == 0;
        for (int k = 0; k < 4 && !ok && action_keys[t][k]; k++)
            ok = strcmp(key, action_keys[t][k]) == 0;
        if (!ok) {
            snprintf(path, cap, "actions[%zu].%.30s", i, key);
            return err_set(err, ERR_INVALID, path, "unknown field '%.30s' for %s", key, type);
        }
    }
    switch (act->type) {
    case ACT_SET_PRIORITY:
    case ACT_SET_STATUS: {
        const char *const *list = act->type == ACT_SET_PRIORITY ? model_priorities : model_statuses;
        act->value = str_member(a, "value", 32);
        if (act->value == NULL || model_find(list, act->value) < 0)
            FAIL(".value", "value must be a %s", act->type == ACT_SET_PRIORITY ? "priority" : "status");
        break;
    }
    case ACT_SET_QUEUE:
        if ((act->value = str_member(a, "value", 64)) == NULL)
            FAIL(".value", "value must be a queue name of 1 to 64 bytes");
        break;
    case ACT_SET_ASSIGNEE:
        if ((act->value = str_member(a, "user", 64)) == NULL)
            FAIL(".user", "user must be a login or \"auto\"");
        if (strcmp(act->value, "auto") != 0 && (act->num = user_by_login(r, act->value)) == 0)
            FAIL(".user", "no active user '%.40s'", act->value);
        break;
    case ACT_ADD_TAGS: {
        const json_t *tags = json_object_get(a, "tags");
        if (!json_is_array(tags) || json_array_size(tags) == 0 ||
            json_array_size(tags) > RULE_MAX_LIST)
            FAIL(".tags", "tags must be a list of 1 to 16 tags");
        for (size_t k = 0; k < json_array_size(tags); k++) {
            char *tag = (char *)json_string_value(json_array_get(tags, k));
            if (tag == NULL || tag[0] == '\0' || strlen(tag) > 40 || !utf8_valid(tag, strlen(tag))) {
                snprintf(path, cap, "actions[%zu].tags[%zu]", i, k);
                return err_set(err, ERR_INVALID, path, "a tag has 1 to 40 bytes");
            }
            act->tags[act->n_tags++] = xstrdup(tag);
        }
        break;
    }
    case ACT_NOTIFY:
        act->value = str_member(a, "role", 32);
        if (act->value && model_find(rules_levels, act->value) < 0)
            FAIL(".role", "role must be one of the escalation levels, not '%.30s'", act->value);
        if (json_object_get(a, "user")) {
            char *login = str_member(a, "user", 64);
            act->num = login ? user_by_login(r, login) : 0;
            free(login);
            if (act->num == 0)
                FAIL(".user", "no such active user");
        }
        if ((act->value == NULL) == (act->num == 0))
            FAIL("", "notify needs either role or user");
        act->text = str_member(a, "text", 500);
        break;
    case ACT_ESCALATE:
        act->value = str_member(a, "level", 32);
        if (json_object_get(a, "level") && (act->value == NULL || model_find(rules_levels, act->value) < 0))
            FAIL(".level", "level must be one of operator .. executive");
        act->text = str_member(a, "reason", 300);
        break;
    case ACT_CREATE_TASK:
        act->value = str_member(a, "department", 64);
        if (act->value == NULL || !department_exists(r, act->value))
            FAIL(".department", "unknown department");
        if ((act->text = str_member(a, "text", 2000)) == NULL)
            FAIL(".text", "text of the task is required");
        break;
    case ACT_MESSAGE_CUSTOMER:
        if ((act->text = str_member(a, "template", 2000)) == NULL)
            FAIL(".template", "template is required (1 to 2000 bytes)");
        break;
    case ACT_COMPENSATE: {
        const json_t *p = json_object_get(a, "points");
        if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 100000)
            FAIL(".points", "points must be a whole number from 1 to 100000");
        act->num = json_integer_value(p);
        if ((act->text = str_member(a, "reason", 300)) == NULL)
            FAIL(".reason", "reason is required");
        break;
    }
    case ACT_SURVEY:
        if ((act->value = str_member(a, "survey", 64)) == NULL)
            FAIL(".survey", "survey name is required");
        break;
    case ACT_WEBHOOK:
        act->value = str_member(a, "url", 500);
        if (act->value == NULL || (strncmp(act->value, "https://", 8) != 0 &&
                                   strncmp(act->value, "http://", 7) != 0))
            FAIL(".url", "url must be an http(s) URL");
        /* Optional: the receiver checks X-Otklik-Signature, an HMAC-SHA256 of the body. */
        if (json_object_get(a, "secret") &&
            ((act->text = str_member(a, "secret", 200)) == NULL || strlen(act->text) < 16))
            FAIL(".secret", "secret must be a string of 16 to 200 characters");
        break;
    }
    return 0;
#undef FAIL
}

int rules_actions_compile(const json_t *actions, struct db *r, struct rule *rule,
                          struct err_info *err, char *path, size_t cap);

int rules_actions_compile(const json_t *actions, struct db *r, struct rule *rule,
                          struct err_info *err, char *path, size_t cap)
{
    if (!json_is_array(actions) || json_array_size(actions) == 0 || json_array_size(actions) > 16)
        return err_set(err, ERR_INVALID, "actions", "actions must be a list of 1 to 16 actions");
    rule->actions = xcalloc(json_array_size(actions), sizeof *rule->actions);
    for (size_t i = 0; i < json_array_size(actions); i++) {
        rule->n_actions = (int)i + 1;
        int rc = compile_one(json_array_get(actions, i), r, &rule->actions[i], path, cap, i, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- running ---------------------------------------------------------------------- */

const char *template_render(struct rules_job *j, const char *tpl, const struct rule_facts *f)
{
    struct db *db = store_tx_db(j->tx);
    struct buf b;
    buf_init(&b, 8192);
    for (const char *p = tpl; *p;) {
        const char *open = strchr(p, '{'), *close = open ? strchr(open, '}') : NULL;
        if (open == NULL || close == NULL) {
            buf_puts(&b, p);
            break;
        }
        buf_put(&b, p, (size_t)(open - p));
        struct str name = {open + 1, (size_t)(close - open - 1)};
        sqlite3_stmt *st = NULL;
        if (str_eq(name, "request")) {
            buf_printf(&b, "%lld", (long long)f->request_id);
        } else if (str_eq(name, "order")) {
            st = db_stmt(db, "SELECT external_id FROM orders WHERE id = $1");
            db_bind_i64(st, 1, f->order_id);
        } else if (str_eq(name, "store")) {
            st = db_stmt(db, "SELECT name FROM stores WHERE id = $1");
            db_bind_i64(st, 1, f->store_id);
        } else if (str_eq(name, "customer_name")) {
            st = db_stmt(db, "SELECT COALESCE(name, '') FROM customers WHERE id = $1");
            db_bind_i64(st, 1, f->customer_id);
        } else {
            buf_put(&b, open, (size_t)(close - open + 1));
        }
        if (st) {
            if (db_step(db, st, NULL) == 1)
                buf_puts(&b, db_col_text(st, 0));
            sqlite3_reset(st);
        }
        p = close + 1;
    }
    const char *out = arena_strdup(j->a, buf_cstr(&b));
    buf_free(&b);
    return out;
}

static int act_patch(struct rules_job *j, const struct rule_action *act, const struct rule_facts *f,
                     const char *actor, struct err_info *err)
{
    struct request_patch p = {.actor = actor};
    if (act->type == ACT_SET_PRIORITY)
        p.priority = act->value;
    else if (act->type == ACT_SET_QUEUE)
        p.queue = act->value;
    else if (act->type == ACT_SET_STATUS)
        p.status = act->value;
    else if (act->num)
        p.assignee_id = act->num;
    else {
        struct req_info ri;
        if (req_info_load(store_tx_db(j->tx), f->request_id, &ri) != 0)
            return err_set(err, ERR_NOTFOUND, "request", "no request");
        p.assignee_id = routing_pick(store_tx_db(j->tx), &ri, 0);
        if (p.assignee_id == 0)
            return err_set(err, ERR_UNAVAILABLE, "assignee", "no operator is available");
    }
    return store_request_patch(j->tx, f->request_id, &p, err);
}

static int act_tags(struct rules_job *j, const struct rule_action *act, const struct rule_facts *f,
                    const char *actor, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    json_t *tags = json_array();
    int rc = 0;
    for (int i = 0; i < act->n_tags && rc == 0; i++) {
        sqlite3_stmt *st = db_stmt(db, "INSERT INTO request_tags (request_id, tag, added_at_ms) "
                                       "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
        db_bind_i64(st, 1, f->request_id);
        db_bind_text(st, 2, act->tags[i], -1);
        db_bind_i64(st, 3, j->now_ms);
        rc = db_run(db, st, err);
        json_array_append_new(tags, json_string(act->tags[i]));
    }
    if (rc != 0) {
        json_decref(tags);
        return rc;
    }
    return job_event(j, "request.tagged", f->request_id, f->customer_id, 0, f->store_id, actor,
                     json_pack("{s:o}", "tags", tags), err);
}

static int act_task(struct rules_job *j, const struct rule_action *act, const struct rule_facts *f,
                    const struct event_row *ev, const char *actor, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    const char *text = template_render(j, act->text, f);
    char source[64];
    snprintf(source, sizeof source, "%s:ev%lld", actor, (long long)ev->id);
    const char *store_code = NULL, *order_ref = NULL;
    sqlite3_stmt *st = db_stmt(db, "SELECT code FROM stores WHERE id = $1");
    db_bind_i64(st, 1, f->store_id);
    if (db_step(db, st, NULL) == 1)
        store_code = arena_strdup(j->a, db_col_text(st, 0));
    sqlite3_reset(st);
    st = db_stmt(db, "SELECT external_id FROM orders WHERE id = $1");
    db_bind_i64(st, 1, f->order_id);
    if (db_step(db, st, NULL) == 1)
        order_ref = arena_strdup(j->a, db_col_text(st, 0));
    sqlite3_reset(st);
    struct buf terms;
    buf_init(&terms, 0);
    text_search_terms(text, strlen(text), &terms);
    struct request_in in = {
        .channel = "internal", .kind = "internal", .source_id = source,
        .store_code = store_code, .order_ref = order_ref,
        .subject = arena_printf(j->a, "Задача для отдела %s", act->value), .text = text,
        .search_terms = arena_strdup(j->a, buf_cstr(&terms)), .actor = actor,
    };
    buf_free(&terms);
    struct request_out out;
    int rc = store_request_create(j->tx, &in, &out, err);
    if (rc != 0 || out.is_duplicate)
        return rc;
    struct request_patch p = {.queue = arena_printf(j->a, "dept:%s", act->value), .actor = actor};
    if ((rc = store_request_patch(j->tx, out.id, &p, err)) != 0)
        return rc;
    if (f->request_id) {
        st = db_stmt(db, "INSERT INTO request_links (request_id, linked_request_id, kind, "
                         "created_at_ms) VALUES ($1, $2, 'task', $3) ON CONFLICT DO NOTHING");
        db_bind_i64(st, 1, out.id);
        db_bind_i64(st, 2, f->request_id);
        db_bind_i64(st, 3, j->now_ms);
        if ((rc = db_run(db, st, err)) != 0)
            return rc;
    }
    return job_event(j, "task.created", f->request_id ? f->request_id : out.id, f->customer_id,
                     f->order_id, f->store_id, actor,
                     json_pack("{s:I, s:s}", "task_request_id", (json_int_t)out.id, "department",
                               act->value),
                     err);
}

static int act_compensate(struct rules_job *j, const struct rule_action *act,
                          const struct rule_facts *f, const char *actor, struct err_info *err)
{
    int64_t customer = f->linked_customer_id ? f->linked_customer_id : f->customer_id;
    if (customer == 0)
        return err_set(err, ERR_INVALID, "customer", "the event has no customer to compensate");
    struct db *db = store_tx_db(j->tx);
    const char *ref = arena_printf(j->a, "%s:req%lld:ord%lld", actor, (long long)f->request_id,
                                   (long long)f->order_id);
    sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM bonus_ledger WHERE customer_id = $1 AND ref = $2");
    db_bind_i64(st, 1, customer);
    db_bind_text(st, 2, ref, -1);
    bool seen = db_step(db, st, NULL) == 1;
    sqlite3_reset(st);
    if (seen)
        return 0; /* once per rule and request */
    struct bonus_in b = {.customer_id = customer, .amount = act->num, .reason = act->text,
                         .ref = ref, .actor = actor, .at_ms = j->now_ms};
    int rc = store_bonus_add(j->tx, &b, err);
    if (rc != 0)
        return rc;
    return job_event(j, "compensation.accrued", f->request_id, customer, f->order_id, f->store_id,
                     actor,
                     json_pack("{s:I, s:s, s:s}", "points", (json_int_t)act->num, "reason",
                               act->text, "ref", ref),
                     err);
}

static int act_message(struct rules_job *j, const struct rule_action *act,
                       const struct rule_facts *f, const char *actor, struct err_info *err)
{
    const char *body = template_render(j, act->text, f);
    struct outbox_msg m = {.request_id = f->request_id, .customer_id = f->customer_id,
                           .body = body, .kind = "notice"};
    int64_t id = 0;
    int rc = outbox_enqueue(j->tx, &m, &id, err);
    if (rc != 0)
        return rc;
    return job_event(j, "notice.queued", f->request_id, f->customer_id, f->order_id, f->store_id,
                     actor, json_pack("{s:I, s:s}", "outbox_id", (json_int_t)id, "text", body),
                     err);
}

static int run_one(struct rules_job *j, const struct rule *rule, const struct rule_action *act,
                   const struct rule_facts *f, const struct event_row *ev, const char *actor,
                   struct err_info *err)
{
    bool needs_request = act->type <= ACT_SET_STATUS || act->type == ACT_ESCALATE;
    if (needs_request && f->request_id == 0)
        return err_set(err, ERR_INVALID, "request", "the event is not about a request");
    switch (act->type) {
    case ACT_SET_PRIORITY:
    case ACT_SET_QUEUE:
    case ACT_SET_ASSIGNEE:
    case ACT_SET_STATUS:
        return act_patch(j, act, f, actor, err);
    case ACT_ADD_TAGS:
        return act_tags(j, act, f, actor, err);
    case ACT_NOTIFY:
        return notify_role(j, act->value, act->num, f->request_id, f->store_id, "rule",
                           act->text ? template_render(j, act->text, f) : rule->name, actor, err);
    case ACT_ESCALATE:
        return esc_raise(j, f->request_id, act->value,
                         act->text ? act->text : arena_printf(j->a, "правило «%s»", rule->name),
                         actor, err);
    case ACT_CREATE_TASK:
        return act_task(j, act, f, ev, actor, err);
    case ACT_MESSAGE_CUSTOMER:
        return act_message(j, act, f, actor, err);
    case ACT_COMPENSATE:
        return act_compensate(j, act, f, actor, err);
    case ACT_SURVEY:
        return job_event(j, "survey.requested", f->request_id, f->customer_id, f->order_id,
                         f->store_id, actor,
                         json_pack("{s:s, s:I, s:I}", "survey", act->value, "rule_id",
                                   (json_int_t)rule->id, "event_id", (json_int_t)ev->id),
                         err);
    case ACT_WEBHOOK: {
        json_t *body = json_pack("{s:I, s:I, s:s, s:I, s:I, s:I, s:I}", "rule_id",
                                 (json_int_t)rule->id, "rule_version", (json_int_t)rule->version,
                                 "event_type", ev->type, "event_id", (json_int_t)ev->id,
                                 "request_id", (json_int_t)f->request_id, "customer_id",
                                 (json_int_t)f->customer_id, "order_id", (json_int_t)f->order_id);
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        int rc = webhook_enqueue(j, rule->id, f->request_id, act->value, text, act->text, err);
        free(text);
        return rc;
    }
    }
    return 0;
}

int actions_run(struct rules_job *j, const struct rule *rule, const struct rule_facts *f,
                const struct event_row *ev, struct err_info *err)
{
    const char *actor = arena_printf(j->a, "rule:%lld", (long long)rule->id);
    int rc = job_event(j, "rule.matched", f->request_id, f->customer_id, f->order_id, f->store_id,
                       actor,
                       json_pack("{s:I, s:i, s:s, s:I, s:s}", "rule_id", (json_int_t)rule->id,
                                 "version", rule->version, "name", rule->name, "event_id",
                                 (json_int_t)ev->id, "event_type", ev->type),
                       err);
    if (rc != 0)
        return rc;
    for (int i = 0; i < rule->n_actions; i++) {
        const struct rule_action *act = &rule->actions[i];
        struct err_info aerr = {0};
        struct tx_mark mark = store_tx_part_begin(j->tx);
        int arc = run_one(j, rule, act, f, ev, actor, &aerr);
        store_tx_part_end(j->tx, mark, arc == 0);
        if (arc == 0)
            continue;
        const char *type = act->type == ACT_MESSAGE_CUSTOMER ? "notice.failed" : "rule.action_failed";
        rc = job_event(j, type, f->request_id, f->customer_id, f->order_id, f->store_id, actor,
                       json_pack("{s:I, s:i, s:s, s:s, s:s}", "rule_id", (json_int_t)rule->id,
                                 "version", rule->version, "action", action_names[act->type],
                                 "code", err_str(arc), "message", aerr.message),
                       err);
        if (rc != 0)
            return rc;
    }
    return 0;
}
