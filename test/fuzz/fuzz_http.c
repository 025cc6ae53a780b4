/* libFuzzer harness for the HTTP side: llhttp callbacks, routing, JSON-RPC
 * parsing (jsonrpc.c) and the streamed /bulk body (session_http.c), driven
 * through the session API exactly as a strategy drives it (driver.h).
 * Pipelined requests, keep-alive and Connection: close all come from the
 * input itself. */
#include "driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    session_stats st = {0};
    session_opts o = {.proto = PROTO_HTTP};
    session *s = session_new(&o, &st);
    if (s) fuzz_connection(s, NULL, data, size);
    session_free(s);
    return 0;
}
