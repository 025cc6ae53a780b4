#include <string.h>

#include "../../strategies/core/p2p.h"
#include "../../strategies/core/payload.h"
#include "check.h"
#include "drain.h"

static size_t msg(uint8_t *out, const char *cmd, const void *payload, uint32_t len) {
    p2p_encode_header(out, cmd, len, 0);
    if (len) memcpy(out + P2P_HEADER_LEN, payload, len); /* payload may be NULL when empty */
    return P2P_HEADER_LEN + len;
}

void test_session_peer(void) {
    static uint8_t out[1 << 20];
    session_stats st = {0};
    session_opts o = {.proto = PROTO_PEER};
    session *s = session_new(&o, &st);

    /* Three pings, fed one byte at a time: three pongs with the same nonces, in order. */
    uint8_t in[256];
    size_t n = 0;
    for (uint64_t i = 0; i < 3; i++) n += msg(in + n, "ping", &i, 8);
    for (size_t k = 0; k < n; k++) session_input(s, in + k, 1);
    CHECK(session_output_pending(s) == 96);
    CHECK(drain(s, out, sizeof out, 7) == 96);
    for (uint64_t i = 0; i < 3; i++) {
        p2p_msg m;
        size_t used;
        CHECK(p2p_decode(out + 32 * i, 32, false, &m, &used) == P2P_OK);
        CHECK(!strcmp(m.command, "pong") && !memcmp(m.payload, &i, 8));
    }
    CHECK(st.messages_in == 3 && st.messages_out == 3);

    /* Unknown commands are ignored, as a node ignores them. */
    n = msg(in, "sendheaders", NULL, 0);
    session_input(s, in, n);
    CHECK(session_output_pending(s) == 0 && !session_should_close(s));

    /* getdata streams the requested blocks lazily; a ping sent behind it is
     * answered after the last block. */
    p2p_getdata g = {.count = 5, .size = 100000, .seed = 9};
    uint8_t gp[P2P_GETDATA_LEN];
    p2p_getdata_encode(gp, &g);
    n = msg(in, "getdata", gp, sizeof gp);
    uint64_t nonce = 77;
    n += msg(in + n, "ping", &nonce, 8);
    session_input(s, in, n);
    CHECK(session_output_pending(s) > 0 && session_output_pending(s) <= 5 * 100024);
    size_t got = drain(s, out, sizeof out, 65536);
    CHECK(got == 5 * (24 + 100000) + 32);
    payload_src src;
    payload_init(&src, 9, 100000);
    for (uint64_t i = 0; i < 5; i++) {
        p2p_msg m;
        size_t used;
        CHECK(p2p_decode(out + i * 100024, got - i * 100024, false, &m, &used) == P2P_OK);
        CHECK(!strcmp(m.command, "block") && m.length == 100000);
        CHECK(payload_hash(m.payload, m.length) == payload_expected_hash(&src, i, 100000));
    }
    CHECK(!memcmp(out + 5 * 100024 + 24, &nonce, 8));
    CHECK(st.payload_bytes_out == 500000);

    /* A stream short enough to be queued at once must not strand the
     * messages pipelined behind it (two getdata and a ping in one read). */
    g = (p2p_getdata){.count = 2, .size = 100, .seed = 1};
    p2p_getdata_encode(gp, &g);
    n = msg(in, "getdata", gp, sizeof gp);
    n += msg(in + n, "getdata", gp, sizeof gp);
    n += msg(in + n, "ping", &nonce, 8);
    session_input(s, in, n);
    CHECK(session_output_pending(s) == 4 * 124 + 32);
    got = drain(s, out, sizeof out, 1 << 20);
    CHECK(got == 4 * 124 + 32 && !memcmp(out + 4 * 124 + 24, &nonce, 8));

    /* EOF after a getdata: the stream still completes, then the session
     * asks to close. */
    g = (p2p_getdata){.count = 12, .size = 65536, .seed = 5};
    p2p_getdata_encode(gp, &g);
    session *e = session_new(&o, &st);
    n = msg(in, "getdata", gp, sizeof gp);
    session_input(e, in, n);
    session_peer_closed(e);
    CHECK(!session_wants_input(e) && !session_should_close(e));
    got = drain(e, out, sizeof out, 1 << 20);
    CHECK(got == 12 * (24 + 65536) && session_should_close(e));
    session_free(e);

    /* Backpressure: a peer that sends large pings and never reads its pongs
     * stops being read once a high-water mark of replies is queued. */
    e = session_new(&o, &st);
    static uint8_t big[24 + 100000];
    p2p_encode_header(big, "ping", 100000, 0);
    int sent = 0;
    while (session_wants_input(e) && sent < 50) {
        session_input(e, big, sizeof big);
        sent++;
    }
    CHECK(sent < 50 && session_output_pending(e) < 512 * 1024);
    got = drain(e, out, sizeof out, 1 << 20);
    CHECK(got == (size_t)sent * sizeof big && session_wants_input(e));
    session_free(e);

    /* Bad magic: the session asks to close and ignores later input. */
    memcpy(in, "GET / HTTP/1.1\r\n\r\n", 18);
    session_input(s, in, 18);
    CHECK(session_should_close(s) && !session_wants_input(s));
    CHECK(st.protocol_errors == 1);
    session_free(s);

    /* Length over 4,000,000 bytes closes before the payload arrives. */
    s = session_new(&o, &st);
    p2p_encode_header(in, "block", P2P_MAX_PAYLOAD + 1, 0);
    session_input(s, in, P2P_HEADER_LEN);
    CHECK(session_should_close(s));
    session_free(s);

    /* With checksums on, a corrupt payload closes; a good one gets a real checksum back. */
    o.verify_checksum = true;
    s = session_new(&o, &st);
    p2p_encode_header(in, "ping", 8, p2p_checksum((uint8_t *)&nonce, 8));
    memcpy(in + 24, &nonce, 8);
    session_input(s, in, 32);
    CHECK(drain(s, out, sizeof out, 1000) == 32 && p2p_le32(out + 20) == p2p_checksum((uint8_t *)&nonce, 8));
    in[24] ^= 1;
    session_input(s, in, 32);
    CHECK(session_should_close(s));
    session_free(s);
}
