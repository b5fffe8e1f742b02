/* proxy/authq.c — auth_query look-ups with libpq's asynchronous API on pglane's loop: a
 * look-up per (target, user name) in flight, the logins waiting on it, a bound on the
 * connections open at once (more look-ups queue), idle connections kept a while for the next
 * look-up of the same target, and the timeouts. A connection that fails because PostgreSQL is
 * starting, stopping, full or unreachable is tried again with back-off (pool/reach.h's) until
 * the database's query_wait_timeout, as clients wait for a server. The target is the
 * connection string (host, port, auth database, auth_user, its password, TLS) plus the query
 * text. */
#include "proxy/authq.h"
#include "proxy/context.h"
#include "proxy/worker.h"
#include "proxy/resolve.h"

#include <ev.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/conninfo.h"
#include "config/log.h"
#include "config/userlist.h"
#include "pool/reach.h"

#define AUTHQ_BUCKETS         64
#define AUTHQ_MAX_RUNNING     16 /* look-ups holding a connection at once */
#define AUTHQ_MAX_IDLE        4  /* connections kept for the next look-up */
#define AUTHQ_IDLE_S          30.0
#define AUTHQ_DEFAULT_TIMEOUT 15000
#define AUTHQ_CONNINFO_MAX    16384 /* three paths of PATH_MAX and a password fit */
#define AUTHQ_ERROR_MAX       300

enum authq_step { Q_QUEUED, Q_CONNECTING, Q_QUERYING, Q_DONE };

struct proxy_authq {
	struct proxy_authq *next_hash;
	struct pool_list link;    /* in `queued` or `running` */
	struct pool_list waiters; /* struct proxy_authq_waiter */
	enum authq_step step;
	ev_io io;
	ev_timer timer;
	PGconn *pg; /* owned */
	int fd;
	bool running; /* counted in nrunning (holds or opens a connection) */
	bool reused;  /* its connection came from the idle list (a failure is retried fresh) */
	int64_t timeout_ms;
	int64_t retry_until_ms; /* connecting again after a transient failure until then */
	int64_t retry_cap_ms;   /* the back-off's cap (server_login_retry) */
	int retries;            /* connections tried again so far */
	bool retry_wait;        /* the timer ends a back-off, not a timeout */
	unsigned hash;
	char *key;        /* owned: conninfo \1 query \1 user, then the same split in three */
	size_t key_len;   /* bytes of each half */
	char *conninfo;   /* borrowed from key */
	char *query;      /* borrowed from key */
	char *user;       /* borrowed from key */
	char *host;       /* owned: the database's host (list), resolved before each connection */
	char target[200]; /* "auth_user@host:port/dbname" for log lines */
	/* the first result */
	bool have_result;
	enum proxy_authq_status status;
	char *secret; /* owned */
	char error[AUTHQ_ERROR_MAX];
	const char *summary; /* static */
};

/* A connection between look-ups. */
struct authq_idle {
	struct pool_list link;
	ev_io io;
	ev_timer timer;
	PGconn *pg;     /* owned */
	char *conninfo; /* owned */
};

/* Every auth_query look-up in flight, the queue before them, the idle connections kept and
 * the counters. Owner today: the process's one event loop. Under worker threads: one per
 * worker (a login waits on a look-up of its own worker, its libpq connections and timers on
 * that loop; two workers may look the same user up at once); the bound on connections is
 * shared out between workers; SHOW and /metrics sum every worker's stats. */
static struct authq_registry {
	struct proxy_authq *buckets[AUTHQ_BUCKETS]; /* look-ups by key, for coalescing */
	struct pool_list queued_list;               /* look-ups waiting for a connection */
	struct pool_list running_list;              /* look-ups holding or opening one */
	struct pool_list idle_list;                 /* struct authq_idle, oldest first */
	int nrunning, nidle;
	struct proxy_authq_stats stats;
	/* A zero timer that starts the queue from the loop, not from inside proxy_authq_lookup
	 * (a look-up that fails at once must not call its waiter back within the call). */
	ev_timer kick;
	bool busy; /* in start_next(): a look-up failing at once finishes, which calls it again */
} aqs[POOL_MAX_WORKERS];
#define aq (aqs[pool_worker])

