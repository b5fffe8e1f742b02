/* tests/integration/test_authq.c — auth_query: users missing from pglane's auth file are looked
 * up in PostgreSQL (auth.auth_user / auth_query / auth_dbname, per database too). The fixture
 * roles scram_user (SCRAM secret), md5_user (md5 secret) and clear_user are never in the auth
 * file here: they log in under auth.type scram-sha-256 and md5 with the secret PostgreSQL
 * returns, and pglane logs in to PostgreSQL as them (SCRAM pass-through for the SCRAM secret).
 * A SECURITY DEFINER function as auth_query, an unknown user, a wrong password, an auth
 * database that is down or missing, a look-up that times out, a password changed between two
 * logins, and a storm of 200 logins of one unknown user: the look-ups are counted and timed on
 * the server side (a function that sleeps 0.3 s and records its start and end). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/prom.h"
#include "tests/integration/serve.h"
#include "tests/integration/tlscerts.h"

TestSuite(authq, .fini = it_pglane_fini, .timeout = 90);

/* Nobody the tests log in as is in this file: it exists because auth.type md5 and
 * scram-sha-256 need one. */
#define USERS "\"someone_else\" \"x\"\n"

#define SLOW_FN "public.authq_slow_lookup"

/* auth_user postgres (trusted by the server), `auth_extra` in the auth group; `databases` a
 * databases list (NULL: IT_DATABASES); `top` more settings (may be NULL). */
static void start_top(const char *type, const char *auth_extra, const char *databases,
                      const char *top)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"%s\"; file = \"users.txt\"; auth_user = \"postgres\"; %s };\n"
	         "pool = { mode = \"transaction\"; size = 2; server_connect_timeout = \"2s\"; };\n"
	         "%s%s",
	         type, auth_extra ? auth_extra : "", databases ? databases : IT_DATABASES,
	         top ? top : "");
	it_pglane_start_with_users(conf, USERS);
}

static void start(const char *type, const char *auth_extra, const char *databases)
{
	start_top(type, auth_extra, databases, NULL);
}

/* The value of a sample of /metrics (-1 when missing). */
static double metric(int http, const char *name, const char *result)
{
	struct prom p;
	adminq_metrics(http, &p);
	const char *kv[2] = {"result", result};
	const struct prom_sample *smp = prom_find(&p, name, kv, result ? 1 : 0);
	double v = smp ? smp->value : -1;
	prom_free(&p);
	return v;
}

static PGconn *try_login(const char *user, const char *password, const char *dbname)
{
	char ci[1024];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, user, password, dbname,
	            NULL);
	return it_connect_try(ci);
}

/* Log in and check who PostgreSQL thinks we are (the query runs on a server connection that
 * pglane opened as that user). */
static void expect_login(const char *user, const char *password, const char *dbname)
{
	PGconn *c = try_login(user, password, dbname);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "%s: %s", user, it_conn_error(c));
	if (PQstatus(c) == CONNECTION_OK) {
		char *who = it_query_str(c, "SELECT current_user");
		cr_expect_str_eq(who, user);
		free(who);
	}
	PQfinish(c);
}

/* The login fails with `sqlstate` and a message holding `text`; returns the time it took. */
static int64_t expect_fatal(const char *user, const char *password, const char *dbname,
                            const char *sqlstate, const char *text)
{
	int64_t t0 = it_now_ms();
	PGconn *c = try_login(user, password, dbname);
	int64_t took = it_now_ms() - t0;
	const char *err = it_conn_error(c);
	cr_expect_neq(PQstatus(c), CONNECTION_OK, "%s got in", user);
	cr_expect(strstr(err, sqlstate), "%s: no SQLSTATE %s in: %s", user, sqlstate, err);
	cr_expect(strstr(err, text), "%s: no \"%s\" in: %s", user, text, err);
	PQfinish(c);
	return took;
}

