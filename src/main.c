/*
 * main.c - the otklik command line: one table of commands, each with --help.
 *
 *   otklik serve     run the HTTP server
 *   otklik demo      fill a database with a demo retail chain
 *   otklik migrate   bring a database's schema up to date
 *   otklik user add  create a user (password on stdin)
 *   otklik token create  create an API token for an integration
 *   otklik classify  train, evaluate and run the text classifier
 *   otklik calc      metric and SLA calculators
 *   otklik config example  print the documented configuration file
 *   otklik qr        a signed QR poster for store signals
 *   otklik analytics rollups, trends and demo surveys
 *   otklik mail-in   hand one e-mail on stdin to an e-mail channel (MTA pipe)
 *   otklik channel   configured messenger, mail and SMS channels
 */
#include "analytics/calc.h"
#include "api/api.h"
#include "classify/classify.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "demo/demo.h"
#include "http/http.h"
#include "intake/import.h"
#include "analytics/analytics.h"
#include "channels/channels.h"
#include "jobs/jobs.h"
#include "rules/rules.h"
#include "store/store.h"

#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

/* ---- argument helpers ---------------------------------------------------- */

struct flag {
    const char *name;  /* "db" for --db */
    bool has_value;
    const char *value; /* set by parse_flags; "1" for switches */
};

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/*
 * "otklik CMD SUB ...": -1 with argc/argv moved past SUB, or the exit status
 * when help was asked for (0) or SUB is missing or wrong (2).
 */
static int subcommand(int *argc, char ***argv, const char *cmd, const char *sub,
                      const char *usage)
{
    bool ok = *argc >= 2 && strcmp((*argv)[1], sub) == 0;
    if (wants_help(*argc, *argv)) {
        fputs(usage, stdout);
        return 0;
    }
    if (!ok) {
        fprintf(stderr, "otklik %s: expected '%s' (see otklik %s --help)\n", cmd, sub, cmd);
        return 2;
    }
    (*argc)--;
    (*argv)++;
    return -1;
}

/* Parse --name value / --name=value / --switch; 2 (usage) on anything unknown. */
static int parse_flags(const char *cmd, int argc, char **argv, struct flag *flags, int n_flags,
                       struct config *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "otklik %s: unexpected argument '%s' (see --help)\n", cmd, a);
            return 2;
        }
        char name[64];
        const char *value = NULL;
        const char *eq = strchr(a + 2, '=');
        size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (n == 0 || n >= sizeof name) {
            fprintf(stderr, "otklik %s: bad option '%s'\n", cmd, a);
            return 2;
        }
        memcpy(name, a + 2, n);
        name[n] = '\0';
        int k;
        for (k = 0; k < n_flags; k++)
            if (strcmp(flags[k].name, name) == 0)
                break;
        bool is_config = k == n_flags && cfg != NULL && config_has(name);
        if (k == n_flags && !is_config) {
            fprintf(stderr, "otklik %s: unknown option '--%s' (see --help)\n", cmd, name);
            return 2;
        }
        bool has_value = is_config || flags[k].has_value;
        if (has_value) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                fprintf(stderr, "otklik %s: option '--%s' needs a value\n", cmd, name);
                return 2;
            }
        } else {
            if (eq) {
                fprintf(stderr, "otklik %s: option '--%s' takes no value\n", cmd, name);
                return 2;
            }
            value = "1";
        }
        if (is_config) {
            struct err_info err = {0};
            if (config_set(cfg, name, value, &err) != 0) {
                fprintf(stderr, "otklik %s: %s\n", cmd, err.message);
                return 2;
            }
        } else {
            flags[k].value = value;
        }
    }
    return 0;
}

static const char *flag(struct flag *flags, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(flags[i].name, name) == 0)
            return flags[i].value;
    return NULL;
}

