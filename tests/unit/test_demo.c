/*
 * test_demo.c - the demo generator: every line is JSON of a known type, in
 * dependency order, with references to things emitted earlier, consistent
 * timestamps, non-negative bonus balances, varied texts and a fixed output
 * for a fixed seed.
 */
#include "testutil.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "demo/demo.h"

#define NOW_MS 1788257700000LL /* 2026-09-01T10:15:00Z */

/* ---- collecting lines --------------------------------------------------- */

struct lines {
    char **v;
    size_t n, cap;
    int stop_after; /* > 0: return 7 from emit on that call */
};

static int collect(void *ctx, const char *line, size_t len)
{
    struct lines *l = ctx;
    xgrow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = xstrndup(line, len);
    if (l->stop_after > 0 && (int)l->n == l->stop_after)
        return 7;
    return 0;
}

static void lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static void small_options(struct demo_options *o, uint64_t seed)
{
    demo_options_default(o);
    o->seed = seed;
    o->now_ms = NOW_MS;
    o->n_stores = 5;
    o->n_customers = 300;
    o->n_requests = 1000;
}

/* ---- a small string set ------------------------------------------------- */

struct strset {
    char **keys;
    size_t cap, n;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void set_init(struct strset *s)
{
    s->cap = 1 << 16;
    s->n = 0;
    s->keys = xcalloc(s->cap, sizeof(char *));
}

static void set_free(struct strset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
}

/* Add key; false when it was there already. */
static bool set_add(struct strset *s, const char *key)
{
    assert_true(s->n < s->cap / 2);
    size_t i = hash(key) & (s->cap - 1);
    while (s->keys[i]) {
        if (strcmp(s->keys[i], key) == 0)
            return false;
        i = (i + 1) & (s->cap - 1);
    }
    s->keys[i] = xstrdup(key);
    s->n++;
    return true;
}

static bool set_has(const struct strset *s, const char *key)
{
    size_t i = hash(key) & (s->cap - 1);
    while (s->keys[i]) {
        if (strcmp(s->keys[i], key) == 0)
            return true;
        i = (i + 1) & (s->cap - 1);
    }
    return false;
}

/* ---- helpers ------------------------------------------------------------ */

static const char *get_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int64_t get_time(json_t *obj, const char *key)
{
    const char *s = get_str(obj, key);
    if (!s)
        return -1;
    int64_t ms = 0;
    assert_int_equal(time_parse_rfc3339(str_from(s), &ms), 0);
    return ms;
}

static const char *const types[] = {"department", "store", "customer", "order",
                                    "purchase", "bonus", "request"};
static const char *const channels[] = {"phone", "callback", "web", "chat", "email",
                                       "telegram", "viber", "vk", "whatsapp", "sms",
                                       "qr", "app", "review", "social", "internal"};

static int index_of(const char *const *v, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(v[i], s) == 0)
            return i;
    return -1;
}

/* Identity sets of emitted customers, keyed by field name. */
static const char *const id_fields[] = {"phone", "email", "card", "telegram_id", "vk_id",
                                        "viber_id", "whatsapp_id"};
#define N_ID_FIELDS 7

struct world {
    struct strset stores, orders, ids[N_ID_FIELDS], texts;
    int counts[7];
    int n_channels[15];
};

static void check_request(struct world *w, json_t *j)
{
    assert_non_null(get_str(j, "source_id"));
    const char *store = get_str(j, "store");
    assert_true(store && set_has(&w->stores, store));
    int ch = index_of(channels, 15, get_str(j, "channel"));
    assert_true(ch >= 0);
    w->n_channels[ch]++;

    json_t *who = json_object_get(j, "customer");
    if (who) {
        int n_ids = 0;
        for (int k = 0; k < N_ID_FIELDS; k++) {
            const char *v = get_str(who, id_fields[k]);
            if (v) {
                assert_true(set_has(&w->ids[k], v));
                n_ids++;
            }
        }
        assert_true(n_ids > 0);
        assert_non_null(get_str(who, "name"));
        /* The identity matches the channel. */
        if (strcmp(channels[ch], "telegram") == 0)
            assert_non_null(get_str(who, "telegram_id"));
        if (strcmp(channels[ch], "email") == 0)
            assert_non_null(get_str(who, "email"));
        if (strcmp(channels[ch], "phone") == 0 || strcmp(channels[ch], "sms") == 0)
            assert_non_null(get_str(who, "phone"));
    } else {
        assert_true(strcmp(channels[ch], "qr") == 0 || strcmp(channels[ch], "internal") == 0);
    }
    const char *order = get_str(j, "order");
    if (order)
        assert_true(set_has(&w->orders, order));

    const char *text = get_str(j, "text");
    assert_true(text && text[0] && utf8_valid(text, strlen(text)));
    set_add(&w->texts, text);
    assert_non_null(get_str(j, "kind"));
    assert_non_null(get_str(j, "topic"));
    assert_non_null(get_str(j, "priority"));
    assert_non_null(get_str(j, "sentiment"));

    int64_t created = get_time(j, "created_at"), first = get_time(j, "first_response_at"),
            solved = get_time(j, "solved_at"), closed = get_time(j, "closed_at");
    assert_true(created > NOW_MS - 91LL * 86400000 && created < NOW_MS);
    if (first >= 0)
        assert_true(first > created && first <= NOW_MS);
    if (solved >= 0)
        assert_true(solved > created && (first < 0 || first <= solved) && solved <= NOW_MS);
    if (closed >= 0)
        assert_true(solved >= 0 && solved <= closed && closed <= NOW_MS);
    const char *status = get_str(j, "status");
    assert_non_null(status);
    if (strcmp(status, "closed") == 0)
        assert_true(closed >= 0);
    if (strcmp(status, "solved") == 0)
        assert_true(solved >= 0 && closed < 0);
    if (strcmp(status, "new") == 0)
        assert_true(solved < 0);
    json_t *replies = json_object_get(j, "replies");
    assert_true(json_is_array(replies));
    size_t i;
    json_t *r;
    json_array_foreach(replies, i, r) {
        int64_t at = get_time(r, "at");
        assert_true(at >= created && at <= NOW_MS);
        assert_non_null(get_str(r, "text"));
    }
}

