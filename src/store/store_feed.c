/* store_feed: the notification feed in SQLite. `feed` holds one small row
 * per item and owner (user_id "" for a broadcast's shared item) with the
 * owner's state; `feed_body` the envelope of each item, once; `feed_state`
 * each user's state of a shared item, when they changed it. A user's window
 * -- the newest NOTIFYD_FEED_MAX_PER_USER of their items and the shared
 * ones, not older than NOTIFYD_FEED_TTL (message ids are times: see
 * msgid.h) -- is read from the small rows only; pages, counts and marks are
 * worked out on it in memory (feed/feed.h), and only a listed page reads
 * bodies. nd-store, inside run_batch()'s transaction. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/store_internal.h"

/* deleting an item's row takes its body, and a shared item's per-user states, with it */
const char store__feed_schema[] =
    "CREATE TABLE IF NOT EXISTS feed (user_id TEXT NOT NULL, id INTEGER NOT NULL,"
    " flags INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS feed_id ON feed (id);"
    "CREATE TABLE IF NOT EXISTS feed_body (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS feed_state (user_id TEXT NOT NULL, id INTEGER NOT NULL,"
    " flags INTEGER NOT NULL, PRIMARY KEY (user_id, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS feed_state_id ON feed_state (id);"
    "CREATE TRIGGER IF NOT EXISTS feed_gone AFTER DELETE ON feed BEGIN"
    " DELETE FROM feed_body WHERE id = old.id;"
    " DELETE FROM feed_state WHERE id = old.id AND old.user_id = '';"
    " END;"
    "PRAGMA user_version = 3;";

/* 4: no index on feed (id). It was there for the minute sweep alone, and every put paid for it
 * twice: the new item's entry, and the trimmed one's, on a page of its own. The sweep now goes
 * through the feed a user at a time, by the primary key. */
const char store__feed_schema_4[] = "BEGIN; DROP INDEX IF EXISTS feed_id; PRAGMA user_version = 4; "
                                    "COMMIT;";

/* 5: a message that waits in `offline` and is an item of the user's feed too is one row: its
 * `feed` column holds the item's state (NULL: not in the feed). A notify call to a user who is
 * away then writes one row on one page, not two rows on two random pages (the stored path's
 * cost, bench/FEED.md). When the row leaves `offline` -- delivered, acked, expired, or past
 * NOTIFYD_OFFLINE_MAX_PER_USER -- the trigger moves the item, state and body, into the feed. A
 * REPLACE of the row (the same id put again) does not fire it: recursive_triggers is off. */
const char store__feed_schema_5[] =
    "BEGIN; ALTER TABLE offline ADD COLUMN feed INTEGER;"
    "CREATE TRIGGER IF NOT EXISTS offline_to_feed BEFORE DELETE ON offline"
    " WHEN old.feed IS NOT NULL BEGIN"
    " INSERT OR REPLACE INTO feed (user_id, id, flags) VALUES (old.user_id, old.id, old.feed);"
    " INSERT OR REPLACE INTO feed_body (id, body) VALUES (old.id, old.body);"
    " END;"
    "PRAGMA user_version = 5; COMMIT;";

struct feed_op {
    struct store_feed_req q; /* user_id points into the op, ids are owned */
    store_feed_fn fn;
    struct store_feed_result r;
};

