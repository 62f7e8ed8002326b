/* ws/frame_guard: masked frames pass at any split; the first unmasked
 * frame is found where it starts; long lengths are skipped over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ws/frame_guard.h"

/* a client frame: FIN + @op, masked with a zero key when @masked */
static size_t frame(uint8_t *out, uint8_t op, const char *payload, size_t n, int masked)
{
    size_t at = 0;
    out[at++] = (uint8_t)(0x80 | op);
    uint8_t m = masked ? 0x80 : 0;
    if (n < 126) {
        out[at++] = (uint8_t)(m | n);
    } else if (n < 65536) {
        out[at++] = m | 126;
        out[at++] = (uint8_t)(n >> 8);
        out[at++] = (uint8_t)n;
    } else {
        out[at++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[at++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    if (masked) {
        memset(out + at, 0, 4);
        at += 4;
    }
    memcpy(out + at, payload, n);
    return at + n;
}

static void test_masked_frames_pass_at_any_split(void **state)
{
    (void)state;
    static uint8_t buf[70000], big[66000];
    memset(big, 'x', sizeof big);
    size_t n = frame(buf, 1, "{\"type\":\"pong\"}", 15, 1);
    n += frame(buf + n, 2, (const char *)big, 300, 1);
    n += frame(buf + n, 2, (const char *)big, sizeof big, 1);
    n += frame(buf + n, 8, "\x03\xe8", 2, 1);
    for (size_t step = 1; step < 40; step += 7) {
        struct frame_guard g = {0};
        for (size_t at = 0; at < n; at += step) {
            size_t piece = n - at < step ? n - at : step;
            assert_int_equal(frame_guard_feed(&g, buf + at, piece), piece);
        }
        assert_false(g.bad);
    }
}

static void test_unmasked_frame_is_found_where_it_starts(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t first = frame(buf, 1, "ok", 2, 1);
    size_t n = first + frame(buf + first, 1, "bad", 3, 0);
    struct frame_guard g = {0};
    assert_int_equal(frame_guard_feed(&g, buf, n), first);
    assert_true(g.bad);
    assert_int_equal(frame_guard_feed(&g, buf, n), 0); /* bad for good */
}

static void test_unmasked_split_after_its_first_byte(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = frame(buf, 1, "bad", 3, 0);
    struct frame_guard g = {0};
    assert_int_equal(frame_guard_feed(&g, buf, 1), 1); /* cannot tell yet */
    assert_int_equal(frame_guard_feed(&g, buf + 1, n - 1), 0);
    assert_true(g.bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masked_frames_pass_at_any_split),
        cmocka_unit_test(test_unmasked_frame_is_found_where_it_starts),
        cmocka_unit_test(test_unmasked_split_after_its_first_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
