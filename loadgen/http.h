/* HTTP pieces shared by http.c (http-rpc, http-bulk) and churn.c (http-churn). */
#ifndef MUXBENCH_LOADGEN_HTTP_H
#define MUXBENCH_LOADGEN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "loadgen.h"

#define LG_RPC_REQ_MAX 256u   /* bytes of one JSON-RPC request, at most */
#define LG_RPC_HEIGHT 870000u /* what getblockcount answers */

#define LG_RPC_REPLY_MAX 512u /* a getblockcount reply is ~50 bytes */

/* A JSON-RPC reply body collected across reads (no allocation in the window). */
typedef struct {
    uint32_t len;
    char text[LG_RPC_REPLY_MAX + 1];
} lg_rpc_body;

/* llhttp on_body for drivers whose state is lg_rpc_body *body_of(c): appends,
 * failing the connection when the reply outgrows the buffer. */
int lg_rpc_body_append(lg_conn *c, lg_rpc_body *b, const char *at, size_t len);
/* on_headers_complete for JSON-RPC replies: the oldest request's id is expected. */
int lg_rpc_on_headers_complete(llhttp_t *p);

/* Writes a getblockcount request with JSON-RPC id `id` (with
 * "Connection: close" when close); returns its length (< LG_RPC_REQ_MAX). */
size_t lg_rpc_request(char *out, uint64_t id, bool close);
/* Checks a reply body: numeric id equal to `id`, result LG_RPC_HEIGHT.
 * Fails c (and returns false) otherwise. */
bool lg_rpc_reply_check(lg_conn *c, const char *body, uint64_t id);
/* Response head checks (a request outstanding, status 200, a body length);
 * parser->data is the connection. Returns 0, or -1 after failing it. */
int lg_http_check_head(llhttp_t *p, const char *what, uint64_t id);
/* Runs llhttp over the bytes; a parse error fails the connection. */
void lg_http_feed(lg_conn *c, llhttp_t *parser, const uint8_t *data, size_t len);

#endif