void proxy_authq_init(void)
{
	pool_list_init(&aq.queued_list);
	pool_list_init(&aq.running_list);
	pool_list_init(&aq.idle_list);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void start_next(void);

const struct proxy_authq_stats *proxy_authq_stats(void)
{
	return &aq.stats;
}

bool proxy_authq_enabled(const struct cfg_database *db)
{
	return db && db->auth_user && db->auth_user[0];
}

static unsigned fnv(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static const char *sslmode_name(enum cfg_sslmode m)
{
	switch (m) {
	case CFG_SSL_DISABLE:
		return "disable";
	case CFG_SSL_PREFER:
		return "prefer";
	case CFG_SSL_REQUIRE:
		return "require";
	case CFG_SSL_VERIFY_CA:
		return "verify-ca";
	case CFG_SSL_VERIFY_FULL:
		return "verify-full";
	}
	return "prefer";
}

/* The database the look-up connects to: auth_dbname, else the database's dbname, else the
 * name the client asked for. */
static const char *auth_dbname(const struct cfg_database *db, const char *dbname)
{
	if (db->auth_dbname[0])
		return db->auth_dbname;
	if (db->dbname[0])
		return db->dbname;
	return dbname;
}

/* The connection string of the look-up: the database's host and port and TLS mode (its
 * sslmode and sslrootcert, server_tls's client certificate and protocols), the auth database,
 * auth_user with its plain password from the auth file (none otherwise: the server must trust
 * it, or libpq finds it in ~/.pgpass). */
static void build_conninfo(const struct cfg *cfg, const struct cfg_database *db, const char *dbname,
                           char *out, size_t cap)
{
	out[0] = '\0';
	char port[16];
	snprintf(port, sizeof(port), "%d", db->port);
	cfg_conninfo_kv(out, cap, "host", db->host);
	cfg_conninfo_kv(out, cap, "port",
	                db->port_list[0] ? db->port_list : port); /* libpq takes lists too */
	cfg_conninfo_kv(out, cap, "dbname", auth_dbname(db, dbname));
	cfg_conninfo_kv(out, cap, "user", db->auth_user);
	const struct cfg_user *u =
	        proxy.users ? cfg_userlist_find(proxy.users, db->auth_user) : NULL;
	if (u && u->kind == CFG_SECRET_PLAIN)
		cfg_conninfo_kv(out, cap, "password", u->secret);
	else if (u)
		log_debug("auth_query: the auth file holds a hashed secret for auth_user \"%s\": "
		          "libpq can only log in with a plain password, connecting without one",
		          db->auth_user);
	cfg_conninfo_kv(out, cap, "sslmode", sslmode_name(db->sslmode));
	if (db->sslrootcert && db->sslrootcert[0])
		cfg_conninfo_kv(out, cap, "sslrootcert", db->sslrootcert);
	if (cfg->server_tls.cert && cfg->server_tls.cert[0] && cfg->server_tls.key &&
	    cfg->server_tls.key[0]) {
		cfg_conninfo_kv(out, cap, "sslcert", cfg->server_tls.cert);
		cfg_conninfo_kv(out, cap, "sslkey", cfg->server_tls.key);
	}
	int lo, hi;
	static const char *const versions[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
	if (cfg->server_tls.protocols &&
	    cfg_tls_protocols_parse(cfg->server_tls.protocols, &lo, &hi) && lo >= 0 && hi <= 3 &&
	    lo <= hi) {
		/* server_tls.protocols as libpq's range (its ciphers: libpq has no such setting) */
		cfg_conninfo_kv(out, cap, "ssl_min_protocol_version", versions[lo]);
		cfg_conninfo_kv(out, cap, "ssl_max_protocol_version", versions[hi]);
	}
	cfg_conninfo_kv(out, cap, "gssencmode", "disable");
	cfg_conninfo_kv(out, cap, "application_name", "pglane-auth_query");
}

static struct proxy_authq *find(unsigned hash, const char *key)
{
	for (struct proxy_authq *q = aq.buckets[hash % AUTHQ_BUCKETS]; q; q = q->next_hash)
		if (q->hash == hash && strcmp(q->key, key) == 0)
			return q;
	return NULL;
}

static void unhash(struct proxy_authq *q)
{
	struct proxy_authq **pp = &aq.buckets[q->hash % AUTHQ_BUCKETS];
	while (*pp && *pp != q)
		pp = &(*pp)->next_hash;
	if (*pp)
		*pp = q->next_hash;
	q->next_hash = NULL;
}

static void watch(struct proxy_authq *q, int events)
{
	int fd = PQsocket(q->pg);
	if (fd != q->fd || !ev_is_active(&q->io) ||
	    (q->io.events & (EV_READ | EV_WRITE)) != events) {
		ev_io_stop(proxy.loop, &q->io);
		ev_io_init(&q->io, io_cb, fd, events);
		ev_io_start(proxy.loop, &q->io);
		q->fd = fd;
	}
}

static void arm(struct proxy_authq *q)
{
	ev_timer_stop(proxy.loop, &q->timer);
	ev_timer_set(&q->timer, (double)q->timeout_ms / 1000.0, 0.);
	ev_timer_start(proxy.loop, &q->timer);
}

/* ---- idle connections ---- */

static void idle_free(struct authq_idle *i)
{
	ev_io_stop(proxy.loop, &i->io);
	ev_timer_stop(proxy.loop, &i->timer);
	pool_list_remove(&i->link);
	aq.nidle--;
	PQfinish(i->pg);
	free(i->conninfo);
	free(i);
}

static struct authq_idle *idle_oldest(void)
{
	return pool_container_of(pool_list_first(&aq.idle_list), struct authq_idle, link);
}

static void idle_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct authq_idle *i = pool_container_of(w, struct authq_idle, io);
	/* nothing is asked: input is a notice, or the server went away */
	if (!PQconsumeInput(i->pg) || PQstatus(i->pg) != CONNECTION_OK || PQisBusy(i->pg))
		idle_free(i);
}

static void idle_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	idle_free(pool_container_of(w, struct authq_idle, timer));
}

/* Keep the look-up's connection for the next one of the same target (else close it). */
static void idle_put(struct proxy_authq *q)
{
	PGconn *pg = q->pg;
	q->pg = NULL;
	struct authq_idle *i = NULL;
	if (!pg || PQstatus(pg) != CONNECTION_OK || PQtransactionStatus(pg) != PQTRANS_IDLE ||
	    proxy.shutting_down)
		goto drop;
	if (aq.nidle >= AUTHQ_MAX_IDLE) /* the oldest makes room */
		idle_free(idle_oldest());
	i = calloc(1, sizeof(*i));
	if (!i || !(i->conninfo = strdup(q->conninfo)))
		goto drop;
	i->pg = pg;
	pool_list_append(&aq.idle_list, &i->link);
	aq.nidle++;
	ev_io_init(&i->io, idle_io_cb, PQsocket(pg), EV_READ);
	ev_io_start(proxy.loop, &i->io);
	ev_timer_init(&i->timer, idle_timer_cb, AUTHQ_IDLE_S, 0.);
	ev_timer_start(proxy.loop, &i->timer);
	return;
drop:
	free(i);
	if (pg)
		PQfinish(pg);
}

/* An idle connection to `conninfo`, taken off the list; NULL when none. */
static PGconn *idle_take(const char *conninfo)
{
	struct pool_list *pos;
	pool_list_foreach(pos, &aq.idle_list)
	{
		struct authq_idle *i = pool_container_of(pos, struct authq_idle, link);
		if (strcmp(i->conninfo, conninfo) != 0)
			continue;
		PGconn *pg = i->pg;
		i->pg = NULL;
		ev_io_stop(proxy.loop, &i->io);
		ev_timer_stop(proxy.loop, &i->timer);
		pool_list_remove(&i->link);
		aq.nidle--;
		free(i->conninfo);
		free(i);
		return pg;
	}
	return NULL;
}

/* ---- the look-up ---- */

static void lookup_free(struct proxy_authq *q)
{
	ev_io_stop(proxy.loop, &q->io);
	ev_timer_stop(proxy.loop, &q->timer);
	if (q->pg)
		PQfinish(q->pg);
	if (q->secret) {
		OPENSSL_cleanse(q->secret, strlen(q->secret));
		free(q->secret);
	}
	free(q->host);
	if (q->key) {
		OPENSSL_cleanse(q->key, 2 * q->key_len); /* the conninfo may hold a password */
		free(q->key);
	}
	free(q);
}

/* The look-up is over: every waiter gets the result, the connection goes idle or is closed,
 * and the next queued look-up may start. */
static void finish(struct proxy_authq *q, bool keep_conn)
{
	ev_io_stop(proxy.loop, &q->io);
	ev_timer_stop(proxy.loop, &q->timer);
	unhash(q);
	pool_list_remove(&q->link);
	if (q->running) {
		aq.nrunning--;
		q->running = false;
	}
	aq.stats.in_flight--;
	q->step = Q_DONE;
	if (keep_conn)
		idle_put(q);
	switch (q->status) {
	case PROXY_AUTHQ_FOUND:
		aq.stats.found++;
		break;
	case PROXY_AUTHQ_NOT_FOUND:
		aq.stats.not_found++;
		break;
	case PROXY_AUTHQ_ERROR:
		aq.stats.errors++;
		log_warning("auth_query for user \"%s\" (%s) failed: %s", q->user, q->target,
		            q->error);
		break;
	}
	struct proxy_authq_result r = {
	        .status = q->status, .secret = q->secret, .error = q->error, .summary = q->summary};
	while (!pool_list_empty(&q->waiters)) {
		struct pool_list *first = pool_list_first(&q->waiters);
		struct proxy_authq_waiter *w =
		        pool_container_of(first, struct proxy_authq_waiter, link);
		pool_list_remove(&w->link);
		w->q = NULL;
		w->done(w, &r);
	}
	lookup_free(q);
	start_next();
}

static void begin(struct proxy_authq *q);

/* Does libpq's (or the timer's) message say PostgreSQL was starting, stopping, full or out
 * of reach, which waiting may mend (not a password, hba, database or TLS problem)? */
static bool transient_connect_error(const char *why)
{
	static const char *const marks[] = {"the database system is starting up",
	                                    "the database system is shutting down",
	                                    "the database system is in recovery",
	                                    "the database system is not yet accepting",
	                                    "the database system is not accepting",
	                                    "too many clients",
	                                    "too many connections",
	                                    "remaining connection slots are reserved",
	                                    "Connection refused",
	                                    "Connection reset",
	                                    "server closed the connection",
	                                    "the connection did not finish in"};
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(why, marks[i]))
			return true;
	return false;
}

