/* See interpose.h. Each definition makes the raw syscall (not the libc
 * function it replaces, which would be itself) and counts it. Only linked
 * into programs of strategies that run an event library. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "counters.h"

/* Only loop threads count (ctr_syscall ignores threads without a counters
 * block): calls made on other threads (a hand-off worker's wake-up write
 * inside uv_async_send or event_active, libuv's thread pool) are not
 * counted; the hub counts wake-ups instead. */
static long counted(sc_kind kind, long ret) {
    if (g_counting) ctr_syscall(kind, ret, ret < 0 ? errno : 0);
    return ret;
}

/* The library's wake-up eventfd (libuv's async handle, libevent's base
 * notification): reading it is a wake-up, not data, so it is counted as
 * "other", as net/wakefd.c counts an eventfd drain. Both libraries create it
 * with eventfd() at start-up and keep it. */
#define WAKE_FDS 1024
static bool wake_fd[WAKE_FDS];
int eventfd(unsigned int initval, int flags) {
    int fd = (int)syscall(SYS_eventfd2, initval, flags);
    if (fd >= 0 && fd < WAKE_FDS) wake_fd[fd] = true;
    return fd;
}
static sc_kind io_kind(int fd, sc_kind k) { return fd >= 0 && fd < WAKE_FDS && wake_fd[fd] ? SC_OTHER : k; }

ssize_t read(int fd, void *buf, size_t n) { return counted(io_kind(fd, SC_READ), syscall(SYS_read, fd, buf, n)); }
ssize_t readv(int fd, const struct iovec *iov, int n) { return counted(SC_READ, syscall(SYS_readv, fd, iov, n)); }
ssize_t recv(int fd, void *buf, size_t n, int flags) {
    return counted(SC_READ, syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL));
}
ssize_t recvmsg(int fd, struct msghdr *m, int flags) { return counted(SC_READ, syscall(SYS_recvmsg, fd, m, flags)); }
ssize_t write(int fd, const void *buf, size_t n) { return counted(io_kind(fd, SC_WRITE), syscall(SYS_write, fd, buf, n)); }
ssize_t send(int fd, const void *buf, size_t n, int flags) {
    return counted(SC_WRITE, syscall(SYS_sendto, fd, buf, n, flags, NULL, 0));
}
ssize_t writev(int fd, const struct iovec *iov, int n) { return counted(SC_WRITEV, syscall(SYS_writev, fd, iov, n)); }
ssize_t sendmsg(int fd, const struct msghdr *m, int flags) {
    return counted(SC_WRITEV, syscall(SYS_sendmsg, fd, m, flags));
}
int accept4(int fd, struct sockaddr *a, socklen_t *l, int flags) {
    return (int)counted(SC_ACCEPT, syscall(SYS_accept4, fd, a, l, flags));
}
int accept(int fd, struct sockaddr *a, socklen_t *l) {
    return (int)counted(SC_ACCEPT, syscall(SYS_accept4, fd, a, l, 0));
}
int close(int fd) {
    if (fd >= 0 && fd < WAKE_FDS) wake_fd[fd] = false;
    return (int)counted(SC_CLOSE, syscall(SYS_close, fd));
}
/* libevent asks FIONREAD before every read: a real syscall per read. */
int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return (int)counted(SC_OTHER, syscall(SYS_ioctl, fd, request, arg));
}
int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev) {
    return (int)counted(SC_EPOLL_CTL, syscall(SYS_epoll_ctl, ep, op, fd, ev));
}

static int waited(long n) {
    n = counted(SC_EPOLL_WAIT, n);
    if (n > 0 && g_counting) {
        CTR_ADD(wakeups, 1);
        CTR_ADD(events, (uint64_t)n);
    }
    return (int)n;
}
int epoll_wait(int ep, struct epoll_event *ev, int max, int timeout) {
    return waited(syscall(SYS_epoll_wait, ep, ev, max, timeout));
}
int epoll_pwait(int ep, struct epoll_event *ev, int max, int timeout, const sigset_t *mask) {
    return waited(syscall(SYS_epoll_pwait, ep, ev, max, timeout, mask, mask ? _NSIG / 8 : 0));
}
