/* edge/head: recognises a complete HTTP/1.x request head in the first bytes
 * a client sends, so the front door (edge.c) can enforce the header deadline
 * and size limits before libwebsockets sees the connection. Pure code: no
 * I/O, no allocation; any thread. */
#ifndef NOTIFYD_EDGE_HEAD_H
#define NOTIFYD_EDGE_HEAD_H

#include <stddef.h>
#include <stdint.h>

#define ND_HEAD_MAX 16384 /* request line, and the whole head, at most (SPEC §8) */

enum head_result {
    HEAD_MORE,           /* no verdict yet: read more */
    HEAD_DONE,           /* a complete head of *end bytes */
    HEAD_BAD,            /* not an HTTP/1.x request: 400 */
    HEAD_URI_TOO_LONG,   /* request line over ND_HEAD_MAX: 414 */
    HEAD_FIELDS_TOO_BIG, /* head over ND_HEAD_MAX: 431 */
};

/* where a scan got to, so each call looks only at the new bytes */
struct head_scan {
    size_t pos;      /* bytes already looked at */
    size_t line_end; /* end of the request line (its '\n' + 1), 0 until seen */
    int upgrade;     /* HEAD_DONE: the head asks for an Upgrade */
};

/**
 * Looks at @buf[0..@len) -- the whole of what the client sent so far, the
 * same bytes as the previous call plus new ones -- for a complete request
 * head. On HEAD_DONE, *@end is the head's length (what follows is a body or
 * the next request). @s starts zeroed.
 */
enum head_result head_scan(struct head_scan *s, const char *buf, size_t len, size_t *end);

enum head_body {
    BODY_NONE,    /* no body: the next request follows the head */
    BODY_LENGTH,  /* Content-Length bytes follow */
    BODY_UNKNOWN, /* chunked, or a length that cannot be trusted: no framing */
};

/**
 * What follows the complete head @head[0..@len): its Content-Length in
 * *@length for BODY_LENGTH. Two differing lengths, a length that is not
 * all digits, or a Transfer-Encoding are BODY_UNKNOWN.
 */
enum head_body head_body(const char *head, size_t len, uint64_t *length);

/** The status for a verdict (400, 414, 431), 0 for HEAD_MORE/HEAD_DONE. */
int head_status(enum head_result r);

#endif
