/* proxy/server_login.c — pglane's own login to a server: SSLRequest and the TLS handshake,
 * the startup packet, authentication (SCRAM-SHA-256, SCRAM pass-through, MD5, cleartext), the
 * database's settings catalog and connect_query, then the welcome the pool keeps. It owns a
 * server's login state (struct proxy_server_login) from launch until the login ends. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/log.h"
#include "protocol/frame.h"
#include "protocol/md5.h"
#include "protocol/msg.h"
#include "protocol/scram.h"
#include "protocol/startup.h"
#include "pool/health.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/hosts.h"
#include "proxy/io.h"
#include "proxy/janitor.h"
#include "proxy/link.h"
#include "proxy/server.h"
#include "proxy/server_login.h"
#include "proxy/worker.h"
#include "proxy/tls.h"

#define SERVER_LOGIN_MAX_PACKET (64 * 1024)
#define WELCOME_MAX             4096

enum sasl_step { SASL_NONE, SASL_FIRST_SENT, SASL_FINAL_SENT, SASL_DONE };

struct proxy_server_login {
	struct proto_scram_client scram;
	enum sasl_step sasl;
	bool auth_ok;
	bool catalog_sent; /* the database's settings were asked for */
	bool connect_sent; /* databases[].connect_query was sent */
	/* target_session_attrs: in_hot_standby was reported (else pg_is_in_recovery() is
	 * asked), the question was sent, the check is done */
	bool role_known, role_sent, role_done;
	struct pool_catalog *catalog; /* owned: ... being read */
	size_t welcome_len;
	uint8_t welcome[WELCOME_MAX];
};

void proxy_server_login_free(struct proxy_server *s)
{
	if (!s->login)
		return;
	pool_catalog_free(s->login->catalog);
	OPENSSL_cleanse(s->login, sizeof(*s->login));
	free(s->login);
	s->login = NULL;
}

bool proxy_server_login_new(struct proxy_server *s)
{
	s->login = calloc(1, sizeof(*s->login));
	return s->login != NULL;
}

/* A login that failed: remember why. A transient failure (PostgreSQL starting, stopping,
 * full, unreachable) leaves the waiting clients queued until their query_wait_timeout while the
 * pool retries with back-off (pool/reach.h); any other answers them now when no other server
 * of the pool can serve them. */
static void login_failed(struct proxy_server *s, const char *sqlstate, const char *msg,
                         bool transient)
{
	if (proxy_server_next_host(s, msg))
		return; /* another host of the database is tried first */
	struct pool *p = s->ps.pool;
	int64_t now = proxy_now_ms();
	p->stats.server_connect_failures++;
	conn_warning(s, "server login failed: %s", msg);
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
		proxy_server_close(s, "login to the replica failed");
		return;
	}
	enum pool_reach_state before = p->reach.state;
	const struct cfg_pool *pc = pool_cfg(p);
	/* logged-in servers of the pool, on this worker or another (PostgreSQL is full) */
	bool serving = p->n_idle + p->n_active + p->n_busy > 0 ||
	               pool_budget_servers(p->budget) > pool_budget_logins(p->budget);
	pool_reach_failed(&p->reach, transient, serving, msg, pc->server_login_retry_ms,
	                  pc->query_wait_timeout_ms, now);
	pool_budget_retry_at(p->budget, p->reach.retry_at_ms); /* every worker holds back */
	if (p->reach.state != before)
		log_warning("%s@%s lane %s: server %s (%s)", p->user->name, p->db->name,
		            cfg_lane_name(p->lane), pool_reach_name(p->reach.state), msg);
	proxy_server_close(s, "login failed");
	if (transient)
		proxy_janitor_retry_at(p->reach.retry_at_ms);
	else if (pool_server_count(p) == 0)
		proxy_link_fail_waiters(p, sqlstate, msg);
}

