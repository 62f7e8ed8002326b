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

/** The pieces of an envelope, all borrowed. */
struct envelope_parts {
    const char *type;
    const char *user_id; /* NULL or "": none (broadcast) */
    const char *data;    /* a JSON object's text (envelope_data_json); NULL means {} */
    size_t data_len;
    const char *extra; /* more members after data, each as ,"name":value; may be NULL */
    size_t extra_len;
    int64_t timestamp_ms;
};

/** Like envelope_encode() with data already serialized: the fan-out path. */
struct delivery *envelope_encode_parts(const struct envelope_parts *p, unsigned flags);

/** @data as the compact JSON envelopes carry (NULL: "{}"); caller frees. NULL on ENOMEM. */
char *envelope_data_json(const json_t *data, size_t *len);

#endif
