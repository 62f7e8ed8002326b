/* config: one table of options; each has a flag, a NOTIFYD_* variable, a
 * default and a parser. Defaults < environment < flags. Runs on the main
 * thread before anything else starts. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_kind {
    OPT_ADDR,    /* struct nd_addr */
    OPT_STR,     /* char * (strdup) */
    OPT_LEVEL,   /* enum nd_log_level */
    OPT_SECONDS, /* int64_t seconds; plain numbers are seconds, units allowed */
    OPT_MILLIS,  /* int64_t milliseconds; plain numbers are milliseconds */
    OPT_SIZE,    /* int64_t bytes */
    OPT_ROLE,    /* char *: user, service or admin */
    OPT_COUNT,   /* int64_t whole number */
    OPT_BOOL,    /* int 0/1: on/off (also true/false, yes/no, 1/0) */
};

#define MODE_SERVE (1u << CONFIG_SERVE)
#define MODE_TOKEN (1u << CONFIG_TOKEN)
#define MODE_CHECK (1u << CONFIG_CHECKTOKEN)
#define MODE_BOTH (MODE_SERVE | MODE_TOKEN | MODE_CHECK) /* every command that reads the keys */

struct option_def {
    const char *flag; /* NULL: environment only (secrets) */
    const char *env;  /* NULL: flag only */
    const char *def;  /* NULL: unset unless given */
    enum opt_kind kind;
    size_t off;       /* offset in struct nd_config */
    int64_t min, max; /* numeric bounds (OPT_SECONDS/MILLIS/SIZE) */
    unsigned modes;
    const char *help;
};

#define OFF(f) offsetof(struct nd_config, f)

