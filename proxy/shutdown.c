/* proxy/shutdown.c — how pglane stops, PgBouncer's three ways, for the signals (main.c) and
 * the console's SHUTDOWN: now (SIGQUIT, SHUTDOWN), wait for servers (SIGINT, SHUTDOWN
 * WAIT_FOR_SERVERS: stop accepting, let transactions finish, exit once no client holds a
 * server) and wait for clients (SIGTERM, SHUTDOWN WAIT_FOR_CLIENTS: stop accepting, serve the
 * connected clients as usual, exit once the last has left; console clients hold neither up).
 * A second request during a waiting one exits now (PgBouncer 1.23+). admin.shutdown_timeout
 * bounds the waiting ones; past it pglane exits as now. Also log.stats: the "stats:" line every
 * log.stats_period. */
#include <stdio.h>

#include "config/log.h"
#include "proxy/client.h"
#include "proxy/context.h"
#include "proxy/listen.h"
#include "proxy/shutdown.h"
#include "proxy/sdnotify.h"
#include "proxy/takeover.h"
#include "proxy/worker.h"

/* The timers of a shutdown and of log.stats, and the totals at the last stats line. Owner
 * today: the process's one event loop. Under worker threads: process-wide, on one loop (the
 * first worker's): a shutdown mode reaches every worker through its mailbox and pglane exits
 * once every worker reports itself drained; the stats line sums every worker's pools. */
static struct shutdown_state {
	ev_timer deadline;      /* admin.shutdown_timeout */
	ev_timer exit_timer;    /* the exit, a moment after the answer went out */
	ev_timer stats_timer;   /* log.stats_period */
	struct pool_stats last; /* the totals at the last stats line */
} sd;

static const char *const mode_names[] = {"none", "wait for clients", "wait for servers",
                                         "immediate"};

const char *proxy_shutdown_mode_name(enum proxy_shutdown_mode mode)
{
	return mode_names[mode];
}

static void exit_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* The timers here are worker 0's: act as worker 0 (its own thread, or the world stopped). */
static unsigned as_worker0(void)
{
	unsigned home = pool_worker;
	pool_worker = 0;
	return home;
}

/* Leave the loop (main then closes everything, the other workers leave theirs) after this
 * iteration and a moment more, so that a console's answer to SHUTDOWN goes out first. */
static void exit_now(const char *why)
{
	unsigned home = as_worker0();
	if (!ev_is_active(&sd.exit_timer)) {
		log_info("%s: exiting", why);
		proxy.shutdown = PROXY_SHUTDOWN_NOW;
		ev_timer_init(&sd.exit_timer, exit_cb, 0.05, 0);
		ev_timer_start(proxy.loop, &sd.exit_timer);
	}
	pool_worker = home;
}

static void deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	char why[160];
	snprintf(why, sizeof(why),
	         "admin.shutdown_timeout (%lld ms) reached with %d clients connected",
	         (long long)proxy.cfg->admin.shutdown_timeout_ms, proxy_clients_all());
	exit_now(why);
}

/* Wait for servers: no new transactions; clients without a server go now, the others after
 * their transaction (relay.c, server.c close them and their server on release). Console
 * clients stay (the one that asked gets its answer) and are closed at the exit. */
static void drain_servers(void)
{
	proxy.shutting_down = true;
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		if (!c->pc.server && !c->admin)
			proxy_client_fatal(c, "57P01", "pglane is shutting down");
	}
}

/* One worker's share of a waiting shutdown (the world stopped). */
static void begin_worker(void *arg)
{
	proxy.shutdown = *(const enum proxy_shutdown_mode *)arg;
	proxy_listen_stop();
	if (proxy.shutdown == PROXY_SHUTDOWN_WAIT_FOR_SERVERS)
		drain_servers();
}

static void poll_worker(void *arg)
{
	(void)arg;
	proxy_shutdown_poll();
}

static void begin(enum proxy_shutdown_mode mode, const char *who)
{
	enum proxy_shutdown_mode now = proxy_ctx[0].shutdown;
	if (now != PROXY_SHUTDOWN_NONE || mode == PROXY_SHUTDOWN_NOW) {
		/* PgBouncer 1.23+: a second request during a waiting shutdown exits now */
		char why[128];
		snprintf(why, sizeof(why), "%s%s", who,
		         now != PROXY_SHUTDOWN_NONE ? " during a shutdown" : "");
		exit_now(why);
		return;
	}
	if (mode == PROXY_SHUTDOWN_WAIT_FOR_SERVERS)
		log_info("%s: shutting down: no new clients; waiting for every server to be "
		         "released (transactions to end)",
		         who);
	else
		log_info("%s: shutting down: no new clients; waiting for the connected clients to "
		         "leave",
		         who);
	proxy_world_stop();
	proxy_workers_each(begin_worker, &mode);
	unsigned home = as_worker0();
	proxy_takeover_stop();
	int64_t ms = proxy.cfg->admin.shutdown_timeout_ms;
	if (ms > 0) {
		ev_timer_init(&sd.deadline, deadline_cb, (double)ms / 1000.0, 0);
		ev_timer_start(proxy.loop, &sd.deadline);
	}
	pool_worker = home;
	proxy_workers_each(poll_worker, NULL);
	proxy_world_resume();
}

