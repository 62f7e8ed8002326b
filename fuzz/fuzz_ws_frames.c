/* fuzz: the WebSocket frame guard. Fed whole and in pieces (sizes from the
 * first byte), it must find the same first unmasked frame. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ws/frame_guard.h"

/* checked in every build (CHECK() is compiled out with NDEBUG) */
#define CHECK(x) ((x) ? (void)0 : abort())

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 29 + 1;
    const uint8_t *p = data + 1;
    size_t len = size - 1;

    struct frame_guard whole = {0};
    size_t ok_whole = frame_guard_feed(&whole, p, len);

    struct frame_guard g = {0};
    size_t at = 0, ok = len;
    while (at < len) {
        size_t n = len - at < step ? len - at : step;
        size_t got = frame_guard_feed(&g, p + at, n);
        if (got < n) { /* the bad frame starts in this piece, or began before it */
            ok = at + got;
            break;
        }
        at += n;
    }
    CHECK(whole.bad == g.bad);
    /* whole: the bad frame's first byte; in pieces the same, or one on when
     * that byte ended the previous piece (it was passed on already) */
    CHECK(!whole.bad || (ok >= ok_whole && ok <= ok_whole + 1));
    CHECK(whole.bad || ok_whole == len);
    return 0;
}
