/* tests/integration/faultload.c — libpq clients running short transactions under faults (see
 * faultload.h). */
#include "tests/integration/faultload.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

/* What one statement got. */
struct step {
	bool broken; /* the connection went bad, or no answer within FAULTLOAD_STEP_MS */
	bool error;
	char state[6];
	char tag[32];
	long long value; /* first value of the first row, -1 when none */
	char msg[200];
};

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static bool wait_input(PGconn *c, int64_t deadline)
{
	while (PQisBusy(c)) {
		int left = (int)(deadline - it_now_ms());
		if (left <= 0)
			return false;
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
		if (poll(&p, 1, left) < 0 || !PQconsumeInput(c))
			return false;
	}
	return true;
}

static void step_result(struct step *s, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
		s->error = true;
		snprintf(s->state, sizeof s->state, "%s", it_sqlstate(r));
		snprintf(s->msg, sizeof s->msg, "%s", PQresultErrorMessage(r));
	} else {
		snprintf(s->tag, sizeof s->tag, "%s", PQcmdStatus(r));
		if (st == PGRES_TUPLES_OK && PQntuples(r) > 0)
			s->value = atoll(PQgetvalue(r, 0, 0));
	}
}

static struct step run(PGconn *c, const char *sql)
{
	struct step s = {.value = -1};
	int64_t deadline = it_now_ms() + FAULTLOAD_STEP_MS;
	if (!PQsendQuery(c, sql)) {
		s.broken = true;
		return s;
	}
	for (;;) {
		if (!wait_input(c, deadline)) {
			s.broken = true;
			return s;
		}
		PGresult *r = PQgetResult(c);
		if (!r)
			break;
		step_result(&s, r);
		PQclear(r);
	}
	if (PQstatus(c) != CONNECTION_OK)
		s.broken = true;
	return s;
}

/* A message on one line (libpq's end with newlines, its disconnects span several). */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\t')
			*s = ' ';
}

static void note_state(struct faultload_client *c, const struct step *s)
{
	c->errors++;
	if (!c->first_error[0]) {
		snprintf(c->first_error, sizeof c->first_error, "%s: %s", s->state, s->msg);
		one_line(c->first_error);
	}
	for (int i = 0; i < FAULTLOAD_STATES; i++) {
		if (!c->states[i][0])
			snprintf(c->states[i], sizeof c->states[i], "%s", s->state);
		if (strcmp(c->states[i], s->state) == 0) {
			c->state_counts[i]++;
			return;
		}
	}
}

/* A new PGconn (bounded tries) so the load goes on; c->conn stays NULL when none came. */
static void connect_again(struct faultload_client *c)
{
	for (int i = 0; i < 100 && !atomic_load(&c->load->stop); i++) {
		c->conn = PQconnectdb(c->load->conninfo);
		if (PQstatus(c->conn) == CONNECTION_OK) {
			PQsetNoticeProcessor(c->conn, quiet, NULL);
			return;
		}
		PQfinish(c->conn);
		c->conn = NULL;
		it_sleep_ms(50);
	}
}

/* A lost PGconn: counted, then a new one. */
static void reconnect(struct faultload_client *c)
{
	c->disconnects++;
	if (!c->first_error[0]) {
		snprintf(c->first_error, sizeof c->first_error, "disconnect: %s",
		         PQerrorMessage(c->conn));
		one_line(c->first_error);
	}
	PQfinish(c->conn);
	c->conn = NULL;
	connect_again(c);
}

/* The in-transaction read: the row must be commits + 1, or more by uncertain COMMITs that did
 * commit after all (those are then counted as commits). */
static void check_read(struct faultload_client *c, long long v)
{
	long long lo = c->commits + 1, hi = lo + c->uncertain;
	if (v < lo || v > hi) {
		if (!c->wrong++)
			snprintf(c->first_wrong, sizeof c->first_wrong,
			         "read %lld, expected %lld..%lld", v, lo, hi);
		return;
	}
	c->uncertain -= v - lo;
	c->commits += v - lo;
}

