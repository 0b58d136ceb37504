/*
 * auth.c - /api/v1/auth: browser login with an Argon2id-checked password,
 * a session cookie (HttpOnly, SameSite=Strict) and the CSRF token the page
 * must echo in X-CSRF-Token on every change; logout; who am I.
 */
#include "api/api.h"

#include "core/clock.h"
#include "core/log.h"
#include "intake/intake.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

struct session_job {
    unsigned char hash[32];
    int64_t user_id;
    const char *csrf;
    int64_t expires_at_ms;
};

static int job_session_add(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct session_job *j = arg;
    return store_session_add(tx, j->hash, j->user_id, j->csrf, j->expires_at_ms, err);
}

static int job_session_delete(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct session_job *j = arg;
    return store_session_delete(tx, j->hash, err);
}

static json_t *principal_json(struct store *s, const struct principal *p)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "login", p->login, "name", p->name, "role", p->role);
    json_object_set_new(o, "user_id", p->user_id ? json_integer(p->user_id) : json_null());
    json_object_set_new(o, "scope", json_string(p->scope.scope == SCOPE_ALL     ? "all"
                                                : p->scope.scope == SCOPE_STORE ? "store"
                                                                                : "region"));
    if (p->scope.scope == SCOPE_REGION)
        json_object_set_new(o, "region", json_string(p->region));
    if (p->scope.scope == SCOPE_STORE) { /* the store's code, null when it has none */
        struct db *r = store_reader(s);
        sqlite3_stmt *st = db_stmt(r, "SELECT code FROM stores WHERE id = $1");
        db_bind_i64(st, 1, p->scope.store_id);
        json_object_set_new(o, "store", db_step(r, st, NULL) == 1 ? json_string(db_col_text(st, 0))
                                                                 : json_null());
        sqlite3_reset(st);
        store_reader_done(s, r);
    }
    json_t *perms = json_array();
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{PERM_REQUESTS_READ, "requests.read"}, {PERM_REQUESTS_WRITE, "requests.write"},
                 {PERM_INTAKE, "intake"},              {PERM_IMPORT, "import"},
                 {PERM_ORDERS, "orders"},              {PERM_LOOKUP, "lookup"},
                 {PERM_ADMIN, "admin"},                {PERM_METRICS, "metrics"},
                 {PERM_USERS_READ, "users.read"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (p->perms & names[i].bit)
            json_array_append_new(perms, json_string(names[i].name));
    json_object_set_new(o, "permissions", perms);
    return o;
}

int api_auth_login(struct http_request *req, struct http_response *resp)
{
    json_t *body;
    int rc = http_json_body(req, &body);
    if (rc != 0)
        return rc;
    const char *login = NULL, *password = NULL;
    if ((rc = intake_req_string(body, "login", 64, &req->arena, &login, &req->err)) ||
        (rc = intake_req_string(body, "password", 256, &req->arena, &password, &req->err)))
        goto out;
    if (http_login_attempt(req)) {
        rc = err_set(&req->err, ERR_RATE_LIMITED, "", "too many failed logins; wait a minute");
        goto out;
    }
    char hash[crypto_pwhash_STRBYTES];
    struct principal who;
    struct db *r = store_reader(req->app->store);
    rc = store_user_by_login(r, login, hash, sizeof hash, &who, &req->err);
    store_reader_done(req->app->store, r);
    if (rc == ERR_UNAUTHORIZED || rc == 0) {
        bool ok = http_password_ok(rc == 0 ? hash : NULL, password);
        if (rc == 0 && !ok)
            rc = err_set(&req->err, ERR_UNAUTHORIZED, "login", "wrong login or password");
    }
    if (rc != 0) {
        log_info("auth login_failed login=%.64s", login);
        goto out;
    }
    http_login_done(req); /* only failed attempts count against the client */
    /* The session id goes to the cookie; only its hash is stored. */
    unsigned char raw[32];
    char token[64], csrf[64];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, sizeof token, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(csrf, sizeof csrf, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    const struct http_options *opt = http_options_of(req);
    struct session_job job = {.user_id = who.user_id,
                              .csrf = csrf,
                              .expires_at_ms = clock_now_ms() + opt->session_ttl_s * 1000};
    http_token_hash(token, job.hash);
    if ((rc = store_write(req->app->store, job_session_add, &job, &req->err)) != 0)
        goto out;
    char cookie[256];
    snprintf(cookie, sizeof cookie,
             "otklik_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", token,
             (long long)opt->session_ttl_s, opt->cookie_secure ? "; Secure" : "");
    http_add_header(req, resp, "Set-Cookie", cookie);
    log_info("auth login user=%s role=%s", who.login, who.role);
    json_t *o = principal_json(req->app->store, &who);
    json_object_set_new(o, "csrf_token", json_string(csrf));
    http_reply_json(resp, 200, o);
out:
    json_decref(body);
    return rc;
}

int api_auth_logout(struct http_request *req, struct http_response *resp)
{
    const char *cookie = http_cookie(req, "otklik_session");
    if (cookie != NULL) {
        struct session_job job = {0};
        http_token_hash(cookie, job.hash);
        int rc = store_write(req->app->store, job_session_delete, &job, &req->err);
        if (rc != 0)
            return rc;
        http_auth_forget(job.hash);
    }
    http_add_header(req, resp, "Set-Cookie",
                    "otklik_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    http_reply_json(resp, 200, json_pack("{s:b}", "ok", 1));
    return 0;
}

int api_auth_me(struct http_request *req, struct http_response *resp)
{
    json_t *o = principal_json(req->app->store, &req->who);
    if (req->who.csrf[0])
        json_object_set_new(o, "csrf_token", json_string(req->who.csrf));
    http_reply_json(resp, 200, o);
    return 0;
}
