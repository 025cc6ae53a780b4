/* The hub: relay to every other peer, upload verification, and hand-off to
 * worker threads (replies applied on the "loop" thread in order, wake-ups
 * coalesced, a session freed while its request is at a worker). */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "../../strategies/core/hub.h"
#include "../../strategies/core/p2p.h"
#include "../../strategies/core/payload.h"
#include "check.h"
#include "drain.h"

static size_t msg(uint8_t *out, const char *cmd, const void *payload, uint32_t len) {
    p2p_encode_header(out, cmd, len, 0);
    if (len) memcpy(out + P2P_HEADER_LEN, payload, len);
    return P2P_HEADER_LEN + len;
}

static void test_relay(void) {
    session_stats st = {0};
    hub *h = hub_new(&(hub_opts){0}, &st);
    CHECK(h != NULL);
    session_opts o = {.proto = PROTO_PEER, .hub = h};
    session *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = session_new(&o, &st);
        session_set_owner(p[i], &p[i]);
    }
    uint8_t inv[37] = {1, 1, 0, 0, 0};
    for (int i = 5; i < 37; i++) inv[i] = (uint8_t)i;
    uint8_t in[128], out[256];
    size_t n = msg(in, "inv", inv, sizeof inv);
    session_input(p[1], in, n);
    /* Not back to the announcer; both others gained output, in join order of the hub. */
    CHECK(session_output_pending(p[1]) == 0);
    int seen = 0;
    for (session *s; (s = hub_next(h));) {
        CHECK(s != p[1] && session_owner(s) != NULL);
        CHECK(drain(s, out, sizeof out, 1000) == n && !memcmp(out, in, n));
        seen++;
    }
    CHECK(seen == 2 && st.relayed == 2 && st.messages_out == 2 && st.messages_in == 1);

    /* A peer that left gets nothing and is never returned. */
    session_free(p[2]);
    session_input(p[0], in, n);
    session *s = hub_next(h);
    CHECK(s == p[1] && hub_next(h) == NULL);
    CHECK(drain(p[1], out, sizeof out, 1000) == n);

    /* A malformed inv (count says 2, one entry) disconnects the announcer. */
    inv[0] = 2;
    n = msg(in, "inv", inv, sizeof inv);
    session_input(p[0], in, n);
    CHECK(session_should_close(p[0]) && st.protocol_errors == 1 && hub_next(h) == NULL);
    session_free(p[0]);
    session_free(p[1]);
    hub_free(h);
}

static void test_upload(void) {
    session_stats st = {0};
    session_opts o = {.proto = PROTO_PEER};
    session *s = session_new(&o, &st);
    p2p_getdata g = {.count = 3, .size = 1000, .seed = 42};
    uint8_t gp[P2P_GETDATA_LEN], out[256];
    p2p_getdata_encode(gp, &g);
    static uint8_t in[4 * 1100];
    size_t n = msg(in, "upload", gp, sizeof gp);
    payload_src src;
    payload_init(&src, 42, 1000);
    for (uint64_t i = 0; i < 3; i++) n += msg(in + n, "block", payload_piece(&src, i, 1000), 1000);
    /* Fed in odd-sized pieces: verified, then acknowledged with the announcement echoed. */
    for (size_t k = 0; k < n; k += 333) session_input(s, in + k, n - k < 333 ? n - k : 333);
    CHECK(st.payload_bytes_in == 3000 && st.protocol_errors == 0);
    CHECK(drain(s, out, sizeof out, 1000) == 24 + P2P_GETDATA_LEN);
    p2p_msg m;
    size_t used;
    CHECK(p2p_decode(out, 40, false, &m, &used) == P2P_OK && !strcmp(m.command, "uploaded") && !memcmp(m.payload, gp, 16));
    session_free(s);

    /* A block that does not match the generator disconnects the peer, unacknowledged. */
    s = session_new(&o, &st);
    n = msg(in, "upload", gp, sizeof gp);
    n += msg(in + n, "block", payload_piece(&src, 1, 1000), 1000); /* piece 1 where 0 is due */
    session_input(s, in, n);
    CHECK(session_should_close(s) && st.protocol_errors == 1 && session_output_pending(s) == 0);
    CHECK(st.payload_bytes_in == 3000); /* the rejected block is not counted */
    session_free(s);

    /* A second announcement in the middle of an upload is a protocol error. */
    s = session_new(&o, &st);
    n = msg(in, "upload", gp, sizeof gp);
    n += msg(in + n, "block", payload_piece(&src, 0, 1000), 1000);
    n += msg(in + n, "upload", gp, sizeof gp);
    session_input(s, in, n);
    CHECK(session_should_close(s) && st.protocol_errors == 2 && st.payload_bytes_in == 4000);
    session_free(s);

    /* Nothing announced: acknowledged at once. */
    s = session_new(&o, &st);
    g.count = 0;
    p2p_getdata_encode(gp, &g);
    session_input(s, in, msg(in, "upload", gp, sizeof gp));
    CHECK(drain(s, out, sizeof out, 1000) == 40 && !memcmp(out + 4, "uploaded", 8) && !session_should_close(s));
    session_free(s);
    payload_free(&src);
}

