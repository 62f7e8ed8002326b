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

/* the line's "ts": UTC with milliseconds; the date and time up to the second
 * are formatted once a second per thread (a busy server logs a line per call) */
static void timestamp(char when[64])
{
    static _Thread_local time_t last = -1;
    static _Thread_local char head[48]; /* "YYYY-MM-DDTHH:MM:SS." of @last */
    static _Thread_local int head_len;
    int64_t now_ms = nd_wall_ms();
    time_t secs = (time_t)(now_ms / 1000);

    if (secs != last) {
        struct tm tm;
        gmtime_r(&secs, &tm);
        head_len = snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (head_len < 0 || head_len > 40)
            head_len = 0;
        last = secs;
    }
    int ms = (int)(now_ms % 1000);
    memcpy(when, head, (size_t)head_len);
    when[head_len] = (char)('0' + ms / 100);
    when[head_len + 1] = (char)('0' + ms / 10 % 10);
    when[head_len + 2] = (char)('0' + ms % 10);
    when[head_len + 3] = 'Z';
    when[head_len + 4] = 0;
}

static void emit(enum nd_log_level level, const char *msg, json_t *fields)
{
    char when[64];
    timestamp(when);

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

/* appends @s as a JSON string at *w (room checked by the caller); 0, or -1 when @s
 * has a byte jansson would escape in another way (control, non-ASCII) */
static int put_plain(char **w, const char *end, const char *s)
{
    char *p = *w;
    if (p >= end)
        return -1;
    *p++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c < 0x20 || *c >= 0x7f || end - p < 3)
            return -1;
        if (*c == '"' || *c == '\\')
            *p++ = '\\';
        *p++ = (char)*c;
    }
    if (p >= end)
        return -1;
    *p++ = '"';
    *w = p;
    return 0;
}

void nd_log_strs(enum nd_log_level level, const char *msg, size_t n, const char *const *kv)
{
    if (!nd_log_enabled(level))
        return;
    char line[1024], when[64], *w = line, *end = line + sizeof line - 2;
    timestamp(when);
    const char *head[] = {"ts", when, "level", level_names[level], "msg", msg ? msg : ""};
    int ok = 1;
    for (size_t i = 0; ok && i < 3 + n; i++) {
        const char *k = i < 3 ? head[2 * i] : kv[2 * (i - 3)];
        const char *v = i < 3 ? head[2 * i + 1] : kv[2 * (i - 3) + 1];
        for (size_t j = 0; ok && j < i; j++) /* a repeated key: jansson's object keeps one */
            ok = strcmp(k, j < 3 ? head[2 * j] : kv[2 * (j - 3)]) != 0;
        if (ok && w < end)
            *w++ = i ? ',' : '{';
        ok = ok && put_plain(&w, end, k) == 0 && w < end;
        if (ok)
            *w++ = ':';
        ok = ok && put_plain(&w, end, v) == 0;
    }
    if (!ok) { /* what jansson escapes its own way, or merges: the general path */
        json_t *fields = json_object();
        for (size_t i = 0; fields && i < n; i++)
            json_object_set_new(fields, kv[2 * i], json_string(kv[2 * i + 1]));
        emit(level, msg, fields);
        json_decref(fields);
        return;
    }
    *w++ = '}';
    *w++ = '\n';
    ssize_t r = write(STDERR_FILENO, line, (size_t)(w - line));
    (void)r;
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

#define LWS_LEVELS (LLL_ERR | LLL_WARN) /* what libwebsockets logs (through lws_log) */

/* libwebsockets 4.1.6 formats every line of every thread into one static
 * buffer in _lws_logv, so two WebSocket threads logging at once tore each
 * other's lines (ThreadSanitizer: a data race in _lws_logv; test_log). Its
 * own calls to _lws_log and _lws_logv all go through the PLT, so these two,
 * with its prototypes, take their place: the same level filter, a buffer on
 * the caller's stack. Any thread. */
/* NOLINTBEGIN(bugprone-reserved-identifier): lws's names, on purpose */
void _lws_logv(int filter, const char *format, va_list vl) __attribute__((format(printf, 2, 0)));

void _lws_logv(int filter, const char *format, va_list vl)
{
    char line[256];
    if (!(filter & LWS_LEVELS))
        return;
    vsnprintf(line, sizeof line, format, vl);
    lws_log(filter, line);
}

void _lws_log(int filter, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    _lws_logv(filter, format, ap);
    va_end(ap);
}
/* NOLINTEND(bugprone-reserved-identifier) */

void nd_log_capture_libraries(void)
{
    gpr_set_log_function(grpc_log);
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
    lws_set_log_level(LWS_LEVELS, lws_log);
}
