/* cluster/redis: the nd-redis thread. A libev loop owns two hiredis async
 * connections -- commands, and the subscription to notifyd:messages -- and a
 * queue other threads fill (mutex + ev_async). Every command is one of the
 * Lua scripts of scripts.h (atomic in Redis). On any disconnect both
 * connections are dropped and rebuilt with exponential backoff; while down,
 * calls fail at once so callers fall back to local delivery. */
#include "cluster/cluster.h"

#include <errno.h>
#include <ev.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/scripts.h"
#include "delivery/msgid.h"
#include "log.h"
#include "notify/ops.h"

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
    CMD_TEMPLATES_LOAD
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

/* --- URL --- */

/* redis://[[user]:password@]host[:port][/db] */
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
        if (ulen >= sizeof c->user || plen >= sizeof c->password) {
            snprintf(err, errlen, "NOTIFYD_REDIS_URL: user or password too long");
            return -EINVAL;
        }
        memcpy(c->user, p, ulen);
        c->user[ulen] = 0;
        memcpy(c->password, pw, plen);
        c->password[plen] = 0;
        p = at + 1;
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

/* --- the scripts: sent by SHA1 (EVALSHA), loaded at every connect --- */

static struct script_sha {
    const char *text;
    char sha[2 * SHA_DIGEST_LENGTH + 1];
} scripts[] = {
    {SCRIPT_PUBLISH, ""},   {SCRIPT_PRESENCE, ""},       {SCRIPT_RESET, ""},
    {SCRIPT_HEARTBEAT, ""}, {SCRIPT_JANITOR, ""},        {SCRIPT_LEAVE, ""},
    {SCRIPT_STATS, ""},     {SCRIPT_ONLINE, ""},         {SCRIPT_RESUME, ""},
    {SCRIPT_TEMPLATE, ""},  {SCRIPT_TEMPLATES_LOAD, ""},
};
#define N_SCRIPTS (sizeof scripts / sizeof scripts[0])
static pthread_once_t scripts_once = PTHREAD_ONCE_INIT;

static void hash_scripts(void)
{
    for (size_t i = 0; i < N_SCRIPTS; i++) {
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)scripts[i].text, strlen(scripts[i].text), md);
        for (int b = 0; b < SHA_DIGEST_LENGTH; b++)
            snprintf(scripts[i].sha + 2 * b, 3, "%02x", md[b]);
    }
}

static const char *sha_of(const char *script)
{
    for (size_t i = 0; i < N_SCRIPTS; i++)
        if (scripts[i].text == script)
            return scripts[i].sha;
    return NULL;
}

/* --- commands from any thread --- */

static void cmd_free(struct cmd *k)
{
    for (int i = 0; i < k->argc; i++)
        free(k->argv[i]);
    free(k->argv);
    free(k->argvlen);
    free(k);
}

/* a command running @script with @n arguments (copied), numkeys 0 */
static struct cmd *cmd_new(struct cluster *c, enum cmd_kind kind, const char *script, int n,
                           const char *const *args, const size_t *lens)
{
    struct cmd *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->c = c;
    k->kind = kind;
    k->script = script;
    k->argc = n + 3;
    k->argv = calloc((size_t)k->argc, sizeof *k->argv);
    k->argvlen = calloc((size_t)k->argc, sizeof *k->argvlen);
    if (!k->argv || !k->argvlen)
        goto fail;
    const char *sha = sha_of(script);
    const char *fixed[3] = {sha ? "EVALSHA" : "EVAL", sha ? sha : script, "0"};
    for (int i = 0; i < k->argc; i++) {
        const char *s = i < 3 ? fixed[i] : args[i - 3];
        size_t len = i < 3 ? strlen(s) : lens ? lens[i - 3] : strlen(s);
        if (!(k->argv[i] = malloc(len + 1)))
            goto fail;
        memcpy(k->argv[i], s, len);
        k->argv[i][len] = 0;
        k->argvlen[i] = len;
    }
    return k;
fail:
    k->argc = k->argv ? k->argc : 0;
    cmd_free(k);
    return NULL;
}

static void fail_cmd(struct cmd *k, int err);

static int submit(struct cluster *c, struct cmd *k, void *fn, void *arg)
{
    if (!k)
        return -ENOMEM;
    k->fn = fn;
    k->arg = arg;
    if (!atomic_load(&c->up) || atomic_load(&c->stopping)) {
        cmd_free(k);
        return -ENOTCONN;
    }
    k->next = NULL;
    pthread_mutex_lock(&c->lock);
    *c->tail = k;
    c->tail = &k->next;
    pthread_mutex_unlock(&c->lock);
    ev_async_send(c->loop, &c->wake);
    return 0;
}

