/* pool/health.c — the table of monitored servers and the OLAP replica choice. */
#include "pool/health.h"

#include <stdio.h>
#include <string.h>

static struct pool_health table[POOL_HEALTH_MAX];
static size_t count;

struct pool_health *pool_health_get(const char *db, const char *host, int port, bool replica)
{
	for (size_t i = 0; i < count; i++)
		if (table[i].port == port && strcmp(table[i].host, host) == 0 &&
		    strcmp(table[i].database, db) == 0)
			return &table[i];
	if (count == POOL_HEALTH_MAX)
		return NULL;
	struct pool_health *h = &table[count++];
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
	for (size_t i = 0; i < count; i++)
		if (table[i].port == port && strcmp(table[i].host, host) == 0 &&
		    strcmp(table[i].database, db) == 0)
			return &table[i];
	return NULL;
}

size_t pool_health_count(void)
{
	return count;
}

const struct pool_health *pool_health_at(size_t i)
{
	return i < count ? &table[i] : NULL;
}

void pool_health_clear(void)
{
	count = 0;
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
