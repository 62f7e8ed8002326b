/* datadir: one notifyd per data directory. An flock(2) on <dir>/notifyd.lock
 * held for the life of the process (the kernel drops it when the process
 * ends, kill -9 included); the file says which pid holds it. Main thread. */
#ifndef NOTIFYD_DATADIR_H
#define NOTIFYD_DATADIR_H

#include <stddef.h>

#define DATADIR_LOCK_FILE "notifyd.lock"

/**
 * Creates @dir (0700) if missing and locks it. Returns the lock's descriptor
 * (keep it open; datadir_unlock() lets go), or -errno with a one-line reason
 * in @err: -EBUSY when another process holds it, naming its pid.
 */
int datadir_lock(const char *dir, char *err, size_t errlen);

/** Lets go of the lock taken by datadir_lock(); @fd < 0: no-op. */
void datadir_unlock(int fd);

#endif
