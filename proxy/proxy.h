/* proxy/proxy.h — the process: its one context (loop, config, listeners, connection lists)
 * and the client and server connection objects with their life cycles. */
#ifndef PGLANE_PROXY_PROXY_H
#define PGLANE_PROXY_PROXY_H

#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config/cfg.h"
#include "config/userlist.h"
#include "pool/pool.h"
#include "pool/stmt.h"
#include "protocol/buf.h"
#include "protocol/frame.h"
#include "protocol/sql.h"
#include "proxy/cancel.h" /* for now, until the files that call it include it */
#include "proxy/io.h"

#define PROXY_MAX_LISTEN       5                     /* TCP addresses, and the Unix socket */
#define PROXY_LOGIN_MAX_PACKET 8192                  /* any message before authentication */
#define PROXY_MAX_PACKET       (1024u * 1024 * 1024) /* any message after */
#define PROXY_ADDR_LEN         64
#define PGLANE_VERSION         "0.1.0"

enum proxy_client_state {
	CLIENT_STARTUP, /* reading the startup packet */
	CLIENT_TLS,     /* TLS handshake after an SSLRequest */
	CLIENT_AUTH,    /* exchanging authentication messages */
	CLIENT_WELCOME, /* authenticated, waiting for the pool's first server login */
	CLIENT_READY,   /* logged in: idle, waiting for a server, or linked to one */
	CLIENT_CLOSED,  /* closed, freed after this loop iteration */
};

struct proxy_login; /* proxy/login.c: authentication state, only while logging in */
struct proxy_admin; /* proxy/admin_client.c: an admin console session */

struct proxy_client {
	struct proxy_conn conn;
	struct pool_client pc;
	struct pool_list link; /* proxy.clients */
	enum proxy_client_state state;
	uint32_t id;
	int32_t cancel_key;
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
	bool paused;              /* waiting for a server, reading stopped */
	uint8_t negotiations;     /* SSLRequest / GSSENCRequest answered */
	bool login_counted;       /* counted against its address's logins in progress */
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
	char *handled_portal; /* owned; its name, NULL when none */
	uint8_t handled_kind; /* enum proto_sql_kind */
	char *handled_name;   /* owned; DEALLOCATE's statement name */
};

enum proxy_server_state {
	SERVER_CONNECTING,
	SERVER_SSL, /* SSLRequest sent, waiting for 'S' or 'N' */
	SERVER_TLS, /* TLS handshake */
	SERVER_LOGIN,
	SERVER_READY, /* logged in: idle, linked or busy per its pool state */
	SERVER_CLOSED,
};

struct proxy_server_login; /* proxy/server_login.c: server authentication state */

/* pglane's own query about the session in flight on a server (proxy/session.c): the client's
 * messages wait until it is answered. */
enum proxy_sync { SYNC_NONE, SYNC_APPLY, SYNC_CAPTURE };

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

struct proxy_server {
	struct proxy_conn conn;
	struct pool_server ps;
	enum proxy_server_state state;
	uint32_t id;
	int pending;       /* ReadyForQuery messages still expected */
	int internal;      /* of those, the first ones answer pglane's own queries */
	uint8_t tx_status; /* from the last ReadyForQuery */
	bool unsynced;     /* extended-protocol messages sent since the last Sync */
	bool copy_in;      /* the server waits for CopyData from the client */
	bool rollback_sent;
	bool needs_reset;    /* a session-mode client used it (any client, with
	                        server_reset_query_always): server_reset_query on release */
	bool check_failed;   /* server_check_query answered with an error */
	bool ext_error;      /* an extended-protocol error: the server ignores all until Sync */
	struct proxy_reqq q; /* answers owed, oldest first */
	struct pool_stmt_cache *stmts; /* owned; statements prepared on it */
	uint32_t unnamed_client;       /* whose unnamed statement it holds (client id) */
	uint32_t unnamed_seq;          /* ... and which of its Parses */
	/* statement texts for the slow query log */
	char *text; /* owned; the last Query or unnamed statement text */
	uint32_t text_len;
	uint32_t text_seq;
	struct pool_stmt *bound; /* a reference: the named statement of the last Bind */
	uint32_t bound_seq;      /* or the text of its unnamed one */
	int64_t last_done_us;    /* when the last request was answered */
	int64_t cancel_sent_us;  /* statement_timeout: when its cancel went out */
	/* cancel requests for its backend that PostgreSQL has not finished with (not closed their
	 * connection): until then it takes no new statement, so a late one cannot hit it */
	int ncancels;
	int64_t ready_ms;       /* when it last had nothing to do */
	int endpoint;           /* the olap replica it is connected to, -1 for the primary */
	int64_t query_start_us; /* when `pending` went from 0 to 1 */
	int64_t txn_since_us;   /* transaction_timeout: its client's transaction (explicit, or
	                           one statement's) runs since; 0 when none */
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
	struct sockaddr_storage addr; /* where it is connected (for cancel requests) */
	socklen_t addr_len;
};

