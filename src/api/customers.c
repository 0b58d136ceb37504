/*
 * customers.c - /api/v1/customers: the customer 360 and the IVR/bot lookup.
 */
#include "api/api.h"

#include "intake/intake.h"

#include <string.h>

int api_customers_get(struct http_request *req, struct http_response *resp)
{
    int64_t id;
    int rc = http_param_id(req, 0, &id);
    if (rc != 0)
        return rc;
    json_t *o;
    struct db *r = store_reader_recent(req->app->store);
    rc = store_customer_get(r, id, &req->who.scope, &o, &req->err);
    store_reader_done(req->app->store, r);
    if (rc == 0)
        http_reply_json(resp, 200, o);
    return rc;
}

int api_customers_lookup(struct http_request *req, struct http_response *resp)
{
    const char *kind = NULL, *value = NULL;
    for (int i = 0; model_identity_kinds[i].field; i++) {
        const char *v = http_query(req, model_identity_kinds[i].field);
        if (v == NULL)
            continue;
        if (kind != NULL)
            return err_set(&req->err, ERR_INVALID, model_identity_kinds[i].field,
                           "give exactly one identity to look up");
        kind = model_identity_kinds[i].kind;
        value = v;
    }
    if (kind == NULL)
        return err_set(&req->err, ERR_INVALID, "",
                       "give one of phone, email, card, telegram_id, viber_id, vk_id, "
                       "whatsapp_id, app_id");
    /* Normalise like intake, so "8 (912) 345-67-89" finds "+79123456789". */
    json_t *c = json_object();
    json_object_set_new(c, strcmp(kind, "phone") == 0   ? "phone"
                           : strcmp(kind, "email") == 0 ? "email"
                                                        : "card",
                        json_string(value));
    struct customer_in ci;
    int rc = 0;
    if (strcmp(kind, "phone") == 0 || strcmp(kind, "email") == 0)
        rc = intake_customer_parse(c, "", &req->arena, &ci, &req->err);
    json_decref(c);
    if (rc != 0)
        return rc;
    if (strcmp(kind, "phone") == 0)
        value = ci.ids[0];
    else if (strcmp(kind, "email") == 0)
        value = ci.ids[1];
    if (value == NULL || *value == '\0')
        return err_set(&req->err, ERR_INVALID, kind, "the %s is empty", kind);
    json_t *o;
    struct db *r = store_reader_recent(req->app->store);
    rc = store_customer_lookup(r, kind, value, &req->who.scope, &o, &req->err);
    store_reader_done(req->app->store, r);
    if (rc == 0)
        http_reply_json(resp, 200, o);
    return rc;
}
