/* store: SQLite (WAL, synchronous=FULL) under the data dir. One thread, "nd-store", owns the
 * database: callers queue operations, the thread runs everything queued in one transaction (group
 * commit, so one fsync covers many messages), then runs the callbacks. A put's callback therefore
 * means "on disk". */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "health.h"
#include "log.h"
#include "nd.h"
#include "stats.h"
#include "store/store.h"
#include "store/store_internal.h"

void store__enqueue(struct store *e, struct op *o)
{
    o->next = NULL;
    pthread_mutex_lock(&e->lock);
    *e->tail = o;
    e->tail = &o->next;
    pthread_cond_signal(&e->cond);
    pthread_mutex_unlock(&e->lock);
}

struct op *store__op_new(enum op_kind kind, const char *user_id)
{
    size_t n = strlen(user_id);
    if (n > ND_USER_ID_MAX)
        return NULL;
    struct op *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->kind = kind;
    memcpy(o->user_id, user_id, n + 1);
    return o;
}

int store_put(struct store *e, const struct stored_msg *m, store_done_fn done, void *arg)
{
    struct op *o = store__op_new(OPK_PUT, m->user_id);
    if (!o)
        return -ENOMEM;
    o->json = malloc(m->len);
    if (!o->json) {
        free(o);
        return -ENOMEM;
    }
    memcpy(o->json, m->json, m->len);
    o->len = m->len;
    o->id = m->id;
    o->expires_at_ms = m->expires_at_ms;
    o->in_feed = m->feed;
    o->done = done;
    o->arg = arg;
    store__enqueue(e, o);
    return 0;
}

int store_load(struct store *s, const char *user_id, store_load_fn fn, void *arg)
{
    struct op *o = store__op_new(OPK_LOAD, user_id);
    if (!o)
        return -ENOMEM;
    o->load = fn;
    o->arg = arg;
    store__enqueue(s, o);
    return 0;
}

int store_backlog(struct store *s, const char *user_id, store_backlog_fn fn, void *arg)
{
    struct op *o = store__op_new(OPK_BACKLOG, user_id);
    if (!o)
        return -ENOMEM;
    o->backlog = fn;
    o->arg = arg;
    store__enqueue(s, o);
    return 0;
}

int store_remove(struct store *s, const char *user_id, uint64_t id)
{
    struct op *o = store__op_new(OPK_REMOVE, user_id);
    if (!o)
        return -ENOMEM;
    o->id = id;
    store__enqueue(s, o);
    return 0;
}

int store_template(struct store *s, const char *id, const char *json, store_done_fn done, void *arg)
{
    struct op *o = store__op_new(OPK_TEMPLATE, id);
    if (!o)
        return -ENOMEM;
    if (json) {
        o->len = strlen(json);
        if (!(o->json = strdup(json))) {
            free(o);
            return -ENOMEM;
        }
    }
    o->done = done;
    o->arg = arg;
    store__enqueue(s, o);
    return 0;
}

/* --- nd-store --- */

