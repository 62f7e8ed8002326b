/* test_log: nd_log_strs() writes the very line nd_log() writes for the same
 * string fields -- its own writer for plain values, jansson for the rest. */
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
#include <unistd.h>

#include "log.h"

static FILE *capture; /* stderr goes here while a test runs */
static int saved_fd = -1;

static int setup(void **state)
{
    (void)state;
    capture = tmpfile();
    saved_fd = dup(STDERR_FILENO);
    dup2(fileno(capture), STDERR_FILENO);
    return capture && saved_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    dup2(saved_fd, STDERR_FILENO);
    close(saved_fd);
    fclose(capture);
    return 0;
}

/* the lines written since the last call, each without its "ts" member */
static void written(char *a, char *b, size_t len)
{
    char *lines[2] = {a, b};
    fflush(capture);
    rewind(capture);
    for (int i = 0; i < 2; i++) {
        char line[2048];
        assert_non_null(fgets(line, sizeof line, capture));
        const char *rest = strstr(line, "\"level\"");
        assert_true(!strncmp(line, "{\"ts\":\"", 7) && rest);
        snprintf(lines[i], len, "%s", rest);
    }
    char extra[16];
    assert_null(fgets(extra, sizeof extra, capture));
    rewind(capture);
    assert_int_equal(ftruncate(fileno(capture), 0), 0);
}

static void same_line(const char *k1, const char *v1, const char *k2, const char *v2)
{
    char a[2048], b[2048];
    nd_log(ND_LOG_INFO, "audit", "{s:s, s:s}", k1, v1, k2, v2);
    const char *kv[] = {k1, v1, k2, v2};
    nd_log_strs(ND_LOG_INFO, "audit", 2, kv);
    written(a, b, sizeof a);
    if (strcmp(a, b))
        print_error("nd_log      %snd_log_strs %s", a, b);
    assert_string_equal(a, b);
}

static void test_same_as_nd_log(void **state)
{
    (void)state;
    same_line("op", "NotifyBatchGoProgress", "target", "u1");
    same_line("op", "say \"hi\" \\ there", "caller", "");
    same_line("op", "caf\xc3\xa9 \xf0\x9f\x98\x80", "target", "x"); /* jansson's \uXXXX */
    same_line("op", "tab\there\nline \x01 \x7f", "target", "x");
    same_line("op", "a", "op", "b");        /* a repeated key: one member */
    same_line("msg", "mine", "level", "x"); /* the line's own keys win */
    same_line("k\"ey", "v", "target", "x");
}

static void test_level_filtered(void **state)
{
    (void)state;
    const char *kv[] = {"op", "x"};
    nd_log_strs(ND_LOG_DEBUG, "audit", 1, kv); /* below info: nothing */
    fflush(capture);
    assert_int_equal(ftell(capture), 0);
    char buf[8];
    rewind(capture);
    assert_null(fgets(buf, sizeof buf, capture));
}

/* libwebsockets' lines, from two WebSocket threads at once: each line whole
 * (lws 4.1.6 formats them all in one static buffer: two threads tore each
 * other's lines, and ThreadSanitizer reported the race in _lws_logv) */
#define LWS_LINES 20000

static void *lws_lines(void *arg)
{
    const char *who = arg;
    for (int i = 0; i < LWS_LINES; i++)
        lwsl_warn("thread %s line %05d %s %s%05d\n", who, i,
                  "padding-padding-padding-padding-padding", who, i);
    return NULL;
}

static void test_lws_lines_whole_from_two_threads(void **state)
{
    (void)state;
    nd_log_capture_libraries();
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, lws_lines, "a"), 0);
    assert_int_equal(pthread_create(&b, NULL, lws_lines, "b"), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    fflush(capture);
    rewind(capture);
    char line[1024];
    int n = 0, torn = 0;
    while (fgets(line, sizeof line, capture)) {
        const char *m = strstr(line, "\"msg\":\"thread ");
        char who, who2, pad[64];
        int i, i2, end = 0;
        n++;
        if (!m ||
            sscanf(m, "\"msg\":\"thread %c line %5d %63[a-z-] %c%5d\"%n", &who, &i, pad, &who2, &i2,
                   &end) != 5 ||
            !end || (who != 'a' && who != 'b') || who2 != who || i2 != i ||
            strcmp(pad, "padding-padding-padding-padding-padding") ||
            !strstr(line, "\"level\":\"warn\"")) {
            if (torn++ < 3) /* to the real stderr: this one is captured */
                dprintf(saved_fd, "torn: %s", line);
        }
    }
    rewind(capture);
    assert_int_equal(ftruncate(fileno(capture), 0), 0);
    dprintf(saved_fd, "lws lines: %d of %d, %d torn\n", n, 2 * LWS_LINES, torn);
    assert_int_equal(n, 2 * LWS_LINES);
    assert_int_equal(torn, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_nd_log),
        cmocka_unit_test(test_level_filtered),
        cmocka_unit_test(test_lws_lines_whole_from_two_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
