/* test_config: defaults < NOTIFYD_* environment < flags, the value parsers
 * (addresses, durations, sizes) and the `notifyd token` mode. Every test
 * starts and ends with no NOTIFYD_* variable set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const env_names[] = {
    "NOTIFYD_GRPC_ADDR",         "NOTIFYD_HTTP_ADDR",       "NOTIFYD_DATA_DIR",
    "NOTIFYD_JWT_SECRET",        "NOTIFYD_JWT_LEEWAY",      "NOTIFYD_LOG_LEVEL",
    "NOTIFYD_SHUTDOWN_GRACE_MS", "NOTIFYD_MAX_FRAME_BYTES", "NOTIFYD_GRPC_MAX_MESSAGE_BYTES",
    "NOTIFYD_WS_DEFLATE",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++)
        unsetenv(env_names[i]);
    return 0;
}

#define ARGV(...) ((char *[]){__VA_ARGS__})
#define ARGC(...) ((int)(sizeof ARGV(__VA_ARGS__) / sizeof(char *)))
/* config_parse with a literal argument list */
#define PARSE(cfg, mode, err, ...)                                                                 \
    config_parse((cfg), (mode), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (err), sizeof(err))

/* parses @argv in @mode expecting CONFIG_ERROR; @needle must appear in the message */
static void expect_error(enum config_mode mode, int argc, char **argv, const char *needle)
{
    struct nd_config cfg;
    char err[256] = "";
    enum config_result r = config_parse(&cfg, mode, argc, argv, err, sizeof err);
    if (r != CONFIG_ERROR || !strstr(err, needle))
        print_error("argv[0]=%s: result %d, err \"%s\", wanted \"%s\"\n", argc ? argv[0] : "-",
                    (int)r, err, needle);
    assert_int_equal(r, CONFIG_ERROR);
    assert_non_null(strstr(err, needle));
    assert_null(strchr(err, '\n')); /* one line */
    /* a failed parse leaves nothing to free, and config_free stays safe */
    assert_null(cfg.data_dir);
    assert_null(cfg.jwt_secret);
    assert_null(cfg.token_user);
    assert_null(cfg.token_role);
    config_free(&cfg);
}

#define EXPECT_ERROR(mode, needle, ...)                                                            \
    expect_error((mode), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (needle))

/* --- defaults --------------------------------------------------------------------------- */

static void test_defaults_serve(void **state)
{
    (void)state;
    struct nd_config cfg;
    char err[256] = "";
    assert_int_equal(config_parse(&cfg, CONFIG_SERVE, 0, NULL, err, sizeof err), CONFIG_OK);
    assert_string_equal(cfg.grpc.host, "0.0.0.0");
    assert_int_equal(cfg.grpc.port, 50051);
    assert_string_equal(cfg.http.host, "0.0.0.0");
    assert_int_equal(cfg.http.port, 8080);
    assert_non_null(cfg.data_dir);
    assert_string_equal(cfg.data_dir, "./data");
    assert_null(cfg.jwt_secret);
    assert_int_equal(cfg.log_level, ND_LOG_INFO);
    assert_int_equal(cfg.jwt_leeway_s, 30);
    assert_int_equal(cfg.shutdown_grace_ms, 10000);
    assert_int_equal(cfg.max_frame_bytes, 64 * 1024);
    assert_int_equal(cfg.grpc_max_message, 1024 * 1024);
    assert_int_equal(cfg.ws_deflate, 0);
    /* token-only options stay unset in serve mode */
    assert_null(cfg.token_user);
    assert_null(cfg.token_role);
    assert_int_equal(cfg.token_ttl_s, 0);
    config_free(&cfg);
    assert_null(cfg.data_dir);
    config_free(&cfg); /* twice is harmless: config_free zeroes */
}

static void test_defaults_token(void **state)
{
    (void)state;
    struct nd_config cfg;
    char err[256] = "";
    assert_int_equal(PARSE(&cfg, CONFIG_TOKEN, err, "--user", "alice"), CONFIG_OK);
    assert_string_equal(cfg.token_user, "alice");
    assert_string_equal(cfg.token_role, "user");
    assert_int_equal(cfg.token_ttl_s, 86400);
    assert_string_equal(cfg.data_dir, "./data");
    assert_int_equal(cfg.log_level, ND_LOG_INFO);
    /* serve-only options are not filled in token mode */
    assert_int_equal(cfg.grpc.port, 0);
    assert_string_equal(cfg.grpc.host, "");
    assert_int_equal(cfg.max_frame_bytes, 0);
    config_free(&cfg);
}

