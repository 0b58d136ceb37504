/*
 * auth.c - who is calling: API tokens (Authorization: Bearer), browser
 * sessions (HttpOnly cookie) with a CSRF token for unsafe methods, a short
 * cache of resolved principals so hot endpoints skip the database, and the
 * failed-login limiter.
 */
#include "http/http_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "http/ratelimit.h"

#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH_CACHE 4096
#define AUTH_CACHE_TTL_MS 10000 /* a revoked token stops working within this time at worst */

struct auth_entry {
    unsigned char hash[32];
    bool is_session; /* a session's principal never answers for a bearer token */
    struct principal who;
    int64_t expires_ms;
};

static struct auth_entry cache[AUTH_CACHE];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
/* Bumped by every forget: a lookup that started before a logout is not cached. */
static uint64_t cache_generation;

static struct rate_limiter *login_limiter; /* failed logins per client address */

void http_auth_init(const struct http_options *opt)
{
    if (sodium_init() < 0) {
        log_error("libsodium failed to initialise");
        abort();
    }
    if (login_limiter == NULL)
        login_limiter = ratelimit_new(opt->login_attempts_per_min > 0 ? opt->login_attempts_per_min
                                                                       : 20);
}

void http_token_hash(const char *token, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)token, strlen(token), NULL, 0);
}

static size_t slot_of(const unsigned char hash[32])
{
    return ((size_t)hash[0] | (size_t)hash[1] << 8) % AUTH_CACHE;
}

static bool cache_get(const unsigned char hash[32], bool is_session, struct principal *out)
{
    bool hit = false;
    pthread_mutex_lock(&cache_mu);
    struct auth_entry *e = &cache[slot_of(hash)];
    if (e->expires_ms > clock_now_ms() && e->is_session == is_session &&
        sodium_memcmp(e->hash, hash, 32) == 0) {
        *out = e->who;
        out->scope.region = out->region;
        hit = true;
    }
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static void cache_put(const unsigned char hash[32], bool is_session, const struct principal *who,
                      uint64_t generation)
{
    int64_t now = clock_now_ms();
    int64_t expires = now + AUTH_CACHE_TTL_MS;
    if (who->expires_at_ms != 0 && who->expires_at_ms < expires)
        expires = who->expires_at_ms; /* a session is never cached past its end */
    pthread_mutex_lock(&cache_mu);
    if (generation == cache_generation) {
        struct auth_entry *e = &cache[slot_of(hash)];
        memcpy(e->hash, hash, 32);
        e->is_session = is_session;
        e->who = *who;
        e->expires_ms = expires;
    }
    pthread_mutex_unlock(&cache_mu);
}

static uint64_t cache_generation_now(void)
{
    pthread_mutex_lock(&cache_mu);
    uint64_t g = cache_generation;
    pthread_mutex_unlock(&cache_mu);
    return g;
}

void http_auth_forget(const unsigned char hash[32])
{
    pthread_mutex_lock(&cache_mu);
    struct auth_entry *e = &cache[slot_of(hash)];
    if (memcmp(e->hash, hash, 32) == 0)
        e->expires_ms = 0;
    cache_generation++;
    pthread_mutex_unlock(&cache_mu);
}

static bool is_unsafe(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}

int http_authenticate(struct http_request *req)
{
    unsigned char hash[32];
    const char *authz = http_header(req, "Authorization");
    int rc;
    if (authz != NULL) {
        if (strncasecmp(authz, "Bearer ", 7) != 0 || authz[7] == '\0')
            return err_set(&req->err, ERR_UNAUTHORIZED, "",
                           "Authorization must be 'Bearer <API token>'");
        http_token_hash(authz + 7, hash);
        if (!cache_get(hash, false, &req->who)) {
            uint64_t gen = cache_generation_now();
            struct db *r = store_reader(req->srv_store);
            rc = store_principal_by_token(r, hash, &req->who, &req->err);
            store_reader_done(req->srv_store, r);
            if (rc != 0)
                return rc;
            cache_put(hash, false, &req->who, gen);
        }
        req->is_authenticated = true;
        return 0;
    }
    const char *cookie = http_cookie(req, "otklik_session");
    if (cookie == NULL)
        return err_set(&req->err, ERR_UNAUTHORIZED, "", "log in or send an API token");
    http_token_hash(cookie, hash);
    if (!cache_get(hash, true, &req->who)) {
        uint64_t gen = cache_generation_now();
        struct db *r = store_reader(req->srv_store);
        rc = store_principal_by_session(r, hash, clock_now_ms(), &req->who, &req->err);
        store_reader_done(req->srv_store, r);
        if (rc != 0)
            return rc;
        cache_put(hash, true, &req->who, gen);
    }
    /* Cookies ride along on cross-site requests; the CSRF token does not. */
    if (is_unsafe(req->method)) {
        const char *csrf = http_header(req, "X-CSRF-Token");
        size_t n = strlen(req->who.csrf);
        if (csrf == NULL || strlen(csrf) != n || n == 0 ||
            sodium_memcmp(csrf, req->who.csrf, n) != 0)
            return err_set(&req->err, ERR_CSRF, "",
                           "missing or wrong X-CSRF-Token header for this session");
    }
    req->is_authenticated = true;
    return 0;
}

bool http_login_attempt(struct http_request *req)
{
    char addr[48];
    http_client_addr(req, addr, sizeof addr);
    return ratelimit_hit(login_limiter, addr, clock_now_ms());
}

void http_login_done(struct http_request *req)
{
    char addr[48];
    http_client_addr(req, addr, sizeof addr);
    ratelimit_undo(login_limiter, addr, clock_now_ms());
}

/* At most this many password checks at once (each takes 64 MiB for ~50 ms). */
#define PWHASH_AT_ONCE 2

static sem_t pwhash_slots;
static pthread_once_t pwhash_once = PTHREAD_ONCE_INIT;
static char nobody_hash[crypto_pwhash_STRBYTES]; /* checked for unknown logins */
static bool has_nobody_hash;

static void pwhash_setup(void)
{
    sem_init(&pwhash_slots, 0, PWHASH_AT_ONCE);
    unsigned char secret[32];
    randombytes_buf(secret, sizeof secret);
    has_nobody_hash = crypto_pwhash_str(nobody_hash, (const char *)secret, sizeof secret,
                                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                        crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
}

bool http_password_ok(const char *hash, const char *password)
{
    pthread_once(&pwhash_once, pwhash_setup);
    while (sem_wait(&pwhash_slots) != 0)
        ;
    bool ok = false;
    if (hash != NULL)
        ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    else if (has_nobody_hash) { /* the same work; never a match (a random secret) */
        int unused = crypto_pwhash_str_verify(nobody_hash, password, strlen(password));
        (void)unused;
    }
    sem_post(&pwhash_slots);
    return ok;
}
