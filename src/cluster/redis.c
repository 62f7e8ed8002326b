/* cluster/redis: the nd-redis thread. A libev loop owns two hiredis async
 * connections -- commands, and the subscription to notifyd:messages -- and a
 * queue other threads fill (mutex + ev_async). Every command is one of the
 * Lua scripts of scripts.h (atomic in Redis). On any disconnect both
 * connections are dropped and rebuilt with exponential backoff; while down,
 * calls fail at once so callers fall back to local delivery. The commands
 * themselves and their replies are in redis_calls.c. */
#include "cluster/redis_internal.h"

#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/scripts.h"
#include "cluster/wire.h"
#include "delivery/msgid.h"
#include "health.h"
#include "log.h"
#include "nd.h"

/* --- URL --- */

/* @n bytes at @in, percent-decoded (RFC 3986: a password may hold '@', ':',
 * '/' or '%' only as %40, %3A, %2F, %25) into @out; -1 when malformed, %00
 * or too long */
static int pct_decode(const char *in, size_t n, char *out, size_t outlen)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)in[i];
        if (ch == '%') {
            const char *hi = i + 2 < n ? strchr(digits, tolower((unsigned char)in[i + 1])) : NULL;
            const char *lo = hi ? strchr(digits, tolower((unsigned char)in[i + 2])) : NULL;
            if (!hi || !lo || !*hi || !*lo)
                return -1;
            ch = (int)((hi - digits) << 4 | (lo - digits));
            if (!ch)
                return -1;
            i += 2;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = (char)ch;
    }
    out[o] = 0;
    return 0;
}

/* redis://[[user]:password@]host[:port][/db]; user and password percent-encoded.
 * Messages never show what comes before '@' */
static int parse_url(struct cluster *c, const char *url, char *err, size_t errlen)
{
    const char *p = url;
    if (strncasecmp(p, "redis://", 8)) {
        snprintf(err, errlen,
                 "NOTIFYD_REDIS_URL must start with redis:// (TLS Redis (rediss://) "
                 "is not supported by Debian 12's hiredis: use a TLS tunnel)");
        return -EINVAL;
    }
    p += 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : 0;
        size_t plen = colon ? (size_t)(at - colon - 1) : (size_t)(at - p);
        const char *pw = colon ? colon + 1 : p;
        if (pct_decode(p, ulen, c->user, sizeof c->user) < 0 ||
            pct_decode(pw, plen, c->password, sizeof c->password) < 0) {
            snprintf(err, errlen,
                     "NOTIFYD_REDIS_URL: the user or password is too long or badly "
                     "percent-encoded (write @ : / %% as %%40 %%3A %%2F %%25)");
            return -EINVAL;
        }
        p = at + 1;
        url = p; /* from here on, messages show the host part only */
    }
    size_t hlen = strcspn(p, ":/");
    if (hlen == 0 || hlen >= sizeof c->host) {
        snprintf(err, errlen, "NOTIFYD_REDIS_URL: no host in \"%s\"", url);
        return -EINVAL;
    }
    memcpy(c->host, p, hlen);
    c->host[hlen] = 0;
    p += hlen;
    c->port = 6379;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            snprintf(err, errlen, "NOTIFYD_REDIS_URL: bad port in \"%s\"", url);
            return -EINVAL;
        }
        c->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        long db = strtol(p + 1, &end, 10);
        if (*end || db < 0 || db > 1000) {
            snprintf(err, errlen, "NOTIFYD_REDIS_URL: bad database number in \"%s\"", url);
            return -EINVAL;
        }
        c->db = (int)db;
    } else if (*p && strcmp(p, "/")) {
        snprintf(err, errlen, "NOTIFYD_REDIS_URL: cannot read \"%s\"", url);
        return -EINVAL;
    }
    return 0;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* the script behind @k is not in Redis (SCRIPT FLUSH, a failover): send it whole, once */
static int resend_as_eval(redisAsyncContext *ac, struct cmd *k)
{
    char *verb = strdup("EVAL"), *text = strdup(k->script);
    if (!verb || !text) {
        free(verb);
        free(text);
        return -1;
    }
    free(k->argv[0]);
    free(k->argv[1]);
    k->argv[0] = verb;
    k->argvlen[0] = 4;
    k->argv[1] = text;
    k->argvlen[1] = strlen(text);
    k->evaled = 1;
    return redisAsyncCommandArgv(ac, on_reply, k, k->argc, (const char **)k->argv, k->argvlen) ==
                   REDIS_OK
               ? 0
               : -1;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cmd *k = privdata;
    const redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8) && !k->evaled &&
        k->script) {
        if (resend_as_eval(ac, k) == 0)
            return;
        cluster__fail(k, -ENOTCONN);
        return;
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) {
            atomic_fetch_add(&k->c->errors, 1);
            nd_log(ND_LOG_ERROR, "redis command failed", "{s:i, s:s}", "kind", (int)k->kind,
                   "error", r->str);
        }
        cluster__fail(k, r ? -EIO : -ENOTCONN);
        return;
    }
    cluster__reply(k, r);
}

