/* P2P message helpers shared by the peer drivers (peer.c, relay.c, upload.c). */
#ifndef MUXBENCH_LOADGEN_P2PMSG_H
#define MUXBENCH_LOADGEN_P2PMSG_H

#include "../strategies/core/p2p.h"
#include "loadgen.h"

/* The header checksum to send: real SHA256d with --verify-checksum, else 0
 * (the field is then carried, not checked). */
uint32_t lg_p2p_checksum(const lg_conn *c, const uint8_t *payload, size_t len);
/* Decodes and checks a header (command and payload length); on mismatch
 * fails the connection and returns false. */
bool lg_p2p_expect(lg_conn *c, const uint8_t *h, const char *command, uint32_t length, p2p_msg *m);

#endif
