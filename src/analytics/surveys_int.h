/*
 * surveys_int.h - shared by the survey files of src/analytics: survey
 * definitions, invitations and answers (surveys.c, survey_consumer.c,
 * survey_answer.c, survey_page.c, survey_seed.c).
 */
#ifndef OTKLIK_SURVEYS_INT_H
#define OTKLIK_SURVEYS_INT_H

#include "analytics/analytics_int.h"

#define SURVEY_TTL_DAYS 30 /* an invitation may be answered this long */

extern const char *const survey_triggers[]; /* NULL-terminated */

struct survey_def {
    int64_t id;
    char kind[8];
    char question[512];
    int64_t min_interval_days, low_score, schedule_days;
};

/* The active survey for a trigger, or with this code when code is not NULL; ERR_NOTFOUND. */
int survey_def_by_trigger(struct db *db, const char *trigger, const char *code,
                          struct survey_def *out);

struct invite_in {
    int64_t survey_id;
    const char *question;       /* text sent before the link */
    int64_t customer_id;        /* 0: none (eNPS, anonymous QR) */
    int64_t user_id;            /* eNPS: the employee invited (never copied to answers) */
    int64_t request_id, order_id, store_id;
    const char *department;     /* eNPS: the employee's department code, or NULL */
    const char *channel;        /* a model channel: where the answer is attributed */
    const char *source;         /* what caused it: a trigger name */
    int64_t min_interval_days;  /* 0: no limit */
};

struct invite_out {
    int64_t id;
    char token[64];
    char link[80];   /* "/s/<token>" */
    char url[352];   /* the link under the public address, as sent to the customer */
    char status[16]; /* "queued" | "link_only" */
};

/*
 * Create an invitation inside a job and queue it through the outbox; when
 * the outbox refuses, the invitation keeps its link and records why.
 * ERR_CONFLICT when the customer/employee was invited within the interval.
 */
int survey_invite(struct store_tx *tx, const struct invite_in *in, const struct analytics *an,
                  struct invite_out *out, struct err_info *err);

struct answer_in {
    int64_t invitation_id;
    int64_t score;
    const char *reason;  /* survey_reasons code or NULL */
    const char *comment; /* or NULL */
    const char *topic, *sentiment; /* of the comment, NULL when unknown */
    int64_t at_ms;       /* 0: now (history given by the demo seed skips the expiry check) */
    bool no_followup;    /* history: do not open follow-up requests */
};

struct answer_out {
    int64_t answer_id;
    int64_t followup_request_id; /* 0: none */
    bool is_low;
};

/*
 * Record one answer inside a job: ERR_NOTFOUND for an unknown invitation,
 * ERR_CONFLICT when already answered, ERR_INVALID for a score off the scale
 * or an expired invitation.  A low score opens a follow-up complaint.
 */
int survey_answer_record(struct store_tx *tx, const struct answer_in *in, struct answer_out *out,
                         struct err_info *err);

/* Invitation details for the page; ERR_NOTFOUND.  Strings into the given buffers. */
struct invitation_view {
    int64_t id, survey_id, expires_at_ms;
    char kind[8], status[16], question[512];
    bool is_answered;
};
int survey_invitation_get(struct db *r, int64_t id, struct invitation_view *out);

/* The application's analytics state (the secret), or NULL before start. */
struct analytics *analytics_of(struct app *app);

#endif
