/* tests/integration/harness.c — the integration-test harness (see harness.h): pglane processes
 * in temp dirs, libpq helpers, pg_stat_activity counts, shell commands with a timeout, and a
 * report hook that prints the pglane log of every failed test. */
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS   10000
#define STOP_TIMEOUT_MS    10000
#define CONNECT_TIMEOUT_MS 15000
#define SH_OUTPUT_MAX      (8u << 20)

static struct it_pglane g_pglane; /* this test process's pglane */

/* ---- environment and small utilities ---- */

const char *it_pghost(void)
{
	const char *h = getenv("PGLANE_TEST_PGHOST");
	return h && *h ? h : IT_HOST;
}

int it_pgport(void)
{
	const char *p = getenv("PGLANE_TEST_PGPORT");
	cr_assert(p && *p,
	          "PGLANE_TEST_PGPORT is not set: run the integration tests with tests/run.sh");
	int port = atoi(p);
	cr_assert(port > 0 && port < 65536, "PGLANE_TEST_PGPORT=%s is not a port", p);
	return port;
}

const char *it_pglane_bin(void)
{
	const char *b = getenv("PGLANE_BIN");
	cr_assert(b && *b, "PGLANE_BIN is not set: run the integration tests with tests/run.sh");
	cr_assert(access(b, X_OK) == 0, "PGLANE_BIN=%s is not executable", b);
	return b;
}

int64_t it_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static bool port_is_free(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

int it_free_port(void)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)it_now_ms();
	for (int i = 0; i < 200; i++) {
		int port = 20000 + (int)(rand_r(&seed) % 10000);
		if (port != it_pgport() && port_is_free(port))
			return port;
	}
	cr_assert_fail("no free port found in 20000-29999");
	return -1;
}

int it_http_port(void)
{
	unsigned seed = (unsigned)getpid() * 7919u ^ (unsigned)it_now_ms();
	for (int i = 0; i < 200; i++) {
		int port = 30000 + (int)(rand_r(&seed) % 2500);
		if (port_is_free(port))
			return port;
	}
	cr_assert_fail("no free port in 30000-32499");
	return -1;
}

void it_mkdtemp(char *out, size_t n)
{
	const char *root = getenv("PGLANE_TEST_TMP");
	if (!root || !*root)
		root = "/tmp";
	mkdir(root, 0755);
	const char *suite = criterion_current_suite ? criterion_current_suite->name : "it";
	const char *test = criterion_current_test ? criterion_current_test->name : "test";
	/* the test's name cut to 32 characters: a Unix socket path in the directory
	 * (.s.PGSQL.<port>.takeover) must fit in sun_path's 108 bytes under tests/run.sh's root */
	int len = snprintf(out, n, "%s/%s.%.32s-XXXXXX", root, suite, test);
	cr_assert(len > 0 && (size_t)len < n, "temp dir path too long");
	cr_assert(mkdtemp(out) != NULL, "mkdtemp %s: %s", out, strerror(errno));
}

char *it_file_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	cr_assert(buf);
	size_t got;
	while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (cap - len - 1 == 0) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

void it_file_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert(fclose(f) == 0, "cannot write %s", path);
}

/* ---- pglane ---- */

/* Append to a growing string. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 1024;
		b->s = realloc(b->s, b->cap);
		cr_assert(b->s);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sbuf_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

#define NO_UNIX_SOCKET "unix_socket_dir = \"\"; "

/* The config text with @PORT@, @PGHOST@, @PGPORT@ and @DIR@ replaced (malloc'ed). Unless the
 * text sets listen.unix_socket_dir, pglane gets no Unix socket (its default, /tmp, would be
 * shared by every pglane of the machine). */
