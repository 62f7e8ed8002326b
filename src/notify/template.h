/* template: the text of a message template, with {{name}} placeholders
 * (spaces inside the braces allowed: {{ name }}) filled with plain text in
 * one pass -- a value containing "{{" or quotes is inserted as it is, never
 * expanded or interpreted; JSON escaping happens later, when the message is
 * encoded. Names are 1 to TEMPLATE_NAME_MAX bytes of [A-Za-z0-9_.-].
 * Pure; any thread. */
#ifndef NOTIFYD_NOTIFY_TEMPLATE_H
#define NOTIFYD_NOTIFY_TEMPLATE_H

#include <stddef.h>

#define TEMPLATE_NAME_MAX 64

/**
 * Checks the syntax of @text (@len bytes): every "{{" opens a placeholder
 * with a valid name closed by "}}". 0, or -EINVAL with the problem and its
 * byte offset in @err.
 */
int template_check(const char *text, size_t len, char *err, size_t errlen);

/** 1 when @text (checked) has a placeholder named @name. */
int template_uses(const char *text, size_t len, const char *name);

/**
 * The value for placeholder @name (@nlen bytes, not NUL-terminated): its
 * bytes and length in *vlen, or NULL when there is none.
 */
typedef const char *(*template_lookup_fn)(void *arg, const char *name, size_t nlen, size_t *vlen);

/**
 * Renders @text (checked) into a new NUL-terminated string in *out (caller
 * frees; its length in *outlen). Returns 0; -EINVAL when a placeholder has
 * no value ("needs param \"name\"" in @err); -E2BIG when the result would
 * pass @max bytes; -ENOMEM.
 */
int template_render(const char *text, size_t len, template_lookup_fn lookup, void *arg, size_t max,
                    char **out, size_t *outlen, char *err, size_t errlen);

#endif
