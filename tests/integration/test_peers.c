/* tests/integration/test_peers.c — scale-out behind a TCP load balancer (issue 19): Debian's
 * haproxy in TCP mode, round-robin, in front of 3 pglanes that are each other's peers
 * (peer_id 1..3, each listing the other two). pgbench through haproxy has no error and every
 * pglane serves some of its clients; 50 cancels of long statements sent through haproxy (libpq's
 * PQcancel, so two in three land on a pglane that does not own the client and must forward
 * them) each cancel their own statement within 1 s and no other; without peering such a cancel
 * is lost and the statement runs on (the test can fail).
 *
 * The 3 pglanes and haproxy are children of the test process (killed with it: PR_SET_PDEATHSIG),
 * each with its config and log in the test's temp dir. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/prom.h"
#include "tests/integration/wire.h"

#define NLANES      3
#define NCONNS      10 /* long statements running at once */
#define NROUNDS     5  /* NCONNS cancels each */
#define CANCEL_MS   1000
#define START_MS    10000
#define STOP_MS     10000
#define HAPROXY_BIN "/usr/sbin/haproxy"

/* The processes of one test: NLANES pglanes and haproxy in front. */
struct scale {
	char dir[512];
	int port[NLANES];
	pid_t pid[NLANES];
	char log[NLANES][600];
	char conf[NLANES][600];
	int hport;
	int http; /* pglane 1's admin.http_port */
	pid_t hpid;
	char hlog[600];
	const char *peer_host; /* the host peers are listed by; NULL: 127.0.0.1 */
};
static struct scale S;

