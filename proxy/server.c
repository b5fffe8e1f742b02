/* proxy/server.c — server connections: nonblocking connect, pglane's own login to
 * PostgreSQL (SCRAM-SHA-256, SCRAM pass-through, MD5, cleartext), release to the pool
 * (rollback or reset first when needed), and the one close function with deferred free. */
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/log.h"
#include "protocol/frame.h"
#include "protocol/md5.h"
#include "protocol/msg.h"
#include "protocol/scram.h"
#include "protocol/sql.h"
#include "protocol/startup.h"
#include "pool/health.h"
#include "proxy/cancel.h"
#include "proxy/client.h"
#include "proxy/context.h"
#include "proxy/io.h"
#include "proxy/link.h"
#include "proxy/prepared.h"
#include "proxy/relay.h"
#include "proxy/requests.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/tls.h"

#define SERVER_LOGIN_MAX_PACKET (64 * 1024)
#define WELCOME_MAX             4096

enum sasl_step { SASL_NONE, SASL_FIRST_SENT, SASL_FINAL_SENT, SASL_DONE };

struct proxy_server_login {
	struct proto_scram_client scram;
	enum sasl_step sasl;
	bool auth_ok;
	bool catalog_sent;            /* the database's settings were asked for */
	bool connect_sent;            /* databases[].connect_query was sent */
	struct pool_catalog *catalog; /* owned: ... being read */
	size_t welcome_len;
	uint8_t welcome[WELCOME_MAX];
};

static void server_cb(struct ev_loop *loop, ev_io *w, int revents);

static void login_free(struct proxy_server *s)
{
	if (!s->login)
		return;
	pool_catalog_free(s->login->catalog);
	OPENSSL_cleanse(s->login, sizeof(*s->login));
	free(s->login);
	s->login = NULL;
}

void proxy_server_close(struct proxy_server *s, const char *reason)
{
	if (s->state == SERVER_CLOSED)
		return;
	struct pool *p = s->ps.pool;
	struct proxy_client *c = s->ps.client ? proxy_client_of(s->ps.client) : NULL;
	bool tested = s->ps.tested;
	if (p)
		log_info("s%u %s@%s: closing: %s%s", s->id, p->user->name, p->db->name,
		         tested ? "server check failed: " : "", reason);
	if (p)
		pool_server_remove(&s->ps);
	if (c) {
		/* the client gets what the server said, then the news */
		if (proxy_out_flush(&c->conn) != PROXY_IO_OK)
			proxy_out_discard(&c->conn);
		char msg[256];
		snprintf(msg, sizeof(msg), "server connection lost: %s", reason);
		proxy_client_close(c, PROTO_SQLSTATE_CONNECTION_FAILURE, msg);
	}
	proxy_cancel_detach(s);
	login_free(s);
	proxy_req_clear(s);
	proxy_session_server_free(s);
	pool_stmt_cache_free(s->stmts);
	s->stmts = NULL;
	proxy_conn_close(&s->conn);
	s->state = SERVER_CLOSED;
	proxy_defer_free(&s->dead, s);
	if (p && !proxy.shutting_down) {
		pool_server_gone(p, proxy_now_ms());
		if (tested) /* its client waits: another idle server, or a new one */
			pool_kick_later(p);
	}
}

void proxy_server_evict(struct pool_server *ps, const char *cap)
{
	char why[96];
	snprintf(why, sizeof(why), "idle, closed to make room for another pool under %s", cap);
	proxy_server_close(proxy_server_of(ps), why);
}

void proxy_server_close_all(struct pool *p, const char *reason)
{
	struct pool_list *lists[] = {&p->login, &p->idle, &p->active, &p->busy};
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
		while (!pool_list_empty(lists[k]))
			proxy_server_close(
			        proxy_server_of(pool_container_of(pool_list_first(lists[k]),
			                                          struct pool_server, link)),
			        reason);
}

/* A login that cannot succeed: remember why, and answer the waiting clients when no other
 * server of the pool can serve them. */
