/* tests/integration/test_users.c — per-user settings (issue 15, PgBouncer's [users]): a `users`
 * entry overrides the lane's pool mode, size, statement_timeout and client_idle_timeout for its
 * user only (precedence user > lane > database > global). One user in session mode keeps its
 * backend and holds its one server while another, in transaction mode, shares its one server
 * between two clients; a user's statement_timeout cancels its statement while another user's
 * longer statement runs; a client_idle_timeout set for one user only (no lane has one) closes
 * that user's idle client and no other; a user's pool size caps its backends. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

TestSuite(users, .fini = it_pglane_fini, .timeout = 90);

#define USERS_FILE "\"scram_user\" \"scram_pw\"\n\"md5_user\" \"md5_pw\"\n"

/* pglane in transaction mode, database postgres (oltp lane only), `pool` keys in the pool
 * group and the `users` list as given. */
static struct it_pglane *start_users(const char *pool, const char *users)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; file = \"users.txt\"; };\n"
	         "pool = { mode = \"transaction\"; %s };\n"
	         "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n"
	         "users = ( %s );\n",
	         pool, users);
	return it_pglane_start_with_users(conf, USERS_FILE);
}

static PGconn *scram(void)
{
	return it_connect("scram_user", "scram_pw", "postgres");
}

static PGconn *md5(void)
{
	return it_connect("md5_user", "md5_pw", "postgres");
}

static long long pid_of(PGconn *c)
{
	return it_query_ll(c, "SELECT pg_backend_pid()");
}

IT_TEST(users, pool_mode_per_user)
{
	start_users("size = 1; query_wait_timeout = \"1s\";",
	            "{ name = \"scram_user\"; pool_mode = \"session\"; }");
	/* scram_user, session mode: its SET and its backend stay across transactions */
	PGconn *a1 = scram();
	it_exec_ok(a1, "SET work_mem = '7MB'");
	long long pid = pid_of(a1);
	for (int i = 0; i < 3; i++) {
		it_exec_ok(a1, "BEGIN");
		char *v = it_query_str(a1, "SHOW work_mem");
		cr_expect_str_eq(v, "7MB", "transaction %d: work_mem %s", i, v);
		free(v);
		cr_expect_eq(pid_of(a1), pid, "transaction %d ran on another backend", i);
		it_exec_ok(a1, "COMMIT");
	}
	/* ... and it holds the user's one server: a second client of it waits in vain */
	PGconn *a2 = scram();
	char msg[256];
	const char *st = it_exec_error(a2, "SELECT 1", msg, sizeof msg);
	cr_expect_str_eq(st, "53300", "scram_user's second client: %s %s", st, msg);
	cr_expect_eq(pid_of(a1), pid);
	/* md5_user, transaction mode: two clients share its one server, in turns */
	PGconn *b1 = md5(), *b2 = md5();
	long long bpid = pid_of(b1);
	cr_expect_neq(bpid, pid);
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(pid_of(b2), bpid, "md5_user's clients do not share its one server");
		cr_expect_eq(pid_of(b1), bpid);
	}
	PGconn *console = adminq_connect("admin");
	PGresult *r = adminq_show(console, "SHOW POOLS");
	int ra = adminq_find(r, "user", "scram_user", NULL, NULL);
	int rb = adminq_find(r, "user", "md5_user", NULL, NULL);
	cr_assert(ra >= 0 && rb >= 0, "no SHOW POOLS rows for the two users");
	cr_expect_str_eq(adminq_cell(r, ra, "pool_mode"), "session");
	cr_expect_str_eq(adminq_cell(r, rb, "pool_mode"), "transaction");
	PQclear(r);
	/* once scram_user's first client leaves, another gets the server */
	PQfinish(a1);
	PQfinish(a2);
	PGconn *a3 = scram();
	cr_expect_eq(it_query_ll(a3, "SELECT 5"), 5);
	char *v = it_query_str(a3, "SHOW work_mem");
	cr_expect_str_neq(v, "7MB", "the session's SET leaked to the next client");
	free(v);
	PQfinish(a3);
	PQfinish(b1);
	PQfinish(b2);
	PQfinish(console);
}

IT_TEST(users, statement_timeout_per_user)
{
	start_users("size = 2;", "{ name = \"scram_user\"; statement_timeout = \"500ms\"; }");
	PGconn *a = scram(), *b = md5();
	int64_t t0 = it_now_ms();
	char msg[256];
	const char *st = it_exec_error(a, "SELECT pg_sleep(5)", msg, sizeof msg);
	int64_t took = it_now_ms() - t0;
	cr_expect_str_eq(st, "57014", "scram_user: %s %s", st, msg);
	cr_expect(took >= 450 && took <= 2500, "scram_user's statement cancelled after %lld ms",
	          (long long)took);
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1, "scram_user's connection is kept");
	t0 = it_now_ms();
	char *v = it_query_str(b, "SELECT pg_sleep(1.2)::text");
	free(v);
	cr_expect_geq(it_now_ms() - t0, 1150, "md5_user's statement ran to its end");
	PQfinish(a);
	PQfinish(b);
}

