/* tests/integration/test_pins.c — session state that cannot move pins its client to its server
 * in transaction mode (issue 14). Pool of 2, busy clients in threads running transactions that
 * probe the session state of whatever backend they land on (pinsq.c), holder clients (hold.h)
 * to steer a transaction onto a chosen backend. For each kind of state:
 *   - the owner: every later transaction runs on the backend that holds the state and finds it
 *     (advisory lock held, temp table rows 1..20, WITH HOLD cursor rows 1..30 in order, SQL
 *     PREPARE executes, LISTEN gets the 10 notifications in order);
 *   - the others: never run on that backend while it is pinned, never see the state (cannot
 *     take the lock, 42P01 for the temp table, 34000 for the cursor, 26000 for the statement,
 *     no notification);
 *   - the end of the state (unlock / unlock_all, DROP, CLOSE / CLOSE ALL, DEALLOCATE,
 *     UNLISTEN *, DISCARD ALL) unpins: the owner's transactions move again and the backend it
 *     held is clean for the next client; a re-entrant lock taken twice stays pinned until
 *     unlocked twice;
 *   - the owner leaving (or vanishing) with state: the next client on that backend finds none;
 *   - visibility: SHOW CLIENTS pinned (one reason, several, none for others), SHOW POOLS /
 *     SHOW LANES cl_pinned, /metrics pglane_pool_clients_pinned and pglane_pins_total{reason},
 *     the `pin` log event; LOAD pins with reason load;
 *   - the pinned server dies under its idle owner: its next statement fails (or it is
 *     disconnected), never runs elsewhere unaware; nothing stays pinned; two pinned clients fill
 * the pool of 2: a third waits and gets the first server its owner lets go, clean.
 * test_pins_refuse.c has pin_session_state = "refuse" / "allow" and session mode. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/hold.h"
#include "tests/integration/pinsq.h"

TestSuite(pins, .fini = it_pglane_fini, .timeout = 60);

/* ---- fixture and helpers ---- */

struct fx {
	struct pins_env e;
	struct hold h;
	PGconn *a; /* the owner of the state */
	PGconn *o; /* another client */
};

static void fx_start(struct fx *f, const char *pool_extra)
{
	pins_start(&f->e, "transaction", pool_extra, NULL);
	f->h = hold_init();
	long long pids[2];
	hold_learn(&f->h, pids); /* both servers of the pool exist from now on */
	f->a = pins_client("it_pins_owner");
	f->o = pins_client("it_pins_other");
}

static void fx_end(struct fx *f)
{
	PQfinish(f->a);
	PQfinish(f->o);
	hold_fini(&f->h);
	pins_env_close(&f->e);
}

#define VAL 160

/* BEGIN; sql[0..n-1]; COMMIT with the first value of each in val[i] (the error when it
 * failed). False when a statement failed (the transaction is then rolled back). */
static bool txn(PGconn *c, const char *const *sql, int n, char val[][VAL])
{
	char v[VAL];
	for (int i = 0; i < n; i++)
		val[i][0] = '\0';
	if (!pins_try(c, "BEGIN", v, sizeof v)) {
		snprintf(val[0], VAL, "BEGIN: %.140s", v);
		return false;
	}
	for (int i = 0; i < n; i++) {
		if (!pins_try(c, sql[i], val[i], VAL)) {
			pins_try(c, "ROLLBACK", v, sizeof v);
			return false;
		}
	}
	if (!pins_try(c, "COMMIT", v, sizeof v)) {
		snprintf(val[0], VAL, "COMMIT: %.140s", v);
		return false;
	}
	return true;
}

/* a alone is pinned for `reason`: SHOW CLIENTS, SHOW POOLS, SHOW LANES, /metrics and the log
 * say so. pglane_pins_total{reason} grew from total_before by one
 * (exact) or more. */
static void expect_visible(struct fx *f, const char *reason, double total_before, bool exact,
                           const char *what)
{
	pins_wait_pinned(&f->e, f->a, reason, 3000, what);
	pins_expect_others_unpinned(&f->e, f->a, what);
	cr_expect_eq(pins_pools_cl_pinned(&f->e), 1, "%s: SHOW POOLS cl_pinned", what);
	cr_expect_eq(pins_lanes_cl_pinned(&f->e), 1, "%s: SHOW LANES cl_pinned", what);
	double v = pins_metric_clients_pinned(&f->e);
	cr_expect_eq(v, 1, "%s: pglane_pool_clients_pinned = %g, want 1", what, v);
	double before = total_before < 0 ? 0 : total_before;
	double t = pins_metric_pins_total(&f->e, reason);
	if (exact)
		cr_expect_eq(t, before + 1, "%s: pglane_pins_total{reason=\"%s\"} = %g, was %g",
		             what, reason, t, total_before);
	else
		cr_expect_geq(t, before + 1, "%s: pglane_pins_total{reason=\"%s\"} = %g, was %g",
		              what, reason, t, total_before);
	cr_expect_geq(pins_log_pin_events(reason), 1, "%s: no `pin` log event with reason %s", what,
	              reason);
}

