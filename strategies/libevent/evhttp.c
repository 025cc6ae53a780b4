/* evhttp strategy: libevent's own HTTP server, configured the way a node
 * configures it for JSON-RPC (a request-head limit, a body limit, only GET
 * and POST, an I/O timeout, one generic callback), serving the routes of
 * core/session_http.c with the same status codes and bodies. The parsing,
 * keep-alive and response framing are libevent's, not the shared session's:
 * this variant measures the library a node actually links.
 *
 * evhttp takes the harness's listening socket (evhttp_accept_socket_with_handle:
 * binding by address cannot express a unix socket). Its connections keep
 * libevent's defaults, as a node's do: bufferevents that write at most
 * 16 KiB per readiness event (and, in 2.1, read at most 4 KiB per readv),
 * and one request handled at a time per connection (pipelined requests wait
 * in the input buffer).
 *
 * GET /bulk streams its body with a Content-Length (so no chunked framing):
 * evhttp_send_reply_start, then evhttp_send_reply_chunk_with_cb with a batch
 * of payload pieces added by reference (zero-copy: they live in the shared
 * pattern), continuing when evhttp reports the batch written, then
 * evhttp_send_reply_end. At most BULK_BATCH bytes are queued at a time, so a
 * 1 GiB body never sits in memory.
 *
 * With --handoff N, requests are answered as Bitcoin Core's httpserver
 * answers them: the request callback copies what the reply needs (method,
 * path, query, body) into a work item for N worker threads; a worker builds
 * the answer (status, type, body — or the head of a /bulk stream) and makes
 * the item's own event active with event_active (libevent, set up with
 * evthread_use_pthreads, wakes its loop through its notification eventfd);
 * the event's callback sends the reply on the loop thread with
 * evhttp_send_reply, or starts the /bulk stream as above. evhttp reads no
 * further request on a connection until its reply is sent. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "../core/jsonrpc.h"
#include "../core/payload.h"
#include "lev.h"

/* What session_http.c answers, kept identical. */
#define CHAIN_HEIGHT 870000
#define MAX_HEADERS 8192  /* request line + headers (the session's HTTP_MAX_HEAD) */
#define MAX_BODY 65536    /* JSON-RPC body (the session's HTTP_MAX_BODY) */
#define MAX_BULK (1ull << 50)
/* A node arms the same read/write timeout (Bitcoin Core: 30 s). Its cost per
 * request — re-arming a timer on every read and write — does not depend on
 * the value; it is set above the harness's 120 s budget per repetition so
 * the idle connections of a scenario are never dropped mid-window. */
#define TIMEOUT_S 300
/* Bytes of pieces queued per chunk call. evhttp calls back only when its
 * output buffer is empty, so a batch keeps the socket busy meanwhile. */
#define BULK_BATCH (256u * 1024u)

typedef struct hconn hconn;

/* One /bulk response in progress. */
typedef struct {
    struct evhttp_request *req;
    hconn *hc;
    payload_src src;
    uint64_t next;           /* piece index */
    uint64_t left;           /* body bytes not queued yet */
    struct evbuffer *batch;  /* reused: evhttp moves its chains out */
} bulk;

/* What we know of a connection: evhttp has no per-connection user data, so
 * connections are found by descriptor (see adopt_new for how they are found
 * at all). */
struct hconn {
    struct evhttp_connection *evcon;
    int fd;
    bulk *bulk;
};

static struct {
    bool tcp;
    unsigned workers; /* --handoff: requests answered by worker threads */
    session_stats *stats;
    hconn **by_fd;
    size_t cap;
} H;

static void bulk_free(bulk *b) {
    payload_free(&b->src);
    evbuffer_free(b->batch);
    free(b);
}

/* The connection is going away with a /bulk response unfinished. */
static void bulk_abandon(bulk *b) {
    struct evhttp_request *req = b->req;
    b->hc->bulk = NULL;
    if (evhttp_request_get_connection(req) == NULL) {
        /* A failed connection leaves an unfinished request to its owner;
         * ending it frees it. */
        evhttp_send_reply_end(req);
    } else {
        /* Still attached: libevent frees it with the connection. */
        evhttp_request_set_on_complete_cb(req, NULL, NULL);
    }
    bulk_free(b);
}

