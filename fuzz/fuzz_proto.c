/* fuzz: a gRPC request body as notifyd decodes it -- protobuf-c unpack of
 * the method chosen by the first byte, then pbjson and ops_build. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "notification/v1/notification.pb-c.h"
#include "notify/ops.h"
#include "notify/pbjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCServiceDescriptor *svc = &notification__v1__notification_service__descriptor;
    if (size < 1)
        return 0;
    const ProtobufCMethodDescriptor *m = &svc->methods[data[0] % svc->n_methods];
    ProtobufCMessage *msg = protobuf_c_message_unpack(m->input, NULL, size - 1, data + 1);
    if (!msg)
        return 0;
    json_t *req = pbjson_from_message(msg);
    const struct op_spec *op = ops_find(m->name);
    struct op_msg out;
    char err[256];
    if (req && op && ops_build(op, req, &out, err, sizeof err) == 0)
        op_msg_clear(&out);
    size_t len;
    unsigned char *packed = req ? pbjson_pack(m->output, req, &len) : NULL;
    free(packed);
    json_decref(req);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
