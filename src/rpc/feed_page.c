/* feed_page: ListFeed's answer packed straight from the envelopes the store
 * kept, without the JSON round trip (parse every envelope, build objects,
 * convert them to protobuf, print each `data` again): each item's members
 * are found in its text (notify/jsontext.h) and `data` goes out as it was
 * delivered. A string member with an escape is decoded by jansson. On the
 * thread the answer runs on: nd-ws, or nd-store for a read it answers itself. */
#include <grpc/byte_buffer.h>
#include <grpc/slice.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/msgid.h"
#include "feed/feed.h"
#include "notification/v1/notification.pb-c.h"
#include "notify/jsontext.h"
#include "rpc/rpc_internal.h"
#include "service/service.h"

/* one item's strings, owned until the page is packed */
struct item_text {
    char id[MSGID_LEN + 1];
    char *type, *group;
};

/* member @name of @env as a string (a copy, caller frees): NULL when absent or not a
 * string; *bad when the text cannot be read */
static char *string_member(const struct feed_item *env, const char *name, int *bad)
{
    size_t off, n;
    int rc = jsontext_member(env->json, env->len, name, &off, &n);
    if (rc < 0)
        *bad = 1;
    if (rc != 1 || n < 2 || env->json[off] != '"')
        return NULL;
    const char *v = env->json + off + 1;
    if (!memchr(v, '\\', n - 2)) /* the common case: no escapes */
        return strndup(v, n - 2);
    json_t *s = json_loadb(env->json + off, n, JSON_DECODE_ANY, NULL);
    char *out = json_is_string(s) ? strndup(json_string_value(s), json_string_length(s)) : NULL;
    json_decref(s);
    if (!out)
        *bad = 1;
    return out;
}

static Notification__V1__Priority priority_of(const char *p)
{
    if (!p)
        return NOTIFICATION__V1__PRIORITY__PRIORITY_UNSPECIFIED;
    if (!strcmp(p, "normal"))
        return NOTIFICATION__V1__PRIORITY__PRIORITY_NORMAL;
    if (!strcmp(p, "high"))
        return NOTIFICATION__V1__PRIORITY__PRIORITY_HIGH;
    if (!strcmp(p, "urgent"))
        return NOTIFICATION__V1__PRIORITY__PRIORITY_URGENT;
    return NOTIFICATION__V1__PRIORITY__PRIORITY_UNSPECIFIED;
}

/* fills @m and @t from @it's envelope: 0, or -1 when the envelope cannot be read */
static int fill(Notification__V1__FeedItem *m, struct item_text *t, const struct feed_item *it)
{
    size_t off, n;
    int bad = 0;
    msgid_format(it->id, t->id);
    m->id = t->id;
    t->type = string_member(it, "type", &bad);
    t->group = string_member(it, "group", &bad);
    char *prio = string_member(it, "priority", &bad);
    m->priority = priority_of(prio);
    free(prio);
    if (jsontext_member(it->json, it->len, "data", &off, &n) == 1) {
        m->data.data = (uint8_t *)it->json + off;
        m->data.len = n;
    }
    if (jsontext_member(it->json, it->len, "timestamp", &off, &n) == 1) {
        char num[32];
        if (n < sizeof num) {
            memcpy(num, it->json + off, n);
            num[n] = 0;
            char *end;
            long long v = strtoll(num, &end, 10);
            m->timestamp = *end ? (int64_t)strtod(num, NULL) : (int64_t)v;
        }
    }
    if (bad || !t->type)
        return -1;
    m->type = t->type;
    if (t->group)
        m->group = t->group;
    m->seen = (it->flags & FEED_SEEN) != 0;
    m->read = (it->flags & FEED_READ) != 0;
    m->archived = (it->flags & FEED_ARCHIVED) != 0;
    return 0;
}

grpc_byte_buffer *rpc__pack_feed_page(const struct service_feed_page *page)
{
    size_t n = page->n_items;
    Notification__V1__FeedItem *items = calloc(n ? n : 1, sizeof *items);
    Notification__V1__FeedItem **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    struct item_text *texts = calloc(n ? n : 1, sizeof *texts);
    grpc_byte_buffer *bb = NULL;
    char next[MSGID_LEN + 1] = "";
    if (!items || !ptrs || !texts)
        goto out;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        Notification__V1__FeedItem *m = &items[used];
        notification__v1__feed_item__init(m);
        if (fill(m, &texts[i], &page->items[i]) == 0)
            ptrs[used++] = m;
        else
            service_feed_item_unreadable(page);
    }
    Notification__V1__ListFeedResponse r = NOTIFICATION__V1__LIST_FEED_RESPONSE__INIT;
    r.n_items = used;
    r.items = ptrs;
    if (page->next_before) {
        msgid_format(page->next_before, next);
        r.next_before = next;
    }
    grpc_slice s = grpc_slice_malloc(notification__v1__list_feed_response__get_packed_size(&r));
    notification__v1__list_feed_response__pack(&r, GRPC_SLICE_START_PTR(s));
    bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
out:
    for (size_t i = 0; texts && i < n; i++) {
        free(texts[i].type);
        free(texts[i].group);
    }
    free(texts);
    free(ptrs);
    free(items);
    return bb;
}
