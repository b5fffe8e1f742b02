/* tests/integration/pinsq.h — what the session-state pin tests (test_pins.c, test_pins_refuse.c)
 * share: a pglane with a pool of 2 for database postgres, the admin console and /metrics; what
 * pglane reports about pins (SHOW CLIENTS `pinned`, SHOW POOLS / SHOW LANES `cl_pinned`,
 * pglane_pool_clients_pinned, pglane_pins_total, the `pin` log event); a probe of the session
 * state a backend holds (advisory locks, temp objects, cursors, SQL prepared statements, LISTEN
 * channels); background clients that keep the servers busy and report whatever they see of
 * another client's state; and the table of pinning statements, one per reason.
 *
 * Names used on the shared test cluster: advisory keys 4242..4249, temp objects pins_*, cursor
 * pins_c, statement pins_p, channel pins_chan; all are session state, gone with the backends. */
#ifndef PGLANE_TESTS_PINSQ_H
#define PGLANE_TESTS_PINSQ_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "tests/integration/hold.h"

#define PINS_KEY 4242 /* the advisory lock key of the tests */

struct it_pglane;

/* A running pglane and the connections that watch it. */
struct pins_env {
	struct it_pglane *p;
	int http;      /* admin.http_port */
	PGconn *admin; /* owned: the console, user admin */
	PGconn *pg;    /* owned: superuser straight to PostgreSQL, database postgres */
};

/* Start pglane: pool { mode = MODE; size = 2; query_wait_timeout = "5s"; statement_timeout =
 * "4s" (a lock wait cannot hang a test); POOL_EXTRA }, database postgres (with DB_EXTRA inside
 * its entry, may be NULL), admin user `admin`, metrics on an HTTP port, log level info. Waits
 * until the HTTP port accepts and no backend holds an advisory lock (an earlier test's). */
void pins_start(struct pins_env *e, const char *mode, const char *pool_extra, const char *db_extra);
/* Close the watching connections (pglane keeps running; IT_TEST stops it). */
void pins_env_close(struct pins_env *e);

/* A client postgres@postgres through pglane with application_name `app`. */
PGconn *pins_client(const char *app);
/* pg_backend_pid() of the transaction this statement runs in. */
long long pins_pid(PGconn *c);
/* Run `sql`: true with its first value ("" without rows) in out, false with the SQLSTATE and
 * the message in out. Never fails the test. */
bool pins_try(PGconn *c, const char *sql, char *out, size_t n);
/* Gather c's notifications as "channel:payload" into got[have..want-1] until `want` in all
 * or timeout_ms passes; the number received in all (may exceed want). */
int pins_notifies(PGconn *c, char got[][64], int have, int want, int timeout_ms);

/* A new client runs `sql` (a pg_try_advisory_lock...) and leaves: true when it got the lock
 * (it runs `unlock` before leaving). */
bool pins_other_takes(const char *sql, const char *unlock);
/* The backends (but e->pg's) holding advisory locks: how many, and one of them in *pid. */
int pins_lock_holders(struct pins_env *e, long long *pid);

/* ---- what pglane reports ---- */

/* SHOW CLIENTS `pinned` of client `c` (found by its port), malloc'ed; fails the test when the
 * column or the client is missing. */
char *pins_pinned(struct pins_env *e, PGconn *c);
/* SHOW SERVERS `pinned` of the server whose remote_pid is `pid`, malloc'ed; fails the test
 * when there is none. */
char *pins_server_pinned(struct pins_env *e, long long pid);
/* Does the comma-separated list `got` hold exactly the reasons of `want` (also a
 * comma-separated list, "" for none), in any order? */
bool pins_same_reasons(const char *got, const char *want);
/* Poll SHOW CLIENTS until `c`'s pinned equals `want` (as a set) or timeout_ms passes; fails
 * the test (naming `what`) on timeout. */
void pins_wait_pinned(struct pins_env *e, PGconn *c, const char *want, int timeout_ms,
                      const char *what);
/* Every client of SHOW CLIENTS but `c` must have an empty `pinned`. */
void pins_expect_others_unpinned(struct pins_env *e, PGconn *c, const char *what);
/* cl_pinned of SHOW POOLS postgres/postgres/oltp and of SHOW LANES postgres/oltp. */
long long pins_pools_cl_pinned(struct pins_env *e);
long long pins_lanes_cl_pinned(struct pins_env *e);
/* pglane_pool_clients_pinned{database="postgres",user="postgres",lane="oltp"} (-1 when there
 * is no such sample). */
double pins_metric_clients_pinned(struct pins_env *e);
/* The sum of pglane_pins_total samples whose label reason is `reason`; -1 when the family is
 * missing (0 when no sample has that reason yet). */
