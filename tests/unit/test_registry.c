/* test_registry: user id -> live connections: add/remove/find, several tabs
 * per user, the user entry living exactly as long as its last connection,
 * counts, sorted ids, early-stopping iteration and a 10,000-user stress. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws/registry.h"

/* the links of @u, oldest first, must be exactly @want[0..n) */
static void assert_conns(const struct reg_user *u, struct reg_link *const *want, int n)
{
    assert_non_null(u);
    assert_int_equal(u->n_conns, n);
    const struct reg_link *l = u->conns;
    for (int i = 0; i < n; i++) {
        assert_ptr_equal(l, want[i]);
        assert_ptr_equal(l->user, u);
        l = l->next;
    }
    assert_null(l);
}

static void test_empty(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    assert_non_null(reg);
    assert_int_equal(registry_connections(reg), 0);
    assert_int_equal(registry_users(reg), 0);
    assert_null(registry_find(reg, "alice"));
    assert_null(registry_find(reg, ""));
    size_t n = 99;
    assert_null(registry_user_ids(reg, &n));
    assert_int_equal(n, 0);
    registry_free(reg);
    registry_free(NULL);
}

static void test_add_find_remove(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    struct reg_link a = {0};
    assert_int_equal(registry_add(reg, "alice", &a), 0);
    struct reg_user *u = registry_find(reg, "alice");
    assert_non_null(u);
    assert_string_equal(u->id, "alice");
    assert_ptr_equal(a.user, u);
    struct reg_link *want[] = {&a};
    assert_conns(u, want, 1);
    assert_int_equal(registry_connections(reg), 1);
    assert_int_equal(registry_users(reg), 1);

    /* lookups are exact */
    assert_null(registry_find(reg, "Alice"));
    assert_null(registry_find(reg, "alic"));
    assert_null(registry_find(reg, "alice "));

    registry_remove(reg, &a);
    assert_null(a.user);
    assert_null(a.prev);
    assert_null(a.next);
    assert_null(registry_find(reg, "alice"));
    assert_int_equal(registry_connections(reg), 0);
    assert_int_equal(registry_users(reg), 0);

    /* a removed link can be added again, even for someone else */
    assert_int_equal(registry_add(reg, "bob", &a), 0);
    assert_string_equal(a.user->id, "bob");
    assert_null(registry_find(reg, "alice"));
    registry_remove(reg, &a);
    registry_free(reg);
}

static void test_id_is_copied(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    char id[32];
    struct reg_link a = {0}, b = {0};
    strcpy(id, "user-1");
    assert_int_equal(registry_add(reg, id, &a), 0);
    strcpy(id, "user-2"); /* the caller's buffer is reused */
    assert_int_equal(registry_add(reg, id, &b), 0);
    assert_non_null(registry_find(reg, "user-1"));
    assert_non_null(registry_find(reg, "user-2"));
    assert_ptr_not_equal(registry_find(reg, "user-1")->id, id);
    assert_int_equal(registry_users(reg), 2);
    registry_remove(reg, &a);
    registry_remove(reg, &b);
    registry_free(reg);
}

static void test_several_links_per_user(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    struct reg_link t[4] = {{0}}, other = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(registry_add(reg, "carol", &t[i]), 0);
    assert_int_equal(registry_add(reg, "dave", &other), 0);
    struct reg_user *u = registry_find(reg, "carol");
    struct reg_link *all[] = {&t[0], &t[1], &t[2], &t[3]};
    assert_conns(u, all, 4); /* oldest first */
    assert_int_equal(registry_connections(reg), 5);
    assert_int_equal(registry_users(reg), 2);

    /* the entry stays while any tab is open */
    registry_remove(reg, &t[1]);
    struct reg_link *three[] = {&t[0], &t[2], &t[3]};
    assert_ptr_equal(registry_find(reg, "carol"), u);
    assert_conns(u, three, 3);
    registry_remove(reg, &t[0]); /* the head */
    struct reg_link *two[] = {&t[2], &t[3]};
    assert_conns(u, two, 2);
    registry_remove(reg, &t[3]); /* the tail */
    struct reg_link *one[] = {&t[2]};
    assert_conns(u, one, 1);
    /* a new tab goes last */
    struct reg_link late = {0};
    assert_int_equal(registry_add(reg, "carol", &late), 0);
    struct reg_link *two_b[] = {&t[2], &late};
    assert_conns(u, two_b, 2);
    assert_int_equal(registry_connections(reg), 3);

    registry_remove(reg, &t[2]);
    registry_remove(reg, &late);
    assert_null(registry_find(reg, "carol")); /* gone with its last link */
    assert_int_equal(registry_users(reg), 1);
    assert_int_equal(registry_connections(reg), 1);
    struct reg_link *d[] = {&other};
    assert_conns(registry_find(reg, "dave"), d, 1); /* untouched */
    registry_remove(reg, &other);
    assert_int_equal(registry_users(reg), 0);
    registry_free(reg);
}

