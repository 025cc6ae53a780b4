/* Seeded payload generator and verification, shared by servers and the load
 * generator so both sides agree on every byte without exchanging it.
 *
 * A "pattern" holds pseudo-random bytes from splitmix64. Piece i of a stream
 * (a P2P block payload, or a 64 KiB piece of an HTTP body) is a slice of the
 * pattern starting at one of PAYLOAD_SLOTS offsets picked by a hash of the
 * stream's seed and i. Producing a piece costs no computation (a pointer into
 * the pattern), and the receiver checks each piece with XXH3 against a small
 * table of expected hashes, so every byte is verified, in order. */
#ifndef MUXBENCH_PAYLOAD_H
#define MUXBENCH_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#define PAYLOAD_SLOTS 64u
#define PAYLOAD_STRIDE 4099u /* odd, so slices are not aligned copies of each other */
#define PAYLOAD_MAX_PIECE 4000000u

/* The pattern and its slot hashes depend only on the piece size, so they are
 * built once per size and shared by every source (thread-safe, never freed):
 * starting a stream costs nothing, even with a fresh seed per connection. */
typedef struct payload_pattern payload_pattern;

typedef struct {
    uint64_t seed;               /* picks the slot of every piece */
    size_t piece_size;           /* full-piece size this source serves */
    const payload_pattern *pat;
} payload_src;

/* Returns 0, or -1 when piece_size is 0 or above PAYLOAD_MAX_PIECE, or on ENOMEM. */
int payload_init(payload_src *src, uint64_t seed, size_t piece_size);
void payload_free(payload_src *src);

/* Bytes of piece `index`; `len` may be shorter than piece_size for a final piece. */
const uint8_t *payload_piece(const payload_src *src, uint64_t index, size_t len);

/* Expected XXH3-64 of piece `index` of length len (table lookup for full pieces). */
uint64_t payload_expected_hash(const payload_src *src, uint64_t index, size_t len);

/* XXH3-64 of a buffer, and a streaming state for pieces received in fragments. */
uint64_t payload_hash(const void *data, size_t len);
typedef struct payload_hasher payload_hasher;
payload_hasher *payload_hasher_new(void);
void payload_hasher_free(payload_hasher *h);
void payload_hasher_reset(payload_hasher *h);
void payload_hasher_update(payload_hasher *h, const void *data, size_t len);
uint64_t payload_hasher_digest(const payload_hasher *h);

uint64_t splitmix64(uint64_t *state);

#endif
