/* tests/integration/test_takeover.c — binary upgrades with `pglane --takeover` (suite
 * "takeover"): pgbench -c 50 (persistent connections) and pgbench -C (a connection per
 * transaction) run while the binary is replaced three times, with no failed transaction and no
 * refused connection, and every old process exits once its clients are gone; --takeover with
 * nothing to take over fails clearly; an open transaction on the old process still commits; a
 * new process that fails to start leaves the old one serving. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

static void fini(void)
{
	it_pglane_fini();
	it_drop_tables("takeover_t");
}

TestSuite(takeover, .fini = fini, .timeout = 60);

/* pglane on @PORT@ with its Unix socket (and so its takeover socket) in its temp dir. */
#define TAKEOVER_CONF                                                                              \
	"listen = { host = \"127.0.0.1\"; port = @PORT@; unix_socket_dir = \"@DIR@\"; };\n"        \
	"auth = { type = \"trust\"; };\n"                                                          \
	"pool = { mode = \"transaction\"; size = 20; query_wait_timeout = \"60s\"; "               \
	"};\n" IT_DATABASES

/* A process started by this test, never outliving it. */
static pid_t spawn(const char *log_path, const char *dir, char *const argv[])
{
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int nul = open("/dev/null", O_RDONLY);
		if (fd < 0 || nul < 0 || chdir(dir) != 0)
			_exit(126);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

/* Wait (bounded) for `pid` to exit: its wait status, or -1 on timeout. */
static int wait_exit(pid_t pid, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	int st;
	do {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		it_sleep_ms(10);
	} while (it_now_ms() < deadline);
	return -1;
}

static bool file_has(const char *path, const char *needle)
{
	char *s = it_file_read(path);
	bool has = s && strstr(s, needle);
	free(s);
	return has;
}

/* A copy of the binary in the test's dir (a new "release"), started with --takeover on the
 * running pglane's config; returns once it says it serves (fails the test otherwise). */
static pid_t take_over(const struct it_pglane *p, int n, char *log_path, size_t log_n)
{
	char bin[700];
	snprintf(bin, sizeof bin, "%s/pglane-%d", p->dir, n);
	snprintf(log_path, log_n, "%s/pglane-%d.log", p->dir, n);
	cr_assert_eq(it_sh(10, NULL, "cp '%s' '%s'", it_pglane_bin(), bin), 0);
	char *argv[] = {bin, "--takeover", "-c", (char *)p->conf_path, NULL};
	pid_t pid = spawn(log_path, p->dir, argv);
	int64_t deadline = it_now_ms() + 10000;
	while (!file_has(log_path, "serves now")) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			char *log = it_file_read(log_path);
			cr_assert_fail("pglane-%d exited during the takeover (status %d):\n%s", n,
			               st, log ? log : "");
		}
		cr_assert_lt(it_now_ms(), deadline, "pglane-%d did not take over within 10 s", n);
		it_sleep_ms(20);
	}
	return pid;
}

