/* proxy/login.c — a client's login: the startup packet (its parameters become session settings
 * in proxy/startup.c; SSLRequest answered 'S' when
 * listen.tls is on and the client came over TCP, else 'N' as GSSENCRequest; CancelRequest is
 * forwarded), then authentication (trust, MD5 or SCRAM-SHA-256 against the auth file or
 * against the secret an auth_query look-up returns for a user missing from it, the login
 * waiting for the look-up (proxy/authq.c); a client certificate; the Unix-socket peer's user
 * name) and the choice of pool. Unknown users go through the same exchange as known ones and
 * get the same error as a wrong password. */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/hba.h"
#include "config/log.h"
#include "protocol/frame.h"
#include "protocol/md5.h"
#include "protocol/msg.h"
#include "protocol/random.h"
#include "protocol/scram.h"
#include "protocol/startup.h"
#include "admin/console.h"
#include "pool/route.h"
#include "proxy/admin_client.h"
#include "proxy/authq.h"
#include "proxy/cancel.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/io.h"
#include "proxy/link.h"
#include "proxy/login.h"
#include "proxy/startup.h"
#include "proxy/tls.h"

enum login_step { STEP_STARTUP, STEP_LOOKUP, STEP_MD5, STEP_SASL_INITIAL, STEP_SASL_FINAL };

enum method { M_TRUST, M_MD5, M_SCRAM, M_REJECT, M_CERT, M_PEER };

struct proxy_login {
	enum login_step step;
	enum method method;
	struct proxy_client *client;    /* borrowed: whose login this is */
	struct proxy_authq_waiter wait; /* STEP_LOOKUP: the auth_query look-up it waits on */
	bool looked_up;                 /* the secret came from auth_query */
	char user[PROTO_NAMEDATALEN];
	char database[PROTO_NAMEDATALEN];
	bool unknown_user;
	enum cfg_secret_kind kind;
	char secret[512];
	uint8_t md5_salt[PROTO_MD5_SALT_LEN];
	struct proto_scram_server scram;
};

/* The key that makes an unknown user's mock SCRAM salt stable (the same name gets the same
 * salt every time, as if the user existed). Process-wide, read-only once made: made once
 * (pthread_once) by the first worker that needs it. */
static struct mock_key_state {
	uint8_t mock_key[32];
	pthread_once_t once;
} mock = {.once = PTHREAD_ONCE_INIT};

static void make_mock_key(void)
{
	if (RAND_bytes(mock.mock_key, sizeof(mock.mock_key)) != 1)
		memset(mock.mock_key, 0x5a, sizeof(mock.mock_key));
}

void proxy_login_free(struct proxy_client *c)
{
	if (!c->login)
		return;
	proxy_authq_cancel(&c->login->wait);
	OPENSSL_cleanse(c->login, sizeof(*c->login));
	free(c->login);
	c->login = NULL;
}

static bool send_auth(struct proxy_client *c, int32_t code, const void *data, size_t n)
{
	size_t avail;
	uint8_t *space = proxy_out_space(&c->conn, &avail);
	struct proto_writer w;
	proto_writer_init(&w, space, space ? avail : 0);
	proto_write_auth(&w, code, data, n);
	if (!proto_writer_ok(&w) || !proxy_out_commit(&c->conn, w.len))
		return false;
	if (proxy_out_flush(&c->conn) == PROXY_IO_ERROR) {
		proxy_client_close(c, NULL, "write to client failed");
		return false;
	}
	return true;
}

static void auth_failed(struct proxy_client *c)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "password authentication failed for user \"%s\"",
	         c->login->user);
	proxy_client_fatal(c, PROTO_SQLSTATE_INVALID_PASSWORD, msg);
}

