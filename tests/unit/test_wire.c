/* test_wire: the channel's header line -- what this version writes reads
 * back, a v1 (notifyd 0.1) line still reads, a v1 reader still reads what
 * this version writes, names it does not know are skipped, and the
 * operation travels by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cluster/wire.h"
#include "delivery/delivery.h"
#include "notify/ops.h"

#define JSON "{\"type\":\"system_notification\",\"message_id\":\"0190aabbccdd0001\"}"

/* what the publish script makes of the fields (scripts.h): id, head, user, tail, json */
static void join(char *out, size_t len, const char *hex, const struct wire_fields *w,
                 const char *user)
{
    snprintf(out, len, "%s %s %s%s\n%s", hex, w->head, user[0] ? user : "*", w->tail, JSON);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct wire_fields w;
    struct wire_msg m;
    char line[512];
    assert_int_equal(wire_encode("NotifyBatchGoProgress", PRIORITY_URGENT, 0xabcdef12345ULL,
                                 1700000000123456LL, &w),
                     0);
    join(line, sizeof line, "0190aabbccdd0001", &w, "alice");
    assert_int_equal(wire_decode(line, strlen(line), &m), 0);
    assert_true(m.id == 0x0190aabbccdd0001ULL);
    assert_string_equal(m.op, "NotifyBatchGoProgress");
    assert_int_equal(m.priority, PRIORITY_URGENT);
    assert_true(m.coalesce_key == 0xabcdef12345ULL);
    assert_string_equal(m.user_id, "alice");
    assert_true(m.accepted_us == 1700000000123456LL);
    assert_int_equal(m.len, strlen(JSON));
    assert_memory_equal(m.json, JSON, m.len);
}

static void test_broadcast_has_no_user(void **state)
{
    (void)state;
    struct wire_fields w;
    struct wire_msg m;
    char line[512];
    assert_int_equal(wire_encode("Broadcast", PRIORITY_NORMAL, 0, 5, &w), 0);
    join(line, sizeof line, "0190aabbccdd0002", &w, "");
    assert_int_equal(wire_decode(line, strlen(line), &m), 0);
    assert_string_equal(m.user_id, "");
    assert_string_equal(m.op, "Broadcast");
}

/* exactly what notifyd 0.1 published: the operation as its enum number */
static void test_v1_line_reads(void **state)
{
    (void)state;
    struct wire_msg m;
    const char *line = "0190aabbccdd0003 10 1 0 bob\n" JSON;
    assert_int_equal(wire_decode(line, strlen(line), &m), 0);
    assert_string_equal(m.op, "SendSystemNotification");
    assert_int_equal(m.priority, PRIORITY_HIGH);
    assert_string_equal(m.user_id, "bob");
    assert_true(m.accepted_us == 0);             /* not given: the receiver stamps it */
    line = "0190aabbccdd0004 99 0 0 bob\n" JSON; /* a number v1 did not have: no name */
    assert_int_equal(wire_decode(line, strlen(line), &m), 0);
    assert_string_equal(m.op, "");
}

/* notifyd 0.1's reader, verbatim: it must still get every field of a new line right */
static void test_v1_reader_reads_new_lines(void **state)
{
    (void)state;
    struct wire_fields w;
    char line[512], hex[24], user[ND_USER_ID_MAX + 1];
    int op = -2, prio = -1;
    unsigned long long key = 0;
    assert_int_equal(wire_encode("NotifyPlanExpired", PRIORITY_HIGH, 0x77, 123, &w), 0);
    join(line, sizeof line, "0190aabbccdd0005", &w, "carol");
    assert_int_equal(sscanf(line, "%17s %d %d %llx %128s", hex, &op, &prio, &key, user), 5);
    assert_string_equal(hex, "0190aabbccdd0005");
    assert_int_equal(op, 13); /* NotifyPlanExpired in v1's numbering */
    assert_int_equal(prio, PRIORITY_HIGH);
    assert_true(key == 0x77);
    assert_string_equal(user, "carol");
    /* an operation v1 never had goes as -1: v1 delivers it without an operation */
    assert_int_equal(wire_encode("NotifySomethingNew", PRIORITY_NORMAL, 0, 1, &w), 0);
    assert_true(!strncmp(w.head, "-1 ", 3));
}