static void login_failed(struct proxy_server *s, const char *sqlstate, const char *msg)
{
	struct pool *p = s->ps.pool;
	p->last_failure_ms = proxy_now_ms();
	p->stats.server_connect_failures++;
	snprintf(p->last_error, sizeof(p->last_error), "%s", msg);
	log_warning("s%u %s@%s: server login failed: %s", s->id, p->user->name, p->db->name, msg);
	if (s->endpoint >= 0 && p->db->cfg) {
		/* a replica failed: the olap lane moves on now rather than at the monitor's next
		 * check, and waiting clients get the next choice (the primary, or 57P03) */
		const struct cfg_endpoint *r =
		        &p->db->cfg->lanes[CFG_LANE_OLAP].replicas[s->endpoint];
		struct pool_health *h = pool_health_get(p->db->cfg->name, r->host, r->port, true);
		if (h) {
			h->healthy = false;
			snprintf(h->error, sizeof(h->error), "%s", msg);
		}
		p->last_failure_ms = 0;
		proxy_server_close(s, "login to the replica failed");
		return;
	}
	proxy_server_close(s, "login failed");
	if (pool_server_count(p) == 0)
		proxy_relay_fail_waiters(p, sqlstate, msg);
}

static bool send_now(struct proxy_server *s, struct proto_writer *w)
{
	if (!proto_writer_ok(w) || !proxy_out_commit(&s->conn, w->len))
		return false;
	return proxy_out_flush(&s->conn) != PROXY_IO_ERROR;
}

static bool writer_for(struct proxy_server *s, struct proto_writer *w)
{
	size_t avail;
	uint8_t *space = proxy_out_space(&s->conn, &avail);
	proto_writer_init(w, space, space ? avail : 0);
	return space != NULL;
}

const char *proxy_server_user(const struct pool *p)
{
	return p->db->cfg && p->db->cfg->user[0] ? p->db->cfg->user : p->user->name;
}

static const char *server_user(const struct pool *p)
{
	return proxy_server_user(p);
}

static const char *server_dbname(const struct pool *p)
{
	return p->db->cfg->dbname[0] ? p->db->cfg->dbname : p->db->name;
}

/* The password of the server user: the database's own, else the auth file's entry, else the
 * secret auth_query returned for the pool's user (when it is the server user). */
static bool server_secret(const struct pool *p, const char **secret, enum cfg_secret_kind *kind)
{
	if (p->db->cfg->password[0]) {
		*secret = p->db->cfg->password;
		*kind = CFG_SECRET_PLAIN;
		return true;
	}
	const struct cfg_user *u =
	        proxy.users ? cfg_userlist_find(proxy.users, server_user(p)) : NULL;
	if (u) {
		*secret = u->secret;
		*kind = u->kind;
		return true;
	}
	if (p->user->auth_secret[0] && strcmp(server_user(p), p->user->name) == 0) {
		*secret = p->user->auth_secret;
		*kind = cfg_secret_kind_of(p->user->auth_secret);
		return true;
	}
	return false;
}

static void send_startup(struct proxy_server *s)
{
	struct pool *p = s->ps.pool;
	struct proto_writer w;
	if (!writer_for(s, &w)) {
		login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	proto_write_startup(&w, server_user(p), server_dbname(p), NULL, 0);
	s->state = SERVER_LOGIN;
	if (!send_now(s, &w))
		login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
		             "could not send the startup packet to the server");
}

static void no_secret(struct proxy_server *s, const char *method)
{
	char msg[256];
	snprintf(msg, sizeof(msg),
	         "the server asks for %s authentication and pglane has no password for user "
	         "\"%s\" (auth file or databases[].password)",
	         method, server_user(s->ps.pool));
	login_failed(s, PROTO_SQLSTATE_INVALID_PASSWORD, msg);
}

