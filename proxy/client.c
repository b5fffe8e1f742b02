/* proxy/client.c — client connections: accept, the count of logins in progress per address,
 * the watcher callback, the welcome after login, and the one close function with its deferred
 * free. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/log.h"
#include "protocol/buf.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "protocol/startup.h"
#include "proxy/admin_client.h"
#include "proxy/cancel.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/io.h"
#include "proxy/lost.h"
#include "proxy/link.h"
#include "proxy/login.h"
#include "proxy/prepared.h"
#include "proxy/relay.h"
#include "proxy/session.h"
#include "proxy/worker.h"

#define LOGIN_BUCKETS          1024
#define MAX_LOGINS_PER_ADDRESS 1000 /* connections of one address not yet authenticated */

/* Logins in progress of one client address (the part of `addr` before the port). */
struct login_count {
	struct login_count *next;
	int n;
	char ip[PROXY_ADDR_LEN];
};

/* The addresses with logins in progress (a client counts from accept until
 * proxy_client_logged_in or its close), whichever worker accepted them: process-wide, one
 * table shared by the workers behind a lock. */
struct login_table {
	pthread_mutex_t lock;                       /* any worker, at login start and end */
	struct login_count *buckets[LOGIN_BUCKETS]; /* owned entries, freed at n == 0 */
};
static struct login_table logins = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Every worker's clients (listen.max_client_conn is a bound on the process). */
static _Atomic int all_clients;

int proxy_clients_all(void)
{
	return all_clients;
}

static struct login_count **login_slot(const char *ip)
{
	uint32_t h = 2166136261u;
	for (const char *p = ip; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	struct login_count **e = &logins.buckets[h % LOGIN_BUCKETS];
	while (*e && strcmp((*e)->ip, ip) != 0)
		e = &(*e)->next;
	return e;
}

static void ip_of(const char *addr, char *ip, size_t cap)
{
	snprintf(ip, cap, "%s", addr);
	char *colon = strrchr(ip, ':');
	if (colon)
		*colon = '\0';
}

/* Count a login of `c`'s address; false when the address has too many already. */
static bool login_count_add(struct proxy_client *c)
{
	char ip[PROXY_ADDR_LEN];
	ip_of(c->addr, ip, sizeof(ip));
	pthread_mutex_lock(&logins.lock);
	struct login_count **slot = login_slot(ip);
	if (!*slot) {
		struct login_count *e = calloc(1, sizeof(*e));
		if (e)
			snprintf(e->ip, sizeof(e->ip), "%s", ip);
		*slot = e;
	}
	bool ok = *slot && (*slot)->n < MAX_LOGINS_PER_ADDRESS;
	if (ok)
		(*slot)->n++;
	pthread_mutex_unlock(&logins.lock);
	c->login_counted = ok;
	return ok;
}

void proxy_client_logged_in(struct proxy_client *c)
{
	if (!c->login_counted)
		return;
	c->login_counted = false;
	char ip[PROXY_ADDR_LEN];
	ip_of(c->addr, ip, sizeof(ip));
	pthread_mutex_lock(&logins.lock);
	struct login_count **slot = login_slot(ip);
	if (*slot && --(*slot)->n == 0) {
		struct login_count *e = *slot;
		*slot = e->next;
		free(e);
	}
	pthread_mutex_unlock(&logins.lock);
}

static void format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	} else if (sa->sa_family == AF_UNIX) {
		/* as PgBouncer shows it: address "unix", the port pglane listens on */
		snprintf(ip, sizeof(ip), "unix");
		port = proxy.cfg->listen.port;
	}
	snprintf(out, cap, "%s:%d", ip, port);
}

