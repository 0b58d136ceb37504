/*
 * config.c - the option table and its three sources.
 */
#include "core/config.h"

#include "core/str.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STRING, OPT_URL, OPT_INT, OPT_BOOL };

struct option_def {
    const char *name;
    enum opt_type type;
    size_t offset;
    size_t size; /* for strings: the buffer size */
    const char *def;
    int64_t min, max;
    bool is_reloadable;
    const char *help;
};

#define STR_OPT(field, def, help)                                                                  \
    {#field, OPT_STRING, offsetof(struct config, field), sizeof(((struct config *)0)->field),     \
     def, 0, 0, false, help}
#define URL_OPT(field, def, help)                                                                  \
    {#field, OPT_URL, offsetof(struct config, field), sizeof(((struct config *)0)->field),        \
     def, 0, 0, false, help}
#define INT_OPT(field, def, min, max, help)                                                        \
    {#field, OPT_INT, offsetof(struct config, field), 0, def, min, max, false, help}
#define BOOL_OPT(field, def, help)                                                                 \
    {#field, OPT_BOOL, offsetof(struct config, field), 0, def, 0, 1, false, help}

static const struct option_def options[] = {
    STR_OPT(listen, "127.0.0.1:8080", "address and port to serve on (port 0: any free port)"),
    STR_OPT(db, "otklik.db", "SQLite database file (created and migrated at start)"),
    STR_OPT(log_level, "info", "least important log level written: debug, info, warn, error"),
    STR_OPT(models_dir, "models", "directory holding the classifier models topic.bin and sentiment.bin"),
    INT_OPT(max_body_bytes, "1048576", 1024, 67108864, "largest API request body, bytes"),
    INT_OPT(import_max_bytes, "536870912", 1024, 4294967296, "largest bulk import body, bytes"),
    STR_OPT(spool_dir, "",
            "directory where an import body larger than 1 MiB is kept while it arrives, in an "
            "unlinked file (empty: $TMPDIR, else /tmp)"),
    INT_OPT(max_connections, "2048", 16, 65536, "open HTTP connections at most"),
    INT_OPT(http_threads, "0", 0, 256, "HTTP event-loop threads (0: one per CPU)"),
    INT_OPT(readers, "4", 1, 64, "read-only database connections (each caches 16 MiB of pages)"),
    INT_OPT(wal_pages, "16000", 100, 1000000,
            "WAL pages (4 KiB each) at which a thread copies the WAL into the database; more: "
            "pages changed again and again are copied less often, for a larger WAL"),
    INT_OPT(commit_delay_us, "300", 0, 100000,
            "microseconds a group commit waits for more writes to join it, while writes arrive "
            "faster than it commits (0: never waits); one commit and one fsync then serve more"),
    INT_OPT(session_ttl_s, "43200", 60, 2592000, "how long a browser login lasts, seconds"),
    INT_OPT(login_attempts_per_min, "20", 1, 100000,
            "failed logins allowed per client address and minute"),
    BOOL_OPT(cookie_secure, "false", "mark session cookies Secure (set when served over HTTPS)"),
    URL_OPT(public_url, "",
            "public address for links in messages and posters, e.g. https://care.example.ru "
            "(empty: http://<listen>)"),
};

#define N_OPTIONS (sizeof options / sizeof options[0])

static const struct option_def *find(const char *name)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

bool config_has(const char *name)
{
    return find(name) != NULL;
}

static int apply(struct config *c, const struct option_def *o, const char *value,
                 struct err_info *err)
{
    char *field = (char *)c + o->offset;
    switch (o->type) {
    case OPT_URL:
        if (value[0] != '\0' && ((strncmp(value, "http://", 7) != 0 &&
                                  strncmp(value, "https://", 8) != 0) ||
                                 strpbrk(value, " \t\r\n?#") != NULL))
            return err_set(err, ERR_INVALID, o->name,
                           "%s must be an http:// or https:// address without a query", o->name);
        /* fall through */
    case OPT_STRING:
        if (strlen(value) >= o->size)
            return err_set(err, ERR_INVALID, o->name, "%s is too long", o->name);
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case OPT_INT: {
        int64_t v;
        if (str_to_i64(str_from(value), o->min, o->max, &v) != 0)
            return err_set(err, ERR_INVALID, o->name, "%s must be a whole number from %lld to %lld",
                           o->name, (long long)o->min, (long long)o->max);
        *(int64_t *)field = v;
        return 0;
    }
    case OPT_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0)
            *(bool *)field = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
                 strcmp(value, "no") == 0)
            *(bool *)field = false;
        else
            return err_set(err, ERR_INVALID, o->name, "%s must be true or false", o->name);
        return 0;
    }
    return ERR_INTERNAL;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_OPTIONS; i++)
        apply(c, &options[i], options[i].def, NULL);
}

int config_set(struct config *c, const char *name, const char *value, struct err_info *err)
{
    const struct option_def *o = find(name);
    if (o == NULL)
        return err_set(err, ERR_INVALID, name, "unknown option '%s'", name);
    return apply(c, o, value, err);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load_file(struct config *c, const char *path, struct err_info *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return err_set(err, ERR_INVALID, "config", "cannot open config file %s", path);
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (rc == 0 && getline(&line, &cap, f) != -1) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rc = err_set(err, ERR_INVALID, "config", "%s:%d: expected name = value", path, lineno);
            break;
        }
        *eq = '\0';
        struct err_info sub = {0};
        if (config_set(c, trim(s), trim(eq + 1), &sub) != 0)
            rc = err_set(err, ERR_INVALID, sub.field, "%s:%d: %s", path, lineno, sub.message);
    }
    free(line);
    fclose(f);
    return rc;
}

int config_load_env(struct config *c, struct err_info *err)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char name[64] = "OTKLIK_";
        size_t n = 7;
        for (const char *p = options[i].name; *p && n < sizeof name - 1; p++)
            name[n++] = (char)toupper((unsigned char)*p);
        name[n] = '\0';
        const char *v = getenv(name);
        if (v != NULL) {
            struct err_info sub = {0};
            if (apply(c, &options[i], v, &sub) != 0)
                return err_set(err, ERR_INVALID, sub.field, "%s: %s", name, sub.message);
        }
    }
    return 0;
}

void config_write_example(FILE *out)
{
    fprintf(out, "# otklik configuration.  Every option may also be given as an environment\n"
                 "# variable OTKLIK_<NAME> or a flag --<name> <value>; flags win.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        fprintf(out, "# %s", o->help);
        if (o->type == OPT_INT)
            fprintf(out, " [%lld..%lld]", (long long)o->min, (long long)o->max);
        fprintf(out, "\n%s = %s\n\n", o->name, o->def);
    }
}

void config_public_url(const struct config *c, char *out, size_t cap)
{
    if (c->public_url[0] == '\0') {
        snprintf(out, cap, "http://%s", c->listen);
        return;
    }
    size_t n = strlen(c->public_url);
    while (n > 0 && c->public_url[n - 1] == '/')
        n--;
    snprintf(out, cap, "%.*s", (int)n, c->public_url);
}
