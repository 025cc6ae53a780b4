/* muxbench-libevent: the libevent strategies (see lev.h). Without flags it
 * runs bufferevents over the shared session (variant "libevent"); with
 * --evhttp it runs libevent's HTTP server (variant "evhttp"). With
 * --handoff N, worker threads build the replies and wake the loop with
 * event_active, so libevent runs with its pthread locks (and the base gets
 * its notification eventfd); without, libevent runs unlocked. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>
#include <event2/util.h>

#include "../net/counters.h"
#include "lev.h"

struct event_base *lev_base_new(void) {
    /* Defaults, as an application gets them: on Linux that is epoll,
     * level-triggered, without the changelist (each enable/disable of a
     * bufferevent direction is its own epoll_ctl). */
    struct event_base *base = event_base_new();
    if (!base) control_fatal("event_base_new failed");
    const char *method = event_base_get_method(base);
    if (strcmp(method, "epoll") != 0)
        control_fatal("libevent chose the %s backend; only epoll's calls are counted", method);
    fprintf(stderr, "libevent %s, backend %s\n", event_get_version(), method);
    return base;
}

void lev_set_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void lev_accepted(int fd, bool tcp) {
    CTR_ADD(accepted, 1);
    if (tcp) lev_set_nodelay(fd);
}

void lev_closed(void) { CTR_ADD(closed, 1); }

/* Opened at start-up, while descriptors are plentiful. */
static int reserve_fd = -1;
static const char *guard_name = "libevent";

static void on_accept_error(struct evconnlistener *lis, void *arg) {
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    if ((err == EMFILE || err == ENFILE) && reserve_fd >= 0) {
        /* accept4 and close here are the interposed (counted) ones. */
        close(reserve_fd);
        int fd = accept4(evconnlistener_get_fd(lis), NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) close(fd);
        reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        fprintf(stderr, "%s: out of file descriptors: shed one connection\n", guard_name);
        return;
    }
    fprintf(stderr, "%s: accept: %s\n", guard_name, evutil_socket_error_to_string(err));
}

void lev_listener_guard(struct evconnlistener *lis, const char *strategy) {
    guard_name = strategy;
    if (reserve_fd < 0) reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    evconnlistener_set_error_cb(lis, on_accept_error);
}

int main(int argc, char **argv) {
    /* --evhttp is this program's own flag; the common parser sees the rest. */
    bool evhttp = false;
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--evhttp")) evhttp = true;
        else argv[n++] = argv[i];
    }
    argv[n] = NULL;

    server_args args;
    server_args_parse(n, argv, evhttp ? "evhttp" : "libevent", &args);
    if (evhttp && args.proto != PROTO_HTTP) control_fatal("evhttp serves only --protocol http");
    static session_stats stats;
    endpoint bound;
    int listen_fd = server_listen(&args, &bound);
    bool tcp = bound.family != AF_UNIX;
    /* Start-up calls (epoll_create1, the listener's epoll_ctl) are not data
     * path: the other strategies make them uncounted, so pause counting. */
    int counting = g_counting;
    g_counting = 0;
    /* Hand-off workers make events active from their threads: libevent
     * needs its locks for that, and a base created afterwards gets a
     * notification eventfd to wake its loop. Without workers nothing else
     * touches the base, so it runs unlocked, as by default. */
    if (args.handoff && evthread_use_pthreads() != 0) control_fatal("evthread_use_pthreads failed");
    struct event_base *base = lev_base_new();
    if (evhttp) {
        evhttp_setup(base, listen_fd, tcp, &stats, args.handoff);
    } else {
        session_opts opts = {.proto = args.proto, .verify_checksum = args.verify_checksum};
        bev_setup(base, listen_fd, tcp, &opts, &stats, args.handoff);
    }
    g_counting = counting;
    control_start(&args, &bound, &stats);
    /* Runs until the process is told to exit (the control thread ends it). */
    int rc = event_base_dispatch(base);
    control_fatal("event loop ended (%d)", rc);
}
