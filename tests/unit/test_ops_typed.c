/* test_ops_typed: a notification read straight from protobuf into a typed
 * request (pbjson_request -> ops_build_req -> ops_data_text) gives what the
 * JSON road gives (pbjson_from_message -> ops_build -> jansson's dump): the
 * same message, the same data bytes, the same error text. And REST bodies'
 * data written from the checked values equals jansson's dump of the object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/envelope.h"
#include "notification/v1/notification.pb-c.h"
#include "notify/ops.h"
#include "notify/pbjson.h"

/* both roads for @m as operation @id; both must agree. Returns the JSON road's rc */
static int same(const ProtobufCMessage *m, enum op_id id, const char *want_err)
{
    const struct op_spec *op = ops_get(id);
    char err_a[256] = "", err_b[256] = "";
    struct op_msg a, b;
    struct op_req r;

    assert_true(ops_typed(op));
    json_t *req = pbjson_from_message(m);
    assert_non_null(req);
    int rc_a = ops_build(op, req, &a, err_a, sizeof err_a);
    assert_int_equal(pbjson_request(m, op, &r), 0);
    int rc_b = ops_build_req(&r, &b, err_b, sizeof err_b);
    if (rc_a != rc_b || strcmp(err_a, err_b))
        print_error("json: %d %s\ntyped: %d %s\n", rc_a, err_a, rc_b, err_b);
    assert_int_equal(rc_a, rc_b);
    assert_string_equal(err_a, err_b);
    if (want_err) {
        assert_int_equal(rc_a, -EINVAL);
        if (!strstr(err_a, want_err))
            print_error("error %s, wanted %s\n", err_a, want_err);
        assert_non_null(strstr(err_a, want_err));
    }
    if (rc_a == 0) {
        size_t la = 0;
        char *ta = envelope_data_json(a.data, &la);
        char tb[4096];
        size_t lb = ops_data_text(&b, tb, sizeof tb);
        assert_null(b.data);
        if (la != lb || strcmp(ta, tb))
            print_error("json:  %s\ntyped: %s\n", ta, tb);
        assert_int_equal(la, lb);
        assert_string_equal(ta, tb);
        assert_int_equal(ops_data_text(&b, NULL, 0), lb); /* measuring needs no room */
        assert_string_equal(a.type, b.type);
        assert_string_equal(a.user_id, b.user_id);
        assert_string_equal(a.group, b.group);
        assert_int_equal(a.priority, b.priority);
        assert_int_equal(a.feed, b.feed);
        assert_int_equal(ops_in_feed(&a), ops_in_feed(&b));
        free(ta);
    }
    op_msg_clear(&a);
    op_msg_clear(&b);
    json_decref(req);
    return rc_a;
}

static void fill_task(Notification__V1__TaskProgressData *t)
{
    t->task_id = "job-1";
    t->status = "running";
    t->progress = 42.5;
    t->total = 10;
    t->completed = 4;
    t->failed = 1;
    t->message = "4 of 10";
    t->start_time = 1700000000;
}

static void test_progress(void **state)
{
    (void)state;
    Notification__V1__TaskProgressData t = NOTIFICATION__V1__TASK_PROGRESS_DATA__INIT;
    Notification__V1__NotifyBatchGoProgressRequest r =
        NOTIFICATION__V1__NOTIFY_BATCH_GO_PROGRESS_REQUEST__INIT;
    r.user_id = "u1";
    r.task = &t;
    fill_task(&t);
    assert_int_equal(same(&r.base, OP_BATCHGO_PROGRESS, NULL), 0);

    /* reals as jansson writes them, with 15 digits */
    const double reals[] = {0,        0.1,      1e-7, 100, 33.333333333333336, 99.99999999999999,
                            1.5e-300, 2.0 / 3.0};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        t.progress = reals[i];
        assert_int_equal(same(&r.base, OP_BATCHGO_PROGRESS, NULL), 0);
    }
    t.progress = 42.5;
    /* strings jansson escapes: quote, backslash, controls; UTF-8 as is */
    t.message =
        "line\none \"two\" \\ \t\b\f\r \x01\x1f \x7f caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80";
    t.status = "";
    t.task_type = "siterank";
    r.priority = NOTIFICATION__V1__PRIORITY__PRIORITY_URGENT;
    r.group = "g\"1";
    r.feed_choice_case = NOTIFICATION__V1__NOTIFY_BATCH_GO_PROGRESS_REQUEST__FEED_CHOICE_FEED;
    r.feed = 1;
    assert_int_equal(same(&r.base, OP_BATCHGO_PROGRESS, NULL), 0);
    r.priority = NOTIFICATION__V1__PRIORITY__PRIORITY_HIGH;
    r.feed = 0;
    assert_int_equal(same(&r.base, OP_BATCHGO_PROGRESS, NULL), 0);
    r.priority = NOTIFICATION__V1__PRIORITY__PRIORITY_NORMAL;
    assert_int_equal(same(&r.base, OP_BATCHGO_PROGRESS, NULL), 0);
    r.priority = (Notification__V1__Priority)77; /* no such value: left out */
    assert_int_equal(same(&r.base, OP_BATCHGO_PROGRESS, NULL), 0);
}