void proxy_server_login_failed(struct proxy_server *s, const char *sqlstate, const char *msg)
{
	login_failed(s, sqlstate, msg, pool_reach_transient(sqlstate));
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
		proxy_server_login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	proto_write_startup(&w, server_user(p), server_dbname(p), NULL, 0);
	s->state = SERVER_LOGIN;
	if (!send_now(s, &w))
		proxy_server_login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
		                          "could not send the startup packet to the server");
}

static void no_secret(struct proxy_server *s, const char *method)
{
	char msg[256];
	snprintf(msg, sizeof(msg),
	         "the server asks for %s authentication and pglane has no password for user "
	         "\"%s\" (auth file or databases[].password)",
	         method, server_user(s->ps.pool));
	proxy_server_login_failed(s, PROTO_SQLSTATE_INVALID_PASSWORD, msg);
}

static void on_auth(struct proxy_server *s, const struct proto_frame *f)
{
	struct proxy_server_login *l = s->login;
	struct pool *p = s->ps.pool;
	int32_t code;
	const uint8_t *data;
	size_t len;
	if (!proto_parse_auth(f->body, f->body_len, &code, &data, &len)) {
		proxy_server_login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
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
			proxy_server_login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
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
			proxy_server_login_failed(
			        s, PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED,
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
			proxy_server_login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
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
			proxy_server_login_failed(s, PROTO_SQLSTATE_INVALID_PASSWORD,
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
		proxy_server_login_failed(s, PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED, msg);
		return;
	}
	}
	proxy_server_login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
	                          "could not answer the server's login");
}

void proxy_server_welcome_waiters(struct pool *p)
{
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
}

/* Login finished: the pool learns the welcome, WELCOME clients are answered, and the
 * server serves the first waiting client or idles. */
static void login_complete(struct proxy_server *s)
{
	struct pool *p = s->ps.pool;
	struct proxy_server_login *l = s->login;
	s->state = SERVER_READY;
	s->led.tx_status = PROTO_TX_IDLE;
	if (s->endpoint < 0)
		proxy_hosts_good(p->db->cfg, s->host);
	bool was_up = p->reach.state == POOL_REACH_UP;
	if (s->endpoint < 0 || !p->db->cfg) {
		if (!was_up)
			log_info("%s@%s lane %s: server up again", p->user->name, p->db->name,
			         cfg_lane_name(p->lane));
		pool_reach_ok(&p->reach, proxy_now_ms());
		pool_budget_retry_at(p->budget, 0);
	}
	if (!p->welcome && !pool_welcome_set(p, l->welcome, l->welcome_len, &s->ps.params)) {
		proxy_server_login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	proxy_server_login_free(s);
	conn_debug(s, "logged in (backend pid %d)", s->ps.be_pid);
	proxy_server_welcome_waiters(p);
	if (s->state == SERVER_READY)
		pool_server_ready(&s->ps, proxy_now_ms());
	if (!was_up) { /* the probe got through: open servers for every waiting client now */
		pool_fill(p, proxy_now_ms());
		proxy_workers_kick(~UINT64_C(0)); /* the other workers' clients waited for it too */
	}
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
		proxy_server_login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	proto_write_query(&w, "SELECT name, context FROM pg_catalog.pg_settings");
	if (!send_now(s, &w))
		proxy_server_login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
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
	conn_debug(s, "the server knows %zu settings", pool_catalog_count(l->catalog));
	db->catalog = l->catalog;
	pool_budget_catalog_put(db->budget, db->catalog); /* for the other workers */
	l->catalog = NULL;
}

/* databases[].connect_query, once on each new server before any client: the login goes on
 * at its ReadyForQuery; an error fails the login. */
static void send_connect_query(struct proxy_server *s, const char *sql)
{
	struct proto_writer w;
	s->login->connect_sent = true;
	if (!writer_for(s, &w)) {
		proxy_server_login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	proto_write_query(&w, sql);
	conn_debug(s, "running connect_query");
	if (!send_now(s, &w))
		proxy_server_login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
		                          "could not send connect_query to the server");
}

/* target_session_attrs: does the server fit the rule of its attempt? in_hot_standby and
 * default_transaction_read_only came with the login (PostgreSQL 14+); older servers are asked.
 * True when the login goes on; false when the question was sent or the login failed (then the
 * next host is tried). */
static bool role_fits(struct proxy_server *s)
{
	struct proxy_server_login *l = s->login;
	if (l->role_done || s->rule == CFG_TSA_ANY)
		return true;
	if (!l->role_known && !l->role_sent) {
		struct proto_writer w;
		l->role_sent = true;
		if (!writer_for(s, &w)) {
			proxy_server_login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
			return false;
		}
		proto_write_query(&w,
		                  "SELECT pg_catalog.pg_is_in_recovery(),"
		                  " pg_catalog.current_setting('default_transaction_read_only')");
		if (!send_now(s, &w))
			proxy_server_login_failed(
			        s, PROTO_SQLSTATE_CONNECTION_FAILURE,
			        "could not ask the server whether it is a standby");
		return false;
	}
	l->role_done = true;
	if (!l->role_known) {
		proxy_server_login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT_NOW,
		                          "the server did not say whether it is a standby");
		return false;
	}
	if (cfg_tsa_accepts(s->rule, s->hot_standby, s->read_only))
		return true;
	char msg[160];
	snprintf(msg, sizeof(msg), "the server is %s and target_session_attrs is %s",
	         proxy_hosts_role_name(s->hot_standby, s->read_only), cfg_tsa_name(s->rule));
	proxy_server_login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT_NOW, msg);
	return false;
}

