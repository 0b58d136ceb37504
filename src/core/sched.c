/*
 * sched.c - CPU priority of the server's own threads (see sched.h).
 */
#include "core/sched.h"

#include "core/log.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void sched_background_thread(void)
{
    /* On Linux, a nice value belongs to the thread named by its id. */
    id_t tid = (id_t)gettid();
    errno = 0;
    int now = getpriority(PRIO_PROCESS, tid);
    if (now == -1 && errno != 0)
        return;
    if (setpriority(PRIO_PROCESS, tid, now + SCHED_BACKGROUND_NICE) != 0)
        log_warn("sched background thread msg=\"%s\"", strerror(errno));
}
