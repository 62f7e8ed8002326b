/* template: a scanner shared by check, uses and render -- each "{{" starts
 * a placeholder, whose name runs to "}}" with optional spaces around it. */
#include "notify/template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
}

/*
 * Parses the placeholder at @text[@at] (which starts with "{{"). On success
 * sets the name span and *end (the offset after "}}"), returns 0; otherwise
 * -EINVAL with the reason in @err.
 */
static int placeholder(const char *text, size_t len, size_t at, size_t *name, size_t *nlen,
                       size_t *end, char *err, size_t errlen)
{
    size_t i = at + 2;
    while (i < len && text[i] == ' ')
        i++;
    size_t start = i;
    while (i < len && name_char(text[i]))
        i++;
    size_t n = i - start;
    while (i < len && text[i] == ' ')
        i++;
    if (n == 0 || n > TEMPLATE_NAME_MAX || i + 1 >= len || text[i] != '}' || text[i + 1] != '}') {
        snprintf(err, errlen,
                 "\"{{\" at byte %zu does not start a placeholder {{name}} (name: 1 to %d of "
                 "A-Z a-z 0-9 _ . -)",
                 at, TEMPLATE_NAME_MAX);
        return -EINVAL;
    }
    *name = start;
    *nlen = n;
    *end = i + 2;
    return 0;
}

/* the offset of the next "{{" at or after @from, or @len */
static size_t next_open(const char *text, size_t len, size_t from)
{
    for (size_t i = from; i + 1 < len; i++)
        if (text[i] == '{' && text[i + 1] == '{')
            return i;
    return len;
}

int template_check(const char *text, size_t len, char *err, size_t errlen)
{
    size_t at = 0, name, nlen, end;
    while ((at = next_open(text, len, at)) < len) {
        if (placeholder(text, len, at, &name, &nlen, &end, err, errlen) < 0)
            return -EINVAL;
        at = end;
    }
    return 0;
}

int template_uses(const char *text, size_t len, const char *want)
{
    size_t at = 0, name, nlen, end, wlen = strlen(want);
    char err[8];
    while ((at = next_open(text, len, at)) < len) {
        if (placeholder(text, len, at, &name, &nlen, &end, err, sizeof err) < 0)
            return 0;
        if (nlen == wlen && !memcmp(text + name, want, wlen))
            return 1;
        at = end;
    }
    return 0;
}

/* appends @n bytes to the growing buffer, within @max */
static int append(char **buf, size_t *used, size_t *cap, const char *src, size_t n, size_t max)
{
    if (n > max - *used)
        return -E2BIG;
    if (*used + n + 1 > *cap) {
        size_t cap2 = *cap ? *cap : 64;
        while (cap2 < *used + n + 1)
            cap2 *= 2;
        char *b = realloc(*buf, cap2);
        if (!b)
            return -ENOMEM;
        *buf = b;
        *cap = cap2;
    }
    memcpy(*buf + *used, src, n);
    *used += n;
    (*buf)[*used] = 0;
    return 0;
}

int template_render(const char *text, size_t len, template_lookup_fn lookup, void *arg, size_t max,
                    char **out, size_t *outlen, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t used = 0, cap = 0, from = 0, at, name, nlen, end;
    int rc = append(&buf, &used, &cap, "", 0, max); /* an empty text renders as "" */

    while (rc == 0 && (at = next_open(text, len, from)) < len) {
        rc = append(&buf, &used, &cap, text + from, at - from, max);
        if (rc == 0)
            rc = placeholder(text, len, at, &name, &nlen, &end, err, errlen);
        if (rc != 0)
            break;
        size_t vlen = 0;
        const char *v = lookup(arg, text + name, nlen, &vlen);
        if (!v) {
            snprintf(err, errlen, "needs param \"%.*s\"", (int)nlen, text + name);
            rc = -EINVAL;
            break;
        }
        rc = append(&buf, &used, &cap, v, vlen, max);
        from = end;
    }
    if (rc == 0)
        rc = append(&buf, &used, &cap, text + from, len - from, max);
    if (rc == -E2BIG)
        snprintf(err, errlen, "is longer than %zu bytes once rendered", max);
    else if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = used;
    return 0;
}
