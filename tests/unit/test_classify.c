/*
 * test_classify.c - the classifier: training and prediction, the model
 * file round trip and its errors, TSV errors with line numbers, the eval
 * report, thread safety, urgency/importance, retraining, the command line,
 * and (when ../shared/data is there) beating the majority-class baseline on
 * every public data set.
 */
#include "testutil.h"

#include "classify/classify_int.h"
#include "core/err.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static char tmp_dir[64];

static const char *tmp_path(const char *name)
{
    static char paths[8][128];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 128, "%s/%s", tmp_dir, name);
    return p;
}

static const char *fixture(const char *name)
{
    static char path[256];
    const char *dirs[] = {"tests/fixtures/classify", "../../../tests/fixtures/classify"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
        if (access(path, R_OK) == 0)
            return path;
    }
    fail_msg("fixture %s not found (run from the repository root)", name);
    return NULL;
}

static const char *const words_delivery[] = {"курьер",  "доставка", "заказ",   "привезли",
                                             "опоздал", "трек",     "courier", "delivery"};
static const char *const words_price[] = {"цена",  "ценник", "дорого", "скидка",
                                          "акция", "чек",    "price",  "discount"};
static const char *const words_thanks[] = {"спасибо", "благодарю", "отлично", "вежливый",
                                           "молодцы", "помогли",   "thanks",  "great"};

/* A small three-topic data set with overlapping filler words. */
static void synth(struct dataset *d, int per_label, unsigned seed)
{
    static const char *const filler[] = {"в", "магазине", "сегодня", "очень", "и", "мой", "на"};
    const char *const *sets[] = {words_delivery, words_price, words_thanks};
    const char *labels[] = {"delivery", "price", "gratitude"};
    dataset_init(d);
    d->path = "synthetic";
    for (int i = 0; i < per_label * 3; i++) {
        int k = i % 3;
        char text[256];
        size_t at = 0;
        for (int w = 0; w < 6; w++) {
            seed = seed * 1103515245u + 12345u;
            const char *word = (w % 2 == 0) ? sets[k][(seed >> 8) % 8] : filler[(seed >> 8) % 7];
            at += (size_t)snprintf(text + at, sizeof(text) - at, "%s%s", w ? " " : "", word);
        }
        dataset_add(d, labels[k], text, at, (uint32_t)i + 1);
    }
}