int store__feed_prepare(struct store *e, char *err, size_t errlen)
{
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } stmts[] = {
        /* ?1 user, ?2 the oldest id still kept (ttl), ?3 the window's size; the third column
         * says where the state is: 0 the feed's row, 1 feed_state (shared), 2 offline */
        {&e->feed.window, "SELECT id, flags, 0 FROM feed WHERE user_id = ?1 AND id > ?2 UNION ALL "
                          "SELECT id, feed, 2 FROM offline WHERE user_id = ?1 AND id > ?2 "
                          "AND feed IS NOT NULL UNION ALL "
                          "SELECT f.id, COALESCE(s.flags, 0), 1 FROM feed f LEFT JOIN feed_state s "
                          "ON s.user_id = ?1 AND s.id = f.id WHERE f.user_id = '' AND f.id > ?2 "
                          "ORDER BY 1 DESC LIMIT ?3"},
        {&e->feed.put, "INSERT OR REPLACE INTO feed (user_id, id, flags) VALUES (?, ?, 0)"},
        {&e->feed.body, "INSERT OR REPLACE INTO feed_body (id, body) VALUES (?, ?)"},
        {&e->feed.trim, "DELETE FROM feed WHERE user_id = ?1 AND id <= (SELECT id FROM feed "
                        "WHERE user_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)"},
        {&e->feed.get_body, "SELECT body FROM feed_body WHERE id = ?"},
        {&e->feed.set_own, "UPDATE feed SET flags = ?3 WHERE user_id = ?1 AND id = ?2"},
        {&e->feed.set_shared,
         "INSERT OR REPLACE INTO feed_state (user_id, id, flags) VALUES (?, ?, ?)"},
        /* the next user and its oldest item */
        {&e->feed.next_user,
         "SELECT user_id, id FROM feed WHERE user_id > ? ORDER BY user_id, id LIMIT 1"},
        {&e->feed.sweep_user, "DELETE FROM feed WHERE user_id = ? AND id <= ?"},
        {&e->feed.own_flags, "SELECT flags FROM feed WHERE user_id = ? AND id = ?"},
        {&e->feed.shared_flags, "SELECT COALESCE((SELECT flags FROM feed_state WHERE user_id = ?1 "
                                "AND id = ?2), 0) FROM feed WHERE user_id = '' AND id = ?2"},
        {&e->feed.waiting_flags,
         "SELECT feed FROM offline WHERE user_id = ? AND id = ? AND feed IS NOT NULL"},
        {&e->feed.set_waiting, "UPDATE offline SET feed = ?3 WHERE user_id = ?1 AND id = ?2"},
        {&e->feed.waiting_body,
         "SELECT body FROM offline WHERE id = ?1 AND user_id = ?2 AND feed IS NOT NULL"},
    };
    for (size_t i = 0; i < ND_ARRAY_SIZE(stmts); i++) {
        if (sqlite3_prepare_v3(e->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, stmts[i].st,
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "the store %s does not have the expected feed tables: %s",
                     e->path, sqlite3_errmsg(e->db));
            return -EINVAL;
        }
    }
    if (!(e->known = calloc(FEED_KNOWN_SLOTS, sizeof *e->known))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

void store__feed_release(struct store *e)
{
    sqlite3_stmt **all[] = {&e->feed.window,      &e->feed.put,          &e->feed.body,
                            &e->feed.trim,        &e->feed.get_body,     &e->feed.set_own,
                            &e->feed.set_shared,  &e->feed.next_user,    &e->feed.sweep_user,
                            &e->feed.own_flags,   &e->feed.shared_flags, &e->feed.waiting_flags,
                            &e->feed.set_waiting, &e->feed.waiting_body};
    for (size_t i = 0; i < ND_ARRAY_SIZE(all); i++) {
        sqlite3_finalize(*all[i]);
        *all[i] = NULL;
    }
    free(e->known);
    e->known = NULL;
}

/* ids at or below this are past NOTIFYD_FEED_TTL */
static uint64_t oldest_kept(const struct store *e, int64_t now_ms)
{
    int64_t t = now_ms - e->cfg->feed_ttl_s * 1000;
    return t > 0 ? (uint64_t)t << 16 : 0;
}

/* --- from any thread --- */

int store_feed_put(struct store *s, const char *user_id, uint64_t id, const char *json, size_t len,
                   store_done_fn done, void *arg)
{
    struct op *o = store__op_new(OPK_FEED_PUT, user_id);
    if (!o)
        return -ENOMEM;
    if (!(o->json = malloc(len))) {
        free(o);
        return -ENOMEM;
    }
    memcpy(o->json, json, len);
    o->len = len;
    o->id = id;
    o->done = done;
    o->arg = arg;
    store__enqueue(s, o);
    return 0;
}

int store_feed(struct store *s, const struct store_feed_req *q, store_feed_fn fn, void *arg)
{
    struct op *o = store__op_new(OPK_FEED, q->user_id);
    struct feed_op *f = o ? calloc(1, sizeof *f) : NULL;
    uint64_t *ids = f && q->n_ids ? malloc(q->n_ids * sizeof *ids) : NULL;
    if (!f || (q->n_ids && !ids)) {
        free(ids);
        free(f);
        free(o);
        return -ENOMEM;
    }
    f->q = *q;
    f->q.user_id = o->user_id;
    if (ids)
        memcpy(ids, q->ids, q->n_ids * sizeof *ids);
    f->q.ids = ids;
    f->fn = fn;
    o->feed = f;
    o->arg = arg;
    store__enqueue(s, o);
    return 0;
}

/* --- nd-store: the windows known --- */

void store__feed_forget(struct store *e)
{
    if (e->n_known)
        memset(e->known, 0, FEED_KNOWN_SLOTS * sizeof *e->known);
    e->n_known = 0;
}

/* @user_id's slot: the one holding it, or (@add) a free one taken for it; NULL otherwise */
static struct feed_known *known_slot(struct store *e, const char *user_id, int add)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = user_id; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    for (size_t i = 0; i < FEED_KNOWN_SLOTS; i++) {
        struct feed_known *k = &e->known[(h + i) & (FEED_KNOWN_SLOTS - 1)];
        if (k->used && strcmp(k->user_id, user_id) == 0)
            return k;
        if (!k->used) {
            if (!add)
                return NULL;
            if (e->n_known >= (size_t)FEED_KNOWN_SLOTS / 4 * 3) { /* full enough: start again */
                store__feed_forget(e);
                return known_slot(e, user_id, 1);
            }
            e->n_known++;
            k->used = 1;
            snprintf(k->user_id, sizeof k->user_id, "%s", user_id);
            return k;
        }
    }
    return NULL;
}