static void on_auth(struct proxy_server *s, const struct proto_frame *f)
{
	struct proxy_server_login *l = s->login;
	struct pool *p = s->ps.pool;
	int32_t code;
	const uint8_t *data;
	size_t len;
	if (!proto_parse_auth(f->body, f->body_len, &code, &data, &len)) {
		login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
		             "malformed authentication request");
		return;
	}
	const char *secret = NULL;
	enum cfg_secret_kind kind = CFG_SECRET_PLAIN;
	bool have = server_secret(p, &secret, &kind);
	struct proto_writer w;
	char buf[PROTO_SCRAM_MAX_MSG + 1];
	size_t n;
	switch (code) {
	case PROTO_AUTH_OK:
		if (l->sasl != SASL_NONE && l->sasl != SASL_DONE) {
			login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			             "server ended SCRAM authentication early");
			return;
		}
		l->auth_ok = true;
		return;
	case PROTO_AUTH_CLEARTEXT:
		if (!have || kind != CFG_SECRET_PLAIN) {
			no_secret(s, "cleartext password");
			return;
		}
		if (!writer_for(s, &w))
			break;
		proto_write_password(&w, secret);
		if (!send_now(s, &w))
			break;
		return;
	case PROTO_AUTH_MD5: {
		char md5[PROTO_MD5_SECRET_LEN + 1], resp[PROTO_MD5_SECRET_LEN + 1];
		if (!have || kind == CFG_SECRET_SCRAM || len != PROTO_MD5_SALT_LEN) {
			no_secret(s, "MD5");
			return;
		}
		if (kind == CFG_SECRET_PLAIN)
			proto_md5_secret(secret, server_user(p), md5);
		else
			snprintf(md5, sizeof(md5), "%.*s", PROTO_MD5_SECRET_LEN, secret);
		if (!proto_md5_response(md5, data, resp) || !writer_for(s, &w))
			break;
		proto_write_password(&w, resp);
		if (!send_now(s, &w))
			break;
		return;
	}
	case PROTO_AUTH_SASL:
		if (!proto_sasl_has_mechanism(data, len, PROTO_SCRAM_MECHANISM)) {
			login_failed(s, PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED,
			             "the server offers no SASL mechanism pglane supports");
			return;
		}
		if (have && kind == CFG_SECRET_PLAIN) {
			if (!proto_scram_client_init_password(&l->scram, secret))
				break;
		} else if (have && kind == CFG_SECRET_SCRAM && p->user->have_scram_keys &&
		           strcmp(server_user(p), p->user->name) == 0) {
			proto_scram_client_init_keys(&l->scram, p->user->client_key,
			                             p->user->server_key);
		} else {
			no_secret(s, have && kind == CFG_SECRET_SCRAM
			                     ? "SCRAM (pass-through needs a client to log in "
			                       "with SCRAM first)"
			                     : "SCRAM-SHA-256");
			return;
		}
		if (!proto_scram_client_first(&l->scram, buf, sizeof(buf), &n) ||
		    !writer_for(s, &w))
			break;
		proto_write_sasl_initial(&w, PROTO_SCRAM_MECHANISM, buf, n);
		if (!send_now(s, &w))
			break;
		l->sasl = SASL_FIRST_SENT;
		return;
	case PROTO_AUTH_SASL_CONTINUE:
		if (l->sasl != SASL_FIRST_SENT ||
		    proto_scram_client_final(&l->scram, data, len, PROTO_SCRAM_MAX_ITERATIONS, buf,
		                             sizeof(buf), &n) != PROTO_SCRAM_OK) {
			login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			             "invalid SCRAM message from the server");
			return;
		}
		if (!writer_for(s, &w))
			break;
		proto_write_sasl_response(&w, buf, n);
		if (!send_now(s, &w))
			break;
		l->sasl = SASL_FINAL_SENT;
		return;
	case PROTO_AUTH_SASL_FINAL:
		if (l->sasl != SASL_FINAL_SENT ||
		    proto_scram_client_verify(&l->scram, data, len) != PROTO_SCRAM_OK) {
			login_failed(s, PROTO_SQLSTATE_INVALID_PASSWORD,
			             "the server's SCRAM signature is wrong");
			return;
		}
		l->sasl = SASL_DONE;
		return;
	default: {
		char msg[128];
		snprintf(msg, sizeof(msg),
		         "the server asks for an authentication method pglane does not support "
		         "(code %d)",
		         (int)code);
		login_failed(s, PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED, msg);
		return;
	}
	}
	login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE, "could not answer the server's login");
}

/* Login finished: the pool learns the welcome, WELCOME clients are answered, and the
 * server serves the first waiting client or idles. */
