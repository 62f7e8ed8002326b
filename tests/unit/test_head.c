/* edge/head: complete heads, the limits (414, 431), bytes that are not
 * HTTP, resuming a scan, and the body framing of a head. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edge/head.h"

static enum head_result scan_all(const char *s, size_t *end)
{
    struct head_scan sc = {0};
    return head_scan(&sc, s, strlen(s), end);
}

static void test_complete_heads(void **state)
{
    (void)state;
    size_t end = 0;
    const char *get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /next";
    assert_int_equal(scan_all(get, &end), HEAD_DONE);
    assert_int_equal(end, strlen("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert_int_equal(scan_all("GET / HTTP/1.0\n\n", &end), HEAD_DONE); /* bare LF */
    assert_int_equal(scan_all("GET /ws HTTP/1.1\r\n", &end), HEAD_MORE);
    assert_int_equal(scan_all("GET", &end), HEAD_MORE);
}

static void test_upgrade_is_noticed(void **state)
{
    (void)state;
    struct head_scan sc = {0};
    size_t end;
    const char *h = "GET /ws HTTP/1.1\r\nupgrade: websocket\r\n\r\n";
    assert_int_equal(head_scan(&sc, h, strlen(h), &end), HEAD_DONE);
    assert_true(sc.upgrade);
}

static void test_not_http(void **state)
{
    (void)state;
    size_t end;
    assert_int_equal(scan_all("\x16\x03\x01", &end), HEAD_BAD); /* a TLS hello */
    assert_int_equal(scan_all("get / HTTP/1.1\r\n\r\n", &end), HEAD_BAD);
    assert_int_equal(scan_all("GET  / HTTP/1.1\r\n\r\n", &end), HEAD_BAD);
    assert_int_equal(scan_all("GET / HTTP/2.0\r\n\r\n", &end), HEAD_BAD);
    assert_int_equal(scan_all("GARBAGE\r\n\r\n", &end), HEAD_BAD);
    assert_int_equal(head_status(HEAD_BAD), 400);
}

static char *repeat(const char *prefix, char c, size_t n, const char *suffix)
{
    size_t a = strlen(prefix), b = strlen(suffix);
    char *s = malloc(a + n + b + 1);
    memcpy(s, prefix, a);
    memset(s + a, c, n);
    memcpy(s + a + n, suffix, b + 1);
    return s;
}

static void test_limits(void **state)
{
    (void)state;
    size_t end;
    char *line = repeat("GET /", 'a', ND_HEAD_MAX, " HTTP/1.1\r\n\r\n");
    assert_int_equal(scan_all(line, &end), HEAD_URI_TOO_LONG);
    free(line);
    line = repeat("GET /", 'a', ND_HEAD_MAX, ""); /* no end of line yet */
    assert_int_equal(scan_all(line, &end), HEAD_URI_TOO_LONG);
    free(line);
    char *fields = repeat("GET / HTTP/1.1\r\nX-Big: ", 'b', ND_HEAD_MAX, "\r\n\r\n");
    assert_int_equal(scan_all(fields, &end), HEAD_FIELDS_TOO_BIG);
    assert_int_equal(head_status(HEAD_FIELDS_TOO_BIG), 431);
    free(fields);
    char *fits = repeat("GET / HTTP/1.1\r\nAuthorization: ", 'c', 12000, "\r\n\r\n");
    assert_int_equal(scan_all(fits, &end), HEAD_DONE);
    free(fits);
}

static void test_scan_resumes_byte_by_byte(void **state)
{
    (void)state;
    const char *h = "POST /api HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    struct head_scan sc = {0};
    size_t end = 0, n;
    enum head_result r = HEAD_MORE;
    for (n = 1; n <= strlen(h) && r == HEAD_MORE; n++)
        r = head_scan(&sc, h, n, &end);
    assert_int_equal(r, HEAD_DONE);
    assert_int_equal(end, strlen(h) - 2);
}

static void test_body_framing(void **state)
{
    (void)state;
    uint64_t len;
    const char *h = "POST / HTTP/1.1\r\ncontent-length:  12 \r\n\r\n";
    assert_int_equal(head_body(h, strlen(h), &len), BODY_LENGTH);
    assert_int_equal(len, 12);
    h = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(head_body(h, strlen(h), &len), BODY_NONE);
    h = "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(head_body(h, strlen(h), &len), BODY_NONE);
    h = "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n";
    assert_int_equal(head_body(h, strlen(h), &len), BODY_UNKNOWN);
    h = "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n";
    assert_int_equal(head_body(h, strlen(h), &len), BODY_UNKNOWN);
    h = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(head_body(h, strlen(h), &len), BODY_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_heads),
        cmocka_unit_test(test_upgrade_is_noticed),
        cmocka_unit_test(test_not_http),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_scan_resumes_byte_by_byte),
        cmocka_unit_test(test_body_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
