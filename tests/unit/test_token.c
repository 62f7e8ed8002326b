/* test_token: JWT verification against hand-made tokens (libjwt for signed
 * ones, base64url by hand for alg "none"), signing round trips, the bearer
 * header parser, user id rules and the on-disk secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/token.h"

#define NOW 1700000000LL
#define LEEWAY 30

static const unsigned char secret[] = "0123456789abcdef0123456789abcdef";
#define SECRET_LEN (sizeof secret - 1)

static struct token_keys *keys; /* HS256 with `secret`, made once */

static int group_setup(void **state)
{
    (void)state;
    keys = token_keys_new_hs256(secret, SECRET_LEN);
    return keys ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    token_keys_free(keys);
    return 0;
}

/* a token with @claims (a JSON object) signed by libjwt with @alg and @key */
static char *make_token_with(jwt_alg_t alg, const unsigned char *key, size_t keylen,
                             const char *claims)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grants_json(j, claims), 0);
    assert_int_equal(jwt_set_alg(j, alg, key, (int)keylen), 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    assert_non_null(t);
    return t;
}

static char *make_token(const char *claims)
{
    return make_token_with(JWT_ALG_HS256, secret, SECRET_LEN, claims);
}

/* verifies @token at NOW with LEEWAY, checking the result is @want */
static void expect_verify(const char *token, enum token_result want, struct token_claims *out)
{
    struct token_claims scratch;
    if (!out)
        out = &scratch;
    memset(out, 0, sizeof *out);
    enum token_result r = token_verify(keys, token, NOW, LEEWAY, out);
    if (r != want)
        print_error("token %.80s: got %d (%s), want %d (%s)\n", token ? token : "(null)", (int)r,
                    token_result_str(r), (int)want, token_result_str(want));
    assert_int_equal(r, want);
}

/* signs @claims and expects @want */
static void expect_claims(const char *claims, enum token_result want, struct token_claims *out)
{
    char *t = make_token(claims);
    expect_verify(t, want, out);
    free(t);
}

static void b64url(const char *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tbl[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = tbl[v & 63];
    }
    out[o] = 0;
}

/* header.payload.sig from raw JSON parts, @sig already encoded */
static char *hand_token(const char *header, const char *payload, const char *sig)
{
    size_t cap = 2 * (strlen(header) + strlen(payload)) + strlen(sig) + 8;
    char *t = malloc(cap);
    assert_non_null(t);
    b64url(header, strlen(header), t);
    strcat(t, ".");
    b64url(payload, strlen(payload), t + strlen(t));
    strcat(t, ".");
    strcat(t, sig);
    return t;
}

/* --- round trips ---------------------------------------------------------------------------- */

static void test_sign_verify_roundtrip(void **state)
{
    (void)state;
    static const struct {
        const char *role;
        unsigned bits;
    } roles[] = {
        {"user", TOKEN_ROLE_USER},
        {"service", TOKEN_ROLE_SERVICE},
        {"admin", TOKEN_ROLE_ADMIN},
    };
    for (size_t i = 0; i < 3; i++) {
        char *t = token_sign(keys, "alice@example.com", roles[i].role, NOW, 3600);
        assert_non_null(t);
        struct token_claims c;
        expect_verify(t, TOKEN_OK, &c);
        assert_string_equal(c.user_id, "alice@example.com");
        assert_int_equal(c.roles, roles[i].bits);
        assert_int_equal(c.exp, NOW + 3600);

        /* what libjwt sees: HS256 with sub, user_id, role, iat, exp */
        jwt_t *j = NULL;
        assert_int_equal(jwt_decode(&j, t, secret, (int)SECRET_LEN), 0);
        assert_int_equal(jwt_get_alg(j), JWT_ALG_HS256);
        assert_string_equal(jwt_get_grant(j, "sub"), "alice@example.com");
        assert_string_equal(jwt_get_grant(j, "user_id"), "alice@example.com");
        assert_string_equal(jwt_get_grant(j, "role"), roles[i].role);
        assert_int_equal(jwt_get_grant_int(j, "iat"), NOW);
        assert_int_equal(jwt_get_grant_int(j, "exp"), NOW + 3600);
        jwt_free(j);
        free(t);
    }
}

