/* test_envelope: the exact bytes of an encoded message, the message_id slot
 * that delivery_stamp() fills later, the LWS_PRE headroom and the reference
 * count shared by every connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libwebsockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery/delivery.h"
#include "delivery/envelope.h"
#include "delivery/msgid.h"
#include "nd.h"

#define TS 1700000000123LL

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        print_error("bad JSON %s: %s\n", text, e.text);
    assert_non_null(v);
    return v;
}

/* the delivery's JSON is @want, byte for byte, with a NUL after it */
static void assert_text(struct delivery *d, const char *want)
{
    const char *got = delivery_json(d);
    if (d->len != strlen(want) || memcmp(got, want, d->len))
        print_error("got  %.*s\nwant %s\n", (int)d->len, got, want);
    assert_int_equal(d->len, strlen(want));
    assert_memory_equal(got, want, d->len);
    assert_int_equal(got[d->len], 0);
}

static void test_exact_text(void **state)
{
    (void)state;
    json_t *data = parse("{\"task_id\":\"t1\",\"progress\":65.5,\"total\":10}");
    struct delivery *d = envelope_encode("batchgo_progress", "u1", data, TS, 0);
    assert_non_null(d);
    assert_text(d, "{\"type\":\"batchgo_progress\",\"user_id\":\"u1\",\"data\":{\"task_id\":\"t1\","
                   "\"progress\":65.5,\"total\":10},\"timestamp\":1700000000123}");
    assert_string_equal(d->user_id, "u1");
    assert_int_equal(d->timestamp_ms, TS);
    assert_int_equal(d->id, 0);
    assert_int_equal(d->id_off, 0);
    assert_null(d->op);
    assert_int_equal(atomic_load(&d->refs), 1);
    delivery_unref(d);
    json_decref(data);
}

static void test_key_order_parsed(void **state)
{
    (void)state;
    json_t *data = parse("{\"z\":1,\"a\":2}");
    struct delivery *d = envelope_encode("t", "u", data, 5, ENVELOPE_WITH_ID);
    delivery_stamp(d, 0x0123456789abcdefULL);
    json_t *env = parse(delivery_json(d));
    static const char *const keys[] = {"type", "user_id", "data", "timestamp", "message_id"};
    void *it = json_object_iter(env);
    for (size_t i = 0; i < 5; i++) {
        assert_non_null(it);
        assert_string_equal(json_object_iter_key(it), keys[i]);
        it = json_object_iter_next(env, it);
    }
    assert_null(it);
    /* data keeps its own order */
    it = json_object_iter(json_object_get(env, "data"));
    assert_string_equal(json_object_iter_key(it), "z");
    json_decref(env);
    delivery_unref(d);
    json_decref(data);
}

static void test_broadcast_has_no_user(void **state)
{
    (void)state;
    json_t *data = parse("{\"message\":\"m\"}");
    struct delivery *d = envelope_encode("system_notification", NULL, data, 1, 0);
    assert_text(d,
                "{\"type\":\"system_notification\",\"data\":{\"message\":\"m\"},\"timestamp\":1}");
    assert_string_equal(d->user_id, "");
    delivery_unref(d);
    d = envelope_encode("system_notification", "", data, 1, 0);
    assert_text(d,
                "{\"type\":\"system_notification\",\"data\":{\"message\":\"m\"},\"timestamp\":1}");
    assert_string_equal(d->user_id, "");
    delivery_unref(d);
    json_decref(data);
}

static void test_null_data(void **state)
{
    (void)state;
    struct delivery *d = envelope_encode("pong", NULL, NULL, 0, 0);
    assert_text(d, "{\"type\":\"pong\",\"data\":{},\"timestamp\":0}");
    delivery_unref(d);
    /* data need not be an object */
    json_t *arr = parse("[1,\"x\"]");
    d = envelope_encode("t", "u", arr, -1, 0);
    assert_text(d, "{\"type\":\"t\",\"user_id\":\"u\",\"data\":[1,\"x\"],\"timestamp\":-1}");
    delivery_unref(d);
    json_decref(arr);
}

static void test_data_borrowed(void **state)
{
    (void)state;
    json_t *data = parse("{\"k\":\"v\"}");
    size_t refs = data->refcount;
    struct delivery *d = envelope_encode("t", "u", data, 1, ENVELOPE_WITH_ID);
    assert_int_equal(data->refcount, refs);
    /* later changes to data don't reach the encoded text */
    json_object_set_new(data, "k", json_string("changed"));
    assert_non_null(strstr(delivery_json(d), "\"k\":\"v\""));
    delivery_unref(d);
    json_decref(data);
}

