/* grpcpub: a gRPC publisher on the gRPC C core. Calls notifyd's
 * SendSystemNotification for random users u0..u(U-1) (unicast), Broadcast, or
 * NotifyBatchGoProgress for random users (progress: a type never stored);
 * for the feed: SendSystemNotification with feed false (stored: the offline
 * store only) or true (feednotify: and the feed), Publish to 1,000 users at a
 * time in turn, kept in their feeds only (feedseed), ListFeed of random users
 * (list), or MarkFeed of one item at a time from --ids FILE ("user id"
 * lines), read then unread on each pass, so every call changes one item (mark);
 * with "t=<CLOCK_REALTIME ns>" as the message text, either at a fixed offered
 * rate or as fast as K outstanding calls allow. It authenticates with an admin
 * token it mints. One thread drives one completion queue; calls/s, errors,
 * RPC latency and its own CPU go out as one JSON line. One call warms the
 * connection up; --warmup S makes S seconds of calls as offered before the
 * measured ones (a connection's first calls find HTTP/2's windows and both
 * processes' allocators cold: 0.5-5 ms on this machine, bench/FEED.md). */
#define _GNU_SOURCE
#include <getopt.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "common.h"
#include "notification/v1/notification.pb-c.h"

#define SVC "/notification.v1.NotificationService/"
#define MAX_K 4096
#define MAX_CH 16

struct slot {
    int busy;
    grpc_call *call;
    grpc_byte_buffer *req, *resp;
    grpc_metadata_array initial_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
    int64_t t0;
};

static struct {
    char target[128], secret[256], mode[16];
    int users, k, channels;
    double rate, duration, max_time;
    long max_calls;
    int realistic; /* --realistic: broadcast a ~300-byte notification, not "t=<ns>" */
    int no_feed;   /* --no-feed: unicast asks feed: false (the push alone, not kept in the feed) */
    char ids[256]; /* --ids FILE: the items mark marks */
    double warmup; /* --warmup S: S seconds of calls as offered, not measured */
    char trace[256]; /* --trace FILE: "start_s latency_us" of each measured call */
} o;

#define SEED_USERS 1000 /* feedseed: users per Publish */
static char (*mark_users)[32], (*mark_ids)[17];
static size_t n_marks;
static uint64_t seeded; /* feedseed: Publish calls made */

static grpc_channel *ch[MAX_CH];
static void *reg[MAX_CH];      /* the measured method */
static void *reg_warm[MAX_CH]; /* SendSystemNotification, for the warm-up call */
static int warming;
static grpc_completion_queue *cq;
static grpc_metadata auth;
static struct slot *slots;
static struct hist lat;
static uint64_t started, ok, errors, conns_reached, behind, stored;
static char first_error[256];
static int64_t t_first, t_last;
static FILE *trace;
static uint32_t rnd = 0x12345678u;

static uint32_t xrand(void)
{
    rnd ^= rnd << 13;
    rnd ^= rnd >> 17;
    rnd ^= rnd << 5;
    return rnd;
}

static grpc_byte_buffer *packed(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    len = protobuf_c_message_pack(m, buf);
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)buf, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    free(buf);
    return bb;
}

