/* tests/integration/test_unix.c — pglane's Unix socket (issue 15): psql and pgbench through
 * `-h <dir>`, the socket file's mode and group, SHOW CLIENTS addr/port/local_addr "unix" as
 * PgBouncer shows them, hba "local" (only socket clients) beside CIDR rules (only TCP) and "all"
 * (both), peer authentication accepting the OS user of the same name (root, and the unprivileged
 * user `pglane` through runuser when the test runs as root) and refusing another name with
 * PostgreSQL's message, the admin console without a password for pglane's own OS user (user
 * pglane or pgbouncer; others as over TCP), TLS refused over the socket (and not required
 * there), a cancel request through the socket, a stale socket file replaced and the file
 * removed at exit, and the start refused when another process listens on the socket, when the
 * path is not a socket or the group does not exist.
 *
 * Each test's socket goes in a short directory of its own under /tmp (a socket path holds 107
 * bytes; PGLANE_TEST_TMP may be long), removed by the suite's .fini. */
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/tlscerts.h"

static char g_sockdir[64];

static void own_stop(void);

static void unix_fini(void)
{
	it_pglane_fini();
	own_stop();
	if (g_sockdir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_sockdir);
		int rc = system(cmd);
		(void)rc;
		g_sockdir[0] = '\0';
	}
}

TestSuite(unix, .fini = unix_fini, .timeout = 90);

/* A short directory for the socket, world-searchable (runuser's psql must reach it). */
static const char *sockdir(void)
{
	if (!g_sockdir[0]) {
		snprintf(g_sockdir, sizeof g_sockdir, "/tmp/pglane-sock-XXXXXX");
		cr_assert(mkdtemp(g_sockdir), "mkdtemp: %s", strerror(errno));
		chmod(g_sockdir, 0755);
	}
	return g_sockdir;
}

static const char *sockpath(int port)
{
	static char path[100];
	snprintf(path, sizeof path, "%s/.s.PGSQL.%d", sockdir(), port);
	return path;
}

/* The name of the OS user running the test (root in CI). */
static const char *me(void)
{
	struct passwd *pw = getpwuid(getuid());
	cr_assert(pw, "no passwd entry for uid %u", (unsigned)getuid());
	static char name[64];
	snprintf(name, sizeof name, "%s", pw->pw_name);
	return name;
}

/* A connection through the socket, verbose errors; never fails the test. */
static PGconn *sock_try(const char *user, const char *password, const char *db, const char *extra)
{
	char ci[1024];
	it_conninfo(ci, sizeof ci, sockdir(), it_pglane_current()->port, user, password, db, extra);
	return it_connect_try(ci);
}

/* pglane with the socket in sockdir(); `listen_extra` inside the listen group, `rest` after;
 * an auth file users.txt with `users` when not NULL. */
static void start_unix_users(const char *listen_extra, const char *rest, const char *users)
{
	char conf[4096];
	snprintf(conf, sizeof conf,
	         "listen = { host = \"127.0.0.1\"; port = @PORT@; unix_socket_dir = \"%s\"; %s };\n"
	         "%s",
	         sockdir(), listen_extra ? listen_extra : "", rest);
	if (users)
		it_pglane_start_with_users(conf, users);
	else
		it_pglane_start(conf);
}

static void start_unix(const char *listen_extra, const char *rest)
{
	start_unix_users(listen_extra, rest, NULL);
}

#define TRUST_POSTGRES                                                                             \
	"auth = { type = \"trust\"; };\n"                                                          \
	"pool = { mode = \"transaction\"; size = 4; };\n"                                          \
	"log = { level = \"debug\"; };\n"                                                          \
	"databases = ( { name = \"*\"; host = \"@PGHOST@\"; port = @PGPORT@; user = "              \
	"\"postgres\"; } );\n"