static void test_remove_twice(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    struct reg_link a = {0}, b = {0}, never = {0};
    registry_add(reg, "erin", &a);
    registry_add(reg, "erin", &b);
    registry_remove(reg, &a);
    registry_remove(reg, &a); /* no-op */
    registry_remove(reg, &never);
    assert_int_equal(registry_connections(reg), 1);
    assert_int_equal(registry_users(reg), 1);
    struct reg_link *want[] = {&b};
    assert_conns(registry_find(reg, "erin"), want, 1);
    registry_remove(reg, &b);
    registry_remove(reg, &b);
    assert_int_equal(registry_connections(reg), 0);
    assert_int_equal(registry_users(reg), 0);
    registry_free(reg);
}

static void test_user_ids_sorted(void **state)
{
    (void)state;
    static const char *const ids[] = {"bob", "alice", "carol", "Zed", "10", "2", "alice2", "a"};
    static const char *const sorted[] = {"10", "2", "Zed", "a", "alice", "alice2", "bob", "carol"};
    const size_t n_ids = sizeof ids / sizeof ids[0];
    struct registry *reg = registry_new();
    struct reg_link links[2 * 8] = {{0}};
    for (size_t i = 0; i < n_ids; i++) {
        assert_int_equal(registry_add(reg, ids[i], &links[2 * i]), 0);
        assert_int_equal(registry_add(reg, ids[i], &links[2 * i + 1]), 0); /* two tabs */
    }
    size_t n = 0;
    const char **got = registry_user_ids(reg, &n);
    assert_non_null(got);
    assert_int_equal(n, n_ids); /* each user once */
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(got[i], sorted[i]);
        assert_ptr_equal(got[i], registry_find(reg, sorted[i])->id); /* borrowed */
    }
    free(got);

    for (size_t i = 0; i < 2 * n_ids; i++)
        registry_remove(reg, &links[i]);
    got = registry_user_ids(reg, &n);
    assert_null(got);
    assert_int_equal(n, 0);
    registry_free(reg);
}

struct visit {
    int calls;
    int stop_after; /* 0: never stop */
    int seen_conns;
    char seen[8][16];
};

static int visit_user(struct reg_user *u, void *arg)
{
    struct visit *v = arg;
    assert_true(v->calls < 8);
    snprintf(v->seen[v->calls], sizeof v->seen[0], "%s", u->id);
    v->calls++;
    v->seen_conns += u->n_conns;
    return v->stop_after && v->calls == v->stop_after;
}

static void test_each_user(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    struct reg_link l[6] = {{0}};
    registry_add(reg, "u1", &l[0]);
    registry_add(reg, "u2", &l[1]);
    registry_add(reg, "u2", &l[2]);
    registry_add(reg, "u3", &l[3]);
    registry_add(reg, "u4", &l[4]);
    registry_add(reg, "u4", &l[5]);

    struct visit v = {0};
    registry_each_user(reg, visit_user, &v);
    assert_int_equal(v.calls, 4);
    assert_int_equal(v.seen_conns, 6);
    for (int i = 0; i < 4; i++) /* each user once */
        for (int k = 0; k < i; k++)
            assert_string_not_equal(v.seen[i], v.seen[k]);

    for (int stop = 1; stop <= 4; stop++) {
        memset(&v, 0, sizeof v);
        v.stop_after = stop;
        registry_each_user(reg, visit_user, &v);
        assert_int_equal(v.calls, stop);
    }

    for (int i = 0; i < 6; i++)
        registry_remove(reg, &l[i]);
    memset(&v, 0, sizeof v);
    registry_each_user(reg, visit_user, &v);
    assert_int_equal(v.calls, 0);
    registry_free(reg);
}

