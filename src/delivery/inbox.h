/* inbox: jobs for the thread that owns the WebSocket connections. Any thread
 * posts (mutex + intrusive list, then a wake call such as
 * lws_cancel_service); the owner drains the whole list and runs each job.
 * Each job is given a message id (msgid.h) under the lock, so ids follow
 * queue order: a message posted later always has the greater id. */
#ifndef NOTIFYD_DELIVERY_INBOX_H
#define NOTIFYD_DELIVERY_INBOX_H

#include <stddef.h>
#include <stdint.h>

struct inbox_job {
    struct inbox_job *next; /* {inbox lock} */
    uint64_t id;            /* set by inbox_post() */
    /* runs on the owner thread; owns @job from then on. @ctx is inbox_drain()'s */
    void (*run)(struct inbox_job *job, void *ctx);
};

struct inbox;

/**
 * Makes an inbox; @wake(@wake_arg) is called from posting threads, under the
 * inbox's lock (so it must not post). NULL on ENOMEM.
 */
struct inbox *inbox_new(void (*wake)(void *arg), void *wake_arg);

/** Frees the inbox; jobs still queued are run with @ctx first. Owner thread. */
void inbox_free(struct inbox *in, void *ctx);

/**
 * Replaces the wake-up (NULL: none, e.g. before the owner's loop is gone);
 * once it returns, the old one is not running and will not run. Any thread.
 */
void inbox_set_wake(struct inbox *in, void (*wake)(void *arg), void *wake_arg);

/** Queues @job (the inbox does not copy it), stamps job->id, wakes the owner. Any thread. */
void inbox_post(struct inbox *in, struct inbox_job *job);

/**
 * Like inbox_post(), reserving @n (>= 1) consecutive ids: job->id is the
 * first, job->id + n - 1 the last (a multicast's recipients). Any thread.
 */
void inbox_post_n(struct inbox *in, struct inbox_job *job, unsigned n);

/** Runs every queued job in order with @ctx; returns how many. Owner thread only. */
size_t inbox_drain(struct inbox *in, void *ctx);

#endif
