/* feed: the rules of SPEC §7d on a window held in memory. A window is at
 * most NOTIFYD_FEED_MAX_PER_USER entries, so a scan is the whole cost. */
#include "feed/feed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const filters[] = {"inbox", "unread", "archived", "all"};
static const char *const actions[] = {"seen", "read", "unread", "archive", "unarchive"};

void feed_items_free(struct feed_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        free(items[i].json);
    free(items);
}

int feed_filter_parse(const char *name, enum feed_filter *out)
{
    if (!name[0]) {
        *out = FEED_INBOX;
        return 0;
    }
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
        if (!strcmp(name, filters[i])) {
            *out = (enum feed_filter)i;
            return 0;
        }
    return -EINVAL;
}

int feed_action_parse(const char *name, enum feed_action *out)
{
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (!strcmp(name, actions[i])) {
            *out = (enum feed_action)i;
            return 0;
        }
    return -EINVAL;
}

const char *feed_action_name(enum feed_action a)
{
    return (unsigned)a < sizeof actions / sizeof actions[0] ? actions[a] : "?";
}

unsigned feed_apply(unsigned flags, enum feed_action a)
{
    switch (a) {
    case FEED_MARK_SEEN: return flags | FEED_SEEN;
    case FEED_MARK_READ: return flags | FEED_SEEN | FEED_READ;
    case FEED_MARK_UNREAD: return flags & ~(unsigned)FEED_READ;
    case FEED_MARK_ARCHIVE: return flags | FEED_ARCHIVED;
    case FEED_MARK_UNARCHIVE: return flags & ~(unsigned)FEED_ARCHIVED;
    }
    return flags;
}

int feed_matches(unsigned flags, enum feed_filter f)
{
    switch (f) {
    case FEED_INBOX: return !(flags & FEED_ARCHIVED);
    case FEED_UNREAD: return !(flags & (FEED_ARCHIVED | FEED_READ));
    case FEED_ARCHIVED_ONLY: return (flags & FEED_ARCHIVED) != 0;
    case FEED_ALL: return 1;
    }
    return 0;
}

void feed_count_item(struct feed_counts *c, unsigned flags, int sign)
{
    if (flags & FEED_ARCHIVED)
        return;
    c->total += sign;
    c->unseen += !(flags & FEED_SEEN) ? sign : 0;
    c->unread += !(flags & FEED_READ) ? sign : 0;
}

void feed_count(const struct feed_entry *w, size_t n, struct feed_counts *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++)
        feed_count_item(out, w[i].flags, 1);
}

size_t feed_page(const struct feed_entry *w, size_t n, uint64_t before, enum feed_filter f,
                 int limit, size_t *page, uint64_t *next_before)
{
    size_t got = 0;
    *next_before = 0;
    for (size_t i = 0; i < n; i++) {
        if ((before && w[i].id >= before) || !feed_matches(w[i].flags, f))
            continue;
        if (got == (size_t)limit) { /* one more after the page: there is a next one */
            *next_before = w[page[got - 1]].id;
            break;
        }
        page[got++] = i;
    }
    return got;
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int feed_mark(struct feed_entry *w, size_t n, const uint64_t *ids, size_t n_ids, int all,
              enum feed_action a)
{
    uint64_t *sorted = NULL;
    if (!all && n_ids) {
        if (!(sorted = malloc(n_ids * sizeof *sorted)))
            return -ENOMEM;
        memcpy(sorted, ids, n_ids * sizeof *sorted);
        qsort(sorted, n_ids, sizeof *sorted, by_value);
    }
    int updated = 0;
    for (size_t i = 0; i < n; i++) {
        if (!all && (!sorted || !bsearch(&w[i].id, sorted, n_ids, sizeof *sorted, by_value)))
            continue;
        unsigned to = feed_apply(w[i].flags, a);
        if (to != w[i].flags) {
            w[i].flags = to;
            w[i].changed = 1;
            updated++;
        }
    }
    free(sorted);
    return updated;
}