/* a is no longer pinned, and nothing says a client is. */
static void expect_unpinned(struct fx *f, const char *what)
{
	pins_wait_pinned(&f->e, f->a, "", 5000, what);
	pins_expect_others_unpinned(&f->e, f->a, what);
	cr_expect_eq(pins_pools_cl_pinned(&f->e), 0, "%s: SHOW POOLS cl_pinned", what);
	cr_expect_eq(pins_lanes_cl_pinned(&f->e), 0, "%s: SHOW LANES cl_pinned", what);
	double v = pins_metric_clients_pinned(&f->e);
	cr_expect_eq(v, 0, "%s: pglane_pool_clients_pinned = %g, want 0", what, v);
}

/* After a unpinned: its transactions move again, and the backend pa it was pinned to holds no
 * session state for the next client. No busy clients may run. */
static void expect_released(struct fx *f, long long pa, const char *what)
{
	pins_expect_moves(&f->h, f->a, what);
	bool gone;
	struct pins_probe p = pins_probe_on(&f->h, f->o, &f->e, pa, &gone);
	cr_expect(pins_probe_clean(&p), "%s: the next client on backend %lld found %s", what, pa,
	          pins_probe_str(&p));
}

/* ---- 1. session advisory locks ---- */

#define OWN_4242                                                                                   \
	"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242"               \
	" AND pid = pg_backend_pid() AND granted"

IT_TEST(pins, advisory_lock)
{
	struct fx f;
	fx_start(&f, NULL);
	double total0 = pins_metric_pins_total(&f.e, "advisory_lock");
	struct pins_busy *b = pins_busy_start(3, "SELECT pg_try_advisory_xact_lock(4242)");
	pins_busy_wait(b, 6, 5000);

	it_exec_ok(f.a, "SELECT pg_advisory_lock(4242)");
	long long pa;
	cr_assert_eq(pins_lock_holders(&f.e, &pa), 1, "one backend should hold the owner's lock");
	pins_busy_avoid(b, pa);
	int moved = 0, lost = 0, taken = 0;
	for (int i = 0; i < 10; i++) {
		static const char *const q[] = {"SELECT pg_backend_pid()", OWN_4242};
		char v[2][VAL];
		if (!txn(f.a, q, 2, v))
			cr_expect_fail("owner's transaction %d failed: %s %s", i, v[0], v[1]);
		moved += atoll(v[0]) != pa;
		lost += strcmp(v[1], "1") != 0;
		taken += pins_other_takes("SELECT pg_try_advisory_lock(4242)",
		                          "SELECT pg_advisory_unlock(4242)");
		pins_busy_wait(b, 2, 2000);
	}
	cr_expect_eq(moved, 0, "%d of the owner's 10 transactions ran on another backend than %lld",
	             moved, pa);
	cr_expect_eq(lost, 0, "in %d of the owner's 10 transactions its backend held no lock",
	             lost);
	cr_expect_eq(taken, 0, "another client's pg_try_advisory_lock(4242) succeeded %d times",
	             taken);
	long long pid2;
	cr_expect(pins_lock_holders(&f.e, &pid2) == 1 && pid2 == pa,
	          "the owner's lock is no longer held by backend %lld alone", pa);
	struct pins_busy_stats st;
	pins_busy_stop(b, &st);
	pins_busy_expect_clean(&st, "while the owner held lock 4242");
	expect_visible(&f, "advisory_lock", total0, false, "after pg_advisory_lock");

	char v[VAL];
	cr_expect(pins_try(f.a, "SELECT pg_advisory_unlock(4242)", v, sizeof v) &&
	                  strcmp(v, "t") == 0,
	          "the owner's pg_advisory_unlock(4242): %s", v);
	expect_unpinned(&f, "after pg_advisory_unlock");
	cr_expect(pins_other_takes("SELECT pg_try_advisory_lock(4242)",
	                           "SELECT pg_advisory_unlock(4242)"),
	          "after the owner's unlock another client cannot take lock 4242");
	expect_released(&f, pa, "after pg_advisory_unlock");
	fx_end(&f);
}

