/* test_service: service_call over a fake engine behind the backend table --
 * what each kind of call hands the backend (copies, ids, the keep flag,
 * template changes), how it answers (the proto's field names, the engine's
 * failures), and what it refuses before the backend sees anything. The
 * test thread is the "local thread": it drains the local inbox. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_internal.h"
#include "config.h"
#include "health.h"
#include "notify/ops.h"
#include "notify/templates.h"
#include "service/service.h"

/* --- the fake engine: answers at once (through the inbox), records what it got --- */

#define MAX_COPIES 8

struct fake {
    struct backend base;
    int publishes;
    int important;                              /* of the last publish */
    int64_t ttl_ms;                             /* of the last publish */
    size_t n;                                   /* its copies */
    char users[MAX_COPIES][ND_USER_ID_MAX + 1]; /* each copy's user_id */
    char json[MAX_COPIES][512];                 /* each copy's envelope */
    int fail;                                   /* -errno every request reports */
    int refuse;                                 /* -errno every query call returns at once */
    int template_rc;                            /* what template_put returns */
    char tpl_id[TEMPLATE_ID_MAX + 1];
    int tpl_deleted;
    uint64_t next_id;
    char closed_user[ND_USER_ID_MAX + 1]; /* the last disconnect's */
    char closed_reason[ND_REASON_MAX + 1];
    int closed_reconnect;
};

static int connections_of(const char *user)
{
    return !strcmp(user, "alice") ? 2 : !strcmp(user, "") ? 5 : 0;
}

static void f_publish(struct backend *b, struct backend_publish *p)
{
    struct fake *f = (struct fake *)b;
    f->publishes++;
    f->important = p->important;
    f->ttl_ms = p->ttl_ms;
    f->n = p->n;
    for (size_t i = 0; i < p->n; i++) {
        struct backend_copy *c = &p->copies[i];
        delivery_stamp(c->d, ++f->next_id);
        c->id = f->next_id;
        c->connections = connections_of(c->d->user_id);
        c->stored = p->important && c->d->user_id[0] && !c->connections;
        if (i < MAX_COPIES) {
            snprintf(f->users[i], sizeof f->users[i], "%s", c->d->user_id);
            snprintf(f->json[i], sizeof f->json[i], "%s", delivery_json(c->d));
        }
        delivery_unref(c->d);
        c->d = NULL;
    }
    if (f->fail)
        backend__fail(&p->req, f->fail, "the fake engine failed");
    atomic_store(&p->_pending, 1);
    backend__part_done(p, 0);
}

static void query_run(struct inbox_job *job, void *ctx)
{
    (void)ctx;
    backend__query_answer(ND_CONTAINER_OF(job, struct backend_query, req.job));
}

static void query_post(struct fake *f, struct backend_query *q)
{
    if (f->fail)
        backend__fail(&q->req, f->fail, "the fake engine failed");
    q->req.job.run = query_run;
    backend_defer(&f->base, &q->req.job);
}

static int f_stats(struct backend *b, struct backend_query *q)
{
    if (((struct fake *)b)->refuse)
        return ((struct fake *)b)->refuse;
    static const char *const ids[] = {"alice", "carol"};
    q->users = malloc(sizeof ids); /* freed after done, as engines do */
    memcpy(q->users, ids, sizeof ids);
    q->n_users = 2;
    q->connections = 3;
    query_post((struct fake *)b, q);
    return 0;
}

static int f_online(struct backend *b, struct backend_query *q)
{
    if (((struct fake *)b)->refuse)
        return ((struct fake *)b)->refuse;
    q->connections = connections_of(q->user_id);
    query_post((struct fake *)b, q);
    return 0;
}

/* a backlog of 3 for alice (ids 0x10..0x30), none for others; f->fail: the engine failed */
static int f_backlog(struct backend *b, struct backend_backlog *q)
{
    struct fake *f = (struct fake *)b;
    if (f->refuse)
        return f->refuse;
    if (!strcmp(q->user_id, "alice")) {
        q->messages = 3;
        q->oldest = 0x10;
        q->newest = 0x30;
    }
    if (f->fail)
        backend__fail(&q->req, f->fail, "the fake engine failed");
    backend__answer(&q->req, 0);
    return 0;
}

