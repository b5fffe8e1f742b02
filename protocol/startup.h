/* protocol/startup.h — the startup-phase packets: StartupMessage (v3 parameters),
 * SSLRequest, GSSENCRequest and CancelRequest, parsed and built. */
#ifndef PGLANE_PROTOCOL_STARTUP_H
#define PGLANE_PROTOCOL_STARTUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/buf.h"

#define PROTO_VERSION_3           (3 << 16)
#define PROTO_CANCEL_REQUEST_CODE ((1234 << 16) | 5678) /* 80877102 */
#define PROTO_SSL_REQUEST_CODE    ((1234 << 16) | 5679) /* 80877103 */
#define PROTO_GSSENC_REQUEST_CODE ((1234 << 16) | 5680) /* 80877104 */
#define PROTO_CANCEL_REQUEST_LEN  16
#define PROTO_STARTUP_MAX_PARAMS  64
#define PROTO_NAMEDATALEN         64 /* PostgreSQL identifiers: 63 bytes + NUL */

enum proto_startup_kind {
	PROTO_STARTUP_V3,
	PROTO_STARTUP_SSL,
	PROTO_STARTUP_GSSENC,
	PROTO_STARTUP_CANCEL,
	PROTO_STARTUP_UNSUPPORTED, /* a protocol version other than 3.x */
};

struct proto_startup_param {
	const char *name; /* borrowed from the packet */
	const char *value;
};

struct proto_startup {
	enum proto_startup_kind kind;
	uint32_t code; /* version or request code as sent */
	/* PROTO_STARTUP_CANCEL */
	int32_t cancel_pid;
	int32_t cancel_key;
	/* PROTO_STARTUP_V3: every name/value pair in order; user is required, database
	 * defaults to user (as PostgreSQL does). Pointers borrowed from the packet. */
	size_t nparams;
	struct proto_startup_param params[PROTO_STARTUP_MAX_PARAMS];
	const char *user;
	const char *database;
};

/* Parse a whole startup-phase packet (`p`, `len` as framed by proto_startup_frame(),
 * length field included). False when malformed: a length field other than `len`, `len`
 * outside 8..PROTO_MAX_STARTUP_LEN, a v3 packet whose final NUL is missing or not its last
 * byte, a name without a value, a parameter named twice, more than PROTO_STARTUP_MAX_PARAMS
 * pairs, no or empty `user`, a user or database name of PROTO_NAMEDATALEN bytes or more, a
 * cancel request of other than PROTO_CANCEL_REQUEST_LEN bytes, an SSL or GSSENC request of
 * other than 8 bytes. A well-formed packet with another protocol version is true with kind
 * PROTO_STARTUP_UNSUPPORTED (only `code` set). On false, `out` holds no parameters. */
__attribute__((warn_unused_result)) bool proto_startup_parse(const uint8_t *p, size_t len,
                                                             struct proto_startup *out);

/* The value of parameter `name` in a parsed v3 startup, or NULL. */
const char *proto_startup_get(const struct proto_startup *s, const char *name);

/* One `-c name=value` of a start-up `options` parameter. */
struct proto_option {
	const char *name; /* in the caller's buffer; '-' made '_' as PostgreSQL does */
	const char *value;
};

/* Split a start-up `options` value as PostgreSQL does (words at unescaped whitespace, a
 * backslash escaping the next character), each setting given as "-c name=value", "-c" then
 * "name=value", "-cname=value" or "--name=value". Words are unescaped into `buf` (at least
 * strlen(opts) + 1 bytes). Returns the number of settings put in `out` (`cap` of them at
 * most); -1 when a word is no such setting (the word, or its start, goes to `bad`), -2 when
 * there are more than `cap`. */
int proto_startup_options(const char *opts, char *buf, struct proto_option *out, size_t cap,
                          char *bad, size_t badcap);

/* Build a v3 StartupMessage with `user`, `database` (omitted when NULL or empty) and `n`
 * extra pairs; extra pairs named "user" or "database" are skipped (never sent twice). */
void proto_write_startup(struct proto_writer *w, const char *user, const char *database,
                         const struct proto_startup_param *extra, size_t n);
void proto_write_ssl_request(struct proto_writer *w);
void proto_write_cancel_request(struct proto_writer *w, int32_t pid, int32_t key);

#endif
