/* msgid: see msgid.h */
#include "delivery/msgid.h"

#include <errno.h>

uint64_t msgid_next(struct msgid_clock *c, int64_t now_ms)
{
    uint64_t floor = now_ms > 0 ? (uint64_t)now_ms << 16 : 0;
    c->last = floor > c->last ? floor : c->last + 1;
    return c->last;
}

void msgid_format(uint64_t id, char out[MSGID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = MSGID_LEN - 1; i >= 0; i--) {
        out[i] = hex[id & 15];
        id >>= 4;
    }
    out[MSGID_LEN] = 0;
}

int msgid_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < MSGID_LEN; i++) {
        char ch = s[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = (unsigned)(ch - 'A' + 10);
        else
            return -EINVAL;
        v = v << 4 | d;
    }
    if (s[i])
        return -EINVAL;
    *out = v;
    return 0;
}
