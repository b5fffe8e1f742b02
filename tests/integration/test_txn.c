/* tests/integration/test_txn.c — what a client owns in transaction mode (issue 3): its tracked
 * parameters (TimeZone, application_name, client_encoding, DateStyle; at startup and by SET)
 * under contention, 30 clients over 3 servers; its failed transaction (25P02), which stays with
 * it until ROLLBACK while bystanders never see an aborted server; and what is left when it
 * vanishes: mid-pipeline with unsynced extended messages (an UPDATE, a pg_sleep) in both modes,
 * and a running query in session mode (test_vanish.c has the transaction-mode cases). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"
#include "tests/integration/rawpg.h"

TestSuite(txn, .fini = it_pglane_fini, .timeout = 120);

/* The one result of a PQsend*() within 30 s, later ones dropped. */
static PGresult *collect(PGconn *c, const char *what)
{
	bool timed_out = false;
	PGresult *r = it_result_wait(c, 30000, &timed_out);
	cr_assert(!timed_out, "%s: no result within 30 s", what);
	cr_assert(r, "%s: %s", what, PQerrorMessage(c));
	return r;
}

/* ---- tracked parameters under contention ---- */

#define TP_CLIENTS 30
#define TP_ROUNDS  24

struct tp_client {
	PGconn *c;
	char tz[48], app[48], enc[16], ds[24];
};

static const char *const tp_zones[] = {"Asia/Tokyo",    "America/New_York", "Europe/Paris",
                                       "UTC",           "Australia/Sydney", "America/Sao_Paulo",
                                       "Africa/Cairo",  "Asia/Kolkata",     "Pacific/Auckland",
                                       "Europe/Moscow", "America/Denver"};
static const char *const tp_encodings[] = {"UTF8", "LATIN1", "WIN1252", "SQL_ASCII", "LATIN9"};
static const char *const tp_datestyles[] = {"ISO, MDY", "SQL, DMY", "German, DMY", "ISO, YMD"};

/* chr(233) as the client receives it in `enc` (the server is UTF8). */
static const char *e_acute(const char *enc)
{
	return strcmp(enc, "UTF8") == 0 || strcmp(enc, "SQL_ASCII") == 0 ? "\xc3\xa9" : "\xe9";
}

/* '2024-03-04'::date::text in DateStyle `ds`. */
static const char *date_text(const char *ds)
{
	if (strncmp(ds, "SQL", 3) == 0)
		return "04/03/2024";
	if (strncmp(ds, "German", 6) == 0)
		return "04.03.2024";
	return "2024-03-04";
}

static void tp_set(struct tp_client *t, const char *tz, const char *app)
{
	cr_assert(strlen(tz) < sizeof t->tz && strlen(app) < sizeof t->app);
	char sql[256];
	snprintf(sql, sizeof sql, "SET TimeZone = '%s'; SET application_name = '%s'", tz, app);
	it_exec_ok(t->c, sql);
	memmove(t->tz, tz, strlen(tz) + 1); /* tz and app may be t's own strings */
	memmove(t->app, app, strlen(app) + 1);
}

/* Client i: even ones get everything at startup (TimeZone and DateStyle through libpq's PGTZ
 * and PGDATESTYLE, which it sends as startup parameters), odd ones by SET after login. */
static void tp_connect(struct tp_client *t, int i, int port)
{
	snprintf(t->tz, sizeof t->tz, "%s", tp_zones[i % 11]);
	snprintf(t->app, sizeof t->app, "it_tp_%d", i);
	snprintf(t->enc, sizeof t->enc, "%s", tp_encodings[i % 5]);
	snprintf(t->ds, sizeof t->ds, "%s", tp_datestyles[i % 4]);
	char extra[256], ci[768];
	if (i % 2 == 0) {
		snprintf(extra, sizeof extra, "application_name='%s' client_encoding='%s'", t->app,
		         t->enc);
		setenv("PGTZ", t->tz, 1);
		setenv("PGDATESTYLE", t->ds, 1);
	} else {
		extra[0] = '\0';
	}
	it_conninfo(ci, sizeof ci, IT_HOST, port, "postgres", NULL, "postgres", extra);
	t->c = it_connect_try(ci);
	unsetenv("PGTZ");
	unsetenv("PGDATESTYLE");
	cr_assert_eq(PQstatus(t->c), CONNECTION_OK, "client %d: %s", i, it_conn_error(t->c));
	if (i % 2) {
		cr_assert_eq(PQsetClientEncoding(t->c, t->enc), 0, "client %d: set encoding %s", i,
		             t->enc);
		char sql[128];
		snprintf(sql, sizeof sql, "SET DateStyle = '%s'", t->ds);
		it_exec_ok(t->c, sql);
		tp_set(t, t->tz, t->app);
	}
}

