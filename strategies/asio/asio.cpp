/* asio strategies: the server as asio's users write one (Beast's examples,
 * and nodes built on asio): an acceptor with async_accept, one connection
 * object per socket owned by shared_ptr, a read loop of async_read_some, and
 * one asio::async_write chain in flight per connection, on the shared
 * sans-I/O core (session.h, hub.h through shim.h).
 *
 * This file compiles twice (build.mk):
 *   - muxbench-asio: asio's default backend on Linux, the epoll reactor.
 *     Asio makes the syscalls itself (recv, sendmsg, accept, epoll_wait,
 *     epoll_ctl, ioctl, close); net/interpose.c, linked in, counts them.
 *   - muxbench-asio-io_uring (MUXBENCH_ASIO_URING; ASIO_HAS_IO_URING with
 *     ASIO_DISABLE_EPOLL makes io_uring asio's default backend, so sockets
 *     go through it): accept, recvmsg and sendmsg are io_uring operations
 *     the kernel performs, counted here per completion as async recv/send
 *     with their bytes; the io_uring_enter calls asio makes through liburing
 *     are counted by uring.c.
 *
 * Threads (--threads N): one io_context run by N threads, the asio model
 * (no SO_REUSEPORT: the one acceptor hands connections to whichever thread
 * runs the completion). With N > 1 every connection's handlers run in a
 * strand (asio::make_strand), the statistics block is shared
 * (session_stats_shared) and there is no hub: relay and hand-off are for one
 * thread (the harness runs those cells with one). With N = 1 the thread is
 * the implicit strand of asio's documentation, and no strand is made.
 *
 * Output from outside a connection's own handlers (a relayed inv, a hand-off
 * worker's reply) is collected with hub_next() at the end of every read and
 * write handler, and when a worker's asio::post (the hub's wake-up, safe
 * from any thread) runs on the loop. */
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include <asio.hpp>

#include "shim.h"

#ifdef MUXBENCH_ASIO_URING
#define STRATEGY_NAME "asio-io_uring"
#else
#define STRATEGY_NAME "asio"
#endif

namespace {

/* As large as the other strategies' read buffer. Each connection owns one:
 * the read is in progress (in the kernel, with io_uring) while the loop
 * serves other sockets. Pages are touched only as bytes arrive. */
constexpr std::size_t READ_BUF = 64 * 1024;
/* iovecs per write, as the other strategies' writev. */
constexpr std::size_t MAX_IOV = 64;

struct server_state {
    asio::io_context *ioc = nullptr;
    hub *h = nullptr;     /* NULL with several threads */
    bool strands = false; /* a strand per connection (several threads) */
} g;

/* A buffer sequence over the connection's own array: no allocation per write. */
struct buffer_range {
    const asio::const_buffer *first, *last;
    const asio::const_buffer *begin() const { return first; }
    const asio::const_buffer *end() const { return last; }
};

#ifdef MUXBENCH_ASIO_URING
/* An io_uring result as the kernel gave it: bytes (0 at EOF) or -errno. */
long uring_result(const asio::error_code &ec, std::size_t n) {
    if (!ec) return (long)n;
    if (ec == asio::error::eof) return 0;
    return ec.category() == asio::system_category() ? -(long)ec.value() : -EIO;
}

/* One receive the kernel performed (a RECVMSG completion). A cancelled
 * request (closing) moved nothing and is not counted. */
void count_recv(const asio::error_code &ec, std::size_t n) {
    if (ec == asio::error::operation_aborted) return;
    mx_count_event();
    mx_count_recv(uring_result(ec, n));
}

/* asio::async_write runs a chain of async_write_some, each one SENDMSG on
 * the ring (at most 64 KiB: asio's transfer_all). Each is counted when
 * issued (shim.c says why) and corrected by this handler when it completes;
 * the chain's executor, allocator and continuation hint are forwarded. */
template <class Handler>
struct send_counter {
    Handler h;
    std::size_t asked;
    void operator()(const asio::error_code &ec, std::size_t n) {
        bool cancelled = ec == asio::error::operation_aborted;
        if (!cancelled) mx_count_event();
        mx_count_send_done(asked, uring_result(ec, n), cancelled);
        std::move(h)(ec, n);
    }
    friend bool asio_handler_is_continuation(send_counter *p) {
        return asio_handler_cont_helpers::is_continuation(p->h);
    }
};

/* What asio::async_write writes to: the socket, with counted sends. */
template <class Socket>
struct counted_stream {
    Socket &sock;
    using executor_type = typename Socket::executor_type;
    executor_type get_executor() { return sock.get_executor(); }
    template <class Buffers, class Handler>
    void async_write_some(const Buffers &b, Handler &&h) {
        std::size_t asked = asio::buffer_size(b);
        mx_count_send_issued(asked);
        sock.async_write_some(b, send_counter<std::decay_t<Handler>>{std::forward<Handler>(h), asked});
    }
};

} // namespace