/* --- replies (nd-redis) --- */

static int64_t reply_int(const redisReply *r)
{
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

/* "ms-seq" -> our 64-bit id */
static uint64_t stream_id(const char *s)
{
    char *dash;
    unsigned long long ms = strtoull(s, &dash, 10);
    unsigned long long seq = *dash == '-' ? strtoull(dash + 1, NULL, 10) : 0;
    return (uint64_t)ms << 16 | (seq & 0xffff);
}

/* a delivery from an XRANGE entry [id, [m, json]] */
static struct delivery *entry_delivery(const redisReply *e, const char *user, int stored)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[1]->type != REDIS_REPLY_ARRAY || e->element[1]->elements < 2)
        return NULL;
    const redisReply *json = e->element[1]->element[1];
    struct delivery *d = delivery_new(json->len);
    if (!d)
        return NULL;
    memcpy(delivery_json(d), json->str, json->len);
    d->id = stream_id(e->element[0]->str);
    d->stored = stored;
    snprintf(d->user_id, sizeof d->user_id, "%s", user);
    return d;
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = (*(struct delivery *const *)a)->id, y = (*(struct delivery *const *)b)->id;
    return x < y ? -1 : x > y;
}

static void resume_reply(struct cmd *k, const redisReply *r)
{
    struct cluster_resume res = {NULL, 0, 0, 0};
    const char *user = k->argv[3];
    size_t max = 0;
    for (int part = 1; part <= 3; part++)
        max += r->element[part]->type == REDIS_REPLY_ARRAY ? r->element[part]->elements : 0;
    res.msgs = calloc(max + 1, sizeof *res.msgs);
    res.complete = (int)reply_int(r->element[0]);
    if (r->element[4]->type == REDIS_REPLY_STRING)
        res.clock = stream_id(r->element[4]->str);
    for (int part = 1; part <= 3 && res.msgs; part++) {
        const redisReply *list = r->element[part];
        for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; i++) {
            struct delivery *d = entry_delivery(list->element[i], part == 3 ? "" : user, part == 1);
            if (d)
                res.msgs[res.n++] = d;
        }
    }
    /* by id; a message both stored and in history once (the stored copy, listed first, wins) */
    if (res.n)
        qsort(res.msgs, res.n, sizeof *res.msgs, by_id);
    size_t w = 0;
    for (size_t i = 0; i < res.n; i++) {
        if (w && res.msgs[w - 1]->id == res.msgs[i]->id) {
            if (res.msgs[i]->stored) {
                delivery_unref(res.msgs[w - 1]);
                res.msgs[w - 1] = res.msgs[i];
            } else {
                delivery_unref(res.msgs[i]);
            }
            continue;
        }
        res.msgs[w++] = res.msgs[i];
    }
    res.n = w;
    ((cluster_resume_fn)k->fn)(k->arg, res.msgs ? 0 : -ENOMEM, &res);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void load_templates(struct cluster *c);

