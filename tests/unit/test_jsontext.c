/* test_jsontext: finding a member's value in JSON text as written -- every
 * kind of value, escaped keys, repeats (the last counts, as jansson reads
 * them), nesting, and text that is not an object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "notify/jsontext.h"

/* the value of @name in @text as a string, or "<none>" / "<bad>" */
static const char *member(const char *text, const char *name)
{
    static char out[256];
    size_t off = 0, n = 0;
    int rc = jsontext_member(text, strlen(text), name, &off, &n);
    if (rc < 0)
        return "<bad>";
    if (rc == 0)
        return "<none>";
    assert_true(n < sizeof out);
    memcpy(out, text + off, n);
    out[n] = 0;
    return out;
}

static void test_values_as_written(void **state)
{
    (void)state;
    const char *t = "{\"type\":\"x\", \"data\" : { \"price\": 0.1, \"n\": 12345678901234567890,"
                    " \"s\": \"a}\\\"b\", \"l\": [1, {\"data\": 2}] } , \"after\":true}";
    assert_string_equal(member(t, "data"), "{ \"price\": 0.1, \"n\": 12345678901234567890, "
                                           "\"s\": \"a}\\\"b\", \"l\": [1, {\"data\": 2}] }");
    assert_string_equal(member(t, "type"), "\"x\"");
    assert_string_equal(member(t, "after"), "true");
    assert_string_equal(member(t, "price"), "<none>"); /* top level only */
    assert_string_equal(member("{\"data\":-1.5e3}", "data"), "-1.5e3");
    assert_string_equal(member("{\"data\":null}", "data"), "null");
    assert_string_equal(member("{\"data\":[]}", "data"), "[]");
    assert_string_equal(member("{}", "data"), "<none>");
    assert_string_equal(member(" \n{ } ", "data"), "<none>");
}

static void test_keys_unescaped_and_last_wins(void **state)
{
    (void)state;
    assert_string_equal(member("{\"d\\u0061ta\":{\"a\":1}}", "data"), "{\"a\":1}");
    assert_string_equal(member("{\"data\":1,\"data\":{\"b\":2}}", "data"), "{\"b\":2}");
    assert_string_equal(member("{\"dat\":1,\"datas\":2}", "data"), "<none>");
    assert_string_equal(member("{\"x\\\\\":{\"data\":1}}", "data"), "<none>");
}

static void test_not_an_object(void **state)
{
    (void)state;
    static const char *const bad[] = {"",           "[]",         "\"data\"",    "{",
                                      "{\"data\"",  "{\"data\":", "{\"data\":1", "{\"data\" 1}",
                                      "{\"a\":1,}", "{\"a\":]}",  "{\"a\":\"\\", "{1:2}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t off, n;
        if (jsontext_member(bad[i], strlen(bad[i]), "data", &off, &n) != -EINVAL)
            print_error("%s was walked\n", bad[i]);
        assert_int_equal(jsontext_member(bad[i], strlen(bad[i]), "data", &off, &n), -EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_as_written),
        cmocka_unit_test(test_keys_unescaped_and_last_wins),
        cmocka_unit_test(test_not_an_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
