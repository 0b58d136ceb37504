/*
 * channels_int.h - shared only inside src/channels: the channel snapshot,
 * the adapter interface (webhook in, send out), the inbox and outbox
 * workers, and the small crypto and JSON helpers every adapter uses.
 */
#ifndef OTKLIK_CHANNELS_INT_H
#define OTKLIK_CHANNELS_INT_H

#include "api/api.h"
#include "channels/channels.h"
#include "core/buf.h"
#include "core/mem.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct adapter;

/* One configured channel with its secrets opened (part of a snapshot, read-only). */
struct chan {
    int64_t id;
    char adapter[16];
    char name[64];
    const struct adapter *ad;
    json_t *secrets;  /* opened secrets; never logged, never returned */
    json_t *settings; /* settings object */
    bool is_active;
    int64_t rate_per_s; /* webhook calls allowed per second */
};

/* All channels at one moment; shared by reference count (rotation swaps it). */
struct chan_snapshot {
    _Atomic int refs;
    size_t n;
    struct chan *items;
};

struct channels {
    struct app *app;
    pthread_mutex_t mu; /* guards snap */
    struct chan_snapshot *snap;
    unsigned char key[32]; /* seals the secrets */
    /* webhook rate limit: one fixed one-second window per channel id slot */
    _Atomic int64_t rl_window[256];
    _Atomic int64_t rl_count[256];
    /* workers */
    pthread_mutex_t wmu;
    pthread_cond_t wcond;
    bool is_stopping, inbox_poked, outbox_poked;
    pthread_t inbox_thread, outbox_thread;
    bool has_inbox_thread, has_outbox_thread;
};

/* ---- snapshot (channels.c) ------------------------------------------------ */

/* Take a reference to the current snapshot (never NULL while started). */
struct chan_snapshot *chan_snapshot_get(struct channels *cs);
void chan_snapshot_put(struct chan_snapshot *s);
/* Build a snapshot from the database (reader db), opening secrets with key. */
int chan_snapshot_load(struct db *r, const unsigned char key[32], struct chan_snapshot **out,
                       struct err_info *err);
/* Re-read the channels table and swap the snapshot in. */
int channels_reload(struct channels *cs, struct err_info *err);

const struct chan *chan_find(const struct chan_snapshot *s, const char *adapter,
                             const char *name);
const struct chan *chan_by_id(const struct chan_snapshot *s, int64_t id);

/* A secret / setting as a string, or def (NULL) when absent or not a string. */
const char *chan_secret(const struct chan *c, const char *key);
const char *chan_setting(const struct chan *c, const char *key, const char *def);
int64_t chan_setting_int(const struct chan *c, const char *key, int64_t def);

/* ---- secrets (secrets.c) -------------------------------------------------- */

/* Load or create the key file "<db_path>.channels-key" (32 bytes, mode 0600). */
int secrets_key_load(const char *db_path, unsigned char key[32], struct err_info *err);
/* Seal a JSON text: base64(nonce || secretbox).  Caller frees *out. */
char *secrets_seal(const unsigned char key[32], const char *json);
/* Open a sealed text into a JSON object; NULL when it does not open. */
json_t *secrets_open(const unsigned char key[32], const char *sealed);

/* Constant-time equality of two strings (length leaks, contents do not). */
bool ct_streq(const char *a, const char *b);
/* Lower-case hex HMAC-SHA256 of msg under key into out (65 bytes). */
void hmac_sha256_hex(const char *key, const void *msg, size_t len, char out[65]);

/* ---- adapters ---------------------------------------------------------------- */

/* One webhook call being handled. */
struct hook {
    struct http_request *req;
    struct http_response *resp;
    struct app *app;
    const struct chan *ch;
    json_t *items;           /* normalised items to queue (array, owned by the caller) */
    const char *reply_text;  /* body to answer after the items are stored (NULL: {"ok":true}) */
    const char *reply_type;  /* its content type */
    int reply_status;        /* 0: 200 */
};

enum send_result { SEND_OK, SEND_RETRY, SEND_FAIL };

/* One outgoing message being delivered. */
struct send {
    const struct chan *ch;
    int64_t outbox_id;
    int64_t request_id; /* 0 when not about a request */
    int64_t attempts;
    const char *recipient, *body, *kind;
    json_t *meta; /* the row's meta object (subject, references, ...) */
    struct arena *arena;
    CURL *curl;
    struct curl_slist *headers;
    struct curl_slist *rcpt; /* SMTP recipients */
    char *post;              /* request body (arena) */
    size_t post_len, post_pos;
    struct buf resp;         /* response body, capped */
    long http_status;
    int curl_code;
    int64_t retry_after_ms;  /* from a Retry-After header, 0 when none */
    enum send_result result;
    char external_id[200];   /* the platform's id of the sent message */
    char error[240];
};

struct adapter {
    const char *name;    /* the {adapter} of /hooks/{adapter}/{name} */
    const char *channel; /* the model channel of its requests */
    /* Webhook (POST, and GET for handshakes): verify, then add items to h->items. */
    int (*hook)(struct hook *h);
    /* Outbound: set up s->curl (return 0), or finish without HTTP (return 1, s->result set). */
    int (*send_prepare)(struct send *s);
    /* Interpret the platform's answer (NULL: 2xx ok, 429/5xx retry, other 4xx fail). */
    void (*send_finish)(struct send *s);
    bool has_idempotency_key; /* resending the same outbox row cannot duplicate */
    const char *identity_kind; /* customer identity it can reach ("phone"), NULL: none */
    bool is_smtp;              /* answers are SMTP codes, not HTTP statuses */
    const char *const *required_secrets; /* NULL-terminated */
};

