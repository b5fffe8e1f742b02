/* admin/monitor.c — the replication monitor: every monitor.interval it asks each primary
 * (pg_stat_replication, pg_replication_slots) and each OLAP replica (pg_is_in_recovery(),
 * replay lag) how replication stands, with libpq's asynchronous API on pglane's own loop, and
 * records the answers in pool/health. A server that does not answer in time is unhealthy. */
#include "admin/monitor.h"

#include <ev.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "config/log.h"
#include "config/conninfo.h"
#include "config/userlist.h"
#include "pool/health.h"
#include "pool/list.h"
#include "pool/pool.h"

#define MAX_TARGETS    POOL_HEALTH_MAX
#define MIN_TIMEOUT_MS 2000

enum step { IDLE, CONNECTING, ASK_ROLE, ASK_PRIMARY, ASK_REPLICA };

struct target {
	ev_io io;
	ev_timer timeout;
	PGconn *conn;
	enum step step;
	int fd;
	int results;           /* results of the current step so far */
	struct pool_health *h; /* borrowed: its row in the health table */
	enum pool_role was;    /* its role before this round */
	bool multi;            /* one of the hosts of a database with several */
	char conninfo[1024];
};

/* The monitor: its targets (a libpq connection, watchers and a timeout each), the round
 * timer and the interval. Owner today: the process's one event loop. Under worker threads:
 * process-wide, one instance on one loop (the first worker's): its watchers, timers and
 * connections belong to that loop; it is the one writer of pool/health (under its lock);
 * RELOAD restarts it on that loop. */
static struct monitor {
	struct target targets[MAX_TARGETS];
	size_t ntargets;
	ev_timer tick; /* every interval_ms: a round of checks */
	int64_t interval_ms;
	bool running;                        /* tick started */
	struct ev_loop *loop;                /* borrowed: pglane's loop, given at start */
	cfg_conninfo_resolver resolve;       /* NULL: libpq resolves names itself */
	void (*stop)(void), (*resume)(void); /* the world around each callback (or NULL) */
	void (*each)(void (*fn)(void *arg), void *arg);
} mon;

void admin_monitor_set_resolver(cfg_conninfo_resolver fn)
{
	mon.resolve = fn;
}

static const char Q_ROLE[] = "SELECT pg_catalog.pg_is_in_recovery()";
static const char Q_REPLICA[] =
        "SELECT pg_catalog.pg_is_in_recovery(),"
        " pg_catalog.pg_last_wal_receive_lsn() IS NULL"
        "   OR pg_catalog.pg_last_wal_receive_lsn() <= pg_catalog.pg_last_wal_replay_lsn(),"
        " (EXTRACT(EPOCH FROM now() - pg_catalog.pg_last_xact_replay_timestamp()) * 1000)::bigint,"
        " COALESCE(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(),"
        "                                     pg_catalog.pg_last_wal_replay_lsn()), 0)::bigint";
static const char Q_PRIMARY[] =
        "SELECT pg_catalog.pg_is_in_recovery();"
        "SELECT COALESCE(application_name, ''), COALESCE(host(client_addr), 'local'),"
        " COALESCE(state, ''), COALESCE(sync_state, ''),"
        " COALESCE((EXTRACT(EPOCH FROM replay_lag) * 1000)::bigint, 0),"
        " COALESCE(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), replay_lsn),"
        " -1)::bigint FROM pg_catalog.pg_stat_replication ORDER BY 1, 2;"
        "SELECT slot_name, slot_type, active,"
        " COALESCE(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn),"
        " -1)::bigint,"
        " COALESCE(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),"
        " confirmed_flush_lsn), -1)::bigint FROM pg_catalog.pg_replication_slots ORDER BY 1";

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void reset(struct target *t)
{
	ev_io_stop(mon.loop, &t->io);
	ev_timer_stop(mon.loop, &t->timeout);
	if (t->conn)
		PQfinish(t->conn);
	t->conn = NULL;
	t->fd = -1;
	t->results = 0;
	t->step = IDLE;
}

static void unhealthy(struct target *t, const char *why)
{
	struct pool_health *h = t->h;
	if (h->healthy || !h->error[0])
		log_warning("monitor: %s:%d (%s) is unhealthy: %s", h->host, h->port, h->database,
		            why);
	h->healthy = false;
	snprintf(h->error, sizeof(h->error), "%s", why);
	/* keep the first line of libpq's message only */
	char *nl = strchr(h->error, '\n');
	if (nl)
		*nl = '\0';
	reset(t);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);

