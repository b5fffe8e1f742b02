/* tests/integration/test_auth.c — client login to pglane (trust, md5, scram-sha-256 against a
 * PgBouncer-style auth file) and pglane's own login to the server with every method the
 * server may ask for: SCRAM with a plain password, MD5 with an md5 secret or a plain password,
 * cleartext, and SCRAM pass-through when the file holds only the SCRAM secret. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

TestSuite(auth, .fini = it_pglane_fini, .timeout = 60);

/* The auth file: scram_user and clear_user plain, md5_user's md5 secret, pass_user's SCRAM
 * secret as PostgreSQL stores them. `md5_plain` puts md5_user's plain password instead. */
static char *userlist(bool md5_plain)
{
	PGconn *admin = it_connect_admin();
	char *md5 = it_query_str(admin, "SELECT rolpassword FROM pg_authid WHERE rolname = "
	                                "'md5_user'");
	char *scram = it_query_str(admin, "SELECT rolpassword FROM pg_authid WHERE rolname = "
	                                  "'pass_user'");
	PQfinish(admin);
	cr_assert(strncmp(md5, "md5", 3) == 0, "md5_user has no md5 secret: %s", md5);
	cr_assert(strncmp(scram, "SCRAM-SHA-256$", 14) == 0, "pass_user has no SCRAM secret");
	char *text = NULL;
	cr_assert(asprintf(&text,
	                   "; pglane test users\n"
	                   "\"scram_user\" \"scram_pw\"\n"
	                   "\"md5_user\" \"%s\"\n"
	                   "\"clear_user\" \"clear_pw\"\n"
	                   "\"pass_user\" \"%s\"\n",
	                   md5_plain ? "md5_pw" : md5, scram) > 0);
	free(md5);
	free(scram);
	return text;
}

static void start_auth(const char *type, bool md5_plain)
{
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"%s\"; file = \"users.txt\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; };\n" IT_DATABASES,
	         type);
	char *users = userlist(md5_plain);
	it_pglane_start_with_users(conf, users);
	free(users);
}

static PGconn *try_login(const char *user, const char *password)
{
	char ci[1024];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, user, password, "postgres",
	            NULL);
	return it_connect_try(ci);
}

/* Log in and check who PostgreSQL thinks we are. */
static void expect_login(const char *user, const char *password)
{
	PGconn *c = try_login(user, password);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "%s: %s", user, it_conn_error(c));
	if (PQstatus(c) == CONNECTION_OK) {
		char *who = it_query_str(c, "SELECT current_user");
		cr_expect_str_eq(who, user);
		free(who);
	}
	PQfinish(c);
}

/* Log in must fail with 28P01; the message (user name replaced by USER) goes to msg. */
static void expect_refused(const char *user, const char *password, char *msg, size_t n)
{
	PGconn *c = try_login(user, password);
	const char *err = it_conn_error(c);
	cr_expect_neq(PQstatus(c), CONNECTION_OK, "%s with password %s got in", user,
	              password ? password : "(none)");
	/* Verbose form: ...FATAL:  28P01: password authentication failed for user "x" */
	cr_expect(strstr(err, "28P01"), "%s: no SQLSTATE 28P01 in: %s", user, err);
	cr_expect(strstr(err, "password authentication failed"), "%s: %s", user, err);
	const char *from = strstr(err, "FATAL:");
	char norm[512];
	snprintf(norm, sizeof norm, "%s", from ? from : err);
	char quoted[128];
	snprintf(quoted, sizeof quoted, "\"%s\"", user);
	char *u = strstr(norm, quoted);
	if (u) {
		size_t ql = strlen(quoted);
		memmove(u + 6, u + ql, strlen(u + ql) + 1);
		memcpy(u, "\"USER\"", 6);
	}
	char *nl = strchr(norm, '\n');
	if (nl)
		*nl = '\0';
	snprintf(msg, n, "%s", norm);
	PQfinish(c);
}