static void test_unknown_names_are_skipped(void **state)
{
    (void)state;
    struct wire_msg m;
    const char *line =
        "0190aabbccdd0006 -1 0 0 dave x=1 op=FutureOp flag future=a=b at=42 z=\n" JSON;
    assert_int_equal(wire_decode(line, strlen(line), &m), 0);
    assert_string_equal(m.op, "FutureOp"); /* the caller decides what an unknown op means */
    assert_true(m.accepted_us == 42);
    assert_memory_equal(m.json, JSON, m.len);
    line = "0190aabbccdd0007 10 0 0 dave at=soon\n" JSON; /* a bad value of a known name */
    assert_int_equal(wire_decode(line, strlen(line), &m), 0);
    assert_true(m.accepted_us == 0);
}

static void test_unreadable_lines(void **state)
{
    (void)state;
    struct wire_msg m;
    char longop[128];
    memset(longop, 'A', sizeof longop);
    longop[sizeof longop - 1] = 0;
    char toolong[256];
    snprintf(toolong, sizeof toolong, "0190aabbccdd0001 10 0 0 u op=%s\n{}", longop);
    const char *bad[] = {
        "0190aabbccdd0001 10 0 0 u {}",      /* no newline */
        "0190aabbccdd00 10 0 0 u\n{}",       /* short id */
        "0190aabbccdd00zz 10 0 0 u\n{}",     /* not hex */
        "0190aabbccdd0001 10 0 0\n{}",       /* no user */
        "0190aabbccdd0001 ten 0 0 u\n{}",    /* not a number */
        "0190aabbccdd0001 10 0 0 u op=\n{}", /* an empty name */
        toolong,
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(wire_decode(bad[i], strlen(bad[i]), &m), -EINVAL);
    const char *high = "0190aabbccdd0001 10 7 0 u\n{}"; /* a priority from the future: normal */
    assert_int_equal(wire_decode(high, strlen(high), &m), 0);
    assert_int_equal(m.priority, PRIORITY_NORMAL);
}

static void test_encode_refuses_what_would_not_read_back(void **state)
{
    (void)state;
    struct wire_fields w;
    char longop[WIRE_OP_MAX + 2];
    memset(longop, 'A', sizeof longop - 1);
    longop[sizeof longop - 1] = 0;
    assert_int_equal(wire_encode(longop, 0, 0, 1, &w), -EINVAL);
    assert_int_equal(wire_encode("a b", 0, 0, 1, &w), -EINVAL);
    assert_int_equal(wire_encode("a=b", 0, 0, 1, &w), -EINVAL);
    assert_int_equal(wire_encode(NULL, 0, 0, 1, &w), 0); /* no operation: a control frame */
    assert_string_equal(w.tail, " at=1");
}

/* the v1 numbers stay what v1 meant, and every one still names an operation */
static void test_v1_numbering_is_frozen(void **state)
{
    (void)state;
    assert_string_equal(wire_v1_op(0), "NotifyBatchGoStart");
    assert_string_equal(wire_v1_op(10), "SendSystemNotification");
    assert_string_equal(wire_v1_op(14), "Broadcast");
    assert_string_equal(wire_v1_op(18), "NotifyUsers");
    assert_string_equal(wire_v1_op(22), "DeleteTemplate");
    assert_null(wire_v1_op(23));
    assert_null(wire_v1_op(-1));
    for (int i = 0; wire_v1_op(i); i++)
        assert_non_null(ops_find(wire_v1_op(i)));
}

static void test_age(void **state)
{
    (void)state;
    assert_true(wire_age_us(1000, 1500) == 500);
    assert_true(wire_age_us(2000, 1500) == 0); /* the sender's clock runs ahead: not negative */
    assert_true(wire_age_us(0, 1500) == 0);    /* not given */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_broadcast_has_no_user),
        cmocka_unit_test(test_v1_line_reads),
        cmocka_unit_test(test_v1_reader_reads_new_lines),
        cmocka_unit_test(test_unknown_names_are_skipped),
        cmocka_unit_test(test_unreadable_lines),
        cmocka_unit_test(test_encode_refuses_what_would_not_read_back),
        cmocka_unit_test(test_v1_numbering_is_frozen),
        cmocka_unit_test(test_age),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