IT_TEST(pins, advisory_lock_variants)
{
	static const struct {
		const char *lock, *want, *busy_try, *other_try, *other_unlock;
	} vs[] = {
	        {"SELECT pg_try_advisory_lock(4242)", "t", "SELECT pg_try_advisory_xact_lock(4242)",
	         "SELECT pg_try_advisory_lock(4242)", "SELECT pg_advisory_unlock(4242)"},
	        {"SELECT pg_advisory_lock_shared(4242)", "",
	         "SELECT pg_try_advisory_xact_lock(4242)", "SELECT pg_try_advisory_lock(4242)",
	         "SELECT pg_advisory_unlock(4242)"},
	        {"SELECT pg_try_advisory_lock_shared(4242)", "t",
	         "SELECT pg_try_advisory_xact_lock(4242)", "SELECT pg_try_advisory_lock(4242)",
	         "SELECT pg_advisory_unlock(4242)"},
	        {"SELECT pg_advisory_lock(4242, 7)", "",
	         "SELECT pg_try_advisory_xact_lock(4242, 7)",
	         "SELECT pg_try_advisory_lock(4242, 7)", "SELECT pg_advisory_unlock(4242, 7)"},
	};
	struct fx f;
	fx_start(&f, NULL);
	for (size_t k = 0; k < sizeof vs / sizeof vs[0]; k++) {
		struct pins_busy *b = pins_busy_start(3, vs[k].busy_try);
		pins_busy_wait(b, 4, 5000);
		char v[VAL];
		cr_assert(pins_try(f.a, vs[k].lock, v, sizeof v), "`%s`: %s", vs[k].lock, v);
		cr_expect_str_eq(v, vs[k].want, "`%s` returned %s", vs[k].lock, v);
		long long pa;
		cr_assert_eq(pins_lock_holders(&f.e, &pa), 1, "`%s`: one backend should hold it",
		             vs[k].lock);
		pins_busy_avoid(b, pa);
		for (int i = 0; i < 3; i++) {
			static const char *const q[] = {
			        "SELECT pg_backend_pid()",
			        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
			        " AND pid = pg_backend_pid() AND granted"};
			char r[2][VAL];
			bool ok = txn(f.a, q, 2, r);
			cr_expect(ok && atoll(r[0]) == pa && strcmp(r[1], "1") == 0,
			          "after `%s` (on %lld), the owner's transaction %d: backend %s, "
			          "%s locks",
			          vs[k].lock, pa, i, r[0], r[1]);
			cr_expect(!pins_other_takes(vs[k].other_try, vs[k].other_unlock),
			          "after the owner's `%s`, another client's `%s` succeeded",
			          vs[k].lock, vs[k].other_try);
			pins_busy_wait(b, 2, 2000);
		}
		struct pins_busy_stats st;
		pins_busy_stop(b, &st);
		pins_busy_expect_clean(&st, vs[k].lock);
		pins_wait_pinned(&f.e, f.a, "advisory_lock", 3000, vs[k].lock);
		it_exec_ok(f.a, "SELECT pg_advisory_unlock_all()");
		expect_unpinned(&f, "after pg_advisory_unlock_all");
		long long left;
		cr_expect_eq(pins_lock_holders(&f.e, &left), 0,
		             "after `%s` and unlock_all backend %lld holds a lock", vs[k].lock,
		             left);
		expect_released(&f, pa, vs[k].lock);
	}
	fx_end(&f);
}

/* Session locks are re-entrant: unpinned only when the last one is released. */
IT_TEST(pins, advisory_lock_reentrant)
{
	struct fx f;
	fx_start(&f, NULL);
	it_exec_ok(f.a, "SELECT pg_advisory_lock(4242)");
	it_exec_ok(f.a, "SELECT pg_advisory_lock(4242)");
	long long pa;
	cr_assert_eq(pins_lock_holders(&f.e, &pa), 1);
	char v[VAL];
	cr_expect(pins_try(f.a, "SELECT pg_advisory_unlock(4242)", v, sizeof v) && !strcmp(v, "t"),
	          "first unlock: %s", v);
	it_sleep_ms(300);
	pins_wait_pinned(&f.e, f.a, "advisory_lock", 100, "locked twice, unlocked once");
	struct pins_busy *b = pins_busy_start(2, "SELECT pg_try_advisory_xact_lock(4242)");
	pins_busy_avoid(b, pa);
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(pins_pid(f.a), pa, "locked twice, unlocked once: transaction %d moved",
		             i);
		cr_expect(!pins_other_takes("SELECT pg_try_advisory_lock(4242)",
		                            "SELECT pg_advisory_unlock(4242)"),
		          "locked twice, unlocked once: another client took the lock");
		pins_busy_wait(b, 2, 2000);
	}
	struct pins_busy_stats st;
	pins_busy_stop(b, &st);
	pins_busy_expect_clean(&st, "locked twice, unlocked once");

	/* 4242 once more and 4243: releasing 4242 leaves 4243 */
	it_exec_ok(f.a, "SELECT pg_advisory_lock(4243)");
	cr_expect(pins_try(f.a, "SELECT pg_advisory_unlock(4242)", v, sizeof v) && !strcmp(v, "t"),
	          "second unlock: %s", v);
	it_sleep_ms(300);
	pins_wait_pinned(&f.e, f.a, "advisory_lock", 100, "4243 still held");
	cr_expect_eq(pins_pid(f.a), pa, "4243 still held: the owner moved");
	cr_expect(pins_other_takes("SELECT pg_try_advisory_lock(4242)",
	                           "SELECT pg_advisory_unlock(4242)"),
	          "4242 was released but another client cannot take it");
	cr_expect(!pins_other_takes("SELECT pg_try_advisory_lock(4243)",
	                            "SELECT pg_advisory_unlock(4243)"),
	          "another client took 4243, held by the owner");
	cr_expect(pins_try(f.a, "SELECT pg_advisory_unlock(4243)", v, sizeof v) && !strcmp(v, "t"),
	          "unlock 4243: %s", v);
	expect_unpinned(&f, "after the last unlock");
	expect_released(&f, pa, "after the last unlock");
	fx_end(&f);
}

