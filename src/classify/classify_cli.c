/*
 * classify_cli.c - `otklik classify <command>`: train, eval, predict,
 * retrain, info, urgency and bench, on `label<TAB>text` files.  One table of
 * commands; each parses its own options and prints clear errors.
 */
#include "jobs/retrain.h"
#include "store/store.h"

#include <unistd.h>
#include "classify/classify_int.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/str.h"

#include <linear.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_USAGE 2

struct opt_spec {
    const char *name;   /* "--data" */
    bool has_value;     /* takes the next argument */
    const char **value; /* where the value goes (or "1" for flags) */
};

/* Parse argv[1..] against specs; ERR_INVALID with a message on stderr. */
static int parse_opts(const char *cmd, int argc, char **argv, struct opt_spec *specs)
{
    for (int i = 1; i < argc; i++) {
        struct opt_spec *s = specs;
        while (s->name && strcmp(s->name, argv[i]) != 0)
            s++;
        if (!s->name) {
            fprintf(stderr, "otklik classify %s: unknown option '%s' (see --help)\n", cmd, argv[i]);
            return ERR_INVALID;
        }
        if (!s->has_value) {
            *s->value = "1";
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "otklik classify %s: %s needs a value\n", cmd, argv[i]);
            return ERR_INVALID;
        }
        *s->value = argv[++i];
    }
    return 0;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

static int missing(const char *cmd, const char *opt)
{
    fprintf(stderr, "otklik classify %s: %s is required (see --help)\n", cmd, opt);
    return EXIT_USAGE;
}

static int fail(const char *cmd, const struct err_info *err)
{
    fprintf(stderr, "otklik classify %s: %s\n", cmd, err->message);
    return 1;
}

static int open_model(const char *cmd, const char *path, struct classifier **c)
{
    struct err_info err = {0};
    if (classifier_load(path, c, &err))
        return fail(cmd, &err);
    return 0;
}

