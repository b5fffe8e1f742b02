/* tests/integration/wire.h — raw bytes to and from pglane for the abuse and TLS tests: building
 * startup-phase packets by hand, reading everything a connection answers until it is closed
 * (bounded), and picking the answer apart (one-byte answers to SSLRequest / GSSENCRequest, then
 * typed messages such as an ErrorResponse). Nothing here assumes the answer is well formed. */
#ifndef PGLANE_TESTS_WIRE_H
#define PGLANE_TESTS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_PROTOCOL_3  196608u
#define WIRE_SSL_REQUEST 80877103u
#define WIRE_GSSENC      80877104u
#define WIRE_CANCEL      80877102u
#define WIRE_REPLY_MAX   (64 * 1024)

/* What a connection answered. */
struct wire_reply {
	uint8_t data[WIRE_REPLY_MAX];
	size_t len;
	bool closed;     /* the peer closed (EOF or reset) */
	int64_t took_ms; /* until the close, or the whole wait */
};

/* A v3 StartupMessage with `n` name/value pairs `kv` (name, value, name, value ...): its
 * length, or 0 when it does not fit `cap`. */
size_t wire_startup(uint8_t *out, size_t cap, const char *const *kv, size_t n);
/* An 8-byte request with `code` (SSLRequest, GSSENCRequest, or anything) and length 8. */
void wire_request(uint8_t out[8], uint32_t code);
/* A typed message: type, length, body. Its size, or 0 when it does not fit. */
size_t wire_msg(uint8_t *out, size_t cap, char type, const void *body, size_t n);

/* Send all of it; false when the peer had closed (never fails the test). */
bool wire_send(int fd, const void *buf, size_t n);
/* Read until the peer closes or `timeout_ms` passes, keeping the first WIRE_REPLY_MAX bytes. */
void wire_read_reply(int fd, int timeout_ms, struct wire_reply *r);
/* Read until at least `want` bytes have come (0: until the close), the peer closes, or
 * `timeout_ms` passes (0: only what is there already). Appends to r->data at r->len. */
void wire_read_some(int fd, size_t want, int timeout_ms, struct wire_reply *r);

/* Skip `skip` one-byte answers, then the first typed message of `r`: its type, or '\0' when
 * there is none whole. For an ErrorResponse, its SQLSTATE ('C', "" when absent) and primary
 * message ('M') go to the buffers (may be NULL). *next (may be NULL) gets the offset after it. */
char wire_message_at(const struct wire_reply *r, size_t skip, char *sqlstate, size_t sn, char *msg,
                     size_t mn, size_t *next);

/* On a new connection to 127.0.0.1:port send `n` bytes, read until closed (5 s at most) and
 * check: closed, and - when `sqlstate` is not NULL - the first message (after `skip` one-byte
 * answers) is an ErrorResponse with that SQLSTATE and a message containing `text` (when not
 * NULL). `sqlstate` "" means "closed without any message". `what` names the case. */
void wire_expect_refusal(int port, const void *bytes, size_t n, size_t skip, const char *sqlstate,
                         const char *text, const char *what);
/* The same on an open connection `fd` (closed afterwards). */
void wire_expect_refusal_fd(int fd, const void *bytes, size_t n, size_t skip, const char *sqlstate,
                            const char *text, const char *what);

/* pglane is alive and a new client runs a query through it (the test fails otherwise); logs
 * `after` and the number of cases run. */
void wire_still_serving(const char *after, int cases);

#endif
