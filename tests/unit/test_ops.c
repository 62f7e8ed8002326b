/* test_ops: the operation table and ops_build(), the one validator behind
 * gRPC and REST: required fields, JSON types, ranges, URLs, defaults and the
 * order of the `data` keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notification/v1/notification.pb-c.h"
#include "notify/ops.h"

/* parses a literal request */
static json_t *req(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v)
        print_error("bad test JSON %s: %s\n", text, e.text);
    assert_non_null(v);
    return v;
}

/* ops_build(@id, @text) must succeed; caller clears @out */
static void build_ok(enum op_id id, const char *text, struct op_msg *out)
{
    json_t *r = req(text);
    char err[256] = "";
    int rc = ops_build(ops_get(id), r, out, err, sizeof err);
    if (rc != 0)
        print_error("%s %s: %s\n", ops_get(id)->name, text, err);
    assert_int_equal(rc, 0);
    assert_ptr_equal(out->op, ops_get(id));
    json_decref(r);
}

/* ops_build(@id, @r) must fail with -EINVAL and @needle in the message */
static void build_bad_json(enum op_id id, json_t *r, const char *needle)
{
    struct op_msg m;
    char err[256] = "";
    int rc = ops_build(ops_get(id), r, &m, err, sizeof err);
    if (rc != -EINVAL || !strstr(err, needle)) {
        char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
        print_error("%s %.200s: rc %d, err \"%s\", wanted \"%s\"\n", ops_get(id)->name,
                    text ? text : "(null)", rc, err, needle);
        free(text);
    }
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, needle));
    assert_null(m.data); /* nothing to clear after a failure */
    op_msg_clear(&m);
}

static void build_bad(enum op_id id, const char *text, const char *needle)
{
    json_t *r = req(text);
    build_bad_json(id, r, needle);
    json_decref(r);
}

#define TASK_OK "\"user_id\":\"u1\",\"task_id\":\"t1\""

/* --- the table ------------------------------------------------------------------------------ */

static void test_table(void **state)
{
    (void)state;
    for (int i = 0; i < OP__COUNT; i++) {
        const struct op_spec *op = ops_get((enum op_id)i);
        assert_non_null(op);
        assert_int_equal(op->id, i);
        assert_non_null(op->name);
        assert_true(op->name[0] != 0);
        assert_non_null(op->fields);
        assert_ptr_equal(ops_find(op->name), op);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(ops_get((enum op_id)k)->name, op->name);
        /* deliverers have a type (Publish: the caller's), queries don't */
        if ((op->flags & OP_NOTIFY) && !(op->flags & OP_ANY_TYPE))
            assert_non_null(op->type);
        else
            assert_null(op->type);
        /* progress updates are never kept for offline users */
        if (op->flags & OP_PROGRESS)
            assert_false(op->flags & OP_IMPORTANT);
    }
    assert_null(ops_find("NoSuchRpc"));
    assert_null(ops_find(""));
    assert_null(ops_find("notifybatchgostart")); /* exact spelling only */
    assert_null(ops_find("NotifyBatchGoStart "));

    assert_string_equal(ops_get(OP_BATCHGO_OPEN_URL)->name, "NotifyBatchGoOpenUrl");
    assert_string_equal(ops_get(OP_BATCHGO_OPEN_URL)->type, "batchgo_open_url");
    assert_string_equal(ops_get(OP_BATCHGO_PROGRESS)->family, "batchgo");
    assert_string_equal(ops_get(OP_SITERANK_COMPLETE)->family, "siterank");
    assert_string_equal(ops_get(OP_CHENGELINK_START)->family, "chengelink");
    assert_string_equal(ops_get(OP_BROADCAST)->type, "system_notification");
    assert_true(ops_get(OP_BROADCAST)->flags & OP_TO_ALL);
    assert_false(ops_get(OP_SYSTEM_NOTIFICATION)->flags & OP_TO_ALL);
    assert_true(ops_get(OP_SITERANK_PROGRESS)->flags & OP_PROGRESS);
    assert_true(ops_get(OP_CHENGELINK_COMPLETE)->flags & OP_IMPORTANT);
}

static void test_table_matches_proto(void **state)
{
    (void)state;
    /* every RPC of the service has an op of the same name, and nothing more */
    const ProtobufCServiceDescriptor *svc = &notification__v1__notification_service__descriptor;
    assert_int_equal(svc->n_methods, OP__COUNT);
    for (unsigned i = 0; i < svc->n_methods; i++) {
        const struct op_spec *op = ops_find(svc->methods[i].name);
        if (!op)
            print_error("RPC %s has no op\n", svc->methods[i].name);
        assert_non_null(op);
    }
}

/* --- required fields and the user ------------------------------------------------------------ */