void store__feed_changed(struct store *e, const char *user_id)
{
    struct feed_known *k = known_slot(e, user_id, 0);
    if (k)
        k->valid = 0;
}

/* @user_id's window as known, or NULL: never read, changed since, or an item of it expired */
static struct feed_known *known_window(struct store *e, const char *user_id)
{
    struct feed_known *k = known_slot(e, user_id, 0);
    if (!k || !k->valid)
        return NULL;
    if (k->n && k->oldest <= oldest_kept(e, nd_wall_ms())) {
        k->valid = 0;
        return NULL;
    }
    return k;
}

/* the window @w (@n entries) as just read or changed */
static void know_window(struct store *e, const char *user_id, const struct feed_entry *w, size_t n,
                        const struct feed_counts *c)
{
    struct feed_known *k = known_slot(e, user_id, 1);
    if (!k)
        return;
    k->valid = 1;
    k->n = (int)n;
    k->oldest = n ? w[n - 1].id : 0;
    k->counts = *c;
}

/* where an item's state for @user_id is kept, as read_window() says it (its third column) */
enum kept_in { KEPT_OWN, KEPT_SHARED, KEPT_WAITING };

/* the statement that writes an item's state where it is kept */
static sqlite3_stmt *set_flags(struct store *e, enum kept_in where)
{
    return where == KEPT_SHARED    ? e->feed.set_shared
           : where == KEPT_WAITING ? e->feed.set_waiting
                                   : e->feed.set_own;
}

/* an item's state for @user_id: 1 + where it is kept (enum kept_in) with *flags, 0 none, -EIO */
static int item_flags(struct store *e, const char *user_id, uint64_t id, unsigned *flags)
{
    sqlite3_stmt *sts[] = {e->feed.own_flags, e->feed.shared_flags, e->feed.waiting_flags};
    for (int i = 0; i < 3; i++) {
        sqlite3_stmt *st = sts[i];
        sqlite3_bind_text(st, 1, user_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *flags = (unsigned)sqlite3_column_int(st, 0);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc == SQLITE_ROW)
            return i + 1;
        if (rc != SQLITE_DONE)
            return -EIO;
    }
    return 0;
}

/* a mark by ids on a known window: each item looked up by its key, the counts kept up; every
 * item with an id at or above the window's oldest is in it (the window is the newest ones) */
