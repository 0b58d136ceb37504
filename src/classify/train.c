/*
 * train.c - fitting a model: features of every example, document
 * frequencies and IDF, a liblinear problem of L2-normalised TF-IDF rows,
 * training, and temperature scaling of the decision values on held-out
 * examples so that confidences are calibrated probabilities.
 */
#include "classify/classify_int.h"

#include "core/clock.h"
#include "core/err.h"

#include <linear.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void classify_train_defaults(struct classify_train_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->hash_bits = 20;
    opt->word_ngrams = 2;
    opt->char_min = 4;
    opt->char_max = 4;
    opt->min_df = 1;
    opt->solver = L2R_L2LOSS_SVC_DUAL;
    opt->c = 0;
    opt->eps = 0;
}

/* ---- progress ----------------------------------------------------------- */

/* liblinear reports through one global callback, so training is one at a
 * time: classify_train holds train_lock throughout. */
static pthread_mutex_t train_lock = PTHREAD_MUTEX_INITIALIZER;

/* The state of the progress line of the training under way. */
static struct {
    bool is_quiet;
    bool is_tty;
    uint32_t n_classes; /* binary problems liblinear will solve */
    uint32_t done;
    uint64_t start_ns;
} progress;

static void progress_line(const char *what)
{
    if (progress.is_quiet)
        return;
    double s = (double)(clock_mono_ns() - progress.start_ns) / 1e9;
    fprintf(stderr, "%strain: %s (%.1f s)%s", progress.is_tty ? "\r\033[K" : "", what, s,
            progress.is_tty ? "" : "\n");
}

static void liblinear_print(const char *msg)
{
    /* Dual solvers end each one-vs-rest problem with "optimization finished",
     * the primal Newton solvers start each with "init f". */
    if (!strstr(msg, "optimization finished") && strncmp(msg, "init f", 6) != 0)
        return;
    progress.done++;
    if (progress.is_quiet ||
        (!progress.is_tty && progress.done % 10 != 0 && progress.done != progress.n_classes))
        return;
    char line[96];
    snprintf(line, sizeof(line), "solving %u/%u", progress.done, progress.n_classes);
    progress_line(line);
}

/* ---- features of a training set ------------------------------------- */

struct sparse_set {
    size_t n;
    size_t *off;      /* n + 1 offsets into bucket/count */
    uint32_t *bucket; /* feature buckets of each example */
    float *count;
    size_t nnz, cap;
};

static void sparse_build(const struct dataset *d, const size_t *idx, size_t n,
                         const struct feature_config *fc, struct sparse_set *s)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->off = xmalloc((n + 1) * sizeof(size_t));
    struct feat_scratch *fs = feat_scratch_get();
    for (size_t i = 0; i < n; i++) {
        const struct example *e = &d->ex[idx ? idx[i] : i];
        feat_extract(fc, e->text, e->text_len, fs);
        s->off[i] = s->nnz;
        if (s->nnz + fs->n_uniq > s->cap) {
            xgrow((void **)&s->bucket, &s->cap, s->nnz + fs->n_uniq, sizeof(uint32_t));
            s->count = xrealloc(s->count, s->cap * sizeof(float));
        }
        memcpy(s->bucket + s->nnz, fs->uniq, fs->n_uniq * sizeof(uint32_t));
        memcpy(s->count + s->nnz, fs->count, fs->n_uniq * sizeof(float));
        s->nnz += fs->n_uniq;
    }
    s->off[n] = s->nnz;
}

static void sparse_free(struct sparse_set *s)
{
    free(s->off);
    free(s->bucket);
    free(s->count);
}

static int cmp_node(const void *a, const void *b)
{
    const struct feature_node *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted distinct labels of d (strings owned by d). */
static const char **collect_labels(const struct dataset *d, uint32_t *n_out)
{
    const char **all = xmalloc((d->n ? d->n : 1) * sizeof(char *));
    for (size_t i = 0; i < d->n; i++)
        all[i] = d->ex[i].label;
    qsort(all, d->n, sizeof(char *), cmp_str);
    uint32_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (n == 0 || strcmp(all[n - 1], all[i]) != 0)
            all[n++] = all[i];
    }
    *n_out = n;
    return all;
}

/*
 * Fit weights on the examples idx[0..n-1] of d (all when idx is NULL) for
 * the given labels; returns a model without calibration.
 */