namespace asio {
template <class H, class E>
struct associated_executor<send_counter<H>, E> {
    typedef typename associated_executor<H, E>::type type;
    static type get(const send_counter<H> &c, const E &ex = E()) noexcept { return associated_executor<H, E>::get(c.h, ex); }
};
template <class H, class A>
struct associated_allocator<send_counter<H>, A> {
    typedef typename associated_allocator<H, A>::type type;
    static type get(const send_counter<H> &c, const A &a = A()) noexcept { return associated_allocator<H, A>::get(c.h, a); }
};
} // namespace asio

namespace {
#endif

/* What hub_next() hands back: any connection, TCP or unix. */
class conn_base {
public:
    virtual ~conn_base() = default;
    virtual void settle() = 0;
};

void serve_hub() {
    if (!g.h) return;
    while (session *s = hub_next(g.h)) static_cast<conn_base *>(session_owner(s))->settle();
}

template <class Protocol>
class connection final : public conn_base, public std::enable_shared_from_this<connection<Protocol>> {
public:
    using socket_type = typename Protocol::socket;

    explicit connection(socket_type sock) : sock_(std::move(sock)), buf_(new char[READ_BUF]) {}
    ~connection() override {
        if (s_) session_free(s_);
    }

    void start() {
        s_ = mx_session_new();
        if (!s_) {
            close();
            return;
        }
        session_set_owner(s_, static_cast<conn_base *>(this));
        settle();
    }

    /* Common tail of every handler (and of the hub's list): write what the
     * protocol produced, close when it is done, read while it wants input
     * (backpressure: no read is started while it does not). */
    void settle() override {
        if (closed_) return;
        if (!writing_ && session_output_pending(s_)) start_write();
        if (!writing_ && session_should_close(s_)) {
            close();
            return;
        }
        if (!reading_ && !eof_ && session_wants_input(s_)) start_read();
        /* A connection lives through the handlers of its operations. With
         * none in flight (a hand-off job still building the reply after EOF,
         * or input held back behind it) it holds itself until the hub hands
         * it output, or its reply would be dropped with it. */
        if (reading_ || writing_) idle_hold_.reset();
        else idle_hold_ = this->shared_from_this();
    }

private:
    void start_read() {
        reading_ = true;
        sock_.async_read_some(asio::buffer(buf_.get(), READ_BUF),
                              [self = this->shared_from_this()](const asio::error_code &ec, std::size_t n) {
                                  self->on_read(ec, n);
                              });
    }

    void on_read(const asio::error_code &ec, std::size_t n) {
        reading_ = false;
#ifdef MUXBENCH_ASIO_URING
        count_recv(ec, n);
#endif
        if (closed_) return;
        if (!ec) {
            session_input(s_, reinterpret_cast<const uint8_t *>(buf_.get()), n);
        } else if (ec == asio::error::eof) {
            eof_ = true; /* finish the replies, then close */
            session_peer_closed(s_);
        } else {
            close(); /* ECONNRESET and the like: the peer is gone */
            return;
        }
        settle();
        serve_hub();
    }