static char *config_expand(const char *text, const struct it_pglane *p)
{
	struct sbuf b = {0};
	char num[32];
	if (!strstr(text, "listen")) {
		snprintf(num, sizeof num, "%d", p->port);
		sbuf_str(&b, "listen = { " NO_UNIX_SOCKET "host = \"127.0.0.1\"; port = ");
		sbuf_str(&b, num);
		sbuf_str(&b, "; };\n");
	}
	const char *s = text;
	const char *group = strstr(text, "listen = {");
	if (group && !strstr(text, "unix_socket_dir")) {
		group += strlen("listen = {");
		sbuf_add(&b, text, (size_t)(group - text));
		sbuf_str(&b, " " NO_UNIX_SOCKET);
		s = group;
	}
	while (*s) {
		const char *at = strchr(s, '@');
		if (!at) {
			sbuf_str(&b, s);
			break;
		}
		sbuf_add(&b, s, (size_t)(at - s));
		if (strncmp(at, "@PORT@", 6) == 0) {
			snprintf(num, sizeof num, "%d", p->port);
			sbuf_str(&b, num);
			s = at + 6;
		} else if (strncmp(at, "@PGPORT@", 8) == 0) {
			snprintf(num, sizeof num, "%d", it_pgport());
			sbuf_str(&b, num);
			s = at + 8;
		} else if (strncmp(at, "@PGHOST@", 8) == 0) {
			sbuf_str(&b, it_pghost());
			s = at + 8;
		} else if (strncmp(at, "@DIR@", 5) == 0) {
			sbuf_str(&b, p->dir);
			s = at + 5;
		} else {
			sbuf_add(&b, "@", 1);
			s = at + 1;
		}
	}
	if (!b.s)
		sbuf_str(&b, "");
	return b.s;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max &&
	    rl.rlim_cur < 65536) {
		rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static bool port_accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

/* Last `max` bytes of the log, for failure messages (static storage). */
static const char *log_tail(size_t max)
{
	static char tail[4096];
	char *log = it_pglane_log();
	size_t len = strlen(log);
	if (max >= sizeof tail)
		max = sizeof tail - 1;
	const char *from = len > max ? log + len - max : log;
	snprintf(tail, sizeof tail, "%s", from);
	free(log);
	return tail;
}

/* `conf` with the test default `workers = N;` (PGLANE_TEST_WORKERS, 2 when unset) put first,
 * unless it sets workers itself; malloc'd. */
static char *with_workers(const char *conf)
{
	const char *env = getenv("PGLANE_TEST_WORKERS");
	int n = env && *env ? atoi(env) : 2;
	bool own = strncmp(conf, "workers", 7) == 0 || strstr(conf, "\nworkers") != NULL;
	size_t len = strlen(conf) + 32;
	char *out = malloc(len);
	cr_assert_not_null(out);
	if (own)
		snprintf(out, len, "%s", conf);
	else
		snprintf(out, len, "workers = %d;\n%s", n, conf);
	return out;
}

struct it_pglane *it_pglane_start_with_users(const char *config_text, const char *userlist_text)
{
	struct it_pglane *p = &g_pglane;
	cr_assert(p->pid == 0, "it_pglane_start: a pglane is already running in this test");
	const char *bin = it_pglane_bin();
	raise_fd_limit();
	it_mkdtemp(p->dir, sizeof p->dir);
	cr_assert(snprintf(p->conf_path, sizeof p->conf_path, "%s/pglane.conf", p->dir) <
	          (int)sizeof p->conf_path);
	cr_assert(snprintf(p->users_path, sizeof p->users_path, "%s/users.txt", p->dir) <
	          (int)sizeof p->users_path);
	cr_assert(snprintf(p->log_path, sizeof p->log_path, "%s/pglane.log", p->dir) <
	          (int)sizeof p->log_path);
	p->port = it_free_port();
	char *conf = config_expand(config_text, p);
	char *with = with_workers(conf);
	it_file_write(p->conf_path, with);
	free(with);
	free(conf);
	if (userlist_text)
		it_file_write(p->users_path, userlist_text);

	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Never outlive the test process, even when Criterion kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		int fd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int nul = open("/dev/null", O_RDONLY);
		if (fd < 0 || nul < 0 || chdir(p->dir) != 0)
			_exit(126);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, bin, "-c", p->conf_path, (char *)NULL);
		dprintf(2, "harness: exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	p->pid = pid;

	/* a sanitizer's pglane starts slower (make tsan sets PGLANE_TEST_START_MS) */
	const char *env = getenv("PGLANE_TEST_START_MS");
	int start_ms = env && atoi(env) > 0 ? atoi(env) : START_TIMEOUT_MS;
	int64_t deadline = it_now_ms() + start_ms;
	for (;;) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			p->pid = 0;
			cr_assert_fail(
			        "pglane exited during start-up (status %d, signal %d); log:\n%s",
			        WIFEXITED(st) ? WEXITSTATUS(st) : -1,
			        WIFSIGNALED(st) ? WTERMSIG(st) : 0, log_tail(3000));
		}
		if (port_accepts(p->port))
			break;
		if (it_now_ms() > deadline) {
			it_pglane_stop(NULL);
			cr_assert_fail(
			        "pglane did not listen on 127.0.0.1:%d within %d ms; log:\n%s",
			        p->port, start_ms, log_tail(3000));
		}
		it_sleep_ms(20);
	}
	return p;
}

