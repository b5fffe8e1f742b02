/* tests/integration/pinsq.c — helpers of the session-state pin tests (pinsq.h). */
#include "tests/integration/pinsq.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/prom.h"

/* ---- pglane ---- */

void pins_start(struct pins_env *e, const char *mode, const char *pool_extra, const char *db_extra)
{
	memset(e, 0, sizeof *e);
	e->http = it_http_port();
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "admin = { users = [ \"admin\" ]; http_port = %d; };\n"
	         "log = { level = \"info\"; };\n"
	         "pool = { mode = \"%s\"; size = 2; query_wait_timeout = \"5s\";\n"
	         "         statement_timeout = \"4s\"; %s };\n"
	         "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "                %s } );\n",
	         e->http, mode, pool_extra ? pool_extra : "", db_extra ? db_extra : "");
	e->p = it_pglane_start(conf);
	it_wait_port(e->http);
	e->admin = adminq_connect("admin");
	e->pg = it_connect_admin();
	/* the backends of an earlier test may still be exiting with their locks */
	int64_t deadline = it_now_ms() + 5000;
	while (it_query_ll(e->pg, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") >
	       0) {
		cr_assert_lt(it_now_ms(), deadline, "advisory locks of an earlier test remain");
		it_sleep_ms(20);
	}
}

void pins_env_close(struct pins_env *e)
{
	PQfinish(e->admin);
	PQfinish(e->pg);
	e->admin = e->pg = NULL;
}

PGconn *pins_client(const char *app)
{
	return it_connect_app("postgres", NULL, "postgres", app);
}

long long pins_pid(PGconn *c)
{
	return it_query_ll(c, "SELECT pg_backend_pid()");
}

bool pins_try(PGconn *c, const char *sql, char *out, size_t n)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	bool ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
	if (ok)
		snprintf(out, n, "%s",
		         st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	else
		snprintf(out, n, "%s %s", it_sqlstate(r),
		         r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	PQclear(r);
	return ok;
}

int pins_notifies(PGconn *c, char got[][64], int have, int want, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	for (;;) {
		PQconsumeInput(c);
		PGnotify *n;
		while ((n = PQnotifies(c)) != NULL) {
			if (have < want)
				snprintf(got[have], 64, "%s:%s", n->relname, n->extra);
			have++;
			PQfreemem(n);
		}
		int64_t left = deadline - it_now_ms();
		if (have >= want || left <= 0)
			return have;
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
		poll(&p, 1, (int)(left < 50 ? left : 50));
	}
}

bool pins_other_takes(const char *sql, const char *unlock)
{
	PGconn *c = pins_client("it_pins_try");
	char v[256];
	bool ok = pins_try(c, sql, v, sizeof v);
	cr_expect(ok, "another client's `%s` failed: %s", sql, v);
	bool took = ok && strcmp(v, "t") == 0;
	if (took)
		pins_try(c, unlock, v, sizeof v);
	PQfinish(c);
	return took;
}

int pins_lock_holders(struct pins_env *e, long long *pid)
{
	PGresult *r = PQexec(e->pg, "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory'"
	                            " AND granted AND pid <> pg_backend_pid()");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	int n = PQntuples(r);
	*pid = n > 0 ? atoll(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return n;
}

/* ---- what pglane reports ---- */

static int local_port(PGconn *c)
{
	struct sockaddr_in a;
	socklen_t n = sizeof a;
	cr_assert_eq(getsockname(PQsocket(c), (struct sockaddr *)&a, &n), 0);
	return ntohs(a.sin_port);
}

char *pins_pinned(struct pins_env *e, PGconn *c)
{
	char port[16];
	snprintf(port, sizeof port, "%d", local_port(c));
	PGresult *r = adminq_show(e->admin, "SHOW CLIENTS");
	int row = adminq_find(r, "port", port, "type", "C");
	cr_assert_geq(row, 0, "SHOW CLIENTS has no client on port %s", port);
	char *v = strdup(adminq_cell(r, row, "pinned"));
	PQclear(r);
	cr_assert(v);
	return v;
}

char *pins_server_pinned(struct pins_env *e, long long pid)
{
	char spid[32];
	snprintf(spid, sizeof spid, "%lld", pid);
	PGresult *r = adminq_show(e->admin, "SHOW SERVERS");
	int row = adminq_find(r, "remote_pid", spid, NULL, NULL);
	cr_assert_geq(row, 0, "SHOW SERVERS has no server with remote_pid %s", spid);
	char *v = strdup(adminq_cell(r, row, "pinned"));
	PQclear(r);
	cr_assert(v);
	return v;
}

/* Is `name` one of the comma-separated items of `list`? */
static bool list_has(const char *list, const char *name, size_t len)
{
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = p;
		while (*end && *end != ',')
			end++;
		const char *last = end;
		while (last > p && last[-1] == ' ')
			last--;
		if ((size_t)(last - p) == len && strncmp(p, name, len) == 0)
			return true;
		p = end;
	}
	return false;
}

/* Is every item of `a` in `b`? */
static bool list_within(const char *a, const char *b)
{
	const char *p = a;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = p;
		while (*end && *end != ',')
			end++;
		const char *last = end;
		while (last > p && last[-1] == ' ')
			last--;
		if (last > p && !list_has(b, p, (size_t)(last - p)))
			return false;
		p = end;
	}
	return true;
}