/* A connection failed transiently while there is time left: connect again after a back-off
 * (50 ms doubling up to server_login_retry). False when the look-up fails now. */
static bool retry_later(struct proxy_authq *q, const char *why)
{
	if (q->step != Q_CONNECTING || !why || !transient_connect_error(why))
		return false;
	int64_t delay = POOL_REACH_FIRST_DELAY_MS;
	for (int i = 0; i < q->retries && delay < q->retry_cap_ms; i++)
		delay *= 2;
	if (delay > q->retry_cap_ms)
		delay = q->retry_cap_ms;
	if (proxy_now_ms() + delay >= q->retry_until_ms)
		return false;
	q->retries++;
	log_debug("auth_query for user \"%s\" (%s): %s; connecting again in %lld ms", q->user,
	          q->target, why, (long long)delay);
	ev_io_stop(proxy.loop, &q->io);
	PQfinish(q->pg);
	q->pg = NULL;
	q->fd = -1;
	q->retry_wait = true;
	ev_timer_stop(proxy.loop, &q->timer);
	ev_timer_set(&q->timer, (double)delay / 1000.0, 0.);
	ev_timer_start(proxy.loop, &q->timer);
	return true;
}

static void fail(struct proxy_authq *q, const char *why)
{
	if (q->reused) {
		/* a kept connection may have died unnoticed: once more on a new one */
		log_debug("auth_query for user \"%s\": a kept connection failed (%s), retrying",
		          q->user, why);
		ev_io_stop(proxy.loop, &q->io);
		PQfinish(q->pg);
		q->pg = NULL;
		q->reused = false;
		q->fd = -1;
		q->have_result = false;
		q->summary = NULL;
		if (q->secret) {
			OPENSSL_cleanse(q->secret, strlen(q->secret));
			free(q->secret);
			q->secret = NULL;
		}
		begin(q);
		return;
	}
	if (retry_later(q, why))
		return;
	q->status = PROXY_AUTHQ_ERROR;
	if (!q->summary)
		q->summary = q->step == Q_QUERYING ? "the auth query failed"
		                                   : "could not connect to the auth database";
	snprintf(q->error, sizeof(q->error), "%s", why && why[0] ? why : "unknown error");
	/* one line: libpq's messages end with a newline, some have a DETAIL after it */
	for (char *p = q->error; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = *(p + 1) ? ' ' : '\0';
	size_t n = strlen(q->error);
	while (n && q->error[n - 1] == ' ')
		q->error[--n] = '\0';
	finish(q, false);
}

/* The first result: 0 rows or a NULL/empty password is "not found", one row a secret, more
 * than one an error. */
static void take_result(struct proxy_authq *q, PGresult *r)
{
	q->have_result = true;
	q->summary = "the auth query failed";
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		q->status = PROXY_AUTHQ_ERROR;
		snprintf(q->error, sizeof(q->error), "%s",
		         PQresultStatus(r) == PGRES_COMMAND_OK ? "auth_query returned no rows"
		                                               : PQresultErrorMessage(r));
		return;
	}
	if (PQnfields(r) < 2) {
		q->status = PROXY_AUTHQ_ERROR;
		snprintf(q->error, sizeof(q->error),
		         "auth_query must return two columns (user name, password), it returned "
		         "%d",
		         PQnfields(r));
		return;
	}
	if (PQntuples(r) > 1) {
		q->status = PROXY_AUTHQ_ERROR;
		snprintf(q->error, sizeof(q->error), "auth_query returned %d rows for one user",
		         PQntuples(r));
		return;
	}
	if (PQntuples(r) == 0 || PQgetisnull(r, 0, 1) || !PQgetvalue(r, 0, 1)[0]) {
		q->status = PROXY_AUTHQ_NOT_FOUND;
		return;
	}
	q->secret = strdup(PQgetvalue(r, 0, 1));
	if (!q->secret) {
		q->status = PROXY_AUTHQ_ERROR;
		snprintf(q->error, sizeof(q->error), "out of memory");
		return;
	}
	q->status = PROXY_AUTHQ_FOUND;
}

