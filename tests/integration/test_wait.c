/* tests/integration/test_wait.c — issue 18 items 2-4: a PostgreSQL that is frozen, full or
 * refusing is waited for. Server logins failing transiently (no answer within
 * server_connect_timeout; 53300 too many connections) are retried with back-off, one login at a
 * time, while clients wait up to query_wait_timeout; clients whose password pglane checks itself
 * log in meanwhile (the pool's cached welcome at once, or waiting for the first server); every
 * client gets its first answer soon after PostgreSQL takes connections again; SHOW POOLS
 * server_state, /metrics pglane_pool_server_up / _state and /ready follow (retrying, then up).
 * A login that waiting cannot mend (the database does not exist) still fails at once (down).
 * PostgreSQL stopped and started under a warm pool: its dead idle servers are never handed out.
 *
 * The shared test PostgreSQL is frozen with SIGSTOP (its postmaster and every child) and
 * thawed with SIGCONT on every path: at the end of the test, in .fini, and by a guardian child
 * process that thaws it when the test process dies or after GUARD_S seconds. "Full" is a role
 * with a CONNECTION LIMIT whose slots the test itself holds (53300 for pglane's logins), dropped
 * at the end. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"

#define NCLIENTS   50
#define MAX_PIDS   64
#define GUARD_S    40   /* the guardian thaws PostgreSQL after this long whatever happens */
#define FREEZE_MS  8000 /* the freeze */
#define FULL_MS    12000
#define FULL_LIMIT 4 /* connections the "full" role may have */
#define FULL_ROLE  "wait_full"
#define FULL_PW    "wait_full_pw"
#define CLIENT_PW  "alice_pw"
#define STR_(x)    #x
#define IT_STR(x)  STR_(x)

static void wait_fini(void);

TestSuite(wait, .fini = wait_fini, .timeout = 120);

/* ---- the frozen PostgreSQL ---- */

static struct frozen {
	pid_t pids[MAX_PIDS]; /* the postmaster first */
	int n;
	pid_t guard; /* the guardian process, 0 when none */
} g_frozen;

/* The parent of process `pid` (from /proc), 0 when unknown. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
	int ppid = 0;
	char st;
	if (!rp || sscanf(rp + 1, " %c %d", &st, &ppid) != 2)
		return 0;
	return (pid_t)ppid;
}

/* The test PostgreSQL's postmaster: the parent of a backend of ours. */
static pid_t postmaster_pid(void)
{
	PGconn *c = it_connect_admin();
	pid_t be = (pid_t)it_query_ll(c, "SELECT pg_backend_pid()");
	pid_t pm = parent_of(be); /* before PQfinish: the backend exits with its connection */
	PQfinish(c);
	cr_assert_gt(pm, 1, "no postmaster found for backend %d", (int)be);
	return pm;
}

static void thaw(void)
{
	for (int i = 0; i < g_frozen.n; i++)
		kill(g_frozen.pids[i], SIGCONT);
	g_frozen.n = 0;
	if (g_frozen.guard > 0) {
		kill(g_frozen.guard, SIGKILL);
		waitpid(g_frozen.guard, NULL, 0);
		g_frozen.guard = 0;
	}
}

/* SIGSTOP the postmaster and each of its children; a guardian child thaws them if this
 * process dies (or after GUARD_S). */
static void freeze(void)
{
	pid_t pm = postmaster_pid();
	g_frozen.n = 0;
	g_frozen.pids[g_frozen.n++] = pm;
	DIR *d = opendir("/proc");
	cr_assert(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL && g_frozen.n < MAX_PIDS) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid > 0 && parent_of(pid) == pm)
			g_frozen.pids[g_frozen.n++] = pid;
	}
	closedir(d);
	pid_t parent = getpid();
	pid_t g = fork();
	cr_assert_geq(g, 0);
	if (g == 0) {
		for (int i = 0; i < GUARD_S * 10 && getppid() == parent; i++)
			usleep(100 * 1000);
		for (int i = 0; i < g_frozen.n; i++)
			kill(g_frozen.pids[i], SIGCONT);
		_exit(0);
	}
	g_frozen.guard = g;
	for (int i = 0; i < g_frozen.n; i++) /* (a child may have just left: ESRCH) */
		cr_assert(kill(g_frozen.pids[i], SIGSTOP) == 0 || errno == ESRCH, "SIGSTOP %d: %s",
		          (int)g_frozen.pids[i], strerror(errno));
	cr_log_info("froze PostgreSQL: postmaster %d and %d children", (int)pm, g_frozen.n - 1);
}

