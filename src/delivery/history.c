/* history: a ring of delivery references per user (uthash) plus one for
 * broadcasts. Rings hold shared deliveries, so remembering a message costs a
 * pointer, not a copy. The users are also in a min-heap by when their oldest
 * message is due to be forgotten, so expiry looks only at users with
 * something to forget, not at every user each second. */
#include "delivery/history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct ring {
    struct delivery **items;
    uint32_t head, len, cap;
    uint64_t floor; /* newest id forgotten */
};

struct hist_user {
    struct ring r;
    int64_t due; /* not after its oldest message's timestamp + ttl: the heap's key */
    UT_hash_handle hh;
    char id[];
};

struct history {
    struct hist_user *users;
    struct ring all;         /* broadcasts */
    struct hist_user **heap; /* every user, the earliest due first */
    size_t heap_n, heap_cap;
    size_t per_user;
    int64_t ttl_ms;
    uint64_t floor; /* start id, raised by users forgotten entirely */
    size_t count;
};

struct history *history_new(size_t per_user, int64_t ttl_ms, uint64_t start_id)
{
    struct history *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->per_user = per_user;
    h->ttl_ms = ttl_ms;
    h->floor = start_id ? start_id - 1 : 0;
    return h;
}

static struct delivery *ring_at(const struct ring *r, uint32_t i)
{
    return r->items[(r->head + i) % r->cap];
}

static void ring_drop_oldest(struct history *h, struct ring *r)
{
    struct delivery *d = r->items[r->head];
    if (d->id > r->floor)
        r->floor = d->id;
    delivery_unref(d);
    r->head = (r->head + 1) % r->cap;
    r->len--;
    h->count--;
}

static void ring_clear(struct history *h, struct ring *r)
{
    while (r->len)
        ring_drop_oldest(h, r);
    free(r->items);
    r->items = NULL;
    r->cap = r->head = 0;
}

static int ring_push(struct history *h, struct ring *r, struct delivery *d)
{
    if (r->len && r->len == h->per_user) /* per_user > 0 here */
        ring_drop_oldest(h, r);
    if (r->len == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 4;
        if (cap > h->per_user)
            cap = (uint32_t)h->per_user;
        struct delivery **items = malloc(cap * sizeof *items);
        if (!items)
            return -ENOMEM;
        for (uint32_t i = 0; i < r->len; i++)
            items[i] = ring_at(r, i);
        free(r->items);
        r->items = items;
        r->head = 0;
        r->cap = cap;
    }
    r->items[(r->head + r->len) % r->cap] = delivery_ref(d);
    r->len++;
    h->count++;
    return 0;
}

/* --- the users by due: a binary min-heap --- */

static void heap_up(struct history *h, size_t i)
{
    struct hist_user *u = h->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->heap[parent]->due <= u->due)
            break;
        h->heap[i] = h->heap[parent];
        i = parent;
    }
    h->heap[i] = u;
}

static void heap_down(struct history *h, size_t i)
{
    struct hist_user *u = h->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->heap_n)
            break;
        if (c + 1 < h->heap_n && h->heap[c + 1]->due < h->heap[c]->due)
            c++;
        if (u->due <= h->heap[c]->due)
            break;
        h->heap[i] = h->heap[c];
        i = c;
    }
    h->heap[i] = u;
}

static int heap_push(struct history *h, struct hist_user *u)
{
    if (h->heap_n == h->heap_cap) {
        size_t cap = h->heap_cap ? h->heap_cap * 2 : 64;
        struct hist_user **heap = realloc(h->heap, cap * sizeof *heap);
        if (!heap)
            return -ENOMEM;
        h->heap = heap;
        h->heap_cap = cap;
    }
    h->heap[h->heap_n++] = u;
    heap_up(h, h->heap_n - 1);
    return 0;
}

static struct hist_user *heap_pop(struct history *h)
{
    struct hist_user *top = h->heap[0];
    h->heap[0] = h->heap[--h->heap_n];
    if (h->heap_n)
        heap_down(h, 0);
    return top;
}