/* A secret for a user not in the auth file: stable per name, never matching. */
static void mock_secret(const char *user, struct proto_scram_secret *out)
{
	pthread_once(&mock.once, make_mock_key);
	uint8_t digest[32];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, mock.mock_key, sizeof(mock.mock_key)) &&
	    EVP_DigestUpdate(ctx, user, strlen(user)))
		EVP_DigestFinal_ex(ctx, digest, &dlen);
	EVP_MD_CTX_free(ctx);
	if (dlen != sizeof(digest))
		memset(digest, 0, sizeof(digest));
	memset(out, 0, sizeof(*out));
	out->iterations = PROTO_SCRAM_DEFAULT_ITERATIONS;
	memcpy(out->salt, digest, 16);
	out->salt_len = 16;
	if (RAND_bytes(out->stored_key, sizeof(out->stored_key)) != 1 ||
	    RAND_bytes(out->server_key, sizeof(out->server_key)) != 1)
		memset(out->stored_key, 0xa5, sizeof(out->stored_key));
}

/* The SCRAM secret to check the client against; false when none can be made. */
static bool scram_secret(struct proxy_login *l, struct proto_scram_secret *out)
{
	if (l->unknown_user) {
		mock_secret(l->user, out);
		return true;
	}
	if (l->kind == CFG_SECRET_SCRAM)
		return proto_scram_secret_parse(l->secret, out);
	if (l->kind != CFG_SECRET_PLAIN)
		return false;
	struct pool_user *u = pool_user_get(l->user);
	if (!u)
		return false;
	if (!u->have_derived || strcmp(u->derived_from, l->secret) != 0) {
		uint8_t salt[16];
		if (RAND_bytes(salt, sizeof(salt)) != 1 ||
		    !proto_scram_secret_from_password(l->secret, salt, sizeof(salt),
		                                      PROTO_SCRAM_DEFAULT_ITERATIONS, &u->derived))
			return false;
		snprintf(u->derived_from, sizeof(u->derived_from), "%s", l->secret);
		u->have_derived = true;
	}
	*out = u->derived;
	return true;
}

static void login_done(struct proxy_client *c)
{
	struct proxy_login *l = c->login;
	proxy_client_logged_in(c);
	if (c->want_admin) {
		if (proxy_admin_login(c, l->user)) {
			proxy_login_free(c);
			proxy_client_welcome(c);
		}
		return;
	}
	const struct cfg_database *dc = cfg_database_find(proxy.cfg, l->database);
	struct pool *p = NULL;
	if (dc) {
		int app = POOL_PARAM_APPLICATION_NAME;
		const struct pool_str *appv = app >= 0 ? c->pc.params.v[app] : NULL;
		enum cfg_lane_kind lane = pool_route(proxy.cfg, dc, l->database, l->user,
		                                     appv ? appv->s : NULL, NULL);
		p = pool_get(proxy.cfg, l->database, l->user, lane);
		if (p)
			c->lanes[lane] = p;
	}
	if (!p) {
		char msg[160];
		snprintf(msg, sizeof(msg), "database \"%s\" does not exist", l->database);
		proxy_client_fatal(c, PROTO_SQLSTATE_INVALID_CATALOG, msg);
		return;
	}
	if (p->db->disabled) {
		char msg[160];
		snprintf(msg, sizeof(msg), "database does not allow connections: %s", l->database);
		proxy_client_fatal(c, PROTO_SQLSTATE_CANNOT_CONNECT, msg);
		return;
	}
	const char *cap = pool_client_cap_reached(p);
	if (cap) {
		char msg[96];
		snprintf(msg, sizeof(msg), "no more connections allowed (%s)", cap);
		if (cfg_log_switch.pooler_errors)
			conn_warning(c, "%s@%s refused: %s", l->user, l->database, msg);
		proxy_client_fatal(c, PROTO_SQLSTATE_TOO_MANY_CONNECTIONS, msg);
		return;
	}
	c->pc.pool = p;
	pool_client_join(p);
	proxy_login_free(c);
	if (p->welcome || pool_welcome_borrow(p)) {
		/* no server needed: a client pglane authenticated itself logs in while
		 * PostgreSQL is unreachable, and waits for a server at its first query */
		proxy_client_welcome(c);
		return;
	}
	/* no server of this database and user has logged in yet: wait for one, as for a
	 * query (until query_wait_timeout; client_login_timeout is over with the
	 * authentication) */
	c->state = CLIENT_WELCOME;
	struct pool_server *s = pool_acquire(p, &c->pc, proxy_now_ms());
	if (s)
		proxy_link_assigned(&c->pc, s);
}

