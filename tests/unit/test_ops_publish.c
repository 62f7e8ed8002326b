/* test_ops_publish: Publish and DisconnectUser through ops_build(), the one
 * validator behind gRPC and REST: the caller's type (pattern, reserved
 * names), exactly one target, data kept as written (JSON text or an object,
 * at most 64 KiB), store and ttl_ms, the types notifyd knows; a disconnect's
 * user, reason and reconnect. (test_ops.c has the table and the rest.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (rc != -EINVAL || !strstr(err, needle))
        print_error("%s: rc %d, err \"%s\", wanted \"%s\"\n", ops_get(id)->name, rc, err, needle);
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

static void test_publish_type(void **state)
{
    (void)state;
    struct op_msg m;
    static const char *const good[] = {
        "a", "order.shipped", "chat:message", "x-1_2.3:4", "system_notification",
        /* 64 bytes */
        "a123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"type\":\"%s\",\"user_id\":\"u1\"}", good[i]);
        build_ok(OP_PUBLISH, text, &m);
        assert_string_equal(m.type, good[i]);
        assert_string_equal(m.data_text, "{}"); /* no data: an empty object */
        op_msg_clear(&m);
    }
    build_bad(OP_PUBLISH, "{\"user_id\":\"u1\"}", "type is required");
    build_bad(OP_PUBLISH, "{\"type\":\"\",\"user_id\":\"u1\"}", "type is required");
    build_bad(OP_PUBLISH, "{\"type\":7,\"user_id\":\"u1\"}", "type must be a string");
    static const char *const malformed[] = {"Order", "1abc",       "_x",        "a b",
                                            "a/b",   "caf\\u00e9", "a\\u0000b", "x\\\"y"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"type\":\"%s\",\"user_id\":\"u1\"}", malformed[i]);
        build_bad(OP_PUBLISH, text, "type must be 1 to 64 characters");
    }
    build_bad(OP_PUBLISH,
              "{\"type\":\"a1234567890123456789012345678901234567890123456789012345678901234\","
              "\"user_id\":\"u1\"}",
              "type is 65 bytes, the limit is 64");
    static const char *const reserved[] = {"connected",    "ping",      "pong",  "error",
                                           "disconnected", "refreshed", "batch", "feed_update"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        char text[256], needle[128];
        snprintf(text, sizeof text, "{\"type\":\"%s\",\"broadcast\":true}", reserved[i]);
        snprintf(needle, sizeof needle, "type \"%s\" is one of notifyd's own", reserved[i]);
        build_bad(OP_PUBLISH, text, needle);
    }
}

static void test_publish_target(void **state)
{
    (void)state;
    struct op_msg m;
    build_ok(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"u1\",\"user_ids\":[],\"broadcast\":false}",
             &m);
    assert_string_equal(m.user_id, "u1"); /* gRPC's empty fields are no target */
    assert_null(m.user_ids);
    op_msg_clear(&m);
    build_ok(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"\",\"user_ids\":[\"a\",\"b\",\"a\"]}", &m);
    assert_int_equal(json_array_size(m.user_ids), 2);
    op_msg_clear(&m);
    build_ok(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":true}", &m);
    assert_string_equal(m.user_id, "");
    assert_null(m.user_ids);
    op_msg_clear(&m);
    build_bad(OP_PUBLISH, "{\"type\":\"t\"}", "exactly one target: user_id, user_ids or broadcast");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"u\",\"broadcast\":true}",
              "more than one was given");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"u\",\"user_ids\":[\"v\"]}",
              "more than one");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":\"yes\"}",
              "broadcast must be true or false");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"bad id\"}", "user_id must be");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"user_ids\":[\"ok\",\"bad id\"]}", "user_ids[1]");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"user_ids\":\"u1\"}", "user_ids must be an array");
}

