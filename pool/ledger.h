/* pool/ledger.h — the ledger of a server connection: what it owes, in order, and what its
 * answers mean.
 *
 * Every request sent to a server (or answered by pglane in its place) is recorded; each whole
 * message of the server is matched to the oldest one (pool_ledger_answer()) to decide whether
 * it reaches the client, what it does to the ledger (the transaction status, the batch an
 * error ends, the statements a failed Parse or skipped Close leave where they were) and what
 * the proxy must do about it (events). pglane's own answers (POOL_REQ_FAKE: a ParseComplete
 * for a statement the server already has, a CloseComplete, a DEALLOCATE) wait in the same
 * queue and are written when their turn comes (pool_ledger_write_fake()), so that the client
 * sees exactly what a lone server would say. The ledger also keeps the statement texts the
 * slow query log names (the last Query or unnamed statement, the statement of the last Bind).
 *
 * Pure: no sockets, no clock (callers pass `now_us`), no allocation beyond the queue growing
 * and the kept names and text. The proxy does the statistics and the slow log through the
 * `done` hook (pool_ledger_init()). */
#ifndef PGLANE_POOL_LEDGER_H
#define PGLANE_POOL_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/stmt.h"
#include "protocol/buf.h"
#include "protocol/frame.h"
#include "protocol/msg.h"

/* Who the answer to a request is for. */
enum pool_req_action {
	POOL_REQ_FORWARD, /* the client asked: its answer goes to the client */
	POOL_REQ_SKIP,    /* pglane asked: the answer is swallowed */
	POOL_REQ_FAKE,    /* nothing was sent: pglane answers in its place when it is next */
};

enum pool_req_flag {
	POOL_REQ_UNNAMED = 1,  /* a Parse of the unnamed statement */
	POOL_REQ_INTERNAL = 2, /* pglane's own Query or Sync */
	POOL_REQ_RESETS = 4,   /* DISCARD ALL / DEALLOCATE ALL: if it fails, the server is unsure */
	POOL_REQ_APPLY = 8,    /* pglane's own Query bringing the server to its client's settings */
	POOL_REQ_CAPTURE = 16, /* pglane's own Query asking the server what its session holds */
	POOL_REQ_FAILS = 32,   /* pglane's own statement that fails on purpose (no news) */
	POOL_REQ_CHECK = 64,   /* server_check_query: an error means the server is not fit */
};

/* What pglane answers for a POOL_REQ_FAKE request (pool_ledger_write_fake()). */
enum pool_fake {
	POOL_FAKE_NOTHING, /* (an unlinked Sync: only the ReadyForQuery) */
	POOL_FAKE_PARSE_COMPLETE,
	POOL_FAKE_DUPLICATE, /* 42P05: the statement name `text` exists already */
	POOL_FAKE_CLOSE_COMPLETE,
	POOL_FAKE_BIND_COMPLETE,
	POOL_FAKE_NO_DATA,        /* Describe of a portal that returns no rows */
	POOL_FAKE_STATEMENT_DESC, /* Describe of a statement without parameters or rows */
	POOL_FAKE_COMMAND,        /* CommandComplete `text` (an Execute) */
	POOL_FAKE_QUERY,          /* CommandComplete `text`, ReadyForQuery (a simple Query) */
	POOL_FAKE_REFUSED,        /* ErrorResponse 0A000 `text` (a Query: and ReadyForQuery) */
	POOL_FAKE_IN_PIPELINE,    /* ErrorResponse 25001: `text` cannot be executed within a
	                             pipeline (an Execute after another, before the Sync) */
};

struct pool_req {
	uint8_t type;           /* the request: P B C D E S Q F */
	uint8_t action;         /* enum pool_req_action */
	uint8_t flags;          /* enum pool_req_flag */
	uint8_t fake;           /* POOL_REQ_FAKE: enum pool_fake */
	uint32_t text_seq;      /* Query / Execute: which text of the ledger's it ran (0: none) */
	int64_t start_us;       /* when it was sent */
	struct pool_stmt *stmt; /* a reference: the statement a Parse prepares or a Close
	                           evicts, or an Execute runs */
	char *name;             /* owned: the client's name of a Parse (undone if it fails), or
	                           the text of a FAKE answer */
};

struct pool_ledger;

/* A request was answered (popped): told to the `done` hook when it was a statement of the
 * client's, or when nothing is owed any more. */