/* nd-redis: once both connections answer, the instance is ready again. The hook runs
 * before the log line, so whoever reads "redis connected" already sees /readyz at 200. */
static void both_ready(struct cluster *c)
{
    if (!c->cmd_ready || !c->sub_ready || atomic_exchange(&c->up, 1))
        return;
    c->backoff = BACKOFF_MIN_S;
    if (c->hooks.state)
        c->hooks.state(c->hooks.arg, 1);
    c->tpl_loads = 0;
    cluster__load_templates(c);
    nd_log(ND_LOG_INFO, "redis connected", "{s:s, s:i}", "host", c->host, "port", c->port);
}

/* --- the subscription --- */

/* a message of the channel (wire.h) -> a delivery for this instance's connections */
static void on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cluster *c = ac->data;
    const redisReply *r = reply;
    (void)privdata;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (!strcmp(r->element[0]->str, "subscribe")) {
        c->sub_ready = 1;
        both_ready(c);
        return;
    }
    if (strcmp(r->element[0]->str, "message") || r->element[2]->type != REDIS_REPLY_STRING)
        return;
    const char *p = r->element[2]->str, *nl = memchr(p, '\n', r->element[2]->len);
    if (r->element[1]->type == REDIS_REPLY_STRING && !strcmp(r->element[1]->str, TPL_CHANNEL)) {
        cluster__template_changed(c, p, nl, r->element[2]->len);
        return;
    }
    struct wire_msg m;
    if (wire_decode(p, r->element[2]->len, &m) < 0) {
        nd_log(ND_LOG_WARN, "redis: unreadable message on the channel", NULL);
        return;
    }
    struct delivery *d = delivery_new(m.len);
    if (!d)
        return;
    memcpy(delivery_json(d), m.json, m.len);
    d->id = m.id;
    d->coalesce_key = m.coalesce_key;
    d->priority = (uint8_t)m.priority;
    /* the latency runs from the sender's accept; a v1 sender does not say: from now */
    d->accepted_us = nd_mono_us() - wire_age_us(m.accepted_us, nd_wall_us());
    memcpy(d->user_id, m.user_id, sizeof d->user_id);
    atomic_fetch_add(&c->received, 1);
    c->hooks.message(c->hooks.arg, d, m.op);
}

/* --- connections (nd-redis) --- */

static void connect_both(struct cluster *c);

static void drop(struct cluster *c, const char *why)
{
    int was_up = atomic_exchange(&c->up, 0);
    c->cmd_ready = c->sub_ready = 0;
    redisAsyncContext *a = c->cmd_ctx, *b = c->sub_ctx;
    c->cmd_ctx = c->sub_ctx = NULL;
    if (a)
        redisAsyncDisconnect(a); /* pending callbacks run with no reply: they fail */
    if (b)
        redisAsyncDisconnect(b);
    if (was_up) { /* state first, then the log line (see both_ready) */
        if (c->hooks.state)
            c->hooks.state(c->hooks.arg, 0);
        nd_log(ND_LOG_ERROR, "redis connection lost: local delivery only until it is back", "{s:s}",
               "why", why);
    }
    if (atomic_load(&c->stopping) || ev_is_active(&c->retry))
        return; /* stopping, or a reconnect is already planned */
    atomic_fetch_add(&c->reconnects, 1);
    ev_timer_set(&c->retry, c->backoff, 0);
    ev_timer_start(c->loop, &c->retry);
    c->backoff = c->backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : c->backoff * 2;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct cluster *c = ac->data;
    int current = ac == c->cmd_ctx || ac == c->sub_ctx; /* not one drop() let go of already */
    if (ac == c->cmd_ctx)
        c->cmd_ctx = NULL; /* hiredis frees it */
    if (ac == c->sub_ctx)
        c->sub_ctx = NULL;
    if (current)
        drop(c, status == REDIS_OK ? "closed" : ac->errstr[0] ? ac->errstr : "error");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct cluster *c = ac->data;
    if (status != REDIS_OK) {
        int current = ac == c->cmd_ctx || ac == c->sub_ctx;
        if (ac == c->cmd_ctx)
            c->cmd_ctx = NULL; /* freed by hiredis after this callback */
        if (ac == c->sub_ctx)
            c->sub_ctx = NULL;
        if (!current)
            return;
        if (atomic_load(&c->reconnects) < 2 || atomic_load(&c->reconnects) % 20 == 0)
            nd_log(ND_LOG_WARN, "cannot reach redis, retrying", "{s:s, s:i, s:s}", "host", c->host,
                   "port", c->port, "error", ac->errstr);
        drop(c, ac->errstr);
        return;
    }
}