static void expect_refused(const char *user, const char *password, const char *dbname)
{
	char text[128];
	snprintf(text, sizeof text, "password authentication failed for user \"%s\"", user);
	(void)expect_fatal(user, password, dbname, "28P01", text);
}

static void log_has(const char *what)
{
	char *log = it_pglane_log();
	cr_expect(strstr(log, what), "pglane's log has no \"%s\":\n%s", what, log);
	free(log);
}

/* The slow look-up function (0.3 s, records each call) and its table, emptied. */
static void make_slow_lookup(PGconn *admin)
{
	it_exec_ok(admin, "SET client_min_messages = warning");
	it_exec_ok(admin, "CREATE TABLE IF NOT EXISTS public.authq_calls (name text, started "
	                  "timestamptz, ended timestamptz)");
	it_exec_ok(admin, "TRUNCATE public.authq_calls");
	it_exec_ok(admin,
	           "CREATE OR REPLACE FUNCTION " SLOW_FN "(i_name text, OUT uname text, OUT phash "
	           "text) RETURNS SETOF record LANGUAGE plpgsql SECURITY DEFINER AS $$\n"
	           "DECLARE t0 timestamptz := clock_timestamp();\n"
	           "BEGIN\n"
	           "  PERFORM pg_sleep(0.3);\n"
	           "  INSERT INTO public.authq_calls VALUES (i_name, t0, clock_timestamp());\n"
	           "  RETURN QUERY SELECT usename::text, passwd::text FROM pg_catalog.pg_shadow\n"
	           "    WHERE usename = i_name;\n"
	           "END $$");
}

static long long calls_of(PGconn *admin, const char *name)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM public.authq_calls WHERE name = '%s'",
	         name);
	return it_query_ll(admin, sql);
}

/* Pairs of look-ups of `name` whose runs overlapped in time. */
static long long overlaps_of(PGconn *admin, const char *name)
{
	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM public.authq_calls a JOIN public.authq_calls b"
	         " ON a.ctid < b.ctid AND a.name = b.name"
	         " AND a.started < b.ended AND b.started < a.ended WHERE a.name = '%s'",
	         name);
	return it_query_ll(admin, sql);
}

IT_TEST(authq, scram_auth_type)
{
	start("scram-sha-256", NULL, NULL);
	/* SCRAM secret: the client's proof gives the keys pglane logs in to PostgreSQL with
	 * (scram_user's server-side method is scram-sha-256 and pglane has no password) */
	expect_login("scram_user", "scram_pw", "postgres");
	expect_login("scram_user", "scram_pw", "bench");
	expect_refused("scram_user", "wrong", "postgres");
	/* an md5 secret cannot check a SCRAM exchange: refused, as with that secret in the file */
	expect_refused("md5_user", "md5_pw", "postgres");
	expect_refused("nobody_at_all", "whatever", "postgres");
	log_has("auth_query found no user \"nobody_at_all\"");
}

IT_TEST(authq, md5_auth_type)
{
	start("md5", NULL, NULL);
	expect_login("md5_user", "md5_pw", "postgres");
	/* a SCRAM secret under md5: the exchange is SCRAM, as PostgreSQL does */
	expect_login("scram_user", "scram_pw", "postgres");
	expect_refused("md5_user", "md5_wrong", "postgres");
	expect_refused("scram_user", "scram_wrong", "postgres");
	expect_refused("nobody_at_all", "whatever", "postgres");
}

/* No auth file at all: every user is looked up. */
IT_TEST(authq, without_auth_file)
{
	it_pglane_start("auth = { type = \"scram-sha-256\"; auth_user = \"postgres\"; };\n"
	                "pool = { mode = \"transaction\"; size = 2; };\n" IT_DATABASES);
	expect_login("scram_user", "scram_pw", "postgres");
	expect_refused("scram_user", "wrong", "postgres");
	expect_refused("nobody_at_all", "whatever", "postgres");
}

/* A plain-text password from the query works under both types (clear_user: PostgreSQL asks
 * pglane for the cleartext password). */