static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    int64_t v;
    if (str_to_i64(str_from(s), min, max, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

/* ---- train ---------------------------------------------------------------- */

static const char train_help[] =
    "usage: otklik classify train --data TRAIN.tsv --out MODEL.bin [--dev DEV.tsv] [options]\n"
    "\n"
    "Train a linear classifier on label<TAB>text lines and write a model file.\n"
    "--dev calibrates the confidences and is scored into the model's summary;\n"
    "without it 10% of the training data is held out for calibration.\n"
    "\n"
    "  --hash-bits N      feature hash space 2^N buckets, 12..24 (default 20)\n"
    "  --word-ngrams N    1: stems, 2: stems and stem bigrams (default 2)\n"
    "  --char-ngrams A-B  character n-grams of words, sizes A..B; 0 disables (default 4-4)\n"
    "  --min-df N         drop features seen in fewer than N training texts (default 1)\n"
    "  --solver S         svm (L2-loss SVM, default), lr (logistic regression),\n"
    "                     cs (Crammer-Singer multi-class SVM)\n"
    "  --c C              cost (default 1 for svm/cs, 10 for lr)\n"
    "  --eps E            stopping tolerance (default liblinear's)\n"
    "  --quiet            no progress line\n";

static int parse_char_ngrams(const char *s, struct classify_train_options *opt)
{
    if (strcmp(s, "0") == 0) {
        opt->char_min = opt->char_max = 0;
        return 0;
    }
    const char *dash = strchr(s, '-');
    if (!dash)
        return ERR_INVALID;
    int64_t a, b;
    if (str_to_i64((struct str){s, (size_t)(dash - s)}, 1, 6, &a) ||
        str_to_i64(str_from(dash + 1), 1, 6, &b) || a > b)
        return ERR_INVALID;
    opt->char_min = (uint32_t)a;
    opt->char_max = (uint32_t)b;
    return 0;
}

static int parse_solver(const char *s, int *out)
{
    if (strcmp(s, "svm") == 0)
        *out = L2R_L2LOSS_SVC_DUAL;
    else if (strcmp(s, "lr") == 0)
        *out = L2R_LR;
    else if (strcmp(s, "cs") == 0)
        *out = MCSVM_CS;
    else
        return ERR_INVALID;
    return 0;
}

static int cmd_train(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(train_help, stdout);
        return 0;
    }
    const char *data = NULL, *out = NULL, *dev = NULL, *bits = NULL, *wng = NULL, *cng = NULL,
               *min_df = NULL, *solver = NULL, *cost = NULL, *eps = NULL, *quiet = NULL;
    struct opt_spec specs[] = {
        {"--data", true, &data},      {"--out", true, &out},         {"--dev", true, &dev},
        {"--hash-bits", true, &bits}, {"--word-ngrams", true, &wng}, {"--char-ngrams", true, &cng},
        {"--min-df", true, &min_df},  {"--solver", true, &solver},   {"--c", true, &cost},
        {"--eps", true, &eps},        {"--quiet", false, &quiet},    {NULL, false, NULL},
    };
    if (parse_opts("train", argc, argv, specs))
        return EXIT_USAGE;
    if (!data)
        return missing("train", "--data");
    if (!out)
        return missing("train", "--out");
    struct classify_train_options opt;
    classify_train_defaults(&opt);
    opt.is_quiet = quiet != NULL;
    const char *bad = NULL;
    if (bits && !parse_u32(bits, 12, 24, &opt.hash_bits))
        bad = "--hash-bits must be 12..24";
    else if (wng && !parse_u32(wng, 1, 2, &opt.word_ngrams))
        bad = "--word-ngrams must be 1 or 2";
    else if (cng && parse_char_ngrams(cng, &opt))
        bad = "--char-ngrams must be A-B with 1 <= A <= B <= 6, or 0";
    else if (min_df && !parse_u32(min_df, 1, 1000, &opt.min_df))
        bad = "--min-df must be 1..1000";
    else if (solver && parse_solver(solver, &opt.solver))
        bad = "--solver must be svm, lr or cs";
    else if (cost && str_to_double(str_from(cost), 1e-6, 1e6, &opt.c))
        bad = "--c must be a number in 1e-6..1e6";
    else if (eps && str_to_double(str_from(eps), 1e-8, 10, &opt.eps))
        bad = "--eps must be a number in 1e-8..10";
    if (bad) {
        fprintf(stderr, "otklik classify train: %s\n", bad);
        return EXIT_USAGE;
    }
    struct err_info err = {0};
    uint64_t t0 = clock_mono_ns();
    if (classify_train_file(data, dev, &opt, out, &err))
        return fail("train", &err);
    struct classifier *c;
    if (open_model("train", out, &c))
        return 1;
    struct classifier_summary s;
    classifier_describe(c, &s);
    printf("model=%s labels=%zu features=%u train=%u temperature=%.3f seconds=%.2f", out,
           classifier_n_labels(c), s.n_features, s.n_train, s.temperature,
           (double)(clock_mono_ns() - t0) / 1e9);
    if (s.n_dev)
        printf(" dev_accuracy=%.4f dev_macro_f1=%.4f", s.dev_accuracy, s.dev_macro_f1);
    printf("\n");
    classifier_free(c);
    return 0;
}

/* ---- eval ------------------------------------------------------------------ */

static const char eval_help[] =
    "usage: otklik classify eval --model MODEL.bin --data TEST.tsv\n"
    "\n"
    "Score a model on label<TAB>text lines: per-class precision, recall and F1, the\n"
    "confusion matrix, the calibration error, and as the last line\n"
    "accuracy=<a> macro_f1=<f>\n";

static int cmd_eval(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(eval_help, stdout);
        return 0;
    }
    const char *model = NULL, *data = NULL;
    struct opt_spec specs[] = {
        {"--model", true, &model}, {"--data", true, &data}, {NULL, false, NULL}};
    if (parse_opts("eval", argc, argv, specs))
        return EXIT_USAGE;
    if (!model)
        return missing("eval", "--model");
    if (!data)
        return missing("eval", "--data");
    struct classifier *c;
    if (open_model("eval", model, &c))
        return 1;
    struct err_info err = {0};
    struct classify_eval ev;
    int rc = classify_eval_file(c, data, stdout, &ev, &err);
    classifier_free(c);
    return rc ? fail("eval", &err) : 0;
}

/* A command that takes only --model: help, options, the model opened into *c.
 * -1 to go on, or the exit status. */