static int f_template_put(struct backend *b, struct backend_template *t)
{
    struct fake *f = (struct fake *)b;
    if (f->template_rc)
        return f->template_rc;
    snprintf(f->tpl_id, sizeof f->tpl_id, "%s", t->id);
    f->tpl_deleted = !t->json;
    if (t->json)
        templates_set_json(b->templates, t->id, t->json, strlen(t->json));
    else
        templates_remove(b->templates, t->id);
    backend__answer(&t->req, 0);
    return 0;
}

static int f_disconnect(struct backend *b, struct backend_disconnect *d)
{
    struct fake *f = (struct fake *)b;
    if (f->refuse)
        return f->refuse;
    snprintf(f->closed_user, sizeof f->closed_user, "%s", d->user_id);
    snprintf(f->closed_reason, sizeof f->closed_reason, "%s", d->reason);
    f->closed_reconnect = d->reconnect;
    d->closed = connections_of(d->user_id);
    if (f->fail)
        backend__fail(&d->req, f->fail, "the fake engine failed");
    backend__answer(&d->req, 0);
    return 0;
}

static int f_resume(struct backend *b, struct backend_resume *r)
{
    (void)b;
    backend__answer(&r->req, 1);
    return 0;
}

static void f_forget(struct backend *b, const char *u, uint64_t id)
{
    (void)b, (void)u, (void)id;
}

static void f_presence(struct backend *b, const char *u, int delta, int nonack)
{
    (void)b, (void)u, (void)delta, (void)nonack;
}

static void f_tick(struct backend *b, int64_t now)
{
    (void)b, (void)now;
}

static void f_metrics(struct backend *b, FILE *out)
{
    (void)b, (void)out;
}

static int f_start(struct backend *b, char *err, size_t errlen)
{
    (void)b, (void)err, (void)errlen;
    return 0;
}

static void f_nothing(struct backend *b)
{
    (void)b;
}

static const struct backend_ops fake_ops = {
    .name = "fake",
    .start = f_start,
    .stop = f_nothing,
    .free = f_nothing,
    .publish = f_publish,
    .stats = f_stats,
    .online = f_online,
    .backlog = f_backlog,
    .template_put = f_template_put,
    .disconnect = f_disconnect,
    .resume = f_resume,
    .forget = f_forget,
    .presence = f_presence,
    .tick = f_tick,
    .metrics = f_metrics,
};

/* --- the test's world --- */

struct world {
    struct nd_config cfg;
    struct templates *templates;
    struct inbox *inbox;
    struct fake fake;
    struct service *svc;
    /* the last answer */
    int answers;
    json_t *body;
    char error[512];
    int64_t backlog; /* what the WebSocket threads have waiting, as the fake local side says */
};

static int64_t fake_backlog(void *ctx, const char **thread)
{
    struct world *w = ctx;
    *thread = "nd-ws1";
    return w->backlog;
}

static void setup_with(struct world *w, int argc, char **argv)
{
    char err[256];
    memset(w, 0, sizeof *w);
    assert_int_equal(config_parse(&w->cfg, CONFIG_SERVE, argc, argv, err, sizeof err), CONFIG_OK);
    w->templates = templates_new();
    w->inbox = inbox_new(NULL, NULL);
    w->fake.base.ops = &fake_ops;
    w->fake.base.cfg = &w->cfg;
    w->fake.base.templates = w->templates;
    struct backend_local local = {
        .inbox = w->inbox, .instance = "00000000", .ctx = w, .backlog = fake_backlog};
    backend_attach(&w->fake.base, &local);
    w->svc = service_new(&w->cfg, &w->fake.base, w->templates);
    assert_non_null(w->svc);
    health_set(HEALTH_READY);
}

