/*
 * config.h - the one table of configuration options.
 *
 * Each option has a name, a type, a default, bounds and a help line.  Values
 * come, in increasing precedence, from the defaults, a config file
 * (`name = value` lines, # comments), the environment (OTKLIK_<NAME>) and
 * command-line flags (--name value).  Unknown names are errors.  The
 * documented example file is generated from the table (`otklik config example`).
 */
#ifndef OTKLIK_CONFIG_H
#define OTKLIK_CONFIG_H

#include "core/err.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct config {
    char listen[128];         /* HOST:PORT to serve on; port 0 picks a free port */
    char db[512];             /* SQLite database file */
    char log_level[8];        /* debug, info, warn, error */
    char models_dir[512];     /* directory with topic.bin and sentiment.bin */
    int64_t max_body_bytes;   /* request body limit for the API */
    int64_t import_max_bytes; /* body limit for POST /api/v1/import */
    char spool_dir[512];      /* where import bodies are kept while they arrive; "" = $TMPDIR */
    int64_t max_connections;  /* open HTTP connections at most */
    int64_t http_threads;     /* HTTP event-loop threads, 0: one per CPU */
    int64_t readers;          /* read connections to the database */
    int64_t wal_pages;        /* WAL pages at which a checkpoint copies it into the database */
    int64_t commit_delay_us;  /* a busy group commit's wait for more writes (store_options) */
    int64_t session_ttl_s;    /* how long a login lasts */
    int64_t login_attempts_per_min; /* failed logins per client address before 429 */
    bool cookie_secure;       /* mark cookies Secure (behind HTTPS) */
    char public_url[256];     /* how customers reach this server; "" = http://<listen> */
};

/*
 * The address customers and staff reach the server at, for links sent in
 * messages (survey links) and printed on posters: public_url without a
 * trailing slash, or http://<listen> when it is not set.  Into out.
 */
void config_public_url(const struct config *c, char *out, size_t cap);

/* Fill c with the defaults. */
void config_defaults(struct config *c);

/* Set option name from text; ERR_INVALID for unknown names or bad values (details in err). */
int config_set(struct config *c, const char *name, const char *value, struct err_info *err);

/* Read a config file; errors name the line. */
int config_load_file(struct config *c, const char *path, struct err_info *err);

/* Apply OTKLIK_* environment variables. */
int config_load_env(struct config *c, struct err_info *err);

/* True when name is an option (for flag parsing). */
bool config_has(const char *name);

/* Write the documented example config file. */
void config_write_example(FILE *out);

#endif