/* Parse and check one whole run; fills *w. */
static void check_run(const struct lines *l, const struct demo_options *o, struct world *w)
{
    memset(w, 0, sizeof *w);
    set_init(&w->stores);
    set_init(&w->orders);
    set_init(&w->texts);
    for (int k = 0; k < N_ID_FIELDS; k++)
        set_init(&w->ids[k]);
    int64_t *balance = xcalloc(l->n, sizeof(int64_t));
    struct strset balance_index;
    set_init(&balance_index);
    char **balance_keys = xcalloc(l->n, sizeof(char *));
    int n_balance = 0;
    int last_type = 0;
    int64_t last_bonus_at = 0;

    for (size_t n = 0; n < l->n; n++) {
        json_error_t err;
        json_t *j = json_loads(l->v[n], 0, &err);
        if (!j)
            fail_msg("line %zu is not JSON: %s", n + 1, err.text);
        assert_true(json_is_object(j));
        assert_null(strchr(l->v[n], '\n'));
        int t = index_of(types, 7, get_str(j, "type"));
        assert_true(t >= 0);
        assert_true(t >= last_type); /* dependency order */
        last_type = t;
        w->counts[t]++;
        switch (t) {
        case 1:
            assert_true(set_add(&w->stores, get_str(j, "code")));
            assert_non_null(get_str(j, "time_zone"));
            break;
        case 2:
            for (int k = 0; k < N_ID_FIELDS; k++) {
                const char *v = get_str(j, id_fields[k]);
                if (v)
                    assert_true(set_add(&w->ids[k], v)); /* identities are unique */
            }
            assert_non_null(get_str(j, "phone"));
            assert_true(get_time(j, "created_at") < NOW_MS);
            break;
        case 3: {
            assert_true(set_add(&w->orders, get_str(j, "id")));
            assert_true(set_has(&w->ids[0], get_str(json_object_get(j, "customer"), "phone")));
            assert_true(set_has(&w->stores, get_str(j, "store")));
            json_t *hist = json_object_get(j, "history");
            assert_true(json_array_size(hist) > 0);
            int64_t prev = get_time(j, "created_at");
            size_t i;
            json_t *h;
            const char *last = NULL;
            json_array_foreach(hist, i, h) {
                int64_t at = get_time(h, "at");
                assert_true(at >= prev && at <= NOW_MS);
                prev = at;
                last = get_str(h, "status");
            }
            assert_string_equal(last, get_str(j, "status"));
            assert_true(json_is_number(json_object_get(j, "total")));
            break;
        }
        case 4:
            assert_true(set_has(&w->ids[2], get_str(json_object_get(j, "customer"), "card")));
            assert_true(set_has(&w->stores, get_str(j, "store")));
            assert_true(get_time(j, "at") <= NOW_MS);
            break;
        case 5: {
            const char *card = get_str(json_object_get(j, "customer"), "card");
            assert_true(set_has(&w->ids[2], card));
            int64_t at = get_time(j, "at");
            assert_true(at >= last_bonus_at && at <= NOW_MS); /* ledger in time order */
            last_bonus_at = at;
            json_t *amount = json_object_get(j, "amount");
            assert_true(json_is_integer(amount));
            /* Find this card's running balance. */
            int slot = -1;
            if (set_add(&balance_index, card)) {
                balance_keys[n_balance] = xstrdup(card);
                slot = n_balance++;
            } else {
                for (int b = 0; b < n_balance; b++)
                    if (strcmp(balance_keys[b], card) == 0) {
                        slot = b;
                        break;
                    }
            }
            assert_true(slot >= 0);
            balance[slot] += json_integer_value(amount);
            assert_true(balance[slot] >= 0);
            break;
        }
        case 6:
            check_request(w, j);
            break;
        default:
            break;
        }
        json_decref(j);
    }
    int n_orders, n_purchases;
    demo_planned_counts(o, &n_orders, &n_purchases);
    assert_true(w->counts[0] >= 6 && w->counts[0] <= 8);
    assert_int_equal(w->counts[1], o->n_stores);
    assert_int_equal(w->counts[2], o->n_customers);
    assert_int_equal(w->counts[3], n_orders);
    assert_int_equal(w->counts[4], n_purchases);
    assert_true(w->counts[5] > 0);
    assert_int_equal(w->counts[6], o->n_requests);

    for (int b = 0; b < n_balance; b++)
        free(balance_keys[b]);
    free(balance_keys);
    free(balance);
    set_free(&balance_index);
}

