/* ops: each operation is data -- a name, a delivered type and a field list --
 * so gRPC and REST share one validator and one envelope shape. */
#include "notify/ops.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/token.h"
#include "notify/ops_internal.h"

#define I32 2147483647LL
#define TIME_MAX 32503680000LL /* year 3000 in unix seconds */

static const struct field_spec task_fields[] = {
    {"task_id", FK_STRING, 1, 0, 128},
    {"task_type", FK_STRING, 0, 0, 64},
    {"status", FK_STRING, 0, 0, 64},
    {"progress", FK_DOUBLE, 0, 0, 100},
    {"total", FK_INT, 0, 0, I32},
    {"completed", FK_INT, 0, 0, I32},
    {"failed", FK_INT, 0, 0, I32},
    {"message", FK_STRING, 0, 0, 4096},
    {"start_time", FK_INT, 0, 0, TIME_MAX},
    {"end_time", FK_INT, 0, 0, TIME_MAX},
    {NULL, 0, 0, 0, 0},
};

static const struct field_spec open_url_fields[] = {
    {"task_id", FK_STRING, 1, 0, 128},
    {"urls", FK_URLS, 1, 1, 100},
    {"delay", FK_INT, 0, 0, 600000},
    {NULL, 0, 0, 0, 0},
};

static const struct field_spec notice_fields[] = {
    {"title", FK_STRING, 0, 0, 256},    {"message", FK_STRING, 1, 0, 4096},
    {"level", FK_LEVEL, 0, 0, 0},       {"action", FK_STRING, 0, 0, 64},
    {"action_url", FK_URL, 0, 0, 2048}, {NULL, 0, 0, 0, 0},
};

static const struct field_spec token_fields[] = {
    {"current_balance", FK_INT, 0, -I32 - 1, I32},
    {"required_tokens", FK_INT, 0, 0, I32},
    {"task_type", FK_STRING, 0, 0, 64},
    {"message", FK_STRING, 0, 0, 4096},
    {NULL, 0, 0, 0, 0},
};

static const struct field_spec expiring_fields[] = {
    {"plan_name", FK_STRING, 1, 0, 128},    {"days_left", FK_INT, 0, 0, 36500},
    {"expires_at", FK_INT, 0, 0, TIME_MAX}, {"message", FK_STRING, 0, 0, 4096},
    {"upgrade_url", FK_URL, 0, 0, 2048},    {NULL, 0, 0, 0, 0},
};

static const struct field_spec expired_fields[] = {
    {"plan_name", FK_STRING, 1, 0, 128},
    {"expires_at", FK_INT, 0, 0, TIME_MAX},
    {"message", FK_STRING, 0, 0, 4096},
    {"upgrade_url", FK_URL, 0, 0, 2048},
    {NULL, 0, 0, 0, 0},
};

static const struct field_spec no_fields[] = {{NULL, 0, 0, 0, 0}};

#define COMPLETE(ID, NAME, TYPE, FAM) TASK(ID, NAME, TYPE, FAM, OP_IMPORTANT | OP_IN_FEED)
#define TASK(ID, NAME, TYPE, FAM, FL)                                                              \
    {                                                                                              \
        ID, NAME, TYPE, FAM, OP_NOTIFY | (FL), task_fields, NULL                                   \
    }

_Static_assert(OP__COUNT <= ND_OPS_MAX, "stats.h counts by operation: raise ND_OPS_MAX");