struct it_pglane *it_pglane_start(const char *config_text)
{
	return it_pglane_start_with_users(config_text, NULL);
}

struct it_pglane *it_pglane_start_simple(const char *mode, int size, const char *pool_extra)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"%s\"; size = %d; %s };\n" IT_DATABASES,
	         mode, size, pool_extra ? pool_extra : "");
	return it_pglane_start(conf);
}

struct it_pglane *it_pglane_start_simple_workers(const char *mode, int size, const char *pool_extra,
                                                 int workers)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "workers = %d;\n"
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"%s\"; size = %d; %s };\n" IT_DATABASES,
	         workers, mode, size, pool_extra ? pool_extra : "");
	return it_pglane_start(conf);
}

struct it_pglane *it_pglane_current(void)
{
	return g_pglane.pid ? &g_pglane : NULL;
}

bool it_pglane_alive(void)
{
	if (!g_pglane.pid)
		return false;
	int st;
	return waitpid(g_pglane.pid, &st, WNOHANG) == 0;
}

int it_pglane_stop(bool *was_alive)
{
	struct it_pglane *p = &g_pglane;
	if (was_alive)
		*was_alive = false;
	if (!p->pid)
		return -1;
	int st = 0;
	pid_t r = waitpid(p->pid, &st, WNOHANG);
	if (r == p->pid) {
		p->pid = 0;
		return st;
	}
	if (was_alive)
		*was_alive = true;
	kill(p->pid, SIGINT); /* wait for servers: idle clients go at once, transactions end */
	int64_t deadline = it_now_ms() + STOP_TIMEOUT_MS;
	while ((r = waitpid(p->pid, &st, WNOHANG)) == 0 && it_now_ms() < deadline)
		it_sleep_ms(10);
	if (r != p->pid) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &st, 0);
		st = -2; /* did not stop on SIGINT */
	}
	p->pid = 0;
	return st;
}

void it_pglane_fini(void)
{
	it_pglane_stop(NULL);
}

