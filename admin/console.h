/* admin/console.h — the `pglane` admin database: SHOW commands and controls (PAUSE, RESUME,
 * SUSPEND, DISABLE, ENABLE, RELOAD, SET, KILL, KILL_CLIENT, RECONNECT, WAIT_CLOSE, SHUTDOWN
 * [WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS]) with PgBouncer 1.25's names and meanings. Pure: what needs
 * the process (its connections, reloading, shutting down) goes through struct admin_ops,
 * which the proxy provides. */
#ifndef PGLANE_ADMIN_CONSOLE_H
#define PGLANE_ADMIN_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin/result.h"
#include "config/cfg.h"

#define ADMIN_DATABASE "pglane"
/* PgBouncer's name for it, which its tools (exporters, scripts) connect to: the same console */
#define ADMIN_DATABASE_PGBOUNCER "pgbouncer"
/* Is `name` the admin database (either name)? */
#include <string.h>
static inline bool admin_database_is(const char *name)
{
	return strcmp(name, ADMIN_DATABASE) == 0 || strcmp(name, ADMIN_DATABASE_PGBOUNCER) == 0;
}

/* One client or server connection, for SHOW CLIENTS / SHOW SERVERS. */
struct admin_conn_info {
	const char *type; /* "C" or "S" */
	const char *user;
	const char *database;
	const char *lane;
	const char *state; /* PgBouncer's: active, idle, waiting, used, login, ... */
	const char *addr;
	int port;
	const char *local_addr;
	int local_port;
	int64_t connect_time_ms; /* epoch */
	int64_t request_time_ms; /* epoch */
	int64_t wait_us;
	uint32_t id;
	uint32_t link; /* the linked peer's id, 0 when none */
	int32_t remote_pid;
	bool tls;
	const char *application_name;
	const char *pinned; /* the reasons its session is pinned to its server, "" or NULL */
};

typedef void (*admin_conn_emit)(const struct admin_conn_info *info, void *arg);

struct admin_ops {
	void (*clients)(admin_conn_emit emit, void *arg);
	void (*servers)(admin_conn_emit emit, void *arg);
	/* Controls: `db` NULL means every database. False with a message when refused. */
	bool (*pause)(const char *db, char *err, size_t cap);
	/* Is the wait of a pending command (ADMIN_PENDING_*) on `db` (NULL: all) over? */
	bool (*pending_done)(char kind, const char *db);
	bool (*resume)(const char *db, char *err, size_t cap);
	bool (*kill)(const char *db, char *err, size_t cap);
	bool (*reconnect)(const char *db, char *err, size_t cap);
	bool (*reload)(char *err, size_t cap);
	/* mode: 0 now, 1 WAIT_FOR_SERVERS, 2 WAIT_FOR_CLIENTS */
	void (*shutdown)(int mode);
	bool (*kill_client)(uint32_t id, char *err, size_t cap);
	/* DISABLE (on) / ENABLE (off) a database */
	bool (*disable)(const char *db, bool on, char *err, size_t cap);
	bool (*suspend)(char *err, size_t cap);
	bool (*wait_close)(const char *db, char *err, size_t cap);
	/* SET key = value */
	bool (*set)(const char *key, const char *value, char *err, size_t cap);
	/* The cancel requests forwarded to each peer (admin/metrics.h), `*n` by id, malloc'd
	 * (the caller frees); `*unknown`: those dropped for a peer not in the config. */
	struct admin_peer_counts *(*peers)(size_t *n, uint64_t *unknown);
};

/* What a pending command waits for. */
#define ADMIN_PENDING_PAUSE      'P' /* servers of the database released */
#define ADMIN_PENDING_SUSPEND    'S' /* every server released (or admin.suspend_timeout) */
#define ADMIN_PENDING_WAIT_CLOSE 'W' /* servers asked to close (RECONNECT, RELOAD) closed */

/* Set the process callbacks (once). */
void admin_setup(const struct admin_ops *ops);

struct admin_ctx {
	bool full;             /* admin.users: everything; stats_users: SHOW only */
	const struct cfg *cfg; /* borrowed */
	int64_t now_us;        /* monotonic, for percentiles */
	int64_t started_ms;    /* wall clock of the start, for averages */
	const char *version;
};

/* Run one command (`sql`, `len` bytes; a trailing ';' and spaces are fine). The answer,
 * or an error, goes to `r` (initialised by the caller). */
void admin_execute(const struct admin_ctx *ctx, const char *sql, size_t len,
                   struct admin_result *r);
/* Finish a pending PAUSE when its servers are back: true when `r` is now complete. */
bool admin_pending_poll(struct admin_result *r);

/* ---- admin/show.c ---- */
void admin_show_pools(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_lanes(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_stats(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_databases(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_config(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_stats_totals(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_stats_averages(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_totals(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_users(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_state(const struct admin_ctx *ctx, struct admin_result *r);
/* SHOW PEERS, or (`pools`) SHOW PEER_POOLS. */
void admin_show_peers(const struct admin_ctx *ctx, struct admin_result *r, bool pools,
                      const struct admin_ops *ops);
void admin_show_fds(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_lists(const struct admin_ctx *ctx, struct admin_result *r,
                      const struct admin_ops *ops);
void admin_show_mem(const struct admin_ctx *ctx, struct admin_result *r,
                    const struct admin_ops *ops);
void admin_show_sockets(const struct admin_ctx *ctx, struct admin_result *r,
                        const struct admin_ops *ops);
void admin_show_slow(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_replication(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_slots(const struct admin_ctx *ctx, struct admin_result *r);
void admin_show_conns(const struct admin_ctx *ctx, struct admin_result *r, bool servers,
                      const struct admin_ops *ops);

#endif