/* The method for this connection: the first matching hba rule's, else auth.type; NULL
 * error text when allowed. */
static enum method choose_method(struct proxy_client *c, char *why, size_t cap)
{
	struct proxy_login *l = c->login;
	static const enum method by_type[] = {
	        [CFG_AUTH_TRUST] = M_TRUST, [CFG_AUTH_MD5] = M_MD5, [CFG_AUTH_SCRAM] = M_SCRAM};
	if (!proxy.cfg->nhba)
		return by_type[proxy.cfg->auth.type];
	char ip[PROXY_ADDR_LEN];
	snprintf(ip, sizeof(ip), "%s", c->unix_socket ? "[local]" : c->addr); /* PostgreSQL's */
	char *colon = c->unix_socket ? NULL : strrchr(ip, ':');
	if (colon)
		*colon = '\0';
	const struct cfg_hba *h =
	        cfg_hba_match(proxy.cfg, c->unix_socket ? NULL : ip, l->database, l->user);
	if (!h) {
		snprintf(why, cap, "no hba rule for host \"%s\", user \"%s\", database \"%s\"", ip,
		         l->user, l->database);
		return M_REJECT;
	}
	if (strcmp(h->method, "reject") == 0) {
		snprintf(why, cap,
		         "an hba rule rejects the connection for host \"%s\", user \"%s\", "
		         "database \"%s\"",
		         ip, l->user, l->database);
		return M_REJECT;
	}
	if (strcmp(h->method, "trust") == 0)
		return M_TRUST;
	if (strcmp(h->method, "md5") == 0)
		return M_MD5;
	if (strcmp(h->method, "cert") == 0)
		return M_CERT;
	if (strcmp(h->method, "peer") == 0)
		return M_PEER;
	return M_SCRAM;
}

/* Ask the client for its password (MD5, or SCRAM when that is the method or the secret is a
 * SCRAM secret); the secret to check it against is in the login. */
static void ask_password(struct proxy_client *c)
{
	struct proxy_login *l = c->login;
	c->state = CLIENT_AUTH;
	bool md5 = l->method == M_MD5 && (l->unknown_user || l->kind != CFG_SECRET_SCRAM);
	if (md5) {
		if (!proto_random(l->md5_salt, sizeof(l->md5_salt))) {
			proxy_client_fatal(c, PROTO_SQLSTATE_INTERNAL, "no random bytes");
			return;
		}
		l->step = STEP_MD5;
		send_auth(c, PROTO_AUTH_MD5, l->md5_salt, sizeof(l->md5_salt));
		return;
	}
	static const char mechs[] = PROTO_SCRAM_MECHANISM "\0";
	l->step = STEP_SASL_INITIAL;
	send_auth(c, PROTO_AUTH_SASL, mechs, sizeof(mechs));
}

/* The secret of a user the auth file does not list, from the auth_query look-up; the servers
 * of the user log in with it too. Then the password exchange, whatever the result (an unknown
 * user learns it only after giving a password, as with the auth file). */
