/*
 * enrich.c - understanding a request on arrival: topic and sentiment with
 * calibrated confidences, and the Eisenhower urgency/importance assessment
 * that sets the priority.  Runs in the HTTP thread before the request is
 * handed to the writer, so it costs the writer nothing.  The signals used are
 * kept as a request.classified event so a person can see why.
 */
#include "api/api.h"

#include "classify/classify.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Below this confidence a person should check the label. */
#define REVIEW_CONFIDENCE 0.5

static const char *const model_files[] = {"topic.bin", "sentiment.bin"};

static struct classifier **slot(struct app *app, enum api_model_kind kind)
{
    return kind == API_MODEL_TOPIC ? &app->topic : &app->sentiment;
}

struct classifier *api_model(struct app *app, enum api_model_kind kind)
{
    return __atomic_load_n(slot(app, kind), __ATOMIC_ACQUIRE);
}

void api_model_swap(struct app *app, enum api_model_kind kind, struct classifier *fresh)
{
    struct classifier *old = __atomic_exchange_n(slot(app, kind), fresh, __ATOMIC_ACQ_REL);
    /* Requests still predicting with `old` finish within seconds; it is freed
     * at the next swap (a day later at the soonest) or at shutdown. */
    classifier_free(app->retired[kind]);
    app->retired[kind] = old;
}

void api_model_shipped_path(struct app *app, enum api_model_kind kind, char *out, size_t cap)
{
    const char *dir = app->cfg->models_dir;
    snprintf(out, cap, "%s/%s", dir, model_files[kind]);
    struct stat sb;
    if (dir[0] == '/' || stat(out, &sb) == 0)
        return;
    /* A relative directory not found from here: try beside the binary (build/../models). */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return;
    *slash = '\0';
    struct buf alt;
    buf_init(&alt, 2 * PATH_MAX);
    buf_printf(&alt, "%s/../%s/%s", exe, dir, model_files[kind]);
    if (buf_error(&alt) == 0 && alt.len < cap && stat(buf_cstr(&alt), &sb) == 0)
        memcpy(out, buf_cstr(&alt), alt.len + 1);
    buf_free(&alt);
}

void api_model_retrained_path(struct app *app, char *out, size_t cap)
{
    struct buf b;
    buf_init(&b, cap);
    buf_printf(&b, "%s.topic.bin", app->cfg->db);
    snprintf(out, cap, "%s", buf_error(&b) == 0 ? buf_cstr(&b) : "");
    buf_free(&b);
}

void api_model_path(struct app *app, enum api_model_kind kind, char *out, size_t cap)
{
    struct stat sb;
    if (kind == API_MODEL_TOPIC) {
        api_model_retrained_path(app, out, cap);
        if (out[0] && stat(out, &sb) == 0)
            return;
    }
    api_model_shipped_path(app, kind, out, cap);
}

void api_load_models(struct app *app)
{
    for (int k = API_MODEL_TOPIC; k <= API_MODEL_SENTIMENT; k++) {
        char path[PATH_MAX + 64];
        api_model_path(app, (enum api_model_kind)k, path, sizeof path);
        struct classifier *c = NULL;
        struct err_info err = {0};
        if (classifier_load(path, &c, &err) != 0) {
            log_warn("classify model=%s not loaded: %s", path, err.message);
            continue;
        }
        *slot(app, (enum api_model_kind)k) = c;
        log_debug("classify model=%s labels=%zu", path, classifier_n_labels(c));
    }
}

void api_free_models(struct app *app)
{
    for (int k = API_MODEL_TOPIC; k <= API_MODEL_SENTIMENT; k++) {
        classifier_free(*slot(app, (enum api_model_kind)k));
        *slot(app, (enum api_model_kind)k) = NULL;
        classifier_free(app->retired[k]);
        app->retired[k] = NULL;
    }
}

/* What the store knows of the customer that bears on importance and urgency. */
static void customer_context(struct app *app, const struct request_in *in,
                             struct urgency_context *ctx)
{
    int first = -1;
    for (int i = 0; i < MODEL_N_IDENTITY_KINDS && first < 0; i++)
        if (in->customer.ids[i])
            first = i;
    if (first < 0)
        return;
    int64_t now = clock_now_ms();
    struct db *r = store_reader(app->store);
    /* One indexed query: tier, same-topic contacts in 30 days, an open order due today. */
    sqlite3_stmt *st = db_stmt(
        r, "SELECT c.tier, "
           "(SELECT COUNT(*) FROM requests q WHERE q.customer_id = c.id AND q.topic = $3 "
           "AND q.created_at_ms > $4), "
           "EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.promised_at_ms "
           "BETWEEN $5 AND $6 AND o.status <> 'delivered' AND o.status <> 'cancelled' "
           "AND o.status <> 'returned') "
           "FROM identities i JOIN customers c ON c.id = i.customer_id "
           "WHERE i.kind = $1 AND i.value = $2");
    db_bind_text(st, 1, model_identity_kinds[first].kind, -1);
    db_bind_text(st, 2, in->customer.ids[first], -1);
    db_bind_text(st, 3, in->topic, -1);
    db_bind_i64(st, 4, now - 30LL * 86400 * 1000);
    db_bind_i64(st, 5, now);
    db_bind_i64(st, 6, now + 86400LL * 1000);
    if (db_step(r, st, NULL) == 1) {
        const char *tier = db_col_text(st, 0);
        ctx->is_high_value = tier && (strcmp(tier, "gold") == 0 || strcmp(tier, "vip") == 0);
        ctx->n_recent_contacts = (int)db_col_i64(st, 1);
        ctx->has_order_due_today = db_col_i64(st, 2) != 0;
    }
    sqlite3_reset(st);
    store_reader_done(app->store, r);
}

