/*
 * classify_int.h - shared only inside src/classify: feature extraction, the
 * in-memory model, labelled data sets, training and scoring helpers.
 * Outside code uses classify.h.
 */
#ifndef OTKLIK_CLASSIFY_INT_H
#define OTKLIK_CLASSIFY_INT_H

#include "classify/classify.h"
#include "classify/text.h"
#include "core/mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLASSIFY_MAX_TEXT_BYTES (64 * 1024) /* longer texts: only the start is read */
#define CLASSIFY_MAX_LABELS 1000
#define CLASSIFY_MAX_LABEL_BYTES 100
#define CLASSIFY_NO_ROW UINT32_MAX

/* How a text becomes features; stored in the model file. */
struct feature_config {
    uint32_t hash_bits;   /* 2^hash_bits buckets */
    uint32_t word_ngrams; /* 1 or 2 */
    uint32_t char_min;    /* character n-grams min size, 0: none */
    uint32_t char_max;    /* character n-grams max size */
};

struct dedupe_slot {
    uint32_t gen; /* the slot is in use when gen == feat_scratch.gen */
    uint32_t key; /* bucket */
    uint32_t idx; /* index into uniq */
};

struct row_ref {
    uint32_t row; /* model row */
    float value;  /* tf * idf of the feature */
};

/*
 * Per-thread scratch for feature extraction: the tokens, the raw bucket
 * ids, and the de-duplicated buckets with their counts.  Reused; a warm
 * scratch allocates nothing.
 */
struct feat_scratch {
    struct text_tokens tokens;
    uint32_t *raw; /* bucket ids in extraction order, with repeats */
    size_t n_raw, cap_raw;
    struct dedupe_slot *slots; /* open-addressing de-duplication table */
    size_t n_slots;            /* power of two */
    uint32_t gen;
    uint32_t *uniq; /* distinct bucket ids, first-seen order */
    float *count;   /* occurrences of uniq[i] */
    size_t n_uniq, cap_uniq;
    float *acc; /* per-label accumulators of model_scores, 32-byte aligned */
    size_t cap_acc;
    struct row_ref *rowv; /* model rows of uniq, for model_scores */
    size_t cap_rowv;
    double *scores; /* decision values of classifier_predict */
    size_t cap_scores;
};

/* This thread's scratch (created on first use, freed at thread exit). */
struct feat_scratch *feat_scratch_get(void);

/* Free this thread's scratch now. */
void feat_scratch_release(void);

/* Fill fs->uniq/count with the distinct feature buckets of text (len bytes). */
void feat_extract(const struct feature_config *fc, const char *text, size_t len,
                  struct feat_scratch *fs);

/* Term weight of a feature seen count times (sublinear tf). */
static inline float feat_tf(float count)
{
    return count <= 1.0f ? 1.0f : 1.0f + __builtin_logf(count);
}

/*
 * One entry of a model's feature index.  The idf sits next to the row
 * number so that a feature costs one cache miss in the index (plus its
 * row, fetched ahead).  key is bucket + 1; 0 marks an empty slot.
 */
struct model_slot {
    uint32_t key;
    uint32_t row;
    float idf;
    float scale; /* weight of one step of the row's int8 copy */
};

/* The in-memory model. */
struct classifier {
    struct feature_config fc;
    uint32_t n_labels;
    char **labels;         /* n_labels, owned */
    uint32_t *label_count; /* training examples per label */
    uint32_t n_feat;
    uint32_t *buckets;        /* n_feat, ascending: the bucket of each row */
    struct model_slot *slots; /* open-addressing index: bucket → row and idf */
    uint32_t slot_mask;       /* number of slots - 1 (a power of two) */
    uint32_t stride;  /* floats per row: n_labels + 1 rounded up to 8 (one 32-byte vector) */
    float *rows;      /* n_feat × stride, 32-byte aligned: the weight of each label, then
                         the idf at [n_labels], then zero padding */
    int8_t *qrows;    /* n_feat × qstride: rows quantised for prediction, 64-byte aligned */
    uint32_t qstride; /* bytes per quantised row: n_labels rounded up to 8 */
    float *bias;      /* n_labels */
    struct classifier_summary sum;
};

/* Row i of c's weights (stride floats; the idf is at [n_labels]). */
static inline float *model_row(const struct classifier *c, uint32_t i)
{
    return c->rows + (size_t)i * c->stride;
}

/* Allocate an empty model for n_labels labels and n_feat features (index built by model_index). */
struct classifier *model_new(const struct feature_config *fc, uint32_t n_labels, uint32_t n_feat);

/* Build c's feature index from c->buckets and the idf of each row. */
void model_index(struct classifier *c);

/* Write c to path atomically (temporary file + rename).  ERR_IO on failure. */
int model_save(const struct classifier *c, const char *path, struct err_info *err);

/* Decision values (before calibration) of text into scores[0..n_labels-1]. */
void model_scores(const struct classifier *c, const char *text, size_t len, double *scores);

/* Calibrated probabilities from decision values: softmax(scores / temperature). */
void model_softmax(const double *scores, size_t n, double temperature, double *probs);

/* One labelled example of a data set. */
struct example {
    const char *label; /* NUL-terminated, in the data set's arena */
    const char *text;  /* NUL-terminated, in the data set's arena */
    size_t text_len;   /* bytes */
    uint32_t line;     /* 1-based line in its file */
};

struct dataset {
    struct example *ex;
    size_t n, cap;
    struct arena arena;
    const char *path; /* for messages, in the arena */
};

/*
 * Read a `label<TAB>text` file into d (initialised here; dataset_free
 * releases it).  Empty trailing lines are allowed; any other empty line, a
 * line with no TAB, an empty label or text, a label with spaces, or invalid
 * UTF-8 is ERR_INVALID with "path:line: ..." in err.  A missing file is
 * ERR_NOTFOUND.  An empty file is a valid, empty set.  d is initialised
 * even on error: always dataset_free it.
 */
int dataset_read(const char *path, struct dataset *d, struct err_info *err);

/* An empty data set (for building one in memory with dataset_add). */
void dataset_init(struct dataset *d);

/* Append a copy of label and text to d. */
void dataset_add(struct dataset *d, const char *label, const char *text, size_t text_len,
                 uint32_t line);

void dataset_free(struct dataset *d);

/*
 * Train a model on train (and calibrate on calib, which may be NULL: then
 * 10% of train is held out for calibration and the model is refit on all).
 * When dev is not NULL it is scored into the summary.  *out owned by the
 * caller.
 */
int classify_train(const struct dataset *train, const struct dataset *calib,
                   const struct dataset *dev, const struct classify_train_options *opt,
                   struct classifier **out, struct err_info *err);

/* Index of label in c, or -1. */
int model_label_index(const struct classifier *c, const char *label);

/*
 * Score c on d: accuracy, macro-F1, ECE; when report is not NULL, write
 * the full report.  Never fails.
 */
void classify_eval(const struct classifier *c, const struct dataset *d, FILE *report,
                   struct classify_eval *out);

#endif