static void read_results(struct proxy_authq *q)
{
	if (!PQconsumeInput(q->pg)) {
		fail(q, PQerrorMessage(q->pg));
		return;
	}
	while (!PQisBusy(q->pg)) {
		PGresult *r = PQgetResult(q->pg);
		if (!r) {
			if (!q->have_result) {
				fail(q, "no result");
				return;
			}
			if (q->status == PROXY_AUTHQ_ERROR && PQstatus(q->pg) != CONNECTION_OK) {
				/* the server closed the connection (a kept one may have been
				 * terminated meanwhile: fail() tries again on a new one) */
				char why[AUTHQ_ERROR_MAX];
				snprintf(why, sizeof(why), "%s", q->error);
				fail(q, why);
				return;
			}
			/* an error answer says nothing of the connection: it may serve again */
			finish(q, true);
			return;
		}
		if (!q->have_result)
			take_result(q, r);
		PQclear(r);
	}
}

static void send_query(struct proxy_authq *q)
{
	const char *values[1] = {q->user};
	if (!PQsendQueryParams(q->pg, q->query, 1, NULL, values, NULL, NULL, 0)) {
		fail(q, PQerrorMessage(q->pg));
		return;
	}
	q->step = Q_QUERYING;
	arm(q);
	int f = PQflush(q->pg);
	if (f < 0) {
		fail(q, PQerrorMessage(q->pg));
		return;
	}
	watch(q, f ? EV_READ | EV_WRITE : EV_READ);
}

