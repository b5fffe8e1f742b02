/* proxy/control.c — what the admin console and signals do to the running process: list
 * connections, PAUSE / RESUME / KILL / RECONNECT databases, RELOAD the config (validated
 * first, applied without disconnecting anyone), SHUTDOWN. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "admin/console.h"
#include "admin/monitor.h"
#include "config/log.h"
#include "protocol/msg.h"
#include "proxy/proxy.h"

static ev_timer shutdown_timer;

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Loop time (monotonic ms) to wall clock. */
static int64_t to_wall(int64_t loop_ms)
{
	return loop_ms ? wall_ms() - (proxy_now_ms() - loop_ms) : 0;
}

/* "ip:port" split back (the address text is ours: the last ':' separates the port). */
static void split_addr(const char *addr, char *ip, size_t cap, int *port)
{
	snprintf(ip, cap, "%s", addr);
	char *colon = strrchr(ip, ':');
	*port = 0;
	if (colon) {
		*colon = '\0';
		*port = atoi(colon + 1);
	}
}

static const char *app_name(const struct pool_params *p)
{
	int i = POOL_PARAM_APPLICATION_NAME;
	return i >= 0 && p->v[i] ? p->v[i]->s : "";
}

static void list_clients(admin_conn_emit emit, void *arg)
{
	struct pool_list *pos;
	pool_list_foreach(pos, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		char ip[PROXY_ADDR_LEN], pinned[128];
		pool_pin_names(c->pc.session.pins, pinned, sizeof(pinned));
		struct admin_conn_info i = {.type = "C", .pinned = pinned};
		split_addr(c->addr, ip, sizeof(ip), &i.port);
		i.addr = ip;
		i.local_addr = c->unix_socket ? "unix" : proxy.cfg->listen.host;
		i.local_port = proxy.cfg->listen.port;
		i.tls = c->conn.ssl != NULL;
		i.id = c->id;
		i.connect_time_ms = to_wall(c->connect_ms);
		i.request_time_ms = to_wall(c->active_ms);
		i.application_name = app_name(&c->pc.params);
		if (c->admin) {
			i.user = proxy_admin_user(c);
			i.database = ADMIN_DATABASE;
			i.lane = "";
			i.state = "active";
		} else if (c->pc.pool) {
			i.user = c->pc.pool->user->name;
			i.database = c->pc.pool->db->name;
			i.lane = cfg_lane_name(c->pc.pool->lane);
			if (c->pc.wait_start_ms) {
				i.state = "waiting";
				i.wait_us = (proxy_now_ms() - c->pc.wait_start_ms) * 1000;
			} else {
				i.state = c->pc.server ? "active" : "idle";
			}
			if (c->pc.server) {
				struct proxy_server *s = proxy_server_of(c->pc.server);
				i.link = s->id;
				i.remote_pid = s->ps.be_pid;
			}
		} else {
			i.user = "";
			i.database = "";
			i.lane = "";
			i.state = "login";
		}
		if (c->peer_known)
			i.remote_pid = c->peer_pid; /* as PgBouncer: the Unix-socket peer's pid */
		emit(&i, arg);
	}
}

static const char *server_state(const struct proxy_server *s)
{
	switch (s->ps.state) {
	case POOL_SERVER_LOGIN:
		return "login";
	case POOL_SERVER_IDLE:
		return "idle";
	case POOL_SERVER_ACTIVE:
		return "active";
	case POOL_SERVER_BUSY:
		break;
	}
	return s->ps.tested ? "tested" : "used";
}

