/* registry: a uthash table of users, each with a utlist of connections.
 * O(1) find/add/remove; a user entry lives exactly as long as it has a
 * connection. WebSocket thread only. */
#include "ws/registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

struct registry {
    struct reg_user *users; /* uthash head */
    size_t n_conns;
};

struct registry *registry_new(void)
{
    return calloc(1, sizeof(struct registry));
}

void registry_free(struct registry *reg)
{
    if (!reg)
        return;
    struct reg_user *u, *tmp;
    HASH_ITER (hh, reg->users, u, tmp) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false, a uthash head's hh.prev is NULL */
        HASH_DEL(reg->users, u);
        free(u);
    }
    free(reg);
}

struct reg_user *registry_find(const struct registry *reg, const char *user_id)
{
    struct reg_user *u = NULL;
    HASH_FIND_STR(reg->users, user_id, u);
    return u;
}

int registry_add(struct registry *reg, const char *user_id, struct reg_link *link)
{
    struct reg_user *u = registry_find(reg, user_id);
    if (!u) {
        size_t len = strlen(user_id);
        u = calloc(1, sizeof *u + len + 1);
        if (!u)
            return -ENOMEM;
        memcpy(u->id, user_id, len + 1);
        HASH_ADD_KEYPTR(hh, reg->users, u->id, len, u);
    }
    link->user = u;
    DL_APPEND(u->conns, link);
    u->n_conns++;
    reg->n_conns++;
    return 0;
}

void registry_remove(struct registry *reg, struct reg_link *link)
{
    struct reg_user *u = link->user;
    if (!u)
        return;
    DL_DELETE(u->conns, link);
    link->user = NULL;
    link->prev = link->next = NULL;
    u->n_conns--;
    reg->n_conns--;
    if (u->n_conns == 0) {
        HASH_DEL(reg->users, u);
        free(u);
    }
}

size_t registry_connections(const struct registry *reg)
{
    return reg->n_conns;
}

size_t registry_users(const struct registry *reg)
{
    return HASH_COUNT(reg->users);
}

void registry_each_user(const struct registry *reg, int (*fn)(struct reg_user *u, void *arg),
                        void *arg)
{
    struct reg_user *u, *tmp;
    HASH_ITER (hh, reg->users, u, tmp) {
        if (fn(u, arg))
            return;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **registry_user_ids(const struct registry *reg, size_t *n)
{
    size_t count = HASH_COUNT(reg->users), i = 0;
    *n = 0;
    if (!count)
        return NULL;
    const char **ids = malloc(count * sizeof *ids);
    if (!ids)
        return NULL;
    struct reg_user *u, *tmp;
    HASH_ITER (hh, reg->users, u, tmp)
        ids[i++] = u->id;
    qsort(ids, count, sizeof *ids, cmp_str);
    *n = count;
    return ids;
}