static void refusals_identical(void)
{
	char wrong[512], unknown[512];
	expect_refused("scram_user", "not_the_password", wrong, sizeof wrong);
	expect_refused("no_such_user", "whatever", unknown, sizeof unknown);
	cr_expect_str_eq(unknown, wrong,
	                 "an unknown user is told something else than a wrong "
	                 "password");
	cr_log_info("refusal: %s", wrong);
}

IT_TEST(auth, scram_right_wrong_unknown)
{
	start_auth("scram-sha-256", false);
	expect_login("scram_user", "scram_pw");
	expect_login("clear_user", "clear_pw");
	refusals_identical();
	char msg[512];
	expect_refused("pass_user", "pass_wrong", msg, sizeof msg);
}

IT_TEST(auth, md5_right_wrong_unknown)
{
	start_auth("md5", false);
	expect_login("scram_user", "scram_pw");
	expect_login("md5_user", "md5_pw");
	expect_login("clear_user", "clear_pw");
	refusals_identical();
	char msg[512];
	expect_refused("md5_user", "md5_wrong", msg, sizeof msg);
}

IT_TEST(auth, trust_needs_no_password)
{
	start_auth("trust", false);
	expect_login("scram_user", NULL);
	expect_login("md5_user", NULL);
	expect_login("clear_user", NULL);
}

IT_TEST(auth, trust_without_file_for_trusted_server_user)
{
	it_pglane_start_simple("transaction", 2, NULL);
	expect_login("postgres", NULL);
}

IT_TEST(auth, server_scram_with_plain_password)
{
	start_auth("scram-sha-256", false);
	expect_login("scram_user", "scram_pw");
}

IT_TEST(auth, server_md5_with_md5_secret)
{
	start_auth("md5", false); /* an md5 secret can only check md5 clients */
	expect_login("md5_user", "md5_pw");
}

IT_TEST(auth, server_md5_with_plain_password)
{
	start_auth("scram-sha-256", true);
	expect_login("md5_user", "md5_pw");
}

IT_TEST(auth, server_cleartext)
{
	start_auth("scram-sha-256", false);
	expect_login("clear_user", "clear_pw");
}

IT_TEST(auth, scram_pass_through)
{
	start_auth("scram-sha-256", false);
	expect_login("pass_user", "pass_pw");
	/* Twice: the second login may reuse the server connection, the keys must still work for
	 * a new one. */
	PGconn *a = try_login("pass_user", "pass_pw");
	PGconn *b = try_login("pass_user", "pass_pw");
	cr_expect_eq(PQstatus(a), CONNECTION_OK, "%s", it_conn_error(a));
	cr_expect_eq(PQstatus(b), CONNECTION_OK, "%s", it_conn_error(b));
	if (PQstatus(a) == CONNECTION_OK && PQstatus(b) == CONNECTION_OK) {
		it_exec_ok(a, "BEGIN");
		it_exec_ok(a, "SELECT 1");
		it_exec_ok(b, "BEGIN"); /* needs a second server, logged in with a's keys */
		char *who = it_query_str(b, "SELECT current_user");
		cr_expect_str_eq(who, "pass_user");
		free(who);
		it_exec_ok(b, "COMMIT");
		it_exec_ok(a, "COMMIT");
	}
	PQfinish(b);
	PQfinish(a);
	char msg[512];
	expect_refused("pass_user", "pass_wrong", msg, sizeof msg);
}

IT_TEST(auth, passwords_not_logged)
{
	start_auth("scram-sha-256", true);
	expect_login("scram_user", "scram_pw");
	expect_login("md5_user", "md5_pw");
	expect_login("clear_user", "clear_pw");
	char msg[512];
	expect_refused("scram_user", "wrong_pw_xyz", msg, sizeof msg);
	char *log = it_pglane_log();
	cr_expect(!strstr(log, "scram_pw"), "the log holds scram_user's password");
	cr_expect(!strstr(log, "md5_pw"), "the log holds md5_user's password");
	cr_expect(!strstr(log, "clear_pw"), "the log holds clear_user's password");
	cr_expect(!strstr(log, "wrong_pw_xyz"), "the log holds a wrong password");
	free(log);
}
