/* Shared by the two libevent strategies (one program, muxbench-libevent):
 *   libevent  bufferevents over the sans-I/O session (bev.c), peer and http;
 *   evhttp    libevent's own HTTP server, as a node configures it (evhttp.c).
 *
 * libevent makes the data-path syscalls itself, so nothing here uses the
 * sc_* wrappers of net/syscalls.h: the program links net/interpose.o, which
 * counts libevent's read/readv/writev/accept4/close/epoll_* calls (and the
 * wakeups of epoll_wait) by ELF interposition. Wrapping a call again here
 * would count it twice. What interposition cannot know — that a socket is a
 * connection — is counted here (accepted/closed). */
#ifndef MUXBENCH_LEV_H
#define MUXBENCH_LEV_H

#include <stdbool.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "../core/session.h"
#include "../net/control.h"

/* The event base, checked to use epoll: interposition counts epoll_wait and
 * epoll_ctl, so another backend (EVENT_NOEPOLL=1) would go uncounted. */
struct event_base *lev_base_new(void);

/* A connection was accepted: count it and, on TCP, set TCP_NODELAY as every
 * other strategy does (replies are written whole; Nagle would only delay them). */
void lev_accepted(int fd, bool tcp);
void lev_closed(void);
void lev_set_nodelay(int fd);

/* Makes a listener survive running out of descriptors: libevent's listener
 * is level-triggered, so an accept that keeps failing with EMFILE would spin.
 * The error callback gives up a reserved descriptor to accept-and-close one
 * pending connection (what libuv and net/stream_io do). */
void lev_listener_guard(struct evconnlistener *lis, const char *strategy);

/* Register the two servers on base (main then announces and runs the loop).
 * Both take ownership of listen_fd. handoff: worker threads that build the
 * replies (--handoff N; libevent must then have been set up for threads with
 * evthread_use_pthreads before the base was created). */
void bev_setup(struct event_base *base, int listen_fd, bool tcp, const session_opts *opts,
               session_stats *stats, unsigned handoff);
void evhttp_setup(struct event_base *base, int listen_fd, bool tcp, session_stats *stats,
                  unsigned handoff);

#endif