IT_TEST(unix, psql_and_pgbench_through_the_socket)
{
	start_unix(NULL, TRUST_POSTGRES);
	int port = it_pglane_current()->port;
	struct stat st;
	cr_assert_eq(lstat(sockpath(port), &st), 0, "no %s: %s", sockpath(port), strerror(errno));
	cr_expect(S_ISSOCK(st.st_mode), "%s is not a socket", sockpath(port));
	cr_expect_eq(st.st_mode & 07777, 0777u, "mode %o, expected the default 0777",
	             st.st_mode & 07777);
	char *log = it_pglane_log();
	char want[200];
	snprintf(want, sizeof want, "listening on unix:%s", sockpath(port));
	cr_expect(strstr(log, want), "no \"%s\" in the log:\n%s", want, log);
	free(log);

	char *out = NULL;
	int rc = it_sh(30, &out,
	               "psql -X -h '%s' -p %d -U postgres -d postgres -Atc "
	               "\"SELECT 'via ' || coalesce(inet_client_addr()::text, 'socket'), 6 * 7\"",
	               sockdir(), port);
	cr_expect_eq(rc, 0, "psql through the socket: %d\n%s", rc, out);
	/* the server side is TCP from pglane; the client side reached it through the socket */
	cr_expect(strstr(out, "|42"), "psql printed:\n%s", out);
	free(out);

	rc = it_sh(60, &out, "pgbench -h '%s' -p %d -U postgres -n -c 2 -t 25 bench", sockdir(),
	           port);
	cr_expect_eq(rc, 0, "pgbench through the socket: %d\n%s", rc, out);
	cr_expect(strstr(out, "number of transactions actually processed: 50/50"),
	          "pgbench printed:\n%s", out);
	cr_expect(!strstr(out, "error"), "pgbench printed:\n%s", out);
	free(out);

	/* SHOW CLIENTS: a socket client as PgBouncer shows it, a TCP one as before */
	PGconn *held = sock_try("postgres", NULL, "postgres", "application_name='via_socket'");
	cr_assert_eq(PQstatus(held), CONNECTION_OK, "%s", it_conn_error(held));
	PGconn *admin = sock_try("pglane", NULL, "pglane", NULL);
	cr_assert_eq(PQstatus(admin), CONNECTION_OK, "console: %s", it_conn_error(admin));
	PGconn *tcp = it_connect("postgres", NULL, "postgres");
	PGresult *r = adminq_show(admin, "SHOW CLIENTS");
	int row = adminq_find(r, "application_name", "via_socket", NULL, NULL);
	cr_assert_geq(row, 0, "no client with application_name via_socket");
	cr_expect_str_eq(adminq_cell(r, row, "addr"), "unix");
	cr_expect_eq(adminq_cell_ll(r, row, "port"), port);
	cr_expect_str_eq(adminq_cell(r, row, "local_addr"), "unix");
	cr_expect_eq(adminq_cell_ll(r, row, "local_port"), port);
	/* PgBouncer's remote_pid of a socket client: the connecting process (this one) */
	cr_expect_eq(adminq_cell_ll(r, row, "remote_pid"), (long long)getpid());
	cr_expect_eq(adminq_count(r, "addr", "127.0.0.1", NULL, NULL), 1,
	             "the TCP client is not shown with 127.0.0.1");
	PQclear(r);
	PQfinish(tcp);
	PQfinish(admin);
	PQfinish(held);

	/* log lines name the socket client "unix" */
	log = it_pglane_log();
	cr_expect(strstr(log, " unix:"), "no log line names a unix client:\n%s", log);
	free(log);

	/* the file goes with pglane */
	it_pglane_stop(NULL);
	cr_expect_neq(lstat(sockpath(port), &st), 0, "%s is still there after pglane stopped",
	              sockpath(port));
}

/* A group that exists and is not this process's own (so that chgrp shows). */
static const char *other_group(gid_t *gid)
{
	static const char *const names[] = {"daemon", "nogroup", "bin", "sys", "pglane"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct group *g = getgrnam(names[i]);
		if (g && g->gr_gid != getegid()) {
			*gid = g->gr_gid;
			return names[i];
		}
	}
	cr_assert_fail("none of daemon, nogroup, bin, sys, pglane is a group here");
	return NULL;
}