struct pool_ledger_done {
	const struct pool_req *req; /* the request answered (its statement still referenced) */
	int64_t now_us;
	int64_t run_us;  /* a client's statement (Query, Execute, FunctionCall): how long it ran
	                    (from when it was sent or the one before it was answered); -1 when
	                    `req` is not one */
	int64_t busy_us; /* the last ReadyForQuery owed came: how long it was owed; -1 else */
	bool idle;       /* no ReadyForQuery is owed now */
};

typedef void pool_ledger_done_fn(struct pool_ledger *l, const struct pool_ledger_done *d);

struct pool_ledger {
	struct pool_req *r; /* owned ring: answers owed, oldest first */
	uint32_t cap, head, n;
	int pending;             /* ReadyForQuery messages still expected */
	int internal;            /* of those, the first ones answer pglane's own queries */
	uint8_t tx_status;       /* from the last ReadyForQuery (0 before the first) */
	bool unsynced;           /* extended-protocol messages sent since the last Sync */
	bool ext_error;          /* an extended-protocol error: the server ignores all until Sync */
	bool copy_in;            /* the server waits for CopyData from the client */
	int64_t query_start_us;  /* when `pending` went from 0 to 1 */
	int64_t txn_since_us;    /* its client's transaction (explicit, or one statement's) runs
	                            since; 0 when none */
	int64_t last_done_us;    /* when the last statement or ReadyForQuery was answered */
	uint32_t unnamed_client; /* whose unnamed statement the server holds (client id, 0: none) */
	uint32_t unnamed_seq;    /* ... and which of its Parses */
	/* statement texts for the slow query log */
	char *text; /* owned; the last Query or unnamed statement text */
	uint32_t text_len;
	uint32_t text_seq;
	struct pool_stmt *bound;   /* a reference: the named statement of the last Bind */
	uint32_t bound_seq;        /* or the text of its unnamed one */
	pool_ledger_done_fn *done; /* borrowed; may be NULL */
};

/* An empty ledger; `done` (may be NULL) hears of answered statements and idleness. */
void pool_ledger_init(struct pool_ledger *l, pool_ledger_done_fn *done);
/* Forget every request (popped, the hook told) and free what the ledger owns; it is empty and
 * can be used again. */
void pool_ledger_clear(struct pool_ledger *l, int64_t now_us);

/* Record a request sent to (or answered for) the server; false when out of memory (nothing
 * recorded). `stmt` (may be NULL) is referenced. */
__attribute__((warn_unused_result)) bool pool_ledger_push(struct pool_ledger *l, uint8_t type,
                                                          enum pool_req_action action,
                                                          struct pool_stmt *stmt, unsigned flags,
                                                          int64_t now_us);
/* Record a request pglane answers itself with `fake` (`stmt` may be NULL; `text`: see enum
 * pool_fake, copied; may be NULL). False when out of memory. */
__attribute__((warn_unused_result)) bool pool_ledger_fake(struct pool_ledger *l, uint8_t type,
                                                          enum pool_fake fake,
                                                          struct pool_stmt *stmt, const char *text,
                                                          int64_t now_us);
/* Give the request recorded last the client's statement name (copied). */
__attribute__((warn_unused_result)) bool pool_ledger_name_tail(struct pool_ledger *l,
                                                               const char *name);
/* It (the head) was answered. */
void pool_ledger_pop(struct pool_ledger *l, int64_t now_us);

/* The oldest request not yet answered, or NULL. */
static inline struct pool_req *pool_ledger_head(const struct pool_ledger *l)
{
	return l->n ? &l->r[l->head] : NULL;
}

/* The request recorded last, or NULL. */
static inline struct pool_req *pool_ledger_tail(const struct pool_ledger *l)
{
	return l->n ? &l->r[(l->head + l->n - 1) % l->cap] : NULL;
}

/* Is the answer at the head pglane's own to write? */
static inline bool pool_ledger_fake_next(const struct pool_ledger *l)
{
	return l->n && l->r[l->head].action == POOL_REQ_FAKE;
}

/* Does the server's next message go to the client (when one is `linked`)? */
static inline bool pool_ledger_forwards(const struct pool_ledger *l, bool linked)
{
	return linked && (!l->n || l->r[l->head].action == POOL_REQ_FORWARD);
}

/* Are the rows at the head read by pglane (a capture's)? */
static inline bool pool_ledger_capturing(const struct pool_ledger *l)
{
	return l->n && (l->r[l->head].flags & POOL_REQ_CAPTURE);
}

