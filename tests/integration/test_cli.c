/* tests/integration/test_cli.c — pglane's command line: --version, --check on a good file
 * (prints the resolved settings), on bad files (the error names the file, the line and the key),
 * and a run with a file that cannot be used. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

TestSuite(cli, .fini = it_pglane_fini, .timeout = 30);

/* Write `text` as DIR/NAME in a new temp dir; the path goes to `path`. */
static void write_conf(char *path, size_t n, const char *name, const char *text)
{
	char dir[512];
	it_mkdtemp(dir, sizeof dir);
	cr_assert((size_t)snprintf(path, n, "%s/%s", dir, name) < n);
	it_file_write(path, text);
}

IT_TEST(cli, version)
{
	char *out = NULL;
	int rc = it_sh(10, &out, "'%s' --version", it_pglane_bin());
	cr_expect_eq(rc, 0, "pglane --version exited %d: %s", rc, out);
	cr_expect(strstr(out, "pglane"), "--version says: %s", out);
	free(out);
}

IT_TEST(cli, check_good_file_prints_settings)
{
	char path[1024];
	write_conf(path, sizeof path, "good.conf",
	           "listen = { host = \"127.0.0.1\"; port = 16543; };\n"
	           "auth = { type = \"trust\"; };\n"
	           "pool = { mode = \"session\"; size = 7; query_wait_timeout = \"5s\"; };\n"
	           "databases = ( { name = \"app\"; host = \"127.0.0.1\"; port = 5432;\n"
	           "                oltp = { size = 9; }; olap = { size = 2; }; } );\n");
	char *out = NULL;
	int rc = it_sh(10, &out, "'%s' --check -c '%s'", it_pglane_bin(), path);
	cr_expect_eq(rc, 0, "--check on a good file exited %d:\n%s", rc, out);
	cr_expect(strstr(out, "16543"), "the listen port is not printed:\n%s", out);
	cr_expect(strstr(out, "session"), "the pool mode is not printed:\n%s", out);
	cr_expect(strstr(out, "app"), "the database is not printed:\n%s", out);
	cr_expect(strstr(out, "olap"), "the olap lane is not printed:\n%s", out);
	free(out);
}

/* --check must exit 1 with an error naming the file, `line` and `key`. */
static void expect_check_error(const char *text, int line, const char *key)
{
	char path[1024];
	write_conf(path, sizeof path, "bad.conf", text);
	char *out = NULL;
	int rc = it_sh(10, &out, "'%s' --check -c '%s'", it_pglane_bin(), path);
	cr_expect_eq(rc, 1, "--check on a bad file exited %d:\n%s", rc, out);
	char where[1100];
	snprintf(where, sizeof where, "%s:%d", path, line);
	cr_expect(strstr(out, where), "the error does not say %s:\n%s", where, out);
	if (key)
		cr_expect(strstr(out, key), "the error does not name %s:\n%s", key, out);
	free(out);
}

IT_TEST(cli, check_bad_value_names_file_line_key)
{
	expect_check_error("listen = { host = \"127.0.0.1\"; port = 6432; };\n"
	                   "auth = { type = \"trust\"; };\n"
	                   "pool = {\n"
	                   "  mode = \"sometimes\";\n"
	                   "};\n",
	                   4, "mode");
}

IT_TEST(cli, check_bad_duration_names_file_line_key)
{
	expect_check_error("pool = {\n"
	                   "  size = 5;\n"
	                   "  query_wait_timeout = \"5 fortnights\";\n"
	                   "};\n",
	                   3, "query_wait_timeout");
}

IT_TEST(cli, check_syntax_error_names_file_line)
{
	expect_check_error("listen = { host = \"127.0.0.1\"; port = 6432; };\n"
	                   "pool = { mode = \"session\"; size = = 5; };\n",
	                   2, NULL);
}

IT_TEST(cli, run_with_bad_file_fails)
{
	char path[1024];
	write_conf(path, sizeof path, "bad.conf", "pool = { size = -3; };\n");
	char *out = NULL;
	int rc = it_sh(10, &out, "'%s' -c '%s'", it_pglane_bin(), path);
	cr_expect_neq(rc, 0, "pglane started with an invalid file:\n%s", out);
	cr_expect_neq(rc, -1, "pglane kept running with an invalid file");
	cr_expect(strstr(out, path), "the error does not name the file:\n%s", out);
	free(out);
	rc = it_sh(10, &out, "'%s' -c /nonexistent/pglane.conf", it_pglane_bin());
	cr_expect(rc > 0 && rc != 127, "pglane with a missing file exited %d:\n%s", rc, out);
	free(out);
}

/* The pglane.conf of README's "Coming from PgBouncer" (its files put in a temp dir) passes
 * --check, and says what its pgbouncer.ini beside it says. */
IT_TEST(cli, readme_pgbouncer_equivalent_is_valid)
{
	const char *pgsh = getenv("PGLANE_TEST_PGSH");
	char readme[1024];
	if (pgsh && strrchr(pgsh, '/'))
		snprintf(readme, sizeof readme, "%.*s/../README.md",
		         (int)(strrchr(pgsh, '/') - pgsh), pgsh);
	else
		snprintf(readme, sizeof readme, "README.md");
	char dir[512];
	it_mkdtemp(dir, sizeof dir);
	char *out = NULL;
	int rc =
	        it_sh(10, &out,
	              "awk '/^# pglane.conf$/{f=1} f&&/^```/{exit} f' '%s' |"
	              " sed 's#/etc/pglane/#%s/#g; s#/var/run/postgresql#%s#' > '%s/pglane.conf' &&"
	              " grep -q unix_socket_dir '%s/pglane.conf' &&"
	              " touch '%s/server.key' '%s/server.crt' &&"
	              " echo '\"pgbouncer\" \"pw\"' > '%s/userlist.txt' &&"
	              " '%s' --check -c '%s/pglane.conf'",
	              readme, dir, dir, dir, dir, dir, dir, dir, it_pglane_bin(), dir);
	cr_expect_eq(rc, 0, "README's pglane.conf (%s) does not pass --check:\n%s", readme, out);
	static const char *const want[] = {"max_db_connections = 60;",
	                                   "max_db_connections = 80;",
	                                   "reserve_pool_timeout = \"3s\";",
	                                   "server_round_robin = true;",
	                                   "auth_user = \"pgbouncer\";",
	                                   "unix_socket_mode = \"0770\";",
	                                   "name = \"batch\";",
	                                   "statement_timeout = \"10s\";",
	                                   "method = \"peer\";",
	                                   "connect_query = \"SELECT rpt.on_connect()\";"};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		cr_expect(out && strstr(out, want[i]), "--check does not show %s:\n%s", want[i],
		          out);
	free(out);
}