static void test_required(void **state)
{
    (void)state;
    build_bad(OP_BATCHGO_START, "{\"user_id\":\"u1\"}", "task_id");
    build_bad(OP_BATCHGO_START, "{\"user_id\":\"u1\",\"task_id\":null}", "task_id is required");
    build_bad(OP_BATCHGO_START, "{\"user_id\":\"u1\",\"task_id\":\"\"}", "task_id is required");
    build_bad(OP_BATCHGO_OPEN_URL, "{\"user_id\":\"u1\",\"urls\":[\"https://a.example\"]}",
              "task_id");
    build_bad(OP_BATCHGO_OPEN_URL, "{\"user_id\":\"u1\",\"task_id\":\"t\"}", "urls");
    build_bad(OP_SYSTEM_NOTIFICATION, "{\"user_id\":\"u1\",\"title\":\"hi\"}", "message");
    build_bad(OP_BROADCAST, "{\"title\":\"hi\"}", "message");
    build_bad(OP_PLAN_EXPIRING, "{\"user_id\":\"u1\",\"days_left\":3}", "plan_name");
    build_bad(OP_PLAN_EXPIRED, "{\"user_id\":\"u1\"}", "plan_name");

    /* the user: required for every op but broadcast and stats */
    build_bad(OP_BATCHGO_START, "{\"task_id\":\"t1\"}", "user_id");
    build_bad(OP_TEST_MESSAGE, "{}", "user_id");
    build_bad(OP_IS_USER_ONLINE, "{}", "user_id is required");
    build_bad(OP_GET_BACKLOG, "{}", "user_id is required");
    build_bad(OP_TOKEN_INSUFFICIENT, "{\"user_id\":\"\"}", "user_id is required");
    build_bad(OP_TOKEN_INSUFFICIENT, "{\"user_id\":null}", "user_id is required");

    /* the request itself must be an object */
    json_t *arr = json_array();
    build_bad_json(OP_BATCHGO_START, arr, "JSON object");
    json_decref(arr);
    build_bad_json(OP_BROADCAST, NULL, "JSON object");
    json_t *s = json_string("{\"user_id\":\"u1\"}");
    build_bad_json(OP_TEST_MESSAGE, s, "JSON object");
    json_decref(s);
}

static void test_user_id(void **state)
{
    (void)state;
    struct op_msg m;
    build_ok(OP_BATCHGO_START, "{\"user_id\":42,\"task_id\":\"t\"}", &m);
    assert_string_equal(m.user_id, "42");
    op_msg_clear(&m);
    build_ok(OP_BATCHGO_START, "{\"user_id\":-7,\"task_id\":\"t\"}", &m);
    assert_string_equal(m.user_id, "-7");
    op_msg_clear(&m);
    build_ok(OP_BATCHGO_START, "{\"user_id\":\"me@example.com:1_2-3\",\"task_id\":\"t\"}", &m);
    assert_string_equal(m.user_id, "me@example.com:1_2-3");
    op_msg_clear(&m);

    build_bad(OP_BATCHGO_START, "{\"user_id\":\"a b\",\"task_id\":\"t\"}", "user_id");
    build_bad(OP_BATCHGO_START, "{\"user_id\":\"a/b\",\"task_id\":\"t\"}", "user_id");
    build_bad(OP_BATCHGO_START, "{\"user_id\":\"caf\\u00e9\",\"task_id\":\"t\"}", "user_id");
    build_bad(OP_BATCHGO_START, "{\"user_id\":true,\"task_id\":\"t\"}", "user_id must be a string");
    build_bad(OP_BATCHGO_START, "{\"user_id\":1.5,\"task_id\":\"t\"}", "user_id must be a string");
    build_bad(OP_BATCHGO_START, "{\"user_id\":[\"u\"],\"task_id\":\"t\"}", "user_id");
    /* a user id with an embedded NUL is refused, not cut short to "alice" */
    json_t *nul = json_pack("{s:s%, s:s}", "user_id", "alice\0x", (size_t)7, "task_id", "t");
    build_bad_json(OP_BATCHGO_START, nul, "user_id");
    json_decref(nul);

    char text[512], id[ND_USER_ID_MAX + 2];
    memset(id, 'u', ND_USER_ID_MAX);
    id[ND_USER_ID_MAX] = 0;
    snprintf(text, sizeof text, "{\"user_id\":\"%s\"}", id);
    build_ok(OP_IS_USER_ONLINE, text, &m);
    assert_string_equal(m.user_id, id);
    op_msg_clear(&m);
    id[ND_USER_ID_MAX] = 'u';
    id[ND_USER_ID_MAX + 1] = 0;
    snprintf(text, sizeof text, "{\"user_id\":\"%s\"}", id);
    build_bad(OP_IS_USER_ONLINE, text, "user_id");
}