/* --- environment and flags ----------------------------------------------------------------- */

static void test_env_overrides(void **state)
{
    (void)state;
    struct nd_config cfg;
    char err[256] = "";
    setenv("NOTIFYD_GRPC_ADDR", "127.0.0.1:6000", 1);
    setenv("NOTIFYD_HTTP_ADDR", "[::1]:7000", 1);
    setenv("NOTIFYD_DATA_DIR", "/var/lib/notifyd", 1);
    setenv("NOTIFYD_JWT_SECRET", "0123456789abcdef0123", 1);
    setenv("NOTIFYD_JWT_LEEWAY", "2m", 1);
    setenv("NOTIFYD_LOG_LEVEL", "debug", 1);
    setenv("NOTIFYD_SHUTDOWN_GRACE_MS", "2500", 1);
    setenv("NOTIFYD_MAX_FRAME_BYTES", "4k", 1);
    setenv("NOTIFYD_GRPC_MAX_MESSAGE_BYTES", "2MiB", 1);
    assert_int_equal(config_parse(&cfg, CONFIG_SERVE, 0, NULL, err, sizeof err), CONFIG_OK);
    assert_string_equal(cfg.grpc.host, "127.0.0.1");
    assert_int_equal(cfg.grpc.port, 6000);
    assert_string_equal(cfg.http.host, "::1");
    assert_int_equal(cfg.http.port, 7000);
    assert_string_equal(cfg.data_dir, "/var/lib/notifyd");
    assert_string_equal(cfg.jwt_secret, "0123456789abcdef0123");
    assert_int_equal(cfg.jwt_leeway_s, 120);
    assert_int_equal(cfg.log_level, ND_LOG_DEBUG);
    assert_int_equal(cfg.shutdown_grace_ms, 2500);
    assert_int_equal(cfg.max_frame_bytes, 4096);
    assert_int_equal(cfg.grpc_max_message, 2 * 1024 * 1024);
    config_free(&cfg);
}

static void test_env_empty_is_unset(void **state)
{
    (void)state;
    struct nd_config cfg;
    char err[256] = "";
    setenv("NOTIFYD_DATA_DIR", "", 1);
    setenv("NOTIFYD_GRPC_ADDR", "", 1);
    setenv("NOTIFYD_JWT_SECRET", "", 1);
    assert_int_equal(config_parse(&cfg, CONFIG_SERVE, 0, NULL, err, sizeof err), CONFIG_OK);
    assert_string_equal(cfg.data_dir, "./data");
    assert_int_equal(cfg.grpc.port, 50051);
    assert_null(cfg.jwt_secret);
    config_free(&cfg);
}

static void test_flags_beat_env(void **state)
{
    (void)state;
    struct nd_config cfg;
    char err[256] = "";
    setenv("NOTIFYD_GRPC_ADDR", "127.0.0.1:6000", 1);
    setenv("NOTIFYD_DATA_DIR", "/from/env", 1);
    setenv("NOTIFYD_LOG_LEVEL", "error", 1);
    setenv("NOTIFYD_JWT_LEEWAY", "5", 1);
    assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "--grpc-addr", "10.0.0.1:7001",
                           "--data-dir=/from/flag", "--log-level", "warn"),
                     CONFIG_OK);
    assert_string_equal(cfg.grpc.host, "10.0.0.1");
    assert_int_equal(cfg.grpc.port, 7001);
    assert_string_equal(cfg.data_dir, "/from/flag");
    assert_int_equal(cfg.log_level, ND_LOG_WARN);
    assert_int_equal(cfg.jwt_leeway_s, 5); /* no flag given: the environment stays */
    config_free(&cfg);
}

