/*
 * requests.c - /api/v1/requests: intake from any channel, the inbox list,
 * one request with its conversation and history, changes and messages.
 */
#include "api/api.h"

#include "channels/outbox.h"
#include "classify/text.h"
#include "core/buf.h"
#include "core/str.h"
#include "intake/intake.h"

#include <stdio.h>
#include <string.h>

const char *api_actor(struct http_request *req)
{
    if (!req->is_authenticated)
        return NULL;
    return arena_printf(&req->arena, "%s:%s", req->who.user_id ? "user" : "token",
                        req->who.login);
}

int api_check_keys(struct http_request *req, json_t *body, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        (void)v;
        if (model_find(allowed, key) < 0)
            return err_set(&req->err, ERR_INVALID, key, "unknown field '%.60s'", key);
    }
    return 0;
}

struct create_job {
    struct request_in *in;
    struct request_out out;
};

/* May run twice in a batch (is_rerunnable): a second run replaces the first's answer. */
static int job_create(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct create_job *j = arg;
    store_request_out_clear(&j->out);
    return store_request_create(tx, j->in, &j->out, err);
}

/* Read a request back through a reader (after its commit) and reply. */
static int reply_request(struct http_request *req, struct http_response *resp, int64_t id,
                         bool with_details, int status, const struct scope_filter *sf)
{
    json_t *o;
    struct db *r = store_reader_recent(req->app->store);
    int rc = store_request_get(r, id, sf, with_details, &o, &req->err);
    store_reader_done(req->app->store, r);
    if (rc != 0)
        return rc;
    http_reply_json(resp, status, o);
    return 0;
}

/* A principal bound to a store may only file requests for that store. */
static int check_store_scope(struct http_request *req, struct request_in *in)
{
    const struct scope_filter *sf = &req->who.scope;
    if (sf->scope != SCOPE_STORE)
        return 0;
    if (in->store_code == NULL)
        return err_set(&req->err, ERR_FORBIDDEN, "store", "store is required for this principal");
    struct db *r = store_reader(req->app->store);
    int64_t id = store_store_id(r, in->store_code);
    store_reader_done(req->app->store, r);
    if (id != sf->store_id)
        return err_set(&req->err, ERR_FORBIDDEN, "store", "not allowed for store '%s'",
                       in->store_code);
    return 0;
}

/* A request being created: the body its input points into, and the job. */
struct create_call {
    json_t *body;
    struct request_in in;
    struct create_job job;
};

static int created(struct http_request *req, struct http_response *resp, void *arg, int rc)
{
    (void)req;
    struct create_call *call = arg;
    struct request_out *out = &call->job.out;
    if (rc == 0 && out->is_duplicate) {
        http_reply_json(resp, 200, out->json); /* the reference moves to the answer */
        out->json = NULL;
    } else if (rc == 0) {
        struct buf *body = http_reply_json_body(resp, 201);
        store_request_created_write(&call->in, out, body);
        buf_putc(body, '\n');
    }
    store_request_out_clear(out);
    json_decref(call->body);
    free(call);
    return rc;
}

int api_requests_create(struct http_request *req, struct http_response *resp)
{
    json_t *body;
    int rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"channel", "source_id", "customer", "store", "order",
                                       "subject", "text",      "kind",     "created_at", NULL};
    struct create_call *call = xcalloc(1, sizeof *call);
    call->body = body;
    struct request_in *in = &call->in;
    if ((rc = api_check_keys(req, body, keys)) == 0)
        rc = intake_request_parse(body, false, &req->arena, in, &req->err);
    if (rc == 0)
        rc = check_store_scope(req, in);
    if (rc != 0) {
        json_decref(body);
        free(call);
        return rc;
    }
    in->actor = api_actor(req);
    in->want_json = true;
    in->scope = &req->who.scope;
    api_enrich_request(req->app, in, &req->arena);
    call->job.in = in;
    /* Answered once durable, without holding a thread meanwhile. */
    return http_write_then(req, resp, job_create, &call->job, true, created, call);
}

static int query_enum(struct http_request *req, const char *name, const char *const *values,
                      const char **out)
{
    const char *v = http_query(req, name);
    *out = NULL;
    if (v == NULL || *v == '\0')
        return 0;
    int i = model_find(values, v);
    if (i < 0)
        return err_set(&req->err, ERR_INVALID, name, "unknown %s '%.40s'", name, v);
    *out = values[i];
    return 0;
}

static int query_time(struct http_request *req, const char *name, int64_t *out)
{
    const char *v = http_query(req, name);
    *out = 0;
    if (v == NULL || *v == '\0')
        return 0;
    if (time_parse_rfc3339(str_from(v), out) != 0)
        return err_set(&req->err, ERR_INVALID, name, "%s must be an RFC 3339 time", name);
    return 0;
}

static int query_int(struct http_request *req, const char *name, int64_t min, int64_t max,
                     int64_t def, int64_t *out)
{
    const char *v = http_query(req, name);
    *out = def;
    if (v == NULL || *v == '\0')
        return 0;
    if (str_to_i64(str_from(v), min, max, out) != 0)
        return err_set(&req->err, ERR_INVALID, name, "%s must be a number from %lld to %lld",
                       name, (long long)min, (long long)max);
    return 0;
}