/* How pglane is stopping (proxy/shutdown.c), in increasing strictness. */
enum proxy_shutdown_mode {
	PROXY_SHUTDOWN_NONE,
	PROXY_SHUTDOWN_WAIT_FOR_CLIENTS, /* SIGTERM, SHUTDOWN WAIT_FOR_CLIENTS */
	PROXY_SHUTDOWN_WAIT_FOR_SERVERS, /* SIGINT, SHUTDOWN WAIT_FOR_SERVERS */
	PROXY_SHUTDOWN_NOW,              /* SIGQUIT, SHUTDOWN */
};

struct proxy {
	struct ev_loop *loop;
	struct cfg *cfg;            /* owned */
	struct cfg_userlist *users; /* owned; NULL without an auth file */
	ev_io listeners[PROXY_MAX_LISTEN];
	int nlisteners;
	ev_timer janitor;
	ev_signal sig_term, sig_int, sig_hup, sig_quit, sig_usr1, sig_usr2;
	struct pool_list clients;
	int nclients;
	uint32_t next_id;
	bool shutting_down; /* servers drain: released servers close, their clients go */
	enum proxy_shutdown_mode shutdown;
	/* deferred work, run after the current callbacks */
	ev_prepare deferred;
	struct proxy_client **dead_clients;
	int ndead_clients, cap_dead_clients;
	struct proxy_server **dead_servers;
	int ndead_servers, cap_dead_servers;
};

extern struct proxy proxy;

/* Current loop time. */
int64_t proxy_now_ms(void);
int64_t proxy_now_us(void);

/* ---- proxy/shutdown.c ---- */
/* Begin stopping in `mode`; `who` names the cause in the log ("SIGINT", "admin: SHUTDOWN
 * WAIT_FOR_CLIENTS"). NOW leaves the loop 50 ms later (so that a console's answer goes out;
 * main then closes everything). The waiting modes stop the listeners, arm
 * admin.shutdown_timeout and exit when their condition holds (proxy_shutdown_poll). Any
 * request while a shutdown is under way exits now, as in PgBouncer 1.23+. */
void proxy_shutdown_begin(enum proxy_shutdown_mode mode, const char *who);
/* Exit when the waiting shutdown's condition holds (called after each loop iteration). */
void proxy_shutdown_poll(void);
const char *proxy_shutdown_mode_name(enum proxy_shutdown_mode mode);
/* Stop the shutdown deadline and the log.stats timer (at exit). */
void proxy_shutdown_stop(void);
/* Start the log.stats timer or apply a changed log.stats_period (at start, on reload). */
void proxy_log_stats_configure(void);

/* ---- proxy/listen.c ---- */
__attribute__((warn_unused_result)) bool proxy_listen_start(const struct cfg *cfg);
void proxy_listen_stop(void);
/* SUSPEND: stop accepting (connections wait in the backlog); false: accept again. */
void proxy_listen_pause(bool on);

/* ---- proxy/client.c ---- */
/* Adopt an accepted socket. */
void proxy_client_accept(int fd, const struct sockaddr *sa, socklen_t len);
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
/* "c12 alice@app 127.0.0.1:5000" for log lines. */
const char *proxy_client_name(const struct proxy_client *c, char *buf, size_t cap);
/* Logged in: register for cancel, send the welcome (ParameterStatus, BackendKeyData,
 * ReadyForQuery). */
void proxy_client_welcome(struct proxy_client *c);
/* Free the clients closed during this iteration. */
void proxy_client_reap(void);

/* ---- proxy/startup.c ---- */
struct proto_startup;
/* The start-up parameters of `s` other than user and database: settings of the client's
 * session, or ignored when listed in its database's ignore_startup_parameters. False when the
 * client was closed (an unsupported or malformed one, out of memory). */
bool proxy_startup_take(struct proxy_client *c, const struct proto_startup *s);