static void test_flag_value_forms(void **state)
{
    (void)state;
    struct nd_config cfg;
    char err[256] = "";

    assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "--http-addr", "127.0.0.1:9000",
                           "--max-frame-bytes=1024", "--jwt-leeway", "45", "--shutdown-grace-ms=1s",
                           "--grpc-max-message-bytes", "4096"),
                     CONFIG_OK);
    assert_string_equal(cfg.http.host, "127.0.0.1");
    assert_int_equal(cfg.http.port, 9000);
    assert_int_equal(cfg.max_frame_bytes, 1024);
    assert_int_equal(cfg.jwt_leeway_s, 45);
    assert_int_equal(cfg.shutdown_grace_ms, 1000);
    assert_int_equal(cfg.grpc_max_message, 4096);
    config_free(&cfg);

    /* only the first '=' splits: the value keeps the rest */
    assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "--data-dir=/tmp/a=b"), CONFIG_OK);
    assert_string_equal(cfg.data_dir, "/tmp/a=b");
    config_free(&cfg);

    /* a separate value may itself start with dashes */
    assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "--data-dir", "--odd"), CONFIG_OK);
    assert_string_equal(cfg.data_dir, "--odd");
    config_free(&cfg);
}

static void test_last_flag_wins(void **state)
{
    (void)state;
    struct nd_config cfg;
    char err[256] = "";
    setenv("NOTIFYD_DATA_DIR", "/env", 1);
    /* each replaced string is freed: ASan's leak check covers it */
    assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "--data-dir", "/one", "--data-dir=/two",
                           "--log-level", "error", "--log-level", "debug"),
                     CONFIG_OK);
    assert_string_equal(cfg.data_dir, "/two");
    assert_int_equal(cfg.log_level, ND_LOG_DEBUG);
    config_free(&cfg);
}

static void test_log_levels(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum nd_log_level level;
    } cases[] = {
        {"debug", ND_LOG_DEBUG},  {"info", ND_LOG_INFO},   {"warn", ND_LOG_WARN},
        {"warning", ND_LOG_WARN}, {"ERROR", ND_LOG_ERROR}, {"Info", ND_LOG_INFO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_config cfg;
        char err[256] = "";
        assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "--log-level", (char *)cases[i].text),
                         CONFIG_OK);
        assert_int_equal(cfg.log_level, cases[i].level);
        config_free(&cfg);
    }
    EXPECT_ERROR(CONFIG_SERVE, "verbose", "--log-level", "verbose");
    EXPECT_ERROR(CONFIG_SERVE, "--log-level", "--log-level=");
}

static void test_ws_deflate_switch(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int on;
    } cases[] = {{"on", 1},    {"off", 0}, {"ON", 1}, {"Off", 0}, {"true", 1},
                 {"false", 0}, {"yes", 1}, {"no", 0}, {"1", 1},   {"0", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_config cfg;
        char err[256] = "";
        assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "--ws-deflate", (char *)cases[i].text),
                         CONFIG_OK);
        assert_int_equal(cfg.ws_deflate, cases[i].on);
        config_free(&cfg);
    }
    struct nd_config cfg;
    char err[256] = "";
    setenv("NOTIFYD_WS_DEFLATE", "on", 1);
    assert_int_equal(config_parse(&cfg, CONFIG_SERVE, 0, NULL, err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.ws_deflate, 1);
    config_free(&cfg);
    assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "--ws-deflate=off"), CONFIG_OK); /* flag wins */
    assert_int_equal(cfg.ws_deflate, 0);
    config_free(&cfg);
    setenv("NOTIFYD_WS_DEFLATE", "maybe", 1);
    EXPECT_ERROR(CONFIG_SERVE, "NOTIFYD_WS_DEFLATE: \"maybe\" is not one of on, off", "--data-dir",
                 "/d");
    unsetenv("NOTIFYD_WS_DEFLATE");
    EXPECT_ERROR(CONFIG_SERVE, "--ws-deflate: \"2\"", "--ws-deflate", "2");
    EXPECT_ERROR(CONFIG_SERVE, "--ws-deflate", "--ws-deflate", "");
    EXPECT_ERROR(CONFIG_SERVE, "--ws-deflate needs a value", "--ws-deflate");
    EXPECT_ERROR(CONFIG_TOKEN, "\"--ws-deflate\"", "--user", "u", "--ws-deflate", "on");
}

