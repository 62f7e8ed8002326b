/* histogram: Prometheus histograms with fixed bucket bounds. Observed from
 * any thread (relaxed atomics: a scrape may see one observation in the count
 * and not yet in the sum), rendered by whoever serves /metrics. */
#ifndef NOTIFYD_HISTOGRAM_H
#define NOTIFYD_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HISTOGRAM_MAX_BUCKETS 16

/* bounds, in seconds, ascending; +Inf is implied */
struct histogram_le {
    size_t n;
    double le[HISTOGRAM_MAX_BUCKETS];
};

/* request latencies (gRPC, REST): 100 µs to 10 s */
extern const struct histogram_le histogram_latency;
/* store commits (SQLite group commit with its fsync; a Redis write): 0.5 ms to 10 s */
extern const struct histogram_le histogram_commit;
/* how long WebSockets stay: 1 s to 1 day */
extern const struct histogram_le histogram_lifetime;

struct histogram {
    _Atomic uint64_t counts[HISTOGRAM_MAX_BUCKETS + 1]; /* per bucket, the last is +Inf */
    _Atomic uint64_t sum_us;                            /* microseconds observed */
};

/** Counts one observation of @us microseconds. Any thread. */
void histogram_observe(struct histogram *h, const struct histogram_le *le, int64_t us);

/**
 * Writes the _bucket, _sum and _count lines of @name (the # HELP and # TYPE
 * lines are the caller's); @labels is "method=\"X\"" or NULL. Any thread.
 */
void histogram_render(FILE *f, const char *name, const char *labels, const struct histogram_le *le,
                      struct histogram *h);

#endif