static void connect_poll(struct proxy_authq *q)
{
	switch (PQconnectPoll(q->pg)) {
	case PGRES_POLLING_READING:
		watch(q, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		watch(q, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(q->pg, 1) != 0) {
			fail(q, "cannot make the connection nonblocking");
			return;
		}
		send_query(q);
		return;
	default:
		fail(q, PQerrorMessage(q->pg));
		return;
	}
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	struct proxy_authq *q = pool_container_of(w, struct proxy_authq, io);
	if (q->step == Q_CONNECTING) {
		connect_poll(q);
		return;
	}
	if (revents & EV_WRITE) {
		int f = PQflush(q->pg);
		if (f < 0) {
			fail(q, PQerrorMessage(q->pg));
			return;
		}
		watch(q, f ? EV_READ | EV_WRITE : EV_READ);
	}
	if (revents & EV_READ)
		read_results(q);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct proxy_authq *q = pool_container_of(w, struct proxy_authq, timer);
	if (q->retry_wait) { /* the back-off after a transient failure is over */
		q->retry_wait = false;
		begin(q);
		return;
	}
	char why[128];
	snprintf(why, sizeof(why), "%s did not finish in %lld ms",
	         q->step == Q_CONNECTING ? "the connection" : "the query",
	         (long long)q->timeout_ms);
	q->reused = false; /* a slow server is not a dead kept connection */
	q->summary = "the look-up timed out";
	fail(q, why);
}

/* A new connection to the database's hosts, resolved on the loop first. */
static void connect_start(struct proxy_authq *q)
{
	char ci[AUTHQ_CONNINFO_MAX + 600], err[160];
	snprintf(ci, sizeof(ci), "%s", q->conninfo);
	int r = cfg_conninfo_hostaddr(ci, sizeof(ci), q->host, proxy_resolve_peek, err,
	                              sizeof(err));
	if (r < 0) {
		fail(q, err);
		return;
	}
	if (r == 0) { /* the name's look-up runs: again in 20 ms, while there is time */
		if (proxy_now_ms() >= q->retry_until_ms) {
			fail(q, "could not resolve the database's host name in time");
			return;
		}
		q->retry_wait = true;
		ev_timer_stop(proxy.loop, &q->timer);
		ev_timer_set(&q->timer, 0.02, 0.);
		ev_timer_start(proxy.loop, &q->timer);
		return;
	}
	q->pg = PQconnectStart(ci);
	OPENSSL_cleanse(ci, sizeof(ci)); /* it may hold a password */
	if (!q->pg || PQstatus(q->pg) == CONNECTION_BAD) {
		fail(q, q->pg ? PQerrorMessage(q->pg) : "out of memory");
		return;
	}
	q->step = Q_CONNECTING;
	q->fd = -1;
	arm(q);
	/* libpq: after PQconnectStart, act as if PQconnectPoll asked for the socket to be
	 * writable */
	watch(q, EV_WRITE);
}

/* Take a connection (kept or new) and go. */
static void begin(struct proxy_authq *q)
{
	if (!q->running) {
		pool_list_remove(&q->link);
		pool_list_append(&aq.running_list, &q->link);
		q->running = true;
		aq.nrunning++;
		q->pg = idle_take(q->conninfo);
		if (q->pg) {
			q->reused = true;
			q->fd = -1;
			send_query(q);
			return;
		}
	}
	connect_start(q);
}

/* Start queued look-ups while connections are free. */
static void start_next(void)
{
	if (aq.busy)
		return;
	aq.busy = true;
	/* the bound shared out between the workers */
	unsigned n = proxy_workers_count();
	int max = AUTHQ_MAX_RUNNING / (int)n > 0 ? AUTHQ_MAX_RUNNING / (int)n : 1;
	while (aq.nrunning < max && !pool_list_empty(&aq.queued_list)) {
		struct proxy_authq *q = pool_container_of(pool_list_first(&aq.queued_list),
		                                          struct proxy_authq, link);
		begin(q);
	}
	aq.busy = false;
}

/* aq.kick's callback. */
static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	start_next();
}

