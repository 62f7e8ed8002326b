/* history: the recent messages of each user, and of broadcasts, kept in
 * memory (bounded in count and age) so a client reconnecting with
 * ?since=<message_id> gets what it missed. Each list remembers the newest id
 * it has forgotten (its floor): a replay is complete when `since` is not
 * older than any floor. nd-ws thread only. */
#ifndef NOTIFYD_DELIVERY_HISTORY_H
#define NOTIFYD_DELIVERY_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "delivery/delivery.h"

struct history;

/**
 * Keeps up to @per_user messages per user (and as many broadcasts) for
 * @ttl_ms. Ids before @start_id (this process's first) count as forgotten.
 * NULL on ENOMEM.
 */
struct history *history_new(size_t per_user, int64_t ttl_ms, uint64_t start_id);

void history_free(struct history *h);

/** Remembers @d (takes a ref) for @user_id, or for everyone when it is "". 0 or -ENOMEM. */
int history_add(struct history *h, const char *user_id, struct delivery *d);

/**
 * The remembered messages with id > @since for @user_id -- its own and the
 * broadcasts -- oldest first, as a malloc'd array of references now owned by
 * the caller (*out, *n). Returns 1 when that is everything after @since, 0
 * when some of it was forgotten, -ENOMEM.
 */
int history_since(struct history *h, const char *user_id, uint64_t since, struct delivery ***out,
                  size_t *n);

/**
 * Forgets what is older than the ttl at @now_ms (wall clock). Looks only at the
 * users with something due (their messages kept in order of time); returns how
 * many it looked at.
 */
size_t history_expire(struct history *h, int64_t now_ms);

/** Messages held in all. */
size_t history_count(const struct history *h);

#endif
