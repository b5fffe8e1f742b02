/* tests/integration/test_startup.c — start-up parameters as a client's first settings (issue
 * 14), in transaction mode and in session mode: DateStyle=ISO sent at login (as pgjdbc does) on
 * servers another client left at 'German, DMY', with the ParameterStatus it is sent; libpq
 * `options` (-c name=value, --name=value, -cname=value, escaped commas and spaces) in effect in
 * every transaction and what RESET / RESET ALL / DISCARD ALL return to; any GUC as a startup
 * parameter (node-pg's statement_timeout, asyncpg's server_settings, pgjdbc's set); a
 * placeholder with a dot; an unknown parameter refused at login with FATAL 42704 as PostgreSQL
 * does (raw startup and options -c), or ignored when listed in
 * pool.ignore_startup_parameters.
 *
 * Expected values come from a direct connection made with the same startup parameters. With a
 * pool of 2 in transaction mode, holder clients (sesscheck.h) send the client's consecutive
 * transactions to different servers and a bystander without settings onto the server the
 * client has just used; in session mode the next client on the server a client left must find
 * the defaults. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/integration/sesscheck.h"
#include "tests/integration/wire.h"

TestSuite(startup, .fini = it_pglane_fini, .timeout = 90);

/* One case run in transaction mode (test `name`) and in session mode (`name`_session_mode). */
#define STARTUP_CASE(name)                                                                         \
	static void name(const char *mode);                                                        \
	IT_TEST(startup, name)                                                                     \
	{                                                                                          \
		name("transaction");                                                               \
	}                                                                                          \
	IT_TEST(startup, name##_session_mode)                                                      \
	{                                                                                          \
		name("session");                                                                   \
	}

#define NPAIRS(a) (sizeof(a) / sizeof((a)[0]) / 2)

/* ---- DateStyle at startup ---- */

STARTUP_CASE(datestyle_startup_over_german)
static void datestyle_startup_over_german(const char *mode)
{
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct sc_client x = sc_connect("X (SET DateStyle German)", "postgres", NULL, NULL);
	struct sc_client b = sc_connect("bystander B", "postgres", NULL, NULL);
	struct sc_snap s, want;

	/* X leaves 'German, DMY' on both servers (in transaction mode). */
	const char *german[1] = {"SET DateStyle = 'German, DMY'"};
	sc_steps(&e, &x, NULL, german, 1);
	for (int i = 0; i < 2; i++) {
		sc_snap_next(&e, &x, false, &s, "X after SET DateStyle");
		sc_expect_col(x.name, &s, SC_DATESTYLE, "German, DMY", "X after SET DateStyle");
		sc_expect_col(x.name, &s, SC_DATE, "03.05.2024", "X after SET DateStyle");
	}
	long long xpid = x.pid;

	const char *ds[] = {"DateStyle", "ISO"};
	struct sc_client rd = sc_connect_raw("direct raw twin (DateStyle=ISO)", true, ds, 1);
	sc_snap(&rd, &want);
	const char *dps = rawpg_param(rd.raw, "DateStyle");
	cr_assert(dps, "PostgreSQL sent no ParameterStatus DateStyle");
	sc_expect_col(rd.name, &want, SC_DATESTYLE, "ISO, MDY", "calibration");
	if (!e.txn)
		sc_close(&x); /* B keeps the other server: R gets the one X leaves */

	struct sc_client r = sc_connect_raw("R (DateStyle=ISO at startup)", false, ds, 1);
	const char *ps = rawpg_param(r.raw, "DateStyle");
	cr_expect(ps && strncmp(ps, "ISO", 3) == 0 && (ps[3] == '\0' || strcmp(ps, dps) == 0),
	          "R was sent ParameterStatus DateStyle = %s; a direct connection is sent %s",
	          ps ? ps : "(none)", dps);
	if (e.txn) {
		sc_snap_on(&e, &r, xpid, &s, "R on X's server");
		sc_expect_same(r.name, &s, &want, "R on X's server");
		sc_snap_next(&e, &r, false, &s, "R on the other server");
		sc_expect_same(r.name, &s, &want, "R on the other server");
		struct sc_snap xs;
		sc_snap_next(&e, &x, false, &xs, "X after R");
		sc_expect_col(x.name, &xs, SC_DATESTYLE, "German, DMY", "X after R");
	} else {
		sc_snap(&r, &s);
		cr_expect_eq(s.pid, xpid, "R got backend %lld, not the one X left (%lld)", s.pid,
		             xpid);
		sc_expect_same(r.name, &s, &want, "R on the server X left");
	}
	sc_expect_col(r.name, &s, SC_DATESTYLE, "ISO, MDY", "R");
	sc_expect_col(r.name, &s, SC_DATE, "2024-03-05", "R");

	sc_change1(&e, &r, &rd, &b, "SET DateStyle = 'SQL, DMY'", &s);
	sc_change1(&e, &r, &rd, &b, "RESET DateStyle", &s);
	sc_expect_col(r.name, &s, SC_DATESTYLE, "ISO, MDY", "after RESET DateStyle");
	sc_change1(&e, &r, &rd, &b, "SET DateStyle = 'Postgres'", &s);
	sc_change1(&e, &r, &rd, &b, "RESET ALL", &s);
	sc_expect_col(r.name, &s, SC_DATESTYLE, "ISO, MDY", "after RESET ALL");
	sc_close(&rd);
	sc_close(&x);
	sc_leave_check(&e, &r, "postgres", NULL, "DateStyle=ISO at startup");
	sc_close(&b);
	sc_env_fini(&e);
}

/* ---- libpq options ---- */

STARTUP_CASE(options_in_every_transaction)
static void options_in_every_transaction(const char *mode)
{
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	const char *opt = "options='-c search_path=" SC_SCHEMA_A " -c work_mem=5MB'";
	struct sc_client a = sc_connect("A (options)", "postgres", NULL, opt);
	struct sc_client d = sc_connect_direct("A's direct twin", "postgres", NULL, opt);
	struct sc_client b = sc_connect("bystander B", "postgres", NULL, NULL);
	struct sc_snap s;

	sc_check(&e, &a, &d, &b, &s, "at login");
	for (int i = 0; i < 10; i++) {
		char ctx[64];
		snprintf(ctx, sizeof ctx, "A's transaction %d", i + 1);
		sc_snap_next(&e, &a, i % 2 == 1, &s, ctx);
		sc_expect_col(a.name, &s, SC_SEARCH_PATH, SC_SCHEMA_A, ctx);
		sc_expect_col(a.name, &s, SC_CURRENT_SCHEMA, SC_SCHEMA_A, ctx);
		sc_expect_col(a.name, &s, SC_WORK_MEM, "5MB", ctx);
	}
	sc_change1(&e, &a, &d, &b, "RESET work_mem", &s);
	sc_expect_col(a.name, &s, SC_WORK_MEM, "5MB", "after RESET work_mem");
	sc_change1(&e, &a, &d, &b, "SET work_mem = '9MB'", &s);
	sc_expect_col(a.name, &s, SC_WORK_MEM, "9MB", "after SET work_mem");
	sc_change1(&e, &a, &d, &b, "RESET ALL", &s);
	sc_expect_col(a.name, &s, SC_WORK_MEM, "5MB", "after RESET ALL");
	sc_expect_col(a.name, &s, SC_SEARCH_PATH, SC_SCHEMA_A, "after RESET ALL");
	static const char *const sp[] = {"SET search_path = public", "RESET search_path"};
	sc_change(&e, &a, &d, &b, sp, 2, &s);
	sc_expect_col(a.name, &s, SC_SEARCH_PATH, SC_SCHEMA_A, "after RESET search_path");
	static const char *const discard[] = {"SET work_mem = '9MB'", "DISCARD ALL"};
	sc_change(&e, &a, &d, &b, discard, 2, &s);
	sc_expect_col(a.name, &s, SC_WORK_MEM, "5MB", "after DISCARD ALL");
	sc_close(&d);
	sc_leave_check(&e, &a, "postgres", NULL, "options");
	sc_close(&b);
	sc_env_fini(&e);
	sc_fixtures_drop();
}

struct opt_form {
	const char *conninfo; /* the options entry */
	enum sc_col col[3];
	const char *want[3]; /* NULL ends */
};

STARTUP_CASE(options_forms)
static void options_forms(const char *mode)
{
	/* In conninfo quotes `\\` is one backslash: options `-c search_path=it_sess_a\,\ public`
	 * as PGOPTIONS would carry it. */
	static const struct opt_form forms[] = {
	        {"options='--work_mem=5MB --lock_timeout=2500ms'",
	         {SC_WORK_MEM, SC_LOCK_TIMEOUT},
	         {"5MB", "2500ms", NULL}},
	        {"options='-c search_path=" SC_SCHEMA_A "\\\\,\\\\ public -c work_mem=5MB'",
	         {SC_SEARCH_PATH, SC_WORK_MEM},
	         {SC_SCHEMA_A ", public", "5MB", NULL}},
	        {"options='-cwork_mem=5MB -c myapp.tenant=7 -c TimeZone=Asia/Tokyo"
	         " -c DateStyle=German'",
	         {SC_TENANT, SC_TIMEZONE, SC_DATESTYLE},
	         {"7", "Asia/Tokyo", "German, DMY"}},
	};
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct sc_client b = sc_connect("bystander B", "postgres", NULL, NULL);
	for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
		const struct opt_form *o = &forms[f];
		struct sc_client a = sc_connect(o->conninfo, "postgres", NULL, o->conninfo);
		struct sc_client d =
		        sc_connect_direct("direct twin", "postgres", NULL, o->conninfo);
		struct sc_snap s;
		for (int round = 0; round < 2; round++) {
			if (round == 0)
				sc_check(&e, &a, &d, &b, &s, o->conninfo);
			else
				sc_change1(&e, &a, &d, &b, "RESET ALL", &s);
			for (int k = 0; k < 3 && o->want[k]; k++)
				sc_expect_col(a.name, &s, o->col[k], o->want[k],
				              round ? "after RESET ALL" : "at login");
		}
		sc_close(&d);
		sc_leave_check(&e, &a, "postgres", NULL, o->conninfo);
	}
	sc_close(&b);
	sc_env_fini(&e);
	sc_fixtures_drop();
}