static const struct option_def options[] = {
    {"--grpc-addr", "NOTIFYD_GRPC_ADDR", "0.0.0.0:50051", OPT_ADDR, OFF(grpc), 0, 0, MODE_SERVE,
     "gRPC listen address (host:port, port 0 picks a free one)"},
    {"--http-addr", "NOTIFYD_HTTP_ADDR", "0.0.0.0:8080", OPT_ADDR, OFF(http), 0, 0, MODE_SERVE,
     "WebSocket/HTTP listen address"},
    {"--data-dir", "NOTIFYD_DATA_DIR", "./data", OPT_STR, OFF(data_dir), 0, 0, MODE_BOTH,
     "where the embedded default keeps its files (jwt_secret, messages.db)"},
    {NULL, "NOTIFYD_JWT_SECRET", NULL, OPT_STR, OFF(jwt_secret), 0, 0, MODE_BOTH,
     "HS256 secret (environment only); unset: the data dir's jwt_secret, which the server "
     "creates once (mode 0600)"},
    {"--jwt-secret-file", "NOTIFYD_JWT_SECRET_FILE", NULL, OPT_STR, OFF(jwt_secret_file), 0, 0,
     MODE_BOTH, "file holding the HS256 secret (a trailing newline is dropped)"},
    {"--jwt-public-key-file", "NOTIFYD_JWT_PUBLIC_KEY_FILE", NULL, OPT_STR,
     OFF(jwt_public_key_file), 0, 0, MODE_BOTH,
     "PEM public key (RSA or EC) for RS256/ES256 tokens; with it and no secret, HS256 is off"},
    {"--jwt-issuer", "NOTIFYD_JWT_ISSUER", NULL, OPT_STR, OFF(jwt_issuer), 0, 0, MODE_BOTH,
     "tokens must carry this iss"},
    {"--jwt-audience", "NOTIFYD_JWT_AUDIENCE", NULL, OPT_STR, OFF(jwt_audience), 0, 0, MODE_BOTH,
     "tokens must name this in aud"},
    {"--tls-cert-file", "NOTIFYD_TLS_CERT_FILE", NULL, OPT_STR, OFF(tls_cert_file), 0, 0,
     MODE_SERVE, "PEM certificate chain: TLS on both ports (wss://, gRPC over TLS)"},
    {"--tls-key-file", "NOTIFYD_TLS_KEY_FILE", NULL, OPT_STR, OFF(tls_key_file), 0, 0, MODE_SERVE,
     "PEM private key of the certificate"},
    {"--allowed-origins", "NOTIFYD_ALLOWED_ORIGINS", NULL, OPT_STR, OFF(allowed_origins), 0, 0,
     MODE_SERVE,
     "comma-separated Origins allowed to open /ws (https://app.example.com); unset: any"},
    {"--redis-url", "NOTIFYD_REDIS_URL", NULL, OPT_STR, OFF(redis_url), 0, 0, MODE_SERVE,
     "redis://[[user]:password@]host[:port][/db]: several instances act as one"},
    {"--ws-deflate", "NOTIFYD_WS_DEFLATE", "off", OPT_BOOL, OFF(ws_deflate), 0, 0, MODE_SERVE,
     "permessage-deflate (RFC 7692) for WebSocket clients that offer it: on or off"},
    {"--audit", "NOTIFYD_AUDIT", "all", OPT_STR, OFF(audit), 0, 0, MODE_SERVE,
     "audit log lines: all (every API call) or admin (broadcasts, test messages, template "
     "changes)"},
    {"--jwt-leeway", "NOTIFYD_JWT_LEEWAY", "30s", OPT_SECONDS, OFF(jwt_leeway_s), 0, 3600,
     MODE_SERVE | MODE_CHECK, "clock slack allowed on exp/nbf"},
    {"--log-level", "NOTIFYD_LOG_LEVEL", "info", OPT_LEVEL, OFF(log_level), 0, 0, MODE_BOTH,
     "debug, info, warn or error"},
    {"--shutdown-grace-ms", "NOTIFYD_SHUTDOWN_GRACE_MS", "10000", OPT_MILLIS,
     OFF(shutdown_grace_ms), 0, 3600000, MODE_SERVE,
     "on SIGTERM, time given to in-flight calls before they are cancelled"},
    {"--drain-delay-ms", "NOTIFYD_DRAIN_DELAY_MS", "0", OPT_MILLIS, OFF(drain_delay_ms), 0, 600000,
     MODE_SERVE,
     "on SIGTERM, time spent not ready (refusing new calls, connections open) before closing, "
     "so load balancers stop sending first"},
    {"--max-frame-bytes", "NOTIFYD_MAX_FRAME_BYTES", "64KiB", OPT_SIZE, OFF(max_frame_bytes), 128,
     16 << 20, MODE_SERVE, "largest WebSocket message accepted from a client"},
    {"--grpc-max-message-bytes", "NOTIFYD_GRPC_MAX_MESSAGE_BYTES", "1MiB", OPT_SIZE,
     OFF(grpc_max_message), 1024, 64 << 20, MODE_SERVE, "largest gRPC request accepted"},
    {"--max-body-bytes", "NOTIFYD_MAX_BODY_BYTES", "1MiB", OPT_SIZE, OFF(max_body_bytes), 64,
     64 << 20, MODE_SERVE, "largest REST request body (413 beyond, unread)"},
    {"--api-rate-limit", "NOTIFYD_API_RATE_LIMIT", "0", OPT_COUNT, OFF(api_rate_limit), 0, 10000000,
     MODE_SERVE,
     "API calls per second per caller, gRPC and REST together (0 = no limit; burst = 1 s)"},
    {"--heartbeat-interval-ms", "NOTIFYD_HEARTBEAT_INTERVAL_MS", "30000", OPT_MILLIS,
     OFF(heartbeat_interval_ms), 50, 3600000, MODE_SERVE,
     "how often each WebSocket gets a ping (JSON {\"type\":\"ping\"} and a WebSocket PING)"},
    {"--heartbeat-timeout-ms", "NOTIFYD_HEARTBEAT_TIMEOUT_MS", "60000", OPT_MILLIS,
     OFF(heartbeat_timeout_ms), 100, 7200000, MODE_SERVE,
     "close a WebSocket that sent nothing (message, pong) for this long (close 4002)"},
    {"--max-conns-per-user", "NOTIFYD_MAX_CONNS_PER_USER", "10", OPT_COUNT, OFF(max_conns_per_user),
     1, 1000000, MODE_SERVE,
     "WebSockets one user may hold; the one over the limit is refused (HTTP 429)"},
    {"--max-connections", "NOTIFYD_MAX_CONNECTIONS", "0", OPT_COUNT, OFF(max_connections), 0,
     10000000, MODE_SERVE,
     "WebSockets in all (HTTP 503 beyond); 0 = the open-files limit less a reserve"},
    {"--max-pending-calls", "NOTIFYD_MAX_PENDING_CALLS", "20000", OPT_COUNT, OFF(max_pending_calls),
     1, 10000000, MODE_SERVE,
     "API calls accepted and not answered yet, and deliveries waiting for each WebSocket "
     "thread, at most; beyond, RESOURCE_EXHAUSTED / 503 (back-pressure)"},
    {"--ws-threads", "NOTIFYD_WS_THREADS", "0", OPT_COUNT, OFF(ws_threads), 0, 64, MODE_SERVE,
     "WebSocket threads sharing the HTTP port, each with its own connections (0 = the number of "
     "cores)"},
    {"--max-http-connections", "NOTIFYD_MAX_HTTP_CONNECTIONS", "1024", OPT_COUNT,
     OFF(max_http_connections), 8, 1000000, MODE_SERVE,
     "connections on the HTTP port that are not WebSockets (yet); beyond, the oldest still "
     "sending its request head is closed"},
    {"--http-header-timeout-ms", "NOTIFYD_HTTP_HEADER_TIMEOUT_MS", "10000", OPT_MILLIS,
     OFF(http_header_timeout_ms), 100, 600000, MODE_SERVE,
     "time a client has to send a request head, and between two pieces of a body (408 beyond)"},
    {"--watchdog-ms", "NOTIFYD_WATCHDOG_MS", "10000", OPT_MILLIS, OFF(watchdog_ms), 0, 3600000,
     MODE_SERVE,
     "liveness fails when the WebSocket or gRPC loop has not turned for this long (0 = off)"},
    {"--client-msg-rate", "NOTIFYD_CLIENT_MSG_RATE", "20", OPT_COUNT, OFF(client_msg_rate), 0,
     1000000, MODE_SERVE,
     "messages per second a WebSocket client may send (burst 2x; 0 = no limit)"},
    {"--max-queue-messages", "NOTIFYD_MAX_QUEUE_MESSAGES", "1024", OPT_COUNT,
     OFF(max_queue_messages), 1, 1000000, MODE_SERVE,
     "messages queued for one slow WebSocket before it is closed (4001)"},
    {"--max-queue-bytes", "NOTIFYD_MAX_QUEUE_BYTES", "1MiB", OPT_SIZE, OFF(max_queue_bytes), 1024,
     1 << 30, MODE_SERVE, "bytes queued for one slow WebSocket before it is closed (4001)"},
    {"--offline-ttl", "NOTIFYD_OFFLINE_TTL", "7d", OPT_SECONDS, OFF(offline_ttl_s), 1,
     10LL * 365 * 86400, MODE_SERVE, "how long a message kept for an offline user waits"},
    {"--command-ttl", "NOTIFYD_COMMAND_TTL", "5m", OPT_SECONDS, OFF(command_ttl_s), 1,
     10LL * 365 * 86400, MODE_SERVE,
     "how long a browser command (batchgo_open_url) kept for an offline user waits (at most "
     "the offline TTL)"},
    {"--offline-max-per-user", "NOTIFYD_OFFLINE_MAX_PER_USER", "1000", OPT_COUNT,
     OFF(offline_max_per_user), 1, 1000000, MODE_SERVE,
     "messages kept per offline user (the oldest go first)"},
    {"--history-size", "NOTIFYD_HISTORY_SIZE", "50", OPT_COUNT, OFF(history_size), 0, 100000,
     MODE_SERVE, "recent messages kept per user for resume (?since=); 0 = none"},
    {"--history-ttl", "NOTIFYD_HISTORY_TTL", "5m", OPT_SECONDS, OFF(history_ttl_s), 1, 7LL * 86400,
     MODE_SERVE, "how long recent messages are kept for resume"},
    {"--feed-ttl", "NOTIFYD_FEED_TTL", "30d", OPT_SECONDS, OFF(feed_ttl_s), 1, 10LL * 365 * 86400,
     MODE_SERVE, "how long an item stays in the notification feed"},
    {"--feed-max-per-user", "NOTIFYD_FEED_MAX_PER_USER", "500", OPT_COUNT, OFF(feed_max_per_user),
     1, 10000, MODE_SERVE,
     "items in one user's feed, broadcasts included (the oldest are dropped first)"},
    {"--user", NULL, NULL, OPT_STR, OFF(token_user), 0, 0, MODE_TOKEN,
     "user id put in the token (required)"},
    {"--role", NULL, "user", OPT_ROLE, OFF(token_role), 0, 0, MODE_TOKEN, "user, service or admin"},
    {"--ttl", NULL, "24h", OPT_SECONDS, OFF(token_ttl_s), 1, 10LL * 365 * 86400, MODE_TOKEN,
     "lifetime (e.g. 3600, 15m, 24h, 30d)"},
};