static int mark_known(struct store *e, struct feed_op *f, struct feed_known *k)
{
    int updated = 0;
    for (size_t i = 0; k->n && i < f->q.n_ids; i++) {
        uint64_t id = f->q.ids[i];
        unsigned from = 0;
        if (id < k->oldest)
            continue;
        int found = item_flags(e, f->q.user_id, id, &from);
        if (found < 0)
            return found;
        unsigned to = feed_apply(from, f->q.action);
        if (!found || to == from)
            continue; /* a repeated id finds the state just written */
        sqlite3_stmt *st = set_flags(e, (enum kept_in)(found - 1));
        sqlite3_bind_text(st, 1, f->q.user_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
        sqlite3_bind_int(st, 3, (int)to);
        if (store__step_done(st) < 0)
            return -EIO;
        feed_count_item(&k->counts, from, -1);
        feed_count_item(&k->counts, to, 1);
        updated++;
    }
    f->r.updated = updated;
    f->r.counts = k->counts;
    return 0;
}

/* --- nd-store: the operations --- */

static int exec_put(struct store *e, struct op *o)
{
    struct feed_stmts *st = &e->feed;
    /* the owner's window changes: a shared item's, everyone's */
    if (!o->user_id[0])
        store__feed_forget(e);
    struct feed_known *k = known_slot(e, o->user_id, 1);
    if (k)
        k->valid = 0;
    sqlite3_bind_text(st->put, 1, o->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->put, 2, (sqlite3_int64)o->id);
    sqlite3_bind_int64(st->body, 1, (sqlite3_int64)o->id);
    sqlite3_bind_text(st->body, 2, o->json, (int)o->len, SQLITE_STATIC);
    if (store__step_done(st->put) < 0 || store__step_done(st->body) < 0)
        return -EIO;
    /* The owner's newest NOTIFYD_FEED_MAX_PER_USER, at every FEED_TRIM_EVERY-th put: finding
     * the bound walks the user's items, the largest part of a put. Up to FEED_TRIM_EVERY - 1
     * older items may wait on disk for the next trim; a window never shows them (it is the
     * newest NOTIFYD_FEED_MAX_PER_USER of the user's own and the shared items, and they are
     * older than that many of the user's own). A user not known is trimmed at once. */
    if (k && k->trimmed && ++k->untrimmed < FEED_TRIM_EVERY)
        return 0;
    sqlite3_bind_text(st->trim, 1, o->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->trim, 2, e->cfg->feed_max_per_user);
    if (store__step_done(st->trim) < 0)
        return -EIO;
    if (k) {
        k->trimmed = 1;
        k->untrimmed = 0;
    }
    return 0;
}

/* enough of the window for @q's page: once a list has its page and one more item (which says
 * there is a next page, feed_page()), the older entries cannot change the answer */
static int page_complete(const struct store_feed_req *q, const struct feed_entry *w, size_t n,
                         int *matched)
{
    const struct feed_entry *x = &w[n - 1];
    if ((!q->before || x->id < q->before) && feed_matches(x->flags, q->filter))
        ++*matched;
    return *matched > q->limit;
}

/* @q->user_id's window, newest first, into *out (caller frees): its length, or -EIO/-ENOMEM.
 * The window's parts are each read in id order and merged (no sort), so a list reads only as
 * far as its page (*whole 0: a 20-item page of a 200-item window reads ~21 rows, not 200);
 * counts and marks read the whole window (*whole 1). */
static int read_window(struct store *e, const struct store_feed_req *q, struct feed_entry **out,
                       int *whole)
{
    sqlite3_stmt *st = e->feed.window;
    size_t max = (size_t)e->cfg->feed_max_per_user, n = 0;
    int matched = 0, stop = 0;
    struct feed_entry *w = calloc(max ? max : 1, sizeof *w);
    if (!w)
        return -ENOMEM;
    sqlite3_bind_text(st, 1, q->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)oldest_kept(e, nd_wall_ms()));
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
    int rc = SQLITE_DONE;
    while (!stop && n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        w[n].id = (uint64_t)sqlite3_column_int64(st, 0);
        w[n].flags = (unsigned)sqlite3_column_int(st, 1);
        w[n].kept = (unsigned)sqlite3_column_int(st, 2); /* enum kept_in */
        n++;
        stop = q->kind == STORE_FEED_LIST && page_complete(q, w, n, &matched);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (!stop && n < max && rc != SQLITE_DONE) {
        free(w);
        return -EIO;
    }
    *whole = !stop;
    *out = w;
    return (int)n;
}

/* the page's envelopes */
static int list(struct store *e, struct feed_op *f, const struct feed_entry *w, size_t n)
{
    size_t *page = malloc((size_t)f->q.limit * sizeof *page);
    if (!page)
        return -ENOMEM;
    size_t got = feed_page(w, n, f->q.before, f->q.filter, f->q.limit, page, &f->r.next_before);
    int rc = 0;
    f->r.items = got ? calloc(got, sizeof *f->r.items) : NULL;
    if (got && !f->r.items)
        rc = -ENOMEM;
    for (size_t i = 0; !rc && i < got; i++) {
        const struct feed_entry *x = &w[page[i]];
        sqlite3_stmt *st = x->kept == KEPT_WAITING ? e->feed.waiting_body : e->feed.get_body;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)x->id);
        if (x->kept == KEPT_WAITING)
            sqlite3_bind_text(st, 2, f->q.user_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) { /* a body is never missing; skip one if it is */
            size_t len = (size_t)sqlite3_column_bytes(st, 0);
            struct feed_item *it = &f->r.items[f->r.n_items];
            if (!(it->json = malloc(len + 1))) {
                rc = -ENOMEM;
            } else {
                memcpy(it->json, sqlite3_column_text(st, 0), len);
                it->json[len] = 0;
                it->len = len;
                it->id = x->id;
                it->flags = x->flags;
                f->r.n_items++;
            }
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    free(page);
    return rc;
}

/* the changed entries written back: a user's own item in its row, a shared one apart */
static int mark(struct store *e, struct feed_op *f, struct feed_entry *w, size_t n)
{
    int updated = feed_mark(w, n, f->q.ids, f->q.n_ids, f->q.all, f->q.action);
    if (updated < 0)
        return updated;
    for (size_t i = 0; i < n; i++) {
        if (!w[i].changed)
            continue;
        sqlite3_stmt *st = set_flags(e, (enum kept_in)w[i].kept);
        sqlite3_bind_text(st, 1, f->q.user_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)w[i].id);
        sqlite3_bind_int(st, 3, (int)w[i].flags);
        if (store__step_done(st) < 0)
            return -EIO;
    }
    f->r.updated = updated;
    return 0;
}

