/* delivery: allocation, reference counting and id stamping. */
#include "delivery/delivery.h"

#include <stdlib.h>
#include <string.h>

struct delivery *delivery_new(size_t json_len)
{
    struct delivery *d = malloc(sizeof *d + ND_WS_HEADROOM + json_len + 1);
    if (!d)
        return NULL;
    memset(d, 0, sizeof *d);
    atomic_init(&d->refs, 1);
    d->len = json_len;
    d->buf[ND_WS_HEADROOM + json_len] = 0;
    return d;
}

void delivery_unref(struct delivery *d)
{
    if (d && atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1)
        free(d);
}

void delivery_stamp(struct delivery *d, uint64_t id)
{
    d->id = id;
    if (!d->id_off)
        return;
    char text[MSGID_LEN + 1];
    msgid_format(id, text);
    memcpy(delivery_json(d) + d->id_off, text, MSGID_LEN);
}
