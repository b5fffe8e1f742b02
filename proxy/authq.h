/* proxy/authq.h — auth_query look-ups: the secret of a user missing from the auth file, asked
 * of PostgreSQL with the database's auth_query over a libpq connection as its auth_user, on
 * the event loop (never blocking it), with a timeout. At most one look-up per (auth target,
 * user name) is in flight: logins of the same user that arrive meanwhile wait on it and all
 * get its result. Nothing is cached once a look-up is over (a changed password works at the
 * next login). */
#ifndef PGLANE_PROXY_AUTHQ_H
#define PGLANE_PROXY_AUTHQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "pool/list.h"

enum proxy_authq_status {
	PROXY_AUTHQ_FOUND,     /* one row with a password: `secret` */
	PROXY_AUTHQ_NOT_FOUND, /* no row, or a NULL / empty password */
	PROXY_AUTHQ_ERROR,     /* the look-up failed: `error` says why (libpq's message) */
};

struct proxy_authq_result {
	enum proxy_authq_status status;
	const char *secret;  /* borrowed for the callback: FOUND */
	const char *error;   /* borrowed for the callback: ERROR, one line (for the log) */
	const char *summary; /* ERROR: what failed, for the client ("the auth query failed") */
};

struct proxy_authq;

/* A login waiting for a look-up; embedded in its owner. */
struct proxy_authq_waiter {
	struct pool_list link; /* in its look-up's waiters */
	struct proxy_authq *q; /* borrowed: the look-up it waits on, NULL when none */
	/* Called once with the result; the waiter is detached first (it may be reused or its
	 * owner freed inside). */
	void (*done)(struct proxy_authq_waiter *w, const struct proxy_authq_result *r);
};

/* Counters since start (metrics). */
struct proxy_authq_stats {
	uint64_t found;     /* ... that returned a secret */
	uint64_t not_found; /* ... that found no user or no password */
	uint64_t errors;    /* ... that failed (connect, query, timeout) */
	uint64_t coalesced; /* logins that joined a look-up already in flight */
	uint64_t in_flight; /* look-ups running or queued now */
};

/* Does a client of database `db` have its unknown users looked up? (auth_user set) */
bool proxy_authq_enabled(const struct cfg_database *db);

/* Start the look-up of `user` for a client of database `db` (`dbname`: the name the client
 * asked for), or join the one in flight for the same target and name. `w->done` is called
 * later, from the loop, never from inside this call. False (w untouched, reason in `err`)
 * when the look-up cannot start (out of memory, libpq refuses the connection string). */
__attribute__((warn_unused_result)) bool
proxy_authq_lookup(const struct cfg *cfg, const struct cfg_database *db, const char *dbname,
                   const char *user, struct proxy_authq_waiter *w, char *err, size_t cap);

/* The waiter gives up (its client left): the look-up goes on for the others; the last one
 * leaving does not stop it either (its result is simply dropped). Harmless when not waiting. */
void proxy_authq_cancel(struct proxy_authq_waiter *w);

/* Stop every look-up (pglane exits): waiters are dropped without a call. */
void proxy_authq_stop_all(void);
/* This worker's empty registry (before its first look-up). */
void proxy_authq_init(void);

const struct proxy_authq_stats *proxy_authq_stats(void);

#endif
