/* Just enough JSON for a JSON-RPC 1.0 request object: finds the top-level
 * "method" string and the raw "id" value, skipping everything else with a
 * validating scanner. Sans-I/O; no allocation. */
#ifndef MUXBENCH_JSONRPC_H
#define MUXBENCH_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *method; size_t method_len; /* raw, without quotes */
    const char *id; size_t id_len;         /* raw JSON text of the id value */
} jsonrpc_request;

/* Returns false when body is not a JSON object (or nests too deeply). */
bool jsonrpc_parse(const char *body, size_t len, jsonrpc_request *out);

#endif