IT_TEST(authq, plain_secret)
{
	static const char *const types[] = {"md5", "scram-sha-256"};
	for (int i = 0; i < 2; i++) {
		start(types[i], NULL,
		      "databases = ( { name = \"plain\"; host = \"@PGHOST@\"; port = @PGPORT@; "
		      "dbname = \"postgres\"; auth_query = \"SELECT $1::text, 'clear_pw'::text "
		      "WHERE $1 = 'clear_user'\"; },\n"
		      "  { name = \"*\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n");
		expect_login("clear_user", "clear_pw", "plain");
		expect_refused("clear_user", "nope", "plain");
		/* not returned by this database's query */
		expect_refused("scram_user", "scram_pw", "plain");
		bool alive = false;
		cr_expect_eq(it_pglane_stop(&alive), 0);
		cr_expect(alive);
	}
}

IT_TEST(authq, security_definer_function)
{
	PGconn *admin = it_connect_admin();
	it_exec_ok(admin, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
	                  "'authq_lookup') THEN CREATE ROLE authq_lookup LOGIN; END IF; END $$");
	it_exec_ok(admin, "SET password_encryption = 'scram-sha-256'; ALTER ROLE authq_lookup "
	                  "PASSWORD 'lookup_pw'");
	it_exec_ok(admin,
	           "CREATE OR REPLACE FUNCTION public.user_lookup(in i_username text, out uname "
	           "text, out phash text) RETURNS record AS $$\n"
	           "BEGIN\n"
	           "  SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = i_username\n"
	           "  INTO uname, phash;\n"
	           "  RETURN;\n"
	           "END $$ LANGUAGE plpgsql SECURITY DEFINER");
	it_exec_ok(admin, "REVOKE ALL ON FUNCTION public.user_lookup(text) FROM public");
	it_exec_ok(admin, "GRANT EXECUTE ON FUNCTION public.user_lookup(text) TO authq_lookup");
	PQfinish(admin);
	/* authq_lookup cannot read pg_shadow itself: only the function can */
	PGconn *lk = it_connect_direct("authq_lookup", "lookup_pw", "postgres");
	char msg[256];
	cr_expect_str_eq(it_exec_error(lk, "SELECT passwd FROM pg_shadow", msg, sizeof msg),
	                 "42501");
	PQfinish(lk);
	/* auth_user's password from the auth file (the server asks it for SCRAM) */
	it_pglane_start_with_users(
	        "auth = { type = \"scram-sha-256\"; file = \"users.txt\"; auth_user = "
	        "\"authq_lookup\"; auth_query = \"SELECT uname, phash FROM "
	        "public.user_lookup($1)\"; "
	        "};\n"
	        "pool = { mode = \"transaction\"; size = 2; };\n" IT_DATABASES,
	        "\"authq_lookup\" \"lookup_pw\"\n");
	expect_login("scram_user", "scram_pw", "postgres");
	expect_refused("scram_user", "wrong", "postgres");
	/* the function returns a row with NULLs for an unknown user: refused the same way */
	expect_refused("nobody_at_all", "whatever", "postgres");
	log_has("auth_query found no user \"nobody_at_all\"");
}

