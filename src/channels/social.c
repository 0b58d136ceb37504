/*
 * social.c - public posts and comments about the chain from a social
 * monitoring feed (Brand Analytics, YouScan, Medialogia and the like export
 * mentions as JSON):
 *   POST /hooks/social/<name>  Authorization: Bearer <token>
 *   {"id": "m-1", "platform": "vk", "kind": "post", "author": "...",
 *    "url": "https://...", "text": "...", "reach": 25000,
 *    "published_at": RFC 3339, "store": "MSK-001"}   or {"mentions": [ ... ]}
 * Each mention is its own "social" request; the reach (audience) is kept in
 * the event "social.mention" for the rules, and a reach at or above
 * settings.high_reach (10000) makes the request high priority at once.
 *
 * Secrets: token.  Settings: high_reach.
 */
#include "channels/channels_int.h"

#include <stdio.h>
#include <string.h>

static int one_mention(struct hook *h, json_t *m, size_t index)
{
    struct http_request *req = h->req;
    char idbuf[64];
    const char *id = json_str_or_int(m, "id", idbuf, sizeof idbuf);
    const char *platform = json_string_value(json_object_get(m, "platform"));
    const char *text = json_string_value(json_object_get(m, "text"));
    json_t *reach = json_object_get(m, "reach");
    if (!json_is_object(m) || id == NULL || *id == '\0' || strlen(id) > 120)
        return err_set(&req->err, ERR_INVALID, "id", "mention %zu needs an id", index);
    if (platform == NULL || text == NULL || *text == '\0')
        return err_set(&req->err, ERR_INVALID, "text", "mention %s needs platform and text", id);
    if (reach != NULL && (!json_is_integer(reach) || json_integer_value(reach) < 0))
        return err_set(&req->err, ERR_INVALID, "reach", "reach must be a whole number ≥ 0");
    int64_t audience = reach ? json_integer_value(reach) : 0;
    char sid[200];
    snprintf(sid, sizeof sid, "social:%.30s:%s", platform, id);
    json_t *item = item_message(h, sid, sid, text);
    json_object_set_new(item, "thread", json_string("none"));
    json_t *q = item_request(item);
    json_set_str(q, "created_at", json_string_value(json_object_get(m, "published_at")));
    json_set_str(q, "store", json_string_value(json_object_get(m, "store")));
    const char *author = json_string_value(json_object_get(m, "author"));
    json_set_str(item_customer(item), "name", author);
    if (audience >= chan_setting_int(h->ch, "high_reach", 10000))
        json_object_set_new(item, "priority", json_string("high"));
    json_t *d = json_pack("{s:s, s:I}", "platform", platform, "reach", (json_int_t)audience);
    json_set_str(d, "url", json_string_value(json_object_get(m, "url")));
    json_set_str(d, "author", author);
    json_set_str(d, "kind", json_string_value(json_object_get(m, "kind")));
    json_object_set_new(item, "event", json_pack("{s:s, s:o}", "type", "social.mention", "data", d));
    return 0;
}

static int social_hook(struct hook *h)
{
    if (strcmp(h->req->method, "POST") != 0)
        return err_set(&h->req->err, ERR_METHOD, "", "mentions are POSTed");
    int rc = hook_bearer(h, "token");
    json_t *b = NULL;
    if (rc != 0 || (rc = hook_json(h, &b)) != 0)
        return rc;
    json_t *list = json_object_get(b, "mentions");
    if (list == NULL)
        rc = one_mention(h, b, 0);
    else if (!json_is_array(list) || json_array_size(list) > 1000)
        rc = err_set(&h->req->err, ERR_INVALID, "mentions", "mentions must be an array of ≤ 1000");
    for (size_t i = 0; rc == 0 && list && i < json_array_size(list); i++)
        rc = one_mention(h, json_array_get(list, i), i);
    json_decref(b);
    return rc;
}

static const char *const social_secrets[] = {"token", NULL};

const struct adapter adapter_social = {
    .name = "social",
    .channel = "social",
    .hook = social_hook,
    .required_secrets = social_secrets,
};