IT_TEST(unix, socket_mode_and_group)
{
	gid_t gid;
	const char *group = other_group(&gid);
	char extra[200];
	snprintf(extra, sizeof extra, "unix_socket_mode = \"0770\"; unix_socket_group = \"%s\";",
	         group);
	start_unix(extra, TRUST_POSTGRES);
	struct stat st;
	const char *path = sockpath(it_pglane_current()->port);
	cr_assert_eq(lstat(path, &st), 0, "no %s: %s", path, strerror(errno));
	cr_expect_eq(st.st_mode & 07777, 0770u, "mode %o, expected 0770", st.st_mode & 07777);
	cr_expect_eq(st.st_gid, gid, "group %u, expected %s (%u)", (unsigned)st.st_gid, group,
	             (unsigned)gid);
	PGconn *c = sock_try("postgres", NULL, "postgres", NULL);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "%s", it_conn_error(c));
	PQfinish(c);
}

#define PEER_HBA                                                                                   \
	"hba = (\n"                                                                                \
	"  { address = \"local\"; database = \"all\"; user = \"all\"; method = \"peer\"; },\n"     \
	"  { address = \"127.0.0.1/32\"; user = \"rejected\"; method = \"reject\"; },\n"           \
	"  { address = \"all\"; method = \"trust\"; }\n"                                           \
	");\n"

IT_TEST(unix, peer_accepts_the_os_user_and_refuses_another)
{
	start_unix(NULL, TRUST_POSTGRES PEER_HBA);
	int port = it_pglane_current()->port;
	const char *self = me();
	const char *other = strcmp(self, "postgres") != 0 ? "postgres" : "root";

	/* the OS user's own name: in, and the server side logs in as the database's user */
	PGconn *c = sock_try(self, NULL, "postgres", NULL);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "peer as %s: %s", self, it_conn_error(c));
	char *who = it_query_str(c, "SELECT current_user");
	cr_expect_str_eq(who, "postgres");
	free(who);
	PQfinish(c);

	/* another name: PostgreSQL's FATAL, SQLSTATE 28000 */
	c = sock_try(other, NULL, "postgres", NULL);
	cr_expect_neq(PQstatus(c), CONNECTION_OK, "peer let %s in as %s", self, other);
	char want[200];
	snprintf(want, sizeof want, "28000: peer authentication failed for user \"%s\"", other);
	cr_expect(strstr(it_conn_error(c), want), "\"%s\", expected \"%s\"", it_conn_error(c),
	          want);
	PQfinish(c);
	char *log = it_pglane_log();
	char why[200];
	snprintf(why, sizeof why, "the user name \"%s\" is not the OS user \"%s\"", other, self);
	cr_expect(strstr(log, why), "no \"%s\" in the log", why);
	free(log);

	/* over TCP the local rule does not apply: the CIDR and "all" rules do */
	c = it_connect("postgres", NULL, "postgres");
	PQfinish(c);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, port, "rejected", NULL, "postgres", NULL);
	c = it_connect_try(ci);
	cr_expect(strstr(it_conn_error(c), "an hba rule rejects the connection for host "
	                                   "\"127.0.0.1\", user \"rejected\""),
	          "%s", it_conn_error(c));
	PQfinish(c);
	/* ... and the CIDR rule does not apply to the socket: "rejected" meets peer there */
	c = sock_try("rejected", NULL, "postgres", NULL);
	cr_expect(strstr(it_conn_error(c), "peer authentication failed for user \"rejected\""),
	          "%s", it_conn_error(c));
	PQfinish(c);

	/* an unprivileged OS user: its own name in, another out (needs root for runuser) */
	if (getuid() == 0) {
		cr_assert(getpwnam("pglane"), "no OS user pglane (tests/pg.sh creates it as root)");
		char *out = NULL;
		int rc = it_sh(30, &out,
		               "cd / && runuser -u pglane -- psql -X -h '%s' -p %d -U pglane -d "
		               "postgres -Atc 'SELECT 1 + 1'",
		               sockdir(), port);
		cr_expect_eq(rc, 0, "psql as OS user pglane, user pglane: %d\n%s", rc, out);
		cr_expect(out && strstr(out, "2"), "%s", out);
		free(out);
		rc = it_sh(30, &out,
		           "cd / && runuser -u pglane -- psql -X -h '%s' -p %d -U postgres -d "
		           "postgres -Atc 'SELECT 1'",
		           sockdir(), port);
		cr_expect_neq(rc, 0, "psql as OS user pglane, user postgres got in:\n%s", out);
		cr_expect(out && strstr(out, "peer authentication failed for user \"postgres\""),
		          "%s", out);
		free(out);
	}
}

