/* ops: the table of operations (one per RPC) and the one validator that
 * turns a request into a message: a flat JSON object (a REST body, or a
 * protobuf message through pbjson), or for a notification a typed request
 * (struct op_req) read from either -- the same checks, the same messages
 * (ops_check.c). Pure: no I/O, no state; any thread. */
#ifndef NOTIFYD_NOTIFY_OPS_H
#define NOTIFYD_NOTIFY_OPS_H

#include <jansson.h>
#include <stddef.h>

#include "delivery/delivery.h"
#include "feed/feed.h"
#include "nd.h"

enum op_id {
    OP_BATCHGO_START,
    OP_BATCHGO_PROGRESS,
    OP_BATCHGO_COMPLETE,
    OP_BATCHGO_OPEN_URL,
    OP_SITERANK_START,
    OP_SITERANK_PROGRESS,
    OP_SITERANK_COMPLETE,
    OP_CHENGELINK_START,
    OP_CHENGELINK_PROGRESS,
    OP_CHENGELINK_COMPLETE,
    OP_SYSTEM_NOTIFICATION,
    OP_TOKEN_INSUFFICIENT,
    OP_PLAN_EXPIRING,
    OP_PLAN_EXPIRED,
    OP_BROADCAST,
    OP_TEST_MESSAGE,
    OP_GET_STATS,
    OP_IS_USER_ONLINE,
    OP_NOTIFY_USERS,
    OP_PUT_TEMPLATE,
    OP_GET_TEMPLATE,
    OP_LIST_TEMPLATES,
    OP_DELETE_TEMPLATE,
    OP_PUBLISH,
    OP_DISCONNECT_USER,
    OP_GET_BACKLOG,
    OP_LIST_FEED,
    OP_GET_FEED_COUNTS,
    OP_MARK_FEED,
    OP__COUNT
};

enum op_flag {
    OP_NOTIFY = 1u << 0,    /* delivers a message */
    OP_TO_ALL = 1u << 1,    /* to every connection: no user_id */
    OP_IMPORTANT = 1u << 2, /* kept for a user who is offline (seed 离线消息) */
    OP_PROGRESS = 1u << 3,  /* a *_progress update: newer ones replace queued ones */
    OP_MULTI = 1u << 4,     /* to a list of users: user_ids */
    OP_TEMPLATED = 1u << 5, /* may give template_id + params instead of title/message */
    OP_TEMPLATE = 1u << 6,  /* manages templates */
    OP_ADMIN = 1u << 7,     /* role admin only (others: admin or service) */
    OP_COMMAND = 1u << 8,   /* a browser command: kept only NOTIFYD_COMMAND_TTL for the offline */
    OP_ANY_TYPE = 1u << 9,  /* Publish: the caller names the type and one target; data as given */
    OP_CLOSES = 1u << 10,   /* closes a user's connections */
    OP_READ = 1u << 11,     /* changes nothing: its audit line is at debug */
    OP_IN_FEED = 1u << 12,  /* kept in the user's feed unless the request says feed: false */
    OP_FEED = 1u << 13,     /* reads or marks one user's feed (SPEC §7d) */
};

#define ND_GROUP_MAX 128      /* bytes of a group key */
#define ND_MULTICAST_MAX 1000 /* users in one NotifyUsers call */
#define ND_DATA_MAX 65536     /* bytes of Publish's data */

/* Publish's store: whether a copy is kept for an offline recipient */
enum store_policy {
    STORE_AUTO,   /* as the type is kept (OP_IMPORTANT), or when urgent */
    STORE_ALWAYS, /* always */
    STORE_NEVER,  /* never, urgent or not */
};

enum field_kind {
    FK_STRING, /* max = bytes */
    FK_INT,    /* min..max */
    FK_DOUBLE, /* min..max */
    FK_URL,    /* http(s) URL, may be empty unless required; max = bytes */
    FK_URLS,   /* array of 1..max http(s) URLs */
    FK_LEVEL,  /* info, warning, error, success; default info */
};

struct field_spec {
    const char *name;
    enum field_kind kind;
    int required;
    long long min, max;
};

struct op_spec {
    enum op_id id;
    const char *name;                /* RPC name, e.g. "NotifyBatchGoOpenUrl" */
    const char *type;                /* WebSocket type delivered; NULL for queries */
    const char *family;              /* default task_type of task RPCs, else NULL */
    unsigned flags;                  /* enum op_flag */
    const struct field_spec *fields; /* `data` fields, in envelope order */
    const char *fixed_data;          /* JSON object delivered as data (test message) */
};

/** The spec of @id. */
const struct op_spec *ops_get(enum op_id id);

/** The spec whose RPC name is @name, or NULL. */
const struct op_spec *ops_find(const char *name);

/**
 * The operation that delivers @type to one user (SendSystemNotification for
 * "system_notification"), or NULL for a type of the caller's own: how
 * Publish treats a type notifyd knows.
 */
const struct op_spec *ops_find_type(const char *type);

/** 1 when @type may be published: the pattern, and not one of the server's own types. */
int ops_type_valid(const char *type, char *err, size_t errlen);

/* --- the typed request: what the validator reads, from JSON or protobuf --- */

enum op_val_kind {
    OV_ABSENT, /* not in the request */
    OV_NULL,   /* JSON null: as absent */
    OV_STRING,
    OV_INT,
    OV_REAL,
    OV_BOOL,
    OV_LIST,  /* an array: of strings from protobuf, of anything from JSON */
    OV_OTHER, /* an object, or an array of what no field takes */
};