/* ---- 2. temp tables ---- */

IT_TEST(pins, temp_table)
{
	struct fx f;
	fx_start(&f, NULL);
	double total0 = pins_metric_pins_total(&f.e, "temp_object");
	struct pins_busy *b = pins_busy_start(3, NULL);
	pins_busy_wait(b, 6, 5000);
	long long pa = it_query_ll(f.a, "CREATE TEMP TABLE pins_t(i int); SELECT pg_backend_pid()");
	pins_busy_avoid(b, pa);
	int moved = 0, wrong = 0, seen = 0;
	for (int i = 1; i <= 20; i++) {
		char ins[64];
		snprintf(ins, sizeof ins, "INSERT INTO pins_t VALUES (%d)", i);
		const char *q[] = {ins, "SELECT count(*) FROM pins_t", "SELECT pg_backend_pid()"};
		char v[3][VAL];
		if (!txn(f.a, q, 3, v)) {
			cr_expect_fail("owner's transaction %d failed: %s | %s | %s", i, v[0], v[1],
			               v[2]);
			wrong++;
			continue;
		}
		moved += atoll(v[2]) != pa;
		if (atoll(v[1]) != i) {
			cr_expect_fail("owner's transaction %d: count(*) = %s", i, v[1]);
			wrong++;
		}
		char r[VAL];
		bool ok =
		        pins_try(f.o, "SELECT to_regclass('pg_temp.pins_t') IS NULL", r, sizeof r);
		seen += !ok || strcmp(r, "t") != 0;
		ok = pins_try(f.o, "SELECT count(*) FROM pins_t", r, sizeof r);
		if (ok || strncmp(r, "42P01", 5) != 0) {
			cr_expect_fail("round %d: another client's SELECT from pins_t gave %s", i,
			               r);
			seen++;
		}
		pins_busy_wait(b, 1, 2000);
	}
	cr_expect_eq(moved, 0, "%d of the owner's 20 transactions ran elsewhere than %lld", moved,
	             pa);
	cr_expect_eq(wrong, 0, "the owner's pins_t went wrong in %d of 20 transactions", wrong);
	cr_expect_eq(seen, 0, "another client saw pg_temp.pins_t %d times", seen);
	struct pins_busy_stats st;
	pins_busy_stop(b, &st);
	pins_busy_expect_clean(&st, "while the owner had a temp table");
	expect_visible(&f, "temp_object", total0, true, "after CREATE TEMP TABLE");

	it_exec_ok(f.a, "DROP TABLE pins_t");
	expect_unpinned(&f, "after DROP TABLE");
	char r[VAL];
	cr_expect(pins_try(f.o, "SELECT to_regclass('pg_temp.pins_t') IS NULL", r, sizeof r) &&
	                  !strcmp(r, "t"),
	          "after the drop another client sees pins_t: %s", r);
	expect_released(&f, pa, "after DROP TABLE");
	fx_end(&f);
}

/* ---- 3. WITH HOLD cursors ---- */

