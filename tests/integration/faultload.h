/* tests/integration/faultload.h — tens of libpq clients (one thread each, one PGconn each for
 * the whole run) running short transactions through pglane while a test breaks PostgreSQL
 * (issue 18): BEGIN; UPDATE the client's own counter row; SELECT it; COMMIT; a 10-30 ms pause.
 * Every wait is bounded (a statement that takes longer than FAULTLOAD_STEP_MS counts as a
 * disconnect). Each client counts what the contract cares about: disconnects (the PGconn went
 * bad: the client then reconnects to keep the load up, and the test fails), errors by SQLSTATE,
 * wrong results (the counter read inside the transaction or at the end disagrees with the
 * COMMITs that succeeded), and the time of its first COMMIT after a mark the test sets. An error
 * leaves the transaction with ROLLBACK, as applications do. A COMMIT answered with an error may
 * or may not have committed (the server may die after committing): such COMMITs are counted
 * apart as uncertain and bound the check. */
#ifndef PGLANE_TESTS_FAULTLOAD_H
#define PGLANE_TESTS_FAULTLOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#define FAULTLOAD_MAX     64
#define FAULTLOAD_STEP_MS 10000
#define FAULTLOAD_STATES  8 /* distinct SQLSTATEs recorded per client */

struct faultload;

struct faultload_client {
	struct faultload *load; /* borrowed */
	int id;                 /* its row in the table */
	PGconn *conn;           /* owned */
	pthread_t thread;
	/* written by the thread, read after faultload_stop() */
	long long txns, commits, uncertain, errors, disconnects, wrong;
	int64_t first_ok_ms; /* first COMMIT at or after the mark (it_now_ms), -1 none */
	char states[FAULTLOAD_STATES][6];
	long long state_counts[FAULTLOAD_STATES];
	char first_error[256], first_wrong[256];
};

struct faultload {
	char conninfo[512];
	char table[64];
	int n;
	atomic_bool stop;
	atomic_llong mark_ms; /* 0: no mark yet */
	struct faultload_client c[FAULTLOAD_MAX];
};

/* Totals over the clients, after faultload_stop(). */
struct faultload_sum {
	long long txns, commits, uncertain, errors, disconnects, wrong;
	bool marked;             /* faultload_mark() was called */
	int64_t slowest_back_ms; /* max over clients of first_ok_ms - mark; -1 when one never was */
	char states[256];        /* "08006=3 57P01=1" */
};

/* Create `table` (id, n) with n rows at 0 through `admin` (a direct connection to the database
 * the clients use), connect n clients to pglane (port, user postgres, dbname,
 * application_name "faults_load"), run `each_sql` on each (unless NULL; its first @ID@ is
 * replaced by the client's id) and start their threads. */
void faultload_start(struct faultload *l, PGconn *admin, int port, const char *dbname,
                     const char *table, int n, const char *each_sql);
/* From now on each client notes its first successful COMMIT. */
void faultload_mark(struct faultload *l);
/* Stop the threads (each finishes its transaction), join them; the sum. The clients stay
 * connected until faultload_free(). */
struct faultload_sum faultload_stop(struct faultload *l);
/* Check each client's counter row (through `admin`) against its COMMITs: the number of clients
 * whose row is outside [commits, commits + uncertain]. */
int faultload_check_rows(struct faultload *l, PGconn *admin);
/* How many clients' PGconn is still CONNECTION_OK and answers SELECT 1. */
int faultload_alive(struct faultload *l);
void faultload_free(struct faultload *l);
/* Every SQLSTATE a client got is in `allowed` (NULL-terminated): cr_expect, naming the client. */
void faultload_expect_states(const struct faultload *l, const char *const *allowed);
/* The figures of a run, one cr_log_info line. */
void faultload_log(const char *what, const struct faultload_sum *s);
/* pg_terminate_backend of every client backend of `dbname` but `admin`'s own; how many. */
long long faultload_kill_backends(PGconn *admin, const char *dbname);

#endif
