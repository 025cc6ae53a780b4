#include "reply.h"

#include <stdlib.h>
#include <string.h>

void reply_init(reply *r, outq *direct) {
    /* Field by field: clearing `small` too would cost more than the reply. */
    r->direct = direct;
    r->buf = r->small;
    r->len = 0;
    r->cap = sizeof r->small;
    r->oom = false;
    r->messages = 0;
    r->payload_bytes = 0;
    r->relay = r->close = r->protocol_error = false;
    r->stream = STREAM_NONE;
    r->seed = r->piece_size = r->pieces = r->body_bytes = 0;
    r->upload_start = r->upload_block = false;
}

void reply_emit(reply *r, const void *data, size_t len) {
    if (r->oom || len == 0) return;
    if (r->direct) {
        if (outq_append(r->direct, data, len) != 0) r->oom = true;
        return;
    }
    if (r->len + len > r->cap) {
        size_t ncap = r->cap * 2;
        while (ncap < r->len + len) ncap *= 2;
        uint8_t *n = r->buf == r->small ? malloc(ncap) : realloc(r->buf, ncap);
        if (!n) {
            r->oom = true;
            return;
        }
        if (r->buf == r->small) memcpy(n, r->small, r->len);
        r->buf = n;
        r->cap = ncap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
}

void reply_free(reply *r) {
    if (r->buf != r->small) free(r->buf);
    r->buf = r->small;
    r->len = 0;
    r->cap = sizeof r->small;
}
