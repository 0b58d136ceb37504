/*
 * enrich_bench.c - what classification adds to intake: api_enrich_request
 * (topic, sentiment, urgency/importance, from the text alone and then with the
 * customer's context from the store) timed per request on one thread, on the
 * demo database's texts.
 * Usage: enrich_bench DB MODELS_DIR NDJSON [N]   (prints p50, p90, p99 in µs)
 */
#include "api/api.h"
#include "core/clock.h"
#include "core/config.h"
#include "intake/intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: enrich_bench DB MODELS_DIR NDJSON [N]\n");
        return 2;
    }
    size_t n_max = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 20000;
    struct config cfg;
    config_defaults(&cfg);
    snprintf(cfg.db, sizeof cfg.db, "%s", argv[1]);
    snprintf(cfg.models_dir, sizeof cfg.models_dir, "%s", argv[2]);
    struct app app = {.cfg = &cfg};
    struct err_info err = {0};
    if (store_open(cfg.db, NULL, &app.store, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    api_load_models(&app);
    if (!app.topic || !app.sentiment) {
        fprintf(stderr, "models not found in %s\n", argv[2]);
        return 1;
    }
    /* Parse the demo's request lines into intake input once. */
    FILE *f = fopen(argv[3], "r");
    if (f == NULL)
        return 1;
    struct arena a;
    arena_init(&a, 1 << 20);
    struct request_in *reqs = calloc(n_max, sizeof *reqs);
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (n < n_max && getline(&line, &cap, f) > 0) {
        if (strncmp(line, "{\"type\":\"request\"", 17) != 0)
            continue;
        json_t *o = json_loads(line, 0, NULL);
        json_object_del(o, "type");
        json_object_del(o, "topic");
        json_object_del(o, "sentiment");
        json_object_del(o, "priority");
        struct err_info e = {0};
        if (intake_request_parse(o, true, &a, &reqs[n], &e) == 0)
            n++;
        json_decref(o);
    }
    free(line);
    fclose(f);
    uint64_t *ns = calloc(n, sizeof *ns);
    struct arena scratch;
    arena_init(&scratch, 0);
    /* A warm-up pass (not reported), then from the text alone (no customer),
     * then with the customer's context. */
    for (size_t i = 0; i < n; i++) {
        struct request_in in = reqs[i];
        api_enrich_request(&app, &in, &scratch);
        arena_reset(&scratch);
    }
    static const char *const what[] = {
        "topic + sentiment + urgency/importance from the text",
        "the same with the customer's context from the store",
    };
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            struct request_in in = reqs[i];
            if (pass == 0)
                memset(&in.customer, 0, sizeof in.customer);
            uint64_t t0 = clock_mono_ns();
            api_enrich_request(&app, &in, &scratch);
            ns[i] = clock_mono_ns() - t0;
            arena_reset(&scratch);
        }
        qsort(ns, n, sizeof *ns, cmp_u64);
        printf("classification in intake, %s, %zu requests, one thread: p50 %.1f us, p90 %.1f us, "
               "p99 %.1f us\n",
               what[pass], n, ns[n / 2] / 1e3, ns[n * 9 / 10] / 1e3, ns[n * 99 / 100] / 1e3);
    }
    free(ns);
    free(reqs);
    arena_free(&scratch);
    arena_free(&a);
    api_free_models(&app);
    store_close(app.store);
    return 0;
}
