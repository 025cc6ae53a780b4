/* Bitcoin P2P v1 message framing, sans-I/O.
 *
 * A message is a 24-byte header followed by the payload:
 *   magic    u32 LE  0xD9B4BEF9 (mainnet)
 *   command  char[12], printable ASCII, NUL-padded
 *   length   u32 LE  payload length, at most P2P_MAX_PAYLOAD
 *   checksum u32     first 4 bytes of SHA256(SHA256(payload))
 * Nothing here touches a socket: callers hand in bytes and get messages out. */
#ifndef MUXBENCH_P2P_H
#define MUXBENCH_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P2P_MAGIC 0xD9B4BEF9u
#define P2P_HEADER_LEN 24u
#define P2P_COMMAND_LEN 12u
#define P2P_MAX_PAYLOAD 4000000u

typedef enum {
    P2P_OK = 0,        /* a whole message was decoded */
    P2P_NEED_MORE,     /* not enough bytes yet; nothing consumed */
    P2P_BAD_MAGIC,     /* protocol errors: the peer must be disconnected */
    P2P_BAD_COMMAND,
    P2P_TOO_LARGE,
    P2P_BAD_CHECKSUM,
} p2p_status;

typedef struct {
    char command[P2P_COMMAND_LEN + 1]; /* NUL-terminated copy */
    uint32_t length;
    uint32_t checksum;
    const uint8_t *payload; /* points into the caller's buffer (full messages only) */
} p2p_msg;

const char *p2p_status_name(p2p_status st);

/* Decodes only the header (needs P2P_HEADER_LEN bytes). Used by receivers that
 * stream large payloads instead of buffering them. payload is left NULL. */
p2p_status p2p_decode_header(const uint8_t *buf, size_t len, p2p_msg *out);

/* Decodes one complete message from buf. On P2P_OK, *consumed is the message's
 * total size. With verify_checksum, the SHA256d checksum is checked. */
p2p_status p2p_decode(const uint8_t *buf, size_t len, bool verify_checksum,
                      p2p_msg *out, size_t *consumed);

/* Writes a header. Pass the checksum from p2p_checksum(), or 0 when the
 * scenario does not verify checksums (the field is then carried, not checked). */
void p2p_encode_header(uint8_t out[P2P_HEADER_LEN], const char *command,
                       uint32_t length, uint32_t checksum);

/* First 4 bytes of SHA256d(payload), as the u32 stored in the header. */
uint32_t p2p_checksum(const uint8_t *payload, size_t len);

/* Benchmark-specific "getdata" payload: ask the server to stream `count`
 * block messages of `size` payload bytes drawn from the seeded generator.
 * (Real getdata carries inventory vectors; the request is parameterised here
 * so the server stays stateless about the scenario.) */
#define P2P_GETDATA_LEN 16u
typedef struct {
    uint32_t count;
    uint32_t size;
    uint64_t seed;
} p2p_getdata;
void p2p_getdata_encode(uint8_t out[P2P_GETDATA_LEN], const p2p_getdata *g);
bool p2p_getdata_decode(const uint8_t *payload, size_t len, p2p_getdata *g);

static inline uint32_t p2p_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t p2p_le64(const uint8_t *p) {
    return (uint64_t)p2p_le32(p) | (uint64_t)p2p_le32(p + 4) << 32;
}
static inline void p2p_put_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void p2p_put_le64(uint8_t *p, uint64_t v) {
    p2p_put_le32(p, (uint32_t)v); p2p_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
