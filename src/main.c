/* main: parse the configuration, start the modules in order (one start
 * table: keys, templates, the backend engine, the service, the WebSocket
 * side, then gRPC), wait for SIGTERM/SIGINT, stop them in reverse. Signals
 * are blocked in every thread and taken here with sigwait(). */
#include <ctype.h>
#include <errno.h>
#include <grpc/grpc.h>
#include <jansson.h>
#include <pthread.h>
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
#include "datadir.h"
#include "fault.h"
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

/* @dir made absolute for messages (it may not exist yet) */
static void absolute(const char *dir, char *out, size_t outlen)
{
    char cwd[4096];
    if (dir[0] == '/' || !getcwd(cwd, sizeof cwd) ||
        snprintf(out, outlen, "%s/%s", cwd, !strncmp(dir, "./", 2) ? dir + 2 : dir) >= (int)outlen)
        snprintf(out, outlen, "%s", dir);
}

/* the JWT keys: the configured secret (or the one kept in the data dir,
 * unless only a public key is configured -- created there when @create) and
 * the public key file; @source says which, for messages */
static struct token_keys *load_keys(const struct nd_config *cfg, int create, char *source,
                                    size_t srclen, char *err, size_t errlen)
{
    char *secret = NULL, *pem = NULL, why[300], dir[4096];
    struct token_keys *keys = NULL;
    absolute(cfg->data_dir, dir, sizeof dir);
    if (cfg->jwt_public_key_file && !(pem = read_text(cfg->jwt_public_key_file, err, errlen)))
        return NULL;
    if (cfg->jwt_secret) {
        secret = strdup(cfg->jwt_secret);
        snprintf(source, srclen, "the HS256 secret in NOTIFYD_JWT_SECRET");
    } else if (cfg->jwt_secret_file) {
        if (!(secret = read_text(cfg->jwt_secret_file, err, errlen)))
            goto done;
        secret[strcspn(secret, "\r\n")] = 0; /* a file ends with a newline: not part of the key */
        snprintf(source, srclen, "the HS256 secret in %s", cfg->jwt_secret_file);
    } else if (!pem) {
        int rc = create ? token_secret_load(cfg->data_dir, &secret, err, errlen)
                        : token_secret_read(cfg->data_dir, &secret, err, errlen);
        if (rc == -ENOENT && !create)
            snprintf(err, errlen,
                     "no JWT key: NOTIFYD_JWT_SECRET, NOTIFYD_JWT_SECRET_FILE and "
                     "NOTIFYD_JWT_PUBLIC_KEY_FILE are unset, and %s/jwt_secret does not exist "
                     "(notifyd creates it on its first start): run this with notifyd's "
                     "--data-dir, or set the key notifyd uses",
                     dir);
        if (rc < 0)
            goto done;
        snprintf(source, srclen, "the HS256 secret in %s/jwt_secret", dir);
    }
    if (pem)
        snprintf(source + strlen(source), srclen - strlen(source), "%sthe public key in %s",
                 secret ? " and " : "", cfg->jwt_public_key_file);
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
    char err[512], source[4400] = "";
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
    /* never a new secret: tokens signed with one the server does not use are refused */
    struct token_keys *keys = load_keys(&cfg, 0, source, sizeof source, err, sizeof err);
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
    printf("%s\n", tok); /* stdout is the token alone: TOKEN=$(notifyd token ...) */
    fprintf(stderr, "notifyd token: signed with %s\n", source);
    free(tok);
    rc = 0;
done:
    config_free(&cfg);
    return rc;
}

/* notifyd checktoken TOKEN|- [flags]: the claims (stdout, exit 0) or why the
 * server would refuse it (stderr, exit 1) */
