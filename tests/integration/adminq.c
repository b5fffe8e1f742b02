/* tests/integration/adminq.c — admin console lookups, a raw HTTP client and background
 * commands (adminq.h). */
#include "tests/integration/adminq.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/integration/prom.h"

/* ---- console ---- */

PGconn *adminq_connect(const char *user)
{
	return it_connect(user, NULL, "pglane");
}

PGresult *adminq_show(PGconn *c, const char *cmd)
{
	PGresult *r = PQexec(c, cmd);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s (%s) %s", PQresStatus(PQresultStatus(r)),
		         it_sqlstate(r), r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		PQclear(r);
		cr_assert_fail("`%s` on the console failed: %s", cmd, msg);
	}
	return r;
}

void adminq_expect_columns(const PGresult *r, const char *what, const char *const *cols, int n)
{
	char got[2048] = "";
	size_t len = 0;
	for (int i = 0; i < PQnfields(r) && len + 1 < sizeof got; i++) {
		int w = snprintf(got + len, sizeof got - len, "%s%s", i ? "," : "", PQfname(r, i));
		if (w < 0)
			break;
		len += (size_t)w;
	}
	cr_assert_eq(PQnfields(r), n, "%s has %d columns, expected %d: %s", what, PQnfields(r), n,
	             got);
	for (int i = 0; i < n; i++)
		cr_assert_str_eq(PQfname(r, i), cols[i],
		                 "%s column %d is \"%s\", expected \"%s\": %s", what, i + 1,
		                 PQfname(r, i), cols[i], got);
}

static int column(const PGresult *r, const char *col)
{
	int i = PQfnumber(r, col);
	cr_assert_geq(i, 0, "no column \"%s\" in the result", col);
	return i;
}

const char *adminq_cell(const PGresult *r, int row, const char *col)
{
	int i = column(r, col);
	cr_assert(row >= 0 && row < PQntuples(r), "no row %d (of %d) for column %s", row,
	          PQntuples(r), col);
	return PQgetisnull(r, row, i) ? "" : PQgetvalue(r, row, i);
}

bool adminq_is_null(const PGresult *r, int row, const char *col)
{
	int i = column(r, col);
	cr_assert(row >= 0 && row < PQntuples(r), "no row %d (of %d)", row, PQntuples(r));
	return PQgetisnull(r, row, i);
}

long long adminq_cell_ll(const PGresult *r, int row, const char *col)
{
	const char *v = adminq_cell(r, row, col);
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	cr_assert(*v && !*end && errno == 0, "column %s row %d is \"%s\", not an integer", col, row,
	          v);
	return n;
}

double adminq_cell_num(const PGresult *r, int row, const char *col)
{
	const char *v = adminq_cell(r, row, col);
	char *end;
	double d = strtod(v, &end);
	cr_assert(*v && !*end, "column %s row %d is \"%s\", not a number", col, row, v);
	return d;
}

/* A database cell names `db` in lane `lane`: SHOW POOLS, STATS, CLIENTS and SERVERS name the
 * olap lane's rows "<db>.olap" (a unique (database, user) per row, as PgBouncer's tools want). */
bool adminq_db_is(const char *cell, const char *db, const char *lane)
{
	if (strcmp(cell, db) == 0)
		return true;
	size_t n = strlen(db);
	return lane && strncmp(cell, db, n) == 0 && cell[n] == '.' &&
	       strcmp(cell + n + 1, lane) == 0;
}

static bool row_matches(const PGresult *r, int row, const char *c1, const char *v1, const char *c2,
                        const char *v2)
{
	if (strcmp(c1, "database") == 0 && c2 && strcmp(c2, "lane") == 0)
		return adminq_db_is(adminq_cell(r, row, c1), v1, v2) &&
		       strcmp(adminq_cell(r, row, c2), v2) == 0;
	if (strcmp(adminq_cell(r, row, c1), v1) != 0)
		return false;
	return !c2 || strcmp(adminq_cell(r, row, c2), v2) == 0;
}

int adminq_find(const PGresult *r, const char *c1, const char *v1, const char *c2, const char *v2)
{
	for (int i = 0; i < PQntuples(r); i++)
		if (row_matches(r, i, c1, v1, c2, v2))
			return i;
	return -1;
}

