/* tests/integration/sesscheck.h — checking a client's session settings through pglane against a
 * direct connection (issue 14): a snapshot of the session (current_user, session_user,
 * search_path, work_mem, lock_timeout, TimeZone, client_encoding, DateStyle, placeholders, and
 * values that depend on them) taken with one query, so that it works for libpq and rawpg
 * clients alike; clients steered onto chosen servers of a pool of 2 in transaction mode (holder
 * clients of the same user, as in hold.h); and the fixtures: a non-superuser login role with a
 * second role granted to it, another login role, two schemas.
 *
 * The usual check after a client changed its settings: a direct connection made the same way
 * and given the same statements is the reference; the client's next transactions (on one
 * server, then the other, in transaction mode) must show the reference's values, and a
 * bystander of the same user, steered onto the server the client has just used, must show the
 * defaults of a fresh connection. In session mode the client keeps its server and the
 * bystander has the other one. */
#ifndef PGLANE_TESTS_SESSCHECK_H
#define PGLANE_TESTS_SESSCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "tests/integration/harness.h"
#include "tests/integration/rawpg.h"

/* Fixtures created by sc_fixtures(). */
#define SC_USER           "it_sess_login" /* non-superuser LOGIN, password SC_PASSWORD */
#define SC_PASSWORD       "it_sess_pw"
#define SC_OTHER          "it_sess_other" /* another non-superuser LOGIN */
#define SC_OTHER_PASSWORD "it_sess_pw2"
#define SC_ROLE           "it_sess_role" /* NOLOGIN, granted to SC_USER */
#define SC_SCHEMA_A       "it_sess_a"    /* schemas usable by everyone */
#define SC_SCHEMA_B       "it_sess_b"
#define SC_SCHEMA_Q       "\"it_sess q\"" /* a name that needs quotes */
/* SC_SCHEMA_A.set_zone(tz text, ds text): set_config('TimeZone', tz, false) and
 * set_config('DateStyle', ds, false) hidden in a function (both are reported by
 * ParameterStatus) */
#define SC_SET_ZONE SC_SCHEMA_A ".set_zone"

/* The columns of a snapshot. */
enum sc_col {
	SC_CURRENT_USER,
	SC_SESSION_USER,
	SC_SEARCH_PATH,
	SC_CURRENT_SCHEMA, /* "<null>" when none */
	SC_WORK_MEM,
	SC_LOCK_TIMEOUT,
	SC_STATEMENT_TIMEOUT,
	SC_TIMEZONE,
	SC_CLIENT_ENCODING,
	SC_DATESTYLE,
	SC_EXTRA_FLOAT_DIGITS,
	SC_TENANT,    /* current_setting('myapp.tenant', true), "<null>" when undefined */
	SC_MYAPP_X,   /* current_setting('myapp.x', true) */
	SC_DATE,      /* '03/05/2024'::date::text */
	SC_TSTZ,      /* timestamptz '2024-01-01 00:00:00+00'::text */
	SC_FLOAT,     /* 0.1::float8::text */
	SC_ISOLATION, /* default_transaction_isolation */
	SC_NCOLS
};

/* The snapshot query: one text column, the fields of enum sc_col separated by '|', then
 * pg_backend_pid(). */
extern const char sc_snap_sql[];

struct sc_snap {
	char v[SC_NCOLS][96];
	long long pid; /* pg_backend_pid() */
};

/* A client: through pglane or direct, libpq or rawpg (one of pq and raw is set). */
struct sc_client {
	const char *name;  /* borrowed */
	PGconn *pq;        /* owned, or NULL */
	struct rawpg *raw; /* owned, or NULL */
	long long pid;     /* backend of its last snapshot, 0 before the first */
};

/* The ParameterStatus values compared (PostgreSQL reports them, a driver acts on them). */
#define SC_NSTATUS 7

struct sc_env {
	bool txn;                    /* transaction mode: steer with the holders */
	PGconn *hold[2];             /* transaction mode: holder clients of the env's user */
	int held;                    /* the holder in a transaction, -1 when none */
	struct sc_snap defaults;     /* a fresh direct connection of the env's user */
	char status[SC_NSTATUS][64]; /* its ParameterStatus values ("" when not sent) */
};

/* ---- fixtures and pglane ---- */

/* (Re)create the roles and schemas above, straight on PostgreSQL. */
void sc_fixtures(void);
/* Drop them (best effort). */
void sc_fixtures_drop(void);
/* pglane in `mode` with a pool of 2: clients trusted, the auth file giving SC_USER's and
 * SC_OTHER's passwords (pglane logs in to PostgreSQL with them), IT_DATABASES; `pool_extra`
 * goes into the pool section (may be NULL). */
struct it_pglane *sc_start(const char *mode, const char *pool_extra);
/* The same with one worker whatever the mode: the pool's 2 servers in one pool, shared by all
 * its clients, for a test that wants a client's transactions on both (with two workers each
 * worker keeps the server it has while the other's clients wait less than 5 ms). */
struct it_pglane *sc_start_one_worker(const char *mode, const char *pool_extra);

/* ---- clients ---- */

/* libpq through pglane as `user` on database postgres, `extra` conninfo (may be NULL); fails
 * the test when the login fails. Notices are not printed. */
