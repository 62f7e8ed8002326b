/* wheel: timers fire once, on time, never early; removal; laps past the horizon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nd.h"
#include "ws/wheel.h"

struct timer {
    struct wheel_node node;
    int fired;
    int64_t fired_at;
    int64_t rearm; /* > 0: add again this far ahead */
};

static int64_t clock_ms;

static void fire(struct wheel_node *n, void *arg)
{
    struct wheel *w = arg;
    struct timer *t = ND_CONTAINER_OF(n, struct timer, node);
    t->fired++;
    t->fired_at = clock_ms;
    if (t->rearm)
        wheel_add(w, n, clock_ms + t->rearm);
}

static void advance_to(struct wheel *w, int64_t to, int64_t step)
{
    while (clock_ms < to) {
        clock_ms += step;
        wheel_advance(w, clock_ms, fire, w);
    }
}

static void test_fires_once_at_its_time(void **state)
{
    (void)state;
    struct wheel w;
    clock_ms = 1000;
    assert_int_equal(wheel_init(&w, 10, 1000, clock_ms), 0);
    struct timer t[50] = {0};
    for (int i = 0; i < 50; i++)
        wheel_add(&w, &t[i].node, clock_ms + 7 * i + 3);
    assert_int_equal(w.count, 50);
    advance_to(&w, 2000, 1);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(t[i].fired, 1);
        assert_int_equal(t[i].fired_at, 1000 + 7 * i + 3); /* advanced by 1 ms: exact */
    }
    assert_int_equal(w.count, 0);
    wheel_free(&w);
}

static void test_never_early_with_coarse_steps(void **state)
{
    (void)state;
    struct wheel w;
    clock_ms = 0;
    wheel_init(&w, 25, 500, clock_ms);
    struct timer t[20] = {0};
    for (int i = 0; i < 20; i++)
        wheel_add(&w, &t[i].node, 13 * i + 1);
    advance_to(&w, 600, 37);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(t[i].fired, 1);
        assert_true(t[i].fired_at >= 13 * i + 1);
        assert_true(t[i].fired_at < 13 * i + 1 + 37 + 25);
    }
    wheel_free(&w);
}

static void test_due_later_in_the_current_tick(void **state)
{
    (void)state;
    struct wheel w;
    clock_ms = 1005;
    wheel_init(&w, 10, 100, clock_ms);
    struct timer t = {0};
    wheel_add(&w, &t.node, 1008); /* same tick as "now", already visited */
    clock_ms = 1009;
    wheel_advance(&w, clock_ms, fire, &w);
    assert_int_equal(t.fired, 1);
    wheel_free(&w);
}

static void test_past_due_fires_on_next_advance(void **state)
{
    (void)state;
    struct wheel w;
    clock_ms = 500;
    wheel_init(&w, 10, 100, clock_ms);
    struct timer t = {0};
    wheel_add(&w, &t.node, 100);
    wheel_advance(&w, clock_ms, fire, &w); /* same instant: nothing moves */
    assert_int_equal(t.fired, 0);
    clock_ms = 501;
    wheel_advance(&w, clock_ms, fire, &w);
    assert_int_equal(t.fired, 1);
    assert_int_equal(w.count, 0);
    wheel_free(&w);
}

static void test_remove_and_rearm(void **state)
{
    (void)state;
    struct wheel w;
    clock_ms = 0;
    wheel_init(&w, 5, 200, clock_ms);
    struct timer a = {0}, b = {0};
    b.rearm = 50;
    wheel_add(&w, &a.node, 30);
    wheel_add(&w, &b.node, 30);
    assert_true(wheel_scheduled(&a.node));
    wheel_remove(&w, &a.node);
    wheel_remove(&w, &a.node); /* twice is a no-op */
    assert_false(wheel_scheduled(&a.node));
    advance_to(&w, 235, 5);
    assert_int_equal(a.fired, 0);
    assert_int_equal(b.fired, 5); /* 30, 80, 130, 180, 230 */
    assert_int_equal(b.fired_at, 230);
    wheel_free(&w);
}

static void test_beyond_the_horizon_waits_its_laps(void **state)
{
    (void)state;
    struct wheel w;
    clock_ms = 0;
    wheel_init(&w, 10, 100, clock_ms); /* 12 slots: a lap is 120 ms */
    struct timer t = {0};
    wheel_add(&w, &t.node, 1000);
    advance_to(&w, 990, 10);
    assert_int_equal(t.fired, 0);
    advance_to(&w, 1000, 10);
    assert_int_equal(t.fired, 1);
    wheel_free(&w);
}

static void test_a_long_jump_fires_everything_due(void **state)
{
    (void)state;
    struct wheel w;
    clock_ms = 0;
    wheel_init(&w, 10, 100, clock_ms);
    struct timer t[30] = {0};
    for (int i = 0; i < 30; i++)
        wheel_add(&w, &t[i].node, 1 + 9 * i);
    clock_ms = 100000; /* many laps at once */
    assert_int_equal(wheel_advance(&w, clock_ms, fire, &w), 30);
    for (int i = 0; i < 30; i++)
        assert_int_equal(t[i].fired, 1);
    wheel_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_once_at_its_time),
        cmocka_unit_test(test_never_early_with_coarse_steps),
        cmocka_unit_test(test_due_later_in_the_current_tick),
        cmocka_unit_test(test_past_due_fires_on_next_advance),
        cmocka_unit_test(test_remove_and_rearm),
        cmocka_unit_test(test_beyond_the_horizon_waits_its_laps),
        cmocka_unit_test(test_a_long_jump_fires_everything_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
