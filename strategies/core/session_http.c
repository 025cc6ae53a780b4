/* HTTP/1.1 as a node's JSON-RPC server speaks it: llhttp parses, this file
 * routes and writes responses. Keep-alive and pipelining are supported;
 * responses go out in request order because parsing pauses while a long
 * body is streamed. Oversized heads get 431, malformed requests 400, both
 * followed by closing the connection. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "session_impl.h"

/* The fixed chain height that getblockcount reports. */
#define CHAIN_HEIGHT 870000
/* Largest body /bulk serves (1 PiB): keeps piece arithmetic far from overflow. */
#define HTTP_MAX_BULK (1ull << 50)

enum { ERR_NONE, ERR_HEAD_TOO_LARGE, ERR_BODY_TOO_LARGE };

static session *owner(llhttp_t *p) { return (session *)p->data; }

static int count_head(session *s, size_t len) {
    s->http.head_bytes += len;
    if (s->http.head_bytes > HTTP_MAX_HEAD) {
        s->http.error = ERR_HEAD_TOO_LARGE;
        return -1;
    }
    return 0;
}

static int on_message_begin(llhttp_t *p) {
    http_state *h = &owner(p)->http;
    h->head_bytes = 0;
    h->url_len = 0;
    h->url_too_long = false;
    h->body_len = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
    session *s = owner(p);
    http_state *h = &s->http;
    if (h->url_len + len >= sizeof h->url) h->url_too_long = true;
    else {
        memcpy(h->url + h->url_len, at, len);
        h->url_len += len;
    }
    return count_head(s, len);
}

static int on_header_data(llhttp_t *p, const char *at, size_t len) {
    (void)at;
    return count_head(owner(p), len);
}

static int on_headers_complete(llhttp_t *p) {
    session *s = owner(p);
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > HTTP_MAX_BODY) {
        s->http.error = ERR_BODY_TOO_LARGE;
        return -1;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
    http_state *h = &owner(p)->http;
    if (h->body_len + len > HTTP_MAX_BODY) {
        h->error = ERR_BODY_TOO_LARGE; /* chunked bodies have no length up front */
        return -1;
    }
    if (h->body_len + len > h->body_cap) {
        size_t ncap = h->body_cap ? h->body_cap * 2 : 1024;
        while (ncap < h->body_len + len) ncap *= 2;
        uint8_t *n = realloc(h->body, ncap);
        if (!n) return -1;
        h->body = n;
        h->body_cap = ncap;
    }
    memcpy(h->body + h->body_len, at, len);
    h->body_len += len;
    return 0;
}

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    }
    return "Error";
}

static void write_head(reply *r, int status, const char *type, uint64_t length, bool close) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %" PRIu64 "\r\n%s\r\n",
                     status, reason(status), type, length, close ? "Connection: close\r\n" : "");
    reply_emit(r, head, (size_t)n);
    r->messages++;
    r->close = close;
}

static void respond(reply *r, int status, const char *type, const char *body, size_t len, bool close) {
    write_head(r, status, type, len, close);
    reply_emit(r, body, len);
    r->payload_bytes += len;
}

static void respond_text(reply *r, int status, bool close) {
    char body[64];
    int n = snprintf(body, sizeof body, "%s\n", reason(status));
    respond(r, status, "text/plain", body, (size_t)n, close);
}

static void rpc_reply(reply *r, int status, const char *result_or_error, bool is_error,
                      const jsonrpc_request *rq, bool close) {
    char body[512];
    int idlen = rq->id_len && rq->id_len < 256 ? (int)rq->id_len : 4;
    const char *id = rq->id_len && rq->id_len < 256 ? rq->id : "null";
    int n = snprintf(body, sizeof body, "{\"result\":%s,\"error\":%s,\"id\":%.*s}\n",
                     is_error ? "null" : result_or_error, is_error ? result_or_error : "null",
                     idlen, id);
    respond(r, status, "application/json", body, (size_t)n, close);
}

static void handle_rpc(job *j) {
    jsonrpc_request rq;
    if (!jsonrpc_parse((const char *)j->data, j->len, &rq)) {
        memset(&rq, 0, sizeof rq);
        rpc_reply(&j->r, 500, "{\"code\":-32700,\"message\":\"Parse error\"}", true, &rq, j->close);
    } else if (rq.method_len == 13 && !memcmp(rq.method, "getblockcount", 13)) {
        char height[24];
        snprintf(height, sizeof height, "%d", CHAIN_HEIGHT);
        rpc_reply(&j->r, 200, height, false, &rq, j->close);
    } else {
        /* Bitcoin Core answers unknown methods with 404 and a JSON-RPC error. */
        rpc_reply(&j->r, 404, "{\"code\":-32601,\"message\":\"Method not found\"}", true, &rq, j->close);
    }
}