static int exec_feed(struct store *e, struct feed_op *f)
{
    /* counts, and marks by ids, need not read a window nd-store knows */
    struct feed_known *k = f->q.kind != STORE_FEED_LIST ? known_window(e, f->q.user_id) : NULL;
    if (k && f->q.kind == STORE_FEED_COUNTS) {
        f->r.counts = k->counts;
        return 0;
    }
    if (k && !f->q.all)
        return mark_known(e, f, k);
    struct feed_entry *w = NULL;
    int whole = 0, n = read_window(e, &f->q, &w, &whole), rc = 0;
    if (n < 0)
        return n;
    if (f->q.kind == STORE_FEED_LIST)
        rc = list(e, f, w, (size_t)n);
    else if (f->q.kind == STORE_FEED_MARK)
        rc = mark(e, f, w, (size_t)n);
    if (whole) { /* a list's page alone says nothing of the counts */
        feed_count(w, (size_t)n, &f->r.counts);
        if (!rc)
            know_window(e, f->q.user_id, w, (size_t)n, &f->r.counts);
    }
    free(w);
    return rc;
}

int store__feed_exec(struct store *e, struct op *o)
{
    if (o->kind == OPK_FEED_PUT)
        return exec_put(e, o);
    int rc = exec_feed(e, o->feed);
    if (rc < 0) { /* part of a mark may be written: read the window next time */
        struct feed_known *k = known_slot(e, o->user_id, 0);
        if (k)
            k->valid = 0;
    }
    return rc == -ENOMEM ? -ENOMEM : rc < 0 ? -EIO : 0;
}

void store__feed_sweep(struct store *e, int64_t now_ms)
{
    struct feed_sweep *w = &e->feed_sweep;
    w->active = 1;
    w->started = 0;
    w->cutoff = oldest_kept(e, now_ms);
    w->cursor[0] = 0;
}

static int sweep_user(struct store *e, const char *user_id)
{
    sqlite3_stmt *st = e->feed.sweep_user;
    sqlite3_bind_text(st, 1, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)e->feed_sweep.cutoff);
    return store__step_done(st);
}

void store__feed_sweep_step(struct store *e)
{
    struct feed_sweep *w = &e->feed_sweep;
    sqlite3_stmt *st = e->feed.next_user;
    int rc = 0;
    if (!w->started) { /* "" sorts first: the shared items */
        rc = sweep_user(e, "");
        w->started = 1;
    }
    /* each user's oldest item says whether it has any past the TTL: only those are deleted */
    for (int n = 0, deleted = 0; !rc && n < FEED_SWEEP_LOOK && deleted < FEED_SWEEP_USERS; n++) {
        char user[ND_USER_ID_MAX + 1];
        uint64_t oldest = 0;
        sqlite3_bind_text(st, 1, w->cursor, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            snprintf(user, sizeof user, "%s", (const char *)sqlite3_column_text(st, 0));
            oldest = (uint64_t)sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (step != SQLITE_ROW) { /* the last user was swept (or the read failed: next pass) */
            rc = step == SQLITE_DONE ? 0 : -EIO;
            w->active = 0;
            break;
        }
        memcpy(w->cursor, user, sizeof user);
        if (oldest <= w->cutoff) {
            rc = sweep_user(e, user);
            deleted++;
        }
    }
    if (rc < 0) {
        nd_log(ND_LOG_WARN, "could not delete expired feed items", "{s:s}", "file", e->path);
        w->active = 0;
    }
}

void store__feed_finish(struct op *o, int err, int busy)
{
    struct feed_op *f = o->feed;
    if (!f)
        return;
    f->r.busy = busy;
    if (err) {
        feed_items_free(f->r.items, f->r.n_items);
        f->r.items = NULL;
    }
    if (f->fn)
        f->fn(o->arg, err, err ? NULL : &f->r);
    else
        feed_items_free(f->r.items, f->r.n_items);
    free((void *)f->q.ids);
    free(f);
    o->feed = NULL;
}