/* The answer to role_fits()'s question: pg_is_in_recovery(), default_transaction_read_only. */
static void role_row(struct proxy_server *s, const struct proto_frame *f)
{
	const uint8_t *v[2];
	size_t n[2];
	bool null[2];
	for (int i = 0; i < 2; i++)
		if (!proto_parse_data_column(f->body, f->body_len, i, &v[i], &n[i], &null[i]) ||
		    null[i] || n[i] == 0)
			return;
	s->hot_standby = v[0][0] == 't';
	s->read_only = n[1] == 2 && memcmp(v[1], "on", 2) == 0;
	s->login->role_known = true;
}

/* A ReadyForQuery during login: the authentication's, the catalog query's or connect_query's.
 * Returns true when the login is over (complete or failed). */
static bool login_ready(struct proxy_server *s, const struct proto_frame *f)
{
	struct proxy_server_login *l = s->login;
	const char *cq = s->ps.pool->db->cfg->connect_query;
	if (!l->auth_ok) {
		proxy_server_login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
		                          "ReadyForQuery before authentication");
		return true;
	}
	if (!role_fits(s))
		return true;
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
			proxy_server_login_failed(
			        s, PROTO_SQLSTATE_INVALID_TX_STATE,
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

void proxy_server_login_read(struct proxy_server *s)
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
			proxy_server_login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
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
			if (s->login->role_sent && !s->login->role_done) {
				char msg[300];
				snprintf(msg, sizeof(msg),
				         "could not ask whether it is a standby: %s",
				         e.message ? e.message : "(no message)");
				proxy_server_login_failed(s, PROTO_SQLSTATE_CANNOT_CONNECT_NOW,
				                          msg);
				return;
			}
			if (s->login->connect_sent) {
				char msg[300];
				snprintf(msg, sizeof(msg), "connect_query failed: %s",
				         e.message ? e.message : "(no message)");
				proxy_server_login_failed(
				        s,
				        e.sqlstate ? e.sqlstate : PROTO_SQLSTATE_CONNECTION_FAILURE,
				        msg);
				return;
			}
			if (s->login->catalog_sent) {
				/* start-up parameters go unchecked until another server tells */
				conn_warning(s, "could not read the server's settings: %s",
				             e.message ? e.message : "(no message)");
				pool_catalog_free(s->login->catalog);
				s->login->catalog = NULL;
				break;
			}
			/* (an error without SQLSTATE is no server's way of saying "later") */
			login_failed(s, e.sqlstate ? e.sqlstate : PROTO_SQLSTATE_CONNECTION_FAILURE,
			             e.message ? e.message : "the server refused the login",
			             pool_reach_transient(e.sqlstate));
			return;
		}
		case PROTO_BE_PARAM_STATUS: {
			const char *name, *value;
			struct proxy_server_login *l = s->login;
			if (l->connect_sent)
				break; /* connect_query's: undone before a client (login_ready) */
			if (!proto_parse_param_status(f.body, f.body_len, &name, &value))
				break;
			if (strcmp(name, "in_hot_standby") == 0)
				l->role_known = true;
			proxy_hosts_param(s, name, value);
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
				proxy_server_login_failed(s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
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
			if (!s->login->catalog_sent && !s->login->connect_sent &&
			    !s->login->role_sent) {
				proxy_server_login_failed(
				        s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
				        "unexpected message from the server during login");
				return;
			}
			if (f.type == PROTO_BE_DATA_ROW && s->login->role_sent &&
			    !s->login->role_done)
				role_row(s, &f);
			else if (f.type == PROTO_BE_DATA_ROW && !s->login->connect_sent)
				catalog_row(s, &f);
			break;
		case PROTO_BE_NOTICE:
		case PROTO_BE_NEGOTIATE_VERSION:
			break;
		default:
			proxy_server_login_failed(
			        s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			        "unexpected message from the server during login");
			return;
		}
	}
}