static void drop_full_role(void)
{
	it_drop_role(FULL_ROLE);
}

static bool g_role_made;

/* ---- the stopped PostgreSQL (pg_ctl stop/start of the shared cluster) ---- */

static bool g_stopped; /* started again in .fini */

/* pg_ctl `action` (stop -m fast, start) on the test cluster of PGLANE_TEST_PGDIR, as the
 * owner of its data directory; the exit code. */
static int pg_ctl(const char *action)
{
	const char *dir = getenv("PGLANE_TEST_PGDIR");
	char *out = NULL;
	int rc = it_sh(90, &out,
	               "cd '%s' && B=$(pg_config --bindir 2>/dev/null); [ -x \"$B/pg_ctl\" ] || "
	               "B=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1); "
	               "run() { if [ \"$(id -u)\" = 0 ]; then runuser -u \"$(stat -c %%U data)\" "
	               "-- \"$@\"; else \"$@\"; fi; }; "
	               "run \"$B/pg_ctl\" %s -w -t 60 -s -D '%s/data' -l '%s/log'",
	               dir, action, dir, dir);
	if (rc != 0)
		cr_log_error("pg_ctl %s: exit %d: %s", action, rc, out ? out : "");
	free(out);
	return rc;
}

static void wait_fini(void)
{
	thaw();
	if (g_stopped && pg_ctl("start") == 0)
		g_stopped = false;
	if (g_role_made) {
		it_pglane_fini(); /* its servers hold the role */
		drop_full_role();
		g_role_made = false;
	}
	it_pglane_fini();
}

/* ---- many clients at once (libpq, nonblocking) ---- */

struct client {
	PGconn *c;
	PostgresPollingStatusType st;
	bool connected, failed, sent, answered;
	int64_t login_ms, answer_ms; /* when the login ended / SELECT 1 answered */
	char error[256];
};

static void clients_start(struct client *v, int n, const char *conninfo)
{
	for (int i = 0; i < n; i++) {
		memset(&v[i], 0, sizeof v[i]);
		v[i].c = PQconnectStart(conninfo);
		cr_assert(v[i].c && PQstatus(v[i].c) != CONNECTION_BAD, "PQconnectStart: %s",
		          v[i].c ? PQerrorMessage(v[i].c) : "out of memory");
		v[i].st = PGRES_POLLING_WRITING;
	}
}

static void client_fail(struct client *cl, const char *what)
{
	cl->failed = true;
	snprintf(cl->error, sizeof cl->error, "%s: %s", what, PQerrorMessage(cl->c));
}

/* One step of client `cl` whose socket is ready (or may be). */
static void client_step(struct client *cl)
{
	if (!cl->connected) {
		cl->st = PQconnectPoll(cl->c);
		if (cl->st == PGRES_POLLING_FAILED) {
			client_fail(cl, "login");
		} else if (cl->st == PGRES_POLLING_OK) {
			cl->connected = true;
			cl->login_ms = it_now_ms();
			if (!PQsendQuery(cl->c, "SELECT 1"))
				client_fail(cl, "send");
			cl->sent = true;
		}
		return;
	}
	if (!PQconsumeInput(cl->c)) {
		client_fail(cl, "read");
		return;
	}
	while (!PQisBusy(cl->c)) {
		PGresult *r = PQgetResult(cl->c);
		if (!r)
			return;
		if (PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "1") == 0) {
			cl->answered = true;
			cl->answer_ms = it_now_ms();
		} else if (!cl->answered) {
			cl->failed = true;
			snprintf(cl->error, sizeof cl->error, "SELECT 1: %s",
			         PQresultErrorMessage(r));
		}
		PQclear(r);
	}
}

static bool client_pending(const struct client *cl)
{
	return !cl->failed && !cl->answered;
}

