/*
 * outbox.h - the durable outbox: every message otklik sends to a customer
 * (a reply, a proactive notice, a survey) is queued here inside the
 * transaction that decided to send it, and delivered later by the channel
 * adapters with retries.
 */
#ifndef OTKLIK_OUTBOX_H
#define OTKLIK_OUTBOX_H

#include "core/err.h"
#include "store/store.h"

#include <stdint.h>

struct outbox_msg {
    int64_t request_id;  /* 0 when not about a request */
    int64_t customer_id; /* 0: the request's customer */
    const char *channel; /* NULL: the request's channel, else the customer's preferred */
    const char *body;    /* the text */
    const char *kind;    /* "reply", "notice", "survey" */
};

/* Queue a message inside a job; *out_id is the outbox id. */
int outbox_enqueue(struct store_tx *tx, const struct outbox_msg *m, int64_t *out_id,
                   struct err_info *err);

#endif