#define N_OPTIONS (sizeof options / sizeof options[0])

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int config_parse_addr(const char *s, struct nd_addr *out, char *err, size_t errlen)
{
    const char *colon;
    size_t hostlen;
    const char *host = s;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            fail(err, errlen, "\"%s\" is not host:port ([v6]:port for IPv6)", s);
            return -EINVAL;
        }
        host = s + 1;
        hostlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            fail(err, errlen, "\"%s\" is not host:port", s);
            return -EINVAL;
        }
        hostlen = (size_t)(colon - s);
        if (memchr(s, ':', hostlen)) {
            fail(err, errlen, "\"%s\": write IPv6 addresses as [addr]:port", s);
            return -EINVAL;
        }
    }
    if (hostlen >= sizeof out->host) {
        fail(err, errlen, "host in \"%s\" is too long", s);
        return -EINVAL;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == 0 || *end || errno || port < 0 || port > 65535) {
        fail(err, errlen, "\"%s\": port must be a number from 0 to 65535", s);
        return -EINVAL;
    }
    memcpy(out->host, host, hostlen);
    out->host[hostlen] = 0;
    out->port = (int)port;
    return 0;
}

/* number with an optional unit suffix; @units maps suffix -> multiplier */
struct unit {
    const char *suffix;
    int64_t mul;
};