IT_TEST(authq, auth_database_down_or_missing)
{
	char extra[1400];
	snprintf(extra, sizeof extra,
	         "databases = ( { name = \"down\"; host = \"127.0.0.1\"; port = %d; "
	         "query_wait_timeout = \"300ms\"; },\n"
	         "  { name = \"nodb\"; host = \"@PGHOST@\"; port = @PGPORT@; dbname = "
	         "\"postgres\"; auth_dbname = \"authq_no_such_db\"; },\n"
	         "  { name = \"slow\"; host = \"@PGHOST@\"; port = @PGPORT@; dbname = "
	         "\"postgres\"; auth_query = \"SELECT $1::text, 'x'::text FROM pg_sleep(30)\"; },\n"
	         "  { name = \"badq\"; host = \"@PGHOST@\"; port = @PGPORT@; dbname = "
	         "\"postgres\"; auth_query = \"SELECT usename, passwd FROM no_such_table WHERE "
	         "usename = $1\"; },\n"
	         "  { name = \"tls\"; host = \"@PGHOST@\"; port = @PGPORT@; dbname = "
	         "\"postgres\"; sslmode = \"require\"; },\n"
	         "  { name = \"*\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n",
	         it_http_port()); /* nothing listens there (not pglane's own range) */
	char conf[2400];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"md5\"; file = \"users.txt\"; auth_user = \"postgres\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; server_connect_timeout = \"1s\"; };\n"
	         "%s",
	         extra);
	it_pglane_start_with_users(conf, USERS);
	int64_t t = expect_fatal("md5_user", "md5_pw", "down", "08006",
	                         "could not connect to the auth database");
	cr_expect_lt(t, 1000, "a refused connection took %lld ms to report", (long long)t);
	log_has("Connection refused");
	t = expect_fatal("md5_user", "md5_pw", "nodb", "08006",
	                 "could not connect to the auth database");
	cr_expect_lt(t, 1000, "a missing auth database took %lld ms to report", (long long)t);
	log_has("database \"authq_no_such_db\" does not exist");
	t = expect_fatal("md5_user", "md5_pw", "badq", "08006", "the auth query failed");
	log_has("relation \"no_such_table\" does not exist");
	/* the query bound is server_connect_timeout (1 s) */
	t = expect_fatal("md5_user", "md5_pw", "slow", "08006", "the look-up timed out");
	cr_expect(t >= 900 && t < 3000, "the look-up timed out after %lld ms", (long long)t);
	/* the look-up honours the database's sslmode (the test server has no TLS) */
	(void)expect_fatal("md5_user", "md5_pw", "tls", "08006",
	                   "could not connect to the auth database");
	log_has("server does not support SSL");
	/* pglane still serves the database that works */
	expect_login("md5_user", "md5_pw", "postgres");
}

/* No cache: the next login after a password change uses the new password. */
/* The auth database's host given by name: resolved on pglane's loop (proxy/resolve.c), never
 * by a blocking libpq look-up; a name that does not exist fails the login at once. */
IT_TEST(authq, host_names_resolved_on_the_loop)
{
	char conf[1400];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"md5\"; file = \"users.txt\"; auth_user = \"postgres\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; };\n"
	         "databases = ( { name = \"named\"; host = \"localhost\"; port = @PGPORT@; "
	         "dbname = \"postgres\"; },\n"
	         "  { name = \"nohost\"; host = \"pglane-no-such-host.invalid\"; port = @PGPORT@; "
	         "dbname = \"postgres\"; },\n"
	         "  { name = \"*\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n");
	it_pglane_start_with_users(conf, USERS);
	expect_login("md5_user", "md5_pw", "named");
	int64_t t = expect_fatal("md5_user", "md5_pw", "nohost", "08006",
	                         "could not connect to the auth database");
	cr_expect_lt(t, 3000, "an unknown host name took %lld ms to report", (long long)t);
	log_has("could not resolve \"pglane-no-such-host.invalid\"");
	expect_login("md5_user", "md5_pw", "postgres");
}

IT_TEST(authq, changed_password_next_login)
{
	PGconn *admin = it_connect_admin();
	it_exec_ok(admin, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
	                  "'authq_changer') THEN CREATE ROLE authq_changer LOGIN; END IF; END $$");
	it_exec_ok(admin, "SET password_encryption = 'scram-sha-256'; ALTER ROLE authq_changer "
	                  "PASSWORD 'one'");
	start("scram-sha-256", NULL, NULL);
	expect_login("authq_changer", "one", "postgres");
	it_exec_ok(admin, "SET password_encryption = 'scram-sha-256'; ALTER ROLE authq_changer "
	                  "PASSWORD 'two'");
	expect_refused("authq_changer", "one", "postgres");
	expect_login("authq_changer", "two", "postgres");
	PQfinish(admin);
}

