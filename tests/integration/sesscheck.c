/* tests/integration/sesscheck.c — session snapshots, steering and fixtures for the session
 * and startup tests (sesscheck.h). */
#include "tests/integration/sesscheck.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SC_UNDEFINED "<null>"

/* One text column, fields separated by '|', in enum sc_col order, then the backend pid. */
const char sc_snap_sql[] =
        "SELECT concat_ws('|', current_user, session_user, current_setting('search_path'),"
        " coalesce(current_schema()::text, '" SC_UNDEFINED "'),"
        " current_setting('work_mem'), current_setting('lock_timeout'),"
        " current_setting('statement_timeout'), current_setting('TimeZone'),"
        " current_setting('client_encoding'), current_setting('DateStyle'),"
        " current_setting('extra_float_digits'),"
        " coalesce(current_setting('myapp.tenant', true), '" SC_UNDEFINED "'),"
        " coalesce(current_setting('myapp.x', true), '" SC_UNDEFINED "'),"
        " '03/05/2024'::date::text, (timestamptz '2024-01-01 00:00:00+00')::text,"
        " 0.1::float8::text, current_setting('default_transaction_isolation'),"
        " pg_backend_pid()::text)";

static const char *const col_names[SC_NCOLS] = {"current_user",
                                                "session_user",
                                                "search_path",
                                                "current_schema()",
                                                "work_mem",
                                                "lock_timeout",
                                                "statement_timeout",
                                                "TimeZone",
                                                "client_encoding",
                                                "DateStyle",
                                                "extra_float_digits",
                                                "myapp.tenant",
                                                "myapp.x",
                                                "'03/05/2024'::date",
                                                "timestamptz text",
                                                "0.1::float8",
                                                "default_transaction_isolation"};

const char *sc_col_name(enum sc_col col)
{
	return col >= 0 && col < SC_NCOLS ? col_names[col] : "?";
}

/* ---- fixtures and pglane ---- */

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

void sc_fixtures(void)
{
	PGconn *a = it_connect_admin();
	PQsetNoticeProcessor(a, quiet, NULL);
	it_exec_ok(a, "DROP SCHEMA IF EXISTS " SC_SCHEMA_A " CASCADE");
	it_exec_ok(a, "DROP SCHEMA IF EXISTS " SC_SCHEMA_B " CASCADE");
	it_exec_ok(a, "DROP SCHEMA IF EXISTS " SC_SCHEMA_Q " CASCADE");
	it_exec_ok(a, "DROP ROLE IF EXISTS " SC_USER);
	it_exec_ok(a, "DROP ROLE IF EXISTS " SC_OTHER);
	it_exec_ok(a, "DROP ROLE IF EXISTS " SC_ROLE);
	it_exec_ok(a, "CREATE ROLE " SC_ROLE " NOLOGIN");
	it_exec_ok(a, "CREATE ROLE " SC_USER " LOGIN PASSWORD '" SC_PASSWORD "'");
	it_exec_ok(a, "CREATE ROLE " SC_OTHER " LOGIN PASSWORD '" SC_OTHER_PASSWORD "'");
	it_exec_ok(a, "GRANT " SC_ROLE " TO " SC_USER);
	it_exec_ok(a, "CREATE SCHEMA " SC_SCHEMA_A);
	it_exec_ok(a, "CREATE SCHEMA " SC_SCHEMA_B);
	it_exec_ok(a, "CREATE SCHEMA " SC_SCHEMA_Q);
	it_exec_ok(a, "GRANT USAGE ON SCHEMA " SC_SCHEMA_A ", " SC_SCHEMA_B ", " SC_SCHEMA_Q
	              " TO PUBLIC");
	it_exec_ok(a, "CREATE FUNCTION " SC_SET_ZONE "(tz text, ds text) RETURNS text"
	              " LANGUAGE sql AS $$ SELECT set_config('TimeZone', tz, false)"
	              " || set_config('DateStyle', ds, false) $$");
	PQfinish(a);
}

void sc_fixtures_drop(void)
{
	PGconn *a = it_connect_admin();
	static const char *const sqls[] = {"DROP SCHEMA IF EXISTS " SC_SCHEMA_A " CASCADE",
	                                   "DROP SCHEMA IF EXISTS " SC_SCHEMA_B " CASCADE",
	                                   "DROP SCHEMA IF EXISTS " SC_SCHEMA_Q " CASCADE",
	                                   "DROP ROLE IF EXISTS " SC_USER,
	                                   "DROP ROLE IF EXISTS " SC_OTHER,
	                                   "DROP ROLE IF EXISTS " SC_ROLE};
	for (size_t i = 0; i < sizeof sqls / sizeof sqls[0]; i++)
		PQclear(PQexec(a, sqls[i]));
	PQfinish(a);
}

