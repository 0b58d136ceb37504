/*
 * channels.h - the channels part: every way a customer reaches the chain
 * and every way otklik answers, each spoken in the platform's own protocol.
 *
 * Design
 * ------
 * Configured channels.  Table `channels` holds one row per configured
 * channel: an adapter ("telegram", "viber", "vk", "whatsapp", "email",
 * "smsru", "twilio", "phone", "webchat", "app", "reviews", "social"), a name
 * unique per adapter, its secrets (a JSON object sealed with libsodium's
 * crypto_secretbox under a key kept in the file "<db>.channels-key", mode
 * 0600; the API never returns them and nothing logs them), its settings
 * (JSON: API base URLs, sender names, mailbox addresses, ...) and is_active.
 * Admins manage them under /api/v1/admin/channels (PERM_ADMIN).  The server
 * keeps a reference-counted in-memory snapshot of all channels with their
 * secrets opened; every change through the API (create, update, rotate)
 * builds a new snapshot and swaps it in, so credentials rotate without a
 * restart while requests in flight finish with the old one.
 *
 * Inbound.  Each channel has its webhook at /hooks/<adapter>/<name> (one
 * public route for POST and GET).  The adapter checks the platform's proof
 * of origin (secret-token header, HMAC of the raw body, `secret` field,
 * verify token, Twilio's HMAC-SHA1 over URL and form) in constant time; a
 * wrong proof gives 401/403 and writes nothing.  A fixed-window rate limit
 * per channel (settings.rate_per_s, default 500) protects the public route.
 * The adapter translates the payload into normalised *items* (a JSON object
 * per message: the intake request shape plus the conversation peer,
 * attachments, e-mail references, delivery statuses or call events).  The
 * items are written to table `channel_inbox` in one job, deduplicated by
 * UNIQUE (channel_id, source_id) where source_id is the platform's own
 * message id, and only then is the platform answered 200: durable before
 * acknowledged, cheap enough for bursts, and redelivery is harmless.
 * Unknown event types are acknowledged and logged (platforms retry
 * anything else).
 *
 * Processing.  One inbox worker thread takes pending rows in id order, in
 * batches, and turns each into intake: intake_request_parse() validates
 * the request exactly as the API does, then either a new request is
 * created (store_request_create, classified first) or the message joins the
 * conversation it belongs to (store_message_add "in"): for messengers, the
 * newest request of the same peer on the same channel that is not closed;
 * for e-mail, the request whose Message-ID appears in In-Reply-To or
 * References, or a "[#123]" tag in the subject when that request's
 * conversation is with the same address.  Table `channel_routes` records
 * for each request which channel and peer its replies go to.  Attachments
 * (Telegram file ids, media URLs, MIME parts) are kept as the event
 * "message.attachments".  Review ratings, social reach and call facts are
 * event data ("review.received", "social.mention", "call.*") so the rules
 * can use them; a rating of 2 or less, and a reach at or above
 * settings.high_reach, raise the priority to high.
 *
 * Outbound.  outbox_enqueue() (outbox.h) runs inside the caller's job:
 * it resolves the request's route (or, for proactive messages, the
 * customer's reachable identities in the order of the configured
 * channels), inserts a row into `outbox` and logs "outbox.queued".  The
 * outbox worker thread wakes on that event (the live hub, so it never
 * reads before the commit), claims due rows in one job (status "sending"
 * with a lease), sends them concurrently with curl_multi to the
 * platform's API (base URL per channel, so tests point at local fakes),
 * and records the results in one job: "sent" with the platform's message
 * id, or a retry at now + 2^attempt seconds (capped at 1 h, honouring 429
 * Retry-After), or "dead" after 8 attempts (event "outbox.dead" on the
 * request).  A restart finds rows still "sending" past their lease: those
 * of platforms with an idempotency key (VK random_id) are retried, the
 * others become "unknown" (event "outbox.unknown") because sending again
 * might duplicate.  Delivery reports (Viber delivered/seen, WhatsApp
 * statuses, Twilio and SMS.ru status callbacks) arrive as inbox items and
 * move rows to "delivered" / "read" / "failed" with an event.  Replies by
 * e-mail go out over SMTP with Message-ID, In-Reply-To and References.
 *
 * Phone.  The telephony system posts call events (incoming, answered,
 * abandoned, missed, callback_requested, ended) as JSON signed with
 * HMAC-SHA256; table `calls` keeps one row per call so service level, ASA
 * and abandonment are computed from it (GET /api/v1/calls/stats); missed,
 * abandoned and callback-requested calls become requests.  The IVR asks
 * GET /api/v1/customers/lookup (core) for the caller's profile.
 */
#ifndef OTKLIK_CHANNELS_H
#define OTKLIK_CHANNELS_H

#include "core/err.h"

#include <stdint.h>

struct app;
struct http_request;
struct http_response;

/* Load the channel snapshot and start the inbox and outbox workers; 0 or ERR_*. */
int channels_start(struct app *app, struct err_info *err);

/* Stop the workers (before the store closes) and free the snapshot. */
void channels_stop(struct app *app);

/* ---- HTTP handlers (routes.c) ------------------------------------------ */

/* POST|GET /hooks/{adapter}/{name}: a platform's webhook (public, verified per adapter). */
int channels_hook(struct http_request *req, struct http_response *resp);

/* GET /api/v1/admin/channels: the configured channels, without secrets. */
int channels_admin_list(struct http_request *req, struct http_response *resp);
/* POST /api/v1/admin/channels {adapter, name, secrets, settings, is_active}. */
int channels_admin_create(struct http_request *req, struct http_response *resp);
/* PATCH /api/v1/admin/channels/{id} {settings, is_active}: settings replace the old ones. */
int channels_admin_update(struct http_request *req, struct http_response *resp);
/* POST /api/v1/admin/channels/{id}/rotate {secrets}: named secrets replaced, others kept. */
int channels_admin_rotate(struct http_request *req, struct http_response *resp);
/* GET /api/v1/admin/outbox?status=&request=: outgoing messages and their delivery state. */
int channels_admin_outbox(struct http_request *req, struct http_response *resp);
/* POST /api/v1/admin/outbox/{id}/retry: send a dead or unknown message again. */
int channels_admin_outbox_retry(struct http_request *req, struct http_response *resp);
/* GET /api/v1/calls/stats?since=&until=&answer_within_s=20: service level, ASA, abandonment. */
int channels_calls_stats(struct http_request *req, struct http_response *resp);

/* ---- periodic jobs (jobs_table.c) --------------------------------------- */

/* Wake the inbox worker (picks up mail handed over by `otklik mail-in`). */
int64_t channels_inbox_tick(struct app *app, int64_t now_ms);
/* Recover expired "sending" leases and wake the outbox worker for due retries. */
int64_t channels_outbox_tick(struct app *app, int64_t now_ms);
/* Poll the IMAP mailboxes of e-mail channels that have settings.imap_url. */
int64_t channels_imap_tick(struct app *app, int64_t now_ms);

/* ---- commands (main.c) -------------------------------------------------- */

/*
 * otklik mail-in --db FILE --channel NAME: read one RFC 5322 message on
 * stdin (an MTA pipe) and hand it to the e-mail channel NAME.  Exit codes
 * for the MTA: 0 accepted (also a duplicate), 65 data error (not a
 * message), 75 temporary failure (database busy, channel missing; the MTA
 * retries), 2 usage.
 */
int channels_mail_in_main(int argc, char **argv);

/* otklik channel add|list: manage configured channels from the shell (secrets JSON on stdin). */
int channels_channel_main(int argc, char **argv);

#endif
