/* close_codes: WebSocket close codes notifyd sends, with their reasons. Any
 * module may name them (the redis engine tells other instances 4004). */
#ifndef NOTIFYD_DELIVERY_CLOSE_CODES_H
#define NOTIFYD_DELIVERY_CLOSE_CODES_H

enum nd_close_code {
    ND_CLOSE_GOING_AWAY = 1001,    /* server shutting down */
    ND_CLOSE_PROTOCOL = 1002,      /* a frame or close code RFC 6455 forbids */
    ND_CLOSE_POLICY = 1008,        /* a client that keeps misbehaving */
    ND_CLOSE_TOO_BIG = 1009,       /* client message over the frame limit */
    ND_CLOSE_SLOW_READER = 4001,   /* outbound queue over its bound */
    ND_CLOSE_HEARTBEAT = 4002,     /* nothing received for the heartbeat timeout */
    ND_CLOSE_TOKEN_EXPIRED = 4003, /* the token's exp passed without a refresh */
    ND_CLOSE_DISCONNECTED = 4004,  /* DisconnectUser: an operator closed the user's connections */
};

#endif
