/*
 * classify.h - the classifier's public contract: text → label with a
 * calibrated confidence (topic and sentiment models), the Eisenhower
 * urgency/importance assessment, training, evaluation and retraining from
 * operator corrections, and the `otklik classify` command.
 *
 * A model is a linear multi-class classifier over hashed TF-IDF features
 * (word uni/bigrams of stems and character n-grams, see text.h) trained with
 * liblinear and calibrated by temperature scaling.  A loaded model is
 * immutable: share one across threads; swap a new one in by pointer.
 */
#ifndef OTKLIK_CLASSIFY_H
#define OTKLIK_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct err_info;

/* `otklik classify ...`: argv[0] is "classify".  Returns the process exit
 * status: 0 ok, 1 failure (message on stderr), 2 wrong arguments. */
int classify_main(int argc, char **argv);

/* ---- models ------------------------------------------------------------ */

/* The model file format version this build reads and writes. */
#define CLASSIFY_MODEL_VERSION 1

struct classifier; /* a loaded model: immutable, shareable across threads */

/*
 * Load the model file at path into *out (owned by the caller, release with
 * classifier_free).  Errors: ERR_NOTFOUND (no such file), ERR_IO (read
 * failure), ERR_VERSION (a model file of another format version; the
 * message names both versions), ERR_INVALID (not a model file, truncated or
 * corrupt: the checksum is verified).  Details in *err (may be NULL).
 */
int classifier_load(const char *path, struct classifier **out, struct err_info *err);

/* Release a model (NULL is fine).  No thread may still be predicting with it. */
void classifier_free(struct classifier *c);

struct prediction {
    const char *label; /* owned by the model; valid while it is loaded */
    double confidence; /* calibrated probability of label, 0..1 */
};

/*
 * Predict the label of text (UTF-8, len bytes, not necessarily
 * NUL-terminated; invalid bytes are skipped; only the first 64 KiB are
 * read).  Thread-safe: scratch memory is per thread and reused, so a warm
 * thread allocates nothing (about 2-6 µs a short text on one core).
 * Returns 0; an empty text gets the label the model gives to no features.
 */
int classifier_predict(const struct classifier *c, const char *text, size_t len,
                       struct prediction *out);

/*
 * Like classifier_predict, and also fills probs[0 .. n_labels-1] (calibrated,
 * summing to 1, in the order of classifier_label) when probs is not NULL.
 */
int classifier_predict_probs(const struct classifier *c, const char *text, size_t len,
                             struct prediction *out, double *probs);

/* Number of labels of the model. */
size_t classifier_n_labels(const struct classifier *c);

/* Label i (0 <= i < n_labels), owned by the model. */
const char *classifier_label(const struct classifier *c, size_t i);

/* What a model file records about how it was made (classifier_describe). */
struct classifier_summary {
    uint32_t hash_bits;          /* feature hash space, log2 of buckets */
    uint32_t word_ngrams;        /* 1: unigrams, 2: uni+bigrams of stems */
    uint32_t char_min, char_max; /* character n-gram sizes, 0 when off */
    uint32_t n_features;         /* features with weights in the model */
    uint32_t n_train;            /* training examples */
    uint32_t n_dev;              /* dev examples used for calibration/report, 0 if none */
    double dev_accuracy;         /* on the dev set, 0 when none */
    double dev_macro_f1;         /* on the dev set, 0 when none */
    double temperature;          /* confidence calibration: softmax(score / T) */
    double c;                    /* liblinear cost parameter */
    int solver;                  /* liblinear solver type */
    int64_t trained_at_ms;       /* Unix ms */
};

/* Fill *out with c's settings and training summary. */
void classifier_describe(const struct classifier *c, struct classifier_summary *out);

/* ---- training and evaluation ------------------------------------------- */

/* Training settings; classify_train_defaults() fills the recommended ones. */
struct classify_train_options {
    uint32_t hash_bits;          /* 16..24: 2^bits feature buckets */
    uint32_t word_ngrams;        /* 1 or 2 */
    uint32_t char_min, char_max; /* character n-grams of words, 0 0 to disable; max <= 6 */
    uint32_t min_df;             /* drop features seen in fewer training texts */
    int solver;                  /* liblinear solver: 1 L2-loss SVM (dual, the default),
                                    0 logistic regression, 4 Crammer-Singer; also 2, 3, 7 */
    double c;                    /* cost; <= 0 picks per solver */
    double eps;                  /* stopping tolerance; <= 0 picks liblinear's default */
    bool is_quiet;               /* no progress line on stderr */
};

void classify_train_defaults(struct classify_train_options *opt);