IT_TEST(unix, admin_console_for_pglanes_own_os_user)
{
	/* SCRAM for everyone and admins with passwords: over the socket, pglane's own OS user
	 * (this process's: pglane is its child) gets into the console without one, as user
	 * pglane or pgbouncer (PgBouncer's rule), with full rights */
	start_unix_users(
	        NULL,
	        "auth = { type = \"scram-sha-256\"; file = \"users.txt\"; };\n"
	        "admin = { users = [ \"admin\" ]; stats_users = [ \"stats\" ]; };\n"
	        "log = { level = \"debug\"; };\n"
	        "databases = ( { name = \"*\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n",
	        "\"admin\" \"admin_pw\"\n\"stats\" \"stats_pw\"\n");
	int port = it_pglane_current()->port;
	static const char *const own[] = {"pglane", "pgbouncer"};
	for (size_t i = 0; i < 2; i++) {
		PGconn *c = sock_try(own[i], NULL, "pglane", NULL);
		cr_assert_eq(PQstatus(c), CONNECTION_OK, "console as %s over the socket: %s",
		             own[i], it_conn_error(c));
		PGresult *r = adminq_show(c, "SHOW CLIENTS");
		int row = adminq_find(r, "user", own[i], "database", "pglane");
		cr_expect_geq(row, 0, "SHOW CLIENTS has no %s@pglane row", own[i]);
		if (row >= 0)
			cr_expect_str_eq(adminq_cell(r, row, "addr"), "unix");
		PQclear(r);
		/* full rights: a command stats users may not run */
		r = PQexec(c, "RELOAD");
		cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK, "RELOAD as %s: %s", own[i],
		             PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(c);
	}
	char *log = it_pglane_log();
	cr_expect(strstr(log, "admin console access from the Unix socket"),
	          "no log line for the passwordless console login");
	free(log);

	/* other names over the socket: as over TCP (a password; a wrong one fails) */
	PGconn *c = sock_try("admin", NULL, "pglane", NULL);
	cr_expect_neq(PQstatus(c), CONNECTION_OK,
	              "admin got in over the socket without a password");
	PQfinish(c);
	c = sock_try("admin", "admin_pw", "pglane", NULL);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "admin with its password: %s", it_conn_error(c));
	PQfinish(c);
	c = sock_try("stats", "wrong", "pglane", NULL);
	cr_expect(strstr(it_conn_error(c), "28P01"), "stats, wrong password: %s", it_conn_error(c));
	PQfinish(c);
	/* the console's own names are not an open door: not over TCP, not to a database */
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, port, "pglane", NULL, "pglane", NULL);
	c = it_connect_try(ci);
	cr_expect_neq(PQstatus(c), CONNECTION_OK, "user pglane got in over TCP");
	PQfinish(c);
	c = sock_try("pglane", NULL, "postgres", NULL);
	cr_expect_neq(PQstatus(c), CONNECTION_OK, "user pglane got into database postgres");
	PQfinish(c);
	/* nor for another OS user (needs root for runuser) */
	if (getuid() == 0) {
		char *out = NULL;
		int rc = it_sh(30, &out,
		               "cd / && runuser -u pglane -- psql -X -w -h '%s' -p %d -U pglane -d "
		               "pglane -Atc 'SHOW VERSION'",
		               sockdir(), port);
		cr_expect_neq(rc, 0, "OS user pglane (not pglane's uid) got into the console:\n%s",
		              out);
		free(out);
	}
}

