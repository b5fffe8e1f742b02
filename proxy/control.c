/* proxy/control.c — what the admin console and signals do to the running process: list
 * connections, PAUSE / RESUME / KILL / RECONNECT / DISABLE / ENABLE / WAIT_CLOSE databases,
 * KILL_CLIENT, SUSPEND, RELOAD the config and SET one key (validated first, applied without
 * disconnecting anyone), SHUTDOWN now or waiting for servers or clients. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "admin/console.h"
#include "admin/monitor.h"
#include "config/log.h"
#include "protocol/msg.h"
#include "proxy/admin_client.h"
#include "proxy/client.h"
#include "proxy/context.h"
#include "proxy/gather.h"
#include "proxy/control.h"
#include "proxy/sdnotify.h"
#include "proxy/listen.h"
#include "proxy/server.h"
#include "proxy/shutdown.h"
#include "proxy/tls.h"
#include "proxy/worker.h"

#define MAX_OVERRIDES 32

/* A command runs once per worker (all_*): its log line is worker 0's. */
#define LOG_ONCE(...)                                                                              \
	do {                                                                                       \
		if (pool_worker == 0)                                                              \
			log_info(__VA_ARGS__);                                                     \
	} while (0)

/* What the console's commands leave behind: SUSPEND's state and the SETs made since the
 * file was last read. Owner today: the process's one event loop (the console and signals run
 * on it). Under worker threads: process-wide, changed only by a console command or signal
 * (one at a time, under the control lock) whose effects reach every worker through its
 * mailbox; RELOAD and SET read and write the overrides under the same lock. */
static struct control_state {
	bool suspended;
	int64_t suspend_deadline_ms; /* 0: no SUSPEND waiting */
	/* the SETs made since the file was last read (RELOAD forgets them, as PgBouncer does) */
	struct cfg_override overrides[MAX_OVERRIDES];
	size_t noverrides;
} ctl;

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

static void reconnect_servers(const char *db, const struct pool_db *only);

/* As PgBouncer: new queries wait, idle servers close now and the others when released. */
static bool do_pause(const char *db, char *err, size_t cap)
{
	if (!db) {
		pool_set_pause_all(true);
		LOG_ONCE("admin: PAUSE of every database");
		reconnect_servers(NULL, NULL);
		return true;
	}
	struct pool_db *d = find_db(db, err, cap);
	if (!d)
		return false;
	d->paused = true;
	LOG_ONCE("admin: PAUSE %s", db);
	reconnect_servers(db, NULL);
	return true;
}

static bool paused_done(const char *db)
{
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
		if (match(p->db, db) && (p->n_active || p->n_busy))
			return false;
	return true;
}

/* Servers asked to close (RECONNECT, RELOAD, PAUSE) that are still open. */
static bool closing_done(const char *db)
{
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		if (!match(p->db, db))
			continue;
		const struct pool_list *lists[] = {&p->login, &p->idle, &p->active, &p->busy};
		for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
			const struct pool_list *pos;
			pool_list_foreach(pos, lists[k])
			{
				if (pool_container_of(pos, struct pool_server, link)
				            ->close_on_release)
					return false;
			}
		}
	}
	return true;
}

/* SUSPEND's wait: every server released (every worker's, all_pending_done); at
 * admin.suspend_timeout, the clients still holding one are dropped (PgBouncer drops the
 * connections whose flush did not finish). */
static bool suspend_due(void)
{
	return ctl.suspend_deadline_ms && proxy_now_ms() >= ctl.suspend_deadline_ms;
}

/* One worker's clients still holding a server past admin.suspend_timeout: dropped. */
static bool suspend_drop(void)
{
	if (pool_worker == 0)
		log_warning("admin: SUSPEND: servers still in use after admin.suspend_timeout: "
		            "their clients are dropped");
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		if (c->pc.server)
			proxy_client_close(c, PROTO_SQLSTATE_ADMIN_SHUTDOWN,
			                   "SUSPEND did not finish within admin.suspend_timeout");
	}
	return true;
}

