/* pool/health.c — the table of monitored servers and the OLAP replica choice. */
#include "pool/health.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The health of every monitored server, rows in a fixed array (a row never moves). Owner
 * today: the process's one event loop (admin/monitor writes, routing and the console read).
 * Under worker threads: process-wide, shared: one writer, the monitor on worker 0's loop,
 * whose callbacks run with the world stopped (proxy/worker.h); routing (pool_olap_target) and
 * the console read while their worker holds its lock; cleared
 * only by the monitor's restart on reload. */
static struct health_table {
	struct pool_health table[POOL_HEALTH_MAX];
	size_t count;
} health;

struct pool_health *pool_health_get(const char *db, const char *host, int port, bool replica)
{
	for (size_t i = 0; i < health.count; i++)
		if (health.table[i].port == port && strcmp(health.table[i].host, host) == 0 &&
		    strcmp(health.table[i].database, db) == 0)
			return &health.table[i];
	if (health.count == POOL_HEALTH_MAX)
		return NULL;
	struct pool_health *h = &health.table[health.count++];
	memset(h, 0, sizeof(*h));
	snprintf(h->database, sizeof(h->database), "%s", db);
	snprintf(h->host, sizeof(h->host), "%s", host);
	h->port = port;
	h->is_replica_entry = replica;
	h->replay_lag_ms = -1;
	h->lag_bytes = -1;
	return h;
}

const struct pool_health *pool_health_find(const char *db, const char *host, int port)
{
	for (size_t i = 0; i < health.count; i++)
		if (health.table[i].port == port && strcmp(health.table[i].host, host) == 0 &&
		    strcmp(health.table[i].database, db) == 0)
			return &health.table[i];
	return NULL;
}

size_t pool_health_count(void)
{
	return health.count;
}

const struct pool_health *pool_health_at(size_t i)
{
	return i < health.count ? &health.table[i] : NULL;
}

void pool_health_clear(void)
{
	health.count = 0;
}

/* The current host of each database with several (by name; kept across reloads and monitor
 * restarts, checked against the database's host list when read). Process-wide: any worker
 * reads and sets it at a server connect, under `current_lock`. */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char database[64];
	char host[256];
	int port;
} current[POOL_HEALTH_MAX];

static int current_of(const struct cfg_database *dc)
{
	for (size_t i = 0; i < POOL_HEALTH_MAX && current[i].database[0]; i++) {
		if (strcmp(current[i].database, dc->name) != 0)
			continue;
		for (size_t k = 0; k < dc->nhosts; k++)
			if (dc->hosts[k].port == current[i].port &&
			    strcmp(dc->hosts[k].host, current[i].host) == 0)
				return (int)k;
		return -1;
	}
	return -1;
}

int pool_health_current(const struct cfg_database *dc)
{
	pthread_mutex_lock(&current_lock);
	int k = current_of(dc);
	pthread_mutex_unlock(&current_lock);
	return k;
}

void pool_health_current_set(const struct cfg_database *dc, size_t host)
{
	if (host >= dc->nhosts)
		return;
	pthread_mutex_lock(&current_lock);
	size_t i = 0;
	while (i < POOL_HEALTH_MAX - 1 && current[i].database[0] &&
	       strcmp(current[i].database, dc->name) != 0)
		i++; /* the last row is reused when the table is full */
	snprintf(current[i].database, sizeof(current[i].database), "%s", dc->name);
	snprintf(current[i].host, sizeof(current[i].host), "%s", dc->hosts[host].host);
	current[i].port = dc->hosts[host].port;
	pthread_mutex_unlock(&current_lock);
}

int pool_olap_target(const struct cfg_database *dc)
{
	const struct cfg_lane *l = &dc->lanes[CFG_LANE_OLAP];
	if (!l->enabled || l->nreplicas == 0)
		return -1;
	int best = -1;
	int64_t best_lag = 0;
	for (size_t i = 0; i < l->nreplicas; i++) {
		const struct pool_health *h =
		        pool_health_find(dc->name, l->replicas[i].host, l->replicas[i].port);
		/* fresh enough: answering, still in recovery, lag known and under the limit */
		if (!h || !h->healthy || h->role != POOL_ROLE_REPLICA || h->replay_lag_ms < 0 ||
		    h->replay_lag_ms > l->max_replica_lag_ms)
			continue;
		if (best < 0 || h->replay_lag_ms < best_lag) {
			best = (int)i;
			best_lag = h->replay_lag_ms;
		}
	}
	if (best >= 0)
		return best;
	return l->fallback ? -1 : -2;
}
