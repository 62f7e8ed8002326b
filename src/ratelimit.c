/* ratelimit: the classic token bucket, refilled lazily on each take. */
#include "ratelimit.h"

int ratelimit_take(struct ratelimit *b, double rate, double burst, int64_t now_us)
{
    if (rate <= 0)
        return 1;
    if (b->last_us == 0) {
        b->tokens = burst;
    } else if (now_us > b->last_us) {
        b->tokens += (double)(now_us - b->last_us) * rate / 1e6;
        if (b->tokens > burst)
            b->tokens = burst;
    }
    b->last_us = now_us;
    if (b->tokens < 1)
        return 0;
    b->tokens -= 1;
    return 1;
}
