/* outq: see outq.h. Coalescing scans the queue (bounded by max_msgs, and
 * only for messages that have a key); emptied slots are squeezed out when
 * the ring fills, before it grows. */
#include "ws/outq.h"

#include <errno.h>
#include <stdlib.h>

#define MASK(q) ((q)->cap - 1)

static void compact(struct outq *q)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < q->len; i++) {
        struct delivery *d = q->ring[(q->head + i) & MASK(q)];
        if (d)
            q->ring[(q->head + w++) & MASK(q)] = d;
    }
    q->len = w;
}

static int grow(struct outq *q)
{
    uint32_t cap = q->cap ? q->cap * 2 : 8;
    struct delivery **ring = calloc(cap, sizeof *ring); /* no slot is ever garbage */
    if (!ring)
        return -ENOMEM;
    for (uint32_t i = 0; i < q->len; i++)
        ring[i] = q->ring[(q->head + i) & MASK(q)];
    free(q->ring);
    q->ring = ring;
    q->head = 0;
    q->cap = cap;
    return 0;
}

static int drop_same_key(struct outq *q, uint64_t key)
{
    int n = 0;
    for (uint32_t i = 0; i < q->len; i++) {
        struct delivery **slot = &q->ring[(q->head + i) & MASK(q)];
        if (*slot && (*slot)->coalesce_key == key) {
            q->bytes -= (*slot)->len;
            q->live--;
            delivery_unref(*slot);
            *slot = NULL;
            n++;
        }
    }
    return n;
}

enum outq_result outq_push(struct outq *q, struct delivery *d, uint32_t max_msgs, size_t max_bytes,
                           int *coalesced)
{
    int dropped = d->coalesce_key && q->live ? drop_same_key(q, d->coalesce_key) : 0;
    if (coalesced)
        *coalesced = dropped;
    if (q->live + 1 > max_msgs || q->bytes + d->len > max_bytes)
        return OUTQ_FULL;
    if (q->len == q->cap) {
        if (q->live < q->len)
            compact(q);
        else if (grow(q) < 0)
            return OUTQ_NOMEM;
    }
    if (d->priority == PRIORITY_URGENT) {
        /* before every other message, after the urgent ones already waiting */
        q->head = (q->head - 1) & MASK(q);
        q->len++;
        uint32_t i = 0;
        for (; i + 1 < q->len; i++) {
            struct delivery *next = q->ring[(q->head + i + 1) & MASK(q)];
            if (!next || next->priority != PRIORITY_URGENT)
                break;
            q->ring[(q->head + i) & MASK(q)] = next;
        }
        q->ring[(q->head + i) & MASK(q)] = delivery_ref(d);
    } else {
        q->ring[(q->head + q->len) & MASK(q)] = delivery_ref(d);
        q->len++;
    }
    q->live++;
    q->bytes += d->len;
    return OUTQ_OK;
}

struct delivery *outq_pop(struct outq *q)
{
    while (q->len) {
        struct delivery *d = q->ring[q->head];
        q->head = (q->head + 1) & MASK(q);
        q->len--;
        if (d) {
            q->live--;
            q->bytes -= d->len;
            return d;
        }
    }
    return NULL;
}

struct delivery *outq_peek(struct outq *q)
{
    while (q->len && !q->ring[q->head]) { /* squeeze out coalesced holes */
        q->head = (q->head + 1) & MASK(q);
        q->len--;
    }
    return q->len ? q->ring[q->head] : NULL;
}

void outq_clear(struct outq *q)
{
    struct delivery *d;
    while ((d = outq_pop(q)))
        delivery_unref(d);
    free(q->ring);
    q->ring = NULL;
    q->head = q->len = q->cap = q->live = 0;
    q->bytes = 0;
}