static void lookup_done(struct proxy_authq_waiter *w, const struct proxy_authq_result *r)
{
	struct proxy_login *l = pool_container_of(w, struct proxy_login, wait);
	struct proxy_client *c = l->client;
	if (r->status == PROXY_AUTHQ_ERROR) {
		char msg[300];
		snprintf(msg, sizeof(msg),
		         "could not look up user \"%s\" (auth_query): %s; pglane's log has the "
		         "error",
		         l->user, r->summary ? r->summary : "the look-up failed");
		/* proxy/authq.c logged the error once for all its waiters */
		proxy_client_fatal(c, PROTO_SQLSTATE_CONNECTION_FAILURE, msg);
		return;
	}
	l->unknown_user = true;
	if (r->status == PROXY_AUTHQ_NOT_FOUND) {
		/* no record is made for a name that does not exist (a storm of made-up names
		 * costs nothing that stays) */
		struct pool_user *gone = pool_user_find(l->user);
		conn_info(c, "auth_query found no user \"%s\" with a password", l->user);
		if (gone)
			gone->auth_secret[0] = '\0';
	} else if (strlen(r->secret) >= sizeof(l->secret) || !cfg_secret_well_formed(r->secret)) {
		conn_warning(c, "auth_query returned an unusable secret for user \"%s\" (%s)",
		             l->user,
		             strlen(r->secret) >= sizeof(l->secret) ? "too long"
		                                                    : "malformed SCRAM secret");
	} else {
		l->unknown_user = false;
		l->looked_up = true;
		l->kind = cfg_secret_kind_of(r->secret);
		snprintf(l->secret, sizeof(l->secret), "%s", r->secret);
		struct pool_user *u = pool_user_get(l->user);
		if (u && strcmp(u->auth_secret, r->secret) != 0) {
			/* a new password: pass-through keys of the old one are worthless */
			snprintf(u->auth_secret, sizeof(u->auth_secret), "%s", r->secret);
			u->have_scram_keys = false;
		}
	}
	ask_password(c);
}

/* hba "peer": the OS user of the process at the other end of the Unix socket must have the
 * client's user name (no user-name maps). */
static bool peer_ok(struct proxy_client *c)
{
	const char *user = c->login->user;
	if (!c->unix_socket || !c->peer_known) {
		conn_info(c,
		          "peer authentication needs a Unix-socket client with known credentials");
		return false;
	}
	struct passwd pw, *found = NULL;
	char buf[4096];
	int rc = getpwuid_r(c->peer_uid, &pw, buf, sizeof(buf), &found);
	if (!found) {
		conn_info(c, "peer authentication for user \"%s\": no OS user with uid %u%s%s",
		          user, (unsigned)c->peer_uid, rc ? ": " : "", rc ? strerror(rc) : "");
		return false;
	}
	if (strcmp(pw.pw_name, user) != 0) {
		conn_info(c,
		          "peer authentication failed: the user name \"%s\" is not the OS user "
		          "\"%s\" (uid %u, pid %d)",
		          user, pw.pw_name, (unsigned)c->peer_uid, (int)c->peer_pid);
		return false;
	}
	return true;
}

/* PgBouncer's rule for its console: over the Unix socket, a process of the OS user pglane runs
 * as logs in without a password when it asks for the console's own user name (pglane, or
 * pgbouncer as PgBouncer spells it), whatever hba and admin.users say. */
static bool own_user_console(const struct proxy_client *c)
{
	const char *user = c->login->user;
	return c->want_admin && c->unix_socket && c->peer_known && c->peer_uid == getuid() &&
	       (strcmp(user, "pglane") == 0 || strcmp(user, "pgbouncer") == 0);
}