static struct classifier *fit(const struct dataset *d, const size_t *idx, size_t n,
                              const char **labels, uint32_t n_labels,
                              const struct classify_train_options *opt)
{
    struct feature_config fc = {
        .hash_bits = opt->hash_bits,
        .word_ngrams = opt->word_ngrams,
        .char_min = opt->char_min,
        .char_max = opt->char_max,
    };
    progress_line("extracting features");
    struct sparse_set s;
    sparse_build(d, idx, n, &fc, &s);

    /* Document frequencies, then compact ids for the buckets kept. */
    size_t n_buckets = (size_t)1 << fc.hash_bits;
    uint32_t *df = xcalloc(n_buckets, sizeof(uint32_t));
    for (size_t i = 0; i < s.nnz; i++)
        df[s.bucket[i]]++;
    uint32_t n_feat = 0;
    for (size_t b = 0; b < n_buckets; b++)
        n_feat += df[b] >= (opt->min_df ? opt->min_df : 1);
    struct classifier *c = model_new(&fc, n_labels, n_feat);
    uint32_t next = 0;
    for (size_t b = 0; b < n_buckets; b++) {
        if (df[b] >= (opt->min_df ? opt->min_df : 1)) {
            c->buckets[next] = (uint32_t)b;
            model_row(c, next)[n_labels] = (float)(log((1.0 + (double)n) / (1.0 + df[b])) + 1.0);
            df[b] = next++;
        } else {
            df[b] = CLASSIFY_NO_ROW;
        }
    }
    /* df now maps bucket → row. */

    /* The liblinear problem: one L2-normalised row per example plus the bias node. */
    struct feature_node *nodes = xmalloc((s.nnz + 2 * n) * sizeof(struct feature_node));
    struct feature_node **x = xmalloc((n ? n : 1) * sizeof(*x));
    double *y = xmalloc((n ? n : 1) * sizeof(double));
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const struct example *e = &d->ex[idx ? idx[i] : i];
        const char **found = bsearch(&e->label, labels, n_labels, sizeof(char *), cmp_str);
        y[i] = (double)(found - labels);
        x[i] = nodes + at;
        double norm2 = 0;
        size_t start = at;
        for (size_t j = s.off[i]; j < s.off[i + 1]; j++) {
            uint32_t row = df[s.bucket[j]];
            if (row == CLASSIFY_NO_ROW)
                continue;
            double v = feat_tf(s.count[j]) * model_row(c, row)[n_labels];
            nodes[at].index = (int)row + 1;
            nodes[at].value = v;
            norm2 += v * v;
            at++;
        }
        double inv = norm2 > 0 ? 1.0 / sqrt(norm2) : 0;
        for (size_t j = start; j < at; j++)
            nodes[j].value *= inv;
        qsort(nodes + start, at - start, sizeof(struct feature_node), cmp_node);
        nodes[at].index = (int)n_feat + 1; /* bias */
        nodes[at].value = 1.0;
        at++;
        nodes[at].index = -1;
        nodes[at].value = 0;
        at++;
    }
    sparse_free(&s);
    free(df);

    struct problem prob = {
        .l = (int)n,
        .n = (int)n_feat + 1,
        .y = y,
        .x = x,
        .bias = 1.0,
    };
    struct parameter param = {
        .solver_type = opt->solver,
        .C = opt->c > 0 ? opt->c : (opt->solver == L2R_LR || opt->solver == L2R_LR_DUAL ? 10 : 1),
        .eps = opt->eps > 0 ? opt->eps
                            : (opt->solver == L2R_LR || opt->solver == L2R_L2LOSS_SVC ? 0.01 : 0.1),
        .p = 0.1,
    };
    c->sum.c = param.C;
    c->sum.solver = param.solver_type;
    const char *bad = check_parameter(&prob, &param);
    if (bad) {
        /* Options are validated by the callers; this is a programmer error. */
        fprintf(stderr, "liblinear: %s\n", bad);
        abort();
    }
    uint32_t present = 0;
    for (uint32_t k = 0; k < n_labels; k++) {
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = (uint32_t)y[i] == k;
        present += seen;
    }
    progress.n_classes = present == 2 && opt->solver != MCSVM_CS ? 1 : present;
    progress.done = 0;
    set_print_string_function(liblinear_print);
    struct model *m = train(&prob, &param);

    /* Copy the weights into our layout: row-major per feature, one column per label. */
    int nr = m->nr_class;
    bool one_column = nr == 2 && param.solver_type != MCSVM_CS;
    float min_bias = 0;
    for (int k = 0; k < nr; k++) {
        uint32_t lab = (uint32_t)m->label[k];
        for (uint32_t j = 0; j <= n_feat; j++) {
            double w;
            if (one_column)
                w = k == 0 ? m->w[j] : -m->w[j];
            else
                w = m->w[(size_t)j * (size_t)nr + (size_t)k];
            if (j < n_feat)
                model_row(c, j)[lab] = (float)w;
            else
                c->bias[lab] = (float)w;
        }
        min_bias = k == 0 || c->bias[lab] < min_bias ? c->bias[lab] : min_bias;
    }
    /* A label absent from this subset can never win. */
    for (uint32_t k = 0; k < n_labels; k++) {
        bool in_model = false;
        for (int j = 0; j < nr; j++)
            in_model |= (uint32_t)m->label[j] == k;
        if (!in_model || nr == 1)
            c->bias[k] = nr == 1 && in_model ? 0 : min_bias - 10;
    }
    free_and_destroy_model(&m);
    free(nodes);
    free(x);
    free(y);

    for (uint32_t k = 0; k < n_labels; k++)
        c->labels[k] = xstrdup(labels[k]);
    for (size_t i = 0; i < n; i++) {
        const struct example *e = &d->ex[idx ? idx[i] : i];
        const char **found = bsearch(&e->label, labels, n_labels, sizeof(char *), cmp_str);
        c->label_count[found - labels]++;
    }
    c->sum.n_train = (uint32_t)n;
    c->sum.trained_at_ms = clock_now_ms();
    model_index(c);
    return c;
}

