/* backend internals: the part every engine embeds first, and the helpers the
 * engines share (backend.c: calls and answers; local.c: this instance
 * alone). For the engines and their test doubles; others use backend.h. */
#ifndef NOTIFYD_BACKEND_BACKEND_INTERNAL_H
#define NOTIFYD_BACKEND_BACKEND_INTERNAL_H

#include <jansson.h>

#include "backend/backend.h"

struct history;

struct backend {
    const struct backend_ops *ops;
    const struct nd_config *cfg;
    struct templates *templates; /* borrowed; the engine keeps it current */
    struct backend_local local;  /* set by backend_attach() */
    /* the local path's options (local.c): the embedded engine's history and store */
    struct history *history; /* remembers what is delivered here, or NULL */
    /** Keeps @d for c->d's user, then backend__copy_kept(@c, ...); with @feed it is the user's
     *  feed item too, kept with it (one write), then also backend__feed_kept(@c, ...). 0 or
     *  -errno (neither runs). Local thread. */
    int (*keep)(struct backend *b, struct backend_copy *c, struct delivery *d, int feed);
    /** Keeps @d in its user's feed (a broadcast: shared), then backend__feed_kept(@c, ...). 0 or
     *  -errno; NULL: no feed here (Redis unreachable). Local thread. */
    int (*keep_feed)(struct backend *b, struct backend_copy *c, struct delivery *d);
};

/* --- answers (backend.c) --- */

/** Records the first failure of @r: err and, when first, its why (printf-style). Any thread. */
void backend__fail(struct backend_req *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Runs @r's done now (on the local thread) or posts it there (from any other). */
void backend__answer(struct backend_req *r, int on_local);

/** One part of @p is settled; the last one answers. @on_local: called on the local thread. */
void backend__part_done(struct backend_publish *p, int on_local);

/** Queries: runs done, then frees q->users (one block, or the array of borrowed ids). */
void backend__query_answer(struct backend_query *q);

/* --- this instance alone (local.c) --- */

/** Stamps ids from the local inbox, remembers (history), fans out, keeps (keep). Any thread. */
void backend__local_publish(struct backend *b, struct backend_publish *p);

/** Stats and online from this instance's connections. Any thread. */
void backend__local_stats(struct backend *b, struct backend_query *q);
void backend__local_online(struct backend *b, struct backend_query *q);

/** Closes d->user_id's connections here, then answers. Any thread. */
void backend__local_disconnect(struct backend *b, struct backend_disconnect *d);

/** A kept copy is durable (err 0) or failed (-errno, @why); from the keeper's thread. */
void backend__copy_kept(struct backend_copy *c, int err, const char *why);

/** A copy's feed item is durable (err 0) or failed (-errno, @why); from the keeper's thread. */
void backend__feed_kept(struct backend_copy *c, int err, const char *why);

/** The `feed_update` envelope for f->user_id: {"ids":[...]|"all":true, "action":...,
 *  "counts":{...}} (a new reference; NULL on ENOMEM). Any thread. */
struct delivery *backend__feed_update_envelope(const struct backend_feed *f);

/** Tells this instance's connections of f->user_id what @f changed (`feed_update`, with
 *  f->counts). Local thread. */
void backend__feed_updated(struct backend *b, const struct backend_feed *f);

#endif