double pins_metric_pins_total(struct pins_env *e, const char *reason);
/* How many `pin` events with this reason pglane has logged so far. */
int pins_log_pin_events(const char *reason);

/* ---- session state on a backend ---- */

struct pins_probe {
	long long pid;
	long long locks;    /* advisory locks held by the backend */
	long long temps;    /* relations in its temp schema */
	long long cursors;  /* named open cursors */
	long long prepared; /* SQL-level prepared statements */
	long long listens;  /* channels it listens on */
};

/* Run the probe (one autocommit statement) on c's next transaction. */
struct pins_probe pins_probe(PGconn *c);
bool pins_probe_clean(const struct pins_probe *p);
/* The probe as text, for messages (static storage). */
const char *pins_probe_str(const struct pins_probe *p);
/* Run the probe from `c` on backend `pid`: a holder of `h` sits on the other server while c
 * runs it. When pid no longer exists (pglane closed it) the probe runs anywhere and *gone is
 * set. No other client may be active. */
struct pins_probe pins_probe_on(struct hold *h, PGconn *c, struct pins_env *e, long long pid,
                                bool *gone);
/* Fail the test unless the probe of every server (the two backends of the pool) is clean. */
void pins_expect_servers_clean(struct hold *h, PGconn *c, struct pins_env *e, const char *what);
/* `c` is not pinned to a server: with a holder on the backend of its last transaction, its
 * next one runs on another. No other client may be active. */
void pins_expect_moves(struct hold *h, PGconn *c, const char *what);
/* Wait until backend pid's last query is a DISCARD ALL or it is gone (up to timeout_ms).
 * Returns true then; false with its last query in `last`. */
bool pins_wait_discarded(struct pins_env *e, long long pid, int timeout_ms, char *last, size_t n);

/* ---- busy clients ---- */

struct pins_busy;
struct pins_busy_stats {
	int txns;        /* transactions done */
	int on_avoided;  /* ... that ran on the avoided backend */
	int leaks;       /* ... whose probe found session state */
	int taken;       /* ... in which pg_try_advisory_xact_lock(key) succeeded */
	int notifies;    /* notifications received */
	int errors;      /* failed statements */
	char first[512]; /* what went wrong first */
};

/* n clients (application_name it_pins_busy) running transactions in threads:
 * BEGIN; the probe; [try_sql, while a backend is avoided: a pg_try_advisory_xact_lock(...)
 * that must return false]; pg_sleep(0.01); COMMIT. try_sql (borrowed, may be NULL) must
 * outlive the clients. */
struct pins_busy *pins_busy_start(int n, const char *try_sql);
/* From now on count transactions that run on backend `pid` (0: none), and run try_sql. */
void pins_busy_avoid(struct pins_busy *b, long long pid);
/* Wait until the busy clients have done `more` transactions beyond the current count (at
 * most timeout_ms). */
void pins_busy_wait(struct pins_busy *b, int more, int timeout_ms);
/* Stop, join and disconnect them; the counts into *st. */
void pins_busy_stop(struct pins_busy *b, struct pins_busy_stats *st);
/* The usual assertions: some transactions, none on the avoided backend, no leak, the lock
 * never taken, no notification, no error. */
void pins_busy_expect_clean(const struct pins_busy_stats *st, const char *what);

/* ---- the pinning statements ---- */

struct pins_reason {
	const char *name;       /* the SHOW CLIENTS reason */
	const char *setup[3];   /* statements that create the state (NULL-terminated) */
	const char *use;        /* a statement that needs the state; one value */
	const char *want;       /* ... its value */
	const char *undo;       /* the statement that removes the state */
	const char *other_sql;  /* what another client runs ... */
	const char *other_want; /* ... and the value it gets, or */
	const char *other_err;  /* ... the SQLSTATE of its error */
};

#define PINS_NREASONS 5
extern const struct pins_reason pins_reasons[PINS_NREASONS];

/* Run the statements of r->setup on c (all must succeed). */
void pins_reason_setup(PGconn *c, const struct pins_reason *r);
/* Run r->use on c: its value must be r->want. */
void pins_reason_use(PGconn *c, const struct pins_reason *r, const char *what);
/* r->other_sql on c must fail with r->other_err. */
void pins_reason_other(PGconn *c, const struct pins_reason *r, const char *what);

/* Wait (3 s at most) until backend `pid` has exited: pglane closed the server connection
 * (a library LOADed cannot be reset away). Fails the test when it is still there. */
void pins_expect_backend_gone(struct pins_env *e, long long pid, const char *what);

#endif
