/* store (embedded), the feed: items are durable when their callback runs,
 * a user's window holds their own items and the shared ones newest first,
 * a shared item's state is per user, the per-user bound and the TTL, marks
 * survive a reopen, marks by ids, counts and pages (filter, limit, cursor) agree with a model, the
 * sweep goes over every user, and a version 2 store (before the feed) is migrated with its messages
 * kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "store/store.h"
#include "store/store_internal.h" /* FEED_SWEEP_USERS, FEED_SWEEP_LOOK */

static int64_t rows(const char *sql);

/* over several of the sweep's steps, by both of its bounds: users looked at, users deleted from */
#define FEED_SWEEP_USERS_TESTED (FEED_SWEEP_LOOK * 3 + 5)
#define FEED_SWEEP_EXPIRED(i)                                                                      \
    ((i) % 3 == 0) /* the users with an expired item: > 4 steps' worth                             \
                    */

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, err;
    struct store_feed_result r; /* items owned */
    size_t n_msgs;              /* store_load */
};

static void waiter_init(struct waiter *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
}

static void waiter_wait(struct waiter *w)
{
    pthread_mutex_lock(&w->lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (!w->done)
        assert_int_not_equal(pthread_cond_timedwait(&w->cond, &w->lock, &until), ETIMEDOUT);
    pthread_mutex_unlock(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

static void signal_done(struct waiter *w, int err)
{
    pthread_mutex_lock(&w->lock);
    w->err = err;
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void put_done(void *arg, int err, const char *why)
{
    (void)why;
    signal_done(arg, err);
}

static void feed_done(void *arg, int err, struct store_feed_result *r)
{
    struct waiter *w = arg;
    if (r)
        w->r = *r; /* the items are ours */
    signal_done(w, err);
}

static void loaded(void *arg, const struct stored_msg *m, size_t n, int err)
{
    struct waiter *w = arg;
    (void)m;
    w->n_msgs = n;
    signal_done(w, err);
}

static char dir[64];
static struct nd_config cfg;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/notifyd-feed-XXXXXX");
    assert_non_null(mkdtemp(dir));
    memset(&cfg, 0, sizeof cfg);
    cfg.data_dir = dir;
    cfg.offline_max_per_user = 1000;
    cfg.offline_ttl_s = 3600;
    cfg.feed_max_per_user = 5;
    cfg.feed_ttl_s = 3600;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* a message id made now (ids are times: msgid.h), + @seq */
static uint64_t id_now(uint64_t seq)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) << 16 | seq;
}

static void feed_put(struct store *s, const char *user, uint64_t id)
{
    char body[64];
    snprintf(body, sizeof body, "{\"n\":%llu}", (unsigned long long)(id & 0xffff));
    struct waiter w;
    waiter_init(&w);
    assert_int_equal(store_feed_put(s, user, id, body, strlen(body), put_done, &w), 0);
    waiter_wait(&w);
    assert_int_equal(w.err, 0);
}

/* runs @q for @user; the caller frees w->r.items */
static void feed_run(struct store *s, struct store_feed_req q, const char *user, struct waiter *w)
{
    q.user_id = user;
    if (q.kind == STORE_FEED_LIST && !q.limit)
        q.limit = 100;
    waiter_init(w);
    assert_int_equal(store_feed(s, &q, feed_done, w), 0);
    waiter_wait(w);
    assert_int_equal(w->err, 0);
}

static void expect_counts(struct store *s, const char *user, int total, int unseen, int unread)
{
    struct waiter w;
    feed_run(s, (struct store_feed_req){.kind = STORE_FEED_COUNTS}, user, &w);
    assert_int_equal(w.r.counts.total, total);
    assert_int_equal(w.r.counts.unseen, unseen);
    assert_int_equal(w.r.counts.unread, unread);
}

static void test_own_and_shared_items_with_state_per_user(void **state)
{
    (void)state;
    char err[512];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    uint64_t a1 = id_now(1), shared = id_now(2), a2 = id_now(3), b1 = id_now(4);
    feed_put(s, "alice", a1);
    feed_put(s, "", shared);
    feed_put(s, "alice", a2);
    feed_put(s, "bob", b1);
    struct waiter w;
    feed_run(s, (struct store_feed_req){.kind = STORE_FEED_LIST, .filter = FEED_ALL}, "alice", &w);
    assert_int_equal(w.r.n_items, 3);
    assert_int_equal(w.r.items[0].id, a2);
    assert_int_equal(w.r.items[1].id, shared);
    assert_int_equal(w.r.items[2].id, a1);
    assert_string_equal(w.r.items[2].json, "{\"n\":1}");
    feed_items_free(w.r.items, w.r.n_items);
    /* alice reads the shared item; bob's state of it is his own */
    uint64_t ids[] = {shared, b1}; /* bob's item is not alice's to mark */
    feed_run(s,
             (struct store_feed_req){
                 .kind = STORE_FEED_MARK, .ids = ids, .n_ids = 2, .action = FEED_MARK_READ},
             "alice", &w);
    assert_int_equal(w.r.updated, 1);
    assert_int_equal(w.r.counts.unread, 2);
    expect_counts(s, "bob", 2, 2, 2);
    store_close(s);

    /* durable: reopened, the marks stand */
    s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    expect_counts(s, "alice", 3, 2, 2);
    expect_counts(s, "bob", 2, 2, 2);
    feed_run(
        s, (struct store_feed_req){.kind = STORE_FEED_MARK, .all = 1, .action = FEED_MARK_ARCHIVE},
        "bob", &w);
    assert_int_equal(w.r.updated, 2);
    expect_counts(s, "bob", 0, 0, 0);
    expect_counts(s, "alice", 3, 2, 2);
    store_close(s);
}

/* a model of three users' windows (cfg.feed_max_per_user = 5), to check the store against */
enum { M_USERS = 3, M_MAX = 5 };
struct model_item {
    uint64_t id;
    unsigned flags[M_USERS]; /* an own item uses [its user] */
};
struct model {
    struct model_item own[M_USERS][M_MAX], shared[M_MAX];
    int n_own[M_USERS], n_shared;
};

static void model_put(struct model_item *list, int *n, uint64_t id)
{
    if (*n == M_MAX) /* the oldest goes */
        memmove(list, list + 1, (M_MAX - 1) * sizeof *list);
    else
        (*n)++;
    memset(&list[*n - 1], 0, sizeof *list);
    list[*n - 1].id = id;
}

/* @u's window, newest first: pointers to the flags */
static int model_window(struct model *m, int u, uint64_t *ids, unsigned **flags)
{
    int a = m->n_own[u] - 1, b = m->n_shared - 1, n = 0;
    for (; n < M_MAX && (a >= 0 || b >= 0); n++) {
        if (b < 0 || (a >= 0 && m->own[u][a].id > m->shared[b].id)) {
            ids[n] = m->own[u][a].id;
            flags[n] = &m->own[u][a--].flags[u];
        } else {
            ids[n] = m->shared[b].id;
            flags[n] = &m->shared[b--].flags[u];
        }
    }
    return n;
}

/* marks by ids and counts, many times, against the model: puts, shared puts and marks mixed */
/* a page of @user's window (the model's: @n entries, newest first) with a random filter, limit
 * and cursor, as feed_page() makes it of the whole window: nd-store reads the window only as far
 * as the page */
static void expect_model_page(struct store *s, const char *user, const uint64_t *ids,
                              unsigned *const *flags, int n)
{
    struct feed_entry w[M_MAX];
    size_t page[M_MAX];
    for (int i = 0; i < n; i++)
        w[i] = (struct feed_entry){.id = ids[i], .flags = *flags[i]};
    struct store_feed_req q = {.kind = STORE_FEED_LIST,
                               .limit = rand() % 4 + 1,
                               .filter = (enum feed_filter)(rand() % 4),
                               .before = n && rand() % 2 ? ids[rand() % n] : 0};
    uint64_t next = 0;
    size_t got = feed_page(w, (size_t)n, q.before, q.filter, q.limit, page, &next);
    struct waiter r;
    feed_run(s, q, user, &r);
    assert_int_equal(r.r.n_items, got);
    assert_true(r.r.next_before == next);
    for (size_t i = 0; i < got; i++) {
        assert_true(r.r.items[i].id == w[page[i]].id);
        assert_int_equal(r.r.items[i].flags, w[page[i]].flags);
    }
    feed_items_free(r.r.items, r.r.n_items);
}

static void test_marks_and_counts_match_a_model(void **state)
{
    (void)state;
    char err[512];
    const char *users[M_USERS] = {"m0", "m1", "m2"};
    struct model m;
    memset(&m, 0, sizeof m);
    uint64_t all_ids[1024];
    int n_all = 0;
    srand(19);
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    for (int step = 0; step < 600; step++) {
        int r = rand() % 10, u = rand() % M_USERS;
        uint64_t ids[M_MAX];
        unsigned *flags[M_MAX];
        if (r < 3 || r == 3) { /* an own item, or a shared one */
            uint64_t id = id_now((uint64_t)step);
            if (r < 3) {
                feed_put(s, users[u], id);
                model_put(m.own[u], &m.n_own[u], id);
            } else {
                feed_put(s, "", id);
                model_put(m.shared, &m.n_shared, id);
            }
            all_ids[n_all++ % 1024] = id;
            continue;
        }
        int n = model_window(&m, u, ids, flags);
        if (r == 9) { /* the counts alone */
            struct feed_counts c = {0};
            for (int i = 0; i < n; i++)
                feed_count_item(&c, *flags[i], 1);
            expect_counts(s, users[u], c.total, c.unseen, c.unread);
            continue;
        }
        /* a mark of 1-3 ids (any user's, in the window or not, maybe twice), or of all */
        uint64_t pick[3];
        size_t n_pick = (size_t)(rand() % 3 + 1);
        for (size_t i = 0; i < n_pick; i++)
            pick[i] = n_all ? all_ids[rand() % (n_all < 1024 ? n_all : 1024)] : 1;
        int all = r == 8 && rand() % 4 == 0;
        enum feed_action a = (enum feed_action)(rand() % 5);
        int updated = 0;
        struct feed_counts c = {0};
        for (int i = 0; i < n; i++) {
            int hit = all;
            for (size_t j = 0; j < n_pick; j++)
                hit |= pick[j] == ids[i];
            unsigned to = hit ? feed_apply(*flags[i], a) : *flags[i];
            updated += to != *flags[i];
            *flags[i] = to;
            feed_count_item(&c, to, 1);
        }
        struct waiter w;
        feed_run(s,
                 (struct store_feed_req){.kind = STORE_FEED_MARK,
                                         .ids = pick,
                                         .n_ids = all ? 0 : n_pick,
                                         .all = all,
                                         .action = a},
                 users[u], &w);
        assert_int_equal(w.r.updated, updated);
        assert_int_equal(w.r.counts.total, c.total);
        assert_int_equal(w.r.counts.unseen, c.unseen);
        assert_int_equal(w.r.counts.unread, c.unread);
        if (step % 7 == 0) { /* and what a list shows */
            feed_run(s, (struct store_feed_req){.kind = STORE_FEED_LIST, .filter = FEED_ALL},
                     users[u], &w);
            assert_int_equal(w.r.n_items, n);
            for (int i = 0; i < n; i++) {
                assert_int_equal(w.r.items[i].id, ids[i]);
                assert_int_equal(w.r.items[i].flags, *flags[i]);
            }
            feed_items_free(w.r.items, w.r.n_items);
        }
        if (step % 3 == 0) /* a page: a filter, a limit, a cursor */
            expect_model_page(s, users[u], ids, flags, n);
    }
    store_close(s);
}

static void test_the_bound_keeps_the_newest(void **state)
{
    (void)state;
    char err[512];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    for (uint64_t i = 1; i <= 8; i++)
        feed_put(s, "carol", id_now(i));
    struct waiter w;
    feed_run(s, (struct store_feed_req){.kind = STORE_FEED_LIST, .filter = FEED_ALL}, "carol", &w);
    assert_int_equal(w.r.n_items, 5);
    assert_string_equal(w.r.items[0].json, "{\"n\":8}");
    assert_string_equal(w.r.items[4].json, "{\"n\":4}");
    feed_items_free(w.r.items, w.r.n_items);
    /* on disk, the older ones wait for a trim at most every 16th put (FEED_TRIM_EVERY) */
    for (uint64_t i = 9; i <= 60; i++) {
        feed_put(s, "carol", id_now(i));
        int64_t n = rows("SELECT COUNT(*) FROM feed WHERE user_id = 'carol'");
        assert_true(n >= 5 && n <= 5 + 15);
    }
    feed_run(s, (struct store_feed_req){.kind = STORE_FEED_LIST, .filter = FEED_ALL}, "carol", &w);
    assert_int_equal(w.r.n_items, 5);
    assert_string_equal(w.r.items[0].json, "{\"n\":60}");
    assert_string_equal(w.r.items[4].json, "{\"n\":56}");
    feed_items_free(w.r.items, w.r.n_items);
    store_close(s);
    /* a user not known since the open is trimmed at the first put */
    s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    feed_put(s, "carol", id_now(61));
    assert_int_equal(rows("SELECT COUNT(*) FROM feed WHERE user_id = 'carol'"), 5);
    assert_int_equal(rows("SELECT COUNT(*) FROM feed_body"), 5);
    store_close(s);
}

static void test_items_past_the_ttl_are_gone(void **state)
{
    (void)state;
    char err[512];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    uint64_t old = (id_now(0) >> 16) - 3601 * 1000;
    feed_put(s, "dave", old << 16);
    feed_put(s, "dave", id_now(1));
    expect_counts(s, "dave", 1, 1, 1);
    store_close(s);
}

static void put_queued(struct store *s, const char *user, uint64_t id, struct waiter *w)
{
    waiter_init(w);
    assert_int_equal(store_feed_put(s, user, id, "{}", 2, put_done, w), 0);
}

static int64_t rows(const char *sql)
{
    char path[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    snprintf(path, sizeof path, "%s/messages.db", dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* the sweep deletes expired items (and their bodies) user by user, over several transactions,
 * and goes past the users that have none */
static void test_the_sweep_deletes_expired_items_of_every_user(void **state)
{
    (void)state;
    char err[512], user[32];
    enum { USERS = FEED_SWEEP_USERS_TESTED };
    struct waiter *w = calloc(2 * USERS + 2, sizeof *w);
    assert_non_null(w);
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    expect_counts(s, "nobody", 0, 0, 0); /* the first transaction's sweep, on an empty feed */
    uint64_t old = (id_now(0) >> 16) - 3601 * 1000;
    size_t n = 0;
    for (int i = 0; i < USERS; i++) { /* a live item each, and an expired one for some */
        snprintf(user, sizeof user, "sweep%04d", i);
        if (FEED_SWEEP_EXPIRED(i))
            put_queued(s, user, (old << 16) | (uint64_t)i, &w[n++]);
        put_queued(s, user, id_now((uint64_t)i), &w[n++]);
    }
    put_queued(s, "", (old << 16) | 0xffff, &w[n++]); /* and a shared one */
    put_queued(s, "", id_now(0xffff), &w[n++]);
    for (size_t i = 0; i < n; i++) {
        waiter_wait(&w[i]);
        assert_int_equal(w[i].err, 0);
    }
    store_close(s);
    assert_int_equal(rows("SELECT COUNT(*) FROM feed"), (int64_t)n);
    s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err); /* a sweep is due at once */
    assert_non_null(s);
    expect_counts(s, "sweep0000", 2, 2, 2); /* its live item and the shared one */
    for (int i = 0; i < 500 && rows("SELECT COUNT(*) FROM feed") != USERS + 1; i++)
        usleep(10000); /* up to 5 s */
    assert_int_equal(rows("SELECT COUNT(*) FROM feed"), USERS + 1);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM feed WHERE id <= %llu",
             (unsigned long long)((old << 16) | 0xffff));
    assert_int_equal(rows(sql), 0);
    assert_int_equal(rows("SELECT COUNT(*) FROM feed_body"), USERS + 1);
    store_close(s);
    free(w);
}

/* a read alone says nd-store is free (its caller may answer there); reads queued back to back
 * share transactions, and those say it is busy */
static void test_a_read_says_whether_the_store_has_more_to_do(void **state)
{
    (void)state;
    char err[512];
    enum { READS = 200 };
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    feed_put(s, "alice", id_now(1));
    struct waiter w;
    feed_run(s, (struct store_feed_req){.kind = STORE_FEED_LIST}, "alice", &w);
    assert_int_equal(w.r.n_items, 1);
    assert_int_equal(w.r.busy, 0);
    feed_items_free(w.r.items, w.r.n_items);
    struct waiter *ws = calloc(READS, sizeof *ws);
    assert_non_null(ws);
    struct store_feed_req q = {.kind = STORE_FEED_LIST, .user_id = "alice", .limit = 20};
    for (int i = 0; i < READS; i++) {
        waiter_init(&ws[i]);
        assert_int_equal(store_feed(s, &q, feed_done, &ws[i]), 0);
    }
    int busy = 0;
    for (int i = 0; i < READS; i++) {
        waiter_wait(&ws[i]);
        assert_int_equal(ws[i].err, 0);
        assert_int_equal(ws[i].r.n_items, 1);
        busy += ws[i].r.busy;
        feed_items_free(ws[i].r.items, ws[i].r.n_items);
    }
    assert_true(busy > 0);
    store_close(s);
    free(ws);
}

/* a message kept for a user who is away, and an item of their feed: one row while it waits */
static void put_waiting(struct store *s, const char *user, uint64_t id, int64_t expires_at_ms)
{
    char body[64];
    snprintf(body, sizeof body, "{\"n\":%llu}", (unsigned long long)(id & 0xffff));
    struct stored_msg m;
    memset(&m, 0, sizeof m);
    m.id = id;
    snprintf(m.user_id, sizeof m.user_id, "%s", user);
    m.expires_at_ms = expires_at_ms;
    m.json = body;
    m.len = strlen(body);
    m.feed = 1;
    struct waiter w;
    waiter_init(&w);
    assert_int_equal(store_put(s, &m, put_done, &w), 0);
    waiter_wait(&w);
    assert_int_equal(w.err, 0);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* @user's whole window, newest first: each item's body and whether it is read, as "n:r" */
static void expect_window(struct store *s, const char *user, const char *want)
{
    struct waiter w;
    char got[512] = "";
    feed_run(s, (struct store_feed_req){.kind = STORE_FEED_LIST, .filter = FEED_ALL}, user, &w);
    for (size_t i = 0; i < w.r.n_items; i++) {
        unsigned long long n = 0;
        assert_int_equal(sscanf(w.r.items[i].json, "{\"n\":%llu}", &n), 1);
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu:%d", i ? " " : "", n,
                 (w.r.items[i].flags & FEED_READ) != 0);
    }
    feed_items_free(w.r.items, w.r.n_items);
    assert_string_equal(got, want);
}

/* A message that waits for its user and is a feed item is one row of `offline` (one write on
 * the notify path): the feed lists and marks it there, and it moves into the feed, state and
 * body, when it leaves the queue -- delivered, past the per-user bound, expired -- and survives
 * a reopen either way. */
static void test_a_waiting_message_is_its_users_feed_item(void **state)
{
    (void)state;
    char err[512];
    cfg.offline_max_per_user = 3;
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    uint64_t id[6];
    for (uint64_t i = 0; i < 6; i++)
        id[i] = id_now(i + 1);
    feed_put(s, "erin", id[0]); /* delivered at once: in the feed */
    put_waiting(s, "erin", id[1], wall_ms() + 60000);
    put_waiting(s, "erin", id[2], wall_ms() + 60000);
    assert_int_equal(rows("SELECT COUNT(*) FROM feed WHERE user_id = 'erin'"), 1);
    assert_int_equal(rows("SELECT COUNT(*) FROM offline WHERE feed IS NOT NULL"), 2);
    expect_counts(s, "erin", 3, 3, 3);
    expect_window(s, "erin", "3:0 2:0 1:0");
    /* marked where it waits: by id (on the window nd-store knows), then all */
    struct waiter w;
    uint64_t one[] = {id[2]};
    feed_run(s,
             (struct store_feed_req){
                 .kind = STORE_FEED_MARK, .ids = one, .n_ids = 1, .action = FEED_MARK_READ},
             "erin", &w);
    assert_int_equal(w.r.updated, 1);
    assert_int_equal(w.r.counts.unread, 2);
    feed_run(s,
             (struct store_feed_req){.kind = STORE_FEED_MARK, .all = 1, .action = FEED_MARK_SEEN},
             "erin", &w);
    assert_int_equal(w.r.updated, 2); /* the read one was seen already */
    expect_counts(s, "erin", 3, 0, 2);
    /* delivered: the message leaves the queue, its item moves to the feed as it was */
    assert_int_equal(store_remove(s, "erin", id[2]), 0);
    expect_window(s, "erin", "3:1 2:0 1:0");
    assert_int_equal(rows("SELECT COUNT(*) FROM feed WHERE user_id = 'erin'"), 2);
    assert_int_equal(rows("SELECT COUNT(*) FROM offline WHERE user_id = 'erin'"), 1);
    /* the queue's bound (3 here) drops the oldest message; its item stays in the feed */
    for (int i = 3; i < 6; i++)
        put_waiting(s, "erin", id[i], i == 5 ? wall_ms() - 1 : wall_ms() + 60000);
    assert_int_equal(rows("SELECT COUNT(*) FROM offline WHERE user_id = 'erin'"), 3);
    expect_window(s, "erin", "6:0 5:0 4:0 3:1 2:0"); /* the newest 5 (the feed's bound) */
    expect_counts(s, "erin", 5, 3, 4);
    store_close(s);
    /* reopened: a sweep runs at once, and the expired message's item moves to the feed */
    s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    expect_counts(s, "erin", 5, 3, 4);
    expect_window(s, "erin", "6:0 5:0 4:0 3:1 2:0");
    assert_int_equal(rows("SELECT COUNT(*) FROM offline WHERE user_id = 'erin'"), 2);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM feed_body WHERE id = %llu",
             (unsigned long long)id[5]);
    assert_int_equal(rows(sql), 1);
    store_close(s);
}

/* the store's connection reads the file through a map and keeps a small page cache: SQLite 3.40
 * walks the whole cache at a commit after a b-tree balance, so its size is a cost per write; a
 * large batch keeps its dirty pages in memory rather than writing them twice */
static void test_the_read_settings_keep_a_small_page_cache(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, STORE_READ_PRAGMAS, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA cache_size", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int kib = -sqlite3_column_int(st, 0); /* negative: KiB */
    sqlite3_finalize(st);
    assert_true(kib > 0 && kib <= 4096);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA cache_spill", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0); /* a batch's dirty pages are not spilled */
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_a_version_2_store_is_migrated(void **state)
{
    (void)state;
    char err[512], cmd[1024];
    snprintf(cmd, sizeof cmd,
             "sqlite3 %s/messages.db 'CREATE TABLE offline (user_id TEXT NOT NULL, id INTEGER NOT "
             "NULL, expires_at INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (user_id, id)) "
             "WITHOUT ROWID; CREATE INDEX offline_expiry ON offline (expires_at); CREATE TABLE "
             "templates (id TEXT PRIMARY KEY, body TEXT NOT NULL); INSERT INTO offline VALUES "
             "(\"erin\", 7, 99999999999999, \"{}\"); INSERT INTO templates VALUES (\"t\", "
             "\"{}\"); PRAGMA user_version = 2;' 2>/dev/null",
             dir);
    if (system(cmd) != 0)
        skip(); /* the sqlite3 shell is not installed */
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    struct waiter w;
    waiter_init(&w);
    assert_int_equal(store_load(s, "erin", loaded, &w), 0);
    waiter_wait(&w);
    assert_int_equal(w.n_msgs, 1); /* the offline message is still there */
    feed_put(s, "erin", id_now(1));
    expect_counts(s, "erin", 1, 1, 1);
    store_close(s);
    snprintf(cmd, sizeof cmd, "test \"$(sqlite3 %s/messages.db 'PRAGMA user_version')\" = 5", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_own_and_shared_items_with_state_per_user, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_bound_keeps_the_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_read_says_whether_the_store_has_more_to_do, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_marks_and_counts_match_a_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_items_past_the_ttl_are_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_sweep_deletes_expired_items_of_every_user, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_version_2_store_is_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_waiting_message_is_its_users_feed_item, setup,
                                        teardown),
        cmocka_unit_test(test_the_read_settings_keep_a_small_page_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
