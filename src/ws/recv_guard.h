/* ws/recv_guard: what libwebsockets reads from a client, as a WebSocket thread reads it.
 * lws reads every client byte with recv() (plain) or SSL_read() (TLS);
 * notifyd defines both and calls the real ones. On the thread that called
 * recv_guard_thread_start(), for the descriptors it watches:
 *  - plain HTTP is handed over one request at a time (pipelined requests
 *    wait in the socket: lws 4.1.6 mishandles requests it reads ahead);
 *  - WebSocket frames go through a frame_guard: bytes from the first bad
 *    frame on are dropped and the owner is told, so it closes with 1002.
 * Each WebSocket thread has its own table (other threads' reads pass straight through). */
#ifndef NOTIFYD_WS_RECV_GUARD_H
#define NOTIFYD_WS_RECV_GUARD_H

#include <stddef.h>

#include "ws/frame_guard.h"

/** This thread checks the descriptors it watches; @bad(arg) reports a bad frame. 0 or -ENOMEM. */
int recv_guard_thread_start(void (*bad)(void *arg));

/** This thread stops checking (its loop is over). */
void recv_guard_thread_end(void);

/** Frames what lws reads from @fd (plain HTTP) one request at a time, until unwatched. */
void recv_guard_http(int fd);

/** Checks what is read from @fd with @g (zeroed: a frame starts next) until unwatched. */
void recv_guard_watch(int fd, struct frame_guard *g, void *arg);

/** Stops checking @fd (before it is closed). */
void recv_guard_unwatch(int fd);

#endif
