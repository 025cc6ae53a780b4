/* See interpose.h: the multiplexing half of the interposer. epoll_ctl,
 * epoll_wait/epoll_pwait and the library's wake-up eventfd, defined in the
 * executable so the library's calls bind to these counting versions. Every
 * program that links interpose.o links this too; a program whose library
 * makes only these calls, and which does its own socket I/O through the sc_*
 * wrappers (libev), links this alone. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "counters.h"
#include "interpose.h"

/* Only loop threads count (ctr_syscall ignores threads without a counters
 * block): calls made on other threads (a hand-off worker's wake-up write
 * inside uv_async_send, event_active or ev_async_send, libuv's thread pool)
 * are not counted; the hub counts wake-ups instead. */
long interpose_counted(sc_kind kind, long ret) {
    if (g_counting) ctr_syscall(kind, ret, ret < 0 ? errno : 0);
    return ret;
}

/* The library's wake-up eventfd (libuv's async handle, libevent's base
 * notification, libev's ev_async pipe): reading it is a wake-up, not data,
 * so it is counted as "other", as net/wakefd.c counts an eventfd drain. The
 * libraries create it with eventfd() at start-up and keep it. */
#define WAKE_FDS 1024
/* Several loop threads (libuv with --threads) create and test their own
 * descriptors here: relaxed atomics, each entry a plain load or store. */
static _Atomic bool wake_fd[WAKE_FDS];
int eventfd(unsigned int initval, int flags) {
    int fd = (int)syscall(SYS_eventfd2, initval, flags);
    if (fd >= 0 && fd < WAKE_FDS) atomic_store_explicit(&wake_fd[fd], true, memory_order_relaxed);
    return fd;
}
bool interpose_is_wake_fd(int fd) {
    return fd >= 0 && fd < WAKE_FDS && atomic_load_explicit(&wake_fd[fd], memory_order_relaxed);
}
void interpose_forget_fd(int fd) {
    if (fd >= 0 && fd < WAKE_FDS) atomic_store_explicit(&wake_fd[fd], false, memory_order_relaxed);
}

/* Without interpose.o, the program's own reads and writes are counted by the
 * sc_* wrappers, and these weak definitions count only the library's
 * reads and writes of its wake-up eventfd (each other call passes through
 * uncounted: counting it here too would count it twice). interpose.o's
 * strong definitions, which count every call, replace them when linked. */
__attribute__((weak)) ssize_t read(int fd, void *buf, size_t n) {
    long r = syscall(SYS_read, fd, buf, n);
    return interpose_is_wake_fd(fd) ? interpose_counted(SC_OTHER, r) : r;
}
__attribute__((weak)) ssize_t write(int fd, const void *buf, size_t n) {
    long r = syscall(SYS_write, fd, buf, n);
    return interpose_is_wake_fd(fd) ? interpose_counted(SC_OTHER, r) : r;
}

int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev) {
    return (int)interpose_counted(SC_EPOLL_CTL, syscall(SYS_epoll_ctl, ep, op, fd, ev));
}

/* The library's multiplexing call counts as a wakeup when it returns events. */
static int waited(long n) {
    n = interpose_counted(SC_EPOLL_WAIT, n);
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