/* Drive every client for up to `ms` (or until all answered or failed). */
static void clients_drive(struct client *v, int n, int ms)
{
	int64_t end = it_now_ms() + ms;
	while (it_now_ms() < end) {
		struct pollfd fds[NCLIENTS];
		int idx[NCLIENTS], k = 0;
		for (int i = 0; i < n && k < NCLIENTS; i++) {
			if (!client_pending(&v[i]))
				continue;
			fds[k].fd = PQsocket(v[i].c);
			fds[k].events = !v[i].connected && v[i].st == PGRES_POLLING_WRITING
			                        ? POLLOUT
			                        : POLLIN;
			fds[k].revents = 0;
			idx[k++] = i;
		}
		if (k == 0)
			return;
		int rc = poll(fds, (nfds_t)k, 20);
		if (rc < 0 && errno != EINTR)
			cr_assert_fail("poll: %s", strerror(errno));
		for (int j = 0; j < k; j++)
			if (fds[j].revents)
				client_step(&v[idx[j]]);
	}
}

struct tally {
	int logged_in, failed, answered;
	int64_t last_login_ms, last_answer_ms;
	const char *first_error;
};

static struct tally clients_tally(const struct client *v, int n)
{
	struct tally t = {0};
	for (int i = 0; i < n; i++) {
		t.logged_in += v[i].connected;
		t.failed += v[i].failed;
		t.answered += v[i].answered;
		if (v[i].connected && v[i].login_ms > t.last_login_ms)
			t.last_login_ms = v[i].login_ms;
		if (v[i].answered && v[i].answer_ms > t.last_answer_ms)
			t.last_answer_ms = v[i].answer_ms;
		if (v[i].failed && !t.first_error)
			t.first_error = v[i].error;
	}
	return t;
}

static void clients_finish(struct client *v, int n)
{
	for (int i = 0; i < n; i++)
		PQfinish(v[i].c);
}

/* ---- the pool's server state as the console, /metrics and /ready show it ---- */

struct seen {
	char state[32];  /* SHOW POOLS server_state */
	char error[256]; /* server_error */
	int up_metric;   /* pglane_pool_server_up, -1 when missing */
	int ready;       /* /ready's status code */
	char ready_body[512];
};

/* The value of the sample `name{...database="db"...}` in a metrics text; -1 when missing. */
static int metric_for(const char *text, const char *name, const char *db)
{
	char needle[160];
	snprintf(needle, sizeof needle, "%s{database=\"%s\",", name, db);
	const char *at = strstr(text, needle);
	if (!at)
		return -1;
	const char *sp = strchr(at, '}');
	return sp ? atoi(sp + 1) : -1;
}

static struct seen look(PGconn *admin, int http, const char *db)
{
	struct seen s = {.up_metric = -1};
	PGresult *r = adminq_show(admin, "SHOW POOLS");
	int row = adminq_find(r, "database", db, NULL, NULL);
	cr_assert_geq(row, 0, "no SHOW POOLS row for %s", db);
	snprintf(s.state, sizeof s.state, "%s", adminq_cell(r, row, "server_state"));
	snprintf(s.error, sizeof s.error, "%s", adminq_cell(r, row, "server_error"));
	cr_expect_neq(adminq_cell(r, row, "server_state_since")[0], '\0',
	              "server_state_since is empty");
	PQclear(r);
	char *body = NULL;
	cr_assert_eq(adminq_http_get(http, "/metrics", &body), 200);
	s.up_metric = metric_for(body, "pglane_pool_server_up", db);
	free(body);
	s.ready = adminq_http_get(http, "/ready", &body);
	snprintf(s.ready_body, sizeof s.ready_body, "%s", body ? body : "");
	free(body);
	return s;
}

static PGconn *admin_connect(void)
{
	return it_connect("admin", "admin_pw", "pglane");
}

/* pglane: database `waitdb` → the test PostgreSQL's `postgres` as `server_user`, clients
 * alice (SCRAM, password in the auth file) and admin; query_wait_timeout 20 s, and `extra`
 * in the pool settings. */