static void test_with_id_slot(void **state)
{
    (void)state;
    json_t *data = parse("{\"a\":1}");
    struct delivery *d = envelope_encode("batchgo_start", "u1", data, TS, ENVELOPE_WITH_ID);
    assert_non_null(d);
    const char *before = "{\"type\":\"batchgo_start\",\"user_id\":\"u1\",\"data\":{\"a\":1},"
                         "\"timestamp\":1700000000123,\"message_id\":\"0000000000000000\"}";
    assert_text(d, before);
    assert_true(d->id_off > 0);
    assert_int_equal(d->id_off, d->len - 2 - MSGID_LEN);
    assert_memory_equal(delivery_json(d) + d->id_off - 14, "\"message_id\":\"", 14);
    assert_int_equal(d->id, 0);

    uint64_t id = ((uint64_t)TS << 16) + 7;
    char hex[MSGID_LEN + 1];
    msgid_format(id, hex);
    delivery_stamp(d, id);
    assert_int_equal(d->id, id);
    char want[256];
    snprintf(want, sizeof want,
             "{\"type\":\"batchgo_start\",\"user_id\":\"u1\",\"data\":{\"a\":1},"
             "\"timestamp\":1700000000123,\"message_id\":\"%s\"}",
             hex);
    assert_text(d, want);

    json_t *env = parse(delivery_json(d));
    assert_string_equal(json_string_value(json_object_get(env, "message_id")), hex);
    assert_int_equal(json_integer_value(json_object_get(env, "timestamp")), TS);
    uint64_t back = 0;
    assert_int_equal(msgid_parse(json_string_value(json_object_get(env, "message_id")), &back), 0);
    assert_true(back == id);
    json_decref(env);

    /* stamping again replaces the digits in place */
    delivery_stamp(d, UINT64_MAX);
    assert_int_equal(d->len, strlen(want));
    assert_memory_equal(delivery_json(d) + d->id_off, "ffffffffffffffff", MSGID_LEN);
    assert_int_equal(delivery_json(d)[d->len], 0);
    delivery_unref(d);

    /* the slot is found even when data holds look-alike text */
    json_t *tricky = parse("{\"message_id\":\"0000000000000000\",\"x\":\"\\\"}\"}");
    d = envelope_encode("t", NULL, tricky, 1, ENVELOPE_WITH_ID);
    delivery_stamp(d, 0xabcULL);
    env = parse(delivery_json(d));
    assert_string_equal(json_string_value(json_object_get(env, "message_id")), "0000000000000abc");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(env, "data"), "message_id")),
        "0000000000000000");
    json_decref(env);
    delivery_unref(d);
    json_decref(tricky);
    json_decref(data);
}

static void test_stamp_without_slot(void **state)
{
    (void)state;
    struct delivery *d = envelope_encode("connected", "u", NULL, 9, 0);
    char copy[256];
    snprintf(copy, sizeof copy, "%s", delivery_json(d));
    delivery_stamp(d, 12345);
    assert_int_equal(d->id, 12345);
    assert_string_equal(delivery_json(d), copy); /* text untouched */
    delivery_unref(d);
}

static void test_escaping(void **state)
{
    (void)state;
    const char *raw =
        "say \"hi\" \\ back\nslash\t/ \x01\x1f \xc3\xa9 \xf0\x9f\x9a\x80 \xe2\x80\xa8";
    json_t *data = json_object();
    json_object_set_new(data, "s", json_string(raw));
    assert_non_null(json_object_get(data, "s"));
    json_object_set_new(data, "k\"ey", json_string("v"));
    struct delivery *d = envelope_encode("t", "u", data, 1, 0);
    assert_text(d, "{\"type\":\"t\",\"user_id\":\"u\",\"data\":{\"s\":\"say \\\"hi\\\" \\\\ back\\n"
                   "slash\\t/ \\u0001\\u001F \xc3\xa9 \xf0\x9f\x9a\x80 \xe2\x80\xa8\","
                   "\"k\\\"ey\":\"v\"},\"timestamp\":1}");
    /* a type or user id that needs escaping is escaped as jansson does; plain ones are copied */
    struct delivery *e = envelope_encode("a\"b", "u\\\xc3\xa9", NULL, 2, 0);
    assert_text(e,
                "{\"type\":\"a\\\"b\",\"user_id\":\"u\\\\\xc3\xa9\",\"data\":{},\"timestamp\":2}");
    delivery_unref(e);
    /* and it reads back to the same string */
    json_t *env = parse(delivery_json(d));
    assert_string_equal(json_string_value(json_object_get(json_object_get(env, "data"), "s")), raw);
    json_decref(env);
    delivery_unref(d);
    json_decref(data);
}

static void test_doubles_compact(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {65.5, "65.5"},
        {0.1, "0.1"},
        {100.0, "100.0"},
        {0.0, "0.0"},
        {33.3, "33.3"},
        {-2.25, "-2.25"},
        {1.0 / 3.0, "0.333333333333333"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *data = json_object();
        json_object_set_new(data, "p", json_real(cases[i].v));
        struct delivery *d = envelope_encode("t", NULL, data, 0, 0);
        char want[128];
        snprintf(want, sizeof want, "{\"type\":\"t\",\"data\":{\"p\":%s},\"timestamp\":0}",
                 cases[i].text);
        assert_text(d, want);
        delivery_unref(d);
        json_decref(data);
    }
}

