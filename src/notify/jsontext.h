/* jsontext: where a member of a JSON object is in the text a caller wrote,
 * so a value can be passed on byte for byte (Publish's data over REST)
 * instead of re-serialized (jansson rewrites 0.1 as 0.10000000000000001).
 * Pure; any thread. */
#ifndef NOTIFYD_NOTIFY_JSONTEXT_H
#define NOTIFYD_NOTIFY_JSONTEXT_H

#include <stddef.h>

/**
 * Finds the value of member @name of the top-level object in @text (@len
 * bytes; meant for text jansson has accepted): its offset in *off and
 * length in *n, from its first byte to its last (no surrounding
 * whitespace). Keys are compared unescaped; when the name repeats, the
 * last one counts (as jansson reads it). 1 found, 0 not there, -EINVAL
 * when @text is not an object it can walk.
 */
int jsontext_member(const char *text, size_t len, const char *name, size_t *off, size_t *n);

#endif