/* ---- proxy/login.c ---- */
/* The client's socket is readable during login. */
void proxy_login_read(struct proxy_client *c);
/* A step of the client's TLS handshake. */
void proxy_login_tls(struct proxy_client *c);
void proxy_login_free(struct proxy_client *c);

/* ---- proxy/admin_client.c ---- */
void proxy_admin_started(void);
int64_t proxy_admin_started_ms(void);
/* After login to the admin database: false (client closed) when `user` may not. */
bool proxy_admin_login(struct proxy_client *c, const char *user);
/* Bytes from an admin client are ready. */
void proxy_admin_read(struct proxy_client *c);
/* Its output was written. */
void proxy_admin_drained(struct proxy_client *c);
/* A PAUSE it waits for may be done. */
void proxy_admin_poll(struct proxy_client *c);
void proxy_admin_free(struct proxy_client *c);
const char *proxy_admin_user(const struct proxy_client *c);
/* The Prometheus metrics text (appended to `out`). */
struct admin_buf;
void proxy_admin_metrics(struct admin_buf *out);
/* The status page's JSON document (admin/status.h), appended to `out`. */
void proxy_admin_status(struct admin_buf *out);

/* ---- proxy/control.c ---- */
/* Reload the config file: validated first; false (and the old config kept) with the errors
 * in `err` when it is not valid. */
bool proxy_reload(char *err, size_t cap);
/* Register the admin console's callbacks. */
void proxy_control_setup(void);
/* Check pending PAUSEs of admin clients. */
void proxy_control_poll(void);
/* PAUSE / RESUME of every database, as the console's (SIGUSR1 / SIGUSR2). */
void proxy_control_pause_all(bool on);

/* ---- proxy/tls.c ---- */
enum proxy_tls_result { PROXY_TLS_DONE, PROXY_TLS_AGAIN, PROXY_TLS_ERROR };
/* Load the listen.tls context (when enabled); false with the reason logged. */
__attribute__((warn_unused_result)) bool proxy_tls_init(const struct cfg *cfg);
void proxy_tls_free(void);
/* Can contexts towards the servers be made with `cfg`'s server_tls.protocols and .ciphers?
 * False with the reason in `err`. */
__attribute__((warn_unused_result)) bool proxy_tls_check_server(const struct cfg *cfg, char *err,
                                                                size_t cap);
/* Forget the server-side contexts (after a reload: CA or certificate may have changed). */
void proxy_tls_reset_servers(void);
bool proxy_tls_listen_enabled(void);
/* Begin TLS as the server of a client connection ('S' already sent). */
__attribute__((warn_unused_result)) bool proxy_tls_accept_start(struct proxy_conn *c);
/* Begin TLS as the client of a server connection ('S' received), with `db`'s sslmode. */
__attribute__((warn_unused_result)) bool
proxy_tls_connect_start(struct proxy_conn *c, const struct cfg *cfg, const struct cfg_database *db,
                        const char *host, char *err, size_t cap);
/* One step of the handshake; AGAIN sets the watcher for what it waits on. */
enum proxy_tls_result proxy_tls_handshake(struct proxy_conn *c, char *err, size_t cap);
/* The common name of a verified client certificate. */
bool proxy_tls_peer_name(struct proxy_conn *c, char *out, size_t cap);

/* ---- proxy/http.c ---- */
/* Serve GET /metrics and /healthz on listen.host:admin.http_port (0: off). */
__attribute__((warn_unused_result)) bool proxy_http_start(const struct cfg *cfg);
void proxy_http_stop(void);

/* ---- proxy/server.c ---- */
/* Open a new server connection for pool `p` (the pool_ops launch callback). */
void proxy_server_launch(struct pool *p);
/* Close a server connection once (log `reason`), unlinking it from its pool. */
void proxy_server_close(struct proxy_server *s, const char *reason);
/* pool_ops.server_evict: close an idle server so that another pool fits under server cap
 * `cap`. */
void proxy_server_evict(struct pool_server *ps, const char *cap);
/* Close every server of pool `p`. */
void proxy_server_close_all(struct pool *p, const char *reason);
/* Hand a server back: reset or roll back first when needed, else to the pool. */
void proxy_server_release(struct proxy_server *s);
/* Send server_check_query to an idle server taken for a client (pool_ops.server_check). */
void proxy_server_check(struct pool_server *ps);
/* The check's answer is complete: the server goes to a waiting client, or is closed when the
 * check failed (and the waiting clients are served by others). */