static void test_broadcast_and_queries(void **state)
{
    (void)state;
    struct op_msg m;
    /* broadcast: no user, and a given one is not used */
    build_ok(OP_BROADCAST, "{\"message\":\"maintenance at 10\"}", &m);
    assert_string_equal(m.user_id, "");
    assert_non_null(m.data);
    assert_string_equal(json_string_value(json_object_get(m.data, "message")), "maintenance at 10");
    op_msg_clear(&m);
    build_ok(OP_BROADCAST, "{\"user_id\":\"u1\",\"message\":\"m\"}", &m);
    assert_string_equal(m.user_id, "");
    assert_null(json_object_get(m.data, "user_id"));
    op_msg_clear(&m);
    build_ok(OP_BROADCAST, "{\"user_id\":\"not valid!\",\"message\":\"m\"}", &m);
    op_msg_clear(&m);

    /* queries carry no data */
    build_ok(OP_GET_STATS, "{}", &m);
    assert_null(m.data);
    op_msg_clear(&m);
    build_ok(OP_IS_USER_ONLINE, "{\"user_id\":\"u9\",\"extra\":1}", &m);
    assert_string_equal(m.user_id, "u9");
    assert_null(m.data);
    op_msg_clear(&m);
}

/* --- types and ranges --------------------------------------------------------------------- */

static void test_wrong_types(void **state)
{
    (void)state;
    build_bad(OP_BATCHGO_START, "{\"user_id\":\"u1\",\"task_id\":5}", "task_id must be a string");
    build_bad(OP_BATCHGO_START, "{" TASK_OK ",\"status\":{}}", "status must be a string");
    build_bad(OP_BATCHGO_START, "{" TASK_OK ",\"progress\":\"50\"}", "progress must be a number");
    build_bad(OP_BATCHGO_START, "{" TASK_OK ",\"progress\":true}", "progress");
    build_bad(OP_BATCHGO_START, "{" TASK_OK ",\"total\":\"5\"}", "total must be an integer");
    build_bad(OP_BATCHGO_START, "{" TASK_OK ",\"total\":5.5}", "total must be an integer");
    build_bad(OP_BATCHGO_START, "{" TASK_OK ",\"completed\":false}", "completed");
    build_bad(OP_BATCHGO_START, "{" TASK_OK ",\"end_time\":1e20}", "end_time");
    build_bad(OP_SYSTEM_NOTIFICATION, "{\"user_id\":\"u\",\"message\":\"m\",\"level\":3}",
              "level must be a string");
    build_bad(OP_SYSTEM_NOTIFICATION, "{\"user_id\":\"u\",\"message\":[\"m\"]}", "message");
    build_bad(OP_BATCHGO_OPEN_URL, "{\"user_id\":\"u\",\"task_id\":\"t\",\"urls\":\"http://x\"}",
              "urls must be an array");
    build_bad(OP_BATCHGO_OPEN_URL, "{\"user_id\":\"u\",\"task_id\":\"t\",\"urls\":[1]}",
              "urls[0] must be a string");
    build_bad(OP_BATCHGO_OPEN_URL,
              "{\"user_id\":\"u\",\"task_id\":\"t\",\"urls\":[\"https://a.example\",null]}",
              "urls[1]");

    /* a whole number written as a real is an integer */
    struct op_msg m;
    build_ok(OP_BATCHGO_START, "{" TASK_OK ",\"total\":5.0}", &m);
    assert_true(json_is_integer(json_object_get(m.data, "total")));
    assert_int_equal(json_integer_value(json_object_get(m.data, "total")), 5);
    op_msg_clear(&m);
    /* an integer progress is stored as a number */
    build_ok(OP_BATCHGO_START, "{" TASK_OK ",\"progress\":50}", &m);
    assert_true(json_is_real(json_object_get(m.data, "progress")));
    assert_true(json_real_value(json_object_get(m.data, "progress")) == 50.0);
    op_msg_clear(&m);
}

struct range_case {
    enum op_id op;
    const char *base; /* the other required fields */
    const char *field, *value;
    int ok;
};

