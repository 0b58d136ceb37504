/*
 * qr_cli.c - `otklik qr`: write a signed QR poster for a store (and
 * checkout) to a file, SVG or PNG by the file's extension.
 */
#include "rules/rules_int.h"

#include "core/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "otklik qr: %s%s%s (see --help)\n", msg, arg ? " " : "", arg ? arg : "");
    return 2;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int rules_qr_main(int argc, char **argv)
{
    const char *db = NULL, *store = NULL, *out = NULL, *base = NULL, *checkout_s = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: otklik qr --db FILE --store CODE [--checkout N] --out poster.svg|png\n"
                   "                 --base-url URL\n\n"
                   "Writes a printable poster whose QR code opens the public signal page of the\n"
                   "store (and checkout N) under URL, e.g. https://care.example.ru.  The link\n"
                   "is signed with the database's secret; only signed links are accepted.\n"
                   "SVG is an A4 poster with text; PNG is the code alone.\n");
            return 0;
        }
        const char **slot = strcmp(argv[i], "--db") == 0         ? &db
                            : strcmp(argv[i], "--store") == 0    ? &store
                            : strcmp(argv[i], "--out") == 0      ? &out
                            : strcmp(argv[i], "--base-url") == 0 ? &base
                            : strcmp(argv[i], "--checkout") == 0 ? &checkout_s
                                                                 : NULL;
        if (slot == NULL)
            return usage_error("unknown argument", argv[i]);
        if (i + 1 >= argc)
            return usage_error("a value is needed after", argv[i]);
        *slot = argv[++i];
    }
    if (db == NULL || store == NULL || out == NULL || base == NULL)
        return usage_error("--db, --store, --out and --base-url are required", NULL);
    int64_t checkout = 0;
    if (checkout_s && str_to_i64(str_from(checkout_s), 1, 999, &checkout) != 0)
        return usage_error("--checkout must be a number from 1 to 999, not", checkout_s);
    bool is_png = ends_with(out, ".png");
    if (!is_png && !ends_with(out, ".svg"))
        return usage_error("--out must end in .svg or .png:", out);
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return usage_error("--base-url must start with http:// or https://:", base);

    struct store *s;
    struct err_info err = {0};
    if (store_open(db, NULL, &s, &err) != 0) {
        fprintf(stderr, "otklik qr: %s\n", err.message);
        return 1;
    }
    unsigned char key[32];
    char name[256] = "";
    int rc = qr_key_load(s, key, &err);
    if (rc == 0) {
        struct db *r = store_reader(s);
        sqlite3_stmt *st = db_stmt(r, "SELECT name FROM stores WHERE code = $1");
        db_bind_text(st, 1, store, -1);
        if (db_step(r, st, NULL) == 1)
            snprintf(name, sizeof name, "%s", db_col_text(st, 0));
        else
            rc = err_set(&err, ERR_NOTFOUND, "store", "unknown store code '%s'", store);
        sqlite3_reset(st);
        store_reader_done(s, r);
    }
    char *poster = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = rules_qr_poster(key, base, store, name, checkout, is_png, &poster, &len, &err);
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "otklik qr: %s\n", err.message);
        return rc == ERR_NOTFOUND || rc == ERR_INVALID ? 2 : 1;
    }
    FILE *f = fopen(out, "wb");
    bool ok = f && fwrite(poster, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = false;
    free(poster);
    if (!ok) {
        fprintf(stderr, "otklik qr: cannot write %s\n", out);
        return 1;
    }
    printf("poster for %s%s written to %s\n", store, checkout ? " (checkout)" : "", out);
    return 0;
}