static void on_close(struct evhttp_connection *evcon, void *arg) {
    hconn *hc = arg;
    evhttp_connection_set_closecb(evcon, NULL, NULL); /* once, whatever path closes it */
    lev_closed();
    if (hc->bulk) bulk_abandon(hc->bulk);
    if ((size_t)hc->fd < H.cap && H.by_fd[hc->fd] == hc) H.by_fd[hc->fd] = NULL;
    free(hc);
}

/* Starts tracking a connection: closecb (counts the close, ends a
 * /bulk response cut short) and TCP_NODELAY. Returns NULL on ENOMEM. */
static hconn *adopt(struct evhttp_connection *evcon, int fd) {
    if ((size_t)fd >= H.cap) {
        size_t ncap = H.cap ? H.cap : 1024;
        while (ncap <= (size_t)fd) ncap *= 2;
        hconn **n = realloc(H.by_fd, ncap * sizeof *n);
        if (!n) return NULL;
        memset(n + H.cap, 0, (ncap - H.cap) * sizeof *n);
        H.by_fd = n;
        H.cap = ncap;
    }
    free(H.by_fd[fd]); /* only a connection whose close went unreported leaves one */
    hconn *hc = calloc(1, sizeof *hc);
    H.by_fd[fd] = hc;
    if (!hc) return NULL;
    hc->evcon = evcon;
    hc->fd = fd;
    if (H.tcp) lev_set_nodelay(fd);
    evhttp_connection_set_closecb(evcon, on_close, hc);
    return hc;
}

/* req's connection, normally adopted at accept time (adopt_new). */
static hconn *track(struct evhttp_request *req) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (!evcon) return NULL;
    int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    if (fd < 0) return NULL;
    hconn *hc = (size_t)fd < H.cap ? H.by_fd[fd] : NULL;
    return hc && hc->evcon == evcon ? hc : adopt(evcon, fd);
}

/* evhttp shows a connection to the application only with its first request,
 * but requests that evhttp itself rejects (400, 413, 501) and clients that
 * send nothing never get that far — and their closes must be counted too.
 * evhttp asks the bevcb for each accepted socket's bufferevent just before
 * it creates the connection around it; the connection is complete once the
 * listener callback returns. So the bevcb notes the bufferevent and
 * activates adopt_new, which libevent runs right after, in the same loop
 * iteration (event_active: no timer, no syscall). evhttp makes the
 * connection its bufferevent's callback argument, which is how adopt_new
 * finds it; the bufferevent check below guards that assumption. */
static struct {
    struct event *ev;
    struct bufferevent **bevs;
    size_t n, cap;
} fresh;

static void adopt_new(evutil_socket_t unused, short what, void *arg) {
    (void)unused, (void)what, (void)arg;
    for (size_t i = 0; i < fresh.n; i++) {
        struct bufferevent *bev = fresh.bevs[i];
        void *cbarg = NULL;
        bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
        struct evhttp_connection *evcon = cbarg;
        int fd = bufferevent_getfd(bev);
        if (evcon && fd >= 0 && evhttp_connection_get_bufferevent(evcon) == bev) adopt(evcon, fd);
    }
    fresh.n = 0;
}

/* Counts every connection: evhttp asks for a bufferevent per accepted
 * socket. This one is exactly what evhttp creates by default. */
/* Head limit + body limit: one whole request, as configured below. */
#define EVHTTP_INPUT_LIMIT (8192 + 65536)

static struct bufferevent *make_bev(struct event_base *base, void *arg) {
    (void)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) return NULL;
    /* evhttp keeps reading while it writes a reply (to notice a close) and
     * sets no limit: bound what a client can pipeline behind a long reply. */
    bufferevent_setwatermark(bev, EV_READ, 0, EVHTTP_INPUT_LIMIT);
    lev_accepted(-1, false); /* no descriptor yet: adopt_new sets TCP_NODELAY */
    if (fresh.n == fresh.cap) {
        size_t ncap = fresh.cap ? fresh.cap * 2 : 64;
        struct bufferevent **n = realloc(fresh.bevs, ncap * sizeof *n);
        if (!n) return bev; /* untracked until its first request */
        fresh.bevs = n;
        fresh.cap = ncap;
    }
    fresh.bevs[fresh.n++] = bev;
    event_active(fresh.ev, EV_TIMEOUT, 0);
    return bev;
}