IT_TEST(unix, no_tls_over_the_socket)
{
	char extra[1600];
	snprintf(extra, sizeof extra, "tls = { mode = \"require\"; cert = \"%s\"; key = \"%s\"; };",
	         tls_cert("server.crt"), tls_cert("server.key"));
	start_unix(extra, TRUST_POSTGRES);
	/* an SSLRequest over the socket is answered 'N', as PostgreSQL does (libpq sends
	 * none over a socket, whatever its sslmode: this is a raw one) */
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	memcpy(un.sun_path, sockpath(it_pglane_current()->port), 100);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&un, sizeof un), 0, "%s", strerror(errno));
	static const unsigned char ssl_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	cr_assert_eq(write(fd, ssl_request, sizeof ssl_request), 8);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char answer = 0;
	cr_expect_eq(read(fd, &answer, 1), 1, "no answer to the SSLRequest");
	cr_expect_eq(answer, 'N', "SSLRequest over the socket answered '%c'", answer);
	close(fd);
	char *log = it_pglane_log();
	cr_expect(!strstr(log, "TLS TLSv1"), "a TLS handshake over the socket:\n%s", log);
	free(log);
	PGconn *c = sock_try("postgres", NULL, "postgres", "sslmode='require'");
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "%s", it_conn_error(c));
	cr_expect_not(PQsslInUse(c));
	PQfinish(c);
	/* and listen.tls.mode = require does not apply there (PgBouncer's rule) */
	c = sock_try("postgres", NULL, "postgres", "sslmode='prefer'");
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "%s", it_conn_error(c));
	cr_expect_not(PQsslInUse(c));
	PQfinish(c);
	/* TCP still requires it */
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            "sslmode='disable'");
	c = it_connect_try(ci);
	cr_expect(strstr(it_conn_error(c), "pglane requires TLS (listen.tls.mode = require)"), "%s",
	          it_conn_error(c));
	PQfinish(c);
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            "sslmode='require'");
	c = it_connect_try(ci);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "%s", it_conn_error(c));
	cr_expect(PQsslInUse(c));
	PQfinish(c);
}

/* A pglane started by the test itself on a port it chose (the harness picks its own), killed
 * with its test (PR_SET_PDEATHSIG) and stopped by the suite's .fini. */
static pid_t g_own_pid;

static pid_t launch(const char *conf_path, const char *log_path)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(it_pglane_bin(), it_pglane_bin(), "-c", conf_path, (char *)NULL);
		_exit(127);
	}
	g_own_pid = pid;
	return pid;
}

static void own_stop(void)
{
	if (!g_own_pid)
		return;
	kill(g_own_pid, SIGTERM);
	for (int i = 0; i < 500 && waitpid(g_own_pid, NULL, WNOHANG) == 0; i++)
		usleep(10000);
	if (waitpid(g_own_pid, NULL, WNOHANG) == 0) {
		kill(g_own_pid, SIGKILL);
		waitpid(g_own_pid, NULL, 0);
	}
	g_own_pid = 0;
}

/* A socket file at `path` left behind (bound, closed, not removed); when `live`, still
 * listening: the descriptor is returned (else -1). */
static int socket_file(const char *path, bool live)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	cr_assert_lt(strlen(path), sizeof un.sun_path);
	memcpy(un.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&un, sizeof un), 0, "bind %s: %s", path,
	             strerror(errno));
	if (live) {
		cr_assert_eq(listen(fd, 8), 0);
		return fd;
	}
	close(fd);
	return -1;
}

/* The config of a pglane on `port` with its socket in sockdir() and `listen_extra`. */
static const char *own_conf(int port, const char *listen_extra)
{
	static char path[128];
	snprintf(path, sizeof path, "%s/pglane-%d.conf", sockdir(), port);
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "listen = { host = \"127.0.0.1\"; port = %d; unix_socket_dir = \"%s\"; %s };\n"
	         "auth = { type = \"trust\"; };\n"
	         "log = { level = \"debug\"; };\n"
	         "databases = ( { name = \"*\"; host = \"%s\"; port = %d; user = \"postgres\"; } "
	         ");\n",
	         port, sockdir(), listen_extra ? listen_extra : "", it_pghost(), it_pgport());
	it_file_write(path, conf);
	return path;
}

/* Run pglane on the config at `conf_path` and expect it to refuse to start (exit 1) with
 * `err` in its output. */
static void expect_start_refused(const char *conf_path, const char *err, const char *what)
{
	char *out = NULL;
	int rc = it_sh(20, &out, "'%s' -c '%s'", it_pglane_bin(), conf_path);
	cr_expect_eq(rc, 1, "%s: pglane exited with %d (expected 1):\n%s", what, rc, out);
	cr_expect(out && strstr(out, err), "%s: no \"%s\" in:\n%s", what, err, out);
	free(out);
}