static int checktoken_main(int argc, char **argv)
{
    struct nd_config cfg;
    char err[512], source[4400] = "", line[ND_TOKEN_MAX + 16] = "", why[1024];
    const char *tok = argc > 0 && strncmp(argv[0], "--", 2) ? argv[0] : NULL;
    enum config_result r =
        config_parse(&cfg, CONFIG_CHECKTOKEN, argc - !!tok, argv + !!tok, err, sizeof err);
    if (r == CONFIG_HELP) {
        config_usage(CONFIG_CHECKTOKEN, stdout);
        return 0;
    }
    if (r == CONFIG_ERROR || !tok) {
        fprintf(stderr, "notifyd checktoken: %s\n",
                r == CONFIG_ERROR ? err
                                  : "give the token: notifyd checktoken TOKEN (or - for stdin)");
        if (r != CONFIG_ERROR)
            config_free(&cfg);
        return 2;
    }
    if (!strcmp(tok, "-")) {
        if (!fgets(line, sizeof line, stdin))
            line[0] = 0;
        line[strcspn(line, "\r\n")] = 0;
        tok = line;
    }
    if (token_from_bearer(tok)) /* pasted with its scheme */
        tok = token_from_bearer(tok);
    int rc = 1;
    struct token_keys *keys = load_keys(&cfg, 0, source, sizeof source, err, sizeof err);
    if (!keys) {
        fprintf(stderr, "notifyd checktoken: %s\n", err);
        goto done;
    }
    struct token_claims claims;
    int64_t now = time(NULL);
    enum token_result res = token_explain(keys, tok, now, cfg.jwt_leeway_s, why, sizeof why);
    if (res == TOKEN_OK && token_verify(keys, tok, now, cfg.jwt_leeway_s, &claims) == TOKEN_OK) {
        char expires[64] = "never expires (no exp)";
        struct tm tm;
        time_t exp = (time_t)claims.exp;
        if (claims.exp && gmtime_r(&exp, &tm))
            strftime(expires, sizeof expires, "expires %Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%s\n", why);
        fprintf(stderr,
                "notifyd checktoken: valid for user %s, role%s%s%s%s, %s; checked with %s\n",
                claims.user_id, claims.roles & TOKEN_ROLE_ADMIN ? " admin" : "",
                claims.roles & TOKEN_ROLE_SERVICE ? " service" : "",
                claims.roles & TOKEN_ROLE_USER ? " user" : "",
                claims.roles & (TOKEN_ROLE_ADMIN | TOKEN_ROLE_SERVICE) ? " (may call the API)"
                                                                       : " (WebSocket only)",
                expires, source);
        rc = 0;
    } else {
        fprintf(stderr, "notifyd checktoken: refused: %s (checked with %s)\n", why, source);
    }
    token_keys_free(keys);
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

/* --- the start table: one row per module, started in order; whatever started
 * is stopped, then freed, in reverse --- */

struct app {
    const struct nd_config *cfg;
    struct token_keyring *keyring;
    struct templates *templates;
    struct backend *backend; /* the engine, chosen once: NOTIFYD_REDIS_URL or the data dir */
    struct service *svc;
    struct ws_server *ws;
    struct rpc_server *rpc;
    int lock_fd;           /* the data dir's lock, or -1 */
    char key_source[4400]; /* which JWT keys: for the log */
    int64_t stop_by_ms;    /* monotonic: the grace period's end, once stopping */
    char *err;             /* a failed start says why here */
    size_t errlen;
};

/* one process per data dir: locked when notifyd keeps something there (the
 * embedded engine's messages.db, or the JWT secret it created) */
static int datadir_start(struct app *a)
{
    const struct nd_config *cfg = a->cfg;
    int secret_there = !cfg->jwt_secret && !cfg->jwt_secret_file && !cfg->jwt_public_key_file;
    if (cfg->redis_url && !secret_there)
        return 0;
    a->lock_fd = datadir_lock(cfg->data_dir, a->err, a->errlen);
    return a->lock_fd < 0 ? -1 : 0;
}

static void datadir_free(struct app *a)
{
    datadir_unlock(a->lock_fd);
}

static int keys_start(struct app *a)
{
    struct token_keys *keys =
        load_keys(a->cfg, 1, a->key_source, sizeof a->key_source, a->err, a->errlen);
    if (!keys)
        return -1;
    token_keyring_swap(a->keyring, keys); /* the keyring owns them */
    return 0;
}

static void keys_free(struct app *a)
{
    token_keyring_free(a->keyring);
}

static int templates_start(struct app *a)
{
    if (!(a->templates = templates_new()))
        snprintf(a->err, a->errlen, "out of memory");
    return a->templates ? 0 : -1;
}

static void templates_free_(struct app *a)
{
    templates_free(a->templates);
}

/* in a cluster, messages owed to users live in Redis; alone, in the data dir */
static int backend_open(struct app *a)
{
    a->backend = a->cfg->redis_url ? backend_redis_new(a->cfg, a->templates, a->err, a->errlen)
                                   : backend_embedded_new(a->cfg, a->templates, a->err, a->errlen);
    return a->backend ? 0 : -1;
}

static void backend_stop_(struct app *a)
{
    backend_stop(a->backend); /* flushes, leaves the cluster; its last answers run in ws_free */
}

static void backend_free_(struct app *a)
{
    backend_free(a->backend);
}

static int grpc_start(struct app *a)
{
    (void)a;
    grpc_init();
    return 0;
}

static void grpc_free(struct app *a)
{
    (void)a;
    grpc_shutdown();
}

static int service_start(struct app *a)
{
    if (!(a->svc = service_new(a->cfg, a->backend, a->templates)))
        snprintf(a->err, a->errlen, "out of memory");
    return a->svc ? 0 : -1;
}

static void service_free_(struct app *a)
{
    service_free(a->svc);
}

static int ws_start(struct app *a)
{
    a->ws = ws_server_start(a->cfg, a->keyring, a->backend, a->err, a->errlen);
    if (!a->ws)
        return -1;
    ws_server_set_service(a->ws, a->svc);
    return 0;
}

static int64_t grace_left_ms(const struct app *a)
{
    return a->stop_by_ms - nd_mono_ms();
}

static void ws_stop(struct app *a)
{
    int64_t left = grace_left_ms(a); /* what the gRPC calls left of the grace period */
    ws_server_stop(a->ws, left < 1000 ? (left > 0 ? left : 1) : 1000);
}

static void ws_free(struct app *a)
{
    ws_server_free(a->ws);
}

/* after the WebSocket side is there to deliver into: Redis connects */
static int backend_run(struct app *a)
{
    return backend_start(a->backend, a->err, a->errlen) < 0 ? -1 : 0;
}

static int rpc_start(struct app *a)
{
    a->rpc = rpc_server_start(a->cfg, a->keyring, a->svc, a->err, a->errlen);
    if (!a->rpc)
        return -1;
    ws_server_set_metrics_hook(a->ws, rpc_server_metrics, a->rpc);
    return 0;
}

static void rpc_stop(struct app *a)
{
    rpc_server_stop(a->rpc, grace_left_ms(a)); /* in-flight calls finish; nd-ws still answers */
}

static void rpc_free(struct app *a)
{
    rpc_server_free(a->rpc);
}

static const struct module {
    const char *name;            /* for the log */
    int (*start)(struct app *a); /* 0, or -1 with a reason in a->err (leaving nothing behind) */
    void (*stop)(struct app *a); /* NULL: nothing runs */
    void (*free)(struct app *a); /* NULL: nothing held */
} modules[] = {
    {"data dir", datadir_start, NULL, datadir_free},
    {"keys", keys_start, NULL, keys_free},
    {"templates", templates_start, NULL, templates_free_},
    {"backend", backend_open, backend_stop_, backend_free_},
    {"grpc", grpc_start, NULL, grpc_free},
    {"service", service_start, NULL, service_free_},
    {"ws", ws_start, ws_stop, ws_free},
    {"backend start", backend_run, NULL, NULL},
    {"rpc", rpc_start, rpc_stop, rpc_free},
};

/* starts the modules in order; returns how many started */
static size_t start_all(struct app *a)
{
    size_t n = 0;
    while (n < ND_ARRAY_SIZE(modules) && modules[n].start(a) == 0)
        n++;
    return n;
}

/* the one teardown: stops the first @n modules in reverse, then frees them in reverse */
static void stop_all(struct app *a, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        if (!modules[i].stop)
            continue;
        nd_log(ND_LOG_DEBUG, "stopping", "{s:s, s:I}", "module", modules[i].name, "grace_left_ms",
               (json_int_t)grace_left_ms(a));
        modules[i].stop(a);
    }
}

