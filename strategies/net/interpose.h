/* Counting for strategies built on an event library (libuv, libevent): the
 * library makes the syscalls, not the strategy, so the wrappers of
 * syscalls.h cannot be used. Linking interpose.o into the strategy's program
 * defines read, write, writev, accept4, close, epoll_wait, ... in the
 * executable itself; the dynamic linker then binds the library's calls to
 * these definitions (ELF symbol interposition, as LD_PRELOAD does), which
 * count the call and make the real syscall. glibc's own internal calls (stdio
 * of the control thread) do not go through these symbols and are not
 * counted, exactly as with the wrappers.
 *
 * The library's multiplexing call counts as a wakeup when it returns events
 * (epoll_wait/epoll_pwait: n events). Include nothing: linking is enough.
 *
 * Two things interposition cannot see, which the strategy handles itself:
 * a library that makes a call through syscall(2) directly (libuv closes
 * descriptors with syscall(SYS_close)): count it with sc_note right after
 * the library call that makes it; and the library's start-up calls (its
 * internal eventfd or pipe, registering the listener): keep them out of the
 * counters (g_counting = 0 while setting up), as the other strategies do. */
#ifndef MUXBENCH_INTERPOSE_H
#define MUXBENCH_INTERPOSE_H
#endif
