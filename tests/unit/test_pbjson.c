/* test_pbjson: generated protobuf-c messages -> flat JSON objects, and on
 * through ops_build() exactly as a gRPC request travels. */
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
#include "notify/pbjson.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        print_error("bad test JSON %s: %s\n", text, e.text);
    assert_non_null(v);
    return v;
}

/* @got equals the JSON @want_text, key order included */
static void assert_json_exact(const json_t *got, const char *want_text)
{
    json_t *want = parse(want_text);
    char *g = json_dumps(got, JSON_COMPACT | JSON_REAL_PRECISION(17));
    char *w = json_dumps(want, JSON_COMPACT | JSON_REAL_PRECISION(17));
    assert_non_null(g);
    assert_non_null(w);
    if (strcmp(g, w))
        print_error("got  %s\nwant %s\n", g, w);
    assert_string_equal(g, w);
    assert_true(json_equal(got, want)); /* types too: 1 and 1.0 differ */
    free(g);
    free(w);
    json_decref(want);
}

static void fill_task(Notification__V1__TaskProgressData *t)
{
    t->task_id = "job-1";
    t->task_type = "";
    t->status = "running";
    t->progress = 42.5;
    t->total = 10;
    t->completed = 4;
    t->failed = 1;
    t->message = "4 of 10";
    t->start_time = 1700000000;
    t->end_time = 0;
}

#define PROGRESS_JSON                                                                              \
    "{\"user_id\":\"u1\",\"task_id\":\"job-1\",\"task_type\":\"\",\"status\":\"running\","         \
    "\"progress\":42.5,\"total\":10,\"completed\":4,\"failed\":1,\"message\":\"4 of 10\","         \
    "\"start_time\":1700000000,\"end_time\":0,\"group\":\"\"}"

static void test_progress_flattened(void **state)
{
    (void)state;
    Notification__V1__TaskProgressData task = NOTIFICATION__V1__TASK_PROGRESS_DATA__INIT;
    Notification__V1__NotifyBatchGoProgressRequest r =
        NOTIFICATION__V1__NOTIFY_BATCH_GO_PROGRESS_REQUEST__INIT;
    fill_task(&task);
    r.user_id = "u1";
    r.task = &task;

    json_t *j = pbjson_from_message(&r.base);
    assert_non_null(j);
    /* the nested message's fields sit at the top level, in field order */
    assert_json_exact(j, PROGRESS_JSON);
    assert_null(json_object_get(j, "task"));
    assert_true(json_is_real(json_object_get(j, "progress")));
    assert_true(json_is_integer(json_object_get(j, "total")));
    json_decref(j);

    /* no nested message: only the user */
    r.task = NULL;
    j = pbjson_from_message(&r.base);
    assert_json_exact(j, "{\"user_id\":\"u1\",\"group\":\"\"}");
    json_decref(j);
}

static void test_defaults_kept(void **state)
{
    (void)state;
    /* proto3 defaults ("" and 0) are real values here; only enum zero is left out */
    Notification__V1__TaskProgressData task = NOTIFICATION__V1__TASK_PROGRESS_DATA__INIT;
    Notification__V1__NotifyBatchGoStartRequest r =
        NOTIFICATION__V1__NOTIFY_BATCH_GO_START_REQUEST__INIT;
    r.task = &task;
    json_t *j = pbjson_from_message(&r.base);
    assert_json_exact(j, "{\"user_id\":\"\",\"task_id\":\"\",\"task_type\":\"\",\"status\":\"\","
                         "\"progress\":0.0,\"total\":0,\"completed\":0,\"failed\":0,"
                         "\"message\":\"\",\"start_time\":0,\"end_time\":0,\"group\":\"\"}");

    /* which ops_build then refuses for want of a user */
    struct op_msg m;
    char err[256] = "";
    assert_int_equal(ops_build(ops_get(OP_BATCHGO_START), j, &m, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "user_id"));
    json_decref(j);

    Notification__V1__GetStatsRequest empty = NOTIFICATION__V1__GET_STATS_REQUEST__INIT;
    j = pbjson_from_message(&empty.base);
    assert_json_exact(j, "{}");
    json_decref(j);
}

