/* common: what every bench program shares -- clocks, the open-files limit,
 * a fixed-size latency histogram (no allocation when recording) and HS256
 * JWT minting with OpenSSL. Header-only; each program includes it once. */
#ifndef NOTIFYD_BENCH_COMMON_H
#define NOTIFYD_BENCH_COMMON_H

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_UNUSED __attribute__((unused))

static BENCH_UNUSED int64_t now_ns(void) /* CLOCK_REALTIME: comparable across processes */
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static BENCH_UNUSED int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit */
static BENCH_UNUSED long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

static BENCH_UNUSED double cpu_self_s(void) /* user + system, every thread */
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* makes s safe inside a JSON string (quotes, backslashes, control bytes -> ' ') */
static BENCH_UNUSED void json_clean(char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
            *s = ' ';
}

/* --- histogram of microseconds: exact below 128, then 64 sub-buckets per
 * power of two (at most 1.6% error), up to 2^40 us. Plain uint64 counters:
 * one writer; readers in other processes take a possibly torn-free snapshot
 * because every counter is an aligned 64-bit word. --- */
#define HIST_SUB 64
#define HIST_BUCKETS (128 + 34 * HIST_SUB)

struct hist {
    uint64_t n;   /* values recorded */
    uint64_t sum; /* their sum, us */
    uint64_t max; /* largest, us */
    uint64_t b[HIST_BUCKETS];
};

static BENCH_UNUSED int hist_index(uint64_t v)
{
    if (v < 128)
        return (int)v;
    int e = 63 - __builtin_clzll(v) - 6; /* v >> e is in [64, 127] */
    int i = 128 + (e - 1) * HIST_SUB + (int)((v >> e) - HIST_SUB);
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

static BENCH_UNUSED uint64_t hist_value(int i) /* upper edge of bucket i */
{
    if (i < 128)
        return (uint64_t)i;
    int e = (i - 128) / HIST_SUB + 1;
    uint64_t sub = (uint64_t)((i - 128) % HIST_SUB + HIST_SUB);
    return ((sub + 1) << e) - 1;
}

static BENCH_UNUSED void hist_add(struct hist *h, int64_t us)
{
    uint64_t v = us < 0 ? 0 : (uint64_t)us;
    h->b[hist_index(v)]++;
    h->n++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

/* value at quantile q (0..1), in microseconds */
static BENCH_UNUSED uint64_t hist_quantile(const struct hist *h, double q)
{
    if (!h->n)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->n);
    if (want >= h->n)
        want = h->n - 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > want) {
            uint64_t v = hist_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* "p50_ms":..,"p99_ms":..,"max_ms":..,"mean_ms":.. (no braces) */
static BENCH_UNUSED int hist_json(const struct hist *h, const char *prefix, char *out, size_t len)
{
    return snprintf(
        out, len, "\"%sp50_ms\":%.3f,\"%sp99_ms\":%.3f,\"%smax_ms\":%.3f,\"%smean_ms\":%.3f",
        prefix, hist_quantile(h, 0.50) / 1000.0, prefix, hist_quantile(h, 0.99) / 1000.0, prefix,
        h->max / 1000.0, prefix, h->n ? (double)h->sum / (double)h->n / 1000.0 : 0.0);
}

/* --- HS256 JWT --- */

static BENCH_UNUSED size_t b64url(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
    }
    out[o] = 0;
    return o;
}

/* writes header.payload.signature for {"user_id":user,"role":role,"exp":now+ttl}
 * into out (needs ~ 4/3 of the claims + 120 bytes); returns its length or -1 */
static BENCH_UNUSED int jwt_mint(const char *secret, const char *user, const char *role, long ttl_s,
                                 char *out, size_t outlen)
{
    char claims[512];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int n = snprintf(claims, sizeof claims, "{\"user_id\":\"%s\",\"role\":\"%s\",\"exp\":%lld}",
                     user, role, (long long)time(NULL) + ttl_s);
    if (n < 0 || (size_t)n >= sizeof claims || outlen < (size_t)n * 4 / 3 + 120)
        return -1;
    static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t o = b64url((const unsigned char *)hdr, sizeof hdr - 1, out);
    out[o++] = '.';
    o += b64url((const unsigned char *)claims, (size_t)n, out + o);
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)out, o, mac,
              &maclen))
        return -1;
    out[o++] = '.';
    o += b64url(mac, maclen, out + o);
    return (int)o;
}

#endif
