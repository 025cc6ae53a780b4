/* What the C++ asio server needs from the C core, in declarations C++ can
 * read: the core headers use C11 _Atomic (session_stats, counters.h), which
 * C++ cannot include. Sessions and the hub stay opaque; the functions below
 * are either the core's own (declared again here, unchanged: shim.c includes
 * both headers, so the compiler checks they agree) or small wrappers in
 * shim.c around what takes a server_args, a session_stats or an sc_kind. */
#ifndef MUXBENCH_ASIO_SHIM_H
#define MUXBENCH_ASIO_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct session session;
typedef struct hub hub;

/* --- setup (shim.c) --- */

/* server_args_parse into the shim's own server_args. */
void mx_parse(int argc, char **argv, const char *strategy);
unsigned mx_threads(void);
unsigned mx_handoff(void);
/* server_listen(); *family is AF_INET, AF_INET6 or AF_UNIX. Fatal on failure. */
int mx_listen(int *family);
/* Several threads serve the sessions: statistics additions become atomic
 * (session_stats_shared). Before any session exists. */
void mx_stats_shared(void);
/* hub_new with --handoff workers and this wake-up; the hub goes into every
 * session's options. Fatal on failure. */
hub *mx_hub_start(void (*wake)(void *), void *arg);
/* session_new with the server's options and its one statistics block. */
session *mx_session_new(void);
/* control_start with the parsed arguments, the bound address and the
 * statistics block. */
void mx_start(void);

/* --- counting (shim.c) --- */

/* A receive the kernel performed for io_uring (SC_ASYNC_RECV): res is the
 * byte count (0 at EOF), or -errno. */
void mx_count_recv(long res);
/* A send handed to io_uring (SC_ASYNC_SEND), counted when it is issued with
 * the bytes it asks for; mx_count_send_done corrects that when its result
 * comes back: fewer bytes moved, an error (no bytes), or cancelled (no send
 * at all). */
void mx_count_send_issued(size_t asked);
void mx_count_send_done(size_t asked, long res, bool cancelled);
/* A completion handed to a handler: one event (counters.h "events"). */
void mx_count_event(void);
void mx_count_accepted(void);
void mx_count_closed(void);

/* --- asio-io_uring only (uring.c) --- */

/* Whether asio's io_uring backend can run here; the reason in why. */
bool mx_uring_probe(char *why, size_t n);

/* --- the core, unchanged --- */

extern int g_counting;
void counters_thread_attach(void);
void control_add_loop_thread(void);
void control_set_threading(const char *model);
void control_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

void session_free(session *s);
void session_set_owner(session *s, void *owner);
void *session_owner(const session *s);
void session_input(session *s, const uint8_t *data, size_t len);
bool session_wants_input(const session *s);
size_t session_output_pending(const session *s);
size_t session_output_iov(const session *s, struct iovec *iov, size_t max);
void session_output_done(session *s, size_t n);
bool session_should_close(const session *s);
void session_peer_closed(session *s);

session *hub_next(hub *h);

#ifdef __cplusplus
}
#endif

#endif