/* Start a login and drive it until pglane is waiting (the client is then reading). */
static PGconn *login_start(const char *user, const char *password, int drive_ms)
{
	char ci[1024];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, user, password, "postgres",
	            NULL);
	PGconn *c = PQconnectStart(ci);
	cr_assert(c && PQstatus(c) != CONNECTION_BAD, "PQconnectStart failed");
	PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
	PostgresPollingStatusType st = it_connect_poll(c, PGRES_POLLING_WRITING, drive_ms);
	cr_assert(st == PGRES_POLLING_READING, "the login did not wait (state %d): %s", (int)st,
	          PQerrorMessage(c));
	return c;
}

/* A login that arrives while the look-up of its user is running waits for it and gets its
 * result; a client that leaves meanwhile changes nothing for the others. Look-ups are per
 * worker (README, worker threads): one worker, so that the three logins meet. */
IT_TEST(authq, login_joins_lookup_in_flight)
{
	PGconn *admin = it_connect_admin();
	make_slow_lookup(admin);
	start_top("scram-sha-256", "auth_query = \"SELECT uname, phash FROM " SLOW_FN "($1)\";",
	          NULL, "workers = 1;\n");
	PGconn *a = login_start("scram_user", "scram_pw", 100);
	PGconn *gone = login_start("scram_user", "scram_pw", 50);
	int ms = it_wait_backends(admin, 1, 3000, "active", NULL, "pglane-auth_query",
	                          "%authq_slow_lookup%", NULL);
	cr_assert(ms >= 0, "the look-up is not running");
	PGconn *b = login_start("scram_user", "scram_pw", 50);
	it_conn_vanish(gone);
	cr_expect_eq(it_connect_poll(a, PGRES_POLLING_READING, 5000), PGRES_POLLING_OK, "a: %s",
	             PQerrorMessage(a));
	cr_expect_eq(it_connect_poll(b, PGRES_POLLING_READING, 5000), PGRES_POLLING_OK, "b: %s",
	             PQerrorMessage(b));
	char *who = it_query_str(b, "SELECT current_user");
	cr_expect_str_eq(who, "scram_user");
	free(who);
	PQfinish(a);
	PQfinish(b);
	cr_expect_eq(calls_of(admin, "scram_user"), 1, "three logins during one look-up ran %lld",
	             calls_of(admin, "scram_user"));
	/* the same for an unknown user: both refused after the one look-up */
	a = login_start("authq_ghost", "x", 100);
	ms = it_wait_backends(admin, 1, 3000, "active", NULL, "pglane-auth_query",
	                      "%authq_slow_lookup%", NULL);
	cr_assert(ms >= 0, "the look-up is not running");
	b = login_start("authq_ghost", "y", 50);
	cr_expect_eq(it_connect_poll(a, PGRES_POLLING_READING, 5000), PGRES_POLLING_FAILED);
	cr_expect_eq(it_connect_poll(b, PGRES_POLLING_READING, 5000), PGRES_POLLING_FAILED);
	cr_expect(strstr(PQerrorMessage(a), "28P01"), "a: %s", PQerrorMessage(a));
	cr_expect(strstr(PQerrorMessage(b), "28P01"), "b: %s", PQerrorMessage(b));
	PQfinish(a);
	PQfinish(b);
	cr_expect_eq(calls_of(admin, "authq_ghost"), 1);
	/* once it is over, the next login looks up again (nothing is cached) */
	expect_login("scram_user", "scram_pw", "postgres");
	cr_expect_eq(calls_of(admin, "scram_user"), 2);
	PQfinish(admin);
}

#define STORM 200