void it_pglane_finish(void)
{
	if (!g_pglane.pid)
		return;
	bool alive;
	int st = it_pglane_stop(&alive);
	cr_expect(alive, "pglane died during the test (status %d, signal %d); log:\n%s",
	          WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0,
	          log_tail(3000));
	if (alive) {
		cr_expect(st != -2, "pglane did not exit within %d ms of SIGINT (killed)",
		          STOP_TIMEOUT_MS);
		if (st >= 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			cr_log_warn("pglane exited with status %d, signal %d after SIGINT",
			            WIFEXITED(st) ? WEXITSTATUS(st) : -1,
			            WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	}
}

char *it_pglane_log(void)
{
	char *s = g_pglane.log_path[0] ? it_file_read(g_pglane.log_path) : NULL;
	return s ? s : strdup("");
}

/* In the runner: after a failed test, show the pglane logs its temp dirs kept. */
ReportHook(POST_TEST)(struct criterion_test_stats *stats)
{
	if (stats->test_status != CR_STATUS_FAILED || !stats->test || !stats->test->category)
		return;
	const char *root = getenv("PGLANE_TEST_TMP");
	if (!root || !*root)
		root = "/tmp";
	char pattern[1024];
	snprintf(pattern, sizeof pattern, "%s/%s.%s-*/pglane.log", root, stats->test->category,
	         stats->test->name);
	glob_t g;
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char *log = it_file_read(g.gl_pathv[i]);
		if (!log)
			continue;
		size_t len = strlen(log);
		const char *from = len > 6000 ? log + len - 6000 : log;
		fprintf(stderr, "---- %s (last %zu bytes) ----\n%s%s---- end of log ----\n",
		        g.gl_pathv[i], strlen(from), from, len && log[len - 1] != '\n' ? "\n" : "");
		free(log);
	}
	globfree(&g);
}

/* ---- libpq ---- */

static void kv_add(char *buf, size_t n, const char *key, const char *val)
{
	size_t len = strlen(buf);
	if (len + 1 >= n)
		return;
	char *o = buf + len;
	size_t room = n - len;
	int w = snprintf(o, room, "%s%s='", len ? " " : "", key);
	if (w < 0 || (size_t)w >= room)
		return;
	o += w;
	room -= (size_t)w;
	for (const char *v = val; *v && room > 3; v++) {
		if (*v == '\'' || *v == '\\') {
			*o++ = '\\';
			room--;
		}
		*o++ = *v;
		room--;
	}
	*o++ = '\'';
	*o = '\0';
}

void it_conninfo(char *buf, size_t n, const char *host, int port, const char *user,
                 const char *password, const char *dbname, const char *extra)
{
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	buf[0] = '\0';
	kv_add(buf, n, "host", host);
	kv_add(buf, n, "port", portstr);
	kv_add(buf, n, "user", user);
	kv_add(buf, n, "dbname", dbname);
	if (password)
		kv_add(buf, n, "password", password);
	kv_add(buf, n, "connect_timeout", "10");
	kv_add(buf, n, "sslmode", "disable");
	if (extra && *extra) {
		size_t len = strlen(buf);
		snprintf(buf + len, n - len, " %s", extra);
	}
}
PostgresPollingStatusType it_connect_poll(PGconn *c, PostgresPollingStatusType st, int ms)
{
	int64_t deadline = it_now_ms() + ms;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		int64_t left = deadline - it_now_ms();
		if (left <= 0)
			break;
		struct pollfd pfd = {.fd = PQsocket(c),
		                     .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0)
			st = PQconnectPoll(c);
	}
	return st;
}

PGconn *it_connect_try(const char *conninfo)
{
	PGconn *c = PQconnectStart(conninfo);
	cr_assert(c, "PQconnectStart: out of memory");
	if (PQstatus(c) == CONNECTION_BAD)
		return c;
	PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
	(void)it_connect_poll(c, PGRES_POLLING_WRITING, CONNECT_TIMEOUT_MS);
	PQsetErrorVerbosity(c, PQERRORS_DEFAULT);
	return c;
}

const char *it_conn_error(PGconn *c)
{
	if (!c)
		return "no connection";
	if (PQstatus(c) == CONNECTION_OK)
		return "";
	const char *m = PQerrorMessage(c);
	return m && *m ? m : "connection attempt timed out";
}

static PGconn *connect_checked(const char *host, int port, const char *user, const char *password,
                               const char *dbname, const char *extra)
{
	char ci[1024];
	it_conninfo(ci, sizeof ci, host, port, user, password, dbname, extra);
	PGconn *c = it_connect_try(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", it_conn_error(c));
		PQfinish(c);
		cr_assert_fail("connect %s@%s to %s:%d failed: %s", user, dbname, host, port, msg);
	}
	return c;
}