bool pins_same_reasons(const char *got, const char *want)
{
	return list_within(got, want) && list_within(want, got);
}

void pins_wait_pinned(struct pins_env *e, PGconn *c, const char *want, int timeout_ms,
                      const char *what)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	for (;;) {
		char *got = pins_pinned(e, c);
		bool ok = pins_same_reasons(got, want);
		if (ok) {
			free(got);
			return;
		}
		if (it_now_ms() > deadline) {
			char msg[256];
			snprintf(msg, sizeof msg, "%s", got);
			free(got);
			cr_assert_fail(
			        "%s: SHOW CLIENTS pinned = \"%s\", want \"%s\" (waited %d ms)",
			        what, msg, want, timeout_ms);
		}
		free(got);
		it_sleep_ms(20);
	}
}

void pins_expect_others_unpinned(struct pins_env *e, PGconn *c, const char *what)
{
	char port[16];
	snprintf(port, sizeof port, "%d", local_port(c));
	PGresult *r = adminq_show(e->admin, "SHOW CLIENTS");
	for (int i = 0; i < PQntuples(r); i++) {
		if (strcmp(adminq_cell(r, i, "port"), port) == 0)
			continue;
		cr_expect_str_empty(
		        adminq_cell(r, i, "pinned"), "%s: client %s:%s (%s) has pinned = \"%s\"",
		        what, adminq_cell(r, i, "addr"), adminq_cell(r, i, "port"),
		        adminq_cell(r, i, "application_name"), adminq_cell(r, i, "pinned"));
	}
	PQclear(r);
}

long long pins_pools_cl_pinned(struct pins_env *e)
{
	long long v = adminq_pool_value(e->admin, "postgres", "postgres", "oltp", "cl_pinned");
	cr_assert_geq(v, 0, "SHOW POOLS has no postgres/postgres/oltp row");
	return v;
}

long long pins_lanes_cl_pinned(struct pins_env *e)
{
	PGresult *r = adminq_show(e->admin, "SHOW LANES");
	int row = adminq_find(r, "database", "postgres", "lane", "oltp");
	cr_assert_geq(row, 0, "SHOW LANES has no postgres/oltp row");
	long long v = adminq_cell_ll(r, row, "cl_pinned");
	PQclear(r);
	return v;
}

static bool label_is(const struct prom_sample *s, const char *name, const char *value)
{
	const char *v = prom_label(s, name);
	return v && strcmp(v, value) == 0;
}

double pins_metric_clients_pinned(struct pins_env *e)
{
	struct prom p;
	adminq_metrics(e->http, &p);
	double v = -1;
	for (size_t i = 0; i < p.n; i++) {
		const struct prom_sample *s = &p.s[i];
		if (strcmp(s->name, "pglane_pool_clients_pinned") == 0 &&
		    label_is(s, "database", "postgres") && label_is(s, "user", "postgres") &&
		    label_is(s, "lane", "oltp"))
			v = s->value;
	}
	prom_free(&p);
	return v;
}