/* A peer that never reads stops receiving relayed copies at the hub's limit. */
static void test_relay_bound(void) {
    session_stats st = {0};
    hub *h = hub_new(&(hub_opts){0}, &st);
    session_opts o = {.proto = PROTO_PEER, .hub = h};
    session *from = session_new(&o, &st), *sink = session_new(&o, &st);
    uint8_t inv[37] = {1, 1}, in[128];
    size_t n = msg(in, "inv", inv, sizeof inv);
    for (int i = 0; i < 20000; i++) session_input(from, in, n); /* 20000 x 61 bytes > 1 MiB */
    CHECK(st.relayed + st.relay_dropped == 20000 && st.relay_dropped > 0);
    CHECK(session_output_pending(sink) < 1024 * 1024 + n);
    while (hub_next(h)) {
    }
    session_free(from);
    session_free(sink);
    hub_free(h);
}

static atomic_int wakes;
static void count_wake(void *arg) {
    (void)arg;
    atomic_fetch_add(&wakes, 1);
}

/* Collects until `want` sessions came back or a bound passes (workers are real threads). */
static int collect(hub *h, int want, session **got) {
    int n = 0;
    for (int spins = 0; n < want && spins < 5000; spins++) {
        session *s;
        while (n < want && (s = hub_next(h))) got[n++] = s;
        if (n < want) usleep(1000);
    }
    return n;
}

static void test_handoff(void) {
    session_stats st = {0};
    hub *h = hub_new(&(hub_opts){.workers = 3, .wake = count_wake}, &st);
    CHECK(h != NULL && hub_workers(h) == 3);
    session_opts o = {.proto = PROTO_PEER, .hub = h};
    session *s = session_new(&o, &st);
    uint8_t in[256], out[256];
    size_t n = 0;
    for (uint64_t i = 0; i < 3; i++) n += msg(in + n, "ping", &i, 8);
    /* Three pipelined pings: one at a worker at a time, answered in order. */
    session_input(s, in, n);
    CHECK(session_output_pending(s) == 0 && session_wants_input(s) && !session_should_close(s));
    session_peer_closed(s); /* EOF now: the replies still come, then close */
    CHECK(!session_should_close(s));
    session *got[8];
    size_t total = 0;
    for (int round = 0; round < 3; round++) {
        CHECK(collect(h, 1, got) == 1 && got[0] == s);
        total += drain(s, out + total, sizeof out - total, 1000);
    }
    CHECK(total == 96);
    for (uint64_t i = 0; i < 3; i++) CHECK(!memcmp(out + 32 * i, "\xf9\xbe\xb4\xd9pong", 8) && !memcmp(out + 32 * i + 24, &i, 8));
    CHECK(session_should_close(s));
    CHECK(st.handoff_jobs == 3 && st.messages_out == 3);
    CHECK(atomic_load(&wakes) >= 1 && atomic_load(&wakes) <= 3 && st.handoff_wakeups == (uint64_t)atomic_load(&wakes));
    session_free(s);

    /* A session freed while its request is at a worker: the reply is dropped. */
    s = session_new(&o, &st);
    session_input(s, in, msg(in, "ping", "12345678", 8));
    session_free(s);
    usleep(20000);
    CHECK(hub_next(h) == NULL);

    /* HTTP: an Upgrade request is answered by a worker, then the connection closes. */
    session_opts ho = {.proto = PROTO_HTTP, .hub = h};
    s = session_new(&ho, &st);
    const char *up = "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    session_input(s, (const uint8_t *)up, strlen(up));
    CHECK(!session_should_close(s));
    CHECK(collect(h, 1, got) == 1 && got[0] == s);
    size_t k = drain(s, out, sizeof out - 1, 1000);
    out[k] = 0;
    CHECK(!strncmp((char *)out, "HTTP/1.1 404", 12) && session_should_close(s));
    session_free(s);
    hub_free(h);
}

void test_hub(void) {
    test_relay();
    test_relay_bound();
    test_upload();
    test_handoff();
}
