/* ws/frame_guard: a byte-at-a-time walk over headers, skipping payloads in
 * one step. States: first header byte, length byte, extended length, mask
 * key, payload. */
#include "ws/frame_guard.h"

enum { S_B0, S_B1, S_EXTLEN, S_MASK, S_PAYLOAD };

size_t frame_guard_feed(struct frame_guard *g, const uint8_t *p, size_t len)
{
    size_t i = 0, frame_start = 0; /* 0 too when it began in an earlier read */
    if (g->bad)
        return 0;
    while (i < len) {
        switch (g->state) {
        case S_B0:
            frame_start = i++;
            g->state = S_B1;
            break;
        case S_B1:
            if (!(p[i] & 0x80)) { /* MASK bit clear */
                g->bad = 1;
                return frame_start;
            }
            g->len7 = p[i++] & 0x7f;
            g->left = 0;
            if (g->len7 >= 126) {
                g->need = g->len7 == 126 ? 2 : 8;
                g->state = S_EXTLEN;
            } else {
                g->left = g->len7;
                g->need = 4;
                g->state = S_MASK;
            }
            break;
        case S_EXTLEN:
            g->left = g->left << 8 | p[i++];
            if (--g->need == 0) {
                g->need = 4;
                g->state = S_MASK;
            }
            break;
        case S_MASK:
            i++;
            if (--g->need == 0)
                g->state = g->left ? S_PAYLOAD : S_B0;
            break;
        case S_PAYLOAD: {
            uint64_t take = len - i < g->left ? len - i : g->left;
            i += (size_t)take;
            g->left -= take;
            if (!g->left)
                g->state = S_B0;
            break;
        }
        }
    }
    return len;
}