static void start_pglane(int http, const char *server_user, const char *server_pw,
                         const char *extra)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"scram-sha-256\"; file = \"users.txt\"; };\n"
	         "admin = { users = [ \"admin\" ]; http_port = %d; };\n"
	         "pool = { mode = \"transaction\"; size = 10; min_size = 0;\n"
	         "         query_wait_timeout = \"20s\"; %s };\n"
	         "databases = ( { name = \"waitdb\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "                dbname = \"postgres\"; user = \"%s\"; password = \"%s\"; } );\n",
	         http, extra ? extra : "", server_user, server_pw);
	it_pglane_start_with_users(conf, "\"alice\" \"" CLIENT_PW "\"\n"
	                                 "\"admin\" \"admin_pw\"\n");
	it_wait_port(http);
}

static void client_conninfo(char *ci, size_t n)
{
	it_conninfo(ci, n, IT_HOST, it_pglane_current()->port, "alice", CLIENT_PW, "waitdb",
	            "connect_timeout=40");
}

/* ---- the tests ---- */

/* PostgreSQL frozen 8 s, a cold pool (no server, no welcome yet): 50 clients log in and wait;
 * after the first wave of logins (pool size 10) times out, pglane sends one probe login at a
 * time (server_connect_timeout 3 s: one or two more); the
 * console, /metrics and /ready say retrying; after SIGCONT every client gets its welcome and
 * its SELECT 1, and the state is up again. */
IT_TEST(wait, frozen_postgres_cold_pool)
{
	int http = it_http_port();
	start_pglane(http, "postgres", "unused", "server_connect_timeout = \"3s\";");
	PGconn *admin = admin_connect(); /* (no pool yet: no SHOW POOLS row) */
	freeze();
	int64_t t0 = it_now_ms();
	char ci[512];
	client_conninfo(ci, sizeof ci);
	static struct client v[NCLIENTS];
	clients_start(v, NCLIENTS, ci);
	/* the first probe times out at 3 s: then retrying */
	clients_drive(v, NCLIENTS, 3600);
	struct seen s1 = look(admin, http, "waitdb");
	clients_drive(v, NCLIENTS, (int)(t0 + FREEZE_MS - it_now_ms()));
	struct tally during = clients_tally(v, NCLIENTS);
	int attempts = it_log_count("server login failed");
	thaw();
	int64_t t_thaw = it_now_ms();
	clients_drive(v, NCLIENTS, 15000);
	struct tally after = clients_tally(v, NCLIENTS);
	struct seen s2 = look(admin, http, "waitdb");
	cr_log_info("frozen %lld ms: %d login failures in pglane's log, %d clients in, %d failed "
	            "while frozen; after SIGCONT %d answered, the last %lld ms after it",
	            (long long)(t_thaw - t0), attempts, during.logged_in, during.failed,
	            after.answered, (long long)(after.last_answer_ms - t_thaw));
	cr_expect_str_eq(s1.state, "retrying", "while frozen (error \"%s\")", s1.error);
	cr_expect(strstr(s1.error, "server_connect_timeout"), "server_error: %s", s1.error);
	cr_expect_eq(s1.up_metric, 0, "pglane_pool_server_up while frozen");
	cr_expect_eq(s1.ready, 503, "/ready while frozen: %s", s1.ready_body);
	cr_expect(strstr(s1.ready_body, "database waitdb: retrying"), "/ready body: %s",
	          s1.ready_body);
	cr_expect_eq(during.failed, 0, "a client failed while frozen: %s", during.first_error);
	cr_expect_geq(attempts, 1, "no login attempt timed out while frozen");
	/* the first wave (pool size 10, nothing had failed yet) then one probe per 3 s */
	cr_expect_leq(attempts, 10 + 3, "%d login attempts in 8 s: not one probe at a time",
	              attempts);
	cr_expect_eq(after.failed, 0, "failed: %s", after.first_error);
	cr_expect_eq(after.answered, NCLIENTS, "%d of %d clients got their SELECT 1",
	             after.answered, NCLIENTS);
	cr_expect_lt(after.last_answer_ms - t_thaw, 2000, "the last answer %lld ms after SIGCONT",
	             (long long)(after.last_answer_ms - t_thaw));
	cr_expect_str_eq(s2.state, "up", "after SIGCONT");
	cr_expect_str_eq(s2.error, "");
	cr_expect_eq(s2.up_metric, 1);
	cr_expect_eq(s2.ready, 200, "/ready after SIGCONT: %s", s2.ready_body);
	cr_expect(strstr(s2.ready_body, "ready\ndatabase waitdb: up"), "/ready body: %s",
	          s2.ready_body);
	clients_finish(v, NCLIENTS);
	PQfinish(admin);
}