static int model_command(const char *name, const char *help, int argc, char **argv,
                         struct classifier **c)
{
    if (wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    const char *model = NULL;
    struct opt_spec specs[] = {{"--model", true, &model}, {NULL, false, NULL}};
    if (parse_opts(name, argc, argv, specs))
        return EXIT_USAGE;
    if (!model)
        return missing(name, "--model");
    return open_model(name, model, c) ? 1 : -1;
}

/* ---- predict ---------------------------------------------------------------- */

static const char predict_help[] =
    "usage: otklik classify predict --model MODEL.bin\n"
    "\n"
    "Read texts from stdin, one per line, and write label<TAB>confidence for each.\n";

static int cmd_predict(int argc, char **argv)
{
    struct classifier *c;
    int rc = model_command("predict", predict_help, argc, argv, &c);
    if (rc >= 0)
        return rc;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)got;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        struct prediction p;
        classifier_predict(c, line, len, &p);
        printf("%s\t%.4f\n", p.label, p.confidence);
    }
    free(line);
    classifier_free(c);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- info ------------------------------------------------------------------- */

static const char info_help[] = "usage: otklik classify info --model MODEL.bin\n"
                                "\n"
                                "Print a model's settings, labels and training summary.\n";

static int cmd_info(int argc, char **argv)
{
    struct classifier *c;
    int rc = model_command("info", info_help, argc, argv, &c);
    if (rc >= 0)
        return rc;
    struct classifier_summary s;
    classifier_describe(c, &s);
    char when[40];
    time_format_rfc3339(s.trained_at_ms, when, sizeof(when));
    printf("format_version=%d hash_bits=%u word_ngrams=%u char_ngrams=%u-%u features=%u\n",
           CLASSIFY_MODEL_VERSION, s.hash_bits, s.word_ngrams, s.char_min, s.char_max,
           s.n_features);
    printf("solver=%d c=%g temperature=%.4f trained_at=%s train=%u dev=%u", s.solver, s.c,
           s.temperature, when, s.n_train, s.n_dev);
    if (s.n_dev)
        printf(" dev_accuracy=%.4f dev_macro_f1=%.4f", s.dev_accuracy, s.dev_macro_f1);
    printf("\n");
    for (size_t k = 0; k < classifier_n_labels(c); k++)
        printf("label %s train=%u\n", classifier_label(c, k), c->label_count[k]);
    classifier_free(c);
    return 0;
}

/* ---- retrain ---------------------------------------------------------------- */

static const char retrain_help[] =
    "usage: otklik classify retrain --seed SEED.tsv --corrections CORR.tsv --model CUR.bin\n"
    "                               --out NEW.bin\n"
    "       otklik classify retrain --db FILE [--seed SEED.tsv] [--model CUR.bin] [--out NEW.bin]\n"
    "\n"
    "Train a candidate on the seed set plus operator corrections (label<TAB>text),\n"
    "score it and the current model on a held-out part, and write the candidate to\n"
    "NEW.bin if it is at least as good, else a copy of the current model.\n"
    "With --db the corrections are the topics operators corrected in that database;\n"
    "the seed defaults to models/topic_seed.tsv, the current model to FILE.topic.bin\n"
    "(or models/topic.bin when there is none yet) and the output to FILE.topic.bin,\n"
    "which `otklik serve --db FILE` loads in preference to the shipped model.\n";