static void client_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	struct proxy_client *c = pool_container_of(w, struct proxy_client, conn.w);
	if (revents & EV_WRITE) {
		enum proxy_io_result r = proxy_out_flush(&c->conn);
		if (r == PROXY_IO_ERROR) {
			proxy_client_close(c, NULL, "write to client failed");
			return;
		}
		if (r == PROXY_IO_OK) {
			if (c->close_after_flush) {
				proxy_client_close(c, NULL, "fatal error sent");
				return;
			}
			if (c->state == CLIENT_READY && c->admin)
				proxy_admin_drained(c);
			else if (c->state == CLIENT_READY)
				proxy_relay_client_drained(c);
			else if (c->state == CLIENT_STARTUP || c->state == CLIENT_AUTH)
				proxy_conn_set_read(&c->conn, true);
			else if (c->state == CLIENT_TLS)
				proxy_login_tls(c); /* a handshake that waited to write goes on */
			if (c->state != CLIENT_CLOSED)
				proxy_io_release_idle(&c->conn);
		}
	}
	if (!(revents & EV_READ) || c->state == CLIENT_CLOSED)
		return;
	switch (c->state) {
	case CLIENT_STARTUP:
	case CLIENT_AUTH:
		proxy_login_read(c);
		return;
	case CLIENT_TLS:
		proxy_login_tls(c);
		return;
	case CLIENT_WELCOME:
	case CLIENT_READY:
		break;
	case CLIENT_CLOSED:
		return;
	}
	enum proxy_io_result r = proxy_conn_read(&c->conn);
	if (r == PROXY_IO_EOF) {
		proxy_client_close(c, NULL, "client closed the connection");
		return;
	}
	if (r == PROXY_IO_ERROR) {
		proxy_client_close(c, NULL, "read from client failed");
		return;
	}
	if (r == PROXY_IO_AGAIN && c->conn.io && c->conn.io->end == c->conn.io->cap) {
		proxy_conn_set_read(&c->conn, false); /* full: processing resumes reading */
		return;
	}
	c->active_ms = proxy_now_ms();
	if (c->state == CLIENT_READY && c->admin)
		proxy_admin_read(c);
	else if (c->state == CLIENT_READY)
		proxy_relay_client(c);
}

void proxy_client_accept(int fd, const struct sockaddr *sa, socklen_t len)
{
	proxy_client_accepted(fd, sa, len, proxy.shutdown != PROXY_SHUTDOWN_NONE);
}

void proxy_client_accepted(int fd, const struct sockaddr *sa, socklen_t len, bool stopped)
{
	(void)len;
	if (all_clients >= proxy.cfg->listen.max_client_conn || stopped) {
		/* answer as PostgreSQL would, without reading anything */
		uint8_t buf[256];
		struct proto_writer w;
		proto_writer_init(&w, buf, sizeof(buf));
		proto_write_error(&w, PROTO_BE_ERROR, "FATAL", PROTO_SQLSTATE_TOO_MANY_CONNECTIONS,
		                  stopped ? "pglane is shutting down"
		                          : "too many client connections "
		                            "(listen.max_client_conn)",
		                  NULL);
		if (proto_writer_ok(&w)) {
			ssize_t n = send(fd, buf, w.len, MSG_NOSIGNAL);
			(void)n;
		}
		close(fd);
		log_warning("refused a client: %s",
		            stopped ? "shutting down" : "max_client_conn reached");
		return;
	}
	struct proxy_client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		log_error("out of memory accepting a client");
		return;
	}
	int one = 1;
	if (sa->sa_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->id = proxy_next_client_id();
	c->state = CLIENT_STARTUP;
	c->connect_ms = c->active_ms = proxy_now_ms();
	format_addr(sa, c->addr, sizeof(c->addr));
	if (sa->sa_family == AF_UNIX) {
		c->unix_socket = true;
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
		    clen == sizeof(cred)) {
			c->peer_known = true;
			c->peer_uid = cred.uid;
			c->peer_pid = cred.pid;
		} else {
			conn_warning(c, "the Unix socket peer's credentials are unknown: %s",
			             strerror(errno));
		}
	}
	pool_list_init(&c->pc.link);
	pool_params_init(&c->pc.params);
	pool_session_init(&c->pc.session);
	pool_list_append(&proxy.clients, &c->link);
	proxy.nclients++;
	all_clients++;
	proxy_worker_client_count(1);
	proxy_conn_init(&c->conn, fd, client_cb);
	if (c->peer_known)
		conn_debug(c, "connected (pid %d, uid %u)", (int)c->peer_pid,
		           (unsigned)c->peer_uid);
	else
		conn_debug(c, "connected");
	if (!login_count_add(c))
		proxy_client_fatal(c, PROTO_SQLSTATE_TOO_MANY_CONNECTIONS,
		                   "too many connections from this address are logging in");
}

/* Write ParameterStatus for each welcome message of the pool, with the client's own value
 * for tracked parameters; then BackendKeyData and ReadyForQuery. */
/* What the admin console reports about itself at login. */
static void admin_params(struct proto_writer *w)
{
	static const char *const params[][2] = {
	        {"server_version", "15.0 (pglane " PGLANE_VERSION ")"},
	        {"server_encoding", "UTF8"},
	        {"client_encoding", "UTF8"},
	        {"DateStyle", "ISO, MDY"},
	        {"integer_datetimes", "on"},
	        {"standard_conforming_strings", "on"},
	        {"TimeZone", "UTC"},
	        {"is_superuser", "off"},
	};
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		proto_write_param_status(w, params[i][0], params[i][1]);
}