void proxy_server_checked(struct proxy_server *s);
/* Free the servers closed during this iteration. */
void proxy_server_reap(void);
static inline struct proxy_server *proxy_server_of(struct pool_server *ps)
{
	return pool_container_of(ps, struct proxy_server, ps);
}
static inline struct proxy_client *proxy_client_of(struct pool_client *pc)
{
	return pool_container_of(pc, struct proxy_client, pc);
}

/* ---- proxy/relay.c ---- */
/* Bytes from a logged-in client are ready to process (or processing may resume). */
void proxy_relay_client(struct proxy_client *c);
/* Bytes from a server are ready to process. */
void proxy_relay_server(struct proxy_server *s);
/* A waiting client got a server (pool callback). */
void proxy_relay_assigned(struct pool_client *pc, struct pool_server *ps);
/* The client's output drained: resume its server's input, maybe release the server. */
void proxy_relay_client_drained(struct proxy_client *c);
/* The server's output drained: resume its client's input. */
void proxy_relay_server_drained(struct proxy_server *s);
/* Queue a Query of pglane's own to a server; its answer is swallowed. */
__attribute__((warn_unused_result)) bool proxy_relay_server_query(struct proxy_server *s,
                                                                  const char *sql);
/* A linked client is going away: its server is released, rolled back or closed. */
void proxy_relay_client_gone(struct proxy_client *c);
/* Answer every client waiting in `p` with an error (server login failed, timeout). */
void proxy_relay_fail_waiters(struct pool *p, const char *sqlstate, const char *msg);
/* Has a waiting client, behind the message it waits with, already sent Terminate? */
bool proxy_relay_waiting_quit(const struct proxy_client *c);
/* The server's last cancel request is done: its client goes on, or it is released. */
void proxy_relay_cancels_done(struct proxy_server *s);
/* Answer one waiting client with an error instead of a server. */
void proxy_relay_fail_waiting(struct proxy_client *c, const char *sqlstate, const char *msg);

/* ---- proxy/session.c ---- */
/* The client and server were just linked, or the client's settings changed while linked:
 * queue the query that brings the server to the client's settings (nothing when they match);
 * the client's messages wait until it is answered. False when out of memory. */
__attribute__((warn_unused_result)) bool proxy_session_apply(struct proxy_client *c,
                                                             struct proxy_server *s);
/* The server is between two transactions of its client: when its statements may have
 * changed the session, ask the server (the client waits). True when pglane is now waiting
 * for the answer; false when nothing was needed (or the client was closed: check state). */
bool proxy_session_capture(struct proxy_client *c, struct proxy_server *s);
/* What a statement text the client sends (`info`, scanned) does: noted on the server, or
 * refused (pin_session_state = refuse). True when refused. */
bool proxy_session_refused(const struct proxy_client *c, const struct proto_sql_info *info);
void proxy_session_note(struct proxy_server *s, const struct proto_sql_info *info);
/* The refusal's message for `info` into `out`. */
void proxy_session_refusal(const struct proto_sql_info *info, char *out, size_t cap);
/* Fail the transaction (or the extended-protocol batch, `extended`) the server is in, as the
 * statement pglane refuses would have: a statement of pglane's that errors, its answers
 * swallowed. False when out of memory. */
__attribute__((warn_unused_result)) bool proxy_session_fail(struct proxy_server *s, bool extended);
/* Server messages for pglane's session queries: a capture's DataRow, an error, the
 * ReadyForQuery that ends one (h is its request). */
void proxy_session_row(struct proxy_server *s, const struct proto_frame *f);
void proxy_session_error(struct proxy_server *s, const struct proto_frame *f);
void proxy_session_ready(struct proxy_server *s, uint8_t tx_status);
/* A ParameterStatus answered one of the client's statements: when nothing noted explains
 * it, the session is asked for. */
void proxy_session_reported(struct proxy_server *s, const char *name);
/* After the server's messages were handled: finish an apply or capture that was answered
 * (c may be NULL). The client may have been closed. */
void proxy_session_finish(struct proxy_client *c, struct proxy_server *s);
/* The client is unlinked without finishing normally (it left): what its server needs. */
void proxy_session_client_gone(struct proxy_client *c, struct proxy_server *s);
/* The query a released server needs before another client (NULL: none); *clears: it
 * drops every prepared statement. Also decides when the server must be closed instead
 * (*close). */
const char *proxy_session_reset_sql(struct proxy_server *s, const struct cfg_pool *pc, bool *clears,
                                    bool *close);