static void test_repeated_urls(void **state)
{
    (void)state;
    char *urls[] = {"https://a.example/1", "https://b.example/2?x=y", "http://c.example"};
    Notification__V1__NotifyBatchGoOpenUrlRequest r =
        NOTIFICATION__V1__NOTIFY_BATCH_GO_OPEN_URL_REQUEST__INIT;
    r.user_id = "u2";
    r.task_id = "t2";
    r.n_urls = 3;
    r.urls = urls;
    r.delay = 250;
    json_t *j = pbjson_from_message(&r.base);
    assert_json_exact(j, "{\"user_id\":\"u2\",\"task_id\":\"t2\",\"urls\":[\"https://a.example/1\","
                         "\"https://b.example/2?x=y\",\"http://c.example\"],\"delay\":250,"
                         "\"group\":\"\"}");
    json_decref(j);

    /* none: an empty array, which ops_build refuses by name */
    r.n_urls = 0;
    r.urls = NULL;
    j = pbjson_from_message(&r.base);
    assert_true(json_is_array(json_object_get(j, "urls")));
    assert_int_equal(json_array_size(json_object_get(j, "urls")), 0);
    struct op_msg m;
    char err[256] = "";
    assert_int_equal(ops_build(ops_get(OP_BATCHGO_OPEN_URL), j, &m, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "urls"));
    json_decref(j);
}

static void test_enum_levels(void **state)
{
    (void)state;
    static const struct {
        Notification__V1__Level level;
        const char *text; /* NULL: left out */
    } cases[] = {
        {NOTIFICATION__V1__LEVEL__LEVEL_UNSPECIFIED, NULL},
        {NOTIFICATION__V1__LEVEL__LEVEL_INFO, "info"},
        {NOTIFICATION__V1__LEVEL__LEVEL_WARNING, "warning"},
        {NOTIFICATION__V1__LEVEL__LEVEL_ERROR, "error"},
        {NOTIFICATION__V1__LEVEL__LEVEL_SUCCESS, "success"},
        {(Notification__V1__Level)99, NULL}, /* unknown on the wire: left out too */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Notification__V1__SendSystemNotificationRequest r =
            NOTIFICATION__V1__SEND_SYSTEM_NOTIFICATION_REQUEST__INIT;
        r.user_id = "u3";
        r.message = "hello";
        r.level = cases[i].level;
        json_t *j = pbjson_from_message(&r.base);
        assert_non_null(j);
        json_t *lv = json_object_get(j, "level");
        if (cases[i].text)
            assert_string_equal(json_string_value(lv), cases[i].text);
        else
            assert_null(lv);
        assert_int_equal(json_object_size(j),
                         cases[i].text ? 9 : 8); /* + group, template_id, params */

        /* through ops_build: a left-out level becomes info */
        struct op_msg m;
        char err[256] = "";
        assert_int_equal(ops_build(ops_get(OP_SYSTEM_NOTIFICATION), j, &m, err, sizeof err), 0);
        assert_string_equal(json_string_value(json_object_get(m.data, "level")),
                            cases[i].text ? cases[i].text : "info");
        assert_string_equal(m.user_id, "u3");
        op_msg_clear(&m);
        json_decref(j);
    }

    Notification__V1__BroadcastRequest b = NOTIFICATION__V1__BROADCAST_REQUEST__INIT;
    b.message = "all hands";
    b.level = NOTIFICATION__V1__LEVEL__LEVEL_WARNING;
    json_t *j = pbjson_from_message(&b.base);
    assert_json_exact(j, "{\"title\":\"\",\"message\":\"all hands\",\"level\":\"warning\","
                         "\"action\":\"\",\"action_url\":\"\",\"group\":\"\",\"template_id\":\"\","
                         "\"params\":{}}");
    json_decref(j);
}