static void test_progress_errors(void **state)
{
    (void)state;
    Notification__V1__TaskProgressData t = NOTIFICATION__V1__TASK_PROGRESS_DATA__INIT;
    Notification__V1__NotifyBatchGoCompleteRequest r =
        NOTIFICATION__V1__NOTIFY_BATCH_GO_COMPLETE_REQUEST__INIT;
    r.user_id = "u1";
    same(&r.base, OP_BATCHGO_COMPLETE, "task_id is required"); /* no task at all */
    r.task = &t;
    same(&r.base, OP_BATCHGO_COMPLETE, "task_id is required");
    fill_task(&t);
    t.progress = 100.5;
    same(&r.base, OP_BATCHGO_COMPLETE, "progress is 100.5, it must be from 0 to 100");
    t.progress = NAN; /* json_real refuses it: as if not given */
    assert_int_equal(same(&r.base, OP_BATCHGO_COMPLETE, NULL), 0);
    t.progress = 1;
    t.total = -1;
    same(&r.base, OP_BATCHGO_COMPLETE, "total is -1, it must be from 0 to");
    t.total = 1;
    t.end_time = 40000000000LL;
    same(&r.base, OP_BATCHGO_COMPLETE, "end_time is 40000000000");
    t.end_time = 0;
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    t.message = big;
    same(&r.base, OP_BATCHGO_COMPLETE, "message is 4999 bytes, the limit is 4096");
    t.message = "ok";
    t.task_id = "\xff\xfe"; /* not UTF-8: pbjson leaves it out */
    same(&r.base, OP_BATCHGO_COMPLETE, "task_id is required");
    t.task_id = "t";
    r.user_id = "";
    same(&r.base, OP_BATCHGO_COMPLETE, "user_id is required");
    r.user_id = "bad user";
    same(&r.base, OP_BATCHGO_COMPLETE, "user_id must be 1 to 128 characters");
    r.user_id = "u1";
    char group[200];
    memset(group, 'g', sizeof group - 1);
    group[sizeof group - 1] = 0;
    r.group = group;
    same(&r.base, OP_BATCHGO_COMPLETE, "group is 199 bytes, the limit is 128");
}

static void test_open_url(void **state)
{
    (void)state;
    char *urls[101];
    for (int i = 0; i < 101; i++)
        urls[i] = "https://example.com/a?b=\"c\"";
    Notification__V1__NotifyBatchGoOpenUrlRequest r =
        NOTIFICATION__V1__NOTIFY_BATCH_GO_OPEN_URL_REQUEST__INIT;
    r.user_id = "u1";
    r.task_id = "t1";
    same(&r.base, OP_BATCHGO_OPEN_URL, "urls needs at least one URL");
    r.urls = urls;
    r.n_urls = 2;
    same(&r.base, OP_BATCHGO_OPEN_URL, "urls[0] must be an http:// or https:// URL");
    urls[0] = urls[1] = "https://example.com/a?b=1";
    r.delay = 500;
    assert_int_equal(same(&r.base, OP_BATCHGO_OPEN_URL, NULL), 0);
    urls[1] = "ftp://x";
    same(&r.base, OP_BATCHGO_OPEN_URL, "urls[1] must be an http:// or https:// URL");
    urls[1] = urls[0];
    r.n_urls = 101;
    same(&r.base, OP_BATCHGO_OPEN_URL, "urls has 101 URLs, the limit is 100");
    r.n_urls = 1;
    r.delay = 600001;
    same(&r.base, OP_BATCHGO_OPEN_URL, "delay is 600001");
}

static void test_notices(void **state)
{
    (void)state;
    Notification__V1__SendSystemNotificationRequest s =
        NOTIFICATION__V1__SEND_SYSTEM_NOTIFICATION_REQUEST__INIT;
    s.user_id = "u@x.io";
    same(&s.base, OP_SYSTEM_NOTIFICATION, "message is required");
    s.message = "hello";
    s.title = "Hi";
    assert_int_equal(same(&s.base, OP_SYSTEM_NOTIFICATION, NULL), 0);
    s.level = NOTIFICATION__V1__LEVEL__LEVEL_SUCCESS;
    s.action_url = "http://a.b/c";
    assert_int_equal(same(&s.base, OP_SYSTEM_NOTIFICATION, NULL), 0);
    s.action_url = "javascript:alert(1)";
    same(&s.base, OP_SYSTEM_NOTIFICATION, "action_url must be an http:// or https:// URL");

    Notification__V1__BroadcastRequest b = NOTIFICATION__V1__BROADCAST_REQUEST__INIT;
    b.message = "to all";
    b.level = NOTIFICATION__V1__LEVEL__LEVEL_WARNING;
    assert_int_equal(same(&b.base, OP_BROADCAST, NULL), 0);

    Notification__V1__NotifyPlanExpiringRequest p =
        NOTIFICATION__V1__NOTIFY_PLAN_EXPIRING_REQUEST__INIT;
    p.user_id = "42";
    same(&p.base, OP_PLAN_EXPIRING, "plan_name is required");
    p.plan_name = "Pro";
    p.days_left = 3;
    p.expires_at = 1900000000;
    assert_int_equal(same(&p.base, OP_PLAN_EXPIRING, NULL), 0);
    p.days_left = -3;
    same(&p.base, OP_PLAN_EXPIRING, "days_left is -3");
}