/* {version, [id, json, ...]}: the whole table, as of that change */
static void templates_loaded(struct cluster *c, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        nd_log(ND_LOG_ERROR, "redis: unreadable answer loading the templates", NULL);
        return;
    }
    uint64_t v = (uint64_t)reply_int(r->element[0]);
    const redisReply *all = r->element[1];
    size_t n = all->elements / 2;
    const char **ids = calloc(n + 1, sizeof *ids), **jsons = calloc(n + 1, sizeof *jsons);
    size_t *lens = calloc(n + 1, sizeof *lens);
    for (size_t i = 0; ids && jsons && lens && i < n; i++) {
        ids[i] = all->element[2 * i]->str;
        jsons[i] = all->element[2 * i + 1]->str;
        lens[i] = all->element[2 * i + 1]->len;
    }
    if (ids && jsons && lens && c->hooks.templates)
        c->hooks.templates(c->hooks.templates_arg, v, ids, jsons, lens, n);
    free(ids);
    free(jsons);
    free(lens);
    /* a change published between the subscription and this read is in the
     * table only if it is not newer than @v: read again to be sure */
    if (c->tpl_seen > v && c->tpl_loads++ < 5)
        load_templates(c);
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
        fail_cmd(k, -ENOTCONN);
        return;
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) {
            atomic_fetch_add(&k->c->errors, 1);
            nd_log(ND_LOG_ERROR, "redis command failed", "{s:i, s:s}", "kind", (int)k->kind,
                   "error", r->str);
        }
        fail_cmd(k, r ? -EIO : -ENOTCONN);
        return;
    }
    switch (k->kind) {
    case CMD_PUBLISH: {
        struct cluster_published p = {0, 0, 0};
        uint64_t id = 0;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            msgid_parse(r->element[0]->str, &id) == 0) {
            p.id = id;
            p.stored = (int)reply_int(r->element[1]);
            p.connections = (int)reply_int(r->element[2]);
            ((cluster_published_fn)k->fn)(k->arg, 0, &p);
        } else {
            ((cluster_published_fn)k->fn)(k->arg, -EIO, NULL);
        }
        break;
    }
    case CMD_STATS: {
        struct cluster_stats s = {0, NULL, 0};
        const redisReply *users =
            r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1] : NULL;
        s.total_connections = r->type == REDIS_REPLY_ARRAY ? reply_int(r->element[0]) : 0;
        if (users && users->elements)
            s.users = malloc(users->elements * sizeof *s.users);
        for (size_t i = 0; s.users && i < users->elements; i++)
            s.users[s.n_users++] = users->element[i]->str;
        if (s.n_users)
            qsort(s.users, s.n_users, sizeof *s.users, by_str);
        ((cluster_stats_fn)k->fn)(k->arg, 0, &s);
        free(s.users);
        break;
    }
    case CMD_ONLINE: ((cluster_online_fn)k->fn)(k->arg, 0, (int)reply_int(r)); break;
    case CMD_TEMPLATE: ((cluster_template_done_fn)k->fn)(k->arg, 0, (uint64_t)reply_int(r)); break;
    case CMD_TEMPLATES_LOAD: templates_loaded(k->c, r); break;
    case CMD_RESUME:
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 5)
            resume_reply(k, r);
        else
            ((cluster_resume_fn)k->fn)(k->arg, -EIO, NULL);
        break;
    default: break; /* fire and forget */
    }
    cmd_free(k);
}

static void fail_cmd(struct cmd *k, int err)
{
    if (k->fn) {
        switch (k->kind) {
        case CMD_PUBLISH: ((cluster_published_fn)k->fn)(k->arg, err, NULL); break;
        case CMD_STATS: ((cluster_stats_fn)k->fn)(k->arg, err, NULL); break;
        case CMD_ONLINE: ((cluster_online_fn)k->fn)(k->arg, err, 0); break;
        case CMD_RESUME: ((cluster_resume_fn)k->fn)(k->arg, err, NULL); break;
        case CMD_TEMPLATE: ((cluster_template_done_fn)k->fn)(k->arg, err, 0); break;
        default: break;
        }
    }
    cmd_free(k);
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
    load_templates(c);
    nd_log(ND_LOG_INFO, "redis connected", "{s:s, s:i}", "host", c->host, "port", c->port);
}

/* --- the subscription --- */

#define TPL_CHANNEL "notifyd:tpl"

/* "version id\njson" (no json: deleted) -> the template table */
static void template_changed(struct cluster *c, const char *p, const char *nl, size_t len)
{
    unsigned long long v = 0;
    char id[72];
    if (!nl || sscanf(p, "%llu %71s", &v, id) != 2) {
        nd_log(ND_LOG_WARN, "redis: unreadable template change on the channel", NULL);
        return;
    }
    size_t jlen = len - (size_t)(nl + 1 - p);
    if (v > c->tpl_seen)
        c->tpl_seen = v;
    if (c->hooks.template_change)
        c->hooks.template_change(c->hooks.templates_arg, v, id, jlen ? nl + 1 : NULL, jlen);
}

