/* Counting wrappers: the only way strategies make data-path syscalls, so the
 * counts reported per operation are complete for the strategy's own calls. */
#ifndef MUXBENCH_SYSCALLS_H
#define MUXBENCH_SYSCALLS_H

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "counters.h"

/* Counts one call; errno is read before anything else can change it. */
static inline long sc_note(sc_kind kind, long ret) {
    if (g_counting) ctr_syscall(kind, ret, ret < 0 ? errno : 0);
    return ret;
}

static inline ssize_t sc_read(int fd, void *buf, size_t n) { return sc_note(SC_READ, read(fd, buf, n)); }
static inline ssize_t sc_recv(int fd, void *buf, size_t n, int flags) { return sc_note(SC_READ, recv(fd, buf, n, flags)); }
static inline ssize_t sc_write(int fd, const void *buf, size_t n) { return sc_note(SC_WRITE, write(fd, buf, n)); }
static inline ssize_t sc_send(int fd, const void *buf, size_t n, int flags) { return sc_note(SC_WRITE, send(fd, buf, n, flags)); }
static inline ssize_t sc_writev(int fd, const struct iovec *iov, int n) { return sc_note(SC_WRITEV, writev(fd, iov, n)); }
static inline int sc_accept4(int fd, int flags) { return (int)sc_note(SC_ACCEPT, accept4(fd, NULL, NULL, flags)); }
static inline int sc_close(int fd) { return (int)sc_note(SC_CLOSE, close(fd)); }
static inline int sc_epoll_wait(int ep, struct epoll_event *ev, int max, int timeout) {
    return (int)sc_note(SC_EPOLL_WAIT, epoll_wait(ep, ev, max, timeout));
}
static inline int sc_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev) {
    return (int)sc_note(SC_EPOLL_CTL, epoll_ctl(ep, op, fd, ev));
}

static inline int sc_select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *t) {
    return (int)sc_note(SC_SELECT, select(nfds, r, w, e, t));
}
static inline int sc_poll(struct pollfd *fds, nfds_t n, int timeout) {
    return (int)sc_note(SC_POLL, poll(fds, n, timeout));
}
/* Calls made through a library (e.g. liburing's io_uring_enter) are counted
 * by passing their result to sc_note(kind, ret) right after the call. */

/* Loop bookkeeping: one wakeup per return of the multiplexing call, and the
 * number of events (ready fds, completions) it delivered. */
static inline void sc_wakeup(unsigned nevents) {
    if (!g_counting) return;
    CTR_ADD(wakeups, 1);
    CTR_ADD(events, nevents);
}

#endif