PGconn *it_connect(const char *user, const char *password, const char *dbname)
{
	cr_assert(g_pglane.pid, "it_connect: pglane is not running");
	return connect_checked(IT_HOST, g_pglane.port, user, password, dbname, NULL);
}

PGconn *it_connect_app(const char *user, const char *password, const char *dbname,
                       const char *application_name)
{
	cr_assert(g_pglane.pid, "it_connect_app: pglane is not running");
	char extra[256] = "";
	kv_add(extra, sizeof extra, "application_name", application_name);
	return connect_checked(IT_HOST, g_pglane.port, user, password, dbname, extra);
}

PGconn *it_connect_direct(const char *user, const char *password, const char *dbname)
{
	return connect_checked(it_pghost(), it_pgport(), user, password, dbname,
	                       "application_name='pglane-it-direct'");
}

PGconn *it_connect_admin(void)
{
	return it_connect_direct("postgres", NULL, "postgres");
}

void it_drop_role(const char *role)
{
	PGconn *c = it_connect_admin();
	char sql[256];
	snprintf(sql, sizeof sql,
	         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s'",
	         role);
	PQclear(PQexec(c, sql));
	snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role);
	for (int i = 0; i < 50; i++) {
		PGresult *r = PQexec(c, sql);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (ok)
			break;
		it_sleep_ms(100); /* its terminated sessions are still leaving */
	}
	PQfinish(c);
}

void it_exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s (%s) %s", PQresStatus(st), it_sqlstate(r),
		         r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		PQclear(r);
		cr_assert_fail("`%s` failed: %s", sql, msg);
	}
	PQclear(r);
}

char *it_query_str(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1 || PQnfields(r) < 1) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s (%s) %s, %d rows", PQresStatus(PQresultStatus(r)),
		         it_sqlstate(r), r ? PQresultErrorMessage(r) : PQerrorMessage(c),
		         r ? PQntuples(r) : 0);
		PQclear(r);
		cr_assert_fail("`%s` failed: %s", sql, msg);
	}
	char *v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	cr_assert(v);
	return v;
}

long long it_query_ll(PGconn *c, const char *sql)
{
	char *s = it_query_str(c, sql);
	char *end;
	long long v = strtoll(s, &end, 10);
	bool ok = *s && !*end;
	free(s);
	cr_assert(ok, "`%s` did not return an integer", sql);
	return v;
}

PGresult *it_result_wait(PGconn *c, int timeout_ms, bool *timed_out)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	PGresult *first = NULL;
	if (timed_out)
		*timed_out = false;
	for (;;) {
		while (PQisBusy(c)) {
			int64_t left = deadline - it_now_ms();
			if (left <= 0) {
				if (timed_out && !first)
					*timed_out = true;
				return first;
			}
			struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
			int r = poll(&p, 1, (int)left);
			if (r < 0 && errno != EINTR)
				return first;
			if (r > 0 && !PQconsumeInput(c))
				break;
		}
		PGresult *r = PQgetResult(c);
		if (!r)
			break;
		ExecStatusType st = PQresultStatus(r);
		if (!first)
			first = r;
		else
			PQclear(r);
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
			break;
	}
	return first;
}