static void login_complete(struct proxy_server *s)
{
	struct pool *p = s->ps.pool;
	struct proxy_server_login *l = s->login;
	s->state = SERVER_READY;
	s->tx_status = PROTO_TX_IDLE;
	p->last_failure_ms = 0;
	if (!p->welcome && !pool_welcome_set(p, l->welcome, l->welcome_len, &s->ps.params)) {
		login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	login_free(s);
	log_debug("s%u %s@%s: logged in (backend pid %d)", s->id, p->user->name, p->db->name,
	          s->ps.be_pid);
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &p->waiting)
	{
		struct proxy_client *c =
		        proxy_client_of(pool_container_of(pos, struct pool_client, link));
		if (c->state == CLIENT_WELCOME) {
			pool_client_unwait(&c->pc, proxy_now_ms());
			proxy_client_welcome(c);
		}
	}
	if (s->state == SERVER_READY)
		pool_server_ready(&s->ps, proxy_now_ms());
}

/* The first server of a database to log in reads the names of the settings it knows, so
 * that a client's start-up parameters are checked at its login (proxy/client.c). */
static void ask_catalog(struct proxy_server *s)
{
	struct proxy_server_login *l = s->login;
	struct proto_writer w;
	l->catalog_sent = true;
	l->catalog = pool_catalog_new();
	if (!l->catalog || !writer_for(s, &w)) {
		login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	proto_write_query(&w, "SELECT name, context FROM pg_catalog.pg_settings");
	if (!send_now(s, &w))
		login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
		             "could not ask the server for its settings");
}

static void catalog_row(struct proxy_server *s, const struct proto_frame *f)
{
	struct proxy_server_login *l = s->login;
	const uint8_t *v[2];
	size_t n[2];
	bool null[2];
	char name[64], context[32];
	if (!l->catalog)
		return;
	for (int i = 0; i < 2; i++)
		if (!proto_parse_data_column(f->body, f->body_len, i, &v[i], &n[i], &null[i]) ||
		    null[i])
			return;
	if (n[0] >= sizeof(name) || n[1] >= sizeof(context))
		return;
	memcpy(name, v[0], n[0]);
	name[n[0]] = '\0';
	memcpy(context, v[1], n[1]);
	context[n[1]] = '\0';
	if (!pool_catalog_add(l->catalog, name, context)) {
		pool_catalog_free(l->catalog);
		l->catalog = NULL;
	}
}

static void catalog_done(struct proxy_server *s)
{
	struct proxy_server_login *l = s->login;
	struct pool_db *db = s->ps.pool->db;
	if (!l->catalog || db->catalog)
		return;
	pool_catalog_done(l->catalog);
	log_debug("s%u: the server knows %zu settings", s->id, pool_catalog_count(l->catalog));
	db->catalog = l->catalog;
	l->catalog = NULL;
}

/* databases[].connect_query, once on each new server before any client: the login goes on
 * at its ReadyForQuery; an error fails the login. */
static void send_connect_query(struct proxy_server *s, const char *sql)
{
	struct proto_writer w;
	s->login->connect_sent = true;
	if (!writer_for(s, &w)) {
		login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	proto_write_query(&w, sql);
	log_debug("s%u: running connect_query", s->id);
	if (!send_now(s, &w))
		login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
		             "could not send connect_query to the server");
}

/* A ReadyForQuery during login: the authentication's, the catalog query's or connect_query's.
 * Returns true when the login is over (complete or failed). */
static bool login_ready(struct proxy_server *s, const struct proto_frame *f)
{
	struct proxy_server_login *l = s->login;
	const char *cq = s->ps.pool->db->cfg->connect_query;
	if (!l->auth_ok) {
		login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
		             "ReadyForQuery before authentication");
		return true;
	}
	if (!l->catalog_sent && !s->ps.pool->db->catalog) {
		ask_catalog(s);
		return s->state != SERVER_LOGIN;
	}
	catalog_done(s);
	if (!l->connect_sent && cq && cq[0]) {
		send_connect_query(s, cq);
		return s->state != SERVER_LOGIN;
	}
	if (l->connect_sent) {
		uint8_t st = PROTO_TX_IDLE;
		if (!proto_parse_ready(f->body, f->body_len, &st) || st != PROTO_TX_IDLE) {
			login_failed(s, PROTO_SQLSTATE_INVALID_TX_STATE,
			             "connect_query failed: it left a transaction open");
			return true;
		}
		/* what it may have set is not what a client's own connection would have: reset
		 * (RESET ALL) before any client's settings, as for settings nobody can name */
		s->unknown_owner = UINT32_MAX;
	}
	login_complete(s);
	return true;
}