/* Drive `n` logins started with PQconnectStart until each is over (30 s at most). */
static void drive_all(PGconn **c, PostgresPollingStatusType *st, int n)
{
	int64_t deadline = it_now_ms() + 30000;
	for (;;) {
		struct pollfd pfd[STORM];
		int idx[STORM], k = 0;
		for (int i = 0; i < n; i++) {
			if (st[i] == PGRES_POLLING_OK || st[i] == PGRES_POLLING_FAILED)
				continue;
			pfd[k] = (struct pollfd){
			        .fd = PQsocket(c[i]),
			        .events = st[i] == PGRES_POLLING_READING ? POLLIN : POLLOUT};
			idx[k++] = i;
		}
		int64_t left = deadline - it_now_ms();
		if (k == 0 || left <= 0)
			break;
		if (poll(pfd, (nfds_t)k, (int)left) <= 0)
			continue;
		for (int j = 0; j < k; j++)
			if (pfd[j].revents)
				st[idx[j]] = PQconnectPoll(c[idx[j]]);
	}
}

/* 200 concurrent logins of one unknown user: never two look-ups of the name at once (on one
 * worker: each worker looks up on its own), far fewer look-ups than logins, every login
 * refused with 28P01. */
IT_TEST(authq, storm_of_one_unknown_user)
{
	PGconn *admin = it_connect_admin();
	make_slow_lookup(admin);
	int http = it_http_port();
	char top[64];
	snprintf(top, sizeof top, "admin = { http_port = %d; };\nworkers = 1;\n", http);
	start_top("md5", "auth_query = \"SELECT uname, phash FROM " SLOW_FN "($1)\";", NULL, top);
	it_wait_port(http);
	char ci[1024];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "authq_storm", "pw",
	            "postgres", NULL);
	PGconn *c[STORM];
	PostgresPollingStatusType st[STORM];
	for (int i = 0; i < STORM; i++) {
		c[i] = PQconnectStart(ci);
		cr_assert(c[i] && PQstatus(c[i]) != CONNECTION_BAD, "PQconnectStart %d failed", i);
		PQsetErrorVerbosity(c[i], PQERRORS_VERBOSE);
		st[i] = PGRES_POLLING_WRITING;
	}
	drive_all(c, st, STORM);
	int refused = 0;
	for (int i = 0; i < STORM; i++) {
		if (st[i] == PGRES_POLLING_FAILED && strstr(PQerrorMessage(c[i]), "28P01") &&
		    strstr(PQerrorMessage(c[i]),
		           "password authentication failed for user \"authq_storm\""))
			refused++;
		else if (refused == i)
			cr_log_error("login %d: state %d: %s", i, (int)st[i], PQerrorMessage(c[i]));
		PQfinish(c[i]);
	}
	cr_expect_eq(refused, STORM, "%d of %d logins refused with 28P01", refused, STORM);
	long long calls = calls_of(admin, "authq_storm");
	long long overlaps = overlaps_of(admin, "authq_storm");
	cr_log_info("%d logins of one unknown user: %lld look-ups, %lld overlapping", STORM, calls,
	            overlaps);
	cr_expect_eq(overlaps, 0, "%lld pairs of look-ups of one name ran at once", overlaps);
	cr_expect(calls >= 1 && calls <= STORM / 20, "%lld look-ups for %d logins", calls, STORM);
	/* the metrics count the same */
	cr_expect_eq(metric(http, "pglane_auth_queries_total", "not_found"), (double)calls);
	cr_expect_eq(metric(http, "pglane_auth_queries_total", "found"), 0);
	cr_expect_eq(metric(http, "pglane_auth_queries_total", "error"), 0);
	cr_expect_eq(metric(http, "pglane_auth_query_joined_total", NULL), (double)(STORM - calls));
	cr_expect_eq(metric(http, "pglane_auth_queries_in_flight", NULL), 0);
	PQfinish(admin);
}

#define DISTINCT 40

/* Many unknown names at once: one look-up each, never more than 16 connections asking at
 * once (the rest queue), every login refused with 28P01. */