/* A request as the reply builder sees it: evhttp's own parse on the loop
 * thread, or copies of it for a hand-off worker. */
typedef struct {
    enum evhttp_cmd_type cmd;
    const char *path;
    const char *query; /* or NULL */
    const char *body;  /* POST / only */
    size_t body_len;
} request_view;

/* What answers a request: a whole reply, or the head of a /bulk stream.
 * Built without touching any evhttp object or counter, so a hand-off worker
 * can build it; the loop thread sends it (send_answer). */
typedef struct {
    int status;
    const char *type;
    char body[512]; /* JSON-RPC replies, text bodies */
    size_t len;
    bool bulk;       /* 200 with a Content-Length of `bytes`, streamed from src */
    uint64_t bytes;
    payload_src src;
} answer;

static void answer_body(answer *a, int status, const char *type, int n) {
    a->status = status;
    a->type = type;
    a->len = n < 0 ? 0 : (size_t)n < sizeof a->body ? (size_t)n : sizeof a->body - 1;
}

static void answer_text(answer *a, int status, const char *text) {
    answer_body(a, status, "text/plain", snprintf(a->body, sizeof a->body, "%s\n", text));
}

static void answer_rpc(answer *a, int status, const char *result, const char *error, const jsonrpc_request *rq) {
    bool has_id = rq->id_len && rq->id_len < 256;
    answer_body(a, status, "application/json",
                snprintf(a->body, sizeof a->body, "{\"result\":%s,\"error\":%s,\"id\":%.*s}\n", result, error,
                         has_id ? (int)rq->id_len : 4, has_id ? rq->id : "null"));
}

static void build_rpc(const request_view *rv, answer *a) {
    jsonrpc_request rq;
    if (!rv->body || !jsonrpc_parse(rv->body, rv->body_len, &rq)) {
        memset(&rq, 0, sizeof rq);
        answer_rpc(a, 500, "null", "{\"code\":-32700,\"message\":\"Parse error\"}", &rq);
    } else if (rq.method_len == 13 && !memcmp(rq.method, "getblockcount", 13)) {
        char height[24];
        snprintf(height, sizeof height, "%d", CHAIN_HEIGHT);
        answer_rpc(a, 200, height, "null", &rq);
    } else {
        answer_rpc(a, 404, "null", "{\"code\":-32601,\"message\":\"Method not found\"}", &rq);
    }
}

/* name=<unsigned decimal> from parsed query parameters: false when present
 * but not a number (as session_http.c: leading digit, nothing after). */
static bool query_u64(const struct evkeyvalq *q, const char *name, uint64_t *out) {
    const char *v = evhttp_find_header(q, name);
    if (!v) return true;
    if (*v < '0' || *v > '9') return false;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end != '\0') return false;
    *out = x; /* overflow saturates, and the range checks reject it */
    return true;
}

/* GET /bulk?bytes=N[&chunk=C][&seed=S]: decides the head. (evhttp's query
 * parser is a pure function: safe on a worker.) */
static void build_bulk(const char *query, answer *a) {
    uint64_t bytes = UINT64_MAX, chunk = 65536, seed = 1;
    struct evkeyvalq q = {0}; /* an empty list; evhttp_parse_query_str initialises it too */
    bool ok = query && evhttp_parse_query_str(query, &q) == 0 && query_u64(&q, "bytes", &bytes) &&
              bytes <= MAX_BULK && query_u64(&q, "chunk", &chunk) && query_u64(&q, "seed", &seed) &&
              chunk > 0 && chunk <= PAYLOAD_MAX_PIECE;
    evhttp_clear_headers(&q);
    if (!ok || payload_init(&a->src, seed, (size_t)chunk) != 0) {
        answer_text(a, 400, "Bad Request");
    } else if (bytes == 0) {
        payload_free(&a->src);
        answer_body(a, 200, "application/octet-stream", 0);
    } else {
        a->status = 200;
        a->bulk = true;
        a->bytes = bytes;
    }
}

/* Routes one request. */
static void build_answer(const request_view *rv, answer *a) {
    a->bulk = false; /* the builders below set the rest */
    if (rv->cmd == EVHTTP_REQ_POST && strcmp(rv->path, "/") == 0) {
        build_rpc(rv, a);
    } else if (strcmp(rv->path, "/bulk") == 0) {
        if (rv->cmd == EVHTTP_REQ_GET) build_bulk(rv->query, a);
        else answer_text(a, 405, "Method Not Allowed");
    } else {
        answer_text(a, 404, "Not Found");
    }
}

