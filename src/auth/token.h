/* token: verifies and signs JWTs (libjwt). Pure functions, no I/O except
 * token_secret_read() and token_secret_load(); a struct token_keys is immutable once made, so any
 * thread may verify with it concurrently. */
#ifndef NOTIFYD_AUTH_TOKEN_H
#define NOTIFYD_AUTH_TOKEN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "nd.h"

enum token_role {
    TOKEN_ROLE_USER = 1u << 0,    /* a browser: may connect to /ws */
    TOKEN_ROLE_SERVICE = 1u << 1, /* a backend: may call the API */
    TOKEN_ROLE_ADMIN = 1u << 2,   /* an operator: may call the API */
};

enum token_result {
    TOKEN_OK,
    TOKEN_MISSING,       /* no token given */
    TOKEN_TOO_LARGE,     /* over ND_TOKEN_MAX bytes */
    TOKEN_MALFORMED,     /* not three base64url parts of JSON */
    TOKEN_BAD_ALG,       /* alg is not the configured one (none, confusion) */
    TOKEN_BAD_SIGNATURE, /* signature does not verify */
    TOKEN_EXPIRED,       /* exp is past (beyond the leeway) */
    TOKEN_NOT_YET_VALID, /* nbf is ahead (beyond the leeway) */
    TOKEN_NO_USER,       /* neither user_id nor sub */
    TOKEN_BAD_USER,      /* user id too long or with forbidden characters */
    TOKEN_BAD_ISSUER,    /* iss is not NOTIFYD_JWT_ISSUER */
    TOKEN_BAD_AUDIENCE,  /* aud does not name NOTIFYD_JWT_AUDIENCE */
};

struct token_claims {
    char user_id[ND_USER_ID_MAX + 1];
    unsigned roles; /* enum token_role bits; TOKEN_ROLE_USER when none named */
    int64_t exp;    /* unix seconds, 0 when the token has no exp */
};

struct token_keys; /* opaque; immutable once made */

struct token_keys_config {
    const char *secret;         /* HS256 secret, or NULL: HS256 off */
    const char *public_key_pem; /* RSA (RS256/384/512) or EC (ES256/384/512) key, or NULL */
    const char *issuer;         /* required iss, or NULL */
    const char *audience;       /* required in aud, or NULL */
};

/**
 * Makes a key set. Each algorithm has its own key: HS* verify with the secret
 * only, RSA and EC algorithms with the public key only, so a token signed with the public
 * key as an HMAC secret never verifies. NULL with a reason in @err.
 */
struct token_keys *token_keys_new(const struct token_keys_config *kc, char *err, size_t errlen);

/** Makes an HS256-only key set from @secret (copied). NULL on ENOMEM. */
struct token_keys *token_keys_new_hs256(const unsigned char *secret, size_t len);

void token_keys_free(struct token_keys *keys);

/** True when tokens can be signed (an HS256 secret is configured). */
int token_keys_can_sign(const struct token_keys *keys);

/**
 * The keys in use, swappable at run time (SIGHUP). Readers on any thread
 * take the current set with token_keyring_get(); replaced sets stay alive
 * until token_keyring_free(), so a verify in progress never sees them go.
 */
struct token_keyring {
    struct token_keys *_Atomic current;
    struct token_keys *retired; /* main thread only */
};

/** Takes ownership of @keys. */
void token_keyring_init(struct token_keyring *ring, struct token_keys *keys);
/** The current keys. Any thread. */
const struct token_keys *token_keyring_get(struct token_keyring *ring);
/** Installs @keys (owned from now on). One thread at a time (main). */
void token_keyring_swap(struct token_keyring *ring, struct token_keys *keys);
void token_keyring_free(struct token_keyring *ring);

/**
 * Checks @token's signature, algorithm, exp and nbf against @now (unix
 * seconds) with @leeway seconds of slack, and fills @out. Any thread.
 */
enum token_result token_verify(const struct token_keys *keys, const char *token, int64_t now,
                               int64_t leeway, struct token_claims *out);

/** A short English reason, e.g. "token expired". */
const char *token_result_str(enum token_result r);

/**
 * Verifies @token as token_verify() does (no cache) and explains the outcome
 * in @out, one line: on TOKEN_OK the verified claims as JSON; else the reason
 * with the values behind it (exp and how long ago, the token's alg and the
 * ones these keys verify, iss/aud against the configured ones). Any thread.
 */
enum token_result token_explain(const struct token_keys *keys, const char *token, int64_t now,
                                int64_t leeway, char *out, size_t outlen);

/**
 * Signs a token for @user with @role ("user", "service", "admin") valid from
 * @now for @ttl seconds. Returns a malloc'd string (caller frees) or NULL.
 */
char *token_sign(const struct token_keys *keys, const char *user, const char *role, int64_t now,
                 int64_t ttl);

/** True when @id is 1..ND_USER_ID_MAX bytes of [A-Za-z0-9_.@:-]. */
int token_user_id_valid(const char *id, size_t len);

/**
 * Reads <dir>/jwt_secret; never creates it (-ENOENT when absent). *secret is
 * malloc'd (caller frees). Returns 0, or -errno with a one-line reason in @err.
 */
int token_secret_read(const char *dir, char **secret, char *err, size_t errlen);

/**
 * Reads <dir>/jwt_secret, creating @dir (0700) and the file (0600, 32 random
 * bytes hex-encoded) the first time. *secret is malloc'd (caller frees).
 * Returns 0, or -errno with a one-line reason in @err.
 */
int token_secret_load(const char *dir, char **secret, char *err, size_t errlen);

/** Parses "Bearer <token>" (scheme case-insensitive); NULL if not that form. Borrows @header. */
const char *token_from_bearer(const char *header);

#endif