static int parse_scaled(const char *s, const struct unit *units, int64_t plain_mul, int64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)s[0])) /* strtoll would skip spaces and take signs */
        return -EINVAL;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -EINVAL;
    int64_t mul = plain_mul;
    if (*end) {
        mul = 0;
        for (const struct unit *u = units; u->suffix; u++) {
            if (strcasecmp(end, u->suffix) == 0) {
                mul = u->mul;
                break;
            }
        }
        if (!mul)
            return -EINVAL;
    }
    if (v > INT64_MAX / mul)
        return -ERANGE;
    *out = (int64_t)v * mul;
    return 0;
}

static const struct unit time_units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                                         {"h", 3600000}, {"d", 86400000}, {NULL, 0}};

int config_parse_duration_ms(const char *s, int64_t *out_ms)
{
    return parse_scaled(s, time_units, 1000, out_ms);
}

int config_parse_size(const char *s, int64_t *out)
{
    static const struct unit size_units[] = {
        {"b", 1},        {"k", 1024},      {"kb", 1024},   {"kib", 1024},    {"m", 1 << 20},
        {"mb", 1 << 20}, {"mib", 1 << 20}, {"g", 1 << 30}, {"gib", 1 << 30}, {NULL, 0}};
    return parse_scaled(s, size_units, 1, out);
}

int config_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"}, *const no[] = {"off", "false",
                                                                                "no", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
            *out = !strcasecmp(s, yes[i]);
            return 0;
        }
    }
    return -EINVAL;
}