static void start_auth(struct proxy_client *c)
{
	struct proxy_login *l = c->login;
	char why[300] = "";
	if (own_user_console(c)) {
		c->own_user = true;
		conn_info(c,
		          "admin console access from the Unix socket (pid %d of pglane's own OS "
		          "user)",
		          (int)c->peer_pid);
		login_done(c);
		return;
	}
	enum method m = choose_method(c, why, sizeof(why));
	if (m == M_REJECT) {
		proxy_client_fatal(c, PROTO_SQLSTATE_INVALID_AUTH_SPEC, why);
		return;
	}
	if (m == M_PEER) {
		if (!peer_ok(c)) {
			snprintf(why, sizeof(why), "peer authentication failed for user \"%s\"",
			         l->user);
			proxy_client_fatal(c, PROTO_SQLSTATE_INVALID_AUTH_SPEC, why);
			return;
		}
		login_done(c);
		return;
	}
	if (m == M_CERT) {
		/* a verified client certificate whose common name is the user */
		char cn[256];
		if (!proxy_tls_peer_name(&c->conn, cn, sizeof(cn)) || strcmp(cn, l->user) != 0) {
			snprintf(why, sizeof(why),
			         "certificate authentication failed for user \"%s\"", l->user);
			proxy_client_fatal(c, PROTO_SQLSTATE_INVALID_AUTH_SPEC, why);
			return;
		}
		login_done(c);
		return;
	}
	if (m == M_TRUST) {
		login_done(c);
		return;
	}
	l->method = m;
	const struct cfg_user *u = proxy.users ? cfg_userlist_find(proxy.users, l->user) : NULL;
	const struct cfg_database *dc =
	        u || c->want_admin ? NULL : cfg_database_find(proxy.cfg, l->database);
	if (proxy_authq_enabled(dc)) {
		/* not in the auth file: ask PostgreSQL, the login waits */
		l->client = c;
		l->wait.done = lookup_done;
		pool_list_init(&l->wait.link);
		if (!proxy_authq_lookup(proxy.cfg, dc, l->database, l->user, &l->wait, why,
		                        sizeof(why))) {
			conn_warning(c, "auth_query look-up not started: %s", why);
			proxy_client_fatal(
			        c, PROTO_SQLSTATE_CONNECTION_FAILURE,
			        "could not look up the user (auth_query): pglane's log has "
			        "the error");
			return;
		}
		c->state = CLIENT_AUTH;
		l->step = STEP_LOOKUP;
		return;
	}
	l->unknown_user = u == NULL;
	if (u) {
		l->kind = u->kind;
		if (snprintf(l->secret, sizeof(l->secret), "%s", u->secret) >=
		    (int)sizeof(l->secret))
			l->unknown_user = true; /* cannot be right: treat as unknown */
	}
	ask_password(c);
}

static void on_md5(struct proxy_client *c, const struct proto_frame *f)
{
	struct proxy_login *l = c->login;
	const char *response;
	if (!proto_parse_password(f->body, f->body_len, &response)) {
		proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION, "invalid password packet");
		return;
	}
	bool ok = false;
	if (!l->unknown_user) {
		char secret[PROTO_MD5_SECRET_LEN + 1];
		if (l->kind == CFG_SECRET_PLAIN) {
			proto_md5_secret(l->secret, l->user, secret);
			ok = proto_md5_verify(secret, l->md5_salt, response);
		} else if (l->kind == CFG_SECRET_MD5) {
			ok = proto_md5_verify(l->secret, l->md5_salt, response);
		}
	}
	if (!ok) {
		auth_failed(c);
		return;
	}
	login_done(c);
}

static void on_sasl_initial(struct proxy_client *c, const struct proto_frame *f)
{
	struct proxy_login *l = c->login;
	const char *mech;
	const uint8_t *data;
	size_t len;
	if (!proto_parse_sasl_initial(f->body, f->body_len, &mech, &data, &len)) {
		proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
		                   "malformed SASLInitialResponse");
		return;
	}
	if (strcmp(mech, PROTO_SCRAM_MECHANISM) != 0) {
		proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
		                   "client selected an invalid SASL authentication mechanism");
		return;
	}
	struct proto_scram_secret secret;
	if (!scram_secret(l, &secret)) {
		auth_failed(c);
		return;
	}
	char out[PROTO_SCRAM_MAX_MSG + 1];
	size_t out_len;
	if (proto_scram_server_first(&l->scram, &secret, data, len, out, sizeof(out), &out_len) !=
	    PROTO_SCRAM_OK) {
		proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION, "malformed SCRAM message");
		return;
	}
	l->step = STEP_SASL_FINAL;
	send_auth(c, PROTO_AUTH_SASL_CONTINUE, out, out_len);
}

