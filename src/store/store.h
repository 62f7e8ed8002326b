/* store: the embedded engine's durable part (backend/embedded.c) -- messages
 * owed to users (offline, or waiting for an ack) and the message templates,
 * in SQLite under the data dir. Calls may come from any thread; one thread,
 * nd-store, runs them and their callbacks, so callers hand results back to
 * their own thread. */
#ifndef NOTIFYD_STORE_STORE_H
#define NOTIFYD_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "feed/feed.h"
#include "nd.h"

struct stored_msg {
    uint64_t id;                      /* message id */
    char user_id[ND_USER_ID_MAX + 1]; /* addressee */
    int64_t expires_at_ms;            /* unix ms; gone after this */
    const char *json;                 /* the envelope as sent */
    size_t len;
    /* also an item of the user's feed (put: store_put; load: unused). While the message waits
     * its feed item is this row, with the item's state; when the message leaves the queue
     * (delivered, acked, expired or dropped past the bound) the item moves to the feed. One
     * row written for both on the notify path, instead of one in each. */
    int feed;
};

/** A put is durable (err == 0) or failed (-errno, message in @why). Store's thread. */
typedef void (*store_done_fn)(void *arg, int err, const char *why);

/** A user's live messages in id order, borrowed for the call (err: see done). Store's thread. */
typedef void (*store_load_fn)(void *arg, const struct stored_msg *msgs, size_t n, int err);

/** Users who had messages at open, one call per user, before store_open returns. */
typedef void (*store_user_fn)(void *arg, const char *user_id);

/** What is kept for one user and not expired: how many, the oldest and newest ids (0: none). */
struct store_backlog {
    int64_t count;
    uint64_t oldest, newest;
};

/** A user's backlog (err: -EIO when it could not be read). Store's thread. */
typedef void (*store_backlog_fn)(void *arg, int err, const struct store_backlog *b);

/** The message templates kept, one call each (@json: len bytes), before store_open returns. */
typedef void (*store_template_fn)(void *arg, const char *id, const char *json, size_t len);

struct store;

/**
 * Opens the store in cfg->data_dir (messages.db), checking it is a readable
 * notifyd store, and starts nd-store; @users (may be NULL) is called for
 * each user who has messages, @templates (may be NULL) for each template.
 * NULL with a one-line reason naming the file in @err.
 */
struct store *store_open(const struct nd_config *cfg, store_user_fn users, void *users_arg,
                         store_template_fn templates, void *templates_arg, char *err,
                         size_t errlen);

/** Makes @m durable, then calls @done. 0, or -errno when not queued (done never runs). */
int store_put(struct store *s, const struct stored_msg *m, store_done_fn done, void *arg);

/** Loads @user_id's unexpired messages, oldest first, then calls @fn. 0 or -errno. */
int store_load(struct store *s, const char *user_id, store_load_fn fn, void *arg);

/** Counts @user_id's unexpired messages, then calls @fn. 0 or -errno. */
int store_backlog(struct store *s, const char *user_id, store_backlog_fn fn, void *arg);

/** Forgets message @id of @user_id (idempotent). 0 or -errno. */
int store_remove(struct store *s, const char *user_id, uint64_t id);

/**
 * Keeps template @id as @json (NUL-terminated), or forgets it when @json is
 * NULL; @done runs once that is durable. 0, or -errno (done never runs).
 */
int store_template(struct store *s, const char *id, const char *json, store_done_fn done,
                   void *arg);

/* --- the notification feed (SPEC §7d): items by user ("" a broadcast's, shared) --- */

/**
 * Keeps @json (@len bytes: the envelope as delivered) as item @id of
 * @user_id's feed ("" for a broadcast: in every user's feed), dropping the
 * user's oldest past NOTIFYD_FEED_MAX_PER_USER; @done runs once it is
 * durable. 0, or -errno (done never runs).
 */
int store_feed_put(struct store *s, const char *user_id, uint64_t id, const char *json, size_t len,
                   store_done_fn done, void *arg);

enum store_feed_kind { STORE_FEED_LIST, STORE_FEED_COUNTS, STORE_FEED_MARK };

/** A read or change of one user's feed. */
struct store_feed_req {
    enum store_feed_kind kind;
    const char *user_id; /* copied */
    /* LIST */
    uint64_t before; /* items older than this id; 0: from the newest */
    int limit;
    enum feed_filter filter;
    /* MARK */
    const uint64_t *ids; /* n_ids, copied */
    size_t n_ids;
    int all;
    enum feed_action action;
};

struct store_feed_result {
    struct feed_item *items; /* LIST: the page, newest first; the callback takes them */
    size_t n_items;
    uint64_t next_before;      /* LIST: the next page's cursor, 0 at the end */
    struct feed_counts counts; /* COUNTS, MARK: after the change */
    int updated;               /* MARK: items whose state changed */
    int busy; /* nd-store has more to do (other operations of this transaction, or queued
                 since): work on the answer is better done on another thread */
};

/** A feed request ran (err 0) or failed (-errno; @r NULL). Store's thread. */
typedef void (*store_feed_fn)(void *arg, int err, struct store_feed_result *r);

/** Runs @q (a change is durable before @fn runs). 0, or -errno (fn never runs). */
int store_feed(struct store *s, const struct store_feed_req *q, store_feed_fn fn, void *arg);

/** Messages kept (offline, or awaiting an ack; expired ones until the next sweep). Any thread. */
int64_t store_kept(struct store *s);

/** Finishes every queued operation (running its callback), then frees the store. NULL: no-op. */
void store_close(struct store *s);

#endif
