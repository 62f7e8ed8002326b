/* datadir: the data directory's lock. flock rather than a pid file: a
 * holder that dies leaves nothing stale behind, and the pid written into
 * the file only names the holder for the message of the one refused. */
#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* the holder's pid as its file says, or 0 (not written yet, unreadable) */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    long pid = strtol(buf, NULL, 10);
    return pid > 0 ? pid : 0;
}

int datadir_lock(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX + 32], abs[PATH_MAX];
    int rc;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(err, errlen, "cannot create data dir %s: %s", dir, strerror(errno));
        return rc;
    }
    if (!realpath(dir, abs))
        snprintf(abs, sizeof abs, "%s", dir);
    snprintf(path, sizeof path, "%s/" DATADIR_LOCK_FILE, abs);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        if (rc == -EBUSY) {
            long pid = holder_pid(fd);
            char who[48] = "another process";
            if (pid)
                snprintf(who, sizeof who, "notifyd pid %ld", pid);
            snprintf(err, errlen,
                     "data dir %s is in use by %s (lock %s): one notifyd per data dir -- stop "
                     "it, or give this one its own --data-dir",
                     abs, who, path);
        } else {
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(-rc));
        }
        close(fd);
        return rc;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        rc = -errno;
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    return fd;
}

void datadir_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* the file stays: removing it would race with the next holder */
}