IT_TEST(authq, distinct_users_bounded)
{
	PGconn *admin = it_connect_admin();
	make_slow_lookup(admin);
	start("md5", "auth_query = \"SELECT uname, phash FROM " SLOW_FN "($1)\";", NULL);
	PGconn *c[DISTINCT];
	PostgresPollingStatusType st[DISTINCT];
	for (int i = 0; i < DISTINCT; i++) {
		char user[32], ci[1024];
		snprintf(user, sizeof user, "authq_many_%d", i);
		it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, user, "pw",
		            "postgres", NULL);
		c[i] = PQconnectStart(ci);
		cr_assert(c[i] && PQstatus(c[i]) != CONNECTION_BAD);
		PQsetErrorVerbosity(c[i], PQERRORS_VERBOSE);
		st[i] = PGRES_POLLING_WRITING;
	}
	drive_all(c, st, DISTINCT);
	int refused = 0;
	for (int i = 0; i < DISTINCT; i++) {
		if (st[i] == PGRES_POLLING_FAILED && strstr(PQerrorMessage(c[i]), "28P01"))
			refused++;
		else
			cr_log_error("login %d: state %d: %s", i, (int)st[i], PQerrorMessage(c[i]));
		PQfinish(c[i]);
	}
	cr_expect_eq(refused, DISTINCT);
	long long calls = it_query_ll(admin, "SELECT count(DISTINCT name) FROM public.authq_calls "
	                                     "WHERE name LIKE 'authq\\_many\\_%'");
	long long total = it_query_ll(admin, "SELECT count(*) FROM public.authq_calls "
	                                     "WHERE name LIKE 'authq\\_many\\_%'");
	cr_expect_eq(calls, DISTINCT, "%lld names looked up", calls);
	cr_expect_eq(total, DISTINCT, "%lld look-ups for %d names", total, DISTINCT);
	/* how many ran at each look-up's start, itself included */
	long long most = it_query_ll(
	        admin, "SELECT max(n) FROM (SELECT count(*) AS n FROM public.authq_calls "
	               "a JOIN public.authq_calls b ON b.started <= a.started AND "
	               "b.ended > a.started WHERE a.name LIKE 'authq\\_many\\_%' AND "
	               "b.name LIKE 'authq\\_many\\_%' GROUP BY a.ctid) x");
	cr_log_info("%d names: at most %lld look-ups at once", DISTINCT, most);
	cr_expect(most >= 2 && most <= 16, "%lld look-ups at once", most);
	PQfinish(admin);
}

/* A kept connection that PostgreSQL closed is replaced: the next login still works. */
IT_TEST(authq, kept_connection_killed)
{
	PGconn *admin = it_connect_admin();
	start("scram-sha-256", NULL, NULL);
	expect_login("scram_user", "scram_pw", "postgres");
	cr_assert_eq(it_count_backends(admin, "idle", "postgres", "pglane-auth_query", NULL), 1,
	             "no kept look-up connection");
	it_exec_ok(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	                  "application_name = 'pglane-auth_query'");
	expect_login("scram_user", "scram_pw", "postgres");
	cr_expect_eq(it_count_backends(admin, "idle", "postgres", "pglane-auth_query", NULL), 1,
	             "the look-up connection was not replaced");
	PQfinish(admin);
}

/* ---- a kept connection that died unnoticed ---- */

/* A forwarder to the test PostgreSQL that, once armed, cuts the first connection pglane then
 * sends bytes on (both sockets closed, nothing forwarded). */
struct cutter {
	int lfd, port;
	atomic_int conns;
	atomic_int armed;
	atomic_int cut;
};

