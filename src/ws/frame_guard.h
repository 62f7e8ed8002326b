/* ws/frame_guard: follows the frame headers of what a WebSocket client
 * sends, to enforce what libwebsockets 4.1.6 does not: every client frame
 * must be masked (RFC 6455 §5.1: the server fails the connection, 1002).
 * The tracker is pure code; recv_guard.c feeds it the bytes a WebSocket thread reads.
 * One tracker per connection, used by the connection's WebSocket thread only. */
#ifndef NOTIFYD_WS_FRAME_GUARD_H
#define NOTIFYD_WS_FRAME_GUARD_H

#include <stddef.h>
#include <stdint.h>

struct frame_guard {
    uint8_t state;    /* where in a frame the next byte falls */
    uint8_t need;     /* header bytes still to come in this state */
    uint8_t len7;     /* the 7-bit length of the header being read */
    uint64_t left;    /* payload bytes still to come (or the length being read) */
    unsigned bad : 1; /* a frame broke the rules: nothing more is looked at */
};

/**
 * Follows @len bytes the client sent (the next ones after those already
 * fed). Returns @len when every frame header in them is allowed, or the
 * offset at which the first unmasked frame starts (@g is then bad for good).
 */
size_t frame_guard_feed(struct frame_guard *g, const uint8_t *p, size_t len);

#endif