/* What libpq last heard in ParameterStatus must be the client's own values. */
static void tp_check_status(const struct tp_client *t, int i, int round)
{
	const char *names[4] = {"TimeZone", "application_name", "client_encoding", "DateStyle"};
	const char *want[4] = {t->tz, t->app, t->enc, t->ds};
	for (int k = 0; k < 4; k++) {
		const char *v = PQparameterStatus(t->c, names[k]);
		cr_expect(v && strcmp(v, want[k]) == 0,
		          "round %d client %d: ParameterStatus %s = %s, want %s", round, i,
		          names[k], v ? v : "(none)", want[k]);
	}
}

static void expect_value(PGresult *r, int row_field, const char *want, const char *what, int i,
                         int round)
{
	const char *v = PQgetvalue(r, 0, row_field);
	cr_expect_str_eq(v, want, "round %d client %d: %s = %s, want %s", round, i, what, v, want);
}

IT_TEST(txn, tracked_parameters_under_contention)
{
	struct it_pglane *p =
	        it_pglane_start_simple("transaction", 3, "query_wait_timeout = \"60s\";");
	static struct tp_client tp[TP_CLIENTS];
	for (int i = 0; i < TP_CLIENTS; i++)
		tp_connect(&tp[i], i, p->port);
	long long pids[8];
	int npids = 0;
	for (int round = 0; round < TP_ROUNDS; round++) {
		if (round == TP_ROUNDS / 2) {
			/* Half of them change their minds midway. */
			for (int i = 0; i < TP_CLIENTS; i += 2) {
				char app[48];
				snprintf(app, sizeof app, "it_tp_%d_later", i);
				tp_set(&tp[i], tp_zones[(i + 5) % 11], app);
			}
		}
		int kind = round % 3;
		for (int i = 0; i < TP_CLIENTS; i++) {
			PGconn *c = tp[i].c;
			bool sent;
			if (kind == 0)
				sent = PQsendQuery(
				        c, "SELECT current_setting('TimeZone'), "
				           "current_setting('application_name'), "
				           "current_setting('client_encoding'), "
				           "current_setting('DateStyle'),"
				           " chr(233), '2024-03-04'::date::text, pg_backend_pid()");
			else if (kind == 1)
				sent = PQsendQuery(c, "SHOW timezone");
			else
				sent = PQsendQueryParams(
				        c,
				        "SELECT current_setting('application_name'), $1::text || "
				        "current_setting('client_encoding'), chr(233)",
				        1, NULL, (const char *const[]){"enc:"}, NULL, NULL, 0);
			cr_assert(sent, "client %d: %s", i, PQerrorMessage(c));
		}
		for (int i = 0; i < TP_CLIENTS; i++) {
			struct tp_client *t = &tp[i];
			PGresult *r = collect(t->c, "tracked parameters");
			cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "round %d client %d: %s",
			             round, i, PQresultErrorMessage(r));
			if (kind == 0) {
				expect_value(r, 0, t->tz, "TimeZone", i, round);
				expect_value(r, 1, t->app, "application_name", i, round);
				expect_value(r, 2, t->enc, "client_encoding", i, round);
				expect_value(r, 3, t->ds, "DateStyle", i, round);
				expect_value(r, 4, e_acute(t->enc), "chr(233)", i, round);
				expect_value(r, 5, date_text(t->ds), "a date", i, round);
				long long pid = atoll(PQgetvalue(r, 0, 6));
				int k = 0;
				while (k < npids && pids[k] != pid)
					k++;
				if (k == npids && npids < 8)
					pids[npids++] = pid;
			} else if (kind == 1) {
				expect_value(r, 0, t->tz, "SHOW timezone", i, round);
			} else {
				char enc[32];
				snprintf(enc, sizeof enc, "enc:%s", t->enc);
				expect_value(r, 0, t->app, "application_name (extended)", i, round);
				expect_value(r, 1, enc, "client_encoding (extended)", i, round);
				expect_value(r, 2, e_acute(t->enc), "chr(233) (extended)", i,
				             round);
			}
			PQclear(r);
			tp_check_status(t, i, round);
		}
	}
	cr_expect_geq(npids, 2, "all 30 clients ran on one backend: no contention was tested");
	/* with two workers, an idle server that cannot move to the other worker's waiting
	 * client is closed and that worker opens its own (logged): a new backend, never a 4th
	 * at once; any other extra backend fails */
	int replaced = it_log_count("closed to make room");
	cr_expect_leq(npids, 3 + replaced, "%d backends for a pool of 3 (%d replaced)", npids,
	              replaced);
	for (int i = 0; i < TP_CLIENTS; i++)
		PQfinish(tp[i].c);
}

