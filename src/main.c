/* main: parse the configuration, start the modules in order (WebSocket side,
 * then gRPC), wait for SIGTERM/SIGINT, stop them in reverse. Signals are
 * blocked in every thread and taken here with sigwait(). */
#include <ctype.h>
#include <errno.h>
#include <grpc/grpc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "auth/token.h"
#include "backend/backend.h"
#include "config.h"
#include "health.h"
#include "log.h"
#include "nd.h"
#include "notify/templates.h"
#include "rpc/server.h"
#include "service/service.h"
#include "stats.h"
#include "ws/server.h"

/* reads a small text file (a PEM key) into a malloc'd string */
static char *read_text(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = calloc(1, 65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    int big = buf && !feof(f);
    fclose(f);
    if (!buf || big || n == 0) {
        snprintf(err, errlen, "%s is %s", path, big ? "over 64 KiB" : "empty");
        free(buf);
        return NULL;
    }
    return buf;
}

/* an HS256 secret must be long enough and not the manifests' placeholder;
 * whitespace at either end is refused rather than guessed about */
static int secret_ok(const char *s, const char *where, char *err, size_t errlen)
{
    size_t n = strlen(s);
    if (n < 32)
        snprintf(err, errlen,
                 "%s is %zu bytes: an HS256 secret needs at least 32 "
                 "(openssl rand -base64 48)",
                 where, n);
    else if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]))
        snprintf(err, errlen,
                 "%s starts or ends with whitespace (a newline from a file?): "
                 "remove it, every signer must use the same bytes",
                 where);
    else if (!strncasecmp(s, "REPLACE-ME", 10))
        snprintf(err, errlen, "%s is still the placeholder: set a real secret", where);
    else
        return 0;
    return -EINVAL;
}

/* the JWT keys: the configured secret (or the one kept in the data dir,
 * unless only a public key is configured) and the public key file */
static struct token_keys *load_keys(const struct nd_config *cfg, char *err, size_t errlen)
{
    char *secret = NULL, *pem = NULL, why[300];
    struct token_keys *keys = NULL;
    if (cfg->jwt_public_key_file && !(pem = read_text(cfg->jwt_public_key_file, err, errlen)))
        return NULL;
    if (cfg->jwt_secret) {
        secret = strdup(cfg->jwt_secret);
    } else if (cfg->jwt_secret_file) {
        if (!(secret = read_text(cfg->jwt_secret_file, err, errlen)))
            goto done;
        secret[strcspn(secret, "\r\n")] = 0; /* a file ends with a newline: not part of the key */
    } else if (!pem && token_secret_load(cfg->data_dir, &secret, err, errlen) < 0) {
        goto done;
    }
    if (secret && secret_ok(secret,
                            cfg->jwt_secret        ? "NOTIFYD_JWT_SECRET"
                            : cfg->jwt_secret_file ? cfg->jwt_secret_file
                                                   : "the data-dir jwt_secret",
                            err, errlen) < 0)
        goto done;
    struct token_keys_config kc = {secret, pem, cfg->jwt_issuer, cfg->jwt_audience};
    keys = token_keys_new(&kc, why, sizeof why);
    if (!keys)
        snprintf(err, errlen, "%s%s%s", pem ? cfg->jwt_public_key_file : "", pem ? ": " : "", why);
done:
    if (secret)
        memset(secret, 0, strlen(secret));
    free(secret);
    free(pem);
    return keys;
}

static void warn_unknown(const char *name)
{
    nd_log(ND_LOG_WARN, "unknown setting ignored (see notifyd --help)", "{s:s}", "variable", name);
}

static void exit_now(int sig)
{
    _exit(128 + sig);
}

