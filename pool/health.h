/* pool/health.h — what the replication monitor last saw of each server it watches (keyed
 * by host and port), the standbys and slots the primaries report, and the choice of the
 * server an OLAP lane uses: the healthy replica with the least lag under max_replica_lag,
 * else the primary (or none, without fallback). Pure bookkeeping; admin/monitor.c fills it. */
#ifndef PGLANE_POOL_HEALTH_H
#define PGLANE_POOL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"

#define POOL_HEALTH_MAX      64
#define POOL_HEALTH_STANDBYS 16
#define POOL_HEALTH_SLOTS    32

enum pool_role { POOL_ROLE_UNKNOWN, POOL_ROLE_PRIMARY, POOL_ROLE_REPLICA };

struct pool_standby {   /* a standby as its primary reports it (pg_stat_replication) */
	char name[64];  /* application_name */
	char addr[64];  /* client_addr */
	char state[32]; /* streaming, catchup, ... */
	char sync_state[16];
	int64_t replay_lag_ms; /* -1 unknown */
	int64_t lag_bytes;     /* -1 unknown */
};

struct pool_slot { /* pg_replication_slots of a primary */
	char name[64];
	char type[16]; /* physical | logical */
	bool active;
	int64_t retained_bytes;  /* -1 unknown */
	int64_t flush_lag_bytes; /* logical: behind confirmed_flush_lsn; -1 otherwise */
};

struct pool_health {
	char database[64]; /* the config entry it belongs to */
	char host[256];
	int port;
	bool is_replica_entry; /* configured as an olap replica (else a primary) */
	enum pool_role role;   /* what the server says it is */
	bool healthy;
	bool promoted;         /* a configured replica that is no longer in recovery */
	int64_t replay_lag_ms; /* replicas: -1 unknown */
	int64_t lag_bytes;     /* replicas: received but not replayed; -1 unknown */
	int64_t checked_at_ms; /* wall clock of the last answer, 0 never */
	int64_t caught_up_ms;  /* wall clock when it was last seen with nothing to replay */
	char error[128];       /* why it is unhealthy */
	size_t nstandbys;
	struct pool_standby standbys[POOL_HEALTH_STANDBYS];
	size_t nslots;
	struct pool_slot slots[POOL_HEALTH_SLOTS];
};

/* The entry for database `db` and host:port, created when missing (NULL when full). */
struct pool_health *pool_health_get(const char *db, const char *host, int port, bool replica);
/* The entry, or NULL. */
const struct pool_health *pool_health_find(const char *db, const char *host, int port);
size_t pool_health_count(void);
const struct pool_health *pool_health_at(size_t i);
/* Forget every entry (at exit, or before the monitor rebuilds its list). */
void pool_health_clear(void);

/* A database with several hosts: the host whose server last logged in and fit its
 * target_session_attrs (proxy/hosts.c sets it; new servers try it first, SHOW DATABASES shows
 * it). The index of that host in dc->hosts, or -1 when none yet (or it is no longer listed). */
int pool_health_current(const struct cfg_database *dc);
void pool_health_current_set(const struct cfg_database *dc, size_t host);

/* Where the OLAP lane of `dc` should go now: the index of the replica to use, -1 for the
 * primary, -2 for nowhere (no replica is fresh enough and fallback is off). Without
 * replicas it is always -1. */
int pool_olap_target(const struct cfg_database *dc);

#endif
