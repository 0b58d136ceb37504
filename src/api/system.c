/*
 * system.c - health, Prometheus metrics, and the small read-only
 * catalogue endpoints (stores, users, vocabulary, settings).
 */
#include "api/api.h"

#include "core/clock.h"
#include "core/metrics.h"

#include <stdio.h>
#include <string.h>

int api_healthz(struct http_request *req, struct http_response *resp)
{
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT 1");
    int rc = db_step(r, st, &req->err);
    sqlite3_reset(st);
    json_t *lag = rc == 1 ? store_consumers_lag(r, store_hub_last_id(req->app->store)) : NULL;
    store_reader_done(req->app->store, r);
    if (rc != 1)
        return err_set(&req->err, ERR_UNAVAILABLE, "", "the database does not answer");
    /* consumers_lag: events each worker (rules, rollups, surveys) has still to process,
     * and search_backlog: imported messages not yet in the search index. */
    http_reply_json(resp, 200,
                    json_pack("{s:s, s:I, s:I, s:o}", "status", "ok", "uptime_s",
                              (json_int_t)((clock_now_ms() - req->app->started_at_ms) / 1000),
                              "writer_queue", (json_int_t)store_queue_depth(req->app->store),
                              "consumers_lag", lag));
    return 0;
}

int api_metrics(struct http_request *req, struct http_response *resp)
{
    struct buf *b = &resp->body;
    buf_puts(b, "# HELP otklik_requests_created_total Requests created by intake, by channel.\n"
                "# TYPE otklik_requests_created_total counter\n");
    for (int i = 0; model_channels[i] && i < METRIC_MAX_CHANNELS; i++)
        buf_printf(b, "otklik_requests_created_total{channel=\"%s\"} %llu\n", model_channels[i],
                   (unsigned long long)atomic_load(&metric_requests_created[i]));
    buf_printf(b,
               "# HELP otklik_requests_deduplicated_total Deliveries recognised as repeats.\n"
               "# TYPE otklik_requests_deduplicated_total counter\n"
               "otklik_requests_deduplicated_total %llu\n",
               (unsigned long long)atomic_load(&metric_requests_deduplicated));
    buf_puts(b, "# HELP otklik_http_responses_total HTTP responses by status class.\n"
                "# TYPE otklik_http_responses_total counter\n");
    for (int c = 1; c <= 5; c++)
        buf_printf(b, "otklik_http_responses_total{class=\"%dxx\"} %llu\n", c,
                   (unsigned long long)atomic_load(&metric_http_responses[c]));
    buf_printf(b,
               "# HELP otklik_http_spooled_bodies_total Bulk bodies (imports) kept in a "
               "temporary file as they arrived instead of in memory.\n"
               "# TYPE otklik_http_spooled_bodies_total counter\n"
               "otklik_http_spooled_bodies_total %llu\n"
               "# HELP otklik_http_spooled_bytes_total Bytes of those bodies.\n"
               "# TYPE otklik_http_spooled_bytes_total counter\n"
               "otklik_http_spooled_bytes_total %llu\n",
               (unsigned long long)atomic_load(&metric_http_spooled_bodies),
               (unsigned long long)atomic_load(&metric_http_spooled_bytes));
    histogram_write(b, "otklik_http_request_duration_seconds", "Time to handle an HTTP request.",
                    &metric_http_seconds);
    histogram_write(b, "otklik_commit_duration_seconds",
                    "Time of one group commit, from BEGIN to durable.", &metric_commit_seconds);
    buf_printf(b,
               "# HELP otklik_writer_queue_depth Write jobs waiting for the writer.\n"
               "# TYPE otklik_writer_queue_depth gauge\notklik_writer_queue_depth %d\n"
               "# HELP otklik_stream_clients Open live-stream connections.\n"
               "# TYPE otklik_stream_clients gauge\notklik_stream_clients %lld\n",
               store_queue_depth(req->app->store), (long long)atomic_load(&metric_sse_clients));
    struct store_checkpoints ck = store_checkpoints(req->app->store);
    buf_printf(b,
               "# HELP otklik_wal_checkpoints_total WAL checkpoints, by who ran them: the "
               "checkpoint thread at the WAL's threshold or after a quiet second, the writer "
               "only when the WAL reached its hard limit with the thread behind.\n"
               "# TYPE otklik_wal_checkpoints_total counter\n"
               "otklik_wal_checkpoints_total{by=\"thread\"} %llu\n"
               "otklik_wal_checkpoints_total{by=\"idle\"} %llu\n"
               "otklik_wal_checkpoints_total{by=\"writer\"} %llu\n"
               "# HELP otklik_wal_checkpoint_paced_total Pieces of 1 MiB the checkpoint thread "
               "sent to disk one after another instead of all at once.\n"
               "# TYPE otklik_wal_checkpoint_paced_total counter\n"
               "otklik_wal_checkpoint_paced_total %llu\n",
               (unsigned long long)ck.by_thread, (unsigned long long)ck.when_idle,
               (unsigned long long)ck.by_writer, (unsigned long long)ck.paced);
    struct store_syncs sy = store_syncs(req->app->store);
    buf_printf(b,
               "# HELP otklik_wal_syncs_total WAL fsyncs that acknowledged committed batches.\n"
               "# TYPE otklik_wal_syncs_total counter\notklik_wal_syncs_total %llu\n"
               "# HELP otklik_wal_synced_batches_total Committed batches those fsyncs made "
               "durable (several a sync while the disk is the slower part).\n"
               "# TYPE otklik_wal_synced_batches_total counter\n"
               "otklik_wal_synced_batches_total %llu\n",
               (unsigned long long)sy.syncs, (unsigned long long)sy.batches);
    struct db *r = store_reader(req->app->store);
    json_t *lag = store_consumers_lag(r, store_hub_last_id(req->app->store));
    store_reader_done(req->app->store, r);
    buf_puts(b, "# HELP otklik_consumer_lag_events Events a worker (rules, rollups, surveys) has "
                "still to process.\n# TYPE otklik_consumer_lag_events gauge\n");
    const char *name;
    json_t *v;
    json_object_foreach(lag, name, v)
    {
        if (strcmp(name, "search_backlog") == 0)
            continue; /* rows, not events: below */
        buf_puts(b, "otklik_consumer_lag_events{consumer=\"");
        buf_puts(b, name); /* consumer names are constants of the program */
        buf_printf(b, "\"} %lld\n", (long long)json_integer_value(v));
    }
    buf_printf(b,
               "# HELP otklik_search_backlog_rows Imported messages whose terms wait to be "
               "moved into the search index.\n# TYPE otklik_search_backlog_rows gauge\n"
               "otklik_search_backlog_rows %lld\n",
               (long long)json_integer_value(json_object_get(lag, "search_backlog")));
    json_decref(lag);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}