static int open_store(const char *cmd, const char *path, struct store **out)
{
    struct err_info err = {0};
    if (store_open(path, NULL, out, &err) != 0) {
        fprintf(stderr, "otklik %s: %s\n", cmd, err.message);
        return 1;
    }
    return 0;
}

/* ---- serve ----------------------------------------------------------------- */

static const char *const demo_logins[][2] = {
    {"admin", "admin"},       {"operator", "operator"},         {"supervisor", "supervisor"},
    {"director", "store_director"}, {"regional", "regional_manager"}, {"head", "department_head"},
    {"ceo", "executive"},
};
#define DEMO_PASSWORD "demo"

static int cmd_serve(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: otklik serve [--config FILE] [--db FILE] [--listen HOST:PORT]\n"
               "                    [--print-logins] [--<option> VALUE ...]\n\n"
               "Serves the API and the web UI.  Logs one line with the bound address when\n"
               "ready (port 0 picks a free port).  SIGTERM or SIGINT stops it gracefully.\n"
               "Every option of `otklik config example` may be given as a flag.\n");
        return 0;
    }
    struct config cfg;
    config_defaults(&cfg);
    struct err_info err = {0};
    /* The config file comes first so that the environment and flags override it. */
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && config_load_file(&cfg, argv[i + 1], &err) != 0) {
            fprintf(stderr, "otklik serve: %s\n", err.message);
            return 2;
        }
    }
    if (config_load_env(&cfg, &err) != 0) {
        fprintf(stderr, "otklik serve: %s\n", err.message);
        return 2;
    }
    struct flag flags[] = {{"config", true, NULL}, {"print-logins", false, NULL}};
    int rc = parse_flags("serve", argc, argv, flags, 2, &cfg);
    if (rc != 0)
        return rc;
    int level = log_level_parse(cfg.log_level);
    if (level < 0) {
        fprintf(stderr, "otklik serve: unknown log level '%s'\n", cfg.log_level);
        return 2;
    }
    log_min_level = (enum log_level)level;

    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct app app = {.cfg = &cfg, .started_at_ms = clock_now_ms()};
    struct store_options so = {.n_readers = (int)cfg.readers, .wal_pages = (int)cfg.wal_pages,
                               .commit_delay_us =
                                   cfg.commit_delay_us > 0 ? (int)cfg.commit_delay_us : -1};
    if (store_open(cfg.db, &so, &app.store, &err) != 0) {
        fprintf(stderr, "otklik serve: %s\n", err.message);
        return 1;
    }
    api_load_models(&app);
    if (rules_start(&app, &err) != 0 || analytics_start(&app, &err) != 0 ||
        channels_start(&app, &err) != 0 || (jobs_start(&app) != 0 &&
                                            err_set(&err, ERR_INTERNAL, "", "no scheduler") != 0)) {
        fprintf(stderr, "otklik serve: %s\n", err.message);
        channels_stop(&app);
        analytics_stop(&app);
        rules_stop(&app);
        store_close(app.store);
        api_free_models(&app);
        return 1;
    }
    struct http_options ho = {
        .store = app.store,
        .listen = cfg.listen,
        .max_body = (size_t)cfg.max_body_bytes,
        .large_body = (size_t)cfg.import_max_bytes,
        .spool_dir = cfg.spool_dir[0] ? cfg.spool_dir : NULL,
        .max_connections = (unsigned)cfg.max_connections,
        .event_threads = (unsigned)cfg.http_threads,
        .session_ttl_s = cfg.session_ttl_s,
        .cookie_secure = cfg.cookie_secure,
        .login_attempts_per_min = (int)cfg.login_attempts_per_min,
    };
    struct http_server *srv;
    char bound[96];
    if (http_start(api_routes, &app, &ho, &srv, bound, sizeof bound, &err) != 0) {
        fprintf(stderr, "otklik serve: %s\n", err.message);
        jobs_stop();
        channels_stop(&app);
        analytics_stop(&app);
        rules_stop(&app);
        store_close(app.store);
        api_free_models(&app);
        return 1;
    }
    log_info("serve listening=http://%s db=%s", bound, cfg.db);
    if (flag(flags, 2, "print-logins")) {
        printf("\notklik is running at http://%s\n\nDemo logins (password \"%s\"):\n", bound,
               DEMO_PASSWORD);
        for (size_t i = 0; i < sizeof demo_logins / sizeof demo_logins[0]; i++)
            printf("  %-12s %s\n", demo_logins[i][0], demo_logins[i][1]);
        printf("\nStop with Ctrl-C.\n\n");
        fflush(stdout);
    }
    int sig;
    sigwait(&sigs, &sig);
    log_info("serve stopping signal=%d", sig);
    store_hub_close(app.store); /* ends live streams so their connections can finish */
    http_stop(srv);
    jobs_stop();
    channels_stop(&app);
    analytics_stop(&app);
    rules_stop(&app);
    store_close(app.store);
    api_free_models(&app);
    log_info("serve stopped");
    return 0;
}

