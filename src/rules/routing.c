/*
 * routing.c - who works on a request.  A request needs skills: its
 * channel's (phone, chat, email), its language's when it is not Russian,
 * and its queue's (queues.skills).  It goes to an available operator who
 * has every skill and spare capacity, fewest open items first.  Operators
 * make themselves available through the API; without any available
 * operator nothing is assigned automatically (supervisors push, operators
 * pull).  When a request is solved its first-contact resolution is
 * recorded: solved by the first assignee, with no transfer and no reopen.
 */
#include "rules/rules_int.h"

#include "store/model.h"

#include <stdio.h>
#include <string.h>

/* The skill a channel needs, or NULL for channels operators do not answer. */
static const char *channel_skill(const char *channel)
{
    static const char *const phone[] = {"phone", "callback", NULL};
    static const char *const email[] = {"email", "review", NULL};
    static const char *const none[] = {"qr", "internal", NULL};
    if (model_find(phone, channel) >= 0)
        return "phone";
    if (model_find(email, channel) >= 0)
        return "email";
    if (model_find(none, channel) >= 0)
        return NULL;
    return "chat";
}

/* Does the comma list have every skill of the comma list need? */
static bool has_skills(const char *have, const char *need)
{
    const char *p = need;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            bool found = false;
            for (const char *h = have; *h && !found;) {
                const char *hend = strchr(h, ',');
                size_t hlen = hend ? (size_t)(hend - h) : strlen(h);
                found = hlen == len && memcmp(h, p, len) == 0;
                h = hend ? hend + 1 : h + hlen;
            }
            if (!found)
                return false;
        }
        p = end ? end + 1 : p + len;
    }
    return true;
}

/* Skills the request needs, as a comma list in out. */
static void required_skills(struct db *db, const struct req_info *ri, char *out, size_t cap)
{
    const char *ch = channel_skill(ri->channel);
    size_t n = (size_t)snprintf(out, cap, "%s", ch ? ch : "");
    sqlite3_stmt *st = db_stmt(db, "SELECT q.skills FROM requests r JOIN queues q "
                                   "ON q.code = r.queue WHERE r.id = $1");
    db_bind_i64(st, 1, ri->id);
    if (db_step(db, st, NULL) == 1 && db_col_text(st, 0)[0] && n < cap)
        n += (size_t)snprintf(out + n, cap - n, ",%s", db_col_text(st, 0));
    sqlite3_reset(st);
    /* A first message without Cyrillic letters needs an English speaker. */
    st = db_stmt(db, "SELECT body FROM messages WHERE request_id = $1 ORDER BY id LIMIT 1");
    db_bind_i64(st, 1, ri->id);
    if (db_step(db, st, NULL) == 1) {
        const unsigned char *b = (const unsigned char *)db_col_text(st, 0);
        bool cyr = false, latin = false;
        for (; *b && !cyr; b++) {
            cyr = *b == 0xD0 || *b == 0xD1;
            latin = latin || ((*b | 0x20) >= 'a' && (*b | 0x20) <= 'z');
        }
        if (!cyr && latin && n < cap)
            snprintf(out + n, cap - n, ",en");
    }
    sqlite3_reset(st);
}

bool routing_can_take(struct db *db, const char *skills, const struct req_info *ri)
{
    char need[256];
    if (channel_skill(ri->channel) == NULL)
        return false;
    required_skills(db, ri, need, sizeof need);
    return has_skills(skills, need);
}