/* The status code of GET `path` on 127.0.0.1:port, -1 without an answer in 3 s. */
static int http_status(int port, const char *path)
{
	int fd = it_tcp_connect(port);
	char req[256];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
	cr_assert_eq(write(fd, req, (size_t)n), n);
	char buf[512] = "";
	size_t len = 0;
	int64_t deadline = it_now_ms() + 3000;
	while (len < 12 && it_now_ms() < deadline) {
		ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	int code = -1;
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
		code = -1;
	return code;
}

/* pgbench in the background (in DIR): its output and exit code into NAME.out and NAME.rc. */
static pid_t pgbench_start(const struct it_pglane *p, const char *name, const char *args)
{
	char cmd[512], log_path[700];
	snprintf(cmd, sizeof cmd,
	         "PGCONNECT_TIMEOUT=10 pgbench -h 127.0.0.1 -p %d -U postgres -n -S -T 15 %s "
	         "bench > %s.out 2>&1; echo $? > %s.rc",
	         p->port, args, name, name);
	snprintf(log_path, sizeof log_path, "%s/%s.sh.log", p->dir, name);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	return spawn(log_path, p->dir, argv);
}

/* pgbench's verdict: exit 0, no failed transaction, no connection error; the count. */
static long long pgbench_check(const struct it_pglane *p, const char *name)
{
	char path[700];
	snprintf(path, sizeof path, "%s/%s.out", p->dir, name);
	char *out = it_file_read(path);
	snprintf(path, sizeof path, "%s/%s.rc", p->dir, name);
	char *rc = it_file_read(path);
	cr_assert(out && rc, "pgbench %s left no output", name);
	cr_expect_eq(atoi(rc), 0, "pgbench %s exited %s:\n%s", name, rc, out);
	cr_expect_eq(adminq_report_number(out, "number of failed transactions:"), 0,
	             "pgbench %s: failed transactions:\n%s", name, out);
	cr_expect_null(strstr(out, "connection to server"), "pgbench %s: a refused connection:\n%s",
	               name, out);
	cr_expect_null(strstr(out, "could not connect"), "pgbench %s:\n%s", name, out);
	long long n = adminq_report_number(out, "number of transactions actually processed:");
	cr_expect_gt(n, 0, "pgbench %s processed nothing:\n%s", name, out);
	free(out);
	free(rc);
	return n;
}

/* The binary is replaced three times while pgbench -c 50 and pgbench -C run. */
IT_TEST(takeover, rolling_restart_under_pgbench, .timeout = 60)
{
	struct it_pglane *p = it_pglane_start(TAKEOVER_CONF);
	pid_t bench = pgbench_start(p, "persistent", "-c 50 -j 2");
	pid_t storm = pgbench_start(p, "connect", "-C -c 4 -j 1");
	pid_t old[4] = {p->pid, 0, 0, 0};
	char logs[4][700];
	snprintf(logs[0], sizeof logs[0], "%s", p->log_path);
	for (int i = 1; i <= 3; i++) {
		it_sleep_ms(3000);
		old[i] = take_over(p, i, logs[i], sizeof logs[i]);
	}
	/* the one the harness started leaves with pgbench -c 50; never kill it as its own */
	cr_assert_neq(wait_exit(bench, 40000), -1, "pgbench -c 50 still running after 40 s");
	cr_assert_neq(wait_exit(storm, 10000), -1, "pgbench -C still running");
	long long persistent = pgbench_check(p, "persistent");
	long long connect = pgbench_check(p, "connect");
	cr_log_info("rolling restart x3: pgbench -c 50: %lld transactions, pgbench -C -c 4: %lld "
	            "transactions (a connection each)",
	            persistent, connect);
	for (int i = 0; i < 3; i++) {
		int st = wait_exit(old[i], 10000);
		if (i == 0 && st != -1)
			p->pid = 0; /* reaped here: the harness must not stop it again */
		cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		          "pglane %d (pid %d) did not exit cleanly after the takeover (status %d)",
		          i, old[i], st);
		char by[64];
		snprintf(by, sizeof by, "takeover by pid %d: shutting down", old[i + 1]);
		cr_expect(file_has(logs[i], by), "pglane %d: no \"%s\" line", i, by);
		cr_expect(file_has(logs[i], "all clients gone: exiting"), "pglane %d", i);
	}
	/* the last one serves, over TCP and over the Unix socket it was handed */
	char ci[700];
	it_conninfo(ci, sizeof ci, IT_HOST, p->port, "postgres", NULL, "postgres", NULL);
	PGconn *c = it_connect_try(ci);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "TCP: %s", it_conn_error(c));
	if (PQstatus(c) == CONNECTION_OK)
		cr_expect_eq(it_query_ll(c, "SELECT 42"), 42);
	PQfinish(c);
	snprintf(ci, sizeof ci, "host=%s port=%d user=postgres dbname=postgres", p->dir, p->port);
	c = it_connect_try(ci);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "Unix socket: %s", it_conn_error(c));
	PQfinish(c);
	kill(old[3], SIGINT);
	int st = wait_exit(old[3], 10000);
	cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the last pglane: status %d",
	          st);
	if (st == -1)
		kill(old[3], SIGKILL);
	/* the last one to hold the sockets removes their files */
	char path[700];
	struct stat sb;
	snprintf(path, sizeof path, "%s/.s.PGSQL.%d", p->dir, p->port);
	cr_expect_neq(lstat(path, &sb), 0, "%s left behind", path);
	snprintf(path, sizeof path, "%s/.s.PGSQL.%d.takeover", p->dir, p->port);
	cr_expect_neq(lstat(path, &sb), 0, "%s left behind", path);
}

