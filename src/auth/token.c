/* token: the one place JWTs are checked. libjwt 1.10 verifies signatures
 * only: it accepts alg "none" with a NULL key and HS256 signed with any key
 * it is handed, and never looks at exp/nbf -- so we pin the algorithm and
 * check the times ourselves. */
#include "auth/token.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <jwt.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct token_keys {
    struct token_keys *next; /* in a keyring's retired list */
    uint64_t generation;     /* unique per key set: verified tokens are cached under it */
    unsigned char *secret;   /* HS256/384/512 key; NULL: HMAC tokens refused */
    size_t secret_len;
    char *pub; /* PEM public key; NULL: RSA/EC tokens refused */
    size_t pub_len;
    int pub_rsa;          /* 1: RSA (RS256/384/512), 0: EC (the ES alg of its curve) */
    jwt_alg_t pub_ec_alg; /* the one ES alg matching the curve of the EC key */
    char *issuer;
    char *audience;
};

void token_keys_free(struct token_keys *keys)
{
    if (!keys)
        return;
    if (keys->secret)
        OPENSSL_cleanse(keys->secret, keys->secret_len);
    free(keys->secret);
    free(keys->pub);
    free(keys->issuer);
    free(keys->audience);
    free(keys);
}

/* reads the key type: RSA, or EC with a curve we have an algorithm for */
static int inspect_public_key(struct token_keys *k, char *err, size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(k->pub, (int)k->pub_len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    int rc = -1;
    if (!pkey) {
        snprintf(err, errlen,
                 "the public key is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
        goto done;
    }
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        k->pub_rsa = 1;
        rc = 0;
    } else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
        char curve[64] = "";
        size_t n = 0;
        EVP_PKEY_get_utf8_string_param(pkey, "group", curve, sizeof curve, &n);
        k->pub_ec_alg = !strcmp(curve, "prime256v1")  ? JWT_ALG_ES256
                        : !strcmp(curve, "secp384r1") ? JWT_ALG_ES384
                        : !strcmp(curve, "secp521r1") ? JWT_ALG_ES512
                                                      : JWT_ALG_INVAL;
        if (k->pub_ec_alg == JWT_ALG_INVAL)
            snprintf(err, errlen, "the EC public key uses curve %s: use P-256, P-384 or P-521",
                     curve[0] ? curve : "(unknown)");
        else
            rc = 0;
    } else {
        snprintf(err, errlen, "the public key must be RSA or EC");
    }
done:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}

struct token_keys *token_keys_new(const struct token_keys_config *kc, char *err, size_t errlen)
{
    struct token_keys *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    static _Atomic uint64_t generations;
    k->generation = atomic_fetch_add(&generations, 1) + 1;
    if (kc->secret) {
        k->secret_len = strlen(kc->secret);
        k->secret = (unsigned char *)strdup(kc->secret);
    }
    if (kc->public_key_pem) {
        k->pub_len = strlen(kc->public_key_pem);
        k->pub = strdup(kc->public_key_pem);
    }
    k->issuer = kc->issuer ? strdup(kc->issuer) : NULL;
    k->audience = kc->audience ? strdup(kc->audience) : NULL;
    if ((kc->secret && !k->secret) || (kc->public_key_pem && !k->pub) ||
        (kc->issuer && !k->issuer) || (kc->audience && !k->audience)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!k->secret && !k->pub) {
        snprintf(err, errlen, "no JWT key: set NOTIFYD_JWT_SECRET or NOTIFYD_JWT_PUBLIC_KEY_FILE");
        goto fail;
    }
    if (k->pub && inspect_public_key(k, err, errlen) < 0)
        goto fail;
    return k;
fail:
    token_keys_free(k);
    return NULL;
}

struct token_keys *token_keys_new_hs256(const unsigned char *secret, size_t len)
{
    char *s = malloc(len + 1), err[128];
    if (!s)
        return NULL;
    memcpy(s, secret, len);
    s[len] = 0;
    struct token_keys_config kc = {s, NULL, NULL, NULL};
    struct token_keys *k = token_keys_new(&kc, err, sizeof err);
    OPENSSL_cleanse(s, len);
    free(s);
    return k;
}