static void test_ranges(void **state)
{
    (void)state;
#define NOTE "\"user_id\":\"u\",\"plan_name\":\"pro\""
#define URLS "\"user_id\":\"u\",\"task_id\":\"t\",\"urls\":[\"https://a.example\"]"
#define TOK "\"user_id\":\"u\""
    static const struct range_case cases[] = {
        {OP_BATCHGO_PROGRESS, TASK_OK, "progress", "0", 1},
        {OP_BATCHGO_PROGRESS, TASK_OK, "progress", "100", 1},
        {OP_BATCHGO_PROGRESS, TASK_OK, "progress", "65.5", 1},
        {OP_BATCHGO_PROGRESS, TASK_OK, "progress", "-0.1", 0},
        {OP_BATCHGO_PROGRESS, TASK_OK, "progress", "100.01", 0},
        {OP_BATCHGO_PROGRESS, TASK_OK, "progress", "-1", 0},
        {OP_BATCHGO_PROGRESS, TASK_OK, "progress", "1e308", 0},
        {OP_BATCHGO_PROGRESS, TASK_OK, "total", "2147483647", 1},
        {OP_BATCHGO_PROGRESS, TASK_OK, "total", "2147483648", 0},
        {OP_BATCHGO_PROGRESS, TASK_OK, "failed", "-1", 0},
        {OP_BATCHGO_PROGRESS, TASK_OK, "start_time", "32503680000", 1},
        {OP_BATCHGO_PROGRESS, TASK_OK, "start_time", "32503680001", 0},
        {OP_BATCHGO_PROGRESS, TASK_OK, "end_time", "-1", 0},
        {OP_BATCHGO_OPEN_URL, URLS, "delay", "0", 1},
        {OP_BATCHGO_OPEN_URL, URLS, "delay", "600000", 1},
        {OP_BATCHGO_OPEN_URL, URLS, "delay", "600001", 0},
        {OP_BATCHGO_OPEN_URL, URLS, "delay", "-1", 0},
        {OP_PLAN_EXPIRING, NOTE, "days_left", "0", 1},
        {OP_PLAN_EXPIRING, NOTE, "days_left", "36500", 1},
        {OP_PLAN_EXPIRING, NOTE, "days_left", "36501", 0},
        {OP_PLAN_EXPIRING, NOTE, "days_left", "-1", 0},
        {OP_PLAN_EXPIRED, NOTE, "expires_at", "-5", 0},
        {OP_TOKEN_INSUFFICIENT, TOK, "current_balance", "-2147483648", 1},
        {OP_TOKEN_INSUFFICIENT, TOK, "current_balance", "-2147483649", 0},
        {OP_TOKEN_INSUFFICIENT, TOK, "current_balance", "2147483647", 1},
        {OP_TOKEN_INSUFFICIENT, TOK, "required_tokens", "-1", 0},
        {OP_TOKEN_INSUFFICIENT, TOK, "required_tokens", "9223372036854775807", 0},
    };
#undef NOTE
#undef URLS
#undef TOK
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct range_case *c = &cases[i];
        char text[512];
        snprintf(text, sizeof text, "{%s,\"%s\":%s}", c->base, c->field, c->value);
        if (c->ok) {
            struct op_msg m;
            build_ok(c->op, text, &m);
            json_t *want = req(c->value);
            json_t *got = json_object_get(m.data, c->field);
            assert_non_null(got);
            assert_true(json_number_value(got) == json_number_value(want));
            json_decref(want);
            op_msg_clear(&m);
        } else {
            char needle[64];
            snprintf(needle, sizeof needle, "%s is ", c->field);
            build_bad(c->op, text, needle);
        }
    }
}

static void test_string_limits(void **state)
{
    (void)state;
    struct op_msg m;
    char *text = malloc(8192);
    char *msg = malloc(4200);
    assert_non_null(text);
    assert_non_null(msg);

    memset(msg, 'm', 4096);
    msg[4096] = 0;
    snprintf(text, 8192, "{\"user_id\":\"u\",\"message\":\"%s\"}", msg);
    build_ok(OP_SYSTEM_NOTIFICATION, text, &m);
    assert_int_equal(json_string_length(json_object_get(m.data, "message")), 4096);
    op_msg_clear(&m);
    strcat(msg, "m");
    snprintf(text, 8192, "{\"user_id\":\"u\",\"message\":\"%s\"}", msg);
    build_bad(OP_SYSTEM_NOTIFICATION, text, "message is 4097 bytes");

    /* the limit counts bytes, not characters: 2049 two-byte characters */
    msg[0] = 0;
    for (int i = 0; i < 2049; i++)
        strcat(msg, "\xc3\xa9");
    snprintf(text, 8192, "{\"user_id\":\"u\",\"message\":\"%s\"}", msg);
    build_bad(OP_SYSTEM_NOTIFICATION, text, "message");

    memset(msg, 't', 257);
    msg[257] = 0;
    snprintf(text, 8192, "{\"user_id\":\"u\",\"message\":\"m\",\"title\":\"%s\"}", msg);
    build_bad(OP_SYSTEM_NOTIFICATION, text, "title");
    msg[256] = 0;
    snprintf(text, 8192, "{\"user_id\":\"u\",\"message\":\"m\",\"title\":\"%s\"}", msg);
    build_ok(OP_SYSTEM_NOTIFICATION, text, &m);
    op_msg_clear(&m);

    memset(msg, 'i', 129);
    msg[129] = 0;
    snprintf(text, 8192, "{\"user_id\":\"u\",\"task_id\":\"%s\"}", msg);
    build_bad(OP_SITERANK_START, text, "task_id");
    msg[128] = 0;
    snprintf(text, 8192, "{\"user_id\":\"u\",\"task_id\":\"%s\"}", msg);
    build_ok(OP_SITERANK_START, text, &m);
    op_msg_clear(&m);

    /* strings with NUL inside are refused */
    build_bad(OP_SYSTEM_NOTIFICATION, "{\"user_id\":\"u\",\"message\":\"a\\u0000b\"}", "NUL");
    build_bad(OP_BATCHGO_START, "{\"user_id\":\"u\",\"task_id\":\"t\\u0000\"}", "task_id");

    free(msg);
    free(text);
}

