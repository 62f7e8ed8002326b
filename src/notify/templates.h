/* templates: the message templates admins manage (PutTemplate and friends),
 * held in memory so any thread can render one, and written through to where
 * they persist -- the embedded store, or Redis when scaled out -- by the
 * service. The table is guarded by a rwlock: renders (nd-grpc, nd-ws) read,
 * the store's and Redis's threads write once a change is durable.
 *
 * A template persists as JSON {"title":..., "message":..., "updated_at":<ms>};
 * the API shows it as {"id", "title", "message", "updated_at"}. */
#ifndef NOTIFYD_NOTIFY_TEMPLATES_H
#define NOTIFYD_NOTIFY_TEMPLATES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "notify/ops.h"
#include "notify/template.h"

#define TEMPLATE_ID_MAX 64
#define TEMPLATE_PARAMS_MAX 64 /* params in one request */

struct templates;

/** An empty table. NULL on ENOMEM. */
struct templates *templates_new(void);
void templates_free(struct templates *t);

/**
 * Sets @id from its persisted JSON (@len bytes). 0; -EINVAL when @json is not
 * a readable template (the table is unchanged); -ENOMEM. Any thread.
 */
int templates_set_json(struct templates *t, const char *id, const char *json, size_t len);

/**
 * Cluster: applies change number @version -- @id set from @json, or removed
 * when @json is NULL -- if it is newer than every change applied so far
 * (changes arrive from Redis in order, the answer to one's own change may
 * come later). 1 applied, 0 older (ignored), -EINVAL/-ENOMEM. Any thread.
 */
int templates_apply(struct templates *t, uint64_t version, const char *id, const char *json,
                    size_t len);

/**
 * Cluster: replaces the whole table at once with @n templates as of change
 * @version (after a (re)connect to Redis). Entries that do not parse are
 * skipped. 0 or -ENOMEM (the table is unchanged). Any thread.
 */
int templates_replace(struct templates *t, uint64_t version, const char *const *ids,
                      const char *const *jsons, const size_t *lens, size_t n);

/** Cluster: the last change number applied. Any thread. */
uint64_t templates_version(struct templates *t);

/** Forgets @id (no-op when absent). Any thread. */
void templates_remove(struct templates *t, const char *id);

/** Forgets every template (before a reload from Redis). Any thread. */
void templates_clear(struct templates *t);

/** The template as the API shows it (caller decrefs), or NULL when there is none. */
json_t *templates_get(struct templates *t, const char *id);

/** Every template as the API shows it, sorted by id (caller decrefs). NULL on ENOMEM. */
json_t *templates_list(struct templates *t);

/**
 * Checks a PutTemplate request {id, title, message}: @id gets the id, *json
 * the persisted form stamped @now_ms (caller frees). 0 or -EINVAL naming the
 * field (and the byte of a bad placeholder) in @err; -ENOMEM.
 */
int templates_check_put(const json_t *req, int64_t now_ms, char id[TEMPLATE_ID_MAX + 1],
                        char **json, char *err, size_t errlen);

/** Checks the id field of a Get/DeleteTemplate request into @id. 0 or -EINVAL. */
int templates_check_id(const json_t *req, char id[TEMPLATE_ID_MAX + 1], char *err, size_t errlen);

/** A prepared render: the template's text copied out of the table, and the params as text. */
struct template_use {
    char id[TEMPLATE_ID_MAX + 1];
    char *title, *message;
    json_t *params; /* name -> string */
    int per_user;   /* uses {{user_id}}: render for each recipient */
    int has_title;  /* @op carries a title */
};

/**
 * When @req names a template_id: checks it against @op (the request must not
 * also give title/message; a broadcast cannot fill {{user_id}}), copies the
 * template and the params into @use, and returns 1. Returns 0 when there is
 * no template_id, -EINVAL naming the problem in @err. Release with
 * templates_use_clear().
 */
int templates_prepare(struct templates *t, const struct op_spec *op, const json_t *req,
                      struct template_use *use, char *err, size_t errlen);

/**
 * Sets title (when the op has one) and message in @req, rendered for
 * @user_id ("" for none). 0, or -EINVAL naming the missing param or the
 * length in @err, -ENOMEM.
 */
int templates_render(const struct template_use *use, json_t *req, const char *user_id, char *err,
                     size_t errlen);

void templates_use_clear(struct template_use *use);

#endif