IT_TEST(pins, held_cursor)
{
	struct fx f;
	fx_start(&f, NULL);
	double total0 = pins_metric_pins_total(&f.e, "held_cursor");
	struct pins_busy *b = pins_busy_start(3, NULL);
	pins_busy_wait(b, 6, 5000);
	it_exec_ok(f.a, "BEGIN");
	it_exec_ok(f.a, "DECLARE pins_c CURSOR WITH HOLD FOR SELECT generate_series(1, 30)");
	long long pa = pins_pid(f.a);
	it_exec_ok(f.a, "COMMIT");
	pins_busy_avoid(b, pa);
	int moved = 0, wrong = 0, seen = 0;
	char v[VAL];
	for (int i = 1; i <= 30; i++) {
		if (!pins_try(f.a, "FETCH 1 FROM pins_c", v, sizeof v) || atoi(v) != i) {
			cr_expect_fail("the owner's FETCH %d gave %s", i, v);
			wrong++;
		}
		if (!pins_try(f.a, "SELECT pg_backend_pid()", v, sizeof v) || atoll(v) != pa)
			moved++;
		if (i % 5 == 0) {
			bool ok = pins_try(f.o, "FETCH 1 FROM pins_c", v, sizeof v);
			if (ok || strncmp(v, "34000", 5) != 0) {
				cr_expect_fail("another client's FETCH from pins_c gave %s", v);
				seen++;
			}
		}
		pins_busy_wait(b, 1, 2000);
	}
	cr_expect(pins_try(f.a, "FETCH 1 FROM pins_c", v, sizeof v) && !strcmp(v, ""),
	          "the 31st FETCH gave %s, want no row", v);
	cr_expect_eq(moved, 0, "%d of the owner's transactions ran elsewhere than %lld", moved, pa);
	cr_expect_eq(wrong, 0, "%d of 30 FETCHes went wrong", wrong);
	cr_expect_eq(seen, 0);
	struct pins_busy_stats st;
	pins_busy_stop(b, &st);
	pins_busy_expect_clean(&st, "while the owner had a WITH HOLD cursor");
	expect_visible(&f, "held_cursor", total0, true, "after DECLARE WITH HOLD");

	it_exec_ok(f.a, "CLOSE pins_c");
	expect_unpinned(&f, "after CLOSE");
	expect_released(&f, pa, "after CLOSE");

	/* declared outside a transaction block, ended by CLOSE ALL */
	it_exec_ok(f.a, "DECLARE pins_c CURSOR WITH HOLD FOR SELECT generate_series(1, 30)");
	pins_wait_pinned(&f.e, f.a, "held_cursor", 3000, "after an autocommit DECLARE WITH HOLD");
	cr_expect_eq(it_query_ll(f.a, "FETCH 1 FROM pins_c"), 1);
	it_exec_ok(f.a, "CLOSE ALL");
	expect_unpinned(&f, "after CLOSE ALL");
	pins_expect_moves(&f.h, f.a, "after CLOSE ALL");
	fx_end(&f);
}

/* ---- 4. SQL PREPARE ---- */

IT_TEST(pins, sql_prepare)
{
	struct fx f;
	fx_start(&f, NULL);
	double total0 = pins_metric_pins_total(&f.e, "prepared_statement");
	struct pins_busy *b = pins_busy_start(3, NULL);
	pins_busy_wait(b, 6, 5000);
	it_exec_ok(f.a, "PREPARE pins_p(int) AS SELECT $1 * 2");
	long long pa = pins_pid(f.a);
	pins_busy_avoid(b, pa);
	int moved = 0, wrong = 0, seen = 0;
	char v[2][VAL];
	for (int i = 0; i < 10; i++) {
		static const char *const q[] = {"EXECUTE pins_p(21)", "SELECT pg_backend_pid()"};
		if (!txn(f.a, q, 2, v) || strcmp(v[0], "42") != 0) {
			cr_expect_fail("the owner's EXECUTE %d gave %s", i, v[0]);
			wrong++;
		}
		moved += atoll(v[1]) != pa;
		/* the other client while the owner is between transactions */
		if (pins_try(f.o, "EXECUTE pins_p(1)", v[0], VAL) ||
		    strncmp(v[0], "26000", 5) != 0) {
			cr_expect_fail("another client's EXECUTE pins_p(1) gave %s", v[0]);
			seen++;
		}
		pins_busy_wait(b, 1, 2000);
	}
	/* ... and while the owner is inside one */
	it_exec_ok(f.a, "BEGIN");
	cr_expect_eq(it_query_ll(f.a, "EXECUTE pins_p(4)"), 8);
	if (pins_try(f.o, "EXECUTE pins_p(1)", v[0], VAL) || strncmp(v[0], "26000", 5) != 0) {
		cr_expect_fail("another client's EXECUTE pins_p(1) during the owner's transaction "
		               "gave %s",
		               v[0]);
	}
	it_exec_ok(f.a, "COMMIT");
	cr_expect_eq(moved, 0, "%d of the owner's 10 transactions ran elsewhere than %lld", moved,
	             pa);
	cr_expect_eq(wrong, 0);
	cr_expect_eq(seen, 0);
	struct pins_busy_stats st;
	pins_busy_stop(b, &st);
	pins_busy_expect_clean(&st, "while the owner had a prepared statement");
	expect_visible(&f, "prepared_statement", total0, true, "after PREPARE");

	it_exec_ok(f.a, "DEALLOCATE pins_p");
	expect_unpinned(&f, "after DEALLOCATE");
	cr_expect(!pins_try(f.a, "EXECUTE pins_p(21)", v[0], VAL) && !strncmp(v[0], "26000", 5),
	          "after DEALLOCATE the owner's EXECUTE gave %s", v[0]);
	expect_released(&f, pa, "after DEALLOCATE");
	fx_end(&f);
}

