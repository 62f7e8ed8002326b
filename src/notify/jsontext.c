/* jsontext: a walk over the top level of a JSON object that skips values
 * without building them; any malformed input ends it with -EINVAL. */
#include "notify/jsontext.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#define MAX_DEPTH 2048 /* past jansson's own limit: text it accepted never gets here */

struct walk {
    const char *p, *end;
};

static void ws(struct walk *w)
{
    while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' || *w->p == '\r'))
        w->p++;
}

/* past a string starting at its opening quote: 0, or -EINVAL */
static int skip_string(struct walk *w)
{
    if (w->p >= w->end || *w->p != '"')
        return -EINVAL;
    for (w->p++; w->p < w->end; w->p++) {
        if (*w->p == '\\') {
            if (w->p + 1 >= w->end)
                return -EINVAL;
            w->p++; /* the escaped byte (\uXXXX's digits are plain bytes) */
            continue;
        }
        if (*w->p == '"') {
            w->p++;
            return 0;
        }
    }
    return -EINVAL;
}

/* past one value of any kind: 0, or -EINVAL */
static int skip_value(struct walk *w)
{
    int depth = 0;
    do {
        ws(w);
        if (w->p >= w->end)
            return -EINVAL;
        char ch = *w->p;
        if (ch == '"') {
            if (skip_string(w) < 0)
                return -EINVAL;
        } else if (ch == '{' || ch == '[') {
            if (++depth > MAX_DEPTH)
                return -EINVAL;
            w->p++;
        } else if (ch == '}' || ch == ']') {
            if (--depth < 0)
                return -EINVAL;
            w->p++;
        } else if (ch == ',' || ch == ':') {
            if (depth == 0)
                return -EINVAL;
            w->p++;
        } else { /* a number or a literal: up to the next delimiter */
            const char *s = w->p;
            while (w->p < w->end && !strchr(",:]} \t\r\n\"{[", *w->p))
                w->p++;
            if (w->p == s)
                return -EINVAL;
        }
    } while (depth > 0);
    return 0;
}

/* 1 when the key text [k, k + klen) (between its quotes) reads as @name */
static int key_is(const char *k, size_t klen, const char *name)
{
    if (!memchr(k, '\\', klen))
        return klen == strlen(name) && !memcmp(k, name, klen);
    json_t *v = json_loadb(k - 1, klen + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    int same = json_is_string(v) && json_string_length(v) == strlen(name) &&
               !memcmp(json_string_value(v), name, json_string_length(v));
    json_decref(v);
    return same;
}

int jsontext_member(const char *text, size_t len, const char *name, size_t *off, size_t *n)
{
    struct walk w = {text, text + len};
    int found = 0;
    ws(&w);
    if (w.p >= w.end || *w.p != '{')
        return -EINVAL;
    w.p++;
    ws(&w);
    if (w.p < w.end && *w.p == '}')
        return 0;
    for (;;) {
        ws(&w);
        const char *k = w.p + 1;
        if (skip_string(&w) < 0)
            return -EINVAL;
        size_t klen = (size_t)(w.p - 1 - k);
        ws(&w);
        if (w.p >= w.end || *w.p != ':')
            return -EINVAL;
        w.p++;
        ws(&w);
        const char *v = w.p;
        if (skip_value(&w) < 0)
            return -EINVAL;
        if (key_is(k, klen, name)) {
            *off = (size_t)(v - text);
            *n = (size_t)(w.p - v);
            found = 1;
        }
        ws(&w);
        if (w.p >= w.end)
            return -EINVAL;
        if (*w.p == '}')
            return found;
        if (*w.p != ',')
            return -EINVAL;
        w.p++;
    }
}
