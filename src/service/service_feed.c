/* service_feed: ListFeed, GetFeedCounts and MarkFeed. A backend or admin
 * may name any user; a user's own token (the /me routes, feed_mark on the
 * WebSocket) only that user. The answer renders each item from the envelope
 * it was delivered in: {id, type, data, timestamp, priority?, group?, seen,
 * read, archived}. Calls from any thread; answers on nd-ws (a read for
 * service_call_any_thread: on the thread the backend answered on). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nd.h"
#include "service/service_internal.h"

struct feed_job {
    struct backend_feed f;
    struct service_reply to;
    uint64_t *ids; /* MarkFeed's, owned (f.ids borrows them) */
};

/* one item as ListFeed gives it; NULL when its envelope cannot be read */
static json_t *item_json(const struct feed_item *it)
{
    json_t *env = json_loadb(it->json, it->len, 0, NULL);
    if (!env) /* numbers past 64 bits in a published data: as reals */
        env = json_loadb(it->json, it->len, JSON_DECODE_INT_AS_REAL, NULL);
    char id[MSGID_LEN + 1];
    msgid_format(it->id, id);
    json_t *o = env ? json_pack("{s:s, s:O, s:O, s:O}", "id", id, "type",
                                json_object_get(env, "type"), "data", json_object_get(env, "data"),
                                "timestamp", json_object_get(env, "timestamp"))
                    : NULL;
    static const char *const travel[] = {"priority", "group"};
    for (size_t i = 0; o && i < ND_ARRAY_SIZE(travel); i++) {
        json_t *v = json_object_get(env, travel[i]);
        if (v)
            json_object_set(o, travel[i], v);
    }
    if (o) {
        json_object_set_new(o, "seen", json_boolean(it->flags & FEED_SEEN));
        json_object_set_new(o, "read", json_boolean(it->flags & FEED_READ));
        json_object_set_new(o, "archived", json_boolean(it->flags & FEED_ARCHIVED));
    }
    json_decref(env);
    return o;
}

static json_t *counts_json(const struct feed_counts *c)
{
    return json_pack("{s:i, s:i, s:i}", "total", c->total, "unseen", c->unseen, "unread",
                     c->unread);
}

void service_feed_item_unreadable(const struct service_feed_page *page)
{
    static atomic_int told;
    if (!atomic_exchange(&told, 1))
        nd_log(ND_LOG_WARN, "a feed item's envelope is unreadable and was left out", "{s:s}",
               "user_id", page->user_id);
}

json_t *service__feed_page_json(const struct service_feed_page *page)
{
    json_t *items = json_array();
    char next[MSGID_LEN + 1] = "";
    for (size_t i = 0; items && i < page->n_items; i++) {
        json_t *it = item_json(&page->items[i]);
        if (it)
            json_array_append_new(items, it);
        else
            service_feed_item_unreadable(page);
    }
    if (page->next_before)
        msgid_format(page->next_before, next);
    return items ? json_pack("{s:o, s:s}", "items", items, "next_before", next) : NULL;
}

static void feed_answer(struct backend_req *r)
{
    struct feed_job *j = ND_CONTAINER_OF(r, struct feed_job, f.req);
    const char *why = atomic_load(&r->err) ? r->why : NULL;
    if (!why && j->to.op->id == OP_LIST_FEED) {
        /* the page as the store gave it: gRPC packs it without a JSON round trip */
        struct service_feed_page page = {j->f.items, j->f.n_items, j->f.next_before, j->f.user_id};
        service__reply_page(&j->to, &page, NULL);
    } else {
        json_t *body = why ? NULL
                       : j->to.op->id == OP_MARK_FEED
                           ? json_pack("{s:i, s:o}", "updated", j->f.updated, "counts",
                                       counts_json(&j->f.counts))
                           : counts_json(&j->f.counts);
        service__reply(&j->to, body, why);
    }
    feed_items_free(j->f.items, j->f.n_items);
    free(j->ids);
    free(j);
}

int service__feed_call(struct service *svc, const struct service_reply *to, const json_t *req,
                       const struct token_claims *caller, char *err, size_t errlen)
{
    struct op_msg msg;
    if (ops_build(to->op, req, &msg, err, errlen) < 0)
        return -EINVAL;
    int backend = caller && (caller->roles & (TOKEN_ROLE_ADMIN | TOKEN_ROLE_SERVICE));
    if (!backend && (!caller || strcmp(caller->user_id, msg.user_id))) {
        op_msg_clear(&msg);
        snprintf(err, errlen, "%s: a user's token reads and changes its own feed only",
                 to->op->name);
        return -EPERM;
    }
    struct feed_job *j = calloc(1, sizeof *j);
    int rc = -ENOMEM;
    if (j) {
        j->to = *to;
        j->f.req.done = feed_answer;
        /* a read has nothing to tell the user's tabs: its answer may skip nd-ws */
        j->f.req.any_thread = to->any_thread && to->op->id != OP_MARK_FEED;
        memcpy(j->f.user_id, msg.user_id, sizeof j->f.user_id);
        j->f.before = msg.before;
        j->f.limit = msg.limit;
        j->f.filter = msg.filter;
        j->f.ids = j->ids = msg.ids; /* the job's now */
        msg.ids = NULL;
        j->f.n_ids = msg.n_ids;
        j->f.all = msg.all;
        j->f.action = msg.action;
        /* a backend acting on a user's feed is audited; a user's own reads and marks are not */
        if (backend)
            service__audit(svc, to->op, caller, msg.user_id);
        rc = to->op->id == OP_LIST_FEED   ? backend_feed_list(svc->backend, &j->f)
             : to->op->id == OP_MARK_FEED ? backend_feed_mark(svc->backend, &j->f)
                                          : backend_feed_counts(svc->backend, &j->f);
        if (rc < 0) {
            free(j->ids);
            free(j);
        }
    }
    op_msg_clear(&msg);
    if (rc < 0)
        service__refused(rc, err, errlen);
    return rc;
}
