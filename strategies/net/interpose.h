/* Counting for strategies built on an event library (libuv, libevent, libev):
 * the library makes syscalls, not the strategy, so the wrappers of
 * syscalls.h cannot be used for those. Linking the interposer into the
 * strategy's program defines read, write, writev, accept4, close,
 * epoll_wait, ... in the executable itself; the dynamic linker then binds the
 * library's calls to these definitions (ELF symbol interposition, as
 * LD_PRELOAD does), which count the call and make the real syscall. glibc's
 * own internal calls (stdio of the control thread) do not go through these
 * symbols and are not counted, exactly as with the wrappers.
 *
 * Two objects (Makefile):
 *   interpose_poll.o  epoll_ctl, epoll_wait/epoll_pwait (a wakeup when it
 *                     returns events) and the library's wake-up eventfd;
 *   interpose.o       the I/O calls: read, readv, recv, write, writev,
 *                     sendmsg, accept4, close, ioctl.
 * A library that does the socket I/O itself (libuv, libevent) links both
 * ($(INTERPOSE_OBJ)). A library that only multiplexes (libev), with the
 * strategy doing its I/O through the sc_* wrappers (net/stream_io.h), links
 * interpose_poll.o alone ($(INTERPOSE_POLL_OBJ)): linking interpose.o too
 * would count the strategy's own reads twice. Strategies include nothing:
 * linking is enough (the declarations below are the two objects' own).
 *
 * Two things interposition cannot see, which the strategy handles itself:
 * a library that makes a call through syscall(2) directly (libuv closes
 * descriptors with syscall(SYS_close)): count it with sc_note right after
 * the library call that makes it; and the library's start-up calls (its
 * internal eventfd or pipe, registering the listener): keep them out of the
 * counters (g_counting = 0 while setting up), as the other strategies do. */
#ifndef MUXBENCH_INTERPOSE_H
#define MUXBENCH_INTERPOSE_H

#include <stdbool.h>

#include "counters.h"

/* Counts one call of kind (if counting is on and the thread has a block). */
long interpose_counted(sc_kind kind, long ret);
/* Whether fd is the library's wake-up eventfd; close forgets it. */
bool interpose_is_wake_fd(int fd);
void interpose_forget_fd(int fd);

#endif
