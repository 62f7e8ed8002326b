/* fuzz: the WebSocket client-message parser. */
#include <stddef.h>
#include <stdint.h>

#include "ws/client_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct client_msg m;
    client_msg_parse((const char *)data, size, &m);
    client_msg_clear(&m);
    return 0;
}