    /* Hands asio the oldest pending output. The iovecs point into the
     * session's output queue, which keeps those bytes in place until
     * session_output_done(), even while later input queues more. */
    void start_write() {
        struct iovec iov[MAX_IOV];
        std::size_t n = session_output_iov(s_, iov, MAX_IOV), total = 0;
        for (std::size_t i = 0; i < n; i++) {
            wbufs_[i] = asio::const_buffer(iov[i].iov_base, iov[i].iov_len);
            total += iov[i].iov_len;
        }
        writing_ = true;
        in_flight_ = total;
        auto done = [self = this->shared_from_this()](const asio::error_code &ec, std::size_t) { self->on_write(ec); };
#ifdef MUXBENCH_ASIO_URING
        asio::async_write(out_, buffer_range{wbufs_, wbufs_ + n}, std::move(done));
#else
        asio::async_write(sock_, buffer_range{wbufs_, wbufs_ + n}, std::move(done));
#endif
    }

    /* async_write completes when every byte is written, or on error. */
    void on_write(const asio::error_code &ec) {
        writing_ = false;
        if (closed_) return;
        if (ec) {
            close(); /* EPIPE, ECONNRESET */
            return;
        }
        session_output_done(s_, in_flight_);
        in_flight_ = 0;
        settle(); /* writes what is left; reads again if the output has drained */
        serve_hub();
    }

    /* Idempotent. Closing cancels the operations in flight; their handlers
     * (operation_aborted) hold the last references, so the session and the
     * buffers the kernel may still use live until they have run. */
    void close() {
        if (closed_) return;
        /* Released when close() returns: the caller returns at once. */
        auto last = std::move(idle_hold_);
        closed_ = true;
        asio::error_code ignored;
        sock_.close(ignored);
        mx_count_closed();
    }

    socket_type sock_;
#ifdef MUXBENCH_ASIO_URING
    counted_stream<socket_type> out_{sock_};
#endif
    std::unique_ptr<char[]> buf_;
    asio::const_buffer wbufs_[MAX_IOV];
    session *s_ = nullptr;
    std::size_t in_flight_ = 0;
    bool reading_ = false, writing_ = false, eof_ = false, closed_ = false;
    /* Set while no operation is in flight (settle() says why). */
    std::shared_ptr<connection> idle_hold_;
};

/* The executor of a new connection: its own strand with several threads. */
asio::any_io_executor conn_executor() {
    if (g.strands) return asio::make_strand(*g.ioc);
    return g.ioc->get_executor();
}

template <class Protocol>
class listener {
public:
    listener(asio::io_context &ioc, const Protocol &proto, int fd, bool tcp) : acc_(ioc), tcp_(tcp) {
        acc_.assign(proto, fd);
    }

