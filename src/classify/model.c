/*
 * model.c - the in-memory model, its file format and prediction.
 *
 * File layout (version 1, little-endian, no padding):
 *   "OTKLIKCM" u32 version
 *   u32 hash_bits word_ngrams char_min char_max
 *   u32 n_labels, then per label: u32 len, bytes, u32 training count
 *   u32 n_train n_dev, f64 dev_accuracy dev_macro_f1 temperature c,
 *   i32 solver, i64 trained_at_ms
 *   u32 n_feat, u32 buckets[n_feat] (ascending), f32 rows[n_feat * (1 + n_labels)]
 *   (idf, then the weights of each label), f32 bias[n_labels]
 *   u32 FNV-1a checksum of every byte before it.
 * The version is checked before anything else, so a file of another version
 * is reported as such rather than as corrupt.
 */
#include "classify/classify_int.h"

#include "core/err.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char MODEL_MAGIC[8] = {'O', 'T', 'K', 'L', 'I', 'K', 'C', 'M'};

/* Zeroed n_floats floats aligned to a cache line; freed with free(). */
static float *alloc_rows(size_t n_floats)
{
    size_t bytes = (n_floats ? n_floats : 16) * sizeof(float);
    bytes = (bytes + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p)
        abort();
    memset(p, 0, bytes);
    return p;
}

static uint32_t row_stride(uint32_t n_labels)
{
    return (n_labels + 1 + 7) & ~7u;
}

struct classifier *model_new(const struct feature_config *fc, uint32_t n_labels, uint32_t n_feat)
{
    struct classifier *c = xcalloc(1, sizeof(*c));
    c->fc = *fc;
    c->n_labels = n_labels;
    c->labels = xcalloc(n_labels, sizeof(char *));
    c->label_count = xcalloc(n_labels, sizeof(uint32_t));
    c->n_feat = n_feat;
    c->buckets = xcalloc(n_feat ? n_feat : 1, sizeof(uint32_t));
    c->stride = row_stride(n_labels);
    c->rows = alloc_rows((size_t)n_feat * c->stride);
    c->bias = xcalloc(n_labels, sizeof(float));
    c->sum.hash_bits = fc->hash_bits;
    c->sum.word_ngrams = fc->word_ngrams;
    c->sum.char_min = fc->char_min;
    c->sum.char_max = fc->char_max;
    c->sum.n_features = n_feat;
    c->sum.temperature = 1.0;
    return c;
}

void model_index(struct classifier *c)
{
    /* At most half full: most features of a new text are unknown, and an
     * unsuccessful search must reach an empty slot.  Buckets are already
     * uniformly hashed, so their low bits are the home slot. */
    size_t n = 16;
    while (n < (size_t)c->n_feat * 2)
        n *= 2;
    free(c->slots);
    free(c->qrows);
    c->slots = xcalloc(n, sizeof(struct model_slot));
    c->slot_mask = (uint32_t)(n - 1);
    c->qstride = (c->n_labels + 7) & ~7u;
    size_t qbytes = ((size_t)c->n_feat * c->qstride + 63) & ~(size_t)63;
    c->qrows = aligned_alloc(64, qbytes ? qbytes : 64);
    if (!c->qrows)
        abort();
    memset(c->qrows, 0, qbytes);
    for (uint32_t i = 0; i < c->n_feat; i++) {
        const float *row = model_row(c, i);
        float mx = 0;
        for (uint32_t k = 0; k < c->n_labels; k++)
            mx = fabsf(row[k]) > mx ? fabsf(row[k]) : mx;
        float scale = mx > 0 ? mx / 127.0f : 1.0f;
        int8_t *q = c->qrows + (size_t)i * c->qstride;
        for (uint32_t k = 0; k < c->n_labels; k++)
            q[k] = (int8_t)lrintf(row[k] / scale);
        uint32_t s = c->buckets[i] & c->slot_mask;
        while (c->slots[s].key != 0)
            s = (s + 1) & c->slot_mask;
        c->slots[s].key = c->buckets[i] + 1;
        c->slots[s].row = i;
        c->slots[s].idf = row[c->n_labels];
        c->slots[s].scale = scale;
    }
}

