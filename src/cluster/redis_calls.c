/* cluster/redis_calls: the commands of cluster.h -- each one Lua script of
 * scripts.h, sent by SHA1 -- and the reading of their replies. Callers on
 * any thread build and queue; replies are read on nd-redis. */
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/redis_internal.h"
#include "cluster/scripts.h"
#include "cluster/wire.h"
#include "delivery/msgid.h"
#include "log.h"
#include "stats.h"

/* --- the scripts: sent by SHA1 (EVALSHA), loaded at every connect --- */

static struct script_sha {
    const char *text;
    char sha[2 * SHA_DIGEST_LENGTH + 1];
} scripts[] = {
    {SCRIPT_PUBLISH, ""},   {SCRIPT_PRESENCE, ""},       {SCRIPT_RESET, ""},
    {SCRIPT_HEARTBEAT, ""}, {SCRIPT_JANITOR, ""},        {SCRIPT_LEAVE, ""},
    {SCRIPT_STATS, ""},     {SCRIPT_ONLINE, ""},         {SCRIPT_RESUME, ""},
    {SCRIPT_TEMPLATE, ""},  {SCRIPT_TEMPLATES_LOAD, ""}, {SCRIPT_TELL, ""},
    {SCRIPT_BACKLOG, ""},   {SCRIPT_FEED, ""},
};
#define N_SCRIPTS (sizeof scripts / sizeof scripts[0])
static pthread_once_t scripts_once = PTHREAD_ONCE_INIT;

static void hash_scripts(void)
{
    for (size_t i = 0; i < N_SCRIPTS; i++) {
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)scripts[i].text, strlen(scripts[i].text), md);
        for (size_t b = 0; b < SHA_DIGEST_LENGTH; b++)
            snprintf(scripts[i].sha + 2 * b, 3, "%02x", md[b]);
    }
}

static const char *sha_of(const char *script)
{
    for (size_t i = 0; i < N_SCRIPTS; i++)
        if (scripts[i].text == script || !strcmp(scripts[i].text, script)) /* redis.c's copy */
            return scripts[i].sha;
    return NULL;
}

void cluster__scripts_init(void)
{
    pthread_once(&scripts_once, hash_scripts);
}

size_t cluster__script_count(void)
{
    return N_SCRIPTS;
}

const char *cluster__script(size_t i)
{
    return scripts[i].text;
}

/* --- commands from any thread --- */

void cluster__cmd_free(struct cmd *k)
{
    for (int i = 0; i < k->argc; i++)
        free(k->argv[i]);
    free(k->argv);
    free(k->argvlen);
    free(k);
}

/* a command running @script with @n arguments (copied), numkeys 0 */
struct cmd *cluster__cmd_new(struct cluster *c, enum cmd_kind kind, const char *script, int n,
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
    cluster__cmd_free(k);
    return NULL;
}

int cluster__submit(struct cluster *c, struct cmd *k, void *fn, void *arg)
{
    if (!k)
        return -ENOMEM;
    k->fn = fn;
    k->arg = arg;
    k->submitted_us = nd_mono_us();
    if (!atomic_load(&c->up) || atomic_load(&c->stopping)) {
        cluster__cmd_free(k);
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
        cluster__load_templates(c);
}

void cluster__reply(struct cmd *k, const redisReply *r)
{
    switch (k->kind) {
    case CMD_PUBLISH: {
        struct cluster_published p = {0, 0, 0};
        uint64_t id = 0;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            msgid_parse(r->element[0]->str, &id) == 0) {
            p.id = id;
            p.stored = (int)reply_int(r->element[1]);
            p.connections = (int)reply_int(r->element[2]);
            if (p.stored) /* kept in Redis: the cluster's store commit */
                histogram_observe(&nd_stats.store_commit, &histogram_commit,
                                  nd_mono_us() - k->submitted_us);
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
    case CMD_BACKLOG:
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[1]->type == REDIS_REPLY_STRING &&
            r->element[2]->type == REDIS_REPLY_STRING) {
            struct cluster_backlog b = {reply_int(r->element[0]), 0, 0};
            if (b.count) {
                b.oldest = stream_id(r->element[1]->str);
                b.newest = stream_id(r->element[2]->str);
            }
            ((cluster_backlog_fn)k->fn)(k->arg, 0, &b);
        } else {
            ((cluster_backlog_fn)k->fn)(k->arg, -EIO, NULL);
        }
        break;
    case CMD_TELL:
        if (k->fn)
            ((cluster_tell_fn)k->fn)(k->arg, r->type == REDIS_REPLY_INTEGER ? 0 : -EIO,
                                     (int)reply_int(r));
        break;
    case CMD_TEMPLATE: ((cluster_template_done_fn)k->fn)(k->arg, 0, (uint64_t)reply_int(r)); break;
    case CMD_FEED: cluster__feed_reply(k, r); break;
    case CMD_TEMPLATES_LOAD: templates_loaded(k->c, r); break;
    case CMD_RESUME:
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 5)
            resume_reply(k, r);
        else
            ((cluster_resume_fn)k->fn)(k->arg, -EIO, NULL);
        break;
    default: break; /* fire and forget */
    }
    cluster__cmd_free(k);
}