int token_keys_can_sign(const struct token_keys *keys)
{
    return keys->secret != NULL;
}

void token_keyring_init(struct token_keyring *ring, struct token_keys *keys)
{
    atomic_init(&ring->current, keys);
    ring->retired = NULL;
}

const struct token_keys *token_keyring_get(struct token_keyring *ring)
{
    return atomic_load_explicit(&ring->current, memory_order_acquire);
}

void token_keyring_swap(struct token_keyring *ring, struct token_keys *keys)
{
    struct token_keys *old = atomic_exchange_explicit(&ring->current, keys, memory_order_acq_rel);
    if (old) {
        old->next = ring->retired;
        ring->retired = old;
    }
}

void token_keyring_free(struct token_keyring *ring)
{
    token_keys_free(atomic_load(&ring->current));
    while (ring->retired) {
        struct token_keys *next = ring->retired->next;
        token_keys_free(ring->retired);
        ring->retired = next;
    }
}

int token_user_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > ND_USER_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!isalnum(c) && (!c || !strchr("_.@:-", c))) /* strchr finds the NUL too */
            return 0;
    }
    return 1;
}

/* reads an integer claim; 1 found, 0 absent, -1 present but not a number */
static int grant_int(jwt_t *j, const char *name, int64_t *out)
{
    char *text = jwt_get_grants_json(j, name);
    if (!text)
        return 0;
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    free(text);
    int rc = -1;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        rc = 1;
    } else if (json_is_real(v) && fabs(json_real_value(v)) < 9e18) { /* else: not a time */
        *out = (int64_t)json_real_value(v);
        rc = 1;
    }
    json_decref(v);
    return rc;
}

static unsigned role_bit(const char *s)
{
    if (!strcmp(s, "admin"))
        return TOKEN_ROLE_ADMIN;
    if (!strcmp(s, "service"))
        return TOKEN_ROLE_SERVICE;
    if (!strcmp(s, "user"))
        return TOKEN_ROLE_USER;
    return 0;
}

static unsigned read_roles(jwt_t *j)
{
    unsigned roles = 0;
    const char *role = jwt_get_grant(j, "role");
    if (role)
        roles |= role_bit(role);
    char *text = jwt_get_grants_json(j, "roles");
    if (text) {
        json_t *arr = json_loads(text, JSON_DECODE_ANY, NULL);
        free(text);
        size_t i;
        json_t *v;
        json_array_foreach (arr, i, v) {
            if (json_is_string(v))
                roles |= role_bit(json_string_value(v));
        }
        json_decref(arr);
    }
    return roles ? roles : TOKEN_ROLE_USER;
}

/* user_id (string or integer), else sub */
static enum token_result read_user(jwt_t *j, char *out)
{
    char buf[32];
    const char *id = jwt_get_grant(j, "user_id");
    if (!id) {
        int64_t n;
        if (grant_int(j, "user_id", &n) == 1) {
            snprintf(buf, sizeof buf, "%lld", (long long)n);
            id = buf;
        }
    }
    if (!id)
        id = jwt_get_grant(j, "sub");
    if (!id || !id[0])
        return TOKEN_NO_USER;
    size_t len = strlen(id);
    if (!token_user_id_valid(id, len))
        return TOKEN_BAD_USER;
    memcpy(out, id, len + 1);
    return TOKEN_OK;
}

/* a JWT is three dot-separated base64url parts; reject anything else before libjwt */
static int well_formed(const char *t)
{
    int dots = 0;
    for (const char *p = t; *p; p++) {
        if (*p == '.')
            dots++;
        else if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '=')
            return 0;
    }
    return dots == 2;
}

/* the key for @alg, or NULL when that algorithm is not accepted */
static const unsigned char *key_for(const struct token_keys *k, jwt_alg_t alg, int *len)
{
    switch (alg) {
    case JWT_ALG_HS256:
        *len = (int)k->secret_len;
        return k->secret; /* HS384/512 would verify with the same secret: pinned to HS256 */
    case JWT_ALG_RS256:
    case JWT_ALG_RS384:
    case JWT_ALG_RS512:
        *len = (int)k->pub_len;
        return k->pub && k->pub_rsa ? (const unsigned char *)k->pub : NULL;
    case JWT_ALG_ES256:
    case JWT_ALG_ES384:
    case JWT_ALG_ES512:
        *len = (int)k->pub_len;
        return k->pub && !k->pub_rsa && alg == k->pub_ec_alg ? (const unsigned char *)k->pub : NULL;
    default: return NULL; /* "none" and anything else */
    }
}