static void test_jwt_secret_env_only(void **state)
{
    (void)state;
    EXPECT_ERROR(CONFIG_SERVE, "--jwt-secret", "--jwt-secret", "abcdefabcdefabcdef");
    struct nd_config cfg;
    char err[256] = "";
    setenv("NOTIFYD_JWT_SECRET", "topsecret-topsecret", 1);
    assert_int_equal(config_parse(&cfg, CONFIG_TOKEN, 2, ARGV("--user", "bob"), err, sizeof err),
                     CONFIG_OK);
    assert_string_equal(cfg.jwt_secret, "topsecret-topsecret");
    config_free(&cfg);
}

/* --- help and errors ---------------------------------------------------------------------- */

static void test_help(void **state)
{
    (void)state;
    struct nd_config cfg;
    char err[256] = "";
    assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "--help"), CONFIG_HELP);
    assert_null(cfg.data_dir); /* nothing left allocated */
    config_free(&cfg);
    assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "-h"), CONFIG_HELP);
    config_free(&cfg);
    /* after valid flags, and in token mode without the required --user */
    assert_int_equal(PARSE(&cfg, CONFIG_SERVE, err, "--data-dir", "/x", "--help"), CONFIG_HELP);
    assert_null(cfg.data_dir);
    config_free(&cfg);
    assert_int_equal(PARSE(&cfg, CONFIG_TOKEN, err, "--help"), CONFIG_HELP);
    config_free(&cfg);
}

static void test_unknown_flags(void **state)
{
    (void)state;
    EXPECT_ERROR(CONFIG_SERVE, "\"--bogus\"", "--bogus");
    EXPECT_ERROR(CONFIG_SERVE, "\"--bogus\"", "--bogus=1");          /* named without its value */
    EXPECT_ERROR(CONFIG_SERVE, "\"--grpc\"", "--grpc", "1.2.3.4:5"); /* prefixes don't match */
    EXPECT_ERROR(CONFIG_SERVE, "\"-x\"", "-x");
    EXPECT_ERROR(CONFIG_SERVE, "argument \"serve\"", "serve");
    EXPECT_ERROR(CONFIG_SERVE, "\"--bogus\"", "--data-dir", "/d", "--bogus");
    /* token-only flags are unknown to serve, serve-only flags to token */
    EXPECT_ERROR(CONFIG_SERVE, "\"--user\"", "--user", "alice");
    EXPECT_ERROR(CONFIG_SERVE, "\"--ttl\"", "--ttl", "60");
    EXPECT_ERROR(CONFIG_TOKEN, "\"--grpc-addr\"", "--user", "alice", "--grpc-addr", "1.2.3.4:5");
    EXPECT_ERROR(CONFIG_TOKEN, "token --help", "--user", "alice", "--nope");
}

static void test_missing_value(void **state)
{
    (void)state;
    EXPECT_ERROR(CONFIG_SERVE, "--data-dir needs a value", "--data-dir");
    EXPECT_ERROR(CONFIG_SERVE, "--grpc-addr needs a value", "--log-level", "info", "--grpc-addr");
    EXPECT_ERROR(CONFIG_SERVE, "must not be empty", "--data-dir=");
    EXPECT_ERROR(CONFIG_SERVE, "--data-dir", "--data-dir", "");
}

static void test_error_cleans_up(void **state)
{
    (void)state;
    /* strings allocated before the failure are released (ASan leak check) */
    setenv("NOTIFYD_JWT_SECRET", "an-environment-secret", 1);
    EXPECT_ERROR(CONFIG_SERVE, "\"--bogus\"", "--data-dir", "/a", "--bogus");
    EXPECT_ERROR(CONFIG_TOKEN, "--role", "--user", "u", "--data-dir", "/a", "--role", "root");
    EXPECT_ERROR(CONFIG_TOKEN, "--user is required", "--data-dir", "/a", "--role", "admin");
}

/* --- addresses ---------------------------------------------------------------------------- */