static void free_all(struct app *a, size_t n)
{
    for (size_t i = n; i-- > 0;)
        if (modules[i].free)
            modules[i].free(a);
}

static void log_listening(const struct app *a)
{
    const struct nd_config *cfg = a->cfg;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    nd_log(ND_LOG_INFO, "listening", "{s:s, s:i, s:i, s:s, s:s, s:s, s:i, s:I, s:I, s:s, s:s}",
           "version", ND_VERSION, "grpc_port", rpc_server_port(a->rpc), "http_port",
           ws_server_port(a->ws), "data_dir", cfg->data_dir, "tls",
           cfg->tls_cert_file ? "on" : "off", "ws_deflate", cfg->ws_deflate ? "on" : "off",
           "ws_threads", ws_server_threads(a->ws), "max_connections",
           (json_int_t)ws_server_max_connections(a->ws), "open_files_limit",
           (json_int_t)rl.rlim_cur, "backend", backend_name(a->backend), "jwt_keys", a->key_source);
    if (cfg->max_connections && (rlim_t)cfg->max_connections + 128 > rl.rlim_cur)
        nd_log(ND_LOG_WARN, "NOTIFYD_MAX_CONNECTIONS is above what the open-files limit allows",
               "{s:I, s:I}", "max_connections", (json_int_t)cfg->max_connections,
               "open_files_limit", (json_int_t)rl.rlim_cur);
}

