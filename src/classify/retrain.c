/*
 * retrain.c - the next topic model from the seed set plus operator
 * corrections, adopted only if it is at least as good as the current one on
 * a held-out part (see classify_retrain in classify.h).
 */
#include "classify/classify_int.h"

#include "core/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_CORRECTIONS_FOR_HOLDOUT 50

/* Deterministic 1-in-5 choice by the text, so reruns hold out the same examples. */
static bool is_held_out(const struct example *e)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < e->text_len; i++)
        h = (h ^ (unsigned char)e->text[i]) * 16777619u;
    h ^= h >> 13;
    return h % 5 == 0;
}

/* Copy the file src to dst atomically (temporary file + rename). */
static int copy_file(const char *src, const char *dst, struct err_info *err)
{
    size_t len = strlen(dst) + 16;
    char *tmp = xmalloc(len);
    snprintf(tmp, len, "%s.tmp%d", dst, (int)getpid());
    int rc = 0;
    FILE *in = fopen(src, "rb");
    FILE *out = in ? fopen(tmp, "wb") : NULL;
    if (!in || !out) {
        rc = err_set(err, ERR_IO, "out", "cannot copy %s to %s: %s", src, dst, strerror(errno));
        goto out;
    }
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (fwrite(buf, 1, got, out) != got) {
            rc = err_set(err, ERR_IO, "out", "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
    }
    if (ferror(in))
        rc = err_set(err, ERR_IO, "out", "cannot read %s", src);
out:
    if (in)
        fclose(in);
    if (out) {
        if (fclose(out) != 0 && !rc)
            rc = err_set(err, ERR_IO, "out", "cannot write %s: %s", tmp, strerror(errno));
        if (!rc && rename(tmp, dst) != 0)
            rc = err_set(err, ERR_IO, "out", "cannot write %s: %s", dst, strerror(errno));
        if (rc)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

int classify_retrain(const char *seed_tsv, const char *corrections_tsv, const char *current_model,
                     const char *out_model, struct retrain_report *rep, struct err_info *err)
{
    struct dataset seed, corr, fit, held, all;
    struct classifier *old = NULL, *cand = NULL, *final = NULL;
    bool has_corr = false;
    memset(rep, 0, sizeof(*rep));
    dataset_init(&fit);
    dataset_init(&held);
    dataset_init(&all);
    int rc = dataset_read(seed_tsv, &seed, err);
    if (rc)
        goto out;
    if (corrections_tsv) {
        has_corr = true;
        rc = dataset_read(corrections_tsv, &corr, err);
        if (rc)
            goto out;
    }
    rep->n_seed = seed.n;
    rep->n_corrections = has_corr ? corr.n : 0;

    /* The current model, if there is a usable one, also gives the settings. */
    struct classify_train_options opt;
    classify_train_defaults(&opt);
    opt.hash_bits = 18;
    opt.is_quiet = true;
    if (current_model && classifier_load(current_model, &old, NULL) == 0) {
        opt.hash_bits = old->fc.hash_bits;
        opt.word_ngrams = old->fc.word_ngrams;
        opt.char_min = old->fc.char_min;
        opt.char_max = old->fc.char_max;
        opt.solver = old->sum.solver;
        opt.c = old->sum.c;
    }

    bool holdout_from_corr = rep->n_corrections >= MIN_CORRECTIONS_FOR_HOLDOUT;
    for (int part = 0; part < 2; part++) {
        const struct dataset *d = part == 0 ? &seed : &corr;
        if (part == 1 && !has_corr)
            break;
        for (size_t i = 0; i < d->n; i++) {
            const struct example *e = &d->ex[i];
            bool may_hold = holdout_from_corr ? part == 1 : true;
            struct dataset *to = may_hold && is_held_out(e) ? &held : &fit;
            dataset_add(to, e->label, e->text, e->text_len, e->line);
            dataset_add(&all, e->label, e->text, e->text_len, e->line);
        }
    }
    fit.path = all.path = held.path = seed_tsv;
    rep->n_train = fit.n;
    rep->n_holdout = held.n;

    rc = classify_train(&fit, NULL, NULL, &opt, &cand, err);
    if (rc)
        goto out;
    struct classify_eval ev_new, ev_old = {0};
    classify_eval(cand, &held, NULL, &ev_new);
    rep->new_macro_f1 = ev_new.macro_f1;
    rep->new_accuracy = ev_new.accuracy;
    if (old) {
        classify_eval(old, &held, NULL, &ev_old);
        rep->old_macro_f1 = ev_old.macro_f1;
        rep->old_accuracy = ev_old.accuracy;
    }
    if (old && ev_new.macro_f1 < ev_old.macro_f1) {
        rep->is_kept_old = true;
        if (strcmp(current_model, out_model) != 0)
            rc = copy_file(current_model, out_model, err);
        goto out;
    }
    /* The candidate won: ship the same recipe fitted on every example. */
    rc = classify_train(&all, NULL, NULL, &opt, &final, err);
    if (rc)
        goto out;
    final->sum.n_dev = (uint32_t)held.n;
    final->sum.dev_accuracy = ev_new.accuracy;
    final->sum.dev_macro_f1 = ev_new.macro_f1;
    rc = model_save(final, out_model, err);
out:
    classifier_free(old);
    classifier_free(cand);
    classifier_free(final);
    dataset_free(&fit);
    dataset_free(&held);
    dataset_free(&all);
    dataset_free(&seed);
    if (has_corr)
        dataset_free(&corr);
    return rc;
}
