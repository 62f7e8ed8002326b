/* store_checkpoint: copies the WAL back into messages.db on a thread of its own, "nd-ckpt", with
 * its own connection, so a commit on nd-store never waits for it. Left to SQLite, the commit that
 * takes the WAL past 1,000 pages runs the checkpoint itself -- a thousand scattered writes and an
 * fsync of the database, tens of ms in which nothing queued is answered. Durability does not
 * depend on it: a commit is durable once its WAL frames are synced (synchronous=FULL). */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>

#include "fault.h"
#include "health.h"
#include "log.h"
#include "nd.h"
#include "store/store_internal.h"

/* the WAL pages nd-ckpt had copied when it last ran; 0 when the WAL started over since */
static int copied_before(struct store *e, int frames)
{
    pthread_mutex_lock(&e->ckpt_lock);
    int copied = e->ckpt_copied;
    pthread_mutex_unlock(&e->ckpt_lock);
    return copied > frames ? 0 : copied;
}

/* nd-store, after each commit: @frames pages are in the WAL (SQLite's wal hook) */
static int committed(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct store *e = arg;
    /* The WAL starts over only at a write that finds all of it copied; under a steady stream of
     * commits nd-ckpt is always a few behind, and the file would grow. Past CKPT_HARD_FRAMES
     * nd-store copies the rest itself (little: nd-ckpt copied the most), so the next write
     * starts it over. BUSY while nd-ckpt runs one: the next commit tries again. */
    if (frames >= CKPT_HARD_FRAMES) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (frames >= CKPT_FRAMES && frames - copied_before(e, frames) >= CKPT_FRAMES) {
        /* 1,000 pages more than nd-ckpt last copied (0 once the WAL started over): each
         * checkpoint syncs the database file, and one a commit costs more than SQLite inline */
        pthread_mutex_lock(&e->ckpt_lock);
        e->ckpt_due = 1;
        pthread_cond_signal(&e->ckpt_cond);
        pthread_mutex_unlock(&e->ckpt_lock);
    }
    return SQLITE_OK;
}

static void *run(void *arg)
{
    struct store *e = arg;
    pthread_setname_np(pthread_self(), "nd-ckpt");
    pthread_mutex_lock(&e->ckpt_lock);
    for (;;) {
        /* a heartbeat a second for the watchdog; a checkpoint stuck past NOTIFYD_WATCHDOG_MS
         * (a disk that does not answer its fsync) is logged, and a stop names it */
        pthread_mutex_unlock(&e->ckpt_lock);
        health_beat(HEALTH_T_CKPT);
        fault_point(FAULT_STALL_CKPT);
        pthread_mutex_lock(&e->ckpt_lock);
        while (!e->ckpt_due && !e->ckpt_closing) {
            struct timespec until = nd_wall_deadline(1000);
            if (pthread_cond_timedwait(&e->ckpt_cond, &e->ckpt_lock, &until) == ETIMEDOUT)
                break;
        }
        if (e->ckpt_closing)
            break;
        if (!e->ckpt_due)
            continue;
        e->ckpt_due = 0;
        pthread_mutex_unlock(&e->ckpt_lock);
        /* PASSIVE: copies what no reader still needs and never blocks nd-store's writes; the
         * WAL starts over at the first write after a checkpoint that copied all of it */
        int copied = 0;
        int rc =
            sqlite3_wal_checkpoint_v2(e->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, &copied);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            nd_log(ND_LOG_WARN, "store checkpoint failed", "{s:s, s:s}", "file", e->path, "error",
                   sqlite3_errmsg(e->ckpt_db));
        pthread_mutex_lock(&e->ckpt_lock);
        e->ckpt_copied = copied > 0 ? copied : 0;
    }
    pthread_mutex_unlock(&e->ckpt_lock);
    health_unwatch(HEALTH_T_CKPT);
    return NULL;
}

int store__ckpt_start(struct store *e, char *err, size_t errlen)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    /* the connection reads once so that it has the WAL open before its first checkpoint */
    if (sqlite3_open_v2(e->path, &e->ckpt_db, flags, NULL) != SQLITE_OK ||
        sqlite3_exec(e->ckpt_db, "PRAGMA synchronous=FULL; SELECT COUNT(*) FROM sqlite_master",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the store %s for checkpoints: %s", e->path,
                 e->ckpt_db ? sqlite3_errmsg(e->ckpt_db) : "out of memory");
        return -EIO;
    }
    sqlite3_busy_timeout(e->ckpt_db, 5000);
    if (pthread_create(&e->ckpt_thread, NULL, run, e)) {
        snprintf(err, errlen, "cannot start the store's checkpoint thread");
        return -EAGAIN;
    }
    e->ckpt_started = 1;
    /* from now on nd-store's commits leave the checkpoints to nd-ckpt */
    sqlite3_wal_hook(e->db, committed, e);
    return 0;
}

void store__ckpt_stop(struct store *e)
{
    if (e->ckpt_started) {
        pthread_mutex_lock(&e->ckpt_lock);
        e->ckpt_closing = 1;
        pthread_cond_signal(&e->ckpt_cond);
        pthread_mutex_unlock(&e->ckpt_lock);
        pthread_join(e->ckpt_thread, NULL);
        e->ckpt_started = 0;
    }
    if (e->db)
        sqlite3_wal_hook(e->db, NULL, NULL);
    sqlite3_close(e->ckpt_db); /* NULL: no-op */
    e->ckpt_db = NULL;
}
