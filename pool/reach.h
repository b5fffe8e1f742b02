/* pool/reach.h — whether a pool's server can be reached: its state (up, retrying, down) and
 * since when, the last login error, and the back-off of the next server login. A login that
 * fails transiently (PostgreSQL starting, shutting down, in recovery, full; connection refused,
 * reset, closed, timed out) is retried after an exponential delay while clients wait; one that
 * cannot succeed by waiting (bad password, no such database, protocol error) is not. Pure: the
 * times are the caller's monotonic milliseconds. */
#ifndef PGLANE_POOL_REACH_H
#define PGLANE_POOL_REACH_H

#include <stdbool.h>
#include <stdint.h>

#define POOL_REACH_FIRST_DELAY_MS 50 /* the first retry after a transient failure */
#define POOL_REACH_ERROR_MAX      256

enum pool_reach_state {
	POOL_REACH_UP,       /* the last login succeeded (or none failed yet) */
	POOL_REACH_RETRYING, /* logins fail transiently; waiting clients stay queued */
	POOL_REACH_DOWN,     /* the last login failed for good, or retrying lasted too long */
};

struct pool_reach {
	enum pool_reach_state state;
	int64_t since_ms;    /* when the state began (0: the pool's start, nothing failed) */
	int64_t failed_ms;   /* the last failed login (0: none since the last success) */
	int64_t retry_at_ms; /* no new login before this time */
	int failures;        /* failed logins in a row */
	bool transient;      /* what the last failure was */
	char error[POOL_REACH_ERROR_MAX]; /* its message ("" when none) */
};

/* Can a login that failed with `sqlstate` succeed later without anyone changing anything:
 * 57P01-57P03 (shutting down, starting up, in recovery), class 53 (too many connections,
 * slots reserved, out of resources), and 08000/08001/08003/08004/08006 (could not connect,
 * connection lost)? Not 08P01 (protocol violation), 28xxx, 3D000 or anything else. */
bool pool_reach_transient(const char *sqlstate);
/* A server login failed at `now_ms` with `msg`. Transient: the next login waits
 * POOL_REACH_FIRST_DELAY_MS doubled per failure in a row, at most `retry_cap_ms`; the state is
 * retrying (also after a failure that was not transient), or down once it has been retrying
 * `down_after_ms` (0: never) - unless other servers of the pool are `serving` (PostgreSQL is
 * full, not gone): then it stays up. Not transient: the next login waits `retry_cap_ms` and the
 * state is down. */
void pool_reach_failed(struct pool_reach *r, bool transient, bool serving, const char *msg,
                       int64_t retry_cap_ms, int64_t down_after_ms, int64_t now_ms);
/* A server login succeeded: up (since `now_ms` when it was not), no back-off. */
void pool_reach_ok(struct pool_reach *r, int64_t now_ms);
/* May a new server login start at `now_ms` (its back-off is over)? */
static inline bool pool_reach_may_login(const struct pool_reach *r, int64_t now_ms)
{
	return now_ms >= r->retry_at_ms;
}
/* How many logins may be under way at once: one (a probe) after a failed login, until one
 * succeeds. */
static inline int pool_reach_max_logins(const struct pool_reach *r)
{
	return r->failures ? 1 : INT32_MAX;
}
/* "up", "retrying" or "down". */
const char *pool_reach_name(enum pool_reach_state s);

#endif