/* ---- calibration -------------------------------------------------------- */

struct scored {
    double *scores; /* n × n_labels */
    int *gold;      /* label index or -1 */
    size_t n;
};

static double nll(const struct scored *s, size_t nl, double t)
{
    double total = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->gold[i] < 0)
            continue;
        const double *sc = s->scores + i * nl;
        double mx = sc[0];
        for (size_t k = 1; k < nl; k++)
            mx = sc[k] > mx ? sc[k] : mx;
        double sum = 0;
        for (size_t k = 0; k < nl; k++)
            sum += exp((sc[k] - mx) / t);
        total += log(sum) - (sc[s->gold[i]] - mx) / t;
    }
    return total;
}

/* The temperature minimising the negative log-likelihood of held-out examples. */
static double fit_temperature(const struct classifier *c, const struct dataset *d,
                              const size_t *idx, size_t n)
{
    size_t nl = c->n_labels;
    struct scored s = {
        .scores = xmalloc((n ? n : 1) * nl * sizeof(double)),
        .gold = xmalloc((n ? n : 1) * sizeof(int)),
        .n = n,
    };
    for (size_t i = 0; i < n; i++) {
        const struct example *e = &d->ex[idx ? idx[i] : i];
        model_scores(c, e->text, e->text_len, s.scores + i * nl);
        s.gold[i] = model_label_index(c, e->label);
    }
    /* NLL is unimodal in log t: golden-section search over t in [0.005, 50]. */
    double a = log(0.005), b = log(50.0);
    const double g = 0.6180339887498949;
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = nll(&s, nl, exp(x1)), f2 = nll(&s, nl, exp(x2));
    for (int it = 0; it < 60; it++) {
        if (f1 < f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - g * (b - a);
            f1 = nll(&s, nl, exp(x1));
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + g * (b - a);
            f2 = nll(&s, nl, exp(x2));
        }
    }
    free(s.scores);
    free(s.gold);
    return n ? exp((a + b) / 2) : 1.0;
}

/* ---- entry points ----------------------------------------------------- */

