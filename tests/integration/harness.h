/* tests/integration/harness.h — what every integration test uses: the environment set by
 * tests/run.sh, a pglane process started from a config text (and auth file) in its own temp
 * dir, libpq connections through pglane or straight to the test PostgreSQL, checked queries,
 * pg_stat_activity counts, shell commands with a timeout, raw TCP sockets.
 *
 * Criterion runs every test in its own process: nothing here is set up once for all tests.
 * Tests are written with IT_TEST(suite, name, ...) in a suite declared with
 * `.fini = it_pglane_fini`: the test body starts pglane, and after the body it_pglane_finish()
 * fails the test when pglane died during it (Criterion ignores assertions made in .fini, which
 * only cleans up after a test that stopped early).
 *
 * Environment (tests/run.sh exports it):
 *   PGLANE_TEST_PGHOST  the test PostgreSQL's address (default 127.0.0.1)
 *   PGLANE_TEST_PGPORT  its port (required)
 *   PGLANE_BIN          the pglane binary (required, absolute)
 *   PGLANE_TEST_TMP     where each pglane gets its temp dir (default /tmp); kept for the logs
 *
 * Config texts may use @PORT@ (pglane's port, picked free), @PGHOST@, @PGPORT@ and @DIR@ (the
 * temp dir); a text without a `listen` key gets `listen = { host = "127.0.0.1"; port = @PORT@; };`
 * in front. Unless the text names listen.unix_socket_dir, pglane gets `unix_socket_dir = ""` (no
 * Unix socket: the default /tmp would be shared by every pglane on the machine). */
#ifndef PGLANE_TESTS_HARNESS_H
#define PGLANE_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

#define IT_HOST "127.0.0.1"

/* The one database entry most tests use: every database name forwarded to the test server. */
#define IT_DATABASES "databases = ( { name = \"*\"; host = \"@PGHOST@\"; port = @PGPORT@; } );\n"

