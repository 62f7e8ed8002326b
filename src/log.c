/* log: JSON lines on stderr. Lines are built in memory and written with one
 * write(2) so lines from different threads never interleave. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <grpc/support/log.h>
#include <jansson.h>
#include <libwebsockets.h>

#include "nd.h"

static _Atomic int min_level = ND_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void nd_log_set_level(enum nd_log_level level)
{
    atomic_store(&min_level, (int)level);
}

int nd_log_enabled(enum nd_log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

int nd_log_level_parse(const char *s, enum nd_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum nd_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = ND_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

static void emit(enum nd_log_level level, const char *msg, json_t *fields)
{
    struct tm tm;
    char when[64];
    int64_t now_ms = nd_wall_ms();
    time_t secs = (time_t)(now_ms / 1000);

    gmtime_r(&secs, &tm);
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now_ms % 1000));

    json_t *line = json_pack("{s:s, s:s, s:s}", "ts", when, "level", level_names[level], "msg",
                             msg ? msg : "");
    if (!line)
        return;
    if (fields)
        json_object_update_missing(line, fields);
    /* reals with 10 significant digits: "duration_ms":0.007, not 0.0070000000000000001 */
    char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
    json_decref(line);
    if (!text)
        return;
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps leaves room: replace the NUL, write n + 1 */
    ssize_t w = write(STDERR_FILENO, text, n + 1);
    (void)w;
    free(text);
}

void nd_log(enum nd_log_level level, const char *msg, const char *fields, ...)
{
    if (!nd_log_enabled(level))
        return;
    json_t *obj = NULL;
    if (fields) {
        va_list ap;
        json_error_t err;
        va_start(ap, fields);
        obj = json_vpack_ex(&err, 0, fields, ap);
        va_end(ap);
        if (!obj)
            obj = json_pack("{s:s}", "log_error", err.text);
    }
    emit(level, msg, obj);
    json_decref(obj);
}

static void (*_Atomic grpc_error_hook)(const char *message);

void nd_log_watch_grpc_errors(void (*hook)(const char *message))
{
    atomic_store(&grpc_error_hook, hook);
}

static void grpc_log(gpr_log_func_args *args)
{
    void (*hook)(const char *) = atomic_load(&grpc_error_hook);
    if (hook && args->severity == GPR_LOG_SEVERITY_ERROR)
        hook(args->message);
    enum nd_log_level level = args->severity == GPR_LOG_SEVERITY_ERROR  ? ND_LOG_ERROR
                              : args->severity == GPR_LOG_SEVERITY_INFO ? ND_LOG_INFO
                                                                        : ND_LOG_DEBUG;
    /* gRPC INFO lines are chatty internals: keep them at debug */
    if (level == ND_LOG_INFO)
        level = ND_LOG_DEBUG;
    nd_log(level, args->message, "{s:s, s:s, s:i}", "source", "grpc", "file",
           args->file ? args->file : "", "line", args->line);
}

static void lws_log(int lws_level, const char *line)
{
    char copy[512];
    size_t n = strnlen(line, sizeof copy - 1);
    memcpy(copy, line, n);
    while (n && (copy[n - 1] == '\n' || copy[n - 1] == ' '))
        n--;
    copy[n] = 0;
    enum nd_log_level level = (lws_level & LLL_ERR)    ? ND_LOG_ERROR
                              : (lws_level & LLL_WARN) ? ND_LOG_WARN
                                                       : ND_LOG_DEBUG;
    nd_log(level, copy, "{s:s}", "source", "lws");
}

void nd_log_capture_libraries(void)
{
    gpr_set_log_function(grpc_log);
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
}