static int setup(void **state)
{
    struct world *w = malloc(sizeof *w);
    setup_with(w, 0, NULL);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    inbox_free(w->inbox, NULL);
    json_decref(w->body);
    service_free(w->svc);
    templates_free(w->templates);
    config_free(&w->cfg);
    free(w);
    return 0;
}

/* the world again, with the flags @argv (the test's own settings) */
static struct world *restart(void **state, int argc, char **argv)
{
    teardown(state);
    struct world *w = malloc(sizeof *w);
    setup_with(w, argc, argv);
    *state = w;
    return w;
}

static void done(void *arg, const struct service_result *res)
{
    struct world *w = arg;
    w->answers++;
    json_decref(w->body);
    w->body = res->error ? NULL : service_result_json(res);
    snprintf(w->error, sizeof w->error, "%s", res->error ? res->error : "");
}

static const struct token_claims service_caller = {"backend", TOKEN_ROLE_SERVICE, 0};
static const struct token_claims admin_caller = {"ops", TOKEN_ROLE_ADMIN, 0};

/* runs @rpc with @req_text; returns service_call's result, the answer drained */
static int call_as(struct world *w, const struct token_claims *who, const char *rpc,
                   const char *req_text, char *err, size_t errlen)
{
    json_t *req = json_loads(req_text, 0, NULL);
    assert_non_null(req);
    const struct op_spec *op = ops_find(rpc);
    assert_non_null(op);
    int before = w->answers;
    int rc = service_call(w->svc, op, req, who, done, w, err, errlen);
    json_decref(req);
    inbox_drain(w->inbox, NULL);
    assert_int_equal(w->answers, before + (rc == 0)); /* once when accepted, never otherwise */
    return rc;
}

static int call(struct world *w, const char *rpc, const char *req_text)
{
    char err[256];
    return call_as(w, &service_caller, rpc, req_text, err, sizeof err);
}

static json_t *field(const struct world *w, const char *name)
{
    assert_non_null(w->body);
    json_t *v = json_object_get(w->body, name);
    assert_non_null(v);
    return v;
}

/* --- notifications --- */

static void test_one_recipient(void **state)
{
    struct world *w = *state;
    assert_int_equal(
        call(w, "SendSystemNotification", "{\"user_id\":\"alice\",\"message\":\"hi\"}"), 0);
    assert_int_equal(w->fake.publishes, 1);
    assert_int_equal(w->fake.n, 1);
    assert_true(w->fake.important); /* a system notification is kept for an offline user */
    assert_string_equal(w->fake.users[0], "alice");
    assert_non_null(strstr(w->fake.json[0], "\"type\":\"system_notification\""));
    assert_non_null(strstr(w->fake.json[0], "\"message_id\":\"0000000000000001\""));
    assert_string_equal(json_string_value(field(w, "message_id")), "0000000000000001");
    assert_int_equal(json_integer_value(field(w, "connections")), 2);
    assert_true(json_is_false(field(w, "stored")));
    /* nobody connected: the engine keeps it, the answer says so */
    assert_int_equal(call(w, "SendSystemNotification", "{\"user_id\":\"bob\",\"message\":\"hi\"}"),
                     0);
    assert_true(json_is_true(field(w, "stored")));
}

static void test_what_is_important(void **state)
{
    struct world *w = *state;
    const char *progress = "{\"user_id\":\"bob\",\"task_id\":\"t\"}";
    assert_int_equal(call(w, "NotifyBatchGoProgress", progress), 0);
    assert_false(w->fake.important); /* progress is not kept... */
    assert_int_equal(call(w, "NotifyBatchGoProgress",
                          "{\"user_id\":\"bob\",\"task_id\":\"t\",\"priority\":\"urgent\"}"),
                     0);
    assert_true(w->fake.important); /* ...unless urgent */
    assert_non_null(strstr(w->fake.json[0], "\"priority\":\"urgent\""));
}