/* The host name a server was reached by (for TLS name checks). */
static const char *server_host(const struct proxy_server *s)
{
	return proxy_server_endpoint(s)->host;
}

/* Connected: ask for TLS first unless the database's sslmode is disable (or a Unix socket). */
void proxy_server_login_begin(struct proxy_server *s)
{
	const struct cfg_database *dc = s->ps.pool->db->cfg;
	if (dc->sslmode == CFG_SSL_DISABLE || s->addr.ss_family == AF_UNIX) {
		send_startup(s);
		return;
	}
	struct proto_writer w;
	if (!writer_for(s, &w)) {
		proxy_server_login_failed(s, PROTO_SQLSTATE_INTERNAL, "out of memory");
		return;
	}
	proto_write_ssl_request(&w);
	s->state = SERVER_SSL;
	if (!send_now(s, &w))
		proxy_server_login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE,
		                          "could not send the SSLRequest to the server");
}

void proxy_server_login_tls(struct proxy_server *s)
{
	char err[256];
	switch (proxy_tls_handshake(&s->conn, err, sizeof(err))) {
	case PROXY_TLS_DONE:
		conn_debug(s, "TLS %s to the server", SSL_get_version(s->conn.ssl));
		send_startup(s);
		return;
	case PROXY_TLS_AGAIN:
		return;
	case PROXY_TLS_ERROR:
		break;
	}
	char msg[320];
	snprintf(msg, sizeof(msg), "TLS with the server failed: %s", err);
	login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE, msg, false);
}

/* The server's one-byte answer to the SSLRequest. Bytes after it, before any handshake,
 * are refused: they cannot have come through TLS. */
void proxy_server_login_ssl_answer(struct proxy_server *s)
{
	struct proxy_io *io = s->conn.io;
	const struct cfg_database *dc = s->ps.pool->db->cfg;
	uint32_t n = io ? io->end - io->scan : 0;
	if (n == 0)
		return;
	uint8_t answer = io->data[io->scan];
	if (n > 1 || (answer != 'S' && answer != 'N')) {
		proxy_server_login_failed(
		        s, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
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
			login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE, msg, false);
			return;
		}
		send_startup(s);
		return;
	}
	char err[256];
	if (!proxy_tls_connect_start(&s->conn, proxy.cfg, dc, server_host(s), err, sizeof(err))) {
		login_failed(s, PROTO_SQLSTATE_CONNECTION_FAILURE, err, false);
		return;
	}
	s->state = SERVER_TLS;
	proxy_server_login_tls(s);
}