/* a request naming a template goes by JSON: the typed road says so */
static void test_template_goes_by_json(void **state)
{
    (void)state;
    struct op_req r;
    Notification__V1__SendSystemNotificationRequest s =
        NOTIFICATION__V1__SEND_SYSTEM_NOTIFICATION_REQUEST__INIT;
    s.user_id = "u1";
    s.template_id = "welcome";
    assert_int_equal(pbjson_request(&s.base, ops_get(OP_SYSTEM_NOTIFICATION), &r), 1);
    s.template_id = "";
    Notification__V1__SendSystemNotificationRequest__ParamsEntry e =
        NOTIFICATION__V1__SEND_SYSTEM_NOTIFICATION_REQUEST__PARAMS_ENTRY__INIT;
    Notification__V1__SendSystemNotificationRequest__ParamsEntry *ep = &e;
    s.params = &ep;
    s.n_params = 1;
    assert_int_equal(pbjson_request(&s.base, ops_get(OP_SYSTEM_NOTIFICATION), &r), 1);
    s.n_params = 0;
    assert_int_equal(pbjson_request(&s.base, ops_get(OP_SYSTEM_NOTIFICATION), &r), 0);
    assert_false(ops_typed(ops_get(OP_PUBLISH)));
    assert_false(ops_typed(ops_get(OP_NOTIFY_USERS)));
    assert_false(ops_typed(ops_get(OP_TEST_MESSAGE)));
    assert_false(ops_typed(ops_get(OP_GET_STATS)));
}

/* REST: the data written from the checked values is jansson's dump of ops_build's object */
static void test_rest_bodies(void **state)
{
    (void)state;
    static const struct {
        enum op_id id;
        const char *body;
    } cases[] = {
        {OP_BATCHGO_PROGRESS,
         "{\"user_id\":\"u1\",\"task_id\":\"t\",\"progress\":5,\"total\":5.0}"},
        {OP_BATCHGO_START, "{\"user_id\":7,\"task_id\":\"\\u00e9\\u2028\\ud83d\\ude00\\u0000x\"}"},
        {OP_BATCHGO_START, "{\"user_id\":7,\"task_id\":\"a\\u0001\\/b\",\"progress\":1e-5}"},
        {OP_BATCHGO_OPEN_URL, "{\"user_id\":\"u\",\"task_id\":\"t\",\"urls\":[\"http://a\"]}"},
        {OP_SYSTEM_NOTIFICATION, "{\"user_id\":\"u\",\"message\":\"m\",\"level\":\"\"}"},
        {OP_TOKEN_INSUFFICIENT, "{\"user_id\":\"u\",\"current_balance\":-5}"},
        {OP_TOKEN_INSUFFICIENT, "{\"user_id\":\"u\",\"current_balance\":-2147483648,"
                                "\"required_tokens\":2147483647}"},
        {OP_TOKEN_INSUFFICIENT, "{\"user_id\":\"u\",\"current_balance\":0}"},
        {OP_PLAN_EXPIRED, "{\"user_id\":\"u\",\"plan_name\":\"p\",\"expires_at\":1e9}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "", text[4096];
        struct op_msg m;
        json_t *req = json_loads(cases[i].body, JSON_ALLOW_NUL, NULL);
        assert_non_null(req);
        int rc = ops_build(ops_get(cases[i].id), req, &m, err, sizeof err);
        if (cases[i].id == OP_BATCHGO_START && i == 1) { /* the NUL inside is refused */
            assert_int_equal(rc, -EINVAL);
            assert_string_equal(err, "task_id must not contain NUL characters");
            json_decref(req);
            continue;
        }
        if (rc)
            print_error("%s: %s\n", cases[i].body, err);
        assert_int_equal(rc, 0);
        size_t n = 0;
        char *want = envelope_data_json(m.data, &n);
        assert_int_equal(ops_data_text(&m, text, sizeof text), n);
        assert_string_equal(text, want);
        free(want);
        op_msg_clear(&m);
        json_decref(req);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_progress_errors),
        cmocka_unit_test(test_open_url),
        cmocka_unit_test(test_notices),
        cmocka_unit_test(test_template_goes_by_json),
        cmocka_unit_test(test_rest_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
