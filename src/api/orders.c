/*
 * orders.c - /api/v1/orders/events: status changes pushed by the order
 * management system.  The same event (source_id) twice is recorded once.
 */
#include "api/api.h"

#include "intake/intake.h"

struct order_job {
    struct order_event_in in;
    int64_t order_id;
    bool is_duplicate;
};

static int job_order(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct order_job *j = arg;
    return store_order_event(tx, &j->in, &j->order_id, &j->is_duplicate, err);
}

int api_orders_event(struct http_request *req, struct http_response *resp)
{
    json_t *body;
    int rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    static const char *const keys[] = {"order",       "status", "source_id", "note",     "at",
                                       "promised_at", "total",  "store",     "customer", NULL};
    struct order_job job = {.in.total_kop = -1};
    struct order_event_in *in = &job.in;
    if ((rc = api_check_keys(req, body, keys)) ||
        (rc = intake_req_string(body, "order", 128, &req->arena, &in->order_ref, &req->err)) ||
        (rc = intake_opt_enum(body, "status", model_order_statuses, &in->status, &req->err)) ||
        (rc = intake_opt_string(body, "source_id", 200, &req->arena, &in->source_id, &req->err)) ||
        (rc = intake_opt_string(body, "note", 2000, &req->arena, &in->note, &req->err)) ||
        (rc = intake_opt_time(body, "at", &in->at_ms, &req->err)) ||
        (rc = intake_opt_time(body, "promised_at", &in->promised_at_ms, &req->err)) ||
        (rc = intake_opt_money(body, "total", &in->total_kop, &req->err)) ||
        (rc = intake_opt_string(body, "store", 64, &req->arena, &in->store_code, &req->err)) ||
        (rc = intake_customer_parse(json_object_get(body, "customer"), "customer", &req->arena,
                                    &in->customer, &req->err)))
        goto out;
    if (in->status == NULL) {
        rc = err_set(&req->err, ERR_INVALID, "status", "status is required");
        goto out;
    }
    in->actor = api_actor(req);
    rc = store_write(req->app->store, job_order, &job, &req->err);
    if (rc == 0)
        http_reply_json(resp, job.is_duplicate ? 200 : 201,
                        json_pack("{s:s, s:I, s:s, s:b}", "order", in->order_ref, "order_id",
                                  (json_int_t)job.order_id, "status", in->status, "duplicate",
                                  job.is_duplicate));
out:
    json_decref(body);
    return rc;
}