static void test_broadcast(void **state)
{
    struct world *w = *state;
    assert_int_equal(call(w, "Broadcast", "{\"message\":\"all\"}"), 0);
    assert_string_equal(w->fake.users[0], "");
    assert_null(strstr(w->fake.json[0], "user_id"));
    assert_int_equal(json_integer_value(field(w, "connections")), 5);
    assert_true(json_is_false(field(w, "stored")));
}

static void test_multicast(void **state)
{
    struct world *w = *state;
    assert_int_equal(
        call(w, "NotifyUsers", "{\"user_ids\":[\"alice\",\"bob\",\"carol\"],\"message\":\"m\"}"),
        0);
    assert_int_equal(w->fake.n, 3);
    assert_string_equal(w->fake.users[0], "alice");
    assert_string_equal(w->fake.users[2], "carol");
    json_t *ids = field(w, "message_ids");
    assert_int_equal(json_array_size(ids), 3);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), "0000000000000001");
    assert_string_equal(json_string_value(json_array_get(ids, 2)), "0000000000000003");
    assert_int_equal(json_integer_value(field(w, "users")), 3);
    assert_int_equal(json_integer_value(field(w, "reached")), 1);
    assert_int_equal(json_integer_value(field(w, "stored")), 2);
    assert_int_equal(json_integer_value(field(w, "connections")), 2);
}

static void test_multicast_personalized(void **state)
{
    struct world *w = *state;
    char err[256];
    assert_int_equal(call_as(w, &admin_caller, "PutTemplate",
                             "{\"id\":\"hello\",\"title\":\"t\",\"message\":\"hi {{user_id}}\"}",
                             err, sizeof err),
                     0);
    assert_int_equal(
        call(w, "NotifyUsers", "{\"user_ids\":[\"alice\",\"bob\"],\"template_id\":\"hello\"}"), 0);
    assert_non_null(strstr(w->fake.json[0], "\"message\":\"hi alice\""));
    assert_non_null(strstr(w->fake.json[1], "\"message\":\"hi bob\""));
}

/* --- Publish and DisconnectUser --- */

static void test_publish_one_user(void **state)
{
    struct world *w = *state;
    assert_int_equal(call(w, "Publish",
                          "{\"type\":\"order.shipped\",\"user_id\":\"alice\","
                          "\"data\":\"{ \\\"order\\\": 7, \\\"price\\\": 0.1 }\","
                          "\"group\":\"orders\"}"),
                     0);
    assert_int_equal(w->fake.n, 1);
    assert_string_equal(w->fake.users[0], "alice");
    /* the type as named, data byte for byte as written */
    assert_non_null(strstr(w->fake.json[0], "{\"type\":\"order.shipped\",\"user_id\":\"alice\","
                                            "\"data\":{ \"order\": 7, \"price\": 0.1 },"));
    assert_non_null(strstr(w->fake.json[0], "\"group\":\"orders\""));
    assert_false(w->fake.important); /* a type of the caller's own: live only (store auto) */
    assert_int_equal(w->fake.ttl_ms, 0);
    assert_string_equal(json_string_value(field(w, "message_id")), "0000000000000001");
    assert_int_equal(json_integer_value(field(w, "connections")), 2);
    assert_true(json_is_false(field(w, "stored")));
    assert_null(json_object_get(w->body, "message_ids"));
}

