/* ratelimit: token buckets. A bucket is plain data; whoever owns it calls
 * ratelimit_take() (the caller provides any locking) with nd_mono_us(). */
#ifndef NOTIFYD_RATELIMIT_H
#define NOTIFYD_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
    double tokens;   /* available now */
    int64_t last_us; /* last refill, monotonic microseconds; 0 = never used (starts full) */
};

/**
 * Refills @b at @rate tokens per second up to @burst, then takes one.
 * Returns 1 when a token was taken, 0 when the caller is over the limit.
 * A @rate of 0 means unlimited.
 */
int ratelimit_take(struct ratelimit *b, double rate, double burst, int64_t now_us);

#endif
