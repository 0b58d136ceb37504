/*
 * retrain.c - exporting operator corrections and retraining the topic model.
 */
#include "jobs/retrain.h"

#include "api/api.h"
#include "core/log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write s with tabs, CR and LF as spaces. */
static void put_flat(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

int retrain_export_corrections(struct store *s, const char *path, size_t *out_n,
                               struct err_info *err)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return err_set(err, ERR_IO, "corrections", "cannot write %s", path);
    struct db *r = store_reader(s);
    /* The latest correction of each request wins; the text is what the customer wrote. */
    sqlite3_stmt *st = db_stmt(
        r, "SELECT c.new_topic, q.subject, (SELECT m.body FROM messages m WHERE m.request_id = "
           "q.id ORDER BY m.id LIMIT 1) FROM topic_corrections c JOIN requests q ON "
           "q.id = c.request_id WHERE c.id = (SELECT MAX(id) FROM topic_corrections x WHERE "
           "x.request_id = c.request_id) ORDER BY c.id");
    size_t n = 0;
    while (db_step(r, st, NULL) == 1) {
        const char *topic = db_col_text(st, 0), *subject = db_col_text(st, 1),
                   *body = db_col_text(st, 2);
        if (topic == NULL || body == NULL)
            continue;
        fprintf(f, "%s\t", topic);
        if (subject) {
            put_flat(f, subject);
            fputs(". ", f);
        }
        put_flat(f, body);
        fputc('\n', f);
        n++;
    }
    sqlite3_reset(st);
    store_reader_done(s, r);
    if (fclose(f) != 0)
        return err_set(err, ERR_IO, "corrections", "cannot write %s", path);
    *out_n = n;
    return 0;
}

int64_t retrain_count_corrections(struct store *s)
{
    struct db *r = store_reader(s);
    sqlite3_stmt *st = db_stmt(r, "SELECT COUNT(*) FROM topic_corrections");
    int64_t n = db_step(r, st, NULL) == 1 ? db_col_i64(st, 0) : 0;
    sqlite3_reset(st);
    store_reader_done(s, r);
    return n;
}

int retrain_topic_model(struct store *s, const char *seed_tsv, const char *current_model,
                        const char *out_model, struct retrain_report *rep,
                        size_t *out_n_corrections, struct err_info *err)
{
    char corrections[PATH_MAX];
    snprintf(corrections, sizeof corrections, "%s.corrections-%d.tsv", out_model, (int)getpid());
    size_t n = 0;
    int rc = retrain_export_corrections(s, corrections, &n, err);
    if (rc == 0)
        rc = classify_retrain(seed_tsv, corrections, current_model, out_model, rep, err);
    unlink(corrections);
    if (out_n_corrections)
        *out_n_corrections = n;
    if (rc == 0)
        log_info("retrain corrections=%zu train=%zu holdout=%zu old_f1=%.4f new_f1=%.4f kept_old=%d",
                 n, rep->n_train, rep->n_holdout, rep->old_macro_f1, rep->new_macro_f1,
                 rep->is_kept_old);
    return rc;
}

int64_t retrain_tick(struct app *app, int64_t now_ms)
{
    (void)now_ms;
    /* The scheduler runs every job at start; the first retrain waits a day, and
     * a retrain is only worth it when operators corrected something since. */
    static int64_t seen_corrections = -1;
    int64_t n = retrain_count_corrections(app->store);
    if (seen_corrections < 0 || n == seen_corrections) {
        seen_corrections = n;
        return RETRAIN_INTERVAL_MS;
    }
    seen_corrections = n;
    char seed[PATH_MAX + 64], current[PATH_MAX + 64], out[PATH_MAX + 64];
    api_model_shipped_path(app, API_MODEL_TOPIC, seed, sizeof seed);
    char *slash = strrchr(seed, '/');
    if (slash)
        snprintf(slash + 1, sizeof seed - (size_t)(slash + 1 - seed), "topic_seed.tsv");
    api_model_path(app, API_MODEL_TOPIC, current, sizeof current);
    api_model_retrained_path(app, out, sizeof out);
    struct retrain_report rep;
    struct err_info err = {0};
    if (retrain_topic_model(app->store, seed, current, out, &rep, NULL, &err) != 0) {
        log_warn("retrain failed: %s", err.message);
        return RETRAIN_INTERVAL_MS;
    }
    if (rep.is_kept_old)
        return RETRAIN_INTERVAL_MS;
    struct classifier *fresh = NULL;
    if (classifier_load(out, &fresh, &err) != 0) {
        log_warn("retrain cannot load %s: %s", out, err.message);
        return RETRAIN_INTERVAL_MS;
    }
    api_model_swap(app, API_MODEL_TOPIC, fresh);
    log_info("retrain model=%s in service", out);
    return RETRAIN_INTERVAL_MS;
}