double pins_metric_pins_total(struct pins_env *e, const char *reason)
{
	struct prom p;
	adminq_metrics(e->http, &p);
	double v = prom_family(&p, "pglane_pins_total") ? 0 : -1;
	for (size_t i = 0; i < p.n; i++) {
		const struct prom_sample *s = &p.s[i];
		if (strcmp(s->name, "pglane_pins_total") == 0 && label_is(s, "reason", reason))
			v += s->value;
	}
	prom_free(&p);
	return v;
}

/* Does `line` carry the reason `reason` in a field reason=...? */
static bool line_has_reason(const char *line, const char *reason)
{
	const char *k = strstr(line, "reason");
	while (k) {
		const char *v = k + 6;
		if (*v == '"') /* JSON: "reason":"..." */
			v++;
		if (*v == '=' || *v == ':') {
			v++;
			if (*v == '"')
				v++;
			const char *end = v;
			while (*end && *end != '"' && *end != ' ')
				end++;
			char val[256];
			snprintf(val, sizeof val, "%.*s", (int)(end - v), v);
			if (list_has(val, reason, strlen(reason)))
				return true;
		}
		k = strstr(k + 1, "reason");
	}
	return false;
}

int pins_log_pin_events(const char *reason)
{
	char *log = it_pglane_log();
	int n = 0;
	char *save = NULL;
	for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *ev = strstr(line, ": pin ");
		if (!ev)
			ev = strstr(line, "\"event\":\"pin\"");
		if (ev && line_has_reason(line, reason))
			n++;
	}
	free(log);
	return n;
}

/* ---- session state on a backend ---- */

static const char PROBE_SQL[] =
        "SELECT pg_backend_pid(),"
        " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),"
        " (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()),"
        " (SELECT count(*) FROM pg_cursors WHERE name <> ''),"
        " (SELECT count(*) FROM pg_prepared_statements WHERE from_sql),"
        " (SELECT count(*) FROM pg_listening_channels())";

/* Parse a probe result; false (and the error in msg) when it is not one. */
static bool probe_parse(PGresult *r, struct pins_probe *p, char *msg, size_t n)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 6) {
		snprintf(msg, n, "probe: %s %s %s", PQresStatus(PQresultStatus(r)), it_sqlstate(r),
		         PQresultErrorMessage(r));
		return false;
	}
	long long *f[6] = {&p->pid, &p->locks, &p->temps, &p->cursors, &p->prepared, &p->listens};
	for (int i = 0; i < 6; i++)
		*f[i] = atoll(PQgetvalue(r, 0, i));
	return true;
}

struct pins_probe pins_probe(PGconn *c)
{
	struct pins_probe p = {0};
	char msg[512];
	PGresult *r = PQexec(c, PROBE_SQL);
	bool ok = probe_parse(r, &p, msg, sizeof msg);
	PQclear(r);
	cr_assert(ok, "%s", msg);
	return p;
}

bool pins_probe_clean(const struct pins_probe *p)
{
	return !p->locks && !p->temps && !p->cursors && !p->prepared && !p->listens;
}

const char *pins_probe_str(const struct pins_probe *p)
{
	static char s[256];
	snprintf(s, sizeof s,
	         "backend %lld: %lld advisory locks, %lld temp relations, %lld cursors, "
	         "%lld SQL prepared statements, %lld LISTEN channels",
	         p->pid, p->locks, p->temps, p->cursors, p->prepared, p->listens);
	return s;
}

static bool backend_exists(struct pins_env *e, long long pid)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pid);
	return it_query_ll(e->pg, sql) > 0;
}

struct pins_probe pins_probe_on(struct hold *h, PGconn *c, struct pins_env *e, long long pid,
                                bool *gone)
{
	*gone = !backend_exists(e, pid);
	if (*gone)
		return pins_probe(c);
	hold_server(h, pid, false);
	struct pins_probe p = pins_probe(c);
	hold_release(h);
	cr_assert_eq(p.pid, pid, "steered to backend %lld, the probe ran on %lld", pid, p.pid);
	return p;
}

