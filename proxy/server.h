/* proxy/server.h — a server connection: the object, its launch, release, check and the one close
 * function. */
#ifndef PGLANE_PROXY_SERVER_H
#define PGLANE_PROXY_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pool/ledger.h"
#include "pool/pool.h"
#include "pool/session.h"
#include "proxy/context.h"
#include "proxy/io.h"
#include "proxy/requests.h"
#include "proxy/session.h"

struct proxy_client;

enum proxy_server_state {
	SERVER_CONNECTING,
	SERVER_SSL, /* SSLRequest sent, waiting for 'S' or 'N' */
	SERVER_TLS, /* TLS handshake */
	SERVER_LOGIN,
	SERVER_READY, /* logged in: idle, linked or busy per its pool state */
	SERVER_CLOSED,
};

struct proxy_resolve;      /* proxy/resolve.c: a host name look-up */
struct proxy_server_login; /* proxy/server_login.c: server authentication state */

struct proxy_server {
	struct proxy_conn conn;
	struct pool_server ps;
	struct proxy_dead dead; /* on the context's list once closed */
	enum proxy_server_state state;
	uint32_t id;
	struct pool_ledger led; /* what it owes, its transaction status, statement texts */
	bool rollback_sent;
	bool needs_reset;              /* a session-mode client used it (any client, with
	                                  server_reset_query_always): server_reset_query on release */
	bool check_failed;             /* server_check_query answered with an error */
	struct pool_stmt_cache *stmts; /* owned; statements prepared on it */
	int64_t cancel_sent_us;        /* statement_timeout: when its cancel went out */
	/* cancel requests for its backend that PostgreSQL has not finished with (not closed their
	 * connection): until then it takes no new statement, so a late one cannot hit it */
	int ncancels;
	int64_t ready_ms; /* when it last had nothing to do */
	int endpoint;     /* the olap replica it is connected to, -1 for the primary */
	/* the database's hosts (proxy/hosts.h): which one it is on, how many of this round were
	 * tried before it, the target_session_attrs rule it had to fit and how it stands */
	int host;
	int tried;
	enum cfg_tsa rule;
	bool hot_standby;
	bool read_only;
	struct proxy_resolve *resolving;  /* its host name's look-up in flight */
	struct proxy_server_login *login; /* owned while logging in */
	/* the session its backend holds (proxy/session.c) */
	struct pool_dirty dirty; /* what statements since the last capture may have changed */
	enum proxy_sync syncing; /* pglane's own session query in flight */
	bool sync_done;          /* ... its ReadyForQuery came: finish it */
	bool sync_failed;        /* ... it failed (message in sync_error) */
	char sync_sqlstate[6];
	char sync_error[200];
	const struct pool_settings *sync_target; /* owned: what an apply brings the backend to */
	struct pool_capture cap;                 /* a capture's answer being read */
	uint8_t *sync_msg;        /* owned: the Query message of that query, referenced by output */
	bool pin_reset;           /* a pinned client used it: DISCARD ALL before anyone else */
	uint32_t unknown_owner;   /* the client whose session may have left settings nobody can name
	                             on it (a DO block's placeholder): RESET ALL before any other
	                             client's settings (UINT32_MAX: a client that left) */
	bool sync_clears_unknown; /* the apply in flight begins with that RESET ALL */
	bool loaded;              /* LOAD ran on it: closed on release */
	unsigned pin_effects;     /* statements that leave state ran (session mode, allow) */
	char fatal[160];          /* the fatal error it sent, its close's reason ("" none) */
	const char *close_sqlstate;   /* what its client is told when it is closed under it, with
	                                 the reason as the message (NULL: 08006 "server connection
	                                 lost: reason") */
	struct sockaddr_storage addr; /* where it is connected (for cancel requests) */
	socklen_t addr_len;
};

/* Open a new server connection for pool `p` (the pool_ops launch callback). */
void proxy_server_launch(struct pool *p);
/* A login that failed (or a server that does not fit target_session_attrs) moves on to the
 * database's next host: true when a server was launched there and `s` closed; false when every
 * host of the round has been tried (or `s` is not on one of the database's hosts). */
bool proxy_server_next_host(struct proxy_server *s, const char *why);
/* The host and port a server is on (a replica of the olap lane, or one of the database's
 * hosts). */
const struct cfg_endpoint *proxy_server_endpoint(const struct proxy_server *s);
/* Close a server connection once (log `reason`), unlinking it from its pool. */
void proxy_server_close(struct proxy_server *s, const char *reason);
/* pool_ops.server_evict: close an idle server so that another pool fits under server cap
 * `cap`. */
void proxy_server_evict(struct pool_server *ps, const char *cap);
/* pool_ops.server_settle: an idle server about to be handed out said something in this loop
 * iteration (its end: a FATAL, EOF): that is handled first, so that a dead server is never
 * handed out; it may be closed. */
void proxy_server_settle(struct pool_server *ps);
/* Close every server of pool `p`. */
void proxy_server_close_all(struct pool *p, const char *reason);
/* Hand a server back: reset or roll back first when needed, else to the pool. */
void proxy_server_release(struct proxy_server *s);
/* Send server_check_query to an idle server taken for a client (pool_ops.server_check). */
void proxy_server_check(struct pool_server *ps);
/* The check's answer is complete: the server goes to a waiting client, or is closed when the
 * check failed (and the waiting clients are served by others). */
void proxy_server_checked(struct proxy_server *s);
static inline struct proxy_server *proxy_server_of(struct pool_server *ps)
{
	return pool_container_of(ps, struct proxy_server, ps);
}

#endif
