/* client_msg: what a WebSocket client sent, parsed and checked -- pure (no
 * I/O, no connection state), so it can be fuzzed on its own. Any thread. */
#ifndef NOTIFYD_WS_CLIENT_MSG_H
#define NOTIFYD_WS_CLIENT_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum client_msg_type {
    CM_ERROR,     /* not acceptable: error_code and error say why */
    CM_PING,      /* answer pong */
    CM_ALIVE,     /* pong or client_ready: a sign of life, nothing to answer */
    CM_ACK,       /* ack_id */
    CM_REFRESH,   /* token */
    CM_FEED_MARK, /* data: {ids|all, action} for the user's own feed (checked by the service) */
};

struct client_msg {
    enum client_msg_type type;
    uint64_t ack_id;        /* CM_ACK */
    const char *token;      /* CM_REFRESH: borrowed from root; NULL if missing */
    json_t *data;           /* CM_FEED_MARK: the data object, borrowed from root */
    const char *error_code; /* CM_ERROR: bad_json, bad_message, unknown_type, bad_ack,
                                bad_feed_mark */
    char error[200];        /* CM_ERROR: a message for the client */
    json_t *root;           /* owned; freed by client_msg_clear() */
};

/** Parses one text message of @len bytes (need not be NUL-terminated). */
void client_msg_parse(const char *text, size_t len, struct client_msg *out);

void client_msg_clear(struct client_msg *m);

#endif
