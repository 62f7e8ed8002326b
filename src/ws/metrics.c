/* metrics: /metrics in the Prometheus text format (version 0.0.4). Counters
 * live with their owners -- process-wide atomics in stats.h, each WebSocket
 * thread's in its ws_server.m (under its mlock), REST counters in rest.c,
 * gRPC counters behind a hook -- and are only read here, on the hub (nd-ws),
 * at scrape time. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "delivery/close_codes.h"
#include "delivery/envelope.h"
#include "health.h"
#include "nd.h"
#include "notify/ops.h"
#include "stats.h"
#include "ws/ws_internal.h"

/* upper bounds (seconds) of the latency buckets */
static const double latency_le[WS_LATENCY_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

static const char *const closed_names[CLOSED__COUNT] = {
    "client",        "shutdown",     "policy", "too_big", "slow_reader", "heartbeat_timeout",
    "token_expired", "disconnected", "error"};
static const char *const refused_names[REFUSED__COUNT] = {"auth",     "user_limit",  "server_limit",
                                                          "draining", "bad_request", "origin"};
static const char *const outcome_names[OUTCOME__COUNT] = {"delivered", "stored", "dropped",
                                                          "coalesced"};

void ws__metrics_written(struct ws_server *ws, int64_t latency_us)
{
    double s = (double)latency_us / 1e6;
    int i = 0;
    while (i < WS_LATENCY_BUCKETS && s > latency_le[i])
        i++;
    pthread_mutex_lock(&ws->mlock);
    ws->m.latency[i]++;
    ws->m.latency_count++;
    ws->m.latency_sum += s;
    pthread_mutex_unlock(&ws->mlock);
}

void ws__metrics_frame(struct ws_server *ws)
{
    pthread_mutex_lock(&ws->mlock);
    ws->m.frames++;
    pthread_mutex_unlock(&ws->mlock);
}

void ws__metrics_closed(struct ws_server *ws, uint16_t code)
{
    enum ws_closed_reason r;
    switch (code) {
    case 0: r = CLOSED_CLIENT; break;
    case ND_CLOSE_GOING_AWAY: r = CLOSED_SHUTDOWN; break;
    case ND_CLOSE_POLICY: r = CLOSED_POLICY; break;
    case ND_CLOSE_TOO_BIG: r = CLOSED_TOO_BIG; break;
    case ND_CLOSE_SLOW_READER: r = CLOSED_SLOW; break;
    case ND_CLOSE_HEARTBEAT: r = CLOSED_HEARTBEAT; break;
    case ND_CLOSE_TOKEN_EXPIRED: r = CLOSED_TOKEN_EXPIRED; break;
    case ND_CLOSE_DISCONNECTED: r = CLOSED_DISCONNECTED; break;
    default: r = CLOSED_ERROR; break;
    }
    pthread_mutex_lock(&ws->mlock);
    ws->m.closed[r]++;
    pthread_mutex_unlock(&ws->mlock);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, double v)
{
    head(f, name, type, help);
    fprintf(f, "%s %.15g\n", name, v);
}

/* @n more WebSockets gone with close @code, in @m's table of codes */
static void count_code(struct ws_metrics *m, uint16_t code, uint64_t n)
{
    for (int i = 0; i < WS_CLOSE_CODES; i++) {
        if (m->disconnects[i].code == code || !m->disconnects[i].code) {
            m->disconnects[i].code = code;
            m->disconnects[i].n += n;
            return;
        }
    }
    m->disconnects_other += n; /* a client inventing codes cannot grow /metrics */
}

void ws__metrics_connected(struct ws_server *ws, int resumed)
{
    if (!resumed)
        return;
    pthread_mutex_lock(&ws->mlock);
    ws->m.reconnects++;
    pthread_mutex_unlock(&ws->mlock);
}

void ws__metrics_disconnected(struct ws_server *ws, uint16_t code, int64_t lived_ms)
{
    /* one histogram for every thread (atomic) */
    histogram_observe(&ws->hub->m.lifetime, &histogram_lifetime, lived_ms * 1000);
    pthread_mutex_lock(&ws->mlock);
    count_code(&ws->m, code, 1);
    pthread_mutex_unlock(&ws->mlock);
}

/* what every thread counted, added up (their locks taken one at a time) */
static void metrics_sum(struct ws_server *ws, struct ws_metrics *sum)
{
    memset(sum, 0, sizeof *sum);
    for (unsigned k = 0; k < ws->n_shards; k++) {
        struct ws_server *t = ws->shards[k];
        pthread_mutex_lock(&t->mlock);
        const struct ws_metrics *m = &t->m;
        for (int i = 0; i < CLOSED__COUNT; i++)
            sum->closed[i] += m->closed[i];
        for (int i = 0; i < REFUSED__COUNT; i++)
            sum->refused[i] += m->refused[i];
        for (int i = 0; i <= WS_LATENCY_BUCKETS; i++)
            sum->latency[i] += m->latency[i];
        sum->latency_count += m->latency_count;
        sum->latency_sum += m->latency_sum;
        sum->frames += m->frames;
        sum->acks += m->acks;
        for (int i = 0; i < WS_CLOSE_CODES && m->disconnects[i].code; i++)
            count_code(sum, m->disconnects[i].code, m->disconnects[i].n);
        sum->disconnects_other += m->disconnects_other;
        sum->reconnects += m->reconnects;
        pthread_mutex_unlock(&t->mlock);
    }
}

static int by_code(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void disconnect_metrics(struct ws_server *ws, const struct ws_metrics *m, FILE *f)
{
    uint16_t codes[WS_CLOSE_CODES + 3];
    size_t n = 0;
    static const uint16_t always[] = {1000, 1001, 1006}; /* stable series for dashboards */
    for (size_t i = 0; i < ND_ARRAY_SIZE(always); i++)
        codes[n++] = always[i];
    for (int i = 0; i < WS_CLOSE_CODES && m->disconnects[i].code; i++)
        if (m->disconnects[i].code != 1000 && m->disconnects[i].code != 1001 &&
            m->disconnects[i].code != 1006)
            codes[n++] = m->disconnects[i].code;
    qsort(codes, n, sizeof codes[0], by_code);
    head(f, "notifyd_disconnects_total", "counter",
         "WebSockets gone, by close code, whoever closed (1005: a close frame without a code, "
         "1006: none at all; other: past the first 32 codes).");
    for (size_t k = 0; k < n; k++) {
        uint64_t v = 0;
        for (int i = 0; i < WS_CLOSE_CODES; i++)
            if (m->disconnects[i].code == codes[k])
                v = m->disconnects[i].n;
        fprintf(f, "notifyd_disconnects_total{code=\"%u\"} %llu\n", codes[k],
                (unsigned long long)v);
    }
    if (m->disconnects_other)
        fprintf(f, "notifyd_disconnects_total{code=\"other\"} %llu\n",
                (unsigned long long)m->disconnects_other);
    one(f, "notifyd_reconnects_total", "counter",
        "WebSockets opened with ?since= (a client resuming after a disconnect).",
        (double)m->reconnects);
    head(f, "notifyd_connection_duration_seconds", "histogram",
         "How long WebSockets stayed open, counted when they close.");
    histogram_render(f, "notifyd_connection_duration_seconds", NULL, &histogram_lifetime,
                     &ws->hub->m.lifetime);
}

struct queue_sum {
    uint64_t bytes, messages;
};

static int sum_queues(struct reg_user *u, void *arg)
{
    struct queue_sum *q = arg;
    for (struct reg_link *l = u->conns; l; l = l->next) {
        struct conn *c = ND_CONTAINER_OF(l, struct conn, link);
        q->bytes += c->q.bytes + c->held.bytes;
        q->messages += outq_count(&c->q) + outq_count(&c->held);
    }
    return 0;
}

void ws__metrics_queues(struct ws_server *ws)
{
    struct queue_sum q = {0, 0};
    registry_each_user(ws->reg, sum_queues, &q);
    atomic_store(&ws->q_bytes, (int64_t)q.bytes);
    atomic_store(&ws->q_messages, (int64_t)q.messages);
}

static void process_metrics(FILE *f)
{
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    char buf[1024];
    FILE *st = fopen("/proc/self/stat", "r");
    if (st && fgets(buf, sizeof buf, st)) {
        /* fields after the ")" that ends the command name: utime is the 12th */
        char *p = strrchr(buf, ')');
        unsigned long utime = 0, stime = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                        &stime) == 2)
            one(f, "process_cpu_seconds_total", "counter", "CPU time used, user and system.",
                (double)(utime + stime) / (double)ticks);
    }
    if (st)
        fclose(st);
    FILE *sm = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (sm && fscanf(sm, "%lu %lu", &size, &rss) == 2) {
        one(f, "process_resident_memory_bytes", "gauge", "Resident memory.",
            (double)rss * (double)page);
        one(f, "process_virtual_memory_bytes", "gauge", "Virtual memory.",
            (double)size * (double)page);
    }
    if (sm)
        fclose(sm);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = -1; /* the directory's own descriptor */
        while (readdir(d))
            n++;
        closedir(d);
        one(f, "process_open_fds", "gauge", "Open file descriptors.", (double)(n - 2));
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        one(f, "process_max_fds", "gauge", "Open file descriptors allowed.", (double)rl.rlim_cur);
    one(f, "process_start_time_seconds", "gauge", "Start time, unix seconds.",
        (double)stats_get(&nd_stats.started_ms) / 1000.0);
}