/* the feed modes' requests; NULL for the others */
static grpc_byte_buffer *feed_request(const char *msg)
{
    char user[32];
    snprintf(user, sizeof user, "u%u", xrand() % (uint32_t)o.users);
    if (!strcmp(o.mode, "feedseed")) {
        static char names[SEED_USERS][24], *ptrs[SEED_USERS];
        char data[300];
        Notification__V1__PublishRequest r = NOTIFICATION__V1__PUBLISH_REQUEST__INIT;
        size_t n = o.users < SEED_USERS ? (size_t)o.users : SEED_USERS;
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], sizeof names[i], "u%llu",
                     (unsigned long long)((seeded * n + i) % (uint64_t)o.users));
            ptrs[i] = names[i];
        }
        seeded++;
        int len = snprintf(data, sizeof data,
                           "{\"title\":\"Report ready\",\"message\":\"Your weekly report is "
                           "ready (%s)\",\"level\":\"info\",\"action_url\":\"https://app."
                           "example.com/reports\"}",
                           msg);
        r.type = "system_notification";
        r.data.data = (uint8_t *)data;
        r.data.len = (size_t)len;
        r.n_user_ids = n;
        r.user_ids = ptrs;
        r.store = NOTIFICATION__V1__STORE__STORE_NEVER;
        r.feed_choice_case = NOTIFICATION__V1__PUBLISH_REQUEST__FEED_CHOICE_FEED;
        r.feed = 1;
        return packed(&r.base);
    }
    if (!strcmp(o.mode, "stored") || !strcmp(o.mode, "feednotify")) {
        Notification__V1__SendSystemNotificationRequest r =
            NOTIFICATION__V1__SEND_SYSTEM_NOTIFICATION_REQUEST__INIT;
        r.user_id = user;
        r.title = "bench";
        r.message = (char *)msg;
        r.level = NOTIFICATION__V1__LEVEL__LEVEL_INFO;
        r.feed_choice_case = NOTIFICATION__V1__SEND_SYSTEM_NOTIFICATION_REQUEST__FEED_CHOICE_FEED;
        r.feed = !strcmp(o.mode, "feednotify");
        return packed(&r.base);
    }
    if (!strcmp(o.mode, "list")) {
        Notification__V1__ListFeedRequest r = NOTIFICATION__V1__LIST_FEED_REQUEST__INIT;
        r.user_id = user;
        r.limit = 20;
        return packed(&r.base);
    }
    if (!strcmp(o.mode, "mark")) {
        Notification__V1__MarkFeedRequest r = NOTIFICATION__V1__MARK_FEED_REQUEST__INIT;
        size_t i = (size_t)(started % n_marks);
        char *id = mark_ids[i];
        r.user_id = mark_users[i];
        r.n_ids = 1;
        r.ids = &id;
        r.action = (started / n_marks) % 2 ? NOTIFICATION__V1__FEED_ACTION__FEED_ACTION_UNREAD
                                           : NOTIFICATION__V1__FEED_ACTION__FEED_ACTION_READ;
        return packed(&r.base);
    }
    return NULL;
}

