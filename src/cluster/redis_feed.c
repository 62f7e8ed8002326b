/* cluster/redis_feed: the notification feed in Redis -- one call of
 * SCRIPT_FEED (scripts.h) per list, count or mark, so a mark and the counts
 * it answers are one atomic step whichever instance runs it, and the
 * reading of its reply. Callers on any thread; replies on nd-redis. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/redis_internal.h"
#include "cluster/scripts.h"
#include "delivery/msgid.h"

int cluster_feed(struct cluster *c, const struct cluster_feed_req *q, cluster_feed_fn fn, void *arg)
{
    const struct nd_config *cfg = c->cfg;
    char what[2] = {q->what, 0}, max[24], ttl[24], before[MSGID_LEN + 1] = "", limit[16];
    char filter[4], action[4];
    size_t n = 9 + q->n_ids;
    const char **args = calloc(n, sizeof *args);
    char(*ids)[MSGID_LEN + 1] = calloc(q->n_ids + 1, sizeof *ids);
    int rc = -ENOMEM;
    if (!args || !ids)
        goto out;
    snprintf(max, sizeof max, "%lld", (long long)cfg->feed_max_per_user);
    snprintf(ttl, sizeof ttl, "%lld", (long long)cfg->feed_ttl_s * 1000);
    if (q->before)
        msgid_format(q->before, before);
    snprintf(limit, sizeof limit, "%d", q->limit);
    snprintf(filter, sizeof filter, "%d", (int)q->filter);
    snprintf(action, sizeof action, "%d", (int)q->action);
    const char *fixed[9] = {q->user_id,        what, max, ttl, before, limit, filter, action,
                            q->all ? "1" : "0"};
    memcpy(args, fixed, sizeof fixed);
    for (size_t i = 0; i < q->n_ids; i++) {
        msgid_format(q->ids[i], ids[i]);
        args[9 + i] = ids[i];
    }
    rc = cluster__submit(c, cluster__cmd_new(c, CMD_FEED, SCRIPT_FEED, (int)n, args, NULL),
                         (void *)fn, arg);
out:
    free(args);
    free(ids);
    return rc;
}

static int int_of(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
}

/* l: {next_before or "", {id, flags, envelope, ...}} into @out; 0 or -errno */
static int page_of(const redisReply *r, struct cluster_feed *out)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY)
        return -EIO;
    const redisReply *next = r->element[0], *list = r->element[1];
    if (next->len && msgid_parse(next->str, &out->next_before) < 0)
        return -EIO;
    size_t n = list->elements / 3;
    out->items = n ? calloc(n, sizeof *out->items) : NULL;
    if (n && !out->items)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const redisReply *id = list->element[3 * i], *body = list->element[3 * i + 2];
        struct feed_item *it = &out->items[out->n_items];
        if (id->type != REDIS_REPLY_STRING || body->type != REDIS_REPLY_STRING ||
            msgid_parse(id->str, &it->id) < 0)
            return -EIO;
        if (!(it->json = malloc(body->len + 1)))
            return -ENOMEM;
        memcpy(it->json, body->str, body->len);
        it->json[body->len] = 0;
        it->len = body->len;
        it->flags = (unsigned)int_of(list->element[3 * i + 1]);
        out->n_items++;
    }
    return 0;
}

void cluster__feed_reply(struct cmd *k, const redisReply *r)
{
    struct cluster_feed out;
    int err = 0;
    memset(&out, 0, sizeof out);
    if (k->argv[4][0] == 'l') { /* argv: EVALSHA, sha, 0, user, what, ... */
        err = page_of(r, &out);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3) {
        out.counts.total = int_of(r->element[0]);
        out.counts.unseen = int_of(r->element[1]);
        out.counts.unread = int_of(r->element[2]);
        out.updated = r->elements > 3 ? int_of(r->element[3]) : 0;
    } else {
        err = -EIO;
    }
    if (err) {
        feed_items_free(out.items, out.n_items);
        ((cluster_feed_fn)k->fn)(k->arg, err, NULL);
    } else {
        ((cluster_feed_fn)k->fn)(k->arg, 0, &out);
    }
}
