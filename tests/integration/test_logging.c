/* tests/integration/test_logging.c — PgBouncer's logging on pglane: log.file (appended to, as
 * well as stderr, and reopened on SIGHUP after logrotate moved it), syslog(3) with its ident
 * (to a socket of the test's own, bound at /dev/log in a private mount namespace), the
 * log.connections / log.disconnections / log.pooler_errors switches, and log.stats's line. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

TestSuite(logging, .fini = it_pglane_fini, .timeout = 60);

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *s = hay; hay && (s = strstr(s, needle)); s += strlen(needle))
		n++;
	return n;
}

static int file_count(const char *path, const char *needle)
{
	char *t = it_file_read(path);
	int n = count(t, needle);
	free(t);
	return n;
}

static int log_count(const char *needle)
{
	char *t = it_pglane_log();
	int n = count(t, needle);
	free(t);
	return n;
}

/* Poll (bounded) until `path` holds `needle`. */
static bool file_wait(const char *path, const char *needle, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	do {
		if (file_count(path, needle) > 0)
			return true;
		it_sleep_ms(20);
	} while (it_now_ms() < deadline);
	return false;
}

static void one_session(const char *app)
{
	PGconn *c = it_connect_app("postgres", NULL, "postgres", app);
	cr_expect_eq(it_query_ll(c, "SELECT 1"), 1);
	PQfinish(c);
}

IT_TEST(logging, log_file_appends_and_is_reopened_after_a_move)
{
	struct it_pglane *p =
	        it_pglane_start("auth = { type = \"trust\"; };\n"
	                        "pool = { mode = \"transaction\"; size = 2; };\n"
	                        "log = { file = \"pglane-file.log\"; };\n" IT_DATABASES);
	char path[700], moved[720];
	snprintf(path, sizeof path, "%s/pglane-file.log", p->dir);
	snprintf(moved, sizeof moved, "%s.1", path);
	one_session("before_move");
	cr_assert(file_wait(path, "login ok", 2000), "no login line in log.file");
	cr_expect_gt(file_count(path, "started"), 0, "no start line in log.file");
	cr_expect_gt(log_count("login ok"), 0, "log.file took the lines off stderr");

	/* logrotate: move the file, then SIGHUP */
	cr_assert_eq(rename(path, moved), 0);
	one_session("after_move_before_hup");
	cr_assert(file_wait(moved, "after_move_before_hup", 2000) ||
	                  file_wait(moved, "closing", 10),
	          "before SIGHUP the lines go on into the moved file");
	cr_assert_eq(kill(p->pid, SIGHUP), 0);
	struct stat st;
	int64_t deadline = it_now_ms() + 3000;
	while (stat(path, &st) != 0 && it_now_ms() < deadline)
		it_sleep_ms(20);
	cr_assert_eq(stat(path, &st), 0, "log.file was not reopened after SIGHUP");
	int moved_before = file_count(moved, "login ok");
	one_session("after_hup");
	cr_expect(file_wait(path, "login ok", 2000), "no login line in the new log.file");
	cr_expect_eq(file_count(moved, "login ok"), moved_before,
	             "lines still go to the moved file after SIGHUP");
	cr_expect(it_pglane_alive());
}

IT_TEST(logging, switches_suppress_their_lines)
{
	it_pglane_start(
	        "auth = { type = \"trust\"; };\n"
	        "pool = { mode = \"transaction\"; size = 2; max_db_client_connections = 1; };\n"
	        "log = { connections = false; disconnections = false; pooler_errors = false; "
	        "};\n" IT_DATABASES);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1);
	/* a pooler error: the second client is over max_db_client_connections */
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            NULL);
	PGconn *b = it_connect_try(ci);
	cr_expect_neq(PQstatus(b), CONNECTION_OK, "max_db_client_connections let a second in");
	cr_expect(strstr(it_conn_error(b), "max_db_client_connections") != NULL, "error: %s",
	          it_conn_error(b));
	PQfinish(b);
	PQfinish(a);
	it_sleep_ms(300);
	cr_expect_eq(log_count("login ok"), 0, "log.connections = false, still logged");
	cr_expect_eq(log_count("closing"), 0, "log.disconnections = false, still logged");
	cr_expect_eq(log_count("max_db_client_connections"), 0,
	             "log.pooler_errors = false, still logged");
	cr_expect_gt(log_count("started"), 0, "no log at all");
}

/* The same with the switches at their defaults: the lines are there (so the test above can
 * fail). */
