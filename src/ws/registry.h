/* registry: user id -> that user's live WebSocket connections (every tab) on
 * one WebSocket thread; ws/userindex.h says which threads hold whom.
 * Its thread only: it is the sole owner, so there is no lock. */
#ifndef NOTIFYD_WS_REGISTRY_H
#define NOTIFYD_WS_REGISTRY_H

#include <stddef.h>
#include <uthash.h>

struct reg_user;

/** Embedded in each connection; links it into its user's list. */
struct reg_link {
    struct reg_link *prev, *next; /* utlist DL in user->conns */
    struct reg_user *user;        /* NULL while not registered */
};

struct reg_user {
    struct reg_link *conns; /* the user's connections, oldest first */
    int n_conns;
    UT_hash_handle hh; /* keyed by id */
    char id[];         /* NUL-terminated */
};

struct registry;

struct registry *registry_new(void);

/** Frees the registry; it must hold no connections. */
void registry_free(struct registry *reg);

/** Adds @link for @user_id (created on first use). 0 or -ENOMEM. */
int registry_add(struct registry *reg, const char *user_id, struct reg_link *link);

/** Removes @link; drops the user with its last connection. No-op if not added. */
void registry_remove(struct registry *reg, struct reg_link *link);

/** The user's entry, or NULL when offline. Borrowed until the next add/remove. */
struct reg_user *registry_find(const struct registry *reg, const char *user_id);

size_t registry_connections(const struct registry *reg);
size_t registry_users(const struct registry *reg);

/** Calls @fn for every online user (any order); stops early when fn returns nonzero. */
void registry_each_user(const struct registry *reg, int (*fn)(struct reg_user *u, void *arg),
                        void *arg);

/**
 * The ids of online users, sorted, in a malloc'd array of borrowed pointers
 * (caller frees the array only; valid until the next add/remove). *n gets
 * the count. NULL with *n == 0 when nobody is online or on ENOMEM.
 */
const char **registry_user_ids(const struct registry *reg, size_t *n);

#endif