static int check_options(const struct classify_train_options *opt, struct err_info *err)
{
    if (opt->hash_bits < 12 || opt->hash_bits > 24)
        return err_set(err, ERR_INVALID, "hash-bits", "hash bits must be 12..24");
    if (opt->word_ngrams < 1 || opt->word_ngrams > 2)
        return err_set(err, ERR_INVALID, "word-ngrams", "word n-grams must be 1 or 2");
    if (opt->char_max > 6 || opt->char_min > opt->char_max || (opt->char_max && !opt->char_min))
        return err_set(err, ERR_INVALID, "char-ngrams",
                       "character n-grams must be MIN..MAX with 1 <= MIN <= MAX <= 6, or 0..0");
    if (opt->solver != L2R_LR && opt->solver != L2R_L2LOSS_SVC_DUAL &&
        opt->solver != L2R_L2LOSS_SVC && opt->solver != L2R_L1LOSS_SVC_DUAL &&
        opt->solver != MCSVM_CS && opt->solver != L2R_LR_DUAL)
        return err_set(err, ERR_INVALID, "solver", "solver must be 0, 1, 2, 3, 4 or 7");
    return 0;
}

int classify_train(const struct dataset *train, const struct dataset *calib,
                   const struct dataset *dev, const struct classify_train_options *opt,
                   struct classifier **out, struct err_info *err)
{
    *out = NULL;
    int rc = check_options(opt, err);
    if (rc)
        return rc;
    if (train->n == 0)
        return err_set(err, ERR_INVALID, "data", "%s: no examples", train->path);
    uint32_t n_labels;
    const char **labels = collect_labels(train, &n_labels);
    if (n_labels < 2) {
        free(labels);
        return err_set(err, ERR_INVALID, "data", "%s: need at least 2 labels, found %u",
                       train->path, n_labels);
    }
    if (n_labels > CLASSIFY_MAX_LABELS) {
        free(labels);
        return err_set(err, ERR_INVALID, "data", "%s: more than %d labels", train->path,
                       CLASSIFY_MAX_LABELS);
    }
    pthread_mutex_lock(&train_lock);
    progress.is_quiet = opt->is_quiet;
    progress.is_tty = isatty(2);
    progress.start_ns = clock_mono_ns();

    struct classifier *c;
    double temperature;
    if (calib) {
        c = fit(train, NULL, train->n, labels, n_labels, opt);
        progress_line("calibrating");
        temperature = fit_temperature(c, calib, NULL, calib->n);
    } else {
        /* Hold out every 10th example to calibrate a first model, then refit
         * on everything and keep that temperature. */
        size_t *fit_idx = xmalloc(train->n * sizeof(size_t));
        size_t *cal_idx = xmalloc(train->n * sizeof(size_t));
        size_t n_fit = 0, n_cal = 0;
        for (size_t i = 0; i < train->n; i++) {
            if (i % 10 == 9)
                cal_idx[n_cal++] = i;
            else
                fit_idx[n_fit++] = i;
        }
        if (n_cal >= 10) {
            struct classifier *first = fit(train, fit_idx, n_fit, labels, n_labels, opt);
            progress_line("calibrating");
            temperature = fit_temperature(first, train, cal_idx, n_cal);
            classifier_free(first);
        } else {
            temperature = 1.0;
        }
        free(fit_idx);
        free(cal_idx);
        c = fit(train, NULL, train->n, labels, n_labels, opt);
    }
    c->sum.temperature = temperature;
    if (dev) {
        struct classify_eval ev;
        classify_eval(c, dev, NULL, &ev);
        c->sum.n_dev = (uint32_t)dev->n;
        c->sum.dev_accuracy = ev.accuracy;
        c->sum.dev_macro_f1 = ev.macro_f1;
    }
    progress_line("done");
    if (!progress.is_quiet && progress.is_tty)
        fputc('\n', stderr);
    pthread_mutex_unlock(&train_lock);
    free(labels);
    *out = c;
    return 0;
}

int classify_train_file(const char *train_path, const char *dev_path,
                        const struct classify_train_options *opt, const char *out_path,
                        struct err_info *err)
{
    struct dataset train, dev;
    bool has_dev = false;
    struct classifier *c = NULL;
    int rc = dataset_read(train_path, &train, err);
    if (rc)
        goto out;
    if (dev_path) {
        has_dev = true;
        rc = dataset_read(dev_path, &dev, err);
        if (rc)
            goto out;
    }
    rc = classify_train(&train, has_dev ? &dev : NULL, has_dev ? &dev : NULL, opt, &c, err);
    if (rc)
        goto out;
    rc = model_save(c, out_path, err);
out:
    classifier_free(c);
    dataset_free(&train);
    if (has_dev)
        dataset_free(&dev);
    return rc;
}