/* packs the request for this call into a byte buffer */
static grpc_byte_buffer *make_request(void)
{
    uint8_t buf[512];
    char msg[256], user[32];
    size_t len;
    if (o.realistic) /* a notification as people write them: ~300 bytes of JSON delivered */
        snprintf(msg, sizeof msg,
                 "The dashboard is read-only from 02:00 to 02:30 UTC for a database "
                 "upgrade; running tasks go on. (ref t=%lld)",
                 (long long)now_ns());
    else
        snprintf(msg, sizeof msg, "t=%lld", (long long)now_ns());
    grpc_byte_buffer *feed = warming ? NULL : feed_request(msg);
    if (feed)
        return feed;
    if (!warming && !strcmp(o.mode, "progress")) {
        Notification__V1__NotifyBatchGoProgressRequest r =
            NOTIFICATION__V1__NOTIFY_BATCH_GO_PROGRESS_REQUEST__INIT;
        Notification__V1__TaskProgressData t = NOTIFICATION__V1__TASK_PROGRESS_DATA__INIT;
        snprintf(user, sizeof user, "u%u", xrand() % (uint32_t)o.users);
        r.user_id = user;
        t.task_id = "bench";
        t.status = "running";
        t.progress = 50;
        t.total = 100;
        t.completed = 50;
        t.message = msg;
        r.task = &t;
        len = notification__v1__notify_batch_go_progress_request__pack(&r, buf);
    } else if (!warming && !strcmp(o.mode, "broadcast")) {
        Notification__V1__BroadcastRequest r = NOTIFICATION__V1__BROADCAST_REQUEST__INIT;
        r.title = o.realistic ? "Maintenance tonight" : "bench";
        r.message = msg;
        r.level = o.realistic ? NOTIFICATION__V1__LEVEL__LEVEL_WARNING
                              : NOTIFICATION__V1__LEVEL__LEVEL_INFO;
        if (o.realistic) {
            r.action = "view_status";
            r.action_url = "https://app.example.com/status";
        }
        len = notification__v1__broadcast_request__pack(&r, buf);
    } else {
        Notification__V1__SendSystemNotificationRequest r =
            NOTIFICATION__V1__SEND_SYSTEM_NOTIFICATION_REQUEST__INIT;
        if (warming) /* nobody is connected as this user: the warm-up delivers nothing */
            snprintf(user, sizeof user, "bench-warmup");
        else
            snprintf(user, sizeof user, "u%u", xrand() % (uint32_t)o.users);
        r.user_id = user;
        r.title = "bench";
        r.message = msg;
        r.level = NOTIFICATION__V1__LEVEL__LEVEL_INFO;
        if (o.no_feed) {
            r.feed_choice_case =
                NOTIFICATION__V1__SEND_SYSTEM_NOTIFICATION_REQUEST__FEED_CHOICE_FEED;
            r.feed = 0;
        }
        len = notification__v1__send_system_notification_request__pack(&r, buf);
    }
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)buf, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static int start_call(struct slot *s)
{
    int c = (int)(started % (uint64_t)o.channels);
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(10, GPR_TIMESPAN));
    s->call = grpc_channel_create_registered_call(ch[c], NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                                  warming ? reg_warm[c] : reg[c], deadline, NULL);
    s->req = make_request();
    s->resp = NULL;
    grpc_metadata_array_init(&s->initial_md);
    grpc_metadata_array_init(&s->trailing_md);
    s->t0 = mono_ns();
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = &auth;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->trailing_md;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    if (grpc_call_start_batch(s->call, ops, 6, s, NULL) != GRPC_CALL_OK) {
        errors++;
        snprintf(first_error, sizeof first_error, "grpc_call_start_batch failed");
        grpc_call_unref(s->call);
        grpc_byte_buffer_destroy(s->req);
        grpc_metadata_array_destroy(&s->initial_md);
        grpc_metadata_array_destroy(&s->trailing_md);
        return -1;
    }
    if (!t_first)
        t_first = s->t0;
    s->busy = 1;
    started++;
    return 0;
}

/* fields 2 (connections) and 3 (stored) of the notify responses, without
 * allocating a message */
static uint64_t response_connections(grpc_byte_buffer *bb, int *was_stored)
{
    grpc_byte_buffer_reader r;
    uint64_t conns = 0;
    *was_stored = 0;
    if (!bb || !grpc_byte_buffer_reader_init(&r, bb))
        return 0;
    grpc_slice all = grpc_byte_buffer_reader_readall(&r);
    const uint8_t *p = GRPC_SLICE_START_PTR(all), *end = p + GRPC_SLICE_LENGTH(all);
    while (p < end) {
        uint64_t key = 0, v = 0;
        int sh = 0;
        while (p < end && sh < 64) {
            key |= (uint64_t)(*p & 0x7f) << sh;
            sh += 7;
            if (!(*p++ & 0x80))
                break;
        }
        int wt = (int)(key & 7);
        if (wt == 0) {
            sh = 0;
            while (p < end && sh < 64) {
                v |= (uint64_t)(*p & 0x7f) << sh;
                sh += 7;
                if (!(*p++ & 0x80))
                    break;
            }
            if (key >> 3 == 2)
                conns = v;
            else if (key >> 3 == 3)
                *was_stored = v != 0;
        } else if (wt == 2) {
            sh = 0;
            while (p < end && sh < 64) {
                v |= (uint64_t)(*p & 0x7f) << sh;
                sh += 7;
                if (!(*p++ & 0x80))
                    break;
            }
            p += v;
        } else {
            break;
        }
    }
    grpc_slice_unref(all);
    grpc_byte_buffer_reader_destroy(&r);
    return conns;
}

