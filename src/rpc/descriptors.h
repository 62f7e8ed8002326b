/* descriptors: the FileDescriptorSet of each proto notifyd serves, made by
 * protoc at build time (cmake/descriptors.cmake) for server reflection.
 * Immutable; any thread. */
#ifndef NOTIFYD_RPC_DESCRIPTORS_H
#define NOTIFYD_RPC_DESCRIPTORS_H

#include <stddef.h>

struct rpc_descriptor_set {
    const char *proto;        /* "notification/v1/notification.proto" */
    const unsigned char *set; /* a FileDescriptorSet holding that one file */
    size_t len;
};

extern const struct rpc_descriptor_set rpc_descriptor_sets[]; /* ends with a NULL proto */

#endif