int adminq_count(const PGresult *r, const char *c1, const char *v1, const char *c2, const char *v2)
{
	int n = 0;
	for (int i = 0; i < PQntuples(r); i++)
		n += row_matches(r, i, c1, v1, c2, v2);
	return n;
}

long long adminq_pool_value(PGconn *c, const char *db, const char *user, const char *lane,
                            const char *col)
{
	PGresult *r = adminq_show(c, "SHOW POOLS");
	long long v = -1;
	for (int i = 0; i < PQntuples(r); i++) {
		if (adminq_db_is(adminq_cell(r, i, "database"), db, lane) &&
		    strcmp(adminq_cell(r, i, "user"), user) == 0 &&
		    strcmp(adminq_cell(r, i, "lane"), lane) == 0) {
			v = adminq_cell_ll(r, i, col);
			break;
		}
	}
	PQclear(r);
	return v;
}

int adminq_pool_wait(PGconn *c, const char *db, const char *user, const char *lane, const char *col,
                     long long want, int timeout_ms, long long *last)
{
	int64_t start = it_now_ms();
	long long v;
	int took = -1;
	for (;;) {
		v = adminq_pool_value(c, db, user, lane, col);
		int64_t now = it_now_ms();
		if (v == want) {
			took = (int)(now - start);
			break;
		}
		if (now - start >= timeout_ms)
			break;
		it_sleep_ms(20);
	}
	if (last)
		*last = v;
	return took;
}

/* ---- HTTP ---- */

int adminq_http(int port, const char *req, size_t len, int timeout_ms, char **head, char **body)
{
	int fd = it_tcp_connect(port);
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the peer closed or reset: read what it said */
		off += (size_t)n;
	}
	size_t cap = 65536, got = 0;
	char *buf = malloc(cap);
	cr_assert(buf);
	int64_t deadline = it_now_ms() + timeout_ms;
	bool closed = false;
	while (!closed) {
		int64_t left = deadline - it_now_ms();
		if (left <= 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		if (got + 4096 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
		ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			closed = true;
		else
			got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	int status = 0;
	if (!closed) {
		status = -1;
	} else if (strncmp(buf, "HTTP/1.", 7) == 0 && got >= 12) {
		char *end;
		long code = strtol(buf + 9, &end, 10);
		status = end == buf + 12 && code >= 100 && code <= 599 ? (int)code : 0;
	}
	char *sep = strstr(buf, "\r\n\r\n");
	if (body) {
		*body = strdup(sep ? sep + 4 : "");
		cr_assert(*body);
	}
	if (head) {
		*head = sep ? strndup(buf, (size_t)(sep - buf)) : strdup(buf);
		cr_assert(*head);
	}
	free(buf);
	return status;
}

int adminq_http_get(int port, const char *path, char **body)
{
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
	cr_assert(n > 0 && (size_t)n < sizeof req);
	return adminq_http(port, req, (size_t)n, 10000, NULL, body);
}

void adminq_metrics(int port, struct prom *out)
{
	char *body = NULL, err[512];
	int st = adminq_http_get(port, "/metrics", &body);
	cr_assert_eq(st, 200, "GET /metrics answered %d", st);
	bool ok = prom_parse(body, out, err, sizeof err);
	cr_assert(ok, "/metrics is not valid Prometheus text: %s", err);
	free(body);
}

/* ---- background processes ---- */

pid_t adminq_bg_start(const char *out_path, const char *cmd)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int nul = open("/dev/null", O_RDONLY);
		if (fd < 0 || nul < 0)
			_exit(126);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

int adminq_wait_exit(pid_t pid, int timeout_ms, bool kill_late)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	int st;
	while (it_now_ms() < deadline) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -1;
		it_sleep_ms(10);
	}
	if (kill_late) {
		kill(-pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	return -1;
}

long long adminq_report_number(const char *out, const char *label)
{
	const char *p = strstr(out, label);
	if (!p)
		return -1;
	p += strlen(label);
	while (*p == ' ')
		p++;
	char *end;
	long long v = strtoll(p, &end, 10);
	return end == p ? -1 : v;
}
