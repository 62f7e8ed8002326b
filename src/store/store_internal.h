/* store internals, shared by store.c (the queue, nd-store, the offline
 * messages and templates, opening) and store_feed.c (the notification
 * feed's tables). Not for other modules: they use store/store.h. */
#ifndef NOTIFYD_STORE_STORE_INTERNAL_H
#define NOTIFYD_STORE_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "store/store.h"

/* 1: offline; 2: + templates; 3: + the feed; 4: - feed_id; 5: + offline.feed (a waiting
 * message's feed item, moved to the feed by a trigger when the message leaves the queue) */
#define SCHEMA_VERSION 5
#define BATCH_MAX 4096         /* operations per transaction */
#define SWEEP_EVERY_MS 60000   /* how often expired messages and feed items are deleted */
#define FEED_KNOWN_SLOTS 32768 /* users nd-store knows feed facts of (power of 2) */
#define FEED_TRIM_EVERY 16     /* a user's own feed items are trimmed at every 16th put */
/* users' expired feed items deleted per transaction: every call queued meanwhile waits for the
 * step. 512 took 12-40 ms on a 10,000-user store (bench/FEED.md); 32 take about 1-2 ms */
#define FEED_SWEEP_USERS 32
/* users looked at per transaction: a user whose oldest item is not past the TTL costs one index
 * probe (a few us) and no DELETE (a DELETE with the feed's trigger costs ~100 us even when it
 * deletes nothing, which made a pass over 10,000 users hold nd-store for ~1 s, bench/FEED.md) */
#define FEED_SWEEP_LOOK 128
#define CKPT_FRAMES 1000      /* WAL pages that wake nd-ckpt (SQLite's own threshold) */
#define CKPT_HARD_FRAMES 8192 /* ... and past which (32 MiB) nd-store checkpoints itself */
/* Reads: the file mapped (up to 1 GiB); pages of it are read from the map, not the cache. The
 * page cache holds the rest (pages whose newest copy is in the WAL, pages being written): 4 MiB
 * (SQLite's default: 2 MiB). It is kept small on purpose: a b-tree balance parks a page at the
 * number of the 1 GiB lock page (SQLite 3.40), and the next commit then walks the cache's whole
 * hash table; with 32 MiB that was ~13% of nd-store's time when notifications went to the feed
 * (bench/FEED.md). A transaction's dirty pages stay in memory past that until its commit
 * (cache_spill off; a batch is at most BATCH_MAX operations): spilled to the WAL early, a page
 * written again in the same transaction is written twice (a 4,000-put batch: +21%). */
#define STORE_READ_PRAGMAS                                                                         \
    "PRAGMA mmap_size=1073741824; PRAGMA cache_size=-4096; PRAGMA cache_spill=OFF;"

enum op_kind { OPK_PUT, OPK_LOAD, OPK_REMOVE, OPK_TEMPLATE, OPK_BACKLOG, OPK_FEED_PUT, OPK_FEED };

struct feed_op; /* store_feed.c */

struct op {
    struct op *next;
    enum op_kind kind;
    char user_id[ND_USER_ID_MAX + 1]; /* TEMPLATE: the template's id; FEED_PUT: "" a broadcast */
    uint64_t id;
    int64_t expires_at_ms;
    int in_feed; /* PUT: also the user's feed item (stored_msg.feed) */
    char *json;  /* PUT, TEMPLATE, FEED_PUT: owned copy (TEMPLATE: NULL = delete) */
    size_t len;
    store_done_fn done;
    store_load_fn load;
    store_backlog_fn backlog;
    void *arg;
    struct feed_op *feed; /* FEED: the request and its result, owned */
    /* results */
    int err;
    struct store_backlog counted; /* BACKLOG */
    struct stored_msg *rows;      /* LOAD: json owned */
    size_t n_rows, cap_rows;
};

/* the feed's prepared statements (store_feed.c) */
struct feed_stmts {
    sqlite3_stmt *window, *put, *body, *trim, *get_body, *set_own, *set_shared;
    sqlite3_stmt *next_user, *sweep_user;   /* the sweep, a user at a time */
    sqlite3_stmt *own_flags, *shared_flags; /* one item's state, for a mark by ids */
    sqlite3_stmt *waiting_flags, *set_waiting, *waiting_body; /* ... of a waiting message's item */
};

/* What nd-store knows of a user's window since it last read it: enough to mark items by id and
 * answer with the counts without reading the window again; and how many of their items were put
 * since the last trim (store_feed.c). Forgetting it is always safe: it is read again, trimmed
 * at the next put. */
