/* ops_feed: the requests of the feed operations (ListFeed, GetFeedCounts,
 * MarkFeed) checked into an op_msg, after ops_build() took the user_id:
 * the cursor and page size, the filter, the ids or `all` and the action.
 * Pure; any thread. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/msgid.h"
#include "notify/ops.h"

/* the string @name of @req into *out ("" when absent) */
static int enum_field(const json_t *req, const char *name, const char **out, char *err,
                      size_t errlen)
{
    json_t *v = json_object_get(req, name);
    *out = "";
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return ops_errorf(err, errlen, "%s must be a string", name);
    *out = json_string_value(v);
    return 0;
}

static int build_list(const json_t *req, struct op_msg *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(req, "before");
    const char *filter;
    if (v && !json_is_null(v) && !(json_is_string(v) && !json_string_length(v))) {
        if (!json_is_string(v) || msgid_parse(json_string_value(v), &out->before) < 0)
            return ops_errorf(err, errlen,
                              "before must be an item id (16 hex digits), as next_before gives");
    }
    out->limit = FEED_LIMIT_DEFAULT;
    v = json_object_get(req, "limit");
    if (v && !json_is_null(v)) {
        double d = json_is_real(v) ? json_real_value(v) : 0.5;
        long long n = json_is_integer(v) ? json_integer_value(v) : (long long)d;
        if (!json_is_integer(v) && d != floor(d))
            return ops_errorf(err, errlen, "limit must be an integer");
        if (n < 0 || n > FEED_LIMIT_MAX)
            return ops_errorf(err, errlen, "limit is %lld, it must be from 1 to %d (0: %d)", n,
                              FEED_LIMIT_MAX, FEED_LIMIT_DEFAULT);
        out->limit = n ? (int)n : FEED_LIMIT_DEFAULT;
    }
    if (enum_field(req, "filter", &filter, err, errlen) < 0)
        return -EINVAL;
    if (feed_filter_parse(filter, &out->filter) < 0)
        return ops_errorf(err, errlen, "filter must be one of inbox, unread, archived, all");
    return 0;
}

static int build_mark(const json_t *req, struct op_msg *out, char *err, size_t errlen)
{
    json_t *ids = json_object_get(req, "ids"), *all = json_object_get(req, "all");
    const char *action;
    if (all && !json_is_null(all) && !json_is_boolean(all))
        return ops_errorf(err, errlen, "all must be true or false");
    out->all = json_is_true(all);
    size_t n = json_is_array(ids) ? json_array_size(ids) : 0;
    if (ids && !json_is_null(ids) && !json_is_array(ids))
        return ops_errorf(err, errlen, "ids must be an array of item ids");
    if (out->all == (n > 0))
        return ops_errorf(err, errlen, "MarkFeed needs ids (1 to %d item ids) or all: true, %s",
                          FEED_MARK_MAX, out->all ? "not both" : "one of them");
    if (n > FEED_MARK_MAX)
        return ops_errorf(err, errlen, "ids has %zu ids, the limit is %d", n, FEED_MARK_MAX);
    if (n && !(out->ids = calloc(n, sizeof *out->ids)))
        return ops_errorf(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        if (!id || msgid_parse(id, &out->ids[i]) < 0)
            return ops_errorf(err, errlen, "ids[%zu] must be an item id (16 hex digits)", i);
    }
    out->n_ids = n;
    if (enum_field(req, "action", &action, err, errlen) < 0)
        return -EINVAL;
    if (!action[0])
        return ops_errorf(err, errlen,
                          "action is required: seen, read, unread, archive or unarchive");
    if (feed_action_parse(action, &out->action) < 0)
        return ops_errorf(err, errlen,
                          "action must be one of seen, read, unread, archive, unarchive");
    return 0;
}

int ops_build_feed(const struct op_spec *op, const json_t *req, struct op_msg *out, char *err,
                   size_t errlen)
{
    int rc = 0;
    if (op->id == OP_LIST_FEED)
        rc = build_list(req, out, err, errlen);
    else if (op->id == OP_MARK_FEED)
        rc = build_mark(req, out, err, errlen);
    if (rc < 0)
        op_msg_clear(out);
    return rc;
}