/* "hex op priority coalesce user\njson" -> a delivery for this instance's connections */
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
        template_changed(c, p, nl, r->element[2]->len);
        return;
    }
    char hex[24], user[ND_USER_ID_MAX + 1];
    int op = 0, prio = 0;
    unsigned long long key = 0;
    uint64_t id;
    if (!nl || sscanf(p, "%17s %d %d %llx %128s", hex, &op, &prio, &key, user) != 5 ||
        msgid_parse(hex, &id) < 0) {
        nd_log(ND_LOG_WARN, "redis: unreadable message on the channel", NULL);
        return;
    }
    size_t len = r->element[2]->len - (size_t)(nl + 1 - p);
    struct delivery *d = delivery_new(len);
    if (!d)
        return;
    memcpy(delivery_json(d), nl + 1, len);
    d->id = id;
    d->coalesce_key = key;
    d->priority = (uint8_t)(prio >= 0 && prio <= PRIORITY_URGENT ? prio : 0);
    d->op = op >= 0 && op < OP__COUNT ? ops_get((enum op_id)op) : NULL;
    snprintf(d->user_id, sizeof d->user_id, "%s", strcmp(user, "*") ? user : "");
    atomic_fetch_add(&c->received, 1);
    c->hooks.message(c->hooks.arg, d);
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
    for (size_t i = 0; i < N_SCRIPTS; i++) /* before the first EVALSHA */
        redisAsyncCommand(c->cmd_ctx, on_script_loaded, NULL, "SCRIPT LOAD %s", scripts[i].text);
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
        fail_cmd(k, -ENOTCONN);
}

static void heartbeat_now(struct cluster *c)
{
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ALIVE_TTL_MS);
    const char *args[2] = {c->instance, ttl};
    struct cmd *k = cmd_new(c, CMD_HEARTBEAT, SCRIPT_HEARTBEAT, 2, args, NULL);
    if (k && c->cmd_ctx &&
        redisAsyncCommandArgv(c->cmd_ctx, on_reply, k, k->argc, (const char **)k->argv,
                              k->argvlen) == REDIS_OK)
        return;
    if (k)
        cmd_free(k);
}

static void on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct cluster *c = w->data;
    (void)loop;
    (void)revents;
    if (atomic_load(&c->up))
        heartbeat_now(c);
}

static void on_janitor(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct cluster *c = w->data;
    (void)loop;
    (void)revents;
    if (atomic_load(&c->up))
        issue(c, cmd_new(c, CMD_JANITOR, SCRIPT_JANITOR, 0, NULL, NULL));
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
            issue(c, cmd_new(c, CMD_JANITOR, SCRIPT_LEAVE, 1, args, NULL));
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
    connect_both(c);
    ev_run(c->loop, 0); /* ends when nothing is left to watch: after stop */
    return NULL;
}

