/* nd: the few macros every module uses. */
#ifndef NOTIFYD_ND_H
#define NOTIFYD_ND_H

#include <stddef.h>

#define ND_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define ND_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
