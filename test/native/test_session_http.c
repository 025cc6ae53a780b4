#include <stdio.h>
#include <string.h>

#include "../../strategies/core/payload.h"
#include "check.h"
#include "drain.h"

static const char RPC[] = "{\"jsonrpc\":\"1.0\",\"id\":%d,\"method\":\"getblockcount\",\"params\":[]}";

static size_t rpc_request(char *out, int id, const char *extra) {
    char body[128];
    int bl = snprintf(body, sizeof body, RPC, id);
    return (size_t)sprintf(out, "POST / HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n%s", extra, bl, body);
}

static void feed(session *s, const char *data, size_t len) { session_input(s, (const uint8_t *)data, len); }

static session *fresh(session_stats *st) {
    session_opts o = {.proto = PROTO_HTTP};
    return session_new(&o, st);
}

void test_session_http(void) {
    static uint8_t out[1 << 21];
    session_stats st = {0};
    char req[4096];

    /* Keep-alive JSON-RPC, two requests pipelined in one read. */
    session *s = fresh(&st);
    size_t n = rpc_request(req, 1, "");
    n += rpc_request(req + n, 2, "");
    feed(s, req, n);
    size_t got = drain(s, out, sizeof out, 5);
    out[got] = 0;
    const char *first = strstr((char *)out, "\"id\":1}"), *second = strstr((char *)out, "\"id\":2}");
    CHECK(!strncmp((char *)out, "HTTP/1.1 200 OK\r\n", 17));
    CHECK(first && second && first < second);
    CHECK(strstr((char *)out, "{\"result\":870000,\"error\":null,\"id\":1}"));
    CHECK(!session_should_close(s) && st.messages_in == 2 && st.messages_out == 2);

    /* A request split at every byte still parses. */
    n = rpc_request(req, 3, "");
    for (size_t k = 0; k < n; k++) feed(s, req + k, 1);
    got = drain(s, out, sizeof out, 1 << 20);
    out[got] = 0;
    CHECK(strstr((char *)out, "\"id\":3}") != NULL);

    /* Unknown method: 404 with a JSON-RPC error; bad JSON: 500 parse error. */
    const char *bad_body = "{\"id\":5,\"method\":\"stop!\"}";
    n = (size_t)sprintf(req, "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s", strlen(bad_body), bad_body);
    feed(s, req, n);
    got = drain(s, out, sizeof out, 1 << 20);
    out[got] = 0;
    CHECK(!strncmp((char *)out, "HTTP/1.1 404", 12) && strstr((char *)out, "-32601"));
    feed(s, "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n{x}", 41);
    got = drain(s, out, sizeof out, 1 << 20);
    out[got] = 0;
    CHECK(!strncmp((char *)out, "HTTP/1.1 500", 12) && strstr((char *)out, "-32700"));
    CHECK(!session_should_close(s));
    /* An empty body on a new connection (no body buffer yet: NULL, 0) is a
     * parse error too (found by fuzz_http: UB in jsonrpc_parse). */
    session_stats est = {0};
    session *empty = fresh(&est);
    feed(empty, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 38);
    got = drain(empty, out, sizeof out, 1 << 20);
    out[got] = 0;
    CHECK(!strncmp((char *)out, "HTTP/1.1 500", 12) && strstr((char *)out, "-32700"));
    CHECK(!session_should_close(empty));
    session_free(empty);

    /* Bulk body streams lazily; the RPC pipelined behind it waits its turn. */
    n = (size_t)sprintf(req, "GET /bulk?bytes=300001&chunk=65536&seed=4 HTTP/1.1\r\nHost: x\r\n\r\n");
    n += rpc_request(req + n, 6, "");
    feed(s, req, n);
    CHECK(session_output_pending(s) < 300001); /* produced as it drains, not all at once */
    got = drain(s, out, sizeof out, 32768);
    char *body = strstr((char *)out, "\r\n\r\n") + 4;
    CHECK(strstr((char *)out, "Content-Length: 300001\r\n") != NULL);
    payload_src src;
    payload_init(&src, 4, 65536);
    size_t off = (size_t)(body - (char *)out);
    for (uint64_t i = 0; i * 65536 < 300001; i++) {
        size_t len = 300001 - i * 65536 < 65536 ? 300001 - i * 65536 : 65536;
        CHECK(payload_hash(body + i * 65536, len) == payload_expected_hash(&src, i, len));
    }
    out[got] = 0;
    CHECK(got > off + 300001 && strstr((char *)out + off + 300001, "\"id\":6}") != NULL);

    /* Same with a body short enough to be queued at once. */
    n = (size_t)sprintf(req, "GET /bulk?bytes=10 HTTP/1.1\r\n\r\n");
    n += rpc_request(req + n, 10, "");
    feed(s, req, n);
    got = drain(s, out, sizeof out, 1 << 20);
    out[got] = 0;
    CHECK(strstr((char *)out, "Content-Length: 10\r\n") && strstr((char *)out, "\"id\":10}"));

    /* Bad bulk parameters: 400 on a kept-alive connection. */
    feed(s, "GET /bulk?bytes=12x HTTP/1.1\r\n\r\n", 32);
    got = drain(s, out, sizeof out, 1 << 20);
    CHECK(!strncmp((char *)out, "HTTP/1.1 400", 12));
    CHECK(!session_should_close(s));
    session_free(s);

    /* Connection: close → response says so, then the session closes. */
    s = fresh(&st);
    n = rpc_request(req, 7, "Connection: close\r\n");
    n += rpc_request(req + n, 8, ""); /* ignored: after close */
    feed(s, req, n);
    got = drain(s, out, sizeof out, 1 << 20);
    out[got] = 0;
    CHECK(strstr((char *)out, "Connection: close\r\n") && !strstr((char *)out, "\"id\":8"));
    CHECK(session_should_close(s));
    session_free(s);

    /* Malformed request line → 400 and close. */
    uint64_t errors = st.protocol_errors;
    s = fresh(&st);
    feed(s, "BLAH\x01 / HTTP/1.1\r\n\r\n", 20);
    got = drain(s, out, sizeof out, 1 << 20);
    CHECK(!strncmp((char *)out, "HTTP/1.1 400", 12) && session_should_close(s));
    CHECK(st.protocol_errors == errors + 1);
    session_free(s);

    /* Oversized head → 431 and close, without waiting for the end of headers. */
    s = fresh(&st);
    feed(s, "GET / HTTP/1.1\r\nX: ", 19);
    memset(req, 'a', sizeof req);
    feed(s, req, sizeof req);
    CHECK(!session_should_close(s));
    feed(s, req, sizeof req);
    feed(s, req, sizeof req);
    got = drain(s, out, sizeof out, 1 << 20);
    CHECK(!strncmp((char *)out, "HTTP/1.1 431", 12) && session_should_close(s));
    session_free(s);

    /* Body over the limit → 413 and close. */
    s = fresh(&st);
    feed(s, "POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", 43);
    got = drain(s, out, sizeof out, 1 << 20);
    CHECK(!strncmp((char *)out, "HTTP/1.1 413", 12) && session_should_close(s));
    session_free(s);

    /* Garbage after a valid pipelined request: the first is answered, then 400. */
    s = fresh(&st);
    n = rpc_request(req, 9, "");
    memcpy(req + n, "\x16\x03\x01garbage\r\n\r\n", 14);
    feed(s, req, n + 14);
    got = drain(s, out, sizeof out, 1 << 20);
    out[got] = 0;
    CHECK(strstr((char *)out, "\"id\":9}") && strstr((char *)out, "HTTP/1.1 400"));
    CHECK(session_should_close(s));
    session_free(s);
}