void cluster__fail(struct cmd *k, int err)
{
    if (k->fn) {
        switch (k->kind) {
        case CMD_PUBLISH: ((cluster_published_fn)k->fn)(k->arg, err, NULL); break;
        case CMD_STATS: ((cluster_stats_fn)k->fn)(k->arg, err, NULL); break;
        case CMD_ONLINE: ((cluster_online_fn)k->fn)(k->arg, err, 0); break;
        case CMD_BACKLOG: ((cluster_backlog_fn)k->fn)(k->arg, err, NULL); break;
        case CMD_TELL: ((cluster_tell_fn)k->fn)(k->arg, err, 0); break;
        case CMD_RESUME: ((cluster_resume_fn)k->fn)(k->arg, err, NULL); break;
        case CMD_TEMPLATE: ((cluster_template_done_fn)k->fn)(k->arg, err, 0); break;
        case CMD_FEED: ((cluster_feed_fn)k->fn)(k->arg, err, NULL); break;
        default: break;
        }
    }
    cluster__cmd_free(k);
}

/* "version id\njson" (no json: deleted) -> the template table */
void cluster__template_changed(struct cluster *c, const char *p, const char *nl, size_t len)
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

/* --- the API --- */

int cluster_publish(struct cluster *c, struct delivery *d, const char *op, int important,
                    int64_t ttl_ms, int feed, cluster_published_fn fn, void *arg)
{
    char hmax[24], httl[24], omax[24], ottl[24], mine[24], fmax[24], fttl[24];
    struct wire_fields w;
    const struct nd_config *cfg = c->cfg;
    /* when it was accepted, on the wall clock every instance shares */
    int64_t at = nd_wall_us() - (nd_mono_us() - d->accepted_us);
    if (!d->id_off || wire_encode(op, d->priority, d->coalesce_key, at, &w) < 0)
        return -EINVAL;
    snprintf(hmax, sizeof hmax, "%lld", (long long)cfg->history_size);
    snprintf(httl, sizeof httl, "%lld", (long long)cfg->history_ttl_s * 1000);
    snprintf(omax, sizeof omax, "%lld", (long long)cfg->offline_max_per_user);
    int64_t ottl_ms = cfg->offline_ttl_s * 1000;
    snprintf(ottl, sizeof ottl, "%lld", (long long)ottl_ms);
    snprintf(mine, sizeof mine, "%lld",
             (long long)(ttl_ms > 0 && ttl_ms < ottl_ms ? ttl_ms : ottl_ms));
    snprintf(fmax, sizeof fmax, "%lld", (long long)cfg->feed_max_per_user);
    snprintf(fttl, sizeof fttl, "%lld", (long long)cfg->feed_ttl_s * 1000);
    const char *args[13] = {d->user_id,
                            delivery_json(d),
                            important ? "1" : "0",
                            hmax,
                            httl,
                            omax,
                            ottl,
                            w.head,
                            w.tail,
                            mine,
                            feed ? "1" : "0",
                            fmax,
                            fttl};
    size_t lens[13] = {strlen(d->user_id),
                       d->len,
                       1,
                       strlen(hmax),
                       strlen(httl),
                       strlen(omax),
                       strlen(ottl),
                       strlen(w.head),
                       strlen(w.tail),
                       strlen(mine),
                       1,
                       strlen(fmax),
                       strlen(fttl)};
    return cluster__submit(c, cluster__cmd_new(c, CMD_PUBLISH, SCRIPT_PUBLISH, 13, args, lens),
                           (void *)fn, arg);
}