/* ---- any GUC as a startup parameter ---- */

struct raw_form {
	const char *name;
	const char *params[8]; /* name, value pairs */
	size_t n;
	enum sc_col col[3];
	const char *want[3];
};

STARTUP_CASE(startup_gucs_raw)
static void startup_gucs_raw(const char *mode)
{
	static const struct raw_form forms[] = {
	        {"node-pg/asyncpg style",
	         {"statement_timeout", "1500", "search_path", SC_SCHEMA_B, "lock_timeout", "2500"},
	         3,
	         {SC_STATEMENT_TIMEOUT, SC_SEARCH_PATH, SC_LOCK_TIMEOUT},
	         {"1500ms", SC_SCHEMA_B, "2500ms"}},
	        {"pgjdbc style",
	         {"DateStyle", "ISO", "client_encoding", "UTF8", "extra_float_digits", "2",
	          "TimeZone", "Europe/Paris"},
	         4,
	         {SC_EXTRA_FLOAT_DIGITS, SC_TIMEZONE, SC_DATESTYLE},
	         {"2", "Europe/Paris", "ISO, MDY"}},
	};
	sc_fixtures();
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct sc_client b = sc_connect("bystander B", "postgres", NULL, NULL);
	for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
		const struct raw_form *o = &forms[f];
		const char **params = (const char **)o->params;
		struct sc_client r = sc_connect_raw(o->name, false, params, o->n);
		struct sc_client d = sc_connect_raw("direct raw twin", true, params, o->n);
		struct sc_snap s;
		sc_check(&e, &r, &d, &b, &s, o->name);
		for (int k = 0; k < 3; k++)
			sc_expect_col(r.name, &s, o->col[k], o->want[k], "at login");
		const char *first = o->params[0];
		char sql[128];
		snprintf(sql, sizeof sql, "RESET %s", first);
		sc_change1(&e, &r, &d, &b, sql, &s);
		sc_expect_col(r.name, &s, o->col[0], o->want[0], sql);
		snprintf(sql, sizeof sql, "SET %s = DEFAULT", o->params[2]);
		sc_change1(&e, &r, &d, &b, sql, &s);
		static const char *const set[] = {"SET statement_timeout = '3s'",
		                                  "SET extra_float_digits = 0",
		                                  "SET TIME ZONE 'Asia/Kolkata'"};
		sc_change(&e, &r, &d, &b, set, 3, &s);
		sc_change1(&e, &r, &d, &b, "RESET ALL", &s);
		for (int k = 0; k < 3; k++)
			sc_expect_col(r.name, &s, o->col[k], o->want[k], "after RESET ALL");
		sc_close(&d);
		sc_leave_check(&e, &r, "postgres", NULL, o->name);
	}
	sc_close(&b);
	sc_env_fini(&e);
	sc_fixtures_drop();
}

