/* feed: each user's notification feed (SPEC §7d) as both engines see it --
 * the item states and what the actions do to them, the filters, and the
 * work on a user's window: the newest NOTIFYD_FEED_MAX_PER_USER items of
 * their own and the shared (broadcast) ones, newest first. Engines read the
 * window from where they keep it; paging, counting and marking it is done
 * here (the embedded engine) or by the same rules in Lua (the redis engine:
 * cluster/scripts.h). Pure; any thread. */
#ifndef NOTIFYD_FEED_FEED_H
#define NOTIFYD_FEED_FEED_H

#include <stddef.h>
#include <stdint.h>

#define FEED_LIMIT_DEFAULT 20 /* ListFeed's page when no limit is given */
#define FEED_LIMIT_MAX 100    /* ... and at most */
#define FEED_MARK_MAX 500     /* ids in one MarkFeed */

/* an item's state for one user: bits */
enum feed_flag {
    FEED_SEEN = 1u << 0,
    FEED_READ = 1u << 1,
    FEED_ARCHIVED = 1u << 2,
};

enum feed_filter {
    FEED_INBOX,  /* not archived (the default) */
    FEED_UNREAD, /* not archived, not read */
    FEED_ARCHIVED_ONLY,
    FEED_ALL,
};

enum feed_action {
    FEED_MARK_SEEN,
    FEED_MARK_READ, /* implies seen */
    FEED_MARK_UNREAD,
    FEED_MARK_ARCHIVE,
    FEED_MARK_UNARCHIVE,
};

/** What a bell shows: archived items are not counted. */
struct feed_counts {
    int total;  /* not archived */
    int unseen; /* ... and not seen */
    int unread; /* ... and not read */
};

/** One item of a user's window. */
struct feed_entry {
    uint64_t id;      /* the message id */
    unsigned flags;   /* enum feed_flag, for this user */
    unsigned kept;    /* where the store keeps this user's state of it (the store's business) */
    unsigned changed; /* feed_mark() changed flags */
};

/** A listed item: the user's state of it and the envelope it was delivered in. */
struct feed_item {
    uint64_t id;
    unsigned flags; /* enum feed_flag */
    char *json;     /* the envelope, len bytes and a NUL; owned */
    size_t len;
};

/** Frees @n items and the array. */
void feed_items_free(struct feed_item *items, size_t n);

/** @name ("inbox", "unread", "archived", "all"; "" = inbox) into *out: 0 or -EINVAL. */
int feed_filter_parse(const char *name, enum feed_filter *out);

/** @name ("seen", "read", "unread", "archive", "unarchive") into *out: 0 or -EINVAL. */
int feed_action_parse(const char *name, enum feed_action *out);

/** The wire name of @a ("read"). */
const char *feed_action_name(enum feed_action a);

/** @flags after @a. */
unsigned feed_apply(unsigned flags, enum feed_action a);

/** True when an item with @flags is listed by @f. */
int feed_matches(unsigned flags, enum feed_filter f);

/** Adds (@sign 1) or takes away (-1) an item with @flags to/from @c. */
void feed_count_item(struct feed_counts *c, unsigned flags, int sign);

/** The counts of the window @w (@n entries). */
void feed_count(const struct feed_entry *w, size_t n, struct feed_counts *out);

/**
 * One page of the window @w (@n entries, newest first): the indexes of at
 * most @limit entries matching @f with ids below @before (0: from the
 * newest) into @page; *next_before is the last one's id when more match
 * after it, else 0. Returns the number of entries in @page.
 */
size_t feed_page(const struct feed_entry *w, size_t n, uint64_t before, enum feed_filter f,
                 int limit, size_t *page, uint64_t *next_before);

/**
 * Applies @a to the entries of @w whose ids are in @ids (@n_ids, any
 * order), or to all of them when @all: each whose flags change gets the
 * new ones and `changed` set. Returns how many changed.
 */
int feed_mark(struct feed_entry *w, size_t n, const uint64_t *ids, size_t n_ids, int all,
              enum feed_action a);

#endif