static void test_int64_and_scalars(void **state)
{
    (void)state;
    Notification__V1__NotifyPlanExpiringRequest r =
        NOTIFICATION__V1__NOTIFY_PLAN_EXPIRING_REQUEST__INIT;
    r.user_id = "u4";
    r.plan_name = "pro";
    r.days_left = 3;
    r.expires_at = 32503680000LL; /* beyond 32 bits */
    json_t *j = pbjson_from_message(&r.base);
    assert_json_exact(j, "{\"user_id\":\"u4\",\"plan_name\":\"pro\",\"days_left\":3,"
                         "\"expires_at\":32503680000,\"message\":\"\",\"upgrade_url\":\"\","
                         "\"group\":\"\",\"template_id\":\"\",\"params\":{}}");
    json_decref(j);

    r.expires_at = INT64_MAX;
    r.days_left = INT32_MIN;
    j = pbjson_from_message(&r.base);
    assert_int_equal(json_integer_value(json_object_get(j, "expires_at")), INT64_MAX);
    assert_int_equal(json_integer_value(json_object_get(j, "days_left")), INT32_MIN);
    json_decref(j);

    /* bools, int32, repeated strings and int64 of a response */
    char *users[] = {"alice", "bob"};
    Notification__V1__GetStatsResponse s = NOTIFICATION__V1__GET_STATS_RESPONSE__INIT;
    s.total_connections = 3;
    s.n_connected_users = 2;
    s.connected_users = users;
    s.online_users = 2;
    s.uptime_seconds = 5000000000LL;
    s.messages_total = -1;
    j = pbjson_from_message(&s.base);
    assert_json_exact(j, "{\"total_connections\":3,\"connected_users\":[\"alice\",\"bob\"],"
                         "\"online_users\":2,\"uptime_seconds\":5000000000,"
                         "\"messages_total\":-1,\"deliveries_total\":0}");
    json_decref(j);

    Notification__V1__IsUserOnlineResponse o = NOTIFICATION__V1__IS_USER_ONLINE_RESPONSE__INIT;
    o.user_id = "bob";
    o.is_online = 1;
    o.connections = 2;
    j = pbjson_from_message(&o.base);
    assert_json_exact(j, "{\"user_id\":\"bob\",\"is_online\":true,\"connections\":2}");
    json_decref(j);
    o.is_online = 0;
    j = pbjson_from_message(&o.base);
    assert_true(json_is_false(json_object_get(j, "is_online")));
    json_decref(j);
}

static void test_strings_escaped_and_copied(void **state)
{
    (void)state;
    char msg[] = "quote \" backslash \\ newline \n emoji \xf0\x9f\x9a\x80";
    Notification__V1__SendSystemNotificationRequest r =
        NOTIFICATION__V1__SEND_SYSTEM_NOTIFICATION_REQUEST__INIT;
    r.user_id = "u5";
    r.message = msg;
    json_t *j = pbjson_from_message(&r.base);
    msg[0] = 'Q'; /* the JSON holds its own copy */
    assert_string_equal(json_string_value(json_object_get(j, "message")),
                        "quote \" backslash \\ newline \n emoji \xf0\x9f\x9a\x80");
    json_decref(j);
}

