/* admin/console.h — the `pglane` admin database: SHOW commands and controls (PAUSE, RESUME,
 * RELOAD, KILL, RECONNECT, SHUTDOWN) with PgBouncer's names and meanings. Pure: what needs
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
	/* Has every server of `db` (NULL: all) gone back to the pool since PAUSE? */
	bool (*paused_done)(const char *db);
	bool (*resume)(const char *db, char *err, size_t cap);
	bool (*kill)(const char *db, char *err, size_t cap);
	bool (*reconnect)(const char *db, char *err, size_t cap);
	bool (*reload)(char *err, size_t cap);
	void (*shutdown)(void);
};

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
void admin_show_peers(const struct admin_ctx *ctx, struct admin_result *r, bool pools);
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