/* --- URLs ---------------------------------------------------------------------------------- */

static void test_urls_field(void **state)
{
    (void)state;
    struct op_msg m;
#define OPEN(u) "{\"user_id\":\"u\",\"task_id\":\"t\",\"urls\":" u "}"
    build_ok(OP_BATCHGO_OPEN_URL, OPEN("[\"https://a.example/x?y=1\",\"http://b.example\"]"), &m);
    json_t *urls = json_object_get(m.data, "urls");
    assert_true(json_is_array(urls));
    assert_int_equal(json_array_size(urls), 2);
    assert_string_equal(json_string_value(json_array_get(urls, 1)), "http://b.example");
    assert_int_equal(json_integer_value(json_object_get(m.data, "delay")), 0);
    op_msg_clear(&m);

    build_bad(OP_BATCHGO_OPEN_URL, OPEN("[]"), "urls needs at least one URL");
    build_bad(OP_BATCHGO_OPEN_URL, OPEN("null"), "urls");
    build_bad(OP_BATCHGO_OPEN_URL, OPEN("{\"0\":\"https://a.example\"}"), "urls must be an array");
    build_bad(OP_BATCHGO_OPEN_URL, OPEN("[\"javascript:alert(1)\"]"), "urls[0]");
    build_bad(OP_BATCHGO_OPEN_URL, OPEN("[\"https://ok.example\",\"ftp://x\"]"), "urls[1]");
    build_bad(OP_BATCHGO_OPEN_URL, OPEN("[\"https://\"]"), "urls[0]");
    build_bad(OP_BATCHGO_OPEN_URL, OPEN("[\"https://a.example/a b\"]"), "urls[0]");
    build_bad(OP_BATCHGO_OPEN_URL, OPEN("[\"\"]"), "urls[0]");
    build_bad(OP_BATCHGO_OPEN_URL, OPEN("[\"data:text/html,hi\"]"), "urls[0]");
#undef OPEN

    /* 100 URLs pass, 101 don't */
    json_t *r = req("{\"user_id\":\"u\",\"task_id\":\"t\"}");
    json_t *list = json_array();
    for (int i = 0; i < 100; i++) {
        char u[64];
        snprintf(u, sizeof u, "https://site%d.example/", i);
        json_array_append_new(list, json_string(u));
    }
    json_object_set(r, "urls", list);
    char err[256] = "";
    assert_int_equal(ops_build(ops_get(OP_BATCHGO_OPEN_URL), r, &m, err, sizeof err), 0);
    assert_int_equal(json_array_size(json_object_get(m.data, "urls")), 100);
    op_msg_clear(&m);
    json_array_append_new(list, json_string("https://one-too-many.example/"));
    build_bad_json(OP_BATCHGO_OPEN_URL, r, "101");
    json_decref(list);
    json_decref(r);

    /* each URL at most 2048 bytes */
    char *u = malloc(2100);
    assert_non_null(u);
    strcpy(u, "https://a.example/");
    size_t n = strlen(u);
    memset(u + n, 'p', 2048 - n);
    u[2048] = 0;
    r = req("{\"user_id\":\"u\",\"task_id\":\"t\"}");
    list = json_array();
    json_array_append_new(list, json_string(u));
    json_object_set_new(r, "urls", list);
    assert_int_equal(ops_build(ops_get(OP_BATCHGO_OPEN_URL), r, &m, err, sizeof err), 0);
    op_msg_clear(&m);
    strcat(u, "p");
    json_array_set_new(list, 0, json_string(u));
    build_bad_json(OP_BATCHGO_OPEN_URL, r, "urls[0]");
    json_decref(r);
    free(u);
}

