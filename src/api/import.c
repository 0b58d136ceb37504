/*
 * import.c - POST /api/v1/import: NDJSON bulk import (see intake/import.h).
 */
#include "api/api.h"

#include "intake/import.h"

#include <string.h>

int api_import(struct http_request *req, struct http_response *resp)
{
    const char *ct = http_header(req, "Content-Type");
    if (ct == NULL || (strncasecmp(ct, "application/x-ndjson", 20) != 0 &&
                       strncasecmp(ct, "application/jsonl", 17) != 0 &&
                       strncasecmp(ct, "application/json", 16) != 0))
        return err_set(&req->err, ERR_MEDIA_TYPE, "",
                       "send NDJSON with Content-Type: application/x-ndjson");
    /* A token or user bound to a store or region lacks PERM_IMPORT (store_auth.c). */
    if ((int64_t)req->body_size > req->app->cfg->import_max_bytes)
        return err_set(&req->err, ERR_TOOBIG, "", "the import is larger than %lld bytes",
                       (long long)req->app->cfg->import_max_bytes);
    if (req->body_size == 0)
        return err_set(&req->err, ERR_INVALID, "", "the import is empty");
    json_t *report;
    /* A large import arrived in a spool file (HTTP_SPOOL_AT): read it from there. */
    int rc = req->body_fd >= 0
                 ? import_ndjson_fd(req->app->store, req->body_fd, api_actor(req), &report,
                                    &req->err)
                 : import_ndjson(req->app->store, req->body.data, req->body.len, api_actor(req),
                                 &report, &req->err);
    if (rc == 0)
        http_reply_json(resp, 200, report);
    return rc;
}
