/*
 * model.h - the domain vocabulary: channels, request kinds, statuses and
 * their transitions, priorities, roles and what each may do, order statuses,
 * identity kinds.  Every table here is the single place its values are
 * listed; the API validates input against them and the UI reads them.
 */
#ifndef OTKLIK_MODEL_H
#define OTKLIK_MODEL_H

#include <stdbool.h>
#include <stddef.h>

/* NULL-terminated lists of the valid values. */
extern const char *const model_channels[];
extern const char *const model_kinds[];
extern const char *const model_statuses[];
extern const char *const model_priorities[];
extern const char *const model_roles[];
extern const char *const model_order_statuses[];
extern const char *const model_tiers[];
extern const char *const model_topics[];
extern const char *const model_sentiments[];

/* Index of s in a NULL-terminated list, or -1. */
int model_find(const char *const *list, const char *s);

/* May a request move from status `from` to status `to`? (same status: false) */
bool model_status_transition_ok(const char *from, const char *to);

/* Is a request in this status still open work (not solved or closed)? */
bool model_status_is_open(const char *status);

/* Is an order in this status still in progress? */
bool model_order_status_is_open(const char *status);

/* Identity kinds: the JSON field in a customer object and the stored kind. */
struct identity_kind {
    const char *field; /* "telegram_id" */
    const char *kind;  /* "telegram" */
};
extern const struct identity_kind model_identity_kinds[]; /* terminated by field NULL */
#define MODEL_N_IDENTITY_KINDS 8

/* Permissions, granted per role. */
enum perm {
    PERM_REQUESTS_READ = 1 << 0,  /* list and read requests, customers */
    PERM_REQUESTS_WRITE = 1 << 1, /* change requests, write messages */
    PERM_INTAKE = 1 << 2,         /* create requests (channels, integrations) */
    PERM_IMPORT = 1 << 3,         /* bulk import */
    PERM_ORDERS = 1 << 4,         /* order events from the order system */
    PERM_LOOKUP = 1 << 5,         /* IVR / bot customer lookup */
    PERM_ADMIN = 1 << 6,          /* users, tokens, settings */
    PERM_METRICS = 1 << 7,        /* /metrics */
    PERM_USERS_READ = 1 << 8,     /* list users (supervisors assign work) */
    PERM_NONE_BUT_LOGGED_IN = 1 << 15, /* any authenticated principal (every role has it) */
};

/* Permission bits of a role ("operator", ..., "integration"); 0 for unknown roles. */
unsigned model_role_perms(const char *role);

/* Scope of what a role sees. */
enum scope { SCOPE_ALL, SCOPE_STORE, SCOPE_REGION };
enum scope model_role_scope(const char *role);

#endif