static void test_headroom(void **state)
{
    (void)state;
    struct delivery *d = envelope_encode("t", "u", NULL, 1, ENVELOPE_WITH_ID);
    assert_int_equal(ND_WS_HEADROOM, LWS_PRE);
    assert_ptr_equal(delivery_json(d), (char *)d->buf + LWS_PRE);
    assert_int_equal(strlen(delivery_json(d)), d->len);
    /* the headroom is writable (lws_write frames in place) */
    memset(d->buf, 0xaa, LWS_PRE);
    assert_int_equal(delivery_json(d)[0], '{');
    delivery_unref(d);

    for (size_t n = 0; n < 70; n += 23) {
        d = delivery_new(n);
        assert_non_null(d);
        assert_int_equal(atomic_load(&d->refs), 1);
        assert_int_equal(d->len, n);
        assert_int_equal(d->id, 0);
        assert_int_equal(d->id_off, 0);
        assert_string_equal(d->user_id, "");
        assert_int_equal(ND_WS_HEADROOM, LWS_PRE);
        assert_ptr_equal(delivery_json(d), (char *)d->buf + LWS_PRE);
        assert_int_equal(delivery_json(d)[n], 0);
        memset(d->buf, 'x', LWS_PRE + n); /* all of it is ours */
        assert_int_equal(strlen(delivery_json(d)), n);
        delivery_unref(d);
    }
}

static void test_large(void **state)
{
    (void)state;
    size_t n = 200000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'b', n);
    big[n] = 0;
    json_t *data = json_object();
    json_object_set_new(data, "blob", json_string(big));
    struct delivery *d = envelope_encode("t", "u", data, 1, ENVELOPE_WITH_ID);
    assert_non_null(d);
    assert_true(d->len > n);
    delivery_stamp(d, 1);
    json_t *env = parse(delivery_json(d));
    assert_int_equal(json_string_length(json_object_get(json_object_get(env, "data"), "blob")), n);
    assert_string_equal(json_string_value(json_object_get(env, "message_id")), "0000000000000001");
    json_decref(env);
    delivery_unref(d);
    json_decref(data);
    free(big);
}

static void test_refcount(void **state)
{
    (void)state;
    struct delivery *d = envelope_encode("t", "u", NULL, 1, 0);
    assert_ptr_equal(delivery_ref(d), d);
    assert_ptr_equal(delivery_ref(d), d);
    assert_int_equal(atomic_load(&d->refs), 3);
    delivery_unref(d);
    delivery_unref(d);
    assert_int_equal(atomic_load(&d->refs), 1);
    assert_int_equal(delivery_json(d)[0], '{'); /* still alive */
    delivery_unref(d);                          /* freed here; ASan flags any reuse */
    delivery_unref(NULL);
}

#define REF_THREADS 4
#define REF_ROUNDS 20000

static void *ref_worker(void *arg)
{
    struct delivery *d = arg;
    for (int i = 0; i < REF_ROUNDS; i++) {
        delivery_ref(d);
        delivery_unref(d);
    }
    delivery_unref(d); /* the reference handed to this thread */
    return NULL;
}

static void test_refcount_threads(void **state)
{
    (void)state;
    struct delivery *d = envelope_encode("t", "u", NULL, 1, 0);
    pthread_t th[REF_THREADS];
    for (int i = 0; i < REF_THREADS; i++) {
        delivery_ref(d);
        assert_int_equal(pthread_create(&th[i], NULL, ref_worker, d), 0);
    }
    for (int i = 0; i < REF_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&d->refs), 1);
    delivery_unref(d);
}

static void test_now_ms(void **state)
{
    (void)state;
    struct timespec a, b;
    clock_gettime(CLOCK_REALTIME, &a);
    int64_t now = nd_wall_ms();
    clock_gettime(CLOCK_REALTIME, &b);
    int64_t lo = (int64_t)a.tv_sec * 1000 + a.tv_nsec / 1000000;
    int64_t hi = (int64_t)b.tv_sec * 1000 + b.tv_nsec / 1000000;
    assert_true(now >= lo);
    assert_true(now <= hi);
    assert_true(now > 1600000000000LL); /* milliseconds, not seconds */
    /* the monotonic clock never goes back; the deadline is ahead of the wall clock */
    int64_t m0 = nd_mono_us(), m1 = nd_mono_us();
    assert_true(m1 >= m0 && m0 > 0);
    struct timespec dl = nd_wall_deadline(1500);
    int64_t dl_ms = (int64_t)dl.tv_sec * 1000 + dl.tv_nsec / 1000000;
    assert_true(dl_ms >= now + 1500 && dl_ms < nd_wall_ms() + 1600);
    assert_true(dl.tv_nsec >= 0 && dl.tv_nsec < 1000000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_text),
        cmocka_unit_test(test_key_order_parsed),
        cmocka_unit_test(test_broadcast_has_no_user),
        cmocka_unit_test(test_null_data),
        cmocka_unit_test(test_data_borrowed),
        cmocka_unit_test(test_with_id_slot),
        cmocka_unit_test(test_stamp_without_slot),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_doubles_compact),
        cmocka_unit_test(test_headroom),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_refcount_threads),
        cmocka_unit_test(test_now_ms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
