/* stats: storage for the process-wide counters. */
#include "stats.h"

struct nd_stats nd_stats;