static bool pending_done(char kind, const char *db)
{
	switch (kind) {
	case ADMIN_PENDING_WAIT_CLOSE:
		return closing_done(db);
	case ADMIN_PENDING_SUSPEND:
		return paused_done(NULL);
	default:
		return paused_done(db);
	}
}

static bool do_suspend(char *err, size_t cap)
{
	if (ctl.suspended) {
		snprintf(err, cap, "already suspended");
		return false;
	}
	ctl.suspended = true;
	pool_set_pause_all(true);
	proxy_listen_pause(true);
	int64_t t = proxy.cfg->admin.suspend_timeout_ms;
	ctl.suspend_deadline_ms = proxy_now_ms() + (t > 0 ? t : 1);
	log_info("admin: SUSPEND: no new connections or queries until RESUME");
	return true;
}

static bool do_wait_close(const char *db, char *err, size_t cap)
{
	if (db && !find_db(db, err, cap))
		return false;
	return true;
}

static bool do_disable(const char *db, bool on, char *err, size_t cap)
{
	struct pool_db *d = find_db(db, err, cap);
	if (!d)
		return false;
	d->disabled = on;
	LOG_ONCE("admin: %s %s", on ? "DISABLE" : "ENABLE", db);
	return true;
}

static bool do_kill_client(uint32_t id, char *err, size_t cap)
{
	struct pool_list *pos;
	pool_list_foreach(pos, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		if (c->id != id)
			continue;
		log_info("admin: KILL_CLIENT %u", id);
		if (c->pc.server) /* as PgBouncer: its server goes too */
			c->pc.server->close_on_release = true;
		proxy_client_close(c, PROTO_SQLSTATE_ADMIN_SHUTDOWN,
		                   "client killed by an administrator (KILL_CLIENT)");
		return true;
	}
	snprintf(err, cap, "client not found: %u", id);
	return false;
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
	if (ctl.suspended && !db) {
		proxy_listen_pause(false);
		if (pool_worker + 1 == proxy_workers_count()) { /* the last worker's turn */
			ctl.suspended = false;
			ctl.suspend_deadline_ms = 0;
		}
	}
	LOG_ONCE("admin: RESUME %s", db ? db : "(every database)");
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
		if (match(p->db, db))
			pool_kick(p, proxy_now_ms());
	return true;
}

/* KILL db (NULL: every database): its clients and servers close now, it stays paused. */
static bool do_kill(const char *db, char *err, size_t cap)
{
	struct pool_db *d = NULL;
	if (db && !(d = find_db(db, err, cap)))
		return false;
	if (d)
		d->paused = true;
	else
		pool_set_pause_all(true);
	LOG_ONCE("admin: KILL %s", db ? db : "(every database)");
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		if (c->pc.pool && (!d || c->pc.pool->db == d))
			proxy_client_close(c, PROTO_SQLSTATE_ADMIN_SHUTDOWN,
			                   "database killed by an administrator (KILL)");
	}
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
		if (!d || p->db == d)
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
	LOG_ONCE("admin: RECONNECT %s", db ? db : "(every database)");
	reconnect_servers(db, NULL);
	return true;
}

static bool all_pause(const char *db, char *err, size_t cap);
static bool all_resume(const char *db, char *err, size_t cap);

void proxy_control_pause_all(bool on)
{
	char err[16];
	if (!(on ? all_pause(NULL, err, sizeof(err)) : all_resume(NULL, err, sizeof(err))))
		log_error("%s", err);
}

/* The shutdowns are proxy/shutdown.c's, shared with SIGINT, SIGTERM and SIGQUIT. */
static void do_shutdown(int mode)
{
	proxy_shutdown_begin(mode == 1   ? PROXY_SHUTDOWN_WAIT_FOR_SERVERS
	                     : mode == 2 ? PROXY_SHUTDOWN_WAIT_FOR_CLIENTS
	                                 : PROXY_SHUTDOWN_NOW,
	                     mode == 1   ? "admin: SHUTDOWN WAIT_FOR_SERVERS"
	                     : mode == 2 ? "admin: SHUTDOWN WAIT_FOR_CLIENTS"
	                                 : "admin: SHUTDOWN");
}

