/* outq: order, bounds in messages and bytes, coalescing by key, compaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "notify/ops.h"
#include "ws/outq.h"

static struct delivery *msg(uint64_t id, size_t len, uint64_t key)
{
    struct delivery *d = delivery_new(len);
    assert_non_null(d);
    memset(delivery_json(d), 'x', len);
    d->id = id;
    d->coalesce_key = key;
    return d;
}

/* pushes and drops the caller's reference */
static enum outq_result push(struct outq *q, struct delivery *d, uint32_t max, size_t max_bytes,
                             int *co)
{
    enum outq_result r = outq_push(q, d, max, max_bytes, co);
    delivery_unref(d);
    return r;
}

static void test_fifo_and_growth(void **state)
{
    (void)state;
    struct outq q = {0};
    for (uint64_t i = 1; i <= 100; i++)
        assert_int_equal(push(&q, msg(i, 10, 0), 1000, 1 << 20, NULL), OUTQ_OK);
    assert_int_equal(outq_count(&q), 100);
    assert_int_equal(q.bytes, 1000);
    for (uint64_t i = 1; i <= 100; i++) {
        struct delivery *d = outq_pop(&q);
        assert_int_equal(d->id, i);
        delivery_unref(d);
    }
    assert_null(outq_pop(&q));
    assert_int_equal(q.bytes, 0);
    outq_clear(&q);
}

static void test_bounds(void **state)
{
    (void)state;
    struct outq q = {0};
    assert_int_equal(push(&q, msg(1, 10, 0), 2, 100, NULL), OUTQ_OK);
    assert_int_equal(push(&q, msg(2, 10, 0), 2, 100, NULL), OUTQ_OK);
    assert_int_equal(push(&q, msg(3, 10, 0), 2, 100, NULL), OUTQ_FULL); /* messages */
    assert_int_equal(push(&q, msg(4, 81, 0), 3, 100, NULL), OUTQ_FULL); /* bytes */
    assert_int_equal(push(&q, msg(5, 80, 0), 3, 100, NULL), OUTQ_OK);
    assert_int_equal(outq_count(&q), 3);
    outq_clear(&q);
    assert_int_equal(outq_count(&q), 0);
}

static void test_coalescing_keeps_rising_ids(void **state)
{
    (void)state;
    struct outq q = {0};
    int co = -1;
    assert_int_equal(push(&q, msg(1, 10, 7), 100, 1000, &co), OUTQ_OK); /* progress of task 7 */
    assert_int_equal(co, 0);
    push(&q, msg(2, 10, 0), 100, 1000, &co);                            /* something else */
    assert_int_equal(push(&q, msg(3, 10, 7), 100, 1000, &co), OUTQ_OK); /* newer progress */
    assert_int_equal(co, 1);
    push(&q, msg(4, 10, 9), 100, 1000, &co); /* another task: kept */
    assert_int_equal(co, 0);
    assert_int_equal(outq_count(&q), 3);
    assert_int_equal(q.bytes, 30);
    uint64_t want[] = {2, 3, 4};
    for (int i = 0; i < 3; i++) {
        struct delivery *d = outq_pop(&q);
        assert_int_equal(d->id, want[i]);
        delivery_unref(d);
    }
    outq_clear(&q);
}

static void test_a_stream_of_updates_stays_small(void **state)
{
    (void)state;
    struct outq q = {0};
    for (uint64_t i = 1; i <= 10000; i++)
        assert_int_equal(push(&q, msg(i, 100, 5), 4, 1000, NULL), OUTQ_OK);
    assert_int_equal(outq_count(&q), 1);
    assert_true(q.cap <= 16); /* emptied slots are reused, the ring does not grow */
    struct delivery *d = outq_pop(&q);
    assert_int_equal(d->id, 10000);
    delivery_unref(d);
    outq_clear(&q);
}

static struct delivery *urgent(uint64_t id)
{
    struct delivery *d = msg(id, 10, 0);
    d->priority = PRIORITY_URGENT;
    return d;
}

/* urgent messages overtake the others, keep their own order, and survive wraps and holes */
static void test_urgent_goes_first(void **state)
{
    (void)state;
    struct outq q = {0};
    for (uint64_t i = 1; i <= 5; i++)
        assert_int_equal(push(&q, msg(i, 10, i == 3 ? 7 : 0), 1000, 1 << 20, NULL), OUTQ_OK);
    outq_clear(&q);
    /* a ring that has wrapped: pop a few first */
    for (uint64_t i = 1; i <= 6; i++)
        assert_int_equal(push(&q, msg(i, 10, i == 6 ? 9 : 0), 1000, 1 << 20, NULL), OUTQ_OK);
    for (uint64_t i = 1; i <= 3; i++)
        delivery_unref(outq_pop(&q));
    assert_int_equal(push(&q, urgent(100), 1000, 1 << 20, NULL), OUTQ_OK);
    assert_int_equal(push(&q, msg(7, 10, 9), 1000, 1 << 20, NULL), OUTQ_OK); /* a hole at 6 */
    assert_int_equal(push(&q, urgent(101), 1000, 1 << 20, NULL), OUTQ_OK);
    for (uint64_t i = 8; i <= 20; i++) /* grows with urgent ones at the head */
        assert_int_equal(push(&q, msg(i, 10, 0), 1000, 1 << 20, NULL), OUTQ_OK);
    assert_int_equal(push(&q, urgent(102), 1000, 1 << 20, NULL), OUTQ_OK);
    const uint64_t want[] = {100, 101, 102, 4,  5,  7,  8,  9,  10, 11,
                             12,  13,  14,  15, 16, 17, 18, 19, 20};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct delivery *d = outq_pop(&q);
        assert_non_null(d);
        assert_int_equal(d->id, want[i]);
        delivery_unref(d);
    }
    assert_null(outq_pop(&q));
    /* the bounds hold for urgent ones too: the caller closes the reader instead */
    assert_int_equal(push(&q, msg(1, 10, 0), 1, 1 << 20, NULL), OUTQ_OK);
    assert_int_equal(push(&q, urgent(2), 1, 1 << 20, NULL), OUTQ_FULL);
    outq_clear(&q);
}

static void test_shared_delivery_refcount(void **state)
{
    (void)state;
    struct outq a = {0}, b = {0};
    struct delivery *d = msg(1, 5, 0);
    outq_push(&a, d, 10, 100, NULL);
    outq_push(&b, d, 10, 100, NULL);
    delivery_unref(d); /* the queues hold the last two references */
    outq_clear(&a);
    struct delivery *x = outq_pop(&b);
    assert_int_equal(x->id, 1);
    delivery_unref(x); /* freed here: ASan checks there is no double free */
    outq_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_growth),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_coalescing_keeps_rising_ids),
        cmocka_unit_test(test_a_stream_of_updates_stays_small),
        cmocka_unit_test(test_urgent_goes_first),
        cmocka_unit_test(test_shared_delivery_refcount),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