static void test_libjwt_token_accepted(void **state)
{
    (void)state;
    struct token_claims c;
    expect_claims("{\"user_id\":\"u-1\",\"exp\":1700000100,\"role\":\"service\"}", TOKEN_OK, &c);
    assert_string_equal(c.user_id, "u-1");
    assert_int_equal(c.roles, TOKEN_ROLE_SERVICE);
    assert_int_equal(c.exp, 1700000100);

    /* no exp at all: valid, exp reported as 0 */
    expect_claims("{\"user_id\":\"u-2\"}", TOKEN_OK, &c);
    assert_int_equal(c.exp, 0);
    assert_int_equal(c.roles, TOKEN_ROLE_USER);

    /* a numeric date written as a JSON real */
    expect_claims("{\"sub\":\"u-3\",\"exp\":1700000100.75}", TOKEN_OK, &c);
    assert_int_equal(c.exp, 1700000100);
}

static void test_secret_mismatch(void **state)
{
    (void)state;
    static const unsigned char other[] = "another-secret-another-secret!!!";
    char *t = make_token_with(JWT_ALG_HS256, other, sizeof other - 1, "{\"sub\":\"bob\"}");
    expect_verify(t, TOKEN_BAD_SIGNATURE, NULL);
    free(t);

    /* a key that is a prefix of the real one is just as wrong */
    t = make_token_with(JWT_ALG_HS256, secret, SECRET_LEN - 1, "{\"sub\":\"bob\"}");
    expect_verify(t, TOKEN_BAD_SIGNATURE, NULL);
    free(t);

    /* signed by token_sign with other keys */
    struct token_keys *k2 = token_keys_new_hs256(other, sizeof other - 1);
    assert_non_null(k2);
    t = token_sign(k2, "bob", "admin", NOW, 60);
    assert_non_null(t);
    expect_verify(t, TOKEN_BAD_SIGNATURE, NULL);
    struct token_claims c;
    assert_int_equal(token_verify(k2, t, NOW, LEEWAY, &c), TOKEN_OK);
    free(t);
    token_keys_free(k2);
}

static void test_tampered(void **state)
{
    (void)state;
    char *t = make_token("{\"user_id\":\"alice\",\"role\":\"user\"}");
    char *sig = strrchr(t, '.') + 1;

    /* same header and signature, payload rewritten to claim admin */
    char *forged = hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                              "{\"user_id\":\"alice\",\"role\":\"admin\"}", sig);
    expect_verify(forged, TOKEN_BAD_SIGNATURE, NULL);
    free(forged);

    /* one signature character changed */
    sig[5] = sig[5] == 'A' ? 'B' : 'A';
    expect_verify(t, TOKEN_BAD_SIGNATURE, NULL);

    /* signature dropped */
    sig[0] = 0;
    expect_verify(t, TOKEN_BAD_SIGNATURE, NULL);
    free(t);
}

/* --- times ---------------------------------------------------------------------------------- */

static void test_expiry(void **state)
{
    (void)state;
    char claims[128];

    snprintf(claims, sizeof claims, "{\"sub\":\"bob\",\"exp\":%lld}", NOW - 120);
    expect_claims(claims, TOKEN_EXPIRED, NULL);
    snprintf(claims, sizeof claims, "{\"sub\":\"bob\",\"exp\":%lld}", NOW - 10);
    expect_claims(claims, TOKEN_OK, NULL); /* inside the leeway */
    snprintf(claims, sizeof claims, "{\"sub\":\"bob\",\"exp\":%lld}", NOW - LEEWAY + 1);
    expect_claims(claims, TOKEN_OK, NULL);
    snprintf(claims, sizeof claims, "{\"sub\":\"bob\",\"exp\":%lld}", NOW - LEEWAY);
    expect_claims(claims, TOKEN_EXPIRED, NULL); /* the leeway's edge is out */

    /* without leeway, exp == now is expired and now + 1 is not */
    struct token_claims c;
    char *t = token_sign(keys, "bob", "user", NOW - 60, 60);
    assert_int_equal(token_verify(keys, t, NOW, 0, &c), TOKEN_EXPIRED);
    assert_int_equal(token_verify(keys, t, NOW - 1, 0, &c), TOKEN_OK);
    free(t);

    /* a signed token ages out */
    t = token_sign(keys, "bob", "user", NOW, 3600);
    assert_int_equal(token_verify(keys, t, NOW + 3600 + LEEWAY - 1, LEEWAY, &c), TOKEN_OK);
    assert_int_equal(token_verify(keys, t, NOW + 3600 + LEEWAY, LEEWAY, &c), TOKEN_EXPIRED);
    free(t);

    /* exp that is not a number */
    expect_claims("{\"sub\":\"bob\",\"exp\":\"tomorrow\"}", TOKEN_MALFORMED, NULL);
    expect_claims("{\"sub\":\"bob\",\"exp\":null}", TOKEN_MALFORMED, NULL);
    /* extreme times: no overflow in the leeway arithmetic, no out-of-range cast */
    expect_claims("{\"sub\":\"bob\",\"exp\":9223372036854775807}", TOKEN_OK, NULL);
    expect_claims("{\"sub\":\"bob\",\"nbf\":-9223372036854775807}", TOKEN_OK, NULL);
    expect_claims("{\"sub\":\"bob\",\"exp\":-9223372036854775807}", TOKEN_EXPIRED, NULL);
    expect_claims("{\"sub\":\"bob\",\"nbf\":9223372036854775807}", TOKEN_NOT_YET_VALID, NULL);
    expect_claims("{\"sub\":\"bob\",\"exp\":1e300}", TOKEN_MALFORMED, NULL);
    expect_claims("{\"sub\":\"bob\",\"exp\":-1e300}", TOKEN_MALFORMED, NULL);
}

