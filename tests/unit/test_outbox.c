/*
 * test_outbox.c - queueing replies inside the caller's job: the request's
 * own route, the customer's reachable channel for proactive messages,
 * silence for phone requests, and delivery reports that never move a
 * message's state backwards.
 */
#include "testutil.h"

#include "channels/channels_int.h"
#include "channels/outbox.h"
#include "intake/intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    char path[128];
    struct store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/otklik-outbox-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    struct err_info err = {0};
    if (store_open(f->path, NULL, &f->s, &err) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    char p[200];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

struct seed {
    int64_t tg_channel, req_tg, req_phone, req_api, customer_phone_only;
};

/* Two channels, a Telegram request with its route, a phone request, an API-made request. */
static int job_seed(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct seed *s = arg;
    struct db *db = store_tx_db(tx);
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO channels (adapter, name, secrets, settings, "
                                   "is_active, created_at_ms, updated_at_ms) VALUES ($1, $2, 'x', "
                                   "'{}', 1, 1, 1)");
    db_bind_text(st, 1, "telegram", -1);
    db_bind_text(st, 2, "bot", -1);
    if (db_run(db, st, err) != 0)
        return -1;
    s->tg_channel = db_last_id(db);
    st = db_stmt(db, "INSERT INTO channels (adapter, name, secrets, settings, "
                     "is_active, created_at_ms, updated_at_ms) VALUES ($1, $2, 'x', "
                     "'{}', 1, 1, 1)");
    db_bind_text(st, 1, "smsru", -1);
    db_bind_text(st, 2, "sms", -1);
    if (db_run(db, st, err) != 0)
        return -1;
    struct request_in in = {.channel = "telegram", .source_id = "tg:1:1", .text = "привет",
                            .kind = "question", .search_terms = "привет"};
    in.customer.ids[3] = "555"; /* telegram */
    struct request_out out;
    if (store_request_create(tx, &in, &out, err) != 0)
        return -1;
    s->req_tg = out.id;
    st = db_stmt(db, "INSERT INTO channel_routes (request_id, channel_id, peer, meta, "
                     "updated_at_ms) VALUES ($1, $2, '-100777', '{}', 1)");
    db_bind_i64(st, 1, out.id);
    db_bind_i64(st, 2, s->tg_channel);
    if (db_run(db, st, err) != 0)
        return -1;
    struct request_in ph = {.channel = "phone", .text = "звонок", .kind = "question",
                            .search_terms = "звонок"};
    ph.customer.ids[0] = "+79160000001";
    if (store_request_create(tx, &ph, &out, err) != 0)
        return -1;
    s->req_phone = out.id;
    s->customer_phone_only = out.customer_id;
    struct request_in web = {.channel = "web", .text = "форма", .kind = "question",
                             .search_terms = "форма"};
    web.customer.ids[3] = "555"; /* the same Telegram user, by identity */
    if (store_request_create(tx, &web, &out, err) != 0)
        return -1;
    s->req_api = out.id;
    return 0;
}

struct enqueue_job {
    struct outbox_msg m;
    int64_t id;
};

static int job_enqueue(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct enqueue_job *j = arg;
    return outbox_enqueue(tx, &j->m, &j->id, err);
}

static void row(struct store *s, int64_t id, char *recipient, size_t cap, int64_t *channel,
                char *status, size_t scap)
{
    struct db *r = store_reader(s);
    sqlite3_stmt *st = db_stmt(r, "SELECT recipient, channel_id, status FROM outbox WHERE id = $1");
    db_bind_i64(st, 1, id);
    assert_int_equal(db_step(r, st, NULL), 1);
    snprintf(recipient, cap, "%s", db_col_text(st, 0));
    *channel = db_col_i64(st, 1);
    snprintf(status, scap, "%s", db_col_text(st, 2));
    sqlite3_reset(st);
    store_reader_done(s, r);
}

static int64_t count_events(struct store *s, const char *type, int64_t request_id)
{
    struct db *r = store_reader(s);
    sqlite3_stmt *st = db_stmt(r, "SELECT COUNT(*) FROM events WHERE type = $1 AND request_id = $2");
    db_bind_text(st, 1, type, -1);
    db_bind_i64(st, 2, request_id);
    int64_t n = db_step(r, st, NULL) == 1 ? db_col_i64(st, 0) : -1;
    sqlite3_reset(st);
    store_reader_done(s, r);
    return n;
}

static void test_routes(void **state)
{
    struct fixture *f = *state;
    struct seed sd = {0};
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_seed, &sd, &err), 0);
    char rcpt[64], status[16];
    int64_t ch;

    /* A reply follows the request's route: the group chat, not the user. */
    struct enqueue_job j = {.m = {.request_id = sd.req_tg, .body = "ответ", .kind = "reply"}};
    assert_int_equal(store_write(f->s, job_enqueue, &j, &err), 0);
    assert_true(j.id > 0);
    row(f->s, j.id, rcpt, sizeof rcpt, &ch, status, sizeof status);
    assert_string_equal(rcpt, "-100777");
    assert_int_equal(ch, sd.tg_channel);
    assert_string_equal(status, "queued");
    assert_int_equal(count_events(f->s, "outbox.queued", sd.req_tg), 1);

    /* No route of its own: the customer's reachable identity (Telegram id 555). */
    struct enqueue_job p = {.m = {.request_id = sd.req_api, .body = "уведомление", .kind = "notice"}};
    assert_int_equal(store_write(f->s, job_enqueue, &p, &err), 0);
    assert_true(p.id > 0);
    row(f->s, p.id, rcpt, sizeof rcpt, &ch, status, sizeof status);
    assert_string_equal(rcpt, "555");

    /* A phone customer is reachable by SMS when asked for that channel... */
    struct enqueue_job sms = {.m = {.customer_id = sd.customer_phone_only, .channel = "sms",
                                    .body = "опрос", .kind = "survey"}};
    assert_int_equal(store_write(f->s, job_enqueue, &sms, &err), 0);
    assert_true(sms.id > 0);
    row(f->s, sms.id, rcpt, sizeof rcpt, &ch, status, sizeof status);
    assert_string_equal(rcpt, "+79160000001");

    /* ...but a reply on a phone request is spoken, not sent: nothing queued, no event. */
    struct enqueue_job ph = {.m = {.request_id = sd.req_phone, .body = "перезвоним",
                                   .kind = "reply"}};
    assert_int_equal(store_write(f->s, job_enqueue, &ph, &err), 0);
    assert_int_equal(ph.id, 0);
    assert_int_equal(count_events(f->s, "outbox.unroutable", sd.req_phone), 0);

    struct enqueue_job bad = {.m = {.request_id = 999999, .body = "x"}};
    assert_int_equal(store_write(f->s, job_enqueue, &bad, &err), ERR_NOTFOUND);
}

