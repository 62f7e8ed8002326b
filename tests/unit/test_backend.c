/* test_backend: the embedded engine through the backend table, with a fake
 * local side (the test thread drains its inbox): ids in queue order, the
 * history, a copy kept for an offline user and given back on resume --
 * merged with the history, once -- forgotten when written or acked, stats
 * and online from the local side, a user's backlog from the store, templates
 * kept and in the table, a copy kept for its own TTL, DisconnectUser on the
 * local side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "config.h"
#include "delivery/envelope.h"
#include "notify/ops.h"
#include "notify/templates.h"

/* --- the local side: who is connected, and what was delivered --- */

struct side {
    struct inbox *inbox;
    const char *online; /* the one user connected here, or NULL */
    int ack_mode;       /* that user's one connection is in ack mode */
    int delivered;      /* copies queued on a connection */
    uint64_t last_id;
    char closed_reason[ND_REASON_MAX + 1]; /* the last disconnect's */
    int closed_reconnect;
};

static void deliver(void *ctx, struct delivery *d, struct backend_fanout *out)
{
    struct side *s = ctx;
    int here = s->online && (!d->user_id[0] || !strcmp(d->user_id, s->online));
    out->connections = here;
    out->nonack = here && !s->ack_mode;
    s->delivered += here;
    s->last_id = d->id;
}

static int connections(void *ctx, const char *user_id)
{
    struct side *s = ctx;
    return s->online && (!user_id || !strcmp(user_id, s->online));
}

static const char **users(void *ctx, size_t *n)
{
    struct side *s = ctx;
    *n = s->online ? 1 : 0;
    const char **ids = s->online ? malloc(sizeof *ids) : NULL;
    if (ids)
        ids[0] = s->online;
    return ids;
}

static void each_user(void *ctx, void (*fn)(void *, const char *, int, int), void *arg)
{
    struct side *s = ctx;
    if (s->online)
        fn(arg, s->online, 1, !s->ack_mode);
}

static int disconnect(void *ctx, const char *user_id, const char *reason, int reconnect)
{
    struct side *s = ctx;
    if (!s->online || strcmp(s->online, user_id))
        return 0;
    snprintf(s->closed_reason, sizeof s->closed_reason, "%s", reason);
    s->closed_reconnect = reconnect;
    s->online = NULL;
    return 1;
}

/* --- the world: a data dir, the engine, requests answered on this thread --- */