IT_TEST(txn, tracked_parameters_show_in_one_transaction)
{
	/* A multi-statement transaction sees the client's values in every statement. */
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *a = it_connect_app("postgres", NULL, "postgres", "it_one_a");
	PGconn *b = it_connect_app("postgres", NULL, "postgres", "it_one_b");
	it_exec_ok(a, "SET TimeZone = 'Asia/Tokyo'");
	it_exec_ok(b, "SET client_encoding = 'LATIN1'");
	for (int i = 0; i < 5; i++) {
		PGresult *r = PQexec(a, "BEGIN; SHOW timezone; SHOW client_encoding; "
		                        "SELECT current_setting('application_name')");
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		cr_expect_str_eq(PQgetvalue(r, 0, 0), "it_one_a");
		PQclear(r);
		char *v = it_query_str(a, "SHOW timezone");
		cr_expect_str_eq(v, "Asia/Tokyo");
		free(v);
		it_exec_ok(a, "COMMIT");
		v = it_query_str(b, "SHOW client_encoding");
		cr_expect_str_eq(v, "LATIN1");
		free(v);
		v = it_query_str(b, "SHOW timezone");
		cr_expect_str_neq(v, "Asia/Tokyo", "b sees a's TimeZone");
		free(v);
		v = it_query_str(b, "SELECT current_setting('application_name')");
		cr_expect_str_eq(v, "it_one_b");
		free(v);
	}
	PQfinish(b);
	PQfinish(a);
}

/* ---- a failed transaction stays with its client ---- */

static long long backend_pid(PGconn *c)
{
	return it_query_ll(c, "SELECT pg_backend_pid()");
}

/* The backend whose last query carries `marker` must be `pid`, idle in an aborted transaction. */
static void expect_aborted_on(PGconn *admin, const char *marker, long long pid)
{
	char sql[256];
	snprintf(sql, sizeof sql,
	         "SELECT pid || ' ' || state FROM pg_stat_activity WHERE query LIKE '%%%s%%'"
	         " AND pid <> pg_backend_pid()",
	         marker);
	char *v = it_query_str(admin, sql);
	char want[96];
	snprintf(want, sizeof want, "%lld idle in transaction (aborted)", pid);
	cr_expect_str_eq(v, want, "the failed transaction's statement `%s` ran on %s", marker, v);
	free(v);
}

IT_TEST(txn, failed_transaction_stays_with_client)
{
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *by[3];
	for (int i = 0; i < 3; i++)
		by[i] = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "BEGIN");
	long long pa = backend_pid(a);
	cr_expect_str_eq(it_exec_error(a, "SELECT 1 / 0", NULL, 0), "22012");
	cr_assert_eq(PQtransactionStatus(a), PQTRANS_INERROR);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 3; i++) {
			/* Bystanders: the other server, never an aborted transaction. */
			PGresult *r = PQexec(by[i], "SELECT pg_backend_pid()");
			cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK,
			             "round %d bystander %d: %s %s", round, i, it_sqlstate(r),
			             PQresultErrorMessage(r));
			if (PQresultStatus(r) == PGRES_TUPLES_OK)
				cr_expect_neq(atoll(PQgetvalue(r, 0, 0)), pa,
				              "bystander %d got the aborted backend", i);
			PQclear(r);
			it_exec_ok(by[i], "BEGIN; SELECT 1; COMMIT");
			cr_expect_eq(PQtransactionStatus(by[i]), PQTRANS_IDLE);
		}
		char sql[64], marker[32], msg[256];
		snprintf(marker, sizeof marker, "it:aborted-%d", round);
		snprintf(sql, sizeof sql, "SELECT 1 /* %s */", marker);
		cr_expect_str_eq(it_exec_error(a, sql, msg, sizeof msg), "25P02", "a: %s", msg);
		cr_expect_eq(PQtransactionStatus(a), PQTRANS_INERROR);
		expect_aborted_on(admin, marker, pa);
	}
	it_exec_ok(a, "ROLLBACK");
	cr_expect_eq(PQtransactionStatus(a), PQTRANS_IDLE);
	cr_expect_eq(it_query_ll(a, "SELECT 5"), 5);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(it_query_ll(by[i], "SELECT 6"), 6);
	cr_expect_eq(it_count_backends(admin, "idle in transaction (aborted)", NULL, NULL, NULL),
	             0);
	for (int i = 0; i < 3; i++)
		PQfinish(by[i]);
	PQfinish(a);
	PQfinish(admin);
}