void classifier_free(struct classifier *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->n_labels; i++)
        free(c->labels[i]);
    free(c->labels);
    free(c->label_count);
    free(c->buckets);
    free(c->slots);
    free(c->qrows);
    free(c->rows);
    free(c->bias);
    free(c);
}

size_t classifier_n_labels(const struct classifier *c)
{
    return c->n_labels;
}

const char *classifier_label(const struct classifier *c, size_t i)
{
    return i < c->n_labels ? c->labels[i] : NULL;
}

void classifier_describe(const struct classifier *c, struct classifier_summary *out)
{
    *out = c->sum;
}

int model_label_index(const struct classifier *c, const char *label)
{
    for (uint32_t i = 0; i < c->n_labels; i++) {
        if (strcmp(c->labels[i], label) == 0)
            return (int)i;
    }
    return -1;
}

/* ---- prediction -------------------------------------------------------- */

/*
 * acc[k] = sum over refs of value * row[k], for k < qstride, over the int8
 * rows.  This loop is most of the cost of a prediction with many labels,
 * so x86-64 CPUs with AVX2 get a version that widens 8 weights at a time
 * and keeps each block of 8 sums in a register (the rows of one text stay
 * in L1 while the blocks are swept).
 */
static void accumulate_generic(const int8_t *qrows, uint32_t qstride, const struct row_ref *refs,
                               size_t n, float *acc)
{
    for (size_t i = 0; i < n; i++) {
        const int8_t *q = qrows + (size_t)refs[i].row * qstride;
        const float v = refs[i].value;
        for (size_t k = 0; k < qstride; k++)
            acc[k] += v * (float)q[k];
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static void accumulate_avx2(const int8_t *qrows,
                                                                uint32_t qstride,
                                                                const struct row_ref *refs,
                                                                size_t n, float *acc)
{
    for (size_t j = 0; j < qstride; j += 8) {
        __m256 sum = _mm256_setzero_ps();
        for (size_t i = 0; i < n; i++) {
            const int8_t *q = qrows + (size_t)refs[i].row * qstride + j;
            __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)q);
            __m256 w = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
            sum = _mm256_fmadd_ps(_mm256_set1_ps(refs[i].value), w, sum);
        }
        _mm256_storeu_ps(acc + j, sum);
    }
}

static void accumulate(const int8_t *qrows, uint32_t qstride, const struct row_ref *refs, size_t n,
                       float *acc)
{
    static int has_avx2 = -1; /* racy but idempotent: every thread computes the same */
    if (has_avx2 < 0)
        has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (has_avx2)
        accumulate_avx2(qrows, qstride, refs, n, acc);
    else
        accumulate_generic(qrows, qstride, refs, n, acc);
}
#else
static void accumulate(const int8_t *qrows, uint32_t qstride, const struct row_ref *refs, size_t n,
                       float *acc)
{
    accumulate_generic(qrows, qstride, refs, n, acc);
}
#endif