static void login_process(struct proxy_server *s)
{
	struct proxy_io *io;
	while ((io = s->conn.io) != NULL && s->state == SERVER_LOGIN) {
		struct proto_frame f;
		uint32_t avail = io->end - io->scan;
		enum proto_frame_result fr =
		        proto_frame_header(io->data + io->scan, avail, SERVER_LOGIN_MAX_PACKET, &f);
		if (fr == PROTO_FRAME_NEED_MORE) {
			io->need = PROTO_HEADER_SIZE;
			return;
		}
		if (fr == PROTO_FRAME_BAD) {
			login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			             "invalid message from the server during login");
			return;
		}
		if (avail < f.size) {
			io->need = (uint32_t)f.size;
			return;
		}
		io->need = 0;
		io->scan += (uint32_t)f.size;
		proxy_in_consumed(&s->conn);
		switch (f.type) {
		case PROTO_BE_AUTH:
			on_auth(s, &f);
			break;
		case PROTO_BE_ERROR: {
			struct proto_error e;
			if (!proto_parse_error(f.body, f.body_len, &e) || !e.message)
				memset(&e, 0, sizeof(e));
			if (s->login->connect_sent) {
				char msg[300];
				snprintf(msg, sizeof(msg), "connect_query failed: %s",
				         e.message ? e.message : "(no message)");
				login_failed(s,
				             e.sqlstate ? e.sqlstate
				                        : PROTO_SQLSTATE_CONNECTION_FAILURE,
				             msg);
				return;
			}
			if (s->login->catalog_sent) {
				/* start-up parameters go unchecked until another server tells */
				log_warning("s%u: could not read the server's settings: %s", s->id,
				            e.message ? e.message : "(no message)");
				pool_catalog_free(s->login->catalog);
				s->login->catalog = NULL;
				break;
			}
			login_failed(s, e.sqlstate ? e.sqlstate : PROTO_SQLSTATE_CONNECTION_FAILURE,
			             e.message ? e.message : "the server refused the login");
			return;
		}
		case PROTO_BE_PARAM_STATUS: {
			const char *name, *value;
			struct proxy_server_login *l = s->login;
			if (l->connect_sent)
				break; /* connect_query's: undone before a client (login_ready) */
			if (!proto_parse_param_status(f.body, f.body_len, &name, &value))
				break;
			int idx = pool_params_index(name);
			if (idx >= 0)
				pool_params_set(&s->ps.params, idx, value);
			if (l->welcome_len + f.size <= sizeof(l->welcome)) {
				memcpy(l->welcome + l->welcome_len, f.body - PROTO_HEADER_SIZE,
				       f.size);
				l->welcome_len += f.size;
			}
			break;
		}
		case PROTO_BE_KEY_DATA:
			if (!proto_parse_key_data(f.body, f.body_len, &s->ps.be_pid,
			                          &s->ps.be_key)) {
				login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
				             "malformed BackendKeyData");
				return;
			}
			break;
		case PROTO_BE_READY:
			if (login_ready(s, &f))
				return;
			break;
		case PROTO_BE_ROW_DESCRIPTION:
		case PROTO_BE_COMMAND_COMPLETE:
		case PROTO_BE_DATA_ROW:
		case PROTO_BE_EMPTY_QUERY:
			if (!s->login->catalog_sent && !s->login->connect_sent) {
				login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
				             "unexpected message from the server during login");
				return;
			}
			if (f.type == PROTO_BE_DATA_ROW && !s->login->connect_sent)
				catalog_row(s, &f);
			break;
		case PROTO_BE_NOTICE:
		case PROTO_BE_NEGOTIATE_VERSION:
			break;
		default:
			login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			             "unexpected message from the server during login");
			return;
		}
	}
}

