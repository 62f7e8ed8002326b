/* test_userindex: which WebSocket threads hold whose connections -- routes
 * for a user and for everyone (leaving out the asking thread), live vs
 * closing counts, ack mode, sorted ids in one block, per-thread totals,
 * entries living exactly as long as a registration, and four threads adding
 * and removing at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws/userindex.h"

static void test_bounds(void **state)
{
    (void)state;
    assert_null(uindex_new(0));
    assert_null(uindex_new(UINDEX_SHARDS_MAX + 1));
    struct uindex *ix = uindex_new(UINDEX_SHARDS_MAX);
    assert_non_null(ix);
    assert_int_equal(uindex_add(ix, "u", UINDEX_SHARDS_MAX - 1, 1), 0);
    struct uindex_route r;
    uindex_route_user(ix, "u", 0, &r);
    assert_true(r.shards == UINT64_C(1) << (UINDEX_SHARDS_MAX - 1));
    uindex_remove(ix, "u", UINDEX_SHARDS_MAX - 1, 1, 1);
    assert_int_equal(uindex_users(ix), 0);
    uindex_free(ix);
}

static void test_routes_leave_out_the_asking_thread(void **state)
{
    (void)state;
    struct uindex *ix = uindex_new(3);
    struct uindex_route r;
    assert_int_equal(uindex_add(ix, "alice", 0, 1), 0);
    assert_int_equal(uindex_add(ix, "alice", 2, 0), 0); /* ack mode */
    assert_int_equal(uindex_add(ix, "alice", 2, 1), 0);
    assert_int_equal(uindex_add(ix, "bob", 1, 1), 0);

    uindex_route_user(ix, "alice", 0, &r);
    assert_true(r.shards == UINT64_C(4));
    assert_int_equal(r.live, 2);
    assert_int_equal(r.live_nonack, 1);
    uindex_route_user(ix, "alice", 2, &r);
    assert_true(r.shards == UINT64_C(1));
    assert_int_equal(r.live, 1);
    uindex_route_user(ix, "carol", 0, &r);
    assert_true(r.shards == 0 && r.live == 0 && r.live_nonack == 0);

    uindex_route_all(ix, 0, &r);
    assert_true(r.shards == UINT64_C(6));
    assert_int_equal(r.live, 3);
    assert_int_equal(r.live_nonack, 2);

    assert_int_equal(uindex_user_connections(ix, "alice"), 3);
    assert_int_equal(uindex_user_connections(ix, "bob"), 1);
    assert_int_equal(uindex_user_connections(ix, "carol"), 0);
    assert_int_equal(uindex_connections(ix), 4);
    assert_int_equal(uindex_shard_connections(ix, 0), 1);
    assert_int_equal(uindex_shard_connections(ix, 1), 1);
    assert_int_equal(uindex_shard_connections(ix, 2), 2);
    assert_int_equal(uindex_shard_connections(ix, 3), 0); /* no such thread */
    assert_int_equal(uindex_users(ix), 2);
    uindex_free(ix); /* with entries: no leak */
}

static void test_closing_ones_are_routed_but_not_counted_as_reached(void **state)
{
    (void)state;
    struct uindex *ix = uindex_new(2);
    struct uindex_route r;
    uindex_add(ix, "alice", 1, 1);
    uindex_add(ix, "alice", 1, 0);
    uindex_closing(ix, "alice", 1, 1);
    uindex_route_user(ix, "alice", 0, &r);
    assert_int_equal(r.live, 1);
    assert_int_equal(r.live_nonack, 0);
    uindex_closing(ix, "alice", 1, 0);
    uindex_closing(ix, "alice", 1, 0); /* none live left: no effect */
    uindex_route_user(ix, "alice", 0, &r);
    assert_true(r.shards == UINT64_C(2)); /* still there: DisconnectUser must reach them */
    assert_int_equal(r.live, 0);
    assert_int_equal(r.live_nonack, 0);
    assert_int_equal(uindex_user_connections(ix, "alice"), 2);

    uindex_remove(ix, "alice", 1, 1, 0); /* closed after closing */
    uindex_remove(ix, "alice", 1, 0, 0);
    assert_int_equal(uindex_connections(ix), 0);
    assert_int_equal(uindex_users(ix), 0);
    uindex_route_all(ix, 0, &r);
    assert_true(r.shards == 0 && r.live == 0);
    uindex_remove(ix, "alice", 1, 0, 1); /* not registered: no-op */
    assert_int_equal(uindex_connections(ix), 0);
    uindex_free(ix);
}

static void count(void *arg, const char *user_id, int conns, int nonack)
{
    int *seen = arg;
    seen[0]++;
    seen[1] += conns;
    seen[2] += nonack;
    assert_true(strlen(user_id) > 0);
}

static void test_ids_sorted_in_one_block_and_each(void **state)
{
    (void)state;
    struct uindex *ix = uindex_new(2);
    size_t n = 7;
    assert_null(uindex_user_ids(ix, &n));
    assert_int_equal(n, 0);
    const char *users[] = {"zed", "amy", "mia", "bob"};
    for (size_t i = 0; i < 4; i++)
        uindex_add(ix, users[i], (unsigned)i % 2, (int)(i != 1));
    uindex_add(ix, "amy", 0, 1);
    const char **ids = uindex_user_ids(ix, &n);
    assert_int_equal(n, 4);
    assert_string_equal(ids[0], "amy");
    assert_string_equal(ids[1], "bob");
    assert_string_equal(ids[2], "mia");
    assert_string_equal(ids[3], "zed");
    uindex_remove(ix, "bob", 1, 1, 1); /* the copy outlives a change */
    assert_string_equal(ids[1], "bob");
    free(ids); /* one block: strings included */
    int seen[3] = {0, 0, 0};
    uindex_each(ix, count, seen);
    assert_int_equal(seen[0], 3);
    assert_int_equal(seen[1], 4);
    assert_int_equal(seen[2], 3);
    uindex_free(ix);
}

struct worker {
    struct uindex *ix;
    unsigned shard;
};

static void *churn(void *arg)
{
    struct worker *w = arg;
    char id[16];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 50; i++) {
            snprintf(id, sizeof id, "u%d", i);
            uindex_add(w->ix, id, w->shard, i % 2);
        }
        for (int i = 0; i < 50; i++) {
            snprintf(id, sizeof id, "u%d", i);
            if (i % 3 == 0)
                uindex_closing(w->ix, id, w->shard, i % 2);
            uindex_remove(w->ix, id, w->shard, i % 2, i % 3 != 0);
        }
    }
    return NULL;
}

static void test_threads_at_once(void **state)
{
    (void)state;
    struct uindex *ix = uindex_new(4);
    pthread_t t[4];
    struct worker w[4];
    for (unsigned k = 0; k < 4; k++) {
        w[k] = (struct worker){ix, k};
        assert_int_equal(pthread_create(&t[k], NULL, churn, &w[k]), 0);
    }
    for (unsigned k = 0; k < 4; k++)
        pthread_join(t[k], NULL);
    struct uindex_route r;
    uindex_route_all(ix, 0, &r);
    assert_true(r.shards == 0 && r.live == 0 && r.live_nonack == 0);
    assert_int_equal(uindex_connections(ix), 0);
    assert_int_equal(uindex_users(ix), 0);
    uindex_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_routes_leave_out_the_asking_thread),
        cmocka_unit_test(test_closing_ones_are_routed_but_not_counted_as_reached),
        cmocka_unit_test(test_ids_sorted_in_one_block_and_each),
        cmocka_unit_test(test_threads_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
