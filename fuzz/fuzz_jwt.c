/* fuzz: JWT verification with an HS256 secret, an RSA public key, and both
 * with issuer/audience checks (the first byte chooses). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rsa_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC/C/ymRmGiN6Ep2RTH91PEtgtl\n"
                              "hexwmnFXRgiOQETT9gn6CcjMfTnerSsHyxkvoV8UvZeHcxq+AhAQprZdOf25Nqmm\n"
                              "sbbUxrphUA8OI6V3RxmH70LzJFkfWWvdSMMinMdnCk9L/QhteIWnVucIIX+QrVd8\n"
                              "DQ5ZiThfutwSFL98lwIDAQAB\n"
                              "-----END PUBLIC KEY-----\n";

static struct token_keys *keys[3];

static void setup(void)
{
    char err[256];
    struct token_keys_config hs = {"fuzz-secret-fuzz-secret-0123456789", NULL, NULL, NULL};
    struct token_keys_config rsa = {NULL, rsa_pub, NULL, NULL};
    struct token_keys_config both = {"fuzz-secret-fuzz-secret-0123456789", rsa_pub, "iss", "aud"};
    keys[0] = token_keys_new(&hs, err, sizeof err);
    keys[1] = token_keys_new(&rsa, err, sizeof err);
    keys[2] = token_keys_new(&both, err, sizeof err);
    if (!keys[0] || !keys[1] || !keys[2])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!keys[0])
        setup();
    if (size < 1)
        return 0;
    char *tok = malloc(size);
    memcpy(tok, data + 1, size - 1);
    tok[size - 1] = 0;
    struct token_claims claims;
    token_verify(keys[data[0] % 3], tok, 1800000000, 30, &claims);
    token_from_bearer(tok);
    free(tok);
    return 0;
}
