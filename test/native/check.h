/* A minimal test harness: CHECK records failures and goes on, so one run
 * reports every broken expectation. */
#ifndef MUXBENCH_CHECK_H
#define MUXBENCH_CHECK_H

#include <stdio.h>

extern int checks_failed, checks_passed;

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (cond) checks_passed++;                                                \
        else {                                                                    \
            checks_failed++;                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                         \
    } while (0)

void test_p2p(void);
void test_payload_outq(void);
void test_session_peer(void);
void test_session_http(void);
void test_jsonrpc(void);
void test_hub(void);

#endif