struct world {
    char dir[64];
    struct nd_config cfg;
    struct templates *templates;
    struct side side;
    struct backend *b;
    int answered;
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    char err[256], *argv[] = {"--data-dir", w->dir};
    snprintf(w->dir, sizeof w->dir, "/tmp/notifyd-test-backend-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    assert_int_equal(config_parse(&w->cfg, CONFIG_SERVE, 2, argv, err, sizeof err), CONFIG_OK);
    w->templates = templates_new();
    w->b = backend_embedded_new(&w->cfg, w->templates, err, sizeof err);
    assert_non_null(w->b);
    assert_string_equal(backend_name(w->b), "embedded");
    w->side.inbox = inbox_new(NULL, NULL);
    struct backend_local local = {.inbox = w->side.inbox,
                                  .instance = "00000000",
                                  .ctx = &w->side,
                                  .deliver = deliver,
                                  .connections = connections,
                                  .users = users,
                                  .each_user = each_user,
                                  .disconnect = disconnect};
    backend_attach(w->b, &local);
    assert_int_equal(backend_start(w->b, err, sizeof err), 0);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    backend_stop(w->b);
    inbox_free(w->side.inbox, NULL);
    backend_free(w->b);
    templates_free(w->templates);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", w->dir);
    assert_int_equal(system(cmd), 0);
    config_free(&w->cfg);
    free(w);
    return 0;
}

/* runs the local thread's jobs until @r was answered (the store answers from nd-store) */
static void wait_answer(struct world *w, int before)
{
    for (int i = 0; i < 5000 && w->answered == before; i++) {
        if (!inbox_drain(w->side.inbox, NULL))
            usleep(1000);
    }
    assert_int_equal(w->answered, before + 1);
}

struct pub {
    struct backend_publish p;
    struct backend_copy copy;
    struct world *w;
};

static void pub_done(struct backend_req *r)
{
    struct pub *j = ND_CONTAINER_OF(r, struct pub, p.req);
    j->w->answered++;
}

/* publishes a system notification for @user ("" = everyone), kept @ttl_ms (0: the offline
 * TTL) when the user is offline; returns the copy as answered */
static struct backend_copy publish_ttl(struct world *w, const char *user, const char *text,
                                       int64_t ttl_ms)
{
    struct pub j;
    memset(&j, 0, sizeof j);
    json_t *data = json_pack("{s:s}", "message", text);
    j.copy.d = envelope_encode("system_notification", user, data, nd_wall_ms(), ENVELOPE_WITH_ID);
    json_decref(data);
    j.copy.d->op = ops_get(OP_SYSTEM_NOTIFICATION);
    j.copy.d->accepted_us = nd_mono_us();
    j.w = w;
    j.p.req.done = pub_done;
    j.p.important = 1;
    j.p.ttl_ms = ttl_ms;
    j.p.n = 1;
    j.p.copies = &j.copy;
    int before = w->answered;
    backend_publish(w->b, &j.p);
    wait_answer(w, before);
    assert_int_equal(atomic_load(&j.p.req.err), 0);
    return j.copy;
}

static struct backend_copy publish(struct world *w, const char *user, const char *text)
{
    return publish_ttl(w, user, text, 0);
}

struct res {
    struct backend_resume r;
    struct world *w;
};

static void res_done(struct backend_req *r)
{
    ND_CONTAINER_OF(r, struct res, r.req)->w->answered++;
}

/* what @user missed (since @since when nonzero): message texts in order, into @out */
static int resume(struct world *w, const char *user, uint64_t since, char out[][16], size_t max)
{
    struct res j;
    memset(&j, 0, sizeof j);
    j.w = w;
    j.r.req.done = res_done;
    snprintf(j.r.user_id, sizeof j.r.user_id, "%s", user);
    j.r.has_since = since != 0;
    j.r.since = since;
    int before = w->answered;
    assert_int_equal(backend_resume(w->b, &j.r), 0);
    wait_answer(w, before);
    assert_true(j.r.n <= max);
    for (size_t i = 0; i < j.r.n; i++) {
        json_t *m = json_loads(delivery_json(j.r.msgs[i]), 0, NULL);
        snprintf(out[i], 16, "%s",
                 json_string_value(json_object_get(json_object_get(m, "data"), "message")));
        json_decref(m);
        if (i)
            assert_true(j.r.msgs[i]->id > j.r.msgs[i - 1]->id); /* by id */
    }
    for (size_t i = 0; i < j.r.n; i++)
        delivery_unref(j.r.msgs[i]);
    free(j.r.msgs);
    return j.r.complete * 100 + (int)j.r.n;
}

static void test_ids_rise_and_online_users_get_it(void **state)
{
    struct world *w = *state;
    w->side.online = "alice";
    struct backend_copy a = publish(w, "alice", "a1"), b = publish(w, "alice", "a2");
    assert_true(b.id > a.id && a.id);
    assert_int_equal(a.connections, 1);
    assert_int_equal(a.stored, 0); /* a connection outside ack mode took it */
    assert_int_equal(w->side.delivered, 2);
    assert_true(w->side.last_id == b.id);
}

static void test_kept_for_the_offline_then_resumed_once(void **state)
{
    struct world *w = *state;
    char got[8][16];
    w->side.online = "alice";
    struct backend_copy seen = publish(w, "bob-was-here", "h0"); /* bob offline: kept */
    assert_int_equal(seen.stored, 1);
    struct backend_copy all = publish(w, "", "everyone");
    assert_int_equal(all.stored, 0); /* broadcasts are never kept */
    /* bob connects: the kept one first; with since, the broadcast from the history too */
    assert_int_equal(resume(w, "bob-was-here", 0, got, 8), 101);
    assert_string_equal(got[0], "h0");
    assert_int_equal(resume(w, "bob-was-here", seen.id - 1, got, 8), 102);
    assert_string_equal(got[0], "h0"); /* in the store and the history: once */
    assert_string_equal(got[1], "everyone");
    /* written (no ack mode): forgotten; the history still has it after an older since */
    backend_forget(w->b, "bob-was-here", seen.id);
    assert_int_equal(resume(w, "bob-was-here", 0, got, 8), 100);
    assert_int_equal(resume(w, "bob-was-here", seen.id, got, 8), 101);
    assert_string_equal(got[0], "everyone");
    /* an id from before the engine started cannot be vouched for */
    assert_int_equal(resume(w, "bob-was-here", 1, got, 8) / 100, 0);
}

static void test_ack_mode_keeps_until_acked(void **state)
{
    struct world *w = *state;
    char got[8][16];
    w->side.online = "carol";
    w->side.ack_mode = 1;
    struct backend_copy c = publish(w, "carol", "k1");
    assert_int_equal(c.connections, 1);
    assert_int_equal(c.stored, 1); /* only an ack-mode connection took it */
    assert_int_equal(resume(w, "carol", 0, got, 8), 101);
    backend_forget(w->b, "carol", c.id);
    assert_int_equal(resume(w, "carol", 0, got, 8), 100);
}

static void test_a_copy_waits_its_own_ttl(void **state)
{
    struct world *w = *state;
    char got[8][16];
    struct backend_copy brief = publish_ttl(w, "frank", "brief", 1); /* 1 ms */
    struct backend_copy kept = publish_ttl(w, "frank", "kept", 0);
    assert_int_equal(brief.stored, 1);
    assert_int_equal(kept.stored, 1);
    usleep(20 * 1000); /* the 1 ms has passed; the offline TTL (7 days) has not */
    assert_int_equal(resume(w, "frank", 0, got, 8), 101);
    assert_string_equal(got[0], "kept");
}

struct disc {
    struct backend_disconnect d;
    struct world *w;
};

static void disc_done(struct backend_req *r)
{
    ND_CONTAINER_OF(r, struct disc, d.req)->w->answered++;
}

static void test_disconnect_closes_the_users_connections_here(void **state)
{
    struct world *w = *state;
    struct disc j;
    memset(&j, 0, sizeof j);
    j.w = w;
    j.d.req.done = disc_done;
    snprintf(j.d.user_id, sizeof j.d.user_id, "gina");
    snprintf(j.d.reason, sizeof j.d.reason, "account suspended");
    w->side.online = "gina";
    int before = w->answered;
    assert_int_equal(backend_disconnect(w->b, &j.d), 0);
    wait_answer(w, before);
    assert_int_equal(atomic_load(&j.d.req.err), 0);
    assert_int_equal(j.d.closed, 1);
    assert_string_equal(w->side.closed_reason, "account suspended");
    assert_int_equal(w->side.closed_reconnect, 0);
    /* nobody left: nothing closed, not an error */
    j.d.reconnect = 1;
    assert_int_equal(backend_disconnect(w->b, &j.d), 0);
    wait_answer(w, before + 1);
    assert_int_equal(atomic_load(&j.d.req.err), 0);
    assert_int_equal(j.d.closed, 0);
}

struct q {
    struct backend_query q;
    struct world *w;
    int connections;
    size_t n_users;
    char first[16];
};

static void q_done(struct backend_req *r)
{
    struct q *j = ND_CONTAINER_OF(r, struct q, q.req);
    j->connections = j->q.connections;
    j->n_users = j->q.n_users;
    if (j->q.n_users)
        snprintf(j->first, sizeof j->first, "%s", j->q.users[0]);
    j->w->answered++;
}

static void test_stats_and_online(void **state)
{
    struct world *w = *state;
    struct q j;
    memset(&j, 0, sizeof j);
    j.w = w;
    j.q.req.done = q_done;
    w->side.online = "dave";
    int before = w->answered;
    assert_int_equal(backend_stats(w->b, &j.q), 0);
    wait_answer(w, before);
    assert_int_equal(j.connections, 1);
    assert_int_equal(j.n_users, 1);
    assert_string_equal(j.first, "dave");
    snprintf(j.q.user_id, sizeof j.q.user_id, "erin");
    assert_int_equal(backend_online(w->b, &j.q), 0);
    wait_answer(w, before + 1);
    assert_int_equal(j.connections, 0);
}

struct blog {
    struct backend_backlog q;
    struct world *w;
};

static void blog_done(struct backend_req *r)
{
    ND_CONTAINER_OF(r, struct blog, q.req)->w->answered++;
}

/* @user's backlog, as the engine answers it */
static struct backend_backlog backlog(struct world *w, const char *user)
{
    struct blog j;
    memset(&j, 0, sizeof j);
    j.w = w;
    j.q.req.done = blog_done;
    snprintf(j.q.user_id, sizeof j.q.user_id, "%s", user);
    int before = w->answered;
    assert_int_equal(backend_backlog(w->b, &j.q), 0);
    wait_answer(w, before);
    assert_int_equal(atomic_load(&j.q.req.err), 0);
    return j.q;
}

static void test_backlog_is_what_is_kept(void **state)
{
    struct world *w = *state;
    char got[8][16];
    assert_int_equal(backlog(w, "hank").messages, 0);
    struct backend_copy a = publish(w, "hank", "b1"), b = publish(w, "hank", "b2");
    publish(w, "", "everyone"); /* never kept */
    struct backend_backlog q = backlog(w, "hank");
    assert_int_equal(q.messages, 2);
    assert_true(q.oldest == a.id);
    assert_true(q.newest == b.id);
    /* hank connects and gets them (no ack mode): nothing left */
    assert_int_equal(resume(w, "hank", 0, got, 8), 102);
    backend_forget(w->b, "hank", a.id);
    backend_forget(w->b, "hank", b.id);
    q = backlog(w, "hank");
    assert_int_equal(q.messages, 0);
    assert_true(q.oldest == 0 && q.newest == 0);
}

struct tpl {
    struct backend_template t;
    struct world *w;
};

static void tpl_done(struct backend_req *r)
{
    ND_CONTAINER_OF(r, struct tpl, t.req)->w->answered++;
}

static void test_templates_are_kept_then_in_the_table(void **state)
{
    struct world *w = *state;
    struct tpl j;
    memset(&j, 0, sizeof j);
    j.w = w;
    j.t.req.done = tpl_done;
    j.t.id = "t1";
    j.t.json = "{\"title\":\"T\",\"message\":\"M\",\"updated_at\":1}";
    int before = w->answered;
    assert_int_equal(backend_template_put(w->b, &j.t), 0);
    wait_answer(w, before);
    json_t *t = templates_get(w->templates, "t1");
    assert_non_null(t);
    json_decref(t);
    j.t.json = NULL; /* delete */
    assert_int_equal(backend_template_put(w->b, &j.t), 0);
    wait_answer(w, before + 1);
    assert_null(templates_get(w->templates, "t1"));
}

static void test_history_line_in_metrics(void **state)
{
    struct world *w = *state;
    char *text = NULL;
    size_t len = 0;
    publish(w, "", "remembered");
    FILE *f = open_memstream(&text, &len);
    backend_metrics(w->b, f);
    fclose(f);
    assert_non_null(strstr(text, "notifyd_history_messages 1\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ids_rise_and_online_users_get_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_for_the_offline_then_resumed_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ack_mode_keeps_until_acked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_online, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_is_what_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templates_are_kept_then_in_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_line_in_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_copy_waits_its_own_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_closes_the_users_connections_here, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