/* The host name a server was reached by (for TLS name checks). */
static const char *server_host(const struct proxy_server *s)
{
	const struct cfg_database *dc = s->ps.pool->db->cfg;
	return s->endpoint >= 0 ? dc->lanes[CFG_LANE_OLAP].replicas[s->endpoint].host : dc->host;
}

/* Connected: ask for TLS first unless the database's sslmode is disable (or a Unix socket). */
static void server_begin(struct proxy_server *s)
{
	const struct cfg_database *dc = s->ps.pool->db->cfg;
	if (dc->sslmode == CFG_SSL_DISABLE || s->addr.ss_family == AF_UNIX) {
		send_startup(s);
		return;
	}
	struct proto_writer w;
	if (!writer_for(s, &w)) {
		login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	proto_write_ssl_request(&w);
	s->state = SERVER_SSL;
	if (!send_now(s, &w))
		login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
		             "could not send the SSLRequest to the server");
}

static void server_tls_step(struct proxy_server *s)
{
	char err[256];
	switch (proxy_tls_handshake(&s->conn, err, sizeof(err))) {
	case PROXY_TLS_DONE:
		log_debug("s%u: TLS %s to the server", s->id, SSL_get_version(s->conn.ssl));
		send_startup(s);
		return;
	case PROXY_TLS_AGAIN:
		return;
	case PROXY_TLS_ERROR:
		break;
	}
	char msg[320];
	snprintf(msg, sizeof(msg), "TLS with the server failed: %s", err);
	login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE, msg);
}

/* The server's one-byte answer to the SSLRequest. Bytes after it, before any handshake,
 * are refused: they cannot have come through TLS. */
static void server_ssl_answer(struct proxy_server *s)
{
	struct proxy_io *io = s->conn.io;
	const struct cfg_database *dc = s->ps.pool->db->cfg;
	uint32_t n = io ? io->end - io->scan : 0;
	if (n == 0)
		return;
	uint8_t answer = io->data[io->scan];
	if (n > 1 || (answer != 'S' && answer != 'N')) {
		login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
		             answer == 'S' || answer == 'N'
		                     ? "the server sent unencrypted data after its SSL response"
		                     : "the server gave no valid answer to the SSLRequest");
		return;
	}
	io->scan = io->start = io->end = 0;
	if (answer == 'N') {
		if (dc->sslmode >= CFG_SSL_REQUIRE) {
			char msg[160];
			snprintf(msg, sizeof(msg),
			         "the server does not support TLS and sslmode is %s",
			         cfg_sslmode_name(dc->sslmode));
			login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE, msg);
			return;
		}
		send_startup(s);
		return;
	}
	char err[256];
	if (!proxy_tls_connect_start(&s->conn, proxy.cfg, dc, server_host(s), err, sizeof(err))) {
		login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE, err);
		return;
	}
	s->state = SERVER_TLS;
	server_tls_step(s);
}

static void server_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	struct proxy_server *s = pool_container_of(w, struct proxy_server, conn.w);
	if (s->state == SERVER_CONNECTING) {
		if (!(revents & (EV_WRITE | EV_READ)))
			return;
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		proxy_conn_set_write(&s->conn, false);
		if (err) {
			char msg[256];
			snprintf(msg, sizeof(msg), "could not connect to the server: %s",
			         strerror(err));
			login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT, msg);
			return;
		}
		server_begin(s);
		return;
	}
	if (s->state == SERVER_TLS) {
		server_tls_step(s);
		return;
	}
	if (revents & EV_WRITE) {
		enum proxy_io_result r = proxy_out_flush(&s->conn);
		if (r == PROXY_IO_ERROR) {
			if (s->state != SERVER_READY)
				login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
				             "write to the server failed");
			else
				proxy_server_close(s, "write to server failed");
			return;
		}
		if (r == PROXY_IO_OK && s->state == SERVER_READY)
			proxy_relay_server_drained(s);
	}
	if (!(revents & EV_READ) || s->state == SERVER_CLOSED)
		return;
	enum proxy_io_result r = proxy_conn_read(&s->conn);
	if (r == PROXY_IO_EOF || r == PROXY_IO_ERROR) {
		if (s->state != SERVER_READY)
			login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
			             "the server closed the connection during login");
		else
			proxy_server_close(s, r == PROXY_IO_EOF ? "the server closed the connection"
			                                        : "read from server failed");
		return;
	}
	if (s->state == SERVER_SSL)
		server_ssl_answer(s);
	else if (s->state == SERVER_LOGIN)
		login_process(s);
	else if (s->state == SERVER_READY)
		proxy_relay_server(s);
}