/* One transaction; false when the connection was lost (already reconnected). */
static bool transaction(struct faultload_client *c)
{
	char upd[160], sel[160];
	snprintf(upd, sizeof upd, "UPDATE %s SET n = n + 1 WHERE id = %d", c->load->table, c->id);
	snprintf(sel, sizeof sel, "SELECT n FROM %s WHERE id = %d", c->load->table, c->id);
	const char *sqls[] = {"BEGIN", upd, sel, "COMMIT"};
	c->txns++;
	for (int i = 0; i < 4; i++) {
		struct step s = run(c->conn, sqls[i]);
		if (s.broken) {
			if (i == 3)
				c->uncertain++;
			reconnect(c);
			return false;
		}
		if (s.error) {
			note_state(c, &s);
			if (i == 3) {
				c->uncertain++;
			}
			if (PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
				struct step rb = run(c->conn, "ROLLBACK");
				if (rb.broken) {
					reconnect(c);
					return false;
				}
				if (rb.error)
					note_state(c, &rb);
			}
			return true;
		}
		if (i == 2)
			check_read(c, s.value);
	}
	c->commits++;
	long long mark = atomic_load(&c->load->mark_ms);
	if (mark && c->first_ok_ms < 0)
		c->first_ok_ms = it_now_ms();
	return true;
}

static void *client_main(void *arg)
{
	struct faultload_client *c = arg;
	unsigned seed = (unsigned)c->id * 7919u + 17u;
	for (int i = 0; i < 1000000 && !atomic_load(&c->load->stop); i++) {
		if (!c->conn)
			connect_again(c);
		if (!c->conn)
			break;
		transaction(c);
		it_sleep_ms(10 + (int)(rand_r(&seed) % 21));
	}
	return NULL;
}

static void create_table(PGconn *admin, const char *table, int n)
{
	char sql[256];
	snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", table);
	it_exec_ok(admin, sql);
	snprintf(sql, sizeof sql, "CREATE TABLE %s (id int PRIMARY KEY, n bigint NOT NULL)", table);
	it_exec_ok(admin, sql);
	snprintf(sql, sizeof sql, "INSERT INTO %s SELECT g, 0 FROM generate_series(0, %d) g", table,
	         n - 1);
	it_exec_ok(admin, sql);
}

/* `tmpl` with its first @ID@ replaced by `id`, run on `c`. */
static void run_each(PGconn *c, const char *tmpl, int id)
{
	char sql[256];
	const char *at = strstr(tmpl, "@ID@");
	if (at)
		snprintf(sql, sizeof sql, "%.*s%d%s", (int)(at - tmpl), tmpl, id, at + 4);
	else
		snprintf(sql, sizeof sql, "%s", tmpl);
	it_exec_ok(c, sql);
}

void faultload_start(struct faultload *l, PGconn *admin, int port, const char *dbname,
                     const char *table, int n, const char *each_sql)
{
	cr_assert(n > 0 && n <= FAULTLOAD_MAX);
	memset(l, 0, sizeof *l);
	l->n = n;
	snprintf(l->table, sizeof l->table, "%s", table);
	it_conninfo(l->conninfo, sizeof l->conninfo, IT_HOST, port, "postgres", NULL, dbname,
	            "application_name=faults_load");
	PQnoticeProcessor was = PQsetNoticeProcessor(admin, quiet, NULL);
	create_table(admin, table, n);
	PQsetNoticeProcessor(admin, was, NULL);
	for (int i = 0; i < n; i++) {
		struct faultload_client *c = &l->c[i];
		c->load = l;
		c->id = i;
		c->first_ok_ms = -1;
		c->conn = it_connect_try(l->conninfo);
		cr_assert_eq(PQstatus(c->conn), CONNECTION_OK, "load client %d: %s", i,
		             it_conn_error(c->conn));
		PQsetNoticeProcessor(c->conn, quiet, NULL);
		if (each_sql)
			run_each(c->conn, each_sql, i);
	}
	for (int i = 0; i < n; i++)
		cr_assert_eq(pthread_create(&l->c[i].thread, NULL, client_main, &l->c[i]), 0);
}

void faultload_mark(struct faultload *l)
{
	atomic_store(&l->mark_ms, (long long)it_now_ms());
}

static void add_states(struct faultload_sum *s, const struct faultload *l)
{
	char seen[FAULTLOAD_MAX * FAULTLOAD_STATES][6];
	long long counts[FAULTLOAD_MAX * FAULTLOAD_STATES];
	int ns = 0;
	for (int i = 0; i < l->n; i++)
		for (int k = 0; k < FAULTLOAD_STATES && l->c[i].states[k][0]; k++) {
			int j = 0;
			while (j < ns && strcmp(seen[j], l->c[i].states[k]) != 0)
				j++;
			if (j == ns) {
				memcpy(seen[ns], l->c[i].states[k], 6);
				counts[ns++] = 0;
			}
			counts[j] += l->c[i].state_counts[k];
		}
	size_t off = 0;
	for (int j = 0; j < ns && off < sizeof s->states - 20; j++)
		off += (size_t)snprintf(s->states + off, sizeof s->states - off, "%s%s=%lld",
		                        j ? " " : "", seen[j], counts[j]);
}

