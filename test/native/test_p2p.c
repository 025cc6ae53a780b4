#include <string.h>

#include "../../strategies/core/p2p.h"
#include "check.h"

static size_t make(uint8_t *out, const char *cmd, const uint8_t *payload, uint32_t len, bool sum) {
    p2p_encode_header(out, cmd, len, sum ? p2p_checksum(payload, len) : 0);
    if (len) memcpy(out + P2P_HEADER_LEN, payload, len); /* payload may be NULL when empty */
    return P2P_HEADER_LEN + len;
}

void test_p2p(void) {
    uint8_t buf[256];
    p2p_msg m;
    size_t used = 0;
    const uint8_t nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    /* Round trip of a ping, with and without checksum verification. */
    size_t n = make(buf, "ping", nonce, 8, true);
    CHECK(n == 32);
    CHECK(p2p_decode(buf, n, true, &m, &used) == P2P_OK);
    CHECK(used == 32 && m.length == 8 && !strcmp(m.command, "ping"));
    CHECK(memcmp(m.payload, nonce, 8) == 0);
    CHECK(p2p_le32(buf) == P2P_MAGIC && buf[0] == 0xF9 && buf[3] == 0xD9);

    /* Known SHA256d checksum: the empty payload's is 0x5df6e0e2 (as in verack). */
    CHECK(p2p_checksum(NULL, 0) == 0xe2e0f65d);

    /* Truncation: every prefix needs more bytes and consumes nothing. */
    for (size_t k = 0; k < n; k++) CHECK(p2p_decode(buf, k, false, &m, &used) == P2P_NEED_MORE);

    /* Bad magic is caught from the first 4 bytes. */
    uint8_t bad[32];
    memcpy(bad, buf, 32);
    bad[0] ^= 0xff;
    CHECK(p2p_decode(bad, 4, false, &m, &used) == P2P_BAD_MAGIC);
    CHECK(p2p_decode(bad, 32, false, &m, &used) == P2P_BAD_MAGIC);

    /* Length over the limit is an error before any payload arrives. */
    p2p_encode_header(bad, "block", P2P_MAX_PAYLOAD + 1, 0);
    CHECK(p2p_decode(bad, P2P_HEADER_LEN, false, &m, &used) == P2P_TOO_LARGE);
    p2p_encode_header(bad, "block", P2P_MAX_PAYLOAD, 0);
    CHECK(p2p_decode(bad, P2P_HEADER_LEN, false, &m, &used) == P2P_NEED_MORE);

    /* Commands: printable then NUL padding only; empty is malformed. */
    memcpy(bad, buf, 32);
    bad[4 + 5] = 'x'; /* "ping\0x..." */
    CHECK(p2p_decode(bad, 32, false, &m, &used) == P2P_BAD_COMMAND);
    memcpy(bad, buf, 32);
    bad[4] = 0;
    CHECK(p2p_decode(bad, 32, false, &m, &used) == P2P_BAD_COMMAND);
    memcpy(bad, buf, 32);
    bad[5] = 0x07;
    CHECK(p2p_decode(bad, 32, false, &m, &used) == P2P_BAD_COMMAND);

    /* Checksums are verified only when asked. */
    memcpy(bad, buf, 32);
    bad[31] ^= 1;
    CHECK(p2p_decode(bad, 32, true, &m, &used) == P2P_BAD_CHECKSUM);
    CHECK(p2p_decode(bad, 32, false, &m, &used) == P2P_OK);

    /* Two pipelined messages decode one after the other. */
    size_t n2 = make(buf + n, "verack", NULL, 0, true);
    CHECK(p2p_decode(buf, n + n2, true, &m, &used) == P2P_OK && used == n);
    CHECK(p2p_decode(buf + used, n2, true, &m, &used) == P2P_OK && !strcmp(m.command, "verack"));

    /* getdata parameters round-trip; zero or oversized piece sizes are rejected. */
    p2p_getdata g = {.count = 7, .size = 65536, .seed = 0x1122334455667788ull}, h;
    uint8_t gp[P2P_GETDATA_LEN];
    p2p_getdata_encode(gp, &g);
    CHECK(p2p_getdata_decode(gp, sizeof gp, &h) && h.count == 7 && h.size == 65536 && h.seed == g.seed);
    CHECK(!p2p_getdata_decode(gp, sizeof gp - 1, &h));
    g.size = 0;
    p2p_getdata_encode(gp, &g);
    CHECK(!p2p_getdata_decode(gp, sizeof gp, &h));
}