/* Resolve host:port (an IP address, a name, or a Unix socket directory). */
static bool resolve(const char *host, int port, struct sockaddr_storage *out, socklen_t *len,
                    char *err, size_t errcap)
{
	memset(out, 0, sizeof(*out));
	if (host[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)(void *)out;
		un->sun_family = AF_UNIX;
		if (snprintf(un->sun_path, sizeof(un->sun_path), "%s/.s.PGSQL.%d", host, port) >=
		    (int)sizeof(un->sun_path)) {
			snprintf(err, errcap, "socket path too long: %s", host);
			return false;
		}
		*len = sizeof(*un);
		return true;
	}
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc == EAI_NONAME) {
		hints.ai_flags = AI_NUMERICSERV; /* a name: this lookup may block */
		rc = getaddrinfo(host, portstr, &hints, &res);
	}
	if (rc != 0 || !res) {
		snprintf(err, errcap, "could not resolve \"%s\": %s", host, gai_strerror(rc));
		return false;
	}
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

void proxy_server_launch(struct pool *p)
{
	const struct cfg_database *dc = p->db->cfg;
	/* the olap lane goes to the freshest replica, or the primary, or nowhere */
	int target = p->lane == CFG_LANE_OLAP ? pool_olap_target(dc) : -1;
	if (target == -2)
		return; /* the janitor answers the waiting clients */
	const char *host = target >= 0 ? dc->lanes[CFG_LANE_OLAP].replicas[target].host : dc->host;
	int port = target >= 0 ? dc->lanes[CFG_LANE_OLAP].replicas[target].port : dc->port;
	struct proxy_server *s = calloc(1, sizeof(*s));
	if (!s) {
		log_error("out of memory opening a server connection");
		return;
	}
	s->id = proxy_next_server_id();
	s->state = SERVER_CONNECTING;
	s->endpoint = target;
	s->conn.w.fd = -1;
	pool_params_init(&s->ps.params);
	pool_server_add(p, &s->ps, proxy_now_ms());
	s->login = calloc(1, sizeof(*s->login));
	char err[256];
	if (!s->login) {
		login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	if (!resolve(host, port, &s->addr, &s->addr_len, err, sizeof(err))) {
		login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT, err);
		return;
	}
	int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, sizeof(err), "could not create a socket: %s", strerror(errno));
		login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT, err);
		return;
	}
	if (s->addr.ss_family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	proxy_conn_init(&s->conn, fd, server_cb);
	log_debug("s%u %s@%s: connecting to %s:%d", s->id, p->user->name, p->db->name, host, port);
	if (connect(fd, (struct sockaddr *)&s->addr, s->addr_len) == 0) {
		server_begin(s);
		return;
	}
	if (errno != EINPROGRESS) {
		snprintf(err, sizeof(err), "could not connect to %s:%d: %s", host, port,
		         strerror(errno));
		login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT, err);
		return;
	}
	proxy_conn_set_write(&s->conn, true);
}

/* What a released server needs before another client: the reset of a session-mode client's
 * session (server_reset_query), of what a pinned client left (DISCARD ALL), or of settings
 * nobody followed (proxy/session.c). True when the server is busy with it (or closed). */