/* part @part (0 header, 1 claims) of a well-formed token, decoded but not
 * verified, or NULL */
static json_t *part_json(const char *token, int part)
{
    for (; part > 0 && token; part--)
        token = strchr(token, '.') ? strchr(token, '.') + 1 : NULL;
    const char *dot = token ? strchr(token, '.') : NULL;
    size_t n = dot ? (size_t)(dot - token) : 0;
    if (n == 0 || n > ND_TOKEN_MAX)
        return NULL;
    char *b64 = malloc(n + 4);
    unsigned char *raw = malloc(n + 4);
    json_t *out = NULL;
    size_t m = 0;
    if (!b64 || !raw)
        goto done;
    for (size_t i = 0; i < n && token[i] != '='; i++)
        b64[m++] = (char)(token[i] == '-' ? '+' : token[i] == '_' ? '/' : token[i]);
    while (m % 4)
        b64[m++] = '=';
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)m);
    while (len > 0 && raw[len - 1] == 0) /* EVP_DecodeBlock counts padding as zero bytes */
        len--;
    if (len > 0)
        out = json_loadb((const char *)raw, (size_t)len, 0, NULL);
done:
    free(b64);
    free(raw);
    return out;
}

/* decodes the header part and pins its alg before libjwt sees the token */
static enum token_result check_header(const char *token, jwt_alg_t *alg_out)
{
    const char *dot = strchr(token, '.');
    size_t n = (size_t)(dot - token);
    if (n == 0 || n > 1024)
        return TOKEN_MALFORMED;
    char b64[1032];
    unsigned char raw[1032];
    size_t m = 0;
    for (size_t i = 0; i < n && token[i] != '='; i++)
        b64[m++] = (char)(token[i] == '-' ? '+' : token[i] == '_' ? '/' : token[i]);
    while (m % 4)
        b64[m++] = '=';
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)m);
    if (len < 0)
        return TOKEN_MALFORMED;
    while (len > 0 && raw[len - 1] == 0) /* EVP_DecodeBlock counts padding as zero bytes */
        len--;
    json_t *hdr = json_loadb((const char *)raw, (size_t)len, 0, NULL);
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    enum token_result r = alg ? TOKEN_OK : TOKEN_MALFORMED;
    *alg_out = alg ? jwt_str_alg(alg) : JWT_ALG_INVAL;
    json_decref(hdr);
    return r;
}

/* iss equal to, and aud (string or array) naming, the configured values */
static enum token_result check_iss_aud(const struct token_keys *k, jwt_t *j)
{
    if (k->issuer) {
        const char *iss = jwt_get_grant(j, "iss");
        if (!iss || strcmp(iss, k->issuer))
            return TOKEN_BAD_ISSUER;
    }
    if (k->audience) {
        char *text = jwt_get_grants_json(j, "aud");
        json_t *aud = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
        free(text);
        int ok = 0;
        if (json_is_string(aud)) {
            ok = !strcmp(json_string_value(aud), k->audience);
        } else if (json_is_array(aud)) {
            size_t i;
            json_t *v;
            json_array_foreach (aud, i, v)
                ok |= json_is_string(v) && !strcmp(json_string_value(v), k->audience);
        }
        json_decref(aud);
        if (!ok)
            return TOKEN_BAD_AUDIENCE;
    }
    return TOKEN_OK;
}

/* Backends send the same token with every call: each thread remembers the
 * last tokens it verified (the exact bytes, under the exact key set -- by
 * generation, so a new set at a freed one's address never matches) and
 * only re-checks their times. */
#define CACHE_SLOTS 16
#define CACHE_TOKEN_MAX 640
struct cached {
    uint64_t generation;
    size_t len;
    int64_t exp, nbf; /* 0: absent */
    struct token_claims claims;
    char token[CACHE_TOKEN_MAX];
};
static _Thread_local struct cached cache[CACHE_SLOTS];

