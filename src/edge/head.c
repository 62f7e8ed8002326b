/* edge/head: a small incremental scanner. It checks only the shape of the
 * request line (METHOD SP target SP HTTP/1.x) and finds the blank line that
 * ends the head; libwebsockets parses the fields afterwards. */
#include "edge/head.h"

#include <string.h>
#include <strings.h>

/* the request line: an upper-case method, one space, a target without
 * spaces or control bytes, one space, HTTP/1.0 or HTTP/1.1 */
static int request_line_ok(const char *p, size_t n)
{
    if (n && p[n - 1] == '\r')
        n--;
    size_t i = 0;
    while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z')
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return 0;
    size_t t = ++i;
    while (i < n && (unsigned char)p[i] > ' ' && p[i] != 0x7f)
        i++;
    if (i == t || i >= n || p[i] != ' ')
        return 0;
    i++;
    return n - i == 8 && !memcmp(p + i, "HTTP/1.", 7) && (p[i + 7] == '0' || p[i + 7] == '1');
}

/* the head asks for an Upgrade (a WebSocket handshake) */
static int wants_upgrade(const char *p, size_t n)
{
    for (size_t i = 0; i + 8 < n; i++)
        if ((i == 0 || p[i - 1] == '\n') && !strncasecmp(p + i, "upgrade:", 8))
            return 1;
    return 0;
}

enum head_result head_scan(struct head_scan *s, const char *buf, size_t len, size_t *end)
{
    /* a client that sends no method letter first is not speaking HTTP/1
     * (a TLS hello on the plain port, binary noise): say so at once */
    if (len && !(buf[0] >= 'A' && buf[0] <= 'Z'))
        return HEAD_BAD;
    size_t i = s->pos;
    for (; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (!s->line_end) {
            if (i + 1 > ND_HEAD_MAX)
                return HEAD_URI_TOO_LONG;
            if (!request_line_ok(buf, i))
                return HEAD_BAD;
            s->line_end = i + 1;
            continue;
        }
        /* "\n\n" or "\n\r\n": an empty line ends the head */
        if (buf[i - 1] == '\n' || (buf[i - 1] == '\r' && i >= 2 && buf[i - 2] == '\n')) {
            if (i + 1 > ND_HEAD_MAX)
                return HEAD_FIELDS_TOO_BIG;
            *end = i + 1;
            s->pos = i + 1;
            s->upgrade = wants_upgrade(buf + s->line_end, i + 1 - s->line_end);
            return HEAD_DONE;
        }
    }
    s->pos = i;
    if (!s->line_end && len > ND_HEAD_MAX)
        return HEAD_URI_TOO_LONG;
    if (len > ND_HEAD_MAX)
        return HEAD_FIELDS_TOO_BIG;
    return HEAD_MORE;
}

/* the value of header line @p (after "name:"), its length in *@n */
static const char *field_value(const char *p, const char *end, size_t *n)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end) {
        *n = 0;
        return p;
    }
    const char *e = memchr(p, '\n', (size_t)(end - p));
    e = e ? e : end;
    while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *n = (size_t)(e - p);
    return p;
}

enum head_body head_body(const char *head, size_t len, uint64_t *length)
{
    const char *end = head + len;
    int seen = 0;
    *length = 0;
    for (const char *p = memchr(head, '\n', len); p && p + 1 < end;
         p = memchr(p + 1, '\n', (size_t)(end - p - 1))) {
        const char *line = p + 1;
        size_t n, room = (size_t)(end - line);
        if (room > 18 && !strncasecmp(line, "transfer-encoding:", 18))
            return BODY_UNKNOWN;
        if (room <= 15 || strncasecmp(line, "content-length:", 15))
            continue;
        const char *v = field_value(line + 15, end, &n);
        uint64_t x = 0;
        if (n == 0 || n > 18)
            return BODY_UNKNOWN;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                return BODY_UNKNOWN;
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        if (seen && x != *length)
            return BODY_UNKNOWN;
        *length = x;
        seen = 1;
    }
    return seen && *length ? BODY_LENGTH : BODY_NONE;
}

int head_status(enum head_result r)
{
    switch (r) {
    case HEAD_BAD: return 400;
    case HEAD_URI_TOO_LONG: return 414;
    case HEAD_FIELDS_TOO_BIG: return 431;
    default: return 0;
    }
}