/* Its start-up settings, checked as PostgreSQL would at login against the settings the
 * database's server knows: an unknown name, or one only a server's start can set, is
 * refused (FATAL) unless ignore_startup_parameters lists it (then it is dropped). A value
 * PostgreSQL would refuse is refused when pglane first applies it. False when closed. */
static bool check_startup(struct proxy_client *c)
{
	struct pool *p = c->pc.pool;
	const struct pool_catalog *cat = p ? pool_db_catalog(p->db) : NULL;
	const struct pool_settings *st = c->pc.session.startup;
	if (!cat)
		return true; /* nothing to check against: the first apply will tell */
	for (size_t i = 0; i < pool_settings_count(st); i++) {
		const char *name = pool_settings_name(st, i);
		enum pool_guc_context ctx = pool_catalog_context(cat, name);
		if (ctx == POOL_GUC_USER || ctx == POOL_GUC_SUPERUSER)
			continue;
		char msg[200];
		if (ctx == POOL_GUC_UNKNOWN)
			snprintf(msg, sizeof(msg), "unrecognized configuration parameter \"%s\"",
			         name);
		else
			snprintf(
			        msg, sizeof(msg),
			        "parameter \"%s\" can only be set when a server connection starts, "
			        "which pglane's pooled connections do not do for a client",
			        name);
		proxy_client_fatal(c,
		                   ctx == POOL_GUC_UNKNOWN ? PROTO_SQLSTATE_UNDEFINED_OBJECT
		                                           : PROTO_SQLSTATE_CANT_CHANGE_RUNTIME,
		                   msg);
		return false;
	}
	return true;
}

/* The next ParameterStatus of the pool's welcome from `*off` (0 first): false at its end. */
static bool welcome_next(const struct pool *p, size_t *off, const char **name, const char **value)
{
	while (p && *off < p->welcome_len) {
		struct proto_frame f;
		if (proto_frame_next(p->welcome + *off, p->welcome_len - *off,
		                     PROXY_LOGIN_MAX_PACKET, &f) != PROTO_FRAME_OK)
			return false;
		*off += f.size;
		if (proto_parse_param_status(f.body, f.body_len, name, value))
			return true;
	}
	return false;
}

