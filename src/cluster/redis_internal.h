/* cluster internals, shared by redis.c (the nd-redis thread: connections,
 * the subscription, the queue, timers) and redis_calls.c (the commands:
 * the scripts by SHA1, building each call, reading its reply). Not for
 * other modules: they use cluster/cluster.h. */
#ifndef NOTIFYD_CLUSTER_REDIS_INTERNAL_H
#define NOTIFYD_CLUSTER_REDIS_INTERNAL_H

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>

#include "cluster/cluster.h"

#define HEARTBEAT_S 2.0   /* alive key refresh */
#define ALIVE_TTL_MS 8000 /* an instance silent this long is gone */
#define JANITOR_S 5.0
#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 5.0

enum cmd_kind {
    CMD_PUBLISH,
    CMD_PRESENCE,
    CMD_RESET,
    CMD_STATS,
    CMD_ONLINE,
    CMD_RESUME,
    CMD_FORGET,
    CMD_HEARTBEAT,
    CMD_JANITOR,
    CMD_TEMPLATE,
    CMD_TEMPLATES_LOAD,
    CMD_TELL,
    CMD_BACKLOG,
    CMD_FEED
};

struct cmd {
    struct cmd *next;
    struct cluster *c;
    enum cmd_kind kind;
    const char *script; /* sent as EVALSHA; as EVAL once if Redis lost it (NOSCRIPT) */
    int evaled;
    int argc;
    char **argv;
    size_t *argvlen;
    void *fn;
    void *arg;
    int64_t submitted_us; /* monotonic: when queued (store commit latency) */
};

struct cluster {
    const struct nd_config *cfg;
    struct cluster_hooks hooks;
    char instance[16];
    char host[256];
    int port;
    int db;
    char user[128];     /* ACL user, or "" */
    char password[256]; /* or "" */
    pthread_t thread;
    int started;
    struct ev_loop *loop;
    ev_async wake;
    ev_timer heartbeat, janitor, retry;
    double backoff;
    redisAsyncContext *cmd_ctx; /* nd-redis */
    redisAsyncContext *sub_ctx; /* nd-redis */
    int cmd_ready, sub_ready;   /* nd-redis */
    atomic_int up;
    atomic_int stopping;
    uint64_t tpl_seen; /* nd-redis: the newest template change seen on the channel */
    int tpl_loads;     /* nd-redis: reloads in a row (a change raced the last one) */
    pthread_mutex_t lock;
    struct cmd *head, **tail; /* {lock} */
    _Atomic uint64_t reconnects, errors, received;
};

#define TPL_CHANNEL "notifyd:tpl" /* template changes: "version id\njson" */

/** Hashes the scripts once (EVALSHA). Any thread, before the first command. */
void cluster__scripts_init(void);
size_t cluster__script_count(void);
const char *cluster__script(size_t i);

/** A command running @script (by SHA1) with @n arguments (copied, @lens may be NULL). */
struct cmd *cluster__cmd_new(struct cluster *c, enum cmd_kind kind, const char *script, int n,
                             const char *const *args, const size_t *lens);
void cluster__cmd_free(struct cmd *k);

/** Queues @k for nd-redis with its callback; -ENOTCONN while Redis is down. Any thread. */
int cluster__submit(struct cluster *c, struct cmd *k, void *fn, void *arg);

/** nd-redis: @k's successful reply @r to its caller; frees @k. */
void cluster__reply(struct cmd *k, const redisReply *r);

/** nd-redis (or a caller while submitting): @k failed with -@err; frees @k. */
void cluster__fail(struct cmd *k, int err);

/** nd-redis: a feed script's reply @r to @k's caller (redis_feed.c); does not free @k. */
void cluster__feed_reply(struct cmd *k, const redisReply *r);

/** nd-redis: reads every template again (after a (re)connect). */
void cluster__load_templates(struct cluster *c);

/** nd-redis: a message on TPL_CHANNEL (@len bytes at @p, @nl its first newline). */
void cluster__template_changed(struct cluster *c, const char *p, const char *nl, size_t len);

#endif