/* ---- demo ------------------------------------------------------------------ */

static int emit_file(void *ctx, const char *line, size_t len)
{
    FILE *f = ctx;
    if (fwrite(line, 1, len, f) != len || fputc('\n', f) == EOF)
        return ERR_IO;
    return 0;
}

static int emit_line(void *ctx, const char *line, size_t len)
{
    struct err_info err = {0};
    int rc = importer_line(ctx, line, len, &err);
    if (rc != 0)
        fprintf(stderr, "otklik demo: %s\n", err.message);
    return rc;
}

struct demo_users_job {
    const char *hash;
    const char *store_code;
    const char *region;
};

static int job_demo_users(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct demo_users_job *j = arg;
    for (size_t i = 0; i < sizeof demo_logins / sizeof demo_logins[0]; i++) {
        const char *role = demo_logins[i][1];
        struct user_in u = {.login = demo_logins[i][0], .role = role, .password_hash = j->hash};
        if (strcmp(role, "store_director") == 0)
            u.store_code = j->store_code;
        if (strcmp(role, "regional_manager") == 0)
            u.region = j->region;
        u.skills = strcmp(role, "operator") == 0 ? "ru,en,chat,phone,email" : "";
        static const char *const names[] = {"Администратор",   "Ольга Кузнецова",
                                            "Игорь Соколов",   "Марина Орлова",
                                            "Денис Волков",    "Светлана Морозова",
                                            "Алексей Никитин"};
        u.name = names[i];
        int64_t id;
        int rc = store_user_add(tx, &u, &id, err);
        if (rc == ERR_CONFLICT) { /* a second demo run keeps existing users */
            err_clear(err);
            continue;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int cmd_demo(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: otklik demo [--db FILE | --ndjson FILE] [--seed N] [--stores N]\n"
               "                   [--customers N] [--requests N]\n\n"
               "Fills the database (default otklik.db) with a believable retail chain:\n"
               "stores in several regions and time zones, customers, orders, purchases,\n"
               "bonus movements and 90 days of requests from every channel, plus one demo\n"
               "user per role (password \"%s\").  --ndjson writes the same data as NDJSON\n"
               "lines for POST /api/v1/import instead (no users).\n",
               DEMO_PASSWORD);
        return 0;
    }
    struct flag flags[] = {{"db", true, NULL},        {"seed", true, NULL},
                           {"stores", true, NULL},    {"customers", true, NULL},
                           {"requests", true, NULL}, {"ndjson", true, NULL}};
    int rc = parse_flags("demo", argc, argv, flags, 6, NULL);
    if (rc != 0)
        return rc;
    struct demo_options o;
    demo_options_default(&o);
    const char *names[] = {"seed", "stores", "customers", "requests"};
    for (int i = 0; i < 4; i++) {
        const char *v = flag(flags, 6, names[i]);
        int64_t n;
        if (v == NULL)
            continue;
        if (str_to_i64(str_from(v), i == 0 ? 0 : 1, i == 0 ? INT64_MAX : 10000000, &n) != 0) {
            fprintf(stderr, "otklik demo: --%s must be a positive whole number\n", names[i]);
            return 2;
        }
        if (i == 0)
            o.seed = (uint64_t)n;
        else if (i == 1)
            o.n_stores = (int)n;
        else if (i == 2)
            o.n_customers = (int)n;
        else
            o.n_requests = (int)n;
    }
    const char *ndjson = flag(flags, 6, "ndjson");
    if (ndjson != NULL) {
        if (flag(flags, 6, "db")) {
            fprintf(stderr, "otklik demo: give --db or --ndjson, not both\n");
            return 2;
        }
        FILE *f = strcmp(ndjson, "-") == 0 ? stdout : fopen(ndjson, "w");
        if (f == NULL) {
            fprintf(stderr, "otklik demo: cannot write %s\n", ndjson);
            return 1;
        }
        rc = demo_generate(&o, emit_file, f);
        if ((f != stdout && fclose(f) != 0) || rc != 0) {
            fprintf(stderr, "otklik demo: cannot write %s\n", ndjson);
            return 1;
        }
        return 0;
    }
    const char *db = flag(flags, 6, "db") ? flag(flags, 6, "db") : "otklik.db";
    struct store *s;
    if ((rc = open_store("demo", db, &s)) != 0)
        return rc;
    uint64_t t0 = clock_mono_ns();
    struct importer *im = importer_new(s, "demo");
    struct err_info err = {0};
    json_t *report = NULL;
    rc = demo_generate(&o, emit_line, im);
    if (rc == 0)
        rc = importer_finish(im, &report, &err);
    importer_free(im);
    if (rc == 0) {
        /* Demo users: the director gets the first store, the regional manager its region. */
        char hash[crypto_pwhash_STRBYTES];
        if (sodium_init() < 0 ||
            crypto_pwhash_str(hash, DEMO_PASSWORD, strlen(DEMO_PASSWORD),
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
            fprintf(stderr, "otklik demo: cannot hash the demo password\n");
            rc = 1;
        } else {
            struct db *r = store_reader(s);
            sqlite3_stmt *st = db_stmt(r, "SELECT code, region FROM stores ORDER BY code LIMIT 1");
            char code[64] = "", region[64] = "";
            if (db_step(r, st, NULL) == 1) {
                snprintf(code, sizeof code, "%s", db_col_text(st, 0));
                snprintf(region, sizeof region, "%s", db_col_text(st, 1));
            }
            sqlite3_reset(st);
            store_reader_done(s, r);
            struct demo_users_job j = {hash, code[0] ? code : NULL, region[0] ? region : NULL};
            rc = store_write(s, job_demo_users, &j, &err);
            if (rc != 0)
                fprintf(stderr, "otklik demo: %s\n", err.message);
        }
    } else if (err.message[0]) {
        fprintf(stderr, "otklik demo: %s\n", err.message);
    }
    store_close(s);
    if (rc != 0) {
        json_decref(report);
        return 1;
    }
    char *text = json_dumps(report, JSON_COMPACT);
    printf("demo data written to %s in %.1f s: %s\n", db, (double)(clock_mono_ns() - t0) / 1e9,
           text);
    free(text);
    json_decref(report);
    return 0;
}

/* ---- migrate, user, token, config ----------------------------------------- */

static int cmd_migrate(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: otklik migrate --db FILE\n\nApplies pending schema migrations.\n");
        return 0;
    }
    struct flag flags[] = {{"db", true, NULL}};
    int rc = parse_flags("migrate", argc, argv, flags, 1, NULL);
    if (rc != 0)
        return rc;
    if (!flag(flags, 1, "db")) {
        fprintf(stderr, "otklik migrate: --db FILE is required\n");
        return 2;
    }
    struct store *s;
    if ((rc = open_store("migrate", flag(flags, 1, "db"), &s)) != 0)
        return rc;
    store_close(s);
    printf("database %s is up to date\n", flag(flags, 1, "db"));
    return 0;
}

struct user_job {
    struct user_in u;
    int64_t id;
};

static int job_user_add(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct user_job *j = arg;
    return store_user_add(tx, &j->u, &j->id, err);
}

static int check_role(const char *cmd, const char *role, bool allow_integration)
{
    if (role == NULL) {
        fprintf(stderr, "otklik %s: --role is required\n", cmd);
        return 2;
    }
    if (model_find(model_roles, role) < 0 ||
        (!allow_integration && strcmp(role, "integration") == 0)) {
        fprintf(stderr, "otklik %s: unknown role '%s' (one of:", cmd, role);
        for (int i = 0; model_roles[i]; i++)
            if (allow_integration || strcmp(model_roles[i], "integration") != 0)
                fprintf(stderr, " %s", model_roles[i]);
        fprintf(stderr, ")\n");
        return 2;
    }
    return 0;
}

static int cmd_user(int argc, char **argv)
{
    int sub = subcommand(&argc, &argv, "user", "add",
                         "usage: otklik user add --db FILE --login L --role R [--store CODE|--region R]\n"
                         "                       [--name NAME] [--skills a,b]\n\n"
                         "Creates a user; the password (8 characters at least) is read from stdin.\n");
    if (sub >= 0)
        return sub;
    struct flag flags[] = {{"db", true, NULL},    {"login", true, NULL}, {"role", true, NULL},
                           {"store", true, NULL}, {"region", true, NULL}, {"name", true, NULL},
                           {"skills", true, NULL}};
    int rc = parse_flags("user add", argc, argv, flags, 7, NULL);
    if (rc != 0)
        return rc;
    struct user_job j = {.u = {.login = flag(flags, 7, "login"),
                               .role = flag(flags, 7, "role"),
                               .store_code = flag(flags, 7, "store"),
                               .region = flag(flags, 7, "region"),
                               .name = flag(flags, 7, "name"),
                               .skills = flag(flags, 7, "skills")}};
    const char *db = flag(flags, 7, "db");
    if (db == NULL || j.u.login == NULL) {
        fprintf(stderr, "otklik user add: --db and --login are required\n");
        return 2;
    }
    if ((rc = check_role("user add", j.u.role, false)) != 0)
        return rc;
    if (strcmp(j.u.role, "store_director") == 0 && j.u.store_code == NULL) {
        fprintf(stderr, "otklik user add: a store_director needs --store CODE\n");
        return 2;
    }
    if (strcmp(j.u.role, "regional_manager") == 0 && j.u.region == NULL) {
        fprintf(stderr, "otklik user add: a regional_manager needs --region NAME\n");
        return 2;
    }
    char password[512];
    if (fgets(password, sizeof password, stdin) == NULL) {
        fprintf(stderr, "otklik user add: give the password on standard input\n");
        return 2;
    }
    password[strcspn(password, "\r\n")] = '\0';
    if (strlen(password) < 8) {
        fprintf(stderr, "otklik user add: the password must have 8 characters at least\n");
        return 2;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (sodium_init() < 0 ||
        crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        fprintf(stderr, "otklik user add: cannot hash the password\n");
        return 1;
    }
    sodium_memzero(password, sizeof password);
    j.u.password_hash = hash;
    struct store *s;
    if ((rc = open_store("user add", db, &s)) != 0)
        return rc;
    struct err_info err = {0};
    rc = store_write(s, job_user_add, &j, &err);
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "otklik user add: %s\n", err.message);
        return rc == ERR_INVALID || rc == ERR_CONFLICT ? 2 : 1;
    }
    printf("user %s (%s) created with id %lld\n", j.u.login, j.u.role, (long long)j.id);
    return 0;
}