/* The reset was sent: the server's session is neutral. */
void proxy_session_reset_sent(struct proxy_server *s);
/* The client's pins are over (it leaves): counts. */
void proxy_session_client_free(struct proxy_client *c);
/* Free a server's session state. */
void proxy_session_server_free(struct proxy_server *s);

/* ---- proxy/requests.c ---- */
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

/* ---- proxy/prepared.c ---- */
/* The SQL of the message being handled, scanned once (proxy/handled.c). */
struct proxy_scan {
	bool done;
	struct proto_sql_info info;
};
enum proxy_msg_result {
	MSG_FORWARD, /* not handled: the caller passes it on as it is */
	MSG_PASS,    /* recorded: the caller passes it on as it is */
	MSG_DONE,    /* handled: the input was advanced past it (consumed or rewritten) */
	MSG_NO_ROOM, /* output full: flush, then look at the message again */
	MSG_ERROR,   /* the client was closed */
};
/* Bytes of a client message of `type` and `size` that must be in the buffer before it is
 * handled (0: the header is enough). */
uint32_t proxy_prepared_peek(const struct proxy_client *c, uint8_t type, size_t size);
/* A message from a client with no server: answer it without one when possible. */
enum proxy_msg_result proxy_prepared_unlinked(struct proxy_client *c, const uint8_t *msg,
                                              size_t avail, size_t size, struct proxy_scan *sc);
/* A message from a linked client: record what the server owes, rename statements, prepare
 * them where missing. Returns MSG_PASS, MSG_DONE, MSG_NO_ROOM or MSG_ERROR. */
enum proxy_msg_result proxy_prepared_linked(struct proxy_client *c, struct proxy_server *s,
                                            const uint8_t *msg, size_t avail, size_t size,
                                            struct proxy_scan *sc);
/* Transaction mode with a statement cache: statements are renamed and follow the client. */
bool proxy_prepared_mode(const struct proxy_client *c);
/* The client's statement `name` ("" never), or NULL. */
struct pool_stmt *proxy_prepared_lookup(const struct proxy_client *c, const char *name);
/* Forget one of the client's statements / all of them (and its unnamed one). */
void proxy_prepared_forget(struct proxy_client *c, const char *name);
void proxy_prepared_forget_all(struct proxy_client *c);
/* Answer the message of `size` bytes at once (no server): `fake`, and ReadyForQuery when
 * `ready`. */
enum proxy_msg_result proxy_prepared_answer(struct proxy_client *c, size_t size,
                                            enum proxy_fake fake, const char *text, bool ready);
/* The message was answered or rewritten: skip its bytes. */
enum proxy_msg_result proxy_prepared_consumed(struct proxy_client *c, size_t size);
enum proxy_parse_kept { PARSE_KEPT, PARSE_KEPT_DUPLICATE, PARSE_KEPT_BUSY, PARSE_KEPT_ERROR };
/* Remember a Parse pglane answers itself (`info` its text's scan): the name (taken: DUPLICATE)
 * or the unnamed statement. */
enum proxy_parse_kept proxy_prepared_keep_parse(struct proxy_client *c, const uint8_t *msg,
                                                size_t size, const struct proto_sql_info *info);

/* ---- proxy/handled.c ---- */
/* Statements pglane answers itself (DISCARD ALL, DEALLOCATE), refusals, effects noted:
 * MSG_FORWARD when the message goes on as usual. `sc` caches the scan of its SQL. */
enum proxy_msg_result proxy_handled_unlinked(struct proxy_client *c, const uint8_t *msg,
                                             size_t avail, size_t size, struct proxy_scan *sc);
enum proxy_msg_result proxy_handled_linked(struct proxy_client *c, struct proxy_server *s,
                                           const uint8_t *msg, size_t avail, size_t size,
                                           struct proxy_scan *sc);
/* The scan of a Query's or Parse's SQL (once per message). */
const struct proto_sql_info *proxy_handled_scan(const struct proxy_client *c, const uint8_t *msg,
                                                size_t avail, size_t size, struct proxy_scan *sc);
void proxy_handled_client_free(struct proxy_client *c);
/* The client's output has been written: its unnamed Parse may be replaced again. */
void proxy_prepared_drained(struct proxy_client *c);
/* Free a client's statement state. */
void proxy_prepared_client_free(struct proxy_client *c);
/* The server's statements are gone (DISCARD ALL, reset). */
void proxy_prepared_server_reset(struct proxy_server *s);

/* ---- proxy/janitor.c ---- */
void proxy_janitor_start(void);
void proxy_janitor_stop(void);

#endif