/* read-only: entries are borrowed only until the next add/remove */
static int count_users(struct reg_user *u, void *arg)
{
    size_t *n = arg;
    (*n) += u->n_conns > 0;
    return 0;
}

#define N_USERS 10000

static void test_stress(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    /* user i has 1 + i % 3 links */
    struct reg_link(*links)[3] = calloc(N_USERS, sizeof *links);
    assert_non_null(links);
    size_t total = 0;
    char id[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N_USERS; i++) {
            if (round > i % 3)
                continue;
            snprintf(id, sizeof id, "user-%05d", i);
            assert_int_equal(registry_add(reg, id, &links[i][round]), 0);
            total++;
        }
    }
    assert_int_equal(registry_users(reg), N_USERS);
    assert_int_equal(registry_connections(reg), total);
    assert_int_equal(total, N_USERS + N_USERS * 2 / 3 + N_USERS / 3); /* 20000 - rounding */

    for (int i = 0; i < N_USERS; i++) {
        snprintf(id, sizeof id, "user-%05d", i);
        struct reg_user *u = registry_find(reg, id);
        assert_non_null(u);
        assert_int_equal(u->n_conns, 1 + i % 3);
        assert_ptr_equal(u->conns, &links[i][0]);
    }
    snprintf(id, sizeof id, "user-%05d", N_USERS);
    assert_null(registry_find(reg, id));

    size_t n = 0;
    const char **ids = registry_user_ids(reg, &n);
    assert_int_equal(n, N_USERS);
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "user-%05zu", i); /* zero-padded: numeric = string order */
        assert_string_equal(ids[i], id);
    }
    free(ids);
    size_t walked = 0;
    registry_each_user(reg, count_users, &walked);
    assert_int_equal(walked, N_USERS);

    /* odd users leave entirely, even users close their oldest tab */
    for (int i = 0; i < N_USERS; i++) {
        if (i % 2) {
            for (int k = 0; k <= i % 3; k++) {
                registry_remove(reg, &links[i][k]);
                total--;
            }
        } else {
            registry_remove(reg, &links[i][0]);
            total--;
        }
    }
    assert_int_equal(registry_connections(reg), total);
    size_t remaining = 0;
    for (int i = 0; i < N_USERS; i++) {
        snprintf(id, sizeof id, "user-%05d", i);
        struct reg_user *u = registry_find(reg, id);
        if (i % 2 || i % 3 == 0) {
            assert_null(u); /* odd, or even with a single tab */
        } else {
            assert_non_null(u);
            assert_int_equal(u->n_conns, i % 3);
            assert_ptr_equal(u->conns, &links[i][1]);
            remaining++;
        }
    }
    assert_int_equal(registry_users(reg), remaining);
    ids = registry_user_ids(reg, &n);
    assert_int_equal(n, remaining);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) < 0);
    free(ids);

    /* everyone leaves */
    for (int i = 0; i < N_USERS; i++)
        for (int k = 0; k < 3; k++)
            registry_remove(reg, &links[i][k]); /* removed and never-added links: no-ops */
    assert_int_equal(registry_connections(reg), 0);
    assert_int_equal(registry_users(reg), 0);
    assert_null(registry_user_ids(reg, &n));
    registry_free(reg);
    free(links);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),        cmocka_unit_test(test_add_find_remove),
        cmocka_unit_test(test_id_is_copied), cmocka_unit_test(test_several_links_per_user),
        cmocka_unit_test(test_remove_twice), cmocka_unit_test(test_user_ids_sorted),
        cmocka_unit_test(test_each_user),    cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
