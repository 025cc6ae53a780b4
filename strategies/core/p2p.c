#include "p2p.h"

#include <string.h>

#include <openssl/sha.h>

const char *p2p_status_name(p2p_status st) {
    switch (st) {
    case P2P_OK: return "ok";
    case P2P_NEED_MORE: return "need more bytes";
    case P2P_BAD_MAGIC: return "bad magic";
    case P2P_BAD_COMMAND: return "malformed command";
    case P2P_TOO_LARGE: return "payload length over the 4,000,000-byte limit";
    case P2P_BAD_CHECKSUM: return "checksum mismatch";
    }
    return "unknown";
}

/* A command is printable ASCII followed only by NUL padding (as Bitcoin Core
 * checks it); an empty command is malformed. */
static int command_valid(const uint8_t *c) {
    size_t i = 0;
    while (i < P2P_COMMAND_LEN && c[i] != 0) {
        if (c[i] < 0x20 || c[i] > 0x7e) return 0;
        i++;
    }
    if (i == 0) return 0;
    for (; i < P2P_COMMAND_LEN; i++)
        if (c[i] != 0) return 0;
    return 1;
}

p2p_status p2p_decode_header(const uint8_t *buf, size_t len, p2p_msg *out) {
    /* Check the magic as soon as 4 bytes are there, so garbage is rejected
     * without waiting for a full header. */
    if (len >= 4 && p2p_le32(buf) != P2P_MAGIC) return P2P_BAD_MAGIC;
    if (len < P2P_HEADER_LEN) return P2P_NEED_MORE;
    if (!command_valid(buf + 4)) return P2P_BAD_COMMAND;
    out->length = p2p_le32(buf + 16);
    if (out->length > P2P_MAX_PAYLOAD) return P2P_TOO_LARGE;
    memcpy(out->command, buf + 4, P2P_COMMAND_LEN);
    out->command[P2P_COMMAND_LEN] = 0;
    out->checksum = p2p_le32(buf + 20);
    out->payload = NULL;
    return P2P_OK;
}

p2p_status p2p_decode(const uint8_t *buf, size_t len, bool verify_checksum,
                      p2p_msg *out, size_t *consumed) {
    p2p_status st = p2p_decode_header(buf, len, out);
    if (st != P2P_OK) return st;
    if (len - P2P_HEADER_LEN < out->length) return P2P_NEED_MORE;
    out->payload = buf + P2P_HEADER_LEN;
    if (verify_checksum && p2p_checksum(out->payload, out->length) != out->checksum)
        return P2P_BAD_CHECKSUM;
    *consumed = P2P_HEADER_LEN + out->length;
    return P2P_OK;
}

void p2p_encode_header(uint8_t out[P2P_HEADER_LEN], const char *command,
                       uint32_t length, uint32_t checksum) {
    p2p_put_le32(out, P2P_MAGIC);
    memset(out + 4, 0, P2P_COMMAND_LEN);
    size_t n = strnlen(command, P2P_COMMAND_LEN);
    memcpy(out + 4, command, n);
    p2p_put_le32(out + 16, length);
    p2p_put_le32(out + 20, checksum);
}

uint32_t p2p_checksum(const uint8_t *payload, size_t len) {
    uint8_t h1[SHA256_DIGEST_LENGTH], h2[SHA256_DIGEST_LENGTH];
    SHA256(payload, len, h1);
    SHA256(h1, sizeof h1, h2);
    return p2p_le32(h2);
}

void p2p_getdata_encode(uint8_t out[P2P_GETDATA_LEN], const p2p_getdata *g) {
    p2p_put_le32(out, g->count);
    p2p_put_le32(out + 4, g->size);
    p2p_put_le64(out + 8, g->seed);
}

bool p2p_getdata_decode(const uint8_t *payload, size_t len, p2p_getdata *g) {
    if (len != P2P_GETDATA_LEN) return false;
    g->count = p2p_le32(payload);
    g->size = p2p_le32(payload + 4);
    g->seed = p2p_le64(payload + 8);
    return g->size > 0 && g->size <= P2P_MAX_PAYLOAD;
}