/* applies one value; @source names where it came from, for the error line */
static int apply(struct nd_config *cfg, const struct option_def *o, const char *v,
                 const char *source, char *err, size_t errlen)
{
    void *field = (char *)cfg + o->off;
    char why[200];
    int64_t n = 0;
    int rc;

    switch (o->kind) {
    case OPT_ADDR:
        if (config_parse_addr(v, field, why, sizeof why) < 0) {
            fail(err, errlen, "%s: %s", source, why);
            return -EINVAL;
        }
        return 0;
    case OPT_ROLE:
        if (strcmp(v, "user") && strcmp(v, "service") && strcmp(v, "admin")) {
            fail(err, errlen, "%s: role \"%s\" is not one of user, service, admin", source, v);
            return -EINVAL;
        }
        /* fallthrough */
    case OPT_STR: {
        char **p = field;
        if (!v[0]) {
            fail(err, errlen, "%s: must not be empty", source);
            return -EINVAL;
        }
        char *copy = strdup(v);
        if (!copy) {
            fail(err, errlen, "%s: out of memory", source);
            return -ENOMEM;
        }
        free(*p);
        *p = copy;
        return 0;
    }
    case OPT_LEVEL:
        if (nd_log_level_parse(v, field) < 0) {
            fail(err, errlen, "%s: \"%s\" is not one of debug, info, warn, error", source, v);
            return -EINVAL;
        }
        return 0;
    case OPT_BOOL:
        if (config_parse_bool(v, field) < 0) {
            fail(err, errlen, "%s: \"%s\" is not one of on, off", source, v);
            return -EINVAL;
        }
        return 0;
    case OPT_SECONDS:
        rc = config_parse_duration_ms(v, &n);
        n /= 1000;
        break;
    case OPT_MILLIS: rc = parse_scaled(v, time_units, 1, &n); break;
    case OPT_SIZE: rc = config_parse_size(v, &n); break;
    case OPT_COUNT:
        rc = v[0] && strspn(v, "0123456789") == strlen(v) && strlen(v) < 16 ? 0 : -EINVAL;
        if (rc == 0)
            n = strtoll(v, NULL, 10);
        break;
    default: rc = -EINVAL;
    }
    if (rc < 0) {
        fail(err, errlen, "%s: \"%s\" is not a valid %s", source, v,
             o->kind == OPT_SIZE    ? "size (e.g. 65536, 64KiB, 1MiB)"
             : o->kind == OPT_COUNT ? "whole number"
                                    : "duration (e.g. 500ms, 30s, 15m, 24h, 7d)");
        return -EINVAL;
    }
    if (n < o->min || n > o->max) {
        fail(err, errlen, "%s: %s is out of range (%" PRId64 " to %" PRId64 "%s)", source, v,
             o->min, o->max,
             o->kind == OPT_SIZE     ? " bytes"
             : o->kind == OPT_MILLIS ? " ms"
             : o->kind == OPT_COUNT  ? ""
                                     : " seconds");
        return -EINVAL;
    }
    *(int64_t *)field = n;
    return 0;
}

static const struct option_def *find_flag(const char *arg, size_t len, unsigned mode)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        if (o->flag && (o->modes & mode) && strlen(o->flag) == len && !strncmp(o->flag, arg, len))
            return o;
    }
    return NULL;
}

enum config_result config_parse(struct nd_config *cfg, enum config_mode mode, int argc, char **argv,
                                char *err, size_t errlen)
{
    unsigned m = 1u << mode;
    char source[128];

    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        if (!(o->modes & m))
            continue;
        if (o->def) {
            snprintf(source, sizeof source, "default of %s", o->flag ? o->flag : o->env);
            if (apply(cfg, o, o->def, source, err, errlen) < 0)
                goto fail;
        }
        const char *v = o->env ? getenv(o->env) : NULL;
        if (v && v[0]) {
            if (apply(cfg, o, v, o->env, err, errlen) < 0)
                goto fail;
        }
    }

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            config_free(cfg);
            return CONFIG_HELP;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const struct option_def *o = strncmp(a, "--", 2) == 0 ? find_flag(a, len, m) : NULL;
        if (!o) {
            fail(err, errlen, "unknown %s \"%.*s\" (see notifyd%s --help)",
                 a[0] == '-' ? "flag" : "argument", (int)len, a,
                 mode == CONFIG_TOKEN        ? " token"
                 : mode == CONFIG_CHECKTOKEN ? " checktoken"
                                             : "");
            goto fail;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                fail(err, errlen, "%s needs a value", o->flag);
                goto fail;
            }
            v = argv[++i];
        }
        if (apply(cfg, o, v, o->flag, err, errlen) < 0)
            goto fail;
    }

    if (mode == CONFIG_SERVE && cfg->heartbeat_timeout_ms <= cfg->heartbeat_interval_ms) {
        fail(err, errlen,
             "NOTIFYD_HEARTBEAT_TIMEOUT_MS (%lld) must be longer than "
             "NOTIFYD_HEARTBEAT_INTERVAL_MS (%lld)",
             (long long)cfg->heartbeat_timeout_ms, (long long)cfg->heartbeat_interval_ms);
        goto fail;
    }
    if (mode == CONFIG_SERVE && !!cfg->tls_cert_file != !!cfg->tls_key_file) {
        fail(err, errlen, "TLS needs both NOTIFYD_TLS_CERT_FILE and NOTIFYD_TLS_KEY_FILE");
        goto fail;
    }
    if (mode == CONFIG_SERVE && strcmp(cfg->audit, "all") && strcmp(cfg->audit, "admin")) {
        fail(err, errlen, "NOTIFYD_AUDIT: \"%s\" is not one of all, admin", cfg->audit);
        goto fail;
    }
    if (mode == CONFIG_TOKEN && !cfg->token_user) {
        fail(err, errlen, "--user is required (notifyd token --user ID [--role R] [--ttl S])");
        goto fail;
    }
    return CONFIG_OK;

