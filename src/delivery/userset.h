/* userset: a set of user ids (uthash). Its owner serializes every call. */
#ifndef NOTIFYD_DELIVERY_USERSET_H
#define NOTIFYD_DELIVERY_USERSET_H

#include <stddef.h>

struct userset;

struct userset *userset_new(void);
void userset_free(struct userset *s);

/** Adds @user_id, or bumps its generation if present. 0 or -ENOMEM. */
int userset_add(struct userset *s, const char *user_id);

/** How many times @user_id was added since it joined the set; 0 when absent. */
unsigned userset_generation(const struct userset *s, const char *user_id);
void userset_remove(struct userset *s, const char *user_id);
int userset_has(const struct userset *s, const char *user_id);
size_t userset_count(const struct userset *s);

#endif
