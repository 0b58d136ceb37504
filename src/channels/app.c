/*
 * app.c - the chain's mobile app.  The app (or its backend) calls
 *   POST /hooks/app/<name>  Authorization: Bearer <app_token>
 *        {"user_id": "u-123", "id": "m-1", "text": "...", "name", "phone",
 *         "email", "store": "MSK-001", "order": "A-1001"}
 *   GET  /hooks/app/<name>?user=u-123&after=<message id>&wait_s=20
 * The user id is the customer's app_id identity; phone and e-mail join the
 * same customer.  Replies are read with GET and, when settings.push_url is
 * set, also pushed there as {user_id, text, request_id, outbox_id} with
 * Authorization: Bearer <push_token>.
 *
 * Secrets: app_token, push_token (optional).  Settings: push_url.
 */
#include "channels/channels_int.h"

#include "core/str.h"

#include <stdio.h>
#include <string.h>

static int app_hook(struct hook *h)
{
    int rc = hook_bearer(h, "app_token");
    if (rc != 0)
        return rc;
    if (strcmp(h->req->method, "GET") == 0) {
        const char *u = http_query(h->req, "user");
        if (u == NULL || *u == '\0' || strlen(u) > 64)
            return err_set(&h->req->err, ERR_INVALID, "user", "user is required");
        int64_t wait_s = 0;
        const char *w = http_query(h->req, "wait_s");
        if (w && *w && str_to_i64(str_from(w), 0, 25, &wait_s) != 0)
            return err_set(&h->req->err, ERR_INVALID, "wait_s", "wait_s must be 0..25");
        return webchat_pull(h, arena_printf(&h->req->arena, "u:%s", u), wait_s * 1000);
    }
    json_t *b;
    if ((rc = hook_json(h, &b)) != 0)
        return rc;
    rc = chat_post(h, b, "user_id", "u:", "app_id");
    json_decref(b);
    return rc;
}

static int app_send_prepare(struct send *s)
{
    const char *url = chan_setting(s->ch, "push_url", NULL);
    if (url == NULL) {
        s->result = SEND_OK; /* the app reads replies with GET */
        return 1;
    }
    send_http(s, url);
    const char *tok = chan_secret(s->ch, "push_token");
    if (tok)
        send_header(s, arena_printf(s->arena, "Authorization: Bearer %s", tok));
    /* The recipient is the peer "u:<user id>" or, proactively, the app_id itself. */
    const char *user = strncmp(s->recipient, "u:", 2) == 0 ? s->recipient + 2 : s->recipient;
    json_t *b = json_pack("{s:s, s:s, s:I, s:I}", "user_id", user, "text", s->body, "outbox_id",
                          (json_int_t)s->outbox_id, "request_id", (json_int_t)s->request_id);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    send_post(s, "application/json", text, strlen(text));
    free(text);
    return 0;
}

static const char *const app_secrets[] = {"app_token", NULL};

const struct adapter adapter_app = {
    .name = "app",
    .channel = "app",
    .hook = app_hook,
    .send_prepare = app_send_prepare,
    .identity_kind = "app",
    .required_secrets = app_secrets,
};
