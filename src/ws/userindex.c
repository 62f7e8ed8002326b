/* ws/userindex: a uthash table of users under one mutex. Each entry counts
 * the user's WebSockets per thread -- registered, and live (not closing) --
 * and lives exactly as long as one is registered. Totals per thread make a
 * broadcast's count one lookup. */
#include "ws/userindex.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct counts {
    uint32_t reg;         /* registered, closing or not */
    uint32_t reg_nonack;  /* ... not in ack mode */
    uint32_t live;        /* taking messages */
    uint32_t live_nonack; /* ... not in ack mode */
};

struct entry {
    UT_hash_handle hh;
    int conns;  /* registered on every thread */
    int nonack; /* ... not in ack mode */
    char *id;   /* after the per-thread counts, in the same block */
    struct counts per[];
};

struct uindex {
    pthread_mutex_t lock;
    unsigned shards;
    struct entry *users;  /* {lock} */
    int64_t conns;        /* {lock} registered on every thread */
    struct counts *total; /* {lock} per thread */
};

struct uindex *uindex_new(unsigned shards)
{
    if (shards < 1 || shards > UINDEX_SHARDS_MAX)
        return NULL;
    struct uindex *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->total = calloc(shards, sizeof *ix->total))) {
        free(ix);
        return NULL;
    }
    ix->shards = shards;
    pthread_mutex_init(&ix->lock, NULL);
    return ix;
}

void uindex_free(struct uindex *ix)
{
    if (!ix)
        return;
    struct entry *e, *tmp;
    HASH_ITER (hh, ix->users, e, tmp) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false, a uthash head's hh.prev is NULL */
        HASH_DEL(ix->users, e);
        free(e);
    }
    pthread_mutex_destroy(&ix->lock);
    free(ix->total);
    free(ix);
}

static struct entry *find(struct uindex *ix, const char *user_id)
{
    struct entry *e = NULL;
    HASH_FIND_STR(ix->users, user_id, e);
    return e;
}

int uindex_add(struct uindex *ix, const char *user_id, unsigned shard, int nonack)
{
    int rc = 0;
    if (shard >= ix->shards)
        return -EINVAL;
    pthread_mutex_lock(&ix->lock);
    struct entry *e = find(ix, user_id);
    if (!e) {
        size_t len = strlen(user_id);
        size_t counts = ix->shards * sizeof(struct counts);
        e = calloc(1, sizeof *e + counts + len + 1);
        if (!e) {
            rc = -ENOMEM;
            goto out;
        }
        e->id = (char *)e->per + counts;
        memcpy(e->id, user_id, len + 1);
        HASH_ADD_KEYPTR(hh, ix->users, e->id, len, e);
    }
    struct counts *c[2] = {&e->per[shard], &ix->total[shard]};
    for (int i = 0; i < 2; i++) {
        c[i]->reg++;
        c[i]->live++;
        c[i]->reg_nonack += nonack != 0;
        c[i]->live_nonack += nonack != 0;
    }
    e->conns++;
    e->nonack += nonack != 0;
    ix->conns++;
out:
    pthread_mutex_unlock(&ix->lock);
    return rc;
}

void uindex_closing(struct uindex *ix, const char *user_id, unsigned shard, int nonack)
{
    if (shard >= ix->shards)
        return;
    pthread_mutex_lock(&ix->lock);
    struct entry *e = find(ix, user_id);
    if (e && e->per[shard].live) {
        struct counts *c[2] = {&e->per[shard], &ix->total[shard]};
        for (int i = 0; i < 2; i++) {
            c[i]->live--;
            if (nonack && c[i]->live_nonack)
                c[i]->live_nonack--;
        }
    }
    pthread_mutex_unlock(&ix->lock);
}

