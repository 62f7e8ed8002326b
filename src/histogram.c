/* histogram: fixed buckets, cumulated when rendered. */
#include "histogram.h"

const struct histogram_le histogram_latency = {16,
                                               {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
const struct histogram_le histogram_commit = {
    14, {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
const struct histogram_le histogram_lifetime = {
    13, {1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400}};

void histogram_observe(struct histogram *h, const struct histogram_le *le, int64_t us)
{
    if (us < 0)
        us = 0;
    double s = (double)us / 1e6;
    size_t i = 0;
    while (i < le->n && s > le->le[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
}

void histogram_render(FILE *f, const char *name, const char *labels, const struct histogram_le *le,
                      struct histogram *h)
{
    const char *sep = labels ? "," : "";
    labels = labels ? labels : "";
    uint64_t cum = 0;
    for (size_t i = 0; i <= le->n; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < le->n)
            fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, le->le[i],
                    (unsigned long long)cum);
        else
            fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                    (unsigned long long)cum);
    }
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    fprintf(f, "%s_sum%s%s%s %.6f\n", name, open, labels, close,
            (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    fprintf(f, "%s_count%s%s%s %llu\n", name, open, labels, close, (unsigned long long)cum);
}