/* the reaper: once SIGTERM has come, the process ends within @ms even if a
 * thread is stuck (a loop that never comes back would block the join) */
static void *reap(void *arg)
{
    int64_t ms = *(int64_t *)arg;
    free(arg);
    pthread_setname_np(pthread_self(), "nd-reaper");
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&d, &d) < 0 && errno == EINTR)
        ;
    int64_t idle = 0;
    int t = health_stalled(0, &idle);
    nd_log(ND_LOG_ERROR, "shutdown timed out", "{s:s, s:I, s:I}", "stuck",
           t >= 0 ? health_thread_name((enum health_thread)t) : "unknown", "stalled_ms",
           (json_int_t)idle, "after_ms", (json_int_t)ms);
    _exit(3);
    return NULL;
}

static void start_reaper(int64_t ms)
{
    pthread_t t;
    int64_t *arg = malloc(sizeof *arg);
    if (!arg)
        return;
    *arg = ms;
    if (pthread_create(&t, NULL, reap, arg) == 0)
        pthread_detach(t);
    else
        free(arg);
}

/* waits for SIGTERM or SIGINT (returned); meanwhile reloads the JWT keys on
 * SIGHUP, looks at the watchdog every second, and arms the test faults */
static int wait_for_signal(const struct nd_config *cfg, struct token_keyring *keyring)
{
    char err[512];
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (fault_enabled()) {
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGUSR2);
    }
    const struct timespec second = {1, 0};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &second);
        health_watchdog_check();
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
        if (sig == SIGUSR1 || sig == SIGUSR2) {
            const char *usr2 = getenv("NOTIFYD_TEST_FAULT_USR2");
            int ckpt = sig == SIGUSR2 && usr2 && !strcmp(usr2, "nd-ckpt");
            fault_arm(sig == SIGUSR1 ? FAULT_STALL_WS : ckpt ? FAULT_STALL_CKPT : FAULT_STALL_GRPC);
            nd_log(ND_LOG_WARN, "test fault armed", "{s:s}", "stall",
                   sig == SIGUSR1 ? "nd-ws"
                   : ckpt         ? "nd-ckpt"
                                  : "nd-grpc");
        } else if (sig == SIGHUP) { /* reload the JWT keys */
            char source[4400];
            struct token_keys *fresh = load_keys(cfg, 1, source, sizeof source, err, sizeof err);
            if (fresh) {
                token_keyring_swap(keyring, fresh);
                nd_log(ND_LOG_INFO, "jwt keys reloaded", NULL);
            } else {
                nd_log(ND_LOG_ERROR, "jwt keys not reloaded: keeping the old ones", "{s:s}",
                       "error", err);
            }
        }
    }
}