static void reply(struct evhttp_request *req, int status, const char *type, const char *body, size_t len) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    stat_add(&H.stats->messages_out, 1);
    stat_add(&H.stats->payload_bytes_out, len);
    /* NULL reason: evhttp's standard phrase for the status. */
    evhttp_send_reply(req, status, NULL, NULL);
}

/* Queues the next batch of pieces; the last one ends the response. */
static void bulk_continue(struct evhttp_connection *evcon, void *arg) {
    (void)evcon;
    bulk *b = arg;
    size_t queued = 0;
    while (b->left > 0 && queued < BULK_BATCH) {
        size_t len = b->left < b->src.piece_size ? (size_t)b->left : b->src.piece_size;
        if (evbuffer_add_reference(b->batch, payload_piece(&b->src, b->next, len), len, NULL, NULL) != 0) break;
        stat_add(&H.stats->payload_bytes_out, len);
        b->left -= len;
        b->next++;
        queued += len;
    }
    if (b->left > 0 && queued > 0) {
        evhttp_send_reply_chunk_with_cb(b->req, b->batch, bulk_continue, b);
        return;
    }
    /* Done — or out of memory (nothing queued), when ending the reply short
     * of its Content-Length is the only way out evhttp offers: the client
     * sees a truncated body rather than a stall. */
    if (queued) evhttp_send_reply_chunk(b->req, b->batch);
    /* Completes once written (bulk_done frees the state then). */
    evhttp_send_reply_end(b->req);
}

static void bulk_done(struct evhttp_request *req, void *arg) {
    (void)req;
    bulk *b = arg;
    if (b->hc) b->hc->bulk = NULL;
    bulk_free(b);
}

/* Starts a /bulk body whose head was decided: takes over a->src. */
static void start_bulk(struct evhttp_request *req, hconn *hc, answer *a) {
    bulk *b = hc ? calloc(1, sizeof *b) : NULL;
    if (b) b->batch = evbuffer_new();
    if (!b || !b->batch) {
        free(b);
        payload_free(&a->src);
        answer_text(a, 500, "Internal Server Error");
        reply(req, a->status, a->type, a->body, a->len);
        return;
    }
    b->src = a->src;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char length[24];
    snprintf(length, sizeof length, "%" PRIu64, a->bytes);
    evhttp_add_header(h, "Content-Type", "application/octet-stream");
    /* With Content-Length set, evhttp does not use chunked framing. */
    evhttp_add_header(h, "Content-Length", length);
    b->req = req;
    b->hc = hc;
    b->left = a->bytes;
    hc->bulk = b;
    evhttp_request_set_on_complete_cb(req, bulk_done, b);
    stat_add(&H.stats->messages_out, 1);
    evhttp_send_reply_start(req, 200, NULL);
    bulk_continue(NULL, b);
}

/* Loop thread: sends what answers req. */
static void send_answer(struct evhttp_request *req, hconn *hc, answer *a) {
    if (a->bulk) start_bulk(req, hc, a);
    else reply(req, a->status, a->type, a->body, a->len);
}

/* Hand-off (--handoff N), the way Bitcoin Core's httpserver does it: the
 * request callback queues a work item on a queue served by N worker threads
 * (mutex + condition variable, its WorkQueue); a worker builds the answer
 * and makes the item's own event active (event_active on an event created
 * per request: Bitcoin Core's HTTPEvent); libevent wakes its loop through its
 * notification eventfd (one write while a notification is pending covers
 * every reply that comes in meanwhile), and the event's callback sends the
 * reply on the loop thread. Workers see only the item: copies of the method,
 * path, query and body, never the evhttp request. */
typedef struct hwork hwork;
struct hwork {
    hwork *next;
    struct event *ev;
    struct evhttp_request *req;
    request_view rv; /* points into text */
    answer a;
    char text[];     /* path \0 query \0 body */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t more;
    hwork *head, *tail;
} Q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL};