static int cmd_retrain(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(retrain_help, stdout);
        return 0;
    }
    const char *seed = NULL, *corr = NULL, *model = NULL, *out = NULL, *db = NULL;
    struct opt_spec specs[] = {{"--seed", true, &seed},
                               {"--corrections", true, &corr},
                               {"--model", true, &model},
                               {"--out", true, &out},
                               {"--db", true, &db},
                               {NULL, false, NULL}};
    if (parse_opts("retrain", argc, argv, specs))
        return EXIT_USAGE;
    struct retrain_report rep;
    struct err_info err = {0};
    if (db != NULL) {
        if (corr != NULL) {
            fprintf(stderr, "otklik classify retrain: give --db or --corrections, not both\n");
            return EXIT_USAGE;
        }
        char db_model[4096];
        snprintf(db_model, sizeof db_model, "%s.topic.bin", db);
        if (!seed)
            seed = "models/topic_seed.tsv";
        if (!out)
            out = db_model;
        if (!model)
            model = access(db_model, R_OK) == 0 ? db_model : "models/topic.bin";
        struct store *s = NULL;
        size_t n = 0;
        int rc = store_open(db, NULL, &s, &err);
        if (rc == 0)
            rc = retrain_topic_model(s, seed, model, out, &rep, &n, &err);
        store_close(s);
        if (rc)
            return fail("retrain", &err);
        printf("database=%s model=%s\n", db, out);
    } else {
        if (!seed)
            return missing("retrain", "--seed");
        if (!out)
            return missing("retrain", "--out");
        if (classify_retrain(seed, corr, model, out, &rep, &err))
            return fail("retrain", &err);
    }
    printf("seed=%zu corrections=%zu train=%zu holdout=%zu old_macro_f1=%.4f new_macro_f1=%.4f "
           "old_accuracy=%.4f new_accuracy=%.4f kept=%s\n",
           rep.n_seed, rep.n_corrections, rep.n_train, rep.n_holdout, rep.old_macro_f1,
           rep.new_macro_f1, rep.old_accuracy, rep.new_accuracy, rep.is_kept_old ? "old" : "new");
    return 0;
}

/* ---- urgency ---------------------------------------------------------------- */

static const char urgency_help[] =
    "usage: otklik classify urgency [--topic-model M] [--sentiment-model M]\n"
    "\n"
    "Read texts from stdin, one per line, and write for each:\n"
    "priority<TAB>quadrant<TAB>signals (comma-separated).\n";

static int cmd_urgency(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(urgency_help, stdout);
        return 0;
    }
    const char *topic_path = NULL, *sent_path = NULL;
    struct opt_spec specs[] = {{"--topic-model", true, &topic_path},
                               {"--sentiment-model", true, &sent_path},
                               {NULL, false, NULL}};
    if (parse_opts("urgency", argc, argv, specs))
        return EXIT_USAGE;
    struct classifier *topic = NULL, *sent = NULL;
    if (topic_path && open_model("urgency", topic_path, &topic))
        return 1;
    if (sent_path && open_model("urgency", sent_path, &sent)) {
        classifier_free(topic);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)got;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        struct urgency_context ctx = {0};
        struct prediction p;
        if (topic) {
            classifier_predict(topic, line, len, &p);
            ctx.topic = p.label;
        }
        if (sent) {
            classifier_predict(sent, line, len, &p);
            ctx.sentiment = p.label;
            ctx.sentiment_conf = p.confidence;
        }
        struct urgency_result r;
        urgency_assess(line, len, &ctx, &r);
        printf("%s\t%s\t", urgency_priority_name(r.priority), urgency_quadrant_name(r.quadrant));
        for (size_t i = 0; i < r.n_signals; i++)
            printf("%s%s", i ? "," : "", r.signals[i]);
        printf("\n");
    }
    free(line);
    classifier_free(topic);
    classifier_free(sent);
    return 0;
}

/* ---- bench ------------------------------------------------------------------ */

static const char bench_help[] =
    "usage: otklik classify bench --model MODEL.bin --data TEXTS [--repeat N]\n"
    "                             [--also MODEL2.bin] [--urgency]\n"
    "\n"
    "Measure in-process prediction on one thread: model load time, throughput\n"
    "(texts/s over N passes, default 5) and the per-text cost at p50/p99 (µs).\n"
    "TEXTS is label<TAB>text lines (the text is used) or plain lines.\n"
    "--also adds a second model's prediction to each text and --urgency the\n"
    "urgency assessment, to measure what intake pays per request (topic +\n"
    "sentiment + urgency).\n";

/* The work intake does for one request: topic, sentiment, urgency. */
static void bench_one(const struct classifier *c, const struct classifier *also, bool urgency,
                      const struct example *e)
{
    struct prediction p, q;
    classifier_predict(c, e->text, e->text_len, &p);
    struct urgency_context ctx = {.topic = p.label};
    if (also) {
        classifier_predict(also, e->text, e->text_len, &q);
        ctx.sentiment = q.label;
        ctx.sentiment_conf = q.confidence;
    }
    if (urgency) {
        struct urgency_result r;
        urgency_assess(e->text, e->text_len, &ctx, &r);
    }
}