IT_TEST(users, client_idle_timeout_per_user_only)
{
	/* no lane has a client_idle_timeout: only md5_user's entry */
	start_users("size = 2;", "{ name = \"md5_user\"; client_idle_timeout = \"1s\"; }");
	PGconn *a = scram(), *b = md5();
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1);
	cr_expect_eq(it_query_ll(b, "SELECT 1"), 1);
	it_sleep_ms(2000);
	PGresult *r = PQexec(b, "SELECT 2");
	cr_expect_neq(PQresultStatus(r), PGRES_TUPLES_OK, "md5_user's idle client was kept");
	cr_expect(strstr(PQerrorMessage(b), "client_idle_timeout"), "md5_user: %s",
	          PQerrorMessage(b));
	PQclear(r);
	cr_expect_eq(it_query_ll(a, "SELECT 3"), 3, "scram_user's idle client was closed");
	PQfinish(a);
	PQfinish(b);
}

IT_TEST(users, pool_size_per_user)
{
	start_users("size = 4; query_wait_timeout = \"20s\";",
	            "{ name = \"md5_user\"; pool_size = 1; }");
	PGconn *admin = it_connect_admin();
	PGconn *a[4], *b[4];
	for (int i = 0; i < 4; i++) {
		a[i] = scram();
		b[i] = md5();
	}
	for (int i = 0; i < 4; i++) {
		cr_assert(PQsendQuery(a[i], "SELECT pg_sleep(0.3)"));
		cr_assert(PQsendQuery(b[i], "SELECT pg_sleep(0.3)"));
	}
	int max_a = 0, max_b = 0;
	int64_t until = it_now_ms() + 1000;
	while (it_now_ms() < until) {
		int na = it_count_backends(admin, "active", "scram_user", NULL, "%pg_sleep%");
		int nb = it_count_backends(admin, NULL, "md5_user", NULL, NULL);
		max_a = na > max_a ? na : max_a;
		max_b = nb > max_b ? nb : max_b;
		it_sleep_ms(20);
	}
	for (int i = 0; i < 4; i++) {
		bool to;
		PGresult *r = it_result_wait(a[i], 10000, &to);
		cr_expect(!to && PQresultStatus(r) == PGRES_TUPLES_OK);
		PQclear(r);
		r = it_result_wait(b[i], 10000, &to);
		cr_expect(!to && PQresultStatus(r) == PGRES_TUPLES_OK);
		PQclear(r);
	}
	cr_expect_eq(max_b, 1, "md5_user (pool_size 1) had %d backends", max_b);
	cr_expect_geq(max_a, 3, "scram_user (size 4) had at most %d running", max_a);
	for (int i = 0; i < 4; i++) {
		PQfinish(a[i]);
		PQfinish(b[i]);
	}
	PQfinish(admin);
}

/* RELOAD applies a changed `users` entry to the pools already open: a connected client of that
 * user runs its next statement with the new statement_timeout; an entry added by the reload
 * reaches its user's pool too; SHOW CONFIG shows both. */
IT_TEST(users, reload_changes_a_users_settings)
{
	struct it_pglane *p =
	        start_users("size = 2;", "{ name = \"scram_user\"; statement_timeout = \"10s\"; }");
	PGconn *a = scram(), *b = md5();
	char *v = it_query_str(a, "SELECT pg_sleep(0.6)::text");
	free(v);
	v = it_query_str(b, "SELECT pg_sleep(0.6)::text");
	free(v);

	char *conf = it_file_read(p->conf_path);
	cr_assert_not_null(conf);
	const char *from = "statement_timeout = \"10s\"; }";
	char *at = strstr(conf, from);
	cr_assert_not_null(at, "%s", conf);
	char next[4096];
	snprintf(next, sizeof next,
	         "%.*sstatement_timeout = \"300ms\"; },\n"
	         "  { name = \"md5_user\"; statement_timeout = \"400ms\"; }%s",
	         (int)(at - conf), conf, at + strlen(from));
	free(conf);
	it_file_write(p->conf_path, next);
	PGconn *console = adminq_connect("admin");
	PGresult *r = PQexec(console, "RELOAD");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "RELOAD: %s", PQresultErrorMessage(r));
	PQclear(r);

	PGconn *who[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		int64_t t0 = it_now_ms();
		char msg[256];
		const char *st = it_exec_error(who[i], "SELECT pg_sleep(3)", msg, sizeof msg);
		int64_t took = it_now_ms() - t0;
		cr_expect_str_eq(st, "57014", "client %d after RELOAD: %s %s", i, st, msg);
		cr_expect(took >= 250 && took <= 2000, "client %d cancelled after %lld ms", i,
		          (long long)took);
	}
	r = adminq_show(console, "SHOW CONFIG");
	int row = adminq_find(r, "key", "users.scram_user.statement_timeout", NULL, NULL);
	cr_expect(row >= 0 && strcmp(adminq_cell(r, row, "value"), "300ms") == 0,
	          "SHOW CONFIG: users.scram_user.statement_timeout");
	cr_expect_geq(adminq_find(r, "key", "users.md5_user.statement_timeout", NULL, NULL), 0);
	PQclear(r);
	PQfinish(console);
	PQfinish(a);
	PQfinish(b);
}