void model_scores(const struct classifier *c, const char *text, size_t len, double *scores)
{
    struct feat_scratch *fs = feat_scratch_get();
    feat_extract(&c->fc, text, len, fs);
    const size_t nl = c->n_labels;
    if (fs->cap_acc < c->qstride) {
        free(fs->acc);
        fs->acc = alloc_rows(c->qstride);
        fs->cap_acc = c->qstride;
    }
    if (fs->cap_rowv < fs->n_uniq)
        xgrow((void **)&fs->rowv, &fs->cap_rowv, fs->n_uniq, sizeof(struct row_ref));
    /* The model is larger than the caches: each feature costs a miss in the
     * index and one in its row.  Issue all the loads of one kind before
     * using any, so the misses overlap instead of queueing. */
    const struct model_slot *slots = c->slots;
    const uint32_t mask = c->slot_mask;
    for (size_t i = 0; i < fs->n_uniq; i++)
        __builtin_prefetch(slots + (fs->uniq[i] & mask));
    size_t n = 0;
    double norm2 = 0;
    for (size_t i = 0; i < fs->n_uniq; i++) {
        uint32_t key = fs->uniq[i] + 1, s = fs->uniq[i] & mask;
        while (slots[s].key != key && slots[s].key != 0)
            s = (s + 1) & mask;
        if (slots[s].key == 0)
            continue;
        float v = feat_tf(fs->count[i]) * slots[s].idf;
        norm2 += (double)v * v;
        const int8_t *q = c->qrows + (size_t)slots[s].row * c->qstride;
        for (size_t off = 0; off < c->qstride; off += 64)
            __builtin_prefetch(q + off);
        fs->rowv[n].row = slots[s].row;
        fs->rowv[n].value = v * slots[s].scale;
        n++;
    }
    /* Pass 2: the weighted sum of the rows (the idf lane and padding are ignored). */
    memset(fs->acc, 0, c->qstride * sizeof(float));
    accumulate(c->qrows, c->qstride, fs->rowv, n, fs->acc);
    double inv = norm2 > 0 ? 1.0 / sqrt(norm2) : 0.0;
    for (size_t k = 0; k < nl; k++)
        scores[k] = fs->acc[k] * inv + c->bias[k];
}

void model_softmax(const double *scores, size_t n, double temperature, double *probs)
{
    double mx = scores[0];
    for (size_t k = 1; k < n; k++)
        mx = scores[k] > mx ? scores[k] : mx;
    double sum = 0;
    for (size_t k = 0; k < n; k++) {
        probs[k] = exp((scores[k] - mx) / temperature);
        sum += probs[k];
    }
    for (size_t k = 0; k < n; k++)
        probs[k] /= sum;
}

int classifier_predict_probs(const struct classifier *c, const char *text, size_t len,
                             struct prediction *out, double *probs)
{
    struct feat_scratch *fs = feat_scratch_get();
    if (fs->cap_scores < c->n_labels) {
        free(fs->scores);
        fs->scores = xmalloc(c->n_labels * sizeof(double));
        fs->cap_scores = c->n_labels;
    }
    double *scores = fs->scores;
    model_scores(c, text, len, scores);
    size_t best = 0;
    for (size_t k = 1; k < c->n_labels; k++) {
        if (scores[k] > scores[best])
            best = k;
    }
    /* The probability of the best label only needs the sum of exponentials;
     * terms below e^-30 cannot change it in the digits that matter. */
    double sum = 0;
    const double inv_t = 1.0 / c->sum.temperature;
    for (size_t k = 0; k < c->n_labels; k++) {
        double z = (scores[k] - scores[best]) * inv_t;
        /* Single precision is plenty for a probability, and cheaper. */
        double p = z < -30 ? 0 : (double)expf((float)z);
        if (probs)
            probs[k] = p;
        sum += p;
    }
    if (probs) {
        for (size_t k = 0; k < c->n_labels; k++)
            probs[k] /= sum;
    }
    out->label = c->labels[best];
    out->confidence = 1.0 / sum;
    return 0;
}

int classifier_predict(const struct classifier *c, const char *text, size_t len,
                       struct prediction *out)
{
    return classifier_predict_probs(c, text, len, out, NULL);
}

/* ---- writing ----------------------------------------------------------- */

struct writer {
    FILE *f;
    uint32_t sum; /* FNV-1a of the bytes written */
    bool failed;
};

static void w_bytes(struct writer *w, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++) {
        w->sum ^= b[i];
        w->sum *= 16777619u;
    }
    if (fwrite(p, 1, len, w->f) != len)
        w->failed = true;
}

static void w_u32(struct writer *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    w_bytes(w, b, 4);
}

static void w_u64(struct writer *w, uint64_t v)
{
    w_u32(w, (uint32_t)v);
    w_u32(w, (uint32_t)(v >> 32));
}

static void w_f32(struct writer *w, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    w_u32(w, v);
}

static void w_f64(struct writer *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    w_u64(w, v);
}