void pins_expect_servers_clean(struct hold *h, PGconn *c, struct pins_env *e, const char *what)
{
	long long pids[2];
	hold_learn(h, pids);
	for (int i = 0; i < 2; i++) {
		bool gone;
		struct pins_probe p = pins_probe_on(h, c, e, pids[i], &gone);
		cr_expect(pins_probe_clean(&p), "%s: %s", what, pins_probe_str(&p));
	}
}

void pins_expect_moves(struct hold *h, PGconn *c, const char *what)
{
	long long p1 = pins_pid(c);
	hold_server(h, p1, true);
	long long p2 = pins_pid(c);
	hold_release(h);
	cr_expect_neq(p1, p2,
	              "%s: with a holder on backend %lld the client still ran there: it is "
	              "pinned",
	              what, p1);
}

bool pins_wait_discarded(struct pins_env *e, long long pid, int timeout_ms, char *last, size_t n)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT query FROM pg_stat_activity WHERE pid = %lld", pid);
	int64_t deadline = it_now_ms() + timeout_ms;
	snprintf(last, n, "(none)");
	for (;;) {
		PGresult *r = PQexec(e->pg, sql);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		bool gone = PQntuples(r) == 0;
		if (!gone)
			snprintf(last, n, "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		if (gone || strcasestr(last, "DISCARD ALL"))
			return true;
		if (it_now_ms() > deadline)
			return false;
		it_sleep_ms(20);
	}
}

/* ---- busy clients ---- */

#define BUSY_MAX 8

struct pins_busy;

struct busy_arg {
	struct pins_busy *b;
	PGconn *c;
};

struct pins_busy {
	int n;
	const char *try_sql; /* borrowed */
	PGconn *c[BUSY_MAX];
	pthread_t th[BUSY_MAX];
	struct busy_arg arg[BUSY_MAX];
	atomic_bool stop;
	atomic_llong avoid;
	atomic_int txns, on_avoided, leaks, taken, notifies, errors;
	pthread_mutex_t mu;
	char first[512];
};