/* ---- 5. LISTEN ---- */

IT_TEST(pins, listen)
{
	struct fx f;
	fx_start(&f, NULL);
	double total0 = pins_metric_pins_total(&f.e, "listen");
	PGconn *s = pins_client("it_pins_sender");
	struct pins_busy *b = pins_busy_start(3, NULL);
	pins_busy_wait(b, 6, 5000);
	it_exec_ok(f.a, "LISTEN pins_chan");
	long long pa = pins_pid(f.a);
	pins_busy_avoid(b, pa);
	char got[12][64];
	int have = 0, moved = 0;
	for (int i = 1; i <= 10; i++) {
		char sql[64];
		snprintf(sql, sizeof sql, "NOTIFY pins_chan, 'n%d'", i);
		it_exec_ok(s, sql);
		if (i % 2)
			moved += pins_pid(f.a) != pa;
		have = pins_notifies(f.a, got, have, 12, 0);
		pins_busy_wait(b, 1, 2000);
	}
	have = pins_notifies(f.a, got, have, 10, 5000);
	cr_expect_eq(moved, 0, "%d of the owner's transactions ran elsewhere than %lld", moved, pa);
	cr_expect_eq(have, 10, "the listener got %d notifications, want 10", have);
	for (int i = 0; i < have && i < 10; i++) {
		char want[64];
		snprintf(want, sizeof want, "pins_chan:n%d", i + 1);
		cr_expect_str_eq(got[i], want, "notification %d is %s, want %s", i + 1, got[i],
		                 want);
	}
	char other[1][64];
	cr_expect_eq(pins_notifies(f.o, other, 0, 1, 200), 0, "another client got a notification");
	cr_expect_eq(pins_notifies(s, other, 0, 1, 0), 0, "the sender got a notification");
	struct pins_busy_stats st;
	pins_busy_stop(b, &st);
	pins_busy_expect_clean(&st, "while the owner listened");
	expect_visible(&f, "listen", total0, true, "after LISTEN");

	it_exec_ok(f.a, "UNLISTEN *");
	expect_unpinned(&f, "after UNLISTEN *");
	it_exec_ok(s, "NOTIFY pins_chan, 'late'");
	cr_expect_eq(pins_notifies(f.a, got, 0, 1, 300), 0, "a notification after UNLISTEN *: %s",
	             got[0]);
	expect_released(&f, pa, "after UNLISTEN *");
	PQfinish(s);
	fx_end(&f);
}

/* ---- 6. the owner leaves: the next client on its backend finds nothing ---- */

IT_TEST(pins, leaving_owner_server_reset)
{
	struct fx f;
	fx_start(&f, NULL);
	for (int k = 0; k < PINS_NREASONS; k++) {
		const struct pins_reason *r = &pins_reasons[k];
		for (int vanish = 0; vanish < 2; vanish++) {
			PGconn *a = pins_client("it_pins_leaver");
			pins_reason_setup(a, r);
			long long pa = pins_pid(a);
			pins_reason_use(a, r, "before leaving");
			if (vanish)
				it_conn_vanish(a);
			else
				PQfinish(a);
			char last[256];
			bool discarded = pins_wait_discarded(&f.e, pa, 1000, last, sizeof last);
			if (!discarded)
				cr_log_info(
				        "%s: backend %lld's last query after its owner left: %s",
				        r->name, pa, last);
			bool gone;
			struct pins_probe p = pins_probe_on(&f.h, f.o, &f.e, pa, &gone);
			cr_expect(pins_probe_clean(&p),
			          "%s: after its owner %s, the next client on its backend found %s",
			          r->name, vanish ? "vanished" : "left", pins_probe_str(&p));
			if (gone)
				cr_log_info("%s: backend %lld was closed after its owner left",
				            r->name, pa);
		}
	}
	cr_expect_eq(pins_pools_cl_pinned(&f.e), 0, "SHOW POOLS cl_pinned after all owners left");
	fx_end(&f);
}