static void put_prediction(struct buf *b, const char *key, const struct prediction *p,
                           const struct classifier *c)
{
    struct classifier_summary sum;
    classifier_describe(c, &sum);
    buf_putc(b, '"');
    buf_puts(b, key);
    buf_puts(b, "\":{\"label\":");
    buf_put_json_str(b, p->label);
    buf_puts(b, ",\"confidence\":");
    buf_put_fixed(b, p->confidence, 4);
    buf_puts(b, ",\"model_trained_at_ms\":");
    buf_put_i64(b, sum.trained_at_ms);
    buf_putc(b, '}');
}

void api_enrich_request(struct app *app, struct request_in *in, struct arena *a)
{
    struct classifier *topic = api_model(app, API_MODEL_TOPIC);
    struct classifier *sentiment = api_model(app, API_MODEL_SENTIMENT);
    /* The subject is part of what the customer said. */
    const char *text = in->subject ? arena_printf(a, "%s. %s", in->subject, in->text) : in->text;
    size_t len = strlen(text);
    struct prediction pt = {0}, ps = {0};
    if (topic && classifier_predict(topic, text, len, &pt) == 0 &&
        model_find(model_topics, pt.label) >= 0) {
        in->topic = model_topics[model_find(model_topics, pt.label)];
        in->topic_confidence = pt.confidence;
    }
    if (sentiment && classifier_predict(sentiment, text, len, &ps) == 0 &&
        model_find(model_sentiments, ps.label) >= 0) {
        in->sentiment = model_sentiments[model_find(model_sentiments, ps.label)];
        in->sentiment_confidence = ps.confidence;
    }
    struct urgency_context ctx = {
        .topic = in->topic,
        .sentiment = in->sentiment,
        .sentiment_conf = in->sentiment_confidence,
        .is_public = strcmp(in->channel, "social") == 0 || strcmp(in->channel, "review") == 0,
    };
    customer_context(app, in, &ctx);
    struct urgency_result u;
    urgency_assess(text, len, &ctx, &u);
    in->priority = urgency_priority_name(u.priority);
    in->needs_review = (in->topic && in->topic_confidence < REVIEW_CONFIDENCE) ||
                       (in->sentiment && in->sentiment_confidence < REVIEW_CONFIDENCE);

    struct buf b;
    buf_init(&b, 0);
    buf_putc(&b, '{');
    if (in->topic) {
        put_prediction(&b, "topic", &pt, topic);
        buf_putc(&b, ',');
    }
    if (in->sentiment) {
        put_prediction(&b, "sentiment", &ps, sentiment);
        buf_putc(&b, ',');
    }
    buf_puts(&b, "\"quadrant\":");
    buf_put_json_str(&b, urgency_quadrant_name(u.quadrant));
    buf_puts(&b, ",\"priority\":");
    buf_put_json_str(&b, in->priority);
    buf_puts(&b, ",\"urgency_score\":");
    buf_put_i64(&b, u.urgency_score);
    buf_puts(&b, ",\"importance_score\":");
    buf_put_i64(&b, u.importance_score);
    buf_puts(&b, in->needs_review ? ",\"needs_review\":true,\"signals\":["
                                  : ",\"needs_review\":false,\"signals\":[");
    for (size_t i = 0; i < u.n_signals; i++) {
        if (i)
            buf_putc(&b, ',');
        buf_put_json_str(&b, u.signals[i]);
    }
    buf_puts(&b, "],\"context\":{\"recent_contacts\":");
    buf_put_i64(&b, ctx.n_recent_contacts);
    buf_puts(&b, ctx.is_high_value ? ",\"high_value\":true" : ",\"high_value\":false");
    buf_puts(&b, ctx.has_order_due_today ? ",\"order_due_today\":true"
                                         : ",\"order_due_today\":false");
    buf_puts(&b, ctx.is_public ? ",\"public\":true}}" : ",\"public\":false}}");
    in->classify_json = arena_strndup(a, buf_cstr(&b), b.len);
    buf_free(&b);
}