static const struct op_spec specs[OP__COUNT] = {
    TASK(OP_BATCHGO_START, "NotifyBatchGoStart", "batchgo_start", "batchgo", 0),
    TASK(OP_BATCHGO_PROGRESS, "NotifyBatchGoProgress", "batchgo_progress", "batchgo", OP_PROGRESS),
    COMPLETE(OP_BATCHGO_COMPLETE, "NotifyBatchGoComplete", "batchgo_complete", "batchgo"),
    {OP_BATCHGO_OPEN_URL, "NotifyBatchGoOpenUrl", "batchgo_open_url", NULL,
     OP_NOTIFY | OP_IMPORTANT | OP_COMMAND, open_url_fields, NULL},
    TASK(OP_SITERANK_START, "NotifySiteRankStart", "siterank_start", "siterank", 0),
    TASK(OP_SITERANK_PROGRESS, "NotifySiteRankProgress", "siterank_progress", "siterank",
         OP_PROGRESS),
    COMPLETE(OP_SITERANK_COMPLETE, "NotifySiteRankComplete", "siterank_complete", "siterank"),
    TASK(OP_CHENGELINK_START, "NotifyChengelinkStart", "chengelink_start", "chengelink", 0),
    TASK(OP_CHENGELINK_PROGRESS, "NotifyChengelinkProgress", "chengelink_progress", "chengelink",
         OP_PROGRESS),
    COMPLETE(OP_CHENGELINK_COMPLETE, "NotifyChengelinkComplete", "chengelink_complete",
             "chengelink"),
    {OP_SYSTEM_NOTIFICATION, "SendSystemNotification", "system_notification", NULL,
     OP_NOTIFY | OP_IMPORTANT | OP_TEMPLATED | OP_IN_FEED, notice_fields, NULL},
    {OP_TOKEN_INSUFFICIENT, "NotifyTokenInsufficient", "token_insufficient", NULL,
     OP_NOTIFY | OP_IMPORTANT | OP_TEMPLATED | OP_IN_FEED, token_fields, NULL},
    {OP_PLAN_EXPIRING, "NotifyPlanExpiring", "plan_expiring", NULL,
     OP_NOTIFY | OP_IMPORTANT | OP_TEMPLATED | OP_IN_FEED, expiring_fields, NULL},
    {OP_PLAN_EXPIRED, "NotifyPlanExpired", "plan_expired", NULL,
     OP_NOTIFY | OP_IMPORTANT | OP_TEMPLATED | OP_IN_FEED, expired_fields, NULL},
    {OP_BROADCAST, "Broadcast", "system_notification", NULL, OP_NOTIFY | OP_TO_ALL | OP_TEMPLATED,
     notice_fields, NULL},
    {OP_TEST_MESSAGE, "SendTestMessage", "system_notification", NULL, OP_NOTIFY, no_fields,
     "{\"title\":\"Test message\",\"message\":\"This is a test message from notifyd.\","
     "\"level\":\"info\",\"action\":\"\",\"action_url\":\"\",\"test\":true}"},
    {OP_GET_STATS, "GetStats", NULL, NULL, OP_TO_ALL | OP_READ, no_fields, NULL},
    {OP_IS_USER_ONLINE, "IsUserOnline", NULL, NULL, OP_READ, no_fields, NULL},
    {OP_NOTIFY_USERS, "NotifyUsers", "system_notification", NULL,
     OP_NOTIFY | OP_IMPORTANT | OP_MULTI | OP_TEMPLATED | OP_IN_FEED, notice_fields, NULL},
    {OP_PUT_TEMPLATE, "PutTemplate", NULL, NULL, OP_TO_ALL | OP_TEMPLATE | OP_ADMIN, no_fields,
     NULL},
    {OP_GET_TEMPLATE, "GetTemplate", NULL, NULL, OP_TO_ALL | OP_TEMPLATE | OP_ADMIN | OP_READ,
     no_fields, NULL},
    {OP_LIST_TEMPLATES, "ListTemplates", NULL, NULL, OP_TO_ALL | OP_TEMPLATE | OP_ADMIN | OP_READ,
     no_fields, NULL},
    {OP_DELETE_TEMPLATE, "DeleteTemplate", NULL, NULL, OP_TO_ALL | OP_TEMPLATE | OP_ADMIN,
     no_fields, NULL},
    {OP_PUBLISH, "Publish", NULL, NULL, OP_NOTIFY | OP_ANY_TYPE, no_fields, NULL},
    {OP_DISCONNECT_USER, "DisconnectUser", NULL, NULL, OP_CLOSES | OP_ADMIN, no_fields, NULL},
    {OP_GET_BACKLOG, "GetBacklog", NULL, NULL, OP_READ, no_fields, NULL},
    {OP_LIST_FEED, "ListFeed", NULL, NULL, OP_FEED | OP_READ, no_fields, NULL},
    {OP_GET_FEED_COUNTS, "GetFeedCounts", NULL, NULL, OP_FEED | OP_READ, no_fields, NULL},
    {OP_MARK_FEED, "MarkFeed", NULL, NULL, OP_FEED, no_fields, NULL},
};

const struct op_spec *ops_get(enum op_id id)
{
    return &specs[id];
}

const struct op_spec *ops_find(const char *name)
{
    for (int i = 0; i < OP__COUNT; i++)
        if (!strcmp(specs[i].name, name))
            return &specs[i];
    return NULL;
}

const struct op_spec *ops_find_type(const char *type)
{
    for (int i = 0; i < OP__COUNT; i++)
        if (specs[i].type && !(specs[i].flags & (OP_TO_ALL | OP_MULTI)) &&
            !strcmp(specs[i].type, type))
            return &specs[i];
    return NULL;
}

