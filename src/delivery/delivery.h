/* delivery: one encoded message, immutable once handed to connections and
 * shared by all of them through a reference count. Built on any thread,
 * fanned out on the WebSocket thread. The JSON sits after ND_WS_HEADROOM
 * bytes (lws's LWS_PRE) so lws_write() can frame it in place. */
#ifndef NOTIFYD_DELIVERY_DELIVERY_H
#define NOTIFYD_DELIVERY_DELIVERY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery/msgid.h"
#include "nd.h"

struct op_spec;

/* how a message travels: urgent goes before everything else queued and is never coalesced */
enum priority {
    PRIORITY_NORMAL,
    PRIORITY_HIGH,
    PRIORITY_URGENT,
};

struct delivery {
    _Atomic unsigned refs;
    const struct op_spec *op;         /* NULL for control frames (connected, pong, error) */
    char user_id[ND_USER_ID_MAX + 1]; /* "" when to every connection */
    uint64_t id;                      /* message id; 0 until stamped (control frames: always) */
    int64_t timestamp_ms;
    int64_t accepted_us;   /* monotonic time it was accepted, for latency */
    size_t id_off;         /* offset of the message_id digits in the JSON; 0 = none */
    size_t len;            /* JSON bytes */
    uint64_t coalesce_key; /* nonzero: a newer message with this key replaces a queued one */
    int stored;            /* read from the store: forget it there once written */
    uint8_t priority;      /* enum priority: urgent goes to the front of a queue */
    unsigned char buf[];   /* ND_WS_HEADROOM bytes, the JSON, a NUL */
};

/** Allocates room for @json_len bytes of JSON; refs = 1. NULL on ENOMEM. */
struct delivery *delivery_new(size_t json_len);

/** Takes a reference. Any thread. */
static inline struct delivery *delivery_ref(struct delivery *d)
{
    atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
    return d;
}

/** Drops a reference; frees on the last. Any thread. */
void delivery_unref(struct delivery *d);

/** The JSON text (len bytes, NUL-terminated). */
static inline char *delivery_json(struct delivery *d)
{
    return (char *)d->buf + ND_WS_HEADROOM;
}

/** Writes @id into the reserved message_id slot. Before the message is shared. */
void delivery_stamp(struct delivery *d, uint64_t id);

#endif