/* The table of adapters (channels.c). */
const struct adapter *adapter_find(const char *name);
extern const struct adapter adapter_telegram, adapter_viber, adapter_vk, adapter_whatsapp,
    adapter_email, adapter_smsru, adapter_twilio, adapter_phone, adapter_webchat, adapter_app,
    adapter_reviews, adapter_social;

/* ---- helpers for adapters (hooks.c) ---------------------------------------- */

/*
 * A new message item: {"type":"message","peer":peer,"source_id":sid,"request":{"channel",
 * "source_id","text","customer":{}}} appended to h->items; returns the item (borrowed).
 */
json_t *item_message(struct hook *h, const char *peer, const char *source_id, const char *text);
/* The item's request / customer object (borrowed). */
json_t *item_request(json_t *item);
json_t *item_customer(json_t *item);
/* A delivery status for an outbox row found by the platform's message id. */
void item_status(struct hook *h, const char *external_id, const char *status, int64_t at_ms,
                 const char *error);
/* Set a string member when s is non-NULL and non-empty. */
void json_set_str(json_t *o, const char *key, const char *s);
/* A JSON member as a string: strings as they are, integers in decimal; NULL otherwise. */
const char *json_str_or_int(json_t *o, const char *key, char *tmp, size_t cap);

/* Parse the body as JSON; a malformed body is ERR_INVALID (400). */
int hook_json(struct hook *h, json_t **out);
/* Parse an x-www-form-urlencoded text into an object of strings ("a[]" keys collect arrays). */
json_t *form_parse(const char *s, size_t len);
/* Percent-encode s for a form or query into b. */
void form_put(struct buf *b, const char *key, const char *value, bool first);

/* Authorization: Bearer <secret named key>; 401 missing, 403 wrong. */
int hook_bearer(struct hook *h, const char *key);
/* Platform refusals: 401 for a missing proof, 403 for a wrong one, nothing written. */
int hook_unauthorized(struct hook *h, const char *what);
int hook_forbidden(struct hook *h, const char *what);

/* ---- inbox (inbox.c) ------------------------------------------------------------ */

/* Store the items of channel c in one job (duplicates by source_id are skipped). */
int inbox_add(struct app *app, const struct chan *c, json_t *items, int *out_added,
              struct err_info *err);

/* The same write in parts, for a write that does not wait (http_write_then):
 * a batch holds a reference to items; inbox_batch_write is its store job. */
struct inbox_batch;
struct inbox_batch *inbox_batch_new(const struct chan *c, json_t *items);
int inbox_batch_write(struct store_tx *tx, void *batch, struct err_info *err);
int inbox_batch_added(const struct inbox_batch *b); /* rows stored (not duplicates) */
void inbox_batch_free(struct inbox_batch *b);
/* Process pending inbox rows (at most limit); returns how many were processed. */
int inbox_process(struct app *app, int limit, struct err_info *err);
void inbox_poke(struct channels *cs);
int inbox_start(struct channels *cs);
void inbox_stop(struct channels *cs);

/* ---- outbox (outbox.c) --------------------------------------------------------- */

int outbox_start(struct channels *cs);
void outbox_stop(struct channels *cs);
void outbox_poke(struct channels *cs);
/* One delivery round: claim due rows, send them, record the results; returns rows sent. */
int outbox_deliver(struct app *app, int limit, struct err_info *err);
/* Apply a delivery status item (inside a job). */
int outbox_status_apply(struct store_tx *tx, int64_t channel_id, json_t *item,
                        struct err_info *err);

/* Common curl setup of a send: URL, timeout, headers list attached, body capture. */
void send_http(struct send *s, const char *url);
/* POST body (copied into the send's arena) with its content type. */
void send_post(struct send *s, const char *content_type, const char *body, size_t len);
/* Add a header to the send (copied). */
void send_header(struct send *s, const char *header);
/* The send's answer as JSON (NULL when not JSON); caller decrefs. */
json_t *send_json(struct send *s);

/* Twilio's X-Twilio-Signature of a form posted to url (base64 into out). */
void twilio_signature(const char *token, const char *url, json_t *form, char *out, size_t cap);

/* ---- e-mail (email.c) ------------------------------------------------------------ */

/*
 * Parse one RFC 5322 message (raw bytes) into a message item for channel c
 * appended to items.  ERR_INVALID when it is not a usable message.
 */
int email_parse(const char *raw, size_t len, json_t *items, struct err_info *err);
/* Plain text of an HTML document (tags dropped, blocks as lines, entities decoded). */
void html_to_text(const char *html, struct buf *out);

/* ---- calls (phone.c) ----------------------------------------------------------------- */

/* Apply a call event item inside a job (insert or update the call's row). */
int phone_call_apply(struct store_tx *tx, int64_t channel_id, json_t *item, struct err_info *err);

/* ---- web chat and app pull (webchat.c) -------------------------------------------- */

/* GET of a conversation's messages after a message id (long poll up to wait_ms). */
int webchat_pull(struct hook *h, const char *peer, int64_t wait_ms);
/*
 * A chat message posted by our own widget or app: body {<who_key>, id, text,
 * name, phone, email, store, order}; peer = prefix + who; the who value is
 * also the identity identity_field (NULL: none).  Bad input is a 400.
 */
int chat_post(struct hook *h, json_t *body, const char *who_key, const char *prefix,
              const char *identity_field);

/*
 * Insert a configured channel inside a job (secrets already sealed; settings a
 * JSON object text).  ERR_CONFLICT, naming the field, when adapter+name exists.
 */
int chan_insert(struct store_tx *tx, const char *adapter, const char *name, const char *sealed,
                const char *settings, bool is_active, int64_t *out_id, struct err_info *err);

#endif