static void test_parse_addr_ok(void **state)
{
    (void)state;
    static const struct {
        const char *in, *host;
        int port;
    } cases[] = {
        {"0.0.0.0:50051", "0.0.0.0", 50051},
        {"127.0.0.1:0", "127.0.0.1", 0},
        {"localhost:65535", "localhost", 65535},
        {"[::1]:80", "::1", 80},
        {"[::]:8080", "::", 8080},
        {"[fe80::1%eth0]:443", "fe80::1%eth0", 443},
        {":8080", "", 8080},
        {"[]:1", "", 1},
        {"example.com:1", "example.com", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nd_addr a;
        char err[256] = "";
        memset(&a, 0x55, sizeof a);
        int rc = config_parse_addr(cases[i].in, &a, err, sizeof err);
        if (rc != 0)
            print_error("%s: %s\n", cases[i].in, err);
        assert_int_equal(rc, 0);
        assert_string_equal(a.host, cases[i].host);
        assert_int_equal(a.port, cases[i].port);
    }

    /* the longest host that fits */
    char in[ND_ADDR_MAX + 16];
    memset(in, 'h', ND_ADDR_MAX - 1);
    strcpy(in + ND_ADDR_MAX - 1, ":1");
    struct nd_addr a;
    char err[256];
    assert_int_equal(config_parse_addr(in, &a, err, sizeof err), 0);
    assert_int_equal(strlen(a.host), ND_ADDR_MAX - 1);
}

static void test_parse_addr_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "0.0.0.0:70000",                       /* port out of range */
        "0.0.0.0:65536", "h:-1",     "abc",    /* no port */
        "host:",                               /* empty port */
        "host:abc",      "host:80x", "::1:80", /* IPv6 without brackets */
        "::1",           "[::1]80",            /* no colon after ] */
        "[::1",          "[::1]:",   "[::1]:x", "", ":",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct nd_addr a;
        char err[256] = "";
        int rc = config_parse_addr(bad[i], &a, err, sizeof err);
        if (rc != -EINVAL)
            print_error("\"%s\" was accepted (host \"%s\" port %d)\n", bad[i], a.host, a.port);
        assert_int_equal(rc, -EINVAL);
        assert_true(err[0] != 0); /* a reason is given */
    }

    /* a host too long for struct nd_addr */
    char in[ND_ADDR_MAX + 16];
    memset(in, 'h', ND_ADDR_MAX);
    strcpy(in + ND_ADDR_MAX, ":1");
    struct nd_addr a;
    char err[2 * ND_ADDR_MAX] = ""; /* the message quotes the input */
    assert_int_equal(config_parse_addr(in, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "too long"));

    /* the IPv6 hint is given */
    assert_int_equal(config_parse_addr("::1:80", &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "[addr]:port"));
}

static void test_bad_addr_names_source(void **state)
{
    (void)state;
    EXPECT_ERROR(CONFIG_SERVE, "--grpc-addr", "--grpc-addr", "0.0.0.0:70000");
    EXPECT_ERROR(CONFIG_SERVE, "--http-addr", "--http-addr=::1:80");
    setenv("NOTIFYD_HTTP_ADDR", "abc", 1);
    EXPECT_ERROR(CONFIG_SERVE, "NOTIFYD_HTTP_ADDR", "--data-dir", "/d");
    /* a flag fixes nothing: the environment is read first and fails first */
    EXPECT_ERROR(CONFIG_SERVE, "NOTIFYD_HTTP_ADDR", "--http-addr", "1.2.3.4:5");
    /* serve-only variables are not read in token mode */
    struct nd_config cfg;
    char err[256] = "";
    assert_int_equal(PARSE(&cfg, CONFIG_TOKEN, err, "--user", "u"), CONFIG_OK);
    config_free(&cfg);
}

/* --- numbers ------------------------------------------------------------------------------ */

struct num_case {
    const char *flag, *value;
    int ok;
    int64_t want;
    size_t off;
};

#define NOFF(f) offsetof(struct nd_config, f)

