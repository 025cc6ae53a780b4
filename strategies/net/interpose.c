/* See interpose.h: the I/O half of the interposer. Each definition makes the
 * raw syscall (not the libc function it replaces, which would be itself) and
 * counts it. Linked, with interpose_poll.o, only into programs of strategies
 * whose event library makes the socket I/O (libuv, libevent). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "counters.h"
#include "interpose.h"

/* A read or write of the library's wake-up eventfd is counted as "other". */
static sc_kind io_kind(int fd, sc_kind k) { return interpose_is_wake_fd(fd) ? SC_OTHER : k; }
#define counted interpose_counted

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
    interpose_forget_fd(fd);
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
