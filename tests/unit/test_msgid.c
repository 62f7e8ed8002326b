/* test_msgid: the hybrid logical clock behind message ids -- monotonic even
 * when the wall clock steps back -- and its 16-hex-digit text form, whose
 * string order is the numeric order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/msgid.h"

#define T0 1700000000000LL /* a plausible now, in ms */

static void test_first_id(void **state)
{
    (void)state;
    struct msgid_clock c = {0};
    uint64_t id = msgid_next(&c, T0);
    assert_true(id == (uint64_t)T0 << 16);
    assert_int_equal(msgid_time_ms(id), T0);
    assert_true(c.last == id);
}

static void test_same_ms_counts_up(void **state)
{
    (void)state;
    struct msgid_clock c = {0};
    uint64_t first = msgid_next(&c, T0);
    for (uint64_t i = 1; i <= 1000; i++) {
        uint64_t id = msgid_next(&c, T0);
        assert_true(id == first + i);
        assert_int_equal(msgid_time_ms(id), T0);
    }
}

static void test_clock_going_backwards(void **state)
{
    (void)state;
    struct msgid_clock c = {0};
    uint64_t a = msgid_next(&c, T0 + 5000);
    uint64_t b = msgid_next(&c, T0); /* NTP stepped the clock back 5 s */
    assert_true(b > a);
    assert_true(b == a + 1);
    uint64_t d = msgid_next(&c, 0);
    assert_true(d == b + 1);
    uint64_t e = msgid_next(&c, -12345); /* before the epoch */
    assert_true(e == d + 1);
    /* once the clock passes the old reading again, ids follow it */
    uint64_t f = msgid_next(&c, T0 + 6000);
    assert_true(f == (uint64_t)(T0 + 6000) << 16);
}

static void test_monotonic_random_clock(void **state)
{
    (void)state;
    struct msgid_clock c = {0};
    uint64_t prev = 0, rng = 88172645463325252ULL;
    int64_t now = T0;
    for (int i = 0; i < 100000; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        now += (int64_t)(rng % 21) - 10; /* jitter both ways */
        uint64_t id = msgid_next(&c, now);
        assert_true(id > prev);
        assert_true(id >= (uint64_t)now << 16); /* never behind the clock */
        prev = id;
    }
}

static void test_counter_overflow(void **state)
{
    (void)state;
    /* more than 65536 ids in one millisecond borrow from the next one, still in order */
    struct msgid_clock c = {0};
    uint64_t prev = msgid_next(&c, T0);
    for (int i = 0; i < 70000; i++) {
        uint64_t id = msgid_next(&c, T0);
        assert_true(id == prev + 1);
        prev = id;
    }
    assert_int_equal(msgid_time_ms(prev), T0 + 1);
    uint64_t next = msgid_next(&c, T0 + 1); /* the clock catches up: still above */
    assert_true(next == prev + 1);
    next = msgid_next(&c, T0 + 2);
    assert_true(next == (uint64_t)(T0 + 2) << 16);
}

static void test_format(void **state)
{
    (void)state;
    char s[MSGID_LEN + 1];
    memset(s, '#', sizeof s);
    msgid_format(0, s);
    assert_string_equal(s, "0000000000000000");
    msgid_format(UINT64_MAX, s);
    assert_string_equal(s, "ffffffffffffffff");
    msgid_format(0x0123456789abcdefULL, s);
    assert_string_equal(s, "0123456789abcdef");
    msgid_format(0xa, s);
    assert_string_equal(s, "000000000000000a");
    msgid_format((uint64_t)T0 << 16, s);
    assert_int_equal(strlen(s), MSGID_LEN);
    assert_string_equal(s, "018bcfe568000000");
}

static void test_parse(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(msgid_parse("0123456789abcdef", &v), 0);
    assert_true(v == 0x0123456789abcdefULL);
    assert_int_equal(msgid_parse("0123456789ABCDEF", &v), 0); /* either case */
    assert_true(v == 0x0123456789abcdefULL);
    assert_int_equal(msgid_parse("ffffffffffffffff", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(msgid_parse("0000000000000000", &v), 0);
    assert_true(v == 0);

    static const char *const bad[] = {
        "",
        "0123456789abcde",   /* 15 */
        "0123456789abcdef0", /* 17 */
        "0123456789abcdeg",
        "g123456789abcdef",
        "0x23456789abcdef",
        " 123456789abcdef",
        "0123456789abcde ",
        "-123456789abcdef",
        "+123456789abcdef",
        "0123456789abcdef\n",
        "0123456789abcd:f",
        "0123456789abcd/f",
        "0123456789abcd@f",
        "0123456789abcd`f",
        "0123456789abcdeG",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        if (msgid_parse(bad[i], &v) != -EINVAL)
            print_error("accepted \"%s\"\n", bad[i]);
        assert_int_equal(msgid_parse(bad[i], &v), -EINVAL);
        assert_true(v == 42); /* untouched */
    }
    /* a NUL inside stops the parse at 15 digits */
    const char nul[] = "0123456789abcde\0f";
    assert_int_equal(msgid_parse(nul, &v), -EINVAL);
}

static void test_roundtrip(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 10000; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint64_t id = i < 64 ? (uint64_t)1 << i : rng;
        char s[MSGID_LEN + 1];
        uint64_t back = 0;
        msgid_format(id, s);
        assert_int_equal(strlen(s), MSGID_LEN);
        assert_int_equal(strspn(s, "0123456789abcdef"), MSGID_LEN);
        assert_int_equal(msgid_parse(s, &back), 0);
        assert_true(back == id);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

#define N_IDS 5000

static void test_string_order_is_numeric_order(void **state)
{
    (void)state;
    uint64_t *ids = malloc(N_IDS * sizeof *ids);
    char(*text)[MSGID_LEN + 1] = malloc(N_IDS * sizeof *text);
    assert_non_null(ids);
    assert_non_null(text);

    /* random ids of every magnitude */
    uint64_t rng = 2463534242ULL;
    for (int i = 0; i < N_IDS; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        ids[i] = rng >> (rng % 64);
        msgid_format(ids[i], text[i]);
    }
    qsort(ids, N_IDS, sizeof *ids, cmp_u64);
    qsort(text, N_IDS, sizeof *text, cmp_str);
    for (int i = 0; i < N_IDS; i++) {
        char s[MSGID_LEN + 1];
        msgid_format(ids[i], s);
        assert_string_equal(s, text[i]);
    }

    /* ids from the clock, formatted in issue order, are already sorted as strings */
    struct msgid_clock c = {0};
    char prev[MSGID_LEN + 1] = "";
    for (int i = 0; i < N_IDS; i++) {
        char s[MSGID_LEN + 1];
        msgid_format(msgid_next(&c, T0 + (i % 7 == 0 ? -i : i)), s);
        assert_true(strcmp(prev, s) < 0);
        memcpy(prev, s, sizeof s);
    }
    free(ids);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_id),
        cmocka_unit_test(test_same_ms_counts_up),
        cmocka_unit_test(test_clock_going_backwards),
        cmocka_unit_test(test_monotonic_random_clock),
        cmocka_unit_test(test_counter_overflow),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_string_order_is_numeric_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
