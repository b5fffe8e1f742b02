/* tests/integration/adminq.h — reading pglane's admin console and its HTTP endpoint in
 * integration tests: SHOW results looked up by column name (a missing column fails the test),
 * rows found by key columns, polling a SHOW POOLS value until it reaches a wanted state, and a
 * raw-socket HTTP client (no curl) that returns the status line's code and the body, and
 * background commands (pgbench) with a bounded wait.
 *
 * Console connections use libpq to database `pglane` on the running pglane. */
#ifndef PGLANE_TESTS_ADMINQ_H
#define PGLANE_TESTS_ADMINQ_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>

#include <libpq-fe.h>

/* ---- console ---- */

/* A console connection as `user` (fails the test when refused). */
PGconn *adminq_connect(const char *user);
/* Run a SHOW command; fails the test unless it returns rows (TUPLES_OK). */
PGresult *adminq_show(PGconn *c, const char *cmd);
/* The columns of `r` must be exactly `cols` (n of them) in this order. */
void adminq_expect_columns(const PGresult *r, const char *what, const char *const *cols, int n);
/* The value of column `col` in `row` ("" for NULL); fails the test when there is no such
 * column or row. */
const char *adminq_cell(const PGresult *r, int row, const char *col);
/* Is the cell NULL? */
bool adminq_is_null(const PGresult *r, int row, const char *col);
/* The value as an integer; fails the test when it is not one. */
long long adminq_cell_ll(const PGresult *r, int row, const char *col);
/* The value as a number (integers and decimals); fails the test when it is not one. */
double adminq_cell_num(const PGresult *r, int row, const char *col);
/* The first row whose column `c1` is `v1` and (when c2 is not NULL) `c2` is `v2`; -1 when
 * none. */
/* Does a database cell name `db` in `lane`? The olap lane's rows of SHOW POOLS, STATS,
 * CLIENTS and SERVERS carry "<db>.olap". */
bool adminq_db_is(const char *cell, const char *db, const char *lane);
int adminq_find(const PGresult *r, const char *c1, const char *v1, const char *c2, const char *v2);
/* How many rows match as for adminq_find. */
int adminq_count(const PGresult *r, const char *c1, const char *v1, const char *c2, const char *v2);

/* Column `col` of the SHOW POOLS row of database × user × lane; -1 when there is no row. */
long long adminq_pool_value(PGconn *c, const char *db, const char *user, const char *lane,
                            const char *col);
/* Poll (every 20 ms) until that value equals `want` or timeout_ms passes; the milliseconds it
 * took, or -1 (the last value in *last, may be NULL). */
int adminq_pool_wait(PGconn *c, const char *db, const char *user, const char *lane, const char *col,
                     long long want, int timeout_ms, long long *last);

/* ---- HTTP ---- */

/* Send `len` bytes of `req` to 127.0.0.1:port (a send that fails because the peer closed is
 * no error) and read until the peer closes. Returns the status code of the answer, 0 when
 * the connection closed (or was reset) without a status line, -1 when nothing closed it
 * within timeout_ms. The head (status line and headers, up to the blank line; the whole
 * answer when there is none) goes to *head, the body to *body, when not NULL (malloc'ed). */
int adminq_http(int port, const char *req, size_t len, int timeout_ms, char **head, char **body);
/* GET `path`: the status code, body in *body as above. */
int adminq_http_get(int port, const char *path, char **body);
struct prom;
/* GET /metrics on `port` into `out` (prom.h; free it with prom_free): the test fails unless
 * it answers 200 with text the strict parser accepts. */
void adminq_metrics(int port, struct prom *out);

/* ---- background processes ---- */

/* Start `/bin/sh -c cmd` in the background in its own process group (killed with the test
 * process), stdout and stderr into the file `out_path`. */
pid_t adminq_bg_start(const char *out_path, const char *cmd);
/* Wait (bounded) for process `pid` to exit: its wait status, or -1 after timeout_ms (when
 * `kill_late`, it is then killed with its group and reaped). */
int adminq_wait_exit(pid_t pid, int timeout_ms, bool kill_late);
/* The number after `label` in a report such as pgbench's, or -1. */
long long adminq_report_number(const char *out, const char *label);

#endif