static void test_not_before(void **state)
{
    (void)state;
    char claims[128];

    snprintf(claims, sizeof claims, "{\"sub\":\"bob\",\"nbf\":%lld}", NOW + 3600);
    expect_claims(claims, TOKEN_NOT_YET_VALID, NULL);
    snprintf(claims, sizeof claims, "{\"sub\":\"bob\",\"nbf\":%lld}", NOW + LEEWAY + 1);
    expect_claims(claims, TOKEN_NOT_YET_VALID, NULL);
    snprintf(claims, sizeof claims, "{\"sub\":\"bob\",\"nbf\":%lld}", NOW + LEEWAY);
    expect_claims(claims, TOKEN_OK, NULL);
    snprintf(claims, sizeof claims, "{\"sub\":\"bob\",\"nbf\":%lld}", NOW - 5);
    expect_claims(claims, TOKEN_OK, NULL);
    expect_claims("{\"sub\":\"bob\",\"nbf\":[1]}", TOKEN_MALFORMED, NULL);

    /* both: exp is checked first */
    snprintf(claims, sizeof claims, "{\"sub\":\"bob\",\"nbf\":%lld,\"exp\":%lld}", NOW + 3600,
             NOW - 3600);
    expect_claims(claims, TOKEN_EXPIRED, NULL);
}

/* --- algorithms ----------------------------------------------------------------------------- */

static void test_alg_none(void **state)
{
    (void)state;
    char *t = hand_token("{\"alg\":\"none\",\"typ\":\"JWT\"}",
                         "{\"user_id\":\"mallory\",\"role\":\"admin\"}", "");
    assert_non_null(strstr(t, "."));
    assert_int_equal(t[strlen(t) - 1], '.');
    expect_verify(t, TOKEN_BAD_ALG, NULL);
    free(t);

    /* the same with a bogus signature, and with alg spelled differently */
    t = hand_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"user_id\":\"mallory\"}", "abc");
    expect_verify(t, TOKEN_BAD_ALG, NULL);
    free(t);
    t = hand_token("{\"alg\":\"None\"}", "{\"user_id\":\"mallory\"}", "");
    expect_verify(t, TOKEN_BAD_ALG, NULL);
    free(t);

    /* libjwt's own alg-none encoder */
    t = make_token_with(JWT_ALG_NONE, NULL, 0, "{\"user_id\":\"mallory\"}");
    expect_verify(t, TOKEN_BAD_ALG, NULL);
    free(t);
}

static void test_alg_confusion(void **state)
{
    (void)state;
    /* HS384 and HS512 with the very same secret: valid signatures, wrong algorithm */
    char *t = make_token_with(JWT_ALG_HS384, secret, SECRET_LEN, "{\"user_id\":\"bob\"}");
    jwt_t *j = NULL;
    assert_int_equal(jwt_decode(&j, t, secret, (int)SECRET_LEN), 0); /* libjwt accepts it */
    jwt_free(j);
    expect_verify(t, TOKEN_BAD_ALG, NULL);
    free(t);

    t = make_token_with(JWT_ALG_HS512, secret, SECRET_LEN, "{\"user_id\":\"bob\"}");
    expect_verify(t, TOKEN_BAD_ALG, NULL);
    free(t);

    /* an algorithm libjwt does not know */
    t = hand_token("{\"alg\":\"XS256\"}", "{\"user_id\":\"bob\"}", "c2ln");
    expect_verify(t, TOKEN_BAD_ALG, NULL);
    free(t);
}

