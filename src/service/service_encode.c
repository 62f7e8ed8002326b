/* service_encode: a notification's envelope(s) -- the data serialized once,
 * the envelope built around it per recipient, with priority and group. Any
 * thread (the caller's). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/envelope.h"
#include "service/service_internal.h"

/* FNV-1a of type and task id: queued progress updates of one task share it */
static uint64_t coalesce_key(const char *type, const char *task_id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = type; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = task_id ? task_id : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h ? h : 1;
}

/* room for ,"priority":"urgent","group":<the group, every byte escaped as \uXXXX at worst>,
 * "feed":true */
#define EXTRA_MAX (32 + 6 * ND_GROUP_MAX + 16 + 16)

/* the envelope members after data, into @out (EXTRA_MAX bytes): its length, or -1 on ENOMEM */
static int envelope_extra(const struct op_msg *msg, char out[EXTRA_MAX])
{
    const char *prio = ops_priority_name(msg->priority);
    int n = prio ? snprintf(out, EXTRA_MAX, ",\"priority\":\"%s\"", prio) : 0;
    if (msg->group[0]) {
        json_t *g = json_string(msg->group);
        n += snprintf(out + n, EXTRA_MAX - (size_t)n, ",\"group\":");
        size_t glen = g ? json_dumpb(g, out + n, EXTRA_MAX - (size_t)n, JSON_ENCODE_ANY) : 0;
        json_decref(g);
        if (!glen || glen > EXTRA_MAX - (size_t)n)
            return -1;
        n += (int)glen;
    }
    if (ops_in_feed(msg)) /* kept in the feed (SPEC §7d): a client adds it to its list */
        n += snprintf(out + n, EXTRA_MAX - (size_t)n, ",\"feed\":true");
    return n;
}

/* the data as envelopes carry it: Publish's as the caller wrote it, a typed
 * request's written from its values, else serialized compact (caller frees);
 * NULL on ENOMEM */
static char *data_json(const struct op_msg *msg, size_t *len)
{
    if (!msg->data_text && !msg->data) {
        size_t n = ops_data_text(msg, NULL, 0);
        char *text = malloc(n + 1);
        if (text)
            *len = ops_data_text(msg, text, n + 1);
        return text;
    }
    if (!msg->data_text)
        return envelope_data_json(msg->data, len);
    char *copy = malloc(msg->data_len + 1);
    if (copy) {
        memcpy(copy, msg->data_text, msg->data_len + 1);
        *len = msg->data_len;
    }
    return copy;
}

/* one recipient's envelope around @data (serialized once by the caller) */
static struct delivery *encode_for(const struct op_msg *msg, const char *user_id, const char *data,
                                   size_t dlen, const char *extra, size_t elen, int64_t now)
{
    const struct op_spec *op = msg->op;
    struct envelope_parts parts = {msg->type, user_id, data, dlen, extra, elen, now};
    struct delivery *d = envelope_encode_parts(&parts, ENVELOPE_WITH_ID);
    if (!d)
        return NULL;
    d->op = op;
    d->priority = (uint8_t)msg->priority;
    if ((op->flags & OP_PROGRESS) &&
        msg->priority != PRIORITY_URGENT) { /* urgent: never replaced */
        const struct op_val *task = msg->data ? NULL : ops_msg_val(msg, "task_id");
        d->coalesce_key = coalesce_key(
            msg->type, task ? task->s : json_string_value(json_object_get(msg->data, "task_id")));
    }
    return d;
}

/* the title/message a per-recipient render changed, into a copy of @data; NULL on ENOMEM */
static json_t *data_for(const json_t *data, const json_t *rendered)
{
    json_t *copy = json_copy((json_t *)data);
    static const char *const fields[] = {"title", "message"};
    for (size_t k = 0; copy && k < 2; k++) {
        json_t *v = json_object_get(rendered, fields[k]);
        if (v && json_object_get(copy, fields[k]) && json_object_set(copy, fields[k], v) < 0) {
            json_decref(copy);
            copy = NULL;
        }
    }
    return copy;
}

/* NotifyUsers: each recipient's delivery, rendering per recipient when the template needs it */
int service__encode_multi(const struct op_msg *msg, const struct template_use *use,
                          json_t *rendered, struct backend_copy *copies, char *err, size_t errlen)
{
    size_t n = json_array_size(msg->user_ids), elen, dlen = 0;
    int64_t now = nd_wall_ms();
    char extra[EXTRA_MAX], *data = NULL;
    int xlen = envelope_extra(msg, extra);
    elen = xlen > 0 ? (size_t)xlen : 0;
    if (xlen < 0)
        goto nomem;
    int per_user = use && use->per_user;
    if (!per_user && !(data = data_json(msg, &dlen))) /* the same bytes for all */
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const char *user = json_string_value(json_array_get(msg->user_ids, i));
        if (per_user) {
            int rc = templates_render(use, rendered, user, err, errlen);
            if (rc < 0)
                return rc;
            json_t *mine = data_for(msg->data, rendered);
            data = mine ? envelope_data_json(mine, &dlen) : NULL;
            json_decref(mine);
            if (!data)
                goto nomem;
        }
        copies[i].d = encode_for(msg, user, data, dlen, extra, elen, now);
        if (per_user) {
            free(data);
            data = NULL;
        }
        if (!copies[i].d)
            goto nomem;
    }
    free(data);
    return 0;
nomem:
    free(data);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

/* the single recipient's (or a broadcast's) delivery; a typed request's data is
 * written on the stack when it fits, then once into the delivery */
int service__encode_one(const struct op_msg *msg, struct delivery **out, char *err, size_t errlen)
{
    size_t dlen = 0;
    char extra[EXTRA_MAX], small[2048];
    int elen = envelope_extra(msg, extra);
    char *data = NULL;
    if (elen >= 0 && !msg->data && !msg->data_text &&
        (dlen = ops_data_text(msg, small, sizeof small)) < sizeof small)
        data = small;
    else if (elen >= 0)
        data = data_json(msg, &dlen);
    *out =
        data ? encode_for(msg, msg->user_id, data, dlen, extra, (size_t)elen, nd_wall_ms()) : NULL;
    if (data != small)
        free(data);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}