IT_TEST(logging, switches_default_on)
{
	it_pglane_start("auth = { type = \"trust\"; };\n"
	                "pool = { mode = \"transaction\"; size = 2; max_db_client_connections = 1; "
	                "};\n" IT_DATABASES);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            NULL);
	PGconn *b = it_connect_try(ci);
	cr_expect_neq(PQstatus(b), CONNECTION_OK);
	PQfinish(b);
	PQfinish(a);
	it_sleep_ms(300);
	cr_expect_gt(log_count("login ok"), 0, "no connection line");
	cr_expect_gt(log_count("closing"), 0, "no disconnection line");
	cr_expect_gt(log_count("refused: no more connections allowed (max_db_client_connections)"),
	             0, "no pooler error line");
}

IT_TEST(logging, log_stats_line_every_period)
{
	it_pglane_start("auth = { type = \"trust\"; };\n"
	                "pool = { mode = \"transaction\"; size = 2; };\n"
	                "log = { stats = true; stats_period = \"1s\"; };\n" IT_DATABASES);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGresult *pr = PQprepare(a, "st", "SELECT 1", 0, NULL);
	cr_assert_eq(PQresultStatus(pr), PGRES_COMMAND_OK, "%s", PQerrorMessage(a));
	PQclear(pr);
	int64_t end = it_now_ms() + 2300;
	int n = 0;
	while (it_now_ms() < end && n < 5000) {
		cr_assert_eq(it_query_ll(a, "SELECT 1"), 1);
		PGresult *er = PQexecPrepared(a, "st", 0, NULL, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(er), PGRES_TUPLES_OK, "%s", PQerrorMessage(a));
		PQclear(er);
		n++;
		it_sleep_ms(2);
	}
	PQfinish(a);
	int lines = log_count("stats: ");
	cr_expect_geq(lines, 2, "%d stats lines in 2.3 s with stats_period 1s", lines);
	char *log = it_pglane_log();
	/* one line of the busy period has a non-zero rate */
	bool busy = false;
	for (char *s = log; (s = strstr(s, "stats: ")); s++) {
		unsigned long long xacts, queries, cp, sp, binds, in, out, xt, qt, wt;
		if (sscanf(s,
		           "stats: %llu xacts/s, %llu queries/s, %llu client parses/s, %llu server "
		           "parses/s, %llu binds/s, in %llu B/s, out %llu B/s, xact %llu us, query "
		           "%llu us, wait %llu us",
		           &xacts, &queries, &cp, &sp, &binds, &in, &out, &xt, &qt, &wt) == 10 &&
		    xacts > 0 && queries > 0 && binds > 0 && in > 0 && out > 0 && qt > 0)
			busy = true;
	}
	cr_expect(busy, "no stats line with traffic (%d queries ran); log:\n%s", n, log);
	free(log);
}

IT_TEST(logging, log_stats_off_no_line)
{
	it_pglane_start("auth = { type = \"trust\"; };\n"
	                "pool = { mode = \"transaction\"; size = 2; };\n"
	                "log = { stats = false; stats_period = \"1s\"; };\n" IT_DATABASES);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(a, "SELECT 1"), 1);
	it_sleep_ms(1500);
	PQfinish(a);
	cr_expect_eq(log_count("stats: "), 0, "log.stats = false, a stats line anyway");
}

/* syslog(3) writes to /dev/log. This machine may have none; the test binds its own datagram
 * socket and runs pglane in a private mount namespace whose /dev/log is that socket
 * (unshare(1), as root). Skipped, and said so, when that cannot be done. */
