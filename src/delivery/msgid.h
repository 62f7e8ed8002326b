/* msgid: message ids. A 64-bit hybrid logical clock -- (unix ms << 16) +
 * counter, never going back -- written as 16 lowercase hex digits, so ids
 * are unique, compare in time order both as numbers and as strings, and keep
 * increasing across restarts. Not thread-safe: the caller serializes (the
 * inbox assigns ids under its lock). */
#ifndef NOTIFYD_DELIVERY_MSGID_H
#define NOTIFYD_DELIVERY_MSGID_H

#include <stdint.h>

#define MSGID_LEN 16

struct msgid_clock {
    uint64_t last; /* last id handed out */
};

/** The next id: greater than every earlier one, and >= now_ms << 16. */
uint64_t msgid_next(struct msgid_clock *c, int64_t now_ms);

/** Writes @id as MSGID_LEN hex digits plus NUL into @out. */
void msgid_format(uint64_t id, char out[MSGID_LEN + 1]);

/** Parses MSGID_LEN hex digits; -EINVAL on anything else. */
int msgid_parse(const char *s, uint64_t *out);

/** Unix milliseconds encoded in @id. */
static inline int64_t msgid_time_ms(uint64_t id)
{
    return (int64_t)(id >> 16);
}

#endif