struct status_job {
    int64_t channel_id;
    const char *ext, *status;
};

static int job_status(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct status_job *j = arg;
    json_t *item = json_pack("{s:s, s:s, s:I}", "external_id", j->ext, "status", j->status,
                             "at_ms", (json_int_t)1000);
    int rc = outbox_status_apply(tx, j->channel_id, item, err);
    json_decref(item);
    return rc;
}

static int job_mark_sent(struct store_tx *tx, void *arg, struct err_info *err)
{
    int64_t *id = arg;
    sqlite3_stmt *st = db_stmt(store_tx_db(tx), "UPDATE outbox SET status = 'sent', "
                                                "external_id = 'm-1' WHERE id = $1");
    db_bind_i64(st, 1, *id);
    return db_run(store_tx_db(tx), st, err);
}

static void test_status_order(void **state)
{
    struct fixture *f = *state;
    struct seed sd = {0};
    struct err_info err = {0};
    assert_int_equal(store_write(f->s, job_seed, &sd, &err), 0);
    struct enqueue_job j = {.m = {.request_id = sd.req_tg, .body = "ответ"}};
    assert_int_equal(store_write(f->s, job_enqueue, &j, &err), 0);
    assert_int_equal(store_write(f->s, job_mark_sent, &j.id, &err), 0);
    char rcpt[64], status[16];
    int64_t ch;
    static const char *const steps[][2] = {
        {"read", "read"}, {"delivered", "read"}, {"sent", "read"}, {"failed", "failed"},
    };
    for (size_t i = 0; i < 4; i++) {
        struct status_job s = {sd.tg_channel, "m-1", steps[i][0]};
        assert_int_equal(store_write(f->s, job_status, &s, &err), 0);
        row(f->s, j.id, rcpt, sizeof rcpt, &ch, status, sizeof status);
        assert_string_equal(status, steps[i][1]);
    }
    /* A report for a message of another channel, or unknown, changes nothing. */
    struct status_job other = {sd.tg_channel + 1, "m-1", "read"};
    assert_int_equal(store_write(f->s, job_status, &other, &err), 0);
    assert_int_equal(count_events(f->s, "outbox.read", sd.req_tg), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