static void world_free(struct world *w)
{
    set_free(&w->stores);
    set_free(&w->orders);
    set_free(&w->texts);
    for (int k = 0; k < N_ID_FIELDS; k++)
        set_free(&w->ids[k]);
}

/* ---- tests -------------------------------------------------------------- */

static void test_small_run_is_consistent(void **state)
{
    (void)state;
    struct demo_options o;
    small_options(&o, 42);
    struct lines l = {0};
    assert_int_equal(demo_generate(&o, collect, &l), 0);
    struct world w;
    check_run(&l, &o, &w);
    double distinct = (double)w.texts.n / (double)o.n_requests;
    if (distinct < 0.7)
        fail_msg("only %.2f of texts are distinct", distinct);
    world_free(&w);
    lines_free(&l);
}

static bool same_output(const struct lines *a, const struct lines *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

static void test_seed_decides_output(void **state)
{
    (void)state;
    struct demo_options o;
    struct lines a = {0}, b = {0}, c = {0};
    small_options(&o, 7);
    assert_int_equal(demo_generate(&o, collect, &a), 0);
    assert_int_equal(demo_generate(&o, collect, &b), 0);
    small_options(&o, 8);
    assert_int_equal(demo_generate(&o, collect, &c), 0);
    assert_true(same_output(&a, &b));
    assert_false(same_output(&a, &c));
    lines_free(&a);
    lines_free(&b);
    lines_free(&c);
}

struct channel_count {
    int n[15];
    int n_requests;
};

/* Count channels straight from the text: request lines start with type, channel. */
static int count_channels(void *ctx, const char *line, size_t len)
{
    struct channel_count *cc = ctx;
    static const char prefix[] = "{\"type\":\"request\",\"channel\":\"";
    size_t plen = sizeof prefix - 1;
    if (len < plen || memcmp(line, prefix, plen) != 0)
        return 0;
    cc->n_requests++;
    for (int i = 0; i < 15; i++) {
        size_t n = strlen(channels[i]);
        if (len > plen + n && memcmp(line + plen, channels[i], n) == 0 && line[plen + n] == '"') {
            cc->n[i]++;
            return 0;
        }
    }
    return 1; /* an unknown channel stops the run */
}

static void test_default_run_uses_every_channel(void **state)
{
    (void)state;
    struct demo_options o;
    demo_options_default(&o);
    o.now_ms = NOW_MS;
    struct channel_count cc = {0};
    assert_int_equal(demo_generate(&o, count_channels, &cc), 0);
    assert_int_equal(cc.n_requests, 50000);
    for (int i = 0; i < 15; i++) {
        if (cc.n[i] < 200)
            fail_msg("channel %s has only %d requests", channels[i], cc.n[i]);
    }
    /* Messengers and the phone lead; QR codes and social posts are rarer. */
    assert_true(cc.n[0] > cc.n[10] && cc.n[5] > cc.n[13]);
}

static void test_emit_error_stops(void **state)
{
    (void)state;
    struct demo_options o;
    small_options(&o, 1);
    struct lines l = {.stop_after = 10};
    assert_int_equal(demo_generate(&o, collect, &l), 7);
    assert_int_equal(l.n, 10);
    lines_free(&l);
}

static void test_defaults(void **state)
{
    (void)state;
    struct demo_options o;
    demo_options_default(&o);
    assert_int_equal(o.n_stores, 60);
    assert_int_equal(o.n_customers, 20000);
    assert_int_equal(o.n_requests, 50000);
    assert_true(o.now_ms > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_small_run_is_consistent),
        cmocka_unit_test(test_seed_decides_output),
        cmocka_unit_test(test_emit_error_stops),
        cmocka_unit_test(test_default_run_uses_every_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
