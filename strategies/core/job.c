#include "job.h"

#include <stdlib.h>
#include <string.h>

void job_work(job *j) {
    if (j->kind == REQ_HTTP) http_work(j);
    else peer_work(j);
}

static char *dup_text(const char *t) {
    return t ? strdup(t) : NULL;
}

job *job_clone(const job *src) {
    job *j = malloc(sizeof *j);
    if (!j) return NULL;
    *j = *src;
    reply_init(&j->r, NULL); /* a worker builds into the job, never into a session */
    j->owned = true;
    j->data = NULL;
    j->url = j->query = NULL;
    uint8_t *d = src->len ? malloc(src->len) : NULL;
    if (src->len && !d) goto fail;
    if (d) memcpy(d, src->data, src->len);
    j->data = d;
    if ((src->url && !(j->url = dup_text(src->url))) || (src->query && !(j->query = dup_text(src->query))))
        goto fail;
    return j;
fail:
    job_free(j);
    return NULL;
}

void job_free(job *j) {
    if (!j) return;
    reply_free(&j->r);
    if (j->owned) {
        free((void *)j->data);
        free((void *)j->url);
        free((void *)j->query);
        free(j);
    }
}