struct token_job {
    const char *name, *role, *store, *region;
    unsigned char hash[32];
    int64_t id;
};

static int job_token_add(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct token_job *j = arg;
    return store_token_add(tx, j->name, j->hash, j->role, j->store, j->region, &j->id, err);
}

static int cmd_token(int argc, char **argv)
{
    int sub = subcommand(&argc, &argv, "token", "create",
                         "usage: otklik token create --db FILE --name NAME --role ROLE\n"
                         "                           [--store CODE] [--region R]\n\n"
                         "Creates an API token and prints it once; only its hash is stored.\n"
                         "Roles: the user roles, and integration (intake, import, orders, lookup).\n");
    if (sub >= 0)
        return sub;
    struct flag flags[] = {{"db", true, NULL},    {"name", true, NULL}, {"role", true, NULL},
                           {"store", true, NULL}, {"region", true, NULL}};
    int rc = parse_flags("token create", argc, argv, flags, 5, NULL);
    if (rc != 0)
        return rc;
    struct token_job j = {.name = flag(flags, 5, "name"),
                          .role = flag(flags, 5, "role"),
                          .store = flag(flags, 5, "store"),
                          .region = flag(flags, 5, "region")};
    const char *db = flag(flags, 5, "db");
    if (db == NULL || j.name == NULL) {
        fprintf(stderr, "otklik token create: --db and --name are required\n");
        return 2;
    }
    if ((rc = check_role("token create", j.role, true)) != 0)
        return rc;
    if (strcmp(j.role, "store_director") == 0 && j.store == NULL) {
        fprintf(stderr, "otklik token create: a store_director token needs --store CODE\n");
        return 2;
    }
    if (strcmp(j.role, "regional_manager") == 0 && j.region == NULL) {
        fprintf(stderr, "otklik token create: a regional_manager token needs --region NAME\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    unsigned char raw[32];
    char b64[64], token[80];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(token, sizeof token, "otk_%s", b64);
    http_token_hash(token, j.hash);
    struct store *s;
    if ((rc = open_store("token create", db, &s)) != 0)
        return rc;
    struct err_info err = {0};
    rc = store_write(s, job_token_add, &j, &err);
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "otklik token create: %s\n", err.message);
        return rc == ERR_INVALID ? 2 : 1;
    }
    printf("%s\n", token);
    return 0;
}