static void list_servers(admin_conn_emit emit, void *arg)
{
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		const struct pool_list *lists[] = {&p->login, &p->idle, &p->active, &p->busy};
		for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
			const struct pool_list *pos;
			pool_list_foreach(pos, lists[k])
			{
				struct proxy_server *s = proxy_server_of(
				        pool_container_of(pos, struct pool_server, link));
				char ip[INET6_ADDRSTRLEN] = "";
				int port = 0;
				if (s->addr.ss_family == AF_INET) {
					const struct sockaddr_in *in = (const void *)&s->addr;
					inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
					port = ntohs(in->sin_port);
				} else if (s->addr.ss_family == AF_INET6) {
					const struct sockaddr_in6 *in6 = (const void *)&s->addr;
					inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
					port = ntohs(in6->sin6_port);
				}
				char pinned[128] = "";
				if (s->ps.client)
					pool_pin_names(
					        proxy_client_of(s->ps.client)->pc.session.pins,
					        pinned, sizeof(pinned));
				struct admin_conn_info i = {
				        .type = "S",
				        .user = p->user->name,
				        .database = p->db->name,
				        .lane = cfg_lane_name(p->lane),
				        .state = server_state(s),
				        .addr = ip,
				        .port = port,
				        .local_addr = "",
				        .connect_time_ms = to_wall(s->ps.created_ms),
				        .request_time_ms = to_wall(s->ps.state_since_ms),
				        .id = s->id,
				        .link = s->ps.client ? proxy_client_of(s->ps.client)->id
				                             : 0,
				        .remote_pid = s->ps.be_pid,
				        .application_name = app_name(&s->ps.params),
				        .pinned = pinned,
				};
				emit(&i, arg);
			}
		}
	}
}

static bool match(const struct pool_db *d, const char *db)
{
	return !db || strcmp(d->name, db) == 0;
}

/* The database record named `db` (created when the config has it); NULL with a message. */
static struct pool_db *find_db(const char *db, char *err, size_t cap)
{
	struct pool_db *d = pool_db_get(proxy.cfg, db);
	if (!d)
		snprintf(err, cap, "no such database: %s", db);
	return d;
}

static bool do_pause(const char *db, char *err, size_t cap)
{
	if (!db) {
		pool_set_pause_all(true);
		log_info("admin: PAUSE of every database");
		return true;
	}
	struct pool_db *d = find_db(db, err, cap);
	if (!d)
		return false;
	d->paused = true;
	log_info("admin: PAUSE %s", db);
	return true;
}

static bool paused_done(const char *db)
{
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
		if (match(p->db, db) && (p->n_active || p->n_busy))
			return false;
	return true;
}

static bool do_resume(const char *db, char *err, size_t cap)
{
	if (!db) {
		pool_set_pause_all(false);
	} else {
		struct pool_db *d = find_db(db, err, cap);
		if (!d)
			return false;
		d->paused = false;
	}
	log_info("admin: RESUME %s", db ? db : "(every database)");
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
		if (match(p->db, db))
			pool_kick(p, proxy_now_ms());
	return true;
}

static bool do_kill(const char *db, char *err, size_t cap)
{
	struct pool_db *d = find_db(db, err, cap);
	if (!d)
		return false;
	d->paused = true;
	log_info("admin: KILL %s", db);
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		if (c->pc.pool && c->pc.pool->db == d)
			proxy_client_close(c, PROTO_SQLSTATE_ADMIN_SHUTDOWN,
			                   "database killed by an administrator (KILL)");
	}
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
		if (p->db == d)
			proxy_server_close_all(p, "KILL");
	return true;
}

/* Servers of `db` (NULL: all) are replaced: idle ones now, others when released. */
static void reconnect_servers(const char *db, const struct pool_db *only)
{
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		if (only ? p->db != only : !match(p->db, db))
			continue;
		struct pool_list *lists[] = {&p->login, &p->active, &p->busy};
		for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
			struct pool_list *pos;
			pool_list_foreach(pos, lists[k])
			        pool_container_of(pos, struct pool_server, link)
			                ->close_on_release = true;
		}
		while (!pool_list_empty(&p->idle))
			proxy_server_close(
			        proxy_server_of(pool_container_of(pool_list_first(&p->idle),
			                                          struct pool_server, link)),
			        "reconnect");
	}
}

static bool do_reconnect(const char *db, char *err, size_t cap)
{
	if (db && !find_db(db, err, cap))
		return false;
	log_info("admin: RECONNECT %s", db ? db : "(every database)");
	reconnect_servers(db, NULL);
	return true;
}

static void shutdown_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	log_info("admin: SHUTDOWN");
	ev_break(loop, EVBREAK_ALL);
}

static void do_shutdown(void)
{
	/* after this iteration, so that the answer goes out first */
	ev_timer_init(&shutdown_timer, shutdown_cb, 0.05, 0.);
	ev_timer_start(EV_DEFAULT, &shutdown_timer);
}

