/*
 * reviews.c - product and order reviews from the site, a marketplace or a
 * review service, posted one at a time or in batches (a file is posted the
 * same way: curl --data-binary @reviews.json):
 *   POST /hooks/reviews/<name>  Authorization: Bearer <token>
 *   {"id": "r-1", "rating": 2, "text": "...", "product": "SKU-1",
 *    "order": "A-1001", "store": "MSK-001", "author": "...", "phone", "email",
 *    "created_at": RFC 3339}          or {"reviews": [ ... up to 1000 ... ]}
 * Each review is a request of kind "review"; a rating of 2 or less is a
 * complaint in all but name: priority high.  Rating, product, order and
 * store go to the event "review.received" for the rules and reports.
 *
 * Secrets: token.  Settings: low_rating (2).
 */
#include "channels/channels_int.h"

#include <stdio.h>
#include <string.h>

static int one_review(struct hook *h, json_t *r, size_t index)
{
    struct http_request *req = h->req;
    char idbuf[64];
    const char *id = json_str_or_int(r, "id", idbuf, sizeof idbuf);
    json_t *rating = json_object_get(r, "rating");
    if (!json_is_object(r) || id == NULL || *id == '\0' || strlen(id) > 120)
        return err_set(&req->err, ERR_INVALID, "id", "review %zu needs an id", index);
    if (!json_is_integer(rating) || json_integer_value(rating) < 1 ||
        json_integer_value(rating) > 5)
        return err_set(&req->err, ERR_INVALID, "rating", "review %s needs a rating 1..5", id);
    int64_t stars = json_integer_value(rating);
    const char *text = json_string_value(json_object_get(r, "text"));
    char fallback[40], sid[160];
    if (text == NULL || *text == '\0') {
        snprintf(fallback, sizeof fallback, "Оценка %lld из 5", (long long)stars);
        text = fallback;
    }
    snprintf(sid, sizeof sid, "review:%s", id);
    const char *author = json_string_value(json_object_get(r, "author"));
    char peer[160];
    snprintf(peer, sizeof peer, "review:%s", id);
    json_t *item = item_message(h, peer, sid, text);
    json_object_set_new(item, "thread", json_string("none"));
    json_t *q = item_request(item);
    json_object_set_new(q, "kind", json_string("review"));
    json_set_str(q, "store", json_string_value(json_object_get(r, "store")));
    json_set_str(q, "order", json_string_value(json_object_get(r, "order")));
    json_set_str(q, "created_at", json_string_value(json_object_get(r, "created_at")));
    json_t *cust = item_customer(item);
    json_set_str(cust, "name", author);
    json_set_str(cust, "phone", json_string_value(json_object_get(r, "phone")));
    json_set_str(cust, "email", json_string_value(json_object_get(r, "email")));
    if (stars <= chan_setting_int(h->ch, "low_rating", 2))
        json_object_set_new(item, "priority", json_string("high"));
    json_t *d = json_pack("{s:I}", "rating", (json_int_t)stars);
    static const char *const keys[] = {"product", "order", "store", "source", NULL};
    for (int i = 0; keys[i]; i++)
        json_set_str(d, keys[i], json_string_value(json_object_get(r, keys[i])));
    json_object_set_new(item, "event", json_pack("{s:s, s:o}", "type", "review.received", "data", d));
    return 0;
}

static int reviews_hook(struct hook *h)
{
    if (strcmp(h->req->method, "POST") != 0)
        return err_set(&h->req->err, ERR_METHOD, "", "reviews are POSTed");
    int rc = hook_bearer(h, "token");
    json_t *b = NULL;
    if (rc != 0 || (rc = hook_json(h, &b)) != 0)
        return rc;
    json_t *list = json_object_get(b, "reviews");
    if (list == NULL)
        rc = one_review(h, b, 0);
    else if (!json_is_array(list) || json_array_size(list) > 1000)
        rc = err_set(&h->req->err, ERR_INVALID, "reviews", "reviews must be an array of ≤ 1000");
    for (size_t i = 0; rc == 0 && list && i < json_array_size(list); i++)
        rc = one_review(h, json_array_get(list, i), i);
    json_decref(b);
    return rc;
}

static const char *const review_secrets[] = {"token", NULL};

const struct adapter adapter_reviews = {
    .name = "reviews",
    .channel = "review",
    .hook = reviews_hook,
    .required_secrets = review_secrets,
};