/* one type of the callers' own (Publish), or "other" for those past the bound */
static void custom_type(void *arg, const char *type, const int64_t *by_outcome)
{
    for (int o = 0; o < OUTCOME__COUNT; o++)
        fprintf(arg, "notifyd_messages_total{type=\"%s\",outcome=\"%s\"} %lld\n", type,
                outcome_names[o], (long long)by_outcome[o]);
}

static void message_metrics(FILE *f)
{
    head(f, "notifyd_messages_total", "counter",
         "Notifications by type and outcome (delivered: to live connections; stored: kept for "
         "later; dropped: nobody to give it to; coalesced: a queued progress update replaced).");
    /* several operations share a type (system_notification): add them up */
    for (int i = 0; i < OP__COUNT; i++) {
        const struct op_spec *op = ops_get((enum op_id)i);
        int first = 1;
        for (int k = 0; k < i && first; k++)
            if (ops_get((enum op_id)k)->type && op->type &&
                !strcmp(ops_get((enum op_id)k)->type, op->type))
                first = 0;
        if (!op->type || !first)
            continue;
        for (int o = 0; o < OUTCOME__COUNT; o++) {
            int64_t n = 0;
            for (int k = i; k < OP__COUNT; k++)
                if (ops_get((enum op_id)k)->type && !strcmp(ops_get((enum op_id)k)->type, op->type))
                    n += stats_get(&nd_stats.by_op[k][o]);
            fprintf(f, "notifyd_messages_total{type=\"%s\",outcome=\"%s\"} %lld\n", op->type,
                    outcome_names[o], (long long)n);
        }
    }
    stats_types_each(custom_type, f); /* bounded: STATS_TYPES_MAX names, then "other" */
}

