/* tests/integration/hold.h — steering transactions onto chosen servers in transaction mode.
 * With a pool of 2, a holder client with an open transaction on one server leaves the other
 * as the only one free, so the next transaction of any other client runs there. Backends are
 * named by their PostgreSQL pid (pg_backend_pid()).
 *
 * Use: struct hold h = hold_init(port); hold_server(&h, pid, true) — a holder now sits on the
 * server `pid` — ...; hold_release(&h); ... hold_fini(&h). */
#ifndef PGLANE_TESTS_HOLD_H
#define PGLANE_TESTS_HOLD_H

#include <stdbool.h>

#include <libpq-fe.h>

struct hold {
	PGconn *c[2];     /* owned: two holder clients through pglane */
	int held;         /* index of the holder in a transaction, -1 when none */
	long long pid[2]; /* backend of each holder's last transaction */
};

/* Two holder clients connected to the running pglane (user postgres, database postgres). */
struct hold hold_init(void);
/* Learn the two backends of a pool of 2: both holders begin (so both servers are in use),
 * note their pids, and commit. Fails the test unless the pids differ. */
void hold_learn(struct hold *h, long long pids[2]);
/* Open a transaction on a holder so that it sits on backend `pid` (same = true) or on a
 * backend other than `pid` (same = false). For a pool of 2: the first holder begins; when it
 * did not land as wanted the second begins too (both servers now held) and the first commits.
 * Fails the test when neither lands as wanted. Returns the backend held. */
long long hold_server(struct hold *h, long long pid, bool same);
/* Commit the holder's transaction (its server is free again). No-op when none is held. */
void hold_release(struct hold *h);
/* Release and disconnect both holders. */
void hold_fini(struct hold *h);

/* The pid of the one client backend (other than the asking one) whose current query contains
 * `marker`, waiting up to 5 s for it to appear; fails the test when there is not exactly one. */
long long hold_backend_with(PGconn *admin, const char *marker);

#endif