static struct classifier *train_synth(void)
{
    struct dataset d;
    synth(&d, 40, 7);
    struct classify_train_options opt;
    classify_train_defaults(&opt);
    opt.hash_bits = 16;
    opt.is_quiet = true;
    struct classifier *c = NULL;
    struct err_info err = {0};
    assert_int_equal(classify_train(&d, NULL, NULL, &opt, &c, &err), 0);
    dataset_free(&d);
    return c;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* ---- training, prediction, model files ---------------------------------- */

static void test_train_and_predict(void **state)
{
    (void)state;
    struct classifier *c = train_synth();
    assert_int_equal(classifier_n_labels(c), 3);
    /* Labels are sorted. */
    assert_string_equal(classifier_label(c, 0), "delivery");
    assert_string_equal(classifier_label(c, 1), "gratitude");
    assert_string_equal(classifier_label(c, 2), "price");
    struct prediction p;
    const char *t1 = "Курьер опоздал, где мой заказ?";
    assert_int_equal(classifier_predict(c, t1, strlen(t1), &p), 0);
    assert_string_equal(p.label, "delivery");
    assert_true(p.confidence > 0.5 && p.confidence <= 1.0);
    const char *t2 = "ЦЕНА на ценнике другая, скидка не сработала";
    classifier_predict(c, t2, strlen(t2), &p);
    assert_string_equal(p.label, "price");
    double probs[3];
    const char *t3 = "спасибо большое, вы молодцы!!!";
    classifier_predict_probs(c, t3, strlen(t3), &p, probs);
    assert_string_equal(p.label, "gratitude");
    assert_true(probs[0] + probs[1] + probs[2] > 0.999999 &&
                probs[0] + probs[1] + probs[2] < 1.000001);
    assert_true(probs[1] == p.confidence);
    /* No known feature: still a label and a valid confidence. */
    classifier_predict(c, "", 0, &p);
    assert_non_null(p.label);
    assert_true(p.confidence > 0 && p.confidence <= 1);
    classifier_predict(c, "\xff\xfe\xfd", 3, &p);
    assert_non_null(p.label);
    classifier_free(c);
}

static void test_model_round_trip(void **state)
{
    (void)state;
    struct classifier *c = train_synth();
    struct err_info err = {0};
    const char *path = tmp_path("m.bin");
    assert_int_equal(model_save(c, path, &err), 0);
    struct classifier *d = NULL;
    assert_int_equal(classifier_load(path, &d, &err), 0);
    struct classifier_summary a, b;
    classifier_describe(c, &a);
    classifier_describe(d, &b);
    assert_int_equal(a.n_features, b.n_features);
    assert_int_equal(a.hash_bits, 16);
    assert_int_equal(b.hash_bits, 16);
    assert_int_equal(b.word_ngrams, 2);
    assert_int_equal(b.char_min, 4);
    assert_int_equal(b.char_max, 4);
    assert_int_equal(b.n_train, 120);
    assert_true(a.temperature == b.temperature);
    assert_true(a.trained_at_ms == b.trained_at_ms);
    assert_int_equal(d->label_count[0], 40);
    const char *texts[] = {"курьер привез заказ", "скидка на ценнике", "спасибо вам", "", "мой"};
    for (size_t i = 0; i < 5; i++) {
        double pa[3], pb[3];
        struct prediction x, y;
        classifier_predict_probs(c, texts[i], strlen(texts[i]), &x, pa);
        classifier_predict_probs(d, texts[i], strlen(texts[i]), &y, pb);
        assert_string_equal(x.label, y.label);
        assert_memory_equal(pa, pb, sizeof(pa));
    }
    classifier_free(c);
    classifier_free(d);
}

static void test_model_file_errors(void **state)
{
    (void)state;
    struct classifier *c = train_synth();
    struct err_info err = {0};
    const char *path = tmp_path("e.bin");
    assert_int_equal(model_save(c, path, &err), 0);
    classifier_free(c);
    size_t len;
    unsigned char *good = slurp(path, &len);
    struct classifier *d = NULL;

    /* Another format version: a clear version error naming both versions. */
    unsigned char *v = malloc(len);
    memcpy(v, good, len);
    v[8] = CLASSIFY_MODEL_VERSION + 1;
    write_file(tmp_path("v.bin"), v, len);
    err_clear(&err);
    assert_int_equal(classifier_load(tmp_path("v.bin"), &d, &err), ERR_VERSION);
    assert_null(d);
    assert_non_null(strstr(err.message, "version 2"));
    assert_non_null(strstr(err.message, "reads version 1"));

    /* One flipped bit in the weights: the checksum catches it. */
    memcpy(v, good, len);
    v[len - 20] ^= 0x10;
    write_file(tmp_path("c.bin"), v, len);
    err_clear(&err);
    assert_int_equal(classifier_load(tmp_path("c.bin"), &d, &err), ERR_INVALID);
    assert_non_null(strstr(err.message, "corrupt"));

    /* Truncated, not a model, missing. */
    write_file(tmp_path("t.bin"), good, len / 2);
    err_clear(&err);
    assert_int_equal(classifier_load(tmp_path("t.bin"), &d, &err), ERR_INVALID);
    write_file(tmp_path("x.bin"), "label\ttext\n", 11);
    err_clear(&err);
    assert_int_equal(classifier_load(tmp_path("x.bin"), &d, &err), ERR_INVALID);
    assert_non_null(strstr(err.message, "not an otklik model"));
    err_clear(&err);
    assert_int_equal(classifier_load(tmp_path("missing.bin"), &d, &err), ERR_NOTFOUND);
    assert_null(d);
    free(v);
    free(good);
}

/* ---- data files --------------------------------------------------------- */

static void expect_data_error(const char *name, int code, const char *where)
{
    struct dataset d;
    struct err_info err = {0};
    assert_int_equal(dataset_read(fixture(name), &d, &err), code);
    if (!strstr(err.message, where))
        fail_msg("%s: message '%s' lacks '%s'", name, err.message, where);
    dataset_free(&d);
}

static void test_dataset_errors(void **state)
{
    (void)state;
    expect_data_error("empty_line.tsv", ERR_INVALID, "empty_line.tsv:3: empty line");
    expect_data_error("no_tab.tsv", ERR_INVALID, "no_tab.tsv:2: no TAB");
    expect_data_error("label_space.tsv", ERR_INVALID, "label_space.tsv:2: label contains a space");
    expect_data_error("invalid_utf8.tsv", ERR_INVALID, "invalid_utf8.tsv:2: invalid UTF-8");
    expect_data_error("empty_text.tsv", ERR_INVALID, "empty_text.tsv:2: empty text");
    expect_data_error("empty_label.tsv", ERR_INVALID, "empty_label.tsv:1: empty label");
    struct dataset d;
    struct err_info err = {0};
    assert_int_equal(dataset_read(tmp_path("nothing-here.tsv"), &d, &err), ERR_NOTFOUND);
    assert_non_null(strstr(err.message, "nothing-here.tsv"));
    dataset_free(&d);
    err_clear(&err);
    assert_int_equal(dataset_read(fixture("good_crlf.tsv"), &d, &err), 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.ex[1].label, "b");
    assert_string_equal(d.ex[1].text, "второй");
    dataset_free(&d);
}

/* ---- eval report -------------------------------------------------------- */

static void test_eval_report(void **state)
{
    (void)state;
    struct classifier *c = train_synth();
    struct dataset d;
    synth(&d, 10, 99);
    dataset_add(&d, "unknown_label", "курьер", strlen("курьер"), 31);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct classify_eval ev;
    classify_eval(c, &d, f, &ev);
    fclose(f);
    assert_int_equal(ev.n, 31);
    assert_int_equal(ev.n_unknown, 1);
    assert_true(ev.accuracy > 0.9);
    assert_non_null(strstr(text, "precision"));
    assert_non_null(strstr(text, "confusion matrix"));
    /* The last line is exactly accuracy=<a> macro_f1=<f>. */
    char want[64];
    snprintf(want, sizeof(want), "accuracy=%.4f macro_f1=%.4f\n", ev.accuracy, ev.macro_f1);
    assert_true(len > strlen(want));
    assert_string_equal(text + len - strlen(want), want);
    assert_true(len == strlen(want) || text[len - strlen(want) - 1] == '\n');
    free(text);
    dataset_free(&d);
    classifier_free(c);
}

/* ---- threads ------------------------------------------------------------- */

struct thread_job {
    const struct classifier *c;
    const char *label[8];
    double conf[8];
};

static const char *const thread_texts[8] = {
    "курьер опоздал",        "скидка на ценнике", "спасибо",
    "доставка заказа",       "дорого!!!",         "благодарю за помощь",
    "trek courier delivery", "price discount",
};

static void *thread_run(void *arg)
{
    struct thread_job *j = arg;
    for (int r = 0; r < 50; r++) {
        for (int i = 0; i < 8; i++) {
            struct prediction p;
            classifier_predict(j->c, thread_texts[i], strlen(thread_texts[i]), &p);
            j->label[i] = p.label;
            j->conf[i] = p.confidence;
        }
    }
    feat_scratch_release();
    text_thread_cleanup();
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct classifier *c = train_synth();
    struct thread_job one = {.c = c}, jobs[4];
    thread_run(&one);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct thread_job){.c = c};
        assert_int_equal(pthread_create(&th[i], NULL, thread_run, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        for (int k = 0; k < 8; k++) {
            assert_ptr_equal(jobs[i].label[k], one.label[k]);
            assert_true(jobs[i].conf[k] == one.conf[k]);
        }
    }
    classifier_free(c);
}

/* ---- urgency ------------------------------------------------------------ */

static bool has_signal(const struct urgency_result *r, const char *s)
{
    for (size_t i = 0; i < r->n_signals; i++) {
        if (strcmp(r->signals[i], s) == 0)
            return true;
    }
    return false;
}

static void assess(const char *text, const struct urgency_context *ctx, struct urgency_result *r)
{
    assert_int_equal(urgency_assess(text, strlen(text), ctx, r), 0);
}

static void test_urgency(void **state)
{
    (void)state;
    struct urgency_result r;
    assess("В торговом зале пахнет дымом, искрит проводка!", NULL, &r);
    assert_true(has_signal(&r, "urgent:safety"));
    assert_int_equal(r.quadrant, QUADRANT_URGENT);
    assert_int_equal(r.priority, PRIORITY_HIGH);

    assess("Ребенок отравился вашим творогом, обращусь в Роспотребнадзор и в суд", NULL, &r);
    assert_true(has_signal(&r, "urgent:health"));
    assert_true(has_signal(&r, "important:legal_threat"));
    assert_int_equal(r.quadrant, QUADRANT_URGENT_IMPORTANT);
    assert_int_equal(r.priority, PRIORITY_URGENT);
    assert_string_equal(urgency_priority_name(r.priority), "urgent");
    assert_string_equal(urgency_quadrant_name(r.quadrant), "urgent_important");

    /* Importance from the context: a public post with reach, a repeat contact. */
    struct urgency_context ctx = {.is_public = true, .public_reach = 50000, .n_recent_contacts = 2};
    assess("Опять не начислили бонусы", &ctx, &r);
    assert_true(has_signal(&r, "important:public_post"));
    assert_true(has_signal(&r, "important:repeat_contact"));
    assert_int_equal(r.quadrant, QUADRANT_IMPORTANT);
    assert_int_equal(r.priority, PRIORITY_HIGH);

    /* A queue now is urgent when the topic says so. */
    struct urgency_context q = {.topic = "checkout_queue"};
    assess("Очередь на кассе, работает одна касса, срочно откройте вторую", &q, &r);
    assert_true(has_signal(&r, "urgent:queue_now"));
    assert_true(has_signal(&r, "urgent:explicit"));
    assert_int_equal(r.quadrant, QUADRANT_URGENT);

    struct urgency_context thanks = {
        .topic = "gratitude", .sentiment = "positive", .sentiment_conf = 0.95};
    assess("Спасибо кассиру Марине за вежливость", &thanks, &r);
    assert_int_equal(r.quadrant, QUADRANT_NEITHER);
    assert_int_equal(r.priority, PRIORITY_LOW);
    assert_int_equal(r.n_signals, 0);

    assess("Подскажите режим работы в праздники", NULL, &r);
    assert_int_equal(r.priority, PRIORITY_NORMAL);

    /* Patterns are whole words or prefixes: "судак" is not a court. */
    assess("Купил судака, хороший", NULL, &r);
    assert_false(has_signal(&r, "important:legal_threat"));
    struct urgency_context due = {.has_order_due_today = true, .is_high_value = true};
    assess("Where is my order?", &due, &r);
    assert_int_equal(r.priority, PRIORITY_URGENT);
}

/* ---- retraining ----------------------------------------------------------- */

static void write_dataset(const char *path, const struct dataset *d, size_t from, size_t to)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = from; i < to && i < d->n; i++)
        fprintf(f, "%s\t%s\n", d->ex[i].label, d->ex[i].text);
    fclose(f);
}