static void finish_call(struct slot *s)
{
    int64_t now = mono_ns();
    if (s->status == GRPC_STATUS_OK) {
        ok++;
        int st = 0;
        conns_reached += response_connections(s->resp, &st);
        stored += (uint64_t)st;
        hist_add(&lat, (now - s->t0) / 1000);
        if (trace && !warming)
            fprintf(trace, "%.6f %lld\n", (double)s->t0 / 1e9, (long long)((now - s->t0) / 1000));
        t_last = now;
    } else {
        errors++;
        if (!first_error[0]) {
            char *d = grpc_slice_to_c_string(s->details);
            snprintf(first_error, sizeof first_error, "status %d: %s", (int)s->status, d);
            gpr_free(d);
        }
    }
    grpc_slice_unref(s->details);
    grpc_byte_buffer_destroy(s->req);
    if (s->resp)
        grpc_byte_buffer_destroy(s->resp);
    grpc_metadata_array_destroy(&s->initial_md);
    grpc_metadata_array_destroy(&s->trailing_md);
    grpc_call_unref(s->call);
    s->busy = 0;
}

/* waits for one completion until @until (mono ns); returns 1 if a call finished */
static int poll_once(int64_t until_mono)
{
    int64_t wait = until_mono - mono_ns();
    if (wait < 0)
        wait = 0;
    gpr_timespec d =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_micros(wait / 1000, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_next(cq, d, NULL);
    if (ev.type != GRPC_OP_COMPLETE)
        return 0;
    finish_call(ev.tag);
    return 1;
}

static struct slot *free_slot(void)
{
    for (int i = 0; i < o.k; i++)
        if (!slots[i].busy)
            return &slots[i];
    return NULL;
}

static int busy_count(void)
{
    int n = 0;
    for (int i = 0; i < o.k; i++)
        n += slots[i].busy;
    return n;
}

/* calls for @seconds (bounded by @hard_end and @max_calls), at o.rate or as fast as o.k
 * allow, then waits (at most 10 s) for the answers; when it stopped making calls */
static int64_t offer(double seconds, int64_t hard_end, uint64_t max_calls)
{
    uint64_t first = started;
    int64_t t0 = mono_ns();
    int64_t end = t0 + (int64_t)(seconds * 1e9);
    if (end > hard_end)
        end = hard_end;
    double interval_ns = o.rate > 0 ? 1e9 / o.rate : 0;
    while (mono_ns() < end && started - first < max_calls) {
        int64_t now = mono_ns();
        if (o.rate <= 0) {
            struct slot *s;
            while ((s = free_slot()) && started - first < max_calls)
                if (start_call(s) < 0)
                    break;
            poll_once(end);
        } else {
            uint64_t due = (uint64_t)((double)(now - t0) / interval_ns) + 1;
            while (started - first + behind < due) {
                struct slot *s = free_slot();
                if (!s) { /* offered load not met: K calls already waiting */
                    behind++;
                    continue;
                }
                if (start_call(s) < 0)
                    break;
            }
            int64_t next = t0 + (int64_t)((double)(started - first + behind) * interval_ns);
            poll_once(next < end ? next : end);
        }
        while (poll_once(0)) /* drain what is ready */
            ;
    }
    int64_t stop_issuing = mono_ns();
    int64_t drain_end = stop_issuing + 10000000000LL;
    while (busy_count() && mono_ns() < drain_end)
        poll_once(drain_end);
    return stop_issuing;
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: grpcpub --target HOST:PORT --secret S\n"
        "  [--mode unicast|broadcast|progress|stored|feednotify|feedseed|list|mark [--ids FILE]]\n"
        "  [--users 10000] [--rate R (0 = as fast as K allows)] [--outstanding K]\n"
        "  [--duration 5] [--channels 1] [--max-calls N] [--max-time 120] [--realistic]\n"
        "  [--no-feed] (unicast: feed false) [--warmup S (calls as offered, not measured)]\n"
        "  [--trace FILE (each measured call: its start in s, CLOCK_MONOTONIC, and its us)]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"target", 1, 0, 't'},    {"secret", 1, 0, 's'},
                                       {"mode", 1, 0, 'm'},      {"users", 1, 0, 'u'},
                                       {"rate", 1, 0, 'r'},      {"outstanding", 1, 0, 'k'},
                                       {"duration", 1, 0, 'd'},  {"channels", 1, 0, 'c'},
                                       {"max-calls", 1, 0, 'n'}, {"max-time", 1, 0, 'M'},
                                       {"realistic", 0, 0, 'R'}, {"ids", 1, 0, 'I'},
                                       {"no-feed", 0, 0, 'F'},   {"warmup", 1, 0, 'W'},
                                       {"trace", 1, 0, 'T'},     {0, 0, 0, 0}};
    snprintf(o.mode, sizeof o.mode, "unicast");
    o.users = 10000;
    o.k = 64;
    o.channels = 1;
    o.duration = 5;
    o.max_time = 120;
    o.max_calls = 100000000;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 't': snprintf(o.target, sizeof o.target, "%s", optarg); break;
        case 's': snprintf(o.secret, sizeof o.secret, "%s", optarg); break;
        case 'm': snprintf(o.mode, sizeof o.mode, "%s", optarg); break;
        case 'u': o.users = atoi(optarg); break;
        case 'r': o.rate = atof(optarg); break;
        case 'k': o.k = atoi(optarg); break;
        case 'd': o.duration = atof(optarg); break;
        case 'c': o.channels = atoi(optarg); break;
        case 'n': o.max_calls = atol(optarg); break;
        case 'M': o.max_time = atof(optarg); break;
        case 'R': o.realistic = 1; break;
        case 'I': snprintf(o.ids, sizeof o.ids, "%s", optarg); break;
        case 'F': o.no_feed = 1; break;
        case 'W': o.warmup = atof(optarg); break;
        case 'T': snprintf(o.trace, sizeof o.trace, "%s", optarg); break;
        default: usage();
        }
    }
    if (!o.target[0] || !o.secret[0] || o.users < 1 || o.k < 1 || o.k > MAX_K || o.channels < 1 ||
        o.channels > MAX_CH ||
        (strcmp(o.mode, "unicast") && strcmp(o.mode, "broadcast") && strcmp(o.mode, "progress") &&
         strcmp(o.mode, "stored") && strcmp(o.mode, "feednotify") && strcmp(o.mode, "feedseed") &&
         strcmp(o.mode, "list") && strcmp(o.mode, "mark")))
        usage();
    if (!strcmp(o.mode, "mark")) { /* the items to mark: "user id" lines */
        FILE *f = o.ids[0] ? fopen(o.ids, "r") : NULL;
        size_t cap = 0;
        char u[32], id[17];
        while (f && fscanf(f, "%31s %16s", u, id) == 2) {
            if (n_marks == cap) {
                cap = cap ? 2 * cap : 1024;
                mark_users = realloc(mark_users, cap * sizeof *mark_users);
                mark_ids = realloc(mark_ids, cap * sizeof *mark_ids);
            }
            memcpy(mark_users[n_marks], u, sizeof u);
            memcpy(mark_ids[n_marks++], id, sizeof id);
        }
        if (f)
            fclose(f);
        if (!n_marks) {
            fprintf(stderr, "grpcpub: --mode mark needs --ids FILE with \"user id\" lines\n");
            return 2;
        }
    }
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);

    char tok[1024], bearer[1100];
    if (jwt_mint(o.secret, "bench-admin", "admin", 3600, tok, sizeof tok) < 0)
        return 1;
    snprintf(bearer, sizeof bearer, "Bearer %s", tok);

    grpc_init();
    cq = grpc_completion_queue_create_for_next(NULL);
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_arg a[1];
    memset(a, 0, sizeof a);
    a[0].type = GRPC_ARG_INTEGER;
    a[0].key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL; /* one TCP connection per channel */
    a[0].value.integer = 1;
    grpc_channel_args args = {1, a};
    const char *method = !strcmp(o.mode, "broadcast")  ? SVC "Broadcast"
                         : !strcmp(o.mode, "progress") ? SVC "NotifyBatchGoProgress"
                         : !strcmp(o.mode, "feedseed") ? SVC "Publish"
                         : !strcmp(o.mode, "list")     ? SVC "ListFeed"
                         : !strcmp(o.mode, "mark")     ? SVC "MarkFeed"
                                                       : SVC "SendSystemNotification";
    for (int i = 0; i < o.channels; i++) {
        ch[i] = grpc_channel_create(o.target, creds, &args);
        reg[i] = grpc_channel_register_call(ch[i], method, NULL, NULL);
        reg_warm[i] = grpc_channel_register_call(ch[i], SVC "SendSystemNotification", NULL, NULL);
    }
    grpc_channel_credentials_release(creds);
    auth.key = grpc_slice_from_static_string("authorization");
    auth.value = grpc_slice_from_copied_string(bearer);
    slots = calloc((size_t)o.k, sizeof *slots);

    double cpu0 = cpu_self_s();
    int64_t hard_end = mono_ns() + (int64_t)(o.max_time * 1e9);
    /* warm up: one call per channel, so connection set-up is not measured */
    warming = 1;
    for (int i = 0; i < o.channels && i < o.k; i++)
        start_call(&slots[i]);
    while (busy_count() && mono_ns() < hard_end)
        poll_once(hard_end);
    warming = 0;
    int warm_errors = (int)errors;
    if (warm_errors) {
        json_clean(first_error);
        printf("{\"event\":\"done\",\"mode\":\"%s\",\"ok\":0,\"errors\":%d,\"first_error\":\"%s\","
               "\"rate\":0}\n",
               o.mode, warm_errors, first_error);
        return 1;
    }
    if (o.warmup > 0) { /* the offered load for a while, then the counts start again */
        offer(o.warmup, hard_end, UINT64_MAX);
        if (errors) {
            json_clean(first_error);
            printf("{\"event\":\"done\",\"mode\":\"%s\",\"ok\":0,\"errors\":%d,"
                   "\"first_error\":\"warm-up: %s\",\"rate\":0}\n",
                   o.mode, (int)errors, first_error);
            return 1;
        }
    }
    started = ok = errors = conns_reached = stored = behind = 0;
    memset(&lat, 0, sizeof lat);
    t_first = t_last = 0;
    if (o.trace[0] && !(trace = fopen(o.trace, "w"))) {
        fprintf(stderr, "grpcpub: cannot write %s\n", o.trace);
        return 2;
    }
    int64_t t0 = mono_ns();
    int64_t stop_issuing = offer(o.duration, hard_end, (uint64_t)o.max_calls);
    int left = busy_count();
    for (int i = 0; i < o.k; i++)
        if (slots[i].busy)
            grpc_call_cancel(slots[i].call, NULL);
    while (busy_count() && poll_once(mono_ns() + 1000000000LL))
        ;
    json_clean(first_error);
    double secs = (t_last > t_first ? t_last - t_first : stop_issuing - t0) / 1e9;
    char lj[256];
    hist_json(&lat, "rpc_", lj, sizeof lj);
    printf("{\"event\":\"done\",\"mode\":\"%s\",\"target\":\"%s\",\"offered\":%.1f,\"k\":%d,"
           "\"channels\":%d,\"started\":%llu,\"ok\":%llu,\"errors\":%llu,\"behind\":%llu,"
           "\"unfinished\":%d,\"first_error\":\"%s\",\"secs\":%.3f,\"rate\":%.1f,"
           "\"connections\":%llu,\"stored\":%llu,%s,\"cpu_s\":%.3f}\n",
           o.mode, o.target, o.rate, o.k, o.channels, (unsigned long long)started,
           (unsigned long long)ok, (unsigned long long)errors, (unsigned long long)behind, left,
           first_error, secs, secs > 0 ? ok / secs : 0.0, (unsigned long long)conns_reached,
           (unsigned long long)stored, lj, cpu_self_s() - cpu0);
    fflush(stdout);
    if (trace)
        fclose(trace);

    for (int i = 0; i < o.channels; i++)
        grpc_channel_destroy(ch[i]);
    grpc_completion_queue_shutdown(cq);
    for (int i = 0; i < 1000; i++) { /* bounded: at most 1000 events or a 2 s wait */
        grpc_event ev = grpc_completion_queue_next(
            cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(2, GPR_TIMESPAN)),
            NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            break;
    }
    grpc_completion_queue_destroy(cq);
    grpc_slice_unref(auth.value);
    grpc_shutdown();
    return 0;
}