struct feed_known {
    char user_id[ND_USER_ID_MAX + 1];
    int used;                  /* the slot holds a user */
    int valid;                 /* ... whose window is as below (0: read it again) */
    int n;                     /* entries in the window */
    uint64_t oldest;           /* the oldest one's id (n > 0) */
    struct feed_counts counts; /* the window's */
    int trimmed;               /* the user's own items were trimmed to the bound since known */
    int untrimmed;             /* ... and puts since then (< FEED_TRIM_EVERY) */
};

/* a pass of the feed's sweep, spread over transactions (nd-store) */
struct feed_sweep {
    int active;                      /* a pass is under way */
    int started;                     /* ... and swept "" (the shared items) */
    uint64_t cutoff;                 /* ids at or below it are past the TTL */
    char cursor[ND_USER_ID_MAX + 1]; /* the last user swept */
};

struct store {
    const struct nd_config *cfg;
    char path[4200];
    sqlite3 *db;
    sqlite3_stmt *ins, *sel, *del, *trim, *sweep, *tpl_put, *tpl_del, *cnt;
    sqlite3_stmt *begin, *commit; /* nd-store: its transactions (BEGIN IMMEDIATE, COMMIT) */
    struct feed_stmts feed;
    struct feed_sweep feed_sweep; /* nd-store */
    int batch_busy;               /* nd-store: the batch being finished is not alone */
    struct feed_known *known;     /* nd-store: FEED_KNOWN_SLOTS, by user (open addressing) */
    size_t n_known;               /* nd-store: slots used */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct op *head;  /* {lock} */
    struct op **tail; /* {lock} */
    int closing;      /* {lock} */
    int64_t last_sweep_ms;
    int64_t delta;        /* nd-store: rows added less rows removed in this transaction */
    _Atomic int64_t kept; /* rows in offline: counted at open and each sweep, kept up between */
    /* the checkpointer (store_checkpoint.c) */
    sqlite3 *ckpt_db;           /* nd-ckpt's own connection */
    pthread_t ckpt_thread;      /* nd-ckpt */
    int ckpt_started;           /* opening and closing only */
    pthread_mutex_t ckpt_lock;  /* serializes the three fields below */
    pthread_cond_t ckpt_cond;   /* {ckpt_lock} signalled when one changes */
    int ckpt_due, ckpt_closing; /* {ckpt_lock} */
    int ckpt_copied;            /* {ckpt_lock} WAL pages copied by nd-ckpt's last checkpoint */
};

/** A new operation for @user_id (copied; NULL when too long or ENOMEM). Any thread. */
struct op *store__op_new(enum op_kind kind, const char *user_id);

/** Hands @o to nd-store. Any thread. */
void store__enqueue(struct store *e, struct op *o);

/** 1 when the store at @path was not closed by the last run (its WAL is left, not empty): a
 * crash, kill -9 or power loss. Opening. */
int store__unclean(const char *path);

/** Steps @st once and resets it: 0 when done, -EIO otherwise. nd-store. */
int store__step_done(sqlite3_stmt *st);

/** @user_id's feed has a new item outside store_feed.c (a waiting message's): what nd-store
 * knew of its window is stale. nd-store. */
void store__feed_changed(struct store *e, const char *user_id);

/** The feed's schema steps (from version 2 to 3, 3 to 4 and 4 to 5). */
extern const char store__feed_schema[], store__feed_schema_4[], store__feed_schema_5[];

/** Prepares the feed's statements: 0, or -EINVAL with a reason in @err. Opening. */
int store__feed_prepare(struct store *e, char *err, size_t errlen);

/** Finalizes them. */
void store__feed_release(struct store *e);

/** Opens nd-ckpt's connection and starts it; nd-store's commits wake it. 0, or -errno with a
 * reason in @err. Opening, after the schema is in place. */
int store__ckpt_start(struct store *e, char *err, size_t errlen);

/** Stops nd-ckpt (once nd-store is gone) and closes its connection. Started or not. */
void store__ckpt_stop(struct store *e);

/** Runs a FEED_PUT or FEED operation in the open transaction: 0 or -EIO. nd-store. */
int store__feed_exec(struct store *e, struct op *o);

/** Forgets every window known (a transaction rolled back). nd-store. */
void store__feed_forget(struct store *e);

/** Starts a pass deleting feed items older than NOTIFYD_FEED_TTL. nd-store. */
void store__feed_sweep(struct store *e, int64_t now_ms);

/** Runs the pass on FEED_SWEEP_USERS more users; it ends at the last. nd-store, in a
 * transaction. */
void store__feed_sweep_step(struct store *e);

/** Answers a FEED operation (@err: 0 or -errno; @busy: see store_feed_result) and frees what it
 *  holds. nd-store. */
void store__feed_finish(struct op *o, int err, int busy);

#endif
