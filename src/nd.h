/* nd: the few macros every module uses. */
#ifndef NOTIFYD_ND_H
#define NOTIFYD_ND_H

#include <stddef.h>

#define ND_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
/* descriptors the HTTP port leaves for gRPC, the store and Redis */
#define ND_FD_RESERVE 128
#define ND_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