static void test_retrain(void **state)
{
    (void)state;
    struct dataset d;
    synth(&d, 40, 3);
    const char *seed = tmp_path("seed.tsv"), *corr = tmp_path("corr.tsv");
    const char *cur = tmp_path("cur.bin"), *next = tmp_path("next.bin");
    write_dataset(seed, &d, 0, 90);
    write_dataset(corr, &d, 90, 120);
    struct retrain_report rep;
    struct err_info err = {0};
    /* No current model: the candidate is adopted. */
    assert_int_equal(classify_retrain(seed, corr, NULL, cur, &rep, &err), 0);
    assert_false(rep.is_kept_old);
    assert_int_equal(rep.n_seed, 90);
    assert_int_equal(rep.n_corrections, 30);
    assert_int_equal(rep.n_train + rep.n_holdout, 120);
    assert_true(rep.n_holdout > 0);
    struct classifier *c = NULL;
    assert_int_equal(classifier_load(cur, &c, &err), 0);
    classifier_free(c);

    /* Corrections the candidate cannot learn from (each one a unique nonsense
     * word with a random label), while the current model was trained on all
     * of them: on the held-out corrections the current model is better and
     * is kept. */
    FILE *f = fopen(corr, "w");
    const char *labels[] = {"delivery", "price", "gratitude"};
    for (int i = 0; i < 200; i++)
        fprintf(f, "%s\tzq%dxw%d kv%d\n", labels[(i * 7 + i / 3) % 3], i * 31, i, i * 17);
    fclose(f);
    const char *all = tmp_path("all.tsv");
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cat %s %s > %s", seed, corr, all);
    assert_int_equal(system(cmd), 0);
    struct dataset a;
    assert_int_equal(dataset_read(all, &a, &err), 0);
    struct classify_train_options opt;
    classify_train_defaults(&opt);
    opt.hash_bits = 18;
    opt.is_quiet = true;
    opt.c = 100;
    struct classifier *strong = NULL;
    assert_int_equal(classify_train(&a, NULL, NULL, &opt, &strong, &err), 0);
    assert_int_equal(model_save(strong, cur, &err), 0);
    classifier_free(strong);
    dataset_free(&a);
    assert_int_equal(classify_retrain(seed, corr, cur, next, &rep, &err), 0);
    assert_true(rep.n_holdout > 20);
    assert_true(rep.old_macro_f1 > rep.new_macro_f1);
    assert_true(rep.is_kept_old);
    /* The output is then a copy of the current model. */
    size_t la, lb;
    unsigned char *x = slurp(cur, &la), *y = slurp(next, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(x, y, la);
    free(x);
    free(y);
    dataset_free(&d);
}

/* ---- command line --------------------------------------------------------- */

static int run_cli(int argc, const char **argv)
{
    /* The CLI writes to stdout/stderr; keep the test log readable. */
    fflush(stdout);
    fflush(stderr);
    int out = dup(1), errfd = dup(2);
    FILE *null = fopen("/dev/null", "w");
    dup2(fileno(null), 1);
    dup2(fileno(null), 2);
    int rc = classify_main(argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    fclose(null);
    return rc;
}

static void test_cli(void **state)
{
    (void)state;
    const char *no_cmd[] = {"classify"};
    assert_int_equal(run_cli(1, no_cmd), 2);
    const char *bad_cmd[] = {"classify", "frobnicate"};
    assert_int_equal(run_cli(2, bad_cmd), 2);
    const char *help[] = {"classify", "train", "--help"};
    assert_int_equal(run_cli(3, help), 0);
    const char *no_out[] = {"classify", "train", "--data", "x.tsv"};
    assert_int_equal(run_cli(4, no_out), 2);
    const char *bad_opt[] = {"classify", "eval", "--model", "m", "--data", "d", "--bogus"};
    assert_int_equal(run_cli(7, bad_opt), 2);
    const char *bad_bits[] = {"classify", "train", "--data",      "a",
                              "--out",    "b",     "--hash-bits", "40"};
    assert_int_equal(run_cli(8, bad_bits), 2);
    const char *missing[] = {
        "classify",           "train",  "--data", tmp_path("none.tsv"), "--out",
        tmp_path("none.bin"), "--quiet"};
    assert_int_equal(run_cli(7, missing), 1);
    const char *missing_model[] = {"classify", "predict", "--model", tmp_path("none.bin")};
    assert_int_equal(run_cli(4, missing_model), 1);
}

/* ---- the public data sets --------------------------------------------------- */

/* Take every step-th example (a deterministic subsample). */
static void subsample(const struct dataset *from, size_t max, struct dataset *to)
{
    dataset_init(to);
    to->path = from->path;
    size_t step = from->n > max ? (from->n + max - 1) / max : 1;
    for (size_t i = 0; i < from->n; i += step)
        dataset_add(to, from->ex[i].label, from->ex[i].text, from->ex[i].text_len,
                    from->ex[i].line);
}

/* Accuracy and macro-F1 of always answering the most frequent training label. */
static void majority_baseline(const struct dataset *train, const struct dataset *dev, double *acc,
                              double *macro_f1, size_t n_labels)
{
    static const char *labels[CLASSIFY_MAX_LABELS];
    static size_t counts[CLASSIFY_MAX_LABELS];
    size_t nl = 0;
    for (size_t i = 0; i < train->n; i++) {
        size_t k = 0;
        while (k < nl && strcmp(labels[k], train->ex[i].label) != 0)
            k++;
        if (k == nl) {
            labels[nl] = train->ex[i].label;
            counts[nl++] = 0;
        }
        counts[k]++;
    }
    const char *best = labels[0];
    size_t best_n = 0;
    for (size_t k = 0; k < nl; k++) {
        if (counts[k] > best_n) {
            best_n = counts[k];
            best = labels[k];
        }
    }
    size_t hits = 0;
    for (size_t i = 0; i < dev->n; i++)
        hits += strcmp(dev->ex[i].label, best) == 0;
    *acc = (double)hits / (double)dev->n;
    /* Only the majority label gets a non-zero F1: 2p/(1+p) with recall 1. */
    *macro_f1 = (2 * *acc / (1 + *acc)) / (double)n_labels;
}

static void test_public_data_sets(void **state)
{
    (void)state;
    const char *dir = getenv("OTKLIK_DATA_DIR");
    if (!dir || !*dir)
        dir = "../shared/data";
    const char *names[] = {"banking77", "bitext_cs", "rusentitweet", "sentirueval2016"};
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("[ SKIPPED  ] public data sets: directory %s not found (set OTKLIK_DATA_DIR to "
               "the folder holding banking77/, bitext_cs/, ... to run this test)\n",
               dir);
        return;
    }
    for (size_t i = 0; i < 4; i++) {
        char train_path[512], dev_path[512];
        snprintf(train_path, sizeof(train_path), "%s/%s/train.tsv", dir, names[i]);
        snprintf(dev_path, sizeof(dev_path), "%s/%s/dev.tsv", dir, names[i]);
        if (access(train_path, R_OK) != 0 || access(dev_path, R_OK) != 0) {
            printf("[ SKIPPED  ] %s: %s or %s missing\n", names[i], train_path, dev_path);
            continue;
        }
        struct dataset full_train, full_dev, train, dev;
        struct err_info err = {0};
        assert_int_equal(dataset_read(train_path, &full_train, &err), 0);
        assert_int_equal(dataset_read(dev_path, &full_dev, &err), 0);
        /* A subsample keeps the test fast under the sanitizers. */
        subsample(&full_train, 6000, &train);
        subsample(&full_dev, 1000, &dev);
        struct classify_train_options opt;
        classify_train_defaults(&opt);
        opt.hash_bits = 18;
        opt.is_quiet = true;
        struct classifier *c = NULL;
        assert_int_equal(classify_train(&train, &dev, NULL, &opt, &c, &err), 0);
        struct classify_eval ev;
        classify_eval(c, &dev, NULL, &ev);
        double base_acc, base_f1;
        majority_baseline(&train, &dev, &base_acc, &base_f1, classifier_n_labels(c));
        printf("[ DATA     ] %s: train %zu dev %zu: accuracy %.3f macro-F1 %.3f; majority "
               "baseline accuracy %.3f macro-F1 %.3f\n",
               names[i], train.n, dev.n, ev.accuracy, ev.macro_f1, base_acc, base_f1);
        /* "A wide margin": at least 0.1 more accuracy and 0.3 more macro-F1. */
        assert_true(ev.accuracy >= base_acc + 0.1);
        assert_true(ev.macro_f1 >= base_f1 + 0.3);
        classifier_free(c);
        dataset_free(&train);
        dataset_free(&dev);
        dataset_free(&full_train);
        dataset_free(&full_dev);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/otklik-test-classify-XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        return -1;
    feat_scratch_release();
    text_thread_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_and_predict),
        cmocka_unit_test(test_model_round_trip),
        cmocka_unit_test(test_model_file_errors),
        cmocka_unit_test(test_dataset_errors),
        cmocka_unit_test(test_eval_report),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_urgency),
        cmocka_unit_test(test_retrain),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_public_data_sets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