/* Open connections as the full role until PostgreSQL refuses one with 53300; the number
 * held. */
static int take_slots(PGconn **held, int cap)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, it_pghost(), it_pgport(), FULL_ROLE, FULL_PW, "postgres",
	            "application_name=wait_hog");
	int n = 0;
	for (int i = 0; i < cap; i++) {
		PGconn *c = it_connect_try(ci);
		if (PQstatus(c) != CONNECTION_OK) {
			cr_expect(strstr(it_conn_error(c), "53300"), "refused otherwise: %s",
			          it_conn_error(c));
			PQfinish(c);
			return n;
		}
		held[n++] = c;
	}
	cr_assert_fail("PostgreSQL took %d connections of a role limited to %d", n, FULL_LIMIT);
	return n;
}

/* Every slot of pglane's server role is held by "another application" for 12 s, after
 * pglane's idle servers were killed (they are never handed out dead): 50 clients log in at
 * once (the welcome is cached) and wait; pglane's logins fail with 53300 and are retried one
 * at a time; once the slots are freed every client has its answer within about a second. */
IT_TEST(wait, full_postgres_waited_for)
{
	PGconn *su = it_connect_admin();
	drop_full_role();
	it_exec_ok(su, "CREATE ROLE " FULL_ROLE " LOGIN PASSWORD '" FULL_PW
	               "' CONNECTION LIMIT " IT_STR(FULL_LIMIT));
	g_role_made = true;
	int http = it_http_port();
	start_pglane(http, FULL_ROLE, FULL_PW, NULL);
	PGconn *admin = admin_connect();
	/* warm: a welcome cached and servers idle; then every one of them killed */
	char ci[512];
	client_conninfo(ci, sizeof ci);
	PGconn *w[2];
	for (int i = 0; i < 2; i++) {
		w[i] = it_connect_try(ci);
		cr_assert_eq(PQstatus(w[i]), CONNECTION_OK, "%s", it_conn_error(w[i]));
		it_exec_ok(w[i], "BEGIN");
	}
	for (int i = 0; i < 2; i++) {
		it_exec_ok(w[i], "COMMIT");
		PQfinish(w[i]);
	}
	it_exec_ok(
	        su,
	        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" FULL_ROLE
	        "'");
	PGconn *held[FULL_LIMIT + 2];
	it_sleep_ms(200); /* the killed backends leave their slots */
	int nheld = take_slots(held, FULL_LIMIT + 2);
	cr_assert_eq(nheld, FULL_LIMIT, "held %d slots", nheld);
	int64_t t0 = it_now_ms();
	static struct client v[NCLIENTS];
	clients_start(v, NCLIENTS, ci);
	clients_drive(v, NCLIENTS, 3000);
	struct tally logins = clients_tally(v, NCLIENTS);
	struct seen s1 = look(admin, http, "waitdb");
	clients_drive(v, NCLIENTS, (int)(t0 + FULL_MS - it_now_ms()));
	struct tally during = clients_tally(v, NCLIENTS);
	int attempts = it_log_count("server login failed");
	for (int i = 0; i < nheld; i++)
		PQfinish(held[i]);
	int64_t t_free = it_now_ms();
	clients_drive(v, NCLIENTS, 10000);
	struct tally after = clients_tally(v, NCLIENTS);
	struct seen s2 = look(admin, http, "waitdb");
	cr_log_info("full %lld ms: %d clients logged in within %lld ms; %d login failures; after "
	            "the release %d answered, the last %lld ms after it",
	            (long long)(t_free - t0), logins.logged_in,
	            (long long)(logins.last_login_ms - t0), attempts, after.answered,
	            (long long)(after.last_answer_ms - t_free));
	cr_expect_eq(logins.logged_in, NCLIENTS, "logins while full (cached welcome): %d, %s",
	             logins.logged_in, logins.first_error);
	cr_expect_lt(logins.last_login_ms - t0, 1500, "the logins took %lld ms",
	             (long long)(logins.last_login_ms - t0));
	cr_expect_str_eq(s1.state, "retrying", "while full (error \"%s\")", s1.error);
	cr_expect(strstr(s1.error, "too many connections"), "server_error: %s", s1.error);
	cr_expect_eq(s1.up_metric, 0);
	cr_expect_eq(s1.ready, 503, "/ready while full: %s", s1.ready_body);
	cr_expect_eq(during.failed, 0, "a client failed while full: %s", during.first_error);
	cr_expect_eq(during.answered, 0, "%d clients answered while PostgreSQL was full",
	             during.answered);
	/* back-off 50 ms doubling to 500 ms: about 30 attempts in 12 s, not hundreds */
	cr_expect_leq(attempts, 40, "%d login attempts in 12 s", attempts);
	cr_expect_eq(after.failed, 0, "failed: %s", after.first_error);
	cr_expect_eq(after.answered, NCLIENTS, "%d of %d answered", after.answered, NCLIENTS);
	cr_expect_lt(after.last_answer_ms - t_free, 1200, "the last answer %lld ms after release",
	             (long long)(after.last_answer_ms - t_free));
	cr_expect_str_eq(s2.state, "up");
	cr_expect_eq(s2.ready, 200, "/ready: %s", s2.ready_body);
	clients_finish(v, NCLIENTS);
	PQfinish(admin);
	it_pglane_fini(); /* its servers hold the role */
	drop_full_role();
	g_role_made = false;
	PQfinish(su);
}

