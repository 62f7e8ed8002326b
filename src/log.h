/* log: one JSON object a line on stderr, with a level; never a token.
 * Any thread may log; each line is written with a single write(2). */
#ifndef NOTIFYD_LOG_H
#define NOTIFYD_LOG_H

#include <stddef.h>

enum nd_log_level { ND_LOG_DEBUG, ND_LOG_INFO, ND_LOG_WARN, ND_LOG_ERROR };

/** Sets the lowest level written (default info). Any thread. */
void nd_log_set_level(enum nd_log_level level);

/** True when a line at @level would be written. Any thread. */
int nd_log_enabled(enum nd_log_level level);

/** Parses "debug", "info", "warn"/"warning" or "error"; -EINVAL otherwise. */
int nd_log_level_parse(const char *s, enum nd_log_level *out);

/**
 * Writes {"ts":..., "level":..., "msg": @msg, <fields>} where @fields is a
 * jansson json_pack() format for an object ("{s:s, s:i}") or NULL. Any thread.
 */
void nd_log(enum nd_log_level level, const char *msg, const char *fields, ...);

/**
 * nd_log() of @n string fields, @kv holding key, value, key, value...: the same
 * line, written without building JSON objects when no value needs escaping
 * beyond quote and backslash (audit lines, one per API call). Any thread.
 */
void nd_log_strs(enum nd_log_level level, const char *msg, size_t n, const char *const *kv);

/** @hook(message) sees every error gRPC core logs (any thread). NULL: none. */
void nd_log_watch_grpc_errors(void (*hook)(const char *message));

/** Routes gRPC core and libwebsockets diagnostics into nd_log(). Call once, early. */
void nd_log_capture_libraries(void);

#endif
