/* fuzz: a REST body as every operation would read it (JSON -> ops_build),
 * Publish's with its data as written (jsontext), as rest.c passes it on. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "notify/jsontext.h"
#include "notify/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *req = json_loadb((const char *)data, size, 0, NULL);
    if (!req)
        return 0;
    for (int i = 0; i < OP__COUNT; i++) {
        struct op_msg msg;
        char err[256];
        if (ops_build(ops_get((enum op_id)i), req, &msg, err, sizeof err) == 0)
            op_msg_clear(&msg);
    }
    size_t off, n;
    if (jsontext_member((const char *)data, size, "data", &off, &n) == 1) {
        json_t *text = json_stringn((const char *)data + off, n);
        if (text && json_object_set_new(req, "data", text) == 0) {
            struct op_msg msg;
            char err[256];
            if (ops_build(ops_get(OP_PUBLISH), req, &msg, err, sizeof err) == 0)
                op_msg_clear(&msg);
        }
    }
    json_decref(req);
    return 0;
}