struct cluster *cluster_start(const struct nd_config *cfg, const char *instance,
                              const struct cluster_hooks *hooks, char *err, size_t errlen)
{
    struct cluster *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_once(&scripts_once, hash_scripts);
    c->cfg = cfg;
    c->hooks = *hooks;
    snprintf(c->instance, sizeof c->instance, "%s", instance);
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

int cluster_connect(struct cluster *c)
{
    if (pthread_create(&c->thread, NULL, run, c))
        return -EAGAIN;
    c->started = 1;
    return 0;
}

void cluster_stop(struct cluster *c)
{
    if (!c)
        return;
    if (!c->started) {
        ev_loop_destroy(c->loop);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return;
    }
    atomic_store(&c->stopping, 1);
    ev_async_send(c->loop, &c->wake);
    pthread_join(c->thread, NULL);
    pthread_mutex_lock(&c->lock); /* anything queued after the last wake-up */
    struct cmd *k = c->head;
    c->head = NULL;
    pthread_mutex_unlock(&c->lock);
    while (k) {
        struct cmd *next = k->next;
        fail_cmd(k, -ESHUTDOWN);
        k = next;
    }
    ev_loop_destroy(c->loop);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int cluster_up(const struct cluster *c)
{
    return c && atomic_load(&c->up);
}

/* --- the API --- */

int cluster_publish(struct cluster *c, const struct delivery *d, int op_id, int important,
                    cluster_published_fn fn, void *arg)
{
    char hmax[24], httl[24], omax[24], ottl[24], op[16], key[24];
    const struct nd_config *cfg = c->cfg;
    snprintf(hmax, sizeof hmax, "%lld", (long long)cfg->history_size);
    snprintf(httl, sizeof httl, "%lld", (long long)cfg->history_ttl_s * 1000);
    snprintf(omax, sizeof omax, "%lld", (long long)cfg->offline_max_per_user);
    snprintf(ottl, sizeof ottl, "%lld", (long long)cfg->offline_ttl_s * 1000);
    snprintf(op, sizeof op, "%d %d", op_id, (int)d->priority); /* one field of the header */
    snprintf(key, sizeof key, "%llx", (unsigned long long)d->coalesce_key);
    const char *args[9] = {d->user_id,
                           (const char *)d->buf + LWS_PRE,
                           important ? "1" : "0",
                           hmax,
                           httl,
                           omax,
                           ottl,
                           op,
                           key};
    size_t lens[9] = {strlen(d->user_id), d->len,       1,          strlen(hmax), strlen(httl),
                      strlen(omax),       strlen(ottl), strlen(op), strlen(key)};
    if (!d->id_off)
        return -EINVAL;
    return submit(c, cmd_new(c, CMD_PUBLISH, SCRIPT_PUBLISH, 9, args, lens), (void *)fn, arg);
}

int cluster_template(struct cluster *c, const char *id, const char *json,
                     cluster_template_done_fn fn, void *arg)
{
    const char *args[2] = {id, json ? json : ""};
    return submit(c, cmd_new(c, CMD_TEMPLATE, SCRIPT_TEMPLATE, 2, args, NULL), (void *)fn, arg);
}

static void load_templates(struct cluster *c)
{
    submit(c, cmd_new(c, CMD_TEMPLATES_LOAD, SCRIPT_TEMPLATES_LOAD, 0, NULL, NULL), NULL, NULL);
}

int cluster_presence(struct cluster *c, const char *user, int delta, int nonack)
{
    char dl[8];
    snprintf(dl, sizeof dl, "%d", delta);
    const char *args[4] = {user, c->instance, dl, nonack ? "1" : "0"};
    return submit(c, cmd_new(c, CMD_PRESENCE, SCRIPT_PRESENCE, 4, args, NULL), NULL, NULL);
}

int cluster_presence_reset(struct cluster *c, const char **users, const int *conns,
                           const int *nonack, size_t n)
{
    const char **args = calloc(1 + 3 * n, sizeof *args);
    char(*nums)[12] = calloc(2 * n + 1, sizeof *nums);
    int rc = -ENOMEM;
    if (args && nums) {
        args[0] = c->instance;
        for (size_t i = 0; i < n; i++) {
            snprintf(nums[2 * i], 12, "%d", conns[i]);
            snprintf(nums[2 * i + 1], 12, "%d", nonack[i]);
            args[1 + 3 * i] = users[i];
            args[2 + 3 * i] = nums[2 * i];
            args[3 + 3 * i] = nums[2 * i + 1];
        }
        rc = submit(c, cmd_new(c, CMD_RESET, SCRIPT_RESET, (int)(1 + 3 * n), args, NULL), NULL,
                    NULL);
    }
    free(args);
    free(nums);
    return rc;
}

int cluster_stats(struct cluster *c, cluster_stats_fn fn, void *arg)
{
    return submit(c, cmd_new(c, CMD_STATS, SCRIPT_STATS, 0, NULL, NULL), (void *)fn, arg);
}

int cluster_online(struct cluster *c, const char *user, cluster_online_fn fn, void *arg)
{
    const char *args[1] = {user};
    return submit(c, cmd_new(c, CMD_ONLINE, SCRIPT_ONLINE, 1, args, NULL), (void *)fn, arg);
}

int cluster_resume(struct cluster *c, const char *user, int has_since, uint64_t since,
                   cluster_resume_fn fn, void *arg)
{
    char sid[48], httl[24], ottl[24];
    snprintf(sid, sizeof sid, "%llu-%llu", (unsigned long long)(since >> 16),
             (unsigned long long)(since & 0xffff));
    snprintf(httl, sizeof httl, "%lld", (long long)c->cfg->history_ttl_s * 1000);
    snprintf(ottl, sizeof ottl, "%lld", (long long)c->cfg->offline_ttl_s * 1000);
    const char *args[6] = {user, has_since ? "1" : "0", sid, c->cfg->history_size ? "1" : "0", httl,
                           ottl};
    return submit(c, cmd_new(c, CMD_RESUME, SCRIPT_RESUME, 6, args, NULL), (void *)fn, arg);
}

int cluster_forget(struct cluster *c, const char *user, uint64_t id)
{
    static const char script[] = "return redis.call('XDEL','notifyd:o:'..ARGV[1],ARGV[2])\n";
    char sid[48];
    snprintf(sid, sizeof sid, "%llu-%llu", (unsigned long long)(id >> 16),
             (unsigned long long)(id & 0xffff));
    const char *args[2] = {user, sid};
    return submit(c, cmd_new(c, CMD_FORGET, script, 2, args, NULL), NULL, NULL);
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
