/* templates: the table admins manage -- checks of a put, preparing and
 * rendering a notify request, and the cluster's ordered changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "notify/ops.h"
#include "notify/templates.h"

static json_t *obj(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void put(struct templates *t, const char *text)
{
    char id[TEMPLATE_ID_MAX + 1], err[256] = "", *json = NULL;
    json_t *req = obj(text);
    assert_int_equal(templates_check_put(req, 1700000000000, id, &json, err, sizeof err), 0);
    assert_int_equal(templates_set_json(t, id, json, strlen(json)), 0);
    free(json);
    json_decref(req);
}

static void put_fails(const char *text, const char *words)
{
    char id[TEMPLATE_ID_MAX + 1], err[256] = "", *json = NULL;
    json_t *req = obj(text);
    assert_int_equal(templates_check_put(req, 1, id, &json, err, sizeof err), -EINVAL);
    if (!strstr(err, words))
        print_error("error \"%s\" lacks \"%s\"\n", err, words);
    assert_non_null(strstr(err, words));
    assert_null(json);
    json_decref(req);
}

static void test_put_checks(void **state)
{
    (void)state;
    put_fails("{\"title\":\"t\",\"message\":\"m\"}", "id");
    put_fails("{\"id\":\"a b\",\"message\":\"m\"}", "id");
    put_fails("{\"id\":\"ok\"}", "message");
    put_fails("{\"id\":\"ok\",\"message\":\"x {{ bad name! }}\"}", "byte 2");
    put_fails("{\"id\":\"ok\",\"message\":7}", "message");
}

/* prepares and renders @req (for @user) against @op; returns the rendered request */
static json_t *render(struct templates *t, enum op_id op, const char *req_text, const char *user,
                      int *rc, char *err)
{
    json_t *req = obj(req_text);
    struct template_use use;
    *rc = templates_prepare(t, ops_get(op), req, &use, err, 256);
    if (*rc <= 0) {
        json_decref(req);
        return NULL;
    }
    *rc = templates_render(&use, req, user, err, 256);
    templates_use_clear(&use);
    return req;
}

static void test_prepare_and_render(void **state)
{
    (void)state;
    struct templates *t = templates_new();
    put(t,
        "{\"id\":\"w\",\"title\":\"Hi {{name}}\",\"message\":\"{{ name }} #{{user_id}} {{n}}\"}");
    char err[256] = "";
    int rc;
    json_t *r = render(
        t, OP_SYSTEM_NOTIFICATION,
        "{\"template_id\":\"w\",\"params\":{\"name\":\"\\\"q\\\" \\\\ {{x}} \xf0\x9f\x98\x80\","
        "\"n\":3}}",
        "u1", &rc, err);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(r, "title")),
                        "Hi \"q\" \\ {{x}} \xf0\x9f\x98\x80");
    assert_string_equal(json_string_value(json_object_get(r, "message")),
                        "\"q\" \\ {{x}} \xf0\x9f\x98\x80 #u1 3");
    json_decref(r);

    /* no template_id: nothing to do */
    assert_null(render(t, OP_SYSTEM_NOTIFICATION, "{\"message\":\"m\"}", "u", &rc, err));
    assert_int_equal(rc, 0);
    /* the errors name what is wrong */
    static const struct {
        enum op_id op;
        const char *req, *words;
    } bad[] = {
        {OP_SYSTEM_NOTIFICATION, "{\"template_id\":\"nope\"}", "\"nope\""},
        {OP_SYSTEM_NOTIFICATION, "{\"template_id\":\"w\",\"params\":{\"name\":\"a\"}}", "\"n\""},
        {OP_SYSTEM_NOTIFICATION, "{\"template_id\":\"w\",\"message\":\"m\"}", "not both"},
        {OP_SYSTEM_NOTIFICATION, "{\"params\":{\"a\":\"b\"},\"message\":\"m\"}", "template_id"},
        {OP_SYSTEM_NOTIFICATION, "{\"template_id\":\"w\",\"params\":[1]}", "params"},
        {OP_BROADCAST, "{\"template_id\":\"w\",\"params\":{\"name\":\"a\",\"n\":1}}", "user_id"},
        {OP_BATCHGO_PROGRESS, "{\"template_id\":\"w\"}", "does not take"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        r = render(t, bad[i].op, bad[i].req, "u", &rc, err);
        json_decref(r);
        assert_int_equal(rc, -EINVAL);
        if (!strstr(err, bad[i].words))
            print_error("%s: \"%s\" lacks \"%s\"\n", bad[i].req, err, bad[i].words);
        assert_non_null(strstr(err, bad[i].words));
    }
    templates_free(t);
}

static const char *message_of(struct templates *t, const char *id)
{
    static char buf[128];
    json_t *x = templates_get(t, id);
    if (!x)
        return NULL;
    snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(x, "message")));
    json_decref(x);
    return buf;
}

#define TJSON(m) "{\"title\":\"\",\"message\":\"" m "\",\"updated_at\":1}"

/* changes come from Redis in order; the answer to one's own change may come after newer ones */
static void test_cluster_changes_apply_in_order(void **state)
{
    (void)state;
    struct templates *t = templates_new();
    assert_int_equal(templates_apply(t, 1, "a", TJSON("v1"), strlen(TJSON("v1"))), 1);
    assert_int_equal(templates_apply(t, 2, "a", NULL, 0), 1); /* deleted */
    assert_null(message_of(t, "a"));
    assert_int_equal(templates_apply(t, 1, "a", TJSON("v1"), strlen(TJSON("v1"))), 0); /* late */
    assert_null(message_of(t, "a"));
    assert_int_equal(templates_apply(t, 3, "b", TJSON("b3"), strlen(TJSON("b3"))), 1);
    assert_int_equal(templates_apply(t, 4, "b", "not json", 8), -EINVAL);
    assert_string_equal(message_of(t, "b"), "b3");
    assert_int_equal(templates_version(t), 3);

    /* a reload replaces everything at once; unreadable entries are skipped */
    const char *ids[] = {"x", "y", "bad id"};
    const char *jsons[] = {TJSON("x9"), "{}", TJSON("z")};
    size_t lens[] = {strlen(jsons[0]), 2, strlen(jsons[2])};
    assert_int_equal(templates_replace(t, 9, ids, jsons, lens, 3), 0);
    assert_int_equal(templates_version(t), 9);
    assert_null(message_of(t, "b"));
    assert_string_equal(message_of(t, "x"), "x9");
    assert_null(message_of(t, "y"));
    json_t *all = templates_list(t);
    assert_int_equal(json_array_size(all), 1);
    json_decref(all);
    templates_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_checks),
        cmocka_unit_test(test_prepare_and_render),
        cmocka_unit_test(test_cluster_changes_apply_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