/* ---- 7. visibility: one reason at a time, all at once, DISCARD ALL ---- */

IT_TEST(pins, visibility)
{
	struct fx f;
	fx_start(&f, "pin_session_state = \"pin\";");
	for (int k = 0; k < PINS_NREASONS; k++) {
		const struct pins_reason *r = &pins_reasons[k];
		double total0 = pins_metric_pins_total(&f.e, r->name);
		int log0 = pins_log_pin_events(r->name);
		pins_reason_setup(f.a, r);
		long long pa = pins_pid(f.a);
		pins_reason_use(f.a, r, "owner");
		pins_reason_other(f.o, r, "while pinned");
		expect_visible(&f, r->name, total0, true, r->name);
		char *sv = pins_server_pinned(&f.e, pa);
		cr_expect(pins_same_reasons(sv, r->name),
		          "%s: SHOW SERVERS pinned of backend %lld = \"%s\"", r->name, pa, sv);
		free(sv);
		cr_expect_eq(pins_log_pin_events(r->name), log0 + 1,
		             "%s: %d `pin` log events, want one more than %d", r->name,
		             pins_log_pin_events(r->name), log0);
		cr_expect_eq(pins_pid(f.a), pa, "%s: the owner moved", r->name);
		it_exec_ok(f.a, r->undo);
		expect_unpinned(&f, r->undo);
		double t = pins_metric_pins_total(&f.e, r->name);
		cr_expect_eq(t, (total0 < 0 ? 0 : total0) + 1,
		             "%s: pglane_pins_total changed after the unpin: %g", r->name, t);
	}

	/* all five at once: the list of reasons, then DISCARD ALL ends them all */
	for (int k = 0; k < PINS_NREASONS; k++)
		pins_reason_setup(f.a, &pins_reasons[k]);
	long long pa = pins_pid(f.a);
	pins_wait_pinned(&f.e, f.a,
	                 "advisory_lock,temp_object,held_cursor,prepared_statement,listen", 3000,
	                 "all five");
	cr_expect_eq(pins_pools_cl_pinned(&f.e), 1, "one client pinned for five reasons");
	for (int k = 0; k < PINS_NREASONS; k++)
		pins_reason_use(f.a, &pins_reasons[k], "all five");
	it_exec_ok(f.a, "UNLISTEN *");
	pins_wait_pinned(&f.e, f.a, "advisory_lock,temp_object,held_cursor,prepared_statement",
	                 3000, "after UNLISTEN * of the five");
	cr_expect_eq(pins_pid(f.a), pa, "the owner moved while still pinned");
	it_exec_ok(f.a, "DISCARD ALL");
	expect_unpinned(&f, "after DISCARD ALL");
	expect_released(&f, pa, "after DISCARD ALL");
	fx_end(&f);
}

IT_TEST(pins, load)
{
	struct fx f;
	fx_start(&f, NULL);
	struct pins_busy *b = pins_busy_start(2, NULL);
	it_exec_ok(f.a, "LOAD 'auto_explain'");
	long long pa = pins_pid(f.a);
	pins_busy_avoid(b, pa);
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(pins_pid(f.a), pa, "after LOAD, transaction %d moved", i);
		pins_busy_wait(b, 2, 2000);
	}
	struct pins_busy_stats st;
	pins_busy_stop(b, &st);
	pins_busy_expect_clean(&st, "while the owner had loaded a library");
	pins_wait_pinned(&f.e, f.a, "load", 3000, "after LOAD");
	pins_expect_others_unpinned(&f.e, f.a, "after LOAD");
	cr_expect_eq(pins_pools_cl_pinned(&f.e), 1);
	cr_expect_geq(pins_log_pin_events("load"), 1, "no `pin` log event with reason load");
	PQfinish(f.a);
	/* the library stays in that backend: its server is closed, not handed on */
	pins_expect_backend_gone(&f.e, pa, "after the owner of a LOAD left");
	f.a = pins_client("it_pins_owner");
	long long last = -1;
	cr_expect_geq(adminq_pool_wait(f.e.admin, "postgres", "postgres", "oltp", "cl_pinned", 0,
	                               3000, &last),
	              0, "cl_pinned is %lld after the owner left", last);
	fx_end(&f);
}

/* ---- the pinned server dies; pinned clients fill the pool ---- */

/* The owner's server dies while it is idle: its lock and LISTEN are gone, and it must learn it
 * (its next statement fails, or its connection is closed as a direct one would be) rather than
 * go on elsewhere unaware; then nothing is pinned. */
