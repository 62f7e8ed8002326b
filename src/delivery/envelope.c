/* envelope: built by concatenation -- the data object is serialized once by
 * jansson (escaping, key order) and the envelope around it is a few memcpy,
 * so a message for many recipients encodes its data once. message_id goes
 * last so its digits sit at a fixed distance from the end. */
#include "delivery/envelope.h"

#include <stdlib.h>
#include <string.h>

#define ID_PLACEHOLDER "0000000000000000"
#define ID_TAIL "\"message_id\":\"" ID_PLACEHOLDER "\"}"

char *envelope_data_json(const json_t *data, size_t *len)
{
    char *text = data ? json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(15)) : strdup("{}");
    if (text)
        *len = strlen(text);
    return text;
}

/* 1 when @s goes into JSON as is, between quotes (nothing to escape) */
static int plain(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p >= 0x7f)
            return 0;
    return 1;
}

/* a JSON string for @s, escaped by jansson (caller frees); NULL on ENOMEM */
static char *escaped(const char *s, size_t *len)
{
    json_t *str = json_string(s);
    char *q = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    json_decref(str);
    if (q)
        *len = strlen(q);
    return q;
}

/* @len bytes at @w: @esc when escaped, else @s between quotes; past what it wrote */
static char *put_quoted(char *w, const char *esc, const char *s, size_t len)
{
    if (esc) {
        memcpy(w, esc, len);
        return w + len;
    }
    *w = '"';
    memcpy(w + 1, s, len - 2);
    w[len - 1] = '"';
    return w + len;
}

struct delivery *envelope_encode_parts(const struct envelope_parts *p, unsigned flags)
{
    char ts[32];
    size_t tlen, ulen = 0, tslen;
    int with_user = p->user_id && p->user_id[0];
    /* type and user id as they are (the common case: no copy), else escaped */
    int type_plain = plain(p->type), user_plain = with_user && plain(p->user_id);
    char *type_esc = type_plain ? NULL : escaped(p->type, &tlen);
    char *user_esc = with_user && !user_plain ? escaped(p->user_id, &ulen) : NULL;
    struct delivery *d = NULL;
    if ((!type_plain && !type_esc) || (with_user && !user_plain && !user_esc))
        goto out;
    if (type_plain)
        tlen = strlen(p->type) + 2;
    if (user_plain)
        ulen = strlen(p->user_id) + 2;
    tslen = (size_t)snprintf(ts, sizeof ts, "%lld", (long long)p->timestamp_ms);

    const char *data = p->data ? p->data : "{}";
    size_t dlen = p->data ? p->data_len : 2;
    size_t tail =
        (flags & ENVELOPE_WITH_ID) ? 1 + sizeof ID_TAIL - 1 : 1; /* ,"message_id":..} | } */
    size_t len =
        8 + tlen + (with_user ? 11 + ulen : 0) + 8 + dlen + p->extra_len + 13 + tslen + tail;
    d = delivery_new(len);
    if (!d)
        goto out;
    char *w = delivery_json(d);
#define PUT(src, n) (memcpy(w, (src), (n)), w += (n))
#define PUTS(lit) PUT(lit, sizeof(lit) - 1)
    PUTS("{\"type\":");
    w = put_quoted(w, type_esc, p->type, tlen);
    if (with_user) {
        PUTS(",\"user_id\":");
        w = put_quoted(w, user_esc, p->user_id, ulen);
    }
    PUTS(",\"data\":");
    PUT(data, dlen);
    if (p->extra_len)
        PUT(p->extra, p->extra_len);
    PUTS(",\"timestamp\":");
    PUT(ts, tslen);
    if (flags & ENVELOPE_WITH_ID) {
        PUTS(",");
        PUTS(ID_TAIL);
        d->id_off = len - 2 - MSGID_LEN;
    } else {
        PUTS("}");
    }
#undef PUTS
#undef PUT
    *w = 0;
    d->len = (size_t)(w - delivery_json(d));
    d->timestamp_ms = p->timestamp_ms;
    d->accepted_us = nd_mono_us();
    if (p->user_id)
        strncpy(d->user_id, p->user_id, sizeof d->user_id - 1);
out:
    free(type_esc);
    free(user_esc);
    return d;
}

struct delivery *envelope_encode(const char *type, const char *user_id, const json_t *data,
                                 int64_t timestamp_ms, unsigned flags)
{
    size_t dlen = 0;
    char *text = envelope_data_json(data, &dlen);
    if (!text)
        return NULL;
    struct envelope_parts p = {type, user_id, text, dlen, NULL, 0, timestamp_ms};
    struct delivery *d = envelope_encode_parts(&p, flags);
    free(text);
    return d;
}