static int token_main(int argc, char **argv)
{
    struct nd_config cfg;
    char err[512];
    enum config_result r = config_parse(&cfg, CONFIG_TOKEN, argc, argv, err, sizeof err);
    if (r == CONFIG_HELP) {
        config_usage(CONFIG_TOKEN, stdout);
        return 0;
    }
    if (r == CONFIG_ERROR) {
        fprintf(stderr, "notifyd token: %s\n", err);
        return 2;
    }
    int rc = 1;
    if (!token_user_id_valid(cfg.token_user, strlen(cfg.token_user))) {
        fprintf(stderr,
                "notifyd token: --user must be 1 to %d characters of A-Z a-z 0-9 _ . @ : -\n",
                ND_USER_ID_MAX);
        goto done;
    }
    struct token_keys *keys = load_keys(&cfg, err, sizeof err);
    if (!keys) {
        fprintf(stderr, "notifyd token: %s\n", err);
        goto done;
    }
    if (!token_keys_can_sign(keys)) {
        fprintf(stderr, "notifyd token: HS256 is off (a public key and no NOTIFYD_JWT_SECRET): "
                        "tokens come from your identity provider\n");
        token_keys_free(keys);
        goto done;
    }
    char *tok = token_sign(keys, cfg.token_user, cfg.token_role, time(NULL), cfg.token_ttl_s);
    token_keys_free(keys);
    if (!tok) {
        fprintf(stderr, "notifyd token: cannot sign the token\n");
        goto done;
    }
    printf("%s\n", tok);
    free(tok);
    rc = 0;
done:
    config_free(&cfg);
    return rc;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int serve(int argc, char **argv)
{
    struct nd_config cfg;
    char err[512];
    int rc = 1;
    struct token_keys *keys;
    struct token_keyring keyring;
    struct ws_server *ws = NULL;

    token_keyring_init(&keyring, NULL);
    struct service *svc = NULL;
    struct rpc_server *rpc = NULL;
    struct backend *backend = NULL;
    struct templates *templates = NULL;

    enum config_result r = config_parse(&cfg, CONFIG_SERVE, argc, argv, err, sizeof err);
    if (r == CONFIG_HELP) {
        config_usage(CONFIG_SERVE, stdout);
        return 0;
    }
    if (r == CONFIG_ERROR) {
        fprintf(stderr, "notifyd: %s\n", err);
        return 2;
    }
    nd_log_set_level(cfg.log_level);
    nd_log_capture_libraries();
    config_unknown_env(warn_unknown);
    raise_fd_limit();
    atomic_store(&nd_stats.started_ms, nd_wall_ms());

    keys = load_keys(&cfg, err, sizeof err);
    if (!keys)
        goto fail;
    token_keyring_swap(&keyring, keys); /* the keyring owns them */
    templates = templates_new();
    if (!templates) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    /* in a cluster, messages owed to users live in Redis; alone, in the data dir */
    backend = cfg.redis_url ? backend_redis_new(&cfg, templates, err, sizeof err)
                            : backend_embedded_new(&cfg, templates, err, sizeof err);
    if (!backend)
        goto fail;
    grpc_init();
    svc = service_new(&cfg, backend, templates);
    if (!svc) {
        snprintf(err, sizeof err, "out of memory");
        goto fail_grpc;
    }
    ws = ws_server_start(&cfg, &keyring, backend, err, sizeof err);
    if (!ws)
        goto fail_grpc;
    ws_server_set_service(ws, svc);
    if (backend_start(backend, err, sizeof err) < 0)
        goto fail_grpc;
    rpc = rpc_server_start(&cfg, &keyring, svc, err, sizeof err);
    if (!rpc)
        goto fail_grpc;

    ws_server_set_metrics_hook(ws, rpc_server_metrics, rpc);
    health_set(HEALTH_READY);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    nd_log(ND_LOG_INFO, "listening", "{s:s, s:i, s:i, s:s, s:s, s:s, s:I, s:I}", "version",
           ND_VERSION, "grpc_port", rpc_server_port(rpc), "http_port", ws_server_port(ws),
           "data_dir", cfg.data_dir, "tls", cfg.tls_cert_file ? "on" : "off", "ws_deflate",
           cfg.ws_deflate ? "on" : "off", "max_connections",
           (json_int_t)ws_server_max_connections(ws), "open_files_limit", (json_int_t)rl.rlim_cur);
    if (cfg.max_connections && (rlim_t)cfg.max_connections + 128 > rl.rlim_cur)
        nd_log(ND_LOG_WARN, "NOTIFYD_MAX_CONNECTIONS is above what the open-files limit allows",
               "{s:I, s:I}", "max_connections", (json_int_t)cfg.max_connections, "open_files_limit",
               (json_int_t)rl.rlim_cur);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) { /* reload the JWT keys */
        struct token_keys *fresh = load_keys(&cfg, err, sizeof err);
        if (fresh) {
            token_keyring_swap(&keyring, fresh);
            nd_log(ND_LOG_INFO, "jwt keys reloaded", NULL);
        } else {
            nd_log(ND_LOG_ERROR, "jwt keys not reloaded: keeping the old ones", "{s:s}", "error",
                   err);
        }
    }
    sigdelset(&set, SIGHUP);

    /* a second signal ends the process at once -- explicitly: as PID 1 in a
     * container the kernel would ignore a signal left to its default action */
    signal(SIGINT, exit_now);
    signal(SIGTERM, exit_now);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    health_set(HEALTH_DRAINING);
    nd_log(ND_LOG_INFO, "draining", "{s:s, s:I}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
           "grace_ms", (json_int_t)cfg.shutdown_grace_ms);
    if (cfg.drain_delay_ms > 0) { /* not ready, still connected: load balancers catch up */
        struct timespec d = {cfg.drain_delay_ms / 1000, (cfg.drain_delay_ms % 1000) * 1000000};
        while (nanosleep(&d, &d) < 0 && errno == EINTR)
            ;
    }
    int64_t t0 = nd_mono_ms();
    rpc_server_stop(rpc, cfg.shutdown_grace_ms);
    int64_t spent = nd_mono_ms() - t0;
    int64_t left = cfg.shutdown_grace_ms - spent;
    ws_server_stop(ws, left < 1000 ? (left > 0 ? left : 1) : 1000);
    backend_stop(
        backend); /* flushes, leaves the cluster; its last answers run in ws_server_free() */
    rc = 0;
    nd_log(ND_LOG_INFO, "stopped", NULL);
    goto done;

fail_grpc:
    fprintf(stderr, "notifyd: %s\n", err);
    if (ws)
        ws_server_stop(ws, 1);
    backend_stop(backend);
done:
    rpc_server_free(rpc);
    ws_server_free(ws);
    service_free(svc);
    grpc_shutdown();
    backend_free(backend);
    templates_free(templates);
    token_keyring_free(&keyring);
    config_free(&cfg);
    return rc;
fail:
    fprintf(stderr, "notifyd: %s\n", err);
    templates_free(templates);
    token_keyring_free(&keyring);
    config_free(&cfg);
    return 1;
}

int main(int argc, char **argv)
{
    /* every thread inherits this mask; main takes the signals with sigwait() */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (argc > 1 && !strcmp(argv[1], "token"))
        return token_main(argc - 2, argv + 2);
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("notifyd %s\n", ND_VERSION);
        return 0;
    }
    return serve(argc - 1, argv + 1);
}
