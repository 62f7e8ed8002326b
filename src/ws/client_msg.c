/* client_msg: the protocol's client messages -- ping, pong, client_ready,
 * ack, refresh, feed_mark -- recognised and checked; everything else is an error. */
#include "ws/client_msg.h"

#include <stdio.h>
#include <string.h>

#include "delivery/msgid.h"

static void error(struct client_msg *m, const char *code, const char *msg)
{
    m->type = CM_ERROR;
    m->error_code = code;
    snprintf(m->error, sizeof m->error, "%s", msg);
}

void client_msg_parse(const char *text, size_t len, struct client_msg *m)
{
    json_error_t jerr;
    memset(m, 0, sizeof *m);
    m->root = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(m->root)) {
        char msg[200];
        if (m->root)
            snprintf(msg, sizeof msg, "a message must be a JSON object");
        else
            snprintf(msg, sizeof msg, "malformed JSON: %s", jerr.text);
        error(m, "bad_json", msg);
        return;
    }
    const char *type = json_string_value(json_object_get(m->root, "type"));
    json_t *data = json_object_get(m->root, "data");
    if (!type) {
        error(m, "bad_message", "the message has no string \"type\"");
    } else if (!strcmp(type, "ping")) {
        m->type = CM_PING;
    } else if (!strcmp(type, "pong") || !strcmp(type, "client_ready")) {
        m->type = CM_ALIVE;
    } else if (!strcmp(type, "ack")) {
        const char *id = json_string_value(json_object_get(data, "message_id"));
        m->type = CM_ACK;
        if (!id || msgid_parse(id, &m->ack_id) < 0)
            error(m, "bad_ack", "ack needs data.message_id, a 16-digit hex message id");
    } else if (!strcmp(type, "refresh")) {
        m->type = CM_REFRESH;
        m->token = json_string_value(json_object_get(data, "token"));
    } else if (!strcmp(type, "feed_mark")) {
        m->type = CM_FEED_MARK;
        m->data = data;
        if (!json_is_object(data))
            error(m, "bad_feed_mark",
                  "feed_mark needs data: {\"ids\": [...] or \"all\": true, \"action\": ...}");
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown message type \"%.64s\"", type);
        error(m, "unknown_type", msg);
    }
}

void client_msg_clear(struct client_msg *m)
{
    json_decref(m->root);
    m->root = NULL;
}