/* Watch the connection's socket for `events` (it may change during connect). */
static void watch(struct target *t, int events)
{
	int fd = PQsocket(t->conn);
	if (fd < 0) {
		unhealthy(t, "no socket");
		return;
	}
	if (fd != t->fd || !ev_is_active(&t->io) ||
	    (t->io.events & (EV_READ | EV_WRITE)) != events) {
		ev_io_stop(mon.loop, &t->io);
		ev_io_init(&t->io, io_cb, fd, events);
		ev_io_start(mon.loop, &t->io);
		t->fd = fd;
	}
}

static bool ask(struct target *t, enum step step, const char *sql)
{
	if (!PQsendQuery(t->conn, sql)) {
		unhealthy(t, PQerrorMessage(t->conn));
		return false;
	}
	t->step = step;
	int f = PQflush(t->conn);
	if (f < 0) {
		unhealthy(t, PQerrorMessage(t->conn));
		return false;
	}
	watch(t, f ? EV_READ | EV_WRITE : EV_READ);
	return true;
}

static int64_t num(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? -1 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool is_true(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static void copy(char *dst, size_t cap, const PGresult *r, int row, int col)
{
	snprintf(dst, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* One result of the current step; false when it failed. */
static bool on_result(struct target *t, PGresult *r, int index)
{
	struct pool_health *h = t->h;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		unhealthy(t, PQresultErrorMessage(r));
		return false;
	}
	if (t->step == ASK_ROLE || (t->step == ASK_PRIMARY && index == 0)) {
		if (PQntuples(r) == 1)
			h->role = is_true(r, 0, 0) ? POOL_ROLE_REPLICA : POOL_ROLE_PRIMARY;
	} else if (t->step == ASK_REPLICA && PQntuples(r) == 1) {
		h->role = is_true(r, 0, 0) ? POOL_ROLE_REPLICA : POOL_ROLE_PRIMARY;
		h->lag_bytes = num(r, 0, 3);
		int64_t now = wall_ms();
		if (is_true(r, 0, 1)) {
			h->replay_lag_ms = 0; /* all it received is replayed */
			h->caught_up_ms = now;
		} else {
			/* behind: by the age of the last transaction it replayed, but never by
			 * more than the time since it was last seen caught up (on an idle
			 * primary that transaction may be old while nothing is missing) */
			int64_t lag = num(r, 0, 2);
			int64_t since = h->caught_up_ms ? now - h->caught_up_ms : -1;
			if (lag < 0 || (since >= 0 && since < lag))
				lag = since;
			h->replay_lag_ms = lag;
		}
	} else if (t->step == ASK_PRIMARY && index == 1) {
		h->nstandbys = 0;
		for (int i = 0; i < PQntuples(r) && h->nstandbys < POOL_HEALTH_STANDBYS; i++) {
			struct pool_standby *s = &h->standbys[h->nstandbys++];
			copy(s->name, sizeof(s->name), r, i, 0);
			copy(s->addr, sizeof(s->addr), r, i, 1);
			copy(s->state, sizeof(s->state), r, i, 2);
			copy(s->sync_state, sizeof(s->sync_state), r, i, 3);
			s->replay_lag_ms = num(r, i, 4);
			s->lag_bytes = num(r, i, 5);
		}
	} else if (t->step == ASK_PRIMARY && index == 2) {
		h->nslots = 0;
		for (int i = 0; i < PQntuples(r) && h->nslots < POOL_HEALTH_SLOTS; i++) {
			struct pool_slot *s = &h->slots[h->nslots++];
			copy(s->name, sizeof(s->name), r, i, 0);
			copy(s->type, sizeof(s->type), r, i, 1);
			s->active = is_true(r, i, 2);
			s->retained_bytes = num(r, i, 3);
			s->flush_lag_bytes = num(r, i, 4);
		}
	}
	return true;
}

/* A host of a database with several answers as a primary and did not before (a standby was
 * promoted, or the monitor just started): the database's pools try again now, not after
 * their login back-off (pool/reach.h, up to server_login_retry), so that new transactions
 * reach it within a monitor interval or two (proxy/hosts.c starts new servers on the host the
 * monitor sees as the primary). */
static void kick_pools(void *arg)
{
	const struct pool_health *h = arg;
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		if (!p->db->cfg || strcmp(p->db->cfg->name, h->database) != 0)
			continue;
		p->reach.retry_at_ms = 0; /* no back-off: the new primary is there */
		pool_kick_later(p);
	}
}

static void primary_found(const struct pool_health *h)
{
	if (h->role != POOL_ROLE_UNKNOWN)
		log_info("monitor: %s:%d is now the primary of %s", h->host, h->port, h->database);
	if (mon.each)
		mon.each(kick_pools, (void *)h);
	else
		kick_pools((void *)h);
}

void admin_monitor_set_threads(void (*stop)(void), void (*resume)(void),
                               void (*each)(void (*fn)(void *arg), void *arg))
{
	mon.stop = stop;
	mon.resume = resume;
	mon.each = each;
}

static void world_stop(void)
{
	if (mon.stop)
		mon.stop();
}

static void world_resume(void)
{
	if (mon.resume)
		mon.resume();
}

/* Every result of the step is in: record the check, ask the next question or rest. */
static void step_done(struct target *t)
{
	struct pool_health *h = t->h;
	if (t->step == ASK_ROLE) {
		/* a replica is asked for its lag; a primary for its standbys and slots */
		if (h->role == POOL_ROLE_REPLICA)
			ask(t, ASK_REPLICA, Q_REPLICA);
		else
			ask(t, ASK_PRIMARY, Q_PRIMARY);
		return;
	}
	bool was = h->healthy;
	h->healthy = true;
	h->error[0] = '\0';
	h->checked_at_ms = wall_ms();
	bool promoted = h->is_replica_entry && h->role == POOL_ROLE_PRIMARY;
	if (promoted && !h->promoted)
		log_warning("monitor: replica %s:%d of %s is no longer in recovery (promoted)",
		            h->host, h->port, h->database);
	h->promoted = promoted;
	if (t->step == ASK_PRIMARY) {
		h->replay_lag_ms = 0;
		h->lag_bytes = 0;
	}
	if (t->multi && h->role == POOL_ROLE_PRIMARY && t->was != POOL_ROLE_PRIMARY)
		primary_found(h);
	if (!was)
		log_info("monitor: %s:%d (%s) answers as %s", h->host, h->port, h->database,
		         h->role == POOL_ROLE_REPLICA ? "a replica" : "a primary");
	t->step = IDLE;
	ev_timer_stop(mon.loop, &t->timeout);
	ev_io_stop(mon.loop, &t->io);
}

static void read_results(struct target *t)
{
	if (!PQconsumeInput(t->conn)) {
		unhealthy(t, PQerrorMessage(t->conn));
		return;
	}
	while (!PQisBusy(t->conn)) {
		PGresult *r = PQgetResult(t->conn);
		if (!r) {
			t->results = 0;
			step_done(t);
			return;
		}
		bool ok = on_result(t, r, t->results++);
		PQclear(r);
		if (!ok)
			return;
	}
}

static void connect_poll(struct target *t)
{
	switch (PQconnectPoll(t->conn)) {
	case PGRES_POLLING_READING:
		watch(t, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		watch(t, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(t->conn, 1) != 0) {
			unhealthy(t, "cannot make the connection nonblocking");
			return;
		}
		ask(t, ASK_ROLE, Q_ROLE);
		return;
	default:
		unhealthy(t, PQerrorMessage(t->conn));
		return;
	}
}

static void on_io(struct target *t, int revents)
{
	if (t->step == CONNECTING) {
		connect_poll(t);
		return;
	}
	if (revents & EV_WRITE) {
		int f = PQflush(t->conn);
		if (f < 0) {
			unhealthy(t, PQerrorMessage(t->conn));
			return;
		}
		watch(t, f ? EV_READ | EV_WRITE : EV_READ);
	}
	if (revents & EV_READ)
		read_results(t);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	world_stop();
	on_io(pool_container_of(w, struct target, io), revents);
	world_resume();
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	world_stop();
	unhealthy(pool_container_of(w, struct target, timeout), "no answer in time");
	world_resume();
}

/* The connection string of `t`, with the address of its host when the resolver has one (so
 * that libpq does not resolve the name on the loop). False when the target waits for the
 * look-up (this round is skipped) or is unhealthy (the name does not exist). */
static bool with_address(struct target *t, char *out, size_t cap)
{
	char err[300];
	snprintf(out, cap, "%s", t->conninfo);
	if (!mon.resolve)
		return true;
	switch (cfg_conninfo_hostaddr(out, cap, t->h->host, mon.resolve, err, sizeof(err))) {
	case 1:
		return true;
	case 0:
		ev_timer_stop(mon.loop, &t->timeout);
		return false; /* resolving: the next round connects */
	default:
		unhealthy(t, err);
		return false;
	}
}

static void check(struct target *t)
{
	if (t->step != IDLE)
		return; /* still busy: the timeout decides */
	t->was = t->h->healthy ? t->h->role : POOL_ROLE_UNKNOWN;
	int64_t ms = mon.interval_ms * 2 > MIN_TIMEOUT_MS ? mon.interval_ms * 2 : MIN_TIMEOUT_MS;
	double timeout = (double)ms / 1000.0;
	ev_timer_init(&t->timeout, timeout_cb, timeout, 0.);
	ev_timer_start(mon.loop, &t->timeout);
	if (t->conn && PQstatus(t->conn) == CONNECTION_OK) {
		ask(t, ASK_ROLE, Q_ROLE);
		return;
	}
	if (t->conn)
		PQfinish(t->conn);
	t->conn = NULL;
	char conninfo[sizeof(t->conninfo) + 80];
	if (!with_address(t, conninfo, sizeof(conninfo)))
		return;
	t->conn = PQconnectStart(conninfo);
	t->fd = -1;
	if (!t->conn || PQstatus(t->conn) == CONNECTION_BAD) {
		unhealthy(t, t->conn ? PQerrorMessage(t->conn) : "out of memory");
		return;
	}
	t->step = CONNECTING;
	connect_poll(t);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	world_stop();
	for (size_t i = 0; i < mon.ntargets; i++)
		check(&mon.targets[i]);
	world_resume();
}

/* Watch host:port for database `d`; its target (a dummy when the table is full). */
static struct target *add_target(const struct cfg *cfg, const struct cfg_userlist *users,
                                 const struct cfg_database *d, const char *host, int port,
                                 bool replica)
{
	static struct target none;
	if (mon.ntargets == MAX_TARGETS)
		return &none;
	struct pool_health *h = pool_health_get(d->name, host, port, replica);
	if (!h)
		return &none;
	for (size_t i = 0; i < mon.ntargets; i++)
		if (mon.targets[i].h == h)
			return &mon.targets[i]; /* already watched */
	struct target *t = &mon.targets[mon.ntargets++];
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->h = h;
	const char *user = cfg->monitor.user[0] ? cfg->monitor.user : "postgres";
	const char *password = cfg->monitor.password;
	const struct cfg_user *u = users ? cfg_userlist_find(users, user) : NULL;
	if (!password[0] && u && u->kind == CFG_SECRET_PLAIN)
		password = u->secret;
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	cfg_conninfo_kv(t->conninfo, sizeof(t->conninfo), "host", host);
	cfg_conninfo_kv(t->conninfo, sizeof(t->conninfo), "port", portstr);
	cfg_conninfo_kv(t->conninfo, sizeof(t->conninfo), "dbname",
	                d->dbname[0] ? d->dbname : (strcmp(d->name, "*") ? d->name : "postgres"));
	cfg_conninfo_kv(t->conninfo, sizeof(t->conninfo), "user", user);
	if (password[0])
		cfg_conninfo_kv(t->conninfo, sizeof(t->conninfo), "password", password);
	cfg_conninfo_kv(t->conninfo, sizeof(t->conninfo), "application_name", "pglane-monitor");
	cfg_conninfo_kv(t->conninfo, sizeof(t->conninfo), "connect_timeout", "5");
	cfg_conninfo_kv(t->conninfo, sizeof(t->conninfo), "gssencmode", "disable");
	return t;
}

bool admin_monitor_wanted(const struct cfg *cfg)
{
	if (cfg->monitor.user[0])
		return true;
	for (size_t i = 0; i < cfg->ndatabases; i++)
		if (cfg->databases[i].nhosts > 1)
			return true; /* which host is the primary */
	for (size_t i = 0; i < cfg->ndatabases; i++)
		if (cfg->databases[i].lanes[CFG_LANE_OLAP].enabled &&
		    cfg->databases[i].lanes[CFG_LANE_OLAP].nreplicas)
			return true;
	return false;
}

void admin_monitor_start(struct ev_loop *loop, const struct cfg *cfg,
                         const struct cfg_userlist *users)
{
	admin_monitor_stop();
	mon.loop = loop;
	pool_health_clear();
	if (!admin_monitor_wanted(cfg))
		return;
	mon.interval_ms = cfg->monitor.interval_ms > 0 ? cfg->monitor.interval_ms : 2000;
	for (size_t i = 0; i < cfg->ndatabases; i++) {
		const struct cfg_database *d = &cfg->databases[i];
		for (size_t k = 0; k < d->nhosts; k++)
			add_target(cfg, users, d, d->hosts[k].host, d->hosts[k].port, false)
			        ->multi = d->nhosts > 1;
		const struct cfg_lane *l = &d->lanes[CFG_LANE_OLAP];
		for (size_t k = 0; l->enabled && k < l->nreplicas; k++)
			add_target(cfg, users, d, l->replicas[k].host, l->replicas[k].port, true);
	}
	ev_timer_init(&mon.tick, tick_cb, 0., (double)mon.interval_ms / 1000.0);
	ev_timer_start(mon.loop, &mon.tick);
	mon.running = true;
	log_info("monitor: watching %zu server%s every %lld ms", mon.ntargets,
	         mon.ntargets == 1 ? "" : "s", (long long)mon.interval_ms);
}

void admin_monitor_stop(void)
{
	if (mon.running)
		ev_timer_stop(mon.loop, &mon.tick);
	mon.running = false;
	for (size_t i = 0; i < mon.ntargets; i++)
		reset(&mon.targets[i]);
	mon.ntargets = 0;
}
