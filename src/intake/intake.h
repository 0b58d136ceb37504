/*
 * intake.h - turning a channel's request (already decoded from its wire
 * format into the normalised JSON shape) into a validated struct request_in.
 *
 * This is the one place input rules live: channels, kinds, identity formats
 * (phones to E.164, e-mail lower-cased), lengths and UTF-8.  Every channel
 * adapter, the API and the bulk import call it, so every channel is
 * validated the same way.  Nothing is written here.
 */
#ifndef OTKLIK_INTAKE_H
#define OTKLIK_INTAKE_H

#include "core/err.h"
#include "core/mem.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define INTAKE_MAX_TEXT 20000   /* characters of a message text */
#define INTAKE_MAX_SUBJECT 300  /* characters of a subject */
#define INTAKE_MAX_SOURCE_ID 200
#define INTAKE_MAX_NAME 200
#define INTAKE_MIN_TIME_MS 946684800000LL  /* 2000-01-01T00:00:00Z: times given are from then */
#define INTAKE_MAX_TIME_MS 4102444800000LL /* 2100-01-01T00:00:00Z: ...until before this */

/*
 * Normalise a phone number to E.164 ("+79123456789").  Russian domestic forms
 * are accepted: "8 (912) 345-67-89", "+7 912 3456789", "9123456789".
 * out needs 17 bytes.  ERR_INVALID when it is not a phone number.
 */
int intake_phone_normalise(const char *s, char out[17]);

/* Lower-case and check an e-mail address into out (cap bytes). ERR_INVALID when malformed. */
int intake_email_normalise(const char *s, char *out, size_t cap);

/*
 * Read a customer object ({"phone", "email", "card", "telegram_id", ...,
 * "name", "tier"}) into c; strings live in arena a.  field_prefix names the
 * object in errors ("customer").  NULL obj gives an empty customer.
 */
int intake_customer_parse(const json_t *obj, const char *field_prefix, struct arena *a,
                          struct customer_in *c, struct err_info *err);

/*
 * Read a request object into r (strings in arena a).  is_import allows the
 * history fields (status, priority, topic, sentiment, replies, *_at).
 * Computes r->search_terms.  ERR_INVALID with the offending field.
 */
int intake_request_parse(const json_t *obj, bool is_import, struct arena *a,
                         struct request_in *r, struct err_info *err);

/* Helpers for other parsers: an optional string member with length limits (in code points). */
int intake_opt_string(const json_t *obj, const char *key, size_t max_chars, struct arena *a,
                      const char **out, struct err_info *err);
/* A required string member. */
int intake_req_string(const json_t *obj, const char *key, size_t max_chars, struct arena *a,
                      const char **out, struct err_info *err);
/* An optional RFC 3339 time member; *out_ms stays 0 when absent. */
int intake_opt_time(const json_t *obj, const char *key, int64_t *out_ms, struct err_info *err);
/* An optional money amount in roubles (number) as kopecks; *out_kop unchanged when absent. */
int intake_opt_money(const json_t *obj, const char *key, int64_t *out_kop, struct err_info *err);
/* An optional member that must be one of a NULL-terminated list of values. */
int intake_opt_enum(const json_t *obj, const char *key, const char *const *values,
                    const char **out, struct err_info *err);

#endif