STARTUP_CASE(startup_placeholder_accepted)
static void startup_placeholder_accepted(const char *mode)
{
	sc_start(mode, NULL);
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct sc_client b = sc_connect("bystander B", "postgres", NULL, NULL);
	const char *params[] = {"myapp.x", "1"};
	struct sc_client r = sc_connect_raw("R (myapp.x=1)", false, params, 1);
	struct sc_client d = sc_connect_raw("direct raw twin", true, params, 1);
	struct sc_snap s;
	sc_check(&e, &r, &d, &b, &s, "at login");
	sc_expect_col(r.name, &s, SC_MYAPP_X, "1", "at login");
	sc_change1(&e, &r, &d, &b, "SET myapp.x = '2'", &s);
	sc_expect_col(r.name, &s, SC_MYAPP_X, "2", "after SET");
	sc_change1(&e, &r, &d, &b, "RESET myapp.x", &s);
	sc_expect_col(r.name, &s, SC_MYAPP_X, "1", "after RESET");
	sc_close(&d);
	sc_leave_check(&e, &r, "postgres", NULL, "myapp.x=1 at startup");
	sc_close(&b);
	sc_env_fini(&e);
}

/* ---- unknown startup parameters ---- */

/* What a login with one extra startup parameter got: the first ErrorResponse's fields. */
struct refusal {
	char severity[16], sqlstate[8], msg[256];
	bool error, ready, closed;
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void error_fields(const uint8_t *body, size_t len, struct refusal *out)
{
	size_t i = 0;
	while (i < len && body[i]) {
		char code = (char)body[i++];
		const char *v = (const char *)body + i;
		size_t vl = strnlen(v, len - i);
		if (code == 'V' || (code == 'S' && !out->severity[0]))
			snprintf(out->severity, sizeof out->severity, "%.*s", (int)vl, v);
		else if (code == 'C')
			snprintf(out->sqlstate, sizeof out->sqlstate, "%.*s", (int)vl, v);
		else if (code == 'M')
			snprintf(out->msg, sizeof out->msg, "%.*s", (int)vl, v);
		i += vl + 1;
	}
}

/* The messages of `r` so far: the first ErrorResponse's fields, and whether a ReadyForQuery
 * came. */
static void parse_reply(const struct wire_reply *r, struct refusal *out)
{
	memset(out, 0, sizeof *out);
	for (size_t off = 0; off + 5 <= r->len;) {
		char type = (char)r->data[off];
		uint32_t len = be32(r->data + off + 1);
		if (len < 4 || off + 1 + len > r->len)
			break;
		if (type == 'E' && !out->error) {
			out->error = true;
			error_fields(r->data + off + 5, len - 4, out);
		}
		if (type == 'Z')
			out->ready = true;
		off += 1 + len;
	}
}

static struct refusal login_with(int port, const char *name, const char *value)
{
	const char *const kv[] = {"user", "postgres", "database", "postgres", name, value};
	uint8_t pkt[512];
	size_t n = wire_startup(pkt, sizeof pkt, kv, NPAIRS(kv));
	cr_assert_gt(n, 0);
	int fd = it_tcp_connect(port);
	cr_assert(wire_send(fd, pkt, n), "sending the startup packet to port %d failed", port);
	/* Until the close, a ReadyForQuery, or 5 s. */
	static struct wire_reply r;
	memset(&r, 0, sizeof r);
	struct refusal out = {0};
	int64_t deadline = it_now_ms() + 5000;
	while (!r.closed && !out.ready && r.len < sizeof r.data && it_now_ms() < deadline) {
		wire_read_some(fd, r.len + 1, (int)(deadline - it_now_ms()), &r);
		parse_reply(&r, &out);
	}
	out.closed = r.closed;
	close(fd);
	return out;
}

/* A login with `name`=1 must be refused through pglane exactly as PostgreSQL refuses it. */
static void expect_refused(const char *name)
{
	struct refusal want = login_with(it_pgport(), name, "1");
	cr_assert(want.error && !want.ready, "calibration: PostgreSQL accepted %s", name);
	struct refusal got = login_with(it_pglane_current()->port, name, "1");
	char msg[128];
	snprintf(msg, sizeof msg, "unrecognized configuration parameter \"%s\"", name);
	cr_expect(got.error && !got.ready,
	          "startup parameter %s=1: no ErrorResponse before ReadyForQuery (error %d, "
	          "ready %d, closed %d)",
	          name, got.error, got.ready, got.closed);
	cr_expect(got.closed, "startup parameter %s=1: pglane did not close the connection", name);
	cr_expect_str_eq(got.severity, "FATAL", "startup parameter %s=1: severity %s", name,
	                 got.severity);
	cr_expect_str_eq(got.sqlstate, "42704", "startup parameter %s=1: SQLSTATE %s (%s)", name,
	                 got.sqlstate, got.msg);
	cr_expect_str_eq(got.msg, msg, "startup parameter %s=1: message '%s'", name, got.msg);
	cr_expect(!strcmp(got.severity, want.severity) && !strcmp(got.sqlstate, want.sqlstate) &&
	                  !strcmp(got.msg, want.msg),
	          "startup parameter %s=1: pglane says %s %s '%s', PostgreSQL says %s %s '%s'",
	          name, got.severity, got.sqlstate, got.msg, want.severity, want.sqlstate,
	          want.msg);
}

/* The "FATAL: ..." line of a libpq login error (static storage). */
static const char *fatal_line(const char *err)
{
	static char line[2][512];
	static int k;
	k ^= 1;
	const char *f = strstr(err, "FATAL");
	snprintf(line[k], sizeof line[k], "%s", f ? f : err);
	char *nl = strchr(line[k], '\n');
	if (nl)
		*nl = '\0';
	return line[k];
}

/* Both servers still serve two clients at once: nothing was left taken by the refusals. */
static void expect_pool_free(void)
{
	struct sc_client c[2];
	for (int i = 0; i < 2; i++) {
		c[i] = sc_connect("client after the refusals", "postgres", NULL, NULL);
		cr_assert(PQsendQuery(c[i].pq, "BEGIN; SELECT pg_sleep(0.2); COMMIT"));
	}
	for (int i = 0; i < 2; i++) {
		bool timed_out = false;
		PGresult *r = it_result_wait(c[i].pq, 5000, &timed_out);
		cr_expect(!timed_out && r && PQresultStatus(r) == PGRES_COMMAND_OK,
		          "client %d after the refusals: %s", i,
		          timed_out ? "no result in 5 s (a server is still taken)"
		                    : PQerrorMessage(c[i].pq));
		PQclear(r);
		sc_close(&c[i]);
	}
}

STARTUP_CASE(unknown_startup_parameter_refused)
static void unknown_startup_parameter_refused(const char *mode)
{
	sc_start(mode, NULL);
	expect_refused("nosuch_param");
	expect_refused("nosuch_other");

	/* The same name in options -c. */
	const char *opt = "options='-c nosuch_param=1'";
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pgport(), "postgres", NULL, "postgres", opt);
	PGconn *d = it_connect_try(ci);
	cr_assert_neq(PQstatus(d), CONNECTION_OK, "calibration: PostgreSQL accepted %s", opt);
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            opt);
	PGconn *c = it_connect_try(ci);
	cr_expect_neq(PQstatus(c), CONNECTION_OK, "pglane accepted %s", opt);
	const char *got = fatal_line(it_conn_error(c)), *want = fatal_line(it_conn_error(d));
	cr_expect(strcmp(got, want) == 0, "%s through pglane: %s; PostgreSQL: %s", opt, got, want);
	PQfinish(c);
	PQfinish(d);
	expect_pool_free();
}

