/* backend: where notifications go and what is remembered about them -- one
 * table of operations (as nchan's nchan_store_t) and two engines, picked
 * once by main:
 *   embedded (backend/embedded.c): this instance alone. Messages owed to
 *       users (offline, or waiting for an ack) and the notification feeds in
 *       SQLite (store/), the recent history in memory, message ids from the
 *       local inbox.
 *   redis (backend/redis.c, over cluster/): several instances share ids,
 *       history, offline messages, feeds, presence and templates in Redis,
 *       and every delivery comes back on its channel. While Redis is
 *       unreachable: this instance's connections only, nothing kept.
 * Callers never ask which one runs.
 *
 * The local side. The thread that routes to this instance's connections (nd-ws,
 * "the local thread") is described by a struct backend_local, attached
 * before that thread starts: engines deliver into it and run every callback
 * there.
 *
 * Requests. Each call takes a request of the caller's memory that embeds
 * struct backend_req (which embeds the inbox job an engine comes back to the
 * local thread with). From a call returning 0 until its done runs, the
 * request is the engine's; done runs exactly once, on the local thread, and
 * may free it -- or, for a feed read (list, counts) whose caller set
 * `any_thread`, on whichever thread has the answer when the engine can save
 * the hop (embedded: nd-store, when it has nothing else to do; when it has,
 * the answer's work is better done beside it on the local thread). A call
 * that returns -errno never runs done. */
#ifndef NOTIFYD_BACKEND_BACKEND_H
#define NOTIFYD_BACKEND_BACKEND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "delivery/delivery.h"
#include "delivery/inbox.h"
#include "feed/feed.h"
#include "nd.h"

struct backend;
struct templates;

/** Where a message went on this instance: connections queued, those not in ack mode. */
struct backend_fanout {
    int connections;
    int nonack;
};

/** This instance's connections, as the local thread sees them (ws/local.c fills it). */
struct backend_local {
    struct inbox *inbox;  /* jobs posted here run on the local thread */
    const char *instance; /* this instance's id: 8 hex digits */
    void *ctx;            /* the first argument of the functions below */
    /** Queues @d (borrowed) on every connection it is addressed to. Local thread. */
    void (*deliver)(void *ctx, struct delivery *d, struct backend_fanout *out);
    /** Connections of @user_id here; NULL: all. Local thread. */
    int (*connections)(void *ctx, const char *user_id);
    /** Sorted ids of the users connected here, borrowed until the next connect or
     *  close; the caller frees the array. NULL with *n = 0 when none. Local thread. */
    const char **(*users)(void *ctx, size_t *n);
    /** Calls @fn for each user connected here. Local thread. */
    void (*each_user)(void *ctx, void (*fn)(void *arg, const char *user_id, int conns, int nonack),
                      void *arg);
    /** Closes @user_id's connections here (see struct backend_disconnect); how many. Local
     *  thread. */
    int (*disconnect)(void *ctx, const char *user_id, const char *reason, int reconnect);
    /** Deliveries and closes handed to another WebSocket thread and not run there yet, on the
     *  thread with the most: how many, its name in *thread. NULL: none can wait. Any thread. */
    int64_t (*backlog)(void *ctx, const char **thread);
};

/** The head of every request. */
struct backend_req {
    struct inbox_job job;                /* the engine's, until done */
    struct backend *backend;             /* set by the call */
    void (*done)(struct backend_req *r); /* local thread, once */
    int any_thread;                      /* set by the caller: a feed read's done may run
                                            on the engine's thread (see above) */
    _Atomic int err;                     /* in done: 0, or -errno of the first thing that failed */
    char why[160]; /* in done, with err: what failed, a sentence for the caller */
};

/** One copy of a message: for one recipient, or for every connection (a broadcast). */
struct backend_copy {
    struct delivery *d;           /* encoded, id not stamped: the engine takes this reference */
    uint64_t id;                  /* in done: the message id it was given; 0 when not placed */
    int connections;              /* in done: connections it reached (redis: cluster-wide) */
    int stored;                   /* in done: kept for the user's next connect */
    int in_feed;                  /* in done: kept in the user's feed (a broadcast: shared) */
    struct backend_publish *_pub; /* the engine's */
};

struct backend_publish {
    struct backend_req req;
    int important;               /* keep for a user with no live connection outside ack mode */
    int feed;                    /* keep each copy in its user's feed (a broadcast: shared) */
    int64_t ttl_ms;              /* how long a kept copy waits; 0: NOTIFYD_OFFLINE_TTL (not more) */
    size_t n;                    /* copies: 1, or a multicast's recipients (consecutive ids) */
    struct backend_copy *copies; /* n, the caller's */
    _Atomic int _pending;        /* the engine's */
};