/* --takeover with no pglane running: exit 1, a line saying why, nothing bound. */
IT_TEST(takeover, nothing_to_take_over)
{
	char dir[512], conf[600];
	it_mkdtemp(dir, sizeof dir);
	int port = it_free_port();
	snprintf(conf, sizeof conf, "%s/pglane.conf", dir);
	char text[1024];
	snprintf(text, sizeof text,
	         "listen = { host = \"127.0.0.1\"; port = %d; unix_socket_dir = \"%s\"; };\n"
	         "auth = { type = \"trust\"; };\n",
	         port, dir);
	it_file_write(conf, text);
	char *out = NULL;
	int rc = it_sh(10, &out, "'%s' --takeover -c '%s'", it_pglane_bin(), conf);
	cr_expect_eq(rc, 1, "--takeover with nothing to take over exited %d:\n%s", rc, out);
	cr_expect(strstr(out, "--takeover: no running pglane to take over from at"),
	          "no clear message:\n%s", out);
	cr_expect(strstr(out, ".takeover: No such file or directory"), "%s", out);
	free(out);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, port, "postgres", NULL, "postgres", NULL);
	PGconn *c = it_connect_try(ci);
	cr_expect_neq(PQstatus(c), CONNECTION_OK, "something listens on %d after the failure",
	              port);
	PQfinish(c);
	/* without a Unix socket directory there is no takeover socket at all */
	snprintf(text, sizeof text,
	         "listen = { host = \"127.0.0.1\"; port = %d; unix_socket_dir = \"\"; };\n", port);
	it_file_write(conf, text);
	rc = it_sh(10, &out, "'%s' -R -c '%s'", it_pglane_bin(), conf);
	cr_expect_eq(rc, 1, "-R without unix_socket_dir exited %d:\n%s", rc, out);
	cr_expect(strstr(out, "no takeover socket: listen.unix_socket_dir is empty"), "%s", out);
	free(out);
}

/* A client inside a transaction on the old process finishes it after the takeover; new
 * clients and /healthz reach the new process; the old one exits when that client leaves. */
IT_TEST(takeover, open_transaction_commits_on_the_old_process)
{
	int http = it_http_port();
	char conf[2048];
	snprintf(conf, sizeof conf, TAKEOVER_CONF "admin = { http_port = %d; };\n", http);
	struct it_pglane *p = it_pglane_start(conf);
	it_wait_port(http);
	cr_expect_eq(http_status(http, "/healthz"), 200);
	PGconn *direct = it_connect_direct("postgres", NULL, "bench");
	it_notices_off(direct);
	it_exec_ok(direct, "DROP TABLE IF EXISTS takeover_t");
	it_exec_ok(direct, "CREATE TABLE takeover_t (x int)");
	PGconn *a = it_connect("postgres", NULL, "bench");
	it_exec_ok(a, "BEGIN");
	it_exec_ok(a, "INSERT INTO takeover_t VALUES (1)");
	pid_t old = p->pid;
	char log_path[700];
	pid_t pid = take_over(p, 1, log_path, sizeof log_path);
	int logins = it_log_count("login ok");
	PGconn *b = it_connect("postgres", NULL, "bench");
	cr_expect_eq(it_query_ll(b, "SELECT count(*) FROM takeover_t"), 0, "uncommitted row seen");
	cr_expect_eq(it_log_count("login ok"), logins, "a new client logged in to the old process");
	cr_expect(file_has(log_path, "login ok"), "the new process did not get the new client");
	/* the old one, shutting down, would say 503: the listener was handed over */
	cr_expect_eq(http_status(http, "/healthz"), 200,
	             "/healthz not answered by the new process");
	cr_expect(file_has(log_path, "status page on http://"), "no HTTP listener in the new one");
	it_sleep_ms(300);
	cr_expect(it_pglane_alive(), "the old process left with a transaction open");
	it_exec_ok(a, "INSERT INTO takeover_t VALUES (2)");
	it_exec_ok(a, "COMMIT");
	cr_expect_eq(it_query_ll(b, "SELECT count(*) FROM takeover_t"), 2);
	it_sleep_ms(300);
	cr_expect(it_pglane_alive(), "the old process left while its client was connected");
	PQfinish(a);
	int st = wait_exit(old, 5000);
	cr_assert_neq(st, -1, "the old process still runs 5 s after its last client left");
	p->pid = 0;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "old process status %d", st);
	cr_expect_eq(it_query_ll(b, "SELECT 7"), 7);
	PQfinish(b);
	PQfinish(direct);
	kill(pid, SIGINT);
	st = wait_exit(pid, 10000);
	cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "new process status %d", st);
	if (st == -1)
		kill(pid, SIGKILL);
}