/* --- shape ---------------------------------------------------------------------------------- */

static void test_missing_and_too_large(void **state)
{
    (void)state;
    expect_verify("", TOKEN_MISSING, NULL);
    expect_verify(NULL, TOKEN_MISSING, NULL);

    char *big = malloc(ND_TOKEN_MAX + 2);
    assert_non_null(big);
    memset(big, 'a', ND_TOKEN_MAX + 1);
    big[ND_TOKEN_MAX + 1] = 0;
    expect_verify(big, TOKEN_TOO_LARGE, NULL);
    big[ND_TOKEN_MAX] = 0; /* exactly the limit: read, and refused for its shape */
    expect_verify(big, TOKEN_MALFORMED, NULL);
    free(big);

    /* a correctly signed token that is simply too long */
    char *claims = malloc(ND_TOKEN_MAX + 64);
    assert_non_null(claims);
    strcpy(claims, "{\"sub\":\"bob\",\"pad\":\"");
    size_t n = strlen(claims);
    memset(claims + n, 'x', ND_TOKEN_MAX);
    strcpy(claims + n + ND_TOKEN_MAX, "\"}");
    char *t = make_token(claims);
    assert_true(strlen(t) > ND_TOKEN_MAX);
    expect_verify(t, TOKEN_TOO_LARGE, NULL);
    free(t);
    free(claims);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const garbage[] = {
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        ".eyJzdWIiOiJib2IifQ.sig",
        "not a token",
        "eyJhbGciOiJIUzI1NiJ9 .e30.x",
        "eyJhbGciOiJIUzI1NiJ9.e30.x+y",
        "eyJhbGciOiJIUzI1NiJ9.e30.x/y",
        "e$J.e30.sig",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
        "!!!.???.***",
        "%%%%",
        "AAAA.AAAA.AAAA",
        "bm90IGpzb24.e30.c2ln", /* header "not json" */
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        expect_verify(garbage[i], TOKEN_MALFORMED, NULL);

    /* valid base64url, valid JSON, but no alg */
    char *t = hand_token("{\"typ\":\"JWT\"}", "{\"sub\":\"bob\"}", "c2ln");
    expect_verify(t, TOKEN_MALFORMED, NULL);
    free(t);
    t = hand_token("{\"alg\":256}", "{\"sub\":\"bob\"}", "c2ln");
    expect_verify(t, TOKEN_MALFORMED, NULL);
    free(t);
    t = hand_token("[\"HS256\"]", "{\"sub\":\"bob\"}", "c2ln");
    expect_verify(t, TOKEN_MALFORMED, NULL);
    free(t);

    /* a right header on a payload that is not JSON never verifies */
    t = hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "not json", "c2ln");
    struct token_claims c;
    enum token_result r = token_verify(keys, t, NOW, LEEWAY, &c);
    assert_int_not_equal(r, TOKEN_OK);
    free(t);
}

/* --- users and roles ------------------------------------------------------------------------ */