int store__step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static int exec_put(struct store *e, struct op *o)
{
    sqlite3_bind_text(e->ins, 1, o->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(e->ins, 2, (sqlite3_int64)o->id);
    sqlite3_bind_int64(e->ins, 3, o->expires_at_ms);
    sqlite3_bind_text(e->ins, 4, o->json, (int)o->len, SQLITE_STATIC);
    if (o->in_feed) /* a new item of the user's feed, state 0, in this row while it waits */
        sqlite3_bind_int(e->ins, 5, 0);
    else
        sqlite3_bind_null(e->ins, 5);
    if (store__step_done(e->ins) < 0)
        return -EIO;
    if (o->in_feed)
        store__feed_changed(e, o->user_id);
    e->delta += sqlite3_changes(e->db); /* a replaced row counts once more until the sweep */
    /* keep only the newest NOTIFYD_OFFLINE_MAX_PER_USER of this user */
    sqlite3_bind_text(e->trim, 1, o->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(e->trim, 2, e->cfg->offline_max_per_user);
    int rc = store__step_done(e->trim);
    e->delta -= sqlite3_changes(e->db);
    return rc;
}

static int exec_load(struct store *e, struct op *o)
{
    sqlite3_bind_text(e->sel, 1, o->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(e->sel, 2, nd_wall_ms());
    int rc;
    while ((rc = sqlite3_step(e->sel)) == SQLITE_ROW) {
        if (o->n_rows == o->cap_rows) {
            size_t cap = o->cap_rows ? o->cap_rows * 2 : 16;
            struct stored_msg *r = realloc(o->rows, cap * sizeof *r);
            if (!r) {
                rc = SQLITE_NOMEM;
                break;
            }
            o->rows = r;
            o->cap_rows = cap;
        }
        struct stored_msg *m = &o->rows[o->n_rows];
        memset(m, 0, sizeof *m);
        memcpy(m->user_id, o->user_id, sizeof m->user_id);
        m->id = (uint64_t)sqlite3_column_int64(e->sel, 0);
        m->expires_at_ms = sqlite3_column_int64(e->sel, 1);
        m->len = (size_t)sqlite3_column_bytes(e->sel, 2);
        char *json = malloc(m->len + 1);
        if (!json) {
            rc = SQLITE_NOMEM;
            break;
        }
        memcpy(json, sqlite3_column_text(e->sel, 2), m->len);
        json[m->len] = 0;
        m->json = json;
        o->n_rows++;
    }
    sqlite3_reset(e->sel);
    sqlite3_clear_bindings(e->sel);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static int exec_backlog(struct store *e, struct op *o)
{
    sqlite3_bind_text(e->cnt, 1, o->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(e->cnt, 2, nd_wall_ms());
    int rc = sqlite3_step(e->cnt);
    if (rc == SQLITE_ROW) {
        o->counted.count = sqlite3_column_int64(e->cnt, 0);
        o->counted.oldest = (uint64_t)sqlite3_column_int64(e->cnt, 1); /* NULL (none): 0 */
        o->counted.newest = (uint64_t)sqlite3_column_int64(e->cnt, 2);
    }
    sqlite3_reset(e->cnt);
    sqlite3_clear_bindings(e->cnt);
    return rc == SQLITE_ROW ? 0 : -EIO;
}

static int exec_remove(struct store *e, struct op *o)
{
    sqlite3_bind_text(e->del, 1, o->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(e->del, 2, (sqlite3_int64)o->id);
    int rc = store__step_done(e->del);
    e->delta -= sqlite3_changes(e->db);
    return rc;
}

static int exec_template(struct store *e, struct op *o)
{
    sqlite3_stmt *st = o->json ? e->tpl_put : e->tpl_del;
    sqlite3_bind_text(st, 1, o->user_id, -1, SQLITE_STATIC);
    if (o->json)
        sqlite3_bind_text(st, 2, o->json, (int)o->len, SQLITE_STATIC);
    return store__step_done(st);
}

static void finish_op(struct store *e, struct op *o, int commit_err)
{
    int err = o->err ? o->err : commit_err;
    const char *why = err ? sqlite3_errmsg(e->db) : NULL;
    if ((o->kind == OPK_PUT || o->kind == OPK_TEMPLATE || o->kind == OPK_FEED_PUT) && o->done)
        o->done(o->arg, err, why);
    else if (o->kind == OPK_FEED)
        store__feed_finish(o, err, e->batch_busy);
    else if (o->kind == OPK_LOAD && o->load)
        o->load(o->arg, o->rows, err ? 0 : o->n_rows, err);
    else if (o->kind == OPK_BACKLOG && o->backlog)
        o->backlog(o->arg, err, &o->counted);
    for (size_t i = 0; i < o->n_rows; i++)
        free((char *)o->rows[i].json);
    free(o->rows);
    free(o->json);
    free(o);
}

/* the offline gauge, exactly: at open, after each sweep and after a failure */
static void count_rows(struct store *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(e->db, "SELECT COUNT(*) FROM offline", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        atomic_store(&e->kept, sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
}

int64_t store_kept(struct store *s)
{
    return s ? atomic_load(&s->kept) : 0;
}

/* runs one batch in one transaction; returns the ops still to run */
static struct op *run_batch(struct store *e, struct op *list)
{
    int n = 0, err = 0, swept = 0;
    struct op *o = list, *last = NULL;
    int64_t started_us = nd_mono_us();

    e->delta = 0;
    if (store__step_done(e->begin) < 0)
        err = -EIO;
    for (; o && n < BATCH_MAX; last = o, o = o->next, n++) {
        if (err)
            continue;
        switch (o->kind) {
        case OPK_PUT: o->err = exec_put(e, o); break;
        case OPK_LOAD: o->err = exec_load(e, o); break;
        case OPK_REMOVE: o->err = exec_remove(e, o); break;
        case OPK_TEMPLATE: o->err = exec_template(e, o); break;
        case OPK_BACKLOG: o->err = exec_backlog(e, o); break;
        case OPK_FEED_PUT:
        case OPK_FEED: o->err = store__feed_exec(e, o); break;
        }
    }
    int64_t now = nd_wall_ms();
    if (!err && now - e->last_sweep_ms >= SWEEP_EVERY_MS) {
        sqlite3_bind_int64(e->sweep, 1, now);
        store__step_done(e->sweep);
        store__feed_sweep(e, now);
        e->last_sweep_ms = now;
        swept = 1;
    }
    if (!err && e->feed_sweep.active)
        store__feed_sweep_step(e);
    if (!err && store__step_done(e->commit) < 0)
        err = -EIO;
    if (!err) { /* the time a put waits for "on disk", fsync included */
        histogram_observe(&nd_stats.store_commit, &histogram_commit, nd_mono_us() - started_us);
        atomic_fetch_add(&e->kept, e->delta);
    }
    if (err) {
        nd_log(ND_LOG_ERROR, "store transaction failed", "{s:s, s:s}", "file", e->path, "error",
               sqlite3_errmsg(e->db));
        sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
        store__feed_forget(e); /* the marks and puts it knew of are undone */
    }
    if (err || swept)
        count_rows(e);
    if (last)
        last->next = NULL;
    pthread_mutex_lock(&e->lock);
    e->batch_busy = n > 1 || e->head || o;
    pthread_mutex_unlock(&e->lock);
    for (struct op *p = list, *next; p; p = next) {
        next = p->next;
        finish_op(e, p, err);
    }
    return o;
}

static void *run(void *arg)
{
    struct store *e = arg;
    pthread_setname_np(pthread_self(), "nd-store");
    for (;;) {
        health_beat(HEALTH_T_STORE);
        pthread_mutex_lock(&e->lock);
        while (!e->head && !e->closing && !e->feed_sweep.active) {
            /* a heartbeat a second; run_batch() sweeps when it is due */
            struct timespec until = nd_wall_deadline(1000);
            if (pthread_cond_timedwait(&e->cond, &e->lock, &until) == ETIMEDOUT)
                break;
        }
        struct op *list = e->head;
        int closing = e->closing;
        e->head = NULL;
        e->tail = &e->head;
        pthread_mutex_unlock(&e->lock);
        if (!list && closing) {
            health_unwatch(HEALTH_T_STORE);
            return NULL;
        }
        if (!list) { /* idle: sweep expired messages when it is time, or go on sweeping */
            if (nd_wall_ms() - e->last_sweep_ms >= SWEEP_EVERY_MS || e->feed_sweep.active)
                run_batch(e, NULL);
            continue;
        }
        while (list)
            list = run_batch(e, list);
    }
}

/* the statements, the database, the lock: once the thread is gone (or never started) */
static void release(struct store *e)
{
    sqlite3_finalize(e->begin);
    sqlite3_finalize(e->commit);
    sqlite3_finalize(e->ins);
    sqlite3_finalize(e->sel);
    sqlite3_finalize(e->del);
    sqlite3_finalize(e->trim);
    sqlite3_finalize(e->sweep);
    sqlite3_finalize(e->tpl_put);
    sqlite3_finalize(e->tpl_del);
    sqlite3_finalize(e->cnt);
    store__feed_release(e);
    store__ckpt_stop(e); /* first: the last connection closed checkpoints and removes the WAL */
    sqlite3_close(e->db);
    pthread_cond_destroy(&e->ckpt_cond);
    pthread_mutex_destroy(&e->ckpt_lock);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

void store_close(struct store *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    e->closing = 1;
    pthread_cond_signal(&e->cond);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    release(e);
}

/* --- opening: schema and sanity checks, with errors that name the file --- */

static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int store__unclean(const char *path)
{
    char wal[4300];
    struct stat st;
    snprintf(wal, sizeof wal, "%s-wal", path);
    return stat(wal, &st) == 0 && st.st_size > 0;
}

static void corrupt(struct store *e, const char *why, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "the store %s is unreadable or corrupt (%s): move it aside to start "
             "empty, or restore it from a backup",
             e->path, why);
}

/* the whole file checked, page by page (seconds on a large store): after an unclean shutdown */
static int check_db(struct store *e, char *err, size_t errlen)
{
    char text[256] = "";
    int64_t started_us = nd_mono_us();
    nd_log(ND_LOG_INFO, "checking the store: the last run did not close it", "{s:s}", "file",
           e->path);
    if (pragma_text(e->db, "PRAGMA quick_check", text, sizeof text) != SQLITE_OK ||
        strcmp(text, "ok") != 0) {
        corrupt(e, text[0] ? text : sqlite3_errmsg(e->db), err, errlen);
        return -EIO;
    }
    nd_log(ND_LOG_INFO, "store checked", "{s:s, s:f}", "file", e->path, "duration_ms",
           (double)(nd_mono_us() - started_us) / 1000.0);
    return 0;
}

static int open_db(struct store *e, char *err, size_t errlen)
{
    char text[256] = "";
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    /* A clean close removes the WAL; one left behind means a crash, kill -9 or power loss: the
     * only time the whole file is checked. Otherwise a file that is not a database still fails
     * below, at its header; damage elsewhere fails the transaction that reads it, logged. */
    int unclean = store__unclean(e->path);
    if (sqlite3_open_v2(e->path, &e->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the store %s: %s", e->path,
                 e->db ? sqlite3_errmsg(e->db) : "out of memory");
        return -EIO;
    }
    sqlite3_busy_timeout(e->db, 5000);
    if (unclean && check_db(e, err, errlen) < 0)
        return -EIO;
    if (pragma_text(e->db, "PRAGMA journal_mode=WAL", text, sizeof text) != SQLITE_OK ||
        strcmp(text, "wal") != 0 ||
        sqlite3_exec(e->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        int code = sqlite3_errcode(e->db);
        if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
            corrupt(e, sqlite3_errmsg(e->db), err, errlen);
        else
            snprintf(err, errlen, "cannot use WAL mode on %s: %s", e->path, sqlite3_errmsg(e->db));
        return -EIO;
    }
    /* Reads: a feed's list, count or mark reads the user's window and a page of bodies, which
     * are spread over the whole file; with SQLite's default 2 MB cache nearly every one was a
     * pread() (the largest part of nd-store's time in bench/feed.py). The b-tree pages are
     * mapped instead (read-only use: writes still go through the WAL and its fsync) and the
     * cache holds the small rows. Both are hints: a build without mmap ignores it. */
    sqlite3_exec(e->db, STORE_READ_PRAGMAS, NULL, NULL, NULL);
    if (pragma_text(e->db, "PRAGMA user_version", text, sizeof text) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read %s: %s", e->path, sqlite3_errmsg(e->db));
        return -EIO;
    }
    int version = atoi(text);
    /* each step brings a store from the version before it to its own */
    static const char *const steps[SCHEMA_VERSION] = {
        "CREATE TABLE IF NOT EXISTS offline ("
        " user_id TEXT NOT NULL, id INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
        " body TEXT NOT NULL, PRIMARY KEY (user_id, id)) WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS offline_expiry ON offline (expires_at);"
        "PRAGMA user_version = 1;",
        "CREATE TABLE IF NOT EXISTS templates (id TEXT PRIMARY KEY, body TEXT NOT NULL);"
        "PRAGMA user_version = 2;",
        store__feed_schema,
        store__feed_schema_4,
        store__feed_schema_5,
    };
    for (; version >= 0 && version < SCHEMA_VERSION; version++) {
        if (sqlite3_exec(e->db, steps[version], NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "cannot create the tables in %s: %s", e->path,
                     sqlite3_errmsg(e->db));
            return -EIO;
        }
    }
    if (version != SCHEMA_VERSION) {
        snprintf(err, errlen, "the store %s has schema version %d; this notifyd reads version %d",
                 e->path, version, SCHEMA_VERSION);
        return -EINVAL;
    }
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } stmts[] = {
        {&e->begin, "BEGIN IMMEDIATE"},
        {&e->commit, "COMMIT"},
        {&e->ins,
         "INSERT OR REPLACE INTO offline (user_id, id, expires_at, body, feed) VALUES (?,?,?,?,?)"},
        {&e->sel, "SELECT id, expires_at, body FROM offline WHERE user_id = ? AND expires_at > ? "
                  "ORDER BY id"},
        {&e->del, "DELETE FROM offline WHERE user_id = ? AND id = ?"},
        {&e->trim, "DELETE FROM offline WHERE user_id = ?1 AND id <= (SELECT id FROM offline "
                   "WHERE user_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)"},
        {&e->sweep, "DELETE FROM offline WHERE expires_at <= ?"},
        {&e->tpl_put, "INSERT OR REPLACE INTO templates (id, body) VALUES (?,?)"},
        {&e->tpl_del, "DELETE FROM templates WHERE id = ?"},
        {&e->cnt, "SELECT COUNT(*), MIN(id), MAX(id) FROM offline WHERE user_id = ? AND "
                  "expires_at > ?"},
    };
    for (size_t i = 0; i < ND_ARRAY_SIZE(stmts); i++) {
        if (sqlite3_prepare_v3(e->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, stmts[i].st,
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "the store %s does not have the expected tables: %s", e->path,
                     sqlite3_errmsg(e->db));
            return -EINVAL;
        }
    }
    return store__feed_prepare(e, err, errlen);
}

static int list_users(struct store *e, store_user_fn users, void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(e->db, "SELECT DISTINCT user_id FROM offline WHERE expires_at > ?", -1,
                           &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read %s: %s", e->path, sqlite3_errmsg(e->db));
        return -EIO;
    }
    sqlite3_bind_int64(st, 1, nd_wall_ms());
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (users)
            users(arg, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "cannot read %s: %s", e->path, sqlite3_errmsg(e->db));
        return -EIO;
    }
    return 0;
}

static int list_templates(struct store *e, store_template_fn fn, void *arg, char *err,
                          size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(e->db, "SELECT id, body FROM templates ORDER BY id", -1, &st, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot read %s: %s", e->path, sqlite3_errmsg(e->db));
        return -EIO;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn)
            fn(arg, (const char *)sqlite3_column_text(st, 0),
               (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "cannot read %s: %s", e->path, sqlite3_errmsg(e->db));
        return -EIO;
    }
    return 0;
}

struct store *store_open(const struct nd_config *cfg, store_user_fn users, void *users_arg,
                         store_template_fn templates, void *templates_arg, char *err, size_t errlen)
{
    struct store *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->cfg = cfg;
    e->tail = &e->head;
    e->last_sweep_ms = 0;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->cond, NULL);
    pthread_mutex_init(&e->ckpt_lock, NULL);
    pthread_cond_init(&e->ckpt_cond, NULL);
    snprintf(e->path, sizeof e->path, "%s/messages.db", cfg->data_dir);
    if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data dir %s: %s", cfg->data_dir, strerror(errno));
        goto fail;
    }
    if (open_db(e, err, errlen) < 0 || list_users(e, users, users_arg, err, errlen) < 0 ||
        list_templates(e, templates, templates_arg, err, errlen) < 0)
        goto fail;
    count_rows(e);
    if (store__ckpt_start(e, err, errlen) < 0)
        goto fail;
    if (pthread_create(&e->thread, NULL, run, e)) {
        snprintf(err, errlen, "cannot start the store thread");
        goto fail;
    }
    return e;
fail:
    release(e);
    return NULL;
}