static struct cached *cache_slot(const char *token, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i += 7) /* a sample is enough to pick a slot */
        h = (h ^ (unsigned char)token[i]) * 1099511628211ULL;
    return &cache[(h ^ len) % CACHE_SLOTS];
}

static enum token_result times_ok(int64_t exp, int64_t nbf, int64_t now, int64_t leeway)
{
    if (exp && exp <= now - leeway) /* not exp + leeway: exp may be near INT64_MAX */
        return TOKEN_EXPIRED;
    if (nbf && nbf > now + leeway)
        return TOKEN_NOT_YET_VALID;
    return TOKEN_OK;
}

static enum token_result verify_fully(const struct token_keys *keys, const char *token, int64_t now,
                                      int64_t leeway, struct token_claims *out, int64_t *exp_out,
                                      int64_t *nbf_out);

enum token_result token_verify(const struct token_keys *keys, const char *token, int64_t now,
                               int64_t leeway, struct token_claims *out)
{
    if (!token || !token[0])
        return TOKEN_MISSING;
    size_t len = strnlen(token, ND_TOKEN_MAX + 1);
    struct cached *c = len < CACHE_TOKEN_MAX ? cache_slot(token, len) : NULL;
    if (c && c->generation == keys->generation && c->len == len && !memcmp(c->token, token, len)) {
        enum token_result r = times_ok(c->exp, c->nbf, now, leeway);
        if (r == TOKEN_OK)
            *out = c->claims;
        return r;
    }
    int64_t exp = 0, nbf = 0;
    enum token_result r = verify_fully(keys, token, now, leeway, out, &exp, &nbf);
    if (r == TOKEN_OK && c) {
        c->generation = keys->generation;
        c->len = len;
        c->exp = exp;
        c->nbf = nbf;
        c->claims = *out;
        memcpy(c->token, token, len);
    }
    return r;
}

static enum token_result verify_fully(const struct token_keys *keys, const char *token, int64_t now,
                                      int64_t leeway, struct token_claims *out, int64_t *exp_out,
                                      int64_t *nbf_out)
{
    jwt_t *j = NULL;
    enum token_result r;

    if (!token || !token[0])
        return TOKEN_MISSING;
    if (strnlen(token, ND_TOKEN_MAX + 1) > ND_TOKEN_MAX)
        return TOKEN_TOO_LARGE;
    if (!well_formed(token))
        return TOKEN_MALFORMED;
    jwt_alg_t alg;
    enum token_result hr = check_header(token, &alg);
    if (hr != TOKEN_OK)
        return hr;
    int key_len = 0;
    const unsigned char *key = key_for(keys, alg, &key_len);
    if (!key) /* never decode without a key: libjwt would then accept alg "none" */
        return TOKEN_BAD_ALG;
    if (jwt_decode(&j, token, key, key_len) != 0)
        return TOKEN_BAD_SIGNATURE;
    if (jwt_get_alg(j) != alg) {
        r = TOKEN_BAD_ALG;
        goto done;
    }
    int64_t exp = 0, nbf = 0;
    int has_exp = grant_int(j, "exp", &exp), has_nbf = grant_int(j, "nbf", &nbf);
    if (has_exp < 0 || has_nbf < 0) {
        r = TOKEN_MALFORMED;
        goto done;
    }
    *exp_out = has_exp ? exp : 0;
    *nbf_out = has_nbf ? nbf : 0;
    r = times_ok(*exp_out, *nbf_out, now, leeway);
    if (r != TOKEN_OK)
        goto done;
    r = check_iss_aud(keys, j);
    if (r != TOKEN_OK)
        goto done;
    r = read_user(j, out->user_id);
    if (r != TOKEN_OK)
        goto done;
    out->roles = read_roles(j);
    out->exp = has_exp ? exp : 0;
done:
    jwt_free(j);
    return r;
}

/* --- notifyd checktoken: why a token is refused, in the token's own terms --- */

