/* wheel: a hashed timer wheel. Nodes are embedded in their owners; adding,
 * removing and firing a node is O(1), and advancing the clock touches only
 * the slots that passed -- the nodes due in them, plus any parked there for a
 * later lap. Single-threaded: the owner serializes every call (one per WebSocket thread). */
#ifndef NOTIFYD_WS_WHEEL_H
#define NOTIFYD_WS_WHEEL_H

#include <stddef.h>
#include <stdint.h>

struct wheel_node {
    struct wheel_node *prev, *next; /* in its slot; prev == NULL: not in the wheel */
    int64_t due_ms;
};

struct wheel {
    struct wheel_node **slots; /* circular list heads (sentinel-free, prev of head = tail) */
    size_t n_slots;
    int64_t tick_ms;
    int64_t done_ms; /* every node due at or before this has fired */
    size_t count;
};

/**
 * Sets up a wheel with @tick_ms granularity covering @horizon_ms ahead
 * (later nodes still work, they are just visited once per lap). 0 or -ENOMEM.
 */
int wheel_init(struct wheel *w, int64_t tick_ms, int64_t horizon_ms, int64_t now_ms);

/** Frees the slots (nodes belong to their owners). */
void wheel_free(struct wheel *w);

/** Schedules @n (not in the wheel) for @due_ms; a past due fires on the next advance. */
void wheel_add(struct wheel *w, struct wheel_node *n, int64_t due_ms);

/** Unschedules @n; a no-op if it is not in the wheel. */
void wheel_remove(struct wheel *w, struct wheel_node *n);

static inline int wheel_scheduled(const struct wheel_node *n)
{
    return n->prev != NULL;
}

/**
 * Fires every node due at or before @now_ms: each is removed, then
 * @fire(node, arg) is called. @fire may add its own node back, but must not
 * remove other nodes. Returns how many fired.
 */
size_t wheel_advance(struct wheel *w, int64_t now_ms, void (*fire)(struct wheel_node *, void *),
                     void *arg);

#endif