/* PostgreSQL stopped (pg_ctl stop -m fast) under a warm pool for 2 s, then started: the idle
 * servers that died with it are closed, never handed out; 20 clients that came meanwhile log
 * in from the cached welcome, wait through "connection refused" and "the database system is
 * starting up", and all get their SELECT 1 within a second of PostgreSQL taking
 * connections. */
IT_TEST(wait, stopped_postgres_waited_for)
{
	if (!getenv("PGLANE_TEST_PGDIR"))
		cr_skip_test("PGLANE_TEST_PGDIR is not set (tests/run.sh sets it)");
	int http = it_http_port();
	start_pglane(http, "postgres", "unused", NULL);
	PGconn *admin = admin_connect();
	char ci[512];
	client_conninfo(ci, sizeof ci);
	PGconn *w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = it_connect_try(ci);
		cr_assert_eq(PQstatus(w[i]), CONNECTION_OK, "%s", it_conn_error(w[i]));
		it_exec_ok(w[i], "BEGIN");
	}
	for (int i = 0; i < 4; i++) {
		it_exec_ok(w[i], "COMMIT");
		PQfinish(w[i]);
	}
	cr_assert_eq(adminq_pool_value(admin, "waitdb", "alice", "oltp", "sv_idle"), 4);
	g_stopped = true;
	cr_assert_eq(pg_ctl("stop -m fast"), 0);
	int gone = adminq_pool_wait(admin, "waitdb", "alice", "oltp", "sv_idle", 0, 2000, NULL);
	int64_t t0 = it_now_ms();
	static struct client v[20];
	clients_start(v, 20, ci);
	clients_drive(v, 20, 2000);
	struct tally down = clients_tally(v, 20);
	struct seen s1 = look(admin, http, "waitdb");
	int rc = pg_ctl("start");
	cr_assert_eq(rc, 0);
	g_stopped = false;
	int64_t t_up = it_now_ms();
	clients_drive(v, 20, 10000);
	struct tally after = clients_tally(v, 20);
	cr_log_info("stopped %lld ms: dead idle servers closed after %d ms; %d clients logged in "
	            "while down; after pg_ctl start returned %d answered, the last %lld ms after",
	            (long long)(t_up - t0), gone, down.logged_in, after.answered,
	            (long long)(after.last_answer_ms - t_up));
	cr_expect_geq(gone, 0, "the dead idle servers were not closed");
	cr_expect_eq(down.logged_in, 20, "logins while down (cached welcome): %s",
	             down.first_error);
	cr_expect_eq(down.answered, 0);
	cr_expect_str_eq(s1.state, "retrying", "while stopped (error \"%s\")", s1.error);
	cr_expect_eq(after.failed, 0, "failed: %s", after.first_error);
	cr_expect_eq(after.answered, 20, "%d of 20 answered", after.answered);
	cr_expect_lt(after.last_answer_ms - t_up, 1000, "the last answer %lld ms after the start",
	             (long long)(after.last_answer_ms - t_up));
	clients_finish(v, 20);
	PQfinish(admin);
}