int api_requests_list(struct http_request *req, struct http_response *resp)
{
    struct request_query q = {0};
    int64_t limit, customer, cursor;
    int rc;
    if ((rc = query_enum(req, "status", model_statuses, &q.status)) ||
        (rc = query_enum(req, "channel", model_channels, &q.channel)) ||
        (rc = query_enum(req, "topic", model_topics, &q.topic)) ||
        (rc = query_time(req, "since", &q.since_ms)) ||
        (rc = query_time(req, "until", &q.until_ms)) ||
        (rc = query_int(req, "limit", 1, 200, 50, &limit)) ||
        (rc = query_int(req, "customer", 1, INT64_MAX, 0, &customer)) ||
        (rc = query_int(req, "cursor", 1, INT64_MAX, 0, &cursor)))
        return rc;
    q.limit = (int)limit;
    q.customer_id = customer;
    q.cursor = cursor;
    const char *store = http_query(req, "store");
    q.store_code = store && *store ? store : NULL;
    const char *text = http_query(req, "q");
    if (text && *text) {
        size_t len = strlen(text);
        if (len > 1000 || !utf8_valid(text, len))
            return err_set(&req->err, ERR_INVALID, "q", "q must be valid UTF-8, at most 1000 bytes");
        struct buf terms;
        buf_init(&terms, 16 * 1024);
        text_search_terms(text, len, &terms);
        q.q_terms = arena_strndup(&req->arena, buf_cstr(&terms), terms.len);
        buf_free(&terms);
    }
    json_t *out;
    struct db *r = store_reader_recent(req->app->store);
    rc = store_request_list(r, &q, &req->who.scope, &out, &req->err);
    store_reader_done(req->app->store, r);
    if (rc == 0)
        http_reply_json(resp, 200, out);
    return rc;
}

int api_requests_get(struct http_request *req, struct http_response *resp)
{
    int64_t id;
    int rc = http_param_id(req, 0, &id);
    if (rc != 0)
        return rc;
    return reply_request(req, resp, id, true, 200, &req->who.scope);
}

struct patch_job {
    int64_t id;
    struct request_patch patch;
};

static int job_patch(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct patch_job *j = arg;
    return store_request_patch(tx, j->id, &j->patch, err);
}

int api_requests_patch(struct http_request *req, struct http_response *resp)
{
    struct patch_job job = {0};
    int rc = http_param_id(req, 0, &job.id);
    json_t *body = NULL;
    if (rc != 0 || (rc = http_json_body(req, &body)) != 0)
        return rc;
    static const char *const keys[] = {"status", "priority", "topic", "queue", "assignee", NULL};
    struct request_patch *p = &job.patch;
    if ((rc = api_check_keys(req, body, keys)) ||
        (rc = intake_opt_enum(body, "status", model_statuses, &p->status, &req->err)) ||
        (rc = intake_opt_enum(body, "priority", model_priorities, &p->priority, &req->err)) ||
        (rc = intake_opt_enum(body, "topic", model_topics, &p->topic, &req->err)) ||
        (rc = intake_opt_string(body, "queue", 64, &req->arena, &p->queue, &req->err)))
        goto out;
    json_t *a = json_object_get(body, "assignee");
    if (a != NULL) {
        if (json_is_null(a))
            p->assignee_id = -1;
        else if (json_is_integer(a) && json_integer_value(a) > 0)
            p->assignee_id = json_integer_value(a);
        else {
            rc = err_set(&req->err, ERR_INVALID, "assignee", "assignee must be a user id or null");
            goto out;
        }
    }
    if (json_object_size(body) == 0) {
        rc = err_set(&req->err, ERR_INVALID, "", "nothing to change");
        goto out;
    }
    p->user_id = req->who.user_id;
    p->actor = api_actor(req);
    p->sf = &req->who.scope;
    rc = store_write(req->app->store, job_patch, &job, &req->err);
    if (rc == 0)
        rc = reply_request(req, resp, job.id, false, 200, &req->who.scope);
out:
    json_decref(body);
    return rc;
}

struct message_job {
    int64_t request_id;
    struct message_in m;
    int64_t message_id;
};

static int job_message(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct message_job *j = arg;
    int rc = store_message_add(tx, j->request_id, &j->m, &j->message_id, err);
    /* A reply goes back through the request's channel, queued in the same transaction. */
    if (rc == 0 && strcmp(j->m.direction, "out") == 0) {
        struct outbox_msg om = {.request_id = j->request_id, .body = j->m.body, .kind = "reply"};
        int64_t outbox_id;
        rc = outbox_enqueue(tx, &om, &outbox_id, err);
    }
    return rc;
}

int api_requests_message(struct http_request *req, struct http_response *resp)
{
    struct message_job job = {0};
    int rc = http_param_id(req, 0, &job.request_id);
    json_t *body = NULL;
    if (rc != 0 || (rc = http_json_body(req, &body)) != 0)
        return rc;
    static const char *const keys[] = {"text", "direction", NULL};
    static const char *const directions[] = {"out", "note", "in", NULL};
    const char *direction = NULL;
    if ((rc = api_check_keys(req, body, keys)) ||
        (rc = intake_req_string(body, "text", INTAKE_MAX_TEXT, &req->arena, &job.m.body,
                                &req->err)) ||
        (rc = intake_opt_enum(body, "direction", directions, &direction, &req->err)))
        goto out;
    job.m.direction = direction ? direction : "out";
    job.m.author_user_id = req->who.user_id;
    job.m.author_name = arena_strdup(&req->arena, req->who.name);
    job.m.actor = api_actor(req);
    job.m.sf = &req->who.scope;
    struct buf terms;
    buf_init(&terms, 256 * 1024);
    text_search_terms(job.m.body, strlen(job.m.body), &terms);
    job.m.search_terms = arena_strndup(&req->arena, buf_cstr(&terms), terms.len);
    buf_free(&terms);
    rc = store_write(req->app->store, job_message, &job, &req->err);
    if (rc == 0)
        http_reply_json(resp, 201,
                        json_pack("{s:I, s:I, s:s}", "id", (json_int_t)job.message_id,
                                  "request_id", (json_int_t)job.request_id, "direction",
                                  job.m.direction));
out:
    json_decref(body);
    return rc;
}
