/* The HTTP drivers: requests are written by hand into the connection's output
 * buffer, responses are parsed by llhttp (HTTP_RESPONSE) as bytes arrive.
 *
 * http-rpc: keep-alive; every active connection keeps --depth JSON-RPC
 * getblockcount requests in flight (pipelined when depth > 1), each with an
 * id unique over the run. A reply must be 200 and carry the id of the oldest
 * outstanding request and the chain height 870000. Latency: reply read time
 * - request write time (--rate: - the request's intended send time).
 *
 * http-bulk: every active connection GETs its share of --bytes once; the
 * body is split at piece boundaries while it streams through the read buffer
 * and each piece is checked with XXH3 (never buffered). Latency, as for
 * peer-block: per piece, the gap since the previous piece completed (the
 * first: since the request was written). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llhttp.h>

#include "../strategies/core/payload.h"
#include "loadgen.h"

#include "http.h"

static lg_conn *conn_of(llhttp_t *p) { return p->data; }

/* Writes v in decimal; returns the digit count. */
static size_t put_u64(char *out, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

/* Common response checks; fail the connection (returning -1 stops llhttp).
 * `what` and `id` name the request in messages (formatted only on failure). */
int lg_http_check_head(llhttp_t *p, const char *what, uint64_t id) {
    lg_conn *c = conn_of(p);
    if (c->state == CONN_DONE || !lg_head(c)) {
        lg_conn_fail(c, "HTTP response (status %u) with no request outstanding", p->status_code);
        return -1;
    }
    if (p->status_code != 200) {
        lg_conn_fail(c, "HTTP status %u for %s %" PRIu64, p->status_code, what, id);
        return -1;
    }
    if (!(p->flags & (F_CONTENT_LENGTH | F_CHUNKED))) {
        lg_conn_fail(c, "HTTP response without Content-Length or chunked encoding for %s %" PRIu64,
                     what, id);
        return -1;
    }
    return 0;
}

void lg_http_feed(lg_conn *c, llhttp_t *parser, const uint8_t *data, size_t len) {
    llhttp_errno_t err = llhttp_execute(parser, (const char *)data, len);
    /* Errors raised by our callbacks have already failed the connection. */
    if (err != HPE_OK && c->state != CONN_FAILED)
        lg_conn_fail(c, "malformed HTTP response: %s (%s)", llhttp_errno_name(err),
                     llhttp_get_error_reason(parser) ? llhttp_get_error_reason(parser) : "");
}

/* ------------------------------------------------------------- http-rpc */


static const char rpc_head[] =
    "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
static const char rpc_close[] = "Connection: close\r\n";
static const char rpc_length[] = "Content-Length: ";
static const char rpc_body1[] = "{\"jsonrpc\":\"1.0\",\"id\":";
static const char rpc_body2[] = ",\"method\":\"getblockcount\",\"params\":[]}";

typedef struct {
    llhttp_t parser;
    lg_rpc_body body;
} rpc_state;

/* Filled by the first rpc_setup, in the main thread before any shard's
 * thread starts; only read afterwards (llhttp reads it through the parser). */
static llhttp_settings_t rpc_settings;

size_t lg_rpc_request(char *out, uint64_t id, bool close) {
    char digits[20];
    size_t nd = put_u64(digits, id);
    size_t body_len = sizeof rpc_body1 - 1 + nd + sizeof rpc_body2 - 1;
    char *w = out;
    memcpy(w, rpc_head, sizeof rpc_head - 1);
    w += sizeof rpc_head - 1;
    if (close) {
        memcpy(w, rpc_close, sizeof rpc_close - 1);
        w += sizeof rpc_close - 1;
    }
    memcpy(w, rpc_length, sizeof rpc_length - 1);
    w += sizeof rpc_length - 1;
    w += put_u64(w, body_len);
    memcpy(w, "\r\n\r\n", 4);
    w += 4;
    memcpy(w, rpc_body1, sizeof rpc_body1 - 1);
    w += sizeof rpc_body1 - 1;
    memcpy(w, digits, nd);
    w += nd;
    memcpy(w, rpc_body2, sizeof rpc_body2 - 1);
    w += sizeof rpc_body2 - 1;
    return (size_t)(w - out);
}

static void rpc_queue(lg_conn *c, uint64_t t_intended) {
    uint64_t id = lg_next_id(c->run);
    char *m = (char *)lg_out_reserve(c, LG_RPC_REQ_MAX);
    lg_out_commit(c, lg_rpc_request(m, id, false));
    if (t_intended) lg_push_at(c, id, t_intended);
    else lg_push(c, id);
    c->issued++;
}

/* A member of a reply that is a JSON number; false if absent or not a number. */
static bool reply_number(const char *body, const char *quoted_name, uint64_t *id) {
    const char *p = strstr(body, quoted_name);
    if (!p) return false;
    p += strlen(quoted_name);
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (*p++ != ':') return false;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (*p < '0' || *p > '9') return false;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) v = v * 10 + (uint64_t)(*p - '0');
    *id = v;
    return true;
}