/* auth_query users need a server for the look-up: while PostgreSQL is stopped their look-up
 * connection is tried again with back-off (bounded by query_wait_timeout), and their logins
 * complete once it is started. */
IT_TEST(wait, auth_query_login_waits_for_postgres)
{
	if (!getenv("PGLANE_TEST_PGDIR"))
		cr_skip_test("PGLANE_TEST_PGDIR is not set (tests/run.sh sets it)");
	it_pglane_start_with_users(
	        "auth = { type = \"md5\"; file = \"users.txt\"; auth_user = \"postgres\"; };\n"
	        "pool = { mode = \"transaction\"; size = 4; query_wait_timeout = \"20s\"; };\n"
	        "databases = ( { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n",
	        "\"someone_else\" \"x\"\n");
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "md5_user", "md5_pw",
	            "postgres", "connect_timeout=40");
	g_stopped = true;
	cr_assert_eq(pg_ctl("stop -m fast"), 0);
	static struct client v[5];
	clients_start(v, 5, ci);
	clients_drive(v, 5, 1500);
	struct tally down = clients_tally(v, 5);
	cr_assert_eq(pg_ctl("start"), 0);
	g_stopped = false;
	int64_t t_up = it_now_ms();
	clients_drive(v, 5, 10000);
	struct tally after = clients_tally(v, 5);
	cr_log_info("auth_query while stopped: %d logged in, %d failed; after the start %d "
	            "answered, the last %lld ms after it",
	            down.logged_in, down.failed, after.answered,
	            (long long)(after.last_answer_ms - t_up));
	cr_expect_eq(down.logged_in + down.failed, 0,
	             "a login ended while PostgreSQL was stopped: %s", down.first_error);
	cr_expect_eq(after.failed, 0, "failed: %s", after.first_error);
	cr_expect_eq(after.answered, 5, "%d of 5 answered", after.answered);
	cr_expect_lt(after.last_answer_ms - t_up, 1500, "the last answer %lld ms after the start",
	             (long long)(after.last_answer_ms - t_up));
	clients_finish(v, 5);
}

/* A login that waiting cannot mend (the database does not exist on the server) still fails
 * the waiting clients at once, with PostgreSQL's error; the pool is down, /ready says why. */
IT_TEST(wait, lasting_error_fails_at_once)
{
	int http = it_http_port();
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"trust\"; };\n"
	         "admin = { users = [ \"admin\" ]; http_port = %d; };\n"
	         "pool = { mode = \"transaction\"; size = 4; query_wait_timeout = \"20s\"; };\n"
	         "databases = ( { name = \"nodb\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "                dbname = \"no_such_database_wait\"; } );\n",
	         http);
	it_pglane_start(conf);
	it_wait_port(http);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "nodb",
	            NULL);
	static struct client v[5];
	int64_t t0 = it_now_ms();
	clients_start(v, 5, ci);
	clients_drive(v, 5, 5000);
	struct tally t = clients_tally(v, 5);
	int64_t took = it_now_ms() - t0;
	cr_expect_eq(t.failed, 5, "%d of 5 clients failed", t.failed);
	cr_expect(t.first_error && strstr(t.first_error, "does not exist"), "error: %s",
	          t.first_error);
	cr_expect_lt(took, 2000, "the error took %lld ms", (long long)took);
	clients_finish(v, 5);
	PGconn *admin = adminq_connect("admin");
	struct seen s = look(admin, http, "nodb");
	cr_expect_str_eq(s.state, "down");
	cr_expect(strstr(s.error, "does not exist"), "server_error: %s", s.error);
	cr_expect_eq(s.up_metric, 0);
	cr_expect_eq(s.ready, 503);
	cr_expect(strstr(s.ready_body, "database nodb: down for "), "/ready: %s", s.ready_body);
	PQfinish(admin);
}