/* the types notifyd sends by itself: a client could not tell a published one from them */
static const char *const reserved_types[] = {
    "connected", "ping", "pong", "error", "disconnected", "refreshed", "batch", "feed_update",
};

int ops_type_valid(const char *type, char *err, size_t errlen)
{
    size_t n = strlen(type);
    int ok = n >= 1 && n <= ND_TYPE_MAX && type[0] >= 'a' && type[0] <= 'z';
    for (size_t i = 1; ok && i < n; i++)
        ok = (type[i] >= 'a' && type[i] <= 'z') || (type[i] >= '0' && type[i] <= '9') ||
             strchr("_.:-", type[i]);
    if (!ok) {
        ops_errorf(err, errlen,
                   "type must be 1 to %d characters of a-z 0-9 _ . : -, starting with a letter "
                   "(^[a-z][a-z0-9_.:-]{0,63}$)",
                   ND_TYPE_MAX);
        return 0;
    }
    for (size_t i = 0; i < ND_ARRAY_SIZE(reserved_types); i++)
        if (!strcmp(type, reserved_types[i])) {
            ops_errorf(err, errlen,
                       "type \"%s\" is one of notifyd's own message types; name yours "
                       "differently",
                       type);
            return 0;
        }
    return 1;
}

int ops_errorf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int ops_url_valid(const char *s)
{
    const char *rest;
    if (!strncasecmp(s, "https://", 8))
        rest = s + 8;
    else if (!strncasecmp(s, "http://", 7))
        rest = s + 7;
    else
        return 0;
    if (!*rest || *rest == '/' || *rest == '?' || *rest == '#')
        return 0; /* no host */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
            return 0;
    return 1;
}

const char *ops_priority_name(enum priority p)
{
    return p == PRIORITY_URGENT ? "urgent" : p == PRIORITY_HIGH ? "high" : NULL;
}

/* priority, group and feed: how any notification travels */
static int build_delivery(const json_t *req, struct op_msg *out, char *err, size_t errlen)
{
    struct op_val priority = ops_val_json(json_object_get(req, "priority"));
    struct op_val group = ops_val_json(json_object_get(req, "group"));
    struct op_val feed = ops_val_json(json_object_get(req, "feed"));
    return ops__check_delivery(&priority, &group, &feed, out, err, errlen);
}

int ops_in_feed(const struct op_msg *msg)
{
    const struct op_spec *as = msg->op->flags & OP_ANY_TYPE ? ops_find_type(msg->type) : msg->op;
    if (msg->feed >= 0)
        return msg->feed;
    return (msg->user_id[0] || msg->user_ids) && as && (as->flags & OP_IN_FEED);
}

