#include "wakefd.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "control.h"
#include "syscalls.h"

int wakefd_open(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) control_fatal("eventfd: %s", strerror(errno));
    return fd;
}

void wakefd_signal(void *arg) {
    uint64_t one = 1;
    /* EAGAIN only when the counter is about to overflow: a wake-up is pending anyway. */
    while (write(*(const int *)arg, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void wakefd_drain(int fd) {
    uint64_t n;
    sc_note(SC_OTHER, read(fd, &n, sizeof n));
}

hub *wakefd_hub(unsigned workers, session_stats *stats, int *wake_fd) {
    *wake_fd = workers ? wakefd_open() : -1;
    hub *h = hub_new(&(hub_opts){.workers = workers, .wake = wakefd_signal, .wake_arg = wake_fd}, stats);
    if (!h) control_fatal("cannot start %u hand-off workers: %s", workers, strerror(errno));
    return h;
}