static void on_sasl_final(struct proxy_client *c, const struct proto_frame *f)
{
	struct proxy_login *l = c->login;
	char out[PROTO_SCRAM_MAX_MSG + 1];
	size_t out_len;
	enum proto_scram_result r = proto_scram_server_final(&l->scram, f->body, f->body_len, out,
	                                                     sizeof(out), &out_len);
	if (r == PROTO_SCRAM_MALFORMED) {
		proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION, "malformed SCRAM message");
		return;
	}
	if (r != PROTO_SCRAM_OK || l->unknown_user) {
		auth_failed(c);
		return;
	}
	if (l->kind == CFG_SECRET_SCRAM && l->scram.have_client_key) {
		/* keep the keys: servers of this user can log in by pass-through */
		struct pool_user *u = pool_user_get(l->user);
		if (u) {
			memcpy(u->client_key, l->scram.client_key, sizeof(u->client_key));
			memcpy(u->server_key, l->scram.secret.server_key, sizeof(u->server_key));
			u->have_scram_keys = true;
		}
	}
	if (!send_auth(c, PROTO_AUTH_SASL_FINAL, out, out_len))
		return;
	login_done(c);
}

/* One startup-phase packet; the client's state says what comes next. */
static void on_startup(struct proxy_client *c, const uint8_t *p, size_t len)
{
	struct proto_startup s;
	if (!proto_startup_parse(p, len, &s)) {
		proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION, "invalid startup packet");
		return;
	}
	switch (s.kind) {
	case PROTO_STARTUP_SSL:
	case PROTO_STARTUP_GSSENC: {
		/* libpq may ask for GSS encryption, then TLS: two requests at most, and none
		 * once TLS is on */
		static const uint8_t no = 'N', yes = 'S';
		if (++c->negotiations > 2 || c->conn.ssl) {
			proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			                   "too many encryption requests");
			return;
		}
		/* none over the Unix socket, as PostgreSQL and PgBouncer */
		if (s.kind == PROTO_STARTUP_SSL && proxy_tls_listen_enabled() && !c->unix_socket) {
			/* bytes sent after the request, before the handshake, would be taken as
			 * if they had been encrypted: refused (CVE-2021-23222 class) */
			struct proxy_io *io = c->conn.io;
			if (io && io->end > io->scan) {
				proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
				                   "received unencrypted data after SSL request");
				return;
			}
			if (!proxy_conn_send_now(&c->conn, &yes, 1) ||
			    !proxy_tls_accept_start(&c->conn)) {
				proxy_client_close(c, NULL, "cannot start TLS");
				return;
			}
			proxy_io_release_idle(&c->conn);
			c->state = CLIENT_TLS;
			proxy_login_tls(c);
			return;
		}
		if (!proxy_out_copy(&c->conn, &no, 1) ||
		    proxy_out_flush(&c->conn) == PROXY_IO_ERROR)
			proxy_client_close(c, NULL, "write to client failed");
		return;
	}
	case PROTO_STARTUP_CANCEL:
		proxy_cancel_request(s.cancel_pid, s.cancel_key);
		proxy_client_close(c, NULL, "cancel request handled");
		return;
	case PROTO_STARTUP_UNSUPPORTED: {
		char msg[128];
		snprintf(msg, sizeof(msg),
		         "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
		         s.code >> 16, s.code & 0xffff);
		proxy_client_fatal(c, PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED, msg);
		return;
	}
	case PROTO_STARTUP_V3:
		break;
	}
	/* the Unix socket has no TLS and needs none (PgBouncer's rule) */
	if (cfg_tls_required(proxy.cfg->listen.tls.mode) && !c->conn.ssl && !c->unix_socket) {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "pglane requires TLS (listen.tls.mode = %s): connect with "
		         "sslmode=require%s",
		         cfg_tls_mode_name(proxy.cfg->listen.tls.mode),
		         cfg_tls_verifies(proxy.cfg->listen.tls.mode) ? " and a client certificate"
		                                                      : "");
		proxy_client_fatal(c, PROTO_SQLSTATE_INVALID_AUTH_SPEC, msg);
		return;
	}
	c->login = calloc(1, sizeof(*c->login));
	if (!c->login) {
		proxy_client_close(c, NULL, "out of memory");
		return;
	}
	struct proxy_login *l = c->login;
	snprintf(l->user, sizeof(l->user), "%s", s.user);
	snprintf(l->database, sizeof(l->database), "%s", s.database);
	c->want_admin = admin_database_is(l->database);
	if (proxy_startup_take(c, &s))
		start_auth(c);
}