/** GetStats (user_id "") or IsUserOnline. */
struct backend_query {
    struct backend_req req;
    char user_id[ND_USER_ID_MAX + 1];
    int connections;    /* in done: the user's, or everyone's (redis: cluster-wide) */
    const char **users; /* in done, stats: sorted ids of the users online, valid during done */
    size_t n_users;
};

/** GetBacklog: what is kept for user_id until it connects (offline) or acks, not expired. */
struct backend_backlog {
    struct backend_req req;
    char user_id[ND_USER_ID_MAX + 1];
    int64_t messages; /* in done: how many */
    uint64_t oldest;  /* in done: the oldest one's id, 0 when none */
    uint64_t newest;  /* in done: the newest one's id, 0 when none */
};

/** A template change: kept where templates persist, then in the table. */
struct backend_template {
    struct backend_req req;
    const char *id;   /* borrowed until done */
    const char *json; /* its persisted form (borrowed until done), or NULL to delete it */
};

/**
 * DisconnectUser: every connection of user_id, on every instance, gets a
 * `disconnected` message {code 4004, reason, reconnect} and is closed with
 * 4004 and the reason once what is queued for it is written.
 */
struct backend_disconnect {
    struct backend_req req;
    char user_id[ND_USER_ID_MAX + 1];
    char reason[ND_REASON_MAX + 1];
    int reconnect; /* the client may come back */
    int closed;    /* in done: the user's connections (redis: cluster-wide) */
};

/**
 * ListFeed, GetFeedCounts or MarkFeed on user_id's feed (SPEC §7d). After a
 * mark that changed something, every connection of the user, on every
 * instance, gets a `feed_update` message {ids|all, action, counts} before
 * done runs here.
 */
struct backend_feed {
    struct backend_req req;
    char user_id[ND_USER_ID_MAX + 1];
    uint64_t before; /* list: items older than this id; 0 from the newest */
    int limit;       /* list: 1..FEED_LIMIT_MAX */
    enum feed_filter filter;
    const uint64_t *ids; /* mark: n_ids ids, borrowed until done */
    size_t n_ids;
    int all; /* mark: every item instead */
    enum feed_action action;
    struct feed_item *items;   /* in done, list: the page (the caller frees: feed_items_free) */
    size_t n_items;            /* ... */
    uint64_t next_before;      /* in done, list: the next page's cursor; 0 at the end */
    struct feed_counts counts; /* in done, counts and mark (after the change) */
    int updated;               /* in done, mark: items whose state changed */
};

/** What a connecting client missed. */
struct backend_resume {
    struct backend_req req;
    char user_id[ND_USER_ID_MAX + 1];
    int has_since; /* ?since= given */
    uint64_t since;
    struct delivery **msgs; /* in done: kept and (with since) history, by id, no duplicates;
                               the caller's (each a reference, and the array) */
    size_t n;
    int complete;   /* in done: nothing after since was forgotten (1 without since) */
    uint64_t floor; /* in done: live copies with ids up to this are in msgs, or not owed */
};

/** The table every engine fills. Calls go through the functions below. */
struct backend_ops {
    const char *name;
    int (*start)(struct backend *b, char *err, size_t errlen);
    void (*stop)(struct backend *b);
    void (*free)(struct backend *b);
    void (*publish)(struct backend *b, struct backend_publish *p);
    int (*stats)(struct backend *b, struct backend_query *q);
    int (*online)(struct backend *b, struct backend_query *q);
    int (*backlog)(struct backend *b, struct backend_backlog *q);
    int (*template_put)(struct backend *b, struct backend_template *t);
    int (*disconnect)(struct backend *b, struct backend_disconnect *d);
    int (*feed_list)(struct backend *b, struct backend_feed *f);
    int (*feed_counts)(struct backend *b, struct backend_feed *f);
    int (*feed_mark)(struct backend *b, struct backend_feed *f);
    int (*resume)(struct backend *b, struct backend_resume *r);
    void (*forget)(struct backend *b, const char *user_id, uint64_t id);
    void (*presence)(struct backend *b, const char *user_id, int delta, int nonack);
    void (*tick)(struct backend *b, int64_t now_ms);
    void (*metrics)(struct backend *b, FILE *out);
};

/**
 * The embedded engine: opens the store in cfg->data_dir and loads its
 * templates into @templates (borrowed, kept current from then on). NULL with
 * a one-line reason naming the file in @err. Main thread.
 */