static void on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cluster *c = ac->data;
    const redisReply *r = reply;
    (void)privdata;
    if (r && r->type == REDIS_REPLY_ERROR) {
        nd_log(ND_LOG_ERROR, "redis refused the credentials or database of NOTIFYD_REDIS_URL",
               "{s:s}", "error", r->str);
        drop(c, r->str);
    }
}

static void on_ready(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cluster *c = ac->data;
    const redisReply *r = reply;
    (void)privdata;
    if (!r || r->type == REDIS_REPLY_ERROR)
        return;
    c->cmd_ready = 1;
    both_ready(c);
}

static void heartbeat_now(struct cluster *c);

/* SCRIPT LOAD refused (an ACL without SCRIPT, say): every call then falls back to EVAL */
static void on_script_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
    const redisReply *r = reply;
    (void)ac;
    (void)privdata;
    if (r && r->type == REDIS_REPLY_ERROR)
        nd_log(ND_LOG_WARN, "redis refused SCRIPT LOAD: scripts are sent whole after a NOSCRIPT",
               "{s:s}", "error", r->str);
}

static redisAsyncContext *open_one(struct cluster *c)
{
    redisAsyncContext *ac = redisAsyncConnect(c->host, c->port);
    if (!ac)
        return NULL;
    if (ac->err) {
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = c;
    redisLibevAttach(c->loop, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (c->password[0]) {
        if (c->user[0])
            redisAsyncCommand(ac, on_auth, NULL, "AUTH %s %s", c->user, c->password);
        else
            redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", c->password);
    }
    return ac;
}

static void connect_both(struct cluster *c)
{
    c->cmd_ctx = open_one(c);
    c->sub_ctx = c->cmd_ctx ? open_one(c) : NULL;
    if (!c->cmd_ctx || !c->sub_ctx) {
        drop(c, "cannot create a connection");
        return;
    }
    redisAsyncCommand(c->cmd_ctx, on_auth, NULL, "SELECT %d", c->db);
    for (size_t i = 0; i < cluster__script_count(); i++) /* before the first EVALSHA */
        redisAsyncCommand(c->cmd_ctx, on_script_loaded, NULL, "SCRIPT LOAD %s", cluster__script(i));
    heartbeat_now(c); /* before anyone can see us without one */
    redisAsyncCommand(c->cmd_ctx, on_ready, NULL, "PING");
    redisAsyncCommand(c->sub_ctx, on_message, NULL, "SUBSCRIBE notifyd:messages " TPL_CHANNEL);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct cluster *c = w->data;
    (void)loop;
    (void)revents;
    if (!atomic_load(&c->stopping))
        connect_both(c);
}

/* --- timers and the queue (nd-redis) --- */

static void issue(struct cluster *c, struct cmd *k)
{
    if (!c->cmd_ctx || !c->cmd_ready ||
        redisAsyncCommandArgv(c->cmd_ctx, on_reply, k, k->argc, (const char **)k->argv,
                              k->argvlen) != REDIS_OK)
        cluster__fail(k, -ENOTCONN);
}

static void heartbeat_now(struct cluster *c)
{
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ALIVE_TTL_MS);
    const char *args[2] = {c->instance, ttl};
    struct cmd *k = cluster__cmd_new(c, CMD_HEARTBEAT, SCRIPT_HEARTBEAT, 2, args, NULL);
    if (k && c->cmd_ctx &&
        redisAsyncCommandArgv(c->cmd_ctx, on_reply, k, k->argc, (const char **)k->argv,
                              k->argvlen) == REDIS_OK)
        return;
    if (k)
        cluster__cmd_free(k);
}

static void on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct cluster *c = w->data;
    (void)loop;
    (void)revents;
    health_beat(HEALTH_T_REDIS);
    if (atomic_load(&c->up))
        heartbeat_now(c);
}