static struct it_pglane *start(const char *mode, const char *pool_extra, bool one_worker)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "%s"
	         "auth = { type = \"trust\"; file = \"users.txt\"; };\n"
	         "pool = { mode = \"%s\"; size = 2; query_wait_timeout = \"30s\"; %s "
	         "};\n" IT_DATABASES,
	         one_worker ? "workers = 1;\n" : "", mode, pool_extra ? pool_extra : "");
	return it_pglane_start_with_users(conf, "\"" SC_USER "\" \"" SC_PASSWORD "\"\n"
	                                        "\"" SC_OTHER "\" \"" SC_OTHER_PASSWORD "\"\n");
}

struct it_pglane *sc_start(const char *mode, const char *pool_extra)
{
	/* session mode: a test steers a client onto the server another one left, which only one
	 * worker's pool of 2 makes certain (with two, the server left may be on the other) */
	return start(mode, pool_extra, strcmp(mode, "session") == 0);
}

struct it_pglane *sc_start_one_worker(const char *mode, const char *pool_extra)
{
	return start(mode, pool_extra, true);
}

/* ---- clients ---- */

static struct sc_client connect_pq(const char *name, int port, const char *user,
                                   const char *password, const char *extra)
{
	char ci[1024];
	it_conninfo(ci, sizeof ci, IT_HOST, port, user, password, "postgres", extra);
	PGconn *c = it_connect_try(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s: login as %s (%s) on port %d: %s", name, user,
	             extra ? extra : "", port, it_conn_error(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	return (struct sc_client){.name = name, .pq = c};
}

struct sc_client sc_connect(const char *name, const char *user, const char *password,
                            const char *extra)
{
	struct it_pglane *p = it_pglane_current();
	cr_assert(p, "sc_connect: pglane is not running");
	return connect_pq(name, p->port, user, password, extra);
}

struct sc_client sc_connect_direct(const char *name, const char *user, const char *password,
                                   const char *extra)
{
	return connect_pq(name, it_pgport(), user, password, extra);
}

struct sc_client sc_connect_raw(const char *name, bool direct, const char **params, size_t n)
{
	int port = direct ? it_pgport() : it_pglane_current()->port;
	struct rawpg *r = rawpg_connect(port, "postgres", "postgres", params, n);
	r->who = name;
	return (struct sc_client){.name = name, .raw = r};
}

void sc_close(struct sc_client *c)
{
	if (c->pq)
		PQfinish(c->pq);
	if (c->raw)
		rawpg_close(c->raw);
	c->pq = NULL;
	c->raw = NULL;
}

static void raw_exec(struct rawpg *r, const char *sql, char state[8], char *msg, size_t msgn)
{
	rawpg_query(r, sql);
	rawpg_send(r);
	state[0] = '\0';
	for (;;) {
		struct rawpg_msg m = rawpg_next(r, RAWPG_TIMEOUT_MS);
		if (m.type == 'E' && !state[0]) {
			snprintf(state, 8, "%s", r->sqlstate[0] ? r->sqlstate : "?????");
			if (msg)
				snprintf(msg, msgn, "%s", r->error);
		}
		if (m.type == 'Z')
			break;
	}
}

void sc_exec(struct sc_client *c, const char *sql, char state[8], char *msg, size_t msgn)
{
	if (msg && msgn)
		msg[0] = '\0';
	if (c->raw) {
		raw_exec(c->raw, sql, state, msg, msgn);
		return;
	}
	PGresult *r = PQexec(c->pq, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
		state[0] = '\0';
	} else {
		const char *s = it_sqlstate(r);
		snprintf(state, 8, "%s", s[0] ? s : "?????");
		if (msg)
			snprintf(msg, msgn, "%s",
			         r ? PQresultErrorMessage(r) : PQerrorMessage(c->pq));
	}
	PQclear(r);
	cr_assert_eq(PQstatus(c->pq), CONNECTION_OK, "%s: connection lost running `%s`: %s",
	             c->name, sql, PQerrorMessage(c->pq));
}

void sc_exec_ok(struct sc_client *c, const char *sql)
{
	char state[8], msg[512];
	sc_exec(c, sql, state, msg, sizeof msg);
	cr_assert_str_empty(state, "%s: `%s`: %s %s", c->name, sql, state, msg);
}

void sc_exec_both(struct sc_client *c, struct sc_client *ref, const char *sql)
{
	char s1[8], s2[8], m1[512], m2[512];
	sc_exec(c, sql, s1, m1, sizeof m1);
	if (!ref) {
		cr_expect_str_empty(s1, "%s: `%s`: %s %s", c->name, sql, s1, m1);
		return;
	}
	sc_exec(ref, sql, s2, m2, sizeof m2);
	cr_expect_str_eq(s1, s2, "%s: `%s` gave [%s] %s; a direct connection (%s) gave [%s] %s",
	                 c->name, sql, s1, m1, ref->name, s2, m2);
}

void sc_snap_parse(const char *who, const char *row, struct sc_snap *s)
{
	memset(s, 0, sizeof *s);
	const char *p = row;
	for (int i = 0; i <= SC_NCOLS; i++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (i == SC_NCOLS) {
			cr_assert(!bar && len > 0, "%s: snapshot `%s` has too many fields", who,
			          row);
			s->pid = atoll(p);
			break;
		}
		cr_assert(bar, "%s: snapshot `%s` has too few fields", who, row);
		cr_assert(len < sizeof s->v[i], "%s: snapshot field %s too long in `%s`", who,
		          col_names[i], row);
		memcpy(s->v[i], p, len);
		s->v[i][len] = '\0';
		p = bar + 1;
	}
	cr_assert_gt(s->pid, 0, "%s: no backend pid in snapshot `%s`", who, row);
}

void sc_snap(struct sc_client *c, struct sc_snap *s)
{
	sc_snap_with(c, "", s);
}

void sc_snap_with(struct sc_client *c, const char *prefix, struct sc_snap *s)
{
	char sql[2048];
	cr_assert(snprintf(sql, sizeof sql, "%s%s", prefix, sc_snap_sql) < (int)sizeof sql);
	char *row;
	if (c->raw) {
		row = rawpg_query_value(c->raw, sql);
	} else {
		PGresult *r = PQexec(c->pq, sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			char msg[600];
			snprintf(msg, sizeof msg, "%s %s", it_sqlstate(r),
			         r ? PQresultErrorMessage(r) : PQerrorMessage(c->pq));
			PQclear(r);
			cr_assert_fail("%s: the session snapshot query failed: %s", c->name, msg);
		}
		row = strdup(PQgetvalue(r, 0, 0));
		PQclear(r);
		cr_assert(row);
	}
	sc_snap_parse(c->name, row, s);
	free(row);
	c->pid = s->pid;
}

static bool placeholder(int col)
{
	return col == SC_TENANT || col == SC_MYAPP_X;
}

void sc_expect_same(const char *who, const struct sc_snap *got, const struct sc_snap *want,
                    const char *ctx)
{
	for (int i = 0; i < SC_NCOLS; i++) {
		const char *g = got->v[i], *w = want->v[i];
		/* A placeholder once set and reset on a backend stays defined there with the value
		 * '': nobody can undefine it, and '' is what a client of its own would read after a
		 * RESET; only a value is a leak. */
		if (placeholder(i) && (!strcmp(g, SC_UNDEFINED) || !g[0]) &&
		    (!strcmp(w, SC_UNDEFINED) || !w[0]))
			continue;
		cr_expect_str_eq(g, w, "%s: %s: %s = '%s', want '%s' (backend %lld)", ctx, who,
		                 col_names[i], g, w, got->pid);
	}
}

void sc_expect_col(const char *who, const struct sc_snap *s, enum sc_col col, const char *want,
                   const char *ctx)
{
	cr_expect_str_eq(s->v[col], want, "%s: %s: %s = '%s', want '%s' (backend %lld)", ctx, who,
	                 col_names[col], s->v[col], want, s->pid);
}

static const char *const status_names[SC_NSTATUS] = {"TimeZone",
                                                     "client_encoding",
                                                     "DateStyle",
                                                     "IntervalStyle",
                                                     "session_authorization",
                                                     "is_superuser",
                                                     "standard_conforming_strings"};

static const char *status_of(const struct sc_client *c, const char *name)
{
	const char *v = c->pq ? PQparameterStatus(c->pq, name) : rawpg_param(c->raw, name);
	return v ? v : "";
}

static void status_expect(const struct sc_client *c, int k, const char *want, const char *ctx)
{
	const char *got = status_of(c, status_names[k]);
	size_t gl = strlen(got);
	bool ok = strcmp(got, want) == 0 || (strcmp(status_names[k], "DateStyle") == 0 && gl > 0 &&
	                                     strncmp(got, want, gl) == 0 && want[gl] == ',');
	cr_expect(ok, "%s: %s: ParameterStatus %s = '%s', want '%s'", ctx, c->name, status_names[k],
	          got, want);
}

void sc_expect_status(const struct sc_client *c, const struct sc_client *ref, const char *ctx)
{
	for (int k = 0; k < SC_NSTATUS; k++)
		status_expect(c, k, status_of(ref, status_names[k]), ctx);
}

void sc_expect_status_defaults(const struct sc_env *e, const struct sc_client *c, const char *ctx)
{
	for (int k = 0; k < SC_NSTATUS; k++)
		status_expect(c, k, e->status[k], ctx);
}

/* ---- steering ---- */

void sc_env_init(struct sc_env *e, const char *mode, const char *user, const char *password)
{
	memset(e, 0, sizeof *e);
	e->held = -1;
	e->txn = strcmp(mode, "transaction") == 0;
	struct sc_client d = sc_connect_direct("fresh direct connection", user, password, NULL);
	sc_snap(&d, &e->defaults);
	for (int k = 0; k < SC_NSTATUS; k++)
		snprintf(e->status[k], sizeof e->status[k], "%s", status_of(&d, status_names[k]));
	sc_close(&d);
	if (!e->txn)
		return;
	for (int i = 0; i < 2; i++) {
		e->hold[i] = it_connect_app(user, password, "postgres", "it_sess_holder");
		PQsetNoticeProcessor(e->hold[i], quiet, NULL);
	}
	/* Open both servers of the pool now. */
	it_exec_ok(e->hold[0], "BEGIN");
	it_exec_ok(e->hold[1], "BEGIN");
	long long p0 = it_query_ll(e->hold[0], "SELECT pg_backend_pid()");
	long long p1 = it_query_ll(e->hold[1], "SELECT pg_backend_pid()");
	it_exec_ok(e->hold[0], "COMMIT");
	it_exec_ok(e->hold[1], "COMMIT");
	cr_assert_neq(p0, p1, "two open transactions share backend %lld", p0);
}

void sc_env_fini(struct sc_env *e)
{
	sc_release(e);
	for (int i = 0; i < 2; i++) {
		if (e->hold[i])
			PQfinish(e->hold[i]);
		e->hold[i] = NULL;
	}
}

static long long hold_begin(struct sc_env *e, int i)
{
	it_exec_ok(e->hold[i], "BEGIN");
	return it_query_ll(e->hold[i], "SELECT pg_backend_pid()");
}

void sc_hold_on(struct sc_env *e, long long pid)
{
	if (!e->txn || pid == 0)
		return;
	cr_assert_eq(e->held, -1, "sc_hold_on: a holder is already in a transaction");
	long long p0 = hold_begin(e, 0);
	if (p0 == pid) {
		e->held = 0;
		return;
	}
	long long p1 = hold_begin(e, 1);
	it_exec_ok(e->hold[0], "COMMIT");
	if (p1 == pid) {
		e->held = 1;
		return;
	}
	it_exec_ok(e->hold[1], "COMMIT");
	cr_log_warn("backend %lld is gone (the holders got %lld and %lld)", pid, p0, p1);
}

void sc_hold_off(struct sc_env *e, long long pid)
{
	if (!e->txn)
		return;
	cr_assert_eq(e->held, -1, "sc_hold_off: a holder is already in a transaction");
	long long p0 = hold_begin(e, 0);
	if (p0 != pid) {
		e->held = 0;
		return;
	}
	hold_begin(e, 1);
	it_exec_ok(e->hold[0], "COMMIT");
	e->held = 1;
}

void sc_release(struct sc_env *e)
{
	if (e->held < 0)
		return;
	it_exec_ok(e->hold[e->held], "COMMIT");
	e->held = -1;
}

static bool backend_exists(long long pid)
{
	PGconn *a = it_connect_admin();
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pid);
	long long n = it_query_ll(a, sql);
	PQfinish(a);
	return n > 0;
}

void sc_snap_next(struct sc_env *e, struct sc_client *c, bool block, struct sc_snap *s,
                  const char *ctx)
{
	long long last = c->pid;
	sc_hold_on(e, last);
	if (block)
		sc_exec_ok(c, "BEGIN");
	sc_snap(c, s);
	if (block)
		sc_exec_ok(c, "COMMIT");
	sc_release(e);
	if (!last)
		return;
	if (e->txn)
		cr_expect_neq(s->pid, last,
		              "%s: %s: the next transaction ran on backend %lld again, though it "
		              "was busy with another client",
		              ctx, c->name, last);
	else
		cr_expect_eq(s->pid, last, "%s: %s moved from backend %lld to %lld in session mode",
		             ctx, c->name, last, s->pid);
}

void sc_snap_on(struct sc_env *e, struct sc_client *c, long long pid, struct sc_snap *s,
                const char *ctx)
{
	sc_hold_off(e, pid);
	sc_snap(c, s);
	sc_release(e);
	if (!e->txn) {
		cr_expect_neq(s->pid, pid, "%s: %s shares backend %lld in session mode", ctx,
		              c->name, pid);
		return;
	}
	if (s->pid != pid && !backend_exists(pid)) {
		cr_log_warn("%s: backend %lld is gone; %s ran on %lld", ctx, pid, c->name, s->pid);
		return;
	}
	cr_expect_eq(s->pid, pid, "%s: %s was steered onto backend %lld but ran on %lld", ctx,
	             c->name, pid, s->pid);
}

void sc_steps(struct sc_env *e, struct sc_client *c, struct sc_client *ref, const char *const *sqls,
              size_t n)
{
	sc_hold_on(e, c->pid);
	for (size_t i = 0; i < n; i++)
		sc_exec_both(c, ref, sqls[i]);
	sc_release(e);
}

void sc_check(struct sc_env *e, struct sc_client *c, struct sc_client *ref, struct sc_client *by,
              struct sc_snap *out, const char *ctx)
{
	struct sc_snap want, s, b;
	sc_snap(ref, &want);
	for (int round = 0; round < 2; round++) {
		char what[512];
		snprintf(what, sizeof what, "%s (transaction %d)", ctx, round + 1);
		sc_snap_next(e, c, round % 2 == 1, &s, what);
		sc_expect_same(c->name, &s, &want, what);
		sc_expect_status(c, ref, what);
		if (by) {
			sc_snap_on(e, by, c->pid, &b, what);
			sc_expect_same(by->name, &b, &e->defaults, what);
			sc_expect_status_defaults(e, by, what);
		}
	}
	if (out)
		*out = s;
}

void sc_change(struct sc_env *e, struct sc_client *c, struct sc_client *ref, struct sc_client *by,
               const char *const *sqls, size_t n, struct sc_snap *out)
{
	sc_steps(e, c, ref, sqls, n);
	char ctx[1024];
	size_t len = (size_t)snprintf(ctx, sizeof ctx, "after");
	for (size_t i = 0; i < n && len < sizeof ctx; i++)
		len += (size_t)snprintf(ctx + len, sizeof ctx - len, " `%s`", sqls[i]);
	sc_check(e, c, ref, by, out, ctx);
}

void sc_change1(struct sc_env *e, struct sc_client *c, struct sc_client *ref, struct sc_client *by,
                const char *sql, struct sc_snap *out)
{
	const char *sqls[1] = {sql};
	sc_change(e, c, ref, by, sqls, 1, out);
}

void sc_leave_check(struct sc_env *e, struct sc_client *c, const char *user, const char *password,
                    const char *ctx)
{
	long long pid = c->pid;
	cr_assert_gt(pid, 0, "sc_leave_check: %s has no known backend", c->name);
	char what[512];
	snprintf(what, sizeof what, "%s, after %s left", ctx, c->name);
	sc_close(c);
	struct sc_client n = sc_connect("the next client", user, password, NULL);
	struct sc_snap s;
	if (e->txn) {
		sc_snap_on(e, &n, pid, &s, what);
		sc_expect_same(n.name, &s, &e->defaults, what);
		sc_hold_on(e, pid);
		sc_snap(&n, &s);
		sc_release(e);
		sc_expect_same(n.name, &s, &e->defaults, what);
	} else {
		sc_snap(&n, &s);
		if (s.pid != pid && !backend_exists(pid))
			cr_log_warn("%s: backend %lld is gone; the next client got %lld", what, pid,
			            s.pid);
		else
			cr_expect_eq(
			        s.pid, pid,
			        "%s: the next client got backend %lld, not the one left (%lld)",
			        what, s.pid, pid);
		sc_expect_same(n.name, &s, &e->defaults, what);
	}
	sc_expect_status_defaults(e, &n, what);
	sc_close(&n);
}