static void test_wire_roundtrip_to_ops(void **state)
{
    (void)state;
    /* a request as the gRPC server sees it: packed bytes, unpacked by protobuf-c */
    Notification__V1__TaskProgressData task = NOTIFICATION__V1__TASK_PROGRESS_DATA__INIT;
    Notification__V1__NotifyBatchGoProgressRequest r =
        NOTIFICATION__V1__NOTIFY_BATCH_GO_PROGRESS_REQUEST__INIT;
    fill_task(&task);
    r.user_id = "u1";
    r.task = &task;
    size_t len = notification__v1__notify_batch_go_progress_request__get_packed_size(&r);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(notification__v1__notify_batch_go_progress_request__pack(&r, buf), len);
    Notification__V1__NotifyBatchGoProgressRequest *u =
        notification__v1__notify_batch_go_progress_request__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(u);
    json_t *j = pbjson_from_message(&u->base);
    notification__v1__notify_batch_go_progress_request__free_unpacked(u, NULL);
    assert_json_exact(j, PROGRESS_JSON);

    struct op_msg m;
    char err[256] = "";
    int rc = ops_build(ops_get(OP_BATCHGO_PROGRESS), j, &m, err, sizeof err);
    if (rc)
        print_error("ops_build: %s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(m.user_id, "u1");
    /* the data: task fields only, empty task_type -> the RPC's family */
    assert_json_exact(m.data, "{\"task_id\":\"job-1\",\"task_type\":\"batchgo\","
                              "\"status\":\"running\",\"progress\":42.5,\"total\":10,"
                              "\"completed\":4,\"failed\":1,\"message\":\"4 of 10\","
                              "\"start_time\":1700000000,\"end_time\":0}");
    op_msg_clear(&m);

    /* the same request through the other families' ops keeps their own family */
    assert_int_equal(ops_build(ops_get(OP_CHENGELINK_PROGRESS), j, &m, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(m.data, "task_type")), "chengelink");
    op_msg_clear(&m);
    json_decref(j);

    /* out-of-range values survive the conversion and are refused by ops_build */
    task.progress = 150;
    task.total = -3;
    j = pbjson_from_message(&r.base);
    assert_int_equal(ops_build(ops_get(OP_BATCHGO_PROGRESS), j, &m, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "progress"));
    json_decref(j);
    task.progress = 50;
    j = pbjson_from_message(&r.base);
    assert_int_equal(ops_build(ops_get(OP_BATCHGO_PROGRESS), j, &m, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "total"));
    json_decref(j);
}

static void test_open_url_to_ops(void **state)
{
    (void)state;
    char *urls[] = {"https://a.example/", "javascript:alert(1)"};
    Notification__V1__NotifyBatchGoOpenUrlRequest r =
        NOTIFICATION__V1__NOTIFY_BATCH_GO_OPEN_URL_REQUEST__INIT;
    r.user_id = "42";
    r.task_id = "t";
    r.n_urls = 1;
    r.urls = urls;
    r.delay = 1000;
    json_t *j = pbjson_from_message(&r.base);
    struct op_msg m;
    char err[256] = "";
    assert_int_equal(ops_build(ops_get(OP_BATCHGO_OPEN_URL), j, &m, err, sizeof err), 0);
    assert_json_exact(m.data,
                      "{\"task_id\":\"t\",\"urls\":[\"https://a.example/\"],\"delay\":1000}");
    op_msg_clear(&m);
    json_decref(j);

    r.n_urls = 2;
    j = pbjson_from_message(&r.base);
    assert_int_equal(ops_build(ops_get(OP_BATCHGO_OPEN_URL), j, &m, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "urls[1]"));
    json_decref(j);
}

static void test_publish_data_bytes(void **state)
{
    (void)state;
    static const char text[] = "{\"n\": 12345678901234567890, \"x\": 0.1}";
    Notification__V1__PublishRequest r = NOTIFICATION__V1__PUBLISH_REQUEST__INIT;
    r.type = "order.paid";
    r.user_id = "u9";
    r.data.data = (uint8_t *)text;
    r.data.len = sizeof text - 1;
    r.store = NOTIFICATION__V1__STORE__STORE_NEVER;
    r.ttl_ms = 5000;
    json_t *j = pbjson_from_message(&r.base);
    assert_string_equal(json_string_value(json_object_get(j, "data")), text);
    assert_string_equal(json_string_value(json_object_get(j, "store")), "never");
    struct op_msg m;
    char err[256] = "";
    assert_int_equal(ops_build(ops_get(OP_PUBLISH), j, &m, err, sizeof err), 0);
    assert_string_equal(m.type, "order.paid");
    assert_string_equal(m.user_id, "u9");
    assert_memory_equal(m.data_text, text, sizeof text - 1); /* as written: 64-bit+ and 0.1 */
    assert_int_equal(m.data_len, sizeof text - 1);
    assert_int_equal(m.store, STORE_NEVER);
    assert_int_equal(m.ttl_ms, 5000);
    op_msg_clear(&m);
    json_decref(j);

    /* bytes that are not UTF-8, or not an object: refused naming data */
    static const unsigned char bad[] = {'{', '"', 0xff, '"', ':', '1', '}'};
    r.data.data = (uint8_t *)bad;
    r.data.len = sizeof bad;
    j = pbjson_from_message(&r.base);
    assert_int_equal(ops_build(ops_get(OP_PUBLISH), j, &m, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "data is not valid JSON"));
    json_decref(j);
    r.data.data = (uint8_t *)"[1]";
    r.data.len = 3;
    j = pbjson_from_message(&r.base);
    assert_int_equal(ops_build(ops_get(OP_PUBLISH), j, &m, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "data must be a JSON object, not an array"));
    json_decref(j);
}

/* appends the flattened field names of @d (nested messages merged) to @names */
static void flat_names(const ProtobufCMessageDescriptor *d, json_t *names)
{
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED)
            flat_names(f->descriptor, names);
        else
            json_array_append_new(names, json_string(f->name));
    }
}