static bool reset(struct proxy_server *s, const struct cfg_pool *pc, int64_t now)
{
	if (!s->needs_reset && !s->dirty.effects && !s->pin_reset && !s->loaded &&
	    !s->unknown_owner && !s->pin_effects)
		return false; /* the common case: the session is known and its client's */
	bool clears, close;
	const char *sql = proxy_session_reset_sql(s, pc, &clears, &close);
	if (close) {
		proxy_server_close(s, "LOAD ran in its session");
		return true;
	}
	bool custom = s->needs_reset && pc->server_reset_query && pc->server_reset_query[0];
	s->needs_reset = false;
	if (!sql && !custom)
		return false;
	pool_server_busy(&s->ps, now);
	if (custom) {
		/* only DISCARD ALL is known to leave nothing: after another query the session is
		 * brought back to the login settings as well */
		struct proto_sql_info info;
		proto_sql_scan(pc->server_reset_query, strlen(pc->server_reset_query), false,
		               &info);
		if (!proxy_relay_server_query(s, pc->server_reset_query)) {
			proxy_server_close(s, "could not send server_reset_query");
			return true;
		}
		if (info.kind == PROTO_SQL_DISCARD_ALL || (info.effects & PROTO_SQL_DROPS_STMTS))
			clears = true;
		if (info.kind == PROTO_SQL_DISCARD_ALL)
			sql = NULL;
		else if (!sql)
			sql = "SET SESSION AUTHORIZATION DEFAULT; RESET ALL";
	}
	if (sql && !proxy_relay_server_query(s, sql)) {
		proxy_server_close(s, "could not send the session reset");
		return true;
	}
	/* the reset brings the session back to its login values */
	pool_params_copy(&s->ps.params, &s->ps.pool->welcome_params);
	if (clears || custom)
		proxy_prepared_server_reset(s);
	proxy_session_reset_sent(s);
	if (proxy_out_flush(&s->conn) == PROXY_IO_ERROR)
		proxy_server_close(s, "could not send the session reset");
	return true;
}

void proxy_server_release(struct proxy_server *s)
{
	if (s->state != SERVER_READY || !s->ps.pool)
		return;
	struct pool *p = s->ps.pool;
	int64_t now = proxy_now_ms();
	const struct cfg_pool *pc = p->db->cfg ? pool_cfg(p) : NULL;
	if (s->ps.client)
		pool_server_busy(&s->ps, now); /* its client keeps going without it */
	if (!pc || s->ps.close_on_release || proxy.shutting_down ||
	    (pc->server_lifetime_ms && now - s->ps.created_ms >= pc->server_lifetime_ms)) {
		proxy_server_close(s, !pc                      ? "database removed from the config"
		                      : proxy.shutting_down    ? "shutting down"
		                      : s->ps.close_on_release ? "closed on release"
		                                               : "server_lifetime reached");
		return;
	}
	if (s->pending > 0 || s->ncancels > 0) {
		pool_server_busy(&s->ps, now);
		return; /* back here when the server has answered, or its cancels are done */
	}
	if (s->tx_status != PROTO_TX_IDLE) {
		if (s->rollback_sent) {
			proxy_server_close(s, "still in a transaction after ROLLBACK");
			return;
		}
		pool_server_busy(&s->ps, now);
		s->rollback_sent = true;
		if (!proxy_relay_server_query(s, "ROLLBACK") ||
		    proxy_out_flush(&s->conn) == PROXY_IO_ERROR)
			proxy_server_close(s, "could not roll back");
		return;
	}
	s->rollback_sent = false;
	if (reset(s, pc, now))
		return;
	pool_server_ready(&s->ps, now);
}

void proxy_server_check(struct pool_server *ps)
{
	struct proxy_server *s = proxy_server_of(ps);
	const char *sql = pool_cfg(ps->pool)->server_check_query;
	log_debug("s%u: idle for %lld ms: checking it with \"%s\"", s->id,
	          (long long)(proxy_now_ms() - ps->state_since_ms), sql ? sql : "");
	s->check_failed = false;
	if (!proxy_relay_server_query(s, sql ? sql : "")) {
		proxy_server_close(s, "could not send server_check_query");
		return;
	}
	proxy_req_tail(s)->flags |= REQ_CHECK;
	if (proxy_out_flush(&s->conn) == PROXY_IO_ERROR)
		proxy_server_close(s, "could not send server_check_query");
}

void proxy_server_checked(struct proxy_server *s)
{
	if (s->check_failed) {
		proxy_server_close(s, "server_check_query failed");
		return;
	}
	if (s->tx_status != PROTO_TX_IDLE) {
		proxy_server_close(s, "server_check_query left a transaction open");
		return;
	}
	pool_server_ready(&s->ps, proxy_now_ms());
}
