/* inbox: a locked FIFO handed to one owner thread. The lock is held only to
 * link a job or to take the whole list; wake() is called only when the list
 * was empty, since a non-empty list already has a wake-up on its way. */
#include "delivery/inbox.h"

#include <pthread.h>
#include <stdlib.h>

#include "delivery/msgid.h"
#include "nd.h"

struct inbox {
    pthread_mutex_t lock;
    struct inbox_job *head;  /* {lock} oldest job */
    struct inbox_job **tail; /* {lock} where the next job is linked */
    struct msgid_clock ids;  /* {lock} */
    void (*wake)(void *arg);
    void *wake_arg;
};

struct inbox *inbox_new(void (*wake)(void *arg), void *wake_arg)
{
    struct inbox *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    pthread_mutex_init(&in->lock, NULL);
    in->tail = &in->head;
    in->wake = wake;
    in->wake_arg = wake_arg;
    return in;
}

void inbox_free(struct inbox *in, void *ctx)
{
    if (!in)
        return;
    while (inbox_drain(in, ctx))
        ;
    pthread_mutex_destroy(&in->lock);
    free(in);
}

void inbox_set_wake(struct inbox *in, void (*wake)(void *arg), void *wake_arg)
{
    pthread_mutex_lock(&in->lock);
    in->wake = wake;
    in->wake_arg = wake_arg;
    pthread_mutex_unlock(&in->lock);
}

void inbox_post(struct inbox *in, struct inbox_job *job)
{
    inbox_post_n(in, job, 1);
}

void inbox_post_n(struct inbox *in, struct inbox_job *job, unsigned n)
{
    int64_t now_ms = nd_wall_ms();

    job->next = NULL;
    pthread_mutex_lock(&in->lock);
    job->id = msgid_next(&in->ids, now_ms);
    if (n > 1)
        in->ids.last = job->id + n - 1; /* the next post starts above the block */
    int was_empty = in->head == NULL;
    *in->tail = job;
    in->tail = &job->next;
    /* woken under the lock: inbox_set_wake(NULL) then waits for a wake-up
     * in progress, so the owner may destroy what the wake-up touches */
    if (was_empty && in->wake)
        in->wake(in->wake_arg);
    pthread_mutex_unlock(&in->lock);
}

size_t inbox_drain(struct inbox *in, void *ctx)
{
    pthread_mutex_lock(&in->lock);
    struct inbox_job *job = in->head;
    in->head = NULL;
    in->tail = &in->head;
    pthread_mutex_unlock(&in->lock);

    size_t n = 0;
    while (job) {
        struct inbox_job *next = job->next;
        job->run(job, ctx);
        job = next;
        n++;
    }
    return n;
}