static void test_url_fields(void **state)
{
    (void)state;
    struct op_msg m;
#define NOTE(u) "{\"user_id\":\"u\",\"message\":\"m\",\"action_url\":" u "}"
    build_ok(OP_SYSTEM_NOTIFICATION, NOTE("\"https://app.example/billing\""), &m);
    assert_string_equal(json_string_value(json_object_get(m.data, "action_url")),
                        "https://app.example/billing");
    op_msg_clear(&m);
    build_ok(OP_SYSTEM_NOTIFICATION, NOTE("\"\""), &m); /* optional: empty is fine */
    assert_string_equal(json_string_value(json_object_get(m.data, "action_url")), "");
    op_msg_clear(&m);
    build_bad(OP_SYSTEM_NOTIFICATION, NOTE("\"javascript:alert(1)\""), "action_url");
    build_bad(OP_SYSTEM_NOTIFICATION, NOTE("\"ftp://x\""), "action_url");
    build_bad(OP_SYSTEM_NOTIFICATION, NOTE("\"https://\""), "action_url");
    build_bad(OP_SYSTEM_NOTIFICATION, NOTE("\"/relative/path\""), "action_url");
    build_bad(OP_SYSTEM_NOTIFICATION, NOTE("7"), "action_url must be a string");
    build_bad(OP_BROADCAST, "{\"message\":\"m\",\"action_url\":\"vbscript:x\"}", "action_url");
#undef NOTE
    build_bad(OP_PLAN_EXPIRING, "{\"user_id\":\"u\",\"plan_name\":\"pro\",\"upgrade_url\":\"x\"}",
              "upgrade_url");
    build_bad(OP_PLAN_EXPIRED,
              "{\"user_id\":\"u\",\"plan_name\":\"pro\",\"upgrade_url\":\"javascript:x\"}",
              "upgrade_url");
    build_ok(OP_PLAN_EXPIRED,
             "{\"user_id\":\"u\",\"plan_name\":\"pro\",\"upgrade_url\":\"HTTPS://SHOP.EXAMPLE\"}",
             &m);
    op_msg_clear(&m);
}

static void test_url_valid(void **state)
{
    (void)state;
    static const char *const good[] = {
        "http://a",
        "https://example.com",
        "https://example.com/path?q=1&r=2#frag",
        "HTTP://EXAMPLE.COM",
        "HtTpS://example.com",
        "http://127.0.0.1:8080/",
        "https://[::1]:8443/x",
        "https://user@example.com/",
        "https://example.com/%20encoded",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!ops_url_valid(good[i]))
            print_error("refused %s\n", good[i]);
        assert_true(ops_url_valid(good[i]));
    }
    static const char *const bad[] = {
        "",
        "http://",
        "https://",
        "https:///path",
        "http://?q=1",
        "http://#f",
        "ftp://example.com",
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "//example.com",
        "http:/example.com",
        "http:example.com",
        "example.com",
        " http://example.com",
        "http://exa mple.com",
        "http://example.com/a b",
        "http://example.com/\"onmouseover=\"x",
        "http://example.com/<script>",
        "http://example.com\\evil",
        "http://example.com/\t",
        "http://example.com/\n",
        "http://example.com/\x7f",
        "https:",
        "httpss://example.com",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ops_url_valid(bad[i]))
            print_error("accepted \"%s\"\n", bad[i]);
        assert_false(ops_url_valid(bad[i]));
    }
}

/* --- defaults, levels, data ---------------------------------------------------------------- */

static void test_level(void **state)
{
    (void)state;
    struct op_msg m;
    build_ok(OP_SYSTEM_NOTIFICATION, "{\"user_id\":\"u\",\"message\":\"m\"}", &m);
    assert_string_equal(json_string_value(json_object_get(m.data, "level")), "info");
    op_msg_clear(&m);
    build_ok(OP_SYSTEM_NOTIFICATION, "{\"user_id\":\"u\",\"message\":\"m\",\"level\":\"\"}", &m);
    assert_string_equal(json_string_value(json_object_get(m.data, "level")), "info");
    op_msg_clear(&m);
    build_ok(OP_BROADCAST, "{\"message\":\"m\",\"level\":null}", &m);
    assert_string_equal(json_string_value(json_object_get(m.data, "level")), "info");
    op_msg_clear(&m);

    static const char *const levels[] = {"info", "warning", "error", "success"};
    for (size_t i = 0; i < 4; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"message\":\"m\",\"level\":\"%s\"}", levels[i]);
        build_ok(OP_BROADCAST, text, &m);
        assert_string_equal(json_string_value(json_object_get(m.data, "level")), levels[i]);
        op_msg_clear(&m);
    }
    build_bad(OP_BROADCAST, "{\"message\":\"m\",\"level\":\"critical\"}", "level must be one of");
    build_bad(OP_BROADCAST, "{\"message\":\"m\",\"level\":\"WARNING\"}", "level");
    build_bad(OP_BROADCAST, "{\"message\":\"m\",\"level\":\"warn\"}", "level");
    build_bad(OP_BROADCAST, "{\"message\":\"m\",\"level\":\"info \"}", "level");
}