struct sc_client sc_connect(const char *name, const char *user, const char *password,
                            const char *extra);
/* The same straight to PostgreSQL. */
struct sc_client sc_connect_direct(const char *name, const char *user, const char *password,
                                   const char *extra);
/* rawpg as postgres on database postgres with `n` extra startup parameters (name, value
 * pairs), through pglane (direct = false) or straight to PostgreSQL. */
struct sc_client sc_connect_raw(const char *name, bool direct, const char **params, size_t n);
/* Terminate and free; the struct may be reused. */
void sc_close(struct sc_client *c);

/* Run `sql` (a simple Query, several statements allowed); state gets "" when it succeeded,
 * else the SQLSTATE of the error; msg (may be NULL) the message. */
void sc_exec(struct sc_client *c, const char *sql, char state[8], char *msg, size_t msgn);
/* Run `sql`; fail the test unless it succeeded. */
void sc_exec_ok(struct sc_client *c, const char *sql);
/* Run `sql` on `c` and on the reference `ref`: both must succeed or fail with one SQLSTATE. */
void sc_exec_both(struct sc_client *c, struct sc_client *ref, const char *sql);
/* A snapshot of the client's session in its current (or a new) transaction; c->pid is set. */
void sc_snap(struct sc_client *c, struct sc_snap *s);
/* The same with `prefix` (e.g. a lane hint comment) in front of the query. */
void sc_snap_with(struct sc_client *c, const char *prefix, struct sc_snap *s);
/* A snapshot from the row sc_snap_sql returned. */
void sc_snap_parse(const char *who, const char *row, struct sc_snap *s);
/* Every column of `got` must equal `want` (an undefined placeholder equals an empty one). */
void sc_expect_same(const char *who, const struct sc_snap *got, const struct sc_snap *want,
                    const char *ctx);
/* One column. */
void sc_expect_col(const char *who, const struct sc_snap *s, enum sc_col col, const char *want,
                   const char *ctx);
const char *sc_col_name(enum sc_col col);

/* The ParameterStatus values the client last received must be the reference's (a DateStyle
 * of the client's own shorter spelling, "ISO" for "ISO, MDY", is accepted). */
void sc_expect_status(const struct sc_client *c, const struct sc_client *ref, const char *ctx);
/* The same against the values of a fresh direct connection of the env's user. */
void sc_expect_status_defaults(const struct sc_env *e, const struct sc_client *c, const char *ctx);

/* ---- steering (no-ops in session mode) ---- */

/* Holders of `user`; the defaults from a fresh direct connection of `user`. */
void sc_env_init(struct sc_env *e, const char *mode, const char *user, const char *password);
void sc_env_fini(struct sc_env *e);
/* Keep the server `pid` busy (a holder in a transaction there): another client's next
 * transaction runs on the other one. Nothing is held when `pid` is 0 or gone. */
void sc_hold_on(struct sc_env *e, long long pid);
/* Keep the server other than `pid` busy: another client's next transaction runs on `pid`. */
void sc_hold_off(struct sc_env *e, long long pid);
/* Commit the holder's transaction. */
void sc_release(struct sc_env *e);

/* The client's next transaction: a snapshot taken on a server other than its last one (and
 * checked to be) in transaction mode, on the same one in session mode. With `block` it runs
 * inside BEGIN ... COMMIT. */
void sc_snap_next(struct sc_env *e, struct sc_client *c, bool block, struct sc_snap *s,
                  const char *ctx);
/* A snapshot of `c` taken on the backend `pid` (transaction mode), or checked to be on
 * another one (session mode). A backend that is gone is logged, not failed. */
void sc_snap_on(struct sc_env *e, struct sc_client *c, long long pid, struct sc_snap *s,
                const char *ctx);
/* Run `sqls` in order on `c` (on a server other than its last, in transaction mode) and on the
 * reference `ref` (may be NULL), expecting the same outcome from both. */
void sc_steps(struct sc_env *e, struct sc_client *c, struct sc_client *ref, const char *const *sqls,
              size_t n);
/* The check after a change: two next transactions of `c` must show the values of `ref` (and its
 * ParameterStatus values); after
 * each, `by` (may be NULL; a client of the env's user with no settings of its own) steered onto
 * the server `c` has just used must show the defaults. The last snapshot of `c` goes to `out`
 * (may be NULL). */
void sc_check(struct sc_env *e, struct sc_client *c, struct sc_client *ref, struct sc_client *by,
              struct sc_snap *out, const char *ctx);
/* sc_steps then sc_check, the context naming the statements. */
void sc_change(struct sc_env *e, struct sc_client *c, struct sc_client *ref, struct sc_client *by,
               const char *const *sqls, size_t n, struct sc_snap *out);
/* The same for one statement. */
void sc_change1(struct sc_env *e, struct sc_client *c, struct sc_client *ref, struct sc_client *by,
                const char *sql, struct sc_snap *out);
/* `c` leaves; a new client of `user` then finds the defaults on the server `c` last used (and,
 * in transaction mode, on the other one). In session mode the other server must be taken (by
 * a bystander) so that the new client gets the one `c` left. */
void sc_leave_check(struct sc_env *e, struct sc_client *c, const char *user, const char *password,
                    const char *ctx);

#endif