bool lg_rpc_reply_check(lg_conn *c, const char *body, uint64_t id) {
    uint64_t got, height;
    if (!reply_number(body, "\"id\"", &got)) {
        lg_conn_fail(c, "JSON-RPC reply without a numeric id: %.80s", body);
        return false;
    }
    if (got != id) {
        lg_conn_fail(c, "JSON-RPC reply id %" PRIu64 " is not the oldest outstanding request's (%" PRIu64 ")",
                     got, id);
        return false;
    }
    if (!reply_number(body, "\"result\"", &height) || height != LG_RPC_HEIGHT) {
        lg_conn_fail(c, "JSON-RPC reply to request %" PRIu64 " does not carry the result %u: %.80s", id,
                     LG_RPC_HEIGHT, body);
        return false;
    }
    return true;
}

int lg_rpc_body_append(lg_conn *c, lg_rpc_body *b, const char *at, size_t len) {
    if (len > LG_RPC_REPLY_MAX - b->len) {
        lg_conn_fail(c, "JSON-RPC reply body over %u bytes", LG_RPC_REPLY_MAX);
        return -1;
    }
    memcpy(b->text + b->len, at, len);
    b->len += (uint32_t)len;
    return 0;
}

int lg_rpc_on_headers_complete(llhttp_t *p) {
    lg_pending *q = lg_head(conn_of(p));
    return lg_http_check_head(p, "request id", q ? q->tag : 0);
}

static int rpc_on_message_begin(llhttp_t *p) {
    ((rpc_state *)conn_of(p)->drv)->body.len = 0;
    return 0;
}

static int rpc_on_body(llhttp_t *p, const char *at, size_t len) {
    lg_conn *c = conn_of(p);
    return lg_rpc_body_append(c, &((rpc_state *)c->drv)->body, at, len);
}

static int rpc_on_message_complete(llhttp_t *p) {
    lg_conn *c = conn_of(p);
    rpc_state *s = c->drv;
    s->body.text[s->body.len] = 0;
    lg_pending *q = lg_head(c);
    if (!lg_rpc_reply_check(c, s->body.text, q->tag)) return -1;
    uint64_t latency = c->t_read - q->t_sent;
    lg_pop(c);
    lg_op_done(c, latency, s->body.len, 0);
    if (c->state != CONN_ACTIVE) return 0;
    if (!llhttp_should_keep_alive(p)) {
        lg_conn_fail(c, "server ended keep-alive with %" PRIu64 " requests left",
                     c->ops_target - c->ops_done);
        return -1;
    }
    lg_fill(c);
    return 0;
}