static void on_janitor(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct cluster *c = w->data;
    (void)loop;
    (void)revents;
    if (atomic_load(&c->up))
        issue(c, cluster__cmd_new(c, CMD_JANITOR, SCRIPT_JANITOR, 0, NULL, NULL));
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    struct cluster *c = w->data;
    (void)revents;
    pthread_mutex_lock(&c->lock);
    struct cmd *k = c->head;
    c->head = NULL;
    c->tail = &c->head;
    pthread_mutex_unlock(&c->lock);
    while (k) {
        struct cmd *next = k->next;
        issue(c, k);
        k = next;
    }
    if (atomic_load(&c->stopping)) {
        if (c->cmd_ctx && c->cmd_ready) { /* leave: our presence goes now, not at expiry */
            const char *args[1] = {c->instance};
            issue(c, cluster__cmd_new(c, CMD_JANITOR, SCRIPT_LEAVE, 1, args, NULL));
        }
        ev_timer_stop(loop, &c->heartbeat);
        ev_timer_stop(loop, &c->janitor);
        ev_timer_stop(loop, &c->retry);
        if (c->cmd_ctx)
            redisAsyncDisconnect(c->cmd_ctx);
        if (c->sub_ctx)
            redisAsyncDisconnect(c->sub_ctx);
        ev_async_stop(loop, &c->wake);
    }
}

static void *run(void *arg)
{
    struct cluster *c = arg;
    pthread_setname_np(pthread_self(), "nd-redis");
    health_beat(HEALTH_T_REDIS);
    connect_both(c);
    ev_run(c->loop, 0); /* ends when nothing is left to watch: after stop */
    health_unwatch(HEALTH_T_REDIS);
    return NULL;
}

struct cluster *cluster_new(const struct nd_config *cfg, const struct cluster_hooks *hooks,
                            char *err, size_t errlen)
{
    struct cluster *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cluster__scripts_init();
    c->cfg = cfg;
    c->hooks = *hooks;
    c->backoff = BACKOFF_MIN_S;
    c->tail = &c->head;
    pthread_mutex_init(&c->lock, NULL);
    if (parse_url(c, cfg->redis_url, err, errlen) < 0)
        goto fail;
    c->loop = ev_loop_new(EVFLAG_AUTO);
    if (!c->loop) {
        snprintf(err, errlen, "cannot make the redis event loop");
        goto fail;
    }
    ev_async_init(&c->wake, on_wake);
    c->wake.data = c;
    ev_async_start(c->loop, &c->wake);
    ev_timer_init(&c->heartbeat, on_heartbeat, HEARTBEAT_S, HEARTBEAT_S);
    ev_timer_init(&c->janitor, on_janitor, JANITOR_S, JANITOR_S);
    ev_timer_init(&c->retry, on_retry, BACKOFF_MIN_S, 0);
    c->heartbeat.data = c->janitor.data = c->retry.data = c;
    ev_timer_start(c->loop, &c->heartbeat);
    ev_timer_start(c->loop, &c->janitor);
    return c;
fail:
    if (c->loop)
        ev_loop_destroy(c->loop);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return NULL;
}

int cluster_connect(struct cluster *c, const char *instance)
{
    snprintf(c->instance, sizeof c->instance, "%s", instance);
    if (pthread_create(&c->thread, NULL, run, c))
        return -EAGAIN;
    c->started = 1;
    return 0;
}

void cluster_stop(struct cluster *c)
{
    atomic_store(&c->stopping, 1); /* calls fail at once from here on */
    if (!c->started)
        return;
    c->started = 0;
    ev_async_send(c->loop, &c->wake);
    pthread_join(c->thread, NULL);
    pthread_mutex_lock(&c->lock); /* anything queued after the last wake-up */
    struct cmd *k = c->head;
    c->head = NULL;
    pthread_mutex_unlock(&c->lock);
    while (k) {
        struct cmd *next = k->next;
        cluster__fail(k, -ESHUTDOWN);
        k = next;
    }
}

void cluster_free(struct cluster *c)
{
    if (!c)
        return;
    ev_loop_destroy(c->loop);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int cluster_up(const struct cluster *c)
{
    return c && atomic_load(&c->up);
}

void cluster_metrics(struct cluster *c, FILE *f)
{
    fprintf(f,
            "# HELP notifyd_redis_up 1 while connected to NOTIFYD_REDIS_URL.\n"
            "# TYPE notifyd_redis_up gauge\nnotifyd_redis_up %d\n"
            "# HELP notifyd_redis_reconnects_total Connection attempts after a loss.\n"
            "# TYPE notifyd_redis_reconnects_total counter\nnotifyd_redis_reconnects_total %llu\n"
            "# HELP notifyd_redis_errors_total Commands Redis answered with an error.\n"
            "# TYPE notifyd_redis_errors_total counter\nnotifyd_redis_errors_total %llu\n"
            "# HELP notifyd_redis_messages_received_total Messages from the channel.\n"
            "# TYPE notifyd_redis_messages_received_total counter\n"
            "notifyd_redis_messages_received_total %llu\n",
            atomic_load(&c->up), (unsigned long long)atomic_load(&c->reconnects),
            (unsigned long long)atomic_load(&c->errors),
            (unsigned long long)atomic_load(&c->received));
}