static void test_task_type_default(void **state)
{
    (void)state;
    static const struct {
        enum op_id op;
        const char *family;
    } fams[] = {
        {OP_BATCHGO_START, "batchgo"},          {OP_BATCHGO_PROGRESS, "batchgo"},
        {OP_BATCHGO_COMPLETE, "batchgo"},       {OP_SITERANK_START, "siterank"},
        {OP_SITERANK_PROGRESS, "siterank"},     {OP_SITERANK_COMPLETE, "siterank"},
        {OP_CHENGELINK_START, "chengelink"},    {OP_CHENGELINK_PROGRESS, "chengelink"},
        {OP_CHENGELINK_COMPLETE, "chengelink"},
    };
    struct op_msg m;
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
        build_ok(fams[i].op, "{" TASK_OK "}", &m);
        assert_string_equal(json_string_value(json_object_get(m.data, "task_type")),
                            fams[i].family);
        op_msg_clear(&m);
        build_ok(fams[i].op, "{" TASK_OK ",\"task_type\":\"\"}", &m);
        assert_string_equal(json_string_value(json_object_get(m.data, "task_type")),
                            fams[i].family);
        op_msg_clear(&m);
        build_ok(fams[i].op, "{" TASK_OK ",\"task_type\":null}", &m);
        assert_string_equal(json_string_value(json_object_get(m.data, "task_type")),
                            fams[i].family);
        op_msg_clear(&m);
    }
    /* a given one is kept */
    build_ok(OP_BATCHGO_PROGRESS, "{" TASK_OK ",\"task_type\":\"siterank\"}", &m);
    assert_string_equal(json_string_value(json_object_get(m.data, "task_type")), "siterank");
    op_msg_clear(&m);
    /* ops without a family default to "" */
    build_ok(OP_TOKEN_INSUFFICIENT, "{\"user_id\":\"u\"}", &m);
    assert_string_equal(json_string_value(json_object_get(m.data, "task_type")), "");
    op_msg_clear(&m);
    build_bad(OP_BATCHGO_PROGRESS, "{" TASK_OK ",\"task_type\":7}", "task_type");
}

static void test_defaults_filled(void **state)
{
    (void)state;
    struct op_msg m;
    build_ok(OP_BATCHGO_PROGRESS, "{" TASK_OK "}", &m);
    assert_string_equal(m.user_id, "u1");
    json_t *want = req("{\"task_id\":\"t1\",\"task_type\":\"batchgo\",\"status\":\"\","
                       "\"progress\":0.0,\"total\":0,\"completed\":0,\"failed\":0,"
                       "\"message\":\"\",\"start_time\":0,\"end_time\":0}");
    assert_true(json_equal(m.data, want));
    assert_true(json_is_real(json_object_get(m.data, "progress")));
    json_decref(want);
    op_msg_clear(&m);

    build_ok(OP_PLAN_EXPIRING, "{\"user_id\":\"u\",\"plan_name\":\"pro\"}", &m);
    want = req("{\"plan_name\":\"pro\",\"days_left\":0,\"expires_at\":0,\"message\":\"\","
               "\"upgrade_url\":\"\"}");
    assert_true(json_equal(m.data, want));
    json_decref(want);
    op_msg_clear(&m);
    op_msg_clear(&m); /* clearing twice is harmless */
}

static void test_full_values(void **state)
{
    (void)state;
    struct op_msg m;
    build_ok(OP_SITERANK_COMPLETE,
             "{\"user_id\":\"u7\",\"task_id\":\"job-9\",\"task_type\":\"siterank\","
             "\"status\":\"completed\",\"progress\":100,\"total\":10,\"completed\":9,"
             "\"failed\":1,\"message\":\"done \\u2713\",\"start_time\":1700000000,"
             "\"end_time\":1700000060}",
             &m);
    json_t *want = req("{\"task_id\":\"job-9\",\"task_type\":\"siterank\",\"status\":\"completed\","
                       "\"progress\":100.0,\"total\":10,\"completed\":9,\"failed\":1,"
                       "\"message\":\"done \\u2713\",\"start_time\":1700000000,"
                       "\"end_time\":1700000060}");
    assert_true(json_equal(m.data, want));
    json_decref(want);
    op_msg_clear(&m);
}

static void test_test_message(void **state)
{
    (void)state;
    struct op_msg m;
    build_ok(OP_TEST_MESSAGE, "{\"user_id\":\"u5\",\"message\":\"ignored\"}", &m);
    assert_string_equal(m.user_id, "u5");
    assert_true(json_is_object(m.data));
    assert_true(json_is_true(json_object_get(m.data, "test")));
    assert_string_equal(json_string_value(json_object_get(m.data, "level")), "info");
    assert_non_null(json_string_value(json_object_get(m.data, "title")));
    assert_string_not_equal(json_string_value(json_object_get(m.data, "message")), "ignored");
    op_msg_clear(&m);

    /* each build gets its own copy */
    struct op_msg m2;
    build_ok(OP_TEST_MESSAGE, "{\"user_id\":\"u5\"}", &m);
    build_ok(OP_TEST_MESSAGE, "{\"user_id\":\"u6\"}", &m2);
    assert_ptr_not_equal(m.data, m2.data);
    json_object_set_new(m.data, "test", json_false());
    assert_true(json_is_true(json_object_get(m2.data, "test")));
    op_msg_clear(&m);
    op_msg_clear(&m2);
}