static void test_user_claims(void **state)
{
    (void)state;
    struct token_claims c;

    expect_claims("{\"user_id\":42}", TOKEN_OK, &c);
    assert_string_equal(c.user_id, "42");
    expect_claims("{\"user_id\":9007199254740993}", TOKEN_OK, &c);
    assert_string_equal(c.user_id, "9007199254740993");
    expect_claims("{\"sub\":\"from-sub\"}", TOKEN_OK, &c);
    assert_string_equal(c.user_id, "from-sub");
    /* user_id wins over sub */
    expect_claims("{\"sub\":\"from-sub\",\"user_id\":\"from-user-id\"}", TOKEN_OK, &c);
    assert_string_equal(c.user_id, "from-user-id");
    expect_claims("{\"sub\":\"from-sub\",\"user_id\":7}", TOKEN_OK, &c);
    assert_string_equal(c.user_id, "7");

    expect_claims("{\"role\":\"admin\"}", TOKEN_NO_USER, NULL);
    expect_claims("{\"sub\":\"\"}", TOKEN_NO_USER, NULL);
    expect_claims("{\"user_id\":\"\"}", TOKEN_NO_USER, NULL);

    expect_claims("{\"user_id\":\"alice smith\"}", TOKEN_BAD_USER, NULL);
    expect_claims("{\"sub\":\"a/b\"}", TOKEN_BAD_USER, NULL);
    expect_claims("{\"user_id\":\"caf\\u00e9\"}", TOKEN_BAD_USER, NULL);
    expect_claims("{\"user_id\":\"line\\nbreak\"}", TOKEN_BAD_USER, NULL);

    char claims[512], id[ND_USER_ID_MAX + 2];
    memset(id, 'u', ND_USER_ID_MAX);
    id[ND_USER_ID_MAX] = 0;
    snprintf(claims, sizeof claims, "{\"user_id\":\"%s\"}", id);
    expect_claims(claims, TOKEN_OK, &c);
    assert_int_equal(strlen(c.user_id), ND_USER_ID_MAX);
    id[ND_USER_ID_MAX] = 'u';
    id[ND_USER_ID_MAX + 1] = 0;
    snprintf(claims, sizeof claims, "{\"user_id\":\"%s\"}", id);
    expect_claims(claims, TOKEN_BAD_USER, NULL);
    snprintf(claims, sizeof claims, "{\"sub\":\"%s\"}", id);
    expect_claims(claims, TOKEN_BAD_USER, NULL);
}