static int cmd_config(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "example") == 0) {
        config_write_example(stdout);
        return 0;
    }
    if (wants_help(argc, argv)) {
        printf("usage: otklik config example\n\nPrints the documented configuration file.\n");
        return 0;
    }
    fprintf(stderr, "otklik config: expected 'example'\n");
    return 2;
}

static const struct command commands[] = {
    {"serve", cmd_serve, "run the HTTP server (API, live stream, web UI)"},
    {"demo", cmd_demo, "fill a database with a demo retail chain"},
    {"migrate", cmd_migrate, "bring a database's schema up to date"},
    {"user", cmd_user, "user add: create a user (password on stdin)"},
    {"token", cmd_token, "token create: create an API token for an integration"},
    {"classify", classify_main, "train, evaluate and run the text classifier"},
    {"calc", calc_main, "metric and SLA calculators (nps, csat, erlang-c, due, ...)"},
    {"config", cmd_config, "config example: print the documented configuration file"},
    /* -- commands of the parts: rules (qr), channels (mail-in) -- */
    {"qr", rules_qr_main, "qr --store CODE --out poster.svg|png: a signed QR poster for store signals"},
    {"analytics", analytics_main, "analytics rebuild|detect|seed-surveys: rollups, trends, demo surveys"},
    {"mail-in", channels_mail_in_main, "hand one e-mail on stdin to an e-mail channel (MTA pipe)"},
    {"channel", channels_channel_main, "channel add|list: configured messenger, mail, SMS channels"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: otklik COMMAND [ARGS]   (otklik COMMAND --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "otklik: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