/** One value of a request, borrowed from the JSON body or protobuf message it came from. */
struct op_val {
    enum op_val_kind kind;
    const char *s;           /* OV_STRING: NUL-terminated after len bytes (a NUL inside: refused) */
    size_t len;              /* OV_STRING: bytes; OV_LIST: items */
    long long i;             /* OV_INT; OV_BOOL: 0 or 1 */
    double d;                /* OV_REAL */
    const json_t *json;      /* OV_LIST from JSON: the array; else NULL */
    const char *const *strs; /* OV_LIST from protobuf: its strings */
};

#define OP_FIELDS_MAX 12 /* `data` fields of one operation */

/**
 * A notification request typed: the members the validator reads, by name.
 * Built from a REST body (ops_req_from_json) or straight from a protobuf
 * message (pbjson_request), so both meet the same checks and messages.
 */
struct op_req {
    const struct op_spec *op;
    struct op_val user_id, priority, group, feed;
    struct op_val fields[OP_FIELDS_MAX]; /* op->fields[i]'s value */
    char names[4][24];                   /* protobuf enums' value names, lowercased */
};

/**
 * 1 when @op's requests can travel typed (ops_build_req): a notification to one
 * user or to all, with fields of its own -- not Publish, NotifyUsers or
 * SendTestMessage. (A request naming a template_id still goes by JSON.)
 */
int ops_typed(const struct op_spec *op);

/** @v's value as an op_val (NULL: absent); borrows @v. */
struct op_val ops_val_json(const json_t *v);

/** The members of @req (a JSON object, borrowed) that @op reads, into @out. */
void ops_req_from_json(const struct op_spec *op, const json_t *req, struct op_req *out);

/** A message ready to encode: who gets it, its data, how it travels. */
struct op_msg {
    const struct op_spec *op;
    char type[ND_TYPE_MAX + 1];       /* the type delivered (the op's, or Publish's); "" none */
    char user_id[ND_USER_ID_MAX + 1]; /* "" for OP_TO_ALL, OP_MULTI, a broadcast */
    json_t *user_ids; /* OP_MULTI, Publish to a list: distinct ids in order, owned */
    json_t *data;     /* owned; NULL for queries */
    char *data_text;  /* Publish: data as the caller wrote it (owned), or NULL */
    size_t data_len;
    enum priority priority;
    char group[ND_GROUP_MAX + 1];   /* "" for none */
    enum store_policy store;        /* Publish; others: auto */
    int64_t ttl_ms;                 /* Publish: how long a kept copy waits; 0: the type's own */
    char reason[ND_REASON_MAX + 1]; /* DisconnectUser */
    int reconnect;                  /* DisconnectUser: the client may come back */
    int feed;                       /* notify requests: feed given, -1 not given (the default) */
    /* a notification's data fields, validated with their defaults, in op->fields
     * order (borrowed from the request): what `data` is written from when it is NULL */
    struct op_val vals[OP_FIELDS_MAX];
    /* ListFeed, GetFeedCounts, MarkFeed (ops_feed.c) */
    uint64_t before;         /* ListFeed: items older than this id; 0 from the newest */
    int limit;               /* ListFeed: 1..FEED_LIMIT_MAX */
    enum feed_filter filter; /* ListFeed */
    enum feed_action action; /* MarkFeed */
    int all;                 /* MarkFeed: every item, not ids */
    uint64_t *ids;           /* MarkFeed: n_ids item ids, owned */
    size_t n_ids;
};

/**
 * Checks @req (flat object: user_id or user_ids, priority, group and data
 * fields; Publish: type, data as JSON text (a string) or an object, one
 * target, store, ttl_ms; other keys ignored) against @op and fills @out.
 * Returns 0, or -EINVAL with a message naming the field in @err. Release
 * @out with op_msg_clear().
 */
int ops_build(const struct op_spec *op, const json_t *req, struct op_msg *out, char *err,
              size_t errlen);

/**
 * ops_build() of a typed request (ops_typed(req->op)): the same checks, the same
 * messages, with out->data left NULL -- the data is written from out->vals
 * (ops_data_text), which borrow from @req's source: keep it until encoded.
 */
int ops_build_req(const struct op_req *req, struct op_msg *out, char *err, size_t errlen);

/**
 * Writes @msg's data from msg->vals as compact JSON, byte for byte what jansson
 * dumps for the object ops_build() makes (JSON_REAL_PRECISION(15)), into @buf
 * (@cap bytes, NUL-terminated when it fits). Returns the length it needs (the
 * text is whole only when that is < @cap).
 */
size_t ops_data_text(const struct op_msg *msg, char *buf, size_t cap);

/** The validated value of data field @name of @msg, or NULL. */
const struct op_val *ops_msg_val(const struct op_msg *msg, const char *name);

void op_msg_clear(struct op_msg *msg);

/**
 * Whether the validated @msg is kept in the feed: its request's `feed`, else
 * the default of SPEC §7d -- the op's OP_IN_FEED (Publish: of the op that
 * delivers its type) for users, never for a broadcast.
 */
int ops_in_feed(const struct op_msg *msg);

/** ListFeed, GetFeedCounts, MarkFeed's part of ops_build() (ops_feed.c). */
int ops_build_feed(const struct op_spec *op, const json_t *req, struct op_msg *out, char *err,
                   size_t errlen);

/** The envelope's name for @p: NULL for normal, "high", "urgent". */
const char *ops_priority_name(enum priority p);

/** Writes the message into @err and returns -EINVAL: how validators fail. */
int ops_errorf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** True when @s is an absolute http:// or https:// URL with a host and no spaces. */
int ops_url_valid(const char *s);

#endif
