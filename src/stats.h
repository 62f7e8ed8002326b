/* stats: process-wide counters (relaxed atomics), bumped from any thread and
 * read by GetStats and the stats routes. */
#ifndef NOTIFYD_STATS_H
#define NOTIFYD_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "histogram.h"
#include "nd.h"

enum stats_outcome {
    OUTCOME_DELIVERED, /* handed to at least one live connection */
    OUTCOME_STORED,    /* kept for a later connect */
    OUTCOME_DROPPED,   /* nobody connected and not kept */
    OUTCOME_COALESCED, /* a queued copy replaced by a newer update (per connection) */
    OUTCOME__COUNT
};

struct nd_stats {
    _Atomic int64_t started_ms; /* unix ms at start */
    _Atomic int64_t messages;   /* notifications accepted */
    _Atomic int64_t deliveries; /* messages queued on a connection */
    _Atomic int64_t connections_opened;
    _Atomic int64_t connections_closed;
    _Atomic int64_t auth_failures;    /* refused tokens, WebSocket and API */
    _Atomic int64_t client_errors;    /* bad messages from WebSocket clients */
    _Atomic int64_t stored;           /* messages put in the store */
    _Atomic int64_t replayed;         /* stored or history messages queued on connect */
    _Atomic int64_t api_rate_limited; /* calls refused by NOTIFYD_API_RATE_LIMIT */
    _Atomic int64_t api_busy;         /* calls refused: NOTIFYD_MAX_PENDING_CALLS were waiting */
    _Atomic int64_t by_op[ND_OPS_MAX][OUTCOME__COUNT]; /* by enum op_id and outcome */
    struct histogram store_commit; /* histogram_commit: the engine making messages durable */
};

extern struct nd_stats nd_stats;

#define STATS_TYPES_MAX 64 /* message types of callers' own (Publish) counted by name */

/**
 * Counts @n messages of @type (a Publish type that is not one of notifyd's)
 * with outcome @o: the first STATS_TYPES_MAX types by name, the rest (and a
 * type named "other") as "other", so /metrics stays bounded. Any thread.
 */
void stats_type_add(const char *type, enum stats_outcome o, int64_t n);

/** Calls @fn for each type counted by name, then for "other". Any thread. */
void stats_types_each(void (*fn)(void *arg, const char *type, const int64_t *by_outcome),
                      void *arg);

static inline void stats_add(_Atomic int64_t *counter, int64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static inline int64_t stats_get(_Atomic int64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

#endif
