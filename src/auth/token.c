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
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct token_keys {
    jwt_alg_t alg; /* the one algorithm accepted */
    size_t len;
    unsigned char key[]; /* HS256 secret */
};

struct token_keys *token_keys_new_hs256(const unsigned char *secret, size_t len)
{
    struct token_keys *k = malloc(sizeof *k + len + 1);
    if (!k)
        return NULL;
    k->alg = JWT_ALG_HS256;
    k->len = len;
    memcpy(k->key, secret, len);
    k->key[len] = 0;
    return k;
}

void token_keys_free(struct token_keys *keys)
{
    if (keys)
        OPENSSL_cleanse(keys->key, keys->len);
    free(keys);
}

int token_user_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > ND_USER_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!isalnum(c) && !strchr("_.@:-", c))
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
    } else if (json_is_real(v)) {
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

/* decodes the header part and pins its alg before libjwt sees the token */
static enum token_result check_header(const struct token_keys *keys, const char *token)
{
    const char *dot = strchr(token, '.');
    size_t n = (size_t)(dot - token);
    if (n == 0 || n > 1024)
        return TOKEN_MALFORMED;
    char b64[1032];
    unsigned char raw[1032];
    size_t m = 0;
    for (size_t i = 0; i < n && token[i] != '='; i++)
        b64[m++] = token[i] == '-' ? '+' : token[i] == '_' ? '/' : token[i];
    while (m % 4)
        b64[m++] = '=';
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)m);
    if (len < 0)
        return TOKEN_MALFORMED;
    while (len > 0 && raw[len - 1] == 0) /* EVP_DecodeBlock counts padding as zero bytes */
        len--;
    json_t *hdr = json_loadb((const char *)raw, (size_t)len, 0, NULL);
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    enum token_result r = !alg                            ? TOKEN_MALFORMED
                          : jwt_str_alg(alg) != keys->alg ? TOKEN_BAD_ALG
                                                          : TOKEN_OK;
    json_decref(hdr);
    return r;
}

enum token_result token_verify(const struct token_keys *keys, const char *token, int64_t now,
                               int64_t leeway, struct token_claims *out)
{
    jwt_t *j = NULL;
    enum token_result r;

    if (!token || !token[0])
        return TOKEN_MISSING;
    if (strnlen(token, ND_TOKEN_MAX + 1) > ND_TOKEN_MAX)
        return TOKEN_TOO_LARGE;
    if (!well_formed(token))
        return TOKEN_MALFORMED;
    enum token_result hr = check_header(keys, token);
    if (hr != TOKEN_OK)
        return hr;
    /* never pass a NULL key: libjwt would then accept alg "none" */
    if (jwt_decode(&j, token, keys->key, (int)keys->len) != 0)
        return TOKEN_BAD_SIGNATURE;
    if (jwt_get_alg(j) != keys->alg) { /* HS384/HS512 with the same secret, or "none" */
        r = TOKEN_BAD_ALG;
        goto done;
    }
    int64_t exp = 0, nbf = 0;
    int has_exp = grant_int(j, "exp", &exp), has_nbf = grant_int(j, "nbf", &nbf);
    if (has_exp < 0 || has_nbf < 0) {
        r = TOKEN_MALFORMED;
        goto done;
    }
    if (has_exp && exp + leeway <= now) {
        r = TOKEN_EXPIRED;
        goto done;
    }
    if (has_nbf && nbf - leeway > now) {
        r = TOKEN_NOT_YET_VALID;
        goto done;
    }
    r = read_user(j, out->user_id);
    if (r != TOKEN_OK)
        goto done;
    out->roles = read_roles(j);
    out->exp = has_exp ? exp : 0;
done:
    jwt_free(j);
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
    }
    return "bad token";
}

char *token_sign(const struct token_keys *keys, const char *user, const char *role, int64_t now,
                 int64_t ttl)
{
    jwt_t *j = NULL;
    char *out = NULL;
    if (jwt_new(&j) != 0)
        return NULL;
    if (jwt_add_grant(j, "sub", user) || jwt_add_grant(j, "user_id", user) ||
        jwt_add_grant(j, "role", role) || jwt_add_grant_int(j, "iat", (long)now) ||
        jwt_add_grant_int(j, "exp", (long)(now + ttl)) ||
        jwt_set_alg(j, keys->alg, keys->key, (int)keys->len))
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
    if (n < 16) {
        snprintf(err, errlen, "%s holds %zd bytes: a secret needs at least 16", path, n);
        return -EINVAL;
    }
    buf[n] = 0;
    *secret = strdup(buf);
    OPENSSL_cleanse(buf, sizeof buf);
    return *secret ? 0 : -ENOMEM;
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
