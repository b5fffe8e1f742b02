/* bench/idle_clients.c — many client connections at once, for the benchmark (bench/run.sh).
 *
 *   idle_clients [-n N] [-p PARALLEL] [-t SECONDS] [-q] CONNINFO
 *
 * Opens N connections with libpq's nonblocking connect, at most PARALLEL logins in flight, and
 * waits until every one has logged in or failed. Then:
 *   without -q  prints "ready OK ERRORS" on stdout and holds the connections open, idle, until
 *               SIGTERM or SIGINT (or the time limit); a connection the server closes meanwhile
 *               counts as dropped;
 *   with -q     sends "select 1" on every connection at once, waits for every answer, and
 *               closes them all.
 * Each phase (logging in; holding or querying) is bounded by the time limit (-t, default 300 s);
 * what has not finished by then counts as an error. The last line on stdout is one summary:
 *   connected=N connect_errors=N query_errors=N dropped=N connect_s=S query_s=S total_s=S
 * The exit status is 0 when there was no error of any kind, 1 otherwise, 2 on bad usage.
 * The first few error messages go to stderr.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getopt, sigaction */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define MAX_CLIENTS      100000
#define MAX_PARALLEL     10000
#define MAX_SHOWN_ERRORS 5
#define POLL_MS          200

enum client_state {
	CLIENT_PENDING,    /* not started */
	CLIENT_CONNECTING, /* PQconnectPoll in progress */
	CLIENT_READY,      /* logged in, idle */
	CLIENT_QUERYING,   /* select 1 sent, answer not complete */
	CLIENT_DONE,       /* answered (query mode) */
	CLIENT_FAILED,     /* gave up on it; conn is NULL */
};

struct client {
	PGconn *conn; /* owned */
	enum client_state state;
	PostgresPollingStatusType poll; /* what the connect waits for */
	bool query_failed;              /* an answer other than one row "1" */
};

struct counts {
	int connected;
	int connect_errors;
	int query_errors;
	int dropped;
	int shown;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void show_error(struct counts *k, const char *what, const char *msg)
{
	if (k->shown >= MAX_SHOWN_ERRORS)
		return;
	k->shown++;
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	fprintf(stderr, "idle_clients: %s: %.*s\n", what, (int)n, msg);
}

/* Give up on a client: close its connection, if any. */
static void client_fail(struct client *c)
{
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
	c->state = CLIENT_FAILED;
}

static void client_start(struct client *c, const char *conninfo, struct counts *k)
{
	c->conn = PQconnectStart(conninfo);
	if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
		k->connect_errors++;
		show_error(k, "connect", c->conn ? PQerrorMessage(c->conn) : "out of memory");
		client_fail(c);
		return;
	}
	c->state = CLIENT_CONNECTING;
	c->poll = PGRES_POLLING_WRITING;
}

/* One step of a login; returns false once the client is no longer connecting. */
static bool client_connect_step(struct client *c, struct counts *k)
{
	c->poll = PQconnectPoll(c->conn);
	if (c->poll == PGRES_POLLING_OK) {
		c->state = CLIENT_READY;
		k->connected++;
		return false;
	}
	if (c->poll == PGRES_POLLING_FAILED) {
		k->connect_errors++;
		show_error(k, "login", PQerrorMessage(c->conn));
		client_fail(c);
		return false;
	}
	return true;
}

