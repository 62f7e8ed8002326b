/* outq: one connection's queue of messages waiting to be written -- shared,
 * reference-counted deliveries in a ring, bounded in messages and bytes. A
 * message with a coalesce key replaces a queued one with the same key
 * (a newer progress update of the same task): the old slot is emptied and
 * the new message goes last, so message ids still rise on the wire -- except
 * for an urgent message, which goes before every non-urgent one queued.
 * Pure data structure; its owner (the connection's WebSocket thread) serializes every call. */
#ifndef NOTIFYD_WS_OUTQ_H
#define NOTIFYD_WS_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "delivery/delivery.h"

struct outq {
    struct delivery **ring; /* power-of-two ring; NULL entries were coalesced away */
    uint32_t head, len, cap;
    uint32_t live; /* non-NULL entries */
    size_t bytes;  /* JSON bytes of the live entries */
};

enum outq_result {
    OUTQ_OK,
    OUTQ_FULL, /* over max messages or max bytes: the reader is too slow */
    OUTQ_NOMEM,
};

/**
 * Appends @d (taking a reference) unless that would pass @max_msgs or
 * @max_bytes. A queued message with d->coalesce_key is dropped first;
 * *coalesced (may be NULL) gets how many were.
 */
enum outq_result outq_push(struct outq *q, struct delivery *d, uint32_t max_msgs, size_t max_bytes,
                           int *coalesced);

/** The oldest message (the caller now owns that reference), or NULL when empty. */
struct delivery *outq_pop(struct outq *q);

/** The oldest message, still queued (borrowed), or NULL when empty. */
struct delivery *outq_peek(struct outq *q);

/** Drops every message and frees the ring. */
void outq_clear(struct outq *q);

static inline uint32_t outq_count(const struct outq *q)
{
    return q->live;
}

#endif