/* Connect through the socket of port `port`, retrying for up to 10 s. */
static bool socket_serves(int port)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, sockdir(), port, "postgres", NULL, "postgres", NULL);
	for (int i = 0; i < 500; i++) {
		PGconn *c = it_connect_try(ci);
		bool ok = PQstatus(c) == CONNECTION_OK;
		PQfinish(c);
		if (ok)
			return true;
		it_sleep_ms(20);
	}
	return false;
}

IT_TEST(unix, stale_socket_replaced_live_one_refused)
{
	/* a file left by a process that died (a pglane killed with SIGKILL leaves one):
	 * replaced */
	int port = it_free_port();
	(void)socket_file(sockpath(port), false);
	char log_path[128];
	snprintf(log_path, sizeof log_path, "%s/pglane-%d.log", sockdir(), port);
	launch(own_conf(port, NULL), log_path);
	cr_assert(socket_serves(port), "no pglane behind %s", sockpath(port));
	char *log = it_file_read(log_path);
	char want[200];
	snprintf(want, sizeof want, "removed the stale socket %s", sockpath(port));
	cr_expect(log && strstr(log, want), "no \"%s\" in the log:\n%s", want, log);
	free(log);

	/* a second pglane for the same socket (another TCP address, so only the socket
	 * conflicts) does not take it over */
	char conf2[2048];
	snprintf(conf2, sizeof conf2,
	         "listen = { host = \"127.0.0.2\"; port = %d; unix_socket_dir = \"%s\"; };\n"
	         "auth = { type = \"trust\"; };\n",
	         port, sockdir());
	char conf2_path[128];
	snprintf(conf2_path, sizeof conf2_path, "%s/second.conf", sockdir());
	it_file_write(conf2_path, conf2);
	snprintf(want, sizeof want, "another process listens on %s", sockpath(port));
	expect_start_refused(conf2_path, want, "a second pglane on the same socket");
	cr_expect(socket_serves(port), "the first pglane lost its socket");

	/* stopped, it removes its file */
	own_stop();
	struct stat st;
	cr_expect_neq(lstat(sockpath(port), &st), 0, "%s is still there after SIGTERM",
	              sockpath(port));

	/* a socket another program listens on */
	int port2 = it_free_port();
	int live = socket_file(sockpath(port2), true);
	snprintf(want, sizeof want, "another process listens on %s", sockpath(port2));
	expect_start_refused(own_conf(port2, NULL), want, "a live socket of another program");
	cr_expect_eq(lstat(sockpath(port2), &st), 0, "pglane removed a live socket");
	close(live);

	/* not a socket: left alone */
	int port3 = it_free_port();
	it_file_write(sockpath(port3), "not a socket\n");
	expect_start_refused(own_conf(port3, NULL), "exists and is not a socket",
	                     "a regular file at the socket's path");
	cr_expect_eq(lstat(sockpath(port3), &st), 0);
	cr_expect(S_ISREG(st.st_mode));

	/* a group that does not exist */
	int port4 = it_free_port();
	expect_start_refused(own_conf(port4, "unix_socket_group = \"no_such_group_pglane\";"),
	                     "listen.unix_socket_group: no group \"no_such_group_pglane\"",
	                     "a missing group");
	cr_expect_neq(lstat(sockpath(port4), &st), 0, "the socket of a refused start stayed");
}

/* libpq sends a cancel request through the socket too: it reaches the query. */
IT_TEST(unix, cancel_through_the_socket)
{
	start_unix(NULL, TRUST_POSTGRES);
	PGconn *c = sock_try("postgres", NULL, "postgres", NULL);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", it_conn_error(c));
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(20)"));
	cr_assert_geq(
	        it_wait_backends(NULL, 1, 5000, "active", "postgres", NULL, "%pg_sleep(20)%", NULL),
	        0, "the query did not start");
	int64_t t0 = it_now_ms();
	PGcancel *k = PQgetCancel(c);
	char err[256];
	cr_assert(PQcancel(k, err, sizeof err), "PQcancel: %s", err);
	PQfreeCancel(k);
	bool timed_out = false;
	PGresult *r = it_result_wait(c, 10000, &timed_out);
	cr_assert_not(timed_out, "the cancel did not reach the query");
	cr_expect_str_eq(it_sqlstate(r), "57014", "%s", PQresultErrorMessage(r));
	cr_expect_lt(it_now_ms() - t0, 5000);
	PQclear(r);
	PQfinish(c);
}