/* A new process that fails after it received the sockets gives them back: the old one goes on
 * serving (its socket files in place), and a later takeover works. */
IT_TEST(takeover, failed_start_leaves_the_old_one_serving)
{
	struct it_pglane *p = it_pglane_start(TAKEOVER_CONF);
	/* its admin.http_port is taken: it fails after it claimed the TCP and Unix sockets */
	int http = it_http_port();
	int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(busy >= 0 && bind(busy, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	          listen(busy, 1) == 0);
	char bad[700], *out = NULL;
	snprintf(bad, sizeof bad, "%s/bad.conf", p->dir);
	char text[4096];
	snprintf(text, sizeof text,
	         "listen = { host = \"127.0.0.1\"; port = %d; unix_socket_dir = \"%s\"; };\n"
	         "admin = { http_port = %d; };\nauth = { type = \"trust\"; };\n"
	         "databases = ( { name = \"*\"; host = \"%s\"; port = %d; } );\n",
	         p->port, p->dir, http, it_pghost(), it_pgport());
	it_file_write(bad, text);
	int rc =
	        it_sh(20, &out, "cd '%s' && '%s' --takeover -c '%s'", p->dir, it_pglane_bin(), bad);
	close(busy);
	cr_expect_eq(rc, 1, "a pglane whose http_port is taken exited %d:\n%s", rc, out);
	cr_expect(strstr(out, "(taken over)"), "it did not claim the Unix socket:\n%s", out);
	cr_expect(strstr(out, "takeover: received"), "it did not get as far as the sockets:\n%s",
	          out);
	cr_expect(strstr(out, "takeover: abandoned"), "%s", out);
	free(out);
	it_sleep_ms(200);
	cr_expect(it_pglane_alive(), "the old process left after a failed takeover");
	cr_expect(it_log_count("takeover by pid") == 0, "the old process shut down");
	cr_expect_eq(it_log_count("the new process went away before it served; still serving"), 1);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT 1"), 1);
	PQfinish(c);
	char ci[700];
	snprintf(ci, sizeof ci, "host=%s port=%d user=postgres dbname=postgres", p->dir, p->port);
	c = it_connect_try(ci);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "Unix socket after a failed takeover: %s",
	             it_conn_error(c));
	PQfinish(c);
	pid_t old = p->pid;
	char log_path[700];
	pid_t pid = take_over(p, 1, log_path, sizeof log_path);
	int st = wait_exit(old, 5000);
	cr_assert_neq(st, -1, "the old process did not leave after the second takeover");
	p->pid = 0;
	kill(pid, SIGINT);
	st = wait_exit(pid, 10000);
	cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "new process status %d", st);
	if (st == -1)
		kill(pid, SIGKILL);
}