bool proxy_client_params_reset(struct proxy_client *c)
{
	struct pool *p = c->pc.pool;
	size_t avail;
	uint8_t *space = proxy_out_space(&c->conn, &avail);
	struct proto_writer w;
	proto_writer_init(&w, space, space ? avail : 0);
	size_t off = 0;
	const char *name, *value;
	while (welcome_next(p, &off, &name, &value)) {
		int idx = pool_params_index(name);
		if (idx < 0)
			continue;
		char lower[64], datestyle[64];
		size_t i = 0;
		for (; name[i] && i + 1 < sizeof(lower); i++)
			lower[i] =
			        (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
		lower[i] = '\0';
		const char *own = pool_settings_get(c->pc.session.startup, lower);
		if (own && idx == POOL_PARAM_DATESTYLE &&
		    pool_datestyle_merge(own, value, datestyle, sizeof(datestyle)))
			value = datestyle;
		else if (own)
			value = own;
		const struct pool_str *seen = c->pc.params.v[idx];
		if (seen && strcmp(seen->s, value) == 0)
			continue;
		pool_params_set(&c->pc.params, idx, value);
		proto_write_param_status(&w, name, value);
	}
	return proto_writer_ok(&w) && (w.len == 0 || proxy_out_commit(&c->conn, w.len));
}

void proxy_client_welcome(struct proxy_client *c)
{
	struct pool *p = c->pc.pool;
	if (!c->admin && !check_startup(c))
		return;
	size_t avail;
	uint8_t *space = proxy_out_space(&c->conn, &avail);
	struct proto_writer w;
	proto_writer_init(&w, space, space ? avail : 0);
	proto_write_auth(&w, PROTO_AUTH_OK, NULL, 0);
	if (c->admin)
		admin_params(&w);
	size_t off = 0;
	const char *name, *value;
	while (welcome_next(p, &off, &name, &value)) {
		int idx = pool_params_index(name);
		char datestyle[64];
		if (idx == POOL_PARAM_DATESTYLE && c->pc.params.v[idx] &&
		    pool_datestyle_merge(c->pc.params.v[idx]->s, value, datestyle,
		                         sizeof(datestyle))) {
			/* a DateStyle of only a style or an order lands on the server's */
			pool_params_set(&c->pc.params, idx, datestyle);
			value = c->pc.params.v[idx]->s;
		} else if (idx >= 0) {
			/* the client's value when it set one, else the server's from now on */
			if (c->pc.params.v[idx])
				value = c->pc.params.v[idx]->s;
			else
				pool_params_set(&c->pc.params, idx, value);
		}
		proto_write_param_status(&w, name, value);
	}
	/* tracked values the client set that the server does not report (no echo, as
	 * PostgreSQL would not send one either) stay in c->pc.params */
	proxy_cancel_register(c);
	proto_write_key_data(&w, (int32_t)c->cancel_pid, c->cancel_key);
	proto_write_ready(&w, PROTO_TX_IDLE);
	if (!proto_writer_ok(&w) || !proxy_out_commit(&c->conn, w.len)) {
		proxy_client_close(c, NULL, "welcome message too large");
		return;
	}
	c->state = CLIENT_READY;
	if (!cfg_log_switch.connections)
		; /* log.connections = false */
	else if (p)
		conn_info(c, "login ok (%s lane, %s mode)", cfg_lane_name(p->lane),
		          cfg_pool_mode_name(pool_cfg(p)->mode));
	else
		conn_info(c, "admin console login ok");
	enum proxy_io_result r = proxy_out_flush(&c->conn);
	if (r == PROXY_IO_ERROR) {
		proxy_client_close(c, NULL, "write to client failed");
		return;
	}
	proxy_conn_set_read(&c->conn, true);
	if (c->conn.io && c->conn.io->end > c->conn.io->scan) {
		if (c->admin)
			proxy_admin_read(c);
		else
			proxy_relay_client(c);
	} else {
		proxy_io_release_idle(&c->conn); /* an idle client holds no buffer */
	}
}

bool proxy_client_error(struct proxy_client *c, const char *sqlstate, const char *msg)
{
	size_t avail;
	uint8_t *space = proxy_out_space(&c->conn, &avail);
	struct proto_writer w;
	proto_writer_init(&w, space, space ? avail : 0);
	proto_write_error(&w, PROTO_BE_ERROR, "ERROR", sqlstate, msg, NULL);
	return proto_writer_ok(&w) && proxy_out_commit(&c->conn, w.len);
}

void proxy_client_fatal(struct proxy_client *c, const char *sqlstate, const char *msg)
{
	if (c->state == CLIENT_CLOSED)
		return;
	if (cfg_log_switch.pooler_errors)
		conn_info(c, "%s", msg);
	size_t avail;
	uint8_t *space = proxy_out_space(&c->conn, &avail);
	struct proto_writer w;
	proto_writer_init(&w, space, space ? avail : 0);
	proto_write_error(&w, PROTO_BE_ERROR, "FATAL", sqlstate, msg, NULL);
	if (!proto_writer_ok(&w) || !proxy_out_commit(&c->conn, w.len)) {
		proxy_client_close(c, NULL, msg);
		return;
	}
	c->close_after_flush = true;
	proxy_conn_set_read(&c->conn, false);
	if (proxy_out_flush(&c->conn) != PROXY_IO_AGAIN)
		proxy_client_close(c, NULL, "fatal error sent");
}

void proxy_client_close(struct proxy_client *c, const char *sqlstate, const char *reason)
{
	if (c->state == CLIENT_CLOSED)
		return;
	if (sqlstate) {
		/* best effort: one nonblocking write of an ErrorResponse */
		uint8_t buf[512];
		struct proto_writer w;
		proto_writer_init(&w, buf, sizeof(buf));
		proto_write_error(&w, PROTO_BE_ERROR, "FATAL", sqlstate, reason, NULL);
		if (proto_writer_ok(&w) && !proxy_out_pending(&c->conn) && c->state != CLIENT_TLS &&
		    !proxy_conn_send_now(&c->conn, buf, w.len))
			conn_debug(c, "the last error could not be sent");
	}
	if (c->state == CLIENT_READY && cfg_log_switch.disconnections)
		conn_info(c, "closing: %s", reason);
	else
		conn_debug(c, "closing: %s", reason);
	/* closed from here on: a path from what follows back to this close returns at once */
	c->state = CLIENT_CLOSED;
	proxy_cancel_unregister(c);
	proxy_client_logged_in(c);
	pool_list_remove(&c->link);
	proxy.nclients--;
	all_clients--;
	proxy_worker_client_count(-1);
	if (c->pc.pool) {
		pool_client_unwait(&c->pc, proxy_now_ms());
		if (c->pc.server)
			proxy_link_client_gone(c);
		pool_client_leave(c->pc.pool);
	}
	pool_params_clear(&c->pc.params);
	proxy_session_client_free(c);
	proxy_prepared_client_free(c);
	proxy_lost_client_free(c);
	proxy_admin_free(c);
	proxy_login_free(c);
	proxy_conn_close(&c->conn);
	proxy_defer_free(&c->dead, c);
}
