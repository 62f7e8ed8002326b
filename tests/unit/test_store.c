/* store (embedded): put is durable when its callback runs, load returns a
 * user's messages in id order, a user's backlog counted, remove, expiry, the
 * per-user bound, reopening, the WAL checkpointed on its own thread,
 * and clear errors for a corrupt or foreign file; the whole file is checked only when the last
 * run did not close it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "store/store.h"
#include "store/store_internal.h" /* store__unclean */

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int err;
    size_t n;
    uint64_t ids[64];
    char bodies[64][32];
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

static void put_done(void *arg, int err, const char *why)
{
    struct waiter *w = arg;
    (void)why;
    pthread_mutex_lock(&w->lock);
    w->err = err;
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void loaded(void *arg, const struct stored_msg *m, size_t n, int err)
{
    struct waiter *w = arg;
    pthread_mutex_lock(&w->lock);
    w->err = err;
    w->n = n;
    for (size_t i = 0; i < n && i < 64; i++) {
        w->ids[i] = m[i].id;
        snprintf(w->bodies[i], sizeof w->bodies[i], "%.*s", (int)m[i].len, m[i].json);
    }
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static char dir[64];
static struct nd_config cfg;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/notifyd-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    memset(&cfg, 0, sizeof cfg);
    cfg.data_dir = dir;
    cfg.offline_max_per_user = 1000;
    cfg.offline_ttl_s = 3600;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put(struct store *s, const char *user, uint64_t id, const char *body, int64_t exp)
{
    struct stored_msg m = {.id = id, .expires_at_ms = exp, .json = body, .len = strlen(body)};
    strcpy(m.user_id, user);
    struct waiter w;
    waiter_init(&w);
    assert_int_equal(store_put(s, &m, put_done, &w), 0);
    waiter_wait(&w);
    assert_int_equal(w.err, 0);
}

static void load(struct store *s, const char *user, struct waiter *w)
{
    waiter_init(w);
    assert_int_equal(store_load(s, user, loaded, w), 0);
    waiter_wait(w);
    assert_int_equal(w->err, 0);
}

static void count_user(void *arg, const char *user)
{
    (void)user;
    (*(int *)arg)++;
}

static void test_put_load_remove_and_reopen(void **state)
{
    (void)state;
    char err[512];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    int64_t later = wall_ms() + 60000;
    put(s, "alice", 30, "{\"n\":3}", later);
    put(s, "alice", 10, "{\"n\":1}", later);
    put(s, "bob", 20, "{\"n\":2}", later);
    put(s, "alice", 20, "{\"n\":2}", later);
    struct waiter w;
    load(s, "alice", &w);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.ids[0], 10);
    assert_int_equal(w.ids[1], 20);
    assert_int_equal(w.ids[2], 30);
    assert_string_equal(w.bodies[0], "{\"n\":1}");
    assert_int_equal(store_remove(s, "alice", 20), 0);
    assert_int_equal(store_remove(s, "alice", 999), 0); /* unknown: fine */
    load(s, "alice", &w);                               /* runs after the remove */
    assert_int_equal(w.n, 2);
    store_close(s);

    int users = 0;
    s = store_open(&cfg, count_user, &users, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(users, 2);
    load(s, "alice", &w);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.ids[1], 30);
    load(s, "nobody", &w);
    assert_int_equal(w.n, 0);
    store_close(s);
}

static void test_expired_messages_are_not_loaded(void **state)
{
    (void)state;
    char err[512];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    put(s, "c", 1, "{}", wall_ms() - 1);
    put(s, "c", 2, "{}", wall_ms() + 60000);
    struct waiter w;
    load(s, "c", &w);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.ids[0], 2);
    store_close(s);
}

static void test_per_user_bound_keeps_the_newest(void **state)
{
    (void)state;
    char err[512];
    cfg.offline_max_per_user = 3;
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    for (uint64_t id = 1; id <= 7; id++)
        put(s, "d", id, "{}", wall_ms() + 60000);
    struct waiter w;
    load(s, "d", &w);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.ids[0], 5);
    assert_int_equal(w.ids[2], 7);
    store_close(s);
    cfg.offline_max_per_user = 1000;
}

struct counted {
    struct waiter w;
    struct store_backlog b;
};

static void counted(void *arg, int err, const struct store_backlog *b)
{
    struct counted *c = arg;
    pthread_mutex_lock(&c->w.lock);
    c->w.err = err;
    c->b = *b;
    c->w.done = 1;
    pthread_cond_signal(&c->w.cond);
    pthread_mutex_unlock(&c->w.lock);
}

static struct store_backlog backlog(struct store *s, const char *user)
{
    struct counted c;
    waiter_init(&c.w);
    assert_int_equal(store_backlog(s, user, counted, &c), 0);
    waiter_wait(&c.w);
    assert_int_equal(c.w.err, 0);
    return c.b;
}

