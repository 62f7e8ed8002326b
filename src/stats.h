/* stats: process-wide counters (relaxed atomics), bumped from any thread and
 * read by GetStats and the stats routes. */
#ifndef NOTIFYD_STATS_H
#define NOTIFYD_STATS_H

#include <stdatomic.h>
#include <stdint.h>

struct nd_stats {
    _Atomic int64_t started_ms; /* unix ms at start */
    _Atomic int64_t messages;   /* notifications accepted */
    _Atomic int64_t deliveries; /* messages queued on a connection */
    _Atomic int64_t connections_opened;
    _Atomic int64_t connections_closed;
    _Atomic int64_t auth_failures;    /* refused tokens, WebSocket and API */
    _Atomic int64_t client_errors;    /* bad messages from WebSocket clients */
    _Atomic int64_t rest_requests;    /* REST calls received */
    _Atomic int64_t rest_errors;      /* REST calls answered with an error status */
    _Atomic int64_t coalesced;        /* queued progress updates replaced by newer ones */
    _Atomic int64_t slow_closed;      /* connections closed as too slow (4001) */
    _Atomic int64_t heartbeat_closed; /* connections closed for silence (4002) */
    _Atomic int64_t expired_closed;   /* connections closed at token expiry (4003) */
    _Atomic int64_t limit_refused;    /* upgrades refused by connection limits */
    _Atomic int64_t stored;           /* messages put in the store */
    _Atomic int64_t replayed;         /* stored or history messages queued on connect */
};

extern struct nd_stats nd_stats;

static inline void stats_add(_Atomic int64_t *counter, int64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static inline int64_t stats_get(_Atomic int64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

#endif