static void test_number_ranges(void **state)
{
    (void)state;
    static const struct num_case cases[] = {
        {"--jwt-leeway", "0", 1, 0, NOFF(jwt_leeway_s)},
        {"--jwt-leeway", "3600", 1, 3600, NOFF(jwt_leeway_s)},
        {"--jwt-leeway", "1h", 1, 3600, NOFF(jwt_leeway_s)},
        {"--jwt-leeway", "90s", 1, 90, NOFF(jwt_leeway_s)},
        {"--jwt-leeway", "3601", 0, 0, NOFF(jwt_leeway_s)},
        {"--jwt-leeway", "61m", 0, 0, NOFF(jwt_leeway_s)},
        {"--jwt-leeway", "1d", 0, 0, NOFF(jwt_leeway_s)},
        {"--shutdown-grace-ms", "0", 1, 0, NOFF(shutdown_grace_ms)},
        {"--shutdown-grace-ms", "250", 1, 250, NOFF(shutdown_grace_ms)}, /* plain = ms */
        {"--shutdown-grace-ms", "5s", 1, 5000, NOFF(shutdown_grace_ms)},
        {"--shutdown-grace-ms", "1h", 1, 3600000, NOFF(shutdown_grace_ms)},
        {"--shutdown-grace-ms", "3600001", 0, 0, NOFF(shutdown_grace_ms)},
        {"--shutdown-grace-ms", "2h", 0, 0, NOFF(shutdown_grace_ms)},
        {"--max-frame-bytes", "128", 1, 128, NOFF(max_frame_bytes)},
        {"--max-frame-bytes", "127", 0, 0, NOFF(max_frame_bytes)},
        {"--max-frame-bytes", "16MiB", 1, 16 << 20, NOFF(max_frame_bytes)},
        {"--max-frame-bytes", "16777217", 0, 0, NOFF(max_frame_bytes)},
        {"--max-frame-bytes", "17m", 0, 0, NOFF(max_frame_bytes)},
        {"--max-frame-bytes", "0", 0, 0, NOFF(max_frame_bytes)},
        {"--grpc-max-message-bytes", "1024", 1, 1024, NOFF(grpc_max_message)},
        {"--grpc-max-message-bytes", "1023", 0, 0, NOFF(grpc_max_message)},
        {"--grpc-max-message-bytes", "64MiB", 1, 64 << 20, NOFF(grpc_max_message)},
        {"--grpc-max-message-bytes", "65m", 0, 0, NOFF(grpc_max_message)},
        {"--grpc-max-message-bytes", "1g", 0, 0, NOFF(grpc_max_message)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct num_case *c = &cases[i];
        struct nd_config cfg;
        char err[256] = "";
        enum config_result r = PARSE(&cfg, CONFIG_SERVE, err, (char *)c->flag, (char *)c->value);
        if (r != (c->ok ? CONFIG_OK : CONFIG_ERROR))
            print_error("%s %s: result %d, err \"%s\"\n", c->flag, c->value, (int)r, err);
        if (c->ok) {
            assert_int_equal(r, CONFIG_OK);
            assert_int_equal(*(int64_t *)(void *)((char *)&cfg + c->off), c->want);
        } else {
            assert_int_equal(r, CONFIG_ERROR);
            assert_non_null(strstr(err, "out of range"));
            assert_non_null(strstr(err, c->flag));
        }
        config_free(&cfg);
    }
}

static void test_number_syntax(void **state)
{
    (void)state;
    EXPECT_ERROR(CONFIG_SERVE, "not a valid duration", "--jwt-leeway", "abc");
    EXPECT_ERROR(CONFIG_SERVE, "not a valid duration", "--jwt-leeway", "-1");
    EXPECT_ERROR(CONFIG_SERVE, "not a valid duration", "--jwt-leeway", "5x");
    EXPECT_ERROR(CONFIG_SERVE, "not a valid duration", "--shutdown-grace-ms", "1.5s");
    EXPECT_ERROR(CONFIG_SERVE, "not a valid size", "--max-frame-bytes", "64q");
    EXPECT_ERROR(CONFIG_SERVE, "not a valid size", "--grpc-max-message-bytes=");
    EXPECT_ERROR(CONFIG_SERVE, "\"abc\"", "--max-frame-bytes", "abc");
    setenv("NOTIFYD_SHUTDOWN_GRACE_MS", "soon", 1);
    EXPECT_ERROR(CONFIG_SERVE, "NOTIFYD_SHUTDOWN_GRACE_MS", "--data-dir", "/d");
    unsetenv("NOTIFYD_SHUTDOWN_GRACE_MS");
    setenv("NOTIFYD_MAX_FRAME_BYTES", "1", 1);
    EXPECT_ERROR(CONFIG_SERVE, "NOTIFYD_MAX_FRAME_BYTES", "--data-dir", "/d");
}

static void test_parse_duration(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t ms;
    } ok[] = {
        {"90", 90000},
        {"0", 0},
        {"250ms", 250},
        {"30s", 30000},
        {"15m", 900000},
        {"12h", 43200000},
        {"7d", 604800000},
        {"1MS", 1},
        {"2H", 7200000},
        {"3600", 3600000},
        {"0ms", 0},
        {"9223372036854775807ms", INT64_MAX},
        {"106751991167d", 106751991167LL * 86400000LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -42;
        int rc = config_parse_duration_ms(ok[i].in, &v);
        if (rc != 0 || v != ok[i].ms)
            print_error("\"%s\": rc %d, %lld ms\n", ok[i].in, rc, (long long)v);
        assert_int_equal(rc, 0);
        assert_int_equal(v, ok[i].ms);
    }

    static const char *const bad[] = {
        "5x",
        "-1",
        "",
        "ms",
        "+5",
        "1.5h",
        "5 s",
        "5s ",
        "1w",
        "s5",
        "0x10",
        "5sec",
        "99999999999999999999", /* does not fit in 64 bits */
        "9223372036854775807",
        "106751991168d", /* fits, but not once scaled to ms */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = -42;
        int rc = config_parse_duration_ms(bad[i], &v);
        if (rc >= 0)
            print_error("\"%s\" accepted as %lld ms\n", bad[i], (long long)v);
        assert_true(rc < 0);
        assert_int_equal(v, -42); /* untouched on failure */
    }
    /* a leading blank must not smuggle a sign past the check (strtoll skips blanks),
     * nor overflow v * mul (UBSan would abort) */
    static const char *const blanks[] = {" -5", " 5", "\t-5s", " -9223372036854775807", "\n7d"};
    for (size_t i = 0; i < sizeof blanks / sizeof blanks[0]; i++) {
        int64_t v = -42;
        assert_int_equal(config_parse_duration_ms(blanks[i], &v), -EINVAL);
        assert_int_equal(v, -42);
        assert_int_equal(config_parse_size(blanks[i], &v), -EINVAL);
    }
}

static void test_parse_size(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t bytes;
    } ok[] = {
        {"1048576", 1048576},
        {"0", 0},
        {"10b", 10},
        {"64k", 65536},
        {"64K", 65536},
        {"64kb", 65536},
        {"64KiB", 65536},
        {"1MiB", 1048576},
        {"1m", 1048576},
        {"1MB", 1048576},
        {"1g", 1073741824},
        {"2GiB", 2147483648LL},
        {"8589934591g", 8589934591LL << 30},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -42;
        int rc = config_parse_size(ok[i].in, &v);
        if (rc != 0 || v != ok[i].bytes)
            print_error("\"%s\": rc %d, %lld bytes\n", ok[i].in, rc, (long long)v);
        assert_int_equal(rc, 0);
        assert_int_equal(v, ok[i].bytes);
    }

    static const char *const bad[] = {
        "64q", "-1", "", "k", "1.5m", "1 m", "1t", "1kk", "1KB ", "+1", "1e3", "8589934592g",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = -42;
        int rc = config_parse_size(bad[i], &v);
        if (rc >= 0)
            print_error("\"%s\" accepted as %lld bytes\n", bad[i], (long long)v);
        assert_true(rc < 0);
        assert_int_equal(v, -42);
    }
}

