/* history: per-user and broadcast rings, since/complete, bounds, expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/history.h"

#define START 1000

static struct delivery *msg(const char *user, uint64_t id, int64_t ts)
{
    struct delivery *d = delivery_new(4);
    assert_non_null(d);
    memcpy(delivery_json(d), "{}xx", 4);
    strcpy(d->user_id, user);
    d->id = id;
    d->timestamp_ms = ts;
    return d;
}

static void add(struct history *h, const char *user, uint64_t id, int64_t ts)
{
    struct delivery *d = msg(user, id, ts);
    assert_int_equal(history_add(h, user, d), 0);
    delivery_unref(d);
}

/* the ids history_since() returns, and whether it was complete */
static int since(struct history *h, const char *user, uint64_t from, uint64_t *ids, size_t *n)
{
    struct delivery **out;
    int complete = history_since(h, user, from, &out, n);
    for (size_t i = 0; i < *n; i++) {
        ids[i] = out[i]->id;
        delivery_unref(out[i]);
    }
    free(out);
    return complete;
}

static void test_user_and_broadcasts_merge_in_order(void **state)
{
    (void)state;
    struct history *h = history_new(10, 60000, START);
    add(h, "a", 1001, 1);
    add(h, "", 1002, 2); /* broadcast */
    add(h, "b", 1003, 3);
    add(h, "a", 1004, 4);
    uint64_t ids[10];
    size_t n;
    assert_int_equal(since(h, "a", 1000, ids, &n), 1);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1001);
    assert_int_equal(ids[1], 1002);
    assert_int_equal(ids[2], 1004);
    assert_int_equal(since(h, "a", 1002, ids, &n), 1);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1004);
    assert_int_equal(since(h, "nobody", 1001, ids, &n), 1); /* sees the broadcast only */
    assert_int_equal(n, 1);
    assert_int_equal(history_count(h), 4);
    history_free(h);
}

static void test_since_before_start_is_incomplete(void **state)
{
    (void)state;
    struct history *h = history_new(10, 60000, START);
    uint64_t ids[4];
    size_t n;
    assert_int_equal(since(h, "a", START - 1, ids, &n), 1); /* the id just before start: ok */
    assert_int_equal(since(h, "a", 5, ids, &n), 0);
    history_free(h);
}

static void test_count_bound_raises_the_floor(void **state)
{
    (void)state;
    struct history *h = history_new(3, 60000, START);
    for (uint64_t id = 1001; id <= 1006; id++)
        add(h, "a", id, 1);
    uint64_t ids[10];
    size_t n;
    assert_int_equal(since(h, "a", 1002, ids, &n), 0); /* 1003 was forgotten */
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1004);
    assert_int_equal(since(h, "a", 1003, ids, &n), 1);
    assert_int_equal(since(h, "b", 1001, ids, &n), 1); /* other users are not affected */
    history_free(h);
}

static void test_expiry(void **state)
{
    (void)state;
    struct history *h = history_new(10, 100, START);
    add(h, "a", 1001, 1000);
    add(h, "a", 1002, 1050);
    add(h, "", 1003, 1060);
    history_expire(h, 1120); /* forgets ts < 1020 */
    uint64_t ids[10];
    size_t n;
    assert_int_equal(since(h, "a", 1000, ids, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(since(h, "a", 1001, ids, &n), 1);
    history_expire(h, 5000); /* everything: user "a" is dropped, its floor kept */
    assert_int_equal(history_count(h), 0);
    assert_int_equal(since(h, "a", 1002, ids, &n), 0);
    assert_int_equal(since(h, "a", 1003, ids, &n), 1);
    history_free(h);
}

/* expiry looks at the users with something due, not at every user */
static void test_expiry_looks_only_at_users_due(void **state)
{
    (void)state;
    struct history *h = history_new(10, 100, START);
    char user[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(user, sizeof user, "u%d", i);
        add(h, user, START + 1 + (uint64_t)i, 1000 + (i < 3 ? 0 : 50));
    }
    assert_int_equal(history_expire(h, 1120), 3); /* only the three with ts 1000 were due */
    assert_int_equal(history_count(h), 4997);
    assert_int_equal(history_expire(h, 1121), 0);
    assert_int_equal(history_expire(h, 1151), 4997); /* the rest, at their time */
    assert_int_equal(history_count(h), 0);
    history_free(h);
}

/* a user whose oldest messages were dropped by the bound is due by its new oldest one */
static void test_expiry_after_the_bound_dropped_the_oldest(void **state)
{
    (void)state;
    struct history *h = history_new(2, 100, START);
    add(h, "a", 1001, 1000);
    add(h, "a", 1002, 1040);
    add(h, "a", 1003, 1080);                      /* drops 1001: the oldest is now ts 1040 */
    assert_int_equal(history_expire(h, 1101), 1); /* due by ts 1000: looked, nothing to forget */
    assert_int_equal(history_count(h), 2);
    assert_int_equal(history_expire(h, 1120), 0); /* due again by ts 1040 */
    assert_int_equal(history_expire(h, 1141), 1); /* 1002 (ts 1040) goes */
    uint64_t ids[4];
    size_t n;
    assert_int_equal(since(h, "a", 1002, ids, &n), 1);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1003);
    assert_int_equal(history_expire(h, 1181), 1); /* then the user */
    assert_int_equal(history_count(h), 0);
    assert_int_equal(since(h, "a", 1003, ids, &n), 1);
    history_free(h);
}

static void test_size_zero_remembers_nothing(void **state)
{
    (void)state;
    struct history *h = history_new(0, 100, START);
    add(h, "a", 1001, 1);
    uint64_t ids[2];
    size_t n;
    assert_int_equal(since(h, "a", 1000, ids, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(since(h, "a", 1001, ids, &n), 1);
    history_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_and_broadcasts_merge_in_order),
        cmocka_unit_test(test_since_before_start_is_incomplete),
        cmocka_unit_test(test_count_bound_raises_the_floor),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_expiry_looks_only_at_users_due),
        cmocka_unit_test(test_expiry_after_the_bound_dropped_the_oldest),
        cmocka_unit_test(test_size_zero_remembers_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
