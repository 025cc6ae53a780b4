/* asio (epoll build) only: asio's sends, counted before they reach the peer.
 *
 * net/interpose.c counts a sendmsg after the syscall returns. With several
 * loop threads, the thread that sent a connection's last reply can lose its
 * CPU between the kernel delivering the bytes and that count (the woken load
 * generator shares its CPU): the client has its reply, reports, and the
 * snapshot taken right after still lacks those bytes; they appear a moment
 * later. The harness compares bytes written with bytes received in that
 * snapshot, so a cell failed now and then (one reply short, seen with
 * --threads 2 when a loop thread shared a CPU with the load generator; a
 * second snapshot 50 ms later always had them).
 *
 * The link (build.mk: -Wl,--wrap=sendmsg,--wrap=send) sends asio's calls
 * here instead: the call and the bytes it asks for are counted first, the
 * syscall is made directly (so interpose.c does not count it again), and the
 * count is corrected by its result: fewer bytes, or none with EAGAIN or an
 * error. Each call is still counted once, as the strace test checks. */
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../net/counters.h"

ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags);

static ssize_t counted_send(sc_kind kind, size_t asked, long ret) {
    int err = errno;
    if (g_counting && tl_counters) {
        sc_counter *c = &tl_counters->sc[kind];
        if (ret < 0) {
            ctr_add(&c->bytes, -(uint64_t)asked);
            ctr_add(err == EAGAIN || err == EWOULDBLOCK ? &c->eagain : &c->errors, 1);
        } else if ((size_t)ret < asked) {
            ctr_add(&c->bytes, -(uint64_t)(asked - (size_t)ret));
        }
    }
    errno = err;
    return ret;
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags) {
    size_t asked = 0;
    for (size_t i = 0; i < (size_t)m->msg_iovlen; i++) asked += m->msg_iov[i].iov_len;
    if (g_counting) ctr_syscall(SC_WRITEV, (long)asked, 0);
    return counted_send(SC_WRITEV, asked, syscall(SYS_sendmsg, fd, m, flags));
}

ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags) {
    if (g_counting) ctr_syscall(SC_WRITE, (long)n, 0);
    return counted_send(SC_WRITE, n, syscall(SYS_sendto, fd, buf, n, flags, NULL, 0));
}