/* "2026-01-02T03:04:05Z, 3h2m ago" (or "in ...") for a unix time */
static void when(int64_t t, int64_t now, char *out, size_t outlen)
{
    struct tm tm;
    time_t secs = (time_t)t;
    char stamp[32] = "?";
    if (gmtime_r(&secs, &tm))
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int64_t d = t > now ? t - now : now - t;
    snprintf(out, outlen, "%s, %s%lldh%02lldm%02llds%s", stamp, t > now ? "in " : "",
             (long long)(d / 3600), (long long)(d / 60 % 60), (long long)(d % 60),
             t > now ? "" : " ago");
}

/* the algorithms these keys verify, e.g. "HS256, RS256, RS384, RS512" */
static void accepted_algs(const struct token_keys *k, char *out, size_t outlen)
{
    static const jwt_alg_t algs[] = {JWT_ALG_HS256, JWT_ALG_RS256, JWT_ALG_RS384, JWT_ALG_RS512,
                                     JWT_ALG_ES256, JWT_ALG_ES384, JWT_ALG_ES512};
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        int len;
        if (key_for(k, algs[i], &len) && used < outlen)
            used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? ", " : "",
                                     jwt_alg_str(algs[i]));
    }
    if (!out[0])
        snprintf(out, outlen, "none");
}

/* a claim as compact JSON, or "(none)" */
static void claim_text(json_t *claims, const char *name, char *out, size_t outlen)
{
    json_t *v = json_object_get(claims, name);
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(out, outlen, "%s", text ? text : "(none)");
    free(text);
}

enum token_result token_explain(const struct token_keys *keys, const char *token, int64_t now,
                                int64_t leeway, char *out, size_t outlen)
{
    struct token_claims c;
    int64_t exp = 0, nbf = 0;
    enum token_result r = verify_fully(keys, token, now, leeway, &c, &exp, &nbf);
    json_t *hdr = r != TOKEN_MISSING && r != TOKEN_TOO_LARGE ? part_json(token, 0) : NULL;
    json_t *claims = hdr ? part_json(token, 1) : NULL;
    const char *why = token_result_str(r);
    char a[160], b[160], algs[96];
    int64_t t = 0;

    switch (r) {
    case TOKEN_OK: {
        char *text = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(out, outlen, "%s", text ? text : "{}");
        free(text);
        break;
    }
    case TOKEN_EXPIRED:
    case TOKEN_NOT_YET_VALID: {
        json_t *v = json_object_get(claims, r == TOKEN_EXPIRED ? "exp" : "nbf");
        t = json_is_integer(v) ? json_integer_value(v) : (int64_t)json_number_value(v);
        when(t, now, a, sizeof a);
        snprintf(out, outlen, "%s: %s %s (leeway %llds)", why, r == TOKEN_EXPIRED ? "exp" : "nbf",
                 a, (long long)leeway);
        break;
    }
    case TOKEN_BAD_ALG:
        accepted_algs(keys, algs, sizeof algs);
        claim_text(hdr, "alg", a, sizeof a);
        snprintf(out, outlen, "%s: the token says alg %s; these keys verify %s", why, a, algs);
        break;
    case TOKEN_BAD_SIGNATURE:
        claim_text(hdr, "alg", a, sizeof a);
        snprintf(out, outlen,
                 "%s: the token says alg %s but does not verify with this key: signed with "
                 "another secret or key (another data dir's jwt_secret?), or altered",
                 why, a);
        break;
    case TOKEN_BAD_ISSUER:
        claim_text(claims, "iss", a, sizeof a);
        snprintf(out, outlen, "%s: iss is %s, NOTIFYD_JWT_ISSUER is \"%s\"", why, a, keys->issuer);
        break;
    case TOKEN_BAD_AUDIENCE:
        claim_text(claims, "aud", a, sizeof a);
        snprintf(out, outlen, "%s: aud is %s, NOTIFYD_JWT_AUDIENCE is \"%s\"", why, a,
                 keys->audience);
        break;
    case TOKEN_NO_USER:
    case TOKEN_BAD_USER:
        claim_text(claims, "user_id", a, sizeof a);
        claim_text(claims, "sub", b, sizeof b);
        snprintf(out, outlen, "%s: user_id is %s, sub is %s", why, a, b);
        break;
    case TOKEN_MALFORMED:
        snprintf(out, outlen, "%s: %s", why,
                 !hdr      ? "not three base64url parts, the first a JSON header with alg"
                 : !claims ? "the claims part is not a JSON object"
                           : "exp or nbf is not a number");
        break;
    default: snprintf(out, outlen, "%s", why); break;
    }
    json_decref(hdr);
    json_decref(claims);
    return r;
}