/* A Criterion test whose body is followed by it_pglane_finish(). */
#define IT_TEST(suite, name, ...)                                                                  \
	static void it_body_##suite##_##name(void);                                                \
	Test(suite, name, ##__VA_ARGS__)                                                           \
	{                                                                                          \
		it_body_##suite##_##name();                                                        \
		it_pglane_finish();                                                                \
	}                                                                                          \
	static void it_body_##suite##_##name(void)

struct it_pglane {
	int port;
	pid_t pid; /* 0 when not running */
	char dir[512];
	char conf_path[600];
	char users_path[600];
	char log_path[600];
};

/* ---- environment and small utilities ---- */

const char *it_pghost(void);
int it_pgport(void);
const char *it_pglane_bin(void);
/* Monotonic milliseconds. */
int64_t it_now_ms(void);
void it_sleep_ms(int ms);
/* A port on 127.0.0.1 nobody is bound to (20000-29999, outside the ephemeral range). */
int it_free_port(void);
/* A port for admin.http_port: free, and outside it_free_port()'s range (30000-32499) so that
 * pglane's own port, picked after it, cannot be the same. */
int it_http_port(void);
/* A new directory under PGLANE_TEST_TMP named after the current test; path into `out`. */
void it_mkdtemp(char *out, size_t n);
/* Whole file, NUL-terminated, malloc'ed; NULL when it cannot be read. */
char *it_file_read(const char *path);
void it_file_write(const char *path, const char *text);

/* ---- pglane ---- */

/* Write `config_text` (placeholders substituted) to a temp dir, start $PGLANE_BIN -c FILE with
 * stdout and stderr into DIR/pglane.log, and wait (10 s at most) until its port accepts.
 * Fails the test when pglane exits or does not listen in time. */
struct it_pglane *it_pglane_start(const char *config_text);
/* The same with an auth file DIR/users.txt holding `userlist_text` (refer to it as
 * `file = "users.txt"`). */
struct it_pglane *it_pglane_start_with_users(const char *config_text, const char *userlist_text);
/* auth trust without a file, IT_DATABASES, and pool = { mode = MODE; size = SIZE; EXTRA }. */
struct it_pglane *it_pglane_start_simple(const char *mode, int size, const char *pool_extra);
/* The same with `workers` event loops (a test whose point needs one pool: workers = 1). */
struct it_pglane *it_pglane_start_simple_workers(const char *mode, int size, const char *pool_extra,
                                                 int workers);
/* The running instance of this test process, or NULL. */
struct it_pglane *it_pglane_current(void);
/* Is the pglane of this test still running? */
bool it_pglane_alive(void);
/* SIGINT (PgBouncer's wait-for-servers shutdown), SIGKILL after 10 s, reap. Returns the wait status
 * (-1 when none was running). *was_alive tells whether it was still running when asked to stop (may
 * be NULL). */
int it_pglane_stop(bool *was_alive);
/* Stop pglane and fail the test if it had died on its own or ignored SIGINT. */
void it_pglane_finish(void);
/* For .fini: stop pglane if a test left it running (no assertions: Criterion ignores them). */
void it_pglane_fini(void);
/* pglane's log so far (malloc'ed, "" when empty). */
char *it_pglane_log(void);

/* ---- libpq ---- */

/* "host=... port=... user=... dbname=... [password=...] connect_timeout=10 EXTRA", values
 * quoted. NULL password or extra are left out. */
void it_conninfo(char *buf, size_t n, const char *host, int port, const char *user,
                 const char *password, const char *dbname, const char *extra);
/* Connect with `conninfo`, 15 s at most, errors in verbose form ("FATAL:  28P01: ...").
 * Never fails the test: check PQstatus(); the message is it_conn_error(). */
PGconn *it_connect_try(const char *conninfo);
const char *it_conn_error(PGconn *c);
/* Connect through the running pglane / straight to the test PostgreSQL; fail the test unless
 * CONNECTION_OK. `password` may be NULL. */
PGconn *it_connect(const char *user, const char *password, const char *dbname);
/* Drive PQconnectPoll from state `st` for up to `ms`: the last state (READING/WRITING when the
 * login is still under way). */
PostgresPollingStatusType it_connect_poll(PGconn *c, PostgresPollingStatusType st, int ms);
PGconn *it_connect_app(const char *user, const char *password, const char *dbname,
                       const char *application_name);
PGconn *it_connect_direct(const char *user, const char *password, const char *dbname);
/* How many times `needle` is in pglane's log. */
int it_log_count(const char *needle);
/* Drop `c`'s notices (DROP TABLE IF EXISTS's). */
void it_notices_off(PGconn *c);
/* DROP TABLE IF EXISTS `tables` in database bench, straight to PostgreSQL, notices dropped,
 * nothing asserted (for a suite's .fini). */
void it_drop_tables(const char *tables);
/* Superuser connection straight to PostgreSQL, database postgres. */
PGconn *it_connect_admin(void);
/* Drop role `role` if it exists (a plain name: it goes into the SQL as is), after terminating
 * its sessions; retried for 5 s while they are still leaving. Nothing asserted (for a
 * suite's .fini too). */
void it_drop_role(const char *role);

/* Run `sql`; fail the test unless it returns COMMAND_OK or TUPLES_OK. */
void it_exec_ok(PGconn *c, const char *sql);
/* First value of the first row (malloc'ed; fails the test on error or no rows). */
char *it_query_str(PGconn *c, const char *sql);
long long it_query_ll(PGconn *c, const char *sql);
/* Wait (bounded) for the query sent with PQsend*() to finish: returns its first result (later
 * ones are dropped), or NULL when timeout_ms passed first (*timed_out set; the query is still
 * running) or the connection failed (PQerrorMessage() says why). Stops at a COPY result;
 * not for pipeline mode. */
PGresult *it_result_wait(PGconn *c, int timeout_ms, bool *timed_out);
/* SQLSTATE of a result, "" when there is none. */
const char *it_sqlstate(const PGresult *r);
/* Run `sql` expecting an error; returns its SQLSTATE (static storage) and fails the test if
 * it succeeded. The primary message goes to msg (may be NULL). */
const char *it_exec_error(PGconn *c, const char *sql, char *msg, size_t msgn);

/* Client backends on the test PostgreSQL other than the asking one, filtered by state, user,
 * application_name and a LIKE pattern on the query (NULL = any). `admin` may be NULL (a
 * connection is opened for the call). */
int it_count_backends(PGconn *admin, const char *state, const char *user, const char *app,
                      const char *query_like);
/* Poll it_count_backends every 20 ms until it equals `want` or `timeout_ms` passes. Returns
 * the milliseconds it took, or -1 on timeout (the last count in *last, may be NULL). */
int it_wait_backends(PGconn *admin, int want, int timeout_ms, const char *state, const char *user,
                     const char *app, const char *query_like, int *last);

/* ---- processes and sockets ---- */

/* Run `/bin/sh -c cmd` (PGCONNECT_TIMEOUT=10) with stdout and stderr captured into *out
 * (malloc'ed, may be NULL). Returns the exit code, 128+N when killed by signal N, or -1 when
 * it ran longer than timeout_s (it is then killed with its process group). */
int it_sh(int timeout_s, char **out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A TCP connection to 127.0.0.1:port (fails the test when refused). */
int it_tcp_connect(int port);
/* Wait (5 s at most) until 127.0.0.1:port accepts, e.g. admin.http_port, opened just after
 * the SQL port the harness waited for; fails the test when pglane exits or it does not. */
void it_wait_port(int port);
/* Read and drop until the peer closes (EOF or reset). True when it did within timeout_ms. */
bool it_wait_closed(int fd, int timeout_ms);
/* Close a libpq connection's socket abruptly (no Terminate), then free the PGconn. */
void it_conn_vanish(PGconn *c);

#endif