static void test_publish_keeping(void **state)
{
    struct world *w = *state;
    static const struct {
        const char *req;
        int important;
        int64_t ttl_ms;
    } cases[] = {
        {"{\"type\":\"x\",\"user_id\":\"bob\",\"store\":\"always\"}", 1, 0},
        {"{\"type\":\"x\",\"user_id\":\"bob\",\"priority\":\"urgent\"}", 1, 0},
        {"{\"type\":\"x\",\"user_id\":\"bob\",\"priority\":\"urgent\",\"store\":\"never\"}", 0, 0},
        {"{\"type\":\"system_notification\",\"user_id\":\"bob\"}", 1, 0},
        {"{\"type\":\"system_notification\",\"user_id\":\"bob\",\"store\":\"never\"}", 0, 0},
        {"{\"type\":\"batchgo_open_url\",\"user_id\":\"bob\"}", 1, 300000}, /* the command TTL */
        {"{\"type\":\"batchgo_open_url\",\"user_id\":\"bob\",\"ttl_ms\":9000}", 1, 9000},
        {"{\"type\":\"x\",\"user_id\":\"bob\",\"store\":\"always\",\"ttl_ms\":1500}", 1, 1500},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(call(w, "Publish", cases[i].req), 0);
        if (w->fake.important != cases[i].important || w->fake.ttl_ms != cases[i].ttl_ms)
            print_error("%s: important %d ttl %lld\n", cases[i].req, w->fake.important,
                        (long long)w->fake.ttl_ms);
        assert_int_equal(w->fake.important, cases[i].important);
        assert_int_equal(w->fake.ttl_ms, cases[i].ttl_ms);
    }
    /* NotifyBatchGoOpenUrl: the command TTL too */
    assert_int_equal(
        call(w, "NotifyBatchGoOpenUrl",
             "{\"user_id\":\"bob\",\"task_id\":\"t\",\"urls\":[\"https://a.example\"]}"),
        0);
    assert_int_equal(w->fake.ttl_ms, 300000);
    assert_int_equal(call(w, "SendSystemNotification", "{\"user_id\":\"bob\",\"message\":\"m\"}"),
                     0);
    assert_int_equal(w->fake.ttl_ms, 0); /* the offline TTL */
    /* past the offline TTL (7 days): refused, naming the field and the bound */
    char err[256];
    assert_int_equal(call_as(w, &service_caller, "Publish",
                             "{\"type\":\"x\",\"user_id\":\"bob\",\"ttl_ms\":604800001}", err,
                             sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "ttl_ms is 604800001, it must be at most 604800000"));
}

static void test_publish_many_and_everyone(void **state)
{
    struct world *w = *state;
    assert_int_equal(call(w, "Publish",
                          "{\"type\":\"promo\",\"user_ids\":[\"alice\",\"bob\",\"alice\"],"
                          "\"data\":{\"b\":1,\"a\":[true]},\"store\":\"always\"}"),
                     0);
    assert_int_equal(w->fake.n, 2);
    assert_non_null(strstr(w->fake.json[1], "\"user_id\":\"bob\",\"data\":{\"b\":1,\"a\":[true]}"));
    assert_int_equal(json_array_size(field(w, "message_ids")), 2);
    assert_int_equal(json_integer_value(field(w, "users")), 2);
    assert_int_equal(json_integer_value(field(w, "reached")), 1);
    assert_int_equal(json_integer_value(field(w, "stored_users")), 1);
    assert_true(json_is_true(field(w, "stored")));
    assert_int_equal(json_integer_value(field(w, "connections")), 2);

    assert_int_equal(call(w, "Publish", "{\"type\":\"promo\",\"broadcast\":true}"), 0);
    assert_string_equal(w->fake.users[0], "");
    assert_non_null(strstr(w->fake.json[0], "{\"type\":\"promo\",\"data\":{},"));
    assert_int_equal(json_integer_value(field(w, "connections")), 5);
    assert_true(json_is_false(field(w, "stored")));
}