bool proxy_authq_lookup(const struct cfg *cfg, const struct cfg_database *db, const char *dbname,
                        const char *user, struct proxy_authq_waiter *w, char *err, size_t cap)
{
	char conninfo[AUTHQ_CONNINFO_MAX];
	build_conninfo(cfg, db, dbname, conninfo, sizeof(conninfo));
	size_t n = strlen(conninfo) + 1 + strlen(db->auth_query) + 1 + strlen(user) + 1;
	char *key = malloc(2 * n); /* the key, then its parts split at their NULs */
	if (!key) {
		snprintf(err, cap, "out of memory");
		return false;
	}
	snprintf(key, n, "%s\1%s\1%s", conninfo, db->auth_query, user);
	OPENSSL_cleanse(conninfo, sizeof(conninfo));
	unsigned hash = fnv(key);
	struct proxy_authq *q = find(hash, key);
	if (q) {
		OPENSSL_cleanse(key, n);
		free(key);
		aq.stats.coalesced++;
		pool_list_append(&q->waiters, &w->link);
		w->q = q;
		return true;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		OPENSSL_cleanse(key, n);
		free(key);
		snprintf(err, cap, "out of memory");
		return false;
	}
	q->key = key;
	q->key_len = n;
	q->hash = hash;
	q->conninfo = key + n;
	memcpy(q->conninfo, key, n);
	q->query = strchr(q->conninfo, '\1');
	*q->query++ = '\0';
	q->user = strchr(q->query, '\1');
	*q->user++ = '\0';
	/* the conninfo is parsed now so that a bad one fails the login at once */
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(q->conninfo, &perr);
	if (!opts) {
		snprintf(err, cap, "bad connection string for auth_query: %s",
		         perr ? perr : "out of memory");
		PQfreemem(perr);
		lookup_free(q);
		return false;
	}
	PQconninfoFree(opts);
	q->host = strdup(db->host);
	if (!q->host) {
		snprintf(err, cap, "out of memory");
		lookup_free(q);
		return false;
	}
	snprintf(q->target, sizeof(q->target), "%s@%s:%d/%s", db->auth_user, db->host, db->port,
	         auth_dbname(db, dbname));
	const struct cfg_pool *pc = &db->lanes[CFG_LANE_OLTP].pool;
	q->timeout_ms = pc->server_connect_timeout_ms > 0 ? pc->server_connect_timeout_ms
	                                                  : AUTHQ_DEFAULT_TIMEOUT;
	q->retry_until_ms = pc->query_wait_timeout_ms > 0
	                            ? proxy_now_ms() + pc->query_wait_timeout_ms
	                            : INT64_MAX;
	q->retry_cap_ms = pc->server_login_retry_ms > 0 ? pc->server_login_retry_ms : 1;
	q->fd = -1;
	q->step = Q_QUEUED;
	pool_list_init(&q->waiters);
	ev_init(&q->io, io_cb);
	ev_init(&q->timer, timer_cb);
	q->next_hash = aq.buckets[hash % AUTHQ_BUCKETS];
	aq.buckets[hash % AUTHQ_BUCKETS] = q;
	pool_list_append(&aq.queued_list, &q->link);
	aq.stats.in_flight++;
	pool_list_append(&q->waiters, &w->link);
	w->q = q;
	log_debug("auth_query for user \"%s\" (%s): started", q->user, q->target);
	if (!ev_is_active(&aq.kick)) {
		ev_timer_init(&aq.kick, kick_cb, 0., 0.);
		ev_timer_start(proxy.loop, &aq.kick);
	}
	return true;
}

void proxy_authq_cancel(struct proxy_authq_waiter *w)
{
	if (!w->q)
		return;
	pool_list_remove(&w->link);
	w->q = NULL;
}

void proxy_authq_stop_all(void)
{
	struct pool_list *lists[] = {&aq.queued_list, &aq.running_list};
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
		while (!pool_list_empty(lists[k])) {
			struct proxy_authq *q = pool_container_of(pool_list_first(lists[k]),
			                                          struct proxy_authq, link);
			while (!pool_list_empty(&q->waiters)) {
				struct proxy_authq_waiter *w =
				        pool_container_of(pool_list_first(&q->waiters),
				                          struct proxy_authq_waiter, link);
				proxy_authq_cancel(w);
			}
			unhash(q);
			pool_list_remove(&q->link);
			lookup_free(q);
		}
	aq.nrunning = 0;
	aq.stats.in_flight = 0;
	while (!pool_list_empty(&aq.idle_list))
		idle_free(idle_oldest());
	if (ev_is_active(&aq.kick))
		ev_timer_stop(proxy.loop, &aq.kick);
}