const char *it_sqlstate(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

const char *it_exec_error(PGconn *c, const char *sql, char *msg, size_t msgn)
{
	static char state[8];
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	snprintf(state, sizeof state, "%s", it_sqlstate(r));
	if (msg) {
		const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		snprintf(msg, msgn, "%s", m ? m : PQerrorMessage(c));
	}
	PQclear(r);
	cr_assert(st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK,
	          "`%s` succeeded, expected an error", sql);
	return state;
}

int it_count_backends(PGconn *admin, const char *state, const char *user, const char *app,
                      const char *query_like)
{
	PGconn *own = NULL;
	if (!admin)
		admin = own = it_connect_admin();
	const char *params[4] = {state, user, app, query_like};
	PGresult *r =
	        PQexecParams(admin,
	                     "SELECT count(*) FROM pg_stat_activity"
	                     " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
	                     " AND ($1::text IS NULL OR state = $1)"
	                     " AND ($2::text IS NULL OR usename = $2)"
	                     " AND ($3::text IS NULL OR application_name = $3)"
	                     " AND ($4::text IS NULL OR query LIKE $4)",
	                     4, NULL, params, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	int n = ok ? atoi(PQgetvalue(r, 0, 0)) : -1;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", ok ? "" : PQresultErrorMessage(r));
	PQclear(r);
	if (own)
		PQfinish(own);
	cr_assert(ok, "counting backends failed: %s", msg);
	return n;
}

int it_wait_backends(PGconn *admin, int want, int timeout_ms, const char *state, const char *user,
                     const char *app, const char *query_like, int *last)
{
	PGconn *own = NULL;
	if (!admin)
		admin = own = it_connect_admin();
	int64_t start = it_now_ms();
	int n, took = -1;
	for (;;) {
		n = it_count_backends(admin, state, user, app, query_like);
		int64_t now = it_now_ms();
		if (n == want) {
			took = (int)(now - start);
			break;
		}
		if (now - start >= timeout_ms)
			break;
		it_sleep_ms(20);
	}
	if (last)
		*last = n;
	if (own)
		PQfinish(own);
	return took;
}

/* ---- processes and sockets ---- */

int it_sh(int timeout_s, char **out, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0 && cmd);
	char *full = NULL;
	cr_assert(asprintf(&full, "export PGCONNECT_TIMEOUT=10; %s", cmd) >= 0);
	free(cmd);

	int pfd[2];
	cr_assert(pipe2(pfd, O_CLOEXEC) == 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execl("/bin/sh", "sh", "-c", full, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	close(pfd[1]);
	free(full);

	struct sbuf b = {0};
	sbuf_str(&b, "");
	int64_t deadline = it_now_ms() + (int64_t)timeout_s * 1000;
	bool timed_out = false;
	for (;;) {
		int64_t left = deadline - it_now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char chunk[8192];
		ssize_t got = read(pfd[0], chunk, sizeof chunk);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (b.len < SH_OUTPUT_MAX)
			sbuf_add(&b, chunk, (size_t)got);
	}
	close(pfd[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	if (timed_out)
		kill(-pid, SIGKILL); /* anything the shell left behind */
	if (out)
		*out = b.s;
	else
		free(b.s);
	if (timed_out)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

void it_wait_port(int port)
{
	int64_t deadline = it_now_ms() + 5000;
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert(fd >= 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
		close(fd);
		if (ok)
			return;
		cr_assert(it_pglane_alive(), "pglane exited at start-up");
		cr_assert_lt(it_now_ms(), deadline, "port %d does not accept", port);
		it_sleep_ms(10);
	}
}

int it_tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect 127.0.0.1:%d: %s",
	          port, strerror(errno));
	return fd;
}

bool it_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - it_now_ms();
		if (left <= 0)
			return false;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char buf[4096];
		ssize_t got = recv(fd, buf, sizeof buf, 0);
		if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
			return true;
	}
}

void it_conn_vanish(PGconn *c)
{
	int fd = PQsocket(c);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	PQfinish(c);
}

static void no_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

void it_notices_off(PGconn *c)
{
	PQsetNoticeProcessor(c, no_notice, NULL);
}

void it_drop_tables(const char *tables)
{
	char ci[512], sql[256];
	it_conninfo(ci, sizeof ci, it_pghost(), it_pgport(), "postgres", NULL, "bench", NULL);
	PGconn *c = PQconnectdb(ci);
	it_notices_off(c);
	snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", tables);
	if (PQstatus(c) == CONNECTION_OK)
		PQclear(PQexec(c, sql));
	PQfinish(c);
}

int it_log_count(const char *needle)
{
	char *log = it_pglane_log();
	int n = 0;
	for (const char *p = log; log && (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(log);
	return n;
}