/*
 * Train a model on the TSV file train_path (`label<TAB>text` lines) and
 * write it to out_path (atomically: a temporary file renamed into place).
 * dev_path (may be NULL) calibrates the confidences and is scored into the
 * file's summary; without it 10% of the training data is held out to
 * calibrate a first fit, and the model is then refit on all of it.  A
 * progress line goes to stderr unless opt->is_quiet.  Trainings in one
 * process run one at a time (liblinear's progress callback is global).
 * Errors: ERR_NOTFOUND/ERR_IO on files, ERR_INVALID on malformed lines (the
 * message has file:line) or bad options.
 */
int classify_train_file(const char *train_path, const char *dev_path,
                        const struct classify_train_options *opt, const char *out_path,
                        struct err_info *err);

/* Scores of a model on a labelled set (classify_eval_file). */
struct classify_eval {
    size_t n;         /* examples */
    double accuracy;  /* 0..1 */
    double macro_f1;  /* mean F1 over the model's labels present in data or predictions */
    double ece;       /* expected calibration error, 10 bins */
    size_t n_unknown; /* examples whose gold label the model does not know */
};

/*
 * Evaluate model c on the TSV file data_path.  When report is not NULL the
 * full text report (per-class P/R/F1, confusion matrix, and the last line
 * `accuracy=<a> macro_f1=<f>`) is written to it.  Errors as for training.
 */
int classify_eval_file(const struct classifier *c, const char *data_path, FILE *report,
                       struct classify_eval *out, struct err_info *err);

/* ---- retraining from operator corrections ---------------------------- */

struct retrain_report {
    size_t n_seed;        /* lines read from the seed set */
    size_t n_corrections; /* lines read from the corrections */
    size_t n_train;       /* examples the candidate was trained on */
    size_t n_holdout;     /* held-out examples both models were scored on */
    double old_macro_f1;  /* current model on the held-out part (0 when none) */
    double new_macro_f1;  /* candidate on the held-out part */
    double old_accuracy;
    double new_accuracy;
    bool is_kept_old; /* true: the candidate was worse, out_model is the current model */
};

/*
 * Build the next topic model from seed_tsv plus corrections_tsv (both
 * `label<TAB>text`; corrections may be NULL or empty).  A deterministic 20%
 * of the examples (of the corrections when there are at least 50 of them,
 * else of everything) is held out; a candidate trained on the rest and the
 * current model (current_model, may be NULL or a missing file) are scored on
 * it.  If the candidate is at least as good in macro-F1, the model trained
 * on all examples is written to out_model; otherwise the current model is
 * copied there unchanged.  Either way out_model is replaced atomically.
 * Fills *rep.  Errors as for training.
 */
int classify_retrain(const char *seed_tsv, const char *corrections_tsv, const char *current_model,
                     const char *out_model, struct retrain_report *rep, struct err_info *err);

/* ---- urgency and importance (Eisenhower) ----------------------------- */

enum urgency_quadrant {
    QUADRANT_NEITHER,          /* neither urgent nor important */
    QUADRANT_URGENT,           /* urgent, not important */
    QUADRANT_IMPORTANT,        /* important, not urgent */
    QUADRANT_URGENT_IMPORTANT, /* both */
};

enum urgency_priority { PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_URGENT };

/* What is known about the request besides its text; zero it for "nothing". */
struct urgency_context {
    const char *topic;     /* predicted topic label, or NULL */
    const char *sentiment; /* "negative" / "neutral" / "positive", or NULL */
    double sentiment_conf; /* confidence of sentiment, 0..1 */
    int n_recent_contacts; /* earlier requests of this customer on the same topic, last 30 days */
    bool is_public;        /* a public post (social network, review site) */
    int64_t public_reach;  /* followers of the author of a public post, 0 when unknown */
    bool is_high_value;    /* high-value customer (loyalty tier, large spend) */
    bool has_order_due_today; /* the customer has an order due today */
};

#define URGENCY_MAX_SIGNALS 16

struct urgency_result {
    enum urgency_quadrant quadrant;
    enum urgency_priority priority;
    int urgency_score;    /* sum of urgency signal weights; urgent when >= 2 */
    int importance_score; /* sum of importance signal weights; important when >= 2 */
    size_t n_signals;
    /* The signals that fired, e.g. "urgent:safety", "important:legal_threat";
     * static strings. */
    const char *signals[URGENCY_MAX_SIGNALS];
};

/*
 * Assess the urgency and importance of a request from its text (UTF-8, len
 * bytes) and ctx (may be NULL).  Urgent: time-bound (now, today, a queue,
 * an order due today), safety, health.  Important: legal threat, public post
 * with reach, repeated contact, high-value customer, strong negative
 * sentiment.  Priority: both → urgent; one → high; neither → normal, or low
 * for gratitude, suggestions and positive messages.  Thread-safe; returns 0.
 */
int urgency_assess(const char *text, size_t len, const struct urgency_context *ctx,
                   struct urgency_result *out);

/* "urgent_important", "important", "urgent", "neither". */
const char *urgency_quadrant_name(enum urgency_quadrant q);

/* "low", "normal", "high", "urgent". */
const char *urgency_priority_name(enum urgency_priority p);

#endif
