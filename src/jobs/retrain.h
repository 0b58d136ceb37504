/*
 * retrain.h - the topic model learns from operators: every topic an operator
 * corrects is kept (topic_corrections); retraining builds the next model from
 * the shipped seed set plus those corrections and keeps the old one when the
 * new one is worse on a held-out part (classify_retrain).  The result is
 * written beside the database (<db>.topic.bin), never over the shipped model,
 * and is preferred when the server loads its models.  Run by `otklik classify
 * retrain --db FILE` and daily by the server when there are new corrections.
 */
#ifndef OTKLIK_RETRAIN_H
#define OTKLIK_RETRAIN_H

#include "classify/classify.h"
#include "core/err.h"
#include "store/store.h"

#include <stdint.h>

/*
 * Write the latest correction of every corrected request as `topic<TAB>text`
 * lines (text: subject and first message, tabs and newlines as spaces) to
 * path.  *out_n is the number of lines.
 */
int retrain_export_corrections(struct store *s, const char *path, size_t *out_n,
                               struct err_info *err);

/* Number of corrections stored (to tell whether a retrain has anything new). */
int64_t retrain_count_corrections(struct store *s);

/*
 * Retrain: seed_tsv plus the store's corrections, compared with current_model
 * (may be missing), written to out_model atomically (the current model copied
 * there when the candidate is worse).  *out_n_corrections is filled.
 */
int retrain_topic_model(struct store *s, const char *seed_tsv, const char *current_model,
                        const char *out_model, struct retrain_report *rep,
                        size_t *out_n_corrections, struct err_info *err);

/* Periodic job: retrain when corrections were added since the last run, swap the model in. */
struct app;
int64_t retrain_tick(struct app *app, int64_t now_ms);

#define RETRAIN_INTERVAL_MS (24LL * 3600 * 1000)

#endif