static void test_requests_match_ops(void **state)
{
    (void)state;
    /* each RPC's request, flattened, has exactly the op's fields (plus user_id), in order:
     * what pbjson produces is what ops_build reads */
    const ProtobufCServiceDescriptor *svc = &notification__v1__notification_service__descriptor;
    for (unsigned i = 0; i < svc->n_methods; i++) {
        const struct op_spec *op = ops_find(svc->methods[i].name);
        assert_non_null(op);
        json_t *proto = json_array(), *spec = json_array();
        flat_names(svc->methods[i].input, proto);
        if (op->id == OP_PUBLISH) { /* its own fields: a type, data as text, one target */
            static const char *const t[] = {"type",      "data",  "user_id", "user_ids",
                                            "broadcast", "store", "ttl_ms"};
            for (size_t k = 0; k < ND_ARRAY_SIZE(t); k++)
                json_array_append_new(spec, json_string(t[k]));
        } else if (op->flags & OP_MULTI)
            json_array_append_new(spec, json_string("user_ids"));
        else if (!(op->flags & OP_TO_ALL))
            json_array_append_new(spec, json_string("user_id"));
        for (const struct field_spec *f = op->fields; f->name; f++)
            json_array_append_new(spec, json_string(f->name));
        if (op->flags & OP_NOTIFY) { /* how it travels: every notify request */
            json_array_append_new(spec, json_string("priority"));
            json_array_append_new(spec, json_string("group"));
        }
        if (op->flags & OP_TEMPLATED) {
            json_array_append_new(spec, json_string("template_id"));
            json_array_append_new(spec, json_string("params"));
        }
        if (op->flags & OP_NOTIFY) /* field 24, after the templates' 22 and 23 */
            json_array_append_new(spec, json_string("feed"));
        if (op->id == OP_LIST_FEED) {
            static const char *const t[] = {"before", "limit", "filter"};
            for (size_t k = 0; k < ND_ARRAY_SIZE(t); k++)
                json_array_append_new(spec, json_string(t[k]));
        }
        if (op->id == OP_MARK_FEED) {
            static const char *const t[] = {"ids", "all", "action"};
            for (size_t k = 0; k < ND_ARRAY_SIZE(t); k++)
                json_array_append_new(spec, json_string(t[k]));
        }
        if (op->id == OP_PUT_TEMPLATE) { /* the template operations read their own fields */
            static const char *const t[] = {"id", "title", "message", "updated_at"};
            for (size_t k = 0; k < 4; k++)
                json_array_append_new(spec, json_string(t[k]));
        }
        if (op->id == OP_GET_TEMPLATE || op->id == OP_DELETE_TEMPLATE)
            json_array_append_new(spec, json_string("id"));
        if (op->id == OP_DISCONNECT_USER) {
            json_array_append_new(spec, json_string("reason"));
            json_array_append_new(spec, json_string("reconnect"));
        }
        if (!json_equal(proto, spec)) {
            char *a = json_dumps(proto, JSON_COMPACT), *b = json_dumps(spec, JSON_COMPACT);
            print_error("%s: proto %s, op %s\n", op->name, a, b);
            free(a);
            free(b);
        }
        assert_true(json_equal(proto, spec));
        json_decref(proto);
        json_decref(spec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_flattened),
        cmocka_unit_test(test_publish_data_bytes),
        cmocka_unit_test(test_defaults_kept),
        cmocka_unit_test(test_repeated_urls),
        cmocka_unit_test(test_enum_levels),
        cmocka_unit_test(test_int64_and_scalars),
        cmocka_unit_test(test_strings_escaped_and_copied),
        cmocka_unit_test(test_wire_roundtrip_to_ops),
        cmocka_unit_test(test_open_url_to_ops),
        cmocka_unit_test(test_requests_match_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