void proxy_shutdown_begin(enum proxy_shutdown_mode mode, const char *who)
{
	if (proxy_ctx[0].shutdown == PROXY_SHUTDOWN_NONE)
		proxy_sdnotify_stopping(who);
	begin(mode, who);
}

void proxy_shutdown_handover(const char *who)
{
	begin(PROXY_SHUTDOWN_WAIT_FOR_CLIENTS, who);
}

void proxy_shutdown_poll(void)
{
	if (proxy.shutdown == PROXY_SHUTDOWN_NONE || proxy.shutdown == PROXY_SHUTDOWN_NOW)
		return;
	/* console clients hold neither shutdown up: they are closed at the exit */
	bool servers = proxy.shutdown == PROXY_SHUTDOWN_WAIT_FOR_SERVERS;
	struct pool_list *pos;
	pool_list_foreach(pos, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		if (servers ? c->pc.server != NULL : !c->admin && !c->want_admin)
			return;
	}
	proxy_worker_drained();
	if (pool_worker == 0 && proxy_workers_all_drained())
		exit_now(servers ? "all servers released" : "all clients gone");
}

void proxy_shutdown_stop(void)
{
	ev_timer_stop(proxy.loop, &sd.deadline);
	ev_timer_stop(proxy.loop, &sd.exit_timer);
	ev_timer_stop(proxy.loop, &sd.stats_timer);
}

/* ---- log.stats ---- */

static void add_stats(void *arg)
{
	struct pool_stats *t = arg;
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
		t->xact_count += p->stats.xact_count;
		t->query_count += p->stats.query_count;
		t->received += p->stats.received;
		t->sent += p->stats.sent;
		t->xact_time_us += p->stats.xact_time_us;
		t->query_time_us += p->stats.query_time_us;
		t->wait_time_us += p->stats.wait_time_us;
		t->client_parses += p->stats.client_parses;
		t->server_parses += p->stats.server_parses;
		t->binds += p->stats.binds;
	}
}

/* Every worker's pools added up. */
static void sum_stats(struct pool_stats *t)
{
	*t = (struct pool_stats){0};
	proxy_world_stop();
	proxy_workers_each(add_stats, t);
	proxy_world_resume();
}

/* Counters only grow, but a pool dropped on reload takes its share with it. */
static uint64_t delta(uint64_t now, uint64_t before)
{
	return now > before ? now - before : 0;
}

static unsigned long long per_s(uint64_t n, double s)
{
	return (unsigned long long)((double)n / s);
}

static unsigned long long avg(uint64_t total, uint64_t n)
{
	return n ? (unsigned long long)(total / n) : 0;
}

static void stats_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct pool_stats cur;
	sum_stats(&cur);
	if (proxy.cfg->log.stats) {
		double s = t->repeat > 0 ? t->repeat : 1;
		uint64_t xacts = delta(cur.xact_count, sd.last.xact_count);
		uint64_t queries = delta(cur.query_count, sd.last.query_count);
		/* PgBouncer 1.25's line, field for field */
		log_info("stats: %llu xacts/s, %llu queries/s, %llu client parses/s, %llu server "
		         "parses/s, %llu binds/s, in %llu B/s, out %llu B/s, xact %llu us, query "
		         "%llu us, wait %llu us",
		         per_s(xacts, s), per_s(queries, s),
		         per_s(delta(cur.client_parses, sd.last.client_parses), s),
		         per_s(delta(cur.server_parses, sd.last.server_parses), s),
		         per_s(delta(cur.binds, sd.last.binds), s),
		         per_s(delta(cur.received, sd.last.received), s),
		         per_s(delta(cur.sent, sd.last.sent), s),
		         avg(delta(cur.xact_time_us, sd.last.xact_time_us), xacts),
		         avg(delta(cur.query_time_us, sd.last.query_time_us), queries),
		         avg(delta(cur.wait_time_us, sd.last.wait_time_us), xacts));
	}
	sd.last = cur;
}

void proxy_log_stats_configure(void)
{
	unsigned home = as_worker0();
	double period = (double)proxy.cfg->log.stats_period_ms / 1000.0;
	if (period <= 0)
		period = 60;
	if (!ev_is_active(&sd.stats_timer)) {
		ev_timer_init(&sd.stats_timer, stats_cb, period, period);
		sum_stats(&sd.last);
		ev_timer_start(proxy.loop, &sd.stats_timer);
	} else if (sd.stats_timer.repeat != period) {
		sd.stats_timer.repeat = period;
		ev_timer_again(proxy.loop, &sd.stats_timer);
	}
	pool_worker = home;
}