IT_TEST(txn, failed_transaction_pool_of_one_waits)
{
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *a = it_connect("postgres", NULL, "postgres");
	PGconn *b = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "BEGIN");
	cr_expect_str_eq(it_exec_error(a, "SELECT 1 / 0", NULL, 0), "22012");
	/* The only server is in a's failed transaction: b waits, it does not get it. */
	cr_assert(PQsendQuery(b, "SELECT 'b ran'"));
	bool timed_out = false;
	PGresult *r = it_result_wait(b, 1000, &timed_out);
	cr_expect(timed_out, "b got a result while a's transaction was open: %s %s",
	          r ? PQresStatus(PQresultStatus(r)) : "-", r ? PQresultErrorMessage(r) : "");
	PQclear(r);
	const char *params[1] = {"2"};
	r = PQexecParams(a, "SELECT $1::int", 1, NULL, params, NULL, NULL, 0);
	cr_expect_str_eq(it_sqlstate(r), "25P02", "a's extended query in the failed transaction");
	PQclear(r);
	it_exec_ok(a, "ROLLBACK");
	if (timed_out) {
		r = collect(b, "b after a's ROLLBACK");
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "b: %s %s", it_sqlstate(r),
		             PQresultErrorMessage(r));
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			cr_expect_str_eq(PQgetvalue(r, 0, 0), "b ran");
		PQclear(r);
	}
	cr_expect_eq(PQtransactionStatus(b), PQTRANS_IDLE);
	cr_expect_eq(it_query_ll(a, "SELECT 7"), 7);
	PQfinish(b);
	PQfinish(a);
}

IT_TEST(txn, failed_transaction_extended_protocol)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	struct rawpg *a = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	struct rawpg *b = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	a->who = "a";
	b->who = "b";
	rawpg_query(a, "BEGIN");
	rawpg_send(a);
	rawpg_expect_seq(a, "CZ");
	cr_expect_eq(a->tx_status, 'T');
	char *v = rawpg_query_value(a, "SELECT pg_backend_pid()");
	long long pa = atoll(v);
	free(v);
	rawpg_parse(a, "", "SELECT 1 / x FROM (SELECT $1::int AS x OFFSET 0) s");
	rawpg_bind_exec(a, "", "0");
	rawpg_sync(a);
	rawpg_send(a);
	rawpg_expect_seq(a, "12EZ");
	cr_expect_str_eq(a->sqlstate, "22012");
	cr_expect_eq(a->tx_status, 'E');
	for (int i = 0; i < 5; i++) {
		v = rawpg_query_value(b, "SELECT pg_backend_pid()");
		cr_expect_neq(atoll(v), pa, "b got a's aborted backend");
		free(v);
		cr_expect_eq(b->tx_status, 'I');
		rawpg_parse(a, "", "SELECT 1");
		rawpg_bind_exec(a, "", NULL);
		rawpg_sync(a);
		rawpg_send(a);
		rawpg_expect_seq(a, "EZ");
		cr_expect_str_eq(a->sqlstate, "25P02", "%s", a->error);
		cr_expect_eq(a->tx_status, 'E');
	}
	rawpg_query(a, "ROLLBACK");
	rawpg_send(a);
	rawpg_expect_seq(a, "CZ");
	cr_expect_eq(a->tx_status, 'I');
	v = rawpg_query_value(a, "SELECT 'after'");
	cr_expect_str_eq(v, "after");
	free(v);
	rawpg_close(b);
	rawpg_close(a);
}