/* user_ids: 1..ND_MULTICAST_MAX valid ids; a repeated one counts once */
static int build_users(const json_t *req, struct op_msg *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(req, "user_ids");
    json_t *one = json_object_get(req, "user_id");
    if (one && !json_is_null(one) && !(json_is_string(one) && !json_string_length(one)))
        return ops_errorf(err, errlen, "give user_ids or user_id, not both");
    if (!json_is_array(v))
        return ops_errorf(err, errlen, "user_ids must be an array of user ids");
    size_t n = json_array_size(v);
    if (n == 0)
        return ops_errorf(err, errlen, "user_ids needs at least one user id");
    if (n > ND_MULTICAST_MAX)
        return ops_errorf(err, errlen, "user_ids has %zu users, the limit is %d", n,
                          ND_MULTICAST_MAX);
    json_t *seen = json_object(), *ids = json_array();
    if (!seen || !ids) {
        json_decref(seen);
        json_decref(ids);
        return ops_errorf(err, errlen, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *u = json_array_get(v, i);
        const char *id = json_string_value(u);
        if (!id || !token_user_id_valid(id, json_string_length(u))) {
            json_decref(seen);
            json_decref(ids);
            return ops_errorf(err, errlen,
                              "user_ids[%zu] must be 1 to %d characters of A-Z a-z 0-9 _ . @ : -",
                              i, ND_USER_ID_MAX);
        }
        if (json_object_get(seen, id))
            continue;
        json_object_set_new(seen, id, json_true());
        json_array_append(ids, u);
    }
    json_decref(seen);
    out->user_ids = ids;
    return 0;
}

static int build_user(const json_t *req, struct op_msg *out, char *err, size_t errlen)
{
    struct op_val v = ops_val_json(json_object_get(req, "user_id"));
    return ops__check_user(&v, out, err, errlen);
}

/* --- Publish: a type of the caller's, data as given, one target --- */

/* exactly one of user_id, user_ids (non-empty) and broadcast: true */
static int build_target(const struct op_spec *op, const json_t *req, struct op_msg *out, char *err,
                        size_t errlen)
{
    json_t *one = json_object_get(req, "user_id"), *many = json_object_get(req, "user_ids");
    json_t *all = json_object_get(req, "broadcast");
    int has_one = one && !json_is_null(one) && !(json_is_string(one) && !json_string_length(one));
    int has_many = many && !json_is_null(many) && !(json_is_array(many) && !json_array_size(many));
    if (all && !json_is_null(all) && !json_is_boolean(all))
        return ops_errorf(err, errlen, "broadcast must be true or false");
    int n = has_one + has_many + json_is_true(all);
    if (n != 1)
        return ops_errorf(err, errlen,
                          "%s needs exactly one target: user_id, user_ids or broadcast: true (%s)",
                          op->name, n ? "more than one was given" : "none was given");
    if (has_many)
        return build_users(req, out, err, errlen);
    return has_one ? build_user(req, out, err, errlen) : 0;
}

static const char *json_kind(const json_t *v)
{
    return json_is_array(v)     ? "an array"
           : json_is_string(v)  ? "a string"
           : json_is_number(v)  ? "a number"
           : json_is_boolean(v) ? "a boolean"
                                : "null";
}

/* data: JSON text (gRPC's bytes; REST's member as written) or an object; kept as text */
static int build_data(const json_t *req, struct op_msg *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(req, "data");
    const char *text = "{}";
    size_t len = 2;
    char *dumped = NULL;
    if (json_is_string(v) && json_string_length(v)) {
        text = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_object(v)) {
        if (!(dumped = json_dumps(v, JSON_COMPACT)))
            return ops_errorf(err, errlen, "out of memory");
        text = dumped;
        len = strlen(dumped);
    } else if (v && !json_is_null(v) && !json_is_string(v)) {
        return ops_errorf(err, errlen, "data must be a JSON object, not %s", json_kind(v));
    }
    int rc = -EINVAL;
    json_error_t je;
    json_t *obj = NULL;
    if (len > ND_DATA_MAX) {
        ops_errorf(err, errlen, "data is %zu bytes, the limit is %d", len, ND_DATA_MAX);
        goto out;
    }
    /* numbers past 64 bits are valid JSON: checked as reals, delivered as written */
    obj = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!obj && !(obj = json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je))) {
        ops_errorf(err, errlen, "data is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                   je.column);
        goto out;
    }
    if (!json_is_object(obj)) {
        ops_errorf(err, errlen, "data must be a JSON object, not %s", json_kind(obj));
        goto out;
    }
    if (!(out->data_text = malloc(len + 1))) {
        ops_errorf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(out->data_text, text, len);
    out->data_text[len] = 0;
    out->data_len = len;
    out->data = obj;
    obj = NULL;
    rc = 0;
out:
    json_decref(obj);
    free(dumped);
    return rc;
}

/* store (auto, always, never) and ttl_ms (0: the type's own) */
static int build_keeping(const json_t *req, struct op_msg *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(req, "store");
    if (v && !json_is_null(v)) {
        const char *s = json_string_value(v);
        if (s && (!s[0] || !strcmp(s, "auto")))
            out->store = STORE_AUTO;
        else if (s && !strcmp(s, "always"))
            out->store = STORE_ALWAYS;
        else if (s && !strcmp(s, "never"))
            out->store = STORE_NEVER;
        else
            return ops_errorf(err, errlen, "store must be one of auto, always, never");
    }
    if (out->store == STORE_ALWAYS && !out->user_id[0] && !out->user_ids)
        return ops_errorf(err, errlen,
                          "store: always needs user_id or user_ids; a broadcast is never kept");
    v = json_object_get(req, "ttl_ms");
    if (v && !json_is_null(v)) {
        double d = json_is_real(v) ? json_real_value(v) : -1;
        if (json_is_integer(v))
            out->ttl_ms = json_integer_value(v);
        else if (json_is_real(v) && d == floor(d) && d >= 0 && d < 9e15)
            out->ttl_ms = (int64_t)d;
        else
            return ops_errorf(err, errlen, "ttl_ms must be an integer (milliseconds)");
        if (out->ttl_ms < 0)
            return ops_errorf(err, errlen, "ttl_ms is %lld, it must be 0 (the type's own) or more",
                              (long long)out->ttl_ms);
    }
    return 0;
}

static int build_publish(const struct op_spec *op, const json_t *req, struct op_msg *out, char *err,
                         size_t errlen)
{
    json_t *t = json_object_get(req, "type");
    if (!t || json_is_null(t) || (json_is_string(t) && !json_string_length(t)))
        return ops_errorf(err, errlen, "type is required");
    if (!json_is_string(t))
        return ops_errorf(err, errlen, "type must be a string");
    if (json_string_length(t) > ND_TYPE_MAX)
        return ops_errorf(err, errlen, "type is %zu bytes, the limit is %d", json_string_length(t),
                          ND_TYPE_MAX);
    if (strlen(json_string_value(t)) != json_string_length(t)) /* a NUL inside */
        return ops_errorf(err, errlen, "type must be 1 to %d characters of a-z 0-9 _ . : -",
                          ND_TYPE_MAX);
    if (!ops_type_valid(json_string_value(t), err, errlen))
        return -EINVAL;
    memcpy(out->type, json_string_value(t), json_string_length(t) + 1);
    if (build_target(op, req, out, err, errlen) < 0 || build_data(req, out, err, errlen) < 0 ||
        build_keeping(req, out, err, errlen) < 0 || build_delivery(req, out, err, errlen) < 0) {
        op_msg_clear(out);
        return -EINVAL;
    }
    return 0;
}

/* --- DisconnectUser --- */

static int build_disconnect(const json_t *req, struct op_msg *out, char *err, size_t errlen)
{
    static const struct field_spec reason = {"reason", FK_STRING, 0, 0, ND_REASON_MAX};
    if (build_user(req, out, err, errlen) < 0)
        return -EINVAL;
    json_t *v = json_object_get(req, "reason");
    if (v && !json_is_null(v)) {
        struct op_val r = ops_val_json(v);
        if (ops__check_string(&reason, &r, err, errlen) < 0)
            return -EINVAL;
        memcpy(out->reason, r.s, r.len + 1);
    }
    if (!out->reason[0])
        snprintf(out->reason, sizeof out->reason, "disconnected by the server");
    v = json_object_get(req, "reconnect");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return ops_errorf(err, errlen, "reconnect must be true or false");
    out->reconnect = json_is_true(v);
    return 0;
}

int ops_build(const struct op_spec *op, const json_t *req, struct op_msg *out, char *err,
              size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->feed = -1;
    out->op = op;
    if (!json_is_object(req))
        return ops_errorf(err, errlen, "the request must be a JSON object");
    if (op->flags & OP_ANY_TYPE)
        return build_publish(op, req, out, err, errlen);
    if (op->flags & OP_CLOSES)
        return build_disconnect(req, out, err, errlen);
    if (op->flags & OP_FEED)
        return build_user(req, out, err, errlen) < 0 ? -EINVAL
                                                     : ops_build_feed(op, req, out, err, errlen);
    if (ops_typed(op)) { /* the checks a protobuf request meets too, then data as an object */
        struct op_req r;
        ops_req_from_json(op, req, &r);
        if (ops_build_req(&r, out, err, errlen) < 0 || ops__data_json(out, err, errlen) < 0) {
            op_msg_clear(out);
            return -EINVAL;
        }
        return 0;
    }
    if (op->type)
        snprintf(out->type, sizeof out->type, "%s", op->type);
    if (op->flags & OP_MULTI) {
        if (build_users(req, out, err, errlen) < 0)
            return -EINVAL;
    } else if (!(op->flags & OP_TO_ALL) && build_user(req, out, err, errlen) < 0) {
        return -EINVAL;
    }
    if (!(op->flags & OP_NOTIFY))
        return 0;
    if (build_delivery(req, out, err, errlen) < 0) {
        op_msg_clear(out);
        return -EINVAL;
    }

    for (size_t i = 0; op->fields[i].name; i++) { /* NotifyUsers: the notice's fields */
        struct op_val v = ops_val_json(json_object_get(req, op->fields[i].name));
        if (ops__check_field(op, &op->fields[i], &v, &out->vals[i], err, errlen) < 0) {
            op_msg_clear(out);
            return -EINVAL;
        }
    }
    if (!op->fixed_data)
        return ops__data_json(out, err, errlen);
    if (!(out->data = json_loads(op->fixed_data, 0, NULL))) /* SendTestMessage */
        return ops_errorf(err, errlen, "out of memory");
    return 0;
}

void op_msg_clear(struct op_msg *msg)
{
    json_decref(msg->data);
    msg->data = NULL;
    free(msg->data_text);
    msg->data_text = NULL;
    json_decref(msg->user_ids);
    msg->user_ids = NULL;
    free(msg->ids);
    msg->ids = NULL;
    msg->n_ids = 0;
}
