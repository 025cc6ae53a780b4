/* The wake-up most readiness loops use for hand-off replies: an eventfd the
 * loop watches like a socket. A worker writes to it (hub_wake_fn); the loop
 * reads it to re-arm it, then collects replies with hub_next(). */
#ifndef MUXBENCH_WAKEFD_H
#define MUXBENCH_WAKEFD_H

#include "../core/hub.h"

/* Non-blocking, close-on-exec eventfd; a failure is fatal (control_fatal). */
int wakefd_open(void);

/* hub_wake_fn for hub_opts: arg points to the int fd. Runs on a worker
 * thread, so the write is not counted with the loop's syscalls (the hub
 * counts wake-ups instead). */
void wakefd_signal(void *arg);

/* Loop thread: consumes pending wake-ups (one counted read). */
void wakefd_drain(int fd);

/* The hub of a loop that wakes through an eventfd: with workers, *wake_fd is
 * a new eventfd (for the loop to watch) that the workers signal; without,
 * it is -1. *wake_fd must stay where it is (workers read it). Failure is
 * fatal (control_fatal). */
hub *wakefd_hub(unsigned workers, session_stats *stats, int *wake_fd);

#endif