const char *token_result_str(enum token_result r)
{
    switch (r) {
    case TOKEN_OK: return "ok";
    case TOKEN_MISSING: return "no token";
    case TOKEN_TOO_LARGE: return "token too large";
    case TOKEN_MALFORMED: return "malformed token";
    case TOKEN_BAD_ALG: return "token algorithm not accepted";
    case TOKEN_BAD_SIGNATURE: return "bad token signature";
    case TOKEN_EXPIRED: return "token expired";
    case TOKEN_NOT_YET_VALID: return "token not valid yet";
    case TOKEN_NO_USER: return "token names no user (user_id or sub)";
    case TOKEN_BAD_USER: return "token user id is invalid";
    case TOKEN_BAD_ISSUER: return "token issuer not accepted";
    case TOKEN_BAD_AUDIENCE: return "token audience not accepted";
    }
    return "bad token";
}

char *token_sign(const struct token_keys *keys, const char *user, const char *role, int64_t now,
                 int64_t ttl)
{
    jwt_t *j = NULL;
    char *out = NULL;
    if (!keys->secret || jwt_new(&j) != 0)
        return NULL;
    if (jwt_add_grant(j, "sub", user) || jwt_add_grant(j, "user_id", user) ||
        jwt_add_grant(j, "role", role) || jwt_add_grant_int(j, "iat", (long)now) ||
        jwt_add_grant_int(j, "exp", (long)(now + ttl)) ||
        (keys->issuer && jwt_add_grant(j, "iss", keys->issuer)) ||
        (keys->audience && jwt_add_grant(j, "aud", keys->audience)) ||
        jwt_set_alg(j, JWT_ALG_HS256, keys->secret, (int)keys->secret_len))
        goto done;
    out = jwt_encode_str(j);
done:
    jwt_free(j);
    return out;
}

const char *token_from_bearer(const char *header)
{
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return NULL;
    header += 7;
    while (*header == ' ')
        header++;
    return *header ? header : NULL;
}

static int read_secret(int fd, char **secret, const char *path, char *err, size_t errlen)
{
    char buf[4097];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -errno;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    if (n < 32) {
        snprintf(err, errlen, "%s holds %zd bytes: a secret needs at least 32", path, n);
        return -EINVAL;
    }
    buf[n] = 0;
    *secret = strdup(buf);
    OPENSSL_cleanse(buf, sizeof buf);
    return *secret ? 0 : -ENOMEM;
}

int token_secret_read(const char *dir, char **secret, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/jwt_secret", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return rc;
    }
    int rc = read_secret(fd, secret, path, err, errlen);
    close(fd);
    return rc;
}

int token_secret_load(const char *dir, char **secret, char *err, size_t errlen)
{
    char path[4096];
    int rc;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(err, errlen, "cannot create data dir %s: %s", dir, strerror(errno));
        return rc;
    }
    snprintf(path, sizeof path, "%s/jwt_secret", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        rc = read_secret(fd, secret, path, err, errlen);
        close(fd);
        return rc;
    }
    if (errno != ENOENT) {
        rc = -errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return rc;
    }

    /* first start: write a fresh secret to a temp file, then link it in place
     * so two processes starting together agree on one secret */
    unsigned char raw[32];
    char hex[65], tmp[4200];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        snprintf(err, errlen, "cannot get random bytes for the JWT secret");
        return -EIO;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return rc;
    }
    int ok = write(fd, hex, 64) == 64 && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    rc = ok ? 0 : -errno;
    close(fd);
    if (ok && link(tmp, path) < 0 && errno != EEXIST)
        rc = -errno;
    unlink(tmp);
    OPENSSL_cleanse(raw, sizeof raw);
    if (rc < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
        return rc;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return rc;
    }
    rc = read_secret(fd, secret, path, err, errlen);
    close(fd);
    return rc;
}