static bool same_endpoint(const struct cfg_database *a, const struct cfg_database *b)
{
	return strcmp(a->host, b->host) == 0 && a->port == b->port &&
	       strcmp(a->dbname, b->dbname) == 0 && strcmp(a->user, b->user) == 0 &&
	       strcmp(a->password, b->password) == 0;
}

/* The config file with ov[0..n-1] and its userlist, validated as RELOAD validates; false
 * with the loader's messages in `err`. */
static bool load_config(struct cfg_override *ov, size_t n, struct cfg **out,
                        struct cfg_userlist **out_users, char *err, size_t cap)
{
	const char *path = proxy.cfg->path;
	if (!path) {
		snprintf(err, cap,
		         "pglane runs on its built-in config: there is no file to reload");
		return false;
	}
	struct cfg_errors errs = {0};
	struct cfg *nc = cfg_load_with_overrides(path, ov, n, &errs);
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
			int k = snprintf(err + pos, cap - pos, "%s%s", i ? "; " : "", errs.msg[i]);
			if (k < 0)
				break;
			pos += (size_t)k;
		}
		return false;
	}
	if (!proxy_tls_check_server(nc, err, cap)) {
		cfg_userlist_free(nu);
		cfg_free(nc);
		return false;
	}
	*out = nc;
	*out_users = nu;
	return true;
}

/* A config and auth file given to every worker. */
struct cfg_swap {
	struct cfg *cfg;
	struct cfg_userlist *users;
};

static void swap_worker(void *arg);

/* Make `nc` and `nu` (owned, validated) the running config, as RELOAD does: nobody is
 * disconnected except the clients of removed databases. The log says "`title`: N changes",
 * then one line per change after `what`: ("reload: pool.size: 2 -> 4"). */
static bool swap_config(struct cfg *nc, struct cfg_userlist *nu, const char *title,
                        const char *what, char *err, size_t cap)
{
	char **lines = NULL;
	size_t n = cfg_diff(proxy.cfg, nc, &lines);
	if (n == (size_t)-1) {
		snprintf(err, cap, "out of memory comparing the configs");
		cfg_userlist_free(nu);
		cfg_free(nc);
		return false;
	}
	log_info("%s: %zu change%s", title, n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++)
		log_info("%s: %s", what, lines[i]);
	cfg_lines_free(lines, n);

	struct cfg *old = proxy.cfg;
	struct cfg_userlist *old_users = proxy.users;
	struct cfg_swap sw = {nc, nu};
	proxy_world_stop();
	proxy_workers_each(swap_worker, &sw);
	proxy.cfg = nc; /* the caller's context too (the console's merged view) */
	proxy.users = nu;
	char lerr[512];
	if (!cfg_log_configure(nc, lerr, sizeof(lerr)))
		log_error("reload: %s; the old log file stays in use", lerr);
	proxy_log_stats_configure();
	/* the monitor follows the new file, on worker 0's loop */
	admin_monitor_start(proxy_ctx[0].loop, nc, nu);
	proxy_tls_reset_servers();
	proxy_world_resume();
	cfg_userlist_free(old_users);
	cfg_free(old);
	return true;
}

/* One worker's share of a new config (the world stopped): databases whose endpoint changed
 * get new servers, removed ones lose their clients and servers, larger pools serve their
 * waiting clients. */
static void swap_worker(void *arg)
{
	const struct cfg_swap *sw = arg;
	struct cfg *nc = sw->cfg;
	for (struct pool_db *d = pool_db_next(NULL); d; d = pool_db_next(d)) {
		const struct cfg_database *nd = cfg_database_find(nc, d->name);
		if (d->cfg && nd && !same_endpoint(d->cfg, nd))
			reconnect_servers(NULL, d);
	}
	proxy.cfg = nc;
	proxy.users = sw->users;
	pool_config_changed(nc);
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
}

static bool reload(char *err, size_t cap);

/* A reload told to systemd: RELOADING=1 before, READY=1 after, refused or not. */
bool proxy_reload(char *err, size_t cap)
{
	proxy_sdnotify_reloading();
	bool ok = reload(err, cap);
	proxy_sdnotify_ready();
	return ok;
}

