/* proxy/requests.h — the answers a server owes, in order, and what pglane answers in their place.
 */
#ifndef PGLANE_PROXY_REQUESTS_H
#define PGLANE_PROXY_REQUESTS_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/buf.h"

struct proxy_client;
struct proxy_server;
struct pool_stmt;

/* What a server owes for each request sent to it, in order (proxy/requests.c). */
enum proxy_req_action {
	REQ_FORWARD, /* the client asked: its answer goes to the client */
	REQ_SKIP,    /* pglane asked: the answer is swallowed */
	REQ_FAKE,    /* nothing was sent: pglane answers in its place when it is next */
};

enum proxy_req_flag {
	REQ_UNNAMED = 1,  /* a Parse of the unnamed statement */
	REQ_INTERNAL = 2, /* pglane's own Query or Sync */
	REQ_RESETS = 4,   /* DISCARD ALL / DEALLOCATE ALL: if it fails, the server is unsure */
	REQ_APPLY = 8,    /* pglane's own Query bringing the server to its client's settings */
	REQ_CAPTURE = 16, /* pglane's own Query asking the server what its session holds */
	REQ_FAILS = 32,   /* pglane's own statement that fails on purpose (its error is not news) */
	REQ_CHECK = 64,   /* server_check_query: an error means the server is not fit */
};

/* What pglane answers for a REQ_FAKE request (proxy_fake_write). */
enum proxy_fake {
	FAKE_NOTHING, /* (an unlinked Sync: only the ReadyForQuery) */
	FAKE_PARSE_COMPLETE,
	FAKE_DUPLICATE, /* 42P05: the statement name `text` exists already */
	FAKE_CLOSE_COMPLETE,
	FAKE_BIND_COMPLETE,
	FAKE_NO_DATA,        /* Describe of a portal that returns no rows */
	FAKE_STATEMENT_DESC, /* Describe of a statement without parameters or rows */
	FAKE_COMMAND,        /* CommandComplete `text` (an Execute) */
	FAKE_QUERY,          /* CommandComplete `text`, ReadyForQuery (a simple Query) */
	FAKE_REFUSED,        /* ErrorResponse 0A000 `text` (a Query: and ReadyForQuery) */
};

struct proxy_req {
	uint8_t type;           /* the request: P B C D E S Q F */
	uint8_t action;         /* enum proxy_req_action */
	uint8_t flags;          /* enum proxy_req_flag */
	uint8_t fake;           /* REQ_FAKE: enum proxy_fake */
	uint32_t text_seq;      /* Query / Execute: which text of the server's it ran (0: none) */
	int64_t start_us;       /* when it was sent */
	struct pool_stmt *stmt; /* a reference: the statement a Parse prepares or a Close
	                           evicts, or an Execute runs */
	char *name;             /* owned: the client's name of a Parse (undone if it fails), or
	                           the text of a FAKE answer */
};

struct proxy_reqq {
	struct proxy_req *r; /* owned ring */
	uint32_t cap, head, n;
};

/* Record a request sent to (or answered for) the server; false when out of memory. */
__attribute__((warn_unused_result)) bool proxy_req_push(struct proxy_server *s, uint8_t type,
                                                        enum proxy_req_action action,
                                                        struct pool_stmt *stmt, unsigned flags);
/* Give the request recorded last the client's statement name (copied). */
__attribute__((warn_unused_result)) bool proxy_req_name_tail(struct proxy_server *s,
                                                             const char *name);
/* The oldest request not yet answered, or NULL. */
struct proxy_req *proxy_req_head(struct proxy_server *s);
/* It was answered. */
void proxy_req_pop(struct proxy_server *s);
/* Forget every request (the server is closing). */
void proxy_req_clear(struct proxy_server *s);
/* The request recorded last. */
struct proxy_req *proxy_req_tail(struct proxy_server *s);
/* Keep a statement text on the server for the slow query log; returns its sequence. */
uint32_t proxy_req_keep_text(struct proxy_server *s, const char *text, size_t len);
/* When the statement the server works on now started (0: none runs). */
int64_t proxy_req_running_since(struct proxy_server *s);
/* Does server message `type` finish request `req`? */
bool proxy_req_completes(uint8_t req, uint8_t type);
/* An ErrorResponse answered an extended-protocol request: it and the rest of the batch up to
 * the Sync get no answer; statements it would have prepared are not there. */
void proxy_req_fail_batch(struct proxy_server *s);
/* Record a request pglane answers itself with `fake` (text: see enum proxy_fake, copied). */
__attribute__((warn_unused_result)) bool proxy_req_fake(struct proxy_server *s, uint8_t type,
                                                        enum proxy_fake fake, const char *text);
/* Write the answer `fake` (tx: the transaction status for a ReadyForQuery). */
void proxy_fake_write(struct proto_writer *w, enum proxy_fake fake, const char *text, uint8_t tx);
/* Write pglane's answers for FAKE requests now at the head to `c` (NULL: drop them). False
 * when the client's output has no room (call again after it drained). */
__attribute__((warn_unused_result)) bool proxy_req_emit_fakes(struct proxy_server *s,
                                                              struct proxy_client *c);

#endif
