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

/* One pattern (of PAYLOAD_PATTERN_LEN bytes, from a fixed seed) serves every
 * piece size: a piece is a prefix of the slice at its slot's offset. Starting
 * a stream therefore allocates nothing, whatever seed or size a client asks
 * for. Expected hashes (needed only by receivers) are tabulated per piece
 * size on first use. */
#define PAYLOAD_PATTERN_LEN ((size_t)(PAYLOAD_SLOTS - 1) * PAYLOAD_STRIDE + PAYLOAD_MAX_PIECE)

typedef struct {
    uint64_t seed;     /* picks the slot of every piece */
    size_t piece_size; /* full-piece size of this stream */
    const uint8_t *pattern;
    const uint64_t *slot_hash; /* receivers: expected hashes for piece_size, set on first use */
} payload_src;

/* Returns 0, or -1 when piece_size is 0 or above PAYLOAD_MAX_PIECE, or on ENOMEM
 * (the shared pattern is built on first use). */
int payload_init(payload_src *src, uint64_t seed, size_t piece_size);
void payload_free(payload_src *src);

/* Builds the shared pattern now, so the first stream does not pay for it
 * inside a measured window. Returns 0 or -1 on ENOMEM. */
int payload_warm(void);
/* Receivers: tabulates the expected hashes of src's piece size now (for the
 * same reason). Returns 0 or -1 on ENOMEM. */
int payload_prepare_hashes(payload_src *src);

/* Bytes of piece `index`; `len` may be shorter than piece_size for a final piece. */
const uint8_t *payload_piece(const payload_src *src, uint64_t index, size_t len);

/* Expected XXH3-64 of piece `index` of length len: a table lookup for full
 * pieces (the table for a size is built once, thread-safely, on first use). */
uint64_t payload_expected_hash(payload_src *src, uint64_t index, size_t len);

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