static void test_publish_data(void **state)
{
    (void)state;
    struct op_msg m;
    /* text kept exactly; an object (a caller of ops_build's own) serialized */
    build_ok(OP_PUBLISH,
             "{\"type\":\"t\",\"broadcast\":true,\"data\":\" {\\\"z\\\":1,\\\"a\\\":2.50} \"}", &m);
    assert_string_equal(m.data_text, " {\"z\":1,\"a\":2.50} ");
    assert_true(json_is_object(m.data));
    op_msg_clear(&m);
    build_ok(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":true,\"data\":{\"z\":1,\"a\":[null]}}", &m);
    assert_string_equal(m.data_text, "{\"z\":1,\"a\":[null]}");
    op_msg_clear(&m);
    build_ok(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":true,\"data\":null}", &m);
    assert_string_equal(m.data_text, "{}");
    op_msg_clear(&m);

    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":true,\"data\":[1]}",
              "data must be a JSON object, not an array");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":true,\"data\":5}", "not a number");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":true,\"data\":true}", "not a boolean");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":true,\"data\":\"\\\"text\\\"\"}",
              "data must be a JSON object, not a string");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":true,\"data\":\"{\\\"a\\\":}\"}",
              "data is not valid JSON");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":true,\"data\":\"{} {}\"}",
              "data is not valid JSON");
    /* at most 64 KiB, counted as written */
    json_t *r = req("{\"type\":\"t\",\"broadcast\":true}");
    size_t n = ND_DATA_MAX;
    char *big = malloc(n + 2);
    memset(big, ' ', n + 1);
    memcpy(big, "{}", 2);
    big[n] = 0; /* exactly the limit: fine */
    json_object_set_new(r, "data", json_string(big));
    struct op_msg ok;
    char err[256];
    assert_int_equal(ops_build(ops_get(OP_PUBLISH), r, &ok, err, sizeof err), 0);
    assert_int_equal(ok.data_len, ND_DATA_MAX);
    op_msg_clear(&ok);
    big[n] = ' ';
    big[n + 1] = 0;
    json_object_set_new(r, "data", json_string(big));
    build_bad_json(OP_PUBLISH, r, "data is 65537 bytes, the limit is 65536");
    json_decref(r);
    free(big);
}

static void test_publish_store_and_ttl(void **state)
{
    (void)state;
    struct op_msg m;
    build_ok(OP_PUBLISH,
             "{\"type\":\"t\",\"user_id\":\"u\",\"store\":\"always\",\"ttl_ms\":60000,"
             "\"priority\":\"urgent\",\"group\":\"g\"}",
             &m);
    assert_int_equal(m.store, STORE_ALWAYS);
    assert_int_equal(m.ttl_ms, 60000);
    assert_int_equal(m.priority, PRIORITY_URGENT);
    assert_string_equal(m.group, "g");
    op_msg_clear(&m);
    build_ok(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"u\",\"store\":\"never\",\"ttl_ms\":0}", &m);
    assert_int_equal(m.store, STORE_NEVER);
    assert_int_equal(m.ttl_ms, 0);
    op_msg_clear(&m);
    build_ok(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"u\",\"store\":\"\"}", &m);
    assert_int_equal(m.store, STORE_AUTO);
    op_msg_clear(&m);
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"u\",\"store\":\"sometimes\"}",
              "store must be one of auto, always, never");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"broadcast\":true,\"store\":\"always\"}",
              "store: always needs user_id or user_ids");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"u\",\"ttl_ms\":-1}", "ttl_ms is -1");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"u\",\"ttl_ms\":1.5}",
              "ttl_ms must be an integer");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"u\",\"ttl_ms\":\"5s\"}",
              "ttl_ms must be an integer");
    build_bad(OP_PUBLISH, "{\"type\":\"t\",\"user_id\":\"u\",\"priority\":\"asap\"}", "priority");
}

static void test_disconnect_fields(void **state)
{
    (void)state;
    struct op_msg m;
    build_ok(OP_DISCONNECT_USER, "{\"user_id\":\"u1\"}", &m);
    assert_string_equal(m.reason, "disconnected by the server");
    assert_int_equal(m.reconnect, 0);
    op_msg_clear(&m);
    build_ok(OP_DISCONNECT_USER, "{\"user_id\":\"u1\",\"reason\":\"moved\",\"reconnect\":true}",
             &m);
    assert_string_equal(m.reason, "moved");
    assert_int_equal(m.reconnect, 1);
    op_msg_clear(&m);
    build_bad(OP_DISCONNECT_USER, "{}", "user_id is required");
    build_bad(OP_DISCONNECT_USER, "{\"user_id\":\"u1\",\"reconnect\":1}",
              "reconnect must be true or false");
    build_bad(OP_DISCONNECT_USER,
              "{\"user_id\":\"u1\",\"reason\":\"123456789012345678901234567890123456789012345"
              "67890123456789012345678901234567890123456789012345678901234567890123456789012345\"}",
              "reason is 125 bytes, the limit is 123");
    assert_true(ops_get(OP_DISCONNECT_USER)->flags & OP_ADMIN);
    assert_ptr_equal(ops_find_type("system_notification"), ops_get(OP_SYSTEM_NOTIFICATION));
    assert_ptr_equal(ops_find_type("batchgo_open_url"), ops_get(OP_BATCHGO_OPEN_URL));
    assert_true(ops_get(OP_BATCHGO_OPEN_URL)->flags & OP_COMMAND);
    assert_null(ops_find_type("order.shipped"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_type),      cmocka_unit_test(test_publish_target),
        cmocka_unit_test(test_publish_data),      cmocka_unit_test(test_publish_store_and_ttl),
        cmocka_unit_test(test_disconnect_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