static int rpc_setup(lg_conn *c, char *err, size_t errlen) {
    const lg_args *a = c->run->args;
    if (!rpc_settings.on_message_complete) {
        llhttp_settings_init(&rpc_settings);
        rpc_settings.on_message_begin = rpc_on_message_begin;
        rpc_settings.on_headers_complete = lg_rpc_on_headers_complete;
        rpc_settings.on_body = rpc_on_body;
        rpc_settings.on_message_complete = rpc_on_message_complete;
    }
    c->ops_target = lg_share(a->requests, a->active, c->index);
    rpc_state *s = calloc(1, sizeof *s);
    c->drv = s;
    /* At most depth requests are queued or in flight: that bounds both buffers. */
    if (!s || lg_conn_buffers(c, (size_t)a->depth * LG_RPC_REQ_MAX, a->depth) != 0) {
        snprintf(err, errlen, "out of memory for connection %u", c->index);
        return -1;
    }
    llhttp_init(&s->parser, HTTP_RESPONSE, &rpc_settings);
    s->parser.data = c;
    return 0;
}

static void rpc_start(lg_conn *c) { lg_fill(c); }

static void rpc_input(lg_conn *c, const uint8_t *data, size_t len) {
    lg_http_feed(c, &((rpc_state *)c->drv)->parser, data, len);
}

static void rpc_destroy(lg_conn *c) { free(c->drv); }

const lg_driver lg_http_rpc = {
    .name = "http-rpc",
    .replies = true,
    .unit = "requests",
    .setup = rpc_setup,
    .start = rpc_start,
    .input = rpc_input,
    .destroy = rpc_destroy,
    .queue = rpc_queue,
};

/* ------------------------------------------------------------ http-bulk */

typedef struct {
    llhttp_t parser;
    payload_src src;
    payload_hasher *h;
    uint64_t body_bytes; /* this connection's share: the expected Content-Length */
    uint64_t piece;      /* piece being received */
    uint32_t off;        /* its bytes received so far */
} bulk_state;

/* As rpc_settings: written at setup in the main thread, then only read. */
static llhttp_settings_t bulk_settings;

static int bulk_on_headers_complete(llhttp_t *p) {
    lg_conn *c = conn_of(p);
    bulk_state *s = c->drv;
    if (lg_http_check_head(p, "the bulk request with seed", s->src.seed) != 0) return -1;
    if (!(p->flags & F_CONTENT_LENGTH) || p->content_length != s->body_bytes) {
        lg_conn_fail(c, "bulk response has %s%" PRIu64 ", expected Content-Length %" PRIu64,
                     (p->flags & F_CONTENT_LENGTH) ? "Content-Length " : "no Content-Length",
                     (p->flags & F_CONTENT_LENGTH) ? (uint64_t)p->content_length : 0, s->body_bytes);
        return -1;
    }
    return 0;
}

static int bulk_on_body(llhttp_t *p, const char *at, size_t len) {
    lg_conn *c = conn_of(p);
    bulk_state *s = c->drv;
    uint64_t chunk = s->src.piece_size;
    while (len > 0) {
        uint64_t rest = s->body_bytes - s->piece * chunk;
        if (s->piece * chunk >= s->body_bytes) { /* llhttp enforces Content-Length; be safe */
            lg_conn_fail(c, "bulk body longer than %" PRIu64 " bytes", s->body_bytes);
            return -1;
        }
        size_t piece_len = (size_t)(rest < chunk ? rest : chunk);
        size_t take = piece_len - s->off;
        if (take > len) take = len;
        uint64_t digest = 0;
        bool whole = s->off == 0 && take == piece_len; /* the usual case: one-shot hash */
        if (whole) {
            digest = payload_hash(at, take);
        } else {
            if (s->off == 0) payload_hasher_reset(s->h);
            payload_hasher_update(s->h, at, take);
        }
        at += take;
        len -= take;
        s->off += (uint32_t)take;
        if (s->off < piece_len) break;
        if (!whole) digest = payload_hasher_digest(s->h);
        uint64_t want = payload_expected_hash(&s->src, s->piece, piece_len);
        if (digest != want) {
            lg_conn_fail(c, "body piece %" PRIu64 " (seed %" PRIu64 ", %zu bytes at offset %" PRIu64
                         ") does not match the seeded payload (XXH3 %016" PRIx64 ", expected %016" PRIx64 ")",
                         s->piece, s->src.seed, piece_len, s->piece * chunk, digest, want);
            return -1;
        }
        uint64_t prev = c->t_last;
        if (c->rcount) { /* first piece: measured from the request's write */
            prev = lg_head(c)->t_sent;
            lg_pop(c);
        }
        c->t_last = c->t_read;
        s->piece++;
        s->off = 0;
        lg_op_done(c, c->t_read - prev, piece_len, 1);
    }
    return 0;
}

