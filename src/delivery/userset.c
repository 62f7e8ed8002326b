/* userset: see userset.h. */
#include "delivery/userset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct member {
    unsigned gen; /* adds since it joined */
    UT_hash_handle hh;
    char id[];
};

struct userset {
    struct member *members;
};

struct userset *userset_new(void)
{
    return calloc(1, sizeof(struct userset));
}

void userset_free(struct userset *s)
{
    if (!s)
        return;
    struct member *m, *tmp;
    HASH_ITER (hh, s->members, m, tmp) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false, a uthash head's hh.prev is NULL */
        HASH_DEL(s->members, m);
        free(m);
    }
    free(s);
}

static struct member *find(const struct userset *s, const char *user_id)
{
    struct member *m = NULL;
    HASH_FIND_STR(s->members, user_id, m);
    return m;
}

unsigned userset_generation(const struct userset *s, const char *user_id)
{
    struct member *m = find(s, user_id);
    return m ? m->gen : 0;
}

int userset_add(struct userset *s, const char *user_id)
{
    struct member *m = find(s, user_id);
    if (m) {
        m->gen++;
        return 0;
    }
    size_t len = strlen(user_id);
    m = malloc(sizeof *m + len + 1);
    if (!m)
        return -ENOMEM;
    m->gen = 1;
    memcpy(m->id, user_id, len + 1);
    HASH_ADD_KEYPTR(hh, s->members, m->id, len, m);
    return 0;
}

void userset_remove(struct userset *s, const char *user_id)
{
    struct member *m = NULL;
    HASH_FIND_STR(s->members, user_id, m);
    if (m) {
        HASH_DEL(s->members, m);
        free(m);
    }
}

int userset_has(const struct userset *s, const char *user_id)
{
    struct member *m = NULL;
    HASH_FIND_STR(s->members, user_id, m);
    return m != NULL;
}

size_t userset_count(const struct userset *s)
{
    return HASH_COUNT(s->members);
}
