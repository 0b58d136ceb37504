/*
 * sched.h - CPU priority of the server's own threads.
 */
#ifndef OTKLIK_SCHED_H
#define OTKLIK_SCHED_H

/* Background work (the checkpoint's copy, the rollups) gives way to answering
 * requests and writing: the calling thread's nice value goes up by
 * SCHED_BACKGROUND_NICE.  When the CPUs are idle it runs as fast as before;
 * when they are busy it gets about a quarter of the share of a request's
 * thread.  A failure is only logged. */
#define SCHED_BACKGROUND_NICE 5
void sched_background_thread(void);

#endif