static void test_disconnect_user(void **state)
{
    struct world *w = *state;
    char err[256];
    /* admin only */
    assert_int_equal(
        call_as(w, &service_caller, "DisconnectUser", "{\"user_id\":\"alice\"}", err, sizeof err),
        -EPERM);
    assert_string_equal(w->fake.closed_user, "");
    assert_int_equal(call_as(w, &admin_caller, "DisconnectUser",
                             "{\"user_id\":\"alice\",\"reason\":\"account suspended\"}", err,
                             sizeof err),
                     0);
    assert_string_equal(w->fake.closed_user, "alice");
    assert_string_equal(w->fake.closed_reason, "account suspended");
    assert_int_equal(w->fake.closed_reconnect, 0);
    assert_string_equal(json_string_value(field(w, "user_id")), "alice");
    assert_int_equal(json_integer_value(field(w, "closed")), 2);
    /* the defaults; an engine failure is an answer with the reason */
    w->fake.fail = -EAGAIN;
    assert_int_equal(call_as(w, &admin_caller, "DisconnectUser",
                             "{\"user_id\":\"bob\",\"reconnect\":true}", err, sizeof err),
                     0);
    assert_string_equal(w->fake.closed_reason, "disconnected by the server");
    assert_int_equal(w->fake.closed_reconnect, 1);
    assert_non_null(strstr(w->error, "the fake engine failed"));
}

static void test_refused_before_the_backend(void **state)
{
    struct world *w = *state;
    char err[256];
    assert_int_equal(call_as(w, &service_caller, "SendSystemNotification", "{\"message\":\"x\"}",
                             err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "user_id"));
    assert_int_equal(call_as(w, &service_caller, "SendSystemNotification",
                             "{\"user_id\":\"a\",\"template_id\":\"nope\"}", err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "nope"));
    assert_int_equal(call_as(w, &service_caller, "ListTemplates", "{}", err, sizeof err), -EPERM);
    health_set(HEALTH_DRAINING);
    assert_int_equal(
        call_as(w, &service_caller, "Broadcast", "{\"message\":\"x\"}", err, sizeof err),
        -ESHUTDOWN);
    health_set(HEALTH_READY);
    assert_int_equal(w->fake.publishes, 0);
}

static void test_rate_limit(void **state)
{
    char *argv[] = {"--api-rate-limit", "1"};
    char err[256];
    struct world *w = restart(state, 2, argv);
    assert_int_equal(call(w, "GetStats", "{}"), 0);
    assert_int_equal(call_as(w, &service_caller, "GetStats", "{}", err, sizeof err), -EAGAIN);
    assert_int_equal(call_as(w, &admin_caller, "GetStats", "{}", err, sizeof err),
                     0); /* per caller */
}

/* back-pressure: calls not answered yet are counted; past the bound, -EBUSY */
static void test_pending_calls_are_bounded(void **state)
{
    char *argv[] = {"--max-pending-calls", "2"};
    char err[256];
    struct world *w = restart(state, 2, argv);
    json_t *req = json_loads("{}", 0, NULL);
    const struct op_spec *op = ops_find("GetStats");
    assert_int_equal(service_call(w->svc, op, req, &service_caller, done, w, err, sizeof err), 0);
    assert_int_equal(service_call(w->svc, op, req, &service_caller, done, w, err, sizeof err), 0);
    assert_int_equal(service_in_flight(w->svc), 2);
    assert_int_equal(service_call(w->svc, op, req, &service_caller, done, w, err, sizeof err),
                     -EBUSY);
    assert_non_null(strstr(err, "busy"));
    inbox_drain(w->inbox, NULL); /* the two answer */
    assert_int_equal(w->answers, 2);
    assert_int_equal(service_in_flight(w->svc), 0);
    assert_int_equal(service_call(w->svc, op, req, &service_caller, done, w, err, sizeof err), 0);
    inbox_drain(w->inbox, NULL);
    /* refused calls (bad input) never count */
    assert_int_equal(call(w, "SendSystemNotification", "{}"), -EINVAL);
    assert_int_equal(service_in_flight(w->svc), 0);
    json_decref(req);
}

/* ... and so is what waits for the other WebSocket threads: past the same bound, a call that
 * would add to it (a message, a close, a feed change) is refused, a read is not */