IT_TEST(pins, pinned_server_dies)
{
	struct fx f;
	fx_start(&f, NULL);
	it_exec_ok(f.a, "SELECT pg_advisory_lock(4242)");
	it_exec_ok(f.a, "LISTEN pins_chan");
	long long pa;
	cr_assert_eq(pins_lock_holders(&f.e, &pa), 1);
	pins_wait_pinned(&f.e, f.a, "advisory_lock,listen", 3000, "lock and LISTEN");
	char sql[96], v[VAL];
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", pa);
	cr_assert(pins_try(f.e.pg, sql, v, sizeof v) && !strcmp(v, "t"), "%s: %s", sql, v);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", pa);
	int64_t deadline = it_now_ms() + 3000;
	while (it_query_ll(f.e.pg, sql) > 0 && it_now_ms() < deadline)
		it_sleep_ms(20);
	it_sleep_ms(200);
	bool ok = pins_try(f.a, "SELECT pg_backend_pid()", v, sizeof v);
	cr_expect(!ok,
	          "after its pinned server died the owner's next statement ran (on %s) as if it "
	          "still held its lock and LISTEN",
	          v);
	if (PQstatus(f.a) != CONNECTION_OK) {
		/* as a direct connection would be: the owner must log in again */
		cr_log_info("pglane closed the owner's connection: %s", PQerrorMessage(f.a));
		PQfinish(f.a);
		f.a = pins_client("it_pins_owner");
		long long last = -1;
		cr_expect_geq(adminq_pool_wait(f.e.admin, "postgres", "postgres", "oltp",
		                               "cl_pinned", 0, 3000, &last),
		              0, "cl_pinned is %lld after the owner's server died", last);
	} else {
		cr_expect(pins_try(f.a, "SELECT 1", v, sizeof v), "the owner cannot go on: %s", v);
		expect_unpinned(&f, "after the pinned server died");
	}
	cr_expect_eq(pins_lock_holders(&f.e, &pa), 0, "backend %lld holds an advisory lock", pa);
	pins_expect_moves(&f.h, f.a, "after the pinned server died");
	fx_end(&f);
}

/* Two pinned clients take both servers: another client waits, and gets the first server
 * unpinned (reset, clean) as soon as its owner lets it go. */
IT_TEST(pins, waiter_gets_the_unpinned_server)
{
	struct fx f;
	fx_start(&f, NULL);
	PGconn *a2 = pins_client("it_pins_owner2");
	it_exec_ok(f.a, "LISTEN pins_chan");
	long long pa = pins_pid(f.a);
	it_exec_ok(a2, "PREPARE pins_p AS SELECT 7");
	long long pa2 = pins_pid(a2);
	cr_assert_neq(pa, pa2, "two pinned clients share backend %lld", pa);
	long long last = -1;
	cr_expect_geq(adminq_pool_wait(f.e.admin, "postgres", "postgres", "oltp", "cl_pinned", 2,
	                               3000, &last),
	              0, "cl_pinned is %lld, want 2", last);

	cr_assert(PQsendQuery(f.o, "SELECT pg_backend_pid()"));
	bool timed_out;
	PGresult *r = it_result_wait(f.o, 500, &timed_out);
	cr_expect(timed_out, "a third client ran while both servers were pinned: %s",
	          r ? PQgetvalue(r, 0, 0) : PQerrorMessage(f.o));
	PQclear(r);
	cr_expect_geq(adminq_pool_wait(f.e.admin, "postgres", "postgres", "oltp", "cl_waiting", 1,
	                               3000, &last),
	              0, "cl_waiting is %lld, want 1", last);
	it_exec_ok(f.a, "UNLISTEN *");
	r = it_result_wait(f.o, 3000, &timed_out);
	cr_assert(!timed_out && r && PQresultStatus(r) == PGRES_TUPLES_OK,
	          "the waiter did not run once a server was unpinned: %s",
	          r ? PQresultErrorMessage(r) : "timed out");
	cr_expect_eq(atoll(PQgetvalue(r, 0, 0)), pa, "the waiter ran on %s, not on %lld",
	             PQgetvalue(r, 0, 0), pa);
	PQclear(r);
	struct pins_probe p = pins_probe(f.o);
	cr_expect(pins_probe_clean(&p), "the waiter found %s", pins_probe_str(&p));
	cr_expect_eq(it_query_ll(a2, "EXECUTE pins_p"), 7);
	cr_expect_eq(pins_pid(a2), pa2, "the other pinned client moved");
	PQfinish(a2);
	cr_expect_geq(adminq_pool_wait(f.e.admin, "postgres", "postgres", "oltp", "cl_pinned", 0,
	                               3000, &last),
	              0, "cl_pinned is %lld after both owners let go", last);
	fx_end(&f);
}