static void test_key_order(void **state)
{
    (void)state;
    /* a request listing its fields backwards still yields spec order */
    static const char *const reqs[OP__COUNT] = {
        [OP_BATCHGO_START] = "{\"end_time\":1,\"message\":\"x\",\"progress\":3," TASK_OK "}",
        [OP_BATCHGO_PROGRESS] = "{\"progress\":3,\"status\":\"s\"," TASK_OK "}",
        [OP_BATCHGO_COMPLETE] = "{" TASK_OK "}",
        [OP_BATCHGO_OPEN_URL] =
            "{\"delay\":5,\"urls\":[\"https://a.example\"],\"task_id\":\"t\",\"user_id\":\"u\"}",
        [OP_SITERANK_START] = "{\"failed\":2," TASK_OK "}",
        [OP_SITERANK_PROGRESS] = "{" TASK_OK "}",
        [OP_SITERANK_COMPLETE] = "{" TASK_OK "}",
        [OP_CHENGELINK_START] = "{" TASK_OK "}",
        [OP_CHENGELINK_PROGRESS] = "{" TASK_OK "}",
        [OP_CHENGELINK_COMPLETE] = "{" TASK_OK "}",
        [OP_SYSTEM_NOTIFICATION] = "{\"action_url\":\"\",\"level\":\"error\",\"message\":\"m\","
                                   "\"title\":\"t\",\"user_id\":\"u\"}",
        [OP_TOKEN_INSUFFICIENT] = "{\"message\":\"m\",\"current_balance\":1,\"user_id\":\"u\"}",
        [OP_PLAN_EXPIRING] = "{\"upgrade_url\":\"\",\"plan_name\":\"p\",\"user_id\":\"u\"}",
        [OP_PLAN_EXPIRED] = "{\"message\":\"m\",\"plan_name\":\"p\",\"user_id\":\"u\"}",
        [OP_BROADCAST] = "{\"action\":\"a\",\"message\":\"m\"}",
        [OP_NOTIFY_USERS] = "{\"level\":\"info\",\"message\":\"m\",\"user_ids\":[\"a\",\"b\"]}",
    };
    int checked = 0;
    for (int i = 0; i < OP__COUNT; i++) {
        const struct op_spec *op = ops_get((enum op_id)i);
        if (!(op->flags & OP_NOTIFY) || op->fixed_data || (op->flags & OP_ANY_TYPE))
            continue; /* Publish: data as written (test_publish_data) */
        assert_non_null(reqs[i]);
        struct op_msg m;
        build_ok((enum op_id)i, reqs[i], &m);
        void *it = json_object_iter(m.data);
        const struct field_spec *f = op->fields;
        for (; f->name; f++) {
            assert_non_null(it);
            if (strcmp(json_object_iter_key(it), f->name))
                print_error("%s: key %s where %s belongs\n", op->name, json_object_iter_key(it),
                            f->name);
            assert_string_equal(json_object_iter_key(it), f->name);
            it = json_object_iter_next(m.data, it);
        }
        assert_null(it); /* and nothing else */
        assert_int_equal(json_object_size(m.data), (size_t)(f - op->fields));
        op_msg_clear(&m);
        checked++;
    }
    assert_int_equal(checked, 16);
}

static void test_extra_keys_ignored(void **state)
{
    (void)state;
    struct op_msg m;
    build_ok(OP_BATCHGO_START,
             "{" TASK_OK ",\"evil\":\"<script>\",\"type\":\"x\",\"timestamp\":1,"
             "\"message_id\":\"ffffffffffffffff\",\"data\":{}}",
             &m);
    assert_null(json_object_get(m.data, "evil"));
    assert_null(json_object_get(m.data, "type"));
    assert_null(json_object_get(m.data, "timestamp"));
    assert_null(json_object_get(m.data, "message_id"));
    assert_null(json_object_get(m.data, "data"));
    assert_null(json_object_get(m.data, "user_id"));
    assert_int_equal(json_object_size(m.data), 10);
    op_msg_clear(&m);
}

static void test_request_not_modified(void **state)
{
    (void)state;
    json_t *r = req("{\"user_id\":\"u\",\"task_id\":\"t\",\"progress\":5}");
    json_t *copy = json_deep_copy(r);
    struct op_msg m;
    char err[256];
    assert_int_equal(ops_build(ops_get(OP_BATCHGO_PROGRESS), r, &m, err, sizeof err), 0);
    assert_true(json_equal(r, copy));
    op_msg_clear(&m);
    json_decref(copy);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_matches_proto),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_user_id),
        cmocka_unit_test(test_broadcast_and_queries),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_urls_field),
        cmocka_unit_test(test_url_fields),
        cmocka_unit_test(test_url_valid),
        cmocka_unit_test(test_level),
        cmocka_unit_test(test_task_type_default),
        cmocka_unit_test(test_defaults_filled),
        cmocka_unit_test(test_full_values),
        cmocka_unit_test(test_test_message),
        cmocka_unit_test(test_key_order),
        cmocka_unit_test(test_extra_keys_ignored),
        cmocka_unit_test(test_request_not_modified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