void history_free(struct history *h)
{
    if (!h)
        return;
    struct hist_user *u, *tmp;
    HASH_ITER (hh, h->users, u, tmp) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false, a uthash head's hh.prev is NULL */
        HASH_DEL(h->users, u);
        ring_clear(h, &u->r);
        free(u);
    }
    ring_clear(h, &h->all);
    free(h->heap);
    free(h);
}

int history_add(struct history *h, const char *user_id, struct delivery *d)
{
    if (h->per_user == 0) { /* no history: everything is forgotten at once */
        if (d->id > h->floor)
            h->floor = d->id;
        return 0;
    }
    if (!user_id[0])
        return ring_push(h, &h->all, d);
    struct hist_user *u = NULL;
    HASH_FIND_STR(h->users, user_id, u);
    if (!u) {
        size_t len = strlen(user_id);
        u = calloc(1, sizeof *u + len + 1);
        if (!u)
            return -ENOMEM;
        memcpy(u->id, user_id, len + 1);
        u->r.floor = h->floor;
        u->due = d->timestamp_ms + h->ttl_ms;
        if (heap_push(h, u) < 0) {
            free(u);
            return -ENOMEM;
        }
        HASH_ADD_KEYPTR(hh, h->users, u->id, len, u);
    }
    return ring_push(h, &u->r, d);
}

/* appends the items of @r with id > since to out[*n] */
static void collect(const struct ring *r, uint64_t since, struct delivery **out, size_t *n)
{
    for (uint32_t i = 0; i < r->len; i++) {
        struct delivery *d = ring_at(r, i);
        if (d->id > since)
            out[(*n)++] = d;
    }
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = (*(struct delivery *const *)a)->id, y = (*(struct delivery *const *)b)->id;
    return x < y ? -1 : x > y;
}

int history_since(struct history *h, const char *user_id, uint64_t since, struct delivery ***out,
                  size_t *n)
{
    struct hist_user *u = NULL;
    HASH_FIND_STR(h->users, user_id, u);
    size_t max = h->all.len + (u ? u->r.len : 0);
    *out = NULL;
    *n = 0;
    if (max) {
        *out = malloc(max * sizeof **out);
        if (!*out)
            return -ENOMEM;
        if (u)
            collect(&u->r, since, *out, n);
        collect(&h->all, since, *out, n);
        qsort(*out, *n, sizeof **out, by_id);
        for (size_t i = 0; i < *n; i++)
            delivery_ref((*out)[i]);
    }
    uint64_t floor = h->floor > h->all.floor ? h->floor : h->all.floor;
    if (u && u->r.floor > floor)
        floor = u->r.floor;
    return since >= floor;
}

static void ring_expire(struct history *h, struct ring *r, int64_t cutoff)
{
    while (r->len && r->items[r->head]->timestamp_ms < cutoff)
        ring_drop_oldest(h, r);
}

size_t history_expire(struct history *h, int64_t now_ms)
{
    int64_t cutoff = now_ms - h->ttl_ms;
    size_t looked = 0;
    /* a user's key is never later than its oldest message's due (a message dropped by
     * the count bound only makes the oldest newer): a user popped early is put back */
    while (h->heap_n && h->heap[0]->due < now_ms) {
        struct hist_user *u = heap_pop(h);
        looked++;
        ring_expire(h, &u->r, cutoff);
        if (u->r.len) {
            u->due = u->r.items[u->r.head]->timestamp_ms + h->ttl_ms; /* >= now_ms */
            heap_push(h, u); /* cannot fail: it had the place it was popped from */
            continue;
        }
        /* forget the user; its floor becomes everyone's */
        if (u->r.floor > h->floor)
            h->floor = u->r.floor;
        HASH_DEL(h->users, u);
        ring_clear(h, &u->r);
        free(u);
    }
    ring_expire(h, &h->all, cutoff);
    return looked;
}

size_t history_count(const struct history *h)
{
    return h->count;
}
