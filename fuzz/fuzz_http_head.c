/* fuzz: the edge's request-head scanner and body framing. The input is fed
 * whole and in pieces (sizes from its first byte): the verdicts must agree,
 * and a complete head's length stays within what was read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "edge/head.h"

/* checked in every build (CHECK() is compiled out with NDEBUG) */
#define CHECK(x) ((x) ? (void)0 : abort())

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 37 + 1;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;

    struct head_scan whole = {0};
    size_t end_whole = 0;
    enum head_result r_whole = head_scan(&whole, buf, len, &end_whole);

    struct head_scan s = {0};
    size_t end = 0;
    enum head_result r = HEAD_MORE;
    for (size_t have = step < len ? step : len;; have = have + step < len ? have + step : len) {
        r = head_scan(&s, buf, have, &end);
        if (r != HEAD_MORE || have == len)
            break;
    }
    CHECK(r == r_whole);
    if (r == HEAD_DONE) {
        CHECK(end == end_whole && end <= len);
        uint64_t body = 0;
        enum head_body b = head_body(buf, end, &body);
        CHECK(b != BODY_LENGTH || body > 0);
    }
    (void)head_status(r);
    return 0;
}