    void accept() {
        acc_.async_accept(conn_executor(), [this](const asio::error_code &ec, typename Protocol::socket sock) {
#ifdef MUXBENCH_ASIO_URING
            if (ec != asio::error::operation_aborted) mx_count_event(); /* an ACCEPT completion */
#endif
            if (!ec) {
                mx_count_accepted();
                /* Replies are small and latency-bound: no Nagle delay, as every strategy. */
                if (tcp_) {
                    asio::error_code ignored;
                    sock.set_option(asio::ip::tcp::no_delay(true), ignored);
                }
                std::make_shared<connection<Protocol>>(std::move(sock))->start();
            } else if (ec != asio::error::operation_aborted) {
                std::fprintf(stderr, "%s: accept: %s\n", STRATEGY_NAME, ec.message().c_str());
            }
            accept();
        });
    }

private:
    typename Protocol::acceptor acc_;
    bool tcp_;
};

/* hub_wake_fn: runs on a hand-off worker. asio::post is safe from any
 * thread; it wakes the loop (epoll: an EPOLL_CTL_MOD re-arming asio's
 * eventfd; io_uring: a NOP submitted to the ring) unless it is awake. */
void wake_loop(void *) {
    asio::post(*g.ioc, [] { serve_hub(); });
}

#ifdef MUXBENCH_ASIO_URING
[[noreturn]] void probe() {
    char why[256];
    bool ok = mx_uring_probe(why, sizeof why);
    /* The reasons contain no quotes or backslashes: safe as JSON. */
    std::printf("{\"event\":\"probe\",\"available\":%s,\"reason\":\"%s\"}\n", ok ? "true" : "false", why);
    std::exit(0);
}
#endif

int serve(int argc, char **argv) {
    mx_parse(argc, argv, STRATEGY_NAME);
    unsigned threads = mx_threads();
    if (threads > 1 && mx_handoff() > 0)
        control_fatal("--handoff %u with --threads %u: the hub (relay, hand-off workers) serves one loop thread; "
                      "run hand-off with --threads 1",
                      mx_handoff(), threads);
    if (threads > 1) mx_stats_shared();
    int family;
    int fd = mx_listen(&family);

    /* Setting asio up makes syscalls through the interposed symbols and the
     * ring: epoll_create1, its eventfd and timerfd and their registration,
     * the listener's registration, FIONBIO and a first accept attempt
     * (epoll); the ring, its first submission (io_uring). Set-up, not data
     * path: counting is paused until one poll() has run it, before the
     * address is announced, so no connection can be waiting yet. */
    int counting = g_counting;
    g_counting = 0;
    /* The concurrency hint is the number of threads, as Beast's examples
     * give it (1 lets asio skip waking other threads). */
    static asio::io_context ioc((int)threads);
    g.ioc = &ioc;
    g.strands = threads > 1;
    if (threads == 1) g.h = mx_hub_start(wake_loop, nullptr);
    static std::unique_ptr<listener<asio::ip::tcp>> tcp_listener;
    static std::unique_ptr<listener<asio::local::stream_protocol>> unix_listener;
    if (family == AF_UNIX) {
        unix_listener.reset(new listener<asio::local::stream_protocol>(ioc, asio::local::stream_protocol(), fd, false));
        unix_listener->accept();
    } else {
        tcp_listener.reset(new listener<asio::ip::tcp>(ioc, family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd, true));
        tcp_listener->accept();
    }
    ioc.poll();
    g_counting = counting;

    /* Every thread that runs the io_context is a loop thread with its own
     * counters; the listening event is sent once they have all registered. */
    std::mutex lock;
    std::condition_variable cond;
    unsigned ready = 0;
    control_add_loop_thread();
    for (unsigned i = 1; i < threads; i++) {
        std::thread([&] {
            {
                /* Counter blocks and thread ids in one order (as net/loops.c). */
                std::lock_guard<std::mutex> l(lock);
                counters_thread_attach();
                control_add_loop_thread();
                ready++;
            }
            cond.notify_one();
            ioc.run();
            control_fatal("io_context::run returned");
        }).detach();
    }
    {
        std::unique_lock<std::mutex> l(lock);
        cond.wait(l, [&] { return ready == threads - 1; });
    }
    static char model[96];
    if (threads == 1) std::snprintf(model, sizeof model, "one io_context, one thread");
    else std::snprintf(model, sizeof model, "one io_context run by %u threads, a strand per connection", threads);
    control_set_threading(model);
    mx_start();
    /* Runs as long as the acceptor waits: forever. */
    ioc.run();
    control_fatal("io_context::run returned");
}

} // namespace

int main(int argc, char **argv) {
    /* The harness appends --probe after the variant's args: look everywhere. */
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--probe") == 0) {
#ifdef MUXBENCH_ASIO_URING
            probe();
#else
            std::printf("{\"event\":\"probe\",\"available\":true,\"reason\":\"asio's epoll reactor\"}\n");
            return 0;
#endif
        }
    }
    try {
        serve(argc, argv);
    } catch (const std::exception &e) {
        control_fatal("asio: %s", e.what());
    }
}
