/* feed: the rules of SPEC §7d on a window in memory -- parsing the filter
 * and action names, what each action does (read implies seen), counts
 * without the archive, paging with a cursor and marking by ids or all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "feed/feed.h"

static void test_names(void **state)
{
    (void)state;
    enum feed_filter f = FEED_ALL;
    enum feed_action a = FEED_MARK_SEEN;
    assert_int_equal(feed_filter_parse("", &f), 0);
    assert_int_equal(f, FEED_INBOX);
    assert_int_equal(feed_filter_parse("unread", &f), 0);
    assert_int_equal(f, FEED_UNREAD);
    assert_int_equal(feed_filter_parse("archived", &f), 0);
    assert_int_equal(f, FEED_ARCHIVED_ONLY);
    assert_int_equal(feed_filter_parse("all", &f), 0);
    assert_int_equal(f, FEED_ALL);
    assert_int_equal(feed_filter_parse("Unread", &f), -EINVAL);
    assert_int_equal(feed_action_parse("unarchive", &a), 0);
    assert_int_equal(a, FEED_MARK_UNARCHIVE);
    assert_int_equal(feed_action_parse("", &a), -EINVAL);
    assert_int_equal(feed_action_parse("delete", &a), -EINVAL);
    assert_string_equal(feed_action_name(FEED_MARK_READ), "read");
}

static void test_actions(void **state)
{
    (void)state;
    assert_int_equal(feed_apply(0, FEED_MARK_SEEN), FEED_SEEN);
    assert_int_equal(feed_apply(0, FEED_MARK_READ), FEED_SEEN | FEED_READ);
    assert_int_equal(feed_apply(FEED_SEEN | FEED_READ, FEED_MARK_UNREAD), FEED_SEEN);
    assert_int_equal(feed_apply(FEED_READ, FEED_MARK_ARCHIVE), FEED_READ | FEED_ARCHIVED);
    assert_int_equal(feed_apply(FEED_ARCHIVED | FEED_SEEN, FEED_MARK_UNARCHIVE), FEED_SEEN);
    assert_true(feed_matches(0, FEED_INBOX));
    assert_false(feed_matches(FEED_ARCHIVED, FEED_INBOX));
    assert_false(feed_matches(FEED_READ, FEED_UNREAD));
    assert_false(feed_matches(FEED_ARCHIVED, FEED_UNREAD));
    assert_true(feed_matches(FEED_ARCHIVED | FEED_READ, FEED_ARCHIVED_ONLY));
    assert_false(feed_matches(FEED_READ, FEED_ARCHIVED_ONLY));
    assert_true(feed_matches(FEED_ARCHIVED, FEED_ALL));
}

/* ids 10, 9, ..., 1 (newest first); every third archived, the even ones read */
static void window(struct feed_entry w[10])
{
    memset(w, 0, 10 * sizeof *w);
    for (int i = 0; i < 10; i++) {
        w[i].id = (uint64_t)(10 - i);
        if (w[i].id % 3 == 0)
            w[i].flags |= FEED_ARCHIVED;
        if (w[i].id % 2 == 0)
            w[i].flags |= FEED_READ | FEED_SEEN;
    }
}

static void test_counts_leave_out_the_archive(void **state)
{
    (void)state;
    struct feed_entry w[10];
    struct feed_counts c;
    window(w);
    feed_count(w, 10, &c);
    /* not archived: 10 8 7 5 4 2 1; of these read (and seen): 10 8 4 2 */
    assert_int_equal(c.total, 7);
    assert_int_equal(c.unseen, 3);
    assert_int_equal(c.unread, 3);
    feed_count(w, 0, &c);
    assert_int_equal(c.total + c.unseen + c.unread, 0);
}

static void test_pages_and_cursor(void **state)
{
    (void)state;
    struct feed_entry w[10];
    size_t page[10];
    uint64_t next = 99;
    window(w);
    /* inbox: 10 8 7 5 4 2 1, three at a time */
    size_t n = feed_page(w, 10, 0, FEED_INBOX, 3, page, &next);
    assert_int_equal(n, 3);
    assert_int_equal(w[page[0]].id, 10);
    assert_int_equal(w[page[2]].id, 7);
    assert_int_equal(next, 7);
    n = feed_page(w, 10, next, FEED_INBOX, 3, page, &next);
    assert_int_equal(n, 3);
    assert_int_equal(w[page[0]].id, 5);
    assert_int_equal(next, 2);
    n = feed_page(w, 10, next, FEED_INBOX, 3, page, &next);
    assert_int_equal(n, 1);
    assert_int_equal(w[page[0]].id, 1);
    assert_int_equal(next, 0);
    /* exactly the matching items in one page: no cursor */
    n = feed_page(w, 10, 0, FEED_INBOX, 7, page, &next);
    assert_int_equal(n, 7);
    assert_int_equal(next, 0);
    /* unread: 7 5 1; archived: 9 6 3 */
    n = feed_page(w, 10, 0, FEED_UNREAD, 10, page, &next);
    assert_int_equal(n, 3);
    assert_int_equal(w[page[1]].id, 5);
    n = feed_page(w, 10, 0, FEED_ARCHIVED_ONLY, 10, page, &next);
    assert_int_equal(n, 3);
    assert_int_equal(w[page[2]].id, 3);
    /* before the oldest: nothing */
    assert_int_equal(feed_page(w, 10, 1, FEED_ALL, 10, page, &next), 0);
    assert_int_equal(next, 0);
}

static void test_mark_by_ids_and_all(void **state)
{
    (void)state;
    struct feed_entry w[10];
    window(w);
    const uint64_t ids[] = {7, 42, 5, 8}; /* 42 is not there; 8 is read already */
    assert_int_equal(feed_mark(w, 10, ids, 4, 0, FEED_MARK_READ), 2);
    assert_int_equal(w[3].flags, FEED_SEEN | FEED_READ); /* id 7 */
    assert_true(w[3].changed);
    assert_false(w[2].changed); /* id 8 */
    struct feed_counts c;
    feed_count(w, 10, &c);
    assert_int_equal(c.unread, 1);
    /* all: each entry that changes */
    assert_int_equal(feed_mark(w, 10, NULL, 0, 1, FEED_MARK_ARCHIVE), 7);
    feed_count(w, 10, &c);
    assert_int_equal(c.total, 0);
    assert_int_equal(feed_mark(w, 10, NULL, 0, 1, FEED_MARK_ARCHIVE), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_counts_leave_out_the_archive),
        cmocka_unit_test(test_pages_and_cursor),
        cmocka_unit_test(test_mark_by_ids_and_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