/* Reads name=<unsigned> from a query string; returns false when present but invalid. */
static bool query_u64(const char *query, const char *name, uint64_t *out) {
    size_t nl = strlen(name);
    for (const char *p = query; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            char *end;
            if (p[nl + 1] < '0' || p[nl + 1] > '9') return false;
            unsigned long long v = strtoull(p + nl + 1, &end, 10);
            if (*end != '\0' && *end != '&') return false;
            *out = v;
            return true;
        }
    }
    return true;
}

/* GET /bulk?bytes=N[&chunk=C][&seed=S]: a body of N generated bytes. */
static void handle_bulk(job *j) {
    reply *r = &j->r;
    uint64_t bytes = UINT64_MAX, chunk = 65536, seed = 1;
    if (!j->query || !query_u64(j->query, "bytes", &bytes) || bytes > HTTP_MAX_BULK ||
        !query_u64(j->query, "chunk", &chunk) || !query_u64(j->query, "seed", &seed) || chunk == 0 ||
        chunk > PAYLOAD_MAX_PIECE) {
        respond_text(r, 400, j->close);
        return;
    }
    write_head(r, 200, "application/octet-stream", bytes, j->close);
    if (bytes == 0) return;
    r->stream = STREAM_HTTP_BODY;
    r->seed = seed;
    r->piece_size = chunk;
    r->pieces = (bytes + chunk - 1) / chunk;
    r->body_bytes = bytes;
}

/* Routes one request (on the loop thread or a hand-off worker). */
void http_work(job *j) {
    if (j->url_too_long) respond_text(&j->r, 404, j->close);
    else if (j->method == HTTP_POST && strcmp(j->url, "/") == 0) handle_rpc(j);
    else if (strcmp(j->url, "/bulk") == 0) {
        if (j->method == HTTP_GET) handle_bulk(j);
        else respond_text(&j->r, 405, j->close);
    } else respond_text(&j->r, 404, j->close);
}

void http_pump(session *s) {
    stream_state *st = &s->stream;
    while (st->bytes_left > 0 && outq_bytes(&s->out) < SESSION_OUT_HIGH_WATER) {
        size_t len = st->bytes_left < st->src.piece_size ? (size_t)st->bytes_left : st->src.piece_size;
        session_emit_ref(s, payload_piece(&st->src, st->next, len), len);
        stat_add(&s->stats->payload_bytes_out, len);
        st->bytes_left -= len;
        st->next++;
    }
    if (st->bytes_left == 0) {
        payload_free(&st->src);
        st->kind = STREAM_NONE;
        if (s->http.close_after_stream) s->closing = true;
    }
}

static int on_message_complete(llhttp_t *p) {
    session *s = owner(p);
    http_state *h = &s->http;
    stat_add(&s->stats->messages_in, 1);
    h->url[h->url_len] = '\0';
    char *query = strchr(h->url, '?');
    if (query) *query++ = '\0';
    job j = {
        .kind = REQ_HTTP,
        .data = h->body,
        .len = h->body_len,
        .url = h->url,
        .query = query,
        .method = p->method,
        /* Upgrade/CONNECT: answered, then closed (no upgrade support). */
        .close = !llhttp_should_keep_alive(p) || p->upgrade,
        .url_too_long = h->url_too_long,
    };
    session_dispatch(s, &j);
    /* Stop parsing: after a close, to keep a streamed body ahead of the
     * responses to requests pipelined behind it, or while a worker builds
     * this reply. */
    return (s->closing || s->stream.kind != STREAM_NONE || s->job) ? HPE_PAUSED : 0;
}

static llhttp_settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void settings_init(void) {
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_data;
    settings.on_header_value = on_header_data;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
}

void http_init(session *s) {
    pthread_once(&settings_once, settings_init);
    llhttp_init(&s->http.parser, HTTP_REQUEST, &settings);
    s->http.parser.data = s;
}

void http_free(session *s) { free(s->http.body); }

size_t http_parse(session *s, const uint8_t *buf, size_t len) {
    http_state *h = &s->http;
    if (h->paused) {
        llhttp_resume(&h->parser);
        h->paused = false;
    }
    if (len == 0) return 0;
    llhttp_errno_t err = llhttp_execute(&h->parser, (const char *)buf, len);
    if (err == HPE_OK) return len;
    if (err == HPE_PAUSED) {
        h->paused = true;
        return (size_t)((const uint8_t *)llhttp_get_error_pos(&h->parser) - buf);
    }
    if (err == HPE_PAUSED_UPGRADE) {
        /* Upgrade/CONNECT: answered already (no such route); a server without
         * upgrade support closes the connection after that answer. */
        s->closing = true;
        return len;
    }
    stat_add(&s->stats->protocol_errors, 1);
    /* Answered on the loop thread: a malformed request never reaches a worker. */
    reply r;
    reply_init(&r, &s->out);
    respond_text(&r, h->error == ERR_HEAD_TOO_LARGE ? 431 : h->error == ERR_BODY_TOO_LARGE ? 413 : 400, true);
    session_apply(s, &r);
    reply_free(&r);
    s->closing = true;
    return len;
}