int cluster_tell(struct cluster *c, const char *user, const char *op, const char *payload,
                 size_t len, cluster_tell_fn fn, void *arg)
{
    struct wire_fields w;
    if (!user[0] || wire_encode(op, 0, 0, nd_wall_us(), &w) < 0)
        return -EINVAL;
    const char *args[4] = {user, payload, w.head, w.tail};
    size_t lens[4] = {strlen(user), len, strlen(w.head), strlen(w.tail)};
    return cluster__submit(c, cluster__cmd_new(c, CMD_TELL, SCRIPT_TELL, 4, args, lens), (void *)fn,
                           arg);
}

int cluster_template(struct cluster *c, const char *id, const char *json,
                     cluster_template_done_fn fn, void *arg)
{
    const char *args[2] = {id, json ? json : ""};
    return cluster__submit(c, cluster__cmd_new(c, CMD_TEMPLATE, SCRIPT_TEMPLATE, 2, args, NULL),
                           (void *)fn, arg);
}

void cluster__load_templates(struct cluster *c)
{
    cluster__submit(c,
                    cluster__cmd_new(c, CMD_TEMPLATES_LOAD, SCRIPT_TEMPLATES_LOAD, 0, NULL, NULL),
                    NULL, NULL);
}

int cluster_presence(struct cluster *c, const char *user, int delta, int nonack)
{
    char dl[8];
    snprintf(dl, sizeof dl, "%d", delta);
    const char *args[4] = {user, c->instance, dl, nonack ? "1" : "0"};
    return cluster__submit(c, cluster__cmd_new(c, CMD_PRESENCE, SCRIPT_PRESENCE, 4, args, NULL),
                           NULL, NULL);
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
        rc = cluster__submit(
            c, cluster__cmd_new(c, CMD_RESET, SCRIPT_RESET, (int)(1 + 3 * n), args, NULL), NULL,
            NULL);
    }
    free(args);
    free(nums);
    return rc;
}

int cluster_stats(struct cluster *c, cluster_stats_fn fn, void *arg)
{
    return cluster__submit(c, cluster__cmd_new(c, CMD_STATS, SCRIPT_STATS, 0, NULL, NULL),
                           (void *)fn, arg);
}

int cluster_online(struct cluster *c, const char *user, cluster_online_fn fn, void *arg)
{
    const char *args[1] = {user};
    return cluster__submit(c, cluster__cmd_new(c, CMD_ONLINE, SCRIPT_ONLINE, 1, args, NULL),
                           (void *)fn, arg);
}

int cluster_backlog(struct cluster *c, const char *user, cluster_backlog_fn fn, void *arg)
{
    char ottl[24];
    snprintf(ottl, sizeof ottl, "%lld", (long long)c->cfg->offline_ttl_s * 1000);
    const char *args[2] = {user, ottl};
    return cluster__submit(c, cluster__cmd_new(c, CMD_BACKLOG, SCRIPT_BACKLOG, 2, args, NULL),
                           (void *)fn, arg);
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
    return cluster__submit(c, cluster__cmd_new(c, CMD_RESUME, SCRIPT_RESUME, 6, args, NULL),
                           (void *)fn, arg);
}

int cluster_forget(struct cluster *c, const char *user, uint64_t id)
{
    static const char script[] = "return redis.call('XDEL','notifyd:o:'..ARGV[1],ARGV[2])\n";
    char sid[48];
    snprintf(sid, sizeof sid, "%llu-%llu", (unsigned long long)(id >> 16),
             (unsigned long long)(id & 0xffff));
    const char *args[2] = {user, sid};
    return cluster__submit(c, cluster__cmd_new(c, CMD_FORGET, script, 2, args, NULL), NULL, NULL);
}
