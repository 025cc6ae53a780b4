/* libFuzzer harness for the peer protocol: P2P framing (p2p.c) and what the
 * server does with each frame (session_peer.c), driven through the session
 * API exactly as a strategy drives it (driver.h).
 *
 * A hub with a second, silent peer is attached so that a valid `inv` takes the
 * real relay path (hub_relay queues it on the other session) instead of being
 * dropped for lack of a hub. Checksums are verified on odd first bytes, so
 * both the --verify-checksum and the default server are covered. */
#include "driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    session_stats st = {0};
    hub *h = hub_new(&(hub_opts){0}, &st); /* no workers: replies built inline, deterministic */
    if (!h) return 0;
    session_opts o = {.proto = PROTO_PEER, .verify_checksum = size > 0 && (data[0] & 4), .hub = h};
    session *s = session_new(&o, &st), *other = session_new(&o, &st);
    if (s && other) fuzz_connection(s, h, data, size);
    session_free(s);
    session_free(other);
    hub_free(h);
    return 0;
}
