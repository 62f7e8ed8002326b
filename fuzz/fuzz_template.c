/* fuzz: the template renderer. The input is "template\0params" where params
 * are NUL-separated name=value pairs; whatever it is, check and render must
 * agree (render succeeds or names a missing param exactly when check passed)
 * and stay within the bound. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notify/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct params {
    const char *p;
    size_t len;
};

static const char *lookup(void *arg, const char *name, size_t nlen, size_t *vlen)
{
    struct params *ps = arg;
    const char *p = ps->p, *end = ps->p + ps->len;
    while (p < end) {
        const char *nul = memchr(p, 0, (size_t)(end - p));
        const char *stop = nul ? nul : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq && (size_t)(eq - p) == nlen && !memcmp(p, name, nlen)) {
            *vlen = (size_t)(stop - eq - 1);
            return eq + 1;
        }
        p = stop + 1;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, 0, size);
    size_t tlen = nul ? (size_t)(nul - text) : size;
    struct params ps = {nul ? nul + 1 : text + size, nul ? size - tlen - 1 : 0};
    char err[256], *out = NULL;
    size_t outlen = 0, max = 512;

    int ok = template_check(text, tlen, err, sizeof err) == 0;
    int rc = template_render(text, tlen, lookup, &ps, max, &out, &outlen, err, sizeof err);
    if (rc == 0) {
        if (!ok || outlen > max || strlen(out) > outlen)
            abort();
        free(out);
    } else if (rc == -EINVAL && ok && strncmp(err, "needs param", 11)) {
        abort(); /* a checked template fails only for a missing param */
    }
    template_uses(text, tlen, "user_id");
    return 0;
}