static void test_thread_backlog_is_bounded(void **state)
{
    char *argv[] = {"--max-pending-calls", "3"};
    char err[256];
    struct world *w = restart(state, 2, argv);
    w->backlog = 2;
    assert_int_equal(call(w, "SendSystemNotification", "{\"user_id\":\"bob\",\"message\":\"x\"}"),
                     0);
    w->backlog = 3;
    assert_int_equal(call_as(w, &service_caller, "SendSystemNotification",
                             "{\"user_id\":\"bob\",\"message\":\"x\"}", err, sizeof err),
                     -EBUSY);
    assert_string_equal(err, "server busy: WebSocket thread nd-ws1 has 3 deliveries waiting; try "
                             "again shortly");
    assert_int_equal(
        call_as(w, &service_caller, "Broadcast", "{\"message\":\"x\"}", err, sizeof err), -EBUSY);
    assert_int_equal(
        call_as(w, &admin_caller, "DisconnectUser", "{\"user_id\":\"bob\"}", err, sizeof err),
        -EBUSY);
    assert_int_equal(call_as(w, &service_caller, "MarkFeed",
                             "{\"user_id\":\"bob\",\"ids\":[\"1\"],\"read\":true}", err,
                             sizeof err),
                     -EBUSY);
    assert_int_equal(service_in_flight(w->svc), 0); /* refused calls do not count */
    assert_int_equal(call(w, "GetStats", "{}"), 0);
    assert_int_equal(call(w, "IsUserOnline", "{\"user_id\":\"bob\"}"), 0);
    w->backlog = 0; /* drained */
    assert_int_equal(call(w, "SendSystemNotification", "{\"user_id\":\"bob\",\"message\":\"x\"}"),
                     0);
}

static void test_engine_failures_are_answers(void **state)
{
    struct world *w = *state;
    w->fake.fail = -EIO;
    assert_int_equal(call(w, "SendSystemNotification", "{\"user_id\":\"bob\",\"message\":\"x\"}"),
                     0);
    assert_null(w->body);
    assert_string_equal(w->error, "the fake engine failed");
    assert_int_equal(call(w, "NotifyUsers", "{\"user_ids\":[\"a\",\"b\"],\"message\":\"x\"}"), 0);
    assert_non_null(strstr(w->error, "NotifyUsers: not every recipient's copy could be placed"));
    assert_non_null(strstr(w->error, "the fake engine failed"));
    assert_int_equal(call(w, "GetStats", "{}"), 0);
    assert_string_equal(w->error, "the fake engine failed");
}

/* --- queries --- */

static void test_stats_and_online(void **state)
{
    struct world *w = *state;
    assert_int_equal(call(w, "GetStats", "{}"), 0);
    assert_int_equal(json_integer_value(field(w, "total_connections")), 3);
    assert_int_equal(json_integer_value(field(w, "online_users")), 2);
    assert_string_equal(json_string_value(json_array_get(field(w, "connected_users"), 1)), "carol");
    field(w, "uptime_seconds");
    assert_int_equal(call(w, "IsUserOnline", "{\"user_id\":\"alice\"}"), 0);
    assert_true(json_is_true(field(w, "is_online")));
    assert_int_equal(json_integer_value(field(w, "connections")), 2);
    assert_string_equal(json_string_value(field(w, "user_id")), "alice");
    assert_int_equal(call(w, "IsUserOnline", "{\"user_id\":\"bob\"}"), 0);
    assert_true(json_is_false(field(w, "is_online")));
}

static void test_backlog(void **state)
{
    struct world *w = *state;
    char err[256];
    assert_int_equal(call(w, "GetBacklog", "{\"user_id\":\"alice\"}"), 0);
    assert_string_equal(json_string_value(field(w, "user_id")), "alice");
    assert_int_equal(json_integer_value(field(w, "messages")), 3);
    assert_string_equal(json_string_value(field(w, "oldest_message_id")), "0000000000000010");
    assert_string_equal(json_string_value(field(w, "newest_message_id")), "0000000000000030");
    assert_int_equal(call(w, "GetBacklog", "{\"user_id\":\"bob\"}"), 0);
    assert_int_equal(json_integer_value(field(w, "messages")), 0);
    assert_string_equal(json_string_value(field(w, "oldest_message_id")), "");
    assert_string_equal(json_string_value(field(w, "newest_message_id")), "");
    /* a service token may ask; the user is checked like everywhere */
    assert_int_equal(call_as(w, &service_caller, "GetBacklog", "{}", err, sizeof err), -EINVAL);
    assert_string_equal(err, "user_id is required");
    w->fake.fail = -EAGAIN;
    assert_int_equal(call(w, "GetBacklog", "{\"user_id\":\"alice\"}"), 0);
    assert_string_equal(w->error, "the fake engine failed");
}

