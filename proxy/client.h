/* proxy/client.h — a client connection: the object, its accept, welcome and the one close
 * function. */
#ifndef PGLANE_PROXY_CLIENT_H
#define PGLANE_PROXY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config/cfg.h"
#include "pool/pool.h"
#include "proxy/context.h"
#include "proxy/io.h"

struct proxy_login;
struct proxy_admin;

#define PROXY_ADDR_LEN 64

enum proxy_client_state {
	CLIENT_STARTUP, /* reading the startup packet */
	CLIENT_TLS,     /* TLS handshake after an SSLRequest */
	CLIENT_AUTH,    /* exchanging authentication messages */
	CLIENT_WELCOME, /* authenticated, waiting for the pool's first server login */
	CLIENT_READY,   /* logged in: idle, waiting for a server, or linked to one */
	CLIENT_CLOSED,  /* closed, freed after this loop iteration */
};

struct proxy_client {
	struct proxy_conn conn;
	struct pool_client pc;
	struct proxy_dead dead; /* on the context's list once closed */
	struct pool_list link;  /* proxy.clients */
	enum proxy_client_state state;
	uint32_t id;
	uint32_t cancel_pid;              /* its BackendKeyData pid (proxy/cancel.h's layout) */
	int32_t cancel_key;               /* ... and key; 0 while not in the cancel table */
	struct proxy_client *cancel_next; /* cancel hash chain */
	struct proxy_login *login;        /* owned while logging in */
	struct proxy_admin *admin;        /* owned; set for admin console clients */
	bool want_admin;                  /* logging in to the admin database */
	char addr[PROXY_ADDR_LEN];        /* "ip:port"; "unix:<listen.port>" for the Unix socket */
	bool unix_socket;                 /* connected through the Unix socket */
	bool peer_known;                  /* ... and its peer's credentials are known: */
	uid_t peer_uid;                   /* the connecting process's user (SO_PEERCRED) */
	pid_t peer_pid;                   /* ... and process */
	bool own_user;                    /* pglane's own OS user, into the console without a
	                                     password (PgBouncer's rule; proxy/login.c) */
	int64_t connect_ms;
	int64_t active_ms;        /* last message from the client */
	int64_t xact_start_us;    /* first message of the current transaction, 0 when none */
	int64_t query_start_us;   /* the statement being served */
	int64_t notified_wait_ms; /* query_wait_notify: the wait (its start) already told of */
	bool close_after_flush;   /* a fatal error is being written */
	bool discarding;          /* the current request is answered with an error, not a server */
	bool discard_extended;    /* ... and it is an extended-protocol batch (ends at Sync) */
	bool discard_copy;        /* ... and COPY data is dropped up to CopyDone / CopyFail */
	uint8_t discard_tx;       /* ... the status of the ReadyForQuery that ends it (0: idle) */
	/* its server connection died under it inside a transaction block (proxy/lost.c) */
	uint8_t lost;         /* enum proxy_lost */
	uint8_t lost_parsed;  /* enum proto_sql_txn_end: its last Parse since */
	uint8_t lost_bound;   /* ... its last Bind */
	char *lost_msg;       /* owned: why, while it is lost */
	bool named_on_server; /* it prepared named statements on its server itself (session
	                         mode, or no statement cache): they die with that server */
	bool paused;          /* waiting for a server, reading stopped */
	uint8_t negotiations; /* SSLRequest / GSSENCRequest answered */
	bool login_counted;   /* counted against its address's logins in progress */
	/* transaction-mode prepared statements */
	struct pool_stmt_map *stmts; /* owned; the client's statement names */
	uint8_t *unnamed;            /* owned; its last Parse of the unnamed statement */
	uint32_t unnamed_len;
	uint32_t unnamed_cap;
	uint32_t unnamed_seq;               /* bumped with each such Parse */
	bool unnamed_inflight;              /* `unnamed` is referenced by queued output */
	struct pool *lanes[CFG_LANE_COUNT]; /* borrowed; its pool in each lane */
	bool routed;                        /* session mode: the lane is chosen */
	/* the statement texts it parsed that do something to the session (NULL: nothing) */
	struct proto_sql_info *unnamed_info; /* owned; of its unnamed statement */
	/* a portal bound to a statement pglane answers itself (DISCARD ALL, DEALLOCATE) */
	char *handled_portal;   /* owned; its name, NULL when none */
	uint8_t handled_kind;   /* enum proto_sql_kind */
	char *handled_name;     /* owned; DEALLOCATE's statement name */
	bool executed_unsynced; /* an Execute since its last Sync (or Query): a DISCARD ALL now
	                           is "within a pipeline" and refused, as PostgreSQL does */
};

/* Adopt an accepted socket. */
void proxy_client_accept(int fd, const struct sockaddr *sa, socklen_t len);
/* The same, the shutdown's refusal decided by the caller: a connection another worker
 * accepted before pglane stopped accepting is served (`stopped` false) even if this worker
 * has begun a waiting shutdown since. */
void proxy_client_accepted(int fd, const struct sockaddr *sa, socklen_t len, bool stopped);
/* DISCARD ALL answered by pglane: ParameterStatus for every reported value that a fresh
 * session has otherwise (its start-up value, else the server's), as PostgreSQL sends them,
 * written to the client now. False when out of room. */
bool proxy_client_params_reset(struct proxy_client *c);
/* Every worker's clients, console ones included. */
int proxy_clients_all(void);
/* Close a client once: log `reason`, send it an ErrorResponse first when `sqlstate` is not
 * NULL, hand its server back (or clean it up), free it after this loop iteration. */
void proxy_client_close(struct proxy_client *c, const char *sqlstate, const char *reason);
/* Send a fatal error and close once it is written. */
void proxy_client_fatal(struct proxy_client *c, const char *sqlstate, const char *msg);
/* Queue an ErrorResponse (severity ERROR) to the client. */
__attribute__((warn_unused_result)) bool proxy_client_error(struct proxy_client *c,
                                                            const char *sqlstate, const char *msg);
/* Authentication is over: the client no longer counts against its address's limit of
 * logins in progress. */
void proxy_client_logged_in(struct proxy_client *c);
/* Logged in: register for cancel, send the welcome (ParameterStatus, BackendKeyData,
 * ReadyForQuery). */
void proxy_client_welcome(struct proxy_client *c);
static inline struct proxy_client *proxy_client_of(struct pool_client *pc)
{
	return pool_container_of(pc, struct proxy_client, pc);
}

#endif