int api_stores_list(struct http_request *req, struct http_response *resp)
{
    json_t *o;
    struct db *r = store_reader(req->app->store);
    int rc = store_stores_list(r, &o, &req->err);
    store_reader_done(req->app->store, r);
    if (rc == 0)
        http_reply_json(resp, 200, json_pack("{s:o}", "items", o));
    return rc;
}

int api_users_list(struct http_request *req, struct http_response *resp)
{
    json_t *o;
    struct db *r = store_reader(req->app->store);
    int rc = store_users_list(r, &o, &req->err);
    store_reader_done(req->app->store, r);
    if (rc == 0)
        http_reply_json(resp, 200, json_pack("{s:o}", "items", o));
    return rc;
}

static json_t *list_json(const char *const *list)
{
    json_t *a = json_array();
    for (int i = 0; list[i]; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}

int api_vocabulary(struct http_request *req, struct http_response *resp)
{
    (void)req;
    http_reply_json(resp, 200,
                    json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "channels",
                              list_json(model_channels), "kinds", list_json(model_kinds),
                              "statuses", list_json(model_statuses), "priorities",
                              list_json(model_priorities), "topics", list_json(model_topics),
                              "sentiments", list_json(model_sentiments), "order_statuses",
                              list_json(model_order_statuses)));
    return 0;
}

int api_settings_get(struct http_request *req, struct http_response *resp)
{
    const struct config *c = req->app->cfg;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:b}", "listen",
                  c->listen, "db", c->db, "log_level", c->log_level, "models_dir", c->models_dir,
                  "max_body_bytes", (json_int_t)c->max_body_bytes, "import_max_bytes",
                  (json_int_t)c->import_max_bytes, "max_connections",
                  (json_int_t)c->max_connections, "readers", (json_int_t)c->readers,
                  "session_ttl_s", (json_int_t)c->session_ttl_s, "cookie_secure",
                  c->cookie_secure, "topic_model", req->app->topic != NULL, "sentiment_model",
                  req->app->sentiment != NULL);
    char url[sizeof c->public_url];
    config_public_url(c, url, sizeof url);
    json_object_set_new(o, "public_url", json_string(url));
    http_reply_json(resp, 200, o);
    return 0;
}
