/* tests/integration/wclients.h — libpq clients of a pglane with two workers, for the tests
 * that need clients on both (test_workers.c, test_workers_full.c): the worker that owns a
 * client is read from the cancel pid pglane gave it (PQbackendPID, proxy/cancel.h), and a set
 * of clients is opened until both workers have some. */
#ifndef PGLANE_TESTS_WCLIENTS_H
#define PGLANE_TESTS_WCLIENTS_H

#include <stdbool.h>

#include <libpq-fe.h>

#define W_MAX 16 /* clients connect_both() opens at most (plus up to 100 it closes again) */

/* The worker that owns client `c`: bits 19..14 of its cancel pid (fails the test unless it
 * is 0 or 1). */
unsigned wclients_worker_of(PGconn *c);
/* Connect n (<= W_MAX) clients as user/password to db with clients on both workers, in the
 * order worker 0, 1, 0, 1, ... while both have some left (so any first k >= 2 of them span
 * both): when the first n all landed on one worker, more are opened (100 at most, a few ms
 * apart) until one lands on the other. Fails the test when none does. */
void wclients_connect_both(PGconn **c, int n, const char *user, const char *pw, const char *db);
/* Has the query sent on `c` finished (results not read)? Fails the test when `c` broke. */
bool wclients_finished(PGconn *c);
/* Read every result of the finished query on `c`; each must succeed. */
void wclients_drain_ok(PGconn *c, const char *what);

#endif