static int serve(int argc, char **argv)
{
    struct nd_config cfg;
    struct token_keyring keyring;
    char err[512];

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
    health_set_watchdog_ms(cfg.watchdog_ms);
    if (fault_enabled())
        nd_log(ND_LOG_WARN,
               "test fault switches are armed by SIGUSR1/SIGUSR2 (NOTIFYD_TEST_FAULTS)", NULL);
    config_unknown_env(warn_unknown);
    raise_fd_limit();
    atomic_store(&nd_stats.started_ms, nd_wall_ms());
    token_keyring_init(&keyring, NULL);

    struct app app = {
        .cfg = &cfg, .keyring = &keyring, .lock_fd = -1, .err = err, .errlen = sizeof err};
    size_t started = start_all(&app);
    if (started < ND_ARRAY_SIZE(modules)) {
        fprintf(stderr, "notifyd: %s\n", err);
        app.stop_by_ms = nd_mono_ms(); /* no grace: nothing was served */
        stop_all(&app, started);
        free_all(&app, started);
        config_free(&cfg);
        return 1;
    }
    health_set(HEALTH_READY);
    log_listening(&app);

    int sig = wait_for_signal(&cfg, &keyring);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);

    /* a second signal ends the process at once -- explicitly: as PID 1 in a
     * container the kernel would ignore a signal left to its default action */
    signal(SIGINT, exit_now);
    signal(SIGTERM, exit_now);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    health_set(HEALTH_DRAINING);
    start_reaper(cfg.drain_delay_ms + cfg.shutdown_grace_ms + 2000);
    nd_log(ND_LOG_INFO, "draining", "{s:s, s:I}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
           "grace_ms", (json_int_t)cfg.shutdown_grace_ms);
    if (cfg.drain_delay_ms > 0) { /* not ready, still connected: load balancers catch up */
        struct timespec d = {cfg.drain_delay_ms / 1000, (cfg.drain_delay_ms % 1000) * 1000000};
        while (nanosleep(&d, &d) < 0 && errno == EINTR)
            ;
    }
    /* in reverse: in-flight RPCs finish, WebSockets get 1001, the backend flushes */
    app.stop_by_ms = nd_mono_ms() + cfg.shutdown_grace_ms;
    stop_all(&app, started);
    nd_log(ND_LOG_INFO, "stopped", NULL);
    free_all(&app, started);
    config_free(&cfg);
    return 0;
}

int main(int argc, char **argv)
{
    /* every thread inherits this mask; main takes the signals with sigwait() */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1); /* test faults only (fault.h); ignored otherwise */
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (argc > 1 && !strcmp(argv[1], "token"))
        return token_main(argc - 2, argv + 2);
    if (argc > 1 && !strcmp(argv[1], "checktoken"))
        return checktoken_main(argc - 2, argv + 2);
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("notifyd %s\n", ND_VERSION);
        return 0;
    }
    return serve(argc - 1, argv + 1);
}
