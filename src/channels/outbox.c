/*
 * outbox.c - queueing of outgoing messages (delivery lives in the adapters).
 */
#include "channels/outbox.h"

int outbox_enqueue(struct store_tx *tx, const struct outbox_msg *m, int64_t *out_id,
                   struct err_info *err)
{
    (void)tx;
    (void)m;
    *out_id = 0;
    return err_set(err, ERR_UNAVAILABLE, "channel", "outgoing messages are not configured");
}