/* --- token mode ----------------------------------------------------------------------------- */

static void test_token_mode(void **state)
{
    (void)state;
    struct nd_config cfg;
    char err[256] = "";

    EXPECT_ERROR(CONFIG_TOKEN, "--user is required", "--role", "admin");
    {
        char err2[256] = "";
        assert_int_equal(config_parse(&cfg, CONFIG_TOKEN, 0, NULL, err2, sizeof err2),
                         CONFIG_ERROR);
        assert_non_null(strstr(err2, "--user"));
        config_free(&cfg);
    }
    EXPECT_ERROR(CONFIG_TOKEN, "must not be empty", "--user", "");

    static const char *const roles[] = {"user", "service", "admin"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(PARSE(&cfg, CONFIG_TOKEN, err, "--role", (char *)roles[i], "--user=svc"),
                         CONFIG_OK);
        assert_string_equal(cfg.token_role, roles[i]);
        assert_string_equal(cfg.token_user, "svc");
        config_free(&cfg);
    }
    EXPECT_ERROR(CONFIG_TOKEN, "\"root\"", "--user", "u", "--role", "root");
    EXPECT_ERROR(CONFIG_TOKEN, "--role", "--user", "u", "--role", "Admin"); /* case matters */
    EXPECT_ERROR(CONFIG_TOKEN, "--role", "--user", "u", "--role=");

    static const struct {
        const char *ttl;
        int64_t s;
    } ttls[] = {{"3600", 3600}, {"15m", 900},  {"24h", 86400},      {"30d", 2592000},
                {"1", 1},       {"1500ms", 1}, {"3650d", 315360000}};
    for (size_t i = 0; i < sizeof ttls / sizeof ttls[0]; i++) {
        assert_int_equal(
            PARSE(&cfg, CONFIG_TOKEN, err, "--user", "u", "--ttl", (char *)ttls[i].ttl), CONFIG_OK);
        assert_int_equal(cfg.token_ttl_s, ttls[i].s);
        config_free(&cfg);
    }
    EXPECT_ERROR(CONFIG_TOKEN, "out of range", "--user", "u", "--ttl", "0");
    EXPECT_ERROR(CONFIG_TOKEN, "out of range", "--user", "u", "--ttl", "500ms");
    EXPECT_ERROR(CONFIG_TOKEN, "out of range", "--user", "u", "--ttl", "3651d");
    EXPECT_ERROR(CONFIG_TOKEN, "--ttl", "--user", "u", "--ttl", "forever");

    /* shared options apply in token mode too */
    setenv("NOTIFYD_DATA_DIR", "/env/dir", 1);
    assert_int_equal(PARSE(&cfg, CONFIG_TOKEN, err, "--user", "u", "--log-level", "error"),
                     CONFIG_OK);
    assert_string_equal(cfg.data_dir, "/env/dir");
    assert_int_equal(cfg.log_level, ND_LOG_ERROR);
    config_free(&cfg);
}