IT_TEST(txn, vanished_in_failed_transaction)
{
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *admin = it_connect_admin();
	PGconn *a = it_connect("postgres", NULL, "postgres");
	it_exec_ok(a, "BEGIN");
	cr_expect_str_eq(it_exec_error(a, "SELECT 1 / 0", NULL, 0), "22012");
	it_conn_vanish(a);
	PGconn *b = it_connect("postgres", NULL, "postgres");
	char *v = it_query_str(b, "SELECT 'fine'");
	cr_expect_str_eq(v, "fine");
	free(v);
	cr_expect_eq(PQtransactionStatus(b), PQTRANS_IDLE);
	int last = -1;
	cr_expect_geq(it_wait_backends(admin, 0, 5000, "idle in transaction (aborted)", NULL, NULL,
	                               NULL, &last),
	              0, "%d backends still idle in an aborted transaction", last);
	PQfinish(b);
	PQfinish(admin);
}

/* ---- vanished clients ---- */

/* End backends an earlier failed test left holding it_txn_lock or sleeping (they would block
 * the DROP TABLE below, or later tests, for up to 30 s). */
static void terminate_leftovers(PGconn *admin)
{
	it_exec_ok(admin, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
	                  " WHERE pid <> pg_backend_pid() AND (query LIKE '%it:%sleep%'"
	                  " OR pid IN (SELECT pid FROM pg_locks"
	                  " WHERE relation = to_regclass('it_txn_lock')))");
}

static void make_lock_table(void)
{
	PGconn *admin = it_connect_admin();
	terminate_leftovers(admin);
	it_exec_ok(admin, "DROP TABLE IF EXISTS it_txn_lock; "
	                  "CREATE TABLE it_txn_lock (id int PRIMARY KEY, v int); "
	                  "INSERT INTO it_txn_lock SELECT i, 0 FROM generate_series(1, 10) i");
	PQfinish(admin);
}

static int locks_on_table(PGconn *admin)
{
	return (int)it_query_ll(
	        admin, "SELECT count(*) FROM pg_locks WHERE relation = 'it_txn_lock'::regclass");
}

/* Within 5 s: no backend idle in (or running) a transaction of the vanished client, no lock on
 * it_txn_lock; then a client through pglane can lock the table at once, and the vanished
 * client's update was not committed. */
static void expect_cleaned(PGconn *admin, const char *how, int port)
{
	int64_t t0 = it_now_ms();
	int idle_tx = -1, locks = -1;
	while (it_now_ms() - t0 < 5000) {
		idle_tx =
		        it_count_backends(admin, "idle in transaction", NULL, NULL, NULL) +
		        it_count_backends(admin, "idle in transaction (aborted)", NULL, NULL, NULL);
		locks = locks_on_table(admin);
		if (idle_tx == 0 && locks == 0)
			break;
		it_sleep_ms(50);
	}
	cr_expect_eq(idle_tx, 0, "%s: %d backends idle in transaction after 5 s", how, idle_tx);
	cr_expect_eq(locks, 0, "%s: %d locks on it_txn_lock after 5 s", how, locks);
	cr_expect_eq(it_query_ll(admin, "SELECT v FROM it_txn_lock WHERE id = 1"), 0,
	             "%s: the vanished client's unsynced UPDATE was committed", how);
	if (port) {
		PGconn *c = it_connect("postgres", NULL, "postgres");
		PGresult *r =
		        PQexec(c, "BEGIN; LOCK TABLE it_txn_lock IN ACCESS EXCLUSIVE MODE NOWAIT;"
		                  " UPDATE it_txn_lock SET v = v + 10 WHERE id = 2; COMMIT");
		cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK,
		             "%s: the next client cannot lock the table: %s %s", how,
		             it_sqlstate(r), PQresultErrorMessage(r));
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			cr_expect_eq(PQtransactionStatus(c), PQTRANS_IDLE);
		PQclear(r);
		PQfinish(c);
	}
	terminate_leftovers(admin);
}

/* Parse/Bind/Execute of an UPDATE without Sync (nor Flush), wait for its row lock, vanish. */
static void vanish_unsynced_update(int port, PGconn *admin, const char *how)
{
	struct rawpg *a = rawpg_connect(port, "postgres", "postgres", NULL, 0);
	rawpg_parse(a, "", "UPDATE it_txn_lock SET v = v + 1 WHERE id = 1");
	rawpg_bind_exec(a, "", NULL);
	rawpg_send(a);
	int64_t deadline = it_now_ms() + 5000;
	while (locks_on_table(admin) == 0 && it_now_ms() < deadline)
		it_sleep_ms(20);
	cr_assert_gt(locks_on_table(admin), 0, "%s: the UPDATE holds no lock (test setup)", how);
	rawpg_vanish(a);
	expect_cleaned(admin, how, port == it_pgport() ? 0 : port);
}