static void test_roles(void **state)
{
    (void)state;
    static const struct {
        const char *claims;
        unsigned roles;
    } cases[] = {
        {"{\"sub\":\"x\"}", TOKEN_ROLE_USER},
        {"{\"sub\":\"x\",\"role\":\"user\"}", TOKEN_ROLE_USER},
        {"{\"sub\":\"x\",\"role\":\"service\"}", TOKEN_ROLE_SERVICE},
        {"{\"sub\":\"x\",\"role\":\"admin\"}", TOKEN_ROLE_ADMIN},
        {"{\"sub\":\"x\",\"role\":\"root\"}", TOKEN_ROLE_USER},
        {"{\"sub\":\"x\",\"role\":\"ADMIN\"}", TOKEN_ROLE_USER},
        {"{\"sub\":\"x\",\"roles\":[\"admin\",\"ops\"]}", TOKEN_ROLE_ADMIN},
        {"{\"sub\":\"x\",\"roles\":[\"service\",\"admin\"]}",
         TOKEN_ROLE_SERVICE | TOKEN_ROLE_ADMIN},
        {"{\"sub\":\"x\",\"roles\":[]}", TOKEN_ROLE_USER},
        {"{\"sub\":\"x\",\"roles\":[1,null,{\"a\":\"admin\"}]}", TOKEN_ROLE_USER},
        {"{\"sub\":\"x\",\"roles\":\"admin\"}", TOKEN_ROLE_USER}, /* must be an array */
        {"{\"sub\":\"x\",\"role\":\"user\",\"roles\":[\"service\"]}",
         TOKEN_ROLE_USER | TOKEN_ROLE_SERVICE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct token_claims c;
        expect_claims(cases[i].claims, TOKEN_OK, &c);
        if (c.roles != cases[i].roles)
            print_error("%s: roles %#x\n", cases[i].claims, c.roles);
        assert_int_equal(c.roles, cases[i].roles);
    }
}

static void test_result_str(void **state)
{
    (void)state;
    const char *seen[TOKEN_BAD_USER + 1];
    for (int r = TOKEN_OK; r <= TOKEN_BAD_USER; r++) {
        seen[r] = token_result_str((enum token_result)r);
        assert_non_null(seen[r]);
        assert_true(seen[r][0] != 0);
        for (int k = 0; k < r; k++)
            assert_string_not_equal(seen[k], seen[r]);
    }
    assert_string_equal(token_result_str(TOKEN_EXPIRED), "token expired");
    assert_string_equal(token_result_str(TOKEN_OK), "ok");
}

/* --- helpers -------------------------------------------------------------------------------- */

static void test_from_bearer(void **state)
{
    (void)state;
    const char *h = "Bearer abc.def.ghi";
    assert_ptr_equal(token_from_bearer(h), h + 7); /* borrows the header */
    assert_string_equal(token_from_bearer("bearer x"), "x");
    assert_string_equal(token_from_bearer("BEARER x"), "x");
    assert_string_equal(token_from_bearer("Bearer    spaced"), "spaced");
    assert_null(token_from_bearer("Basic x"));
    assert_null(token_from_bearer("Bearer "));
    assert_null(token_from_bearer("Bearer     "));
    assert_null(token_from_bearer("Bearer"));
    assert_null(token_from_bearer("Bearerx"));
    assert_null(token_from_bearer(" Bearer x"));
    assert_null(token_from_bearer("x"));
    assert_null(token_from_bearer(""));
    assert_null(token_from_bearer(NULL));
}

static void test_user_id_valid(void **state)
{
    (void)state;
    static const char *const good[] = {"a",       "Z",   "0",     "user_1", "a.b", "me@example.com",
                                       "urn:x:1", "a-b", "_.@:-", "42"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(token_user_id_valid(good[i], strlen(good[i])));

    static const char *const bad[] = {"a b",  "a/b",  "a+b",   "a#b", "a\tb", "a\nb", "caf\xc3\xa9",
                                      "a\"b", "a\\b", "<tag>", "a,b", "~",    "a%20", "*"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (token_user_id_valid(bad[i], strlen(bad[i])))
            print_error("\"%s\" accepted\n", bad[i]);
        assert_false(token_user_id_valid(bad[i], strlen(bad[i])));
    }

    assert_false(token_user_id_valid("", 0));
    assert_false(token_user_id_valid("abc", 0));
    assert_true(token_user_id_valid("ab c", 2)); /* only @len bytes are looked at */

    char id[ND_USER_ID_MAX + 1];
    memset(id, 'x', sizeof id);
    assert_true(token_user_id_valid(id, ND_USER_ID_MAX));
    assert_false(token_user_id_valid(id, ND_USER_ID_MAX + 1));
    /* an embedded NUL is not an allowed character (strchr would find the terminator) */
    assert_false(token_user_id_valid("a\0b", 3));
    assert_false(token_user_id_valid("\0", 1));
}

/* --- the secret file ------------------------------------------------------------------------ */

/* setup: a fresh directory in *state, removed by the teardown even when the test fails */
static int tmpdir_setup(void **state)
{
    char tmpl[] = "/tmp/test_token.XXXXXX";
    char *d = mkdtemp(tmpl);
    *state = d ? strdup(d) : NULL;
    return *state ? 0 : -1;
}

/* removes @dir and everything under it */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int tmpdir_teardown(void **state)
{
    rm_tree(*state);
    free(*state);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_secret_create_and_reload(void **state)
{
    const char *base = *state;
    char dir[512], path[600], err[512] = "";
    snprintf(dir, sizeof dir, "%s/data", base); /* does not exist yet */
    snprintf(path, sizeof path, "%s/jwt_secret", dir);

    char *s1 = NULL;
    int rc = token_secret_load(dir, &s1, err, sizeof err);
    if (rc)
        print_error("token_secret_load: %d %s\n", rc, err);
    assert_int_equal(rc, 0);
    assert_non_null(s1);
    assert_int_equal(strlen(s1), 64); /* 32 random bytes, hex */
    assert_int_equal(strspn(s1, "0123456789abcdef"), 64);

    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 077, 0); /* 0700: nobody else looks inside */
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    /* the file holds the secret and a newline; no temp file is left behind */
    char buf[128] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_int_equal(n, 65);
    assert_memory_equal(buf, s1, 64);
    assert_int_equal(buf[64], '\n');
    DIR *d = opendir(dir);
    assert_non_null(d);
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1);

    /* a second start reads the same secret */
    char *s2 = NULL;
    assert_int_equal(token_secret_load(dir, &s2, err, sizeof err), 0);
    assert_string_equal(s1, s2);
    assert_ptr_not_equal(s1, s2);

    /* and a token signed with it verifies with keys made from it */
    struct token_keys *k = token_keys_new_hs256((const unsigned char *)s2, strlen(s2));
    char *t = token_sign(k, "carol", "service", NOW, 60);
    struct token_claims c;
    assert_int_equal(token_verify(k, t, NOW, 0, &c), TOKEN_OK);
    assert_int_equal(token_verify(keys, t, NOW, 0, &c), TOKEN_BAD_SIGNATURE);
    free(t);
    token_keys_free(k);

    free(s1);
    free(s2);
}

static void test_secret_existing_file(void **state)
{
    const char *base = *state;
    char path[600], err[512] = "";
    snprintf(path, sizeof path, "%s/jwt_secret", base);

    /* a hand-written secret is used as is, trailing whitespace trimmed */
    write_file(path, "my-own-secret-of-thirty-two-bytes \r\n");
    char *s = NULL;
    assert_int_equal(token_secret_load(base, &s, err, sizeof err), 0);
    assert_string_equal(s, "my-own-secret-of-thirty-two-bytes");
    free(s);

    /* too short: refused with a message naming the file */
    write_file(path, "short\n");
    s = NULL;
    err[0] = 0;
    int rc = token_secret_load(base, &s, err, sizeof err);
    assert_true(rc < 0);
    assert_int_equal(rc, -EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "32"));

    /* 31 bytes plus padding whitespace is still too short; 32 is enough */
    write_file(path, "1234567890123456789012345678901   \n\n");
    err[0] = 0;
    assert_int_equal(token_secret_load(base, &s, err, sizeof err), -EINVAL);
    assert_true(err[0] != 0);
    write_file(path, "12345678901234567890123456789012");
    assert_int_equal(token_secret_load(base, &s, err, sizeof err), 0);
    assert_string_equal(s, "12345678901234567890123456789012");
    free(s);

    /* empty file */
    write_file(path, "");
    s = NULL;
    assert_int_equal(token_secret_load(base, &s, err, sizeof err), -EINVAL);
    assert_null(s);
}

