/* envelope: the seed's message format, encoded once per message:
 *   {"type":..., "user_id":..., "data":{...}, "timestamp":<unix ms>, "message_id":"<16 hex>"}
 * Pure; any thread. */
#ifndef NOTIFYD_DELIVERY_ENVELOPE_H
#define NOTIFYD_DELIVERY_ENVELOPE_H

#include <jansson.h>
#include <stdint.h>

#include "delivery/delivery.h"

enum envelope_flags {
    ENVELOPE_WITH_ID = 1u << 0, /* reserve a message_id, stamped later (delivery_stamp) */
};

/**
 * Encodes an envelope into a new delivery (refs = 1), or NULL on ENOMEM.
 * @user_id NULL or "" leaves user_id out (broadcast); @data is borrowed
 * (NULL means {}).
 */
struct delivery *envelope_encode(const char *type, const char *user_id, const json_t *data,
                                 int64_t timestamp_ms, unsigned flags);

/** Unix time in milliseconds. */
int64_t envelope_now_ms(void);

#endif