IT_TEST(txn, vanish_unsynced_update_direct)
{
	/* No pglane: PostgreSQL itself rolls the implicit transaction back. */
	make_lock_table();
	PGconn *admin = it_connect_admin();
	vanish_unsynced_update(it_pgport(), admin, "direct");
	PQfinish(admin);
}

IT_TEST(txn, vanish_unsynced_update_transaction_mode)
{
	make_lock_table();
	struct it_pglane *p =
	        it_pglane_start_simple("transaction", 1, "query_wait_timeout = \"15s\";");
	PGconn *admin = it_connect_admin();
	vanish_unsynced_update(p->port, admin, "transaction mode");
	/* The same server (pool of 1) serves the next client outside any transaction. */
	PGconn *c = it_connect("postgres", NULL, "postgres");
	char *v = it_query_str(c, "SELECT pg_current_xact_id_if_assigned() IS NULL");
	cr_expect_str_eq(v, "t", "the next client runs inside the vanished client's transaction");
	free(v);
	PQfinish(c);
	PQfinish(admin);
}

IT_TEST(txn, vanish_unsynced_update_session_mode)
{
	make_lock_table();
	struct it_pglane *p = it_pglane_start_simple("session", 1, "query_wait_timeout = \"15s\";");
	PGconn *admin = it_connect_admin();
	vanish_unsynced_update(p->port, admin, "session mode");
	PQfinish(admin);
}

/* Parse/Bind/Execute of pg_sleep(30) without Sync, or a simple query (libpq) when `raw` is
 * false: once it runs, the client vanishes; the query must stop within 2 s. */
static void vanish_while_sleeping(const char *mode, bool raw, const char *marker)
{
	make_lock_table();
	struct it_pglane *p = it_pglane_start_simple(mode, 1, "query_wait_timeout = \"15s\";");
	PGconn *admin = it_connect_admin();
	char sql[128], like[64];
	snprintf(sql, sizeof sql, "SELECT pg_sleep(30) /* %s */", marker);
	snprintf(like, sizeof like, "%%%s%%", marker);
	struct rawpg *a = NULL;
	PGconn *c = NULL;
	if (raw) {
		a = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
		rawpg_query(a, "BEGIN");
		rawpg_query(a, "LOCK TABLE it_txn_lock IN ROW EXCLUSIVE MODE");
		rawpg_send(a);
		rawpg_expect_seq(a, "CZCZ");
		rawpg_parse(a, "", sql);
		rawpg_bind_exec(a, "", NULL);
		rawpg_send(a);
	} else {
		c = it_connect("postgres", NULL, "postgres");
		it_exec_ok(c, "BEGIN");
		it_exec_ok(c, "LOCK TABLE it_txn_lock IN ROW EXCLUSIVE MODE");
		cr_assert(PQsendQuery(c, sql));
	}
	int last = 0;
	cr_assert_geq(it_wait_backends(admin, 1, 5000, "active", NULL, NULL, like, &last), 0,
	              "%s: the query is not running", mode);
	int64_t t0 = it_now_ms();
	if (raw)
		rawpg_vanish(a);
	else
		it_conn_vanish(c);
	int took = it_wait_backends(admin, 0, 5000, "active", NULL, NULL, like, &last);
	cr_expect(took >= 0 && took <= 2000,
	          "%s: the vanished client's pg_sleep(30) still ran %lld ms later", mode,
	          (long long)(it_now_ms() - t0));
	expect_cleaned(admin, mode, p->port);
	PQfinish(admin);
}

IT_TEST(txn, vanish_unsynced_sleep_transaction_mode)
{
	vanish_while_sleeping("transaction", true, "it:txn-pipe-sleep");
}

IT_TEST(txn, vanish_unsynced_sleep_session_mode)
{
	vanish_while_sleeping("session", true, "it:sess-pipe-sleep");
}

IT_TEST(txn, vanish_while_query_runs_session_mode)
{
	vanish_while_sleeping("session", false, "it:sess-sleep");
}