IT_TEST(logging, syslog_gets_the_lines_with_its_ident)
{
	if (geteuid() != 0 || system("unshare -m true >/dev/null 2>&1") != 0)
		cr_skip_test("syslog: no private mount namespace here (needs root and unshare)");
	char dir[512];
	it_mkdtemp(dir, sizeof dir);
	char sock[600], wrap[600], bin[1024];
	snprintf(sock, sizeof sock, "%s/log.sock", dir);
	snprintf(wrap, sizeof wrap, "%s/pglane-ns.sh", dir);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	cr_assert_lt(strlen(sock), sizeof sa.sun_path);
	strcpy(sa.sun_path, sock);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	chmod(sock, 0666);
	snprintf(bin, sizeof bin, "%s", it_pglane_bin());
	char script[8192];
	/* /dev/log: a bind mount needs a file to mount over; a tmpfs over /dev would hide the
	 * rest, so the socket is mounted over /dev/log only when it exists, else over a tmpfs
	 * /dev with /dev/null and /dev/urandom bound back. */
	snprintf(script, sizeof script,
	         "#!/bin/sh\n"
	         "exec unshare -m sh -c '\n"
	         "mount --make-rprivate / 2>/dev/null\n"
	         "if [ -e /dev/log ]; then mount --bind %s /dev/log || exit 97\n"
	         "else mkdir -p %s/realdev && mount --bind /dev %s/realdev &&\n"
	         "  mount -t tmpfs none /dev && for f in null zero urandom random; do\n"
	         "  touch /dev/$f && mount --bind %s/realdev/$f /dev/$f; done &&\n"
	         "  ln -s %s /dev/log || exit 97; fi\n"
	         "exec \"$0\" \"$@\"' %s \"$@\"\n",
	         sock, dir, dir, dir, sock, bin);
	it_file_write(wrap, script);
	chmod(wrap, 0755);
	setenv("PGLANE_BIN", wrap, 1);
	it_pglane_start("auth = { type = \"trust\"; };\n"
	                "pool = { mode = \"transaction\"; size = 2; };\n"
	                "log = { syslog = true; syslog_ident = \"pglane-it\"; "
	                "syslog_facility = \"local3\"; };\n" IT_DATABASES);
	setenv("PGLANE_BIN", bin, 1);
	one_session("via_syslog");
	/* read what arrived: "<PRI>TIMESTAMP pglane-it[pid]: info: ..." */
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char all[16384] = "";
	size_t len = 0;
	int64_t deadline = it_now_ms() + 3000;
	while (it_now_ms() < deadline && !strstr(all, "login ok")) {
		char buf[2048];
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		if (n > 0 && len + (size_t)n + 2 < sizeof all) {
			memcpy(all + len, buf, (size_t)n);
			len += (size_t)n;
			all[len++] = '\n';
			all[len] = '\0';
		}
	}
	close(fd);
	cr_expect(strstr(all, "pglane-it[") != NULL, "no line with the ident; got:\n%s", all);
	cr_expect(strstr(all, "login ok") != NULL, "no login line via syslog; got:\n%s", all);
	/* local3 = 19, info = 6: 19 * 8 + 6 = 158 */
	cr_expect(strstr(all, "<158>") != NULL, "no local3.info priority; got:\n%s", all);
	/* syslog stamps its own time: the line body starts at the level */
	cr_expect(strstr(all, ": info: ") != NULL, "got:\n%s", all);
	/* stderr keeps its lines too */
	cr_expect_gt(log_count("login ok"), 0, "syslog took the lines off stderr");
}

/* The console's RELOAD reopens log.file as SIGHUP does. */
IT_TEST(logging, log_file_reopened_on_console_reload)
{
	struct it_pglane *p = it_pglane_start("auth = { type = \"trust\"; };\n"
	                                      "pool = { mode = \"transaction\"; size = 2; };\n"
	                                      "log = { file = \"rot.log\"; };\n" IT_DATABASES);
	char path[700], moved[720];
	snprintf(path, sizeof path, "%s/rot.log", p->dir);
	snprintf(moved, sizeof moved, "%s.1", path);
	PGconn *a = adminq_connect("admin");
	cr_assert(file_wait(path, "admin console login ok", 2000), "no console line in log.file");
	cr_assert_eq(rename(path, moved), 0);
	PGresult *r = PQexec(a, "RELOAD");
	cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK, "RELOAD: %s", PQerrorMessage(a));
	PQclear(r);
	int moved_before = file_count(moved, "login ok");
	one_session("after_reload");
	cr_expect(file_wait(path, "login ok", 2000), "no login line in the reopened log.file");
	cr_expect_eq(file_count(moved, "login ok"), moved_before,
	             "lines still go to the moved file after RELOAD");
	PQfinish(a);
}

/* A log.file that cannot be opened: pglane does not start, and says why. */
IT_TEST(logging, log_file_unopenable_refuses_start)
{
	char dir[512], conf[600];
	it_mkdtemp(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/pglane.conf", dir);
	char text[1024];
	snprintf(text, sizeof text,
	         "listen = { port = %d; };\n"
	         "log = { file = \"no/such/dir/pglane.log\"; };\n",
	         it_free_port());
	it_file_write(conf, text);
	char *out = NULL;
	int rc = it_sh(10, &out, "%s -c %s", it_pglane_bin(), conf);
	cr_expect_eq(rc, 1, "exit code %d; output:\n%s", rc, out ? out : "");
	cr_expect(out && strstr(out, "log.file") && strstr(out, "No such file or directory"),
	          "output:\n%s", out ? out : "");
	free(out);
}
