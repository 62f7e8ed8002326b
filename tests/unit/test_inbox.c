/* test_inbox: FIFO order, ids in queue order, the empty -> non-empty wake
 * rule, and many producer threads feeding one draining thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery/inbox.h"
#include "delivery/msgid.h"

struct job {
    struct inbox_job base;
    int producer; /* which thread posted it */
    int seq;      /* its place in that thread's sequence */
    int runs;     /* times run() was called */
};

#define MAX_LOG 8192

/* what the drain side saw; passed as the inbox ctx */
struct log {
    size_t n;
    struct job *order[MAX_LOG];
};

static void record(struct inbox_job *j, void *ctx)
{
    struct job *job = (struct job *)(void *)j;
    struct log *log = ctx;
    job->runs++;
    assert_true(log->n < MAX_LOG);
    log->order[log->n++] = job;
}

static void count_wake(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void init_jobs(struct job *jobs, int n, void (*run)(struct inbox_job *, void *))
{
    memset(jobs, 0, (size_t)n * sizeof *jobs);
    for (int i = 0; i < n; i++) {
        jobs[i].base.run = run;
        jobs[i].seq = i;
    }
}

static void test_fifo_and_ids(void **state)
{
    (void)state;
    struct inbox *in = inbox_new(NULL, NULL); /* no wake function is fine */
    assert_non_null(in);
    struct job jobs[6];
    init_jobs(jobs, 6, record);
    struct log *log = calloc(1, sizeof *log);
    assert_non_null(log);

    int64_t before = now_ms();
    for (int i = 0; i < 6; i++)
        inbox_post(in, &jobs[i].base);
    int64_t after = now_ms();

    for (int i = 0; i < 6; i++) {
        assert_true(jobs[i].base.id != 0);
        if (i)
            assert_true(jobs[i].base.id > jobs[i - 1].base.id);
        /* ids carry the posting time */
        assert_true(msgid_time_ms(jobs[i].base.id) >= before);
        assert_true(msgid_time_ms(jobs[i].base.id) <= after + 1);
    }
    assert_int_equal(log->n, 0); /* nothing runs before the drain */
    assert_int_equal(inbox_drain(in, log), 6);
    assert_int_equal(log->n, 6);
    for (int i = 0; i < 6; i++) {
        assert_ptr_equal(log->order[i], &jobs[i]);
        assert_int_equal(jobs[i].runs, 1);
    }
    assert_int_equal(inbox_drain(in, log), 0);

    /* ids keep growing after a drain */
    uint64_t last = jobs[5].base.id;
    init_jobs(jobs, 2, record);
    inbox_post(in, &jobs[0].base);
    inbox_post(in, &jobs[1].base);
    assert_true(jobs[0].base.id > last);
    assert_true(jobs[1].base.id > jobs[0].base.id);
    assert_int_equal(inbox_drain(in, log), 2);
    assert_ptr_equal(log->order[6], &jobs[0]);
    assert_ptr_equal(log->order[7], &jobs[1]);
    inbox_free(in, log);
    assert_int_equal(log->n, 8); /* nothing left to run */
    free(log);
}

/* a multicast reserves a block of ids: the next post starts above it */
static void test_post_n_reserves_a_block(void **state)
{
    (void)state;
    struct inbox *in = inbox_new(NULL, NULL);
    assert_non_null(in);
    struct job jobs[3];
    init_jobs(jobs, 3, record);
    struct log *log = calloc(1, sizeof *log);
    assert_non_null(log);
    inbox_post(in, &jobs[0].base);
    inbox_post_n(in, &jobs[1].base, 1000);
    inbox_post(in, &jobs[2].base);
    assert_true(jobs[1].base.id > jobs[0].base.id);
    assert_true(jobs[2].base.id > jobs[1].base.id + 999);
    assert_int_equal(inbox_drain(in, log), 3);
    inbox_free(in, log);
    free(log);
}

static void test_wake_only_when_empty(void **state)
{
    (void)state;
    _Atomic int wakes = 0;
    struct inbox *in = inbox_new(count_wake, (void *)&wakes);
    struct job jobs[5];
    init_jobs(jobs, 5, record);
    struct log *log = calloc(1, sizeof *log);

    inbox_post(in, &jobs[0].base);
    assert_int_equal(atomic_load(&wakes), 1);
    inbox_post(in, &jobs[1].base);
    inbox_post(in, &jobs[2].base);
    assert_int_equal(atomic_load(&wakes), 1); /* a wake-up is already on its way */
    assert_int_equal(inbox_drain(in, log), 3);
    assert_int_equal(atomic_load(&wakes), 1); /* draining wakes nobody */
    assert_int_equal(inbox_drain(in, log), 0);

    inbox_post(in, &jobs[3].base); /* empty again */
    assert_int_equal(atomic_load(&wakes), 2);
    inbox_post(in, &jobs[4].base);
    assert_int_equal(atomic_load(&wakes), 2);
    assert_int_equal(inbox_drain(in, log), 2);
    inbox_free(in, log);
    assert_int_equal(atomic_load(&wakes), 2);
    free(log);
}

/* a job that frees itself when run: the inbox must not touch it afterwards */
static void run_and_free(struct inbox_job *j, void *ctx)
{
    (*(int *)ctx)++;
    free(j);
}

static void test_job_owns_itself(void **state)
{
    (void)state;
    struct inbox *in = inbox_new(NULL, NULL);
    for (int i = 0; i < 50; i++) {
        struct inbox_job *j = calloc(1, sizeof *j);
        j->run = run_and_free;
        inbox_post(in, j);
    }
    int ran = 0;
    assert_int_equal(inbox_drain(in, &ran), 50);
    assert_int_equal(ran, 50);
    inbox_free(in, &ran);
}

/* a job that posts a follow-up job while it runs */
struct chain {
    struct inbox_job base;
    struct inbox *in;
    struct inbox_job *follow; /* posted by run(), then cleared */
};

static void run_chain(struct inbox_job *j, void *ctx)
{
    struct chain *c = (struct chain *)(void *)j;
    (*(int *)ctx)++;
    if (c->follow) {
        struct inbox_job *f = c->follow;
        c->follow = NULL;
        inbox_post(c->in, f);
    }
}

static void test_post_while_draining(void **state)
{
    (void)state;
    _Atomic int wakes = 0;
    struct inbox *in = inbox_new(count_wake, (void *)&wakes);
    struct chain second = {.base.run = run_chain, .in = in};
    struct chain first = {.base.run = run_chain, .in = in, .follow = &second.base};
    int ran = 0;
    inbox_post(in, &first.base);
    assert_int_equal(atomic_load(&wakes), 1);
    /* the follow-up waits for the next drain, and wakes the owner again */
    assert_int_equal(inbox_drain(in, &ran), 1);
    assert_int_equal(ran, 1);
    assert_int_equal(atomic_load(&wakes), 2);
    assert_true(second.base.id > first.base.id);
    assert_int_equal(inbox_drain(in, &ran), 1);
    assert_int_equal(ran, 2);
    inbox_free(in, &ran);
}

static void test_free_runs_leftovers(void **state)
{
    (void)state;
    struct inbox *in = inbox_new(NULL, NULL);
    struct job jobs[4];
    init_jobs(jobs, 4, record);
    struct log *log = calloc(1, sizeof *log);
    for (int i = 0; i < 4; i++)
        inbox_post(in, &jobs[i].base);
    inbox_free(in, log); /* runs them, in order, with this ctx */
    assert_int_equal(log->n, 4);
    for (int i = 0; i < 4; i++) {
        assert_ptr_equal(log->order[i], &jobs[i]);
        assert_int_equal(jobs[i].runs, 1);
    }

    /* including jobs that leftover jobs post */
    in = inbox_new(NULL, NULL);
    struct chain third = {.base.run = run_chain, .in = in};
    struct chain second = {.base.run = run_chain, .in = in, .follow = &third.base};
    struct chain first = {.base.run = run_chain, .in = in, .follow = &second.base};
    int ran = 0;
    inbox_post(in, &first.base);
    inbox_free(in, &ran);
    assert_int_equal(ran, 3);

    inbox_free(NULL, log); /* harmless */
    free(log);
}

/* --- threads ------------------------------------------------------------------------------ */

#define PRODUCERS 4
#define PER_PRODUCER 2000

struct producer {
    pthread_t thread;
    struct inbox *in;
    struct job *jobs;
    int index;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        p->jobs[i].producer = p->index;
        inbox_post(p->in, &p->jobs[i].base);
        if (i % 97 == 0)
            sched_yield();
    }
    return NULL;
}