/* Start argv[0] with stdout and stderr into `log`, in S.dir; it dies with the test process. */
static pid_t spawn(const char *log, char *const argv[])
{
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int nul = open("/dev/null", O_RDONLY);
		if (fd < 0 || nul < 0 || chdir(S.dir) != 0)
			_exit(126);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		dprintf(2, "test_peers: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static bool accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Wait until `pid` listens on `port`; fails the test (with its log) when it exits first or
 * START_MS passes. */
static void wait_listening(pid_t pid, int port, const char *log)
{
	int64_t deadline = it_now_ms() + START_MS;
	while (!accepts(port)) {
		int st;
		char *text = NULL;
		if (waitpid(pid, &st, WNOHANG) == pid || it_now_ms() > deadline) {
			text = it_file_read(log);
			cr_assert_fail("%s did not listen on %d; log:\n%.3000s", log, port,
			               text ? text : "");
		}
		it_sleep_ms(20);
	}
}

/* Stop `*pid` with `sig`, SIGKILL after STOP_MS; true when it was still running. */
static bool stop(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return false;
	int st;
	bool alive = waitpid(*pid, &st, WNOHANG) == 0;
	if (alive) {
		kill(*pid, sig);
		int64_t deadline = it_now_ms() + STOP_MS;
		while (waitpid(*pid, &st, WNOHANG) == 0) {
			if (it_now_ms() > deadline) {
				kill(*pid, SIGKILL);
				waitpid(*pid, &st, 0);
				break;
			}
			it_sleep_ms(10);
		}
	}
	*pid = 0;
	return alive;
}

/* NLANES + 1 distinct free ports (it_free_port() gives the same one within a millisecond). */
static void pick_ports(void)
{
	int all[NLANES + 1];
	for (int i = 0; i <= NLANES; i++) {
		bool dup;
		int tries = 0;
		do {
			all[i] = it_free_port();
			dup = false;
			for (int j = 0; j < i; j++)
				dup |= all[j] == all[i];
			cr_assert(++tries < 50, "no distinct free ports");
			if (dup)
				it_sleep_ms(3); /* it_free_port() seeds with the time in ms */
		} while (dup);
	}
	memcpy(S.port, all, sizeof(S.port));
	S.hport = all[NLANES];
}

/* pglane i's config with `peer_id`, listing as peers the pglanes j != i whose bit is in `peers`
 * (pglane j is peer j + 1). */
static void write_lane_conf_as(int i, int peer_id, unsigned peers_mask, const char *level,
                               const char *path)
{
	char peers[600] = "", conf[2048];
	size_t n = 0;
	for (int j = 0; j < NLANES; j++) {
		if (j == i || !(peers_mask & (1u << j)))
			continue;
		n += (size_t)snprintf(peers + n, sizeof(peers) - n,
		                      "%s { id = %d; host = \"%s\"; port = %d; }", n ? "," : "",
		                      j + 1, S.peer_host ? S.peer_host : "127.0.0.1", S.port[j]);
	}
	char admin[64] = ""; /* pglane 1 serves /metrics */
	if (i == 0)
		snprintf(admin, sizeof(admin), "admin = { http_port = %d; };\n", S.http);
	/* each listens on DIR/.s.PGSQL.<its port> too */
	snprintf(conf, sizeof(conf),
	         "listen = { host = \"127.0.0.1\"; port = %d; unix_socket_dir = \"%s\"; };\n"
	         "%s"
	         "auth = { type = \"trust\"; };\n"
	         "log = { level = \"%s\"; };\n"
	         "pool = { mode = \"transaction\"; size = 12; query_wait_timeout = \"60s\"; };\n"
	         "databases = ( { name = \"*\"; host = \"%s\"; port = %d; } );\n"
	         "peer_id = %d;\n"
	         "peers = ( %s );\n",
	         S.port[i], S.dir, admin, level, it_pghost(), it_pgport(), peer_id, peers);
	it_file_write(path, conf);
}

/* pglane i's config: peer_id i + 1 listing the others when `peering`, else no peering. */
static void write_lane_conf(int i, bool peering, const char *level, const char *path)
{
	write_lane_conf_as(i, peering ? i + 1 : 0, peering ? ~0u : 0u, level, path);
}

static void write_haproxy_conf(const char *path)
{
	char conf[2048];
	int n = snprintf(conf, sizeof(conf),
	                 "global\n  maxconn 1000\n"
	                 "defaults\n  mode tcp\n  timeout connect 5s\n"
	                 "  timeout client 120s\n  timeout server 120s\n"
	                 "frontend pg\n  bind 127.0.0.1:%d\n  default_backend pglanes\n"
	                 "backend pglanes\n  balance roundrobin\n",
	                 S.hport);
	for (int i = 0; i < NLANES; i++)
		n += snprintf(conf + n, sizeof(conf) - (size_t)n, "  server lane%d 127.0.0.1:%d\n",
		              i + 1, S.port[i]);
	it_file_write(path, conf);
}

/* Start the 3 pglanes, then haproxy in front (foreground, -db). */
static void scale_start(bool peering, const char *level)
{
	cr_assert_eq(access(HAPROXY_BIN, X_OK), 0, "%s missing (make deps installs haproxy)",
	             HAPROXY_BIN);
	memset(&S, 0, sizeof(S));
	it_mkdtemp(S.dir, sizeof(S.dir));
	pick_ports();
	S.http = it_http_port();
	char dir[sizeof(S.dir)]; /* a copy: gcc -O1 sees S.dir and S.conf as overlapping */
	memcpy(dir, S.dir, sizeof(dir));
	for (int i = 0; i < NLANES; i++) {
		snprintf(S.conf[i], sizeof(S.conf[i]), "%s/pglane%d.conf", dir, i + 1);
		snprintf(S.log[i], sizeof(S.log[i]), "%s/pglane%d.log", dir, i + 1);
		write_lane_conf(i, peering, level, S.conf[i]);
	}
	for (int i = 0; i < NLANES; i++) {
		char *argv[] = {(char *)it_pglane_bin(), "-c", S.conf[i], NULL};
		S.pid[i] = spawn(S.log[i], argv);
	}
	for (int i = 0; i < NLANES; i++)
		wait_listening(S.pid[i], S.port[i], S.log[i]);
	it_wait_port(S.http);
	char hconf[600];
	snprintf(hconf, sizeof(hconf), "%s/haproxy.cfg", S.dir);
	snprintf(S.hlog, sizeof(S.hlog), "%s/haproxy.log", S.dir);
	write_haproxy_conf(hconf);
	char *argv[] = {HAPROXY_BIN, "-f", hconf, "-db", NULL};
	S.hpid = spawn(S.hlog, argv);
	wait_listening(S.hpid, S.hport, S.hlog);
}

/* Stop everything; fail the test when a pglane or haproxy had died on its own. */
static void scale_finish(void)
{
	cr_expect(stop(&S.hpid, SIGTERM), "haproxy died during the test");
	for (int i = 0; i < NLANES; i++)
		cr_expect(stop(&S.pid[i], SIGINT), "pglane %d died during the test; log %s", i + 1,
		          S.log[i]);
}

static void peers_fini(void)
{
	stop(&S.hpid, SIGKILL);
	for (int i = 0; i < NLANES; i++)
		stop(&S.pid[i], SIGKILL);
}

TestSuite(peers, .fini = peers_fini, .timeout = 90);

/* How many times `needle` is in pglane i's log. */
static int lane_log_count(int i, const char *needle)
{
	char *text = it_file_read(S.log[i]);
	int n = 0;
	for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(text);
	return n;
}

static PGconn *connect_haproxy(void)
{
	char ci[512];
	it_conninfo(ci, sizeof(ci), IT_HOST, S.hport, "postgres", NULL, "bench", NULL);
	PGconn *c = it_connect_try(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "through haproxy: %s", it_conn_error(c));
	return c;
}

/* SHOW `what` on pglane i's console: its rows as "a|b|..." lines (malloc'd). */
static char *show(int i, const char *what)
{
	char *out = NULL;
	int rc = it_sh(10, &out, "psql -X -At -h 127.0.0.1 -p %d -U admin -d pglane -c 'SHOW %s'",
	               S.port[i], what);
	cr_assert_eq(rc, 0, "SHOW %s: %s", what, out);
	return out;
}

/* pglane 1's SHOW PEER_POOLS: "peer_id|cl_active_cancel_req|cl_waiting_cancel_req|
 * sv_active_cancel|sv_login|forwarded|failed" for peers 2 and 3, against what is wanted. */
static void expect_peer_pools(int fwd2, int failed2, int fwd3)
{
	char *out = show(0, "PEER_POOLS"), want[200];
	snprintf(want, sizeof(want), "2|0|0|0|0|%d|%d\n3|0|0|0|0|%d|0\n", fwd2, failed2, fwd3);
	cr_expect_str_eq(out, want, "SHOW PEER_POOLS");
	free(out);
}

/* The sample of `name` in `m` with label peer_id `peer` (NULL: none) and result `result`
 * (NULL: none); -1 when it has none. */
static double peer_metric(const struct prom *m, const char *name, const char *peer,
                          const char *result)
{
	const char *kv[4];
	int n = 0;
	if (peer) {
		kv[2 * n] = "peer_id";
		kv[2 * n++ + 1] = peer;
	}
	if (result) {
		kv[2 * n] = "result";
		kv[2 * n++ + 1] = result;
	}
	const struct prom_sample *smp = prom_find(m, name, kv, n);
	return smp ? smp->value : -1;
}

/* What pglane 1 counted of its forwards, in SHOW PEER_POOLS and /metrics alike. */
static void expect_lane1_counts(int fwd2, int failed2, int unknown)
{
	expect_peer_pools(fwd2, failed2, 0);
	struct prom m;
	adminq_metrics(S.http, &m);
	cr_expect_eq(peer_metric(&m, "pglane_peer_cancels_total", "2", "forwarded"), fwd2);
	cr_expect_eq(peer_metric(&m, "pglane_peer_cancels_total", "2", "failed"), failed2);
	cr_expect_eq(peer_metric(&m, "pglane_peer_cancels_total", "3", "forwarded"), 0);
	cr_expect_eq(peer_metric(&m, "pglane_peer_cancels_in_flight", "2", NULL), 0);
	cr_expect_eq(peer_metric(&m, "pglane_peer_cancels_unknown_total", NULL, NULL), unknown);
	prom_free(&m);
}

Test(peers, pgbench_through_haproxy, .timeout = 60)
{
	scale_start(true, "info");
	char *out = NULL;
	int rc = it_sh(40, &out,
	               "pgbench -h 127.0.0.1 -p %d -U postgres -n -S -T 8 -c 12 -j 2 bench",
	               S.hport);
	cr_expect_eq(rc, 0, "pgbench exited %d:\n%s", rc, out);
	long long failed = adminq_report_number(out, "number of failed transactions:");
	long long processed =
	        adminq_report_number(out, "number of transactions actually processed:");
	cr_expect_eq(failed, 0, "failed transactions %lld:\n%s", failed, out);
	cr_expect_gt(processed, 0, "processed %lld:\n%s", processed, out);
	int logins[NLANES];
	for (int i = 0; i < NLANES; i++) {
		logins[i] = lane_log_count(i, "login ok");
		cr_expect_geq(logins[i], 2, "pglane %d served %d of pgbench's 12 clients", i + 1,
		              logins[i]);
	}
	const char *tps = strstr(out ? out : "", "tps = ");
	cr_log_info("pgbench -c 12 through haproxy and 3 pglanes: %lld transactions, %.16s; "
	            "clients per pglane %d/%d/%d",
	            processed, tps ? tps : "?", logins[0], logins[1], logins[2]);
	free(out);
	scale_finish();
}

/* Still waiting for its statement? (reads what has arrived, never blocks) */
static bool still_running(PGconn *c)
{
	return PQconsumeInput(c) && PQisBusy(c);
}

/* NCONNS statements through haproxy, each tagged with its index in pg_stat_activity. */
static void start_sleeps(PGconn **c, PGconn *admin)
{
	for (int i = 0; i < NCONNS; i++) {
		char sql[80];
		snprintf(sql, sizeof(sql), "SELECT pg_sleep(30), 'peers-%d'", i);
		cr_assert(PQsendQuery(c[i], sql), "%s", PQerrorMessage(c[i]));
	}
	int last = 0;
	int ms = it_wait_backends(admin, NCONNS, 5000, "active", NULL, NULL, "%'peers-%", &last);
	cr_assert_geq(ms, 0, "%d of %d statements running", last, NCONNS);
}

/* Cancel c[i] through haproxy: it ends with 57014 within CANCEL_MS; its latency in ms. */
static int64_t cancel_one(PGconn *c)
{
	PGcancel *k = PQgetCancel(c);
	cr_assert_not_null(k);
	char err[256];
	int64_t t0 = it_now_ms();
	cr_assert(PQcancel(k, err, sizeof(err)), "PQcancel: %s", err);
	PQfreeCancel(k);
	bool timed_out;
	PGresult *r = it_result_wait(c, CANCEL_MS, &timed_out);
	int64_t ms = it_now_ms() - t0;
	cr_assert_not(timed_out, "not cancelled within %d ms", CANCEL_MS);
	cr_assert_str_eq(it_sqlstate(r), "57014", "%s", PQerrorMessage(c));
	PQclear(r);
	return ms;
}

Test(peers, cancels_through_haproxy_reach_their_own_statement, .timeout = 90)
{
	scale_start(true, "debug");
	PGconn *admin = it_connect_admin();
	PGconn *c[NCONNS];
	for (int i = 0; i < NCONNS; i++)
		c[i] = connect_haproxy();
	int64_t max_ms = 0, sum_ms = 0;
	for (int round = 0; round < NROUNDS; round++) {
		start_sleeps(c, admin);
		for (int i = 0; i < NCONNS; i++) {
			int64_t ms = cancel_one(c[i]);
			max_ms = ms > max_ms ? ms : max_ms;
			sum_ms += ms;
			for (int j = i + 1; j < NCONNS; j++)
				cr_assert(still_running(c[j]),
				          "round %d: cancelling %d ended %d too", round, i, j);
			int n = it_count_backends(admin, "active", NULL, NULL, "%'peers-%");
			cr_assert_eq(n, NCONNS - 1 - i, "round %d after cancel %d: %d running",
			             round, i, n);
		}
	}
	int forwarded = 0, received = 0, counted = 0;
	for (int i = 0; i < NLANES; i++) {
		forwarded += lane_log_count(i, "cancel request forwarded to peer");
		received += lane_log_count(i, "closing: cancel request handled");
		char *rows = show(i, "PEER_POOLS"); /* peer_id|...|forwarded|failed, a line each */
		for (char *line = rows; line && *line;) {
			int cols[7];
			cr_assert_eq(sscanf(line, "%d|%d|%d|%d|%d|%d|%d", &cols[0], &cols[1],
			                    &cols[2], &cols[3], &cols[4], &cols[5], &cols[6]),
			             7, "SHOW PEER_POOLS row: %s", line);
			cr_expect_eq(cols[6], 0, "pglane %d: failed forwards to peer %d", i + 1,
			             cols[0]);
			counted += cols[5];
			line = strchr(line, '\n');
			line = line ? line + 1 : NULL;
		}
		free(rows);
	}
	cr_expect_eq(counted, forwarded, "SHOW PEER_POOLS counts %d forwards, the logs %d", counted,
	             forwarded);
	/* each cancel reached one pglane through haproxy, and a second one when forwarded */
	cr_expect_eq(received, NCONNS * NROUNDS + forwarded, "received %d, forwarded %d", received,
	             forwarded);
	cr_expect_geq(forwarded, NCONNS * NROUNDS / 3, "forwarded %d of %d", forwarded,
	              NCONNS * NROUNDS);
	cr_log_info("%d cancels through haproxy: %d forwarded between peers; latency max %lld ms, "
	            "mean %.1f ms",
	            NCONNS * NROUNDS, forwarded, (long long)max_ms,
	            (double)sum_ms / (NCONNS * NROUNDS));
	for (int i = 0; i < NCONNS; i++)
		PQfinish(c[i]);
	PQfinish(admin);
	scale_finish();
}

/* The pglane whose log holds `needle` (exactly one must); -1 when none or several. */
static int lane_with(const char *needle)
{
	int found = -1;
	for (int i = 0; i < NLANES; i++) {
		if (lane_log_count(i, needle) == 0)
			continue;
		if (found >= 0)
			return -1;
		found = i;
	}
	return found;
}

Test(peers, without_peering_a_cancel_on_the_wrong_pglane_is_lost, .timeout = 60)
{
	scale_start(false, "debug");
	PGconn *admin = it_connect_admin();
	PGconn *c = connect_haproxy();
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(30), 'peers-lost'"));
	cr_assert_geq(it_wait_backends(admin, 1, 5000, "active", NULL, NULL, "%'peers-%", NULL), 0);
	PGcancel *k = PQgetCancel(c);
	char err[256];
	cr_assert(PQcancel(k, err, sizeof(err)), "PQcancel: %s", err);
	PQfreeCancel(k);
	/* round-robin: the cancel connection went to the next pglane, not the client's */
	int owner = lane_with("login ok"), got = -1;
	for (int tries = 0; tries < 100 && got < 0; tries++, it_sleep_ms(10))
		got = lane_with("closing: cancel request handled");
	cr_assert_geq(owner, 0, "the client's pglane");
	cr_assert_geq(got, 0, "the pglane that got the cancel");
	cr_assert_neq(owner, got, "the cancel reached the client's own pglane %d", owner + 1);
	bool timed_out;
	PGresult *r = it_result_wait(c, 1500, &timed_out);
	cr_expect(timed_out, "the statement ended: %s", it_sqlstate(r));
	PQclear(r);
	cr_expect_eq(it_count_backends(admin, "active", NULL, NULL, "%'peers-%"), 1,
	             "still running on PostgreSQL");
	cr_expect_eq(lane_log_count(got, "cancel request with an unknown key ignored"), 1);
	cr_log_info("without peering: the cancel reached pglane %d, the client is on pglane %d: "
	            "the statement still runs after 1.5 s",
	            got + 1, owner + 1);
	PQfinish(c);
	PQfinish(admin);
	scale_finish();
}

/* A raw CancelRequest for pid/key to pglane i; waits until pglane i closed it. */
static void send_cancel(int i, uint32_t pid, uint32_t key)
{
	uint8_t pkt[16] = {0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e};
	for (int b = 0; b < 4; b++) {
		pkt[8 + b] = (uint8_t)(pid >> (24 - 8 * b));
		pkt[12 + b] = (uint8_t)(key >> (24 - 8 * b));
	}
	int fd = it_tcp_connect(S.port[i]);
	cr_assert_eq(write(fd, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	cr_assert(it_wait_closed(fd, 2000), "pglane %d did not close the cancel connection", i + 1);
	close(fd);
}

/* Wait (2 s at most) until pglane i's log holds `needle` `want` times; the count. */
static int wait_log(int i, const char *needle, int want)
{
	int n = 0;
	for (int tries = 0; tries < 200 && (n = lane_log_count(i, needle)) < want; tries++)
		it_sleep_ms(10);
	return n;
}

Test(peers, misdirected_cancels_are_dropped_not_bounced, .timeout = 60)
{
	scale_start(true, "debug");
	const char *handled = "closing: cancel request handled";
	/* for peer 2, not yet forwarded: pglane 1 forwards it, pglane 2 finds no such key */
	send_cancel(0, 2u << 20 | 5, 0x12345678);
	cr_expect_eq(wait_log(0, "cancel request forwarded to peer 2", 1), 1);
	cr_expect_eq(wait_log(1, handled, 1), 1, "pglane 2 got the forwarded request");
	cr_expect_eq(wait_log(1, "cancel request with an unknown key ignored", 1), 1);
	/* for peer 2 but forwarded already (a misconfigured peer sent it here): dropped */
	send_cancel(0, 0x80000000u | 2u << 20 | 5, 0x12345678);
	cr_expect_eq(wait_log(0, "forwarded here by another peer: dropped", 1), 1);
	/* for a peer nobody lists: dropped */
	send_cancel(0, 9u << 20 | 5, 0x12345678);
	cr_expect_eq(wait_log(0, "cancel request for peer 9, which is not in peers: dropped", 1),
	             1);
	it_sleep_ms(200);
	cr_expect_eq(lane_log_count(0, "cancel request forwarded to peer"), 1, "only the first");
	cr_expect_eq(lane_log_count(1, handled), 1, "nothing else reached pglane 2");
	cr_expect_eq(lane_log_count(2, handled), 0, "nothing reached pglane 3");
	/* counted: one forwarded to peer 2, one for peer 9 dropped (the bounced one is not a
	 * forward) */
	expect_lane1_counts(1, 0, 1);
	scale_finish();
}

/* Rewrite pglane 1's config and send it SIGHUP; waits for the reload to be logged. */
static void reload_lane1(int peer_id, unsigned peers_mask, const char *logged)
{
	int before = lane_log_count(0, logged);
	write_lane_conf_as(0, peer_id, peers_mask, "debug", S.conf[0]);
	kill(S.pid[0], SIGHUP);
	cr_assert_eq(wait_log(0, logged, before + 1), before + 1, "reload: no \"%s\"", logged);
}

Test(peers, reload_changes_peers_but_not_peer_id, .timeout = 60)
{
	scale_start(true, "debug");
	char *out = show(0, "PEERS"), want[200];
	snprintf(want, sizeof(want), "2|127.0.0.1|%d|0\n3|127.0.0.1|%d|0\n", S.port[1], S.port[2]);
	cr_expect_str_eq(out, want);
	free(out);
	/* pglane 2 leaves pglane 1's peers: a cancel for it is dropped */
	reload_lane1(1, 1u << 2, "reload of");
	out = show(0, "PEERS");
	snprintf(want, sizeof(want), "3|127.0.0.1|%d|0\n", S.port[2]);
	cr_expect_str_eq(out, want);
	free(out);
	send_cancel(0, 2u << 20 | 5, 0x12345678);
	cr_expect_eq(wait_log(0, "cancel request for peer 2, which is not in peers: dropped", 1),
	             1);
	/* peer_id = 5 is refused until a restart: a cancel for peer 1 is still its own */
	reload_lane1(5, 1u << 1 | 1u << 2, "peer_id change only with a restart");
	send_cancel(0, 1u << 20 | 5, 0x12345678);
	cr_expect_eq(wait_log(0, "cancel request with an unknown key ignored", 1), 1);
	cr_expect_eq(lane_log_count(0, "cancel request forwarded to peer"), 0);
	scale_finish();
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read from `fd` into `r` until a whole message of `type` is there: its offset, or -1 when
 * `timeout_ms` passes or the peer closes first. */
static long wait_message(int fd, struct wire_reply *r, char type, int timeout_ms)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	for (;;) {
		size_t off = 0;
		while (off + 5 <= r->len && off + 1 + be32(r->data + off + 1) <= r->len) {
			if (r->data[off] == type)
				return (long)off;
			off += 1 + be32(r->data + off + 1);
		}
		int64_t left = deadline - it_now_ms();
		if (left <= 0 || r->closed)
			return -1;
		wire_read_some(fd, r->len + 1, (int)left, r);
	}
}

/* The SQLSTATE of the ErrorResponse at `off` in `r` ("" when it has none). */
static const char *error_sqlstate(const struct wire_reply *r, size_t off)
{
	size_t end = off + 1 + be32(r->data + off + 1), p = off + 5;
	while (p < end && r->data[p]) {
		const char *v = (const char *)r->data + p + 1;
		if (r->data[p] == 'C')
			return v;
		p += 2 + strnlen(v, end - p - 1);
	}
	return "";
}

/* A raw client of pglane 2 starts a long statement; its cancel request goes to pglane 1, which
 * must forward it: it ends with 57014 within 1 s (`forwarded`) or runs on (not). */
static void cancel_via_lane1(bool forwarded, const char *how)
{
	static struct wire_reply r;
	memset(&r, 0, sizeof(r));
	uint8_t buf[512];
	const char *kv[] = {"user", "postgres", "database", "bench"};
	int fd = it_tcp_connect(S.port[1]);
	cr_assert(wire_send(fd, buf, wire_startup(buf, sizeof(buf), kv, 2)));
	cr_assert_geq(wait_message(fd, &r, 'Z', 5000), 0, "no ReadyForQuery from pglane 2");
	long k = wait_message(fd, &r, 'K', 0);
	cr_assert_geq(k, 0, "no BackendKeyData");
	uint32_t pid = be32(r.data + k + 5), key = be32(r.data + k + 9);
	cr_expect_eq(pid >> 20, 2u, "pglane 2's cancel pid carries peer_id 2: %08x", pid);
	r.len = 0;
	const char sql[] = "SELECT pg_sleep(30), 'peers-raw'";
	cr_assert(wire_send(fd, buf, wire_msg(buf, sizeof(buf), 'Q', sql, sizeof(sql))));
	PGconn *admin = it_connect_admin();
	cr_assert_geq(it_wait_backends(admin, 1, 5000, "active", NULL, NULL, "%'peers-raw'%", NULL),
	              0);
	int64_t t0 = it_now_ms();
	send_cancel(0, pid, key);
	long e = wait_message(fd, &r, 'E', forwarded ? 1000 : 1500);
	if (forwarded) {
		cr_assert_geq(e, 0, "%s: not cancelled within 1 s", how);
		cr_expect_str_eq(error_sqlstate(&r, (size_t)e), "57014");
		cr_log_info("cancel forwarded %s: %lld ms", how, (long long)(it_now_ms() - t0));
	} else {
		cr_expect_lt(e, 0, "%s: cancelled", how);
		cr_expect_eq(it_count_backends(admin, "active", NULL, NULL, "%'peers-raw'%"), 1);
	}
	close(fd);
	cr_expect_geq(it_wait_backends(admin, 0, 5000, "active", NULL, NULL, "%'peers-raw'%", NULL),
	              0, "the statement of a closed client is cancelled");
	PQfinish(admin);
}

Test(peers, forwarded_over_a_unix_socket, .timeout = 60)
{
	scale_start(true, "debug");
	/* pglane 1 now lists the others by their socket directory */
	S.peer_host = S.dir;
	reload_lane1(1, ~0u, "reload of");
	char *out = show(0, "PEERS"), want[1200];
	snprintf(want, sizeof(want), "2|%s|%d|0\n3|%s|%d|0\n", S.dir, S.port[1], S.dir, S.port[2]);
	cr_expect_str_eq(out, want);
	free(out);
	cancel_via_lane1(true, "over a Unix socket");
	cr_expect_eq(lane_log_count(0, "cancel request forwarded to peer 2"), 1);
	scale_finish();
}

Test(peers, forwarded_to_a_host_name_or_lost_when_refused, .timeout = 60)
{
	scale_start(true, "debug");
	/* resolved without blocking (c-ares, /etc/hosts) */
	S.peer_host = "localhost";
	reload_lane1(1, ~0u, "reload of");
	cancel_via_lane1(true, "to localhost");
	cr_expect_eq(lane_log_count(0, "cancel request forwarded to peer 2"), 1);
	/* nobody listens on 127.0.0.2: logged, and pglane 1 goes on */
	S.peer_host = "127.0.0.2";
	reload_lane1(1, ~0u, "reload of");
	cancel_via_lane1(false, "to a refused address");
	cr_expect_eq(wait_log(0, "cancel request for peer 2: could not connect", 1), 1);
	expect_lane1_counts(1, 1, 0); /* an operator sees the lost one */
	scale_finish();
}