/* CPU time of this thread, ns: unlike wall time it ignores preemption on a busy machine. */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmd_bench(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(bench_help, stdout);
        return 0;
    }
    const char *model = NULL, *data = NULL, *repeat_s = NULL, *also_path = NULL, *urg = NULL;
    struct opt_spec specs[] = {{"--model", true, &model},     {"--data", true, &data},
                               {"--repeat", true, &repeat_s}, {"--also", true, &also_path},
                               {"--urgency", false, &urg},    {NULL, false, NULL}};
    if (parse_opts("bench", argc, argv, specs))
        return EXIT_USAGE;
    if (!model)
        return missing("bench", "--model");
    if (!data)
        return missing("bench", "--data");
    uint32_t repeat = 5;
    if (repeat_s && !parse_u32(repeat_s, 1, 1000, &repeat)) {
        fprintf(stderr, "otklik classify bench: --repeat must be 1..1000\n");
        return EXIT_USAGE;
    }
    FILE *f = fopen(data, "rb");
    if (!f) {
        fprintf(stderr, "otklik classify bench: cannot open %s\n", data);
        return 1;
    }
    struct dataset texts;
    dataset_init(&texts);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)got;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        const char *tab = memchr(line, '\t', len);
        const char *text = tab ? tab + 1 : line;
        dataset_add(&texts, "", text, len - (size_t)(text - line), 0);
    }
    free(line);
    fclose(f);

    uint64_t t0 = clock_mono_ns();
    struct classifier *c;
    if (open_model("bench", model, &c)) {
        dataset_free(&texts);
        return 1;
    }
    double load_ms = (double)(clock_mono_ns() - t0) / 1e6;
    struct classifier *also = NULL;
    if (also_path && open_model("bench", also_path, &also)) {
        classifier_free(c);
        dataset_free(&texts);
        return 1;
    }
    bool with_urgency = urg != NULL;
    uint64_t *ns = xmalloc((texts.n ? texts.n : 1) * sizeof(uint64_t));
    /* One warm-up pass: per-thread scratch and caches. */
    for (size_t i = 0; i < texts.n; i++)
        bench_one(c, also, with_urgency, &texts.ex[i]);
    uint64_t start = clock_mono_ns(), start_cpu = thread_cpu_ns();
    for (uint32_t r = 0; r < repeat; r++) {
        for (size_t i = 0; i < texts.n; i++)
            bench_one(c, also, with_urgency, &texts.ex[i]);
    }
    double total_s = (double)(clock_mono_ns() - start) / 1e9;
    double cpu_s = (double)(thread_cpu_ns() - start_cpu) / 1e9;
    for (size_t i = 0; i < texts.n; i++) {
        uint64_t a = clock_mono_ns();
        bench_one(c, also, with_urgency, &texts.ex[i]);
        ns[i] = clock_mono_ns() - a;
    }
    qsort(ns, texts.n, sizeof(uint64_t), cmp_u64);
    double per_s = total_s > 0 ? (double)texts.n * repeat / total_s : 0;
    double per_cpu_s = cpu_s > 0 ? (double)texts.n * repeat / cpu_s : 0;
    printf("texts=%zu load_ms=%.1f texts_per_s=%.0f texts_per_cpu_s=%.0f p50_us=%.2f "
           "p99_us=%.2f\n",
           texts.n, load_ms, per_s, per_cpu_s, texts.n ? (double)ns[texts.n / 2] / 1e3 : 0,
           texts.n ? (double)ns[texts.n * 99 / 100] / 1e3 : 0);
    free(ns);
    classifier_free(c);
    classifier_free(also);
    dataset_free(&texts);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------- */

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *what;
};

static const struct command commands[] = {
    {"train", cmd_train, "train a model on label<TAB>text lines"},
    {"eval", cmd_eval, "score a model: per-class P/R/F1, confusion matrix, accuracy, macro-F1"},
    {"predict", cmd_predict, "label texts read from stdin: label<TAB>confidence"},
    {"retrain", cmd_retrain, "retrain from seed + operator corrections, keep the better model"},
    {"info", cmd_info, "show a model's settings, labels and training summary"},
    {"urgency", cmd_urgency, "urgency/importance quadrant and priority of texts from stdin"},
    {"bench", cmd_bench, "measure in-process prediction speed"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: otklik classify <command> [options]   (otklik classify <command> --help)\n"
               "\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
}

int classify_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "otklik classify: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
