/* stats: storage for the process-wide counters, and the counts of callers'
 * own message types: a fixed table of names, appended under a lock and read
 * without one (a name is written before the count that publishes it). */
#include "stats.h"

#include <pthread.h>
#include <string.h>

struct nd_stats nd_stats;

static struct {
    pthread_mutex_t lock; /* appending a name */
    atomic_int n;         /* names in use; {lock} to grow */
    char names[STATS_TYPES_MAX][ND_TYPE_MAX + 1];
    _Atomic int64_t counts[STATS_TYPES_MAX + 1][OUTCOME__COUNT]; /* last row: other */
} types = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* the row of @type, adding it while there is room */
static int type_row(const char *type)
{
    int n = atomic_load_explicit(&types.n, memory_order_acquire);
    if (strlen(type) > ND_TYPE_MAX || !strcmp(type, "other"))
        return STATS_TYPES_MAX;
    for (int i = 0; i < n; i++)
        if (!strcmp(types.names[i], type))
            return i;
    if (n == STATS_TYPES_MAX)
        return STATS_TYPES_MAX;
    pthread_mutex_lock(&types.lock);
    int row = STATS_TYPES_MAX;
    n = atomic_load_explicit(&types.n, memory_order_relaxed);
    for (int i = 0; i < n && row == STATS_TYPES_MAX; i++)
        if (!strcmp(types.names[i], type))
            row = i;
    if (row == STATS_TYPES_MAX && n < STATS_TYPES_MAX) {
        strcpy(types.names[n], type);
        atomic_store_explicit(&types.n, n + 1, memory_order_release);
        row = n;
    }
    pthread_mutex_unlock(&types.lock);
    return row;
}

void stats_type_add(const char *type, enum stats_outcome o, int64_t n)
{
    stats_add(&types.counts[type_row(type)][o], n);
}

void stats_types_each(void (*fn)(void *arg, const char *type, const int64_t *by_outcome), void *arg)
{
    int n = atomic_load_explicit(&types.n, memory_order_acquire);
    int64_t row[OUTCOME__COUNT];
    for (int i = 0; i <= n; i++) {
        int r = i < n ? i : STATS_TYPES_MAX;
        for (int o = 0; o < OUTCOME__COUNT; o++)
            row[o] = stats_get(&types.counts[r][o]);
        fn(arg, i < n ? types.names[i] : "other", row);
    }
}