int64_t routing_pick(struct db *db, const struct req_info *ri, int64_t exclude_user_id)
{
    char need[256];
    required_skills(db, ri, need, sizeof need);
    /* The least loaded operator with room and the skills, the lowest id among
     * equals; chosen here rather than by ORDER BY, which would sort through a
     * temporary table on every new request. */
    sqlite3_stmt *st = db_stmt(
        db, "SELECT u.id, u.skills, s.capacity, (SELECT COUNT(*) FROM requests r "
            "WHERE r.assignee_id = u.id AND r.status <> 'solved' AND r.status <> 'closed') "
            "AS n_open FROM users u JOIN operator_status s ON s.user_id = u.id "
            "WHERE u.is_active = 1 AND s.is_available = 1 AND u.id <> $1");
    db_bind_i64(st, 1, exclude_user_id);
    int64_t pick = 0, pick_open = 0;
    while (db_step(db, st, NULL) == 1) {
        int64_t id = db_col_i64(st, 0), n_open = db_col_i64(st, 3);
        if (n_open >= db_col_i64(st, 2) || !has_skills(db_col_text(st, 1), need))
            continue;
        if (pick == 0 || n_open < pick_open || (n_open == pick_open && id < pick)) {
            pick = id;
            pick_open = n_open;
        }
    }
    sqlite3_reset(st);
    return pick;
}

static int record_outcome(struct rules_job *j, const struct req_info *ri, struct err_info *err)
{
    struct db *db = store_tx_db(j->tx);
    int64_t first = 0, n_assign = 0, n_reopen = 0;
    sqlite3_stmt *st = db_stmt(db, "SELECT type, data FROM events WHERE request_id = $1 AND type "
                                   "IN ('request.assigned', 'request.reopened') ORDER BY id");
    db_bind_i64(st, 1, ri->id);
    while (db_step(db, st, NULL) == 1) {
        if (strcmp(db_col_text(st, 0), "request.reopened") == 0) {
            n_reopen++;
            continue;
        }
        json_t *d = json_loads(db_col_text(st, 1), 0, NULL);
        int64_t to = json_integer_value(json_object_get(d, "to"));
        json_decref(d);
        if (to != 0) {
            n_assign++;
            if (first == 0)
                first = to;
        }
    }
    sqlite3_reset(st);
    bool is_fcr = first != 0 && n_assign == 1 && n_reopen == 0 && ri->assignee_id == first;
    st = db_stmt(db, "INSERT INTO request_outcomes (request_id, first_assignee_id, n_assignments,"
                     " n_reopens, is_fcr, solved_at_ms) VALUES ($1, $2, $3, $4, $5, $6) "
                     "ON CONFLICT (request_id) DO UPDATE SET first_assignee_id = $2, "
                     "n_assignments = $3, n_reopens = $4, is_fcr = $5, solved_at_ms = $6");
    db_bind_i64(st, 1, ri->id);
    db_bind_i64_or_null(st, 2, first);
    db_bind_i64(st, 3, n_assign);
    db_bind_i64(st, 4, n_reopen);
    db_bind_i64(st, 5, is_fcr);
    db_bind_i64(st, 6, j->now_ms);
    return db_run(db, st, err);
}

bool routing_wants(const struct event_row *ev)
{
    return ev->request_id != 0 && (strcmp(ev->type, "request.created") == 0 ||
                                   strcmp(ev->type, "request.status_changed") == 0);
}

int routing_on_event(struct rules_job *j, const struct event_row *ev, struct err_info *err)
{
    if (!routing_wants(ev))
        return 0;
    struct db *db = store_tx_db(j->tx);
    struct req_info ri;
    if (job_req_info(j, ev->request_id, &ri) != 0)
        return 0;
    if (strcmp(ev->type, "request.status_changed") == 0 && strcmp(ri.status, "solved") == 0)
        return record_outcome(j, &ri, err);
    if (strcmp(ev->type, "request.created") != 0 || ri.assignee_id != 0 ||
        !model_status_is_open(ri.status) || ev->at_ms - ri.created_at_ms > 3600000)
        return 0;
    const char *skill = channel_skill(ri.channel);
    if (skill == NULL)
        return 0;
    int64_t user = routing_pick(db, &ri, 0);
    if (user == 0)
        return 0;
    struct request_patch p = {.queue = skill, .assignee_id = user, .actor = "routing"};
    struct tx_mark mark = store_tx_part_begin(j->tx);
    struct err_info perr = {0};
    int rc = store_request_patch(j->tx, ri.id, &p, &perr);
    store_tx_part_end(j->tx, mark, rc == 0);
    (void)err;
    return 0; /* a request that cannot be assigned stays in its queue */
}