static void busy_note(struct pins_busy *b, atomic_int *count, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void busy_note(struct pins_busy *b, atomic_int *count, const char *fmt, ...)
{
	atomic_fetch_add(count, 1);
	pthread_mutex_lock(&b->mu);
	if (!b->first[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(b->first, sizeof b->first, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&b->mu);
}

/* Run `sql`; false (noted) when it fails. The result is kept in *out when not NULL. */
static bool busy_exec(struct pins_busy *b, PGconn *c, const char *sql, PGresult **out)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		busy_note(b, &b->errors, "busy client: `%s`: %s", sql,
		          r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		PQclear(r);
		return false;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return true;
}

static void busy_txn(struct pins_busy *b, PGconn *c)
{
	PGresult *r = NULL;
	if (!busy_exec(b, c, "BEGIN", NULL))
		return;
	if (!busy_exec(b, c, PROBE_SQL, &r))
		goto out;
	struct pins_probe p = {0};
	char msg[512];
	if (!probe_parse(r, &p, msg, sizeof msg)) {
		busy_note(b, &b->errors, "%s", msg);
		PQclear(r);
		goto out;
	}
	PQclear(r);
	long long avoid = atomic_load(&b->avoid);
	if (avoid && p.pid == avoid)
		busy_note(b, &b->on_avoided, "busy client ran on the pinned backend %lld", p.pid);
	if (!pins_probe_clean(&p))
		busy_note(b, &b->leaks, "busy client saw another's state: %s", pins_probe_str(&p));
	if (b->try_sql && avoid) {
		if (!busy_exec(b, c, b->try_sql, &r))
			goto out;
		if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
			busy_note(b, &b->taken, "busy client: `%s` took a lock held by another",
			          b->try_sql);
		PQclear(r);
	}
	if (!busy_exec(b, c, "SELECT pg_sleep(0.01)", NULL))
		goto out;
	if (busy_exec(b, c, "COMMIT", NULL))
		atomic_fetch_add(&b->txns, 1);
	return;
out:
	PQclear(PQexec(c, "ROLLBACK"));
}

static void *busy_main(void *arg)
{
	struct pins_busy *b = ((struct busy_arg *)arg)->b;
	PGconn *c = ((struct busy_arg *)arg)->c;
	while (!atomic_load(&b->stop)) {
		busy_txn(b, c);
		PQconsumeInput(c);
		PGnotify *nf;
		while ((nf = PQnotifies(c)) != NULL) {
			busy_note(b, &b->notifies, "busy client got a notification on %s: %s",
			          nf->relname, nf->extra);
			PQfreemem(nf);
		}
		if (PQstatus(c) != CONNECTION_OK) {
			busy_note(b, &b->errors, "busy client lost its connection: %s",
			          PQerrorMessage(c));
			break;
		}
	}
	return NULL;
}

struct pins_busy *pins_busy_start(int n, const char *try_sql)
{
	cr_assert(n > 0 && n <= BUSY_MAX);
	struct pins_busy *b = calloc(1, sizeof *b);
	cr_assert(b);
	b->n = n;
	b->try_sql = try_sql;
	pthread_mutex_init(&b->mu, NULL);
	for (int i = 0; i < n; i++)
		b->c[i] = pins_client("it_pins_busy");
	for (int i = 0; i < n; i++) {
		b->arg[i] = (struct busy_arg){.b = b, .c = b->c[i]};
		cr_assert_eq(pthread_create(&b->th[i], NULL, busy_main, &b->arg[i]), 0);
	}
	return b;
}

void pins_busy_avoid(struct pins_busy *b, long long pid)
{
	atomic_store(&b->avoid, pid);
}

void pins_busy_wait(struct pins_busy *b, int more, int timeout_ms)
{
	int want = atomic_load(&b->txns) + more;
	int64_t deadline = it_now_ms() + timeout_ms;
	while (atomic_load(&b->txns) < want && it_now_ms() < deadline)
		it_sleep_ms(5);
}

void pins_busy_stop(struct pins_busy *b, struct pins_busy_stats *st)
{
	atomic_store(&b->stop, true);
	for (int i = 0; i < b->n; i++)
		pthread_join(b->th[i], NULL);
	for (int i = 0; i < b->n; i++)
		PQfinish(b->c[i]);
	memset(st, 0, sizeof *st);
	st->txns = atomic_load(&b->txns);
	st->on_avoided = atomic_load(&b->on_avoided);
	st->leaks = atomic_load(&b->leaks);
	st->taken = atomic_load(&b->taken);
	st->notifies = atomic_load(&b->notifies);
	st->errors = atomic_load(&b->errors);
	snprintf(st->first, sizeof st->first, "%s", b->first);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void pins_busy_expect_clean(const struct pins_busy_stats *st, const char *what)
{
	cr_expect_gt(st->txns, 0, "%s: the busy clients did no transaction (%s)", what, st->first);
	cr_expect_eq(st->on_avoided, 0,
	             "%s: %d busy transactions ran on the pinned client's backend (of %d)", what,
	             st->on_avoided, st->txns);
	cr_expect_eq(st->leaks, 0, "%s: %d busy transactions saw another client's state: %s", what,
	             st->leaks, st->first);
	cr_expect_eq(st->taken, 0, "%s: busy clients took the pinned client's lock %d times", what,
	             st->taken);
	cr_expect_eq(st->notifies, 0, "%s: busy clients got %d notifications: %s", what,
	             st->notifies, st->first);
	cr_expect_eq(st->errors, 0, "%s: %d busy statements failed: %s", what, st->errors,
	             st->first);
}

/* ---- the pinning statements ---- */

const struct pins_reason pins_reasons[PINS_NREASONS] = {
        {
                .name = "advisory_lock",
                .setup = {"SELECT pg_advisory_lock(4242)"},
                .use = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                       " AND objid = 4242 AND pid = pg_backend_pid() AND granted",
                .want = "1",
                .undo = "SELECT pg_advisory_unlock(4242)",
                .other_sql = "SELECT pg_try_advisory_xact_lock(4242)",
                .other_want = "f",
        },
        {
                .name = "temp_object",
                .setup = {"CREATE TEMP TABLE pins_t(i int)", "INSERT INTO pins_t VALUES (1)"},
                .use = "SELECT count(*) FROM pins_t",
                .want = "1",
                .undo = "DROP TABLE pins_t",
                .other_sql = "SELECT count(*) FROM pins_t",
                .other_err = "42P01",
        },
        {
                .name = "held_cursor",
                .setup = {"BEGIN",
                          "DECLARE pins_c CURSOR WITH HOLD FOR SELECT generate_series(1, 1000)",
                          "COMMIT"},
                .use = "SELECT count(*) FROM pg_cursors WHERE name = 'pins_c' AND is_holdable",
                .want = "1",
                .undo = "CLOSE pins_c",
                .other_sql = "FETCH 1 FROM pins_c",
                .other_err = "34000",
        },
        {
                .name = "prepared_statement",
                .setup = {"PREPARE pins_p(int) AS SELECT $1 * 2"},
                .use = "EXECUTE pins_p(21)",
                .want = "42",
                .undo = "DEALLOCATE pins_p",
                .other_sql = "EXECUTE pins_p(1)",
                .other_err = "26000",
        },
        {
                .name = "listen",
                .setup = {"LISTEN pins_chan"},
                .use = "SELECT count(*) FROM pg_listening_channels() AS ch(name)"
                       " WHERE name = 'pins_chan'",
                .want = "1",
                .undo = "UNLISTEN *",
                .other_sql = "SELECT count(*) FROM pg_listening_channels() AS ch(name)"
                             " WHERE name = 'pins_chan'",
                .other_want = "0",
        },
};

void pins_reason_setup(PGconn *c, const struct pins_reason *r)
{
	for (int i = 0; i < 3 && r->setup[i]; i++)
		it_exec_ok(c, r->setup[i]);
}

void pins_reason_use(PGconn *c, const struct pins_reason *r, const char *what)
{
	PGresult *res = PQexec(c, r->use);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	char got[256];
	snprintf(got, sizeof got, "%s", ok ? PQgetvalue(res, 0, 0) : PQresultErrorMessage(res));
	char state[8];
	snprintf(state, sizeof state, "%s", it_sqlstate(res));
	PQclear(res);
	cr_assert(ok, "%s (%s): `%s` failed: %s %s", what, r->name, r->use, state, got);
	cr_assert_str_eq(got, r->want, "%s (%s): `%s` = %s, want %s", what, r->name, r->use, got,
	                 r->want);
}

void pins_reason_other(PGconn *c, const struct pins_reason *r, const char *what)
{
	PGresult *res = PQexec(c, r->other_sql);
	ExecStatusType st = PQresultStatus(res);
	char got[256];
	snprintf(got, sizeof got, "%s",
	         st == PGRES_TUPLES_OK && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0)
	                                                      : PQresultErrorMessage(res));
	char state[8];
	snprintf(state, sizeof state, "%s", it_sqlstate(res));
	PQclear(res);
	if (r->other_err)
		cr_expect_str_eq(state, r->other_err,
		                 "%s (%s): another client's `%s` gave %s %s, want error %s", what,
		                 r->name, r->other_sql, PQresStatus(st), got, r->other_err);
	else
		cr_expect(st == PGRES_TUPLES_OK && strcmp(got, r->other_want) == 0,
		          "%s (%s): another client's `%s` gave %s %s, want %s", what, r->name,
		          r->other_sql, PQresStatus(st), got, r->other_want);
}

void pins_expect_backend_gone(struct pins_env *e, long long pid, const char *what)
{
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pid);
	int64_t deadline = it_now_ms() + 3000;
	while (it_query_ll(e->pg, sql) > 0) {
		cr_assert_lt(it_now_ms(), deadline, "%s: backend %lld is still open", what, pid);
		it_sleep_ms(20);
	}
}
