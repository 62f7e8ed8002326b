/* cluster: scale-out through Redis (NOTIFYD_REDIS_URL). One thread,
 * "nd-redis", runs a libev loop with two hiredis async connections: one for
 * commands, one subscribed to the message channel. Any thread may call the
 * functions below; their callbacks run on nd-redis, so callers hand results
 * back to their own thread (the inbox). When Redis is unreachable, calls fail
 * at once (callbacks get err < 0) and the client reconnects with backoff.
 *
 * Data in Redis (prefix notifyd:):
 *   clock               hash {ms, seq}: the cluster's message-id clock
 *   messages            the pub/sub channel every instance subscribes to (wire.h)
 *   h:<user>, h:*       history streams (per user, broadcasts), trimmed by
 *                       count and age; entry field m = the envelope
 *   o:<user>            offline stream: messages kept for the user (m = the
 *                       envelope, x = its expiry in unix ms)
 *   p:<user>            presence hash: <instance> -> connections,
 *                       <instance>:n -> connections not in ack mode
 *   u:<instance>        users connected to an instance (a set)
 *   i:<instance>        instance stats hash {conns}
 *   alive:<instance>    heartbeat key with a TTL; an instance without it is gone
 *   instances           set of instance ids
 *   f:<user>, f:*       feed items (ids, lexical order) of a user / shared by all
 *   fb:<id>             a feed item's envelope (expires with the item)
 *   fs:<user>           the user's state of feed items: id -> bits (feed.h)
 *   templates           hash id -> template JSON; tv {v}: the change counter
 *   tpl                 the channel of template changes: "v id\njson"
 */
#ifndef NOTIFYD_CLUSTER_CLUSTER_H
#define NOTIFYD_CLUSTER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "delivery/delivery.h"
#include "feed/feed.h"

struct cluster;

/**
 * A message published by some instance, arriving here: @d (the callee's) and
 * the name of its operation (wire.h; "" when the sender named none). nd-redis.
 */
typedef void (*cluster_message_fn)(void *arg, struct delivery *d, const char *op);

/** Redis reachable again (1) or lost (0). nd-redis. */
typedef void (*cluster_state_fn)(void *arg, int up);

/** Template change number @v: @id set to @json (len bytes), or deleted (@json NULL). nd-redis. */
typedef void (*cluster_template_fn)(void *arg, uint64_t v, const char *id, const char *json,
                                    size_t len);
/** Every template as of change @v (after a (re)connect). Borrowed for the call. nd-redis. */
typedef void (*cluster_templates_fn)(void *arg, uint64_t v, const char *const *ids,
                                     const char *const *jsons, const size_t *lens, size_t n);
struct cluster_hooks {
    cluster_message_fn message;
    cluster_state_fn state;
    void *arg;
    cluster_template_fn template_change;
    cluster_templates_fn templates;
    void *templates_arg;
};

/** A template change is in Redis as change number @version (err 0), or failed (-errno). nd-redis.
 */
typedef void (*cluster_template_done_fn)(void *arg, int err, uint64_t version);

/**
 * Keeps template @id as @json (NULL: deletes it) in Redis and tells every
 * instance (the template hooks); @fn runs once Redis has it. 0 or -errno
 * (-ENOTCONN while Redis is unreachable; @fn never runs).
 */
int cluster_template(struct cluster *c, const char *id, const char *json,
                     cluster_template_done_fn fn, void *arg);

/**
 * Prepares the client for @cfg->redis_url; nothing connects until
 * cluster_connect(). NULL with a one-line reason in @err for a bad URL.
 * Main thread.
 */
struct cluster *cluster_new(const struct nd_config *cfg, const struct cluster_hooks *hooks,
                            char *err, size_t errlen);

/**
 * Starts nd-redis as instance @instance (8 hex digits, copied); the
 * connection comes up in the background (state hook). 0 or -EAGAIN. Main thread.
 */
int cluster_connect(struct cluster *c, const char *instance);

/**
 * Stops nd-redis: queued commands are sent, this instance leaves the
 * presence, then the connections close (pending callbacks fail); later
 * calls fail at once. No-op when never connected. Main thread.
 */
void cluster_stop(struct cluster *c);

/** Frees the client, after cluster_stop() (or when never connected). Main thread. */
void cluster_free(struct cluster *c);

/** 1 while both connections are up. Any thread. */
int cluster_up(const struct cluster *c);

struct cluster_published {
    uint64_t id;     /* the message id the cluster gave it */
    int stored;      /* kept in the user's offline stream */
    int connections; /* the user's connections in the cluster (all, for a broadcast) */
};

typedef void (*cluster_published_fn)(void *arg, int err, const struct cluster_published *p);