void ws__metrics_render(struct ws_server *ws, FILE *f)
{
    struct ws_metrics sum;
    metrics_sum(ws, &sum);
    head(f, "notifyd_build_info", "gauge", "Always 1; the version is a label.");
    fprintf(f, "notifyd_build_info{version=\"%s\"} 1\n", ND_VERSION);
    one(f, "notifyd_ready", "gauge", "1 when ready to serve (as /readyz), else 0.", health_ready());
    process_metrics(f);

    one(f, "notifyd_connections", "gauge", "Open WebSocket connections.",
        (double)uindex_connections(ws->ix));
    head(f, "notifyd_ws_thread_connections", "gauge",
         "Open WebSockets by WebSocket thread (NOTIFYD_WS_THREADS).");
    for (unsigned k = 0; k < ws->n_shards; k++)
        fprintf(f, "notifyd_ws_thread_connections{thread=\"%s\"} %lld\n", ws__thread_name(k),
                (long long)uindex_shard_connections(ws->ix, k));
    head(f, "notifyd_ws_thread_backlog", "gauge",
         "Deliveries and closes the hub (nd-ws) handed to another WebSocket thread, not run there "
         "yet; at NOTIFYD_MAX_PENDING_CALLS, notifications are refused as busy.");
    for (unsigned k = 1; k < ws->n_shards; k++)
        fprintf(f, "notifyd_ws_thread_backlog{thread=\"%s\"} %lld\n", ws__thread_name(k),
                (long long)atomic_load_explicit(&ws->shards[k]->backlog, memory_order_relaxed));
    one(f, "notifyd_users_online", "gauge", "Users with at least one open WebSocket.",
        (double)uindex_users(ws->ix));
    one(f, "notifyd_connections_opened_total", "counter", "WebSockets opened.",
        (double)stats_get(&nd_stats.connections_opened));
    head(f, "notifyd_connections_closed_total", "counter", "WebSockets closed, by reason.");
    for (int i = 0; i < CLOSED__COUNT; i++)
        fprintf(f, "notifyd_connections_closed_total{reason=\"%s\"} %llu\n", closed_names[i],
                (unsigned long long)sum.closed[i]);
    disconnect_metrics(ws, &sum, f);
    head(f, "notifyd_connections_refused_total", "counter",
         "WebSocket upgrades refused, by reason.");
    for (int i = 0; i < REFUSED__COUNT; i++)
        fprintf(f, "notifyd_connections_refused_total{reason=\"%s\"} %llu\n", refused_names[i],
                (unsigned long long)sum.refused[i]);

    message_metrics(f);
    one(f, "notifyd_deliveries_total", "counter", "Messages queued on a connection.",
        (double)stats_get(&nd_stats.deliveries));
    one(f, "notifyd_frames_written_total", "counter", "Messages written to sockets.",
        (double)sum.frames);
    one(f, "notifyd_acks_total", "counter", "Acks received from clients in ack mode.",
        (double)sum.acks);
    one(f, "notifyd_replayed_messages_total", "counter",
        "Stored or history messages queued for a connecting client.",
        (double)stats_get(&nd_stats.replayed));

    head(f, "notifyd_delivery_latency_seconds", "histogram",
         "From accepting a notification to writing it to a socket.");
    uint64_t cum = 0;
    for (int i = 0; i < WS_LATENCY_BUCKETS; i++) {
        cum += sum.latency[i];
        fprintf(f, "notifyd_delivery_latency_seconds_bucket{le=\"%g\"} %llu\n", latency_le[i],
                (unsigned long long)cum);
    }
    cum += sum.latency[WS_LATENCY_BUCKETS];
    fprintf(f, "notifyd_delivery_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)cum);
    fprintf(f, "notifyd_delivery_latency_seconds_sum %.9g\n", sum.latency_sum);
    fprintf(f, "notifyd_delivery_latency_seconds_count %llu\n",
            (unsigned long long)sum.latency_count);

    struct queue_sum q = {0, 0};
    registry_each_user(ws->reg, sum_queues, &q); /* the hub's now, the others' at their tick */
    for (unsigned k = 1; k < ws->n_shards; k++) {
        q.bytes += (uint64_t)atomic_load(&ws->shards[k]->q_bytes);
        q.messages += (uint64_t)atomic_load(&ws->shards[k]->q_messages);
    }
    one(f, "notifyd_outbound_queue_bytes", "gauge", "Bytes waiting to be written, all connections.",
        (double)q.bytes);
    one(f, "notifyd_outbound_queue_messages", "gauge",
        "Messages waiting to be written, all connections.", (double)q.messages);
    one(f, "notifyd_client_errors_total", "counter", "Error messages sent to WebSocket clients.",
        (double)stats_get(&nd_stats.client_errors));
    one(f, "notifyd_auth_failures_total", "counter", "Refused tokens (WebSocket, gRPC, REST).",
        (double)stats_get(&nd_stats.auth_failures));
    one(f, "notifyd_api_rate_limited_total", "counter", "API calls refused by the rate limit.",
        (double)stats_get(&nd_stats.api_rate_limited));
    one(f, "notifyd_api_busy_total", "counter",
        "API calls refused because NOTIFYD_MAX_PENDING_CALLS calls were waiting.",
        (double)stats_get(&nd_stats.api_busy));
    ws__rest_metrics(f);
    head(f, "notifyd_store_commit_seconds", "histogram",
         "Making messages durable: an SQLite group commit with its fsync (embedded), a publish "
         "that kept a message in Redis (redis).");
    histogram_render(f, "notifyd_store_commit_seconds", NULL, &histogram_commit,
                     &nd_stats.store_commit);
    backend_metrics(ws->backend, f);
    if (ws->metrics_hook && health_get() != HEALTH_STARTING) /* set before "ready" */
        ws->metrics_hook(ws->metrics_hook_arg, f);
}
