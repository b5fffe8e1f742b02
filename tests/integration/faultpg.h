/* tests/integration/faultpg.h — a private PostgreSQL cluster that a test may restart, stop,
 * crash or freeze (issue 18): tests/pg.sh start in a temp dir on a free port, then pg_ctl
 * restart (tests/pg.sh restart), SIGKILL / SIGSTOP / SIGCONT of the postmaster and every one of
 * its children, and queries straight to it. The shared test cluster is never touched.
 *
 * One cluster per test process (Criterion runs each test in its own): faultpg_fini() in the
 * suite's .fini (after it_pglane_fini) resumes a frozen cluster and stops it. */
#ifndef PGLANE_TESTS_FAULTPG_H
#define PGLANE_TESTS_FAULTPG_H

#include <stdbool.h>

#include <libpq-fe.h>

struct faultpg {
	char dir[512];  /* DIR of tests/pg.sh: DIR/data, DIR/log */
	char pgsh[512]; /* tests/pg.sh: $PGLANE_TEST_PGSH, else tests/pg.sh */
	int port;       /* on 127.0.0.1 */
	bool frozen;    /* SIGSTOP sent, no SIGCONT yet */
};

/* Start a new cluster (with tests/pg.sh's fixtures; ~3-5 s); fails the test when it cannot. */
struct faultpg *faultpg_start(void);
/* `pg_ctl restart -m MODE -w` ("fast", "immediate", "smart"): returns once PostgreSQL accepts
 * connections again; the milliseconds it took. Fails the test when it did not come back. */
int faultpg_restart(struct faultpg *pg, const char *mode);
/* Signal the postmaster and each of its children (children first for SIGSTOP, postmaster
 * first for SIGCONT, so no child sees a dead parent). Returns how many processes got it. */
int faultpg_signal(struct faultpg *pg, int sig);
/* SIGKILL of the postmaster and its children (a crash); faultpg_restart() brings it back. */
void faultpg_kill(struct faultpg *pg);
void faultpg_freeze(struct faultpg *pg);
void faultpg_thaw(struct faultpg *pg);
/* The postmaster's pid (postmaster.pid), 0 when not running. */
int faultpg_postmaster_pid(const struct faultpg *pg);
/* Superuser connection to `dbname` on the cluster; fails the test unless CONNECTION_OK. */
PGconn *faultpg_connect(const struct faultpg *pg, const char *dbname);
/* A pglane `databases` entry text: every database name to this cluster (static storage). */
const char *faultpg_databases(const struct faultpg *pg);
/* First value of `sql` as a number (a connection of its own to database postgres); -1 on any
 * error (never fails the test: PostgreSQL may be down). */
long long faultpg_query_ll(const struct faultpg *pg, const char *dbname, const char *sql);
/* For .fini: SIGCONT if frozen, stop the cluster, remove its data directory. */
void faultpg_fini(void);

#endif
