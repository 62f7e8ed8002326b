/* envelope: jansson builds and escapes the object (insertion order is kept);
 * message_id goes last so its digits sit at a fixed distance from the end. */
#include "delivery/envelope.h"

#include <string.h>
#include <time.h>

#define ID_PLACEHOLDER "0000000000000000"
#define ID_TAIL "\"message_id\":\"" ID_PLACEHOLDER "\"}"

int64_t envelope_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct delivery *envelope_encode(const char *type, const char *user_id, const json_t *data,
                                 int64_t timestamp_ms, unsigned flags)
{
    struct delivery *d = NULL;
    json_t *env = json_object();
    if (!env)
        return NULL;
    json_object_set_new(env, "type", json_string(type));
    if (user_id && user_id[0])
        json_object_set_new(env, "user_id", json_string(user_id));
    if (data)
        json_object_set(env, "data", (json_t *)data);
    else
        json_object_set_new(env, "data", json_object());
    json_object_set_new(env, "timestamp", json_integer(timestamp_ms));
    if (flags & ENVELOPE_WITH_ID)
        json_object_set_new(env, "message_id", json_string(ID_PLACEHOLDER));

    char *text = json_dumps(env, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(env);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    d = delivery_new(len);
    if (d) {
        memcpy(delivery_json(d), text, len);
        d->timestamp_ms = timestamp_ms;
        struct timespec mono;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        d->accepted_us = (int64_t)mono.tv_sec * 1000000 + mono.tv_nsec / 1000;
        if (flags & ENVELOPE_WITH_ID) {
            size_t tail = sizeof ID_TAIL - 1;
            if (len >= tail && !memcmp(delivery_json(d) + len - tail, ID_TAIL, tail))
                d->id_off = len - 2 - MSGID_LEN;
        }
        if (user_id)
            strncpy(d->user_id, user_id, sizeof d->user_id - 1);
    }
    free(text);
    return d;
}