/**
 * Publishes @d (its JSON with the message_id placeholder; borrowed during
 * the call) as operation @op (its RPC name, named on the wire): id, history,
 * offline when @important and no non-ack connection of the user is present
 * (kept @ttl_ms, at most NOTIFYD_OFFLINE_TTL; 0: that), the user's feed (a
 * broadcast: the shared one) when @feed, then the channel. 0 or -errno (@fn
 * never runs).
 */
int cluster_publish(struct cluster *c, struct delivery *d, const char *op, int important,
                    int64_t ttl_ms, int feed, cluster_published_fn fn, void *arg);

/** A feed request: what store_feed_req is to the embedded store. */
struct cluster_feed_req {
    char what; /* 'l' list, 'c' counts, 'm' mark */
    const char *user_id;
    uint64_t before; /* l: items older than this id; 0 from the newest */
    int limit;       /* l */
    enum feed_filter filter;
    const uint64_t *ids; /* m: n_ids (copied) */
    size_t n_ids;
    int all; /* m: every item */
    enum feed_action action;
};

struct cluster_feed {
    struct feed_item *items; /* l: the page, newest first; the callback takes them */
    size_t n_items;
    uint64_t next_before;      /* l: the next page's cursor, 0 at the end */
    struct feed_counts counts; /* c, m: after the change */
    int updated;               /* m: items whose state changed */
};
typedef void (*cluster_feed_fn)(void *arg, int err, struct cluster_feed *r);

/**
 * Runs @q on the user's feed in Redis, atomically (one script): the same
 * rules as the embedded store (feed.h). 0 or -errno (@fn never runs).
 */
int cluster_feed(struct cluster *c, const struct cluster_feed_req *q, cluster_feed_fn fn,
                 void *arg);

/** @op is on the channel (err 0): @connections of the user on live instances. nd-redis. */
typedef void (*cluster_tell_fn)(void *arg, int err, int connections);

/**
 * Tells every instance (this one too) operation @op about @user's
 * connections, with @payload (@len bytes, copied): a line of the channel
 * with id 0 and no history or offline copy; the message hook gets it as a
 * delivery of @payload. 0 or -errno (@fn never runs).
 */
int cluster_tell(struct cluster *c, const char *user, const char *op, const char *payload,
                 size_t len, cluster_tell_fn fn, void *arg);

/** Counts a connection of @user on this instance in or out (@delta +1/-1). Fire and forget. */
int cluster_presence(struct cluster *c, const char *user, int delta, int nonack);

/** Replaces this instance's presence with @users/@conns/@nonack (n entries): after a reconnect. */
int cluster_presence_reset(struct cluster *c, const char **users, const int *conns,
                           const int *nonack, size_t n);

struct cluster_stats {
    int64_t total_connections;
    const char **users; /* sorted; borrowed for the callback */
    size_t n_users;
};
typedef void (*cluster_stats_fn)(void *arg, int err, const struct cluster_stats *s);

/** Cluster-wide connections and online users. 0 or -errno. */
int cluster_stats(struct cluster *c, cluster_stats_fn fn, void *arg);

typedef void (*cluster_online_fn)(void *arg, int err, int connections);

/** Cluster-wide connections of @user. 0 or -errno. */
int cluster_online(struct cluster *c, const char *user, cluster_online_fn fn, void *arg);

struct cluster_backlog {
    int64_t count;           /* entries of the user's offline stream not past their expiry */
    uint64_t oldest, newest; /* their first and last ids, 0 when none */
};
typedef void (*cluster_backlog_fn)(void *arg, int err, const struct cluster_backlog *b);

/** What @user's offline stream holds, unexpired. 0 or -errno. */
int cluster_backlog(struct cluster *c, const char *user, cluster_backlog_fn fn, void *arg);

struct cluster_resume {
    struct delivery **msgs; /* stored and (with since) history, by id, no duplicates; owned */
    size_t n;
    int complete;   /* nothing after since was forgotten */
    uint64_t clock; /* the cluster's last id at the read: older live copies are stale */
};
typedef void (*cluster_resume_fn)(void *arg, int err, struct cluster_resume *r);

/**
 * What a connecting @user missed: the offline stream and, when @has_since,
 * the history after @since (own and broadcasts). @fn takes ownership of
 * r->msgs (each a ref, and the array). 0 or -errno.
 */
int cluster_resume(struct cluster *c, const char *user, int has_since, uint64_t since,
                   cluster_resume_fn fn, void *arg);

/** Removes message @id from @user's offline stream (written or acked). Fire and forget. */
int cluster_forget(struct cluster *c, const char *user, uint64_t id);

/** /metrics lines (redis_up, reconnects, errors). Any thread. */
void cluster_metrics(struct cluster *c, FILE *out);

#endif
