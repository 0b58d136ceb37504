/*
 * import_bench.c - the importer in-process, without HTTP: each NDJSON file
 * is imported in turn into a new store at DB (the writer, its fsyncs and the
 * checkpoint as in the server; no rules, rollups or classification), and
 * its time printed.  Run under `valgrind --tool=callgrind --separate-threads=yes`
 * for the writer's and the parsing thread's instruction counts, which do not
 * move with the machine's speed.
 *   import_bench DB FILE...      import each file, in order
 *   import_bench --parse FILE    parse each line with jansson, then with json_load_fast
 */
#include "core/clock.h"
#include "core/json_fast.h"
#include "intake/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
        fprintf(stderr, "import_bench: cannot read %s\n", path);
        exit(1);
    }
    long n = ftell(f);
    rewind(f);
    char *data = malloc((size_t)n + 1);
    if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "import_bench: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void parse_both(const char *path)
{
    size_t len;
    char *data = slurp(path, &len);
    for (int pass = 0; pass < 2; pass++) {
        uint64_t t0 = clock_mono_ns();
        size_t lines = 0, parsed = 0;
        for (const char *p = data, *end = data + len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = (size_t)((nl ? nl : end) - p);
            json_error_t je;
            json_t *o = pass == 0 ? json_loadb(p, n, JSON_REJECT_DUPLICATES, &je)
                                  : json_load_fast(p, n);
            lines++;
            parsed += o != NULL;
            json_decref(o);
            p += n + 1;
        }
        printf("%s: %zu of %zu lines in %.1f ms\n", pass == 0 ? "jansson json_loadb" : "json_load_fast",
               parsed, lines, (double)(clock_mono_ns() - t0) / 1e6);
    }
    free(data);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--parse") == 0) {
        for (int i = 2; i < argc; i++)
            parse_both(argv[i]);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: import_bench DB FILE...  |  import_bench --parse FILE...\n");
        return 2;
    }
    const char *db = argv[1];
    char path[4096];
    unlink(db);
    snprintf(path, sizeof path, "%s-wal", db);
    unlink(path);
    snprintf(path, sizeof path, "%s-shm", db);
    unlink(path);
    struct store_options opt = {.n_readers = 2};
    struct store *s;
    struct err_info err = {0};
    if (store_open(db, &opt, &s, &err) != 0) {
        fprintf(stderr, "import_bench: %s\n", err.message);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        size_t len;
        char *data = slurp(argv[i], &len);
        json_t *report = NULL;
        uint64_t t0 = clock_mono_ns();
        if (import_ndjson(s, data, len, "bench", &report, &err) != 0) {
            fprintf(stderr, "import_bench: %s\n", err.message);
            return 1;
        }
        double ms = (double)(clock_mono_ns() - t0) / 1e6;
        json_int_t accepted = json_integer_value(json_object_get(report, "accepted"));
        printf("%s: %lld lines accepted in %.1f ms, %.0f lines/s\n", argv[i], (long long)accepted,
               ms, (double)accepted * 1000 / ms);
        json_decref(report);
        free(data);
    }
    store_close(s);
    return 0;
}
