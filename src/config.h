/* config: flags and NOTIFYD_* environment variables -> struct nd_config.
 * Parsed once by main before any thread starts; read-only afterwards, so
 * every thread may read it without a lock. */
#ifndef NOTIFYD_CONFIG_H
#define NOTIFYD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define ND_ADDR_MAX 256

struct nd_addr {
    char host[ND_ADDR_MAX]; /* IPv4/IPv6 literal or name; "" = every interface */
    int port;               /* 0 = pick a free port (tests) */
};

struct nd_config {
    struct nd_addr grpc;            /* NOTIFYD_GRPC_ADDR */
    struct nd_addr http;            /* NOTIFYD_HTTP_ADDR */
    char *data_dir;                 /* NOTIFYD_DATA_DIR */
    char *jwt_secret;               /* NOTIFYD_JWT_SECRET, NULL = created in data_dir */
    char *jwt_secret_file;          /* NOTIFYD_JWT_SECRET_FILE: the secret, from a file */
    char *jwt_public_key_file;      /* NOTIFYD_JWT_PUBLIC_KEY_FILE: RSA/EC tokens */
    char *jwt_issuer;               /* NOTIFYD_JWT_ISSUER: required iss */
    char *jwt_audience;             /* NOTIFYD_JWT_AUDIENCE: required in aud */
    char *tls_cert_file;            /* NOTIFYD_TLS_CERT_FILE: TLS on both ports */
    char *tls_key_file;             /* NOTIFYD_TLS_KEY_FILE */
    char *allowed_origins;          /* NOTIFYD_ALLOWED_ORIGINS: comma list, NULL = any */
    char *audit;                    /* NOTIFYD_AUDIT: all or admin */
    char *redis_url;                /* NOTIFYD_REDIS_URL: scale-out; NULL = embedded */
    int64_t jwt_leeway_s;           /* NOTIFYD_JWT_LEEWAY: slack for exp/nbf */
    enum nd_log_level log_level;    /* NOTIFYD_LOG_LEVEL */
    int64_t shutdown_grace_ms;      /* NOTIFYD_SHUTDOWN_GRACE_MS */
    int64_t drain_delay_ms;         /* NOTIFYD_DRAIN_DELAY_MS: not ready before closing */
    int64_t max_frame_bytes;        /* NOTIFYD_MAX_FRAME_BYTES: inbound WebSocket message */
    int64_t grpc_max_message;       /* NOTIFYD_GRPC_MAX_MESSAGE_BYTES */
    int64_t max_body_bytes;         /* NOTIFYD_MAX_BODY_BYTES: REST request body */
    int64_t api_rate_limit;         /* NOTIFYD_API_RATE_LIMIT: calls/s per caller, 0 = off */
    int64_t heartbeat_interval_ms;  /* NOTIFYD_HEARTBEAT_INTERVAL_MS: ping period */
    int64_t heartbeat_timeout_ms;   /* NOTIFYD_HEARTBEAT_TIMEOUT_MS: close after this silence */
    int64_t max_conns_per_user;     /* NOTIFYD_MAX_CONNS_PER_USER */
    int64_t max_connections;        /* NOTIFYD_MAX_CONNECTIONS: 0 = from the open-files limit */
    int64_t max_pending_calls;      /* NOTIFYD_MAX_PENDING_CALLS: calls not answered yet */
    int64_t ws_threads;             /* NOTIFYD_WS_THREADS: 0 = the number of cores */
    int64_t max_http_connections;   /* NOTIFYD_MAX_HTTP_CONNECTIONS: not (yet) WebSockets */
    int64_t http_header_timeout_ms; /* NOTIFYD_HTTP_HEADER_TIMEOUT_MS: head / body deadline */
    int64_t watchdog_ms;            /* NOTIFYD_WATCHDOG_MS: a loop stalled this long = not live */
    int64_t client_msg_rate;        /* NOTIFYD_CLIENT_MSG_RATE: messages/s a client may send */
    int64_t max_queue_messages;     /* NOTIFYD_MAX_QUEUE_MESSAGES: per connection */
    int64_t max_queue_bytes;        /* NOTIFYD_MAX_QUEUE_BYTES: per connection */
    int64_t offline_ttl_s;          /* NOTIFYD_OFFLINE_TTL: how long offline messages are kept */
    int64_t command_ttl_s;          /* NOTIFYD_COMMAND_TTL: the same for browser commands */
    int64_t offline_max_per_user;   /* NOTIFYD_OFFLINE_MAX_PER_USER: newest kept per user */
    int64_t history_size;           /* NOTIFYD_HISTORY_SIZE: recent messages kept per user */
    int64_t history_ttl_s;          /* NOTIFYD_HISTORY_TTL: how long they are kept */
    int64_t feed_ttl_s;             /* NOTIFYD_FEED_TTL: how long feed items are kept */
    int64_t feed_max_per_user;      /* NOTIFYD_FEED_MAX_PER_USER: newest items in a user's feed */
    int ws_deflate;                 /* NOTIFYD_WS_DEFLATE: permessage-deflate when offered */
    /* `notifyd token` only */
    char *token_user;
    char *token_role;
    int64_t token_ttl_s;
};

enum config_mode {
    CONFIG_SERVE,      /* notifyd [flags] */
    CONFIG_TOKEN,      /* notifyd token --user ID [--role R] [--ttl S] [flags] */
    CONFIG_CHECKTOKEN, /* notifyd checktoken TOKEN [flags]: the key and claim settings */
};

enum config_result {
    CONFIG_OK,
    CONFIG_HELP,  /* --help was asked: usage printed by the caller */
    CONFIG_ERROR, /* err holds one line naming the problem */
};

/**
 * Fills @cfg from defaults, then NOTIFYD_* variables, then @argv (flags win).
 * @argv excludes the program name (and the "token" word in CONFIG_TOKEN, the
 * "checktoken" word and the token in CONFIG_CHECKTOKEN).
 * On CONFIG_ERROR, @err holds a one-line message. Free with config_free().
 */
enum config_result config_parse(struct nd_config *cfg, enum config_mode mode, int argc, char **argv,
                                char *err, size_t errlen);

/**
 * Calls @fn for each NOTIFYD_* environment variable notifyd does not know
 * (a misspelt setting), skipping the ones Kubernetes makes for a Service
 * named notifyd (NOTIFYD_SERVICE_HOST, NOTIFYD_PORT_8080_TCP, ...).
 */
void config_unknown_env(void (*fn)(const char *name));

/** Releases what config_parse() allocated. */
void config_free(struct nd_config *cfg);

/** Writes the usage text (every flag, its variable and default) to @out. */
void config_usage(enum config_mode mode, void *out /* FILE * */);

/** Parses "host:port" ("[v6]:port", ":port"); -EINVAL with a reason in @err. */
int config_parse_addr(const char *s, struct nd_addr *out, char *err, size_t errlen);

/** Parses a duration: "90" (seconds), "250ms", "30s", "15m", "12h", "7d" -> milliseconds. */
int config_parse_duration_ms(const char *s, int64_t *out_ms);

/** Parses a switch: on/off, true/false, yes/no, 1/0 (any case) -> 1 or 0; else -EINVAL. */
int config_parse_bool(const char *s, int *out);

/** Parses a size: "1048576", "64k"/"64KiB", "1m"/"1MiB" -> bytes. */
int config_parse_size(const char *s, int64_t *out);

#endif