/* --- templates --- */

static void test_templates(void **state)
{
    struct world *w = *state;
    char err[256];
    const struct token_claims *a = &admin_caller;
    assert_int_equal(call_as(w, a, "PutTemplate",
                             "{\"template\":{\"id\":\"t1\",\"message\":\"m\"}}", err, sizeof err),
                     0);
    assert_string_equal(w->fake.tpl_id, "t1");
    assert_true(json_is_true(field(w, "created")));
    assert_string_equal(json_string_value(json_object_get(field(w, "template"), "message")), "m");
    assert_int_equal(
        call_as(w, a, "PutTemplate", "{\"id\":\"t1\",\"message\":\"m2\"}", err, sizeof err), 0);
    assert_true(json_is_false(field(w, "created")));
    assert_int_equal(call_as(w, a, "GetTemplate", "{\"id\":\"t1\"}", err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(field(w, "template"), "message")), "m2");
    assert_int_equal(call_as(w, a, "ListTemplates", "{}", err, sizeof err), 0);
    assert_int_equal(json_array_size(field(w, "templates")), 1);
    assert_int_equal(call_as(w, a, "DeleteTemplate", "{\"id\":\"t1\"}", err, sizeof err), 0);
    assert_true(w->fake.tpl_deleted);
    assert_string_equal(json_string_value(field(w, "id")), "t1");
    assert_int_equal(call_as(w, a, "DeleteTemplate", "{\"id\":\"t1\"}", err, sizeof err), -ENOENT);
    assert_int_equal(call_as(w, a, "GetTemplate", "{\"id\":\"t1\"}", err, sizeof err), -ENOENT);
    /* where templates are shared is out of reach: refused, and said so */
    w->fake.template_rc = -ENOTCONN;
    assert_int_equal(
        call_as(w, a, "PutTemplate", "{\"id\":\"t2\",\"message\":\"m\"}", err, sizeof err),
        -ESHUTDOWN);
    assert_non_null(strstr(err, "fake is unreachable"));
}

/* a call the engine refuses at once: "server is shutting down" for -ESHUTDOWN (a closed
 * store), "out of memory" for -ENOMEM -- never the wrong one */
static void test_refused_calls_say_why(void **state)
{
    struct world *w = *state;
    char err[256];
    static const struct {
        const struct token_claims *who;
        const char *rpc, *req;
    } calls[] = {
        {&service_caller, "GetStats", "{}"},
        {&service_caller, "IsUserOnline", "{\"user_id\":\"alice\"}"},
        {&service_caller, "GetBacklog", "{\"user_id\":\"alice\"}"},
        {&admin_caller, "DisconnectUser", "{\"user_id\":\"alice\"}"},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        w->fake.refuse = -ESHUTDOWN;
        assert_int_equal(call_as(w, calls[i].who, calls[i].rpc, calls[i].req, err, sizeof err),
                         -ESHUTDOWN);
        assert_string_equal(err, "server is shutting down");
        w->fake.refuse = -ENOMEM;
        assert_int_equal(call_as(w, calls[i].who, calls[i].rpc, calls[i].req, err, sizeof err),
                         -ENOMEM);
        assert_string_equal(err, "out of memory");
    }
    w->fake.refuse = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_recipient, setup, teardown),
        cmocka_unit_test_setup_teardown(test_what_is_important, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broadcast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multicast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multicast_personalized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_one_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_keeping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_many_and_everyone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_before_the_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_calls_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_backlog_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_failures_are_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_online, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_calls_say_why, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