static int connect_pg(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)it_pgport())};
	if (fd >= 0 && (inet_pton(AF_INET, it_pghost(), &a.sin_addr) != 1 ||
	                connect(fd, (struct sockaddr *)&a, sizeof a) < 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void cutter_conn(void *arg, int cfd)
{
	struct cutter *k = arg;
	int pfd = connect_pg();
	uint8_t buf[16384];
	while (pfd >= 0) {
		struct pollfd p[2] = {{.fd = cfd, .events = POLLIN}, {.fd = pfd, .events = POLLIN}};
		if (poll(p, 2, 60000) <= 0)
			break;
		if ((p[0].revents & POLLIN) && atomic_exchange(&k->armed, 0)) {
			atomic_fetch_add(&k->cut, 1);
			break;
		}
		bool ok = true;
		for (int i = 0; i < 2 && ok; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
			ok = n > 0 && send(p[1 - i].fd, buf, (size_t)n, MSG_NOSIGNAL) == n;
		}
		if (!ok)
			break;
	}
	if (pfd >= 0)
		close(pfd);
	close(cfd);
}

/* The look-up's kept connection is cut when the query is sent on it: the look-up is tried
 * again on a new connection and the login works. One worker: kept connections are per
 * worker. */
IT_TEST(authq, kept_connection_cut_is_retried)
{
	struct cutter *k = calloc(1, sizeof *k);
	cr_assert(k);
	k->lfd = it_listen_local(&k->port);
	it_serve(k->lfd, cutter_conn, k, &k->conns);
	char dbs[256];
	snprintf(dbs, sizeof dbs,
	         "databases = ( { name = \"*\"; host = \"127.0.0.1\"; port = %d; } );\n", k->port);
	start_top("scram-sha-256", NULL, dbs, "workers = 1;\n");
	expect_login("scram_user", "scram_pw", "postgres"); /* look-up, then a server */
	int before = atomic_load(&k->conns);
	cr_assert_eq(before, 2, "%d connections through the forwarder", before);
	atomic_store(&k->armed, 1);
	/* the next bytes pglane sends to PostgreSQL are the look-up on its kept connection */
	expect_login("scram_user", "scram_pw", "postgres");
	cr_expect_eq(atomic_load(&k->cut), 1);
	cr_expect_eq(atomic_load(&k->conns), before + 1, "no new look-up connection");
	expect_login("scram_user", "scram_pw", "postgres");
	cr_expect_eq(atomic_load(&k->conns), before + 1, "the new connection was not kept");
}

/* ---- over TLS: a PostgreSQL of its own with ssl on ---- */

static char g_cluster_dir[512];

static void tls_fini(void)
{
	it_pglane_fini();
	tls_cluster_stop(g_cluster_dir);
}

TestSuite(authq_tls, .fini = tls_fini, .timeout = 180);

/* The look-up connects with the database's sslmode and sslrootcert: verify-full against the
 * right CA works (and is TLS on the server side), against another CA it fails. */
IT_TEST(authq_tls, verify_full)
{
	int port = tls_cluster_start(g_cluster_dir, sizeof g_cluster_dir, NULL);
	char conf[4096];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"scram-sha-256\"; auth_user = \"postgres\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; };\n"
	         "databases = ( { name = \"wrongca\"; host = \"127.0.0.1\"; port = %d; dbname = "
	         "\"postgres\"; sslmode = \"verify-full\"; sslrootcert = \"%s\"; },\n"
	         "  { name = \"*\"; host = \"127.0.0.1\"; port = %d; sslmode = \"verify-full\"; "
	         "sslrootcert = \"%s\"; } );\n",
	         port, tls_cert("ca2.crt"), port, tls_cert("ca.crt"));
	it_pglane_start(conf);
	expect_login("scram_user", "scram_pw", "postgres");
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, port, "postgres", NULL, "postgres", NULL);
	PGconn *a = it_connect_try(ci);
	cr_assert_eq(PQstatus(a), CONNECTION_OK);
	char *tls = it_query_str(a, "SELECT string_agg(s.ssl::text, ',') FROM pg_stat_ssl s JOIN "
	                            "pg_stat_activity USING (pid) WHERE application_name = "
	                            "'pglane-auth_query'");
	cr_expect_str_eq(tls, "true", "the look-up connection's TLS: %s", tls);
	free(tls);
	PQfinish(a);
	(void)expect_fatal("scram_user", "scram_pw", "wrongca", "08006",
	                   "could not connect to the auth database");
	log_has("certificate verify failed");
}
