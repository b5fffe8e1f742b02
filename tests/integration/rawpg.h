/* tests/integration/rawpg.h — a raw v3-protocol client for integration tests that must see
 * every message on the wire: it logs in (trust only: AuthenticationOk), then sends messages
 * built by hand (Parse, Bind, Describe, Execute, Close, Sync, Flush, Query) and reads the
 * replies one at a time, each with a timeout.
 *
 * Messages are appended to an output buffer by rawpg_parse() and friends and go out with
 * rawpg_send() (nothing is sent before), so a test controls exactly which messages travel
 * together. Reading: rawpg_read() never fails the test (usable from threads); rawpg_next(),
 * rawpg_expect() and rawpg_expect_seq() fail it with the message that was seen instead.
 *
 * Asynchronous messages (NoticeResponse 'N', ParameterStatus 'S', NotificationResponse 'A')
 * may arrive anywhere: rawpg_next() and the expect helpers skip them (ParameterStatus values
 * are remembered, see rawpg_param()); rawpg_read() returns them. */
#ifndef PGLANE_TESTS_RAWPG_H
#define PGLANE_TESTS_RAWPG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAWPG_TIMEOUT_MS 10000 /* the default wait for one message */
#define RAWPG_MAX_PARAMS 16    /* ParameterStatus values remembered */

/* One message read: valid until the next read on the same connection. */
struct rawpg_msg {
	char type;
	const uint8_t *body; /* borrowed from the connection's input buffer */
	size_t len;
};

enum rawpg_read_result { RAWPG_OK, RAWPG_TIMEOUT, RAWPG_CLOSED, RAWPG_BAD };

struct rawpg {
	int fd;
	const char *who; /* borrowed: names the connection in failure messages */
	uint8_t *in;     /* owned input buffer */
	size_t in_len, in_cap, in_off;
	uint8_t *out; /* owned output buffer */
	size_t out_len, out_cap;
	char tx_status; /* of the last ReadyForQuery */
	/* Filled by the reads: the last ErrorResponse, DataRow and CommandComplete seen. */
	char sqlstate[6];
	char error[256];
	char value[256]; /* the first column of the last DataRow ("NULL" for a null) */
	char tag[64];
	int rows; /* DataRows since the last rawpg_send() */
	size_t nparams;
	char param_name[RAWPG_MAX_PARAMS][64];
	char param_value[RAWPG_MAX_PARAMS][64];
};

/* ---- connection ---- */

/* Log in to 127.0.0.1:port as `user` on `database` with `n` extra startup parameters given as
 * name, value pairs in `extra` (may be NULL); read up to ReadyForQuery. Fails the test when
 * the login does not end in ReadyForQuery within RAWPG_TIMEOUT_MS. */
struct rawpg *rawpg_connect(int port, const char *user, const char *database, const char **extra,
                            size_t n);
/* The same, never failing the test: NULL (and a reason in `err`) on failure. */
struct rawpg *rawpg_connect_try(int port, const char *user, const char *database,
                                const char **extra, size_t n, char *err, size_t errn);
/* Send Terminate (best effort) and close; frees `c`. NULL is ignored. */
void rawpg_close(struct rawpg *c);
/* Close the socket abruptly, without Terminate (the client vanishes); frees `c`. */
void rawpg_vanish(struct rawpg *c);
/* The last ParameterStatus value for `name`, or NULL. */
const char *rawpg_param(const struct rawpg *c, const char *name);

/* ---- building messages (appended to the output buffer) ---- */

/* Parse: statement `name` ("" = unnamed), `sql`, no parameter types. */
void rawpg_parse(struct rawpg *c, const char *name, const char *sql);
/* Bind: portal, statement, `n` text parameters (NULL entries are SQL NULL), text results. */
void rawpg_bind(struct rawpg *c, const char *portal, const char *stmt, const char *const *params,
                size_t n);
/* Describe `kind` 'S' (statement) or 'P' (portal). */
void rawpg_describe(struct rawpg *c, char kind, const char *name);
/* Execute a portal, all rows (max_rows 0). */
void rawpg_execute(struct rawpg *c, const char *portal);
/* Close `kind` 'S' or 'P'. */
void rawpg_close_msg(struct rawpg *c, char kind, const char *name);
void rawpg_sync(struct rawpg *c);
void rawpg_flush(struct rawpg *c);
void rawpg_query(struct rawpg *c, const char *sql);
/* Any message: `type` and a raw body. */
void rawpg_raw(struct rawpg *c, char type, const void *body, size_t len);
/* Bind(unnamed portal, `stmt`, one text parameter, none when `param` is NULL), Execute. */
void rawpg_bind_exec(struct rawpg *c, const char *stmt, const char *param);

/* Write the output buffer; true when all of it went out (never fails the test). Resets the
 * DataRow counter. */
bool rawpg_flush_out(struct rawpg *c);
/* The same, failing the test when the connection is gone. */
void rawpg_send(struct rawpg *c);

/* ---- reading ---- */

/* The next message within timeout_ms (asynchronous ones included). Never fails the test. */
enum rawpg_read_result rawpg_read(struct rawpg *c, int timeout_ms, struct rawpg_msg *out);
/* The next message that is not N, S or A; fails the test on timeout or close. */
struct rawpg_msg rawpg_next(struct rawpg *c, int timeout_ms);
/* The next (non-asynchronous) message must be of `type`; otherwise the test fails, naming
 * what came instead (with the error text for an ErrorResponse). */
struct rawpg_msg rawpg_expect(struct rawpg *c, char type);
/* The next messages must be exactly `types` in order (e.g. "2DCZ"); the test fails at the
 * first difference, showing the types seen so far. */
void rawpg_expect_seq(struct rawpg *c, const char *types);
/* The same, never failing the test: false (and what was seen in `why`) on a difference. */
bool rawpg_check_seq(struct rawpg *c, const char *types, int timeout_ms, char *why, size_t whyn);
/* Read until ReadyForQuery (at most RAWPG_TIMEOUT_MS), skipping everything; fails the test when
 * none comes. Returns the transaction status. */
char rawpg_until_ready(struct rawpg *c);
/* True when nothing at all arrives for `ms` milliseconds (an asynchronous message counts). */
bool rawpg_quiet(struct rawpg *c, int ms);

/* ---- message contents ---- */

/* The text of column `col` of a DataRow into `buf` ("NULL" for a null). False when the
 * message is not a DataRow or has no such column. */
bool rawpg_row_value(const struct rawpg_msg *m, int col, char *buf, size_t n);
/* The SQLSTATE and primary message of an ErrorResponse or NoticeResponse. */
bool rawpg_error_fields(const struct rawpg_msg *m, char *sqlstate, size_t sn, char *msg, size_t mn);

/* ---- whole exchanges ---- */

/* Simple Query `sql` that returns one row: its first column (malloc'ed); fails the test on an
 * error or anything but T D C Z. */
char *rawpg_query_value(struct rawpg *c, const char *sql);
/* Parse(name, sql) Sync: expects exactly ParseComplete, ReadyForQuery. */
void rawpg_prepare(struct rawpg *c, const char *name, const char *sql);
/* Bind(stmt, param) Execute Sync: expects exactly BindComplete, DataRow, CommandComplete,
 * ReadyForQuery and returns the DataRow's first column (malloc'ed). */
char *rawpg_exec_value(struct rawpg *c, const char *stmt, const char *param);
/* Bind(stmt, param) Execute Sync: expects ErrorResponse, ReadyForQuery; returns the SQLSTATE
 * (static storage); the message is left in c->error. */
const char *rawpg_exec_error(struct rawpg *c, const char *stmt, const char *param);

#endif