static void test_backlog_counts_a_users_unexpired_messages(void **state)
{
    (void)state;
    char err[512];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    struct store_backlog b = backlog(s, "e");
    assert_int_equal(b.count, 0);
    assert_int_equal(b.oldest, 0);
    assert_int_equal(b.newest, 0);
    put(s, "e", 5, "{}", wall_ms() - 1); /* expired: not counted */
    put(s, "e", 7, "{}", wall_ms() + 60000);
    put(s, "e", 9, "{}", wall_ms() + 60000);
    put(s, "e2", 11, "{}", wall_ms() + 60000); /* someone else's */
    b = backlog(s, "e");
    assert_int_equal(b.count, 2);
    assert_int_equal(b.oldest, 7);
    assert_int_equal(b.newest, 9);
    assert_int_equal(store_remove(s, "e", 9), 0);
    b = backlog(s, "e"); /* runs after the remove */
    assert_int_equal(b.count, 1);
    assert_int_equal(b.newest, 7);
    store_close(s);
}

static void test_close_finishes_queued_puts(void **state)
{
    (void)state;
    char err[512];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    struct waiter w[20];
    for (int i = 0; i < 20; i++) {
        struct stored_msg m = {
            .id = (uint64_t)i + 1, .expires_at_ms = wall_ms() + 60000, .json = "{}", .len = 2};
        strcpy(m.user_id, "e");
        waiter_init(&w[i]);
        assert_int_equal(store_put(s, &m, put_done, &w[i]), 0);
    }
    store_close(s); /* every callback ran before close returned */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(w[i].done, 1);
        assert_int_equal(w[i].err, 0);
        pthread_cond_destroy(&w[i].cond);
        pthread_mutex_destroy(&w[i].lock);
    }
    s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    struct waiter lw;
    load(s, "e", &lw);
    assert_int_equal(lw.n, 20);
    store_close(s);
}

struct seen_templates {
    int n;
    char ids[4][16];
    char json[4][64];
};

static void saw_template(void *arg, const char *id, const char *json, size_t len)
{
    struct seen_templates *t = arg;
    assert_true(t->n < 4 && len < 64);
    snprintf(t->ids[t->n], sizeof t->ids[0], "%s", id);
    memcpy(t->json[t->n], json, len);
    t->json[t->n++][len] = 0;
}

static void keep_template(struct store *s, const char *id, const char *json)
{
    struct waiter w;
    waiter_init(&w);
    assert_int_equal(store_template(s, id, json, put_done, &w), 0);
    waiter_wait(&w);
    assert_int_equal(w.err, 0);
}

static void test_templates_are_kept_replaced_and_deleted(void **state)
{
    (void)state;
    char err[512];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    keep_template(s, "a", "{\"v\":1}");
    keep_template(s, "b", "{\"v\":2}");
    keep_template(s, "a", "{\"v\":3}"); /* replaces */
    keep_template(s, "b", NULL);        /* deletes */
    keep_template(s, "zz", NULL);       /* deleting what is not there: fine */
    store_close(s);
    struct seen_templates t = {0};
    s = store_open(&cfg, NULL, NULL, saw_template, &t, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.ids[0], "a");
    assert_string_equal(t.json[0], "{\"v\":3}");
    store_close(s);
}

/* a data dir from before templates existed (schema 1) is upgraded in place */
static void test_schema_1_is_upgraded(void **state)
{
    (void)state;
    char err[512], cmd[256];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    put(s, "alice", 10, "{\"n\":1}", wall_ms() + 60000);
    store_close(s);
    snprintf(
        cmd, sizeof cmd,
        "sqlite3 %s/messages.db 'DROP TABLE templates; DROP TRIGGER offline_to_feed; ALTER TABLE "
        "offline DROP COLUMN feed; PRAGMA user_version=1' 2>/dev/null",
        dir);
    if (system(cmd) != 0)
        skip(); /* the sqlite3 shell is not installed */
    int users = 0;
    s = store_open(&cfg, count_user, &users, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(users, 1); /* the messages are still there */
    keep_template(s, "t", "{}");
    store_close(s);
}

static void test_corrupt_file_is_named(void **state)
{
    (void)state;
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/messages.db", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 200; i++)
        fputs("not a database at all ", f);
    fclose(f);
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_null(s);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "corrupt"));
}

/* a child writes @sql to the store and exits without closing it: the WAL is left, as by kill -9 */
static void leave_wal(const char *path, const char *sql)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db = NULL;
        int ok = sqlite3_open(path, &db) == SQLITE_OK &&
                 sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void count_template(void *arg, const char *id, const char *json, size_t len)
{
    (void)id, (void)json, (void)len;
    (*(int *)arg)++;
}

