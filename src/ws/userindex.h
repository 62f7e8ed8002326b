/* ws/userindex: which WebSocket threads hold each user's connections. Every
 * thread registers its WebSockets here as well as in its own registry, so
 * the thread that routes messages (the backend's local thread) knows where
 * to send a user's messages and how many connections they reach, and any
 * thread can check the per-user and server-wide limits and list who is
 * online. One mutex; held for a hash lookup at a time. Any thread. */
#ifndef NOTIFYD_WS_USERINDEX_H
#define NOTIFYD_WS_USERINDEX_H

#include <stddef.h>
#include <stdint.h>

#define UINDEX_SHARDS_MAX 64 /* threads, at most (a bit each in a mask) */

struct uindex;

/** Where messages go: threads holding connections, and the live ones among them. */
struct uindex_route {
    uint64_t shards; /* bit k: thread k holds some of them (closing or not) */
    int live;        /* connections taking messages (not closing) */
    int live_nonack; /* ... of which not in ack mode */
};

/** An index for @shards threads (1..UINDEX_SHARDS_MAX). NULL on ENOMEM. */
struct uindex *uindex_new(unsigned shards);
void uindex_free(struct uindex *ix);

/** A WebSocket of @user_id opened on thread @shard. 0, -EINVAL (no such thread) or -ENOMEM. */
int uindex_add(struct uindex *ix, const char *user_id, unsigned shard, int nonack);

/** That WebSocket takes no more messages (it is closing); it stays registered. */
void uindex_closing(struct uindex *ix, const char *user_id, unsigned shard, int nonack);

/** That WebSocket is gone; @live: uindex_closing() was not called for it. */
void uindex_remove(struct uindex *ix, const char *user_id, unsigned shard, int nonack, int live);

/** Where @user_id's messages go, leaving out thread @skip (it counts its own). */
void uindex_route_user(struct uindex *ix, const char *user_id, unsigned skip,
                       struct uindex_route *out);

/** Where a message to everyone goes, leaving out thread @skip. */
void uindex_route_all(struct uindex *ix, unsigned skip, struct uindex_route *out);

/** @user_id's WebSockets on every thread, closing ones too. */
int uindex_user_connections(struct uindex *ix, const char *user_id);

/** WebSockets open on every thread, closing ones too. */
int64_t uindex_connections(struct uindex *ix);

/** WebSockets open on thread @shard, closing ones too. */
int64_t uindex_shard_connections(struct uindex *ix, unsigned shard);

/** Users with at least one WebSocket. */
size_t uindex_users(struct uindex *ix);

/**
 * The ids of the users online, sorted, in one malloc'd block (the caller
 * frees it alone: the strings are inside). NULL with *n = 0 when nobody is
 * online or on ENOMEM.
 */
const char **uindex_user_ids(struct uindex *ix, size_t *n);

/** Calls @fn for each user online, with the lock held: @fn must not call the index. */
void uindex_each(struct uindex *ix,
                 void (*fn)(void *arg, const char *user_id, int conns, int nonack), void *arg);

#endif