static bool same_endpoint(const struct cfg_database *a, const struct cfg_database *b)
{
	return strcmp(a->host, b->host) == 0 && a->port == b->port &&
	       strcmp(a->dbname, b->dbname) == 0 && strcmp(a->user, b->user) == 0 &&
	       strcmp(a->password, b->password) == 0;
}

bool proxy_reload(char *err, size_t cap)
{
	const char *path = proxy.cfg->path;
	if (!path) {
		snprintf(err, cap,
		         "pglane runs on its built-in config: there is no file to reload");
		return false;
	}
	struct cfg_errors errs = {0};
	struct cfg *nc = cfg_load(path, &errs);
	struct cfg_userlist *nu = NULL;
	if (nc && nc->auth.file && nc->auth.file[0]) {
		nu = cfg_userlist_load(nc->auth.file, &errs);
		if (!nu) {
			cfg_free(nc);
			nc = NULL;
		}
	}
	if (!nc) {
		size_t pos = 0;
		err[0] = '\0';
		for (size_t i = 0; i < errs.n && pos + 1 < cap; i++) {
			int n = snprintf(err + pos, cap - pos, "%s%s", i ? "; " : "", errs.msg[i]);
			if (n < 0)
				break;
			pos += (size_t)n;
		}
		log_error("reload of %s refused, the old config stays: %s", path, err);
		return false;
	}
	if (!proxy_tls_check_server(nc, err, cap)) {
		log_error("reload of %s refused, the old config stays: %s", path, err);
		cfg_userlist_free(nu);
		cfg_free(nc);
		return false;
	}
	char what[256];
	if (cfg_needs_restart(proxy.cfg, nc, what, sizeof(what)))
		log_warning("reload: %s change only with a restart; until then the old values "
		            "apply",
		            what);
	char **lines = NULL;
	size_t n = cfg_diff(proxy.cfg, nc, &lines);
	if (n == (size_t)-1) {
		snprintf(err, cap, "out of memory comparing the configs");
		cfg_userlist_free(nu);
		cfg_free(nc);
		return false;
	}
	log_info("reload of %s: %zu change%s", path, n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++)
		log_info("reload: %s", lines[i]);
	cfg_lines_free(lines, n);

	/* databases whose endpoint changed get new servers; removed ones lose their clients */
	for (struct pool_db *d = pool_db_next(NULL); d; d = pool_db_next(d)) {
		const struct cfg_database *nd = cfg_database_find(nc, d->name);
		if (d->cfg && nd && !same_endpoint(d->cfg, nd))
			reconnect_servers(NULL, d);
	}
	struct cfg *old = proxy.cfg;
	struct cfg_userlist *old_users = proxy.users;
	proxy.cfg = nc;
	proxy.users = nu;
	pool_config_changed(nc);
	char lerr[512];
	if (!cfg_log_configure(nc, lerr, sizeof(lerr)))
		log_error("reload: %s; the old log file stays in use", lerr);
	proxy_log_stats_configure();
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		if (c->pc.pool && !c->pc.pool->db->cfg)
			proxy_client_close(c, PROTO_SQLSTATE_ADMIN_SHUTDOWN,
			                   "the database was removed from pglane's config");
	}
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		if (!p->db->cfg) {
			proxy_server_close_all(p, "database removed from the config");
			continue;
		}
		pool_kick(p, proxy_now_ms()); /* a larger pool serves its waiting clients now */
	}
	admin_monitor_start(proxy.cfg, proxy.users); /* the monitor follows the new file */
	proxy_tls_reset_servers();
	cfg_userlist_free(old_users);
	cfg_free(old);
	return true;
}

void proxy_control_poll(void)
{
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		if (c->admin)
			proxy_admin_poll(c);
	}
}

void proxy_control_setup(void)
{
	static const struct admin_ops ops = {
	        .clients = list_clients,
	        .servers = list_servers,
	        .pause = do_pause,
	        .paused_done = paused_done,
	        .resume = do_resume,
	        .kill = do_kill,
	        .reconnect = do_reconnect,
	        .reload = proxy_reload,
	        .shutdown = do_shutdown,
	};
	admin_setup(&ops);
	proxy_admin_started();
}
