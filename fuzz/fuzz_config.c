/* fuzz: command-line parsing (lines of the input become argv) and the
 * value parsers behind it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    char *argv[16];
    int argc = 0;
    for (char *p = text; argc < 16;) {
        argv[argc++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = 0;
        p = nl + 1;
    }
    struct nd_config cfg;
    char err[512];
    if (config_parse(&cfg, data[0] & 1 ? CONFIG_TOKEN : CONFIG_SERVE, argc, argv, err,
                     sizeof err) == CONFIG_OK)
        config_free(&cfg);
    int64_t v;
    struct nd_addr a;
    config_parse_duration_ms(argv[0], &v);
    config_parse_size(argv[0], &v);
    config_parse_addr(argv[0], &a, err, sizeof err);
    free(text);
    return 0;
}