static int bulk_on_message_complete(llhttp_t *p) {
    lg_conn *c = conn_of(p);
    bulk_state *s = c->drv;
    /* Content-Length was checked, so this only guards against a parser surprise. */
    if (s->piece != c->ops_target) {
        lg_conn_fail(c, "bulk body ended after %" PRIu64 " of %" PRIu64 " pieces", s->piece,
                     c->ops_target);
        return -1;
    }
    return 0;
}

/* Shares as in peer-block: ceil(bytes/chunk) pieces split evenly, extra
 * pieces to the first connections, the short last piece to the last
 * connection that has any; connection k uses seed + k. */
static int bulk_setup(lg_conn *c, char *err, size_t errlen) {
    const lg_args *a = c->run->args;
    if (!bulk_settings.on_message_complete) {
        llhttp_settings_init(&bulk_settings);
        bulk_settings.on_headers_complete = bulk_on_headers_complete;
        bulk_settings.on_body = bulk_on_body;
        bulk_settings.on_message_complete = bulk_on_message_complete;
    }
    uint64_t rem = a->bytes % a->chunk;
    uint64_t total = a->bytes / a->chunk + (rem != 0);
    uint64_t mine = lg_share(total, a->active, c->index);
    uint32_t last_owner = (total < a->active ? (uint32_t)total : a->active) - 1;
    bulk_state *s = calloc(1, sizeof *s);
    c->drv = s;
    c->ops_target = mine;
    if (!s || lg_conn_buffers(c, 256, 1) != 0 || !(s->h = payload_hasher_new()) ||
        payload_init(&s->src, a->seed + c->index, a->chunk) != 0 || payload_prepare_hashes(&s->src) != 0) {
        snprintf(err, errlen, "out of memory for connection %u", c->index);
        return -1;
    }
    s->body_bytes = mine * a->chunk;
    if (rem && c->index == last_owner) s->body_bytes -= a->chunk - rem;
    llhttp_init(&s->parser, HTTP_RESPONSE, &bulk_settings);
    s->parser.data = c;
    return 0;
}

static void bulk_start(lg_conn *c) {
    bulk_state *s = c->drv;
    char *m = (char *)lg_out_reserve(c, 256);
    int n = snprintf(m, 256, "GET /bulk?bytes=%" PRIu64 "&chunk=%zu&seed=%" PRIu64
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                     s->body_bytes, s->src.piece_size, s->src.seed);
    lg_out_commit(c, (size_t)n);
    lg_push(c, 0);
    c->issued = 1;
}

static void bulk_input(lg_conn *c, const uint8_t *data, size_t len) {
    lg_http_feed(c, &((bulk_state *)c->drv)->parser, data, len);
}

static void bulk_destroy(lg_conn *c) {
    bulk_state *s = c->drv;
    if (!s) return;
    payload_free(&s->src);
    payload_hasher_free(s->h);
    free(s);
}

const lg_driver lg_http_bulk = {
    .name = "http-bulk",
    .unit = "pieces",
    .setup = bulk_setup,
    .start = bulk_start,
    .input = bulk_input,
    .destroy = bulk_destroy,
};
