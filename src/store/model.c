/*
 * model.c - vocabulary tables and the request status machine.
 */
#include "store/model.h"

#include <string.h>

const char *const model_channels[] = {
    "phone", "callback", "web", "chat", "email", "telegram", "viber", "vk",
    "whatsapp", "sms", "qr", "app", "review", "social", "internal", NULL,
};

const char *const model_kinds[] = {
    "complaint", "question", "gratitude", "suggestion", "signal", "incident", "internal",
    "review", NULL,
};

const char *const model_statuses[] = {
    "new", "open", "pending", "on_hold", "solved", "closed", NULL,
};

const char *const model_priorities[] = {"low", "normal", "high", "urgent", NULL};

const char *const model_roles[] = {
    "operator", "supervisor", "store_director", "regional_manager", "department_head",
    "executive", "admin", "integration", NULL,
};

const char *const model_order_statuses[] = {
    "created", "confirmed", "assembling", "item_not_found", "ready_for_pickup", "shipped",
    "delayed", "delivered", "cancelled", "returned", NULL,
};

const char *const model_tiers[] = {"regular", "silver", "gold", "vip", NULL};

/* Topics: the reasons of requests in a retail chain (the topic classifier's labels). */
const char *const model_topics[] = {
    "checkout_queue", "product_quality", "price", "out_of_stock", "delivery", "return_refund",
    "loyalty", "staff", "store_condition", "website_app", "payment", "gratitude", "suggestion",
    "other", NULL,
};

const char *const model_sentiments[] = {"negative", "neutral", "positive", NULL};

const struct identity_kind model_identity_kinds[] = {
    {"phone", "phone"},       {"email", "email"},       {"card", "card"},
    {"telegram_id", "telegram"}, {"viber_id", "viber"}, {"vk_id", "vk"},
    {"whatsapp_id", "whatsapp"}, {"app_id", "app"},     {NULL, NULL},
};

int model_find(const char *const *list, const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return i;
    return -1;
}

/*
 * Allowed transitions, row = from, column = to, in model_statuses order:
 * new open pending on_hold solved closed.  A new request may be closed
 * directly (spam, duplicates); a solved one may be reopened or closed;
 * closed is final: a customer who writes again starts a new request.
 */
static const unsigned char transitions[6][6] = {
    /* new     */ {0, 1, 1, 1, 1, 1},
    /* open    */ {0, 0, 1, 1, 1, 0},
    /* pending */ {0, 1, 0, 1, 1, 0},
    /* on_hold */ {0, 1, 1, 0, 1, 0},
    /* solved  */ {0, 1, 0, 0, 0, 1},
    /* closed  */ {0, 0, 0, 0, 0, 0},
};

bool model_status_transition_ok(const char *from, const char *to)
{
    int f = model_find(model_statuses, from);
    int t = model_find(model_statuses, to);
    return f >= 0 && t >= 0 && transitions[f][t];
}

bool model_status_is_open(const char *status)
{
    return status && strcmp(status, "solved") != 0 && strcmp(status, "closed") != 0;
}

bool model_order_status_is_open(const char *status)
{
    return status && strcmp(status, "delivered") != 0 && strcmp(status, "cancelled") != 0 &&
           strcmp(status, "returned") != 0;
}

struct role_def {
    const char *role;
    unsigned perms;
    enum scope scope;
};

static const struct role_def roles[] = {
    {"operator", PERM_REQUESTS_READ | PERM_REQUESTS_WRITE | PERM_INTAKE | PERM_LOOKUP, SCOPE_ALL},
    {"supervisor",
     PERM_REQUESTS_READ | PERM_REQUESTS_WRITE | PERM_INTAKE | PERM_LOOKUP | PERM_USERS_READ,
     SCOPE_ALL},
    {"store_director", PERM_REQUESTS_READ | PERM_REQUESTS_WRITE | PERM_INTAKE, SCOPE_STORE},
    {"regional_manager", PERM_REQUESTS_READ | PERM_REQUESTS_WRITE, SCOPE_REGION},
    {"department_head", PERM_REQUESTS_READ | PERM_REQUESTS_WRITE | PERM_USERS_READ, SCOPE_ALL},
    {"executive", PERM_REQUESTS_READ | PERM_USERS_READ | PERM_METRICS, SCOPE_ALL},
    {"admin", ~0u, SCOPE_ALL},
    {"integration",
     PERM_REQUESTS_READ | PERM_INTAKE | PERM_IMPORT | PERM_ORDERS | PERM_LOOKUP | PERM_METRICS,
     SCOPE_ALL},
};

unsigned model_role_perms(const char *role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].role, role) == 0)
            return roles[i].perms | PERM_NONE_BUT_LOGGED_IN;
    return 0;
}

enum scope model_role_scope(const char *role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].role, role) == 0)
            return roles[i].scope;
    return SCOPE_STORE; /* unknown roles see the least */
}