/* Nothing owed, no batch open, no transaction: the server may go back to the pool. */
static inline bool pool_ledger_idle(const struct pool_ledger *l)
{
	return !l->pending && !l->unsynced && !l->n && l->tx_status == PROTO_TX_IDLE;
}

/* Is something of the client's (not pglane's own queries) still owed? */
static inline bool pool_ledger_running(const struct pool_ledger *l)
{
	return l->n > (uint32_t)l->internal;
}

/* A message of the client's of `type` is sent to the server: a Sync ends its batch (and an
 * error's skipping), P B D E C H open one. */
static inline void pool_ledger_sent(struct pool_ledger *l, uint8_t type)
{
	switch (type) {
	case PROTO_FE_SYNC:
		l->unsynced = false;
		l->ext_error = false;
		break;
	case PROTO_FE_PARSE:
	case PROTO_FE_BIND:
	case PROTO_FE_DESCRIBE:
	case PROTO_FE_EXECUTE:
	case PROTO_FE_CLOSE:
	case PROTO_FE_FLUSH:
		l->unsynced = true;
		break;
	default:
		break;
	}
}

/* What a client is owed when its server connection dies under it (pool_ledger_owed()). */
struct pool_ledger_owed {
	uint32_t units;  /* requests of the client's ended by a Query, FunctionCall or Sync still
	                    owed their ReadyForQuery, oldest first */
	bool open;       /* and after them an extended-protocol batch whose Sync is still to come */
	bool copy;       /* the server waits for the client's COPY data (the first unit's) */
	bool copy_query; /* ... of a simple Query (else of an Execute) */
	bool in_block;   /* the client was inside a transaction block */
};
/* Count what the client is owed: pglane's own requests are not. */
void pool_ledger_owed(const struct pool_ledger *l, struct pool_ledger_owed *o);

/* When the statement the server works on now started (0: none runs). */
int64_t pool_ledger_running_since(const struct pool_ledger *l);
/* Does server message `type` finish request `req`? */
static inline bool pool_ledger_completes(uint8_t req, uint8_t type)
{
	switch (req) {
	case PROTO_FE_PARSE:
		return type == PROTO_BE_PARSE_COMPLETE;
	case PROTO_FE_BIND:
		return type == PROTO_BE_BIND_COMPLETE;
	case PROTO_FE_CLOSE:
		return type == PROTO_BE_CLOSE_COMPLETE;
	case PROTO_FE_DESCRIBE:
		return type == PROTO_BE_ROW_DESCRIPTION || type == PROTO_BE_NO_DATA;
	case PROTO_FE_EXECUTE:
		return type == PROTO_BE_COMMAND_COMPLETE || type == PROTO_BE_EMPTY_QUERY ||
		       type == PROTO_BE_PORTAL_SUSPENDED;
	default:
		return type == PROTO_BE_READY;
	}
}

/* ---- statement bookkeeping ---- */
/* Keep a statement text for the slow query log (at most POOL_SLOW_TEXT_MAX bytes); returns
 * its sequence (0: out of memory). */
uint32_t pool_ledger_keep_text(struct pool_ledger *l, const char *text, size_t len);
/* The text the slow query log names `e` by (NULL: not kept). */
const char *pool_ledger_text(const struct pool_ledger *l, const struct pool_req *e, size_t *len);
/* A Bind of the named statement `stmt` (referenced; NULL: none or unknown), or of the unnamed
 * one whose text is `text` (NULL: unknown): what the Executes after it run. */
void pool_ledger_bind(struct pool_ledger *l, struct pool_stmt *stmt, const char *text, size_t len);
/* The Execute recorded last runs what was bound last. */
void pool_ledger_execute(struct pool_ledger *l);

/* ---- the server's answers ---- */
/* What pool_ledger_answer() tells the proxy to do besides forwarding. */
enum pool_ledger_event {
	POOL_LED_BAD = 1,           /* malformed: close the server */
	POOL_LED_COUNTED = 2,       /* a ReadyForQuery of the client's: one more query */
	POOL_LED_SESSION_READY = 4, /* an apply or capture ended (status in `tx`) */
	POOL_LED_SESSION_ERROR = 8, /* an apply or capture failed (the message says why) */
	POOL_LED_SESSION_ROW = 16,  /* a row of a capture */
	POOL_LED_CHECK_FAILED = 32, /* server_check_query failed */
	POOL_LED_CLOSE = 64,        /* the server is unsure: close it on release */
	POOL_LED_STMTS_GONE = 128,  /* 26000: the server had lost its statements (`gone` names
	                               the one asked for); the cache was cleared */
	POOL_LED_STMT_KNOWN = 256,  /* a Parse of `known` succeeded (a reference: put it) */
	POOL_LED_FATAL = 512,       /* a fatal error: the server is going away (never forwarded) */
	POOL_LED_LOG_ERROR = 1024,  /* an error of pglane's own query, worth a log line */
	POOL_LED_PARAM = 2048,      /* a ParameterStatus (POOL_LED_APPLYING: during an apply) */
	POOL_LED_APPLYING = 4096,
};