static void test_only_a_store_left_open_is_checked(void **state)
{
    (void)state;
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/messages.db", dir);
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    put(s, "ann", 1, "{}", 99999999999999);
    store_close(s);
    assert_int_equal(store__unclean(path), 0); /* a clean close removes the WAL */
    leave_wal(path, "INSERT INTO templates (id, body) VALUES ('t', '{}')");
    assert_int_equal(store__unclean(path), 1);
    int n = 0;
    s = store_open(&cfg, NULL, NULL, count_template, &n, err, sizeof err); /* checked, recovered */
    assert_non_null(s);
    assert_int_equal(n, 1);
    store_close(s);
    assert_int_equal(store__unclean(path), 0);
}

static void test_a_damaged_store_left_open_is_refused(void **state)
{
    (void)state;
    char path[128], err[512], body[2001], user[16];
    snprintf(path, sizeof path, "%s/messages.db", dir);
    memset(body, 'x', 2000);
    body[2000] = 0;
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    for (int i = 0; i < 60; i++) { /* ~30 pages of the offline table */
        snprintf(user, sizeof user, "u%02d", i);
        put(s, user, (uint64_t)i + 1, body, 99999999999999);
    }
    store_close(s);
    leave_wal(path, "INSERT INTO templates (id, body) VALUES ('t', '{}')");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    FILE *f = fopen(path, "r+b"); /* a page in the middle overwritten */
    assert_non_null(f);
    char junk[4096];
    memset(junk, 0x55, sizeof junk);
    assert_int_equal(fseek(f, (long)(st.st_size / 4096 / 2 * 4096), SEEK_SET), 0);
    assert_int_equal(fwrite(junk, 1, sizeof junk, f), sizeof junk);
    fclose(f);
    s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_null(s);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "corrupt"));
}

static void test_foreign_schema_is_refused(void **state)
{
    (void)state;
    char err[512], cmd[256];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    store_close(s);
    snprintf(cmd, sizeof cmd, "sqlite3 %s/messages.db 'PRAGMA user_version=7' 2>/dev/null", dir);
    if (system(cmd) != 0)
        skip(); /* the sqlite3 shell is not installed */
    s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_null(s);
    assert_non_null(strstr(err, "schema version 7"));
}

/* the WAL is copied back into messages.db while the store runs, by nd-ckpt (not by a commit) */
static void test_the_wal_is_checkpointed_by_its_own_thread(void **state)
{
    (void)state;
    char err[512], path[128], body[4001];
    struct store *s = store_open(&cfg, NULL, NULL, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    char comm[64] = "";
    int found = 0;
    for (int tries = 0; !found && tries < 100; tries++) { /* it names itself once it runs */
        usleep(tries ? 10000 : 0);
        DIR *tasks = opendir("/proc/self/task"); /* our own threads, by name */
        assert_non_null(tasks);
        for (struct dirent *t; !found && (t = readdir(tasks));) {
            char p[300];
            snprintf(p, sizeof p, "/proc/self/task/%s/comm", t->d_name);
            FILE *f = fopen(p, "r");
            if (f) {
                found = fgets(comm, sizeof comm, f) && strcmp(comm, "nd-ckpt\n") == 0;
                fclose(f);
            }
        }
        closedir(tasks);
    }
    assert_true(found);
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = 0;
    struct waiter w[64];
    for (int round = 0; round < 40; round++) { /* 2,560 pages of bodies, in 40 commits */
        for (int i = 0; i < 64; i++) {
            struct stored_msg m = {.id = (uint64_t)(round * 64 + i + 1),
                                   .expires_at_ms = wall_ms() + 60000,
                                   .json = body,
                                   .len = strlen(body)};
            snprintf(m.user_id, sizeof m.user_id, "u%d", i);
            waiter_init(&w[i]);
            assert_int_equal(store_put(s, &m, put_done, &w[i]), 0);
        }
        for (int i = 0; i < 64; i++) {
            waiter_wait(&w[i]);
            assert_int_equal(w[i].err, 0);
        }
    }
    snprintf(path, sizeof path, "%s/messages.db", dir);
    struct stat st = {0};
    for (int i = 0; i < 500 && st.st_size < 4000 * 1000; i++) { /* up to 5 s */
        usleep(10000);
        assert_int_equal(stat(path, &st), 0);
    }
    assert_true(st.st_size >= 4000 * 1000); /* the bodies reached the database file */
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_load_remove_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_messages_are_not_loaded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_user_bound_keeps_the_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_counts_a_users_unexpired_messages, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_finishes_queued_puts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templates_are_kept_replaced_and_deleted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_schema_1_is_upgraded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_a_store_left_open_is_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_damaged_store_left_open_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_schema_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_wal_is_checkpointed_by_its_own_thread, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