struct faultload_sum faultload_stop(struct faultload *l)
{
	atomic_store(&l->stop, true);
	struct faultload_sum s = {0};
	int warned = 0;
	long long mark = atomic_load(&l->mark_ms);
	s.marked = mark != 0;
	for (int i = 0; i < l->n; i++) {
		struct faultload_client *c = &l->c[i];
		pthread_join(c->thread, NULL);
		s.txns += c->txns;
		s.commits += c->commits;
		s.uncertain += c->uncertain;
		s.errors += c->errors;
		s.disconnects += c->disconnects;
		s.wrong += c->wrong;
		if ((c->disconnects || c->wrong) && warned++ < 5)
			cr_log_warn("load client %d: %lld disconnects, %lld wrong: %s %s", i,
			            c->disconnects, c->wrong, c->first_error, c->first_wrong);
		if (!mark)
			continue;
		int64_t back = c->first_ok_ms < 0 ? -1 : c->first_ok_ms - mark;
		if (s.slowest_back_ms >= 0 && (back < 0 || back > s.slowest_back_ms))
			s.slowest_back_ms = back;
	}
	add_states(&s, l);
	return s;
}

int faultload_check_rows(struct faultload *l, PGconn *admin)
{
	int bad = 0;
	for (int i = 0; i < l->n; i++) {
		const struct faultload_client *c = &l->c[i];
		char sql[160];
		snprintf(sql, sizeof sql, "SELECT n FROM %s WHERE id = %d", l->table, c->id);
		long long n = it_query_ll(admin, sql);
		if (n < c->commits || n > c->commits + c->uncertain) {
			cr_log_warn("load client %d: row %lld, commits %lld (+%lld uncertain)", i,
			            n, c->commits, c->uncertain);
			bad++;
		}
	}
	return bad;
}

int faultload_alive(struct faultload *l)
{
	int alive = 0;
	for (int i = 0; i < l->n; i++) {
		PGconn *c = l->c[i].conn;
		if (!c || PQstatus(c) != CONNECTION_OK)
			continue;
		struct step s = run(c, "SELECT 1");
		alive += !s.broken && !s.error && s.value == 1;
	}
	return alive;
}

void faultload_free(struct faultload *l)
{
	for (int i = 0; i < l->n; i++) {
		PQfinish(l->c[i].conn);
		l->c[i].conn = NULL;
	}
}

static bool state_allowed(const char *state, const char *const *allowed)
{
	for (int i = 0; allowed[i]; i++)
		if (strcmp(state, allowed[i]) == 0)
			return true;
	return false;
}

void faultload_expect_states(const struct faultload *l, const char *const *allowed)
{
	for (int i = 0; i < l->n; i++)
		for (int k = 0; k < FAULTLOAD_STATES && l->c[i].states[k][0]; k++)
			cr_expect(state_allowed(l->c[i].states[k], allowed),
			          "client %d got SQLSTATE %s (%lld times), first error: %s", i,
			          l->c[i].states[k], l->c[i].state_counts[k], l->c[i].first_error);
}

void faultload_log(const char *what, const struct faultload_sum *s)
{
	char back[64] = "";
	if (s->marked)
		snprintf(back, sizeof back, ", slowest back %lld ms",
		         (long long)s->slowest_back_ms);
	cr_log_info("%s: %lld transactions, %lld commits (+%lld uncertain), %lld errors [%s], "
	            "%lld disconnects, %lld wrong%s",
	            what, s->txns, s->commits, s->uncertain, s->errors, s->states, s->disconnects,
	            s->wrong, back);
}

/* The filter is fenced off in a subquery: the planner may not call pg_terminate_backend on
 * rows (the caller's own backend) that the rest of the filter would have dropped. */
long long faultload_kill_backends(PGconn *admin, const char *dbname)
{
	char sql[400];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM "
	         "(SELECT pid FROM pg_stat_activity WHERE datname = '%s' "
	         "AND backend_type = 'client backend' AND pid <> pg_backend_pid() OFFSET 0) AS b",
	         dbname);
	return it_query_ll(admin, sql);
}