void uindex_remove(struct uindex *ix, const char *user_id, unsigned shard, int nonack, int live)
{
    if (shard >= ix->shards)
        return;
    pthread_mutex_lock(&ix->lock);
    struct entry *e = find(ix, user_id);
    if (e && e->per[shard].reg) {
        struct counts *c[2] = {&e->per[shard], &ix->total[shard]};
        for (int i = 0; i < 2; i++) {
            c[i]->reg--;
            if (nonack && c[i]->reg_nonack)
                c[i]->reg_nonack--;
            if (live && c[i]->live) {
                c[i]->live--;
                if (nonack && c[i]->live_nonack)
                    c[i]->live_nonack--;
            }
        }
        e->conns--;
        e->nonack -= nonack != 0;
        ix->conns--;
        if (!e->conns) {
            HASH_DEL(ix->users, e);
            free(e);
        }
    }
    pthread_mutex_unlock(&ix->lock);
}

static void route(const struct uindex *ix, const struct counts *per, unsigned skip,
                  struct uindex_route *out)
{
    for (unsigned k = 0; k < ix->shards; k++) {
        if (k == skip || !per[k].reg)
            continue;
        out->shards |= UINT64_C(1) << k;
        out->live += (int)per[k].live;
        out->live_nonack += (int)per[k].live_nonack;
    }
}

void uindex_route_user(struct uindex *ix, const char *user_id, unsigned skip,
                       struct uindex_route *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&ix->lock);
    struct entry *e = find(ix, user_id);
    if (e)
        route(ix, e->per, skip, out);
    pthread_mutex_unlock(&ix->lock);
}

void uindex_route_all(struct uindex *ix, unsigned skip, struct uindex_route *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&ix->lock);
    route(ix, ix->total, skip, out);
    pthread_mutex_unlock(&ix->lock);
}

int uindex_user_connections(struct uindex *ix, const char *user_id)
{
    pthread_mutex_lock(&ix->lock);
    struct entry *e = find(ix, user_id);
    int n = e ? e->conns : 0;
    pthread_mutex_unlock(&ix->lock);
    return n;
}

int64_t uindex_connections(struct uindex *ix)
{
    pthread_mutex_lock(&ix->lock);
    int64_t n = ix->conns;
    pthread_mutex_unlock(&ix->lock);
    return n;
}

int64_t uindex_shard_connections(struct uindex *ix, unsigned shard)
{
    pthread_mutex_lock(&ix->lock);
    int64_t n = shard < ix->shards ? ix->total[shard].reg : 0;
    pthread_mutex_unlock(&ix->lock);
    return n;
}

size_t uindex_users(struct uindex *ix)
{
    pthread_mutex_lock(&ix->lock);
    size_t n = HASH_COUNT(ix->users);
    pthread_mutex_unlock(&ix->lock);
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **uindex_user_ids(struct uindex *ix, size_t *n)
{
    const char **ids = NULL;
    *n = 0;
    pthread_mutex_lock(&ix->lock);
    size_t count = HASH_COUNT(ix->users), bytes = 0, i = 0;
    struct entry *e, *tmp;
    HASH_ITER (hh, ix->users, e, tmp)
        bytes += strlen(e->id) + 1;
    if (count && (ids = malloc(count * sizeof *ids + bytes))) {
        char *s = (char *)(ids + count);
        HASH_ITER (hh, ix->users, e, tmp) {
            size_t len = strlen(e->id) + 1;
            memcpy(s, e->id, len);
            ids[i++] = s;
            s += len;
        }
    }
    pthread_mutex_unlock(&ix->lock);
    if (!ids)
        return NULL;
    qsort(ids, count, sizeof *ids, cmp_str);
    *n = count;
    return ids;
}

void uindex_each(struct uindex *ix,
                 void (*fn)(void *arg, const char *user_id, int conns, int nonack), void *arg)
{
    pthread_mutex_lock(&ix->lock);
    struct entry *e, *tmp;
    HASH_ITER (hh, ix->users, e, tmp)
        fn(arg, e->id, e->conns, e->nonack);
    pthread_mutex_unlock(&ix->lock);
}
