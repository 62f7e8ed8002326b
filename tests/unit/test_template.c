/* template: syntax check with offsets, one-pass rendering of plain text,
 * missing params named, the size bound, {{user_id}} detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "notify/template.h"

/* params as "name=value" strings, NULL-terminated */
static const char *lookup(void *arg, const char *name, size_t nlen, size_t *vlen)
{
    for (const char *const *p = arg; *p; p++) {
        const char *eq = strchr(*p, '=');
        if ((size_t)(eq - *p) == nlen && !memcmp(*p, name, nlen)) {
            *vlen = strlen(eq + 1);
            return eq + 1;
        }
    }
    return NULL;
}

static char *render(const char *text, const char *const *params, size_t max, int *rc, char *err)
{
    char *out = NULL;
    size_t len = 0;
    *rc = template_render(text, strlen(text), lookup, (void *)params, max, &out, &len, err, 200);
    if (*rc == 0)
        assert_int_equal(len, strlen(out));
    return out;
}

static void test_render(void **state)
{
    (void)state;
    const char *params[] = {"name=Ada", "plan=pro", "user_id=42", NULL};
    char err[200];
    int rc;
    char *s = render("Hi {{name}}, your {{ plan }} plan ({{user_id}})", params, 4096, &rc, err);
    assert_int_equal(rc, 0);
    assert_string_equal(s, "Hi Ada, your pro plan (42)");
    free(s);
    s = render("", params, 4096, &rc, err);
    assert_int_equal(rc, 0);
    assert_string_equal(s, "");
    free(s);
    s = render("no placeholders } { here", params, 4096, &rc, err);
    assert_string_equal(s, "no placeholders } { here");
    free(s);
}

static void test_values_are_plain_text(void **state)
{
    (void)state;
    /* a value that looks like a placeholder, quotes, backslashes, 4-byte UTF-8 */
    const char *params[] = {"a={{b}}", "b=never", "q=\"x\\\" \xf0\x9f\x8e\x89", NULL};
    char err[200];
    int rc;
    char *s = render("[{{a}}][{{q}}]", params, 4096, &rc, err);
    assert_int_equal(rc, 0);
    assert_string_equal(s, "[{{b}}][\"x\\\" \xf0\x9f\x8e\x89]");
    free(s);
}

static void test_missing_param_is_named(void **state)
{
    (void)state;
    const char *params[] = {"name=Ada", NULL};
    char err[200];
    int rc;
    char *s = render("Hi {{name}}, {{ days_left }} days", params, 4096, &rc, err);
    assert_null(s);
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(err, "needs param \"days_left\"");
}

static void test_bound(void **state)
{
    (void)state;
    const char *params[] = {"x=0123456789", NULL};
    char err[200];
    int rc;
    char *s = render("{{x}}{{x}}", params, 20, &rc, err);
    assert_int_equal(rc, 0);
    free(s);
    s = render("{{x}}{{x}}!", params, 20, &rc, err);
    assert_null(s);
    assert_int_equal(rc, -E2BIG);
    assert_non_null(strstr(err, "20 bytes"));
}

static void test_check(void **state)
{
    (void)state;
    char err[200];
    const char *ok[] = {"", "plain", "{{a}}", "{{ a.b-c_9 }} and {{x}}", "a } b { c }}", NULL};
    for (const char *const *t = ok; *t; t++)
        assert_int_equal(template_check(*t, strlen(*t), err, sizeof err), 0);
    const char *bad[] = {"{{", "x {{}}", "{{a}", "{{a b}}", "{{a!}}", "{{{a}}}", NULL};
    for (const char *const *t = bad; *t; t++)
        assert_int_equal(template_check(*t, strlen(*t), err, sizeof err), -EINVAL);
    assert_int_equal(template_check("ok {{a", 6, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "at byte 3"));
    char longname[TEMPLATE_NAME_MAX + 8];
    memset(longname, 'n', sizeof longname);
    memcpy(longname, "{{", 2);
    memcpy(longname + 2 + TEMPLATE_NAME_MAX + 1, "}}", 2);
    assert_int_equal(template_check(longname, 2 + TEMPLATE_NAME_MAX + 3, err, sizeof err), -EINVAL);
    assert_int_equal(template_check(longname + 1, 1 + TEMPLATE_NAME_MAX + 2, err, sizeof err), 0);
}

static void test_uses(void **state)
{
    (void)state;
    const char *t = "Hello {{ user_id }}";
    assert_true(template_uses(t, strlen(t), "user_id"));
    assert_false(template_uses(t, strlen(t), "user"));
    assert_false(template_uses("user_id", 7, "user_id"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_values_are_plain_text),
        cmocka_unit_test(test_missing_param_is_named),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_uses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