fail:
    config_free(cfg);
    return CONFIG_ERROR;
}

extern char **environ;

void config_unknown_env(void (*fn)(const char *name))
{
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "NOTIFYD_", 8))
            continue;
        size_t len = strcspn(*e, "=");
        char name[128];
        if (len >= sizeof name)
            continue;
        memcpy(name, *e, len);
        name[len] = 0;
        if (strstr(name, "_SERVICE_") || strstr(name, "_PORT_") ||
            (len > 5 && !strcmp(name + len - 5, "_PORT")))
            continue; /* Kubernetes service links */
        /* the test fault switches: read by fault.c and main.c, tests only */
        int known = !strcmp(name, "NOTIFYD_TEST_FAULTS") ||
                    !strcmp(name, "NOTIFYD_TEST_FAULT_WS") ||
                    !strcmp(name, "NOTIFYD_TEST_FAULT_USR2");
        for (size_t i = 0; i < N_OPTIONS && !known; i++)
            known = options[i].env && !strcmp(options[i].env, name);
        if (!known)
            fn(name);
    }
}

void config_free(struct nd_config *cfg)
{
    free(cfg->data_dir);
    free(cfg->jwt_secret);
    free(cfg->jwt_secret_file);
    free(cfg->jwt_public_key_file);
    free(cfg->jwt_issuer);
    free(cfg->jwt_audience);
    free(cfg->tls_cert_file);
    free(cfg->tls_key_file);
    free(cfg->allowed_origins);
    free(cfg->audit);
    free(cfg->redis_url);
    free(cfg->token_user);
    free(cfg->token_role);
    memset(cfg, 0, sizeof *cfg);
}

void config_usage(enum config_mode mode, void *out)
{
    FILE *f = out;
    unsigned m = 1u << mode;

    if (mode == CONFIG_TOKEN)
        fprintf(f, "usage: notifyd token --user ID [--role user|service|admin] [--ttl S]\n\n"
                   "Prints a development token signed with the configured HS256 secret (the\n"
                   "data dir's jwt_secret when none is set; never a new one). Which key signed\n"
                   "it goes to stderr.\n\n");
    else if (mode == CONFIG_CHECKTOKEN)
        fprintf(f, "usage: notifyd checktoken TOKEN [flags]   (TOKEN \"-\": read it from stdin)\n\n"
                   "Checks TOKEN as the server configured by these flags would: prints its\n"
                   "verified claims (exit 0) or the exact reason it is refused (exit 1).\n\n");
    else
        fprintf(f, "usage: notifyd [flags]              run the service\n"
                   "       notifyd token --user ID       print a signed development token\n"
                   "       notifyd checktoken TOKEN      verify a token: its claims, or why not\n"
                   "       notifyd --version\n\n"
                   "Every flag can also be set by its environment variable; flags win.\n\n");
    fprintf(f, "%-30s %-32s %-16s %s\n", "flag", "variable", "default", "meaning");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        if (!(o->modes & m))
            continue;
        fprintf(f, "%-30s %-32s %-16s %s\n", o->flag ? o->flag : "-", o->env ? o->env : "-",
                o->def ? o->def : "-", o->help);
    }
}