static bool reload(char *err, size_t cap)
{
	struct cfg *nc;
	struct cfg_userlist *nu;
	if (!load_config(NULL, 0, &nc, &nu, err, cap)) {
		if (proxy.cfg->path)
			log_error("reload of %s refused, the old config stays: %s", proxy.cfg->path,
			          err);
		return false;
	}
	char what[256];
	if (cfg_needs_restart(proxy.cfg, nc, what, sizeof(what)))
		log_warning("reload: %s change only with a restart; until then the old values "
		            "apply",
		            what);
	if (ctl.noverrides)
		log_info("reload: the %zu SET value%s made on the console are replaced by the "
		         "file's",
		         ctl.noverrides, ctl.noverrides == 1 ? "" : "s");
	ctl.noverrides = 0;
	char title[512];
	snprintf(title, sizeof(title), "reload of %s", proxy.cfg->path);
	return swap_config(nc, nu, title, "reload", err, cap);
}

/* SET key = value: the file plus every SET since it was read plus this one, validated as
 * RELOAD validates, then swapped in; refused when it needs a restart. */
static bool do_set(const char *name, const char *value, char *err, size_t cap)
{
	size_t n = 0;
	struct cfg_override ov[MAX_OVERRIDES];
	struct cfg_override o = {.type = 0};
	if (strlen(name) >= sizeof(o.key) || strlen(value) >= sizeof(o.value)) {
		snprintf(err, cap, "key or value too long");
		return false;
	}
	snprintf(o.key, sizeof(o.key), "%s", name);
	snprintf(o.value, sizeof(o.value), "%s", value);
	bool alias = cfg_override_from_pgbouncer(&o); /* PgBouncer's name: pglane's key */
	const char *key = o.key;
	for (size_t i = 0; i < ctl.noverrides; i++)
		if (strcmp(ctl.overrides[i].key, key) != 0)
			ov[n++] = ctl.overrides[i]; /* an earlier SET of the same key is replaced */
	if (n == MAX_OVERRIDES) {
		snprintf(err, cap, "too many SET values since the last RELOAD (%d)", MAX_OVERRIDES);
		return false;
	}
	ov[n] = o;
	struct cfg *nc;
	struct cfg_userlist *nu;
	if (!load_config(ov, n + 1, &nc, &nu, err, cap)) {
		if (alias) {
			char tmp[400];
			snprintf(tmp, sizeof(tmp), "%s", err);
			snprintf(err, cap, "(pglane's %s = %s) %s", o.key, o.value, tmp);
		}
		return false;
	}
	char what[256];
	if (cfg_needs_restart(proxy.cfg, nc, what, sizeof(what))) {
		snprintf(err, cap, "%s can only be changed with a restart", what);
		cfg_userlist_free(nu);
		cfg_free(nc);
		return false;
	}
	char title[200];
	snprintf(title, sizeof(title), "SET %s", key);
	if (!swap_config(nc, nu, title, "SET", err, cap))
		return false;
	memcpy(ctl.overrides, ov, sizeof(ov[0]) * (n + 1));
	ctl.noverrides = n + 1;
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

/* ---- every worker: the console's commands run with the world stopped, once per worker ---- */

/* A command's arguments and answer, as each worker's share sees them. */
struct each_cmd {
	bool (*db_fn)(const char *db, char *err, size_t cap);
	bool (*toggle_fn)(const char *db, bool on, char *err, size_t cap);
	admin_conn_emit emit;
	void (*list_fn)(admin_conn_emit emit, void *arg);
	void *emit_arg;
	const char *db;
	bool on;
	char kind;
	uint32_t id;
	bool ok, any;
	char *err;
	size_t cap;
};

static void each_db(void *arg)
{
	struct each_cmd *e = arg;
	bool ok = e->db_fn ? e->db_fn(e->db, e->err, e->cap)
	                   : e->toggle_fn(e->db, e->on, e->err, e->cap);
	if (pool_worker == 0 || !ok)
		e->ok = e->ok && ok;
}

/* `fn` on every worker; refused when the first refuses (the checks are the config's). */
static bool all_db(bool (*fn)(const char *db, char *err, size_t cap), const char *db, char *err,
                   size_t cap)
{
	struct each_cmd e = {.db_fn = fn, .db = db, .ok = true, .err = err, .cap = cap};
	proxy_world_stop();
	proxy_workers_each(each_db, &e);
	proxy_world_resume();
	return e.ok;
}

static bool all_pause(const char *db, char *err, size_t cap)
{
	return all_db(do_pause, db, err, cap);
}

static bool all_resume(const char *db, char *err, size_t cap)
{
	return all_db(do_resume, db, err, cap);
}

static bool all_kill(const char *db, char *err, size_t cap)
{
	return all_db(do_kill, db, err, cap);
}

static bool all_reconnect(const char *db, char *err, size_t cap)
{
	return all_db(do_reconnect, db, err, cap);
}

static bool all_wait_close(const char *db, char *err, size_t cap)
{
	return all_db(do_wait_close, db, err, cap);
}

static bool all_disable(const char *db, bool on, char *err, size_t cap)
{
	struct each_cmd e = {
	        .toggle_fn = do_disable, .db = db, .on = on, .ok = true, .err = err, .cap = cap};
	proxy_world_stop();
	proxy_workers_each(each_db, &e);
	proxy_world_resume();
	return e.ok;
}

static bool suspend_one(const char *db, char *err, size_t cap)
{
	(void)db;
	if (pool_worker != 0) { /* worker 0 took the process's SUSPEND state */
		pool_set_pause_all(true);
		proxy_listen_pause(true);
		return true;
	}
	return do_suspend(err, cap);
}

static bool all_suspend(char *err, size_t cap)
{
	return all_db(suspend_one, NULL, err, cap);
}

static void each_list(void *arg)
{
	struct each_cmd *e = arg;
	e->list_fn(e->emit, e->emit_arg);
}

static void all_clients(admin_conn_emit emit, void *arg)
{
	struct each_cmd e = {.list_fn = list_clients, .emit = emit, .emit_arg = arg};
	proxy_world_stop();
	proxy_workers_each(each_list, &e);
	proxy_world_resume();
}

static void all_servers(admin_conn_emit emit, void *arg)
{
	struct each_cmd e = {.list_fn = list_servers, .emit = emit, .emit_arg = arg};
	proxy_world_stop();
	proxy_workers_each(each_list, &e);
	proxy_world_resume();
}

static void each_kill_client(void *arg)
{
	struct each_cmd *e = arg;
	if (!e->any)
		e->any = do_kill_client(e->id, e->err, e->cap);
}

static bool all_kill_client(uint32_t id, char *err, size_t cap)
{
	struct each_cmd e = {.id = id, .err = err, .cap = cap};
	proxy_world_stop();
	proxy_workers_each(each_kill_client, &e);
	proxy_world_resume();
	return e.any;
}

static void each_pending(void *arg)
{
	struct each_cmd *e = arg;
	if (e->ok && !pending_done(e->kind, e->db))
		e->ok = false;
}

static void each_suspend_drop(void *arg)
{
	(void)arg;
	suspend_drop();
}

static bool all_pending_done(char kind, const char *db)
{
	struct each_cmd e = {.kind = kind, .db = db, .ok = true};
	proxy_world_stop();
	proxy_workers_each(each_pending, &e);
	if (kind == ADMIN_PENDING_SUSPEND && !e.ok && suspend_due()) {
		proxy_workers_each(each_suspend_drop, NULL);
		e.ok = true;
	}
	if (kind == ADMIN_PENDING_SUSPEND && e.ok)
		ctl.suspend_deadline_ms = 0;
	proxy_world_resume();
	return e.ok;
}

void proxy_control_setup(void)
{
	static const struct admin_ops ops = {
	        .clients = all_clients,
	        .servers = all_servers,
	        .pause = all_pause,
	        .pending_done = all_pending_done,
	        .resume = all_resume,
	        .kill = all_kill,
	        .reconnect = all_reconnect,
	        .reload = proxy_reload,
	        .shutdown = do_shutdown,
	        .kill_client = all_kill_client,
	        .disable = all_disable,
	        .suspend = all_suspend,
	        .wait_close = all_wait_close,
	        .set = do_set,
	        .peers = proxy_gather_peers,
	};
	admin_setup(&ops);
	proxy_admin_started();
}
