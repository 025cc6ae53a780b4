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
 * 1 GiB body never sits in memory. */
#include <inttypes.h>
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

static void reply(struct evhttp_request *req, int status, const char *type, const char *body, size_t len) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    stat_add(&H.stats->messages_out, 1);
    stat_add(&H.stats->payload_bytes_out, len);
    /* NULL reason: evhttp's standard phrase for the status. */
    evhttp_send_reply(req, status, NULL, NULL);
}

static void reply_text(struct evhttp_request *req, int status, const char *text) {
    char body[64];
    int n = snprintf(body, sizeof body, "%s\n", text);
    reply(req, status, "text/plain", body, (size_t)n);
}

static void rpc_reply(struct evhttp_request *req, int status, const char *result, const char *error,
                      const jsonrpc_request *rq) {
    char body[512];
    bool has_id = rq->id_len && rq->id_len < 256;
    int n = snprintf(body, sizeof body, "{\"result\":%s,\"error\":%s,\"id\":%.*s}\n", result, error,
                     has_id ? (int)rq->id_len : 4, has_id ? rq->id : "null");
    reply(req, status, "application/json", body, (size_t)n);
}

static void handle_rpc(struct evhttp_request *req) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    /* The body is at most MAX_BODY; pullup copies only if it spans chains. */
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    jsonrpc_request rq;
    if (!body || !jsonrpc_parse(body, len, &rq)) {
        memset(&rq, 0, sizeof rq);
        rpc_reply(req, 500, "null", "{\"code\":-32700,\"message\":\"Parse error\"}", &rq);
    } else if (rq.method_len == 13 && !memcmp(rq.method, "getblockcount", 13)) {
        char height[24];
        snprintf(height, sizeof height, "%d", CHAIN_HEIGHT);
        rpc_reply(req, 200, height, "null", &rq);
    } else {
        rpc_reply(req, 404, "null", "{\"code\":-32601,\"message\":\"Method not found\"}", &rq);
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

/* GET /bulk?bytes=N[&chunk=C][&seed=S] */
static void handle_bulk(struct evhttp_request *req, hconn *hc, const char *query) {
    uint64_t bytes = UINT64_MAX, chunk = 65536, seed = 1;
    struct evkeyvalq q = {0}; /* an empty list; evhttp_parse_query_str initialises it too */
    bool ok = query && evhttp_parse_query_str(query, &q) == 0 && query_u64(&q, "bytes", &bytes) &&
              bytes <= MAX_BULK && query_u64(&q, "chunk", &chunk) && query_u64(&q, "seed", &seed) &&
              chunk > 0 && chunk <= PAYLOAD_MAX_PIECE;
    evhttp_clear_headers(&q);
    payload_src src;
    if (!ok || payload_init(&src, seed, (size_t)chunk) != 0) {
        reply_text(req, 400, "Bad Request");
        return;
    }
    if (bytes == 0) {
        payload_free(&src);
        reply(req, 200, "application/octet-stream", "", 0);
        return;
    }
    bulk *b = hc ? calloc(1, sizeof *b) : NULL;
    if (b) b->batch = evbuffer_new();
    if (!b || !b->batch) {
        free(b);
        payload_free(&src);
        reply_text(req, 500, "Internal Server Error");
        return;
    }
    b->src = src;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char length[24];
    snprintf(length, sizeof length, "%" PRIu64, bytes);
    evhttp_add_header(h, "Content-Type", "application/octet-stream");
    /* With Content-Length set, evhttp does not use chunked framing. */
    evhttp_add_header(h, "Content-Length", length);
    b->req = req;
    b->hc = hc;
    b->left = bytes;
    hc->bulk = b;
    evhttp_request_set_on_complete_cb(req, bulk_done, b);
    stat_add(&H.stats->messages_out, 1);
    evhttp_send_reply_start(req, 200, NULL);
    bulk_continue(NULL, b);
}

static void on_request(struct evhttp_request *req, void *arg) {
    (void)arg;
    stat_add(&H.stats->messages_in, 1);
    hconn *hc = track(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (!path) path = "";
    if (cmd == EVHTTP_REQ_POST && strcmp(path, "/") == 0) {
        handle_rpc(req);
    } else if (strcmp(path, "/bulk") == 0) {
        if (cmd == EVHTTP_REQ_GET) handle_bulk(req, hc, evhttp_uri_get_query(uri));
        else reply_text(req, 405, "Method Not Allowed");
    } else {
        reply_text(req, 404, "Not Found");
    }
}

void evhttp_setup(struct event_base *base, int listen_fd, bool tcp, session_stats *stats) {
    H.tcp = tcp;
    H.stats = stats;
    struct evhttp *http = evhttp_new(base);
    if (!http) control_fatal("evhttp_new failed");
    evhttp_set_max_headers_size(http, MAX_HEADERS);
    evhttp_set_max_body_size(http, MAX_BODY);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_timeout(http, TIMEOUT_S);
    evhttp_set_gencb(http, on_request, NULL);
    fresh.ev = event_new(base, -1, 0, adopt_new, NULL);
    if (!fresh.ev) control_fatal("event_new failed");
    evhttp_set_bevcb(http, make_bev, NULL);
    struct evhttp_bound_socket *bound = evhttp_accept_socket_with_handle(http, listen_fd);
    if (!bound) control_fatal("evhttp_accept_socket_with_handle failed");
    lev_listener_guard(evhttp_bound_socket_get_listener(bound), "evhttp");
}
