/* health: atomics. A heartbeat is the monotonic time of the thread's last
 * loop turn (0: not watched); a stall is a heartbeat older than the
 * watchdog time. */
#include "health.h"

#include <jansson.h>
#include <stdatomic.h>
#include <time.h>

#include "log.h"
#include "nd.h"

static _Atomic int state = HEALTH_STARTING;
static atomic_int dependency_ok = 1;
static atomic_int listener_ok[HEALTH_L__COUNT] = {1, 1};
static _Atomic int64_t watchdog_ms;
static _Atomic int64_t beat_ms[HEALTH_T__COUNT];
static int reported[HEALTH_T__COUNT]; /* main thread only: a stall was logged */

static const char *const thread_names[HEALTH_T_WS_MORE] = {"nd-ws", "nd-grpc", "nd-store",
                                                           "nd-redis", "nd-ckpt"};
static const char *const ws_names[HEALTH_T__COUNT - HEALTH_T_WS_MORE] = {
#define N(k) "nd-ws" #k
    N(1),  N(2),  N(3),  N(4),  N(5),  N(6),  N(7),  N(8),  N(9),  N(10), N(11), N(12), N(13),
    N(14), N(15), N(16), N(17), N(18), N(19), N(20), N(21), N(22), N(23), N(24), N(25), N(26),
    N(27), N(28), N(29), N(30), N(31), N(32), N(33), N(34), N(35), N(36), N(37), N(38), N(39),
    N(40), N(41), N(42), N(43), N(44), N(45), N(46), N(47), N(48), N(49), N(50), N(51), N(52),
    N(53), N(54), N(55), N(56), N(57), N(58), N(59), N(60), N(61), N(62), N(63),
#undef N
};

/* a thread whose stall fails liveness: the WebSocket threads and nd-grpc */
static int liveness_thread(int t)
{
    return t == HEALTH_T_WS || t == HEALTH_T_GRPC || t >= HEALTH_T_WS_MORE;
}

void health_set(enum health_state s)
{
    atomic_store(&state, (int)s);
}

enum health_state health_get(void)
{
    return (enum health_state)atomic_load(&state);
}

void health_set_dependency(int ok)
{
    atomic_store(&dependency_ok, ok);
}

void health_set_listener(enum health_listener l, int accepting)
{
    atomic_store(&listener_ok[l], accepting);
}

int health_listener_ok(enum health_listener l)
{
    return atomic_load(&listener_ok[l]);
}

int health_ready(void)
{
    return health_get() == HEALTH_READY && atomic_load(&dependency_ok) &&
           atomic_load(&listener_ok[HEALTH_L_HTTP]) && atomic_load(&listener_ok[HEALTH_L_GRPC]);
}

const char *health_status(void)
{
    enum health_state s = health_get();
    if (s == HEALTH_READY && !atomic_load(&dependency_ok))
        return "redis unreachable";
    if (s == HEALTH_READY && !atomic_load(&listener_ok[HEALTH_L_HTTP]))
        return "http listener not accepting";
    if (s == HEALTH_READY && !atomic_load(&listener_ok[HEALTH_L_GRPC]))
        return "grpc listener not accepting";
    return health_state_str(s);
}

const char *health_state_str(enum health_state s)
{
    return s == HEALTH_READY ? "ready" : s == HEALTH_DRAINING ? "draining" : "starting";
}

void health_set_watchdog_ms(int64_t ms)
{
    atomic_store(&watchdog_ms, ms);
}

void health_beat(enum health_thread t)
{
    atomic_store_explicit(&beat_ms[t], nd_mono_ms(), memory_order_relaxed);
}

void health_unwatch(enum health_thread t)
{
    atomic_store(&beat_ms[t], 0);
}

const char *health_thread_name(enum health_thread t)
{
    return (unsigned)t < HEALTH_T_WS_MORE  ? thread_names[t]
           : (unsigned)t < HEALTH_T__COUNT ? ws_names[t - HEALTH_T_WS_MORE]
                                           : "?";
}

int64_t health_idle_ms(enum health_thread t)
{
    int64_t b = atomic_load_explicit(&beat_ms[t], memory_order_relaxed);
    return b ? nd_mono_ms() - b : -1;
}

int health_stalled(int liveness, int64_t *ms)
{
    int64_t limit = atomic_load(&watchdog_ms);
    if (limit <= 0)
        return -1;
    for (int t = 0; t < HEALTH_T__COUNT; t++) {
        if (liveness && !liveness_thread(t))
            continue;
        int64_t idle = health_idle_ms((enum health_thread)t);
        if (idle >= limit) {
            if (ms)
                *ms = idle;
            return t;
        }
    }
    return -1;
}

void health_watchdog_check(void)
{
    int64_t limit = atomic_load(&watchdog_ms);
    for (int t = 0; t < HEALTH_T__COUNT; t++) {
        int64_t idle = health_idle_ms((enum health_thread)t);
        int stalled = limit > 0 && idle >= limit;
        if (stalled && !reported[t])
            nd_log(ND_LOG_ERROR, "thread stalled", "{s:s, s:I, s:b}", "thread",
                   health_thread_name((enum health_thread)t), "ms", (json_int_t)idle, "liveness",
                   liveness_thread(t));
        else if (!stalled && reported[t])
            nd_log(ND_LOG_INFO, "thread recovered", "{s:s}", "thread",
                   health_thread_name((enum health_thread)t));
        reported[t] = stalled;
    }
}