/* Log in all n clients, at most `parallel` at a time, until `deadline`. */
static void connect_all(struct client *cl, int n, int parallel, const char *conninfo,
                        double deadline, struct counts *k)
{
	struct pollfd *pfd = calloc((size_t)parallel, sizeof(*pfd));
	int *idx = calloc((size_t)parallel, sizeof(*idx));
	int *inflight = calloc((size_t)parallel, sizeof(*inflight));
	int ninflight = 0, next = 0;
	if (!pfd || !idx || !inflight) {
		fprintf(stderr, "idle_clients: out of memory\n");
		exit(1);
	}
	while ((next < n || ninflight > 0) && !stop_requested) {
		while (next < n && ninflight < parallel) {
			struct client *c = &cl[next];
			client_start(c, conninfo, k);
			if (c->state == CLIENT_CONNECTING)
				inflight[ninflight++] = next;
			next++;
		}
		if (now_s() > deadline)
			break;
		int np = 0;
		for (int i = 0; i < ninflight; i++) {
			struct client *c = &cl[inflight[i]];
			pfd[np].fd = PQsocket(c->conn);
			pfd[np].events = c->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
			pfd[np].revents = 0;
			idx[np++] = i;
		}
		int r = poll(pfd, (nfds_t)np, POLL_MS);
		if (r < 0 && errno != EINTR) {
			perror("idle_clients: poll");
			break;
		}
		for (int j = 0; r > 0 && j < np; j++) {
			if (!pfd[j].revents)
				continue;
			int i = idx[j];
			if (!client_connect_step(&cl[inflight[i]], k))
				inflight[i] = -1;
		}
		int w = 0;
		for (int i = 0; i < ninflight; i++)
			if (inflight[i] >= 0)
				inflight[w++] = inflight[i];
		ninflight = w;
	}
	/* out of time (or told to stop): whatever has not logged in is an error */
	for (int i = 0; i < n; i++) {
		if (cl[i].state == CLIENT_CONNECTING || cl[i].state == CLIENT_PENDING) {
			k->connect_errors++;
			if (cl[i].state == CLIENT_CONNECTING)
				show_error(k, "login", "did not finish in time");
			client_fail(&cl[i]);
		}
	}
	free(pfd);
	free(idx);
	free(inflight);
}

/* Hold the logged-in clients idle until a signal or `deadline`; count the ones the server
 * closes. */
static void hold_all(struct client *cl, int n, double deadline, struct counts *k)
{
	struct pollfd *pfd = calloc((size_t)n + 1, sizeof(*pfd));
	int *idx = calloc((size_t)n + 1, sizeof(*idx));
	if (!pfd || !idx) {
		fprintf(stderr, "idle_clients: out of memory\n");
		exit(1);
	}
	while (!stop_requested && now_s() < deadline) {
		int np = 0;
		for (int i = 0; i < n; i++) {
			if (cl[i].state != CLIENT_READY)
				continue;
			pfd[np].fd = PQsocket(cl[i].conn);
			pfd[np].events = POLLIN;
			pfd[np].revents = 0;
			idx[np++] = i;
		}
		int r = poll(pfd, (nfds_t)np, 1000);
		if (r < 0 && errno != EINTR) {
			perror("idle_clients: poll");
			break;
		}
		for (int j = 0; r > 0 && j < np; j++) {
			if (!pfd[j].revents)
				continue;
			struct client *c = &cl[idx[j]];
			if (!PQconsumeInput(c->conn) || PQstatus(c->conn) == CONNECTION_BAD) {
				k->dropped++;
				show_error(k, "idle connection closed", PQerrorMessage(c->conn));
				client_fail(c);
				continue;
			}
			/* an unexpected message (e.g. an error before a close): read it away */
			while (!PQisBusy(c->conn)) {
				PGresult *res = PQgetResult(c->conn);
				if (!res)
					break;
				PQclear(res);
			}
		}
	}
	free(pfd);
	free(idx);
}

/* Read what has arrived for a querying client; false once it is done or failed. */
static bool client_query_step(struct client *c, struct counts *k)
{
	if (!PQconsumeInput(c->conn)) {
		k->query_errors++;
		show_error(k, "select 1", PQerrorMessage(c->conn));
		client_fail(c);
		return false;
	}
	while (!PQisBusy(c->conn)) {
		PGresult *res = PQgetResult(c->conn);
		if (!res) {
			if (c->query_failed)
				k->query_errors++;
			c->state = CLIENT_DONE;
			return false;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
		    strcmp(PQgetvalue(res, 0, 0), "1") != 0) {
			if (!c->query_failed)
				show_error(k, "select 1", PQresultErrorMessage(res));
			c->query_failed = true;
		}
		PQclear(res);
	}
	return true;
}