static void *worker(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&Q.lock);
        while (!Q.head) pthread_cond_wait(&Q.more, &Q.lock);
        hwork *w = Q.head;
        Q.head = w->next;
        if (!Q.head) Q.tail = NULL;
        pthread_mutex_unlock(&Q.lock);
        build_answer(&w->rv, &w->a);
        /* Several workers: an atomic add, unlike the loop's counters. */
        atomic_fetch_add_explicit(&H.stats->handoff_wakeups, 1, memory_order_relaxed);
        event_active(w->ev, EV_TIMEOUT, 0); /* w belongs to the loop from here */
    }
    return NULL;
}

/* The item's event: its answer is ready. */
static void on_answered(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    hwork *w = arg;
    struct evhttp_request *req = w->req;
    event_free(w->ev);
    if (evhttp_request_get_connection(req)) {
        send_answer(req, track(req), &w->a);
    } else {
        /* The connection failed meanwhile (EOF, timeout): evhttp detached
         * this unanswered request from it and left it to its owner — us —
         * instead of freeing it. Nothing is sent; freeing it is all. */
        if (w->a.bulk) payload_free(&w->a.src);
        evhttp_request_free(req);
    }
    free(w);
}

/* Queues req for a worker; false on ENOMEM (the loop answers it then). */
static bool hand_off(struct evhttp_request *req, const request_view *rv, struct event_base *base) {
    size_t plen = strlen(rv->path) + 1, qlen = rv->query ? strlen(rv->query) + 1 : 0;
    hwork *w = malloc(sizeof *w + plen + qlen + rv->body_len);
    if (!w) return false;
    w->ev = event_new(base, -1, 0, on_answered, w);
    if (!w->ev) {
        free(w);
        return false;
    }
    w->next = NULL;
    w->req = req;
    char *t = w->text;
    w->rv = (request_view){.cmd = rv->cmd, .path = memcpy(t, rv->path, plen), .body_len = rv->body_len};
    t += plen;
    if (qlen) w->rv.query = memcpy(t, rv->query, qlen);
    t += qlen;
    if (rv->body) w->rv.body = memcpy(t, rv->body, rv->body_len);
    stat_add(&H.stats->handoff_jobs, 1);
    pthread_mutex_lock(&Q.lock);
    if (Q.tail) Q.tail->next = w;
    else Q.head = w;
    Q.tail = w;
    pthread_cond_signal(&Q.more);
    pthread_mutex_unlock(&Q.lock);
    return true;
}

static void on_request(struct evhttp_request *req, void *arg) {
    struct event_base *base = arg;
    stat_add(&H.stats->messages_in, 1);
    hconn *hc = track(req); /* adopts a connection first seen here, even when handed off */
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    request_view rv = {
        .cmd = evhttp_request_get_command(req),
        .path = path ? path : "",
        .query = uri ? evhttp_uri_get_query(uri) : NULL,
    };
    if (rv.cmd == EVHTTP_REQ_POST && strcmp(rv.path, "/") == 0) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        rv.body_len = evbuffer_get_length(in);
        /* At most MAX_BODY; pullup copies only if it spans chains. */
        rv.body = rv.body_len ? (const char *)evbuffer_pullup(in, -1) : "";
    }
    if (H.workers && hand_off(req, &rv, base)) return;
    answer a;
    build_answer(&rv, &a);
    send_answer(req, hc, &a);
}

void evhttp_setup(struct event_base *base, int listen_fd, bool tcp, session_stats *stats,
                  unsigned handoff) {
    H.tcp = tcp;
    H.stats = stats;
    H.workers = handoff;
    for (unsigned i = 0; i < handoff; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, NULL) != 0) control_fatal("cannot start hand-off worker %u", i);
        pthread_detach(t);
    }
    struct evhttp *http = evhttp_new(base);
    if (!http) control_fatal("evhttp_new failed");
    evhttp_set_max_headers_size(http, MAX_HEADERS);
    evhttp_set_max_body_size(http, MAX_BODY);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_timeout(http, TIMEOUT_S);
    evhttp_set_gencb(http, on_request, base);
    fresh.ev = event_new(base, -1, 0, adopt_new, NULL);
    if (!fresh.ev) control_fatal("event_new failed");
    evhttp_set_bevcb(http, make_bev, NULL);
    struct evhttp_bound_socket *bound = evhttp_accept_socket_with_handle(http, listen_fd);
    if (!bound) control_fatal("evhttp_accept_socket_with_handle failed");
    lev_listener_guard(evhttp_bound_socket_get_listener(bound), "evhttp");
}