STARTUP_CASE(unknown_startup_parameter_ignored)
static void unknown_startup_parameter_ignored(const char *mode)
{
	sc_start(mode, "ignore_startup_parameters = [ \"nosuch_param\" ];");
	struct sc_env e;
	sc_env_init(&e, mode, "postgres", NULL);
	struct sc_client b = sc_connect("bystander B", "postgres", NULL, NULL);
	const char *with[] = {"nosuch_param", "1", "work_mem", "5MB"};
	const char *without[] = {"work_mem", "5MB"};
	char err[512];
	struct rawpg *raw = rawpg_connect_try(it_pglane_current()->port, "postgres", "postgres",
	                                      with, 2, err, sizeof err);
	cr_assert(raw, "login with nosuch_param=1 (listed in ignore_startup_parameters): %s", err);
	raw->who = "R (nosuch_param=1 ignored, work_mem=5MB)";
	struct sc_client r = {.name = raw->who, .raw = raw};
	struct sc_client d = sc_connect_raw("direct raw twin (work_mem=5MB)", true, without, 1);
	struct sc_snap s;
	sc_check(&e, &r, &d, &b, &s, "at login");
	sc_expect_col(r.name, &s, SC_WORK_MEM, "5MB", "at login");
	sc_change1(&e, &r, &d, &b, "RESET ALL", &s);
	sc_expect_col(r.name, &s, SC_WORK_MEM, "5MB", "after RESET ALL");
	sc_close(&d);
	sc_leave_check(&e, &r, "postgres", NULL, "nosuch_param ignored");
	sc_close(&b);
	sc_env_fini(&e);
	/* Only the listed name is ignored. */
	expect_refused("nosuch_other");
}