void proxy_login_tls(struct proxy_client *c)
{
	char err[256];
	switch (proxy_tls_handshake(&c->conn, err, sizeof(err))) {
	case PROXY_TLS_DONE:
		c->state = CLIENT_STARTUP;
		conn_debug(c, "TLS %s", SSL_get_version(c->conn.ssl));
		return;
	case PROXY_TLS_AGAIN:
		return;
	case PROXY_TLS_ERROR:
		break;
	}
	char msg[300];
	snprintf(msg, sizeof(msg), "TLS handshake failed: %s", err);
	conn_info(c, "%s", msg);
	proxy_client_close(c, NULL, msg);
}

void proxy_login_read(struct proxy_client *c)
{
	enum proxy_io_result r = proxy_conn_read(&c->conn);
	if (r == PROXY_IO_EOF || r == PROXY_IO_ERROR) {
		proxy_client_close(c, NULL, "client closed the connection during login");
		return;
	}
	while (c->state == CLIENT_STARTUP || c->state == CLIENT_AUTH) {
		struct proxy_io *io = c->conn.io;
		if (!io)
			return;
		const uint8_t *p = io->data + io->scan;
		size_t n = io->end - io->scan;
		struct proto_frame f;
		enum proto_frame_result fr;
		if (c->state == CLIENT_STARTUP) {
			fr = proto_startup_frame(p, n, PROTO_MAX_STARTUP_LEN, &f);
		} else {
			fr = proto_frame_next(p, n, PROXY_LOGIN_MAX_PACKET, &f);
		}
		if (fr == PROTO_FRAME_NEED_MORE) {
			if (r == PROXY_IO_AGAIN && io->end == io->cap)
				proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
				                   "login packet too large");
			return;
		}
		if (fr == PROTO_FRAME_BAD) {
			proxy_client_fatal(
			        c, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			        c->state == CLIENT_STARTUP
			                ? "invalid length of startup packet"
			                : "invalid message length during authentication");
			return;
		}
		io->scan += (uint32_t)f.size;
		proxy_in_consumed(&c->conn); /* nothing refers to it */
		if (c->state == CLIENT_STARTUP) {
			on_startup(c, p, f.size);
			continue;
		}
		if (f.type != PROTO_FE_PASSWORD) {
			proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			                   "expected an authentication response");
			return;
		}
		switch (c->login->step) {
		case STEP_MD5:
			on_md5(c, &f);
			break;
		case STEP_SASL_INITIAL:
			on_sasl_initial(c, &f);
			break;
		case STEP_SASL_FINAL:
			on_sasl_final(c, &f);
			break;
		case STEP_STARTUP:
		case STEP_LOOKUP: /* nothing was asked yet */
			proxy_client_fatal(c, PROTO_SQLSTATE_PROTOCOL_VIOLATION,
			                   "unexpected message during login");
			return;
		}
	}
}