struct waker {
    sem_t sem;
    _Atomic int wakes;
};

static void wake_sem(void *arg)
{
    struct waker *w = arg;
    atomic_fetch_add(&w->wakes, 1);
    sem_post(&w->sem);
}

static void test_many_producers(void **state)
{
    (void)state;
    struct waker w;
    assert_int_equal(sem_init(&w.sem, 0, 0), 0);
    atomic_init(&w.wakes, 0);
    struct inbox *in = inbox_new(wake_sem, &w);
    struct log *log = calloc(1, sizeof *log);
    struct producer p[PRODUCERS];

    for (int k = 0; k < PRODUCERS; k++) {
        p[k].in = in;
        p[k].index = k;
        p[k].jobs = malloc(PER_PRODUCER * sizeof *p[k].jobs);
        assert_non_null(p[k].jobs);
        init_jobs(p[k].jobs, PER_PRODUCER, record);
    }
    for (int k = 0; k < PRODUCERS; k++)
        assert_int_equal(pthread_create(&p[k].thread, NULL, produce, &p[k]), 0);

    /* the owner: sleep until woken, then drain everything */
    size_t total = 0, nonempty_drains = 0;
    while (total < PRODUCERS * PER_PRODUCER) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        int rc;
        while ((rc = sem_timedwait(&w.sem, &deadline)) < 0 && errno == EINTR)
            ;
        if (rc < 0)
            print_error("no wake-up with %zu of %d jobs run\n", total, PRODUCERS * PER_PRODUCER);
        assert_int_equal(rc, 0); /* a lost wake-up would hang here */
        size_t n = inbox_drain(in, log);
        total += n;
        nonempty_drains += n > 0;
    }
    for (int k = 0; k < PRODUCERS; k++)
        assert_int_equal(pthread_join(p[k].thread, NULL), 0);
    assert_int_equal(inbox_drain(in, log), 0);
    assert_int_equal(total, PRODUCERS * PER_PRODUCER);
    assert_int_equal(log->n, PRODUCERS * PER_PRODUCER);

    /* every job ran exactly once */
    for (int k = 0; k < PRODUCERS; k++)
        for (int i = 0; i < PER_PRODUCER; i++)
            assert_int_equal(p[k].jobs[i].runs, 1);

    /* each producer's jobs ran in the order it posted them, and ids follow run order */
    int next[PRODUCERS] = {0};
    for (size_t i = 0; i < log->n; i++) {
        struct job *j = log->order[i];
        assert_int_equal(j->seq, next[j->producer]);
        next[j->producer]++;
        if (i)
            assert_true(j->base.id > log->order[i - 1]->base.id);
    }

    /* one wake per empty -> non-empty transition: each was answered by one drain */
    assert_int_equal(atomic_load(&w.wakes), nonempty_drains);
    assert_true(atomic_load(&w.wakes) >= 1);

    inbox_free(in, log);
    for (int k = 0; k < PRODUCERS; k++)
        free(p[k].jobs);
    free(log);
    sem_destroy(&w.sem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_ids),         cmocka_unit_test(test_post_n_reserves_a_block),
        cmocka_unit_test(test_wake_only_when_empty), cmocka_unit_test(test_job_owns_itself),
        cmocka_unit_test(test_post_while_draining),  cmocka_unit_test(test_free_runs_leftovers),
        cmocka_unit_test(test_many_producers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