int model_save(const struct classifier *c, const char *path, struct err_info *err)
{
    size_t plen = strlen(path);
    char *tmp = xmalloc(plen + 16);
    snprintf(tmp, plen + 16, "%s.tmp%d", path, (int)getpid());
    int rc = 0;
    struct writer w = {.f = fopen(tmp, "wb"), .sum = 2166136261u};
    if (!w.f) {
        rc = err_set(err, ERR_IO, "out", "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    w_bytes(&w, MODEL_MAGIC, sizeof(MODEL_MAGIC));
    w_u32(&w, CLASSIFY_MODEL_VERSION);
    w_u32(&w, c->fc.hash_bits);
    w_u32(&w, c->fc.word_ngrams);
    w_u32(&w, c->fc.char_min);
    w_u32(&w, c->fc.char_max);
    w_u32(&w, c->n_labels);
    for (uint32_t i = 0; i < c->n_labels; i++) {
        uint32_t len = (uint32_t)strlen(c->labels[i]);
        w_u32(&w, len);
        w_bytes(&w, c->labels[i], len);
        w_u32(&w, c->label_count[i]);
    }
    w_u32(&w, c->sum.n_train);
    w_u32(&w, c->sum.n_dev);
    w_f64(&w, c->sum.dev_accuracy);
    w_f64(&w, c->sum.dev_macro_f1);
    w_f64(&w, c->sum.temperature);
    w_f64(&w, c->sum.c);
    w_u32(&w, (uint32_t)c->sum.solver);
    w_u64(&w, (uint64_t)c->sum.trained_at_ms);
    w_u32(&w, c->n_feat);
    for (uint32_t i = 0; i < c->n_feat; i++)
        w_u32(&w, c->buckets[i]);
    for (uint32_t i = 0; i < c->n_feat; i++) {
        const float *row = model_row(c, i);
        w_f32(&w, row[c->n_labels]);
        for (uint32_t k = 0; k < c->n_labels; k++)
            w_f32(&w, row[k]);
    }
    for (uint32_t k = 0; k < c->n_labels; k++)
        w_f32(&w, c->bias[k]);
    w_u32(&w, w.sum);
    if (fflush(w.f) != 0 || w.failed || fsync(fileno(w.f)) != 0) {
        rc = err_set(err, ERR_IO, "out", "cannot write %s: %s", tmp, strerror(errno));
        fclose(w.f);
        unlink(tmp);
        goto out;
    }
    if (fclose(w.f) != 0 || rename(tmp, path) != 0) {
        rc = err_set(err, ERR_IO, "out", "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
out:
    free(tmp);
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

struct reader {
    const unsigned char *p;
    size_t len, pos;
    bool failed; /* read past the end */
};

static const unsigned char *r_bytes(struct reader *r, size_t len)
{
    if (r->failed || len > r->len - r->pos) {
        r->failed = true;
        return NULL;
    }
    const unsigned char *p = r->p + r->pos;
    r->pos += len;
    return p;
}

static uint32_t r_u32(struct reader *r)
{
    const unsigned char *b = r_bytes(r, 4);
    if (!b)
        return 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t r_u64(struct reader *r)
{
    uint64_t lo = r_u32(r);
    return lo | (uint64_t)r_u32(r) << 32;
}

static float r_f32(struct reader *r)
{
    uint32_t v = r_u32(r);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static double r_f64(struct reader *r)
{
    uint64_t v = r_u64(r);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static int read_file(const char *path, unsigned char **data, size_t *len, struct err_info *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int code = errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
        return err_set(err, code, "model", "cannot open model %s: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = xmalloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return err_set(err, ERR_IO, "model", "cannot read model %s", path);
    }
    *data = buf;
    *len = n;
    return 0;
}

static int parse_model(const char *path, struct reader *r, struct classifier **out,
                       struct err_info *err)
{
    struct classifier *c = NULL;
    const unsigned char *magic = r_bytes(r, sizeof(MODEL_MAGIC));
    if (!magic || memcmp(magic, MODEL_MAGIC, sizeof(MODEL_MAGIC)) != 0)
        return err_set(err, ERR_INVALID, "model", "%s is not an otklik model file", path);
    uint32_t version = r_u32(r);
    if (version != CLASSIFY_MODEL_VERSION)
        return err_set(err, ERR_VERSION, "model",
                       "%s has model format version %u; this build reads version %d "
                       "(retrain the model with this build)",
                       path, version, CLASSIFY_MODEL_VERSION);
    /* The checksum covers everything before its own 4 bytes. */
    if (r->len < r->pos + 4)
        return err_set(err, ERR_INVALID, "model", "%s is truncated", path);
    uint32_t sum = 2166136261u;
    for (size_t i = 0; i < r->len - 4; i++) {
        sum ^= r->p[i];
        sum *= 16777619u;
    }
    struct reader tail = {.p = r->p, .len = r->len, .pos = r->len - 4};
    if (r_u32(&tail) != sum)
        return err_set(err, ERR_INVALID, "model", "%s is corrupt (checksum mismatch)", path);
    r->len -= 4;

    struct feature_config fc;
    fc.hash_bits = r_u32(r);
    fc.word_ngrams = r_u32(r);
    fc.char_min = r_u32(r);
    fc.char_max = r_u32(r);
    uint32_t n_labels = r_u32(r);
    if (r->failed || fc.hash_bits < 8 || fc.hash_bits > 26 || fc.word_ngrams < 1 ||
        fc.word_ngrams > 2 || fc.char_max > 8 || fc.char_min > fc.char_max || n_labels < 1 ||
        n_labels > CLASSIFY_MAX_LABELS)
        return err_set(err, ERR_INVALID, "model", "%s has invalid feature settings", path);
    c = model_new(&fc, n_labels, 0);
    for (uint32_t i = 0; i < n_labels; i++) {
        uint32_t len = r_u32(r);
        const unsigned char *s = len <= CLASSIFY_MAX_LABEL_BYTES ? r_bytes(r, len) : NULL;
        if (!s)
            goto bad;
        c->labels[i] = xstrndup((const char *)s, len);
        c->label_count[i] = r_u32(r);
    }
    c->sum.n_train = r_u32(r);
    c->sum.n_dev = r_u32(r);
    c->sum.dev_accuracy = r_f64(r);
    c->sum.dev_macro_f1 = r_f64(r);
    c->sum.temperature = r_f64(r);
    c->sum.c = r_f64(r);
    c->sum.solver = (int)r_u32(r);
    c->sum.trained_at_ms = (int64_t)r_u64(r);
    uint32_t n_feat = r_u32(r);
    if (r->failed || !(c->sum.temperature > 0) || n_feat > (1u << fc.hash_bits))
        goto bad;
    size_t n_rows = (size_t)n_feat * (1 + n_labels);
    if ((r->len - r->pos) != (size_t)n_feat * 4 + n_rows * 4 + (size_t)n_labels * 4)
        goto bad;
    free(c->buckets);
    free(c->rows);
    c->n_feat = n_feat;
    c->sum.n_features = n_feat;
    c->buckets = xmalloc((n_feat ? n_feat : 1) * sizeof(uint32_t));
    c->rows = alloc_rows((size_t)n_feat * c->stride);
    for (uint32_t i = 0; i < n_feat; i++) {
        c->buckets[i] = r_u32(r);
        if (c->buckets[i] >> fc.hash_bits || (i > 0 && c->buckets[i] <= c->buckets[i - 1]))
            goto bad;
    }
    for (uint32_t i = 0; i < n_feat; i++) {
        float *row = model_row(c, i);
        row[n_labels] = r_f32(r);
        for (uint32_t k = 0; k < n_labels; k++)
            row[k] = r_f32(r);
    }
    for (uint32_t k = 0; k < n_labels; k++)
        c->bias[k] = r_f32(r);
    if (r->failed)
        goto bad;
    model_index(c);
    *out = c;
    return 0;
bad:
    classifier_free(c);
    return err_set(err, ERR_INVALID, "model", "%s is corrupt (bad layout)", path);
}

int classifier_load(const char *path, struct classifier **out, struct err_info *err)
{
    unsigned char *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = read_file(path, &data, &len, err);
    if (rc)
        return rc;
    struct reader r = {.p = data, .len = len};
    rc = parse_model(path, &r, out, err);
    free(data);
    return rc;
}