struct backend *backend_embedded_new(const struct nd_config *cfg, struct templates *templates,
                                     char *err, size_t errlen);

/**
 * The redis engine for cfg->redis_url; nothing connects before
 * backend_start(). @templates as above. NULL with a one-line reason in @err
 * (a bad URL). Main thread.
 */
struct backend *backend_redis_new(const struct nd_config *cfg, struct templates *templates,
                                  char *err, size_t errlen);

/** "embedded" or "redis": for logs. */
const char *backend_name(const struct backend *b);

/** The local side's longest backlog (struct backend_local's backlog), 0 when it keeps none;
 *  *thread names its thread. Any thread, once attached. */
int64_t backend_local_backlog(struct backend *b, const char **thread);

/**
 * Delivers into @local (copied) from now on. Main thread, before the local
 * thread starts (ws_server_start() calls it).
 */
void backend_attach(struct backend *b, const struct backend_local *local);

/**
 * Starts what the engine runs in the background (Redis connects, and says
 * when on /readyz). After backend_attach(). 0 or -errno with a reason in
 * @err. Main thread.
 */
int backend_start(struct backend *b, char *err, size_t errlen);

/**
 * Stops the engine's threads after finishing what is queued (the store
 * flushes; this instance leaves the cluster); answers still owed go to the
 * local inbox. After the local side stopped accepting work. Main thread.
 */
void backend_stop(struct backend *b);

/** Frees the engine (after backend_stop, and after the local inbox ran its last jobs). */
void backend_free(struct backend *b);

/**
 * Routes @p's copies: gives each its id, queues it on the connections it is
 * addressed to (on every instance), keeps it for a user who needs that
 * (@p->important) and in the feed (@p->feed). Never fails: where the engine
 * cannot reach what it shares, it delivers locally and done says so (err,
 * why; a copy for the feed is then not kept). Any thread.
 */
void backend_publish(struct backend *b, struct backend_publish *p);

/** Connections and users online (q->user_id ""). 0 or -ENOMEM. Any thread. */
int backend_stats(struct backend *b, struct backend_query *q);

/** Connections of q->user_id. 0 or -ENOMEM. Any thread. */
int backend_online(struct backend *b, struct backend_query *q);

/**
 * What is kept for q->user_id (see struct backend_backlog), from where the
 * engine keeps it. 0 or -ENOMEM (-ESHUTDOWN: stopped). Where that is
 * unreachable, done says so (err, why). Any thread.
 */
int backend_backlog(struct backend *b, struct backend_backlog *q);

/**
 * Keeps template t->id as t->json (NULL: deletes it), then updates the
 * table. 0; -ENOTCONN while what it is shared through is unreachable; -ENOMEM.
 * Any thread.
 */
int backend_template_put(struct backend *b, struct backend_template *t);

/**
 * Closes d->user_id's connections everywhere (see struct backend_disconnect).
 * 0 or -ENOMEM. Where the engine cannot reach the other instances, it closes
 * this instance's and done says so (err, why). Any thread.
 */
int backend_disconnect(struct backend *b, struct backend_disconnect *d);

/**
 * A page of f->user_id's feed (list), its counts, or a change of it (mark,
 * then `feed_update` everywhere). 0 or -ENOMEM; where the engine cannot
 * reach the feeds, done says so (err, why). Any thread.
 */
int backend_feed_list(struct backend *b, struct backend_feed *f);
int backend_feed_counts(struct backend *b, struct backend_feed *f);
int backend_feed_mark(struct backend *b, struct backend_feed *f);

/** What r->user_id missed (see struct backend_resume). done may run before this returns.
 *  0 or -ENOMEM. Local thread. */
int backend_resume(struct backend *b, struct backend_resume *r);

/** Message @id of @user_id was written (no ack mode) or acked: no longer owed. Local thread. */
void backend_forget(struct backend *b, const char *user_id, uint64_t id);

/** A connection of @user_id opened (+1) or closed (-1); @nonack: outside ack mode. Local thread. */
void backend_presence(struct backend *b, const char *user_id, int delta, int nonack);

/** Upkeep (the history forgets what is too old): at least once a second. Local thread. */
void backend_tick(struct backend *b, int64_t now_ms);

/** The engine's lines of /metrics. Local thread. */
void backend_metrics(struct backend *b, FILE *out);

/** Runs @job on the local thread, after what was posted before it. Any thread. */
void backend_defer(struct backend *b, struct inbox_job *job);

#endif
