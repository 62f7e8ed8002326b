/* wheel: see wheel.h. Slot of a node = (due / tick) mod n_slots; each slot
 * is a circular doubly linked list so insert and unlink need no search. */
#include "ws/wheel.h"

#include <errno.h>
#include <stdlib.h>

int wheel_init(struct wheel *w, int64_t tick_ms, int64_t horizon_ms, int64_t now_ms)
{
    if (tick_ms < 1)
        tick_ms = 1;
    w->tick_ms = tick_ms;
    w->n_slots = (size_t)(horizon_ms / tick_ms) + 2;
    w->slots = calloc(w->n_slots, sizeof *w->slots);
    w->done_ms = now_ms;
    w->count = 0;
    return w->slots ? 0 : -ENOMEM;
}

void wheel_free(struct wheel *w)
{
    free(w->slots);
    w->slots = NULL;
}

static size_t slot_of(const struct wheel *w, int64_t due_ms)
{
    return (size_t)(due_ms / w->tick_ms) % w->n_slots;
}

void wheel_add(struct wheel *w, struct wheel_node *n, int64_t due_ms)
{
    /* a node already due goes in the first slot still to be visited */
    if (due_ms <= w->done_ms)
        due_ms = w->done_ms + 1;
    n->due_ms = due_ms;
    struct wheel_node **head = &w->slots[slot_of(w, due_ms)];
    if (!*head) {
        n->prev = n->next = n;
        *head = n;
    } else {
        n->next = *head;
        n->prev = (*head)->prev;
        (*head)->prev->next = n;
        (*head)->prev = n;
    }
    w->count++;
}

void wheel_remove(struct wheel *w, struct wheel_node *n)
{
    if (!n->prev)
        return;
    struct wheel_node **head = &w->slots[slot_of(w, n->due_ms)];
    if (n->next == n) {
        *head = NULL;
    } else {
        n->prev->next = n->next;
        n->next->prev = n->prev;
        if (*head == n)
            *head = n->next;
    }
    n->prev = n->next = NULL;
    w->count--;
}

size_t wheel_advance(struct wheel *w, int64_t now_ms, void (*fire)(struct wheel_node *, void *),
                     void *arg)
{
    size_t fired = 0;
    if (now_ms <= w->done_ms)
        return 0;
    /* visit every slot from the one holding done_ms (it may hold nodes due
     * later within its tick) to the one holding now; never more than a lap */
    int64_t from = w->done_ms / w->tick_ms, to = now_ms / w->tick_ms;
    if (to - from >= (int64_t)w->n_slots)
        from = to - (int64_t)w->n_slots + 1;
    w->done_ms = now_ms;
    for (int64_t t = from; t <= to; t++) {
        struct wheel_node **head = &w->slots[(size_t)t % w->n_slots];
        struct wheel_node *list = *head;
        if (!list)
            continue;
        /* detach the slot, then fire what is due and park the rest again */
        *head = NULL;
        list->prev->next = NULL;
        while (list) {
            struct wheel_node *n = list;
            list = n->next;
            n->prev = n->next = NULL;
            w->count--;
            if (n->due_ms <= now_ms) {
                fired++;
                fire(n, arg);
            } else {
                wheel_add(w, n, n->due_ms);
            }
        }
    }
    return fired;
}