/* --- usage ------------------------------------------------------------------------------------ */

static char *usage_text(enum config_mode mode)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_usage(mode, f);
    assert_int_equal(fclose(f), 0);
    assert_non_null(buf);
    return buf;
}

static void test_usage(void **state)
{
    (void)state;
    char *s = usage_text(CONFIG_SERVE);
    static const char *const serve_words[] = {
        "--grpc-addr",
        "NOTIFYD_GRPC_ADDR",
        "0.0.0.0:50051",
        "--http-addr",
        "NOTIFYD_HTTP_ADDR",
        "--data-dir",
        "NOTIFYD_DATA_DIR",
        "NOTIFYD_JWT_SECRET",
        "--jwt-leeway",
        "--log-level",
        "--shutdown-grace-ms",
        "--max-frame-bytes",
        "--grpc-max-message-bytes",
        "NOTIFYD_GRPC_MAX_MESSAGE_BYTES",
        "--ws-deflate",
        "NOTIFYD_WS_DEFLATE",
    };
    for (size_t i = 0; i < sizeof serve_words / sizeof serve_words[0]; i++) {
        if (!strstr(s, serve_words[i]))
            print_error("serve usage lacks %s\n", serve_words[i]);
        assert_non_null(strstr(s, serve_words[i]));
    }
    assert_null(strstr(s, "--ttl"));
    free(s);

    s = usage_text(CONFIG_TOKEN);
    assert_non_null(strstr(s, "--user"));
    assert_non_null(strstr(s, "--role"));
    assert_non_null(strstr(s, "--ttl"));
    assert_non_null(strstr(s, "24h"));
    assert_null(strstr(s, "--grpc-addr"));
    free(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, clear_env, clear_env)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults_serve),      T(test_defaults_token),
        T(test_env_overrides),       T(test_env_empty_is_unset),
        T(test_flags_beat_env),      T(test_flag_value_forms),
        T(test_last_flag_wins),      T(test_log_levels),
        T(test_jwt_secret_env_only), T(test_help),
        T(test_unknown_flags),       T(test_missing_value),
        T(test_error_cleans_up),     T(test_parse_addr_ok),
        T(test_parse_addr_bad),      T(test_bad_addr_names_source),
        T(test_number_ranges),       T(test_number_syntax),
        T(test_parse_duration),      T(test_parse_size),
        T(test_token_mode),          T(test_usage),
        T(test_ws_deflate_switch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