static void test_secret_unusable_dir(void **state)
{
    const char *base = *state;
    char file[600], err[512] = "";
    snprintf(file, sizeof file, "%s/plain-file", base);
    write_file(file, "x");

    /* the "data dir" is a regular file */
    char *s = NULL;
    int rc = token_secret_load(file, &s, err, sizeof err);
    assert_true(rc < 0);
    assert_null(s);
    assert_true(err[0] != 0);
    assert_non_null(strstr(err, file));

    /* its parent does not exist */
    char deep[700];
    snprintf(deep, sizeof deep, "%s/missing/data", base);
    err[0] = 0;
    rc = token_secret_load(deep, &s, err, sizeof err);
    assert_int_equal(rc, -ENOENT);
    assert_null(s);
    assert_non_null(strstr(err, deep));
}

/* the per-thread cache of verified tokens: a new key set never matches an old entry (even at
 * the freed set's address), and the times are checked again on every hit */
static void test_verify_cache(void **state)
{
    (void)state;
    const char *s1 = "first-secret-first-secret-0123456789";
    const char *s2 = "other-secret-other-secret-0123456789";
    struct token_claims c;
    int64_t now = 1800000000;
    for (int round = 0; round < 8; round++) {
        struct token_keys *k1 = token_keys_new_hs256((const unsigned char *)s1, strlen(s1));
        char *tok = token_sign(k1, "cache-user", "service", now, 60);
        assert_int_equal(token_verify(k1, tok, now, 0, &c), TOKEN_OK);
        assert_int_equal(token_verify(k1, tok, now, 0, &c), TOKEN_OK); /* a hit */
        assert_string_equal(c.user_id, "cache-user");
        assert_true(c.roles & TOKEN_ROLE_SERVICE);
        assert_int_equal(token_verify(k1, tok, now + 61, 0, &c), TOKEN_EXPIRED);
        assert_int_equal(token_verify(k1, tok, now + 61, 5, &c), TOKEN_OK);
        token_keys_free(k1);
        struct token_keys *k2 = token_keys_new_hs256((const unsigned char *)s2, strlen(s2));
        assert_int_equal(token_verify(k2, tok, now, 0, &c), TOKEN_BAD_SIGNATURE);
        token_keys_free(k2);
        free(tok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_cache),
        cmocka_unit_test(test_sign_verify_roundtrip),
        cmocka_unit_test(test_libjwt_token_accepted),
        cmocka_unit_test(test_secret_mismatch),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_not_before),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_alg_confusion),
        cmocka_unit_test(test_missing_and_too_large),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_user_claims),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_result_str),
        cmocka_unit_test(test_from_bearer),
        cmocka_unit_test(test_user_id_valid),
        cmocka_unit_test_setup_teardown(test_secret_create_and_reload, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_secret_existing_file, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_secret_unusable_dir, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