struct pool_ledger_verdict {
	bool forward;                  /* the message goes to the client */
	uint8_t tx;                    /* POOL_LED_SESSION_READY: the transaction status */
	unsigned events;               /* enum pool_ledger_event */
	struct pool_stmt *known;       /* POOL_LED_STMT_KNOWN */
	char gone[POOL_STMT_NAME_LEN]; /* POOL_LED_STMTS_GONE */
};

/* What the undo of a failed batch acts on. */
struct pool_ledger_undo {
	struct pool_stmt_cache *stmts; /* the server's prepared statements (NULL: none) */
	struct pool_stmt_map *names;   /* its client's statement names (NULL: none) */
};

/* The messages pool_ledger_answer() does not settle inline: ReadyForQuery, ErrorResponse,
 * ParameterStatus, DataRow, CopyInResponse (v->forward and v->events already set). */
void pool_ledger_answer_more(struct pool_ledger *l, const struct proto_frame *f, bool linked,
                             const struct pool_ledger_undo *u, int64_t now_us,
                             struct pool_ledger_verdict *v);

/* A message of `type` that may complete the request at the head (ParseComplete, CommandComplete,
 * RowDescription, ...): it is answered when it does. */
static inline void pool_ledger_answered(struct pool_ledger *l, uint8_t type, int64_t now_us,
                                        struct pool_ledger_verdict *v)
{
	struct pool_req *h = pool_ledger_head(l);
	if (!h || !pool_ledger_completes(h->type, type))
		return;
	if (h->stmt && type == PROTO_BE_PARSE_COMPLETE) {
		v->events |= POOL_LED_STMT_KNOWN;
		v->known = h->stmt;
		pool_stmt_ref(h->stmt);
	}
	pool_ledger_pop(l, now_us);
}

/* The server's statements are gone (DISCARD ALL, DEALLOCATE ALL, a reset, 26000): its cache
 * `stmts` (may be NULL) is emptied and it holds no client's unnamed statement. */
void pool_ledger_stmts_gone(struct pool_ledger *l, struct pool_stmt_cache *stmts);
/* One whole server message `f`: match it to the request it answers and fill `v` (forward,
 * events). `linked`: a client is linked. An ErrorResponse to an extended-protocol request
 * fails its batch up to the Sync: statements it would have prepared are removed from `u`'s
 * cache and names, an evicting Close's victim goes back. Inline: most messages only complete
 * the request at the head. */
static inline void pool_ledger_answer(struct pool_ledger *l, const struct proto_frame *f,
                                      bool linked, const struct pool_ledger_undo *u, int64_t now_us,
                                      struct pool_ledger_verdict *v)
{
	v->forward = pool_ledger_forwards(l, linked);
	v->events = 0;
	switch (f->type) {
	case PROTO_BE_READY:
	case PROTO_BE_ERROR:
	case PROTO_BE_PARAM_STATUS:
	case PROTO_BE_DATA_ROW:
	case PROTO_BE_COPY_IN:
		pool_ledger_answer_more(l, f, linked, u, now_us, v);
		break;
	default:
		pool_ledger_answered(l, f->type, now_us, v);
		break;
	}
}
/* An ErrorResponse answered an extended-protocol request: it and the rest of the batch up to
 * the Sync get no answer, and are undone. True when the undo found no room to put an evicted
 * statement back (the server is unsure: close it on release). */
bool pool_ledger_fail_batch(struct pool_ledger *l, const struct pool_ledger_undo *u,
                            int64_t now_us);

/* Write pglane's answer for the FAKE request `e` (tx: the transaction status, 0 read as
 * idle); check proto_writer_ok(). A refused Query gets its ReadyForQuery too. */
void pool_ledger_write_fake(struct proto_writer *w, const struct pool_req *e, uint8_t tx);
/* Write the answer `fake` (text: see enum pool_fake; tx: for a ReadyForQuery). */
void pool_fake_write(struct proto_writer *w, enum pool_fake fake, const char *text, uint8_t tx);

#endif