/* Send "select 1" on every logged-in client at once and wait for every answer. */
static void query_all(struct client *cl, int n, double deadline, struct counts *k)
{
	struct pollfd *pfd = calloc((size_t)n + 1, sizeof(*pfd));
	int *idx = calloc((size_t)n + 1, sizeof(*idx));
	if (!pfd || !idx) {
		fprintf(stderr, "idle_clients: out of memory\n");
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		struct client *c = &cl[i];
		if (c->state != CLIENT_READY)
			continue;
		if (PQsetnonblocking(c->conn, 1) != 0 || !PQsendQuery(c->conn, "select 1")) {
			k->query_errors++;
			show_error(k, "send select 1", PQerrorMessage(c->conn));
			client_fail(c);
			continue;
		}
		c->state = CLIENT_QUERYING;
	}
	for (;;) {
		int np = 0;
		for (int i = 0; i < n; i++) {
			struct client *c = &cl[i];
			if (c->state != CLIENT_QUERYING)
				continue;
			int f = PQflush(c->conn);
			if (f < 0) {
				k->query_errors++;
				show_error(k, "send select 1", PQerrorMessage(c->conn));
				client_fail(c);
				continue;
			}
			pfd[np].fd = PQsocket(c->conn);
			pfd[np].events = (short)(POLLIN | (f > 0 ? POLLOUT : 0));
			pfd[np].revents = 0;
			idx[np++] = i;
		}
		if (np == 0 || stop_requested || now_s() > deadline)
			break;
		int r = poll(pfd, (nfds_t)np, POLL_MS);
		if (r < 0 && errno != EINTR) {
			perror("idle_clients: poll");
			break;
		}
		for (int j = 0; r > 0 && j < np; j++)
			if (pfd[j].revents & (POLLIN | POLLERR | POLLHUP))
				(void)client_query_step(&cl[idx[j]], k);
	}
	for (int i = 0; i < n; i++) {
		if (cl[i].state == CLIENT_QUERYING) {
			k->query_errors++;
			show_error(k, "select 1", "no answer in time");
			client_fail(&cl[i]);
		}
	}
	free(pfd);
	free(idx);
}

static void usage(void)
{
	fprintf(stderr, "usage: idle_clients [-n N] [-p PARALLEL] [-t SECONDS] [-q] CONNINFO\n");
	exit(2);
}

static int arg_int(const char *s, int lo, int hi)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		usage();
	return (int)v;
}

int main(int argc, char **argv)
{
	int n = 2000, parallel = 100, limit_s = 300, opt;
	bool query = false;
	while ((opt = getopt(argc, argv, "n:p:t:q")) != -1) {
		switch (opt) {
		case 'n':
			n = arg_int(optarg, 1, MAX_CLIENTS);
			break;
		case 'p':
			parallel = arg_int(optarg, 1, MAX_PARALLEL);
			break;
		case 't':
			limit_s = arg_int(optarg, 1, 86400);
			break;
		case 'q':
			query = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	const char *conninfo = argv[optind];

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct client *cl = calloc((size_t)n, sizeof(*cl));
	if (!cl) {
		fprintf(stderr, "idle_clients: out of memory\n");
		return 1;
	}
	struct counts k = {0};
	double t0 = now_s();
	connect_all(cl, n, parallel, conninfo, t0 + limit_s, &k);
	double t1 = now_s();
	if (query) {
		query_all(cl, n, t1 + limit_s, &k);
	} else {
		printf("ready %d %d\n", k.connected, k.connect_errors);
		fflush(stdout);
		hold_all(cl, n, t1 + limit_s, &k);
	}
	double t2 = now_s();
	for (int i = 0; i < n; i++)
		if (cl[i].conn)
			PQfinish(cl[i].conn);
	double t3 = now_s();
	free(cl);
	printf("connected=%d connect_errors=%d query_errors=%d dropped=%d connect_s=%.2f "
	       "query_s=%.2f total_s=%.2f\n",
	       k.connected, k.connect_errors, k.query_errors, k.dropped, t1 - t0,
	       query ? t2 - t1 : 0.0, t3 - t0);
	return k.connect_errors || k.query_errors || k.dropped ? 1 : 0;
}
